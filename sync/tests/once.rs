//! goro's Once, OnceCell and OnceValue under concurrent first callers (goroutines and
//! threads), and with a panicking first call.

#[path = "../../runtime/tests/common/mod.rs"]
mod common;
#[path = "../../chan/tests/support/mod.rs"]
mod support;

use common::watchdog;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use sync::{Once, OnceCell, OnceValue, WaitGroup};

#[test]
fn one_run_and_every_caller_waits_for_it() {
    watchdog(30, || {
        let once = Arc::new(Once::new());
        let runs = Arc::new(AtomicUsize::new(0));
        let effect = Arc::new(AtomicUsize::new(0));
        let call = {
            let (once, runs, effect) = (once.clone(), runs.clone(), effect.clone());
            move || {
                once.call_once(|| {
                    runs.fetch_add(1, Ordering::SeqCst);
                    // Slow, so the others arrive while it runs and must wait.
                    runtime::sleep(std::time::Duration::from_millis(20));
                    effect.store(42, Ordering::Relaxed);
                });
                // Whoever returns sees the completed effect.
                assert_eq!(effect.load(Ordering::Relaxed), 42);
            }
        };
        let wg = WaitGroup::new();
        for _ in 0..16 {
            wg.go(call.clone());
        }
        let threads: Vec<_> = (0..4).map(|_| std::thread::spawn(call.clone())).collect();
        wg.wait();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert!(once.is_completed());
    });
}

#[test]
fn a_panicking_first_call_still_counts_as_done() {
    watchdog(30, || {
        let once = Arc::new(Once::new());
        let o2 = once.clone();
        let r =
            runtime::spawn(move || o2.call_once(|| panic!("expected: first call panics"))).join();
        assert!(r.is_err());
        assert!(once.is_completed());
        let mut ran = false;
        once.call_once(|| ran = true);
        assert!(!ran, "Go's Once does not run f again after a panic");
    });
}

#[test]
fn once_cell_initialises_once_and_retries_after_a_panic() {
    watchdog(30, || {
        let cell: Arc<OnceCell<String>> = Arc::new(OnceCell::new());
        let c2 = cell.clone();
        let r = runtime::spawn(move || {
            c2.get_or_init(|| panic!("expected: initialiser panics"));
        })
        .join();
        assert!(r.is_err());
        assert!(
            cell.get().is_none(),
            "a panicking initialiser leaves the cell empty"
        );
        let inits = Arc::new(AtomicUsize::new(0));
        let wg = WaitGroup::new();
        for i in 0..8 {
            let (cell, inits) = (cell.clone(), inits.clone());
            wg.go(move || {
                let v = cell.get_or_init(|| {
                    inits.fetch_add(1, Ordering::SeqCst);
                    format!("v{i}")
                });
                assert!(v.starts_with('v'));
            });
        }
        wg.wait();
        assert_eq!(inits.load(Ordering::SeqCst), 1);
        let v = cell.get().unwrap().clone();
        assert_eq!(cell.set("other".into()), Err("other".to_string()));
        let mut cell = Arc::try_unwrap(cell).unwrap();
        assert_eq!(cell.take(), Some(v));
        assert!(cell.get().is_none());
    });
}

#[test]
fn once_value_computes_once_and_replays_a_panic() {
    watchdog(30, || {
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let v = Arc::new(OnceValue::new(move || {
            c.fetch_add(1, Ordering::SeqCst);
            vec![1, 2, 3]
        }));
        let wg = WaitGroup::new();
        for _ in 0..8 {
            let v = v.clone();
            wg.go(move || assert_eq!(v.get().len(), 3));
        }
        wg.wait();
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        let bad: OnceValue<u32, _> = OnceValue::new(|| -> u32 { panic!("expected: bad value") });
        support::expect_panic("expected: bad value", || *bad.get());
        support::expect_panic(
            "sync: OnceValue function panicked: expected: bad value",
            || *bad.get(),
        );
    });
}
