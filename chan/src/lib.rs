//! goro's channels: Go's `chan`, `select`, `time.After`/`Tick`/`Timer`/`Ticker`, and
//! `context`.
//!
//! | Go | goro |
//! |---|---|
//! | `make(chan T)` / `make(chan T, n)` | [`make::<T>(0)`](make) / [`make::<T>(n)`](make) -> [`Chan<T>`] |
//! | `chan<- T`, `<-chan T` | [`Sender<T>`], [`Receiver<T>`] (`ch.sender()`, `ch.receiver()`) |
//! | `ch <- v` | [`ch.send(v)`](Chan::send) (panics `send on closed channel`) |
//! | `v, ok := <-ch` | [`ch.recv()`](Chan::recv) -> `Option<T>` |
//! | `close(ch)` | [`ch.close()`](Chan::close) |
//! | `for v := range ch` | `for v in &ch` |
//! | `len(ch)`, `cap(ch)` | [`ch.len()`](Chan::len), [`ch.cap()`](Chan::cap) |
//! | `var ch chan T` (nil) | [`Chan::nil()`] |
//! | `reflect.Select` | [`Select`] |
//!
//! Channels work the same from goroutines (which park, freeing their thread) and from plain
//! threads (which block on a futex). A value sent is received exactly once, or handed back
//! (`try_send`, `send_timeout`), or dropped with the channel's last handle.

#![warn(missing_docs)]

mod array;
mod chan;
pub mod context;
mod err;
mod lock;
pub mod select;
pub mod time;
#[doc(hidden)]
pub mod waitq;
mod zero;

pub use chan::{Chan, IntoIter, Iter, Receiver, Sender, make};
pub use err::{RecvTimeoutError, SendTimeoutError, TryRecvError, TrySendError};
pub use select::{AsChan, Select, Selected};
