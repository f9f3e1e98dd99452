//! `Note`: a one-token futex parker for OS threads (Go's `note`, std's thread parker).
//!
//! Used by idle Ms ([`crate::m`]) and by plain threads that wait through [`crate::Waiter`].
//! The token is sticky: an `unpark` that comes before `park` makes the next `park` return at
//! once, so the classic "wake before sleep" race cannot lose a wakeup.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

const EMPTY: u32 = 0;
const NOTIFIED: u32 = 1;
const PARKED: u32 = u32::MAX;

/// A futex word with a single wakeup token.
#[derive(Debug, Default)]
pub(crate) struct Note {
    state: AtomicU32,
}

impl Note {
    pub(crate) const fn new() -> Note {
        Note {
            state: AtomicU32::new(EMPTY),
        }
    }

    /// Blocks until the token is set (consuming it) or `deadline` passes.
    /// Returns true if the token was consumed.
    pub(crate) fn park(&self, deadline: Option<Instant>) -> bool {
        // Acquire: pairs with the Release in `unpark`, so what the waker wrote before
        // unparking is visible once we return.
        if self.state.fetch_sub(1, Ordering::Acquire) == NOTIFIED {
            return true; // NOTIFIED -> EMPTY
        }
        // EMPTY -> PARKED (wrapped to u32::MAX).
        loop {
            let timeout = match deadline {
                None => None,
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        break;
                    }
                    Some(d - now)
                }
            };
            crate::futex::wait(&self.state, PARKED, timeout);
            if self
                .state
                .compare_exchange(NOTIFIED, EMPTY, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return true;
            }
        }
        // Timed out: withdraw. If a token arrived meanwhile, consume it.
        self.state.swap(EMPTY, Ordering::Acquire) == NOTIFIED
    }

    /// Whether a token is waiting to be consumed.
    pub(crate) fn has_token(&self) -> bool {
        self.state.load(Ordering::SeqCst) == NOTIFIED
    }

    /// Whether a thread is blocked in `park` with no token delivered yet.
    pub(crate) fn is_parked(&self) -> bool {
        self.state.load(Ordering::Acquire) == PARKED
    }

    /// Sets the token and wakes the parked thread, if any.
    pub(crate) fn unpark(&self) {
        // Release: publishes the waker's writes to the parked thread.
        if self.state.swap(NOTIFIED, Ordering::SeqCst) == PARKED {
            crate::futex::wake_one(&self.state);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn token_before_park_returns_at_once() {
        let n = Note::new();
        n.unpark();
        assert!(n.park(None));
    }

    #[test]
    fn park_times_out_without_token() {
        let n = Note::new();
        let t = Instant::now();
        assert!(!n.park(Some(Instant::now() + Duration::from_millis(10))));
        assert!(t.elapsed() >= Duration::from_millis(10));
    }

    #[test]
    fn unpark_from_other_thread_wakes() {
        let n = Arc::new(Note::new());
        let n2 = n.clone();
        let h = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(5));
            n2.unpark();
        });
        assert!(n.park(Some(Instant::now() + Duration::from_secs(10))));
        h.join().unwrap();
    }
}
