//! Go-semantics conformance: `select`, through the public facade (`goro::select!`,
//! `goro::chan::Select`, `goro::time`).
//!
//! Modelled on what Go's `runtime/chan_test.go` checks about select (TestSelectFairness,
//! TestPseudoRandomSend, TestNonblockSelectRace, TestSelectStress) and on the Go spec's rules
//! for select, written for goro's API; not copies. Fairness is checked with a chi-squared
//! statistic against a bound far out in the tail, so the tests do not flake.

#[path = "../runtime/tests/common/mod.rs"]
mod common;
#[path = "../chan/tests/support/mod.rs"]
mod support;

use common::watchdog;
use goro::chan::{self, Chan, Select, Selected};
use goro::runtime::WaitReason;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use support::{assert_uniform, panic_message};

// Go's TestSelectFairness: two always-ready receives and two never-ready ones in one select;
// the ready ones are chosen about equally often (and the others never).
#[test]
fn select_chooses_fairly_between_ready_receives() {
    watchdog(30, || {
        const TRIALS: usize = 10_000;
        let c1 = chan::make::<u8>(TRIALS + 1);
        let c2 = chan::make::<u8>(TRIALS + 1);
        for _ in 0..TRIALS + 1 {
            c1.send(1);
            c2.send(2);
        }
        let c3 = chan::make::<u8>(0);
        let c4 = chan::make::<u8>(0);
        let counts = goro::spawn(move || {
            let mut counts = [0usize; 2];
            for _ in 0..TRIALS {
                let b = goro::select! {
                    b = <-c3 => b,
                    b = <-c4 => b,
                    b = <-c1 => b,
                    b = <-c2 => b,
                };
                counts[usize::from(b.expect("open channel")) - 1] += 1;
            }
            counts
        })
        .join()
        .unwrap();
        assert_uniform(&counts);
    });
}

// Go's TestPseudoRandomSend: `select { case c <- 0: case c <- 1: }` sends each value about
// half the time, on an unbuffered and on a buffered channel.
#[test]
fn select_chooses_fairly_between_ready_sends() {
    watchdog(30, || {
        const N: usize = 2000;
        for cap in [0, N] {
            let c = chan::make::<usize>(cap);
            let rx = c.clone();
            let receiver = goro::spawn(move || {
                let mut counts = [0usize; 2];
                for _ in 0..N {
                    counts[rx.recv().unwrap()] += 1;
                }
                counts
            });
            for _ in 0..N {
                goro::select! {
                    c <- 0 => {},
                    c <- 1 => {},
                }
            }
            let counts = receiver.join().unwrap();
            assert_uniform(&counts);
        }
    });
}

// Go spec: a receive from a closed channel can always proceed, so a closed channel is one
// more ready case, chosen as often as the others.
#[test]
fn a_closed_channel_is_a_ready_case_like_any_other() {
    const N: usize = 6000;
    let closed = chan::make::<u32>(0);
    closed.close();
    let ready = chan::make::<u32>(N);
    for _ in 0..N {
        ready.send(1);
    }
    let mut counts = [0usize; 2];
    for _ in 0..N {
        goro::select! {
            v = <-closed => { assert_eq!(v, None); counts[0] += 1 },
            v = <-ready => { assert_eq!(v, Some(1)); counts[1] += 1 },
        }
    }
    assert_uniform(&counts);
}

// Go spec: with a default case, select never blocks when no other case can proceed: empty
// or unbuffered channels with no partner, full buffers, nil channels.
#[test]
fn select_with_default_never_blocks() {
    watchdog(30, || {
        let empty = chan::make::<u32>(4);
        let unbuffered = chan::make::<u32>(0);
        let full = chan::make::<u32>(1);
        full.send(0);
        let nil: Option<Chan<u32>> = None;
        for i in 0..10_000 {
            let took_default = goro::select! {
                <-empty => false,
                <-unbuffered => false,
                full <- i => false,
                unbuffered <- i => false,
                <-nil => false,
                nil <- i => false,
                default => true,
            };
            assert!(took_default, "iteration {i}");
        }
        assert_eq!((empty.len(), full.len()), (0, 1));
    });
}

// Go spec: default runs only if no other case is ready — a ready case always wins.
#[test]
fn default_is_not_taken_when_a_case_is_ready() {
    let ch = chan::make::<u32>(1);
    let never = chan::make::<u32>(0);
    for i in 0..1000 {
        ch.send(i);
        let got = goro::select! {
            <-never => unreachable!(),
            v = <-ch => v,
            default => None,
        };
        assert_eq!(got, Some(i));
    }
}

// Go's `case <-time.After(d)`: with nothing ready, the timeout fires after about d (and
// not before). Both goro spellings: the `timeout(d)` arm and a time::after channel.
#[test]
fn timeout_fires_when_nothing_is_ready() {
    watchdog(30, || {
        let never = chan::make::<u32>(0);
        let d = Duration::from_millis(20);

        let start = Instant::now();
        let timed_out = goro::select! {
            <-never => false,
            timeout(d) => true,
        };
        let took = start.elapsed();
        assert!(timed_out);
        assert!(took >= d && took < Duration::from_secs(2), "took {took:?}");

        let start = Instant::now();
        let fired = goro::select! {
            <-never => None,
            t = <-goro::time::after(d) => t,
        };
        let took = start.elapsed();
        assert!(
            fired.is_some_and(|t| t >= start + d),
            "time.After sends the time"
        );
        assert!(took >= d && took < Duration::from_secs(2), "took {took:?}");
    });
}

// A case that becomes ready before the timeout wins over it, in a goroutine.
#[test]
fn a_case_ready_before_the_timeout_wins() {
    watchdog(30, || {
        let ch = chan::make::<&str>(0);
        let tx = ch.clone();
        let timer = goro::time::Timer::new(Duration::from_secs(10));
        let (selecting, watched) = common::spawn_watched(move || {
            goro::select! {
                v = <-ch => v,
                <-timer.c() => None,
            }
        });
        goro::go!(move || {
            watched.wait_parked(WaitReason::Select); // the select waits first
            tx.send("in time");
        });
        let got = selecting.join().unwrap();
        assert_eq!(got, Some("in time"));
    });
}

// Go spec: a nil channel's case is never chosen, even beside a ready one, for a receive and
// for a send; with only nil cases and a timeout, the timeout fires.
#[test]
fn nil_channel_cases_are_never_chosen() {
    watchdog(30, || {
        let ready = chan::make::<u32>(1);
        let nil: Option<Chan<u32>> = None;
        for i in 0..1000 {
            ready.send(i);
            let got = goro::select! {
                <-nil => unreachable!("nil receive chosen"),
                nil <- 0 => unreachable!("nil send chosen"),
                v = <-ready => v,
            };
            assert_eq!(got, Some(i));
        }
        let timed_out = goro::select! {
            <-nil => false,
            nil <- 1 => false,
            timeout(Duration::from_millis(10)) => true,
        };
        assert!(timed_out);
    });
}

// The Go idiom: merge two channels in a for-select, setting each to nil once it is closed,
// until both are nil.
#[test]
fn merge_loop_disables_closed_channels_by_setting_them_to_nil() {
    watchdog(30, || {
        let a = chan::make::<u32>(0);
        let b = chan::make::<u32>(3);
        for (ch, base) in [(a.clone(), 0), (b.clone(), 100)] {
            goro::go!(move || {
                for i in 0..50 {
                    ch.send(base + i);
                }
                ch.close();
            });
        }
        let (mut a, mut b) = (Some(a), Some(b));
        let mut got = Vec::new();
        while a.is_some() || b.is_some() {
            goro::select! {
                v = <-a => match v { Some(v) => got.push(v), None => a = None },
                v = <-b => match v { Some(v) => got.push(v), None => b = None },
            }
        }
        got.sort();
        let want: Vec<u32> = (0..50).chain(100..150).collect();
        assert_eq!(got, want);
    });
}

// A goroutine blocked in select wakes for the one case that becomes ready: a send on one
// channel, or the close of another (a receive case then yields None).
#[test]
fn a_blocked_select_wakes_for_the_case_that_becomes_ready() {
    watchdog(30, || {
        for closing in [false, true] {
            let chans: Vec<Chan<u32>> = (0..3).map(|_| chan::make(0)).collect();
            let cs = chans.clone();
            let (h, watched) = common::spawn_watched(move || {
                goro::select! {
                    v = <-cs[0] => (0, v),
                    v = <-cs[1] => (1, v),
                    v = <-cs[2] => (2, v),
                }
            });
            common::wait_until(|| watched.is_parked(WaitReason::Select) || h.is_finished());
            assert!(!h.is_finished(), "select returned with nothing ready");
            if closing {
                chans[2].close();
                assert_eq!(h.join().unwrap(), (2, None));
            } else {
                chans[1].send(5);
                assert_eq!(h.join().unwrap(), (1, Some(5)));
            }
        }
    });
}

// Go: a send case on a closed channel that is chosen panics "send on closed channel".
#[test]
fn a_send_case_on_a_closed_channel_panics() {
    let ch = chan::make::<u32>(1);
    ch.close();
    let never = chan::make::<u32>(0);
    let r = panic::catch_unwind(AssertUnwindSafe(|| {
        goro::select! {
            ch <- 1 => {},
            <-never => {},
        }
    }));
    assert_eq!(panic_message(&*r.unwrap_err()), "send on closed channel");
}

// Go's TestNonblockSelectRace and TestNonblockSelectRace2: at every instant one of c1, c2 is
// ready (a value moves from c1 to c2, or c2 is closed), so a concurrent non-blocking select
// over both must never take default.
#[test]
fn nonblocking_select_is_atomic_across_its_cases() {
    watchdog(30, || {
        for close_c2 in [false, true] {
            for _ in 0..2000 {
                let c1 = chan::make::<u32>(1);
                let c2 = chan::make::<u32>(1);
                c1.send(1);
                let (d1, d2) = (c1.clone(), c2.clone());
                let h = goro::spawn(move || {
                    goro::select! {
                        <-d1 => true,
                        <-d2 => true,
                        default => false,
                    }
                });
                if close_c2 {
                    c2.close();
                } else {
                    c2.send(1);
                }
                goro::select! {
                    <-c1 => {},
                    default => {},
                }
                assert!(
                    h.join().unwrap(),
                    "no chan is ready (close_c2 = {close_c2})"
                );
            }
        }
    });
}

// Go's TestSelectStress: plain senders and receivers on each of four channels (two
// unbuffered, two buffered), plus one goroutine that sends on all four through one select
// and one that receives from all four through one select, nil-ing each channel out when its
// share is done. Nothing deadlocks and every value is received exactly once.
#[test]
fn select_stress_mixes_plain_and_select_operations() {
    watchdog(30, || {
        const N: u64 = 2000;
        let c: Vec<Chan<u64>> = vec![chan::make(0), chan::make(0), chan::make(2), chan::make(3)];
        let sums: Arc<Vec<AtomicUsize>> = Arc::new((0..4).map(|_| AtomicUsize::new(0)).collect());
        let wg = goro::sync::WaitGroup::new();
        for k in 0..4 {
            let ch = c[k].clone();
            wg.go(move || (0..N).for_each(|i| ch.send(i)));
            let (ch, sums) = (c[k].clone(), sums.clone());
            wg.go(move || {
                for _ in 0..N {
                    sums[k].fetch_add(ch.recv().unwrap() as usize, Ordering::Relaxed);
                }
            });
        }
        let cs = c.clone();
        wg.go(move || {
            let mut chans: Vec<Option<Chan<u64>>> = cs.into_iter().map(Some).collect();
            let mut next = [0u64; 4];
            while chans.iter().any(Option::is_some) {
                let k = goro::select! {
                    chans[0] <- next[0] => 0,
                    chans[1] <- next[1] => 1,
                    chans[2] <- next[2] => 2,
                    chans[3] <- next[3] => 3,
                };
                next[k] += 1;
                if next[k] == N {
                    chans[k] = None;
                }
            }
        });
        let (cs, s) = (c.clone(), sums.clone());
        wg.go(move || {
            let mut chans: Vec<Option<Chan<u64>>> = cs.into_iter().map(Some).collect();
            let mut got = [0u64; 4];
            while chans.iter().any(Option::is_some) {
                let (k, v) = goro::select! {
                    v = <-chans[0] => (0, v),
                    v = <-chans[1] => (1, v),
                    v = <-chans[2] => (2, v),
                    v = <-chans[3] => (3, v),
                };
                s[k].fetch_add(v.unwrap() as usize, Ordering::Relaxed);
                got[k] += 1;
                if got[k] == N {
                    chans[k] = None;
                }
            }
        });
        wg.wait();
        let want = (N * (N - 1)) as usize; // 0..N twice per channel
        for (k, s) in sums.iter().enumerate() {
            assert_eq!(s.load(Ordering::Relaxed), want, "channel {k}");
        }
    });
}

// Go's reflect.Select: a select over a number of cases known only at run time, here
// receiving from every producer until all have closed.
#[test]
fn dynamic_select_over_a_runtime_number_of_channels() {
    watchdog(30, || {
        let producers: Vec<Chan<usize>> = (0..5).map(|_| chan::make(0)).collect();
        for (p, ch) in producers.iter().enumerate() {
            let ch = ch.clone();
            goro::go!(move || {
                for i in 0..=p {
                    ch.send(p * 10 + i);
                }
                ch.close();
            });
        }
        let mut open = producers;
        let mut got = Vec::new();
        while !open.is_empty() {
            let mut sel = Select::new();
            let idx: Vec<usize> = open.iter().map(|ch| sel.recv(ch)).collect();
            let Selected::Case(i) = sel.wait() else {
                unreachable!("no default, no timeout")
            };
            let k = idx.iter().position(|&j| j == i).unwrap();
            match sel.recv_value::<usize>(i) {
                Some(v) => got.push(v),
                None => {
                    drop(sel);
                    open.remove(k);
                }
            }
        }
        got.sort();
        let want: Vec<usize> = (0..5)
            .flat_map(|p| (0..=p).map(move |i| p * 10 + i))
            .collect();
        assert_eq!(got, want);
    });
}

// A select in a loop on a plain OS thread and one in a goroutine talk to each other.
#[test]
fn selects_on_threads_and_goroutines_interoperate() {
    watchdog(30, || {
        let req = chan::make::<u32>(0);
        let quit = chan::make::<()>(0);
        let served = Arc::new(AtomicBool::new(false));
        let (r, q, s) = (req.clone(), quit.clone(), served.clone());
        let server = goro::spawn(move || {
            let mut sum = 0;
            loop {
                goro::select! {
                    v = <-r => sum += v.unwrap(),
                    <-q => break,
                }
            }
            s.store(true, Ordering::SeqCst);
            sum
        });
        let client = std::thread::spawn(move || {
            for i in 1..=100 {
                goro::select! {
                    req <- i => {},
                    timeout(Duration::from_secs(5)) => panic!("server stalled"),
                }
            }
            quit.close();
        });
        client.join().unwrap();
        assert_eq!(server.join().unwrap(), 5050);
        assert!(served.load(Ordering::SeqCst));
    });
}
