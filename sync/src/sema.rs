//! The runtime semaphore under every sync lock (Go's `sema.go`: `semacquire1`/`semrelease1`).
//!
//! A semaphore is just a `u32` count somewhere in the lock; its waiters live in a global table
//! of [`SEMTABLE_SIZE`] buckets hashed by the count's address, so a `Mutex` stays 8 bytes of
//! state no matter how many goroutines wait on it. Each bucket has a lock, a queue of waiter
//! nodes and `nwait`, the number of waiters queued in it: a release that sees `nwait == 0`
//! is one atomic add and one load.
//!
//! # The protocol
//! `acquire` takes a unit of the count if there is one; otherwise it locks the bucket,
//! increments `nwait`, looks at the count once more (a release that raced it either left a unit
//! it now takes, or will see `nwait > 0`: both sides are SeqCst, Dekker's pattern), queues a
//! node on its own stack and parks. `release` adds a unit, and if `nwait > 0` dequeues the first
//! node for this address and wakes it. In normal mode the woken waiter competes for the unit
//! like anyone else (and queues again, at the back, if it loses); with `handoff` the releaser
//! takes the unit on the waiter's behalf and yields its time slice to it, so it runs next
//! (Mutex's starvation mode).
//!
//! # Node lifetime
//! A node lives on the stack of the waiter it names and is only reached through the bucket's
//! queue. A releaser dequeues it under the bucket lock, clones the node's `Waiter`, then stores
//! the node's `ticket` (Release) and never touches the node again: the waiter returns (freeing
//! its node) only after it reads a non-zero ticket, so the node outlives every access.

use crate::shim::{AtomicU32, BucketLock, Ordering, Waiter, dekker_fence, park};
use runtime::__kit::CachePadded;
use runtime::WaitReason;
use std::collections::VecDeque;
use std::ptr::NonNull;

/// Buckets in the waiter table (Go's `semTabSize`, a prime). One under loom: the models
/// then also reach a bucket shared by several semaphores, and the table fits loom's stacks.
#[cfg(not(loom))]
const SEMTABLE_SIZE: usize = 251;
#[cfg(loom)]
const SEMTABLE_SIZE: usize = 1;

/// The node's ticket before it is woken.
const WAITING: u32 = 0;
/// Woken: compete for the count again.
const WOKEN: u32 = 1;
/// Woken with the unit already taken on its behalf.
const HANDED_OFF: u32 = 2;

struct Node {
    waiter: Waiter,
    ticket: AtomicU32,
}

/// A queued node: the semaphore's address and the node.
struct Queued {
    addr: usize,
    node: NonNull<Node>,
}

// SAFETY: the node pointer is only dereferenced under the node-lifetime rule of the module docs
// (by whichever thread dequeues it, before it publishes the ticket); `Waiter` is Send + Sync.
unsafe impl Send for Queued {}

/// Alone on its cache line (pair): see `runtime::__kit::CachePadded`.
struct Bucket {
    nwait: AtomicU32,
    queue: BucketLock<VecDeque<Queued>>,
}

impl Bucket {
    fn new() -> Bucket {
        Bucket {
            nwait: AtomicU32::new(0),
            queue: BucketLock::new(VecDeque::new()),
        }
    }

    fn lock(&self) -> impl std::ops::DerefMut<Target = VecDeque<Queued>> + '_ {
        // Critical sections never panic while holding the lock (queue pushes aside), so a
        // poisoned lock only means a push failed to allocate; the queue is still consistent.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(not(loom))]
fn semtable() -> &'static [CachePadded<Bucket>; SEMTABLE_SIZE] {
    static TABLE: std::sync::OnceLock<Box<[CachePadded<Bucket>; SEMTABLE_SIZE]>> =
        std::sync::OnceLock::new();
    TABLE.get_or_init(|| Box::new(std::array::from_fn(|_| CachePadded::new(Bucket::new()))))
}

#[cfg(loom)]
loom::lazy_static! {
    static ref TABLE: Box<[CachePadded<Bucket>; SEMTABLE_SIZE]> =
        Box::new(std::array::from_fn(|_| CachePadded::new(Bucket::new())));
}

#[cfg(loom)]
fn semtable() -> &'static [CachePadded<Bucket>; SEMTABLE_SIZE] {
    &TABLE
}

fn bucket(sema: &AtomicU32) -> &'static Bucket {
    let addr = sema as *const AtomicU32 as usize;
    &semtable()[(addr >> 3) % SEMTABLE_SIZE]
}

/// Takes a unit of `sema` if it has one (Go's `cansemacquire`).
#[inline]
pub(crate) fn try_acquire(sema: &AtomicU32) -> bool {
    let mut v = sema.load(Ordering::SeqCst);
    while v != 0 {
        match sema.compare_exchange_weak(v, v - 1, Ordering::SeqCst, Ordering::SeqCst) {
            Ok(_) => return true,
            Err(cur) => v = cur,
        }
    }
    false
}

/// Waits for a unit of `sema` and takes it. `lifo` queues the caller at the front (a waiter
/// that has already waited once, as Mutex asks). Returns at once if a unit is available.
pub(crate) fn acquire(sema: &AtomicU32, lifo: bool, reason: WaitReason) {
    if try_acquire(sema) {
        return;
    }
    let b = bucket(sema);
    let addr = sema as *const AtomicU32 as usize;
    let node = Node {
        waiter: Waiter::current(),
        ticket: AtomicU32::new(WAITING),
    };
    loop {
        {
            let mut q = b.lock();
            // Count ourselves before the last look at `sema` (see the module docs).
            b.nwait.fetch_add(1, Ordering::SeqCst);
            dekker_fence();
            if try_acquire(sema) {
                b.nwait.fetch_sub(1, Ordering::SeqCst);
                return;
            }
            node.ticket.store(WAITING, Ordering::Relaxed);
            let queued = Queued {
                addr,
                node: NonNull::from(&node),
            };
            if lifo {
                q.push_front(queued);
            } else {
                q.push_back(queued);
            }
        }
        // Acquire: pairs with the releaser's Release store, ordering its writes before ours.
        let ticket = loop {
            let t = node.ticket.load(Ordering::Acquire);
            if t != WAITING {
                break t;
            }
            park(reason);
        };
        if ticket == HANDED_OFF || try_acquire(sema) {
            return;
        }
    }
}

/// Adds a unit to `sema` and wakes its first waiter, if any (Go's `semrelease1`). With
/// `handoff`, the unit goes straight to that waiter and the caller yields to it.
pub(crate) fn release(sema: &AtomicU32, handoff: bool) {
    sema.fetch_add(1, Ordering::SeqCst);
    dekker_fence();
    let b = bucket(sema);
    if b.nwait.load(Ordering::SeqCst) == 0 {
        return;
    }
    let addr = sema as *const AtomicU32 as usize;
    let waiter = {
        let mut q = b.lock();
        if b.nwait.load(Ordering::SeqCst) == 0 {
            return;
        }
        let Some(i) = q.iter().position(|e| e.addr == addr) else {
            // Only waiters for other semaphores share this bucket.
            return;
        };
        let queued = q.remove(i).expect("position is in range");
        b.nwait.fetch_sub(1, Ordering::SeqCst);
        queued.node
    };
    // SAFETY: the node was queued and we dequeued it, so its waiter is still waiting for a
    // ticket and its stack frame (and the node) is alive until we store one below.
    let node = unsafe { waiter.as_ref() };
    let w = node.waiter.clone();
    let ticket = if handoff && try_acquire(sema) {
        HANDED_OFF
    } else {
        WOKEN
    };
    // Release: the waiter's Acquire load orders everything we did before; after this store
    // the node may be gone.
    node.ticket.store(ticket, Ordering::Release);
    w.unpark();
    if ticket == HANDED_OFF {
        crate::shim::handoff_yield();
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn release_before_acquire_leaves_a_unit() {
        let s = AtomicU32::new(0);
        release(&s, false);
        acquire(&s, false, WaitReason::SemAcquire);
        assert_eq!(s.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn waiters_of_two_semaphores_sharing_a_bucket_are_told_apart() {
        // Two counts SEMTABLE_SIZE * 8 bytes apart hash to one bucket.
        let arr: Arc<Vec<AtomicU32>> = Arc::new(
            (0..SEMTABLE_SIZE * 2 + 1)
                .map(|_| AtomicU32::new(0))
                .collect(),
        );
        let (a, b) = (0, SEMTABLE_SIZE * 2);
        assert!(std::ptr::eq(bucket(&arr[a]), bucket(&arr[b])));
        let arr2 = arr.clone();
        let t = std::thread::spawn(move || acquire(&arr2[a], false, WaitReason::SemAcquire));
        while bucket(&arr[a]).nwait.load(Ordering::SeqCst) == 0 {
            std::thread::yield_now();
        }
        // A release of the other semaphore leaves its unit there and wakes nobody.
        release(&arr[b], false);
        assert_eq!(arr[b].load(Ordering::SeqCst), 1);
        release(&arr[a], false);
        t.join().unwrap();
        assert_eq!(arr[a].load(Ordering::SeqCst), 0);
    }
}
