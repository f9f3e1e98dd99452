//! Go-semantics conformance: `sync` and `x/sync`, through the public facade (`goro::sync`).
//!
//! Modelled on what Go's `src/sync/*_test.go` check (TestWaitGroup, TestMutexFairness,
//! HammerMutex, TestParallelReaders, HammerRWMutex, TestOnce, TestOncePanic,
//! TestOnceValue*, TestCondSignal, TestCondSignalGenerations, TestCondBroadcast) and
//! x/sync's semaphore and errgroup tests, written for goro's API; not copies.

#[path = "../runtime/tests/common/mod.rs"]
mod common;
#[path = "../chan/tests/support/mod.rs"]
mod support;

use common::{wait_until, watchdog};
use goro::chan;
use goro::context::{self, ContextError};
use goro::sync::{
    Cond, ErrGroup, Mutex, Once, OnceValue, Pool, PoolGuard, RwMutex, Semaphore, WaitGroup,
};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::time::Duration;
use support::panic_message;

/// Runs `f` on this thread and returns its panic message (it must panic).
fn panics(f: impl FnOnce()) -> String {
    match panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(()) => panic!("expected a panic"),
        Err(p) => panic_message(&*p),
    }
}

// ---- WaitGroup ---------------------------------------------------------------------------

// Go's TestWaitGroup: goroutines mark one group done and then wait on a second; the main
// goroutine's wait on the first returns while all of them are still blocked on the second,
// which releases them all together.
#[test]
fn waitgroup_two_groups_release_in_phases() {
    watchdog(30, || {
        const N: usize = 16;
        for _ in 0..4 {
            let (wg1, wg2) = (WaitGroup::new(), WaitGroup::new());
            let exited = chan::make::<()>(N);
            wg1.add(N as isize);
            wg2.add(N as isize);
            for _ in 0..N {
                let (wg1, wg2, exited) = (wg1.clone(), wg2.clone(), exited.clone());
                goro::go!(move || {
                    wg1.done();
                    wg2.wait();
                    exited.send(());
                });
            }
            wg1.wait();
            for _ in 0..N {
                assert!(
                    exited.try_recv().is_err(),
                    "a goroutine got past wg2.wait() early"
                );
                wg2.done();
            }
            for _ in 0..N {
                exited.recv();
            }
        }
    });
}

// Go's TestWaitGroupMisuse: the counter going negative panics.
#[test]
fn waitgroup_negative_counter_panics() {
    let wg = WaitGroup::new();
    wg.add(1);
    wg.done();
    assert_eq!(panics(|| wg.done()), "sync: negative WaitGroup counter");
}

// Go 1.25's wg.Go: each function runs in its own goroutine; Wait sees all their writes.
#[test]
fn waitgroup_go_waits_for_every_function() {
    watchdog(30, || {
        let wg = WaitGroup::new();
        let hits = Arc::new(AtomicUsize::new(0));
        for _ in 0..100 {
            let hits = hits.clone();
            wg.go(move || {
                goro::gosched();
                hits.fetch_add(1, Ordering::Relaxed);
            });
        }
        wg.wait();
        assert_eq!(hits.load(Ordering::Relaxed), 100);
        assert_eq!(wg.count(), 0);
    });
}

// ---- Mutex -------------------------------------------------------------------------------

// Go's HammerMutex: goroutines (and here plain threads) increment under the lock with a
// read-modify-write split across a yield; no increment is lost.
#[test]
fn mutex_hammer_loses_no_increment() {
    watchdog(30, || {
        let m = Arc::new(Mutex::new(0u64));
        let wg = WaitGroup::new();
        for _ in 0..8 {
            let m = m.clone();
            wg.go(move || {
                for i in 0..500 {
                    let mut g = m.lock();
                    let v = *g;
                    if i % 50 == 0 {
                        goro::gosched(); // still holding the lock
                    }
                    *g = v + 1;
                }
            });
        }
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let m = m.clone();
                std::thread::spawn(move || {
                    for _ in 0..500 {
                        if let Some(mut g) = m.try_lock() {
                            *g += 1;
                        } else {
                            *m.lock() += 1;
                        }
                    }
                })
            })
            .collect();
        wg.wait();
        threads.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(*m.lock(), 8 * 500 + 2 * 500);
    });
}

// Go's TestMutexFairness: one goroutine takes the lock over and over (holding it ~100us each
// time); another that wants it only now and then still gets it ten times, promptly.
#[test]
fn mutex_fairness_a_hot_locker_does_not_starve_another() {
    watchdog(30, || {
        let mu = Arc::new(Mutex::new(()));
        let stop = chan::make::<()>(0);
        let (m, s) = (mu.clone(), stop.clone());
        goro::go!(move || {
            loop {
                let g = m.lock();
                goro::runtime::sleep(Duration::from_micros(100));
                drop(g);
                goro::select! {
                    <-s => return,
                    default => {},
                }
            }
        });
        let done = chan::make::<()>(1);
        let (m, d) = (mu.clone(), done.clone());
        goro::go!(move || {
            for _ in 0..10 {
                goro::runtime::sleep(Duration::from_micros(100));
                drop(m.lock());
            }
            d.send(());
        });
        let got = goro::select! {
            <-done => true,
            timeout(Duration::from_secs(10)) => false,
        };
        stop.close();
        assert!(got, "can't acquire the Mutex in 10 seconds");
    });
}

// Go 1.18's TryLock: fails while the mutex is held (by anyone), succeeds once unlocked; a
// guard may be unlocked by another goroutine (Go lets any goroutine Unlock).
#[test]
fn mutex_try_lock_and_unlock_elsewhere() {
    watchdog(30, || {
        let m = Arc::new(Mutex::new(5));
        let g = m.lock();
        assert!(m.try_lock().is_none());
        let m2 = m.clone();
        assert!(goro::spawn(move || m2.try_lock().is_none()).join().unwrap());
        // Hand the held lock to another goroutine, which unlocks it.
        goro::scope(|s| s.go(move || drop(g)));
        assert_eq!(m.try_lock().map(|g| *g), Some(5));
    });
}

// ---- RwMutex -----------------------------------------------------------------------------

// Go's TestParallelReaders: every reader takes the read lock and reports in, and only then
// are they told to unlock — so all of them hold it at the same time.
#[test]
fn rwmutex_readers_hold_the_lock_in_parallel() {
    watchdog(30, || {
        const READERS: usize = 8;
        let m = Arc::new(RwMutex::new(0u32));
        let locked = chan::make::<()>(0);
        let unlock = chan::make::<()>(0);
        let done = chan::make::<()>(0);
        for _ in 0..READERS {
            let (m, locked, unlock, done) =
                (m.clone(), locked.clone(), unlock.clone(), done.clone());
            goro::go!(move || {
                let g = m.rlock();
                locked.send(());
                unlock.recv(); // parks while holding the read lock
                drop(g);
                done.send(());
            });
        }
        for _ in 0..READERS {
            locked.recv();
        }
        assert!(
            m.try_lock().is_none(),
            "a writer got in while readers hold the lock"
        );
        for _ in 0..READERS {
            unlock.send(());
        }
        for _ in 0..READERS {
            done.recv();
        }
        *m.lock() += 1;
        assert_eq!(*m.rlock(), 1);
    });
}

// Go's HammerRWMutex: an activity counter that readers bump by 1 and writers by 10_000;
// a writer always sees exactly its own 10_000, a reader never sees a writer.
#[test]
fn rwmutex_hammer_readers_and_writers_exclude_correctly() {
    watchdog(30, || {
        let rw = Arc::new(RwMutex::new(()));
        let activity = Arc::new(AtomicI64::new(0));
        let wg = WaitGroup::new();
        for w in 0..10 {
            let (rw, activity) = (rw.clone(), activity.clone());
            wg.go(move || {
                for i in 0..200 {
                    if (w + i) % 4 == 0 {
                        let _g = rw.lock();
                        let n = activity.fetch_add(10_000, Ordering::SeqCst) + 10_000;
                        assert_eq!(n, 10_000, "writer saw other activity");
                        goro::gosched();
                        activity.fetch_sub(10_000, Ordering::SeqCst);
                    } else {
                        let _g = rw.rlock();
                        let n = activity.fetch_add(1, Ordering::SeqCst) + 1;
                        assert!((1..10_000).contains(&n), "reader saw a writer: {n}");
                        goro::gosched();
                        activity.fetch_sub(1, Ordering::SeqCst);
                    }
                }
            });
        }
        wg.wait();
        assert_eq!(activity.load(Ordering::SeqCst), 0);
    });
}

// Go's RWMutex: once a writer waits, new readers wait behind it (writers are not starved).
#[test]
fn rwmutex_a_waiting_writer_blocks_new_readers() {
    watchdog(30, || {
        let m = Arc::new(RwMutex::new(0));
        let r1 = m.rlock();
        let m2 = m.clone();
        let writer = goro::spawn(move || *m2.lock() = 1);
        wait_until(|| m.try_rlock().is_none()); // the writer is now queued
        let m3 = m.clone();
        let reader = goro::spawn(move || *m3.rlock());
        std::thread::sleep(Duration::from_millis(20));
        assert!(
            !reader.is_finished(),
            "a new reader overtook the waiting writer"
        );
        drop(r1);
        writer.join().unwrap();
        assert_eq!(reader.join().unwrap(), 1, "the reader ran after the writer");
    });
}

// ---- Once, OnceValue ---------------------------------------------------------------------

// Go's TestOnce: many goroutines call once.Do; the function runs once, and every Do returns
// only after it has completed.
#[test]
fn once_runs_exactly_once_and_callers_see_it_done() {
    watchdog(30, || {
        let once = Arc::new(Once::new());
        let runs = Arc::new(AtomicUsize::new(0));
        let wg = WaitGroup::new();
        for _ in 0..10 {
            let (once, runs) = (once.clone(), runs.clone());
            wg.go(move || {
                once.call_once(|| {
                    goro::runtime::sleep(Duration::from_millis(2));
                    runs.fetch_add(1, Ordering::SeqCst);
                });
                assert_eq!(
                    runs.load(Ordering::SeqCst),
                    1,
                    "Do returned before f completed"
                );
            });
        }
        wg.wait();
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    });
}

// Go's TestOncePanic: a panicking function still counts as done; the next Do runs nothing.
#[test]
fn once_panic_counts_as_done() {
    let once = Once::new();
    assert_eq!(panics(|| once.call_once(|| panic!("failed"))), "failed");
    assert!(once.is_completed());
    once.call_once(|| panic!("once.Do called f again"));
}

// Go's TestOnceValue and TestOnceValuePanic: the function runs once and its value is
// returned to every caller; a panic is replayed to every later caller, without rerunning.
#[test]
fn once_value_computes_once_and_replays_panics() {
    watchdog(30, || {
        static CALLS: AtomicUsize = AtomicUsize::new(0);
        static V: OnceValue<usize> = OnceValue::new(|| CALLS.fetch_add(1, Ordering::SeqCst) + 42);
        let wg = WaitGroup::new();
        for _ in 0..8 {
            wg.go(|| assert_eq!(*V.get(), 42));
        }
        wg.wait();
        assert_eq!(CALLS.load(Ordering::SeqCst), 1);

        static PANICS: AtomicUsize = AtomicUsize::new(0);
        let p = OnceValue::new(|| -> u32 {
            PANICS.fetch_add(1, Ordering::SeqCst);
            panic!("x")
        });
        assert_eq!(panics(|| _ = p.get()), "x");
        let again = panics(|| _ = p.get());
        assert!(again.contains('x'), "the panic is replayed: {again}");
        assert_eq!(
            PANICS.load(Ordering::SeqCst),
            1,
            "the function is not rerun"
        );
    });
}

// ---- Cond --------------------------------------------------------------------------------

// Go's TestCondSignal: each Signal wakes one waiter, not all of them.
#[test]
fn cond_signal_wakes_one_waiter_at_a_time() {
    watchdog(30, || {
        const N: usize = 3;
        let st = Arc::new((Mutex::new(0usize), Cond::new()));
        let running = chan::make::<()>(N);
        let awake = chan::make::<()>(N);
        for _ in 0..N {
            let (st, running, awake) = (st.clone(), running.clone(), awake.clone());
            goro::go!(move || {
                let (m, c) = &*st;
                let mut g = m.lock();
                running.send(());
                g = c.wait(g);
                *g += 1;
                drop(g);
                awake.send(());
            });
        }
        for _ in 0..N {
            running.recv(); // each waiter took its ticket under the lock
        }
        for n in 1..=N {
            {
                let _g = st.0.lock(); // every waiter is inside wait() once we get the lock
                st.1.signal();
            }
            awake.recv();
            std::thread::sleep(Duration::from_millis(5));
            assert!(
                awake.try_recv().is_err(),
                "signal woke more than one waiter"
            );
            assert_eq!(*st.0.lock(), n);
        }
    });
}

// Go's TestCondSignalGenerations checks that Signal wakes waiters in the order they began
// to wait (the notify list's tickets); here: N waiters enter one by one, N signals wake them
// in that order.
#[test]
fn cond_signal_wakes_the_longest_waiting_first() {
    watchdog(30, || {
        const N: usize = 20;
        let st = Arc::new((Mutex::new(()), Cond::new()));
        let awake = chan::make::<usize>(N);
        for i in 0..N {
            let (st2, running, awake2) = (st.clone(), chan::make::<()>(1), awake.clone());
            let r2 = running.clone();
            goro::go!(move || {
                let (m, c) = &*st2;
                let g = m.lock();
                r2.send(());
                let g = c.wait(g);
                awake2.send(i);
                drop(g);
            });
            running.recv();
            drop(st.0.lock()); // waiter i is inside wait() now: it unlocked
        }
        for i in 0..N {
            st.1.signal();
            assert_eq!(awake.recv(), Some(i), "signal woke the wrong goroutine");
        }
    });
}

// Go's TestCondBroadcast: one Broadcast wakes every waiter.
#[test]
fn cond_broadcast_wakes_every_waiter() {
    watchdog(30, || {
        const N: usize = 16;
        let st = Arc::new((Mutex::new(0u32), Cond::new()));
        let wg = WaitGroup::new();
        let ready = Arc::new(AtomicUsize::new(0));
        for _ in 0..N {
            let (st, ready) = (st.clone(), ready.clone());
            wg.go(move || {
                let (m, c) = &*st;
                let g = m.lock();
                ready.fetch_add(1, Ordering::SeqCst);
                let g = c.wait_while(g, |round| *round == 0);
                assert_eq!(*g, 1);
            });
        }
        wait_until(|| ready.load(Ordering::SeqCst) == N);
        *st.0.lock() = 1;
        st.1.broadcast();
        wg.wait();
    });
}

// ---- Pool --------------------------------------------------------------------------------

// Go's TestPool / TestPoolNew: Get on an empty pool calls New; a value Put is what the next
// Get on the same thread returns.
#[test]
fn pool_get_calls_new_when_empty_and_reuses_puts() {
    let made = Arc::new(AtomicUsize::new(0));
    let m = made.clone();
    let p = Pool::new(move || m.fetch_add(1, Ordering::SeqCst) + 1);
    assert_eq!(PoolGuard::take(p.get()), 1);
    assert_eq!(PoolGuard::take(p.get()), 2);
    p.put(42);
    assert_eq!(*p.get(), 42);
    {
        let mut g = p.get(); // 42 again: the guard put it back
        *g = 7;
    }
    assert_eq!(*p.get(), 7);
    assert_eq!(made.load(Ordering::SeqCst), 2);
    p.clear();
    assert_eq!(
        PoolGuard::take(p.get()),
        3,
        "an emptied pool calls New again"
    );
}

// ---- x/sync: semaphore, errgroup ---------------------------------------------------------

// x/sync's TestWeightedTryAcquire: try_acquire succeeds while units are free, fails after.
#[test]
fn semaphore_try_acquire_sequence() {
    let s = Semaphore::new(2);
    let mut tries = Vec::new();
    s.acquire(1);
    tries.push(s.try_acquire(1));
    tries.push(s.try_acquire(1));
    s.release(2);
    tries.push(s.try_acquire(1));
    s.acquire(1);
    tries.push(s.try_acquire(1));
    assert_eq!(tries, [true, false, true, false]);
}

// x/sync's TestWeightedAcquire with a cancelled context: the acquire fails with the
// context's error and leaves the semaphore as it was.
#[test]
fn semaphore_acquire_ctx_fails_with_the_contexts_error() {
    watchdog(30, || {
        let s = Arc::new(Semaphore::new(2));
        s.acquire(2);
        let (ctx, cancel) = context::with_cancel(&context::background());
        let s2 = s.clone();
        let h = goro::spawn(move || s2.acquire_ctx(&ctx, 1));
        std::thread::sleep(Duration::from_millis(10));
        cancel.cancel();
        assert_eq!(h.join().unwrap(), Err(ContextError::Canceled));
        let (ctx, _cancel) =
            context::with_timeout(&context::background(), Duration::from_millis(10));
        assert_eq!(s.acquire_ctx(&ctx, 1), Err(ContextError::DeadlineExceeded));
        s.release(2);
        assert_eq!(s.held(), 0);
        assert!(s.try_acquire(2));
    });
}

// x/sync's TestZeroGroup: Wait returns Ok when no function failed, else the first error
// returned; a later error does not replace it.
#[test]
fn errgroup_wait_returns_the_first_error() {
    watchdog(30, || {
        let g: ErrGroup<String> = ErrGroup::new();
        g.go(|| Ok(()));
        g.go(|| Ok(()));
        assert_eq!(g.wait(), Ok(()));
        let (g, ctx): (ErrGroup<String>, _) = ErrGroup::with_context(&context::background());
        g.go(|| Err("first".into()));
        g.go(|| Ok(()));
        g.go(move || {
            ctx.done().recv(); // fails only after the first error was recorded
            Err("second".into())
        });
        assert_eq!(g.wait(), Err("first".into()));
    });
}

// x/sync's TestWithContext: the derived context is cancelled once a function fails, so the
// others can stop early; Wait returns that error.
#[test]
fn errgroup_with_context_cancels_the_others_on_failure() {
    watchdog(30, || {
        let (g, ctx): (ErrGroup<String>, _) = ErrGroup::with_context(&context::background());
        for i in 0..5 {
            let ctx = ctx.clone();
            g.go(move || {
                if i == 3 {
                    return Err(format!("task {i}"));
                }
                goro::select! {
                    <-ctx.done() => Ok(()),
                    timeout(Duration::from_secs(10)) => Err("never cancelled".into()),
                }
            });
        }
        assert_eq!(g.wait(), Err("task 3".into()));
        assert_eq!(ctx.err(), Some(ContextError::Canceled));
    });
}
