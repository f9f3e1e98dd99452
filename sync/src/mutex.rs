//! `Mutex<T>`: Go's `sync.Mutex` (with its starvation mode), holding the data it guards.
//!
//! # The state word
//! One `u32`: bit 0 `LOCKED`, bit 1 `WOKEN` (a woken or spinning waiter is on its way, so an
//! unlocker need not wake another), bit 2 `STARVING`, and the number of parked waiters above
//! [`WAITER_SHIFT`]. Waiters park on the runtime semaphore [`crate::sema`] keyed by `sema`.
//!
//! # Normal and starvation mode
//! In normal mode a woken waiter competes with newly arriving lockers, which usually win (they
//! are already running); one that loses is queued again at the *front*. A waiter that has waited
//! over [`STARVATION_THRESHOLD`] (1 ms) switches the lock to starvation mode: an unlocker then
//! hands the lock straight to the first waiter (and yields its time slice to it), newcomers
//! neither take it nor spin but queue at the back, so waiters are served FIFO. The last waiter,
//! or one that waited less than 1 ms, switches back to normal mode, whose throughput is much
//! better.
//!
//! # The fast paths: one locked instruction each
//! A lock sets `LOCKED` with one atomic or (`lock bts` on x86) and owns the lock if the bit was
//! clear, whatever else the word holds; an unlock clears it with one atomic subtraction and
//! calls `unlock_slow` only if it has a waiter to wake (none is awake already), a hand-off to
//! make, or misuse to report. Go's lock is a compare-and-swap from 0, which fails whenever
//! waiters are counted (and they stay parked for milliseconds behind a hot locker, so every
//! lock meanwhile does), then a second one in its slow path: three locked instructions per
//! lock and unlock, not two. The atomic or needs a hand-off that keeps `LOCKED` set: where Go
//! clears `LOCKED` and lets the woken waiter set it, `unlock_slow` sets it again for the waiter
//! (it *reserves* the lock) before waking it, so a lock that sees `LOCKED` clear may take it
//! even in starvation mode. That happens only in the instant between an unlock's subtraction and
//! its reservation: the reservation then finds the lock taken and leaves the hand-off to the
//! newcomer's unlock, which sees `STARVING` and makes it (the loom model
//! `loom_mutex_starvation_three_threads` reaches that instant). W9 (8 goroutines, one counter,
//! 2 Ps, AMD EPYC Zen 3): Go's path took 11.4 ns per increment, two inline compare-and-swaps 9.0, the atomic or 5.8 (8
//! interleaved rounds, per-round ratio 0.60 to the compare-and-swaps; parking_lot 7.5-7.9 and
//! Go 20.9 in the same rounds). The price is uncontended: criterion's
//! `mutex_lock_unlock_goroutine` went from 4.6 to 5.2 ns (two runs each, steady; `lock bts` is
//! more micro-ops than `lock cmpxchg` on Zen 3), still below std's Mutex (6.1 ns) there.

use crate::sema;
use crate::shim::{self, AtomicU32, Ordering};
use runtime::WaitReason;
use std::cell::UnsafeCell;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::time::Duration;

const LOCKED: u32 = 1;
const WOKEN: u32 = 2;
const STARVING: u32 = 4;
const WAITER_SHIFT: u32 = 3;
const ONE_WAITER: u32 = 1 << WAITER_SHIFT;

/// A waiter that has waited this long puts the lock in starvation mode (Go's
/// `starvationThresholdNs`).
pub const STARVATION_THRESHOLD: Duration = Duration::from_millis(1);

/// The lock without data: the state word and its semaphore, shared by [`Mutex`], [`crate::RwMutex`]
/// and [`crate::Once`].
pub(crate) struct RawMutex {
    state: AtomicU32,
    sema: AtomicU32,
}

impl RawMutex {
    #[cfg(not(loom))]
    pub(crate) const fn new() -> RawMutex {
        RawMutex {
            state: AtomicU32::new(0),
            sema: AtomicU32::new(0),
        }
    }

    #[cfg(loom)]
    pub(crate) fn new() -> RawMutex {
        RawMutex {
            state: AtomicU32::new(0),
            sema: AtomicU32::new(0),
        }
    }

    #[inline]
    pub(crate) fn lock(&self) {
        self.lock_for(WaitReason::MutexLock);
    }

    /// `lock`, showing `reason` in a stack dump while it waits.
    #[inline]
    pub(crate) fn lock_for(&self, reason: WaitReason) {
        // Acquire: pairs with the unlocker's Release, so we see the last holder's writes. The
        // bit was clear: the lock is ours, also in starvation mode (see the module docs: the
        // unlock whose reservation we beat leaves the hand-off to our unlock).
        if self.state.fetch_or(LOCKED, Ordering::Acquire) & LOCKED != 0 {
            self.lock_slow(reason);
        }
    }

    #[inline]
    pub(crate) fn try_lock(&self) -> bool {
        let old = self.state.load(Ordering::Relaxed);
        if old & (LOCKED | STARVING) != 0 {
            return false;
        }
        self.state
            .compare_exchange(old, old | LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    #[cold]
    #[inline(never)]
    fn lock_slow(&self, reason: WaitReason) {
        let mut wait_start: shim::WaitStart = None;
        let mut starving = false;
        // This waiter owns the WOKEN bit (set it while spinning, or was woken).
        let mut awoke = false;
        let mut iter = 0;
        let mut old = self.state.load(Ordering::Relaxed);
        loop {
            // Spin while the lock is held in normal mode and spinning can pay; claim WOKEN
            // so the unlocker does not wake a parked waiter we would race with.
            if old & (LOCKED | STARVING) == LOCKED && shim::can_spin(iter) {
                if !awoke
                    && old & WOKEN == 0
                    && old >> WAITER_SHIFT != 0
                    && self
                        .state
                        .compare_exchange(old, old | WOKEN, Ordering::Relaxed, Ordering::Relaxed)
                        .is_ok()
                {
                    awoke = true;
                }
                if reason == WaitReason::RwMutexLock {
                    // RwMutex's writer lock: the holder is often waiting for readers rather
                    // than running, and writers are few; Go's short rounds measure better (W13).
                    shim::do_spin_short();
                } else {
                    shim::do_spin();
                }
                iter += 1;
                old = self.state.load(Ordering::Relaxed);
                continue;
            }
            let mut new = old;
            // In starvation mode the lock belongs to the queue: do not take it.
            if old & STARVING == 0 {
                new |= LOCKED;
            }
            if old & (LOCKED | STARVING) != 0 {
                new = new.wrapping_add(ONE_WAITER);
            }
            // Switch to starvation mode, but only if the lock is still held (an unlocker
            // expects waiters in starvation mode).
            if starving && old & LOCKED != 0 {
                new |= STARVING;
            }
            if awoke {
                debug_assert!(new & WOKEN != 0, "sync: inconsistent mutex state");
                new &= !WOKEN;
            }
            match self
                .state
                .compare_exchange(old, new, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => {
                    if old & (LOCKED | STARVING) == 0 {
                        return; // locked it with a CAS
                    }
                    // Waited before: back to the front of the queue.
                    let lifo = wait_start.is_some();
                    shim::wait_start(&mut wait_start);
                    sema::acquire(&self.sema, lifo, reason);
                    starving = starving || shim::starving_after(wait_start, STARVATION_THRESHOLD);
                    old = self.state.load(Ordering::Relaxed);
                    if old & STARVING != 0 {
                        // Handed off: the unlocker reserved the lock for us (LOCKED is set)
                        // and we are still counted as a waiter. Fix that up.
                        debug_assert!(
                            old & LOCKED != 0 && old & WOKEN == 0 && old >> WAITER_SHIFT != 0,
                            "sync: inconsistent mutex state"
                        );
                        let mut delta = 0u32.wrapping_sub(ONE_WAITER);
                        if !starving || old >> WAITER_SHIFT == 1 {
                            // Leave starvation mode: we waited briefly, or we are the last.
                            delta = delta.wrapping_sub(STARVING);
                        }
                        self.state.fetch_add(delta, Ordering::Acquire);
                        return;
                    }
                    awoke = true;
                    iter = 0;
                }
                Err(cur) => old = cur,
            }
        }
    }

    /// # Safety
    /// The lock must be held (by anyone: Go lets another goroutine unlock it).
    #[inline]
    pub(crate) unsafe fn unlock(&self) {
        // Release: publishes the critical section to the next holder.
        let old = self.state.fetch_sub(LOCKED, Ordering::Release);
        let new = old.wrapping_sub(LOCKED);
        // The slow path only if there is something to do: a waiter to wake (none is awake
        // already), a hand-off in starvation mode, or the misuse it reports.
        if old & LOCKED == 0 || new & STARVING != 0 || (new >= ONE_WAITER && new & WOKEN == 0) {
            self.unlock_slow(new);
        }
    }

    #[cold]
    #[inline(never)]
    fn unlock_slow(&self, new: u32) {
        if (new.wrapping_add(LOCKED)) & LOCKED == 0 {
            panic!("sync: unlock of unlocked mutex");
        }
        if new & STARVING != 0 {
            // Hand the lock to the first waiter and let it run now: reserve it for the waiter
            // (set LOCKED again), unless a newcomer took it in the instant since our
            // subtraction; that newcomer's unlock then makes the hand-off. Newcomers see
            // LOCKED and STARVING and queue behind the waiter.
            let mut cur = new;
            loop {
                if cur & LOCKED != 0 {
                    #[cfg(loom)]
                    crate::rslot::loom_probe::hit(
                        &crate::rslot::loom_probe::MUTEX_RESERVATION_BEATEN,
                    );
                    return;
                }
                match self.state.compare_exchange(
                    cur,
                    cur | LOCKED,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => break,
                    Err(c) => cur = c,
                }
            }
            sema::release(&self.sema, true);
            return;
        }
        let mut old = new;
        loop {
            // Nobody to wake, or someone already took the lock, is awake, or starvation mode
            // began: then there is nothing to do.
            if old >> WAITER_SHIFT == 0 || old & (LOCKED | WOKEN | STARVING) != 0 {
                return;
            }
            let new = old.wrapping_sub(ONE_WAITER) | WOKEN;
            match self
                .state
                .compare_exchange(old, new, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => {
                    sema::release(&self.sema, false);
                    return;
                }
                Err(cur) => old = cur,
            }
        }
    }

    pub(crate) fn is_locked(&self) -> bool {
        self.state.load(Ordering::Relaxed) & LOCKED != 0
    }
}

/// A mutual exclusion lock around `T` for goroutines and threads alike (Go's `sync.Mutex`).
///
/// A goroutine that has to wait parks its G (its M runs other goroutines); a plain thread
/// blocks on a futex. The uncontended path is one compare-and-swap to lock and one atomic add
/// to unlock. Waiters spin briefly only while the holder runs on another processor, and the
/// lock turns FIFO (starvation mode) once a waiter has waited over 1 ms, so no goroutine waits
/// forever behind a hot locker.
///
/// There is no poisoning, as in Go: if a goroutine panics while holding the guard, the guard's
/// drop unlocks the mutex and the data is whatever the panicking code left.
///
/// ```
/// use std::sync::Arc;
/// use sync::{Mutex, WaitGroup};
///
/// let counter = Arc::new(Mutex::new(0));
/// let wg = WaitGroup::new();
/// for _ in 0..8 {
///     let counter = counter.clone();
///     wg.go(move || {
///         for _ in 0..1000 {
///             *counter.lock() += 1;
///         }
///     });
/// }
/// wg.wait();
/// assert_eq!(*counter.lock(), 8000);
/// ```
pub struct Mutex<T: ?Sized> {
    raw: RawMutex,
    data: UnsafeCell<T>,
}

// SAFETY: the lock hands out access to `data` to one holder at a time; T: Send suffices to
// move the value between the holders' threads (std's Mutex has the same bounds).
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}
// SAFETY: sharing the mutex gives each locker `&mut T` in turn, one holder at a time (the
// lock's protocol); that only moves access between threads, so T: Send suffices, as for
// std's Mutex.
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}

impl<T> Mutex<T> {
    /// A new unlocked mutex holding `value`.
    #[cfg(not(loom))]
    pub const fn new(value: T) -> Mutex<T> {
        Mutex {
            raw: RawMutex::new(),
            data: UnsafeCell::new(value),
        }
    }

    /// A new unlocked mutex holding `value`.
    #[cfg(loom)]
    pub fn new(value: T) -> Mutex<T> {
        Mutex {
            raw: RawMutex::new(),
            data: UnsafeCell::new(value),
        }
    }

    /// Consumes the mutex and returns the value.
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Locks the mutex, waiting (parking the goroutine, or blocking the thread) while another
    /// holds it. The guard unlocks on drop.
    ///
    /// Locking again from the holder deadlocks, as in Go.
    #[inline]
    pub fn lock(&self) -> MutexGuard<'_, T> {
        self.raw.lock();
        MutexGuard { mutex: self }
    }

    /// Locks the mutex if it is free right now (Go's `TryLock`). In starvation mode it is never
    /// free for a newcomer.
    ///
    /// ```
    /// let m = sync::Mutex::new(1);
    /// let g = m.lock();
    /// assert!(m.try_lock().is_none());
    /// drop(g);
    /// assert_eq!(*m.try_lock().unwrap(), 1);
    /// ```
    #[inline]
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        // Not `then_some`: it would build (and drop, unlocking) a guard on failure too.
        if self.raw.try_lock() {
            Some(MutexGuard { mutex: self })
        } else {
            None
        }
    }

    /// Whether the mutex is locked right now (a snapshot, for diagnostics).
    pub fn is_locked(&self) -> bool {
        self.raw.is_locked()
    }

    /// Test support, not API: how many goroutines and threads have counted themselves as
    /// waiters for the lock (in the state word, just before they park on its semaphore).
    /// Tests wait on it instead of sleeping to let a locker block.
    #[doc(hidden)]
    pub fn __waiters(&self) -> u32 {
        self.raw.state.load(Ordering::SeqCst) >> WAITER_SHIFT
    }

    /// The value, through a unique borrow: no locking needed.
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Mutex<T> {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(value: T) -> Mutex<T> {
        Mutex::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Mutex");
        match self.try_lock() {
            Some(g) => d.field("data", &&*g),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.finish_non_exhaustive()
    }
}

/// Access to a [`Mutex`]'s value; unlocks on drop.
///
/// The guard may be sent to another goroutine or thread and dropped there (Go lets any
/// goroutine unlock a Mutex). Dropping it is a park point in one case: in starvation mode the
/// unlock hands the lock to the first waiter and yields to it (as Go's does), so the goroutine
/// may resume on another thread (except while a panic unwinds: then it does not yield).
#[must_use = "the mutex unlocks as soon as the guard is dropped"]
pub struct MutexGuard<'a, T: ?Sized> {
    mutex: &'a Mutex<T>,
}

// SAFETY: the guard gives `&mut T` wherever it goes (T: Send) and `&T` to whoever shares it
// (T: Sync); unlocking from another thread is allowed by this lock.
unsafe impl<T: ?Sized + Send> Send for MutexGuard<'_, T> {}
// SAFETY: a shared guard only gives `&T`, to any thread that holds `&guard`: T: Sync.
unsafe impl<T: ?Sized + Sync> Sync for MutexGuard<'_, T> {}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    /// Unlocks without dropping the borrow, for `Cond::wait`.
    ///
    /// # Safety
    /// The caller must not touch the data until it locks again, and must not let the guard
    /// drop (it would unlock a second time).
    pub(crate) unsafe fn unlock_raw(guard: &MutexGuard<'a, T>) {
        // SAFETY: the guard proves the lock is held.
        unsafe { guard.mutex.raw.unlock() };
    }

    /// Locks again after [`Self::unlock_raw`].
    pub(crate) fn relock_raw(guard: &MutexGuard<'a, T>) {
        guard.mutex.raw.lock();
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock: no other reference to the data exists.
        unsafe { &*self.mutex.data.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock: no other reference to the data exists.
        unsafe { &mut *self.mutex.data.get() }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the guard holds the lock.
        unsafe { self.mutex.raw.unlock() };
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;
    use std::time::Instant;

    fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !cond() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::yield_now();
        }
    }

    /// The mechanism itself, step by step: a waiter that has waited over 1 ms and loses the
    /// race once switches the lock to starvation mode; then a newcomer cannot take it, and the
    /// next unlock hands it to the waiter, which (as the last waiter) switches back.
    #[test]
    fn a_starved_waiter_gets_the_lock_handed_over() {
        for _attempt in 0..20 {
            let m = Arc::new(RawMutex::new());
            m.lock();
            let got = Arc::new(AtomicBool::new(false));
            let t = {
                let (m, got) = (m.clone(), got.clone());
                std::thread::spawn(move || {
                    m.lock();
                    got.store(true, Ordering::SeqCst);
                    // SAFETY: locked just above.
                    unsafe { m.unlock() };
                })
            };
            wait_for("the waiter to queue", || {
                m.state.load(Ordering::SeqCst) >> WAITER_SHIFT == 1
            });
            std::thread::sleep(STARVATION_THRESHOLD * 3);
            // Wake it, and take the lock again before it runs (a thread takes ~10-100 us
            // to wake; this takes nanoseconds).
            // SAFETY: held since the start.
            unsafe { m.unlock() };
            m.lock();
            if got.load(Ordering::SeqCst) {
                // It won the race after all; try again.
                // SAFETY: locked just above.
                unsafe { m.unlock() };
                t.join().unwrap();
                continue;
            }
            wait_for("starvation mode", || {
                m.state.load(Ordering::SeqCst) & STARVING != 0
            });
            assert!(!m.try_lock(), "a newcomer took a lock in starvation mode");
            // SAFETY: we hold it.
            unsafe { m.unlock() };
            t.join().unwrap();
            assert!(got.load(Ordering::SeqCst));
            assert_eq!(
                m.state.load(Ordering::SeqCst),
                0,
                "back to normal, unlocked"
            );
            return;
        }
        panic!("the waiter won every race; starvation mode never engaged");
    }

    #[test]
    fn unlock_of_an_unlocked_mutex_panics() {
        let m = RawMutex::new();
        let r = std::panic::catch_unwind(|| {
            // SAFETY: deliberately wrong, to check the panic (no other user of `m`).
            unsafe { m.unlock() }
        });
        let msg = r.unwrap_err();
        assert_eq!(
            msg.downcast_ref::<&str>(),
            Some(&"sync: unlock of unlocked mutex")
        );
        // Unlocked with a woken waiter on its way, or with waiters parked: the inline unlock
        // path must still see the misuse.
        for state in [WOKEN, ONE_WAITER, ONE_WAITER | WOKEN] {
            let m = RawMutex::new();
            m.state.store(state, Ordering::SeqCst);
            let r = std::panic::catch_unwind(|| {
                // SAFETY: deliberately wrong, to check the panic (no other user of `m`).
                unsafe { m.unlock() }
            });
            assert!(r.is_err(), "state {state:#x}: no panic");
        }
    }
}
