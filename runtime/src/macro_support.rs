//! What `#[goro::main]` and `#[goro::test]` expand to call (through `goro::__private`).
//! Not a public API: the attributes are documented in the `goro` crate.

use crate::config::Builder;
use std::sync::{OnceLock, PoisonError, RwLock};
use std::time::Duration;

/// `#[goro::main]`'s options, checked at compile time.
#[derive(Clone, Copy, Debug, Default)]
pub struct MainOptions {
    /// `gomaxprocs = N`.
    pub gomaxprocs: Option<usize>,
    /// `stack_size = "1m"` (in bytes).
    pub stack_size: Option<usize>,
}

/// The body of a `#[goro::main]` function: configures the runtime if options were given,
/// then runs `f` as the main goroutine.
#[track_caller]
pub fn main<F, T>(opts: MainOptions, f: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    if opts.gomaxprocs.is_some() || opts.stack_size.is_some() {
        let mut b = Builder::new();
        if let Some(n) = opts.gomaxprocs {
            b = b.gomaxprocs(n);
        }
        if let Some(n) = opts.stack_size {
            b = b.stack_size(n);
        }
        if let Err(e) = b.init() {
            panic!("#[goro::main] cannot apply its options: {e}");
        }
    }
    crate::block_on(f)
}

/// `#[goro::test]`'s options, checked at compile time.
#[derive(Clone, Copy, Debug)]
pub struct TestOptions {
    /// The test's path, for the watchdog's report.
    pub name: &'static str,
    /// `timeout = "10s"`; `None`: `GORO_TEST_TIMEOUT` or [`DEFAULT_TEST_TIMEOUT`].
    pub timeout: Option<Duration>,
    /// `gomaxprocs = N`.
    pub gomaxprocs: Option<usize>,
}

/// A test's timeout when neither the attribute nor `GORO_TEST_TIMEOUT` sets one.
pub const DEFAULT_TEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Held shared by every `#[goro::test]` while it runs, and exclusively by one with
/// `gomaxprocs = N`: the runtime is one per process, so a test that sets `gomaxprocs` runs
/// alone among goro tests, as a Go test that calls `runtime.GOMAXPROCS` runs alone among
/// non-parallel tests.
static GOMAXPROCS_LOCK: RwLock<()> = RwLock::new(());

/// `GORO_TEST_TIMEOUT`, read once (a bad value fails every test that needs it).
fn env_timeout() -> Result<Duration, &'static str> {
    static ENV: OnceLock<Result<Duration, String>> = OnceLock::new();
    ENV.get_or_init(|| match std::env::var("GORO_TEST_TIMEOUT") {
        Err(_) => Ok(DEFAULT_TEST_TIMEOUT),
        Ok(v) => crate::units::parse_duration(&v).ok_or_else(|| {
            format!(
                "GORO_TEST_TIMEOUT={v:?} is not a duration (write it as Go does: 90s, 5m, 1m30s; \
                 0 for none)"
            )
        }),
    })
    .as_ref()
    .map(|d| *d)
    .map_err(|e| e.as_str())
}

/// Puts `gomaxprocs` back when a `gomaxprocs = N` test ends (or panics).
struct Restore(usize);

impl Drop for Restore {
    fn drop(&mut self) {
        crate::gomaxprocs(self.0);
    }
}

/// The body of a `#[goro::test]` function: runs `f` as a goroutine under a watchdog (see
/// [`crate::watchdog`]), with `gomaxprocs` set for its duration if asked.
#[track_caller]
pub fn test<F, T>(opts: TestOptions, f: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let timeout = match opts.timeout {
        Some(t) => t,
        None => env_timeout().unwrap_or_else(|e| panic!("#[goro::test]: {e}")),
    };
    let (_shared, _exclusive, _restore);
    match opts.gomaxprocs {
        None => {
            _shared = GOMAXPROCS_LOCK
                .read()
                .unwrap_or_else(PoisonError::into_inner)
        }
        Some(n) => {
            _exclusive = GOMAXPROCS_LOCK
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            _restore = Restore(crate::gomaxprocs(n));
        }
    }
    // Armed once the lock is ours: waiting for another test is not this test's time.
    let _dog = (!timeout.is_zero()).then(|| {
        crate::watchdog::arm(
            timeout,
            opts.name,
            " (a #[goro::test]: raise its timeout with #[goro::test(timeout = \"..\")] or \
             GORO_TEST_TIMEOUT)",
        )
    });
    crate::block_on(f)
}
