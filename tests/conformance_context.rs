//! Go-semantics conformance: `context`, through the public facade (`goro::context`).
//!
//! Modelled on what Go's `src/context/context_test.go` checks (TestBackground, TestWithCancel,
//! TestParentFinishesChild, TestChildFinishesFirst, TestDeadline, TestTimeout,
//! TestCanceledTimeout, TestValues, TestWithCancelCanceledParent,
//! TestDeadlineExceededSupportsTimeout, TestCause, TestWithoutCancel, the AfterFunc tests)
//! and `example_test.go` (ExampleWithCancelCause's doc, ExampleAfterFunc_cond,
//! ExampleAfterFunc_connection, ExampleAfterFunc_merge), written for goro's API; not copies.

#[path = "../runtime/tests/common/mod.rs"]
mod common;

use common::watchdog;
use goro::chan::TryRecvError;
use goro::context::{self, Cause, Context, ContextError};
use std::time::{Duration, Instant};

/// Whether `ctx.Done()` is closed now (Go's `select { case <-ctx.Done(): ...; default: }`).
fn is_done(ctx: &Context) -> bool {
    goro::select! {
        v = <-ctx.done() => { assert_eq!(v, None, "nothing is ever sent on Done"); true },
        default => false,
    }
}

/// Waits (bounded) for `ctx` to be done and returns how long that took.
fn wait_done(ctx: &Context, within: Duration) -> Duration {
    let start = Instant::now();
    let done = goro::select! {
        <-ctx.done() => true,
        timeout(within) => false,
    };
    assert!(done, "context not done within {within:?}");
    start.elapsed()
}

// Go's TestBackground and TODO: never done, no error, no deadline, no values.
#[test]
fn background_and_todo_are_never_cancelled() {
    for ctx in [context::background(), context::todo()] {
        assert!(!is_done(&ctx));
        assert_eq!(ctx.err(), None);
        assert_eq!(ctx.deadline(), None);
        assert_eq!(ctx.done().try_recv(), Err(TryRecvError::Empty));
        assert_eq!(ctx.value::<&str, u32>(&"k"), None);
    }
    assert!(format!("{:?}", context::background()).contains("context.Background"));
}

// Go's TestWithCancel: cancelling the parent closes Done on it and every descendant (also
// through a value context in between), with err Canceled.
#[test]
fn cancel_propagates_to_children_and_grandchildren() {
    watchdog(30, || {
        let (c1, cancel) = context::with_cancel(&context::background());
        let o = context::with_value(&c1, "key", 1u8);
        let (c2, _c2_cancel) = context::with_cancel(&o);
        let (c3, _c3_cancel) = context::with_timeout(&c2, Duration::from_secs(3600));
        let all = [&c1, &o, &c2, &c3];
        for c in all {
            assert!(!is_done(c));
            assert_eq!(c.err(), None);
        }
        // A goroutine blocked on the grandchild's Done is woken by the root's cancel.
        let d3 = c3.done();
        let waiter = goro::spawn(move || d3.recv());
        goro::runtime::sleep(Duration::from_millis(5));
        cancel.cancel();
        assert_eq!(waiter.join().unwrap(), None);
        for c in all {
            assert!(is_done(c));
            assert_eq!(c.err(), Some(ContextError::Canceled));
        }
        cancel.cancel(); // a no-op
        assert_eq!(c3.err(), Some(ContextError::Canceled));
    });
}

// Go's TestChildFinishesFirst: cancelling a child leaves its parent and siblings running.
#[test]
fn cancelling_a_child_leaves_the_parent_and_siblings_alone() {
    let (parent, cancel_parent) = context::with_cancel(&context::background());
    let (child, cancel_child) = context::with_cancel(&parent);
    let (sibling, _cancel_sibling) = context::with_cancel(&parent);
    let (grandchild, _cg) = context::with_cancel(&child);
    cancel_child.cancel();
    assert_eq!(child.err(), Some(ContextError::Canceled));
    assert_eq!(grandchild.err(), Some(ContextError::Canceled));
    assert!(!is_done(&parent) && parent.err().is_none());
    assert!(!is_done(&sibling) && sibling.err().is_none());
    cancel_parent.cancel();
    assert_eq!(sibling.err(), Some(ContextError::Canceled));
}

// Go's TestWithCancelCanceledParent: a child made from a cancelled parent is done at once,
// with the parent's error (also when that error is DeadlineExceeded).
#[test]
fn a_child_of_a_cancelled_parent_is_born_cancelled() {
    let (parent, cancel) = context::with_cancel(&context::background());
    cancel.cancel();
    let (child, _c) = context::with_cancel(&parent);
    assert!(is_done(&child));
    assert_eq!(child.err(), Some(ContextError::Canceled));

    let (expired, _c) = context::with_deadline(&context::background(), Instant::now());
    assert_eq!(expired.err(), Some(ContextError::DeadlineExceeded));
    let (child, _c) = context::with_timeout(&expired, Duration::from_secs(3600));
    assert_eq!(child.err(), Some(ContextError::DeadlineExceeded));
}

// Go's TestDeadline / TestTimeout: the context is done at about its deadline with
// DeadlineExceeded, which is a timeout; Deadline() reports it; a child sees the error too.
#[test]
fn deadline_exceeded_after_the_deadline() {
    watchdog(30, || {
        let d = Duration::from_millis(30);
        let at = Instant::now() + d;
        let (ctx, _cancel) = context::with_deadline(&context::background(), at);
        let (child, _cc) = context::with_cancel(&ctx);
        assert_eq!(ctx.deadline(), Some(at));
        assert_eq!(child.deadline(), Some(at), "a child inherits the deadline");
        assert!(!is_done(&ctx));
        wait_done(&ctx, Duration::from_secs(5));
        assert!(Instant::now() >= at, "done before the deadline");
        assert_eq!(ctx.err(), Some(ContextError::DeadlineExceeded));
        assert!(ctx.err().unwrap().is_timeout());
        assert!(!ContextError::Canceled.is_timeout());
        wait_done(&child, Duration::from_secs(5));
        assert_eq!(child.err(), Some(ContextError::DeadlineExceeded));

        let start = Instant::now();
        let (ctx, _cancel) = context::with_timeout(&context::background(), d);
        wait_done(&ctx, Duration::from_secs(5));
        let took = start.elapsed();
        assert!(took >= d && took < Duration::from_secs(2), "took {took:?}");
        assert_eq!(ctx.err(), Some(ContextError::DeadlineExceeded));
    });
}

// Go: WithDeadline with a later deadline than the parent's keeps the parent's (the earlier
// one wins); an earlier one is the child's own and leaves the parent alone.
#[test]
fn the_earliest_deadline_in_the_chain_wins() {
    watchdog(30, || {
        let now = Instant::now();
        let (parent, _p) =
            context::with_deadline(&context::background(), now + Duration::from_millis(20));
        let (later, _l) = context::with_deadline(&parent, now + Duration::from_secs(3600));
        assert_eq!(later.deadline(), parent.deadline());
        let (outer, _o) = context::with_timeout(&context::background(), Duration::from_secs(3600));
        let (earlier, _e) = context::with_timeout(&outer, Duration::from_millis(10));
        assert!(earlier.deadline() < outer.deadline());
        wait_done(&later, Duration::from_secs(5));
        assert_eq!(later.err(), Some(ContextError::DeadlineExceeded));
        wait_done(&earlier, Duration::from_secs(5));
        assert_eq!(
            outer.err(),
            None,
            "a child's deadline does not cancel its parent"
        );
    });
}

// Go's TestCanceledTimeout: cancelling before the deadline gives Canceled, at once.
#[test]
fn cancel_before_the_deadline_reports_canceled() {
    watchdog(30, || {
        let (ctx, cancel) =
            context::with_timeout(&context::background(), Duration::from_secs(3600));
        let (child, _c) = context::with_cancel(&ctx);
        cancel.cancel();
        let took = wait_done(&child, Duration::from_secs(5));
        assert!(took < Duration::from_secs(2));
        assert_eq!(ctx.err(), Some(ContextError::Canceled));
        assert_eq!(child.err(), Some(ContextError::Canceled));
    });
}

// Go's TestValues: Value finds the nearest ancestor's value for the key, shadowing farther
// ones; keys of different types never collide even with equal contents; a missing key (or a
// value of another type) is None. Values pass through cancellable contexts.
#[test]
fn value_lookup_walks_the_chain() {
    #[derive(PartialEq, Eq, Debug)]
    struct Key1;
    #[derive(PartialEq, Eq, Debug)]
    struct Key2(u8);
    #[derive(PartialEq, Eq, Debug)]
    struct OtherKey(u8);

    let c0 = context::background();
    let c1 = context::with_value(&c0, Key1, "c1k1");
    let (c2, _cancel) = context::with_cancel(&c1);
    let c3 = context::with_value(&c2, Key2(2), "c3k2");
    let c4 = context::with_value(&c3, Key1, "c4k1");

    assert_eq!(c0.value::<Key1, &str>(&Key1), None);
    assert_eq!(c1.value::<Key1, &str>(&Key1), Some(&"c1k1"));
    assert_eq!(
        c2.value::<Key1, &str>(&Key1),
        Some(&"c1k1"),
        "through a cancel context"
    );
    assert_eq!(c3.value::<Key2, &str>(&Key2(2)), Some(&"c3k2"));
    assert_eq!(
        c3.value::<Key2, &str>(&Key2(3)),
        None,
        "keys compare by value"
    );
    assert_eq!(
        c3.value::<OtherKey, &str>(&OtherKey(2)),
        None,
        "and by type"
    );
    assert_eq!(
        c4.value::<Key1, &str>(&Key1),
        Some(&"c4k1"),
        "the nearest value shadows"
    );
    assert_eq!(c4.value::<Key2, &str>(&Key2(2)), Some(&"c3k2"));
    assert_eq!(
        c4.value::<Key1, u32>(&Key1),
        None,
        "a failed type assertion"
    );
    assert_eq!(
        c1.value::<Key1, &str>(&Key1),
        Some(&"c1k1"),
        "parents are unchanged"
    );
}

// The usual Go worker: `for { select { case <-ctx.Done(): return ctx.Err(); case j := <-jobs:
// ... } }` stops when its context is cancelled, from a goroutine or from a plain thread.
#[test]
fn workers_stop_on_cancellation() {
    watchdog(30, || {
        let (ctx, cancel) = context::with_cancel(&context::background());
        let jobs = goro::chan::make::<u32>(0);
        let workers: Vec<_> = (0..4)
            .map(|_| {
                let (ctx, jobs) = (ctx.clone(), jobs.clone());
                goro::spawn(move || {
                    let mut n = 0;
                    loop {
                        goro::select! {
                            <-ctx.done() => return (n, ctx.err()),
                            j = <-jobs => n += j.unwrap(),
                        }
                    }
                })
            })
            .collect();
        for _ in 0..100 {
            jobs.send(1);
        }
        std::thread::spawn(move || cancel.cancel()).join().unwrap();
        let mut total = 0;
        for w in workers {
            let (n, err) = w.join().unwrap();
            assert_eq!(err, Some(ContextError::Canceled));
            total += n;
        }
        assert_eq!(total, 100);
    });
}

// Go's TestWithCancelSimultaneouslyCanceledParent and friends: many goroutines cancelling a
// parent and its children at once leave everything cancelled with Canceled, no hang.
#[test]
fn concurrent_cancels_are_safe_and_idempotent() {
    watchdog(30, || {
        for _ in 0..50 {
            let (parent, cancel_parent) = context::with_cancel(&context::background());
            let children: Vec<_> = (0..8).map(|_| context::with_cancel(&parent)).collect();
            let wg = goro::sync::WaitGroup::new();
            for (_, cancel) in &children {
                let cancel = cancel.clone();
                wg.go(move || cancel.cancel());
                let cp = cancel_parent.clone();
                wg.go(move || cp.cancel());
            }
            wg.wait();
            assert_eq!(parent.err(), Some(ContextError::Canceled));
            for (child, _) in &children {
                assert!(is_done(child));
                assert_eq!(child.err(), Some(ContextError::Canceled));
            }
        }
    });
}

// Go's error strings (and DeadlineExceeded's Timeout()).
#[test]
fn errors_display_as_in_go() {
    assert_eq!(ContextError::Canceled.to_string(), "context canceled");
    assert_eq!(
        ContextError::DeadlineExceeded.to_string(),
        "context deadline exceeded"
    );
    let e: Box<dyn std::error::Error> = Box::new(ContextError::DeadlineExceeded);
    assert_eq!(e.to_string(), "context deadline exceeded");
}

// Go's WithCancelCause doc example: cancel(myError); ctx.Err() is Canceled and
// context.Cause(ctx) is myError.
#[test]
fn with_cancel_cause_go_doc_example() {
    let my_error = Cause::from("my error");
    let (ctx, cancel) = context::with_cancel_cause(&context::background());
    cancel.cancel(Some(my_error.clone()));
    assert_eq!(ctx.err(), Some(ContextError::Canceled));
    assert_eq!(context::cause(&ctx), Some(my_error));
}

// Go's TestCause, the deadline cases: the cause given to WithTimeoutCause only when the
// timeout fires; the returned cancel sets none.
#[test]
fn timeout_cause_only_when_the_timeout_fires() {
    watchdog(30, || {
        let why = Cause::from("too slow");
        let (ctx, _cancel) = context::with_timeout_cause(
            &context::background(),
            Duration::from_millis(5),
            Some(why.clone()),
        );
        wait_done(&ctx, Duration::from_secs(10));
        assert_eq!(ctx.err(), Some(ContextError::DeadlineExceeded));
        assert_eq!(context::cause(&ctx), Some(why.clone()));
        let (ctx, cancel) = context::with_timeout_cause(
            &context::background(),
            Duration::from_secs(3600),
            Some(why),
        );
        cancel.cancel();
        assert_eq!(ctx.err(), Some(ContextError::Canceled));
        assert_eq!(context::cause(&ctx), Some(ContextError::Canceled.into()));
    });
}

// Go's ExampleAfterFunc_cond: waiting on a sync.Cond, stopped when a context is cancelled.
#[test]
fn after_func_cond_go_example() {
    use goro::sync::{Cond, Mutex, MutexGuard};
    use std::sync::Arc;
    watchdog(30, || {
        fn wait_on_cond<'a>(
            ctx: &Context,
            lock: &Arc<(Mutex<()>, Cond)>,
            mut guard: MutexGuard<'a, ()>,
            condition_met: impl Fn() -> bool,
        ) -> (MutexGuard<'a, ()>, Option<ContextError>) {
            let l = lock.clone();
            let stop = context::after_func(ctx, move || {
                // Take the lock so that the broadcast cannot fall before the wait below.
                let _g = l.0.lock();
                l.1.broadcast();
            });
            let mut result = None;
            while !condition_met() {
                guard = lock.1.wait(guard);
                if ctx.err().is_some() {
                    result = ctx.err();
                    break;
                }
            }
            stop.stop(); // defer stopf()
            (guard, result)
        }
        let lock = Arc::new((Mutex::new(()), Cond::new()));
        let wg = goro::sync::WaitGroup::new();
        let out = goro::chan::make::<String>(4);
        for _ in 0..4 {
            let (lock, out) = (lock.clone(), out.clone());
            wg.go(move || {
                let (ctx, cancel) =
                    context::with_timeout(&context::background(), Duration::from_millis(1));
                let guard = lock.0.lock();
                let (_guard, err) = wait_on_cond(&ctx, &lock, guard, || false);
                out.send(err.map_or("<nil>".into(), |e| e.to_string()));
                cancel.cancel();
            });
        }
        wg.wait();
        for _ in 0..4 {
            assert_eq!(out.recv().unwrap(), "context deadline exceeded");
        }
    });
}

// Go's ExampleAfterFunc_connection: a read stopped by a context, through a read deadline.
#[test]
fn after_func_connection_go_example() {
    use std::io::Read;
    use std::sync::Arc;
    watchdog(30, || {
        fn read_from_conn(
            ctx: &Context,
            conn: &Arc<goro::net::Conn>,
            b: &mut [u8],
        ) -> Result<usize, String> {
            let stopc = goro::chan::make::<()>(0);
            let (c, s) = (conn.clone(), stopc.clone());
            let stop = context::after_func(ctx, move || {
                let _ = c.set_read_deadline(Some(Instant::now()));
                s.close();
            });
            let r = (&**conn).read(b);
            if !stop.stop() {
                // The after-function was started: wait for it, and reset the deadline.
                stopc.recv();
                conn.set_read_deadline(None).unwrap();
                return Err(ctx.err().unwrap().to_string());
            }
            r.map_err(|e| e.to_string())
        }
        let listener = goro::net::listen("tcp", "localhost:0").unwrap();
        let addr = listener.addr().unwrap().to_string();
        let conn = Arc::new(goro::net::dial("tcp", &addr).unwrap());
        let (ctx, cancel) = context::with_timeout(&context::background(), Duration::from_millis(1));
        let mut b = [0u8; 1024];
        assert_eq!(
            read_from_conn(&ctx, &conn, &mut b),
            Err("context deadline exceeded".to_string())
        );
        cancel.cancel();
    });
}

// Go's ExampleAfterFunc_merge: a context cancelled when either of two is.
#[test]
fn after_func_merge_go_example() {
    watchdog(30, || {
        let merge_cancel = |ctx: &Context, cancel_ctx: &Context| {
            let (ctx, cancel) = context::with_cancel_cause(ctx);
            let (c, other) = (cancel.clone(), cancel_ctx.clone());
            let stop = context::after_func(cancel_ctx, move || c.cancel(context::cause(&other)));
            (ctx, move || {
                stop.stop();
                cancel.cancel(Some(ContextError::Canceled.into()));
            })
        };
        let (ctx1, cancel1) = context::with_cancel_cause(&context::background());
        let (ctx2, cancel2) = context::with_cancel_cause(&context::background());
        let (merged, merged_cancel) = merge_cancel(&ctx1, &ctx2);
        cancel2.cancel(Some(Cause::from("ctx2 canceled")));
        wait_done(&merged, Duration::from_secs(10));
        assert_eq!(
            context::cause(&merged).unwrap().to_string(),
            "ctx2 canceled"
        );
        merged_cancel();
        cancel1.cancel(Some(Cause::from("ctx1 canceled")));
    });
}

// Go's TestAfterFuncNotCalledAfterStop and TestAfterFuncCalledAfterCancel.
#[test]
fn after_func_runs_after_cancel_unless_stopped() {
    watchdog(30, || {
        let (ctx, cancel) = context::with_cancel(&context::background());
        let ran = goro::chan::make::<&str>(2);
        let (r1, r2) = (ran.clone(), ran.clone());
        let stopped = context::after_func(&ctx, move || r1.send("stopped one"));
        let _kept = context::after_func(&ctx, move || r2.send("kept one"));
        assert!(stopped.stop());
        cancel.cancel();
        assert_eq!(ran.recv(), Some("kept one"));
        goro::time::sleep(Duration::from_millis(10));
        assert!(ran.try_recv().is_err(), "the stopped function did not run");
        assert!(!stopped.stop());
    });
}

// Go's TestWithoutCancel: values kept; no deadline, no error, nil Done, no cause.
#[test]
fn without_cancel_go_semantics() {
    let (parent, cancel) = context::with_cancel(&context::background());
    let parent = context::with_value(&parent, "key", "value");
    let ctx = context::without_cancel(&parent);
    cancel.cancel();
    assert_eq!(ctx.deadline(), None);
    assert_eq!(ctx.err(), None);
    assert_eq!(context::cause(&ctx), None);
    assert!(!is_done(&ctx));
    assert_eq!(ctx.done().try_recv(), Err(TryRecvError::Empty));
    assert_eq!(ctx.value::<&str, &str>(&"key"), Some(&"value"));
}
