//! criterion benches of `iter::pull` (Go 1.23's `iter.Pull`): the cost per item of pulling
//! from a producer coroutine, against the same producer feeding an unbuffered channel from a
//! goroutine (what a Go port without `iter.Pull` writes), both inside a goroutine.
//!
//! Run: `cargo bench --bench iter`. Go's own figure for `iter.Pull` is in benches/compare.

use criterion::{Criterion, criterion_group, criterion_main};
use goro::{chan, runtime};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// The producer both benches use: yields 0..n.
fn count(n: u64) -> impl FnOnce(&mut dyn FnMut(u64) -> bool) + Send {
    move |y| {
        for i in 0..n {
            if !y(i) {
                return;
            }
        }
    }
}

fn pull_items(n: u64) -> Duration {
    runtime::block_on(move || {
        let t0 = Instant::now();
        let mut sum = 0u64;
        for v in runtime::iter::pull(count(n)) {
            sum = sum.wrapping_add(black_box(v));
        }
        black_box(sum);
        t0.elapsed()
    })
}

fn channel_items(n: u64) -> Duration {
    runtime::block_on(move || {
        let t0 = Instant::now();
        let ch = chan::make::<u64>(0);
        let tx = ch.clone();
        goro::go!(move || {
            count(n)(&mut |v| {
                tx.send(v);
                true
            });
            tx.close();
        });
        let mut sum = 0u64;
        for v in &ch {
            sum = sum.wrapping_add(black_box(v));
        }
        black_box(sum);
        t0.elapsed()
    })
}

fn benches(c: &mut Criterion) {
    let _ = runtime::Builder::new().gomaxprocs(2).init();
    let mut g = c.benchmark_group("iter");
    g.bench_function("pull (per item)", |b| {
        b.iter_custom(|iters| pull_items(iters.max(1)))
    });
    g.bench_function("unbuffered channel from a goroutine (per item)", |b| {
        b.iter_custom(|iters| channel_items(iters.max(1)))
    });
    g.bench_function("pull: create, one item, stop", |b| {
        b.iter_custom(|iters| {
            runtime::block_on(move || {
                let t0 = Instant::now();
                for _ in 0..iters {
                    let mut p = runtime::iter::pull(count(u64::MAX));
                    black_box(p.next());
                    p.stop();
                }
                t0.elapsed()
            })
        })
    });
    g.finish();
}

criterion_group! {
    name = iter_benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = benches
}
criterion_main!(iter_benches);
