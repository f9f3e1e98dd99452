//! Poll descriptors (Go's `pollDesc` and `pollcache`): what the runtime keeps per polled fd.
//!
//! A descriptor holds the fd, a closing flag, a deadline and a wait slot
//! ([`crate::pollslot`]) per direction, and the fd's reference count and locks
//! ([`crate::fdmutex`]).
//!
//! # Type-stable memory
//! Descriptors live in chunks that are never freed; a freed descriptor goes on a free list
//! and is reused for the next fd. Its epoll event token is `index << 32 | seq`, where `seq`
//! is bumped each time the descriptor is freed, so an event taken from epoll before a close
//! and handled after it (or after the descriptor was reused for another fd) finds a different
//! `seq` and is dropped: it wakes nobody.
//!
//! # Deadlines
//! Each direction has a deadline (runtime clock, 0 for none). A goroutine waits with
//! [`crate::park_until`], i.e. on the runtime's timers with the G's own timer sequence, so a
//! timer left from an earlier deadline or an earlier wait never wakes a later one. Changing a
//! deadline wakes the direction's sleeper, which re-reads it: an expired one fails the wait
//! with `TimedOut`, a later or cleared one is waited for anew.
//!
//! # Plain threads
//! A thread that is not running a goroutine blocks in `poll(2)` on the fd itself and on an
//! eventfd of its own, with the deadline as timeout. Its sleeper in the slot is that eventfd,
//! so `close` and deadline changes wake it as they wake a goroutine.

use crate::fdmutex::FdMutex;
use crate::g::{G, WaitReason};
use crate::park::{Waiter, park, park_until};
use crate::pollslot::{PollSlot, Prepared, Woken};
use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicPtr, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Descriptors per chunk.
const CHUNK: usize = 256;
/// At most this many chunks: 1,048,576 descriptors, Linux's largest `RLIMIT_NOFILE`.
const MAX_CHUNKS: usize = 4096;

/// Who sleeps in a wait slot.
pub(crate) enum Sleeper {
    /// A goroutine (its park word gets the wakeup).
    G(Waiter),
    /// A plain thread blocked in `poll(2)`.
    Thread(Arc<ThreadWake>),
}

impl Sleeper {
    /// Wakes it: a goroutine is made runnable by the caller (appended to `list`), a thread is
    /// woken at once.
    fn wake_into(self, list: &mut Vec<&'static G>) {
        match self {
            Sleeper::G(w) => w.unpark_into(list),
            Sleeper::Thread(t) => t.wake(),
        }
    }

    fn wake_now(self) {
        match self {
            Sleeper::G(w) => w.unpark(),
            Sleeper::Thread(t) => t.wake(),
        }
    }
}

/// A plain thread's eventfd, polled beside the fd it waits for.
pub(crate) struct ThreadWake {
    fd: RawFd,
}

impl ThreadWake {
    fn new() -> io::Result<ThreadWake> {
        // SAFETY: plain system call; checked below.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(ThreadWake { fd })
    }

    fn wake(&self) {
        let one: u64 = 1;
        // SAFETY: 8 bytes from a valid u64 to our eventfd.
        unsafe { libc::write(self.fd, (&one as *const u64).cast(), 8) };
    }

    fn drain(&self) {
        let mut buf = 0u64;
        // SAFETY: 8 bytes into a valid u64 from our non-blocking eventfd.
        unsafe { libc::read(self.fd, (&mut buf as *mut u64).cast(), 8) };
    }
}

impl Drop for ThreadWake {
    fn drop(&mut self) {
        // SAFETY: the fd is ours; no sleeper references it any more (we are its last Arc).
        unsafe { libc::close(self.fd) };
    }
}

thread_local! {
    static THREAD_WAKE: std::cell::OnceCell<Arc<ThreadWake>> = const { std::cell::OnceCell::new() };
}

fn thread_wake() -> io::Result<Arc<ThreadWake>> {
    THREAD_WAKE
        .try_with(|c| {
            if let Some(t) = c.get() {
                return Ok(t.clone());
            }
            let t = Arc::new(ThreadWake::new()?);
            let _ = c.set(t.clone());
            Ok(t)
        })
        .unwrap_or_else(|_| ThreadWake::new().map(Arc::new))
}

/// Direction of an operation.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Dir {
    Read,
    Write,
}

/// See the module docs.
pub(crate) struct PollDesc {
    index: u32,
    fd: AtomicI32,
    seq: AtomicU32,
    closing: AtomicBool,
    rdeadline: AtomicU64,
    wdeadline: AtomicU64,
    rg: PollSlot<Sleeper>,
    wg: PollSlot<Sleeper>,
    pub(crate) fdmu: FdMutex,
}

static CHUNKS: [AtomicPtr<PollDesc>; MAX_CHUNKS] =
    [const { AtomicPtr::new(std::ptr::null_mut()) }; MAX_CHUNKS];

/// Free descriptors (indices), and the number ever made.
static CACHE: Mutex<(Vec<u32>, u32)> = Mutex::new((Vec::new(), 0));

/// The descriptor at `index`, if it was ever made.
pub(crate) fn lookup(index: u32) -> Option<&'static PollDesc> {
    let (c, i) = (index as usize / CHUNK, index as usize % CHUNK);
    let base = CHUNKS.get(c)?.load(Ordering::Acquire);
    // SAFETY: chunks are leaked arrays of CHUNK descriptors, never freed.
    (!base.is_null()).then(|| unsafe { &*base.add(i) })
}

impl PollDesc {
    fn new(index: u32) -> PollDesc {
        PollDesc {
            index,
            fd: AtomicI32::new(-1),
            seq: AtomicU32::new(0),
            closing: AtomicBool::new(false),
            rdeadline: AtomicU64::new(0),
            wdeadline: AtomicU64::new(0),
            rg: PollSlot::new(),
            wg: PollSlot::new(),
            fdmu: FdMutex::new(),
        }
    }

    /// A descriptor for `fd` (not yet registered with epoll).
    pub(crate) fn alloc(fd: RawFd) -> io::Result<&'static PollDesc> {
        let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
        let index = match cache.0.pop() {
            Some(i) => i,
            None => {
                let i = cache.1;
                if (i as usize).is_multiple_of(CHUNK) {
                    let c = i as usize / CHUNK;
                    if c >= MAX_CHUNKS {
                        return Err(io::Error::other("netpoll: too many descriptors"));
                    }
                    let chunk: Box<[PollDesc]> =
                        (0..CHUNK).map(|k| PollDesc::new(i + k as u32)).collect();
                    let base = Box::leak(chunk).as_mut_ptr();
                    CHUNKS[c].store(base, Ordering::Release);
                }
                cache.1 += 1;
                i
            }
        };
        drop(cache);
        let pd = lookup(index).expect("polldesc: allocated index has a chunk");
        pd.fd.store(fd, Ordering::Relaxed);
        pd.closing.store(false, Ordering::Relaxed);
        pd.rdeadline.store(0, Ordering::Relaxed);
        pd.wdeadline.store(0, Ordering::Relaxed);
        pd.rg.reset();
        pd.wg.reset();
        pd.fdmu.reset();
        Ok(pd)
    }

    /// Returns the descriptor to the cache. Its fd must be deregistered and no operation may
    /// be in flight. Bumping `seq` here is what makes late events for it harmless.
    pub(crate) fn free(&'static self) {
        self.fd.store(-1, Ordering::Relaxed);
        self.seq.fetch_add(1, Ordering::Release);
        let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
        cache.0.push(self.index);
    }

    /// The epoll event token of this incarnation.
    pub(crate) fn token(&self) -> u64 {
        (self.index as u64) << 32 | self.seq.load(Ordering::Relaxed) as u64
    }

    pub(crate) fn fd(&self) -> RawFd {
        self.fd.load(Ordering::Relaxed)
    }

    /// Test support: whether a goroutine or thread waits in `dir`'s slot now (it published
    /// itself there, so a close or a readiness event from now on wakes it).
    pub(crate) fn is_waiting(&self, dir: Dir) -> bool {
        self.slot(dir).is_waiting()
    }

    fn slot(&self, dir: Dir) -> &PollSlot<Sleeper> {
        match dir {
            Dir::Read => &self.rg,
            Dir::Write => &self.wg,
        }
    }

    fn deadline_word(&self, dir: Dir) -> &AtomicU64 {
        match dir {
            Dir::Read => &self.rdeadline,
            Dir::Write => &self.wdeadline,
        }
    }

    /// Sets (or with `None` clears) the deadline of `dir` and wakes its sleeper to re-read it.
    pub(crate) fn set_deadline(&self, dir: Dir, at: Option<Instant>) {
        // A deadline at the epoch's very start would read as "none": make it 1.
        let when = at.map_or(0, |t| crate::clock::to_nanos(t).max(1));
        self.deadline_word(dir).store(when, Ordering::SeqCst);
        if let Some(s) = self.slot(dir).wake() {
            s.wake_now();
        }
    }

    /// Marks the descriptor closing and wakes both sleepers (Go's `evict`).
    pub(crate) fn evict(&self) {
        self.closing.store(true, Ordering::SeqCst);
        for dir in [Dir::Read, Dir::Write] {
            if let Some(s) = self.slot(dir).wake() {
                s.wake_now();
            }
        }
    }

    /// Fails if the descriptor is closing or `dir`'s deadline has passed (Go's `prepare`).
    pub(crate) fn check(&self, dir: Dir) -> io::Result<()> {
        if self.closing.load(Ordering::SeqCst) {
            return Err(crate::pollfd::closed_error());
        }
        let d = self.deadline_word(dir).load(Ordering::SeqCst);
        if d != 0 && crate::clock::nanotime() >= d {
            return Err(crate::pollfd::timeout_error());
        }
        Ok(())
    }

    /// Waits until `dir` may be ready again (after `EAGAIN`), the deadline passes, or the
    /// descriptor closes. The caller holds `dir`'s fd lock, so it is the slot's only owner.
    pub(crate) fn wait(&self, dir: Dir) -> io::Result<()> {
        if crate::m::current_g().is_some() {
            self.wait_g(dir)
        } else {
            self.wait_thread(dir)
        }
    }

    fn wait_g(&self, dir: Dir) -> io::Result<()> {
        let slot = self.slot(dir);
        loop {
            // Errors first (Go's pollWait): after close or an expired deadline, pending
            // readiness must not let one more operation through.
            self.check(dir)?;
            if slot.take_ready() {
                return Ok(());
            }
            crate::netpoll::add_waiter();
            if slot.prepare(Sleeper::G(Waiter::current())) == Prepared::Ready {
                crate::netpoll::remove_waiter();
                return Ok(());
            }
            // Published: a close or a deadline change from now on finds us in the slot. One
            // that came before is seen here.
            let deadline = self.deadline_word(dir).load(Ordering::SeqCst);
            if self.closing.load(Ordering::SeqCst)
                || (deadline != 0 && crate::clock::nanotime() >= deadline)
            {
                let w = slot.withdraw();
                crate::netpoll::remove_waiter();
                if w == Woken::Ready {
                    return Ok(());
                }
                continue; // check() reports it
            }
            if deadline == 0 {
                park(WaitReason::IoWait);
            } else {
                park_until(WaitReason::IoWait, crate::clock::from_nanos(deadline));
            }
            let w = slot.withdraw();
            crate::netpoll::remove_waiter();
            if w == Woken::Ready {
                return Ok(());
            }
        }
    }

    fn wait_thread(&self, dir: Dir) -> io::Result<()> {
        let slot = self.slot(dir);
        let tw = thread_wake()?;
        loop {
            // Errors first (Go's pollWait): after close or an expired deadline, pending
            // readiness must not let one more operation through.
            self.check(dir)?;
            if slot.take_ready() {
                return Ok(());
            }
            if slot.prepare(Sleeper::Thread(tw.clone())) == Prepared::Ready {
                return Ok(());
            }
            let deadline = self.deadline_word(dir).load(Ordering::SeqCst);
            if self.closing.load(Ordering::SeqCst)
                || (deadline != 0 && crate::clock::nanotime() >= deadline)
            {
                if slot.withdraw() == Woken::Ready {
                    return Ok(());
                }
                continue;
            }
            let events = match dir {
                Dir::Read => libc::POLLIN | libc::POLLRDHUP,
                Dir::Write => libc::POLLOUT,
            };
            let mut fds = [
                libc::pollfd {
                    fd: self.fd(),
                    events,
                    revents: 0,
                },
                libc::pollfd {
                    fd: tw.fd,
                    events: libc::POLLIN,
                    revents: 0,
                },
            ];
            let timeout = if deadline == 0 {
                -1
            } else {
                let left = deadline.saturating_sub(crate::clock::nanotime());
                left.div_ceil(1_000_000).min(i32::MAX as u64) as i32
            };
            // SAFETY: two valid pollfd entries. The fd stays open: the caller holds a
            // reference, so close defers the real close until it returns.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, timeout) };
            tw.drain();
            let w = slot.withdraw();
            if w == Woken::Ready || (n > 0 && fds[0].revents != 0) {
                return Ok(());
            }
        }
    }
}

/// Handles one epoll event: if `token` still names a live incarnation, marks the slots ready
/// and collects (or wakes) their sleepers.
pub(crate) fn ready_event(token: u64, read: bool, write: bool, list: &mut Vec<&'static G>) {
    let Some(pd) = lookup((token >> 32) as u32) else {
        return;
    };
    // Acquire: pairs with free's release, so a freed incarnation's bump is seen.
    if pd.seq.load(Ordering::Acquire) != token as u32 {
        return; // stale: the fd was closed (and maybe its descriptor reused) since
    }
    if read && let Some(s) = pd.rg.set_ready() {
        s.wake_into(list);
    }
    if write && let Some(s) = pd.wg.set_ready() {
        s.wake_into(list);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_stale_event_wakes_nobody_after_reuse() {
        let pd = PollDesc::alloc(-1).unwrap();
        let old = pd.token();
        pd.free();
        // Allocate until the freed descriptor comes back as a new incarnation (the cache is
        // LIFO, so at once unless another test allocated in between).
        let mut others = Vec::new();
        let pd2 = loop {
            let d = PollDesc::alloc(-1).unwrap();
            if std::ptr::eq(d, pd) {
                break d;
            }
            others.push(d);
        };
        assert_ne!(pd2.token(), old, "a new incarnation has a new token");
        let mut list = Vec::new();
        ready_event(old, true, true, &mut list);
        assert!(
            !pd2.rg.take_ready(),
            "an old event must not mark the new fd ready"
        );
        assert!(!pd2.wg.take_ready());
        ready_event(pd2.token(), true, false, &mut list);
        assert!(pd2.rg.take_ready(), "its own events do");
        pd2.free();
        for d in others {
            d.free();
        }
    }
}
