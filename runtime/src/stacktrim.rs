//! Stack trimming: a goroutine parked for a long time gives back its stack's memory.
//!
//! A goroutine's stack is virtual memory; what costs is the pages it has touched. A parked
//! goroutine keeps them all: the frames it went through once and has since returned from
//! (dead, below its saved stack pointer), and the few live frames above it. Go shrinks the
//! stacks of idle goroutines at each GC (copying them into smaller ones); goro's stacks do
//! not move, so sysmon trims them in place instead, for goroutines parked at least a second
//! (`GORO_DEBUG=stacktrim=N` for N ms; 0 turns it off):
//!
//! * **Dead pages**, every whole page below the saved stack pointer, are returned to the OS
//!   (`MADV_DONTNEED`). Nothing lives there; a deeper call after the goroutine resumes simply
//!   faults in fresh zero pages. Any parked goroutine qualifies.
//! * **The live top** (from the saved stack pointer to the stack's top: the switch's saved
//!   registers, then the goroutine's frames), when it is under [`MAX_SAVE`] bytes, is copied
//!   to the heap and its pages returned as well; the M that resumes the goroutine copies it
//!   back before switching to it ([`restore`]), at the same addresses, so every pointer into
//!   the stack stays valid. Only for goroutines parked where no other thread touches their
//!   stack while they wait: in the netpoller (`IO wait`, whose waiter records live in the
//!   poll descriptor) or in `runtime::sleep` (a timer holding the G's address). A goroutine
//!   blocked in a channel operation or a lock may have a value slot on its stack that the
//!   waking side writes, so its live top stays in place (Go's stack shrinker skips those for
//!   the same reason).
//!
//! An idle connection goroutine then costs its saved top (about 1 KiB on the heap) instead
//! of a 4 KiB page (N3 in benches/compare).
//!
//! # Owning a parked stack
//! sysmon takes the goroutine with its park word (PARKED -> TRIMMING, see
//! [`crate::parkstate`]): from then until it stores PARKED again nobody can make the G
//! runnable (an unpark waits, a few microseconds), and the context saved by the park says
//! where the live part starts. A saved top goes into a table keyed by the G, and the G's
//! one-byte `trimmed` flag (in what was padding: the G record stays 136 bytes) says so; the
//! resuming M sees both through the park word's release/acquire chain (sysmon's release
//! store, the unparker's CAS, the run queue), and [`restore`] costs it one load of a byte of
//! the G it is about to run when nothing was trimmed. Bit 0 of the G's `wait_since` marks a
//! wait already trimmed, so each wait is trimmed once.
//!
//! Pacing: at most one pass per [`PASS_EVERY_NS`], looking at [`WINDOW`] G records per pass
//! (a cursor walks `allgs`) and trimming at most [`MAX_TRIMS`] of them, so sysmon never spends
//! more than about a millisecond on it per pass.

use crate::g::{G, Status, WaitReason};
use crate::stack::PAGE;
use std::collections::HashMap;
use std::ptr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// The default `stacktrim` age: a goroutine parked this long is trimmed. Long enough that a
/// keep-alive connection between requests, or a worker between jobs, is left alone (trimming
/// and restoring cost a few microseconds and a page fault); short enough that a burst of
/// idle connections stops costing pages within seconds.
pub(crate) const DEFAULT_AGE_MS: u64 = 1000;

/// The largest live top saved to the heap. Above half a page the saving shrinks towards
/// nothing (the heap copy plus its allocator overhead against one 4 KiB page).
const MAX_SAVE: usize = PAGE / 2;

/// Below the saved stack pointer nothing is live at a switch (the switch is an ordinary call
/// and the System V red zone is not used across calls); the copy starts this far below it
/// anyway, as a margin that costs nothing.
const RED_ZONE: usize = 128;

/// Passes at most this often (or every half `stacktrim` age, if that is shorter).
const PASS_EVERY_NS: u64 = 50_000_000;
/// G records looked at per pass.
const WINDOW: usize = 8192;
/// Goroutines trimmed per pass, at most (each costs sysmon one or two `madvise` calls and, for
/// a saved top, a copy of under 2 KiB: a few microseconds).
const MAX_TRIMS: usize = 512;

/// A trimmed goroutine's live top, while its pages are released.
struct Saved {
    /// The address `bytes` came from (and go back to): `[lo, lo + bytes.len())`, the stack's
    /// top end.
    lo: usize,
    bytes: Box<[u8]>,
}

/// The saved tops, by G address (only trimmed Gs: a handful of accesses per trim).
static SAVED_TOPS: Mutex<Option<HashMap<usize, Saved>>> = Mutex::new(None);

fn saved_tops() -> std::sync::MutexGuard<'static, Option<HashMap<usize, Saved>>> {
    SAVED_TOPS.lock().unwrap_or_else(|e| e.into_inner())
}

static LAST_PASS: AtomicU64 = AtomicU64::new(0);
static CURSOR: AtomicUsize = AtomicUsize::new(0);

/// Goroutines trimmed since start, and of those whose live top went to the heap (for tests
/// and `sched_stats`).
static TRIMMED: AtomicU64 = AtomicU64::new(0);
static SAVED: AtomicU64 = AtomicU64::new(0);

/// (trimmed, saved to the heap) since the runtime started.
pub(crate) fn counts() -> (u64, u64) {
    (
        TRIMMED.load(Ordering::Relaxed),
        SAVED.load(Ordering::Relaxed),
    )
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
    // The G is ours until end_trim: parked, its context saved, nobody can resume it.
    let trimmed = trim_owned(g, now, age);
    g.park.end_trim();
    trimmed
}

/// The trim itself, with the G owned (TRIMMING).
fn trim_owned(g: &'static G, now: u64, age: u64) -> bool {
    // Read again under ownership: this park may be a newer one than the filter saw.
    let since = g.wait_since.load(Ordering::Relaxed);
    if since & 1 != 0 || now.saturating_sub(since) < age || g.trimmed.load(Ordering::Relaxed) {
        return false;
    }
    // This wait is trimmed once (the next park stores an even time).
    g.wait_since.store(since | 1, Ordering::Relaxed);
    let (bottom, top) = (g.stack.bottom as usize, g.stack.top as usize);
    // SAFETY: the G is parked and owned by us (TRIMMING), so its `ctx` cell holds the context
    // saved by its park and nobody else touches the cell until we end the trim. We only read
    // the saved stack pointer from it.
    let sp = match unsafe { &*g.ctx.as_ptr() } {
        Some(ctx) => crate::switch::saved_sp(ctx),
        None => return false,
    };
    if top % PAGE != 0 || sp <= bottom + RED_ZONE || sp > top {
        return false;
    }
    let lo = (sp - RED_ZONE) & !15;
    // Dead frames: every whole page below the live part.
    // SAFETY: [bottom, lo) is below the saved stack pointer (minus the margin) of a parked
    // goroutine that we own: nothing there is live, and nothing runs on the stack.
    unsafe { g.stack.release_range(bottom, lo) };
    let keeps_stack_private = matches!(g.wait_reason(), WaitReason::IoWait | WaitReason::Sleep);
    if keeps_stack_private && top - lo <= MAX_SAVE {
        // SAFETY: [lo, top) is this stack's live top, readable (part of the stack's mapping),
        // and quiescent: the G is parked and owned by us.
        let bytes: Box<[u8]> =
            unsafe { std::slice::from_raw_parts(lo as *const u8, top - lo) }.into();
        saved_tops()
            .get_or_insert_with(HashMap::new)
            .insert(g as *const G as usize, Saved { lo, bytes });
        g.trimmed.store(true, Ordering::Relaxed); // published by end_trim's release
        // SAFETY: [lo, top) is saved on the heap and will be copied back by `restore` before
        // the G runs; below lo nothing is live. No other thread reads or writes this stack
        // while the G waits in the netpoller or a sleep (the module docs).
        unsafe { g.stack.release_range(lo & !(PAGE - 1), top) };
        SAVED.fetch_add(1, Ordering::Relaxed);
    }
    TRIMMED.fetch_add(1, Ordering::Relaxed);
    true
}

/// Puts a trimmed G's live top back before it runs (the M that resumes it, in
/// `make_current`). One load when nothing was trimmed.
#[inline]
pub(crate) fn restore(g: &'static G) {
    if g.trimmed.load(Ordering::Relaxed) {
        restore_slow(g);
    }
}

#[cold]
#[inline(never)]
fn restore_slow(g: &'static G) {
    g.trimmed.store(false, Ordering::Relaxed);
    // Taken once: only the thread resuming this G gets here (it won the G from a run queue
    // or its park word, after sysmon's release of the trim).
    let saved = saved_tops()
        .as_mut()
        .and_then(|t| t.remove(&(g as *const G as usize)))
        .expect("stacktrim: a trimmed G without its saved top");
    // SAFETY: [lo, lo + len) is the top of this G's stack (recorded by the trim), writable
    // (its pages fault back in as zero pages), and nothing runs on it: we are about to switch
    // to it.
    unsafe {
        ptr::copy_nonoverlapping(saved.bytes.as_ptr(), saved.lo as *mut u8, saved.bytes.len());
    }
}
