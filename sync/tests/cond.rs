//! goro's Cond: signal wakes one, broadcast wakes all, and no wakeup is lost in a
//! producer/consumer queue shared by goroutines and threads.

#[path = "../../runtime/tests/common/mod.rs"]
mod common;

use common::{wait_until, watchdog};
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use sync::{Cond, Mutex, WaitGroup};

struct Shared {
    m: Mutex<u32>,
    c: Cond,
    woken: AtomicUsize,
}

/// `n` waiters (goroutines and threads) wait for the generation to change.
fn waiters(s: &Arc<Shared>, n: usize) -> WaitGroup {
    let wg = WaitGroup::new();
    for i in 0..n {
        let s = s.clone();
        wg.add(1);
        let wg2 = wg.clone();
        let f = move || {
            let mut g = s.m.lock();
            *g += 1; // count ourselves in, under the lock
            g = s.c.wait(g);
            drop(g);
            s.woken.fetch_add(1, Ordering::SeqCst);
            wg2.done();
        };
        if i % 3 == 0 {
            std::thread::spawn(f);
        } else {
            runtime::go(f);
        }
    }
    wg
}

#[test]
fn signal_wakes_exactly_one() {
    watchdog(30, || {
        let s = Arc::new(Shared {
            m: Mutex::new(0),
            c: Cond::new(),
            woken: AtomicUsize::new(0),
        });
        let wg = waiters(&s, 6);
        wait_until(|| s.c.__queued() == 6); // all have queued
        for k in 1..=6 {
            s.c.signal();
            // The signal took its waiter out of the queue before it returned: the others
            // are still queued, so nothing can wake them.
            assert_eq!(s.c.__queued(), 6 - k, "a signal woke more than one");
            wait_until(|| s.woken.load(Ordering::SeqCst) == k);
            assert_eq!(
                s.woken.load(Ordering::SeqCst),
                k,
                "a signal woke more than one"
            );
        }
        wg.wait();
        s.c.signal(); // nobody waits: a no-op
    });
}

#[test]
fn broadcast_wakes_everyone() {
    watchdog(30, || {
        let s = Arc::new(Shared {
            m: Mutex::new(0),
            c: Cond::new(),
            woken: AtomicUsize::new(0),
        });
        let wg = waiters(&s, 9);
        wait_until(|| *s.m.lock() == 9);
        s.c.broadcast();
        wg.wait();
        assert_eq!(s.woken.load(Ordering::SeqCst), 9);
    });
}

#[test]
fn no_lost_wakeups_in_a_bounded_queue() {
    watchdog(60, || {
        const ITEMS: usize = 20_000;
        const CAP: usize = 4;
        let q = Arc::new((Mutex::new(VecDeque::new()), Cond::new(), Cond::new()));
        let produce = |q: Arc<(Mutex<VecDeque<usize>>, Cond, Cond)>, from: usize, n: usize| {
            for i in from..from + n {
                let (m, not_full, not_empty) = &*q;
                let mut g = not_full.wait_while(m.lock(), |d| d.len() >= CAP);
                g.push_back(i);
                drop(g);
                not_empty.signal();
            }
        };
        let sum = Arc::new(AtomicUsize::new(0));
        let consume =
            |q: Arc<(Mutex<VecDeque<usize>>, Cond, Cond)>, n: usize, sum: Arc<AtomicUsize>| {
                for _ in 0..n {
                    let (m, not_full, not_empty) = &*q;
                    let mut g = not_empty.wait_while(m.lock(), |d| d.is_empty());
                    let v = g.pop_front().unwrap();
                    drop(g);
                    not_full.signal();
                    sum.fetch_add(v, Ordering::Relaxed);
                }
            };
        let wg = WaitGroup::new();
        // 2 goroutine producers + 1 thread producer; 2 goroutine consumers + 1 thread consumer.
        let per = ITEMS / 3;
        for k in 0..2 {
            let qp = q.clone();
            wg.go(move || produce(qp, k * per, per));
            let (qc, sum) = (q.clone(), sum.clone());
            wg.go(move || consume(qc, per, sum));
        }
        let tp = {
            let q = q.clone();
            std::thread::spawn(move || produce(q, 2 * per, per))
        };
        let tc = {
            let (q, sum) = (q.clone(), sum.clone());
            std::thread::spawn(move || consume(q, per, sum))
        };
        wg.wait();
        tp.join().unwrap();
        tc.join().unwrap();
        let n = 3 * per;
        assert_eq!(sum.load(Ordering::Relaxed), n * (n - 1) / 2);
        assert!(q.0.lock().is_empty());
    });
}

thread_local! {
    static ON_EXIT: std::cell::RefCell<LockOnExit> = const { std::cell::RefCell::new(LockOnExit(None)) };
}

struct LockOnExit(Option<Arc<Mutex<u32>>>);

impl Drop for LockOnExit {
    fn drop(&mut self) {
        if let Some(m) = &self.0 {
            // Thread-locals are being destroyed: the thread's park note is gone, so this
            // wait must fall back to polling instead of panicking or sleeping forever.
            *m.lock() += 1;
        }
    }
}

#[test]
fn a_thread_local_destructor_can_wait_for_a_goro_lock() {
    watchdog(30, || {
        // Thread-local destruction order is unspecified: set up the thread's park note (which
        // `Waiter::current` creates) both before and after the destructor that waits.
        for note_first in [false, true] {
            let m = Arc::new(Mutex::new(0));
            let held = m.lock();
            let t = {
                let m = m.clone();
                std::thread::spawn(move || {
                    if note_first {
                        drop(runtime::Waiter::current());
                    }
                    ON_EXIT.with(|c| c.borrow_mut().0 = Some(m));
                    if !note_first {
                        drop(runtime::Waiter::current());
                    }
                })
            };
            // The destructor has counted itself as the lock's waiter: it waits for it.
            wait_until(|| m.__waiters() == 1);
            drop(held);
            t.join().unwrap();
            assert_eq!(*m.lock(), 1);
        }
    });
}
