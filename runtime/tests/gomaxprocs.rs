//! Changing the number of Ps at run time, under load.

mod common;
use common::watchdog;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

#[test]
fn gomaxprocs_changes_under_load_without_losing_goroutines() {
    let _ = runtime::Builder::new().gomaxprocs(2).init();
    watchdog(120, || {
        assert_eq!(runtime::gomaxprocs(0), 2);
        let stop = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicUsize::new(0));
        // Load: goroutines that spawn, sleep, yield and finish, continuously.
        let loaders: Vec<_> = (0..4)
            .map(|_| {
                let (stop, done) = (stop.clone(), done.clone());
                std::thread::spawn(move || {
                    while !stop.load(Ordering::SeqCst) {
                        let hs: Vec<_> = (0..200)
                            .map(|i| {
                                let done = done.clone();
                                runtime::spawn(move || {
                                    if i % 3 == 0 {
                                        runtime::sleep(Duration::from_micros(200));
                                    } else {
                                        runtime::gosched();
                                    }
                                    done.fetch_add(1, Ordering::Relaxed);
                                })
                            })
                            .collect();
                        for h in hs {
                            h.join().unwrap();
                        }
                    }
                })
            })
            .collect();
        for n in [1, 4, 2, 1, 3, 8, 2] {
            let before = done.load(Ordering::Relaxed);
            let old = runtime::gomaxprocs(n);
            assert!(old >= 1);
            assert_eq!(runtime::gomaxprocs(0), n);
            std::thread::sleep(Duration::from_millis(50));
            assert!(
                done.load(Ordering::Relaxed) > before,
                "goroutines keep finishing with gomaxprocs={n}"
            );
        }
        stop.store(true, Ordering::SeqCst);
        for l in loaders {
            l.join().unwrap();
        }
        // Timers survive a P's retirement: sleepers on retired Ps still wake.
        runtime::gomaxprocs(4);
        let hs: Vec<_> = (0..100)
            .map(|_| runtime::spawn(|| runtime::sleep(Duration::from_millis(30))))
            .collect();
        runtime::gomaxprocs(1);
        for h in hs {
            h.join().unwrap();
        }
        runtime::gomaxprocs(2);
    });
}
