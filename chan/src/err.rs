//! Error types of the non-blocking and timed channel operations. Each one that comes from a
//! send gives the value back: a value sent is received exactly once or handed back.

use std::fmt;

/// Why [`Chan::try_send`](crate::Chan::try_send) did not send.
#[derive(PartialEq, Eq, Clone, Copy)]
pub enum TrySendError<T> {
    /// No receiver is ready (unbuffered) or the buffer is full: the value is handed back.
    Full(T),
    /// The channel is closed: the value is handed back.
    Closed(T),
}

impl<T> TrySendError<T> {
    /// The value that was not sent.
    pub fn into_inner(self) -> T {
        match self {
            TrySendError::Full(v) | TrySendError::Closed(v) => v,
        }
    }
    /// Whether the send failed because the channel was full.
    pub fn is_full(&self) -> bool {
        matches!(self, TrySendError::Full(_))
    }
    /// Whether the send failed because the channel was closed.
    pub fn is_closed(&self) -> bool {
        matches!(self, TrySendError::Closed(_))
    }
}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("Full(..)"),
            TrySendError::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("sending on a full channel"),
            TrySendError::Closed(_) => f.write_str("sending on a closed channel"),
        }
    }
}

impl<T> std::error::Error for TrySendError<T> {}

/// Why [`Chan::try_recv`](crate::Chan::try_recv) returned no value.
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub enum TryRecvError {
    /// Nothing is ready now.
    Empty,
    /// The channel is closed and drained.
    Closed,
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str("receiving on an empty channel"),
            TryRecvError::Closed => f.write_str("receiving on a closed channel"),
        }
    }
}

impl std::error::Error for TryRecvError {}

/// [`Chan::send_timeout`](crate::Chan::send_timeout) timed out: the value is handed back.
#[derive(PartialEq, Eq, Clone, Copy)]
pub struct SendTimeoutError<T>(pub T);

impl<T> fmt::Debug for SendTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendTimeoutError(..)")
    }
}

impl<T> fmt::Display for SendTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("timed out sending on a channel")
    }
}

impl<T> std::error::Error for SendTimeoutError<T> {}

/// [`Chan::recv_timeout`](crate::Chan::recv_timeout) timed out.
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
pub struct RecvTimeoutError;

impl fmt::Display for RecvTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("timed out receiving on a channel")
    }
}

impl std::error::Error for RecvTimeoutError {}

/// Why a flavour's non-blocking send failed (both flavours share it; the public
/// [`TrySendError`] is built from it).
pub(crate) enum TrySend<T> {
    Full(T),
    Closed(T),
}

/// Why a flavour's non-blocking receive failed.
pub(crate) enum TryRecv {
    Empty,
    Closed,
}

impl<T> From<TrySend<T>> for TrySendError<T> {
    fn from(e: TrySend<T>) -> Self {
        match e {
            TrySend::Full(v) => TrySendError::Full(v),
            TrySend::Closed(v) => TrySendError::Closed(v),
        }
    }
}

impl From<TryRecv> for TryRecvError {
    fn from(e: TryRecv) -> Self {
        match e {
            TryRecv::Empty => TryRecvError::Empty,
            TryRecv::Closed => TryRecvError::Closed,
        }
    }
}
