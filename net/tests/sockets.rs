//! UDP, Unix sockets, `dial`/`listen`, and `PollFd` on fds that are not sockets. Every test
//! runs under the watchdog.

#[path = "../../runtime/tests/common/mod.rs"]
mod common;
mod support;

use common::{wait_until, watchdog};
use net::{PollFd, UdpSocket, UnixDatagram, UnixListener, UnixStream};
use runtime::WaitReason;
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::dump_shows;

/// A fresh socket path in a per-test directory.
fn sock_path(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("goro-net-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("s")
}

#[test]
fn udp_datagrams_go_both_ways_between_goroutines() {
    watchdog(30, || {
        runtime::block_on(|| {
            let server = UdpSocket::bind("127.0.0.1:0").unwrap();
            let addr = server.local_addr().unwrap();
            let h = runtime::spawn(move || {
                let mut buf = [0u8; 64];
                for _ in 0..100 {
                    let (n, from) = server.recv_from(&mut buf).unwrap();
                    server.send_to(&buf[..n], from).unwrap();
                }
            });
            let client = UdpSocket::bind("127.0.0.1:0").unwrap();
            client.connect(addr).unwrap();
            assert_eq!(client.peer_addr().unwrap(), addr);
            for i in 0..100u32 {
                client.send(&i.to_be_bytes()).unwrap();
                let mut b = [0u8; 8];
                let n = client.recv(&mut b).unwrap();
                assert_eq!(&b[..n], &i.to_be_bytes(), "datagram {i}");
            }
            h.join().unwrap();
        });
    });
}

#[test]
fn udp_recv_honours_deadline_and_close() {
    watchdog(30, || {
        runtime::block_on(|| {
            let s = Arc::new(UdpSocket::bind("127.0.0.1:0").unwrap());
            s.set_read_deadline(Some(Instant::now() + Duration::from_millis(20)))
                .unwrap();
            let e = s.recv_from(&mut [0u8; 8]).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::TimedOut);
            s.set_read_deadline(None).unwrap();
            let s2 = s.clone();
            let site = next_line_site!();
            let r = runtime::spawn(move || s2.recv_from(&mut [0u8; 8]).map(|_| ()));
            wait_until(|| dump_shows(&site, "IO wait"));
            s.close().unwrap();
            assert!(net::is_closed(&r.join().unwrap().unwrap_err()));
        });
    });
}

#[test]
fn unix_stream_echo_and_addresses() {
    watchdog(30, || {
        runtime::block_on(|| {
            let path = sock_path("stream");
            let ln = UnixListener::bind(&path).unwrap();
            assert_eq!(ln.local_addr().unwrap().as_pathname(), Some(path.as_path()));
            let h = runtime::spawn(move || {
                let (mut c, _) = ln.accept().unwrap();
                let mut buf = [0u8; 1024];
                loop {
                    let n = c.read(&mut buf).unwrap();
                    if n == 0 {
                        return;
                    }
                    c.write_all(&buf[..n]).unwrap();
                }
            });
            let mut c = UnixStream::connect(&path).unwrap();
            assert_eq!(c.peer_addr().unwrap().as_pathname(), Some(path.as_path()));
            for i in 0..50 {
                let msg = format!("message {i}");
                c.write_all(msg.as_bytes()).unwrap();
                let mut back = vec![0u8; msg.len()];
                c.read_exact(&mut back).unwrap();
                assert_eq!(back, msg.as_bytes());
            }
            c.shutdown(std::net::Shutdown::Write).unwrap();
            h.join().unwrap();
        });
    });
}

#[test]
fn unix_pair_and_datagrams() {
    watchdog(30, || {
        runtime::block_on(|| {
            let (a, b) = UnixStream::pair().unwrap();
            let h = runtime::spawn(move || {
                let mut s = String::new();
                (&b).read_to_string(&mut s).unwrap();
                s
            });
            (&a).write_all(b"over a pair").unwrap();
            drop(a);
            assert_eq!(h.join().unwrap(), "over a pair");

            let (x, y) = UnixDatagram::pair().unwrap();
            let h = runtime::spawn(move || {
                let mut b = [0u8; 16];
                let n = y.recv(&mut b).unwrap();
                b[..n].to_vec()
            });
            x.send(b"dgram").unwrap();
            assert_eq!(h.join().unwrap(), b"dgram");

            let path = sock_path("dgram");
            let server = UnixDatagram::bind(&path).unwrap();
            let client = UnixDatagram::unbound().unwrap();
            client.send_to(b"to a path", &path).unwrap();
            let mut b = [0u8; 16];
            let (n, _) = server.recv_from(&mut b).unwrap();
            assert_eq!(&b[..n], b"to a path");
        });
    });
}

#[test]
fn dial_and_listen_by_network_name() {
    watchdog(30, || {
        runtime::block_on(|| {
            let ln = net::listen("tcp4", "127.0.0.1:0").unwrap();
            let addr = ln.addr().unwrap().to_string();
            let h = runtime::spawn(move || {
                let c = ln.accept().unwrap();
                (&c).write_all(b"tcp").unwrap();
            });
            let mut c = net::dial("tcp", &addr).unwrap();
            let mut s = String::new();
            c.read_to_string(&mut s).unwrap();
            assert_eq!(s, "tcp");
            h.join().unwrap();

            let path = sock_path("dial");
            let ln = net::listen("unix", path.to_str().unwrap()).unwrap();
            let h = runtime::spawn(move || {
                let c = ln.accept().unwrap();
                (&c).write_all(b"unix").unwrap();
            });
            let mut c = net::dial("unix", path.to_str().unwrap()).unwrap();
            let mut s = String::new();
            c.read_to_string(&mut s).unwrap();
            assert_eq!(s, "unix");
            h.join().unwrap();

            let pc = match net::listen_packet("udp", "127.0.0.1:0").unwrap() {
                net::PacketConn::Udp(u) => u,
                other => panic!("{other:?}"),
            };
            let c = net::dial("udp", &pc.local_addr().unwrap().to_string()).unwrap();
            (&c).write_all(b"udp").unwrap();
            let mut b = [0u8; 8];
            let (n, _) = pc.recv_from(&mut b).unwrap();
            assert_eq!(&b[..n], b"udp");

            assert!(net::dial("tcp", "127.0.0.1").is_err(), "missing port");
            assert!(
                net::dial("carrier-pigeon", "x:1").is_err(),
                "unknown network"
            );
            assert!(
                net::listen("udp", ":0").is_err(),
                "datagrams use listen_packet"
            );
        });
    });
}

#[test]
fn dial_timeout_and_dial_context() {
    watchdog(30, || {
        runtime::block_on(|| {
            let ln = net::listen("tcp", "127.0.0.1:0").unwrap();
            let addr = ln.addr().unwrap().to_string();
            let c = net::dial_timeout("tcp", &addr, Duration::from_secs(5)).unwrap();
            drop(c);

            use chan::context;
            let (ctx, cancel) = context::with_cancel(&context::background());
            let c = net::dial_context(&ctx, "tcp", &addr).unwrap();
            drop(c);
            cancel.cancel();
            let e = net::dial_context(&ctx, "tcp", &addr).unwrap_err();
            assert_eq!(
                e.get_ref()
                    .and_then(|e| e.downcast_ref::<context::ContextError>()),
                Some(&context::ContextError::Canceled)
            );
            let (ctx, _c) = context::with_timeout(&context::background(), Duration::from_millis(1));
            assert_eq!(ctx.done().recv(), None); // its deadline has passed
            let e = net::dial_context(&ctx, "tcp", &addr).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        });
    });
}

#[test]
fn pollfd_waits_on_a_pipe() {
    watchdog(30, || {
        runtime::block_on(|| {
            let mut fds = [0; 2];
            // SAFETY: a two-int buffer for pipe2.
            assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
            use std::os::fd::FromRawFd;
            // SAFETY: two fresh fds, ours.
            let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
            let r = Arc::new(PollFd::new(r).unwrap());
            let mut w = std::fs::File::from(w);
            let r2 = r.clone();
            let site = next_line_site!();
            let reader = runtime::spawn(move || {
                let mut buf = [0u8; 16];
                let n = r2
                    .read_with(|fd| {
                        // SAFETY: a writable buffer of 16 bytes.
                        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
                        if n < 0 {
                            Err(io::Error::last_os_error())
                        } else {
                            Ok(n as usize)
                        }
                    })
                    .unwrap();
                buf[..n].to_vec()
            });
            wait_until(|| dump_shows(&site, "IO wait"));
            w.write_all(b"pipe!").unwrap();
            assert_eq!(reader.join().unwrap(), b"pipe!");
            // wait_readable with a deadline.
            r.set_read_deadline(Some(Instant::now() + Duration::from_millis(10)))
                .unwrap();
            assert_eq!(
                r.wait_readable().unwrap_err().kind(),
                io::ErrorKind::TimedOut
            );
        });
    });
}

#[test]
fn unix_connect_waits_for_room_in_a_full_backlog() {
    watchdog(30, || {
        runtime::block_on(|| {
            let path = sock_path("backlog");
            // A std listener with a backlog of 0 that accepts only later.
            let ln = std::os::unix::net::UnixListener::bind(&path).unwrap();
            use std::os::fd::AsRawFd;
            // SAFETY: listen on a live socket we own.
            assert_eq!(unsafe { libc::listen(ln.as_raw_fd(), 0) }, 0);
            let mut held = Vec::new();
            let mut blocked = None;
            for _ in 0..8 {
                let p = path.clone();
                let (h, watched) = common::spawn_watched(move || UnixStream::connect(&p));
                // It connects at once, or it waits for room (Linux has no readiness event for
                // that: `connect` backs off in `runtime::sleep`).
                wait_until(|| {
                    h.is_finished()
                        || watched.is_parked(WaitReason::Sleep)
                        || watched.is_parked(WaitReason::IoWait)
                });
                if h.is_finished() {
                    held.push(h.join().unwrap().expect("connect with room"));
                } else {
                    blocked = Some(h);
                    break;
                }
            }
            let h = blocked.expect("a connect waits once the backlog is full");
            let (_a, _) = ln.accept().unwrap();
            let _b = ln.accept().unwrap();
            h.join().unwrap().expect("connects once there is room");
        });
    });
}

#[test]
fn unix_autobind_and_go_abstract_names() {
    watchdog(30, || {
        runtime::block_on(|| {
            use std::os::linux::net::SocketAddrExt;
            // An empty path autobinds an abstract name, as std does.
            let a = UnixDatagram::bind("").unwrap();
            let b = UnixDatagram::bind("").unwrap();
            let na = a.local_addr().unwrap();
            assert!(
                na.as_abstract_name().is_some_and(|n| !n.is_empty()),
                "{na:?}"
            );
            assert_ne!(
                na.as_abstract_name(),
                b.local_addr().unwrap().as_abstract_name()
            );
            // Go's "@name" is an abstract name in dial and listen.
            let name = format!("@goro-net-test-{}", std::process::id());
            let ln = net::listen("unix", &name).unwrap();
            assert_eq!(ln.addr().unwrap().to_string(), name);
            let h = runtime::spawn(move || {
                let c = ln.accept().unwrap();
                (&c).write_all(b"abstract").unwrap();
            });
            let mut c = net::dial("unix", &name).unwrap();
            let mut s = String::new();
            c.read_to_string(&mut s).unwrap();
            assert_eq!(s, "abstract");
            h.join().unwrap();
        });
    });
}
