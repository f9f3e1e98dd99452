//! The "crossbeam + threads" system of shared/bench/ANCHORS.md: crossbeam-channel 0.5 over
//! std threads (one OS thread per Go goroutine), each workload shaped as its Go version.
//! `bounded(0)` is the unbuffered (rendezvous) channel; dropping the last sender is Go's
//! `close`.

use crate::{Opts, Res, check_sum, ns_per, split, sum_range, with_warmup};
use crossbeam_channel::{Select, bounded};
use std::thread;
use std::time::{Duration, Instant};

pub fn run(id: &str, o: &Opts) -> Res {
    match id {
        "W2" => w2(o),
        "W3" => w3(o),
        "W4" => w4(o),
        "W5" => w5(o),
        "W6" => w6(o),
        "W1" | "W7" | "W8" | "W10" | "W11" | "W12" => {
            Ok("n/a one OS thread per task: not run at this size".to_string())
        }
        _ => Ok("n/a not a channel workload (not ported)".to_string()),
    }
}

fn join<T>(h: thread::JoinHandle<T>) -> Result<T, String> {
    h.join().map_err(|_| "a thread panicked".to_string())
}

/// W2: a round trip wakes a parked thread twice (about 55 us on these VMs), so the full
/// million would take a minute: this runs 1/50 of it (ns per round trip is unaffected).
fn w2(o: &Opts) -> Res {
    let n = o.size(1_000_000) / 50;
    let n = n.max(1);
    let d = with_warmup(n, |n| {
        let (ping_tx, ping_rx) = bounded::<u64>(0);
        let (pong_tx, pong_rx) = bounded::<u64>(0);
        let t0 = Instant::now();
        let echo = thread::spawn(move || {
            for v in ping_rx {
                pong_tx.send(v + 1).expect("pong");
            }
        });
        let driver = thread::spawn(move || {
            let mut s = 0u64;
            for i in 0..n {
                ping_tx.send(i as u64).expect("ping");
                s += pong_rx.recv().expect("pong closed");
            }
            drop(ping_tx); // close(ping)
            s
        });
        join(echo)?;
        let got = join(driver)?;
        let d = t0.elapsed();
        let want = sum_range(1, n + 1);
        if got != want {
            return Err(format!("sum of replies {got}, want {want}"));
        }
        Ok(d)
    })?;
    Ok(format!("ns_per_op={}", ns_per(d, n)))
}

fn w3(o: &Opts) -> Res {
    let n = o.size(10_000_000);
    let d = with_warmup(n, |n| {
        let (tx, rx) = bounded::<u64>(128);
        let t0 = Instant::now();
        let sender = thread::spawn(move || {
            for i in 0..n {
                tx.send(i as u64).expect("send");
            }
        });
        let receiver = thread::spawn(move || {
            let (mut s, mut c) = (0u64, 0u64);
            for v in rx {
                s += v;
                c += 1;
            }
            (s, c)
        });
        join(sender)?;
        let (sum, cnt) = join(receiver)?;
        let d = t0.elapsed();
        check_sum(cnt, sum, n)?;
        Ok(d)
    })?;
    Ok(format!("ns_per_msg={}", ns_per(d, n)))
}

fn mpmc(n: usize, cap: usize) -> Result<Duration, String> {
    const SENDERS: usize = 4;
    const RECEIVERS: usize = 4;
    let (tx, rx) = bounded::<u64>(cap);
    let lo = split(n, SENDERS);
    let t0 = Instant::now();
    let receivers: Vec<_> = (0..RECEIVERS)
        .map(|_| {
            let rx = rx.clone();
            thread::spawn(move || {
                let (mut s, mut c) = (0u64, 0u64);
                for v in rx {
                    s += v;
                    c += 1;
                }
                (s, c)
            })
        })
        .collect();
    drop(rx);
    let senders: Vec<_> = (0..SENDERS)
        .map(|k| {
            let tx = tx.clone();
            let (a, b) = (lo[k], lo[k + 1]);
            thread::spawn(move || {
                for i in a..b {
                    tx.send(i as u64).expect("send");
                }
            })
        })
        .collect();
    for h in senders {
        join(h)?;
    }
    drop(tx); // close(ch): the senders' clones are gone with their threads
    let (mut sum, mut cnt) = (0u64, 0u64);
    for h in receivers {
        let (s, c) = join(h)?;
        sum += s;
        cnt += c;
    }
    let d = t0.elapsed();
    check_sum(cnt, sum, n)?;
    Ok(d)
}

fn w4(o: &Opts) -> Res {
    let n = o.size(10_000_000);
    let d = with_warmup(n, |n| mpmc(n, 128))?;
    Ok(format!("ns_per_msg={}", ns_per(d, n)))
}

fn w5(o: &Opts) -> Res {
    let n = o.size(1_000_000);
    let d = with_warmup(n, |n| mpmc(n, 0))?;
    Ok(format!("ns_per_msg={}", ns_per(d, n)))
}

fn w6(o: &Opts) -> Res {
    let n = o.size(4_000_000);
    let d = with_warmup(n, |n| {
        const SENDERS: usize = 4;
        let lo = split(n, SENDERS);
        let (txs, rxs): (Vec<_>, Vec<_>) = (0..SENDERS).map(|_| bounded::<u64>(128)).unzip();
        let t0 = Instant::now();
        for (k, tx) in txs.into_iter().enumerate() {
            let (a, b) = (lo[k], lo[k + 1]);
            thread::spawn(move || {
                for i in a..b {
                    tx.send(i as u64).expect("send");
                }
            });
        }
        let receiver = thread::spawn(move || {
            let mut sel = Select::new();
            for rx in &rxs {
                sel.recv(rx);
            }
            let (mut s, mut c) = (0u64, 0u64);
            let mut open = SENDERS;
            while open > 0 {
                let op = sel.select();
                let k = op.index();
                match op.recv(&rxs[k]) {
                    Ok(v) => {
                        s += v;
                        c += 1;
                    }
                    Err(_) => {
                        // Closed (all senders gone): Go's `c = nil`.
                        sel.remove(k);
                        open -= 1;
                    }
                }
            }
            (s, c)
        });
        let (sum, cnt) = join(receiver)?;
        let d = t0.elapsed();
        check_sum(cnt, sum, n)?;
        Ok(d)
    })?;
    Ok(format!("ns_per_msg={}", ns_per(d, n)))
}
