//! Go's `TestPingPongHog` (runtime/proc_test.go), ported: on one P, a pair of goroutines that
//! hand a token back and forth after heavy work, and a pair that does light work, must get
//! comparable CPU time. A goroutine readied into `runnext` inherits its waker's time slice,
//! and the slice ends after 10 ms, so each pair runs in turns of about a slice; alternating
//! the pairs at every hand-off would instead give the light pair ~0.1% of the CPU (the
//! counts would differ ~1,000x). Its own process: it sets gomaxprocs to 1.

#[path = "../runtime/tests/common/mod.rs"]
mod common;

use common::watchdog;
use goro::{chan, runtime, select};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Go's `run`: wait for the token, count `limit` times, pass the token on; until `done`.
fn run(limit: u64, counter: Arc<AtomicU64>, wake: chan::Chan<bool>, done: chan::Chan<bool>) {
    loop {
        select! {
            <-done => return,
            <-wake => {
                let mut local = 0u64;
                for _ in 0..limit {
                    // Go's `*counter++` on a shared int: real work the optimiser keeps.
                    local = std::hint::black_box(local + 1);
                }
                counter.fetch_add(local, Ordering::Relaxed);
                wake.send(true);
            },
        }
    }
}

#[test]
fn ping_pong_hog_pairs_share_the_p() {
    let _ = runtime::Builder::new().gomaxprocs(1).init();
    assert_eq!(runtime::gomaxprocs(0), 1);
    watchdog(60, || {
        let (hog, light) = runtime::block_on(|| {
            let done = chan::make::<bool>(0);
            let (hog_chan, light_chan) = (chan::make::<bool>(0), chan::make::<bool>(0));
            let hog = Arc::new(AtomicU64::new(0));
            let light = Arc::new(AtomicU64::new(0));
            for _ in 0..2 {
                goro::go!(hog, hog_chan, done => run(1_000_000, hog, hog_chan, done));
            }
            for _ in 0..2 {
                goro::go!(light, light_chan, done => run(1_000, light, light_chan, done));
            }
            hog_chan.send(true);
            light_chan.send(true);
            runtime::sleep(Duration::from_millis(100));
            done.close();
            (hog.load(Ordering::Relaxed), light.load(Ordering::Relaxed))
        });
        // Go's bound: within a factor of 20 either way (broken scheduling gives ~1,000).
        const FACTOR: u64 = 20;
        let ratio = hog as f64 / light.max(1) as f64;
        eprintln!("hog {hog}, light {light}: ratio {ratio:.2}");
        assert!(
            hog <= light * FACTOR && light <= hog * FACTOR,
            "want hog/light in [1/{FACTOR}, {FACTOR}]; got {hog}/{light} = {ratio:.3}"
        );
    });
}
