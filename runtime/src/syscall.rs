//! `runtime::syscall`: marking a blocking call (Go's entersyscall / exitsyscall).
//!
//! Entering, the M leaves its P in `P_SYSCALL` and runs the call without one. If the call is
//! short, the M takes the same P back with one CAS on the way out, and nothing else happened.
//! If it lasts, sysmon ([`crate::sysmon`]) takes the P with the opposite CAS and hands it to
//! another M, so the P's goroutines keep running. On return the goroutine then needs a P:
//! any idle one, or else it goes to the global run queue and its M sleeps.
//!
//! Runtime calls made *inside* the closure (readying a goroutine, spawning) see an M without
//! a P and take the global paths, as they do from a plain thread. A goroutine that parks
//! inside the closure (a channel operation) gives the old P back as it parks and resumes
//! wherever it is woken; the rest of the call is then covered by hog retaking only.

use crate::g::{G, Status};
use crate::g0::{SwitchReason, switch_to_g0};
use crate::m;
use crate::p::{P_RUNNING, P_SYSCALL};
use crate::sched;
use std::sync::atomic::Ordering;

/// Runs `f`, a call that may block its OS thread (a blocking read, a C library call, a
/// `std::sync` wait), without holding up the other goroutines: if it takes longer than
/// sysmon's tick (20 us when busy), the P moves on to another thread. Go wraps every system
/// call this way; in goro, wrap the ones that may block for long. (An unmarked blocking call
/// that waits for an event is caught too, when sysmon sees the thread waiting in the kernel:
/// within about 1 ms; disk I/O, in the kernel's `D` state, only after 10 ms.)
///
/// On a plain thread, or in a goroutine that is already inside `syscall`, it just calls `f`.
/// A panic in `f` propagates after the goroutine has its P back.
///
/// ```
/// use std::time::Duration;
/// let n = runtime::block_on(|| {
///     let sleeper = runtime::spawn(|| runtime::syscall(|| std::thread::sleep(Duration::from_millis(20))));
///     // This goroutine keeps running meanwhile, even with a single P.
///     let busy = runtime::spawn(|| (0..1000u64).sum::<u64>());
///     let n = busy.join().unwrap();
///     sleeper.join().unwrap();
///     n
/// });
/// assert_eq!(n, 499_500);
/// ```
pub fn syscall<R>(f: impl FnOnce() -> R) -> R {
    let g = match m::current_m().and_then(|mm| mm.curg()) {
        Some(g) if g.status() != Status::Syscall => g,
        _ => return f(),
    };
    entersyscall(g);
    struct Exit(&'static G);
    impl Drop for Exit {
        fn drop(&mut self) {
            exitsyscall(self.0);
        }
    }
    let exit = Exit(g);
    let r = f();
    drop(exit);
    r
}

/// Gives back a P an M left in `P_SYSCALL`, unless sysmon took it already: to `P_RUNNING`
/// while in transit (only `pidleput` makes a P idle), then `handoffp`. Called on g0 when
/// the goroutine parked or exited inside the call.
pub(crate) fn release_oldp(op: &'static crate::p::P) {
    if op
        .status
        .compare_exchange(P_SYSCALL, P_RUNNING, Ordering::Acquire, Ordering::Relaxed)
        .is_ok()
    {
        sched::handoffp(op);
    }
}

/// The running G `g` enters a blocking call: leave the P for sysmon to take.
fn entersyscall(g: &'static G) {
    let mm = m::current_m().expect("entersyscall: not on an M");
    let was = mm.enter_rt();
    // SAFETY: inside the section just entered, left below; `rt` ends before that.
    let mut rt = unsafe { m::Rt::new(mm) };
    g.set_status(Status::Syscall);
    if let Some(p) = m::releasep(&mut rt) {
        p.syscalltick.store(
            p.syscalltick.load(Ordering::Relaxed).wrapping_add(1),
            Ordering::Relaxed,
        );
        mm.oldp.set(Some(p));
        // Release: our uses of the P happen before whoever takes it from P_SYSCALL.
        p.status.store(P_SYSCALL, Ordering::Release);
        // sysmon may be in a long sleep: have it look now (one load when it is not).
        crate::sysmon::on_syscall();
    }
    mm.exit_rt(was);
}

/// `g`'s blocking call returned: get a P back, or queue `g` and let its M sleep.
fn exitsyscall(g: &'static G) {
    // Read afresh: if `g` parked inside the call, it may be on another M now.
    let mm = m::current_m().expect("exitsyscall: not on an M");
    let was = mm.enter_rt();
    // SAFETY: inside the section just entered, left on every path below; `rt` is not used
    // after that.
    let rt = unsafe { m::Rt::new(mm) };
    // None if `g` parked inside the call: the M it parked on gave the P back then.
    let oldp = mm.oldp.take();
    if mm.p().is_some() {
        // `g` parked inside the call and was resumed by an M with a P.
        g.set_status(Status::Running);
        mm.exit_rt(was);
        return;
    }
    // Fast path: our P is still waiting for us.
    if let Some(op) = oldp
        && op
            .status
            .compare_exchange(P_SYSCALL, P_RUNNING, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    {
        // A scheduling event for sysmon: the time in the call is not a hog's.
        m::acquirep(&rt, op).bump_schedtick();
        g.set_status(Status::Running);
        mm.exit_rt(was);
        return;
    }
    // Any idle P.
    if let Some(p) = sched::pidleget(&mut sched::lock_idle()) {
        m::acquirep(&rt, p).bump_schedtick();
        g.set_status(Status::Running);
        mm.exit_rt(was);
        return;
    }
    g.set_status(Status::Running);
    mm.exit_rt(was);
    if std::thread::panicking() {
        // Unwinding out of `f`: the goroutine must not change threads before the unwind
        // ends (the panic count is per thread). Run on without a P, as a hog whose P sysmon
        // took does; the next scheduling point sorts it out.
        return;
    }
    // None: queue `g` globally and let this M sleep (the P-less gosched path in `execute`).
    switch_to_g0(g, SwitchReason::Gosched);
}
