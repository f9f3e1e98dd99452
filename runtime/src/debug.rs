//! `GORO_DEBUG` (Go's `GODEBUG` for the scheduler) and [`sched_stats`].
//!
//! `GORO_DEBUG` is a comma-separated list of `name=value` settings, read once when the
//! runtime starts:
//! * `schedtrace=N`: every N ms, sysmon prints one line to stderr, in Go's format:
//!   `SCHED 1004ms: gomaxprocs=2 idleprocs=0 threads=5 spinningthreads=0 idlethreads=1
//!   runqueue=0 [4 1]` (the bracket lists each P's local run queue length);
//! * `dumponexit=1`: print [`crate::stack_dump`] to stderr when the process exits (a way to see
//!   every goroutine without a signal);
//! * `hogretake=0`: sysmon no longer takes the P of a goroutine that runs 10 ms without a
//!   scheduling point, nor of one whose thread it sees blocked in an unmarked call (for
//!   experiments; blocking calls marked with [`crate::syscall`] are still handed off);
//! * `stacktrim=N`: sysmon trims the stack of a goroutine parked for N ms or more (default
//!   1000; `0` turns trimming off; see [`crate::stacktrim`]).
//! * the tuned numbers of [`crate::tune`], for experiments (`benches/compare/sweep.sh`):
//!   `runnextgrace`, `stealwindow`, `backlog`, `idlespinmin`, `idlespinmax`, `spinpoll`,
//!   `spinround` (all in ns) and `activespin` (rounds).
//!
//! Unknown names are reported once on stderr and ignored.

use crate::sched::{self, SCHED};
use std::fmt::Write;
use std::sync::OnceLock;
use std::sync::atomic::Ordering;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Flags {
    schedtrace_ms: u64,
    dumponexit: bool,
    hogretake: bool,
    stacktrim_ms: u64,
    tune: crate::tune::Tune,
}

impl Default for Flags {
    fn default() -> Flags {
        Flags {
            schedtrace_ms: 0,
            dumponexit: false,
            hogretake: true,
            stacktrim_ms: crate::stacktrim::DEFAULT_AGE_MS,
            tune: crate::tune::Tune::default(),
        }
    }
}

fn parse(s: &str) -> (Flags, Vec<String>) {
    let mut f = Flags::default();
    let mut unknown = Vec::new();
    for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (k, v) = item.split_once('=').unwrap_or((item, "1"));
        let num = v.trim().parse::<u64>().ok();
        match (k.trim(), num) {
            ("schedtrace", Some(n)) => f.schedtrace_ms = n,
            ("dumponexit", Some(n)) => f.dumponexit = n != 0,
            ("hogretake", Some(n)) => f.hogretake = n != 0,
            ("stacktrim", Some(n)) => f.stacktrim_ms = n,
            (k, Some(n)) if f.tune.set(k, n) => {}
            _ => unknown.push(item.to_string()),
        }
    }
    (f, unknown)
}

static FLAGS: OnceLock<Flags> = OnceLock::new();

fn flags() -> &'static Flags {
    FLAGS.get_or_init(|| {
        let Ok(v) = std::env::var("GORO_DEBUG") else {
            return Flags::default();
        };
        let (f, unknown) = parse(&v);
        for u in unknown {
            diag!("goro: GORO_DEBUG: unknown or malformed setting {u:?} ignored");
        }
        f
    })
}

/// The tuned numbers as `GORO_DEBUG` sets them (for [`crate::tune::get`]).
pub(crate) fn tune_from_env() -> crate::tune::Tune {
    flags().tune.clone()
}

/// The `schedtrace` period in nanoseconds, 0 if off.
pub(crate) fn schedtrace_ns() -> u64 {
    flags().schedtrace_ms.saturating_mul(1_000_000)
}

/// Whether sysmon retakes Ps from hogs.
pub(crate) fn hogretake() -> bool {
    flags().hogretake
}

/// How long a goroutine must have been parked before sysmon trims its stack, in ns; 0: never.
pub(crate) fn stacktrim_age_ns() -> u64 {
    flags().stacktrim_ms.saturating_mul(1_000_000)
}

extern "C" fn dump_at_exit() {
    // Never unwind into libc; a dump that fails to print is not worth an abort.
    let _ = std::panic::catch_unwind(|| {
        diag_raw!("{}", crate::dump::stack_dump());
    });
}

/// Called once by the runtime's initialisation.
pub(crate) fn on_init() {
    if flags().dumponexit {
        // SAFETY: registers a plain extern "C" function with no arguments, as atexit expects.
        if unsafe { libc::atexit(dump_at_exit) } != 0 {
            diag!("goro: GORO_DEBUG=dumponexit: atexit failed");
        }
    }
}

/// A snapshot of the scheduler, as printed by `GORO_DEBUG=schedtrace` (each field is read
/// separately, so the snapshot is approximate while the scheduler runs).
///
/// ```
/// let s = runtime::block_on(runtime::sched_stats);
/// assert_eq!(s.local_runqueues.len(), s.gomaxprocs);
/// assert!(s.threads >= 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SchedStats {
    /// Number of Ps.
    pub gomaxprocs: usize,
    /// Ps with no M.
    pub idle_procs: usize,
    /// Ps left behind by goroutines in [`crate::syscall`].
    pub syscall_procs: usize,
    /// The runtime's OS threads: Ms plus sysmon (Go's `threads`).
    pub threads: usize,
    /// Ms sleeping in the idle list.
    pub idle_threads: usize,
    /// Ms looking for work.
    pub spinning_threads: usize,
    /// Goroutines in the global run queue.
    pub runqueue: usize,
    /// Goroutines in each P's local queue (including `runnext`).
    pub local_runqueues: Vec<usize>,
    /// Stacks of long-parked goroutines that sysmon has trimmed since the start (the pages
    /// below their stack pointer returned to the OS; see `GORO_DEBUG=stacktrim`).
    pub stacks_trimmed: u64,
    /// G records ever made, each with its own stack (Go's `allglen`): dead ones are reused,
    /// so this is the most goroutines that were alive or waiting to start at once, plus
    /// the free ones.
    pub goroutine_records: usize,
}

/// The scheduler's current state (see [`SchedStats`]).
pub fn sched_stats() -> SchedStats {
    sched::ensure_init();
    let n = sched::gomaxprocs_now();
    let mut local = Vec::with_capacity(n);
    let mut syscall = 0;
    for i in 0..n {
        if let Some(p) = sched::p_at(i) {
            local.push(p.runq.len());
            syscall += (p.status.load(Ordering::Relaxed) == crate::p::P_SYSCALL) as usize;
        }
    }
    let idle_threads = sched::lock_idle().midle.len();
    SchedStats {
        gomaxprocs: n,
        idle_procs: SCHED.npidle.load(Ordering::Relaxed) as usize,
        syscall_procs: syscall,
        threads: SCHED.mcount.load(Ordering::Relaxed) as usize + crate::sysmon::running() as usize,
        idle_threads,
        spinning_threads: SCHED.nmspinning.load(Ordering::Relaxed) as usize,
        runqueue: SCHED.runqsize.load(Ordering::Relaxed),
        local_runqueues: local,
        stacks_trimmed: crate::stacktrim::trimmed(),
        goroutine_records: crate::g::gs_window(0, 0).1,
    }
}

/// One `schedtrace` line for time `ns` since the runtime started.
pub(crate) fn schedtrace_line(ns: u64) -> String {
    let s = sched_stats();
    let mut line = format!(
        "SCHED {}ms: gomaxprocs={} idleprocs={} threads={} spinningthreads={} idlethreads={} runqueue={} [",
        ns / 1_000_000,
        s.gomaxprocs,
        s.idle_procs,
        s.threads,
        s.spinning_threads,
        s.idle_threads,
        s.runqueue
    );
    for (i, n) in s.local_runqueues.iter().enumerate() {
        let _ = write!(line, "{}{n}", if i == 0 { "" } else { " " });
    }
    line.push(']');
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goro_debug_parses() {
        let (f, unknown) = parse("schedtrace=250, dumponexit=1,hogretake=0,bogus=3,schedtrace=x");
        assert_eq!(f.schedtrace_ms, 250);
        assert!(f.dumponexit);
        assert!(!f.hogretake);
        assert_eq!(
            unknown,
            vec!["bogus=3".to_string(), "schedtrace=x".to_string()]
        );
        assert_eq!(parse("").0, Flags::default());
        assert!(parse("dumponexit").0.dumponexit);
    }
}
