//! M: an OS thread that runs Gs while holding a P (Go's `m`).
//!
//! This file holds the M record and its life: thread start and exit, the thread-local
//! accessors, the M's side of sysmon's retake handshake, `with_p`, `acquirep`/`releasep`
//! and `stopm`. The M's native stack plays g0, whose scheduler loop is [`crate::g0`]; a
//! parking goroutine may also switch straight to the next one ([`crate::directpark`]).
//!
//! # Thread-locals and migration
//! A goroutine may resume on another M after any switch. The runtime's own thread-locals are
//! therefore read only through the `#[inline(never)]` accessors below, never cached across a
//! switch: LLVM may keep a TLS address in a register across a call it believes stays on one
//! thread (llvm-project#98479).

use crate::g::{G, Status};
use crate::membarrier;
use crate::note::Note;
use crate::p::{P, POwner};
use crate::sched::{self, SCHED};
use std::cell::Cell;
use std::marker::PhantomData;
use std::ptr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicPtr, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// At most this many Ms (OS threads) exist, as in Go (`debug.SetMaxThreads` default).
pub const MAX_MS: u32 = 10_000;

/// The g0 stack of an M: scheduler code and timer callbacks only.
const G0_STACK: usize = 256 * 1024;

/// An idle M beyond [`keep_idle_ms`] that has had nothing to do for this long exits, so the
/// threads a burst of blocking calls created go away again. (Go keeps its Ms forever; a
/// thread costs ~30 us to create, so retiring one a second is cheap either way.)
const IDLE_M_EXIT: Duration = Duration::from_secs(1);

/// sysmon's retake handshake states (`M::retake`).
pub(crate) const RETAKE_IDLE: u32 = 0;
/// sysmon wants this M's P and is deciding (see [`crate::sysmon`]).
pub(crate) const RETAKE_REQ: u32 = 1;
/// sysmon took the P while the M ran user code; the M must drop it.
pub(crate) const RETAKE_TAKEN: u32 = 2;
/// sysmon found the M inside runtime code (a goroutine that spawns or readies in a tight
/// loop is there most of the time): the M hands the P on itself when it leaves the section,
/// if it still holds the P sysmon saw (`ask_p`) with the same `schedtick` (`ask_tick`).
pub(crate) const RETAKE_ASK: u32 = 3;

pub(crate) struct M {
    /// Changes when an exited M's record is reused.
    pub(crate) id: AtomicU64,
    /// The kernel's id of this M's thread (0 until it starts and after it exits), for
    /// sysmon's look at its state ([`crate::threadstate`]).
    pub(crate) tid: AtomicI32,
    /// Idle parking.
    pub(crate) note: Note,
    /// A P handed over by `startm`, picked up when the M wakes.
    nextp: AtomicPtr<P>,
    nextspin: AtomicBool,
    /// Blocked in `epoll_wait` instead of on `note` (the netpoller's sleeper, see `stopm`):
    /// waking it takes an eventfd write as well.
    pub(crate) polling: AtomicBool,
    /// In the idle M list (changed under the idle lock).
    pub(crate) idle: AtomicBool,
    /// The P this M holds. Written only by this M (and read by sysmon, which may take the P
    /// through the retake handshake, after which this M clears it itself).
    p: AtomicPtr<P>,
    /// The goroutine running on this M, null on g0 between goroutines. Written only by this
    /// M; read by dumps and the deadlock check.
    curg: AtomicPtr<G>,
    /// This M is not running user code: it is on g0, or inside a P section of a goroutine
    /// ([`with_p`]). Written only by this M; sysmon takes a P only while it is false.
    in_rt: AtomicBool,
    /// sysmon's retake handshake (`RETAKE_*`).
    pub(crate) retake: AtomicU32,
    /// With `RETAKE_ASK`: the P and schedtick sysmon saw (written before the ASK, release).
    pub(crate) ask_p: AtomicPtr<P>,
    pub(crate) ask_tick: AtomicU32,
    /// The goroutine wired to this M by `lock_os_thread`, null if none.
    pub(crate) lockedg: AtomicPtr<G>,
    /// Nesting depth of `lock_os_thread` for `lockedg` (this M's thread only).
    pub(crate) locked_count: Cell<u32>,
    /// The P left in `P_SYSCALL` by the goroutine's `runtime::syscall` (this M's thread only).
    pub(crate) oldp: Cell<Option<&'static P>>,
    // ---- touched only by this M's own thread ----
    pub(crate) spinning: Cell<bool>,
    /// How long this M spins for work before it sleeps, in ns (adapted in `proc`).
    pub(crate) spin_ns: Cell<u64>,
    /// Set by `stopm` when the M was handed a P to spin with (a `wakep`): how long it slept.
    /// Wakes for timers or to run a locked G leave it `None` (they say nothing about spinning).
    pub(crate) woken_to_spin: Cell<Option<u64>>,
    /// Random numbers for steal order (seeded from the M id in `reset`).
    pub(crate) rng: crate::kit::FastRand,
}

// SAFETY: the Cell fields are only used by the M's own thread (they are reached through the
// CURRENT_M thread-local, or by code running on this M); the shared fields are atomics.
unsafe impl Sync for M {}

static MNEXT: AtomicU64 = AtomicU64::new(1);

/// Every M ever made (Go's `allm`), for sysmon, dumps and the deadlock check. Ms are never
/// freed: an exited M's record waits in `MFREE` for the next `newm`.
static ALLM: Mutex<Vec<&'static M>> = Mutex::new(Vec::new());
static MFREE: Mutex<Vec<&'static M>> = Mutex::new(Vec::new());

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Calls `f` on every M record (live, idle or exited).
pub(crate) fn for_each_m(mut f: impl FnMut(&'static M)) {
    let all = lock(&ALLM).clone();
    for m in all {
        f(m);
    }
}

impl M {
    /// Hands `p` to this idle M and wakes it.
    pub(crate) fn handoff(&self, p: &'static P, spinning: bool) {
        self.nextspin.store(spinning, Ordering::Relaxed);
        // Release: the P's owner-only state is published to the new owner.
        self.nextp.store(p as *const P as *mut P, Ordering::Release);
        self.wake();
    }

    /// Wakes this idle M: its futex, or, if it is the M blocked in `epoll_wait`, the poller.
    pub(crate) fn wake(&self) {
        self.note.unpark();
        // StoreLoad with `stopm`, which sets `polling` and then looks for the token.
        std::sync::atomic::fence(Ordering::SeqCst);
        if self.polling.load(Ordering::SeqCst) {
            crate::netpoll::brk();
        }
    }

    /// The P this M holds.
    #[inline]
    pub(crate) fn p(&self) -> Option<&'static P> {
        let p = self.p.load(Ordering::Relaxed);
        // SAFETY: Ps are leaked and never freed.
        (!p.is_null()).then(|| unsafe { &*p })
    }

    /// Raw pointer to the held P, for sysmon's ownership check.
    pub(crate) fn p_ptr(&self) -> *const P {
        self.p.load(Ordering::Relaxed)
    }

    /// Called on this M's own thread only (its P changes hands only there: acquirep,
    /// releasep, and noticing that sysmon took it), which also keeps [`CURRENT_P_ID`] current.
    fn set_p(&self, p: Option<&'static P>) {
        debug_assert!(
            CURRENT_M
                .with(|c| c.get())
                .is_some_and(|m| ptr::eq(m, self)),
            "M::set_p off the M's own thread"
        );
        self.p.store(
            p.map_or(ptr::null_mut(), |p| p as *const P as *mut P),
            Ordering::Relaxed,
        );
        CURRENT_P_ID.with(|c| c.set(p.map_or(NO_P, |p| p.id)));
    }

    /// The running goroutine, if any.
    #[inline]
    pub(crate) fn curg(&self) -> Option<&'static G> {
        // Acquire (free on x86): pairs with the release in `set_curg` (deadlock check).
        let g = self.curg.load(Ordering::Acquire);
        // SAFETY: G records are leaked and never freed.
        (!g.is_null()).then(|| unsafe { &*g })
    }

    pub(crate) fn set_curg(&self, g: Option<&'static G>) {
        // Release: what the M did for the G it leaves (queueing it, readying others) is
        // visible to whoever sees the M idle (the deadlock check).
        self.curg.store(
            g.map_or(ptr::null_mut(), |g| g as *const G as *mut G),
            Ordering::Release,
        );
    }

    /// The goroutine locked to this M, if any.
    pub(crate) fn lockedg(&self) -> Option<&'static G> {
        let g = self.lockedg.load(Ordering::Relaxed);
        // SAFETY: G records are leaked and never freed.
        (!g.is_null()).then(|| unsafe { &*g })
    }

    /// Whether this M runs user code now (sysmon's view; see [`crate::sysmon`]).
    pub(crate) fn in_user_code(&self) -> bool {
        !self.in_rt.load(Ordering::Acquire)
    }

    /// Enters runtime code that may use this M's P. Returns whether the M was inside already
    /// (on g0, or a nested section), to be passed to [`M::exit_rt`].
    ///
    /// The retake handshake, M side: publish "in runtime", then look for a pending request.
    /// With sysmon's side (store request, heavy barrier, load our flag) one of the two sees
    /// the other. On a request, wait for sysmon's decision; if it took the P, drop it.
    #[inline]
    pub(crate) fn enter_rt(&self) -> bool {
        if self.in_rt.load(Ordering::Relaxed) {
            return true;
        }
        self.in_rt.store(true, Ordering::Relaxed);
        membarrier::light_barrier();
        if self.retake.load(Ordering::Relaxed) != RETAKE_IDLE {
            self.retake_slow();
        }
        false
    }

    /// Leaves a section entered with [`M::enter_rt`]. If sysmon asked for the P meanwhile
    /// (`RETAKE_ASK`), hands it on first: the goroutine then runs on without one.
    #[inline]
    pub(crate) fn exit_rt(&self, was_inside: bool) {
        if !was_inside {
            self.debug_check_in_rt("exit_rt");
            if self.retake.load(Ordering::Relaxed) != RETAKE_IDLE
                && let Some(p) = self.take_ask()
            {
                self.detach(p);
                sched::handoffp(p);
            }
            // Release: our writes to the P's state happen before a retake that sees false.
            self.in_rt.store(false, Ordering::Release);
        }
    }

    /// [`M::exit_rt`] for a section after which the goroutine may yield (`go`/`spawn`):
    /// if sysmon asked for the P, keeps it and returns true, and the caller yields (Go's
    /// preemption at a safe point: no thread handoff).
    #[inline]
    pub(crate) fn exit_rt_preemptible(&self, was_inside: bool) -> bool {
        if was_inside {
            return false;
        }
        self.debug_check_in_rt("exit_rt_preemptible");
        let ask = self.retake.load(Ordering::Relaxed) != RETAKE_IDLE && self.take_ask().is_some();
        self.in_rt.store(false, Ordering::Release);
        ask
    }

    /// Debug builds: a section is left only by the M that is in one. Sections are entered in
    /// one function and sometimes left in another (g0's `execute` leaves the section its
    /// scheduling loop was in; a direct park's target leaves the one the parker entered), so
    /// the pairing cannot be a guard's scope; this checks the half a guard would.
    #[inline]
    fn debug_check_in_rt(&self, what: &str) {
        debug_assert!(
            self.in_rt.load(Ordering::Relaxed),
            "M{}: {what} outside a runtime section",
            self.id.load(Ordering::Relaxed)
        );
    }

    /// Drops this M's hold on `p` (its current P); the caller passes `p` on.
    fn detach(&self, p: &'static P) {
        p.m.store(ptr::null_mut(), Ordering::Relaxed);
        self.set_p(None);
    }

    /// A pending request, cleared. Some(p) if it is an ASK about the run still going on: same
    /// P, no scheduling since. Called inside a section (sysmon cannot take the P meanwhile).
    #[cold]
    #[inline(never)]
    fn take_ask(&self) -> Option<&'static P> {
        self.retake_slow();
        if self.retake.load(Ordering::Acquire) != RETAKE_ASK {
            return None;
        }
        let asked = self.ask_p.load(Ordering::Relaxed);
        let tick = self.ask_tick.load(Ordering::Relaxed);
        self.retake.store(RETAKE_IDLE, Ordering::Relaxed);
        let p = self.p()?;
        (std::ptr::eq(p, asked)
            && p.schedtick.load(Ordering::Relaxed) == tick
            && p.status.load(Ordering::Relaxed) == crate::p::P_RUNNING)
            .then_some(p)
    }

    #[cold]
    #[inline(never)]
    fn retake_slow(&self) {
        loop {
            match self.retake.load(Ordering::Acquire) {
                RETAKE_REQ => std::hint::spin_loop(),
                RETAKE_TAKEN => {
                    // sysmon owns the P now (it saw us in user code) and has handed it on.
                    self.set_p(None);
                    self.retake.store(RETAKE_IDLE, Ordering::Relaxed);
                    return;
                }
                // IDLE, or ASK: handled when the section ends.
                _ => return,
            }
        }
    }

    pub(crate) fn take_nextp(&self) -> Option<&'static P> {
        let p = self.nextp.swap(ptr::null_mut(), Ordering::Acquire);
        // SAFETY: Ps are leaked and never freed.
        (!p.is_null()).then(|| unsafe { &*p })
    }
}

thread_local! {
    static CURRENT_M: Cell<Option<&'static M>> = const { Cell::new(None) };
    /// The index of this thread's M's P ([`NO_P`]: none), kept by [`M::set_p`]: what
    /// [`current_p_id`] reads. A thread-private line, where `m.p` then `p.id` are two loads
    /// from lines other threads write (sysmon's requests beside `m.p`, thieves' run-queue CASes
    /// beside `p.id`): on W13, whose readers ask for their P's row on every read lock, those
    /// two loads missed often enough to take 18% of the run's samples (AMD EPYC Zen 3).
    static CURRENT_P_ID: Cell<usize> = const { Cell::new(NO_P) };
}

/// [`CURRENT_P_ID`]'s "no P".
const NO_P: usize = usize::MAX;

/// The M this thread is, if it is one. Never inlined: see the module docs.
#[inline(never)]
pub(crate) fn current_m() -> Option<&'static M> {
    CURRENT_M.with(|c| c.get())
}

/// The running goroutine, if this thread is an M running one. Never inlined.
#[inline(never)]
pub(crate) fn current_g() -> Option<&'static G> {
    current_m().and_then(|m| m.curg())
}

/// The P of this thread's M, if any, as a hint (the timer heap to use, a pool slot): sysmon
/// may take it at any moment while a goroutine runs. A plain `&P` gives no access to the P's
/// owner-only state: that takes the [`POwner`] that [`with_p`] hands out. Never inlined.
#[inline(never)]
pub(crate) fn current_p() -> Option<&'static P> {
    current_m().and_then(|m| m.p())
}

/// The id of this thread's M's P, if any: `current_p().map(|p| p.id)` in one thread-local
/// access (a hint, as for [`current_p`]). Never inlined.
#[inline(never)]
pub(crate) fn current_p_id() -> Option<usize> {
    let id = CURRENT_P_ID.with(Cell::get);
    (id != NO_P).then_some(id)
}

/// Proof that this thread is the M `m` and is inside a runtime section (`in_rt` set: on g0,
/// or between [`M::enter_rt`] and [`M::exit_rt`]), where sysmon cannot take its P. The P's
/// ownership token ([`POwner`]) is borrowed from it ([`Rt::owner`], [`acquirep`]); whatever
/// may drop the P or leave the section ([`releasep`], [`Rt::outside`]) takes it by `&mut`,
/// which ends every token borrowed before. `!Send`; at run time just the `&M`.
pub(crate) struct Rt {
    m: &'static M,
    _not_send: PhantomData<*const ()>,
}

impl Rt {
    /// # Safety
    /// `m` is this thread's M and stays inside a runtime section, without leaving it other
    /// than through [`Rt::outside`], until the value's last use (and that of every token
    /// borrowed from it). Made by `with_p`, by an M's g0 as its thread
    /// starts, and by the few sections that are entered in one function and left in another
    /// (`runtime::syscall`'s, a direct park's).
    #[inline(always)]
    pub(crate) unsafe fn new(m: &'static M) -> Rt {
        Rt {
            m,
            _not_send: PhantomData,
        }
    }

    /// The M.
    #[inline(always)]
    pub(crate) fn m(&self) -> &'static M {
        self.m
    }

    /// The token for the P this M holds, if it holds one.
    #[inline(always)]
    pub(crate) fn owner(&self) -> Option<POwner<'_>> {
        // SAFETY: we are inside the section (our own proof) with `m.p` held: sysmon cannot
        // take it while the section lasts, and `releasep`/`outside` take `&mut self`, so the
        // token (borrowing `self`) ends before the P can go.
        self.m.p().map(|p| unsafe { POwner::new(p) })
    }

    /// g0 runs a goroutine: leaves the section for `f` (the switch into the goroutine, back
    /// when it switches to g0) and enters it again afterwards. A request from sysmon that
    /// came while g0 scheduled is moot: this is a scheduling point (schedtick moved), so an
    /// ASK is cleared without effect. `&mut self`: no token lives across the goroutine's run,
    /// during which sysmon may take the P.
    #[inline(always)]
    pub(crate) fn outside<R>(&mut self, f: impl FnOnce() -> R) -> R {
        let _ = self.m.exit_rt_preemptible(false);
        let r = f();
        self.m.enter_rt();
        r
    }
}

/// Runs `f` with the P this M holds, such that sysmon cannot take it meanwhile (`None` on a
/// plain thread, in a syscall, or after sysmon took the P from a long-running goroutine).
/// Everything that changes a P's owner-only state from a goroutine (readying a G, spawning)
/// goes through here: the token `f` gets cannot outlive it. Never inlined (thread-locals,
/// see the module docs).
#[inline(never)]
pub(crate) fn with_p<R>(f: impl FnOnce(Option<POwner<'_>>) -> R) -> R {
    match current_m() {
        None => f(None),
        Some(m) => {
            let was = m.enter_rt();
            // SAFETY: inside the section just entered, which ends after `f`; `rt` does not
            // leave this frame.
            let rt = unsafe { Rt::new(m) };
            let r = f(rt.owner());
            m.exit_rt(was);
            r
        }
    }
}

/// A goroutine that sysmon judged a hog yields here, as Go's preempted goroutine does: one
/// whose M lost its P (so that it gets one back instead of running on without), or one that
/// sysmon asked to give way while it spawned in a loop; and a spawner that outran its
/// children (`spawn::newproc_on`). Called only from `go`/`spawn`, where a
/// goroutine may switch without surprising its caller (never inside `ready`, which runs
/// under callers' locks). Not on g0, in a syscall or while unwinding.
pub(crate) fn preempt_point() {
    let Some(m) = current_m() else { return };
    let Some(g) = m.curg() else { return };
    if g.status() == Status::Running && !std::thread::panicking() {
        crate::g0::switch_to_g0(g, crate::g0::SwitchReason::Preempt);
    }
}

/// [`with_p`] for `go`/`spawn`: also returns whether the goroutine should yield now (sysmon
/// asked for this P while it spawned in a loop, see [`M::exit_rt_preemptible`]).
#[inline(never)]
pub(crate) fn with_p_preemptible<R>(f: impl FnOnce(Option<POwner<'_>>) -> R) -> (R, bool) {
    match current_m() {
        None => (f(None), false),
        Some(m) => {
            let was = m.enter_rt();
            // SAFETY: as in `with_p`.
            let rt = unsafe { Rt::new(m) };
            let r = f(rt.owner());
            let y = m.exit_rt_preemptible(was);
            (r, y)
        }
    }
}

/// Starts a new M (OS thread) that will run with `p`.
pub(crate) fn newm(p: &'static P, spinning: bool) {
    let n = SCHED.mcount.fetch_add(1, Ordering::SeqCst) + 1;
    if n > MAX_MS {
        diag!("goro: program exceeds {MAX_MS}-thread limit");
        diag_raw!("{}", crate::dump::stack_dump());
        std::process::abort();
    }
    let id = MNEXT.fetch_add(1, Ordering::Relaxed);
    let reused = lock(&MFREE).pop();
    let m: &'static M = match reused {
        Some(m) => m,
        None => {
            let m: &'static M = Box::leak(Box::new(M {
                id: AtomicU64::new(0),
                tid: AtomicI32::new(0),
                note: Note::new(),
                nextp: AtomicPtr::new(ptr::null_mut()),
                nextspin: AtomicBool::new(false),
                polling: AtomicBool::new(false),
                idle: AtomicBool::new(false),
                p: AtomicPtr::new(ptr::null_mut()),
                curg: AtomicPtr::new(ptr::null_mut()),
                in_rt: AtomicBool::new(true),
                retake: AtomicU32::new(RETAKE_IDLE),
                ask_p: AtomicPtr::new(ptr::null_mut()),
                ask_tick: AtomicU32::new(0),
                lockedg: AtomicPtr::new(ptr::null_mut()),
                locked_count: Cell::new(0),
                oldp: Cell::new(None),
                spinning: Cell::new(false),
                spin_ns: Cell::new(crate::tune::get().idle_spin_min_ns),
                woken_to_spin: Cell::new(None),
                rng: crate::kit::FastRand::new(0),
            }));
            lock(&ALLM).push(m);
            m
        }
    };
    // SAFETY: `m` is fresh or came from MFREE, which only holds Ms whose thread has stopped
    // touching them (see `mexit`); nobody else references it until its thread starts.
    let m = unsafe { reset(m, id) };
    m.handoff(p, spinning);
    let r = std::thread::Builder::new()
        .name(format!("goro-m{id}"))
        .stack_size(G0_STACK)
        .spawn(move || mstart(m));
    if let Err(e) = r {
        diag!("goro: failed to create new OS thread (have {n} Ms): {e}");
        std::process::abort();
    }
}

/// Re-initialises an M record for a new thread.
///
/// # Safety
/// No thread may be using `m` (its Cells are written here).
unsafe fn reset(m: &'static M, id: u64) -> &'static M {
    m.id.store(id, Ordering::Relaxed);
    m.tid.store(0, Ordering::Relaxed);
    m.rng
        .reseed(0x9E37_79B9_7F4A_7C15 ^ id.wrapping_mul(0xBF58_476D_1CE4_E5B9));
    m.p.store(ptr::null_mut(), Ordering::Relaxed);
    m.curg.store(ptr::null_mut(), Ordering::Relaxed);
    m.in_rt.store(true, Ordering::Relaxed);
    m.retake.store(RETAKE_IDLE, Ordering::Relaxed);
    m.ask_p.store(ptr::null_mut(), Ordering::Relaxed);
    m.lockedg.store(ptr::null_mut(), Ordering::Relaxed);
    m.locked_count.set(0);
    m.oldp.set(None);
    m.idle.store(false, Ordering::Relaxed);
    m.spinning.set(false);
    m
}

fn mstart(m: &'static M) {
    m.tid.store(crate::threadstate::gettid(), Ordering::Relaxed);
    CURRENT_M.with(|c| c.set(Some(m)));
    crate::signal::on_new_thread();
    // SAFETY: an M starts on g0, inside its section (`in_rt` starts true, see `reset`), and
    // stays there except while it runs goroutines (`Rt::outside`); `rt` lives on g0's frame.
    let mut rt = unsafe { Rt::new(m) };
    let p = m.take_nextp().expect("mstart: M started without a P");
    acquirep(&rt, p);
    m.spinning.set(m.nextspin.load(Ordering::Relaxed));
    crate::g0::schedule(&mut rt);
    mexit(m);
}

/// The end of an M's thread (an idle surplus M, or one whose locked goroutine exited). It
/// holds no P.
fn mexit(m: &'static M) {
    debug_assert!(m.p().is_none(), "mexit: M still holds a P");
    CURRENT_M.with(|c| c.set(None));
    m.tid.store(0, Ordering::Relaxed);
    SCHED.mcount.fetch_sub(1, Ordering::SeqCst);
    // From here on this thread does not touch `m`: it may be reused at once.
    lock(&MFREE).push(m);
}

/// This M (inside its section, `rt`) takes `p`, and gets its ownership token.
pub(crate) fn acquirep<'s>(rt: &'s Rt, p: &'static P) -> POwner<'s> {
    let m = rt.m;
    p.status.store(crate::p::P_RUNNING, Ordering::Relaxed);
    p.m.store(m as *const M as *mut M, Ordering::Release);
    m.set_p(Some(p));
    // SAFETY: POwner::new needs p held by this M on this thread for the token's life: the
    // stores above made this M p's owner (P_RUNNING, p.m, m.p) inside the runtime section that
    // `rt` proves (no other M acquires a P_RUNNING P), and the token borrows `rt`, which
    // `releasep` takes by `&mut`, so it cannot outlive the ownership.
    unsafe { POwner::new(p) }
}

/// Detaches this M's P (if any) from it and returns it; the caller passes it on. Takes `rt`
/// by `&mut`: no ownership token of the P outlives this.
pub(crate) fn releasep(rt: &mut Rt) -> Option<&'static P> {
    let m = rt.m;
    let p = m.p()?;
    m.detach(p);
    Some(p)
}

/// How many idle Ms stay around for good.
fn keep_idle_ms() -> usize {
    sched::gomaxprocs_now().max(2)
}

/// Parks this M until it is handed a P, or until `next_timer` (if it becomes the timer
/// sleeper) and an idle P is free. Returns true with `m.p` set, or false if this M is surplus
/// and has been idle for [`IDLE_M_EXIT`]: its thread should end.
pub(crate) fn stopm(rt: &Rt, mut next_timer: u64) -> bool {
    let m = rt.m;
    // Nothing to run: a good moment to return surplus free stacks to the OS.
    sched::scavenge_stacks();
    loop {
        let mut idle = sched::lock_idle();
        m.idle.store(true, Ordering::Relaxed);
        idle.midle.push(m);
        let mut deadline = None;
        if next_timer != u64::MAX && idle.timer_sleeper.is_none() {
            idle.timer_sleeper = Some(m);
            SCHED.sleep_until.store(next_timer, Ordering::SeqCst);
            deadline = Some(next_timer);
        }
        let exit_at = (deadline.is_none() && idle.midle.len() > keep_idle_ms())
            .then(|| Instant::now() + IDLE_M_EXIT);
        drop(idle);
        if let Some(d) = deadline {
            // A timer added before we published `sleep_until` did not wake us: look again.
            let now_earliest = crate::timer::earliest();
            if now_earliest < d {
                SCHED.sleep_until.store(now_earliest, Ordering::SeqCst);
                deadline = Some(now_earliest);
            }
        }
        let asleep = crate::clock::nanotime();
        // Not an M on its way out (`exit_at`): the poller must stay until it is woken.
        if exit_at.is_none() && crate::netpoll::try_claim_poller() {
            // Goroutines wait on the network: sleep in epoll_wait instead of the futex, so
            // their readiness wakes us (Go's findRunnable blocking in netpoll). A wake for
            // this M (`M::wake`) breaks the poll.
            m.polling.store(true, Ordering::SeqCst);
            std::sync::atomic::fence(Ordering::SeqCst);
            let mut ready = Vec::new();
            if !m.note.has_token() {
                crate::netpoll::netpoll(Some(deadline.unwrap_or(u64::MAX)), &mut ready);
            }
            m.polling.store(false, Ordering::SeqCst);
            crate::netpoll::release_poller();
            // A wake that came while we polled left a token (and broke the poll): consume
            // it, so the next sleep does not return at once for it. `m.idle` below says
            // whether it was a handoff.
            m.note.park(Some(Instant::now()));
            // Into the global queue; this M takes a P for them below (as after a timer), and
            // wakes others as it finds more work than it can run.
            crate::netpoll::inject(&ready, None);
        } else {
            m.note
                .park(deadline.map(crate::clock::from_nanos).or(exit_at));
        }

        let mut idle = sched::lock_idle();
        if idle.timer_sleeper.is_some_and(|s| ptr::eq(s, m)) {
            idle.timer_sleeper = None;
            SCHED.sleep_until.store(u64::MAX, Ordering::SeqCst);
        }
        if m.idle.load(Ordering::Relaxed) {
            // Not taken by startm: we woke for a timer, to exit, or spuriously.
            idle.midle.retain(|x| !ptr::eq(*x, m));
            m.idle.store(false, Ordering::Relaxed);
            if let Some(at) = exit_at {
                if Instant::now() < at {
                    // Spurious: wait again.
                    drop(idle);
                    continue;
                }
                if idle.midle.len() >= keep_idle_ms() {
                    return false;
                }
                drop(idle);
                continue;
            }
            let p = sched::pidleget(&mut idle);
            drop(idle);
            if let Some(p) = p {
                acquirep(rt, p);
                // Spin, so the steal loop runs the other Ps' timers too.
                m.spinning.set(true);
                SCHED.nmspinning.fetch_add(1, Ordering::SeqCst);
                return true;
            }
            // Every P is busy: their Ms run timers at each scheduling point.
            next_timer = u64::MAX;
            continue;
        }
        drop(idle);
        // Taken by startm: the P arrives through nextp (maybe just after its wake).
        loop {
            if let Some(p) = m.take_nextp() {
                acquirep(rt, p);
                let spin = m.nextspin.load(Ordering::Relaxed);
                m.spinning.set(spin);
                m.woken_to_spin
                    .set(spin.then(|| crate::clock::nanotime().saturating_sub(asleep)));
                return true;
            }
            m.note.park(None);
        }
    }
}
