//! Loom models of the channel core: the unbuffered handoff ([`crate::zero`]), the buffered
//! ring with its wait queues ([`crate::array`]) and select's claim/withdraw of a shared
//! [`Cx`] ([`crate::waitq`], [`crate::select`]).
//!
//! Under `--cfg loom`, [`crate::shim`] swaps in loom's atomics and cells for the channel lock,
//! the wait queues' `Cx` selected word (a `Selection`), the packets (value slot and state) and
//! the ring's head, tail, stamps and slots, and a
//! per-thread `loom::sync::Notify` for the runtime's `Waiter`/`park`/`park_until`. The code
//! under test is the production code: `Zero::send`/`recv`/`close`, `select::run`,
//! `Array::send`/`recv`/`close`, `Cx::try_abort`, with loom-only substitutions: the lock's
//! contended path and `Packet::wait_done` block (on that parker) instead of spinning (spin
//! loops make loom's search diverge, see `shim`), the ring's short spin (a partner mid-way on
//! a slot) is one loom yield per step, the wait queues' register/notify Dekker pair gets a
//! SeqCst fence (loom models SeqCst accesses as AcqRel), and select's poll order is fixed
//! (`[1, 0]` for two cases).
//!
//! Run with:
//! ```text
//! RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom \
//!     cargo test -p goro-chan --release --lib loom_
//! ```
//! `loom_zero_send_recv` and `loom_array_recv_woken_by_send` are explored exhaustively; the
//! others run under a preemption bound (2 to 4, see each model) so that the set finishes in
//! about a minute on two cores; `LOOM_MAX_PREEMPTIONS` overrides it (at 4 for every model the set takes ~100 s run one
//! test at a time, most of it the two select models).
//!
//! Besides the explicit assertions, the models lean on loom's causality checking: the value
//! slot of every packet and the data behind the channel lock are `loom::cell::UnsafeCell`s,
//! so a value written by one thread and read by another without a happens-before edge (a
//! packet marked done too weakly, a claim that does not exclude the withdrawing owner, a lock
//! that does not publish) is reported by loom as a data race. A waiter that is never woken
//! (a lost unpark, a handoff that never completes) is reported by loom as a deadlock.
//! Deadlines come from the model's clock ([`Execution::clock`]): a thread of the model sets
//! it, so loom explores the deadline passing at every point of the race.
//!
//! Each model counts the outcomes it reached across executions and asserts at the end that
//! every interesting one was reached (as `runtime/src/loom_tests.rs` does), so a bound that
//! is too tight, or a change that makes a path unreachable, fails instead of passing vacuously.

use crate::array::Array;
use crate::chan::{Chan, Shared};
use crate::engine::{self as select, Case, RecvCase, SendCase};
use crate::err::{RecvTimeoutError, TrySend};
use crate::flavour::{Blocked, Flavour};
use crate::loom_support::{Coverage, builder};
use crate::select::Selected;
use crate::shim::model::Execution;
use crate::waitq::{Cx, Selection};
use crate::zero::{Packet, Zero};
use loom::sync::Arc;
use loom::thread;
use runtime::WaitReason;
use std::time::Instant;

/// No preemption bound: the model is explored exhaustively.
const UNBOUNDED: Option<usize> = None;

/// The bound for the select models, the largest (a select takes each channel lock three
/// times): with 3, ~80k executions and ~6 s each; with 4, ~750k and ~50 s each.
const SELECT_BOUND: Option<usize> = Some(3);

/// Every registration is gone once every operation on `z` has returned.
fn assert_no_registrations<T>(z: &Zero<T>) {
    assert_eq!(
        z.registrations(),
        (0, 0),
        "a registration (senders, receivers) outlived its operation"
    );
}

fn zero_of<T>(ch: &Chan<T>) -> &Zero<T> {
    match &ch.inner {
        Some(Shared::Zero(z)) => z,
        _ => unreachable!("make(0) is unbuffered"),
    }
}

// ---------------------------------------------------------------------------------------------
// Unbuffered handoff
// ---------------------------------------------------------------------------------------------

/// One sender, one receiver, no deadline: the value arrives exactly once and both return,
/// whichever of them comes first.
#[test]
fn loom_zero_send_recv() {
    const SENDER_PARKED: usize = 0;
    const RECEIVER_PARKED: usize = 1;
    const NOBODY_PARKED: usize = 2;
    let cov = Coverage::new(
        "loom_zero_send_recv",
        &["sender parked", "receiver parked", "nobody parked"],
    );
    let c = cov.clone();
    builder(UNBOUNDED).check(move || {
        c.execution();
        let ex = Execution::new();
        let z = Arc::new(Zero::<u64>::new());
        let sender = {
            let z = z.clone();
            thread::spawn(move || z.send(7, None).is_ok())
        };
        let got = z.recv(None);
        assert!(sender.join().expect("sender panicked"), "the send failed");
        assert_eq!(got, Ok(Some(7)), "the value arrives exactly once");
        assert_no_registrations(&z);
        let (s, r) = c.hit_parked(
            |r| ex.parked(r),
            SENDER_PARKED,
            RECEIVER_PARKED,
            NOBODY_PARKED,
        );
        assert!(!(s && r), "both partners of one handoff parked");
    });
    cov.assert_all_reached();
}

/// A receive with a deadline racing a plain send: either the receive gets the value, or it
/// times out (withdrawn and unregistered) and the send is still pending, and a second receive
/// gets the value. Never lost, never twice.
#[test]
fn loom_zero_recv_deadline_races_send() {
    const RECEIVED: usize = 0;
    const RECEIVED_AFTER_DEADLINE: usize = 1;
    const TIMED_OUT: usize = 2;
    let cov = Coverage::new(
        "loom_zero_recv_deadline_races_send",
        &[
            "received before the deadline",
            "received although the deadline passed (the claim beat the withdrawal)",
            "timed out, value received later",
        ],
    );
    let c = cov.clone();
    builder(Some(3)).check(move || {
        c.execution();
        let ex = Execution::new();
        let clock = ex.clock();
        let z = Arc::new(Zero::<u64>::new());
        let sender = {
            let z = z.clone();
            thread::spawn(move || z.send(7, None).is_ok())
        };
        let timer = thread::spawn(move || clock.fire());
        match z.recv(Some(Instant::now())) {
            Ok(Some(v)) => {
                assert_eq!(v, 7);
                c.hit(if ex.timed_out() {
                    RECEIVED_AFTER_DEADLINE
                } else {
                    RECEIVED
                });
            }
            Ok(None) => panic!("recv saw a close that never happened"),
            Err(RecvTimeoutError) => {
                // Withdrawn: the value must still be with the sender.
                assert_eq!(z.recv(None), Ok(Some(7)), "the value was lost on timeout");
                c.hit(TIMED_OUT);
            }
        }
        assert!(sender.join().expect("sender panicked"), "the send failed");
        timer.join().expect("timer panicked");
        assert_no_registrations(&z);
    });
    cov.assert_all_reached();
}

/// A send and a receive, both with deadlines, racing each other and the clock: either the
/// value is handed over (both succeed) or both time out and the sender gets its value back.
#[test]
fn loom_zero_send_deadline_races_recv_deadline() {
    const HANDED_OFF: usize = 0;
    const HANDED_OFF_AFTER_DEADLINE: usize = 1;
    const BOTH_TIMED_OUT: usize = 2;
    let cov = Coverage::new(
        "loom_zero_send_deadline_races_recv_deadline",
        &[
            "handed off before the deadline",
            "handed off although the deadline passed",
            "both timed out, value handed back",
        ],
    );
    let c = cov.clone();
    builder(Some(3)).check(move || {
        c.execution();
        let ex = Execution::new();
        let clock = ex.clock();
        let z = Arc::new(Zero::<u64>::new());
        let sender = {
            let z = z.clone();
            thread::spawn(move || match z.send(7, Some(Instant::now())) {
                Ok(()) => None,
                Err(Blocked::Timeout(v)) => Some(v),
                Err(Blocked::Closed(_)) => panic!("send saw a close that never happened"),
            })
        };
        let timer = thread::spawn(move || clock.fire());
        let got = z.recv(Some(Instant::now()));
        let back = sender.join().expect("sender panicked");
        timer.join().expect("timer panicked");
        match (got, back) {
            (Ok(Some(7)), None) => c.hit(if ex.timed_out() {
                HANDED_OFF_AFTER_DEADLINE
            } else {
                HANDED_OFF
            }),
            (Err(RecvTimeoutError), Some(7)) => c.hit(BOTH_TIMED_OUT),
            (got, back) => {
                panic!("value lost or duplicated: received {got:?}, handed back {back:?}")
            }
        }
        assert_no_registrations(&z);
    });
    cov.assert_all_reached();
}

/// Close racing a sender and a receiver: either the handoff happened (both succeed) or the
/// close came first: the receiver gets `None` and the sender its value back (`Closed`),
/// whether they were parked (woken by the close) or arrived after it.
#[test]
fn loom_zero_close_races_send_and_recv() {
    const HANDED_OFF: usize = 0;
    const CLOSE_WOKE_SENDER: usize = 1;
    const CLOSE_WOKE_RECEIVER: usize = 2;
    const CLOSED_FIRST: usize = 3;
    let cov = Coverage::new(
        "loom_zero_close_races_send_and_recv",
        &[
            "handed off, then closed",
            "close released a parked sender",
            "close released a parked receiver",
            "closed before either blocked",
        ],
    );
    let c = cov.clone();
    builder(Some(4)).check(move || {
        c.execution();
        let ex = Execution::new();
        let z = Arc::new(Zero::<u64>::new());
        let sender = {
            let z = z.clone();
            thread::spawn(move || match z.send(7, None) {
                Ok(()) => None,
                Err(Blocked::Closed(v)) => Some(v),
                Err(Blocked::Timeout(_)) => panic!("timeout without a deadline"),
            })
        };
        let receiver = {
            let z = z.clone();
            thread::spawn(move || z.recv(None))
        };
        assert!(z.close(), "first close");
        let back = sender.join().expect("sender panicked");
        let got = receiver.join().expect("receiver panicked");
        match (got, back) {
            (Ok(Some(7)), None) => c.hit(HANDED_OFF),
            (Ok(None), Some(7)) => {
                let (s, r) = (
                    ex.parked(WaitReason::ChanSend),
                    ex.parked(WaitReason::ChanReceive),
                );
                if s {
                    c.hit(CLOSE_WOKE_SENDER);
                }
                if r {
                    c.hit(CLOSE_WOKE_RECEIVER);
                }
                if !s && !r {
                    c.hit(CLOSED_FIRST);
                }
            }
            (got, back) => {
                panic!("value lost or duplicated: received {got:?}, handed back {back:?}")
            }
        }
        assert!(!z.close(), "second close");
        assert_no_registrations(&z);
    });
    cov.assert_all_reached();
}

// ---------------------------------------------------------------------------------------------
// Buffered ring
// ---------------------------------------------------------------------------------------------

/// The bound for the three-operation buffered-ring model: with 2, ~90k executions and ~17 s.
const ARRAY_BOUND: Option<usize> = Some(2);

/// Two senders and a receiver on a capacity-1 ring: each value is received exactly once and
/// everyone returns (a sender blocked on the full ring is woken by a receive; the receiver
/// blocked on the empty ring by a send).
#[test]
fn loom_array_two_senders_one_receiver() {
    const SENDER_PARKED: usize = 0;
    const RECEIVER_PARKED: usize = 1;
    const NOBODY_PARKED: usize = 2;
    let cov = Coverage::new(
        "loom_array_two_senders_one_receiver",
        &["a sender parked", "the receiver parked", "nobody parked"],
    );
    let c = cov.clone();
    builder(ARRAY_BOUND).check(move || {
        c.execution();
        let ex = Execution::new();
        let a = Arc::new(Array::<u64>::new(1));
        let senders: Vec<_> = [1u64, 2]
            .into_iter()
            .map(|v| {
                let a = a.clone();
                thread::spawn(move || a.send(v, None).is_ok())
            })
            .collect();
        let x = a.recv(None);
        let y = a.recv(None);
        for s in senders {
            assert!(s.join().expect("sender panicked"), "a send failed");
        }
        let mut got = [x, y].map(|r| r.expect("no deadline").expect("not closed"));
        got.sort_unstable();
        assert_eq!(got, [1, 2], "each value received exactly once");
        assert!(a.try_recv().is_err(), "a value left over");
        c.hit_parked(
            |r| ex.parked(r),
            SENDER_PARKED,
            RECEIVER_PARKED,
            NOBODY_PARKED,
        );
    });
    cov.assert_all_reached();
}

/// A send on a full capacity-1 ring racing close and a receive: the sent value is either
/// buffered (then received, before or after the close: a closed ring drains) or handed back
/// as `Closed`; never lost, never both. The value that filled the ring is received exactly
/// once too.
#[test]
fn loom_array_send_races_close() {
    const SENT: usize = 0;
    const HANDED_BACK: usize = 1;
    const CLOSE_WOKE_SENDER: usize = 2;
    let cov = Coverage::new(
        "loom_array_send_races_close",
        &[
            "sent, received after all",
            "handed back (closed first)",
            "close released a parked sender",
        ],
    );
    let c = cov.clone();
    builder(Some(3)).check(move || {
        c.execution();
        let ex = Execution::new();
        let a = Arc::new(Array::<u64>::new(1));
        assert!(a.try_send(1).is_ok(), "fill the ring");
        let sender = {
            let a = a.clone();
            thread::spawn(move || match a.send(7, None) {
                Ok(()) => None,
                Err(Blocked::Closed(v)) => Some(v),
                Err(Blocked::Timeout(_)) => panic!("timeout without a deadline"),
            })
        };
        let receiver = {
            let a = a.clone();
            thread::spawn(move || a.recv(None).expect("no deadline"))
        };
        assert!(a.close(), "first close");
        let back = sender.join().expect("sender panicked");
        let first = receiver.join().expect("receiver panicked");
        assert_eq!(first, Some(1), "the buffered value is received first, once");
        // Closed: what is left drains, then `None`.
        let rest = a.recv(None).expect("no deadline");
        assert_eq!(a.recv(None), Ok(None), "closed and drained");
        match (rest, back) {
            (Some(7), None) => c.hit(SENT),
            (None, Some(7)) => {
                c.hit(HANDED_BACK);
                if ex.parked(WaitReason::ChanSend) {
                    c.hit(CLOSE_WOKE_SENDER);
                }
            }
            (rest, back) => {
                panic!("value lost or duplicated: drained {rest:?}, handed back {back:?}")
            }
        }
        assert!(!a.close(), "second close");
    });
    cov.assert_all_reached();
}

/// A receiver blocked on the empty ring is woken by a send: no lost wakeup (loom reports a
/// receiver never unparked as a deadlock), whether the send lands before the receiver looks,
/// between its registration and its park, or after it parked.
#[test]
fn loom_array_recv_woken_by_send() {
    const RECEIVER_PARKED: usize = 0;
    const RECEIVER_NOT_PARKED: usize = 1;
    let cov = Coverage::new(
        "loom_array_recv_woken_by_send",
        &["the receiver parked", "the receiver did not park"],
    );
    let c = cov.clone();
    builder(UNBOUNDED).check(move || {
        c.execution();
        let ex = Execution::new();
        let a = Arc::new(Array::<u64>::new(1));
        let receiver = {
            let a = a.clone();
            thread::spawn(move || a.recv(None))
        };
        assert!(a.send(5, None).is_ok(), "the send failed");
        assert_eq!(
            receiver.join().expect("receiver panicked"),
            Ok(Some(5)),
            "the value arrives exactly once"
        );
        if ex.parked(WaitReason::ChanReceive) {
            c.hit(RECEIVER_PARKED);
        } else {
            c.hit(RECEIVER_NOT_PARKED);
        }
    });
    cov.assert_all_reached();
}

/// A receive with a deadline on an empty capacity-1 ring, racing a send and the clock: the
/// receive gets the value (before the deadline, or after it when the send won the race with
/// the withdrawal), or it times out, withdrawn and unregistered, and the value is in the ring
/// for the next receive. Never lost, never received twice; the receiver's registration never
/// outlives it; a receiver that parked is woken by the send or by the clock (loom reports
/// one woken by neither as a deadlock).
#[test]
fn loom_array_recv_deadline_races_send() {
    const RECEIVED: usize = 0;
    const RECEIVED_AFTER_DEADLINE: usize = 1;
    const TIMED_OUT: usize = 2;
    const RECEIVER_PARKED: usize = 3;
    let cov = Coverage::new(
        "loom_array_recv_deadline_races_send",
        &[
            "received before the deadline",
            "received although the deadline passed",
            "timed out, the value left in the ring",
            "the receiver parked",
        ],
    );
    let c = cov.clone();
    builder(Some(3)).check(move || {
        c.execution();
        let ex = Execution::new();
        let clock = ex.clock();
        let a = Arc::new(Array::<u64>::new(1));
        let sender = {
            let a = a.clone();
            thread::spawn(move || a.send(7, None).is_ok())
        };
        let timer = thread::spawn(move || clock.fire());
        let got = a.recv(Some(Instant::now()));
        assert!(sender.join().expect("sender panicked"), "the send failed");
        timer.join().expect("timer panicked");
        match got {
            Ok(Some(v)) => {
                assert_eq!(v, 7);
                assert!(a.is_empty(), "received and still in the ring: twice");
                c.hit(if ex.timed_out() {
                    RECEIVED_AFTER_DEADLINE
                } else {
                    RECEIVED
                });
            }
            Ok(None) => panic!("recv saw a close that never happened"),
            Err(RecvTimeoutError) => {
                // The send has returned: the value must be in the ring.
                assert_eq!(a.try_recv().ok(), Some(7), "the value was lost on timeout");
                c.hit(TIMED_OUT);
            }
        }
        if ex.parked(WaitReason::ChanReceive) {
            c.hit(RECEIVER_PARKED);
        }
        assert_eq!(
            a.registrations(),
            (0, 0),
            "a registration (senders, receivers) outlived its operation"
        );
    });
    cov.assert_all_reached();
}

// ---------------------------------------------------------------------------------------------
// Select: one Cx, several cases
// ---------------------------------------------------------------------------------------------

/// `select::run` over receives on two unbuffered channels, each with a sender: exactly one
/// case completes with its own channel's value; the other sender's value is not consumed (it
/// is still pending, and a plain receive gets it afterwards). Outcomes: each case chosen; the
/// select parked and claimed, or never parked (the poll, or a registration, found a sender);
/// the losing sender parked.
#[test]
fn loom_select_two_recv_cases() {
    const CASE_A: usize = 0;
    const CASE_B: usize = 1;
    const SELECT_PARKED: usize = 2;
    const SELECT_NOT_PARKED: usize = 3;
    const LOSER_PARKED: usize = 4;
    let cov = Coverage::new(
        "loom_select_two_recv_cases",
        &[
            "case a chosen",
            "case b chosen",
            "select parked, then claimed",
            "select never parked",
            "a sender parked",
        ],
    );
    let c = cov.clone();
    builder(SELECT_BOUND).check(move || {
        c.execution();
        let ex = Execution::new();
        let (a, b) = (crate::make::<u64>(0), crate::make::<u64>(0));
        let senders: Vec<_> = [(a.clone(), 1), (b.clone(), 2)]
            .into_iter()
            .map(|(ch, v)| thread::spawn(move || zero_of(&ch).send(v, None).is_ok()))
            .collect();
        let mut ca = RecvCase::new(&a);
        let mut cb = RecvCase::new(&b);
        let chosen = {
            let mut cases: [&mut dyn Case; 2] = [&mut ca, &mut cb];
            select::run(&mut cases, false, None)
        };
        let (got, other, later) = match chosen {
            Selected::Case(0) => {
                c.hit(CASE_A);
                assert!(cb.out.is_none(), "the other case completed too");
                (ca.out.take(), 2, zero_of(&b).recv(None))
            }
            Selected::Case(1) => {
                c.hit(CASE_B);
                assert!(ca.out.is_none(), "the other case completed too");
                (cb.out.take(), 1, zero_of(&a).recv(None))
            }
            other => panic!("select returned {other:?}"),
        };
        let want = 3 - other;
        assert_eq!(got, Some(Some(want)), "the chosen case's value");
        assert_eq!(later, Ok(Some(other)), "the other sender's value");
        for s in senders {
            assert!(s.join().expect("sender panicked"), "a send failed");
        }
        assert_no_registrations(zero_of(&a));
        assert_no_registrations(zero_of(&b));
        c.hit(if ex.parked(WaitReason::Select) {
            SELECT_PARKED
        } else {
            SELECT_NOT_PARKED
        });
        if ex.parked(WaitReason::ChanSend) {
            c.hit(LOSER_PARKED);
        }
    });
    cov.assert_all_reached();
}

/// `select::run` over sends on two unbuffered channels, each with a receiver: exactly one case
/// completes; the other case's value is handed back to the select (`SendCase::value`), and a
/// plain send of it afterwards reaches the other receiver. Each value arrives exactly once.
/// Outcomes as in `loom_select_two_recv_cases`.
#[test]
fn loom_select_two_send_cases() {
    const CASE_A: usize = 0;
    const CASE_B: usize = 1;
    const SELECT_PARKED: usize = 2;
    const SELECT_NOT_PARKED: usize = 3;
    const RECEIVER_PARKED: usize = 4;
    let cov = Coverage::new(
        "loom_select_two_send_cases",
        &[
            "case a chosen",
            "case b chosen",
            "select parked, then claimed",
            "select never parked",
            "a receiver parked",
        ],
    );
    let c = cov.clone();
    builder(SELECT_BOUND).check(move || {
        c.execution();
        let ex = Execution::new();
        let (a, b) = (crate::make::<u64>(0), crate::make::<u64>(0));
        let receivers: Vec<_> = [a.clone(), b.clone()]
            .into_iter()
            .map(|ch| thread::spawn(move || zero_of(&ch).recv(None)))
            .collect();
        let mut ca = SendCase::new(&a, 1);
        let mut cb = SendCase::new(&b, 2);
        let chosen = {
            let mut cases: [&mut dyn Case; 2] = [&mut ca, &mut cb];
            select::run(&mut cases, false, None)
        };
        let (other, unsent) = match chosen {
            Selected::Case(0) => {
                c.hit(CASE_A);
                assert_eq!(ca.value, None, "the chosen case kept its value");
                (&b, cb.value.take())
            }
            Selected::Case(1) => {
                c.hit(CASE_B);
                assert_eq!(cb.value, None, "the chosen case kept its value");
                (&a, ca.value.take())
            }
            other => panic!("select returned {other:?}"),
        };
        let unsent = unsent.expect("the other case's value was not handed back");
        assert!(zero_of(other).send(unsent, None).is_ok(), "second send");
        let got: Vec<_> = receivers
            .into_iter()
            .map(|r| r.join().expect("receiver panicked"))
            .collect();
        assert_eq!(got, [Ok(Some(1)), Ok(Some(2))], "each value exactly once");
        assert_no_registrations(zero_of(&a));
        assert_no_registrations(zero_of(&b));
        c.hit(if ex.parked(WaitReason::Select) {
            SELECT_PARKED
        } else {
            SELECT_NOT_PARKED
        });
        if ex.parked(WaitReason::ChanReceive) {
            c.hit(RECEIVER_PARKED);
        }
    });
    cov.assert_all_reached();
}

/// The claim/withdraw race itself: one `Cx` registered (as a select does) for receive cases on
/// two unbuffered channels; a `try_send` on each channel tries to claim it while its owner
/// withdraws (`try_abort`, as on a timeout). Exactly one of the three wins; a packet holds a
/// value iff its claimer won; the losers' values stay with them (`Full`).
#[test]
fn loom_cx_withdraw_races_two_claimers() {
    const WITHDRAWN: usize = 0;
    const CLAIMED_A: usize = 1;
    const CLAIMED_B: usize = 2;
    let cov = Coverage::new(
        "loom_cx_withdraw_races_two_claimers",
        &["withdrawal won", "claimer a won", "claimer b won"],
    );
    let c = cov.clone();
    builder(Some(4)).check(move || {
        c.execution();
        let za = Arc::new(Zero::<u64>::new());
        let zb = Arc::new(Zero::<u64>::new());
        let cx = Cx::new();
        let mut pa = Packet::new(None);
        let mut pb = Packet::new(None);
        assert!(!za.register_recv(&cx, 0, &mut pa), "nobody sends yet");
        assert!(!zb.register_recv(&cx, 1, &mut pb), "nobody sends yet");
        let claimers: Vec<_> = [(za.clone(), 10), (zb.clone(), 20)]
            .into_iter()
            .map(|(z, v)| {
                thread::spawn(move || match z.try_send(v) {
                    Ok(()) => None,
                    Err(TrySend::Full(v)) => Some(v),
                    Err(TrySend::Closed(_)) => panic!("not closed"),
                })
            })
            .collect();
        let chosen = cx.try_abort();
        // As select::run: unregister every case, then complete the chosen one. From here on
        // the packets are ours again (loom checks the claimer's write happened before).
        za.unregister(&cx);
        zb.unregister(&cx);
        if let Some(case) = chosen {
            let p = if case == 0 { &pa } else { &pb };
            assert_eq!(p.wait_done(), 1, "claimed packet marked DONE (1)");
        }
        // SAFETY: unregistered from both channels: nobody else can reach the packets.
        let (va, vb) = unsafe { (pa.take(), pb.take()) };
        let back: Vec<Option<u64>> = claimers
            .into_iter()
            .map(|t| t.join().expect("claimer panicked"))
            .collect();
        match chosen {
            None => {
                c.hit(WITHDRAWN);
                assert_eq!((va, vb), (None, None), "a packet written after withdrawal");
                assert_eq!(back, [Some(10), Some(20)], "a claimer lost its value");
            }
            Some(0) => {
                c.hit(CLAIMED_A);
                assert_eq!((va, vb), (Some(10), None));
                assert_eq!(back, [None, Some(20)]);
            }
            Some(1) => {
                c.hit(CLAIMED_B);
                assert_eq!((va, vb), (None, Some(20)));
                assert_eq!(back, [Some(10), None]);
            }
            Some(other) => panic!("claimed for case {other}"),
        }
        assert_eq!(
            cx.selection(),
            chosen.map_or(Selection::Aborted, Selection::Case),
            "the selected word changed after it was decided"
        );
        assert_no_registrations(&za);
        assert_no_registrations(&zb);
    });
    cov.assert_all_reached();
}
