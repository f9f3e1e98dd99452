//! goro's `sync`: Go's `sync` package (and `x/sync`'s semaphore, errgroup and singleflight) in Rust's
//! shapes: [`WaitGroup`], [`Once`] / [`OnceCell`] / [`OnceValue`], [`Mutex`], [`RwMutex`],
//! [`Pool`], [`Cond`], [`Semaphore`], [`ErrGroup`] and [`Singleflight`].
//!
//! Every primitive works from goroutines and from plain threads, on the same value at once: a
//! goroutine that has to wait parks its G (its M goes on running other goroutines), a thread
//! blocks on a futex. The locks keep Go's algorithms: a one-CAS uncontended path, brief
//! spinning only while the holder runs on another processor, Mutex's starvation mode, and
//! RwMutex's writer preference. One departure, for speed: a goroutine's read lock claims a
//! slot in its P's row of a shared table instead of adding to the lock's reader count, so
//! readers on different cores do not fight over one cache line. Waiters queue on one runtime
//! semaphore table (Go's `sema.go`), so a `Mutex` is 8 bytes plus its data.
//!
//! ```
//! use std::sync::Arc;
//! use sync::{Mutex, WaitGroup};
//!
//! let total = Arc::new(Mutex::new(0u64));
//! let wg = WaitGroup::new();
//! for i in 1..=100u64 {
//!     let total = total.clone();
//!     wg.go(move || *total.lock() += i);
//! }
//! wg.wait();
//! assert_eq!(*total.lock(), 5050);
//! ```
//!
//! Not here, by design: lock poisoning (Go has none; a guard dropped by a panic unlocks), and
//! a Go-style `Map` (use a `Mutex<HashMap>` or a sharded map).

#![warn(missing_docs)]

mod cond;
mod errgroup;
mod mutex;
mod once;
mod pool;
mod rslot;
mod rwmutex;
mod sema;
mod semaphore;
mod shim;
mod singleflight;
mod waitgroup;

#[cfg(all(test, loom))]
#[path = "../../chan/src/loom_support.rs"]
mod loom_support;
#[cfg(all(test, loom))]
mod loom_tests;

pub use cond::Cond;
pub use errgroup::ErrGroup;
pub use mutex::{Mutex, MutexGuard, STARVATION_THRESHOLD};
pub use once::{Once, OnceCell, OnceValue};
pub use pool::{POOL_CLEANUP_INTERVAL, Pool, PoolGuard};
pub use rwmutex::{RwMutex, RwMutexReadGuard, RwMutexWriteGuard};
pub use semaphore::Semaphore;
pub use singleflight::{PanicError, SharedResult, Singleflight};
pub use waitgroup::WaitGroup;
