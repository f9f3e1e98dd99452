//! The primitives the sync core is written against: `std` and the runtime normally, loom's
//! model-checked types under `--cfg loom` (see `loom_tests.rs`), so the Mutex state word, the
//! runtime semaphore and the WaitGroup run unchanged inside loom models. The atomics, the
//! bucket lock and the Dekker fence are the one loom facade's (`runtime::__loom`); this module
//! adds sync's own switches (spinning, handoff yield, the starvation clock).
//!
//! Under loom, waiting is chan's model parker (a per-thread `loom::sync::Notify`: a waiter that
//! is never woken is reported as a deadlock), spinning is off, and the starvation clock is a
//! switch the model sets ([`starving_after`]).

pub(crate) use runtime::__loom::{
    AtomicI32, AtomicU32, AtomicU64, AtomicUsize, Ordering, dekker_fence,
};

/// A semaphore bucket's lock, and the reader slots' list of parked writers: a blocking one
/// (loom's under `--cfg loom`).
pub(crate) use runtime::__loom::Mutex as BucketLock;

#[cfg(loom)]
pub(crate) use chan::__loom_model::{Waiter, park};
#[cfg(not(loom))]
pub(crate) use runtime::{Waiter, park, park_until};

/// `runtime::park_until` for the sync models: they install no clock, so it waits for an
/// unpark (chan's model parker) and reports no timeout.
#[cfg(loom)]
pub(crate) fn park_until(reason: runtime::WaitReason, _deadline: std::time::Instant) -> bool {
    park(reason);
    false
}

/// Whether a lock waiter in spin round `iter` should spin (never under loom: the models
/// explore interleavings, not timing).
#[inline]
pub(crate) fn can_spin(iter: u32) -> bool {
    #[cfg(not(loom))]
    {
        runtime::__sync::can_spin(iter)
    }
    #[cfg(loom)]
    {
        let _ = iter;
        false
    }
}

/// One spin round (~1.6 us: `runtime::__sync::SPIN_ROUND`).
#[inline]
pub(crate) fn do_spin() {
    #[cfg(not(loom))]
    runtime::__sync::do_spin();
}

/// One short spin round: Go's 30 `PAUSE`s.
#[inline]
pub(crate) fn do_spin_short() {
    #[cfg(not(loom))]
    for _ in 0..30 {
        std::hint::spin_loop();
    }
}

/// Gives the rest of the caller's time slice to the goroutine it just readied (Go's
/// `goyield` after a handoff). A no-op on a plain thread, under loom, and while the caller
/// unwinds a panic (the unlock may run in a guard's drop, and a goroutine must not switch
/// threads mid-unwind: std counts panics per thread).
#[inline]
pub(crate) fn handoff_yield() {
    #[cfg(not(loom))]
    if runtime::__sync::current_proc().is_some() && !std::thread::panicking() {
        runtime::gosched();
    }
}

/// A waiter's clock: the time it first queued.
#[cfg(not(loom))]
pub(crate) type WaitStart = Option<std::time::Instant>;
#[cfg(loom)]
pub(crate) type WaitStart = Option<()>;

/// Starts (or keeps) the waiter's clock.
#[inline]
pub(crate) fn wait_start(start: &mut WaitStart) {
    #[cfg(not(loom))]
    if start.is_none() {
        *start = Some(std::time::Instant::now());
    }
    #[cfg(loom)]
    if start.is_none() {
        *start = Some(());
    }
}

/// Whether a waiter that first queued at `start` has waited longer than `threshold`. Under
/// loom the model decides: [`loom_clock::set_starving`] makes every woken waiter starving.
pub(crate) fn starving_after(start: WaitStart, threshold: std::time::Duration) -> bool {
    #[cfg(not(loom))]
    {
        start.is_some_and(|t| t.elapsed() > threshold)
    }
    #[cfg(loom)]
    {
        let _ = threshold;
        start.is_some() && loom_clock::starving()
    }
}

#[cfg(loom)]
pub(crate) mod loom_clock {
    use std::cell::Cell;
    thread_local! {
        // Shared by all loom threads of a model (they run on the test's OS thread).
        static STARVING: Cell<bool> = const { Cell::new(false) };
    }
    pub(crate) fn starving() -> bool {
        STARVING.with(Cell::get)
    }
    /// Whether every waiter that has been woken once counts as having waited over 1 ms.
    #[cfg(test)]
    pub(crate) fn set_starving(on: bool) {
        STARVING.with(|s| s.set(on));
    }
}
