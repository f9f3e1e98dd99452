//! `Semaphore`: weights, FIFO order without barging, cancellation and timeouts through a
//! context, misuse panics, and a mixed goroutine/thread stress with a concurrency bound.

#[path = "../../runtime/tests/common/mod.rs"]
mod common;
#[path = "../../chan/tests/support/mod.rs"]
mod support;

use chan::context::{self, ContextError};
use common::{wait_until, watchdog};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::expect_panic;
use sync::{Semaphore, WaitGroup};

#[test]
fn weights_add_up() {
    let sem = Semaphore::new(5);
    sem.acquire(3);
    assert!(!sem.try_acquire(3), "3 + 3 units exceed a size of 5");
    assert!(sem.try_acquire(2), "3 + 2 units fit a size of 5");
    assert!(!sem.try_acquire(1), "the semaphore is full");
    assert_eq!(sem.held(), 5);
    sem.release(5);
    assert!(sem.try_acquire(5), "everything released");
    sem.release(5);
    assert_eq!(sem.held(), 0);
}

#[test]
fn zero_weight_acquire_succeeds_on_a_full_semaphore_with_no_waiters() {
    let sem = Semaphore::new(1);
    sem.acquire(1);
    assert!(sem.try_acquire(0));
    sem.acquire(0);
    sem.release(1);
}

#[test]
fn release_wakes_a_blocked_goroutine() {
    watchdog(30, || {
        let sem = Arc::new(Semaphore::new(1));
        sem.acquire(1);
        let s2 = sem.clone();
        let h = runtime::spawn(move || {
            s2.acquire(1);
            s2.release(1);
        });
        wait_until(|| sem.waiting() == 1);
        sem.release(1);
        h.join().unwrap();
        assert_eq!(sem.held(), 0);
    });
}

/// A large request queued first is served before later small ones, even while the small
/// ones would fit: they queue behind it, and `try_acquire` does not barge past it.
#[test]
fn big_waiter_first_is_served_before_later_small_ones() {
    watchdog(30, || {
        let sem = Arc::new(Semaphore::new(4));
        let order = Arc::new(Mutex::new(Vec::new()));
        sem.acquire(3); // 1 unit free

        let wg = WaitGroup::new();
        let (s, o) = (sem.clone(), order.clone());
        wg.go(move || {
            s.acquire(4);
            o.lock().unwrap().push("big");
            s.release(4);
        });
        wait_until(|| sem.waiting() == 1);
        assert!(
            !sem.try_acquire(1),
            "try_acquire must not barge past a queued waiter"
        );
        for _ in 0..3 {
            let (s, o) = (sem.clone(), order.clone());
            wg.go(move || {
                s.acquire(1);
                o.lock().unwrap().push("small");
                s.release(1);
            });
        }
        wait_until(|| sem.waiting() == 4);
        assert!(
            order.lock().unwrap().is_empty(),
            "small requests that fit must still wait behind the big one"
        );
        sem.release(3);
        wg.wait();
        assert_eq!(*order.lock().unwrap(), ["big", "small", "small", "small"]);
        assert_eq!(sem.held(), 0);
    });
}

/// `release` grants from the front while requests fit and stops at the first that does not.
#[test]
fn release_grants_from_the_front_while_requests_fit() {
    watchdog(30, || {
        let sem = Arc::new(Semaphore::new(4));
        sem.acquire(4);
        let granted = Arc::new(AtomicU64::new(0));
        let wg = WaitGroup::new();
        let gate = chan::make::<()>(0);
        for n in [1u64, 2, 3, 1] {
            let queued = sem.waiting() + 1;
            let (s, g, gate) = (sem.clone(), granted.clone(), gate.clone());
            wg.go(move || {
                s.acquire(n);
                g.fetch_add(n, Ordering::SeqCst);
                gate.recv(); // hold until the gate is closed
                s.release(n);
            });
            wait_until(|| sem.waiting() == queued);
        }
        sem.release(4);
        // 1 and 2 fit (3 of 4); 3 does not, and the 1 behind it must not jump ahead.
        wait_until(|| granted.load(Ordering::SeqCst) == 3);
        assert_eq!(sem.waiting(), 2);
        assert_eq!(sem.held(), 3);
        gate.close();
        wg.wait();
        assert_eq!(granted.load(Ordering::SeqCst), 7);
        assert_eq!(sem.held(), 0);
    });
}

/// A cancelled front waiter leaves the queue and lets the smaller request behind it through,
/// with no release needed (x/sync's TestAllocCancelDoesntStarve).
#[test]
fn cancelled_front_waiter_unblocks_the_waiters_behind_it() {
    watchdog(30, || {
        let sem = Arc::new(Semaphore::new(2));
        sem.acquire(1);
        let (ctx, cancel) = context::with_cancel(&context::background());

        let s = sem.clone();
        let big = runtime::spawn(move || s.acquire_ctx(&ctx, 2));
        wait_until(|| sem.waiting() == 1);
        let s = sem.clone();
        let small = runtime::spawn(move || s.acquire(1));
        wait_until(|| sem.waiting() == 2);

        cancel.cancel();
        assert_eq!(big.join().unwrap(), Err(ContextError::Canceled));
        small.join().unwrap(); // granted by the cancelled waiter's leaving
        assert_eq!(sem.held(), 2, "the cancelled request must hold nothing");
        assert_eq!(sem.waiting(), 0);
        sem.release(2);
        assert!(sem.try_acquire(2), "no units leaked");
    });
}

#[test]
fn cancelled_waiter_from_a_plain_thread_returns_the_error() {
    watchdog(30, || {
        let sem = Arc::new(Semaphore::new(1));
        sem.acquire(1);
        let (ctx, cancel) = context::with_cancel(&context::background());
        let s = sem.clone();
        let t = std::thread::spawn(move || s.acquire_ctx(&ctx, 1));
        wait_until(|| sem.waiting() == 1);
        cancel.cancel();
        assert_eq!(t.join().unwrap(), Err(ContextError::Canceled));
        assert_eq!((sem.held(), sem.waiting()), (1, 0));
    });
}

#[test]
fn acquire_ctx_times_out_with_deadline_exceeded() {
    watchdog(30, || {
        let sem = Semaphore::new(3);
        sem.acquire(2);
        let (ctx, _cancel) =
            context::with_timeout(&context::background(), Duration::from_millis(10));
        assert_eq!(
            sem.acquire_ctx(&ctx, 2),
            Err(ContextError::DeadlineExceeded)
        );
        assert_eq!(
            sem.held(),
            2,
            "a timed-out acquire leaves the semaphore unchanged"
        );
        assert_eq!(sem.waiting(), 0);
        assert_eq!(sem.acquire_ctx(&context::background(), 1), Ok(()));
    });
}

/// The context is cancelled before the units the waiter needs are released: whichever the
/// waiter notices first, it must fail and give the units back (x/sync's
/// TestWeightedAcquireCanceled, golang/go#63615).
#[test]
fn cancellation_before_the_units_arrive_wins() {
    watchdog(30, || {
        for _ in 0..50 {
            let sem = Arc::new(Semaphore::new(2));
            sem.acquire(1);
            let (ctx, cancel) = context::with_cancel(&context::background());
            let s = sem.clone();
            let h = runtime::spawn(move || s.acquire_ctx(&ctx, 2));
            wait_until(|| sem.waiting() == 1);
            cancel.cancel();
            sem.release(1);
            assert_eq!(h.join().unwrap(), Err(ContextError::Canceled));
            assert_eq!((sem.held(), sem.waiting()), (0, 0));
        }
    });
}

#[test]
fn acquire_ctx_on_a_done_context_fails_even_if_units_are_free() {
    let sem = Semaphore::new(1);
    let (ctx, cancel) = context::with_cancel(&context::background());
    cancel.cancel();
    assert_eq!(sem.acquire_ctx(&ctx, 1), Err(ContextError::Canceled));
    assert_eq!(sem.held(), 0);
}

#[test]
fn acquire_ctx_larger_than_size_waits_for_the_context_without_blocking_others() {
    watchdog(30, || {
        let sem = Arc::new(Semaphore::new(2));
        let (ctx, _cancel) =
            context::with_timeout(&context::background(), Duration::from_millis(200));
        let s = sem.clone();
        let (h, waiting) = common::spawn_watched(move || s.acquire_ctx(&ctx, 3));
        // It waits for its context without queueing, so it does not block a request that
        // fits.
        waiting.wait_parked(runtime::WaitReason::ChanReceive);
        assert_eq!(sem.waiting(), 0);
        assert!(sem.try_acquire(2));
        sem.release(2);
        assert_eq!(h.join().unwrap(), Err(ContextError::DeadlineExceeded));
        assert_eq!(sem.held(), 0);
    });
}

#[test]
fn acquire_larger_than_size_panics() {
    let sem = Semaphore::new(2);
    expect_panic(
        "semaphore: acquire of 3 units can never succeed on a semaphore of size 2",
        || sem.acquire(3),
    );
    assert_eq!(sem.held(), 0);
}

#[test]
fn releasing_more_than_held_panics_and_changes_nothing() {
    let sem = Semaphore::new(3);
    sem.acquire(1);
    expect_panic("semaphore: released more than held", || sem.release(2));
    assert_eq!(sem.held(), 1);
    sem.release(1);
    expect_panic("semaphore: released more than held", || sem.release(1));
}

/// Goroutines and plain threads share one semaphore, some acquiring with a context; the
/// units in use never exceed the size, and all are back at the end.
#[test]
fn mixed_goroutines_and_threads_never_exceed_the_size() {
    watchdog(30, || {
        const SIZE: u64 = 4;
        const ROUNDS: u64 = 200;
        let sem = Arc::new(Semaphore::new(SIZE));
        let in_use = Arc::new(AtomicU64::new(0));
        let peak = Arc::new(AtomicU64::new(0));
        let work = {
            let (sem, in_use, peak) = (sem.clone(), in_use.clone(), peak.clone());
            move |id: u64, thread: bool| {
                let ctx = context::background();
                for r in 0..ROUNDS {
                    let w = 1 + (id + r) % SIZE;
                    if r % 2 == 0 {
                        sem.acquire(w);
                    } else {
                        sem.acquire_ctx(&ctx, w).unwrap();
                    }
                    let now = in_use.fetch_add(w, Ordering::SeqCst) + w;
                    peak.fetch_max(now, Ordering::SeqCst);
                    assert!(now <= SIZE, "{now} units in use on a semaphore of {SIZE}");
                    if thread {
                        std::thread::yield_now();
                    } else {
                        runtime::gosched();
                    }
                    in_use.fetch_sub(w, Ordering::SeqCst);
                    sem.release(w);
                }
            }
        };
        let wg = WaitGroup::new();
        for id in 0..6 {
            let work = work.clone();
            wg.go(move || work(id, false));
        }
        let threads: Vec<_> = (6..8)
            .map(|id| {
                let work = work.clone();
                std::thread::spawn(move || work(id, true))
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        wg.wait();
        assert!(peak.load(Ordering::SeqCst) <= SIZE);
        assert_eq!((sem.held(), sem.waiting()), (0, 0));
    });
}

/// Cancellations racing with grants (the window in which a waiter is granted and its context
/// is done at once) never leak or duplicate units.
#[test]
fn cancellations_racing_with_releases_leak_nothing() {
    watchdog(30, || {
        const SIZE: u64 = 3;
        let sem = Arc::new(Semaphore::new(SIZE));
        let in_use = Arc::new(AtomicU64::new(0));
        let wg = WaitGroup::new();
        for id in 0..8u64 {
            let (sem, in_use) = (sem.clone(), in_use.clone());
            wg.go(move || {
                for r in 0..150u64 {
                    let w = 1 + (id + r) % SIZE;
                    let (ctx, cancel) = context::with_cancel(&context::background());
                    // Cancel from another goroutine while this one may be queued.
                    let c = cancel.clone();
                    let yield_first = (id + r) % 3 != 0;
                    runtime::go(move || {
                        if yield_first {
                            runtime::gosched();
                        }
                        c.cancel();
                    });
                    if sem.acquire_ctx(&ctx, w).is_ok() {
                        let now = in_use.fetch_add(w, Ordering::SeqCst) + w;
                        assert!(now <= SIZE, "{now} units in use on a semaphore of {SIZE}");
                        runtime::gosched();
                        in_use.fetch_sub(w, Ordering::SeqCst);
                        sem.release(w);
                    }
                    cancel.cancel();
                }
            });
        }
        wg.wait();
        assert_eq!((sem.held(), sem.waiting()), (0, 0));
        assert!(sem.try_acquire(SIZE));
    });
}
