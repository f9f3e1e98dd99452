//! Small shared building blocks for the runtime, chan and sync (re-exported as
//! `runtime::__kit`; not a public API): one cache-line padding type, one
//! spin-then-yield backoff and one fast RNG.
//!
//! # Padding
//!
//! [`CachePadded`] is crossbeam-utils' type: it aligns (and pads) its contents to the cache
//! line *pair* on x86_64, aarch64 and powerpc64 (128 bytes: the adjacent-line prefetcher pulls
//! 64-byte lines in twos, so two words 64 bytes apart still false-share), 256 on s390x, 32 on
//! arm/mips/sparc/hexagon, 16 on m68k, 64 elsewhere. Every "alone on its cache line" in goro
//! uses it, so there is one answer to "how big is a line". The one place that still writes
//! `#[repr(align(128))]` by hand is `chan`'s array channel (`Padded` in `array.rs`), which
//! matches `CachePadded` on x86_64 and aarch64.

pub use crossbeam_utils::CachePadded;

use std::cell::Cell;

/// Exponential backoff for a thread waiting on another thread's short store: spin
/// `2^step` PAUSEs per call for the first `SPIN_LIMIT + 1` calls (1, 2, 4 .. 64: 127 PAUSEs,
/// around a microsecond or two), then yield on every call. The ladder and its limit are
/// crossbeam-utils' `Backoff::snooze` (its `SPIN_LIMIT = 6`); crossbeam's type itself is not
/// used because it can only yield the OS thread, while a goroutine waiting for another
/// goroutine must yield its P ([`crate::gosched`]) or the holder may never run:
/// [`Backoff::snooze_with`] takes the yield. Not for calibrated spins (sync's lock spin,
/// `do_spin`, and the Ms' timed spin for work keep their own numbers).
#[derive(Debug, Default)]
pub struct Backoff {
    step: Cell<u32>,
}

impl Backoff {
    /// Calls that spin before the backoff starts yielding, minus one (crossbeam-utils' value).
    pub const SPIN_LIMIT: u32 = 6;

    /// A fresh backoff (in its spin phase).
    pub const fn new() -> Backoff {
        Backoff { step: Cell::new(0) }
    }

    /// Waits a little: spins in the spin phase, then yields the thread.
    #[inline]
    pub fn snooze(&self) {
        self.snooze_with(std::thread::yield_now);
    }

    /// Waits a little: spins in the spin phase, then calls `yield_now` (e.g. `gosched`).
    #[inline]
    pub fn snooze_with(&self, yield_now: impl FnOnce()) {
        let step = self.step.get();
        if step <= Self::SPIN_LIMIT {
            for _ in 0..1u32 << step {
                std::hint::spin_loop();
            }
            self.step.set(step + 1);
        } else {
            yield_now();
        }
    }
}

/// A small, fast, non-cryptographic RNG for scheduling decisions (steal order, select's poll
/// order): xorshift64* (Marsaglia's xorshift with shifts 12/25/27, output multiplied by
/// `0x2545F4914F6CDD1D`; both from S. Vigna, "An experimental exploration of Marsaglia's
/// xorshift generators, scrambled", ACM TOMS 2016), returning the high 32 bits, the best
/// ones. One per M (`M::rng`, seeded from the M's id when it is reset) and one per thread
/// in chan's select (seeded from the clock and a stack address). A zero seed would stay zero;
/// seeds are chosen non-zero.
///
/// Not `Sync` (a `Cell`): each generator belongs to one thread at a time.
#[derive(Debug)]
pub struct FastRand(Cell<u64>);

impl FastRand {
    /// A generator starting from `seed` (should be non-zero).
    pub const fn new(seed: u64) -> FastRand {
        FastRand(Cell::new(seed))
    }

    /// Restarts the sequence from `seed`.
    pub fn reseed(&self, seed: u64) {
        self.0.set(seed);
    }

    /// The next 32 random bits.
    #[inline]
    pub fn next_u32(&self) -> u32 {
        let mut x = self.0.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0.set(x);
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) as u32
    }

    /// A random number in `0..n` (`n` at most `u32::MAX`), by Lemire's multiply-shift
    /// ("Fast random integer generation in an interval", ACM TOMS 2019) without its rejection
    /// step: the bias is below `n / 2^32`, nothing for the small `n` here (Ps, select cases),
    /// and there is no division.
    #[inline]
    pub fn below(&self, n: usize) -> usize {
        debug_assert!(n <= u32::MAX as usize);
        ((u64::from(self.next_u32()) * n as u64) >> 32) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn cache_padded_is_a_line_pair_on_x86_64() {
        assert_eq!(align_of::<CachePadded<u8>>(), 128);
        assert_eq!(size_of::<CachePadded<u8>>(), 128);
    }

    #[test]
    fn backoff_spins_seven_times_then_yields() {
        let b = Backoff::new();
        let mut yields = 0;
        for _ in 0..10 {
            b.snooze_with(|| yields += 1);
        }
        assert_eq!(yields, 10 - (Backoff::SPIN_LIMIT + 1));
    }

    #[test]
    fn fast_rand_is_xorshift64_star() {
        // The sequence the two hand-written copies produced (runtime's M::fastrand, chan's
        // select): x ^= x >> 12; x ^= x << 25; x ^= x >> 27; high half of x * 0x2545F4914F6CDD1D.
        let r = FastRand::new(1);
        let mut x: u64 = 1;
        for _ in 0..100 {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            assert_eq!(
                r.next_u32(),
                (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) as u32
            );
        }
    }

    #[test]
    fn below_stays_below_and_covers() {
        let r = FastRand::new(0x9E37_79B9_7F4A_7C15);
        for n in 1..20 {
            let mut seen = vec![false; n];
            for _ in 0..1000 {
                let v = r.below(n);
                assert!(v < n);
                seen[v] = true;
            }
            assert!(seen.iter().all(|&b| b), "n = {n}");
        }
    }
}
