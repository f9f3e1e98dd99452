//! TCP on the netpoller: echo at scale, deadlines, close, shutdown, large transfers, resets,
//! plain threads, and what a goroutine dump shows. Every test runs under the watchdog, which
//! fails it with a goroutine dump instead of hanging.

#[path = "../../runtime/tests/common/mod.rs"]
mod common;
mod support;

use common::{wait_until, watchdog};
use net::{TcpListener, TcpStream};
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use support::dump_shows;

/// A listener on loopback and its address.
fn listener() -> (TcpListener, std::net::SocketAddr) {
    let ln = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = ln.local_addr().unwrap();
    (ln, addr)
}

/// A connected pair: (client, server side).
fn pair() -> (TcpStream, TcpStream) {
    let (ln, addr) = listener();
    let c = TcpStream::connect(addr).unwrap();
    let (s, peer) = ln.accept().unwrap();
    assert_eq!(peer, c.local_addr().unwrap());
    (c, s)
}

/// Go's echo handler: copy what is read back until EOF.
fn echo(mut c: TcpStream) {
    let mut buf = [0u8; 4096];
    loop {
        match c.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => c.write_all(&buf[..n]).unwrap(),
            Err(e) => panic!("echo read: {e}"),
        }
    }
}

/// Raises the soft fd limit to the hard one (Go's os package does this at startup): the
/// echo test holds 2,000 sockets, more than a default soft limit of 1,024.
fn raise_fd_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

#[test]
fn echo_with_a_thousand_goroutine_clients_returns_every_byte_in_order() {
    const CLIENTS: usize = 1000;
    const ROUNDS: usize = 20;
    raise_fd_limit();
    watchdog(120, || {
        runtime::block_on(|| {
            let (ln, addr) = listener();
            runtime::go!(move || {
                for c in ln.incoming() {
                    let c = c.unwrap();
                    runtime::go!(move || echo(c));
                }
            });
            let wg = Arc::new(AtomicUsize::new(0));
            let handles: Vec<_> = (0..CLIENTS)
                .map(|id| {
                    let wg = wg.clone();
                    runtime::spawn(move || {
                        let mut c = TcpStream::connect(addr).unwrap();
                        c.set_nodelay(true).unwrap();
                        for r in 0..ROUNDS {
                            // Sizes vary so reads split and coalesce differently.
                            let msg: Vec<u8> = (0..(17 + (id * 7 + r * 13) % 300))
                                .map(|i| (id + r + i) as u8)
                                .collect();
                            c.write_all(&msg).unwrap();
                            let mut back = vec![0u8; msg.len()];
                            c.read_exact(&mut back).unwrap();
                            assert_eq!(back, msg, "client {id} round {r}: bytes differ");
                        }
                        wg.fetch_add(1, Ordering::Relaxed);
                    })
                })
                .collect();
            for h in handles {
                h.join().unwrap();
            }
            assert_eq!(wg.load(Ordering::Relaxed), CLIENTS);
        });
    });
}

#[test]
fn read_deadline_fires_with_timed_out() {
    watchdog(30, || {
        runtime::block_on(|| {
            let (c, _s) = pair();
            let t = Instant::now();
            c.set_read_deadline(Some(t + Duration::from_millis(30)))
                .unwrap();
            let e = (&c).read(&mut [0u8; 8]).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e}");
            assert!(t.elapsed() >= Duration::from_millis(30), "fired early");
            // Still expired: the next read fails at once, as in Go.
            let e = (&c).read(&mut [0u8; 8]).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        });
    });
}

#[test]
fn an_expired_deadline_fails_even_with_data_waiting_and_clearing_it_reads_the_data() {
    watchdog(30, || {
        runtime::block_on(|| {
            let (c, mut s) = pair();
            s.write_all(b"x").unwrap();
            c.set_read_deadline(Some(Instant::now() - Duration::from_secs(1)))
                .unwrap();
            let e = (&c).read(&mut [0u8; 1]).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::TimedOut);
            c.set_read_deadline(None).unwrap();
            let mut b = [0u8; 1];
            (&c).read_exact(&mut b).unwrap();
            assert_eq!(&b, b"x");
        });
    });
}

#[test]
fn a_deadline_set_in_the_past_wakes_a_blocked_read() {
    watchdog(30, || {
        runtime::block_on(|| {
            let (c, _s) = pair();
            let c = Arc::new(c);
            let c2 = c.clone();
            let site = next_line_site!();
            let reader = runtime::spawn(move || (&*c2).read(&mut [0u8; 8]));
            // Wait until it is parked on the poller.
            wait_until(|| dump_shows(&site, "IO wait"));
            c.set_read_deadline(Some(Instant::now() - Duration::from_millis(1)))
                .unwrap();
            let e = reader.join().unwrap().unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e}");
        });
    });
}

/// A read blocks with a short deadline, which is changed to `later` while it waits; past the
/// first deadline it must still be waiting, and it gets the data written then. On a machine
/// so loaded that the first deadline passes before the change is made (the read then times
/// out, as it should), it tries again with a longer one.
fn deadline_change_keeps_the_read_waiting(later: Option<Instant>) {
    watchdog(60, move || {
        runtime::block_on(move || {
            for first in [50, 500, 5000].map(Duration::from_millis) {
                let (c, mut s) = pair();
                let c = Arc::new(c);
                let first_deadline = Instant::now() + first;
                c.set_read_deadline(Some(first_deadline)).unwrap();
                let c2 = c.clone();
                let site = next_line_site!();
                let reader = runtime::spawn(move || {
                    let mut b = [0u8; 2];
                    (&*c2).read_exact(&mut b).map(|_| b)
                });
                wait_until(|| dump_shows(&site, "IO wait") || reader.is_finished());
                c.set_read_deadline(later).unwrap();
                let changed_in_time = Instant::now() < first_deadline;
                if !reader.is_finished() {
                    runtime::sleep(first + Duration::from_millis(50));
                    s.write_all(b"ok").unwrap();
                }
                match reader.join().unwrap() {
                    Ok(b) => {
                        assert_eq!(&b, b"ok");
                        return;
                    }
                    // The first deadline passed before the change was made: the read timed
                    // out, as it should. Too slow to test the change this time.
                    Err(e) if !changed_in_time => {
                        assert_eq!(e.kind(), std::io::ErrorKind::TimedOut, "{e}");
                    }
                    Err(e) => panic!("the read failed although its deadline was moved: {e}"),
                }
            }
            panic!("the first deadline passed before it could be changed, even at 5 s");
        });
    });
}

#[test]
fn extending_a_deadline_while_blocked_keeps_the_read_waiting() {
    deadline_change_keeps_the_read_waiting(Some(Instant::now() + Duration::from_secs(10)));
}

#[test]
fn clearing_a_deadline_while_blocked_keeps_the_read_waiting() {
    deadline_change_keeps_the_read_waiting(None);
}

#[test]
fn write_deadline_fires_when_the_peer_does_not_read() {
    watchdog(30, || {
        runtime::block_on(|| {
            let (c, _s) = pair();
            c.set_write_deadline(Some(Instant::now() + Duration::from_millis(50)))
                .unwrap();
            let chunk = vec![7u8; 1 << 16];
            let e = loop {
                if let Err(e) = (&c).write(&chunk) {
                    break e;
                }
            };
            assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e}");
        });
    });
}

#[test]
fn a_write_deadline_set_in_the_past_wakes_a_blocked_write_and_clearing_it_lets_writes_resume() {
    watchdog(30, || {
        runtime::block_on(|| {
            let (c, mut s) = pair();
            let c = Arc::new(c);
            let c2 = c.clone();
            let site = next_line_site!();
            let writer = runtime::spawn(move || {
                let chunk = vec![3u8; 1 << 16];
                loop {
                    if let Err(e) = (&*c2).write_all(&chunk) {
                        return e;
                    }
                }
            });
            // The peer reads nothing: the writer fills the buffers and parks.
            wait_until(|| dump_shows(&site, "IO wait"));
            c.set_write_deadline(Some(Instant::now() - Duration::from_millis(1)))
                .unwrap();
            let e = writer.join().unwrap();
            assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e}");
            c.set_write_deadline(None).unwrap();
            // Drain what was written, then a write goes through again.
            let drained = runtime::spawn(move || {
                let mut buf = vec![0u8; 1 << 16];
                let mut total = 0usize;
                loop {
                    let n = s.read(&mut buf).unwrap();
                    total += n;
                    if n == 0 || buf[..n].contains(&9) {
                        return total;
                    }
                }
            });
            (&*c).write_all(&[9]).unwrap();
            assert!(drained.join().unwrap() > 1);
        });
    });
}

#[test]
fn close_wakes_a_blocked_accept_read_and_write() {
    watchdog(30, || {
        runtime::block_on(|| {
            let (ln, _) = listener();
            let ln = Arc::new(ln);
            let ln2 = ln.clone();
            let accept_site = next_line_site!();
            let acceptor = runtime::spawn(move || ln2.accept().map(|_| ()));

            let (c, _s) = pair();
            let c = Arc::new(c);
            let c2 = c.clone();
            let read_site = next_line_site!();
            let reader = runtime::spawn(move || (&*c2).read(&mut [0u8; 8]).map(|_| ()));
            let c3 = c.clone();
            let write_site = next_line_site!();
            let writer = runtime::spawn(move || {
                let chunk = vec![1u8; 1 << 16];
                loop {
                    (&*c3).write_all(&chunk)?;
                }
            });
            // Three goroutines parked on the poller (the accept, the read, the full write).
            wait_until(|| {
                [&accept_site, &read_site, &write_site]
                    .iter()
                    .all(|site| dump_shows(site, "IO wait"))
            });
            ln.close().unwrap();
            c.close().unwrap();
            for (what, r) in [
                ("accept", acceptor.join().unwrap()),
                ("read", reader.join().unwrap()),
                ("write", writer.join().unwrap()),
            ] {
                let e = r.expect_err(what);
                assert!(net::is_closed(&e), "{what}: {e} is not a closed error");
            }
            let e = ln.accept().unwrap_err();
            assert!(net::is_closed(&e), "accept after close: {e}");
            assert!(net::is_closed(&c.close().unwrap_err()), "second close");
        });
    });
}

#[test]
fn close_releases_the_socket_so_the_peer_reads_eof_while_handles_live() {
    watchdog(30, || {
        runtime::block_on(|| {
            let (c, mut s) = pair();
            let c2 = c.try_clone().unwrap();
            c.close().unwrap();
            assert!(c2.is_closed(), "close applies to every handle");
            let mut buf = [0u8; 4];
            assert_eq!(s.read(&mut buf).unwrap(), 0, "the peer sees the close");
            drop(c2);
            drop(c);
        });
    });
}

#[test]
fn shutdown_write_gives_the_peer_eof_and_the_other_half_still_works() {
    watchdog(30, || {
        runtime::block_on(|| {
            let (mut c, mut s) = pair();
            c.write_all(b"last words").unwrap();
            c.shutdown(Shutdown::Write).unwrap();
            let mut got = Vec::new();
            s.read_to_end(&mut got).unwrap();
            assert_eq!(got, b"last words");
            s.write_all(b"reply").unwrap();
            let mut back = [0u8; 5];
            c.read_exact(&mut back).unwrap();
            assert_eq!(&back, b"reply");
        });
    });
}

#[test]
fn sixteen_mib_through_a_slow_reader_arrive_intact() {
    const LEN: usize = 16 << 20;
    watchdog(120, || {
        runtime::block_on(|| {
            let (mut c, s) = pair();
            let writer = runtime::spawn(move || {
                let data: Vec<u8> = (0..LEN).map(|i| (i * 31 % 251) as u8).collect();
                c.write_all(&data).unwrap();
                c.shutdown(Shutdown::Write).unwrap();
            });
            let mut s = s;
            let mut got = Vec::with_capacity(LEN);
            let mut buf = vec![0u8; 65_521];
            let mut reads = 0u32;
            loop {
                let n = s
                    .read(&mut buf[..1 + (reads as usize * 7919) % 65_520])
                    .unwrap();
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
                reads += 1;
                if reads.is_multiple_of(64) {
                    // Slow: let the writer fill the socket buffers and block.
                    runtime::sleep(Duration::from_millis(1));
                }
            }
            writer.join().unwrap();
            assert_eq!(got.len(), LEN);
            for (i, &b) in got.iter().enumerate() {
                assert_eq!(b, (i * 31 % 251) as u8, "byte {i}");
            }
        });
    });
}

#[test]
fn a_peer_reset_is_an_error() {
    watchdog(30, || {
        runtime::block_on(|| {
            let (c, mut s) = pair();
            // SO_LINGER 0: close sends RST instead of FIN.
            let linger = libc::linger {
                l_onoff: 1,
                l_linger: 0,
            };
            use std::os::fd::AsRawFd;
            // SAFETY: setsockopt on a live socket with a valid linger struct.
            let r = unsafe {
                libc::setsockopt(
                    c.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_LINGER,
                    (&linger as *const libc::linger).cast(),
                    std::mem::size_of::<libc::linger>() as libc::socklen_t,
                )
            };
            assert_eq!(r, 0);
            drop(c);
            let e = loop {
                match s.read(&mut [0u8; 8]) {
                    Err(e) => break e,
                    Ok(0) => panic!("EOF instead of a reset"),
                    Ok(_) => {}
                }
            };
            assert_eq!(e.kind(), io::ErrorKind::ConnectionReset, "{e}");
        });
    });
}

#[test]
fn a_refused_connect_is_an_error() {
    watchdog(30, || {
        runtime::block_on(|| {
            let (ln, addr) = listener();
            drop(ln);
            let e = TcpStream::connect(addr).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused, "{e}");
        });
    });
}

#[test]
fn connect_timeout_times_out_against_a_full_accept_queue() {
    watchdog(30, || {
        runtime::block_on(|| {
            // A listener with a backlog of 0 that never accepts: once its queue is full, Linux
            // drops further SYNs, so a connect hangs in the handshake until its timeout.
            // SAFETY: plain socket calls on a fresh fd, closed below.
            let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) };
            assert!(fd >= 0);
            let std_ln = {
                use std::os::fd::FromRawFd;
                // SAFETY: fd is a fresh socket we own.
                unsafe { std::net::TcpListener::from_raw_fd(fd) }
            };
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: 0,
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes([127, 0, 0, 1]),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: a valid sockaddr_in for bind, then listen on the same fd.
            unsafe {
                assert_eq!(
                    libc::bind(
                        fd,
                        (&sin as *const libc::sockaddr_in).cast(),
                        std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
                    ),
                    0
                );
                assert_eq!(libc::listen(fd, 0), 0);
            }
            let addr = std_ln.local_addr().unwrap();
            let mut held = Vec::new();
            let e = loop {
                let t = Instant::now();
                match TcpStream::connect_timeout(&addr, Duration::from_millis(100)) {
                    Ok(c) => held.push(c),
                    Err(e) => {
                        assert!(
                            t.elapsed() >= Duration::from_millis(100),
                            "failed early: {e}"
                        );
                        break e;
                    }
                }
                assert!(held.len() < 64, "the accept queue never filled");
            };
            assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e}");
        });
    });
}

#[test]
fn a_goroutine_blocked_on_a_socket_shows_io_wait_in_the_dump() {
    watchdog(30, || {
        runtime::block_on(|| {
            let (c, mut s) = pair();
            let site = next_line_site!();
            let reader = runtime::spawn(move || {
                let mut b = [0u8; 1];
                (&c).read_exact(&mut b).unwrap();
            });
            wait_until(|| dump_shows(&site, "IO wait"));
            s.write_all(b"!").unwrap();
            reader.join().unwrap();
        });
    });
}

#[test]
fn one_goroutine_reads_while_another_writes_the_same_stream() {
    watchdog(60, || {
        runtime::block_on(|| {
            let (ln, addr) = listener();
            runtime::go!(move || echo(ln.accept().unwrap().0));
            let c = Arc::new(TcpStream::connect(addr).unwrap());
            let c2 = c.clone();
            const N: usize = 1 << 20;
            let writer = runtime::spawn(move || {
                let data: Vec<u8> = (0..N).map(|i| i as u8).collect();
                (&*c2).write_all(&data).unwrap();
            });
            let mut got = vec![0u8; N];
            (&*c).read_exact(&mut got).unwrap();
            writer.join().unwrap();
            assert!(got.iter().enumerate().all(|(i, &b)| b == i as u8));
        });
    });
}

#[test]
fn plain_threads_use_the_same_sockets() {
    watchdog(30, || {
        // No goroutine anywhere: blocking happens in poll(2).
        let (ln, addr) = listener();
        let server = std::thread::spawn(move || {
            let (c, _) = ln.accept().unwrap();
            echo(c);
        });
        let mut c = TcpStream::connect(addr).unwrap();
        for i in 0..100u32 {
            c.write_all(&i.to_le_bytes()).unwrap();
            let mut b = [0u8; 4];
            c.read_exact(&mut b).unwrap();
            assert_eq!(u32::from_le_bytes(b), i);
        }
        // A deadline on a thread.
        c.set_read_deadline(Some(Instant::now() + Duration::from_millis(30)))
            .unwrap();
        let e = c.read(&mut [0u8; 1]).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        c.set_read_deadline(None).unwrap();
        // A close from another thread wakes a thread blocked in read.
        let c = Arc::new(c);
        let c2 = c.clone();
        let reader = std::thread::spawn(move || (&*c2).read(&mut [0u8; 1]));
        wait_until(|| c.__is_waiting(true) || reader.is_finished()); // blocked in poll(2)
        c.close().unwrap();
        let e = reader.join().unwrap().unwrap_err();
        assert!(net::is_closed(&e), "{e}");
        server.join().unwrap();
    });
}

#[test]
fn threads_and_goroutines_talk_over_one_connection() {
    watchdog(30, || {
        let (ln, addr) = listener();
        // A goroutine server, a thread client.
        runtime::go!(move || echo(ln.accept().unwrap().0));
        let mut c = TcpStream::connect(addr).unwrap();
        c.write_all(b"from a thread").unwrap();
        let mut b = [0u8; 13];
        c.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"from a thread");
    });
}

#[test]
fn std_conversions_round_trip() {
    watchdog(30, || {
        runtime::block_on(|| {
            let std_ln = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = std_ln.local_addr().unwrap();
            let ln = TcpListener::from_std(std_ln).unwrap();
            let c = TcpStream::connect(addr).unwrap();
            let (s, _) = ln.accept().unwrap();
            let mut std_s = s.into_std().unwrap();
            (&c).write_all(b"ab").unwrap();
            let mut b = [0u8; 2];
            // Blocking mode again.
            std_s.read_exact(&mut b).unwrap();
            assert_eq!(&b, b"ab");
            let clone = c.try_clone().unwrap();
            assert!(c.into_std().is_err(), "a clone still shares it");
            drop(clone);
        });
    });
}

#[test]
fn nodelay_and_addresses() {
    watchdog(30, || {
        let (c, s) = pair();
        c.set_nodelay(true).unwrap();
        assert!(c.nodelay().unwrap());
        assert_eq!(c.peer_addr().unwrap(), s.local_addr().unwrap());
        assert_eq!(s.peer_addr().unwrap(), c.local_addr().unwrap());
        assert_eq!(c.take_error().unwrap().map(|e| e.to_string()), None);
    });
}
