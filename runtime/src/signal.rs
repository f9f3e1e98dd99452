//! Reporting stack overflows: a SIGSEGV/SIGBUS handler that recognises a goroutine's guard
//! page, names the goroutine and aborts (std does the same for threads).
//!
//! The handler runs on the M's alternate signal stack (the goroutine's own stack is the one
//! that overflowed). It uses only atomics, `write(2)` and `core::fmt` into a stack buffer:
//! nothing that allocates or locks. Faults that are not ours go to the handler that was
//! installed before (std's, which reports thread stack overflows), or the default action.

use std::fmt::Write as _;
use std::mem;
use std::ptr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

static INSTALLED: AtomicBool = AtomicBool::new(false);
/// The handlers that were installed before ours, to chain to for faults that are not ours.
static PREV_SEGV: OnceLock<libc::sigaction> = OnceLock::new();
static PREV_BUS: OnceLock<libc::sigaction> = OnceLock::new();

/// Size of the alternate signal stack given to Ms that lack one.
const ALTSTACK: usize = 64 * 1024;

/// Installs the handler once, saving the previous ones.
pub(crate) fn install() {
    if INSTALLED.swap(true, Ordering::AcqRel) {
        return;
    }
    for (sig, prev) in [(libc::SIGSEGV, &PREV_SEGV), (libc::SIGBUS, &PREV_BUS)] {
        // SAFETY: sigaction with a zeroed struct, our handler and SA_SIGINFO|SA_ONSTACK; the
        // old action is written to a local we own. Until `prev` is set, the handler treats
        // foreign faults with the default action.
        unsafe {
            let mut sa: libc::sigaction = mem::zeroed();
            let mut old: libc::sigaction = mem::zeroed();
            sa.sa_sigaction = handler as *const () as usize;
            sa.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            libc::sigemptyset(&mut sa.sa_mask);
            if libc::sigaction(sig, &sa, &mut old) == 0 {
                let _ = prev.set(old);
            }
        }
    }
    on_new_thread();
}

/// Gives the calling thread an alternate signal stack if it has none.
pub(crate) fn on_new_thread() {
    // SAFETY: sigaltstack only reads/writes the stack_t structs we pass. The mapping we may
    // install is leaked on purpose: it must outlive the thread's last signal.
    unsafe {
        let mut old: libc::stack_t = mem::zeroed();
        if libc::sigaltstack(ptr::null(), &mut old) != 0 || old.ss_flags & libc::SS_DISABLE == 0 {
            return; // Already has one (std gives its threads one) or cannot tell.
        }
        let mem = libc::mmap(
            ptr::null_mut(),
            ALTSTACK,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        if mem == libc::MAP_FAILED {
            return;
        }
        let st = libc::stack_t {
            ss_sp: mem,
            ss_flags: 0,
            ss_size: ALTSTACK,
        };
        libc::sigaltstack(&st, ptr::null_mut());
    }
}

/// A fixed buffer implementing `fmt::Write`, truncating when full.
struct Buf {
    b: [u8; 512],
    n: usize,
}

impl std::fmt::Write for Buf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let room = self.b.len() - self.n;
        let k = s.len().min(room);
        self.b[self.n..self.n + k].copy_from_slice(&s.as_bytes()[..k]);
        self.n += k;
        Ok(())
    }
}

extern "C" fn handler(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers.
    let addr = unsafe { (*info).si_addr() } as usize;
    if let Some((owner, size)) = crate::stack::guard_hit(addr) {
        let mut buf = Buf { b: [0; 512], n: 0 };
        // SAFETY: owners are 'static G records (never freed) or null.
        let g = unsafe { (owner as *const crate::g::G).as_ref() };
        match g {
            Some(g) => {
                let _ = write!(
                    buf,
                    "\ngoroutine {} (spawned at ",
                    g.goid.load(Ordering::Relaxed)
                );
            }
            // Only an iter::pull producer's stack is handed out with no goroutine.
            None => {
                let _ = write!(
                    buf,
                    "\nan iter::pull producer on a plain thread (spawned at "
                );
            }
        }
        match g.and_then(|g| g.spawn_location()) {
            Some(l) => {
                let _ = write!(buf, "{}:{}:{}", l.file(), l.line(), l.column());
            }
            None => {
                let _ = write!(buf, "<unknown>");
            }
        }
        let _ = write!(
            buf,
            ") overflowed its {} KiB stack\nfatal runtime error: goroutine stack overflow, aborting\n",
            size / 1024
        );
        // SAFETY: write(2) and abort(3) are async-signal-safe; the buffer is on our stack.
        unsafe {
            libc::write(2, buf.b.as_ptr().cast(), buf.n);
            libc::abort();
        }
    }
    // Not a goroutine guard page: hand over to whoever handled this signal before us.
    let prev = if sig == libc::SIGBUS {
        PREV_BUS.get()
    } else {
        PREV_SEGV.get()
    };
    let (h, flags) = prev.map_or((libc::SIG_DFL, 0), |p| (p.sa_sigaction, p.sa_flags));
    if h == libc::SIG_DFL || h == libc::SIG_IGN {
        // Restore the default action and return: the faulting instruction runs again and
        // the process dies of the signal as it would have without us.
        // SAFETY: resetting a signal's disposition is async-signal-safe.
        unsafe {
            let mut sa: libc::sigaction = mem::zeroed();
            sa.sa_sigaction = libc::SIG_DFL;
            libc::sigaction(sig, &sa, ptr::null_mut());
        }
    } else if flags & libc::SA_SIGINFO != 0 {
        // SAFETY: the previous handler was registered as a three-argument handler.
        let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
            unsafe { mem::transmute(h) };
        f(sig, info, ctx);
    } else {
        // SAFETY: the previous handler was registered as a one-argument handler.
        let f: extern "C" fn(libc::c_int) = unsafe { mem::transmute(h) };
        f(sig);
    }
}
