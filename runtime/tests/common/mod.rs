//! Test support: a watchdog so no test can hang.

#![allow(dead_code)]

use std::sync::mpsc;
use std::time::Duration;

/// Runs `f`; if it has not finished after `secs` seconds, prints a goroutine dump and exits
/// the test process with a failure, instead of hanging CI.
pub fn watchdog<T>(secs: u64, f: impl FnOnce() -> T) -> T {
    let (tx, rx) = mpsc::channel::<()>();
    let name = std::thread::current()
        .name()
        .unwrap_or("<unnamed test>")
        .to_string();
    std::thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(Duration::from_secs(secs)) {
            // Straight to the process's stderr: `eprintln!` from this thread would go into
            // the test's captured output, which exit() throws away.
            use std::io::Write as _;
            let _ = writeln!(
                std::io::stderr().lock(),
                "\nwatchdog: test `{name}` still running after {secs}s; goroutines:\n{}",
                runtime::stack_dump()
            );
            std::process::exit(101);
        }
    });
    let r = f();
    drop(tx);
    r
}

/// Polls `cond` (yielding) until it holds; the watchdog bounds how long.
pub fn wait_until(mut cond: impl FnMut() -> bool) {
    while !cond() {
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// Resident memory of this process, from /proc/self/statm.
pub fn rss_bytes() -> usize {
    let s = std::fs::read_to_string("/proc/self/statm").unwrap();
    s.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<usize>()
        .unwrap()
        * 4096
}
