//! The concurrency primitives the channel core is written against.
//!
//! The atomics, cells, fences and spin steps are the one loom facade's, `runtime::__loom`
//! (`runtime/src/shim.rs`); this module adds chan's own part: waiting (the runtime's park, or
//! under loom the model parker below) and `gosched`. Under `--cfg loom` these are loom's
//! model-checked types, so the wait queues ([`crate::waitq`]), the unbuffered flavour
//! ([`crate::zero`]), the buffered ring ([`crate::array`]), the channel lock ([`crate::lock`])
//! and select's claim/withdraw ([`crate::select`]) run unchanged inside loom models (see
//! `chan/src/loom_tests.rs`). Everywhere else they are exactly the `std` types and the
//! runtime items the code used before this module existed (plain re-exports: no wrapper, no
//! cost).
//!
//! # Waiting under loom
//! `runtime::park` blocks a real futex, which would stall loom's scheduler (every loom thread
//! is a coroutine on one OS thread), so under loom [`Waiter`], [`park`] and [`park_until`] are
//! built on a per-thread `loom::sync::Notify`: a parked thread is *blocked* in the model until
//! a `Waiter` unparks it. So a waiter that is never unparked is reported by loom as a
//! deadlock (a lost wakeup is caught); like the runtime's, an unpark that comes first leaves a
//! token, and loom also explores a spurious wakeup.
//!
//! Waiting by yielding (`loom::thread::yield_now` in a loop) looks simpler but does not work:
//! with two threads spinning while the one they wait for is preempted, loom's bounded search
//! keeps finding ever longer unfair schedules in which only the spinners run, and fails with
//! "exceeded maximum number of branches". For the same reason the channel lock's contended
//! path and `Packet::wait_done` block (on loom park) instead of spinning under loom.

pub(crate) use runtime::__loom::{
    AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering, dekker_fence, fence, spin_loop,
};

/// The cell behind the channel lock's data, a packet's value and a ring slot. loom's is
/// accessed through `get_mut`/`with_mut` (tracked: loom reports unsynchronised accesses as
/// data races), std's through `get`; the users (`lock.rs`, `zero.rs`, `array.rs`) branch on
/// `cfg(loom)`.
pub(crate) use runtime::__loom::UnsafeCell;

#[cfg(not(loom))]
pub(crate) use runtime::{Waiter, gosched, park, park_until};

#[cfg(loom)]
pub(crate) use model::{Waiter, park, park_until};

/// Under loom, a yield (as `spin_loop` is: the model runs the thread being waited for).
#[cfg(loom)]
pub(crate) fn gosched() {
    loom::thread::yield_now();
}

/// The loom stand-ins for waiting, and what the models observe through them. sync's shim
/// waits on these too (`chan::__loom_model`).
#[cfg(loom)]
pub mod model {
    use super::{AtomicBool, Ordering};
    use loom::sync::Notify;
    use runtime::WaitReason;
    use std::cell::{Cell, RefCell};
    use std::sync::Arc;
    use std::time::Instant;

    loom::thread_local! {
        /// Each loom thread's parker: a one-token `Notify`, like the runtime's park word or
        /// thread note. (Not `loom::thread::park`: loom's `Thread::unpark` also wakes a thread
        /// blocked in `JoinHandle::join`, which then trips an assertion inside loom.)
        static PARKER: Arc<Notify> = Arc::new(Notify::new());
    }

    /// `runtime::Waiter` for the models: a handle to a loom thread's parker.
    #[derive(Clone)]
    pub struct Waiter(Arc<Notify>);

    impl Waiter {
        /// The calling loom thread's parker.
        pub fn current() -> Waiter {
            Waiter(PARKER.with(Arc::clone))
        }

        /// Like the runtime's: wakes the thread, or leaves it a token if it is not parked.
        /// (loom also makes the unparker's prior writes visible to it, as the runtime's
        /// release/acquire on the park word does.)
        pub fn unpark(&self) {
            self.0.notify();
        }

        /// Whether both name the same thread's parker.
        pub fn same_as(&self, other: &Waiter) -> bool {
            Arc::ptr_eq(&self.0, &other.0)
        }
    }

    /// Blocks the current thread until its [`Waiter`] is unparked (consuming the token), or
    /// spuriously: loom explores one spurious wakeup per thread, which every caller must
    /// (and, per the park contract, does) tolerate.
    pub fn block() {
        Waiter::current().0.wait();
    }

    // Plain thread-locals: every loom thread of a model is a coroutine on the test's OS thread,
    // so these are shared by all threads of one model (and private to that test). They are
    // not loom objects: touching them adds no synchronisation to the model.
    thread_local! {
        /// Bit `reason as u8` set: some thread parked with that reason in this execution.
        static PARKED: Cell<u64> = const { Cell::new(0) };
        /// Some `park_until` reported its deadline passed in this execution.
        static TIMED_OUT: Cell<bool> = const { Cell::new(false) };
        /// The model's clock, if it installed one.
        static CLOCK: RefCell<Option<Arc<AtomicBool>>> = const { RefCell::new(None) };
        /// Threads that waited with a deadline: the clock wakes them when it fires.
        static TIMED_WAITERS: RefCell<Vec<Waiter>> = const {
            RefCell::new(Vec::new())
        };
    }

    fn record(reason: WaitReason) {
        PARKED.with(|p| p.set(p.get() | 1u64 << (reason as u8)));
    }

    /// Parks until unparked (or a token is left), recording `reason`.
    pub fn park(reason: WaitReason) {
        record(reason);
        block();
    }

    /// Like `park`, and also woken when the model's clock fires; returns whether it has (the
    /// deadline passed). The deadline value itself is ignored: time is whatever order loom
    /// runs the clock's thread in.
    pub fn park_until(reason: WaitReason, _deadline: Instant) -> bool {
        let clock = CLOCK
            .with(|c| c.borrow().clone())
            .expect("park_until in a loom model without a clock (Execution::clock)");
        let me = Waiter::current();
        TIMED_WAITERS.with(|w| {
            let mut w = w.borrow_mut();
            if !w.iter().any(|t| t.same_as(&me)) {
                w.push(me);
            }
        });
        // Registered before the check: a clock firing after it wakes us. Read with an RMW,
        // which sees the latest value (a plain load may return the stale `false` even after
        // the clock fired, and then nobody would wake us); Relaxed, so that reading the clock
        // adds no synchronisation to the model.
        let mut passed = clock.fetch_or(false, Ordering::Relaxed);
        if !passed {
            record(reason);
            block();
            passed = clock.fetch_or(false, Ordering::Relaxed);
        }
        if passed {
            TIMED_OUT.with(|t| t.set(true));
        }
        passed
    }

    /// Makes every deadline pass: sets the clock and wakes the threads waiting with one.
    #[cfg(test)]
    pub(crate) struct Clock(Arc<AtomicBool>);

    #[cfg(test)]
    impl Clock {
        pub(crate) fn fire(&self) {
            self.0.store(true, Ordering::Relaxed);
            for t in TIMED_WAITERS.with(|w| w.borrow().clone()) {
                t.unpark();
            }
        }
    }

    /// One execution's view of waiting: create one at the start of each execution (it resets
    /// the records), read it at the end. Dropping it removes the clock.
    #[cfg(test)]
    pub(crate) struct Execution(());

    #[cfg(test)]
    impl Execution {
        pub(crate) fn new() -> Execution {
            PARKED.with(|p| p.set(0));
            TIMED_OUT.with(|t| t.set(false));
            CLOCK.with(|c| *c.borrow_mut() = None);
            TIMED_WAITERS.with(|w| w.borrow_mut().clear());
            Execution(())
        }

        /// Installs the clock `park_until` consults; a thread of the model fires it.
        pub(crate) fn clock(&self) -> Clock {
            let clock = Arc::new(AtomicBool::new(false));
            CLOCK.with(|c| *c.borrow_mut() = Some(clock.clone()));
            Clock(clock)
        }

        /// Whether some thread parked with `reason` so far.
        pub(crate) fn parked(&self, reason: WaitReason) -> bool {
            PARKED.with(|p| p.get() & (1u64 << (reason as u8)) != 0)
        }

        /// Whether some `park_until` reported its deadline passed so far.
        pub(crate) fn timed_out(&self) -> bool {
            TIMED_OUT.with(|t| t.get())
        }
    }

    #[cfg(test)]
    impl Drop for Execution {
        fn drop(&mut self) {
            CLOCK.with(|c| *c.borrow_mut() = None);
            TIMED_WAITERS.with(|w| w.borrow_mut().clear());
        }
    }
}
