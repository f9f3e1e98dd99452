//! Spawning, joining and ending goroutines.

mod common;
use common::watchdog;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

#[test]
fn a_million_goroutines_spawned_and_joined() {
    watchdog(120, || {
        const N: usize = 1_000_000;
        let sum = runtime::block_on(|| {
            let handles: Vec<_> = (0..N).map(|i| runtime::spawn(move || i)).collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap())
                .sum::<usize>()
        });
        assert_eq!(
            sum,
            N * (N - 1) / 2,
            "every goroutine's value joined exactly once"
        );
    });
}

#[test]
fn nested_spawns_form_a_tree_and_all_finish() {
    fn tree(depth: u32) -> u64 {
        if depth == 0 {
            return 1;
        }
        let l = runtime::spawn(move || tree(depth - 1));
        let r = runtime::spawn(move || tree(depth - 1));
        l.join().unwrap() + r.join().unwrap()
    }
    watchdog(60, || {
        assert_eq!(runtime::block_on(|| tree(14)), 1 << 14);
    });
}

#[test]
fn spawns_from_many_plain_threads_at_once() {
    watchdog(60, || {
        let hits = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let hits = hits.clone();
                std::thread::spawn(move || {
                    let hs: Vec<_> = (0..5_000)
                        .map(|_| {
                            let hits = hits.clone();
                            runtime::spawn(move || {
                                hits.fetch_add(1, Ordering::Relaxed);
                            })
                        })
                        .collect();
                    for h in hs {
                        h.join().unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(hits.load(Ordering::Relaxed), 8 * 5_000);
    });
}

#[test]
fn a_panic_is_reported_through_join_and_the_runtime_stays_healthy() {
    watchdog(30, || {
        let h = runtime::spawn(|| -> u32 { panic!("boom in a goroutine") });
        let err = h.join().unwrap_err();
        assert_eq!(err.downcast_ref::<&str>(), Some(&"boom in a goroutine"));
        // Detached panicking goroutines do not take anything down either.
        for _ in 0..100 {
            runtime::go(|| panic!("detached boom"));
        }
        let v = runtime::block_on(|| {
            let hs: Vec<_> = (0..1000).map(|i| runtime::spawn(move || i * 2)).collect();
            hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
        });
        assert_eq!(v, 999 * 1000);
    });
}

#[test]
fn block_on_resumes_the_panic_in_the_caller() {
    watchdog(30, || {
        let r = std::panic::catch_unwind(|| runtime::block_on(|| panic!("inner")));
        assert_eq!(r.unwrap_err().downcast_ref::<&str>(), Some(&"inner"));
    });
}

#[test]
fn goexit_runs_drops_and_reports_goexit() {
    struct Flag(Arc<AtomicUsize>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    watchdog(30, || {
        let dropped = Arc::new(AtomicUsize::new(0));
        let d = dropped.clone();
        let h = runtime::spawn(move || {
            let _f = Flag(d);
            runtime::goexit();
        });
        assert!(h.join().unwrap_err().is::<runtime::Goexit>());
        assert_eq!(
            dropped.load(Ordering::SeqCst),
            1,
            "goexit ran the pending drop"
        );
    });
}

#[test]
#[should_panic(expected = "goexit called outside a goroutine")]
fn goexit_on_a_plain_thread_panics() {
    runtime::goexit();
}

#[test]
fn scope_goroutines_borrow_from_the_caller() {
    watchdog(30, || {
        let data: Vec<u64> = (1..=1000).collect();
        let mut partial = [0u64; 4];
        runtime::scope(|s| {
            for (chunk, out) in data.chunks(250).zip(partial.iter_mut()) {
                s.go(move || {
                    runtime::sleep(Duration::from_millis(1)); // park while borrowing
                    *out = chunk.iter().sum();
                });
            }
        });
        assert_eq!(partial.iter().sum::<u64>(), 500_500);
        let total = runtime::scope(|s| {
            let h = s.spawn(|| data.len());
            h.join().unwrap()
        });
        assert_eq!(total, 1000);
    });
}

#[test]
fn scope_waits_for_goroutines_even_when_used_inside_a_goroutine() {
    watchdog(30, || {
        let n = runtime::block_on(|| {
            let counter = AtomicUsize::new(0);
            runtime::scope(|s| {
                for _ in 0..100 {
                    s.go(|| {
                        runtime::gosched();
                        counter.fetch_add(1, Ordering::Relaxed);
                    });
                }
            });
            counter.load(Ordering::Relaxed)
        });
        assert_eq!(n, 100);
    });
}

#[test]
fn scope_reports_an_unjoined_panicking_goroutine() {
    watchdog(30, || {
        let r = std::panic::catch_unwind(|| {
            runtime::scope(|s| {
                s.go(|| panic!("scoped boom"));
            })
        });
        let msg = r.unwrap_err();
        assert_eq!(
            msg.downcast_ref::<&str>(),
            Some(&"a scoped goroutine panicked")
        );
    });
}

#[test]
fn num_goroutine_counts_parked_goroutines() {
    watchdog(30, || {
        let release = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..50)
            .map(|_| {
                let r = release.clone();
                runtime::spawn(move || {
                    while r.load(Ordering::Acquire) == 0 {
                        runtime::sleep(Duration::from_millis(1));
                    }
                })
            })
            .collect();
        // Other tests in this process only add goroutines, so 50 is a lower bound.
        let n = runtime::num_goroutine();
        assert!(n >= 50, "50 live goroutines counted, got {n}");
        release.store(1, Ordering::Release);
        for h in hs {
            h.join().unwrap();
        }
    });
}

runtime::goroutine_local! {
    static LOCAL: std::cell::Cell<u64> = std::cell::Cell::new(0);
}

#[test]
fn goroutine_locals_are_per_goroutine_and_survive_parks() {
    watchdog(30, || {
        let hs: Vec<_> = (1..=64u64)
            .map(|i| {
                runtime::spawn(move || {
                    LOCAL.with(|c| c.set(i));
                    for _ in 0..10 {
                        runtime::gosched();
                        runtime::sleep(Duration::from_micros(100));
                        assert_eq!(LOCAL.with(|c| c.get()), i, "value moved with the goroutine");
                    }
                    i
                })
            })
            .collect();
        for (i, h) in hs.into_iter().enumerate() {
            assert_eq!(h.join().unwrap(), i as u64 + 1);
        }
        // A fresh goroutine (maybe reusing a G record) starts from the initial value.
        assert_eq!(runtime::block_on(|| LOCAL.with(|c| c.get())), 0);
    });
}

#[test]
fn large_closures_are_moved_intact() {
    watchdog(30, || {
        let big = [7u8; 8 * 1024];
        let h = runtime::spawn(move || big.iter().map(|&b| b as u64).sum::<u64>());
        assert_eq!(h.join().unwrap(), 7 * 8 * 1024);
    });
}

#[test]
fn builder_after_start_reports_already_started() {
    runtime::block_on(|| ());
    assert_eq!(
        runtime::Builder::new().gomaxprocs(3).init(),
        Err(runtime::InitError::AlreadyStarted)
    );
}

fn bump_global() {
    GLOBAL.fetch_add(1, Ordering::SeqCst);
}
static GLOBAL: AtomicUsize = AtomicUsize::new(0);

#[test]
fn go_macro_clones_the_named_handles_and_keeps_the_other_forms() {
    watchdog(30, || {
        let hits = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = std::sync::mpsc::channel::<usize>();
        // go func() { hits++; tx <- 1 }(): each named handle is cloned into the goroutine.
        runtime::go!(hits, tx => {
            hits.fetch_add(1, Ordering::SeqCst);
            tx.send(1).unwrap();
        });
        assert_eq!(rx.recv().unwrap(), 1);
        // The caller kept its own handles and uses them after the go!.
        hits.fetch_add(1, Ordering::SeqCst);
        tx.send(2).unwrap();
        assert_eq!(rx.recv().unwrap(), 2);
        assert_eq!(hits.load(Ordering::SeqCst), 2);
        // The goroutine's clone goes with it (the watchdog bounds the wait).
        while Arc::strong_count(&hits) > 1 {
            std::thread::yield_now();
        }
        // The other forms still parse: a function name, a closure, a block.
        runtime::go!(bump_global);
        runtime::go!(move || {
            bump_global();
        });
        runtime::go!({ bump_global() });
        while GLOBAL.load(Ordering::SeqCst) < 3 {
            std::thread::yield_now();
        }
    });
}

/// `scope` waits without a lock (a counter with a waiting flag): it must never return while a
/// goroutine or an unjoined handle is alive, whether they end before it waits, while it
/// parks, or all at once; from a goroutine and from a plain thread.
#[test]
fn scope_never_returns_before_its_last_goroutine_however_they_race() {
    fn round(i: usize) {
        let done = AtomicUsize::new(0);
        let handles_dropped = AtomicUsize::new(0);
        runtime::scope(|s| {
            let done = &done;
            for k in 0..(i % 17) {
                s.go(move || {
                    if k % 3 == 0 {
                        runtime::gosched();
                    }
                    done.fetch_add(1, Ordering::SeqCst);
                });
            }
            let hs: Vec<_> = (0..(i % 5))
                .map(|k| {
                    s.spawn(move || {
                        if k % 2 == 0 {
                            runtime::sleep(Duration::from_micros(50));
                        }
                        done.fetch_add(1, Ordering::SeqCst);
                        k
                    })
                })
                .collect();
            // Join some, leave the others to the scope.
            for (k, h) in hs.into_iter().enumerate() {
                if k % 2 == 0 {
                    assert_eq!(h.join().unwrap(), k);
                } else {
                    handles_dropped.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
        assert_eq!(done.load(Ordering::SeqCst), i % 17 + i % 5, "round {i}");
        let _ = handles_dropped;
    }
    watchdog(120, || {
        runtime::block_on(|| {
            for i in 0..400 {
                round(i);
            }
        });
        for i in 0..400 {
            round(i);
        }
    });
}
