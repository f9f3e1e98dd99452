//! Goroutine stacks: fixed-size slots carved from large arena mappings, each with a guard page.
//!
//! # Layout
//! An arena is one anonymous `MAP_NORESERVE` mapping split into equal slots. Each slot is
//! `[guard page][usable stack ...........top]`; stacks grow down towards their guard. Only the
//! pages a goroutine touches become resident, so a 256 KiB stack costs one page while shallow.
//! Goroutine stacks come from arenas that start with a record area: one [`RECORD_BYTES`]
//! place per slot, where the G that owns the slot lives ([`StackPool::get_with_record`]), so
//! a new goroutine allocates nothing and its record costs 120 bytes rather than a malloc
//! chunk and an owner-table entry. `iter::pull` producers' stacks come from arenas
//! without one ([`StackPool::get`]).
//!
//! # Guards
//! On Linux 6.13+ guards are installed with `madvise(MADV_GUARD_INSTALL)` (a whole arena's
//! guards in one `process_madvise` call where allowed), which marks page
//! table entries instead of splitting the mapping: one arena stays one VMA however many guards
//! it holds, and a million guarded stacks fit under the default `vm.max_map_count` (65530).
//! Older kernels fall back to `mprotect(PROT_NONE)`, where every guard splits the arena's VMA
//! into two more; [`guard_mode`] reports how many stacks that leaves room for. Guards are never
//! silently dropped: if neither call works, creating the stack fails loudly.
//!
//! # Giving memory back
//! A stack that went deep keeps those pages resident after its goroutine ends.
//! [`Stack::release_deep`] looks at the boundary page below the "shallow" top region and, if
//! the goroutine wrote there, returns everything below that boundary with `MADV_DONTNEED`
//! (one syscall, only for goroutines that went deep). Stacks parked in the global free list
//! beyond its warm cap are released entirely ([`Stack::release_all`]).
//!
//! Looking costs nothing where the boundary page is mapped (a write, or the shared zero page
//! after an earlier look) and a read fault where it is not, as on a brand-new goroutine
//! stack. A goroutine's [`DeepCheck`] says which: a dead G whose look would fault is put on
//! the free lists *unchecked* (reusable at once: its next goroutine simply uses the pages),
//! and the look is made off the spawn and exit paths, by an M going idle (or whoever puts a
//! P in the idle list) for its P's list and by the scavenger for the global one
//! ([`crate::sched`]), or at the exit of the G's next life if it is reused first. A fresh
//! goroutine so costs one page (its top) and a guard, not also a mapping of its boundary page
//! (1.2 us of kernel time per goroutine on a KVM guest, a third of a new goroutine's cost
//! there).
//!
//! Arena memory is never unmapped and slots are never handed out twice: a stack belongs to
//! its G record for good, and G records are recycled (see [`crate::g`]). The overflow handler
//! ([`crate::signal`]) relies on arenas staying put.

use std::io;
use std::ptr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicPtr, AtomicU8, AtomicUsize, Ordering};

/// Linux's `MADV_GUARD_INSTALL` (6.13+); not yet in every libc release.
const MADV_GUARD_INSTALL: libc::c_int = 102;

/// The page size this runtime assumes for guards (checked against the OS at start-up).
pub(crate) const PAGE: usize = 4096;

/// Bytes at the top of a stack that stay resident across reuse; below this a reused stack is
/// returned to the OS if its previous goroutine touched it. Picked: 8 pages covers the frames
/// of typical goroutines (channel loops, small closures) without pinning deep recursion.
pub(crate) const SHALLOW: usize = 32 * 1024;

/// Default usable stack size (virtual; only touched pages are resident).
pub const DEFAULT_STACK_SIZE: usize = 256 * 1024;

/// Smallest accepted stack size: enough for the entry frames and a panic's unwinding.
pub const MIN_STACK_SIZE: usize = 64 * 1024;

/// Slots per arena: the first arena is small so a tiny program maps little; later ones grow
/// to `MAX_ARENA_SLOTS`, so a million stacks take about a thousand mappings.
const FIRST_ARENA_SLOTS: usize = 64;
const MAX_ARENA_SLOTS: usize = 1024;

/// Bytes reserved per slot for the record of the goroutine that owns the stack (the G
/// records of an arena's slots sit together in front of its first slot: no allocation per
/// new goroutine, and 120 bytes instead of a malloc chunk). 120 is `size_of::<G>()` on
/// x86_64 and aarch64 (`g.rs` checks at compile time that a G fits).
pub(crate) const RECORD_BYTES: usize = 120;

/// The most arenas the overflow handler can search (an arena table it reads lock-free).
/// 4096 arenas of 1024 slots: four million stacks.
const MAX_ARENAS: usize = 4096;

/// How guard pages are installed on this machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GuardMode {
    /// `madvise(MADV_GUARD_INSTALL)`: guards do not split mappings, so the number of
    /// goroutines is bounded by memory, not by `vm.max_map_count`.
    Madvise,
    /// `mprotect(PROT_NONE)` fallback (kernels before 6.13): each guard splits its arena's
    /// mapping, so about `capacity` stacks fit under the current `vm.max_map_count`.
    Mprotect {
        /// Approximate number of guarded stacks the process can hold.
        capacity: usize,
    },
}

const MODE_UNKNOWN: usize = 0;
const MODE_MADVISE: usize = 1;
const MODE_MPROTECT: usize = 2;
static GUARD_MODE: AtomicUsize = AtomicUsize::new(MODE_UNKNOWN);

/// How this process installs stack guard pages (starts the runtime if needed, which maps
/// the first stack arena and so detects the mode).
///
/// ```
/// assert!(runtime::guard_mode().is_some());
/// ```
pub fn guard_mode() -> Option<GuardMode> {
    crate::sched::ensure_init();
    match GUARD_MODE.load(Ordering::Relaxed) {
        MODE_MADVISE => Some(GuardMode::Madvise),
        MODE_MPROTECT => Some(GuardMode::Mprotect {
            capacity: mprotect_capacity(),
        }),
        _ => None,
    }
}

fn mprotect_capacity() -> usize {
    let max = std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok())
        .unwrap_or(65530);
    // Each guarded slot costs two VMAs (the guard and the stack above it); leave room for the
    // mappings the rest of the process needs.
    max.saturating_sub(1000) / 2
}

/// One goroutine stack: `[bottom, top)` usable, with a guard page just below `bottom`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Stack {
    pub(crate) bottom: *mut u8,
    pub(crate) top: *mut u8,
    /// This slot's entry in its arena's owner table (for the overflow report).
    owner: *const AtomicPtr<()>,
}

// SAFETY: a Stack is a description of memory owned by an arena that is never unmapped; which
// thread uses the memory is governed by the scheduler (one running G per stack).
unsafe impl Send for Stack {}

impl Stack {
    pub(crate) fn size(&self) -> usize {
        self.top as usize - self.bottom as usize
    }

    /// Whether this stack is large enough to have a boundary page below its shallow region
    /// (smaller stacks are never released in part).
    fn has_boundary(&self) -> bool {
        self.size() > SHALLOW + PAGE
    }

    /// The first byte of the boundary page ([`Stack::release_deep`]).
    fn boundary(&self) -> usize {
        self.top as usize - SHALLOW - PAGE
    }

    /// Returns pages below the shallow top region to the OS if the last goroutine on this
    /// stack wrote to the boundary page (a sign it went deep: stack probes touch every page a
    /// frame spans, in order, so a goroutine cannot reach below the boundary without writing
    /// it); returns whether it did. Eight loads where the page is mapped (a read fault
    /// where it is not). Nothing may run on the stack.
    pub(crate) fn release_deep(&self) -> bool {
        if !self.has_boundary() {
            return false;
        }
        let boundary = self.boundary() as *const u64;
        // SAFETY: the boundary page lies inside this stack's usable range (checked above), and
        // no goroutine is running on the stack (it is dead). Reading an untouched page maps the
        // zero page; it never faults fatally. Volatile: the compiler must not assume the
        // memory is unchanged since our last look.
        let touched = (0..8).any(|i| unsafe { ptr::read_volatile(boundary.add(i * 64)) } != 0);
        if touched {
            let len = self.top as usize - SHALLOW - self.bottom as usize;
            // SAFETY: [bottom, top - SHALLOW) is part of our arena mapping and unused.
            unsafe { dontneed(self.bottom, len) };
        }
        touched
    }

    /// Returns the whole pages of `[lo, hi)` to the OS (they read back as zero).
    ///
    /// # Safety
    /// `[lo, hi)` must lie inside this stack's usable range and hold nothing anybody will
    /// read before writing it (dead frames, or bytes saved elsewhere), and nothing may run on
    /// the stack meanwhile.
    pub(crate) unsafe fn release_range(&self, lo: usize, hi: usize) {
        let lo = lo.next_multiple_of(PAGE).max(self.bottom as usize);
        let hi = (hi / PAGE * PAGE).min(self.top as usize);
        if lo < hi {
            // SAFETY: per the contract: inside our arena mapping, unused.
            unsafe { dontneed(lo as *mut u8, hi - lo) };
        }
    }

    /// Returns every page of the stack to the OS (the stack stays reserved and guarded).
    pub(crate) fn release_all(&self) {
        // SAFETY: the whole usable range belongs to our arena and no goroutine runs on it.
        unsafe { dontneed(self.bottom, self.size()) };
    }
}

/// What a dead goroutine's stack needs before its deep pages are known to be given back
/// (see "Giving memory back" above): the state of its boundary page, kept in the G record.
///
/// The stack's owner (the G's owner: the M running or freeing it, whoever popped it from a
/// free list, sysmon while it trims the parked G) is the only one to change it; handovers
/// go through the free lists' locks, the run queues and the park word, so the word itself
/// needs no ordering.
pub(crate) struct DeepCheck(AtomicU8);

/// The boundary page is not mapped and nothing below it is resident: a brand-new stack, or
/// one released since. Looking would take a read fault.
const CLEAN: u8 = 0;
/// The boundary page is mapped (written, or the shared zero page since a look): looking is
/// eight loads.
const MAPPED: u8 = 1;
/// A goroutine ran since the stack was `CLEAN`: it may have gone deep, and looking may take a
/// read fault. Checked off the exit path ([`DeepCheck::check`]).
const UNCHECKED: u8 = 2;

impl DeepCheck {
    /// A brand-new stack's state.
    pub(crate) const fn new() -> DeepCheck {
        DeepCheck(AtomicU8::new(CLEAN))
    }

    /// At a goroutine's exit, before its G goes on a free list: releases the deep pages now
    /// where looking is cheap, or where the G was reused since its look was deferred (a P
    /// that never runs out of work never makes the deferred looks, and its hot Gs would
    /// otherwise keep a deep life's pages for good: the look is paid once per G, at its second
    /// life's exit, not by every brand-new goroutine). Returns true if the look was deferred
    /// (the G is unchecked).
    #[inline]
    pub(crate) fn exited(&self, stack: &Stack) -> bool {
        match self.0.load(Ordering::Relaxed) {
            MAPPED => {
                if stack.release_deep() {
                    self.0.store(CLEAN, Ordering::Relaxed);
                }
                false
            }
            _ if !stack.has_boundary() => false,
            UNCHECKED => {
                self.check(stack);
                false
            }
            _ => {
                self.0.store(UNCHECKED, Ordering::Relaxed);
                true
            }
        }
    }

    /// Whether a look is still owed ([`DeepCheck::check`]).
    #[inline]
    pub(crate) fn is_unchecked(&self) -> bool {
        self.0.load(Ordering::Relaxed) == UNCHECKED
    }

    /// Makes the deferred look: releases the deep pages if the last goroutines went deep.
    /// The caller owns the dead G (nothing runs on `stack`).
    pub(crate) fn check(&self, stack: &Stack) {
        if self.0.load(Ordering::Relaxed) != UNCHECKED {
            return;
        }
        let released = stack.release_deep();
        self.0
            .store(if released { CLEAN } else { MAPPED }, Ordering::Relaxed);
    }

    /// [`DeepCheck::check`] for many stacks, their boundary pages mapped first in one
    /// `process_madvise` call where the kernel allows (1.2 us a page under KVM, against 1.8
    /// for the read faults the looks would otherwise take). The caller owns every one.
    pub(crate) fn check_many<'a>(stacks: impl Iterator<Item = (&'a DeepCheck, &'a Stack)> + Clone) {
        let pages: Vec<usize> = stacks
            .clone()
            .filter(|(d, s)| d.is_unchecked() && s.has_boundary())
            .map(|(_, s)| s.boundary())
            .collect();
        if pages.len() > 1 {
            let _ = madvise_pages(&pages, MADV_POPULATE_READ);
        }
        for (d, s) in stacks {
            d.check(s);
        }
    }

    /// The whole stack was given back ([`Stack::release_all`]).
    pub(crate) fn released_all(&self) {
        self.0.store(CLEAN, Ordering::Relaxed);
    }

    /// Pages of the live stack in `[lo, hi)` were given back (a trim); if that took the
    /// boundary page, looking may fault again: the stack is as a brand-new one, whose
    /// goroutine's exit defers the look.
    pub(crate) fn released_range(&self, stack: &Stack, lo: usize, hi: usize) {
        let b = stack.boundary();
        if stack.has_boundary() && lo <= b && b < hi {
            self.0.store(CLEAN, Ordering::Relaxed);
        }
    }
}

/// # Safety
/// `[addr, addr+len)` must be part of one of our arena mappings and hold no live data.
unsafe fn dontneed(addr: *mut u8, len: usize) {
    // SAFETY: per the function contract the range is ours and unused; DONTNEED on private
    // anonymous memory just drops the pages (they read back as zero). Guard markers survive.
    let r = unsafe { libc::madvise(addr.cast(), len, libc::MADV_DONTNEED) };
    debug_assert_eq!(
        r,
        0,
        "madvise(DONTNEED) failed: {}",
        io::Error::last_os_error()
    );
}

/// An arena's extent, published for the overflow handler.
struct ArenaInfo {
    base: AtomicUsize,
    len: AtomicUsize,
    slot: AtomicUsize,
    /// An arena of goroutine stacks: its record area, where slot `i`'s G lives at
    /// `records + i * RECORD_BYTES` (the owner a guard hit names); 0 for an arena of plain
    /// stacks, whose owners are in `owners`.
    records: AtomicUsize,
    /// Plain stacks' per-slot owner G pointers, so a guard hit can name its goroutine.
    owners: AtomicPtr<AtomicPtr<()>>,
}

#[allow(clippy::declare_interior_mutable_const)]
const EMPTY_ARENA: ArenaInfo = ArenaInfo {
    base: AtomicUsize::new(0),
    len: AtomicUsize::new(0),
    slot: AtomicUsize::new(0),
    records: AtomicUsize::new(0),
    owners: AtomicPtr::new(ptr::null_mut()),
};
static ARENAS: [ArenaInfo; MAX_ARENAS] = [EMPTY_ARENA; MAX_ARENAS];
static NARENAS: AtomicUsize = AtomicUsize::new(0);

/// If `addr` is in the guard page of a goroutine stack, the owner of that slot (the G in its
/// record place, or what [`set_owner`] recorded) and the stack's usable size.
/// Async-signal-safe: atomics only.
pub(crate) fn guard_hit(addr: usize) -> Option<(*mut (), usize)> {
    let n = NARENAS.load(Ordering::Acquire);
    for a in &ARENAS[..n] {
        let base = a.base.load(Ordering::Relaxed);
        let len = a.len.load(Ordering::Relaxed);
        if addr < base || addr >= base + len {
            continue;
        }
        let slot = a.slot.load(Ordering::Relaxed);
        let idx = (addr - base) / slot;
        if addr - base - idx * slot >= PAGE {
            return None; // Inside a stack, not its guard.
        }
        let records = a.records.load(Ordering::Relaxed);
        if records != 0 {
            // A stack that overflowed has run, so its G was written there before.
            return Some(((records + idx * RECORD_BYTES) as *mut (), slot - PAGE));
        }
        let owners = a.owners.load(Ordering::Relaxed);
        // SAFETY: `owners` has len/slot elements and idx < len/slot.
        let owner = unsafe { (*owners.add(idx)).load(Ordering::Relaxed) };
        return Some((owner, slot - PAGE));
    }
    None
}

/// Records which G owns `stack`, for the overflow report. A no-op for a stack handed out
/// with a record place ([`StackPool::get_with_record`]): its owner is the G written there.
pub(crate) fn set_owner(stack: &Stack, owner: *mut ()) {
    if stack.owner.is_null() {
        return;
    }
    // SAFETY: a non-null `stack.owner` points into an owner table leaked by `map_arena`.
    unsafe { (*stack.owner).store(owner, Ordering::Relaxed) };
}

/// The process-wide supply of stacks of one size.
pub(crate) struct StackPool {
    /// Stacks with a record place each (goroutines), and plain ones (`iter::pull`
    /// producers), from arenas of their own kind.
    with_records: Mutex<PoolInner>,
    plain: Mutex<PoolInner>,
    size: AtomicUsize,
}

struct PoolInner {
    /// Slots never handed out yet in the newest arena: [next, end).
    next: usize,
    end: usize,
    arena_slots: usize,
    /// Index of the newest arena in ARENAS.
    arena: usize,
}

impl PoolInner {
    const fn new() -> PoolInner {
        PoolInner {
            next: 0,
            end: 0,
            arena_slots: FIRST_ARENA_SLOTS,
            arena: 0,
        }
    }
}

impl StackPool {
    /// A pool of stacks of [`DEFAULT_STACK_SIZE`] until [`StackPool::set_size`].
    pub(crate) const fn new() -> StackPool {
        StackPool {
            with_records: Mutex::new(PoolInner::new()),
            plain: Mutex::new(PoolInner::new()),
            size: AtomicUsize::new(DEFAULT_STACK_SIZE),
        }
    }

    /// Sets the usable size (rounded up to whole pages, at least [`MIN_STACK_SIZE`]).
    /// Only before the first stack is handed out.
    pub(crate) fn set_size(&self, size: usize) {
        let size = size.max(MIN_STACK_SIZE).next_multiple_of(PAGE);
        self.size.store(size, Ordering::Relaxed);
    }

    /// Usable bytes per stack.
    pub(crate) fn size(&self) -> usize {
        self.size.load(Ordering::Relaxed)
    }

    fn slot_size(&self) -> usize {
        self.size() + PAGE
    }

    /// A fresh guarded stack, whose owner [`set_owner`] records.
    pub(crate) fn get(&self) -> io::Result<Stack> {
        self.take(false).map(|(stack, _)| stack)
    }

    /// A fresh guarded stack and the place reserved for its G: [`RECORD_BYTES`] bytes,
    /// 8-aligned, zeroed, never handed out again, never unmapped and never released to the
    /// OS. The overflow handler takes whatever is written there for the stack's owner G.
    pub(crate) fn get_with_record(&self) -> io::Result<(Stack, *mut u8)> {
        self.take(true)
    }

    fn take(&self, with_record: bool) -> io::Result<(Stack, *mut u8)> {
        let pool = if with_record {
            &self.with_records
        } else {
            &self.plain
        };
        let mut p = pool.lock().unwrap_or_else(|e| e.into_inner());
        let slot = self.slot_size();
        if p.next == p.end {
            let n = p.arena_slots;
            let (base, idx) = map_arena(n, slot, with_record)?;
            // SAFETY: a fresh arena of `n` slots of `slot` bytes (with its record area, if
            // any), none handed out yet.
            unsafe { prepare_arena(base, n, slot, ARENAS[idx].records.load(Ordering::Relaxed))? };
            p.arena = idx;
            p.next = base;
            p.end = base + n * slot;
            p.arena_slots = (n * 2).min(MAX_ARENA_SLOTS);
        }
        let at = p.next;
        p.next += slot;
        let a = &ARENAS[p.arena];
        drop(p);
        let index = (at - a.base.load(Ordering::Relaxed)) / slot;
        let records = a.records.load(Ordering::Relaxed);
        let (owner, record) = if records != 0 {
            (ptr::null(), (records + index * RECORD_BYTES) as *mut u8)
        } else {
            // SAFETY: the owner table has one entry per slot of the arena and `index` is a
            // slot.
            let owner = unsafe { a.owners.load(Ordering::Relaxed).add(index) };
            (owner as *const AtomicPtr<()>, ptr::null_mut())
        };
        let guard = at as *mut u8;
        let stack = Stack {
            // SAFETY: inside the slot.
            bottom: unsafe { guard.add(PAGE) },
            // SAFETY: one past the slot's end, still inside or at the end of the arena.
            top: unsafe { guard.add(slot) },
            owner,
        };
        Ok((stack, record))
    }
}

/// Bytes of an arena's record area (whole pages, so the first slot's guard is aligned).
fn records_len(slots: usize) -> usize {
    (slots * RECORD_BYTES).next_multiple_of(PAGE)
}

/// Maps an arena of `slots` slots, after a record area if `with_records`, else with an
/// owner table; returns the first slot's address and the arena's index in ARENAS.
fn map_arena(slots: usize, slot: usize, with_records: bool) -> io::Result<(usize, usize)> {
    static REGISTER: Mutex<()> = Mutex::new(());
    let rlen = if with_records { records_len(slots) } else { 0 };
    let len = rlen + slots * slot;
    // SAFETY: a fresh anonymous private mapping; no existing memory is affected.
    let start = unsafe {
        libc::mmap(
            ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if start == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    let owners: *mut AtomicPtr<()> = if with_records {
        ptr::null_mut()
    } else {
        let owners: Box<[AtomicPtr<()>]> = (0..slots)
            .map(|_| AtomicPtr::new(ptr::null_mut()))
            .collect();
        Box::leak(owners).as_mut_ptr()
    };
    let _r = REGISTER.lock().unwrap_or_else(|e| e.into_inner());
    let idx = NARENAS.load(Ordering::Relaxed); // Only grown under REGISTER.
    if idx == MAX_ARENAS {
        return Err(io::Error::other("goro: too many stack arenas"));
    }
    let a = &ARENAS[idx];
    let base = start as usize + rlen;
    a.base.store(base, Ordering::Relaxed);
    a.len.store(slots * slot, Ordering::Relaxed);
    a.slot.store(slot, Ordering::Relaxed);
    a.records.store(
        if with_records { start as usize } else { 0 },
        Ordering::Relaxed,
    );
    a.owners.store(owners, Ordering::Relaxed);
    // Release: the handler sees a complete entry once it sees the new count.
    NARENAS.store(idx + 1, Ordering::Release);
    Ok((base, idx))
}

/// Linux's `MADV_POPULATE_READ` / `MADV_POPULATE_WRITE` (5.14+).
const MADV_POPULATE_READ: libc::c_int = 22;
const MADV_POPULATE_WRITE: libc::c_int = 23;

/// `process_madvise(2)` on ourselves with one iovec per page: one syscall for up to 1024
/// scattered pages. Returns false if the kernel refuses (older kernels only allow a few
/// advice values there), in which case callers fall back to one `madvise` per page.
fn madvise_pages(pages: &[usize], advice: libc::c_int) -> bool {
    static PIDFD: std::sync::OnceLock<libc::c_long> = std::sync::OnceLock::new();
    // SAFETY: pidfd_open on our own pid has no memory effects; the fd is kept for the
    // process's life.
    let pidfd =
        *PIDFD.get_or_init(|| unsafe { libc::syscall(libc::SYS_pidfd_open, libc::getpid(), 0) });
    if pidfd < 0 {
        return false;
    }
    for chunk in pages.chunks(1024) {
        let iov: Vec<libc::iovec> = chunk
            .iter()
            .map(|&p| libc::iovec {
                iov_base: p as *mut libc::c_void,
                iov_len: PAGE,
            })
            .collect();
        // SAFETY: every iovec names one page of an arena we own and have not handed out;
        // the advice only installs guards or pre-faults zeroed pages there.
        let r = unsafe {
            libc::syscall(
                libc::SYS_process_madvise,
                pidfd,
                iov.as_ptr(),
                iov.len(),
                advice,
                0,
            )
        };
        if r != (chunk.len() * PAGE) as libc::c_long {
            return false;
        }
    }
    true
}

/// Installs every slot's guard page and pre-faults every slot's top page (where a new
/// goroutine's closure and first frames go) and the record area, in three syscalls where
/// the kernel allows. This takes the guard syscall and the first-touch page faults off the
/// spawn path; the cost is the top pages and records of slots not yet used (at most one
/// arena's worth, 4 MiB + 120 KiB).
///
/// # Safety
/// `[base, base + n*slot)` must be a fresh arena of ours with no slot handed out, and
/// `records` its record area (0: none), no record handed out either.
unsafe fn prepare_arena(base: usize, n: usize, slot: usize, records: usize) -> io::Result<()> {
    // Tops first: their faults allocate the page tables the guards then only mark (a guard
    // into a table that exists took 0.77 us instead of 0.95 on AMD EPYC under KVM).
    let tops: Vec<usize> = (0..n).map(|i| base + (i + 1) * slot - PAGE).collect();
    // Best effort: without it the pages fault in on first use, as usual.
    let _ = madvise_pages(&tops, MADV_POPULATE_WRITE);
    let guards: Vec<usize> = (0..n).map(|i| base + i * slot).collect();
    if GUARD_MODE.load(Ordering::Relaxed) == MODE_MPROTECT
        || !madvise_pages(&guards, MADV_GUARD_INSTALL)
    {
        for &g in &guards {
            // SAFETY: a page-aligned, unused guard page of this fresh arena.
            unsafe { install_guard(g as *mut u8)? };
        }
    } else {
        GUARD_MODE.store(MODE_MADVISE, Ordering::Relaxed);
    }
    if records != 0 {
        // SAFETY: the record area is ours and unused; populating zeroed pages changes
        // nothing they hold.
        let _ = unsafe {
            libc::madvise(
                records as *mut libc::c_void,
                records_len(n),
                MADV_POPULATE_WRITE,
            )
        };
    }
    if records == 0 && slot > SHALLOW + 2 * PAGE {
        // Plain stacks (`iter::pull` producers), which are looked at on every release: map
        // each boundary page to the shared zero page (a read populate costs no memory), so
        // a first release does not take a read fault there. Goroutine stacks defer that
        // look instead ([`DeepCheck`]).
        let boundaries: Vec<usize> = (0..n)
            .map(|i| base + (i + 1) * slot - SHALLOW - PAGE)
            .collect();
        let _ = madvise_pages(&boundaries, MADV_POPULATE_READ);
    }
    Ok(())
}

/// # Safety
/// `page` must be a page-aligned, unused page of one of our arenas.
unsafe fn install_guard(page: *mut u8) -> io::Result<()> {
    let mode = GUARD_MODE.load(Ordering::Relaxed);
    if mode != MODE_MPROTECT {
        // SAFETY: per the contract the page is ours and unused; the guard makes any access
        // to it raise SIGSEGV, which is the point.
        let r = unsafe { libc::madvise(page.cast(), PAGE, MADV_GUARD_INSTALL) };
        if r == 0 {
            GUARD_MODE.store(MODE_MADVISE, Ordering::Relaxed);
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if mode == MODE_MADVISE || e.raw_os_error() != Some(libc::EINVAL) {
            return Err(io::Error::other(format!(
                "goro: installing a stack guard page failed: {e}"
            )));
        }
        GUARD_MODE.store(MODE_MPROTECT, Ordering::Relaxed);
    }
    // SAFETY: per the contract the page is ours and unused; PROT_NONE makes any access to it
    // raise SIGSEGV, which is the point.
    let r = unsafe { libc::mprotect(page.cast(), PAGE, libc::PROT_NONE) };
    if r != 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::other(format!(
            "goro: cannot guard another goroutine stack ({e}); with mprotect guards about {} \
             stacks fit under vm.max_map_count (Linux 6.13+ lifts this limit)",
            mprotect_capacity()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stacks_are_distinct_page_aligned_and_writable() {
        let pool = StackPool::new();
        let a = pool.get().unwrap();
        let b = pool.get().unwrap();
        assert_eq!(a.size(), DEFAULT_STACK_SIZE);
        assert_eq!(a.bottom as usize % PAGE, 0);
        assert!(a.top <= b.bottom || b.top <= a.bottom);
        // SAFETY: both ends of the usable range are inside the stack.
        unsafe {
            a.bottom.write(1);
            a.top.sub(1).write(1);
        }
        assert!(guard_hit(a.bottom as usize - 1).is_some());
        assert!(guard_hit(a.bottom as usize).is_none());
        assert!(guard_mode().is_some());
    }

    #[test]
    fn a_guard_hit_names_the_record_of_a_stack_handed_out_with_one() {
        let pool = StackPool::new();
        let (a, ra) = pool.get_with_record().unwrap();
        let (b, rb) = pool.get_with_record().unwrap();
        assert_eq!(ra as usize % 8, 0);
        assert_eq!(rb as usize - ra as usize, RECORD_BYTES);
        // SAFETY: the record places are ours, RECORD_BYTES each.
        unsafe {
            ra.write_bytes(0xa5, RECORD_BYTES);
            rb.write_bytes(0x5a, RECORD_BYTES);
            assert_eq!(
                ra.add(RECORD_BYTES - 1).read(),
                0xa5,
                "records do not overlap"
            );
        }
        assert_eq!(
            guard_hit(a.bottom as usize - 1).map(|h| h.0),
            Some(ra.cast())
        );
        assert_eq!(
            guard_hit(b.bottom as usize - PAGE).map(|h| h.0),
            Some(rb.cast())
        );
        assert!(guard_hit(b.bottom as usize).is_none());
        // SAFETY: the top of the usable range is inside the stack.
        unsafe { a.top.sub(1).write(1) };
    }

    #[test]
    fn deep_check_defers_the_first_look_then_looks_inline() {
        let pool = StackPool::new();
        let (s, _record) = pool.get_with_record().unwrap();
        let d = DeepCheck::new();
        // SAFETY: addresses inside the usable range; nothing runs on the stack.
        unsafe {
            let deep = s.bottom.add(PAGE);
            let boundary = s.top.sub(SHALLOW + PAGE);
            // A first life that went deep: the look is owed, the pages stay until it is made.
            deep.write(7);
            boundary.write(3);
            assert!(d.exited(&s), "a brand-new stack's look is deferred");
            assert!(d.is_unchecked());
            assert_eq!(deep.read(), 7, "nothing released at the exit");
            d.check(&s);
            assert!(!d.is_unchecked());
            assert_eq!(deep.read(), 0, "the deferred look released the deep pages");
            // Released: the boundary page is unmapped again, so the next look is owed too.
            assert!(d.exited(&s));
            d.check(&s); // a shallow life: maps the zero page, releases nothing
            assert!(!d.is_unchecked());
            // Now looking is cheap: the exit of a deep life releases at once.
            deep.write(5);
            boundary.write(1);
            assert!(!d.exited(&s), "a mapped boundary is looked at inline");
            assert_eq!(deep.read(), 0);
            // Released inline: the look is owed again. A trim that took the boundary page of a
            // mapped stack makes it owed too.
            assert!(d.exited(&s));
            d.check(&s);
            assert!(!d.exited(&s), "mapped again");
            d.released_range(&s, s.bottom as usize, s.top as usize - SHALLOW);
            assert!(d.exited(&s));
            d.check(&s);
            // A G reused while its look was still owed (a P that never idles): its second
            // exit looks inline, so a deep first life's pages do not stay for good.
            s.release_all();
            d.released_all();
            deep.write(9);
            boundary.write(2);
            assert!(d.exited(&s), "first life: deferred");
            assert_eq!(deep.read(), 9);
            assert!(
                !d.exited(&s),
                "second life without a look: looked at inline"
            );
            assert!(!d.is_unchecked());
            assert_eq!(deep.read(), 0, "the deep first life's pages went back");
        }
    }

    #[test]
    fn release_deep_keeps_shallow_pages_and_zeroes_deep_ones() {
        let pool = StackPool::new();
        let s = pool.get().unwrap();
        // SAFETY: addresses inside the usable range.
        unsafe {
            let deep = s.bottom.add(PAGE);
            let shallow = s.top.sub(16);
            let boundary = s.top.sub(SHALLOW + PAGE);
            deep.write(7);
            shallow.write(9);
            boundary.write(3);
            s.release_deep();
            assert_eq!(deep.read(), 0, "deep page returned to the OS");
            assert_eq!(shallow.read(), 9, "shallow page kept");
        }
    }
}
