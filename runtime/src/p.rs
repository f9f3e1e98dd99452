//! P: a processor, the right to run Gs (Go's `p` in runtime2.go).
//!
//! A P owns a local run queue, a free list of dead Gs, a cache of goroutine ids and a timer
//! heap. Exactly one M holds a P at a time; the owner-only fields live in `Cell`s and are
//! touched only by that M (or, for the free-G list's deferred looks, by whoever holds a P in
//! transit to the idle list: [`P::gfree_check_deep_in_transit`]). P handovers go through the
//! scheduler lock or an M's `nextp` (release/acquire), which orders one owner's accesses
//! before the next's.
//!
//! # Ownership in the types: [`POwner`]
//! The owner-only state (the run queue's producer side, `runnext`'s streak, the previous and
//! current G, the goid cache, the free-G list) is private to this file and reached only
//! through a [`POwner`]: a `Copy`, pointer-sized, `!Send`/`!Sync` proof that the current
//! thread's M holds the P *and* is inside a runtime section (so sysmon cannot take the P
//! meanwhile, see [`crate::sysmon`]). Its lifetime is that of the section: only
//! [`crate::m::Rt`] (the section's own proof, which `with_p` makes for the length of its
//! closure and g0 holds between switches) hands one out, through [`crate::m::Rt::owner`] or
//! [`crate::m::acquirep`]; and everything that can end the section or drop the P
//! (`releasep`, running a goroutine on g0) takes the `Rt` by `&mut`, so no token survives
//! it. At run time a `POwner` is the `&'static P` it wraps: the proof compiles away.
//!
//! The owner-only operations are methods of the token that do the whole operation (no
//! `&mut` to a P's field ever leaves this file), so two tokens for one P on one thread (a
//! nested `with_p`) cannot alias anything.

use crate::g::G;
use crate::m::M;
use crate::runq::{Local, RunQueue};
use crate::timer::TimerHeap;
use std::cell::{Cell, UnsafeCell};
use std::marker::PhantomData;
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
    /// Consecutive runnext picks (see `proc::runqget`). Owner only ([`POwner`]).
    runnext_streak: Cell<u32>,
    /// The G picked before the current one (owner only): a ping-pong pair shows as `runnext`
    /// holding the G that ran just before the running one.
    prev_g: Cell<*const G>,
    cur_g: Cell<*const G>,
    /// Set by sysmon when the current slice has run for its 10 ms: the next pick takes the
    /// ring's head before `runnext` (so two Gs waking each other cannot own the P), and a new
    /// slice starts. Cleared by the owner.
    pub(crate) slice_expired: AtomicBool,
    goid_next: Cell<u64>,
    goid_end: Cell<u64>,
    /// Dead Gs for reuse, most recently freed last (LIFO: hot stacks first). Owner only.
    gfree: UnsafeCell<Vec<&'static G>>,
    /// Some G pushed on `gfree` since the last [`POwner::gfree_check_deep`] owed a look (it
    /// may have been reused or spilled since). Owner only.
    gfree_unchecked: Cell<bool>,
}

// SAFETY: the Cell/UnsafeCell fields are private to this file and touched only through a
// `POwner`, which exists only on the thread of the M holding this P (see the module docs),
// or by the one thread holding the P in transit (`gfree_check_deep_in_transit`, whose
// contract orders it after the last owner); all other fields are atomics or internally
// synchronized.
unsafe impl Sync for P {}
// SAFETY: Ps are static records never moved between threads by value; the Cell fields
// travel only under a `POwner`, on the owning M's thread, as for Sync.
unsafe impl Send for P {}

impl P {
    /// [`POwner::gfree_check_deep`] for a P no M holds, on its way to the idle list
    /// (`sched::handoffp`: taken from a syscall or a hog by sysmon, or given up by a locked
    /// M). Its M will not make the looks when it runs out of work, and an idle P may stay idle
    /// for good, keeping its dead Gs' deep pages.
    ///
    /// # Safety
    /// The caller holds `self` in transit: no M holds it, it is in no idle list or `nextp`,
    /// and its last owner's accesses to its owner-only fields happen before this call (the
    /// handover's acquire: the `P_SYSCALL` CAS, the retake's or `releasep`'s ordering).
    /// Nobody else can reach those fields until the caller hands the P on.
    pub(crate) unsafe fn gfree_check_deep_in_transit(&self) {
        if self.gfree_unchecked.get() {
            // SAFETY: per the contract we are the P's only holder, as an owner is.
            unsafe { self.gfree_check_deep_owned() }
        }
    }

    /// # Safety
    /// The caller is the P's owner ([`POwner`]) or holds it in transit
    /// ([`P::gfree_check_deep_in_transit`]).
    unsafe fn gfree_check_deep_owned(&self) {
        self.gfree_unchecked.set(false);
        // SAFETY: per the contract nobody else touches the list meanwhile; `check_many` only
        // reads the Gs' stacks and states and never reaches a free list.
        let local = unsafe { &*self.gfree.get() };
        crate::stack::DeepCheck::check_many(local.iter().map(|g| (&g.deep, &g.stack)));
    }

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
            gfree_unchecked: Cell::new(false),
        }
    }
}

/// Proof that the current thread's M holds `p` inside a runtime section, for the section's
/// lifetime `'a` (see the module docs). The owner-only operations of a P are its methods;
/// it derefs to the P for everything else.
#[derive(Clone, Copy)]
pub(crate) struct POwner<'a> {
    p: &'static P,
    /// Never leaves the thread whose M holds the P.
    _not_send: PhantomData<*const ()>,
    /// Never outlives the section it was made in.
    _section: PhantomData<&'a ()>,
}

impl std::ops::Deref for POwner<'_> {
    type Target = P;
    #[inline(always)]
    fn deref(&self) -> &P {
        self.p
    }
}

impl<'a> POwner<'a> {
    /// The token for `p`.
    ///
    /// # Safety
    /// The current thread's M holds `p` and stays inside a runtime section, holding `p`,
    /// for all of `'a`. Called only by `m.rs` (`Rt::owner`, `acquirep`), where an
    /// [`crate::m::Rt`] proves the section.
    #[inline(always)]
    pub(crate) unsafe fn new(p: &'static P) -> POwner<'a> {
        POwner {
            p,
            _not_send: PhantomData,
            _section: PhantomData,
        }
    }

    /// The P itself, as a plain reference (no ownership implied), e.g. to hand it on.
    #[inline(always)]
    pub(crate) fn p(self) -> &'static P {
        self.p
    }

    /// The owner's side of this P's run queue.
    #[inline(always)]
    pub(crate) fn runq(self) -> Local<'a, G> {
        // SAFETY: the token proves this thread's M holds the P (and so owns its queue's
        // producer side) for 'a, and the handle cannot leave the thread.
        unsafe { self.p.runq.local() }
    }

    /// The next goroutine id.
    pub(crate) fn next_goid(self) -> u64 {
        let p = self.p;
        if p.goid_next.get() == p.goid_end.get() {
            let start = crate::sched::SCHED
                .goid_gen
                .fetch_add(GOID_BATCH, Ordering::Relaxed);
            p.goid_next.set(start);
            p.goid_end.set(start + GOID_BATCH);
        }
        let id = p.goid_next.get();
        p.goid_next.set(id + 1);
        id
    }

    /// Consecutive runnext picks.
    #[inline(always)]
    pub(crate) fn runnext_streak(self) -> u32 {
        self.p.runnext_streak.get()
    }

    #[inline(always)]
    pub(crate) fn set_runnext_streak(self, n: u32) {
        self.p.runnext_streak.set(n);
    }

    /// The G picked before the current one.
    #[inline(always)]
    pub(crate) fn prev_g(self) -> *const G {
        self.p.prev_g.get()
    }

    /// Records `g` as the G picked now (the current one becomes the previous one).
    #[inline(always)]
    pub(crate) fn set_picked(self, g: *const G) {
        self.p.prev_g.set(self.p.cur_g.replace(g));
    }

    /// The local free list: pops the most recently freed G.
    #[inline]
    pub(crate) fn gfree_pop(self) -> Option<&'static G> {
        // SAFETY: the token proves we are the P's owner; the reference ends in this
        // method, which calls nothing that could reach the list again.
        unsafe { &mut *self.p.gfree.get() }.pop()
    }

    /// Pushes `g` on the local free list; returns its new length.
    #[inline]
    pub(crate) fn gfree_push(self, g: &'static G) -> usize {
        // SAFETY: as in `gfree_pop`.
        let local = unsafe { &mut *self.p.gfree.get() };
        local.push(g);
        local.len()
    }

    #[inline]
    pub(crate) fn gfree_len(self) -> usize {
        // SAFETY: as in `gfree_pop`.
        unsafe { &*self.p.gfree.get() }.len()
    }

    /// Records that a G pushed on the local free list owes a look.
    #[inline]
    pub(crate) fn gfree_mark_unchecked(self) {
        self.p.gfree_unchecked.set(true);
    }

    /// Makes the looks the local free Gs' stacks owe ([`crate::stack::DeepCheck`]); the
    /// Gs stay in the list. One load when no G owed one since the last call (this is on
    /// every idle transition of an M).
    #[inline(always)]
    pub(crate) fn gfree_check_deep(self) {
        if self.p.gfree_unchecked.get() {
            self.gfree_check_deep_slow();
        }
    }

    #[cold]
    #[inline(never)]
    fn gfree_check_deep_slow(self) {
        // SAFETY: the token proves we are the P's owner.
        unsafe { self.p.gfree_check_deep_owned() }
    }

    /// Moves the `n` oldest free Gs (all if `n` is larger) to the global list `into`.
    pub(crate) fn gfree_move_oldest(self, n: usize, into: &mut crate::sched::GFree) {
        // SAFETY: as in `gfree_pop` (`into` is another list: `GFree::put` files the Gs there
        // and reaches no P).
        let local = unsafe { &mut *self.p.gfree.get() };
        let n = n.min(local.len());
        into.put(local.drain(..n));
    }

    /// Owner only: counts a scheduling event (schedtick++).
    #[inline(always)]
    pub(crate) fn bump_schedtick(self) {
        let p = self.p;
        p.schedtick.store(
            p.schedtick.load(Ordering::Relaxed).wrapping_add(1),
            Ordering::Relaxed,
        );
    }

    /// Counts a goroutine started on this P.
    #[inline(always)]
    pub(crate) fn bump_started(self) {
        // Only the owner writes; a plain load+store keeps it a non-contended counter.
        let v = self.p.ngo_started.load(Ordering::Relaxed);
        self.p.ngo_started.store(v + 1, Ordering::Relaxed);
    }

    /// Counts a goroutine finished on this P.
    #[inline(always)]
    pub(crate) fn bump_exited(self) {
        let v = self.p.ngo_exited.load(Ordering::Relaxed);
        self.p.ngo_exited.store(v + 1, Ordering::Relaxed);
    }
}
