//! `Semaphore`: a weighted semaphore (`golang.org/x/sync/semaphore`'s `Weighted`).
//!
//! # The queue
//! A `std::sync::Mutex` guards `held` (units out) and a FIFO queue of waiters, each asking for
//! `n` units. The lock is held only for a few instructions and nothing parks under it.
//!
//! An acquire takes its units at once only if they fit *and nobody waits*: a waiter never
//! loses its place to a later request, large or small (no barging). `release` (and a waiter
//! that gives up) hands units out from the front of the queue while the front request fits,
//! and stops at the first one that does not, even if a smaller one behind it would fit. That
//! is what makes a semaphore of `N` units usable as a read-write lock (readers take 1, a
//! writer takes `N`): readers arriving after a writer queue behind it, so it is not starved.
//!
//! # Granting, and why a waiter need not be told twice
//! The granter does all the bookkeeping under the lock: it adds the waiter's units to `held`
//! and removes it from the queue. Only then, after unlocking, does it wake the waiter. So
//! "granted" is a fact about the queue (the waiter's ticket is gone), and the wakeup is only
//! a notification of it; a waiter woken spuriously finds its flag still clear and parks again.
//!
//! - [`Semaphore::acquire`] waits on a ready flag and its [`Waiter`] (the flag is set before
//!   the unpark, and `park` keeps a sticky token, so the wakeup cannot be lost).
//! - [`Semaphore::acquire_ctx`] must wait for "granted, or the context is done", so it waits
//!   in a `select!` over its own unbuffered ready channel (closed by the granter) and
//!   `ctx.done()`. If the context wins, it locks and looks for its ticket: still queued, it
//!   removes itself (and, if it was at the front, re-runs the hand-out, since requests behind
//!   it may fit now); already granted, it gives the units back the same way a `release`
//!   would. Either way the semaphore is as if it had never asked.

use crate::shim::{Waiter, park};
use chan::Chan;
use chan::context::{Context, ContextError};
use runtime::WaitReason;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// A blocking [`Semaphore::acquire`]'s wait: set by the granter, then its waiter unparked.
struct Parked {
    granted: AtomicBool,
    waiter: Waiter,
}

/// How to tell a queued waiter it was granted.
enum Wake {
    /// A blocking `acquire`: set the flag, unpark.
    Park(Arc<Parked>),
    /// An `acquire_ctx`: close its ready channel (a case of its select).
    Chan(Chan<()>),
}

impl Wake {
    fn wake(self) {
        match self {
            Wake::Park(p) => {
                // Release: pairs with the waiter's Acquire load; the grant itself was made
                // under the lock, this only publishes "it happened".
                p.granted.store(true, Ordering::Release);
                p.waiter.unpark();
            }
            Wake::Chan(c) => c.close(),
        }
    }
}

struct Queued {
    n: u64,
    wake: Wake,
}

struct State {
    /// Units out. Invariant: `held <= size`.
    held: u64,
    /// Waiters by ticket: ascending tickets are arrival order, so the first entry is the
    /// front of the queue, and a waiter that gives up finds itself by ticket in O(log n).
    waiters: BTreeMap<u64, Queued>,
    next_ticket: u64,
}

impl State {
    /// Queues a request for `n` units; returns its ticket.
    fn push(&mut self, n: u64, wake: Wake) -> u64 {
        let t = self.next_ticket;
        self.next_ticket += 1;
        self.waiters.insert(t, Queued { n, wake });
        t
    }

    /// Grants units to waiters from the front while the front request fits (x/sync's
    /// `notifyWaiters`). Returns whom to wake, for the caller to do after unlocking.
    ///
    /// Stopping at the first request that does not fit, rather than looking further for a
    /// smaller one, is deliberate: skipping ahead would starve large requests under load.
    fn grant(&mut self, size: u64) -> Vec<Wake> {
        let mut woken = Vec::new();
        while let Some(entry) = self.waiters.first_entry() {
            let n = entry.get().n;
            if size - self.held < n {
                break;
            }
            self.held += n;
            woken.push(entry.remove().wake);
        }
        woken
    }
}

fn wake_all(woken: Vec<Wake>) {
    for w in woken {
        w.wake();
    }
}

/// A weighted semaphore (`golang.org/x/sync/semaphore`'s `Weighted`): bounds how many units
/// of a resource are in use at once, where each holder takes as many units as it needs.
///
/// Requests are served strictly in arrival order: a request that has to wait blocks every
/// later one, even a smaller one that would fit (see [`try_acquire`](Semaphore::try_acquire)),
/// so large requests are never starved. Works from goroutines (which park) and plain threads
/// (which block) alike.
///
/// Weights are `u64`: Go's are `int64`, but a negative weight has no meaning there either.
///
/// Not a handle: share it with an `Arc`, a `static` ([`new`](Semaphore::new) is `const`) or a
/// [`runtime::scope`].
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU64, Ordering};
///
/// // At most 4 units of "memory" in use; each job takes as much as it needs.
/// let sem = Arc::new(sync::Semaphore::new(4));
/// let in_use = Arc::new(AtomicU64::new(0));
/// let wg = sync::WaitGroup::new();
/// for job in 0..12u64 {
///     let (sem, in_use) = (sem.clone(), in_use.clone());
///     let weight = 1 + job % 3;
///     wg.go(move || {
///         sem.acquire(weight);
///         assert!(in_use.fetch_add(weight, Ordering::SeqCst) + weight <= 4);
///         runtime::gosched();
///         in_use.fetch_sub(weight, Ordering::SeqCst);
///         sem.release(weight);
///     });
/// }
/// wg.wait();
/// assert_eq!(sem.held(), 0);
/// ```
pub struct Semaphore {
    size: u64,
    state: Mutex<State>,
}

impl Semaphore {
    /// A semaphore of `size` units, all free (Go's `semaphore.NewWeighted`).
    ///
    /// ```
    /// static SEM: sync::Semaphore = sync::Semaphore::new(3);
    /// assert!(SEM.try_acquire(3));
    /// SEM.release(3);
    /// ```
    pub const fn new(size: u64) -> Semaphore {
        Semaphore {
            size,
            state: Mutex::new(State {
                held: 0,
                waiters: BTreeMap::new(),
                next_ticket: 0,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while the lock is held (the panics below unlock first), so a
        // poisoned lock is still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether `n` units can be taken now without jumping the queue.
    fn fits_now(&self, st: &State, n: u64) -> bool {
        self.size - st.held >= n && st.waiters.is_empty()
    }

    /// Acquires `n` units, blocking (parking the goroutine, or the thread) until they are
    /// available and every earlier waiter has been served.
    ///
    /// This is Go's `Acquire(context.Background(), n)`.
    ///
    /// # Panics
    /// If `n` exceeds the semaphore's size: such a request could never be granted, and Go's
    /// version would block forever. Use [`acquire_ctx`](Semaphore::acquire_ctx) to wait for
    /// a context instead.
    ///
    /// ```
    /// use std::sync::Arc;
    /// let sem = Arc::new(sync::Semaphore::new(2));
    /// sem.acquire(2);
    /// let s2 = sem.clone();
    /// let h = runtime::spawn(move || {
    ///     s2.acquire(1); // parks until the main thread releases
    ///     s2.release(1);
    /// });
    /// sem.release(2);
    /// h.join().unwrap();
    /// ```
    pub fn acquire(&self, n: u64) {
        if n > self.size {
            panic!(
                "semaphore: acquire of {n} units can never succeed on a semaphore of size {}",
                self.size
            );
        }
        let mut st = self.lock();
        if self.fits_now(&st, n) {
            st.held += n;
            return;
        }
        let parked = Arc::new(Parked {
            granted: AtomicBool::new(false),
            waiter: Waiter::current(),
        });
        st.push(n, Wake::Park(parked.clone()));
        drop(st);
        // Acquire: pairs with the granter's Release store.
        while !parked.granted.load(Ordering::Acquire) {
            park(WaitReason::SemAcquire);
        }
    }

    /// Acquires `n` units, waiting until they are available or `ctx` is done (Go's
    /// `Acquire(ctx, n)`). On failure returns `ctx`'s error and leaves the semaphore as it
    /// was.
    ///
    /// This follows current x/sync (since v0.5.0, golang/go#63615): *a done context always
    /// fails*.
    /// - If `ctx` is already done when it is called, it fails even if the units are free.
    /// - If the units are granted and `ctx` is done by the time the waiter runs again (the two
    ///   raced), the units are given back and it fails. Older x/sync kept the units and
    ///   returned success in that race.
    ///
    /// A request larger than the semaphore's size does not queue (it would block everyone
    /// behind it): it just waits for `ctx` to be done and returns its error. With a context
    /// that can never be cancelled ([`background`](chan::context::background)) that is
    /// forever, as in Go; [`acquire`](Semaphore::acquire) panics instead.
    ///
    /// ```
    /// use chan::context::{self, ContextError};
    /// use std::time::Duration;
    /// let sem = sync::Semaphore::new(1);
    /// sem.acquire(1);
    /// let (ctx, _cancel) = context::with_timeout(&context::background(), Duration::from_millis(5));
    /// assert_eq!(sem.acquire_ctx(&ctx, 1), Err(ContextError::DeadlineExceeded));
    /// sem.release(1);
    /// assert_eq!(sem.acquire_ctx(&context::background(), 1), Ok(()));
    /// ```
    pub fn acquire_ctx(&self, ctx: &Context, n: u64) -> Result<(), ContextError> {
        let done = ctx.done();
        let mut st = self.lock();
        // A context done before the lock was taken "happened before" this acquire.
        if let Some(e) = ctx.err() {
            return Err(e);
        }
        if self.fits_now(&st, n) {
            st.held += n;
            return Ok(());
        }
        if n > self.size {
            drop(st);
            done.recv();
            return Err(done_err(ctx));
        }
        let ready = chan::make::<()>(0);
        let ticket = st.push(n, Wake::Chan(ready.clone()));
        drop(st);

        chan::select! {
            <-ready => {
                // Granted. A context done meanwhile still wins: give the units back.
                if let Some(e) = ctx.err() {
                    self.release(n);
                    return Err(e);
                }
                Ok(())
            }
            <-done => {
                let mut st = self.lock();
                let front = st.waiters.first_key_value().map(|(t, _)| *t) == Some(ticket);
                let woken = if st.waiters.remove(&ticket).is_some() {
                    // Still queued: leave. Only the front waiter's leaving can let others
                    // through (units are free that it was waiting to add to).
                    if front && self.size > st.held {
                        st.grant(self.size)
                    } else {
                        Vec::new()
                    }
                } else {
                    // Granted concurrently with the cancellation: put the units back.
                    st.held -= n;
                    st.grant(self.size)
                };
                drop(st);
                wake_all(woken);
                Err(done_err(ctx))
            }
        }
    }

    /// Acquires `n` units if they are free now *and nobody is waiting*; never blocks (Go's
    /// `TryAcquire`). Returns whether it took them.
    ///
    /// Because waiters are served in order, this fails while any acquire is queued, even if
    /// `n` units are free.
    ///
    /// ```
    /// let sem = sync::Semaphore::new(5);
    /// sem.acquire(3);
    /// assert!(!sem.try_acquire(3));
    /// assert!(sem.try_acquire(2));
    /// ```
    pub fn try_acquire(&self, n: u64) -> bool {
        let mut st = self.lock();
        let ok = self.fits_now(&st, n);
        if ok {
            st.held += n;
        }
        ok
    }

    /// Releases `n` units, then grants queued requests from the front while they fit (Go's
    /// `Release`).
    ///
    /// Units are not tied to who acquired them: any goroutine or thread may release them.
    ///
    /// # Panics
    /// `semaphore: released more than held` if fewer than `n` units are held; the semaphore
    /// is left unchanged (Go's leaves its count negative).
    ///
    /// ```
    /// let sem = sync::Semaphore::new(2);
    /// sem.acquire(2);
    /// sem.release(1);
    /// sem.release(1);
    /// assert_eq!(sem.held(), 0);
    /// ```
    pub fn release(&self, n: u64) {
        let mut st = self.lock();
        if n > st.held {
            drop(st);
            panic!("semaphore: released more than held");
        }
        st.held -= n;
        let woken = st.grant(self.size);
        drop(st);
        wake_all(woken);
    }

    /// The number of units in total.
    ///
    /// ```
    /// assert_eq!(sync::Semaphore::new(7).size(), 7);
    /// ```
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The number of units held right now (a snapshot, for diagnostics and tests).
    ///
    /// ```
    /// let sem = sync::Semaphore::new(4);
    /// sem.acquire(3);
    /// assert_eq!(sem.held(), 3);
    /// ```
    pub fn held(&self) -> u64 {
        self.lock().held
    }

    /// The number of queued acquires right now (a snapshot, for diagnostics and tests).
    /// A request larger than the size, waiting only for its context, is not queued.
    ///
    /// ```
    /// let sem = sync::Semaphore::new(1);
    /// assert_eq!(sem.waiting(), 0);
    /// ```
    pub fn waiting(&self) -> usize {
        self.lock().waiters.len()
    }
}

/// The error of a context whose `done` channel has been seen closed.
fn done_err(ctx: &Context) -> ContextError {
    ctx.err()
        .expect("context: done channel closed before the error was set")
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.lock();
        f.debug_struct("Semaphore")
            .field("size", &self.size)
            .field("held", &st.held)
            .field("waiting", &st.waiters.len())
            .finish()
    }
}
