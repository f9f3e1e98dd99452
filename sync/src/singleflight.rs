//! `Singleflight`: `golang.org/x/sync/singleflight`'s `Group`, duplicate call suppression.
//!
//! Callers that ask for the same key while a call for it is in flight wait for that call
//! and share its result, instead of running the function again (a cache fill, a DNS lookup,
//! a request to a backend). As in Go:
//! * [`do_`](Singleflight::do_) returns the value and whether it was shared with other
//!   callers; [`do_chan`](Singleflight::do_chan) runs the call in a new goroutine and
//!   delivers the same on a channel; [`forget`](Singleflight::forget) makes the next call for
//!   a key run anew even while one is in flight;
//! * a panic in the function reaches every caller: the one that ran it resumes the original
//!   panic, every waiter panics with a [`PanicError`] carrying its message (Go re-panics in
//!   each waiter; a Rust payload cannot be cloned, its message can). A `do_chan` caller's
//!   function that panics panics its goroutine, and the channel is left without a value
//!   (as Go's, which crashes the process there).
//!
//! The key map is a `std` mutex held only to look up or insert (Go's `sync.Mutex`); waiters
//! wait on the call's [`WaitGroup`], so goroutines park and plain threads block. One
//! allocation per call that runs the function (its shared record), none per waiter.

use crate::WaitGroup;
use chan::{Receiver, Sender};
use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

/// A panic in the function of a shared call, as its waiters see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PanicError {
    /// The panic's message (its `&str` or `String` payload; otherwise a placeholder).
    pub message: String,
}

impl fmt::Display for PanicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "singleflight: the shared call panicked: {}",
            self.message
        )
    }
}

impl std::error::Error for PanicError {}

/// What [`Singleflight::do_chan`] delivers (Go's `singleflight.Result`, without `Err`: a
/// fallible function returns a `Result` as its value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedResult<V> {
    /// The call's value.
    pub val: V,
    /// Whether the value was given to more than one caller.
    pub shared: bool,
}

/// One call in flight (Go's `call`).
struct Call<V> {
    /// Done once the value (or the panic) is set.
    wg: WaitGroup,
    outcome: OnceLock<Result<V, PanicError>>,
    /// Callers beyond the first, and the `do_chan` receivers' senders.
    waiters: Mutex<Waiters<V>>,
}

struct Waiters<V> {
    dups: usize,
    chans: Vec<Sender<SharedResult<V>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing panics while these locks are held.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Duplicate call suppression per key (Go's `singleflight.Group`). Share it by reference
/// or in an `Arc`; the zero value of Go is [`Singleflight::new`] / `default()`.
///
/// ```
/// use sync::Singleflight;
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// let g = Arc::new(Singleflight::<&str, u64>::new());
/// let calls = Arc::new(AtomicUsize::new(0));
/// let (tx, rx) = std::sync::mpsc::channel();
/// runtime::block_on(move || {
///     let gate = Arc::new(sync::WaitGroup::new());
///     gate.add(1);
///     let hs: Vec<_> = (0..10)
///         .map(|_| {
///             let (g, calls, gate) = (g.clone(), calls.clone(), gate.clone());
///             runtime::spawn(move || {
///                 g.do_("answer", || {
///                     calls.fetch_add(1, Ordering::SeqCst);
///                     gate.wait(); // hold the call in flight until everyone asked
///                     42
///                 })
///             })
///         })
///         .collect();
///     while g.in_flight_callers(&"answer") < 10 {
///         runtime::gosched();
///     }
///     gate.done();
///     for h in hs {
///         assert_eq!(h.join().unwrap(), (42, true));
///     }
///     tx.send(calls.load(Ordering::SeqCst)).unwrap();
/// });
/// assert_eq!(rx.recv().unwrap(), 1, "the function ran once for ten callers");
/// ```
pub struct Singleflight<K, V> {
    calls: Mutex<HashMap<K, Arc<Call<V>>>>,
}

impl<K, V> Default for Singleflight<K, V> {
    fn default() -> Self {
        Singleflight {
            calls: Mutex::new(HashMap::new()),
        }
    }
}

impl<K, V> fmt::Debug for Singleflight<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Singleflight")
            .field("in_flight", &lock(&self.calls).len())
            .finish()
    }
}

impl<K: Hash + Eq + Clone, V: Clone> Singleflight<K, V> {
    /// An empty group.
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `f` for `key` unless a call for `key` is in flight, in which case it waits for
    /// that call. Returns the value and whether it was shared (given to more than one
    /// caller). A panic in `f` resumes in the caller that ran it and reaches every waiter as
    /// a panic with a [`PanicError`] payload.
    pub fn do_(&self, key: K, f: impl FnOnce() -> V) -> (V, bool) {
        let mut calls = lock(&self.calls);
        if let Some(c) = calls.get(&key) {
            let c = c.clone();
            lock(&c.waiters).dups += 1;
            drop(calls);
            c.wg.wait();
            return match c
                .outcome
                .get()
                .expect("singleflight: a finished call has a value")
            {
                Ok(v) => (v.clone(), true),
                Err(p) => panic::panic_any(p.clone()),
            };
        }
        let c = Arc::new(Call {
            wg: WaitGroup::new(),
            outcome: OnceLock::new(),
            waiters: Mutex::new(Waiters {
                dups: 0,
                chans: Vec::new(),
            }),
        });
        c.wg.add(1);
        calls.insert(key.clone(), c.clone());
        drop(calls);
        match self.run(&key, &c, f) {
            Ok(shared) => (
                c.outcome
                    .get()
                    .and_then(|o| o.as_ref().ok())
                    .cloned()
                    .expect("set by run"),
                shared,
            ),
            Err(payload) => panic::resume_unwind(payload),
        }
    }

    /// [`do_`](Singleflight::do_) in a new goroutine when no call for `key` is in flight:
    /// the result arrives on the returned channel (buffered, so the call never waits for the
    /// receiver). A waiter's channel gets the in-flight call's result.
    pub fn do_chan(
        self: &Arc<Self>,
        key: K,
        f: impl FnOnce() -> V + Send + 'static,
    ) -> Receiver<SharedResult<V>>
    where
        K: Send + Sync + 'static,
        V: Send + Sync + 'static,
    {
        let ch = chan::make::<SharedResult<V>>(1);
        let mut calls = lock(&self.calls);
        if let Some(c) = calls.get(&key) {
            let mut w = lock(&c.waiters);
            w.dups += 1;
            w.chans.push(ch.sender());
            return ch.receiver();
        }
        let c = Arc::new(Call {
            wg: WaitGroup::new(),
            outcome: OnceLock::new(),
            waiters: Mutex::new(Waiters {
                dups: 0,
                chans: vec![ch.sender()],
            }),
        });
        c.wg.add(1);
        calls.insert(key.clone(), c.clone());
        drop(calls);
        let g = self.clone();
        runtime::go!(move || {
            if let Err(payload) = g.run(&key, &c, f) {
                panic::resume_unwind(payload);
            }
        });
        ch.receiver()
    }

    /// Forgets `key`: later calls for it run the function again instead of waiting for the
    /// call in flight, which still finishes for its own callers (Go's `Forget`).
    pub fn forget(&self, key: &K) {
        lock(&self.calls).remove(key);
    }

    /// How many callers are waiting for, or running, the call for `key` now (0 if none is in
    /// flight). Not in Go's API; for tests and metrics.
    pub fn in_flight_callers(&self, key: &K) -> usize {
        lock(&self.calls)
            .get(key)
            .map_or(0, |c| 1 + lock(&c.waiters).dups)
    }

    /// Runs `f` as the call for `key`: records the outcome, wakes the waiters, delivers to the
    /// `do_chan` receivers and removes the call from the map (unless forgotten and replaced).
    /// Ok(shared), or the panic's payload for the caller to resume.
    fn run(
        &self,
        key: &K,
        c: &Arc<Call<V>>,
        f: impl FnOnce() -> V,
    ) -> Result<bool, Box<dyn std::any::Any + Send>> {
        let r = panic::catch_unwind(AssertUnwindSafe(f));
        let outcome = match &r {
            Ok(v) => Ok(v.clone()),
            Err(p) => Err(PanicError {
                message: p
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| p.downcast_ref::<String>().cloned())
                    .or_else(|| p.downcast_ref::<PanicError>().map(|e| e.message.clone()))
                    .unwrap_or_else(|| "non-string panic payload".into()),
            }),
        };
        let _ = c.outcome.set(outcome);
        {
            // Remove it first (Go deletes under the lock before waking), unless `forget`
            // already did and a newer call took the key.
            let mut calls = lock(&self.calls);
            if calls.get(key).is_some_and(|cur| Arc::ptr_eq(cur, c)) {
                calls.remove(key);
            }
        }
        let (shared, chans) = {
            let mut w = lock(&c.waiters);
            (w.dups > 0, std::mem::take(&mut w.chans))
        };
        c.wg.done();
        if let Some(Ok(v)) = c.outcome.get() {
            for ch in chans {
                ch.send(SharedResult {
                    val: v.clone(),
                    shared,
                });
            }
        }
        r.map(|_| shared)
    }
}
