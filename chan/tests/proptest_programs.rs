//! Property tests: random programs over 2-3 channels of random capacities (0 to 3).
//!
//! A program has 1-4 senders, each sending its own numbered sequence of values with a random
//! mix of plain `send`, `try_send` retried until it succeeds, `send_timeout` retried, and
//! `Select` send cases (over one or several channels, with a short timeout arm or a default
//! arm, retried with the value `unsent` hands back); 1-4 receivers (ranging over one channel,
//! or selecting over several until they are all closed, with or without a timeout arm); and
//! at most one closer, which closes one channel as soon as every sender that may send on it
//! is done. Goroutines and plain threads are mixed at random. The harness closes the other
//! channels when every sender is done.
//!
//! Properties: every value sent is received exactly once, on a channel it was sent to; for
//! each receiver, the values it got from one sender on one channel come in increasing
//! sequence order (per-sender FIFO); and the program finishes (a watchdog fails the test
//! with a goroutine dump otherwise).

#[path = "../../runtime/tests/common/mod.rs"]
mod common;

use chan::{Chan, Select, Selected, SendTimeoutError, TrySendError};
use proptest::prelude::*;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How one value is sent.
#[derive(Debug, Clone)]
enum SendOp {
    /// `ch.send(v)`.
    Plain(usize),
    /// `ch.try_send(v)`, retried (with a yield) while `Full`.
    Try(usize),
    /// `ch.send_timeout(v, micros)`, retried while it times out.
    Timeout(usize, u64),
    /// A select with one send case per target channel, plus either a timeout arm of
    /// `Some(micros)` or a default arm (`None`); retried while neither send is chosen.
    Select(Vec<usize>, Option<u64>),
}

impl SendOp {
    fn targets(&self) -> Vec<usize> {
        match self {
            SendOp::Plain(c) | SendOp::Try(c) | SendOp::Timeout(c, _) => vec![*c],
            SendOp::Select(cs, _) => cs.clone(),
        }
    }
}

#[derive(Debug, Clone)]
struct SenderSpec {
    on_thread: bool,
    ops: Vec<SendOp>,
}

/// How a receiver receives.
#[derive(Debug, Clone)]
enum RecvSpec {
    /// `for v in &ch` on one channel.
    Range(usize),
    /// Selects over these channels until each has reported closed; with a timeout arm of
    /// `Some(micros)` (looping on timeouts) or none.
    Select(Vec<usize>, Option<u64>),
}

#[derive(Debug, Clone)]
struct Program {
    caps: Vec<usize>,
    senders: Vec<SenderSpec>,
    receivers: Vec<(bool, RecvSpec)>,
    /// The channel the closer closes, if there is a closer.
    closer: Option<usize>,
}

fn channel_set(n: usize) -> impl Strategy<Value = Vec<usize>> {
    proptest::sample::subsequence((0..n).collect::<Vec<_>>(), 1..=n)
}

fn send_op(n: usize) -> impl Strategy<Value = SendOp> {
    prop_oneof![
        3 => (0..n).prop_map(SendOp::Plain),
        1 => (0..n).prop_map(SendOp::Try),
        1 => (0..n, 1..300u64).prop_map(|(c, us)| SendOp::Timeout(c, us)),
        3 => (channel_set(n), prop::option::weighted(0.8, 1..300u64))
            .prop_map(|(cs, t)| SendOp::Select(cs, t)),
    ]
}

fn recv_spec(n: usize) -> impl Strategy<Value = RecvSpec> {
    prop_oneof![
        (0..n).prop_map(RecvSpec::Range),
        (channel_set(n), prop::option::of(1..300u64)).prop_map(|(cs, t)| RecvSpec::Select(cs, t)),
    ]
}

fn program() -> impl Strategy<Value = Program> {
    (2..=3usize).prop_flat_map(|n| {
        (
            prop::collection::vec(0..4usize, n),
            prop::collection::vec(
                (
                    prop::bool::weighted(0.25),
                    prop::collection::vec(send_op(n), 0..=24),
                )
                    .prop_map(|(on_thread, ops)| SenderSpec { on_thread, ops }),
                1..=4,
            ),
            prop::collection::vec((prop::bool::weighted(0.25), recv_spec(n)), 1..=4),
            prop::option::of(0..n),
        )
            .prop_map(move |(caps, senders, mut receivers, closer)| {
                // Every channel needs a receiver, or its senders could block forever.
                for c in 0..n {
                    let covered = receivers.iter().any(|(_, r)| match r {
                        RecvSpec::Range(x) => *x == c,
                        RecvSpec::Select(cs, _) => cs.contains(&c),
                    });
                    if !covered {
                        receivers.push((false, RecvSpec::Range(c)));
                    }
                }
                Program {
                    caps,
                    senders,
                    receivers,
                    closer,
                }
            })
    })
}

/// A goroutine or a thread, joined alike.
enum Handle<T> {
    G(runtime::JoinHandle<T>),
    T(std::thread::JoinHandle<T>),
}

impl<T: Send + 'static> Handle<T> {
    fn start(on_thread: bool, f: impl FnOnce() -> T + Send + 'static) -> Handle<T> {
        if on_thread {
            Handle::T(std::thread::spawn(f))
        } else {
            Handle::G(runtime::spawn(f))
        }
    }

    fn join(self) -> T {
        let r = match self {
            Handle::G(h) => h.join(),
            Handle::T(h) => h.join(),
        };
        r.unwrap_or_else(|p| std::panic::resume_unwind(p))
    }
}

fn tag(sender: usize, seq: usize) -> u64 {
    ((sender as u64) << 32) | seq as u64
}

fn untag(v: u64) -> (usize, usize) {
    ((v >> 32) as usize, (v & 0xffff_ffff) as usize)
}

/// Sends `v` as `op` says, retrying until it is sent.
fn send_one(chans: &[Chan<u64>], op: &SendOp, v: u64) {
    match op {
        SendOp::Plain(c) => chans[*c].send(v),
        SendOp::Try(c) => {
            let mut v = v;
            loop {
                match chans[*c].try_send(v) {
                    Ok(()) => return,
                    Err(TrySendError::Full(back)) => {
                        assert_eq!(back, v, "try_send handed back another value");
                        v = back;
                        runtime::gosched();
                    }
                    Err(TrySendError::Closed(_)) => panic!("try_send: channel {c} closed early"),
                }
            }
        }
        SendOp::Timeout(c, us) => {
            let mut v = v;
            while let Err(SendTimeoutError(back)) =
                chans[*c].send_timeout(v, Duration::from_micros(*us))
            {
                v = back;
            }
        }
        SendOp::Select(cs, timeout) => loop {
            let mut sel = Select::new();
            let idx: Vec<usize> = cs.iter().map(|&c| sel.send(&chans[c], v)).collect();
            match timeout {
                Some(us) => sel.timeout(Duration::from_micros(*us)),
                None => sel.default(),
            }
            match sel.wait() {
                Selected::Case(i) => {
                    for &j in &idx {
                        let back = sel.unsent::<u64>(j);
                        let expect = if j == i { None } else { Some(v) };
                        assert_eq!(back, expect, "send case {j} (chosen: {i}) value");
                    }
                    return;
                }
                Selected::Timeout | Selected::Default => {
                    for &j in &idx {
                        assert_eq!(sel.unsent::<u64>(j), Some(v), "unsent after no choice");
                    }
                    runtime::gosched();
                }
            }
        },
    }
}

/// Receives as `spec` says until its channels are closed; returns (channel, value) pairs.
fn receive_all(chans: &[Chan<u64>], spec: &RecvSpec) -> Vec<(usize, u64)> {
    match spec {
        RecvSpec::Range(c) => chans[*c].iter().map(|v| (*c, v)).collect(),
        RecvSpec::Select(cs, timeout) => {
            let mut open: Vec<usize> = cs.clone();
            let mut got = Vec::new();
            while !open.is_empty() {
                let mut sel = Select::new();
                for &c in &open {
                    sel.recv(&chans[c]);
                }
                if let Some(us) = timeout {
                    sel.timeout(Duration::from_micros(*us));
                }
                match sel.wait() {
                    Selected::Case(i) => match sel.recv_value::<u64>(i) {
                        Some(v) => got.push((open[i], v)),
                        None => {
                            open.remove(i);
                        }
                    },
                    Selected::Timeout => {}
                    Selected::Default => unreachable!("no default arm"),
                }
            }
            got
        }
    }
}

/// Runs the program; returns what each receiver got.
fn run(p: &Program) -> Vec<Vec<(usize, u64)>> {
    let chans: Arc<Vec<Chan<u64>>> = Arc::new(p.caps.iter().map(|&c| chan::make(c)).collect());
    // Senders report here when done (buffered: never blocks).
    let done = chan::make::<usize>(p.senders.len());

    let receivers: Vec<_> = p
        .receivers
        .iter()
        .cloned()
        .map(|(on_thread, spec)| {
            let chans = chans.clone();
            Handle::start(on_thread, move || receive_all(&chans, &spec))
        })
        .collect();
    let closer = p.closer.map(|c| {
        let (chans, done) = (chans.clone(), done.clone());
        let mut waiting_for: HashSet<usize> = p
            .senders
            .iter()
            .enumerate()
            .filter(|(_, s)| s.ops.iter().any(|op| op.targets().contains(&c)))
            .map(|(i, _)| i)
            .collect();
        runtime::spawn(move || {
            while !waiting_for.is_empty() {
                let s = done.recv().expect("done channel closed");
                waiting_for.remove(&s);
            }
            chans[c].close();
        })
    });
    let senders: Vec<_> = p
        .senders
        .iter()
        .cloned()
        .enumerate()
        .map(|(s, spec)| {
            let (chans, done) = (chans.clone(), done.clone());
            Handle::start(spec.on_thread, move || {
                for (q, op) in spec.ops.iter().enumerate() {
                    send_one(&chans, op, tag(s, q));
                }
                done.send(s);
            })
        })
        .collect();

    senders.into_iter().for_each(Handle::join);
    if let Some(h) = closer {
        h.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
    }
    for c in chans.iter() {
        if !c.is_closed() {
            c.close();
        }
    }
    receivers.into_iter().map(Handle::join).collect()
}

fn check(p: &Program, got: &[Vec<(usize, u64)>]) -> Result<(), TestCaseError> {
    let mut seen: HashMap<u64, usize> = HashMap::new();
    for (r, vals) in got.iter().enumerate() {
        let mut last: HashMap<(usize, usize), usize> = HashMap::new();
        for &(c, v) in vals {
            let (s, q) = untag(v);
            prop_assert!(
                s < p.senders.len() && q < p.senders[s].ops.len(),
                "receiver {} got an unknown value {:?}",
                r,
                (s, q)
            );
            let op = &p.senders[s].ops[q];
            prop_assert!(
                op.targets().contains(&c),
                "value {:?} sent by {:?} arrived on channel {}",
                (s, q),
                op,
                c
            );
            prop_assert!(
                seen.insert(v, r).is_none(),
                "value {:?} delivered twice (receivers {} and {})",
                (s, q),
                seen[&v],
                r
            );
            if let Some(&prev) = last.get(&(s, c)) {
                prop_assert!(
                    q > prev,
                    "receiver {} got sender {}'s #{} after #{} on channel {}: FIFO broken",
                    r,
                    s,
                    q,
                    prev,
                    c
                );
            }
            last.insert((s, c), q);
        }
    }
    let sent: usize = p.senders.iter().map(|s| s.ops.len()).sum();
    prop_assert_eq!(seen.len(), sent, "values lost");
    Ok(())
}

/// Prints the program if it is still running after `secs` (just before the watchdog kills
/// the process with a goroutine dump), so a hang can be reproduced.
fn describe_if_hung(p: &Program, secs: u64) -> Arc<AtomicBool> {
    let finished = Arc::new(AtomicBool::new(false));
    let (f, text) = (finished.clone(), format!("{p:#?}"));
    std::thread::spawn(move || {
        let deadline = std::time::Instant::now() + Duration::from_secs(secs);
        while std::time::Instant::now() < deadline {
            if f.load(Ordering::SeqCst) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("\nproptest program still running after {secs}s:\n{text}");
    });
    finished
}

proptest! {
    // PROPTEST_CASES overrides the case count, for a longer soak.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(256),
        max_shrink_iters: 200,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_programs_deliver_every_value_once_in_per_sender_order(p in program()) {
        let finished = describe_if_hung(&p, 18);
        let got = common::watchdog(20, || run(&p));
        finished.store(true, Ordering::SeqCst);
        check(&p, &got)?;
    }
}
