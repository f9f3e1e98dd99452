//! A burst's memory is given back while the program sits idle: 100,000 goroutines park and
//! exit, then nothing runs at all (every M asleep, the main thread in `std::thread::sleep`),
//! and the stacks they dirtied must still be released within seconds (sysmon paces the
//! scavenger; it used to run only when an M went to sleep, so an idle program kept its
//! peak RSS for good). Its own test binary: it reads the process's RSS.

mod common;
use common::{rss_bytes, watchdog};
use runtime::{WaitReason, Waiter};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[test]
fn an_idle_program_gives_a_bursts_stacks_back() {
    const N: usize = 100_000;
    watchdog(60, || {
        let before = rss_bytes();
        // The burst: N goroutines, each touching a few KiB of stack, all parked at once.
        let parked = Arc::new(AtomicUsize::new(0));
        let waiters = Arc::new(Mutex::new(Vec::with_capacity(N)));
        let done = Arc::new(AtomicUsize::new(0));
        for _ in 0..N {
            let (parked, waiters, done) = (parked.clone(), waiters.clone(), done.clone());
            runtime::go(move || {
                let mut frame = [1u8; 8 * 1024];
                std::hint::black_box(&mut frame);
                waiters.lock().unwrap().push(Waiter::current());
                parked.fetch_add(1, Ordering::SeqCst);
                runtime::park(WaitReason::Park);
                std::hint::black_box(&frame);
                done.fetch_add(1, Ordering::SeqCst);
            });
        }
        while parked.load(Ordering::SeqCst) < N {
            std::thread::sleep(Duration::from_millis(5));
        }
        let peak = rss_bytes();
        for w in waiters.lock().unwrap().drain(..) {
            w.unpark();
        }
        while done.load(Ordering::SeqCst) < N {
            std::thread::sleep(Duration::from_millis(5));
        }
        // Idle: no goroutine left, nobody wakes an M.
        let t = Instant::now();
        let bound = before + 64 * 1024 * 1024;
        let mut now = rss_bytes();
        while now > bound && t.elapsed() < Duration::from_secs(8) {
            std::thread::sleep(Duration::from_millis(100));
            now = rss_bytes();
        }
        let mib = |b: usize| b / (1024 * 1024);
        eprintln!(
            "rss: before {} MiB, peak {} MiB, after {:.1?} idle {} MiB",
            mib(before),
            mib(peak),
            t.elapsed(),
            mib(now)
        );
        assert!(
            peak > bound,
            "the burst should have dirtied more than the bound ({} MiB)",
            mib(peak)
        );
        assert!(
            now <= bound,
            "still {} MiB resident after {:?} idle (before the burst: {} MiB, peak {} MiB)",
            mib(now),
            t.elapsed(),
            mib(before),
            mib(peak)
        );
    });
}
