//! One wait slot of a poll descriptor (Go's `pollDesc.rg` / `pollDesc.wg`): the state machine
//! between the goroutine (or thread) that waits for a file descriptor to become readable (or
//! writable) and whoever reports it: the netpoller, `close`, or a deadline change.
//!
//! # States
//! ```text
//!            prepare(w)               set_ready / wake (takes w)
//!   EMPTY ---------------> WAITING -----------------------------> WAKING
//!     ^  \                    |                                     |
//!     |   \ set_ready         | withdraw (the waiter takes w back)  | store READY (set_ready)
//!     |    v                  v                                     | or EMPTY (wake)
//!     |   READY <------------EMPTY <-------------------------------+
//!     |     |
//!     +-----+ take_ready (the waiter consumes the readiness)
//! ```
//! * `EMPTY`: nobody waits and no readiness is pending.
//! * `READY`: the fd became ready since the last time its owner got `EAGAIN` (Go's `pdReady`).
//!   The owner consumes it and retries the system call; edge-triggered epoll will not say it
//!   again, so it must not be lost.
//! * `WAITING`: the sleeper in the cell waits to be woken (Go stores the G pointer itself in
//!   the word; goro's sleepers are larger, so they sit beside it).
//! * `WAKING`: a waker has claimed the sleeper and is taking it out of the cell; it stores
//!   `READY` or `EMPTY` right after. Anyone else who sees `WAKING` waits for that store (a few
//!   instructions). This state is what lets the sleeper live outside the word: without it, a
//!   waiter that timed out could withdraw and start its next wait, writing the cell, while a
//!   waker still read the previous sleeper from it.
//!
//! # Who may do what
//! Only the slot's owner (the one operation holding the direction's fd lock) calls
//! [`PollSlot::prepare`], [`PollSlot::take_ready`] and [`PollSlot::withdraw`], so at most one
//! sleeper is ever in a slot. Any number of wakers may call [`PollSlot::set_ready`] and
//! [`PollSlot::wake`] at once (two Ms polling epoll, a close, a deadline change).
//!
//! # No lost wakeup
//! The owner publishes its sleeper with a CAS EMPTY -> WAITING, a SeqCst fence, and then
//! re-reads the closing flag and the deadline; `close` and `set_deadline` write those first,
//! then fence, then look at the slot. One of the two sees the other (Dekker's pattern). Readiness that arrives between the
//! owner's `EAGAIN` and its `prepare` leaves `READY`, which makes `prepare` fail. A sleeper
//! woken by someone else may find its wake-up already delivered (a token in its park word):
//! every wait loops and re-checks, as spurious wakeups are allowed everywhere in goro.
//!
//! The state machine is model-checked under loom (`loom_tests.rs`: ready vs. wait, close vs.
//! wait, deadline change vs. wait, two wakers).

use crate::__loom::{AtomicU32, Ordering, fence};

const EMPTY: u32 = 0;
const READY: u32 = 1;
const WAITING: u32 = 2;
const WAKING: u32 = 3;

/// The cell holding the sleeper, `loom`'s under `--cfg loom` so that the model checks who
/// touches it when.
#[cfg(not(loom))]
struct Cell<S>(std::cell::UnsafeCell<Option<S>>);
#[cfg(loom)]
struct Cell<S>(loom::cell::UnsafeCell<Option<S>>);

impl<S> Cell<S> {
    fn new() -> Cell<S> {
        #[cfg(not(loom))]
        return Cell(std::cell::UnsafeCell::new(None));
        #[cfg(loom)]
        return Cell(loom::cell::UnsafeCell::new(None));
    }

    /// # Safety
    /// The caller has exclusive access to the cell (see the slot's state rules).
    unsafe fn put(&self, s: Option<S>) -> Option<S> {
        #[cfg(not(loom))]
        // SAFETY: exclusive access, per the contract.
        return std::mem::replace(unsafe { &mut *self.0.get() }, s);
        #[cfg(loom)]
        // SAFETY: exclusive access, per the contract (loom checks it).
        return self
            .0
            .with_mut(|p| std::mem::replace(unsafe { &mut *p }, s));
    }
}

/// A wait slot: `EMPTY`, `READY`, `WAITING` (with a sleeper) or `WAKING` (see the module docs).
pub(crate) struct PollSlot<S> {
    state: AtomicU32,
    sleeper: Cell<S>,
}

// SAFETY: the sleeper cell is accessed by one party at a time, handed over by the state word's
// acquire/release transitions (module docs); `S: Send` is all that moving it between threads
// needs.
unsafe impl<S: Send> Sync for PollSlot<S> {}
// SAFETY: the slot owns an `S` (Send) in a Cell and atomics; moving it to another thread
// moves that `S`, which `S: Send` allows.
unsafe impl<S: Send> Send for PollSlot<S> {}

/// What [`PollSlot::prepare`] did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Prepared {
    /// The sleeper is published: park, then [`PollSlot::withdraw`].
    Waiting,
    /// Readiness was pending (and is now consumed): retry the operation.
    Ready,
}

/// What [`PollSlot::withdraw`] found after the owner woke up.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Woken {
    /// The fd became ready (consumed): retry the operation.
    Ready,
    /// A waker took the sleeper without readiness (close, deadline change): re-check.
    Nudged,
    /// Nobody took the sleeper (a deadline timer or a spurious wakeup): it is withdrawn.
    Withdrawn,
}

impl<S> PollSlot<S> {
    pub(crate) fn new() -> PollSlot<S> {
        PollSlot {
            state: AtomicU32::new(EMPTY),
            sleeper: Cell::new(),
        }
    }

    /// Owner: consumes pending readiness, if any.
    pub(crate) fn take_ready(&self) -> bool {
        // Acquire: what the reporter did before saying "ready" is visible.
        self.state
            .compare_exchange(READY, EMPTY, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    /// Owner: publishes `s` as the slot's sleeper, unless readiness is pending (then it is
    /// consumed and `s` dropped).
    pub(crate) fn prepare(&self, s: S) -> Prepared {
        // SAFETY: the owner only prepares with the slot EMPTY or READY, where no waker touches
        // the cell (wakers claim it only from WAITING).
        let old = unsafe { self.sleeper.put(Some(s)) };
        debug_assert!(old.is_none(), "pollslot: a second sleeper in one slot");
        // SeqCst: publishes the sleeper (release) and orders this store before the owner's
        // re-read of the closing flag and deadline (the store-load pairing in the module docs).
        match self
            .state
            .compare_exchange(EMPTY, WAITING, Ordering::SeqCst, Ordering::Acquire)
        {
            Ok(_) => {
                // StoreLoad: the owner's re-read of the closing flag and deadline comes after
                // the publication (Dekker's pattern with `wake`; a SeqCst CAS alone does not
                // order a later load of another location on every model, loom's included).
                fence(Ordering::SeqCst);
                Prepared::Waiting
            }
            Err(READY) => {
                // SAFETY: still EMPTY/READY from the wakers' point of view: the cell is ours.
                drop(unsafe { self.sleeper.put(None) });
                self.state.store(EMPTY, Ordering::Relaxed);
                Prepared::Ready
            }
            Err(s) => unreachable!("pollslot: prepare in state {s} (two owners?)"),
        }
    }

    /// Owner, after its park returned: takes the sleeper back if nobody claimed it, and says
    /// what happened.
    pub(crate) fn withdraw(&self) -> Woken {
        loop {
            match self
                .state
                .compare_exchange(WAITING, EMPTY, Ordering::Acquire, Ordering::Acquire)
            {
                Ok(_) => {
                    // SAFETY: we moved WAITING -> EMPTY, so no waker claimed the cell.
                    drop(unsafe { self.sleeper.put(None) });
                    return Woken::Withdrawn;
                }
                Err(WAKING) => spin(),
                Err(READY) => {
                    self.state.store(EMPTY, Ordering::Relaxed);
                    return Woken::Ready;
                }
                Err(EMPTY) => return Woken::Nudged,
                Err(s) => unreachable!("pollslot: withdraw in state {s}"),
            }
        }
    }

    /// Any waker: the fd is ready. Returns the sleeper to wake, if one waited (else the
    /// readiness is left for the owner's next `take_ready`).
    pub(crate) fn set_ready(&self) -> Option<S> {
        self.claim(READY, true)
    }

    /// Any waker: takes the sleeper, if one waits, without reporting readiness (close, a
    /// deadline change): the owner wakes and re-checks.
    pub(crate) fn wake(&self) -> Option<S> {
        // StoreLoad: the caller's write of the closing flag or deadline comes before this
        // look at the slot (the other half of the fence in `prepare`).
        fence(Ordering::SeqCst);
        self.claim(EMPTY, false)
    }

    fn claim(&self, after: u32, ready: bool) -> Option<S> {
        loop {
            match self.state.load(Ordering::SeqCst) {
                READY => return None,
                EMPTY if !ready => return None,
                EMPTY => {
                    // Release: pairs with the owner's acquire in take_ready/prepare.
                    if self
                        .state
                        .compare_exchange(EMPTY, READY, Ordering::SeqCst, Ordering::Relaxed)
                        .is_ok()
                    {
                        return None;
                    }
                }
                WAITING => {
                    if self
                        .state
                        .compare_exchange(WAITING, WAKING, Ordering::SeqCst, Ordering::Relaxed)
                        .is_ok()
                    {
                        // SAFETY: WAKING is ours alone; the owner waits for our store.
                        let s = unsafe { self.sleeper.put(None) };
                        // Release: the owner's withdraw (acquire) sees the cell emptied.
                        self.state.store(after, Ordering::Release);
                        return s;
                    }
                }
                _ => spin(),
            }
        }
    }

    /// Whether a sleeper is published (for tests: `PollFd::__is_waiting`).
    pub(crate) fn is_waiting(&self) -> bool {
        self.state.load(Ordering::SeqCst) == WAITING
    }

    /// Back to EMPTY for a reused descriptor. The caller guarantees nobody else uses the slot.
    pub(crate) fn reset(&self) {
        debug_assert!(
            self.state.load(Ordering::Relaxed) != WAITING,
            "pollslot: descriptor reused with a sleeper"
        );
        self.state.store(EMPTY, Ordering::Relaxed);
    }
}

fn spin() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    std::hint::spin_loop();
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn readiness_before_wait_is_kept_for_the_owner() {
        let s = PollSlot::<u32>::new();
        assert_eq!(s.set_ready(), None);
        assert_eq!(s.prepare(7), Prepared::Ready);
        assert!(!s.take_ready(), "readiness consumed once");
    }

    #[test]
    fn ready_hands_over_the_sleeper_and_leaves_readiness() {
        let s = PollSlot::new();
        assert_eq!(s.prepare(7), Prepared::Waiting);
        assert!(s.is_waiting());
        assert_eq!(s.set_ready(), Some(7));
        assert_eq!(s.withdraw(), Woken::Ready);
        assert!(!s.take_ready());
    }

    #[test]
    fn wake_takes_the_sleeper_without_readiness() {
        let s = PollSlot::new();
        assert_eq!(s.prepare(7), Prepared::Waiting);
        assert_eq!(s.wake(), Some(7));
        assert_eq!(s.wake(), None, "only one waker gets the sleeper");
        assert_eq!(s.withdraw(), Woken::Nudged);
    }

    #[test]
    fn withdraw_takes_an_unclaimed_sleeper_back() {
        let s = PollSlot::new();
        assert_eq!(s.prepare(7), Prepared::Waiting);
        assert_eq!(s.withdraw(), Woken::Withdrawn);
        assert_eq!(s.set_ready(), None, "nobody waits any more");
        assert!(s.take_ready());
    }
}
