//! Scoped goroutines: goroutines that borrow from the caller, all joined before
//! [`scope`] returns (the shape of `std::thread::scope`).

use crate::g::WaitReason;
use crate::spawn::Packet;
use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe, Location};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

/// Set in [`ScopeData::running`] once `scope` waits: the decrement that brings the count to
/// zero then wakes it.
const WAITING: usize = 1 << (usize::BITS - 1);

struct ScopeData {
    /// Goroutines (and unjoined handles) still alive, plus [`WAITING`].
    running: AtomicUsize,
    a_goroutine_panicked: AtomicBool,
    /// The goroutine or thread `scope` waits on: set once, before [`WAITING`].
    waiter: OnceLock<crate::Waiter>,
}

impl ScopeData {
    /// One goroutine or handle is gone. No lock: only the decrement that takes the count
    /// from 1 to 0 while `scope` waits (it sees `WAITING | 1`) wakes it, and the waiter was
    /// published before the flag (release/acquire through `running`).
    fn decrement(&self) {
        if self.running.fetch_sub(1, Ordering::AcqRel) == WAITING | 1
            && let Some(w) = self.waiter.get()
        {
            w.unpark();
        }
    }

    /// In `scope`, after its closure: waits until every goroutine and handle is gone.
    fn wait_all(&self) {
        if self.running.load(Ordering::Acquire) == 0 {
            return;
        }
        let _ = self.waiter.set(crate::Waiter::current());
        if self.running.fetch_or(WAITING, Ordering::AcqRel) == 0 {
            return;
        }
        // Parks may end spuriously: the count says when all are gone.
        while self.running.load(Ordering::Acquire) & !WAITING != 0 {
            crate::park(WaitReason::Scope);
        }
    }
}

/// A scope in which to spawn goroutines that may borrow from outside it; see [`scope`].
pub struct Scope<'scope, 'env: 'scope> {
    data: Arc<ScopeData>,
    /// Invariance over 'scope, so the scope cannot shrink (as in std).
    scope: PhantomData<&'scope mut &'scope ()>,
    env: PhantomData<&'env mut &'env ()>,
}

/// The result slot of a scoped goroutine; tells the scope if a panic went unobserved.
struct ScopedPacket<T> {
    packet: Packet<T>,
    scope: Arc<ScopeData>,
}

impl<T> Drop for ScopedPacket<T> {
    fn drop(&mut self) {
        if self.packet.is_done() {
            // Not joined and it panicked: the scope must report it.
            if let Ok(Err(_)) = panic::catch_unwind(AssertUnwindSafe(|| self.packet.wait())) {
                self.scope
                    .a_goroutine_panicked
                    .store(true, Ordering::Relaxed);
            }
        }
        self.scope.decrement();
    }
}

/// Runs `f` with a [`Scope`] whose goroutines may borrow non-`'static` data, and waits for
/// all of them before returning (parking a goroutine, blocking a thread).
///
/// # Panics
/// If `f` panics, after every goroutine has finished, with `f`'s payload. If a goroutine
/// panicked and was not joined, with "a scoped goroutine panicked".
///
/// ```
/// let mut counts = [0u32; 4];
/// runtime::scope(|s| {
///     for (i, c) in counts.iter_mut().enumerate() {
///         s.go(move || *c = i as u32 * 10);
///     }
/// });
/// assert_eq!(counts, [0, 10, 20, 30]);
/// ```
#[track_caller]
pub fn scope<'env, F, T>(f: F) -> T
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> T,
{
    let scope = Scope {
        data: Arc::new(ScopeData {
            running: AtomicUsize::new(0),
            a_goroutine_panicked: AtomicBool::new(false),
            waiter: OnceLock::new(),
        }),
        scope: PhantomData,
        env: PhantomData,
    };
    let result = panic::catch_unwind(AssertUnwindSafe(|| f(&scope)));
    // Wait for every goroutine (and every unjoined handle's packet) to be gone.
    scope.data.wait_all();
    match result {
        Err(e) => panic::resume_unwind(e),
        Ok(_) if scope.data.a_goroutine_panicked.load(Ordering::Relaxed) => {
            panic!("a scoped goroutine panicked")
        }
        Ok(r) => r,
    }
}

impl<'scope> Scope<'scope, '_> {
    /// Starts a goroutine in the scope, with no handle (Go's `go` inside the scope). It costs
    /// what `go` plus a `WaitGroup` would: no handle, no allocation.
    #[track_caller]
    pub fn go<F>(&'scope self, f: F)
    where
        F: FnOnce() + Send + 'scope,
    {
        self.data.running.fetch_add(1, Ordering::Relaxed);
        let data = self.data.clone();
        let main = move || {
            if panic::catch_unwind(AssertUnwindSafe(f)).is_err() {
                // Nobody can join it: the scope reports it (the hook printed the message).
                data.a_goroutine_panicked.store(true, Ordering::Relaxed);
            }
            data.decrement();
        };
        // SAFETY: the goroutine borrows only data that outlives 'scope, and `scope()` does
        // not return before `running` drops to zero, after this closure's last use of it.
        unsafe { crate::spawn::newproc_unchecked(main, Location::caller()) };
    }

    /// Starts a goroutine in the scope and returns a handle to join it.
    #[track_caller]
    pub fn spawn<F, T>(&'scope self, f: F) -> ScopedJoinHandle<'scope, T>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        self.data.running.fetch_add(1, Ordering::Relaxed);
        let packet = Arc::new(ScopedPacket {
            packet: Packet::new(),
            scope: self.data.clone(),
        });
        let p2 = packet.clone();
        let main = move || {
            let r = panic::catch_unwind(AssertUnwindSafe(f));
            p2.packet.complete(r);
        };
        // SAFETY: the goroutine only borrows data that outlives 'scope, and `scope()` does not
        // return before `running` drops to zero, which happens only after this closure has
        // finished and every ScopedPacket (the goroutine's and the handle's) is dropped.
        unsafe { crate::spawn::newproc_unchecked(main, Location::caller()) };
        ScopedJoinHandle {
            packet,
            _scope: PhantomData,
        }
    }
}

/// A handle to join a scoped goroutine.
pub struct ScopedJoinHandle<'scope, T> {
    packet: Arc<ScopedPacket<T>>,
    _scope: PhantomData<&'scope ()>,
}

impl<T> ScopedJoinHandle<'_, T> {
    /// Waits for the goroutine and returns its value or its panic payload.
    pub fn join(self) -> std::thread::Result<T> {
        self.packet.packet.wait()
    }

    /// Whether the goroutine has finished.
    pub fn is_finished(&self) -> bool {
        self.packet.packet.is_done()
    }
}
