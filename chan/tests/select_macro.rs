//! The `select!` macro, as Go's `select` statement: every arm kind, nil (`None`) arms,
//! single-arm and empty selects, evaluation order of operands, what happens to values not
//! sent, uniform fairness among ready arms (chi-squared), control flow out of bodies,
//! the for-select loop, selects in goroutines and on plain threads, hygiene, and that the
//! expansion does not allocate; and (with trybuild, cases in `tests/ui/`) the compile errors
//! for malformed selects.
//!
//! Every test that can wait runs under [`common::watchdog`].

#[path = "../../runtime/tests/common/mod.rs"]
mod common;
mod support;
use support::assert_uniform;

use chan::{Chan, Receiver, Sender, make, select};
use common::{Watched, watchdog};
use runtime::WaitReason;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

// ---- helpers -----------------------------------------------------------------------------

/// Counts this thread's allocations, to show that `select!` itself allocates nothing.
struct CountingAlloc;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; the counter is a const-initialised thread local
// without a destructor, so touching it cannot allocate or recurse.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: our caller upholds GlobalAlloc::alloc's contract (a valid, non-zero-size
        // layout), which is System.alloc's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from our alloc, which is System.alloc, with this `layout` (our
        // caller's contract), so System.dealloc may free it.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

/// A value that records its drop.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Runs `f` on a plain thread, waits until the thread has blocked in goro, and reports
/// whether it is still blocked then (the thread is leaked: a select that blocks forever
/// cannot be stopped).
fn blocks(f: impl FnOnce() + Send + 'static) -> bool {
    let finished = Arc::new(AtomicBool::new(false));
    let f2 = finished.clone();
    let (_t, watched) = common::thread_watched(move || {
        f();
        f2.store(true, Ordering::SeqCst);
    });
    watched.wait_parked(WaitReason::Select);
    !finished.load(Ordering::SeqCst) && watched.is_parked(WaitReason::Select)
}

// ---- receive arms ------------------------------------------------------------------------

#[test]
fn recv_arm_binds_the_received_value() {
    watchdog(10, || {
        let ch = make::<i32>(1);
        ch.send(7);
        let got = select! {
            v = <-ch => v,
        };
        assert_eq!(got, Some(7), "the arm binds Some(value) on a receive");
    });
}

#[test]
fn recv_arm_binds_none_when_closed_and_drained() {
    watchdog(10, || {
        let ch = make::<i32>(2);
        ch.send(1);
        ch.close();
        let first = select! { v = <-ch => v };
        let second = select! { v = <-ch => v };
        assert_eq!(
            (first, second),
            (Some(1), None),
            "buffered values first, then None"
        );
    });
}

#[test]
fn recv_arm_accepts_mut_and_wildcard_patterns() {
    watchdog(10, || {
        let ch = make::<i32>(2);
        ch.send(1);
        ch.send(2);
        let doubled = select! {
            mut v = <-ch => {
                v = v.map(|x| x * 2);
                v
            }
        };
        assert_eq!(doubled, Some(2));
        let taken = select! { _ = <-ch => true };
        assert!(taken);
        assert!(ch.is_empty(), "`_ = <-ch` still receives the value");
    });
}

#[test]
fn recv_discard_arm_receives_and_drops_the_value() {
    watchdog(10, || {
        let ch = make::<DropFlag>(1);
        let dropped = Arc::new(AtomicBool::new(false));
        ch.send(DropFlag(dropped.clone()));
        select! {
            <-ch => assert!(dropped.load(Ordering::SeqCst), "dropped before the body runs"),
        }
        assert!(ch.is_empty());
    });
}

#[test]
fn recv_arm_waits_for_a_sender_on_an_unbuffered_channel() {
    watchdog(10, || {
        let ch = make::<&'static str>(0);
        let tx = ch.clone();
        let me = Watched::current();
        let h = std::thread::spawn(move || {
            // Sends only once the select below has blocked.
            me.wait_parked(WaitReason::Select);
            tx.send("late");
        });
        let got = select! { v = <-ch => v };
        assert_eq!(got, Some("late"));
        h.join().unwrap();
    });
}

// ---- send arms ---------------------------------------------------------------------------

#[test]
fn send_arm_sends_the_value() {
    watchdog(10, || {
        let ch = make::<String>(1);
        let sent = select! {
            ch <- "hello".to_string() => true,
        };
        assert!(sent);
        assert_eq!(ch.try_recv().ok().as_deref(), Some("hello"));
    });
}

#[test]
fn send_arm_hands_off_to_a_waiting_receiver() {
    watchdog(10, || {
        let ch = make::<u64>(0);
        let rx = ch.receiver();
        let h = runtime::spawn(move || rx.recv());
        select! { ch <- 99 => {} }
        assert_eq!(h.join().unwrap(), Some(99));
    });
}

#[test]
fn send_value_of_an_arm_not_taken_is_dropped_before_the_body() {
    watchdog(10, || {
        let full = make::<DropFlag>(0); // nobody receives: never ready
        let ready = make::<i32>(1);
        ready.send(1);
        let dropped = Arc::new(AtomicBool::new(false));
        let seen_in_body = select! {
            full <- DropFlag(dropped.clone()) => unreachable!("nobody receives on `full`"),
            _ = <-ready => dropped.load(Ordering::SeqCst),
        };
        assert!(seen_in_body, "the unsent value is dropped before the body");
        assert!(full.is_empty());
    });
}

#[test]
fn send_value_that_was_sent_is_not_dropped() {
    watchdog(10, || {
        let ch = make::<DropFlag>(1);
        let dropped = Arc::new(AtomicBool::new(false));
        select! { ch <- DropFlag(dropped.clone()) => {} }
        assert!(
            !dropped.load(Ordering::SeqCst),
            "the value is in the channel"
        );
        drop(ch.recv());
        assert!(dropped.load(Ordering::SeqCst));
    });
}

#[test]
fn send_on_a_closed_channel_panics() {
    watchdog(10, || {
        let ch = make::<i32>(1);
        ch.close();
        let prev = panic::take_hook();
        panic::set_hook(Box::new(|_| {}));
        let r = panic::catch_unwind(AssertUnwindSafe(|| {
            select! { ch <- 1 => {} }
        }));
        panic::set_hook(prev);
        let p = r.expect_err("a send on a closed channel must panic");
        assert_eq!(p.downcast_ref::<&str>(), Some(&"send on closed channel"));
    });
}

// ---- default and timeout -----------------------------------------------------------------

#[test]
fn default_runs_when_nothing_is_ready() {
    watchdog(10, || {
        let ch = make::<i32>(0);
        let r = select! {
            v = <-ch => format!("received {v:?}"),
            default => "default".to_string(),
        };
        assert_eq!(r, "default");
    });
}

#[test]
fn default_is_not_taken_when_an_arm_is_ready() {
    watchdog(10, || {
        let ch = make::<i32>(1);
        for i in 0..100 {
            ch.send(i);
            let r = select! {
                default => None,
                v = <-ch => v,
            };
            assert_eq!(r, Some(i), "a ready arm beats default");
        }
    });
}

#[test]
fn default_alone_runs_at_once() {
    let r = select! { default => 5 };
    assert_eq!(r, 5);
}

#[test]
fn timeout_fires_when_nothing_becomes_ready() {
    watchdog(10, || {
        let ch = make::<i32>(0);
        let start = Instant::now();
        let timed_out = select! {
            _ = <-ch => false,
            timeout(Duration::from_millis(30)) => true,
        };
        assert!(timed_out);
        assert!(
            start.elapsed() >= Duration::from_millis(30),
            "fired early: {:?}",
            start.elapsed()
        );
    });
}

#[test]
fn timeout_does_not_fire_when_an_arm_becomes_ready_in_time() {
    watchdog(10, || {
        let ch = make::<i32>(0);
        let tx = ch.sender();
        // The sender comes once this thread has parked in the select, its timer armed.
        let me = Watched::current();
        let h = std::thread::spawn(move || {
            me.wait_parked(WaitReason::Select);
            tx.send(3);
        });
        let r = select! {
            v = <-ch => v,
            timeout(Duration::from_secs(5)) => panic!("timed out although a sender came"),
        };
        assert_eq!(r, Some(3));
        h.join().unwrap();
    });
}

#[test]
fn timeout_alone_sleeps() {
    watchdog(10, || {
        let start = Instant::now();
        select! { timeout(Duration::from_millis(20)) => {} }
        assert!(start.elapsed() >= Duration::from_millis(20));
    });
}

// ---- nil arms, empty and single-arm selects ------------------------------------------------

#[test]
fn none_operand_is_a_nil_channel_never_ready() {
    watchdog(10, || {
        let nil_rx: Option<Chan<i32>> = None;
        let nil_tx: Option<Sender<i32>> = None;
        for _ in 0..100 {
            let r = select! {
                _ = <-nil_rx => "recv",
                nil_tx <- 1 => "send",
                default => "default",
            };
            assert_eq!(r, "default", "nil arms are never ready");
        }
    });
}

#[test]
fn some_operand_is_the_channel() {
    watchdog(10, || {
        let ch = make::<i32>(1);
        let maybe: Option<Sender<i32>> = Some(ch.sender());
        select! { maybe <- 4 => {} }
        let maybe_rx: Option<&Chan<i32>> = Some(&ch);
        assert_eq!(select! { v = <-maybe_rx => v }, Some(4));
    });
}

#[test]
fn nil_arms_with_a_timeout_time_out() {
    watchdog(10, || {
        let nil: Option<Receiver<()>> = None;
        let r = select! {
            <-nil => "recv",
            <-Chan::<()>::nil() => "recv",
            timeout(Duration::from_millis(10)) => "timeout",
        };
        assert_eq!(r, "timeout");
    });
}

#[test]
fn all_nil_select_blocks_forever() {
    watchdog(10, || {
        assert!(
            blocks(|| {
                let nil: Option<Chan<i32>> = None;
                select! {
                    _ = <-nil => {}
                    nil <- 1 => {}
                }
            }),
            "a select of only nil channels must block forever, like Go's"
        );
    });
}

#[test]
fn empty_select_blocks_forever() {
    watchdog(10, || {
        assert!(
            blocks(|| {
                select! {}
            }),
            "`select! {{}}` must block forever, like Go's `select {{}}`"
        );
    });
}

#[test]
fn empty_select_has_type_never() {
    // Compile-time check: `select! {}` coerces to any type, as `loop {}` does.
    #[allow(unreachable_code, dead_code)]
    fn never() -> u32 {
        select! {}
    }
    let _ = never as fn() -> u32;
}

#[test]
fn single_arm_select_blocks_until_ready() {
    watchdog(10, || {
        let ch = make::<i32>(0);
        let tx = ch.clone();
        assert!(blocks(move || {
            let _ = select! { v = <-ch => v };
        }));
        tx.send(1); // wakes it
    });
}

// ---- evaluation order --------------------------------------------------------------------

#[test]
fn operands_are_evaluated_once_in_source_order_before_polling() {
    watchdog(10, || {
        let log = RefCell::new(Vec::new());
        let a = make::<i32>(1);
        let b = make::<i32>(1);
        let c = make::<i32>(1);
        a.send(1);
        let note = |what: &'static str| log.borrow_mut().push(what);
        let r = select! {
            v = <-{ note("recv a"); &a } => v,
            { note("chan b"); &b } <- { note("value b"); 2 } => None,
            timeout({ note("timeout"); Duration::from_secs(1) }) => None,
            <-{ note("recv c"); &c } => None,
        };
        // `b` had room too, so either arm may win; the order is what matters.
        assert!(r == Some(1) || r.is_none());
        assert_eq!(
            *log.borrow(),
            ["recv a", "chan b", "value b", "timeout", "recv c"],
            "each operand once, in source order"
        );
    });
}

#[test]
fn operand_temporaries_live_through_the_select() {
    watchdog(10, || {
        // `time::after(d)` returns a Receiver by value: a temporary the select must keep.
        let r = select! {
            _ = <-chan::time::after(Duration::from_millis(5)) => "after",
            timeout(Duration::from_secs(5)) => "timeout",
        };
        assert_eq!(r, "after");
    });
}

// ---- operand kinds -----------------------------------------------------------------------

#[test]
fn operands_may_be_chans_views_references_and_options() {
    watchdog(10, || {
        let ch = make::<i32>(8);
        let tx: Sender<i32> = ch.sender();
        let rx: Receiver<i32> = ch.receiver();
        let opt_tx: Option<Sender<i32>> = Some(ch.sender());
        select! { ch <- 1 => {} }
        select! { &ch <- 2 => {} }
        select! { tx <- 3 => {} }
        select! { &tx <- 4 => {} }
        select! { opt_tx <- 5 => {} }
        select! { &opt_tx <- 6 => {} }
        select! { opt_tx.as_ref() <- 7 => {} }
        let got = [
            select! { v = <-ch => v },
            select! { v = <-&ch => v },
            select! { v = <-rx => v },
            select! { v = <-&rx => v },
            select! { v = <-Some(rx.clone()) => v },
            select! { v = <-Some(&rx) => v },
            select! { v = <-ch.receiver() => v },
        ];
        assert_eq!(got, [1, 2, 3, 4, 5, 6, 7].map(Some));
        // The operands were borrowed, not moved.
        drop((ch, tx, rx, opt_tx));
    });
}

#[test]
fn timer_and_context_channels_work_as_operands() {
    watchdog(10, || {
        let timer = chan::time::Timer::new(Duration::from_millis(5));
        let r = select! {
            _ = <-timer.c() => "timer",
            timeout(Duration::from_secs(5)) => "timeout",
        };
        assert_eq!(r, "timer");
        let (ctx, cancel) = chan::context::with_cancel(&chan::context::background());
        cancel.cancel();
        let r = select! {
            <-ctx.done() => "done",
            timeout(Duration::from_secs(5)) => "timeout",
        };
        assert_eq!(r, "done");
    });
}

// ---- fairness ----------------------------------------------------------------------------

#[test]
fn ready_arms_are_chosen_uniformly() {
    watchdog(60, || {
        // Four always-ready receive arms (closed channels), as in Go's TestSelectFairness.
        let chans: Vec<Chan<()>> = (0..4).map(|_| make(0)).collect();
        for c in &chans {
            c.close();
        }
        let mut counts = [0usize; 4];
        for _ in 0..100_000 {
            let i = select! {
                _ = <-chans[0] => 0,
                _ = <-chans[1] => 1,
                _ = <-chans[2] => 2,
                _ = <-chans[3] => 3,
            };
            counts[i] += 1;
        }
        assert_uniform(&counts);
    });
}

#[test]
fn ready_send_and_receive_arms_are_chosen_uniformly() {
    watchdog(60, || {
        let closed = make::<i32>(0);
        closed.close();
        let roomy = make::<i32>(1);
        let mut counts = [0usize; 2];
        for _ in 0..50_000 {
            let i = select! {
                roomy <- 1 => 0,
                <-closed => 1,
            };
            counts[i] += 1;
            let _ = roomy.try_recv();
        }
        assert_uniform(&counts);
    });
}

// ---- control flow from bodies ------------------------------------------------------------

#[test]
fn break_and_continue_act_on_the_enclosing_loop() {
    watchdog(10, || {
        let ch = make::<i32>(10);
        for i in 0..10 {
            ch.send(i);
        }
        ch.close();
        let mut odd = Vec::new();
        loop {
            select! {
                v = <-ch => match v {
                    None => break,
                    Some(v) if v % 2 == 0 => continue,
                    Some(v) => odd.push(v),
                },
            }
        }
        assert_eq!(odd, [1, 3, 5, 7, 9]);
    });
}

#[test]
fn labelled_break_leaves_an_outer_loop() {
    watchdog(10, || {
        let ch = make::<i32>(1);
        let mut received = Vec::new();
        'outer: for round in 0..10 {
            for _ in 0..2 {
                // With one slot, the two arms alternate: send `round`, then receive it.
                select! {
                    ch <- round => {}
                    v = <-ch => {
                        received.push(v.unwrap());
                        if v == Some(2) {
                            break 'outer;
                        }
                    }
                }
            }
        }
        assert_eq!(received, [0, 1, 2], "`break 'outer` left both loops");
    });
}

#[test]
fn return_acts_on_the_enclosing_function() {
    fn first_value(ch: &Chan<i32>) -> i32 {
        loop {
            select! {
                v = <-ch => return v.unwrap_or(-1),
                default => {}
            }
        }
    }
    watchdog(10, || {
        let ch = make::<i32>(1);
        ch.send(42);
        assert_eq!(first_value(&ch), 42);
    });
}

#[test]
fn question_mark_propagates_from_a_body() {
    fn parse_next(ch: &Chan<&'static str>) -> Result<i32, std::num::ParseIntError> {
        let n = select! {
            s = <-ch => s.unwrap_or("0").parse::<i32>()?,
        };
        Ok(n + 1)
    }
    watchdog(10, || {
        let ch = make::<&'static str>(2);
        ch.send("41");
        ch.send("x");
        assert_eq!(parse_next(&ch), Ok(42));
        assert!(parse_next(&ch).is_err(), "`?` returned the error");
    });
}

#[test]
fn select_is_an_expression_whose_arms_unify() {
    watchdog(10, || {
        let ch = make::<u8>(1);
        let r: Box<dyn std::fmt::Debug> = select! {
            v = <-ch => Box::new(v),
            default => Box::new("nothing"),
        };
        assert_eq!(format!("{r:?}"), "\"nothing\"");
        let n: u64 = select! {
            _ = <-ch => 1,
            timeout(Duration::from_millis(1)) => 2,
        };
        assert_eq!(n, 2);
    });
}

#[test]
fn a_body_may_reassign_the_channels_it_selected_on() {
    watchdog(10, || {
        let mut a: Option<Chan<i32>> = Some(make(1));
        a.as_ref().unwrap().send(1);
        select! {
            v = <-a => {
                assert_eq!(v, Some(1));
                a = None; // Go's idiom: disable the arm by making the channel nil
            }
        }
        assert!(a.is_none());
    });
}

#[test]
fn selects_nest_in_bodies() {
    watchdog(10, || {
        let a = make::<i32>(1);
        let b = make::<i32>(1);
        a.send(1);
        b.send(2);
        let r = select! {
            x = <-a => select! {
                y = <-b => x.unwrap() + y.unwrap(),
            },
        };
        assert_eq!(r, 3);
    });
}

// ---- the for-select loop, goroutines and threads -------------------------------------------

#[test]
fn for_select_loop_drains_until_quit() {
    watchdog(20, || {
        let data = make::<u32>(0);
        let quit = make::<()>(0);
        let (d, q) = (data.sender(), quit.clone());
        runtime::go(move || {
            for i in 1..=100 {
                d.send(i);
            }
            q.close();
        });
        let mut sum = 0;
        loop {
            select! {
                v = <-data => sum += v.unwrap(),
                <-quit => break,
            }
        }
        assert_eq!(sum, 5050);
    });
}

#[test]
fn goroutines_ping_pong_through_selects() {
    watchdog(20, || {
        let ping = make::<u32>(0);
        let pong = make::<u32>(0);
        let (pi, po) = (ping.clone(), pong.clone());
        let h = runtime::spawn(move || {
            let mut n = 0;
            loop {
                select! {
                    v = <-pi => match v {
                        Some(v) => select! { po <- v + 1 => n += 1 },
                        None => return n,
                    },
                    timeout(Duration::from_secs(10)) => panic!("no ping"),
                }
            }
        });
        // This side runs on a plain thread (the test thread).
        let mut v = 0;
        for _ in 0..1000 {
            select! { ping <- v => {} }
            v = select! { r = <-pong => r.unwrap() };
        }
        ping.close();
        assert_eq!(v, 1000);
        assert_eq!(h.join().unwrap(), 1000);
    });
}

#[test]
fn block_on_runs_selects_on_a_goroutine() {
    watchdog(20, || {
        let r = runtime::block_on(|| {
            let ch = make::<i32>(0);
            let tx = ch.clone();
            let me = Watched::current();
            runtime::go(move || {
                me.wait_parked(WaitReason::Select); // the select below waits first
                select! { tx <- 5 => {} }
            });
            select! {
                v = <-ch => v,
                timeout(Duration::from_secs(5)) => None,
            }
        });
        assert_eq!(r, Some(5));
    });
}

#[test]
fn many_goroutines_select_on_shared_channels_without_losing_values() {
    watchdog(30, || {
        const WORKERS: usize = 8;
        const PER_WORKER: usize = 500;
        let work = make::<usize>(16);
        let results = make::<usize>(16);
        let done = make::<()>(0);
        let received = Arc::new(AtomicUsize::new(0));
        for _ in 0..WORKERS {
            let (w, r, d) = (work.clone(), results.clone(), done.clone());
            runtime::go(move || {
                loop {
                    select! {
                        v = <-w => match v {
                            Some(v) => select! { r <- v => {} },
                            None => break,
                        },
                        <-d => break,
                    }
                }
            });
        }
        let (w, total) = (work.clone(), received.clone());
        let producer = std::thread::spawn(move || {
            for i in 0..WORKERS * PER_WORKER {
                select! { w <- i => {} }
            }
            w.close();
        });
        let mut sum = 0;
        for _ in 0..WORKERS * PER_WORKER {
            sum += select! { v = <-results => v.unwrap() };
            total.fetch_add(1, Ordering::Relaxed);
        }
        producer.join().unwrap();
        done.close();
        let n = WORKERS * PER_WORKER;
        assert_eq!(sum, n * (n - 1) / 2, "every value exactly once");
        assert_eq!(received.load(Ordering::Relaxed), n);
    });
}

// ---- compile errors ----------------------------------------------------------------------

/// Each `tests/ui/*.rs` must fail to compile with the message in its `.stderr`, pointing at
/// the offending arm. Regenerate with `TRYBUILD=overwrite` and review the diff.
#[test]
fn malformed_selects_are_compile_errors_pointing_at_the_arm() {
    trybuild::TestCases::new().compile_fail("tests/ui/*.rs");
}

// ---- hygiene and allocation --------------------------------------------------------------

mod hygiene {
    //! User items named like the ones the expansion uses must not change it.
    #![allow(dead_code)]

    type Result = ();
    struct Option;
    struct Some;
    struct None;
    struct Chan;
    struct Selected;
    mod select {}
    mod core {}
    mod std {}

    #[test]
    fn expansion_ignores_user_items_named_like_std_and_chan_ones() {
        let ch = ::chan::make::<i32>(1);
        ch.send(1);
        let __goro_select_case0 = 5; // a user local named like an internal one
        let got = ::chan::select! {
            v = <-ch => v == ::core::option::Option::Some(1),
            timeout(::std::time::Duration::from_secs(1)) => false,
        };
        assert!(got);
        assert_eq!(__goro_select_case0, 5);
        unit();
    }

    fn unit() -> Result {
        ::chan::select! { default => () }
    }
}

#[test]
fn select_of_eight_ready_arms_does_not_allocate() {
    let chans: Vec<Chan<u32>> = (0..8).map(|_| make(1)).collect();
    for (i, c) in chans.iter().enumerate() {
        c.send(i as u32);
    }
    let before = allocations();
    let (c0, c1, c2, c3) = (&chans[0], &chans[1], &chans[2], &chans[3]);
    let (c4, c5, c6, c7) = (&chans[4], &chans[5], &chans[6], &chans[7]);
    let got = select! {
        v = <-c0 => v,
        v = <-c1 => v,
        v = <-c2 => v,
        v = <-c3 => v,
        v = <-c4 => v,
        v = <-c5 => v,
        v = <-c6 => v,
        v = <-c7 => v,
    };
    let during = allocations() - before;
    assert!(got.is_some());
    assert_eq!(during, 0, "select! allocated {during} times");
    let before = allocations();
    let r = select! {
        c0 <- 1 => 0,
        default => 1,
    };
    let after = allocations() - before;
    assert!(r == 0 || r == 1);
    assert_eq!(after, 0, "a non-blocking select! allocated {after} times");
}

#[test]
fn select_macro_works_on_channels_of_borrowed_values() {
    // Element types need not be 'static: the engine's cases are generic over any T.
    common::watchdog(30, || {
        let words = [String::from("a"), String::from("b")];
        let ch = chan::make::<&str>(2);
        ch.send(&words[0]);
        let got = chan::select! {
            v = <-ch => v,
            default => None,
        };
        assert_eq!(got, Some("a"));
    });
}
