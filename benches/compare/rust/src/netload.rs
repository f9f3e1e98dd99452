//! What N2 (HTTP under `wrk`) and N3 (idle connections) share between the systems, as
//! benches/compare/go/network.go does it for Go.
//!
//! N2: the system's HTTP/1.1 keep-alive "Hello, World!" server runs as its own process,
//! pinned with `taskset` to the second CPU this process may use, with one P / one worker
//! (`GOMAXPROCS=1`, `-procs 1`); `wrk` (one thread, [`N2_CONNS`] connections, `--latency`)
//! runs pinned to the first. [`n2_run`] starts the server on a free loopback port, waits for
//! its `listening on ADDR` line, checks two keep-alive `GET /` on one connection (status 200,
//! body `Hello, World!`), runs a 1 s warm-up (not with `-quick`) and the measured run, and
//! reads from wrk's output requests/s, the p50 and p99 latency, socket errors and non-2xx
//! (or 3xx) responses.
//!
//! N3: the system's server runs in this process (one task per accepted connection, blocked
//! reading a 64-byte buffer); the client is another process ([`n3_client_main`], this
//! program with `-n3-client`) that dials [`N3_CONNS`] connections one after another with
//! blocking `connect`, and holds them until told to close. [`n3_run`] measures the server's
//! RSS before the first dial and once every connection has its task blocked in `read`, and
//! the time from the client's go-ahead until the last connection's task started.

use crate::threads_w::Countdown;
use crate::{Opts, Res, ms_of, rss_bytes};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------- N2 http

/// N2's measured wrk run in seconds (`-quick`: [`N2_QUICK_SECS`]).
pub const N2_SECS: u64 = 10;
/// N2's measured run with `-quick`.
pub const N2_QUICK_SECS: u64 = 2;
/// The untimed wrk warm-up before the measured run (none with `-quick`).
pub const N2_WARM_SECS: u64 = 1;
/// A pause before N2's server starts (none with `-quick`): the machine settles after the
/// workload before it. Measured on the AMD EPYC VM: right after goro's W10 (a million
/// goroutines, ~4.5 GB touched and freed) any server was slower for some seconds (tokio's
/// N2 63-66k req/s and p50 0.9-1.1 ms instead of 82-90k and 0.6 ms; goro's p99 6-9 ms
/// instead of 1.6-1.9 ms), and N2 comes a few workloads after each system's own W10.
pub const N2_SETTLE_SECS: u64 = 5;
/// wrk's keep-alive connections.
pub const N2_CONNS: usize = 100;
/// The body every server answers `GET /` with.
pub const N2_BODY: &str = "Hello, World!";

/// What wrk measured.
pub struct Wrk {
    pub rps: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub socket_errors: u64,
    pub non2xx: u64,
    /// The CPU time the server and wrk used during the measured run, in cores (1.0: one
    /// core busy all the time): whether the server's core, or wrk's, was the limit.
    pub server_cpu: f64,
    pub wrk_cpu: f64,
}

impl Wrk {
    /// The workload's metric text.
    pub fn metric(&self) -> String {
        format!(
            "rps={:.1} p50_us={:.1} p99_us={:.1} socket_errors={} non2xx={} server_cpu={:.2} \
             wrk_cpu={:.2}",
            self.rps,
            self.p50_us,
            self.p99_us,
            self.socket_errors,
            self.non2xx,
            self.server_cpu,
            self.wrk_cpu
        )
    }

    pub fn errors(&self) -> u64 {
        self.socket_errors + self.non2xx
    }
}

/// The CPUs this process may run on (`Cpus_allowed_list` of /proc/self/status).
fn allowed_cpus() -> Result<Vec<usize>, String> {
    let st = std::fs::read_to_string("/proc/self/status").map_err(|e| format!("status: {e}"))?;
    let list = st
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .ok_or("no Cpus_allowed_list in /proc/self/status")?;
    let mut cpus = Vec::new();
    for part in list.trim().split(',').filter(|p| !p.is_empty()) {
        let (lo, hi) = part.split_once('-').unwrap_or((part, part));
        let bad = || format!("Cpus_allowed_list {list:?}");
        let lo: usize = lo.parse().map_err(|_| bad())?;
        let hi: usize = hi.parse().map_err(|_| bad())?;
        cpus.extend(lo..=hi);
    }
    Ok(cpus)
}

/// N2's CPUs: (wrk's, the server's).
pub fn n2_cpus() -> Result<(usize, usize), String> {
    match allowed_cpus()?[..] {
        [a, b, ..] => Ok((a, b)),
        _ => Err("N2 pins wrk and the server to a CPU each; this process may use one".into()),
    }
}

/// A free loopback address (bound, then released for the server to take).
fn free_addr() -> Result<SocketAddr, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    l.local_addr().map_err(|e| format!("local_addr: {e}"))
}

/// A child process killed (and reaped) when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

/// Runs N2 against the server `server(addr)` builds (program and arguments; this pins it
/// and sets `GOMAXPROCS=1`). `Err` if the server does not start, answers wrongly, dies, or
/// wrk fails.
pub fn n2_run(o: &Opts, server: impl FnOnce(&str) -> Command) -> Result<Wrk, String> {
    let (wrk_cpu, srv_cpu) = n2_cpus()?;
    if !o.quick {
        std::thread::sleep(Duration::from_secs(N2_SETTLE_SECS));
    }
    let addr = free_addr()?.to_string();
    let proto = server(&addr);
    let mut cmd = Command::new("taskset");
    cmd.arg("-c")
        .arg(srv_cpu.to_string())
        .arg(proto.get_program());
    cmd.args(proto.get_args());
    cmd.env("GOMAXPROCS", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let what = proto.get_program().to_string_lossy().into_owned();
    let mut srv = Killed(
        cmd.spawn()
            .map_err(|e| format!("start server {what} under taskset: {e}"))?,
    );
    // Its first stdout line says it accepts; the rest is drained (and ignored).
    let out = srv.0.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut r = BufReader::new(out);
        let mut line = String::new();
        let n = r.read_line(&mut line).unwrap_or(0);
        tx.send((n, line)).ok();
        std::io::copy(&mut r, &mut std::io::sink()).ok();
    });
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok((n, line)) if n > 0 && line.starts_with("listening on") => {}
        Ok((_, line)) => {
            return Err(format!(
                "server {what} printed {line:?}, want `listening on {addr}`"
            ));
        }
        Err(_) => return Err(format!("server {what}: no `listening on` line in 30 s")),
    }
    n2_check(&addr).map_err(|e| format!("server {what}: {e}"))?;
    let secs = if o.quick { N2_QUICK_SECS } else { N2_SECS };
    if !o.quick {
        wrk(wrk_cpu, &addr, N2_WARM_SECS).map_err(|e| format!("warm-up: {e}"))?;
    }
    let (t0, cpu0) = (Instant::now(), proc_cpu_secs(srv.0.id())?);
    let w = wrk(wrk_cpu, &addr, secs)?;
    let cpu1 = proc_cpu_secs(srv.0.id())?;
    let wall = t0.elapsed().as_secs_f64();
    let w = Wrk {
        server_cpu: (cpu1 - cpu0) / wall,
        wrk_cpu: w.wrk_cpu / wall,
        ..w
    };
    if let Some(st) = srv.0.try_wait().map_err(|e| format!("wait: {e}"))? {
        return Err(format!("server {what} exited during the run: {st}"));
    }
    drop(srv);
    Ok(w)
}

/// N2's server for a system written in this program (tokio, may): this program with
/// `-serve-http ADDR`, one worker.
#[cfg(feature = "all-systems")]
pub fn self_server(sys: &str) -> Result<impl FnOnce(&str) -> Command, String> {
    let exe = std::env::current_exe().map_err(|e| format!("own path: {e}"))?;
    let sys = sys.to_string();
    Ok(move |addr: &str| {
        let mut c = Command::new(exe);
        c.args(["-child", "-sys", &sys, "-procs", "1", "-serve-http", addr]);
        c
    })
}

/// Two `GET /` over one connection, each answered `200` with body [`N2_BODY`] (and a
/// Content-Length), the connection kept open between them.
fn n2_check(addr: &str) -> Result<(), String> {
    let c = std::net::TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    c.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let mut w = c.try_clone().map_err(|e| format!("clone: {e}"))?;
    let mut r = BufReader::new(c);
    for i in 0..2 {
        w.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .map_err(|e| format!("request {i}: write: {e}"))?;
        let mut line = String::new();
        r.read_line(&mut line)
            .map_err(|e| format!("request {i}: read: {e}"))?;
        if !line.starts_with("HTTP/1.1 200 ") {
            return Err(format!(
                "request {i}: status line {line:?}, want HTTP/1.1 200"
            ));
        }
        let mut len = None;
        loop {
            line.clear();
            r.read_line(&mut line)
                .map_err(|e| format!("request {i}: read header: {e}"))?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            let Some((k, v)) = l.split_once(':') else {
                return Err(format!("request {i}: header line {l:?}"));
            };
            if k.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse::<usize>().ok();
            } else if k.eq_ignore_ascii_case("connection") && v.trim() == "close" {
                return Err(format!("request {i}: `Connection: close` on HTTP/1.1"));
            }
        }
        let len = len.ok_or(format!("request {i}: no Content-Length"))?;
        let mut body = vec![0u8; len];
        r.read_exact(&mut body)
            .map_err(|e| format!("request {i}: read body: {e}"))?;
        if body != N2_BODY.as_bytes() {
            return Err(format!(
                "request {i}: body {:?}, want {N2_BODY:?}",
                String::from_utf8_lossy(&body)
            ));
        }
    }
    Ok(())
}

/// The CPU time (user + system, all threads) process `pid` has used, in seconds.
fn proc_cpu_secs(pid: u32) -> Result<f64, String> {
    let st = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| format!("/proc/{pid}/stat: {e}"))?;
    // Fields after the command name, which is in parentheses: state is field 3, utime 14,
    // stime 15.
    let rest = &st[st.rfind(')').ok_or("/proc/PID/stat: no `)`")? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok());
    let (Some(u), Some(s)) = (ticks(11), ticks(12)) else {
        return Err(format!("/proc/{pid}/stat: {st:?}"));
    };
    Ok((u + s) / clock_ticks())
}

/// The CPU time (user + system) of this process's waited-for children, in seconds.
fn children_cpu_secs() -> f64 {
    // SAFETY: getrusage only writes the struct passed; all-zero is a valid `rusage`.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru);
        ru
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(ru.ru_utime) + secs(ru.ru_stime)
}

/// Clock ticks per second of /proc's CPU times.
fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

/// One wrk run of `secs` seconds on CPU `cpu`: one thread, [`N2_CONNS`] connections. Its
/// `wrk_cpu` is the CPU seconds wrk used (not yet divided by the run's length).
fn wrk(cpu: usize, addr: &str, secs: u64) -> Result<Wrk, String> {
    let c0 = children_cpu_secs();
    let out = Command::new("taskset")
        .arg("-c")
        .arg(cpu.to_string())
        .arg("wrk")
        .args(["-t1", "--latency", "--timeout", "5s"])
        .arg(format!("-c{N2_CONNS}"))
        .arg(format!("-d{secs}s"))
        .arg(format!("http://{addr}/"))
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("run wrk (apt-get install -y wrk): {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "wrk {}: {}{}",
            out.status,
            text.trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let mut w = parse_wrk(&text).map_err(|e| format!("wrk output: {e}:\n{text}"))?;
    w.wrk_cpu = children_cpu_secs() - c0;
    Ok(w)
}

/// A wrk latency (`812.00us`, `1.23ms`, `2.00s`, `1.00m`) in microseconds.
fn wrk_us(s: &str) -> Option<f64> {
    let i = s.find(|c: char| c.is_ascii_alphabetic())?;
    let v: f64 = s[..i].parse().ok()?;
    let scale = match &s[i..] {
        "us" => 1.0,
        "ms" => 1e3,
        "s" => 1e6,
        "m" => 60e6,
        "h" => 3600e6,
        _ => return None,
    };
    Some(v * scale)
}

/// The figures of wrk's `--latency` report.
pub fn parse_wrk(text: &str) -> Result<Wrk, String> {
    let (mut rps, mut p50, mut p99) = (None, None, None);
    let (mut socket_errors, mut non2xx) = (0u64, 0u64);
    let mut in_dist = false;
    for line in text.lines() {
        let l = line.trim();
        if l.starts_with("Latency Distribution") {
            in_dist = true;
            continue;
        }
        if in_dist {
            match l.split_whitespace().collect::<Vec<_>>()[..] {
                ["50%", v] => p50 = wrk_us(v),
                ["99%", v] => p99 = wrk_us(v),
                [q, _] if q.ends_with('%') => {}
                _ => in_dist = false,
            }
        }
        if let Some(v) = l.strip_prefix("Requests/sec:") {
            rps = v.trim().parse::<f64>().ok();
        } else if let Some(v) = l.strip_prefix("Socket errors:") {
            // "connect 0, read 0, write 0, timeout 0"
            for part in v.split(',') {
                let k = part
                    .split_whitespace()
                    .nth(1)
                    .and_then(|n| n.parse::<u64>().ok());
                socket_errors += k.ok_or(format!("socket errors {v:?}"))?;
            }
        } else if let Some(v) = l.strip_prefix("Non-2xx or 3xx responses:") {
            non2xx = v.trim().parse().map_err(|_| format!("non-2xx {v:?}"))?;
        }
    }
    Ok(Wrk {
        rps: rps.ok_or("no Requests/sec")?,
        p50_us: p50.ok_or("no 50% latency")?,
        p99_us: p99.ok_or("no 99% latency")?,
        socket_errors,
        non2xx,
        server_cpu: 0.0,
        wrk_cpu: 0.0,
    })
}

// ---------------------------------------------------------------- N3 idle

/// N3's connections (`-quick`: [`N3_QUICK_CONNS`]).
pub const N3_CONNS: usize = 10_000;
/// N3's connections with `-quick`.
pub const N3_QUICK_CONNS: usize = 1_000;
/// The read buffer each connection's task is blocked on.
pub const N3_BUF: usize = 64;
/// The client dials at most this many connections ahead of the server's accepts (below
/// every listener's backlog: std's is 128), so no SYN is dropped for a full accept queue
/// (the kernel would retry it 1 s later, and that second would be the measurement).
pub const N3_WINDOW: usize = 64;
/// The server tells the client its accept count every this many connections.
pub const N3_BATCH: usize = 16;

/// How long N3's connections sit idle before the second RSS reading (`-quick`: 2 s).
pub fn n3_settle(o: &Opts) -> Duration {
    Duration::from_secs(if o.quick { 2 } else { 3 })
}

pub fn n3_conns(o: &Opts) -> usize {
    if o.quick { N3_QUICK_CONNS } else { N3_CONNS }
}

/// Raises RLIMIT_NOFILE's soft limit to the hard one (as Go's runtime does at start); `Err`
/// if `need` descriptors still would not fit.
pub fn raise_nofile(need: usize) -> Result<(), String> {
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read or write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) == 0 && rl.rlim_cur < rl.rlim_max {
            rl.rlim_cur = rl.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &rl);
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl);
        }
    }
    if (rl.rlim_cur as u128) < need as u128 {
        return Err(format!(
            "fails: needs {need} open files; ulimit -n is {} (hard {})",
            rl.rlim_cur, rl.rlim_max
        ));
    }
    Ok(())
}

/// What N3's connection tasks report; leaked, one per run.
pub struct N3State {
    pub n: usize,
    /// Connections whose task started (counted right before its read).
    started: AtomicUsize,
    /// `started` at every [`N3_BATCH`]th start and at the last: the accept progress the
    /// client paces itself by.
    progress: mpsc::SyncSender<usize>,
    /// Done by each task when its read returned.
    /// `sync.WaitGroup` for the handlers (any system's tasks may call `done`: it only locks
    /// briefly), waited for by the measuring thread with a deadline.
    returned: &'static Countdown,
    /// Reads that returned end-of-file with nothing read (what each must see).
    eofs: AtomicUsize,
    errs: crate::FirstErr,
}

impl N3State {
    /// What a connection task does right before its read.
    pub fn start(&self) {
        let k = self.started.fetch_add(1, Ordering::Relaxed) + 1;
        if k.is_multiple_of(N3_BATCH) || k == self.n {
            // Room for every report: never blocks, never fails while the run lasts.
            self.progress.try_send(k).ok();
        }
    }

    /// What a connection task does once its read returned `r`.
    pub fn read_returned(&self, r: std::io::Result<usize>) {
        match r {
            Ok(0) => {
                self.eofs.fetch_add(1, Ordering::Relaxed);
            }
            Ok(k) => self.errs.set(format!(
                "a connection read {k} bytes; the client sends none"
            )),
            Err(e) => self.errs.set(format!("server read: {e}")),
        }
        self.returned.done();
    }

    /// What the accept loop does when accept (or starting the connection's task) fails at
    /// connection `i`: reports it, and counts the connections that will not come as started
    /// and returned.
    pub fn accept_failed(&self, i: usize, e: std::io::Error) {
        self.errs.set(format!("accept {i}: {e}"));
        for _ in i..self.n {
            self.start();
            self.returned.done();
        }
    }
}

/// Runs N3: `serve(state)` binds a loopback listener and starts the system's accept loop
/// (exactly `state.n` connections, each handed to a new task that calls `start()`, then
/// reads into a [`N3_BUF`]-byte buffer and passes the result to `read_returned`), and returns
/// the listener's address. The rest runs on this (plain) thread: it starts the client, takes
/// the RSS, gives the go-ahead and passes the accept progress on to the client until every
/// connection's task started (the accept time), lets the tasks settle into their reads,
/// takes the RSS again, then has the client close everything and checks that every read
/// returned end-of-file then, and not before.
pub fn n3_run(o: &Opts, serve: impl FnOnce(&'static N3State) -> Result<SocketAddr, String>) -> Res {
    let n = n3_conns(o);
    raise_nofile(n + 100)?;
    let (progress, progress_rx) = mpsc::sync_channel(n / N3_BATCH + 2);
    let st: &'static N3State = Box::leak(Box::new(N3State {
        n,
        started: AtomicUsize::new(0),
        progress,
        returned: Countdown::leak(n),
        eofs: AtomicUsize::new(0),
        errs: crate::FirstErr::new(),
    }));
    let addr = serve(st)?;
    let mut client = N3Client::start(addr, n)?;
    // Let the accept loop reach its first accept.
    std::thread::sleep(Duration::from_millis(20));
    let rss0 = rss_bytes();
    let t0 = Instant::now();
    client.send("go")?;
    loop {
        match progress_rx.recv_timeout(Duration::from_millis(100)) {
            Ok(k) => {
                client.send(&k.to_string())?;
                if k >= n {
                    break;
                }
            }
            Err(_) => {
                client.alive()?;
                if t0.elapsed() > Duration::from_secs(60) {
                    let k = st.started.load(Ordering::Relaxed);
                    return Err(format!("{k} of {n} connections accepted after 60 s"));
                }
            }
        }
    }
    let accept = t0.elapsed();
    client.expect(&format!("connected {n}"))?;
    // Let the last tasks reach the read they announced.
    std::thread::sleep(Duration::from_millis(50));
    let rss1 = rss_bytes();
    // And once they have sat idle a while: what a server holding idle keep-alive
    // connections pays in its steady state (goro trims the stacks of goroutines parked 1 s).
    std::thread::sleep(n3_settle(o));
    let rss2 = rss_bytes();
    let early = n - st.returned.left();
    if early != 0 {
        st.errs.get()?;
        return Err(format!("{early} reads returned before the client closed"));
    }
    client.close()?;
    if !st.returned.wait_for(Duration::from_secs(60)) {
        return Err(format!(
            "{} of {n} reads still blocked 60 s after the client closed",
            st.returned.left()
        ));
    }
    st.errs.get()?;
    let eofs = st.eofs.load(Ordering::Relaxed);
    if eofs != n {
        return Err(format!("{eofs} of {n} reads saw the client's close"));
    }
    Ok(format!(
        "bytes_per_conn={:.0} idle_bytes_per_conn={:.0} accept_ms={}",
        (rss1 - rss0) as f64 / n as f64,
        rss2.saturating_sub(rss0) as f64 / n as f64,
        ms_of(accept)
    ))
}

/// The N3 client process, driven over its stdin and stdout.
struct N3Client {
    child: Killed,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
}

impl N3Client {
    /// Starts `<this program> -n3-client ADDR N` and waits for its `ready`.
    fn start(addr: SocketAddr, n: usize) -> Result<N3Client, String> {
        let exe = std::env::current_exe().map_err(|e| format!("own path: {e}"))?;
        let mut child = Command::new(exe)
            .args(["-n3-client", &addr.to_string(), &n.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("start the N3 client: {e}"))?;
        let stdin = child.stdin.take();
        let out = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines() {
                let Ok(l) = l else { break };
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        let mut c = N3Client {
            child: Killed(child),
            stdin,
            lines,
        };
        c.expect("ready")?;
        Ok(c)
    }

    fn send(&mut self, line: &str) -> Result<(), String> {
        let w = self.stdin.as_mut().unwrap();
        writeln!(w, "{line}")
            .and_then(|()| w.flush())
            .map_err(|e| format!("N3 client: write: {e}"))
    }

    /// Waits (up to 60 s) for the client's next line, which must be `want`.
    fn expect(&mut self, want: &str) -> Result<(), String> {
        match self.lines.recv_timeout(Duration::from_secs(60)) {
            Ok(l) if l == want => Ok(()),
            Ok(l) => Err(format!("N3 client said {l:?}, want {want:?}")),
            Err(_) => {
                self.alive()?;
                Err(format!("N3 client: no {want:?} in 60 s"))
            }
        }
    }

    /// `Err` if the client has exited.
    fn alive(&mut self) -> Result<(), String> {
        match self.child.0.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(st)) => Err(format!("N3 client exited early: {st}")),
            Err(e) => Err(format!("N3 client: wait: {e}")),
        }
    }

    /// Closes its stdin (it then closes every connection and exits) and waits for it.
    fn close(mut self) -> Result<(), String> {
        drop(self.stdin.take());
        let st = self
            .child
            .0
            .wait()
            .map_err(|e| format!("N3 client: wait: {e}"))?;
        if !st.success() {
            return Err(format!("N3 client: {st}"));
        }
        Ok(())
    }
}

/// `-n3-client ADDR N`: says `ready`, waits for a line (`go`), dials N connections to ADDR
/// one after another with blocking `connect` (the same loop for every system's server), at
/// most [`N3_WINDOW`] ahead of the accept count the server sends (a line each), says
/// `connected N`, and holds them until its stdin closes; then closes them all and exits 0
/// (1 on an error, said on stderr).
pub fn n3_client_main(addr: &str, n: usize) -> ! {
    let fail = |e: String| -> ! {
        eprintln!("N3 client: {e}");
        std::process::exit(1)
    };
    if let Err(e) = raise_nofile(n + 100) {
        fail(e);
    }
    let addr: SocketAddr = addr
        .parse()
        .unwrap_or_else(|_| fail(format!("address {addr}")));
    let mut stdin = std::io::stdin().lock();
    let mut line = String::new();
    let mut next_line = |line: &mut String| -> String {
        line.clear();
        if stdin.read_line(line).unwrap_or(0) == 0 {
            fail("stdin closed early".into());
        }
        line.trim().to_string()
    };
    println!("ready");
    std::io::stdout().flush().ok();
    next_line(&mut line); // go
    let mut conns = Vec::with_capacity(n);
    let mut accepted = 0;
    for i in 0..n {
        while i >= accepted + N3_WINDOW {
            let l = next_line(&mut line);
            accepted = l
                .parse()
                .unwrap_or_else(|_| fail(format!("accept count {l:?}")));
        }
        match std::net::TcpStream::connect(addr) {
            Ok(c) => conns.push(c),
            Err(e) => fail(format!("connect {i}: {e}")),
        }
    }
    println!("connected {n}");
    std::io::stdout().flush().ok();
    // Until the server closes our stdin.
    std::io::copy(&mut stdin, &mut std::io::sink()).ok();
    drop(conns);
    std::process::exit(0)
}

#[cfg(test)]
mod tests {
    use super::{parse_wrk, wrk_us};

    #[test]
    fn wrk_latency_units() {
        assert_eq!(wrk_us("812.00us"), Some(812.0));
        assert_eq!(wrk_us("1.25ms"), Some(1250.0));
        assert_eq!(wrk_us("2.00s"), Some(2e6));
        assert_eq!(wrk_us("1.00m"), Some(60e6));
        assert_eq!(wrk_us("3.0"), None);
    }

    #[test]
    fn wrk_report_with_errors() {
        let text = "Running 2s test @ http://127.0.0.1:40000/
  1 threads and 100 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   640.12us  210.00us   4.10ms   90.00%
    Req/Sec    80.00k     2.00k   84.00k    75.00%
  Latency Distribution
     50%  600.00us
     75%  700.00us
     90%  800.00us
     99%    1.50ms
  160000 requests in 2.00s, 19.00MB read
  Socket errors: connect 1, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 7
Requests/sec:  79950.25
Transfer/sec:      9.50MB
";
        let w = parse_wrk(text).unwrap();
        assert_eq!(w.rps, 79950.25);
        assert_eq!((w.p50_us, w.p99_us), (600.0, 1500.0));
        assert_eq!((w.socket_errors, w.non2xx), (6, 7));
        let clean = text
            .lines()
            .filter(|l| !l.contains("errors") && !l.contains("Non-2xx"))
            .collect::<Vec<_>>()
            .join("\n");
        let w = parse_wrk(&clean).unwrap();
        assert_eq!((w.socket_errors, w.non2xx), (0, 0));
        assert!(parse_wrk("Requests/sec: 1.0\n").is_err());
    }
}
