//! The direct park: a parking goroutine switches straight to the next one of its P.
//!
//! A channel handoff parks one goroutine and runs the one it just readied, on the same P.
//! Through g0 that is two switches (G1 -> g0 -> G2); [`park_direct`] makes it one. The
//! protocol keeps every rule the g0 path keeps:
//!
//! * **When.** Only where `schedule` would pick the same G anyway ([`crate::proc::next_local`]:
//!   the P's `runnext` or ring head, no due timer, not the global queue's turn, no locked M or
//!   goroutine, not in a syscall wrapper). Everything from taking `next` off the queue to the
//!   commit below runs inside a runtime section (`enter_rt`), so sysmon cannot take the P
//!   meanwhile: the P that `next` came from is still ours when `next` commits G1's park.
//! * **The handover.** G1 does what `execute` does before running a G: hands its g0 context to
//!   `next` (so `next` returns to this M's scheduler when it switches out), bumps `schedtick`,
//!   makes `next` the M's current G, and jumps to it with [`Resume::Direct`]`(G1)` as the
//!   data word. Its own context travels in the jump's transfer.
//! * **The commit, on the other side.** The first thing `next` does when it resumes
//!   ([`after_resume`], or `g_entry` for a goroutine's first run) is save G1's context into
//!   G1's record: G1's stack is quiescent now, since we run on ours. Only then does it commit
//!   G1's park word (EMPTY -> PARKED): the switch invariant holds, exactly as when g0 commits,
//!   because the commit happens after the save, on a different stack.
//! * **A lost race.** If an unpark came between G1's decision to park and the commit, the word
//!   is NOTIFIED and the commit consumes the token instead; G1 must run on at once. `next`
//!   (still Runnable, never run) then makes G1 current again and jumps back to it with
//!   [`Resume::Requeue`]`(next)`; G1, resumed in its own `after_resume`, saves `next`'s
//!   context and puts it back into `runnext`, where it came from. Either way exactly one context is resumed per
//!   switch, and each saved context has exactly one owner that may resume it: a G in a queue
//!   (resumed by whoever takes it), a G whose park word is PARKED (by the unparker that moves
//!   it), or a G whose context rides in a transfer (by the receiver).
//!
//! `runtime/tests/park.rs`'s token ring drives this path with racing unparks, timers and a
//! check that no goroutine is ever resumed twice.

use crate::g::{G, Status};
use crate::g0::make_current;
use crate::m::{Rt, current_m};
use crate::sched;
use std::sync::atomic::Ordering;

/// The data word a goroutine is resumed with, decoded by `after_resume` and `g_entry`. G
/// records are 8-aligned, so a G's address leaves the two low bits for the tag.
#[derive(Clone, Copy)]
pub(crate) enum Resume {
    /// From g0 (`execute`), carrying the resumed G's own address (a first run reads it).
    FromG0(&'static G),
    /// From a goroutine that parked straight into this one ([`park_direct`]), whose context
    /// travels in the transfer: the resumed G saves it and commits that park.
    Direct(&'static G),
    /// From a goroutine whose direct park lost its race with an unpark and that switched
    /// back to us: we save its context and put it back into `runnext`.
    Requeue(&'static G),
}

impl Resume {
    const DIRECT: usize = 1;
    const REQUEUE: usize = 2;

    fn addr(g: &'static G) -> usize {
        let a = g as *const G as usize;
        debug_assert_eq!(a & 3, 0, "G records are 8-aligned");
        a
    }

    pub(crate) fn encode(self) -> usize {
        match self {
            Resume::FromG0(g) => Self::addr(g),
            Resume::Direct(g) => Self::addr(g) | Self::DIRECT,
            Resume::Requeue(g) => Self::addr(g) | Self::DIRECT | Self::REQUEUE,
        }
    }

    /// # Safety
    /// `word` must be the data word of a switch into a goroutine: made by [`Resume::encode`].
    pub(crate) unsafe fn decode(word: usize) -> Resume {
        // SAFETY: per the contract, the untagged bits are a G's address; G records are
        // leaked and never freed.
        let g: &'static G = unsafe { &*((word & !3) as *const G) };
        match word & 3 {
            0 => Resume::FromG0(g),
            Self::DIRECT => Resume::Direct(g),
            3 => Resume::Requeue(g),
            _ => unreachable!("a goroutine resumed with data word {word:#x}"),
        }
    }
}
/// On a G that was just resumed by `t`: remember the g0 to return to next time (Go's
/// `gogo` from `schedule`), or, after a direct switch, finish what the goroutine that
/// switched here started; its M's g0 became ours before the switch.
pub(crate) fn after_resume(g: &'static G, mut t: crate::switch::Transfer) {
    loop {
        // SAFETY: every switch into a goroutine passes a `Resume` word (execute, park_direct
        // and the requeue below).
        let (other, requeue) = match unsafe { Resume::decode(t.data) } {
            Resume::FromG0(_) => {
                g.g0.set(Some(t.context));
                return;
            }
            Resume::Direct(other) => (other, false),
            Resume::Requeue(other) => (other, true),
        };
        let m = current_m().expect("after_resume: direct switch on a thread without an M");
        // Its stack is quiescent now (we run on ours): save its context first.
        other.ctx.set(Some(t.context));
        other.mid.store(0, Ordering::Relaxed);
        // SAFETY: a direct switch happens inside the section park_direct entered on this M
        // (`other`'s, or ours before a requeue), which this side leaves below; `rt` ends here.
        let rt = unsafe { Rt::new(m) };
        let p = rt
            .owner()
            .expect("after_resume: the section of park_direct keeps the P");
        if requeue {
            // We parked, lost the race, and `other` (still Runnable) made way for us: it goes
            // back where it came from.
            sched::runqput(p, other, true);
            let _ = m.exit_rt_preemptible(false);
            return;
        }
        // As execute does on g0 after a park: the saved context is published by the commit.
        other.set_status(Status::Waiting);
        if other.park.commit() {
            // The section park_direct entered ends here; as in execute, an ASK that came
            // meanwhile is moot (schedtick moved).
            let _ = m.exit_rt_preemptible(false);
            return;
        }
        // A wakeup raced with the park: the parker runs on at once, as execute would resume
        // it, and we go back to the queue (REQUEUE, on its side). Still inside the section.
        g.set_status(Status::Runnable);
        other.g0.set(g.g0.take());
        let ctx = make_current(m, other);
        // SAFETY: `other`'s context was saved just above and nobody else can resume it (its
        // park word is EMPTY, not PARKED: no unparker readies it). Ours travels to it.
        t = unsafe { crate::switch::jump(ctx, Resume::Requeue(g).encode()) };
        // Resumed again later, by g0 or by another direct switch: finish that one.
    }
}

/// Parks the running goroutine `g` (its park word already says so, see `park_g`) by switching
/// straight to the next goroutine of this M's P, without the round trip through g0 and the
/// scheduler: half the context switches of a channel handoff. Does it only where `schedule`
/// would pick that same goroutine anyway ([`crate::proc::next_local`]: no due timer, not the
/// global queue's turn, not a locked M or goroutine, not inside a syscall wrapper). Returns
/// false, having done nothing, where the caller must switch to g0 instead; true once `g` has
/// been resumed again (by whoever unparked it).
#[inline(never)]
pub(crate) fn park_direct(g: &'static G) -> bool {
    let Some(m) = current_m() else { return false };
    if m.enter_rt() {
        // Inside a runtime section already (never expected on a park): leave it to g0.
        return false;
    }
    let next = {
        // SAFETY: inside the section just entered, which the resumed side of the switch
        // below (`after_resume`) leaves, or we leave on the way out; `rt` (and the token)
        // end with this block, before either.
        let rt = unsafe { Rt::new(m) };
        match rt.owner() {
            Some(p) if m.lockedg().is_none() && m.oldp.get().is_none() => {
                crate::proc::next_local(m, p).inspect(|_| {
                    // What execute does before running a G.
                    p.bump_schedtick();
                })
            }
            _ => None,
        }
    };
    let Some(next) = next else {
        // g0 takes over at once, a scheduling point: an ASK that came meanwhile is moot, as in
        // execute (honouring it would hand the P to another thread for nothing).
        let _ = m.exit_rt_preemptible(false);
        return false;
    };
    // `next` returns to our M's g0 when it switches.
    let g0 = g.g0.take().expect("park_direct: no g0 context");
    next.g0.set(Some(g0));
    let ctx = make_current(m, next);
    // SAFETY: `next` is runnable and we took it from our P's queue, so its context is fully
    // saved and nobody else can resume it. Our own context goes to it through the transfer;
    // `after_resume` on its side saves it and commits our park.
    let t = unsafe { crate::switch::jump(ctx, Resume::Direct(g).encode()) };
    after_resume(g, t);
    true
}
