//! Go's `net.Pipe`: an in-memory, synchronous, full-duplex connection.
//!
//! Each end holds one half of a shared [`State`] behind a `std::sync::Mutex` that only guards
//! short critical sections; every blocking operation parks on goro's park API
//! ([`runtime::park`] / [`runtime::park_until`]) with the lock released, so a goroutine frees
//! its thread while it waits and a plain thread sleeps on its futex.
//!
//! A write does not copy its bytes anywhere: it *offers* its buffer (a pointer and a length,
//! [`Offer`]) in the shared state and waits until the peer's reads have copied all of it out,
//! or until close or a deadline stops it. It withdraws the offer, under the lock, before it
//! returns, so a reader, which copies under the lock, never sees a buffer that is gone.

use std::fmt;
use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use runtime::{WaitReason, Waiter};

/// Creates a synchronous, in-memory, full-duplex connection (Go's `net.Pipe`).
///
/// Both ends are [`Pipe`]s. Bytes written on one end are read on the other; a write blocks
/// until the peer's reads have taken all of it, since there is no internal buffering. The two
/// directions are independent.
///
/// ```
/// use std::io::{Read, Write};
///
/// let (a, mut b) = net::pipe();
/// let writer = runtime::spawn(move || (&a).write_all(b"ping").unwrap());
/// let mut buf = [0u8; 4];
/// b.read_exact(&mut buf).unwrap();
/// assert_eq!(&buf, b"ping");
/// writer.join().unwrap();
/// ```
pub fn pipe() -> (Pipe, Pipe) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State::default()),
    });
    (
        Pipe {
            shared: shared.clone(),
            end: 0,
        },
        Pipe { shared, end: 1 },
    )
}

/// One end of a [`pipe`]: Go's `net.Pipe` connection.
///
/// [`Read`] and [`Write`] are implemented for `Pipe` and for `&Pipe`, so one goroutine (or
/// thread) may read while another writes through a shared reference. Operations block the
/// calling goroutine, not its thread, and work the same from plain threads.
///
/// - A write blocks until the peer has read all of it (several reads may share one write; a
///   read returns at most its buffer's length of the current write). Concurrent writes on one
///   end do not interleave.
/// - [`close`](Pipe::close) (also done on drop) makes later and blocked operations on this end
///   fail with [`runtime::closed_error`]; the peer's reads then see end of file (`Ok(0)`) and
///   its writes fail with [`io::ErrorKind::BrokenPipe`].
/// - Deadlines ([`set_deadline`](Pipe::set_deadline) and friends) make operations fail with
///   [`runtime::timeout_error`] once they pass, including operations already blocked.
///
/// ```
/// use std::io::{Read, Write};
///
/// let (a, b) = net::pipe();
/// let echo = runtime::spawn(move || {
///     let mut buf = [0u8; 16];
///     let n = (&b).read(&mut buf).unwrap();
///     (&b).write_all(&buf[..n]).unwrap();
/// });
/// (&a).write_all(b"hello").unwrap();
/// let mut back = [0u8; 5];
/// (&a).read_exact(&mut back).unwrap();
/// assert_eq!(&back, b"hello");
/// echo.join().unwrap();
/// ```
pub struct Pipe {
    shared: Arc<Shared>,
    /// Which end this is: 0 or 1. The peer is `1 - end`.
    end: usize,
}

struct Shared {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// `halves[e]`: the direction end `e` writes and end `1 - e` reads.
    halves: [Half; 2],
    /// Whether end `e` has been closed.
    closed: [bool; 2],
    /// End `e`'s read deadline (applies to reads of `halves[1 - e]`).
    read_deadline: [Option<Instant>; 2],
    /// End `e`'s write deadline (applies to writes into `halves[e]`).
    write_deadline: [Option<Instant>; 2],
}

/// One direction of the pipe.
#[derive(Default)]
struct Half {
    /// The bytes of the write in progress, while it waits for the reader.
    offer: Option<Offer>,
    /// Whether a write holds this direction (Go's `wrMu`: one write's bytes are not
    /// interleaved with another's).
    writing: bool,
    /// The write in progress, waiting for its offer to be consumed.
    writer: Option<Waiter>,
    /// Writes waiting for `writing` to clear.
    queued_writers: Vec<Waiter>,
    /// Reads waiting for an offer.
    readers: Vec<Waiter>,
}

/// A writer's buffer, lent to the readers until the writer withdraws it.
struct Offer {
    ptr: *const u8,
    len: usize,
    /// How many bytes readers have taken so far.
    taken: usize,
}

// SAFETY: an `Offer` points into the buffer of a write that is blocked until it withdraws the
// offer (under the state lock, also when unwinding: `WriteGuard`); readers only read through it
// while holding that lock, so it may be used from whichever thread runs the reader.
unsafe impl Send for Offer {}

/// The error of a write whose peer has closed (Go's `io.ErrClosedPipe`).
fn broken_pipe() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "io: read/write on closed pipe")
}

fn expired(deadline: Option<Instant>) -> bool {
    deadline.is_some_and(|d| Instant::now() >= d)
}

/// Parks the caller, with the state lock released, until unparked, `deadline` passes, or a
/// spurious wakeup.
fn block(deadline: Option<Instant>) {
    match deadline {
        Some(d) => {
            runtime::park_until(WaitReason::IoWait, d);
        }
        None => runtime::park(WaitReason::IoWait),
    }
}

/// Adds `me` to `list` unless it is already there.
fn enlist(list: &mut Vec<Waiter>, me: &Waiter) {
    if !list.iter().any(|w| w.same_as(me)) {
        list.push(me.clone());
    }
}

fn delist(list: &mut Vec<Waiter>, me: &Waiter) {
    list.retain(|w| !w.same_as(me));
}

fn wake_all(waiters: Vec<Waiter>) {
    for w in waiters {
        w.unpark();
    }
}

impl State {
    /// Takes every waiter of end `end`'s reads and writes, to be unparked once the lock is
    /// released, so that they re-check closes and deadlines.
    fn take_waiters_of(&mut self, end: usize, reads: bool, writes: bool, out: &mut Vec<Waiter>) {
        if reads {
            out.append(&mut self.halves[1 - end].readers);
        }
        if writes {
            let h = &mut self.halves[end];
            out.append(&mut h.queued_writers);
            out.extend(h.writer.clone());
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding the lock; even so, the state stays consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Ends a write that offered its buffer: withdraws the offer and hands the direction to the
/// next queued writer. Runs on drop, so the offer is withdrawn even if the writer unwinds.
struct WriteGuard<'a> {
    shared: &'a Shared,
    end: usize,
}

impl WriteGuard<'_> {
    /// Ends the write under the held lock; returns the waiters to unpark.
    fn finish(self, st: &mut State) -> Vec<Waiter> {
        let w = end_write(st, self.end);
        std::mem::forget(self);
        w
    }
}

fn end_write(st: &mut State, end: usize) -> Vec<Waiter> {
    let h = &mut st.halves[end];
    h.offer = None;
    h.writer = None;
    h.writing = false;
    std::mem::take(&mut h.queued_writers)
}

impl Drop for WriteGuard<'_> {
    fn drop(&mut self) {
        let waiters = end_write(&mut self.shared.lock(), self.end);
        wake_all(waiters);
    }
}

impl Pipe {
    /// Sets both the read and the write deadline (Go's `SetDeadline`); `None` clears them.
    ///
    /// Once a deadline has passed, operations in that direction fail with
    /// [`runtime::timeout_error`] (kind [`io::ErrorKind::TimedOut`]), including operations
    /// already blocked. A deadline can be extended or cleared, also while an operation waits,
    /// and later operations then block again. Fails with a closed error if this end is
    /// closed, and with [`io::ErrorKind::BrokenPipe`] if the peer is.
    ///
    /// ```
    /// use std::io::Read;
    /// use std::time::{Duration, Instant};
    ///
    /// let (a, _b) = net::pipe();
    /// a.set_deadline(Some(Instant::now() + Duration::from_millis(10))).unwrap();
    /// let err = (&a).read(&mut [0u8; 1]).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    /// ```
    pub fn set_deadline(&self, at: Option<Instant>) -> io::Result<()> {
        self.set_deadlines(Some(at), Some(at))
    }

    /// Sets the read deadline (Go's `SetReadDeadline`); `None` clears it. See
    /// [`set_deadline`](Pipe::set_deadline).
    ///
    /// ```
    /// use std::io::Read;
    /// use std::time::Instant;
    ///
    /// let (a, _b) = net::pipe();
    /// a.set_read_deadline(Some(Instant::now())).unwrap(); // already passed
    /// let err = (&a).read(&mut [0u8; 1]).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    /// a.set_read_deadline(None).unwrap(); // reads block again
    /// ```
    pub fn set_read_deadline(&self, at: Option<Instant>) -> io::Result<()> {
        self.set_deadlines(Some(at), None)
    }

    /// Sets the write deadline (Go's `SetWriteDeadline`); `None` clears it. A write that
    /// times out after the peer took part of it returns how much it took. See
    /// [`set_deadline`](Pipe::set_deadline).
    ///
    /// ```
    /// use std::io::Write;
    /// use std::time::{Duration, Instant};
    ///
    /// let (a, _b) = net::pipe();
    /// a.set_write_deadline(Some(Instant::now() + Duration::from_millis(10))).unwrap();
    /// let err = (&a).write(b"nobody reads this").unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    /// ```
    pub fn set_write_deadline(&self, at: Option<Instant>) -> io::Result<()> {
        self.set_deadlines(None, Some(at))
    }

    fn set_deadlines(
        &self,
        read: Option<Option<Instant>>,
        write: Option<Option<Instant>>,
    ) -> io::Result<()> {
        let e = self.end;
        let mut wake = Vec::new();
        {
            let mut st = self.shared.lock();
            if st.closed[e] {
                return Err(runtime::closed_error());
            }
            if st.closed[1 - e] {
                return Err(broken_pipe());
            }
            if let Some(at) = read {
                st.read_deadline[e] = at;
            }
            if let Some(at) = write {
                st.write_deadline[e] = at;
            }
            // Blocked operations re-check against the new deadline (they may have parked
            // until an earlier one, or forever).
            st.take_waiters_of(e, read.is_some(), write.is_some(), &mut wake);
        }
        wake_all(wake);
        Ok(())
    }

    /// Closes this end (Go's `Close`): operations blocked on it, and later ones, fail with
    /// [`runtime::closed_error`]; the peer's reads see end of file (`Ok(0)`) and its writes
    /// fail with [`io::ErrorKind::BrokenPipe`]. Closing again does nothing and returns
    /// `Ok(())`, as in Go. Dropping a `Pipe` closes it.
    ///
    /// ```
    /// use std::io::{Read, Write};
    ///
    /// let (a, b) = net::pipe();
    /// a.close().unwrap();
    /// assert!(runtime::is_closed_error(&(&a).read(&mut [0u8; 1]).unwrap_err()));
    /// assert_eq!((&b).read(&mut [0u8; 1]).unwrap(), 0); // EOF
    /// let err = (&b).write(b"x").unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::BrokenPipe);
    /// assert!(a.close().is_ok());
    /// ```
    pub fn close(&self) -> io::Result<()> {
        let e = self.end;
        let mut wake = Vec::new();
        {
            let mut st = self.shared.lock();
            if st.closed[e] {
                return Ok(());
            }
            st.closed[e] = true;
            // This end's reads and writes, and the peer's.
            st.take_waiters_of(e, true, true, &mut wake);
            st.take_waiters_of(1 - e, true, true, &mut wake);
        }
        wake_all(wake);
        Ok(())
    }

    fn read_impl(&self, buf: &mut [u8]) -> io::Result<usize> {
        let e = self.end;
        let mut me: Option<Waiter> = None;
        let mut st = self.shared.lock();
        let result = loop {
            if st.closed[e] {
                break Err(runtime::closed_error());
            }
            if st.closed[1 - e] {
                break Ok(0);
            }
            let deadline = st.read_deadline[e];
            if expired(deadline) {
                break Err(runtime::timeout_error());
            }
            if buf.is_empty() {
                // Rust reads of nothing return at once (Go's would wait for a writer).
                break Ok(0);
            }
            let half = &mut st.halves[1 - e];
            if let Some(offer) = half.offer.as_mut().filter(|o| o.taken < o.len) {
                let n = buf.len().min(offer.len - offer.taken);
                // SAFETY: the writer that made the offer is blocked until it withdraws it under
                // this lock, which we hold, so its buffer (`len` bytes at `ptr`) is alive and
                // only read; `taken + n <= len`, and `buf` is our own exclusive buffer.
                let src = unsafe { std::slice::from_raw_parts(offer.ptr.add(offer.taken), n) };
                buf[..n].copy_from_slice(src);
                offer.taken += n;
                let done = offer.taken == offer.len;
                let writer = if done { half.writer.clone() } else { None };
                if let Some(me) = &me {
                    delist(&mut half.readers, me);
                }
                drop(st);
                if let Some(w) = writer {
                    w.unpark();
                }
                return Ok(n);
            }
            let me = me.get_or_insert_with(Waiter::current);
            enlist(&mut half.readers, me);
            drop(st);
            block(deadline);
            st = self.shared.lock();
        };
        if let Some(me) = &me {
            delist(&mut st.halves[1 - e].readers, me);
        }
        result
    }

    /// Why a write on this end cannot go on, if it cannot.
    fn write_error(st: &State, e: usize) -> Option<io::Error> {
        if st.closed[e] {
            Some(runtime::closed_error())
        } else if st.closed[1 - e] {
            Some(broken_pipe())
        } else if expired(st.write_deadline[e]) {
            Some(runtime::timeout_error())
        } else {
            None
        }
    }

    fn write_impl(&self, buf: &[u8]) -> io::Result<usize> {
        let e = self.end;
        let mut st = self.shared.lock();
        if let Some(err) = Self::write_error(&st, e) {
            return Err(err);
        }
        if buf.is_empty() {
            // A Rust read that returns 0 means end of file, so an empty write is not handed
            // to a reader (Go's would wait for one, which would then return 0).
            return Ok(0);
        }
        let me = Waiter::current();

        // Take the direction: one write at a time (Go's wrMu).
        loop {
            if let Some(err) = Self::write_error(&st, e) {
                delist(&mut st.halves[e].queued_writers, &me);
                return Err(err);
            }
            let half = &mut st.halves[e];
            if !half.writing {
                half.writing = true;
                delist(&mut half.queued_writers, &me);
                break;
            }
            enlist(&mut half.queued_writers, &me);
            let deadline = st.write_deadline[e];
            drop(st);
            block(deadline);
            st = self.shared.lock();
        }

        // Offer the buffer and wait until readers have taken all of it.
        let guard = WriteGuard {
            shared: &self.shared,
            end: e,
        };
        let half = &mut st.halves[e];
        half.offer = Some(Offer {
            ptr: buf.as_ptr(),
            len: buf.len(),
            taken: 0,
        });
        half.writer = Some(me);
        let readers = std::mem::take(&mut half.readers);
        drop(st);
        wake_all(readers);

        st = self.shared.lock();
        let result = loop {
            let taken = st.halves[e].offer.as_ref().map_or(0, |o| o.taken);
            if taken == buf.len() {
                break Ok(taken);
            }
            if let Some(err) = Self::write_error(&st, e) {
                break if taken > 0 { Ok(taken) } else { Err(err) };
            }
            let deadline = st.write_deadline[e];
            // Readers, close and deadline changes unpark `half.writer`.
            drop(st);
            block(deadline);
            st = self.shared.lock();
        };
        let queued = guard.finish(&mut st);
        drop(st);
        wake_all(queued);
        result
    }
}

impl Read for &Pipe {
    /// Reads up to `buf.len()` bytes of the peer's current write, blocking until there is
    /// one. `Ok(0)` means the peer has closed (or `buf` is empty).
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_impl(buf)
    }
}

impl Read for Pipe {
    /// As for `&Pipe`.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_impl(buf)
    }
}

impl Write for &Pipe {
    /// Writes `buf`, blocking until the peer has read all of it. Returns `Ok(n)` with
    /// `n < buf.len()` only if close or a deadline stopped the write after the peer had
    /// taken `n` bytes; the next write then reports the error.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_impl(buf)
    }

    /// Does nothing: nothing is buffered.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for Pipe {
    /// As for `&Pipe`.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_impl(buf)
    }

    /// Does nothing: nothing is buffered.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for Pipe {
    /// Closes this end, so the peer's blocked operations end instead of waiting forever.
    fn drop(&mut self) {
        let _ = self.close();
    }
}

impl fmt::Debug for Pipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.shared.lock();
        f.debug_struct("Pipe")
            .field("end", &self.end)
            .field("closed", &st.closed[self.end])
            .field("peer_closed", &st.closed[1 - self.end])
            .finish_non_exhaustive()
    }
}
