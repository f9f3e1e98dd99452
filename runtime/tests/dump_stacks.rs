//! The goroutine dump's call stacks: a parked goroutine's frames, named with file and line;
//! no stack for one running elsewhere; nothing breaks while goroutines park and resume
//! under repeated dumps.

mod common;
use common::{wait_until, watchdog};
use runtime::{WaitReason, Waiter};
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the parked goroutine of the first test shares with it.
#[derive(Default)]
struct Parked {
    waiter: Mutex<Option<Waiter>>,
    parked: AtomicBool,
    go_on: AtomicBool,
}

/// The line of `f`'s park call and of `g`'s call of `f`, recorded as they run.
static F_LINE: AtomicU32 = AtomicU32::new(0);
static G_LINE: AtomicU32 = AtomicU32::new(0);

#[inline(never)]
fn f(s: &Parked) -> u64 {
    *s.waiter.lock().unwrap() = Some(Waiter::current());
    s.parked.store(true, Ordering::SeqCst);
    let mut parks = 0;
    while !s.go_on.load(Ordering::SeqCst) {
        F_LINE.store(line!() + 1, Ordering::Relaxed);
        runtime::park(WaitReason::Park);
        parks += 1;
    }
    black_box(parks)
}

#[inline(never)]
fn g(s: &Parked) -> u64 {
    G_LINE.store(line!() + 1, Ordering::Relaxed);
    let n = f(s);
    // Not a tail call: g's frame stays below f's.
    black_box(n) + 1
}

/// The part of `dump` about the goroutine spawned at `site` (`"file.rs:LINE:"`).
fn block_of<'a>(dump: &'a str, site: &str) -> Option<&'a str> {
    dump.split("\ngoroutine ").find(|b| b.contains(site))
}

/// The index of the first frame line of `lines` from `from` on that names the function
/// `what`: its path in a debug build (`dump_stacks::f`), its bare name in a release build
/// with line tables only (`f`).
fn find(lines: &[&str], from: usize, what: &str) -> Option<usize> {
    lines[from..]
        .iter()
        .position(|l| {
            l.strip_prefix("    ").is_some_and(|name| {
                !name.starts_with(' ') && (name == what || name.ends_with(&format!("::{what}")))
            })
        })
        .map(|i| i + from)
}

#[test]
fn a_parked_goroutine_shows_its_callers_in_order_with_file_and_line() {
    watchdog(60, || {
        let s = Arc::new(Parked::default());
        let s2 = s.clone();
        let site = format!("dump_stacks.rs:{}:", line!() + 1);
        let h = runtime::spawn(move || g(&s2));
        wait_until(|| s.parked.load(Ordering::SeqCst));
        // Parked for good (not between its switch and the park's commit).
        let w = s.waiter.lock().unwrap().clone().unwrap();
        wait_until(|| runtime::__test::is_parked(&w, WaitReason::Park));
        let dump = runtime::stack_dump();
        let block = block_of(&dump, &site).unwrap_or_else(|| panic!("no goroutine:\n{dump}"));
        let lines: Vec<&str> = block.lines().collect();
        let (fl, gl) = (
            F_LINE.load(Ordering::Relaxed),
            G_LINE.load(Ordering::Relaxed),
        );
        let at_f = find(&lines, 0, "f").unwrap_or_else(|| panic!("{block}"));
        assert!(
            lines[at_f + 1]
                .trim_start()
                .ends_with(&format!("dump_stacks.rs:{fl}")),
            "f's line {fl}:\n{block}"
        );
        let at_g = find(&lines, at_f, "g").unwrap_or_else(|| panic!("{block}"));
        assert!(
            lines[at_g + 1]
                .trim_start()
                .ends_with(&format!("dump_stacks.rs:{gl}")),
            "g's line {gl}:\n{block}"
        );
        assert!(
            lines[at_g + 1].contains("runtime/tests/dump_stacks.rs"),
            "{block}"
        );
        // The park call shows above f (as Go's runtime.gopark); the park protocol's and the
        // switch's frames do not, nor the goroutine's entry below its closure.
        assert_eq!(find(&lines, 0, "park"), Some(2), "{block}");
        assert!(lines[3].contains("runtime/src/park.rs:"), "{block}");
        assert!(
            !block.contains("park_direct") && !block.contains("switch_to_g0"),
            "{block}"
        );
        assert!(
            !block.contains("g_entry") && !block.contains("catch_unwind"),
            "{block}"
        );
        s.go_on.store(true, Ordering::SeqCst);
        s.waiter.lock().unwrap().take().unwrap().unpark();
        assert!(h.join().unwrap() >= 2);
    });
}

#[inline(never)]
fn sleeper() {
    runtime::sleep(Duration::from_secs(3600));
    black_box(());
}

#[test]
fn a_sleeping_goroutine_shows_the_sleep_call_and_its_function() {
    watchdog(60, || {
        let site = format!("dump_stacks.rs:{}:", line!() + 1);
        runtime::go(sleeper);
        let mut dump = String::new();
        wait_until(|| {
            dump = runtime::stack_dump();
            block_of(&dump, &site).is_some_and(|b| b.contains("[sleep"))
        });
        let dump = runtime::stack_dump();
        let block = block_of(&dump, &site).unwrap();
        let lines: Vec<&str> = block.lines().collect();
        let at = find(&lines, 0, "sleep").unwrap_or_else(|| panic!("{block}"));
        let at_s = find(&lines, at, "sleeper").unwrap_or_else(|| panic!("{block}"));
        assert!(lines[at_s + 1].contains("dump_stacks.rs:"), "{block}");
    });
}

#[inline(never)]
fn dumping_caller() -> String {
    let d = runtime::stack_dump();
    black_box(d)
}

#[test]
fn the_dumping_goroutine_shows_its_own_stack() {
    watchdog(60, || {
        let site = format!("dump_stacks.rs:{}:", line!() + 1);
        let dump = runtime::block_on(dumping_caller);
        let block = block_of(&dump, &site).unwrap_or_else(|| panic!("{dump}"));
        assert!(block.contains("[running on M"), "{block}");
        let lines: Vec<&str> = block.lines().collect();
        let at = find(&lines, 0, "stack_dump").unwrap_or_else(|| panic!("{dump}"));
        assert!(find(&lines, at, "dumping_caller").is_some(), "{block}");
    });
}

#[test]
fn a_goroutine_running_elsewhere_is_shown_without_a_stack() {
    watchdog(60, || {
        let started = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let (st, sp) = (started.clone(), stop.clone());
        let site = format!("dump_stacks.rs:{}:", line!() + 1);
        let h = runtime::spawn(move || {
            st.store(true, Ordering::SeqCst);
            while !sp.load(Ordering::SeqCst) {
                std::hint::spin_loop();
            }
        });
        wait_until(|| started.load(Ordering::SeqCst));
        let dump = runtime::stack_dump();
        stop.store(true, Ordering::SeqCst);
        h.join().unwrap();
        let block = block_of(&dump, &site).unwrap_or_else(|| panic!("{dump}"));
        assert!(block.contains("[running on M"), "{block}");
        assert!(block.contains("    (running)"), "{block}");
        assert!(
            !block.contains("dump_stacks.rs:") || block.lines().count() <= 3,
            "{block}"
        );
    });
}

/// One ping-pong pair: whose turn it is, and both sides' waiters.
struct Pair {
    turn: AtomicUsize,
    waiters: [Mutex<Option<Waiter>>; 2],
}

#[test]
fn dumps_taken_while_goroutines_ping_pong_break_nothing() {
    const PAIRS: usize = 100;
    const DUMPS: usize = 200;
    watchdog(120, || {
        let stop = Arc::new(AtomicBool::new(false));
        let passes = Arc::new(AtomicU64::new(0));
        let pairs: Vec<Arc<Pair>> = (0..PAIRS)
            .map(|_| {
                Arc::new(Pair {
                    turn: AtomicUsize::new(0),
                    waiters: [Mutex::new(None), Mutex::new(None)],
                })
            })
            .collect();
        let mut hs = Vec::new();
        for pair in &pairs {
            for side in 0..2 {
                let (pair, stop, passes) = (pair.clone(), stop.clone(), passes.clone());
                hs.push(runtime::spawn(move || {
                    *pair.waiters[side].lock().unwrap() = Some(Waiter::current());
                    loop {
                        while pair.turn.load(Ordering::SeqCst) != side {
                            if stop.load(Ordering::SeqCst) {
                                return;
                            }
                            runtime::park(WaitReason::ChanReceive);
                        }
                        passes.fetch_add(1, Ordering::Relaxed);
                        pair.turn.store(1 - side, Ordering::SeqCst);
                        if let Some(w) = &*pair.waiters[1 - side].lock().unwrap() {
                            w.unpark();
                        }
                    }
                }));
            }
        }
        // Dumps from a plain thread and from a goroutine, concurrently (the goroutine keeps
        // its P: a gosched would queue it behind all the pairs).
        let from_goroutine = runtime::spawn(|| {
            let mut frames = 0;
            for _ in 0..DUMPS / 2 {
                frames += runtime::stack_dump().matches("\n        ").count();
            }
            frames
        });
        let mut stacks = 0;
        for _ in 0..DUMPS / 2 {
            let d = runtime::stack_dump();
            assert!(d.contains("\ngoroutine "));
            stacks += d.matches("runtime/src/park.rs:").count();
        }
        let from_g = from_goroutine.join().unwrap();
        let before_stop = passes.load(Ordering::Relaxed);
        stop.store(true, Ordering::SeqCst);
        for pair in &pairs {
            for w in pair.waiters.iter() {
                if let Some(w) = &*w.lock().unwrap() {
                    w.unpark();
                }
            }
        }
        for h in hs {
            h.join().unwrap();
        }
        assert!(before_stop > 0, "the pairs ran");
        assert!(stacks > 0 && from_g > 0, "some parked stacks were shown");
    });
}

#[test]
fn a_dump_of_a_thousand_parked_goroutines_is_quick() {
    const N: usize = 1000;
    watchdog(120, || {
        let go_on = Arc::new(AtomicBool::new(false));
        let waiters = Arc::new(Mutex::new(Vec::new()));
        let parked = Arc::new(AtomicUsize::new(0));
        let mut hs = Vec::new();
        for _ in 0..N {
            let (go_on, waiters, parked) = (go_on.clone(), waiters.clone(), parked.clone());
            hs.push(runtime::spawn(move || {
                waiters.lock().unwrap().push(Waiter::current());
                parked.fetch_add(1, Ordering::SeqCst);
                while !go_on.load(Ordering::SeqCst) {
                    runtime::park(WaitReason::Park);
                }
            }));
        }
        wait_until(|| parked.load(Ordering::SeqCst) == N);
        let ws = waiters.lock().unwrap().clone();
        wait_until(|| {
            ws.iter()
                .all(|w| runtime::__test::is_parked(w, WaitReason::Park))
        });
        // The first dump loads the debug info; the figure is the next ones'.
        let first = Instant::now();
        let _ = runtime::stack_dump();
        let first = first.elapsed();
        let t = Instant::now();
        let mut shown = 0;
        for _ in 0..5 {
            shown = runtime::stack_dump()
                .matches("runtime/src/park.rs:")
                .count();
        }
        let each = t.elapsed() / 5;
        eprintln!(
            "stack_dump with {N} parked goroutines: {each:?} each ({shown} stacks shown; \
             the first, loading the debug info, {first:?})"
        );
        assert!(shown >= N, "{shown} of {N} stacks");
        go_on.store(true, Ordering::SeqCst);
        for w in waiters.lock().unwrap().drain(..) {
            w.unpark();
        }
        for h in hs {
            h.join().unwrap();
        }
    });
}
