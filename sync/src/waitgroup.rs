//! `WaitGroup`: Go's `sync.WaitGroup`, as a cheap clonable handle.
//!
//! One 64-bit state word: the counter (signed, high half) and the number of waiters (low
//! half), so `add` learns atomically whether its decrement to zero must wake anyone. Waiters
//! park on the runtime semaphore; the `add` that brings the counter to zero resets the state
//! and releases each waiter once.

use crate::sema;
use crate::shim::{AtomicU32, AtomicU64, Ordering};
use runtime::WaitReason;
use std::fmt;
use std::sync::Arc;

struct Inner {
    /// Counter in the high 32 bits (as i32), waiters in the low 32.
    state: AtomicU64,
    sema: AtomicU32,
}

/// Waits for a collection of goroutines (or threads) to finish (Go's `sync.WaitGroup`).
///
/// `WaitGroup` is a handle: clones share one counter, so hand a clone to each goroutine.
/// [`add`](WaitGroup::add) before starting work, [`done`](WaitGroup::done) when each finishes,
/// [`wait`](WaitGroup::wait) until the counter is zero. [`go`](WaitGroup::go) does all three
/// steps' bookkeeping for one goroutine (Go 1.25's `wg.Go`).
///
/// As in Go, the counter going negative panics with `sync: negative WaitGroup counter`, and a
/// group may be reused once every `wait` of the previous round has returned.
///
/// ```
/// use sync::WaitGroup;
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
///
/// let wg = WaitGroup::new();
/// let hits = Arc::new(AtomicUsize::new(0));
/// for _ in 0..10 {
///     wg.add(1);
///     let (wg, hits) = (wg.clone(), hits.clone());
///     runtime::go(move || {
///         hits.fetch_add(1, Ordering::Relaxed);
///         wg.done();
///     });
/// }
/// wg.wait();
/// assert_eq!(hits.load(Ordering::Relaxed), 10);
/// ```
#[derive(Clone)]
pub struct WaitGroup(Arc<Inner>);

impl WaitGroup {
    /// A new group with a zero counter.
    pub fn new() -> WaitGroup {
        WaitGroup(Arc::new(Inner {
            state: AtomicU64::new(0),
            sema: AtomicU32::new(0),
        }))
    }

    /// Adds `delta` (which may be negative) to the counter. When it reaches zero, every
    /// goroutine blocked in [`wait`](WaitGroup::wait) is released.
    ///
    /// # Panics
    /// `sync: negative WaitGroup counter` if the counter goes below zero; `sync: WaitGroup
    /// misuse: Add called concurrently with Wait` if a positive `add` from zero races a `wait`
    /// (Go's rule: adds that start a round happen before `wait`).
    pub fn add(&self, delta: isize) {
        let d = i32::try_from(delta).expect("sync: WaitGroup delta out of range");
        let inc = (d as i64 as u64) << 32;
        let state = self
            .0
            .state
            .fetch_add(inc, Ordering::SeqCst)
            .wrapping_add(inc);
        let v = (state >> 32) as u32 as i32;
        let w = state as u32;
        if v < 0 {
            panic!("sync: negative WaitGroup counter");
        }
        if w != 0 && d > 0 && v == d {
            panic!("sync: WaitGroup misuse: Add called concurrently with Wait");
        }
        if v > 0 || w == 0 {
            return;
        }
        // The counter is zero and there are waiters: nobody else may touch the state now (a
        // concurrent add or wait would be the misuse above).
        if self.0.state.load(Ordering::SeqCst) != state {
            panic!("sync: WaitGroup misuse: Add called concurrently with Wait");
        }
        self.0.state.store(0, Ordering::SeqCst);
        for _ in 0..w {
            sema::release(&self.0.sema, false);
        }
    }

    /// Decrements the counter by one.
    ///
    /// # Panics
    /// `sync: negative WaitGroup counter` if it was already zero.
    pub fn done(&self) {
        self.add(-1);
    }

    /// Blocks (parking the goroutine, or the thread) until the counter is zero.
    pub fn wait(&self) {
        let mut s = self.0.state.load(Ordering::SeqCst);
        loop {
            if s >> 32 == 0 {
                return;
            }
            match self
                .0
                .state
                .compare_exchange(s, s + 1, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => {
                    sema::acquire(&self.0.sema, false, WaitReason::WaitGroupWait);
                    if self.0.state.load(Ordering::SeqCst) != 0 {
                        panic!("sync: WaitGroup is reused before previous Wait has returned");
                    }
                    return;
                }
                Err(cur) => s = cur,
            }
        }
    }

    /// The counter right now (a snapshot, for diagnostics and tests).
    pub fn count(&self) -> isize {
        (self.0.state.load(Ordering::SeqCst) >> 32) as u32 as i32 as isize
    }

    /// Runs `f` in a new goroutine counted by this group: `add(1)` now, `done()` when `f`
    /// returns (Go 1.25's `wg.Go`).
    ///
    /// If `f` panics, the panic is reported as for any goroutine and `done` still runs, so
    /// `wait` does not hang (Go would crash the program).
    ///
    /// ```
    /// let wg = sync::WaitGroup::new();
    /// let ch = chan::make::<u32>(3);
    /// for i in 0..3 {
    ///     let ch = ch.clone();
    ///     wg.go(move || ch.send(i));
    /// }
    /// wg.wait();
    /// assert_eq!(ch.len(), 3);
    /// ```
    #[cfg(not(loom))]
    #[track_caller]
    pub fn go<F>(&self, f: F)
    where
        F: FnOnce() + Send + 'static,
    {
        struct Done(WaitGroup);
        impl Drop for Done {
            fn drop(&mut self) {
                self.0.done();
            }
        }
        self.add(1);
        let done = Done(self.clone());
        runtime::go(move || {
            let _done = done;
            f();
        });
    }
}

impl Default for WaitGroup {
    fn default() -> WaitGroup {
        WaitGroup::new()
    }
}

impl fmt::Debug for WaitGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0.state.load(Ordering::SeqCst);
        f.debug_struct("WaitGroup")
            .field("count", &((s >> 32) as u32 as i32))
            .field("waiters", &(s as u32))
            .finish()
    }
}
