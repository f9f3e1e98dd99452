//! TCP: [`TcpListener`] and [`TcpStream`], with std::net's names and Go's deadlines and close.

use crate::conn::{go_socket, stream_io};
use crate::resolve::resolve;
use crate::sys::{RawAddr, Socket};
use std::io;
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The accept queue length asked of `listen(2)` (the kernel caps it at `somaxconn`, 4096 on
/// current Linux; Go asks for `somaxconn` itself).
const BACKLOG: i32 = 4096;

/// A TCP socket server, listening for connections (std's `TcpListener`, Go's
/// `net.TCPListener`). [`accept`](TcpListener::accept) parks the calling goroutine, not its
/// thread, until a connection arrives.
///
/// ```
/// use goro_net_doc::*;
/// # mod goro_net_doc { pub use net::*; }
/// use std::io::{Read, Write};
/// runtime::block_on(|| {
///     let ln = TcpListener::bind("127.0.0.1:0").unwrap();
///     let addr = ln.local_addr().unwrap();
///     runtime::go!(move || {
///         let (mut c, _) = ln.accept().unwrap();
///         let mut buf = [0u8; 5];
///         c.read_exact(&mut buf).unwrap();
///         c.write_all(&buf).unwrap(); // echo
///     });
///     let mut c = TcpStream::connect(addr).unwrap();
///     c.write_all(b"hello").unwrap();
///     let mut back = [0u8; 5];
///     c.read_exact(&mut back).unwrap();
///     assert_eq!(&back, b"hello");
/// });
/// ```
pub struct TcpListener {
    inner: Arc<Socket>,
}

go_socket!(TcpListener, std::net::TcpListener, "net.TCPListener");

impl TcpListener {
    /// Binds to the first address of `addr` that works and listens (`SO_REUSEADDR` set, as
    /// std and Go do). Names are resolved with the goroutine's P handed off meanwhile
    /// ([`runtime::syscall`]).
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<TcpListener> {
        each_addr(resolve(addr)?, |a| {
            let s = Socket::new_inet(a, libc::SOCK_STREAM)?;
            s.setsockopt(libc::SOL_SOCKET, libc::SO_REUSEADDR, 1 as libc::c_int)?;
            s.bind(&RawAddr::from_inet(a))?;
            s.listen(BACKLOG)?;
            Ok(TcpListener { inner: Arc::new(s) })
        })
    }

    /// Waits for a connection and returns it with the peer's address. Errors such as
    /// `EMFILE` (out of file descriptors) come back as errors; the listener stays usable.
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (s, addr) = self.inner.accept()?;
        Ok((TcpStream { inner: Arc::new(s) }, addr.to_inet()?))
    }

    /// An endless iterator of [`accept`](TcpListener::accept)ed connections (std's
    /// `incoming`); it yields the errors too, and never `None`.
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// The address this listener is bound to (with the port the kernel chose for port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_raw()?.to_inet()
    }

    /// Sets `IP_TTL` for the connections this listener accepts.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.inner
            .setsockopt(libc::IPPROTO_IP, libc::IP_TTL, ttl as libc::c_int)
    }
}

/// The iterator of [`TcpListener::incoming`].
#[derive(Debug)]
pub struct Incoming<'a> {
    listener: &'a TcpListener,
}

impl Iterator for Incoming<'_> {
    type Item = io::Result<TcpStream>;
    fn next(&mut self) -> Option<io::Result<TcpStream>> {
        Some(self.listener.accept().map(|(s, _)| s))
    }
}

/// A TCP connection (std's `TcpStream`, Go's `net.TCPConn`). Reads and writes park the
/// calling goroutine, not its thread, while the socket is not ready; from a plain thread they
/// block it in `poll(2)`.
///
/// `Read` and `Write` are implemented for `&TcpStream` too, so one goroutine can read while
/// another writes, as in Go. `write_all` retries short writes, and is what Go's `Write` does.
pub struct TcpStream {
    pub(crate) inner: Arc<Socket>,
}

go_socket!(TcpStream, std::net::TcpStream, "net.TCPConn");
stream_io!(TcpStream);

impl TcpStream {
    /// Connects to the first address of `addr` that accepts (std's `connect`, Go's
    /// `net.Dial("tcp", addr)`), parking the goroutine while the handshake runs.
    pub fn connect<A: ToSocketAddrs>(addr: A) -> io::Result<TcpStream> {
        each_addr(resolve(addr)?, |a| TcpStream::connect_deadline(a, None))
    }

    /// Connects to `addr`, failing with `TimedOut` after `timeout` (std's `connect_timeout`).
    pub fn connect_timeout(addr: &SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        if timeout.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cannot set a 0 duration timeout",
            ));
        }
        TcpStream::connect_deadline(addr, Some(runtime::deadline_after(timeout)))
    }

    pub(crate) fn connect_deadline(
        addr: &SocketAddr,
        deadline: Option<Instant>,
    ) -> io::Result<TcpStream> {
        let s = Socket::new_inet(addr, libc::SOCK_STREAM)?;
        s.connect(&RawAddr::from_inet(addr), deadline)?;
        Ok(TcpStream { inner: Arc::new(s) })
    }

    /// The address of the remote end.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.peer_raw()?.to_inet()
    }

    /// The address of the local end.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_raw()?.to_inet()
    }

    /// Shuts down the read half, the write half (the peer reads EOF: Go's `CloseWrite`), or
    /// both.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.inner.shutdown(how)
    }

    /// Sets `TCP_NODELAY` (Go sets it on every TCP connection by default; std and goro
    /// leave the kernel's default, Nagle on).
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        self.inner
            .setsockopt(libc::IPPROTO_TCP, libc::TCP_NODELAY, on as libc::c_int)
    }

    /// Whether `TCP_NODELAY` is set.
    pub fn nodelay(&self) -> io::Result<bool> {
        let v = self
            .inner
            .getsockopt_int(libc::IPPROTO_TCP, libc::TCP_NODELAY)?;
        Ok(v != 0)
    }

    /// Sets `IP_TTL`.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.inner
            .setsockopt(libc::IPPROTO_IP, libc::IP_TTL, ttl as libc::c_int)
    }

    /// Reads without consuming (`MSG_PEEK`), parking until data arrives.
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.recv(buf, libc::MSG_PEEK)
    }
}

/// Tries `f` on each address in turn; the last error if none works.
pub(crate) fn each_addr<T>(
    addrs: Vec<SocketAddr>,
    mut f: impl FnMut(&SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    let mut last = None;
    for a in &addrs {
        match f(a) {
            Ok(t) => return Ok(t),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "could not resolve to any addresses",
        )
    }))
}
