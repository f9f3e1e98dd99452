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
//! Every cancellable context (from `with_cancel`, `with_timeout`, `with_deadline`) owns a
//! cancel state: its `done` channel, its error, and the cancel states of its cancellable
//! descendants (value contexts in between are skipped: a child registers with its *nearest*
//! cancellable ancestor, as Go's `propagateCancel` does). Cancelling sets the error, closes
//! `done` and then cancels the registered children with the same error, walking the subtree
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
//! context's cancel state until it fires or the context is cancelled, as in Go).
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
use std::fmt;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{Duration, Instant};

/// Why a context was cancelled (Go's `context.Canceled` and `context.DeadlineExceeded`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContextError {
    /// Cancelled by a [`CancelFunc`] (its own or an ancestor's).
    Canceled,
    /// Its deadline (or an ancestor's) passed.
    DeadlineExceeded,
}

impl ContextError {
    /// Whether this is a timeout (Go's `DeadlineExceeded.Timeout()`).
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

/// Identifies a cancel state in its parent's child set.
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
    /// Registered cancellable descendants (nearest ones only); emptied on cancellation.
    children: HashMap<u64, Arc<CancelState>>,
    /// The deadline timer, if this context has its own deadline.
    timer: Option<CallbackTimer>,
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
        if let Some(p) = p {
            let mut t = p.lock();
            // Under the parent's lock: either we are in its set before it cancels (and it
            // will cancel us), or we see its error here.
            match p.err() {
                None => {
                    t.children.insert(s.id, s.clone());
                }
                Some(e) => {
                    drop(t);
                    s.cancel(e, false);
                }
            }
        }
        s
    }

    fn lock(&self) -> MutexGuard<'_, Tree> {
        self.tree.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn err(&self) -> Option<ContextError> {
        // Acquire: pairs with the Release store in cancel_one.
        ContextError::from_code(self.err.load(Ordering::Acquire))
    }

    /// Cancels this context and its subtree with `err`; a no-op if already cancelled.
    /// `detach`: remove it from its parent's set (a cancel of its own; a parent cancelling
    /// its children has emptied its set already).
    fn cancel(self: &Arc<Self>, err: ContextError, detach: bool) {
        let mut work = Vec::new();
        if !self.cancel_one(err, &mut work) {
            return;
        }
        if detach {
            self.detach();
        }
        while let Some(child) = work.pop() {
            child.cancel_one(err, &mut work);
        }
    }

    /// Cancels this one context, pushing its children onto `work`. False if it was already
    /// cancelled.
    fn cancel_one(&self, err: ContextError, work: &mut Vec<Arc<CancelState>>) -> bool {
        let mut t = self.lock();
        if self.err.load(Ordering::Relaxed) != ERR_NONE {
            return false; // Cancelled before (the store below happens under this lock).
        }
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
        let Some(p) = self.parent.as_ref().and_then(Weak::upgrade) else {
            return;
        };
        let mut t = p.lock();
        t.children.remove(&self.id);
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
        let mut work: Vec<Arc<CancelState>> = t.children.drain().map(|(_, c)| c).collect();
        while let Some(c) = work.pop() {
            if let Ok(mut c) = Arc::try_unwrap(c) {
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
#[derive(Clone)]
pub struct CancelFunc {
    state: Arc<CancelState>,
}

impl CancelFunc {
    /// Cancels the context: its `done()` channel is closed, its `err()` becomes
    /// [`ContextError::Canceled`], and so for every descendant; it leaves its parent's child
    /// set. A no-op if it was already cancelled (by this, a parent or its deadline).
    pub fn cancel(&self) {
        self.state.cancel(ContextError::Canceled, true);
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
pub fn background() -> Context {
    static BG: OnceLock<Context> = OnceLock::new();
    BG.get_or_init(|| root("context.Background")).clone()
}

/// Like [`background()`], for code that has not decided which context to use yet (Go's
/// `context.TODO`).
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

/// A child of `parent` that is also cancelled, with [`ContextError::DeadlineExceeded`],
/// once `deadline` passes (Go's `context.WithDeadline`). If `parent`'s deadline is earlier,
/// this is [`with_cancel`]: the parent's deadline will cancel both. A deadline already past
/// gives a context cancelled from the start.
pub fn with_deadline(parent: &Context, deadline: Instant) -> (Context, CancelFunc) {
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
        state.cancel(ContextError::DeadlineExceeded, true);
    } else {
        let s = state.clone();
        // Runs on the scheduler (g0): only start a goroutine there. The timer holds the
        // state until it fires or is stopped; cancel_one takes it out of `tree`, which
        // breaks the state -> timer -> callback -> state cycle.
        let timer = CallbackTimer::new(move || {
            let s = s.clone();
            runtime::go(move || s.cancel(ContextError::DeadlineExceeded, true));
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
pub fn with_timeout(parent: &Context, timeout: Duration) -> (Context, CancelFunc) {
    with_deadline(parent, runtime::deadline_after(timeout))
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
    pub fn err(&self) -> Option<ContextError> {
        self.0.cancel.as_ref().and_then(|s| s.err())
    }

    /// When this context will be cancelled by a deadline, if it has one (its own or an
    /// ancestor's, the earliest).
    pub fn deadline(&self) -> Option<Instant> {
        self.0.deadline
    }

    /// The value stored under `key` by the nearest [`with_value`] ancestor (or this context)
    /// whose key is a `K` equal to `key`. If that value is not a `V`, the result is `None`
    /// (Go's failed type assertion; the search does not go further up).
    ///
    /// The reference lives as long as the borrow of this context: the chain of parents is
    /// immutable and owned by it.
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

    /// How many cancellable children are registered with this context's cancel state (the
    /// nearest cancellable one at or above it): for tests of the detach-on-cancel rule.
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
            }
        }
        if let Some(e) = self.err() {
            write!(f, " [{e}]")?;
        }
        Ok(())
    }
}
