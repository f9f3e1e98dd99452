//! The netpoller (Go's `runtime/netpoll.go` + `netpoll_epoll.go`): goroutines that wait for
//! sockets (or any non-blocking fd) without holding a thread.
//!
//! # The model
//! Every polled fd is non-blocking and registered once, edge-triggered, for both directions
//! (`EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET`) in one process-wide epoll instance. An
//! operation tries its system call; on `EAGAIN` it parks on its direction's wait slot of the
//! fd's poll descriptor ([`crate::polldesc`]) and its M runs other goroutines. When epoll
//! reports the fd, whoever polled marks the slot ready and collects the parked goroutine; the
//! goroutine retries its system call. Edge-triggered readiness is reported once, so the slot
//! remembers it (`READY`) until the owner's next `EAGAIN` consumes it.
//!
//! # Who polls, and when
//! Polling costs a system call, so it happens only while some goroutine waits on the poller
//! ([`waiters`], one relaxed load for programs that do no I/O):
//! * `find_runnable`, after the local and global queues and before stealing: a poll that does
//!   not block. A spinning M polls too, every [`crate::tune::SPIN_POLL_NS`] while it spins.
//! * An M with nothing to do at all (`stopm`) blocks in `epoll_wait` instead of its futex, with
//!   the earliest timer as timeout, if no other M does already ([`POLLER`]: at most one).
//!   Whatever would wake an idle M (a handoff, an earlier timer) writes to an eventfd
//!   registered with epoll instead ([`brk`], Go's `netpollBreak`).
//! * sysmon, if nobody polled for [`SYSMON_POLL_NS`] (every P busy with long computations).
//!
//! The goroutines a poll readies are handed over in one batch ([`inject`], Go's
//! `injectglist`): as many as there are idle Ps go to the global queue and an M is woken for
//! them; the rest go to the poller's own P (or the global queue when it has none).
//!
//! # Stale events
//! Poll descriptors come from a slab that is never freed (type-stable memory, Go's
//! `pollcache`), and each event carries the descriptor's index and its sequence number, which
//! is bumped every time the descriptor is freed. An event that arrives after `close`, or after
//! the fd number and even the descriptor were reused, fails the sequence check and wakes
//! nobody (see [`crate::polldesc`]).

use crate::g::G;
use crate::p::POwner;
use crate::polldesc;
use crate::sched::{self, Line, SCHED};
use std::io;
use std::os::fd::RawFd;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

/// Events taken per `epoll_wait` (Go takes 128).
const EVENTS: usize = 128;

/// The event token of the eventfd that breaks a blocked `epoll_wait`.
const BREAK_TOKEN: u64 = u64::MAX;

/// sysmon polls if nobody has for this long (Go's 10 ms).
pub(crate) const SYSMON_POLL_NS: u64 = 10_000_000;

struct Epoll {
    epfd: RawFd,
    /// Written by [`brk`] to wake the M blocked in `epoll_wait`.
    evfd: RawFd,
}

static EPOLL: OnceLock<Epoll> = OnceLock::new();

/// Goroutines parked on a wait slot right now (Go's `netpollWaiters`).
static WAITERS: Line<AtomicU32> = Line::new(AtomicU32::new(0));
/// An M is blocked in `epoll_wait` (Go's `sched.lastpoll == 0`).
static POLLER: Line<AtomicBool> = Line::new(AtomicBool::new(false));
/// When the poller was last looked at (runtime clock), for sysmon.
static LAST_POLL: AtomicU64 = AtomicU64::new(0);
/// A break is written and not yet read (Go's `netpollWakeSig`): one write is enough.
static BREAK_PENDING: AtomicBool = AtomicBool::new(false);
/// `epoll_pwait2` (nanosecond timeouts) is available; cleared on `ENOSYS`.
static HAVE_PWAIT2: AtomicBool = AtomicBool::new(true);

fn init() -> io::Result<&'static Epoll> {
    if let Some(e) = EPOLL.get() {
        return Ok(e);
    }
    // SAFETY: plain system calls; the fds are checked below.
    let epfd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    if epfd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a plain system call with no pointer arguments; the fd is checked below.
    let evfd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    if evfd < 0 {
        let e = io::Error::last_os_error();
        // SAFETY: epfd is ours and used by nobody yet.
        unsafe { libc::close(epfd) };
        return Err(e);
    }
    let mut ev = libc::epoll_event {
        events: libc::EPOLLIN as u32,
        u64: BREAK_TOKEN,
    };
    // SAFETY: valid fds and event struct.
    if unsafe { libc::epoll_ctl(epfd, libc::EPOLL_CTL_ADD, evfd, &mut ev) } < 0 {
        let e = io::Error::last_os_error();
        // SAFETY: both fds are ours and used by nobody yet.
        unsafe {
            libc::close(evfd);
            libc::close(epfd);
        }
        return Err(e);
    }
    let mine = Epoll { epfd, evfd };
    if let Err(lost) = EPOLL.set(mine) {
        // Another thread won the race: use its instance.
        // SAFETY: ours were never shared.
        unsafe {
            libc::close(lost.evfd);
            libc::close(lost.epfd);
        }
    }
    Ok(EPOLL.get().expect("netpoll: epoll instance set"))
}

/// Registers `fd` for both directions, edge-triggered, with the event token `token`.
pub(crate) fn register(fd: RawFd, token: u64) -> io::Result<()> {
    let ep = init()?;
    let mut ev = libc::epoll_event {
        events: (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET) as u32,
        u64: token,
    };
    // SAFETY: valid epoll fd and event struct; a bad `fd` is reported as an error.
    if unsafe { libc::epoll_ctl(ep.epfd, libc::EPOLL_CTL_ADD, fd, &mut ev) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Removes `fd` from the epoll set (before it is closed or handed back to the user).
pub(crate) fn deregister(fd: RawFd) {
    if let Some(ep) = EPOLL.get() {
        let mut ev = libc::epoll_event { events: 0, u64: 0 };
        // SAFETY: valid fds; an fd that was never added gives ENOENT, which is fine.
        unsafe { libc::epoll_ctl(ep.epfd, libc::EPOLL_CTL_DEL, fd, &mut ev) };
    }
}

/// How many goroutines wait on the poller.
#[inline]
pub(crate) fn waiters() -> u32 {
    WAITERS.load(Ordering::Relaxed)
}

pub(crate) fn add_waiter() {
    // SeqCst: a poller deciding whether to block reads it after its own queue checks.
    WAITERS.fetch_add(1, Ordering::SeqCst);
}

pub(crate) fn remove_waiter() {
    let old = WAITERS.fetch_sub(1, Ordering::SeqCst);
    debug_assert!(old > 0, "netpoll: waiter count underflow");
}

/// Whether a non-blocking poll is worth a system call: a goroutine waits, and no M is blocked
/// in `epoll_wait` already (it gets the events).
#[inline]
pub(crate) fn should_poll() -> bool {
    waiters() > 0 && !POLLER.load(Ordering::Relaxed)
}

/// Claims the role of the M blocked in `epoll_wait`; false if another M has it or nothing
/// waits on the poller.
pub(crate) fn try_claim_poller() -> bool {
    EPOLL.get().is_some()
        && waiters() > 0
        && POLLER
            .compare_exchange(false, true, Ordering::SeqCst, Ordering::Relaxed)
            .is_ok()
}

pub(crate) fn release_poller() {
    POLLER.store(false, Ordering::SeqCst);
}

/// Wakes the M blocked in `epoll_wait`, if any (Go's `netpollBreak`).
pub(crate) fn brk() {
    let Some(ep) = EPOLL.get() else { return };
    if BREAK_PENDING.swap(true, Ordering::SeqCst) {
        return; // a break is on its way
    }
    let one: u64 = 1;
    // SAFETY: writing 8 bytes from a valid u64 to our eventfd; EAGAIN (counter full) means a
    // wakeup is pending anyway.
    unsafe { libc::write(ep.evfd, (&one as *const u64).cast(), 8) };
}

/// Polls for ready fds: `until` is `None` for a poll that does not block, else the runtime
/// clock time to block until (`u64::MAX`: no limit). Readied goroutines are appended to
/// `list` (plain threads waiting on a slot are woken directly). Returns whether the poll was
/// broken by [`brk`] (or a signal) rather than by events or the timeout.
pub(crate) fn netpoll(until: Option<u64>, list: &mut Vec<&'static G>) -> bool {
    let Some(ep) = EPOLL.get() else { return false };
    let mut events = [libc::epoll_event { events: 0, u64: 0 }; EVENTS];
    let n = wait(ep.epfd, &mut events, until);
    LAST_POLL.store(crate::clock::nanotime(), Ordering::Relaxed);
    let mut broken = n < 0;
    for ev in &events[..n.max(0) as usize] {
        let token = ev.u64;
        if token == BREAK_TOKEN {
            if until.is_none() {
                // A break is for the M blocked in epoll_wait: a poll that does not block must
                // leave it (and BREAK_PENDING) alone, or that M sleeps through its wakeup
                // (Go's netpoll reads the eventfd only when `delay != 0` too).
                continue;
            }
            let mut buf = 0u64;
            // SAFETY: reading 8 bytes into a valid u64 from our non-blocking eventfd.
            unsafe { libc::read(ep.evfd, (&mut buf as *mut u64).cast(), 8) };
            BREAK_PENDING.store(false, Ordering::SeqCst);
            broken = true;
            continue;
        }
        let bits = ev.events as i32;
        let read = bits & (libc::EPOLLIN | libc::EPOLLRDHUP | libc::EPOLLHUP | libc::EPOLLERR) != 0;
        let write = bits & (libc::EPOLLOUT | libc::EPOLLHUP | libc::EPOLLERR) != 0;
        polldesc::ready_event(token, read, write, list);
    }
    broken
}

/// `epoll_pwait2` with a nanosecond timeout where the kernel has it, else `epoll_wait` with
/// the timeout rounded up to a millisecond. Returns the number of events (-1: interrupted).
fn wait(epfd: RawFd, events: &mut [libc::epoll_event; EVENTS], until: Option<u64>) -> i32 {
    let delay = match until {
        None => Some(0),
        Some(u64::MAX) => None,
        Some(t) => Some(t.saturating_sub(crate::clock::nanotime())),
    };
    if HAVE_PWAIT2.load(Ordering::Relaxed) {
        let ts = delay.map(|d| libc::timespec {
            tv_sec: (d / 1_000_000_000).min(i64::MAX as u64) as libc::time_t,
            tv_nsec: (d % 1_000_000_000) as libc::c_long,
        });
        let tsp = ts
            .as_ref()
            .map_or(std::ptr::null(), |t| t as *const libc::timespec);
        // SAFETY: valid epoll fd, event buffer of EVENTS entries, timespec or null, no
        // signal mask.
        let n = unsafe {
            libc::syscall(
                libc::SYS_epoll_pwait2,
                epfd,
                events.as_mut_ptr(),
                EVENTS as libc::c_int,
                tsp,
                std::ptr::null::<libc::sigset_t>(),
                0usize,
            )
        };
        if n >= 0 {
            return n as i32;
        }
        match io::Error::last_os_error().raw_os_error() {
            Some(libc::EINTR) => return -1,
            // ENOSYS (before Linux 5.11), or EPERM from a seccomp filter that does not know
            // the call: epoll_wait from now on.
            _ => HAVE_PWAIT2.store(false, Ordering::Relaxed),
        }
    }
    let ms = match delay {
        None => -1,
        Some(0) => 0,
        Some(d) => d.div_ceil(1_000_000).min(i32::MAX as u64) as i32,
    };
    // SAFETY: valid epoll fd and event buffer of EVENTS entries.
    let n = unsafe { libc::epoll_wait(epfd, events.as_mut_ptr(), EVENTS as i32, ms) };
    if n < 0 { -1 } else { n }
}

/// Makes the goroutines of a poll runnable (Go's `injectglist`): as many as there are idle Ps
/// go to the global queue and an M is woken to share them out; the rest go to `p`'s local
/// queue, or all to the global queue without a P.
pub(crate) fn inject(list: &[&'static G], p: Option<POwner<'_>>) {
    if list.is_empty() {
        return;
    }
    let to_global = match p {
        None => list.len(),
        Some(_) => (SCHED.npidle.load(Ordering::SeqCst) as usize).min(list.len()),
    };
    if to_global > 0 {
        let batch: Vec<*mut G> = list[..to_global]
            .iter()
            .map(|&g| g as *const G as *mut G)
            .collect();
        sched::globrunqputbatch(&batch);
    }
    if let Some(p) = p {
        for &g in &list[to_global..] {
            sched::runqput(p, g, false);
        }
    }
    // StoreLoad with an M going idle (it re-checks the queues after publishing that).
    std::sync::atomic::fence(Ordering::SeqCst);
    if to_global > 0 {
        // One M: when it finds work and is the last spinner it wakes the next, so as many
        // Ms as there is work come up (Go starts one per idle P here at once; a futex wake
        // costs tens of microseconds on these VMs, and a burst often drains first).
        sched::wakep();
    }
}

/// sysmon's poll: if nobody looked at the poller for [`SYSMON_POLL_NS`], poll without
/// blocking and queue what is ready globally.
pub(crate) fn sysmon_poll(now: u64) {
    if waiters() == 0 || POLLER.load(Ordering::Relaxed) {
        return;
    }
    if now.saturating_sub(LAST_POLL.load(Ordering::Relaxed)) < SYSMON_POLL_NS {
        return;
    }
    let mut list = Vec::new();
    netpoll(None, &mut list);
    inject(&list, None);
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn a_poll_that_does_not_block_leaves_the_break_to_the_blocked_poller() {
        init().unwrap();
        let blocked = std::thread::spawn(|| {
            let t = Instant::now();
            let mut list = Vec::new();
            // Up to 5 s, unless broken (events for other tests' fds may end it sooner too).
            while !netpoll(Some(crate::clock::nanotime() + 5_000_000_000), &mut list)
                && t.elapsed() < Duration::from_secs(5)
            {}
            t.elapsed()
        });
        std::thread::sleep(Duration::from_millis(50));
        brk();
        // A poll that does not block, racing the blocked one for the eventfd.
        let mut list = Vec::new();
        for _ in 0..100 {
            netpoll(None, &mut list);
        }
        let waited = blocked.join().unwrap();
        assert!(
            waited < Duration::from_secs(2),
            "the blocked poller slept through its break ({waited:?})"
        );
    }
}
