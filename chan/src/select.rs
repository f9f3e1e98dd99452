//! The select engine (Go's `selectgo`), for any number of cases known at run time (like
//! Go's `reflect.Select`); the `select!` macro expands onto [`run`].
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
//! Each channel is locked on its own while registering, and registration reports whether a
//! case became ready meanwhile (then the select withdraws and polls again), so, unlike Go,
//! no two channel locks are ever held at once and no global lock order is needed.

use crate::chan::{Chan, Flavor, Receiver, Sender};
use crate::waitq::Cx;
use crate::zero::{PACKET_CLOSED, Packet};
use crate::{array, zero};
use runtime::WaitReason;
use std::any::TypeId;
use std::time::{Duration, Instant};

/// What happened to one attempt at a case.
#[doc(hidden)]
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
#[doc(hidden)]
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
    match ch.flavor() {
        None => 0,
        Some(Flavor::Array(a)) => a.version(),
        Some(Flavor::Zero(z)) => z.version() as u128,
    }
}

/// A receive case: `v = <-ch`.
#[doc(hidden)]
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

struct RecvTag<T>(std::marker::PhantomData<T>);
struct SendTag<T>(std::marker::PhantomData<T>);

impl<T> Case for RecvCase<'_, T> {
    fn is_nil(&self) -> bool {
        self.ch.inner.is_none()
    }

    fn try_now(&mut self) -> Outcome {
        let r = match self.ch.flavor() {
            None => return Outcome::NotReady,
            Some(Flavor::Array(a)) => match a.try_recv() {
                Ok(v) => Some(Some(v)),
                Err(array::TryRecv::Closed) => Some(None),
                Err(array::TryRecv::Empty) => None,
            },
            Some(Flavor::Zero(z)) => match z.try_recv(std::ptr::null()) {
                Ok(v) => Some(Some(v)),
                Err(zero::TryRecv::Closed) => Some(None),
                Err(zero::TryRecv::Empty) => None,
            },
        };
        match r {
            Some(v) => {
                self.out = Some(v);
                Outcome::Ready
            }
            None => Outcome::NotReady,
        }
    }

    fn register(&mut self, cx: &Cx, case: usize) -> bool {
        match self.ch.flavor() {
            None => false,
            Some(Flavor::Array(a)) => a.register_recv(cx, case),
            Some(Flavor::Zero(z)) => {
                self.packet = Packet::new(None);
                z.register_recv(cx, case, &self.packet)
            }
        }
    }

    fn unregister(&mut self, cx: &Cx) {
        match self.ch.flavor() {
            None => {}
            Some(Flavor::Array(a)) => a.receivers.unregister(cx),
            Some(Flavor::Zero(z)) => z.unregister(cx),
        }
    }

    fn complete(&mut self) -> Outcome {
        match self.ch.flavor() {
            Some(Flavor::Zero(_)) => {
                self.out = Some(match self.packet.wait_done() {
                    PACKET_CLOSED => None,
                    // SAFETY: done, and unregistered: the packet is ours again.
                    _ => Some(unsafe { self.packet.take() }.expect("sender left a value")),
                });
                Outcome::Ready
            }
            _ => self.try_now(),
        }
    }

    fn version(&self) -> u128 {
        chan_version(self.ch)
    }
}

/// A send case: `ch <- v`.
#[doc(hidden)]
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
        self.ch.inner.is_none()
    }

    fn try_now(&mut self) -> Outcome {
        if self.ch.inner.is_none() {
            return Outcome::NotReady; // A nil channel is never ready; keep the value.
        }
        let Some(v) = self.value.take() else {
            // Already sent by an earlier wait(): a case sends its value once.
            return Outcome::NotReady;
        };
        let back = match self.ch.flavor() {
            None => unreachable!("checked above"),
            Some(Flavor::Array(a)) => a.try_send(v).map_err(|e| match e {
                array::TrySend::Full(v) => {
                    self.value = Some(v);
                    Outcome::NotReady
                }
                array::TrySend::Closed(v) => {
                    self.value = Some(v);
                    Outcome::SendClosed
                }
            }),
            Some(Flavor::Zero(z)) => z.try_send(v, std::ptr::null()).map_err(|e| match e {
                zero::TrySend::Full(v) => {
                    self.value = Some(v);
                    Outcome::NotReady
                }
                zero::TrySend::Closed(v) => {
                    self.value = Some(v);
                    Outcome::SendClosed
                }
            }),
        };
        match back {
            Ok(()) => Outcome::Ready,
            Err(o) => o,
        }
    }

    fn register(&mut self, cx: &Cx, case: usize) -> bool {
        match self.ch.flavor() {
            None => false,
            Some(Flavor::Array(a)) => a.register_send(cx, case),
            Some(Flavor::Zero(z)) => {
                self.packet = Packet::new(self.value.take());
                z.register_send(cx, case, &self.packet)
            }
        }
    }

    fn unregister(&mut self, cx: &Cx) {
        match self.ch.flavor() {
            None => {}
            Some(Flavor::Array(a)) => a.senders.unregister(cx),
            Some(Flavor::Zero(z)) => {
                z.unregister(cx);
                // After unregistering (under the channel lock) a claimer, if any, is done
                // with the packet. Unclaimed or closed: the value is still ours.
                // SAFETY: unregistered: nobody else touches the packet now.
                if let Some(v) = unsafe { self.packet.take() } {
                    self.value = Some(v);
                }
            }
        }
    }

    fn complete(&mut self) -> Outcome {
        match self.ch.flavor() {
            Some(Flavor::Zero(_)) => match self.packet.wait_done() {
                PACKET_CLOSED => Outcome::SendClosed,
                _ => Outcome::Ready,
            },
            _ => self.try_now(),
        }
    }

    fn version(&self) -> u128 {
        chan_version(self.ch)
    }
}

/// Which arm a select took.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Selected {
    /// The case with this index (in the order the cases were added).
    Case(usize),
    /// Nothing was ready and the select has a default.
    Default,
    /// Nothing became ready before the timeout.
    Timeout,
}

#[cfg(not(loom))]
thread_local! {
    static RNG: std::cell::Cell<u64> = std::cell::Cell::new({
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        (t ^ (&t as *const u64 as u64)) | 1
    });
}

/// A random number below `n` (xorshift64*; per thread, never held across a park).
#[cfg(not(loom))]
fn rand_below(n: usize) -> usize {
    RNG.with(|c| {
        let mut x = c.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        c.set(x);
        ((x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) as usize * n) >> 32
    })
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
#[doc(hidden)]
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
    loop {
        if let Some(s) = cx.selected() {
            return if s == crate::waitq::ABORTED {
                None
            } else {
                Some(s - 1)
            };
        }
        match deadline {
            None => crate::shim::park(reason),
            Some(d) => {
                if crate::shim::park_until(reason, d) && cx.selected().is_none() {
                    return cx.try_abort();
                }
            }
        }
    }
}

pub(crate) mod sealed {
    /// The key to the direction traits' methods: public (so the traits can name it) but
    /// unnameable and unconstructible outside this crate, so no user code can call them.
    /// That is what makes a [`crate::Receiver`]'s direction a guarantee: nothing outside
    /// `chan` can turn one back into a [`crate::Chan`].
    pub struct Key(pub(crate) ());
}

/// A handle a receive case can take ([`Select::recv`]): [`Chan`] or [`Receiver`], or a
/// reference to one — never a [`Sender`] (Go's `<-chan T` / `chan<- T` are compile-time
/// directions, and so are goro's). Sealed: implemented only here.
///
/// ```compile_fail
/// let ch = chan::make::<i32>(1);
/// let tx = ch.sender();
/// let mut sel = chan::Select::new();
/// sel.recv(&tx); // error: a Sender cannot be received from
/// ```
pub trait CanRecv<T> {
    /// The channel behind the handle (callable only inside `chan`).
    #[doc(hidden)]
    fn recv_side(&self, key: sealed::Key) -> &Chan<T>;
}

/// A handle a send case can take ([`Select::send`]): [`Chan`] or [`Sender`], or a reference
/// to one — never a [`Receiver`]. Sealed: implemented only here.
///
/// ```compile_fail
/// let ch = chan::make::<i32>(1);
/// let rx = ch.receiver();
/// let mut sel = chan::Select::new();
/// sel.send(&rx, 1); // error: a Receiver cannot be sent on
/// ```
pub trait CanSend<T> {
    /// The channel behind the handle (callable only inside `chan`).
    #[doc(hidden)]
    fn send_side(&self, key: sealed::Key) -> &Chan<T>;
}

impl<T> CanRecv<T> for Chan<T> {
    fn recv_side(&self, _: sealed::Key) -> &Chan<T> {
        self
    }
}

impl<T> CanRecv<T> for Receiver<T> {
    fn recv_side(&self, _: sealed::Key) -> &Chan<T> {
        &self.ch
    }
}

impl<T, C: CanRecv<T> + ?Sized> CanRecv<T> for &C {
    fn recv_side(&self, key: sealed::Key) -> &Chan<T> {
        (**self).recv_side(key)
    }
}

impl<T> CanSend<T> for Chan<T> {
    fn send_side(&self, _: sealed::Key) -> &Chan<T> {
        self
    }
}

impl<T> CanSend<T> for Sender<T> {
    fn send_side(&self, _: sealed::Key) -> &Chan<T> {
        &self.ch
    }
}

impl<T, C: CanSend<T> + ?Sized> CanSend<T> for &C {
    fn send_side(&self, key: sealed::Key) -> &Chan<T> {
        (**self).send_side(key)
    }
}

/// The channel behind a receive-capable handle (for this crate's own use).
pub(crate) fn recv_side<T, C: CanRecv<T> + ?Sized>(c: &C) -> &Chan<T> {
    c.recv_side(sealed::Key(()))
}

/// The channel behind a send-capable handle (for this crate's own use).
pub(crate) fn send_side<T, C: CanSend<T> + ?Sized>(c: &C) -> &Chan<T> {
    c.send_side(sealed::Key(()))
}

/// A select built at run time, over any number of cases (Go's `reflect.Select`).
///
/// ```
/// use chan::{Select, Selected};
/// let a = chan::make::<u32>(1);
/// let b = chan::make::<&str>(1);
/// b.send("hi");
/// let mut sel = Select::new();
/// let ia = sel.recv(&a);
/// let ib = sel.recv(&b);
/// sel.timeout(std::time::Duration::from_secs(1));
/// match sel.wait() {
///     Selected::Case(i) if i == ib => assert_eq!(sel.recv_value::<&str>(ib), Some("hi")),
///     other => panic!("unexpected {other:?} (a is {ia})"),
/// }
/// ```
pub struct Select<'a> {
    cases: Vec<Box<dyn Case + 'a>>,
    /// The concrete type of each case, for the typed accessors (`recv_value`, `unsent`).
    tags: Vec<TypeId>,
    has_default: bool,
    deadline: Option<Instant>,
}

impl Default for Select<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'a> Select<'a> {
    /// A select with no cases yet.
    pub fn new() -> Self {
        Select {
            cases: Vec::new(),
            tags: Vec::new(),
            has_default: false,
            deadline: None,
        }
    }

    /// Adds a receive case on a [`Chan`] or [`Receiver`]; returns its index.
    pub fn recv<T: 'static, C: CanRecv<T> + ?Sized>(&mut self, ch: &'a C) -> usize {
        self.cases.push(Box::new(RecvCase::new(recv_side(ch))));
        self.tags.push(TypeId::of::<RecvTag<T>>());
        self.cases.len() - 1
    }

    /// Adds a send case of `v` on a [`Chan`] or [`Sender`]; returns its index. If another
    /// case is chosen, the value can be taken back with [`Select::unsent`].
    pub fn send<T: 'static, C: CanSend<T> + ?Sized>(&mut self, ch: &'a C, v: T) -> usize {
        self.cases.push(Box::new(SendCase::new(send_side(ch), v)));
        self.tags.push(TypeId::of::<SendTag<T>>());
        self.cases.len() - 1
    }

    /// Adds a default arm: `wait` returns [`Selected::Default`] at once if nothing is ready.
    pub fn default(&mut self) {
        self.has_default = true;
    }

    /// Adds a timeout arm: [`Selected::Timeout`] if nothing is ready within `d`.
    pub fn timeout(&mut self, d: Duration) {
        self.deadline = Some(runtime::deadline_after(d));
    }

    /// Like [`Select::timeout`] with an absolute deadline.
    pub fn deadline(&mut self, at: Instant) {
        self.deadline = Some(at);
    }

    /// Runs the select. Can be called again (e.g. in a loop) with the same cases.
    ///
    /// # Panics
    /// `send on closed channel` if the chosen case is a send on a closed channel.
    pub fn wait(&mut self) -> Selected {
        let mut refs: Vec<&mut dyn Case> = self
            .cases
            .iter_mut()
            .map(|c| &mut **c as &mut dyn Case)
            .collect();
        run(&mut refs, self.has_default, self.deadline)
    }

    /// The result of receive case `index` after it was chosen: `Some(v)`, or `None` if the
    /// channel was closed. Panics if `index` is not a receive case of `T` or was not chosen.
    pub fn recv_value<T: 'static>(&mut self, index: usize) -> Option<T> {
        assert!(
            self.tags[index] == TypeId::of::<RecvTag<T>>(),
            "select case {index} is not a receive of {}",
            std::any::type_name::<T>()
        );
        let c = &mut self.cases[index];
        // SAFETY: the tag proves the box holds a RecvCase<'a, T>.
        let rc = unsafe { &mut *(&mut **c as *mut dyn Case as *mut RecvCase<'a, T>) };
        rc.out
            .take()
            .unwrap_or_else(|| panic!("select case {index} was not chosen"))
    }

    /// The value of send case `index` if it was not sent. Panics if `index` is not a send
    /// case of `T`.
    pub fn unsent<T: 'static>(&mut self, index: usize) -> Option<T> {
        assert!(
            self.tags[index] == TypeId::of::<SendTag<T>>(),
            "select case {index} is not a send of {}",
            std::any::type_name::<T>()
        );
        let c = &mut self.cases[index];
        // SAFETY: the tag proves the box holds a SendCase<'a, T>.
        let sc = unsafe { &mut *(&mut **c as *mut dyn Case as *mut SendCase<'a, T>) };
        sc.value.take()
    }
}
