//! Stack trimming: a goroutine parked for a long time gives back its stack's dead pages.
//!
//! A goroutine's stack is virtual memory; what costs is the pages it has touched. A parked
//! goroutine keeps them all, including the frames it went through once and has since
//! returned from: dead memory below its saved stack pointer. Go shrinks the stacks of idle
//! goroutines at each GC (copying them into smaller ones); goro's stacks do not move, so
//! sysmon trims them in place instead: for a goroutine parked a second or more
//! (`GORO_DEBUG=stacktrim=N` for N ms; 0 turns it off), every whole page below the saved
//! stack pointer goes back to the OS (`MADV_DONTNEED`). Nothing valid points there (those
//! frames have returned), so it is sound whatever the goroutine waits for; a deeper call after
//! it resumes faults in fresh zero pages.
//!
//! The live part above the stack pointer stays. It could be copied to the heap and its page
//! released too (the idle connection of N3 would then cost about 1 KiB instead of a 4 KiB
//! page), but other threads may legitimately read or write a parked goroutine's live frames
//! while it waits: a scoped goroutine using its parent's locals, `net::Pipe`'s reader
//! copying from a parked writer's buffer, the kernel completing an asynchronous read into a
//! stack buffer. A released page would hand them zeros and drop their writes. (An earlier
//! version did this for goroutines in IO wait or a sleep and was unsound for exactly those
//! cases.)
//!
//! # Owning a parked stack
//! sysmon takes the goroutine with its park word (PARKED -> TRIMMING, see
//! [`crate::parkstate`]): from then until it stores PARKED again nobody can make the G
//! runnable (an unpark waits for one `madvise` call), so the goroutine cannot run and write
//! below its stack pointer while the pages go; and the context saved by the park, made
//! visible by the park word's acquire, says where the live part starts. A goroutine dump takes
//! the G the same way to walk its frames ([`crate::dump`]); the CAS from PARKED admits one
//! of them at a time, and the other passes the G by. Bit 0 of the G's
//! `wait_since` marks a wait already trimmed, so each wait is trimmed once.
//!
//! Pacing: at most one pass per [`PASS_EVERY_NS`], looking at [`WINDOW`] G records per pass
//! (a cursor walks `allgs`) and trimming at most [`MAX_TRIMS`] of them (one `madvise` each,
//! a few microseconds with its TLB shootdown), so a pass costs sysmon well under a
//! millisecond.

use crate::g::{G, Status};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// The default `stacktrim` age: a goroutine parked this long is trimmed. Long enough that a
/// goroutine that parks between short bursts of deep work is left alone (a trim costs an
/// `madvise`, and the deep call after it page faults); short enough that memory left behind
/// by deep calls is returned within seconds.
pub(crate) const DEFAULT_AGE_MS: u64 = 1000;

/// Below the saved stack pointer nothing is live at a switch (the switch is an ordinary
/// call, and the System V red zone is not used across calls); the released range ends this
/// far below it anyway, a margin that costs at most the page it falls in.
const MARGIN: usize = 128;

/// Passes at most this often (or every half `stacktrim` age, if that is shorter).
const PASS_EVERY_NS: u64 = 50_000_000;
/// G records looked at per pass.
const WINDOW: usize = 8192;
/// Goroutines trimmed per pass, at most (each costs sysmon one `madvise` call).
const MAX_TRIMS: usize = 128;

static LAST_PASS: AtomicU64 = AtomicU64::new(0);
static CURSOR: AtomicUsize = AtomicUsize::new(0);

/// Goroutine stacks trimmed since start (for `sched_stats`).
static TRIMMED: AtomicU64 = AtomicU64::new(0);

/// Stacks trimmed since the runtime started.
pub(crate) fn trimmed() -> u64 {
    TRIMMED.load(Ordering::Relaxed)
}

/// One paced pass (sysmon, each round).
pub(crate) fn pass(now_ns: u64) {
    let age = crate::debug::stacktrim_age_ns();
    if age == 0 {
        return;
    }
    let last = LAST_PASS.load(Ordering::Relaxed);
    // A short age (tests) gets passes to match.
    if now_ns.saturating_sub(last) < PASS_EVERY_NS.min(age / 2) {
        return;
    }
    LAST_PASS.store(now_ns, Ordering::Relaxed);
    let now = crate::clock::coarse_nanos();
    let start = CURSOR.load(Ordering::Relaxed);
    let (gs, total) = crate::g::gs_window(start, WINDOW);
    let mut next = start + gs.len();
    if next >= total {
        next = 0;
    }
    CURSOR.store(next, Ordering::Relaxed);
    let mut trims = 0;
    for (i, g) in gs.into_iter().enumerate() {
        if trims >= MAX_TRIMS {
            // Come back to this one next pass.
            CURSOR.store(start + i, Ordering::Relaxed);
            break;
        }
        if try_trim(g, now, age) {
            trims += 1;
        }
    }
}

/// Trims `g` if it has been parked for `age` ns or more. True if it did.
fn try_trim(g: &'static G, now: u64, age: u64) -> bool {
    // Cheap filters first, without owning anything.
    let since = g.wait_since.load(Ordering::Relaxed);
    if g.status() != Status::Waiting || since & 1 != 0 || now.saturating_sub(since) < age {
        return false;
    }
    if !g.park.begin_trim() {
        return false;
    }
    // The G is ours until the guard ends the trim (also if the trim panicked: a G left in
    // TRIMMING could never be woken).
    struct EndTrim(&'static G);
    impl Drop for EndTrim {
        fn drop(&mut self) {
            self.0.park.end_trim();
        }
    }
    let _owned = EndTrim(g);
    trim_owned(g, now, age)
}

/// The trim itself, with the G owned (TRIMMING).
fn trim_owned(g: &'static G, now: u64, age: u64) -> bool {
    // Read again under ownership: this park may be a newer one than the filter saw.
    let since = g.wait_since.load(Ordering::Relaxed);
    if since & 1 != 0 || now.saturating_sub(since) < age {
        return false;
    }
    // This wait is trimmed once (the next park stores an even time).
    g.wait_since.store(since | 1, Ordering::Relaxed);
    let (bottom, top) = (g.stack.bottom as usize, g.stack.top as usize);
    // SAFETY: the G is parked and owned by us (TRIMMING), so its `ctx` cell holds the context
    // saved by its park (visible through begin_trim's acquire) and nobody else touches the
    // cell until we end the trim. We only read the saved stack pointer from it.
    let sp = match unsafe { &*g.ctx.as_ptr() } {
        Some(ctx) => ctx.saved_sp(),
        None => return false,
    };
    if sp <= bottom + MARGIN || sp > top {
        return false;
    }
    // Every whole page below the live part.
    // SAFETY: [bottom, sp - MARGIN) lies below the saved stack pointer of a parked goroutine
    // that we own: frames that have returned, which nothing may point into, and nothing runs
    // on the stack until we end the trim.
    unsafe { g.stack.release_range(bottom, sp - MARGIN) };
    g.deep.released_range(&g.stack, bottom, sp - MARGIN);
    TRIMMED.fetch_add(1, Ordering::Relaxed);
    true
}
