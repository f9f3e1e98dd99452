//! criterion benches of goro's sync hot paths: an uncontended Mutex lock/unlock (on a
//! goroutine and on a plain thread, beside std's Mutex), an uncontended RwMutex read
//! lock/unlock (on a goroutine and on a thread), W9's contended shape (8 goroutines, one Mutex), a WaitGroup add/done pair, a
//! Once that has run, and a Pool get/put.
//!
//! Run: `cargo bench --bench sync`. Cross-system comparisons (W9, W13) live in benches/compare.

use criterion::{Criterion, criterion_group, criterion_main};
use goro::runtime;
use goro::sync::{Mutex, Once, Pool, RwMutex, WaitGroup};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// `iters` lock/unlock pairs of an uncontended goro Mutex, on a goroutine.
fn mutex_uncontended(iters: u64) -> Duration {
    runtime::block_on(move || {
        let m = Mutex::new(0u64);
        let t0 = Instant::now();
        for _ in 0..iters {
            *black_box(&m).lock() += 1;
        }
        t0.elapsed()
    })
}

/// `iters` read lock/unlock pairs of an uncontended goro RwMutex, on a goroutine.
fn rwmutex_read_uncontended(iters: u64) -> Duration {
    runtime::block_on(move || {
        let l = RwMutex::new(1u64);
        let t0 = Instant::now();
        for _ in 0..iters {
            black_box(*black_box(&l).rlock());
        }
        t0.elapsed()
    })
}

/// 8 goroutines share `iters` increments of one Mutex-guarded counter (W9's shape).
fn mutex_contended(iters: u64) -> Duration {
    runtime::block_on(move || {
        let m: &'static Mutex<u64> = Box::leak(Box::new(Mutex::new(0)));
        let wg = WaitGroup::new();
        let t0 = Instant::now();
        for k in 0..8 {
            let n = iters / 8 + u64::from(k < iters % 8);
            wg.go(move || {
                for _ in 0..n {
                    *m.lock() += 1;
                }
            });
        }
        wg.wait();
        assert_eq!(*m.lock(), iters);
        t0.elapsed()
    })
}

fn sync(c: &mut Criterion) {
    let mut g = c.benchmark_group("sync");
    g.bench_function("mutex_lock_unlock_goroutine", |b| {
        b.iter_custom(mutex_uncontended)
    });
    g.bench_function("mutex_lock_unlock_thread", |b| {
        let m = Mutex::new(0u64);
        b.iter(|| *black_box(&m).lock() += 1)
    });
    g.bench_function("std_mutex_lock_unlock_thread", |b| {
        let m = std::sync::Mutex::new(0u64);
        b.iter(|| *black_box(&m).lock().unwrap() += 1)
    });
    g.bench_function("rwmutex_rlock_runlock_goroutine", |b| {
        b.iter_custom(rwmutex_read_uncontended)
    });
    g.bench_function("rwmutex_rlock_runlock_thread", |b| {
        let l = RwMutex::new(1u64);
        b.iter(|| *black_box(&l).rlock())
    });
    g.bench_function("mutex_8_goroutines_contended", |b| {
        b.iter_custom(mutex_contended)
    });
    g.bench_function("waitgroup_add_done", |b| {
        let wg = WaitGroup::new();
        b.iter(|| {
            wg.add(1);
            black_box(&wg).done();
        })
    });
    g.bench_function("once_done_fast_path", |b| {
        let once = Once::new();
        once.call_once(|| {});
        b.iter(|| black_box(&once).call_once(|| unreachable!()))
    });
    g.bench_function("pool_get_put_thread", |b| {
        let pool = Pool::new(|| vec![0u8; 64]);
        b.iter(|| black_box(pool.get().len()))
    });
    g.finish();
}

criterion_group!(benches, sync);
criterion_main!(benches);
