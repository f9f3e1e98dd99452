//! `ErrGroup`: `golang.org/x/sync/errgroup`'s `Group`, as a cheap clonable handle.
//!
//! A [`WaitGroup`] counts the group's goroutines; the first error is kept (later ones are
//! dropped) and cancels the group's context, if it has one. The optional limit is Go's: a
//! buffered channel of that capacity holding one token per running goroutine, so `go` blocks
//! on a full channel and `try_go` fails on one.
//!
//! Each goroutine runs its function under `catch_unwind`, so its bookkeeping (record the
//! error or the panic, give back its token, `done`) happens however the function ends; a
//! panic is then resumed, to be reported and end the goroutine as any other.

use crate::WaitGroup;
use chan::Chan;
use chan::context::{self, CancelFunc, Context};
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// What the group's goroutines have reported.
struct Outcome<E> {
    /// A goroutine returned an error (sticky: only the first error is ever kept).
    failed: bool,
    /// That first error, until a `wait` takes it.
    err: Option<E>,
    /// A goroutine panicked.
    panicked: bool,
}

struct Inner<E> {
    wg: WaitGroup,
    /// Cancels the context from [`ErrGroup::with_context`].
    cancel: Option<CancelFunc>,
    outcome: Mutex<Outcome<E>>,
    /// The limit's tokens: a channel with one slot per allowed goroutine. Each goroutine
    /// keeps a handle to the channel it took its token from, so `set_limit` may swap it.
    sem: Mutex<Option<Chan<()>>>,
}

impl<E> Inner<E> {
    fn cancel(&self) {
        if let Some(c) = &self.cancel {
            c.cancel();
        }
    }

    fn outcome(&self) -> MutexGuard<'_, Outcome<E>> {
        // Nothing panics while it is held, so a poisoned lock is still consistent.
        self.outcome.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<E> Drop for Inner<E> {
    /// The last handle is gone (so every goroutine has finished): cancel the context, as
    /// `wait` would, so it does not stay registered with its parent.
    fn drop(&mut self) {
        self.cancel();
    }
}

/// A group of goroutines working on subtasks of one task, with error propagation and
/// cancellation (`golang.org/x/sync/errgroup`'s `Group`).
///
/// [`go`](ErrGroup::go) runs a fallible function in a new goroutine; [`wait`](ErrGroup::wait)
/// waits for all of them and returns the first error. A group made by
/// [`with_context`](ErrGroup::with_context) also has a context that is cancelled as soon as a
/// function fails, so the others can stop early. [`set_limit`](ErrGroup::set_limit) bounds
/// how many run at once.
///
/// `ErrGroup` is a handle: clones share one group, so a task can start more tasks. `E` is the
/// error type, by default `Box<dyn Error + Send + Sync>` (what `?` converts most errors into).
///
/// As in Go, a group is for one task: do not reuse it after `wait`. A panicking function
/// fails the group: see [`wait`](ErrGroup::wait).
///
/// ```
/// use chan::context;
///
/// let (group, ctx): (sync::ErrGroup, _) = sync::ErrGroup::with_context(&context::background());
/// for id in 0..4u32 {
///     let ctx = ctx.clone();
///     group.go(move || {
///         if id == 2 {
///             return Err(format!("task {id} failed").into());
///         }
///         ctx.done().recv(); // the others run until the group is cancelled
///         Ok(())
///     });
/// }
/// let err = group.wait().unwrap_err();
/// assert_eq!(err.to_string(), "task 2 failed");
/// assert_eq!(ctx.err(), Some(context::ContextError::Canceled));
/// ```
pub struct ErrGroup<E = Box<dyn std::error::Error + Send + Sync>>(Arc<Inner<E>>);

impl<E> Clone for ErrGroup<E> {
    fn clone(&self) -> Self {
        ErrGroup(self.0.clone())
    }
}

impl<E> Default for ErrGroup<E> {
    fn default() -> Self {
        ErrGroup::new()
    }
}

/// Finishes one goroutine's membership when dropped: gives back its token, then `done`.
struct Member {
    wg: WaitGroup,
    token: Option<Chan<()>>,
}

impl Drop for Member {
    fn drop(&mut self) {
        if let Some(sem) = &self.token {
            // Our own token is in the buffer, so this never blocks.
            sem.recv();
        }
        self.wg.done();
    }
}

impl<E> ErrGroup<E> {
    /// A group with no limit and no context (Go's zero `Group`).
    ///
    /// ```
    /// let group: sync::ErrGroup<String> = sync::ErrGroup::new();
    /// group.go(|| Ok(()));
    /// assert_eq!(group.wait(), Ok(()));
    /// ```
    pub fn new() -> ErrGroup<E> {
        ErrGroup::build(None)
    }

    /// A group and a context derived from `parent` (Go's `errgroup.WithContext`). The
    /// context is cancelled, with [`Canceled`](chan::context::ContextError::Canceled), the
    /// first time a function fails or panics, or when [`wait`](ErrGroup::wait) returns, or
    /// when the group's last handle is dropped, whichever comes first (or with `parent`).
    ///
    /// Go cancels with the error as the cause (`context.Cause`); goro's group cancels
    /// without one (`E` need be neither an `Error` nor `Clone`), so the error is only
    /// returned by `wait`.
    ///
    /// ```
    /// use chan::context;
    /// let (group, ctx) = sync::ErrGroup::<String>::with_context(&context::background());
    /// group.go(|| Err("no".to_string()));
    /// ctx.done().recv(); // cancelled by the failure, before any wait
    /// assert_eq!(group.wait(), Err("no".to_string()));
    /// ```
    pub fn with_context(parent: &Context) -> (ErrGroup<E>, Context) {
        let (ctx, cancel) = context::with_cancel(parent);
        (ErrGroup::build(Some(cancel)), ctx)
    }

    fn build(cancel: Option<CancelFunc>) -> ErrGroup<E> {
        ErrGroup(Arc::new(Inner {
            wg: WaitGroup::new(),
            cancel,
            outcome: Mutex::new(Outcome {
                failed: false,
                err: None,
                panicked: false,
            }),
            sem: Mutex::new(None),
        }))
    }

    fn sem(&self) -> MutexGuard<'_, Option<Chan<()>>> {
        // Nothing panics while it is held, so a poisoned lock is still consistent.
        self.0.sem.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Bounds the number of the group's goroutines running at once to `limit` (Go's
    /// `SetLimit`); `None` removes the bound. Later [`go`](ErrGroup::go) calls block until a
    /// goroutine can start within the bound, and [`try_go`](ErrGroup::try_go) fails. A limit
    /// of `Some(0)` lets no goroutine start: `go` blocks forever.
    ///
    /// Goroutines started under an earlier limit still count against that one, not the new.
    ///
    /// # Panics
    /// `errgroup: modify limit while N goroutines in the group are still active`, if it sets
    /// a limit while goroutines started under a previous limit are running (as Go; removing
    /// the limit, or setting one where there was none, does not check).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    ///
    /// let group: sync::ErrGroup = sync::ErrGroup::new();
    /// group.set_limit(Some(2));
    /// let running = Arc::new(AtomicUsize::new(0));
    /// for _ in 0..10 {
    ///     let running = running.clone();
    ///     group.go(move || {
    ///         assert!(running.fetch_add(1, Ordering::SeqCst) < 2);
    ///         runtime::gosched();
    ///         running.fetch_sub(1, Ordering::SeqCst);
    ///         Ok(())
    ///     });
    /// }
    /// group.wait().unwrap();
    /// ```
    pub fn set_limit(&self, limit: Option<usize>) {
        let mut sem = self.sem();
        let Some(n) = limit else {
            *sem = None;
            return;
        };
        let active = sem.as_ref().map_or(0, |s| s.len());
        if active != 0 {
            drop(sem);
            panic!(
                "errgroup: modify limit while {active} goroutines in the group are still active"
            );
        }
        *sem = Some(chan::make(n));
    }

    /// Records a failure (an error, or a panic if `err` is `None`) and cancels the context.
    /// Only the first error is kept; recording happens before the member's `done`, so
    /// `wait` sees it.
    fn fail(&self, err: Option<E>) {
        let mut late = None;
        let mut o = self.0.outcome();
        match err {
            Some(e) if !o.failed => {
                o.failed = true;
                o.err = Some(e);
            }
            Some(e) => late = Some(e), // Not the first: dropped once the lock is released.
            None => o.panicked = true,
        }
        drop(o);
        drop(late);
        self.0.cancel();
    }

    /// Waits for every goroutine of the group to finish, cancels the group's context, and
    /// returns the first error any of them returned (Go's `Wait`).
    ///
    /// Only the first error is kept; later ones are dropped. `E` need not be `Clone`, so the
    /// error is *moved out* to the `wait` that returns it: a later `wait` on the group (or a
    /// concurrent one on a clone) returns `Ok(())`.
    ///
    /// # Panics
    /// `errgroup: a goroutine in the group panicked`, after every goroutine has finished, if
    /// any of the functions panicked (a `Result` cannot say so, and `Ok` would claim the work
    /// was done; `std::thread::scope` does the same). The panic itself was reported when it
    /// happened, and it cancelled the context like an error. Go's program would have
    /// crashed. Ending a function with [`runtime::goexit`] is not a failure.
    ///
    /// ```
    /// let group = sync::ErrGroup::<std::num::ParseIntError>::new();
    /// group.go(|| "1".parse::<u8>().map(drop));
    /// group.go(|| "x".parse::<u8>().map(drop));
    /// assert!(group.wait().is_err());
    /// ```
    pub fn wait(&self) -> Result<(), E> {
        self.0.wg.wait();
        self.0.cancel();
        let mut o = self.0.outcome();
        if o.panicked {
            drop(o);
            panic!("errgroup: a goroutine in the group panicked");
        }
        match o.err.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl<E: Send + 'static> ErrGroup<E> {
    /// Runs `f` in a new goroutine of the group (Go's `Go`). If a limit is set, first blocks
    /// (parking the goroutine, or the thread) until the goroutine can start within it.
    ///
    /// The first function to return an error cancels the group's context, if any; that
    /// error is what [`wait`](ErrGroup::wait) returns. As in Go, the first `go` must happen
    /// before `wait` is called.
    ///
    /// ```
    /// let group: sync::ErrGroup = sync::ErrGroup::new();
    /// group.go(|| {
    ///     let n: u32 = "42".parse()?;
    ///     assert_eq!(n, 42);
    ///     Ok(())
    /// });
    /// group.wait().unwrap();
    /// ```
    #[track_caller]
    pub fn go<F>(&self, f: F)
    where
        F: FnOnce() -> Result<(), E> + Send + 'static,
    {
        let sem = self.sem().clone();
        if let Some(s) = &sem {
            s.send(());
        }
        self.start(sem, f);
    }

    /// Runs `f` in a new goroutine of the group only if that stays within the limit right
    /// now (Go's `TryGo`); returns whether it started. Never blocks. Without a limit it
    /// always starts.
    ///
    /// ```
    /// let group: sync::ErrGroup<String> = sync::ErrGroup::new();
    /// group.set_limit(Some(1));
    /// let gate = chan::make::<()>(0);
    /// let g2 = gate.clone();
    /// assert!(group.try_go(move || { g2.recv(); Ok(()) }));
    /// assert!(!group.try_go(|| Ok(()))); // the one slot is taken
    /// gate.close();
    /// group.wait().unwrap();
    /// ```
    #[track_caller]
    pub fn try_go<F>(&self, f: F) -> bool
    where
        F: FnOnce() -> Result<(), E> + Send + 'static,
    {
        let sem = self.sem().clone();
        if let Some(s) = &sem
            && s.try_send(()).is_err()
        {
            return false;
        }
        self.start(sem, f);
        true
    }

    /// Starts `f` as a member of the group; `token` is the channel it holds a token of.
    #[track_caller]
    fn start<F>(&self, token: Option<Chan<()>>, f: F)
    where
        F: FnOnce() -> Result<(), E> + Send + 'static,
    {
        self.0.wg.add(1);
        let member = Member {
            wg: self.0.wg.clone(),
            token,
        };
        let group = self.clone();
        runtime::go(move || {
            let payload = match panic::catch_unwind(AssertUnwindSafe(f)) {
                Ok(Ok(())) => None,
                Ok(Err(e)) => {
                    group.fail(Some(e));
                    None
                }
                Err(payload) => {
                    // `runtime::goexit` is how a goroutine ends early, not a failure (Go's
                    // `Goexit` runs the deferred `done` and records nothing).
                    if !payload.is::<runtime::Goexit>() {
                        group.fail(None);
                    }
                    Some(payload)
                }
            };
            // The bookkeeping (token, done, maybe the context's cancellation) may yield
            // this goroutine, so it runs before the unwind resumes, never during it (std
            // counts panics per thread; see the migration contract). After the outcome is
            // recorded, so that `wait` sees it.
            drop(member);
            drop(group);
            if let Some(payload) = payload {
                // The panic hook has reported it already; let it end the goroutine.
                panic::resume_unwind(payload);
            }
        });
    }
}

impl<E> fmt::Debug for ErrGroup<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let limit = self.sem().as_ref().map(Chan::cap);
        let (failed, panicked) = {
            let o = self.0.outcome();
            (o.failed, o.panicked)
        };
        f.debug_struct("ErrGroup")
            .field("active", &self.0.wg.count())
            .field("limit", &limit)
            .field("failed", &failed)
            .field("panicked", &panicked)
            .finish()
    }
}
