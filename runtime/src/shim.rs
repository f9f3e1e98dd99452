//! The concurrency primitives the lock-free parts of the runtime are written against.
//!
//! Under `--cfg loom` these are loom's model-checked types, so the run queue
//! ([`crate::runq`]) and the park state machine ([`crate::parkstate`]) run unchanged inside loom
//! models (see `runtime/src/loom_tests.rs`). Everywhere else they are `std`'s.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, Ordering, fence};

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, Ordering, fence};

/// One step of waiting for another thread that holds a word for a few microseconds (an
/// unpark meeting sysmon's stack trim): a yield, so that thread gets the CPU if it needs it.
#[cfg(not(loom))]
pub(crate) fn spin_wait() {
    std::thread::yield_now();
}

/// Under loom: a yield, so the model runs the thread being waited for.
#[cfg(loom)]
pub(crate) fn spin_wait() {
    loom::thread::yield_now();
}
