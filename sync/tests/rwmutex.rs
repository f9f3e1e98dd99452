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
    // The reader queues behind the writer, which waits for r1.
    let seen = if reader_is_thread {
        let (t, queued) = common::thread_watched(late_reader);
        queued.wait_parked(runtime::WaitReason::RwMutexRLock);
        drop(r1);
        t.join().unwrap()
    } else {
        let (h, queued) = common::spawn_watched(late_reader);
        queued.wait_parked(runtime::WaitReason::RwMutexRLock);
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
        // Every reader has counted itself in behind the writer: each waits for its unlock.
        wait_until(|| l.__shared_readers() == 500);
        assert_eq!(arrived.load(Ordering::SeqCst), 500);
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

/// `goroutines` goroutines, each making `iters` operations on a pair a writer keeps equal
/// (a write when `(i + k) % write_every == 0`, else a read), run `in_write` between the two
/// halves of a write and `in_read(i)` inside a read, beside a plain-thread reader. Exclusion
/// holds, nothing hangs, and every read lock is released at the end.
fn pair_workout(goroutines: u64, iters: u64, write_every: u64, in_write: fn(), in_read: fn(u64)) {
    watchdog(60, || {
        let l = Arc::new(RwMutex::new((0u64, 0u64)));
        let wg = WaitGroup::new();
        for k in 0..goroutines {
            let l = l.clone();
            wg.go(move || {
                for i in 0..iters {
                    if (i + k) % write_every == 0 {
                        let mut g = l.lock();
                        g.0 += 1;
                        in_write();
                        g.1 += 1;
                    } else {
                        let g = l.rlock();
                        in_read(i);
                        assert_eq!(g.0, g.1, "a reader saw a half-done write");
                    }
                }
            });
        }
        let t = {
            let l = l.clone();
            std::thread::spawn(move || {
                for _ in 0..iters {
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

/// Readers that park while holding the read lock (and so may unlock on another P than they
/// locked on: a slot is released wherever its guard is dropped) and writers that yield
/// inside.
#[test]
fn readers_that_park_inside_and_move_between_ps() {
    pair_workout(6, 2_000, 7, runtime::gosched, |i| {
        if i % 3 == 0 {
            runtime::gosched(); // may resume on the other P
        }
    });
}

/// A goroutine reader holds the lock (through its P's reader slot) while parked for a while:
/// a writer waits for it, spinning and then parking, and is let in once the reader leaves;
/// readers arriving meanwhile queue behind the writer. The same from a plain-thread writer.
fn a_writer_waits_for_a_parked_slot_reader(writer_is_thread: bool) {
    let l = Arc::new(RwMutex::new(0u32));
    let (entered, left) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let reader = {
        let (l, entered, left) = (l.clone(), entered.clone(), left.clone());
        runtime::spawn(move || {
            let g = l.rlock();
            entered.store(1, Ordering::SeqCst);
            runtime::sleep(std::time::Duration::from_millis(30));
            assert_eq!(*g, 0, "the writer got in while a reader was inside");
            left.store(1, Ordering::SeqCst);
        })
    };
    wait_until(|| entered.load(Ordering::SeqCst) == 1);
    let write = {
        let (l, left) = (l.clone(), left.clone());
        move || {
            let mut w = l.lock();
            assert_eq!(left.load(Ordering::SeqCst), 1, "the writer did not wait");
            *w = 7;
        }
    };
    let late = {
        let l = l.clone();
        move || *l.rlock()
    };
    if writer_is_thread {
        let t = std::thread::spawn(write);
        wait_until(|| l.try_rlock().is_none());
        let seen = runtime::spawn(late).join().unwrap();
        t.join().unwrap();
        assert_eq!(seen, 7, "a reader arriving behind the writer saw its write");
    } else {
        let h = runtime::spawn(write);
        wait_until(|| l.try_rlock().is_none());
        let seen = std::thread::spawn(late).join().unwrap();
        h.join().unwrap();
        assert_eq!(seen, 7, "a reader arriving behind the writer saw its write");
    }
    reader.join().unwrap();
    assert!(l.try_lock().is_some(), "every read lock was released");
}

#[test]
fn a_goroutine_writer_waits_for_a_parked_slot_reader() {
    watchdog(30, || a_writer_waits_for_a_parked_slot_reader(false));
}

#[test]
fn a_thread_writer_waits_for_a_parked_slot_reader() {
    watchdog(30, || a_writer_waits_for_a_parked_slot_reader(true));
}

/// A goroutine's read lock (taken through its P's slot) makes `try_lock` fail, and a
/// goroutine's `try_rlock` fails while a writer waits; both succeed once the lock is free.
#[test]
fn try_variants_against_slot_readers() {
    watchdog(30, || {
        let l = Arc::new(RwMutex::new(1));
        runtime::block_on({
            let l = l.clone();
            move || {
                let r = l.rlock();
                assert!(l.try_lock().is_none(), "try_lock beside a slot reader");
                let r2 = l.try_rlock().expect("a second reader on the same P");
                assert!(l.try_lock().is_none());
                drop(r);
                assert!(l.try_lock().is_none(), "the second reader is still inside");
                drop(r2);
                assert!(l.try_lock().is_some());
            }
        });
        let r = l.rlock(); // a thread: the shared count
        let writer = {
            let l = l.clone();
            std::thread::spawn(move || *l.lock() += 1)
        };
        wait_until(|| l.try_rlock().is_none());
        let l2 = l.clone();
        assert!(runtime::block_on(move || l2.try_rlock().is_none()));
        drop(r);
        writer.join().unwrap();
        let l2 = l.clone();
        assert_eq!(runtime::block_on(move || *l2.try_rlock().unwrap()), 2);
    });
}

/// Goroutine readers that sometimes sleep inside their read section, so writers park on
/// their slots and must be woken by their release.
#[test]
fn writers_parked_on_slot_readers_are_always_let_in() {
    pair_workout(
        8,
        300,
        5,
        || {},
        |i| {
            if i % 4 == 0 {
                runtime::sleep(std::time::Duration::from_micros(200));
            }
        },
    );
}

/// Thread writers flag their section; goroutine readers (on slots) check the flag. A reader
/// that slipped past a writer's announcement, or a writer that missed a reader's slot, shows
/// up as a reader that saw the flag set.
#[test]
fn slot_readers_never_overlap_a_writer() {
    watchdog(120, || {
        let l = Arc::new(RwMutex::new(()));
        let writing = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (overlaps, stop) = (
            Arc::new(AtomicUsize::new(0)),
            Arc::new(std::sync::atomic::AtomicBool::new(false)),
        );
        let wg = WaitGroup::new();
        for _ in 0..4 {
            let (l, writing, overlaps, stop) =
                (l.clone(), writing.clone(), overlaps.clone(), stop.clone());
            wg.go(move || {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let g = l.rlock();
                    if writing.load(Ordering::SeqCst) {
                        overlaps.fetch_add(1, Ordering::SeqCst);
                    }
                    drop(g);
                    n += 1;
                    if n.is_multiple_of(64) {
                        runtime::gosched();
                    }
                }
            });
        }
        let (l2, w2) = (l.clone(), writing.clone());
        std::thread::spawn(move || {
            for _ in 0..100_000 {
                let g = l2.lock();
                w2.store(true, Ordering::SeqCst);
                for _ in 0..20 {
                    std::hint::spin_loop();
                }
                w2.store(false, Ordering::SeqCst);
                drop(g);
            }
        })
        .join()
        .unwrap();
        stop.store(true, Ordering::SeqCst);
        wg.wait();
        assert_eq!(
            overlaps.load(Ordering::SeqCst),
            0,
            "a reader overlapped a writer"
        );
    });
}

/// A read guard leaked with `mem::forget` keeps its lock read-held forever (as in Go), but
/// its slot names that lock only: a new lock built in the same place works.
#[test]
fn a_leaked_read_guard_blocks_only_its_own_lock() {
    watchdog(30, || {
        runtime::block_on(|| {
            let mut b = Box::new(RwMutex::new(0));
            std::mem::forget(b.rlock());
            assert!(b.try_lock().is_none(), "the leaked reader still holds it");
            *b = RwMutex::new(1);
            *b.lock() += 1;
            assert_eq!(*b.rlock(), 2);
        });
    });
}
