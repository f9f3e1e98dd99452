//! goro's workloads: goroutines started from the main goroutine inside `runtime::block_on`,
//! over goro's channels, each mirroring its Go version in benches/compare/go/workloads.go.
//!
//! Go's `sync.WaitGroup` is written as join handles (W2-W5), a `done` channel (W6, as Go
//! does), or [`Wg`], an atomic countdown whose last `done` unparks the waiting goroutine
//! (W1, W10: a million tasks, where a join handle's allocation per task would be counted),
//! until goro's sync crate lands.

use crate::{Opts, Res, check_sum, ns_per, split, sum_range, with_warmup};
use goro::chan::{self, Chan, Select, Selected};
use goro::runtime::{self, WaitReason, Waiter};
use std::sync::atomic::{AtomicUsize, Ordering};
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
        "W10" => w10(o),
        "W9" => w9(o),
        "W13" => w13(o),
        _ => Ok("n/a not ported to goro yet".to_string()),
    }
}

/// A WaitGroup for one waiting goroutine: `n` calls to `done`, the last of which unparks
/// the goroutine that made it.
struct Wg {
    left: AtomicUsize,
    waiter: Waiter,
}

impl Wg {
    /// Made by the goroutine that will `wait`. Leaked: tasks hold plain `&'static`
    /// references, as Go's closures capture `&wg` (no refcount traffic per task).
    fn leak(n: usize) -> &'static Wg {
        Box::leak(Box::new(Wg {
            left: AtomicUsize::new(n),
            waiter: Waiter::current(),
        }))
    }
    fn done(&self) {
        if self.left.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.waiter.unpark();
        }
    }
    fn wait(&self) {
        while self.left.load(Ordering::Acquire) != 0 {
            runtime::park(WaitReason::WaitGroupWait);
        }
    }
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
            let wg = Wg::leak(n);
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

fn rss_bytes() -> i64 {
    let s = std::fs::read_to_string("/proc/self/statm").expect("statm");
    let pages: i64 = s.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

/// W10: n tasks each blocked receiving on its own unbuffered channel; RSS growth per task,
/// then release all by sending. No warm-up (it would leave Gs and stacks cached).
fn w10(o: &Opts) -> Res {
    let n = o.size(1_000_000);
    runtime::block_on(move || {
        let rss0 = rss_bytes();
        let mut chans: Vec<Chan<()>> = Vec::with_capacity(n); // one handle per task, as Go's
        let parked = Wg::leak(n);
        let exited = Wg::leak(n);
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
    Ok(format!("ns_per_incr={}", ns_per(d, n)))
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
