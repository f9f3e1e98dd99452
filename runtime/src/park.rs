//! The one waiting API every blocking primitive uses (DESIGN.md section 3).
//!
//! [`Waiter::current`] names whoever is running: the current goroutine, or on a thread outside
//! the runtime, that thread. [`park`] / [`park_until`] put it to sleep and [`Waiter::unpark`]
//! wakes it. chan and sync never branch on which kind of waiter they hold.
//!
//! A goroutine parks its G and frees its M to run others (the two-half protocol of
//! [`crate::parkstate`]); a plain thread blocks on a futex ([`crate::note`]). Both keep one
//! sticky wakeup token, so an `unpark` that comes before the `park` is not lost, and both may
//! wake spuriously: callers re-check their condition in a loop.

use crate::clock;
use crate::g::{G, Status, WaitReason};
use crate::g0::{SwitchReason, switch_to_g0};
use crate::m;
use crate::note::Note;
use crate::sched;
use crate::timer::TimerKind;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// A handle to a parked (or about to park) goroutine or thread.
///
/// Cheap to clone; `Send` and `Sync`, so it can sit in a wait queue that another goroutine or
/// thread pops. A `Waiter` for a goroutine that has since finished is inert: unparking it does
/// nothing, even if its G record was reused.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// let slot: Arc<Mutex<Option<runtime::Waiter>>> = Arc::default();
/// let s2 = slot.clone();
/// let h = runtime::spawn(move || {
///     *s2.lock().unwrap() = Some(runtime::Waiter::current());
///     runtime::park(runtime::WaitReason::Park); // may return spuriously: real code loops
/// });
/// loop {
///     if let Some(w) = slot.lock().unwrap().take() { w.unpark(); break; }
///     std::thread::yield_now();
/// }
/// h.join().unwrap();
/// ```
#[derive(Clone)]
pub struct Waiter(Kind);

#[derive(Clone)]
enum Kind {
    G { g: &'static G, generation: u64 },
    Thread(Arc<Note>),
}

thread_local! {
    static THREAD_NOTE: Arc<Note> = Arc::new(Note::new());
}

/// The thread's note; `None` while thread-locals are being destroyed (a destructor that
/// waits on a goro lock). Then a `Waiter` gets a throwaway note and `park` only yields: waiting
/// degrades to polling (park may return spuriously), but nothing panics or sleeps forever.
fn thread_note() -> Option<Arc<Note>> {
    THREAD_NOTE.try_with(Arc::clone).ok()
}

impl Waiter {
    /// The running goroutine, or the current thread if it is not running a goroutine.
    pub fn current() -> Waiter {
        match m::current_g() {
            Some(g) => Waiter(Kind::G {
                g,
                generation: g.park.generation(),
            }),
            None => Waiter(Kind::Thread(
                thread_note().unwrap_or_else(|| Arc::new(Note::new())),
            )),
        }
    }

    /// Wakes the waiter: readies the goroutine (into the caller's P, to run next) or unblocks
    /// the thread. If it is not parked yet, its next `park` returns at once.
    pub fn unpark(&self) {
        match &self.0 {
            Kind::G { g, generation } => unpark_g(g, *generation),
            Kind::Thread(n) => n.unpark(),
        }
    }

    /// Like [`unpark`](Waiter::unpark), but a goroutine made runnable is appended to `list`
    /// for the caller to queue (the netpoller queues a whole poll's worth in one batch).
    pub(crate) fn unpark_into(&self, list: &mut Vec<&'static G>) {
        match &self.0 {
            Kind::G { g, generation } => {
                if g.park.unpark(*generation) {
                    g.set_status(Status::Runnable);
                    list.push(g);
                }
            }
            Kind::Thread(n) => n.unpark(),
        }
    }

    /// Whether this waiter is a goroutine (false: a plain thread).
    pub fn is_goroutine(&self) -> bool {
        matches!(self.0, Kind::G { .. })
    }

    /// Whether both handles name the same waiter.
    pub fn same_as(&self, other: &Waiter) -> bool {
        match (&self.0, &other.0) {
            (
                Kind::G {
                    g: a,
                    generation: x,
                },
                Kind::G {
                    g: b,
                    generation: y,
                },
            ) => std::ptr::eq(*a, *b) && x == y,
            (Kind::Thread(a), Kind::Thread(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl Waiter {
    /// Test support ([`crate::__test::is_parked`]).
    pub(crate) fn is_parked(&self, reason: WaitReason) -> bool {
        match &self.0 {
            Kind::G { g, generation } => {
                g.park.generation() == *generation
                    && g.status() == Status::Waiting
                    && g.wait_reason() == reason
            }
            // Registered (no deadline), or its note says PARKED: a park with a deadline,
            // which the deadlock detector does not register. Either way the thread has
            // committed to sleep: an unpark from now on is what wakes it.
            Kind::Thread(note) => crate::deadlock::is_asleep(note) || note.is_parked(),
        }
    }
}

impl fmt::Debug for Waiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Kind::G { g, .. } => write!(f, "Waiter(goroutine {})", g.goid.load(Ordering::Relaxed)),
            Kind::Thread(_) => write!(f, "Waiter(thread)"),
        }
    }
}

/// Unparks generation `generation` of `g`.
pub(crate) fn unpark_g(g: &'static G, generation: u64) {
    if g.park.unpark(generation) {
        ready(g);
    }
}

/// Makes a parked G runnable: into the current P's `runnext` (it inherits the waker's time
/// slice, which keeps a channel handoff on one core), or the global queue from outside.
pub(crate) fn ready(g: &'static G) {
    g.set_status(Status::Runnable);
    m::with_p(|p| match p {
        Some(p) => sched::runqput(p, g, true),
        None => sched::globrunqput(g),
    });
    // Its fence orders the put above before its reads (sched.rs's essay).
    sched::wakep();
}

/// Parks the running goroutine (or blocks the current thread) until [`Waiter::unpark`].
/// May return spuriously. `reason` shows in [`crate::stack_dump`].
pub fn park(reason: WaitReason) {
    match m::current_g() {
        Some(g) => park_g(g, reason),
        None => {
            park_thread(false);
        }
    }
}

/// Blocks a plain thread until unparked. While it sleeps it is registered with the deadlock
/// detector as a thread that only a goroutine or another thread can wake; with `main`, it is
/// one that panics with the deadlock report (`block_on`, `JoinHandle::join`) if the detector
/// finds that nothing can.
/// Returns the deadlock report if that is what woke it.
pub(crate) fn park_thread(main: bool) -> Option<Arc<str>> {
    // The runtime (and its sysmon, which runs the deadlock check) starts with the first
    // blocking call, not only with the first spawn: `wg.wait()` in a `main` that never
    // spawned is reported as Go reports it instead of hanging. (One atomic load once started.)
    crate::sched::ensure_init();
    match thread_note() {
        Some(n) => {
            let asleep = crate::deadlock::Asleep::register(&n, main);
            n.park(None);
            asleep.finish()
        }
        None => {
            std::thread::yield_now();
            None
        }
    }
}

fn park_g(g: &'static G, reason: WaitReason) {
    if g.park.try_consume() {
        return;
    }
    g.set_waiting(reason);
    if !crate::directpark::park_direct(g) {
        switch_to_g0(g, SwitchReason::Park);
    }
    g.wait_reason
        .store(WaitReason::None as u8, Ordering::Relaxed);
}

/// Like [`park`], but returns by `deadline` at the latest. Returns true if the deadline has
/// passed (the caller may still have been unparked as well).
pub fn park_until(reason: WaitReason, deadline: Instant) -> bool {
    let Some(g) = m::current_g() else {
        match thread_note() {
            Some(n) => {
                n.park(Some(deadline));
            }
            None => std::thread::yield_now(),
        }
        return Instant::now() >= deadline;
    };
    let when = clock::to_nanos(deadline);
    if clock::nanotime() >= when {
        return true;
    }
    // The timer goes to this M's P's heap (any heap would do: they are locked; sysmon may
    // take the P meanwhile, it keeps its heap).
    let timers = sched::timer_heap_here();
    let seq = g.timer_seq.load(Ordering::Relaxed).wrapping_add(1);
    g.timer_seq.store(seq, Ordering::Relaxed);
    timers.add(
        when,
        TimerKind::Wake {
            g,
            generation: g.park.generation(),
            seq,
        },
    );
    park_g(g, reason);
    // Invalidate the timer if it has not fired; the heap drops it lazily.
    g.timer_seq.store(seq.wrapping_add(1), Ordering::Relaxed);
    let timed_out = clock::nanotime() >= when;
    if !timed_out {
        timers.note_deleted();
    }
    timed_out
}

/// The deadline `d` from now, for any `d`: `Instant::now() + d` when that is representable,
/// otherwise (`Duration::MAX`, or anything beyond about 584 years) the latest deadline the
/// runtime's timers represent. Every timed operation in goro computes its deadline with it,
/// so no duration makes one panic; a wait that long is a wait forever, yet it still counts
/// as a pending timer for deadlock detection, as Go's `time.Sleep(math.MaxInt64)` does.
///
/// ```
/// use std::time::{Duration, Instant};
/// let far = runtime::deadline_after(Duration::MAX);
/// assert!(far > Instant::now() + Duration::from_secs(100 * 365 * 24 * 3600));
/// let soon = runtime::deadline_after(Duration::from_millis(5));
/// assert!(soon <= Instant::now() + Duration::from_millis(5));
/// ```
pub fn deadline_after(d: Duration) -> Instant {
    clock::deadline_after(d)
}

/// Sleeps for `d`: parks a goroutine on its P's timer (freeing the M), or sleeps the thread.
///
/// ```
/// let t = std::time::Instant::now();
/// runtime::block_on(|| runtime::sleep(std::time::Duration::from_millis(5)));
/// assert!(t.elapsed() >= std::time::Duration::from_millis(5));
/// ```
pub fn sleep(d: Duration) {
    if m::current_g().is_none() {
        // std's sleep takes any Duration (it sleeps in slices).
        std::thread::sleep(d);
        return;
    }
    let deadline = clock::deadline_after(d);
    while !park_until(WaitReason::Sleep, deadline) {}
}
