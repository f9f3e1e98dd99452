//! sysmon trims the stacks of goroutines parked for a second or more (runtime/src/stacktrim.rs):
//! their dead pages, and, for a goroutine asleep or in the netpoller, its live top too (saved
//! on the heap and put back when it resumes). Checked by RSS, by the runtime's counters, and
//! by every goroutine finding its stack data intact after it wakes.
//!
//! Its own test binary: RSS is per process, and the other tests' goroutines must not count.

mod common;
use common::{rss_bytes, watchdog};
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Writes 24 KiB of stack (six pages the goroutine then returns from: dead while it sleeps).
#[inline(never)]
fn go_deep(seed: u64) -> u64 {
    let mut a = [0u64; 3 * 1024];
    for (i, x) in a.iter_mut().enumerate() {
        *x = seed ^ i as u64;
    }
    black_box(&mut a);
    a.iter().fold(0, |s, x| s.wrapping_add(*x))
}

#[test]
fn long_parked_goroutines_give_their_stack_pages_back_and_resume_intact() {
    watchdog(120, || {
        const N: usize = 3000;
        let corrupt = Arc::new(AtomicUsize::new(0));
        let parked = Arc::new(AtomicUsize::new(0));
        let (before, after, stats) = runtime::block_on({
            let (corrupt, parked) = (corrupt.clone(), parked.clone());
            move || {
                let rss0 = rss_bytes();
                let wake_at = Instant::now() + Duration::from_millis(3500);
                let hs: Vec<_> = (0..N as u64)
                    .map(|id| {
                        let (corrupt, parked) = (corrupt.clone(), parked.clone());
                        runtime::spawn(move || {
                            // Live data in this frame, checked after the sleep.
                            let mut mine = [0u64; 24];
                            for (i, x) in mine.iter_mut().enumerate() {
                                *x = id.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ i as u64;
                            }
                            black_box(&mut mine);
                            black_box(go_deep(id));
                            parked.fetch_add(1, Ordering::SeqCst);
                            runtime::sleep(wake_at.saturating_duration_since(Instant::now()));
                            let ok = mine.iter().enumerate().all(|(i, x)| {
                                *x == id.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ i as u64
                            });
                            if !black_box(ok) {
                                corrupt.fetch_add(1, Ordering::SeqCst);
                            }
                            // And the stack still works at depth.
                            black_box(go_deep(id + 1));
                        })
                    })
                    .collect();
                while parked.load(Ordering::SeqCst) < N {
                    runtime::sleep(Duration::from_millis(5));
                }
                runtime::sleep(Duration::from_millis(100));
                let before = rss_bytes().saturating_sub(rss0);
                // Parked 1 s, then sysmon's passes (512 goroutines per 50 ms).
                runtime::sleep(Duration::from_millis(2500));
                let after = rss_bytes().saturating_sub(rss0);
                let stats = runtime::sched_stats();
                for h in hs {
                    h.join().unwrap();
                }
                (before, after, stats)
            }
        });
        eprintln!(
            "{N} parked goroutines: {} B each before trimming, {} B after; trimmed {}, saved \
             to the heap {}",
            before / N,
            after / N,
            stats.stacks_trimmed,
            stats.stacks_saved
        );
        assert_eq!(
            corrupt.load(Ordering::SeqCst),
            0,
            "stack data changed across a trim"
        );
        assert!(
            stats.stacks_trimmed >= N as u64,
            "only {} of {N} parked stacks trimmed",
            stats.stacks_trimmed
        );
        assert!(
            stats.stacks_trimmed < 2 * N as u64,
            "{} trims for {N} parks: a park is trimmed once",
            stats.stacks_trimmed
        );
        // Before: the live page plus six dead ones (28 KiB).
        assert!(
            before / N >= 24 * 1024,
            "before trimming: {} B each",
            before / N
        );
        if cfg!(debug_assertions) {
            // Unoptimised frames put a sleeping goroutine's live top over the 2 KiB that is
            // worth saving: only its dead pages go (the live page stays).
            assert!(
                after / N <= 8 * 1024,
                "after trimming: {} B each",
                after / N
            );
        } else {
            // Optimised, the live top (about 1 KiB) goes to the heap and the last page too.
            assert!(
                stats.stacks_saved >= N as u64,
                "only {} of {N} sleeping goroutines had their live top saved",
                stats.stacks_saved
            );
            assert!(
                after / N <= 3 * 1024,
                "after trimming: {} B each",
                after / N
            );
        }
    });
}
