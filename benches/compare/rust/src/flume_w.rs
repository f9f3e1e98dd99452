//! The "flume + threads" system: flume 0.12 over std threads (one OS thread per Go
//! goroutine), the channel workloads of [`threads_w`] plus W6 over `flume::Selector`.
//! `bounded(0)` is the unbuffered (rendezvous) channel; dropping the last Sender is Go's
//! `close`. W1, W9, W11, W13, N1 (TCP echo) and N3 (idle connections) use no channel: with
//! std threads they are the same program whatever the channel crate, so they run once, in
//! the crossbeam column. N2 (HTTP) is n/a.

use crate::threads_w::{self, fails_ok, join};
use crate::{Opts, Res, check_sum, ns_per, split, with_warmup};
use flume::{Selector, bounded};
use std::thread;
use std::time::Instant;

/// flume as a [`Kit`].
pub struct Flume;

threads_w::thread_channel_kit!(Flume, flume);

pub fn run(id: &str, o: &Opts) -> Res {
    match id {
        "W2" => threads_w::w2::<Flume>(o),
        "W3" => threads_w::w3::<Flume>(o),
        "W4" => threads_w::w4::<Flume>(o),
        "W5" => threads_w::w5::<Flume>(o),
        "W6" => w6(o),
        "W7" => fails_ok(threads_w::w7::<Flume>(o)),
        "W8" => fails_ok(threads_w::w8::<Flume>(o)),
        "W10" => fails_ok(threads_w::w10::<Flume>(o)),
        "W12" => threads_w::w12::<Flume>(o),
        "N2" => Ok("n/a no HTTP server over std threads is measured".to_string()),
        "W1" | "W9" | "W11" | "W13" | "N1" | "N3" => {
            Ok("n/a no channel: std threads alone, see the crossbeam column".to_string())
        }
        _ => Err(format!("unknown workload {id}")),
    }
}

/// W6: flume's `Selector` is built per select (its API: `wait` consumes it), over the
/// receivers still open (a closed one is left out, Go's `c = nil`).
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
            let mut open = [true; SENDERS];
            let (mut s, mut c) = (0u64, 0u64);
            while open.iter().any(|&o| o) {
                let mut sel = Selector::new();
                for (k, rx) in rxs.iter().enumerate() {
                    if open[k] {
                        sel = sel.recv(rx, move |r| (k, r.ok()));
                    }
                }
                match sel.wait() {
                    (_, Some(v)) => {
                        s += v;
                        c += 1;
                    }
                    (k, None) => open[k] = false,
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
