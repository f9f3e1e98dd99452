//! The Rust side of the anchor workloads (shared/bench/WORKLOADS.md): one line per workload,
//! `<ID> <system> <metric>=<value>`, each checking its own result (exit 1 if wrong).
//!
//! Usage: `goro-compare [-sys goro|crossbeam] [-w W1,W10] [-quick] [-procs N]`. Every
//! workload runs in a fresh child process (as the Go program does), so runtime state cached
//! by one workload cannot distort another.
//!
//! Two systems live here:
//! - `goro` (default, [`goro_w`]): goroutines on goro's runtime and goro's channels, each
//!   workload written as benches/compare/go/workloads.go writes it (same structure, warm-up
//!   and checks; `sync.WaitGroup` becomes join handles or a park-based counter until goro's
//!   sync crate lands). W1, W2-W6 and W10 so far; the rest print `n/a`.
//! - `crossbeam` ([`crossbeam_w`]): crossbeam-channel 0.5 over std threads, the "crossbeam +
//!   threads" column of shared/bench/ANCHORS.md. W2-W6; the rest print `n/a`.

mod crossbeam_w;
mod goro_w;

use std::process::Command;
use std::time::Duration;

/// `-quick` scales every N down this much (as the Go program's quickDiv).
pub const QUICK_DIV: usize = 20;

pub struct Opts {
    pub quick: bool,
    pub procs: usize,
}

impl Opts {
    /// The workload's size: full `n`, or `n / QUICK_DIV` for `-quick`.
    pub fn size(&self, n: usize) -> usize {
        if self.quick {
            (n / QUICK_DIV).max(1)
        } else {
            n
        }
    }
}

/// The result of one workload: the metric text, or why the result is wrong.
pub type Res = Result<String, String>;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mut ids: Vec<String> = Vec::new();
    let mut quick = false;
    let mut procs = 2usize;
    let mut child = false;
    let mut sys = "goro".to_string();
    let mut i = 1;
    while i < args.len() {
        match args[i].as_str() {
            "-w" => {
                i += 1;
                ids = args[i]
                    .split(',')
                    .map(|s| s.trim().to_uppercase())
                    .filter(|s| !s.is_empty())
                    .collect();
            }
            "-quick" => quick = true,
            "-procs" => {
                i += 1;
                procs = args[i].parse().expect("-procs N");
            }
            "-sys" => {
                i += 1;
                sys = args[i].clone();
            }
            "-child" => child = true,
            other => panic!("unknown argument {other}"),
        }
        i += 1;
    }
    if sys != "goro" && sys != "crossbeam" {
        eprintln!("unknown system {sys} (goro, crossbeam)");
        std::process::exit(2);
    }
    if ids.is_empty() {
        ids = (1..=13).map(|n| format!("W{n}")).collect();
    }
    if !child && ids.len() > 1 {
        // Parent: one fresh process per workload.
        let mut failed = false;
        for id in &ids {
            let mut cmd = Command::new(std::env::current_exe().unwrap());
            cmd.args([
                "-child",
                "-sys",
                &sys,
                "-w",
                id,
                "-procs",
                &procs.to_string(),
            ]);
            if quick {
                cmd.arg("-quick");
            }
            let st = cmd.status().expect("spawn child");
            if !st.success() {
                eprintln!("{id} {sys} FAILED (child process: {st})");
                failed = true;
            }
        }
        std::process::exit(i32::from(failed));
    }
    let o = Opts { quick, procs };
    if sys == "goro" {
        goro_w::init(&o);
    }
    let mut failed = false;
    for id in ids {
        let r = if sys == "goro" {
            goro_w::run(&id, &o)
        } else {
            crossbeam_w::run(&id, &o)
        };
        match r {
            Ok(metric) => println!("{id} {sys} {metric}"),
            Err(e) => {
                eprintln!("{id} {sys} FAILED: {e}");
                failed = true;
            }
        }
    }
    std::process::exit(i32::from(failed));
}

/// Go's `split`: part i of n in k parts covers `[lo[i], lo[i + 1])`.
pub fn split(n: usize, k: usize) -> Vec<usize> {
    (0..=k).map(|i| i * n / k).collect()
}

/// The sum of the integers in `[lo, hi)`.
pub fn sum_range(lo: usize, hi: usize) -> u64 {
    if hi <= lo {
        return 0;
    }
    let (a, b) = (lo as u64, hi as u64);
    (a + b - 1) * (b - a) / 2
}

/// The size of the untimed warm-up pass (Go's `warmN`).
pub fn warm_n(n: usize) -> usize {
    (n / 20).max(1)
}

/// Go's `withWarmup`: runs `f` at warm-up size (result verified, time discarded), then at
/// `n`, returning the measured run's duration.
pub fn with_warmup(
    n: usize,
    mut f: impl FnMut(usize) -> Result<Duration, String>,
) -> Result<Duration, String> {
    f(warm_n(n)).map_err(|e| format!("warm-up: {e}"))?;
    f(n)
}

/// Checks a received count and sum against `n` messages `0..n`.
pub fn check_sum(cnt: u64, sum: u64, n: usize) -> Result<(), String> {
    let want = sum_range(0, n);
    if cnt != n as u64 || sum != want {
        return Err(format!(
            "received {cnt} msgs sum {sum}, want {n} sum {want}"
        ));
    }
    Ok(())
}

/// `d / count` in nanoseconds, one decimal.
pub fn ns_per(d: Duration, count: usize) -> String {
    format!("{:.1}", d.as_nanos() as f64 / count as f64)
}
