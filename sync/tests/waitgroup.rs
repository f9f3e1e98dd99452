//! goro's WaitGroup: waiting, reuse, the negative-counter panic, wg.go, waiters that are
//! goroutines and threads at once.

#[path = "../../runtime/tests/common/mod.rs"]
mod common;
#[path = "../../chan/tests/support/mod.rs"]
mod support;

use common::{Watched, spawn_watched, thread_watched, watchdog};
use runtime::WaitReason;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use sync::WaitGroup;

#[test]
fn wait_returns_after_every_done_and_sees_their_writes() {
    watchdog(30, || {
        let wg = WaitGroup::new();
        let slots: Arc<Vec<AtomicUsize>> =
            Arc::new((0..100).map(|_| AtomicUsize::new(0)).collect());
        wg.add(100);
        for i in 0..100 {
            let (wg, slots) = (wg.clone(), slots.clone());
            let body = move || {
                slots[i].store(i + 1, Ordering::Relaxed);
                wg.done();
            };
            if i % 10 == 0 {
                std::thread::spawn(body);
            } else {
                runtime::go(body);
            }
        }
        wg.wait();
        // Relaxed stores above: only the WaitGroup orders them before this.
        for (i, s) in slots.iter().enumerate() {
            assert_eq!(s.load(Ordering::Relaxed), i + 1);
        }
        assert_eq!(wg.count(), 0);
    });
}

#[test]
fn waiters_of_every_kind_are_released_together() {
    watchdog(30, || {
        let wg = WaitGroup::new();
        wg.add(1);
        let released = Arc::new(AtomicUsize::new(0));
        let mut joins = Vec::new();
        let mut watchers = Vec::new();
        for i in 0..6 {
            let (wg, released) = (wg.clone(), released.clone());
            let f = move || {
                wg.wait();
                released.fetch_add(1, Ordering::SeqCst);
            };
            let watched: Watched = if i % 2 == 0 {
                let (t, w) = thread_watched(f);
                joins.push(t);
                w
            } else {
                spawn_watched(f).1
            };
            watchers.push(watched);
        }
        // Every waiter has blocked in wait().
        for w in &watchers {
            w.wait_parked(WaitReason::WaitGroupWait);
        }
        assert_eq!(
            released.load(Ordering::SeqCst),
            0,
            "nobody passes before done"
        );
        wg.done();
        for j in joins {
            j.join().unwrap();
        }
        common::wait_until(|| released.load(Ordering::SeqCst) == 6);
    });
}

#[test]
fn a_group_is_reusable_round_after_round() {
    watchdog(30, || {
        let wg = WaitGroup::new();
        let hits = Arc::new(AtomicUsize::new(0));
        for round in 1..=50 {
            for _ in 0..8 {
                let hits = hits.clone();
                wg.go(move || {
                    hits.fetch_add(1, Ordering::SeqCst);
                });
            }
            wg.wait();
            assert_eq!(hits.load(Ordering::SeqCst), round * 8);
        }
    });
}

#[test]
fn wait_on_a_zero_counter_returns_at_once() {
    let wg = WaitGroup::default();
    wg.wait();
    wg.add(3);
    wg.add(-3);
    wg.wait();
    assert_eq!(format!("{wg:?}"), "WaitGroup { count: 0, waiters: 0 }");
}

#[test]
fn negative_counter_panics() {
    support::expect_panic("sync: negative WaitGroup counter", || {
        WaitGroup::new().done()
    });
    let wg = WaitGroup::new();
    wg.add(2);
    support::expect_panic("sync: negative WaitGroup counter", || wg.add(-3));
}

#[test]
fn go_counts_done_even_if_the_goroutine_panics() {
    watchdog(30, || {
        let wg = WaitGroup::new();
        wg.go(|| panic!("expected: a panicking wg.go task"));
        wg.go(|| {});
        wg.wait();
        assert_eq!(wg.count(), 0);
    });
}
