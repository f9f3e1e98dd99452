//! G: a goroutine record (Go's `g` in runtime2.go).
//!
//! G records are allocated once and never freed (like Go's `allgs`): a dead G goes to a free
//! list with its stack and is reused by a later spawn. That makes `&'static G` a valid handle
//! forever, which is what lets a [`crate::Waiter`] point at a G without reference counting;
//! the park word's generation tells incarnations apart.

use crate::clock;
use crate::parkstate::ParkState;
use crate::stack::Stack;
use crate::switch::Context;
use std::cell::{Cell, UnsafeCell};
use std::panic::Location;
use std::ptr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU8, AtomicU32, AtomicU64, Ordering};

/// Goroutine status (Go's `_Gidle`, `_Grunnable`, ...). Kept for dumps and assertions; the
/// park word, not this, decides who may resume a G.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// In a free list, not a live goroutine.
    Idle = 0,
    /// In a run queue.
    Runnable = 1,
    /// Running on an M.
    Running = 2,
    /// In a marked blocking call (`runtime::syscall`, the sysmon issue).
    Syscall = 3,
    /// Parked; see its wait reason.
    Waiting = 4,
    /// Finished.
    Dead = 5,
}

impl Status {
    /// Whether the scheduler ever moves a G from `self` to `to`:
    ///
    /// | from | to | where |
    /// |---|---|---|
    /// | Idle | Runnable | spawn |
    /// | Runnable | Running | `execute`, a direct switch (`make_current`) |
    /// | Running | Runnable | gosched, preemption; a direct switch's target handing back |
    /// | Running | Waiting | a park, committed on g0 or by the next G |
    /// | Running | Syscall, Syscall | Running | `runtime::syscall` |
    /// | Syscall | Waiting | a park inside `runtime::syscall` |
    /// | Running | Running | leaving `runtime::syscall` after parking inside it |
    /// | Waiting | Runnable | unpark (`ready`), a park that lost the race, off its P |
    /// | Waiting | Running | a park that lost the race, resumed at once on g0 |
    /// | Running | Idle | exit (`gdestroy`) |
    fn can_become(self, to: Status) -> bool {
        use Status::*;
        matches!(
            (self, to),
            (Idle, Runnable)
                | (Runnable, Running)
                | (Running, Runnable)
                | (Running, Waiting)
                | (Running, Syscall)
                | (Syscall, Running)
                | (Syscall, Waiting)
                | (Running, Running)
                | (Waiting, Runnable)
                | (Waiting, Running)
                | (Running, Idle)
        )
    }

    fn from_u32(v: u32) -> Status {
        match v {
            1 => Status::Runnable,
            2 => Status::Running,
            3 => Status::Syscall,
            4 => Status::Waiting,
            5 => Status::Dead,
            _ => Status::Idle,
        }
    }
}

/// Why a goroutine is parked, shown by [`crate::stack_dump`] (Go's `waitReason`).
/// Every blocking primitive names its own, which is what makes a dump readable.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WaitReason {
    /// Not waiting.
    None = 0,
    /// A bare [`crate::park`] with no better reason.
    Park,
    /// `runtime::sleep`.
    Sleep,
    /// `JoinHandle::join`.
    Join,
    /// Waiting for scoped goroutines to finish.
    Scope,
    /// `ch.recv()`.
    ChanReceive,
    /// `ch.send(v)`.
    ChanSend,
    /// Receive on a nil channel: blocks forever.
    ChanReceiveNil,
    /// Send on a nil channel: blocks forever.
    ChanSendNil,
    /// `select!` with cases.
    Select,
    /// `select!` with no cases: blocks forever.
    SelectNoCases,
    /// `sync.Mutex.Lock`.
    MutexLock,
    /// `sync.RWMutex.RLock`.
    RwMutexRLock,
    /// `sync.RWMutex.Lock`.
    RwMutexLock,
    /// `sync.WaitGroup.Wait`.
    WaitGroupWait,
    /// `sync.Cond.Wait`.
    CondWait,
    /// `sync.Once` waiting for the first call.
    OnceWait,
    /// Semaphore acquire.
    SemAcquire,
    /// A timer (park_until).
    Timer,
    /// Waiting on the netpoller for a socket or other file descriptor to become ready.
    IoWait,
    /// Waiting for another goroutine's operation on the same file descriptor to finish
    /// (Go's fdMutex: reads are serialised among themselves, and so are writes).
    FdLock,
}

impl WaitReason {
    /// Go's wording, as printed in a goroutine dump.
    pub fn as_str(self) -> &'static str {
        match self {
            WaitReason::None => "",
            WaitReason::Park => "park",
            WaitReason::Sleep => "sleep",
            WaitReason::Join => "join",
            WaitReason::Scope => "scope wait",
            WaitReason::ChanReceive => "chan receive",
            WaitReason::ChanSend => "chan send",
            WaitReason::ChanReceiveNil => "chan receive (nil chan)",
            WaitReason::ChanSendNil => "chan send (nil chan)",
            WaitReason::Select => "select",
            WaitReason::SelectNoCases => "select (no cases)",
            WaitReason::MutexLock => "sync.Mutex.Lock",
            WaitReason::RwMutexRLock => "sync.RWMutex.RLock",
            WaitReason::RwMutexLock => "sync.RWMutex.Lock",
            WaitReason::WaitGroupWait => "sync.WaitGroup.Wait",
            WaitReason::CondWait => "sync.Cond.Wait",
            WaitReason::OnceWait => "sync.Once.Do",
            WaitReason::SemAcquire => "semacquire",
            WaitReason::Timer => "timer",
            WaitReason::IoWait => "IO wait",
            WaitReason::FdLock => "semacquire (fd lock)",
        }
    }

    fn from_u8(v: u8) -> WaitReason {
        const ALL: [WaitReason; 21] = [
            WaitReason::None,
            WaitReason::Park,
            WaitReason::Sleep,
            WaitReason::Join,
            WaitReason::Scope,
            WaitReason::ChanReceive,
            WaitReason::ChanSend,
            WaitReason::ChanReceiveNil,
            WaitReason::ChanSendNil,
            WaitReason::Select,
            WaitReason::SelectNoCases,
            WaitReason::MutexLock,
            WaitReason::RwMutexRLock,
            WaitReason::RwMutexLock,
            WaitReason::WaitGroupWait,
            WaitReason::CondWait,
            WaitReason::OnceWait,
            WaitReason::SemAcquire,
            WaitReason::Timer,
            WaitReason::IoWait,
            WaitReason::FdLock,
        ];
        ALL.get(v as usize).copied().unwrap_or(WaitReason::None)
    }
}

/// A goroutine record.
///
/// Fields in `UnsafeCell`/`Cell` belong to whoever currently owns the G: the G itself while
/// it runs, the g0 (or, after a direct park, the goroutine) that switched it out, or the list it sits in (free list, global queue).
/// Ownership passes through run queues and locks, which provide the happens-before edges.
pub(crate) struct G {
    /// Goroutine id (Go's goid); 0 while the record is free.
    pub(crate) goid: AtomicU64,
    pub(crate) status: AtomicU32,
    pub(crate) park: ParkState,
    pub(crate) wait_reason: AtomicU8,
    /// Coarse time the current wait began, an even number; sysmon sets bit 0 once it has
    /// trimmed the stack during this wait ([`crate::stacktrim`]).
    pub(crate) wait_since: AtomicU64,
    /// Where the goroutine was spawned (`#[track_caller]`).
    pub(crate) spawn_loc: AtomicPtr<Location<'static>>,
    /// Id of the M running it (for dumps), 0 if none.
    pub(crate) mid: AtomicU64,
    /// Saved context while not running.
    pub(crate) ctx: Cell<Option<Context>>,
    /// The g0 context to switch back to, received at the last resume.
    pub(crate) g0: Cell<Option<Context>>,
    /// Its stack, owned for the record's life.
    pub(crate) stack: Stack,
    /// Where the entry closure was written (at the top of the stack).
    pub(crate) entry: Cell<*mut u8>,
    /// Coarse time the G was last freed (the scavenger only releases stacks idle for a while).
    pub(crate) freed_at: AtomicU64,
    /// Sequence of this G's own `park_until` timers; a timer fires only if it still matches.
    pub(crate) timer_seq: AtomicU64,
    /// Goroutine-local storage (`goroutine_local!`).
    pub(crate) locals: UnsafeCell<crate::local::LocalMap>,
    /// Wired to an M by `lock_os_thread` (which M: `lockosthread`'s table; one byte here,
    /// in what was padding, keeps the record at its size).
    pub(crate) locked: AtomicBool,
    /// Whether the stack's deep pages are known to be given back (one byte, in padding too).
    pub(crate) deep: crate::stack::DeepCheck,
}

// SAFETY: the cells are only touched by the G's current owner (see the type's docs); every
// handover goes through a lock, a run queue CAS or the park word, all with release/acquire.
unsafe impl Sync for G {}
// SAFETY: a G is shared as `&'static G` and never moved by value between threads but as a
// whole record handed over with the owner (same handovers as for Sync); it holds no
// thread-bound data (its closure and stack are `Send` by spawn's bounds).
unsafe impl Send for G {}

/// Every G ever created, for dumps and counting (Go's `allgs`).
static ALLGS: Mutex<Vec<&'static G>> = Mutex::new(Vec::new());

impl G {
    /// Writes a new G record with a fresh stack at `place` (the record place reserved with
    /// the stack, [`crate::stack::StackPool::get_with_record`]) and registers it in `allgs`.
    ///
    /// # Safety
    /// `place` must be valid for writes of [`crate::stack::RECORD_BYTES`] bytes, 8-aligned,
    /// hold nothing, and never be written, freed or unmapped by anybody else afterwards.
    pub(crate) unsafe fn new_at(stack: Stack, place: *mut u8) -> &'static G {
        const {
            assert!(std::mem::size_of::<G>() <= crate::stack::RECORD_BYTES);
            assert!(std::mem::align_of::<G>() <= 8);
        }
        let record = G {
            goid: AtomicU64::new(0),
            status: AtomicU32::new(Status::Idle as u32),
            park: ParkState::new(),
            wait_reason: AtomicU8::new(0),
            wait_since: AtomicU64::new(0),
            spawn_loc: AtomicPtr::new(ptr::null_mut()),
            mid: AtomicU64::new(0),
            ctx: Cell::new(None),
            g0: Cell::new(None),
            stack,
            entry: Cell::new(ptr::null_mut()),
            freed_at: AtomicU64::new(0),
            timer_seq: AtomicU64::new(0),
            locals: UnsafeCell::new(crate::local::LocalMap::new()),
            locked: AtomicBool::new(false),
            deep: crate::stack::DeepCheck::new(),
        };
        let place = place.cast::<G>();
        // SAFETY: per the contract `place` is ours for good, large and aligned enough (checked
        // above at compile time), so the written record lives for the rest of the process.
        let g: &'static G = unsafe {
            place.write(record);
            &*place
        };
        crate::stack::set_owner(&g.stack, g as *const G as *mut ());
        ALLGS.lock().unwrap_or_else(|e| e.into_inner()).push(g);
        g
    }

    pub(crate) fn status(&self) -> Status {
        Status::from_u32(self.status.load(Ordering::Relaxed))
    }

    /// Moves the G to status `to` (Go's `casgstatus`): every status change goes through here,
    /// and debug builds check that `from -> to` is one the scheduler makes (the table in
    /// [`Status::can_become`]), so a protocol slip shows up at the transition, not as a hang.
    /// Release builds store and check nothing (the status is informational: dumps, sysmon).
    #[inline]
    pub(crate) fn set_status(&self, to: Status) {
        if cfg!(debug_assertions) {
            let from = Status::from_u32(self.status.swap(to as u32, Ordering::Relaxed));
            assert!(
                from.can_become(to),
                "goroutine {}: bad status change {from:?} -> {to:?}",
                self.goid.load(Ordering::Relaxed)
            );
        } else {
            self.status.store(to as u32, Ordering::Relaxed);
        }
    }

    pub(crate) fn wait_reason(&self) -> WaitReason {
        WaitReason::from_u8(self.wait_reason.load(Ordering::Relaxed))
    }

    pub(crate) fn set_waiting(&self, reason: WaitReason) {
        self.wait_reason.store(reason as u8, Ordering::Relaxed);
        // Even: bit 0 is stacktrim's "trimmed during this wait".
        self.wait_since
            .store(clock::coarse_nanos() & !1, Ordering::Relaxed);
    }

    pub(crate) fn spawn_location(&self) -> Option<&'static Location<'static>> {
        let p = self.spawn_loc.load(Ordering::Relaxed);
        // SAFETY: only ever set from a `&'static Location`.
        (!p.is_null()).then(|| unsafe { &*p })
    }
}

/// Up to `n` G records from index `start` of `allgs` (for a pass that walks it a window at a
/// time), and the number of records there are.
pub(crate) fn gs_window(start: usize, n: usize) -> (Vec<&'static G>, usize) {
    let all = ALLGS.lock().unwrap_or_else(|e| e.into_inner());
    let start = start.min(all.len());
    let end = start.saturating_add(n).min(all.len());
    (all[start..end].to_vec(), all.len())
}

/// Calls `f` on every G record (live or free) without holding the `allgs` lock while `f`
/// runs for long: the list is copied first.
pub(crate) fn for_each_g(mut f: impl FnMut(&'static G)) {
    let gs = ALLGS.lock().unwrap_or_else(|e| e.into_inner()).clone();
    for g in gs {
        f(g);
    }
}

#[cfg(test)]
mod tests {
    /// One G record per goroutine: a million parked goroutines (W10) pay for every byte.
    /// Records sit in their stack arena's record area, `stack::RECORD_BYTES` (120) each;
    /// grow it only on purpose.
    #[test]
    fn the_g_record_stays_small() {
        assert!(std::mem::size_of::<super::G>() <= 120);
    }
}
