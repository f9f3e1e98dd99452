//! `RwMutex<T>`: Go's `sync.RWMutex`, holding the data it guards.
//!
//! # Readers on goroutines: per-P slots
//! A goroutine takes the read lock by claiming its P's slot for this lock in the reader slot
//! table ([`crate::rslot`]) and then checking that no writer is pending (`reader_count` not
//! negative); it releases it by clearing the slot. Neither touches the lock's own cache line
//! for writing, so readers on different cores do not contend (see the rslot docs for why).
//! A writer first announces itself on `reader_count` (below), then scans the lock's slot in
//! every row and waits for each reader it finds there. The claim and the check, and the
//! writer's announcement and scan, are SeqCst pairs (Dekker's pattern): either the reader sees
//! the writer and backs out, or the writer sees the reader's slot. A lock gets its slot id
//! when a goroutine first reads it; a writer that sees no id skips the scan.
//!
//! A reader that already sees a writer pending does not claim its slot (a claim the writer
//! then saw would make it wait for a reader that is only backing out); one that races the
//! announcement claims and backs out.
//!
//! The release is a plain store. A writer that finds a reader in a slot polls it briefly (a
//! read section that does not block is over in nanoseconds), then parks until the reader's
//! release wakes it ([`rslot`] has the handshake).
//!
//! # Everyone else: Go's algorithm
//! `reader_count` counts the readers in (or waiting to get in). A writer first takes `w` (a
//! [`RawMutex`] serialising writers), then subtracts [`MAX_READERS`], which makes the count
//! negative: every later `rlock` sees that and waits on `reader_sem`, so a waiting writer is
//! never starved by a stream of readers. The writer then waits on `writer_sem` for the readers
//! already inside to leave (`reader_wait` of them; the last one to leave releases it). Its
//! unlock adds `MAX_READERS` back and releases each reader that queued meanwhile.
//!
//! Here a reader's lock and unlock are one atomic add each when no writer is around. Plain
//! threads always take this path, and so does a goroutine whose slot is taken.

use crate::mutex::RawMutex;
use crate::rslot;
use crate::sema;
use crate::shim::{self, AtomicI32, AtomicU32, AtomicUsize, Ordering, dekker_fence};
use runtime::WaitReason;
use std::cell::UnsafeCell;
use std::fmt;
use std::ops::{Deref, DerefMut};

/// More readers than this at once is a bug (Go's `rwmutexMaxReaders`).
const MAX_READERS: i32 = 1 << 30;

/// Polls of a slot a writer makes, a `spin_loop` hint apart, before it parks: 0.2-3 us
/// depending on the CPU's pause latency, far longer than a read section that does not block
/// (finer than `runtime::__sync::do_spin`'s 1.6 us rounds, which would make every such wait that long).
const SLOT_POLLS: u32 = 64;

/// A reader-writer lock around `T` for goroutines and threads alike (Go's `sync.RWMutex`).
///
/// Any number of readers, or one writer. Once a writer is waiting, new readers wait too, so
/// writers are not starved; as in Go, a reader must therefore not take the read lock again
/// while it holds it (a writer queued between the two would deadlock both). Waiting goroutines
/// park; threads block on a futex. No poisoning, as in Go.
///
/// ```
/// use std::sync::Arc;
/// let cfg = Arc::new(sync::RwMutex::new(vec![1, 2, 3]));
/// let wg = sync::WaitGroup::new();
/// for _ in 0..4 {
///     let cfg = cfg.clone();
///     wg.go(move || assert!(cfg.rlock().len() >= 3));
/// }
/// cfg.lock().push(4);
/// wg.wait();
/// assert_eq!(*cfg.rlock(), [1, 2, 3, 4]);
/// ```
pub struct RwMutex<T: ?Sized> {
    w: RawMutex,
    writer_sem: AtomicU32,
    reader_sem: AtomicU32,
    reader_count: AtomicI32,
    reader_wait: AtomicI32,
    /// This lock's id in the reader slot table; 0 until a goroutine first reads it.
    id: AtomicUsize,
    data: UnsafeCell<T>,
}

// SAFETY: writers get `&mut T` one at a time (T: Send to move between their threads); readers
// share `&T` across threads at once (T: Sync).
unsafe impl<T: ?Sized + Send> Send for RwMutex<T> {}
// SAFETY: sharing the lock lets writers take `&mut T` one at a time from any thread (T: Send)
// and readers hold `&T` on several threads at once (T: Sync); the lock's protocol keeps the
// two apart.
unsafe impl<T: ?Sized + Send + Sync> Sync for RwMutex<T> {}

impl<T> RwMutex<T> {
    /// A new unlocked lock holding `value`.
    #[cfg(not(loom))]
    pub const fn new(value: T) -> RwMutex<T> {
        RwMutex {
            w: RawMutex::new(),
            writer_sem: AtomicU32::new(0),
            reader_sem: AtomicU32::new(0),
            reader_count: AtomicI32::new(0),
            reader_wait: AtomicI32::new(0),
            id: AtomicUsize::new(0),
            data: UnsafeCell::new(value),
        }
    }

    /// A new unlocked lock holding `value`.
    #[cfg(loom)]
    pub fn new(value: T) -> RwMutex<T> {
        RwMutex {
            w: RawMutex::new(),
            writer_sem: AtomicU32::new(0),
            reader_sem: AtomicU32::new(0),
            reader_count: AtomicI32::new(0),
            reader_wait: AtomicI32::new(0),
            id: AtomicUsize::new(0),
            data: UnsafeCell::new(value),
        }
    }

    /// Consumes the lock and returns the value.
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> RwMutex<T> {
    /// Takes the read lock (Go's `RLock`), waiting while a writer holds the lock or waits for
    /// it. The guard releases it on drop.
    #[doc(alias = "read")]
    #[inline]
    pub fn rlock(&self) -> RwMutexReadGuard<'_, T> {
        if let Some(slot) = self.slot_rlock() {
            return RwMutexReadGuard {
                lock: self,
                slot: Some(slot),
            };
        }
        // SeqCst: the writer's subtraction and this add must be totally ordered with the
        // reader_wait handshake (Go's atomics are sequentially consistent).
        if self.reader_count.fetch_add(1, Ordering::SeqCst) < 0 {
            // A writer is pending: wait for it to let us in.
            sema::acquire(&self.reader_sem, false, WaitReason::RwMutexRLock);
        }
        RwMutexReadGuard {
            lock: self,
            slot: None,
        }
    }

    /// The lock's id in the slot table, given it on first use.
    #[inline]
    fn slot_id(&self) -> usize {
        match self.id.load(Ordering::SeqCst) {
            0 => self.new_slot_id(),
            id => id,
        }
    }

    #[cold]
    fn new_slot_id(&self) -> usize {
        // SeqCst: a writer that does not see the id (and so skips the scan) made its
        // announcement before it, and so before the claim and check that follow.
        let new = rslot::new_id();
        match self
            .id
            .compare_exchange(0, new, Ordering::SeqCst, Ordering::SeqCst)
        {
            Ok(_) => new,
            Err(id) => id, // another reader named it first
        }
    }

    /// The read lock through this P's slot, if the slot is free and no writer is pending.
    #[inline]
    fn slot_rlock(&self) -> Option<&'static AtomicUsize> {
        // A writer is pending: do not claim the slot (a reader that races the announcement
        // still may, and backs out below).
        if self.reader_count.load(Ordering::Relaxed) < 0 {
            return None;
        }
        let id = self.slot_id();
        let slot = rslot::mine(id)?;
        if slot
            .compare_exchange(0, id, Ordering::SeqCst, Ordering::Relaxed)
            .is_err()
        {
            return None;
        }
        // SeqCst: the claim above and this check against the writer's announcement and scan
        // (a Dekker pair: under loom, which models SeqCst as AcqRel, with a fence).
        dekker_fence();
        if self.reader_count.load(Ordering::SeqCst) >= 0 {
            return Some(slot);
        }
        // A writer is pending: back out and queue behind it.
        #[cfg(loom)]
        rslot::loom_probe::hit(&rslot::loom_probe::READER_BACKED_OUT);
        self.slot_runlock(slot);
        None
    }

    /// Releases a read lock taken through `slot`, waking a writer parked on it.
    #[inline]
    fn slot_runlock(&self, slot: &AtomicUsize) {
        // A parked writer of this lock has made reader_count negative (and it stays so while
        // the writer waits): other locks' writers do not send us down the slow path.
        if rslot::release(slot) && self.reader_count.load(Ordering::Relaxed) < 0 {
            rslot::wake(self.id.load(Ordering::Relaxed));
        }
    }

    /// The id of this lock's slots, if any goroutine ever used one. SeqCst: the load is the
    /// second half of the writer's side of the Dekker pair (see `new_slot_id`).
    fn used_slot_id(&self) -> Option<usize> {
        match self.id.load(Ordering::SeqCst) {
            0 => None,
            id => Some(id),
        }
    }

    /// Waits until no reader holds a slot for this lock. The caller holds `w` and has made
    /// `reader_count` negative, so no reader claims a slot for good from here on.
    fn wait_for_slot_readers(&self) {
        // The announcement before and the scan below against a reader's claim and check (a
        // Dekker pair: under loom, with a fence).
        dekker_fence();
        let Some(id) = self.used_slot_id() else {
            return;
        };
        for slot in rslot::all(id) {
            // SeqCst: the scan half of the Dekker pair with a reader's claim and check (and,
            // as every load below, Acquire: the reader's section before our write).
            if slot.load(Ordering::SeqCst) != id {
                continue;
            }
            // A read section that does not block ends in nanoseconds: poll a while first
            // (unless spinning cannot pay: one CPU, or no other P running).
            if shim::can_spin(0) {
                for _ in 0..SLOT_POLLS {
                    std::hint::spin_loop();
                    if slot.load(Ordering::Acquire) != id {
                        break;
                    }
                }
            }
            if slot.load(Ordering::Acquire) == id {
                rslot::park_until_cleared(slot, id);
            }
        }
    }

    /// Whether some goroutine holds this lock through a slot. Acquire: its read section
    /// before what the caller does when the answer is no.
    fn slot_reader_inside(&self, order: Ordering) -> bool {
        self.used_slot_id()
            .is_some_and(|id| rslot::all(id).any(|s| s.load(order) == id))
    }

    /// Takes the read lock if that needs no waiting (Go's `TryRLock`).
    ///
    /// ```
    /// let l = sync::RwMutex::new(0);
    /// let r = l.try_rlock().unwrap();
    /// assert!(l.try_lock().is_none());
    /// assert!(l.try_rlock().is_some());
    /// drop(r);
    /// assert!(l.try_lock().is_some());
    /// ```
    #[inline]
    pub fn try_rlock(&self) -> Option<RwMutexReadGuard<'_, T>> {
        if let Some(slot) = self.slot_rlock() {
            return Some(RwMutexReadGuard {
                lock: self,
                slot: Some(slot),
            });
        }
        let mut c = self.reader_count.load(Ordering::SeqCst);
        loop {
            if c < 0 {
                return None;
            }
            match self.reader_count.compare_exchange_weak(
                c,
                c + 1,
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => {
                    return Some(RwMutexReadGuard {
                        lock: self,
                        slot: None,
                    });
                }
                Err(cur) => c = cur,
            }
        }
    }

    #[inline]
    fn runlock(&self) {
        let r = self.reader_count.fetch_sub(1, Ordering::SeqCst) - 1;
        if r < 0 {
            self.runlock_slow(r);
        }
    }

    #[cold]
    #[inline(never)]
    fn runlock_slow(&self, r: i32) {
        if r + 1 == 0 || r + 1 == -MAX_READERS {
            panic!("sync: RUnlock of unlocked RWMutex");
        }
        // A writer is pending: the last reader it waits for lets it in.
        if self.reader_wait.fetch_sub(1, Ordering::SeqCst) - 1 == 0 {
            sema::release(&self.writer_sem, false);
        }
    }

    /// Takes the write lock (Go's `Lock`), waiting for other writers and for the readers
    /// inside to leave. New readers wait from the moment this call starts waiting.
    #[doc(alias = "write")]
    #[inline]
    pub fn lock(&self) -> RwMutexWriteGuard<'_, T> {
        self.w.lock_for(WaitReason::RwMutexLock);
        // Announce the writer; r is how many readers are inside on the shared count.
        let r = self.reader_count.fetch_sub(MAX_READERS, Ordering::SeqCst);
        self.wait_for_slot_readers();
        if r != 0 && self.reader_wait.fetch_add(r, Ordering::SeqCst) + r != 0 {
            sema::acquire(&self.writer_sem, false, WaitReason::RwMutexLock);
        }
        RwMutexWriteGuard { lock: self }
    }

    /// Takes the write lock if that needs no waiting (Go's `TryLock`).
    #[inline]
    pub fn try_lock(&self) -> Option<RwMutexWriteGuard<'_, T>> {
        if !self.w.try_lock() {
            return None;
        }
        // A goroutine reading through a slot: fail without announcing ourselves (which would
        // send arriving readers to wait behind a writer that is about to give up).
        if self.slot_reader_inside(Ordering::Acquire) {
            // SAFETY: we took `w` just above.
            unsafe { self.w.unlock() };
            return None;
        }
        if self
            .reader_count
            .compare_exchange(0, -MAX_READERS, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            // SAFETY: we took `w` just above.
            unsafe { self.w.unlock() };
            return None;
        }
        // SeqCst: the announcement above and this scan against a reader's claim and check.
        dekker_fence();
        if self.slot_reader_inside(Ordering::SeqCst) {
            // A reader got in meanwhile: withdraw, letting in any reader that queued since.
            self.let_readers_in();
            // SAFETY: we took `w` just above.
            unsafe { self.w.unlock() };
            return None;
        }
        Some(RwMutexWriteGuard { lock: self })
    }

    fn unlock(&self) {
        self.let_readers_in();
        // SAFETY: the write guard holds `w`.
        unsafe { self.w.unlock() };
    }

    /// Ends the writer's announcement and releases each reader that queued behind it.
    fn let_readers_in(&self) {
        let r = self.reader_count.fetch_add(MAX_READERS, Ordering::SeqCst) + MAX_READERS;
        if r >= MAX_READERS {
            panic!("sync: Unlock of unlocked RWMutex");
        }
        for _ in 0..r {
            sema::release(&self.reader_sem, false);
        }
    }

    /// Test support, not API: the readers counted on the shared reader count (not those in
    /// slots); while a writer holds the lock or waits for it, the readers that arrived after
    /// it and wait (or are about to park) for its unlock. Tests wait on it instead of
    /// sleeping to let readers block.
    #[doc(hidden)]
    pub fn __shared_readers(&self) -> i32 {
        let r = self.reader_count.load(Ordering::SeqCst);
        if r < 0 { r + MAX_READERS } else { r }
    }

    /// The value, through a unique borrow: no locking needed.
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }
}

impl<T: Default> Default for RwMutex<T> {
    fn default() -> RwMutex<T> {
        RwMutex::new(T::default())
    }
}

impl<T> From<T> for RwMutex<T> {
    fn from(value: T) -> RwMutex<T> {
        RwMutex::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwMutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RwMutex");
        match self.try_rlock() {
            Some(g) => d.field("data", &&*g),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.finish_non_exhaustive()
    }
}

/// Shared access to an [`RwMutex`]'s value; releases the read lock on drop.
#[must_use = "the read lock is released as soon as the guard is dropped"]
pub struct RwMutexReadGuard<'a, T: ?Sized> {
    lock: &'a RwMutex<T>,
    /// The slot the lock was taken through, or `None` for the shared count.
    slot: Option<&'static AtomicUsize>,
}

// SAFETY: a read guard only gives `&T`: sending or sharing it needs T: Sync.
unsafe impl<T: ?Sized + Sync> Send for RwMutexReadGuard<'_, T> {}
// SAFETY: a shared read guard gives `&T` to every thread holding `&guard`: T: Sync.
unsafe impl<T: ?Sized + Sync> Sync for RwMutexReadGuard<'_, T> {}

impl<T: ?Sized> Deref for RwMutexReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the read lock is held: only shared references to the data exist.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for RwMutexReadGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        match self.slot {
            Some(slot) => self.lock.slot_runlock(slot),
            None => self.lock.runlock(),
        }
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwMutexReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// Exclusive access to an [`RwMutex`]'s value; releases the write lock on drop.
#[must_use = "the write lock is released as soon as the guard is dropped"]
pub struct RwMutexWriteGuard<'a, T: ?Sized> {
    lock: &'a RwMutex<T>,
}

// SAFETY: the guard gives `&mut T` wherever it goes (T: Send) and `&T` to sharers (T: Sync).
unsafe impl<T: ?Sized + Send> Send for RwMutexWriteGuard<'_, T> {}
// SAFETY: a shared write guard only gives `&T` (`&mut` needs the guard itself): T: Sync.
unsafe impl<T: ?Sized + Sync> Sync for RwMutexWriteGuard<'_, T> {}

impl<T: ?Sized> Deref for RwMutexWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the write lock is held: no other reference to the data exists.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> DerefMut for RwMutexWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the write lock is held: no other reference to the data exists.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for RwMutexWriteGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.lock.unlock();
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwMutexWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
