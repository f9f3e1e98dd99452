//! Finding work (Go's `findRunnable`, `stealWork`, `schedule`'s fairness rules).
//!
//! Order of search, on the M's own P first:
//! 1. every 61st scheduling tick, one G from the global queue (so a P busy with its local
//!    queue still serves the global one; 61 is Go's prime, chosen not to align with patterns);
//! 2. `runnext`, then the local ring (runnext at most [`RUNNEXT_STREAK`] times in a row);
//! 3. a batch from the global queue;
//! 4. stealing: up to four rounds over the other Ps in a random order, taking half of a
//!    victim's ring; only the last round takes a victim's `runnext` or runs its timers;
//! 5. otherwise give the P back and park the M (re-checking every queue after leaving the
//!    spinning state, see [`crate::sched`]).

use crate::g::G;
use crate::m::{self, M};
use crate::p::{P, P_DEAD, P_RUNNING};
use crate::sched::{self, SCHED};
use crate::timer;
use std::sync::atomic::{Ordering, fence};
use std::time::{Duration, Instant};

/// How many times in a row `runnext` may be taken before the ring gets a turn. Two Gs that
/// wake each other would otherwise own the P forever (Go's TestPingPongHog; tokio uses 3).
const RUNNEXT_STREAK: u32 = 3;

/// Steal rounds before giving up (Go's stealTries).
const STEAL_TRIES: usize = 4;

/// Takes the next local G, honouring the runnext streak cap.
fn runqget(p: &'static P) -> Option<(&'static G, bool)> {
    let take_next = p.runnext_streak.get() < RUNNEXT_STREAK;
    // SAFETY: the caller's M holds p.
    let (g, from_next) = unsafe { p.runq.get(take_next) }?;
    p.runnext_streak.set(if from_next {
        p.runnext_streak.get() + 1
    } else {
        0
    });
    // SAFETY: run queues hold pointers to 'static Gs.
    Some((unsafe { &*g }, from_next))
}

/// Called when a spinning M found work: leave the spinning state, and if it was the last
/// spinner, wake another M in case there is more work (Go's resetspinning).
fn reset_spinning(m: &'static M) {
    m.spinning.set(false);
    let n = SCHED.nmspinning.fetch_sub(1, Ordering::SeqCst);
    debug_assert!(n > 0, "resetspinning: negative nmspinning");
    if n == 1 {
        sched::wakep();
    }
}

fn found(m: &'static M, g: &'static G) -> &'static G {
    if m.spinning.get() {
        reset_spinning(m);
    }
    g
}

/// Blocks until there is a G to run and returns it.
/// The M holds a P on return. `None`: this M is surplus and idle, its thread should end.
pub(crate) fn find_runnable(m: &'static M) -> Option<&'static G> {
    'top: loop {
        let p = match m.p() {
            Some(p) => p,
            None => {
                // Lost our P (sysmon took it, or we gave it to a locked M): take an idle
                // one if there is one, else sleep until handed one.
                if let Some(p) = sched::pidleget(&mut sched::lock_idle()) {
                    m::acquirep(m, p);
                    continue 'top;
                }
                if !m::stopm(m, timer::earliest()) {
                    return None;
                }
                continue 'top;
            }
        };
        if p.id >= sched::gomaxprocs_now() {
            retire(m, p);
            continue 'top;
        }
        timer::check(&p.timers);
        if p.schedtick.load(Ordering::Relaxed) % 61 == 0
            && SCHED.runqsize.load(Ordering::Relaxed) > 0
        {
            if let Some(g) = sched::globrunqget(p, 1) {
                return Some(found(m, g));
            }
        }
        if let Some((g, _)) = runqget(p) {
            return Some(found(m, g));
        }
        if let Some(g) = sched::globrunqget(p, 0) {
            return Some(found(m, g));
        }

        // Steal, unless enough Ms are spinning already (half the busy Ps, as in Go).
        let procs = sched::gomaxprocs_now() as u32;
        let busy = procs.saturating_sub(SCHED.npidle.load(Ordering::SeqCst));
        if m.spinning.get() || 2 * SCHED.nmspinning.load(Ordering::SeqCst) < busy {
            if !m.spinning.get() {
                m.spinning.set(true);
                SCHED.nmspinning.fetch_add(1, Ordering::SeqCst);
            }
            if let Some(g) = steal_work(m, p) {
                return Some(found(m, g));
            }
            if spin_for_work(p) {
                continue 'top;
            }
        }

        // Nothing: give the P back.
        let mut idle = sched::lock_idle();
        if SCHED.runqsize.load(Ordering::SeqCst) > 0 {
            drop(idle);
            continue 'top;
        }
        m::releasep(m);
        sched::pidleput(&mut idle, p);
        drop(idle);
        let was_spinning = m.spinning.replace(false);
        if was_spinning {
            SCHED.nmspinning.fetch_sub(1, Ordering::SeqCst);
        }
        // StoreLoad: our npidle/nmspinning updates above before the re-checks below; a
        // producer does the mirror image (publish G, fence, read npidle/nmspinning).
        fence(Ordering::SeqCst);
        let work = SCHED.runqsize.load(Ordering::SeqCst) > 0 || {
            let mut any = false;
            sched::for_each_p(|p2| any |= !p2.runq.is_empty());
            any
        };
        if work {
            let p2 = sched::pidleget(&mut sched::lock_idle());
            if let Some(p2) = p2 {
                m::acquirep(m, p2);
                m.spinning.set(true);
                SCHED.nmspinning.fetch_add(1, Ordering::SeqCst);
                continue 'top;
            }
        }
        if !m::stopm(m, timer::earliest()) {
            return None;
        }
    }
}

/// Tries to steal a G (or run another P's timers) for `p`.
fn steal_work(m: &'static M, p: &'static P) -> Option<&'static G> {
    let n = SCHED.nallp.load(Ordering::Acquire);
    if n <= 1 {
        // Only our own P: its timers were checked already.
        return None;
    }
    for round in 0..STEAL_TRIES {
        let last = round == STEAL_TRIES - 1;
        let start = m.fastrand() as usize % n;
        let stride = coprime_stride(m, n);
        for i in 0..n {
            let Some(p2) = sched::p_at((start + i * stride) % n) else {
                continue;
            };
            if std::ptr::eq(p2, p) {
                continue;
            }
            if last && timer::check(&p2.timers) {
                // Its timers readied Gs onto our P.
                if let Some((g, _)) = runqget(p) {
                    return Some(g);
                }
            }
            if p2.runq.is_empty() {
                continue;
            }
            if p2.runq.ring_len() == 0 {
                if !last {
                    continue;
                }
                // Only its runnext is there, likely a G its running G just readied and is
                // about to block for (a channel handoff). Give the victim ~3 us to run it
                // itself; take it only if it is still the same G afterwards (Go's runqgrab).
                let running = p2.status.load(Ordering::Relaxed) == P_RUNNING;
                if let Some(g) = p2.runq.steal_runnext_after(|| {
                    if running {
                        spin_for(Duration::from_micros(3));
                    }
                }) {
                    // SAFETY: run queues hold pointers to 'static Gs.
                    return Some(unsafe { &*g });
                }
                continue;
            }
            // SAFETY: we hold p (our M's P); p2 is another P.
            if let Some(g) = unsafe { p.runq.steal_from(&p2.runq, last) } {
                // SAFETY: run queues hold pointers to 'static Gs.
                return Some(unsafe { &*g });
            }
        }
    }
    None
}

/// How long a spinning M that found nothing keeps looking before it gives its P back and
/// sleeps. While it spins it stays counted in `nmspinning`, so `wakep` (called by every
/// ready) returns after one load instead of paying a futex wake, which costs tens of
/// microseconds on these VMs: a channel ping-pong on one P then never wakes a thread. 50 us
/// is picked: several handoffs' worth, and a bounded cost for an idle core.
const IDLE_SPIN: Duration = Duration::from_micros(50);

/// Polls for stealable work for up to IDLE_SPIN: another P's ring (not its runnext, which
/// its own M is about to run), the global queue, our own queue, or a due timer. True if
/// there is some.
fn spin_for_work(p: &'static P) -> bool {
    let until = Instant::now() + IDLE_SPIN;
    loop {
        if SCHED.runqsize.load(Ordering::Relaxed) > 0 || !p.runq.is_empty() {
            return true;
        }
        let now = crate::clock::nanotime();
        let mut work = false;
        sched::for_each_p(|p2| {
            work |= p2.runq.ring_len() > 0 || p2.timers.next_when.load(Ordering::Relaxed) <= now;
        });
        if work {
            return true;
        }
        if Instant::now() >= until {
            return false;
        }
        spin_for(Duration::from_micros(1));
    }
}

/// Busy-waits about `d` (reading the clock every 64 pauses, not every one).
fn spin_for(d: Duration) {
    let until = Instant::now() + d;
    loop {
        for _ in 0..64 {
            std::hint::spin_loop();
        }
        if Instant::now() >= until {
            return;
        }
    }
}

/// A random stride coprime with `n`, so `start + i*stride` visits every P once.
fn coprime_stride(m: &'static M, n: usize) -> usize {
    fn gcd(a: usize, b: usize) -> usize {
        if b == 0 { a } else { gcd(b, a % b) }
    }
    loop {
        let s = 1 + m.fastrand() as usize % n;
        if gcd(s, n) == 1 {
            return s;
        }
    }
}

/// `gosched` on g0: where the yielding `g` goes. Go always puts it on the global queue, so
/// it runs after everything runnable. When the global queue is empty, the tail of this P's
/// ring gives the same order on this P (after every local G, and nothing global is waiting)
/// without taking the global lock, which halves the cost of a yield; otherwise it goes to
/// the global queue as in Go.
pub(crate) fn gosched_put(p: &'static P, g: &'static G) {
    if SCHED.runqsize.load(Ordering::Relaxed) == 0 {
        // SAFETY: the calling M holds p.
        unsafe { sched::runqput(p, g, false) };
    } else {
        sched::globrunqput(g);
    }
}

/// Retires `p` after a `gomaxprocs` decrease: its queued Gs go to the global queue, its
/// timers to P0, its free Gs to the global free list. The decision is re-made under the idle
/// lock, which `gomaxprocs` also holds, so a concurrent increase cannot strand the P.
fn retire(m: &'static M, p: &'static P) {
    let mut gs = Vec::new();
    // SAFETY: we hold p.
    unsafe {
        p.runq.drain(&mut gs);
        sched::gfpurge(p);
    }
    if !gs.is_empty() {
        sched::globrunqputbatch(&gs);
    }
    if let Some(p0) = sched::p_at(0) {
        p.timers.move_to(&p0.timers);
    }
    let mut idle = sched::lock_idle();
    if p.id < sched::gomaxprocs_now() {
        // gomaxprocs grew back meanwhile: keep running with p.
        drop(idle);
        fence(Ordering::SeqCst);
        sched::wakep();
        return;
    }
    m::releasep(m);
    p.status.store(P_DEAD, Ordering::Relaxed);
    let p2 = sched::pidleget(&mut idle);
    drop(idle);
    if m.spinning.replace(false) {
        SCHED.nmspinning.fetch_sub(1, Ordering::SeqCst);
    }
    if let Some(p2) = p2 {
        m::acquirep(m, p2);
    }
    // Work we moved out may need another M.
    fence(Ordering::SeqCst);
    sched::wakep();
}
