//! `Chan<T>`: Go's channel. A cheap handle (clones are the same channel) over one of two
//! flavours: [`crate::zero`] for `make(0)` (rendezvous, direct handoff) and [`crate::array`]
//! for `make(n)` (a lock-free ring).

use crate::array::Array;
use crate::err::{RecvTimeoutError, SendTimeoutError, TryRecvError, TrySendError};
use crate::flavour::{Blocked, Flavour};
use crate::zero::Zero;
use runtime::WaitReason;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The shared state behind a handle: one allocation per channel, of the flavour's own size
/// (an unbuffered channel does not carry the buffered one's padded counters).
pub(crate) enum Shared<T> {
    Array(Arc<Array<T>>),
    Zero(Arc<Zero<T>>),
}

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        match self {
            Shared::Array(a) => Shared::Array(a.clone()),
            Shared::Zero(z) => Shared::Zero(z.clone()),
        }
    }
}

/// Runs `$body` with `$f` bound to the channel's flavour (a `&Array<T>` or a `&Zero<T>`,
/// both [`Flavour`]s), or evaluates `$nil` for the nil channel. `$ch` is a `&Chan<T>` (or a
/// `Chan<T>` place).
///
/// The one place that matches on the flavour (besides `Shared`'s own `Clone`). Each arm is
/// `$body` monomorphised for one flavour, so its trait calls are direct calls the compiler
/// inlines: the code is what a hand-written `match` at each call site gave, with no vtable.
macro_rules! with_flavour {
    ($ch:expr, nil => $nil:expr, $f:ident => $body:expr $(,)?) => {
        match &$ch.inner {
            ::core::option::Option::None => $nil,
            ::core::option::Option::Some($crate::chan::Shared::Array($f)) => {
                let $f: &$crate::array::Array<_> = $f;
                $body
            }
            ::core::option::Option::Some($crate::chan::Shared::Zero($f)) => {
                let $f: &$crate::zero::Zero<_> = $f;
                $body
            }
        }
    };
}
pub(crate) use with_flavour;

/// A channel of `T` (Go's `chan T`). Clone it to share it: every clone is the same channel.
///
/// Dropping the last handle drops the values still buffered. A channel is never closed by
/// dropping handles (as in Go): close it with [`Chan::close`] so that receivers see the end.
///
/// ```
/// let ch = chan::make::<u32>(0);
/// let tx = ch.clone();
/// runtime::go!(move || tx.send(42));
/// assert_eq!(ch.recv(), Some(42));
/// ```
pub struct Chan<T> {
    pub(crate) inner: Option<Shared<T>>,
}

/// Makes a channel: `make::<T>(0)` is unbuffered (Go's `make(chan T)`: a send waits for a
/// receiver and hands the value over directly), `make::<T>(n)` buffers up to `n` values.
///
/// ```
/// let ch = chan::make::<&str>(2);
/// ch.send("a");
/// ch.send("b");
/// assert_eq!((ch.len(), ch.cap()), (2, 2));
/// ch.close();
/// assert_eq!(ch.iter().collect::<Vec<_>>(), ["a", "b"]);
/// ```
pub fn make<T>(cap: usize) -> Chan<T> {
    let f = if cap == 0 {
        Shared::Zero(Arc::new(Zero::new()))
    } else {
        Shared::Array(Arc::new(Array::new(cap)))
    };
    Chan { inner: Some(f) }
}

impl<T> Clone for Chan<T> {
    fn clone(&self) -> Self {
        Chan {
            inner: self.inner.clone(),
        }
    }
}

impl<T> fmt::Debug for Chan<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner {
            None => f.write_str("Chan(nil)"),
            Some(_) => write!(
                f,
                "Chan({:p}, len {}, cap {}{})",
                self.addr(),
                self.len(),
                self.cap(),
                if self.is_closed() { ", closed" } else { "" }
            ),
        }
    }
}

impl<T> PartialEq for Chan<T> {
    /// Two handles are equal if they are the same channel (Go's `==` on channels).
    fn eq(&self, other: &Self) -> bool {
        self.addr() == other.addr()
    }
}
impl<T> Eq for Chan<T> {}

/// An operation on the nil channel: blocks forever, or until `deadline`.
fn park_nil(reason: WaitReason, deadline: Option<Instant>) {
    match deadline {
        None => loop {
            runtime::park(reason);
        },
        Some(d) => while !runtime::park_until(reason, d) {},
    }
}

impl<T> Chan<T> {
    /// Identity of the channel (null for nil): the address of its shared state.
    fn addr(&self) -> *const () {
        with_flavour!(self, nil => std::ptr::null(), f => std::ptr::from_ref(f).cast())
    }

    /// The nil channel (Go's `var ch chan T`): sends and receives block forever, `close`
    /// panics, and in a select its cases are never ready.
    pub fn nil() -> Chan<T> {
        Chan { inner: None }
    }

    /// Whether this is the nil channel.
    pub fn is_nil(&self) -> bool {
        self.inner.is_none()
    }

    /// Sends `v`, waiting for room (buffered) or a receiver (unbuffered).
    ///
    /// # Panics
    /// `send on closed channel` if the channel is closed (before or while waiting), as Go
    /// does. The value is dropped by the unwinding.
    #[track_caller]
    pub fn send(&self, v: T) {
        if let Err(Blocked::Closed(v)) = self.send_until(v, None) {
            drop(v);
            panic!("send on closed channel");
        }
    }

    /// Like [`send`](Chan::send), but gives up after `d` and hands the value back.
    ///
    /// # Panics
    /// `send on closed channel`, as [`send`](Chan::send).
    #[track_caller]
    pub fn send_timeout(&self, v: T, d: Duration) -> Result<(), SendTimeoutError<T>> {
        self.send_deadline(v, runtime::deadline_after(d))
    }

    /// Like [`send`](Chan::send), but gives up at `deadline` and hands the value back.
    ///
    /// # Panics
    /// `send on closed channel`, as [`send`](Chan::send).
    #[track_caller]
    pub fn send_deadline(&self, v: T, deadline: Instant) -> Result<(), SendTimeoutError<T>> {
        match self.send_until(v, Some(deadline)) {
            Ok(()) => Ok(()),
            Err(Blocked::Timeout(v)) => Err(SendTimeoutError(v)),
            Err(Blocked::Closed(v)) => {
                drop(v);
                panic!("send on closed channel")
            }
        }
    }

    fn send_until(&self, v: T, deadline: Option<Instant>) -> Result<(), Blocked<T>> {
        with_flavour!(self, nil => {
            park_nil(WaitReason::ChanSendNil, deadline);
            Err(Blocked::Timeout(v))
        }, f => f.send(v, deadline))
    }

    /// Receives a value, waiting until one is sent. `None` once the channel is closed and
    /// drained (Go's `v, ok := <-ch` with `ok == false`).
    pub fn recv(&self) -> Option<T> {
        match self.recv_until(None) {
            Ok(v) => v,
            Err(RecvTimeoutError) => unreachable!("recv without a deadline timed out"),
        }
    }

    /// Like [`recv`](Chan::recv), giving up after `d`.
    pub fn recv_timeout(&self, d: Duration) -> Result<Option<T>, RecvTimeoutError> {
        self.recv_until(Some(runtime::deadline_after(d)))
    }

    /// Like [`recv`](Chan::recv), giving up at `deadline`.
    pub fn recv_deadline(&self, deadline: Instant) -> Result<Option<T>, RecvTimeoutError> {
        self.recv_until(Some(deadline))
    }

    fn recv_until(&self, deadline: Option<Instant>) -> Result<Option<T>, RecvTimeoutError> {
        with_flavour!(self, nil => {
            park_nil(WaitReason::ChanReceiveNil, deadline);
            Err(RecvTimeoutError)
        }, f => f.recv(deadline))
    }

    /// Sends without waiting: `Full(v)` if no receiver waits (unbuffered) or there is no
    /// room, `Closed(v)` if closed; the value comes back either way.
    pub fn try_send(&self, v: T) -> Result<(), TrySendError<T>> {
        with_flavour!(self, nil => Err(TrySendError::Full(v)), f => {
            f.try_send(v).map_err(Into::into)
        })
    }

    /// Receives without waiting.
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        with_flavour!(self, nil => Err(TryRecvError::Empty), f => {
            f.try_recv().map_err(Into::into)
        })
    }

    /// Closes the channel (Go's `close(ch)`): buffered values can still be received; then
    /// receivers get `None`. Blocked senders wake and panic; blocked receivers wake with
    /// `None` once the buffer is drained.
    ///
    /// # Panics
    /// `close of closed channel` if already closed, `close of nil channel` on the nil channel.
    #[track_caller]
    pub fn close(&self) {
        let first = with_flavour!(self, nil => panic!("close of nil channel"), f => f.close());
        if !first {
            panic!("close of closed channel");
        }
    }

    /// Whether the channel has been closed.
    pub fn is_closed(&self) -> bool {
        with_flavour!(self, nil => false, f => f.is_closed())
    }

    /// Values buffered now (`len(ch)`); always 0 for unbuffered channels.
    pub fn len(&self) -> usize {
        with_flavour!(self, nil => 0, f => f.len())
    }

    /// Whether no value is buffered now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Buffer capacity (`cap(ch)`); 0 for unbuffered and nil channels.
    pub fn cap(&self) -> usize {
        with_flavour!(self, nil => 0, f => f.cap())
    }

    /// Iterates over received values until the channel is closed and drained (Go's
    /// `for v := range ch`).
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { ch: self }
    }

    /// A send-only view (Go's `chan<- T`).
    pub fn sender(&self) -> Sender<T> {
        Sender { ch: self.clone() }
    }

    /// A receive-only view (Go's `<-chan T`).
    pub fn receiver(&self) -> Receiver<T> {
        Receiver { ch: self.clone() }
    }
}

/// Iterator over a channel's values until it is closed and drained.
pub struct Iter<'a, T> {
    ch: &'a Chan<T>,
}

impl<T> Iterator for Iter<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.ch.recv()
    }
}

impl<'a, T> IntoIterator for &'a Chan<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;
    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

/// Owning iterator over a channel's values.
pub struct IntoIter<T> {
    ch: Chan<T>,
}

impl<T> Iterator for IntoIter<T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.ch.recv()
    }
}

impl<T> IntoIterator for Chan<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;
    fn into_iter(self) -> IntoIter<T> {
        IntoIter { ch: self }
    }
}

/// A send-only view of a channel (Go's `chan<- T`).
pub struct Sender<T> {
    pub(crate) ch: Chan<T>,
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        Sender {
            ch: self.ch.clone(),
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sender({:?})", self.ch)
    }
}

impl<T> Sender<T> {
    /// See [`Chan::send`].
    #[track_caller]
    pub fn send(&self, v: T) {
        self.ch.send(v)
    }
    /// See [`Chan::try_send`].
    pub fn try_send(&self, v: T) -> Result<(), TrySendError<T>> {
        self.ch.try_send(v)
    }
    /// See [`Chan::send_timeout`].
    #[track_caller]
    pub fn send_timeout(&self, v: T, d: Duration) -> Result<(), SendTimeoutError<T>> {
        self.ch.send_timeout(v, d)
    }
    /// See [`Chan::close`].
    #[track_caller]
    pub fn close(&self) {
        self.ch.close()
    }
    /// See [`Chan::len`].
    pub fn len(&self) -> usize {
        self.ch.len()
    }
    /// See [`Chan::is_empty`].
    pub fn is_empty(&self) -> bool {
        self.ch.is_empty()
    }
    /// See [`Chan::cap`].
    pub fn cap(&self) -> usize {
        self.ch.cap()
    }
    /// See [`Chan::is_closed`].
    pub fn is_closed(&self) -> bool {
        self.ch.is_closed()
    }
    /// The nil send-only channel.
    pub fn nil() -> Sender<T> {
        Sender { ch: Chan::nil() }
    }
}

impl<T> From<Chan<T>> for Sender<T> {
    fn from(ch: Chan<T>) -> Self {
        Sender { ch }
    }
}

/// A receive-only view of a channel (Go's `<-chan T`).
pub struct Receiver<T> {
    pub(crate) ch: Chan<T>,
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        Receiver {
            ch: self.ch.clone(),
        }
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Receiver({:?})", self.ch)
    }
}

impl<T> Receiver<T> {
    /// See [`Chan::recv`].
    pub fn recv(&self) -> Option<T> {
        self.ch.recv()
    }
    /// See [`Chan::try_recv`].
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        self.ch.try_recv()
    }
    /// See [`Chan::recv_timeout`].
    pub fn recv_timeout(&self, d: Duration) -> Result<Option<T>, RecvTimeoutError> {
        self.ch.recv_timeout(d)
    }
    /// See [`Chan::recv_deadline`].
    pub fn recv_deadline(&self, deadline: Instant) -> Result<Option<T>, RecvTimeoutError> {
        self.ch.recv_deadline(deadline)
    }
    /// See [`Chan::len`].
    pub fn len(&self) -> usize {
        self.ch.len()
    }
    /// See [`Chan::is_empty`].
    pub fn is_empty(&self) -> bool {
        self.ch.is_empty()
    }
    /// See [`Chan::cap`].
    pub fn cap(&self) -> usize {
        self.ch.cap()
    }
    /// See [`Chan::is_closed`].
    pub fn is_closed(&self) -> bool {
        self.ch.is_closed()
    }
    /// See [`Chan::iter`].
    pub fn iter(&self) -> Iter<'_, T> {
        self.ch.iter()
    }
    /// The nil receive-only channel.
    pub fn nil() -> Receiver<T> {
        Receiver { ch: Chan::nil() }
    }
}

impl<T> From<Chan<T>> for Receiver<T> {
    fn from(ch: Chan<T>) -> Self {
        Receiver { ch }
    }
}

impl<'a, T> IntoIterator for &'a Receiver<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;
    fn into_iter(self) -> Iter<'a, T> {
        self.ch.iter()
    }
}

/// `for v in rx` on a receive-only channel that a function returned (Go's
/// `for v := range merge(a, b)`): receives until the channel is closed and drained.
///
/// ```
/// fn generate(n: u32) -> chan::Receiver<u32> {
///     let ch = chan::make(0);
///     let out = ch.clone();
///     runtime::go(move || {
///         for i in 0..n {
///             ch.send(i);
///         }
///         ch.close();
///     });
///     out.into()
/// }
/// let sum: u32 = runtime::block_on(|| generate(4).into_iter().sum());
/// assert_eq!(sum, 6);
/// ```
impl<T> IntoIterator for Receiver<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;
    fn into_iter(self) -> IntoIter<T> {
        IntoIter { ch: self.ch }
    }
}
