//! `chan::signal` (Go's `os/signal`): signals this process sends itself reach channels; stop,
//! ignore and reset change what a signal does, checked in child processes where the default
//! action (death by the signal) is the expected outcome.

#[path = "../../runtime/tests/common/mod.rs"]
mod common;
use chan::signal::{self, SIGINT, SIGUSR1, SIGUSR2, SIGWINCH, Signal};
use chan::{RecvTimeoutError, TryRecvError, context};
use common::{spawn_watched, wait_until, watchdog};
use std::os::unix::process::ExitStatusExt;
use std::process::Command;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// Signal dispositions are process-wide: the in-process tests take turns.
fn serial() -> MutexGuard<'static, ()> {
    static M: Mutex<()> = Mutex::new(());
    M.lock().unwrap_or_else(|e| e.into_inner())
}

const WAIT: Duration = Duration::from_secs(10);

#[test]
fn notify_delivers_a_signal_the_process_sends_itself() {
    let _s = serial();
    watchdog(30, || {
        let c = chan::make::<Signal>(1);
        signal::notify(&c, &[SIGUSR1]);
        SIGUSR1.raise().unwrap();
        let got = c.recv_timeout(WAIT).unwrap().unwrap();
        assert_eq!(got, SIGUSR1);
        assert_eq!(got.to_string(), "user defined signal 1");
        assert_eq!(SIGINT.to_string(), "interrupt");
        signal::stop(&c);
    });
}

#[test]
fn a_goroutine_blocked_on_the_channel_is_woken() {
    let _s = serial();
    watchdog(30, || {
        runtime::block_on(|| {
            let c = chan::make::<Signal>(1);
            signal::notify(c.sender(), &[SIGUSR2]);
            let rx = c.receiver();
            let (h, blocked) = spawn_watched(move || rx.recv());
            // The goroutine blocks first, then the signal comes.
            blocked.wait_parked(runtime::WaitReason::ChanReceive);
            SIGUSR2.raise().unwrap();
            assert_eq!(h.join().unwrap(), Some(SIGUSR2));
            signal::stop(&c);
        });
    });
}

#[test]
fn every_channel_gets_a_copy_until_it_is_stopped() {
    let _s = serial();
    watchdog(30, || {
        let a = chan::make::<Signal>(1);
        let b = chan::make::<Signal>(1);
        signal::notify(&a, &[SIGUSR1]);
        signal::notify(&b, &[SIGUSR1]);
        // A second notify for the same channel adds signals.
        signal::notify(&b, &[SIGUSR2]);
        SIGUSR1.raise().unwrap();
        assert_eq!(a.recv_timeout(WAIT).unwrap(), Some(SIGUSR1));
        assert_eq!(b.recv_timeout(WAIT).unwrap(), Some(SIGUSR1));
        signal::stop(&a);
        SIGUSR1.raise().unwrap();
        assert_eq!(b.recv_timeout(WAIT).unwrap(), Some(SIGUSR1));
        SIGUSR2.raise().unwrap();
        assert_eq!(b.recv_timeout(WAIT).unwrap(), Some(SIGUSR2));
        // `a` was stopped before the second signal: it never sees it.
        assert_eq!(a.try_recv(), Err(TryRecvError::Empty));
        signal::stop(&b);
    });
}

#[test]
fn a_full_channel_misses_signals_instead_of_blocking_delivery() {
    let _s = serial();
    watchdog(30, || {
        let full = chan::make::<Signal>(1);
        let other = chan::make::<Signal>(4);
        signal::notify(&full, &[SIGUSR1]);
        signal::notify(&other, &[SIGUSR1]);
        SIGUSR1.raise().unwrap();
        wait_until(|| full.len() == 1 && other.len() == 1);
        SIGUSR1.raise().unwrap();
        // The second signal reaches `other`, and skips the full channel.
        wait_until(|| other.len() == 2);
        assert_eq!(full.len(), 1);
        assert_eq!(full.recv(), Some(SIGUSR1));
        assert_eq!(full.try_recv(), Err(TryRecvError::Empty));
        signal::stop(&full);
        signal::stop(&other);
    });
}

#[test]
fn a_signal_that_arrives_while_ignored_is_never_delivered() {
    let _s = serial();
    watchdog(30, || {
        signal::ignore(&[SIGUSR2]);
        assert!(signal::ignored(SIGUSR2));
        // Discarded by the kernel: the process lives. Sent to this thread, which does not
        // block it: a process-directed signal finds the main thread blocking every signal
        // now and then (libtest starting a test thread), and the kernel then queues even an
        // ignored one, to be delivered once `notify` below installs a handler.
        // SAFETY: pthread_kill to our own live thread.
        let r = unsafe { libc::pthread_kill(libc::pthread_self(), SIGUSR2.number()) };
        assert_eq!(r, 0);
        let c = chan::make::<Signal>(1);
        signal::notify(&c, &[SIGUSR2]); // undoes the ignore, for later signals only
        assert!(!signal::ignored(SIGUSR2));
        assert_eq!(
            c.recv_timeout(Duration::from_millis(200)),
            Err(RecvTimeoutError)
        );
        SIGUSR2.raise().unwrap();
        assert_eq!(c.recv_timeout(WAIT).unwrap(), Some(SIGUSR2));
        signal::stop(&c);
    });
}

#[test]
fn notify_with_no_signals_relays_every_catchable_one() {
    let _s = serial();
    watchdog(30, || {
        let c = chan::make::<Signal>(8);
        signal::notify(&c, &[]);
        // Every signal comes here now, others too (a SIGCHLD, say): wait for ours.
        let wait_for = |want: Signal| loop {
            if c.recv_timeout(WAIT).unwrap() == Some(want) {
                break;
            }
        };
        SIGWINCH.raise().unwrap();
        wait_for(SIGWINCH);
        SIGUSR1.raise().unwrap();
        wait_for(SIGUSR1);
        signal::stop(&c);
    });
}

#[test]
fn notify_context_is_cancelled_by_the_signal_or_its_parent() {
    let _s = serial();
    watchdog(30, || {
        let (ctx, stop) = signal::notify_context(&context::background(), &[SIGUSR1]);
        assert_eq!(ctx.err(), None);
        SIGUSR1.raise().unwrap();
        assert_eq!(ctx.done().recv(), None);
        assert_eq!(ctx.err(), Some(context::ContextError::Canceled));
        let cause = context::cause(&ctx).unwrap();
        assert_eq!(
            cause
                .downcast_ref::<signal::SignalReceived>()
                .unwrap()
                .signal,
            SIGUSR1
        );
        assert_eq!(cause.to_string(), "user defined signal 1 signal received");
        stop.stop();
        stop.stop();
        assert_eq!(context::cause(&ctx).unwrap().to_string(), cause.to_string());

        let (parent, cancel) = context::with_cancel(&context::background());
        let (ctx, stop) = signal::notify_context(&parent, &[SIGUSR1]);
        cancel.cancel();
        assert_eq!(ctx.done().recv(), None);
        assert_eq!(ctx.err(), Some(context::ContextError::Canceled));
        assert!(context::cause(&ctx).unwrap() == context::ContextError::Canceled);
        stop.stop();
        // Stopped before any signal: the cause is plain Canceled.
        let (ctx, stop) = signal::notify_context(&context::background(), &[SIGUSR1]);
        stop.stop();
        assert!(context::cause(&ctx).unwrap() == context::ContextError::Canceled);
    });
}

// ---- child processes -----------------------------------------------------------------------

/// Runs this test binary's `child` test with `scenario`, returning its output. The child
/// starts with the signals it tests at their default action, whatever this process inherited
/// (a test run in the background of a non-interactive shell starts with SIGINT ignored).
fn run_child(scenario: &str) -> std::process::Output {
    use std::os::unix::process::CommandExt as _;
    // Serial with the in-process tests: one of them subscribes to every signal, SIGCHLD too.
    let _s = serial();
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["child", "--exact", "--nocapture", "--test-threads=1"])
        .env("GORO_SIGNAL_CHILD", scenario);
    // SAFETY: between fork and exec the closure only calls signal(2), which is
    // async-signal-safe, and allocates nothing.
    unsafe {
        cmd.pre_exec(|| {
            for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGUSR1, libc::SIGUSR2] {
                libc::signal(sig, libc::SIG_DFL);
            }
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    eprintln!(
        "child {scenario}: {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The child side: does what the scenario says; some scenarios end by dying of a signal.
#[test]
fn child() {
    let Ok(scenario) = std::env::var("GORO_SIGNAL_CHILD") else {
        return; // run as a normal test: nothing to do
    };
    let say = |s: &str| {
        use std::io::Write as _;
        let mut o = std::io::stdout().lock();
        let _ = writeln!(o, "{s}");
        let _ = o.flush();
    };
    let c = chan::make::<Signal>(1);
    match scenario.as_str() {
        "reset" => {
            signal::notify(&c, &[SIGUSR1]);
            SIGUSR1.raise().unwrap();
            assert_eq!(c.recv_timeout(WAIT).unwrap(), Some(SIGUSR1));
            say("delivered");
            signal::reset(&[SIGUSR1]);
            SIGUSR1.raise().unwrap(); // the default action: death
        }
        "stop" => {
            signal::notify(&c, &[SIGINT]);
            signal::stop(&c);
            SIGINT.raise().unwrap();
        }
        "notify_context" => {
            let (ctx, stop) = signal::notify_context(&context::background(), &[SIGINT]);
            SIGINT.raise().unwrap();
            assert_eq!(ctx.done().recv(), None);
            say("cancelled");
            SIGINT.raise().unwrap(); // swallowed until stop, as in Go
            std::thread::sleep(Duration::from_millis(100));
            say("survived a second interrupt");
            stop.stop();
            SIGINT.raise().unwrap();
        }
        "ignore" => {
            signal::ignore(&[SIGUSR1]);
            SIGUSR1.raise().unwrap();
            std::thread::sleep(Duration::from_millis(100));
            say("alive");
            signal::reset(&[SIGUSR1]);
            SIGUSR1.raise().unwrap();
        }
        other => panic!("unknown scenario {other}"),
    }
    std::thread::sleep(Duration::from_secs(5));
    say("still alive: the signal did not end the process");
}

#[test]
fn reset_gives_a_signal_its_default_action_back() {
    let out = run_child("reset");
    assert!(String::from_utf8_lossy(&out.stdout).contains("delivered"));
    assert_eq!(out.status.signal(), Some(SIGUSR1.number()));
}

#[test]
fn stopping_the_last_channel_restores_the_default_action() {
    let out = run_child("stop");
    assert_eq!(out.status.signal(), Some(SIGINT.number()));
}

#[test]
fn notify_context_swallows_signals_until_stopped() {
    let out = run_child("notify_context");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("cancelled"), "{stdout}");
    assert!(stdout.contains("survived a second interrupt"), "{stdout}");
    assert_eq!(out.status.signal(), Some(SIGINT.number()));
}

#[test]
fn an_ignored_signal_does_nothing_until_reset() {
    let out = run_child("ignore");
    assert!(String::from_utf8_lossy(&out.stdout).contains("alive"));
    assert_eq!(out.status.signal(), Some(SIGUSR1.number()));
}
