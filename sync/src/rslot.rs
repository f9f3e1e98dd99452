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
//! Its atomics and the parked writers' lock are the loom facade's (`runtime::__loom` through
//! [`crate::shim`]): `std`'s, so this compiles to what it would with `std`'s directly, and
//! loom's under `--cfg loom`, where a model's threads play Ps ([`loom_proc`]) and the barrier
//! pair is a SeqCst fence on each side (`loom_tests.rs` has the models).
//!
//! # Writers waiting for a slot
//! A release is a plain store, not an atomic exchange (which would cost the fast path as much
//! again). A writer that finds a reader in a slot spins first; if the reader stays (it
//! blocked inside its read section), the writer enters itself in `Globals::parked`, counts
//! itself in `Globals::nparked` and parks. A releasing reader stores 0, then loads
//! `nparked`, and wakes the
//! writer if it is there. The store-then-load on the reader's side and the count-then-look on
//! the writer's are a Dekker pair; the runtime's asymmetric fence orders both: a compiler
//! fence on the reader's side ([`runtime::__sync::light_barrier`]), a process-wide barrier on the
//! parking writer's ([`runtime::__sync::heavy_barrier`], a `membarrier(2)` call, paid only when a
//! writer parks). So a parked writer is always woken, and it parks without a timer, which
//! keeps the runtime's deadlock detection whole.
//!
//! A writer's scan costs one load per row ever used (the largest GOMAXPROCS the program has
//! run with), only for locks that some goroutine has read-locked.

use crate::shim::{self, AtomicUsize, Ordering, Waiter};
use runtime::__kit::CachePadded;
use runtime::WaitReason;
use std::time::{Duration, Instant};

/// Slots in each P's row: one 128-byte line pair of 8-byte words.
const SLOTS: usize = 16;

/// Rows in the table: one per P. Under loom, two: a model's threads play Ps 0 and 1
/// ([`loom_proc::set`]).
#[cfg(not(loom))]
const ROWS_MAX: usize = runtime::MAX_PROCS;
#[cfg(loom)]
const ROWS_MAX: usize = 2;

/// One P's slots, alone on its cache line pair (adjacent-line prefetch pulls lines in twos).
type Row = CachePadded<[AtomicUsize; SLOTS]>;

/// A counter alone on its cache line pair: read on hot paths, written rarely.
type Padded = CachePadded<AtomicUsize>;

/// The table and its bookkeeping, all of it shared by every lock. A `static` (its atomics are
/// `std`'s through the loom facade, so [`globals`] is the static's address); under loom, a
/// `loom::lazy_static` made afresh for each execution of a model.
struct Globals {
    table: [Row; ROWS_MAX],
    /// Rows that readers have used: one past the highest P index seen. A P index never
    /// exceeds the largest GOMAXPROCS the program has set, so writers scan only that many
    /// rows.
    rows: Padded,
    /// The last lock id handed out.
    last_id: Padded,
    /// Writers parked on a slot, by column: `(id, waiter)`. A writer enters itself before its
    /// last look at the slot and leaves after it saw the slot cleared, both under the lock.
    parked: [shim::BucketLock<Vec<(usize, Waiter)>>; SLOTS],
    /// How many writers are in `parked`: what a releasing reader looks at.
    nparked: Padded,
}

#[cfg(not(loom))]
static GLOBALS: Globals = Globals {
    table: [const { CachePadded::new([const { AtomicUsize::new(0) }; SLOTS]) }; ROWS_MAX],
    rows: CachePadded::new(AtomicUsize::new(0)),
    last_id: CachePadded::new(AtomicUsize::new(0)),
    parked: [const { shim::BucketLock::new(Vec::new()) }; SLOTS],
    nparked: CachePadded::new(AtomicUsize::new(0)),
};

#[cfg(not(loom))]
#[inline(always)]
fn globals() -> &'static Globals {
    &GLOBALS
}

#[cfg(loom)]
loom::lazy_static! {
    static ref GLOBALS: Globals = Globals {
        table: std::array::from_fn(|_| {
            CachePadded::new(std::array::from_fn(|_| AtomicUsize::new(0)))
        }),
        rows: CachePadded::new(AtomicUsize::new(0)),
        last_id: CachePadded::new(AtomicUsize::new(0)),
        parked: std::array::from_fn(|_| shim::BucketLock::new(Vec::new())),
        nparked: CachePadded::new(AtomicUsize::new(0)),
    };
}

#[cfg(loom)]
fn globals() -> &'static Globals {
    &GLOBALS
}

/// The calling goroutine's P, if it is a goroutine.
#[cfg(not(loom))]
#[inline(always)]
fn current_proc() -> Option<usize> {
    runtime::__sync::current_proc()
}

/// Under loom, the P a model said the calling thread plays (none: a plain thread).
#[cfg(loom)]
fn current_proc() -> Option<usize> {
    loom_proc::get()
}

/// Which P each thread of a loom model plays.
#[cfg(loom)]
pub(crate) mod loom_proc {
    use std::cell::Cell;
    loom::thread_local! {
        static PROC: Cell<Option<usize>> = Cell::new(None);
    }
    pub(crate) fn get() -> Option<usize> {
        PROC.with(Cell::get)
    }
    /// The calling thread of the model plays P `p` (`None`: a plain thread) from now on.
    #[cfg(test)]
    pub(crate) fn set(p: Option<usize>) {
        PROC.with(|c| c.set(p));
    }
}

/// What the loom models count to show that their executions reach the paths they are built
/// for (plain `std` counters, outside the model: a model's threads share one OS thread).
#[cfg(loom)]
pub(crate) mod loom_probe {
    use std::sync::atomic::{AtomicUsize, Ordering};
    /// A writer parked on a slot (`park_until_cleared`).
    pub(crate) static WRITER_PARKED: AtomicUsize = AtomicUsize::new(0);
    /// A reader claimed its slot, then saw a writer pending and backed out.
    pub(crate) static READER_BACKED_OUT: AtomicUsize = AtomicUsize::new(0);
    /// A mutex unlock in starvation mode found the lock taken by a newcomer before it could
    /// reserve it for the first waiter (`mutex.rs`, `unlock_slow`).
    pub(crate) static MUTEX_RESERVATION_BEATEN: AtomicUsize = AtomicUsize::new(0);
    pub(crate) fn hit(p: &AtomicUsize) {
        p.fetch_add(1, Ordering::Relaxed);
    }
}

/// The reader's half of the asymmetric fence: a compiler fence (under loom, a SeqCst fence,
/// the model of the pair).
#[inline(always)]
fn light_barrier() {
    #[cfg(not(loom))]
    runtime::__sync::light_barrier();
    #[cfg(loom)]
    shim::dekker_fence();
}

/// The parking writer's half: `membarrier(2)`; whether it paired (under loom, a SeqCst
/// fence, always paired).
fn heavy_barrier() -> bool {
    #[cfg(not(loom))]
    {
        runtime::__sync::heavy_barrier()
    }
    #[cfg(loom)]
    {
        shim::dekker_fence();
        true
    }
}

/// A fresh lock id, never 0 and never handed out before (a 64-bit count does not wrap).
pub(crate) fn new_id() -> usize {
    globals().last_id.fetch_add(1, Ordering::Relaxed) + 1
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
    let p = current_proc()?;
    let g = globals();
    // SeqCst (a plain load on x86): whichever claim raised the count comes before ours in the
    // total order, and so before the scan of a writer that our check misses.
    if p >= g.rows.load(Ordering::SeqCst) {
        g.rows.fetch_max(p + 1, Ordering::SeqCst);
    }
    Some(&g.table[p][column(id)])
}

/// The slots readers of the lock with id `id` may hold, one per row in use.
pub(crate) fn all(id: usize) -> impl Iterator<Item = &'static AtomicUsize> {
    let c = column(id);
    let g = globals();
    g.table[..g.rows.load(Ordering::SeqCst)]
        .iter()
        .map(move |r| &r[c])
}

fn parked(id: usize) -> impl std::ops::DerefMut<Target = Vec<(usize, Waiter)>> {
    // Nothing panics while the lock is held (pushes aside): a poisoned lock's Vec is intact.
    globals().parked[column(id)]
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

/// Releases a slot. Returns whether a writer may be parked on it: then the caller, if a
/// writer of its lock is pending, calls [`wake`].
#[inline]
#[must_use]
pub(crate) fn release(slot: &AtomicUsize) -> bool {
    // Release: the read section before the writer that sees the slot empty.
    slot.store(0, Ordering::Release);
    // Pairs with the parking writer's heavy barrier (module docs).
    light_barrier();
    globals().nparked.load(Ordering::Relaxed) != 0
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
    /// Leaves `parked` and `nparked` on the way out, even by unwinding.
    struct Registered(usize);
    impl Drop for Registered {
        fn drop(&mut self) {
            globals().nparked.fetch_sub(1, Ordering::Relaxed);
            let mut q = parked(self.0);
            // Each writer holds its lock's `w` while here: one entry per id at most.
            if let Some(i) = q.iter().position(|(k, _)| *k == self.0) {
                q.swap_remove(i);
            }
        }
    }

    #[cfg(loom)]
    loom_probe::hit(&loom_probe::WRITER_PARKED);
    let me = Waiter::current();
    parked(id).push((id, me));
    let _registered = Registered(id);
    globals().nparked.fetch_add(1, Ordering::SeqCst);
    let paired = heavy_barrier();
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
            while globals().nparked.load(Ordering::SeqCst) == 0 && !writer.is_finished() {
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
