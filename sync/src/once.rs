//! `Once`, `OnceCell` and `OnceValue`: run something exactly once, with later callers waiting
//! (parked, if goroutines) until the first has finished.
//!
//! All three are a `done` flag read with Acquire on the fast path, and a [`RawMutex`] the
//! first callers queue on (Go's `sync.Once` is the same two fields).

use crate::mutex::RawMutex;
use crate::shim::{AtomicU32, Ordering};
use runtime::WaitReason;
use std::cell::UnsafeCell;
use std::fmt;
use std::mem::MaybeUninit;
use std::panic::{self, AssertUnwindSafe};

/// Runs a function exactly once (Go's `sync.Once`).
///
/// The first [`call_once`](Once::call_once) runs its function; callers that arrive while it
/// runs wait until it returns, so when any `call_once` returns the function has completed.
/// As in Go, if the function panics the `Once` still counts as done: later calls return at
/// once without running anything (std's `Once` would poison instead).
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// static INIT: sync::Once = sync::Once::new();
/// static RUNS: AtomicUsize = AtomicUsize::new(0);
///
/// let wg = sync::WaitGroup::new();
/// for _ in 0..8 {
///     wg.go(|| INIT.call_once(|| { RUNS.fetch_add(1, Ordering::Relaxed); }));
/// }
/// wg.wait();
/// assert_eq!(RUNS.load(Ordering::Relaxed), 1);
/// assert!(INIT.is_completed());
/// ```
pub struct Once {
    done: AtomicU32,
    m: RawMutex,
}

impl Once {
    /// A `Once` that has not run yet.
    #[cfg(not(loom))]
    pub const fn new() -> Once {
        Once {
            done: AtomicU32::new(0),
            m: RawMutex::new(),
        }
    }

    /// A `Once` that has not run yet.
    #[cfg(loom)]
    pub fn new() -> Once {
        Once {
            done: AtomicU32::new(0),
            m: RawMutex::new(),
        }
    }

    /// Runs `f` if no call has run yet; otherwise waits for the one that runs (or ran) to
    /// finish, and returns.
    ///
    /// Calling `call_once` on the same `Once` from inside `f` deadlocks, as in Go.
    #[inline]
    pub fn call_once<F: FnOnce()>(&self, f: F) {
        // Acquire: pairs with the Release store below, so the caller sees f's effects.
        if self.done.load(Ordering::Acquire) == 0 {
            self.call_slow(f);
        }
    }

    #[cold]
    fn call_slow<F: FnOnce()>(&self, f: F) {
        struct Finish<'a>(&'a Once);
        impl Drop for Finish<'_> {
            fn drop(&mut self) {
                // Done even if f panicked (Go's deferred store), then let the waiters in.
                self.0.done.store(1, Ordering::Release);
                // SAFETY: locked by call_slow below, and unlocked only here.
                unsafe { self.0.m.unlock() };
            }
        }
        self.m.lock_for(WaitReason::OnceWait);
        if self.done.load(Ordering::Relaxed) == 0 {
            let _finish = Finish(self);
            f();
        } else {
            // SAFETY: we locked it above.
            unsafe { self.m.unlock() };
        }
    }

    /// Whether a call has completed (returned or panicked).
    pub fn is_completed(&self) -> bool {
        self.done.load(Ordering::Acquire) != 0
    }
}

impl Default for Once {
    fn default() -> Once {
        Once::new()
    }
}

impl fmt::Debug for Once {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Once")
            .field("done", &self.is_completed())
            .finish()
    }
}

/// A cell written at most once, `std::sync::OnceLock`-style, whose initialisation waits by
/// parking goroutines rather than blocking their threads.
///
/// Unlike [`Once`], an initialiser that panics leaves the cell empty, so a later
/// [`get_or_init`](OnceCell::get_or_init) tries again (as `OnceLock` does).
///
/// ```
/// static CONFIG: sync::OnceCell<String> = sync::OnceCell::new();
/// let v = runtime::block_on(|| CONFIG.get_or_init(|| "loaded".to_string()).len());
/// assert_eq!(v, 6);
/// assert_eq!(CONFIG.get().map(String::as_str), Some("loaded"));
/// ```
pub struct OnceCell<T> {
    done: AtomicU32,
    m: RawMutex,
    value: UnsafeCell<MaybeUninit<T>>,
}

// SAFETY: the value is written once, under the lock, before `done` is published with Release;
// afterwards it is only read (&T handed to any thread needs T: Sync, moving it needs T: Send).
unsafe impl<T: Send + Sync> Sync for OnceCell<T> {}
// SAFETY: the cell owns its value (if written); moving the cell moves the value, which
// T: Send allows; the other fields are a lock and atomics.
unsafe impl<T: Send> Send for OnceCell<T> {}

impl<T> OnceCell<T> {
    /// An empty cell.
    #[cfg(not(loom))]
    pub const fn new() -> OnceCell<T> {
        OnceCell {
            done: AtomicU32::new(0),
            m: RawMutex::new(),
            value: UnsafeCell::new(MaybeUninit::uninit()),
        }
    }

    /// An empty cell.
    #[cfg(loom)]
    pub fn new() -> OnceCell<T> {
        OnceCell {
            done: AtomicU32::new(0),
            m: RawMutex::new(),
            value: UnsafeCell::new(MaybeUninit::uninit()),
        }
    }

    /// The value, if it has been set.
    #[inline]
    pub fn get(&self) -> Option<&T> {
        if self.done.load(Ordering::Acquire) != 0 {
            // SAFETY: done (Acquire) means the value was written and will not change.
            Some(unsafe { (*self.value.get()).assume_init_ref() })
        } else {
            None
        }
    }

    /// The value, running `f` to produce it if the cell is empty. Concurrent callers wait for
    /// the one that runs `f`. If `f` panics the panic propagates and the cell stays empty.
    #[inline]
    pub fn get_or_init<F: FnOnce() -> T>(&self, f: F) -> &T {
        if let Some(v) = self.get() {
            return v;
        }
        self.init_slow(f)
    }

    #[cold]
    fn init_slow<F: FnOnce() -> T>(&self, f: F) -> &T {
        struct Unlock<'a>(&'a RawMutex);
        impl Drop for Unlock<'_> {
            fn drop(&mut self) {
                // SAFETY: locked just below, unlocked only here.
                unsafe { self.0.unlock() };
            }
        }
        self.m.lock_for(WaitReason::OnceWait);
        let _unlock = Unlock(&self.m);
        if self.done.load(Ordering::Relaxed) == 0 {
            let v = f();
            // SAFETY: we hold the lock and the cell is empty: nobody else reads or writes it.
            unsafe { (*self.value.get()).write(v) };
            self.done.store(1, Ordering::Release);
        }
        // SAFETY: done is set (by us, or by the holder before us, ordered by the lock).
        unsafe { (*self.value.get()).assume_init_ref() }
    }

    /// Sets the value if the cell is empty; otherwise hands `value` back.
    ///
    /// ```
    /// let c = sync::OnceCell::new();
    /// assert_eq!(c.set(1), Ok(()));
    /// assert_eq!(c.set(2), Err(2));
    /// assert_eq!(c.get(), Some(&1));
    /// ```
    pub fn set(&self, value: T) -> Result<(), T> {
        let mut value = Some(value);
        self.get_or_init(|| value.take().expect("taken once"));
        match value {
            None => Ok(()),
            Some(v) => Err(v),
        }
    }

    /// The value, if set, consuming the cell.
    pub fn into_inner(mut self) -> Option<T> {
        self.take()
    }

    /// Takes the value out, leaving the cell empty (a unique borrow: no locking needed).
    pub fn take(&mut self) -> Option<T> {
        if self.done.load(Ordering::Relaxed) == 0 {
            return None;
        }
        self.done.store(0, Ordering::Relaxed);
        // SAFETY: done was set, so the value is initialised; clearing done first means it is
        // not read or dropped again.
        Some(unsafe { (*self.value.get()).assume_init_read() })
    }
}

impl<T> Drop for OnceCell<T> {
    fn drop(&mut self) {
        drop(self.take());
    }
}

impl<T> Default for OnceCell<T> {
    fn default() -> OnceCell<T> {
        OnceCell::new()
    }
}

impl<T: fmt::Debug> fmt::Debug for OnceCell<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("OnceCell").field(&self.get()).finish()
    }
}

/// A value computed by a function the first time it is asked for (Go's `sync.OnceValue`).
///
/// As in Go, if the function panics, that call and every later [`get`](OnceValue::get) panic
/// (with the first panic's message, when it had one): the function is not run again.
///
/// ```
/// static TABLE: sync::OnceValue<Vec<u32>> = sync::OnceValue::new(|| (0..4).map(|i| i * i).collect());
/// assert_eq!(TABLE.get()[3], 9);
/// ```
pub struct OnceValue<T, F = fn() -> T> {
    cell: OnceCell<T>,
    /// The function, until it runs; then the panic message, if it panicked. Touched only under
    /// `cell`'s lock.
    init: UnsafeCell<Init<F>>,
}

enum Init<F> {
    Pending(F),
    Running,
    Panicked(String),
}

// SAFETY: `init` is touched only under the cell's lock (F moves to whichever thread runs it:
// F: Send); the cell's own bounds cover T.
unsafe impl<T: Send + Sync, F: Send> Sync for OnceValue<T, F> {}

impl<T, F: FnOnce() -> T> OnceValue<T, F> {
    /// A value `f` will compute on first use.
    #[cfg(not(loom))]
    pub const fn new(f: F) -> OnceValue<T, F> {
        OnceValue {
            cell: OnceCell::new(),
            init: UnsafeCell::new(Init::Pending(f)),
        }
    }

    /// A value `f` will compute on first use.
    #[cfg(loom)]
    pub fn new(f: F) -> OnceValue<T, F> {
        OnceValue {
            cell: OnceCell::new(),
            init: UnsafeCell::new(Init::Pending(f)),
        }
    }

    /// The value, computing it on the first call. Concurrent first callers wait for the one
    /// that computes it.
    ///
    /// # Panics
    /// If the function panicked (on this call or an earlier one).
    pub fn get(&self) -> &T {
        if let Some(v) = self.cell.get() {
            return v;
        }
        self.cell.get_or_init(|| {
            // SAFETY: we run under the cell's lock, the only place `init` is touched.
            let init = unsafe { &mut *self.init.get() };
            match std::mem::replace(init, Init::Running) {
                Init::Pending(f) => match panic::catch_unwind(AssertUnwindSafe(f)) {
                    Ok(v) => v,
                    Err(payload) => {
                        *init = Init::Panicked(panic_message(&*payload));
                        panic::resume_unwind(payload)
                    }
                },
                Init::Panicked(msg) => {
                    let again = format!("sync: OnceValue function panicked: {msg}");
                    *init = Init::Panicked(msg);
                    panic!("{again}")
                }
                Init::Running => unreachable!("OnceValue's function re-entered its own get"),
            }
        })
    }
}

impl<T: fmt::Debug, F> fmt::Debug for OnceValue<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("OnceValue").field(&self.cell.get()).finish()
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(non-string panic payload)".to_string()
    }
}
