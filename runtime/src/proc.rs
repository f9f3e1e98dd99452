//! Finding work (Go's `findRunnable`, `stealWork`, `schedule`'s fairness rules).
//!
//! Order of search, on the M's own P first:
//! 1. every 61st scheduling tick, one G from the global queue (so a P busy with its local
//!    queue still serves the global one; 61 is Go's prime, chosen not to align with patterns);
//! 2. `runnext` (inheriting the time slice, until sysmon ends it after 10 ms), then the local
//!    ring;
//! 3. a batch from the global queue;
//! 4. other Ps: run their due timers, take a `runnext` left unrun for 3 us; then spin,
//!    watching their rings, and steal half of one only if its P is stuck in one G or has a
//!    backlog it would need [`crate::tune::BACKLOG_NS`] to work through (Go steals any non-empty ring);
//! 5. otherwise give the P back and park the M (re-checking every queue after leaving the
//!    spinning state, see [`crate::sched`]).

use crate::g::G;
use crate::m::{self, M, Rt};
use crate::p::{P, P_DEAD, P_RUNNING, POwner};
use crate::sched::{self, SCHED};
use crate::timer;
use std::sync::atomic::{Ordering, fence};
use std::time::{Duration, Instant};

/// How many times in a row `runnext` may be taken before the ring gets a turn, unless the
/// pick continues a ping-pong (below). Picked (tokio uses 3): a chain of goroutines handing
/// work down a pipeline (W7's sieve) runs best when the ring is served this often.
const RUNNEXT_STREAK: u32 = 3;

/// Takes the next local G: `runnext` first, inheriting the current time slice, until the
/// slice has run out (sysmon's `slice_expired`, 10 ms after it began), in which case the
/// ring's head goes first; a G from the ring starts a new slice.
///
/// This is Go's time slice for readied goroutines: a pair that hands a token back and forth
/// keeps the P for a slice, then the ring gets its turn, so every pair on a P gets about
/// equal CPU time however much work it does between hand-offs (Go's TestPingPongHog, ported
/// in tests/pingpong_hog.rs). goro keeps tokio's cap of 3 consecutive `runnext` picks for
/// every other pattern (a chain of distinct goroutines, where serving the ring often is what
/// keeps a pipeline flowing: without it W7 ran 1.2-1.5x slower on 2 Ps). The slice rule
/// alone applies when `runnext` holds the G that ran just before the current one: a
/// ping-pong pair. (A cycle of three or more goroutines is capped like a chain.)
fn runqget(p: POwner<'_>) -> Option<(&'static G, bool)> {
    let expired = p.slice_expired.load(Ordering::Relaxed);
    let take_next = !expired
        && (p.runnext_streak() < RUNNEXT_STREAK || std::ptr::eq(p.runq().peek_next(), p.prev_g()));
    let (g, from_next) = p.runq().get(take_next)?;
    if from_next {
        p.set_runnext_streak(p.runnext_streak() + 1);
    } else {
        p.set_runnext_streak(0);
        // A new slice. Only the owner writes these; sysmon reads slicetick.
        p.slicetick.store(
            p.slicetick.load(Ordering::Relaxed).wrapping_add(1),
            Ordering::Relaxed,
        );
        if expired {
            p.slice_expired.store(false, Ordering::Relaxed);
        }
    }
    p.set_picked(g as *const G);
    // SAFETY: run queues hold pointers to 'static Gs.
    Some((unsafe { &*g }, from_next))
}

/// Whether `p` must take a G from the global queue before its own: every 61st scheduling tick,
/// if the global queue has any (rule 1 of the module docs).
#[inline]
fn global_turn(p: &P) -> bool {
    p.schedtick.load(Ordering::Relaxed).is_multiple_of(61)
        && SCHED.runqsize.load(Ordering::Relaxed) > 0
}

/// The G that `find_runnable` would return at once from `p`'s own queue, taken, for a
/// goroutine that parks straight into it ([`crate::directpark::park_direct`]); None (taking nothing) where the
/// scheduler has more to do first: `p` is being retired, a timer on it is due, the global
/// queue's turn has come, or the M spins.
pub(crate) fn next_local(m: &'static M, p: POwner<'_>) -> Option<&'static G> {
    if m.spinning.get()
        || p.id >= sched::gomaxprocs_now()
        || timer::due(&p.timers)
        || global_turn(&p)
    {
        return None;
    }
    let (g, _) = runqget(p)?;
    if crate::lockosthread::lockedm(g).is_some() {
        // It runs only on its own M: schedule hands the P over. Back into runnext (if it
        // came from the ring it now runs before the ring's head: a rare reordering, for
        // locked goroutines only).
        sched::runqput(p, g, true);
        return None;
    }
    Some(g)
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
pub(crate) fn find_runnable(rt: &mut Rt) -> Option<&'static G> {
    let m = rt.m();
    'top: loop {
        let p = match rt.owner() {
            Some(p) => p,
            None => {
                // Lost our P (sysmon took it, or we gave it to a locked M): take an idle
                // one if there is one, else sleep until handed one.
                if let Some(p) = sched::pidleget(&mut sched::lock_idle()) {
                    m::acquirep(rt, p);
                    continue 'top;
                }
                if !m::stopm(rt, timer::earliest()) {
                    return None;
                }
                m.woken_to_spin.set(None);
                continue 'top;
            }
        };
        if p.id >= sched::gomaxprocs_now() {
            let pp = p.p();
            retire(rt, pp);
            continue 'top;
        }
        timer::check(&p.timers);
        if global_turn(&p)
            && let Some(g) = sched::globrunqget(p, 1)
        {
            return Some(found(m, g));
        }
        if let Some((g, _)) = runqget(p) {
            return Some(found(m, g));
        }
        if let Some(g) = sched::globrunqget(p, 0) {
            return Some(found(m, g));
        }
        // The network, before stealing (one load when no goroutine waits on it).
        if crate::netpoll::should_poll()
            && let Some(g) = poll_network(p)
        {
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
            match spin_for_work(m, p) {
                Spin::Retry => continue 'top,
                Spin::Steal(p2) => {
                    if let Some(g) = p.runq().steal_from(&p2.runq, false) {
                        // SAFETY: run queues hold pointers to 'static Gs.
                        return Some(found(m, unsafe { &*g }));
                    }
                    continue 'top;
                }
                Spin::Idle => {}
            }
        }

        // Nothing: give the P back, first making the looks its unchecked dead Gs owe (off
        // the spawn and exit paths: see `stack::DeepCheck`).
        sched::check_local_free(p);
        let mut idle = sched::lock_idle();
        if SCHED.runqsize.load(Ordering::SeqCst) > 0 {
            drop(idle);
            continue 'top;
        }
        let p = p.p();
        m::releasep(rt);
        sched::pidleput(&mut idle, p);
        drop(idle);
        let was_spinning = m.spinning.replace(false);
        if was_spinning {
            SCHED.nmspinning.fetch_sub(1, Ordering::SeqCst);
        }
        // StoreLoad: our npidle/nmspinning updates above before the re-checks below; a
        // producer does the mirror image (publish G, fence in wakep, read npidle/nmspinning;
        // sched.rs's essay).
        fence(Ordering::SeqCst);
        let work = SCHED.runqsize.load(Ordering::SeqCst) > 0 || {
            let mut any = false;
            sched::for_each_p(|p2| any |= !p2.runq.is_empty());
            any
        };
        if work {
            let p2 = sched::pidleget(&mut sched::lock_idle());
            if let Some(p2) = p2 {
                m::acquirep(rt, p2);
                m.spinning.set(true);
                SCHED.nmspinning.fetch_add(1, Ordering::SeqCst);
                continue 'top;
            }
        }
        if !m::stopm(rt, timer::earliest()) {
            return None;
        }
        if was_spinning && let Some(slept) = m.woken_to_spin.take() {
            adapt_spin(&m.spin_ns, slept);
        }
    }
}

/// A poll of the network that does not block: the first goroutine it readied, to run now;
/// the others are queued ([`crate::netpoll::inject`]) on `p`.
fn poll_network(p: POwner<'_>) -> Option<&'static G> {
    let mut list = Vec::new();
    crate::netpoll::netpoll(None, &mut list);
    let (&g, rest) = list.split_first()?;
    crate::netpoll::inject(rest, Some(p));
    Some(g)
}

/// Tries to take work from the other Ps without waiting: runs their due timers, and takes a
/// `runnext` its P has left unrun for [`crate::tune::RUNNEXT_GRACE_NS`] (Go's runqgrab pause). Rings are
/// stolen from only on evidence gathered while spinning (see [`spin_for_work`]).
fn steal_work(m: &'static M, p: POwner<'_>) -> Option<&'static G> {
    let n = SCHED.nallp.load(Ordering::Acquire);
    if n <= 1 {
        // Only our own P: its timers were checked already.
        return None;
    }
    let start = m.rng.below(n);
    let stride = coprime_stride(m, n);
    for i in 0..n {
        let Some(p2) = sched::p_at((start + i * stride) % n) else {
            continue;
        };
        if std::ptr::eq(p2, p.p()) {
            continue;
        }
        if timer::check(&p2.timers) {
            // Its timers readied Gs onto our P.
            if let Some((g, _)) = runqget(p) {
                return Some(g);
            }
        }
        if p2.runq.ring_len() > 0 || p2.runq.is_empty() {
            continue;
        }
        // Only its runnext is there, likely a G its running G just readied and is about to
        // block for (a channel handoff). Give the victim a moment to run it itself; take it
        // only if it is still the same put afterwards.
        let running = p2.status.load(Ordering::Relaxed) == P_RUNNING;
        if let Some(g) = p2.runq.steal_runnext_after(|| {
            if running {
                spin_for(Duration::from_nanos(crate::tune::get().runnext_grace_ns));
            }
        }) {
            // SAFETY: run queues hold pointers to 'static Gs.
            return Some(unsafe { &*g });
        }
    }
    None
}

/// Whether a ring of `len` Gs on a P that switched `switches` times in the last `elapsed_ns`
/// is worth stealing from: one stuck in a goroutine, or one that would need at least `backlog`
/// ns to reach its last G at the rate it switched (see [`crate::tune::BACKLOG_NS`]).
fn backlogged(len: u64, elapsed_ns: u64, switches: u32, backlog_ns: u64) -> bool {
    // At `elapsed / switches` per G, the last of `len` Gs starts `len` G-times from now.
    len > 0 && (switches == 0 || len * elapsed_ns >= backlog_ns * switches as u64)
}

/// Adapts an M's spin time after a sleep of `slept_ns`. A spinning M stays counted in
/// `nmspinning`, so `wakep` (called by every ready) returns after one load instead of paying
/// a futex wake. An M that a `wakep` woke again soon after it went to sleep spins twice as
/// long the next time (a ping-pong on one P readies a G every few hundred ns, and each ready
/// would otherwise wake the sleeper again); one that slept longer than it spun goes back to
/// the minimum; wakes for timers leave it as it is. (A spinner that gives up while another
/// P's ring is non-empty spins again instead of sleeping, see `find_runnable`.) The range is
/// [`crate::tune::IDLE_SPIN_MIN_NS`]'s.
fn adapt_spin(spin_ns: &std::cell::Cell<u64>, slept_ns: u64) {
    let t = crate::tune::get();
    let cur = spin_ns.get();
    spin_ns.set(if slept_ns < cur {
        (cur * 2).min(t.idle_spin_max_ns)
    } else {
        t.idle_spin_min_ns
    });
}

/// What a spinning M found.
enum Spin {
    /// Work in the global queue or our own, a due timer (ours or another P's), or a
    /// `runnext` left unrun: search again.
    Retry,
    /// A P whose ring is backlogged (see [`crate::tune::BACKLOG_NS`]).
    Steal(&'static P),
    /// Nothing for the whole spin.
    Idle,
}

/// One P as watched by a spinning M: its schedtick when the current window began, and when.
#[derive(Clone, Copy)]
struct Watch {
    tick: u32,
    since: u64,
}

/// How long a spinning M watches a P whose ring is empty before it checks whether that P has
/// left a `runnext` unrun all along (its running G readied one and kept computing), in
/// steal windows ([`crate::tune::STEAL_WINDOW_NS`]). Longer than the ring's window: each look
/// reads the P's schedtick line, which a ping-pong writes on every switch.
const RUNNEXT_WINDOWS: u64 = 10;

/// Polls for work for up to the M's spin time: the global queue, our own queue, a due timer
/// (ours or another P's), a `runnext` another P has left unrun through a whole window, or
/// another P's backlogged ring.
fn spin_for_work(m: &'static M, p: POwner<'_>) -> Spin {
    let tune = crate::tune::get();
    let start = crate::clock::nanotime();
    let until = start + m.spin_ns.get();
    let mut next_poll = start + tune.spin_poll_ns;
    let n = SCHED.nallp.load(Ordering::Acquire);
    let mut watch: Vec<Watch> = (0..n)
        .map(|i| Watch {
            tick: sched::p_at(i).map_or(0, |p2| p2.schedtick.load(Ordering::Relaxed)),
            since: start,
        })
        .collect();
    loop {
        if SCHED.runqsize.load(Ordering::Relaxed) > 0 || !p.runq.is_empty() {
            return Spin::Retry;
        }
        let now = crate::clock::nanotime();
        if p.timers.next_when.load(Ordering::Relaxed) <= now {
            return Spin::Retry;
        }
        if crate::netpoll::should_poll() && now >= next_poll {
            next_poll = now + tune.spin_poll_ns;
            let mut list = Vec::new();
            crate::netpoll::netpoll(None, &mut list);
            if !list.is_empty() {
                crate::netpoll::inject(&list, Some(p));
                return Spin::Retry;
            }
        }
        for (i, w) in watch.iter_mut().enumerate() {
            let Some(p2) = sched::p_at(i) else { continue };
            if std::ptr::eq(p2, p.p()) {
                continue;
            }
            if p2.timers.next_when.load(Ordering::Relaxed) <= now {
                return Spin::Retry;
            }
            let len = p2.runq.ring_len() as u64;
            let elapsed = now.saturating_sub(w.since);
            let window = if len > 0 {
                tune.steal_window_ns
            } else {
                RUNNEXT_WINDOWS * tune.steal_window_ns
            };
            if elapsed < window {
                continue;
            }
            let tick = p2.schedtick.load(Ordering::Relaxed);
            let switches = tick.wrapping_sub(w.tick);
            if len > 0 {
                if backlogged(len, elapsed, switches, tune.backlog_ns) {
                    return Spin::Steal(p2);
                }
            } else if switches == 0 && !p2.runq.is_empty() {
                // A runnext left unrun for a whole window: steal_work takes it.
                return Spin::Retry;
            }
            *w = Watch { tick, since: now };
        }
        if now >= until {
            return Spin::Idle;
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
        let s = 1 + m.rng.below(n);
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
pub(crate) fn gosched_put(p: POwner<'_>, g: &'static G) {
    if SCHED.runqsize.load(Ordering::Relaxed) == 0 {
        sched::runqput(p, g, false);
    } else {
        sched::globrunqput(g);
    }
}

/// Retires `p` after a `gomaxprocs` decrease: its queued Gs go to the global queue, its
/// timers to P0, its free Gs to the global free list. The decision is re-made under the idle
/// lock, which `gomaxprocs` also holds, so a concurrent increase cannot strand the P.
fn retire(rt: &mut Rt, p: &'static P) {
    let m = rt.m();
    let mut gs = Vec::new();
    {
        let o = rt.owner().expect("retire: M without P");
        debug_assert!(std::ptr::eq(o.p(), p));
        o.runq().drain(&mut gs);
        sched::gfpurge(o);
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
    m::releasep(rt);
    p.status.store(P_DEAD, Ordering::Relaxed);
    let p2 = sched::pidleget(&mut idle);
    drop(idle);
    if m.spinning.replace(false) {
        SCHED.nmspinning.fetch_sub(1, Ordering::SeqCst);
    }
    if let Some(p2) = p2 {
        m::acquirep(rt, p2);
    }
    // Work we moved out may need another M.
    fence(Ordering::SeqCst);
    sched::wakep();
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::tune::{BACKLOG_NS, IDLE_SPIN_MAX_NS, IDLE_SPIN_MIN_NS, STEAL_WINDOW_NS};

    #[test]
    fn a_stuck_p_is_stolen_from() {
        assert!(backlogged(1, STEAL_WINDOW_NS, 0, BACKLOG_NS));
        assert!(
            !backlogged(0, STEAL_WINDOW_NS, 0, BACKLOG_NS),
            "nothing to steal"
        );
    }

    #[test]
    fn a_p_cycling_through_short_goroutines_keeps_them() {
        // W5's shape: a handful of goroutines switching every ~150 ns.
        assert!(!backlogged(6, 3_000, 20, BACKLOG_NS));
        // Just under and at the backlog bound.
        assert!(!backlogged(19, 3_000, 3, BACKLOG_NS));
        assert!(backlogged(20, 3_000, 3, BACKLOG_NS));
    }

    #[test]
    fn a_long_backlog_is_shared() {
        // 256 goroutines of ~200 ns each: 51 us of queued work.
        assert!(backlogged(256, 3_000, 15, BACKLOG_NS));
        // Few goroutines, but each runs long.
        assert!(backlogged(2, 30_000, 2, BACKLOG_NS));
    }

    #[test]
    fn spin_time_adapts() {
        let spin = std::cell::Cell::new(IDLE_SPIN_MIN_NS);
        adapt_spin(&spin, 1_000);
        assert_eq!(spin.get(), 2 * IDLE_SPIN_MIN_NS, "woken soon: spin longer");
        for _ in 0..20 {
            adapt_spin(&spin, 0);
        }
        assert_eq!(spin.get(), IDLE_SPIN_MAX_NS, "capped");
        adapt_spin(&spin, IDLE_SPIN_MAX_NS);
        assert_eq!(spin.get(), IDLE_SPIN_MIN_NS, "a long sleep resets it");
    }
}
