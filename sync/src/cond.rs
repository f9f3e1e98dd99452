//! `Cond`: Go's `sync.Cond`, on a ticket-based notify list (Go's `notifyList` in sema.go).
//!
//! A waiter takes a ticket (`wait.fetch_add`) *before* it unlocks the mutex, then queues under
//! the list lock unless its ticket has already been notified. `signal` notifies the smallest
//! unnotified ticket, `broadcast` all of them. Because tickets are taken while the mutex is held,
//! a signal that comes after a waiter unlocked (but before it queued) is not lost: the waiter
//! finds its ticket notified and returns without parking.

use crate::mutex::MutexGuard;
use crate::shim::{Waiter, park};
use runtime::WaitReason;
use std::collections::VecDeque;
use std::fmt;
use std::ptr::NonNull;
use std::sync::Mutex as ListLock;
use std::sync::atomic::{AtomicU32, Ordering};

struct Node {
    waiter: Waiter,
    done: AtomicU32,
}

struct Queued {
    ticket: u32,
    node: NonNull<Node>,
}

// SAFETY: the node is only dereferenced by the thread that dequeued it, before it sets `done`
// (after which the waiter may free it); see `notify`.
unsafe impl Send for Queued {}

/// A condition variable for goroutines and threads (Go's `sync.Cond`), used with a goro
/// [`crate::Mutex`].
///
/// [`wait`](Cond::wait) atomically unlocks the mutex and parks; when woken by
/// [`signal`](Cond::signal) or [`broadcast`](Cond::broadcast) it locks again before returning.
/// As in Go, wakeups carry no guarantee about the condition: wait in a loop (or use
/// [`wait_while`](Cond::wait_while)).
///
/// ```
/// use std::sync::Arc;
/// let state = Arc::new((sync::Mutex::new(false), sync::Cond::new()));
/// let s2 = state.clone();
/// runtime::go(move || {
///     *s2.0.lock() = true;
///     s2.1.signal();
/// });
/// let (m, c) = &*state;
/// let ready = c.wait_while(m.lock(), |ready| !*ready);
/// assert!(*ready);
/// ```
pub struct Cond {
    /// Next ticket to hand out.
    wait: AtomicU32,
    /// Next ticket to notify (written under `list`, read outside it for the fast paths).
    notify: AtomicU32,
    list: ListLock<VecDeque<Queued>>,
}

/// `a` precedes `b` in ticket order (tickets wrap).
fn less(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

impl Cond {
    /// A new condition variable.
    pub const fn new() -> Cond {
        Cond {
            wait: AtomicU32::new(0),
            notify: AtomicU32::new(0),
            list: ListLock::new(VecDeque::new()),
        }
    }

    fn list(&self) -> std::sync::MutexGuard<'_, VecDeque<Queued>> {
        // Nothing panics while the list lock is held (beyond allocation failure, which
        // aborts), so a poisoned lock is still consistent.
        self.list.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Unlocks the guard's mutex, waits for a `signal` or `broadcast`, locks it again and
    /// returns the guard.
    pub fn wait<'a, T: ?Sized>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        /// Locks the mutex again when dropped, even if the wait unwinds, so the caller's
        /// guard never unlocks a mutex it does not hold.
        struct Relock<'g, 'a, T: ?Sized>(&'g MutexGuard<'a, T>);
        impl<T: ?Sized> Drop for Relock<'_, '_, T> {
            fn drop(&mut self) {
                MutexGuard::relock_raw(self.0);
            }
        }
        let ticket = self.wait.fetch_add(1, Ordering::SeqCst);
        // SAFETY: the guard is not used until `relock` relocks below (on every path, unwinding
        // included), and not dropped in between.
        unsafe { MutexGuard::unlock_raw(&guard) };
        {
            let _relock = Relock(&guard);
            self.wait_ticket(ticket);
        }
        guard
    }

    /// Waits while `condition` holds, re-checking it under the lock after every wakeup.
    pub fn wait_while<'a, T: ?Sized>(
        &self,
        mut guard: MutexGuard<'a, T>,
        mut condition: impl FnMut(&mut T) -> bool,
    ) -> MutexGuard<'a, T> {
        while condition(&mut guard) {
            guard = self.wait(guard);
        }
        guard
    }

    fn wait_ticket(&self, ticket: u32) {
        let node = Node {
            waiter: Waiter::current(),
            done: AtomicU32::new(0),
        };
        {
            let mut list = self.list();
            if less(ticket, self.notify.load(Ordering::Relaxed)) {
                return; // notified before we queued
            }
            list.push_back(Queued {
                ticket,
                node: NonNull::from(&node),
            });
        }
        // Acquire: pairs with the notifier's Release store of `done`.
        while node.done.load(Ordering::Acquire) == 0 {
            park(WaitReason::CondWait);
        }
    }

    /// Test support, not API: how many goroutines and threads are queued now, waiting for a
    /// signal (taken out of the queue by the `signal` or `broadcast` that wakes them). Tests
    /// wait on it instead of sleeping to let a waiter block, and check with it that a signal
    /// took exactly one waiter out.
    #[doc(hidden)]
    pub fn __queued(&self) -> usize {
        self.list().len()
    }

    /// Wakes one waiting goroutine or thread, the one waiting longest, if any.
    pub fn signal(&self) {
        // No waiters since the last notification: nothing to do, without the lock.
        if self.wait.load(Ordering::SeqCst) == self.notify.load(Ordering::SeqCst) {
            return;
        }
        let node = {
            let mut list = self.list();
            let t = self.notify.load(Ordering::Relaxed);
            if t == self.wait.load(Ordering::SeqCst) {
                return;
            }
            self.notify.store(t.wrapping_add(1), Ordering::SeqCst);
            // The holder of ticket t may not have queued yet; then it sees t notified.
            match list.iter().position(|q| q.ticket == t) {
                Some(i) => list.remove(i).expect("in range").node,
                None => return,
            }
        };
        wake(node);
    }

    /// Wakes every goroutine and thread waiting now.
    pub fn broadcast(&self) {
        if self.wait.load(Ordering::SeqCst) == self.notify.load(Ordering::SeqCst) {
            return;
        }
        let woken = {
            let mut list = self.list();
            self.notify
                .store(self.wait.load(Ordering::SeqCst), Ordering::SeqCst);
            std::mem::take(&mut *list)
        };
        for q in woken {
            wake(q.node);
        }
    }
}

fn wake(node: NonNull<Node>) {
    // SAFETY: we dequeued the node, so its waiter is still waiting for `done` and the node
    // (on its stack) is alive until we set it.
    let node = unsafe { node.as_ref() };
    let w = node.waiter.clone();
    // Release: the waiter's Acquire load sees everything before; the node may vanish after.
    node.done.store(1, Ordering::Release);
    w.unpark();
}

impl Default for Cond {
    fn default() -> Cond {
        Cond::new()
    }
}

impl fmt::Debug for Cond {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let waiting = self
            .wait
            .load(Ordering::Relaxed)
            .wrapping_sub(self.notify.load(Ordering::Relaxed));
        f.debug_struct("Cond").field("waiting", &waiting).finish()
    }
}
