//! The scheduler's and the locks' tuned numbers, in one place: each default says where its
//! value comes from (what was measured, on which CPU), and each can be overridden through
//! `GORO_DEBUG` for experiments (`GORO_DEBUG=backlog=40000,stealwindow=1500`), which is how
//! `benches/compare/sweep.sh` measures whether a default is right on the machine at hand.
//!
//! Two CPUs were measured: an Intel Xeon (2 vCPUs, KVM; where the defaults were first tuned:
//! cross-core hand-offs expensive) and an AMD EPYC (family 25 model 1, Zen 3; 2 vCPUs, KVM:
//! cheaper cross-core traffic). Numbers that depend on how fast a CPU spins are calibrated at
//! start-up instead ([`SPIN_ROUND_NS`] is a duration, turned into a count of `spin_loop` hints
//! by timing them, see `syncsupport::spin_round_pauses`); the others are durations or counts
//! of events whose right value follows from the costs they weigh (a futex wake, a steal's
//! cache misses).
//!
//! # The AMD sweep (2026-12-06)
//! `benches/compare/sweep.sh` on the AMD EPYC, goro alone, each setting interleaved with the
//! defaults in every round; figures are the median over rounds of setting/default (lower is
//! better), 4 rounds (8 where a first result looked like a gain). On this VM a ratio within
//! about 0.9-1.1 is noise: the 8-round reruns of the apparent gains came back inside it. No
//! setting beat the defaults on every workload; halving a duration hurt clearly, doubling it
//! changed little. So the Intel-picked defaults stand on both CPUs; each constant below says
//! what moving it did.

use std::sync::OnceLock;

/// How long a running P's `runnext` is left to its own M before a spinning M takes it (Go's
/// `runqsteal` sleeps 3 us before taking a running P's runnext, for the same reason: the
/// readying goroutine is usually about to block, and its own M then runs the new one warm).
/// AMD sweep: 1 us W2 x1.11, W4 x1.23; 6 us W2-W5 x0.94-0.98 but W6 x1.19, W12 x1.10.
pub(crate) const RUNNEXT_GRACE_NS: u64 = 3_000;

/// How long a spinning M watches another P's ring before judging whether to steal from it
/// (see [`BACKLOG_NS`]). A few hundred of that P's switches on a channel workload: enough to
/// see its rate, short against the 20 us it judges by. AMD sweep: 1.5 us W4 x1.28, W6 x1.92,
/// W5 x1.08; 6 us W4 x1.13, the rest x0.89-1.02.
pub(crate) const STEAL_WINDOW_NS: u64 = 3_000;

/// A ring is stolen from only if its P, switching at the rate it did during the window,
/// would need at least this long to reach its last G (or if it did not switch at all). Go
/// steals half of any non-empty ring, which splits goroutines that hand work to each other
/// (a fan-in, a pipeline, a mutex) across cores, where every hand-off then costs cross-core
/// misses. The rule came with commit a89e4ea (Intel Xeon; A/B against stealing any ring,
/// medians of 4-8 interleaved runs: W5 525 -> 184 ns, W6 173 -> 73, W12 1013 -> 628, W2
/// 401 -> 328, the rest unchanged); 20 us (and [`STEAL_WINDOW_NS`]'s 3 us) were picked there,
/// as a few futex wake-ups' worth (10-30 us each on these VMs), not swept. AMD sweep: 10 us
/// W6 x1.18, the rest x0.93-1.04; 40 us W2 x1.10, W4 x1.10, W6 x1.34.
pub(crate) const BACKLOG_NS: u64 = 20_000;

/// How long a spinning M looks for work before it gives its P back and sleeps, at least and
/// at most (see `proc::adapt_spin`): a futex wake costs tens of microseconds on these VMs, so
/// a spinner that a `wakep` would soon wake again is cheaper left spinning; 50 us covers the
/// gap between two readies of a ping-pong on one P, 1 ms bounds the CPU burnt by an idle M.
/// AMD sweep: 25 us W4 x1.67, W6 x1.50; 100 us x0.89-0.93 over 4 rounds, x0.98-1.10 over 8;
/// 200 us x0.91-1.12 (8 rounds).
pub(crate) const IDLE_SPIN_MIN_NS: u64 = 50_000;
/// See [`IDLE_SPIN_MIN_NS`]. Not swept: it bounds the CPU an idle M burns, not a speed.
pub(crate) const IDLE_SPIN_MAX_NS: u64 = 1_000_000;

/// A spinning M polls the network at most this often: a poll is a ~0.3 us system call, and
/// 5 us keeps it well under a tenth of the M's time. Not swept (N1-N3 are not in the sweep's
/// default list; `spinpoll` can be).
pub(crate) const SPIN_POLL_NS: u64 = 5_000;

/// How long one lock-spin round lasts (Go spins 30 `PAUSE`s a round, 0.1 us on CPUs with a
/// 10-cycle `PAUSE` and 1.4 us with a 140-cycle one; goro times the hint at start-up and
/// spins this long everywhere). A spinner polls the lock once a round: polling sooner steals
/// the lock's line from a holder re-locking in a loop (W9 on the Intel Xeon: 48 ns per
/// increment with 0.4 us rounds, 33 ns with 1.6 us). AMD sweep: 0.8 us W9 x1.03, W13 x1.03;
/// 3.2 us W9 x0.86, W13 x0.97 over 5 rounds, then x1.00 and x1.10 (W2 x0.91, W7 x1.11) over 8.
pub(crate) const SPIN_ROUND_NS: u64 = 1_600;

/// Spin rounds a lock may make before it queues (Go's `active_spin`). AMD sweep (5 rounds): 2
/// rounds W9 x0.98, W13 x0.97; 8 rounds x0.99, x1.03: flat.
pub(crate) const ACTIVE_SPIN: u32 = 4;

/// The values in force: the defaults above, or `GORO_DEBUG`'s overrides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tune {
    pub(crate) runnext_grace_ns: u64,
    pub(crate) steal_window_ns: u64,
    pub(crate) backlog_ns: u64,
    pub(crate) idle_spin_min_ns: u64,
    pub(crate) idle_spin_max_ns: u64,
    pub(crate) spin_poll_ns: u64,
    pub(crate) spin_round_ns: u64,
    pub(crate) active_spin: u32,
}

impl Default for Tune {
    fn default() -> Tune {
        Tune {
            runnext_grace_ns: RUNNEXT_GRACE_NS,
            steal_window_ns: STEAL_WINDOW_NS,
            backlog_ns: BACKLOG_NS,
            idle_spin_min_ns: IDLE_SPIN_MIN_NS,
            idle_spin_max_ns: IDLE_SPIN_MAX_NS,
            spin_poll_ns: SPIN_POLL_NS,
            spin_round_ns: SPIN_ROUND_NS,
            active_spin: ACTIVE_SPIN,
        }
    }
}

impl Tune {
    /// Applies one `GORO_DEBUG` setting; false if `key` is not one of ours.
    pub(crate) fn set(&mut self, key: &str, v: u64) -> bool {
        match key {
            "runnextgrace" => self.runnext_grace_ns = v,
            "stealwindow" => self.steal_window_ns = v.max(1),
            "backlog" => self.backlog_ns = v,
            "idlespinmin" => self.idle_spin_min_ns = v,
            "idlespinmax" => self.idle_spin_max_ns = v,
            "spinpoll" => self.spin_poll_ns = v,
            "spinround" => self.spin_round_ns = v,
            "activespin" => self.active_spin = u32::try_from(v).unwrap_or(u32::MAX),
            _ => return false,
        }
        // The range stays a range whichever end was set.
        self.idle_spin_max_ns = self.idle_spin_max_ns.max(self.idle_spin_min_ns);
        true
    }
}

static TUNE: OnceLock<Tune> = OnceLock::new();

/// The values in force (read once from `GORO_DEBUG`).
#[inline]
pub(crate) fn get() -> &'static Tune {
    TUNE.get_or_init(crate::debug::tune_from_env)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_override_their_default_and_keep_the_spin_range_a_range() {
        let mut t = Tune::default();
        assert!(t.set("backlog", 40_000));
        assert!(t.set("idlespinmin", 2_000_000));
        assert!(!t.set("nosuch", 1));
        assert_eq!(t.backlog_ns, 40_000);
        assert_eq!(t.idle_spin_min_ns, 2_000_000);
        assert_eq!(t.idle_spin_max_ns, 2_000_000);
        assert_eq!(t.steal_window_ns, STEAL_WINDOW_NS);
    }
}
