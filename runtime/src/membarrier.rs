//! Asymmetric fences: a nearly free "light" side for the Ms' hot paths and an expensive
//! "heavy" side for sysmon (Linux `membarrier(2)`).
//!
//! The retake handshake ([`crate::m`]) is a Dekker-style exchange: an M stores "I am in
//! runtime code" and then loads "has sysmon asked for my P?", while sysmon stores the request
//! and then loads the M's flag. Each side needs a StoreLoad barrier between its store and its
//! load, or both could miss the other. A real fence on the M's side would cost a locked
//! instruction on every context switch; instead the M only stops the compiler from reordering
//! ([`light_barrier`]), and sysmon, which retakes a P at most every few milliseconds, makes every
//! running thread of the process execute a full barrier ([`heavy_barrier`],
//! `MEMBARRIER_CMD_PRIVATE_EXPEDITED`: an IPI to each CPU running one of our threads). Either
//! the M's store drained before that barrier (sysmon sees it) or the M's load comes after it
//! (the M sees the request). This is the pattern of userspace RCU and folly's `asymmetric
//! fence`.
//!
//! Where the kernel lacks the expedited command (before Linux 4.14, or a sandbox filtering
//! the call) both sides fall back to real `SeqCst` fences: correct, a few ns slower per
//! switch.

use std::sync::atomic::{AtomicU8, Ordering, compiler_fence, fence};

const UNKNOWN: u8 = 0;
const EXPEDITED: u8 = 1;
const FENCES: u8 = 2;

static MODE: AtomicU8 = AtomicU8::new(UNKNOWN);

// From linux/membarrier.h.
const MEMBARRIER_CMD_QUERY: libc::c_int = 0;
const MEMBARRIER_CMD_PRIVATE_EXPEDITED: libc::c_int = 1 << 3;
const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_int = 1 << 4;

fn membarrier(cmd: libc::c_int) -> libc::c_long {
    // SAFETY: membarrier takes two integer arguments and touches no memory of ours.
    unsafe { libc::syscall(libc::SYS_membarrier, cmd, 0 as libc::c_int) }
}

/// Registers the process for expedited membarriers; called once before any M or sysmon runs
/// (so `MODE` is settled before the first [`light_barrier`] that matters).
pub(crate) fn init() {
    if cfg!(loom) {
        MODE.store(FENCES, Ordering::Relaxed);
        return;
    }
    let supported = membarrier(MEMBARRIER_CMD_QUERY);
    let ok = supported >= 0
        && supported & (MEMBARRIER_CMD_PRIVATE_EXPEDITED as libc::c_long) != 0
        && membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0;
    MODE.store(if ok { EXPEDITED } else { FENCES }, Ordering::SeqCst);
}

/// Whether [`heavy_barrier`] is a real cross-thread barrier (false: both sides use fences).
#[cfg(test)]
pub(crate) fn expedited() -> bool {
    MODE.load(Ordering::Relaxed) == EXPEDITED
}

/// The cheap side of an asymmetric fence: orders this thread's preceding stores before its
/// following loads, as far as a concurrent [`heavy_barrier`] can tell. A compiler fence where
/// the kernel has expedited membarriers, a `SeqCst` fence elsewhere. Exported (hidden, in
/// `runtime::__sync`) for `sync` (RwMutex's reader slots), whose hot path pairs with a rare
/// writer the same way.
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// static MINE: AtomicBool = AtomicBool::new(false);
/// static THEIRS: AtomicBool = AtomicBool::new(false);
/// runtime::block_on(|| {
///     MINE.store(true, Ordering::Relaxed);
///     runtime::__sync::light_barrier();
///     // A thread that stored THEIRS and then called heavy_barrier() either sees MINE, or
///     // this load sees THEIRS.
///     let _ = THEIRS.load(Ordering::Relaxed);
/// });
/// ```
#[inline(always)]
pub fn light_barrier() {
    if MODE.load(Ordering::Relaxed) == EXPEDITED {
        compiler_fence(Ordering::SeqCst);
    } else {
        fence(Ordering::SeqCst);
    }
}

/// The expensive side of an asymmetric fence: a full barrier on every running thread of the
/// process, and on ours (a `membarrier(2)` call, tens of microseconds). Returns false if it
/// could not be done (the expedited call failed after registering, which should not happen):
/// then the pairing with [`light_barrier`] does not hold and the caller must not rely on it.
/// Pairs only once the runtime is initialised (the first goroutine or `block_on`).
///
/// ```
/// runtime::block_on(|| assert!(runtime::__sync::heavy_barrier()));
/// ```
#[must_use]
pub fn heavy_barrier() -> bool {
    match MODE.load(Ordering::Relaxed) {
        EXPEDITED => membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0,
        _ => {
            fence(Ordering::SeqCst);
            true
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn heavy_and_light_run() {
        super::init();
        super::light_barrier();
        assert!(super::heavy_barrier());
        // On the Linux machines this project runs on, the expedited command exists.
        diag!("membarrier expedited: {}", super::expedited());
    }
}
