//! Cases that need a process of their own: running out of file descriptors on accept
//! (`RLIMIT_NOFILE` lowered), and 10,000 idle connections each held by a goroutine blocked in
//! `read` (the fds of both ends do not fit one process's limit here, and the thread count is
//! read from `/proc/self/status`, which other tests' threads would disturb).
//!
//! `harness = false`: `main` runs each case in a child process (this same binary,
//! `GORO_NET_CASE=<name>`) and kills any child that outlives its deadline, so nothing hangs.

use net::{TcpListener, TcpStream};
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const CHILD_DEADLINE: Duration = Duration::from_secs(120);

/// Open fds of this process.
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// OS threads of this process.
fn threads() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

fn set_nofile(soft: u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid struct.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
        lim.rlim_cur = soft.min(lim.rlim_max);
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &lim), 0);
    }
}

/// accept fails with EMFILE when the process is out of fds, comes back as an error (no
/// panic, no spinning), and works again once fds are freed.
fn emfile_on_accept() {
    runtime::block_on(|| {
        let ln = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = ln.local_addr().unwrap();
        // Clients first (their handshakes complete into the accept queue), then the limit.
        let clients: Vec<std::net::TcpStream> = (0..16)
            .map(|_| std::net::TcpStream::connect(addr).unwrap())
            .collect();
        set_nofile(open_fds() as u64 + 4);
        let mut accepted = Vec::new();
        let err = loop {
            match ln.accept() {
                Ok((c, _)) => accepted.push(c),
                Err(e) => break e,
            }
            assert!(accepted.len() <= 16, "accept never ran out of fds");
        };
        assert_eq!(err.raw_os_error(), Some(libc::EMFILE), "{err}");
        assert!(!accepted.is_empty(), "some accepts fit under the limit");
        // The listener is still usable: free fds, and queued connections come through again.
        // (At least one: the runtime itself may take an fd meanwhile, e.g. sysmon opening a
        // thread's /proc stat file.)
        let before = accepted.len();
        accepted.clear();
        let t = Instant::now();
        accepted.push(ln.accept().unwrap().0);
        set_nofile(u64::MAX);
        while before + accepted.len() < clients.len() {
            accepted.push(ln.accept().unwrap().0);
        }
        assert!(t.elapsed() < Duration::from_secs(10));
        println!("emfile ok: {before} accepted before EMFILE");
    });
}

/// 10,000 connections, each held by a goroutine blocked reading it: every one parks on the
/// poller and the process keeps about gomaxprocs threads.
fn idle_connections() {
    const N: usize = 10_000;
    set_nofile(u64::MAX);
    runtime::block_on(|| {
        let ln = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = ln.local_addr().unwrap();
        // The clients live in another process: both ends would not fit this one's limit.
        let mut clients = Command::new(std::env::current_exe().unwrap())
            .env("GORO_NET_CASE", "idle_clients")
            .env("GORO_NET_ADDR", addr.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let threads_before = threads();
        let blocked = Arc::new(AtomicUsize::new(0));
        let finished = Arc::new(AtomicUsize::new(0));
        for _ in 0..N {
            let (c, _) = ln.accept().unwrap();
            let (blocked, finished) = (blocked.clone(), finished.clone());
            runtime::go!(move || {
                blocked.fetch_add(1, Ordering::Relaxed);
                let mut buf = [0u8; 64];
                let n = (&c).read(&mut buf).unwrap();
                assert_eq!(n, 0, "the client only closes");
                finished.fetch_add(1, Ordering::Relaxed);
            });
        }
        while blocked.load(Ordering::Relaxed) < N {
            runtime::sleep(Duration::from_millis(5));
        }
        // Give every reader time to reach its park.
        let t = Instant::now();
        while runtime::stack_dump().matches("[IO wait").count() < N {
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "readers never all parked"
            );
            runtime::sleep(Duration::from_millis(20));
        }
        assert!(runtime::num_goroutine() > N, "parked readers are counted");
        let procs = runtime::gomaxprocs(0);
        let th = threads();
        // main + sysmon + one M per P, and a little slack for an M on its way out.
        assert!(
            th <= procs + 4,
            "{th} threads for {N} blocked readers at gomaxprocs {procs} (before: {threads_before})"
        );
        assert_eq!(finished.load(Ordering::Relaxed), 0);
        // Let the clients go: every reader sees EOF.
        drop(clients.stdin.take());
        let mut out = String::new();
        clients
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        assert!(clients.wait().unwrap().success(), "client process: {out}");
        while finished.load(Ordering::Relaxed) < N {
            runtime::sleep(Duration::from_millis(5));
        }
        println!("idle ok: {N} readers parked on {th} threads (gomaxprocs {procs})");
    });
}

/// The client side of `idle_connections`: connect N times, hold, close all at stdin EOF.
fn idle_clients() {
    let addr = std::env::var("GORO_NET_ADDR").unwrap();
    set_nofile(u64::MAX);
    let conns: Vec<std::net::TcpStream> = (0..10_000)
        .map(|_| std::net::TcpStream::connect(&addr).unwrap())
        .collect();
    let mut sink = Vec::new();
    std::io::stdin().read_to_end(&mut sink).unwrap();
    drop(conns);
    std::io::stdout().write_all(b"clients done").unwrap();
}

/// Connecting through goro from a plain thread while the server is a goroutine: also checks
/// a TcpStream is usable in a process where the runtime never started an M.
fn thread_only_process() {
    let ln = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = ln.local_addr().unwrap();
    let t = std::thread::spawn(move || {
        let (mut c, _) = ln.accept().unwrap();
        c.write_all(b"no goroutines").unwrap();
    });
    let mut c = TcpStream::connect(addr).unwrap();
    let mut s = String::new();
    c.read_to_string(&mut s).unwrap();
    assert_eq!(s, "no goroutines");
    t.join().unwrap();
    assert_eq!(threads(), 1, "no runtime thread was started");
    println!("threads ok");
}

/// A goroutine blocked on a socket is not asleep for good: the network can wake it. The
/// datagram comes from another process after a while, so while the goroutine waits every
/// thread of this process is goro's and idle, which is exactly when the deadlock detector
/// would speak if it counted the poller's waiters as asleep.
fn io_wait_is_not_a_deadlock() {
    runtime::block_on(|| {
        let s = net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut sender = Command::new(std::env::current_exe().unwrap())
            .env("GORO_NET_CASE", "udp_sender")
            .env("GORO_NET_ADDR", s.local_addr().unwrap().to_string())
            .spawn()
            .unwrap();
        let mut b = [0u8; 8];
        let n = s.recv(&mut b).unwrap();
        assert_eq!(&b[..n], b"late");
        assert!(sender.wait().unwrap().success());
        println!("no deadlock reported while in IO wait");
    });
}

/// The other process of `io_wait_is_not_a_deadlock`.
fn udp_sender() {
    std::thread::sleep(Duration::from_millis(500));
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    s.send_to(b"late", std::env::var("GORO_NET_ADDR").unwrap())
        .unwrap();
}

const CASES: &[(&str, fn())] = &[
    ("io_wait_is_not_a_deadlock", io_wait_is_not_a_deadlock),
    ("emfile_on_accept", emfile_on_accept),
    ("idle_connections", idle_connections),
    ("thread_only_process", thread_only_process),
];

fn main() {
    if let Ok(case) = std::env::var("GORO_NET_CASE") {
        match case.as_str() {
            "idle_clients" => return idle_clients(),
            "udp_sender" => return udp_sender(),
            _ => {}
        }
        let (_, f) = CASES.iter().find(|(n, _)| *n == case).expect("known case");
        f();
        return;
    }
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let mut failed = 0;
    let mut ran = 0;
    for (name, _) in CASES {
        if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        ran += 1;
        let mut child = Command::new(std::env::current_exe().unwrap())
            .env("GORO_NET_CASE", name)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Drain both pipes while the child runs: a child that writes more than a pipe holds
        // (a panic with a dump of 10,000 goroutines) must not block and look hung.
        let drain = |mut r: Box<dyn Read + Send>| {
            std::thread::spawn(move || {
                let mut s = String::new();
                let _ = r.read_to_string(&mut s);
                s
            })
        };
        let out_t = drain(Box::new(child.stdout.take().unwrap()));
        let err_t = drain(Box::new(child.stderr.take().unwrap()));
        let start = Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break Some(s);
            }
            if start.elapsed() > CHILD_DEADLINE {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let out = out_t.join().unwrap();
        let err = err_t.join().unwrap();
        match status {
            Some(s) if s.success() => println!("test {name} ... ok ({})", out.trim()),
            Some(s) => {
                failed += 1;
                println!("test {name} ... FAILED ({s})\n{out}\n{err}");
            }
            None => {
                failed += 1;
                println!(
                    "test {name} ... FAILED (hung; killed after {CHILD_DEADLINE:?})\n{out}\n{err}"
                );
            }
        }
    }
    println!(
        "\ntest result: {}. {} passed; {failed} failed",
        if failed == 0 { "ok" } else { "FAILED" },
        ran - failed
    );
    if failed > 0 {
        std::process::exit(1);
    }
}
