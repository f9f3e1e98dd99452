//! The one loom facade: the concurrency primitives the lock-free parts of goro are written
//! against, for every crate. The runtime uses it as `crate::__loom`; chan's and sync's shims
//! re-export from `runtime::__loom` (and add only their crate-specific parts: chan's model
//! parker, sync's spin and starvation switches). Not a public API.
//!
//! Under `--cfg loom` these are loom's model-checked types, so the run queue
//! ([`crate::runq`]), the park state machine ([`crate::parkstate`]), the netpoller's wait slot,
//! and chan's and sync's cores run unchanged inside loom models. Everywhere else they are
//! exactly `std`'s (plain re-exports: no wrapper, no cost).

#[cfg(loom)]
pub use loom::sync::atomic::{
    AtomicBool, AtomicI32, AtomicPtr, AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering, fence,
};
#[cfg(not(loom))]
pub use std::sync::atomic::{
    AtomicBool, AtomicI32, AtomicPtr, AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering, fence,
};

/// A cell whose accesses loom tracks under `--cfg loom` (it reports unsynchronised ones as
/// data races). loom's is accessed through `with_mut`/`get_mut`, std's through `get`: users
/// branch on `cfg(loom)`.
#[cfg(loom)]
pub use loom::cell::UnsafeCell;
#[cfg(not(loom))]
pub use std::cell::UnsafeCell;

/// A blocking lock (loom's under `--cfg loom`, so the model sees its synchronisation).
#[cfg(loom)]
pub use loom::sync::Mutex;
#[cfg(not(loom))]
pub use std::sync::Mutex;

/// One step of a busy-wait: the CPU's pause hint.
#[cfg(not(loom))]
pub use std::hint::spin_loop;

/// Under loom a spin step is a yield, so the model runs the thread being waited for (a
/// spinning loop without one never ends in a loom model).
#[cfg(loom)]
pub fn spin_loop() {
    loom::thread::yield_now();
}

/// One step of waiting for another thread that holds a word for a few microseconds (an
/// unpark meeting sysmon's stack trim): a yield, so that thread gets the CPU if it needs it.
#[cfg(not(loom))]
pub fn spin_wait() {
    std::thread::yield_now();
}

/// Under loom: a yield, so the model runs the thread being waited for.
#[cfg(loom)]
pub fn spin_wait() {
    loom::thread::yield_now();
}

/// Orders a SeqCst write before a later SeqCst load of another location: the two halves of
/// a Dekker pair (a waiter's registration vs. a waker's state change). Real SeqCst accesses
/// already do; loom models SeqCst accesses as AcqRel (its documented limitation) but does
/// model fences, so under loom this is a SeqCst fence and elsewhere nothing.
#[inline(always)]
pub fn dekker_fence() {
    #[cfg(loom)]
    fence(Ordering::SeqCst);
}
