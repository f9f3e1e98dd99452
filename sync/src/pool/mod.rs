//! `Pool<T>`: Go's `sync.Pool`, a cache of reusable values with per-P slots and a timed idle
//! policy instead of garbage collection.
//!
//! # Slots
//! A pool is a fixed array of cache-line-aligned slots, one per P (processor) of the runtime,
//! or more exactly `max(GOMAXPROCS, CPUs)` rounded up to a power of two, chosen when the pool
//! is made (Ps beyond that share slots, `p % len`). A goroutine uses the slot of the P it runs
//! on ([`runtime::__sync::current_proc`]); a plain thread uses a slot picked round-robin when the
//! thread first touches any pool. goro never preempts a running goroutine, so a P's slot is
//! used by one goroutine at a time and its lock (a spin lock held for a push or a pop and
//! nothing else, see `SpinLock`) is uncontended unless a plain thread shares the slot or
//! another P steals from it.
//!
//! Each slot holds two LIFO stacks: `primary`, where puts go, and `victim`, which holds the
//! values that were in `primary` at the last cleanup tick. A get pops its own slot's
//! `primary`, then its own `victim`, then tries the other slots (their `primary`, then their
//! `victim`) with `try_lock` only, skipping slots whose count says they are empty, so a get
//! never waits behind another slot's holder; only then does it call the pool's `new` function.
//!
//! # Bounds and the idle policy
//! A slot holds at most `per_proc` values (64 by default), `primary` and `victim` together. A
//! put into a full slot evicts one `victim` value if there is one, and otherwise drops the
//! value being put. The pool as a whole therefore never holds more than
//! [`Pool::capacity`] values.
//!
//! Go empties pools at garbage collection: a GC moves each pool's values to its victim cache
//! and frees the previous victims, so a value survives one GC unused but not two. goro has no
//! GC, so a timer plays its part: every [`POOL_CLEANUP_INTERVAL`] (1 s) a cleanup tick drops
//! every slot's `victim` and moves `primary` to `victim`, in every live pool. A value that no
//! get takes for two ticks (between one and two seconds) is dropped; a value in steady use is
//! taken from `victim` and put back into `primary`, and lives on.
//!
//! The tick is a [`runtime::after_func`] goroutine that re-arms itself only while some pool
//! still holds values, so an idle program has no timer left running. Values are dropped by the
//! tick goroutine outside the slot locks (a `Drop` may park).
//!
//! # Arming protocol
//! `ARMED` is true exactly while a tick is pending that has not yet cleared it. The tick first
//! clears `ARMED`, then sweeps each slot under its lock; a put reads `ARMED` under the slot
//! lock after its push. If the tick locks the slot after the put, it sees the value and re-arms;
//! if before, the tick's clear happens-before the put's read (through the lock), so the put
//! reads false (or a later re-arm) and arms a tick itself. Either way a value in the pool
//! always has a tick coming, without any fence on the put path.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

/// How often the cleanup tick runs: each tick drops the values that were idle through the
/// previous tick, so an unused cached value is dropped between one and two intervals after
/// its last put. Picked to be long next to any get/put cycle and short next to the life of a
/// process; it plays the part of Go's GC cycle.
pub const POOL_CLEANUP_INTERVAL: Duration = Duration::from_secs(1);

/// Values a slot keeps when the pool is made with [`Pool::new`] (picked: enough for a burst
/// of goroutines on one P that each hold a value across a park).
const DEFAULT_PER_PROC: usize = 64;

mod cleanup;
mod slot;
mod spinlock;

use cleanup::{arm, register};
use slot::{Shared, Slot, Sweep};

// ---- the pool ----------------------------------------------------------------------------

/// A cache of reusable values of type `T` (Go's `sync.Pool`), made by a `new` function when
/// the pool is empty.
///
/// [`get`](Pool::get) returns a [`PoolGuard`] that puts the value back when dropped; values
/// can also be given with [`put`](Pool::put). Each P has its own slot, so goroutines on
/// different Ps do not contend; plain threads spread over the same slots.
///
/// A pool is a cache, not a free list with guarantees: a get may return any cached value (not
/// necessarily the last one put) or a fresh one. Values are kept only while they are in use:
///
/// * each slot holds at most `per_proc` values (64 for [`Pool::new`], or as given to
///   [`Pool::with_capacity`]); a put into a full slot drops a value;
/// * a value that nobody takes from the pool for two cleanup ticks
///   ([`POOL_CLEANUP_INTERVAL`], 1 s apart) is dropped, as Go's pools drop values unused across
///   two GCs. The tick runs only while some pool holds values.
///
/// So a value's state must be reset by its user (as in Go), and `T`'s `Drop` runs on the tick's
/// goroutine, on a putting thread, or wherever [`Pool::clear`] or the pool's drop happens. The
/// first put that arms the tick starts goro's runtime if it is not running yet; configure it
/// with `runtime::Builder` before that.
///
/// ```
/// use sync::Pool;
///
/// let buffers = Pool::new(|| Vec::<u8>::with_capacity(4096));
/// let mut b = buffers.get();
/// b.clear(); // a reused value keeps its old contents
/// b.extend_from_slice(b"hello");
/// assert_eq!(&b[..], b"hello");
/// drop(b); // back into the pool
/// assert!(buffers.get().capacity() >= 4096);
/// ```
///
/// `T` must be `Send`: cached values move between threads.
///
/// ```compile_fail
/// let p = sync::Pool::new(|| std::rc::Rc::new(0));
/// ```
pub struct Pool<T> {
    shared: Arc<Shared<T>>,
}

impl<T: Send + 'static> Pool<T> {
    /// A pool that makes values with `new` and keeps up to 64 per P.
    ///
    /// ```
    /// let ids = sync::Pool::new(|| 7u32);
    /// assert_eq!(*ids.get(), 7);
    /// ```
    pub fn new(new: impl Fn() -> T + Send + Sync + 'static) -> Pool<T> {
        Pool::with_capacity(DEFAULT_PER_PROC, new)
    }

    /// A pool that makes values with `new` and keeps at most `per_proc` values in each P's
    /// slot (0: it keeps nothing, and every get calls `new`).
    ///
    /// ```
    /// let p = sync::Pool::with_capacity(2, || 0u8);
    /// for _ in 0..10 {
    ///     p.put(1);
    /// }
    /// assert!(p.len() <= p.capacity());
    /// ```
    pub fn with_capacity(per_proc: usize, new: impl Fn() -> T + Send + Sync + 'static) -> Pool<T> {
        let pool = Pool::unregistered(per_proc, Box::new(new));
        register(Arc::downgrade(&pool.shared) as Weak<dyn Sweep>);
        pool
    }
}

impl<T> Pool<T> {
    /// A pool the cleanup tick does not see (the constructors register it).
    fn unregistered(per_proc: usize, new: Box<dyn Fn() -> T + Send + Sync>) -> Pool<T> {
        // Asking for GOMAXPROCS would start the runtime: do it only if it runs already.
        let procs = match runtime::__sync::current_proc() {
            Some(_) => runtime::gomaxprocs(0),
            None => 1,
        };
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let n = procs.max(cpus).next_power_of_two().min(runtime::MAX_PROCS);
        Pool {
            shared: Arc::new(Shared {
                slots: (0..n)
                    .map(|_| runtime::__kit::CachePadded::new(Slot::new()))
                    .collect(),
                mask: n - 1,
                per_proc,
                new,
            }),
        }
    }

    /// A value from the pool, or a new one if the pool has none; the guard puts it back when
    /// dropped (use [`PoolGuard::take`] to keep it instead).
    ///
    /// The calling P's slot is tried first, then the others; `new` is called, outside any
    /// lock, only when no slot had a value.
    ///
    /// ```
    /// let p = sync::Pool::new(String::new);
    /// {
    ///     let mut s = p.get();
    ///     s.push_str("reused");
    /// } // returned here
    /// assert_eq!(*p.get(), "reused");
    /// ```
    #[inline]
    pub fn get(&self) -> PoolGuard<'_, T> {
        let value = self.shared.pop().unwrap_or_else(|| (self.shared.new)());
        PoolGuard {
            pool: self,
            value: Some(value),
        }
    }

    /// Adds `value` to the calling P's slot (or the calling thread's). If the slot is full,
    /// one of its values idle since the last cleanup tick is dropped to make room, or, if all
    /// are recent, `value` itself is dropped.
    ///
    /// ```
    /// let p = sync::Pool::new(|| 0u64);
    /// p.put(42);
    /// assert_eq!(*p.get(), 42);
    /// ```
    #[inline]
    pub fn put(&self, value: T) {
        let (drop_this, arm_tick) = self.shared.push(value);
        drop(drop_this);
        if arm_tick {
            arm();
        }
    }

    /// The number of cached values (approximate while other threads use the pool).
    ///
    /// ```
    /// let p = sync::Pool::new(|| ());
    /// assert_eq!(p.len(), 0);
    /// p.put(());
    /// assert_eq!(p.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.shared
            .slots
            .iter()
            .map(|s| s.count.load(Ordering::Relaxed))
            .sum()
    }

    /// Whether the pool caches no value (approximate while other threads use it).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most values the pool ever holds: `per_proc` times its number of slots.
    ///
    /// ```
    /// let p = sync::Pool::with_capacity(3, || 0);
    /// assert_eq!(p.capacity() % 3, 0);
    /// ```
    pub fn capacity(&self) -> usize {
        self.shared.per_proc * self.shared.slots.len()
    }

    /// Drops every cached value now (on the calling thread).
    ///
    /// ```
    /// let p = sync::Pool::new(|| 1);
    /// p.put(2);
    /// p.clear();
    /// assert!(p.is_empty());
    /// assert_eq!(*p.get(), 1); // made by `new`
    /// ```
    pub fn clear(&self) {
        drop(self.shared.drain());
    }
}

impl<T: Default + Send + 'static> Default for Pool<T> {
    /// A pool that makes values with `T::default()`.
    fn default() -> Pool<T> {
        Pool::new(T::default)
    }
}

impl<T> fmt::Debug for Pool<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("len", &self.len())
            .field("capacity", &self.capacity())
            .field("slots", &self.shared.slots.len())
            .finish_non_exhaustive()
    }
}

/// A value taken from a [`Pool`]; dereferences to it, and puts it back into the pool when
/// dropped.
///
/// ```
/// let p = sync::Pool::new(Vec::<u32>::new);
/// let mut v = p.get();
/// v.push(1);
/// assert_eq!(v.len(), 1);
/// ```
pub struct PoolGuard<'a, T> {
    pool: &'a Pool<T>,
    /// `Some` until the guard is dropped or taken.
    value: Option<T>,
}

impl<T> PoolGuard<'_, T> {
    /// Detaches the value: it is not returned to the pool.
    ///
    /// ```
    /// let p = sync::Pool::new(|| String::from("fresh"));
    /// let s: String = sync::PoolGuard::take(p.get());
    /// assert_eq!(s, "fresh");
    /// assert!(p.is_empty());
    /// ```
    pub fn take(mut guard: Self) -> T {
        guard
            .value
            .take()
            .unwrap_or_else(|| unreachable!("PoolGuard: value present until drop or take"))
    }
}

impl<T> Deref for PoolGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        self.value
            .as_ref()
            .unwrap_or_else(|| unreachable!("PoolGuard: value present until drop or take"))
    }
}

impl<T> DerefMut for PoolGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        self.value
            .as_mut()
            .unwrap_or_else(|| unreachable!("PoolGuard: value present until drop or take"))
    }
}

impl<T> Drop for PoolGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        if let Some(v) = self.value.take() {
            self.pool.put(v);
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for PoolGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    struct Counted(Arc<AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A pool the real tick does not sweep, so `sweep` calls below are the only ticks.
    fn counted_pool(drops: &Arc<AtomicUsize>) -> Pool<Counted> {
        let d = drops.clone();
        Pool::unregistered(4, Box::new(move || Counted(d.clone())))
    }

    #[test]
    fn a_value_survives_one_tick_and_is_dropped_at_the_second() {
        let drops = Arc::new(AtomicUsize::new(0));
        let p = counted_pool(&drops);
        p.put(Counted(drops.clone()));
        assert!(p.shared.sweep(), "after one tick the value is in victim");
        assert_eq!(
            drops.load(Ordering::Relaxed),
            0,
            "one tick must not drop it"
        );
        assert_eq!(p.len(), 1);
        assert!(!p.shared.sweep(), "after two ticks the pool is empty");
        assert_eq!(drops.load(Ordering::Relaxed), 1, "two ticks drop it");
        assert_eq!(p.len(), 0);
    }

    #[test]
    fn a_value_in_use_between_ticks_survives() {
        let drops = Arc::new(AtomicUsize::new(0));
        let p = counted_pool(&drops);
        p.put(Counted(drops.clone()));
        for _ in 0..5 {
            p.shared.sweep();
            let v = PoolGuard::take(p.get()); // taken from victim
            p.put(v); // back into primary
        }
        assert_eq!(drops.load(Ordering::Relaxed), 0);
        assert_eq!(p.len(), 1);
    }

    #[test]
    fn a_full_slot_evicts_a_victim_before_refusing_a_put() {
        let drops = Arc::new(AtomicUsize::new(0));
        let p = counted_pool(&drops);
        for _ in 0..4 {
            p.put(Counted(drops.clone()));
        }
        p.shared.sweep(); // all four now in victim
        p.put(Counted(drops.clone()));
        assert_eq!(drops.load(Ordering::Relaxed), 1, "one victim evicted");
        assert_eq!(p.len(), 4);
        for _ in 0..3 {
            p.put(Counted(drops.clone()));
        }
        p.put(Counted(drops.clone())); // primary full, no victims left: refused
        assert_eq!(drops.load(Ordering::Relaxed), 5);
        assert_eq!(p.len(), 4);
    }
}
