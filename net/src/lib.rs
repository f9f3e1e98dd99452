//! goro's `net` (Go's `net` package): TCP, UDP and Unix sockets whose operations park the
//! calling goroutine, not its thread, while the socket is not ready.
//!
//! The types have std::net's names and signatures ([`TcpListener`], [`TcpStream`],
//! [`UdpSocket`], [`UnixListener`], [`UnixStream`], [`UnixDatagram`]) plus what Go's
//! connections have and std's lack:
//! * deadlines per direction (`set_deadline`, `set_read_deadline`, `set_write_deadline`,
//!   taking `Option<Instant>`), which also apply to operations already blocked; an expired
//!   one fails with [`std::io::ErrorKind::TimedOut`];
//! * `close(&self)`, which wakes every blocked operation with an error [`is_closed`]
//!   recognises (Go's `net.ErrClosed`), from any goroutine holding the socket;
//! * Go's network-named entry points: [`dial`], [`dial_timeout`], [`dial_context`],
//!   [`listen`], [`listen_packet`];
//! * [`pipe`], Go's in-memory `net.Pipe`, for tests;
//! * [`PollFd`], to wait on any other non-blocking fd (a pipe, an eventfd, a tty) the same way.
//!
//! The same types work on plain threads, which block in `poll(2)` instead.
//!
//! ```
//! use std::io::{BufRead, BufReader, Write};
//! // A line-echo server, a goroutine per connection, as Go writes it.
//! runtime::block_on(|| {
//!     let ln = net::TcpListener::bind("127.0.0.1:0").unwrap();
//!     let addr = ln.local_addr().unwrap();
//!     runtime::go!(move || {
//!         for conn in ln.incoming() {
//!             let conn = conn.unwrap();
//!             runtime::go!(move || {
//!                 let mut lines = BufReader::new(&conn);
//!                 let mut line = String::new();
//!                 while lines.read_line(&mut line).unwrap() > 0 {
//!                     (&conn).write_all(line.as_bytes()).unwrap();
//!                     line.clear();
//!                 }
//!             });
//!         }
//!     });
//!     let c = net::TcpStream::connect(addr).unwrap();
//!     (&c).write_all(b"hello\n").unwrap();
//!     let mut back = String::new();
//!     BufReader::new(&c).read_line(&mut back).unwrap();
//!     assert_eq!(back, "hello\n");
//! });
//! ```

#![warn(missing_docs)]

mod conn;
mod dial;
mod pipe;
mod resolve;
mod sys;
mod tcp;
mod udp;
mod unix;

pub use dial::{
    Addr, Conn, Listener, PacketConn, dial, dial_context, dial_timeout, listen, listen_packet,
};
pub use pipe::{Pipe, pipe};
pub use runtime::PollFd;
pub use tcp::{Incoming, TcpListener, TcpStream};
pub use udp::UdpSocket;
pub use unix::{UnixDatagram, UnixListener, UnixStream};

/// Whether `e` is the error of an operation on a closed socket (Go's
/// `errors.Is(err, net.ErrClosed)`): one that was blocked when `close` was called, or came
/// after it.
///
/// ```
/// runtime::block_on(|| {
///     let ln = net::TcpListener::bind("127.0.0.1:0").unwrap();
///     ln.close().unwrap();
///     let e = ln.accept().unwrap_err();
///     assert!(net::is_closed(&e));
/// });
/// ```
pub fn is_closed(e: &std::io::Error) -> bool {
    runtime::is_closed_error(e)
}
