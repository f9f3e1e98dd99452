//! Go's `golang.org/x/time/rate`: a token-bucket rate limiter.
//!
//! A [`Limiter`] holds up to `burst` tokens and gains `limit` tokens per second. Each event
//! takes one token (or `n`, with the `_n` methods). There are three ways to take them:
//! * [`allow`](Limiter::allow): take a token now if there is one, else drop the event;
//! * [`reserve`](Limiter::reserve): take it now, possibly from the future, and learn how long
//!   to wait before acting ([`Reservation::delay`]); a reservation can be cancelled;
//! * [`wait`](Limiter::wait): reserve and wait, parking the goroutine (or blocking the
//!   thread), unless the [`Context`] ends first.
//!
//! | Go | goro |
//! |---|---|
//! | `rate.Limit`, `rate.Inf`, `rate.Every(d)` | [`Limit`], [`Limit::INF`], [`every(d)`](every) |
//! | `rate.InfDuration` | [`INF_DURATION`] |
//! | `rate.NewLimiter(r, b)` | [`Limiter::new(r, b)`](Limiter::new) |
//! | `lim.Limit()`, `lim.Burst()`, `lim.Tokens()`, `lim.TokensAt(t)` | [`limit`](Limiter::limit), [`burst`](Limiter::burst), [`tokens`](Limiter::tokens), [`tokens_at`](Limiter::tokens_at) |
//! | `lim.Allow()`, `lim.AllowN(t, n)` | [`allow`](Limiter::allow), [`allow_n`](Limiter::allow_n) |
//! | `lim.Reserve()`, `lim.ReserveN(t, n)` | [`reserve`](Limiter::reserve), [`reserve_n`](Limiter::reserve_n) -> [`Reservation`] |
//! | `r.OK()`, `r.Delay()`, `r.DelayFrom(t)`, `r.Cancel()`, `r.CancelAt(t)` | [`ok`](Reservation::ok), [`delay`](Reservation::delay), [`delay_from`](Reservation::delay_from), [`cancel`](Reservation::cancel), [`cancel_at`](Reservation::cancel_at) |
//! | `lim.Wait(ctx)`, `lim.WaitN(ctx, n)` | [`wait(&ctx)`](Limiter::wait), [`wait_n(&ctx, n)`](Limiter::wait_n) -> `Result<(), `[`Error`]`>` |
//! | `lim.SetLimit(r)`, `SetLimitAt`, `SetBurst`, `SetBurstAt` | [`set_limit`](Limiter::set_limit), [`set_limit_at`](Limiter::set_limit_at), [`set_burst`](Limiter::set_burst), [`set_burst_at`](Limiter::set_burst_at) |
//!
//! Differences: burst and `n` are `usize` (Go's `int`); a [`Reservation`] borrows its
//! limiter and is returned by value (Go allocates one behind a pointer); Go's `Sometimes`
//! is not provided. As in Go, the limiter is a mutex around a few numbers: every method
//! takes it once, briefly, and none allocates. `wait` parks on the context's `done` channel
//! with a deadline, which needs no timer channel.
//!
//! ```
//! use chan::context;
//! use chan::time::rate::{Limiter, every};
//! use std::time::{Duration, Instant};
//!
//! // One event per 10 ms, bursts of up to 2.
//! let lim = Limiter::new(every(Duration::from_millis(10)), 2);
//! let start = Instant::now();
//! for _ in 0..4 {
//!     lim.wait(&context::background()).unwrap();
//! }
//! // Two from the burst, then two more at 10 ms intervals.
//! assert!(start.elapsed() >= Duration::from_millis(19));
//! ```

use crate::context::{Context, ContextError};
use std::fmt;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The maximum rate of events, in events per second (Go's `rate.Limit`). `Limit(0.0)` allows
/// no events beyond the initial burst; [`Limit::INF`] allows every event, even with a zero
/// burst.
///
/// ```
/// use chan::time::rate::{Limit, every};
/// use std::time::Duration;
/// assert_eq!(every(Duration::from_millis(100)), Limit(10.0));
/// assert!(Limit(10.0) != Limit::INF);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct Limit(pub f64);

impl Limit {
    /// The infinite rate (Go's `rate.Inf`): every event is allowed, whatever the burst.
    ///
    /// ```
    /// use chan::time::rate::{Limit, Limiter};
    /// let lim = Limiter::new(Limit::INF, 0);
    /// assert!(lim.allow());
    /// ```
    pub const INF: Limit = Limit(f64::MAX);

    /// Tokens gained in `secs` seconds (which may be negative or infinite).
    fn tokens_in(self, secs: f64) -> f64 {
        if self.0 <= 0.0 { 0.0 } else { secs * self.0 }
    }

    /// How long it takes to gain `tokens` (not negative); [`INF_DURATION`] if never.
    fn time_for(self, tokens: f64) -> Duration {
        if self.0 <= 0.0 {
            return INF_DURATION;
        }
        let nanos = tokens / self.0 * 1e9;
        if nanos >= INF_DURATION.as_nanos() as f64 {
            return INF_DURATION;
        }
        Duration::from_nanos(nanos as u64)
    }
}

impl From<f64> for Limit {
    /// `Limit(r)`.
    ///
    /// ```
    /// use chan::time::rate::Limit;
    /// assert_eq!(Limit::from(2.5), Limit(2.5));
    /// ```
    fn from(r: f64) -> Limit {
        Limit(r)
    }
}

impl fmt::Display for Limit {
    /// The rate as a number, as Go prints a `Limit`.
    ///
    /// ```
    /// use chan::time::rate::Limit;
    /// assert_eq!(Limit(0.5).to_string(), "0.5");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// The limit that allows one event every `interval` (Go's `rate.Every`); a zero interval
/// gives [`Limit::INF`].
///
/// ```
/// use chan::time::rate::{Limit, every};
/// use std::time::Duration;
/// assert_eq!(every(Duration::from_secs(2)), Limit(0.5));
/// assert_eq!(every(Duration::ZERO), Limit::INF);
/// ```
pub fn every(interval: Duration) -> Limit {
    if interval.is_zero() {
        return Limit::INF;
    }
    Limit(1.0 / interval.as_secs_f64())
}

/// The delay of a reservation that can never be acted on (Go's `rate.InfDuration`, the
/// largest Go `Duration`: about 292 years).
///
/// ```
/// use chan::time::rate::{INF_DURATION, Limiter, Limit};
/// let lim = Limiter::new(Limit(1.0), 1);
/// assert_eq!(lim.reserve_n(std::time::Instant::now(), 2).delay(), INF_DURATION); // n > burst
/// ```
pub const INF_DURATION: Duration = Duration::from_nanos(i64::MAX as u64);

/// `t + d`, or the latest instant this platform can represent up to that.
fn add(t: Instant, d: Duration) -> Instant {
    let mut d = d;
    loop {
        if let Some(r) = t.checked_add(d) {
            return r;
        }
        d /= 2;
    }
}

/// `a - b` in seconds, negative if `a` is earlier.
fn secs_between(a: Instant, b: Instant) -> f64 {
    match a.checked_duration_since(b) {
        Some(d) => d.as_secs_f64(),
        None => -b.duration_since(a).as_secs_f64(),
    }
}

/// Why [`Limiter::wait_n`] failed.
///
/// ```
/// use chan::context;
/// use chan::time::rate::{Error, Limiter, Limit};
/// let lim = Limiter::new(Limit(1.0), 2);
/// let err = lim.wait_n(&context::background(), 3).unwrap_err();
/// assert_eq!(err, Error::ExceedsBurst { n: 3, burst: 2 });
/// assert_eq!(err.to_string(), "rate: Wait(n=3) exceeds limiter's burst 2");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Error {
    /// `n` is more than the limiter's burst (and the limit is not infinite): the wait could
    /// never succeed.
    ExceedsBurst {
        /// The tokens asked for.
        n: usize,
        /// The limiter's burst.
        burst: usize,
    },
    /// The tokens would come after the context's deadline. Returned at once, without
    /// waiting, and without taking any token.
    WouldExceedDeadline {
        /// The tokens asked for.
        n: usize,
    },
    /// The context was done before the tokens came (or already before the call). The
    /// reservation has been cancelled.
    Context(ContextError),
}

impl fmt::Display for Error {
    /// Go's error texts.
    ///
    /// ```
    /// use chan::time::rate::Error;
    /// assert_eq!(
    ///     Error::WouldExceedDeadline { n: 1 }.to_string(),
    ///     "rate: Wait(n=1) would exceed context deadline"
    /// );
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::ExceedsBurst { n, burst } => {
                write!(f, "rate: Wait(n={n}) exceeds limiter's burst {burst}")
            }
            Error::WouldExceedDeadline { n } => {
                write!(f, "rate: Wait(n={n}) would exceed context deadline")
            }
            Error::Context(e) => fmt::Display::fmt(e, f),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Context(e) => Some(e),
            _ => None,
        }
    }
}

impl From<ContextError> for Error {
    /// A context's error as a wait's.
    ///
    /// ```
    /// use chan::context::ContextError;
    /// use chan::time::rate::Error;
    /// assert_eq!(Error::from(ContextError::Canceled), Error::Context(ContextError::Canceled));
    /// ```
    fn from(e: ContextError) -> Error {
        Error::Context(e)
    }
}

/// The bucket, behind the limiter's mutex.
#[derive(Debug)]
struct State {
    limit: Limit,
    burst: usize,
    tokens: f64,
    /// When `tokens` was last updated; `None`: never (Go's zero `Time`, long ago).
    last: Option<Instant>,
    /// The latest time to act of a reservation (past or future); `None`: none yet.
    last_event: Option<Instant>,
}

impl State {
    /// The tokens there will be at `t`, not counting any taken after `last` (Go's
    /// `advance`; it changes nothing). A `t` before `last` counts as `last`.
    fn tokens_at(&self, t: Instant) -> f64 {
        let elapsed = match self.last {
            Some(last) => t.saturating_duration_since(last).as_secs_f64(),
            None => f64::INFINITY,
        };
        let tokens = self.tokens + self.limit.tokens_in(elapsed);
        tokens.min(self.burst as f64)
    }
}

/// A token-bucket rate limiter (Go's `rate.Limiter`): it allows events at up to `limit` per
/// second, with bursts of up to `burst`. It starts full. Share it by reference (or in an
/// `Arc`); every method takes `&self`.
///
/// The default limiter (`Limit(0.0)`, burst 0) allows nothing, like Go's zero `Limiter`.
///
/// ```
/// use chan::time::rate::{Limit, Limiter};
/// use std::time::{Duration, Instant};
/// let lim = Limiter::new(Limit(10.0), 3);
/// let t0 = Instant::now();
/// assert!(lim.allow_n(t0, 3), "a full bucket allows a burst of 3");
/// assert!(!lim.allow_n(t0, 1), "then it is empty");
/// assert!(lim.allow_n(t0 + Duration::from_millis(100), 1), "10/s: a token per 100 ms");
/// ```
pub struct Limiter {
    state: Mutex<State>,
}

impl fmt::Debug for Limiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.lock();
        f.debug_struct("Limiter")
            .field("limit", &s.limit)
            .field("burst", &s.burst)
            .field("tokens", &s.tokens)
            .finish()
    }
}

impl Default for Limiter {
    /// A limiter that allows no event (Go's zero `Limiter`).
    ///
    /// ```
    /// let lim = chan::time::rate::Limiter::default();
    /// assert!(!lim.allow());
    /// ```
    fn default() -> Limiter {
        Limiter::new(Limit(0.0), 0)
    }
}

impl Limiter {
    /// A limiter allowing `r` events per second with bursts of up to `b` events, starting
    /// with `b` tokens (Go's `rate.NewLimiter`). If `r` is [`Limit::INF`], `b` is ignored.
    /// `const`, so a limiter can be a `static`.
    ///
    /// ```
    /// use chan::time::rate::{Limit, Limiter};
    /// static LIM: Limiter = Limiter::new(Limit(1.0), 1);
    /// assert!(LIM.allow());
    /// assert!(!LIM.allow());
    /// ```
    pub const fn new(r: Limit, b: usize) -> Limiter {
        Limiter {
            state: Mutex::new(State {
                limit: r,
                burst: b,
                tokens: b as f64,
                last: None,
                last_event: None,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is consistent between statements (nothing here panics mid-update).
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The maximum overall event rate.
    ///
    /// ```
    /// use chan::time::rate::{Limit, Limiter};
    /// assert_eq!(Limiter::new(Limit(5.0), 1).limit(), Limit(5.0));
    /// ```
    pub fn limit(&self) -> Limit {
        self.lock().limit
    }

    /// The maximum burst: the most tokens one `allow_n`, `reserve_n` or `wait_n` can take
    /// (unless the limit is infinite). A zero burst allows no events, unless the limit is
    /// [`Limit::INF`].
    ///
    /// ```
    /// use chan::time::rate::{Limit, Limiter};
    /// assert_eq!(Limiter::new(Limit(5.0), 3).burst(), 3);
    /// ```
    pub fn burst(&self) -> usize {
        self.lock().burst
    }

    /// The tokens available now (Go's `Tokens`). Negative while reservations are waiting
    /// for future tokens.
    ///
    /// ```
    /// use chan::time::rate::{Limit, Limiter};
    /// let lim = Limiter::new(Limit(0.0), 2);
    /// lim.allow();
    /// assert_eq!(lim.tokens(), 1.0);
    /// ```
    pub fn tokens(&self) -> f64 {
        self.tokens_at(Instant::now())
    }

    /// The tokens available at `t` (Go's `TokensAt`).
    ///
    /// ```
    /// use chan::time::rate::{Limit, Limiter};
    /// use std::time::{Duration, Instant};
    /// let lim = Limiter::new(Limit(10.0), 3);
    /// let t0 = Instant::now();
    /// assert!(lim.allow_n(t0, 3));
    /// assert_eq!(lim.tokens_at(t0 + Duration::from_millis(200)), 2.0);
    /// ```
    pub fn tokens_at(&self, t: Instant) -> f64 {
        self.lock().tokens_at(t)
    }

    /// Whether an event may happen now; if so, it takes a token (`allow_n(Instant::now(), 1)`).
    /// Use it to drop or skip events beyond the rate.
    ///
    /// ```
    /// use chan::time::rate::{Limit, Limiter};
    /// let lim = Limiter::new(Limit(1.0), 1);
    /// assert!(lim.allow());
    /// assert!(!lim.allow(), "the next token is a second away");
    /// ```
    pub fn allow(&self) -> bool {
        self.allow_n(Instant::now(), 1)
    }

    /// Whether `n` events may happen at `t`; if so, it takes `n` tokens. Nothing is taken
    /// otherwise.
    ///
    /// ```
    /// use chan::time::rate::{Limit, Limiter};
    /// use std::time::Instant;
    /// let lim = Limiter::new(Limit(1.0), 3);
    /// let now = Instant::now();
    /// assert!(!lim.allow_n(now, 4), "more than the burst");
    /// assert!(lim.allow_n(now, 3));
    /// ```
    pub fn allow_n(&self, t: Instant, n: usize) -> bool {
        self.reserve_within(t, n, Some(Duration::ZERO)).ok
    }

    /// Reserves a token for an event now (`reserve_n(Instant::now(), 1)`).
    ///
    /// ```
    /// use chan::time::rate::{Limit, Limiter};
    /// use std::time::Duration;
    /// let lim = Limiter::new(Limit(10.0), 1);
    /// assert_eq!(lim.reserve().delay(), Duration::ZERO);
    /// let r = lim.reserve();
    /// assert!(r.ok() && r.delay() > Duration::from_millis(50), "the next token is 100 ms away");
    /// ```
    pub fn reserve(&self) -> Reservation<'_> {
        self.reserve_n(Instant::now(), 1)
    }

    /// Reserves `n` tokens for events at `t`, taking them from the future if the bucket
    /// does not hold them: the [`Reservation`] says how long to wait before acting
    /// ([`delay_from`](Reservation::delay_from)), and can be cancelled. It is not
    /// [`ok`](Reservation::ok) (and takes nothing) if `n` exceeds the burst and the limit is
    /// not infinite.
    ///
    /// ```
    /// use chan::time::rate::{Limit, Limiter};
    /// use std::time::{Duration, Instant};
    /// let lim = Limiter::new(Limit(10.0), 2);
    /// let t0 = Instant::now();
    /// assert_eq!(lim.reserve_n(t0, 2).delay_from(t0), Duration::ZERO);
    /// let r = lim.reserve_n(t0, 2);
    /// assert_eq!(r.delay_from(t0), Duration::from_millis(200));
    /// assert!(!lim.reserve_n(t0, 3).ok(), "more than the burst");
    /// ```
    pub fn reserve_n(&self, t: Instant, n: usize) -> Reservation<'_> {
        self.reserve_within(t, n, Some(INF_DURATION))
    }

    /// Waits for a token (`wait_n(ctx, 1)`).
    ///
    /// ```
    /// use chan::context;
    /// use chan::time::rate::{Limit, Limiter};
    /// let lim = Limiter::new(Limit(100.0), 1);
    /// let ctx = context::background();
    /// for _ in 0..3 {
    ///     lim.wait(&ctx).unwrap(); // the second and third wait about 10 ms each
    /// }
    /// ```
    pub fn wait(&self, ctx: &Context) -> Result<(), Error> {
        self.wait_n(ctx, 1)
    }

    /// Takes `n` tokens, waiting until they are available (Go's `WaitN`): a goroutine parks,
    /// a plain thread blocks. Fails with
    /// * [`Error::ExceedsBurst`] if `n` exceeds the burst (and the limit is not infinite);
    /// * [`Error::Context`] if `ctx` is already done, or is done while waiting: the
    ///   reservation is then cancelled, giving back what it can;
    /// * [`Error::WouldExceedDeadline`] at once, without waiting or taking anything, if the
    ///   tokens would come after `ctx`'s deadline.
    ///
    /// With [`Limit::INF`] it never waits.
    ///
    /// ```
    /// use chan::context;
    /// use chan::time::rate::{Error, Limit, Limiter};
    /// use std::time::Duration;
    /// let lim = Limiter::new(Limit(1.0), 1);
    /// let (ctx, _cancel) = context::with_timeout(&context::background(), Duration::from_millis(100));
    /// assert_eq!(lim.wait_n(&ctx, 1), Ok(()), "the first token is there");
    /// // The next token is a second away, after the deadline: fail now rather than wait.
    /// assert_eq!(lim.wait_n(&ctx, 1), Err(Error::WouldExceedDeadline { n: 1 }));
    /// ```
    pub fn wait_n(&self, ctx: &Context, n: usize) -> Result<(), Error> {
        let now = Instant::now();
        let (burst, limit) = {
            let s = self.lock();
            (s.burst, s.limit)
        };
        if n > burst && limit != Limit::INF {
            return Err(Error::ExceedsBurst { n, burst });
        }
        if let Some(e) = ctx.err() {
            return Err(Error::Context(e));
        }
        // How far ahead we may reserve: up to the deadline. None: it has passed.
        let within = match ctx.deadline() {
            None => Some(INF_DURATION),
            Some(deadline) => deadline.checked_duration_since(now),
        };
        let r = self.reserve_within(now, n, within);
        if !r.ok {
            return Err(Error::WouldExceedDeadline { n });
        }
        if r.delay_from(now).is_zero() {
            return Ok(());
        }
        // Go selects on a timer channel and ctx.Done(); receiving from `done` with a
        // deadline is the same wait without the timer channel.
        match ctx.done().recv_deadline(r.time_to_act) {
            Err(crate::RecvTimeoutError) => Ok(()),
            Ok(_) => {
                r.cancel();
                Err(Error::Context(ctx.err().unwrap_or(ContextError::Canceled)))
            }
        }
    }

    /// Changes the limit from now on (`set_limit_at(Instant::now(), r)`). Reservations
    /// already made keep their times.
    ///
    /// ```
    /// use chan::time::rate::{Limit, Limiter};
    /// let lim = Limiter::new(Limit(1.0), 1);
    /// lim.set_limit(Limit(2.0));
    /// assert_eq!(lim.limit(), Limit(2.0));
    /// ```
    pub fn set_limit(&self, r: Limit) {
        self.set_limit_at(Instant::now(), r);
    }

    /// Changes the limit at `t`: the tokens gained until `t` are counted at the old rate.
    ///
    /// ```
    /// use chan::time::rate::{Limit, Limiter};
    /// use std::time::{Duration, Instant};
    /// let lim = Limiter::new(Limit(5.0), 2);
    /// let t0 = Instant::now();
    /// assert!(lim.allow_n(t0, 2));
    /// lim.set_limit_at(t0 + Duration::from_millis(100), Limit(10.0)); // half a token so far
    /// assert_eq!(lim.tokens_at(t0 + Duration::from_millis(150)), 1.0);
    /// ```
    pub fn set_limit_at(&self, t: Instant, r: Limit) {
        let mut s = self.lock();
        s.tokens = s.tokens_at(t);
        s.last = Some(t);
        s.limit = r;
    }

    /// Changes the burst from now on (`set_burst_at(Instant::now(), b)`).
    ///
    /// ```
    /// use chan::time::rate::{Limit, Limiter};
    /// let lim = Limiter::new(Limit(1.0), 1);
    /// lim.set_burst(5);
    /// assert_eq!(lim.burst(), 5);
    /// ```
    pub fn set_burst(&self, b: usize) {
        self.set_burst_at(Instant::now(), b);
    }

    /// Changes the burst at `t`. The tokens held are not changed by the call (they are
    /// capped by the new burst when next counted).
    ///
    /// ```
    /// use chan::time::rate::{Limit, Limiter};
    /// use std::time::Instant;
    /// let lim = Limiter::new(Limit(1.0), 1);
    /// let now = Instant::now();
    /// lim.set_burst_at(now, 3);
    /// assert!(!lim.allow_n(now, 2), "the bucket still holds one token");
    /// ```
    pub fn set_burst_at(&self, t: Instant, b: usize) {
        let mut s = self.lock();
        s.tokens = s.tokens_at(t);
        s.last = Some(t);
        s.burst = b;
    }

    /// Takes `n` tokens at `t` if they come within `within` of `t` (`None`: not even at
    /// `t`). Go's `reserveN`.
    fn reserve_within(&self, t: Instant, n: usize, within: Option<Duration>) -> Reservation<'_> {
        let mut s = self.lock();
        if s.limit == Limit::INF {
            return Reservation {
                ok: true,
                lim: self,
                tokens: n,
                time_to_act: t,
                // As Go: an infinite-rate reservation records no rate.
                limit: Limit(0.0),
            };
        }
        let tokens = s.tokens_at(t) - n as f64;
        let wait = if tokens < 0.0 {
            s.limit.time_for(-tokens)
        } else {
            Duration::ZERO
        };
        let ok = n <= s.burst && within.is_some_and(|w| wait <= w);
        let time_to_act = add(t, wait);
        if ok {
            s.last = Some(t);
            s.tokens = tokens;
            s.last_event = Some(time_to_act);
        }
        Reservation {
            ok,
            lim: self,
            tokens: if ok { n } else { 0 },
            time_to_act,
            limit: s.limit,
        }
    }
}

/// Tokens taken by [`Limiter::reserve_n`], to be acted on after a delay (Go's
/// `rate.Reservation`). It borrows its limiter, so that [`cancel`](Reservation::cancel) can
/// give the tokens back.
///
/// ```
/// use chan::time::rate::{Limit, Limiter};
/// let lim = Limiter::new(Limit(10.0), 1);
/// let r = lim.reserve();
/// if r.ok() {
///     std::thread::sleep(r.delay()); // zero: the bucket was full
///     // act
/// }
/// ```
#[derive(Debug)]
pub struct Reservation<'a> {
    ok: bool,
    lim: &'a Limiter,
    tokens: usize,
    time_to_act: Instant,
    /// The limit when the reservation was made (it may change later).
    limit: Limit,
}

impl Reservation<'_> {
    /// Whether the limiter can provide the tokens within the maximum wait. If not, the
    /// reservation took nothing, its delay is [`INF_DURATION`] and cancelling it does
    /// nothing.
    ///
    /// ```
    /// use chan::time::rate::{Limit, Limiter};
    /// let lim = Limiter::new(Limit(1.0), 2);
    /// assert!(lim.reserve_n(std::time::Instant::now(), 2).ok());
    /// assert!(!lim.reserve_n(std::time::Instant::now(), 3).ok());
    /// ```
    pub fn ok(&self) -> bool {
        self.ok
    }

    /// How long to wait from now before acting (`delay_from(Instant::now())`).
    ///
    /// ```
    /// use chan::time::rate::{Limit, Limiter};
    /// use std::time::Duration;
    /// let lim = Limiter::new(Limit(1.0), 1);
    /// assert_eq!(lim.reserve().delay(), Duration::ZERO);
    /// ```
    pub fn delay(&self) -> Duration {
        self.delay_from(Instant::now())
    }

    /// How long to wait from `t` before acting: zero if the tokens are there at `t`,
    /// [`INF_DURATION`] if the reservation is not [`ok`](Reservation::ok).
    ///
    /// ```
    /// use chan::time::rate::{Limit, Limiter};
    /// use std::time::{Duration, Instant};
    /// let lim = Limiter::new(Limit(4.0), 1);
    /// let t0 = Instant::now();
    /// lim.reserve_n(t0, 1);
    /// let r = lim.reserve_n(t0, 1);
    /// assert_eq!(r.delay_from(t0), Duration::from_millis(250));
    /// assert_eq!(r.delay_from(t0 + Duration::from_secs(1)), Duration::ZERO);
    /// ```
    pub fn delay_from(&self, t: Instant) -> Duration {
        if !self.ok {
            return INF_DURATION;
        }
        self.time_to_act.saturating_duration_since(t)
    }

    /// Gives back what it can of the reservation's tokens, now (`cancel_at(Instant::now())`):
    /// the caller will not act on it.
    ///
    /// ```
    /// use chan::time::rate::{Limit, Limiter};
    /// let lim = Limiter::new(Limit(1.0), 1);
    /// assert!(lim.allow());
    /// let r = lim.reserve(); // for a second from now
    /// r.cancel();
    /// assert!(!lim.allow(), "the token given back is still a second away");
    /// assert!(lim.reserve().delay() <= std::time::Duration::from_secs(1));
    /// ```
    pub fn cancel(&self) {
        self.cancel_at(Instant::now());
    }

    /// Gives back, at `t`, the tokens of this reservation that later reservations have not
    /// come to depend on, as if it had not been made (Go's `CancelAt`). Does nothing if it is
    /// not ok, took no tokens, was made at an infinite limit, or its time to act is before
    /// `t`.
    ///
    /// ```
    /// use chan::time::rate::{Limit, Limiter};
    /// use std::time::{Duration, Instant};
    /// let lim = Limiter::new(Limit(10.0), 2);
    /// let t0 = Instant::now();
    /// let ms = |n| t0 + Duration::from_millis(n);
    /// lim.reserve_n(t0, 2); // the bucket
    /// let r = lim.reserve_n(t0, 2); // acts at 200 ms
    /// r.cancel_at(ms(100));
    /// // Both tokens are back: the next 2 come at 200 ms, not 400 ms.
    /// assert_eq!(lim.reserve_n(ms(100), 2).delay_from(ms(100)), Duration::from_millis(100));
    /// ```
    pub fn cancel_at(&self, t: Instant) {
        if !self.ok {
            return;
        }
        let mut s = self.lim.lock();
        if s.limit == Limit::INF || self.tokens == 0 || self.time_to_act < t {
            return;
        }
        // Tokens reserved after this one (its time to act up to the last event's) depend on
        // this reservation's place in the queue: only the rest can be given back.
        let later = match s.last_event {
            Some(e) => secs_between(e, self.time_to_act),
            None => f64::NEG_INFINITY,
        };
        let restore = self.tokens as f64 - self.limit.tokens_in(later);
        if restore <= 0.0 {
            return;
        }
        s.tokens = (s.tokens_at(t) + restore).min(s.burst as f64);
        s.last = Some(t);
        if s.last_event == Some(self.time_to_act) {
            // It was the last reservation: the last event is now the one before it.
            let prev = if self.limit.0 <= 0.0 {
                Some(add(self.time_to_act, INF_DURATION))
            } else {
                let nanos = self.tokens as f64 / self.limit.0 * 1e9;
                self.time_to_act
                    .checked_sub(Duration::from_nanos(nanos as u64))
            };
            if let Some(prev) = prev.filter(|&p| p >= t) {
                s.last_event = Some(prev);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! Go's tests of the maximum wait, which is not public API.
    use super::*;

    const D: Duration = Duration::from_millis(100);

    /// Multiples of D from t0, rounded.
    fn ds(t0: Instant, t: Instant) -> i64 {
        (secs_between(t, t0) / D.as_secs_f64()).round() as i64
    }

    #[test]
    fn reserve_within_a_maximum_wait() {
        // Go's TestReserveMax.
        let lim = Limiter::new(Limit(10.0), 2);
        let t0 = Instant::now();
        let r = lim.reserve_within(t0, 2, Some(D));
        assert!(r.ok && ds(t0, r.time_to_act) == 0);
        let r = lim.reserve_within(t0, 1, Some(D));
        assert!(r.ok && ds(t0, r.time_to_act) == 1, "close enough");
        assert!(
            !lim.reserve_within(t0, 1, Some(D)).ok,
            "too far in the future"
        );
    }

    #[test]
    fn failed_reservations_change_nothing() {
        // Go's TestReserveJumpBack.
        let lim = Limiter::new(Limit(10.0), 2);
        let t0 = Instant::now();
        let t = |n: u32| t0 + D * n;
        let check = |r: Reservation<'_>, act: u32| {
            assert!(r.ok);
            assert_eq!(ds(t0, r.time_to_act), act as i64);
        };
        check(lim.reserve_n(t(1), 2), 1);
        check(lim.reserve_n(t(0), 1), 1);
        check(lim.reserve_n(t(2), 2), 3);
        assert!(!lim.reserve_n(t(0), 3).ok, "n > burst");
        check(lim.reserve_n(t(2), 1), 4);
        assert!(
            !lim.reserve_within(t(0), 2, Some(D)).ok,
            "beyond the maximum wait"
        );
        check(lim.reserve_n(t(2), 1), 5);
    }
}
