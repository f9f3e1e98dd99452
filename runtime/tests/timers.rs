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
        // Wait until every M has gone idle, then add a timer from a plain thread.
        common::wait_until(|| {
            let s = runtime::sched_stats();
            s.idle_procs == s.gomaxprocs && s.spinning_threads == 0
        });
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

/// An `after_func` callback that counts its runs and sends the time of each on `tx`.
fn counting(
    runs: &Arc<AtomicUsize>,
) -> (
    impl Fn() + Send + Sync + 'static,
    std::sync::mpsc::Receiver<Instant>,
) {
    let (tx, rx) = std::sync::mpsc::channel();
    let r = runs.clone();
    let f = move || {
        r.fetch_add(1, Ordering::SeqCst);
        let _ = tx.send(Instant::now());
    };
    (f, rx)
}

#[test]
fn reset_of_a_pending_after_func_returns_true_and_runs_once_at_the_new_time() {
    watchdog(60, || {
        let runs = Arc::new(AtomicUsize::new(0));
        let (f, rx) = counting(&runs);
        let t = runtime::after_func(Duration::from_millis(20), f);
        let start = Instant::now();
        assert!(t.reset(Duration::from_millis(120)), "it was pending");
        let fired = rx.recv_timeout(Duration::from_secs(20)).expect("it ran");
        assert!(
            fired - start >= Duration::from_millis(120),
            "ran {:?} after the reset: the first arming was not cancelled",
            fired - start
        );
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(runs.load(Ordering::SeqCst), 1, "one run per reset");
        assert!(!t.stop(), "it had fired");
    });
}

#[test]
fn reset_after_firing_returns_false_and_runs_again() {
    watchdog(60, || {
        let runs = Arc::new(AtomicUsize::new(0));
        let (f, rx) = counting(&runs);
        let t = runtime::after_func(Duration::from_millis(5), f);
        rx.recv_timeout(Duration::from_secs(20)).expect("first run");
        let start = Instant::now();
        assert!(!t.reset(Duration::from_millis(30)), "it had fired");
        let fired = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("second run");
        assert!(fired - start >= Duration::from_millis(30));
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    });
}

#[test]
fn reset_after_stop_returns_false_and_runs_again() {
    watchdog(60, || {
        let runs = Arc::new(AtomicUsize::new(0));
        let (f, rx) = counting(&runs);
        let t = runtime::after_func(Duration::from_secs(3600), f);
        assert!(t.stop());
        assert!(!t.reset(Duration::from_millis(10)), "it had been stopped");
        rx.recv_timeout(Duration::from_secs(20)).expect("it ran");
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert!(!t.stop(), "it had fired");
    });
}

#[test]
fn a_reset_from_inside_the_callback_re_arms_it() {
    // Go's idiom for a self-rescheduling AfterFunc: the callback resets its own timer.
    watchdog(60, || {
        let runs = Arc::new(AtomicUsize::new(0));
        let slot: Arc<std::sync::OnceLock<runtime::AfterFunc>> = Arc::default();
        let (r, s) = (runs.clone(), slot.clone());
        let t = runtime::after_func(Duration::from_secs(3600), move || {
            if r.fetch_add(1, Ordering::SeqCst) + 1 < 5 {
                let t = s.get().expect("set before the first run completes");
                assert!(
                    !t.reset(Duration::from_millis(1)),
                    "this run had claimed it"
                );
            }
        });
        // The callback finds its timer in the slot: fill it before the first run.
        slot.set(t.clone()).unwrap();
        assert!(t.reset(Duration::from_millis(1)));
        common::wait_until(|| runs.load(Ordering::SeqCst) >= 5);
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(runs.load(Ordering::SeqCst), 5);
    });
}

#[test]
fn reset_and_stop_racing_with_firings_run_once_per_arming() {
    // Each arming (the first, and one per reset) is either cancelled by exactly one reset or
    // stop that returns true, or runs exactly once: so the runs must total
    // 1 + resets - (resets and stops that returned true).
    watchdog(120, || {
        for round in 0..4 {
            let runs = Arc::new(AtomicUsize::new(0));
            let r = runs.clone();
            let t = runtime::after_func(Duration::ZERO, move || {
                r.fetch_add(1, Ordering::SeqCst);
            });
            let resets = Arc::new(AtomicUsize::new(0));
            let cancelled = Arc::new(AtomicUsize::new(0));
            let work = move |t: runtime::AfterFunc,
                             resets: Arc<AtomicUsize>,
                             cancelled: Arc<AtomicUsize>,
                             seed: u64| {
                let mut x = seed | 1;
                for _ in 0..3_000 {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let d = Duration::from_micros(x % 40);
                    let hit = if x.is_multiple_of(5) {
                        t.stop()
                    } else {
                        resets.fetch_add(1, Ordering::SeqCst);
                        t.reset(d)
                    };
                    if hit {
                        cancelled.fetch_add(1, Ordering::SeqCst);
                    }
                    if x.is_multiple_of(3) {
                        std::thread::yield_now();
                    }
                }
            };
            let mut threads = Vec::new();
            let mut gs = Vec::new();
            for i in 0..2u64 {
                let (t1, re, c) = (t.clone(), resets.clone(), cancelled.clone());
                threads.push(std::thread::spawn(move || {
                    work(t1, re, c, round * 10 + i + 1)
                }));
                let (t2, re, c) = (t.clone(), resets.clone(), cancelled.clone());
                gs.push(runtime::spawn(move || {
                    work(t2, re, c, round * 10 + i + 100)
                }));
            }
            for h in threads {
                h.join().unwrap();
            }
            for g in gs {
                g.join().unwrap();
            }
            // The last arming, if any, is at most 40 µs away; stop nothing more.
            let expected = 1 + resets.load(Ordering::SeqCst) - cancelled.load(Ordering::SeqCst);
            common::wait_until(|| runs.load(Ordering::SeqCst) >= expected);
            std::thread::sleep(Duration::from_millis(20));
            assert_eq!(runs.load(Ordering::SeqCst), expected, "round {round}");
            assert!(!t.stop(), "every arming has fired or been cancelled");
        }
    });
}
