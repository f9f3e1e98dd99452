//! The park word of a G: the state machine behind `park`/`unpark` (DESIGN.md section 3).
//!
//! # The switch invariant
//! A G must never be made runnable while its stack is still in use, i.e. before the switch
//! to g0 has saved its context. Parking therefore runs in two halves:
//!
//! 1. On the G: if a wakeup token is already there, consume it and return without switching
//!    ([`ParkState::try_consume`]). Otherwise switch to g0.
//! 2. Off the G's stack, after its context is saved: publish the G as parked with a CAS
//!    EMPTY -> PARKED ([`ParkState::commit`]). That is g0 (`execute`), or, after a direct
//!    park, the goroutine the G switched straight to (`after_resume`, see
//!    [`crate::directpark`]). If an `unpark` slipped in between the two halves the word is
//!    NOTIFIED instead; the committer consumes the token and resumes the G at once.
//!
//! [`ParkState::unpark`] only makes the G runnable when it moves the word from PARKED, which
//! the committer stores after the save, so the one thread allowed to resume the G is the one
//! that won that transition. Any other unpark leaves (or finds) a token.
//!
//! The word also carries a generation, bumped each time a G record is reused for a new
//! goroutine, so a stale `Waiter` for an earlier goroutine cannot wake its successor.
//!
//! A fourth state, TRIMMING, lets one thread own a parked G's stack for a moment: sysmon
//! trimming it ([`crate::stacktrim`]), or a goroutine dump walking its frames
//! ([`crate::dump`]). PARKED -> TRIMMING -> PARKED, by that owner alone (the CAS from PARKED
//! admits one owner at a time). An unpark that finds TRIMMING waits for PARKED (one `madvise`
//! call, or one stack walk of a few microseconds), so no G is made runnable while its stack
//! is being trimmed or read. Nothing else ever sees TRIMMING: the G is parked, so nobody
//! commits, consumes a token or reuses the record meanwhile (asserted in debug builds).

use crate::__loom::{AtomicU64, Ordering};

const EMPTY: u64 = 0;
const NOTIFIED: u64 = 1;
const PARKED: u64 = 2;
const TRIMMING: u64 = 3;
const STATE_MASK: u64 = 3;

/// `generation << 2 | state`.
#[derive(Debug)]
pub(crate) struct ParkState(AtomicU64);

impl ParkState {
    pub(crate) fn new() -> ParkState {
        ParkState(AtomicU64::new(EMPTY))
    }

    /// The current generation (the goroutine incarnation a `Waiter` refers to).
    pub(crate) fn generation(&self) -> u64 {
        self.0.load(Ordering::Relaxed) >> 2
    }

    /// Starts a new generation with no token. Only while no goroutine uses the record.
    pub(crate) fn next_generation(&self) {
        debug_assert_ne!(
            self.0.load(Ordering::Relaxed) & STATE_MASK,
            TRIMMING,
            "a G record reused while sysmon trims it"
        );
        let g = self.generation().wrapping_add(1);
        // A swap, not a store: a stale unpark's CAS racing with the reuse is then ordered
        // before or after it in the word's modification order, and either way the new
        // generation starts with no token.
        self.0.swap(g << 2 | EMPTY, Ordering::Relaxed);
    }

    /// First half, on the G: consumes a pending token. Returns true if there was one (the
    /// caller returns without parking).
    pub(crate) fn try_consume(&self) -> bool {
        let w = self.0.load(Ordering::Relaxed);
        debug_assert_ne!(w & STATE_MASK, TRIMMING, "a running G's word says TRIMMING");
        w & STATE_MASK == NOTIFIED
            // Acquire: pairs with the unparker's release, so its writes are visible.
            && self
                .0
                .compare_exchange(w, w & !STATE_MASK, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
    }

    /// Second half, after the G's context is saved: on g0, or on the G it switched to
    /// directly (`directpark::after_resume`). Returns true if the G is now
    /// parked (an unparker will ready it), false if a token arrived and was consumed, in which
    /// case the caller resumes the G itself.
    pub(crate) fn commit(&self) -> bool {
        let mut w = self.0.load(Ordering::Relaxed);
        loop {
            debug_assert!(
                w & STATE_MASK != PARKED && w & STATE_MASK != TRIMMING,
                "park commit: already parked"
            );
            let new = if w & STATE_MASK == NOTIFIED {
                w & !STATE_MASK // Consume the token: resume.
            } else {
                w | PARKED
            };
            // AcqRel: release publishes the saved context to the future unparker; acquire
            // takes the token's writes when we consume one.
            match self
                .0
                .compare_exchange_weak(w, new, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return new & STATE_MASK == PARKED,
                Err(cur) => w = cur,
            }
        }
    }

    /// Any thread. Wakes generation `generation` of the G. Returns true if the caller won the
    /// PARKED -> EMPTY transition and must now make the G runnable; false if a token was left
    /// for the G, or the generation is stale.
    pub(crate) fn unpark(&self, generation: u64) -> bool {
        let mut w = self.0.load(Ordering::Relaxed);
        loop {
            if w >> 2 != generation {
                return false;
            }
            let new = match w & STATE_MASK {
                PARKED => w & !STATE_MASK,
                TRIMMING => {
                    // sysmon is trimming the parked G's stack, or a dump reading it: wait until
                    // it is PARKED again.
                    crate::__loom::spin_wait();
                    w = self.0.load(Ordering::Relaxed);
                    continue;
                }
                _ => (w & !STATE_MASK) | NOTIFIED, // EMPTY or already NOTIFIED.
            };
            // AcqRel: release publishes the waker's writes to the G (directly, or through the
            // token it will consume); acquire takes the saved context from `commit`.
            match self
                .0
                .compare_exchange_weak(w, new, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return w & STATE_MASK == PARKED,
                Err(cur) => w = cur,
            }
        }
    }
}

impl ParkState {
    /// sysmon's trim or a dump: takes a parked G (PARKED -> TRIMMING). False if it is not
    /// parked, or already taken. Until [`end_trim`](ParkState::end_trim) nobody can make the
    /// G runnable.
    pub(crate) fn begin_trim(&self) -> bool {
        let w = self.0.load(Ordering::Relaxed);
        // Acquire: pairs with `commit`'s release, so the saved context is visible.
        w & STATE_MASK == PARKED
            && self
                .0
                .compare_exchange(
                    w,
                    (w & !STATE_MASK) | TRIMMING,
                    Ordering::Acquire,
                    Ordering::Relaxed,
                )
                .is_ok()
    }

    /// The owner that took the G: TRIMMING -> PARKED. Release: what trimming wrote (the saved
    /// stack's record) is visible to the unparker that then wins PARKED, and so to the M that
    /// resumes the G.
    pub(crate) fn end_trim(&self) {
        let w = self.0.load(Ordering::Relaxed);
        debug_assert_eq!(w & STATE_MASK, TRIMMING, "end_trim: not trimming");
        // Only the owner changes a TRIMMING word (unparkers wait; commit, try_consume and
        // next_generation never meet it, a second would-be owner's CAS from PARKED fails),
        // so the word is still `w`: a CAS makes sure.
        let r = self.0.compare_exchange(
            w,
            (w & !STATE_MASK) | PARKED,
            Ordering::Release,
            Ordering::Relaxed,
        );
        debug_assert!(r.is_ok(), "end_trim: the word changed during the trim");
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn token_before_park_is_consumed() {
        let s = ParkState::new();
        assert!(!s.unpark(0), "nobody parked: a token is left");
        assert!(s.try_consume());
        assert!(!s.try_consume(), "the token is single");
    }

    #[test]
    fn unpark_between_halves_resumes_without_readying() {
        let s = ParkState::new();
        assert!(!s.try_consume());
        assert!(!s.unpark(0));
        assert!(
            !s.commit(),
            "commit sees the token and resumes the G itself"
        );
    }

    #[test]
    fn unpark_after_commit_readies_once() {
        let s = ParkState::new();
        assert!(s.commit());
        assert!(s.unpark(0));
        assert!(!s.unpark(0), "second unpark only leaves a token");
        assert!(s.try_consume());
    }

    #[test]
    fn an_unpark_waits_for_a_trim_to_end_and_then_readies() {
        let s = std::sync::Arc::new(ParkState::new());
        assert!(!s.begin_trim(), "not parked: nothing to trim");
        assert!(s.commit());
        assert!(s.begin_trim());
        let s2 = s.clone();
        let waker = std::thread::spawn(move || s2.unpark(0));
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(!waker.is_finished(), "the unpark went through a trim");
        s.end_trim();
        assert!(
            waker.join().unwrap(),
            "after the trim the unpark readies the G"
        );
        assert!(!s.begin_trim(), "a runnable G is not trimmed");
    }

    #[test]
    fn stale_generation_is_ignored() {
        let s = ParkState::new();
        s.next_generation();
        assert!(s.commit());
        assert!(!s.unpark(0));
        assert!(s.unpark(1));
    }
}
