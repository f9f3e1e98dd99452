//! `iter::pull` (Go 1.23's `iter.Pull`): Go's iter tests' cases, and the things a coroutine on
//! goro's scheduler must survive: parking inside the producer, migrating between threads,
//! panics both ways, stops at every point, nesting.

mod common;

use common::watchdog;
use runtime::iter::{self, Pull};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

/// Go's `count(n)`: yields 0..n, returning early when yield says so.
fn count(n: usize) -> impl FnOnce(&mut dyn FnMut(usize) -> bool) + Send {
    move |y| {
        for i in 0..n {
            if !y(i) {
                return;
            }
        }
    }
}

#[test]
fn pull_yields_every_value_then_none_forever() {
    watchdog(30, || {
        for end in 0..4 {
            let mut next = iter::pull(count(end));
            for i in 0..end {
                assert_eq!(next.next(), Some(i));
            }
            assert_eq!(next.next(), None);
            assert_eq!(next.next(), None);
            next.stop();
            next.stop();
            assert_eq!(next.next(), None);
        }
    });
}

#[test]
fn stop_before_the_first_next_never_runs_the_producer() {
    watchdog(30, || {
        let ran = Arc::new(AtomicBool::new(false));
        let dropped = Arc::new(AtomicBool::new(false));
        struct Flag(Arc<AtomicBool>);
        impl Drop for Flag {
            fn drop(&mut self) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let (r, d) = (ran.clone(), Flag(dropped.clone()));
        let mut next = iter::pull(move |y: &mut dyn FnMut(i32) -> bool| {
            let _keep = &d;
            r.store(true, Ordering::SeqCst);
            y(1);
        });
        next.stop();
        assert!(!ran.load(Ordering::SeqCst), "a stopped fresh producer ran");
        assert!(
            dropped.load(Ordering::SeqCst),
            "the closure was not dropped"
        );
        assert_eq!(next.next(), None);
        // Dropping without any call at all drops the closure too.
        let dropped = Arc::new(AtomicBool::new(false));
        let d = Flag(dropped.clone());
        let next = iter::pull(move |y: &mut dyn FnMut(i32) -> bool| {
            let _keep = &d;
            y(1);
        });
        drop(next);
        assert!(dropped.load(Ordering::SeqCst));
    });
}

#[test]
fn stop_makes_the_pending_yield_return_false_and_the_producer_finish() {
    watchdog(30, || {
        let after = AtomicUsize::new(0);
        let mut next = iter::pull(|y: &mut dyn FnMut(usize) -> bool| {
            let mut i = 0;
            while y(i) {
                i += 1;
            }
            // Go's deferred cleanup: runs when stop makes yield return false.
            after.store(i + 100, Ordering::SeqCst);
        });
        assert_eq!(next.next(), Some(0));
        assert_eq!(next.next(), Some(1));
        next.stop();
        assert_eq!(after.load(Ordering::SeqCst), 101);
        assert_eq!(next.next(), None);
    });
}

#[test]
fn a_producer_that_yields_after_stop_is_unwound_and_its_values_dropped() {
    watchdog(30, || {
        let live = Arc::new(AtomicUsize::new(0));
        struct Counted(Arc<AtomicUsize>);
        impl Drop for Counted {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        let l = live.clone();
        let mut next = iter::pull(move |y: &mut dyn FnMut(Counted) -> bool| {
            l.fetch_add(1, Ordering::SeqCst);
            let _held = Counted(l.clone());
            // Ignores yield's answer, as a careless Go producer might.
            loop {
                l.fetch_add(1, Ordering::SeqCst);
                y(Counted(l.clone()));
            }
        });
        assert!(next.next().is_some());
        next.stop(); // must finish, not loop forever
        assert_eq!(live.load(Ordering::SeqCst), 0, "values leaked");
        // Dropping mid-iteration does the same.
        let l = live.clone();
        let mut next = iter::pull(move |y: &mut dyn FnMut(Counted) -> bool| {
            loop {
                l.fetch_add(1, Ordering::SeqCst);
                y(Counted(l.clone()));
            }
        });
        drop(next.next());
        drop(next);
        assert_eq!(live.load(Ordering::SeqCst), 0);
    });
}

#[test]
fn a_producer_panic_comes_out_of_next_and_then_the_iterator_is_done() {
    watchdog(30, || {
        let mut next = iter::pull(|y: &mut dyn FnMut(i32) -> bool| {
            y(1);
            panic!("producer failed at 2");
        });
        assert_eq!(next.next(), Some(1));
        let err = panic::catch_unwind(AssertUnwindSafe(|| next.next())).unwrap_err();
        assert_eq!(err.downcast_ref::<&str>(), Some(&"producer failed at 2"));
        assert_eq!(next.next(), None);
        // A panic on the way out of a stop comes out of stop.
        let mut next = iter::pull(|y: &mut dyn FnMut(i32) -> bool| {
            if !y(1) {
                panic!("cleanup failed");
            }
        });
        assert_eq!(next.next(), Some(1));
        let err = panic::catch_unwind(AssertUnwindSafe(|| next.stop())).unwrap_err();
        assert_eq!(err.downcast_ref::<&str>(), Some(&"cleanup failed"));
        assert_eq!(next.next(), None);
    });
}

#[test]
fn a_consumer_panic_unwinds_through_a_live_producer() {
    watchdog(30, || {
        let finished = AtomicBool::new(false);
        let r = panic::catch_unwind(AssertUnwindSafe(|| {
            let mut next = iter::pull(|y: &mut dyn FnMut(i32) -> bool| {
                while y(0) {}
                finished.store(true, Ordering::SeqCst);
            });
            next.next();
            panic!("consumer failed");
        }));
        assert!(r.is_err());
        assert!(
            finished.load(Ordering::SeqCst),
            "dropping during a panic did not finish the producer"
        );
    });
}

#[test]
fn the_producer_may_borrow_from_the_caller() {
    watchdog(30, || {
        let words = vec!["go".to_string(), "is".to_string(), "here".to_string()];
        let mut total = 0;
        {
            let next: Pull<'_, &str> = iter::pull(|y| {
                for w in &words {
                    if !y(w.as_str()) {
                        return;
                    }
                }
            });
            for w in next {
                total += w.len();
            }
        }
        assert_eq!(total, 8);
        assert_eq!(words.len(), 3);
    });
}

#[test]
fn pull2_yields_pairs() {
    watchdog(30, || {
        let next = iter::pull2(|y: &mut dyn FnMut(usize, char) -> bool| {
            for (i, c) in "abc".chars().enumerate() {
                if !y(i, c) {
                    return;
                }
            }
        });
        assert_eq!(next.collect::<Vec<_>>(), [(0, 'a'), (1, 'b'), (2, 'c')]);
    });
}

#[test]
fn producers_nest() {
    watchdog(30, || {
        // A producer that pulls from another one and doubles its values.
        let mut outer = iter::pull(|y: &mut dyn FnMut(usize) -> bool| {
            let inner = iter::pull(count(5));
            for v in inner {
                if !y(v * 2) {
                    return;
                }
            }
        });
        assert_eq!(outer.next(), Some(0));
        assert_eq!(outer.next(), Some(2));
        outer.stop(); // stops the outer, whose return drops (stops) the inner
        assert_eq!(outer.next(), None);
        let all: Vec<usize> = iter::pull(|y: &mut dyn FnMut(usize) -> bool| {
            for v in iter::pull(count(4)) {
                if !y(v + 1) {
                    return;
                }
            }
        })
        .collect();
        assert_eq!(all, [1, 2, 3, 4]);
    });
}

#[test]
fn a_producer_that_parks_takes_its_goroutine_with_it() {
    watchdog(60, || {
        runtime::block_on(|| {
            // Many goroutines, each pulling from a producer that sleeps (a timer park) and
            // yields the P: the goroutines park inside their producers and resume on
            // whichever M runs them next, producer frames and all. Whether one resumes on
            // another thread is up to the OS scheduler (on a loaded 2-core machine the second
            // M may barely run), so rounds repeat until one has, for up to 30 s.
            let start = std::time::Instant::now();
            let mut rounds = 0;
            loop {
                rounds += 1;
                let moved = producers_that_park_round();
                if moved > 0 || runtime::gomaxprocs(0) == 1 {
                    break;
                }
                assert!(
                    start.elapsed() < Duration::from_secs(30),
                    "no producer resumed on another thread in {rounds} rounds: the test \
                     tested nothing"
                );
            }
        });
    });
}

/// One round of [`a_producer_that_parks_takes_its_goroutine_with_it`]: 64 goroutines each
/// pull 20 values from a producer that parks; every value arrives in order. Returns how
/// many times a producer found itself on another thread after a park.
fn producers_that_park_round() -> usize {
    let done = Arc::new(AtomicUsize::new(0));
    let moved = Arc::new(AtomicUsize::new(0));
    let mut hs = Vec::new();
    for g in 0..64usize {
        let (done, moved) = (done.clone(), moved.clone());
        hs.push(runtime::spawn(move || {
            let next = iter::pull(move |y: &mut dyn FnMut(usize) -> bool| {
                for k in 0..20 {
                    let before = std::thread::current().id();
                    if k % 7 == 0 {
                        runtime::sleep(Duration::from_millis(1));
                    } else {
                        runtime::gosched();
                    }
                    if std::thread::current().id() != before {
                        moved.fetch_add(1, Ordering::Relaxed);
                    }
                    if !y(g * 1000 + k) {
                        return;
                    }
                }
            });
            let got: Vec<usize> = next.collect();
            assert_eq!(got, (0..20).map(|i| g * 1000 + i).collect::<Vec<_>>());
            done.fetch_add(1, Ordering::SeqCst);
        }));
    }
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(done.load(Ordering::SeqCst), 64);
    moved.load(Ordering::Relaxed)
}

#[test]
fn a_pull_moves_between_goroutines_mid_iteration() {
    watchdog(30, || {
        runtime::block_on(|| {
            let mut next = iter::pull(count(10));
            assert_eq!(next.next(), Some(0));
            let h = runtime::spawn(move || {
                let mut rest = Vec::new();
                for v in next.by_ref() {
                    rest.push(v);
                    runtime::gosched();
                }
                rest
            });
            assert_eq!(h.join().unwrap(), (1..10).collect::<Vec<_>>());
        });
    });
}

#[test]
fn a_plain_thread_can_pull_and_its_producer_can_block() {
    watchdog(30, || {
        let (tx, rx) = std::sync::mpsc::channel();
        let t = std::thread::spawn(move || {
            let mut next = iter::pull(move |y: &mut dyn FnMut(i32) -> bool| {
                runtime::sleep(Duration::from_millis(2)); // parks a plain thread: a futex wait
                while let Ok(v) = rx.recv() {
                    if !y(v) {
                        return;
                    }
                }
            });
            let a = next.next();
            let b = next.next();
            (a, b)
        });
        tx.send(5).unwrap();
        tx.send(6).unwrap();
        assert_eq!(t.join().unwrap(), (Some(5), Some(6)));
    });
}

#[test]
fn many_short_pulls_reuse_their_stacks() {
    watchdog(60, || {
        // 20,000 pulls, each abandoned at a different point: stacks go back to the cache, so
        // this neither runs out of arena nor grows without bound.
        let mut sum = 0usize;
        for i in 0..20_000usize {
            let mut next = iter::pull(count(i % 5));
            match i % 3 {
                0 => sum += next.by_ref().sum::<usize>(),
                1 => sum += next.next().unwrap_or(0),
                _ => drop(next),
            }
        }
        assert!(sum > 0);
    });
}

#[test]
fn goroutines_pull_concurrently_on_every_p() {
    watchdog(60, || {
        runtime::block_on(|| {
            let hs: Vec<_> = (0..200)
                .map(|g| {
                    runtime::spawn(move || {
                        let mut s = 0usize;
                        for round in 0..50 {
                            let next = iter::pull(count(100 + g % 7));
                            for v in next {
                                s += v;
                                if v % 33 == 0 {
                                    runtime::gosched();
                                }
                            }
                            let _ = round;
                        }
                        s
                    })
                })
                .collect();
            for (g, h) in hs.into_iter().enumerate() {
                let n = 100 + g % 7;
                assert_eq!(h.join().unwrap(), 50 * n * (n - 1) / 2);
            }
        });
    });
}

#[test]
fn a_panic_dropping_a_never_started_producer_leaves_it_dropped_once() {
    watchdog(30, || {
        struct Bomb(Arc<AtomicUsize>);
        impl Drop for Bomb {
            fn drop(&mut self) {
                self.0.fetch_add(1, Ordering::SeqCst);
                panic!("drop failed");
            }
        }
        let drops = Arc::new(AtomicUsize::new(0));
        let bomb = Bomb(drops.clone());
        let mut next = iter::pull(move |y: &mut dyn FnMut(i32) -> bool| {
            let _b = &bomb;
            y(3);
        });
        assert!(panic::catch_unwind(AssertUnwindSafe(|| next.stop())).is_err());
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        // Done: the dropped closure never runs, and is never dropped again.
        assert_eq!(next.next(), None);
        drop(next);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn goexit_in_a_producer_ends_the_consumer_goroutine() {
    watchdog(30, || {
        runtime::block_on(|| {
            let reached = Arc::new(AtomicBool::new(false));
            let r = reached.clone();
            let h = runtime::spawn(move || {
                let mut next = iter::pull(|y: &mut dyn FnMut(i32) -> bool| {
                    y(1);
                    runtime::goexit();
                });
                assert_eq!(next.next(), Some(1));
                next.next(); // the producer's Goexit continues here, in the consumer
                r.store(true, Ordering::SeqCst);
            });
            assert!(h.join().unwrap_err().is::<runtime::Goexit>());
            assert!(!reached.load(Ordering::SeqCst));
        });
    });
}

#[test]
fn a_large_closure_is_boxed_and_works() {
    watchdog(30, || {
        let big = [7u8; 32 * 1024]; // over the inline limit: the closure goes to the heap
        let next = iter::pull(move |y: &mut dyn FnMut(u8) -> bool| {
            for &b in big.iter().take(3) {
                if !y(b) {
                    return;
                }
            }
        });
        assert_eq!(next.collect::<Vec<_>>(), [7, 7, 7]);
    });
}
