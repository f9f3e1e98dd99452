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

use crate::clock;
use crate::g::G;
use std::cmp::Ordering as CmpOrdering;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// What to do when a timer fires.
pub(crate) enum TimerKind {
    /// Unpark generation `generation` of `g`, if its `timer_seq` still equals `seq`.
    Wake {
        g: &'static G,
        generation: u64,
        seq: u64,
    },
    /// Run a callback (in a new goroutine) unless stopped first.
    Func(Arc<FuncTimer>),
}

/// Shared state of an `after_func` timer.
pub(crate) struct FuncTimer {
    pub(crate) stopped: AtomicBool,
    pub(crate) f: Mutex<Option<Box<dyn FnOnce() + Send>>>,
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
            TimerKind::Func(f) => f.stopped.load(Ordering::Relaxed),
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
        let id = TIMER_ID.fetch_add(1, Ordering::Relaxed);
        let mut h = self.heap.lock().unwrap_or_else(|e| e.into_inner());
        if self.deleted.load(Ordering::Relaxed) > 64
            && self.deleted.load(Ordering::Relaxed) > h.len() / 4
        {
            h.retain(|e| !e.is_stale());
            self.deleted.store(0, Ordering::Relaxed);
        }
        h.push(Entry { when, id, kind });
        let top = h.peek().map_or(u64::MAX, |e| e.when);
        self.next_when.store(top, Ordering::SeqCst);
        drop(h);
        notify_added(when);
    }

    /// Notes that one entry of this heap has been cancelled.
    pub(crate) fn note_deleted(&self) {
        self.deleted.fetch_add(1, Ordering::Relaxed);
    }

    /// Removes the timers due at `now` and returns them for firing outside the lock.
    fn take_expired(&self, now: u64, out: &mut Vec<TimerKind>) {
        let mut h = self.heap.lock().unwrap_or_else(|e| e.into_inner());
        while let Some(e) = h.peek() {
            if e.when > now {
                break;
            }
            let e = h.pop().expect("peeked");
            if e.is_stale() {
                let d = self.deleted.load(Ordering::Relaxed);
                self.deleted.store(d.saturating_sub(1), Ordering::Relaxed);
                continue;
            }
            out.push(e.kind);
        }
        let top = h.peek().map_or(u64::MAX, |e| e.when);
        self.next_when.store(top, Ordering::SeqCst);
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

/// Runs `heap`'s expired timers, if any. Returns true if any fired. Cheap when none are due:
/// one atomic load, plus a clock read only if the heap is not empty.
pub(crate) fn check(heap: &TimerHeap) -> bool {
    let next = heap.next_when.load(Ordering::Relaxed);
    if next == u64::MAX {
        return false;
    }
    let now = clock::nanotime();
    if now < next {
        return false;
    }
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
        TimerKind::Func(t) => {
            if t.stopped.swap(true, Ordering::AcqRel) {
                return;
            }
            let f = t.f.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(f) = f {
                crate::spawn::go_internal(f, std::panic::Location::caller());
            }
        }
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

/// A callback timer created by [`after_func`]; [`AfterFunc::stop`] cancels it.
#[derive(Clone)]
pub struct AfterFunc {
    inner: Arc<FuncTimer>,
}

impl std::fmt::Debug for AfterFunc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AfterFunc")
            .field(
                "stopped_or_fired",
                &self.inner.stopped.load(Ordering::Relaxed),
            )
            .finish()
    }
}

impl AfterFunc {
    /// Prevents the callback from running. Returns true if this call stopped it, false if it
    /// had already started (or been stopped), like Go's `Timer.Stop`.
    pub fn stop(&self) -> bool {
        !self.inner.stopped.swap(true, Ordering::AcqRel)
    }
}

/// Runs `f` in its own goroutine once `d` has elapsed (Go's `time.AfterFunc`).
///
/// ```
/// use std::sync::mpsc;
/// let (tx, rx) = mpsc::channel();
/// let _t = runtime::after_func(std::time::Duration::from_millis(5), move || tx.send(1).unwrap());
/// assert_eq!(rx.recv().unwrap(), 1);
/// ```
pub fn after_func(d: std::time::Duration, f: impl FnOnce() + Send + 'static) -> AfterFunc {
    crate::sched::ensure_init();
    let inner = Arc::new(FuncTimer {
        stopped: AtomicBool::new(false),
        f: Mutex::new(Some(Box::new(f))),
    });
    let when = clock::nanotime().saturating_add(d.as_nanos().min(u64::MAX as u128) as u64);
    crate::sched::timer_heap_here().add(when, TimerKind::Func(inner.clone()));
    AfterFunc { inner }
}
