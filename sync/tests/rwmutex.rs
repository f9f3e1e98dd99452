//! goro's RwMutex: shared readers, exclusive writers, writer preference, try variants, from
//! goroutines and plain threads mixed.

#[path = "../../runtime/tests/common/mod.rs"]
mod common;

use common::{wait_until, watchdog};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use sync::{RwMutex, WaitGroup};

#[test]
fn readers_hold_the_lock_together() {
    watchdog(30, || {
        let l = Arc::new(RwMutex::new(5));
        let inside = Arc::new(AtomicUsize::new(0));
        let wg = WaitGroup::new();
        for _ in 0..4 {
            let (l, inside) = (l.clone(), inside.clone());
            wg.go(move || {
                let g = l.rlock();
                inside.fetch_add(1, Ordering::SeqCst);
                // Every reader is inside at once before any leaves.
                while inside.load(Ordering::SeqCst) < 5 {
                    runtime::gosched();
                }
                assert_eq!(*g, 5);
            });
        }
        let (l2, in2) = (l.clone(), inside.clone());
        let t = std::thread::spawn(move || {
            let _g = l2.rlock();
            in2.fetch_add(1, Ordering::SeqCst);
            while in2.load(Ordering::SeqCst) < 5 {
                std::thread::yield_now();
            }
        });
        wg.wait();
        t.join().unwrap();
    });
}

#[test]
fn writers_exclude_readers_and_each_other() {
    watchdog(60, || {
        // A pair a writer keeps equal: a reader seeing them differ saw a partial write.
        let l = Arc::new(RwMutex::new((0u64, 0u64)));
        let wg = WaitGroup::new();
        let work = |l: &RwMutex<(u64, u64)>, k: u64| {
            for i in 0..5_000u64 {
                if (i + k).is_multiple_of(10) {
                    let mut g = l.lock();
                    g.0 += 1;
                    std::hint::black_box(&mut *g);
                    g.1 += 1;
                } else {
                    let g = l.rlock();
                    assert_eq!(g.0, g.1, "a reader saw a half-done write");
                }
            }
        };
        for k in 0..8 {
            let l = l.clone();
            wg.go(move || work(&l, k));
        }
        let threads: Vec<_> = (8..10)
            .map(|k| {
                let l = l.clone();
                std::thread::spawn(move || work(&l, k))
            })
            .collect();
        wg.wait();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(*l.rlock(), (5_000, 5_000)); // 10 workers x 500 writes each
    });
}

/// Go's writer preference: once a writer waits, a new reader waits behind it (and sees its
/// write), even though the lock is only read-held.
fn writer_preference_case(reader_is_thread: bool) {
    let l = Arc::new(RwMutex::new(0));
    let r1 = l.rlock();
    let writer = {
        let l = l.clone();
        runtime::spawn(move || *l.lock() = 1)
    };
    // The writer has announced itself once readers can no longer get in.
    wait_until(|| l.try_rlock().is_none());
    let late_reader = {
        let l = l.clone();
        move || *l.rlock()
    };
    let seen = if reader_is_thread {
        let t = std::thread::spawn(late_reader);
        // The reader is queued behind the writer, which waits for r1.
        std::thread::sleep(std::time::Duration::from_millis(20));
        drop(r1);
        t.join().unwrap()
    } else {
        let h = runtime::spawn(late_reader);
        runtime::sleep(std::time::Duration::from_millis(20));
        drop(r1);
        h.join().unwrap()
    };
    writer.join().unwrap();
    assert_eq!(seen, 1, "the late reader got in before the waiting writer");
}

#[test]
fn a_waiting_writer_blocks_new_goroutine_readers() {
    watchdog(30, || writer_preference_case(false));
}

#[test]
fn a_waiting_writer_blocks_new_thread_readers() {
    watchdog(30, || writer_preference_case(true));
}

#[test]
fn try_variants() {
    watchdog(30, try_variants_body);
}

fn try_variants_body() {
    let l = RwMutex::new(vec![1]);
    {
        let w = l.try_lock().unwrap();
        assert!(l.try_lock().is_none());
        assert!(l.try_rlock().is_none());
        drop(w);
    }
    let r = l.try_rlock().unwrap();
    let r2 = l.try_rlock().unwrap();
    assert!(l.try_lock().is_none());
    assert_eq!(*r, *r2);
    drop((r, r2));
    l.lock().push(2);
    assert_eq!(format!("{l:?}"), "RwMutex { data: [1, 2], .. }");
    assert_eq!(l.into_inner(), [1, 2]);
}

#[test]
fn many_readers_queued_behind_a_writer_all_get_in() {
    watchdog(30, || {
        let l = Arc::new(RwMutex::new(0usize));
        let w = l.lock();
        let wg = WaitGroup::new();
        let got = Arc::new(AtomicUsize::new(0));
        let arrived = Arc::new(AtomicUsize::new(0));
        for _ in 0..500 {
            let (l, got, arrived) = (l.clone(), got.clone(), arrived.clone());
            wg.go(move || {
                arrived.fetch_add(1, Ordering::SeqCst);
                got.fetch_add(*l.rlock(), Ordering::SeqCst);
            });
        }
        wait_until(|| arrived.load(Ordering::SeqCst) == 500);
        runtime::sleep(std::time::Duration::from_millis(5));
        let mut w = w;
        *w = 1;
        drop(w);
        wg.wait();
        assert_eq!(
            got.load(Ordering::SeqCst),
            500,
            "every reader saw the write"
        );
    });
}

/// Readers that park while holding the read lock (and so may unlock on another P than they
/// locked on), writers, and plain-thread readers, all at once: exclusion holds and nothing
/// hangs (a read unlock decrements the stripe of whatever P it runs on).
#[test]
fn readers_that_park_inside_and_move_between_ps() {
    watchdog(60, || {
        let l = Arc::new(RwMutex::new((0u64, 0u64)));
        let wg = WaitGroup::new();
        for k in 0..6u64 {
            let l = l.clone();
            wg.go(move || {
                for i in 0..2_000u64 {
                    if (i + k) % 7 == 0 {
                        let mut g = l.lock();
                        g.0 += 1;
                        runtime::gosched(); // a writer that yields inside
                        g.1 += 1;
                    } else {
                        let g = l.rlock();
                        if i % 3 == 0 {
                            runtime::gosched(); // may resume on the other P
                        }
                        assert_eq!(g.0, g.1, "a reader saw a half-done write");
                    }
                }
            });
        }
        let t = {
            let l = l.clone();
            std::thread::spawn(move || {
                for _ in 0..2_000 {
                    let g = l.rlock();
                    assert_eq!(g.0, g.1);
                }
            })
        };
        wg.wait();
        t.join().unwrap();
        let g = l.rlock();
        assert_eq!(g.0, g.1);
        drop(g);
        // Every read lock was released: a writer gets in at once.
        assert!(l.try_lock().is_some());
    });
}
