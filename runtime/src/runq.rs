//! The P's local run queue: a fixed ring of `RUNQ_SIZE` slots plus a `runnext` slot
//! (Go's `runq`/`runqhead`/`runqtail`/`runnext` in runtime2.go, and `runqput`, `runqget`,
//! `runqgrab`, `runqsteal` in proc.go).
//!
//! # Protocol
//! * Only the owner (the M holding the P) pushes: it writes a slot, then publishes it with a
//!   store-release of `tail`. Nobody else ever writes `tail`.
//! * The owner and any number of thieves consume from `head` with a CAS. A consumer reads the
//!   slots it wants *before* the CAS; if the CAS fails somebody else took them and the values
//!   read are discarded. The slots are atomics so those speculative reads are not data races.
//! * `runnext` is a one-element fast lane for the G most recently readied by this P (a
//!   goroutine woken by a channel handoff, a freshly spawned G). It is taken with CAS, by the
//!   owner first and by thieves only as a last resort.
//! * When the ring is full, the owner moves half of it plus the new element to the global
//!   queue in one batch (`put`'s `overflow` callback), so that a long-running spawner does not
//!   hoard work and the global queue's lock is taken once per `RUNQ_SIZE/2` puts.
//!
//! The queue stores raw pointers: it does not own what they point to. Callers (the scheduler)
//! guarantee each pointer is in at most one queue at a time.
//!
//! # Owner and thieves in the types
//! As in tokio's `Local`/`Steal` split, the operations split by who may call them:
//! * [`RunQueue`] itself (shared by every thread) has what anyone may do: `grab`,
//!   `steal_runnext_after`, and the approximate `len`/`is_empty`/`ring_len`.
//! * [`Local`] is the owner's handle: `put`, `get`, `drain`, `peek_next`, and `steal_from`
//!   (which writes the stolen elements into *this* queue, the victim being any `&RunQueue`).
//!   It is `!Send`, and made only by [`RunQueue::local`], whose contract is the owner rule;
//!   the scheduler makes it only through [`crate::p::POwner::runq`], where the token proves
//!   that rule, so none of its methods is `unsafe`. The handle is a `&RunQueue`: it costs
//!   nothing at run time.

use crate::__loom::{AtomicPtr, AtomicU32, Ordering};
use std::marker::PhantomData;
use std::ptr;

/// Ring capacity. Go uses 256; under loom it is shrunk so models exercise overflow.
#[cfg(not(loom))]
pub const RUNQ_SIZE: usize = 256;
/// Ring capacity. Go uses 256; under loom it is shrunk so models exercise overflow.
#[cfg(loom)]
pub const RUNQ_SIZE: usize = 4;

/// A single-producer, multi-consumer ring of `*mut T` with a `runnext` slot.
pub struct RunQueue<T> {
    /// Next slot to consume. Advanced by CAS by the owner and by thieves.
    head: AtomicU32,
    /// Next slot to fill. Written only by the owner.
    tail: AtomicU32,
    buf: Box<[AtomicPtr<T>]>,
    /// `runnext` and its sequence, on their own cache line: the owner writes them on every
    /// channel handoff, while idle Ms poll `head`/`tail` to look for stealable work.
    next: Padded<RunNext<T>>,
}

/// [`crate::kit::CachePadded`] except under loom (as before the padding type was shared:
/// loom models gain nothing from it).
#[cfg(not(loom))]
type Padded<T> = crate::kit::CachePadded<T>;
#[cfg(loom)]
type Padded<T> = T;

struct RunNext<T> {
    /// The next element to run, ahead of the ring; null if empty.
    ptr: AtomicPtr<T>,
    /// Bumped by the owner on every put into `runnext`, so a thief can tell "the same
    /// element is still there" from "a different put left the same element there again"
    /// (two goroutines ping-ponging through runnext alternate the same two pointers).
    seq: AtomicU32,
}

// SAFETY: the queue only moves raw pointers between threads; whether the pointees may be
// shared is the caller's contract (documented on the type). All fields are atomics.
unsafe impl<T> Send for RunQueue<T> {}
// SAFETY: all fields are atomics, so shared access from several threads is data-race free;
// the pointers it hands out carry the caller's contract, as for Send.
unsafe impl<T> Sync for RunQueue<T> {}

/// The owner's handle on a [`RunQueue`]: the producer side and the owner's consumer side
/// (see the module docs). `!Send`/`!Sync`: it stays on the owner's thread.
pub struct Local<'a, T> {
    q: &'a RunQueue<T>,
    _not_send: PhantomData<*const ()>,
}

impl<T> Clone for Local<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Local<'_, T> {}

impl<T> std::ops::Deref for Local<'_, T> {
    type Target = RunQueue<T>;
    #[inline(always)]
    fn deref(&self) -> &RunQueue<T> {
        self.q
    }
}

impl<T> Default for RunQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> RunQueue<T> {
    /// An empty queue.
    pub fn new() -> Self {
        RunQueue {
            head: AtomicU32::new(0),
            tail: AtomicU32::new(0),
            buf: (0..RUNQ_SIZE)
                .map(|_| AtomicPtr::new(ptr::null_mut()))
                .collect(),
            next: RunNext {
                ptr: AtomicPtr::new(ptr::null_mut()),
                seq: AtomicU32::new(0),
            }
            .into(),
        }
    }

    /// The owner's handle.
    ///
    /// # Safety
    /// While the handle (or a copy) lives, only the current thread uses the owner's side of
    /// this queue: every `Local` of it alive at once is on this thread. The scheduler gets
    /// its handles from [`crate::p::POwner::runq`], which proves it; tests and loom models
    /// call this directly for a queue one thread plays the owner of.
    #[inline(always)]
    pub unsafe fn local(&self) -> Local<'_, T> {
        Local {
            q: self,
            _not_send: PhantomData,
        }
    }

    #[inline]
    fn slot(&self, i: u32) -> &AtomicPtr<T> {
        &self.buf[i as usize % RUNQ_SIZE]
    }

    /// Any thread. Copies up to half of this queue's elements into `batch` and removes them
    /// (Go's `runqgrab`). With `steal_runnext`, an empty ring gives up its `runnext`.
    /// Returns how many were taken.
    pub fn grab(&self, batch: &mut [*mut T; RUNQ_SIZE / 2], steal_runnext: bool) -> usize {
        loop {
            let h = self.head.load(Ordering::Acquire); // synchronize with other consumers
            let t = self.tail.load(Ordering::Acquire); // synchronize with the producer
            let n = t.wrapping_sub(h);
            let n = n - n / 2;
            if n == 0 {
                if steal_runnext {
                    let next = self.next.ptr.load(Ordering::Acquire);
                    if !next.is_null()
                        && self
                            .next
                            .ptr
                            .compare_exchange(
                                next,
                                ptr::null_mut(),
                                Ordering::AcqRel,
                                Ordering::Relaxed,
                            )
                            .is_ok()
                    {
                        batch[0] = next;
                        return 1;
                    }
                }
                return 0;
            }
            if n as usize > RUNQ_SIZE / 2 {
                continue; // Read an inconsistent h and t.
            }
            for (i, b) in batch.iter_mut().take(n as usize).enumerate() {
                *b = self.slot(h.wrapping_add(i as u32)).load(Ordering::Relaxed);
            }
            // cas-release, commits consume
            if self
                .head
                .compare_exchange(h, h.wrapping_add(n), Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                return n as usize;
            }
        }
    }

    /// Any thread. Takes this queue's `runnext`, but only if it is still the same put
    /// after `pause()` returns (Go's runqgrab: a victim that readied a G and is about to
    /// block will run it itself during the pause; stealing it would bounce it to another
    /// core). The element is read before the pause and taken by CAS against that value.
    pub fn steal_runnext_after(&self, pause: impl FnOnce()) -> Option<*mut T> {
        let seq = self.next.seq.load(Ordering::Acquire);
        let next = self.next.ptr.load(Ordering::Acquire);
        if next.is_null() {
            return None;
        }
        pause();
        if self.next.seq.load(Ordering::Acquire) != seq {
            return None; // The owner moved on (ran it, or readied another G).
        }
        self.next
            .ptr
            .compare_exchange(next, ptr::null_mut(), Ordering::AcqRel, Ordering::Relaxed)
            .ok()
    }

    /// Any thread, approximate: is the queue (ring and runnext) empty?
    pub fn is_empty(&self) -> bool {
        self.ring_len() == 0 && self.next.ptr.load(Ordering::Acquire).is_null()
    }

    /// Any thread, approximate: elements in the ring plus `runnext`.
    pub fn len(&self) -> usize {
        self.ring_len() + (!self.next.ptr.load(Ordering::Acquire).is_null()) as usize
    }

    /// Any thread, approximate: elements in the ring (not counting runnext).
    pub fn ring_len(&self) -> usize {
        loop {
            let h = self.head.load(Ordering::Acquire);
            let t = self.tail.load(Ordering::Acquire);
            // Re-read head: a consistent snapshot has not moved under us.
            if h == self.head.load(Ordering::Acquire) {
                return t.wrapping_sub(h) as usize;
            }
        }
    }
}

impl<T> Local<'_, T> {
    /// Queues `item` (not null). With `next`, `item` goes into `runnext` and the element it
    /// displaces (if any) goes to the tail of the ring. If the ring is full, half of it plus the
    /// element are handed to `overflow` (in FIFO order) and removed from the ring.
    pub fn put(self, mut item: *mut T, next: bool, overflow: impl FnOnce(&[*mut T])) {
        debug_assert!(!item.is_null(), "runqput: null element");
        if next {
            // Owner-only counter: a plain increment; thieves only compare it.
            self.next.seq.store(
                self.next.seq.load(Ordering::Relaxed).wrapping_add(1),
                Ordering::Relaxed,
            );
            // Fast path: an empty runnext cannot change under us (thieves only CAS a
            // non-null runnext to null), so a release store publishes `item` without a
            // locked instruction. The common case in a channel ping-pong.
            if self.next.ptr.load(Ordering::Relaxed).is_null() {
                self.next.ptr.store(item, Ordering::Release);
                return;
            }
            let old = self.next.ptr.swap(item, Ordering::SeqCst);
            if old.is_null() {
                return;
            }
            item = old; // Kick the old runnext out to the regular queue.
        }
        let mut overflow = Some(overflow);
        loop {
            // Acquire: synchronise with consumers' CAS so we do not overwrite a slot they are
            // still reading from.
            let h = self.head.load(Ordering::Acquire);
            let t = self.tail.load(Ordering::Relaxed); // Only we write tail.
            if (t.wrapping_sub(h) as usize) < RUNQ_SIZE {
                self.slot(t).store(item, Ordering::Relaxed);
                // Store-release: makes the element available for consumption.
                self.tail.store(t.wrapping_add(1), Ordering::Release);
                return;
            }
            if self.put_slow(item, h, t, &mut overflow) {
                return;
            }
            // The queue is not full any more (a thief took some); retry the fast path.
        }
    }

    /// Moves half the ring plus `item` to `overflow`. Returns false if a consumer raced us.
    /// `h`/`t` are the head and tail the caller just read, with the ring full.
    fn put_slow(
        self,
        item: *mut T,
        h: u32,
        t: u32,
        overflow: &mut Option<impl FnOnce(&[*mut T])>,
    ) -> bool {
        let n = (t.wrapping_sub(h) / 2) as usize;
        debug_assert_eq!(n, RUNQ_SIZE / 2, "runqputslow: queue is not full");
        let mut batch = [ptr::null_mut::<T>(); RUNQ_SIZE / 2 + 1];
        for (i, b) in batch.iter_mut().take(n).enumerate() {
            *b = self.slot(h.wrapping_add(i as u32)).load(Ordering::Relaxed);
        }
        // Release: our reads of the slots happen before the slots can be refilled.
        if self
            .head
            .compare_exchange(
                h,
                h.wrapping_add(n as u32),
                Ordering::Release,
                Ordering::Relaxed,
            )
            .is_err()
        {
            return false;
        }
        batch[n] = item;
        (overflow.take().expect("put_slow: overflow used twice"))(&batch[..=n]);
        true
    }

    /// Takes the next element: `runnext` first when `take_next` is true, then the head of
    /// the ring. Returns the element and whether it came from `runnext` (in which case Go
    /// lets it inherit the current time slice).
    pub fn get(self, take_next: bool) -> Option<(*mut T, bool)> {
        if take_next {
            let next = self.next.ptr.load(Ordering::Relaxed);
            // Acquire: pairs with the release store (or SeqCst swap) in `put` that published
            // the element.
            if !next.is_null()
                && self
                    .next
                    .ptr
                    .compare_exchange(next, ptr::null_mut(), Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                return Some((next, true));
            }
        }
        loop {
            // load-acquire, synchronize with other consumers
            let h = self.head.load(Ordering::Acquire);
            let t = self.tail.load(Ordering::Relaxed); // Only we write tail.
            if t == h {
                if !take_next {
                    // The ring is empty: fall back to runnext after all.
                    return self.get(true);
                }
                return None;
            }
            let item = self.slot(h).load(Ordering::Relaxed);
            // cas-release, commits consume
            if self
                .head
                .compare_exchange(h, h.wrapping_add(1), Ordering::Release, Ordering::Relaxed)
                .is_ok()
            {
                return Some((item, false));
            }
        }
    }

    /// Steals half of `victim`'s elements (any other queue) into this (empty-ish) queue and
    /// returns one of them to run (Go's `runqsteal`).
    pub fn steal_from(self, victim: &RunQueue<T>, steal_runnext: bool) -> Option<*mut T> {
        let mut batch = [ptr::null_mut::<T>(); RUNQ_SIZE / 2];
        let n = victim.grab(&mut batch, steal_runnext);
        if n == 0 {
            return None;
        }
        let first = batch[n - 1];
        if n == 1 {
            return Some(first);
        }
        let h = self.head.load(Ordering::Acquire);
        let t = self.tail.load(Ordering::Relaxed);
        assert!(
            (t.wrapping_sub(h) as usize) + n - 1 <= RUNQ_SIZE,
            "runqsteal: runq overflow"
        );
        for (i, &item) in batch[..n - 1].iter().enumerate() {
            self.slot(t.wrapping_add(i as u32))
                .store(item, Ordering::Relaxed);
        }
        // Store-release: makes the stolen elements available for consumption.
        self.tail
            .store(t.wrapping_add(n as u32 - 1), Ordering::Release);
        Some(first)
    }

    /// What `runnext` holds (null if nothing), without taking it: the owner's look at
    /// whether the next pick would continue a ping-pong.
    pub fn peek_next(self) -> *mut T {
        self.next.ptr.load(Ordering::Relaxed)
    }

    /// Removes everything (runnext first, then the ring in order) into `out`.
    pub fn drain(self, out: &mut Vec<*mut T>) {
        while let Some((item, _)) = self.get(true) {
            out.push(item);
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn items(n: usize) -> Vec<*mut u32> {
        (0..n as u32).map(|i| Box::into_raw(Box::new(i))).collect()
    }
    fn val(p: *mut u32) -> u32 {
        // SAFETY: test pointers come from Box::into_raw and are never freed in the tests.
        unsafe { *p }
    }

    #[test]
    fn fifo_order_in_the_ring_and_runnext_first() {
        let q = RunQueue::new();
        let v = items(4);
        // SAFETY: single-threaded test, we are the owner.
        let q = unsafe { q.local() };
        {
            q.put(v[0], false, |_| unreachable!());
            q.put(v[1], false, |_| unreachable!());
            q.put(v[2], true, |_| unreachable!());
            assert_eq!(q.get(true).map(|(p, n)| (val(p), n)), Some((2, true)));
            assert_eq!(q.get(true).map(|(p, n)| (val(p), n)), Some((0, false)));
            assert_eq!(q.get(true).map(|(p, n)| (val(p), n)), Some((1, false)));
            assert!(q.get(true).is_none());
        }
    }

    #[test]
    fn runnext_displaces_to_tail() {
        let q = RunQueue::new();
        let v = items(2);
        // SAFETY: single-threaded test, we are the owner.
        let q = unsafe { q.local() };
        {
            q.put(v[0], true, |_| unreachable!());
            q.put(v[1], true, |_| unreachable!());
            assert_eq!(q.ring_len(), 1);
            assert_eq!(val(q.get(true).unwrap().0), 1);
            assert_eq!(val(q.get(true).unwrap().0), 0);
        }
    }

    #[test]
    fn get_without_runnext_prefers_the_ring() {
        let q = RunQueue::new();
        let v = items(2);
        // SAFETY: single-threaded test, we are the owner.
        let q = unsafe { q.local() };
        {
            q.put(v[0], true, |_| unreachable!());
            q.put(v[1], false, |_| unreachable!());
            assert_eq!(val(q.get(false).unwrap().0), 1);
            assert_eq!(val(q.get(false).unwrap().0), 0);
        }
    }

    #[test]
    fn overflow_moves_half_plus_one_in_order() {
        let q = RunQueue::new();
        let v = items(RUNQ_SIZE + 1);
        let mut spilled = Vec::new();
        // SAFETY: single-threaded test, we are the owner.
        let q = unsafe { q.local() };
        {
            for &p in &v {
                q.put(p, false, |b| spilled.extend(b.iter().map(|&p| val(p))));
            }
        }
        let want: Vec<u32> = (0..RUNQ_SIZE as u32 / 2)
            .chain([RUNQ_SIZE as u32])
            .collect();
        assert_eq!(spilled, want);
        assert_eq!(q.ring_len(), RUNQ_SIZE / 2);
    }

    #[test]
    fn steal_takes_half_rounding_up() {
        let victim = RunQueue::new();
        let thief = RunQueue::new();
        let v = items(5);
        // SAFETY: single-threaded test: we own both queues.
        let (victim, thief) = unsafe { (victim.local(), thief.local()) };
        {
            for &p in &v {
                victim.put(p, false, |_| unreachable!());
            }
            let first = thief.steal_from(&victim, false).unwrap();
            assert_eq!(val(first), 2, "the last stolen element is returned to run");
            assert_eq!(thief.ring_len(), 2);
            assert_eq!(victim.ring_len(), 2);
        }
    }

    #[test]
    fn steal_takes_runnext_only_when_asked() {
        let victim = RunQueue::new();
        let thief = RunQueue::new();
        let v = items(1);
        // SAFETY: single-threaded test: we own both queues.
        let (victim, thief) = unsafe { (victim.local(), thief.local()) };
        {
            victim.put(v[0], true, |_| unreachable!());
            assert!(thief.steal_from(&victim, false).is_none());
            assert_eq!(val(thief.steal_from(&victim, true).unwrap()), 0);
            assert!(victim.is_empty());
        }
    }

    #[test]
    fn concurrent_steals_deliver_each_element_once() {
        use std::sync::Arc;
        use std::sync::atomic::AtomicBool;
        const N: usize = 200_000;
        let q = Arc::new(RunQueue::<u32>::new());
        let done = Arc::new(AtomicBool::new(false));
        let mut thieves = Vec::new();
        for _ in 0..2 {
            let (q, done) = (q.clone(), done.clone());
            thieves.push(std::thread::spawn(move || {
                let mine = RunQueue::<u32>::new();
                // SAFETY: `mine` is owned by this thread alone.
                let mine = unsafe { mine.local() };
                let mut got = Vec::new();
                loop {
                    {
                        if let Some(p) = mine.steal_from(&q, true) {
                            got.push(p as usize);
                        }
                        while let Some((p, _)) = mine.get(true) {
                            got.push(p as usize);
                        }
                    }
                    if done.load(Ordering::Acquire) && q.is_empty() {
                        return got;
                    }
                }
            }));
        }
        let mut spilled = Vec::new();
        let mut own = Vec::new();
        // SAFETY: this thread owns `q`'s producer side (the thieves only grab). Pointers are
        // just distinct integers.
        let ql = unsafe { q.local() };
        for i in 1..=N {
            {
                ql.put(i as *mut u32, i % 3 == 0, |b| {
                    spilled.extend(b.iter().map(|&p| p as usize))
                });
                if i % 7 == 0
                    && let Some((p, _)) = ql.get(true)
                {
                    own.push(p as usize);
                }
            }
        }
        done.store(true, Ordering::Release);
        let mut all: Vec<usize> = spilled;
        all.extend(own);
        for t in thieves {
            all.extend(t.join().unwrap());
        }
        while let Some((p, _)) = ql.get(true) {
            all.push(p as usize);
        }
        all.sort_unstable();
        assert_eq!(all.len(), N, "every element delivered exactly once");
        assert!(all.iter().enumerate().all(|(i, &v)| v == i + 1));
    }
}
