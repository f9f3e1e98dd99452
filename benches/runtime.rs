//! criterion benches of the runtime's hot paths: spawn (W1's shape; also through `scope` and
//! with join handles), the gosched context
//! switch between two goroutines on one P, a park/unpark ping-pong, and a short sleep.
//!
//! Run: `cargo bench --bench runtime`. Cross-system comparisons live in benches/compare.

use criterion::{Criterion, criterion_group, criterion_main};
use goro::runtime::{self, WaitReason, Waiter};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Spawn `n` goroutines that each only signal completion; the spawner waits for all.
fn spawn_batch(n: usize) -> Duration {
    runtime::block_on(move || {
        // Plain references, as Go's closure captures &wg (see benches/compare).
        let left: &'static AtomicUsize = Box::leak(Box::new(AtomicUsize::new(n)));
        let main: &'static Waiter = Box::leak(Box::new(Waiter::current()));
        let t0 = Instant::now();
        for _ in 0..n {
            runtime::go(move || {
                if left.fetch_sub(1, Ordering::AcqRel) == 1 {
                    main.unpark();
                }
            });
        }
        while left.load(Ordering::Acquire) != 0 {
            runtime::park(WaitReason::WaitGroupWait);
        }
        t0.elapsed()
    })
}

/// [`spawn_batch`] through `runtime::scope`: `n` scoped goroutines that each bump a counter;
/// the scope's end waits for them (issue 22: must cost what `go` + a counter does, within
/// 10%).
fn scope_batch(n: usize) -> Duration {
    runtime::block_on(move || {
        let count = AtomicUsize::new(0);
        let t0 = Instant::now();
        runtime::scope(|s| {
            for _ in 0..n {
                s.go(|| {
                    count.fetch_add(1, Ordering::Relaxed);
                });
            }
        });
        let d = t0.elapsed();
        assert_eq!(count.load(Ordering::Relaxed), n);
        d
    })
}

/// [`spawn_batch`] with a join handle per goroutine, joined in order.
fn join_batch(n: usize) -> Duration {
    runtime::block_on(move || {
        let t0 = Instant::now();
        let hs: Vec<_> = (0..n).map(|i| runtime::spawn(move || i)).collect();
        let mut sum = 0;
        for h in hs {
            sum += h.join().unwrap();
        }
        let d = t0.elapsed();
        assert_eq!(sum, n * (n - 1) / 2);
        d
    })
}

/// Two goroutines on one P yielding to each other `iters` times each; returns the time of
/// all `2 * iters` switches.
fn gosched_pingpong(iters: u64) -> Duration {
    let old = runtime::gomaxprocs(1);
    let d = runtime::block_on(move || {
        let t0 = Instant::now();
        let other = runtime::spawn(move || {
            for _ in 0..iters {
                runtime::gosched();
            }
        });
        for _ in 0..iters {
            runtime::gosched();
        }
        other.join().unwrap();
        t0.elapsed()
    });
    runtime::gomaxprocs(old);
    d
}

/// Two goroutines waking each other with park/unpark, `iters` round trips.
fn park_pingpong(iters: u32) -> Duration {
    runtime::block_on(move || {
        let turn = Arc::new(AtomicU32::new(0));
        let main = Waiter::current();
        let t2 = turn.clone();
        let slot = Arc::new(std::sync::Mutex::new(None::<Waiter>));
        let s2 = slot.clone();
        let t0 = Instant::now();
        let h = runtime::spawn(move || {
            *s2.lock().unwrap() = Some(Waiter::current());
            for i in 0..iters {
                while t2.load(Ordering::Acquire) != 2 * i + 1 {
                    runtime::park(WaitReason::Park);
                }
                t2.store(2 * i + 2, Ordering::Release);
                main.unpark();
            }
        });
        let other = loop {
            if let Some(w) = slot.lock().unwrap().clone() {
                break w;
            }
            runtime::gosched();
        };
        for i in 0..iters {
            turn.store(2 * i + 1, Ordering::Release);
            other.unpark();
            while turn.load(Ordering::Acquire) != 2 * i + 2 {
                runtime::park(WaitReason::Park);
            }
        }
        h.join().unwrap();
        t0.elapsed()
    })
}

fn benches(c: &mut Criterion) {
    let _ = runtime::Builder::new().gomaxprocs(2).init();
    let mut g = c.benchmark_group("runtime");
    g.bench_function("gosched switch, 2 Gs on 1 P (per switch)", |b| {
        b.iter_custom(|iters| gosched_pingpong(iters.div_ceil(2)))
    });
    g.bench_function("park/unpark round trip (2 Ps)", |b| {
        b.iter_custom(|iters| park_pingpong(iters.max(1) as u32))
    });
    g.bench_function("park_until a passed deadline (no timer armed)", |b| {
        b.iter_custom(|iters| {
            runtime::block_on(move || {
                let t0 = Instant::now();
                for _ in 0..iters {
                    runtime::park_until(WaitReason::Sleep, Instant::now());
                }
                t0.elapsed()
            })
        })
    });
    // Last: it leaves thousands of free Gs whose stacks the runtime releases a second later,
    // and those madvise calls' TLB-shootdown IPIs would land in whatever bench runs next.
    g.bench_function("spawn_and_signal (per goroutine)", |b| {
        b.iter_custom(|iters| {
            let n = iters as usize;
            spawn_batch(n.max(1))
        })
    });
    g.bench_function("spawn in a scope (per goroutine)", |b| {
        b.iter_custom(|iters| scope_batch((iters as usize).max(1)))
    });
    g.bench_function("spawn and join (per goroutine)", |b| {
        b.iter_custom(|iters| join_batch((iters as usize).max(1)))
    });
    g.finish();
}

criterion_group! {
    name = runtime_benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = benches
}
criterion_main!(runtime_benches);
