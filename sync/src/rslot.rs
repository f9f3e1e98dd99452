//! Reader slots: the table behind [`crate::RwMutex`]'s read fast path.
//!
//! Go's `RLock` is one atomic add on the lock's reader count, so every reader on every core
//! writes the same cache line: on two cores, two goroutines that only read a lock spend more
//! time moving that line than a single core spends doing all their work alone (W13 with no
//! writes: 34 ns per op on 2 Ps against 12.5 on one). Here a goroutine instead claims a slot
//! in its P's row of a global table, a line that only goroutines on that P write, and the
//! lock's own line is only read. A writer scans the lock's slot in every row.
//!
//! Each P has a row of [`SLOTS`] words, one cache line pair; a lock hashes to one column, so
//! two locks in use at once on one P usually take different slots. A slot holds the id of the
//! lock one reader holds through it ([`new_id`]: a number no other lock ever has, so a read
//! guard leaked with `mem::forget` blocks only its own lock's writers, as in Go), or 0. A slot
//! taken by another lock, or by an earlier reader of the same lock on this P (a goroutine that
//! parked inside its read section), sends the reader to the lock's shared count instead:
//! correct, only slower. The table is 32 KiB of static memory for all locks, so an `RwMutex`
//! stays a few words, like Go's.
//!
//! Plain threads have no P and always use the shared count.
//!
//! # Writers waiting for a slot
//! A release is a plain store, not an atomic exchange (which would cost the fast path as much
//! again). A writer that finds a reader in a slot spins first; if the reader stays (it
//! blocked inside its read section), the writer enters itself in [`PARKED`], counts itself in
//! [`NPARKED`] and parks. A releasing reader stores 0, then loads `NPARKED`, and wakes the
//! writer if it is there. The store-then-load on the reader's side and the count-then-look on
//! the writer's are a Dekker pair; the runtime's asymmetric fence orders both: a compiler
//! fence on the reader's side ([`runtime::__sync::light_barrier`]), a process-wide barrier on the
//! parking writer's ([`runtime::__sync::heavy_barrier`], a `membarrier(2)` call, paid only when a
//! writer parks). So a parked writer is always woken, and it parks without a timer, which
//! keeps the runtime's deadlock detection whole.
//!
//! A writer's scan costs one load per row ever used (the largest GOMAXPROCS the program has
//! run with), only for locks that some goroutine has read-locked.

use crate::shim::{self, Waiter};
use runtime::__kit::CachePadded;
use runtime::WaitReason;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Slots in each P's row: one 128-byte line pair of 8-byte words.
const SLOTS: usize = 16;

/// One P's slots, alone on its cache line pair (adjacent-line prefetch pulls lines in twos).
type Row = CachePadded<[AtomicUsize; SLOTS]>;

static TABLE: [Row; runtime::MAX_PROCS] =
    [const { CachePadded::new([const { AtomicUsize::new(0) }; SLOTS]) }; runtime::MAX_PROCS];

/// A counter alone on its cache line pair: read on hot paths, written rarely.
type Padded = CachePadded<AtomicUsize>;

/// Rows that readers have used: one past the highest P index seen. A P index never exceeds
/// the largest GOMAXPROCS the program has set, so writers scan only that many rows.
static ROWS: Padded = CachePadded::new(AtomicUsize::new(0));

/// The last lock id handed out.
static LAST_ID: Padded = CachePadded::new(AtomicUsize::new(0));

/// Writers parked on a slot, by column: `(id, waiter)`. A writer enters itself before its
/// last look at the slot and leaves after it saw the slot cleared, both under the lock.
static PARKED: [Mutex<Vec<(usize, Waiter)>>; SLOTS] = [const { Mutex::new(Vec::new()) }; SLOTS];

/// How many writers are in [`PARKED`]: what a releasing reader looks at.
static NPARKED: Padded = CachePadded::new(AtomicUsize::new(0));

/// A fresh lock id, never 0 and never handed out before (a 64-bit count does not wrap).
pub(crate) fn new_id() -> usize {
    LAST_ID.fetch_add(1, Ordering::Relaxed) + 1
}

/// The column of the lock with id `id` (a Fibonacci hash, so consecutive ids spread).
#[inline]
fn column(id: usize) -> usize {
    // The multiplier truncates to its low half on 32-bit targets, which still spreads ids.
    id.wrapping_mul(0x9E37_79B9_7F4A_7C15_u64 as usize) >> (usize::BITS - SLOTS.ilog2())
}

/// The slot the calling goroutine's P has for the lock with id `id`; `None` on a plain
/// thread.
///
/// The row count a writer reads is raised before the caller can claim the slot, and all of
/// it is SeqCst: a writer that the caller's check misses therefore scans its row.
#[inline]
pub(crate) fn mine(id: usize) -> Option<&'static AtomicUsize> {
    let p = runtime::__sync::current_proc()?;
    // SeqCst (a plain load on x86): whichever claim raised the count comes before ours in the
    // total order, and so before the scan of a writer that our check misses.
    if p >= ROWS.load(Ordering::SeqCst) {
        ROWS.fetch_max(p + 1, Ordering::SeqCst);
    }
    Some(&TABLE[p][column(id)])
}

/// The slots readers of the lock with id `id` may hold, one per row in use.
pub(crate) fn all(id: usize) -> impl Iterator<Item = &'static AtomicUsize> {
    let c = column(id);
    TABLE[..ROWS.load(Ordering::SeqCst)]
        .iter()
        .map(move |r| &r[c])
}

fn parked(id: usize) -> std::sync::MutexGuard<'static, Vec<(usize, Waiter)>> {
    // Nothing panics while the lock is held (pushes aside): a poisoned lock's Vec is intact.
    PARKED[column(id)].lock().unwrap_or_else(|e| e.into_inner())
}

/// Releases a slot. Returns whether a writer may be parked on it: then the caller, if a
/// writer of its lock is pending, calls [`wake`].
#[inline]
#[must_use]
pub(crate) fn release(slot: &AtomicUsize) -> bool {
    // Release: the read section before the writer that sees the slot empty.
    slot.store(0, Ordering::Release);
    // Pairs with the parking writer's heavy barrier (module docs).
    runtime::__sync::light_barrier();
    NPARKED.load(Ordering::Relaxed) != 0
}

/// Wakes the writer of lock `id` parked on a slot, if there is one.
#[cold]
#[inline(never)]
pub(crate) fn wake(id: usize) {
    let w = parked(id)
        .iter()
        .find(|(k, _)| *k == id)
        .map(|(_, w)| w.clone());
    if let Some(w) = w {
        // Spurious if the writer waits for another row's reader: it looks and parks again.
        w.unpark();
    }
}

/// Parks the calling writer until `slot` no longer holds `id` (its reader has left).
#[cold]
#[inline(never)]
pub(crate) fn park_until_cleared(slot: &AtomicUsize, id: usize) {
    /// Leaves [`PARKED`] and [`NPARKED`] on the way out, even by unwinding.
    struct Registered(usize);
    impl Drop for Registered {
        fn drop(&mut self) {
            NPARKED.fetch_sub(1, Ordering::Relaxed);
            let mut q = parked(self.0);
            // Each writer holds its lock's `w` while here: one entry per id at most.
            if let Some(i) = q.iter().position(|(k, _)| *k == self.0) {
                q.swap_remove(i);
            }
        }
    }

    parked(id).push((id, Waiter::current()));
    let _registered = Registered(id);
    NPARKED.fetch_add(1, Ordering::SeqCst);
    let paired = runtime::__sync::heavy_barrier();
    // Should the barrier ever fail, a reader may miss us: look again now and then.
    let mut recheck = Duration::from_micros(50);
    // Acquire: the reader's release store.
    while slot.load(Ordering::Acquire) == id {
        if paired {
            shim::park(WaitReason::RwMutexLock);
        } else if shim::park_until(WaitReason::RwMutexLock, Instant::now() + recheck) {
            recheck = (recheck * 2).min(Duration::from_millis(10));
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn ids_are_fresh_and_columns_spread_them() {
        let ids: Vec<usize> = (0..64).map(|_| new_id()).collect();
        assert!(ids.windows(2).all(|w| w[1] > w[0] && w[0] != 0));
        let cols: std::collections::HashSet<usize> =
            ids[..SLOTS].iter().map(|&i| column(i)).collect();
        assert!(cols.len() >= SLOTS / 2, "{cols:?}");
        assert!(ids.iter().all(|&i| column(i) < SLOTS));
    }

    #[test]
    fn a_plain_thread_has_no_slot() {
        assert!(mine(new_id()).is_none());
    }

    /// The wake path on its own: a writer parked on a slot (a goroutine, so the barrier
    /// pairs) is woken by the release. A missed wake leaves the writer parked for good: the
    /// test fails after 10 s with a goroutine dump.
    #[test]
    fn a_release_wakes_a_writer_parked_on_the_slot() {
        static SLOT: AtomicUsize = AtomicUsize::new(0);
        let id = new_id();
        for _ in 0..200 {
            SLOT.store(id, Ordering::SeqCst);
            let writer = runtime::spawn(move || park_until_cleared(&SLOT, id));
            while NPARKED.load(Ordering::SeqCst) == 0 && !writer.is_finished() {
                std::thread::yield_now();
            }
            if release(&SLOT) {
                wake(id);
            }
            let deadline = Instant::now() + Duration::from_secs(10);
            while !writer.is_finished() {
                assert!(
                    Instant::now() < deadline,
                    "the writer was not woken:\n{}",
                    runtime::stack_dump()
                );
                std::thread::yield_now();
            }
            writer.join().unwrap();
            assert_eq!(SLOT.load(Ordering::SeqCst), 0);
            assert!(parked(id).iter().all(|(k, _)| *k != id), "the writer left");
        }
        SLOT.store(id, Ordering::SeqCst);
        let _ = release(&SLOT);
        assert_eq!(SLOT.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn a_goroutine_slot_is_in_a_scanned_row() {
        let id = new_id();
        let s = runtime::block_on(move || mine(id).unwrap() as *const AtomicUsize as usize);
        assert!(all(id).any(|t| t as *const AtomicUsize as usize == s));
    }
}
