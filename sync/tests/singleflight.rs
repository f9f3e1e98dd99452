//! `Singleflight` (x/sync/singleflight): Go's tests' cases, ported, plus concurrency and
//! panic propagation. Every test waits under the watchdog.

#[path = "../../runtime/tests/common/mod.rs"]
mod common;
#[path = "../../chan/tests/support/mod.rs"]
mod support;

use common::watchdog;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use support::{panic_message, quiet_expected_panics};
use sync::{PanicError, Singleflight, WaitGroup};

/// Go's TestDo: a lone call runs the function and is not shared.
#[test]
fn a_lone_call_runs_and_is_not_shared() {
    let g = Singleflight::<&str, String>::new();
    assert_eq!(
        g.do_("key", || "bar".to_string()),
        ("bar".to_string(), false)
    );
    // Nothing is cached: the next call runs again.
    assert_eq!(
        g.do_("key", || "baz".to_string()),
        ("baz".to_string(), false)
    );
    assert_eq!(g.in_flight_callers(&"key"), 0);
}

/// Go's TestDoDupSuppress, with 100 callers: the function runs once while they all wait.
#[test]
fn a_hundred_concurrent_callers_on_one_key_run_the_function_once() {
    watchdog(60, || {
        const N: usize = 100;
        let g = Arc::new(Singleflight::<u32, u64>::new());
        let calls = Arc::new(AtomicUsize::new(0));
        let release = Arc::new(WaitGroup::new());
        release.add(1);
        let results = runtime::block_on({
            let (g, calls, release) = (g.clone(), calls.clone(), release.clone());
            move || {
                let hs: Vec<_> = (0..N)
                    .map(|_| {
                        let (g, calls, release) = (g.clone(), calls.clone(), release.clone());
                        runtime::spawn(move || {
                            g.do_(7, || {
                                calls.fetch_add(1, Ordering::SeqCst);
                                release.wait();
                                4242
                            })
                        })
                    })
                    .collect();
                while g.in_flight_callers(&7) < N {
                    runtime::gosched();
                }
                release.done();
                hs.into_iter()
                    .map(|h| h.join().unwrap())
                    .collect::<Vec<_>>()
            }
        });
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "the function ran more than once"
        );
        assert!(results.iter().all(|r| *r == (4242, true)), "{results:?}");
    });
}

/// Calls for different keys do not wait for each other.
#[test]
fn different_keys_run_independently() {
    watchdog(60, || {
        let g = Arc::new(Singleflight::<u32, u32>::new());
        let release = Arc::new(WaitGroup::new());
        release.add(1);
        runtime::block_on({
            let (g, release) = (g.clone(), release.clone());
            move || {
                let blocked = {
                    let (g, release) = (g.clone(), release.clone());
                    runtime::spawn(move || {
                        g.do_(1, || {
                            release.wait();
                            1
                        })
                    })
                };
                while g.in_flight_callers(&1) < 1 {
                    runtime::gosched();
                }
                // Key 2 runs while key 1 is held.
                assert_eq!(g.do_(2, || 2), (2, false));
                release.done();
                assert_eq!(blocked.join().unwrap(), (1, false));
            }
        });
    });
}

/// A panic in the function reaches every caller: the runner with its own payload, each
/// waiter with a `PanicError` carrying the message.
#[test]
fn a_panic_in_the_function_reaches_every_caller() {
    quiet_expected_panics();
    watchdog(60, || {
        const WAITERS: usize = 5;
        let g = Arc::new(Singleflight::<&str, u32>::new());
        let release = Arc::new(WaitGroup::new());
        release.add(1);
        let (runner, waiters) = runtime::block_on({
            let (g, release) = (g.clone(), release.clone());
            move || {
                let runner = {
                    let (g, release) = (g.clone(), release.clone());
                    runtime::spawn(move || {
                        panic::catch_unwind(AssertUnwindSafe(|| {
                            g.do_("k", || {
                                release.wait();
                                panic!("backend exploded")
                            })
                        }))
                        .map_err(|p| panic_message(&*p))
                    })
                };
                while g.in_flight_callers(&"k") < 1 {
                    runtime::gosched();
                }
                let waiters: Vec<_> = (0..WAITERS)
                    .map(|_| {
                        let g = g.clone();
                        runtime::spawn(move || {
                            panic::catch_unwind(AssertUnwindSafe(|| g.do_("k", || 0)))
                                .map_err(|p| p.downcast::<PanicError>().map(|e| *e))
                        })
                    })
                    .collect();
                while g.in_flight_callers(&"k") < 1 + WAITERS {
                    runtime::gosched();
                }
                release.done();
                let runner = runner.join().unwrap();
                let waiters: Vec<_> = waiters.into_iter().map(|h| h.join().unwrap()).collect();
                (runner, waiters)
            }
        });
        assert_eq!(runner, Err("backend exploded".to_string()));
        for w in waiters {
            match w {
                Err(Ok(e)) => assert_eq!(e.message, "backend exploded"),
                other => panic!("a waiter did not get the PanicError: {other:?}"),
            }
        }
        // The key is free again.
        assert_eq!(g.do_("k", || 5), (5, false));
    });
}

/// Go's TestForget: after `forget`, a new call runs the function although the old one is
/// still in flight; the old call still finishes for its own caller.
#[test]
fn forget_lets_a_new_call_run_while_the_old_one_is_in_flight() {
    watchdog(60, || {
        let g = Arc::new(Singleflight::<&str, u32>::new());
        let release = Arc::new(WaitGroup::new());
        release.add(1);
        runtime::block_on({
            let (g, release) = (g.clone(), release.clone());
            move || {
                let first = {
                    let (g, release) = (g.clone(), release.clone());
                    runtime::spawn(move || {
                        g.do_("key", || {
                            release.wait();
                            1
                        })
                    })
                };
                while g.in_flight_callers(&"key") < 1 {
                    runtime::gosched();
                }
                g.forget(&"key");
                assert_eq!(g.do_("key", || 2), (2, false), "forgotten: runs anew");
                release.done();
                assert_eq!(first.join().unwrap(), (1, false));
                assert_eq!(g.do_("key", || 3), (3, false));
            }
        });
    });
}

/// Go's TestDoChan: the result arrives on the channel; a second caller's channel shares it.
#[test]
fn do_chan_delivers_the_result_and_shares_it() {
    watchdog(60, || {
        let g = Arc::new(Singleflight::<&str, String>::new());
        let release = Arc::new(WaitGroup::new());
        release.add(1);
        runtime::block_on({
            let (g, release) = (g.clone(), release.clone());
            move || {
                let r1 = {
                    let release = release.clone();
                    g.do_chan("key", move || {
                        release.wait();
                        "bar".to_string()
                    })
                };
                while g.in_flight_callers(&"key") < 1 {
                    runtime::gosched();
                }
                let r2 = g.do_chan("key", || unreachable!("a waiter does not run the function"));
                assert_eq!(g.in_flight_callers(&"key"), 2);
                release.done();
                for r in [r1, r2] {
                    let got = r.recv().expect("a result");
                    assert_eq!(got.val, "bar");
                    assert!(got.shared);
                }
                let lone = g.do_chan("key", || "baz".to_string()).recv().unwrap();
                assert_eq!((lone.val.as_str(), lone.shared), ("baz", false));
            }
        });
    });
}

/// Plain threads wait on a goroutine's call (and the other way round).
#[test]
fn threads_and_goroutines_share_one_call() {
    watchdog(60, || {
        let g = Arc::new(Singleflight::<u8, u8>::new());
        let release = Arc::new(WaitGroup::new());
        release.add(1);
        let runner = {
            let (g, release) = (g.clone(), release.clone());
            std::thread::spawn(move || {
                g.do_(0, || {
                    release.wait();
                    9
                })
            })
        };
        while g.in_flight_callers(&0) < 1 {
            std::thread::yield_now();
        }
        let waiter = {
            let g = g.clone();
            std::thread::spawn(move || runtime::block_on(move || g.do_(0, || 0)))
        };
        while g.in_flight_callers(&0) < 2 {
            std::thread::yield_now();
        }
        release.done();
        assert_eq!(runner.join().unwrap(), (9, true));
        assert_eq!(waiter.join().unwrap(), (9, true));
    });
}

#[test]
fn panic_error_displays_its_message() {
    let e = PanicError {
        message: "boom".into(),
    };
    assert_eq!(
        e.to_string(),
        "singleflight: the shared call panicked: boom"
    );
}
