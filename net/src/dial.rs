//! Go's network-named entry points: [`dial`], [`dial_timeout`], [`dial_context`], [`listen`],
//! [`listen_packet`], and the [`Conn`] / [`Listener`] they return (Go's `net.Conn` and
//! `net.Listener` interfaces, as enums).

use crate::resolve::{Family, resolve_go};
use crate::sys::RawAddr;
use crate::tcp::each_addr;
use crate::{TcpListener, TcpStream, UdpSocket, UnixDatagram, UnixListener, UnixStream};
use chan::context::{Context, ContextError};
use std::fmt;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A network address (Go's `net.Addr`): an IP socket address or a Unix socket address.
#[derive(Debug, Clone)]
pub enum Addr {
    /// TCP or UDP.
    Inet(SocketAddr),
    /// A Unix socket (maybe unnamed).
    Unix(std::os::unix::net::SocketAddr),
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Addr::Inet(a) => write!(f, "{a}"),
            Addr::Unix(a) => {
                use std::os::linux::net::SocketAddrExt;
                match (a.as_pathname(), a.as_abstract_name()) {
                    (Some(p), _) => write!(f, "{}", p.display()),
                    // Go's spelling of an abstract name.
                    (None, Some(name)) => write!(f, "@{}", String::from_utf8_lossy(name)),
                    (None, None) => Ok(()), // unnamed: Go prints ""
                }
            }
        }
    }
}

/// A connection returned by [`dial`] (Go's `net.Conn`): `Read`/`Write` (on `&Conn` too),
/// deadlines, close and addresses, whatever the network.
///
/// `write` may write part of the buffer, as std's does; Go's `Write` writes it all, which is
/// `write_all` here.
#[derive(Debug)]
pub enum Conn {
    /// "tcp", "tcp4", "tcp6".
    Tcp(TcpStream),
    /// "udp", "udp4", "udp6" (a connected socket: reads receive, writes send).
    Udp(UdpSocket),
    /// "unix".
    Unix(UnixStream),
    /// "unixgram" (connected).
    Unixgram(UnixDatagram),
}

macro_rules! each {
    ($self:expr, $c:ident => $e:expr) => {
        match $self {
            Conn::Tcp($c) => $e,
            Conn::Udp($c) => $e,
            Conn::Unix($c) => $e,
            Conn::Unixgram($c) => $e,
        }
    };
}

impl Conn {
    /// Sets both deadlines (Go's `SetDeadline`).
    pub fn set_deadline(&self, at: Option<Instant>) -> io::Result<()> {
        each!(self, c => c.set_deadline(at))
    }

    /// Sets the read deadline.
    pub fn set_read_deadline(&self, at: Option<Instant>) -> io::Result<()> {
        each!(self, c => c.set_read_deadline(at))
    }

    /// Sets the write deadline.
    pub fn set_write_deadline(&self, at: Option<Instant>) -> io::Result<()> {
        each!(self, c => c.set_write_deadline(at))
    }

    /// Closes the connection for every holder (Go's `Close`).
    pub fn close(&self) -> io::Result<()> {
        each!(self, c => c.close())
    }

    /// The local address (Go's `LocalAddr`).
    pub fn local_addr(&self) -> io::Result<Addr> {
        match self {
            Conn::Tcp(c) => c.local_addr().map(Addr::Inet),
            Conn::Udp(c) => c.local_addr().map(Addr::Inet),
            Conn::Unix(c) => c.local_addr().map(Addr::Unix),
            Conn::Unixgram(c) => c.local_addr().map(Addr::Unix),
        }
    }

    /// The remote address (Go's `RemoteAddr`).
    pub fn remote_addr(&self) -> io::Result<Addr> {
        match self {
            Conn::Tcp(c) => c.peer_addr().map(Addr::Inet),
            Conn::Udp(c) => c.peer_addr().map(Addr::Inet),
            Conn::Unix(c) => c.peer_addr().map(Addr::Unix),
            Conn::Unixgram(c) => c.peer_addr().map(Addr::Unix),
        }
    }
}

impl Read for &Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match *self {
            Conn::Tcp(c) => (&*c).read(buf),
            Conn::Udp(c) => c.recv(buf),
            Conn::Unix(c) => (&*c).read(buf),
            Conn::Unixgram(c) => c.recv(buf),
        }
    }
}

impl Write for &Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match *self {
            Conn::Tcp(c) => (&*c).write(buf),
            Conn::Udp(c) => c.send(buf),
            Conn::Unix(c) => (&*c).write(buf),
            Conn::Unixgram(c) => c.send(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A stream listener returned by [`listen`] (Go's `net.Listener`).
#[derive(Debug)]
pub enum Listener {
    /// "tcp", "tcp4", "tcp6".
    Tcp(TcpListener),
    /// "unix".
    Unix(UnixListener),
}

impl Listener {
    /// Waits for the next connection (Go's `Accept`).
    pub fn accept(&self) -> io::Result<Conn> {
        match self {
            Listener::Tcp(l) => l.accept().map(|(c, _)| Conn::Tcp(c)),
            Listener::Unix(l) => l.accept().map(|(c, _)| Conn::Unix(c)),
        }
    }

    /// The listening address (Go's `Addr`).
    pub fn addr(&self) -> io::Result<Addr> {
        match self {
            Listener::Tcp(l) => l.local_addr().map(Addr::Inet),
            Listener::Unix(l) => l.local_addr().map(Addr::Unix),
        }
    }

    /// Closes the listener: a blocked `accept` fails with a closed error (Go's `Close`).
    pub fn close(&self) -> io::Result<()> {
        match self {
            Listener::Tcp(l) => l.close(),
            Listener::Unix(l) => l.close(),
        }
    }
}

/// What a Go network name means.
enum Net {
    Tcp(Family),
    Udp(Family),
    Unix,
    Unixgram,
}

fn parse_network(network: &str) -> io::Result<Net> {
    Ok(match network {
        "tcp" => Net::Tcp(Family::Any),
        "tcp4" => Net::Tcp(Family::V4),
        "tcp6" => Net::Tcp(Family::V6),
        "udp" => Net::Udp(Family::Any),
        "udp4" => Net::Udp(Family::V4),
        "udp6" => Net::Udp(Family::V6),
        "unix" => Net::Unix,
        "unixgram" => Net::Unixgram,
        _ => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("unknown network {network}"),
            ));
        }
    })
}

/// Connects to `address` on `network` (Go's `net.Dial`): "tcp", "tcp4", "tcp6" and "udp",
/// "udp4", "udp6" take `host:port` (an empty host is the local host), "unix" and "unixgram"
/// a path, or `@name` for an abstract name (Linux), as in Go. Names are resolved off the P ([`runtime::syscall`]); each resolved address is
/// tried in turn.
///
/// ```
/// use std::io::{Read, Write};
/// runtime::block_on(|| {
///     let ln = net::listen("tcp", "127.0.0.1:0").unwrap();
///     let addr = ln.addr().unwrap().to_string();
///     runtime::go!(move || {
///         let mut c = ln.accept().unwrap();
///         c.write_all(b"hello").unwrap();
///     });
///     let mut c = net::dial("tcp", &addr).unwrap();
///     let mut s = String::new();
///     c.read_to_string(&mut s).unwrap();
///     assert_eq!(s, "hello");
/// });
/// ```
pub fn dial(network: &str, address: &str) -> io::Result<Conn> {
    dial_deadline(network, address, None, None)
}

/// [`dial`] that fails with `TimedOut` if it is not connected by `timeout` from now (Go's
/// `net.DialTimeout`). With several resolved addresses, each attempt may use all the time
/// that is left (Go divides it between them).
pub fn dial_timeout(network: &str, address: &str, timeout: Duration) -> io::Result<Conn> {
    dial_deadline(
        network,
        address,
        Some(runtime::deadline_after(timeout)),
        None,
    )
}

/// [`dial`] that gives up when `ctx` is cancelled or its deadline passes (Go's
/// `Dialer.DialContext`): a connect in progress is interrupted, and the error carries the
/// context's [`ContextError`] (kind `TimedOut` for a deadline, `Other` for a cancel).
///
/// ```
/// use goro_chan_ctx::context;
/// # mod goro_chan_ctx { pub use chan::context; }
/// runtime::block_on(|| {
///     let (ctx, cancel) = context::with_cancel(&context::background());
///     cancel.cancel();
///     let e = net::dial_context(&ctx, "tcp", "127.0.0.1:9").unwrap_err();
///     assert!(e.get_ref().unwrap().is::<context::ContextError>());
/// });
/// ```
pub fn dial_context(ctx: &Context, network: &str, address: &str) -> io::Result<Conn> {
    if let Some(e) = ctx.err() {
        return Err(context_error(e));
    }
    dial_deadline(network, address, ctx.deadline(), Some(ctx))
}

fn context_error(e: ContextError) -> io::Error {
    let kind = if e.is_timeout() {
        io::ErrorKind::TimedOut
    } else {
        io::ErrorKind::Other
    };
    io::Error::new(kind, e)
}

fn dial_deadline(
    network: &str,
    address: &str,
    deadline: Option<Instant>,
    ctx: Option<&Context>,
) -> io::Result<Conn> {
    match parse_network(network)? {
        Net::Tcp(fam) => {
            let addrs = resolve_go(address, fam, false)?;
            each_addr(addrs, |a| connect_tcp(a, deadline, ctx)).map(Conn::Tcp)
        }
        Net::Udp(fam) => {
            let addrs = resolve_go(address, fam, false)?;
            each_addr(addrs, |a| {
                let local: SocketAddr = if a.is_ipv4() {
                    "0.0.0.0:0".parse().expect("literal")
                } else {
                    "[::]:0".parse().expect("literal")
                };
                let s = UdpSocket::bind(local)?;
                s.connect(a)?;
                Ok(s)
            })
            .map(Conn::Udp)
        }
        Net::Unix => UnixStream::connect_raw(&RawAddr::from_go_unix(address)?).map(Conn::Unix),
        Net::Unixgram => {
            let s = UnixDatagram::unbound()?;
            s.connect_raw(&RawAddr::from_go_unix(address)?)?;
            Ok(Conn::Unixgram(s))
        }
    }
}

/// Connects with a deadline and, with a context, a goroutine that interrupts the connect
/// when the context is done (Go's `netFD.connect` with its interrupter).
fn connect_tcp(
    addr: &SocketAddr,
    deadline: Option<Instant>,
    ctx: Option<&Context>,
) -> io::Result<TcpStream> {
    let Some(ctx) = ctx else {
        return TcpStream::connect_deadline(addr, deadline);
    };
    use crate::sys::{RawAddr, Socket};
    let s = Arc::new(Socket::new_inet(addr, libc::SOCK_STREAM)?);
    // The context's deadline first, then the interrupter (Go's order): a cancel that comes
    // in between must not be overwritten by the later deadline.
    if deadline.is_some() {
        s.fd.set_write_deadline(deadline)?;
    }
    let finished = chan::make::<()>(0);
    let (done, fin, s2) = (ctx.done(), finished.clone(), s.clone());
    let watcher = runtime::spawn(move || {
        chan::select! {
            _ = <-done => {
                // Wake the connect: a deadline long past.
                let _ = s2.fd.set_write_deadline(Some(Instant::now()));
                true
            },
            _ = <-fin => false,
        }
    });
    let r = s.connect(&RawAddr::from_inet(addr), None);
    finished.close();
    let interrupted = watcher.join().unwrap_or(false);
    // The connection's own deadline starts cleared, as in Go.
    let _ = s.fd.set_write_deadline(None);
    if interrupted {
        let e = ctx.err().unwrap_or(ContextError::Canceled);
        let _ = s.fd.close();
        return Err(context_error(e));
    }
    r?;
    Ok(TcpStream { inner: s })
}

/// Listens on `address` (Go's `net.Listen`): "tcp", "tcp4", "tcp6" (`host:port`; an empty
/// host listens on every address) or "unix" (a path). Datagram networks go through
/// [`listen_packet`], as in Go.
pub fn listen(network: &str, address: &str) -> io::Result<Listener> {
    match parse_network(network)? {
        Net::Tcp(fam) => {
            let addrs = resolve_go(address, fam, true)?;
            each_addr(addrs, |a| TcpListener::bind(*a)).map(Listener::Tcp)
        }
        Net::Unix => UnixListener::bind_raw(&RawAddr::from_go_unix(address)?).map(Listener::Unix),
        Net::Udp(_) | Net::Unixgram => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("listen {network}: datagram networks use listen_packet (Go's ListenPacket)"),
        )),
    }
}

/// A datagram socket bound to `address` (Go's `net.ListenPacket`): "udp", "udp4", "udp6" or
/// "unixgram".
pub fn listen_packet(network: &str, address: &str) -> io::Result<PacketConn> {
    match parse_network(network)? {
        Net::Udp(fam) => {
            let addrs = resolve_go(address, fam, true)?;
            each_addr(addrs, |a| UdpSocket::bind(*a)).map(PacketConn::Udp)
        }
        Net::Unixgram => {
            UnixDatagram::bind_raw(&RawAddr::from_go_unix(address)?).map(PacketConn::Unixgram)
        }
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("listen_packet {network}: not a datagram network"),
        )),
    }
}

/// A datagram socket from [`listen_packet`] (Go's `net.PacketConn`).
#[derive(Debug)]
pub enum PacketConn {
    /// "udp", "udp4", "udp6".
    Udp(UdpSocket),
    /// "unixgram".
    Unixgram(UnixDatagram),
}
