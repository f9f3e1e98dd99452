//! `net::pipe`: Go's `net.Pipe` semantics — synchronous hand-off, full duplex, close and
//! deadlines — from goroutines and from plain threads.
//!
//! Every test runs under [`common::watchdog`], which fails it with a goroutine dump instead of
//! hanging.

#[path = "../../runtime/tests/common/mod.rs"]
mod common;

use common::{spawn_watched, watchdog};
use net::{Pipe, pipe};
use runtime::WaitReason;
use std::io::{self, Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

fn pair() -> (Arc<Pipe>, Arc<Pipe>) {
    let (a, b) = pipe();
    (Arc::new(a), Arc::new(b))
}

fn read_one(p: &Pipe) -> io::Result<usize> {
    let mut buf = [0u8; 16];
    (&*p).read(&mut buf)
}

/// A payload whose every position is distinguishable from its neighbours.
fn payload(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[3])
        .collect()
}

#[test]
fn round_trip_between_goroutines() {
    watchdog(10, || {
        let (a, b) = pair();
        let server = runtime::spawn(move || {
            let mut buf = [0u8; 64];
            let n = (&*b).read(&mut buf).unwrap();
            let mut reply = b"echo: ".to_vec();
            reply.extend_from_slice(&buf[..n]);
            (&*b).write_all(&reply).unwrap();
        });
        let client = runtime::spawn(move || {
            (&*a).write_all(b"hello").unwrap();
            let mut buf = [0u8; 11];
            (&*a).read_exact(&mut buf).unwrap();
            buf
        });
        assert_eq!(&client.join().unwrap(), b"echo: hello");
        server.join().unwrap();
    });
}

#[test]
fn one_write_is_served_by_several_small_reads() {
    watchdog(10, || {
        let (mut a, mut b) = pipe();
        let writer = runtime::spawn(move || {
            let n = a.write(b"abcdefghij").unwrap();
            (n, a)
        });
        let mut got = Vec::new();
        let mut sizes = Vec::new();
        while got.len() < 10 {
            let mut buf = [0u8; 3];
            let n = b.read(&mut buf).unwrap();
            assert!(n > 0);
            sizes.push(n);
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, b"abcdefghij");
        assert_eq!(
            sizes,
            [3, 3, 3, 1],
            "each read takes what it can of the one write"
        );
        let (n, _a) = writer.join().unwrap();
        assert_eq!(n, 10, "the write returns only when all of it was read");
    });
}

#[test]
fn a_read_returns_at_most_the_current_write() {
    watchdog(10, || {
        let (a, mut b) = pipe();
        let writer = runtime::spawn(move || {
            (&a).write_all(b"one").unwrap();
            (&a).write_all(b"two").unwrap();
            a
        });
        let mut buf = [0u8; 64];
        assert_eq!(b.read(&mut buf).unwrap(), 3);
        assert_eq!(&buf[..3], b"one");
        assert_eq!(b.read(&mut buf).unwrap(), 3);
        assert_eq!(&buf[..3], b"two");
        drop(writer.join().unwrap());
        assert_eq!(
            b.read(&mut buf).unwrap(),
            0,
            "EOF once the writer's end is dropped"
        );
    });
}

#[test]
fn write_blocks_until_read() {
    watchdog(10, || {
        let (a, b) = pair();
        let done = Arc::new(AtomicBool::new(false));
        let d2 = done.clone();
        let (writer, watched) = spawn_watched(move || {
            (&*a).write_all(b"sync").unwrap();
            d2.store(true, Ordering::SeqCst);
        });
        let parked_or_done =
            || watched.is_parked(WaitReason::IoWait) || done.load(Ordering::SeqCst);
        common::wait_until(parked_or_done);
        assert!(
            !done.load(Ordering::SeqCst),
            "no buffering: the write waits for a reader"
        );
        let mut buf = [0u8; 2];
        (&*b).read_exact(&mut buf).unwrap();
        // Parked again (or still) for the rest, unless it wrongly finished.
        common::wait_until(parked_or_done);
        assert!(
            !done.load(Ordering::SeqCst),
            "half read: the write still waits"
        );
        (&*b).read_exact(&mut buf).unwrap();
        writer.join().unwrap();
        assert!(done.load(Ordering::SeqCst));
    });
}

#[test]
fn full_duplex_at_the_same_time() {
    watchdog(20, || {
        let (a, b) = pair();
        let to_b = payload(200_000);
        let to_a: Vec<u8> = to_b.iter().rev().copied().collect();
        let mut handles = Vec::new();
        // Each end writes and reads at once; with one direction only, these would deadlock
        // (both writes wait for a reader).
        for (me, out) in [(a.clone(), to_b.clone()), (b.clone(), to_a.clone())] {
            handles.push(runtime::spawn(move || {
                (&*me).write_all(&out).unwrap();
                Vec::new()
            }));
        }
        for me in [a, b] {
            handles.push(runtime::spawn(move || {
                let mut got = vec![0u8; 200_000];
                (&*me).read_exact(&mut got).unwrap();
                got
            }));
        }
        let results: Vec<Vec<u8>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(results[2], to_a, "a reads what b wrote");
        assert_eq!(results[3], to_b, "b reads what a wrote");
    });
}

#[test]
fn close_wakes_blocked_read_and_write_on_the_same_end() {
    watchdog(10, || {
        let (a, _b) = pair();
        let (a1, a2) = (a.clone(), a.clone());
        let (reader, r_blocked) = spawn_watched(move || read_one(&a1));
        let (writer, w_blocked) = spawn_watched(move || (&*a2).write(b"never read"));
        r_blocked.wait_parked(WaitReason::IoWait);
        w_blocked.wait_parked(WaitReason::IoWait);
        a.close().unwrap();
        let r = reader.join().unwrap().unwrap_err();
        assert!(runtime::is_closed_error(&r), "{r:?}");
        let w = writer.join().unwrap().unwrap_err();
        assert!(runtime::is_closed_error(&w), "{w:?}");
        // And later operations too.
        assert!(runtime::is_closed_error(&read_one(&a).unwrap_err()));
        assert!(runtime::is_closed_error(&(&*a).write(b"x").unwrap_err()));
        assert!(runtime::is_closed_error(&a.set_deadline(None).unwrap_err()));
        assert!(a.close().is_ok(), "a second close is fine, as in Go");
    });
}

#[test]
fn close_wakes_the_peers_blocked_read_with_eof_and_write_with_broken_pipe() {
    watchdog(10, || {
        let (a, b) = pair();
        let (b1, b2) = (b.clone(), b.clone());
        let (reader, r_blocked) = spawn_watched(move || read_one(&b1));
        let (writer, w_blocked) = spawn_watched(move || (&*b2).write(b"never read"));
        r_blocked.wait_parked(WaitReason::IoWait);
        w_blocked.wait_parked(WaitReason::IoWait);
        a.close().unwrap();
        assert_eq!(reader.join().unwrap().unwrap(), 0, "EOF");
        let w = writer.join().unwrap().unwrap_err();
        assert_eq!(w.kind(), io::ErrorKind::BrokenPipe, "{w:?}");
        assert!(!runtime::is_closed_error(&w));
        // And later operations too.
        assert_eq!(read_one(&b).unwrap(), 0);
        assert_eq!(
            (&*b).write(b"x").unwrap_err().kind(),
            io::ErrorKind::BrokenPipe
        );
        assert_eq!(
            b.set_read_deadline(None).unwrap_err().kind(),
            io::ErrorKind::BrokenPipe
        );
    });
}

#[test]
fn dropping_an_end_closes_it() {
    watchdog(10, || {
        let (a, b) = pipe();
        let b = Arc::new(b);
        let b1 = b.clone();
        let (reader, blocked) = spawn_watched(move || read_one(&b1));
        blocked.wait_parked(WaitReason::IoWait);
        drop(a);
        assert_eq!(reader.join().unwrap().unwrap(), 0);
        assert_eq!(
            (&*b).write(b"x").unwrap_err().kind(),
            io::ErrorKind::BrokenPipe
        );
    });
}

#[test]
fn close_during_a_partly_read_write_returns_what_was_taken() {
    watchdog(10, || {
        let (a, b) = pair();
        let a1 = a.clone();
        let writer = runtime::spawn(move || (&*a1).write(b"0123456789"));
        let mut buf = [0u8; 4];
        (&*b).read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"0123");
        b.close().unwrap();
        assert_eq!(writer.join().unwrap().unwrap(), 4);
        assert_eq!(
            (&*a).write(b"x").unwrap_err().kind(),
            io::ErrorKind::BrokenPipe
        );
    });
}

#[test]
fn read_deadline_fires() {
    watchdog(10, || {
        let (a, _b) = pair();
        let a1 = a.clone();
        let start = Instant::now();
        let r = runtime::spawn(move || {
            a1.set_read_deadline(Some(Instant::now() + Duration::from_millis(50)))
                .unwrap();
            read_one(&a1)
        })
        .join()
        .unwrap();
        let e = r.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e:?}");
        assert!(start.elapsed() >= Duration::from_millis(50));
        // An expired deadline keeps failing operations at once...
        assert_eq!(read_one(&a).unwrap_err().kind(), io::ErrorKind::TimedOut);
        // ...but only reads: the write deadline is separate.
        a.set_write_deadline(Some(Instant::now() + Duration::from_millis(20)))
            .unwrap();
        let t = Instant::now();
        assert_eq!(
            (&*a).write(b"x").unwrap_err().kind(),
            io::ErrorKind::TimedOut
        );
        assert!(t.elapsed() >= Duration::from_millis(20));
    });
}

#[test]
fn write_deadline_after_a_partial_read_returns_what_was_taken() {
    watchdog(10, || {
        let (a, b) = pair();
        let a1 = a.clone();
        let writer = runtime::spawn(move || {
            a1.set_write_deadline(Some(Instant::now() + Duration::from_millis(100)))
                .unwrap();
            (&*a1).write(b"0123456789")
        });
        let mut buf = [0u8; 3];
        (&*b).read_exact(&mut buf).unwrap();
        assert_eq!(writer.join().unwrap().unwrap(), 3);
        assert_eq!(
            (&*a).write(b"x").unwrap_err().kind(),
            io::ErrorKind::TimedOut,
            "the next write reports the deadline"
        );
        // The unread rest of the timed-out write is gone: a new write is read next.
        a.set_write_deadline(None).unwrap();
        let a2 = a.clone();
        let writer = runtime::spawn(move || (&*a2).write_all(b"next"));
        let mut buf = [0u8; 16];
        let n = (&*b).read(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"next");
        writer.join().unwrap().unwrap();
    });
}

#[test]
fn deadline_set_in_the_past_wakes_blocked_operations() {
    watchdog(10, || {
        let (a, _b) = pair();
        let (a1, a2) = (a.clone(), a.clone());
        let (reader, r_blocked) = spawn_watched(move || read_one(&a1));
        let (writer, w_blocked) = spawn_watched(move || (&*a2).write(b"never read"));
        r_blocked.wait_parked(WaitReason::IoWait);
        w_blocked.wait_parked(WaitReason::IoWait);
        let t = Instant::now();
        a.set_deadline(Some(Instant::now() - Duration::from_secs(1)))
            .unwrap();
        let r = reader.join().unwrap().unwrap_err();
        let w = writer.join().unwrap().unwrap_err();
        assert_eq!(r.kind(), io::ErrorKind::TimedOut, "{r:?}");
        assert_eq!(w.kind(), io::ErrorKind::TimedOut, "{w:?}");
        assert!(t.elapsed() < Duration::from_secs(5));
    });
}

#[test]
fn extended_deadline_applies_to_a_blocked_read() {
    watchdog(10, || {
        let (a, b) = pair();
        a.set_read_deadline(Some(Instant::now() + Duration::from_millis(100)))
            .unwrap();
        let a1 = a.clone();
        let (reader, watched) = spawn_watched(move || {
            let mut buf = [0u8; 16];
            (&*a1).read(&mut buf).map(|n| buf[..n].to_vec())
        });
        watched.wait_parked(WaitReason::IoWait); // blocked, with the first deadline
        a.set_read_deadline(Some(Instant::now() + Duration::from_secs(5)))
            .unwrap();
        // Past the first deadline, well before the second.
        std::thread::sleep(Duration::from_millis(250));
        (&*b).write_all(b"late").unwrap();
        assert_eq!(reader.join().unwrap().unwrap(), b"late");

        // Extended to a time that also passes: the read times out then, not before.
        let start = Instant::now();
        a.set_read_deadline(Some(start + Duration::from_millis(50)))
            .unwrap();
        let a2 = a.clone();
        let (reader, watched) = spawn_watched(move || read_one(&a2));
        watched.wait_parked(WaitReason::IoWait); // blocked, with the first deadline
        a.set_read_deadline(Some(start + Duration::from_millis(300)))
            .unwrap();
        let e = reader.join().unwrap().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert!(start.elapsed() >= Duration::from_millis(300));
    });
}

#[test]
fn cleared_deadline_lets_a_blocked_operation_wait_on() {
    watchdog(10, || {
        let (a, b) = pair();
        a.set_deadline(Some(Instant::now() + Duration::from_millis(100)))
            .unwrap();
        let (a1, a2) = (a.clone(), a.clone());
        let (reader, r) = spawn_watched(move || {
            let mut buf = [0u8; 16];
            (&*a1).read(&mut buf).map(|n| buf[..n].to_vec())
        });
        let (writer, w) = spawn_watched(move || (&*a2).write(b"from a"));
        // Both blocked, with the deadline.
        r.wait_parked(WaitReason::IoWait);
        w.wait_parked(WaitReason::IoWait);
        a.set_deadline(None).unwrap();
        std::thread::sleep(Duration::from_millis(250));
        (&*b).write_all(b"from b").unwrap();
        assert_eq!(reader.join().unwrap().unwrap(), b"from b");
        let mut buf = [0u8; 6];
        (&*b).read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"from a");
        assert_eq!(writer.join().unwrap().unwrap(), 6);

        // A deadline that already fired can be cleared too.
        a.set_read_deadline(Some(Instant::now())).unwrap();
        assert_eq!(read_one(&a).unwrap_err().kind(), io::ErrorKind::TimedOut);
        a.set_read_deadline(None).unwrap();
        let b2 = b.clone();
        let w = runtime::spawn(move || (&*b2).write_all(b"ok"));
        let mut buf = [0u8; 2];
        (&*a).read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"ok");
        w.join().unwrap().unwrap();
    });
}

#[test]
fn works_from_plain_threads() {
    watchdog(10, || {
        let (mut a, mut b) = pipe();
        let timed_out = Arc::new(AtomicBool::new(false));
        let t_out = timed_out.clone();
        let (t, watched) = common::thread_watched(move || {
            let mut buf = [0u8; 5];
            b.read_exact(&mut buf).unwrap();
            b.write_all(&buf).unwrap();
            b.set_read_deadline(Some(Instant::now() + Duration::from_millis(30)))
                .unwrap();
            let e = b.read(&mut buf).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::TimedOut);
            t_out.store(true, Ordering::SeqCst);
            b.set_read_deadline(None).unwrap();
            // Blocks until `a` is dropped.
            b.read(&mut buf).unwrap()
        });
        a.write_all(b"plain").unwrap();
        let mut buf = [0u8; 5];
        a.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"plain");
        // Parked after the timeout: in the read without a deadline.
        common::wait_until(|| {
            timed_out.load(Ordering::SeqCst) && watched.is_parked(WaitReason::IoWait)
        });
        drop(a);
        assert_eq!(t.join().unwrap(), 0);
    });
}

#[test]
fn goroutine_and_thread_talk() {
    watchdog(10, || {
        let (a, b) = pipe();
        let g = runtime::spawn(move || {
            let mut buf = [0u8; 3];
            for _ in 0..100 {
                (&b).read_exact(&mut buf).unwrap();
                (&b).write_all(&buf).unwrap();
            }
        });
        let mut buf = [0u8; 3];
        for i in 0..100u8 {
            (&a).write_all(&[i, i, i]).unwrap();
            (&a).read_exact(&mut buf).unwrap();
            assert_eq!(buf, [i, i, i]);
        }
        g.join().unwrap();
    });
}

#[test]
fn one_mebibyte_intact_with_odd_sized_reads() {
    watchdog(30, || {
        const LEN: usize = 1 << 20;
        let data = payload(LEN);
        let (a, b) = pipe();
        let sent = data.clone();
        let writer = runtime::spawn(move || {
            // Writes of assorted sizes, including one big one.
            let mut off = 0;
            for size in [1usize, 1000, 65_536, 3, 500_000].into_iter().cycle() {
                if off == LEN {
                    break;
                }
                let end = (off + size).min(LEN);
                (&a).write_all(&sent[off..end]).unwrap();
                off = end;
            }
        });
        let reader = runtime::spawn(move || {
            let mut got = Vec::with_capacity(LEN);
            let mut buf = vec![0u8; 70_001];
            for size in [1usize, 7, 4093, 13, 70_001, 333].into_iter().cycle() {
                let n = (&b).read(&mut buf[..size]).unwrap();
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            got
        });
        writer.join().unwrap();
        let got = reader.join().unwrap();
        assert_eq!(got.len(), LEN);
        assert!(got == data, "bytes arrive intact and in order");
    });
}

#[test]
fn concurrent_writes_do_not_interleave() {
    watchdog(20, || {
        let (a, b) = pair();
        let mut writers = Vec::new();
        for k in 0..8u8 {
            let a = a.clone();
            writers.push(runtime::spawn(move || {
                for _ in 0..20 {
                    assert_eq!((&*a).write(&[k; 1000]).unwrap(), 1000);
                }
            }));
        }
        let mut buf = [0u8; 1000];
        for _ in 0..8 * 20 {
            // Small reads: a write's bytes must still arrive together.
            let mut filled = 0;
            while filled < 1000 {
                let n = (&*b)
                    .read(&mut buf[filled..(filled + 97).min(1000)])
                    .unwrap();
                filled += n;
            }
            assert!(
                buf.iter().all(|&x| x == buf[0]),
                "one write's bytes together"
            );
        }
        for w in writers {
            w.join().unwrap();
        }
    });
}

#[test]
fn empty_reads_and_writes_return_at_once() {
    watchdog(10, || {
        let (a, b) = pipe();
        assert_eq!((&a).write(&[]).unwrap(), 0);
        assert_eq!((&b).read(&mut []).unwrap(), 0);
        b.close().unwrap();
        assert!(runtime::is_closed_error(&(&b).read(&mut []).unwrap_err()));
        assert_eq!(
            (&a).write(&[]).unwrap_err().kind(),
            io::ErrorKind::BrokenPipe
        );
        assert!((&a).flush().is_ok());
    });
}

#[test]
fn pipe_is_send_sync_and_debug() {
    fn assert_send_sync<T: Send + Sync + std::fmt::Debug>() {}
    assert_send_sync::<Pipe>();
    let (a, b) = pipe();
    b.close().unwrap();
    let s = format!("{a:?}");
    assert!(s.contains("Pipe") && s.contains("peer_closed: true"), "{s}");
}

#[test]
fn many_readers_and_writers_deliver_every_byte_exactly_once() {
    watchdog(30, || {
        const WRITERS: u8 = 6;
        const PER_WRITER: usize = 20_000;
        let (a, b) = pair();
        let writers: Vec<_> = (0..WRITERS)
            .map(|k| {
                let a = a.clone();
                runtime::spawn(move || {
                    let mut sent = 0;
                    for size in [1usize, 17, 300, 4096].into_iter().cycle() {
                        if sent == PER_WRITER {
                            break;
                        }
                        let n = size.min(PER_WRITER - sent);
                        (&*a).write_all(&vec![k; n]).unwrap();
                        sent += n;
                    }
                })
            })
            .collect();
        // Readers on goroutines and on threads alike.
        let mut readers = Vec::new();
        for i in 0..4 {
            let b = b.clone();
            let count = move || {
                let mut counts = [0usize; WRITERS as usize];
                let mut buf = [0u8; 61];
                loop {
                    let n = (&*b).read(&mut buf[..13 + i * 16]).unwrap();
                    if n == 0 {
                        return counts;
                    }
                    for &x in &buf[..n] {
                        counts[x as usize] += 1;
                    }
                }
            };
            readers.push(if i % 2 == 0 {
                Ok(runtime::spawn(count))
            } else {
                Err(std::thread::spawn(count))
            });
        }
        for w in writers {
            w.join().unwrap();
        }
        a.close().unwrap(); // EOF for the readers
        let mut total = [0usize; WRITERS as usize];
        for r in readers {
            let counts = match r {
                Ok(g) => g.join().unwrap(),
                Err(t) => t.join().unwrap(),
            };
            for (t, c) in total.iter_mut().zip(counts) {
                *t += c;
            }
        }
        assert_eq!(total, [PER_WRITER; WRITERS as usize]);
    });
}

#[test]
fn close_racing_with_transfers_never_hangs() {
    watchdog(30, || {
        for round in 0..200u32 {
            let (a, b) = pair();
            let (a1, b1) = (a.clone(), b.clone());
            let writer = runtime::spawn(move || {
                let mut sent = 0;
                while let Ok(n) = (&*a1).write(&[7u8; 10_000]) {
                    sent += n;
                }
                sent
            });
            let reader = runtime::spawn(move || {
                let mut got = 0;
                let mut buf = [0u8; 999];
                while let Ok(n) = (&*b1).read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    got += n;
                }
                got
            });
            for _ in 0..round % 7 {
                runtime::gosched();
                std::thread::yield_now();
            }
            // Close either end: both sides stop, and every byte the writer counts as
            // written (including a write cut short) was read, exactly once.
            if round % 2 == 0 { a.close() } else { b.close() }.unwrap();
            let sent = writer.join().unwrap();
            let got = reader.join().unwrap();
            assert_eq!(got, sent, "round {round}");
        }
    });
}
