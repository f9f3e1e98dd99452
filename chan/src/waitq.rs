//! Wait queues: who is blocked on a channel, and the "selected" word that lets exactly one
//! channel operation claim a blocked goroutine (Go's `sudog` and `selectDone`).
//!
//! # Claiming
//! A blocked operation, or a whole `select`, owns one [`Cx`] on its stack. Each channel it
//! waits on holds an [`Entry`] pointing at that `Cx` (and at a per-case packet for the
//! unbuffered flavour). A waker claims the waiter by moving its [`Selection`] from
//! `Waiting` to `Case(case)` with a CAS; only one waker can win, so a select is completed by
//! at most one of its cases. The waiter may also withdraw by moving it to `Aborted` (timeout,
//! or a case became ready while registering). Whoever loses the CAS leaves the `Cx` alone.
//!
//! # Lifetimes
//! `Cx` and the packets live on the waiter's stack. An entry is only dereferenced under the
//! lock of the queue holding it, and the waiter removes all its entries (taking each lock)
//! before its frame goes away; a waker that claimed the `Cx` finishes writing the packet
//! before releasing the lock. So no waker ever touches a frame that has returned.

use crate::lock::{SpinGuard, SpinLock};
use crate::shim::{AtomicBool, AtomicUsize, Ordering, Waiter, dekker_fence};
use runtime::WaitReason;
use std::time::Instant;

/// Where a [`Cx`] stands: its "selected" word, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Selection {
    /// Nobody has claimed the waiter, and it has not withdrawn.
    Waiting,
    /// The waiter withdrew (timeout, or a case became ready while registering).
    Aborted,
    /// A waker claimed the waiter for this case.
    Case(usize),
}

impl Selection {
    /// The word of [`Selection::Waiting`].
    const WAITING: usize = 0;
    /// The word of [`Selection::Aborted`].
    const ABORTED: usize = usize::MAX;

    /// The atomic word for this state: `Case(i)` is `i + 1`, between the other two. A case
    /// index is below the number of cases, so `i + 1` never reaches `ABORTED`.
    #[inline(always)]
    fn encode(self) -> usize {
        match self {
            Selection::Waiting => Self::WAITING,
            Selection::Aborted => Self::ABORTED,
            Selection::Case(i) => {
                debug_assert!(i < Self::ABORTED - 1, "case index out of range");
                i + 1
            }
        }
    }

    /// The state a word holds.
    #[inline(always)]
    fn decode(word: usize) -> Selection {
        match word {
            Self::WAITING => Selection::Waiting,
            Self::ABORTED => Selection::Aborted,
            i => Selection::Case(i - 1),
        }
    }
}

/// One blocked operation or select: its waiter and its selected word (a [`Selection`],
/// encoded; only [`Cx`]'s methods touch the word).
pub struct Cx {
    selected: AtomicUsize,
    pub(crate) waiter: Waiter,
}

impl Cx {
    pub(crate) fn new() -> Cx {
        Cx {
            selected: AtomicUsize::new(Selection::Waiting.encode()),
            waiter: Waiter::current(),
        }
    }

    /// Moves the word from `Waiting` to `to`; on failure, returns what it held.
    #[inline(always)]
    fn transition(&self, to: Selection) -> Result<(), Selection> {
        // AcqRel: the winner's later writes (packet) are published by the unpark/lock; the
        // acquire side pairs with the waiter's own registration.
        self.selected
            .compare_exchange(
                Selection::Waiting.encode(),
                to.encode(),
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .map(drop)
            .map_err(Selection::decode)
    }

    /// Claims the waiter for case `case`. True if we won.
    #[inline]
    pub(crate) fn try_select(&self, case: usize) -> bool {
        self.transition(Selection::Case(case)).is_ok()
    }

    /// The waiter withdraws. Returns the case it was selected for if a waker won first.
    #[inline]
    pub(crate) fn try_abort(&self) -> Option<usize> {
        match self.transition(Selection::Aborted) {
            Ok(()) => None,
            Err(Selection::Case(i)) => Some(i),
            // Only the owner withdraws, once; and `Waiting` cannot fail the CAS.
            Err(_) => unreachable!("a waiter withdrew twice"),
        }
    }

    /// The current selection.
    #[inline]
    pub(crate) fn selection(&self) -> Selection {
        Selection::decode(self.selected.load(Ordering::Acquire))
    }

    /// Whether a waker claimed the waiter or it withdrew.
    #[inline]
    pub(crate) fn is_decided(&self) -> bool {
        self.selection() != Selection::Waiting
    }

    /// The one park loop of every blocked channel operation and select: parks (with
    /// `reason`) until a waker claims this `Cx`, or until `deadline` passes and withdrawing
    /// wins. Returns the claimed case, or `None` if withdrawn (also if it had withdrawn
    /// before the call). The caller registered the `Cx` first and unregisters it after.
    ///
    /// Wakeups may be spurious (or left over from an earlier wait): only the selected word
    /// decides. A deadline that passed while a waker claimed us loses to the claim (the
    /// withdrawal CAS fails and returns the case).
    pub(crate) fn wait_until_decided(
        &self,
        deadline: Option<Instant>,
        reason: WaitReason,
    ) -> Option<usize> {
        loop {
            match self.selection() {
                Selection::Case(i) => return Some(i),
                Selection::Aborted => return None,
                Selection::Waiting => {}
            }
            match deadline {
                None => crate::shim::park(reason),
                Some(d) => {
                    if crate::shim::park_until(reason, d) && !self.is_decided() {
                        return self.try_abort();
                    }
                }
            }
        }
    }
}

/// A registration of a `Cx` in one channel's queue for one case.
pub(crate) struct Entry {
    pub(crate) cx: *const Cx,
    pub(crate) case: usize,
    /// The unbuffered flavour's per-case packet (a `zero::Packet<T>`), else null.
    pub(crate) packet: *mut (),
}

// SAFETY: entries are only dereferenced under the lock of the queue that holds them, while
// their owner is guaranteed (module docs) to keep the pointees alive.
unsafe impl Send for Entry {}

impl Entry {
    /// # Safety
    /// Only under the lock of the queue holding the entry (see the module docs).
    pub(crate) unsafe fn cx(&self) -> &Cx {
        // SAFETY: per the contract, the Cx outlives its registration.
        unsafe { &*self.cx }
    }
}

/// A FIFO of entries (Go's `waitq`). Used under a lock.
#[derive(Default)]
pub(crate) struct WaitQueue {
    entries: std::collections::VecDeque<Entry>,
}

impl WaitQueue {
    pub(crate) fn push(&mut self, e: Entry) {
        if self.entries.capacity() == 0 {
            // Most queues only ever hold one waiter at a time (a goroutine blocked on its own
            // channel): room for exactly one is a 24-byte allocation, where the first
            // `push_back` would reserve four (96 bytes, a 112-byte malloc chunk). W10 (a
            // million goroutines each parked on its own channel) measured 4,498 -> ~4,420
            // bytes per goroutine on the development VM (AMD EPYC Zen 3, Linux 6.18). A
            // second waiter grows the queue as usual (to four).
            self.entries.reserve_exact(1);
        }
        self.entries.push_back(e);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    #[cfg(all(test, loom))]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Removes the entry of `cx` (if still there).
    pub(crate) fn remove(&mut self, cx: *const Cx) -> Option<Entry> {
        let i = self.entries.iter().position(|e| std::ptr::eq(e.cx, cx))?;
        self.entries.remove(i)
    }

    /// Claims the first waiter that is not `me` and still waiting; returns its entry (removed).
    /// Entries whose waiter already withdrew or was claimed elsewhere are dropped.
    ///
    /// # Safety
    /// The caller holds the lock protecting this queue.
    pub(crate) unsafe fn claim(&mut self, me: *const Cx) -> Option<Entry> {
        let mut i = 0;
        while i < self.entries.len() {
            let e = &self.entries[i];
            if std::ptr::eq(e.cx, me) {
                i += 1;
                continue;
            }
            // SAFETY: under the queue's lock, per our contract.
            let cx = unsafe { e.cx() };
            if cx.try_select(e.case) {
                return self.entries.remove(i);
            }
            if cx.is_decided() {
                // Claimed by another channel or withdrawn: its owner will remove it too,
                // but it is useless here.
                self.entries.remove(i);
                continue;
            }
            i += 1;
        }
        None
    }

    /// Whether some waiter other than `me` is still waiting.
    ///
    /// # Safety
    /// The caller holds the lock protecting this queue.
    pub(crate) unsafe fn has_other_waiter(&self, me: *const Cx) -> bool {
        self.entries.iter().any(|e| {
            // SAFETY: under the queue's lock.
            !std::ptr::eq(e.cx, me) && !unsafe { e.cx() }.is_decided()
        })
    }

    /// Removes and returns every entry.
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = Entry> + '_ {
        self.entries.drain(..)
    }
}

/// A wait queue with its own lock and an `is_empty` flag, so that notifying when nobody
/// waits costs one atomic load (crossbeam-channel's SyncWaker). Used by the buffered flavour,
/// whose fast path is lock-free.
pub(crate) struct SyncWaitQueue {
    q: SpinLock<WaitQueue>,
    is_empty: AtomicBool,
}

impl SyncWaitQueue {
    pub(crate) fn new() -> SyncWaitQueue {
        SyncWaitQueue {
            q: SpinLock::new(WaitQueue::default()),
            is_empty: AtomicBool::new(true),
        }
    }

    fn lock(&self) -> SpinGuard<'_, WaitQueue> {
        self.q.lock()
    }

    pub(crate) fn register(&self, cx: &Cx, case: usize) {
        let mut q = self.lock();
        q.push(Entry {
            cx,
            case,
            packet: std::ptr::null_mut(),
        });
        self.is_empty.store(false, Ordering::SeqCst);
        // Before the caller's re-check (a SeqCst load of the channel's state).
        dekker_fence();
    }

    /// How many entries the queue holds (the loom models' leak check).
    #[cfg(all(test, loom))]
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    pub(crate) fn unregister(&self, cx: &Cx) {
        let mut q = self.lock();
        q.remove(cx);
        self.is_empty.store(q.is_empty(), Ordering::SeqCst);
    }

    /// Wakes one waiter (other than `me`), if any.
    pub(crate) fn notify_one(&self) {
        // SeqCst pairs with the waiter's register-then-recheck: either we see its entry, or
        // it sees the state change we made before notifying.
        dekker_fence();
        if self.is_empty.load(Ordering::SeqCst) {
            return;
        }
        let claimed = {
            let mut q = self.lock();
            // SAFETY: we hold the queue's lock.
            let e = unsafe { q.claim(std::ptr::null()) };
            self.is_empty.store(q.is_empty(), Ordering::SeqCst);
            // SAFETY: claimed under the lock; the waiter cannot return before it sees its
            // selection and takes this lock to unregister, so cloning its Waiter is safe.
            e.map(|e| unsafe { e.cx() }.waiter.clone())
        };
        if let Some(w) = claimed {
            w.unpark();
        }
    }

    /// Wakes every waiter (close).
    pub(crate) fn notify_all(&self) {
        let wake: Vec<Waiter> = {
            let mut q = self.lock();
            let mut v = Vec::new();
            // SAFETY: we hold the queue's lock.
            while let Some(e) = unsafe { q.claim(std::ptr::null()) } {
                // SAFETY: as in notify_one.
                v.push(unsafe { e.cx() }.waiter.clone());
            }
            q.drain().for_each(drop);
            self.is_empty.store(true, Ordering::SeqCst);
            v
        };
        for w in wake {
            w.unpark();
        }
    }
}
