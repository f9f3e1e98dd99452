//! `lock_os_thread` / `unlock_os_thread` (Go's LockOSThread): wiring a goroutine to its M.
//!
//! A locked G runs only on its M, and that M runs nothing else. When the G stops (parks or
//! yields), its M hands its P to another M and sleeps ([`crate::g0`]'s `execute`); when some M
//! later picks the G from a run queue, it hands *its* P to the G's M and goes idle itself
//! (`schedule`, Go's startlockedm). If the G exits while locked, its M's thread exits too, as
//! in Go: the goroutine may have left the thread in a state nobody else should inherit.

use crate::g::G;
use crate::m::{self, M};
use std::ptr;
use std::sync::Mutex;
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
    let n = mm.locked_count.get();
    mm.locked_count.set(n + 1);
    if n == 0 {
        table().push((g as *const G as usize, mm));
        mm.lockedg.store(g as *const G as *mut G, Ordering::Relaxed);
        g.locked.store(true, Ordering::Release);
    }
}

/// Undoes one [`lock_os_thread`]; after the last, the goroutine may run on any thread again
/// (Go's `runtime.UnlockOSThread`). Does nothing if the goroutine is not locked.
pub fn unlock_os_thread() {
    let Some(mm) = m::current_m() else { return };
    let Some(g) = mm.curg() else { return };
    if !mm.lockedg().is_some_and(|l| ptr::eq(l, g)) {
        return;
    }
    let n = mm.locked_count.get();
    mm.locked_count.set(n - 1);
    if n == 1 {
        forget(g);
        mm.lockedg.store(ptr::null_mut(), Ordering::Relaxed);
    }
}

/// Whether the calling goroutine is wired to its thread (false on a plain thread).
///
/// ```
/// assert!(!runtime::is_os_thread_locked());
/// ```
pub fn is_os_thread_locked() -> bool {
    m::current_g().is_some_and(|g| g.locked.load(Ordering::Relaxed))
}

/// Locked Gs and their Ms. Few entries, read only for a G whose `locked` flag is set: the
/// G record keeps one flag instead of a pointer (a G is allocated per goroutine).
static LOCKED: Mutex<Vec<(usize, &'static M)>> = Mutex::new(Vec::new());

fn table() -> std::sync::MutexGuard<'static, Vec<(usize, &'static M)>> {
    LOCKED.lock().unwrap_or_else(|e| e.into_inner())
}

fn forget(g: &'static G) {
    g.locked.store(false, Ordering::Relaxed);
    let key = g as *const G as usize;
    table().retain(|(k, _)| *k != key);
}

/// The M `g` is locked to, if any.
pub(crate) fn lockedm(g: &'static G) -> Option<&'static M> {
    if !g.locked.load(Ordering::Acquire) {
        return None;
    }
    let key = g as *const G as usize;
    table().iter().find(|(k, _)| *k == key).map(|(_, mm)| *mm)
}

/// A G is being recycled: forget any wiring (its M clears its own side).
pub(crate) fn on_exit(g: &'static G) {
    if g.locked.load(Ordering::Relaxed) {
        forget(g);
    }
}
