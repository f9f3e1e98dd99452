//! What the loom models of chan and sync share (sync includes this file with `#[path]`): a
//! checker builder with a preemption bound, and outcome coverage counters.

use std::sync::Arc as StdArc;
use std::sync::atomic::{AtomicUsize as StdAtomicUsize, Ordering as StdOrdering};

/// A loom checker with at most `bound` preemptions per execution, unless
/// `LOOM_MAX_PREEMPTIONS` says otherwise.
pub(crate) fn builder(bound: Option<usize>) -> loom::model::Builder {
    let mut b = loom::model::Builder::new();
    if std::env::var_os("LOOM_MAX_PREEMPTIONS").is_none() {
        b.preemption_bound = bound;
    }
    b
}

/// Outcome counters kept across the executions of one model (plain std atomics: outside the
/// model, only read after `check` returns).
pub(crate) struct Coverage {
    model: &'static str,
    names: &'static [&'static str],
    executions: StdAtomicUsize,
    hits: Vec<StdAtomicUsize>,
}

impl Coverage {
    pub(crate) fn new(model: &'static str, names: &'static [&'static str]) -> StdArc<Coverage> {
        StdArc::new(Coverage {
            model,
            names,
            executions: StdAtomicUsize::new(0),
            hits: names.iter().map(|_| StdAtomicUsize::new(0)).collect(),
        })
    }

    pub(crate) fn execution(&self) {
        self.executions.fetch_add(1, StdOrdering::Relaxed);
    }

    pub(crate) fn hit(&self, outcome: usize) {
        self.hits[outcome].fetch_add(1, StdOrdering::Relaxed);
    }

    /// Records which partner of a send/receive pair parked in this execution, as one of the
    /// outcomes `sender`, `receiver` or `nobody` (both may have, where the model allows it).
    /// Returns (sender parked, receiver parked).
    /// `parked` says whether some thread parked with a reason (the model's `Execution`).
    #[allow(dead_code)] // chan's models use it; sync includes this file too
    pub(crate) fn hit_parked(
        &self,
        parked: impl Fn(runtime::WaitReason) -> bool,
        sender: usize,
        receiver: usize,
        nobody: usize,
    ) -> (bool, bool) {
        let s = parked(runtime::WaitReason::ChanSend);
        let r = parked(runtime::WaitReason::ChanReceive);
        if s {
            self.hit(sender);
        }
        if r {
            self.hit(receiver);
        }
        if !s && !r {
            self.hit(nobody);
        }
        (s, r)
    }

    /// Prints the counts and fails if an outcome was never reached.
    pub(crate) fn assert_all_reached(&self) {
        let counts: Vec<String> = self
            .names
            .iter()
            .zip(&self.hits)
            .map(|(n, h)| format!("{n} {}", h.load(StdOrdering::Relaxed)))
            .collect();
        eprintln!(
            "{}: executions {}, {}",
            self.model,
            self.executions.load(StdOrdering::Relaxed),
            counts.join(", ")
        );
        for (n, h) in self.names.iter().zip(&self.hits) {
            assert!(
                h.load(StdOrdering::Relaxed) > 0,
                "{}: outcome not explored: {n}",
                self.model
            );
        }
    }
}
