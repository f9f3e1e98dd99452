//! The select engine (Go's `selectgo`), for any number of cases known at run time; both the
//! `select!` macro and the dynamic [`Select`](crate::Select) run on [`run`]. What the
//! macro's expansion names from here is re-exported by `crate::__private`: none of it is
//! public API.
//!
//! 1. Poll the cases in a uniformly random order (a Fisher-Yates shuffle: uniform among the
//!    ready cases, as Go's fairness test demands; a random start rotation is not).
//! 2. The first ready case runs. With a `default`, if none is ready, default runs.
//! 3. Otherwise register one waiter per case, all sharing one "selected" word ([`Cx`]),
//!    park (until the deadline, for a timeout arm), and when woken withdraw from every case.
//!    The case whose channel claimed the word completes: an unbuffered handoff already moved
//!    the value; a buffered case retries its operation (and the loop starts over if another
//!    goroutine got there first).
//!
//! A case does not know its channel's flavour: it calls the [`Flavour`] trait through
//! [`with_flavour!`], and each flavour implements its own register, unregister and complete.
//!
//! Each channel is locked on its own while registering, and registration reports whether a
//! case became ready meanwhile (then the select withdraws and polls again), so, unlike Go,
//! no two channel locks are ever held at once and no global lock order is needed.

use crate::chan::{Chan, with_flavour};
use crate::flavour::Flavour;
use crate::select::Selected;
use crate::waitq::Cx;
use crate::zero::Packet;
use runtime::WaitReason;
use std::time::Instant;

/// What happened to one attempt at a case.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Outcome {
    /// Not ready: nothing happened.
    NotReady,
    /// The operation happened.
    Ready,
    /// A send found the channel closed (the select must panic, as Go's does).
    SendClosed,
}

/// A select case, type-erased for the engine. Implemented by [`RecvCase`] and [`SendCase`].
pub trait Case {
    /// Never ready (a nil channel).
    fn is_nil(&self) -> bool;
    /// Performs the operation if it can proceed now.
    fn try_now(&mut self) -> Outcome;
    /// Registers for wakeup; true if the case may be ready now (do not park).
    fn register(&mut self, cx: &Cx, case: usize) -> bool;
    /// Withdraws the registration (after it, nobody touches this case's state).
    fn unregister(&mut self, cx: &Cx);
    /// Finishes after this case claimed the select.
    fn complete(&mut self) -> Outcome;
    /// The channel's change counter (0 for nil): equal before and after a poll proves the
    /// poll's "not ready" held throughout.
    fn version(&self) -> u128;
}

fn chan_version<T>(ch: &Chan<T>) -> u128 {
    with_flavour!(ch, nil => 0, f => f.version())
}

/// A receive case: `v = <-ch`.
pub struct RecvCase<'a, T> {
    ch: &'a Chan<T>,
    /// `Some(Some(v))` received, `Some(None)` closed, `None` not chosen.
    pub out: Option<Option<T>>,
    packet: Packet<T>,
}

impl<'a, T> RecvCase<'a, T> {
    /// A receive case on `ch`.
    pub fn new(ch: &'a Chan<T>) -> Self {
        RecvCase {
            ch,
            out: None,
            packet: Packet::new(None),
        }
    }
}

impl<T> Case for RecvCase<'_, T> {
    fn is_nil(&self) -> bool {
        self.ch.is_nil()
    }

    fn try_now(&mut self) -> Outcome {
        match with_flavour!(self.ch, nil => None, f => f.recv_now()) {
            Some(v) => {
                self.out = Some(v);
                Outcome::Ready
            }
            None => Outcome::NotReady,
        }
    }

    fn register(&mut self, cx: &Cx, case: usize) -> bool {
        with_flavour!(self.ch, nil => false, f => f.register_recv(cx, case, &mut self.packet))
    }

    fn unregister(&mut self, cx: &Cx) {
        with_flavour!(self.ch, nil => {}, f => f.unregister_recv(cx))
    }

    fn complete(&mut self) -> Outcome {
        match with_flavour!(self.ch, nil => None, f => f.complete_recv(&self.packet)) {
            Some(v) => {
                self.out = Some(v);
                Outcome::Ready
            }
            None => Outcome::NotReady,
        }
    }

    fn version(&self) -> u128 {
        chan_version(self.ch)
    }
}

/// A send case: `ch <- v`.
pub struct SendCase<'a, T> {
    ch: &'a Chan<T>,
    /// The value while it has not been sent (handed back if the case is not chosen).
    pub value: Option<T>,
    packet: Packet<T>,
}

impl<'a, T> SendCase<'a, T> {
    /// A send case of `v` on `ch`.
    pub fn new(ch: &'a Chan<T>, v: T) -> Self {
        SendCase {
            ch,
            value: Some(v),
            packet: Packet::new(None),
        }
    }
}

impl<T> Case for SendCase<'_, T> {
    fn is_nil(&self) -> bool {
        self.ch.is_nil()
    }

    /// A nil channel is never ready (the value stays); a value already sent is not sent
    /// again.
    fn try_now(&mut self) -> Outcome {
        with_flavour!(self.ch, nil => Outcome::NotReady, f => f.send_now(&mut self.value))
    }

    fn register(&mut self, cx: &Cx, case: usize) -> bool {
        with_flavour!(self.ch, nil => false, f => {
            f.register_send(cx, case, &mut self.packet, &mut self.value)
        })
    }

    fn unregister(&mut self, cx: &Cx) {
        with_flavour!(self.ch, nil => {}, f => {
            f.unregister_send(cx, &self.packet, &mut self.value)
        })
    }

    fn complete(&mut self) -> Outcome {
        with_flavour!(self.ch, nil => Outcome::NotReady, f => {
            f.complete_send(&self.packet, &mut self.value)
        })
    }

    fn version(&self) -> u128 {
        chan_version(self.ch)
    }
}

#[cfg(not(loom))]
thread_local! {
    static RNG: runtime::__kit::FastRand = runtime::__kit::FastRand::new({
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        (t ^ (&t as *const u64 as u64)) | 1
    });
}

/// A random number below `n` (`FastRand`, per thread, never held across a park).
#[cfg(not(loom))]
fn rand_below(n: usize) -> usize {
    RNG.with(|r| r.below(n))
}

/// Under loom the poll order must be the same in every execution (loom replays schedules;
/// a seed from the clock would change the program between replays): always 0, which makes
/// the order of two cases `[1, 0]`.
#[cfg(loom)]
fn rand_below(_n: usize) -> usize {
    0
}

/// Runs a select over `cases`: see the module docs. `has_default` makes it non-blocking;
/// `deadline` adds a timeout arm. A select with no cases, no default and no deadline blocks
/// forever (Go's `select {}`).
///
/// # Panics
/// `send on closed channel` if the chosen case is a send on a closed channel.
pub fn run(cases: &mut [&mut dyn Case], has_default: bool, deadline: Option<Instant>) -> Selected {
    let n = cases.len();
    let mut small = [0usize; 16];
    let mut big = Vec::new();
    let order: &mut [usize] = if n <= small.len() {
        &mut small[..n]
    } else {
        big.resize(n, 0);
        &mut big
    };
    for (i, o) in order.iter_mut().enumerate() {
        *o = i;
    }
    for i in (1..n).rev() {
        order.swap(i, rand_below(i + 1));
    }
    let mut versions_small = [0u128; 16];
    let mut versions_big = Vec::new();
    let versions: &mut [u128] = if n <= versions_small.len() {
        &mut versions_small[..n]
    } else {
        versions_big.resize(n, 0);
        &mut versions_big
    };
    loop {
        if has_default {
            for (v, c) in versions.iter_mut().zip(cases.iter()) {
                *v = c.version();
            }
        }
        for &i in order.iter() {
            match cases[i].try_now() {
                Outcome::Ready => return Selected::Case(i),
                Outcome::SendClosed => panic!("send on closed channel"),
                Outcome::NotReady => {}
            }
        }
        if has_default {
            // Go polls with every channel locked, so `default` means "nothing was ready at
            // one instant". We poll one channel at a time; if no channel changed between the
            // reads before and after the poll, each "not ready" held throughout, hence at a
            // common instant (a double-collect snapshot). Otherwise poll again.
            if versions
                .iter()
                .zip(cases.iter())
                .all(|(v, c)| *v == c.version())
            {
                return Selected::Default;
            }
            continue;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Selected::Timeout;
        }
        let cx = Cx::new();
        let mut registered = 0;
        let mut ready = false;
        for &i in order.iter() {
            if cases[i].is_nil() {
                registered += 1;
                continue;
            }
            registered += 1;
            if cases[i].register(&cx, i) {
                ready = true;
                break;
            }
        }
        let chosen = if ready {
            cx.try_abort()
        } else {
            wait(&cx, deadline, n)
        };
        for &i in &order[..registered] {
            cases[i].unregister(&cx);
        }
        match chosen {
            Some(i) => match cases[i].complete() {
                Outcome::Ready => return Selected::Case(i),
                Outcome::SendClosed => panic!("send on closed channel"),
                Outcome::NotReady => {} // Someone else took it: poll again.
            },
            None => {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Selected::Timeout;
                }
            }
        }
    }
}

/// Parks until a case claims `cx` (returns it) or the deadline passes and withdrawing wins.
fn wait(cx: &Cx, deadline: Option<Instant>, ncases: usize) -> Option<usize> {
    let reason = if ncases == 0 {
        WaitReason::SelectNoCases
    } else {
        WaitReason::Select
    };
    cx.wait_until_decided(deadline, reason)
}
