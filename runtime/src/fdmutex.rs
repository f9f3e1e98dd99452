//! The reference count and per-direction locks of a polled file descriptor (Go's
//! `internal/poll.fdMutex`).
//!
//! Three things share one word, so each is one CAS on the I/O path:
//! * **references**: every operation in flight holds one, and the descriptor's owner holds
//!   one until `close`. The fd number is closed by whoever drops the last reference after
//!   `close` ([`FdMutex::decref`] / [`FdMutex::rwunlock`] return true), so a number is never
//!   reused while another goroutine may still pass it to a system call.
//! * **closed**: set once by [`FdMutex::incref_and_close`]; every later operation fails.
//! * **read and write locks**: reads are serialised among themselves and so are writes (one
//!   goroutine reads while another writes, as in Go), which is what lets each wait slot of the
//!   poll descriptor hold at most one sleeper. Waiters for a lock are counted in the word and
//!   queued beside it; an unlock that sees a count wakes one of them to try again (a newcomer
//!   may take the lock first, as in Go's fdMutex).
//!
//! ```text
//! bit 0       closed
//! bit 1       read lock held
//! bit 2       write lock held
//! bits 3-22   references (2^20 - 1 at most: more is a bug, reported as a panic)
//! bits 23-42  read-lock waiters
//! bits 43-62  write-lock waiters
//! ```

use crate::WaitReason;
use crate::park::{Waiter, park};
use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

const CLOSED: u64 = 1;
const RLOCK: u64 = 1 << 1;
const WLOCK: u64 = 1 << 2;
const REF: u64 = 1 << 3;
const REF_MASK: u64 = ((1 << 20) - 1) * REF;
const RWAIT: u64 = 1 << 23;
const RWAIT_MASK: u64 = ((1 << 20) - 1) * RWAIT;
const WWAIT: u64 = 1 << 43;
const WWAIT_MASK: u64 = ((1 << 20) - 1) * WWAIT;

/// A direction's lock waiters: how many lock grants are pending, and who sleeps.
struct Sema {
    q: Mutex<(u32, VecDeque<Waiter>)>,
}

impl Sema {
    const fn new() -> Sema {
        Sema {
            q: Mutex::new((0, VecDeque::new())),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (u32, VecDeque<Waiter>)> {
        self.q.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for one grant.
    fn acquire(&self) {
        let me = Waiter::current();
        loop {
            let mut q = self.lock();
            // A spurious wakeup left us queued: take that entry out, so a later release does
            // not spend its wakeup on us while another waiter sleeps on.
            q.1.retain(|w| !w.same_as(&me));
            if q.0 > 0 {
                q.0 -= 1;
                return;
            }
            q.1.push_back(me.clone());
            drop(q);
            park(WaitReason::FdLock);
        }
    }

    /// Adds `n` grants and wakes as many sleepers.
    fn release(&self, n: u32) {
        let mut q = self.lock();
        q.0 += n;
        for _ in 0..n {
            match q.1.pop_front() {
                Some(w) => w.unpark(),
                None => break,
            }
        }
    }
}

/// See the module docs.
pub(crate) struct FdMutex {
    state: AtomicU64,
    rsema: Sema,
    wsema: Sema,
}

impl FdMutex {
    /// A new, open descriptor with one reference: its owner's.
    pub(crate) const fn new() -> FdMutex {
        FdMutex {
            state: AtomicU64::new(REF),
            rsema: Sema::new(),
            wsema: Sema::new(),
        }
    }

    /// Back to a new descriptor's state (a reused poll descriptor; nobody else holds it).
    pub(crate) fn reset(&self) {
        self.state.store(REF, Ordering::Relaxed);
        *self.rsema.lock() = (0, VecDeque::new());
        *self.wsema.lock() = (0, VecDeque::new());
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.state.load(Ordering::Acquire) & CLOSED != 0
    }

    /// Takes a reference for an operation that needs no lock (`set_nodelay`, `local_addr`).
    /// False if the descriptor is closed.
    pub(crate) fn incref(&self) -> bool {
        let mut old = self.state.load(Ordering::Relaxed);
        loop {
            if old & CLOSED != 0 {
                return false;
            }
            assert!(old & REF_MASK != REF_MASK, "fdmutex: too many references");
            match self.state.compare_exchange_weak(
                old,
                old + REF,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(o) => old = o,
            }
        }
    }

    /// Drops a reference; true if it was the last one after close (the caller destroys the fd).
    pub(crate) fn decref(&self) -> bool {
        // AcqRel: everything this operation did happens before the destroyer's close.
        let new = self.state.fetch_sub(REF, Ordering::AcqRel) - REF;
        debug_assert!(
            new & REF_MASK != REF_MASK,
            "fdmutex: decref without a reference"
        );
        new & (CLOSED | REF_MASK) == CLOSED
    }

    /// Marks the descriptor closed (taking a reference the caller drops with `decref` when it
    /// has woken the waiters) and wakes every goroutine waiting for a lock. False if it was
    /// closed already.
    pub(crate) fn incref_and_close(&self) -> bool {
        let mut old = self.state.load(Ordering::Relaxed);
        loop {
            if old & CLOSED != 0 {
                return false;
            }
            let new = ((old | CLOSED) + REF) & !(RWAIT_MASK | WWAIT_MASK);
            match self
                .state
                .compare_exchange_weak(old, new, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => {
                    // They wake, see CLOSED, and fail.
                    self.rsema.release(((old & RWAIT_MASK) / RWAIT) as u32);
                    self.wsema.release(((old & WWAIT_MASK) / WWAIT) as u32);
                    return true;
                }
                Err(o) => old = o,
            }
        }
    }

    /// Takes the read (or write) lock and a reference; false if the descriptor is closed
    /// (now, or while waiting for the lock).
    pub(crate) fn rwlock(&self, read: bool) -> bool {
        let (bit, wait, mask, sema) = self.dir(read);
        let mut old = self.state.load(Ordering::Relaxed);
        loop {
            if old & CLOSED != 0 {
                return false;
            }
            let new = if old & bit == 0 {
                assert!(old & REF_MASK != REF_MASK, "fdmutex: too many references");
                (old | bit) + REF
            } else {
                assert!(old & mask != mask, "fdmutex: too many waiters");
                old + wait
            };
            match self
                .state
                .compare_exchange_weak(old, new, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) if old & bit == 0 => return true,
                Ok(_) => {
                    // Queued: an unlock (or the close) hands us a grant. The holder cleared
                    // the bit for us only in the sense that it may be free now: try again.
                    sema.acquire();
                    old = self.state.load(Ordering::Relaxed);
                }
                Err(o) => old = o,
            }
        }
    }

    /// Releases the read (or write) lock and the reference `rwlock` took; true if that was the
    /// last reference after close (the caller destroys the fd).
    pub(crate) fn rwunlock(&self, read: bool) -> bool {
        let (bit, wait, mask, sema) = self.dir(read);
        let mut old = self.state.load(Ordering::Relaxed);
        loop {
            debug_assert!(
                old & bit != 0 && old & REF_MASK != 0,
                "fdmutex: unlock of a lock not held"
            );
            let mut new = (old & !bit) - REF;
            if old & mask != 0 {
                new -= wait;
            }
            match self
                .state
                .compare_exchange_weak(old, new, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => {
                    if old & mask != 0 {
                        sema.release(1);
                    }
                    return new & (CLOSED | REF_MASK) == CLOSED;
                }
                Err(o) => old = o,
            }
        }
    }

    fn dir(&self, read: bool) -> (u64, u64, u64, &Sema) {
        if read {
            (RLOCK, RWAIT, RWAIT_MASK, &self.rsema)
        } else {
            (WLOCK, WWAIT, WWAIT_MASK, &self.wsema)
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn last_reference_after_close_destroys() {
        let m = FdMutex::new();
        assert!(m.rwlock(true));
        assert!(m.incref_and_close());
        assert!(!m.incref_and_close(), "closing twice fails");
        assert!(!m.decref(), "the close's own reference");
        assert!(
            !m.decref(),
            "the owner's reference: the read is still in flight"
        );
        assert!(m.rwunlock(true), "the read leaves last and destroys");
        assert!(!m.rwlock(false), "closed: no new operation");
    }

    #[test]
    fn reads_are_serialised_and_close_wakes_lock_waiters() {
        let m = std::sync::Arc::new(FdMutex::new());
        assert!(m.rwlock(true));
        let m2 = m.clone();
        let t = std::thread::spawn(move || m2.rwlock(true));
        while m.state.load(Ordering::SeqCst) & RWAIT_MASK == 0 {
            std::thread::yield_now();
        }
        assert!(m.incref_and_close());
        assert!(!t.join().unwrap(), "the queued read fails once closed");
        assert!(!m.decref());
        assert!(!m.decref());
        assert!(m.rwunlock(true));
    }

    #[test]
    fn unlock_hands_the_lock_to_a_waiter() {
        let m = std::sync::Arc::new(FdMutex::new());
        assert!(m.rwlock(false));
        let m2 = m.clone();
        let t = std::thread::spawn(move || {
            assert!(m2.rwlock(false));
            m2.rwunlock(false)
        });
        while m.state.load(Ordering::SeqCst) & WWAIT_MASK == 0 {
            std::thread::yield_now();
        }
        assert!(!m.rwunlock(false));
        assert!(!t.join().unwrap());
        assert!(m.rwlock(true), "the read lock is independent");
        assert!(!m.rwunlock(true));
    }
}
