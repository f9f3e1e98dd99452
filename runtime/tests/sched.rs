//! Scheduling: work stealing and yielding. Runs with 2 Ps whatever the machine.

mod common;
use common::watchdog;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn two_procs() {
    // Tests in this binary share one runtime; the first to get here sets it up.
    let _ = runtime::Builder::new().gomaxprocs(2).init();
    runtime::gomaxprocs(2);
}

#[test]
fn work_spawned_on_one_p_is_stolen_and_runs_on_both() {
    two_procs();
    watchdog(60, || {
        let threads = Arc::new(Mutex::new(HashSet::new()));
        let t2 = threads.clone();
        runtime::block_on(move || {
            // All spawned from this one goroutine, so they start in its P's queue.
            let hs: Vec<_> = (0..64)
                .map(|_| {
                    let t = t2.clone();
                    runtime::spawn(move || {
                        let until = Instant::now() + Duration::from_millis(2);
                        while Instant::now() < until {
                            std::hint::spin_loop();
                        }
                        t.lock().unwrap().insert(std::thread::current().id());
                    })
                })
                .collect();
            for h in hs {
                h.join().unwrap();
            }
        });
        let n = threads.lock().unwrap().len();
        assert!(
            n >= 2,
            "goroutines ran on {n} thread(s); expected stealing onto both Ps"
        );
    });
}
