//! Stacks give deep pages back: a burst of deep goroutines does not pin memory.
//! (Its own test binary: it reads the process's RSS, which other tests would disturb.)

mod common;
use common::deep::{Rendezvous, go_deep};
use common::{rss_bytes, watchdog};
use std::sync::atomic::Ordering;

#[test]
fn a_burst_of_deep_goroutines_does_not_pin_its_stack_pages() {
    watchdog(60, || {
        const N: usize = 128;
        const DEEP_KIB: usize = 160; // well past the 32 KiB kept resident
        let before = rss_bytes();
        let peak_rv = Rendezvous::new(N + 1);
        // All N are deep at the same time (distinct G records and stacks), then all finish.
        let hs: Vec<_> = (0..N)
            .map(|_| {
                let rv = peak_rv.clone();
                runtime::spawn(move || go_deep(DEEP_KIB, &rv))
            })
            .collect();
        while peak_rv.arrived.load(Ordering::SeqCst) < N {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let peak = rss_bytes();
        peak_rv.arrive();
        for h in hs {
            assert!(h.join().unwrap() > 0);
        }
        let grown = peak.saturating_sub(before);
        assert!(
            grown > N * 100 * 1024,
            "the burst really was deep: grew {} KiB",
            grown / 1024
        );
        // Each dead G may keep its top 32 KiB; the deep 128 KiB below must go back. Not
        // necessarily at the exit itself: a brand-new stack's first look happens when an M
        // runs out of work (or on sysmon's next pass), which here is at once.
        let allowed = N * 40 * 1024 + 8 * 1024 * 1024;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let mut pinned = rss_bytes().saturating_sub(before);
        while pinned >= allowed && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
            pinned = rss_bytes().saturating_sub(before);
        }
        assert!(
            pinned < allowed,
            "after the burst {} KiB stay resident (allowed {} KiB; peak growth {} KiB)",
            pinned / 1024,
            allowed / 1024,
            grown / 1024
        );
    });
}
