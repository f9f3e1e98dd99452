//! The channel flavours behind one trait: what [`Chan`](crate::Chan) and the select engine
//! ask of a channel, implemented by the unbuffered flavour ([`crate::zero`]) and the
//! buffered one ([`crate::array`]). Each flavour owns its blocking send and receive and its
//! side of a select case (register, unregister, complete), as crossbeam-channel's flavours
//! each implement its `SelectHandle`.
//!
//! Dispatch is static: a channel handle stores an enum of `Arc`s ([`crate::chan::Shared`]),
//! and [`with_flavour!`](crate::chan::with_flavour) is the one `match` on it. Each arm of
//! that match is the caller's code monomorphised for one flavour, so a call through this
//! trait is a direct, inlinable call: the same code a hand-written match per operation gave.

use crate::engine::Outcome;
use crate::err::{RecvTimeoutError, TryRecv, TrySend};
use crate::waitq::Cx;
use crate::zero::Packet;
use std::time::Instant;

/// How a blocking send with a deadline ended without sending: the value comes back.
pub(crate) enum Blocked<T> {
    /// The deadline passed first.
    Timeout(T),
    /// The channel was (or became) closed.
    Closed(T),
}

/// One channel flavour. `T` is the element type.
pub(crate) trait Flavour<T> {
    /// Sends without waiting: `Full` if it cannot proceed now, `Closed` if closed.
    fn try_send(&self, msg: T) -> Result<(), TrySend<T>>;

    /// Receives without waiting: `Empty` if nothing can be received now, `Closed` once closed
    /// (and, buffered, drained).
    fn try_recv(&self) -> Result<T, TryRecv>;

    /// Blocking send, until `deadline` if given.
    fn send(&self, msg: T, deadline: Option<Instant>) -> Result<(), Blocked<T>>;

    /// Blocking receive, until `deadline` if given. `Ok(None)`: closed and drained.
    fn recv(&self, deadline: Option<Instant>) -> Result<Option<T>, RecvTimeoutError>;

    /// Closes; false if it was already closed. Wakes every waiter.
    fn close(&self) -> bool;

    /// Whether the channel has been closed.
    fn is_closed(&self) -> bool;

    /// Values buffered now.
    fn len(&self) -> usize;

    /// The buffer's capacity.
    fn cap(&self) -> usize;

    /// The change counter: equal before and after a poll proves the poll's "not ready" held
    /// throughout (a non-blocking select's snapshot, see `engine.rs`).
    fn version(&self) -> u128;

    /// Select: registers `cx` for a receive as case `case`, with `packet` (on the select's
    /// stack, not moved until unregistered) for a flavour that hands values over directly.
    /// True if the case may be ready now (do not park).
    fn register_recv(&self, cx: &Cx, case: usize, packet: &mut Packet<T>) -> bool;

    /// Select: withdraws a receive registration of `cx`.
    fn unregister_recv(&self, cx: &Cx);

    /// Select: finishes a receive case that claimed the select (after unregistering).
    /// `Some(Some(v))` received, `Some(None)` closed, `None` not ready after all (another
    /// goroutine got there first: poll again).
    fn complete_recv(&self, packet: &Packet<T>) -> Option<Option<T>>;

    /// Select: registers `cx` for a send of `value` as case `case` (a direct-handoff flavour
    /// moves the value into `packet`). True if the case may be ready now (do not park).
    fn register_send(
        &self,
        cx: &Cx,
        case: usize,
        packet: &mut Packet<T>,
        value: &mut Option<T>,
    ) -> bool;

    /// Select: withdraws a send registration of `cx`; a value not taken returns to `value`.
    fn unregister_send(&self, cx: &Cx, packet: &Packet<T>, value: &mut Option<T>);

    /// Select: finishes a send case that claimed the select (after unregistering).
    fn complete_send(&self, packet: &Packet<T>, value: &mut Option<T>) -> Outcome;

    /// Select's poll of a receive case: `Some(Some(v))` received, `Some(None)` closed,
    /// `None` not ready.
    #[inline]
    fn recv_now(&self) -> Option<Option<T>> {
        match self.try_recv() {
            Ok(v) => Some(Some(v)),
            Err(TryRecv::Closed) => Some(None),
            Err(TryRecv::Empty) => None,
        }
    }

    /// Select's poll of a send case: sends `value` if it can; otherwise the value stays.
    #[inline]
    fn send_now(&self, value: &mut Option<T>) -> Outcome {
        let Some(v) = value.take() else {
            // Already sent by an earlier wait(): a case sends its value once.
            return Outcome::NotReady;
        };
        match self.try_send(v) {
            Ok(()) => Outcome::Ready,
            Err(TrySend::Full(v)) => {
                *value = Some(v);
                Outcome::NotReady
            }
            Err(TrySend::Closed(v)) => {
                *value = Some(v);
                Outcome::SendClosed
            }
        }
    }
}
