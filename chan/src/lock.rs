//! `SpinLock`: the channel lock. Critical sections are a few dozen instructions and never
//! park, so a test-and-test-and-set lock whose unlock is a plain release store beats a
//! futex mutex (whose unlock must be a locked exchange to learn about sleepers): one locked
//! instruction per acquisition instead of two. A contended locker spins briefly, then
//! yields its goroutine (or thread) rather than burning the core the holder may need.

use crate::shim::{AtomicBool, Ordering, UnsafeCell};
use std::ops::{Deref, DerefMut};

/// A spin lock around `T`.
pub(crate) struct SpinLock<T> {
    locked: AtomicBool,
    data: UnsafeCell<T>,
    /// Under loom: the threads blocked in `lock_slow` (see there).
    #[cfg(loom)]
    blocked: std::sync::Mutex<Vec<crate::shim::Waiter>>,
}

// SAFETY: the lock serialises all access to `data`; T: Send is enough to move it between
// the threads that take turns holding the lock.
unsafe impl<T: Send> Sync for SpinLock<T> {}
// SAFETY: the lock owns its `T`; moving the lock to another thread moves that value, which
// `T: Send` allows (the other fields are atomics and a std Mutex).
unsafe impl<T: Send> Send for SpinLock<T> {}

impl<T> SpinLock<T> {
    #[cfg(not(loom))]
    pub(crate) const fn new(data: T) -> SpinLock<T> {
        SpinLock {
            locked: AtomicBool::new(false),
            data: UnsafeCell::new(data),
        }
    }

    /// loom's atomics and cells have no `const fn new`.
    #[cfg(loom)]
    pub(crate) fn new(data: T) -> SpinLock<T> {
        SpinLock {
            locked: AtomicBool::new(false),
            data: UnsafeCell::new(data),
            blocked: std::sync::Mutex::new(Vec::new()),
        }
    }

    #[inline]
    pub(crate) fn lock(&self) -> SpinGuard<'_, T> {
        // Acquire: pairs with the release store in `unlock`, so we see the last holder's writes.
        if self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_slow();
        }
        SpinGuard {
            lock: self,
            // The holder's access to `data`, tracked by loom until the guard drops.
            #[cfg(loom)]
            access: std::mem::ManuallyDrop::new(self.data.get_mut()),
        }
    }

    #[cfg(not(loom))]
    #[cold]
    fn lock_slow(&self) {
        let backoff = runtime::__kit::Backoff::new();
        loop {
            // Test before test-and-set: wait on a shared cache line, not by bouncing it.
            while self.locked.load(Ordering::Relaxed) {
                // 1, 2 .. 64 pauses, then let the holder's goroutine run.
                backoff.snooze_with(crate::shim::gosched);
            }
            if self
                .locked
                .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return;
            }
        }
    }

    /// Under loom the contended path blocks until an unlock instead of spinning: with two
    /// spinners and a preempted holder, loom's search would keep extending unfair schedules
    /// in which only the spinners run (see `shim`). Same acquisition (an Acquire CAS); the
    /// unlock unparks the blocked threads.
    #[cfg(loom)]
    #[cold]
    fn lock_slow(&self) {
        let me = crate::shim::Waiter::current();
        loop {
            // Registered before the CAS: an unlock after a failed CAS wakes us. (A wakeup
            // left over from here makes a later park return early: parks are allowed to.)
            self.blocked.lock().unwrap().push(me.clone());
            if self
                .locked
                .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                self.blocked.lock().unwrap().retain(|w| !w.same_as(&me));
                return;
            }
            crate::shim::model::block();
        }
    }
}

/// Holds a [`SpinLock`]; unlocks on drop.
pub(crate) struct SpinGuard<'a, T> {
    lock: &'a SpinLock<T>,
    /// Under loom: the tracked mutable access to `data`, ended before the unlock.
    #[cfg(loom)]
    access: std::mem::ManuallyDrop<loom::cell::MutPtr<T>>,
}

impl<T> Deref for SpinGuard<'_, T> {
    type Target = T;
    #[cfg(not(loom))]
    fn deref(&self) -> &T {
        // SAFETY: we hold the lock.
        unsafe { &*self.lock.data.get() }
    }
    #[cfg(loom)]
    fn deref(&self) -> &T {
        // SAFETY: we hold the lock (and loom checks that nobody else accesses `data`).
        unsafe { loom::cell::MutPtr::deref(&self.access) }
    }
}

impl<T> DerefMut for SpinGuard<'_, T> {
    #[cfg(not(loom))]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: we hold the lock, exclusively.
        unsafe { &mut *self.lock.data.get() }
    }
    #[cfg(loom)]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: we hold the lock, exclusively, and `access` is loom's tracked pointer to
        // the cell for exactly this guard's life.
        unsafe { loom::cell::MutPtr::deref(&self.access) }
    }
}

impl<T> Drop for SpinGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // End the tracked access before the lock can pass to another thread.
        #[cfg(loom)]
        // SAFETY: dropped once, here; `access` is not used afterwards.
        unsafe {
            std::mem::ManuallyDrop::drop(&mut self.access)
        };
        // Release: publishes our writes to the next holder.
        self.lock.locked.store(false, Ordering::Release);
        #[cfg(loom)]
        {
            // Taken out first: unpark is a loom switch point, and the std mutex must not be
            // held across one.
            let blocked = std::mem::take(&mut *self.lock.blocked.lock().unwrap());
            for w in blocked {
                w.unpark();
            }
        }
    }
}
