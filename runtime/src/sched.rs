//! The global scheduler state (Go's `schedt`): the global run queue, idle P and M lists, the
//! spinning-M count, the global G free list, and `wakep`/`startm`.
//!
//! # Worker thread parking and unparking (after proc.go's essay)
//! We want as many Ms running as there is parallel work, and no more: an M woken for nothing
//! costs a futex wake (tens of microseconds on these VMs) and steals cache. The rule:
//!
//! * Whoever makes a G runnable (`ready`, spawn) calls [`wakep`]. It wakes an M only if there
//!   is an idle P **and** no M is already spinning (looking for work). The spinning M will
//!   find the new G, or whoever spins next will.
//! * An M that was spinning and finds work stops spinning; if it was the last spinner it calls
//!   `wakep` so that more work, if any, gets another M ([`crate::proc`]'s `reset_spinning`).
//! * An M that gives up (spinning or not) first publishes that it is idle (its P in the idle
//!   list, `npidle` up, `nmspinning` down), then re-checks every run queue. A producer
//!   publishes its G (a release store into `runnext` or of the ring's `tail`), then reads
//!   `npidle`/`nmspinning` in [`wakep`]. This is Dekker's pattern: each side stores, then
//!   loads what the other stored, and each needs a StoreLoad barrier between the two or both
//!   can miss (x86 lets a load pass an earlier store still in the store buffer; the producer
//!   would see "an M spins" while the M, giving up, does not see the G yet). The G would
//!   then wait for its P's next switch, or for sysmon.
//!
//!   So [`wakep`] begins with a `SeqCst` fence (the producer's side), and the M giving up
//!   fences after publishing that it is idle (its side, in `proc::find_runnable`). Go pays the
//!   same on the producer's side (`runqput`'s `StoreRel` is an `XCHG` on amd64, `runnext` a
//!   CAS). The asymmetric alternative, only a compiler fence here and `membarrier(2)` where
//!   an M gives up (as the retake handshake does, [`crate::membarrier`]), measured worse: an
//!   M gives up its P at every idle transition, thousands of times a second in a ping-pong,
//!   and each expedited membarrier interrupts the other cores. On an AMD EPYC (Zen 3, 2
//!   vCPUs), 12 alternating rounds of W2-W13, median ratios to the code without either:
//!   fence 0.87-1.08 (within noise everywhere), membarrier up to 1.10 (W12) and 1.32 (W13).
//!
//! Locks: `idle` (idle Ps and Ms, the timer sleeper), `runq` (the global run queue) and
//! `gfree` are independent and never held together, except `idle` then `runq` in no place.

use crate::g::G;
use crate::m::{self, M};
use crate::p::{GFREE_LOCAL_MAX, P, P_DEAD, P_IDLE, P_RUNNING, POwner};
use crate::stack::StackPool;
use std::collections::VecDeque;
use std::ptr;
use std::sync::atomic::{
    AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering, fence,
};
use std::sync::{Mutex, MutexGuard, Once};

/// The most Ps `gomaxprocs` accepts.
pub const MAX_PROCS: usize = 256;

/// Dead Gs kept with resident stack tops in the global free list; beyond this idle Ms
/// release their stacks entirely (picked: 1024 x 32 KiB worst case = 32 MiB pinned).
const GFREE_WARM_MAX: usize = 1024;

pub(crate) struct Idle {
    pub(crate) pidle: Vec<&'static P>,
    pub(crate) midle: Vec<&'static M>,
    /// The idle M sleeping until the earliest timer, if any.
    pub(crate) timer_sleeper: Option<&'static M>,
}

/// One cache line (pair: [`crate::kit`]) to itself: the scheduler's shared words are read on every ready and
/// spawn (`npidle`, `nmspinning`) or written by unrelated paths (the global queue's lock, the
/// free list, the goid generator). Packed together, a write to one makes every read of another
/// a cache miss, and which words share a line would depend on where the linker puts `SCHED`
/// (measured: `wakep`'s `npidle` load was 54% of `unpark` in W7 after a field was added).
pub(crate) type Line<T> = crate::kit::CachePadded<T>;

pub(crate) struct Sched {
    pub(crate) idle: Line<Mutex<Idle>>,
    pub(crate) npidle: Line<AtomicU32>,
    pub(crate) nmspinning: Line<AtomicU32>,
    pub(crate) gomaxprocs: AtomicU32,
    allp: [AtomicPtr<P>; MAX_PROCS],
    pub(crate) nallp: AtomicUsize,
    /// The global run queue: plain pointers, so taking a batch touches no G record
    /// under the lock (the records' cache lines move to the taker later, unlocked).
    runq: Line<Mutex<VecDeque<&'static G>>>,
    pub(crate) runqsize: Line<AtomicUsize>,
    gfree: Line<Mutex<GFree>>,
    ngfree: Line<AtomicUsize>,
    pub(crate) goid_gen: Line<AtomicU64>,
    /// Goroutines started from threads outside the runtime (no P to count them).
    pub(crate) ngo_outside: AtomicU64,
    /// Goroutines that finished on an M without a P (sysmon had taken it).
    pub(crate) ngo_exited_outside: AtomicU64,
    /// When the timer sleeper will wake (`u64::MAX`: no M sleeps on a timer).
    pub(crate) sleep_until: Line<AtomicU64>,
    pub(crate) stacks: StackPool,
    pub(crate) mcount: Line<AtomicU32>,
    init: Once,
}

#[allow(clippy::declare_interior_mutable_const)]
const NO_P: AtomicPtr<P> = AtomicPtr::new(ptr::null_mut());

pub(crate) static SCHED: Sched = Sched {
    idle: Line::new(Mutex::new(Idle {
        pidle: Vec::new(),
        midle: Vec::new(),
        timer_sleeper: None,
    })),
    npidle: Line::new(AtomicU32::new(0)),
    nmspinning: Line::new(AtomicU32::new(0)),
    gomaxprocs: AtomicU32::new(0),
    allp: [NO_P; MAX_PROCS],
    nallp: AtomicUsize::new(0),
    runq: Line::new(Mutex::new(VecDeque::new())),
    runqsize: Line::new(AtomicUsize::new(0)),
    gfree: Line::new(Mutex::new(GFree {
        warm: Vec::new(),
        unchecked: Vec::new(),
        cold: Vec::new(),
    })),
    ngfree: Line::new(AtomicUsize::new(0)),
    goid_gen: Line::new(AtomicU64::new(1)),
    ngo_outside: AtomicU64::new(0),
    ngo_exited_outside: AtomicU64::new(0),
    sleep_until: Line::new(AtomicU64::new(u64::MAX)),
    stacks: StackPool::new(),
    mcount: Line::new(AtomicU32::new(0)),
    init: Once::new(),
};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub(crate) fn lock_idle() -> MutexGuard<'static, Idle> {
    lock(&SCHED.idle)
}

/// Starts the runtime on first use: creates the Ps from the configuration (see
/// [`crate::Builder`]) and installs the stack-overflow reporter. Ms start on demand.
pub(crate) fn ensure_init() {
    SCHED.init.call_once(|| {
        let cfg = crate::config::take();
        crate::membarrier::init();
        SCHED.stacks.set_size(cfg.stack_size);
        crate::signal::install();
        let n = cfg.procs.clamp(1, MAX_PROCS);
        let mut idle = lock_idle();
        for id in 0..n {
            let p = get_or_create_p(id);
            pidleput(&mut idle, p);
        }
        SCHED.gomaxprocs.store(n as u32, Ordering::SeqCst);
        drop(idle);
        // Make the first G now: it maps the first stack arena (so guard_mode() is known from
        // the start, and a failure to map or guard stacks shows up here) and warms the
        // free list for the first spawn.
        let g = crate::spawn::malg();
        lock(&SCHED.gfree).put([g]);
        crate::debug::on_init();
        crate::sysmon::start();
    });
}

pub(crate) fn gomaxprocs_now() -> usize {
    SCHED.gomaxprocs.load(Ordering::Relaxed) as usize
}

fn get_or_create_p(id: usize) -> &'static P {
    let cur = SCHED.allp[id].load(Ordering::Acquire);
    if !cur.is_null() {
        // SAFETY: Ps are leaked and never freed.
        return unsafe { &*cur };
    }
    let p: &'static P = Box::leak(Box::new(P::new(id)));
    SCHED.allp[id].store(p as *const P as *mut P, Ordering::Release);
    SCHED.nallp.fetch_max(id + 1, Ordering::AcqRel);
    p
}

/// P number `i` if it was ever created.
pub(crate) fn p_at(i: usize) -> Option<&'static P> {
    let p = SCHED.allp[i].load(Ordering::Acquire);
    // SAFETY: Ps are leaked and never freed.
    (!p.is_null()).then(|| unsafe { &*p })
}

/// Calls `f` on every P ever created (including retired ones).
pub(crate) fn for_each_p(mut f: impl FnMut(&'static P)) {
    for i in 0..SCHED.nallp.load(Ordering::Acquire) {
        if let Some(p) = p_at(i) {
            f(p);
        }
    }
}

/// The timer heap a new timer should go to: the current P's, else P0's.
pub(crate) fn timer_heap_here() -> &'static crate::timer::TimerHeap {
    match m::current_p() {
        Some(p) => &p.timers,
        None => &p_at(0).expect("runtime initialised").timers,
    }
}

// ---- idle Ps ---------------------------------------------------------------------------

pub(crate) fn pidleput(idle: &mut Idle, p: &'static P) {
    debug_assert!(p.runq.is_empty(), "pidleput: P has runnable Gs");
    p.m.store(ptr::null_mut(), Ordering::Relaxed);
    p.status.store(P_IDLE, Ordering::Relaxed);
    idle.pidle.push(p);
    SCHED.npidle.fetch_add(1, Ordering::SeqCst);
}

pub(crate) fn pidleget(idle: &mut Idle) -> Option<&'static P> {
    let p = idle.pidle.pop()?;
    SCHED.npidle.fetch_sub(1, Ordering::SeqCst);
    crate::sysmon::on_p_taken();
    p.status.store(P_RUNNING, Ordering::Relaxed);
    Some(p)
}

// ---- the global run queue ---------------------------------------------------------------

pub(crate) fn globrunqput(g: &'static G) {
    let mut q = lock(&SCHED.runq);
    q.push_back(g);
    SCHED.runqsize.store(q.len(), Ordering::Relaxed);
}

pub(crate) fn globrunqputbatch(batch: &[*mut G]) {
    let mut q = lock(&SCHED.runq);
    // SAFETY: run queues hold pointers to 'static G records.
    q.extend(batch.iter().map(|&g| unsafe { &*g }));
    SCHED.runqsize.store(q.len(), Ordering::Relaxed);
}

/// Takes a batch from the global queue into `p`'s local queue and returns one G to run.
/// `max` bounds the batch (0: no bound beyond Go's `min(len/gomaxprocs + 1, RUNQ_SIZE/2)`).
pub(crate) fn globrunqget(p: POwner<'_>, max: usize) -> Option<&'static G> {
    if SCHED.runqsize.load(Ordering::Relaxed) == 0 {
        return None;
    }
    let mut q = lock(&SCHED.runq);
    let len = q.len();
    if len == 0 {
        return None;
    }
    let mut n = (len / gomaxprocs_now().max(1) + 1).min(len);
    if max > 0 {
        n = n.min(max);
    }
    n = n.min(crate::runq::RUNQ_SIZE / 2);
    let mut batch = [std::ptr::null_mut::<G>(); crate::runq::RUNQ_SIZE / 2];
    for b in batch.iter_mut().take(n) {
        *b = q.pop_front().expect("globrunqget: queue shorter than len") as *const G as *mut G;
    }
    SCHED.runqsize.store(q.len(), Ordering::Relaxed);
    drop(q);
    for &g in &batch[1..n] {
        // SAFETY: run queues hold pointers to 'static Gs. (The batch fits in half the ring.)
        runqput(p, unsafe { &*g }, false);
    }
    // SAFETY: run queues hold pointers to 'static Gs, and batch[0] was filled from one.
    Some(unsafe { &*batch[0] })
}

/// Pushes `g` on `p`'s local queue, spilling to the global queue when full.
pub(crate) fn runqput(p: POwner<'_>, g: &'static G, next: bool) {
    p.runq().put(g as *const G as *mut G, next, |batch| {
        globrunqputbatch(batch)
    });
}

// ---- free Gs -------------------------------------------------------------------------
//
// Dead Gs keep their stacks. The global list has three parts: `warm` (a LIFO, so the most
// recently used, still-resident stacks are reused first), `unchecked` (dead Gs whose stacks
// may hold deep pages: nobody has looked yet, see `stack::DeepCheck`) and `cold` (stacks
// already returned to the OS). Nothing on the spawn/exit path makes a syscall or takes a
// fault for an old G: when an M runs out of work it looks at its P's unchecked Gs and
// scavenges (as sysmon does), checking unchecked Gs while the warm part has room, and
// moving warm or unchecked Gs beyond GFREE_WARM_MAX that have been free for SCAVENGE_AGE to
// `cold`, releasing their stacks. (Go frees idle stacks in the background too, at GC.) The
// age matters: releasing stacks in the middle of a spawn burst only to fault them in again a
// moment later costs page clears and TLB-shootdown IPIs on every core.

/// How long a free G must have been unused before its stack is released. Measured: at
/// 200 ms, criterion's back-to-back spawn batches kept releasing stacks the next batch
/// needed again (page faults, and TLB-shootdown IPIs hitting the other core's goroutines:
/// spawn 310 ns -> 1.2 us per goroutine, gosched 41 -> 110 ns). One second of disuse is a
/// burst that is over.
const SCAVENGE_AGE_NS: u64 = 1_000_000_000;

/// Stacks released per scavenge pass: an eighth of the surplus, at least this many, so a
/// burst of a million decays in a few seconds without a storm of IPIs in one pass.
const SCAVENGE_MIN_BATCH: usize = 256;

/// Unchecked Gs looked at per pass (each look may be a read fault, ~2 us under KVM): a pass
/// holds nobody up for long.
const CHECK_PER_PASS: usize = 256;

/// Unchecked Gs taken off the global list at once for a look: while they are out of it a
/// spawn cannot reuse them (it would make a brand-new G instead), so a few at a time.
const CHECK_BATCH: usize = 32;

/// Coarse time of the last scavenge pass.
static LAST_SCAVENGE: AtomicU64 = AtomicU64::new(0);

/// Whether a look pass has work: unchecked Gs and room for them in the warm part. Readable
/// without the lock (written under it), so sysmon's frequent scavenge calls take the lock
/// only then.
static CHECKABLE: AtomicBool = AtomicBool::new(false);

pub(crate) struct GFree {
    /// Most recently freed last.
    warm: Vec<&'static G>,
    /// Most recently freed last; every one's `deep` owes a look.
    unchecked: Vec<&'static G>,
    cold: Vec<&'static G>,
}

impl GFree {
    /// Adds dead Gs (oldest first), each to the part its stack's state says.
    pub(crate) fn put(&mut self, gs: impl IntoIterator<Item = &'static G>) {
        for g in gs {
            if g.deep.is_unchecked() {
                self.unchecked.push(g);
            } else {
                self.warm.push(g);
            }
        }
        self.counted();
    }

    fn pop(&mut self) -> Option<&'static G> {
        self.warm
            .pop()
            .or_else(|| self.unchecked.pop())
            .or_else(|| self.cold.pop())
    }

    /// Publishes the lengths (after every change, under the lock).
    fn counted(&self) {
        SCHED.ngfree.store(
            self.warm.len() + self.unchecked.len() + self.cold.len(),
            Ordering::Relaxed,
        );
        CHECKABLE.store(
            !self.unchecked.is_empty() && self.warm.len() < GFREE_WARM_MAX,
            Ordering::Relaxed,
        );
    }
}

/// A dead G for reuse, from `p`'s free list or the global one; `None` if both are empty.
pub(crate) fn gfget(p: POwner<'_>) -> Option<&'static G> {
    if let Some(g) = p.gfree_pop() {
        return Some(g);
    }
    if SCHED.ngfree.load(Ordering::Relaxed) > 0 {
        let mut global = lock(&SCHED.gfree);
        while p.gfree_len() < GFREE_LOCAL_MAX / 2 {
            match global.pop() {
                Some(g) => {
                    if g.deep.is_unchecked() {
                        p.gfree_mark_unchecked();
                    }
                    p.gfree_push(g);
                }
                None => break,
            }
        }
        global.counted();
    }
    p.gfree_pop()
}

/// A dead G for a spawn from outside the runtime.
pub(crate) fn gfget_global() -> Option<&'static G> {
    if SCHED.ngfree.load(Ordering::Relaxed) == 0 {
        return None;
    }
    let mut global = lock(&SCHED.gfree);
    let g = global.pop();
    global.counted();
    g
}

/// Returns a dead G to `p`'s free list (LIFO), spilling the older half to the global list
/// when full. `g` is dead and owned by the caller.
pub(crate) fn gfput(p: POwner<'_>, g: &'static G) {
    if g.deep.exited(&g.stack) {
        p.gfree_mark_unchecked();
    }
    g.freed_at
        .store(crate::clock::coarse_nanos(), Ordering::Relaxed);
    if p.gfree_push(g) < GFREE_LOCAL_MAX {
        return;
    }
    // Keep the hottest half (the end) locally, hand the older half over.
    p.gfree_move_oldest(GFREE_LOCAL_MAX / 2, &mut lock(&SCHED.gfree));
}

/// Returns a dead G to the global free list (an M that lost its P to sysmon).
pub(crate) fn gfput_global(g: &'static G) {
    g.deep.exited(&g.stack);
    g.freed_at
        .store(crate::clock::coarse_nanos(), Ordering::Relaxed);
    lock(&SCHED.gfree).put([g]);
}

/// Moves `p`'s free Gs to the global list (a retiring P).
pub(crate) fn gfpurge(p: POwner<'_>) {
    p.gfree_move_oldest(usize::MAX, &mut lock(&SCHED.gfree));
}

/// Makes the looks `p`'s unchecked free Gs owe (its M is about to give the P up: no
/// goroutine is waiting for it). Each may be a read fault; at most GFREE_LOCAL_MAX of them.
#[inline(always)]
pub(crate) fn check_local_free(p: POwner<'_>) {
    p.gfree_check_deep();
}

/// Releases the stacks of warm free Gs beyond the cap that have been unused for
/// SCAVENGE_AGE_NS, a paced batch per pass, and looks at unchecked ones while the warm part
/// has room for them (called by Ms about to sleep and by sysmon; at most one release pass
/// every SCAVENGE_AGE_NS / 20).
pub(crate) fn scavenge_stacks() {
    check_global_free();
    if SCHED.ngfree.load(Ordering::Relaxed) <= GFREE_WARM_MAX {
        return;
    }
    let now = crate::clock::coarse_nanos();
    let last = LAST_SCAVENGE.load(Ordering::Relaxed);
    if now.saturating_sub(last) < SCAVENGE_AGE_NS / 20
        || LAST_SCAVENGE
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
    {
        return;
    }
    // The oldest are at the front of each part; unchecked Gs go first (they may pin deep
    // pages), then warm ones.
    let surplus: Vec<&'static G> = {
        let mut global = lock(&SCHED.gfree);
        let surplus = (global.warm.len() + global.unchecked.len()).saturating_sub(GFREE_WARM_MAX);
        let n = surplus.min((surplus / 8).max(SCAVENGE_MIN_BATCH));
        let from_unchecked = n.min(global.unchecked.len());
        let mut taken: Vec<_> = global.unchecked.drain(..from_unchecked).collect();
        taken.extend(global.warm.drain(..n - from_unchecked));
        global.counted();
        taken
    };
    let (mut keep, mut released) = (Vec::new(), Vec::new());
    for g in surplus {
        if now.saturating_sub(g.freed_at.load(Ordering::Relaxed)) >= SCAVENGE_AGE_NS {
            g.stack.release_all();
            g.deep.released_all();
            released.push(g);
        } else {
            keep.push(g);
        }
    }
    let mut global = lock(&SCHED.gfree);
    // Still-young ones go back to the cold ends of their parts.
    let (mut young_unchecked, mut young_warm): (Vec<_>, Vec<_>) =
        keep.into_iter().partition(|g| g.deep.is_unchecked());
    young_unchecked.append(&mut global.unchecked);
    global.unchecked = young_unchecked;
    young_warm.append(&mut global.warm);
    global.warm = young_warm;
    global.cold.append(&mut released);
    global.counted();
}

/// Looks at up to CHECK_PER_PASS of the newest unchecked free Gs in the global list, a
/// CHECK_BATCH at a time, while the warm part has room for them (beyond it they are surplus,
/// released whole when old).
fn check_global_free() {
    let mut looked = 0;
    while looked < CHECK_PER_PASS && CHECKABLE.load(Ordering::Relaxed) {
        let batch: Vec<&'static G> = {
            let mut global = lock(&SCHED.gfree);
            let room = GFREE_WARM_MAX.saturating_sub(global.warm.len());
            let n = room.min(CHECK_BATCH).min(global.unchecked.len());
            let from = global.unchecked.len() - n;
            let batch = global.unchecked.split_off(from);
            global.counted();
            batch
        };
        if batch.is_empty() {
            return;
        }
        looked += batch.len();
        // Owned now (out of every list): nothing runs on these stacks.
        crate::stack::DeepCheck::check_many(batch.iter().map(|g| (&g.deep, &g.stack)));
        lock(&SCHED.gfree).put(batch);
    }
}

// ---- waking Ms ---------------------------------------------------------------------------

/// Tries to add one more M to run Gs, if there is an idle P and nobody spins (Go's wakep).
/// Called after publishing a G: the fence is the producer's side of the StoreLoad barrier in
/// the module docs.
pub(crate) fn wakep() {
    fence(Ordering::SeqCst);
    if SCHED.npidle.load(Ordering::SeqCst) == 0 {
        return;
    }
    if SCHED.nmspinning.load(Ordering::SeqCst) != 0
        || SCHED
            .nmspinning
            .compare_exchange(0, 1, Ordering::SeqCst, Ordering::Relaxed)
            .is_err()
    {
        return;
    }
    startm(None, true);
}

/// Gives `p` (or an idle P) to an idle M, or to a new one (Go's startm). With `spinning`,
/// the caller has already counted the M in `nmspinning`.
pub(crate) fn startm(p: Option<&'static P>, spinning: bool) {
    let mut idle = lock_idle();
    let p = match p.or_else(|| pidleget(&mut idle)) {
        Some(p) => p,
        None => {
            drop(idle);
            if spinning {
                SCHED.nmspinning.fetch_sub(1, Ordering::SeqCst);
            }
            return;
        }
    };
    // Not the M blocked in epoll_wait if another will do: it would have to be broken out of
    // its poll, and another M take its place there.
    let m = match idle
        .midle
        .iter()
        .rposition(|m| !m.polling.load(Ordering::Relaxed))
    {
        Some(i) => Some(idle.midle.remove(i)),
        None => idle.midle.pop(),
    };
    if let Some(m) = m {
        m.idle.store(false, Ordering::Relaxed);
    }
    drop(idle);
    match m {
        Some(m) => m.handoff(p, spinning),
        None => m::newm(p, spinning),
    }
}

/// Passes on a P that no M holds any more (taken from a syscall or a hog by sysmon, or given
/// up by a locked M): to an M if there is work for it, else to the idle list (Go's handoffp).
/// The caller owns `p`.
pub(crate) fn handoffp(p: &'static P) {
    // Local or global work, or a surplus P to retire: an M must run it.
    if !p.runq.is_empty() || SCHED.runqsize.load(Ordering::SeqCst) > 0 || p.id >= gomaxprocs_now() {
        startm(Some(p), false);
        return;
    }
    // Nobody spinning and no idle P: someone must look for work (steal from the others).
    if SCHED.nmspinning.load(Ordering::SeqCst) + SCHED.npidle.load(Ordering::SeqCst) == 0
        && SCHED
            .nmspinning
            .compare_exchange(0, 1, Ordering::SeqCst, Ordering::Relaxed)
            .is_ok()
    {
        startm(Some(p), true);
        return;
    }
    // Going idle, perhaps for good: make the looks its dead Gs owe now (no M will make them
    // on running out of work), outside the idle lock.
    // SAFETY: our caller holds `p` in transit to here (handoffp's contract: taken with an
    // acquiring CAS from P_SYSCALL, retaken, or released by its M), and nobody else reaches
    // it until `startm` or `pidleput` below.
    unsafe { p.gfree_check_deep_in_transit() };
    let mut idle = lock_idle();
    if SCHED.runqsize.load(Ordering::SeqCst) > 0 {
        drop(idle);
        startm(Some(p), false);
        return;
    }
    pidleput(&mut idle, p);
    drop(idle);
    // Its timers still need an M awake for them.
    let when = p.timers.next_when.load(Ordering::SeqCst);
    if when != u64::MAX {
        timer_added(when);
    }
}

/// A timer at `when` was just added to some heap: make sure an M will be awake for it.
pub(crate) fn timer_added(when: u64) {
    let until = SCHED.sleep_until.load(Ordering::SeqCst);
    if when >= until {
        return; // The timer sleeper wakes in time.
    }
    if until == u64::MAX {
        // Nobody sleeps on timers: running Ms check them at every scheduling point, and
        // if a P is idle, a spinning M will pick the timer up (and become the sleeper).
        wakep();
        return;
    }
    let sleeper = lock_idle().timer_sleeper;
    if let Some(m) = sleeper {
        m.wake();
    } else {
        wakep();
    }
}

// ---- gomaxprocs ----------------------------------------------------------------------------

/// Sets the number of Ps and returns the previous value; `n == 0` only queries
/// (Go's `runtime.GOMAXPROCS`). Values above [`MAX_PROCS`] are clamped.
///
/// A decrease takes effect at each surplus P's next scheduling point: its M moves the P's
/// queued goroutines and timers to the others and retires it. (Go stops the world instead;
/// goro cannot interrupt a running goroutine.)
///
/// ```
/// let old = runtime::gomaxprocs(0);
/// assert!(old >= 1);
/// assert_eq!(runtime::gomaxprocs(old), old);
/// ```
pub fn gomaxprocs(n: usize) -> usize {
    ensure_init();
    if n == 0 {
        return gomaxprocs_now();
    }
    let n = n.min(MAX_PROCS);
    let mut idle = lock_idle();
    let old = SCHED.gomaxprocs.swap(n as u32, Ordering::SeqCst) as usize;
    if n > old {
        for id in old..n {
            let p = get_or_create_p(id);
            // A surplus P not yet retired is still running: leave it, it stays.
            if p.status.load(Ordering::Relaxed) == P_DEAD
                || p.status.load(Ordering::Relaxed) == P_IDLE
                    && !idle.pidle.iter().any(|q| q.id == id)
            {
                pidleput(&mut idle, p);
            }
        }
    } else {
        let before = idle.pidle.len();
        idle.pidle.retain(|p| {
            if p.id >= n {
                p.status.store(P_DEAD, Ordering::Relaxed);
                false
            } else {
                true
            }
        });
        let removed = before - idle.pidle.len();
        SCHED.npidle.fetch_sub(removed as u32, Ordering::SeqCst);
    }
    drop(idle);
    if n > old {
        fence(Ordering::SeqCst);
        for _ in old..n {
            wakep();
        }
    }
    old
}
