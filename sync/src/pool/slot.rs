//! A pool's slots (one per P, each a `primary` and a `victim` stack under a spin lock), the
//! part of a pool the cleanup tick sweeps, and plain threads' slot hints.

use super::cleanup::ARMED;
use super::spinlock::{SpinGuard, SpinLock};
use runtime::__kit::CachePadded;
use std::sync::atomic::{AtomicUsize, Ordering};

/// One P's cache; each is wrapped in [`CachePadded`] (alone on its cache lines) so Ps do not
/// false-share.
pub(super) struct Slot<T> {
    pub(super) cache: SpinLock<Cache<T>>,
    /// `primary.len() + victim.len()`, written under the lock; read without it by stealers
    /// (to skip empty slots) and by [`Pool::len`].
    pub(super) count: AtomicUsize,
}

pub(super) struct Cache<T> {
    pub(super) primary: Vec<T>,
    pub(super) victim: Vec<T>,
}

impl<T> Slot<T> {
    pub(super) fn new() -> Slot<T> {
        Slot {
            cache: SpinLock::new(Cache {
                primary: Vec::new(),
                victim: Vec::new(),
            }),
            count: AtomicUsize::new(0),
        }
    }

    #[inline]
    pub(super) fn lock(&self) -> SpinGuard<'_, Cache<T>> {
        self.cache.lock()
    }

    /// Records the cache's size. Precondition: `c` is this slot's locked cache.
    #[inline]
    pub(super) fn set_count(&self, c: &Cache<T>) {
        // Relaxed: a hint for stealers and `len`; the lock orders the data itself.
        self.count
            .store(c.primary.len() + c.victim.len(), Ordering::Relaxed);
    }

    /// Pops from `primary`, then `victim`.
    #[inline]
    pub(super) fn pop(&self, mut c: SpinGuard<'_, Cache<T>>) -> Option<T> {
        let v = c.primary.pop().or_else(|| c.victim.pop());
        if v.is_some() {
            self.set_count(&c);
        }
        v
    }
}

/// The part of a pool the cleanup registry holds (weakly) and the tick sweeps.
pub(super) struct Shared<T> {
    pub(super) slots: Box<[CachePadded<Slot<T>>]>,
    /// `slots.len() - 1` (the length is a power of two).
    pub(super) mask: usize,
    pub(super) per_proc: usize,
    pub(super) new: Box<dyn Fn() -> T + Send + Sync>,
}

/// What the cleanup tick sees of a pool, whatever its `T`.
pub(super) trait Sweep: Send + Sync {
    /// One cleanup tick: drops every slot's victims and moves its primary values to victim.
    /// Returns whether the pool still holds values.
    fn sweep(&self) -> bool;
}

impl<T: Send> Sweep for Shared<T> {
    fn sweep(&self) -> bool {
        let mut holds = false;
        for slot in self.slots.iter() {
            let mut c = slot.lock();
            let dead = std::mem::take(&mut c.victim);
            let Cache { primary, victim } = &mut *c;
            std::mem::swap(primary, victim);
            holds |= !c.victim.is_empty();
            slot.set_count(&c);
            drop(c);
            drop(dead); // Outside the lock: a value's Drop may park.
        }
        holds
    }
}

impl<T> Shared<T> {
    /// The slot of the calling goroutine's P, or the calling thread's slot.
    #[inline]
    pub(super) fn home(&self) -> usize {
        let hint = runtime::__sync::current_proc().unwrap_or_else(thread_hint);
        hint & self.mask
    }

    /// A cached value, if any slot has one.
    #[inline]
    pub(super) fn pop(&self) -> Option<T> {
        let home = self.home();
        let own = &self.slots[home];
        if own.count.load(Ordering::Relaxed) > 0
            && let Some(v) = own.pop(own.lock())
        {
            return Some(v);
        }
        self.steal(home)
    }

    /// A value from a slot other than `home`. Never waits for another slot's lock, and skips
    /// slots that look empty. Out of line: the common get finds its own slot non-empty.
    #[inline(never)]
    pub(super) fn steal(&self, home: usize) -> Option<T> {
        for i in 1..self.slots.len() {
            let slot = &self.slots[(home + i) & self.mask];
            if slot.count.load(Ordering::Relaxed) == 0 {
                continue;
            }
            if let Some(v) = slot.cache.try_lock().and_then(|c| slot.pop(c)) {
                return Some(v);
            }
        }
        None
    }

    /// Caches `value` in the caller's slot. Returns what has to be dropped (the value itself
    /// when the slot is full, or an evicted victim), to be dropped outside the lock, and
    /// whether the cleanup tick needs arming.
    #[inline]
    pub(super) fn push(&self, value: T) -> (Option<T>, bool) {
        let slot = &self.slots[self.home()];
        let mut c = slot.lock();
        let mut evicted = None;
        if c.primary.len() + c.victim.len() >= self.per_proc {
            match c.victim.pop() {
                Some(old) => evicted = Some(old),
                None => return (Some(value), false),
            }
        }
        c.primary.push(value);
        slot.set_count(&c);
        // Read under the slot lock: see "Arming protocol" in the module docs. Relaxed is
        // enough, the lock supplies the happens-before edge with the tick's clear.
        let armed = ARMED.load(Ordering::Relaxed);
        drop(c);
        (evicted, !armed)
    }

    /// Takes every cached value out (to be dropped by the caller, outside the locks).
    pub(super) fn drain(&self) -> Vec<Vec<T>> {
        let mut out = Vec::new();
        for slot in self.slots.iter() {
            let mut c = slot.lock();
            let primary = std::mem::take(&mut c.primary);
            let victim = std::mem::take(&mut c.victim);
            slot.set_count(&c);
            drop(c);
            out.push(primary);
            out.push(victim);
        }
        out
    }
}

// ---- plain threads -----------------------------------------------------------------------

/// The next plain thread's slot hint.
static NEXT_THREAD_HINT: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// This thread's slot hint, assigned round-robin on first use.
    static THREAD_HINT: usize = NEXT_THREAD_HINT.fetch_add(1, Ordering::Relaxed);
}

fn thread_hint() -> usize {
    // A thread being torn down (a pool used from a TLS destructor) shares slot 0.
    THREAD_HINT.try_with(|h| *h).unwrap_or(0)
}
