//! Whether another thread of this process is blocked in the kernel: sysmon's view of an M
//! whose goroutine has not switched for a while.
//!
//! A goroutine that calls something blocking without [`crate::syscall`] around it
//! (`std::thread::sleep`, a blocking `read`, a C library, a std `Mutex`) keeps its M and
//! its P while the thread sleeps in the kernel, and the P's other goroutines wait. Go does
//! not see this at all until its 10 ms preemption rule; sysmon can do better by asking the
//! kernel: the third field of `/proc/self/task/TID/stat` is the thread's state, `R` while it
//! runs or waits for a CPU, `S` while it sleeps waiting for an event (a timed sleep, a futex,
//! a read on a socket or pipe). A P whose M is seen in `S` at two looks with the same
//! schedtick is handed on at once ([`crate::sysmon`]), as if the call had been marked.
//!
//! `D` (uninterruptible) does not count: it is mostly the kernel's own short waits (a page
//! fault, the address-space lock while another thread maps memory), where a handoff costs
//! more than it saves. Counting it made W10 (a million goroutines created, their stacks
//! mapped and first touched) start twice the threads. A long disk read, also `D`, is still
//! caught by the 10 ms hog rule.
//!
//! Two looks in `S` must also find the same total run time (`schedstat`): one continuous
//! wait, not two short ones caught by chance.
//!
//! Cost: two `pread`s of files kept open per M (a few microseconds of sysmon's time; the
//! kernel regenerates them on each read at offset 0), done only for a P that has not switched
//! since sysmon's previous look, backed off while its thread is seen running. The Ms never
//! pay anything beyond storing their thread id once.
//!
//! Linux only, like the rest of the runtime. If `/proc` is not mounted the reads fail and
//! nothing is handed on early: the hog rule still applies after 10 ms.

use std::fs::File;
use std::os::unix::fs::FileExt;

/// What the kernel says a thread is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ThreadState {
    /// Running, or runnable and waiting for a CPU (`R`).
    Running,
    /// Blocked in the kernel, waiting for an event (`S`: a sleep, a futex, a read).
    Blocked,
    /// Anything else (stopped, traced, a zombie), or the state could not be read.
    Unknown,
}

/// The thread id of the calling thread (stored by each M when it starts).
pub(crate) fn gettid() -> i32 {
    // SAFETY: gettid has no preconditions and cannot fail.
    unsafe { libc::gettid() }
}

/// What one look at a thread found: its state, and how long it has run in total
/// (`/proc/.../schedstat`'s first field, ns; `None` if the kernel does not keep it). Two looks
/// that both find it blocked with the same run time saw one continuous wait, not two short
/// ones (a contended lock, a write to a slow pipe) that happened to be caught twice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Sample {
    pub(crate) state: ThreadState,
    pub(crate) ran_ns: Option<u64>,
}

/// sysmon's open `/proc` files, per thread it has looked at recently (kept open so a look is
/// two `pread`s, not open/read/close).
pub(crate) struct StatFiles {
    /// (thread id, its `stat`, its `schedstat`), most recently opened last.
    files: Vec<(i32, File, Option<File>)>,
}

/// Threads whose files stay open at most (two descriptors each, counted against the
/// process's `RLIMIT_NOFILE` like any other); the oldest are closed beyond this (Ms that held
/// a P long ago, or more Ps than this, whose files are then reopened as needed).
const MAX_OPEN: usize = 16;

impl StatFiles {
    pub(crate) const fn new() -> StatFiles {
        StatFiles { files: Vec::new() }
    }

    /// A look at thread `tid` of this process.
    pub(crate) fn sample(&mut self, tid: i32) -> Sample {
        let unknown = Sample {
            state: ThreadState::Unknown,
            ran_ns: None,
        };
        if tid <= 0 {
            return unknown;
        }
        let i = match self.files.iter().position(|(t, _, _)| *t == tid) {
            Some(i) => i,
            None => {
                let Ok(stat) = File::open(format!("/proc/self/task/{tid}/stat")) else {
                    return unknown;
                };
                let schedstat = File::open(format!("/proc/self/task/{tid}/schedstat")).ok();
                if self.files.len() >= MAX_OPEN {
                    self.files.remove(0);
                }
                self.files.push((tid, stat, schedstat));
                self.files.len() - 1
            }
        };
        let mut buf = [0u8; 512];
        let state = match self.files[i].1.read_at(&mut buf, 0) {
            Ok(n) => parse_state(&buf[..n]),
            Err(e) => {
                let (_, stat, schedstat) = self.files.remove(i);
                if e.raw_os_error() != Some(libc::ESRCH) {
                    // Not "the thread exited": our descriptors may have been closed behind
                    // our back (a `close_range` in user code) and their numbers reused by
                    // someone else. Closing them now could close that someone's file: leak
                    // them instead (this does not happen in a sane program).
                    std::mem::forget(stat);
                    std::mem::forget(schedstat);
                }
                return unknown;
            }
        };
        let ran_ns = self.files[i].2.as_ref().and_then(|f| {
            let n = f.read_at(&mut buf, 0).ok()?;
            std::str::from_utf8(&buf[..n])
                .ok()?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        });
        Sample { state, ran_ns }
    }
}

/// The state field of a `stat` line: `pid (comm) S ...`. `comm` may hold spaces and
/// parentheses, so the state is the first field after the *last* `)`.
fn parse_state(stat: &[u8]) -> ThreadState {
    let Some(close) = stat.iter().rposition(|&b| b == b')') else {
        return ThreadState::Unknown;
    };
    match stat.get(close + 2) {
        Some(b'R') => ThreadState::Running,
        Some(b'S') => ThreadState::Blocked,
        _ => ThreadState::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_state_after_the_last_parenthesis() {
        assert_eq!(parse_state(b"12 (goro-m1) S 1 2 3"), ThreadState::Blocked);
        assert_eq!(parse_state(b"12 (a) b) R 1 2 3"), ThreadState::Running);
        assert_eq!(parse_state(b"12 (x) D 1"), ThreadState::Unknown);
        assert_eq!(parse_state(b"12 (x) T 1"), ThreadState::Unknown);
        assert_eq!(parse_state(b"garbage"), ThreadState::Unknown);
    }

    #[test]
    fn sees_a_waiting_thread_blocked_and_a_spinning_one_running() {
        use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
        use std::sync::{Arc, mpsc};
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel::<()>();
        let (waiter, spinner) = (Arc::new(AtomicI32::new(0)), Arc::new(AtomicI32::new(0)));
        let w = {
            let tid = waiter.clone();
            std::thread::spawn(move || {
                tid.store(gettid(), Ordering::SeqCst);
                rx.recv().unwrap(); // blocked on a futex until told
            })
        };
        let s = {
            let (tid, stop) = (spinner.clone(), stop.clone());
            std::thread::spawn(move || {
                tid.store(gettid(), Ordering::SeqCst);
                while !stop.load(Ordering::Relaxed) {
                    std::hint::spin_loop();
                }
            })
        };
        while waiter.load(Ordering::SeqCst) == 0 || spinner.load(Ordering::SeqCst) == 0 {
            std::thread::yield_now();
        }
        let mut files = StatFiles::new();
        // The waiter is R only until it reaches its futex wait.
        while files.sample(waiter.load(Ordering::SeqCst)).state != ThreadState::Blocked {
            std::thread::yield_now();
        }
        for _ in 0..50 {
            assert_eq!(
                files.sample(waiter.load(Ordering::SeqCst)).state,
                ThreadState::Blocked
            );
            // R is running or runnable: true of a spinner even on a loaded machine.
            assert_eq!(
                files.sample(spinner.load(Ordering::SeqCst)).state,
                ThreadState::Running
            );
        }
        // A waiting thread's run time stands still; a spinning one's grows.
        let w1 = files.sample(waiter.load(Ordering::SeqCst)).ran_ns;
        let s1 = files.sample(spinner.load(Ordering::SeqCst)).ran_ns;
        std::thread::sleep(std::time::Duration::from_millis(20));
        let w2 = files.sample(waiter.load(Ordering::SeqCst)).ran_ns;
        let s2 = files.sample(spinner.load(Ordering::SeqCst)).ran_ns;
        if w1.is_some() {
            assert_eq!(w1, w2, "the waiter ran while blocked");
            assert!(
                s2 > s1,
                "the spinner's run time did not grow: {s1:?} -> {s2:?}"
            );
        }
        tx.send(()).unwrap();
        stop.store(true, Ordering::SeqCst);
        w.join().unwrap();
        s.join().unwrap();
        assert_eq!(files.sample(-1).state, ThreadState::Unknown);
    }
}
