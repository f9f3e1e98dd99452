//! Loom models of the sync core: the [`crate::Mutex`] state word (normal and starvation mode,
//! `try_lock`), the runtime semaphore ([`crate::sema`]) on its own, the [`crate::WaitGroup`]
//! counter/waiter handoff and the [`crate::RwMutex`] reader/writer handshake, on the shared
//! reader count and through the per-P reader slots ([`crate::rslot`]).
//!
//! Under `--cfg loom`, [`crate::shim`] swaps in loom's atomics, a `loom::sync::Mutex` for the
//! semaphore table's bucket lock, and a per-thread `loom::sync::Notify` for the runtime's
//! `Waiter`/`park`; spinning is off, and the starvation clock is a switch
//! ([`loom_clock::set_starving`]) that makes every waiter woken once count as having waited
//! over 1 ms. Everything else is the production code, unchanged.
//!
//! Run with:
//! ```text
//! RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom \
//!     cargo test -p goro-sync --release --lib loom_
//! ```
//! `loom_sema_release_races_acquire` is explored exhaustively, the others under a preemption
//! bound (2 to 4, see each), so that the set finishes in well under a minute on two cores
//! (~30 s run one at a time, most of it `loom_mutex_three_threads`,
//! `loom_sema_two_acquirers_one_releaser` and `loom_waitgroup_two_waiters`);
//! `LOOM_MAX_PREEMPTIONS` overrides the bounds.
//!
//! Besides the explicit assertions, the models lean on loom's own checks:
//! - the data each lock guards is a `loom::cell::UnsafeCell` beside the lock (the locks' own
//!   `data` cells are `std`'s, which loom cannot see), touched only while the lock is held: two
//!   holders at once, or a holder that does not happen-after the previous holder's writes (an
//!   unlock that does not publish, a handoff that does not synchronise), is reported by loom as
//!   a data race;
//! - the same for data written before `WaitGroup::done` and read after `wait`, and before a
//!   semaphore `release` and after the matching `acquire`;
//! - a waiter that is never woken (a lost wakeup: a release that misses a queued waiter, an
//!   unlock that does not wake anyone although a waiter is counted, a `WOKEN` bit nobody
//!   clears) is reported by loom as a deadlock;
//! - after every Mutex model the lock must be free for `try_lock` (a stale `LOCKED` or
//!   `STARVING` bit fails there).
//!
//! Several handshakes are Dekker pairs, correct only because both sides are SeqCst: the
//! semaphore's `nwait` against its count (see [`crate::sema`]), and RwMutex's reader count
//! against its writer flags. Loom models SeqCst loads and stores as AcqRel only (loom's README,
//! "Unsupported features"), so unless the code puts a SeqCst fence (which loom does model)
//! between each side's write and its read under `--cfg loom`, loom explores the
//! store-buffering outcome that real SeqCst forbids, and reports it as a lost wakeup or as
//! a reader inside with the writer.
//!
//! Each model counts the outcomes it can observe from outside across executions and asserts
//! at the end that every one was reached, so a bound that is too tight fails instead of passing
//! vacuously. The internal paths (a waiter parking, a woken waiter losing and re-queueing
//! LIFO, `STARVING` set, kept and cleared, a handoff release, a handoff whose unit was taken
//! first, an unlock finding `WOKEN` set) cannot be seen from here; each model's docs say which
//! it is built to reach, and that they are reached within its bound was checked by counting
//! them in an instrumented copy of the crate.

use crate::loom_support::{Coverage, builder};
use crate::rslot::{loom_probe, loom_proc};
use crate::sema;
use crate::shim::{AtomicU32, Ordering, loom_clock};
use crate::{Mutex, RwMutex, WaitGroup};
use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::thread;
use runtime::WaitReason;
use std::sync::Arc as StdArc;

/// No preemption bound: the model is explored exhaustively.
const UNBOUNDED: Option<usize> = None;

/// Stack for every thread of a model, 256 KiB (loom hands the size to its coroutine library,
/// which counts it in machine words). The semaphore table (a loom `lazy_static`, built once
/// per execution by whichever thread first waits or wakes) is built on that thread's stack,
/// and its 251 cache-line-aligned buckets overflow loom's default 32 KiB.
const STACK_SIZE: usize = (256 << 10) / std::mem::size_of::<usize>();

/// `thread::spawn` with [`STACK_SIZE`].
fn spawn<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> thread::JoinHandle<T> {
    thread::Builder::new()
        .stack_size(STACK_SIZE)
        .spawn(f)
        .expect("loom spawn")
}

/// Checks `body` under `bound` (see [`builder`]). The body runs on a spawned thread with a
/// [`STACK_SIZE`] stack (loom's main thread keeps the default stack), so a model has at most
/// three threads of its own besides the body's.
fn model(bound: Option<usize>, body: impl Fn() + Send + Sync + 'static) {
    let body = StdArc::new(body);
    builder(bound).check(move || {
        let body = body.clone();
        spawn(move || body()).join().expect("model body panicked");
    });
}

/// A lock (or other synchroniser) and a log that must only be touched under it: each holder
/// appends its id. The log is a loom cell, so loom checks every access happens-after the
/// previous one.
struct Guarded<L> {
    lock: L,
    log: UnsafeCell<Vec<u8>>,
}

// SAFETY: `log` is only accessed by a thread that holds `lock` (or has been synchronised with
// every writer by a join); loom's cell checks that claim in every execution.
unsafe impl<L: Sync> Sync for Guarded<L> {}

impl<L> Guarded<L> {
    fn new(lock: L) -> Arc<Guarded<L>> {
        Arc::new(Guarded {
            lock,
            log: UnsafeCell::new(Vec::new()),
        })
    }

    /// Appends `id` to the log. The caller must hold the lock.
    fn append(&self, id: u8) {
        self.log.with_mut(|p| {
            // SAFETY: the caller holds the lock (the claim loom checks): no other access to
            // the log is concurrent with this one.
            unsafe { (*p).push(id) }
        });
    }

    /// A copy of the log. The caller must hold the lock, or have joined every writer.
    fn log(&self) -> Vec<u8> {
        self.log.with(|p| {
            // SAFETY: as in `append`.
            unsafe { (*p).clone() }
        })
    }
}

/// Starvation mode for the rest of the execution: every waiter woken once counts as having
/// waited over [`crate::STARVATION_THRESHOLD`]. Dropping it (also on a panic) switches back.
struct Starving;

impl Starving {
    fn on() -> Starving {
        loom_clock::set_starving(true);
        Starving
    }
}

impl Drop for Starving {
    fn drop(&mut self) {
        loom_clock::set_starving(false);
    }
}

/// `rounds` times: lock, append `id`, unlock.
fn lock_rounds(g: &Guarded<Mutex<()>>, id: u8, rounds: usize) {
    for _ in 0..rounds {
        let _held = g.lock.lock();
        g.append(id);
    }
}

/// Joins `handles` and checks the mutex afterwards: the lock is free (no stale `LOCKED` or
/// `STARVING` bit: `try_lock` succeeds). Returns the log.
fn finish_mutex(g: &Guarded<Mutex<()>>, handles: Vec<thread::JoinHandle<()>>) -> Vec<u8> {
    for h in handles {
        h.join().expect("a locker panicked");
    }
    assert!(!g.lock.is_locked(), "locked after every holder unlocked");
    assert_eq!(
        g.lock.__waiters(),
        0,
        "a waiter still counted after every locker finished"
    );
    let held = g.lock.try_lock();
    assert!(
        held.is_some(),
        "try_lock failed on a free mutex (stale state bits)"
    );
    drop(held);
    g.log()
}

/// Every holder's entry is in the log, `want` in all.
fn assert_logged(log: &[u8], want: usize) {
    assert_eq!(log.len(), want, "a holder's update was lost: {log:?}");
}

/// Whether `log` is ordered by holder (`0 0 1 1`): the other threads never got in between.
fn grouped(log: &[u8]) -> bool {
    log.windows(2).filter(|w| w[0] != w[1]).count() + 1 == {
        let mut ids = log.to_vec();
        ids.sort_unstable();
        ids.dedup();
        ids.len()
    }
}

// ---------------------------------------------------------------------------------------------
// Mutex, normal mode
// ---------------------------------------------------------------------------------------------

/// Two threads lock and unlock twice each (normal mode): mutual exclusion (loom's cell), every
/// update kept, no lost wakeup (loom's deadlock check), the lock free at the end. Within the
/// bound a holder's unlock wakes a parked waiter that then loses the lock to the unlocker's
/// next lock (it re-queues at the front, LIFO) and is woken again.
#[test]
fn loom_mutex_two_threads() {
    const GROUPED: usize = 0;
    const INTERLEAVED: usize = 1;
    let cov = Coverage::new(
        "loom_mutex_two_threads",
        &["one holder's rounds back to back", "holders interleaved"],
    );
    let c = cov.clone();
    model(Some(4), move || {
        c.execution();
        let g = Guarded::new(Mutex::new(()));
        let t = {
            let g = g.clone();
            spawn(move || lock_rounds(&g, 1, 2))
        };
        lock_rounds(&g, 0, 2);
        let log = finish_mutex(&g, vec![t]);
        assert_logged(&log, 4);
        c.hit(if grouped(&log) { GROUPED } else { INTERLEAVED });
    });
    cov.assert_all_reached();
}

/// Three threads (normal mode): A locks twice, B and C once each. Two waiters can be queued at
/// once, so an unlock may find the `WOKEN` bit set (a woken waiter on its way: it wakes nobody
/// else) or the lock already taken again by a barging locker, and a woken waiter can lose
/// its semaphore unit to an arriving one and queue again.
#[test]
fn loom_mutex_three_threads() {
    let cov = Coverage::new("loom_mutex_three_threads", &["0 last", "1 last", "2 last"]);
    let c = cov.clone();
    model(Some(3), move || {
        c.execution();
        let g = Guarded::new(Mutex::new(()));
        let ts = (1..=2)
            .map(|id| {
                let g = g.clone();
                spawn(move || lock_rounds(&g, id, 1))
            })
            .collect();
        lock_rounds(&g, 0, 2);
        let log = finish_mutex(&g, ts);
        assert_logged(&log, 4);
        c.hit(usize::from(log[3]));
    });
    cov.assert_all_reached();
}

// ---------------------------------------------------------------------------------------------
// Mutex, starvation mode
// ---------------------------------------------------------------------------------------------

/// Starvation mode engaged: A locks twice, B once. The path to a handoff takes two preemptions:
/// B queues while A holds the lock (1); A's unlock wakes B but A locks again before B runs; B,
/// scheduled while A holds it (2), has now waited "over 1 ms", so it sets `STARVING` and
/// re-queues at the front; A's next unlock sees `STARVING` and hands the lock over
/// (`sema::release` with handoff); B, the last waiter, sets `LOCKED` and clears `STARVING`.
/// A stale `STARVING` (or waiter count) would leave the lock unusable: `finish_mutex` checks.
#[test]
fn loom_mutex_starvation_handoff() {
    const GROUPED: usize = 0;
    const INTERLEAVED: usize = 1;
    let cov = Coverage::new(
        "loom_mutex_starvation_handoff",
        &["one holder's rounds back to back", "holders interleaved"],
    );
    let c = cov.clone();
    model(Some(4), move || {
        c.execution();
        let _starving = Starving::on();
        let g = Guarded::new(Mutex::new(()));
        let t = {
            let g = g.clone();
            spawn(move || lock_rounds(&g, 1, 1))
        };
        lock_rounds(&g, 0, 2);
        let log = finish_mutex(&g, vec![t]);
        assert_logged(&log, 3);
        c.hit(if grouped(&log) { GROUPED } else { INTERLEAVED });
    });
    cov.assert_all_reached();
}

/// Starvation mode with two waiters: A locks twice, B and C once each. Besides the handoff of
/// `loom_mutex_starvation_handoff`, a handed-off waiter that is not the last keeps `STARVING`
/// set, newcomers queue behind (they neither take the lock nor spin), and the lock is handed
/// down the queue until the last waiter switches back to normal mode.
///
/// It also reaches the instant the atomic-or lock allows in starvation mode: a newcomer takes
/// the lock between an unlock's subtraction and its reservation for the first waiter, and the
/// newcomer's unlock makes the hand-off instead (`finish_mutex` and the log check that nobody
/// was lost or let in twice). That takes a third preemption: 48,191 executions, 5 s, 12 of
/// them through that instant.
#[test]
fn loom_mutex_starvation_three_threads() {
    use std::sync::atomic::Ordering as StdOrdering;
    const BEATEN: usize = 3;
    let cov = Coverage::new(
        "loom_mutex_starvation_three_threads",
        &[
            "0 last",
            "1 last",
            "2 last",
            "a newcomer beat an unlock's reservation",
        ],
    );
    let c = cov.clone();
    model(Some(3), move || {
        c.execution();
        loom_probe::MUTEX_RESERVATION_BEATEN.store(0, StdOrdering::Relaxed);
        let _starving = Starving::on();
        let g = Guarded::new(Mutex::new(()));
        let ts = (1..=2)
            .map(|id| {
                let g = g.clone();
                spawn(move || lock_rounds(&g, id, 1))
            })
            .collect();
        lock_rounds(&g, 0, 2);
        let log = finish_mutex(&g, ts);
        assert_logged(&log, 4);
        c.hit(usize::from(log[3]));
        if loom_probe::MUTEX_RESERVATION_BEATEN.swap(0, StdOrdering::Relaxed) != 0 {
            c.hit(BEATEN);
        }
    });
    cov.assert_all_reached();
}

// ---------------------------------------------------------------------------------------------
// Mutex, try_lock
// ---------------------------------------------------------------------------------------------

/// `try_lock` racing a thread that locks and unlocks twice (normal mode): a successful
/// `try_lock` is a real hold (loom's cell), a failed one changes nothing, and the lock is
/// free at the end.
#[test]
fn loom_mutex_try_lock_races_lock() {
    const BOTH: usize = 0;
    const ONE: usize = 1;
    const NONE: usize = 2;
    let cov = Coverage::new(
        "loom_mutex_try_lock_races_lock",
        &["both try_locks won", "one try_lock won", "no try_lock won"],
    );
    let c = cov.clone();
    model(Some(4), move || {
        c.execution();
        let g = Guarded::new(Mutex::new(()));
        let t = {
            let g = g.clone();
            spawn(move || lock_rounds(&g, 1, 2))
        };
        let mut won = 0;
        for _ in 0..2 {
            if let Some(_held) = g.lock.try_lock() {
                g.append(0);
                won += 1;
            }
        }
        let log = finish_mutex(&g, vec![t]);
        assert_logged(&log, 2 + won);
        assert_eq!(log.iter().filter(|&&id| id == 0).count(), won);
        c.hit(match won {
            2 => BOTH,
            1 => ONE,
            _ => NONE,
        });
    });
    cov.assert_all_reached();
}

/// `try_lock` racing a starvation-mode handoff: A locks twice and B once (as in
/// `loom_mutex_starvation_handoff`), then A tries once more. While `STARVING` is set the lock
/// belongs to the queue: a `try_lock` between A's handing unlock and B's taking the lock must
/// fail; one that succeeded there would hold the lock together with B (loom's cell, when B
/// runs inside A's critical section: the third preemption).
#[test]
fn loom_mutex_try_lock_races_starvation_handoff() {
    const WON: usize = 0;
    const LOST: usize = 1;
    let cov = Coverage::new(
        "loom_mutex_try_lock_races_starvation_handoff",
        &["try_lock won", "try_lock lost"],
    );
    let c = cov.clone();
    model(Some(4), move || {
        c.execution();
        let _starving = Starving::on();
        let g = Guarded::new(Mutex::new(()));
        let b = {
            let g = g.clone();
            spawn(move || lock_rounds(&g, 1, 1))
        };
        lock_rounds(&g, 0, 2);
        if let Some(_held) = g.lock.try_lock() {
            g.append(2);
        }
        let log = finish_mutex(&g, vec![b]);
        let won = log.contains(&2);
        assert_logged(&log, 3 + usize::from(won));
        c.hit(if won { WON } else { LOST });
    });
    cov.assert_all_reached();
}

// ---------------------------------------------------------------------------------------------
// The runtime semaphore
// ---------------------------------------------------------------------------------------------

/// A semaphore count and a value published with each unit: the releaser writes it before
/// `release`, the acquirer reads it after `acquire` (loom's cell checks the happens-before).
struct Sema {
    count: AtomicU32,
    data: UnsafeCell<u32>,
}

// SAFETY: `data` is written by a releaser before its `release` and read by an acquirer after
// its `acquire`, or guarded by the semaphore used as a lock; loom's cell checks it.
unsafe impl Sync for Sema {}

impl Sema {
    fn new(units: u32) -> Arc<Sema> {
        Arc::new(Sema {
            count: AtomicU32::new(units),
            data: UnsafeCell::new(0),
        })
    }
    fn write(&self, v: u32) {
        // SAFETY: see the `Sync` impl: the model orders every access (loom checks).
        self.data.with_mut(|p| unsafe { *p = v });
    }
    fn read(&self) -> u32 {
        // SAFETY: as in `write`.
        self.data.with(|p| unsafe { *p })
    }
    fn acquire(&self, lifo: bool) {
        sema::acquire(&self.count, lifo, WaitReason::SemAcquire);
    }
    fn units(&self) -> u32 {
        self.count.load(Ordering::SeqCst)
    }
}

/// One release racing one acquire, for a plain and a handoff release: before (the acquire
/// takes the unit at once, or on its re-check under the bucket lock) or after the acquirer
/// queued (the release must find it: `nwait` and the count are a Dekker pair). The unit is
/// taken exactly once and the releaser's write is visible to the acquirer. Explored
/// exhaustively.
#[test]
fn loom_sema_release_races_acquire() {
    for handoff in [false, true] {
        let cov = Coverage::new(
            if handoff {
                "loom_sema_release_races_acquire (handoff)"
            } else {
                "loom_sema_release_races_acquire"
            },
            &["the release came first", "the acquire came first"],
        );
        let c = cov.clone();
        model(UNBOUNDED, move || {
            c.execution();
            let s = Sema::new(0);
            let r = {
                let s = s.clone();
                spawn(move || {
                    s.write(7);
                    sema::release(&s.count, handoff);
                })
            };
            let released_first = s.units() == 1;
            s.acquire(false);
            assert_eq!(s.read(), 7, "the releaser's write");
            r.join().expect("releaser panicked");
            assert_eq!(s.units(), 0, "a unit taken twice or left over");
            c.hit(usize::from(!released_first));
        });
        cov.assert_all_reached();
    }
}

/// Two acquirers, one thread releasing twice (once plain, once with handoff, in both orders):
/// both acquirers return, each with a unit of its own. A woken acquirer can lose its unit to
/// the other one arriving (its `try_acquire` before queueing) and queue again, and a handoff
/// release can find the unit it meant to hand over already taken (the waiter is then woken to
/// compete); the next release must still find every queued acquirer.
#[test]
fn loom_sema_two_acquirers_one_releaser() {
    for handoffs in [[false, true], [true, false]] {
        let cov = Coverage::new(
            if handoffs[0] {
                "loom_sema_two_acquirers_one_releaser (handoff first)"
            } else {
                "loom_sema_two_acquirers_one_releaser (handoff second)"
            },
            &["acquirer 0 first", "acquirer 1 first"],
        );
        let c = cov.clone();
        model(Some(3), move || {
            c.execution();
            let s = Sema::new(0);
            let order = Arc::new(loom::sync::atomic::AtomicUsize::new(0));
            let acquirers: Vec<_> = (0..2)
                .map(|_| {
                    let (s, order) = (s.clone(), order.clone());
                    spawn(move || {
                        s.acquire(false);
                        order.fetch_add(1, Ordering::SeqCst)
                    })
                })
                .collect();
            for handoff in handoffs {
                sema::release(&s.count, handoff);
            }
            let ranks: Vec<usize> = acquirers
                .into_iter()
                .map(|a| a.join().expect("acquirer panicked"))
                .collect();
            assert_eq!(s.units(), 0, "a unit taken twice or left over");
            c.hit(usize::from(ranks[0] == 1));
        });
        cov.assert_all_reached();
    }
}

/// The semaphore as a lock (one unit), as Mutex uses it: three threads acquire, append to a
/// log, release. Thread 1 queues FIFO, thread 2 LIFO (at the front, as a Mutex waiter that
/// has waited before). Waiters park, are woken, may lose the unit to an arriving acquirer and
/// re-queue; mutual exclusion and publication come from the count alone (loom's cell), and
/// every thread gets through (loom's deadlock check).
#[test]
fn loom_sema_as_lock_lifo_requeue() {
    let cov = Coverage::new(
        "loom_sema_as_lock_lifo_requeue",
        &["0 last", "1 last", "2 last"],
    );
    let c = cov.clone();
    model(Some(3), move || {
        c.execution();
        let s = Sema::new(1);
        let log = Guarded::new(());
        let critical = |s: &Sema, log: &Guarded<()>, id: u8, lifo: bool| {
            s.acquire(lifo);
            log.append(id);
            sema::release(&s.count, false);
        };
        let ts: Vec<_> = [(1, false), (2, true)]
            .into_iter()
            .map(|(id, lifo)| {
                let (s, log) = (s.clone(), log.clone());
                spawn(move || critical(&s, &log, id, lifo))
            })
            .collect();
        critical(&s, &log, 0, false);
        for t in ts {
            t.join().expect("a thread panicked");
        }
        let log = log.log();
        assert_eq!(log.len(), 3, "a holder's update was lost: {log:?}");
        assert_eq!(s.units(), 1, "the unit was duplicated or lost");
        c.hit(usize::from(log[2]));
    });
    cov.assert_all_reached();
}

// ---------------------------------------------------------------------------------------------
// WaitGroup
// ---------------------------------------------------------------------------------------------

/// Per-worker results, written before `done` and read after `wait`.
struct Results {
    wg: WaitGroup,
    slots: [UnsafeCell<u32>; 2],
}

// SAFETY: slot `i` is written only by worker `i` before its `done`, and read only after a
// `wait` that returned (which must happen-after every `done`: loom's cell checks).
unsafe impl Sync for Results {}

impl Results {
    fn new() -> Arc<Results> {
        Arc::new(Results {
            wg: WaitGroup::new(),
            slots: [UnsafeCell::new(0), UnsafeCell::new(0)],
        })
    }
    /// Worker `i`: write its result, then `done`.
    fn work(&self, i: usize, v: u32) {
        // SAFETY: see the `Sync` impl.
        self.slots[i].with_mut(|p| unsafe { *p = v });
        self.wg.done();
    }
    fn read(&self, i: usize) -> u32 {
        // SAFETY: see the `Sync` impl.
        self.slots[i].with(|p| unsafe { *p })
    }
}

/// Starts worker `i` of `r`, which writes `v`.
fn spawn_worker(r: &Arc<Results>, i: usize, v: u32) -> thread::JoinHandle<()> {
    let r = r.clone();
    spawn(move || r.work(i, v))
}

/// `add(2)`, two workers `done`, the main thread `wait`s and then reads both results: `wait`
/// returns only after both `done`s (the counter is not zero before), and their writes are
/// visible (the happens-before comes from the WaitGroup alone). `wait` either finds the
/// counter zero, or registers as a waiter and is released by the last `done`.
#[test]
fn loom_waitgroup_two_done_one_waiter() {
    const SAW_ZERO: usize = 0;
    const SAW_PENDING: usize = 1;
    let cov = Coverage::new(
        "loom_waitgroup_two_done_one_waiter",
        &["counter already zero", "counter pending at wait"],
    );
    let c = cov.clone();
    model(Some(4), move || {
        c.execution();
        let r = Results::new();
        r.wg.add(2);
        let ws = [spawn_worker(&r, 0, 10), spawn_worker(&r, 1, 20)];
        let pending = r.wg.count();
        r.wg.wait();
        assert_eq!(
            r.wg.count(),
            0,
            "wait returned before the counter reached zero"
        );
        assert_eq!((r.read(0), r.read(1)), (10, 20), "a worker's result");
        for w in ws {
            w.join().expect("worker panicked");
        }
        c.hit(if pending == 0 { SAW_ZERO } else { SAW_PENDING });
    });
    cov.assert_all_reached();
}

/// Two waiters (the main thread and another) on `add(2)` and two workers: the last `done`
/// releases every registered waiter (one semaphore unit each), and both see both results.
#[test]
fn loom_waitgroup_two_waiters() {
    const BOTH_PENDING: usize = 0;
    const ONE_PENDING: usize = 1;
    let cov = Coverage::new(
        "loom_waitgroup_two_waiters",
        &[
            "both waiters found the counter pending",
            "one waiter found it zero",
        ],
    );
    let c = cov.clone();
    model(Some(2), move || {
        c.execution();
        let r = Results::new();
        r.wg.add(2);
        let waiter = {
            let r = r.clone();
            spawn(move || {
                let pending = r.wg.count();
                r.wg.wait();
                (pending, r.read(0), r.read(1))
            })
        };
        let ws = [spawn_worker(&r, 0, 10), spawn_worker(&r, 1, 20)];
        let pending = r.wg.count();
        r.wg.wait();
        assert_eq!((r.read(0), r.read(1)), (10, 20), "a worker's result (main)");
        let (other_pending, a, b) = waiter.join().expect("waiter panicked");
        assert_eq!((a, b), (10, 20), "a worker's result (second waiter)");
        for w in ws {
            w.join().expect("worker panicked");
        }
        match (pending, other_pending) {
            (0, 0) => {}
            (0, _) | (_, 0) => c.hit(ONE_PENDING),
            _ => c.hit(BOTH_PENDING),
        }
    });
    cov.assert_all_reached();
}

/// Reuse: a second round on the same group once the first round's `wait` has returned (Go's
/// rule). Each round `add(1)`s, one worker `done`s, the main thread waits. The first round's
/// release must leave the state at zero and no semaphore unit behind, or the second `wait`
/// would return early (its worker's write not visible: loom's cell) or panic.
#[test]
fn loom_waitgroup_reuse() {
    const BOTH_PENDING: usize = 0;
    const SECOND_ZERO: usize = 1;
    let cov = Coverage::new(
        "loom_waitgroup_reuse",
        &[
            "both rounds waited on a pending counter",
            "the second round found it zero",
        ],
    );
    let c = cov.clone();
    model(Some(4), move || {
        c.execution();
        let r = Results::new();
        let mut pending = [0; 2];
        for (i, pending) in pending.iter_mut().enumerate() {
            r.wg.add(1);
            let w = spawn_worker(&r, i, 10 + i as u32);
            *pending = r.wg.count();
            r.wg.wait();
            assert_eq!(r.read(i), 10 + i as u32, "round {i}: the worker's result");
            w.join().expect("worker panicked");
        }
        match pending {
            [1, 1] => c.hit(BOTH_PENDING),
            [_, 0] => c.hit(SECOND_ZERO),
            _ => {}
        }
    });
    cov.assert_all_reached();
}

// ---------------------------------------------------------------------------------------------
// RwMutex
// ---------------------------------------------------------------------------------------------

/// A pair written by writers in two steps (first, then second) and read by readers; both
/// only under the `RwMutex` beside it.
struct Pair {
    lock: RwMutex<()>,
    pair: UnsafeCell<(u32, u32)>,
}

// SAFETY: `pair` is written only under the write lock and read only under the read lock
// (loom's cell checks that no read overlaps a write and that each sees the last write).
unsafe impl Sync for Pair {}

impl Pair {
    fn new() -> Arc<Pair> {
        Arc::new(Pair {
            lock: RwMutex::new(()),
            pair: UnsafeCell::new((0, 0)),
        })
    }
    /// Writes `(v, v)` under the write lock, one half at a time.
    fn write(&self, v: u32) {
        let _w = self.lock.lock();
        // SAFETY: see the `Sync` impl.
        self.pair.with_mut(|p| unsafe { (*p).0 = v });
        // SAFETY: the write lock is held (`_w`), so this is the only access to the pair (the
        // `Sync` impl's argument); loom checks it.
        self.pair.with_mut(|p| unsafe { (*p).1 = v });
    }
    /// Reads the pair under the read lock; it is never half-written.
    fn read(&self) -> u32 {
        let _r = self.lock.rlock();
        // SAFETY: see the `Sync` impl.
        let (a, b) = self.pair.with(|p| unsafe { *p });
        assert_eq!(a, b, "a reader saw a half-written pair");
        a
    }
}

/// One writer, one reader: the reader sees the old pair or the new one, never half of each.
/// A reader inside makes the writer wait (it parks until the last reader out releases it); a
/// reader arriving while a writer is in backs off and waits for the writer's unlock to let it
/// in; the two announce themselves to each other in either order. Its threads play no P, so
/// this model and the next cover the shared reader count (Go's algorithm, which plain threads
/// and goroutines whose slot is taken use); the `loom_rwmutex_slot_*` models below have
/// readers that play Ps and so take the per-P reader slots.
#[test]
fn loom_rwmutex_writer_and_reader() {
    const OLD: usize = 0;
    const NEW: usize = 1;
    let cov = Coverage::new(
        "loom_rwmutex_writer_and_reader",
        &["reader saw the old pair", "reader saw the new pair"],
    );
    let c = cov.clone();
    model(Some(4), move || {
        c.execution();
        let p = Pair::new();
        let w = {
            let p = p.clone();
            spawn(move || p.write(1))
        };
        let seen = p.read();
        w.join().expect("writer panicked");
        assert_eq!(p.read(), 1, "the write was lost");
        assert!(p.lock.try_lock().is_some(), "the lock is free at the end");
        c.hit(if seen == 0 { OLD } else { NEW });
    });
    cov.assert_all_reached();
}

/// One writer, two readers: readers share the lock, the writer excludes both; with two
/// readers inside, the writer is let in only by the last one out, and two readers waiting on
/// a writer are both let in by its unlock.
#[test]
fn loom_rwmutex_writer_and_two_readers() {
    let cov = Coverage::new(
        "loom_rwmutex_writer_and_two_readers",
        &["both old", "one old one new", "both new"],
    );
    let c = cov.clone();
    model(Some(2), move || {
        c.execution();
        let p = Pair::new();
        let w = {
            let p = p.clone();
            spawn(move || p.write(1))
        };
        let r = {
            let p = p.clone();
            spawn(move || p.read())
        };
        let seen = p.read() + r.join().expect("reader panicked");
        w.join().expect("writer panicked");
        assert_eq!(p.read(), 1, "the write was lost");
        assert!(p.lock.try_lock().is_some(), "the lock is free at the end");
        c.hit(seen as usize);
    });
    cov.assert_all_reached();
}

// ---------------------------------------------------------------------------------------------
// RwMutex through the per-P reader slots (rslot.rs)
// ---------------------------------------------------------------------------------------------

/// Zeroes the path probes for an execution; returns (writer parked, reader backed out) of the
/// one before.
fn take_probes() -> (bool, bool) {
    use std::sync::atomic::Ordering as StdOrdering;
    (
        loom_probe::WRITER_PARKED.swap(0, StdOrdering::Relaxed) != 0,
        loom_probe::READER_BACKED_OUT.swap(0, StdOrdering::Relaxed) != 0,
    )
}

/// Reads the pair as a goroutine on P `p` would: through its slot, when the slot is free and
/// no writer is pending.
fn read_on(p: &Pair, proc: usize) -> u32 {
    loom_proc::set(Some(proc));
    let v = p.read();
    loom_proc::set(None);
    v
}

/// One writer, one reader on P 0 (the slot path): a reader's claim of its slot and check for
/// a writer race the writer's announcement and scan. The writer never gets in while the
/// reader is inside (loom's cell; the pair is never half-written), and the reader never misses
/// a writer that is inside (it backs out and queues on the shared count). A writer that finds
/// the reader in its slot parks (spinning is off under loom) and the reader's release wakes
/// it: a release that missed the parked writer is a deadlock in loom's eyes. Outcomes: the
/// reader saw the old pair or the new one, the writer parked on the slot, the reader claimed
/// its slot and backed out.
#[test]
fn loom_rwmutex_slot_reader_and_writer() {
    let cov = Coverage::new(
        "loom_rwmutex_slot_reader_and_writer",
        &[
            "reader saw the old pair",
            "reader saw the new pair",
            "writer parked on the slot",
            "reader backed out",
        ],
    );
    let c = cov.clone();
    model(Some(3), move || {
        c.execution();
        take_probes();
        let p = Pair::new();
        let w = {
            let p = p.clone();
            spawn(move || p.write(1))
        };
        let seen = read_on(&p, 0);
        w.join().expect("writer panicked");
        assert_eq!(read_on(&p, 0), 1, "the write was lost");
        assert!(p.lock.try_lock().is_some(), "the lock is free at the end");
        c.hit(seen as usize);
        let (parked, backed_out) = take_probes();
        if parked {
            c.hit(2);
        }
        if backed_out {
            c.hit(3);
        }
    });
    cov.assert_all_reached();
}

/// One writer, readers on P 0 and P 1 (two rows of the lock's column): the writer scans both
/// rows and waits for each reader it finds; both readers inside at once is allowed, the
/// writer with either is not (loom's cell), and every wakeup arrives (loom's deadlock check).
#[test]
fn loom_rwmutex_slot_two_readers_and_writer() {
    let cov = Coverage::new(
        "loom_rwmutex_slot_two_readers_and_writer",
        &[
            "both old",
            "one old one new",
            "both new",
            "writer parked on a slot",
        ],
    );
    let c = cov.clone();
    model(Some(2), move || {
        c.execution();
        take_probes();
        let p = Pair::new();
        let w = {
            let p = p.clone();
            spawn(move || p.write(1))
        };
        let r = {
            let p = p.clone();
            spawn(move || read_on(&p, 1))
        };
        let seen = read_on(&p, 0) + r.join().expect("reader panicked");
        w.join().expect("writer panicked");
        assert_eq!(p.read(), 1, "the write was lost");
        assert!(p.lock.try_lock().is_some(), "the lock is free at the end");
        c.hit(seen as usize);
        if take_probes().0 {
            c.hit(3);
        }
    });
    cov.assert_all_reached();
}
