//! The g0 loop (Go's `schedule`, `execute`, `mcall`): an M's native stack runs [`schedule`],
//! switches into a G, and gets control back when the G parks, yields or exits; what the G
//! wants done travels as a [`SwitchReason`] and is carried out here, on g0, after the switch
//! has saved the G's context (the park protocol's invariant, [`crate::parkstate`]).

use crate::directpark::{Resume, after_resume};
use crate::g::{G, Status};
use crate::m::{M, Rt, acquirep, releasep};
use crate::sched;
use std::ptr;
use std::sync::atomic::Ordering;

/// Why a goroutine switches to g0: the data word of every G -> g0 switch, decoded only by
/// g0 (`execute`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(usize)]
pub(crate) enum SwitchReason {
    /// The G parks; g0 commits the park.
    Park = 1,
    /// The G yields (`gosched`, leaving `runtime::syscall` without a P).
    Gosched = 2,
    /// The G has finished.
    Exit = 3,
    /// sysmon's preemption of a hog at a safe point (see `preempt_point`).
    Preempt = 4,
}

impl SwitchReason {
    fn encode(self) -> usize {
        self as usize
    }

    fn decode(word: usize) -> SwitchReason {
        match word {
            1 => SwitchReason::Park,
            2 => SwitchReason::Gosched,
            3 => SwitchReason::Exit,
            4 => SwitchReason::Preempt,
            _ => unreachable!("g0 resumed with data word {word:#x}, not a switch reason"),
        }
    }
}
/// The scheduler loop on g0: find a runnable G, run it until it switches back, repeat.
/// Returns when this M's thread should end.
pub(crate) fn schedule(rt: &mut Rt) {
    let m = rt.m();
    loop {
        let Some(g) = crate::proc::find_runnable(rt) else {
            return;
        };
        if let Some(lm) = crate::lockosthread::lockedm(g)
            && !ptr::eq(lm, m)
        {
            // `g` runs only on its own M: give it our P (Go's startlockedm).
            let p = releasep(rt).expect("schedule: found a G without holding a P");
            lm.handoff(p, false);
            continue;
        }
        if !execute(rt, g) {
            return;
        }
    }
}

/// Runs `g` (and whatever the gosched fast path hands over) until this M must look for work.
/// Returns false if the M must exit (its locked goroutine ended).
fn execute(rt: &mut Rt, g: &'static G) -> bool {
    let m = rt.m();
    let mut g = g;
    loop {
        let p = rt.owner().expect("execute: M without P");
        // Every switch counts, inherited time slice or not (Go bumps schedtick only for a
        // fresh slice, because its sysmon preempts a slice that runs too long, cheaply; here a
        // "hog" costs a P handoff, so only a goroutine that never switches is one: a
        // ping-pong pair trading runnext is not).
        p.bump_schedtick();
        let ctx = make_current(m, g);
        // Out of the section while the goroutine runs (sysmon may take the P meanwhile).
        // SAFETY: `g` is runnable, so its context was fully saved by the g0 that switched it
        // out (or made by spawn) and no other M can resume it: we took it from a run queue or
        // won its park word. The data word tells a first-time entry which G it is.
        let t = rt.outside(|| unsafe { crate::switch::jump_g0(ctx, Resume::FromG0(g).encode()) });
        // Back on g0, from whichever G runs on this M now: `g` may have parked straight into
        // another one (`park_direct`), which then switched here.
        g = m
            .curg()
            .expect("execute: back on g0 without a current goroutine");
        // The G's stack is now quiescent (and we are back inside the section): save its
        // context before anything can make it runnable again.
        g.ctx.set(Some(t.context));
        g.mid.store(0, Ordering::Relaxed);
        if let Some(op) = m.oldp.take() {
            // The G parked (or exited) inside `runtime::syscall`: this M is done with the
            // call, so its old P goes back now rather than when sysmon notices.
            crate::syscall::release_oldp(op);
        }
        // sysmon may have taken the P while the G ran (a hog, or an unmarked blocking call).
        let p = rt.owner();
        let locked = m.lockedg().is_some_and(|l| ptr::eq(l, g));
        match SwitchReason::decode(t.data) {
            SwitchReason::Park => {
                g.set_status(Status::Waiting);
                if !g.park.commit() {
                    // A wakeup raced with the park: resume at once.
                    if p.is_some() {
                        continue;
                    }
                    g.set_status(Status::Runnable);
                    requeue_global(g);
                }
            }
            SwitchReason::Gosched => {
                g.set_status(Status::Runnable);
                match p {
                    Some(p) => crate::proc::gosched_put(p, g),
                    None => requeue_global(g),
                }
            }
            SwitchReason::Preempt => {
                g.set_status(Status::Runnable);
                match p {
                    // Behind this P's queued goroutines (the ones it kept waiting), not
                    // behind the whole global queue: a goroutine spawning in a loop would
                    // otherwise wait for all its unstarted children to run first.
                    Some(p) => sched::runqput(p, g, false),
                    None => requeue_global(g),
                }
            }
            SwitchReason::Exit => {
                crate::spawn::gdestroy(p, g);
                m.set_curg(None);
                if locked {
                    // Go terminates a thread whose locked goroutine exits: the goroutine may
                    // have changed the thread's state.
                    m.lockedg.store(ptr::null_mut(), Ordering::Relaxed);
                    m.locked_count.set(0);
                    if let Some(p) = releasep(rt) {
                        sched::handoffp(p);
                    }
                    return false;
                }
                return true;
            }
        }
        // Cleared only now that the G sits in a queue or its park word: until then the
        // deadlock check counts this M as running something.
        m.set_curg(None);
        if !locked {
            return true;
        }
        // The locked G stopped: this M runs nothing else. Give the P away and wait until
        // someone hands us one to run the G again (Go's stoplockedm).
        if let Some(p) = releasep(rt) {
            sched::handoffp(p);
        }
        loop {
            if let Some(p) = m.take_nextp() {
                acquirep(rt, p);
                break;
            }
            m.note.park(None);
        }
    }
}

/// A G that was switched out after its M lost the P goes to the global queue.
fn requeue_global(g: &'static G) {
    sched::globrunqput(g);
    std::sync::atomic::fence(Ordering::SeqCst);
    sched::wakep();
}

/// Makes the runnable `g` the one `m` runs (status, owner, `curg`) and returns its saved
/// context, to switch to next. Used by g0 (`execute`) and by the direct switches.
#[inline]
pub(crate) fn make_current(m: &'static M, g: &'static G) -> crate::switch::Context {
    g.set_status(Status::Running);
    g.mid.store(m.id.load(Ordering::Relaxed), Ordering::Relaxed);
    m.set_curg(Some(g));
    g.ctx
        .take()
        .expect("make_current: runnable G without a saved context")
}

/// On a G: switch to g0 with `reason`, and return when some M resumes this G.
///
/// `g` must be the running G. Never inlined, and nothing thread-local may be held across it.
#[inline(never)]
pub(crate) fn switch_to_g0(g: &'static G, reason: SwitchReason) {
    let g0 =
        g.g0.take()
            .expect("switch_to_g0: no g0 context (not on a goroutine?)");
    // SAFETY: `g0` is the context of the g0 that resumed us, saved when it did; it is
    // suspended in `execute` waiting for exactly this switch.
    let t = unsafe { crate::switch::jump_g0(g0, reason.encode()) };
    after_resume(g, t);
}
