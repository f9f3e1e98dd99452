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
