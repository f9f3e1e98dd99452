//! Go's `os/signal`: incoming Unix signals delivered to channels.
//!
//! | Go | goro |
//! |---|---|
//! | `signal.Notify(c, os.Interrupt, syscall.SIGTERM)` | [`notify(&c, &[SIGINT, SIGTERM])`](notify) |
//! | `signal.Notify(c)` (every signal) | [`notify(&c, &[])`](notify) |
//! | `signal.Stop(c)` | [`stop(&c)`](stop) |
//! | `signal.Ignore(sigs...)`, `signal.Ignored(sig)` | [`ignore`], [`ignored`] |
//! | `signal.Reset(sigs...)` | [`reset`] |
//! | `ctx, stop := signal.NotifyContext(parent, sigs...)` | [`notify_context(&parent, &[..])`](notify_context) |
//! | `os.Signal`, `syscall.SIGINT`, `os.Interrupt` | [`Signal`], [`SIGINT`], [`INTERRUPT`] |
//!
//! ```no_run
//! use chan::signal::{self, SIGINT, SIGTERM};
//! // c := make(chan os.Signal, 1); signal.Notify(c, os.Interrupt, syscall.SIGTERM)
//! let c = chan::make::<signal::Signal>(1);
//! signal::notify(&c, &[SIGINT, SIGTERM]);
//! let s = c.recv().unwrap(); // s := <-c
//! println!("Got signal: {s}"); // "Got signal: interrupt"
//! ```
//!
//! # How a signal travels
//! The first [`notify`] for a signal installs a handler for it (`sigaction`, with
//! `SA_RESTART` so that interrupted system calls resume, and `SA_ONSTACK`). The handler does
//! only async-signal-safe work: it sets the signal's bit in a pending mask (an atomic OR) and
//! writes one byte to a non-blocking pipe, keeping `errno`. A dedicated thread,
//! `goro-signal`, blocks reading the pipe; woken, it takes the whole mask and, under the
//! registry's lock, offers each pending signal to every channel registered for it with a
//! non-blocking send: as in Go, a full channel misses the signal, so give it a buffer. A
//! signal that arrives again before the thread has taken the mask is delivered once (Go's
//! mask does the same).
//!
//! A thread, not a goroutine, because it must not depend on the scheduler having a free P
//! (a program whose goroutines spin still gets its SIGINT), and it costs one parked thread.
//! libc rather than `signal-hook`: the handler is ten lines, and the crate's registry would
//! add a layer (its own handler chaining and `Arc` swaps) between the handler and ours
//! without removing any of the work here (the channel fan-out, `stop`'s guarantee).
//!
//! # Which signals
//! Any signal but SIGKILL and SIGSTOP (which cannot be caught) and the synchronous ones,
//! SIGSEGV, SIGBUS, SIGFPE, SIGILL and SIGTRAP: those belong to the runtime (a goroutine's
//! stack overflow is reported through SIGSEGV) and to the Rust runtime, and asking for them
//! is ignored. `notify(&c, &[])` subscribes to every other signal, real-time ones included.
//! When no channel wants a signal any more ([`stop`], [`reset`]), the disposition it had
//! before goro first caught it comes back (for SIGPIPE that is std's `SIG_IGN`).

use crate::chan::{Chan, Sender};
use crate::context::{self, CancelCauseFunc, Cause, Context, ContextError};
use std::fmt;
use std::io;
use std::mem;
use std::ptr;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, Once};

/// A Unix signal (Go's `os.Signal`, for the `syscall.Signal` values). Its `Display` is Go's
/// description (`interrupt`, `terminated`, `user defined signal 1`).
///
/// ```
/// use chan::signal::{SIGINT, SIGTERM, Signal};
/// assert_eq!(SIGINT.to_string(), "interrupt");
/// assert_eq!(SIGTERM.number(), 15);
/// assert_eq!(Signal::new(10), chan::signal::SIGUSR1);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Signal(i32);

impl Signal {
    /// The signal numbered `n` (as `kill -n`).
    pub const fn new(n: i32) -> Signal {
        Signal(n)
    }

    /// Its number.
    pub const fn number(self) -> i32 {
        self.0
    }

    /// Sends it to process `pid` (`kill(2)`; Go's `syscall.Kill`, or `os.Process.Signal`).
    ///
    /// ```no_run
    /// chan::signal::SIGTERM.send_to(std::process::id() as i32).unwrap();
    /// ```
    pub fn send_to(self, pid: i32) -> io::Result<()> {
        // SAFETY: kill(2) has no memory-safety preconditions.
        if unsafe { libc::kill(pid, self.0) } == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// Sends it to this process (Go's `p, _ := os.FindProcess(os.Getpid()); p.Signal(sig)`).
    ///
    /// ```
    /// use chan::signal::{self, SIGWINCH};
    /// let c = chan::make::<signal::Signal>(1);
    /// signal::notify(&c, &[SIGWINCH]);
    /// SIGWINCH.raise().unwrap();
    /// assert_eq!(c.recv(), Some(SIGWINCH));
    /// signal::stop(&c);
    /// ```
    pub fn raise(self) -> io::Result<()> {
        self.send_to(std::process::id() as i32)
    }

    /// Whether a handler may be installed for it (see the module docs).
    fn catchable(self) -> bool {
        (1..=MAX_SIG).contains(&self.0)
            && !matches!(
                self.0,
                libc::SIGKILL
                    | libc::SIGSTOP
                    | libc::SIGSEGV
                    | libc::SIGBUS
                    | libc::SIGFPE
                    | libc::SIGILL
                    | libc::SIGTRAP
            )
            && !(32..libc::SIGRTMIN()).contains(&self.0) // glibc's own (NPTL) signals
    }

    fn bit(self) -> u64 {
        1 << (self.0 - 1)
    }
}

/// Go's `syscall.Signal.String()` texts.
fn describe(n: i32) -> Option<&'static str> {
    Some(match n {
        libc::SIGHUP => "hangup",
        libc::SIGINT => "interrupt",
        libc::SIGQUIT => "quit",
        libc::SIGILL => "illegal instruction",
        libc::SIGTRAP => "trace/breakpoint trap",
        libc::SIGABRT => "aborted",
        libc::SIGBUS => "bus error",
        libc::SIGFPE => "floating point exception",
        libc::SIGKILL => "killed",
        libc::SIGUSR1 => "user defined signal 1",
        libc::SIGSEGV => "segmentation fault",
        libc::SIGUSR2 => "user defined signal 2",
        libc::SIGPIPE => "broken pipe",
        libc::SIGALRM => "alarm clock",
        libc::SIGTERM => "terminated",
        libc::SIGSTKFLT => "stack fault",
        libc::SIGCHLD => "child exited",
        libc::SIGCONT => "continued",
        libc::SIGSTOP => "stopped (signal)",
        libc::SIGTSTP => "stopped",
        libc::SIGTTIN => "stopped (tty input)",
        libc::SIGTTOU => "stopped (tty output)",
        libc::SIGURG => "urgent I/O condition",
        libc::SIGXCPU => "CPU time limit exceeded",
        libc::SIGXFSZ => "file size limit exceeded",
        libc::SIGVTALRM => "virtual timer expired",
        libc::SIGPROF => "profiling timer expired",
        libc::SIGWINCH => "window changed",
        libc::SIGIO => "I/O possible",
        libc::SIGPWR => "power failure",
        libc::SIGSYS => "bad system call",
        _ => return None,
    })
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match describe(self.0) {
            Some(s) => f.write_str(s),
            None => write!(f, "signal {}", self.0),
        }
    }
}

impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signal({} {:?})", self.0, self.to_string())
    }
}

/// `SIGHUP`: the terminal hung up (daemons reload their configuration).
pub const SIGHUP: Signal = Signal(libc::SIGHUP);
/// `SIGINT`: Ctrl-C.
pub const SIGINT: Signal = Signal(libc::SIGINT);
/// Go's `os.Interrupt`: [`SIGINT`].
pub const INTERRUPT: Signal = SIGINT;
/// `SIGQUIT`: Ctrl-\ (Go's runtime dumps goroutines on it; goro leaves it to the program).
pub const SIGQUIT: Signal = Signal(libc::SIGQUIT);
/// `SIGKILL`: cannot be caught; here to [`Signal::send_to`] (Go's `os.Kill`).
pub const SIGKILL: Signal = Signal(libc::SIGKILL);
/// `SIGUSR1`.
pub const SIGUSR1: Signal = Signal(libc::SIGUSR1);
/// `SIGUSR2`.
pub const SIGUSR2: Signal = Signal(libc::SIGUSR2);
/// `SIGPIPE`: a write to a closed pipe or socket (std ignores it at start-up).
pub const SIGPIPE: Signal = Signal(libc::SIGPIPE);
/// `SIGALRM`.
pub const SIGALRM: Signal = Signal(libc::SIGALRM);
/// `SIGTERM`: the polite request to stop (`kill`'s default, and what service managers send).
pub const SIGTERM: Signal = Signal(libc::SIGTERM);
/// `SIGCHLD`: a child process stopped or exited.
pub const SIGCHLD: Signal = Signal(libc::SIGCHLD);
/// `SIGWINCH`: the terminal's size changed.
pub const SIGWINCH: Signal = Signal(libc::SIGWINCH);

/// The highest signal number (SIGRTMAX on Linux); the pending mask has a bit for each.
const MAX_SIG: i32 = 64;

/// Signals caught but not yet delivered: bit `n - 1` for signal `n`. Set by the handler.
static PENDING: AtomicU64 = AtomicU64::new(0);
/// The pipe's write end, for the handler (-1 until the pipe exists).
static WAKE_FD: AtomicI32 = AtomicI32::new(-1);

/// Who wants which signal, and what each signal's disposition was before goro's handler.
struct Registry {
    /// Each notified channel and the signals it wants (one entry per channel).
    handlers: Vec<(Sender<Signal>, u64)>,
    /// Signals whose handler is goro's.
    installed: u64,
    /// Signals [`ignore`] set to `SIG_IGN`.
    ignored: u64,
    /// The disposition each signal had before goro first changed it.
    original: [Option<libc::sigaction>; MAX_SIG as usize + 1],
}

// SAFETY: `libc::sigaction` holds a handler address and flags; the registry is only reached
// through its Mutex.
unsafe impl Send for Registry {}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    handlers: Vec::new(),
    installed: 0,
    ignored: 0,
    original: [None; MAX_SIG as usize + 1],
});

fn registry() -> MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

/// The signals a `&[Signal]` names (every catchable one if it is empty), as a mask.
fn mask_of(sigs: &[Signal]) -> u64 {
    if sigs.is_empty() {
        (1..=MAX_SIG)
            .map(Signal)
            .filter(|s| s.catchable())
            .fold(0, |m, s| m | s.bit())
    } else {
        sigs.iter()
            .filter(|s| s.catchable())
            .fold(0, |m, s| m | s.bit())
    }
}

fn signals_in(mask: u64) -> impl Iterator<Item = Signal> {
    (1..=MAX_SIG)
        .map(Signal)
        .filter(move |s| mask & s.bit() != 0)
}

extern "C" fn handler(sig: libc::c_int) {
    // Async-signal-safe only: an atomic OR and write(2), with errno kept for the code the
    // signal interrupted.
    // SAFETY: __errno_location returns this thread's errno slot.
    let errno = unsafe { *libc::__errno_location() };
    if (1..=MAX_SIG).contains(&sig) {
        PENDING.fetch_or(1 << (sig - 1), Ordering::AcqRel);
    }
    let fd = WAKE_FD.load(Ordering::Acquire);
    if fd >= 0 {
        let b = 1u8;
        // SAFETY: writes one byte from our stack to the pipe; the pipe is non-blocking, and a
        // full pipe already holds a wake-up for the delivery thread.
        unsafe { libc::write(fd, (&b as *const u8).cast(), 1) };
    }
    // SAFETY: __errno_location returns this thread's errno slot, valid and ours to write;
    // restoring it is what an async-signal-safe handler must do.
    unsafe { *libc::__errno_location() = errno };
}

/// Creates the pipe and starts the delivery thread, once.
fn start_delivery() {
    static START: Once = Once::new();
    START.call_once(|| {
        let mut fds = [0; 2];
        // SAFETY: pipe2 writes two fds into our array.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            panic!(
                "signal: cannot create the signal pipe: {}",
                io::Error::last_os_error()
            );
        }
        // SAFETY: fcntl on the pipe's write end we just made. The handler must never block.
        unsafe {
            let fl = libc::fcntl(fds[1], libc::F_GETFL);
            libc::fcntl(fds[1], libc::F_SETFL, fl | libc::O_NONBLOCK);
        }
        WAKE_FD.store(fds[1], Ordering::Release);
        let rd = fds[0];
        std::thread::Builder::new()
            .name("goro-signal".into())
            .spawn(move || deliver_loop(rd))
            .expect("signal: cannot start the signal delivery thread");
    });
}

fn deliver_loop(rd: i32) {
    let mut buf = [0u8; 64];
    loop {
        // SAFETY: reads into our buffer from the pipe's read end, which this thread owns.
        let n = unsafe { libc::read(rd, buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 && io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            // Nothing closes the pipe; should read fail anyway, do not spin.
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let pending = PENDING.swap(0, Ordering::AcqRel);
        if pending == 0 {
            continue;
        }
        let reg = registry();
        for sig in signals_in(pending) {
            for (tx, mask) in &reg.handlers {
                if mask & sig.bit() != 0 {
                    // Go's rule: never block; a full channel misses the signal.
                    let _ = tx.try_send(sig);
                }
            }
        }
    }
}

/// Sets `sig`'s disposition to `action` (goro's handler, `SIG_IGN`, or the saved original),
/// saving the original the first time.
fn set_disposition(reg: &mut Registry, sig: Signal, action: Option<usize>) {
    let n = sig.0 as usize;
    // SAFETY: sigaction with structs we own; `handler` only does async-signal-safe work.
    unsafe {
        let mut old: libc::sigaction = mem::zeroed();
        let r = match action {
            Some(h) => {
                let mut sa: libc::sigaction = mem::zeroed();
                sa.sa_sigaction = h;
                sa.sa_flags = libc::SA_RESTART | libc::SA_ONSTACK;
                libc::sigemptyset(&mut sa.sa_mask);
                libc::sigaction(sig.0, &sa, &mut old)
            }
            None => match reg.original[n] {
                Some(orig) => libc::sigaction(sig.0, &orig, &mut old),
                None => return,
            },
        };
        if r == 0 && reg.original[n].is_none() {
            reg.original[n] = Some(old);
        }
    }
}

/// Makes every signal's disposition match what the registry now asks for.
fn sync_dispositions(reg: &mut Registry) {
    let wanted = reg.handlers.iter().fold(0, |m, (_, k)| m | k);
    for sig in signals_in(wanted & !reg.installed) {
        set_disposition(reg, sig, Some(handler as *const () as usize));
        reg.installed |= sig.bit();
        reg.ignored &= !sig.bit();
    }
    for sig in signals_in(reg.installed & !wanted) {
        if reg.ignored & sig.bit() == 0 {
            set_disposition(reg, sig, None);
        }
        reg.installed &= !sig.bit();
    }
}

/// Relays the signals `sigs` (every catchable signal if empty) to channel `c` (Go's
/// `signal.Notify`).
///
/// Delivery never blocks: a signal that finds `c` full is not delivered to it, so give `c`
/// room (a buffer of 1 is enough for one signal value). Calling `notify` again for the same
/// channel adds signals; several channels may want one signal, and each gets a copy. The
/// first `notify` for a signal replaces its default action (for SIGINT, ending the process)
/// with delivery. Signals that cannot be caught, and the synchronous ones the runtime owns
/// (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP), are skipped.
///
/// ```
/// use chan::signal::{self, SIGUSR1};
/// let c = chan::make::<signal::Signal>(1);
/// signal::notify(&c, &[SIGUSR1]);
/// SIGUSR1.raise().unwrap();
/// assert_eq!(c.recv(), Some(SIGUSR1));
/// signal::stop(&c);
/// ```
pub fn notify(c: impl Into<Sender<Signal>>, sigs: &[Signal]) {
    let tx = c.into();
    let add = mask_of(sigs);
    start_delivery();
    let mut reg = registry();
    match reg.handlers.iter_mut().find(|(h, _)| h.ch == tx.ch) {
        Some((_, mask)) => *mask |= add,
        None => reg.handlers.push((tx, add)),
    }
    sync_dispositions(&mut reg);
}

/// Stops relaying signals to `c` (Go's `signal.Stop`): when it returns, `c` receives no more
/// signals. A signal no channel wants any more gets back its original disposition.
///
/// ```
/// use chan::signal::{self, SIGUSR2};
/// let c = chan::make::<signal::Signal>(1);
/// signal::notify(&c, &[SIGUSR2]);
/// signal::stop(&c); // SIGUSR2 would end the process again now
/// ```
pub fn stop(c: impl Into<Sender<Signal>>) {
    let tx = c.into();
    // Taking the lock waits out a delivery in progress: none can reach `c` after this.
    let mut reg = registry();
    reg.handlers.retain(|(h, _)| h.ch != tx.ch);
    sync_dispositions(&mut reg);
}

/// Ignores `sigs` (every catchable signal if empty): no channel gets them and the process
/// does not act on them (Go's `signal.Ignore`). [`notify`] or [`reset`] undo it.
///
/// ```
/// use chan::signal::{self, SIGHUP};
/// signal::ignore(&[SIGHUP]); // nohup
/// assert!(signal::ignored(SIGHUP));
/// signal::reset(&[SIGHUP]);
/// assert!(!signal::ignored(SIGHUP));
/// ```
pub fn ignore(sigs: &[Signal]) {
    let m = mask_of(sigs);
    let mut reg = registry();
    for (_, mask) in reg.handlers.iter_mut() {
        *mask &= !m;
    }
    reg.handlers.retain(|(_, mask)| *mask != 0);
    // Marked ignored first, so that `sync_dispositions` leaves goro's handler in place
    // (delivering to nobody) instead of restoring the default action for a moment: a
    // SIGINT in that moment would end the process that asked to ignore it.
    reg.ignored |= m;
    sync_dispositions(&mut reg);
    for sig in signals_in(m) {
        set_disposition(&mut reg, sig, Some(libc::SIG_IGN));
    }
}

/// Whether `sig` is ignored now: by [`ignore`], or because the process started with it
/// ignored (`nohup`) and nothing has notified it since (Go's `signal.Ignored`).
pub fn ignored(sig: Signal) -> bool {
    if !(1..=MAX_SIG).contains(&sig.0) {
        return false;
    }
    let reg = registry();
    if reg.ignored & sig.bit() != 0 {
        return true;
    }
    if reg.installed & sig.bit() != 0 {
        return false;
    }
    // SAFETY: sigaction with a null new action only reads the current one into `cur`.
    unsafe {
        let mut cur: libc::sigaction = mem::zeroed();
        libc::sigaction(sig.0, ptr::null(), &mut cur) == 0 && cur.sa_sigaction == libc::SIG_IGN
    }
}

/// Undoes [`notify`] and [`ignore`] for `sigs` (every catchable signal if empty): no channel
/// gets them any more, and each has the disposition it had before goro first changed it (Go's
/// `signal.Reset`).
pub fn reset(sigs: &[Signal]) {
    let m = mask_of(sigs);
    let mut reg = registry();
    for (_, mask) in reg.handlers.iter_mut() {
        *mask &= !m;
    }
    reg.handlers.retain(|(_, mask)| *mask != 0);
    sync_dispositions(&mut reg);
    for sig in signals_in(m & reg.ignored) {
        set_disposition(&mut reg, sig, None);
        reg.ignored &= !sig.bit();
    }
}

/// Ends a [`notify_context`]: cancels its context and stops its signal delivery (Go's
/// `stop` from `signal.NotifyContext`). Clone it to stop from several places; stopping
/// again does nothing.
///
/// ```
/// use chan::{context, signal};
/// let (ctx, stop) = signal::notify_context(&context::background(), &[signal::SIGINT]);
/// // ... the work that Ctrl-C would interrupt ...
/// stop.stop(); // done early: Ctrl-C ends the process again
/// assert_eq!(ctx.err(), Some(context::ContextError::Canceled));
/// ```
#[derive(Clone, Debug)]
pub struct NotifyStop {
    cancel: CancelCauseFunc,
    ch: Chan<Signal>,
}

impl NotifyStop {
    /// Cancels the context (its cause: [`ContextError::Canceled`]) and restores the signals'
    /// behaviour (for SIGINT: ending the process) before it returns, as Go's `stop()` does.
    pub fn stop(&self) {
        self.cancel.cancel(None);
        stop(&self.ch);
    }
}

/// The [`context::cause`] of a [`notify_context`] context cancelled by a signal (Go 1.26's
/// cause): says which signal, prints as `interrupt signal received`, and has
/// [`ContextError::Canceled`] as its source (Go's `errors.Is(cause, context.Canceled)`).
///
/// ```
/// use chan::{context, signal};
/// let (ctx, stop) = signal::notify_context(&context::background(), &[signal::SIGUSR2]);
/// signal::SIGUSR2.raise().unwrap();
/// ctx.done().recv();
/// let cause = context::cause(&ctx).unwrap();
/// let got = cause.downcast_ref::<signal::SignalReceived>().unwrap();
/// assert_eq!(got.signal, signal::SIGUSR2);
/// assert_eq!(cause.to_string(), "user defined signal 2 signal received");
/// stop.stop();
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignalReceived {
    /// The signal that arrived.
    pub signal: Signal,
}

impl fmt::Display for SignalReceived {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} signal received", self.signal)
    }
}

impl std::error::Error for SignalReceived {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&ContextError::Canceled)
    }
}

/// A copy of `parent` that is cancelled when one of `sigs` arrives (every catchable signal
/// if empty), when `parent` is, or when the returned [`NotifyStop`] is stopped (Go's
/// `signal.NotifyContext`). Until then the signals are caught: a SIGINT does not end the
/// process but cancels the context, and later ones are swallowed until [`NotifyStop::stop`]
/// gives the signals back their behaviour (then a second Ctrl-C ends the process): call it
/// as soon as the context has done its job, as Go's documentation asks.
///
/// ```
/// use chan::{context, signal};
/// let (ctx, stop) = signal::notify_context(&context::background(), &[signal::SIGUSR1]);
/// signal::SIGUSR1.raise().unwrap(); // simulates `kill -USR1`
/// assert_eq!(ctx.done().recv(), None); // done: cancelled by the signal
/// assert_eq!(ctx.err(), Some(context::ContextError::Canceled));
/// let cause = context::cause(&ctx).unwrap(); // Go 1.26: which signal it was
/// assert_eq!(cause.to_string(), "user defined signal 1 signal received");
/// stop.stop();
/// ```
pub fn notify_context(parent: &Context, sigs: &[Signal]) -> (Context, NotifyStop) {
    let (ctx, cancel) = context::with_cancel_cause(parent);
    let ch = crate::chan::make::<Signal>(1);
    notify(&ch, sigs);
    let stopper = NotifyStop {
        cancel: cancel.clone(),
        ch: ch.clone(),
    };
    if ctx.err().is_none() {
        let done = ctx.done();
        let watch = ch.clone();
        runtime::go(move || {
            crate::select! {
                sig = <-watch => {
                    let cause = sig.map(|signal| Cause::new(SignalReceived { signal }));
                    cancel.cancel(cause);
                }
                <-done => {}
            }
            // Like Go's, the signals stay caught (later ones find the channel full) until
            // `stop`: a context cancelled by a first Ctrl-C does not let a second one kill
            // the process mid-shutdown unless the program stops it.
        });
    } else {
        stop(&ch);
    }
    (ctx, stopper)
}

impl<T> From<&Chan<T>> for Sender<T> {
    fn from(c: &Chan<T>) -> Sender<T> {
        c.sender()
    }
}

impl<T> From<&Sender<T>> for Sender<T> {
    fn from(s: &Sender<T>) -> Sender<T> {
        s.clone()
    }
}
