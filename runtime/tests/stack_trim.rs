//! sysmon trims the stacks of goroutines parked for a second or more (runtime/src/stacktrim.rs):
//! the pages below their saved stack pointer go back to the OS. Checked by RSS, by the
//! runtime's counter, and by every goroutine finding its stack data intact after it wakes and
//! its stack still usable at depth.
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
            "{N} parked goroutines: {} B each before trimming, {} B after; trimmed {}",
            before / N,
            after / N,
            stats.stacks_trimmed,
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
        // Before: the live page plus six dead ones (28 KiB). After: the live page (debug
        // builds' frames may reach into a second one).
        assert!(
            before / N >= 24 * 1024,
            "before trimming: {} B each",
            before / N
        );
        assert!(
            after / N <= 9 * 1024,
            "after trimming: {} B each",
            after / N
        );
    });
}
