//! Timer channels: `time::after`, `tick`, `Timer`, `Ticker` (Go 1.23 semantics).

#[path = "../../runtime/tests/common/mod.rs"]
mod common;
use chan::time::{self, Ticker, Timer};
use chan::{Select, Selected, TryRecvError};
use common::watchdog;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Generous: these are correctness tests on a shared machine, not benchmarks.
const SLACK: Duration = Duration::from_millis(500);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn assert_fired_in_window(start: Instant, fired: Instant, d: Duration) {
    let took = fired - start;
    assert!(
        took >= d,
        "fired after {took:?}, before the {d:?} asked for"
    );
    assert!(took < d + SLACK, "fired after {took:?}, asked for {d:?}");
}

#[test]
fn after_fires_once_at_about_the_right_time_in_a_goroutine() {
    watchdog(30, || {
        runtime::block_on(|| {
            let start = Instant::now();
            let rx = time::after(ms(30));
            let fired = rx.recv().expect("after delivers a time");
            assert_fired_in_window(start, fired, ms(30));
            assert!(
                Instant::now() >= fired,
                "the value is the fire time, not a future one"
            );
            assert!(
                rx.recv_timeout(ms(50)).is_err(),
                "after delivers exactly once"
            );
        });
    });
}

#[test]
fn after_fires_on_a_plain_thread() {
    watchdog(30, || {
        let start = Instant::now();
        let fired = time::after(ms(20)).recv().expect("after delivers a time");
        assert_fired_in_window(start, fired, ms(20));
    });
}

#[test]
fn after_zero_fires_at_once() {
    watchdog(30, || {
        let rx = time::after(Duration::ZERO);
        assert!(
            rx.recv_timeout(SLACK).is_ok(),
            "a zero timer fires promptly"
        );
    });
}

#[test]
fn thousand_concurrent_afters_in_goroutines_all_fire() {
    watchdog(60, || {
        let fired = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..1_000u64)
            .map(|i| {
                let fired = fired.clone();
                runtime::spawn(move || {
                    let d = ms(5 + i % 20);
                    let start = Instant::now();
                    let at = time::after(d).recv().expect("after delivers");
                    assert!(at - start >= d, "goroutine {i}: fired early");
                    fired.fetch_add(1, Ordering::Relaxed);
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(fired.load(Ordering::Relaxed), 1_000);
    });
}

#[test]
fn after_is_a_select_case_beside_another_channel() {
    watchdog(30, || {
        runtime::block_on(|| {
            let quiet = chan::make::<u32>(0);
            let timer = time::after(ms(10));
            let mut sel = Select::new();
            let q = sel.recv(&quiet);
            let t = sel.recv(&timer);
            assert_eq!(sel.wait(), Selected::Case(t), "the timer case wins");
            assert!(sel.recv_value::<Instant>(t).is_some());
            let _ = q;
        });
    });
}

#[test]
fn tick_delivers_repeatedly_in_order() {
    watchdog(30, || {
        runtime::block_on(|| {
            let start = Instant::now();
            let ticks = time::tick(ms(5));
            let mut last = start;
            for n in 1..=5u32 {
                let t = ticks.recv().expect("a tick");
                assert!(t > last, "tick {n} is later than the one before");
                last = t;
            }
            assert!(
                last - start >= ms(25),
                "5 ticks of 5 ms took {:?}",
                last - start
            );
        });
    });
}

#[test]
#[should_panic(expected = "non-positive interval for NewTicker")]
fn tick_panics_on_a_zero_duration() {
    let _ = time::tick(Duration::ZERO);
}

#[test]
#[should_panic(expected = "non-positive interval for Ticker.Reset")]
fn ticker_reset_panics_on_a_zero_duration() {
    Ticker::new(ms(10)).reset(Duration::ZERO);
}

#[test]
fn a_slow_receiver_misses_ticks_instead_of_queueing_them() {
    watchdog(30, || {
        let t = Ticker::new(ms(10));
        std::thread::sleep(ms(120)); // ~12 ticks, nobody receiving.
        assert!(t.c().len() <= 1, "the tick channel holds at most one tick");
        let mut ready = 0;
        while t.c().try_recv().is_ok() {
            ready += 1;
        }
        // One buffered tick (two if a fresh one lands while draining), not the ~12 missed.
        assert!((1..=2).contains(&ready), "{ready} ticks were ready at once");
        assert!(
            t.c().recv_timeout(SLACK).is_ok(),
            "and the ticker still ticks"
        );
    });
}

#[test]
fn ticker_stop_stops_ticks_even_for_a_blocked_receiver() {
    watchdog(30, || {
        runtime::block_on(|| {
            let t = Arc::new(Ticker::new(ms(2)));
            t.c().recv().expect("ticking");
            t.stop();
            assert!(
                t.c().recv_timeout(ms(50)).is_err(),
                "no tick after stop returned"
            );
            // A receiver blocked in another goroutine is not woken by the stopped ticker.
            let t2 = t.clone();
            let h = runtime::spawn(move || t2.c().recv_timeout(ms(50)));
            assert!(h.join().unwrap().is_err());
        });
    });
}

#[test]
fn ticker_reset_changes_the_period() {
    watchdog(30, || {
        let t = Ticker::new(ms(1));
        t.c().recv().expect("ticking");
        let at = Instant::now();
        t.reset(ms(100));
        let next = t.c().recv().expect("ticking again");
        assert_fired_in_window(at, next, ms(100));
        let after = t.c().recv().expect("and again");
        assert!(
            after - at >= ms(200),
            "the second tick after the reset came at {:?}, expected 200 ms",
            after - at
        );
    });
}

#[test]
fn a_ticker_keeps_ticking_while_a_clone_of_its_channel_lives() {
    watchdog(30, || {
        let rx = Ticker::new(ms(2)).c().clone(); // The Ticker itself is dropped here.
        for _ in 0..3 {
            assert!(rx.recv_timeout(SLACK).is_ok(), "the channel still ticks");
        }
    });
}

#[test]
fn timer_stopped_before_firing_returns_true_and_delivers_nothing() {
    watchdog(30, || {
        let t = Timer::new(ms(20));
        assert!(t.stop(), "stop before the timer fired");
        assert!(!t.stop(), "a second stop finds nothing pending");
        assert!(t.c().recv_timeout(ms(60)).is_err(), "nothing is delivered");
    });
}

#[test]
fn timer_stop_after_the_value_was_received_returns_false() {
    watchdog(30, || {
        let t = Timer::new(ms(1));
        t.c().recv().expect("fired");
        assert!(!t.stop(), "the timer had expired and been received");
    });
}

#[test]
fn timer_stop_discards_an_unreceived_value() {
    watchdog(30, || {
        let t = Timer::new(ms(1));
        std::thread::sleep(ms(30)); // Fired into the buffer; not received.
        assert!(
            t.stop(),
            "Go 1.23: an unreceived fire still counts as pending"
        );
        assert_eq!(
            t.c().try_recv(),
            Err(TryRecvError::Empty),
            "no stale value after stop"
        );
    });
}

#[test]
fn timer_reset_of_a_pending_timer_moves_its_single_fire() {
    watchdog(30, || {
        let t = Timer::new(ms(10));
        let at = Instant::now();
        assert!(t.reset(ms(80)), "it was pending");
        let fired = t.c().recv().expect("fires once, at the new time");
        assert_fired_in_window(at, fired, ms(80));
        assert!(
            t.c().recv_timeout(ms(50)).is_err(),
            "the old arming never fires"
        );
    });
}

#[test]
fn timer_reset_after_an_unreceived_fire_never_delivers_the_stale_value() {
    watchdog(30, || {
        runtime::block_on(|| {
            let t = Timer::new(ms(1));
            runtime::sleep(ms(30)); // The first fire sits in the buffer.
            let at = Instant::now();
            assert!(t.reset(ms(40)), "the unreceived fire counts as pending");
            let v = t.c().recv().expect("the re-armed fire");
            assert!(
                v >= at + ms(40),
                "received a stale value from before the reset"
            );
        });
    });
}

#[test]
fn timer_reset_after_receive_rearms_it() {
    watchdog(30, || {
        let t = Timer::new(ms(1));
        t.c().recv().expect("first fire");
        assert!(!t.reset(ms(10)), "nothing was pending");
        assert!(t.c().recv_timeout(SLACK).is_ok(), "fires again after reset");
    });
}

#[test]
fn timer_stop_and_reset_from_another_goroutine() {
    watchdog(30, || {
        let t = Arc::new(Timer::new(ms(3_600_000)));
        let t2 = t.clone();
        let stopped = runtime::spawn(move || t2.stop()).join().unwrap();
        assert!(stopped);
        let t3 = t.clone();
        runtime::spawn(move || t3.reset(ms(5))).join().unwrap();
        let v = runtime::block_on(move || t.c().recv_timeout(SLACK));
        assert!(v.is_ok(), "re-armed from a goroutine, received in another");
    });
}

#[test]
fn after_func_runs_in_a_goroutine_after_the_delay() {
    watchdog(30, || {
        let done = chan::make::<bool>(1);
        let tx = done.clone();
        let start = Instant::now();
        let _f = time::after_func(ms(15), move || {
            tx.send(runtime::Waiter::current().is_goroutine());
        });
        assert_eq!(done.recv(), Some(true));
        assert!(start.elapsed() >= ms(15));
    });
}

#[test]
fn many_stopped_timers_do_not_fire() {
    watchdog(30, || {
        let timers: Vec<Timer> = (0..10_000).map(|_| Timer::new(ms(20))).collect();
        for t in &timers {
            assert!(t.stop());
        }
        std::thread::sleep(ms(60));
        for t in &timers {
            assert_eq!(t.c().try_recv(), Err(TryRecvError::Empty));
        }
    });
}
