//! goro's test toolkit, shared by every crate's tests (a dev-dependency, not published):
//!
//! * [`watchdog`]: no test may hang; one that overruns prints a goroutine dump (with call
//!   stacks) and fails the process;
//! * [`spawn_watched`] / [`thread_watched`] / [`Watched::current`] and
//!   [`Watched::wait_parked`]: wait until the goroutine (or thread) a test started, or the
//!   test's own thread, has actually blocked (with a deadline or without), instead of sleeping and
//!   hoping: on a slow or loaded machine a sleep that is too short silently tests something
//!   else (the operation had not blocked yet). Per goroutine, not a count: tests run in
//!   parallel in one process;
//! * [`wait_until`], [`rss_bytes`].
//!
//! ```
//! use runtime::WaitReason;
//! use std::sync::atomic::{AtomicBool, Ordering};
//! use std::sync::Arc;
//! test_support::watchdog(30, || {
//!     let go = Arc::new(AtomicBool::new(false));
//!     let g2 = go.clone();
//!     let (h, watched) = test_support::spawn_watched(move || {
//!         while !g2.load(Ordering::SeqCst) {
//!             runtime::sleep(std::time::Duration::from_millis(1));
//!         }
//!     });
//!     watched.wait_parked(WaitReason::Sleep); // it has parked, not merely started
//!     go.store(true, Ordering::SeqCst);
//!     h.join().unwrap();
//! });
//! ```

use runtime::{WaitReason, Waiter};
use std::sync::mpsc;
use std::time::Duration;

/// Runs `f`; if it has not finished after `secs` seconds, prints a goroutine dump and exits
/// the test process with a failure, instead of hanging CI.
pub fn watchdog<T>(secs: u64, f: impl FnOnce() -> T) -> T {
    let (tx, rx) = mpsc::channel::<()>();
    let name = std::thread::current()
        .name()
        .unwrap_or("<unnamed test>")
        .to_string();
    std::thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(Duration::from_secs(secs)) {
            // Straight to the process's stderr: `eprintln!` from this thread would go into
            // the test's captured output, which exit() throws away.
            use std::io::Write as _;
            let _ = writeln!(
                std::io::stderr().lock(),
                "\nwatchdog: test `{name}` still running after {secs}s; goroutines:\n{}",
                runtime::stack_dump()
            );
            std::process::exit(101);
        }
    });
    let r = f();
    drop(tx);
    r
}

/// Polls `cond` until it holds; the watchdog bounds how long. On a goroutine it polls with
/// `runtime::sleep`, so the P is free meanwhile for what it waits for.
pub fn wait_until(mut cond: impl FnMut() -> bool) {
    let poll = Duration::from_micros(200);
    let on_goroutine = Waiter::current().is_goroutine();
    while !cond() {
        if on_goroutine {
            runtime::sleep(poll);
        } else {
            std::thread::sleep(poll);
        }
    }
}

/// A goroutine or thread started by [`spawn_watched`] / [`thread_watched`], to wait for it to
/// block.
#[derive(Clone)]
pub struct Watched(Waiter);

impl Watched {
    /// The calling goroutine or thread: another goroutine or thread can then wait until it
    /// has blocked (a test's main thread in a `select!` with a timeout, say).
    pub fn current() -> Watched {
        Watched(Waiter::current())
    }

    /// Waits until it is parked: a goroutine with `reason` (as `stack_dump` would show it), a
    /// plain thread blocked in goro, with a deadline or without (`reason` is not checked:
    /// threads record none). The watchdog bounds how long.
    pub fn wait_parked(&self, reason: WaitReason) {
        wait_until(|| self.is_parked(reason));
    }

    /// Whether it is parked now (see [`Watched::wait_parked`]).
    pub fn is_parked(&self, reason: WaitReason) -> bool {
        runtime::__test::is_parked(&self.0, reason)
    }
}

/// `runtime::spawn`, and a [`Watched`] to wait for the goroutine to block.
pub fn spawn_watched<F, T>(f: F) -> (runtime::JoinHandle<T>, Watched)
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let (tx, rx) = mpsc::channel();
    let h = runtime::spawn(move || {
        tx.send(Waiter::current())
            .expect("spawn_watched: the caller is gone");
        f()
    });
    let w = rx
        .recv()
        .expect("spawn_watched: the goroutine ended before it started");
    (h, Watched(w))
}

/// `std::thread::spawn`, and a [`Watched`] to wait for the thread to block in goro.
pub fn thread_watched<F, T>(f: F) -> (std::thread::JoinHandle<T>, Watched)
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let (tx, rx) = mpsc::channel();
    let h = std::thread::spawn(move || {
        tx.send(Waiter::current())
            .expect("thread_watched: the caller is gone");
        f()
    });
    let w = rx
        .recv()
        .expect("thread_watched: the thread ended before it started");
    (h, Watched(w))
}

/// Resident memory of this process, from /proc/self/statm.
pub fn rss_bytes() -> usize {
    let s = std::fs::read_to_string("/proc/self/statm").unwrap();
    s.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<usize>()
        .unwrap()
        * 4096
}
