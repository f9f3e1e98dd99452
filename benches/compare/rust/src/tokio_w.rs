//! The tokio system: tasks on tokio's multi-thread runtime with `procs` worker threads, each
//! workload shaped as its Go version (same N, warm-up and checks). The workload's main body
//! runs as a spawned task, on a worker, as Go's main goroutine runs on a P.
//!
//! Translations, where tokio has no exact equivalent:
//! - unbuffered channel: `tokio::sync::mpsc::channel(1)` (tokio has no rendezvous channel;
//!   capacity 1 is the nearest), and dropping the last `Sender` is Go's `close`;
//! - several receivers on one channel (W4, W5, W12's squarers): tokio's mpsc has a single
//!   `Receiver`, so the receivers share it behind a `tokio::sync::Mutex`;
//! - `sync.WaitGroup`: [`Countdown`], an atomic counter whose last `done` wakes the waiting
//!   task through a `tokio::sync::Notify` (or join handles where Go waits for a fixed few);
//! - `select`: `tokio::select!` (random branch order, as Go's), a closed channel's branch
//!   disabled by its precondition (Go's `c = nil`);
//! - N1's start gate (Go's `close(start)`): dropping a `tokio::sync::watch::Sender`, which
//!   ends every receiver's `changed().await`; its sockets are `tokio::net`'s.
//! - N2's HTTP server: hyper 1.x's HTTP/1.1 server (`hyper::server::conn::http1` over
//!   hyper-util's `TokioIo`, a `service_fn` answering a `Full` body), a task per connection,
//!   as hyper's guide writes it, in its own process on one worker.
//! - N3: a task per connection blocked in `read(&mut [0u8; 64]).await`.

use crate::goro_w::{check_primes, check_squares};
use crate::netload::{self, N2_BODY, N3_BUF};
use crate::{
    FirstErr, N1_CLIENTS, N1_MSG, N1_ROUNDS, Opts, Res, check_sum, ms_of, n1_check, n1_msg, ns_per,
    rss_bytes, split, sum_range, warm_n,
};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::{Receiver, Sender, channel};
use tokio::sync::{Mutex, Notify, RwLock};
use tokio::task::JoinHandle;

pub fn run(id: &str, o: &Opts) -> Res {
    match id {
        "W1" => main_task(o, w1(o.size(1_000_000))),
        "W2" => main_task(o, w2(o.size(1_000_000))),
        "W3" => main_task(o, w3(o.size(10_000_000))),
        "W4" => main_task(o, w45(o.size(10_000_000), 128)),
        "W5" => main_task(o, w45(o.size(1_000_000), 1)),
        "W6" => main_task(o, w6(o.size(4_000_000))),
        "W7" => main_task(o, w7(o.size(3_000))),
        "W8" => main_task(o, w8(o.size(100_000))),
        "W9" => main_task(o, w9(o.size(4_000_000))),
        "W10" => main_task(o, w10(o.size(1_000_000))),
        "W11" => main_task(o, w11(o.size(100_000))),
        "W12" => main_task(o, w12(o.size(1_000_000))),
        "W13" => main_task(o, w13(o.size(4_000_000))),
        "N1" => main_task(o, n1(o.size(N1_ROUNDS))),
        "N2" => netload::n2_run(o, netload::self_server("tokio")?).map(|w| w.metric()),
        "N3" => n3(o),
        _ => Err(format!("unknown workload {id}")),
    }
}

/// Runs `f` as a task on a fresh multi-thread runtime with `procs` workers; the runtime is
/// then dropped without waiting for tasks left blocked (W7's sieve leaves some, as Go's).
fn main_task<F>(o: &Opts, f: F) -> Res
where
    F: Future<Output = Res> + Send + 'static,
{
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(o.procs)
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    let r = rt
        .block_on(async { tokio::spawn(f).await })
        .map_err(|e| format!("main task: {e}"))?;
    rt.shutdown_background();
    r
}

/// Go's `withWarmup`, for an async body.
async fn with_warmup<F, Fut>(n: usize, mut f: F) -> Result<Duration, String>
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = Result<Duration, String>>,
{
    f(warm_n(n)).await.map_err(|e| format!("warm-up: {e}"))?;
    f(n).await
}

async fn join<T>(h: JoinHandle<T>) -> Result<T, String> {
    h.await.map_err(|e| format!("a task failed: {e}"))
}

/// `sync.WaitGroup` for one waiting task: `n` calls to `done`, the last of which wakes it.
/// Leaked, so tasks hold a plain `&'static` (as Go's closures capture `&wg`).
struct Countdown {
    left: AtomicUsize,
    notify: Notify,
}

impl Countdown {
    fn leak(n: usize) -> &'static Countdown {
        Box::leak(Box::new(Countdown {
            left: AtomicUsize::new(n),
            notify: Notify::new(),
        }))
    }
    fn done(&self) {
        if self.left.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.notify.notify_one(); // stores a permit if the waiter is not waiting yet
        }
    }
    async fn wait(&self) {
        while self.left.load(Ordering::Acquire) != 0 {
            self.notify.notified().await;
        }
    }
}

// ---------------------------------------------------------------- W1 spawn

async fn w1(n: usize) -> Res {
    let d = with_warmup(n, |n| async move {
        let metrics = tokio::runtime::Handle::current().metrics();
        let base = metrics.num_alive_tasks();
        let wg = Countdown::leak(n);
        let t0 = Instant::now();
        for _ in 0..n {
            tokio::spawn(async move { wg.done() });
        }
        wg.wait().await;
        let d = t0.elapsed();
        // Every task has exited (polled outside the timed part, as Go's waitGoroutines).
        let deadline = Instant::now() + Duration::from_secs(10);
        while metrics.num_alive_tasks() > base {
            if Instant::now() > deadline {
                return Err(format!(
                    "{} tasks still alive (baseline {base})",
                    metrics.num_alive_tasks()
                ));
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        Ok(d)
    })
    .await?;
    Ok(format!("ns_per_task={}", ns_per(d, n)))
}

// ---------------------------------------------------------------- W2 pingpong

async fn w2(n: usize) -> Res {
    let d = with_warmup(n, |n| async move {
        let (ping_tx, mut ping_rx) = channel::<u64>(1);
        let (pong_tx, mut pong_rx) = channel::<u64>(1);
        let t0 = Instant::now();
        let echo = tokio::spawn(async move {
            while let Some(v) = ping_rx.recv().await {
                pong_tx.send(v + 1).await.expect("pong");
            }
        });
        let driver = tokio::spawn(async move {
            let mut s = 0u64;
            for i in 0..n {
                ping_tx.send(i as u64).await.expect("ping");
                s += pong_rx.recv().await.expect("pong closed");
            }
            drop(ping_tx); // close(ping)
            s
        });
        join(echo).await?;
        let got = join(driver).await?;
        let d = t0.elapsed();
        let want = sum_range(1, n + 1);
        if got != want {
            return Err(format!("sum of replies {got}, want {want}"));
        }
        Ok(d)
    })
    .await?;
    Ok(format!("ns_per_op={}", ns_per(d, n)))
}

// ---------------------------------------------------------------- W3 spsc

async fn w3(n: usize) -> Res {
    let d = with_warmup(n, |n| async move {
        let (tx, mut rx) = channel::<u64>(128);
        let t0 = Instant::now();
        let sender = tokio::spawn(async move {
            for i in 0..n {
                tx.send(i as u64).await.expect("send");
            }
        });
        let receiver = tokio::spawn(async move {
            let (mut s, mut c) = (0u64, 0u64);
            while let Some(v) = rx.recv().await {
                s += v;
                c += 1;
            }
            (s, c)
        });
        join(sender).await?;
        let (sum, cnt) = join(receiver).await?;
        let d = t0.elapsed();
        check_sum(cnt, sum, n)?;
        Ok(d)
    })
    .await?;
    Ok(format!("ns_per_msg={}", ns_per(d, n)))
}

// ---------------------------------------------------------------- W4 / W5 mpmc

/// 4 senders, 4 receivers sharing the channel's one `Receiver` behind a tokio Mutex.
async fn mpmc(n: usize, cap: usize) -> Result<Duration, String> {
    const SENDERS: usize = 4;
    const RECEIVERS: usize = 4;
    let (tx, rx) = channel::<u64>(cap);
    let rx = Arc::new(Mutex::new(rx));
    let lo = split(n, SENDERS);
    let t0 = Instant::now();
    let receivers: Vec<_> = (0..RECEIVERS)
        .map(|_| {
            let rx = rx.clone();
            tokio::spawn(async move {
                let (mut s, mut c) = (0u64, 0u64);
                loop {
                    let v = rx.lock().await.recv().await;
                    match v {
                        Some(v) => {
                            s += v;
                            c += 1;
                        }
                        None => break,
                    }
                }
                (s, c)
            })
        })
        .collect();
    let senders: Vec<_> = (0..SENDERS)
        .map(|k| {
            let tx = tx.clone();
            let (a, b) = (lo[k], lo[k + 1]);
            tokio::spawn(async move {
                for i in a..b {
                    tx.send(i as u64).await.expect("send");
                }
            })
        })
        .collect();
    for h in senders {
        join(h).await?;
    }
    drop(tx); // close(ch)
    let (mut sum, mut cnt) = (0u64, 0u64);
    for h in receivers {
        let (s, c) = join(h).await?;
        sum += s;
        cnt += c;
    }
    let d = t0.elapsed();
    check_sum(cnt, sum, n)?;
    Ok(d)
}

async fn w45(n: usize, cap: usize) -> Res {
    let d = with_warmup(n, |n| mpmc(n, cap)).await?;
    Ok(format!("ns_per_msg={}", ns_per(d, n)))
}

// ---------------------------------------------------------------- W6 select

async fn w6(n: usize) -> Res {
    let d = with_warmup(n, |n| async move {
        const SENDERS: usize = 4;
        let lo = split(n, SENDERS);
        let (txs, mut rxs): (Vec<Sender<u64>>, Vec<Receiver<u64>>) =
            (0..SENDERS).map(|_| channel::<u64>(128)).unzip();
        let t0 = Instant::now();
        for (k, tx) in txs.into_iter().enumerate() {
            let (a, b) = (lo[k], lo[k + 1]);
            tokio::spawn(async move {
                for i in a..b {
                    tx.send(i as u64).await.expect("send");
                }
            });
        }
        let receiver = tokio::spawn(async move {
            let (mut r3, mut r2, mut r1, mut r0) = (
                rxs.pop().unwrap(),
                rxs.pop().unwrap(),
                rxs.pop().unwrap(),
                rxs.pop().unwrap(),
            );
            let mut open = [true; SENDERS];
            let (mut s, mut c) = (0u64, 0u64);
            while open.iter().any(|&o| o) {
                let (k, v) = tokio::select! {
                    v = r0.recv(), if open[0] => (0, v),
                    v = r1.recv(), if open[1] => (1, v),
                    v = r2.recv(), if open[2] => (2, v),
                    v = r3.recv(), if open[3] => (3, v),
                };
                match v {
                    Some(v) => {
                        s += v;
                        c += 1;
                    }
                    None => open[k] = false,
                }
            }
            (s, c)
        });
        let (sum, cnt) = join(receiver).await?;
        let d = t0.elapsed();
        check_sum(cnt, sum, n)?;
        Ok(d)
    })
    .await?;
    Ok(format!("ns_per_msg={}", ns_per(d, n)))
}

// ---------------------------------------------------------------- W7 sieve

/// W7: Go's concurrent prime sieve. When main drops the last channel, the chain's tasks
/// exit one after another (Go's stay blocked); the measured part is the same.
async fn w7(n: usize) -> Res {
    let d = with_warmup(n, |n| async move {
        let mut primes = vec![0u64; n];
        let t0 = Instant::now();
        let (tx, mut ch) = channel::<u64>(1);
        tokio::spawn(async move {
            let mut i = 2u64;
            while tx.send(i).await.is_ok() {
                i += 1;
            }
        });
        for p in primes.iter_mut() {
            let prime = ch.recv().await.ok_or("sieve channel closed")?;
            *p = prime;
            let (out, ch1) = channel::<u64>(1);
            let mut input = ch;
            tokio::spawn(async move {
                while let Some(i) = input.recv().await {
                    if i % prime != 0 && out.send(i).await.is_err() {
                        return;
                    }
                }
            });
            ch = ch1;
        }
        let d = t0.elapsed();
        check_primes(&primes)?;
        Ok(d)
    })
    .await?;
    Ok(format!("ms={}", ms_of(d)))
}

// ---------------------------------------------------------------- W8 daisy

async fn w8(n: usize) -> Res {
    let d = with_warmup(n, |n| async move {
        let t0 = Instant::now();
        let (mut left, mut leftmost) = channel::<u64>(1);
        for _ in 0..n {
            let (right, mut r) = channel::<u64>(1);
            let l = left;
            tokio::spawn(async move {
                let v = r.recv().await.expect("daisy channel closed");
                l.send(1 + v).await.expect("daisy channel closed");
            });
            left = right;
        }
        tokio::spawn(async move { left.send(1).await.expect("daisy channel closed") });
        let got = leftmost.recv().await.ok_or("daisy channel closed")?;
        let d = t0.elapsed();
        if got != n as u64 + 1 {
            return Err(format!("daisy chain returned {got}, want {}", n + 1));
        }
        Ok(d)
    })
    .await?;
    Ok(format!("ms={}", ms_of(d)))
}

// ---------------------------------------------------------------- W9 mutex

async fn w9(n: usize) -> Res {
    let d = with_warmup(n, |n| async move {
        const TASKS: usize = 8;
        let lo = split(n, TASKS);
        let mu: &'static Mutex<usize> = Box::leak(Box::new(Mutex::new(0)));
        let t0 = Instant::now();
        let hs: Vec<_> = (0..TASKS)
            .map(|k| {
                let m = lo[k + 1] - lo[k];
                tokio::spawn(async move {
                    for _ in 0..m {
                        *mu.lock().await += 1;
                    }
                })
            })
            .collect();
        for h in hs {
            join(h).await?;
        }
        let d = t0.elapsed();
        let got = *mu.lock().await;
        if got != n {
            return Err(format!("counter {got}, want {n}"));
        }
        Ok(d)
    })
    .await?;
    Ok(format!("ns_per_op={}", ns_per(d, n)))
}

// ---------------------------------------------------------------- W10 parked

/// W10: n tasks each blocked receiving on its own channel; RSS growth per task. No warm-up.
async fn w10(n: usize) -> Res {
    let rss0 = rss_bytes();
    let mut chans: Vec<Sender<()>> = Vec::with_capacity(n);
    let parked = Countdown::leak(n);
    let exited = Countdown::leak(n);
    let released: &'static AtomicUsize = Box::leak(Box::new(AtomicUsize::new(0)));
    let t0 = Instant::now();
    for _ in 0..n {
        let (tx, mut rx) = channel::<()>(1);
        chans.push(tx);
        tokio::spawn(async move {
            parked.done(); // right before blocking
            rx.recv().await;
            released.fetch_add(1, Ordering::Relaxed);
            exited.done();
        });
    }
    parked.wait().await;
    let spawn = t0.elapsed();
    tokio::task::yield_now().await; // let the last few reach the receive they announced
    let rss1 = rss_bytes();
    let got = released.load(Ordering::Relaxed);
    if got != 0 {
        return Err(format!("{got} tasks got past their receive before release"));
    }
    for ch in &chans {
        ch.send(()).await.map_err(|_| "receiver gone")?;
    }
    exited.wait().await;
    let got = released.load(Ordering::Relaxed);
    if got != n {
        return Err(format!("released {got} tasks, want {n}"));
    }
    let per = (rss1 - rss0) as f64 / n as f64;
    Ok(format!("bytes_per_task={per:.0} spawn_ms={}", ms_of(spawn)))
}

// ---------------------------------------------------------------- W11 timers

async fn w11(n: usize) -> Res {
    const SLEEP: Duration = Duration::from_millis(10);
    let d = with_warmup(n, |n| async move {
        let done: &'static [AtomicBool] =
            Box::leak((0..n).map(|_| AtomicBool::new(false)).collect());
        let wg = Countdown::leak(n);
        let t0 = Instant::now();
        for flag in done {
            tokio::spawn(async move {
                tokio::time::sleep(SLEEP).await;
                flag.store(true, Ordering::Relaxed);
                wg.done();
            });
        }
        wg.wait().await;
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
    .await?;
    Ok(format!("ms={}", ms_of(d)))
}

// ---------------------------------------------------------------- W12 pipeline

fn pipe_gen(n: usize) -> Receiver<u64> {
    let (tx, rx) = channel::<u64>(1);
    tokio::spawn(async move {
        for i in 1..=n as u64 {
            tx.send(i).await.expect("gen");
        }
    });
    rx
}

/// A squarer; the 8 share the generator's one Receiver behind a Mutex.
fn pipe_sq(input: Arc<Mutex<Receiver<u64>>>) -> Receiver<u64> {
    let (tx, rx) = channel::<u64>(1);
    tokio::spawn(async move {
        loop {
            let v = input.lock().await.recv().await;
            let Some(v) = v else { break };
            tx.send(v * v).await.expect("sq");
        }
    });
    rx
}

/// Fan-in: one forwarding task per input; `out` closes when the last forwarder drops its
/// Sender (Go's `wg.Wait(); close(out)`).
fn pipe_merge(cs: Vec<Receiver<u64>>) -> Receiver<u64> {
    let (tx, rx) = channel::<u64>(1);
    for mut c in cs {
        let out = tx.clone();
        tokio::spawn(async move {
            while let Some(v) = c.recv().await {
                out.send(v).await.expect("merge");
            }
        });
    }
    rx
}

async fn w12(n: usize) -> Res {
    let d = with_warmup(n, |n| async move {
        const WORKERS: usize = 8;
        let t0 = Instant::now();
        let input = Arc::new(Mutex::new(pipe_gen(n)));
        let outs: Vec<_> = (0..WORKERS).map(|_| pipe_sq(input.clone())).collect();
        drop(input);
        let (mut sum, mut cnt) = (0u64, 0u64);
        let mut merged = pipe_merge(outs);
        while let Some(v) = merged.recv().await {
            sum += v;
            cnt += 1;
        }
        let d = t0.elapsed();
        check_squares(cnt, sum, n)?;
        Ok(d)
    })
    .await?;
    Ok(format!("ns_per_item={}", ns_per(d, n)))
}

// ---------------------------------------------------------------- W13 rwmutex

async fn w13(n: usize) -> Res {
    let d = with_warmup(n, |n| async move {
        const TASKS: usize = 8;
        let lo = split(n, TASKS);
        let mu: &'static RwLock<u64> = Box::leak(Box::new(RwLock::new(0)));
        let reads: &'static AtomicUsize = Box::leak(Box::new(AtomicUsize::new(0)));
        let sink: &'static AtomicUsize = Box::leak(Box::new(AtomicUsize::new(0)));
        let want_writes: usize = (0..TASKS).map(|k| (lo[k + 1] - lo[k]).div_ceil(10)).sum();
        let t0 = Instant::now();
        let hs: Vec<_> = (0..TASKS)
            .map(|k| {
                let m = lo[k + 1] - lo[k];
                tokio::spawn(async move {
                    let (mut seen, mut r) = (0u64, 0usize);
                    for i in 0..m {
                        if i % 10 == 0 {
                            *mu.write().await += 1;
                        } else {
                            seen = seen.wrapping_add(*mu.read().await);
                            r += 1;
                        }
                    }
                    reads.fetch_add(r, Ordering::Relaxed);
                    sink.fetch_add(seen as usize, Ordering::Relaxed);
                })
            })
            .collect();
        for h in hs {
            join(h).await?;
        }
        let d = t0.elapsed();
        let (writes, got_reads) = (*mu.read().await as usize, reads.load(Ordering::Relaxed));
        if writes != want_writes || got_reads + want_writes != n {
            return Err(format!(
                "counter {writes} (want {want_writes}), reads {got_reads} (want {})",
                n - want_writes
            ));
        }
        Ok(d)
    })
    .await?;
    Ok(format!("ns_per_op={}", ns_per(d, n)))
}

// ---------------------------------------------------------------- N1 echo

/// N1 as Go's `n1Echo`: a task-per-connection echo server over `tokio::net`, N1_CLIENTS client
/// tasks, TCP_NODELAY on both ends, the round trips timed behind a start gate.
async fn n1(n: usize) -> Res {
    let d = with_warmup(n, n1_pass).await?;
    Ok(format!("ns_per_op={}", ns_per(d, N1_CLIENTS * n)))
}

async fn n1_pass(n: usize) -> Result<Duration, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};
    let ln = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("listen: {e}"))?;
    let addr = ln.local_addr().map_err(|e| format!("local_addr: {e}"))?;
    let errs = FirstErr::leak();
    // ready: every client connected, and the accept loop has accepted them all.
    let ready = Countdown::leak(N1_CLIENTS + 1);
    let done = Countdown::leak(N1_CLIENTS);
    let handlers = Countdown::leak(N1_CLIENTS);
    let (start_tx, start_rx) = tokio::sync::watch::channel(());
    tokio::spawn(async move {
        // Accept loop: exactly N1_CLIENTS connections, a task each.
        for i in 0..N1_CLIENTS {
            let mut conn = match ln.accept().await {
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
            tokio::spawn(async move {
                // Echo handler: read, write back all that was read, until EOF.
                let mut buf = [0u8; N1_MSG];
                loop {
                    match conn.read(&mut buf).await {
                        Ok(0) => break,
                        Ok(k) => {
                            if let Err(e) = conn.write_all(&buf[..k]).await {
                                errs.set(format!("server write: {e}"));
                                break;
                            }
                        }
                        Err(e) => {
                            errs.set(format!("server read: {e}"));
                            break;
                        }
                    }
                }
                drop(conn);
                handlers.done();
            });
        }
        drop(ln);
        ready.done();
    });
    for id in 0..N1_CLIENTS {
        let mut start = start_rx.clone();
        tokio::spawn(async move {
            let conn = match TcpStream::connect(addr).await {
                Ok(c) => c.set_nodelay(true).map(|()| c),
                Err(e) => Err(e),
            };
            ready.done();
            let _ = start.changed().await; // Err: the gate is open (sender dropped)
            match conn {
                Ok(c) => {
                    if let Err(e) = n1_client(c, id, n).await {
                        errs.set(e);
                    }
                }
                Err(e) => errs.set(format!("client {id} connect: {e}")),
            }
            done.done();
        });
    }
    drop(start_rx);
    ready.wait().await;
    let t0 = Instant::now();
    drop(start_tx);
    done.wait().await;
    let d = t0.elapsed();
    handlers.wait().await;
    errs.get()?;
    Ok(d)
}

/// One N1 client's n round trips; the connection is closed on return.
async fn n1_client(mut c: tokio::net::TcpStream, id: usize, n: usize) -> Result<(), String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (mut msg, mut got) = ([0u8; N1_MSG], [0u8; N1_MSG]);
    for r in 0..n {
        n1_msg(&mut msg, id, r);
        c.write_all(&msg)
            .await
            .map_err(|e| format!("client {id} round {r} write: {e}"))?;
        c.read_exact(&mut got)
            .await
            .map_err(|e| format!("client {id} round {r} read: {e}"))?;
        n1_check(&got, &msg, id, r)?;
    }
    Ok(())
}

// ---------------------------------------------------------------- N2 http

/// N2's server (`-serve-http ADDR`): hyper's HTTP/1.1 server on a tokio runtime with
/// `o.procs` workers (1 for N2), a task per connection; serves until killed.
pub fn serve_http(addr: &str, o: &Opts) -> Result<(), String> {
    use hyper::server::conn::http1;
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;
    use std::io::Write;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(o.procs)
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    let addr = addr.to_string();
    let server = async move {
        let ln = tokio::net::TcpListener::bind(&addr)
            .await
            .map_err(|e| format!("listen {addr}: {e}"))?;
        let local = ln.local_addr().map_err(|e| format!("local_addr: {e}"))?;
        println!("listening on {local}");
        std::io::stdout().flush().ok();
        loop {
            let (stream, _) = ln.accept().await.map_err(|e| format!("accept: {e}"))?;
            tokio::spawn(async move {
                if let Err(e) = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service_fn(hello))
                    .await
                {
                    eprintln!("tokio http server: connection: {e}");
                }
            });
        }
    };
    rt.block_on(async { tokio::spawn(server).await })
        .map_err(|e| format!("server task: {e}"))?
}

/// The handler: `Hello, World!` for every request.
async fn hello(
    _: hyper::Request<hyper::body::Incoming>,
) -> Result<hyper::Response<http_body_util::Full<hyper::body::Bytes>>, std::convert::Infallible> {
    Ok(hyper::Response::new(http_body_util::Full::new(
        hyper::body::Bytes::from_static(N2_BODY.as_bytes()),
    )))
}

// ---------------------------------------------------------------- N3 idle

/// N3 as Go's `n3Idle`: an accept loop task on a `tokio::net` listener, a task per
/// connection blocked in `read(&mut [0u8; 64]).await` until the client closes, on a runtime
/// with `o.procs` workers ([`netload::n3_run`] measures, from this plain thread).
fn n3(o: &Opts) -> Res {
    use tokio::io::AsyncReadExt;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(o.procs)
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    let r = netload::n3_run(o, |st| {
        let ln = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .map_err(|e| format!("listen: {e}"))?;
        let addr = ln.local_addr().map_err(|e| format!("local_addr: {e}"))?;
        rt.spawn(async move {
            for i in 0..st.n {
                match ln.accept().await {
                    Ok((mut conn, _)) => {
                        tokio::spawn(async move {
                            st.start(); // right before blocking
                            let mut buf = [0u8; N3_BUF];
                            st.read_returned(conn.read(&mut buf).await);
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
    });
    rt.shutdown_background();
    r
}
