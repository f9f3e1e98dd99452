//! sysmon, `runtime::syscall`, `lock_os_thread` and the scheduler's statistics, on two Ps.

#[path = "../runtime/tests/common/mod.rs"]
mod common;

use common::{wait_until, watchdog};
use goro::{chan, runtime};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Serializes the tests that measure (they share the two Ps).
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn two_procs() -> std::sync::MutexGuard<'static, ()> {
    let guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let _ = runtime::Builder::new().gomaxprocs(2).init();
    assert_eq!(runtime::gomaxprocs(0), 2);
    guard
}

fn gettid() -> i64 {
    // SAFETY: gettid takes no arguments and cannot fail.
    unsafe { libc::syscall(libc::SYS_gettid) }
}

/// Round trips of a goroutine pair for `d`; returns the longest gap between two round trips.
fn ping_pong_max_gap(d: Duration) -> (Duration, usize) {
    let ping = chan::make::<u32>(0);
    let pong = chan::make::<u32>(0);
    let (pi, po) = (ping.clone(), pong.clone());
    let h = runtime::spawn(move || {
        for v in pi.receiver() {
            po.send(v);
        }
    });
    let start = Instant::now();
    let mut last = start;
    let (mut max_gap, mut rounds) = (Duration::ZERO, 0);
    while start.elapsed() < d {
        ping.send(1);
        pong.recv().unwrap();
        let now = Instant::now();
        max_gap = max_gap.max(now - last);
        last = now;
        rounds += 1;
    }
    ping.close();
    h.join().unwrap();
    (max_gap, rounds)
}

#[test]
fn blocking_calls_do_not_stall_a_ping_pong_pair() {
    let _serial = two_procs();
    watchdog(60, || {
        let (gap, rounds) = runtime::block_on(|| {
            // Warm up, so the pair is running before the blockers arrive.
            ping_pong_max_gap(Duration::from_millis(20));
            let done = Arc::new(AtomicUsize::new(0));
            for i in 0..16 {
                let done = done.clone();
                runtime::go(move || {
                    if i % 2 == 0 {
                        // Unmarked: sysmon treats it as a hog after 10 ms.
                        std::thread::sleep(Duration::from_millis(50));
                    } else {
                        runtime::syscall(|| std::thread::sleep(Duration::from_millis(50)));
                    }
                    done.fetch_add(1, Ordering::SeqCst);
                });
            }
            let r = ping_pong_max_gap(Duration::from_millis(300));
            while done.load(Ordering::SeqCst) < 16 {
                runtime::sleep(Duration::from_millis(5));
            }
            r
        });
        eprintln!("ping-pong beside 16 blocking goroutines: {rounds} rounds, longest gap {gap:?}");
        // Without handoff the pair would wait out whole 50 ms calls, several in a row; with
        // it, a gap is at most one retake period (10 ms + sysmon's sleep).
        assert!(gap < Duration::from_millis(40), "longest gap {gap:?}");
    });
}

/// A goroutine blocked in a call nobody marked (`std::thread::sleep` here; a blocking read or
/// a C library alike) loses its P as soon as sysmon sees its thread blocked in the kernel,
/// not after the 10 ms hog rule: 128 such goroutines on 2 Ps all get to start before the
/// first of their 500 ms sleeps ends. With only the hog rule, starting them all takes
/// 128 / 2 x 10 ms = 640 ms, so the first sleepers wake before the last ones start.
#[test]
fn goroutines_blocked_in_unmarked_calls_hand_their_p_on_at_once() {
    let _serial = two_procs();
    watchdog(60, || {
        const N: usize = 128;
        let (started, woke) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let woke_when_all_started = Arc::new(AtomicUsize::new(usize::MAX));
        let t = Instant::now();
        let at = woke_when_all_started.clone();
        let last_start = runtime::block_on(move || {
            let hs: Vec<_> = (0..N)
                .map(|_| {
                    let (started, woke, at) = (started.clone(), woke.clone(), at.clone());
                    runtime::spawn(move || {
                        let me = Instant::now();
                        if started.fetch_add(1, Ordering::SeqCst) + 1 == N {
                            at.store(woke.load(Ordering::SeqCst), Ordering::SeqCst);
                        }
                        std::thread::sleep(Duration::from_millis(500)); // unmarked
                        woke.fetch_add(1, Ordering::SeqCst);
                        me
                    })
                })
                .collect();
            let mut last_start = t;
            for h in hs {
                last_start = last_start.max(h.join().unwrap());
            }
            last_start
        });
        let woken = woke_when_all_started.load(Ordering::SeqCst);
        eprintln!(
            "{N} unmarked 500 ms sleeps on 2 Ps: the last started {:?} after the spawns, \
             while {woken} had woken",
            last_start - t
        );
        assert_eq!(
            woken, 0,
            "{woken} sleepers had already woken when the last one started: their Ps were \
             not handed on while they slept"
        );
    });
}

#[test]
fn two_hogs_do_not_stop_a_sleeper() {
    let _serial = two_procs();
    watchdog(60, || {
        let stop = Arc::new(AtomicBool::new(false));
        let s2 = stop.clone();
        let worst = runtime::block_on(move || {
            let hogs: Vec<_> = (0..2)
                .map(|_| {
                    let stop = s2.clone();
                    runtime::spawn(move || {
                        let mut x = 1u64;
                        while !stop.load(Ordering::Relaxed) {
                            x = x.wrapping_mul(31).wrapping_add(7);
                        }
                        std::hint::black_box(x);
                    })
                })
                .collect();
            let mut worst = Duration::ZERO;
            for _ in 0..20 {
                let t = Instant::now();
                runtime::sleep(Duration::from_millis(1));
                worst = worst.max(t.elapsed());
            }
            s2.store(true, Ordering::Relaxed);
            for h in hogs {
                h.join().unwrap();
            }
            worst
        });
        assert!(stop.load(Ordering::Relaxed));
        eprintln!("worst sleep(1ms) beside two hogs: {worst:?}");
        assert!(worst < Duration::from_millis(100), "worst wake {worst:?}");
    });
}

#[test]
fn idle_threads_fall_back_after_a_burst_of_blocking_calls() {
    let _serial = two_procs();
    watchdog(120, || {
        let peak = runtime::block_on(|| {
            let done = Arc::new(AtomicUsize::new(0));
            for _ in 0..1000 {
                let done = done.clone();
                runtime::go(move || {
                    runtime::syscall(|| std::thread::sleep(Duration::from_millis(5)));
                    done.fetch_add(1, Ordering::SeqCst);
                });
            }
            let mut peak = 0;
            while done.load(Ordering::SeqCst) < 1000 {
                peak = peak.max(runtime::sched_stats().threads);
                runtime::sleep(Duration::from_millis(1));
            }
            peak
        });
        eprintln!("threads at the burst's peak: {peak}");
        // Ms were made on demand for the blocked calls...
        assert!(peak > 10, "peak {peak} threads");
        // ...and the idle ones go away again (an idle surplus M exits after 1 s).
        wait_until(|| runtime::sched_stats().idle_threads <= 2);
        let after = runtime::sched_stats();
        eprintln!("after the burst: {after:?}");
        assert!(after.threads < peak);
    });
}

#[test]
fn syscall_returns_values_and_panics_after_taking_a_p_back() {
    let _serial = two_procs();
    watchdog(60, || {
        // From a plain thread: just a call.
        assert_eq!(runtime::syscall(|| 5), 5);
        runtime::block_on(|| {
            assert_eq!(runtime::syscall(|| runtime::syscall(|| 6)), 6);
            let r = std::panic::catch_unwind(|| {
                runtime::syscall(|| -> () {
                    std::thread::sleep(Duration::from_millis(2));
                    panic!("inside the call")
                })
            });
            assert!(r.is_err());
            // The goroutine still schedules normally: spawning and joining work.
            assert_eq!(runtime::spawn(|| 8).join().unwrap(), 8);
            // Readying a goroutine from inside a syscall (no P there) works too.
            let ch = chan::make::<u32>(1);
            let c2 = ch.clone();
            let h = runtime::spawn(move || c2.recv());
            runtime::syscall(|| ch.send(9));
            assert_eq!(h.join().unwrap(), Some(9));
            // And parking inside one.
            let ch = chan::make::<u32>(0);
            let c2 = ch.clone();
            runtime::go(move || {
                runtime::sleep(Duration::from_millis(2));
                c2.send(10);
            });
            assert_eq!(runtime::syscall(|| ch.recv()), Some(10));
        });
    });
}

#[test]
fn a_locked_goroutine_keeps_its_thread_and_the_thread_runs_nothing_else() {
    let _serial = two_procs();
    watchdog(60, || {
        let seen_elsewhere = Arc::new(std::sync::Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        // True exactly while the goroutine below is locked (set after the lock, cleared
        // before the unlock).
        let active = Arc::new(AtomicBool::new(false));
        let (seen2, stop2, active2) = (seen_elsewhere.clone(), stop.clone(), active.clone());
        let (tid, tids) = runtime::block_on(move || {
            // Other goroutines churning on every thread, recording where they run.
            let churn: Vec<_> = (0..4)
                .map(|_| {
                    let (seen, stop, active) = (seen2.clone(), stop2.clone(), active2.clone());
                    runtime::spawn(move || {
                        while !stop.load(Ordering::Relaxed) {
                            if active.load(Ordering::SeqCst) {
                                seen.lock().unwrap().push(gettid());
                            }
                            runtime::sleep(Duration::from_micros(200));
                        }
                    })
                })
                .collect();
            let locked = runtime::spawn(move || {
                runtime::lock_os_thread();
                assert!(runtime::is_os_thread_locked());
                assert!(runtime::stack_dump().contains("[running on M"));
                assert!(runtime::stack_dump().contains(", locked to thread]"));
                active2.store(true, Ordering::SeqCst);
                let tid = gettid();
                let mut tids = Vec::new();
                let ch = chan::make::<u32>(0);
                for i in 0..50 {
                    match i % 3 {
                        0 => runtime::sleep(Duration::from_micros(300)),
                        1 => runtime::gosched(),
                        _ => {
                            let c2 = ch.clone();
                            runtime::go(move || c2.send(1));
                            ch.recv();
                        }
                    }
                    tids.push(gettid());
                }
                active2.store(false, Ordering::SeqCst);
                runtime::unlock_os_thread();
                assert!(!runtime::is_os_thread_locked());
                (tid, tids)
            });
            let r = locked.join().unwrap();
            stop2.store(true, Ordering::Relaxed);
            for h in churn {
                h.join().unwrap();
            }
            r
        });
        assert!(
            tids.iter().all(|&t| t == tid),
            "moved threads: {tid} vs {tids:?}"
        );
        // The locked thread ran no other goroutine while the lock was held.
        let seen = seen_elsewhere.lock().unwrap();
        assert!(!seen.is_empty());
        assert!(!seen.contains(&tid), "a churner ran on the locked thread");
    });
}

#[test]
fn a_goroutine_ending_while_locked_takes_its_thread_along() {
    let _serial = two_procs();
    watchdog(60, || {
        let tid = runtime::block_on(|| {
            runtime::spawn(|| {
                runtime::lock_os_thread();
                gettid()
            })
            .join()
            .unwrap()
        });
        // The thread exits: its /proc entry goes away.
        wait_until(|| !std::path::Path::new(&format!("/proc/self/task/{tid}")).exists());
        // And everything still runs.
        assert_eq!(
            runtime::block_on(|| runtime::spawn(|| 3).join().unwrap()),
            3
        );
    });
}

#[test]
fn sched_stats_add_up() {
    let _serial = two_procs();
    let s = runtime::block_on(runtime::sched_stats);
    assert_eq!(s.gomaxprocs, 2);
    assert_eq!(s.local_runqueues.len(), 2);
    assert!(s.idle_procs <= 1, "{s:?}"); // the caller's P is busy
    assert!(s.threads >= 2, "{s:?}"); // an M and sysmon
}

#[test]
fn goroutines_that_lose_their_p_keep_working() {
    let _serial = two_procs();
    watchdog(60, || {
        let before = runtime::num_goroutine();
        let total = runtime::block_on(|| {
            let hs: Vec<_> = (0..4u64)
                .map(|id| {
                    runtime::spawn(move || {
                        let ch = chan::make::<u64>(0);
                        let mut sum = 0;
                        for round in 0..5u64 {
                            // Long enough for sysmon to take the P from under us...
                            let t = Instant::now();
                            while t.elapsed() < Duration::from_millis(20) {
                                std::hint::spin_loop();
                            }
                            // ...then spawn, ready, yield and park on an M that may have no P.
                            let c2 = ch.clone();
                            runtime::go(move || c2.send(id * 100 + round));
                            if round % 2 == 0 {
                                runtime::gosched();
                            }
                            sum += ch.recv().unwrap();
                            let inner = runtime::spawn(move || round).join().unwrap();
                            sum += inner;
                        }
                        sum
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
        });
        // Each goroutine: sum of id*100+round plus sum of round, rounds 0..5.
        let want: u64 = (0..4u64).map(|id| 5 * id * 100 + 10 + 10).sum();
        assert_eq!(total, want);
        wait_until(|| runtime::num_goroutine() <= before);
    });
}

#[test]
fn a_panic_in_a_syscall_unwinds_on_one_thread_even_when_its_p_was_taken() {
    let _serial = two_procs();
    watchdog(60, || {
        runtime::block_on(|| {
            // Keep both Ps busy (goroutines that yield, so sysmon has no hog to act on) so
            // that the P sysmon takes from the call is not free when the unwind passes
            // exitsyscall.
            let stop = Arc::new(AtomicBool::new(false));
            let hogs: Vec<_> = (0..4)
                .map(|_| {
                    let stop = stop.clone();
                    runtime::spawn(move || {
                        while !stop.load(Ordering::Relaxed) {
                            runtime::gosched();
                        }
                    })
                })
                .collect();
            let r = std::panic::catch_unwind(|| {
                let before = gettid();
                let r = std::panic::catch_unwind(|| {
                    runtime::syscall(|| -> () {
                        std::thread::sleep(Duration::from_millis(30));
                        panic!("inside a long call");
                    })
                });
                // Same thread at both ends of the unwind, and the thread's panic count is
                // back to zero.
                (r.is_err(), before == gettid(), std::thread::panicking())
            });
            stop.store(true, Ordering::Relaxed);
            for h in hogs {
                h.join().unwrap();
            }
            let (panicked, same_thread, still_panicking) = r.unwrap();
            assert!(panicked && same_thread && !still_panicking);
            // No goroutine inherits a panic count from the unwind.
            let hs: Vec<_> = (0..200)
                .map(|_| runtime::spawn(std::thread::panicking))
                .collect();
            assert!(hs.into_iter().all(|h| !h.join().unwrap()));
        });
    });
}
