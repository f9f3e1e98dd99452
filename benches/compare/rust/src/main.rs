//! goro's side of the anchor workloads (shared/bench/WORKLOADS.md): one line per workload,
//! `<ID> goro <metric>=<value>`, each checking its own result (exit 1 if wrong).
//!
//! Usage: `goro-compare [-w W1,W10] [-quick] [-procs N]`. Every workload runs in a fresh
//! child process (as the Go program does), so runtime state cached by one workload cannot
//! distort another.
//!
//! Until the chan and sync crates land, W1 signals completion with an atomic counter and a
//! parked waiter (what WaitGroup will do), and W10's tasks park on a per-task one-shot cell
//! (a flag and a waiter slot, about the size of a Go channel) instead of receiving on an
//! unbuffered channel. The other workloads print `n/a`.

use goro::runtime::{self, WaitReason, Waiter};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const QUICK_DIV: usize = 20;

struct Opts {
    quick: bool,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mut ids: Vec<String> = Vec::new();
    let mut quick = false;
    let mut procs = 2usize;
    let mut child = false;
    let mut i = 1;
    while i < args.len() {
        match args[i].as_str() {
            "-w" => {
                i += 1;
                ids = args[i].split(',').map(str::to_string).collect();
            }
            "-quick" => quick = true,
            "-procs" => {
                i += 1;
                procs = args[i].parse().expect("-procs N");
            }
            "-child" => child = true,
            other => panic!("unknown argument {other}"),
        }
        i += 1;
    }
    if ids.is_empty() {
        ids = (1..=13).map(|n| format!("W{n}")).collect();
    }
    if !child {
        // Parent: one fresh process per workload.
        let mut failed = false;
        for id in &ids {
            let mut cmd = Command::new(std::env::current_exe().unwrap());
            cmd.args(["-child", "-w", id, "-procs", &procs.to_string()]);
            if quick {
                cmd.arg("-quick");
            }
            let st = cmd.status().expect("spawn child");
            failed |= !st.success();
        }
        std::process::exit(i32::from(failed));
    }
    runtime::Builder::new()
        .gomaxprocs(procs)
        .init()
        .expect("runtime starts here");
    let o = Opts { quick };
    for id in ids {
        let r = match id.as_str() {
            "W1" => w1(&o),
            "W10" => w10(&o),
            _ => Ok("n/a needs goro channels (chan issue)".to_string()),
        };
        match r {
            Ok(metric) => println!("{id} goro {metric}"),
            Err(e) => {
                eprintln!("{id} goro FAILED: {e}");
                std::process::exit(1);
            }
        }
    }
}

fn size(o: &Opts, n: usize) -> usize {
    if o.quick { n / QUICK_DIV } else { n }
}

/// W1: spawn n tasks, each only signals completion; main waits for all.
fn w1(o: &Opts) -> Result<String, String> {
    let n = size(o, 1_000_000);
    let run = move |n: usize| -> Duration {
        runtime::block_on(move || {
            // Like Go's closure capturing &wg: each task gets plain references, so the only
            // shared-memory traffic per task is the completion signal itself (no Arc
            // refcounting). Leaked once per run: two small allocations.
            let left: &'static AtomicUsize = Box::leak(Box::new(AtomicUsize::new(n)));
            let main: &'static Waiter = Box::leak(Box::new(Waiter::current()));
            let t0 = Instant::now();
            for _ in 0..n {
                runtime::go(move || {
                    if left.fetch_sub(1, Ordering::AcqRel) == 1 {
                        main.unpark();
                    }
                });
            }
            while left.load(Ordering::Acquire) != 0 {
                runtime::park(WaitReason::WaitGroupWait);
            }
            t0.elapsed()
        })
    };
    run(n / QUICK_DIV); // warm-up, as the Go side does
    let d = run(n);
    let deadline = Instant::now() + Duration::from_secs(10);
    while runtime::num_goroutine() > 0 {
        if Instant::now() > deadline {
            return Err(format!("{} goroutines still alive", runtime::num_goroutine()));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(format!("ns_per_task={:.1}", d.as_nanos() as f64 / n as f64))
}

fn rss_bytes() -> i64 {
    let s = std::fs::read_to_string("/proc/self/statm").expect("statm");
    let pages: i64 = s.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

/// One task's wake-up cell: stands in for an unbuffered channel until goro's chan exists.
#[derive(Default)]
struct Cell1 {
    released: AtomicBool,
    waiter: Mutex<Option<Waiter>>,
}

/// W10: n tasks each blocked on its own wake-up cell; RSS growth per task, then release.
fn w10(o: &Opts) -> Result<String, String> {
    let n = size(o, 1_000_000);
    let rss0 = rss_bytes();
    let cells: Arc<Vec<Cell1>> = Arc::new((0..n).map(|_| Cell1::default()).collect());
    let parked = Arc::new(AtomicUsize::new(0));
    let exited = Arc::new(AtomicUsize::new(0));
    let t0 = Instant::now();
    // Spawned from a goroutine, as Go's main goroutine does.
    let (c2, p2, e2) = (cells.clone(), parked.clone(), exited.clone());
    runtime::block_on(move || {
        for i in 0..n {
            let (cells, parked, exited) = (c2.clone(), p2.clone(), e2.clone());
            runtime::go(move || {
                let c = &cells[i];
                *c.waiter.lock().unwrap() = Some(Waiter::current());
                parked.fetch_add(1, Ordering::Release);
                while !c.released.load(Ordering::Acquire) {
                    runtime::park(WaitReason::ChanReceive);
                }
                exited.fetch_add(1, Ordering::Release);
            });
        }
    });
    while parked.load(Ordering::Acquire) != n {
        std::thread::sleep(Duration::from_micros(100));
    }
    let spawn = t0.elapsed();
    std::thread::sleep(Duration::from_millis(10)); // the last ones reach their park
    let rss1 = rss_bytes();
    // One million guarded stacks must fit under vm.max_map_count (65530 by default).
    let maps = std::fs::read_to_string("/proc/self/maps").map_or(0, |m| m.lines().count());
    if exited.load(Ordering::Acquire) != 0 {
        return Err("tasks got past their wait before release".into());
    }
    for c in cells.iter() {
        c.released.store(true, Ordering::Release);
        if let Some(w) = c.waiter.lock().unwrap().take() {
            w.unpark();
        }
    }
    while exited.load(Ordering::Acquire) != n {
        std::thread::sleep(Duration::from_micros(100));
    }
    let per = (rss1 - rss0) as f64 / n as f64;
    Ok(format!(
        "bytes_per_task={per:.0} spawn_ms={:.1} mappings={maps}",
        spawn.as_secs_f64() * 1e3
    ))
}
