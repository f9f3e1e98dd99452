//! Monotonic time in nanoseconds since the runtime's epoch (timers, wait durations).

use std::sync::OnceLock;
use std::time::{Duration, Instant};

static EPOCH: OnceLock<Instant> = OnceLock::new();

fn epoch() -> Instant {
    *EPOCH.get_or_init(Instant::now)
}

/// Precise monotonic nanoseconds since the epoch.
#[inline]
pub(crate) fn nanotime() -> u64 {
    epoch().elapsed().as_nanos() as u64
}

/// The latest time the runtime clock represents (about 584 years after the epoch). A timer
/// set for it still counts as pending (`u64::MAX` is the timer heaps' "empty"), so a
/// goroutine waiting that long is not taken for deadlocked, as Go's checkdead does not take
/// one in `time.Sleep(math.MaxInt64)`.
pub(crate) const MAX_WHEN: u64 = u64::MAX - 1;

/// `instant` as nanoseconds since the epoch (0 if earlier, [`MAX_WHEN`] if later than that).
pub(crate) fn to_nanos(instant: Instant) -> u64 {
    instant
        .saturating_duration_since(epoch())
        .as_nanos()
        .min(MAX_WHEN as u128) as u64
}

/// `now + d`, or, when that is later than the runtime clock reaches (`Duration::MAX`), the
/// latest time it does: see [`crate::deadline_after`].
pub(crate) fn deadline_after(d: Duration) -> Instant {
    let latest = from_nanos(MAX_WHEN);
    Instant::now()
        .checked_add(d)
        .map_or(latest, |t| t.min(latest))
}

/// Nanoseconds since the epoch back to an `Instant`.
pub(crate) fn from_nanos(ns: u64) -> Instant {
    epoch() + Duration::from_nanos(ns)
}

/// Coarse (a few ms) monotonic nanoseconds, cheap enough for every park: used only to
/// report how long a goroutine has been waiting.
#[inline]
pub(crate) fn coarse_nanos() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec to the valid pointer we pass.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}
