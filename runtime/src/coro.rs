//! Coroutines for [`iter::pull`](crate::iter::pull): Go 1.23's `iter.Pull`, which turns a
//! push iterator (a function that calls `yield` for each value) into a pull one (`next`).
//!
//! Go runs the push function as a coroutine: a goroutine that the caller switches to
//! directly (`coroswitch`), with no trip through the run queue and no channel. goro does the
//! same with less: the producer runs on a stack of its own (a guarded goroutine stack from the
//! runtime's pool), and `next` switches the running thread from the consumer's stack to the
//! producer's and back ([`crate::switch::jump_light`], the direct-park switch without the
//! floating-point control state). Nothing else is
//! involved: no scheduler, no lock, no atomic, no allocation per item. The producer belongs to
//! whoever calls `next`: inside a goroutine it is part of that goroutine (it may park, and
//! the goroutine parks with it, resuming later with the producer's frames on top), and on a
//! plain thread it is part of that thread (where parking blocks the thread, as everywhere).
//!
//! ## The protocol
//! Each side hands control to the other with one switch, carrying a word:
//!
//! | from | word | meaning |
//! |---|---|---|
//! | consumer, first switch | address of [`Shared`] | start the producer |
//! | consumer | [`NEXT`] / [`STOP`] | resume the `yield` the producer waits in, returning true / false |
//! | producer | [`YIELDED`] | a value is in [`Shared::value`] |
//! | producer | [`RETURNED`] / [`PANICKED`] | the producer has finished (its stack is free) |
//!
//! The value, the consumer's saved context and a panic payload travel in a [`Shared`] record
//! at the top of the producer's stack, which never moves while the [`Pull`] (which may) lives.
//! Each side touches the record only through its raw pointer and only while the other is
//! suspended: exactly one side runs at any moment.
//!
//! ## Stopping
//! Go's `stop` makes the pending `yield` return false and waits for the producer to return.
//! A producer that ignores the false and yields again would make that wait endless (Go's
//! `range`-over-func panics there); goro unwinds it instead, with a private payload that
//! [`entry`] catches, so `stop` and dropping a [`Pull`] always finish and every value the
//! producer holds is dropped. A producer that has not started when it is stopped never runs
//! (Go's rule); its closure is dropped where it lies.

use crate::stack::Stack;
use crate::switch::jump_light as jump;
use crate::switch::{Context, Transfer};
use std::any::Any;
use std::cell::RefCell;
use std::marker::PhantomData;
use std::mem;
use std::panic::{self, AssertUnwindSafe};
use std::ptr;
use std::sync::Mutex;

/// Consumer to producer: make the waiting `yield` return true.
const NEXT: usize = 0;
/// Consumer to producer: make the waiting `yield` return false (stop).
const STOP: usize = 1;
/// Producer to consumer: a value is ready.
const YIELDED: usize = 0;
/// Producer to consumer: the producer returned (or was unwound by a stop).
const RETURNED: usize = 1;
/// Producer to consumer: the producer panicked; the payload is in [`Shared::panic`].
const PANICKED: usize = 2;

/// Closures larger than this are boxed instead of written at the top of the producer's stack.
const INLINE_SEQ_MAX: usize = 16 * 1024;

/// What the two sides share, at the top of the producer's stack.
struct Shared<T> {
    /// The consumer's context, while the producer runs.
    back: Option<Context>,
    /// The value being handed over.
    value: Option<T>,
    /// A producer's panic, on its way to the consumer.
    panic: Option<Box<dyn Any + Send>>,
    /// A `yield` has returned false: the next one unwinds the producer.
    refused: bool,
    /// Where the producer's closure lies, read once by [`entry`].
    seq: *mut u8,
}

/// The payload that unwinds a producer that yields after being told to stop.
struct StopUnwind;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    /// Made, never switched to: the closure has not run.
    Fresh,
    /// Suspended in `yield` (or, while `next` runs, running).
    Suspended,
    /// Returned, panicked or stopped; the stack is back in the cache.
    Done,
}

/// A pull iterator over the values a producer yields: [`iter::pull`](crate::iter::pull)'s
/// result (Go's `next, stop := iter.Pull(seq)`).
///
/// The producer's frames go wherever the `Pull` goes: to another OS thread when its goroutine
/// migrates or when the `Pull` itself is sent to another thread. A `yield_` is therefore a
/// migration point, with the crate docs' migration contract: do not hold a `thread_local!`
/// borrow (or an `Rc` taken from one), or a std lock guard, across it. Likewise a producer
/// finished by a `Pull` dropped while its consumer panics must not park in that cleanup.
///
/// [`Iterator::next`] runs the producer until its next `yield` (Go's `next()`), returning
/// `None` once it has returned; [`Pull::stop`] (or dropping the `Pull`) ends it early. A
/// panic in the producer comes out of the `next` or `stop` that was running it.
///
/// ```
/// let mut words = runtime::iter::pull(|y| {
///     for w in "to be or not".split(' ') {
///         if !y(w) { return; }
///     }
/// });
/// assert_eq!(words.next(), Some("to"));
/// let rest: Vec<&str> = words.collect(); // a Pull is an Iterator
/// assert_eq!(rest, ["be", "or", "not"]);
/// ```
pub struct Pull<'a, T> {
    stack: Stack,
    shared: *mut Shared<T>,
    /// The producer's context while it is fresh or suspended.
    ctx: Option<Context>,
    state: State,
    /// Drops the closure of a producer that never started.
    drop_seq: unsafe fn(*mut u8),
    _marker: PhantomData<(&'a (), *mut T)>,
}

// SAFETY: `pull` takes only `Send` closures and values, so the producer's frames (made of the
// closure and the values it yields) may be resumed from another thread, as a goroutine's may.
unsafe impl<T: Send> Send for Pull<'_, T> {}

impl<T> std::fmt::Debug for Pull<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pull").field("state", &self.state).finish()
    }
}

/// Turns a push iterator into a pull one (Go 1.23's `iter.Pull`).
///
/// `seq` is the producer, Go's `iter.Seq[V]`: a function that calls `yield_` with each value
/// and stops when `yield_` returns false. It runs as a coroutine: each
/// [`next`](Iterator::next) switches to it until its next `yield_`, then back, with no
/// goroutine, channel or lock in between. The producer may borrow from the caller, park
/// (inside a goroutine its goroutine parks with it) and panic (the panic comes out of
/// `next`).
///
/// ```
/// use runtime::iter;
///
/// // func fib(yield func(int) bool) { a, b := 0, 1; for yield(a) { a, b = b, a+b } }
/// let fib = |yield_: &mut dyn FnMut(u64) -> bool| {
///     let (mut a, mut b) = (0, 1);
///     while yield_(a) {
///         (a, b) = (b, a + b);
///     }
/// };
/// let mut next = iter::pull(fib);
/// let first: Vec<u64> = next.by_ref().take(10).collect();
/// assert_eq!(first, [0, 1, 1, 2, 3, 5, 8, 13, 21, 34]);
/// next.stop(); // fib's pending yield returns false and fib returns
/// assert_eq!(next.next(), None);
/// ```
///
/// Two sequences merged in order, the use Go gives for `Pull`:
///
/// ```
/// use runtime::iter;
/// let odds = [1, 3, 5, 9];
/// let evens = [2, 4, 6, 8, 10];
/// let mut a = iter::pull(|y: &mut dyn FnMut(i32) -> bool| {
///     for &v in &odds {
///         if !y(v) { return; }
///     }
/// });
/// let mut b = iter::pull(|y: &mut dyn FnMut(i32) -> bool| {
///     for &v in &evens {
///         if !y(v) { return; }
///     }
/// });
/// let (mut x, mut z) = (a.next(), b.next());
/// let mut merged = Vec::new();
/// while x.is_some() || z.is_some() {
///     if z.is_none() || x.is_some_and(|x| x <= z.unwrap()) {
///         merged.push(x.unwrap());
///         x = a.next();
///     } else {
///         merged.push(z.unwrap());
///         z = b.next();
///     }
/// }
/// assert_eq!(merged, [1, 2, 3, 4, 5, 6, 8, 9, 10]);
/// ```
///
/// # Panics
/// If no stack can be mapped for the producer (as spawning a goroutine would abort).
pub fn pull<'a, T, F>(seq: F) -> Pull<'a, T>
where
    F: FnOnce(&mut dyn FnMut(T) -> bool) + Send + 'a,
    T: Send + 'a,
{
    if mem::size_of::<F>() > INLINE_SEQ_MAX {
        start(Box::new(seq))
    } else {
        start(seq)
    }
}

/// [`pull`] for a sequence of pairs (Go's `iter.Pull2` over an `iter.Seq2[K, V]`): the
/// producer yields a key and a value; `next` returns them as a tuple.
///
/// ```
/// let names = ["a", "b", "c"];
/// let mut next = runtime::iter::pull2(|y| {
///     for (i, &n) in names.iter().enumerate() {
///         if !y(i, n) { return; }
///     }
/// });
/// assert_eq!(next.next(), Some((0, "a")));
/// assert_eq!(next.next(), Some((1, "b")));
/// ```
pub fn pull2<'a, K, V, F>(seq: F) -> Pull<'a, (K, V)>
where
    F: FnOnce(&mut dyn FnMut(K, V) -> bool) + Send + 'a,
    K: Send + 'a,
    V: Send + 'a,
{
    pull(move |yield_: &mut dyn FnMut((K, V)) -> bool| seq(&mut |k, v| yield_((k, v))))
}

fn start<'a, T, F>(seq: F) -> Pull<'a, T>
where
    F: FnOnce(&mut dyn FnMut(T) -> bool) + Send + 'a,
    T: Send + 'a,
{
    let stack = stacks::get();
    let top = stack.top as usize;
    let shared_at = (top - mem::size_of::<Shared<T>>()) & !(mem::align_of::<Shared<T>>() - 1);
    let seq_at = (shared_at - mem::size_of::<F>()) & !(mem::align_of::<F>() - 1);
    let ctx_top = seq_at & !15;
    assert!(
        ctx_top > stack.bottom as usize + 8192,
        "iter::pull: the producer's values do not fit its stack"
    );
    // SAFETY: both records lie in the top of a stack that is ours alone (fresh from the
    // cache, nothing runs on it), inside its usable range (checked just above) and aligned
    // for their types.
    unsafe {
        ptr::write(seq_at as *mut F, seq);
        ptr::write(
            shared_at as *mut Shared<T>,
            Shared {
                back: None,
                value: None,
                panic: None,
                refused: false,
                seq: seq_at as *mut u8,
            },
        );
    }
    // SAFETY: [bottom, ctx_top) is unused memory of our stack, below the two records; the
    // context starts at its top.
    let ctx = unsafe { crate::switch::make(ctx_top as *mut u8, entry::<T, F>) };
    Pull {
        stack,
        shared: shared_at as *mut Shared<T>,
        ctx: Some(ctx),
        state: State::Fresh,
        drop_seq: drop_seq::<F>,
        _marker: PhantomData,
    }
}

/// Drops a never-started producer's closure where [`start`] wrote it.
///
/// # Safety
/// `at` must hold an `F` that nothing has moved out or dropped.
unsafe fn drop_seq<F>(at: *mut u8) {
    // SAFETY: per the contract.
    unsafe { ptr::drop_in_place(at as *mut F) }
}

/// The producer's first frame: runs the closure, then reports how it ended and leaves for
/// good.
extern "C" fn entry<T, F>(t: Transfer) -> !
where
    F: FnOnce(&mut dyn FnMut(T) -> bool),
{
    let shared = t.data as *mut Shared<T>;
    let code = {
        // SAFETY: the first switch to a producer passes its record's address; the consumer
        // is suspended, so the record is ours to write, and `seq` holds the closure `start`
        // wrote, read exactly once here.
        let seq: F = unsafe {
            (*shared).back = Some(t.context);
            ptr::read((*shared).seq as *mut F)
        };
        let r = panic::catch_unwind(AssertUnwindSafe(|| {
            seq(&mut |v: T| {
                // SAFETY: we run inside the producer, whose record this is.
                unsafe { yield_value(shared, v) }
            })
        }));
        match r {
            Ok(()) => RETURNED,
            Err(p) if p.is::<StopUnwind>() => RETURNED,
            Err(p) => {
                // SAFETY: we run inside the producer and the consumer is suspended in its
                // switch until we switch back, so the record is ours alone to write.
                unsafe { (*shared).panic = Some(p) };
                PANICKED
            }
        }
    };
    // Everything this frame owned is gone; the stack is the consumer's to reuse once we leave.
    // SAFETY: `back` is the consumer's context, suspended in its switch to us, and this is the
    // last time this stack runs.
    unsafe {
        let back = (*shared)
            .back
            .take()
            .unwrap_or_else(|| std::process::abort());
        jump(back, code);
    }
    // A finished producer is never resumed; if it were, there would be no frame to return to.
    std::process::abort()
}

/// The producer's `yield`: hands `v` over and waits for the consumer's next `next` (true) or
/// `stop` (false).
///
/// # Safety
/// Must run on the producer whose record `shared` is.
unsafe fn yield_value<T>(shared: *mut Shared<T>, v: T) -> bool {
    // SAFETY: for every access below: the record is the producer's; the consumer is suspended
    // while we run, and no reference to the record outlives a switch.
    unsafe {
        if (*shared).refused {
            // Told to stop, and yielding anyway: unwind (the module docs say why).
            drop(v);
            panic::resume_unwind(Box::new(StopUnwind));
        }
        (*shared).value = Some(v);
        let back = (*shared)
            .back
            .take()
            .expect("iter::pull: yield outside its producer");
        let t = jump(back, YIELDED);
        (*shared).back = Some(t.context);
        if t.data == STOP {
            (*shared).refused = true;
            return false;
        }
        true
    }
}

impl<T> Pull<'_, T> {
    /// Switches to the producer with `word` and handles how it comes back.
    fn resume(&mut self, word: usize) -> Option<T> {
        let ctx = self
            .ctx
            .take()
            .expect("iter::pull: producer context missing");
        let word = if self.state == State::Fresh {
            self.shared as usize
        } else {
            word
        };
        self.state = State::Suspended;
        // SAFETY: `ctx` is the producer's, made by `start` or saved by its last `yield`, and
        // resumed only here; our own context travels to it in the Transfer.
        let t = unsafe { jump(ctx, word) };
        match t.data {
            YIELDED => {
                self.ctx = Some(t.context);
                // SAFETY: the producer is suspended in its `yield`, having stored a value.
                unsafe { (*self.shared).value.take() }
            }
            RETURNED => {
                self.finish();
                None
            }
            _ => {
                // SAFETY: the producer has finished; its record is still intact until the
                // stack is reused, and we take the payload first.
                let p = unsafe { (*self.shared).panic.take() };
                self.finish();
                panic::resume_unwind(p.unwrap_or_else(|| Box::new("iter::pull: lost panic")))
            }
        }
    }

    /// The producer is gone: give its stack back.
    fn finish(&mut self) {
        self.state = State::Done;
        self.ctx = None;
        stacks::put(self.stack);
    }

    /// Ends the iteration (Go's `stop()`): a producer waiting in `yield_` sees it return
    /// false and runs on until it returns (unwound if it yields again); a producer that never
    /// started never runs. Later [`next`](Iterator::next) calls return `None`. Calling it
    /// again, or after the producer returned, does nothing.
    ///
    /// # Panics
    /// With the producer's panic, if it panics while finishing.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// let cleaned = AtomicBool::new(false);
    /// let mut next = runtime::iter::pull(|y: &mut dyn FnMut(i32) -> bool| {
    ///     let mut i = 0;
    ///     while y(i) {
    ///         i += 1;
    ///     }
    ///     cleaned.store(true, Ordering::Relaxed); // runs once stop makes y return false
    /// });
    /// assert_eq!(next.next(), Some(0));
    /// next.stop();
    /// assert!(cleaned.load(Ordering::Relaxed));
    /// assert_eq!(next.next(), None);
    /// ```
    pub fn stop(&mut self) {
        match self.state {
            State::Done => {}
            State::Fresh => {
                // Done first: should dropping the closure panic, nothing may start the
                // producer (on the closure just dropped) or drop it again later.
                self.state = State::Done;
                self.ctx = None;
                // The stack goes back even if the drop panics (it holds nothing after).
                struct Back(Stack);
                impl Drop for Back {
                    fn drop(&mut self) {
                        stacks::put(self.0);
                    }
                }
                let _back = Back(self.stack);
                // SAFETY: the producer never ran, so its closure is still where `start`
                // wrote it, and the state above makes this the only drop.
                unsafe { (self.drop_seq)((*self.shared).seq) };
            }
            State::Suspended => {
                let v = self.resume(STOP);
                debug_assert!(v.is_none(), "a stopped producer yielded");
            }
        }
    }
}

impl<T> Iterator for Pull<'_, T> {
    type Item = T;

    /// Runs the producer to its next `yield_` and returns the value (Go's `v, ok := next()`);
    /// `None` once it has returned or been stopped.
    fn next(&mut self) -> Option<T> {
        if self.state == State::Done {
            return None;
        }
        self.resume(NEXT)
    }
}

impl<T> std::iter::FusedIterator for Pull<'_, T> {}

impl<T> Drop for Pull<'_, T> {
    fn drop(&mut self) {
        if self.state == State::Done {
            return;
        }
        if std::thread::panicking() {
            // A second panic escaping a drop during unwinding would abort: finish the
            // producer, and keep its panic (already reported by the hook) from escaping.
            let _ = panic::catch_unwind(AssertUnwindSafe(|| self.stop()));
        } else {
            self.stop();
        }
    }
}

/// Producer stacks: a few per thread, the rest in a process-wide list, new ones from the
/// runtime's pool (so they are guarded and sized like goroutine stacks).
mod stacks {
    use super::*;

    /// Stacks kept per thread, taken and returned with no lock.
    const LOCAL_MAX: usize = 4;
    /// Stacks in the shared list beyond this many have their pages returned to the OS
    /// (their address space stays reserved for the next producer), so a burst of live
    /// `Pull`s does not keep its memory.
    const GLOBAL_WARM_MAX: usize = 64;

    static GLOBAL: Mutex<Vec<Stack>> = Mutex::new(Vec::new());

    struct Local(Vec<Stack>);

    impl Drop for Local {
        fn drop(&mut self) {
            // The thread is exiting: its stacks go to the shared list, not to waste.
            GLOBAL
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .append(&mut self.0);
        }
    }

    thread_local! {
        static LOCAL: RefCell<Local> = const { RefCell::new(Local(Vec::new())) };
    }

    #[inline(never)]
    fn local_pop() -> Option<Stack> {
        LOCAL.try_with(|l| l.borrow_mut().0.pop()).ok().flatten()
    }

    pub(super) fn get() -> Stack {
        let stack = local_pop()
            .or_else(|| GLOBAL.lock().unwrap_or_else(|e| e.into_inner()).pop())
            .unwrap_or_else(|| {
                crate::sched::ensure_init();
                crate::sched::SCHED.stacks.get().unwrap_or_else(|e| {
                    panic!("iter::pull: cannot allocate a stack for the producer: {e}")
                })
            });
        // The overflow report names the goroutine that runs the producer.
        let owner = crate::m::current_g().map_or(ptr::null_mut(), |g| g as *const _ as *mut ());
        crate::stack::set_owner(&stack, owner);
        stack
    }

    #[inline(never)]
    pub(super) fn put(stack: Stack) {
        stack.release_deep();
        let rest = LOCAL.try_with(|l| {
            let mut l = l.borrow_mut();
            if l.0.len() < LOCAL_MAX {
                l.0.push(stack);
                None
            } else {
                Some(stack)
            }
        });
        let spill = match rest {
            Ok(None) => return,
            Ok(Some(s)) => s,
            // The thread is exiting and its cache is gone.
            Err(_) => stack,
        };
        let mut global = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        if global.len() >= GLOBAL_WARM_MAX {
            spill.release_all();
        }
        global.push(spill);
    }
}
