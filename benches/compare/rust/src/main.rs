//! The Rust side of the anchor workloads (shared/bench/WORKLOADS.md): one line per workload,
//! `<ID> <system> <metric>=<value>`, each checking its own result (exit 1 if wrong).
//!
//! Usage: `goro-compare [-sys goro|crossbeam|flume|tokio|may] [-w W1,W10,N1,N2,N3,HL]
//! [-quick] [-procs N] [-timeout S]` (S: seconds per workload; 600, or 120 with `-quick`).
//! Besides W1-W13 and the network workloads, goro runs HL, the wake-up delay of a sleeping
//! goroutine while every P runs a CPU hog (measured for Go and goro only; the other systems
//! answer n/a). The network workloads (loopback TCP):
//! - N1 echo: a task-per-connection TCP echo server, [`N1_CLIENTS`] clients of
//!   [`N1_ROUNDS`] round trips each (`-quick` scaling the round trips);
//! - N2 http: the system's HTTP/1.1 keep-alive "Hello, World!" server in its own process
//!   (goro's is the workspace example `examples/http_hello.rs`, tokio's hyper, may's
//!   may_minihttp), one P / one worker, pinned to one CPU, loaded by `wrk` pinned to another
//!   ([`netload`]); requests/s, p50/p99 latency, socket errors and non-2xx responses; for
//!   goro any error fails the workload;
//! - N3 idle: [`netload::N3_CONNS`] connections (`-quick`: 1,000) accepted and held, each by
//!   a task blocked reading a 64-byte buffer; RSS growth per connection and ms to accept all.
//!
//! Every workload runs in a fresh child process (as the Go program does), so runtime state
//! cached by one workload cannot distort another, and a system that crashes on a workload
//! (may past ~32.7k coroutines) yields a `<ID> <sys> fails: ...` line instead of ending the
//! run. A workload a system cannot express prints `<ID> <sys> n/a <reason>`; one that needs
//! more than this machine allows (100k live OS threads) prints `<ID> <sys> fails: <reason>`.
//! Two more modes serve the network workloads: `-serve-http ADDR` (with `-sys tokio|may`,
//! N2's server) and `-n3-client ADDR N` (N3's client process).
//!
//! The systems, one module each, every workload shaped as benches/compare/go/workloads.go
//! shapes it (same N, warm-up and checks):
//! - `goro` ([`goro_w`]): goroutines on goro's runtime, goro's channels and `goro::sync`.
//! - `tokio` ([`tokio_w`]): tasks on tokio's multi-thread runtime (`procs` workers),
//!   `tokio::sync` channels and locks.
//! - `may` ([`may_w`]): may's stackful coroutines (`procs` workers), may's channels and locks.
//! - `crossbeam` ([`crossbeam_w`]): crossbeam-channel over std threads (one OS thread per Go
//!   goroutine), std's Mutex/RwLock and parking_lot's for W9/W13.
//! - `flume` ([`flume_w`]): flume over std threads; the channel workloads only.
//!
//! flume, tokio and may (and hyper, may_minihttp) are built with `--features all-systems`
//! only (run.sh builds with it).
//!
//! [`threads_w`] holds the channel workloads both thread systems share, generic over the
//! channel crate.

mod crossbeam_w;
#[cfg(feature = "all-systems")]
mod flume_w;
mod goro_w;
#[cfg(feature = "all-systems")]
mod may_w;
mod netload;
mod threads_w;
#[cfg(feature = "all-systems")]
mod tokio_w;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

/// The systems this program runs (`-sys`).
pub const SYSTEMS: &[&str] = &["goro", "crossbeam", "flume", "tokio", "may"];

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
    let mut timeout: Option<u64> = None;
    let mut serve_http: Option<String> = None;
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
            "-timeout" => {
                i += 1;
                timeout = Some(args[i].parse().expect("-timeout SECONDS"));
            }
            "-serve-http" => {
                i += 1;
                serve_http = Some(args[i].clone());
            }
            "-n3-client" => {
                let n = args[i + 2].parse().expect("-n3-client ADDR N");
                netload::n3_client_main(&args[i + 1], n);
            }
            other => panic!("unknown argument {other}"),
        }
        i += 1;
    }
    if !SYSTEMS.contains(&sys.as_str()) {
        eprintln!("unknown system {sys} ({})", SYSTEMS.join(", "));
        std::process::exit(2);
    }
    if !cfg!(feature = "all-systems") && !["goro", "crossbeam"].contains(&sys.as_str()) {
        eprintln!("system {sys} needs a build with `--features all-systems` (run.sh does that)");
        std::process::exit(2);
    }
    if ids.is_empty() {
        ids = (1..=13).map(|n| format!("W{n}")).collect();
        ids.extend(["N1", "N2", "N3"].map(String::from));
        if sys == "goro" {
            ids.push("HL".to_string());
        }
    }
    // Per workload child: a hung child (may after a failed stack allocation) is killed.
    let timeout = timeout.unwrap_or(if quick { 120 } else { 600 });
    if !child {
        // Parent: one fresh process per workload. A child that dies (a crash, a panic, a
        // failed check) without printing its line gets a `fails:` line here, so the table
        // shows it; the exit status still says something failed.
        let mut failed = false;
        let exe = std::env::current_exe().expect("own path");
        for id in &ids {
            let mut cmd = Command::new(&exe);
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
            cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
            let (status, stdout, stderr) = run_child(cmd, Duration::from_secs(timeout));
            print!("{stdout}");
            eprint!("{stderr}");
            let ok = matches!(status, Some(st) if st.success());
            if !ok {
                failed = true;
                if !stdout.lines().any(|l| l.starts_with(&format!("{id} "))) {
                    let why = stderr
                        .lines()
                        .rev()
                        .find(|l| {
                            !l.trim().is_empty()
                                && !l.contains("RUST_BACKTRACE")
                                && !l.starts_with("stack backtrace")
                        })
                        .unwrap_or("")
                        .trim();
                    let why: String = why.chars().take(160).collect();
                    match status {
                        Some(st) => println!("{id} {sys} fails: child {st}: {why}"),
                        None => println!("{id} {sys} fails: timed out after {timeout} s: {why}"),
                    }
                }
            }
            std::io::stdout().flush().ok();
        }
        std::process::exit(i32::from(failed));
    }
    let o = Opts { quick, procs };
    match sys.as_str() {
        "goro" => goro_w::init(&o),
        #[cfg(feature = "all-systems")]
        "may" => may_w::init(&o),
        _ => {}
    }
    if let Some(addr) = serve_http {
        // N2's server process: serves until killed.
        let r: Result<(), String> = match sys.as_str() {
            #[cfg(feature = "all-systems")]
            "tokio" => tokio_w::serve_http(&addr, &o),
            #[cfg(feature = "all-systems")]
            "may" => may_w::serve_http(&addr),
            _ => Err(format!("-serve-http {addr}: no HTTP server for {sys} here")),
        };
        if let Err(e) = r {
            eprintln!("{sys} http server: {e}");
        }
        std::process::exit(1);
    }
    let mut failed = false;
    for id in ids {
        let r = match sys.as_str() {
            _ if id == "HL" && sys != "goro" => {
                Ok("n/a HL is measured for go and goro only".to_string())
            }
            "goro" => goro_w::run(&id, &o),
            "crossbeam" => crossbeam_w::run(&id, &o),
            #[cfg(feature = "all-systems")]
            "flume" => flume_w::run(&id, &o),
            #[cfg(feature = "all-systems")]
            "tokio" => tokio_w::run(&id, &o),
            #[cfg(feature = "all-systems")]
            "may" => may_w::run(&id, &o),
            _ => unreachable!(),
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

/// Runs a child, killing it after `limit`; its exit status (`None`: killed for time), stdout
/// and stderr.
fn run_child(
    mut cmd: Command,
    limit: Duration,
) -> (Option<std::process::ExitStatus>, String, String) {
    use std::io::Read;
    let mut ch = cmd.spawn().expect("spawn child");
    let mut out = ch.stdout.take().unwrap();
    let mut err = ch.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut b = Vec::new();
        out.read_to_end(&mut b).ok();
        b
    });
    let t_err = std::thread::spawn(move || {
        let mut b = Vec::new();
        err.read_to_end(&mut b).ok();
        b
    });
    let deadline = std::time::Instant::now() + limit;
    let status = loop {
        if let Some(st) = ch.try_wait().expect("wait child") {
            break Some(st);
        }
        if std::time::Instant::now() > deadline {
            ch.kill().ok();
            ch.wait().ok();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = String::from_utf8_lossy(&t_out.join().unwrap()).into_owned();
    let err = String::from_utf8_lossy(&t_err.join().unwrap()).into_owned();
    (status, out, err)
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

/// `d` in milliseconds, one decimal (Go's `msOf`).
pub fn ms_of(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e3)
}

/// The resident set size, from /proc/self/statm.
pub fn rss_bytes() -> i64 {
    let s = std::fs::read_to_string("/proc/self/statm").expect("statm");
    let pages: i64 = s.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

/// The first `n` primes, computed sequentially (Go's `firstPrimes`), for W7's check.
pub fn first_primes(n: usize) -> Vec<u64> {
    let mut limit = 64usize;
    loop {
        let mut comp = vec![false; limit];
        let mut ps = Vec::with_capacity(n);
        let mut i = 2;
        while i < limit && ps.len() < n {
            if !comp[i] {
                ps.push(i as u64);
                let mut j = i * i;
                while j < limit {
                    comp[j] = true;
                    j += i;
                }
            }
            i += 1;
        }
        if ps.len() == n {
            return ps;
        }
        limit *= 2;
    }
}

/// `d / count` in nanoseconds, one decimal.
pub fn ns_per(d: Duration, count: usize) -> String {
    format!("{:.1}", d.as_nanos() as f64 / count as f64)
}

// ---------------------------------------------------------------- N1 echo (shared)

/// N1's client tasks, each over its own connection to the echo server.
pub const N1_CLIENTS: usize = 200;

/// N1's round trips per client (full size; `-quick` divides it by [`QUICK_DIV`]).
pub const N1_ROUNDS: usize = 500;

/// N1's message length in bytes (also the server's read buffer).
pub const N1_MSG: usize = 64;

/// Client `id`'s message for round `r` (Go's `n1Msg`): `id` and `r` as little-endian u32s,
/// then bytes that depend on both, so a reply from another client or round fails the check.
pub fn n1_msg(msg: &mut [u8; N1_MSG], id: usize, r: usize) {
    msg[0..4].copy_from_slice(&(id as u32).to_le_bytes());
    msg[4..8].copy_from_slice(&(r as u32).to_le_bytes());
    for (j, b) in msg.iter_mut().enumerate().skip(8) {
        *b = (id + r + j) as u8;
    }
}

/// One N1 client's n round trips over a blocking stream (goro's, may's, std's); the
/// connection is closed on return.
pub fn n1_client<S: std::io::Read + std::io::Write>(
    mut c: S,
    id: usize,
    n: usize,
) -> Result<(), String> {
    let (mut msg, mut got) = ([0u8; N1_MSG], [0u8; N1_MSG]);
    for r in 0..n {
        n1_msg(&mut msg, id, r);
        c.write_all(&msg)
            .map_err(|e| format!("client {id} round {r} write: {e}"))?;
        c.read_exact(&mut got)
            .map_err(|e| format!("client {id} round {r} read: {e}"))?;
        n1_check(&got, &msg, id, r)?;
    }
    Ok(())
}

/// N1's echo handler over a blocking stream: read, write back all that was read, until EOF
/// (the first error goes to `errs`); the connection is closed on return.
pub fn n1_echo<S: std::io::Read + std::io::Write>(mut conn: S, errs: &FirstErr) {
    let mut buf = [0u8; N1_MSG];
    loop {
        match conn.read(&mut buf) {
            Ok(0) => return,
            Ok(k) => {
                if let Err(e) = conn.write_all(&buf[..k]) {
                    return errs.set(format!("server write: {e}"));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return errs.set(format!("server read: {e}")),
        }
    }
}

/// Compares an echoed message with the one sent.
pub fn n1_check(
    got: &[u8; N1_MSG],
    sent: &[u8; N1_MSG],
    id: usize,
    r: usize,
) -> Result<(), String> {
    if got != sent {
        return Err(format!(
            "client {id} round {r}: echoed {got:02x?}, sent {sent:02x?}"
        ));
    }
    Ok(())
}

/// The first error any task reports (Go's `firstErr`); leaked, one per run.
#[derive(Default)]
pub struct FirstErr(std::sync::Mutex<Option<String>>);

impl FirstErr {
    pub const fn new() -> FirstErr {
        FirstErr(std::sync::Mutex::new(None))
    }
    pub fn leak() -> &'static FirstErr {
        Box::leak(Box::new(FirstErr(std::sync::Mutex::new(None))))
    }
    pub fn set(&self, e: String) {
        let mut g = self.0.lock().unwrap();
        if g.is_none() {
            *g = Some(e);
        }
    }
    pub fn get(&self) -> Result<(), String> {
        match self.0.lock().unwrap().take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}
