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

/// `instant` as nanoseconds since the epoch (0 if earlier).
pub(crate) fn to_nanos(instant: Instant) -> u64 {
    instant.saturating_duration_since(epoch()).as_nanos() as u64
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
