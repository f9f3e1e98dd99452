//! Deadlock detection, schedtrace and dumponexit: each case runs in a child process (this
//! same binary, `GORO_CASE=<name>`), because a verdict needs a process where every thread is
//! goro's or parked in goro (the test harness's threads would rule any verdict out), and
//! because the cases end their process. The parent checks each child's exit status and
//! stderr, and kills any child that outlives its deadline (a watchdog: no case can hang CI).
//!
//! `harness = false`: `main` below is the runner.

use goro::runtime;
use goro::sync::Mutex;
use goro::{chan, go};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long a child may run before it counts as hung.
const CHILD_DEADLINE: Duration = Duration::from_secs(30);

struct Case {
    name: &'static str,
    run: fn(),
    env: &'static [(&'static str, &'static str)],
    check: fn(Option<i32>, &str) -> Result<(), String>,
}

fn deadlocked(code: Option<i32>, err: &str, reason: &str) -> Result<(), String> {
    if code == Some(0) {
        return Err("exited 0, expected the deadlock panic".into());
    }
    if !err.contains(runtime::DEADLOCK_MESSAGE) {
        return Err(format!("no {:?} in stderr", runtime::DEADLOCK_MESSAGE));
    }
    if !err.contains(&format!("[{reason}")) {
        return Err(format!("the dump does not show a goroutine in [{reason}"));
    }
    Ok(())
}

/// A plain thread (no `block_on`) asleep for good: the process exits 2 with Go's message.
fn exits_deadlocked(code: Option<i32>, err: &str) -> Result<(), String> {
    if code != Some(2) {
        return Err(format!("exit status {code:?}, expected 2"));
    }
    if !err.contains(runtime::DEADLOCK_MESSAGE) {
        return Err(format!("no {:?} in stderr", runtime::DEADLOCK_MESSAGE));
    }
    Ok(())
}

/// The frame lines of the dump in `err` name `first`, then `then`, each followed by its
/// `tests/deadlock.rs:LINE` (a debug build names functions by path, a release build with line
/// tables only by their bare name).
fn stack_shows(err: &str, first: &str, then: &str) -> Result<(), String> {
    let lines: Vec<&str> = err.lines().collect();
    let is_frame = |l: &str, f: &str| {
        l.strip_prefix("    ")
            .is_some_and(|n| n == f || n.ends_with(&format!("::{f}")))
    };
    let at_file = |i: usize| {
        lines
            .get(i + 1)
            .is_some_and(|l| l.starts_with("        ") && l.contains("tests/deadlock.rs:"))
    };
    let a = (0..lines.len())
        .find(|&i| is_frame(lines[i], first) && at_file(i))
        .ok_or(format!(
            "no frame of `{first}` with its file and line in the dump"
        ))?;
    (a..lines.len())
        .find(|&i| is_frame(lines[i], then) && at_file(i))
        .ok_or(format!("no frame of `{then}` after `{first}` in the dump"))?;
    Ok(())
}

#[inline(never)]
fn receive_in_f(ch: &chan::Chan<i32>) -> i32 {
    let v = ch.recv().unwrap_or(0);
    // Not a tail call: this frame stays on the stack.
    std::hint::black_box(v) + 1
}

#[inline(never)]
fn receive_in_g(ch: &chan::Chan<i32>) -> i32 {
    let v = receive_in_f(ch);
    std::hint::black_box(v) + 1
}

fn finished(code: Option<i32>, err: &str) -> Result<(), String> {
    match code {
        Some(0) if !err.contains(runtime::DEADLOCK_MESSAGE) => Ok(()),
        Some(0) => Err("reported a deadlock but exited 0".into()),
        c => Err(format!("exit status {c:?}, expected 0")),
    }
}

const CASES: &[Case] = &[
    Case {
        name: "lone_receive",
        // Go: `<-make(chan int)` in main.
        run: || {
            runtime::block_on(|| {
                let ch = chan::make::<i32>(0);
                ch.recv();
            });
        },
        env: &[],
        check: |code, err| {
            deadlocked(code, err, "chan receive")?;
            // A panic in the thread that called block_on, like Go's main goroutine.
            if code != Some(101) {
                return Err(format!("exit status {code:?}, expected a panic (101)"));
            }
            Ok(())
        },
    },
    Case {
        name: "cycle_of_two",
        // Two goroutines each waiting to send to the other; main waits for both.
        run: || {
            runtime::block_on(|| {
                let a = chan::make::<i32>(0);
                let b = chan::make::<i32>(0);
                let (a2, b2) = (a.clone(), b.clone());
                let h1 = runtime::spawn(move || {
                    a2.send(1);
                    b2.recv();
                });
                let h2 = runtime::spawn(move || {
                    b.send(1);
                    a.recv();
                });
                h1.join().unwrap();
                h2.join().unwrap();
            });
        },
        env: &[],
        check: |code, err| deadlocked(code, err, "chan send"),
    },
    Case {
        name: "the_report_shows_each_goroutines_stack",
        // Like Go's: each goroutine of the report with its call stack, innermost first.
        run: || {
            runtime::block_on(|| {
                let ch = chan::make::<i32>(0);
                let c2 = ch.clone();
                let h = runtime::spawn(move || receive_in_g(&c2));
                h.join().unwrap();
                drop(ch);
            });
        },
        env: &[],
        check: |code, err| {
            deadlocked(code, err, "chan receive")?;
            stack_shows(err, "receive_in_f", "receive_in_g")?;
            // The main goroutine's too, parked in `join` (the runtime's outermost frame).
            let join = err
                .split("\ngoroutine ")
                .find(|g| g.contains("[join"))
                .ok_or("no goroutine in [join")?;
            if !join.contains("runtime/src/spawn.rs:") || !join.contains("tests/deadlock.rs:") {
                return Err(format!("the joining goroutine's stack is missing:\n{join}"));
            }
            Ok(())
        },
    },
    Case {
        name: "mutex_locked_twice",
        run: || {
            runtime::block_on(|| {
                let m = Mutex::new(0);
                let _g = m.lock();
                let _g2 = m.lock();
            });
        },
        env: &[],
        check: |code, err| deadlocked(code, err, "sync.Mutex.Lock"),
    },
    Case {
        name: "plain_main_thread_blocked",
        // No block_on: the main thread itself waits on a channel nobody else holds. Go
        // exits with status 2 and "fatal error: all goroutines are asleep - deadlock!".
        run: || {
            let _ = runtime::gomaxprocs(0); // start the runtime (and sysmon)
            let ch = chan::make::<i32>(0);
            go!({
                runtime::sleep(Duration::from_millis(10));
            });
            ch.recv();
        },
        env: &[],
        check: |code, err| {
            if code != Some(2) {
                return Err(format!("exit status {code:?}, expected 2"));
            }
            if !err.contains(&format!("fatal error: {}", runtime::DEADLOCK_MESSAGE)) {
                return Err("no fatal error line".into());
            }
            Ok(())
        },
    },
    Case {
        name: "timer_pending_is_not_a_deadlock",
        run: || {
            let v = runtime::block_on(|| {
                let ch = chan::make::<i32>(0);
                let c2 = ch.clone();
                go!({
                    runtime::sleep(Duration::from_millis(300));
                    c2.send(4);
                });
                ch.recv()
            });
            assert_eq!(v, Some(4));
        },
        env: &[],
        check: finished,
    },
    Case {
        name: "plain_thread_that_will_send_is_not_a_deadlock",
        run: || {
            let ch = chan::make::<i32>(0);
            let c2 = ch.clone();
            let t = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(300));
                c2.send(5);
            });
            let v = runtime::block_on(move || ch.recv());
            assert_eq!(v, Some(5));
            t.join().unwrap();
        },
        env: &[],
        check: finished,
    },
    Case {
        name: "a_plain_thread_that_sends_and_exits_is_not_a_deadlock",
        // The main thread parks in goro (registered), a goroutine waits for a value from a
        // plain thread, which sends and exits at once: the goroutine is queued, not asleep,
        // even when the check runs after the thread is gone. No timer is pending meanwhile.
        run: || {
            for i in 0..20 {
                let to_g = chan::make::<i32>(0);
                let to_main = chan::make::<i32>(0);
                let (rx, tx) = (to_g.clone(), to_main.clone());
                go!({
                    let v = rx.recv().unwrap();
                    tx.send(v + 1);
                });
                let t = std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(15));
                    to_g.send(i);
                });
                assert_eq!(to_main.recv(), Some(i + 1));
                t.join().unwrap();
            }
        },
        env: &[],
        check: finished,
    },
    Case {
        name: "hogretake_off_leaves_a_hog_its_p",
        // GORO_DEBUG=hogretake=0: on one P, a sleeper behind a 300 ms CPU loop waits for it.
        run: || {
            let late = runtime::block_on(|| {
                let hog = runtime::spawn(|| {
                    let t = Instant::now();
                    while t.elapsed() < Duration::from_millis(300) {
                        std::hint::spin_loop();
                    }
                });
                let t = Instant::now();
                runtime::sleep(Duration::from_millis(1));
                let late = t.elapsed();
                hog.join().unwrap();
                late
            });
            assert!(late >= Duration::from_millis(250), "woke after {late:?}");
        },
        env: &[("GORO_DEBUG", "hogretake=0"), ("GOMAXPROCS", "1")],
        check: finished,
    },
    Case {
        name: "thread_limit",
        // Go's debug.SetMaxThreads default: the 10,001st M ends the process with a message
        // (and the goroutine dump) instead of exhausting the machine.
        run: || {
            runtime::block_on(|| {
                for _ in 0..10_100 {
                    go!({
                        runtime::syscall(|| std::thread::sleep(Duration::from_secs(10)));
                    });
                }
                runtime::sleep(Duration::from_secs(20));
            });
        },
        env: &[("GOMAXPROCS", "2")],
        check: |code, err| {
            if code == Some(0) {
                return Err("exited 0, expected an abort at the thread limit".into());
            }
            if !err.contains("goro: program exceeds 10000-thread limit") {
                return Err("no thread-limit message".into());
            }
            Ok(())
        },
    },
    Case {
        // Go: `func main() { var wg sync.WaitGroup; wg.Add(1); wg.Wait() }` exits 2 with the
        // deadlock message. goro did too only after a first spawn had started the runtime.
        name: "before_any_spawn_waitgroup",
        run: || {
            let wg = goro::sync::WaitGroup::new();
            wg.add(1);
            wg.wait();
        },
        env: &[],
        check: exits_deadlocked,
    },
    Case {
        name: "before_any_spawn_lone_receive",
        run: || {
            let ch = chan::make::<i32>(0);
            ch.recv();
        },
        env: &[],
        check: exits_deadlocked,
    },
    Case {
        name: "before_any_spawn_one_case_select",
        run: || {
            let ch = chan::make::<i32>(0);
            // A one-case select on a channel nobody else holds.
            goro::select! {
                _ = <-ch => {},
            }
        },
        env: &[],
        check: exits_deadlocked,
    },
    Case {
        name: "before_any_spawn_nil_receive",
        run: || {
            chan::Chan::<i32>::nil().recv();
        },
        env: &[],
        check: exits_deadlocked,
    },
    Case {
        name: "before_any_spawn_double_lock",
        run: || {
            let m = Mutex::new(0);
            let _a = m.lock();
            let _b = m.lock();
        },
        env: &[],
        check: exits_deadlocked,
    },
    Case {
        // A `go!` goroutine's panic is reported by the panic hook under the M's thread name;
        // the runtime adds which goroutine it was (id and spawn site), as Go's trace does.
        name: "go_panic_names_the_goroutine",
        run: || {
            runtime::block_on(|| {
                go!(move || panic!("boom from a goroutine"));
                // Until it has ended: its report (the hook's message and backtrace, then
                // the runtime's line) is written before it exits, however slowly.
                runtime::sleep(Duration::from_millis(1));
                while runtime::num_goroutine() > 1 {
                    runtime::sleep(Duration::from_millis(5));
                }
            });
        },
        env: &[],
        check: |code, err| {
            finished(code, err)?;
            if !err.contains("boom from a goroutine") {
                return Err("the panic message is missing".into());
            }
            let named = err.lines().any(|l| {
                l.starts_with("goro: goroutine ")
                    && l.contains("(spawned at ")
                    && l.contains("deadlock.rs:")
                    && l.contains("panicked")
            });
            if !named {
                return Err("no line naming the goroutine and its spawn site".into());
            }
            Ok(())
        },
    },
    Case {
        // sysmon keeps working when stderr fails: its schedtrace lines go to /dev/full
        // (writes fail with ENOSPC), and the deadlock must still be found. With eprintln!,
        // the first failed write panicked sysmon's thread, and the program hung.
        name: "stderr_full_does_not_kill_sysmon",
        run: || {
            use std::os::fd::AsRawFd;
            let full = std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/full")
                .expect("/dev/full");
            // SAFETY: dup2 onto fd 2 (stderr) from a valid fd.
            assert!(unsafe { libc::dup2(full.as_raw_fd(), 2) } >= 0);
            runtime::block_on(|| {
                // Long enough for several schedtrace lines before the deadlock.
                runtime::sleep(Duration::from_millis(60));
                let ch = chan::make::<i32>(0);
                ch.recv();
            });
        },
        env: &[("GORO_DEBUG", "schedtrace=10")],
        check: |code, _err| match code {
            // The deadlock panic in block_on (its message is lost to /dev/full, as it is
            // for any panic then), or Go's exit status 2.
            Some(101) | Some(2) => Ok(()),
            c => Err(format!(
                "exit status {c:?}, expected the deadlock's 101 or 2"
            )),
        },
    },
    Case {
        name: "schedtrace",
        run: || {
            runtime::block_on(|| {
                let t = Instant::now();
                while t.elapsed() < Duration::from_millis(120) {
                    let hs: Vec<_> = (0..8).map(|i| runtime::spawn(move || i * 2)).collect();
                    for h in hs {
                        h.join().unwrap();
                    }
                    runtime::sleep(Duration::from_millis(1));
                }
            });
        },
        env: &[("GORO_DEBUG", "schedtrace=20"), ("GOMAXPROCS", "2")],
        check: |code, err| {
            finished(code, err)?;
            let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("SCHED ")).collect();
            if lines.len() < 3 {
                return Err(format!("{} SCHED lines, expected at least 3", lines.len()));
            }
            let mut last_ms = 0;
            for l in &lines {
                let t = parse_schedtrace(l).map_err(|e| format!("{e}: {l:?}"))?;
                if t.ms < last_ms {
                    return Err(format!("time went backwards: {l:?}"));
                }
                last_ms = t.ms;
                if t.gomaxprocs != 2 || t.local.len() != 2 {
                    return Err(format!("expected 2 Ps: {l:?}"));
                }
                if t.idleprocs > t.gomaxprocs || t.threads == 0 {
                    return Err(format!("inconsistent: {l:?}"));
                }
            }
            Ok(())
        },
    },
    Case {
        name: "dumponexit",
        run: || {
            runtime::block_on(|| {
                // A goroutine still parked when the process exits shows up in the dump.
                let ch = chan::make::<i32>(0);
                let c2 = ch.clone();
                go!({
                    c2.recv();
                });
                runtime::sleep(Duration::from_millis(20));
                std::mem::forget(ch);
            });
        },
        env: &[("GORO_DEBUG", "dumponexit=1")],
        check: |code, err| {
            finished(code, err)?;
            if !err.contains("[chan receive") || !err.contains("spawned at tests/deadlock.rs") {
                return Err("no dump of the parked goroutine at exit".into());
            }
            // With its stack: the goroutine's closure, in this file.
            if !err
                .lines()
                .any(|l| l.starts_with("        ") && l.contains("tests/deadlock.rs:"))
            {
                return Err("the dump at exit shows no stack".into());
            }
            Ok(())
        },
    },
];

struct Trace {
    ms: u64,
    gomaxprocs: u64,
    idleprocs: u64,
    threads: u64,
    local: Vec<u64>,
}

/// Parses `SCHED 1004ms: gomaxprocs=2 idleprocs=0 threads=5 spinningthreads=0 idlethreads=1
/// runqueue=0 [4 1]`.
fn parse_schedtrace(line: &str) -> Result<Trace, String> {
    let rest = line.strip_prefix("SCHED ").ok_or("no SCHED prefix")?;
    let (ms, rest) = rest.split_once("ms: ").ok_or("no time")?;
    let ms = ms.parse().map_err(|_| "bad time")?;
    let (fields, local) = rest.split_once(" [").ok_or("no local queues")?;
    let local = local.strip_suffix(']').ok_or("unterminated local queues")?;
    let local = local
        .split(' ')
        .map(|n| n.parse::<u64>().map_err(|_| "bad local queue length"))
        .collect::<Result<Vec<_>, _>>()?;
    let get = |key: &str| -> Result<u64, String> {
        fields
            .split(' ')
            .find_map(|kv| kv.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
            .ok_or(format!("no {key}"))?
            .parse()
            .map_err(|_| format!("bad {key}"))
    };
    for key in ["spinningthreads", "idlethreads", "runqueue"] {
        get(key)?;
    }
    Ok(Trace {
        ms,
        gomaxprocs: get("gomaxprocs")?,
        idleprocs: get("idleprocs")?,
        threads: get("threads")?,
        local,
    })
}

fn run_child(case: &Case) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut cmd = Command::new(exe);
    cmd.env("GORO_CASE", case.name)
        .env_remove("GORO_DEBUG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in case.env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().map_err(|e| e.to_string())?;
    let mut stderr = child.stderr.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().map_err(|e| e.to_string())? {
            break s;
        }
        if start.elapsed() > CHILD_DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            let err = reader.join().unwrap_or_default();
            return Err(format!("hung for {CHILD_DEADLINE:?}; stderr:\n{err}"));
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let err = reader.join().unwrap_or_default();
    (case.check)(status.code(), &err).map_err(|e| format!("{e}; stderr:\n{err}"))
}

fn main() {
    if let Ok(name) = std::env::var("GORO_CASE") {
        let case = CASES
            .iter()
            .find(|c| c.name == name)
            .expect("unknown GORO_CASE");
        (case.run)();
        return;
    }
    // `cargo test -- <filter>`: run the cases whose name contains a non-flag argument.
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let selected: Vec<&Case> = CASES
        .iter()
        .filter(|c| filters.is_empty() || filters.iter().any(|f| c.name.contains(f.as_str())))
        .collect();
    println!("\nrunning {} tests", selected.len());
    let mut failed = Vec::new();
    for case in selected {
        let t = Instant::now();
        match run_child(case) {
            Ok(()) => println!("test {} ... ok ({:.0?})", case.name, t.elapsed()),
            Err(e) => {
                println!("test {} ... FAILED", case.name);
                failed.push((case.name, e));
            }
        }
    }
    for (name, e) in &failed {
        println!("\n---- {name} ----\n{e}");
    }
    if failed.is_empty() {
        println!("\ntest result: ok");
    } else {
        println!("\ntest result: FAILED. {} failed", failed.len());
        std::process::exit(1);
    }
}
