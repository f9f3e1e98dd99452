//! The channel workloads of the two "channel crate + std threads" systems (crossbeam, flume),
//! generic over the crate ([`Kit`]): one OS thread per Go goroutine, `bounded(0)` for an
//! unbuffered channel, dropping the last Sender for Go's `close`. Each is shaped as its Go
//! version in benches/compare/go/workloads.go.
//!
//! Workloads that need more live threads than this machine allows (W8's 100k, W10's 1M:
//! kernel.pid_max, threads-max and vm.max_map_count cap a process near 32k threads, and
//! pid_max is shared by the whole machine) are not attempted: they print `fails: ...`
//! with the limit, which is the result.

use crate::goro_w::{check_primes, check_squares};
use crate::{Opts, Res, check_sum, ms_of, ns_per, rss_bytes, split, sum_range, with_warmup};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// A channel crate and how its tasks start: bounded MPMC channels whose ends are cloneable
/// and close on drop; `go` starts a task (an OS thread, or a may coroutine).
pub trait Kit {
    /// Tasks are OS threads (so the machine's thread limit applies).
    const THREADS: bool;
    type Join<T: Send + 'static>;
    /// Starts `f` as a task; `Err("fails: ...")` if it cannot start.
    fn go<T: Send + 'static>(
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<Self::Join<T>, String>;
    /// Waits for a task's result.
    fn join<T: Send + 'static>(h: Self::Join<T>) -> Result<T, String>;
    type Tx<T: Send + 'static>: Clone + Send + 'static;
    type Rx<T: Send + 'static>: Clone + Send + 'static;
    fn bounded<T: Send + 'static>(cap: usize) -> (Self::Tx<T>, Self::Rx<T>);
    /// `Err` once every receiver is gone.
    fn send<T: Send + 'static>(tx: &Self::Tx<T>, v: T) -> Result<(), ()>;
    /// `None` once the channel is empty and every sender gone.
    fn recv<T: Send + 'static>(rx: &Self::Rx<T>) -> Option<T>;
}

/// A [`Kit`] of OS threads over a channel crate whose API has crossbeam-channel's shape
/// (`bounded(cap) -> (Sender, Receiver)`, `send`/`recv` returning `Result`): crossbeam-channel
/// and flume.
macro_rules! thread_channel_kit {
    ($kit:ident, $krate:ident) => {
        impl $crate::threads_w::Kit for $kit {
            const THREADS: bool = true;
            type Join<T: Send + 'static> = std::thread::JoinHandle<T>;
            fn go<T: Send + 'static>(
                f: impl FnOnce() -> T + Send + 'static,
            ) -> Result<Self::Join<T>, String> {
                $crate::threads_w::spawn(f)
            }
            fn join<T: Send + 'static>(h: Self::Join<T>) -> Result<T, String> {
                $crate::threads_w::join(h)
            }
            type Tx<T: Send + 'static> = $krate::Sender<T>;
            type Rx<T: Send + 'static> = $krate::Receiver<T>;
            fn bounded<T: Send + 'static>(cap: usize) -> (Self::Tx<T>, Self::Rx<T>) {
                $krate::bounded(cap)
            }
            fn send<T: Send + 'static>(tx: &Self::Tx<T>, v: T) -> Result<(), ()> {
                tx.send(v).map_err(|_| ())
            }
            fn recv<T: Send + 'static>(rx: &Self::Rx<T>) -> Option<T> {
                rx.recv().ok()
            }
        }
    };
}
pub(crate) use thread_channel_kit;

pub fn join<T>(h: thread::JoinHandle<T>) -> Result<T, String> {
    h.join().map_err(|_| "a thread panicked".to_string())
}

/// The machine's thread limit applies to `live` tasks of `K` at once (see [`check_threads`]).
fn check_live<K: Kit>(live: usize) -> Result<(), String> {
    if K::THREADS {
        check_threads(live)
    } else {
        Ok(())
    }
}

/// Spawns a thread, or says why it could not (the machine's thread limit).
pub fn spawn<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<thread::JoinHandle<T>, String> {
    thread::Builder::new()
        .spawn(f)
        .map_err(|e| format!("fails: thread spawn: {e}"))
}

fn read_num(path: &str) -> Option<usize> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// How many threads one process may have at once here: the least of kernel.pid_max (shared
/// by every process on the machine), kernel.threads-max, vm.max_map_count / 2 (a stack and
/// its guard page per thread) and RLIMIT_NPROC; with the sysctls named, for the message.
pub fn thread_limit() -> (usize, String) {
    let pid_max = read_num("/proc/sys/kernel/pid_max").unwrap_or(usize::MAX);
    let threads_max = read_num("/proc/sys/kernel/threads-max").unwrap_or(usize::MAX);
    let maps = read_num("/proc/sys/vm/max_map_count").unwrap_or(usize::MAX);
    let nproc = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Max processes"))
                .and_then(|l| l.split_whitespace().nth(2)?.parse().ok())
        })
        .unwrap_or(usize::MAX);
    let lim = pid_max.min(threads_max).min(maps / 2).min(nproc);
    (
        lim,
        format!(
            "kernel.pid_max={pid_max} threads-max={threads_max} vm.max_map_count={maps} \
             ulimit-u={nproc}"
        ),
    )
}

/// `Err("fails: ...")` when `live` threads at once would not fit (with half the limit as
/// margin: pid_max is the whole machine's, and running it out breaks every other process).
pub fn check_threads(live: usize) -> Result<(), String> {
    let (lim, what) = thread_limit();
    if live > lim / 2 {
        return Err(format!(
            "fails: needs {live} live OS threads; this machine allows about {lim} ({what})"
        ));
    }
    Ok(())
}

/// A result that says "fails: ..." is printed as the workload's result, not as a failed
/// check.
pub fn fails_ok(r: Res) -> Res {
    match r {
        Err(e) if e.starts_with("fails:") => Ok(e),
        Err(e) if e.starts_with("warm-up: fails:") => Ok(e["warm-up: ".len()..].to_string()),
        r => r,
    }
}

/// `sync.WaitGroup` for threads.
pub struct Countdown {
    left: Mutex<usize>,
    cv: Condvar,
}

impl Countdown {
    pub fn leak(n: usize) -> &'static Countdown {
        Box::leak(Box::new(Countdown {
            left: Mutex::new(n),
            cv: Condvar::new(),
        }))
    }
    pub fn done(&self) {
        let mut l = self.left.lock().unwrap();
        *l -= 1;
        if *l == 0 {
            self.cv.notify_all();
        }
    }
    pub fn wait(&self) {
        let mut l = self.left.lock().unwrap();
        while *l != 0 {
            l = self.cv.wait(l).unwrap();
        }
    }
    /// Waits up to `d`; whether the count reached 0.
    pub fn wait_for(&self, d: std::time::Duration) -> bool {
        let l = self.left.lock().unwrap();
        let (l, _) = self.cv.wait_timeout_while(l, d, |l| *l != 0).unwrap();
        *l == 0
    }
    /// What is left.
    pub fn left(&self) -> usize {
        *self.left.lock().unwrap()
    }
}

/// The number of threads in this process (/proc/self/status).
pub fn num_threads() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Threads:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

// ---------------------------------------------------------------- W2 pingpong

/// W2: a round trip wakes a parked thread twice (about 55 us on these VMs), so the full
/// million would take a minute: this runs 1/50 of it (ns per round trip is unaffected).
pub fn w2<K: Kit>(o: &Opts) -> Res {
    let n = (o.size(1_000_000) / 50).max(1);
    let d = with_warmup(n, |n| {
        let (ping_tx, ping_rx) = K::bounded::<u64>(0);
        let (pong_tx, pong_rx) = K::bounded::<u64>(0);
        let t0 = Instant::now();
        let echo = K::go(move || {
            while let Some(v) = K::recv(&ping_rx) {
                K::send(&pong_tx, v + 1).expect("pong");
            }
        })?;
        let driver = K::go(move || {
            let mut s = 0u64;
            for i in 0..n {
                K::send(&ping_tx, i as u64).expect("ping");
                s += K::recv(&pong_rx).expect("pong closed");
            }
            drop(ping_tx); // close(ping)
            s
        })?;
        K::join(echo)?;
        let got = K::join(driver)?;
        let d = t0.elapsed();
        let want = sum_range(1, n + 1);
        if got != want {
            return Err(format!("sum of replies {got}, want {want}"));
        }
        Ok(d)
    })?;
    Ok(format!("ns_per_op={}", ns_per(d, n)))
}

// ---------------------------------------------------------------- W3 spsc

pub fn w3<K: Kit>(o: &Opts) -> Res {
    let n = o.size(10_000_000);
    let d = with_warmup(n, |n| {
        let (tx, rx) = K::bounded::<u64>(128);
        let t0 = Instant::now();
        let sender = K::go(move || {
            for i in 0..n {
                K::send(&tx, i as u64).expect("send");
            }
        })?;
        let receiver = K::go(move || {
            let (mut s, mut c) = (0u64, 0u64);
            while let Some(v) = K::recv(&rx) {
                s += v;
                c += 1;
            }
            (s, c)
        })?;
        K::join(sender)?;
        let (sum, cnt) = K::join(receiver)?;
        let d = t0.elapsed();
        check_sum(cnt, sum, n)?;
        Ok(d)
    })?;
    Ok(format!("ns_per_msg={}", ns_per(d, n)))
}

// ---------------------------------------------------------------- W4 / W5 mpmc

fn mpmc<K: Kit>(n: usize, cap: usize) -> Result<Duration, String> {
    const SENDERS: usize = 4;
    const RECEIVERS: usize = 4;
    let (tx, rx) = K::bounded::<u64>(cap);
    let lo = split(n, SENDERS);
    let t0 = Instant::now();
    let receivers: Vec<_> = (0..RECEIVERS)
        .map(|_| {
            let rx = rx.clone();
            K::go(move || {
                let (mut s, mut c) = (0u64, 0u64);
                while let Some(v) = K::recv(&rx) {
                    s += v;
                    c += 1;
                }
                (s, c)
            })
        })
        .collect::<Result<_, _>>()?;
    drop(rx);
    let senders: Vec<_> = (0..SENDERS)
        .map(|k| {
            let tx = tx.clone();
            let (a, b) = (lo[k], lo[k + 1]);
            K::go(move || {
                for i in a..b {
                    K::send(&tx, i as u64).expect("send");
                }
            })
        })
        .collect::<Result<_, _>>()?;
    for h in senders {
        K::join(h)?;
    }
    drop(tx); // close(ch): the senders' clones are gone with their threads
    let (mut sum, mut cnt) = (0u64, 0u64);
    for h in receivers {
        let (s, c) = K::join(h)?;
        sum += s;
        cnt += c;
    }
    let d = t0.elapsed();
    check_sum(cnt, sum, n)?;
    Ok(d)
}

pub fn w4<K: Kit>(o: &Opts) -> Res {
    let n = o.size(10_000_000);
    let d = with_warmup(n, |n| mpmc::<K>(n, 128))?;
    Ok(format!("ns_per_msg={}", ns_per(d, n)))
}

pub fn w5<K: Kit>(o: &Opts) -> Res {
    let n = o.size(1_000_000);
    let d = with_warmup(n, |n| mpmc::<K>(n, 0))?;
    Ok(format!("ns_per_msg={}", ns_per(d, n)))
}

// ---------------------------------------------------------------- W7 sieve

/// W7: Go's prime sieve, one thread per filter (3,000 live threads at full size). When main
/// drops the last channel the chain's threads exit one after another.
pub fn w7<K: Kit>(o: &Opts) -> Res {
    let n = o.size(3_000);
    check_live::<K>(n + 1).and_then(|_| {
        let d = with_warmup(n, |n| {
            let mut primes = vec![0u64; n];
            let t0 = Instant::now();
            let (tx, mut ch) = K::bounded::<u64>(0);
            K::go(move || {
                let mut i = 2u64;
                while K::send(&tx, i).is_ok() {
                    i += 1;
                }
            })?;
            for p in primes.iter_mut() {
                let prime = K::recv(&ch).ok_or("sieve channel closed")?;
                *p = prime;
                let (out, ch1) = K::bounded::<u64>(0);
                let input = ch;
                K::go(move || {
                    while let Some(i) = K::recv(&input) {
                        if i % prime != 0 && K::send(&out, i).is_err() {
                            return;
                        }
                    }
                })?;
                ch = ch1;
            }
            let d = t0.elapsed();
            check_primes(&primes)?;
            Ok(d)
        })?;
        Ok(format!("ms={}", ms_of(d)))
    })
}

// ---------------------------------------------------------------- W8 daisy

/// W8: the daisy chain, n + 1 threads alive at once.
pub fn w8<K: Kit>(o: &Opts) -> Res {
    let n = o.size(100_000);
    check_live::<K>(n + 1).and_then(|_| {
        let d = with_warmup(n, |n| {
            let t0 = Instant::now();
            let (mut left, leftmost) = K::bounded::<u64>(0);
            for _ in 0..n {
                let (right, r) = K::bounded::<u64>(0);
                let l = left;
                K::go(move || {
                    if let Some(v) = K::recv(&r) {
                        let _ = K::send(&l, 1 + v);
                    }
                })?;
                left = right;
            }
            K::go(move || K::send(&left, 1))?;
            let got = K::recv(&leftmost).ok_or("daisy channel closed")?;
            let d = t0.elapsed();
            if got != n as u64 + 1 {
                return Err(format!("daisy chain returned {got}, want {}", n + 1));
            }
            Ok(d)
        })?;
        Ok(format!("ms={}", ms_of(d)))
    })
}

// ---------------------------------------------------------------- W10 parked

/// W10: n threads each blocked receiving on its own channel. No warm-up.
pub fn w10<K: Kit>(o: &Opts) -> Res {
    let n = o.size(1_000_000);
    check_live::<K>(n)?;
    let rss0 = rss_bytes();
    let mut chans = Vec::with_capacity(n);
    let parked = Countdown::leak(n);
    let exited = Countdown::leak(n);
    let released: &'static AtomicUsize = Box::leak(Box::new(AtomicUsize::new(0)));
    let t0 = Instant::now();
    for _ in 0..n {
        let (tx, rx) = K::bounded::<()>(0);
        chans.push(tx);
        K::go(move || {
            parked.done(); // right before blocking
            K::recv(&rx);
            released.fetch_add(1, Ordering::Relaxed);
            exited.done();
        })?;
    }
    parked.wait();
    let spawn_d = t0.elapsed();

    let rss1 = rss_bytes();
    let got = released.load(Ordering::Relaxed);
    if got != 0 {
        return Err(format!("{got} tasks got past their receive before release"));
    }
    for ch in &chans {
        K::send(ch, ()).map_err(|_| "receiver gone")?;
    }
    exited.wait();
    let got = released.load(Ordering::Relaxed);
    if got != n {
        return Err(format!("released {got} tasks, want {n}"));
    }
    let per = (rss1 - rss0) as f64 / n as f64;
    Ok(format!(
        "bytes_per_task={per:.0} spawn_ms={}",
        ms_of(spawn_d)
    ))
}

// ---------------------------------------------------------------- W12 pipeline

/// W12: generator -> 8 squarers sharing one input (the crates' receivers are MPMC, as Go's
/// channels) -> 8 forwarders into one output -> main sums; 18 threads.
pub fn w12<K: Kit>(o: &Opts) -> Res {
    let n = o.size(1_000_000);
    let d = with_warmup(n, |n| {
        const WORKERS: usize = 8;
        let t0 = Instant::now();
        let (gen_tx, input) = K::bounded::<u64>(0);
        K::go(move || {
            for i in 1..=n as u64 {
                K::send(&gen_tx, i).expect("gen");
            }
        })?;
        let outs: Vec<K::Rx<u64>> = (0..WORKERS)
            .map(|_| {
                let (tx, rx) = K::bounded::<u64>(0);
                let input = input.clone();
                K::go(move || {
                    while let Some(v) = K::recv(&input) {
                        K::send(&tx, v * v).expect("sq");
                    }
                })?;
                Ok(rx)
            })
            .collect::<Result<_, String>>()?;
        drop(input);
        // Fan-in: `out` closes when the last forwarder drops its Sender (Go's wg + close).
        let (out_tx, merged) = K::bounded::<u64>(0);
        for c in outs {
            let out = out_tx.clone();
            K::go(move || {
                while let Some(v) = K::recv(&c) {
                    K::send(&out, v).expect("merge");
                }
            })?;
        }
        drop(out_tx);
        let (mut sum, mut cnt) = (0u64, 0u64);
        while let Some(v) = K::recv(&merged) {
            sum += v;
            cnt += 1;
        }
        let d = t0.elapsed();
        check_squares(cnt, sum, n)?;
        Ok(d)
    })?;
    Ok(format!("ns_per_item={}", ns_per(d, n)))
}
