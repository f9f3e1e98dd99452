//! Seeing inside: `num_goroutine` and `stack_dump` (Go's NumGoroutine and the goroutine
//! dump printed on a fatal error).

use crate::clock;
use crate::g::{self, G, Status};
use crate::sched::{self, SCHED};
use crate::unwind::{self, Symbolizer, Unwinder, Walk};
use std::fmt::Write;
use std::ptr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// The number of goroutines that exist now (Go's `runtime.NumGoroutine`): started and not
/// yet finished, whether running, runnable or parked.
///
/// ```
/// let before = runtime::num_goroutine();
/// let h = runtime::spawn(|| runtime::sleep(std::time::Duration::from_millis(20)));
/// assert!(runtime::num_goroutine() >= before + 1 || h.is_finished());
/// h.join().unwrap();
/// ```
pub fn num_goroutine() -> usize {
    let mut started = SCHED.ngo_outside.load(Ordering::Relaxed);
    let mut exited = SCHED.ngo_exited_outside.load(Ordering::Relaxed);
    sched::for_each_p(|p| {
        started += p.ngo_started.load(Ordering::Relaxed);
        exited += p.ngo_exited.load(Ordering::Relaxed);
    });
    started.saturating_sub(exited) as usize
}

fn fmt_duration(ns: u64) -> String {
    let ms = ns / 1_000_000;
    match ms {
        0..=999 => format!("{ms}ms"),
        1000..=59_999 => format!("{:.1}s", ms as f64 / 1000.0),
        _ => format!("{} minutes", ms / 60_000),
    }
}

/// A dump of every live goroutine in the shape of Go's goroutine dump: id, status or wait
/// reason, how long it has waited, where it was spawned, then the call stack (function, then
/// `file:line`, innermost first) of every parked goroutine and of the goroutine taking the
/// dump. A goroutine running on another thread, or runnable, shows no stack (Go stops the
/// world for its dump; goro does not).
///
/// Of the runtime's frames above the goroutine's own code only the call that parked it shows
/// (`runtime::park::sleep`, where Go shows `runtime.gopark`), and the frames below the
/// goroutine's closure (its entry, `catch_unwind`) do not; see `runtime/src/unwind.rs`.
/// Stacks are named from the binary's debug info (`debug = "line-tables-only"` is enough;
/// without it, names only). A stack of more than 64 frames ends with
/// `...additional frames elided...`.
///
/// ```
/// let d = runtime::block_on(runtime::stack_dump);
/// assert!(d.contains("[running"));
/// ```
pub fn stack_dump() -> String {
    let mut out = String::new();
    let now = clock::coarse_nanos();
    let _ = writeln!(
        out,
        "goro: {} goroutines, gomaxprocs={}, threads={}",
        num_goroutine(),
        sched::gomaxprocs_now(),
        SCHED.mcount.load(Ordering::Relaxed) as usize + crate::sysmon::running() as usize
    );
    let mut gs = Vec::new();
    g::for_each_g(|g| {
        let id = g.goid.load(Ordering::Relaxed);
        if id != 0 && !matches!(g.status(), Status::Idle | Status::Dead) {
            gs.push((id, g));
        }
    });
    gs.sort_by_key(|(id, _)| *id);
    let me = crate::m::current_g();
    let mut unwinder = Unwinder::new();
    let mut names = Symbolizer::default();
    // How long the whole dump may wait for parked goroutines caught mid-park or mid-trim.
    let patience = Instant::now() + DUMP_PATIENCE;
    for (id, g) in gs {
        let state = match g.status() {
            Status::Running => format!("running on M{}", g.mid.load(Ordering::Relaxed)),
            Status::Runnable => "runnable".to_string(),
            Status::Syscall => "syscall".to_string(),
            Status::Waiting => {
                let since = g.wait_since.load(Ordering::Relaxed);
                format!(
                    "{}, {}",
                    g.wait_reason().as_str(),
                    fmt_duration(now.saturating_sub(since))
                )
            }
            Status::Idle | Status::Dead => continue,
        };
        // Go's marker for a goroutine wired to its thread by LockOSThread.
        let locked = if crate::lockosthread::lockedm(g).is_some() {
            ", locked to thread"
        } else {
            ""
        };
        let _ = writeln!(out, "\ngoroutine {id} [{state}{locked}]:");
        match g.spawn_location() {
            Some(l) => {
                let _ = writeln!(out, "\tspawned at {}:{}:{}", l.file(), l.line(), l.column());
            }
            None => {
                let _ = writeln!(out, "\tspawned at <unknown>");
            }
        }
        let walk = if me.is_some_and(|me| ptr::eq(me, g)) {
            Ok(unwind::walk_current())
        } else {
            match g.status() {
                Status::Waiting => parked_stack(g, &mut unwinder, patience),
                Status::Runnable => Err("runnable"),
                Status::Syscall => Err("in a syscall"),
                _ => Err("running"),
            }
        };
        match walk {
            Ok(walk) => out.push_str(names.render(&walk)),
            Err(why) => {
                let _ = writeln!(out, "    ({why})");
            }
        }
    }
    out
}

/// How long one dump waits, in all, for parked goroutines whose park word is held for a
/// moment (see [`parked_stack`]). A G between its switch and its park's commit is held only
/// by its M's few instructions on g0, but on a loaded machine the kernel may deschedule that
/// thread for milliseconds; a dump is for a person, so it waits rather than print a stack
/// as busy, up to this bound (so a dump of many such goroutines stays quick).
const DUMP_PATIENCE: Duration = Duration::from_millis(500);

/// The frames of the parked `g`, walked while we own it. Err: why there are none.
fn parked_stack(
    g: &'static G,
    unwinder: &mut Unwinder,
    patience: Instant,
) -> Result<Walk, &'static str> {
    // Own the parked G as sysmon's stack trim does (PARKED -> TRIMMING): until we give it
    // back nobody can make it runnable, so nothing runs on its stack while we read it. The
    // park word may be held for a moment by a trim or another dump, or the G may be between
    // its switch and the park's commit: spin briefly, then sleep in short steps until the
    // dump's patience runs out.
    let mut tries = 0u32;
    let backoff = crate::kit::Backoff::new();
    while !g.park.begin_trim() {
        tries += 1;
        if g.status() != Status::Waiting {
            return Err("no longer parked");
        }
        if tries <= 64 {
            backoff.snooze();
        } else if Instant::now() < patience {
            std::thread::sleep(Duration::from_micros(100));
        } else {
            return Err("stack busy");
        }
    }
    // Given back however we leave (a G left owned could never be woken).
    struct Owned(&'static G);
    impl Drop for Owned {
        fn drop(&mut self) {
            self.0.park.end_trim();
        }
    }
    let _owned = Owned(g);
    // SAFETY: the G is parked and ours (TRIMMING), so its `ctx` cell holds the context saved
    // by its park (made visible by begin_trim's acquire) and nobody else touches the cell
    // until we give it back. We only copy the saved stack pointer out of it.
    let sp = match unsafe { &*g.ctx.as_ptr() } {
        Some(ctx) => ctx.saved_sp(),
        None => return Err("no saved context"),
    };
    let (bottom, top) = (g.stack.bottom as usize, g.stack.top as usize);
    if sp < bottom || sp >= top {
        // Parked from an `iter::pull` producer, whose frames are on the producer's stack.
        return Err("stack not on the goroutine's stack");
    }
    // SAFETY: [sp, top) is the live part of the parked goroutine's stack, mapped for the G
    // record's life (stacks are never unmapped, and a trim releases only pages below the
    // saved stack pointer); `sp` is the context its switch saved, and the G cannot resume
    // until `_owned` gives it back.
    Ok(unsafe { unwinder.walk_saved(sp, top) })
}
