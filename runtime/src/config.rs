//! Runtime configuration: [`Builder`] and the `GOMAXPROCS` / `GORO_STACK_SIZE` environment
//! variables.

use crate::stack::{DEFAULT_STACK_SIZE, MIN_STACK_SIZE};
use crate::units::parse_size;
use std::fmt;
use std::sync::Mutex;

#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub(crate) procs: usize,
    pub(crate) stack_size: usize,
}

static PENDING: Mutex<Option<Config>> = Mutex::new(None);

fn from_env() -> Config {
    let procs = std::env::var("GOMAXPROCS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let (stack_size, warning) = stack_size_setting(std::env::var("GORO_STACK_SIZE").ok());
    if let Some(w) = warning {
        diag!("{w}");
    }
    Config { procs, stack_size }
}

/// The stack size `GORO_STACK_SIZE` asks for, and the warning to print (once, at start-up)
/// when it cannot be parsed: a bad value is reported, never silently replaced. (Go ignores a
/// malformed `GOMAXPROCS` silently; so does goro, as documented on [`Builder`].)
fn stack_size_setting(value: Option<String>) -> (usize, Option<String>) {
    match value {
        None => (DEFAULT_STACK_SIZE, None),
        Some(v) => match parse_size(&v) {
            Some(n) => (n, None),
            None => (
                DEFAULT_STACK_SIZE,
                Some(format!(
                    "goro: GORO_STACK_SIZE={v:?} is not a size (use bytes or a k/m/g suffix, \
                     e.g. 512k, 4m, 1g); using the default {} KiB",
                    DEFAULT_STACK_SIZE / 1024
                )),
            ),
        },
    }
}

/// Called once by the scheduler's initialisation.
pub(crate) fn take() -> Config {
    PENDING
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
        .unwrap_or_else(from_env)
}

/// Why [`Builder::init`] failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InitError {
    /// The runtime was already running (something spawned a goroutine first).
    AlreadyStarted,
}

impl fmt::Display for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InitError::AlreadyStarted => {
                f.write_str("goro runtime already started: configure it before the first spawn")
            }
        }
    }
}

impl std::error::Error for InitError {}

/// Configures the global runtime before its first use.
///
/// Unset fields come from the environment (`GOMAXPROCS`, `GORO_STACK_SIZE`, which accepts
/// `k`/`m`/`g` suffixes) or the defaults: as many Ps as available parallelism, 256 KiB stacks.
/// An unparsable `GORO_STACK_SIZE` is reported on stderr and the default used; a malformed
/// or zero `GOMAXPROCS` is ignored silently, as Go ignores it.
///
/// ```
/// // In main(), before any goroutine is spawned:
/// let r = runtime::Builder::new().gomaxprocs(2).stack_size(512 * 1024).init();
/// // Fails only if the runtime was started already (as it may be in this doctest).
/// assert!(r.is_ok() || r == Err(runtime::InitError::AlreadyStarted));
/// ```
#[derive(Clone, Debug, Default)]
pub struct Builder {
    procs: Option<usize>,
    stack_size: Option<usize>,
}

impl Builder {
    /// A builder with nothing set.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Number of Ps (goroutines running in parallel). Clamped to 1..=[`crate::MAX_PROCS`].
    pub fn gomaxprocs(mut self, n: usize) -> Builder {
        self.procs = Some(n);
        self
    }

    /// Usable bytes per goroutine stack (virtual; rounded up to pages, at least 64 KiB).
    pub fn stack_size(mut self, bytes: usize) -> Builder {
        self.stack_size = Some(bytes.max(MIN_STACK_SIZE));
        self
    }

    /// Starts the runtime with this configuration.
    pub fn init(self) -> Result<(), InitError> {
        let env = from_env();
        let cfg = Config {
            procs: self.procs.unwrap_or(env.procs),
            stack_size: self.stack_size.unwrap_or(env.stack_size),
        };
        *PENDING.lock().unwrap_or_else(|e| e.into_inner()) = Some(cfg);
        crate::sched::ensure_init();
        // If our config is still pending, an earlier start used another one.
        let unused = PENDING.lock().unwrap_or_else(|e| e.into_inner()).take();
        match unused {
            Some(_) => Err(InitError::AlreadyStarted),
            None => Ok(()),
        }
    }
}

/// Usable bytes of each goroutine stack in this runtime.
pub fn stack_size() -> usize {
    crate::sched::ensure_init();
    crate::sched::SCHED.stacks.size()
}

#[cfg(test)]
mod tests {
    use super::{DEFAULT_STACK_SIZE, parse_size, stack_size_setting};

    #[test]
    fn a_bad_stack_size_is_reported_and_gigabytes_parse() {
        assert_eq!(parse_size("10g"), Some(10 << 30));
        assert_eq!(parse_size("1GiB"), Some(1 << 30));
        assert_eq!(parse_size("2G"), Some(2 << 30));
        let (n, warning) = stack_size_setting(Some("garbage".into()));
        assert_eq!(n, DEFAULT_STACK_SIZE);
        let w = warning.expect("a warning for an unparsable value");
        assert!(
            w.contains("GORO_STACK_SIZE") && w.contains("garbage"),
            "{w}"
        );
        assert_eq!(stack_size_setting(Some("512k".into())), (512 * 1024, None));
        assert_eq!(stack_size_setting(None), (DEFAULT_STACK_SIZE, None));
    }
}
