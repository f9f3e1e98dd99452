//! Go's `context` package: cancellation, deadlines and request-scoped values, carried down a
//! tree of [`Context`]s.
//!
//! | Go | goro |
//! |---|---|
//! | `context.Background()`, `context.TODO()` | [`background()`], [`todo()`] |
//! | `ctx, cancel := context.WithCancel(parent)` | `let (ctx, cancel) = `[`with_cancel(&parent)`](with_cancel) |
//! | `context.WithTimeout(parent, d)` | [`with_timeout(&parent, d)`](with_timeout) |
//! | `context.WithDeadline(parent, t)` | [`with_deadline(&parent, t)`](with_deadline) |
//! | `context.WithValue(parent, k, v)` | [`with_value(&parent, k, v)`](with_value) |
//! | `cancel()` | [`cancel.cancel()`](CancelFunc::cancel) |
//! | `<-ctx.Done()` | [`ctx.done()`](Context::done)`.recv()` (or a select case) |
//! | `ctx.Err()` | [`ctx.err()`](Context::err) -> `Option<`[`ContextError`]`>` |
//! | `ctx.Deadline()` | [`ctx.deadline()`](Context::deadline) -> `Option<Instant>` |
//! | `ctx.Value(k).(V)` | [`ctx.value::<K, V>(&k)`](Context::value) -> `Option<&V>` |
//! | `context.WithCancelCause(parent)`; `cancel(err)` | [`with_cancel_cause(&parent)`](with_cancel_cause); [`cancel.cancel(Some(err))`](CancelCauseFunc::cancel) |
//! | `context.Cause(ctx)` | [`cause(&ctx)`](cause) -> `Option<`[`Cause`]`>` |
//! | `context.WithDeadlineCause`, `WithTimeoutCause` | [`with_deadline_cause`], [`with_timeout_cause`] |
//! | `stop := context.AfterFunc(ctx, f)`; `stop()` | `let stop = `[`after_func(&ctx, f)`](after_func); [`stop.stop()`](StopFunc::stop) |
//! | `context.WithoutCancel(parent)` | [`without_cancel(&parent)`](without_cancel) |
//!
//! ```
//! use chan::context;
//! let (ctx, cancel) = context::with_cancel(&context::background());
//! let done = ctx.done();
//! runtime::go!(move || cancel.cancel());
//! assert_eq!(done.recv(), None); // closed on cancellation
//! assert_eq!(ctx.err(), Some(context::ContextError::Canceled));
//! ```
//!
//! # The cancellation tree
//! Every cancellable context (from `with_cancel`, `with_cancel_cause`, `with_timeout`,
//! `with_deadline` and their `_cause` forms) owns a cancel state: its `done` channel, its
//! error and cause, and its children: the cancel states of its cancellable descendants and
//! its [`after_func`] registrations (value contexts in between are skipped: a child
//! registers with its *nearest* cancellable ancestor, as Go's `propagateCancel` does;
//! [`without_cancel`] starts a tree of its own). Cancelling sets the error and cause,
//! closes `done` and then cancels the registered children with the same error and cause
//! (starting the after-functions' goroutines), walking the subtree
//! with a work list rather than recursion, so a deep chain cannot overflow a goroutine's
//! stack. A context that is cancelled on its own (its `CancelFunc`, its deadline) removes
//! itself from its parent's set, so short-lived children of a long-lived parent do not pile
//! up. As in Go, a child that is never cancelled stays registered until its parent is
//! cancelled: always call the [`CancelFunc`].
//!
//! Ownership runs downward only: a context holds its parent (for values and deadlines), a
//! cancel state holds its children's states, and a child's state points back to its parent's
//! weakly (only to detach). So there are no reference cycles, and a context tree is freed
//! when its handles are dropped, cancelled or not (a pending deadline timer keeps its
//! context's cancel state until it fires or the context is cancelled, as in Go; so does an
//! `after_func` function that owns its context, until the context is done or it is
//! stopped).
//!
//! `done()` and `err()` take no lock (an `Arc`'s channel handle; an atomic load); `cause()`
//! takes the state's lock once the context is done, as Go's `Cause` does.
//!
//! # Deadlines
//! A deadline is a [`runtime::CallbackTimer`] whose callback (on the scheduler) starts a
//! goroutine to cancel the subtree (Go's `time.AfterFunc`): cancelling a large subtree is
//! not work for the scheduler's stack. Cancelling earlier stops the timer. A deadline later
//! than the parent's adds no timer: the child is cancelled with its parent.

use crate::chan::{Chan, Receiver};
use runtime::CallbackTimer;
use std::any::{Any, type_name};
use std::collections::HashMap;
use std::error::Error;
use std::fmt;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{Duration, Instant};

/// Why a context was cancelled (Go's `context.Canceled` and `context.DeadlineExceeded`).
///
/// ```
/// use chan::context::{self, ContextError};
/// let (ctx, cancel) = context::with_cancel(&context::background());
/// cancel.cancel();
/// assert_eq!(ctx.err(), Some(ContextError::Canceled));
/// assert_eq!(ContextError::Canceled.to_string(), "context canceled");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContextError {
    /// Cancelled by a [`CancelFunc`] (its own or an ancestor's).
    Canceled,
    /// Its deadline (or an ancestor's) passed.
    DeadlineExceeded,
}

impl ContextError {
    /// Whether this is a timeout (Go's `DeadlineExceeded.Timeout()`).
    ///
    /// ```
    /// use chan::context::ContextError;
    /// assert!(ContextError::DeadlineExceeded.is_timeout());
    /// assert!(!ContextError::Canceled.is_timeout());
    /// ```
    pub fn is_timeout(self) -> bool {
        self == ContextError::DeadlineExceeded
    }

    fn code(self) -> u8 {
        match self {
            ContextError::Canceled => ERR_CANCELED,
            ContextError::DeadlineExceeded => ERR_DEADLINE,
        }
    }

    fn from_code(c: u8) -> Option<ContextError> {
        match c {
            ERR_NONE => None,
            ERR_CANCELED => Some(ContextError::Canceled),
            ERR_DEADLINE => Some(ContextError::DeadlineExceeded),
            _ => unreachable!("context: invalid error code {c}"),
        }
    }
}

impl fmt::Display for ContextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ContextError::Canceled => "context canceled",
            ContextError::DeadlineExceeded => "context deadline exceeded",
        })
    }
}

impl std::error::Error for ContextError {}

const ERR_NONE: u8 = 0;
const ERR_CANCELED: u8 = 1;
const ERR_DEADLINE: u8 = 2;

/// Why a context was cancelled, in the caller's words: the `error` Go's `context.Cause`
/// returns, which [`cause`] gives here. The error given to a [`CancelCauseFunc`] or to
/// [`with_deadline_cause`], or else the context's [`ContextError`].
///
/// A cheap, clonable handle on an error: either a [`ContextError`] (held inline, so a
/// cancellation without a cause allocates nothing, as Go's `cancel(nil)`) or any other
/// `Error + Send + Sync` in an `Arc`. It compares like Go's `==` on errors: equal to the
/// same `ContextError`, or to itself and its clones (the same allocation), never by message.
/// [`downcast_ref`](Cause::downcast_ref) recovers the concrete error (Go's `errors.As`).
///
/// ```
/// use chan::context::{self, Cause, ContextError};
/// #[derive(Debug)]
/// struct Shutdown;
/// impl std::fmt::Display for Shutdown {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         f.write_str("server shutting down")
///     }
/// }
/// impl std::error::Error for Shutdown {}
///
/// let why = Cause::new(Shutdown);
/// assert_eq!(why, why.clone());
/// assert_ne!(why, Cause::new(Shutdown)); // another error value, as Go's errors.New
/// assert!(why.is::<Shutdown>());
/// assert_eq!(why.to_string(), "server shutting down");
/// assert_eq!(Cause::from(ContextError::Canceled), ContextError::Canceled);
/// assert_eq!(Cause::from("boom").to_string(), "boom");
/// ```
#[derive(Clone)]
pub struct Cause(CauseRepr);

#[derive(Clone)]
enum CauseRepr {
    Context(ContextError),
    Error(Arc<dyn Error + Send + Sync>),
}

impl Cause {
    /// Wraps `err`. A [`ContextError`] is kept inline (no allocation) and a `Cause` is
    /// returned as it is; anything else goes into an `Arc`.
    ///
    /// ```
    /// use chan::context::Cause;
    /// let e = Cause::new(std::io::Error::other("disk full"));
    /// assert_eq!(e.to_string(), "disk full");
    /// assert_eq!(Cause::new(e.clone()), e, "not wrapped twice");
    /// ```
    pub fn new<E: Error + Send + Sync + 'static>(err: E) -> Cause {
        if let Some(&c) = (&err as &dyn Any).downcast_ref::<ContextError>() {
            return Cause(CauseRepr::Context(c));
        }
        let mut slot = Some(err);
        if let Some(c) = (&mut slot as &mut dyn Any).downcast_mut::<Option<Cause>>() {
            return c.take().expect("just filled");
        }
        let err = slot.expect("not taken");
        Cause(CauseRepr::Error(Arc::new(err)))
    }

    /// The error as an `E`, if it is one (Go's `errors.As` on the cause, without unwrapping).
    ///
    /// ```
    /// use chan::context::{Cause, ContextError};
    /// let c = Cause::from(ContextError::DeadlineExceeded);
    /// assert_eq!(c.downcast_ref::<ContextError>(), Some(&ContextError::DeadlineExceeded));
    /// assert!(c.downcast_ref::<std::io::Error>().is_none());
    /// ```
    pub fn downcast_ref<E: Error + 'static>(&self) -> Option<&E> {
        match &self.0 {
            CauseRepr::Context(c) => (c as &dyn Any).downcast_ref::<E>(),
            CauseRepr::Error(e) => e.downcast_ref::<E>(),
        }
    }

    /// Whether the error is an `E`.
    ///
    /// ```
    /// use chan::context::{Cause, ContextError};
    /// assert!(Cause::from(ContextError::Canceled).is::<ContextError>());
    /// ```
    pub fn is<E: Error + 'static>(&self) -> bool {
        self.downcast_ref::<E>().is_some()
    }

    fn as_error(&self) -> &(dyn Error + Send + Sync + 'static) {
        match &self.0 {
            CauseRepr::Context(c) => c,
            CauseRepr::Error(e) => &**e,
        }
    }
}

impl From<ContextError> for Cause {
    fn from(e: ContextError) -> Cause {
        Cause(CauseRepr::Context(e))
    }
}

/// Shares the error (a [`ContextError`] inside is kept inline, so it still compares equal
/// to one).
impl From<Arc<dyn Error + Send + Sync>> for Cause {
    fn from(e: Arc<dyn Error + Send + Sync>) -> Cause {
        match e.downcast_ref::<ContextError>() {
            Some(&c) => Cause(CauseRepr::Context(c)),
            None => Cause(CauseRepr::Error(e)),
        }
    }
}

/// Moves the error into an `Arc` (a [`ContextError`] inside is kept inline).
impl From<Box<dyn Error + Send + Sync>> for Cause {
    fn from(e: Box<dyn Error + Send + Sync>) -> Cause {
        match e.downcast::<ContextError>() {
            Ok(c) => Cause(CauseRepr::Context(*c)),
            Err(e) => Cause(CauseRepr::Error(Arc::from(e))),
        }
    }
}

/// An error with this message (Go's `errors.New(msg)`).
impl From<&str> for Cause {
    fn from(msg: &str) -> Cause {
        Cause::from(Box::<dyn Error + Send + Sync>::from(msg))
    }
}

/// An error with this message (Go's `errors.New(msg)`).
impl From<String> for Cause {
    fn from(msg: String) -> Cause {
        Cause::from(Box::<dyn Error + Send + Sync>::from(msg))
    }
}

impl PartialEq for Cause {
    fn eq(&self, other: &Cause) -> bool {
        match (&self.0, &other.0) {
            (CauseRepr::Context(a), CauseRepr::Context(b)) => a == b,
            (CauseRepr::Error(a), CauseRepr::Error(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl Eq for Cause {}

impl PartialEq<ContextError> for Cause {
    fn eq(&self, other: &ContextError) -> bool {
        matches!(self.0, CauseRepr::Context(c) if c == *other)
    }
}

impl fmt::Debug for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_error(), f)
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_error(), f)
    }
}

impl Error for Cause {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.as_error().source()
    }
}

/// Identifies a child in its parent's child set.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// The cancellation state of one cancellable context (Go's `cancelCtx`).
struct CancelState {
    id: u64,
    /// Closed when cancelled. Only [`CancelState::cancel_one`] closes it, once.
    done: Chan<()>,
    /// `ERR_*`: written once, under `tree`'s lock, before `done` is closed; read lock-free.
    err: AtomicU8,
    tree: Mutex<Tree>,
    /// The nearest cancellable ancestor, to detach from. Weak: parents own children.
    parent: Option<Weak<CancelState>>,
}

#[derive(Default)]
struct Tree {
    /// Registered descendants (nearest ones only); emptied on cancellation.
    children: HashMap<u64, Child>,
    /// The deadline timer, if this context has its own deadline.
    timer: Option<CallbackTimer>,
    /// Set with `err` (Go's `cancelCtx.cause`).
    cause: Option<Cause>,
}

/// Something cancelled with its nearest cancellable ancestor (Go's `canceler`).
enum Child {
    /// A cancellable context.
    Context(Arc<CancelState>),
    /// An [`after_func`] registration.
    AfterFunc(Arc<dyn AfterFn>),
}

/// An [`after_func`]'s function, run or stopped at most once (Go's `afterFuncCtx`).
trait AfterFn: Send + Sync {
    /// Starts the function in a new goroutine unless it was started or stopped before.
    fn start(&self);
    /// Drops the function unless it was started or stopped before; whether it did.
    fn stop(&self) -> bool;
}

/// The function waits here until taken: by `start` or by `stop`, whichever is first (the
/// lock is Go's `sync.Once`).
struct AfterFunc<F>(Mutex<Option<F>>);

impl<F: FnOnce() + Send + 'static> AfterFunc<F> {
    fn take(&self) -> Option<F> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

impl<F: FnOnce() + Send + 'static> AfterFn for AfterFunc<F> {
    fn start(&self) {
        if let Some(f) = self.take() {
            runtime::go(f);
        }
    }

    fn stop(&self) -> bool {
        self.take().is_some()
    }
}

impl CancelState {
    /// A new state under `parent`'s nearest cancellable ancestor, registered there (or
    /// cancelled at once if that ancestor is already cancelled).
    fn new_under(parent: &Context) -> Arc<CancelState> {
        let p = parent.0.cancel.as_ref();
        let s = Arc::new(CancelState {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            done: crate::make(0),
            err: AtomicU8::new(ERR_NONE),
            tree: Mutex::new(Tree::default()),
            parent: p.map(Arc::downgrade),
        });
        if let Some(p) = p
            && let Err((err, cause)) = p.register(s.id, Child::Context(s.clone()))
        {
            s.cancel(err, Some(cause), false);
        }
        s
    }

    /// Adds `child` to this state's set, or, if it is cancelled already, gives back its error
    /// and cause (for the caller to cancel the child with, outside this lock).
    fn register(&self, id: u64, child: Child) -> Result<(), (ContextError, Cause)> {
        let mut t = self.lock();
        // Under the lock: either the child is in the set before we cancel (and we will cancel
        // it), or we see the error here.
        match self.err() {
            None => {
                t.children.insert(id, child);
                Ok(())
            }
            Some(e) => Err((e, t.cause.clone().unwrap_or(Cause::from(e)))),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Tree> {
        self.tree.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn err(&self) -> Option<ContextError> {
        // Acquire: pairs with the Release store in cancel_one.
        ContextError::from_code(self.err.load(Ordering::Acquire))
    }

    /// Cancels this context and its subtree with `err` and `cause` (`None`: `err` itself);
    /// a no-op if already cancelled. `detach`: remove it from its parent's set (a cancel of
    /// its own; a parent cancelling its children has emptied its set already).
    fn cancel(self: &Arc<Self>, err: ContextError, cause: Option<Cause>, detach: bool) {
        let cause = cause.unwrap_or(Cause::from(err));
        let mut work = Vec::new();
        if !self.cancel_one(err, &cause, &mut work) {
            return;
        }
        if detach {
            self.detach();
        }
        while let Some(child) = work.pop() {
            match child {
                Child::Context(c) => {
                    c.cancel_one(err, &cause, &mut work);
                }
                Child::AfterFunc(f) => f.start(),
            }
        }
    }

    /// Cancels this one context, pushing its children onto `work`. False if it was already
    /// cancelled.
    fn cancel_one(&self, err: ContextError, cause: &Cause, work: &mut Vec<Child>) -> bool {
        let mut t = self.lock();
        if self.err.load(Ordering::Relaxed) != ERR_NONE {
            return false; // Cancelled before (the store below happens under this lock).
        }
        t.cause = Some(cause.clone());
        // Release: whoever sees the error (or, through the channel, the close below) sees
        // everything before the cancellation.
        self.err.store(err.code(), Ordering::Release);
        let children = std::mem::take(&mut t.children);
        let timer = t.timer.take();
        drop(t);
        self.done.close();
        if let Some(timer) = timer {
            timer.stop();
        }
        work.extend(children.into_values());
        true
    }

    /// Removes this state from its parent's child set.
    fn detach(&self) {
        if let Some(p) = self.parent.as_ref().and_then(Weak::upgrade) {
            p.remove_child(self.id);
        }
    }

    /// Removes child `id` from this state's set, if it is there.
    fn remove_child(&self, id: u64) {
        let mut t = self.lock();
        t.children.remove(&id);
        // Give back the memory of a burst of children (amortised: capacity halves at most
        // each time the set has shrunk to a quarter of it).
        let (len, cap) = (t.children.len(), t.children.capacity());
        if cap > 64 && len * 4 < cap {
            t.children.shrink_to(len * 2);
        }
    }
}

impl Drop for CancelState {
    /// Frees a subtree of uncancelled descendants without recursion (a deep chain would
    /// overflow a goroutine's stack).
    fn drop(&mut self) {
        let t = self.tree.get_mut().unwrap_or_else(|e| e.into_inner());
        let mut work: Vec<Child> = t.children.drain().map(|(_, c)| c).collect();
        while let Some(c) = work.pop() {
            if let Child::Context(c) = c
                && let Ok(mut c) = Arc::try_unwrap(c)
            {
                let t = c.tree.get_mut().unwrap_or_else(|e| e.into_inner());
                work.extend(t.children.drain().map(|(_, c)| c));
            }
        }
    }
}

/// What a context node adds to its parent.
enum Kind {
    /// `background()` or `todo()`: the root.
    Root(&'static str),
    /// `with_cancel`, or a `with_deadline` that kept its parent's earlier deadline.
    Cancel,
    /// `with_deadline` with its own timer.
    Deadline(Instant),
    /// `without_cancel`.
    WithoutCancel,
    /// `with_value`.
    Value {
        key: Box<dyn Any + Send + Sync>,
        value: Box<dyn Any + Send + Sync>,
        types: (&'static str, &'static str),
    },
}

struct Node {
    parent: Option<Context>,
    /// The nearest cancellable context at or above this one; `None` under a bare root.
    cancel: Option<Arc<CancelState>>,
    /// The earliest deadline at or above this one.
    deadline: Option<Instant>,
    kind: Kind,
}

impl Drop for Node {
    /// Drops a chain of ancestors that only this node kept alive without recursion (a loop
    /// of `ctx = with_value(&ctx, ..)` builds a long one).
    fn drop(&mut self) {
        let mut next = self.parent.take();
        while let Some(Context(node)) = next {
            next = match Arc::try_unwrap(node) {
                Ok(mut n) => n.parent.take(),
                Err(_) => None, // Shared: its other owners will drop it.
            };
        }
    }
}

/// A context (Go's `context.Context`): a cancellation signal, an optional deadline and
/// request-scoped values, passed down a call tree.
///
/// A cheap handle: cloning it (an `Arc` increment) gives the same context, and it is `Send`
/// and `Sync`. Contexts are immutable; the `with_*` functions derive children.
///
/// ```
/// use chan::context;
/// use std::time::Duration;
/// let (ctx, _cancel) = context::with_timeout(&context::background(), Duration::from_millis(5));
/// assert_eq!(ctx.done().recv(), None);
/// assert_eq!(ctx.err(), Some(context::ContextError::DeadlineExceeded));
/// ```
#[derive(Clone)]
pub struct Context(Arc<Node>);

/// Cancels the context it came with, and its descendants (Go's `CancelFunc`). Cancelling
/// again is a no-op. Clone it to cancel from several places.
///
/// Dropping it does **not** cancel (as in Go, where forgetting to call it is a leak until the
/// parent is cancelled): call [`cancel`](CancelFunc::cancel) when the work is done.
///
/// ```
/// use chan::context;
/// let (ctx, cancel) = context::with_cancel(&context::background());
/// let other_owner = cancel.clone();
/// drop(cancel); // does not cancel
/// assert_eq!(ctx.err(), None);
/// other_owner.cancel();
/// assert!(ctx.err().is_some());
/// ```
#[derive(Clone)]
pub struct CancelFunc {
    state: Arc<CancelState>,
}

impl CancelFunc {
    /// Cancels the context: its `done()` channel is closed, its `err()` becomes
    /// [`ContextError::Canceled`], and so for every descendant; it leaves its parent's child
    /// set. A no-op if it was already cancelled (by this, a parent or its deadline).
    ///
    /// ```
    /// use chan::context::{self, ContextError};
    /// let (ctx, cancel) = context::with_timeout(&context::background(), std::time::Duration::from_secs(60));
    /// cancel.cancel();
    /// cancel.cancel(); // no-op
    /// assert_eq!(ctx.done().recv(), None);
    /// assert_eq!(ctx.err(), Some(ContextError::Canceled));
    /// ```
    pub fn cancel(&self) {
        self.state.cancel(ContextError::Canceled, None, true);
    }
}

impl fmt::Debug for CancelFunc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelFunc")
            .field("err", &self.state.err())
            .finish()
    }
}

fn root(name: &'static str) -> Context {
    Context(Arc::new(Node {
        parent: None,
        cancel: None,
        deadline: None,
        kind: Kind::Root(name),
    }))
}

/// The root context: never cancelled, no deadline, no values (Go's `context.Background`).
/// Its [`done()`](Context::done) channel is the nil channel, never ready.
///
/// ```
/// use chan::context;
/// let ctx = context::background();
/// assert_eq!((ctx.err(), ctx.deadline()), (None, None));
/// assert_eq!(format!("{ctx:?}"), "context.Background");
/// ```
pub fn background() -> Context {
    static BG: OnceLock<Context> = OnceLock::new();
    BG.get_or_init(|| root("context.Background")).clone()
}

/// Like [`background()`], for code that has not decided which context to use yet (Go's
/// `context.TODO`).
///
/// ```
/// use chan::context;
/// assert_eq!(context::todo().err(), None);
/// assert_eq!(format!("{:?}", context::todo()), "context.TODO");
/// ```
pub fn todo() -> Context {
    static TODO: OnceLock<Context> = OnceLock::new();
    TODO.get_or_init(|| root("context.TODO")).clone()
}

/// A child of `parent` that is cancelled when the returned [`CancelFunc`] is called or when
/// `parent` is cancelled, whichever comes first (Go's `context.WithCancel`).
///
/// ```
/// use chan::context;
/// let (parent, cancel_parent) = context::with_cancel(&context::background());
/// let (child, _cancel_child) = context::with_cancel(&parent);
/// cancel_parent.cancel();
/// assert_eq!(child.err(), Some(context::ContextError::Canceled));
/// ```
pub fn with_cancel(parent: &Context) -> (Context, CancelFunc) {
    let state = CancelState::new_under(parent);
    let ctx = Context(Arc::new(Node {
        parent: Some(parent.clone()),
        cancel: Some(state.clone()),
        deadline: parent.0.deadline,
        kind: Kind::Cancel,
    }));
    (ctx, CancelFunc { state })
}

/// A child of `parent` like [`with_cancel`]'s, whose cancel function takes a cause (Go's
/// `context.WithCancelCause`). Cancelling with `Some(cause)` makes `err()`
/// [`Canceled`](ContextError::Canceled) and [`cause`]`(&ctx)` that cause; with `None` (Go's
/// `cancel(nil)`) the cause is `Canceled`. The first cancellation wins: a later call, or a
/// cancellation by the parent first, leaves the cause as it was.
///
/// ```
/// use chan::context::{self, Cause, ContextError};
/// let my_error = Cause::from("my error");
/// let (ctx, cancel) = context::with_cancel_cause(&context::background());
/// cancel.cancel(Some(my_error.clone()));
/// assert_eq!(ctx.err(), Some(ContextError::Canceled)); // ctx.Err() returns context.Canceled
/// assert_eq!(context::cause(&ctx), Some(my_error)); // context.Cause(ctx) returns myError
/// ```
pub fn with_cancel_cause(parent: &Context) -> (Context, CancelCauseFunc) {
    let (ctx, cancel) = with_cancel(parent);
    (
        ctx,
        CancelCauseFunc {
            state: cancel.state,
        },
    )
}

/// Cancels the context it came with, and its descendants, recording why (Go's
/// `CancelCauseFunc`). Only the first cancellation counts. Clone it to cancel from several
/// places; dropping it does not cancel.
///
/// ```
/// use chan::context::{self, Cause};
/// let (ctx, cancel) = context::with_cancel_cause(&context::background());
/// let worker_cancel = cancel.clone();
/// runtime::spawn(move || worker_cancel.cancel(Some(Cause::from("worker failed")))).join().unwrap();
/// assert_eq!(context::cause(&ctx).unwrap().to_string(), "worker failed");
/// ```
#[derive(Clone)]
pub struct CancelCauseFunc {
    state: Arc<CancelState>,
}

impl CancelCauseFunc {
    /// Cancels the context with `err()` [`Canceled`](ContextError::Canceled) and
    /// [`cause`] `cause`, or `Canceled` for `None` (Go's `cancel(nil)`); its descendants get
    /// the same error and cause. A no-op if it was already cancelled (by this, a parent or a
    /// deadline): the first cause stays.
    ///
    /// ```
    /// use chan::context::{self, Cause, ContextError};
    /// let (ctx, cancel) = context::with_cancel_cause(&context::background());
    /// let (child, _c) = context::with_cancel(&ctx);
    /// let first = Cause::from("first");
    /// cancel.cancel(Some(first.clone()));
    /// cancel.cancel(Some(Cause::from("second"))); // too late
    /// assert_eq!(context::cause(&child), Some(first));
    /// assert_eq!(child.err(), Some(ContextError::Canceled));
    ///
    /// let (ctx, cancel) = context::with_cancel_cause(&context::background());
    /// cancel.cancel(None);
    /// assert_eq!(context::cause(&ctx), Some(ContextError::Canceled.into()));
    /// ```
    pub fn cancel(&self, cause: Option<Cause>) {
        self.state.cancel(ContextError::Canceled, cause, true);
    }
}

impl fmt::Debug for CancelCauseFunc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelCauseFunc")
            .field("err", &self.state.err())
            .finish()
    }
}

/// A child of `parent` that is also cancelled, with [`ContextError::DeadlineExceeded`],
/// once `deadline` passes (Go's `context.WithDeadline`). If `parent`'s deadline is earlier,
/// this is [`with_cancel`]: the parent's deadline will cancel both. A deadline already past
/// gives a context cancelled from the start.
///
/// ```
/// use chan::context::{self, ContextError};
/// use std::time::{Duration, Instant};
/// let d = Instant::now() + Duration::from_millis(5);
/// let (ctx, cancel) = context::with_deadline(&context::background(), d);
/// assert_eq!(ctx.deadline(), Some(d));
/// assert_eq!(ctx.done().recv(), None);
/// assert_eq!(ctx.err(), Some(ContextError::DeadlineExceeded));
/// cancel.cancel(); // good practice even after the deadline
/// ```
pub fn with_deadline(parent: &Context, deadline: Instant) -> (Context, CancelFunc) {
    with_deadline_cause(parent, deadline, None)
}

/// [`with_deadline`], and when the deadline passes the context's [`cause`] is `cause`
/// (Go's `context.WithDeadlineCause`); `err()` is still
/// [`DeadlineExceeded`](ContextError::DeadlineExceeded). The cause is only for the
/// deadline: calling the returned [`CancelFunc`] first gives `Canceled` as both error and
/// cause, and a parent's cancellation gives the parent's. If `parent`'s deadline is earlier
/// this is [`with_cancel`] and `cause` is not used, as in Go. `None` is Go's `nil` cause
/// (the cause is then `DeadlineExceeded`).
///
/// ```
/// use chan::context::{self, Cause, ContextError};
/// use std::time::{Duration, Instant};
/// let slow = Cause::from("backend too slow");
/// let deadline = Instant::now() + Duration::from_millis(5);
/// let (ctx, _cancel) = context::with_deadline_cause(&context::background(), deadline, Some(slow.clone()));
/// assert_eq!(ctx.done().recv(), None);
/// assert_eq!(ctx.err(), Some(ContextError::DeadlineExceeded));
/// assert_eq!(context::cause(&ctx), Some(slow));
/// ```
pub fn with_deadline_cause(
    parent: &Context,
    deadline: Instant,
    cause: Option<Cause>,
) -> (Context, CancelFunc) {
    if parent.deadline().is_some_and(|cur| cur < deadline) {
        return with_cancel(parent);
    }
    let state = CancelState::new_under(parent);
    let ctx = Context(Arc::new(Node {
        parent: Some(parent.clone()),
        cancel: Some(state.clone()),
        deadline: Some(deadline),
        kind: Kind::Deadline(deadline),
    }));
    let now = Instant::now();
    if deadline <= now {
        state.cancel(ContextError::DeadlineExceeded, cause, true);
    } else {
        let s = state.clone();
        // Runs on the scheduler (g0): only start a goroutine there. The timer holds the
        // state until it fires or is stopped; cancel_one takes it out of `tree`, which
        // breaks the state -> timer -> callback -> state cycle.
        let timer = CallbackTimer::new(move || {
            let (s, cause) = (s.clone(), cause.clone());
            runtime::go(move || s.cancel(ContextError::DeadlineExceeded, cause, true));
            true
        });
        let mut t = state.lock();
        if state.err().is_none() {
            timer.reset(deadline - now);
            t.timer = Some(timer);
        }
    }
    (ctx, CancelFunc { state })
}

/// [`with_deadline`]`(parent, now + timeout)` (Go's `context.WithTimeout`); a timeout too
/// large for an `Instant` gives the latest deadline the runtime represents
/// ([`runtime::deadline_after`]).
///
/// ```
/// use chan::context::{self, ContextError};
/// use std::time::Duration;
/// let (ctx, _cancel) = context::with_timeout(&context::background(), Duration::from_millis(5));
/// assert_eq!(ctx.done().recv(), None);
/// assert!(ctx.err().is_some_and(ContextError::is_timeout));
/// ```
pub fn with_timeout(parent: &Context, timeout: Duration) -> (Context, CancelFunc) {
    with_deadline(parent, runtime::deadline_after(timeout))
}

/// [`with_deadline_cause`]`(parent, now + timeout, cause)` (Go's `context.WithTimeoutCause`):
/// when the timeout passes, `err()` is [`DeadlineExceeded`](ContextError::DeadlineExceeded)
/// and [`cause`] is `cause`; the returned [`CancelFunc`] does not set it.
///
/// ```
/// use chan::context::{self, Cause, ContextError};
/// use std::time::Duration;
/// let why = Cause::from("lookup took too long");
/// let (ctx, cancel) =
///     context::with_timeout_cause(&context::background(), Duration::from_secs(60), Some(why));
/// cancel.cancel(); // before the timeout: Go's cancel() sets no cause
/// assert_eq!(ctx.err(), Some(ContextError::Canceled));
/// assert_eq!(context::cause(&ctx), Some(ContextError::Canceled.into()));
/// ```
pub fn with_timeout_cause(
    parent: &Context,
    timeout: Duration,
    cause: Option<Cause>,
) -> (Context, CancelFunc) {
    with_deadline_cause(parent, runtime::deadline_after(timeout), cause)
}

/// A child of `parent` that carries `value` under `key` (Go's `context.WithValue`);
/// cancellation and deadline are the parent's.
///
/// Keys are compared by type and then by `==`, so a private key type (a unit struct, an
/// enum) cannot collide with another package's keys, as Go recommends. Values are for
/// request-scoped data, not for passing optional parameters.
///
/// ```
/// use chan::context;
/// #[derive(PartialEq, Eq)]
/// struct RequestId;
/// let ctx = context::with_value(&context::background(), RequestId, 42u64);
/// let (child, _cancel) = context::with_cancel(&ctx);
/// assert_eq!(child.value::<RequestId, u64>(&RequestId), Some(&42));
/// ```
pub fn with_value<K, V>(parent: &Context, key: K, value: V) -> Context
where
    K: Any + Eq + Send + Sync,
    V: Any + Send + Sync,
{
    Context(Arc::new(Node {
        parent: Some(parent.clone()),
        cancel: parent.0.cancel.clone(),
        deadline: parent.0.deadline,
        kind: Kind::Value {
            key: Box::new(key),
            value: Box::new(value),
            types: (type_name::<K>(), type_name::<V>()),
        },
    }))
}

/// Why `ctx` was cancelled (Go's `context.Cause`): `None` while it is live; once it is done,
/// the cause its nearest cancellable context (itself or an ancestor) was cancelled with. That
/// is the cause given to a [`CancelCauseFunc`] or [`with_deadline_cause`], inherited from the
/// ancestor whose cancellation reached this context; for a cancellation without one (a
/// [`CancelFunc`], a plain deadline, `cancel(None)`) it is the context's
/// [`err()`](Context::err) as a `Cause`. `None` for contexts that cannot be cancelled
/// ([`background()`], [`without_cancel`]).
///
/// Takes the cancel state's lock once the context is done (Go takes it always); a live
/// context answers without it.
///
/// ```
/// use chan::context::{self, Cause, ContextError};
/// let (parent, cancel) = context::with_cancel_cause(&context::background());
/// let (child, _c) = context::with_cancel(&parent);
/// let values = context::with_value(&child, "k", 1);
/// assert_eq!(context::cause(&values), None);
/// let why = Cause::from("client went away");
/// cancel.cancel(Some(why.clone()));
/// assert_eq!(values.err(), Some(ContextError::Canceled));
/// assert_eq!(context::cause(&values), Some(why));
/// ```
pub fn cause(ctx: &Context) -> Option<Cause> {
    let s = ctx.0.cancel.as_ref()?;
    s.err()?;
    s.lock().cause.clone()
}

/// Arranges for `f` to run in its own goroutine once `ctx` is done (cancelled or past its
/// deadline), and returns a [`StopFunc`] that can call that off (Go's `context.AfterFunc`).
/// If `ctx` is done already, `f` starts at once, in a new goroutine. Each call registers
/// another function; `f` runs at most once, and never for a context that cannot be
/// cancelled.
///
/// Until `ctx` is done or [`stop`](StopFunc::stop) is called, `ctx`'s cancel state holds
/// `f` (as Go's does): an `f` that owns a clone of `ctx` keeps it alive until then.
///
/// ```
/// use chan::context;
/// let (ctx, cancel) = context::with_cancel(&context::background());
/// let ran = chan::make::<&str>(1);
/// let tx = ran.clone();
/// let _stop = context::after_func(&ctx, move || tx.send("cleaned up"));
/// cancel.cancel();
/// assert_eq!(ran.recv(), Some("cleaned up"));
/// ```
pub fn after_func<F>(ctx: &Context, f: F) -> StopFunc
where
    F: FnOnce() + Send + 'static,
{
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let after: Arc<dyn AfterFn> = Arc::new(AfterFunc(Mutex::new(Some(f))));
    let parent = ctx.0.cancel.as_ref();
    if let Some(p) = parent
        && p.register(id, Child::AfterFunc(after.clone())).is_err()
    {
        after.start();
    }
    StopFunc {
        id,
        after,
        parent: parent.map(Arc::downgrade),
    }
}

/// Calls off an [`after_func`] (Go's `stop func() bool`). Clone it to stop from several
/// places; dropping it does not stop the function.
///
/// ```
/// use chan::context;
/// let (ctx, cancel) = context::with_cancel(&context::background());
/// let stop = context::after_func(&ctx, || println!("cancelled"));
/// let handler_side = stop.clone();
/// assert!(handler_side.stop()); // the work finished first
/// assert!(!stop.stop());
/// cancel.cancel(); // prints nothing
/// ```
#[derive(Clone)]
pub struct StopFunc {
    id: u64,
    after: Arc<dyn AfterFn>,
    parent: Option<Weak<CancelState>>,
}

impl StopFunc {
    /// Stops the function from running, and unregisters it from the context. True if this
    /// call stopped it; false if it had already been started (the context is done; it is
    /// not waited for) or stopped.
    ///
    /// ```
    /// use chan::context;
    /// let (ctx, cancel) = context::with_cancel(&context::background());
    /// let stop = context::after_func(&ctx, || unreachable!("stopped first"));
    /// assert!(stop.stop());
    /// assert!(!stop.stop(), "already stopped");
    /// cancel.cancel();
    ///
    /// let stop = context::after_func(&ctx, || {}); // ctx is done: it starts at once
    /// assert!(!stop.stop());
    /// ```
    pub fn stop(&self) -> bool {
        if !self.after.stop() {
            return false;
        }
        if let Some(p) = self.parent.as_ref().and_then(Weak::upgrade) {
            p.remove_child(self.id);
        }
        true
    }
}

impl fmt::Debug for StopFunc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StopFunc").field("id", &self.id).finish()
    }
}

/// A child of `parent` that keeps its values but not its cancellation (Go's
/// `context.WithoutCancel`): it is never done, `err()`, `deadline()` and [`cause`] are
/// `None` and its [`done()`](Context::done) is the nil channel, whatever happens to
/// `parent`. For work that must outlive a request, such as a log flush, and still see its
/// values.
///
/// ```
/// use chan::context;
/// let (req, cancel) = context::with_cancel(&context::background());
/// let req = context::with_value(&req, "request-id", 7u32);
/// let background_work = context::without_cancel(&req);
/// cancel.cancel();
/// assert!(req.err().is_some());
/// assert_eq!(background_work.err(), None);
/// assert_eq!(background_work.value::<&str, u32>(&"request-id"), Some(&7));
/// ```
pub fn without_cancel(parent: &Context) -> Context {
    Context(Arc::new(Node {
        parent: Some(parent.clone()),
        cancel: None,
        deadline: None,
        kind: Kind::WithoutCancel,
    }))
}

impl Context {
    /// A channel that is closed when this context is cancelled (Go's `ctx.Done()`):
    /// `recv()` returns `None` from then on, and it can be a case of a
    /// [`Select`](crate::Select) (with [`Select::recv`](crate::Select::recv)).
    /// Nothing is ever sent on it. For a context that can never be cancelled
    /// ([`background()`], [`todo()`] and values under them) it is the nil channel, never
    /// ready.
    ///
    /// ```
    /// use chan::{context, Select, Selected};
    /// let (ctx, cancel) = context::with_cancel(&context::background());
    /// let work = chan::make::<u32>(0);
    /// cancel.cancel();
    /// let done = ctx.done();
    /// let mut sel = Select::new();
    /// sel.recv(&work);
    /// let d = sel.recv(&done);
    /// assert_eq!(sel.wait(), Selected::Case(d));
    /// ```
    pub fn done(&self) -> Receiver<()> {
        match &self.0.cancel {
            Some(s) => s.done.receiver(),
            None => Receiver::nil(),
        }
    }

    /// `None` while the context is live; once `done()` is closed, why (Go's `ctx.Err()`).
    /// Always [`Canceled`](ContextError::Canceled) or
    /// [`DeadlineExceeded`](ContextError::DeadlineExceeded), never a [`Cause`]: see
    /// [`cause`]. An atomic load: no lock.
    ///
    /// ```
    /// use chan::context::{self, ContextError};
    /// let (ctx, cancel) = context::with_cancel_cause(&context::background());
    /// assert_eq!(ctx.err(), None);
    /// cancel.cancel(Some("why".into()));
    /// assert_eq!(ctx.err(), Some(ContextError::Canceled));
    /// ```
    pub fn err(&self) -> Option<ContextError> {
        self.0.cancel.as_ref().and_then(|s| s.err())
    }

    /// When this context will be cancelled by a deadline, if it has one (its own or an
    /// ancestor's, the earliest).
    ///
    /// ```
    /// use chan::context;
    /// use std::time::Duration;
    /// let (parent, _c1) = context::with_timeout(&context::background(), Duration::from_secs(1));
    /// let (child, _c2) = context::with_timeout(&parent, Duration::from_secs(60));
    /// assert_eq!(child.deadline(), parent.deadline());
    /// assert_eq!(context::without_cancel(&child).deadline(), None);
    /// ```
    pub fn deadline(&self) -> Option<Instant> {
        self.0.deadline
    }

    /// The value stored under `key` by the nearest [`with_value`] ancestor (or this context)
    /// whose key is a `K` equal to `key`. If that value is not a `V`, the result is `None`
    /// (Go's failed type assertion; the search does not go further up).
    ///
    /// The reference lives as long as the borrow of this context: the chain of parents is
    /// immutable and owned by it.
    ///
    /// ```
    /// use chan::context;
    /// let ctx = context::with_value(&context::background(), "language", "Go");
    /// assert_eq!(ctx.value::<&str, &str>(&"language"), Some(&"Go"));
    /// assert_eq!(ctx.value::<&str, &str>(&"color"), None);
    /// assert_eq!(ctx.value::<&str, u32>(&"language"), None, "not a u32");
    /// ```
    pub fn value<K, V>(&self, key: &K) -> Option<&V>
    where
        K: Any + Eq,
        V: Any,
    {
        let mut node: &Node = &self.0;
        loop {
            if let Kind::Value { key: k, value, .. } = &node.kind
                && k.downcast_ref::<K>() == Some(key)
            {
                return value.downcast_ref::<V>();
            }
            node = &node.parent.as_ref()?.0;
        }
    }

    /// How many children (cancellable contexts and [`after_func`] registrations) are
    /// registered with this context's cancel state (the nearest cancellable one at or above
    /// it): for tests of the detach-on-cancel and stop rules.
    #[doc(hidden)]
    pub fn num_children(&self) -> usize {
        self.0
            .cancel
            .as_ref()
            .map_or(0, |s| s.lock().children.len())
    }
}

impl fmt::Debug for Context {
    /// Go's `String()` form: the chain from the root, e.g.
    /// `context.Background.WithValue(app::Key, u64).WithCancel`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut chain = Vec::new();
        let mut node: &Node = &self.0;
        loop {
            chain.push(node);
            match &node.parent {
                Some(p) => node = &p.0,
                None => break,
            }
        }
        for n in chain.iter().rev() {
            match &n.kind {
                Kind::Root(name) => f.write_str(name)?,
                Kind::Cancel => f.write_str(".WithCancel")?,
                Kind::Deadline(d) => write!(
                    f,
                    ".WithDeadline({:?} from now)",
                    d.saturating_duration_since(Instant::now())
                )?,
                Kind::Value { types, .. } => write!(f, ".WithValue({}, {})", types.0, types.1)?,
                Kind::WithoutCancel => f.write_str(".WithoutCancel")?,
            }
        }
        if let Some(e) = self.err() {
            write!(f, " [{e}]")?;
        }
        Ok(())
    }
}
