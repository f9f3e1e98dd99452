//! P: a processor, the right to run Gs (Go's `p` in runtime2.go).
//!
//! A P owns a local run queue, a free list of dead Gs, a cache of goroutine ids and a timer
//! heap. Exactly one M holds a P at a time; the owner-only fields live in `Cell`s and are
//! touched only by that M. P handovers go through the scheduler lock or an M's `nextp`
//! (release/acquire), which orders one owner's accesses before the next's.

use crate::g::G;
use crate::m::M;
use crate::runq::RunQueue;
use crate::timer::TimerHeap;
use std::cell::{Cell, UnsafeCell};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, Ordering};

/// P status.
pub(crate) const P_IDLE: u32 = 0;
pub(crate) const P_RUNNING: u32 = 1;
/// Retired by a `gomaxprocs` decrease.
pub(crate) const P_DEAD: u32 = 2;
/// Left by an M in `runtime::syscall`: the M takes it back with a CAS to `P_RUNNING` when the
/// call returns, or sysmon takes it with a CAS to `P_RUNNING` (in transit to `handoffp`) if
/// the call lasts (Go's `_Psyscall`).
pub(crate) const P_SYSCALL: u32 = 3;

/// Goroutine ids are handed to Ps in batches (Go's `goidcache`), so spawning does not
/// contend on one global counter.
const GOID_BATCH: u64 = 16;

/// Per-P free list: spill half to the global list beyond this (Go uses 64/32).
pub(crate) const GFREE_LOCAL_MAX: usize = 64;

pub(crate) struct P {
    pub(crate) id: usize,
    pub(crate) status: AtomicU32,
    /// The M holding this P (null while idle or in a syscall); sysmon's way from a hogged P
    /// to its M.
    pub(crate) m: AtomicPtr<M>,
    pub(crate) runq: RunQueue<G>,
    /// Incremented on every switch into a goroutine on this P (Go's schedtick, which skips
    /// inherited time slices; see `execute`); read by sysmon to detect hogs, and by the
    /// every-61st-tick look at the global queue.
    pub(crate) schedtick: AtomicU32,
    /// Incremented on every `runtime::syscall` entry (Go's syscalltick); sysmon retakes a P
    /// only from a syscall it has seen last at least one tick earlier.
    pub(crate) syscalltick: AtomicU32,
    pub(crate) timers: TimerHeap,
    /// Goroutines started / finished on this P (num_goroutine sums them).
    pub(crate) ngo_started: AtomicU64,
    pub(crate) ngo_exited: AtomicU64,
    /// Incremented each time a time slice starts on this P: a G taken from the ring rather
    /// than inherited through `runnext` (Go's schedtick, which skips inherited slices). Read
    /// by sysmon, which ends a slice after [`crate::sysmon::SLICE_NS`].
    pub(crate) slicetick: AtomicU32,
    /// Consecutive runnext picks (see `proc::runqget`).
    pub(crate) runnext_streak: Cell<u32>,
    /// The G picked before the current one (owner only): a ping-pong pair shows as `runnext`
    /// holding the G that ran just before the running one.
    pub(crate) prev_g: Cell<*const G>,
    pub(crate) cur_g: Cell<*const G>,
    /// Set by sysmon when the current slice has run for its 10 ms: the next pick takes the
    /// ring's head before `runnext` (so two Gs waking each other cannot own the P), and a new
    /// slice starts. Cleared by the owner.
    pub(crate) slice_expired: AtomicBool,
    goid_next: Cell<u64>,
    goid_end: Cell<u64>,
    /// Dead Gs for reuse, most recently freed last (LIFO: hot stacks first).
    pub(crate) gfree: UnsafeCell<Vec<&'static G>>,
}

// SAFETY: the Cell/UnsafeCell fields are touched only by the M holding this P (see the
// module docs); all other fields are atomics or internally synchronized.
unsafe impl Sync for P {}
// SAFETY: as above.
unsafe impl Send for P {}

impl P {
    pub(crate) fn new(id: usize) -> P {
        P {
            id,
            status: AtomicU32::new(P_IDLE),
            m: AtomicPtr::new(std::ptr::null_mut()),
            runq: RunQueue::new(),
            schedtick: AtomicU32::new(0),
            syscalltick: AtomicU32::new(0),
            timers: TimerHeap::new(),
            ngo_started: AtomicU64::new(0),
            ngo_exited: AtomicU64::new(0),
            slicetick: AtomicU32::new(0),
            runnext_streak: Cell::new(0),
            prev_g: Cell::new(std::ptr::null()),
            cur_g: Cell::new(std::ptr::null()),
            slice_expired: AtomicBool::new(false),
            goid_next: Cell::new(0),
            goid_end: Cell::new(0),
            gfree: UnsafeCell::new(Vec::with_capacity(GFREE_LOCAL_MAX)),
        }
    }

    /// Owner only: the next goroutine id.
    pub(crate) fn next_goid(&self) -> u64 {
        if self.goid_next.get() == self.goid_end.get() {
            let start = crate::sched::SCHED
                .goid_gen
                .fetch_add(GOID_BATCH, Ordering::Relaxed);
            self.goid_next.set(start);
            self.goid_end.set(start + GOID_BATCH);
        }
        let id = self.goid_next.get();
        self.goid_next.set(id + 1);
        id
    }

    /// Owner only: the local free list.
    ///
    /// # Safety
    /// The caller must hold this P, and must not keep another reference from `gfree` alive.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn gfree(&self) -> &mut Vec<&'static G> {
        // SAFETY: per the contract, the caller is the only one touching it right now.
        unsafe { &mut *self.gfree.get() }
    }

    pub(crate) fn bump_started(&self) {
        // Only the owner writes; a plain load+store keeps it a non-contended counter.
        let v = self.ngo_started.load(Ordering::Relaxed);
        self.ngo_started.store(v + 1, Ordering::Relaxed);
    }

    /// Owner only: counts a scheduling event (schedtick++).
    pub(crate) fn bump_schedtick(&self) {
        self.schedtick.store(
            self.schedtick.load(Ordering::Relaxed).wrapping_add(1),
            Ordering::Relaxed,
        );
    }

    pub(crate) fn bump_exited(&self) {
        let v = self.ngo_exited.load(Ordering::Relaxed);
        self.ngo_exited.store(v + 1, Ordering::Relaxed);
    }
}
