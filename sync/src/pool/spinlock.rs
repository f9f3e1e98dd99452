//! The slot lock: a spin lock held for one push or pop (see the pool's module docs).

use std::cell::UnsafeCell;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};

/// A test-and-test-and-set spin lock around one slot's cache.
///
/// Why not `std::sync::Mutex`: its unlock is an atomic swap (it must learn whether to wake a
/// sleeper); this one's is a plain release store, which halves the atomic read-modify-writes
/// of a get and a put (measured on the 2-core development VM: lock + unlock 10 ns instead of
/// 20 ns; a whole get + put cycle about 30 ns).
/// Spinning is sound here because a holder never parks, blocks or runs user code while it
/// holds the lock: it pushes or pops a `Vec` (at worst growing it) and unlocks. Why a lock at
/// all, when Go's per-P `private` field needs none (Go pins the goroutine to its P): plain
/// threads share the slots, other Ps steal from them, and the P index is only a hint (it is
/// read without pinning), so exclusive access has to be enforced, not assumed.
pub(super) struct SpinLock<T> {
    locked: AtomicBool,
    data: UnsafeCell<T>,
}

// SAFETY: the lock hands out access to `data` to one thread at a time (see `lock`/`try_lock`),
// so sharing the lock only ever moves the `T` between threads, which `T: Send` allows.
unsafe impl<T: Send> Sync for SpinLock<T> {}

impl<T> SpinLock<T> {
    pub(super) const fn new(data: T) -> SpinLock<T> {
        SpinLock {
            locked: AtomicBool::new(false),
            data: UnsafeCell::new(data),
        }
    }

    #[inline]
    pub(super) fn lock(&self) -> SpinGuard<'_, T> {
        if let Some(g) = self.try_lock() {
            return g;
        }
        self.lock_slow()
    }

    #[cold]
    fn lock_slow(&self) -> SpinGuard<'_, T> {
        // A holder keeps the lock for a push or a pop, so a waiter still waiting after the
        // backoff's spin phase is waiting for a holder its OS has descheduled: yield the thread.
        let backoff = runtime::__kit::Backoff::new();
        loop {
            // Test before test-and-set: wait with plain loads, which keep the line shared.
            while self.locked.load(Ordering::Relaxed) {
                backoff.snooze();
            }
            if let Some(g) = self.try_lock() {
                return g;
            }
        }
    }

    #[inline]
    pub(super) fn try_lock(&self) -> Option<SpinGuard<'_, T>> {
        // Acquire: pairs with the Release store of the previous holder's unlock, so its
        // writes to `data` are visible to us.
        self.locked
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .ok()
            .map(|_| SpinGuard {
                lock: self,
                _data: PhantomData,
            })
    }
}

/// Proof that the calling thread holds a [`SpinLock`]; unlocks when dropped.
pub(super) struct SpinGuard<'a, T> {
    lock: &'a SpinLock<T>,
    /// Makes the guard `Sync` only if `T` is (it hands out `&T`), like `MutexGuard`.
    _data: PhantomData<&'a mut T>,
}

impl<T> Deref for SpinGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: this guard exists only while its thread holds the lock (set by a successful
        // CAS in `try_lock`, cleared only by the guard's drop), so no other reference to
        // `data` exists.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T> DerefMut for SpinGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` makes this the only use of the guard.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T> Drop for SpinGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // Release: publishes our writes to `data` to the next holder's Acquire CAS.
        self.lock.locked.store(false, Ordering::Release);
    }
}
