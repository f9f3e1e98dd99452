//! goro's runtime: goroutines on a GMP scheduler, the way Go's `proc.go` runs them.
//!
//! * **G** — a goroutine: a stackful coroutine ([`spawn`], [`go!`]) with a guarded,
//!   fixed-size stack (256 KiB virtual by default; only touched pages are resident).
//! * **M** — an OS thread. Its native stack is g0, where the scheduler loop runs.
//! * **P** — a processor: the right to run Gs, with a local run queue, `runnext`, free Gs and
//!   timers. [`gomaxprocs`] Ps exist (default: the available parallelism).
//!
//! Blocking primitives (goro's channels and `sync`) are built on one API: [`Waiter::current`],
//! [`park`] / [`park_until`] and [`Waiter::unpark`], which work the same for goroutines
//! (the G parks, its M runs others) and for plain OS threads (a futex).
//!
//! I/O goes through the netpoller (Go's `netpoll`, on epoll): a [`PollFd`] wraps a
//! non-blocking fd, and an operation that would block parks the goroutine until the fd is
//! ready, its deadline passes or it is closed (a plain thread blocks in `poll(2)` instead).
//! goro's `net` crate builds its sockets on it.
//!
//! ```
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! use std::sync::Arc;
//!
//! let hits = Arc::new(AtomicUsize::new(0));
//! let handles: Vec<_> = (0..100)
//!     .map(|_| {
//!         let hits = hits.clone();
//!         runtime::spawn(move || hits.fetch_add(1, Ordering::Relaxed))
//!     })
//!     .collect();
//! for h in handles {
//!     h.join().unwrap();
//! }
//! assert_eq!(hits.load(Ordering::Relaxed), 100);
//! ```
//!
//! # The migration contract
//! A goroutine may resume on a different OS thread after any park point: a channel operation,
//! a goro lock (or a goro `Mutex` unlock in starvation mode, which yields to the waiter it hands
//! the lock to), [`sleep`], [`gosched`], [`JoinHandle::join`]; a spawn ([`go()`], [`spawn`], a
//! [`Scope`]'s), where a spawner yields when sysmon asks it to or when it has outrun the
//! goroutines it started (32 of them waiting and none finished to reuse); and an
//! [`iter::pull`] producer's `yield_`, whose frames travel with the `Pull`. Therefore, across
//! a park point,
//! do **not** hold:
//! * a `thread_local!` borrow (use [`goroutine_local!`] instead);
//! * a value tied to its thread, such as `rand::ThreadRng` or a `!Send` handle;
//! * a `std::sync::Mutex`/`RwLock` guard (use goro's `sync` locks, which park the goroutine);
//! * and do not park inside a `Drop` that runs while a panic unwinds (std's panic count is
//!   per thread).
//!
//! The runtime itself reads its thread-locals (current M, P, G) only through
//! `#[inline(never)]` accessors and never across a switch.
//!
//! Other sharp edges: a goroutine's stack has a fixed size ([`Builder::stack_size`],
//! `GORO_STACK_SIZE`); overflowing it hits a guard page and aborts with a message naming the
//! goroutine. A goroutine is never interrupted: one that runs 10 ms without parking loses its
//! P to another thread (sysmon, see [`syscall`]) and runs on alone until it parks.
//!
//! # Seeing inside
//! [`stack_dump`] (every goroutine's state and spawn site, and the call stack of each parked
//! one), [`num_goroutine`], [`sched_stats`], [`watchdog`], `GORO_DEBUG=schedtrace=N` (Go's
//! `SCHED` line every N ms) and `GORO_DEBUG=dumponexit=1`; a program whose goroutines are all
//! asleep for good panics in [`block_on`] with Go's [`DEADLOCK_MESSAGE`] and the dump.

#![warn(missing_docs)]

/// The runtime's `eprintln!`: writes a diagnostic line to stderr and ignores failure.
/// `eprintln!` panics when stderr cannot be written (`2>/dev/full`, a closed pipe), which on
/// sysmon or an M would kill the thread that detects deadlocks and retakes hogs.
macro_rules! diag {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

/// [`diag!`] without the newline (`eprint!`).
macro_rules! diag_raw {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stderr().lock(), $($arg)*);
    }};
}

mod clock;
mod config;
mod coro;
mod deadlock;
mod debug;
mod directpark;
mod dump;
mod fdmutex;
mod futex;
mod g;
mod g0;
mod kit;
mod local;
mod lockosthread;
mod m;
mod membarrier;
mod netpoll;
mod note;
mod p;
mod park;
mod parkstate;
mod polldesc;
mod pollfd;
mod pollslot;
mod proc;
mod runq;
mod sched;
mod scope;
mod signal;
mod spawn;
mod stack;
mod stacktrim;
mod switch;
mod syncsupport;
mod syscall;
mod sysmon;
mod threadstate;
mod timer;
mod tune;
mod units;
mod unwind;
mod watchdog;

/// The one loom facade (`shim.rs`): atomics, cells, fences and spin steps that are `std`'s,
/// or loom's under `--cfg loom`, for the runtime, chan and sync; not a public API.
#[doc(hidden)]
#[path = "shim.rs"]
pub mod __loom;

/// What `#[goro::main]` and `#[goro::test]` expand to call; not a public API.
#[doc(hidden)]
#[path = "macro_support.rs"]
pub mod __macro_support;

/// Shared building blocks of runtime, chan and sync (cache-line padding, backoff, a fast RNG);
/// not a public API. See `kit.rs`.
#[doc(hidden)]
pub mod __kit {
    pub use crate::kit::*;
}

/// What `sync`'s locks ask of the scheduler (Go's `sync_runtime_canSpin`/`doSpin`,
/// `procPin`) and the asymmetric fence its reader slots pair through; not a public API (it
/// changes with the scheduler).
#[doc(hidden)]
pub mod __sync {
    pub use crate::membarrier::{heavy_barrier, light_barrier};
    pub use crate::syncsupport::{ACTIVE_SPIN, SPIN_ROUND, can_spin, current_proc, do_spin};
}

#[cfg(all(test, loom))]
mod loom_tests;

/// Go's `iter` package: [`pull`](iter::pull) turns a push iterator (a function that yields
/// each value) into a pull iterator, running the producer as a coroutine.
pub mod iter {
    pub use crate::coro::{Pull, pull, pull2};
}

pub use config::{Builder, InitError, stack_size};
pub use deadlock::DEADLOCK_MESSAGE;
pub use debug::{SchedStats, sched_stats};
pub use dump::{num_goroutine, stack_dump};

/// Test support, not stable API: what tests poll to know that what they set up has blocked,
/// instead of sleeping and hoping (on a slow machine a sleep silently tests something else).
/// `goro-test-support`'s `wait_parked` is built on it.
#[doc(hidden)]
pub mod __test {
    /// Whether `w`'s goroutine is parked now with `reason` (and is still the goroutine `w`
    /// was made for), or `w`'s plain thread is blocked in goro, with or without a deadline
    /// (any reason: threads record none).
    pub fn is_parked(w: &crate::Waiter, reason: crate::WaitReason) -> bool {
        w.is_parked(reason)
    }
}
pub use g::{Status, WaitReason};
pub use local::LocalKey;
pub use lockosthread::{is_os_thread_locked, lock_os_thread, unlock_os_thread};
pub use park::{Waiter, deadline_after, park, park_until, sleep};
pub use pollfd::{PollFd, closed_error, is_closed_error, timeout_error};
pub use sched::{MAX_PROCS, gomaxprocs};
pub use scope::{Scope, ScopedJoinHandle, scope};
pub use spawn::{Goexit, JoinHandle, block_on, go, goexit, gosched, spawn};
pub use stack::{DEFAULT_STACK_SIZE, GuardMode, MIN_STACK_SIZE, guard_mode};
pub use syscall::syscall;
pub use timer::{AfterFunc, CallbackTimer, after_func};
pub use watchdog::{Watchdog, watchdog};

/// Starts a goroutine: `go!(move || work())`, or `go!({ work() })` for a block (wrapped in a
/// `move` closure). Go's `go f()` statement; see [`go()`] for panics and the migration
/// contract.
///
/// ```
/// let (tx, rx) = std::sync::mpsc::channel();
/// runtime::go!(move || tx.send(7).unwrap());
/// assert_eq!(rx.recv().unwrap(), 7);
/// ```
///
/// Go's closures capture variables by reference, so `go func() { ... c ... done ... }()`
/// shares `c` and `done` with its caller. The port clones the handles the goroutine needs:
/// name them before `=>` and each is cloned into the goroutine under the same name, while
/// the caller keeps its own: `go!(c, done => { ... })` is
/// `{ let (c, done) = (c.clone(), done.clone()); go!(move || { ... }) }`, and the body may be
/// any expression (`go!(c => worker(c))`).
///
/// ```
/// use std::sync::{Arc, Mutex};
/// let log = Arc::new(Mutex::new(Vec::new()));
/// let (tx, rx) = std::sync::mpsc::channel::<()>();
/// // go func() { log = append(log, "child"); done <- struct{}{} }()
/// runtime::go!(log, tx => {
///     log.lock().unwrap().push("child");
///     tx.send(()).unwrap();
/// });
/// rx.recv().unwrap();
/// log.lock().unwrap().push("parent"); // the caller's `log` is still here
/// assert_eq!(*log.lock().unwrap(), ["child", "parent"]);
/// ```
#[macro_export]
macro_rules! go {
    ($($name:ident),+ => $body:expr) => {{
        $(let $name = ::std::clone::Clone::clone(&$name);)+
        $crate::go(move || $body)
    }};
    ($body:block) => {
        $crate::go(move || $body)
    };
    ($f:expr) => {
        $crate::go($f)
    };
}
