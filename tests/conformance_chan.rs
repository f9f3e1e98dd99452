//! Go-semantics conformance: channels, through the public facade (`goro::chan`, `goro::go!`).
//!
//! Each case states the Go rule it checks. The cases are modelled on what Go's
//! `runtime/chan_test.go` (TestChan, TestMultiConsumer, TestNonblockRecvRace) and the Go
//! memory model check, written for goro's API; they are not copies. Every test that can wait
//! runs under the watchdog, which fails it with a goroutine dump instead of hanging.

#[path = "../runtime/tests/common/mod.rs"]
mod common;
#[path = "../chan/tests/support/mod.rs"]
mod support;

use common::{spawn_watched, wait_until, watchdog};
use goro::chan::{self, Chan, Receiver, Sender, TryRecvError, TrySendError};
use goro::runtime::WaitReason;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use support::{panic_message, quiet_expected_panics};

/// The capacities every case runs with: unbuffered, one slot, a few slots.
const CAPS: [usize; 4] = [0, 1, 2, 16];

/// How long the timed operations on a nil channel wait.
const BLOCKED_FOR: Duration = Duration::from_millis(30);

/// Runs `f` on this thread, expecting a panic with exactly `msg`.
fn expect_panic<R>(msg: &str, f: impl FnOnce() -> R) {
    quiet_expected_panics();
    match panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(_) => panic!("expected a panic `{msg}`, but the operation returned"),
        Err(p) => assert_eq!(panic_message(&*p), msg),
    }
}

// Go: "Ensure that receive from empty chan blocks" — and that the send releases it.
#[test]
fn receive_from_an_empty_channel_blocks_until_a_send() {
    watchdog(30, || {
        for cap in CAPS {
            let ch = chan::make::<u32>(cap);
            let got = Arc::new(AtomicBool::new(false));
            let (rx, g) = (ch.clone(), got.clone());
            let (h, blocked) = spawn_watched(move || {
                let v = rx.recv();
                g.store(true, Ordering::SeqCst);
                v
            });
            blocked.wait_parked(WaitReason::ChanReceive);
            assert!(
                !got.load(Ordering::SeqCst),
                "cap {cap}: recv returned on an empty channel"
            );
            ch.send(7);
            assert_eq!(h.join().unwrap(), Some(7), "cap {cap}");
        }
    });
}

// Go: "Ensure that non-blocking receive does not block" (select with default, here try_recv).
#[test]
fn nonblocking_receive_from_an_empty_channel_does_not_block() {
    for cap in CAPS {
        let ch = chan::make::<u32>(cap);
        assert_eq!(ch.try_recv(), Err(TryRecvError::Empty), "cap {cap}");
        let got = goro::select! {
            v = <-ch => Some(v),
            default => None,
        };
        assert_eq!(
            got, None,
            "cap {cap}: select took a receive on an empty channel"
        );
    }
}

// Go: "Ensure that send to full chan blocks" — a send past `cap` waits for a receive.
#[test]
fn send_to_a_full_channel_blocks_until_a_receive() {
    watchdog(30, || {
        for cap in CAPS {
            let ch = chan::make::<usize>(cap);
            for i in 0..cap {
                ch.send(i);
            }
            assert!(ch.try_send(99).is_err_and(|e| e.is_full()), "cap {cap}");
            let sent = Arc::new(AtomicBool::new(false));
            let (tx, s) = (ch.clone(), sent.clone());
            let (h, blocked) = spawn_watched(move || {
                tx.send(cap);
                s.store(true, Ordering::SeqCst);
            });
            blocked.wait_parked(WaitReason::ChanSend);
            assert!(
                !sent.load(Ordering::SeqCst),
                "cap {cap}: send completed on a full channel"
            );
            for i in 0..=cap {
                assert_eq!(ch.recv(), Some(i), "cap {cap}: FIFO");
            }
            h.join().unwrap();
            assert!(sent.load(Ordering::SeqCst));
        }
    });
}

// Go: "Ensure that we receive 0 from closed chan" — here `None`, every time, after the
// buffered values have drained in order.
#[test]
fn closed_channel_drains_its_buffer_then_yields_none_forever() {
    for cap in CAPS {
        let ch = chan::make::<usize>(cap);
        for i in 0..cap {
            ch.send(i);
        }
        ch.close();
        assert!(ch.is_closed());
        for i in 0..cap {
            assert_eq!(
                ch.recv(),
                Some(i),
                "cap {cap}: buffered values survive close"
            );
        }
        for _ in 0..3 {
            assert_eq!(ch.recv(), None, "cap {cap}");
            assert_eq!(ch.try_recv(), Err(TryRecvError::Closed), "cap {cap}");
        }
        assert_eq!(ch.len(), 0);
    }
}

// Go: "Ensure that close unblocks receive" — every blocked receiver, not just one.
#[test]
fn close_wakes_every_blocked_receiver_with_none() {
    watchdog(30, || {
        for cap in CAPS {
            let ch = chan::make::<u32>(cap);
            let waiting = Arc::new(AtomicUsize::new(0));
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    let (rx, w) = (ch.clone(), waiting.clone());
                    goro::spawn(move || {
                        w.fetch_add(1, Ordering::SeqCst);
                        rx.recv()
                    })
                })
                .collect();
            wait_until(|| waiting.load(Ordering::SeqCst) == 8);
            std::thread::sleep(Duration::from_millis(5));
            ch.close();
            for h in handles {
                assert_eq!(h.join().unwrap(), None, "cap {cap}");
            }
        }
    });
}

// Close with buffered values and more receivers than values: the first receivers get the
// values (FIFO), the rest get `None` — none is lost, none blocks.
#[test]
fn close_with_buffered_values_serves_them_before_none() {
    watchdog(30, || {
        let ch = chan::make::<u32>(4);
        for v in [10, 20, 30] {
            ch.send(v);
        }
        ch.close();
        let handles: Vec<_> = (0..6)
            .map(|_| {
                let rx = ch.clone();
                goro::spawn(move || rx.recv())
            })
            .collect();
        let mut got: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        got.sort();
        assert_eq!(got, [None, None, None, Some(10), Some(20), Some(30)]);
    });
}

// Go: "Send 100 integers, ensure that we receive them non-corrupted in FIFO order".
#[test]
fn values_arrive_in_fifo_order_for_every_capacity() {
    watchdog(30, || {
        for cap in CAPS {
            let ch = chan::make::<u32>(cap);
            let tx = ch.clone();
            goro::go!(move || {
                for i in 0..100 {
                    tx.send(i);
                }
            });
            for i in 0..100 {
                assert_eq!(ch.recv(), Some(i), "cap {cap}");
            }
        }
    });
}

// Go: "Send 1000 integers in 4 goroutines, ensure that we receive what we send" — four
// senders and four receivers; every value sent is received exactly once.
#[test]
fn many_senders_and_receivers_receive_each_value_exactly_once() {
    watchdog(30, || {
        const P: usize = 4;
        const L: usize = 1000;
        for cap in CAPS {
            let ch = chan::make::<usize>(cap);
            for _ in 0..P {
                let tx = ch.clone();
                goro::go!(move || {
                    for i in 0..L {
                        tx.send(i);
                    }
                });
            }
            let results = chan::make::<Vec<usize>>(0);
            for _ in 0..P {
                let (rx, out) = (ch.clone(), results.clone());
                goro::go!(move || {
                    let mut seen = vec![0usize; L];
                    for _ in 0..L {
                        seen[rx.recv().expect("never closed")] += 1;
                    }
                    out.send(seen);
                });
            }
            let mut total = vec![0usize; L];
            for _ in 0..P {
                for (t, s) in total.iter_mut().zip(results.recv().unwrap()) {
                    *t += s;
                }
            }
            assert!(
                total.iter().all(|&n| n == P),
                "cap {cap}: some value was lost or duplicated"
            );
            assert_eq!(ch.try_recv(), Err(TryRecvError::Empty));
        }
    });
}

// Go's TestMultiConsumer: workers range over a job channel and forward to a result channel
// (some yield midway); the feeder closes the jobs, a WaitGroup closes the results; the sums
// and counts match.
#[test]
fn multi_consumer_pipeline_loses_nothing() {
    watchdog(30, || {
        const WORKERS: usize = 23;
        const ITEMS: usize = 20_000;
        let primes = [2u64, 3, 7, 11, 13, 17, 19, 23, 27, 31];
        let jobs = chan::make::<u64>(WORKERS * 3);
        let results = chan::make::<u64>(WORKERS * 3);
        let wg = goro::sync::WaitGroup::new();
        for w in 0..WORKERS {
            let (jobs, results) = (jobs.clone(), results.clone());
            wg.go(move || {
                for v in &jobs {
                    if primes[w % primes.len()] == v {
                        goro::gosched();
                    }
                    results.send(v);
                }
            });
        }
        let (r2, wg2) = (results.clone(), wg.clone());
        goro::go!(move || {
            wg2.wait();
            r2.close();
        });
        let feeder = goro::spawn(move || {
            let mut expect = 0;
            for i in 0..ITEMS {
                let v = primes[i % primes.len()];
                expect += v;
                jobs.send(v);
            }
            jobs.close();
            expect
        });
        let (mut n, mut sum) = (0, 0);
        for v in &results {
            n += 1;
            sum += v;
        }
        assert_eq!(n, ITEMS);
        assert_eq!(sum, feeder.join().unwrap());
    });
}

// Go: len(ch) is the number of queued values, cap(ch) the buffer size; both 0 for an
// unbuffered or nil channel.
#[test]
fn len_and_cap() {
    for cap in CAPS {
        let ch = chan::make::<usize>(cap);
        assert_eq!((ch.len(), ch.cap()), (0, cap));
        for i in 0..cap {
            ch.send(i);
            assert_eq!((ch.len(), ch.cap()), (i + 1, cap));
        }
        ch.close();
        assert_eq!(ch.len(), cap, "close keeps the buffered values");
        while ch.recv().is_some() {}
        assert_eq!((ch.len(), ch.cap()), (0, cap));
    }
    let nil = Chan::<u8>::nil();
    assert_eq!((nil.len(), nil.cap()), (0, 0));
}

// Go: on an unbuffered channel a send completes only when a receiver takes the value (a
// rendezvous), and the receive is synchronized before the send completes (memory model).
#[test]
fn unbuffered_send_is_a_rendezvous() {
    watchdog(30, || {
        let ch = chan::make::<u32>(0);
        let sent = Arc::new(AtomicBool::new(false));
        let (tx, s) = (ch.clone(), sent.clone());
        let (h, blocked) = spawn_watched(move || {
            tx.send(1);
            s.store(true, Ordering::SeqCst);
        });
        blocked.wait_parked(WaitReason::ChanSend);
        assert!(
            !sent.load(Ordering::SeqCst),
            "unbuffered send completed with no receiver"
        );
        assert_eq!(ch.recv(), Some(1));
        h.join().unwrap();

        // The memory model's example: `a = "hello"; <-c` in one goroutine, `c <- 0;
        // print(a)` in the other prints "hello".
        for _ in 0..100 {
            let c = chan::make::<()>(0);
            let a = Arc::new(AtomicUsize::new(0));
            let (c2, a2) = (c.clone(), a.clone());
            goro::go!(move || {
                a2.store(42, Ordering::Relaxed);
                c2.recv();
            });
            c.send(());
            assert_eq!(a.load(Ordering::Relaxed), 42);
        }
    });
}

// Go memory model: "the kth receive on a channel with capacity C is synchronized before the
// completion of the k+Cth send" — so a buffered channel is a counting semaphore.
#[test]
fn buffered_channel_as_a_counting_semaphore_limits_concurrency() {
    watchdog(30, || {
        const LIMIT: usize = 3;
        let limit = chan::make::<()>(LIMIT);
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let wg = goro::sync::WaitGroup::new();
        for _ in 0..24 {
            let (limit, running, peak) = (limit.clone(), running.clone(), peak.clone());
            wg.go(move || {
                limit.send(());
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                goro::runtime::sleep(Duration::from_millis(1));
                running.fetch_sub(1, Ordering::SeqCst);
                limit.recv();
            });
        }
        wg.wait();
        let peak = peak.load(Ordering::SeqCst);
        assert!(
            (1..=LIMIT).contains(&peak),
            "peak concurrency {peak} > {LIMIT}"
        );
    });
}

// Go: `ch <- v` on a closed channel panics with "send on closed channel", buffered or not,
// even when there is room; try_send reports Closed and hands the value back.
#[test]
fn send_on_a_closed_channel_panics() {
    for cap in CAPS {
        let ch = chan::make::<String>(cap);
        ch.close();
        expect_panic("send on closed channel", || ch.send("x".to_string()));
        match ch.try_send("y".to_string()) {
            Err(TrySendError::Closed(v)) => assert_eq!(v, "y"),
            other => panic!("cap {cap}: try_send on closed: {other:?}"),
        }
    }
}

// Go: a sender blocked on a channel that is then closed panics too.
#[test]
fn a_blocked_sender_panics_when_the_channel_is_closed() {
    watchdog(30, || {
        for cap in [0, 1] {
            let ch = chan::make::<u32>(cap);
            for i in 0..cap {
                ch.send(i as u32);
            }
            let tx = ch.clone();
            quiet_expected_panics();
            let (h, blocked) = spawn_watched(move || {
                panic::catch_unwind(AssertUnwindSafe(|| tx.send(9))).map_err(|p| panic_message(&*p))
            });
            blocked.wait_parked(WaitReason::ChanSend);
            ch.close();
            assert_eq!(
                h.join().unwrap(),
                Err("send on closed channel".to_string()),
                "cap {cap}"
            );
        }
    });
}

// Go: close(ch) twice panics "close of closed channel"; close(nil) panics "close of nil
// channel" — also through a send-only view.
#[test]
fn close_of_closed_or_nil_channel_panics() {
    for cap in CAPS {
        let ch = chan::make::<u8>(cap);
        ch.close();
        expect_panic("close of closed channel", || ch.close());
        expect_panic("close of closed channel", || ch.sender().close());
    }
    expect_panic("close of nil channel", || Chan::<u8>::nil().close());
    expect_panic("close of nil channel", || Sender::<u8>::nil().close());
}

// Go: a nil channel is never ready: send and receive block forever (here shown with the
// timed forms, so no goroutine is left behind), non-blocking operations fail.
#[test]
fn nil_channel_is_never_ready() {
    watchdog(30, || {
        let nil = Chan::<u32>::nil();
        assert!(nil.is_nil());
        assert_eq!(nil.try_recv(), Err(TryRecvError::Empty));
        assert!(nil.try_send(1).is_err_and(|e| e.is_full()));
        assert!(nil.recv_timeout(BLOCKED_FOR).is_err());
        assert_eq!(nil.send_timeout(5, BLOCKED_FOR).unwrap_err().0, 5);
        assert!(Receiver::<u32>::nil().recv_timeout(BLOCKED_FOR).is_err());
        // A goroutine blocked on a nil channel stays blocked.
        let done = Arc::new(AtomicBool::new(false));
        let d = done.clone();
        let (_h, blocked) = spawn_watched(move || {
            Chan::<u32>::nil().recv();
            d.store(true, Ordering::SeqCst);
        });
        blocked.wait_parked(WaitReason::ChanReceiveNil);
        assert!(!done.load(Ordering::SeqCst));
    });
}

// Go: `for v := range ch` receives until the channel is closed and drained.
#[test]
fn range_ends_when_the_sender_closes() {
    watchdog(30, || {
        for cap in CAPS {
            let ch = chan::make::<u32>(cap);
            let tx = ch.sender();
            goro::go!(move || {
                for i in 0..50 {
                    tx.send(i);
                }
                tx.close();
            });
            let got: Vec<u32> = ch.receiver().iter().collect();
            assert_eq!(got, (0..50).collect::<Vec<_>>(), "cap {cap}");
        }
    });
}

// Go: `chan<- T` and `<-chan T` are views of one channel; a bidirectional channel converts
// to either; channel values compare equal when they are the same channel.
#[test]
fn direction_views_share_one_channel() {
    watchdog(30, || {
        fn produce(out: Sender<u32>) {
            for i in 1..=3 {
                out.send(i);
            }
            out.close();
        }
        fn consume(input: Receiver<u32>) -> u32 {
            input.iter().sum()
        }
        let ch = chan::make::<u32>(0);
        let other = chan::make::<u32>(0);
        assert_eq!(ch, ch.clone());
        assert_ne!(ch, other);
        let tx: Sender<u32> = ch.clone().into();
        let rx: Receiver<u32> = ch.clone().into();
        goro::go!(move || produce(tx));
        assert_eq!(consume(rx), 6);
        assert!(ch.is_closed());
    });
}

// Go's TestNonblockRecvRace: a buffered value must be seen by a non-blocking receive even
// while the channel is being closed concurrently.
#[test]
fn nonblocking_receive_sees_a_buffered_value_while_close_races() {
    watchdog(30, || {
        for _ in 0..2000 {
            let c = chan::make::<u32>(1);
            c.send(1);
            let c2 = c.clone();
            let h = goro::spawn(move || {
                goro::select! {
                    <-c2 => true,
                    default => false,
                }
            });
            c.close();
            c.recv();
            assert!(h.join().unwrap(), "chan is not ready");
        }
    });
}

// A channel works between goroutines and plain OS threads alike (goro's extension of Go's
// model): a thread receiving from a goroutine and sending back to it.
#[test]
fn threads_and_goroutines_share_channels() {
    watchdog(30, || {
        let ping = chan::make::<u32>(0);
        let pong = chan::make::<u32>(0);
        let (pi, po) = (ping.clone(), pong.clone());
        goro::go!(move || {
            while let Some(v) = pi.recv() {
                po.send(v + 1);
            }
            po.close();
        });
        let t = std::thread::spawn(move || {
            let mut v = 0;
            for _ in 0..1000 {
                ping.send(v);
                v = pong.recv().unwrap();
            }
            ping.close();
            assert_eq!(pong.recv(), None);
            v
        });
        assert_eq!(t.join().unwrap(), 1000);
    });
}
