//! Stack trimming racing with wakeups: with `GORO_DEBUG=stacktrim=1` sysmon trims every
//! goroutine parked for a millisecond, so goroutines that sleep (or wait on a pipe in the
//! netpoller) for 0.5-3 ms are trimmed, and woken, over and over, sometimes while sysmon is
//! at it. Each checks, after every wait, that the data in its frame is what it wrote, and
//! goes deep again (the released pages fault back in). Scoped goroutines meanwhile write
//! into their sleeping parent's frame, which a trim must leave alone. A plain thread takes
//! goroutine dumps all along: a dump owns each parked goroutine as a trim does (the park
//! word's TRIMMING), so the two contend for the same goroutines.
//!
//! `harness = false`: the variable is set in `main`, before any thread exists.

mod common;
use common::watchdog;
use std::hint::black_box;
use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

fn pattern(id: u64, round: u64, i: usize) -> u64 {
    (id << 40 ^ round << 16 ^ i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Touches 16 KiB of stack (pages a trim releases while the goroutine next waits).
#[inline(never)]
fn deep(seed: u64) -> u64 {
    let mut a = [0u64; 2048];
    for (i, x) in a.iter_mut().enumerate() {
        *x = seed ^ i as u64;
    }
    black_box(&mut a);
    a.iter().fold(0, |s, x| s.wrapping_add(*x))
}

fn main() {
    // SAFETY: no other thread exists yet (no runtime, no test harness threads).
    unsafe { std::env::set_var("GORO_DEBUG", "stacktrim=1") };
    watchdog(240, run);
    println!("stack_trim_race: ok");
}

fn run() {
    const SLEEPERS: u64 = 48;
    const READERS: u64 = 24;
    const ROUNDS: u64 = 150;
    let bad = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let (stats, dumper) = runtime::block_on({
        let (bad, done) = (bad.clone(), done.clone());
        move || {
            let dumper = std::thread::spawn(move || {
                let (mut dumps, mut stacks) = (0, 0);
                while !done.load(Ordering::SeqCst) {
                    stacks += runtime::stack_dump()
                        .matches("runtime/src/park.rs:")
                        .count();
                    dumps += 1;
                    std::thread::sleep(Duration::from_millis(2));
                }
                (dumps, stacks)
            });
            let mut hs = Vec::new();
            for id in 0..SLEEPERS {
                let bad = bad.clone();
                hs.push(runtime::spawn(move || {
                    for round in 0..ROUNDS {
                        let mut mine = [0u64; 40];
                        for (i, x) in mine.iter_mut().enumerate() {
                            *x = pattern(id, round, i);
                        }
                        black_box(&mut mine);
                        let us = 500 + (id * 7919 + round * 104_729) % 2500;
                        runtime::sleep(Duration::from_micros(us));
                        let ok = mine
                            .iter()
                            .enumerate()
                            .all(|(i, x)| *x == pattern(id, round, i));
                        if !black_box(ok) {
                            bad.fetch_add(1, Ordering::SeqCst);
                        }
                        black_box(deep(round));
                    }
                }));
            }
            for id in SLEEPERS..SLEEPERS + READERS {
                let bad = bad.clone();
                let mut fds = [0; 2];
                // SAFETY: `fds` has room for the two descriptors pipe2 writes.
                assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
                // SAFETY: pipe2 just returned these two descriptors; each is owned once.
                let (r, w) =
                    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
                let r = runtime::PollFd::new(r).unwrap();
                let w = runtime::PollFd::new(w).unwrap();
                // The writer: one byte every 0.5-3 ms.
                runtime::go!(move || {
                    for round in 0..ROUNDS {
                        runtime::sleep(Duration::from_micros(500 + (id * 31 + round * 7) % 2500));
                        w.write_with(|fd| {
                            // SAFETY: writing one byte from a live buffer to an fd we own.
                            let n = unsafe { libc::write(fd, [1u8].as_ptr().cast(), 1) };
                            if n < 0 {
                                Err(std::io::Error::last_os_error())
                            } else {
                                Ok(())
                            }
                        })
                        .unwrap();
                    }
                });
                hs.push(runtime::spawn(move || {
                    for round in 0..ROUNDS {
                        let mut mine = [0u64; 40];
                        for (i, x) in mine.iter_mut().enumerate() {
                            *x = pattern(id, round, i);
                        }
                        black_box(&mut mine);
                        let mut b = [0u8; 1];
                        r.read_with(|fd| {
                            // SAFETY: reading into a live one-byte buffer from an fd we own.
                            let n = unsafe { libc::read(fd, b.as_mut_ptr().cast(), 1) };
                            if n < 0 {
                                Err(std::io::Error::last_os_error())
                            } else {
                                Ok(n)
                            }
                        })
                        .unwrap();
                        let ok = b[0] == 1
                            && mine
                                .iter()
                                .enumerate()
                                .all(|(i, x)| *x == pattern(id, round, i));
                        if !black_box(ok) {
                            bad.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                }));
            }
            // A parent asleep in a scope while its children count into its frame.
            for round in 0..40u64 {
                let counter = std::sync::atomic::AtomicU64::new(0);
                let lock = std::sync::Mutex::new(0u64);
                runtime::scope(|s| {
                    for k in 0..4u64 {
                        let (counter, lock) = (&counter, &lock);
                        s.go(move || {
                            for _ in 0..5 {
                                runtime::sleep(Duration::from_micros(700 + k * 300));
                                counter.fetch_add(1, Ordering::SeqCst);
                                *lock.lock().unwrap() += 1;
                            }
                        });
                    }
                    runtime::sleep(Duration::from_millis(3 + round % 3));
                });
                if counter.load(Ordering::SeqCst) != 20 || *lock.lock().unwrap() != 20 {
                    bad.fetch_add(1, Ordering::SeqCst);
                }
            }
            for h in hs {
                h.join().unwrap();
            }
            (runtime::sched_stats(), dumper)
        }
    });
    done.store(true, Ordering::SeqCst);
    let (dumps, stacks) = dumper.join().unwrap();
    eprintln!(
        "stack_trim_race: {} trims; {dumps} dumps showed {stacks} parked stacks",
        stats.stacks_trimmed
    );
    assert!(stacks > 0, "the dumps showed no parked goroutine's stack");
    assert_eq!(
        bad.load(Ordering::SeqCst),
        0,
        "a goroutine's stack changed across a trim"
    );
    assert!(
        stats.stacks_trimmed >= 1000,
        "the race was hardly exercised: {} trims",
        stats.stacks_trimmed
    );
}
