//! Per-P timer heaps (Go 1.14+'s design): `sleep`, `park_until` and `after_func` timers live
//! in the heap of the P that created them.
//!
//! # Who runs timers
//! * Every scheduling decision on a P looks at its `next_when` (one atomic load) and runs the
//!   expired timers ([`check`]).
//! * A spinning M runs other Ps' expired timers in its last steal round, so timers of an idle
//!   P still fire.
//! * When every M is idle, one of them is the "timer sleeper": it sleeps on its futex only
//!   until the earliest timer of any P ([`crate::sched`]'s `stopm`). Adding a timer earlier
//!   than that deadline wakes it ([`notify_added`]).
//!
//! # Cancelling
//! A `park_until` that returns early leaves its entry in the heap; the entry is recognised as
//! stale by the G's `timer_seq` and dropped when it surfaces. To stop stale entries from
//! piling up (a select with a long timeout in a hot loop), each heap counts cancellations and
//! rebuilds itself when more than a quarter of its entries are stale (as Go's `adjusttimers`
//! did).
//!
//! # Callback timers
//! [`CallbackTimer`] is the low-level timer under goro's timer channels (`time::Timer`,
//! `Ticker`, `after`, `tick`): a callback run *on the scheduler* (g0) when the timer fires,
//! optionally periodic, with `reset`/`stop`. Unlike [`after_func`] it spawns no goroutine per
//! fire, so a ticker costs one heap entry and one short callback per tick. The price is the
//! callback's contract: it runs on an M's g0 stack in the middle of a scheduling decision, so
//! it must not park, block for long or panic (a panic aborts the process).
//!
//! Each arming of a callback timer has a unique token, stored in the timer's `live` word and
//! in its heap entry; `stop` and `reset` replace `live`, which makes the old entry stale (it is
//! counted as deleted in the heap it sits in, so the rebuild above removes it). The callback
//! sits behind a mutex that `fire`, `stop` and `reset` all take: once `stop` or `reset` has
//! returned, no callback of an earlier arming is running or will run. That is what lets
//! `time::Timer::stop` drain its channel and promise that no stale value arrives afterwards
//! (Go 1.23's timer channel semantics).
//!
//! # `after_func` timers
//! An [`AfterFunc`] uses the same token scheme without the run lock: its `live` word holds
//! the token of its pending entry (0: not pending). A firing claims its arming with one
//! compare-and-swap from its token to 0 and only then spawns the goroutine; `stop` swaps in
//! 0 and `reset` swaps in a fresh token before adding the new entry. Whichever of a firing
//! and a `stop`/`reset` swaps first wins: the other sees that it lost (the firing's CAS
//! fails, or the swap returns 0), so each arming runs `f` at most once, and a `reset` that
//! returns true has cancelled the arming it replaced. No lock is needed because nothing
//! waits for a running `f` (Go's `AfterFunc` does not either: runs may overlap).

use crate::clock;
use crate::g::G;
use std::cmp::Ordering as CmpOrdering;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// What to do when a timer fires.
pub(crate) enum TimerKind {
    /// Unpark generation `generation` of `g`, if its `timer_seq` still equals `seq`.
    Wake {
        g: &'static G,
        generation: u64,
        seq: u64,
    },
    /// Run an `after_func` callback (in a new goroutine) if `token` is still its live
    /// arming.
    Func { t: Arc<FuncTimer>, token: u64 },
    /// Run a [`CallbackTimer`]'s callback on g0, if `token` is still its live arming; re-arm
    /// at the next multiple of `period` after now if `period > 0`.
    Callback {
        t: Arc<CallbackInner>,
        token: u64,
        when: u64,
        period: u64,
    },
}

/// Shared state of an `after_func` timer (see "`after_func` timers" in the module docs).
pub(crate) struct FuncTimer {
    /// Token of the pending heap entry, 0 when not pending (fired or stopped).
    live: AtomicU64,
    /// Index of the P whose heap received the live entry, to count it deleted there when it
    /// goes stale (a heuristic, as for callback timers).
    heap: AtomicUsize,
    /// The callback; each firing runs it in a new goroutine (which holds the entry's
    /// `Arc<FuncTimer>`). Kept while any handle or heap entry is, since `reset` may run it
    /// again.
    f: Box<dyn Fn() + Send + Sync>,
}

struct Entry {
    when: u64,
    id: u64,
    kind: TimerKind,
}

impl Entry {
    fn is_stale(&self) -> bool {
        match &self.kind {
            TimerKind::Wake {
                g, generation, seq, ..
            } => g.timer_seq.load(Ordering::Relaxed) != *seq || g.park.generation() != *generation,
            TimerKind::Func { t, token } => t.live.load(Ordering::Relaxed) != *token,
            TimerKind::Callback { t, token, .. } => t.live.load(Ordering::Relaxed) != *token,
        }
    }
}

impl PartialEq for Entry {
    fn eq(&self, o: &Self) -> bool {
        (self.when, self.id) == (o.when, o.id)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, o: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(o))
    }
}
impl Ord for Entry {
    /// Reversed: BinaryHeap is a max-heap and we want the earliest timer on top.
    fn cmp(&self, o: &Self) -> CmpOrdering {
        (o.when, o.id).cmp(&(self.when, self.id))
    }
}

/// One P's timers.
pub(crate) struct TimerHeap {
    heap: Mutex<BinaryHeap<Entry>>,
    /// Earliest `when` in the heap, `u64::MAX` if empty: lets the scheduler skip the lock.
    pub(crate) next_when: AtomicU64,
    /// Entries known to be cancelled but still in the heap.
    deleted: AtomicUsize,
}

static TIMER_ID: AtomicU64 = AtomicU64::new(0);

impl TimerHeap {
    pub(crate) fn new() -> TimerHeap {
        TimerHeap {
            heap: Mutex::new(BinaryHeap::new()),
            next_when: AtomicU64::new(u64::MAX),
            deleted: AtomicUsize::new(0),
        }
    }

    /// Adds a timer firing at `when` (nanoseconds on the runtime clock).
    pub(crate) fn add(&self, when: u64, kind: TimerKind) {
        // u64::MAX is `next_when`'s "no timer": the latest real timer is MAX_WHEN.
        let when = when.min(clock::MAX_WHEN);
        let id = TIMER_ID.fetch_add(1, Ordering::Relaxed);
        let mut h = self.heap.lock().unwrap_or_else(|e| e.into_inner());
        // Stale entries are dropped after unlocking: dropping one may drop a user closure,
        // whose Drop may add a timer to this very heap.
        let mut stale = Vec::new();
        if self.deleted.load(Ordering::Relaxed) > 64
            && self.deleted.load(Ordering::Relaxed) > h.len() / 4
        {
            let (keep, dead): (Vec<Entry>, Vec<Entry>) = std::mem::take(&mut *h)
                .into_iter()
                .partition(|e| !e.is_stale());
            *h = BinaryHeap::from(keep);
            stale = dead;
            self.deleted.store(0, Ordering::Relaxed);
        }
        h.push(Entry { when, id, kind });
        let top = h.peek().map_or(u64::MAX, |e| e.when);
        self.next_when.store(top, Ordering::SeqCst);
        drop(h);
        drop(stale);
        notify_added(when);
    }

    /// Notes that one entry of this heap has been cancelled.
    pub(crate) fn note_deleted(&self) {
        self.deleted.fetch_add(1, Ordering::Relaxed);
    }

    /// Removes the timers due at `now` and returns them for firing outside the lock.
    fn take_expired(&self, now: u64, out: &mut Vec<TimerKind>) {
        let mut stale = Vec::new(); // Dropped after unlocking (see `add`).
        let mut h = self.heap.lock().unwrap_or_else(|e| e.into_inner());
        while let Some(e) = h.peek() {
            if e.when > now {
                break;
            }
            let e = h.pop().expect("peeked");
            if e.is_stale() {
                let d = self.deleted.load(Ordering::Relaxed);
                self.deleted.store(d.saturating_sub(1), Ordering::Relaxed);
                stale.push(e);
                continue;
            }
            out.push(e.kind);
        }
        let top = h.peek().map_or(u64::MAX, |e| e.when);
        self.next_when.store(top, Ordering::SeqCst);
        drop(h);
        drop(stale);
    }

    /// Moves every timer of `self` into `to` (a retired P handing over its timers).
    pub(crate) fn move_to(&self, to: &TimerHeap) {
        let entries: Vec<Entry> = {
            let mut h = self.heap.lock().unwrap_or_else(|e| e.into_inner());
            self.next_when.store(u64::MAX, Ordering::SeqCst);
            h.drain().collect()
        };
        for e in entries {
            if !e.is_stale() {
                to.add(e.when, e.kind);
            }
        }
    }
}

/// Whether a timer in `heap` is due (what [`check`] would fire), without firing it.
#[inline]
pub(crate) fn due(heap: &TimerHeap) -> bool {
    due_now(heap).is_some()
}

/// The current time if a timer in `heap` is due. One atomic load, plus a clock read only if
/// the heap is not empty.
#[inline]
fn due_now(heap: &TimerHeap) -> Option<u64> {
    let next = heap.next_when.load(Ordering::Relaxed);
    if next == u64::MAX {
        return None;
    }
    let now = clock::nanotime();
    (now >= next).then_some(now)
}

/// Runs `heap`'s expired timers, if any. Returns true if any fired. Cheap when none are due
/// (see [`due_now`]).
pub(crate) fn check(heap: &TimerHeap) -> bool {
    let Some(now) = due_now(heap) else {
        return false;
    };
    let mut due = Vec::new();
    heap.take_expired(now, &mut due);
    let fired = !due.is_empty();
    for k in due {
        fire(k);
    }
    fired
}

fn fire(k: TimerKind) {
    match k {
        TimerKind::Wake {
            g, generation, seq, ..
        } => {
            if g.timer_seq.load(Ordering::Relaxed) == seq {
                crate::park::unpark_g(g, generation);
            }
        }
        TimerKind::Func { t, token } => {
            // Claim this arming; a stop or reset that swapped `live` first has cancelled it.
            if t.live
                .compare_exchange(token, 0, Ordering::AcqRel, Ordering::Relaxed)
                .is_err()
            {
                return;
            }
            // The goroutine takes this entry's reference, so that if it is the last one the
            // user's closure is dropped there rather than here on g0.
            crate::spawn::newproc(move || (t.f)(), std::panic::Location::caller());
        }
        TimerKind::Callback {
            t,
            token,
            when,
            period,
        } => fire_callback(t, token, when, period),
    }
}

/// The earliest timer of any P (`u64::MAX` if none).
pub(crate) fn earliest() -> u64 {
    let mut min = u64::MAX;
    crate::sched::for_each_p(|p| {
        min = min.min(p.timers.next_when.load(Ordering::SeqCst));
    });
    min
}

/// A timer at `when` was added: make sure some M will be awake for it.
fn notify_added(when: u64) {
    crate::sched::timer_added(when);
}

/// A timer created by [`after_func`] (Go's `*time.Timer` from `time.AfterFunc`):
/// [`stop`](AfterFunc::stop) cancels it, [`reset`](AfterFunc::reset) re-arms it.
///
/// Clones are handles to the same timer.
///
/// ```
/// use std::sync::mpsc;
/// use std::time::Duration;
/// let (tx, rx) = mpsc::channel();
/// let t = runtime::after_func(Duration::from_secs(3600), move || tx.send(()).unwrap());
/// assert!(t.reset(Duration::from_millis(1)), "it was pending: the hour-long wait is cancelled");
/// rx.recv().unwrap(); // f ran once, about 1 ms after the reset
/// assert!(!t.stop(), "it had fired");
/// ```
#[derive(Clone)]
pub struct AfterFunc {
    inner: Arc<FuncTimer>,
}

impl std::fmt::Debug for AfterFunc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AfterFunc")
            .field("pending", &(self.inner.live.load(Ordering::Relaxed) != 0))
            .finish()
    }
}

impl FuncTimer {
    /// The entry that was live has gone stale: count it in its heap.
    fn note_stale(&self) {
        if let Some(p) = crate::sched::p_at(self.heap.load(Ordering::Relaxed)) {
            p.timers.note_deleted();
        }
    }
}

impl AfterFunc {
    /// Prevents the pending run of the callback. Returns true if this call stopped it, false
    /// if the timer had already fired (its goroutine was started) or been stopped, like Go's
    /// `Timer.Stop`. It does not wait for a run already started.
    ///
    /// ```
    /// use std::time::Duration;
    /// let t = runtime::after_func(Duration::from_secs(3600), || unreachable!());
    /// assert!(t.stop());
    /// assert!(!t.stop(), "already stopped");
    /// ```
    pub fn stop(&self) -> bool {
        let t = &self.inner;
        // AcqRel: pairs with the firing's compare-and-swap and with `reset`'s swap.
        let old = t.live.swap(0, Ordering::AcqRel);
        if old != 0 {
            // Let the heap count the entry as stale so a long stopped timer does not linger
            // in a busy heap.
            t.note_stale();
        }
        old != 0
    }

    /// Re-arms the timer to run the callback (again) `d` from now, in a new goroutine, as
    /// Go's `Timer.Reset` does for an `AfterFunc` timer. Returns true if the timer was
    /// pending (that run is cancelled: the callback runs once, at the new time), false if it
    /// had fired or been stopped. A run started before the reset is not waited for, so runs
    /// may overlap, as in Go.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::time::Duration;
    /// let runs = Arc::new(AtomicUsize::new(0));
    /// let r = runs.clone();
    /// let t = runtime::after_func(Duration::ZERO, move || {
    ///     r.fetch_add(1, Ordering::SeqCst);
    /// });
    /// while runs.load(Ordering::SeqCst) == 0 {
    ///     std::thread::sleep(Duration::from_millis(1));
    /// }
    /// assert!(!t.reset(Duration::ZERO), "it had fired");
    /// while runs.load(Ordering::SeqCst) == 1 {
    ///     std::thread::sleep(Duration::from_millis(1));
    /// }
    /// ```
    pub fn reset(&self, d: std::time::Duration) -> bool {
        let t = &self.inner;
        let token = next_token();
        let when = clock::nanotime().saturating_add(nanos(d));
        let (idx, heap) = heap_here();
        // The swap both cancels the old arming (its entry is now stale: a firing's CAS
        // fails) and tells whether it was still pending (the firing had not claimed it).
        let old = t.live.swap(token, Ordering::AcqRel);
        if old != 0 {
            t.note_stale();
        }
        t.heap.store(idx, Ordering::Relaxed);
        // The new entry cannot fire before it is in the heap; a stop or reset racing with us
        // just makes it stale.
        heap.add(
            when,
            TimerKind::Func {
                t: t.clone(),
                token,
            },
        );
        old != 0
    }
}

/// Runs `f` in its own goroutine once `d` has elapsed (Go's `time.AfterFunc`). `f` is `Fn`
/// because [`AfterFunc::reset`] may run it again, and runs may overlap (each in its own
/// goroutine), as in Go.
///
/// ```
/// use std::sync::mpsc;
/// let (tx, rx) = mpsc::channel();
/// let _t = runtime::after_func(std::time::Duration::from_millis(5), move || tx.send(1).unwrap());
/// assert_eq!(rx.recv().unwrap(), 1);
/// ```
pub fn after_func(d: std::time::Duration, f: impl Fn() + Send + Sync + 'static) -> AfterFunc {
    crate::sched::ensure_init();
    let t = AfterFunc {
        inner: Arc::new(FuncTimer {
            live: AtomicU64::new(0),
            heap: AtomicUsize::new(0),
            f: Box::new(f),
        }),
    };
    t.reset(d);
    t
}

// ---- callback timers ---------------------------------------------------------------------

/// Shared state of a [`CallbackTimer`] (see "Callback timers" in the module docs).
pub(crate) struct CallbackInner {
    /// Token of the armed heap entry, 0 when disarmed. Entries with another token are stale.
    live: AtomicU64,
    /// Index of the P whose heap received the live entry, to count it deleted there when
    /// it goes stale. (A retiring P moves its entries elsewhere; the count is a heuristic.)
    heap: AtomicUsize,
    /// The callback. Its lock is the run lock: `fire` holds it while checking the token and
    /// running the callback; `stop` and `reset` hold it while replacing the token.
    f: Mutex<Box<dyn FnMut() -> bool + Send>>,
}

/// Tokens of callback-timer armings; 0 means "disarmed", so they start at 1.
static CALLBACK_TOKEN: AtomicU64 = AtomicU64::new(1);

fn next_token() -> u64 {
    CALLBACK_TOKEN.fetch_add(1, Ordering::Relaxed)
}

/// The heap a new entry goes to (the current P's, else P0's) and its P's index.
fn heap_here() -> (usize, &'static TimerHeap) {
    match crate::m::current_p() {
        Some(p) => (p.id, &p.timers),
        None => (
            0,
            &crate::sched::p_at(0).expect("runtime initialised").timers,
        ),
    }
}

fn nanos(d: std::time::Duration) -> u64 {
    d.as_nanos().min(u64::MAX as u128) as u64
}

impl CallbackInner {
    fn lock(&self) -> std::sync::MutexGuard<'_, Box<dyn FnMut() -> bool + Send>> {
        self.f.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The live entry, if any, has gone stale: count it in its heap.
    /// Precondition: the run lock is held (it orders `heap` with `live`).
    fn note_stale(&self) {
        if let Some(p) = crate::sched::p_at(self.heap.load(Ordering::Relaxed)) {
            p.timers.note_deleted();
        }
    }
}

/// Fires one callback-timer entry, on g0 (from [`check`]).
fn fire_callback(t: Arc<CallbackInner>, token: u64, when: u64, period: u64) {
    let mut f = t.lock();
    let next = if period == 0 { 0 } else { next_token() };
    // AcqRel: pairs with the swap in stop/reset (which hold the same lock; the atomic is for
    // the lock-free staleness checks in the heap).
    if t.live
        .compare_exchange(token, next, Ordering::AcqRel, Ordering::Relaxed)
        .is_err()
    {
        return; // Stopped or reset since this entry was armed.
    }
    // Periodic (period > 0): re-arm before running the callback, so a stop from another
    // thread after this point sees the timer pending and disarms the new entry.
    if let Some(behind) = clock::nanotime().saturating_sub(when).checked_div(period) {
        // Go's ticker catch-up: the first tick on the original grid that is after now, so a
        // late M skips missed ticks instead of firing a burst.
        let at = when.saturating_add(period.saturating_mul(behind.saturating_add(1)));
        let (idx, heap) = heap_here();
        t.heap.store(idx, Ordering::Relaxed);
        heap.add(
            at,
            TimerKind::Callback {
                t: t.clone(),
                token: next,
                when: at,
                period,
            },
        );
    }
    let keep = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (*f)())) {
        Ok(keep) => keep,
        Err(_) => {
            diag!("goro: a CallbackTimer callback panicked on the scheduler; aborting");
            std::process::abort();
        }
    };
    if !keep
        && period != 0
        && t.live
            .compare_exchange(next, 0, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
    {
        t.note_stale();
    }
}

/// A low-level, reusable timer that runs a callback **on the scheduler** when it fires:
/// once after a delay ([`reset`](CallbackTimer::reset)), or periodically
/// ([`reset_periodic`](CallbackTimer::reset_periodic)). It is what goro's timer channels are
/// made of; most code wants those (or [`after_func`]) instead.
///
/// # The callback's contract
/// The callback runs on an M's scheduler stack (g0), between two goroutines, holding the
/// timer's run lock. It must therefore:
/// * not park or block for long: no channel `send`/`recv`, no goro or std lock that may be
///   held for long, no sleep. Non-blocking operations (`try_send`, `Waiter::unpark`,
///   spawning a goroutine with [`go`](crate::go())) are fine;
/// * not panic: a panic aborts the process (there is no goroutine to unwind);
/// * not call `stop`/`reset` on its own timer (that would deadlock on the run lock). A
///   periodic timer's callback returns `false` to disarm it instead; a one-shot timer's
///   return value is ignored.
///
/// # Guarantees
/// After [`stop`](CallbackTimer::stop) or [`reset`](CallbackTimer::reset) returns, no callback
/// of an earlier arming is running or will run. Dropping the handle does not stop the timer:
/// an armed entry keeps the callback alive until it fires (periodic: until stopped or
/// disarmed by its callback).
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// let ticks = Arc::new(AtomicUsize::new(0));
/// let t2 = ticks.clone();
/// let t = runtime::CallbackTimer::new(move || t2.fetch_add(1, Ordering::Relaxed) + 1 < 3);
/// t.reset_periodic(Duration::from_millis(1), Duration::from_millis(1));
/// while t.is_pending() {
///     std::thread::sleep(Duration::from_millis(1));
/// }
/// assert_eq!(ticks.load(Ordering::Relaxed), 3); // the third call returned false
/// ```
#[derive(Clone)]
pub struct CallbackTimer {
    inner: Arc<CallbackInner>,
}

impl std::fmt::Debug for CallbackTimer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackTimer")
            .field("pending", &self.is_pending())
            .finish()
    }
}

impl CallbackTimer {
    /// A timer that will run `f` when it fires; it is not armed yet. See the type's docs for
    /// what `f` may do, and for its return value.
    pub fn new(f: impl FnMut() -> bool + Send + 'static) -> CallbackTimer {
        CallbackTimer {
            inner: Arc::new(CallbackInner {
                live: AtomicU64::new(0),
                heap: AtomicUsize::new(0),
                f: Mutex::new(Box::new(f)),
            }),
        }
    }

    /// Arms the timer to fire once, `d` from now (at once, at the next scheduling point, if
    /// `d` is zero), replacing any pending arming. Returns whether one was pending.
    pub fn reset(&self, d: std::time::Duration) -> bool {
        self.arm(nanos(d), 0)
    }

    /// Arms the timer to fire `first` from now and then every `period`, replacing any pending
    /// arming; returns whether one was pending. A late tick skips the ticks it missed (as
    /// Go's tickers do).
    ///
    /// # Panics
    /// If `period` is zero.
    pub fn reset_periodic(&self, first: std::time::Duration, period: std::time::Duration) -> bool {
        assert!(
            !period.is_zero(),
            "CallbackTimer::reset_periodic: zero period"
        );
        self.arm(nanos(first), nanos(period).max(1))
    }

    /// Disarms the timer. Returns whether it was pending (false if it had fired, as a
    /// one-shot timer, or was already stopped). Waits for a running callback to finish.
    pub fn stop(&self) -> bool {
        let t = &self.inner;
        let _run = t.lock();
        let old = t.live.swap(0, Ordering::AcqRel);
        if old != 0 {
            t.note_stale();
        }
        old != 0
    }

    /// Whether the timer is armed (a one-shot that has not fired, or a periodic timer that
    /// has not been stopped).
    pub fn is_pending(&self) -> bool {
        self.inner.live.load(Ordering::Acquire) != 0
    }

    fn arm(&self, d: u64, period: u64) -> bool {
        crate::sched::ensure_init();
        let t = &self.inner;
        let when = clock::nanotime().saturating_add(d);
        let token = next_token();
        let (idx, heap) = heap_here();
        let was_pending = {
            let _run = t.lock();
            let old = t.live.swap(token, Ordering::AcqRel);
            if old != 0 {
                t.note_stale();
            }
            t.heap.store(idx, Ordering::Relaxed);
            old != 0
        };
        // Outside the run lock: the entry cannot fire before it is in the heap, and a stop
        // racing with us just makes it stale (and counts it).
        heap.add(
            when,
            TimerKind::Callback {
                t: t.clone(),
                token,
                when,
                period,
            },
        );
        was_pending
    }
}

#[cfg(all(test, not(loom)))]
mod callback_tests {
    use super::CallbackTimer;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    fn counter() -> (Arc<AtomicUsize>, CallbackTimer) {
        let n = Arc::new(AtomicUsize::new(0));
        let n2 = n.clone();
        let t = CallbackTimer::new(move || {
            n2.fetch_add(1, Ordering::SeqCst);
            true
        });
        (n, t)
    }

    /// Polls `cond` for up to 10 s (these tests must not hang).
    fn eventually(mut cond: impl FnMut() -> bool) -> bool {
        let end = Instant::now() + Duration::from_secs(10);
        while Instant::now() < end {
            if cond() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        false
    }

    #[test]
    fn one_shot_fires_once_and_is_no_longer_pending() {
        let (n, t) = counter();
        assert!(!t.reset(Duration::from_millis(2)), "nothing was pending");
        assert!(eventually(|| n.load(Ordering::SeqCst) == 1), "fired");
        assert!(eventually(|| !t.is_pending()));
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(n.load(Ordering::SeqCst), 1, "a one-shot fires once");
        assert!(!t.stop(), "stop after firing reports nothing pending");
    }

    #[test]
    fn stop_before_firing_prevents_the_callback() {
        let (n, t) = counter();
        t.reset(Duration::from_millis(30));
        assert!(t.stop(), "it was pending");
        assert!(!t.stop(), "a second stop finds nothing pending");
        std::thread::sleep(Duration::from_millis(80));
        assert_eq!(n.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn reset_replaces_the_pending_arming() {
        let (n, t) = counter();
        t.reset(Duration::from_millis(10));
        assert!(
            t.reset(Duration::from_millis(60)),
            "the first arming was pending"
        );
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(n.load(Ordering::SeqCst), 0, "the first arming was replaced");
        assert!(eventually(|| n.load(Ordering::SeqCst) == 1));
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(n.load(Ordering::SeqCst), 1, "only the second arming fired");
    }

    #[test]
    fn periodic_repeats_until_stopped() {
        let (n, t) = counter();
        t.reset_periodic(Duration::from_millis(1), Duration::from_millis(1));
        assert!(eventually(|| n.load(Ordering::SeqCst) >= 5), "ticks repeat");
        assert!(t.stop(), "a periodic timer stays pending");
        let after = n.load(Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(
            n.load(Ordering::SeqCst),
            after,
            "no tick after stop returned"
        );
    }

    #[test]
    fn stop_waits_for_a_running_callback() {
        let running = Arc::new(AtomicUsize::new(0));
        let r2 = running.clone();
        let t = CallbackTimer::new(move || {
            r2.store(1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(30)); // Long for a callback; a test.
            r2.store(2, Ordering::SeqCst);
            true
        });
        t.reset(Duration::ZERO);
        assert!(eventually(|| running.load(Ordering::SeqCst) >= 1));
        t.stop();
        assert_eq!(
            running.load(Ordering::SeqCst),
            2,
            "stop returned mid-callback"
        );
    }

    #[test]
    fn resetting_in_a_loop_does_not_grow_the_heap() {
        let (_n, t) = counter();
        for _ in 0..100_000 {
            t.reset(Duration::from_secs(3600));
        }
        // From a plain thread every arming lands in P0's heap; stale ones are counted and
        // the heap rebuilds itself, so it holds about one live entry (plus other tests').
        let p0 = crate::sched::p_at(0).expect("runtime initialised");
        let len = p0.timers.heap.lock().unwrap().len();
        assert!(
            len < 1_000,
            "P0's heap holds {len} entries after 100,000 resets"
        );
        assert!(t.stop());
    }
}
