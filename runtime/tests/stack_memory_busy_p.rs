//! On a P that never runs out of work, deep stack pages still go back: when the P is handed
//! off from a blocking call while another P is idle (so no M will look for work on it), and
//! when its dead Gs are reused without a pause. (Its own test binary: it reads the
//! process's RSS, which other tests would disturb, and sets GOMAXPROCS to 2.)

mod common;
use common::deep::{Rendezvous, go_deep};
use common::{rss_bytes, watchdog};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Goroutines that all go deep at once, so each has its own G and stack.
const N: usize = 48;
/// Stack each goes deep by, well past the 32 KiB a dead G keeps resident.
const DEEP_KIB: usize = 160;

/// Runs `n` goroutines doing `f` and waits for them without ever parking (the calling
/// goroutine stays runnable, so the P never runs out of work).
fn run_busy(n: usize, f: impl Fn() + Send + Sync + 'static) {
    let f = Arc::new(f);
    let exited = Arc::new(AtomicUsize::new(0));
    for _ in 0..n {
        let (f, exited) = (f.clone(), exited.clone());
        runtime::go(move || {
            f();
            exited.fetch_add(1, Ordering::SeqCst);
        });
    }
    while exited.load(Ordering::SeqCst) < n {
        runtime::gosched();
    }
    runtime::gosched(); // let the last one finish exiting
}

/// N goroutines deep at once, then all ended, waited for without parking; returns the RSS
/// growth at the peak. The caller wakes them, so they run and end on its P (mostly: another
/// P may steal some).
fn deep_burst(before: usize) -> usize {
    let rv = Rendezvous::new(N + 1);
    let exited = Arc::new(AtomicUsize::new(0));
    for _ in 0..N {
        let (rv, exited) = (rv.clone(), exited.clone());
        runtime::go(move || {
            go_deep(DEEP_KIB, &rv);
            exited.fetch_add(1, Ordering::SeqCst);
        });
    }
    while rv.arrived.load(Ordering::SeqCst) < N {
        runtime::gosched();
    }
    let grown = rss_bytes().saturating_sub(before);
    rv.arrive();
    while exited.load(Ordering::SeqCst) < N {
        runtime::gosched();
    }
    runtime::gosched(); // let the last one finish exiting
    assert!(
        grown > N * 100 * 1024,
        "the burst really was deep: grew {} KiB",
        grown / 1024
    );
    grown
}

/// What the dead Gs may keep: their top 32 KiB each, and some slack for the allocator.
fn allowed() -> usize {
    N * 40 * 1024 + 2 * 1024 * 1024
}

#[test]
fn deep_pages_go_back_on_a_p_that_never_idles() {
    runtime::Builder::new().gomaxprocs(2).init().unwrap();
    watchdog(60, || {
        runtime::block_on(|| {
            // 1. The P is handed off: its goroutine blocks in a call, sysmon takes the P and,
            //    the other P being idle already, puts it in the idle list, where no M will run
            //    out of work on it. The brand-new Gs' deferred looks are made on the way.
            let before = rss_bytes();
            let grown = deep_burst(before);
            let pinned = runtime::syscall(|| {
                let deadline = Instant::now() + Duration::from_secs(5);
                let mut pinned = rss_bytes().saturating_sub(before);
                while pinned >= allowed() && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(5));
                    pinned = rss_bytes().saturating_sub(before);
                }
                pinned
            });
            assert!(
                pinned < allowed(),
                "during a blocking call {} KiB stay resident (allowed {} KiB; peak growth \
                 {} KiB)",
                pinned / 1024,
                allowed() / 1024,
                grown / 1024
            );

            // 2. The P never idles (the only one now): the dead Gs (deep again, their looks
            //    owed) are reused by shallow goroutines at once; their second exits look.
            runtime::gomaxprocs(1);
            let before = rss_bytes();
            let grown = deep_burst(before);
            run_busy(N, || {
                std::hint::black_box([0u8; 64]);
            });
            let pinned = rss_bytes().saturating_sub(before);
            assert!(
                pinned < allowed(),
                "after the Gs were reused {} KiB stay resident (allowed {} KiB; peak growth \
                 {} KiB)",
                pinned / 1024,
                allowed() / 1024,
                grown / 1024
            );
        });
    });
}
