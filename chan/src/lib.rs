//! goro's channels: Go's `chan`, `select`, `time.After`/`Tick`/`Timer`/`Ticker`, and
//! `context`.
//!
//! | Go | goro |
//! |---|---|
//! | `make(chan T)` / `make(chan T, n)` | [`make::<T>(0)`](make) / [`make::<T>(n)`](make) -> [`Chan<T>`] |
//! | `chan<- T`, `<-chan T` | [`Sender<T>`], [`Receiver<T>`] (`ch.sender()`, `ch.receiver()`) |
//! | `ch <- v` | [`ch.send(v)`](Chan::send) (panics `send on closed channel`) |
//! | `v, ok := <-ch` | [`ch.recv()`](Chan::recv) -> `Option<T>` |
//! | `close(ch)` | [`ch.close()`](Chan::close) |
//! | `for v := range ch` | `for v in &ch` |
//! | `len(ch)`, `cap(ch)` | [`ch.len()`](Chan::len), [`ch.cap()`](Chan::cap) |
//! | `var ch chan T` (nil) | [`Chan::nil()`] |
//! | `reflect.Select` | [`Select`] |
//!
//! Channels work the same from goroutines (which park, freeing their thread) and from plain
//! threads (which block on a futex). A value sent is received exactly once, or handed back
//! (`try_send`, `send_timeout`), or dropped with the channel's last handle.

#![warn(missing_docs)]

mod array;
mod chan;
pub mod context;
mod engine;
mod err;
mod flavour;
mod lock;
pub mod select;
mod shim;
pub mod signal;
pub mod time;
mod waitq;
mod zero;

/// chan's loom parker (`Waiter`, `park`, `park_until`), which sync's loom models wait on
/// too; not a public API.
#[cfg(loom)]
#[doc(hidden)]
pub use shim::model as __loom_model;

#[cfg(all(test, loom))]
mod loom_support;
#[cfg(all(test, loom))]
mod loom_tests;

pub use chan::{Chan, IntoIter, Iter, Receiver, Sender, make};
pub use err::{RecvTimeoutError, SendTimeoutError, TryRecvError, TrySendError};
pub use select::{CanRecv, CanSend, Select, Selected};

/// Go's `select` statement: waits until one of several channel operations can proceed, and
/// runs that arm's body.
///
/// ```text
/// select! {
///     PAT = <-CHAN => BODY,     // receive; PAT binds an Option<T> (None: closed and drained)
///     <-CHAN => BODY,           // receive and discard the value
///     CHAN <- VALUE => BODY,    // send
///     timeout(DURATION) => BODY,// nothing became ready within DURATION (no channel made)
///     default => BODY,          // nothing was ready: don't wait
/// }
/// ```
///
/// - Arms come in any order, separated like `match` arms (a `{ }` body needs no comma).
/// - `CHAN` is a [`Chan`], a [`Receiver`] (receive) or [`Sender`] (send), a reference to one,
///   or an `Option` of one, where `None` is Go's nil channel: that arm is never ready.
/// - Every `CHAN`, `VALUE` and `DURATION` is evaluated exactly once, in source order, before
///   any channel is polled (Go's rule). A `VALUE` whose arm is not taken is dropped before
///   the chosen body runs.
/// - If several arms are ready, one is chosen uniformly at random. With no arm ready,
///   `default` runs; otherwise the select blocks (until `timeout`, if given). With no
///   arms, or only nil channels, it blocks forever, like Go's `select {}`.
/// - A send on a closed channel panics (`send on closed channel`), as in Go.
/// - Bodies are not closures: `break`, `continue`, `return` and `?` act on the enclosing
///   code, and `select!` is an expression whose arms' values unify like `match` arms'.
/// - At most one `default` and one `timeout`, and not both: otherwise a compile error.
/// - The operands after `<-` are parsed like a `match` scrutinee: wrap a struct literal in
///   parentheses. `PAT` must match every `Option<T>` (`v`, `mut v`, `_`): a refutable
///   pattern such as `Some(v)` is a non-exhaustive `match` error.
/// - Channel element types may borrow (`Chan<&str>`); only the dynamic [`Select`]'s typed
///   accessors need `'static` element types.
///
/// The expansion allocates nothing: operands, cases and the slice of cases are locals.
///
/// ```
/// use std::time::Duration;
/// let jobs = chan::make::<u32>(3);
/// let results = chan::make::<u32>(3);
/// let quit = chan::make::<()>(0);
/// for j in 1..=3 {
///     jobs.send(j);
/// }
/// jobs.close();
/// let mut done: Option<chan::Chan<u32>> = Some(jobs.clone());
/// let mut sum = 0;
/// loop {
///     chan::select! {
///         j = <-done => match j {
///             Some(j) => results.send(j * 10),
///             None => done = None, // drained: disable this arm (a nil channel)
///         },
///         r = <-results => sum += r.unwrap(),
///         <-quit => unreachable!("nobody closes quit"),
///         timeout(Duration::from_millis(20)) => break,
///     }
/// }
/// assert_eq!(sum, 60);
/// ```
#[macro_export]
macro_rules! select {
    ($($arms:tt)*) => {
        $crate::__private::select_internal!($crate; $($arms)*)
    };
}

/// What `select!`'s expansion names (and the benchmarks, which drive the engine by hand);
/// not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::engine::{Case, Outcome, RecvCase, SendCase, run};
    pub use goro_select_macro::select_internal;

    use crate::select::{recv_side, send_side};
    use crate::{Chan, Receiver, Sender};
    use std::time::{Duration, Instant};

    /// The channel an operand resolved to, opaque: it only becomes a case
    /// ([`recv_case`], [`send_case`]), so the expansion's path cannot turn a [`Receiver`] or a
    /// [`Sender`] back into a bidirectional [`Chan`].
    pub struct Side<'a, T>(&'a Chan<T>);

    /// A receive case on a resolved operand.
    pub fn recv_case<T>(side: Side<'_, T>) -> RecvCase<'_, T> {
        RecvCase::new(side.0)
    }

    /// A send case of `v` on a resolved operand.
    pub fn send_case<T>(side: Side<'_, T>, v: T) -> SendCase<'_, T> {
        SendCase::new(side.0, v)
    }

    /// A receive operand of `select!`: [`Chan`], [`Receiver`], a reference to one, or an
    /// `Option` of one (`None` is the nil channel, passed in as `nil`).
    #[diagnostic::on_unimplemented(
        message = "`{Self}` cannot be received from in select!",
        label = "expected a Chan<T> or Receiver<T>, a reference to one, or an Option of one"
    )]
    pub trait RecvOperand<T> {
        /// The channel to receive from (`nil` for a `None`).
        fn recv_chan<'a>(&'a self, nil: &'a Chan<T>) -> Side<'a, T>;
    }

    /// A send operand of `select!`: [`Chan`], [`Sender`], a reference to one, or an `Option`
    /// of one (`None` is the nil channel, passed in as `nil`).
    #[diagnostic::on_unimplemented(
        message = "`{Self}` cannot be sent on in select!",
        label = "expected a Chan<T> or Sender<T>, a reference to one, or an Option of one"
    )]
    pub trait SendOperand<T> {
        /// The channel to send on (`nil` for a `None`).
        fn send_chan<'a>(&'a self, nil: &'a Chan<T>) -> Side<'a, T>;
    }

    impl<T> RecvOperand<T> for Chan<T> {
        fn recv_chan<'a>(&'a self, _: &'a Chan<T>) -> Side<'a, T> {
            Side(self)
        }
    }

    impl<T> RecvOperand<T> for Receiver<T> {
        fn recv_chan<'a>(&'a self, _: &'a Chan<T>) -> Side<'a, T> {
            Side(recv_side(self))
        }
    }

    impl<T> SendOperand<T> for Chan<T> {
        fn send_chan<'a>(&'a self, _: &'a Chan<T>) -> Side<'a, T> {
            Side(self)
        }
    }

    impl<T> SendOperand<T> for Sender<T> {
        fn send_chan<'a>(&'a self, _: &'a Chan<T>) -> Side<'a, T> {
            Side(send_side(self))
        }
    }

    impl<T, C: RecvOperand<T> + ?Sized> RecvOperand<T> for &C {
        fn recv_chan<'a>(&'a self, nil: &'a Chan<T>) -> Side<'a, T> {
            (**self).recv_chan(nil)
        }
    }

    impl<T, C: SendOperand<T> + ?Sized> SendOperand<T> for &C {
        fn send_chan<'a>(&'a self, nil: &'a Chan<T>) -> Side<'a, T> {
            (**self).send_chan(nil)
        }
    }

    impl<T, C: RecvOperand<T> + ?Sized> RecvOperand<T> for &mut C {
        fn recv_chan<'a>(&'a self, nil: &'a Chan<T>) -> Side<'a, T> {
            (**self).recv_chan(nil)
        }
    }

    impl<T, C: SendOperand<T> + ?Sized> SendOperand<T> for &mut C {
        fn send_chan<'a>(&'a self, nil: &'a Chan<T>) -> Side<'a, T> {
            (**self).send_chan(nil)
        }
    }

    impl<T, C: RecvOperand<T>> RecvOperand<T> for Option<C> {
        fn recv_chan<'a>(&'a self, nil: &'a Chan<T>) -> Side<'a, T> {
            match self {
                Some(c) => c.recv_chan(nil),
                None => Side(nil),
            }
        }
    }

    impl<T, C: SendOperand<T>> SendOperand<T> for Option<C> {
        fn send_chan<'a>(&'a self, nil: &'a Chan<T>) -> Side<'a, T> {
            match self {
                Some(c) => c.send_chan(nil),
                None => Side(nil),
            }
        }
    }

    /// The deadline of a `timeout(d)` arm ([`runtime::deadline_after`]: never panics).
    pub fn deadline(d: Duration) -> Option<Instant> {
        Some(runtime::deadline_after(d))
    }

    /// The result of the receive case the engine chose.
    pub fn received<T>(out: &mut Option<Option<T>>) -> Option<T> {
        out.take()
            .expect("select!: the chosen receive case holds its result")
    }
}
