//! [`PollFd`]: a non-blocking file descriptor whose operations block the calling goroutine
//! (not its thread) until the fd is ready, with Go's deadlines and `Close`.
//!
//! This is the runtime's whole I/O surface: goro's `net` crate builds its sockets on it, and
//! users can wrap any other non-blocking fd (a pipe, an eventfd, a tty) with it.

use crate::polldesc::{Dir, PollDesc};
use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::time::Instant;

/// The error of an operation on a closed [`PollFd`] (Go's `net.ErrClosed`); recognise it with
/// [`is_closed_error`].
#[derive(Debug)]
struct ErrClosed;

impl fmt::Display for ErrClosed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("use of closed network connection")
    }
}

impl std::error::Error for ErrClosed {}

/// A new "use of closed network connection" error (Go's `net.ErrClosed`).
pub fn closed_error() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, ErrClosed)
}

/// Whether `e` says the descriptor (or connection) was closed by [`PollFd::close`]
/// (Go's `errors.Is(err, net.ErrClosed)`).
///
/// ```
/// let e = runtime::closed_error();
/// assert!(runtime::is_closed_error(&e));
/// assert!(!runtime::is_closed_error(&std::io::Error::other("x")));
/// ```
pub fn is_closed_error(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<ErrClosed>())
}

/// The error of an operation whose deadline passed (Go's "i/o timeout",
/// `os.ErrDeadlineExceeded`): kind [`io::ErrorKind::TimedOut`].
pub fn timeout_error() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "i/o timeout")
}

/// A non-blocking fd registered with goro's netpoller.
///
/// Its operations ([`read_with`](PollFd::read_with), [`write_with`](PollFd::write_with)) run
/// a system call and, when it says `EAGAIN`, park the calling goroutine until the fd is ready
/// (a plain thread blocks in `poll(2)` instead), then try again. Reads are serialised among
/// themselves and so are writes; one goroutine may read while another writes.
///
/// Go's extras: per-direction deadlines that also apply to operations already waiting, and
/// [`close`](PollFd::close), which fails every waiting and later operation with a closed
/// error at once, and closes the fd number itself when the last operation in flight has left.
///
/// ```
/// use std::io::{Read, Write};
/// use std::os::fd::OwnedFd;
/// let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
/// let a = runtime::PollFd::new(OwnedFd::from(a)).unwrap();
/// let mut b = b;
/// let reader = runtime::spawn(move || {
///     let mut buf = [0u8; 5];
///     // The closure gets the raw fd for the duration of one call.
///     let n = a.read_with(|fd| {
///         // SAFETY: a writable buffer of buf.len() bytes.
///         let r = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
///         if r < 0 { Err(std::io::Error::last_os_error()) } else { Ok(r as usize) }
///     }).unwrap();
///     buf[..n].to_vec()
/// });
/// runtime::sleep(std::time::Duration::from_millis(5));
/// b.write_all(b"hello").unwrap();
/// assert_eq!(reader.join().unwrap(), b"hello");
/// ```
pub struct PollFd {
    pd: &'static PollDesc,
    /// The fd number. It stays reserved until the `PollFd` is dropped, even after `close`
    /// released the file itself (see [`destroy`]): that is what makes [`AsFd`] sound.
    fd: RawFd,
}

impl fmt::Debug for PollFd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PollFd")
            .field("fd", &self.fd)
            .field("closed", &self.pd.fdmu.is_closed())
            .finish()
    }
}

/// Drops the lock and reference an operation took; destroys the fd if that was the last
/// reference after close.
struct Op<'a> {
    fd: &'a PollFd,
    dir: Option<Dir>,
}

impl Drop for Op<'_> {
    fn drop(&mut self) {
        let last = match self.dir {
            Some(d) => self.fd.pd.fdmu.rwunlock(d == Dir::Read),
            None => self.fd.pd.fdmu.decref(),
        };
        if last {
            destroy(self.fd.pd, self.fd.fd, false);
        }
    }
}

/// Releases the file for real: the last reference after close.
///
/// With `and_number` (the `PollFd` is being dropped), the fd number is closed and the
/// descriptor freed. Otherwise the `PollFd` still lives: it may lend its number out
/// ([`AsFd`]), and its later calls still go through its descriptor (to fail as closed), so
/// both stay reserved until drop. `/dev/null` is `dup3`ed over the number, which atomically
/// drops the socket's last reference (the peer sees the close, a listener's port is free
/// again) without letting the number be reused by an unrelated `open`.
fn destroy(pd: &'static PollDesc, fd: RawFd, and_number: bool) {
    crate::netpoll::deregister(fd);
    if and_number {
        release(pd, fd);
        return;
    }
    match placeholder() {
        // SAFETY: `fd` is ours; dup3 replaces what it refers to in one step.
        Some(null) if unsafe { libc::dup3(null, fd, libc::O_CLOEXEC) } >= 0 => {}
        // No /dev/null (a sandbox): shut the socket down instead, so the peer sees the close;
        // the file itself is released at drop.
        _ => {
            // SAFETY: shutdown on our own fd; on a non-socket it fails harmlessly.
            unsafe { libc::shutdown(fd, libc::SHUT_RDWR) };
        }
    }
}

/// Closes the number and frees the descriptor (a `PollFd` going away, its file released or
/// being released here). Freeing bumps the descriptor's sequence, so late events for it wake
/// nobody, and only now may another fd get the descriptor.
fn release(pd: &'static PollDesc, fd: RawFd) {
    // SAFETY: the PollFd owned the number and is going away: no borrow, no operation.
    unsafe { libc::close(fd) };
    pd.free();
}

/// A read-write `/dev/null`, opened once, to park closed fd numbers on. Opened when the first
/// `PollFd` is made (not at the first close, which may come when the process is out of fds),
/// and tried again later if that failed.
fn placeholder() -> Option<RawFd> {
    use std::sync::atomic::{AtomicI32, Ordering};
    static NULL: AtomicI32 = AtomicI32::new(-1);
    let fd = NULL.load(Ordering::Acquire);
    if fd >= 0 {
        return Some(fd);
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .ok()?;
    let mine = file.into_raw_fd();
    match NULL.compare_exchange(-1, mine, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => Some(mine),
        Err(theirs) => {
            // SAFETY: ours, never shared (the other thread's is kept).
            unsafe { libc::close(mine) };
            Some(theirs)
        }
    }
}

fn set_nonblocking(fd: RawFd, on: bool) -> io::Result<()> {
    // SAFETY: fcntl on an fd the caller owns.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    let new = if on {
        flags | libc::O_NONBLOCK
    } else {
        flags & !libc::O_NONBLOCK
    };
    // SAFETY: fcntl on an fd the caller owns, with an int argument (no pointers).
    if new != flags && unsafe { libc::fcntl(fd, libc::F_SETFL, new) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

impl PollFd {
    /// Takes `fd`, makes it non-blocking and registers it with the netpoller.
    ///
    /// `O_NONBLOCK` belongs to the open file description: another fd sharing it (a `dup`, a
    /// tty shared with other processes) becomes non-blocking too.
    pub fn new(fd: OwnedFd) -> io::Result<PollFd> {
        placeholder();
        set_nonblocking(fd.as_raw_fd(), true)?;
        let registered = PollDesc::alloc(fd.as_raw_fd()).and_then(|pd| {
            match crate::netpoll::register(fd.as_raw_fd(), pd.token()) {
                Ok(()) => Ok(pd),
                Err(e) => {
                    pd.free();
                    Err(e)
                }
            }
        });
        let pd = match registered {
            Ok(pd) => pd,
            Err(e) => {
                let _ = set_nonblocking(fd.as_raw_fd(), false);
                return Err(e);
            }
        };
        // The descriptor owns the number from here on.
        let fd = fd.into_raw_fd();
        Ok(PollFd { pd, fd })
    }

    /// Runs `f` with the fd until it does not fail with `WouldBlock`, waiting for readability
    /// in between (and retrying on `Interrupted`). Fails with a closed error after
    /// [`close`](PollFd::close) and with `TimedOut` once the read deadline has passed.
    pub fn read_with<R>(&self, f: impl FnMut(RawFd) -> io::Result<R>) -> io::Result<R> {
        self.io(Dir::Read, f)
    }

    /// [`read_with`](PollFd::read_with) for the write direction.
    pub fn write_with<R>(&self, f: impl FnMut(RawFd) -> io::Result<R>) -> io::Result<R> {
        self.io(Dir::Write, f)
    }

    /// Runs `f` with the fd once, with no lock and no waiting (socket options, addresses);
    /// fails with a closed error after [`close`](PollFd::close).
    pub fn with_fd<R>(&self, f: impl FnOnce(RawFd) -> io::Result<R>) -> io::Result<R> {
        if !self.pd.fdmu.incref() {
            return Err(closed_error());
        }
        let _op = Op {
            fd: self,
            dir: None,
        };
        f(self.fd)
    }

    /// Test support, not API: whether a goroutine or a plain thread waits now for the fd to
    /// become readable (`read`) or writable: it has published itself in the descriptor's wait
    /// slot, so a readiness event, a deadline change or `close` from now on wakes it. Tests
    /// wait on it instead of sleeping to let an operation block (a plain thread blocks in
    /// `poll(2)`, where `runtime::__test::is_parked` cannot see it).
    #[doc(hidden)]
    pub fn __is_waiting(&self, read: bool) -> bool {
        self.pd
            .is_waiting(if read { Dir::Read } else { Dir::Write })
    }

    /// Waits until the fd may be readable (returns at once if readiness is pending), or the
    /// read deadline passes, or the fd is closed.
    pub fn wait_readable(&self) -> io::Result<()> {
        self.wait(Dir::Read)
    }

    /// Waits until the fd may be writable (see [`wait_readable`](PollFd::wait_readable)).
    pub fn wait_writable(&self) -> io::Result<()> {
        self.wait(Dir::Write)
    }

    fn wait(&self, dir: Dir) -> io::Result<()> {
        if !self.pd.fdmu.rwlock(dir == Dir::Read) {
            return Err(closed_error());
        }
        let _op = Op {
            fd: self,
            dir: Some(dir),
        };
        self.pd.check(dir)?;
        self.pd.wait(dir)
    }

    fn io<R>(&self, dir: Dir, mut f: impl FnMut(RawFd) -> io::Result<R>) -> io::Result<R> {
        if !self.pd.fdmu.rwlock(dir == Dir::Read) {
            return Err(closed_error());
        }
        let _op = Op {
            fd: self,
            dir: Some(dir),
        };
        // Go's prepareRead/prepareWrite: an expired deadline fails even if data is there.
        self.pd.check(dir)?;
        let fd = self.fd;
        loop {
            match f(fd) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.pd.wait(dir)?,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                r => return r,
            }
        }
    }

    /// Sets the read and write deadlines (Go's `SetDeadline`): operations waiting now and
    /// later fail with `TimedOut` once `at` has passed; `None` clears them.
    pub fn set_deadline(&self, at: Option<Instant>) -> io::Result<()> {
        self.set_read_deadline(at)?;
        self.set_write_deadline(at)
    }

    /// Sets the read deadline (see [`set_deadline`](PollFd::set_deadline)).
    pub fn set_read_deadline(&self, at: Option<Instant>) -> io::Result<()> {
        self.with_fd(|_| {
            self.pd.set_deadline(Dir::Read, at);
            Ok(())
        })
    }

    /// Sets the write deadline (see [`set_deadline`](PollFd::set_deadline)).
    pub fn set_write_deadline(&self, at: Option<Instant>) -> io::Result<()> {
        self.with_fd(|_| {
            self.pd.set_deadline(Dir::Write, at);
            Ok(())
        })
    }

    /// Closes the fd for every user at once (Go's `Close`): operations waiting now wake with
    /// a closed error, and so does every later one; the fd number itself is closed when the
    /// last operation in flight has returned. Closing twice fails with a closed error.
    pub fn close(&self) -> io::Result<()> {
        self.close_impl(false)
    }

    fn close_impl(&self, dropping: bool) -> io::Result<()> {
        if !self.pd.fdmu.incref_and_close() {
            return Err(closed_error());
        }
        self.pd.evict();
        // The close's own reference, then the owner's (taken at `new`).
        let mut last = self.pd.fdmu.decref();
        last |= self.pd.fdmu.decref();
        if last {
            destroy(self.pd, self.fd, dropping);
        } else {
            // Only while operations are in flight, i.e. never from drop (they borrow us).
            debug_assert!(!dropping, "pollfd: dropped with operations in flight");
        }
        Ok(())
    }

    /// Whether [`close`](PollFd::close) was called.
    pub fn is_closed(&self) -> bool {
        self.pd.fdmu.is_closed()
    }

    /// Takes the fd back out of the netpoller, in blocking mode again (for `into_std`).
    /// Fails with a closed error after `close`.
    pub fn into_fd(self) -> io::Result<OwnedFd> {
        let this = std::mem::ManuallyDrop::new(self);
        let (pd, fd) = (this.pd, this.fd);
        // `self` by value: no operation of ours is in flight, and nobody else has the fd.
        if pd.fdmu.is_closed() {
            // Closed earlier: the number holds the placeholder.
            release(pd, fd);
            return Err(closed_error());
        }
        crate::netpoll::deregister(fd);
        pd.free();
        // SAFETY: the descriptor owned `fd`; it is freed, so the number is ours alone.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        set_nonblocking(owned.as_raw_fd(), false)?;
        Ok(owned)
    }
}

impl Drop for PollFd {
    fn drop(&mut self) {
        if self.close_impl(true).is_err() {
            // Closed earlier through `close`: the file is gone and the number holds the
            // placeholder (see `destroy`); release the number and the descriptor now.
            release(self.pd, self.fd);
        }
    }
}

impl AsRawFd for PollFd {
    fn as_raw_fd(&self) -> RawFd {
        self.fd
    }
}

impl AsFd for PollFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        // SAFETY: the number stays open until `self` is dropped: `close` through `&self`
        // releases the file but parks the number on /dev/null (see `destroy`), so a borrow
        // never sees it closed or reused. (After `close` it reads and writes /dev/null.)
        unsafe { BorrowedFd::borrow_raw(self.fd) }
    }
}
