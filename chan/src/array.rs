//! The buffered flavour: a bounded lock-free ring (Dmitry Vyukov's array queue, as in
//! crossbeam-channel) plus wait queues that are only locked when someone waits.
//!
//! Each slot carries a stamp. For a sender, a slot is free when its stamp equals the tail; it
//! writes the value and stamps `tail + 1`. For a receiver, a slot is full when its stamp is
//! `head + 1`; it reads and stamps `head + one_lap`. Head and tail carry a lap count above
//! the index bits, so a full ring is told apart from an empty one. Closing sets a mark bit in
//! the tail: senders then fail, receivers drain what is left and then see the close.
//!
//! Blocking: an operation that cannot proceed registers in `senders`/`receivers`, re-checks,
//! and parks; the opposite operation, after it succeeds, notifies one waiter (a single atomic
//! load when nobody waits). The woken waiter retries.

use crate::engine::Outcome;
use crate::err::RecvTimeoutError;
use crate::flavour::{Blocked, Flavour};
use crate::shim::{AtomicUsize, Ordering, UnsafeCell, fence};
use crate::waitq::{Cx, SyncWaitQueue};
use crate::zero::Packet;
use runtime::WaitReason;
use std::mem::MaybeUninit;
use std::time::Instant;

struct Slot<T> {
    stamp: AtomicUsize,
    msg: UnsafeCell<MaybeUninit<T>>,
}

impl<T> Slot<T> {
    /// Stores a value in the slot.
    ///
    /// # Safety
    /// The caller has exclusive access to the slot (it won the tail CAS on this slot's stamp)
    /// and the slot holds no value.
    #[inline(always)]
    unsafe fn write(&self, msg: T) {
        #[cfg(not(loom))]
        // SAFETY: per the contract.
        unsafe {
            self.msg.get().write(MaybeUninit::new(msg))
        };
        // Under loom the access is tracked: an unsynchronised one is reported as a data race.
        #[cfg(loom)]
        // SAFETY: per the contract (and loom checks it).
        self.msg
            .with_mut(|m| unsafe { m.write(MaybeUninit::new(msg)) });
    }

    /// Moves the value out of the slot.
    ///
    /// # Safety
    /// The caller has exclusive access to the slot (it won the head CAS on this slot's stamp)
    /// and the slot holds a value, published by the stamp it acquired.
    #[inline(always)]
    unsafe fn read(&self) -> T {
        #[cfg(not(loom))]
        // SAFETY: per the contract.
        return unsafe { self.msg.get().read().assume_init() };
        #[cfg(loom)]
        // SAFETY: per the contract (and loom checks it).
        return self.msg.with_mut(|m| unsafe { m.read().assume_init() });
    }
}

/// A counter's value through `&mut` (no other reference exists).
#[inline]
fn unsync(a: &mut AtomicUsize) -> usize {
    #[cfg(not(loom))]
    return *a.get_mut();
    #[cfg(loom)]
    return a.with_mut(|v| *v);
}

/// Head and tail each on a cache line of their own (the project's one padding type,
/// crossbeam-utils' `CachePadded`, through `runtime::__kit`).
type Padded<T> = runtime::__kit::CachePadded<T>;

pub(crate) struct Array<T> {
    head: Padded<AtomicUsize>,
    tail: Padded<AtomicUsize>,
    buf: Box<[Slot<T>]>,
    cap: usize,
    one_lap: usize,
    mark_bit: usize,
    senders: SyncWaitQueue,
    receivers: SyncWaitQueue,
}

// SAFETY: values move between threads through the slots; access to each slot's value is
// serialised by its stamp protocol. T: Send is all that is needed.
unsafe impl<T: Send> Send for Array<T> {}
// SAFETY: shared use moves values in and out of slots, never hands out a `&T`; each slot's
// value is accessed by one thread at a time, serialised by its stamp, so T: Send suffices.
unsafe impl<T: Send> Sync for Array<T> {}

pub(crate) use crate::err::{TryRecv, TrySend};

impl<T> Array<T> {
    pub(crate) fn new(cap: usize) -> Array<T> {
        assert!(cap > 0, "array flavour needs a capacity");
        let mark_bit = (cap + 1).next_power_of_two();
        let one_lap = mark_bit * 2;
        let buf = (0..cap)
            .map(|i| Slot {
                stamp: AtomicUsize::new(i),
                msg: UnsafeCell::new(MaybeUninit::uninit()),
            })
            .collect();
        Array {
            head: Padded::new(AtomicUsize::new(0)),
            tail: Padded::new(AtomicUsize::new(0)),
            buf,
            cap,
            one_lap,
            mark_bit,
            senders: SyncWaitQueue::new(),
            receivers: SyncWaitQueue::new(),
        }
    }

    /// Whether a send would find no room now (ignoring close).
    pub(crate) fn is_full(&self) -> bool {
        let tail = self.tail.load(Ordering::SeqCst);
        let head = self.head.load(Ordering::SeqCst);
        head.wrapping_add(self.one_lap) == tail & !self.mark_bit
    }

    /// Whether a receive would find nothing now.
    pub(crate) fn is_empty(&self) -> bool {
        let head = self.head.load(Ordering::SeqCst);
        let tail = self.tail.load(Ordering::SeqCst);
        (tail & !self.mark_bit) == head
    }

    /// Registers `cx` as a sender for `case`; returns true if a send could proceed now
    /// (so the caller should not park).
    fn register_sender(&self, cx: &Cx, case: usize) -> bool {
        self.senders.register(cx, case);
        !self.is_full() || self.is_closed()
    }

    /// Registers `cx` as a receiver for `case`; returns true if a receive could proceed now.
    fn register_receiver(&self, cx: &Cx, case: usize) -> bool {
        self.receivers.register(cx, case);
        !self.is_empty() || self.is_closed()
    }

    /// A send that found the ring full: registers, re-checks and parks; a woken sender
    /// tries again.
    #[inline(never)]
    fn send_blocking(&self, mut msg: T, deadline: Option<Instant>) -> Result<(), Blocked<T>> {
        loop {
            let cx = Cx::new();
            let timed_out = if self.register_sender(&cx, 0) {
                cx.try_abort();
                false
            } else {
                wait_selected(&cx, deadline, WaitReason::ChanSend)
            };
            self.senders.unregister(&cx);
            if timed_out {
                // One last try: the deadline passed, but room may have appeared.
                return match self.try_send(msg) {
                    Ok(()) => Ok(()),
                    Err(TrySend::Closed(v)) => Err(Blocked::Closed(v)),
                    Err(TrySend::Full(v)) => Err(Blocked::Timeout(v)),
                };
            }
            match self.try_send(msg) {
                Ok(()) => return Ok(()),
                Err(TrySend::Closed(v)) => return Err(Blocked::Closed(v)),
                Err(TrySend::Full(v)) => msg = v,
            }
        }
    }

    /// A receive that found the ring empty: registers, re-checks and parks; a woken receiver
    /// tries again.
    #[inline(never)]
    fn recv_blocking(&self, deadline: Option<Instant>) -> Result<Option<T>, RecvTimeoutError> {
        loop {
            let cx = Cx::new();
            let timed_out = if self.register_receiver(&cx, 0) {
                cx.try_abort();
                false
            } else {
                wait_selected(&cx, deadline, WaitReason::ChanReceive)
            };
            self.receivers.unregister(&cx);
            if timed_out {
                return match self.try_recv() {
                    Ok(v) => Ok(Some(v)),
                    Err(TryRecv::Closed) => Ok(None),
                    Err(TryRecv::Empty) => Err(RecvTimeoutError),
                };
            }
            match self.try_recv() {
                Ok(v) => return Ok(Some(v)),
                Err(TryRecv::Closed) => return Ok(None),
                Err(TryRecv::Empty) => {}
            }
        }
    }
}

impl<T> Flavour<T> for Array<T> {
    fn cap(&self) -> usize {
        self.cap
    }

    /// Non-blocking send; on success wakes one receiver.
    fn try_send(&self, msg: T) -> Result<(), TrySend<T>> {
        let mut backoff = 0u32;
        let mut tail = self.tail.load(Ordering::Relaxed);
        loop {
            if tail & self.mark_bit != 0 {
                return Err(TrySend::Closed(msg));
            }
            let index = tail & (self.mark_bit - 1);
            let lap = tail & !(self.one_lap - 1);
            let slot = &self.buf[index];
            let stamp = slot.stamp.load(Ordering::Acquire);
            if tail == stamp {
                let new_tail = if index + 1 < self.cap {
                    tail + 1
                } else {
                    lap.wrapping_add(self.one_lap)
                };
                match self.tail.compare_exchange_weak(
                    tail,
                    new_tail,
                    Ordering::SeqCst,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        // SAFETY: winning the CAS on `tail` with the slot's stamp == tail gives
                        // us exclusive write access to this slot until we bump the stamp.
                        unsafe { slot.write(msg) };
                        slot.stamp.store(tail + 1, Ordering::Release);
                        self.receivers.notify_one();
                        return Ok(());
                    }
                    Err(t) => {
                        tail = t;
                        spin(&mut backoff);
                    }
                }
            } else if stamp.wrapping_add(self.one_lap) == tail + 1 {
                fence(Ordering::SeqCst);
                let head = self.head.load(Ordering::Relaxed);
                if head.wrapping_add(self.one_lap) == tail {
                    return Err(TrySend::Full(msg));
                }
                spin(&mut backoff);
                tail = self.tail.load(Ordering::Relaxed);
            } else {
                // A receiver is mid-way on this slot; wait for it.
                spin(&mut backoff);
                tail = self.tail.load(Ordering::Relaxed);
            }
        }
    }

    /// Non-blocking receive; on success wakes one sender.
    fn try_recv(&self) -> Result<T, TryRecv> {
        let mut backoff = 0u32;
        let mut head = self.head.load(Ordering::Relaxed);
        loop {
            let index = head & (self.mark_bit - 1);
            let lap = head & !(self.one_lap - 1);
            let slot = &self.buf[index];
            let stamp = slot.stamp.load(Ordering::Acquire);
            if head + 1 == stamp {
                let new = if index + 1 < self.cap {
                    head + 1
                } else {
                    lap.wrapping_add(self.one_lap)
                };
                match self.head.compare_exchange_weak(
                    head,
                    new,
                    Ordering::SeqCst,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        // SAFETY: winning the CAS on `head` with stamp == head + 1 gives us the
                        // value written by the sender whose release store we acquired.
                        let msg = unsafe { slot.read() };
                        slot.stamp
                            .store(head.wrapping_add(self.one_lap), Ordering::Release);
                        self.senders.notify_one();
                        return Ok(msg);
                    }
                    Err(h) => {
                        head = h;
                        spin(&mut backoff);
                    }
                }
            } else if stamp == head {
                fence(Ordering::SeqCst);
                let tail = self.tail.load(Ordering::Relaxed);
                if (tail & !self.mark_bit) == head {
                    return Err(if tail & self.mark_bit != 0 {
                        TryRecv::Closed
                    } else {
                        TryRecv::Empty
                    });
                }
                spin(&mut backoff);
                head = self.head.load(Ordering::Relaxed);
            } else {
                spin(&mut backoff);
                head = self.head.load(Ordering::Relaxed);
            }
        }
    }

    /// Head and tail together: every send, receive and close changes one of them, so equal
    /// versions bracket an interval in which the ring's readiness did not change.
    fn version(&self) -> u128 {
        let head = self.head.load(Ordering::SeqCst);
        let tail = self.tail.load(Ordering::SeqCst);
        (head as u128) << 64 | tail as u128
    }

    fn is_closed(&self) -> bool {
        self.tail.load(Ordering::SeqCst) & self.mark_bit != 0
    }

    /// Values buffered now.
    fn len(&self) -> usize {
        loop {
            let tail = self.tail.load(Ordering::SeqCst);
            let head = self.head.load(Ordering::SeqCst);
            if self.tail.load(Ordering::SeqCst) == tail {
                let hix = head & (self.mark_bit - 1);
                let tix = tail & (self.mark_bit - 1);
                return if hix < tix {
                    tix - hix
                } else if hix > tix {
                    self.cap - hix + tix
                } else if (tail & !self.mark_bit) == head {
                    0
                } else {
                    self.cap
                };
            }
        }
    }

    /// Marks the channel closed and wakes everyone.
    fn close(&self) -> bool {
        let tail = self.tail.fetch_or(self.mark_bit, Ordering::SeqCst);
        if tail & self.mark_bit != 0 {
            return false;
        }
        self.senders.notify_all();
        self.receivers.notify_all();
        true
    }

    /// True if a send could proceed now (so the caller should not park). The value stays
    /// with the case: a woken sender retries.
    fn register_send(
        &self,
        cx: &Cx,
        case: usize,
        _packet: &mut Packet<T>,
        _value: &mut Option<T>,
    ) -> bool {
        self.register_sender(cx, case)
    }

    fn register_recv(&self, cx: &Cx, case: usize, _packet: &mut Packet<T>) -> bool {
        self.register_receiver(cx, case)
    }

    /// The fast path inline (a free slot: no call beyond `try_send`); when full,
    /// [`Array::send_blocking`].
    #[inline]
    fn send(&self, msg: T, deadline: Option<Instant>) -> Result<(), Blocked<T>> {
        match self.try_send(msg) {
            Ok(()) => Ok(()),
            Err(TrySend::Closed(v)) => Err(Blocked::Closed(v)),
            Err(TrySend::Full(v)) => self.send_blocking(v, deadline),
        }
    }

    /// The fast path inline; when empty, [`Array::recv_blocking`].
    #[inline]
    fn recv(&self, deadline: Option<Instant>) -> Result<Option<T>, RecvTimeoutError> {
        match self.try_recv() {
            Ok(v) => Ok(Some(v)),
            Err(TryRecv::Closed) => Ok(None),
            Err(TryRecv::Empty) => self.recv_blocking(deadline),
        }
    }

    fn unregister_recv(&self, cx: &Cx) {
        self.receivers.unregister(cx);
    }

    /// A claim only says "try again": another receiver may have taken the value since.
    fn complete_recv(&self, _packet: &Packet<T>) -> Option<Option<T>> {
        self.recv_now()
    }

    fn unregister_send(&self, cx: &Cx, _packet: &Packet<T>, _value: &mut Option<T>) {
        self.senders.unregister(cx);
    }

    fn complete_send(&self, _packet: &Packet<T>, value: &mut Option<T>) -> Outcome {
        self.send_now(value)
    }
}

/// Parks until `cx` is claimed, or the deadline passes and withdrawing wins.
/// Returns true if it timed out (withdrawn).
#[inline]
fn wait_selected(cx: &Cx, deadline: Option<Instant>, reason: WaitReason) -> bool {
    cx.wait_until_decided(deadline, reason).is_none()
}

impl<T> Drop for Array<T> {
    fn drop(&mut self) {
        // Drop what is still buffered: the last handle is gone, so nobody else is here.
        let head = unsync(&mut self.head);
        let tail = unsync(&mut self.tail) & !self.mark_bit;
        let hix = head & (self.mark_bit - 1);
        let tix = tail & (self.mark_bit - 1);
        let len = if hix < tix {
            tix - hix
        } else if hix > tix {
            self.cap - hix + tix
        } else if tail == head {
            0
        } else {
            self.cap
        };
        for i in 0..len {
            let index = (hix + i) % self.cap;
            // SAFETY: slots between head and tail hold initialised values nobody else owns.
            drop(unsafe { self.buf[index].read() });
        }
    }
}

/// Bounded spinning, then yielding the goroutine or thread. (Under loom both are a loom
/// yield, so the model runs the thread being waited for.)
#[inline]
fn spin(step: &mut u32) {
    #[cfg(loom)]
    if *step < 6 {
        crate::shim::spin_loop();
        *step += 1;
        return;
    }
    if *step < 6 {
        for _ in 0..(1 << *step) {
            crate::shim::spin_loop();
        }
    } else {
        crate::shim::gosched();
    }
    *step += 1;
}

#[cfg(all(test, loom))]
impl<T> Array<T> {
    /// How many registrations (senders, receivers) the wait queues hold: the models check that
    /// none is left behind once every operation has returned (a stale one would point into a
    /// dead stack frame).
    pub(crate) fn registrations(&self) -> (usize, usize) {
        (self.senders.len(), self.receivers.len())
    }
}
