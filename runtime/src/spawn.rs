//! Creating and ending goroutines: `spawn`, `go!`, `JoinHandle`, `block_on`, `gosched`,
//! `goexit` (Go's `newproc`, `goexit0`, `Gosched`, `Goexit`).
//!
//! # Where the closure lives
//! A spawn writes the closure at the top of the new goroutine's stack and starts the stack
//! below it, so spawning a reused G allocates nothing (closures over 1 KiB are boxed first).
//! The entry function, monomorphised per closure type, moves it onto its own frame and runs
//! it under `catch_unwind`: a panic never unwinds across the context switch.
//!
//! # The migration contract
//! A goroutine may resume on another OS thread after any park point (channel operation,
//! lock, sleep, `gosched`). Do not hold across a park point a `thread_local!` borrow, a value
//! tied to its thread (e.g. `rand::ThreadRng`), or a `std::sync` guard: use
//! [`crate::goroutine_local!`] or goro's `sync` locks instead.

use crate::directpark::{Resume, after_resume};
use crate::g::{G, Status, WaitReason};
use crate::g0::{SwitchReason, switch_to_g0};
use crate::m;
use crate::sched::{self, SCHED};
use std::any::Any;
use std::cell::UnsafeCell;
use std::marker::PhantomData;
use std::mem;
use std::panic::{self, AssertUnwindSafe, Location};
use std::ptr;
use std::sync::atomic::{AtomicU32, Ordering, fence};
use std::sync::{Arc, Mutex};

/// Closures larger than this are boxed rather than written onto the stack.
const INLINE_CLOSURE_MAX: usize = 1024;

/// Starts `f` as a new goroutine (Go's `go` statement) and returns a handle to join it.
///
/// The runtime starts on first use with [`crate::Builder`]'s settings (or the `GOMAXPROCS`
/// and `GORO_STACK_SIZE` environment variables). A goroutine may move between OS threads at
/// every park point; see the crate docs for what must not be held across one.
///
/// ```
/// let h = runtime::spawn(|| 6 * 7);
/// assert_eq!(h.join().unwrap(), 42);
/// ```
#[track_caller]
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let packet = Arc::new(Packet::new());
    let p2 = packet.clone();
    newproc(
        move || {
            let r = panic::catch_unwind(AssertUnwindSafe(f));
            p2.complete(r);
        },
        Location::caller(),
    );
    JoinHandle {
        packet,
        _not_sync_value: PhantomData,
    }
}

/// Starts `f` as a goroutine with no handle (what [`go!`](crate::go!) expands to).
///
/// If `f` panics, the panic is reported by the panic hook and the goroutine ends; the rest
/// of the program carries on (as a detached `std::thread` does; Go would crash the program).
#[track_caller]
pub fn go<F>(f: F)
where
    F: FnOnce() + Send + 'static,
{
    newproc(f, Location::caller());
}

/// Go's `newproc`: get a G, put the closure on its stack, queue it.
pub(crate) fn newproc<F: FnOnce() + Send + 'static>(f: F, loc: &'static Location<'static>) {
    // SAFETY: `F: 'static` outlives any goroutine.
    unsafe { newproc_unchecked(f, loc) }
}

/// [`newproc`] for a closure that may borrow (scoped goroutines), with no allocation: the
/// closure is written onto the new goroutine's stack as any other.
///
/// # Safety
/// Everything `f` borrows must outlive the goroutine: the caller waits for it to finish
/// (`scope` does) before any of it can go away.
pub(crate) unsafe fn newproc_unchecked<F: FnOnce() + Send>(f: F, loc: &'static Location<'static>) {
    if mem::size_of::<F>() > INLINE_CLOSURE_MAX {
        let b: Box<F> = Box::new(f);
        newproc_inline(move || (*b)(), loc);
    } else {
        newproc_inline(f, loc);
    }
}

/// A spawner that had to make a brand-new G while at least this many goroutines wait in its
/// P's queue yields to them ([`newproc_on`]).
const OUTRUN_QUEUE: usize = 32;

fn newproc_inline<F: FnOnce() + Send>(f: F, loc: &'static Location<'static>) {
    sched::ensure_init();
    let ((p_less, outran), asked) = m::with_p_preemptible(move |p| {
        let outran = newproc_on(p, f, loc);
        (p.is_none(), outran)
    });
    sched::wakep();
    if p_less || asked || outran {
        m::preempt_point();
    }
}

/// Queues a new G for `f` on `p` (held by the caller through `with_p`), or globally.
///
/// Returns true if the spawner has outrun its children: no dead G was free, so this one is
/// brand-new (a fresh stack: page-table and page work in the kernel, several microseconds
/// where reusing a G costs nothing), while [`OUTRUN_QUEUE`] or more spawned goroutines
/// still wait to start on this P. The spawner then yields behind them (as a goroutine
/// sysmon preempts at a spawn does), so a loop of `go` whose goroutines end quickly reuses
/// their Gs instead of growing the arenas by as many stacks as it can outrun (W1: a
/// million short goroutines made ~50,000 new Gs). Go has no such cost to avoid: its new
/// goroutines' 2 KiB stacks come from reused heap memory.
fn newproc_on<F: FnOnce() + Send>(
    p: Option<crate::p::POwner<'_>>,
    f: F,
    loc: &'static Location<'static>,
) -> bool {
    match p {
        Some(p) => {
            let (g, fresh) = match sched::gfget(p) {
                Some(g) => (g, false),
                None => (malg(), true),
            };
            // SAFETY: g is dead and ours.
            unsafe { prepare(g, f, loc) };
            g.goid.store(p.next_goid(), Ordering::Relaxed);
            p.bump_started();
            g.set_status(Status::Runnable);
            // The new G runs next on this P (Go's newproc), its spawner keeps running until
            // it blocks.
            sched::runqput(p, g, true);
            fresh && p.runq().len() > OUTRUN_QUEUE
        }
        None => {
            let g = sched::gfget_global().unwrap_or_else(malg);
            // SAFETY: g is dead and ours.
            unsafe { prepare(g, f, loc) };
            g.goid.store(
                SCHED.goid_gen.fetch_add(1, Ordering::Relaxed),
                Ordering::Relaxed,
            );
            SCHED.ngo_outside.fetch_add(1, Ordering::Relaxed);
            g.set_status(Status::Runnable);
            sched::globrunqput(g);
            fence(Ordering::SeqCst);
            false
        }
    }
}

/// A brand-new G with a fresh stack (Go's malg).
pub(crate) fn malg() -> &'static G {
    match SCHED.stacks.get_with_record() {
        // SAFETY: `record` is the unused, never-freed place reserved with the stack.
        Ok((stack, record)) => unsafe { G::new_at(stack, record) },
        Err(e) => {
            diag!(
                "goro: cannot allocate a goroutine stack: {e} ({} goroutines)",
                crate::dump::num_goroutine()
            );
            std::process::abort();
        }
    }
}

/// Writes `f` at the top of `g`'s stack and makes a context that enters `g_entry::<F>`.
///
/// # Safety
/// `g` must be dead (not in any queue, its stack unused) and exclusively ours.
unsafe fn prepare<F: FnOnce() + Send>(g: &'static G, f: F, loc: &'static Location<'static>) {
    let top = g.stack.top as usize;
    let at = (top - mem::size_of::<F>()) & !(mem::align_of::<F>().max(16) - 1);
    // SAFETY: `at` lies within the top INLINE_CLOSURE_MAX+align bytes of the unused stack
    // and is aligned for F.
    unsafe { ptr::write(at as *mut F, f) };
    g.entry.set(at as *mut u8);
    let ctx_top = at & !15;
    // SAFETY: [bottom, ctx_top) is unused stack memory owned by g; the context starts at its
    // top, below the closure.
    let ctx = unsafe { crate::switch::make(ctx_top as *mut u8, g_entry::<F>) };
    g.ctx.set(Some(ctx));
    g.park.next_generation();
    g.spawn_loc
        .store(loc as *const Location<'static> as *mut _, Ordering::Relaxed);
}

/// First code a goroutine runs, on its own stack.
extern "C" fn g_entry<F: FnOnce()>(t: crate::switch::Transfer) -> ! {
    // SAFETY: every switch into a goroutine passes a `Resume` word.
    let g: &'static G = match unsafe { Resume::decode(t.data) } {
        Resume::FromG0(g) => g,
        // A goroutine parked straight into this one and made it the M's current G.
        Resume::Direct(_) | Resume::Requeue(_) => {
            m::current_g().expect("g_entry: direct switch without a current goroutine")
        }
    };
    after_resume(g, t);
    {
        // SAFETY: prepare() wrote an F here and nobody else reads it; we move it out once.
        let f: F = unsafe { ptr::read(g.entry.get() as *mut F) };
        if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(f)) {
            // The panic hook has printed the message under the M's thread name
            // (`thread 'goro-m1' panicked at ...`); say which goroutine it was. (A spawned
            // goroutine's panic goes to its JoinHandle instead and never gets here.)
            let site = g
                .spawn_location()
                .map_or_else(|| "<unknown>".to_string(), |l| l.to_string());
            diag!(
                "goro: goroutine {} (spawned at {site}) panicked; it has ended, the program goes on",
                g.goid.load(Ordering::Relaxed)
            );
            drop_payload(payload);
        }
        // Goroutine-locals are dropped on the goroutine, like thread-locals on their thread.
        crate::local::drop_locals(g);
    }
    switch_to_g0(g, SwitchReason::Exit);
    unreachable!("g_entry: a dead goroutine was resumed");
}

fn drop_payload(payload: Box<dyn Any + Send>) {
    // Dropping a panic payload can itself panic; never let that unwind off the stack.
    if panic::catch_unwind(AssertUnwindSafe(move || drop(payload))).is_err() {
        diag!("goro: a goroutine's panic payload panicked when dropped; aborting");
        std::process::abort();
    }
}

/// On g0: a G has exited; recycle it (Go's goexit0). `p` is the calling M's P, if it still
/// has one.
pub(crate) fn gdestroy(p: Option<crate::p::POwner<'_>>, g: &'static G) {
    g.set_status(Status::Idle);
    g.goid.store(0, Ordering::Relaxed);
    g.wait_reason
        .store(WaitReason::None as u8, Ordering::Relaxed);
    g.ctx.set(None);
    crate::lockosthread::on_exit(g);
    match p {
        Some(p) => {
            p.bump_exited();
            // g is dead and no longer referenced by any queue.
            sched::gfput(p, g);
        }
        None => {
            SCHED.ngo_exited_outside.fetch_add(1, Ordering::Relaxed);
            sched::gfput_global(g);
        }
    }
}

/// Yields the processor: the running goroutine goes to the global run queue and others run
/// (Go's `runtime.Gosched`). On a plain thread, yields the thread.
pub fn gosched() {
    match m::current_g() {
        Some(g) => switch_to_g0(g, SwitchReason::Gosched),
        None => std::thread::yield_now(),
    }
}

/// The panic payload [`goexit`] unwinds with; `JoinHandle::join` returns it as the error of
/// a goroutine that called `goexit`.
#[derive(Debug)]
pub struct Goexit;

/// Ends the running goroutine after running its pending drops (Go's `runtime.Goexit`, whose
/// deferred calls are Rust's destructors). Implemented as an unwind that the goroutine's entry
/// catches; the panic hook is not called.
///
/// # Panics
/// On a thread that is not running a goroutine.
///
/// ```
/// let h = runtime::spawn(|| {
///     runtime::goexit();
/// });
/// assert!(h.join().unwrap_err().is::<runtime::Goexit>());
/// ```
pub fn goexit() -> ! {
    assert!(
        m::current_g().is_some(),
        "goexit called outside a goroutine"
    );
    panic::resume_unwind(Box::new(Goexit))
}

/// Runs `f` as a goroutine and blocks the calling thread (or parks the calling goroutine)
/// until it returns; a panic in `f` is resumed in the caller.
///
/// `f` plays Go's main goroutine: if every goroutine ends up asleep with nothing left that
/// could wake one (no timer, no running goroutine, no other thread outside goro), `block_on`
/// panics with `all goroutines are asleep - deadlock!` and the goroutine dump, as a Go
/// program dies (see [`crate::DEADLOCK_MESSAGE`]).
///
/// ```
/// let v = runtime::block_on(|| {
///     let h = runtime::spawn(|| 20);
///     h.join().unwrap() + 22
/// });
/// assert_eq!(v, 42);
/// ```
#[track_caller]
pub fn block_on<F, T>(f: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let called_at = Location::caller();
    match spawn(f).join() {
        Ok(v) => v,
        Err(e) => {
            // The panic hook printed the message on the M's thread, whose output (under
            // `cargo test`) went wherever that thread's inherited capture points: often
            // another test's buffer. Say it again here, on the caller's thread, where this
            // test's output is captured, then resume the original payload.
            let msg = e
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| e.downcast_ref::<String>().cloned());
            if let Some(msg) = msg {
                // eprintln! (not diag!) so that the test harness captures it; it panics if
                // stderr fails, which must not replace the goroutine's panic.
                let _ = panic::catch_unwind(|| {
                    eprintln!("goro: the goroutine of block_on at {called_at} panicked: {msg}")
                });
            }
            panic::resume_unwind(e)
        }
    }
}

// ---- JoinHandle --------------------------------------------------------------------------

const RUNNING: u32 = 0;
const DONE: u32 = 1;

/// The result slot shared by a goroutine and its [`JoinHandle`].
pub(crate) struct Packet<T> {
    state: AtomicU32,
    result: UnsafeCell<Option<std::thread::Result<T>>>,
    waiter: Mutex<Option<crate::Waiter>>,
}

// SAFETY: `result` is written once by the goroutine before `state` becomes DONE (release) and
// read by the joiner only after it sees DONE (acquire).
unsafe impl<T: Send> Sync for Packet<T> {}

impl<T> Packet<T> {
    pub(crate) fn new() -> Packet<T> {
        Packet {
            state: AtomicU32::new(RUNNING),
            result: UnsafeCell::new(None),
            waiter: Mutex::new(None),
        }
    }

    pub(crate) fn complete(&self, r: std::thread::Result<T>) {
        // SAFETY: only the goroutine writes, once, before publishing DONE.
        unsafe { *self.result.get() = Some(r) };
        let w = {
            let mut w = self.waiter.lock().unwrap_or_else(|e| e.into_inner());
            self.state.store(DONE, Ordering::Release);
            w.take()
        };
        if let Some(w) = w {
            w.unpark();
        }
    }

    pub(crate) fn is_done(&self) -> bool {
        self.state.load(Ordering::Acquire) == DONE
    }

    /// Waits for completion and takes the result.
    #[track_caller]
    pub(crate) fn wait(&self) -> std::thread::Result<T> {
        while !self.is_done() {
            {
                let mut w = self.waiter.lock().unwrap_or_else(|e| e.into_inner());
                if self.is_done() {
                    break;
                }
                *w = Some(crate::Waiter::current());
            }
            if crate::m::current_g().is_some() {
                crate::park(WaitReason::Join);
            } else {
                // A thread waiting for a goroutine: Go's main goroutine. If every goroutine
                // is asleep and nothing can wake them, this is where the program learns it.
                if let Some(report) = crate::park::park_thread(true)
                    && !self.is_done()
                {
                    panic!("{report}");
                }
            }
        }
        // SAFETY: DONE was observed with acquire; the goroutine no longer touches `result`.
        unsafe { (*self.result.get()).take() }.expect("JoinHandle: result taken twice")
    }
}

/// An owned permission to join a goroutine (wait for it and take its result).
///
/// Dropping the handle detaches the goroutine. `join` works from goroutines (parks) and from
/// plain threads (blocks).
pub struct JoinHandle<T> {
    packet: Arc<Packet<T>>,
    _not_sync_value: PhantomData<T>,
}

impl<T> JoinHandle<T> {
    /// Waits for the goroutine and returns its value, or the payload it panicked with
    /// ([`Goexit`] if it called [`goexit`]).
    ///
    /// # Panics
    /// On a plain thread, with Go's `all goroutines are asleep - deadlock!` and the goroutine
    /// dump, if the runtime finds that nothing can ever finish the goroutine (see
    /// [`crate::DEADLOCK_MESSAGE`]).
    #[track_caller]
    pub fn join(self) -> std::thread::Result<T> {
        self.packet.wait()
    }

    /// Whether the goroutine has finished (its result is ready).
    pub fn is_finished(&self) -> bool {
        self.packet.is_done()
    }
}

impl<T> std::fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinHandle")
            .field("finished", &self.is_finished())
            .finish()
    }
}
