//! goro's workloads: goroutines started from the main goroutine inside `runtime::block_on`,
//! over goro's channels, each mirroring its Go version in benches/compare/go/workloads.go.
//!
//! Go's `sync.WaitGroup` is goro's `sync::WaitGroup` (W1, W8-W13; a leaked `&'static` one
//! where Go's closures capture `&wg` for a million tasks), or join handles (W2-W5, where Go
//! waits for a fixed two or eight goroutines), or a `done` channel (W6, as Go does).
//!
//! N1 (loopback TCP echo) and N3 (idle connections) use `goro::net`: blocking
//! `std::net`-shaped sockets whose calls park the goroutine, not its thread, on goro's
//! netpoller. N2's server is the workspace example examples/http_hello.rs, run as its own
//! process.
//!
//! HL is not an anchor workload: it measures how late a sleeping goroutine wakes while every
//! P runs a CPU hog (Go's `hlHogLatency`).

use crate::netload::{self, N3_BUF};
use crate::{
    FirstErr, N1_CLIENTS, N1_ROUNDS, Opts, Res, check_sum, first_primes, ms_of, ns_per, rss_bytes,
    split, sum_range, with_warmup,
};
use goro::chan::{self, Chan, Select, Selected};
use goro::runtime;
use goro::sync::WaitGroup;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub fn init(o: &Opts) {
    runtime::Builder::new()
        .gomaxprocs(o.procs)
        .init()
        .expect("runtime starts here");
}

pub fn run(id: &str, o: &Opts) -> Res {
    match id {
        "W1" => w1(o),
        "W2" => w2(o),
        "W3" => w3(o),
        "W4" => w4(o),
        "W5" => w5(o),
        "W6" => w6(o),
        "W7" => w7(o),
        "W8" => w8(o),
        "W9" => w9(o),
        "W10" => w10(o),
        "W11" => w11(o),
        "W12" => w12(o),
        "W13" => w13(o),
        "N1" => n1(o),
        "N2" => n2(o),
        "N3" => n3(o),
        "HL" => hl(o),
        _ => Err(format!("unknown workload {id}")),
    }
}

/// A `sync.WaitGroup` that tasks reach through a plain `&'static` reference, as Go's
/// closures capture `&wg` (no refcount traffic per task, no clone per task). Leaked: one per
/// run, a few dozen bytes.
fn leak_wg(n: usize) -> &'static WaitGroup {
    let wg: &'static WaitGroup = Box::leak(Box::new(WaitGroup::new()));
    wg.add(n as isize);
    wg
}

fn join<T>(h: runtime::JoinHandle<T>) -> Result<T, String> {
    h.join().map_err(|_| "a goroutine panicked".to_string())
}

// ---------------------------------------------------------------- W1 spawn

/// W1: spawn n tasks, each only signals completion; main waits for all.
fn w1(o: &Opts) -> Res {
    let n = o.size(1_000_000);
    let d = runtime::block_on(move || {
        with_warmup(n, |n| {
            let wg = leak_wg(n);
            let t0 = Instant::now();
            for _ in 0..n {
                runtime::go(move || wg.done());
            }
            wg.wait();
            Ok(t0.elapsed())
        })
    })?;
    // Every task has exited (polled outside the timed part, as Go's waitGoroutines).
    let deadline = Instant::now() + Duration::from_secs(10);
    while runtime::num_goroutine() > 0 {
        if Instant::now() > deadline {
            return Err(format!(
                "{} goroutines still alive",
                runtime::num_goroutine()
            ));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(format!("ns_per_task={}", ns_per(d, n)))
}

// ---------------------------------------------------------------- W2 pingpong

fn w2(o: &Opts) -> Res {
    let n = o.size(1_000_000);
    let d = runtime::block_on(move || {
        with_warmup(n, |n| {
            let ping = chan::make::<u64>(0);
            let pong = chan::make::<u64>(0);
            let t0 = Instant::now();
            let echo = {
                let (ping, pong) = (ping.clone(), pong.clone());
                runtime::spawn(move || {
                    for v in &ping {
                        pong.send(v + 1);
                    }
                })
            };
            let driver = runtime::spawn(move || {
                let mut s = 0u64;
                for i in 0..n {
                    ping.send(i as u64);
                    s += pong.recv().expect("pong closed");
                }
                ping.close();
                s
            });
            join(echo)?;
            let got = join(driver)?;
            let d = t0.elapsed();
            let want = sum_range(1, n + 1);
            if got != want {
                return Err(format!("sum of replies {got}, want {want}"));
            }
            Ok(d)
        })
    })?;
    Ok(format!("ns_per_op={}", ns_per(d, n)))
}

// ---------------------------------------------------------------- W3 spsc

fn w3(o: &Opts) -> Res {
    let n = o.size(10_000_000);
    let d = runtime::block_on(move || {
        with_warmup(n, |n| {
            let ch = chan::make::<u64>(128);
            let t0 = Instant::now();
            let tx = ch.clone();
            let sender = runtime::spawn(move || {
                for i in 0..n {
                    tx.send(i as u64);
                }
                tx.close();
            });
            let receiver = runtime::spawn(move || {
                let (mut s, mut c) = (0u64, 0u64);
                for v in &ch {
                    s += v;
                    c += 1;
                }
                (s, c)
            });
            join(sender)?;
            let (sum, cnt) = join(receiver)?;
            let d = t0.elapsed();
            check_sum(cnt, sum, n)?;
            Ok(d)
        })
    })?;
    Ok(format!("ns_per_msg={}", ns_per(d, n)))
}

// ---------------------------------------------------------------- W4 / W5 mpmc

/// 4 senders (disjoint value ranges covering `0..n`), 4 receivers, one channel.
fn mpmc(n: usize, cap: usize) -> Result<Duration, String> {
    const SENDERS: usize = 4;
    const RECEIVERS: usize = 4;
    let ch = chan::make::<u64>(cap);
    let lo = split(n, SENDERS);
    let t0 = Instant::now();
    let receivers: Vec<_> = (0..RECEIVERS)
        .map(|_| {
            let ch = ch.clone();
            runtime::spawn(move || {
                let (mut s, mut c) = (0u64, 0u64);
                for v in &ch {
                    s += v;
                    c += 1;
                }
                (s, c)
            })
        })
        .collect();
    let senders: Vec<_> = (0..SENDERS)
        .map(|k| {
            let ch = ch.clone();
            let (a, b) = (lo[k], lo[k + 1]);
            runtime::spawn(move || {
                for i in a..b {
                    ch.send(i as u64);
                }
            })
        })
        .collect();
    for h in senders {
        join(h)?;
    }
    ch.close();
    let (mut sum, mut cnt) = (0u64, 0u64);
    for h in receivers {
        let (s, c) = join(h)?;
        sum += s;
        cnt += c;
    }
    let d = t0.elapsed();
    check_sum(cnt, sum, n)?;
    Ok(d)
}

fn w4(o: &Opts) -> Res {
    let n = o.size(10_000_000);
    let d = runtime::block_on(move || with_warmup(n, |n| mpmc(n, 128)))?;
    Ok(format!("ns_per_msg={}", ns_per(d, n)))
}

fn w5(o: &Opts) -> Res {
    let n = o.size(1_000_000);
    let d = runtime::block_on(move || with_warmup(n, |n| mpmc(n, 0)))?;
    Ok(format!("ns_per_msg={}", ns_per(d, n)))
}

// ---------------------------------------------------------------- W6 select

fn w6(o: &Opts) -> Res {
    let n = o.size(4_000_000);
    let d = runtime::block_on(move || {
        with_warmup(n, |n| {
            const SENDERS: usize = 4;
            let chs: Vec<Chan<u64>> = (0..SENDERS).map(|_| chan::make::<u64>(128)).collect();
            let lo = split(n, SENDERS);
            let done = chan::make::<()>(0);
            let result: &'static (AtomicUsize, AtomicUsize) =
                Box::leak(Box::new((AtomicUsize::new(0), AtomicUsize::new(0))));
            let t0 = Instant::now();
            for k in 0..SENDERS {
                let ch = chs[k].clone();
                let (a, b) = (lo[k], lo[k + 1]);
                runtime::go(move || {
                    for i in a..b {
                        ch.send(i as u64);
                    }
                    ch.close();
                });
            }
            {
                let done = done.clone();
                runtime::go(move || {
                    // Go sets a closed case's channel to nil; here the select is rebuilt
                    // with the nil channel in that case's place.
                    let nil = Chan::<u64>::nil();
                    let mut open = [true; SENDERS];
                    let mut left = SENDERS;
                    let (mut s, mut c) = (0u64, 0u64);
                    while left > 0 {
                        let mut sel = Select::new();
                        for (k, ch) in chs.iter().enumerate() {
                            sel.recv(if open[k] { ch } else { &nil });
                        }
                        loop {
                            let Selected::Case(k) = sel.wait() else {
                                unreachable!("no default, no timeout")
                            };
                            match sel.recv_value::<u64>(k) {
                                Some(v) => {
                                    s += v;
                                    c += 1;
                                }
                                None => {
                                    open[k] = false;
                                    left -= 1;
                                    break;
                                }
                            }
                        }
                    }
                    result.0.store(s as usize, Ordering::Relaxed);
                    result.1.store(c as usize, Ordering::Relaxed);
                    done.close();
                });
            }
            let _ = done.recv();
            let d = t0.elapsed();
            let (sum, cnt) = (
                result.0.load(Ordering::Relaxed),
                result.1.load(Ordering::Relaxed),
            );
            check_sum(cnt as u64, sum as u64, n)?;
            Ok(d)
        })
    })?;
    Ok(format!("ns_per_msg={}", ns_per(d, n)))
}

// ---------------------------------------------------------------- W10 parked

/// W10: n tasks each blocked receiving on its own unbuffered channel; RSS growth per task,
/// then release all by sending. No warm-up (it would leave Gs and stacks cached).
fn w10(o: &Opts) -> Res {
    let n = o.size(1_000_000);
    runtime::block_on(move || {
        let rss0 = rss_bytes();
        let mut chans: Vec<Chan<()>> = Vec::with_capacity(n); // one handle per task, as Go's
        let parked = leak_wg(n);
        let exited = leak_wg(n);
        let released: &'static AtomicUsize = Box::leak(Box::new(AtomicUsize::new(0)));
        let t0 = Instant::now();
        for _ in 0..n {
            let ch = chan::make::<()>(0);
            chans.push(ch.clone());
            runtime::go(move || {
                parked.done(); // right before blocking
                ch.recv();
                released.fetch_add(1, Ordering::Relaxed);
                exited.done();
            });
        }
        parked.wait();
        let spawn = t0.elapsed();
        // Let the last few tasks reach the receive they announced.
        runtime::gosched();
        let rss1 = rss_bytes();
        // One million guarded stacks must fit under vm.max_map_count (65530 by default).
        let maps = std::fs::read_to_string("/proc/self/maps").map_or(0, |m| m.lines().count());
        let got = released.load(Ordering::Relaxed);
        if got != 0 {
            return Err(format!("{got} tasks got past their receive before release"));
        }
        for ch in &chans {
            ch.send(());
        }
        exited.wait();
        let got = released.load(Ordering::Relaxed);
        if got != n {
            return Err(format!("released {got} tasks, want {n}"));
        }
        let per = (rss1 - rss0) as f64 / n as f64;
        Ok(format!(
            "bytes_per_task={per:.0} spawn_ms={:.1} mappings={maps}",
            spawn.as_secs_f64() * 1e3
        ))
    })
}

// ---------------------------------------------------------------- W9 mutex

/// W9: 8 goroutines increment one counter under goro's Mutex, n increments in all.
fn w9(o: &Opts) -> Res {
    let n = o.size(4_000_000);
    let d = runtime::block_on(move || {
        with_warmup(n, |n| {
            const TASKS: usize = 8;
            let lo = split(n, TASKS);
            let mu: &'static goro::sync::Mutex<usize> =
                Box::leak(Box::new(goro::sync::Mutex::new(0)));
            let wg = goro::sync::WaitGroup::new();
            let t0 = Instant::now();
            wg.add(TASKS as isize);
            for k in 0..TASKS {
                let (m, wg) = (lo[k + 1] - lo[k], wg.clone());
                runtime::go(move || {
                    for _ in 0..m {
                        *mu.lock() += 1;
                    }
                    wg.done();
                });
            }
            wg.wait();
            let d = t0.elapsed();
            let got = *mu.lock();
            if got != n {
                return Err(format!("counter {got}, want {n}"));
            }
            Ok(d)
        })
    })?;
    Ok(format!("ns_per_op={}", ns_per(d, n)))
}

// ---------------------------------------------------------------- W13 rwmutex

/// W13: 8 goroutines, n ops in all, op i a write-lock increment when i % 10 == 0, else a
/// read-lock read of the counter.
fn w13(o: &Opts) -> Res {
    let n = o.size(4_000_000);
    let d = runtime::block_on(move || {
        with_warmup(n, |n| {
            const TASKS: usize = 8;
            let lo = split(n, TASKS);
            let mu: &'static goro::sync::RwMutex<u64> =
                Box::leak(Box::new(goro::sync::RwMutex::new(0)));
            let reads: &'static AtomicUsize = Box::leak(Box::new(AtomicUsize::new(0)));
            let sink: &'static AtomicUsize = Box::leak(Box::new(AtomicUsize::new(0)));
            let want_writes: usize = (0..TASKS).map(|k| (lo[k + 1] - lo[k]).div_ceil(10)).sum();
            let wg = goro::sync::WaitGroup::new();
            let t0 = Instant::now();
            wg.add(TASKS as isize);
            for k in 0..TASKS {
                let (m, wg) = (lo[k + 1] - lo[k], wg.clone());
                runtime::go(move || {
                    let (mut seen, mut r) = (0u64, 0usize);
                    for i in 0..m {
                        if i % 10 == 0 {
                            *mu.lock() += 1;
                        } else {
                            seen = seen.wrapping_add(*mu.rlock());
                            r += 1;
                        }
                    }
                    reads.fetch_add(r, Ordering::Relaxed);
                    sink.fetch_add(seen as usize, Ordering::Relaxed);
                    wg.done();
                });
            }
            wg.wait();
            let d = t0.elapsed();
            let (writes, got_reads) = (*mu.rlock() as usize, reads.load(Ordering::Relaxed));
            if writes != want_writes || got_reads + want_writes != n {
                return Err(format!(
                    "counter {writes} (want {want_writes}), reads {got_reads} (want {})",
                    n - want_writes
                ));
            }
            Ok(d)
        })
    })?;
    Ok(format!("ns_per_op={}", ns_per(d, n)))
}

// ---------------------------------------------------------------- W7 sieve

/// W7: Go's concurrent prime sieve. The generator and filter goroutines stay blocked for
/// ever once main stops reading (as in Go's original); they die with the child process.
fn w7(o: &Opts) -> Res {
    let n = o.size(3_000);
    let d = runtime::block_on(move || {
        with_warmup(n, |n| {
            let mut primes = vec![0u64; n];
            let t0 = Instant::now();
            let mut ch = chan::make::<u64>(0);
            {
                let ch = ch.clone();
                runtime::go(move || {
                    let mut i = 2u64;
                    loop {
                        ch.send(i);
                        i += 1;
                    }
                });
            }
            for p in primes.iter_mut() {
                let prime = ch.recv().expect("sieve channel closed");
                *p = prime;
                let ch1 = chan::make::<u64>(0);
                let (input, out) = (ch, ch1.clone());
                runtime::go(move || {
                    loop {
                        let i = input.recv().expect("sieve channel closed");
                        if i % prime != 0 {
                            out.send(i);
                        }
                    }
                });
                ch = ch1;
            }
            let d = t0.elapsed();
            check_primes(&primes)?;
            Ok(d)
        })
    })?;
    Ok(format!("ms={}", ms_of(d)))
}

/// Compares `got` with the first `got.len()` primes computed sequentially.
pub fn check_primes(got: &[u64]) -> Result<(), String> {
    let want = first_primes(got.len());
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        if g != w {
            return Err(format!("prime #{} is {g}, want {w}", i + 1));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- W8 daisy

/// W8: Pike's daisy chain: n goroutines, each `left <- 1 + <-right`.
fn w8(o: &Opts) -> Res {
    let n = o.size(100_000);
    let d = runtime::block_on(move || {
        with_warmup(n, |n| {
            let t0 = Instant::now();
            let leftmost = chan::make::<u64>(0);
            let mut left = leftmost.clone();
            let mut right = leftmost.clone();
            for _ in 0..n {
                right = chan::make::<u64>(0);
                let (l, r) = (left, right.clone());
                runtime::go(move || l.send(1 + r.recv().expect("daisy channel closed")));
                left = right.clone();
            }
            runtime::go(move || right.send(1));
            let got = leftmost.recv().expect("daisy channel closed");
            let d = t0.elapsed();
            if got != n as u64 + 1 {
                return Err(format!("daisy chain returned {got}, want {}", n + 1));
            }
            Ok(d)
        })
    })?;
    Ok(format!("ms={}", ms_of(d)))
}

// ---------------------------------------------------------------- W11 timers

/// W11: n goroutines each sleep 10 ms, then mark themselves done; main waits.
fn w11(o: &Opts) -> Res {
    const SLEEP: Duration = Duration::from_millis(10);
    let n = o.size(100_000);
    let d = runtime::block_on(move || {
        with_warmup(n, |n| {
            let done: &'static [AtomicBool] =
                Box::leak((0..n).map(|_| AtomicBool::new(false)).collect());
            let wg = leak_wg(0);
            let t0 = Instant::now();
            wg.add(n as isize);
            for flag in done {
                runtime::go(move || {
                    runtime::sleep(SLEEP);
                    flag.store(true, Ordering::Relaxed);
                    wg.done();
                });
            }
            wg.wait();
            let d = t0.elapsed();
            if let Some(i) = done.iter().position(|f| !f.load(Ordering::Relaxed)) {
                return Err(format!("task {i} did not signal"));
            }
            if d < SLEEP {
                return Err(format!(
                    "all done after {d:?}, less than the {SLEEP:?} sleep"
                ));
            }
            Ok(d)
        })
    })?;
    Ok(format!("ms={}", ms_of(d)))
}

// ---------------------------------------------------------------- W12 pipeline

/// Pipeline, fan-out and fan-in as in the Go blog post "Go Concurrency Patterns: Pipelines
/// and cancellation" (unbuffered channels throughout).
fn pipe_gen(n: usize) -> Chan<u64> {
    let out = chan::make::<u64>(0);
    let tx = out.clone();
    runtime::go(move || {
        for i in 1..=n as u64 {
            tx.send(i);
        }
        tx.close();
    });
    out
}

fn pipe_sq(input: Chan<u64>) -> Chan<u64> {
    let out = chan::make::<u64>(0);
    let tx = out.clone();
    runtime::go(move || {
        for v in &input {
            tx.send(v * v);
        }
        tx.close();
    });
    out
}

fn pipe_merge(cs: Vec<Chan<u64>>) -> Chan<u64> {
    let wg = WaitGroup::new();
    let out = chan::make::<u64>(0);
    wg.add(cs.len() as isize);
    for c in cs {
        let (out, wg) = (out.clone(), wg.clone());
        runtime::go(move || {
            for v in &c {
                out.send(v);
            }
            wg.done();
        });
    }
    {
        let out = out.clone();
        runtime::go(move || {
            wg.wait();
            out.close();
        });
    }
    out
}

/// W12: generate 1..=n -> 8 squarers sharing one input -> merge -> sum.
fn w12(o: &Opts) -> Res {
    let n = o.size(1_000_000);
    let d = runtime::block_on(move || {
        with_warmup(n, |n| {
            const WORKERS: usize = 8;
            let t0 = Instant::now();
            let input = pipe_gen(n);
            let outs: Vec<Chan<u64>> = (0..WORKERS).map(|_| pipe_sq(input.clone())).collect();
            let (mut sum, mut cnt) = (0u64, 0u64);
            for v in &pipe_merge(outs) {
                sum += v;
                cnt += 1;
            }
            let d = t0.elapsed();
            check_squares(cnt, sum, n)?;
            Ok(d)
        })
    })?;
    Ok(format!("ns_per_item={}", ns_per(d, n)))
}

/// W12's check: `n` items summing to 1² + ... + n².
pub fn check_squares(cnt: u64, sum: u64, n: usize) -> Result<(), String> {
    let big = n as u64;
    let want = big * (big + 1) * (2 * big + 1) / 6;
    if cnt != big || sum != want {
        return Err(format!("got {cnt} items sum {sum}, want {big} sum {want}"));
    }
    Ok(())
}

// ---------------------------------------------------------------- N1 echo

/// N1: a goroutine-per-connection TCP echo server on 127.0.0.1 and [`N1_CLIENTS`] client
/// goroutines, each over its own connection making n round trips of a 64-byte message
/// (`write_all`, `read_exact` 64 bytes back, every byte compared), TCP_NODELAY on both ends;
/// shaped as Go's `n1Echo`: connecting and accepting untimed, behind a start gate (a closed
/// channel); timed from opening the gate until every client is done; afterwards every
/// handler must have seen its client's EOF.
fn n1(o: &Opts) -> Res {
    let n = o.size(N1_ROUNDS);
    let d = runtime::block_on(move || with_warmup(n, n1_pass))?;
    Ok(format!("ns_per_op={}", ns_per(d, N1_CLIENTS * n)))
}

fn n1_pass(n: usize) -> Result<Duration, String> {
    use goro::net::{TcpListener, TcpStream};
    let ln = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("listen: {e}"))?;
    let addr = ln.local_addr().map_err(|e| format!("local_addr: {e}"))?;
    let errs = FirstErr::leak();
    // ready: every client connected, and the accept loop has accepted them all.
    let ready = leak_wg(N1_CLIENTS + 1);
    let done = leak_wg(N1_CLIENTS);
    let handlers = leak_wg(N1_CLIENTS);
    let start = chan::make::<()>(0);
    runtime::go(move || {
        // Accept loop: exactly N1_CLIENTS connections, a goroutine each.
        for i in 0..N1_CLIENTS {
            let conn = match ln.accept() {
                Ok((c, _)) => c,
                Err(e) => {
                    errs.set(format!("accept: {e}"));
                    for _ in i..N1_CLIENTS {
                        handlers.done();
                    }
                    break;
                }
            };
            if let Err(e) = conn.set_nodelay(true) {
                errs.set(format!("server set_nodelay: {e}"));
            }
            runtime::go(move || {
                crate::n1_echo(conn, errs);
                handlers.done();
            });
        }
        drop(ln);
        ready.done();
    });
    for id in 0..N1_CLIENTS {
        let start = start.clone();
        runtime::go(move || {
            let conn = TcpStream::connect(addr).and_then(|c| c.set_nodelay(true).map(|()| c));
            ready.done();
            start.recv(); // None: the gate is open
            match conn {
                Ok(c) => {
                    if let Err(e) = crate::n1_client(c, id, n) {
                        errs.set(e);
                    }
                }
                Err(e) => errs.set(format!("client {id} connect: {e}")),
            }
            done.done();
        });
    }
    ready.wait();
    let t0 = Instant::now();
    start.close();
    done.wait();
    let d = t0.elapsed();
    handlers.wait();
    errs.get()?;
    Ok(d)
}

// ---------------------------------------------------------------- N2 http

/// N2: goro's HTTP server is the workspace example examples/http_hello.rs (`GORO_HTTP_HELLO`,
/// else the workspace's target/release/examples/http_hello; run.sh builds it), loaded by
/// [`netload::n2_run`]. A socket error or a non-2xx response fails the workload (after its
/// line is printed, so the figures still reach the table).
fn n2(o: &Opts) -> Res {
    let bin = std::env::var_os("GORO_HTTP_HELLO")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../../target/release/examples/http_hello")
        });
    if !bin.exists() {
        return Err(format!(
            "{} not found: build it with `cargo build --release --example http_hello` in the \
             workspace root (run.sh does)",
            bin.display()
        ));
    }
    let w = netload::n2_run(o, |addr| {
        let mut c = std::process::Command::new(&bin);
        c.args(["--addr", addr]);
        c
    })?;
    if w.errors() > 0 {
        println!("N2 goro {}", w.metric());
        return Err(format!(
            "{} socket errors and {} non-2xx responses; goro's server must have none",
            w.socket_errors, w.non2xx
        ));
    }
    Ok(w.metric())
}

// ---------------------------------------------------------------- N3 idle

/// N3 as Go's `n3Idle`: an accept loop goroutine on a `goro::net` listener, a goroutine per
/// connection blocked in `conn.read(&mut [0u8; 64])` until the client closes
/// ([`netload::n3_run`] measures).
fn n3(o: &Opts) -> Res {
    use goro::net::TcpListener;
    use std::io::Read;
    netload::n3_run(o, |st| {
        let ln = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("listen: {e}"))?;
        let addr = ln.local_addr().map_err(|e| format!("local_addr: {e}"))?;
        runtime::go(move || {
            for i in 0..st.n {
                match ln.accept() {
                    Ok((mut conn, _)) => {
                        runtime::go(move || {
                            st.start(); // right before blocking
                            let mut buf = [0u8; N3_BUF];
                            st.read_returned(conn.read(&mut buf));
                        });
                    }
                    Err(e) => {
                        st.accept_failed(i, e);
                        break;
                    }
                }
            }
        });
        Ok(addr)
    })
}

// ---------------------------------------------------------------- HL hog latency

/// HL's sample count; not scaled by `-quick` (a p99 needs them).
const HL_SAMPLES: usize = 300;
/// The sleep each sample measures.
const HL_SLEEP: Duration = Duration::from_millis(1);
/// How long the hogs run alone before the first sample.
const HL_WARM: Duration = Duration::from_millis(20);
/// The hogs stop by themselves this long after they start, preempted or not.
const HL_CAP: Duration = Duration::from_secs(10);
/// Hog iterations between two looks at the clock.
const HL_CLOCK_EVERY: u64 = 1 << 20;

/// A CPU hog: integer arithmetic, loading `stop` every iteration and calling nothing the
/// scheduler could use as a yield point (goro has none: a P is freed only by preemption).
/// Every `HL_CLOCK_EVERY` iterations (about a millisecond) it looks at the clock and, past
/// `deadline`, sets `stop` itself.
fn hl_hog(stop: &AtomicBool, deadline: Instant) -> u64 {
    let mut x = 1u64;
    let mut i = 0u64;
    while !stop.load(Ordering::Relaxed) {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        i += 1;
        if i.is_multiple_of(HL_CLOCK_EVERY) && Instant::now() > deadline {
            stop.store(true, Ordering::Relaxed);
        }
    }
    x
}

/// HL: the wake-up delay of a sleeping goroutine while every P runs a CPU hog. Main starts
/// `o.procs` (GOMAXPROCS) hogs and busy-waits `HL_WARM` (a sleep would itself wait for a
/// free P), then a sleeper goroutine takes samples: t0 = now; sleep 1 ms; delay = now - t0 -
/// 1 ms. It stops after `HL_SAMPLES`, or early once the hogs have stopped by themselves at
/// `HL_CAP` (later samples would not be under load); `samples` says how many it took.
/// Prints the nearest-rank p50 and p99 and the max of the delays, in microseconds.
fn hl(o: &Opts) -> Res {
    let procs = o.procs;
    runtime::block_on(move || {
        let stop: &'static AtomicBool = Box::leak(Box::new(AtomicBool::new(false)));
        let deadline = Instant::now() + HL_CAP;
        let hogs: Vec<_> = (0..procs)
            .map(|_| runtime::spawn(move || hl_hog(stop, deadline)))
            .collect();
        let t = Instant::now();
        while t.elapsed() < HL_WARM {
            std::hint::spin_loop();
        }
        let sleeper = runtime::spawn(move || {
            let mut ds = Vec::with_capacity(HL_SAMPLES);
            while ds.len() < HL_SAMPLES && !stop.load(Ordering::Relaxed) {
                let t0 = Instant::now();
                runtime::sleep(HL_SLEEP);
                ds.push(t0.elapsed());
            }
            ds
        });
        let mut ds = join(sleeper)?;
        stop.store(true, Ordering::Relaxed);
        for h in hogs {
            std::hint::black_box(join(h)?);
        }
        if ds.is_empty() {
            return Err(format!("no sample taken before the hogs' {HL_CAP:?} cap"));
        }
        ds.sort();
        if ds[0] < HL_SLEEP {
            return Err(format!("a {HL_SLEEP:?} sleep returned after {:?}", ds[0]));
        }
        let q = |q: f64| {
            let i = ((q * ds.len() as f64).ceil() as usize).saturating_sub(1);
            (ds[i] - HL_SLEEP).as_secs_f64() * 1e6
        };
        Ok(format!(
            "p50_us={:.1} p99_us={:.1} max_us={:.1} samples={}",
            q(0.50),
            q(0.99),
            q(1.0),
            ds.len()
        ))
    })
}
