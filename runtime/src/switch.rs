//! The context switch of a direct goroutine-to-goroutine park: save the callee-saved
//! registers on the running stack, load another stack's, continue there.
//!
//! Contexts are made by the `context` crate (`make_fcontext`: the frame a new goroutine
//! starts from) and switched by its `jump_fcontext`, except where a parking goroutine
//! switches straight to the next one ([`crate::directpark::park_direct`]), which uses [`jump`] below.
//! The frame layout is the crate's, so the two mix freely; the difference is how the switch
//! ends. `jump_fcontext` pops the saved return address into a register and jumps to it, which
//! leaves the return-stack buffer (the CPU's predictor for `ret`) one entry out of step with
//! the stack it lands on: every `ret` of the resumed goroutine back up its call chain then
//! mispredicts, and a goroutine resuming from a channel operation returns through six or
//! seven frames. [`jump`] ends with `ret`, so the predictor pops the entry that the outgoing
//! side's `call` pushed. Two goroutines that block and resume through the same code (a
//! ping-pong, a pipeline stage, a worker pool) return through the same call sites, so their
//! returns are predicted until their call chains diverge. Measured on this machine, one P:
//! an unbuffered-channel round trip 281 -> 201 ns, a park/unpark handoff 66 -> 53 ns.
//!
//! The switches to and from g0 keep `jump_fcontext`: g0 resumes at one place and its call
//! chain shares nothing with a goroutine's, so there a `ret` mispredicts where the indirect
//! jump is predicted (a gosched round trip measured 41 ns with it, 49-53 ns with [`jump`] on
//! either side).
//!
//! Like `jump_fcontext`, [`jump`] keeps each context's MXCSR and x87 control word (the ABI
//! makes them callee-saved), but loads them only where they differ from the outgoing
//! context's: `ldmxcsr` and `fldcw` are slow, partly serialising instructions, and nearly
//! every switch finds them equal.

use context::{Context, Transfer};

/// Switches to `to`, passing `data`; returns when something switches back here, with the
/// context to return to and its data word (`Context::resume`, with the predictor-friendly
/// ending of the module docs).
///
/// # Safety
/// `to` must be a context saved by a switch (or made by `make_fcontext`) that nothing else
/// resumes: it is consumed. The caller's own context travels in the returned [`Transfer`] of
/// whoever resumes `to`, which must keep it to come back.
#[inline(always)]
pub(crate) unsafe fn jump(to: Context, data: usize) -> Transfer {
    #[cfg(all(target_arch = "x86_64", not(windows)))]
    {
        // SAFETY: `Context` is `repr(C)` around one pointer (the saved stack pointer), the
        // argument `jump_ret` takes; per our contract it is a live saved context.
        unsafe { jump_ret(std::mem::transmute::<Context, *const u8>(to), data) }
    }
    #[cfg(not(all(target_arch = "x86_64", not(windows))))]
    {
        // SAFETY: per our contract.
        unsafe { to.resume(data) }
    }
}

/// The stack pointer a saved context resumes from: everything the suspended code still
/// needs lies at or above it (the saved registers first, then its frames).
pub(crate) fn saved_sp(ctx: &Context) -> usize {
    // SAFETY: `Context` is `repr(C)` around one pointer, the saved stack pointer (see `jump`);
    // reading it copies the pointer without consuming the context.
    unsafe { std::mem::transmute_copy::<Context, usize>(ctx) }
}

/// `jump_fcontext` on the System V x86-64 ABI, ending in `ret`. The saved frame, at the saved
/// stack pointer: MXCSR and the x87 control word (loaded only where they differ from the
/// outgoing context's), then R12, R13, R14, R15, RBX, RBP, and the address to continue at. Returns the
/// outgoing context (RAX) and `data` (RDX), which is also how a new context's entry function
/// receives them (RDI, RSI).
///
/// # Safety
/// As [`jump`].
#[cfg(all(target_arch = "x86_64", not(windows)))]
#[unsafe(naked)]
unsafe extern "C" fn jump_ret(to: *const u8, data: usize) -> Transfer {
    core::arch::naked_asm!(
        // Our return address is at [rsp]: the frame grows below it.
        "lea rsp, [rsp - 0x38]",
        "stmxcsr [rsp]",
        "fnstcw [rsp + 0x04]",
        "mov [rsp + 0x08], r12",
        "mov [rsp + 0x10], r13",
        "mov [rsp + 0x18], r14",
        "mov [rsp + 0x20], r15",
        "mov [rsp + 0x28], rbx",
        "mov [rsp + 0x30], rbp",
        // The outgoing context is this frame.
        "mov rax, rsp",
        "mov rsp, rdi",
        // Floating-point control state is callee-saved: each context keeps its own, as with
        // jump_fcontext, but reloading it is slow, so only where it differs.
        "mov ecx, [rax]",
        "cmp ecx, [rsp]",
        "je 2f",
        "ldmxcsr [rsp]",
        "2:",
        "mov cx, [rax + 0x04]",
        "cmp cx, [rsp + 0x04]",
        "je 3f",
        "fldcw [rsp + 0x04]",
        "3:",
        "mov r12, [rsp + 0x08]",
        "mov r13, [rsp + 0x10]",
        "mov r14, [rsp + 0x18]",
        "mov r15, [rsp + 0x20]",
        "mov rbx, [rsp + 0x28]",
        "mov rbp, [rsp + 0x30]",
        // Transfer { context, data }: returned in RAX:RDX, and passed in RDI:RSI to a new
        // context's entry function.
        "mov rdx, rsi",
        "mov rdi, rax",
        "lea rsp, [rsp + 0x38]",
        "ret",
    )
}

/// The coroutine switch ([`crate::coro`]): [`jump`] without the floating-point control state
/// and ending in an indirect jump instead of `ret`. Measured on an AMD EPYC (Zen 3), an
/// `iter::pull` item (two switches) took 20-25 ns with [`jump`]'s `ret` ending, 16 ns with
/// the indirect jump but the control state kept, 7-10 ns as here.
///
/// * The control state: `stmxcsr`/`fnstcw` are microcoded, and a consumer and its producer
///   run as one call chain, sharing that state as a caller and its callee do (the iter docs
///   say code that changes it restores it before switching).
/// * The ending: unlike a goroutine park, where both sides return through the same call
///   sites, a coroutine's two sides switch from different places (`next`, `yield`), so a
///   `ret` is always predicted to return to the side that called it, and mispredicts. The
///   indirect jump's target alternates between two places the branch predictor learns from
///   the history. (The return-stack buffer is then one entry out of step, which costs each
///   side one mispredicted return per item.)
///
/// The frame is [`jump`]'s (the control-state slots are left as they are), so it can start a
/// context made by `make_fcontext`; a context it saves must be resumed by it alone.
///
/// # Safety
/// As [`jump`]; and `to` must have been made by `make_fcontext` or saved by `jump_light`.
#[inline(always)]
pub(crate) unsafe fn jump_light(to: Context, data: usize) -> Transfer {
    #[cfg(all(target_arch = "x86_64", not(windows)))]
    {
        // SAFETY: as in `jump`: `Context` is one pointer, a live saved context per our contract.
        unsafe { jump_ret_light(std::mem::transmute::<Context, *const u8>(to), data) }
    }
    #[cfg(not(all(target_arch = "x86_64", not(windows))))]
    {
        // SAFETY: per our contract.
        unsafe { to.resume(data) }
    }
}

/// [`jump_ret`] without saving or loading MXCSR and the x87 control word, ending in `jmp`.
///
/// # Safety
/// As [`jump_light`].
#[cfg(all(target_arch = "x86_64", not(windows)))]
#[unsafe(naked)]
unsafe extern "C" fn jump_ret_light(to: *const u8, data: usize) -> Transfer {
    core::arch::naked_asm!(
        "lea rsp, [rsp - 0x38]",
        "mov [rsp + 0x08], r12",
        "mov [rsp + 0x10], r13",
        "mov [rsp + 0x18], r14",
        "mov [rsp + 0x20], r15",
        "mov [rsp + 0x28], rbx",
        "mov [rsp + 0x30], rbp",
        "mov rax, rsp",
        "mov rsp, rdi",
        "mov r12, [rsp + 0x08]",
        "mov r13, [rsp + 0x10]",
        "mov r14, [rsp + 0x18]",
        "mov r15, [rsp + 0x20]",
        "mov rbx, [rsp + 0x28]",
        "mov rbp, [rsp + 0x30]",
        "mov rdx, rsi",
        "mov rdi, rax",
        "lea rsp, [rsp + 0x38]",
        "pop r8",
        "jmp r8",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use context::stack::ProtectedFixedSizeStack;

    extern "C" fn echo(mut t: Transfer) -> ! {
        // Add one to every data word and switch back, forever.
        loop {
            // SAFETY: t.context is the test's context, suspended in `jump`.
            t = unsafe { jump(t.context, t.data + 1) };
        }
    }

    #[test]
    fn jump_passes_data_both_ways_and_keeps_callee_saved_registers() {
        let stack = ProtectedFixedSizeStack::new(64 * 1024).unwrap();
        // SAFETY: a fresh context on a stack that outlives it.
        let mut ctx = unsafe { Context::new(&stack, echo) };
        let mut acc = 0usize;
        for i in 0..1000usize {
            // Values live across the switch in callee-saved registers (or the stack).
            let keep = i.wrapping_mul(0x9E37_79B9);
            // SAFETY: `ctx` is the echo context, suspended in its `jump` (or fresh).
            let t = unsafe { jump(ctx, i) };
            assert_eq!(t.data, i + 1);
            assert_eq!(keep, i.wrapping_mul(0x9E37_79B9));
            acc += t.data;
            ctx = t.context;
        }
        assert_eq!(acc, (1..=1000).sum::<usize>());
    }

    /// MXCSR's flush-to-zero bit, which nothing in a Rust program sets by default.
    #[cfg(target_arch = "x86_64")]
    const FTZ: u32 = 0x8000;

    #[cfg(target_arch = "x86_64")]
    #[allow(deprecated)] // _mm_getcsr/_mm_setcsr: still the plain way to reach MXCSR.
    extern "C" fn ftz_echo(mut t: Transfer) -> ! {
        // SAFETY: SSE is baseline on x86-64; FTZ changes float results only, none are used.
        unsafe { std::arch::x86_64::_mm_setcsr(std::arch::x86_64::_mm_getcsr() | FTZ) };
        loop {
            // SAFETY: reading MXCSR has no precondition on x86-64.
            let csr = unsafe { std::arch::x86_64::_mm_getcsr() };
            // SAFETY: as in `echo`.
            t = unsafe { jump(t.context, usize::from(csr & FTZ != 0)) };
        }
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    #[allow(deprecated)]
    fn each_context_keeps_its_own_floating_point_control_state() {
        let stack = ProtectedFixedSizeStack::new(64 * 1024).unwrap();
        // SAFETY: a fresh context on a stack that outlives it.
        let mut ctx = unsafe { Context::new(&stack, ftz_echo) };
        for _ in 0..3 {
            // SAFETY: `ctx` is suspended in its `jump` (or fresh).
            let t = unsafe { jump(ctx, 0) };
            assert_eq!(t.data, 1, "the other context lost its FTZ bit");
            // SAFETY: reading MXCSR has no precondition on x86-64.
            let csr = unsafe { std::arch::x86_64::_mm_getcsr() };
            assert_eq!(csr & FTZ, 0, "FTZ leaked here");
            ctx = t.context;
        }
    }
}
