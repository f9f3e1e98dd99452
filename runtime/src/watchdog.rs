//! [`watchdog`]: a deadline on a stretch of code that, when missed, prints the goroutine dump
//! and ends the process (Go's `go test -timeout`); `#[goro::test]` arms one per test.

use std::io::Write as _;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// One armed watchdog.
struct Armed {
    id: u64,
    name: &'static str,
    hint: &'static str,
    timeout: Duration,
    start: Instant,
    deadline: Instant,
}

struct State {
    armed: Vec<Armed>,
    next_id: u64,
    /// Whether the watchdog thread is alive. It exits once nothing is armed, so that an idle
    /// watchdog leaves no thread outside goro behind (such a thread rules out deadlock
    /// verdicts, see [`crate::DEADLOCK_MESSAGE`]).
    thread: bool,
}

static STATE: Mutex<State> = Mutex::new(State {
    armed: Vec::new(),
    next_id: 0,
    thread: false,
});
static CHANGED: Condvar = Condvar::new();

fn state() -> MutexGuard<'static, State> {
    STATE.lock().unwrap_or_else(|e| e.into_inner())
}

/// The guard [`watchdog`] returns: dropping it disarms the watchdog.
#[must_use = "the watchdog is disarmed when this guard is dropped"]
#[derive(Debug)]
pub struct Watchdog {
    id: u64,
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        let mut st = state();
        if let Some(i) = st.armed.iter().position(|a| a.id == self.id) {
            st.armed.swap_remove(i);
        }
        // Wake the thread only when it can leave (nothing armed); otherwise it wakes at the
        // next deadline anyway.
        if st.armed.is_empty() {
            CHANGED.notify_one();
        }
    }
}

/// Arms a watchdog named `name` for `timeout`: if the returned guard has not been dropped by
/// then, the goroutine dump ([`crate::stack_dump`]) is written to stderr, after a line naming
/// the watchdog and every other one still armed (with how long each has run), and the process
/// exits with status 101 (a failed test's). A goroutine cannot be interrupted, so ending the
/// process is the only way out of a hang; Go's `go test -timeout` panics the same way.
///
/// The report goes straight to the process's stderr, not through `eprintln!`, which the test
/// harness would capture and then lose on exit. One thread (named `goro-watchdog`) serves
/// every armed watchdog; it exits when none is armed. While it lives it is a thread outside
/// goro, so the deadlock detector gives no verdict until the hang is reported here.
/// `#[goro::test]` arms one for each test.
///
/// ```
/// use std::time::Duration;
/// let _dog = runtime::watchdog(Duration::from_secs(30), "a phase that must not hang");
/// let v = runtime::block_on(|| runtime::spawn(|| 6 * 7).join().unwrap());
/// assert_eq!(v, 42);
/// // `_dog` is dropped here: disarmed.
/// ```
pub fn watchdog(timeout: Duration, name: &'static str) -> Watchdog {
    arm(timeout, name, "")
}

/// [`watchdog`] with `hint` added to the report's first line.
pub(crate) fn arm(timeout: Duration, name: &'static str, hint: &'static str) -> Watchdog {
    let start = Instant::now();
    let deadline = start
        .checked_add(timeout)
        .unwrap_or_else(|| crate::deadline_after(timeout));
    let mut st = state();
    let id = st.next_id;
    st.next_id += 1;
    st.armed.push(Armed {
        id,
        name,
        hint,
        timeout,
        start,
        deadline,
    });
    if !st.thread {
        std::thread::Builder::new()
            .name("goro-watchdog".into())
            .spawn(run)
            .expect("goro: cannot start the watchdog thread");
        st.thread = true;
    } else if st.armed.iter().all(|a| a.deadline >= deadline) {
        // The thread sleeps until a later deadline than this one.
        CHANGED.notify_one();
    }
    Watchdog { id }
}

/// The watchdog thread: sleeps until the earliest deadline, reports it if its guard is
/// still alive, and leaves when nothing is armed.
fn run() {
    let mut st = state();
    loop {
        let now = Instant::now();
        let Some(first) = st.armed.iter().min_by_key(|a| a.deadline) else {
            st.thread = false;
            return;
        };
        if first.deadline <= now {
            report(first, &st.armed, now);
            std::process::exit(101);
        }
        let wait = first.deadline - now;
        st = CHANGED
            .wait_timeout(st, wait)
            .unwrap_or_else(|e| e.into_inner())
            .0;
    }
}

fn report(fired: &Armed, armed: &[Armed], now: Instant) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(
        err,
        "\ngoro: watchdog: `{}` timed out after {:?}{}\nstill running:",
        fired.name, fired.timeout, fired.hint
    );
    for a in armed {
        let _ = writeln!(err, "    {} ({:.1?})", a.name, now - a.start);
    }
    let _ = writeln!(err);
    let _ = err.flush();
    // The header is out first, should the dump itself get stuck.
    let _ = writeln!(err, "{}", crate::stack_dump());
}
