//! What `sync`'s locks ask of the scheduler (Go's `sync_runtime_canSpin`, `sync_runtime_doSpin`
//! and `procPin` in proc.go): whether spinning for a lock can pay off, a short busy wait, and
//! which P the caller runs on (for per-P caches).

use crate::m;
use crate::sched::{self, SCHED};
use std::sync::atomic::{AtomicU32, Ordering};

/// Spin rounds a lock may make before it queues, by default (Go's `active_spin`; see
/// `tune.rs` for its provenance and `GORO_DEBUG=activespin`).
pub const ACTIVE_SPIN: u32 = crate::tune::ACTIVE_SPIN;
/// How long one spin round lasts, by default. Go spins 30 `PAUSE`s a round
/// (`active_spin_cnt`), which is 0.1 us on CPUs with a 10-cycle `PAUSE` and 1.4 us on those
/// with a 140-cycle one; goro calibrates the count to this duration instead, so locks behave
/// alike on every CPU (see `tune.rs` for its provenance and `GORO_DEBUG=spinround`).
pub const SPIN_ROUND: std::time::Duration =
    std::time::Duration::from_nanos(crate::tune::SPIN_ROUND_NS);

/// Whether a lock waiter in spin round `iter` should spin rather than park.
///
/// Spinning pays only when the lock's holder may be running right now on another processor,
/// so it is refused after [`ACTIVE_SPIN`] rounds, on one CPU, and when no other P is running a
/// goroutine (every other P idle or only looking for work). A plain thread spins while there
/// are several CPUs.
///
/// Unlike Go, a goroutine spins even when its own P has other goroutines waiting to run: the
/// longest spin (4 rounds) is about 6 us, while parking and being woken costs a
/// switch, a wakeup and, usually, a cache-cold resume; on a contended lock with short critical
/// sections (`W9` in the benchmarks) spinning first is measurably faster.
///
/// ```
/// // Round 4 and later never spin.
/// assert!(!runtime::__sync::can_spin(runtime::__sync::ACTIVE_SPIN));
/// ```
pub fn can_spin(iter: u32) -> bool {
    if iter >= crate::tune::get().active_spin || ncpu() <= 1 {
        return false;
    }
    if m::current_p().is_none() {
        return true;
    }
    let procs = sched::gomaxprocs_now() as u32;
    let idle = SCHED.npidle.load(Ordering::Relaxed) + SCHED.nmspinning.load(Ordering::Relaxed);
    procs > idle + 1
}

/// One spin round: a busy wait of about [`SPIN_ROUND`] in `spin_loop` hints (Go's
/// `procyield`).
pub fn do_spin() {
    for _ in 0..spin_round_pauses() {
        std::hint::spin_loop();
    }
}

/// `spin_loop` hints per spin round, measured once per process.
fn spin_round_pauses() -> u32 {
    static PAUSES: AtomicU32 = AtomicU32::new(0);
    let n = PAUSES.load(Ordering::Relaxed);
    if n != 0 {
        return n;
    }
    const PROBE: u32 = 2_000;
    let t = std::time::Instant::now();
    for _ in 0..PROBE {
        std::hint::spin_loop();
    }
    let per = (t.elapsed().as_nanos() as u64 / u64::from(PROBE)).max(1);
    // A probe slowed by preemption overestimates a hint's cost: never fewer than Go's 30.
    // A CPU whose hint is nearly free (a few hundred ps) is capped at 4,000 a round.
    let n = (crate::tune::get().spin_round_ns / per).clamp(30, 4_000) as u32;
    PAUSES.store(n, Ordering::Relaxed);
    n
}

/// The index of the P the calling goroutine runs on, below [`crate::MAX_PROCS`]; `None` on a
/// thread outside the runtime. Only a hint once the caller parks: a goroutine may resume on
/// another P after any park point.
///
/// ```
/// assert_eq!(runtime::__sync::current_proc(), None);
/// let i = runtime::block_on(runtime::__sync::current_proc).unwrap();
/// assert!(i < runtime::MAX_PROCS);
/// ```
#[inline]
pub fn current_proc() -> Option<usize> {
    m::current_p_id()
}

fn ncpu() -> usize {
    static NCPU: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *NCPU.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}
