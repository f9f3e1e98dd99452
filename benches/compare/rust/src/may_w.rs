//! The may system: may 0.3's stackful coroutines on `procs` worker threads
//! (`may::config().set_workers`), default coroutine stacks, the workload's main body in a
//! coroutine (as Go's main goroutine). Each workload is shaped as its Go version.
//!
//! Translations:
//! - channels: may's channels are all unbounded (`may::sync::mpmc`), so a bounded channel is
//!   [`MayKit`]'s: the unbounded MPMC channel plus a `may::sync::Semphore` counting free
//!   slots (a send takes one, a receive gives it back); an unbuffered channel is capacity 1
//!   (may has no rendezvous channel). Dropping the last Sender is Go's `close`. The channel
//!   workloads are [`threads_w`]'s, run with coroutines.
//! - `sync.WaitGroup`: `may::sync::WaitGroup` (a clone per task, done on drop).
//! - N1: `may::net`'s coroutine-blocking sockets; the start gate (Go's `close(start)`) is
//!   dropping the Sender of a may mpmc channel every client receives from.
//! - N2's HTTP server: may_minihttp's `HttpServer` with an `HttpService` answering
//!   `Hello, World!`, as its README writes it, in its own process on one worker.
//! - N3: a coroutine per connection blocked in `may::net`'s `read(&mut [0u8; 64])`; the
//!   measuring runs on the main thread, not in a coroutine.
//! - W6: n/a. may's `select!` runs each branch in its own coroutine and cancels the losers,
//!   whose receive may already have taken a message, so a receive loop over it loses
//!   messages (and it cannot select over the semaphore-bounded channels at all).
//! - Each coroutine stack is an mmap'd region with a guard page: past ~32.7k live coroutines
//!   vm.max_map_count (65530) is reached and may fails; W1, W8 and W10 run at Go's N all the
//!   same, and the failure is the result (the parent prints `fails: ...`).

use crate::netload::{self, N2_BODY, N3_BUF};
use crate::threads_w::{self, Kit};
use crate::{FirstErr, N1_CLIENTS, N1_ROUNDS, Opts, Res, ms_of, ns_per, split, with_warmup};
use may::coroutine::JoinHandle;
use may::go;
use may::sync::{Semphore, WaitGroup, mpmc};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub fn init(o: &Opts) {
    may::config().set_workers(o.procs);
    // A panic on a may worker (a coroutine stack that cannot be mapped) leaves the process
    // hanging: end it at once, so the parent reports the failure without waiting out its
    // time limit.
    // The hook allocates nothing (the allocator fails too once the mappings run out).
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| info.payload().downcast_ref::<String>().map(|s| s.as_str()))
            .unwrap_or("(no message)");
        eprintln!("may worker panicked: {msg}");
        std::process::abort();
    }));
}

pub fn run(id: &str, o: &Opts) -> Res {
    let o = Opts {
        quick: o.quick,
        procs: o.procs,
    };
    match id {
        "N2" => return netload::n2_run(&o, netload::self_server("may")?).map(|w| w.metric()),
        "N3" => return n3(&o),
        _ => {}
    }
    let id = id.to_string();
    // The workload's main body runs in a coroutine.
    go!(move || match id.as_str() {
        "W1" => w1(&o),
        "W2" => threads_w::w2::<MayKit>(&o),
        "W3" => threads_w::w3::<MayKit>(&o),
        "W4" => threads_w::w4::<MayKit>(&o),
        "W5" => threads_w::w5::<MayKit>(&o),
        "W6" => Ok(
            "n/a may's select! loses messages (losing branches' coroutines are \
                     cancelled after their receive may have taken one)"
                .to_string()
        ),
        "W7" => threads_w::w7::<MayKit>(&o),
        "W8" => threads_w::w8::<MayKit>(&o),
        "W9" => w9(&o),
        "W10" => threads_w::w10::<MayKit>(&o),
        "W11" => w11(&o),
        "W12" => threads_w::w12::<MayKit>(&o),
        "W13" => w13(&o),
        "N1" => n1(&o),
        _ => Err(format!("unknown workload {id}")),
    })
    .join()
    .map_err(|_| "main coroutine panicked".to_string())?
}

/// may's channels as a [`Kit`]: unbounded MPMC plus a free-slot semaphore.
pub struct MayKit;

pub struct MayTx<T> {
    tx: mpmc::Sender<T>,
    room: Arc<Semphore>,
}

impl<T> Clone for MayTx<T> {
    fn clone(&self) -> Self {
        MayTx {
            tx: self.tx.clone(),
            room: self.room.clone(),
        }
    }
}

pub struct MayRx<T> {
    rx: mpmc::Receiver<T>,
    room: Arc<Semphore>,
}

impl<T> Clone for MayRx<T> {
    fn clone(&self) -> Self {
        MayRx {
            rx: self.rx.clone(),
            room: self.room.clone(),
        }
    }
}

impl Kit for MayKit {
    const THREADS: bool = false;
    type Join<T: Send + 'static> = JoinHandle<T>;
    fn go<T: Send + 'static>(
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<JoinHandle<T>, String> {
        Ok(go!(f))
    }
    fn join<T: Send + 'static>(h: JoinHandle<T>) -> Result<T, String> {
        h.join().map_err(|_| "a coroutine panicked".to_string())
    }
    type Tx<T: Send + 'static> = MayTx<T>;
    type Rx<T: Send + 'static> = MayRx<T>;
    fn bounded<T: Send + 'static>(cap: usize) -> (MayTx<T>, MayRx<T>) {
        let (tx, rx) = mpmc::channel();
        let room = Arc::new(Semphore::new(cap.max(1)));
        (
            MayTx {
                tx,
                room: room.clone(),
            },
            MayRx { rx, room },
        )
    }
    fn send<T: Send + 'static>(tx: &MayTx<T>, v: T) -> Result<(), ()> {
        tx.room.wait();
        tx.tx.send(v).map_err(|_| ())
    }
    fn recv<T: Send + 'static>(rx: &MayRx<T>) -> Option<T> {
        let v = rx.rx.recv().ok()?;
        rx.room.post();
        Some(v)
    }
}

fn join<T>(h: JoinHandle<T>) -> Result<T, String> {
    h.join().map_err(|_| "a coroutine panicked".to_string())
}

// ---------------------------------------------------------------- W1 spawn

fn w1(o: &Opts) -> Res {
    let n = o.size(1_000_000);
    let d = with_warmup(n, |n| {
        let wg = WaitGroup::new();
        let t0 = Instant::now();
        for _ in 0..n {
            let wg = wg.clone();
            go!(move || drop(wg));
        }
        wg.wait();
        Ok(t0.elapsed())
    })?;
    Ok(format!("ns_per_task={}", ns_per(d, n)))
}

// ---------------------------------------------------------------- W9 mutex

fn w9(o: &Opts) -> Res {
    let n = o.size(4_000_000);
    let d = with_warmup(n, |n| {
        const TASKS: usize = 8;
        let lo = split(n, TASKS);
        let mu: &'static may::sync::Mutex<usize> = Box::leak(Box::new(may::sync::Mutex::new(0)));
        let t0 = Instant::now();
        let hs: Vec<_> = (0..TASKS)
            .map(|k| {
                let m = lo[k + 1] - lo[k];
                go!(move || {
                    for _ in 0..m {
                        *mu.lock().unwrap() += 1;
                    }
                })
            })
            .collect();
        for h in hs {
            join(h)?;
        }
        let d = t0.elapsed();
        let got = *mu.lock().unwrap();
        if got != n {
            return Err(format!("counter {got}, want {n}"));
        }
        Ok(d)
    })?;
    Ok(format!("ns_per_op={}", ns_per(d, n)))
}

// ---------------------------------------------------------------- W11 timers

fn w11(o: &Opts) -> Res {
    const SLEEP: Duration = Duration::from_millis(10);
    let n = o.size(100_000);
    let d = with_warmup(n, |n| {
        let done: &'static [AtomicBool] =
            Box::leak((0..n).map(|_| AtomicBool::new(false)).collect());
        let wg = WaitGroup::new();
        let t0 = Instant::now();
        for flag in done {
            let wg = wg.clone();
            go!(move || {
                may::coroutine::sleep(SLEEP);
                flag.store(true, Ordering::Relaxed);
                drop(wg);
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
    })?;
    Ok(format!("ms={}", ms_of(d)))
}

// ---------------------------------------------------------------- W13 rwmutex

fn w13(o: &Opts) -> Res {
    let n = o.size(4_000_000);
    let d = with_warmup(n, |n| {
        const TASKS: usize = 8;
        let lo = split(n, TASKS);
        let mu: &'static may::sync::RwLock<u64> = Box::leak(Box::new(may::sync::RwLock::new(0)));
        let reads: &'static AtomicUsize = Box::leak(Box::new(AtomicUsize::new(0)));
        let sink: &'static AtomicUsize = Box::leak(Box::new(AtomicUsize::new(0)));
        let want_writes: usize = (0..TASKS).map(|k| (lo[k + 1] - lo[k]).div_ceil(10)).sum();
        let t0 = Instant::now();
        let hs: Vec<_> = (0..TASKS)
            .map(|k| {
                let m = lo[k + 1] - lo[k];
                go!(move || {
                    let (mut seen, mut r) = (0u64, 0usize);
                    for i in 0..m {
                        if i % 10 == 0 {
                            *mu.write().unwrap() += 1;
                        } else {
                            seen = seen.wrapping_add(*mu.read().unwrap());
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
        let (writes, got_reads) = (*mu.read().unwrap() as usize, reads.load(Ordering::Relaxed));
        if writes != want_writes || got_reads + want_writes != n {
            return Err(format!(
                "counter {writes} (want {want_writes}), reads {got_reads} (want {})",
                n - want_writes
            ));
        }
        Ok(d)
    })?;
    Ok(format!("ns_per_op={}", ns_per(d, n)))
}

// ---------------------------------------------------------------- N1 echo

/// N1 as Go's `n1Echo`: a coroutine-per-connection echo server over `may::net`, N1_CLIENTS
/// client coroutines, TCP_NODELAY on both ends, the round trips timed behind a start gate.
fn n1(o: &Opts) -> Res {
    let n = o.size(N1_ROUNDS);
    let d = with_warmup(n, n1_pass)?;
    Ok(format!("ns_per_op={}", ns_per(d, N1_CLIENTS * n)))
}

fn n1_pass(n: usize) -> Result<Duration, String> {
    use may::net::{TcpListener, TcpStream};
    let ln = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("listen: {e}"))?;
    let addr = ln.local_addr().map_err(|e| format!("local_addr: {e}"))?;
    let errs = FirstErr::leak();
    // ready: every client connected, and the accept loop has accepted them all (one clone
    // each, done when dropped).
    let ready = WaitGroup::new();
    let done = WaitGroup::new();
    let handlers = WaitGroup::new();
    let (start_tx, start_rx) = mpmc::channel::<()>();
    {
        let (ready, handlers) = (ready.clone(), handlers.clone());
        go!(move || {
            // Accept loop: exactly N1_CLIENTS connections, a coroutine each.
            for _ in 0..N1_CLIENTS {
                let conn = match ln.accept() {
                    Ok((c, _)) => c,
                    Err(e) => {
                        errs.set(format!("accept: {e}"));
                        break;
                    }
                };
                if let Err(e) = conn.set_nodelay(true) {
                    errs.set(format!("server set_nodelay: {e}"));
                }
                let handler = handlers.clone();
                go!(move || {
                    crate::n1_echo(conn, errs);
                    drop(handler);
                });
            }
            drop(ln);
            drop(ready);
        });
    }
    for id in 0..N1_CLIENTS {
        let (start, ready, done) = (start_rx.clone(), ready.clone(), done.clone());
        go!(move || {
            let conn = TcpStream::connect(addr).and_then(|c| c.set_nodelay(true).map(|()| c));
            drop(ready);
            let _ = start.recv(); // Err: the gate is open (sender dropped)
            match conn {
                Ok(c) => {
                    if let Err(e) = crate::n1_client(c, id, n) {
                        errs.set(e);
                    }
                }
                Err(e) => errs.set(format!("client {id} connect: {e}")),
            }
            drop(done);
        });
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

// ---------------------------------------------------------------- N2 http

/// N2's server (`-serve-http ADDR`): may_minihttp on may's workers (`-procs 1`: one),
/// serving until killed.
pub fn serve_http(addr: &str) -> Result<(), String> {
    use may_minihttp::{HttpServer, HttpService, Request, Response};
    use std::io::Write;

    #[derive(Clone)]
    struct Hello;

    impl HttpService for Hello {
        fn call(&mut self, _req: Request, rsp: &mut Response) -> std::io::Result<()> {
            rsp.body(N2_BODY);
            Ok(())
        }
    }

    // `start` has bound the listener when it returns.
    let server = HttpServer(Hello)
        .start(addr)
        .map_err(|e| format!("listen {addr}: {e}"))?;
    println!("listening on {addr}");
    std::io::stdout().flush().ok();
    server
        .join()
        .map_err(|_| "server coroutine panicked".to_string())
}

// ---------------------------------------------------------------- N3 idle

/// N3 as Go's `n3Idle`: an accept loop coroutine on a `may::net` listener, a coroutine per
/// connection blocked in `read(&mut [0u8; 64])` until the client closes
/// ([`netload::n3_run`] measures, from the main thread).
fn n3(o: &Opts) -> Res {
    use std::io::Read;
    netload::n3_run(o, |st| {
        let ln = may::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("listen: {e}"))?;
        let addr = ln.local_addr().map_err(|e| format!("local_addr: {e}"))?;
        go!(move || {
            for i in 0..st.n {
                match ln.accept() {
                    Ok((mut conn, _)) => {
                        go!(move || {
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
