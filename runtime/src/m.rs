//! M: an OS thread that runs Gs while holding a P (Go's `m`).
//!
//! The M's native stack plays g0: [`schedule`] runs there, switches into a G with
//! `jump_fcontext`, and gets control back when the G parks, yields or exits. What the G
//! wants done is passed as the switch's data word and carried out *on g0, after the switch*
//! ([`execute`]), which is how the park protocol keeps its invariant (see
//! [`crate::parkstate`]).
//!
//! # Thread-locals and migration
//! A goroutine may resume on another M after any switch. The runtime's own thread-locals are
//! therefore read only through the `#[inline(never)]` accessors below, never cached across a
//! switch: LLVM may keep a TLS address in a register across a call it believes stays on one
//! thread (llvm-project#98479).

use crate::g::{G, Status};
use crate::note::Note;
use crate::p::P;
use crate::sched::{self, SCHED};
use std::cell::Cell;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};

/// At most this many Ms (OS threads) exist, as in Go (`debug.SetMaxThreads` default).
pub const MAX_MS: u32 = 10_000;

/// The g0 stack of an M: scheduler code and timer callbacks only.
const G0_STACK: usize = 256 * 1024;

/// Switch reasons, passed from a G to g0 in the switch's data word.
pub(crate) const SW_PARK: usize = 1;
pub(crate) const SW_GOSCHED: usize = 2;
pub(crate) const SW_EXIT: usize = 3;

pub(crate) struct M {
    pub(crate) id: u64,
    /// Idle parking.
    pub(crate) note: Note,
    /// A P handed over by `startm`, picked up when the M wakes.
    nextp: AtomicPtr<P>,
    nextspin: AtomicBool,
    /// In the idle M list (changed under the idle lock).
    pub(crate) idle: AtomicBool,
    // ---- touched only by this M's own thread ----
    pub(crate) p: Cell<Option<&'static P>>,
    pub(crate) curg: Cell<Option<&'static G>>,
    pub(crate) spinning: Cell<bool>,
    rng: Cell<u64>,
}

// SAFETY: the Cell fields are only used by the M's own thread (they are reached through the
// CURRENT_M thread-local, or by code running on this M); the shared fields are atomics.
unsafe impl Sync for M {}

static MNEXT: AtomicU64 = AtomicU64::new(1);

impl M {
    /// Hands `p` to this idle M and wakes it.
    pub(crate) fn handoff(&self, p: &'static P, spinning: bool) {
        self.nextspin.store(spinning, Ordering::Relaxed);
        // Release: the P's owner-only state is published to the new owner.
        self.nextp.store(p as *const P as *mut P, Ordering::Release);
        self.note.unpark();
    }

    /// A cheap per-M random number (xorshift64*), for steal order.
    pub(crate) fn fastrand(&self) -> u32 {
        let mut x = self.rng.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng.set(x);
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) as u32
    }
}

thread_local! {
    static CURRENT_M: Cell<Option<&'static M>> = const { Cell::new(None) };
}

/// The M this thread is, if it is one. Never inlined: see the module docs.
#[inline(never)]
pub(crate) fn current_m() -> Option<&'static M> {
    CURRENT_M.with(|c| c.get())
}

/// The running goroutine, if this thread is an M running one. Never inlined.
#[inline(never)]
pub(crate) fn current_g() -> Option<&'static G> {
    current_m().and_then(|m| m.curg.get())
}

/// The P of this thread's M, if any. Never inlined.
#[inline(never)]
pub(crate) fn current_p() -> Option<&'static P> {
    current_m().and_then(|m| m.p.get())
}

/// The id of this thread's M's P, if any: `current_p().map(|p| p.id)` in one thread-local
/// access (sync's per-P reader counts call it twice a read lock). Never inlined.
#[inline(never)]
pub(crate) fn current_p_id() -> Option<usize> {
    CURRENT_M.with(|c| c.get().and_then(|m| m.p.get()).map(|p| p.id))
}

/// Starts a new M (OS thread) that will run with `p`.
pub(crate) fn newm(p: &'static P, spinning: bool) {
    let n = SCHED.mcount.fetch_add(1, Ordering::SeqCst) + 1;
    if n > MAX_MS {
        eprintln!("goro: program exceeds {MAX_MS}-thread limit");
        eprint!("{}", crate::dump::stack_dump());
        std::process::abort();
    }
    let id = MNEXT.fetch_add(1, Ordering::Relaxed);
    let m: &'static M = Box::leak(Box::new(M {
        id,
        note: Note::new(),
        nextp: AtomicPtr::new(ptr::null_mut()),
        nextspin: AtomicBool::new(false),
        idle: AtomicBool::new(false),
        p: Cell::new(None),
        curg: Cell::new(None),
        spinning: Cell::new(false),
        rng: Cell::new(0x9E37_79B9_7F4A_7C15 ^ id.wrapping_mul(0xBF58_476D_1CE4_E5B9)),
    }));
    m.handoff(p, spinning);
    let r = std::thread::Builder::new()
        .name(format!("goro-m{id}"))
        .stack_size(G0_STACK)
        .spawn(move || mstart(m));
    if let Err(e) = r {
        eprintln!("goro: failed to create new OS thread (have {n} Ms): {e}");
        std::process::abort();
    }
}

fn mstart(m: &'static M) -> ! {
    CURRENT_M.with(|c| c.set(Some(m)));
    crate::signal::on_new_thread();
    let p = m.take_nextp().expect("mstart: M started without a P");
    acquirep(m, p);
    m.spinning.set(m.nextspin.load(Ordering::Relaxed));
    schedule(m)
}

impl M {
    fn take_nextp(&self) -> Option<&'static P> {
        let p = self.nextp.swap(ptr::null_mut(), Ordering::Acquire);
        // SAFETY: Ps are leaked and never freed.
        (!p.is_null()).then(|| unsafe { &*p })
    }
}

pub(crate) fn acquirep(m: &'static M, p: &'static P) {
    p.status.store(crate::p::P_RUNNING, Ordering::Relaxed);
    m.p.set(Some(p));
}

/// Parks this M until it is handed a P, or until `next_timer` (if it becomes the timer
/// sleeper) and an idle P is free. Returns with `m.p` set.
pub(crate) fn stopm(m: &'static M, mut next_timer: u64) {
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
        drop(idle);
        if let Some(d) = deadline {
            // A timer added before we published `sleep_until` did not wake us: look again.
            let now_earliest = crate::timer::earliest();
            if now_earliest < d {
                SCHED.sleep_until.store(now_earliest, Ordering::SeqCst);
                deadline = Some(now_earliest);
            }
        }
        m.note.park(deadline.map(crate::clock::from_nanos));

        let mut idle = sched::lock_idle();
        if idle.timer_sleeper.is_some_and(|s| ptr::eq(s, m)) {
            idle.timer_sleeper = None;
            SCHED.sleep_until.store(u64::MAX, Ordering::SeqCst);
        }
        if m.idle.load(Ordering::Relaxed) {
            // Not taken by startm: we woke for a timer.
            idle.midle.retain(|x| !ptr::eq(*x, m));
            m.idle.store(false, Ordering::Relaxed);
            let p = sched::pidleget(&mut idle);
            drop(idle);
            if let Some(p) = p {
                acquirep(m, p);
                // Spin, so the steal loop runs the other Ps' timers too.
                m.spinning.set(true);
                SCHED.nmspinning.fetch_add(1, Ordering::SeqCst);
                return;
            }
            // Every P is busy: their Ms run timers at each scheduling point.
            next_timer = u64::MAX;
            continue;
        }
        drop(idle);
        // Taken by startm: the P arrives through nextp (maybe just after its wake).
        loop {
            if let Some(p) = m.take_nextp() {
                acquirep(m, p);
                m.spinning.set(m.nextspin.load(Ordering::Relaxed));
                return;
            }
            m.note.park(None);
        }
    }
}

/// The scheduler loop on g0: find a runnable G, run it until it switches back, repeat.
fn schedule(m: &'static M) -> ! {
    loop {
        let (g, inherit) = crate::proc::find_runnable(m);
        execute(m, g, inherit);
    }
}

/// Runs `g` (and whatever the gosched fast path hands over) until this M must look for work.
fn execute(m: &'static M, g: &'static G, inherit: bool) {
    let mut inherit = inherit;
    loop {
        let p = m.p.get().expect("execute: M without P");
        if !inherit {
            p.schedtick.store(
                p.schedtick.load(Ordering::Relaxed).wrapping_add(1),
                Ordering::Relaxed,
            );
        }
        g.set_status(Status::Running);
        g.mid.store(m.id, Ordering::Relaxed);
        m.curg.set(Some(g));
        let ctx = g
            .ctx
            .take()
            .expect("execute: runnable G without a saved context");
        // SAFETY: `g` is runnable, so its context was fully saved by the g0 that switched it
        // out (or made by spawn) and no other M can resume it: we took it from a run queue or
        // won its park word. The data word tells a first-time entry which G it is.
        let t = unsafe { ctx.resume(g as *const G as usize) };
        // Back on g0. The G's stack is now quiescent: save its context before anything can
        // make it runnable again.
        m.curg.set(None);
        g.ctx.set(Some(t.context));
        g.mid.store(0, Ordering::Relaxed);
        match t.data {
            SW_PARK => {
                g.set_status(Status::Waiting);
                if g.park.commit() {
                    return;
                }
                // A wakeup raced with the park: resume at once, same time slice.
                inherit = true;
            }
            SW_GOSCHED => {
                g.set_status(Status::Runnable);
                crate::proc::gosched_put(p, g);
                return;
            }
            SW_EXIT => {
                crate::spawn::gdestroy(p, g);
                return;
            }
            other => unreachable!("execute: unknown switch reason {other}"),
        }
    }
}

/// On a G: switch to g0 with `reason`, and return when some M resumes this G.
///
/// `g` must be the running G. Never inlined, and nothing thread-local may be held across it.
#[inline(never)]
pub(crate) fn switch_to_g0(g: &'static G, reason: usize) {
    let g0 =
        g.g0.take()
            .expect("switch_to_g0: no g0 context (not on a goroutine?)");
    // SAFETY: `g0` is the context of the g0 that resumed us, saved when it did; it is
    // suspended in `execute` waiting for exactly this switch.
    let t = unsafe { g0.resume(reason) };
    // Resumed, possibly by another M: remember the g0 to return to next time.
    g.g0.set(Some(t.context));
}
