//! Unix domain sockets: [`UnixListener`], [`UnixStream`], [`UnixDatagram`], with
//! `std::os::unix::net`'s names and Go's deadlines and close.

use crate::conn::{go_socket, stream_io};
use crate::sys::{RawAddr, Socket, cvt};
use std::io;
use std::net::Shutdown;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

/// A Unix stream socket server (std's `UnixListener`, Go's `net.UnixListener`).
///
/// ```
/// use std::io::{Read, Write};
/// let dir = std::env::temp_dir().join(format!("goro-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("sock");
/// let _ = std::fs::remove_file(&path);
/// runtime::block_on(move || {
///     let ln = net::UnixListener::bind(&path).unwrap();
///     runtime::go!(move || {
///         let (mut c, _) = ln.accept().unwrap();
///         c.write_all(b"hi").unwrap();
///     });
///     let mut c = net::UnixStream::connect(&path).unwrap();
///     let mut s = String::new();
///     c.read_to_string(&mut s).unwrap();
///     assert_eq!(s, "hi");
/// });
/// ```
pub struct UnixListener {
    inner: Arc<Socket>,
}

go_socket!(
    UnixListener,
    std::os::unix::net::UnixListener,
    "net.UnixListener"
);

fn unix_socket(ty: libc::c_int) -> io::Result<Socket> {
    Socket::new(libc::AF_UNIX, ty)
}

impl UnixListener {
    /// Binds to `path` (which must not exist) and listens.
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixListener> {
        UnixListener::bind_raw(&RawAddr::from_path(path.as_ref())?)
    }

    pub(crate) fn bind_raw(addr: &RawAddr) -> io::Result<UnixListener> {
        let s = unix_socket(libc::SOCK_STREAM)?;
        s.bind(addr)?;
        s.listen(4096)?;
        Ok(UnixListener { inner: Arc::new(s) })
    }

    /// Waits for a connection.
    pub fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let (s, a) = self.inner.accept()?;
        Ok((UnixStream { inner: Arc::new(s) }, a.to_unix()?))
    }

    /// An endless iterator of accepted connections (errors included).
    pub fn incoming(&self) -> impl Iterator<Item = io::Result<UnixStream>> + '_ {
        std::iter::repeat_with(|| self.accept().map(|(s, _)| s))
    }

    /// The address this listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_raw()?.to_unix()
    }
}

/// A Unix stream connection (std's `UnixStream`, Go's `net.UnixConn`).
pub struct UnixStream {
    inner: Arc<Socket>,
}

go_socket!(UnixStream, std::os::unix::net::UnixStream, "net.UnixConn");
stream_io!(UnixStream);

/// Two connected sockets of type `ty`, both registered.
fn pair(ty: libc::c_int) -> io::Result<(Socket, Socket)> {
    let mut fds = [0; 2];
    // SAFETY: a two-int buffer for socketpair.
    cvt(unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            ty | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    })?;
    // SAFETY: two fresh fds, ours.
    let (a, b) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    Ok((Socket::from_owned(a)?, Socket::from_owned(b)?))
}

impl UnixStream {
    /// Connects to the socket at `path`.
    ///
    /// If the listener's backlog is full, waits as std's blocking connect does (polling with
    /// a growing pause: no readiness says when there is room).
    pub fn connect<P: AsRef<Path>>(path: P) -> io::Result<UnixStream> {
        UnixStream::connect_raw(&RawAddr::from_path(path.as_ref())?)
    }

    pub(crate) fn connect_raw(addr: &RawAddr) -> io::Result<UnixStream> {
        let s = unix_socket(libc::SOCK_STREAM)?;
        s.connect(addr, None)?;
        Ok(UnixStream { inner: Arc::new(s) })
    }

    /// An unnamed pair of connected sockets.
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = pair(libc::SOCK_STREAM)?;
        Ok((
            UnixStream { inner: Arc::new(a) },
            UnixStream { inner: Arc::new(b) },
        ))
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_raw()?.to_unix()
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.peer_raw()?.to_unix()
    }

    /// Shuts down one half or both.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.inner.shutdown(how)
    }
}

/// A Unix datagram socket (std's `UnixDatagram`, Go's `net.UnixConn` for "unixgram").
pub struct UnixDatagram {
    inner: Arc<Socket>,
}

go_socket!(
    UnixDatagram,
    std::os::unix::net::UnixDatagram,
    "net.UnixConn"
);

impl UnixDatagram {
    /// A socket bound to `path`.
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixDatagram> {
        UnixDatagram::bind_raw(&RawAddr::from_path(path.as_ref())?)
    }

    pub(crate) fn bind_raw(addr: &RawAddr) -> io::Result<UnixDatagram> {
        let s = unix_socket(libc::SOCK_DGRAM)?;
        s.bind(addr)?;
        Ok(UnixDatagram { inner: Arc::new(s) })
    }

    /// A socket bound to no address.
    pub fn unbound() -> io::Result<UnixDatagram> {
        Ok(UnixDatagram {
            inner: Arc::new(unix_socket(libc::SOCK_DGRAM)?),
        })
    }

    /// An unnamed pair of connected datagram sockets.
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = pair(libc::SOCK_DGRAM)?;
        Ok((
            UnixDatagram { inner: Arc::new(a) },
            UnixDatagram { inner: Arc::new(b) },
        ))
    }

    /// Sets the default peer.
    pub fn connect<P: AsRef<Path>>(&self, path: P) -> io::Result<()> {
        self.connect_raw(&RawAddr::from_path(path.as_ref())?)
    }

    pub(crate) fn connect_raw(&self, addr: &RawAddr) -> io::Result<()> {
        self.inner.connect(addr, None)
    }

    /// Sends to the connected peer.
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }

    /// Receives from the connected peer.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.recv(buf, 0)
    }

    /// Sends to the socket at `path`.
    pub fn send_to<P: AsRef<Path>>(&self, buf: &[u8], path: P) -> io::Result<usize> {
        self.inner.send_to(buf, &RawAddr::from_path(path.as_ref())?)
    }

    /// Receives a datagram and its sender's address.
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let (n, a) = self.inner.recv_from(buf, 0)?;
        Ok((n, a.to_unix()?))
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_raw()?.to_unix()
    }

    /// The connected peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.peer_raw()?.to_unix()
    }

    /// Shuts down one half or both.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.inner.shutdown(how)
    }
}
