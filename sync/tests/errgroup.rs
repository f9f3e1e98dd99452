//! `ErrGroup`: results, the first error, the group's context, the limit, and panics.

#[path = "../../runtime/tests/common/mod.rs"]
mod common;
#[path = "../../chan/tests/support/mod.rs"]
mod support;

use chan::context::{self, ContextError};
use common::watchdog;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use support::{expect_panic, panic_message};
use sync::ErrGroup;

/// The deliberate panic of `a_panicking_task_does_not_hang_wait`, kept out of the output.
const TASK_PANIC: &str = "errgroup test: this task panics on purpose";

fn quiet_task_panic() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let prev = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if panic_message(info.payload()) != TASK_PANIC {
                prev(info);
            }
        }));
    });
}

#[test]
fn wait_returns_ok_when_every_task_succeeds() {
    watchdog(30, || {
        let group: ErrGroup = ErrGroup::new();
        let ran = Arc::new(AtomicUsize::new(0));
        for _ in 0..50 {
            let ran = ran.clone();
            group.go(move || {
                ran.fetch_add(1, Ordering::SeqCst);
                Ok(())
            });
        }
        assert!(group.wait().is_ok());
        assert_eq!(
            ran.load(Ordering::SeqCst),
            50,
            "wait returned before every task ran"
        );
    });
}

#[test]
fn wait_with_no_tasks_returns_at_once() {
    let group: ErrGroup<String> = ErrGroup::new();
    assert_eq!(group.wait(), Ok(()));
}

/// One task fails; the others block until the context is cancelled and then fail too. Their
/// errors come after the first by construction, so `wait` must return the first.
#[test]
fn wait_returns_the_first_error_and_drops_later_ones() {
    watchdog(30, || {
        let (group, ctx) = ErrGroup::<String>::with_context(&context::background());
        for i in 0..8 {
            let ctx = ctx.clone();
            group.go(move || {
                ctx.done().recv();
                Err(format!("late {i}"))
            });
        }
        group.go(|| Err("first".to_string()));
        assert_eq!(group.wait(), Err("first".to_string()));
    });
}

#[test]
fn the_context_is_cancelled_by_the_first_error_before_wait() {
    watchdog(30, || {
        let (group, ctx): (ErrGroup, _) = ErrGroup::with_context(&context::background());
        let observed = chan::make::<Option<ContextError>>(1);
        let (c, o) = (ctx.clone(), observed.clone());
        group.go(move || {
            c.done().recv(); // released only by the other task's error
            o.send(c.err());
            Ok(())
        });
        group.go(|| Err("boom".into()));
        assert_eq!(observed.recv(), Some(Some(ContextError::Canceled)));
        assert_eq!(group.wait().unwrap_err().to_string(), "boom");
    });
}

#[test]
fn the_context_is_cancelled_when_wait_returns() {
    watchdog(30, || {
        let (group, ctx): (ErrGroup, _) = ErrGroup::with_context(&context::background());
        group.go(|| Ok(()));
        group.go(|| Ok(()));
        assert!(group.wait().is_ok());
        assert_eq!(ctx.err(), Some(ContextError::Canceled));
    });
}

#[test]
fn the_context_lives_while_tasks_succeed() {
    watchdog(30, || {
        let (group, ctx): (ErrGroup, _) = ErrGroup::with_context(&context::background());
        let gate = chan::make::<()>(0);
        let g = gate.clone();
        group.go(move || {
            g.recv();
            Ok(())
        });
        group.go(|| Ok(()));
        assert_eq!(ctx.err(), None, "nothing failed and nobody waited yet");
        gate.close();
        group.wait().unwrap();
    });
}

#[test]
fn the_context_follows_its_parent() {
    watchdog(30, || {
        let (parent, cancel) = context::with_cancel(&context::background());
        let (group, ctx): (ErrGroup, _) = ErrGroup::with_context(&parent);
        let c = ctx.clone();
        group.go(move || {
            c.done().recv();
            Ok(())
        });
        cancel.cancel();
        group.wait().unwrap();
        assert_eq!(ctx.err(), Some(ContextError::Canceled));
    });
}

#[test]
fn the_error_is_moved_out_by_the_first_wait() {
    watchdog(30, || {
        let group: ErrGroup<&'static str> = ErrGroup::new();
        group.go(|| Err("once"));
        assert_eq!(group.wait(), Err("once"));
        assert_eq!(group.wait(), Ok(()), "the error went to the first wait");
    });
}

#[test]
fn tasks_can_start_tasks_through_a_clone() {
    watchdog(30, || {
        let group: ErrGroup<String> = ErrGroup::new();
        let ran = Arc::new(AtomicUsize::new(0));
        let (g, r) = (group.clone(), ran.clone());
        group.go(move || {
            for _ in 0..5 {
                let r = r.clone();
                g.go(move || {
                    r.fetch_add(1, Ordering::SeqCst);
                    Ok(())
                });
            }
            Ok(())
        });
        group.wait().unwrap();
        assert_eq!(ran.load(Ordering::SeqCst), 5);
    });
}

#[test]
fn set_limit_bounds_the_tasks_running_at_once() {
    watchdog(30, || {
        const LIMIT: usize = 3;
        let group: ErrGroup = ErrGroup::new();
        group.set_limit(Some(LIMIT));
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        for _ in 0..40 {
            let (running, peak) = (running.clone(), peak.clone());
            group.go(move || {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                runtime::gosched();
                running.fetch_sub(1, Ordering::SeqCst);
                Ok(())
            });
        }
        group.wait().unwrap();
        let peak = peak.load(Ordering::SeqCst);
        assert!(
            peak <= LIMIT,
            "{peak} tasks ran at once under a limit of {LIMIT}"
        );
    });
}

#[test]
fn go_blocks_at_the_limit_until_a_task_finishes() {
    watchdog(30, || {
        let group: ErrGroup<String> = ErrGroup::new();
        group.set_limit(Some(1));
        let gate = chan::make::<()>(0);
        let g = gate.clone();
        group.go(move || {
            g.recv();
            Ok(())
        });
        let started = Arc::new(AtomicUsize::new(0));
        let (grp, s) = (group.clone(), started.clone());
        let (spawner, watched) = common::thread_watched(move || {
            grp.go(|| Ok(())); // blocks: the one slot is taken
            s.store(1, Ordering::SeqCst);
        });
        common::wait_until(|| {
            watched.is_parked(runtime::WaitReason::ChanSend) || started.load(Ordering::SeqCst) == 1
        });
        assert_eq!(
            started.load(Ordering::SeqCst),
            0,
            "go did not wait for a slot"
        );
        gate.close();
        spawner.join().unwrap();
        group.wait().unwrap();
    });
}

#[test]
fn try_go_fails_at_the_limit_and_succeeds_below_it() {
    watchdog(30, || {
        let group: ErrGroup<String> = ErrGroup::new();
        group.set_limit(Some(2));
        let gate = chan::make::<()>(0);
        for _ in 0..2 {
            let g = gate.clone();
            assert!(group.try_go(move || {
                g.recv();
                Ok(())
            }));
        }
        assert!(!group.try_go(|| Ok(())), "both slots are taken");
        gate.close();
        group.wait().unwrap();
        assert!(group.try_go(|| Ok(())), "the slots are free again");
        group.wait().unwrap();
    });
}

#[test]
fn try_go_without_a_limit_always_starts() {
    watchdog(30, || {
        let group: ErrGroup<String> = ErrGroup::new();
        for _ in 0..20 {
            assert!(group.try_go(|| Ok(())));
        }
        group.wait().unwrap();
    });
}

#[test]
fn changing_the_limit_while_tasks_run_panics() {
    watchdog(30, || {
        let group: ErrGroup<String> = ErrGroup::new();
        group.set_limit(Some(2));
        let gate = chan::make::<()>(0);
        let g = gate.clone();
        group.go(move || {
            g.recv();
            Ok(())
        });
        expect_panic(
            "errgroup: modify limit while 1 goroutines in the group are still active",
            || group.set_limit(Some(5)),
        );
        gate.close();
        group.wait().unwrap();
        group.set_limit(Some(5)); // idle: allowed
        group.set_limit(None);
    });
}

/// A panicking task still counts as finished, so `wait` returns (by panicking: the group
/// failed) instead of hanging; the panic cancels the context so its siblings stop too.
#[test]
fn a_panicking_task_does_not_hang_wait() {
    watchdog(30, || {
        quiet_task_panic();
        let (group, ctx): (ErrGroup, _) = ErrGroup::with_context(&context::background());
        group.set_limit(Some(2));
        let c = ctx.clone();
        group.go(move || {
            c.done().recv(); // ends only because the panic cancels the context
            Ok(())
        });
        group.go(|| panic!("{TASK_PANIC}"));
        let r = panic::catch_unwind(AssertUnwindSafe(|| group.wait()));
        let payload = r.expect_err("wait must report the panicked task");
        assert_eq!(
            panic_message(&*payload),
            "errgroup: a goroutine in the group panicked"
        );
        assert_eq!(ctx.err(), Some(ContextError::Canceled));
        // Its slot was given back.
        assert!(group.try_go(|| Ok(())));
    });
}

#[test]
fn a_task_ending_with_goexit_is_not_a_failure() {
    watchdog(30, || {
        let group: ErrGroup<String> = ErrGroup::new();
        group.go(|| runtime::goexit());
        assert_eq!(group.wait(), Ok(()));
    });
}

#[test]
fn tasks_from_plain_threads_and_goroutines_share_a_group() {
    watchdog(30, || {
        let group: ErrGroup<usize> = ErrGroup::new();
        let ran = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let (group, ran) = (group.clone(), ran.clone());
                std::thread::spawn(move || {
                    for _ in 0..10 {
                        let ran = ran.clone();
                        group.go(move || {
                            ran.fetch_add(1, Ordering::SeqCst);
                            Ok(())
                        });
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(group.wait(), Ok(()));
        assert_eq!(ran.load(Ordering::SeqCst), 20);
    });
}
