//! Semantics of the dynamic `chan::Select` (Go's `select` / `reflect.Select`), written from
//! Go's specification and in the spirit of Go's select tests in runtime/chan_test.go: default
//! and timeout arms, nil cases, closed channels, values handed back by send cases that were
//! not chosen, rendezvous with plain operations and with other selects, uniform fairness
//! among ready cases (chi-squared), and exactly-once delivery under stress.
//!
//! Every test that can wait runs under [`common::watchdog`].

#[path = "../../runtime/tests/common/mod.rs"]
mod common;
mod support;

use chan::{Chan, Select, Selected};
use common::{Watched, spawn_watched, watchdog};
use runtime::WaitReason;
use std::collections::{HashMap, HashSet};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use support::{Counted, assert_uniform, panic_message, quiet_expected_panics};

// ---- helpers -----------------------------------------------------------------------------

const TICK: Duration = Duration::from_millis(30);
const LONG: Duration = Duration::from_secs(10);

/// A one-case receive select with a long timeout; the value (None if closed).
fn select_recv<T: 'static>(ch: &Chan<T>) -> Option<T> {
    let mut sel = Select::new();
    let i = sel.recv(ch);
    sel.timeout(LONG);
    assert_eq!(sel.wait(), Selected::Case(i), "select_recv timed out");
    sel.recv_value(i)
}

/// A one-case send select with a long timeout.
fn select_send<T: 'static>(ch: &Chan<T>, v: T) {
    let mut sel = Select::new();
    let i = sel.send(ch, v);
    sel.timeout(LONG);
    assert_eq!(sel.wait(), Selected::Case(i), "select_send timed out");
}

// ---- default, timeout, nil -----------------------------------------------------------------

#[test]
fn select_default_runs_when_nothing_is_ready() {
    let empty = chan::make::<u32>(2);
    let unbuffered = chan::make::<u32>(0);
    let full = chan::make::<u32>(1);
    full.send(0);
    let nil = Chan::<u32>::nil();
    let mut sel = Select::new();
    sel.recv(&empty);
    sel.recv(&unbuffered);
    let s_unbuf = sel.send(&unbuffered, 1);
    let s_full = sel.send(&full, 2);
    sel.recv(&nil);
    sel.default();
    assert_eq!(sel.wait(), Selected::Default);
    assert_eq!(sel.unsent::<u32>(s_unbuf), Some(1), "value handed back");
    assert_eq!(sel.unsent::<u32>(s_full), Some(2), "value handed back");
    assert_eq!(full.len(), 1);
}

#[test]
fn select_default_is_not_taken_when_a_case_is_ready() {
    let ready = chan::make::<u32>(1);
    let idle = chan::make::<u32>(0);
    for i in 0..200 {
        ready.send(i);
        let mut sel = Select::new();
        sel.recv(&idle);
        let r = sel.recv(&ready);
        sel.default();
        assert_eq!(sel.wait(), Selected::Case(r));
        assert_eq!(sel.recv_value::<u32>(r), Some(i));
    }
}

#[test]
fn select_with_no_cases() {
    watchdog(10, || {
        let mut sel = Select::new();
        sel.default();
        assert_eq!(sel.wait(), Selected::Default);
        let mut sel = Select::new();
        sel.timeout(TICK);
        let t = Instant::now();
        assert_eq!(sel.wait(), Selected::Timeout);
        assert!(t.elapsed() >= TICK, "returned after {:?}", t.elapsed());
    });
}

#[test]
fn select_timeout_fires_when_nothing_becomes_ready() {
    watchdog(10, || {
        let run = || {
            let a = chan::make::<u32>(0);
            let b = chan::make::<u32>(3);
            let mut sel = Select::new();
            sel.recv(&a);
            sel.recv(&b);
            sel.send(&a, 1);
            sel.timeout(TICK);
            let t = Instant::now();
            (sel.wait(), t.elapsed())
        };
        let on_thread = run();
        let on_goroutine = runtime::block_on(run);
        for (who, (r, elapsed)) in [("thread", on_thread), ("goroutine", on_goroutine)] {
            assert_eq!(r, Selected::Timeout, "{who}");
            assert!(elapsed >= TICK, "{who}: timed out after {elapsed:?}");
            assert!(
                elapsed < TICK + Duration::from_secs(3),
                "{who}: {elapsed:?}"
            );
        }
    });
}

#[test]
fn select_deadline_in_the_past_still_takes_a_ready_case() {
    let ch = chan::make::<u32>(1);
    ch.send(3);
    let mut sel = Select::new();
    let i = sel.recv(&ch);
    sel.deadline(Instant::now() - Duration::from_millis(1));
    assert_eq!(
        sel.wait(),
        Selected::Case(i),
        "a ready case beats an expired timeout"
    );
    assert_eq!(sel.recv_value::<u32>(i), Some(3));
    assert_eq!(sel.wait(), Selected::Timeout, "then nothing is ready");
}

#[test]
fn select_with_timeout_completes_when_a_case_becomes_ready_in_time() {
    watchdog(10, || {
        for cap in [0, 1] {
            let ch = chan::make::<u32>(cap);
            let tx = ch.clone();
            let me = Watched::current();
            runtime::go(move || {
                me.wait_parked(WaitReason::Select); // the select below has parked
                tx.send(11);
            });
            let idle = chan::make::<u32>(0);
            let mut sel = Select::new();
            sel.recv(&idle);
            let i = sel.recv(&ch);
            sel.timeout(LONG);
            assert_eq!(sel.wait(), Selected::Case(i), "cap {cap}");
            assert_eq!(sel.recv_value::<u32>(i), Some(11));
        }
    });
}

#[test]
fn select_nil_cases_are_never_ready() {
    watchdog(10, || {
        let nil = Chan::<u32>::nil();
        let mut sel = Select::new();
        sel.recv(&nil);
        sel.send(&nil, 1);
        sel.timeout(TICK);
        assert_eq!(sel.wait(), Selected::Timeout);

        let mut sel = Select::new();
        sel.recv(&nil);
        sel.default();
        assert_eq!(sel.wait(), Selected::Default);

        // Next to a ready case, the nil cases never win.
        let ready = chan::make::<u32>(1);
        for i in 0..500 {
            ready.send(i);
            let mut sel = Select::new();
            sel.recv(&nil);
            let r = sel.recv(&ready);
            sel.recv(&nil);
            assert_eq!(sel.wait(), Selected::Case(r));
            assert_eq!(sel.recv_value::<u32>(r), Some(i));
        }
    });
}

#[test]
fn select_send_case_on_nil_channel_keeps_its_value() {
    let drops = Arc::new(AtomicUsize::new(0));
    let nil = Chan::<Counted>::nil();
    let mut sel = Select::new();
    let i = sel.send(
        &nil,
        Counted {
            drops: drops.clone(),
            id: 7,
        },
    );
    sel.default();
    assert_eq!(sel.wait(), Selected::Default);
    assert_eq!(
        drops.load(Ordering::SeqCst),
        0,
        "the select dropped the value of a send case that was not chosen"
    );
    let back = sel
        .unsent::<Counted>(i)
        .expect("a nil send case hands its value back");
    assert_eq!(back.id, 7);
}

#[test]
fn select_reused_never_chooses_a_nil_send_case() {
    let nil = Chan::<u32>::nil();
    let mut sel = Select::new();
    let i = sel.send(&nil, 1);
    sel.default();
    for round in 0..3 {
        assert_ne!(
            sel.wait(),
            Selected::Case(i),
            "round {round}: a send on the nil channel was reported as done"
        );
    }
}

#[test]
fn select_rewait_does_not_report_a_phantom_send() {
    let ch = chan::make::<u32>(1);
    let mut sel = Select::new();
    let i = sel.send(&ch, 1);
    sel.default();
    assert_eq!(sel.wait(), Selected::Case(i));
    assert_eq!(ch.len(), 1);
    // The channel is full now: the send case cannot be ready.
    let second = panic::catch_unwind(AssertUnwindSafe(|| sel.wait()));
    assert!(
        !matches!(second, Ok(Selected::Case(j)) if j == i),
        "second wait reported the send case as chosen, but the channel still holds {} value(s)",
        ch.len()
    );
}

#[test]
fn select_reused_for_receives_in_a_loop() {
    watchdog(10, || {
        let a = chan::make::<u32>(4);
        let b = chan::make::<u32>(0);
        let (a2, b2) = (a.clone(), b.clone());
        runtime::go(move || {
            for i in 0..100 {
                if i % 3 == 0 { b2.send(i) } else { a2.send(i) }
            }
        });
        let mut sel = Select::new();
        let ia = sel.recv(&a);
        let ib = sel.recv(&b);
        sel.timeout(LONG);
        let mut got = Vec::new();
        for _ in 0..100 {
            match sel.wait() {
                Selected::Case(i) if i == ia => got.push(sel.recv_value::<u32>(ia).unwrap()),
                Selected::Case(i) if i == ib => got.push(sel.recv_value::<u32>(ib).unwrap()),
                other => panic!("unexpected {other:?}"),
            }
        }
        got.sort_unstable();
        assert_eq!(got, (0..100).collect::<Vec<_>>());
    });
}

// ---- closed channels ------------------------------------------------------------------------

#[test]
fn select_recv_on_closed_channel_is_ready_with_none() {
    for cap in [0, 2] {
        let ch = chan::make::<u32>(cap);
        if cap > 0 {
            ch.send(1);
        }
        ch.close();
        let idle = chan::make::<u32>(0);
        let mut sel = Select::new();
        sel.recv(&idle);
        let i = sel.recv(&ch);
        sel.default();
        assert_eq!(sel.wait(), Selected::Case(i), "cap {cap}");
        let expect = if cap > 0 { Some(1) } else { None };
        assert_eq!(sel.recv_value::<u32>(i), expect, "buffered values first");
        if cap > 0 {
            assert_eq!(select_recv(&ch), None);
        }
    }
}

#[test]
fn close_wakes_a_blocked_select_receiver_with_none() {
    watchdog(10, || {
        for cap in [0, 2] {
            let ch = chan::make::<u32>(cap);
            let c2 = ch.clone();
            let (h, blocked) = spawn_watched(move || {
                let idle = chan::make::<u32>(0);
                let mut sel = Select::new();
                sel.recv(&idle);
                let i = sel.recv(&c2);
                let r = sel.wait();
                (r == Selected::Case(i), sel.recv_value::<u32>(i))
            });
            blocked.wait_parked(WaitReason::Select);
            ch.close();
            assert_eq!(h.join().unwrap(), (true, None), "cap {cap}");
        }
    });
}

#[test]
fn select_send_case_on_closed_channel_panics() {
    quiet_expected_panics();
    for cap in [0, 2] {
        let ch = chan::make::<u32>(cap);
        ch.close();
        let r = panic::catch_unwind(AssertUnwindSafe(|| {
            let mut sel = Select::new();
            sel.send(&ch, 1);
            sel.default();
            sel.wait()
        }));
        let p = r.expect_err("select send on a closed channel must panic");
        assert_eq!(panic_message(&*p), "send on closed channel", "cap {cap}");
    }
}

#[test]
fn close_makes_a_blocked_select_sender_panic() {
    quiet_expected_panics();
    watchdog(10, || {
        for cap in [0, 1] {
            let ch = chan::make::<u32>(cap);
            if cap == 1 {
                ch.send(0);
            }
            let c2 = ch.clone();
            let (h, blocked) = spawn_watched(move || {
                let idle = chan::make::<u32>(0);
                let mut sel = Select::new();
                sel.recv(&idle);
                sel.send(&c2, 1);
                sel.wait()
            });
            blocked.wait_parked(WaitReason::Select);
            ch.close();
            let p = h
                .join()
                .expect_err("a select blocked sending must panic on close");
            assert_eq!(panic_message(&*p), "send on closed channel", "cap {cap}");
        }
    });
}

// ---- send cases: values handed back --------------------------------------------------------

#[test]
fn unsent_returns_the_value_of_a_send_case_not_chosen() {
    watchdog(10, || {
        for cap in [0, 1] {
            let drops = Arc::new(AtomicUsize::new(0));
            let blocked = chan::make::<Counted>(cap);
            if cap == 1 {
                blocked.send(Counted {
                    drops: drops.clone(),
                    id: 0,
                });
            }
            let wake = chan::make::<u32>(0);
            let w2 = wake.clone();
            // The select parks (registering the send case), then the receive case wins.
            let me = Watched::current();
            runtime::go(move || {
                me.wait_parked(WaitReason::Select);
                w2.send(5);
            });
            let mut sel = Select::new();
            let s = sel.send(
                &blocked,
                Counted {
                    drops: drops.clone(),
                    id: 1,
                },
            );
            let r = sel.recv(&wake);
            sel.timeout(LONG);
            assert_eq!(sel.wait(), Selected::Case(r), "cap {cap}");
            assert_eq!(sel.recv_value::<u32>(r), Some(5));
            assert_eq!(
                drops.load(Ordering::SeqCst),
                0,
                "cap {cap}: nothing dropped"
            );
            let back = sel.unsent::<Counted>(s).expect("value handed back");
            assert_eq!(back.id, 1);
            assert_eq!(blocked.len(), cap, "the unsent value is not in the channel");
            assert!(blocked.try_recv().map(|c| c.id) != Ok(1));
        }
    });
}

#[test]
fn unsent_is_none_for_a_chosen_send_case_and_the_value_after_a_timeout() {
    let ch = chan::make::<u32>(1);
    let mut sel = Select::new();
    let s = sel.send(&ch, 9);
    sel.default();
    assert_eq!(sel.wait(), Selected::Case(s));
    assert_eq!(
        sel.unsent::<u32>(s),
        None,
        "the value went into the channel"
    );
    assert_eq!(ch.recv(), Some(9));

    let unbuffered = chan::make::<u32>(0);
    let mut sel = Select::new();
    let s = sel.send(&unbuffered, 10);
    sel.timeout(Duration::from_millis(5));
    assert_eq!(sel.wait(), Selected::Timeout);
    assert_eq!(
        sel.unsent::<u32>(s),
        Some(10),
        "timed out: the value comes back"
    );
    assert_eq!(unbuffered.try_recv(), Err(chan::TryRecvError::Empty));
}

#[test]
fn recv_value_checks_the_case_type() {
    let ch = chan::make::<u32>(1);
    ch.send(1);
    let mut sel = Select::new();
    let i = sel.recv(&ch);
    assert_eq!(sel.wait(), Selected::Case(i));
    let r = panic::catch_unwind(AssertUnwindSafe(|| sel.recv_value::<u64>(i)));
    assert!(r.is_err(), "recv_value with the wrong type must panic");
    assert_eq!(sel.recv_value::<u32>(i), Some(1));
}

// ---- send and receive on the same channel ----------------------------------------------------

#[test]
fn select_with_send_and_recv_on_the_same_buffered_channel() {
    let ch = chan::make::<u32>(2);
    // Empty: only the send can proceed.
    let mut sel = Select::new();
    sel.recv(&ch);
    let s = sel.send(&ch, 1);
    sel.default();
    assert_eq!(sel.wait(), Selected::Case(s));
    assert_eq!(ch.len(), 1);
    // Full: only the receive can proceed.
    ch.send(2);
    let mut sel = Select::new();
    let r2 = sel.recv(&ch);
    sel.send(&ch, 3);
    sel.default();
    assert_eq!(sel.wait(), Selected::Case(r2));
    assert_eq!(sel.recv_value::<u32>(r2), Some(1));
    // Half full: both are ready, and both get chosen over many tries.
    let (mut sends, mut recvs) = (0, 0);
    for _ in 0..400 {
        let mut sel = Select::new();
        let r = sel.recv(&ch);
        let s = sel.send(&ch, 4);
        sel.default();
        match sel.wait() {
            Selected::Case(i) if i == r => {
                recvs += 1;
                ch.send(sel.recv_value::<u32>(r).unwrap());
            }
            Selected::Case(i) if i == s => {
                sends += 1;
                ch.recv();
            }
            other => panic!("half-full channel: unexpected {other:?}"),
        }
        assert_eq!(ch.len(), 1);
    }
    assert!(sends > 100 && recvs > 100, "sends {sends}, recvs {recvs}");
}

#[test]
fn select_never_pairs_with_itself_on_an_unbuffered_channel() {
    watchdog(10, || {
        let ch = chan::make::<u32>(0);
        let mut sel = Select::new();
        sel.recv(&ch);
        let s = sel.send(&ch, 1);
        sel.default();
        assert_eq!(sel.wait(), Selected::Default);
        assert_eq!(sel.unsent::<u32>(s), Some(1));

        let mut sel = Select::new();
        sel.recv(&ch);
        sel.send(&ch, 2);
        sel.timeout(TICK);
        assert_eq!(
            sel.wait(),
            Selected::Timeout,
            "a parked select must not match itself"
        );

        // With a partner receiving, the send case fires; with one sending, the receive.
        let c2 = ch.clone();
        let h = runtime::spawn(move || c2.recv());
        let mut sel = Select::new();
        sel.recv(&ch);
        let s = sel.send(&ch, 3);
        sel.timeout(LONG);
        assert_eq!(sel.wait(), Selected::Case(s));
        assert_eq!(h.join().unwrap(), Some(3));

        let c2 = ch.clone();
        let h = runtime::spawn(move || c2.send(4));
        let mut sel = Select::new();
        let r = sel.recv(&ch);
        sel.send(&ch, 5);
        sel.timeout(LONG);
        assert_eq!(sel.wait(), Selected::Case(r));
        assert_eq!(sel.recv_value::<u32>(r), Some(4));
        h.join().unwrap();
    });
}

#[test]
fn two_goroutines_selecting_send_and_recv_on_one_channel_pair_up() {
    // Go's TestSelfSelect: on an unbuffered channel a goroutine can never receive its own
    // value; on a buffered one it may.
    watchdog(20, || {
        for cap in [0, 10] {
            let ch = chan::make::<usize>(cap);
            let hs: Vec<_> = (0..2)
                .map(|p| {
                    let ch = ch.clone();
                    runtime::spawn(move || {
                        for _ in 0..1000 {
                            let mut sel = Select::new();
                            let s = sel.send(&ch, p);
                            let r = sel.recv(&ch);
                            sel.timeout(LONG);
                            match sel.wait() {
                                Selected::Case(i) if i == s => {}
                                Selected::Case(i) if i == r => {
                                    let v = sel.recv_value::<usize>(r).unwrap();
                                    assert!(
                                        cap > 0 || v != p,
                                        "goroutine {p} received its own value on an \
                                         unbuffered channel"
                                    );
                                }
                                other => panic!("goroutine {p}: {other:?}"),
                            }
                        }
                    })
                })
                .collect();
            for h in hs {
                h.join().unwrap();
            }
        }
    });
}

#[test]
fn select_with_two_recv_cases_on_the_same_channel_takes_each_value_once() {
    // Go's TestSelectDuplicateChannel: a select registered twice on one channel.
    watchdog(10, || {
        for cap in [0, 1] {
            let ch = chan::make::<u32>(cap);
            let tx = ch.clone();
            let h = runtime::spawn(move || {
                for i in 0..300 {
                    tx.send(i);
                    if i % 50 == 0 {
                        runtime::sleep(Duration::from_millis(1)); // let the select park
                    }
                }
            });
            let idle = chan::make::<u32>(0);
            for want in 0..300 {
                let mut sel = Select::new();
                let a = sel.recv(&ch);
                sel.recv(&idle);
                let b = sel.recv(&ch);
                sel.timeout(LONG);
                let got = match sel.wait() {
                    Selected::Case(i) if i == a || i == b => sel.recv_value::<u32>(i),
                    other => panic!("unexpected {other:?}"),
                };
                assert_eq!(got, Some(want), "cap {cap}");
            }
            h.join().unwrap();
            assert_eq!(ch.try_recv(), Err(chan::TryRecvError::Empty));
        }
    });
}

// ---- rendezvous on unbuffered channels -------------------------------------------------------

#[test]
fn select_send_pairs_with_a_plain_recv() {
    watchdog(20, || {
        let ch = chan::make::<u32>(0);
        let rx = ch.clone();
        let h = runtime::spawn(move || (0..1000).map(|_| rx.recv().unwrap()).collect::<Vec<_>>());
        for i in 0..1000 {
            select_send(&ch, i);
        }
        assert_eq!(h.join().unwrap(), (0..1000).collect::<Vec<_>>());
    });
}

#[test]
fn select_recv_pairs_with_a_plain_send() {
    watchdog(20, || {
        let ch = chan::make::<u32>(0);
        let tx = ch.clone();
        let h = runtime::spawn(move || (0..1000).for_each(|i| tx.send(i)));
        let got: Vec<_> = (0..1000).map(|_| select_recv(&ch).unwrap()).collect();
        assert_eq!(got, (0..1000).collect::<Vec<_>>());
        h.join().unwrap();
    });
}

#[test]
fn two_selects_rendezvous_on_an_unbuffered_channel() {
    watchdog(20, || {
        // Goroutine to goroutine, and goroutine to thread, each side with an idle case too.
        for thread_side in [false, true] {
            let ch = chan::make::<u32>(0);
            let tx = ch.clone();
            let sender = runtime::spawn(move || {
                let idle = chan::make::<u32>(0);
                for i in 0..1000 {
                    let mut sel = Select::new();
                    sel.recv(&idle);
                    let s = sel.send(&tx, i);
                    sel.timeout(LONG);
                    assert_eq!(sel.wait(), Selected::Case(s));
                }
            });
            let recv_all = move || {
                let idle = chan::make::<u32>(0);
                (0..1000)
                    .map(|_| {
                        let mut sel = Select::new();
                        sel.send(&idle, 0);
                        let r = sel.recv(&ch);
                        sel.timeout(LONG);
                        assert_eq!(sel.wait(), Selected::Case(r));
                        sel.recv_value::<u32>(r).unwrap()
                    })
                    .collect::<Vec<_>>()
            };
            let got = if thread_side {
                recv_all()
            } else {
                runtime::spawn(recv_all).join().unwrap()
            };
            sender.join().unwrap();
            assert_eq!(
                got,
                (0..1000).collect::<Vec<_>>(),
                "thread side: {thread_side}"
            );
        }
    });
}

#[test]
fn blocked_select_on_a_plain_thread_is_woken_by_a_goroutine() {
    watchdog(10, || {
        let a = chan::make::<u32>(0);
        let b = chan::make::<u32>(2);
        let b2 = b.clone();
        let me = Watched::current();
        runtime::go(move || {
            me.wait_parked(WaitReason::Select); // the select below has blocked
            b2.send(1);
        });
        let mut sel = Select::new();
        sel.recv(&a);
        let ib = sel.recv(&b);
        assert_eq!(sel.wait(), Selected::Case(ib));
        assert_eq!(sel.recv_value::<u32>(ib), Some(1));
    });
}

#[test]
fn goroutine_parked_in_select_is_shown_waiting_on_select() {
    watchdog(10, || {
        let ch = chan::make::<u32>(0);
        let c2 = ch.clone();
        let line = line!() + 1;
        let h = runtime::spawn(move || select_recv(&c2));
        let mut dump = String::new();
        for _ in 0..1000 {
            dump = runtime::stack_dump();
            if dump_shows_waiting(&dump, "select", file!(), line) {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(
            dump_shows_waiting(&dump, "select", file!(), line),
            "expected the goroutine spawned at line {line} waiting on `select`:\n{dump}"
        );
        ch.send(1);
        assert_eq!(h.join().unwrap(), Some(1));
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

#[test]
fn select_over_more_than_sixteen_cases_finds_the_ready_one() {
    let chans: Vec<Chan<usize>> = (0..20).map(|_| chan::make(1)).collect();
    for k in 0..chans.len() {
        chans[k].send(k);
        let mut sel = Select::new();
        for c in &chans {
            sel.recv(c);
        }
        sel.default();
        assert_eq!(sel.wait(), Selected::Case(k));
        assert_eq!(sel.recv_value::<usize>(k), Some(k));
    }
}

#[test]
fn nonblocking_select_never_misses_a_channel_that_is_always_ready() {
    // Go's TestNonblockSelectRace, made adversarial: two values circulate between c1 and c2.
    // The mover always sends before it receives, so while the observer is inside its select
    // (holding no value) at least one of c1, c2 holds a value: `default` is never right.
    watchdog(30, || {
        let (c1, c2) = (chan::make::<u32>(2), chan::make::<u32>(2));
        c1.send(1);
        let stop = Arc::new(AtomicBool::new(false));
        let (m1, m2, st) = (c1.clone(), c2.clone(), stop.clone());
        let mover = std::thread::spawn(move || {
            let mut held = 2;
            while !st.load(Ordering::Relaxed) {
                m2.send(held);
                held = m1.recv().unwrap();
                m1.send(held);
                held = m2.recv().unwrap();
            }
        });
        // Poll for a fixed time, so that the mover really runs alongside.
        let (mut polls, mut defaults) = (0u64, 0u64);
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(1) {
            polls += 1;
            let mut sel = Select::new();
            let a = sel.recv(&c1);
            let b = sel.recv(&c2);
            sel.default();
            match sel.wait() {
                Selected::Case(i) if i == a => c1.send(sel.recv_value::<u32>(a).unwrap()),
                Selected::Case(i) if i == b => c2.send(sel.recv_value::<u32>(b).unwrap()),
                _ => defaults += 1,
            }
        }
        stop.store(true, Ordering::Relaxed);
        mover.join().unwrap();
        assert_eq!(
            defaults, 0,
            "{defaults} of {polls} non-blocking selects took default while a channel was ready"
        );
    });
}

// ---- fairness ----------------------------------------------------------------------------------

/// Runs `rounds` selects over `n` always-ready buffered channels (refilled after each
/// receive) and returns how often each case was chosen.
fn ready_recv_counts(n: usize, rounds: usize) -> Vec<usize> {
    let chans: Vec<Chan<usize>> = (0..n).map(|_| chan::make(1)).collect();
    for (i, c) in chans.iter().enumerate() {
        c.send(i);
    }
    let mut counts = vec![0; n];
    for _ in 0..rounds {
        let mut sel = Select::new();
        for c in &chans {
            sel.recv(c);
        }
        match sel.wait() {
            Selected::Case(i) => {
                assert_eq!(sel.recv_value::<usize>(i), Some(i));
                counts[i] += 1;
                chans[i].send(i);
            }
            other => panic!("all cases were ready, got {other:?}"),
        }
    }
    counts
}

#[test]
fn select_chooses_uniformly_among_four_ready_receives() {
    let counts = runtime::block_on(|| ready_recv_counts(4, 100_000));
    assert_uniform(&counts);
}

#[test]
fn select_chooses_uniformly_between_two_ready_receives() {
    let counts = ready_recv_counts(2, 40_000);
    assert_uniform(&counts);
}

#[test]
fn select_chooses_uniformly_among_four_ready_sends() {
    let chans: Vec<Chan<usize>> = (0..4).map(|_| chan::make(1)).collect();
    let mut counts = [0; 4];
    for _ in 0..100_000 {
        let mut sel = Select::new();
        for (i, c) in chans.iter().enumerate() {
            sel.send(c, i);
        }
        match sel.wait() {
            Selected::Case(i) => {
                counts[i] += 1;
                assert_eq!(chans[i].try_recv(), Ok(i));
            }
            other => panic!("all cases were ready, got {other:?}"),
        }
    }
    assert_uniform(&counts);
}

// ---- stress --------------------------------------------------------------------------------------

/// A value tagged with sender, channel and sequence number.
fn tag(sender: usize, chan: usize, seq: usize) -> u64 {
    ((sender as u64) << 40) | ((chan as u64) << 32) | seq as u64
}

fn untag(v: u64) -> (usize, usize, usize) {
    (
        (v >> 40) as usize,
        ((v >> 32) & 0xff) as usize,
        (v & 0xffff_ffff) as usize,
    )
}

#[test]
fn select_stress_many_goroutines_few_channels_exactly_once() {
    // 4 senders and 4 receivers over 3 channels of capacities 0, 1 and 8. Senders 0-1 send
    // with selects over every channel that still has values to go (checking the cases not
    // chosen still hold their values); senders 2-3 send plainly, round-robin. Receivers 0-1
    // select over the open channels, receiver 2 ranges over channel 0, receiver 3 alternates
    // plain try_recv/recv_timeout over channel 2 and select over all. The channels close after
    // every sender is done. Every value must arrive exactly once, and each receiver sees each
    // (sender, channel) stream in order.
    const PER_CHAN: usize = 3334; // per sender per channel: 10,002 sends per sender
    const SENDERS: usize = 4;
    watchdog(40, || {
        let chans: Arc<Vec<Chan<u64>>> = Arc::new(vec![
            chan::make::<u64>(0),
            chan::make::<u64>(1),
            chan::make::<u64>(8),
        ]);
        let senders: Vec<_> = (0..SENDERS)
            .map(|s| {
                let chans = chans.clone();
                runtime::spawn(move || {
                    let mut next = [0usize; 3];
                    if s < 2 {
                        loop {
                            let open: Vec<usize> = (0..3).filter(|&c| next[c] < PER_CHAN).collect();
                            if open.is_empty() {
                                break;
                            }
                            let mut sel = Select::new();
                            let idx: Vec<usize> = open
                                .iter()
                                .map(|&c| sel.send(&chans[c], tag(s, c, next[c])))
                                .collect();
                            sel.timeout(LONG);
                            let chosen = match sel.wait() {
                                Selected::Case(i) => i,
                                other => panic!("sender {s}: {other:?}"),
                            };
                            for (k, &i) in idx.iter().enumerate() {
                                let back = sel.unsent::<u64>(i);
                                if i == chosen {
                                    assert_eq!(back, None, "chosen send case kept its value");
                                } else {
                                    assert_eq!(
                                        back,
                                        Some(tag(s, open[k], next[open[k]])),
                                        "a send case not chosen lost its value"
                                    );
                                }
                            }
                            next[open[chosen]] += 1;
                        }
                    } else {
                        for q in 0..PER_CHAN {
                            for (c, ch) in chans.iter().enumerate() {
                                ch.send(tag(s, c, q));
                            }
                        }
                    }
                })
            })
            .collect();
        let receivers: Vec<_> = (0..4)
            .map(|r| {
                let chans = chans.clone();
                runtime::spawn(move || {
                    let mut got = Vec::new();
                    match r {
                        2 => got.extend(chans[0].iter()),
                        _ => {
                            let mut open = [true; 3];
                            let mut turn = 0usize;
                            while open.iter().any(|&o| o) {
                                turn += 1;
                                if r == 3 && open[2] && turn.is_multiple_of(2) {
                                    match chans[2].recv_timeout(Duration::from_micros(100)) {
                                        Ok(Some(v)) => got.push(v),
                                        Ok(None) => open[2] = false,
                                        Err(_) => {}
                                    }
                                    continue;
                                }
                                let mut sel = Select::new();
                                let cases: Vec<(usize, usize)> = (0..3)
                                    .filter(|&c| open[c])
                                    .map(|c| (sel.recv(&chans[c]), c))
                                    .collect();
                                sel.timeout(LONG);
                                let i = match sel.wait() {
                                    Selected::Case(i) => i,
                                    other => panic!("receiver {r}: {other:?}"),
                                };
                                match sel.recv_value::<u64>(i) {
                                    Some(v) => got.push(v),
                                    None => open[cases[i].1] = false,
                                }
                            }
                        }
                    }
                    got
                })
            })
            .collect();
        for h in senders {
            h.join().unwrap();
        }
        for c in chans.iter() {
            c.close();
        }
        let mut seen = HashSet::new();
        for (r, h) in receivers.into_iter().enumerate() {
            let got = h.join().unwrap();
            let mut last: HashMap<(usize, usize), usize> = HashMap::new();
            for v in got {
                assert!(seen.insert(v), "value {:?} delivered twice", untag(v));
                let (s, c, q) = untag(v);
                if let Some(&p) = last.get(&(s, c)) {
                    assert!(
                        q > p,
                        "receiver {r}: sender {s} channel {c}: #{q} after #{p} (FIFO broken)"
                    );
                }
                last.insert((s, c), q);
            }
        }
        assert_eq!(seen.len(), SENDERS * 3 * PER_CHAN, "values lost");
    });
}

#[test]
fn select_stress_with_timeouts_and_defaults_loses_nothing() {
    // Senders use selects with short timeouts or defaults and retry what comes back;
    // receivers do the same; a value is never both handed back and delivered.
    watchdog(30, || {
        for cap in [0, 2] {
            let ch = chan::make::<u64>(cap);
            let other = chan::make::<u64>(0); // never used by anyone: an idle case
            let done = Arc::new(AtomicBool::new(false));
            let senders: Vec<_> = (0..3)
                .map(|s| {
                    let (ch, other) = (ch.clone(), other.clone());
                    runtime::spawn(move || {
                        let mut q = 0;
                        while q < 1500 {
                            let mut sel = Select::new();
                            let i = sel.send(&ch, tag(s, 0, q));
                            sel.recv(&other);
                            if q % 2 == 0 {
                                sel.default();
                            } else {
                                sel.timeout(Duration::from_micros(200));
                            }
                            match sel.wait() {
                                Selected::Case(j) if j == i => q += 1,
                                Selected::Default | Selected::Timeout => {
                                    assert_eq!(sel.unsent::<u64>(i), Some(tag(s, 0, q)));
                                    runtime::gosched();
                                }
                                x => panic!("{x:?}"),
                            }
                        }
                    })
                })
                .collect();
            let receivers: Vec<_> = (0..2)
                .map(|_| {
                    let (ch, done) = (ch.clone(), done.clone());
                    runtime::spawn(move || {
                        let mut got = Vec::new();
                        loop {
                            let mut sel = Select::new();
                            let i = sel.recv(&ch);
                            sel.timeout(Duration::from_micros(300));
                            match sel.wait() {
                                Selected::Case(_) => match sel.recv_value::<u64>(i) {
                                    Some(v) => got.push(v),
                                    None => break,
                                },
                                _ if done.load(Ordering::SeqCst) => {}
                                _ => runtime::gosched(),
                            }
                        }
                        got
                    })
                })
                .collect();
            for h in senders {
                h.join().unwrap();
            }
            done.store(true, Ordering::SeqCst);
            ch.close();
            let mut seen = HashSet::new();
            let mut total = 0;
            for h in receivers {
                for v in h.join().unwrap() {
                    assert!(seen.insert(v), "cap {cap}: {:?} delivered twice", untag(v));
                    total += 1;
                }
            }
            assert_eq!(total, 3 * 1500, "cap {cap}: values lost");
        }
    });
}
