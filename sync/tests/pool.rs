//! `Pool<T>`: reuse, when `new` runs, the per-slot bound, the idle policy (values dropped two
//! cleanup ticks after their last use), `PoolGuard::take`, and exact accounting of every value
//! under concurrent use from goroutines and plain threads at once.
//!
//! Every test that waits runs under [`common::watchdog`], which fails it with a goroutine dump
//! instead of hanging.

#[path = "../../runtime/tests/common/mod.rs"]
mod common;

use common::{wait_until, watchdog};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use sync::{Pool, PoolGuard};

// ---- helpers -----------------------------------------------------------------------------

/// A value with an id that counts its drops.
struct Counted {
    id: usize,
    drops: Arc<AtomicUsize>,
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

/// A pool of `Counted` whose `new` hands out ids 0, 1, 2, ... and counts its calls.
struct CountedPool {
    pool: Pool<Counted>,
    made: Arc<AtomicUsize>,
    drops: Arc<AtomicUsize>,
}

fn counted_pool(per_proc: usize) -> CountedPool {
    let made = Arc::new(AtomicUsize::new(0));
    let drops = Arc::new(AtomicUsize::new(0));
    let (m, d) = (made.clone(), drops.clone());
    let pool = Pool::with_capacity(per_proc, move || Counted {
        id: m.fetch_add(1, Ordering::SeqCst),
        drops: d.clone(),
    });
    CountedPool { pool, made, drops }
}

impl CountedPool {
    fn made(&self) -> usize {
        self.made.load(Ordering::SeqCst)
    }
    fn drops(&self) -> usize {
        self.drops.load(Ordering::SeqCst)
    }
}

// ---- reuse and `new` ---------------------------------------------------------------------

#[test]
fn get_from_an_empty_pool_calls_new_each_time() {
    let p = counted_pool(8);
    let a = p.pool.get();
    let b = p.pool.get();
    assert_eq!(p.made(), 2, "two gets from an empty pool make two values");
    assert_ne!(a.id, b.id);
}

#[test]
fn a_put_value_is_the_next_get_on_the_same_thread() {
    let p = counted_pool(8);
    let v = PoolGuard::take(p.pool.get());
    let id = v.id;
    p.pool.put(v);
    assert_eq!(p.pool.get().id, id, "the value put back should be reused");
    assert_eq!(p.made(), 1, "new must not run while the pool has a value");
}

#[test]
fn a_dropped_guard_returns_its_value_on_a_goroutine() {
    watchdog(30, || {
        let pool = Arc::new(Pool::new(Vec::<u8>::new));
        let p = pool.clone();
        let (cap, reused_cap) = runtime::block_on(move || {
            let mut v = p.get();
            v.reserve_exact(1000);
            let cap = v.capacity();
            drop(v); // no park between here and the next get: same P, same slot
            (cap, p.get().capacity())
        });
        assert_eq!(
            reused_cap, cap,
            "the Vec returned by the guard should be reused"
        );
    });
}

#[test]
fn gets_take_the_most_recent_put_first() {
    let p = counted_pool(8);
    let (a, b) = (PoolGuard::take(p.pool.get()), PoolGuard::take(p.pool.get()));
    let (ida, idb) = (a.id, b.id);
    p.pool.put(a);
    p.pool.put(b);
    assert_eq!(
        PoolGuard::take(p.pool.get()).id,
        idb,
        "LIFO: last put, first got"
    );
    assert_eq!(PoolGuard::take(p.pool.get()).id, ida);
    assert_eq!(p.made(), 2);
}

#[test]
fn a_thread_with_an_empty_slot_takes_another_threads_value() {
    watchdog(30, || {
        let p = Arc::new(counted_pool(8));
        let q = p.clone();
        let id = std::thread::spawn(move || {
            let v = PoolGuard::take(q.pool.get());
            let id = v.id;
            q.pool.put(v);
            id
        })
        .join()
        .unwrap();
        // Either this thread shares the other's slot or it steals from it: no new value.
        assert_eq!(p.pool.get().id, id);
        assert_eq!(
            p.made(),
            1,
            "a cached value in any slot must be found before new runs"
        );
    });
}

#[test]
fn take_detaches_the_value_from_the_pool() {
    let p = counted_pool(8);
    let v = PoolGuard::take(p.pool.get());
    assert!(p.pool.is_empty(), "a taken value is not returned");
    assert_eq!(p.drops(), 0);
    drop(v);
    assert_eq!(p.drops(), 1, "a taken value is dropped by its owner");
    let _w = p.pool.get();
    assert_eq!(p.made(), 2, "the next get has to make a new value");
}

#[test]
fn a_guard_dereferences_to_its_value() {
    let pool = Pool::new(|| vec![1, 2, 3]);
    let mut g = pool.get();
    g.push(4);
    assert_eq!(*g, [1, 2, 3, 4]);
    assert_eq!(format!("{g:?}"), "[1, 2, 3, 4]");
}

// ---- bounds, clear, drop -----------------------------------------------------------------

#[test]
fn puts_beyond_the_bound_are_dropped() {
    let p = counted_pool(4);
    let n = 10 * p.pool.capacity();
    let values: Vec<Counted> = (0..n).map(|_| PoolGuard::take(p.pool.get())).collect();
    for v in values {
        p.pool.put(v);
    }
    let cached = p.pool.len();
    assert!(
        cached <= p.pool.capacity(),
        "{cached} values cached, bound is {}",
        p.pool.capacity()
    );
    assert!(cached >= 4, "the putting thread's own slot should be full");
    assert_eq!(p.drops(), n - cached, "every value not cached was dropped");
}

#[test]
fn a_pool_with_zero_capacity_keeps_nothing() {
    let p = counted_pool(0);
    p.pool.put(PoolGuard::take(p.pool.get()));
    assert_eq!(p.pool.len(), 0);
    assert_eq!(p.drops(), 1);
}

#[test]
fn clear_drops_every_cached_value() {
    let p = counted_pool(8);
    let values: Vec<Counted> = (0..5).map(|_| PoolGuard::take(p.pool.get())).collect();
    for v in values {
        p.pool.put(v);
    }
    assert_eq!(p.pool.len(), 5);
    p.pool.clear();
    assert_eq!(p.pool.len(), 0);
    assert_eq!(p.drops(), 5);
}

#[test]
fn dropping_the_pool_drops_its_values() {
    watchdog(30, || {
        let p = counted_pool(8);
        let (a, b) = (PoolGuard::take(p.pool.get()), PoolGuard::take(p.pool.get()));
        p.pool.put(a);
        p.pool.put(b);
        let drops = p.drops.clone();
        drop(p);
        // A cleanup tick sweeping the pool at this moment holds it until the sweep ends.
        wait_until(|| drops.load(Ordering::SeqCst) == 2);
    });
}

#[test]
fn debug_shows_the_cached_count() {
    let p = Pool::new(|| 0u8);
    p.put(1);
    let s = format!("{p:?}");
    assert!(
        s.starts_with("Pool { len: 1,"),
        "unexpected Debug output: {s}"
    );
}

// ---- the idle policy ---------------------------------------------------------------------

#[test]
fn idle_values_are_dropped_by_the_cleanup_ticks() {
    watchdog(30, || {
        let p = counted_pool(8);
        let values: Vec<Counted> = (0..6).map(|_| PoolGuard::take(p.pool.get())).collect();
        for v in values {
            p.pool.put(v);
        }
        // Two ticks, 1 s apart, drop them; the watchdog bounds the wait.
        wait_until(|| p.drops() == 6);
        assert_eq!(p.pool.len(), 0, "an idle pool ends up empty");
        let _v = p.pool.get();
        assert_eq!(p.made(), 7, "after the cleanup, get makes a new value");
    });
}

#[test]
fn idle_values_put_from_a_goroutine_are_dropped_too() {
    watchdog(30, || {
        let p = Arc::new(counted_pool(8));
        let q = p.clone();
        runtime::block_on(move || {
            let v = PoolGuard::take(q.pool.get());
            q.pool.put(v);
        });
        wait_until(|| p.drops() == 1);
        assert!(p.pool.is_empty());
    });
}

// ---- concurrency -------------------------------------------------------------------------

/// Where each value is, by id.
const FREE: u8 = 0; // in the pool (or on its way in or out)
const MADE: u8 = 1; // just returned by `new`
const HELD: u8 = 2; // held by exactly one worker
const TAKEN: u8 = 3; // detached by a worker that will drop it
const DROPPED: u8 = 4;
const MAX_IDS: usize = 1 << 18;

/// Every value's state, and the violations seen (counted, not panicked on, because drops
/// also happen on the cleanup tick's goroutine).
struct Ledger {
    state: Vec<AtomicU8>,
    violations: AtomicUsize,
}

impl Ledger {
    fn moves(&self, id: usize, allowed_from: &[u8], to: u8) {
        let prev = self.state[id].swap(to, Ordering::SeqCst);
        if !allowed_from.contains(&prev) {
            eprintln!("value {id}: {prev} -> {to} is not allowed");
            self.violations.fetch_add(1, Ordering::SeqCst);
        }
    }
}

struct Tracked {
    id: usize,
    ledger: Arc<Ledger>,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        // Dropped from the pool (full slot, tick, clear) or by the worker that took it.
        self.ledger.moves(self.id, &[FREE, TAKEN], DROPPED);
    }
}

/// One worker's loop: get (sometimes two at once), check exclusive ownership, give back by
/// guard drop, by `put`, or not at all (`take` then drop).
fn work(pool: &Pool<Tracked>, ledger: &Ledger, seed: usize, on_goroutine: bool) {
    for i in 0..20_000 {
        let a = pool.get();
        ledger.moves(a.id, &[FREE, MADE], HELD);
        let b = (i % 3 == 0).then(|| {
            let b = pool.get();
            ledger.moves(b.id, &[FREE, MADE], HELD);
            b
        });
        if (i + seed).is_multiple_of(64) {
            if on_goroutine {
                runtime::gosched(); // may resume on another P
            } else {
                std::thread::yield_now();
            }
        }
        if let Some(b) = b {
            ledger.moves(b.id, &[HELD], FREE);
            drop(b);
        }
        match (i + seed) % 10 {
            0 => {
                ledger.moves(a.id, &[HELD], TAKEN);
                drop(PoolGuard::take(a));
            }
            1 => {
                ledger.moves(a.id, &[HELD], FREE);
                let v = PoolGuard::take(a);
                pool.put(v);
            }
            _ => {
                ledger.moves(a.id, &[HELD], FREE);
                drop(a);
            }
        }
    }
}

#[test]
fn goroutines_and_threads_never_lose_or_share_a_value() {
    watchdog(30, || {
        let ledger = Arc::new(Ledger {
            state: (0..MAX_IDS).map(|_| AtomicU8::new(DROPPED)).collect(),
            violations: AtomicUsize::new(0),
        });
        let made = Arc::new(AtomicUsize::new(0));
        let (l, m) = (ledger.clone(), made.clone());
        // A small bound, so full slots drop values too.
        let pool = Arc::new(Pool::with_capacity(4, move || {
            let id = m.fetch_add(1, Ordering::SeqCst);
            assert!(id < MAX_IDS, "test made more values than it can track");
            l.moves(id, &[DROPPED], MADE);
            Tracked {
                id,
                ledger: l.clone(),
            }
        }));

        let goroutines: Vec<_> = (0..8)
            .map(|seed| {
                let (pool, ledger) = (pool.clone(), ledger.clone());
                runtime::spawn(move || work(&pool, &ledger, seed, true))
            })
            .collect();
        let threads: Vec<_> = (8..12)
            .map(|seed| {
                let (pool, ledger) = (pool.clone(), ledger.clone());
                std::thread::spawn(move || work(&pool, &ledger, seed, false))
            })
            .collect();
        for g in goroutines {
            g.join().expect("a goroutine worker panicked");
        }
        for t in threads {
            t.join().expect("a thread worker panicked");
        }

        let made = made.load(Ordering::SeqCst);
        let state = |id: usize| ledger.state[id].load(Ordering::SeqCst);
        // One read per value: the cleanup tick may be dropping values meanwhile.
        let unaccounted: Vec<(usize, u8)> = (0..made)
            .map(|id| (id, state(id)))
            .filter(|&(_, s)| s != FREE && s != DROPPED)
            .collect();
        assert!(
            unaccounted.is_empty(),
            "after the workers, every value is cached or dropped; these are not: {unaccounted:?}"
        );
        assert!(pool.len() <= pool.capacity());
        pool.clear();
        // A tick that took values out just before `clear` may still be dropping them.
        wait_until(|| (0..made).all(|id| state(id) == DROPPED));
        assert_eq!(
            ledger.violations.load(Ordering::SeqCst),
            0,
            "a value was held twice at once, or dropped twice, or lost (see stderr)"
        );
    });
}
