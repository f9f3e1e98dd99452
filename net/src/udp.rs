//! UDP: [`UdpSocket`], with std::net's names and Go's deadlines and close.

use crate::conn::go_socket;
use crate::resolve::resolve;
use crate::sys::{RawAddr, Socket};
use crate::tcp::each_addr;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;

/// A UDP socket (std's `UdpSocket`, Go's `net.UDPConn`). Receives park the calling goroutine,
/// not its thread, until a datagram arrives.
///
/// ```
/// use net::UdpSocket;
/// runtime::block_on(|| {
///     let a = UdpSocket::bind("127.0.0.1:0").unwrap();
///     let b = UdpSocket::bind("127.0.0.1:0").unwrap();
///     let to = b.local_addr().unwrap();
///     runtime::go!(move || { a.send_to(b"ping", to).unwrap(); });
///     let mut buf = [0u8; 16];
///     let (n, _from) = b.recv_from(&mut buf).unwrap();
///     assert_eq!(&buf[..n], b"ping");
/// });
/// ```
pub struct UdpSocket {
    inner: Arc<Socket>,
}

go_socket!(UdpSocket, std::net::UdpSocket, "net.UDPConn");

impl UdpSocket {
    /// Binds to the first address of `addr` that works.
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<UdpSocket> {
        each_addr(resolve(addr)?, |a| {
            let s = Socket::new_inet(a, libc::SOCK_DGRAM)?;
            s.bind(&RawAddr::from_inet(a))?;
            Ok(UdpSocket { inner: Arc::new(s) })
        })
    }

    /// Sets the default destination for [`send`](UdpSocket::send) and the only source
    /// [`recv`](UdpSocket::recv) accepts.
    pub fn connect<A: ToSocketAddrs>(&self, addr: A) -> io::Result<()> {
        each_addr(resolve(addr)?, |a| {
            // A datagram connect completes at once.
            self.inner.connect(&RawAddr::from_inet(a), None)
        })
    }

    /// Sends a datagram to the connected peer.
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }

    /// Receives a datagram from the connected peer (the rest of a datagram longer than
    /// `buf` is discarded).
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.recv(buf, 0)
    }

    /// Receives a datagram without removing it from the queue.
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.recv(buf, libc::MSG_PEEK)
    }

    /// Sends a datagram to `addr` (its first resolved address).
    pub fn send_to<A: ToSocketAddrs>(&self, buf: &[u8], addr: A) -> io::Result<usize> {
        let a = resolve(addr)?.into_iter().next().ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "no addresses to send data to")
        })?;
        self.inner.send_to(buf, &RawAddr::from_inet(&a))
    }

    /// Receives a datagram and the address it came from.
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let (n, a) = self.inner.recv_from(buf, 0)?;
        Ok((n, a.to_inet()?))
    }

    /// Like [`recv_from`](UdpSocket::recv_from), without removing the datagram.
    pub fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let (n, a) = self.inner.recv_from(buf, libc::MSG_PEEK)?;
        Ok((n, a.to_inet()?))
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_raw()?.to_inet()
    }

    /// The connected peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.peer_raw()?.to_inet()
    }

    /// Sets `SO_BROADCAST`.
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.inner
            .setsockopt(libc::SOL_SOCKET, libc::SO_BROADCAST, on as libc::c_int)
    }

    /// Sets `IP_TTL`.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.inner
            .setsockopt(libc::IPPROTO_IP, libc::IP_TTL, ttl as libc::c_int)
    }
}
