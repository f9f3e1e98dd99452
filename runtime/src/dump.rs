//! Seeing inside: `num_goroutine` and `stack_dump` (Go's NumGoroutine and the goroutine
//! dump printed on a fatal error).

use crate::clock;
use crate::g::{self, Status};
use crate::sched::{self, SCHED};
use std::fmt::Write;
use std::sync::atomic::Ordering;

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

/// A dump of every live goroutine: id, status or wait reason, how long it has waited, and
/// where it was spawned, in the shape of Go's goroutine dump. (Call stacks of parked
/// goroutines are not unwound.)
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
    }
    out
}
