//! `context`: cancellation trees, deadlines, values (Go's context package semantics).

#[path = "../../runtime/tests/common/mod.rs"]
mod common;
use chan::context::{self, Cause, Context, ContextError};
use chan::{Select, Selected, TryRecvError};
use common::watchdog;
use runtime::WaitReason;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
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
        let (h, watched) = common::spawn_watched(move || {
            assert_eq!(c2.done().recv(), None);
            c2.err()
        });
        watched.wait_parked(WaitReason::ChanReceive);
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
                common::thread_watched(move || {
                    assert_eq!(c.done().recv(), None);
                    c.err()
                })
            })
            .collect();
        for (_, watched) in &waiters {
            watched.wait_parked(WaitReason::ChanReceive);
        }
        runtime::spawn(move || cancel.cancel()).join().unwrap();
        for (w, _) in waiters {
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

// ---- Go 1.20-1.21: causes, AfterFunc, WithoutCancel ----

/// An error value of the test's own (Go's `errors.New`): each call is a distinct cause.
fn new_cause(msg: &str) -> Cause {
    Cause::from(msg)
}

fn canceled() -> Option<Cause> {
    Some(ContextError::Canceled.into())
}

fn deadline_exceeded() -> Option<Cause> {
    Some(ContextError::DeadlineExceeded.into())
}

/// Go's TestCause, case by case: what `err()` and `cause()` return.
#[test]
fn err_and_cause_in_each_case_as_go() {
    watchdog(30, || {
        let bg = context::background();
        let (cause1, cause2) = (new_cause("cause1"), new_cause("cause2"));
        let check = |name: &str, ctx: &Context, err: Option<ContextError>, cause: Option<Cause>| {
            assert_eq!(ctx.err(), err, "{name}: err");
            assert_eq!(context::cause(ctx), cause, "{name}: cause");
        };

        check("background", &bg, None, None);
        check("todo", &context::todo(), None, None);

        let (ctx, cancel) = context::with_cancel(&bg);
        check("with_cancel, live", &ctx, None, None);
        cancel.cancel();
        check(
            "with_cancel, cancelled",
            &ctx,
            Some(ContextError::Canceled),
            canceled(),
        );

        let (ctx, cancel) = context::with_cancel_cause(&bg);
        check("with_cancel_cause, live", &ctx, None, None);
        cancel.cancel(Some(cause1.clone()));
        check(
            "with_cancel_cause",
            &ctx,
            Some(ContextError::Canceled),
            Some(cause1.clone()),
        );

        let (ctx, cancel) = context::with_cancel_cause(&bg);
        cancel.cancel(None);
        check(
            "with_cancel_cause(nil)",
            &ctx,
            Some(ContextError::Canceled),
            canceled(),
        );

        let (parent, cancel) = context::with_cancel_cause(&bg);
        let (ctx, _c) = context::with_cancel(&parent);
        cancel.cancel(Some(cause1.clone()));
        check(
            "parent cancelled with cause",
            &ctx,
            Some(ContextError::Canceled),
            Some(cause1.clone()),
        );

        let (parent, cancel_parent) = context::with_cancel_cause(&bg);
        let (ctx, cancel) = context::with_cancel_cause(&parent);
        cancel_parent.cancel(Some(cause1.clone()));
        cancel.cancel(Some(cause2.clone()));
        check(
            "parent first: the parent's cause",
            &ctx,
            Some(ContextError::Canceled),
            Some(cause1.clone()),
        );

        let (parent, cancel_parent) = context::with_cancel_cause(&bg);
        let (ctx, cancel) = context::with_cancel_cause(&parent);
        cancel.cancel(Some(cause2.clone()));
        cancel_parent.cancel(Some(cause1.clone()));
        check(
            "child first: its own cause",
            &ctx,
            Some(ContextError::Canceled),
            Some(cause2.clone()),
        );
        check(
            "  and the parent's",
            &parent,
            Some(ContextError::Canceled),
            Some(cause1.clone()),
        );

        let (ctx, _c) = context::with_timeout(&bg, ms(1));
        ctx.done().recv();
        check(
            "with_timeout, fired",
            &ctx,
            Some(ContextError::DeadlineExceeded),
            deadline_exceeded(),
        );

        let (ctx, cancel) = context::with_timeout(&bg, Duration::from_secs(3600));
        cancel.cancel();
        check(
            "with_timeout, cancelled",
            &ctx,
            Some(ContextError::Canceled),
            canceled(),
        );

        let (ctx, _c) = context::with_timeout_cause(&bg, ms(1), Some(cause1.clone()));
        ctx.done().recv();
        check(
            "with_timeout_cause, fired",
            &ctx,
            Some(ContextError::DeadlineExceeded),
            Some(cause1.clone()),
        );

        let (ctx, cancel) =
            context::with_timeout_cause(&bg, Duration::from_secs(3600), Some(cause1.clone()));
        cancel.cancel();
        check(
            "with_timeout_cause, cancelled",
            &ctx,
            Some(ContextError::Canceled),
            canceled(),
        );

        let (ctx, _c) = context::with_timeout_cause(&bg, ms(1), None);
        ctx.done().recv();
        check(
            "with_timeout_cause(nil)",
            &ctx,
            Some(ContextError::DeadlineExceeded),
            deadline_exceeded(),
        );

        let (parent, cancel) = context::with_cancel_cause(&bg);
        let (ctx, _c) = context::with_timeout(&parent, Duration::from_secs(3600));
        cancel.cancel(Some(cause1.clone()));
        check(
            "timeout under a cancelled parent",
            &ctx,
            Some(ContextError::Canceled),
            Some(cause1.clone()),
        );

        let (parent, _cp) = context::with_timeout(&bg, ms(1));
        let (ctx, _c) = context::with_timeout(&parent, Duration::from_secs(3600));
        ctx.done().recv();
        check(
            "timeout under a timed-out parent",
            &ctx,
            Some(ContextError::DeadlineExceeded),
            deadline_exceeded(),
        );

        let (parent, _cp) = context::with_timeout_cause(&bg, ms(1), Some(cause1.clone()));
        let (ctx, _c) =
            context::with_timeout_cause(&parent, Duration::from_secs(3600), Some(cause2.clone()));
        ctx.done().recv();
        check(
            "later deadline_cause: the parent's",
            &ctx,
            Some(ContextError::DeadlineExceeded),
            Some(cause1.clone()),
        );

        let (parent, cancel) = context::with_cancel_cause(&bg);
        let (ctx, _c) = context::with_timeout_cause(&parent, ms(1), Some(cause2.clone()));
        ctx.done().recv();
        cancel.cancel(Some(cause1.clone()));
        check(
            "own deadline first",
            &ctx,
            Some(ContextError::DeadlineExceeded),
            Some(cause2.clone()),
        );

        let (parent, cancel) = context::with_cancel_cause(&bg);
        let ctx = context::without_cancel(&parent);
        cancel.cancel(Some(cause1.clone()));
        check("without_cancel of a cancelled parent", &ctx, None, None);
        let (ctx, cancel) = context::with_cancel_cause(&ctx);
        cancel.cancel(Some(cause2.clone()));
        check(
            "a canceller under without_cancel",
            &ctx,
            Some(ContextError::Canceled),
            Some(cause2.clone()),
        );
    });
}

#[test]
fn a_deadline_cause_in_the_past_applies_at_once() {
    let why = new_cause("too late already");
    let past = Instant::now() - ms(1);
    let (ctx, cancel) =
        context::with_deadline_cause(&context::background(), past, Some(why.clone()));
    assert!(is_done(&ctx));
    assert_eq!(ctx.err(), Some(ContextError::DeadlineExceeded));
    assert_eq!(context::cause(&ctx), Some(why.clone()));
    cancel.cancel();
    assert_eq!(
        context::cause(&ctx),
        Some(why),
        "cancel after the deadline changes nothing"
    );
}

#[test]
fn the_first_cancel_wins_and_err_is_never_the_cause() {
    let (ctx, cancel) = context::with_cancel_cause(&context::background());
    let (first, second) = (new_cause("first"), new_cause("second"));
    cancel.cancel(Some(first.clone()));
    cancel.cancel(Some(second.clone()));
    cancel.cancel(None);
    assert_eq!(context::cause(&ctx), Some(first.clone()));
    assert_ne!(context::cause(&ctx), Some(second));
    assert_eq!(
        ctx.err(),
        Some(ContextError::Canceled),
        "err stays Canceled"
    );
    assert_eq!(
        format!("{ctx:?}"),
        "context.Background.WithCancel [context canceled]"
    );
    // A cause may itself be a ContextError: err still says how it was cancelled.
    let (ctx, cancel) = context::with_cancel_cause(&context::background());
    cancel.cancel(Some(ContextError::DeadlineExceeded.into()));
    assert_eq!(ctx.err(), Some(ContextError::Canceled));
    assert_eq!(context::cause(&ctx), deadline_exceeded());
}

#[test]
fn a_cause_reaches_the_whole_chain_and_late_children() {
    let (root, cancel) = context::with_cancel_cause(&context::background());
    let mut chain = vec![root.clone()];
    for i in 0..50u32 {
        let last = chain.last().unwrap().clone();
        let next = match i % 3 {
            0 => context::with_value(&last, i, i),
            1 => context::with_cancel(&last).0,
            _ => context::with_timeout(&last, Duration::from_secs(3600)).0,
        };
        chain.push(next);
    }
    let why = new_cause("shutdown");
    cancel.cancel(Some(why.clone()));
    for (i, ctx) in chain.iter().enumerate() {
        assert!(is_done(ctx), "{i} is done");
        assert_eq!(ctx.err(), Some(ContextError::Canceled), "{i}'s err");
        assert_eq!(context::cause(ctx), Some(why.clone()), "{i}'s cause");
    }
    // Born under a cancelled ancestor: cancelled at once, with its cause.
    let (late, _c) = context::with_cancel_cause(chain.last().unwrap());
    assert_eq!(context::cause(&late), Some(why.clone()));
    let (late, _c) = context::with_timeout_cause(&root, ms(1), Some(new_cause("unused")));
    assert_eq!(late.err(), Some(ContextError::Canceled));
    assert_eq!(context::cause(&late), Some(why));
}

#[test]
fn concurrent_cause_cancels_agree_on_one_cause() {
    watchdog(60, || {
        for _ in 0..200 {
            let (ctx, cancel) = context::with_cancel_cause(&context::background());
            let (child, _c) = context::with_cancel(&ctx);
            let causes: Vec<Cause> = (0..4).map(|i| new_cause(&format!("c{i}"))).collect();
            let mut joins = Vec::new();
            for _ in 0..4 {
                let child = child.clone();
                joins.push(runtime::spawn(move || {
                    // Whoever sees it done sees a cause, and the one that won.
                    child.done().recv();
                    let got = context::cause(&child).expect("a done context has a cause");
                    assert_eq!(Some(got.clone()), context::cause(&child));
                    Some(got)
                }));
            }
            for c in &causes {
                let (cancel, c) = (cancel.clone(), c.clone());
                joins.push(runtime::spawn(move || {
                    cancel.cancel(Some(c));
                    None
                }));
            }
            let seen: Vec<Cause> = joins
                .into_iter()
                .filter_map(|j| j.join().unwrap())
                .collect();
            let got = context::cause(&ctx).unwrap();
            assert!(causes.contains(&got), "one of the causes given: {got:?}");
            assert_eq!(context::cause(&child), Some(got.clone()));
            assert!(
                seen.iter().all(|c| *c == got),
                "every reader saw the winner"
            );
        }
    });
}

/// Waits (bounded) for one message on `rx`.
fn recv_within<T>(rx: &chan::Receiver<T>, within: Duration) -> Option<T> {
    rx.recv_timeout(within).ok().flatten()
}

#[test]
fn after_func_runs_once_the_context_is_cancelled() {
    watchdog(30, || {
        let (ctx, cancel) = context::with_cancel(&context::background());
        let ran = chan::make::<u32>(3);
        let stops: Vec<_> = (0..3)
            .map(|i| {
                let tx = ran.sender();
                context::after_func(&ctx, move || tx.send(i))
            })
            .collect();
        assert_eq!(ctx.num_children(), 3, "each after_func is registered");
        assert!(ran.try_recv().is_err(), "nothing runs before the cancel");
        cancel.cancel();
        let mut got: Vec<u32> = (0..3)
            .map(|_| recv_within(&ran.receiver(), ms(10_000)).unwrap())
            .collect();
        got.sort();
        assert_eq!(got, [0, 1, 2], "every registered function ran, once");
        assert!(
            stops.iter().all(|s| !s.stop()),
            "stop after the start is false"
        );
        assert_eq!(ctx.num_children(), 0);
    });
}

#[test]
fn after_func_runs_when_the_deadline_passes() {
    watchdog(30, || {
        let (ctx, _cancel) = context::with_timeout(&context::background(), ms(5));
        let ran = chan::make::<Option<ContextError>>(1);
        let (tx, c) = (ran.sender(), ctx.clone());
        let _stop = context::after_func(&ctx, move || tx.send(c.err()));
        assert_eq!(
            recv_within(&ran.receiver(), ms(10_000)),
            Some(Some(ContextError::DeadlineExceeded))
        );
    });
}

#[test]
fn after_func_on_a_done_context_starts_at_once_in_its_own_goroutine() {
    watchdog(30, || {
        let (ctx, cancel) = context::with_cancel(&context::background());
        cancel.cancel();
        // f waits for a message sent only after after_func returned: run on the caller's
        // stack, it would deadlock (the watchdog would fire).
        let go_on = chan::make::<()>(0);
        let ran = chan::make::<()>(1);
        let (rx, tx) = (go_on.receiver(), ran.sender());
        let stop = context::after_func(&ctx, move || {
            rx.recv();
            tx.send(());
        });
        go_on.send(());
        assert_eq!(recv_within(&ran.receiver(), ms(10_000)), Some(()));
        assert!(!stop.stop(), "already started");
        assert_eq!(ctx.num_children(), 0, "never registered");
    });
}

#[test]
fn cancel_does_not_wait_for_after_funcs() {
    watchdog(30, || {
        let (ctx, cancel) = context::with_cancel(&context::background());
        let release = chan::make::<()>(0);
        let finished = chan::make::<()>(1);
        let (rx, tx) = (release.receiver(), finished.sender());
        let _stop = context::after_func(&ctx, move || {
            rx.recv();
            tx.send(());
        });
        cancel.cancel(); // returns while f is blocked
        release.send(());
        assert_eq!(recv_within(&finished.receiver(), ms(10_000)), Some(()));
    });
}

#[test]
fn a_stopped_after_func_never_runs_and_unregisters() {
    watchdog(30, || {
        // A panic in f would only end its goroutine: count runs instead.
        let ran = Arc::new(AtomicUsize::new(0));
        let (ctx, cancel) = context::with_cancel(&context::background());
        let under_value = context::with_value(&ctx, "k", 1u8);
        for _ in 0..10_000 {
            let r = ran.clone();
            let stop = context::after_func(&under_value, move || {
                r.fetch_add(1, Ordering::SeqCst);
            });
            assert_eq!(ctx.num_children(), 1);
            assert!(stop.stop(), "stopped it");
            assert!(!stop.stop(), "a second stop is false");
            assert!(!stop.clone().stop(), "so is a clone's");
            assert_eq!(ctx.num_children(), 0, "stop unregisters: no leak");
        }
        let r = ran.clone();
        let stop = context::after_func(&ctx, move || {
            r.fetch_add(1, Ordering::SeqCst);
        });
        assert!(stop.stop());
        cancel.cancel();
        std::thread::sleep(ms(20));
        assert_eq!(ran.load(Ordering::SeqCst), 0, "a stopped function ran");
    });
}

#[test]
fn after_func_on_a_context_that_cannot_be_cancelled_never_runs() {
    let ran = Arc::new(AtomicUsize::new(0));
    let (parent, cancel) = context::with_cancel(&context::background());
    let ctxs = [
        context::background(),
        context::todo(),
        context::without_cancel(&parent),
    ];
    let mut stops = Vec::new();
    for ctx in &ctxs {
        let r = ran.clone();
        stops.push(context::after_func(ctx, move || {
            r.fetch_add(1, Ordering::SeqCst);
        }));
    }
    cancel.cancel();
    std::thread::sleep(ms(20));
    assert_eq!(
        ran.load(Ordering::SeqCst),
        0,
        "ran for a context that is never done"
    );
    for stop in stops {
        assert!(stop.stop(), "stop stops it (Go: true)");
        assert!(!stop.stop());
    }
}

/// stop racing cancel: exactly one of {f ran, stop returned true}, each time.
#[test]
fn stop_racing_cancel_exactly_one_wins() {
    watchdog(60, || {
        const N: usize = 1_000;
        let runs: Arc<Vec<AtomicUsize>> = Arc::new((0..N).map(|_| AtomicUsize::new(0)).collect());
        let mut stopped = vec![false; N];
        for (i, stopped) in stopped.iter_mut().enumerate() {
            let (ctx, cancel) = context::with_cancel(&context::background());
            let r = runs.clone();
            let stop = context::after_func(&ctx, move || {
                r[i].fetch_add(1, Ordering::SeqCst);
            });
            let canceller = runtime::spawn(move || cancel.cancel());
            if i % 2 == 0 {
                runtime::gosched();
            }
            *stopped = stop.stop();
            canceller.join().unwrap();
            assert_eq!(ctx.num_children(), 0);
        }
        let expected = stopped.iter().filter(|s| !**s).count();
        common::wait_until(|| {
            runs.iter().map(|r| r.load(Ordering::SeqCst)).sum::<usize>() >= expected
        });
        std::thread::sleep(ms(20));
        for (i, stopped) in stopped.iter().enumerate() {
            let ran = runs[i].load(Ordering::SeqCst);
            assert_eq!(
                ran + usize::from(*stopped),
                1,
                "iteration {i}: ran {ran}, stopped {stopped}"
            );
        }
        eprintln!("stop won {} of {N}", N - expected);
    });
}

#[test]
fn without_cancel_keeps_values_and_drops_cancellation() {
    watchdog(30, || {
        #[derive(PartialEq, Eq)]
        struct Key;
        let (parent, cancel) = context::with_timeout(&context::background(), ms(5));
        let parent = context::with_value(&parent, Key, "request 7");
        let ctx = context::without_cancel(&parent);
        assert_eq!(ctx.deadline(), None, "no deadline");
        assert!(parent.deadline().is_some());
        assert_eq!(ctx.value::<Key, &str>(&Key), Some(&"request 7"));
        assert_eq!(parent.done().recv(), None);
        cancel.cancel();
        assert_eq!(parent.err(), Some(ContextError::DeadlineExceeded));
        assert_eq!(ctx.err(), None);
        assert_eq!(context::cause(&ctx), None);
        assert_eq!(
            ctx.done().try_recv(),
            Err(TryRecvError::Empty),
            "the nil channel"
        );
        assert!(ctx.done().recv_timeout(ms(5)).is_err());
        assert_eq!(
            ctx.value::<Key, &str>(&Key),
            Some(&"request 7"),
            "values outlive the cancel"
        );
        // Its children are cancelled only by their own cancel functions, and have values.
        let (child, cancel_child) = context::with_cancel(&ctx);
        assert_eq!(child.err(), None);
        assert_eq!(child.value::<Key, &str>(&Key), Some(&"request 7"));
        cancel_child.cancel();
        assert_eq!(child.err(), Some(ContextError::Canceled));
        assert!(
            format!("{child:?}").ends_with(".WithoutCancel.WithCancel [context canceled]"),
            "{child:?}"
        );
    });
}

#[test]
fn without_cancel_of_a_live_parent_is_not_registered_with_it() {
    let (parent, cancel) = context::with_cancel(&context::background());
    let ctx = context::without_cancel(&parent);
    let (_child, _c) = context::with_cancel(&ctx);
    assert_eq!(parent.num_children(), 0, "a tree of its own");
    cancel.cancel();
    assert_eq!(ctx.err(), None);
}

#[test]
fn cause_values_compare_like_go_errors() {
    #[derive(Debug, PartialEq)]
    struct Mine(u32);
    impl std::fmt::Display for Mine {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "mine {}", self.0)
        }
    }
    impl std::error::Error for Mine {}
    let a = Cause::new(Mine(1));
    assert_eq!(a, a.clone(), "the same error value");
    assert_ne!(
        a,
        Cause::new(Mine(1)),
        "another value with equal contents (errors.New)"
    );
    assert_eq!(a.downcast_ref::<Mine>(), Some(&Mine(1)));
    assert!(!a.is::<ContextError>());
    assert_eq!(format!("{a} / {a:?}"), "mine 1 / Mine(1)");
    let c = Cause::new(ContextError::Canceled);
    assert_eq!(c, ContextError::Canceled);
    assert_eq!(c, Cause::from(ContextError::Canceled));
    assert_ne!(c, ContextError::DeadlineExceeded);
    assert_eq!(c.to_string(), "context canceled");
    assert_eq!(Cause::new(c.clone()), c, "a Cause is not wrapped again");
    let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(Mine(2));
    assert!(Cause::from(boxed).is::<Mine>());
    assert_eq!(Cause::from(String::from("s")).to_string(), "s");
}

#[test]
fn a_context_error_in_a_box_is_still_a_context_error() {
    let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(ContextError::Canceled);
    assert_eq!(Cause::from(boxed), ContextError::Canceled);
    let shared: Arc<dyn std::error::Error + Send + Sync> = Arc::new(ContextError::DeadlineExceeded);
    assert_eq!(Cause::from(shared), ContextError::DeadlineExceeded);
}
