//! Deadlock detection (Go's `checkdead`): "all goroutines are asleep - deadlock!".
//!
//! Go can tell when nothing can ever run again because everything that runs is a goroutine.
//! goro also has plain threads, which may hold a channel and send on it later, so it counts
//! a goroutine asleep only when nothing at all could wake it:
//! * every P is idle and every run queue empty, and no M is running a goroutine (that
//!   covers goroutines in `runtime::syscall` and hogs whose P sysmon took);
//! * no timer is pending (a sleeping goroutine, a `select!` timeout, an `after_func` will
//!   run);
//! * every OS thread of the process is an M, sysmon, or a plain thread parked in goro
//!   ([`Asleep`]) and not woken yet. Any other thread — one that will send later, a test
//!   harness, another runtime's workers — might wake someone, so there is no verdict. (The
//!   count comes from `/proc/self/status`: Linux.)
//!
//! sysmon runs the check when every P is idle, holding the idle lock (no M can take a P and
//! run a goroutine meanwhile) and the registry lock (no parked thread can leave `park`), so it
//! sees one consistent moment in which nobody can act.
//!
//! On a verdict, plain threads waiting in `block_on` or `JoinHandle::join` (Go's main
//! goroutine) are woken and panic with `all goroutines are asleep - deadlock!` and the
//! goroutine dump. If there is no such thread, the process ends as Go's does: the message and
//! the dump on stderr, exit status 2.

use crate::note::Note;
use crate::sched::{self, SCHED};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};

/// The message a deadlock verdict panics with (followed by the goroutine dump), as Go prints
/// it. `block_on` and `JoinHandle::join` on a plain thread panic with it when every goroutine
/// is asleep and nothing can wake any of them: no running or runnable goroutine, no pending
/// timer, no goroutine in [`crate::syscall`], and no thread outside goro that is not itself
/// parked in goro. If no thread waits in `block_on`/`join`, the process exits with status 2
/// after printing `fatal error: ` and the message, as Go's does.
///
/// ```no_run
/// // A lone receive on a channel nobody else holds:
/// # fn recv_forever() {}
/// runtime::block_on(recv_forever);
/// // thread 'main' panicked at src/main.rs:3:1:
/// // all goroutines are asleep - deadlock!
/// //
/// // goroutine 1 [chan receive, 0ms]: ...
/// ```
pub const DEADLOCK_MESSAGE: &str = "all goroutines are asleep - deadlock!";

struct Entry {
    note: Arc<Note>,
    main: bool,
    id: u64,
    /// Set by a verdict (main entries only).
    report: Option<Arc<str>>,
}

/// Plain threads parked in goro without a deadline.
static ASLEEP: Mutex<Vec<Entry>> = Mutex::new(Vec::new());

fn asleep() -> MutexGuard<'static, Vec<Entry>> {
    ASLEEP.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether the thread whose note is `note` is registered as parked (for tests).
pub(crate) fn is_asleep(note: &Arc<Note>) -> bool {
    asleep().iter().any(|e| Arc::ptr_eq(&e.note, note))
}

/// A plain thread's registration while it parks (removed on drop).
pub(crate) struct Asleep {
    id: u64,
}

impl Asleep {
    /// Registers the calling thread, about to park on `note` with no deadline. `main`: it
    /// panics with the report on a verdict.
    pub(crate) fn register(note: &Arc<Note>, main: bool) -> Asleep {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        asleep().push(Entry {
            note: note.clone(),
            main,
            id,
            report: None,
        });
        Asleep { id }
    }

    /// Unregisters after the park; returns the deadlock report if a verdict woke us.
    pub(crate) fn finish(self) -> Option<Arc<str>> {
        let mut a = asleep();
        let i = a.iter().position(|e| e.id == self.id)?;
        let e = a.swap_remove(i);
        drop(a);
        std::mem::forget(self);
        e.report
    }
}

impl Drop for Asleep {
    fn drop(&mut self) {
        // Unwinding out of a park: just unregister.
        let mut a = asleep();
        if let Some(i) = a.iter().position(|e| e.id == self.id) {
            a.swap_remove(i);
        }
    }
}

/// Threads of this process, from `/proc/self/status`.
fn os_threads() -> Option<usize> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse().ok())
}

/// What a check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Check {
    /// Something in goro can still run (or nothing waits at all).
    Live,
    /// Only a thread outside goro could still act: worth re-checking less often.
    Foreign,
    /// A deadlock; the waiters were told.
    Deadlock,
}

/// Looks for a deadlock (sysmon, when every P is idle). On a verdict, wakes the main
/// waiters to panic, or ends the process if there are none.
pub(crate) fn check() -> Check {
    let mains: Vec<u64> = {
        // Order matters. With the idle lock held and every P idle, no M can start running a
        // goroutine. With the registry locked, a registered thread cannot leave `park`, and
        // everything it did before registering (a spawn, a send, a timer) happens before this
        // point, so the queue and timer reads below see it. A thread that is not registered
        // is caught by the thread count. An M that ran a goroutine without a P publishes its
        // last readies before clearing its current G (release), read here with acquire
        // before the queues.
        let idle = sched::lock_idle();
        if idle.pidle.len() < sched::gomaxprocs_now() {
            return Check::Live;
        }
        let a = asleep();
        if a.is_empty() || a.iter().any(|e| !e.note.is_parked()) {
            return Check::Live;
        }
        let mut busy = false;
        crate::m::for_each_m(|m| busy |= m.curg().is_some());
        if busy
            || SCHED.nmspinning.load(Ordering::SeqCst) != 0
            || SCHED.runqsize.load(Ordering::SeqCst) > 0
        {
            return Check::Live;
        }
        sched::for_each_p(|p| busy |= !p.runq.is_empty());
        // A goroutine waiting on the network can be woken by the network.
        if busy || crate::timer::earliest() != u64::MAX || crate::netpoll::waiters() > 0 {
            return Check::Live;
        }
        let ours = SCHED.mcount.load(Ordering::SeqCst) as usize + 1 + a.len();
        if os_threads() != Some(ours) {
            return Check::Foreign;
        }
        drop(idle);
        a.iter().filter(|e| e.main).map(|e| e.id).collect()
    };
    // Nothing can run again: the state is stable, so the dump can be taken unlocked.
    let report: Arc<str> = format!("{DEADLOCK_MESSAGE}\n\n{}", crate::dump::stack_dump()).into();
    if mains.is_empty() {
        diag!("fatal error: {report}");
        std::process::exit(2);
    }
    let mut a = asleep();
    for e in a.iter_mut().filter(|e| mains.contains(&e.id)) {
        e.report = Some(report.clone());
        e.note.unpark();
    }
    Check::Deadlock
}
