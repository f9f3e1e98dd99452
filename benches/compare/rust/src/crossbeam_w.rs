//! The "crossbeam + threads" system of shared/bench/ANCHORS.md: crossbeam-channel 0.5 over
//! std threads (one OS thread per Go goroutine), each workload shaped as its Go version.
//! `bounded(0)` is the unbuffered (rendezvous) channel; dropping the last sender is Go's
//! `close`. The channel workloads are [`threads_w`]'s, shared with flume; W6 (select) is
//! here. The workloads without a channel (W1, W9, W11, W13) are "std threads" workloads:
//! they run here only (flume's column points here). W9 and W13 time std's `Mutex`/`RwLock`
//! and, as a second variant on the same line, parking_lot's (`ns_per_op.parking_lot=`).
//! N1 (TCP echo) is the thread-per-connection server over blocking `std::net` sockets, with a
//! thread per client: a "std threads" workload too (flume's column points here), as is N3
//! (a thread per idle connection, blocked in `read`). N2 is n/a: no HTTP server over std
//! threads is measured.

use crate::threads_w::{self, Countdown, fails_ok, join, num_threads, spawn};
use crate::{
    FirstErr, N1_CLIENTS, N1_ROUNDS, Opts, Res, check_sum, ms_of, ns_per, split, with_warmup,
};
use crossbeam_channel::{Select, bounded};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// crossbeam-channel as a [`Kit`].
pub struct Crossbeam;

threads_w::thread_channel_kit!(Crossbeam, crossbeam_channel);

pub fn run(id: &str, o: &Opts) -> Res {
    match id {
        "W1" => fails_ok(w1(o)),
        "W2" => threads_w::w2::<Crossbeam>(o),
        "W3" => threads_w::w3::<Crossbeam>(o),
        "W4" => threads_w::w4::<Crossbeam>(o),
        "W5" => threads_w::w5::<Crossbeam>(o),
        "W6" => w6(o),
        "W7" => fails_ok(threads_w::w7::<Crossbeam>(o)),
        "W8" => fails_ok(threads_w::w8::<Crossbeam>(o)),
        "W9" => w9(o),
        "W10" => fails_ok(threads_w::w10::<Crossbeam>(o)),
        "W11" => fails_ok(w11(o)),
        "W12" => threads_w::w12::<Crossbeam>(o),
        "W13" => w13(o),
        "N1" => fails_ok(n1(o)),
        "N2" => Ok("n/a no HTTP server over std threads is measured".to_string()),
        "N3" => fails_ok(n3(o)),
        _ => Err(format!("unknown workload {id}")),
    }
}

// ---------------------------------------------------------------- W1 spawn

/// W1: one thread per task, each only signals completion. A thread spawn costs tens of
/// microseconds here, so this spawns 1/100 of the million (ns per task is unaffected;
/// threads exit as they go, so few are alive at once).
fn w1(o: &Opts) -> Res {
    let n = (o.size(1_000_000) / 100).max(1);
    let d = with_warmup(n, |n| {
        let base = num_threads();
        let wg = Countdown::leak(n);
        let t0 = Instant::now();
        for _ in 0..n {
            spawn(move || wg.done())?;
        }
        wg.wait();
        let d = t0.elapsed();
        let deadline = Instant::now() + Duration::from_secs(10);
        while num_threads() > base {
            if Instant::now() > deadline {
                return Err(format!(
                    "{} threads still alive (baseline {base})",
                    num_threads()
                ));
            }
            thread::sleep(Duration::from_millis(1));
        }
        Ok(d)
    })?;
    Ok(format!("ns_per_task={}", ns_per(d, n)))
}

fn w6(o: &Opts) -> Res {
    let n = o.size(4_000_000);
    let d = with_warmup(n, |n| {
        const SENDERS: usize = 4;
        let lo = split(n, SENDERS);
        let (txs, rxs): (Vec<_>, Vec<_>) = (0..SENDERS).map(|_| bounded::<u64>(128)).unzip();
        let t0 = Instant::now();
        for (k, tx) in txs.into_iter().enumerate() {
            let (a, b) = (lo[k], lo[k + 1]);
            thread::spawn(move || {
                for i in a..b {
                    tx.send(i as u64).expect("send");
                }
            });
        }
        let receiver = thread::spawn(move || {
            let mut sel = Select::new();
            for rx in &rxs {
                sel.recv(rx);
            }
            let (mut s, mut c) = (0u64, 0u64);
            let mut open = SENDERS;
            while open > 0 {
                let op = sel.select();
                let k = op.index();
                match op.recv(&rxs[k]) {
                    Ok(v) => {
                        s += v;
                        c += 1;
                    }
                    Err(_) => {
                        // Closed (all senders gone): Go's `c = nil`.
                        sel.remove(k);
                        open -= 1;
                    }
                }
            }
            (s, c)
        });
        let (sum, cnt) = join(receiver)?;
        let d = t0.elapsed();
        check_sum(cnt, sum, n)?;
        Ok(d)
    })?;
    Ok(format!("ns_per_msg={}", ns_per(d, n)))
}

// ---------------------------------------------------------------- W9 mutex

/// W9's body for one lock type: 8 threads, n increments in all.
fn mutex_run<L: Sync + 'static>(
    n: usize,
    new: impl Fn() -> L,
    incr: fn(&L),
    get: fn(&L) -> usize,
) -> Result<Duration, String> {
    const TASKS: usize = 8;
    let lo = split(n, TASKS);
    let mu: &'static L = Box::leak(Box::new(new()));
    let t0 = Instant::now();
    let hs: Vec<_> = (0..TASKS)
        .map(|k| {
            let m = lo[k + 1] - lo[k];
            thread::spawn(move || {
                for _ in 0..m {
                    incr(mu);
                }
            })
        })
        .collect();
    for h in hs {
        join(h)?;
    }
    let d = t0.elapsed();
    let got = get(mu);
    if got != n {
        return Err(format!("counter {got}, want {n}"));
    }
    Ok(d)
}

fn w9(o: &Opts) -> Res {
    let n = o.size(4_000_000);
    let std_d = with_warmup(n, |n| {
        mutex_run(
            n,
            || std::sync::Mutex::new(0usize),
            |m| *m.lock().unwrap() += 1,
            |m| *m.lock().unwrap(),
        )
    })?;
    let pl_d = with_warmup(n, |n| {
        mutex_run(
            n,
            || parking_lot::Mutex::new(0usize),
            |m| *m.lock() += 1,
            |m| *m.lock(),
        )
    })?;
    Ok(format!(
        "ns_per_op={} ns_per_op.parking_lot={}",
        ns_per(std_d, n),
        ns_per(pl_d, n)
    ))
}

// ---------------------------------------------------------------- W11 timers

/// W11: one thread per task, each sleeps 10 ms then signals. Threads end as they go
/// (a few hundred alive at once), so the full 100,000 run.
fn w11(o: &Opts) -> Res {
    const SLEEP: Duration = Duration::from_millis(10);
    let n = o.size(100_000);
    let d = with_warmup(n, |n| {
        let done: &'static [AtomicBool] =
            Box::leak((0..n).map(|_| AtomicBool::new(false)).collect());
        let wg = Countdown::leak(n);
        let t0 = Instant::now();
        for flag in done {
            spawn(move || {
                thread::sleep(SLEEP);
                flag.store(true, Ordering::Relaxed);
                wg.done();
            })?;
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
    })?;
    Ok(format!("ms={}", ms_of(d)))
}

// ---------------------------------------------------------------- W13 rwmutex

/// W13's body for one lock type: 8 threads, n ops, op i a write when i % 10 == 0.
fn rw_run<L: Sync + 'static>(
    n: usize,
    new: impl Fn() -> L,
    write: fn(&L),
    read: fn(&L) -> u64,
) -> Result<Duration, String> {
    const TASKS: usize = 8;
    let lo = split(n, TASKS);
    let mu: &'static L = Box::leak(Box::new(new()));
    let reads: &'static AtomicUsize = Box::leak(Box::new(AtomicUsize::new(0)));
    let sink: &'static AtomicUsize = Box::leak(Box::new(AtomicUsize::new(0)));
    let want_writes: usize = (0..TASKS).map(|k| (lo[k + 1] - lo[k]).div_ceil(10)).sum();
    let t0 = Instant::now();
    let hs: Vec<_> = (0..TASKS)
        .map(|k| {
            let m = lo[k + 1] - lo[k];
            thread::spawn(move || {
                let (mut seen, mut r) = (0u64, 0usize);
                for i in 0..m {
                    if i % 10 == 0 {
                        write(mu);
                    } else {
                        seen = seen.wrapping_add(read(mu));
                        r += 1;
                    }
                }
                reads.fetch_add(r, Ordering::Relaxed);
                sink.fetch_add(seen as usize, Ordering::Relaxed);
            })
        })
        .collect();
    for h in hs {
        join(h)?;
    }
    let d = t0.elapsed();
    let (writes, got_reads) = (read(mu) as usize, reads.load(Ordering::Relaxed));
    if writes != want_writes || got_reads + want_writes != n {
        return Err(format!(
            "counter {writes} (want {want_writes}), reads {got_reads} (want {})",
            n - want_writes
        ));
    }
    Ok(d)
}

fn w13(o: &Opts) -> Res {
    let n = o.size(4_000_000);
    let std_d = with_warmup(n, |n| {
        rw_run(
            n,
            || std::sync::RwLock::new(0u64),
            |m| *m.write().unwrap() += 1,
            |m| *m.read().unwrap(),
        )
    })?;
    let pl_d = with_warmup(n, |n| {
        rw_run(
            n,
            || parking_lot::RwLock::new(0u64),
            |m| *m.write() += 1,
            |m| *m.read(),
        )
    })?;
    Ok(format!(
        "ns_per_op={} ns_per_op.parking_lot={}",
        ns_per(std_d, n),
        ns_per(pl_d, n)
    ))
}

// ---------------------------------------------------------------- N1 echo

/// N1 as Go's `n1Echo`, with std threads: a thread per accepted connection over blocking
/// `std::net` sockets and a thread per client (2 * N1_CLIENTS + 1 threads), TCP_NODELAY on
/// both ends, the round trips timed behind a start gate (dropping the Sender of a
/// `bounded(0)` channel every client receives from).
fn n1(o: &Opts) -> Res {
    let n = o.size(N1_ROUNDS);
    threads_w::check_threads(2 * N1_CLIENTS + 1)?;
    let d = with_warmup(n, n1_pass)?;
    Ok(format!("ns_per_op={}", ns_per(d, N1_CLIENTS * n)))
}

fn n1_pass(n: usize) -> Result<Duration, String> {
    use std::net::{TcpListener, TcpStream};
    let ln = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("listen: {e}"))?;
    let addr = ln.local_addr().map_err(|e| format!("local_addr: {e}"))?;
    let errs = FirstErr::leak();
    // ready: every client connected, and the accept loop has accepted them all.
    let ready = Countdown::leak(N1_CLIENTS + 1);
    let done = Countdown::leak(N1_CLIENTS);
    let handlers = Countdown::leak(N1_CLIENTS);
    let (start_tx, start_rx) = bounded::<()>(0);
    spawn(move || {
        // Accept loop: exactly N1_CLIENTS connections, a thread each.
        for i in 0..N1_CLIENTS {
            let accepted = ln.accept().map_err(|e| format!("accept: {e}"));
            let spawned = accepted.and_then(|(conn, _)| {
                if let Err(e) = conn.set_nodelay(true) {
                    errs.set(format!("server set_nodelay: {e}"));
                }
                spawn(move || {
                    crate::n1_echo(conn, errs);
                    handlers.done();
                })
            });
            if let Err(e) = spawned {
                errs.set(e);
                for _ in i..N1_CLIENTS {
                    handlers.done();
                }
                break;
            }
        }
        drop(ln);
        ready.done();
    })?;
    for id in 0..N1_CLIENTS {
        let start = start_rx.clone();
        spawn(move || {
            let conn = TcpStream::connect(addr).and_then(|c| c.set_nodelay(true).map(|()| c));
            ready.done();
            let _ = start.recv(); // Err: the gate is open (sender dropped)
            match conn {
                Ok(c) => {
                    if let Err(e) = crate::n1_client(c, id, n) {
                        errs.set(e);
                    }
                }
                Err(e) => errs.set(format!("client {id} connect: {e}")),
            }
            done.done();
        })?;
    }
    drop(start_rx);
    ready.wait();
    let t0 = Instant::now();
    drop(start_tx);
    done.wait();
    let d = t0.elapsed();
    handlers.wait();
    errs.get()?;
    Ok(d)
}

// ---------------------------------------------------------------- N3 idle

/// N3 as Go's `n3Idle`, with std threads: an accept thread on a blocking `std::net`
/// listener, a thread per connection blocked in `read(&mut [0u8; 64])` until the client
/// closes ([`netload::n3_run`] measures).
fn n3(o: &Opts) -> Res {
    use crate::netload::{self, N3_BUF};
    use std::io::Read;
    threads_w::check_threads(netload::n3_conns(o) + 2)?;
    netload::n3_run(o, |st| {
        let ln = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("listen: {e}"))?;
        let addr = ln.local_addr().map_err(|e| format!("local_addr: {e}"))?;
        spawn(move || {
            for i in 0..st.n {
                let spawned = ln.accept().and_then(|(mut conn, _)| {
                    thread::Builder::new().spawn(move || {
                        st.start(); // right before blocking
                        let mut buf = [0u8; N3_BUF];
                        st.read_returned(conn.read(&mut buf));
                    })
                });
                if let Err(e) = spawned {
                    st.accept_failed(i, e);
                    break;
                }
            }
        })?;
        Ok(addr)
    })
}
