//! A tour of goro's runtime: the quick-start demo from the README.
//!
//! It does what a Go program would do to show off its scheduler:
//!
//! ```go
//! for i := 0; i < 100000; i++ { go func() { time.Sleep(time.Second); wg.Done() }() }
//! fmt.Println(runtime.NumGoroutine(), "goroutines parked")
//! ```
//!
//! then fans a sum out over scoped goroutines that borrow a slice, and prints what the
//! scheduler saw.

use goro::runtime::{self, WaitReason, Waiter};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4)
}

#[goro::main]
fn main() {
    println!(
        "goro runtime: gomaxprocs={} stack={} KiB guards={:?}",
        runtime::gomaxprocs(0),
        runtime::stack_size() / 1024,
        runtime::guard_mode()
    );

    // 1. 100,000 goroutines, all asleep at once on the per-P timer heaps.
    const N: usize = 100_000;
    let rss0 = rss_kib();
    let t0 = Instant::now();
    let (parked, rss1) = {
        let left = Arc::new(AtomicUsize::new(N));
        let main = Arc::new(Waiter::current());
        for _ in 0..N {
            goro::go!(left, main => {
                runtime::sleep(Duration::from_millis(1000));
                if left.fetch_sub(1, Ordering::AcqRel) == 1 {
                    main.unpark();
                }
            });
        }
        let parked = runtime::num_goroutine() - 1; // all but this one
        let rss = rss_kib();
        while left.load(Ordering::Acquire) != 0 {
            runtime::park(WaitReason::WaitGroupWait);
        }
        (parked, rss)
    };
    println!(
        "spawned {N} sleeping goroutines ({parked} alive at once, ~{} bytes each); all woke after {:?}",
        (rss1.saturating_sub(rss0) * 1024) / N as u64,
        t0.elapsed()
    );

    // 2. Fan-out over borrowed data with scoped goroutines, like a Go worker pool.
    let data: Vec<u64> = (1..=1_000_000).collect();
    let mut partial = [0u64; 8];
    let t1 = Instant::now();
    runtime::scope(|s| {
        for (chunk, out) in data.chunks(data.len() / 8).zip(partial.iter_mut()) {
            s.go(move || *out = chunk.iter().sum());
        }
    });
    println!(
        "8 scoped goroutines summed 1..=1000000 = {} in {:?}",
        partial.iter().sum::<u64>(),
        t1.elapsed()
    );

    // 3. What the scheduler looks like with a few goroutines parked.
    let blockers: Vec<_> = (0..3)
        .map(|_| runtime::spawn(|| runtime::sleep(Duration::from_millis(200))))
        .collect();
    runtime::sleep(Duration::from_millis(20));
    print!("{}", runtime::stack_dump());
    for b in blockers {
        b.join().unwrap();
    }
}
