//! `#[goro::test]` (issue 20): test bodies run as goroutines, `gomaxprocs = N` holds for the
//! whole body and is restored after, other attributes pass through, and a hung test is
//! reported by the watchdog (run in a child process: this same binary, with
//! `GORO_MACROS_HANG` set, running one test) with the goroutine dump, instead of hanging.
//! `#[goro::main]` is tested by tests/macros_main.rs and every example; the compile errors of
//! both attributes by tests/macros_ui.rs.

use goro::sync::WaitGroup;
use goro::{chan, go, runtime, select};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[goro::test]
fn channels_and_goroutines() {
    // A pipeline of three goroutines, as a Go test would build it.
    let src = chan::make::<u32>(0);
    let sq = chan::make::<u32>(4);
    go!(src => {
        for i in 1..=10 {
            src.send(i);
        }
        src.close();
    });
    go!(src, sq => {
        for v in &src {
            sq.send(v * v);
        }
        sq.close();
    });
    let sum: u32 = sq.iter().sum();
    assert_eq!(sum, 385);
    // The body is a goroutine: parking in it parks a goroutine, not the test's thread.
    assert!(runtime::stack_dump().contains("[running"));
}

#[goro::test(timeout = "30s")]
fn select_and_wait_group() {
    let wg = WaitGroup::new();
    let done = chan::make::<()>(0);
    for _ in 0..8 {
        wg.go(|| runtime::sleep(Duration::from_millis(5)));
    }
    go!(wg, done => {
        wg.wait();
        done.close();
    });
    let got = select! {
        _ = <-done => true,
        timeout(Duration::from_secs(20)) => false,
    };
    assert!(got);
}

#[goro::test]
fn returns_a_result() -> Result<(), String> {
    let h = goro::spawn(|| "42".parse::<u32>().map_err(|e| e.to_string()));
    let n = h.join().map_err(|_| "panicked".to_string())??;
    if n != 42 {
        return Err(format!("got {n}"));
    }
    Ok(())
}

#[goro::test(gomaxprocs = 1)]
fn on_one_proc() {
    assert_eq!(runtime::gomaxprocs(0), 1);
    // Two goroutines take turns on the one P.
    let ping = chan::make::<u32>(0);
    let pong = chan::make::<u32>(0);
    go!(ping, pong => {
        while let Some(v) = ping.recv() {
            pong.send(v + 1);
        }
    });
    let mut v = 0;
    for _ in 0..100 {
        ping.send(v);
        v = pong.recv().unwrap();
        assert_eq!(runtime::gomaxprocs(0), 1, "another test changed gomaxprocs");
    }
    ping.close();
    assert_eq!(v, 100);
}

#[goro::test(gomaxprocs = 3, timeout = "30s")]
fn on_three_procs() {
    assert_eq!(runtime::gomaxprocs(0), 3);
    let wg = WaitGroup::new();
    for _ in 0..6 {
        wg.go(|| {
            for _ in 0..50 {
                assert_eq!(runtime::gomaxprocs(0), 3);
                runtime::gosched();
            }
        });
    }
    wg.wait();
}

/// A test without `gomaxprocs` never sees another test change it.
#[goro::test]
fn gomaxprocs_is_stable_in_other_tests() {
    let n = runtime::gomaxprocs(0);
    for _ in 0..20 {
        runtime::sleep(Duration::from_millis(2));
        assert_eq!(runtime::gomaxprocs(0), n);
    }
}

#[goro::test(gomaxprocs = 7)]
#[should_panic(expected = "boom on seven")]
fn should_panic_passes_through() {
    assert_eq!(runtime::gomaxprocs(0), 7);
    let h = goro::spawn(|| 1);
    assert_eq!(h.join().unwrap(), 1);
    panic!("boom on seven");
}

/// After a `gomaxprocs = N` test panics, the previous value is back (no other test here uses
/// 7, so a 7 now could only be left over).
#[test]
fn gomaxprocs_is_restored_after_a_panic() {
    let r = std::panic::catch_unwind(should_panic_passes_through);
    assert!(r.is_err(), "the test body should have panicked");
    assert_ne!(runtime::gomaxprocs(0), 7);
}

#[goro::test]
#[ignore = "shows that #[ignore] passes through: never runs"]
fn ignored() {
    panic!("an ignored test ran");
}

#[goro::test(timeout = "0")]
fn no_watchdog() {
    assert_eq!(goro::block_on(|| 2 + 2), 4); // block_on nests: it parks this goroutine
}

const HANG: &str = "GORO_MACROS_HANG";

/// Hangs (a receive nobody will match, another goroutine waiting on a WaitGroup) when run by
/// [`a_hung_test_is_reported_with_the_goroutine_dump`]; passes at once otherwise.
#[goro::test(timeout = "1s")]
fn hangs_when_asked() {
    if std::env::var_os(HANG).is_none() {
        return;
    }
    let wg = WaitGroup::new();
    wg.add(1);
    go!(wg => wg.wait());
    chan::make::<u32>(0).recv();
}

/// Like [`hangs_when_asked`], with the timeout from `GORO_TEST_TIMEOUT`.
#[goro::test]
fn hangs_when_asked_env_timeout() {
    if std::env::var_os(HANG).is_none() {
        return;
    }
    let mu = std::sync::Arc::new(goro::sync::Mutex::new(()));
    let _g = mu.lock();
    let _never = mu.lock(); // this goroutine holds it already
}

/// With no watchdog of its own (`timeout = "0"`), arms two with `runtime::watchdog` when run
/// by [`the_earliest_of_several_watchdogs_fires`]: a long one, then a short one.
#[goro::test(timeout = "0")]
fn watchdogs_when_asked() {
    if std::env::var_os(HANG).is_none() {
        return;
    }
    let _long = runtime::watchdog(Duration::from_secs(50), "the long one");
    let _short = runtime::watchdog(Duration::from_millis(300), "the short one");
    runtime::sleep(Duration::from_secs(40));
}

/// Runs one test of this binary in a child process with `env`; returns its exit status and
/// stderr. The child is killed (and this fails) if it outlives 60 s.
fn run_child(test: &str, env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(HANG, "1")
        .env_remove("GORO_TEST_TIMEOUT")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let start = Instant::now();
    let mut child = cmd.spawn().unwrap();
    let mut err = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut err, &mut s).map(|_| s)
    });
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{test}: the child was not stopped by its watchdog: killed after 60 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    (status.code(), reader.join().unwrap().unwrap())
}

#[test]
fn a_hung_test_is_reported_with_the_goroutine_dump() {
    let t0 = Instant::now();
    let (code, err) = run_child("hangs_when_asked", &[]);
    assert_eq!(code, Some(101), "stderr:\n{err}");
    assert!(t0.elapsed() >= Duration::from_secs(1));
    assert!(
        err.contains("goro: watchdog: `macros::hangs_when_asked` timed out after 1s"),
        "stderr:\n{err}"
    );
    assert!(
        err.contains("still running:\n    macros::hangs_when_asked ("),
        "stderr:\n{err}"
    );
    // The dump: the test's goroutine and the one it started, each with its wait reason.
    assert!(err.contains("[chan receive"), "stderr:\n{err}");
    assert!(err.contains("[sync.WaitGroup.Wait"), "stderr:\n{err}");
    assert!(
        err.contains("tests/macros.rs"),
        "spawn sites name the test file:\n{err}"
    );
}

#[test]
fn goro_test_timeout_sets_the_default() {
    let (code, err) = run_child(
        "hangs_when_asked_env_timeout",
        &[("GORO_TEST_TIMEOUT", "1500ms")],
    );
    assert_eq!(code, Some(101), "stderr:\n{err}");
    assert!(
        err.contains("`macros::hangs_when_asked_env_timeout` timed out after 1.5s"),
        "stderr:\n{err}"
    );
    assert!(err.contains("[sync.Mutex.Lock"), "stderr:\n{err}");

    // A bad value fails the test (it is not silently replaced by the default).
    let (code, err) = run_child(
        "hangs_when_asked_env_timeout",
        &[("GORO_TEST_TIMEOUT", "soon")],
    );
    assert_eq!(code, Some(101), "stderr:\n{err}");
    assert!(
        err.contains("GORO_TEST_TIMEOUT=\"soon\" is not a duration"),
        "stderr:\n{err}"
    );
}

#[test]
fn the_earliest_of_several_watchdogs_fires() {
    let t0 = Instant::now();
    let (code, err) = run_child("watchdogs_when_asked", &[]);
    assert_eq!(code, Some(101), "stderr:\n{err}");
    assert!(
        t0.elapsed() < Duration::from_secs(30),
        "the short deadline was missed"
    );
    assert!(
        err.contains("goro: watchdog: `the short one` timed out after 300ms\nstill running:"),
        "stderr:\n{err}"
    );
    assert!(err.contains("    the long one ("), "stderr:\n{err}");
    assert!(err.contains("[sleep"), "stderr:\n{err}");
    // A watchdog armed directly has no #[goro::test] hint.
    assert!(!err.contains("a #[goro::test]"), "stderr:\n{err}");
}
