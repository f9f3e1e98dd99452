//! Go's `time` package, the channel parts: [`after`], [`tick`], [`Timer`], [`Ticker`], and
//! [`after_func`] / [`sleep`] from the runtime.
//!
//! | Go | goro |
//! |---|---|
//! | `<-time.After(d)` | [`after(d)`](after)`.recv()` |
//! | `time.Tick(d)` | [`tick(d)`](tick) |
//! | `t := time.NewTimer(d)`; `<-t.C` | [`Timer::new(d)`](Timer::new); `t.c().recv()` |
//! | `t.Stop()`, `t.Reset(d)` | [`t.stop()`](Timer::stop), [`t.reset(d)`](Timer::reset) |
//! | `time.NewTicker(d)`, `Stop`, `Reset` | [`Ticker::new(d)`](Ticker::new), [`stop`](Ticker::stop), [`reset`](Ticker::reset) |
//! | `time.AfterFunc(d, f)`; `t.Stop()`, `t.Reset(d)` | [`after_func(d, f)`](after_func); [`t.stop()`](AfterFunc::stop), [`t.reset(d)`](AfterFunc::reset) |
//! | `time.Sleep(d)` | [`sleep(d)`](sleep) |
//! | `golang.org/x/time/rate` | [`rate`]: [`rate::Limiter`] |
//!
//! # How a timer channel works
//! Each timer owns a buffered channel of capacity 1 and a [`runtime::CallbackTimer`]. When
//! the timer fires, its callback runs on the scheduler (no goroutine is spawned, not even per
//! tick) and *tries* to send the current time: if the buffer already holds an unreceived
//! value, the new one is dropped. So a timer never blocks the scheduler, and a slow receiver
//! of a ticker skips ticks rather than queueing them, as in Go.
//!
//! # Go 1.23 semantics
//! * **No stale values.** After [`Timer::stop`], [`Timer::reset`], [`Ticker::stop`] or
//!   [`Ticker::reset`] returns, no value sent before the call can be received: the runtime
//!   guarantees that no earlier firing is still running, and the channel is then drained.
//!   `stop`/`reset` report a drained value as "was pending" (the timer had fired but nobody
//!   had received it), as Go 1.23 does.
//! * **Unreferenced timers stop.** The callback holds the channel weakly. Once every handle to
//!   the channel is gone (the `Timer`/`Ticker` and every `Receiver` clone), the next firing
//!   finds nobody to send to and a periodic timer disarms itself; dropping a `Timer` or
//!   `Ticker` that holds the last handle stops it at once. `tick(d)` therefore does not leak
//!   (Go before 1.23 leaked its ticker).
//!
//! One difference remains: Go 1.23 reports `len` and `cap` of a timer channel as 0; here they
//! are those of the capacity-1 buffer.

use crate::array::Array;
use crate::chan::{Chan, Receiver, Shared};
use runtime::CallbackTimer;
use std::fmt;
use std::sync::{Arc, Weak};
pub use std::time::{Duration, Instant};

pub use runtime::{AfterFunc, after_func, sleep};

pub mod rate;

/// A weak handle to a timer's channel: lets the callback send without keeping the channel
/// (and so the timer) alive.
struct WeakChan(Weak<Array<Instant>>);

impl WeakChan {
    fn new(ch: &Chan<Instant>) -> WeakChan {
        match &ch.inner {
            Some(Shared::Array(a)) => WeakChan(Arc::downgrade(a)),
            _ => unreachable!("time: a capacity-1 channel is a buffered (array) channel"),
        }
    }

    fn upgrade(&self) -> Option<Chan<Instant>> {
        self.0.upgrade().map(|a| Chan {
            inner: Some(Shared::Array(a)),
        })
    }
}

/// Whether `rx` is the only handle to its channel (the timer is then unobservable).
fn is_last_handle(rx: &Receiver<Instant>) -> bool {
    match &rx.ch.inner {
        Some(Shared::Array(a)) => Arc::strong_count(a) == 1,
        _ => false,
    }
}

/// Removes an unreceived value, if any; true if there was one.
fn drain(rx: &Receiver<Instant>) -> bool {
    let mut any = false;
    while rx.try_recv().is_ok() {
        any = true;
    }
    any
}

/// A timer channel and the runtime timer that feeds it.
fn timer_channel() -> (Receiver<Instant>, CallbackTimer) {
    let ch = crate::make::<Instant>(1);
    let weak = WeakChan::new(&ch);
    // Runs on g0: only non-blocking work (see runtime::CallbackTimer). Returns false (disarm
    // a ticker) once nobody can receive.
    let cb = CallbackTimer::new(move || match weak.upgrade() {
        Some(ch) => {
            let _ = ch.try_send(Instant::now()); // Full: the receiver is slow; drop the tick.
            true
        }
        None => false,
    });
    (ch.receiver(), cb)
}

/// A channel that receives the time once, after `d` has elapsed (Go's `time.After`).
///
/// Equivalent to `Timer::new(d).c().clone()`; use a [`Timer`] if you may want to stop it
/// early. The timer stops by itself if the channel is dropped first.
///
/// ```
/// use std::time::{Duration, Instant};
/// let start = Instant::now();
/// let fired = chan::time::after(Duration::from_millis(5)).recv().unwrap();
/// assert!(fired - start >= Duration::from_millis(5));
/// ```
pub fn after(d: Duration) -> Receiver<Instant> {
    Timer::new(d).c().clone()
}

/// A channel that receives the time every `d` (Go's `time.Tick`). A slow receiver misses
/// ticks rather than queueing them. The ticker stops by itself once every handle to the
/// channel has been dropped.
///
/// # Panics
/// If `d` is zero, as Go's `NewTicker` does. (Go's `Tick` returns a nil channel instead; a
/// receive on it would block forever, so goro fails loudly.)
///
/// ```
/// use std::time::Duration;
/// let ticks = chan::time::tick(Duration::from_millis(1));
/// let (a, b) = (ticks.recv().unwrap(), ticks.recv().unwrap());
/// assert!(b > a);
/// ```
#[track_caller]
pub fn tick(d: Duration) -> Receiver<Instant> {
    Ticker::new(d).c().clone()
}

/// A single event in the future (Go's `time.Timer`): the time is sent on [`c()`](Timer::c)
/// once, after the duration, unless the timer is stopped first.
///
/// Dropping the `Timer` stops it if no clone of its channel is left; otherwise it still
/// fires into that channel.
///
/// ```
/// use std::time::Duration;
/// let t = chan::time::Timer::new(Duration::from_secs(3600));
/// assert!(t.stop(), "stopped before it fired");
/// assert!(t.c().try_recv().is_err(), "and nothing arrives");
/// t.reset(Duration::from_millis(1));
/// assert!(t.c().recv().is_some());
/// ```
pub struct Timer {
    c: Receiver<Instant>,
    timer: CallbackTimer,
}

impl Timer {
    /// A timer that sends the current time on its channel after `d` (at once if `d` is
    /// zero). Go's `time.NewTimer`.
    pub fn new(d: Duration) -> Timer {
        let (c, timer) = timer_channel();
        timer.reset(d);
        Timer { c, timer }
    }

    /// The channel the time is delivered on (Go's `t.C`). Clone it to keep it beyond the
    /// timer; put it in a [`Select`](crate::Select) with [`Select::recv`](crate::Select::recv).
    pub fn c(&self) -> &Receiver<Instant> {
        &self.c
    }

    /// Stops the timer. Returns true if this call stopped it before its value was
    /// received: it had not fired, or had fired but its value was still unreceived (that
    /// value is discarded). Returns false if it had already been received or the timer was
    /// already stopped. Afterwards no value arrives until a [`reset`](Timer::reset).
    pub fn stop(&self) -> bool {
        let pending = self.timer.stop();
        // No firing is running now and none will (CallbackTimer's guarantee), so after
        // draining, the channel holds nothing from before this call.
        let drained = drain(&self.c);
        pending || drained
    }

    /// Re-arms the timer to fire after `d`, discarding any unreceived value and any pending
    /// firing. Returns what [`stop`](Timer::stop) would have: whether the timer was still
    /// pending.
    pub fn reset(&self, d: Duration) -> bool {
        let was = self.stop();
        self.timer.reset(d);
        was
    }
}

impl fmt::Debug for Timer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timer")
            .field("pending", &self.timer.is_pending())
            .finish()
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        if is_last_handle(&self.c) {
            self.timer.stop();
        }
    }
}

/// Delivers the time on [`c()`](Ticker::c) every period (Go's `time.Ticker`). A slow
/// receiver misses ticks (the channel holds at most one); a late tick skips the ones it
/// missed, keeping to the original schedule.
///
/// Dropping the `Ticker` stops it if no clone of its channel is left.
///
/// ```
/// use std::time::Duration;
/// let t = chan::time::Ticker::new(Duration::from_millis(1));
/// for _ in 0..3 {
///     t.c().recv().unwrap();
/// }
/// t.stop();
/// assert!(t.c().recv_timeout(Duration::from_millis(20)).is_err(), "no tick after stop");
/// ```
pub struct Ticker {
    c: Receiver<Instant>,
    timer: CallbackTimer,
}

impl Ticker {
    /// A ticker with period `d`; the first tick comes after `d`. Go's `time.NewTicker`.
    ///
    /// # Panics
    /// `non-positive interval for NewTicker` if `d` is zero.
    #[track_caller]
    pub fn new(d: Duration) -> Ticker {
        assert!(!d.is_zero(), "non-positive interval for NewTicker");
        let (c, timer) = timer_channel();
        timer.reset_periodic(d, d);
        Ticker { c, timer }
    }

    /// The channel the ticks are delivered on (Go's `t.C`).
    pub fn c(&self) -> &Receiver<Instant> {
        &self.c
    }

    /// Stops the ticker: no tick is received after this returns (an unreceived one is
    /// discarded). The channel is not closed, as in Go.
    pub fn stop(&self) {
        self.timer.stop();
        drain(&self.c);
    }

    /// Stops the ticker and restarts it with period `d`: the next tick comes `d` from now.
    /// An unreceived tick is discarded.
    ///
    /// # Panics
    /// `non-positive interval for Ticker.Reset` if `d` is zero.
    #[track_caller]
    pub fn reset(&self, d: Duration) {
        assert!(!d.is_zero(), "non-positive interval for Ticker.Reset");
        self.stop();
        self.timer.reset_periodic(d, d);
    }
}

impl fmt::Debug for Ticker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ticker")
            .field("running", &self.timer.is_pending())
            .finish()
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        if is_last_handle(&self.c) {
            self.timer.stop();
        }
    }
}
