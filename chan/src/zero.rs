//! The unbuffered flavour: a rendezvous. A send hands its value straight to a waiting
//! receiver (and a receive takes it straight from a waiting sender), as Go's `chan.go` does
//! for `make(chan T)`.
//!
//! One lock guards both wait queues. A blocking operation matches a waiting partner or
//! enqueues itself with a [`Packet`] on its own stack, atomically under that lock, so two
//! partners can never both end up waiting. The partner that finds a waiter claims it (CAS of
//! its `Cx`), moves the value through the waiter's packet, marks the packet done, and readies
//! the waiter, which then runs next on the partner's P (runnext): a ping-pong stays on one
//! core.

use crate::engine::Outcome;
use crate::err::RecvTimeoutError;
use crate::flavour::{Blocked, Flavour};
use crate::lock::{SpinGuard, SpinLock};
use crate::shim::Waiter;
use crate::shim::{AtomicU8, AtomicU64, Ordering, UnsafeCell};
use crate::waitq::{Cx, Entry, Selection, WaitQueue};
use runtime::WaitReason;
use std::marker::PhantomData;
use std::time::Instant;

const EMPTY: u8 = 0;
const DONE: u8 = 1;
const CLOSED: u8 = 2;

/// The slot a blocked operation waits on: a value coming in (receive) or going out (send).
pub(crate) struct Packet<T> {
    msg: UnsafeCell<Option<T>>,
    state: AtomicU8,
}

impl<T> Packet<T> {
    pub(crate) fn new(msg: Option<T>) -> Packet<T> {
        Packet {
            msg: UnsafeCell::new(msg),
            state: AtomicU8::new(EMPTY),
        }
    }

    /// Waits until the claiming partner has finished with the packet, and returns how it
    /// ended (`DONE` or `CLOSED`). The partner completes it right after claiming, under the
    /// channel lock, so this rarely spins.
    #[cfg(not(loom))]
    pub(crate) fn wait_done(&self) -> u8 {
        let mut i = 0u32;
        loop {
            let s = self.state.load(Ordering::Acquire);
            if s != EMPTY {
                return s;
            }
            if i < 64 {
                crate::shim::spin_loop();
            } else {
                crate::shim::gosched();
            }
            i += 1;
        }
    }

    /// Under loom, blocks instead of spinning (a spin loop makes loom's search diverge, see
    /// `shim`): the claimer unparks the packet's owner after marking the packet, so a park
    /// here is always followed by a wakeup.
    #[cfg(loom)]
    pub(crate) fn wait_done(&self) -> u8 {
        loop {
            let s = self.state.load(Ordering::Acquire);
            if s != EMPTY {
                return s;
            }
            crate::shim::model::block();
        }
    }

    /// Takes the value (a received one, or a send's own value that was not taken).
    ///
    /// # Safety
    /// Only the packet's owner, after the packet is done or its registration removed.
    pub(crate) unsafe fn take(&self) -> Option<T> {
        // SAFETY: per the contract nobody else touches `msg` now.
        unsafe { self.with_msg(Option::take) }
    }

    /// Runs `f` on the value slot.
    ///
    /// # Safety
    /// The caller has exclusive access to the slot: it owns the packet and nobody else can
    /// reach it (see [`Packet::take`]), or it claimed the packet's `Cx` under the channel lock.
    #[cfg(not(loom))]
    #[inline(always)]
    unsafe fn with_msg<R>(&self, f: impl FnOnce(&mut Option<T>) -> R) -> R {
        // SAFETY: per the contract.
        f(unsafe { &mut *self.msg.get() })
    }

    /// Under loom the access is tracked: an unsynchronised one is reported as a data race.
    #[cfg(loom)]
    unsafe fn with_msg<R>(&self, f: impl FnOnce(&mut Option<T>) -> R) -> R {
        // SAFETY: per the contract (and loom checks it).
        self.msg.with_mut(|m| f(unsafe { &mut *m }))
    }

    pub(crate) fn as_entry_ptr(&self) -> *mut () {
        self as *const Packet<T> as *mut ()
    }
}

pub(crate) use crate::err::{TryRecv, TrySend};

struct Inner {
    senders: WaitQueue,
    receivers: WaitQueue,
    closed: bool,
}

pub(crate) struct Zero<T> {
    inner: SpinLock<Inner>,
    /// Bumped (under the lock) on every change that can make an operation ready or not:
    /// a waiter enqueued, claimed or withdrawn, or the close. A non-blocking select reads it
    /// around its poll to prove its snapshot was consistent (see select.rs).
    version: AtomicU64,
    _marker: PhantomData<T>,
}

// SAFETY: values of T only move between threads through packets, one owner at a time (the
// lock serialises the handoff); the channel never shares a &T. So T: Send suffices.
unsafe impl<T: Send> Send for Zero<T> {}
// SAFETY: sharing the channel lets threads hand values to each other through packets, one
// owner at a time under the lock; no `&T` is ever shared, so T: Send suffices.
unsafe impl<T: Send> Sync for Zero<T> {}

impl<T> Zero<T> {
    pub(crate) fn new() -> Zero<T> {
        Zero {
            inner: SpinLock::new(Inner {
                senders: WaitQueue::default(),
                receivers: WaitQueue::default(),
                closed: false,
            }),
            version: AtomicU64::new(0),
            _marker: PhantomData,
        }
    }

    #[inline]
    fn lock(&self) -> SpinGuard<'_, Inner> {
        self.inner.lock()
    }

    /// Records a readiness-relevant change; call with the lock held.
    ///
    /// A plain increment, not a locked read-modify-write: only lock holders write it, and a
    /// select reads it after taking this same lock for its poll. A change made before the
    /// poll's lock is then visible to the select's second read; one made after the poll may
    /// be missed, but then the poll's "not ready" still held at the poll, and the snapshot
    /// instant is the earliest poll (see select.rs). Saves two locked instructions per
    /// unbuffered handoff.
    #[inline]
    fn bump(&self) {
        let v = self.version.load(Ordering::Relaxed);
        self.version.store(v.wrapping_add(1), Ordering::Release);
    }

    /// Hands `msg` to a waiting receiver (not `me`), if there is one.
    /// Returns the receiver's waiter to unpark after unlocking.
    fn handoff_to_receiver(inner: &mut Inner, me: *const Cx, msg: T) -> Result<Waiter, T> {
        // SAFETY: we hold the channel lock, which protects the queue.
        match unsafe { inner.receivers.claim(me) } {
            Some(e) => {
                // SAFETY: claimed under the lock: the receiver's packet (a Packet<T>) stays
                // alive until it sees the packet done and takes this lock to unregister.
                let (p, w) = unsafe {
                    let p = &*(e.packet as *const Packet<T>);
                    (p, e.cx().waiter.clone())
                };
                // SAFETY: we claimed the receiver; nobody else writes its packet.
                unsafe { p.with_msg(|m| *m = Some(msg)) };
                p.state.store(DONE, Ordering::Release);
                Ok(w)
            }
            None => Err(msg),
        }
    }

    /// Takes the value of a waiting sender (not `me`), if there is one.
    fn take_from_sender(inner: &mut Inner, me: *const Cx) -> Option<(T, Waiter)> {
        // SAFETY: we hold the channel lock.
        let e = unsafe { inner.senders.claim(me) }?;
        // SAFETY: claimed under the lock; the sender's packet outlives its registration.
        let (p, w) = unsafe {
            let p = &*(e.packet as *const Packet<T>);
            (p, e.cx().waiter.clone())
        };
        // SAFETY: we claimed the sender; its packet holds its value.
        let msg = unsafe { p.with_msg(Option::take) }.expect("zero: sender packet without a value");
        p.state.store(DONE, Ordering::Release);
        Some((msg, w))
    }

    /// Parks until `cx` is claimed (Some(case)) or the deadline passes and the withdrawal
    /// wins (None; the entry is then removed).
    fn wait(&self, cx: &Cx, deadline: Option<Instant>, reason: WaitReason) -> Option<usize> {
        debug_assert!(
            cx.selection() != Selection::Aborted,
            "zero: withdrew without returning"
        );
        let case = cx.wait_until_decided(deadline, reason);
        if case.is_none() {
            self.unregister(cx);
        }
        case
    }

    /// Removes every registration of `cx`.
    pub(crate) fn unregister(&self, cx: &Cx) {
        let mut inner = self.lock();
        let a = inner.senders.remove(cx).is_some();
        let b = inner.receivers.remove(cx).is_some();
        if a || b {
            self.bump();
        }
    }
}

impl<T> Flavour<T> for Zero<T> {
    fn try_send(&self, msg: T) -> Result<(), TrySend<T>> {
        let mut inner = self.lock();
        if inner.closed {
            return Err(TrySend::Closed(msg));
        }
        match Self::handoff_to_receiver(&mut inner, std::ptr::null(), msg) {
            Ok(w) => {
                self.bump();
                drop(inner);
                w.unpark();
                Ok(())
            }
            Err(msg) => Err(TrySend::Full(msg)),
        }
    }

    fn try_recv(&self) -> Result<T, TryRecv> {
        let mut inner = self.lock();
        if let Some((msg, w)) = Self::take_from_sender(&mut inner, std::ptr::null()) {
            self.bump();
            drop(inner);
            w.unpark();
            return Ok(msg);
        }
        Err(if inner.closed {
            TryRecv::Closed
        } else {
            TryRecv::Empty
        })
    }

    fn send(&self, msg: T, deadline: Option<Instant>) -> Result<(), Blocked<T>> {
        let mut inner = self.lock();
        if inner.closed {
            return Err(Blocked::Closed(msg));
        }
        let msg = match Self::handoff_to_receiver(&mut inner, std::ptr::null(), msg) {
            Ok(w) => {
                self.bump();
                drop(inner);
                w.unpark();
                return Ok(());
            }
            Err(msg) => msg,
        };
        let cx = Cx::new();
        let packet = Packet::new(Some(msg));
        inner.senders.push(Entry {
            cx: &cx,
            case: 0,
            packet: packet.as_entry_ptr(),
        });
        self.bump();
        drop(inner);
        match self.wait(&cx, deadline, WaitReason::ChanSend) {
            Some(_) => match packet.wait_done() {
                // SAFETY: done: the receiver took the value (or close left it to us).
                CLOSED => Err(Blocked::Closed(
                    unsafe { packet.take() }.expect("value kept"),
                )),
                _ => Ok(()),
            },
            // SAFETY: withdrawn and unregistered: the value is still ours.
            None => Err(Blocked::Timeout(
                unsafe { packet.take() }.expect("value kept"),
            )),
        }
    }

    fn recv(&self, deadline: Option<Instant>) -> Result<Option<T>, RecvTimeoutError> {
        let mut inner = self.lock();
        if let Some((msg, w)) = Self::take_from_sender(&mut inner, std::ptr::null()) {
            self.bump();
            drop(inner);
            w.unpark();
            return Ok(Some(msg));
        }
        if inner.closed {
            return Ok(None);
        }
        let cx = Cx::new();
        let packet: Packet<T> = Packet::new(None);
        inner.receivers.push(Entry {
            cx: &cx,
            case: 0,
            packet: packet.as_entry_ptr(),
        });
        self.bump();
        drop(inner);
        match self.wait(&cx, deadline, WaitReason::ChanReceive) {
            Some(_) => match packet.wait_done() {
                CLOSED => Ok(None),
                // SAFETY: done: the sender put its value in our packet.
                _ => Ok(Some(unsafe { packet.take() }.expect("sender left a value"))),
            },
            None => Err(RecvTimeoutError),
        }
    }

    /// Wakes every waiter: receivers get `None`, senders find their packet `CLOSED` (and
    /// panic, or get their value back in `try`).
    fn close(&self) -> bool {
        let mut inner = self.lock();
        if inner.closed {
            return false;
        }
        inner.closed = true;
        self.bump();
        let mut wake = Vec::new();
        let queues = &mut *inner;
        for q in [&mut queues.senders, &mut queues.receivers] {
            // SAFETY: we hold the channel lock.
            while let Some(e) = unsafe { q.claim(std::ptr::null()) } {
                // SAFETY: claimed under the lock; the packet is alive (module docs).
                unsafe {
                    let p = &*(e.packet as *const Packet<T>);
                    p.state.store(CLOSED, Ordering::Release);
                    wake.push(e.cx().waiter.clone());
                }
            }
        }
        drop(inner);
        for w in wake {
            w.unpark();
        }
        true
    }

    fn is_closed(&self) -> bool {
        self.lock().closed
    }

    fn len(&self) -> usize {
        0
    }

    fn cap(&self) -> usize {
        0
    }

    /// The change counter (see the field).
    fn version(&self) -> u128 {
        self.version.load(Ordering::SeqCst) as u128
    }

    /// True if a sender other than us waits, or the channel is closed: don't park.
    fn register_recv(&self, cx: &Cx, case: usize, packet: &mut Packet<T>) -> bool {
        *packet = Packet::new(None);
        let mut inner = self.lock();
        inner.receivers.push(Entry {
            cx,
            case,
            packet: packet.as_entry_ptr(),
        });
        self.bump();
        // SAFETY: we hold the channel lock.
        inner.closed || unsafe { inner.senders.has_other_waiter(cx) }
    }

    fn unregister_recv(&self, cx: &Cx) {
        self.unregister(cx);
    }

    /// The handoff already happened: the sender (or close) finished with our packet.
    fn complete_recv(&self, packet: &Packet<T>) -> Option<Option<T>> {
        Some(match packet.wait_done() {
            CLOSED => None,
            // SAFETY: done, and unregistered: the packet is ours again.
            _ => Some(unsafe { packet.take() }.expect("sender left a value")),
        })
    }

    /// The value moves into the packet, where a receiver that claims the select takes it.
    /// True if a receiver other than us waits, or the channel is closed: don't park.
    fn register_send(
        &self,
        cx: &Cx,
        case: usize,
        packet: &mut Packet<T>,
        value: &mut Option<T>,
    ) -> bool {
        *packet = Packet::new(value.take());
        let mut inner = self.lock();
        inner.senders.push(Entry {
            cx,
            case,
            packet: packet.as_entry_ptr(),
        });
        self.bump();
        // SAFETY: we hold the channel lock.
        inner.closed || unsafe { inner.receivers.has_other_waiter(cx) }
    }

    fn unregister_send(&self, cx: &Cx, packet: &Packet<T>, value: &mut Option<T>) {
        self.unregister(cx);
        // After unregistering (under the channel lock) a claimer, if any, is done with the
        // packet. Unclaimed or closed: the value is still ours.
        // SAFETY: unregistered: nobody else touches the packet now.
        if let Some(v) = unsafe { packet.take() } {
            *value = Some(v);
        }
    }

    fn complete_send(&self, packet: &Packet<T>, _value: &mut Option<T>) -> Outcome {
        match packet.wait_done() {
            CLOSED => Outcome::SendClosed,
            _ => Outcome::Ready,
        }
    }
}

#[cfg(all(test, loom))]
impl<T> Zero<T> {
    /// How many registrations (senders, receivers) the queues hold: the models check that
    /// none is left behind once every operation has returned (a stale one would point into
    /// a dead stack frame).
    pub(crate) fn registrations(&self) -> (usize, usize) {
        let inner = self.lock();
        (inner.senders.len(), inner.receivers.len())
    }
}
