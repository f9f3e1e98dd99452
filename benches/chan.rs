//! criterion benches of goro's channel hot paths: a buffered send+recv on one goroutine, an
//! unbuffered ping-pong round trip between two goroutines, mpmc over one buffered channel
//! (W4's shape), a 4-case select, both with a case ready and fed by 4 senders (W6's
//! shape), and timers: a `Timer` made and stopped (the heap's add and lazy delete), and 1,000
//! goroutines each waiting on `time::after(100 us)` (W11's shape, small).
//!
//! Run: `cargo bench --bench chan`. Cross-system comparisons live in benches/compare.

use criterion::{Criterion, criterion_group, criterion_main};
use goro::chan::{self, Chan, Select, Selected};
use goro::runtime;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// One goroutine: `iters` times send one value into a cap-128 channel and receive it back
/// (the buffer's fast paths, no parking).
fn buffered_send_recv(iters: u64) -> Duration {
    runtime::block_on(move || {
        let ch = chan::make::<u64>(128);
        let t0 = Instant::now();
        for i in 0..iters {
            ch.send(i);
            black_box(ch.recv());
        }
        t0.elapsed()
    })
}

/// Two goroutines, two unbuffered channels, `iters` round trips (W2's shape).
fn unbuffered_pingpong(iters: u64) -> Duration {
    runtime::block_on(move || {
        let ping = chan::make::<u64>(0);
        let pong = chan::make::<u64>(0);
        let (p2, q2) = (ping.clone(), pong.clone());
        let echo = runtime::spawn(move || {
            for v in &p2 {
                q2.send(v + 1);
            }
        });
        let t0 = Instant::now();
        for i in 0..iters {
            ping.send(i);
            black_box(pong.recv());
        }
        let d = t0.elapsed();
        ping.close();
        echo.join().unwrap();
        d
    })
}

/// 4 senders, 4 receivers, one channel of capacity `cap`, `iters` messages in all (W4's
/// shape when `cap` is 128).
fn mpmc(iters: u64, cap: usize) -> Duration {
    runtime::block_on(move || {
        let ch = chan::make::<u64>(cap);
        let t0 = Instant::now();
        let receivers: Vec<_> = (0..4)
            .map(|_| {
                let ch = ch.clone();
                runtime::spawn(move || ch.iter().fold(0u64, |s, v| s.wrapping_add(v)))
            })
            .collect();
        let senders: Vec<_> = (0..4u64)
            .map(|k| {
                let ch = ch.clone();
                let (a, b) = (k * iters / 4, (k + 1) * iters / 4);
                runtime::spawn(move || {
                    for i in a..b {
                        ch.send(i);
                    }
                })
            })
            .collect();
        for h in senders {
            h.join().unwrap();
        }
        ch.close();
        for h in receivers {
            black_box(h.join().unwrap());
        }
        t0.elapsed()
    })
}

/// One goroutine, a select over 4 cap-128 channels, exactly one of which holds a value
/// (round robin): the poll-and-take path, never parking.
fn select4_ready(iters: u64) -> Duration {
    runtime::block_on(move || {
        let chs: Vec<Chan<u64>> = (0..4).map(|_| chan::make::<u64>(128)).collect();
        let mut sel = Select::new();
        for ch in &chs {
            sel.recv(ch);
        }
        let t0 = Instant::now();
        for i in 0..iters {
            chs[(i % 4) as usize].send(i);
            let Selected::Case(k) = sel.wait() else {
                unreachable!()
            };
            black_box(sel.recv_value::<u64>(k));
        }
        t0.elapsed()
    })
}

/// Starts one sender goroutine per channel, together sending `iters` values.
fn feed(chs: &[Chan<u64>], iters: u64) {
    let n = chs.len() as u64;
    for (k, ch) in chs.iter().enumerate() {
        let ch = ch.clone();
        let (a, b) = (k as u64 * iters / n, (k as u64 + 1) * iters / n);
        runtime::go(move || {
            for i in a..b {
                ch.send(i);
            }
        });
    }
}

/// 4 senders each on its own cap-128 channel, one receiver selecting over the 4 (W6's
/// shape), `iters` messages in all.
fn select4_fed(iters: u64) -> Duration {
    runtime::block_on(move || {
        let chs: Vec<Chan<u64>> = (0..4).map(|_| chan::make::<u64>(128)).collect();
        let t0 = Instant::now();
        feed(&chs, iters);
        let mut sel = Select::new();
        for ch in &chs {
            sel.recv(ch);
        }
        for _ in 0..iters {
            let Selected::Case(k) = sel.wait() else {
                unreachable!()
            };
            black_box(sel.recv_value::<u64>(k));
        }
        t0.elapsed()
    })
}

/// W6's shape through the `select!` macro: a fresh 4-arm select per message.
fn select4_fed_macro(iters: u64) -> Duration {
    runtime::block_on(move || {
        let chs: Vec<Chan<u64>> = (0..4).map(|_| chan::make::<u64>(128)).collect();
        let t0 = Instant::now();
        feed(&chs, iters);
        let (c0, c1, c2, c3) = (&chs[0], &chs[1], &chs[2], &chs[3]);
        for _ in 0..iters {
            goro::select! {
                v = <-c0 => { black_box(v); }
                v = <-c1 => { black_box(v); }
                v = <-c2 => { black_box(v); }
                v = <-c3 => { black_box(v); }
            }
        }
        t0.elapsed()
    })
}

/// The same, calling the engine by hand the way the macro does (cases on the stack).
fn select4_fed_engine(iters: u64) -> Duration {
    use chan::__private::{Case, RecvCase, run};
    runtime::block_on(move || {
        let chs: Vec<Chan<u64>> = (0..4).map(|_| chan::make::<u64>(128)).collect();
        let t0 = Instant::now();
        feed(&chs, iters);
        for _ in 0..iters {
            let mut r0 = RecvCase::new(&chs[0]);
            let mut r1 = RecvCase::new(&chs[1]);
            let mut r2 = RecvCase::new(&chs[2]);
            let mut r3 = RecvCase::new(&chs[3]);
            let mut cases: [&mut dyn Case; 4] = [&mut r0, &mut r1, &mut r2, &mut r3];
            let Selected::Case(k) = run(&mut cases, false, None) else {
                unreachable!()
            };
            let v = [&mut r0, &mut r1, &mut r2, &mut r3][k].out.take();
            black_box(v);
        }
        t0.elapsed()
    })
}

/// `iters` timers made and stopped before they fire, on one goroutine.
fn timer_new_stop(iters: u64) -> Duration {
    runtime::block_on(move || {
        let t0 = Instant::now();
        for _ in 0..iters {
            let t = goro::time::Timer::new(Duration::from_secs(3600));
            black_box(t.stop());
        }
        t0.elapsed()
    })
}

/// `iters` timers that fire: batches of 1,000 goroutines each receiving from its own
/// `time::after(100 us)`; the time per timer includes the 100 us wait spread over the batch.
fn timers_fire(iters: u64) -> Duration {
    runtime::block_on(move || {
        let t0 = Instant::now();
        let mut left = iters;
        while left > 0 {
            let batch = left.min(1000);
            let done = chan::make::<()>(batch as usize);
            for _ in 0..batch {
                let done = done.clone();
                runtime::go(move || {
                    goro::time::after(Duration::from_micros(100)).recv();
                    done.send(());
                });
            }
            for _ in 0..batch {
                done.recv();
            }
            left -= batch;
        }
        t0.elapsed()
    })
}

fn benches(c: &mut Criterion) {
    let _ = runtime::Builder::new().gomaxprocs(2).init();
    let mut g = c.benchmark_group("chan");
    g.bench_function("buffered send+recv, 1 goroutine (per pair)", |b| {
        b.iter_custom(buffered_send_recv)
    });
    g.bench_function("unbuffered ping-pong (per round trip)", |b| {
        b.iter_custom(unbuffered_pingpong)
    });
    g.bench_function("mpmc 4x4 cap 128 (per message)", |b| {
        b.iter_custom(|iters| mpmc(iters, 128))
    });
    g.bench_function("mpmc 4x4 unbuffered (per message)", |b| {
        b.iter_custom(|iters| mpmc(iters, 0))
    });
    g.bench_function("select 4 cases, one ready (per select)", |b| {
        b.iter_custom(select4_ready)
    });
    g.bench_function("select 4 cases fed by 4 senders (per message)", |b| {
        b.iter_custom(select4_fed)
    });
    g.bench_function("W6 via select! macro (per message)", |b| {
        b.iter_custom(select4_fed_macro)
    });
    g.bench_function("W6 via the engine by hand (per message)", |b| {
        b.iter_custom(select4_fed_engine)
    });
    g.bench_function("Timer new+stop (per timer)", |b| {
        b.iter_custom(timer_new_stop)
    });
    g.bench_function("after(100us) x 1000 goroutines (per timer)", |b| {
        b.iter_custom(timers_fire)
    });
    g.finish();
}

criterion_group! {
    name = chan_benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = benches
}
criterion_main!(chan_benches);
