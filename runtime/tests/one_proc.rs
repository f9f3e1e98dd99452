//! Scheduling on a single P, where the order goroutines run in is Go's to define.

mod common;
use common::watchdog;
use runtime::{WaitReason, Waiter};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn one_proc() {
    let _ = runtime::Builder::new().gomaxprocs(1).init();
    assert_eq!(runtime::gomaxprocs(0), 1);
}

#[test]
fn gosched_alternates_two_goroutines_on_one_p() {
    one_proc();
    watchdog(60, || {
        let order = runtime::block_on(|| {
            let log = Arc::new(Mutex::new(Vec::new()));
            let hs: Vec<_> = (0..2)
                .map(|id| {
                    let log = log.clone();
                    runtime::spawn(move || {
                        for _ in 0..100 {
                            log.lock().unwrap().push(id);
                            runtime::gosched();
                        }
                    })
                })
                .collect();
            for h in hs {
                h.join().unwrap();
            }
            Arc::try_unwrap(log).unwrap().into_inner().unwrap()
        });
        assert_eq!(order.len(), 200);
        let switches = order.windows(2).filter(|w| w[0] != w[1]).count();
        assert!(
            switches >= 190,
            "gosched hands the P over each time: {switches} switches"
        );
    });
}

#[test]
fn ping_pong_pair_does_not_starve_a_third_goroutine_on_one_p() {
    // Two goroutines waking each other through runnext inherit the time slice; the runnext
    // streak cap must still let the run queue's head run (Go's TestPingPongHog).
    one_proc();
    watchdog(60, || {
        runtime::block_on(|| {
            let stop = Arc::new(AtomicBool::new(false));
            let turn = Arc::new(AtomicU32::new(0));
            let slots: Arc<Mutex<[Option<Waiter>; 2]>> = Arc::default();
            let mut hs = Vec::new();
            for me in 0..2u32 {
                let (stop, turn, slots) = (stop.clone(), turn.clone(), slots.clone());
                hs.push(runtime::spawn(move || {
                    slots.lock().unwrap()[me as usize] = Some(Waiter::current());
                    while !stop.load(Ordering::SeqCst) {
                        if turn.load(Ordering::SeqCst) == me {
                            turn.store(1 - me, Ordering::SeqCst);
                            let other = slots.lock().unwrap()[1 - me as usize].clone();
                            if let Some(o) = other {
                                o.unpark();
                            }
                        }
                        runtime::park_until(
                            WaitReason::Park,
                            Instant::now() + Duration::from_millis(1),
                        );
                    }
                }));
            }
            let third = runtime::spawn(|| 42);
            assert_eq!(third.join().unwrap(), 42);
            stop.store(true, Ordering::SeqCst);
            for h in hs {
                h.join().unwrap();
            }
        });
    });
}

#[test]
fn a_sleeping_goroutine_wakes_while_another_yields_in_a_loop() {
    // The P checks its timers at every scheduling point, including gosched's fast path.
    one_proc();
    watchdog(60, || {
        runtime::block_on(|| {
            let stop = Arc::new(AtomicBool::new(false));
            let s2 = stop.clone();
            let spinner = runtime::spawn(move || {
                while !s2.load(Ordering::SeqCst) {
                    runtime::gosched();
                }
            });
            let t = Instant::now();
            runtime::sleep(Duration::from_millis(5));
            assert!(t.elapsed() >= Duration::from_millis(5));
            stop.store(true, Ordering::SeqCst);
            spinner.join().unwrap();
        });
    });
}

#[test]
fn a_spawning_loop_reuses_its_finished_childrens_goroutines() {
    // On one P a loop of `go` runs on until it blocks; without a limit every child would
    // wait to start, each with a brand-new G and stack. A spawner that has to make a new G
    // while 32 or more children wait yields to them, so their Gs are free again for reuse.
    one_proc();
    watchdog(60, || {
        const N: usize = 100_000;
        let before = runtime::sched_stats().goroutine_records;
        let done = runtime::block_on(|| {
            let done: &'static AtomicU32 = Box::leak(Box::new(AtomicU32::new(0)));
            for _ in 0..N {
                runtime::go(move || {
                    done.fetch_add(1, Ordering::Relaxed);
                });
            }
            while done.load(Ordering::Relaxed) < N as u32 {
                runtime::gosched();
            }
            done.load(Ordering::Relaxed)
        });
        assert_eq!(done, N as u32);
        let made = runtime::sched_stats().goroutine_records - before;
        assert!(
            made < 1_000,
            "{N} short goroutines spawned in a loop made {made} new G records"
        );
    });
}
