//! sysmon: the system monitor thread (Go's `sysmon` in proc.go).
//!
//! A dedicated OS thread with no P. It sleeps 20 us between rounds while it has work to do,
//! doubling the sleep after 50 idle rounds up to 1 ms while some P runs (Go: 10 ms), so a hog
//! is caught within 12 ms and a thread blocked in an unmarked call within about 1 ms. When
//! every P is idle it sleeps up to 10 ms, woken early when a P is taken (Go's sysmonwait).
//! Each round it:
//! * retakes Ps from blocking calls marked with [`crate::syscall`] that have lasted at least
//!   one round, if their P has work or nobody else is looking for work (else after 10 ms);
//! * retakes the P of an M whose goroutine has run for 10 ms without a scheduling point (the
//!   P's `schedtick` unchanged): the goroutine keeps its M and runs on without a P, the P and
//!   its queue move to another M. Rust code cannot be interrupted safely (a signal could land
//!   inside malloc), so this is how goro gives Go's fairness: a CPU-bound loop or an unmarked
//!   blocking call never starves the other goroutines;
//! * retakes, the same way but within a round or two instead of 10 ms, the P of an M that
//!   the kernel reports waiting (`S` in its `/proc` stat, not run in between per its
//!   `schedstat`, [`crate::threadstate`]) at two looks with the same schedtick: a goroutine in an unmarked blocking call
//!   (`std::thread::sleep`, a blocking read, a C library) is then handled like one in
//!   [`crate::syscall`]. A P is looked at only once it has not switched since sysmon's
//!   previous look (or at once if goroutines wait in its queue), and less often while its
//!   thread is seen running. `GORO_DEBUG=hogretake=0` turns both rules off;
//! * starts an M for overdue timers when a P is idle;
//! * prints `GORO_DEBUG=schedtrace=N` lines;
//! * runs the deadlock check when every P is idle ([`crate::deadlock`]).
//!
//! # Taking a P from a running M
//! A P's owner-only state (its run queue's tail, free list, id cache) is changed only by its
//! M, so sysmon may take a P only while its M is surely not in the middle of such a change,
//! and the M must notice before its next one. The handshake (M side in [`crate::m::M`]):
//! sysmon sets the M's `retake` word to REQ, runs a process-wide barrier
//! ([`crate::membarrier::heavy_barrier`]) and reads the M's `in_rt` flag. An M sets `in_rt` before
//! touching its P (on g0, or in a goroutine's `with_p` section; the owner-only state is
//! reachable only through a [`crate::p::POwner`], which only such a section hands out) and
//! then reads `retake`, with
//! only a compiler barrier between (the heavy barrier supplies the rest). So either sysmon
//! sees `in_rt` (and backs off: the M is at a scheduling point anyway) or the M sees REQ and
//! waits for sysmon's verdict. If sysmon finds the M in user code and still on the same P with
//! the same schedtick, it owns the P: it writes TAKEN, which the M turns into "no P" at its
//! next runtime entry, and hands the P on. Cost on the M's side: two plain stores and a load
//! per switch, and a load when a section ends.
//!
//! If the M is inside runtime code instead (a goroutine spawning in a loop is there most of
//! the time), sysmon leaves ASK with the P and schedtick it saw; the M answers as the section
//! ends, if it is still the same run: a spawn yields with its P kept, anything else hands the
//! P to another M ([`crate::m::M::exit_rt`]).

use crate::clock;
use crate::debug;
use crate::m::{self, RETAKE_ASK, RETAKE_IDLE, RETAKE_REQ, RETAKE_TAKEN};
use crate::membarrier;
use crate::note::Note;
use crate::p::{P, P_RUNNING, P_SYSCALL};
use crate::sched::{self, SCHED};
use crate::threadstate::{Sample, StatFiles, ThreadState};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Shortest sleep between rounds (Go: 20 us).
const MIN_DELAY: Duration = Duration::from_micros(20);
/// Longest sleep while every P is idle (Go: 10 ms).
const MAX_DELAY_IDLE: Duration = Duration::from_millis(10);
/// Longest sleep while some P runs: bounds how late a hog, or a thread blocked in an unmarked
/// call, is noticed. 1 ms (Go: 10 ms) costs at most 1,000 wake-ups a second, each a few
/// microseconds of sysmon's time, and only while some P runs.
const MAX_DELAY_BUSY: Duration = Duration::from_millis(1);
/// The first pause between two reads of a running thread's state while its goroutine has not
/// switched (doubled after each read that finds it running, up to [`MAX_DELAY_BUSY`]): a
/// CPU-bound goroutine costs sysmon at most a pair of `/proc` reads per millisecond, not one
/// per round.
const STAT_BACKOFF_MIN_NS: u64 = 100_000;
/// A goroutine running this long without a scheduling point loses its P (Go's
/// forcePreemptNS).
pub(crate) const HOG_NS: u64 = 10_000_000;
/// A syscall P with nothing queued, while other Ms could pick up new work, is left to its
/// M for this long (Go: 10 ms).
const SYSCALL_GRACE_NS: u64 = 10_000_000;
/// The longest pause between deadlock checks while only foreign threads keep the verdict
/// away.
const DEADLOCK_BACKOFF_MAX: Duration = Duration::from_secs(1);
/// How long a time slice lasts: a G taken from the ring and the Gs it readies into
/// `runnext` run in turn for this long before the ring's head gets the P (Go's
/// forcePreemptNS, 10 ms).
pub(crate) const SLICE_NS: u64 = 10_000_000;

/// How late a timer may be before sysmon wakes an M for it.
const TIMER_SLACK_NS: u64 = 1_000_000;

static STARTED: AtomicBool = AtomicBool::new(false);

/// sysmon's sleep when every P is idle, cut short when a P is taken (Go's sysmonwait /
/// sysmonwake): a hog that starts right after a quiet spell is then caught as fast as any.
static NOTE: Note = Note::new();
/// Set while sysmon sleeps on `NOTE` for lack of work.
static WAITING: AtomicBool = AtomicBool::new(false);

/// Set while sysmon sleeps a busy-time delay of [`DOZE_MIN`] or more: a goroutine that enters
/// `runtime::syscall` then wakes it ([`on_syscall`]), so the P it leaves is handed on within
/// two 20 us looks instead of after sysmon's next long sleep (up to 1 ms, twice).
static DOZING: AtomicBool = AtomicBool::new(false);

/// The shortest busy-time sleep that [`on_syscall`] cuts short. Shorter sleeps end soon
/// anyway; waking sysmon costs a futex wake, so a goroutine making syscall after syscall
/// wakes it at most once per quiet spell (after a wake sysmon polls every 20 us again).
const DOZE_MIN: Duration = Duration::from_millis(1);

/// A goroutine entered `runtime::syscall`, leaving its P: make sure sysmon looks soon.
pub(crate) fn on_syscall() {
    if DOZING.load(Ordering::Relaxed) && DOZING.swap(false, Ordering::SeqCst) {
        NOTE.unpark();
    }
}

/// A P is leaving the idle list: if sysmon is asleep because every P was idle, wake it.
/// (Called under the idle lock; a relaxed-cost SeqCst load unless sysmon really sleeps.)
pub(crate) fn on_p_taken() {
    if WAITING.load(Ordering::SeqCst) && WAITING.swap(false, Ordering::SeqCst) {
        NOTE.unpark();
    }
}

/// Whether the sysmon thread runs (it counts as one of the runtime's threads).
pub(crate) fn running() -> bool {
    STARTED.load(Ordering::Relaxed)
}

/// Starts sysmon (once, from the runtime's initialisation).
pub(crate) fn start() {
    if STARTED.swap(true, Ordering::SeqCst) {
        return;
    }
    let r = std::thread::Builder::new()
        .name("goro-sysmon".into())
        .stack_size(256 * 1024)
        .spawn(sysmon);
    if let Err(e) = r {
        STARTED.store(false, Ordering::SeqCst);
        diag!("goro: cannot start sysmon ({e}): blocking calls and hogs will not be retaken");
    }
}

/// What sysmon last saw of one P.
#[derive(Clone, Copy, Default)]
struct PData {
    schedtick: u32,
    schedwhen: u64,
    slicetick: u32,
    slicewhen: u64,
    syscalltick: u32,
    syscallwhen: u64,
    /// Its M's thread was seen blocked at the last look, with this `schedtick`, having run
    /// this long in all (`None`: blocked, run time unknown).
    blocked_seen: Option<Option<u64>>,
    /// When to read the M's thread state next (for this schedtick), and the pause after that.
    stat_next: u64,
    stat_backoff: u64,
}

fn sysmon() {
    let start = clock::nanotime();
    let trace_every = debug::schedtrace_ns();
    let mut next_trace = start.saturating_add(trace_every);
    let mut pds = vec![PData::default(); sched::MAX_PROCS];
    let mut delay = MIN_DELAY;
    let mut idle_rounds = 0u32;
    let mut deadlock_wait = MAX_DELAY_IDLE;
    let mut deadlock_next = 0u64;
    let mut stats = StatFiles::new();
    loop {
        let idle_now = SCHED.npidle.load(Ordering::SeqCst) as usize >= sched::gomaxprocs_now();
        if idle_now && delay >= MAX_DELAY_BUSY && trace_every == 0 {
            // Nothing runs: sleep until a P is taken (or the idle period ends).
            WAITING.store(true, Ordering::SeqCst);
            // StoreLoad with `on_p_taken` (npidle is decremented before it looks at us).
            if SCHED.npidle.load(Ordering::SeqCst) as usize >= sched::gomaxprocs_now() {
                NOTE.park(Some(std::time::Instant::now() + MAX_DELAY_IDLE));
            }
            if !WAITING.swap(false, Ordering::SeqCst) {
                // Woken for work: watch closely again.
                NOTE.park(Some(std::time::Instant::now())); // consume a late token
                delay = MIN_DELAY;
                idle_rounds = 0;
            }
        } else if delay >= DOZE_MIN {
            DOZING.store(true, Ordering::SeqCst);
            let woken = NOTE.park(Some(std::time::Instant::now() + delay));
            DOZING.store(false, Ordering::SeqCst);
            if woken {
                // A syscall began: look again in 20 us (the retake needs two looks).
                delay = MIN_DELAY;
                idle_rounds = 0;
            }
        } else {
            std::thread::sleep(delay);
        }
        let now = clock::nanotime();
        let all_idle = SCHED.npidle.load(Ordering::SeqCst) as usize >= sched::gomaxprocs_now();

        let (retaken, suspects) = retake(now, &mut pds, &mut stats);

        // Nobody looked at the network for a while (every P busy computing): look.
        crate::netpoll::sysmon_poll(now);

        // Give back the stacks of a burst's dead goroutines, paced (at most a pass per
        // 50 ms, stacks unused for 1 s, an eighth of the surplus a pass), whether or not an
        // M goes to sleep meanwhile: a program that sits idle after a burst has every M
        // asleep already (Go's background scavenger, which sysmon paces too).
        sched::scavenge_stacks();
        // And trim the stacks of goroutines parked for a long time (paced likewise).
        crate::stacktrim::pass(now);

        // Overdue timers while a P is idle: the timer sleeper should have them; make sure.
        let next = crate::timer::earliest();
        if next.saturating_add(TIMER_SLACK_NS) < now && SCHED.npidle.load(Ordering::SeqCst) > 0 {
            sched::wakep();
        }

        if trace_every > 0 && now >= next_trace {
            diag!("{}", crate::debug::schedtrace_line(now - start));
            next_trace = now.saturating_add(trace_every);
        }

        if !all_idle {
            deadlock_wait = MAX_DELAY_IDLE;
            deadlock_next = 0;
        } else if now >= deadlock_next {
            // A foreign thread that stays around (a test harness, another runtime) rules a
            // verdict out each time: look less often, down to once a second (each look reads
            // /proc).
            deadlock_wait = match crate::deadlock::check() {
                crate::deadlock::Check::Foreign => (deadlock_wait * 2).min(DEADLOCK_BACKOFF_MAX),
                _ => MAX_DELAY_IDLE,
            };
            deadlock_next = now.saturating_add(deadlock_wait.as_nanos() as u64);
        }

        if retaken > 0 || suspects > 0 {
            // After a retake, watch closely; with a thread seen blocked, look again at once
            // to confirm (20 us later).
            idle_rounds = 0;
            delay = MIN_DELAY;
        } else {
            idle_rounds += 1;
            if idle_rounds > 50 {
                delay *= 2;
            }
        }
        let cap = if all_idle {
            MAX_DELAY_IDLE
        } else {
            MAX_DELAY_BUSY
        };
        delay = delay.min(cap);
        if trace_every > 0 {
            delay = delay.min(Duration::from_nanos(trace_every));
        }
    }
}

/// One pass over the Ps: take those stuck in syscalls, held by hogs or by threads blocked
/// in unmarked calls. Returns how many it took, and how many it suspects (a thread seen
/// blocked once: the next round, 20 us later, confirms).
fn retake(now: u64, pds: &mut [PData], stats: &mut StatFiles) -> (usize, usize) {
    let mut n = 0;
    let mut suspects = 0;
    let hogs = debug::hogretake();
    for (i, pd) in pds
        .iter_mut()
        .enumerate()
        .take(SCHED.nallp.load(Ordering::Acquire))
    {
        let Some(p) = sched::p_at(i) else { continue };
        match p.status.load(Ordering::Acquire) {
            P_SYSCALL => {
                let t = p.syscalltick.load(Ordering::Relaxed);
                if pd.syscalltick != t {
                    pd.syscalltick = t;
                    pd.syscallwhen = now;
                    continue;
                }
                // Nothing queued on it and others can take new work: leave it a while, so
                // short calls do not cost a thread handoff.
                if p.runq.is_empty()
                    && SCHED.nmspinning.load(Ordering::SeqCst) + SCHED.npidle.load(Ordering::SeqCst)
                        > 0
                    && now < pd.syscallwhen + SYSCALL_GRACE_NS
                {
                    continue;
                }
                // To P_RUNNING, owned by us and in transit to `handoffp`: only `pidleput`
                // makes a P idle (a concurrent `gomaxprocs` increase adopts idle Ps that are
                // not in the idle list as new).
                if p.status
                    .compare_exchange(P_SYSCALL, P_RUNNING, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
                {
                    n += 1;
                    sched::handoffp(p);
                }
            }
            P_RUNNING => {
                // A time slice (fresh G, then the Gs it readied into runnext) that has run
                // SLICE_NS: the next pick on this P takes the ring first (see proc::runqget).
                let st = p.slicetick.load(Ordering::Relaxed);
                if pd.slicetick != st {
                    pd.slicetick = st;
                    pd.slicewhen = now;
                } else if now >= pd.slicewhen + SLICE_NS
                    && !p.slice_expired.load(Ordering::Relaxed)
                    && !p.runq.is_empty()
                {
                    p.slice_expired.store(true, Ordering::Relaxed);
                }
                let t = p.schedtick.load(Ordering::Relaxed);
                let fresh = pd.schedtick != t;
                if fresh {
                    pd.schedtick = t;
                    pd.schedwhen = now;
                    pd.blocked_seen = None;
                    pd.stat_next = now;
                    pd.stat_backoff = STAT_BACKOFF_MIN_NS;
                }
                if !hogs {
                    continue;
                }
                if !fresh && now >= pd.schedwhen + HOG_NS {
                    if retake_hog(p, t) {
                        n += 1;
                        pd.schedwhen = now;
                    }
                    continue;
                }
                // The blocked-thread rule: a goroutine that has not switched since the last
                // look, or one just switched to while others wait in the queue.
                if (fresh && p.runq.is_empty()) || now < pd.stat_next {
                    continue;
                }
                let look = blocked_state(p, stats);
                match (look.state, pd.blocked_seen) {
                    // Blocked at two looks with the same schedtick, and not run in between
                    // (where the kernel says): one continuous wait.
                    (ThreadState::Blocked, Some(ran)) if ran == look.ran_ns => {
                        pd.blocked_seen = None;
                        if retake_hog(p, t) {
                            n += 1;
                            pd.schedwhen = now;
                        }
                    }
                    (ThreadState::Blocked, _) => {
                        pd.blocked_seen = Some(look.ran_ns);
                        suspects += 1;
                    }
                    _ => {
                        pd.blocked_seen = None;
                        pd.stat_next = now.saturating_add(pd.stat_backoff);
                        // Up to sysmon's longest busy sleep: a goroutine that computes for a
                        // while and then blocks is still seen within about a millisecond.
                        pd.stat_backoff =
                            (pd.stat_backoff * 2).min(MAX_DELAY_BUSY.as_nanos() as u64);
                    }
                }
            }
            _ => {}
        }
    }
    (n, suspects)
}

/// The kernel's view of the thread of the M holding `p`.
fn blocked_state(p: &'static P, stats: &mut StatFiles) -> Sample {
    let unknown = Sample {
        state: ThreadState::Unknown,
        ran_ns: None,
    };
    let mm = p.m.load(Ordering::Acquire);
    if mm.is_null() {
        return unknown;
    }
    // SAFETY: M records are never freed.
    let mm: &'static m::M = unsafe { &*mm };
    if !mm.in_user_code() {
        // On g0 or in a runtime section: at a scheduling point anyway.
        return unknown;
    }
    stats.sample(mm.tid.load(Ordering::Relaxed))
}
/// Takes `p` from its M if that M has been running one goroutine since schedtick `tick` and
/// is in user code now (the handshake in the module docs). True if taken and handed on.
fn retake_hog(p: &'static P, tick: u32) -> bool {
    let mm = p.m.load(Ordering::Acquire);
    if mm.is_null() {
        return false;
    }
    // SAFETY: M records are never freed.
    let mm: &'static m::M = unsafe { &*mm };
    if mm
        .retake
        .compare_exchange(RETAKE_IDLE, RETAKE_REQ, Ordering::AcqRel, Ordering::Relaxed)
        .is_err()
    {
        return false;
    }
    if !membarrier::heavy_barrier() {
        mm.retake.store(RETAKE_IDLE, Ordering::Release);
        return false;
    }
    // The M cannot change its P now without first seeing REQ and waiting for us.
    let same_run = std::ptr::eq(mm.p_ptr(), p)
        && p.status.load(Ordering::Relaxed) == P_RUNNING
        && p.schedtick.load(Ordering::Relaxed) == tick;
    if !same_run {
        mm.retake.store(RETAKE_IDLE, Ordering::Release);
        return false;
    }
    if !mm.in_user_code() {
        // Inside runtime code (a goroutine spawning or readying in a loop spends most of
        // its time there): ask the M to hand the P on as it leaves the section.
        mm.ask_p.store(p as *const P as *mut P, Ordering::Relaxed);
        mm.ask_tick.store(tick, Ordering::Relaxed);
        mm.retake.store(RETAKE_ASK, Ordering::Release);
        return true;
    }
    p.m.store(std::ptr::null_mut(), Ordering::Relaxed);
    // The M drops the P at its next runtime entry; it never touches it again.
    mm.retake.store(RETAKE_TAKEN, Ordering::Release);
    sched::handoffp(p);
    true
}
