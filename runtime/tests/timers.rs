//! Sleep and timers.

mod common;
use common::watchdog;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

#[test]
fn sleep_is_accurate() {
    watchdog(60, || {
        runtime::block_on(|| {
            for ms in [1u64, 5, 20] {
                let d = Duration::from_millis(ms);
                let t = Instant::now();
                runtime::sleep(d);
                let took = t.elapsed();
                assert!(took >= d, "slept {took:?}, asked for {d:?}");
                // Generous: correctness, not a benchmark (that is W11's job).
                assert!(
                    took < d + Duration::from_millis(250),
                    "slept {took:?} for {d:?}"
                );
            }
        });
    });
}

#[test]
fn many_sleepers_all_wake() {
    watchdog(60, || {
        let woke = Arc::new(AtomicUsize::new(0));
        let t = Instant::now();
        let hs: Vec<_> = (0..10_000)
            .map(|i| {
                let woke = woke.clone();
                runtime::spawn(move || {
                    runtime::sleep(Duration::from_millis(10 + (i % 10)));
                    woke.fetch_add(1, Ordering::Relaxed);
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(woke.load(Ordering::Relaxed), 10_000);
        assert!(t.elapsed() >= Duration::from_millis(10));
    });
}

#[test]
fn a_timer_added_while_every_m_sleeps_still_fires() {
    watchdog(60, || {
        // Let every M go idle, then add a timer from a plain thread.
        std::thread::sleep(Duration::from_millis(50));
        let (tx, rx) = std::sync::mpsc::channel();
        let t = Instant::now();
        let _timer = runtime::after_func(Duration::from_millis(15), move || {
            tx.send(Instant::now()).unwrap()
        });
        let fired = rx.recv().unwrap();
        assert!(fired - t >= Duration::from_millis(15));
    });
}

#[test]
fn a_stopped_after_func_never_runs() {
    watchdog(60, || {
        let ran = Arc::new(AtomicUsize::new(0));
        let r = ran.clone();
        let t = runtime::after_func(Duration::from_millis(20), move || {
            r.fetch_add(1, Ordering::SeqCst);
        });
        assert!(t.stop(), "stopped before firing");
        assert!(!t.stop(), "a second stop reports it was already stopped");
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(ran.load(Ordering::SeqCst), 0);
    });
}

#[test]
fn early_wakeups_do_not_leak_timers() {
    // A park_until that is woken early leaves a stale heap entry; a hot loop of them must
    // not grow without bound or slow down. (Correctness check: it finishes, and the
    // goroutines involved are all accounted for.)
    watchdog(60, || {
        runtime::block_on(|| {
            let me = runtime::Waiter::current();
            for _ in 0..20_000 {
                me.unpark();
                runtime::park_until(
                    runtime::WaitReason::Timer,
                    Instant::now() + Duration::from_secs(60),
                );
            }
        });
    });
}
