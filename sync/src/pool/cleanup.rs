//! The cleanup registry and tick: every live pool, swept once a second while any holds
//! values (the pool's module docs, "Arming protocol").

use super::POOL_CLEANUP_INTERVAL;
use super::slot::Sweep;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

/// Every pool ever made and not yet seen dead by a tick or a later registration.
struct Registry {
    pools: Vec<Weak<dyn Sweep>>,
    /// Prune dead entries when `pools` reaches this length (doubles, amortising the prune).
    prune_at: usize,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    pools: Vec::new(),
    prune_at: 16,
});

/// True while a cleanup tick is pending that has not yet begun its sweep.
pub(super) static ARMED: AtomicBool = AtomicBool::new(false);

fn registry() -> MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

pub(super) fn register(pool: Weak<dyn Sweep>) {
    let mut r = registry();
    if r.pools.len() >= r.prune_at {
        r.pools.retain(|w| w.strong_count() > 0);
        r.prune_at = (r.pools.len() * 2).max(16);
    }
    r.pools.push(pool);
}

/// Makes sure a cleanup tick is pending.
pub(super) fn arm() {
    // AcqRel: orders this arming with the tick's clear (see "Arming protocol").
    if ARMED
        .compare_exchange(false, true, Ordering::AcqRel, Ordering::Relaxed)
        .is_ok()
    {
        // The timer is never stopped, so its handle is not kept.
        let _ = runtime::after_func(POOL_CLEANUP_INTERVAL, tick);
    }
}

/// One cleanup tick over every live pool (runs in its own goroutine).
fn tick() {
    // SeqCst: the clear must come before every slot sweep below (see "Arming protocol");
    // the slot locks then carry it to the puts that follow.
    ARMED.store(false, Ordering::SeqCst);
    let live: Vec<Arc<dyn Sweep>> = {
        let mut r = registry();
        r.pools.retain(|w| w.strong_count() > 0);
        r.pools.iter().filter_map(Weak::upgrade).collect()
    };
    let mut holds = false;
    for pool in live {
        holds |= pool.sweep();
        // `pool` may be the last reference to a pool dropped meanwhile: dropped here, outside
        // the registry lock.
    }
    if holds {
        arm();
    }
}
