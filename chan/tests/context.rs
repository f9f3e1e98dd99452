//! `context`: cancellation trees, deadlines, values (Go's context package semantics).

#[path = "../../runtime/tests/common/mod.rs"]
mod common;
use chan::context::{self, Context, ContextError};
use chan::{Select, Selected, TryRecvError};
use common::watchdog;
use std::time::{Duration, Instant};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Whether `ctx.done()` is closed now.
fn is_done(ctx: &Context) -> bool {
    ctx.done().try_recv() == Err(TryRecvError::Closed)
}

#[test]
fn background_and_todo_are_never_done() {
    for ctx in [context::background(), context::todo()] {
        assert_eq!(ctx.err(), None);
        assert_eq!(ctx.deadline(), None);
        assert_eq!(
            ctx.done().try_recv(),
            Err(TryRecvError::Empty),
            "a nil channel is never ready"
        );
        assert!(ctx.done().recv_timeout(ms(5)).is_err());
    }
    assert_eq!(format!("{:?}", context::background()), "context.Background");
    assert_eq!(format!("{:?}", context::todo()), "context.TODO");
}

#[test]
fn errors_display_as_in_go() {
    assert_eq!(ContextError::Canceled.to_string(), "context canceled");
    assert_eq!(
        ContextError::DeadlineExceeded.to_string(),
        "context deadline exceeded"
    );
    assert!(ContextError::DeadlineExceeded.is_timeout());
    assert!(!ContextError::Canceled.is_timeout());
}

#[test]
fn cancel_closes_done_and_sets_err() {
    let (ctx, cancel) = context::with_cancel(&context::background());
    assert_eq!(ctx.err(), None);
    assert!(!is_done(&ctx));
    cancel.cancel();
    assert!(is_done(&ctx));
    assert_eq!(ctx.err(), Some(ContextError::Canceled));
}

#[test]
fn cancelling_twice_is_a_no_op() {
    let (ctx, cancel) = context::with_cancel(&context::background());
    cancel.cancel();
    cancel.clone().cancel();
    assert_eq!(ctx.err(), Some(ContextError::Canceled));
}

#[test]
fn cancelling_a_parent_cancels_children_and_grandchildren() {
    let (root, cancel_root) = context::with_cancel(&context::background());
    let (child, _c1) = context::with_cancel(&root);
    let via_value = context::with_value(&child, "k", 1u8);
    let (grandchild, _c2) = context::with_cancel(&via_value);
    let (timed, _c3) = context::with_timeout(&grandchild, Duration::from_secs(3600));
    cancel_root.cancel();
    for (name, ctx) in [
        ("child", &child),
        ("value", &via_value),
        ("grandchild", &grandchild),
        ("timed", &timed),
    ] {
        assert!(is_done(ctx), "{name} is done");
        assert_eq!(ctx.err(), Some(ContextError::Canceled), "{name}'s err");
    }
}

#[test]
fn cancelling_a_child_leaves_the_parent_and_siblings_alone() {
    let (parent, _cp) = context::with_cancel(&context::background());
    let (a, cancel_a) = context::with_cancel(&parent);
    let (b, _cb) = context::with_cancel(&parent);
    cancel_a.cancel();
    assert_eq!(a.err(), Some(ContextError::Canceled));
    assert_eq!(parent.err(), None, "the parent is not cancelled");
    assert!(!is_done(&parent));
    assert_eq!(b.err(), None, "a sibling is not cancelled");
}

#[test]
fn a_child_of_a_cancelled_parent_starts_cancelled() {
    let (parent, cancel) = context::with_cancel(&context::background());
    cancel.cancel();
    let (child, _c) = context::with_cancel(&parent);
    assert!(is_done(&child));
    assert_eq!(child.err(), Some(ContextError::Canceled));
    assert_eq!(parent.num_children(), 0, "it never registered");
}

#[test]
fn a_cancelled_child_detaches_from_its_parent() {
    watchdog(60, || {
        let (parent, _cancel) = context::with_cancel(&context::background());
        let value = context::with_value(&parent, 1u32, "under a value");
        for i in 0..100_000 {
            let under = if i % 2 == 0 { &parent } else { &value };
            let (child, cancel) = context::with_cancel(under);
            assert_eq!(
                parent.num_children(),
                1,
                "registered with the nearest canceller"
            );
            cancel.cancel();
            assert!(is_done(&child));
        }
        assert_eq!(parent.num_children(), 0, "every cancelled child detached");
        for _ in 0..1_000 {
            let (_ctx, cancel) = context::with_timeout(&parent, Duration::from_secs(3600));
            cancel.cancel();
        }
        assert_eq!(parent.num_children(), 0, "timeout children detach too");
        assert_eq!(parent.err(), None);
    });
}

#[test]
fn a_child_cancelled_by_its_deadline_detaches_from_its_parent() {
    watchdog(30, || {
        let (parent, _cancel) = context::with_cancel(&context::background());
        let (child, _c) = context::with_timeout(&parent, ms(5));
        assert_eq!(parent.num_children(), 1);
        assert_eq!(child.done().recv(), None);
        common::wait_until(|| parent.num_children() == 0);
        assert_eq!(parent.err(), None);
    });
}

#[test]
fn cancelling_a_parent_empties_its_child_set() {
    let (parent, cancel) = context::with_cancel(&context::background());
    let kids: Vec<_> = (0..100).map(|_| context::with_cancel(&parent)).collect();
    assert_eq!(parent.num_children(), 100);
    cancel.cancel();
    assert_eq!(parent.num_children(), 0);
    assert!(kids.iter().all(|(k, _)| is_done(k)));
}

#[test]
fn with_timeout_fires_deadline_exceeded() {
    watchdog(30, || {
        let start = Instant::now();
        let (ctx, _cancel) = context::with_timeout(&context::background(), ms(30));
        let deadline = ctx.deadline().expect("a timeout context has a deadline");
        assert!(deadline >= start + ms(30));
        assert_eq!(ctx.done().recv(), None, "done is closed, nothing is sent");
        let took = start.elapsed();
        assert!(
            took >= ms(30),
            "cancelled after {took:?}, before its deadline"
        );
        assert!(
            took < ms(530),
            "cancelled after {took:?} for a 30 ms timeout"
        );
        assert_eq!(ctx.err(), Some(ContextError::DeadlineExceeded));
    });
}

#[test]
fn deadline_exceeded_propagates_to_children() {
    watchdog(30, || {
        let (parent, _cp) = context::with_timeout(&context::background(), ms(10));
        let (child, _cc) = context::with_cancel(&parent);
        assert_eq!(
            child.deadline(),
            parent.deadline(),
            "a child inherits the deadline"
        );
        assert_eq!(child.done().recv(), None);
        assert_eq!(child.err(), Some(ContextError::DeadlineExceeded));
    });
}

#[test]
fn cancel_before_the_deadline_reports_canceled() {
    watchdog(30, || {
        let (ctx, cancel) = context::with_timeout(&context::background(), ms(20));
        cancel.cancel();
        assert_eq!(ctx.err(), Some(ContextError::Canceled));
        std::thread::sleep(ms(50));
        assert_eq!(
            ctx.err(),
            Some(ContextError::Canceled),
            "the timer was stopped"
        );
    });
}

#[test]
fn an_earlier_child_deadline_uses_its_own_timer() {
    watchdog(30, || {
        let (parent, _cp) =
            context::with_timeout(&context::background(), Duration::from_secs(3600));
        let (child, _cc) = context::with_timeout(&parent, ms(10));
        assert!(child.deadline() < parent.deadline());
        assert_eq!(child.done().recv(), None);
        assert_eq!(child.err(), Some(ContextError::DeadlineExceeded));
        assert_eq!(
            parent.err(),
            None,
            "the parent's later deadline has not passed"
        );
    });
}

#[test]
fn a_later_child_deadline_keeps_the_parents() {
    watchdog(30, || {
        let (parent, _cp) = context::with_timeout(&context::background(), ms(20));
        let later = Instant::now() + Duration::from_secs(3600);
        let (child, _cc) = context::with_deadline(&parent, later);
        assert_eq!(
            child.deadline(),
            parent.deadline(),
            "the earlier deadline wins"
        );
        assert_eq!(child.done().recv(), None);
        assert_eq!(child.err(), Some(ContextError::DeadlineExceeded));
    });
}

#[test]
fn a_deadline_in_the_past_is_exceeded_at_once() {
    let (ctx, _cancel) = context::with_deadline(&context::background(), Instant::now());
    assert!(is_done(&ctx));
    assert_eq!(ctx.err(), Some(ContextError::DeadlineExceeded));
}

#[test]
fn done_is_a_select_case_beside_another_channel() {
    watchdog(30, || {
        runtime::block_on(|| {
            let work = chan::make::<u32>(0);
            let (ctx, cancel) = context::with_cancel(&context::background());
            let done = ctx.done();
            let tx = work.clone();
            // The order is fixed, not timed: both sends complete (unbuffered: each only once
            // received) before the sender cancels, so done is ready only after both values.
            runtime::go!(move || {
                tx.send(1);
                tx.send(2);
                cancel.cancel();
            });
            let mut got = Vec::new();
            loop {
                let mut sel = Select::new();
                let w = sel.recv(&work);
                let d = sel.recv(&done);
                match sel.wait() {
                    Selected::Case(i) if i == w => got.push(sel.recv_value::<u32>(w)),
                    Selected::Case(i) if i == d => {
                        assert_eq!(sel.recv_value::<()>(d), None, "done is closed");
                        break;
                    }
                    other => panic!("unexpected {other:?}"),
                }
            }
            assert_eq!(got, [Some(1), Some(2)]);
            assert_eq!(ctx.err(), Some(ContextError::Canceled));
        });
    });
}

#[test]
fn a_cancel_from_a_thread_wakes_a_goroutine_blocked_on_done() {
    watchdog(30, || {
        let (ctx, cancel) = context::with_cancel(&context::background());
        let c2 = ctx.clone();
        let h = runtime::spawn(move || {
            assert_eq!(c2.done().recv(), None);
            c2.err()
        });
        std::thread::sleep(ms(10));
        std::thread::spawn(move || cancel.cancel()).join().unwrap();
        assert_eq!(h.join().unwrap(), Some(ContextError::Canceled));
    });
}

#[test]
fn a_cancel_from_a_goroutine_wakes_threads_blocked_on_done() {
    watchdog(30, || {
        let (ctx, cancel) = context::with_cancel(&context::background());
        let (child, _c) = context::with_cancel(&ctx);
        let waiters: Vec<_> = (0..4)
            .map(|_| {
                let c = child.clone();
                std::thread::spawn(move || {
                    assert_eq!(c.done().recv(), None);
                    c.err()
                })
            })
            .collect();
        std::thread::sleep(ms(10));
        runtime::spawn(move || cancel.cancel()).join().unwrap();
        for w in waiters {
            assert_eq!(w.join().unwrap(), Some(ContextError::Canceled));
        }
    });
}

#[test]
fn concurrent_children_and_cancel_lose_no_child() {
    watchdog(60, || {
        for _ in 0..20 {
            let (parent, cancel) = context::with_cancel(&context::background());
            let makers: Vec<_> = (0..4)
                .map(|_| {
                    let p = parent.clone();
                    runtime::spawn(move || {
                        (0..200)
                            .map(|_| context::with_cancel(&p).0)
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            cancel.cancel();
            for m in makers {
                for child in m.join().unwrap() {
                    assert_eq!(child.err(), Some(ContextError::Canceled), "child missed");
                }
            }
            assert_eq!(parent.num_children(), 0);
        }
    });
}

#[test]
fn value_lookup_walks_up_the_chain() {
    #[derive(PartialEq, Eq)]
    struct User;
    #[derive(PartialEq, Eq)]
    struct Trace(u8);

    let root = context::with_value(&context::background(), User, String::from("gopher"));
    let (mid, _cancel) = context::with_cancel(&root);
    let a = context::with_value(&mid, Trace(1), 100u32);
    let b = context::with_value(&a, Trace(2), 200u32);

    assert_eq!(
        b.value::<User, String>(&User).map(String::as_str),
        Some("gopher")
    );
    assert_eq!(b.value::<Trace, u32>(&Trace(1)), Some(&100));
    assert_eq!(b.value::<Trace, u32>(&Trace(2)), Some(&200));
    assert_eq!(
        a.value::<Trace, u32>(&Trace(2)),
        None,
        "not visible from above"
    );
    assert_eq!(b.value::<Trace, u32>(&Trace(3)), None, "absent key");
    assert_eq!(
        b.value::<User, u32>(&User),
        None,
        "the nearest value is a String"
    );
    assert_eq!(context::background().value::<User, String>(&User), None);
}

#[test]
fn a_nearer_value_shadows_a_farther_one() {
    let outer = context::with_value(&context::background(), "k", 1i32);
    let inner = context::with_value(&outer, "k", 2i32);
    assert_eq!(inner.value::<&str, i32>(&"k"), Some(&2));
    assert_eq!(outer.value::<&str, i32>(&"k"), Some(&1));
    // Keys of different types never match, even if they print alike.
    assert_eq!(inner.value::<String, i32>(&"k".to_string()), None);
}

#[test]
fn values_are_shared_across_goroutines() {
    let ctx = context::with_value(&context::background(), 7u8, vec![1, 2, 3]);
    let h = runtime::spawn(move || ctx.value::<u8, Vec<i32>>(&7).cloned());
    assert_eq!(h.join().unwrap(), Some(vec![1, 2, 3]));
}

#[test]
fn debug_shows_the_chain() {
    let (c, cancel) = context::with_cancel(&context::background());
    let v = context::with_value(&c, 1u16, 'x');
    assert_eq!(
        format!("{v:?}"),
        "context.Background.WithCancel.WithValue(u16, char)"
    );
    cancel.cancel();
    assert!(format!("{v:?}").ends_with("[context canceled]"));
}

#[test]
fn a_deep_chain_drops_and_cancels_without_recursion() {
    watchdog(60, || {
        // Run on a goroutine: its stack is the small one a recursive drop would overflow.
        runtime::block_on(|| {
            let (root, cancel) = context::with_cancel(&context::background());
            let mut ctx = root.clone();
            for i in 0..100_000u32 {
                ctx = if i % 2 == 0 {
                    context::with_value(&ctx, i, i)
                } else {
                    context::with_cancel(&ctx).0
                };
            }
            assert_eq!(
                ctx.value::<u32, u32>(&0),
                Some(&0),
                "the walk reaches the root"
            );
            cancel.cancel();
            assert!(is_done(&ctx));
            drop(ctx);
            // An uncancelled deep chain is freed iteratively too.
            let (root2, _c) = context::with_cancel(&context::background());
            let mut ctx = root2.clone();
            for _ in 0..100_000 {
                ctx = context::with_cancel(&ctx).0;
            }
            drop(ctx);
            drop(root2);
        });
    });
}

#[test]
fn context_is_send_sync_clone() {
    fn check<T: Send + Sync + Clone + 'static>() {}
    check::<Context>();
    check::<context::CancelFunc>();
}
