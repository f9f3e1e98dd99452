//! Goroutines that go deep on their stacks and meet at the bottom (the stack-memory tests).

use runtime::{WaitReason, Waiter};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// A rendezvous for goroutines: everyone parks until `n` have arrived.
pub struct Rendezvous {
    n: usize,
    /// How many have arrived so far.
    pub arrived: AtomicUsize,
    waiters: Mutex<Vec<Waiter>>,
}

impl Rendezvous {
    /// A rendezvous for `n` goroutines.
    pub fn new(n: usize) -> Arc<Rendezvous> {
        Arc::new(Rendezvous {
            n,
            arrived: AtomicUsize::new(0),
            waiters: Mutex::new(Vec::new()),
        })
    }

    /// Arrives, and parks until all `n` have.
    pub fn arrive(&self) {
        self.waiters.lock().unwrap().push(Waiter::current());
        if self.arrived.fetch_add(1, Ordering::SeqCst) + 1 == self.n {
            for w in self.waiters.lock().unwrap().iter() {
                w.unpark();
            }
        }
        while self.arrived.load(Ordering::SeqCst) < self.n {
            runtime::park(WaitReason::Park);
        }
    }
}

/// Uses about `kib` KiB of stack, writing every page, and meets the others at the bottom.
#[inline(never)]
pub fn go_deep(kib: usize, at_bottom: &Rendezvous) -> u64 {
    let mut frame = [1u8; 1024];
    std::hint::black_box(&mut frame);
    if kib <= 1 {
        at_bottom.arrive();
        frame[7] as u64
    } else {
        go_deep(kib - 1, at_bottom) + frame[3] as u64
    }
}
