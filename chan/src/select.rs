//! Go's `reflect.Select`: a select built at run time ([`Select`]), what it returns
//! ([`Selected`]), and the sealed direction traits [`CanRecv`]/[`CanSend`]. It runs on the
//! select engine (`crate::engine`), as `select!` does.

use crate::chan::{Chan, Receiver, Sender};
use crate::engine::{Case, RecvCase, SendCase, run};
use std::any::TypeId;
use std::time::{Duration, Instant};

/// Which arm a select took.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Selected {
    /// The case with this index (in the order the cases were added).
    Case(usize),
    /// Nothing was ready and the select has a default.
    Default,
    /// Nothing became ready before the timeout.
    Timeout,
}

struct RecvTag<T>(std::marker::PhantomData<T>);
struct SendTag<T>(std::marker::PhantomData<T>);

pub(crate) mod sealed {
    /// The key to the direction traits' methods: public (so the traits can name it) but
    /// unnameable and unconstructible outside this crate, so no user code can call them.
    /// That is what makes a [`crate::Receiver`]'s direction a guarantee: nothing outside
    /// `chan` can turn one back into a [`crate::Chan`].
    pub struct Key(pub(crate) ());
}

/// A handle a receive case can take ([`Select::recv`]): [`Chan`] or [`Receiver`], or a
/// reference to one — never a [`Sender`] (Go's `<-chan T` / `chan<- T` are compile-time
/// directions, and so are goro's). Sealed: implemented only here.
///
/// ```compile_fail
/// let ch = chan::make::<i32>(1);
/// let tx = ch.sender();
/// let mut sel = chan::Select::new();
/// sel.recv(&tx); // error: a Sender cannot be received from
/// ```
pub trait CanRecv<T> {
    /// The channel behind the handle (callable only inside `chan`).
    #[doc(hidden)]
    fn recv_side(&self, key: sealed::Key) -> &Chan<T>;
}

/// A handle a send case can take ([`Select::send`]): [`Chan`] or [`Sender`], or a reference
/// to one — never a [`Receiver`]. Sealed: implemented only here.
///
/// ```compile_fail
/// let ch = chan::make::<i32>(1);
/// let rx = ch.receiver();
/// let mut sel = chan::Select::new();
/// sel.send(&rx, 1); // error: a Receiver cannot be sent on
/// ```
pub trait CanSend<T> {
    /// The channel behind the handle (callable only inside `chan`).
    #[doc(hidden)]
    fn send_side(&self, key: sealed::Key) -> &Chan<T>;
}

impl<T> CanRecv<T> for Chan<T> {
    fn recv_side(&self, _: sealed::Key) -> &Chan<T> {
        self
    }
}

impl<T> CanRecv<T> for Receiver<T> {
    fn recv_side(&self, _: sealed::Key) -> &Chan<T> {
        &self.ch
    }
}

impl<T, C: CanRecv<T> + ?Sized> CanRecv<T> for &C {
    fn recv_side(&self, key: sealed::Key) -> &Chan<T> {
        (**self).recv_side(key)
    }
}

impl<T> CanSend<T> for Chan<T> {
    fn send_side(&self, _: sealed::Key) -> &Chan<T> {
        self
    }
}

impl<T> CanSend<T> for Sender<T> {
    fn send_side(&self, _: sealed::Key) -> &Chan<T> {
        &self.ch
    }
}

impl<T, C: CanSend<T> + ?Sized> CanSend<T> for &C {
    fn send_side(&self, key: sealed::Key) -> &Chan<T> {
        (**self).send_side(key)
    }
}

/// The channel behind a receive-capable handle (for this crate's own use).
pub(crate) fn recv_side<T, C: CanRecv<T> + ?Sized>(c: &C) -> &Chan<T> {
    c.recv_side(sealed::Key(()))
}

/// The channel behind a send-capable handle (for this crate's own use).
pub(crate) fn send_side<T, C: CanSend<T> + ?Sized>(c: &C) -> &Chan<T> {
    c.send_side(sealed::Key(()))
}

/// A select built at run time, over any number of cases (Go's `reflect.Select`).
///
/// ```
/// use chan::{Select, Selected};
/// let a = chan::make::<u32>(1);
/// let b = chan::make::<&str>(1);
/// b.send("hi");
/// let mut sel = Select::new();
/// let ia = sel.recv(&a);
/// let ib = sel.recv(&b);
/// sel.timeout(std::time::Duration::from_secs(1));
/// match sel.wait() {
///     Selected::Case(i) if i == ib => assert_eq!(sel.recv_value::<&str>(ib), Some("hi")),
///     other => panic!("unexpected {other:?} (a is {ia})"),
/// }
/// ```
pub struct Select<'a> {
    cases: Vec<Box<dyn Case + 'a>>,
    /// The concrete type of each case, for the typed accessors (`recv_value`, `unsent`).
    tags: Vec<TypeId>,
    has_default: bool,
    deadline: Option<Instant>,
}

impl Default for Select<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'a> Select<'a> {
    /// A select with no cases yet.
    pub fn new() -> Self {
        Select {
            cases: Vec::new(),
            tags: Vec::new(),
            has_default: false,
            deadline: None,
        }
    }

    /// Adds a receive case on a [`Chan`] or [`Receiver`]; returns its index.
    pub fn recv<T: 'static, C: CanRecv<T> + ?Sized>(&mut self, ch: &'a C) -> usize {
        self.cases.push(Box::new(RecvCase::new(recv_side(ch))));
        self.tags.push(TypeId::of::<RecvTag<T>>());
        self.cases.len() - 1
    }

    /// Adds a send case of `v` on a [`Chan`] or [`Sender`]; returns its index. If another
    /// case is chosen, the value can be taken back with [`Select::unsent`].
    pub fn send<T: 'static, C: CanSend<T> + ?Sized>(&mut self, ch: &'a C, v: T) -> usize {
        self.cases.push(Box::new(SendCase::new(send_side(ch), v)));
        self.tags.push(TypeId::of::<SendTag<T>>());
        self.cases.len() - 1
    }

    /// Adds a default arm: `wait` returns [`Selected::Default`] at once if nothing is ready.
    pub fn default(&mut self) {
        self.has_default = true;
    }

    /// Adds a timeout arm: [`Selected::Timeout`] if nothing is ready within `d`.
    pub fn timeout(&mut self, d: Duration) {
        self.deadline = Some(runtime::deadline_after(d));
    }

    /// Like [`Select::timeout`] with an absolute deadline.
    pub fn deadline(&mut self, at: Instant) {
        self.deadline = Some(at);
    }

    /// Runs the select. Can be called again (e.g. in a loop) with the same cases.
    ///
    /// # Panics
    /// `send on closed channel` if the chosen case is a send on a closed channel.
    pub fn wait(&mut self) -> Selected {
        let mut refs: Vec<&mut dyn Case> = self
            .cases
            .iter_mut()
            .map(|c| &mut **c as &mut dyn Case)
            .collect();
        run(&mut refs, self.has_default, self.deadline)
    }

    /// The result of receive case `index` after it was chosen: `Some(v)`, or `None` if the
    /// channel was closed. Panics if `index` is not a receive case of `T` or was not chosen.
    pub fn recv_value<T: 'static>(&mut self, index: usize) -> Option<T> {
        assert!(
            self.tags[index] == TypeId::of::<RecvTag<T>>(),
            "select case {index} is not a receive of {}",
            std::any::type_name::<T>()
        );
        let c = &mut self.cases[index];
        // SAFETY: the tag proves the box holds a RecvCase<'a, T>.
        let rc = unsafe { &mut *(&mut **c as *mut dyn Case as *mut RecvCase<'a, T>) };
        rc.out
            .take()
            .unwrap_or_else(|| panic!("select case {index} was not chosen"))
    }

    /// The value of send case `index` if it was not sent. Panics if `index` is not a send
    /// case of `T`.
    pub fn unsent<T: 'static>(&mut self, index: usize) -> Option<T> {
        assert!(
            self.tags[index] == TypeId::of::<SendTag<T>>(),
            "select case {index} is not a send of {}",
            std::any::type_name::<T>()
        );
        let c = &mut self.cases[index];
        // SAFETY: the tag proves the box holds a SendCase<'a, T>.
        let sc = unsafe { &mut *(&mut **c as *mut dyn Case as *mut SendCase<'a, T>) };
        sc.value.take()
    }
}
