//! `lock_os_thread` / `unlock_os_thread` (Go's LockOSThread): wiring a goroutine to its M.
//!
//! A locked G runs only on its M, and that M runs nothing else. When the G stops (parks or
//! yields), its M hands its P to another M and sleeps ([`crate::m`]'s `execute`); when some M
//! later picks the G from a run queue, it hands *its* P to the G's M and goes idle itself
//! (`schedule`, Go's startlockedm). If the G exits while locked, its M's thread exits too, as
//! in Go: the goroutine may have left the thread in a state nobody else should inherit.

use crate::g::G;
use crate::m::{self, M};
use std::ptr;
use std::sync::atomic::Ordering;

/// Wires the calling goroutine to the OS thread it runs on: until a matching
/// [`unlock_os_thread`], it runs only on this thread, and the thread runs no other goroutine
/// (Go's `runtime.LockOSThread`). For thread-bound state: thread-local C libraries, a
/// `thread_local!` kept across park points, per-thread OS settings.
///
/// Calls nest: the goroutine is unwired after as many unlocks as locks. A goroutine that ends
/// while locked ends its thread too. On a plain thread (not a goroutine) this does nothing:
/// such a thread never runs anything else.
///
/// ```
/// runtime::block_on(|| {
///     runtime::lock_os_thread();
///     let before = std::thread::current().id();
///     runtime::sleep(std::time::Duration::from_millis(1)); // parks; resumes on the same thread
///     assert_eq!(std::thread::current().id(), before);
///     runtime::unlock_os_thread();
/// });
/// ```
pub fn lock_os_thread() {
    let Some(mm) = m::current_m() else { return };
    let Some(g) = mm.curg() else { return };
    g.locked.set(g.locked.get() + 1);
    g.lockedm.store(mm as *const M as *mut M, Ordering::Relaxed);
    mm.lockedg.store(g as *const G as *mut G, Ordering::Relaxed);
}

/// Undoes one [`lock_os_thread`]; after the last, the goroutine may run on any thread again
/// (Go's `runtime.UnlockOSThread`). Does nothing if the goroutine is not locked.
pub fn unlock_os_thread() {
    let Some(mm) = m::current_m() else { return };
    let Some(g) = mm.curg() else { return };
    match g.locked.get() {
        0 => {}
        1 => {
            g.locked.set(0);
            g.lockedm.store(ptr::null_mut(), Ordering::Relaxed);
            mm.lockedg.store(ptr::null_mut(), Ordering::Relaxed);
        }
        n => g.locked.set(n - 1),
    }
}

/// Whether the calling goroutine is wired to its thread (false on a plain thread).
///
/// ```
/// assert!(!runtime::is_os_thread_locked());
/// ```
pub fn is_os_thread_locked() -> bool {
    m::current_g().is_some_and(|g| g.locked.get() > 0)
}

/// The M `g` is locked to, if any.
pub(crate) fn lockedm(g: &'static G) -> Option<&'static M> {
    let mm = g.lockedm.load(Ordering::Relaxed);
    // SAFETY: M records are never freed.
    (!mm.is_null()).then(|| unsafe { &*mm })
}

/// A G is being recycled: forget any wiring (its M clears its own side).
pub(crate) fn on_exit(g: &'static G) {
    g.locked.set(0);
    g.lockedm.store(ptr::null_mut(), Ordering::Relaxed);
}
