//! Bad durations never panic (issue 17, part 3): `Duration::MAX`, or anything that overflows
//! `Instant::now() + d`, passed to every timed operation means "wait as long as the runtime
//! can represent" (about 584 years, `runtime::deadline_after`), never a panic. Each test runs
//! under the watchdog.

#[path = "../runtime/tests/common/mod.rs"]
mod common;

use common::watchdog;
use goro::{chan, context, runtime, select, time};
use std::time::{Duration, Instant};

const FOREVER: Duration = Duration::MAX;

#[test]
fn deadline_after_saturates_instead_of_overflowing() {
    let far = runtime::deadline_after(FOREVER);
    assert!(far > Instant::now() + Duration::from_secs(500 * 365 * 24 * 3600));
    assert_eq!(
        far,
        runtime::deadline_after(Duration::from_secs(u64::MAX / 2))
    );
}

#[test]
fn channel_timeouts_of_duration_max_wait_for_the_value() {
    watchdog(30, || {
        runtime::block_on(|| {
            let ch = chan::make::<u32>(0);
            let tx = ch.clone();
            goro::go!(move || {
                runtime::sleep(Duration::from_millis(10));
                tx.send_timeout(7, FOREVER).unwrap();
            });
            assert_eq!(ch.recv_timeout(FOREVER), Ok(Some(7)));
            let r = ch.receiver();
            let buffered = chan::make::<u32>(1);
            buffered.send_timeout(1, FOREVER).unwrap();
            assert_eq!(buffered.receiver().recv_timeout(FOREVER), Ok(Some(1)));
            drop(r);
        });
    });
}

#[test]
fn select_timeouts_of_duration_max_do_not_fire() {
    watchdog(30, || {
        runtime::block_on(|| {
            let ch = chan::make::<u32>(1);
            ch.send(3);
            let got = select! {
                v = <-ch => v,
                timeout(FOREVER) => None,
            };
            assert_eq!(got, Some(3));

            let ch2 = chan::make::<u32>(1);
            let mut sel = chan::Select::new();
            let case = sel.recv(&ch2);
            sel.timeout(FOREVER);
            let tx = ch2.clone();
            goro::go!(move || tx.send(4));
            assert_eq!(sel.wait(), chan::Selected::Case(case));
        });
    });
}

#[test]
fn timers_tickers_and_contexts_accept_duration_max() {
    watchdog(30, || {
        runtime::block_on(|| {
            let after = time::after(FOREVER);
            assert!(after.try_recv().is_err(), "a 584-year timer has not fired");
            let t = time::Timer::new(FOREVER);
            assert!(t.stop(), "it was pending");
            let ticker = time::Ticker::new(FOREVER);
            ticker.reset(FOREVER);
            ticker.stop();
            let f = runtime::after_func(FOREVER, || unreachable!("fired"));
            assert!(f.stop());
            let (ctx, cancel) = context::with_timeout(&context::background(), FOREVER);
            assert!(ctx.deadline().is_some_and(|d| d > Instant::now()));
            assert_eq!(ctx.err(), None);
            cancel.cancel();
            assert_eq!(ctx.err(), Some(context::ContextError::Canceled));
        });
    });
}

#[test]
fn a_goroutine_can_sleep_for_duration_max() {
    watchdog(30, || {
        runtime::block_on(|| {
            let site = format!("durations.rs:{}:", line!() + 1);
            goro::go!(move || runtime::sleep(FOREVER));
            // It parks on a timer (no panic) and stays asleep; the process exits around it.
            while !runtime::stack_dump()
                .split("\ngoroutine ")
                .any(|g| g.contains("[sleep") && g.contains(&site))
            {
                runtime::sleep(Duration::from_millis(1));
            }
        });
    });
}

#[test]
fn network_timeouts_accept_duration_max() {
    watchdog(30, || {
        runtime::block_on(|| {
            let ln = goro::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = ln.local_addr().unwrap();
            let c = goro::net::TcpStream::connect_timeout(&addr, FOREVER).unwrap();
            c.set_read_deadline(Some(runtime::deadline_after(FOREVER)))
                .unwrap();
            let (mut s, _) = ln.accept().unwrap();
            use std::io::{Read, Write};
            s.write_all(b"x").unwrap();
            let mut b = [0u8; 1];
            (&c).read_exact(&mut b).unwrap();
            let d = goro::net::dial_timeout("tcp", &addr.to_string(), FOREVER).unwrap();
            drop(d);
        });
    });
}
