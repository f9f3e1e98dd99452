//! Helpers shared by the chan test files (each includes this with `mod support;`).

#![allow(dead_code)]

use std::any::Any;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The message of a panic payload (`&str` or `String`), for asserting on it.
pub fn panic_message(p: &(dyn Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic payload>".to_string()
    }
}

/// Runs `f`, expecting it to panic with exactly `msg`.
pub fn expect_panic<R>(msg: &str, f: impl FnOnce() -> R) {
    quiet_expected_panics();
    match panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(_) => panic!("expected a panic `{msg}`, but the operation returned"),
        Err(p) => assert_eq!(panic_message(&*p), msg, "wrong panic message"),
    }
}

/// The panics these tests provoke on purpose (Go's channel panics) would otherwise print a
/// note per occurrence (hundreds in the close-race tests); every other panic still prints.
pub fn quiet_expected_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let prev = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let msg = panic_message(info.payload());
            if !matches!(
                msg.as_str(),
                "send on closed channel" | "close of closed channel" | "close of nil channel"
            ) {
                prev(info);
            }
        }));
    });
}

/// A value that counts its drops, to check that none is lost, duplicated or leaked.
pub struct Counted {
    pub drops: Arc<AtomicUsize>,
    pub id: u32,
}

impl Counted {
    pub fn new(drops: &Arc<AtomicUsize>) -> Counted {
        Counted::with_id(drops, 0)
    }

    pub fn with_id(drops: &Arc<AtomicUsize>, id: u32) -> Counted {
        Counted {
            drops: drops.clone(),
            id,
        }
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

/// Asserts `counts` are consistent with a uniform choice: Pearson's chi-squared against the
/// critical value at p = 1e-9 for `counts.len() - 1` degrees of freedom (Wilson-Hilferty),
/// so a fair select fails by chance about once in a billion runs, not once in a thousand
/// as at p = 0.001. With 100,000 samples over 4 cases that still catches a select that
/// favours one case by 5% (chi-squared ~80 against a bound of ~50).
#[track_caller]
pub fn assert_uniform(counts: &[usize]) {
    let df = (counts.len() - 1) as f64;
    let z = 6.0; // one-sided normal quantile for p = 1e-9
    let h = 2.0 / (9.0 * df);
    let critical = df * (1.0 - h + z * h.sqrt()).powi(3);
    let chi2 = chi_squared(counts);
    assert!(
        chi2 < critical,
        "not uniform: counts {counts:?}, chi-squared {chi2:.2} (bound {critical:.1}, p = 1e-9)"
    );
}

/// Pearson's chi-squared statistic of `counts` against a uniform distribution.
pub fn chi_squared(counts: &[usize]) -> f64 {
    let total: usize = counts.iter().sum();
    let expected = total as f64 / counts.len() as f64;
    counts
        .iter()
        .map(|&c| (c as f64 - expected).powi(2) / expected)
        .sum()
}
