//! The park/unpark API, for goroutines and plain threads.

mod common;
use common::{wait_until, watchdog};
use runtime::{WaitReason, Waiter};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[test]
fn a_hundred_thousand_goroutines_parked_at_once_all_wake() {
    watchdog(120, || {
        const N: usize = 100_000;
        let waiters = Arc::new(Mutex::new(Vec::with_capacity(N)));
        let go_on = Arc::new(AtomicBool::new(false));
        let parked = Arc::new(AtomicUsize::new(0));
        let woke = Arc::new(AtomicUsize::new(0));
        for _ in 0..N {
            let (waiters, go_on, parked, woke) =
                (waiters.clone(), go_on.clone(), parked.clone(), woke.clone());
            runtime::go(move || {
                waiters.lock().unwrap().push(Waiter::current());
                parked.fetch_add(1, Ordering::SeqCst);
                while !go_on.load(Ordering::SeqCst) {
                    runtime::park(WaitReason::Park);
                }
                woke.fetch_add(1, Ordering::SeqCst);
            });
        }
        wait_until(|| parked.load(Ordering::SeqCst) == N);
        assert!(
            runtime::num_goroutine() >= N,
            "all {N} are alive and parked"
        );
        go_on.store(true, Ordering::SeqCst);
        for w in waiters.lock().unwrap().drain(..) {
            w.unpark();
        }
        wait_until(|| woke.load(Ordering::SeqCst) == N);
    });
}

#[test]
fn unpark_before_park_is_not_lost_for_goroutines() {
    watchdog(30, || {
        runtime::block_on(|| {
            Waiter::current().unpark();
            runtime::park(WaitReason::Park); // returns at once: the token was there
        });
    });
}

#[test]
fn unpark_before_park_is_not_lost_for_threads() {
    watchdog(30, || {
        Waiter::current().unpark();
        runtime::park(WaitReason::Park);
    });
}

#[test]
fn a_plain_thread_and_a_goroutine_wake_each_other() {
    watchdog(30, || {
        let turn = Arc::new(AtomicUsize::new(0));
        let slot: Arc<Mutex<Option<Waiter>>> = Arc::default();
        let thread_waiter = Waiter::current();
        assert!(!thread_waiter.is_goroutine());
        let (t2, s2) = (turn.clone(), slot.clone());
        let h = runtime::spawn(move || {
            *s2.lock().unwrap() = Some(Waiter::current());
            for i in 0..1000 {
                while t2.load(Ordering::SeqCst) != 2 * i + 1 {
                    runtime::park(WaitReason::Park);
                }
                t2.store(2 * i + 2, Ordering::SeqCst);
                thread_waiter.unpark();
            }
        });
        wait_until(|| slot.lock().unwrap().is_some());
        let g = slot.lock().unwrap().clone().unwrap();
        assert!(g.is_goroutine());
        for i in 0..1000 {
            turn.store(2 * i + 1, Ordering::SeqCst);
            g.unpark();
            while turn.load(Ordering::SeqCst) != 2 * i + 2 {
                runtime::park(WaitReason::Park);
            }
        }
        h.join().unwrap();
    });
}

#[test]
fn park_until_returns_at_the_deadline_on_goroutines_and_threads() {
    watchdog(30, || {
        let check = || {
            let d = Instant::now() + Duration::from_millis(20);
            while !runtime::park_until(WaitReason::Timer, d) {}
            assert!(Instant::now() >= d, "not before the deadline");
        };
        check();
        runtime::block_on(check);
    });
}

#[test]
fn park_until_returns_early_when_unparked() {
    watchdog(30, || {
        runtime::block_on(|| {
            let me = Waiter::current();
            runtime::go(move || {
                // Once it has parked: the unpark wakes it, not a token it finds first.
                wait_until(|| runtime::__test::is_parked(&me, WaitReason::Timer));
                me.unpark();
            });
            let t = Instant::now();
            let timed_out = runtime::park_until(WaitReason::Timer, t + Duration::from_secs(20));
            assert!(!timed_out, "woken by unpark, long before the deadline");
        });
    });
}

#[test]
fn a_stale_waiter_cannot_wake_a_later_goroutine() {
    watchdog(30, || {
        let stale = runtime::block_on(Waiter::current);
        // Later goroutines may reuse that G record; the stale handle must stay inert.
        let woke_early = Arc::new(AtomicBool::new(false));
        let hs: Vec<_> = (0..64)
            .map(|_| {
                let w = woke_early.clone();
                runtime::spawn(move || {
                    let d = Instant::now() + Duration::from_millis(30);
                    let timed_out = runtime::park_until(WaitReason::Timer, d);
                    if !timed_out {
                        w.store(true, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for _ in 0..100 {
            stale.unpark();
        }
        for h in hs {
            h.join().unwrap();
        }
        assert!(
            !woke_early.load(Ordering::SeqCst),
            "no spurious wake from a stale waiter"
        );
    });
}

#[test]
fn the_dump_shows_wait_reasons_and_spawn_locations() {
    watchdog(30, || {
        let parked = Arc::new(AtomicBool::new(false));
        let slot: Arc<Mutex<Option<Waiter>>> = Arc::default();
        let (p2, s2) = (parked.clone(), slot.clone());
        let h = runtime::spawn(move || {
            *s2.lock().unwrap() = Some(Waiter::current());
            p2.store(true, Ordering::SeqCst);
            runtime::park(WaitReason::ChanReceive);
        });
        wait_until(|| parked.load(Ordering::SeqCst));
        let w = slot.lock().unwrap().clone().unwrap();
        wait_until(|| runtime::__test::is_parked(&w, WaitReason::ChanReceive));
        let dump = runtime::stack_dump();
        assert!(dump.contains("[chan receive"), "dump:\n{dump}");
        assert!(dump.contains("park.rs:"), "spawn location shown:\n{dump}");
        slot.lock().unwrap().take().unwrap().unpark();
        h.join().unwrap();
    });
}

/// A token passed round a ring of goroutines by park/unpark: each park finds the next
/// goroutine in its P's runnext, the direct-switch path (`park_direct`). A plain thread keeps
/// unparking every goroutine meanwhile, so commits race with wakeups (the parked G then goes
/// to runnext instead of resuming at once), and sleeping goroutines keep timers due. Every
/// pass is seen exactly once, in order, and no goroutine is ever resumed twice (a flag on its
/// stack, cleared before each park and set after it, would be found set by the second of two
/// resumes of one context).
#[test]
fn a_token_ring_of_direct_parks_survives_racing_unparks_and_timers() {
    const N: usize = 8;
    const LAPS: usize = 20_000;
    watchdog(120, || {
        let turn = Arc::new(AtomicUsize::new(0));
        let waiters: Arc<Mutex<Vec<Option<Waiter>>>> = Arc::new(Mutex::new(vec![None; N]));
        let done = Arc::new(AtomicBool::new(false));
        let mut hs = Vec::new();
        for k in 0..N {
            let (turn, waiters) = (turn.clone(), waiters.clone());
            hs.push(runtime::spawn(move || {
                waiters.lock().unwrap()[k] = Some(Waiter::current());
                let mut passes = 0;
                // Set while this goroutine runs past a park: a second resume of the same
                // context would find it set.
                let running = AtomicBool::new(true);
                for lap in 0..LAPS {
                    let mine = lap * N + k;
                    while turn.load(Ordering::SeqCst) != mine {
                        running.store(false, Ordering::SeqCst);
                        runtime::park(WaitReason::Park);
                        assert!(
                            !running.swap(true, Ordering::SeqCst),
                            "goroutine {k} resumed twice"
                        );
                    }
                    passes += 1;
                    turn.store(mine + 1, Ordering::SeqCst);
                    let next = loop {
                        if let Some(w) = waiters.lock().unwrap()[(k + 1) % N].clone() {
                            break w;
                        }
                        runtime::gosched();
                    };
                    next.unpark();
                }
                passes
            }));
        }
        let sleepers: Vec<_> = (0..4)
            .map(|_| {
                let done = done.clone();
                runtime::spawn(move || {
                    while !done.load(Ordering::SeqCst) {
                        runtime::sleep(Duration::from_micros(200));
                    }
                })
            })
            .collect();
        let noise = {
            let (waiters, done) = (waiters.clone(), done.clone());
            std::thread::spawn(move || {
                while !done.load(Ordering::SeqCst) {
                    let ws: Vec<Waiter> =
                        waiters.lock().unwrap().iter().flatten().cloned().collect();
                    for w in ws {
                        w.unpark();
                    }
                    std::thread::yield_now();
                }
            })
        };
        let passes: usize = hs.into_iter().map(|h| h.join().unwrap()).sum();
        done.store(true, Ordering::SeqCst);
        noise.join().unwrap();
        for s in sleepers {
            s.join().unwrap();
        }
        assert_eq!(passes, N * LAPS);
        assert_eq!(turn.load(Ordering::SeqCst), N * LAPS);
    });
}
