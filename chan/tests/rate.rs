//! `time::rate`, Go's `golang.org/x/time/rate`: Go's rate_test.go cases ported (those that
//! are deterministic with explicit times), and waits in real time.

#[path = "../../runtime/tests/common/mod.rs"]
mod common;
use chan::context::{self, ContextError};
use chan::time::rate::{Error, INF_DURATION, Limit, Limiter, Reservation, every};
use common::watchdog;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Go's `d`: the unit of the explicit-time tests.
const D: Duration = Duration::from_millis(100);

/// Generous upper slack for real-time waits on a shared machine.
const SLACK: Duration = Duration::from_secs(2);

/// Go's t0..t9: `t(n)` is t0 + n*D.
struct Times(Instant);

impl Times {
    fn new() -> Times {
        Times(Instant::now())
    }
    fn t(&self, n: u32) -> Instant {
        self.0 + D * n
    }
    /// Multiples of D since t0, rounded (Go's dSince).
    fn d_since(&self, t: Instant) -> i64 {
        let secs = match t.checked_duration_since(self.0) {
            Some(d) => d.as_secs_f64(),
            None => -self.0.duration_since(t).as_secs_f64(),
        };
        (secs / D.as_secs_f64()).round() as i64
    }
}

/// Go's `allow` rows: at `t`, expect `toks` tokens, then `allow_n(t, n) == ok`.
fn run(lim: &Limiter, tt: &Times, allows: &[(u32, f64, usize, bool)]) {
    for (i, &(t, toks, n, ok)) in allows.iter().enumerate() {
        let at = tt.t(t);
        assert_eq!(lim.tokens_at(at), toks, "step {i}: tokens_at(t{t})");
        assert_eq!(lim.allow_n(at, n), ok, "step {i}: allow_n(t{t}, {n})");
    }
}

/// Go's runReserve: reserve `n` at t`t`, expecting `ok` and, if ok, to act at t`act`.
fn reserve<'a>(
    lim: &'a Limiter,
    tt: &Times,
    t: u32,
    n: usize,
    act: u32,
    ok: bool,
) -> Reservation<'a> {
    let at = tt.t(t);
    let r = lim.reserve_n(at, n);
    assert_eq!(r.ok(), ok, "reserve_n(t{t}, {n}).ok()");
    if ok {
        let acts = tt.d_since(at + r.delay_from(at));
        assert_eq!(
            acts, act as i64,
            "reserve_n(t{t}, {n}) acts at t{acts}, want t{act}"
        );
    } else {
        assert_eq!(r.delay_from(at), INF_DURATION);
    }
    r
}

#[test]
fn limit_and_every() {
    // Go's TestLimit and TestEvery.
    assert!(Limit(10.0) != Limit::INF);
    let close = |a: Limit, b: Limit| (a.0 / b.0 - 1.0).abs() < 1e-9;
    let cases = [
        (Duration::ZERO, Limit::INF),
        (Duration::from_nanos(1), Limit(1e9)),
        (Duration::from_micros(1), Limit(1e6)),
        (Duration::from_millis(1), Limit(1e3)),
        (Duration::from_millis(10), Limit(100.0)),
        (Duration::from_millis(100), Limit(10.0)),
        (Duration::from_secs(1), Limit(1.0)),
        (Duration::from_secs(2), Limit(0.5)),
        (Duration::from_millis(2500), Limit(0.4)),
        (Duration::from_secs(4), Limit(0.25)),
        (Duration::from_secs(10), Limit(0.1)),
        (INF_DURATION, Limit(1e9 / i64::MAX as f64)),
    ];
    for (interval, want) in cases {
        assert!(
            close(every(interval), want),
            "every({interval:?}) = {}",
            every(interval)
        );
    }
}

#[test]
fn burst_1() {
    let tt = Times::new();
    let lim = Limiter::new(Limit(10.0), 1);
    #[rustfmt::skip]
    run(&lim, &tt, &[
        (0, 1.0, 1, true), (0, 0.0, 1, false), (0, 0.0, 1, false),
        (1, 1.0, 1, true), (1, 0.0, 1, false), (1, 0.0, 1, false),
        (2, 1.0, 2, false), // burst size is 1, so n=2 always fails
        (2, 1.0, 1, true), (2, 0.0, 1, false),
    ]);
}

#[test]
fn burst_3() {
    let tt = Times::new();
    let lim = Limiter::new(Limit(10.0), 3);
    #[rustfmt::skip]
    run(&lim, &tt, &[
        (0, 3.0, 2, true), (0, 1.0, 2, false), (0, 1.0, 1, true), (0, 0.0, 1, false),
        (1, 1.0, 4, false), (2, 2.0, 1, true), (3, 2.0, 1, true), (4, 2.0, 1, true),
        (4, 1.0, 1, true), (4, 0.0, 1, false), (4, 0.0, 1, false),
        (9, 3.0, 3, true), (9, 0.0, 0, true),
    ]);
}

#[test]
fn jump_backwards() {
    let tt = Times::new();
    let lim = Limiter::new(Limit(10.0), 3);
    #[rustfmt::skip]
    run(&lim, &tt, &[
        (1, 3.0, 1, true), // start at t1
        (0, 2.0, 1, true), // jump back to t0, two tokens remain
        (0, 1.0, 1, true), (0, 0.0, 1, false), (0, 0.0, 1, false),
        (1, 1.0, 1, true), // got a token
        (1, 0.0, 1, false), (1, 0.0, 1, false),
        (2, 1.0, 1, true), // got another token
        (2, 0.0, 1, false), (2, 0.0, 1, false),
    ]);
}

#[test]
fn no_truncation_errors() {
    assert!(Limiter::new(Limit(0.7692307692307693), 1).allow());
}

#[test]
fn simple_reserve() {
    let tt = Times::new();
    let lim = Limiter::new(Limit(10.0), 2);
    reserve(&lim, &tt, 0, 2, 0, true);
    reserve(&lim, &tt, 0, 2, 2, true);
    reserve(&lim, &tt, 3, 2, 4, true);
}

#[test]
fn mix() {
    let tt = Times::new();
    let lim = Limiter::new(Limit(10.0), 2);
    reserve(&lim, &tt, 0, 3, 1, false); // n > burst
    reserve(&lim, &tt, 0, 2, 0, true);
    run(&lim, &tt, &[(1, 1.0, 2, false)]); // not enough tokens
    reserve(&lim, &tt, 1, 2, 2, true);
    run(&lim, &tt, &[(1, -1.0, 1, false)]); // negative tokens
    run(&lim, &tt, &[(3, 1.0, 1, true)]);
}

#[test]
fn cancel_invalid() {
    let tt = Times::new();
    let lim = Limiter::new(Limit(10.0), 2);
    reserve(&lim, &tt, 0, 2, 0, true);
    let r = reserve(&lim, &tt, 0, 3, 3, false);
    r.cancel_at(tt.t(0)); // no effect
    reserve(&lim, &tt, 0, 2, 2, true); // no extra tokens
}

#[test]
fn cancel_last() {
    let tt = Times::new();
    let lim = Limiter::new(Limit(10.0), 2);
    reserve(&lim, &tt, 0, 2, 0, true);
    let r = reserve(&lim, &tt, 0, 2, 2, true);
    r.cancel_at(tt.t(1)); // 2 tokens back
    reserve(&lim, &tt, 1, 2, 2, true);
}

#[test]
fn cancel_too_late() {
    let tt = Times::new();
    let lim = Limiter::new(Limit(10.0), 2);
    reserve(&lim, &tt, 0, 2, 0, true);
    let r = reserve(&lim, &tt, 0, 2, 2, true);
    r.cancel_at(tt.t(3)); // too late: no effect
    reserve(&lim, &tt, 3, 2, 4, true);
}

#[test]
fn cancel_0_tokens() {
    let tt = Times::new();
    let lim = Limiter::new(Limit(10.0), 2);
    reserve(&lim, &tt, 0, 2, 0, true);
    let r = reserve(&lim, &tt, 0, 1, 1, true);
    reserve(&lim, &tt, 0, 1, 2, true);
    r.cancel_at(tt.t(0)); // 0 tokens back: a later reservation depends on them
    reserve(&lim, &tt, 0, 1, 3, true);
}

#[test]
fn cancel_1_token() {
    let tt = Times::new();
    let lim = Limiter::new(Limit(10.0), 2);
    reserve(&lim, &tt, 0, 2, 0, true);
    let r = reserve(&lim, &tt, 0, 2, 2, true);
    reserve(&lim, &tt, 0, 1, 3, true);
    r.cancel_at(tt.t(2)); // 1 token back
    reserve(&lim, &tt, 2, 2, 4, true);
}

#[test]
fn cancel_multi() {
    let tt = Times::new();
    let lim = Limiter::new(Limit(10.0), 4);
    reserve(&lim, &tt, 0, 4, 0, true);
    let a = reserve(&lim, &tt, 0, 3, 3, true);
    reserve(&lim, &tt, 0, 1, 4, true);
    let c = reserve(&lim, &tt, 0, 1, 5, true);
    c.cancel_at(tt.t(1)); // 1 token back
    a.cancel_at(tt.t(1)); // 2 tokens back, as if C had never been reserved
    reserve(&lim, &tt, 1, 3, 5, true);
}

#[test]
fn reserve_jump_back_cancel() {
    let tt = Times::new();
    let lim = Limiter::new(Limit(10.0), 2);
    reserve(&lim, &tt, 1, 2, 1, true); // start at t1
    let r = reserve(&lim, &tt, 1, 2, 3, true);
    reserve(&lim, &tt, 1, 1, 4, true);
    r.cancel_at(tt.t(0)); // cancel at t0: 1 token back
    reserve(&lim, &tt, 1, 2, 4, true); // violates limit and burst, as in Go
}

#[test]
fn reserve_set_limit() {
    let tt = Times::new();
    let lim = Limiter::new(Limit(5.0), 2);
    reserve(&lim, &tt, 0, 2, 0, true);
    reserve(&lim, &tt, 0, 2, 4, true);
    lim.set_limit_at(tt.t(2), Limit(10.0));
    reserve(&lim, &tt, 2, 1, 4, true); // violates limit and burst, as in Go
    assert_eq!(lim.limit(), Limit(10.0));
}

#[test]
fn reserve_set_burst() {
    let tt = Times::new();
    let lim = Limiter::new(Limit(5.0), 2);
    reserve(&lim, &tt, 0, 2, 0, true);
    reserve(&lim, &tt, 0, 2, 4, true);
    lim.set_burst_at(tt.t(3), 4);
    assert_eq!(lim.burst(), 4);
    reserve(&lim, &tt, 0, 4, 9, true); // violates limit and burst, as in Go
}

#[test]
fn reserve_set_limit_cancel() {
    let tt = Times::new();
    let lim = Limiter::new(Limit(5.0), 2);
    reserve(&lim, &tt, 0, 2, 0, true);
    let r = reserve(&lim, &tt, 0, 2, 4, true);
    lim.set_limit_at(tt.t(2), Limit(10.0));
    r.cancel_at(tt.t(2)); // 2 tokens back
    reserve(&lim, &tt, 2, 2, 3, true);
}

#[test]
fn zero_limit_allows_the_initial_burst_only() {
    // Go's TestZeroLimit and TestTinyLimit.
    let lim = Limiter::new(Limit(0.0), 1);
    assert!(lim.allow(), "the bucket starts full");
    assert!(!lim.allow(), "and is never refilled");
    let tiny = Limiter::new(Limit(1e-10), 1);
    assert!(tiny.allow());
    assert!(!tiny.allow());
    // A reservation at a zero limit is ok but never comes.
    let r = lim.reserve();
    assert!(r.ok());
    assert!(r.delay() > Duration::from_secs(100 * 365 * 24 * 3600));
    r.cancel(); // gives its token back (the limiter has no rate to refill it)
    assert!(
        !lim.allow(),
        "the cancelled reservation had taken a future token, not this one"
    );
}

#[test]
fn zero_burst_allows_nothing_unless_the_limit_is_inf() {
    let lim = Limiter::new(Limit(10.0), 0);
    let now = Instant::now();
    assert!(!lim.allow());
    assert!(!lim.allow_n(now + Duration::from_secs(10), 1));
    assert!(!lim.reserve().ok());
    assert_eq!(
        lim.wait(&context::background()),
        Err(Error::ExceedsBurst { n: 1, burst: 0 })
    );
    assert!(lim.allow_n(now, 0), "zero events are always allowed");
    assert!(
        !Limiter::default().allow(),
        "Go's zero Limiter rejects everything"
    );

    let inf = Limiter::new(Limit::INF, 0);
    assert!(inf.allow());
    assert!(inf.allow_n(now, 1_000));
    let r = inf.reserve_n(now, 5);
    assert!(r.ok() && r.delay_from(now).is_zero());
    r.cancel(); // no effect at an infinite limit
    assert_eq!(inf.wait_n(&context::background(), 3), Ok(())); // Go's TestWaitInf
}

#[test]
fn set_burst_and_limit_mid_stream() {
    let tt = Times::new();
    let lim = Limiter::new(Limit(10.0), 1);
    assert!(lim.allow_n(tt.t(0), 1));
    lim.set_burst_at(tt.t(0), 3);
    // The bucket fills up to the new burst at the old rate.
    run(&lim, &tt, &[(3, 3.0, 3, true), (3, 0.0, 1, false)]);
    lim.set_limit_at(tt.t(3), Limit(20.0));
    run(&lim, &tt, &[(4, 2.0, 2, true)]);
    lim.set_limit_at(tt.t(4), Limit(0.0));
    run(&lim, &tt, &[(9, 0.0, 1, false)]);
    lim.set_limit_at(tt.t(9), Limit::INF);
    assert!(
        lim.allow_n(tt.t(9), 100),
        "anything goes, and takes no token"
    );
    lim.set_limit_at(tt.t(9), Limit(10.0));
    run(&lim, &tt, &[(9, 0.0, 1, false), (12, 3.0, 3, true)]);
}

#[test]
fn wait_simple() {
    // Go's TestWaitSimple, in real time.
    watchdog(30, || {
        let lim = Limiter::new(Limit(10.0), 3);
        let (ctx, cancel) = context::with_cancel(&context::background());
        cancel.cancel();
        assert_eq!(lim.wait(&ctx), Err(Error::Context(ContextError::Canceled)));
        let bg = context::background();
        assert_eq!(
            lim.wait_n(&bg, 4),
            Err(Error::ExceedsBurst { n: 4, burst: 3 })
        );
        let start = Instant::now();
        assert_eq!(lim.wait_n(&bg, 2), Ok(())); // act now
        assert_eq!(lim.wait_n(&bg, 3), Ok(())); // act after 2d
        let took = start.elapsed();
        assert!(took >= 2 * D - Duration::from_millis(1), "waited {took:?}");
        assert!(took < 2 * D + SLACK, "waited {took:?}");
    });
}

#[test]
fn wait_with_a_deadline_too_near_fails_at_once() {
    // Go's TestWaitTimeout, plus: it does not wait for the deadline, and takes nothing.
    watchdog(30, || {
        runtime::block_on(|| {
            let lim = Limiter::new(Limit(10.0), 3);
            let (ctx, _cancel) = context::with_timeout(&context::background(), D);
            assert_eq!(lim.wait_n(&ctx, 2), Ok(()));
            let start = Instant::now();
            assert_eq!(
                lim.wait_n(&ctx, 3),
                Err(Error::WouldExceedDeadline { n: 3 })
            );
            assert!(start.elapsed() < D, "it waited {:?}", start.elapsed());

            // A token a minute, a deadline 5 s away: fail long before the deadline.
            let slow = Limiter::new(every(Duration::from_secs(60)), 1);
            assert!(slow.allow());
            let (ctx, _cancel) =
                context::with_timeout(&context::background(), Duration::from_secs(5));
            let start = Instant::now();
            assert_eq!(slow.wait(&ctx), Err(Error::WouldExceedDeadline { n: 1 }));
            assert!(
                start.elapsed() < Duration::from_secs(1),
                "it waited {:?}",
                start.elapsed()
            );
            assert!(
                slow.tokens() < 0.01,
                "the failed wait took no token, and gave none"
            );
            assert!(ctx.err().is_none(), "the context is still live");
        });
    });
}

#[test]
fn wait_with_a_deadline_far_enough_succeeds() {
    watchdog(30, || {
        let lim = Limiter::new(every(D), 1);
        assert!(lim.allow());
        let (ctx, _cancel) = context::with_timeout(&context::background(), Duration::from_secs(10));
        let start = Instant::now();
        assert_eq!(lim.wait(&ctx), Ok(()));
        assert!(start.elapsed() >= D - Duration::from_millis(1));
    });
}

/// Go's TestWaitCancel, from a goroutine or a plain thread: a wait cancelled by its context
/// returns the context's error and gives its tokens back.
fn wait_cancel() {
    // Go's test uses 10/s; 2/s leaves a slow machine 900 ms to deliver the cancel.
    let lim = Limiter::new(Limit(2.0), 3);
    let (ctx, cancel) = context::with_cancel(&context::background());
    assert_eq!(lim.wait_n(&ctx, 2), Ok(())); // now 1 token is left
    runtime::go!(move || {
        runtime::sleep(D);
        cancel.cancel();
    });
    let start = Instant::now();
    // It needs 2 more tokens: 1 s.
    assert_eq!(
        lim.wait_n(&ctx, 3),
        Err(Error::Context(ContextError::Canceled))
    );
    let took = start.elapsed();
    assert!(took >= D - Duration::from_millis(1), "waited {took:?}");
    assert!(took < Duration::from_millis(900), "waited {took:?}");
    // All 3 tokens are back (it was the last reservation): the 1 left plus what came since
    // (without the cancel there would be -2 plus that).
    assert!(lim.tokens() >= 1.0, "tokens {}", lim.tokens());
    let start = Instant::now();
    assert_eq!(lim.wait_n(&context::background(), 1), Ok(()));
    assert!(start.elapsed() < D, "it waited {:?}", start.elapsed());
}

#[test]
fn a_cancelled_wait_gives_its_tokens_back_in_a_goroutine() {
    watchdog(30, || runtime::block_on(wait_cancel));
}

#[test]
fn a_cancelled_wait_gives_its_tokens_back_on_a_thread() {
    watchdog(30, wait_cancel);
}

#[test]
fn a_parent_cancelled_while_waiting_ends_the_wait() {
    // The deadline is far enough for the reservation, but the parent is cancelled mid-wait.
    watchdog(30, || {
        let lim = Limiter::new(Limit(10.0), 1);
        assert!(lim.allow());
        let (parent, cancel_parent) = context::with_cancel(&context::background());
        let (ctx, _c) = context::with_timeout(&parent, Duration::from_secs(10));
        runtime::go!(move || {
            runtime::sleep(D / 2);
            cancel_parent.cancel();
        });
        assert_eq!(lim.wait(&ctx), Err(Error::Context(ContextError::Canceled)));
    });
}

#[test]
fn set_limit_after_zero_limit_then_wait() {
    // Go's TestSetAfterZeroLimit.
    watchdog(30, || {
        let lim = Limiter::new(Limit(0.0), 1);
        assert!(lim.allow());
        assert!(!lim.allow());
        lim.set_limit(Limit(10.0));
        let start = Instant::now();
        assert_eq!(lim.wait(&context::background()), Ok(()));
        let took = start.elapsed();
        assert!(
            took >= D - Duration::from_millis(1) && took < D + SLACK,
            "waited {took:?}"
        );
    });
}

#[test]
fn waits_are_paced_at_the_limit() {
    // 10/s, burst 1: the first wait is free, the next four take 100 ms each.
    watchdog(30, || {
        runtime::block_on(|| {
            let lim = Limiter::new(Limit(10.0), 1);
            let ctx = context::background();
            let start = Instant::now();
            for _ in 0..5 {
                lim.wait(&ctx).unwrap();
            }
            let took = start.elapsed();
            assert!(
                took >= 4 * D - Duration::from_millis(1),
                "5 waits took {took:?}"
            );
            assert!(took < 4 * D + SLACK, "5 waits took {took:?}");
        });
    });
}

#[test]
fn many_goroutines_and_threads_wait_concurrently() {
    // 200/s, burst 1: 60 waiters (goroutines and threads) get their tokens 5 ms apart, so
    // the last one cannot be done before 59 * 5 ms.
    watchdog(60, || {
        let lim = Arc::new(Limiter::new(Limit(200.0), 1));
        let done = Arc::new(AtomicUsize::new(0));
        let start = Instant::now();
        let mut gs = Vec::new();
        for _ in 0..50 {
            let (lim, done) = (lim.clone(), done.clone());
            gs.push(runtime::spawn(move || {
                lim.wait(&context::background()).unwrap();
                done.fetch_add(1, Ordering::SeqCst);
            }));
        }
        let threads: Vec<_> = (0..10)
            .map(|_| {
                let (lim, done) = (lim.clone(), done.clone());
                std::thread::spawn(move || {
                    lim.wait(&context::background()).unwrap();
                    done.fetch_add(1, Ordering::SeqCst);
                })
            })
            .collect();
        for g in gs {
            g.join().unwrap();
        }
        for t in threads {
            t.join().unwrap();
        }
        let took = start.elapsed();
        assert_eq!(done.load(Ordering::SeqCst), 60);
        assert!(took >= Duration::from_millis(59 * 5 - 1), "took {took:?}");
        assert!(
            took < Duration::from_millis(59 * 5) + SLACK,
            "took {took:?}"
        );
        assert!(lim.tokens() <= 1.0);
    });
}

#[test]
fn errors_read_as_go_s() {
    assert_eq!(
        Error::ExceedsBurst { n: 4, burst: 3 }.to_string(),
        "rate: Wait(n=4) exceeds limiter's burst 3"
    );
    assert_eq!(
        Error::WouldExceedDeadline { n: 3 }.to_string(),
        "rate: Wait(n=3) would exceed context deadline"
    );
    assert_eq!(
        Error::Context(ContextError::DeadlineExceeded).to_string(),
        "context deadline exceeded"
    );
    let e: Box<dyn std::error::Error> = Box::new(Error::from(ContextError::Canceled));
    assert!(e.source().is_some());
}

#[test]
fn limiter_debug_shows_its_state() {
    let lim = Limiter::new(every(Duration::from_millis(1)), 2);
    assert!(format!("{lim:?}").contains("burst: 2"));
}
