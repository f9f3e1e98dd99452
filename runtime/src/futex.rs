//! Futex helpers: untimed waits go through `atomic-wait`; timed waits (which it lacks) call
//! `futex(FUTEX_WAIT_PRIVATE)` directly.

use std::sync::atomic::AtomicU32;
use std::time::Duration;

/// Blocks while `*word == expected`, for at most `timeout` (forever if `None`).
/// Spurious returns are possible; callers re-check their condition.
pub(crate) fn wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) {
    match timeout {
        None => atomic_wait::wait(word, expected),
        Some(d) => {
            let ts = libc::timespec {
                tv_sec: d.as_secs().min(i64::MAX as u64) as libc::time_t,
                tv_nsec: d.subsec_nanos() as libc::c_long,
            };
            // SAFETY: FUTEX_WAIT reads the u32 at `word` (valid for the call's duration, as
            // it is borrowed) and a relative timespec on our stack; no memory is written.
            unsafe {
                libc::syscall(
                    libc::SYS_futex,
                    word.as_ptr(),
                    libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
                    expected,
                    &ts as *const libc::timespec,
                );
            }
        }
    }
}

/// Wakes one thread blocked in [`wait`] on `word`.
pub(crate) fn wake_one(word: &AtomicU32) {
    atomic_wait::wake_one(word);
}
