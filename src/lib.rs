//! # goro — Go's concurrency model, in Rust
//!
//! Goroutines on a GMP scheduler, channels with Go's semantics, `select!`, `time` channels,
//! `context` and Go's `sync`, so that a Go program ports line for line.
//!
//! ```
//! use goro::{chan, go};
//! let ch = chan::make::<&str>(0); // ch := make(chan string)
//! let tx = ch.clone();
//! go!(move || tx.send("hello from a goroutine"));
//! assert_eq!(ch.recv(), Some("hello from a goroutine"));
//! ```
//!
//! Read [`runtime`]'s crate docs for the migration contract: what must not be held across a
//! park point, because a goroutine may resume on another OS thread.

// `::goro::...` (what `#[goro::main]` / `#[goro::test]` expand to) names this crate from
// inside it too.
extern crate self as goro;

/// The scheduler: goroutines, park/unpark, timers, `gomaxprocs`, dumps.
pub use runtime;

/// Channels (`chan::make`, `Chan`, `Sender`, `Receiver`) and the dynamic `Select`.
pub use chan;

/// Go's `time` channels: `after`, `tick`, `Timer`, `Ticker`, `after_func`, `sleep`; and
/// `time::rate`, Go's `golang.org/x/time/rate` limiter.
pub use chan::time;

/// Go's `context`: cancellation, deadlines and values down a call tree.
pub use chan::context;

/// Go's `os/signal`: Unix signals delivered to channels, `notify_context`.
pub use chan::signal;

/// Go's `iter.Pull`: a push iterator turned into a pull one, its producer a coroutine.
pub use runtime::iter;

/// Go's `sync` (and `x/sync`): `WaitGroup`, `Once`, `Mutex`, `RwMutex`, `Pool`, `Cond`,
/// `Semaphore`, `ErrGroup`.
pub use sync;

/// Go's `net`: TCP, UDP and Unix sockets on the netpoller, `dial`/`listen`, deadlines,
/// `close`, `pipe`.
pub use net;

pub use runtime::{block_on, go, goroutine_local, gosched, scope, spawn};

/// The README's examples, compiled and run as doctests so they cannot rot.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

/// docs/PORTING.md's examples, compiled and run as doctests too.
#[doc = include_str!("../docs/PORTING.md")]
#[cfg(doctest)]
pub struct PortingDoctests;

pub use chan::select;

/// Runs `fn main` as Go runs `func main()`: as the main goroutine, in [`block_on`].
///
/// ```
/// use goro::chan;
///
/// #[goro::main]
/// fn main() {
///     let ch = chan::make::<&str>(0);
///     goro::go!(ch => ch.send("ping"));
///     assert_eq!(ch.recv(), Some("ping"));
/// }
/// ```
///
/// Options configure the runtime before it starts, through [`runtime::Builder`]:
/// * `gomaxprocs = N`: the number of Ps (an integer literal, at least 1; clamped to
///   [`runtime::MAX_PROCS`]). It wins over the `GOMAXPROCS` environment variable, as a Go
///   program's `runtime.GOMAXPROCS(N)` at the top of `main` overrides it.
/// * `stack_size = "1m"`: each goroutine's stack, in bytes, written as a string with the
///   grammar of `GORO_STACK_SIZE` (`"512k"`, `"1m"`, `"1MiB"`, `"1g"`) or as an integer
///   literal; rounded up as [`runtime::Builder::stack_size`] does. It wins over
///   `GORO_STACK_SIZE`.
///
/// An option left out comes from the environment or the default, as with `Builder`. Values
/// are checked at compile time; an unknown option, a bad value, an `async fn` or a `main`
/// with arguments is a compile error. If the runtime was started before `main` (a static
/// initializer spawned a goroutine), options cannot apply and `main` panics.
///
/// ```
/// #[goro::main(gomaxprocs = 2, stack_size = "1m")]
/// fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
///     // In a doctest, another test may have started the runtime first: then it is not 2.
///     assert!(goro::runtime::gomaxprocs(0) >= 1);
///     let n: u32 = "42".parse()?; // `?` works: the body keeps main's return type
///     assert_eq!(n, 42);
///     Ok(())
/// }
/// ```
///
/// The function may return any type `main` may (`()`, `Result<(), E>` with `E: Debug`), and
/// the value must be `Send + 'static`, as it comes back from the goroutine: use
/// `Box<dyn Error + Send + Sync>` rather than `Box<dyn Error>`. The body is moved into a
/// `move` closure (`return` and `?` work as in `main`), so
/// `#[goro::main(gomaxprocs = 4)] fn main() -> R { body }` expands to
///
/// ```text
/// fn main() -> R {
///     ::goro::__private::main(
///         MainOptions { gomaxprocs: Some(4), stack_size: None },
///         move || -> R { body }, // Builder::new().gomaxprocs(4).init(), then block_on(..)
///     )
/// }
/// ```
///
/// When `main` returns, the process exits, whatever goroutines are still running, as in Go.
/// A panic in the body is resumed in `main` (exit status 101). With no options the expansion
/// is `block_on` alone: nothing is allocated or locked that `block_on` does not.
#[doc(inline)]
pub use goro_select_macro::main;

/// A `#[test]` that runs as a goroutine (in [`block_on`]) under a watchdog
/// ([`runtime::watchdog`]): a test still running after its timeout prints the goroutine dump,
/// each goroutine with its wait reason, and ends the test binary with a failure, instead of
/// hanging. Go's `go test -timeout` does the same (for the whole binary; here per test).
///
/// ```
/// use goro::{chan, go};
///
/// #[goro::test]
/// fn pings() {
///     let ch = chan::make::<u32>(0);
///     go!(ch => ch.send(7));
///     assert_eq!(ch.recv(), Some(7));
/// }
///
/// #[goro::test(timeout = "5s", gomaxprocs = 1)]
/// fn on_one_proc() -> Result<(), String> {
///     assert_eq!(goro::runtime::gomaxprocs(0), 1);
///     Ok(())
/// }
/// ```
///
/// (A doctest compiles no `#[test]` function; `tests/macros.rs` runs tests like these.)
///
/// Options:
/// * `timeout = "10s"`: a duration in Go's syntax (`"500ms"`, `"1m30s"`; `"0"`: no
///   watchdog). Without it, the `GORO_TEST_TIMEOUT` environment variable (same syntax; a bad
///   value fails the test) or 60 s. An explicit `timeout` wins over `GORO_TEST_TIMEOUT`.
/// * `gomaxprocs = N`: the runtime is one per process and its tests run in parallel threads,
///   so `gomaxprocs` cannot belong to one test; instead the test runs **alone** among goro
///   tests (it takes a process-wide lock exclusively; every `#[goro::test]` takes it shared)
///   with `runtime::gomaxprocs(N)` set for its duration and the previous value restored after,
///   even when it panics. It is Go's `defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(N))` in a
///   non-parallel test. Tests without `#[goro::test]` are not held back.
/// * No `stack_size`: it is fixed when the runtime starts, shared by every test; set
///   `GORO_STACK_SIZE` when running the tests.
///
/// Other attributes pass through: `#[should_panic]` works (a panic in the body is resumed in
/// the test's thread with its payload), and so do `#[ignore]` and the test returning
/// `Result<(), E>` (`E: Debug + Send + 'static`). The test is named in the watchdog's report
/// by its module path. A `#[goro::test]` function must not call another one (the second
/// would wait for the lock the first holds when either sets `gomaxprocs`).
///
/// `goro::test` is a name in the macro namespace, like the built-in `#[test]`: a module that
/// glob-imports the crate (`use goro::*;`) and also writes a plain `#[test]` gets "`test` is
/// ambiguous"; name what you import instead (`use goro::{chan, go};`).
///
/// `#[goro::test(timeout = "10s")] fn name() -> R { body }` expands to
///
/// ```text
/// #[test]
/// fn name() -> R {
///     ::goro::__private::test(
///         TestOptions { name: concat!(module_path!(), "::name"), timeout: Some(10 s), gomaxprocs: None },
///         move || -> R { body }, // lock, arm the watchdog, block_on(..)
///     )
/// }
/// ```
#[doc(inline)]
pub use goro_select_macro::test;

/// What `#[goro::main]` and `#[goro::test]` expand to call. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use runtime::__macro_support::{MainOptions, TestOptions, main, test};
}
