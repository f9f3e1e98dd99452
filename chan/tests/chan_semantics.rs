//! Channel semantics, written from the behaviour Go specifies for `chan` (in the spirit of
//! Go's runtime/chan_test.go, not a copy of it): close, non-blocking operations, nil
//! channels, rendezvous, exactly-once delivery under contention, per-sender FIFO, and
//! channels shared between goroutines and plain OS threads.
//!
//! Every test that can wait runs under [`common::watchdog`], which fails it with a goroutine
//! dump instead of hanging.

#[path = "../../runtime/tests/common/mod.rs"]
mod common;
mod support;

use chan::{Chan, RecvTimeoutError, SendTimeoutError, TryRecvError, TrySendError};
use common::{Watched, spawn_watched, thread_watched, wait_until, watchdog};
use runtime::WaitReason;
use std::collections::HashSet;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::{Counted, expect_panic, panic_message, quiet_expected_panics};

// ---- helpers -----------------------------------------------------------------------------

/// Where a participant runs.
#[derive(Clone, Copy, Debug)]
enum On {
    Goroutine,
    Thread,
}

/// A running participant: a goroutine or an OS thread, joined the same way, and watched so a
/// test can wait for it to block.
struct Handle<T> {
    inner: Inner<T>,
    watched: Watched,
}

enum Inner<T> {
    G(runtime::JoinHandle<T>),
    T(std::thread::JoinHandle<T>),
}

impl<T: Send + 'static> Handle<T> {
    fn start(on: On, f: impl FnOnce() -> T + Send + 'static) -> Handle<T> {
        let (inner, watched) = match on {
            On::Goroutine => {
                let (h, w) = spawn_watched(f);
                (Inner::G(h), w)
            }
            On::Thread => {
                let (h, w) = thread_watched(f);
                (Inner::T(h), w)
            }
        };
        Handle { inner, watched }
    }

    /// Waits until it has blocked (a goroutine with `reason`; a thread in any goro wait).
    fn wait_parked(&self, reason: WaitReason) {
        self.watched.wait_parked(reason);
    }

    fn join(self) -> T {
        match self.inner {
            Inner::G(h) => h.join().unwrap_or_else(|p| panic::resume_unwind(p)),
            Inner::T(h) => h.join().unwrap_or_else(|p| panic::resume_unwind(p)),
        }
    }
}

/// A value tagged with its sender and its sequence number in that sender's stream.
fn tag(sender: usize, seq: usize) -> u64 {
    ((sender as u64) << 32) | seq as u64
}

fn untag(v: u64) -> (usize, usize) {
    ((v >> 32) as usize, (v & 0xffff_ffff) as usize)
}

/// Checks that `received` (one list per receiver) holds every value of `senders` streams of
/// `per_sender` values exactly once, and that each receiver saw each sender's values in
/// increasing sequence order.
fn check_exactly_once_fifo(received: &[Vec<u64>], senders: usize, per_sender: usize) {
    let mut seen = HashSet::new();
    for (r, vals) in received.iter().enumerate() {
        let mut last = vec![None::<usize>; senders];
        for &v in vals {
            assert!(seen.insert(v), "value {:?} delivered twice", untag(v));
            let (s, q) = untag(v);
            assert!(s < senders && q < per_sender, "unknown value {:?}", (s, q));
            if let Some(prev) = last[s] {
                assert!(
                    q > prev,
                    "receiver {r} got sender {s}'s #{q} after #{prev}: per-sender FIFO broken"
                );
            }
            last[s] = Some(q);
        }
    }
    assert_eq!(
        seen.len(),
        senders * per_sender,
        "values lost: {} of {} delivered",
        seen.len(),
        senders * per_sender
    );
}

/// Starts `senders` and `receivers` on the given kinds over `ch`; each sender sends
/// `per_sender` tagged values; the channel is closed after every sender is done; returns what
/// each receiver got.
fn run_mpmc(ch: &Chan<u64>, senders: &[On], receivers: &[On], per_sender: usize) -> Vec<Vec<u64>> {
    let rx: Vec<_> = receivers
        .iter()
        .map(|&on| {
            let ch = ch.clone();
            Handle::start(on, move || ch.iter().collect::<Vec<u64>>())
        })
        .collect();
    let tx: Vec<_> = senders
        .iter()
        .enumerate()
        .map(|(s, &on)| {
            let ch = ch.clone();
            Handle::start(on, move || {
                for q in 0..per_sender {
                    ch.send(tag(s, q));
                }
            })
        })
        .collect();
    tx.into_iter().for_each(Handle::join);
    ch.close();
    rx.into_iter().map(Handle::join).collect()
}

const TICK: Duration = Duration::from_millis(30);

// ---- basics: capacity, len, FIFO, non-blocking operations ---------------------------------

#[test]
fn len_and_cap_report_buffer_occupancy() {
    let unbuffered = chan::make::<u8>(0);
    assert_eq!((unbuffered.len(), unbuffered.cap()), (0, 0));
    assert!(unbuffered.is_empty());

    let ch = chan::make::<u8>(3);
    assert_eq!((ch.len(), ch.cap()), (0, 3));
    ch.send(1);
    ch.send(2);
    assert_eq!(ch.len(), 2);
    assert!(!ch.is_empty());
    ch.send(3);
    assert_eq!(ch.len(), 3, "full");
    assert_eq!(ch.recv(), Some(1));
    assert_eq!(ch.len(), 2);
    ch.close();
    assert_eq!(ch.len(), 2, "close leaves buffered values counted");
    assert_eq!(ch.cap(), 3);
}

#[test]
fn buffered_channel_is_fifo_across_many_wraparounds() {
    // Capacity 3 is not a power of two: the ring's lap arithmetic must still hold.
    let ch = chan::make::<u32>(3);
    let mut next_in = 0;
    let mut next_out = 0;
    for round in 0..1000 {
        let k = round % 4; // 0..=3 values in, then all out
        for _ in 0..k {
            ch.try_send(next_in).expect("room in the buffer");
            next_in += 1;
        }
        assert_eq!(ch.len(), k as usize);
        while let Ok(v) = ch.try_recv() {
            assert_eq!(v, next_out, "FIFO order");
            next_out += 1;
        }
    }
    assert_eq!(next_in, next_out);
}

#[test]
fn try_recv_on_empty_channels_is_empty() {
    for cap in [0, 1, 4] {
        let ch = chan::make::<u8>(cap);
        assert_eq!(ch.try_recv(), Err(TryRecvError::Empty), "cap {cap}");
    }
}

#[test]
fn try_send_on_full_or_unbuffered_channel_hands_the_value_back() {
    let ch = chan::make::<String>(0);
    assert_eq!(
        ch.try_send("no receiver".into()),
        Err(TrySendError::Full("no receiver".into()))
    );
    let ch = chan::make::<String>(2);
    ch.try_send("a".into()).unwrap();
    ch.try_send("b".into()).unwrap();
    match ch.try_send("c".into()) {
        Err(TrySendError::Full(v)) => assert_eq!(v, "c"),
        other => panic!("expected Full(\"c\"), got {other:?}"),
    }
    assert_eq!(ch.len(), 2);
}

#[test]
fn try_send_to_a_waiting_receiver_on_unbuffered_channel_succeeds() {
    watchdog(10, || {
        let ch = chan::make::<u32>(0);
        let rx = ch.clone();
        let h = runtime::spawn(move || rx.recv());
        // Until the receiver is parked, try_send finds nobody (Full) and gets its value back.
        let mut v = 5;
        loop {
            match ch.try_send(v) {
                Ok(()) => break,
                Err(TrySendError::Full(back)) => {
                    v = back;
                    std::thread::yield_now();
                }
                Err(e) => panic!("unexpected {e:?}"),
            }
        }
        assert_eq!(h.join().unwrap(), Some(5));
    });
}

#[test]
fn try_recv_takes_from_a_waiting_sender_on_unbuffered_channel() {
    watchdog(10, || {
        let ch = chan::make::<u32>(0);
        let tx = ch.clone();
        let h = runtime::spawn(move || tx.send(9));
        let got = loop {
            match ch.try_recv() {
                Ok(v) => break v,
                Err(TryRecvError::Empty) => std::thread::yield_now(),
                Err(e) => panic!("unexpected {e:?}"),
            }
        };
        assert_eq!(got, 9);
        h.join().unwrap();
    });
}

#[test]
fn for_range_over_closed_channel_yields_buffered_values_then_ends() {
    let ch = chan::make::<u32>(8);
    for i in 0..5 {
        ch.send(i);
    }
    ch.close();
    assert_eq!((&ch).into_iter().collect::<Vec<_>>(), [0, 1, 2, 3, 4]);
    assert_eq!(
        ch.iter().next(),
        None,
        "a drained closed channel stays ended"
    );

    // The owning iterator does the same.
    let ch = chan::make::<u32>(2);
    ch.send(7);
    ch.close();
    assert_eq!(ch.into_iter().collect::<Vec<_>>(), [7]);
}

#[test]
fn for_range_ends_when_a_concurrent_sender_closes() {
    watchdog(10, || {
        for cap in [0, 3] {
            let ch = chan::make::<u32>(cap);
            let tx = ch.clone();
            runtime::go(move || {
                for i in 0..100 {
                    tx.send(i);
                }
                tx.close();
            });
            let got = runtime::block_on(move || ch.iter().collect::<Vec<_>>());
            assert_eq!(got, (0..100).collect::<Vec<_>>(), "cap {cap}");
        }
    });
}

// ---- close --------------------------------------------------------------------------------

#[test]
fn buffered_values_still_drain_after_close_then_none() {
    let ch = chan::make::<u32>(4);
    ch.send(1);
    ch.send(2);
    ch.close();
    assert!(ch.is_closed());
    assert_eq!(ch.recv(), Some(1));
    assert_eq!(ch.try_recv(), Ok(2));
    assert_eq!(ch.recv(), None);
    assert_eq!(ch.recv(), None, "stays None");
    assert_eq!(ch.try_recv(), Err(TryRecvError::Closed));
    assert_eq!(
        ch.recv_timeout(TICK),
        Ok(None),
        "closed is ready, not a timeout"
    );
}

#[test]
fn recv_on_closed_unbuffered_channel_is_none_at_once() {
    let ch = chan::make::<u32>(0);
    ch.close();
    assert_eq!(ch.recv(), None);
    assert_eq!(ch.try_recv(), Err(TryRecvError::Closed));
    assert_eq!(ch.recv_timeout(TICK), Ok(None));
}

#[test]
fn close_wakes_blocked_receivers_with_none() {
    watchdog(10, || {
        for cap in [0, 2] {
            let ch = chan::make::<u32>(cap);
            let parked = Arc::new(AtomicUsize::new(0));
            let mut hs = Vec::new();
            for i in 0..4 {
                let (ch, parked) = (ch.clone(), parked.clone());
                let on = if i % 2 == 0 {
                    On::Goroutine
                } else {
                    On::Thread
                };
                hs.push(Handle::start(on, move || {
                    parked.fetch_add(1, Ordering::SeqCst);
                    ch.recv()
                }));
            }
            wait_until(|| parked.load(Ordering::SeqCst) == 4);
            for h in &hs {
                h.wait_parked(WaitReason::ChanReceive);
            }
            ch.close();
            for h in hs {
                assert_eq!(h.join(), None, "cap {cap}: woken receiver must see None");
            }
        }
    });
}

#[test]
fn close_wakes_blocked_senders_which_panic() {
    watchdog(10, || {
        quiet_expected_panics();
        for cap in [0, 1] {
            let drops = Arc::new(AtomicUsize::new(0));
            let ch = chan::make::<Counted>(cap);
            if cap == 1 {
                ch.send(Counted::new(&drops)); // fill it, so the next sends block
            }
            let mut hs = Vec::new();
            for i in 0..4 {
                let (ch, d) = (ch.clone(), drops.clone());
                let on = if i % 2 == 0 {
                    On::Goroutine
                } else {
                    On::Thread
                };
                hs.push(Handle::start(on, move || {
                    panic::catch_unwind(AssertUnwindSafe(|| ch.send(Counted::new(&d))))
                        .map_err(|p| panic_message(&*p))
                }));
            }
            for h in &hs {
                h.wait_parked(WaitReason::ChanSend);
            }
            ch.close();
            for h in hs {
                assert_eq!(
                    h.join(),
                    Err("send on closed channel".to_string()),
                    "cap {cap}: a sender blocked at close must panic"
                );
            }
            // The four unsent values were dropped by the unwinding, never delivered.
            assert_eq!(drops.load(Ordering::SeqCst), 4, "cap {cap}");
            if cap == 1 {
                assert!(ch.recv().is_some(), "the buffered value is still received");
            }
            assert!(ch.recv().is_none());
        }
    });
}

#[test]
fn send_on_closed_channel_panics() {
    for cap in [0, 3] {
        let ch = chan::make::<u32>(cap);
        ch.close();
        expect_panic("send on closed channel", || ch.send(1));
        expect_panic("send on closed channel", || {
            ch.send_timeout(1, Duration::from_millis(1))
        });
    }
}

#[test]
fn try_send_on_closed_channel_returns_closed_with_the_value() {
    for cap in [0, 3] {
        let ch = chan::make::<String>(cap);
        ch.close();
        match ch.try_send(format!("v{cap}")) {
            Err(TrySendError::Closed(v)) => assert_eq!(v, format!("v{cap}")),
            other => panic!("cap {cap}: expected Closed(v), got {other:?}"),
        }
    }
    // Closed wins over Full.
    let ch = chan::make::<u8>(1);
    ch.send(0);
    ch.close();
    assert_eq!(ch.try_send(1), Err(TrySendError::Closed(1)));
}

#[test]
fn closing_twice_panics() {
    for cap in [0, 2] {
        let ch = chan::make::<u8>(cap);
        ch.close();
        expect_panic("close of closed channel", || ch.close());
        assert!(ch.is_closed());
    }
}

#[test]
fn close_of_nil_channel_panics() {
    expect_panic("close of nil channel", || Chan::<u8>::nil().close());
}

#[test]
fn a_closed_buffered_channel_with_a_value_is_never_seen_as_empty() {
    // Go's TestNonblockRecvRace: while close runs, a non-blocking receive on a buffered
    // channel that holds a value must find it ready (the value, or closed) - never "empty".
    watchdog(20, || {
        for _ in 0..500 {
            let ch = chan::make::<u8>(1);
            ch.send(1);
            let c2 = ch.clone();
            let h = runtime::spawn(move || c2.try_recv());
            ch.close();
            let _ = ch.recv();
            assert_ne!(
                h.join().unwrap(),
                Err(TryRecvError::Empty),
                "closing a non-empty channel made it look empty"
            );
        }
    });
}

#[test]
fn nothing_lost_or_duplicated_when_close_races_senders() {
    // Senders keep sending (try_send, or send under catch_unwind) while a closer closes the
    // channel mid-stream. Every attempted value must end up exactly once: received, handed
    // back by try_send (Closed(v)), or lost to a "send on closed channel" panic.
    quiet_expected_panics();
    watchdog(30, || {
        const SENDERS: usize = 4;
        const PER: usize = 2000;
        for (round, cap) in [0usize, 1, 4, 0, 4].into_iter().enumerate() {
            let ch = chan::make::<u64>(cap);
            let received = Arc::new(AtomicUsize::new(0));
            let rx: Vec<_> = (0..3)
                .map(|i| {
                    let (ch, received) = (ch.clone(), received.clone());
                    let on = if i == 0 { On::Thread } else { On::Goroutine };
                    Handle::start(on, move || {
                        let mut got = Vec::new();
                        while let Some(v) = ch.recv() {
                            got.push(v);
                            received.fetch_add(1, Ordering::Relaxed);
                        }
                        got
                    })
                })
                .collect();
            let tx: Vec<_> = (0..SENDERS)
                .map(|s| {
                    let ch = ch.clone();
                    let on = if s == 0 { On::Thread } else { On::Goroutine };
                    Handle::start(on, move || {
                        let (mut returned, mut panicked) = (Vec::new(), Vec::new());
                        for q in 0..PER {
                            let v = tag(s, q);
                            if (q + s) % 2 == 0 {
                                let mut v = v;
                                loop {
                                    match ch.try_send(v) {
                                        Ok(()) => break,
                                        Err(TrySendError::Full(back)) => {
                                            v = back;
                                            runtime::gosched();
                                        }
                                        Err(TrySendError::Closed(back)) => {
                                            returned.push(back);
                                            break;
                                        }
                                    }
                                }
                            } else if let Err(p) =
                                panic::catch_unwind(AssertUnwindSafe(|| ch.send(v)))
                            {
                                assert_eq!(panic_message(&*p), "send on closed channel");
                                panicked.push(v);
                            }
                        }
                        (returned, panicked)
                    })
                })
                .collect();
            // Close somewhere in the middle of the stream (varies per round).
            let close_at = SENDERS * PER * (round + 1) / 8;
            wait_until(|| received.load(Ordering::Relaxed) >= close_at);
            ch.close();
            let mut outcome: Vec<(u64, &str)> = Vec::new();
            for h in tx {
                let (returned, panicked) = h.join();
                outcome.extend(returned.into_iter().map(|v| (v, "returned by try_send")));
                outcome.extend(panicked.into_iter().map(|v| (v, "lost to a send panic")));
            }
            for h in rx {
                outcome.extend(h.join().into_iter().map(|v| (v, "received")));
            }
            let mut fate = std::collections::HashMap::new();
            for (v, how) in outcome {
                if let Some(first) = fate.insert(v, how) {
                    panic!("cap {cap}: value {:?} both {first} and {how}", untag(v));
                }
            }
            assert_eq!(
                fate.len(),
                SENDERS * PER,
                "cap {cap}: some attempted values vanished"
            );
        }
    });
}

#[test]
fn dropping_the_last_handle_drops_buffered_values() {
    let drops = Arc::new(AtomicUsize::new(0));
    let ch = chan::make::<Counted>(4);
    for _ in 0..3 {
        ch.send(Counted::new(&drops));
    }
    drop(ch.recv()); // one received and dropped by us
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    let clone = ch.clone();
    drop(ch);
    assert_eq!(
        drops.load(Ordering::SeqCst),
        1,
        "a remaining handle keeps values"
    );
    let view = clone.receiver();
    drop(clone);
    assert_eq!(drops.load(Ordering::SeqCst), 1, "a view is a handle too");
    drop(view);
    assert_eq!(
        drops.load(Ordering::SeqCst),
        3,
        "the last handle drops the rest"
    );
}

#[test]
fn dropping_a_closed_channel_drops_its_buffered_values_after_wraparound() {
    let drops = Arc::new(AtomicUsize::new(0));
    let ch = chan::make::<Counted>(3);
    // Move head and tail around the ring so the leftovers straddle the wrap point.
    for _ in 0..5 {
        ch.send(Counted::new(&drops));
        drop(ch.recv());
    }
    for _ in 0..3 {
        ch.send(Counted::new(&drops));
    }
    ch.close();
    assert_eq!(drops.load(Ordering::SeqCst), 5);
    drop(ch);
    assert_eq!(
        drops.load(Ordering::SeqCst),
        8,
        "the 3 buffered values dropped"
    );
}

#[test]
fn values_handed_back_are_not_dropped_by_the_channel() {
    let drops = Arc::new(AtomicUsize::new(0));
    let ch = chan::make::<Counted>(0);
    let back = ch.try_send(Counted::new(&drops)).unwrap_err().into_inner();
    let SendTimeoutError(back2) = ch
        .send_timeout(Counted::new(&drops), Duration::from_millis(5))
        .unwrap_err();
    assert_eq!(drops.load(Ordering::SeqCst), 0);
    drop((back, back2));
    assert_eq!(drops.load(Ordering::SeqCst), 2);
}

// ---- nil channel --------------------------------------------------------------------------

#[test]
fn nil_channel_is_never_ready() {
    watchdog(10, || {
        let nil = Chan::<u32>::nil();
        assert!(nil.is_nil());
        assert!(!nil.is_closed());
        assert_eq!((nil.len(), nil.cap()), (0, 0));
        assert_eq!(nil.try_send(1), Err(TrySendError::Full(1)));
        assert_eq!(nil.try_recv(), Err(TryRecvError::Empty));
        let t = Instant::now();
        assert_eq!(nil.recv_timeout(TICK), Err(RecvTimeoutError));
        assert_eq!(nil.send_timeout(2, TICK), Err(SendTimeoutError(2)));
        assert!(t.elapsed() >= 2 * TICK, "nil ops wait out their timeouts");
        // The same from a goroutine.
        let got = runtime::block_on(move || (nil.recv_timeout(TICK), nil.send_timeout(3, TICK)));
        assert_eq!(got, (Err(RecvTimeoutError), Err(SendTimeoutError(3))));
    });
}

#[test]
fn goroutine_blocked_on_nil_channel_waits_with_a_nil_reason() {
    watchdog(10, || {
        let wait = Duration::from_millis(1500);
        let line = line!() + 1;
        let h = runtime::spawn(move || Chan::<u32>::nil().recv_timeout(wait));
        let t = Instant::now();
        let mut dump = String::new();
        while t.elapsed() < wait - Duration::from_millis(200) {
            dump = runtime::stack_dump();
            if dump_shows_waiting(&dump, "chan receive (nil chan)", file!(), line) {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(
            dump_shows_waiting(&dump, "chan receive (nil chan)", file!(), line),
            "expected the goroutine spawned at line {line} waiting on \
             `chan receive (nil chan)`:\n{dump}"
        );
        assert_eq!(h.join().unwrap(), Err(RecvTimeoutError));
    });
}

/// Whether the goroutine dump shows a goroutine spawned at `file:line` waiting with `reason`.
fn dump_shows_waiting(dump: &str, reason: &str, file: &str, line: u32) -> bool {
    let at = format!("spawned at {file}:{line}:");
    let mut lines = dump.lines().peekable();
    while let Some(l) = lines.next() {
        if l.contains(&format!("[{reason}, ")) && lines.peek().is_some_and(|n| n.contains(&at)) {
            return true;
        }
    }
    false
}

// ---- handles, views, equality ---------------------------------------------------------------

#[test]
fn clones_are_the_same_channel_and_compare_equal() {
    let a = chan::make::<u8>(1);
    let b = chan::make::<u8>(1);
    let a2 = a.clone();
    assert_eq!(a, a2);
    assert_ne!(a, b);
    assert_eq!(
        Chan::<u8>::nil(),
        Chan::<u8>::nil(),
        "nil equals nil, as in Go"
    );
    assert_ne!(a, Chan::nil());
    a2.send(4);
    assert_eq!(a.try_recv(), Ok(4), "a clone sends into the same channel");
    let u1 = chan::make::<u8>(0);
    assert_eq!(u1, u1.clone());
    assert_ne!(u1, chan::make::<u8>(0));
}

#[test]
fn sender_and_receiver_views_share_the_channel() {
    watchdog(10, || {
        let ch = chan::make::<u32>(2);
        let tx = ch.sender();
        let rx = ch.receiver();
        assert_eq!((tx.cap(), rx.cap()), (2, 2));
        tx.send(1);
        assert_eq!((tx.len(), rx.len(), ch.len()), (1, 1, 1));
        assert_eq!(tx.try_send(2), Ok(()));
        assert_eq!(tx.try_send(3), Err(TrySendError::Full(3)));
        assert_eq!(rx.recv(), Some(1));
        assert_eq!(rx.try_recv(), Ok(2));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        assert_eq!(
            rx.recv_timeout(Duration::from_millis(5)),
            Err(RecvTimeoutError)
        );

        // Views cross goroutines; closing through the sender ends the receiver's range.
        let tx2 = tx.clone();
        runtime::go(move || {
            for i in 10..15 {
                tx2.send(i);
            }
            tx2.close();
        });
        let got = runtime::block_on(move || rx.iter().collect::<Vec<_>>());
        assert_eq!(got, [10, 11, 12, 13, 14]);
        assert!(tx.is_closed() && ch.is_closed());

        // Views made with From are views of the same channel too.
        let ch = chan::make::<u8>(1);
        let tx: chan::Sender<u8> = ch.clone().into();
        let rx: chan::Receiver<u8> = ch.clone().into();
        tx.send(8);
        assert_eq!((&rx).into_iter().next(), Some(8));
    });
}

#[test]
fn nil_sender_and_receiver_views_are_never_ready() {
    let r = chan::Receiver::<u8>::nil();
    let s = chan::Sender::<u8>::nil();
    assert_eq!(r.try_recv(), Err(TryRecvError::Empty));
    assert_eq!(s.try_send(1), Err(TrySendError::Full(1)));
    assert_eq!(
        r.recv_timeout(Duration::from_millis(1)),
        Err(RecvTimeoutError)
    );
    assert_eq!(
        s.send_timeout(2, Duration::from_millis(1)),
        Err(SendTimeoutError(2))
    );
}

#[test]
fn handles_are_send_and_sync_for_send_values() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Chan<u32>>();
    send_sync::<chan::Sender<String>>();
    send_sync::<chan::Receiver<Vec<u8>>>();
    send_sync::<Chan<std::sync::mpsc::Sender<u8>>>();
}

/// Answers "is `T: Send`?" (or Sync) for a concrete `T` as a constant, without failing to
/// compile when it is not: the inherent constant exists only when the bound holds, and the
/// trait's default is the fallback.
struct Probe<T: ?Sized>(std::marker::PhantomData<T>);
trait ProbeFallback {
    const IS_SEND: bool = false;
    const IS_SYNC: bool = false;
}
impl<T: ?Sized> ProbeFallback for Probe<T> {}
#[allow(dead_code)]
impl<T: ?Sized + Send> Probe<T> {
    const IS_SEND: bool = true;
}
#[allow(dead_code)]
impl<T: ?Sized + Sync> Probe<T> {
    const IS_SYNC: bool = true;
}

#[test]
#[allow(clippy::assertions_on_constants)] // the constants are what is tested
fn probe_tells_send_from_not_send() {
    assert!(Probe::<u32>::IS_SEND && Probe::<u32>::IS_SYNC);
    assert!(!Probe::<std::rc::Rc<u32>>::IS_SEND);
    assert!(Probe::<std::cell::Cell<u32>>::IS_SEND && !Probe::<std::cell::Cell<u32>>::IS_SYNC);
}

#[test]
#[allow(clippy::assertions_on_constants)] // the constants are what is tested
fn handles_of_send_but_not_sync_values_are_send_and_sync() {
    use std::cell::{Cell, RefCell};
    assert!(
        Probe::<Chan<Cell<u32>>>::IS_SEND,
        "Chan<Cell<u32>> is not Send"
    );
    assert!(
        Probe::<Chan<Cell<u32>>>::IS_SYNC,
        "Chan<Cell<u32>> is not Sync"
    );
    assert!(
        Probe::<chan::Sender<RefCell<Vec<u8>>>>::IS_SEND,
        "Sender<RefCell<_>> is not Send"
    );
    assert!(
        Probe::<chan::Receiver<RefCell<Vec<u8>>>>::IS_SEND,
        "Receiver<RefCell<_>> is not Send"
    );
}

// ---- rendezvous and blocking ------------------------------------------------------------------

#[test]
fn unbuffered_send_does_not_complete_before_a_receiver_takes_it() {
    watchdog(10, || {
        for on in [On::Goroutine, On::Thread] {
            let ch = chan::make::<u32>(0);
            let sent = Arc::new(AtomicBool::new(false));
            let (tx, s2) = (ch.clone(), sent.clone());
            let h = Handle::start(on, move || {
                tx.send(1);
                s2.store(true, Ordering::SeqCst);
            });
            h.wait_parked(WaitReason::ChanSend);
            assert!(
                !sent.load(Ordering::SeqCst),
                "{on:?}: unbuffered send completed with no receiver"
            );
            assert_eq!(ch.recv(), Some(1));
            h.join();
            assert!(sent.load(Ordering::SeqCst));
        }
    });
}

#[test]
fn unbuffered_recv_does_not_complete_before_a_sender_arrives() {
    watchdog(10, || {
        let ch = chan::make::<u32>(0);
        let got = Arc::new(AtomicBool::new(false));
        let (rx, g2) = (ch.clone(), got.clone());
        let (h, blocked) = spawn_watched(move || {
            let v = rx.recv();
            g2.store(true, Ordering::SeqCst);
            v
        });
        blocked.wait_parked(WaitReason::ChanReceive);
        assert!(!got.load(Ordering::SeqCst), "recv completed with no sender");
        ch.send(3);
        assert_eq!(h.join().unwrap(), Some(3));
    });
}

#[test]
fn send_on_full_buffered_channel_blocks_until_a_receive_makes_room() {
    watchdog(10, || {
        let ch = chan::make::<u32>(1);
        ch.send(1);
        let done = Arc::new(AtomicBool::new(false));
        let (tx, d2) = (ch.clone(), done.clone());
        let (h, blocked) = spawn_watched(move || {
            tx.send(2);
            d2.store(true, Ordering::SeqCst);
        });
        blocked.wait_parked(WaitReason::ChanSend);
        assert!(
            !done.load(Ordering::SeqCst),
            "send into a full buffer completed"
        );
        assert_eq!(ch.recv(), Some(1));
        h.join().unwrap();
        assert!(done.load(Ordering::SeqCst));
        assert_eq!(ch.recv(), Some(2));
    });
}

#[test]
fn mpmc_delivers_every_value_exactly_once() {
    watchdog(30, || {
        for cap in [0, 1, 7] {
            let ch = chan::make::<u64>(cap);
            let g = On::Goroutine;
            let got = run_mpmc(&ch, &[g, g, g, g], &[g, g, g], 3000);
            check_exactly_once_fifo(&got, 4, 3000);
        }
    });
}

#[test]
fn single_receiver_sees_each_senders_values_in_order() {
    watchdog(20, || {
        for cap in [0, 2, 64] {
            let ch = chan::make::<u64>(cap);
            let g = On::Goroutine;
            let got = run_mpmc(&ch, &[g; 6], &[g], 2000);
            check_exactly_once_fifo(&got, 6, 2000);
        }
    });
}

// ---- threads and goroutines together ------------------------------------------------------

#[test]
fn threads_send_to_goroutine_receivers() {
    watchdog(30, || {
        for cap in [0, 8] {
            let ch = chan::make::<u64>(cap);
            let got = run_mpmc(
                &ch,
                &[On::Thread, On::Thread],
                &[On::Goroutine, On::Goroutine],
                3000,
            );
            check_exactly_once_fifo(&got, 2, 3000);
        }
    });
}

#[test]
fn goroutines_send_to_thread_receivers() {
    watchdog(30, || {
        for cap in [0, 8] {
            let ch = chan::make::<u64>(cap);
            let got = run_mpmc(
                &ch,
                &[On::Goroutine, On::Goroutine, On::Goroutine],
                &[On::Thread, On::Thread],
                3000,
            );
            check_exactly_once_fifo(&got, 3, 3000);
        }
    });
}

#[test]
fn threads_and_goroutines_mixed_on_both_ends() {
    watchdog(30, || {
        let (g, t) = (On::Goroutine, On::Thread);
        for cap in [0, 3] {
            let ch = chan::make::<u64>(cap);
            let got = run_mpmc(&ch, &[g, t, g, t], &[t, g, t, g], 2000);
            check_exactly_once_fifo(&got, 4, 2000);
        }
    });
}

#[test]
fn unbuffered_pingpong_between_a_thread_and_a_goroutine() {
    watchdog(20, || {
        let (ping, pong) = (chan::make::<u32>(0), chan::make::<u32>(0));
        let (ping2, pong2) = (ping.clone(), pong.clone());
        let h = runtime::spawn(move || {
            for v in &ping2 {
                pong2.send(v * 2);
            }
        });
        for i in 0..5000 {
            ping.send(i);
            assert_eq!(pong.recv(), Some(i * 2));
        }
        ping.close();
        h.join().unwrap();
    });
}

// ---- timeouts -------------------------------------------------------------------------------

#[test]
fn recv_timeout_times_out_on_an_empty_channel_from_threads_and_goroutines() {
    watchdog(10, || {
        for on in [On::Thread, On::Goroutine] {
            for cap in [0, 2] {
                let ch = chan::make::<u32>(cap);
                let h = Handle::start(on, move || {
                    let t = Instant::now();
                    (ch.recv_timeout(TICK), t.elapsed())
                });
                let (r, elapsed) = h.join();
                assert_eq!(r, Err(RecvTimeoutError), "{on:?} cap {cap}");
                assert!(
                    elapsed >= TICK,
                    "{on:?} cap {cap}: returned after {elapsed:?}"
                );
                assert!(
                    elapsed < TICK + Duration::from_secs(3),
                    "{on:?}: {elapsed:?}"
                );
            }
        }
    });
}

#[test]
fn send_timeout_hands_the_value_back_from_threads_and_goroutines() {
    watchdog(10, || {
        for on in [On::Thread, On::Goroutine] {
            for cap in [0, 1] {
                let ch = chan::make::<String>(cap);
                if cap == 1 {
                    ch.send("filler".into());
                }
                let c2 = ch.clone();
                let h = Handle::start(on, move || {
                    let t = Instant::now();
                    (c2.send_timeout("mine".into(), TICK), t.elapsed())
                });
                let (r, elapsed) = h.join();
                assert_eq!(
                    r,
                    Err(SendTimeoutError("mine".to_string())),
                    "{on:?} cap {cap}"
                );
                assert!(
                    elapsed >= TICK,
                    "{on:?} cap {cap}: returned after {elapsed:?}"
                );
                assert_eq!(ch.len(), cap, "the timed-out value was not enqueued");
                if cap == 0 {
                    assert_eq!(ch.try_recv(), Err(TryRecvError::Empty), "no stale sender");
                }
            }
        }
    });
}

#[test]
fn timed_operations_complete_when_a_partner_arrives_in_time() {
    watchdog(20, || {
        let long = Duration::from_secs(5);
        for (a, b) in [
            (On::Thread, On::Goroutine),
            (On::Goroutine, On::Thread),
            (On::Goroutine, On::Goroutine),
            (On::Thread, On::Thread),
        ] {
            for cap in [0, 1] {
                let ch = chan::make::<u32>(cap);
                let (c1, c2) = (ch.clone(), ch.clone());
                let rx = Handle::start(a, move || {
                    (0..200)
                        .map(|_| c1.recv_timeout(long).expect("recv timed out").unwrap())
                        .collect::<Vec<_>>()
                });
                let tx = Handle::start(b, move || {
                    for i in 0..200 {
                        c2.send_timeout(i, long).expect("send timed out");
                    }
                });
                tx.join();
                assert_eq!(
                    rx.join(),
                    (0..200).collect::<Vec<_>>(),
                    "{a:?}<-{b:?} cap {cap}"
                );
            }
        }
    });
}

#[test]
fn timed_out_receivers_do_not_swallow_later_values() {
    // A receiver that timed out must have withdrawn: a later send goes to a live receiver.
    watchdog(20, || {
        for cap in [0, 1] {
            let ch = chan::make::<u32>(cap);
            for _ in 0..20 {
                assert_eq!(
                    ch.recv_timeout(Duration::from_millis(1)),
                    Err(RecvTimeoutError)
                );
            }
            let rx = ch.clone();
            let h = runtime::spawn(move || rx.recv());
            ch.send(42);
            assert_eq!(h.join().unwrap(), Some(42), "cap {cap}");
        }
    });
}

#[test]
fn recv_deadline_in_the_past_still_takes_a_ready_value() {
    let ch = chan::make::<u32>(1);
    let past = Instant::now();
    assert_eq!(ch.recv_deadline(past), Err(RecvTimeoutError));
    ch.send(5);
    assert_eq!(ch.recv_deadline(past), Ok(Some(5)));
    ch.close();
    assert_eq!(ch.recv_deadline(past), Ok(None));
}

#[test]
fn racing_timeouts_and_sends_lose_no_value() {
    // Receivers with very short timeouts race senders: a value is either received or still
    // in the channel, never swallowed by a receiver that reported a timeout.
    watchdog(30, || {
        for cap in [0, 2] {
            let ch = chan::make::<u64>(cap);
            let total = 4000;
            let stop = Arc::new(AtomicBool::new(false));
            let got = Arc::new(Mutex::new(Vec::new()));
            let rx: Vec<_> = (0..3)
                .map(|i| {
                    let (ch, stop, got) = (ch.clone(), stop.clone(), got.clone());
                    let on = if i == 0 { On::Thread } else { On::Goroutine };
                    Handle::start(on, move || {
                        let mut mine = Vec::new();
                        while !stop.load(Ordering::SeqCst) {
                            match ch.recv_timeout(Duration::from_micros(50)) {
                                Ok(Some(v)) => mine.push(v),
                                Ok(None) => break,
                                Err(RecvTimeoutError) => {}
                            }
                        }
                        got.lock().unwrap().extend(mine);
                    })
                })
                .collect();
            let tx: Vec<_> = (0..2)
                .map(|s| {
                    let ch = ch.clone();
                    let on = if s == 0 { On::Thread } else { On::Goroutine };
                    Handle::start(on, move || {
                        let mut q = 0;
                        while q < total / 2 {
                            // A timed-out send hands its value back; retry it.
                            if ch
                                .send_timeout(tag(s, q), Duration::from_micros(50))
                                .is_ok()
                            {
                                q += 1;
                            }
                        }
                    })
                })
                .collect();
            tx.into_iter().for_each(Handle::join);
            ch.close();
            rx.into_iter().for_each(Handle::join);
            stop.store(true, Ordering::SeqCst);
            let got = std::mem::take(&mut *got.lock().unwrap());
            let mut all = got.clone();
            while let Some(v) = ch.recv() {
                all.push(v);
            }
            let set: HashSet<u64> = all.iter().copied().collect();
            assert_eq!(
                set.len(),
                all.len(),
                "cap {cap}: a value was delivered twice"
            );
            assert_eq!(all.len(), total, "cap {cap}: values lost");
        }
    });
}
