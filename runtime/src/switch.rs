//! The context switch: save the callee-saved registers on the running stack, load another
//! stack's, continue there. Every switch in the runtime is one of the functions below; the
//! frame they save, the frame [`make`] lays out for a new stack, and the unwind information
//! (CFI) that lets a debugger, a profiler or the goroutine dump ([`crate::unwind`]) walk
//! through them are all defined here, in one place.
//!
//! # The saved frame
//! A suspended context is one pointer: the stack pointer its switch saved, where the frame
//! below lies ([`frame`] names the offsets). On x86-64 (System V): MXCSR and the x87 control
//! word, then R12, R13, R14, R15, RBX, RBP and the address to continue at (0x40 bytes; the
//! layout Boost.Context uses, which this module replaces). On AArch64: D8-D15, X19-X28,
//! X29 (the frame pointer) and X30 (the address to continue at), 0xa0 bytes. Each switch
//! returns a [`Transfer`]: the context it came from, suspended, and a data word; a new
//! context's entry function receives the same pair as its argument.
//!
//! # Three switches, by how they end (x86-64)
//! * [`jump`] ends in `ret`. A goroutine that parks straight into another one
//!   ([`crate::directpark::park_direct`]) switches with it: `ret` pops the return-stack
//!   buffer (the CPU's predictor for returns) entry that the outgoing side's `call` pushed,
//!   and two goroutines that block and resume through the same code (a ping-pong, a pipeline
//!   stage, a worker pool) return through the same call sites, so the resumed goroutine's
//!   returns up its call chain (six or seven frames from a channel operation) are predicted.
//!   Measured on an Intel Xeon, one P: an unbuffered-channel round trip 281 -> 201 ns, a
//!   park/unpark handoff 66 -> 53 ns, against an indirect-jump ending.
//! * [`jump_g0`] ends in an indirect `jmp`: the switches to and from g0 (Go's `mcall` and
//!   `gogo`). g0 resumes at one place and its call chain shares nothing with a goroutine's,
//!   so there a `ret` mispredicts where the indirect jump is predicted (a gosched round trip
//!   measured 41 ns with it, 49-53 ns with `ret` on either side).
//! * [`jump_light`] ends in `jmp` and leaves the floating-point control state alone: the
//!   coroutine switch of `iter::pull` (see its docs for why and the figures).
//!
//! MXCSR and the x87 control word are callee-saved in the ABI, so [`jump`] and [`jump_g0`]
//! keep each context's own, but load them only where they differ from the outgoing context's:
//! `ldmxcsr` and `fldcw` are slow, partly serialising instructions, and nearly every switch
//! finds them equal. On AArch64 the three are one switch ending in `ret` (FPCR is not
//! callee-saved there; the endings were not measured on an ARM CPU).
//!
//! # Unwind information
//! Each switch carries CFI for every instruction: before the stack pointer moves, the
//! caller's frame as usual; from the save on, the saved frame (whose layout is the same on
//! both stacks, so the rules stay true across the load of the other stack pointer: at any
//! instruction they describe the context that is about to continue). A suspended context is
//! therefore a place an unwinder can start from: the instruction after the stack-pointer load
//! ([`resume_pc`]) with the saved stack pointer; [`crate::unwind`] starts every goroutine's
//! walk there, with the tables alone. A new stack's first frame returns into [`trampoline`],
//! which calls the entry function and whose CFI marks the return address undefined: the
//! outermost frame, where unwinders stop (a frame-pointer walk stops too: its saved frame
//! pointer is zero).

use std::ptr::NonNull;

/// A suspended context: the stack pointer its switch saved (see the module docs). Consumed by
/// the switch that resumes it.
#[repr(transparent)]
pub(crate) struct Context(NonNull<u8>);

// SAFETY: a Context is the address of a suspended stack's saved frame, usable by whoever holds
// it (every switch consumes it, so one holder resumes it once). Resuming it on another thread
// is how goroutines migrate between Ms: the frames on that stack reference nothing bound to
// the thread that suspended it (thread-locals are not held across a switch; see
// `g0::switch_to_g0`).
unsafe impl Send for Context {}

impl Context {
    /// The stack pointer this context resumes from: everything the suspended code still
    /// needs lies at or above it (the saved registers first, then its frames).
    pub(crate) fn saved_sp(&self) -> usize {
        self.0.as_ptr() as usize
    }
}

/// What a switch returns, and what a new context's entry function receives: the context that
/// switched here (now suspended) and its data word. Returned in RAX:RDX (X0:X1), passed in
/// RDI:RSI (X0:X1): the layout the switches rely on.
#[repr(C)]
pub(crate) struct Transfer {
    pub(crate) context: Context,
    pub(crate) data: usize,
}

/// A new context's first function: it receives the context that started it and the data word
/// of that switch, and never returns (it leaves its stack by a switch).
pub(crate) type Entry = extern "C" fn(Transfer) -> !;

/// The offsets, from the saved stack pointer, of the saved frame's slots that [`make`] fills
/// (the switches' assembly and CFI below are the rest of the layout: MXCSR and the x87
/// control word at 0x00, R12-R15 at 0x08-0x20, RBP at 0x30).
#[cfg(target_arch = "x86_64")]
mod frame {
    pub(super) const RBX: usize = 0x28;
    /// The address the context continues at.
    pub(super) const RET: usize = 0x38;
    /// The whole frame; the suspended code's stack pointer is the saved one plus this.
    pub(super) const SIZE: usize = 0x40;
}

/// As on x86-64 (the rest: D8-D15 at 0x00-0x38, X20-X28 at 0x48-0x88, X29 at 0x90).
#[cfg(target_arch = "aarch64")]
mod frame {
    pub(super) const X19: usize = 0x40;
    /// The link register: the address the context continues at.
    pub(super) const X30: usize = 0x98;
    /// The whole frame (a multiple of 16, as the stack pointer must stay).
    pub(super) const SIZE: usize = 0xa0;
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
compile_error!(
    "goro's context switch (runtime/src/switch.rs) is written for x86-64 and AArch64; \
     another architecture needs its own switch, frame and trampoline there"
);

/// Lays out a new context at the top of an unused stack: resuming it (with any of the
/// switches) calls `entry` with the resuming context and its data word, on this stack, with
/// the ABI's default floating-point control state.
///
/// # Safety
/// `top` must be the end of writable memory that nothing else uses, with room below it for
/// the saved frame and for everything `entry` will run (the stack); it stays in use until the
/// context's code switches away for good.
pub(crate) unsafe fn make(top: *mut u8, entry: Entry) -> Context {
    let top = top as usize & !15;
    let sp = top - frame::SIZE;
    let word = |off: usize| (sp + off) as *mut usize;
    // SAFETY: [sp, top) lies in the unused stack below `top` (our contract) and is 16-byte
    // aligned, so every slot written is in bounds and aligned.
    unsafe {
        std::ptr::write_bytes(sp as *mut u8, 0, frame::SIZE);
        #[cfg(target_arch = "x86_64")]
        {
            // The ABI's initial MXCSR (all exceptions masked, round to nearest) and x87
            // control word (64-bit precision, all exceptions masked).
            (sp as *mut u32).write(0x1F80);
            ((sp + 4) as *mut u16).write(0x037F);
            word(frame::RBX).write(entry as usize);
            word(frame::RET).write(trampoline as *const () as usize);
        }
        #[cfg(target_arch = "aarch64")]
        {
            word(frame::X19).write(entry as usize);
            word(frame::X30).write(trampoline as *const () as usize);
        }
    }
    // SAFETY: `sp` is below `top`, which is a valid (non-zero) address.
    Context(unsafe { NonNull::new_unchecked(sp as *mut u8) })
}

/// Switches to `to`, passing `data`; returns when something switches back here, with the
/// context that did and its data word. Ends in `ret` (see the module docs).
///
/// # Safety
/// `to` must be a context saved by a switch of this module or made by [`make`], that nothing
/// else resumes (it is consumed), on a stack that is still valid; whoever receives our own
/// context in its [`Transfer`] must keep it to come back, and everything our frames use must
/// stay valid until then.
#[inline(always)]
pub(crate) unsafe fn jump(to: Context, data: usize) -> Transfer {
    // SAFETY: `to` is a live suspended context that only we resume, and our caller keeps
    // what our frames need until it comes back (our contract, which is the switch's).
    unsafe { arch::jump_ret(to, data) }
}

/// [`jump`] ending in an indirect `jmp`: the switches between a goroutine and its M's g0.
///
/// # Safety
/// As [`jump`].
#[inline(always)]
pub(crate) unsafe fn jump_g0(to: Context, data: usize) -> Transfer {
    // SAFETY: `to` is a live suspended context that only we resume, and our caller keeps
    // what our frames need until it comes back (our contract, which is the switch's).
    unsafe { arch::jump_jmp(to, data) }
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
/// # Safety
/// As [`jump`]; and a context it saves must be resumed by it alone (the control-state slots
/// of its frame are left as they were).
#[inline(always)]
pub(crate) unsafe fn jump_light(to: Context, data: usize) -> Transfer {
    // SAFETY: `to` is a live suspended context that only we resume, and our caller keeps
    // what our frames need until it comes back (our contract, which is the switch's).
    unsafe { arch::jump_light(to, data) }
}

/// The address a suspended context continues at inside its switch, for an unwinder that
/// starts a walk from a saved stack pointer (see the module docs): the rules of the switch's
/// unwind information there describe the saved frame. Every switch saves the same frame, so
/// one place serves for contexts saved by any of them. The label is a hidden global symbol
/// (`goro_rt_switch_resume`): two copies of this crate in one binary would clash at link time,
/// which is the loud failure wanted (their runtimes could not share goroutines anyway).
#[cfg_attr(not(target_os = "linux"), allow(dead_code))] // The unwinder's platforms.
pub(crate) fn resume_pc() -> usize {
    // SAFETY: only the symbol's address is taken; it is a code label, never read as data.
    unsafe extern "C" {
        static goro_rt_switch_resume: u8;
    }
    (&raw const goro_rt_switch_resume) as usize
}

/// The return address of a new context's first frame: calls the entry function that
/// [`make`] left in the frame, with the [`Transfer`] the switch left in the argument
/// registers. Its unwind information marks the return address undefined (the outermost
/// frame) and the frame pointer it runs with is zero.
///
/// # Safety
/// Never called: only switched to, as [`make`] arranges.
#[cfg(target_arch = "x86_64")]
#[unsafe(naked)]
unsafe extern "C" fn trampoline() {
    core::arch::naked_asm!(
        ".cfi_startproc",
        ".cfi_undefined rip",
        // RSP is the stack's 16-byte aligned top: the call leaves the entry function the
        // ABI's alignment. RDI:RSI hold the Transfer, RBX the entry function.
        "call rbx",
        // The entry function never returns.
        "ud2",
        ".cfi_endproc",
    )
}

/// As on x86-64: the Transfer is in X0:X1, the entry function in X19.
///
/// # Safety
/// Never called: only switched to, as [`make`] arranges.
#[cfg(target_arch = "aarch64")]
#[unsafe(naked)]
unsafe extern "C" fn trampoline() {
    core::arch::naked_asm!(
        ".cfi_startproc",
        ".cfi_undefined x30",
        "blr x19",
        "brk #0",
        ".cfi_endproc",
    )
}

/// The switches, in assembly. Only the ending and the floating-point control state differ
/// between them, so one macro writes the three (x86-64).
#[cfg(target_arch = "x86_64")]
mod arch {
    use super::{Context, Transfer};

    /// Saves MXCSR and the x87 control word in the frame's first slot.
    macro_rules! fp_save {
        () => {
            "stmxcsr [rsp]\nfnstcw [rsp + 0x04]"
        };
    }

    /// Each context keeps its own control state, but reloading it is slow: only where it
    /// differs from the outgoing context's (RAX is the outgoing frame, RSP the incoming one).
    macro_rules! fp_load {
        () => {
            concat!(
                "mov ecx, [rax]\n",
                "cmp ecx, [rsp]\n",
                "je 2f\n",
                "ldmxcsr [rsp]\n",
                "2:\n",
                "mov cx, [rax + 0x04]\n",
                "cmp cx, [rsp + 0x04]\n",
                "je 3f\n",
                "fldcw [rsp + 0x04]\n",
                "3:"
            )
        };
    }

    /// One x86-64 switch: `$fp_save` and `$fp_load` keep the floating-point control state
    /// (or not), `$resume` may name the resume point, `$end` leaves (RSP then points at the
    /// return address, with the CFA at RSP + 8).
    macro_rules! switch {
        ($(#[$doc:meta])* $name:ident,
         fp_save: [$($fp_save:expr),*],
         resume: [$($resume:literal),*],
         fp_load: [$($fp_load:expr),*],
         end: [$($end:literal),*]) => {
            $(#[$doc])*
            ///
            /// # Safety
            /// As [`super::jump`].
            #[unsafe(naked)]
            pub(super) unsafe extern "C" fn $name(to: Context, data: usize) -> Transfer {
                core::arch::naked_asm!(
                    ".cfi_startproc",
                    // Our return address is at [rsp]: the frame grows below it.
                    "lea rsp, [rsp - 0x38]",
                    ".cfi_adjust_cfa_offset 0x38",
                    $($fp_save,)*
                    "mov [rsp + 0x08], r12",
                    "mov [rsp + 0x10], r13",
                    "mov [rsp + 0x18], r14",
                    "mov [rsp + 0x20], r15",
                    "mov [rsp + 0x28], rbx",
                    "mov [rsp + 0x30], rbp",
                    // From here to the reloads the rules describe a saved frame: ours, then,
                    // once RSP is the other one's, the incoming context's.
                    ".cfi_offset r12, -0x38",
                    ".cfi_offset r13, -0x30",
                    ".cfi_offset r14, -0x28",
                    ".cfi_offset r15, -0x20",
                    ".cfi_offset rbx, -0x18",
                    ".cfi_offset rbp, -0x10",
                    // The outgoing context is this frame.
                    "mov rax, rsp",
                    "mov rsp, rdi",
                    $($resume,)*
                    $($fp_load,)*
                    "mov r12, [rsp + 0x08]",
                    "mov r13, [rsp + 0x10]",
                    "mov r14, [rsp + 0x18]",
                    "mov r15, [rsp + 0x20]",
                    "mov rbx, [rsp + 0x28]",
                    "mov rbp, [rsp + 0x30]",
                    // Transfer { context, data }: returned in RAX:RDX, and passed in RDI:RSI
                    // to a new context's entry function (through the trampoline).
                    "mov rdx, rsi",
                    "mov rdi, rax",
                    "lea rsp, [rsp + 0x38]",
                    ".cfi_adjust_cfa_offset -0x38",
                    ".cfi_restore r12",
                    ".cfi_restore r13",
                    ".cfi_restore r14",
                    ".cfi_restore r15",
                    ".cfi_restore rbx",
                    ".cfi_restore rbp",
                    $($end,)*
                    ".cfi_endproc",
                )
            }
        };
    }

    switch!(
        /// Saves and loads the floating-point control state, ends in `ret`; the resume point
        /// ([`super::resume_pc`]) is in this one.
        jump_ret,
        fp_save: [fp_save!()],
        resume: [
            ".globl goro_rt_switch_resume",
            ".hidden goro_rt_switch_resume",
            "goro_rt_switch_resume:"
        ],
        fp_load: [fp_load!()],
        end: ["ret"]
    );

    switch!(
        /// As [`jump_ret`], ending in an indirect jump.
        jump_jmp,
        fp_save: [fp_save!()],
        resume: [],
        fp_load: [fp_load!()],
        end: [
            "pop r8",
            ".cfi_adjust_cfa_offset -8",
            ".cfi_register rip, r8",
            "jmp r8"
        ]
    );

    switch!(
        /// Without the floating-point control state, ending in an indirect jump.
        jump_light,
        fp_save: [],
        resume: [],
        fp_load: [],
        end: [
            "pop r8",
            ".cfi_adjust_cfa_offset -8",
            ".cfi_register rip, r8",
            "jmp r8"
        ]
    );
}

/// The AArch64 switch (AAPCS64: X19-X28, the frame pointer, the link register and the low
/// halves of V8-V15 are callee-saved). One switch serves for all three.
#[cfg(target_arch = "aarch64")]
mod arch {
    use super::{Context, Transfer};

    pub(super) use self::switch as jump_jmp;
    pub(super) use self::switch as jump_light;
    pub(super) use self::switch as jump_ret;

    /// Saves the frame of the module docs on this stack, loads `to`'s, returns into it.
    ///
    /// # Safety
    /// As [`super::jump`].
    #[unsafe(naked)]
    pub(super) unsafe extern "C" fn switch(to: Context, data: usize) -> Transfer {
        core::arch::naked_asm!(
            ".cfi_startproc",
            "sub sp, sp, #0xa0",
            ".cfi_def_cfa_offset 0xa0",
            "stp d8, d9, [sp, #0x00]",
            "stp d10, d11, [sp, #0x10]",
            "stp d12, d13, [sp, #0x20]",
            "stp d14, d15, [sp, #0x30]",
            "stp x19, x20, [sp, #0x40]",
            "stp x21, x22, [sp, #0x50]",
            "stp x23, x24, [sp, #0x60]",
            "stp x25, x26, [sp, #0x70]",
            "stp x27, x28, [sp, #0x80]",
            "stp x29, x30, [sp, #0x90]",
            ".cfi_offset d8, -0xa0",
            ".cfi_offset d9, -0x98",
            ".cfi_offset d10, -0x90",
            ".cfi_offset d11, -0x88",
            ".cfi_offset d12, -0x80",
            ".cfi_offset d13, -0x78",
            ".cfi_offset d14, -0x70",
            ".cfi_offset d15, -0x68",
            ".cfi_offset x19, -0x60",
            ".cfi_offset x20, -0x58",
            ".cfi_offset x21, -0x50",
            ".cfi_offset x22, -0x48",
            ".cfi_offset x23, -0x40",
            ".cfi_offset x24, -0x38",
            ".cfi_offset x25, -0x30",
            ".cfi_offset x26, -0x28",
            ".cfi_offset x27, -0x20",
            ".cfi_offset x28, -0x18",
            ".cfi_offset x29, -0x10",
            ".cfi_offset x30, -0x08",
            // The outgoing context is this frame.
            "mov x2, sp",
            "mov sp, x0",
            ".globl goro_rt_switch_resume",
            ".hidden goro_rt_switch_resume",
            "goro_rt_switch_resume:",
            "ldp d8, d9, [sp, #0x00]",
            "ldp d10, d11, [sp, #0x10]",
            "ldp d12, d13, [sp, #0x20]",
            "ldp d14, d15, [sp, #0x30]",
            "ldp x19, x20, [sp, #0x40]",
            "ldp x21, x22, [sp, #0x50]",
            "ldp x23, x24, [sp, #0x60]",
            "ldp x25, x26, [sp, #0x70]",
            "ldp x27, x28, [sp, #0x80]",
            "ldp x29, x30, [sp, #0x90]",
            "add sp, sp, #0xa0",
            ".cfi_def_cfa_offset 0",
            ".cfi_restore d8",
            ".cfi_restore d9",
            ".cfi_restore d10",
            ".cfi_restore d11",
            ".cfi_restore d12",
            ".cfi_restore d13",
            ".cfi_restore d14",
            ".cfi_restore d15",
            ".cfi_restore x19",
            ".cfi_restore x20",
            ".cfi_restore x21",
            ".cfi_restore x22",
            ".cfi_restore x23",
            ".cfi_restore x24",
            ".cfi_restore x25",
            ".cfi_restore x26",
            ".cfi_restore x27",
            ".cfi_restore x28",
            ".cfi_restore x29",
            ".cfi_restore x30",
            // Transfer { context, data } in X0:X1 (X1 still holds `data`).
            "mov x0, x2",
            "ret",
            ".cfi_endproc",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stack for a test context: heap memory, 16-byte aligned; returns it and its top.
    fn stack() -> (Vec<u128>, *mut u8) {
        let mut mem = vec![0u128; 64 * 1024 / 16];
        let top = mem.as_mut_ptr_range().end as *mut u8;
        (mem, top)
    }

    type Switch = unsafe fn(Context, usize) -> Transfer;

    /// Echo contexts, one per switch: add one to every data word and switch back, forever.
    extern "C" fn echo_ret(t: Transfer) -> ! {
        echo(t, jump)
    }
    extern "C" fn echo_g0(t: Transfer) -> ! {
        echo(t, jump_g0)
    }
    extern "C" fn echo_light(t: Transfer) -> ! {
        echo(t, jump_light)
    }

    fn echo(mut t: Transfer, switch: Switch) -> ! {
        loop {
            // SAFETY: t.context is the test's context, suspended in its switch.
            t = unsafe { switch(t.context, t.data + 1) };
        }
    }

    #[test]
    fn every_switch_passes_data_both_ways_and_keeps_callee_saved_registers() {
        let cases: [(Entry, Switch); 3] = [
            (echo_ret, jump),
            (echo_g0, jump_g0),
            (echo_light, jump_light),
        ];
        for (entry, switch) in cases {
            let (_mem, top) = stack();
            // SAFETY: a fresh context on a stack that outlives it.
            let mut ctx = unsafe { make(top, entry) };
            let mut acc = 0usize;
            for i in 0..1000usize {
                // Values live across the switch in callee-saved registers (or the stack).
                let keep = i.wrapping_mul(0x9E37_79B9);
                let f = std::hint::black_box(i as f64 * 0.5);
                // SAFETY: `ctx` is the echo context, suspended in its switch (or fresh).
                let t = unsafe { switch(ctx, i) };
                assert_eq!(t.data, i + 1);
                assert_eq!(keep, i.wrapping_mul(0x9E37_79B9));
                assert_eq!(f, i as f64 * 0.5);
                acc += t.data;
                ctx = t.context;
            }
            assert_eq!(acc, (1..=1000).sum::<usize>());
        }
    }

    /// The first switch into a new context finds its stack pointer at the ABI's alignment for
    /// a function entry, and the ABI's default floating-point control state.
    #[test]
    fn a_new_context_starts_aligned_with_the_default_control_state() {
        extern "C" fn probe(t: Transfer) -> ! {
            let local = 0u128;
            let aligned = (&raw const local as usize).is_multiple_of(16);
            #[cfg(target_arch = "x86_64")]
            let control = {
                let mut csr = 0u32;
                // SAFETY: stmxcsr writes four bytes to the address given.
                unsafe { core::arch::asm!("stmxcsr [{}]", in(reg) &raw mut csr) };
                csr == 0x1F80
            };
            #[cfg(not(target_arch = "x86_64"))]
            let control = true;
            let mut t = t;
            loop {
                // SAFETY: the test's context, suspended in its switch.
                t = unsafe { jump(t.context, usize::from(aligned) | usize::from(control) << 1) };
            }
        }
        let (_mem, top) = stack();
        // SAFETY: a fresh context on a stack that outlives it (an unaligned top is allowed).
        let ctx = unsafe { make(top.wrapping_sub(3), probe) };
        // SAFETY: `ctx` is fresh.
        let t = unsafe { jump(ctx, 0) };
        assert_eq!(
            t.data, 0b11,
            "alignment (bit 0) or control state (bit 1) wrong"
        );
    }

    /// MXCSR's flush-to-zero bit, which nothing in a Rust program sets by default.
    #[cfg(target_arch = "x86_64")]
    const FTZ: u32 = 0x8000;

    #[cfg(target_arch = "x86_64")]
    #[allow(deprecated)] // _mm_getcsr/_mm_setcsr: still the plain way to reach MXCSR.
    fn ftz_echo(mut t: Transfer, switch: Switch) -> ! {
        // SAFETY: SSE is baseline on x86-64; FTZ changes float results only, none are used.
        unsafe { std::arch::x86_64::_mm_setcsr(std::arch::x86_64::_mm_getcsr() | FTZ) };
        loop {
            // SAFETY: reading MXCSR has no precondition on x86-64.
            let csr = unsafe { std::arch::x86_64::_mm_getcsr() };
            // SAFETY: as in `echo`.
            t = unsafe { switch(t.context, usize::from(csr & FTZ != 0)) };
        }
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    #[allow(deprecated)]
    fn each_context_keeps_its_own_floating_point_control_state() {
        extern "C" fn ftz_ret(t: Transfer) -> ! {
            ftz_echo(t, jump)
        }
        extern "C" fn ftz_g0(t: Transfer) -> ! {
            ftz_echo(t, jump_g0)
        }
        let cases: [(Entry, Switch); 2] = [(ftz_ret, jump), (ftz_g0, jump_g0)];
        for (entry, switch) in cases {
            let (_mem, top) = stack();
            // SAFETY: a fresh context on a stack that outlives it.
            let mut ctx = unsafe { make(top, entry) };
            for _ in 0..3 {
                // SAFETY: `ctx` is suspended in its switch (or fresh).
                let t = unsafe { switch(ctx, 0) };
                assert_eq!(t.data, 1, "the other context lost its FTZ bit");
                // SAFETY: reading MXCSR has no precondition on x86-64.
                let csr = unsafe { std::arch::x86_64::_mm_getcsr() };
                assert_eq!(csr & FTZ, 0, "FTZ leaked here");
                ctx = t.context;
            }
        }
    }
}
