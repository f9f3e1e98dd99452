//! Call stacks for the goroutine dump: walking a parked goroutine's frames from the context
//! its switch saved, and naming them (Go's `traceback` of a parked g, from `g.sched`).
//!
//! # Where a walk starts
//! A parked goroutine's registers are on its own stack, in the frame its switch saved at the
//! context's saved stack pointer. Every switch ([`crate::switch`]) saves the same frame and
//! carries unwind information that describes it from the instruction after the stack-pointer
//! load on ([`crate::switch::resume_pc`]), so a walk starts there, with RSP = the saved stack
//! pointer and nothing else known: the switch's own rules recover the callee-saved registers
//! and the return address into the code that parked, and from there on every frame is the
//! same step. Nothing in the walk knows the frame's layout; the switch's hot path is untouched
//! (CFI costs nothing at run time).
//!
//! # How it walks
//! With the binary's own unwind tables: `.eh_frame` (release builds keep no frame
//! pointers), found through `.eh_frame_hdr`'s binary-search table in each loaded object
//! (`dl_iterate_phdr`), evaluated by `gimli` for the CFA and the rules for the return address
//! and the callee-saved registers. A walk stops at the first return address with no unwind
//! information or an undefined return address (the switch's trampoline below `g_entry`), at any rule it does
//! not handle, at a CFA that does not move up the stack or leaves it, or after
//! [`MAX_FRAMES`] frames. Every word it reads is checked to lie inside the goroutine's live
//! stack (from the saved stack pointer to the top): a broken table can end a walk early,
//! never make it read elsewhere.
//!
//! # Naming the frames
//! `backtrace::resolve` (the DWARF line tables through `addr2line`, inlined calls included),
//! at `ip - 1` since every address walked is a return address. Then the dump's rule
//! ([`goroutine_frames`]): the frames from `g_entry` down (the runtime's entry and the
//! `catch_unwind` machinery around the goroutine's closure) are dropped, and so are the
//! runtime's frames above the parking call (the park protocol and the switch) but for the
//! outermost of them, the call that parked (`runtime::park::sleep`, `runtime::park::park`),
//! which stands where Go's dump shows `runtime.gopark`.

use std::collections::HashMap;
use std::ffi::c_void;

/// Frames walked per goroutine, at most (Go's dump prints 100, then "...additional frames
/// elided...").
pub(crate) const MAX_FRAMES: usize = 64;

/// A walked stack: the return addresses, innermost first.
pub(crate) struct Walk {
    pub(crate) ips: Vec<usize>,
    /// The walk stopped at [`MAX_FRAMES`].
    pub(crate) truncated: bool,
}

/// One named frame (an inlined call is a frame of its own).
#[derive(Clone, Debug)]
pub(crate) struct Frame {
    pub(crate) name: String,
    pub(crate) file: Option<String>,
    pub(crate) line: Option<u32>,
}

#[cfg(all(
    any(target_arch = "x86_64", target_arch = "aarch64"),
    target_os = "linux"
))]
mod imp {
    use super::{MAX_FRAMES, Walk};
    use gimli::{
        BaseAddresses, CfaRule, EhFrame, EhFrameHdr, EndianSlice, NativeEndian, ParsedEhFrameHdr,
        Register, RegisterRule, UnwindContext, UnwindSection,
    };
    use std::collections::HashMap;
    use std::ffi::c_void;

    type Slice = EndianSlice<'static, NativeEndian>;

    /// One loaded object's unwind tables.
    struct Module {
        /// Its executable segments, `[start, end)`.
        text: Vec<(usize, usize)>,
        hdr: ParsedEhFrameHdr<Slice>,
        eh_frame: EhFrame<Slice>,
        bases: BaseAddresses,
    }

    /// How to recover one register of the caller (a CFI rule, the kinds a walk follows).
    #[derive(Clone, Copy)]
    enum Rule {
        /// Unchanged.
        Same,
        /// Saved at CFA + n.
        At(isize),
        /// Is CFA + n.
        Cfa(isize),
        /// In another register.
        In(Register),
        /// Not recoverable (or a rule not followed: a DWARF expression).
        Lost,
    }

    /// The rules at one address: the CFA as a register plus an offset, the callee-saved
    /// registers' ([`CALLEE_SAVED`]) and the return address's.
    #[derive(Clone, Copy)]
    struct Rules {
        cfa: (Register, isize),
        regs: [Rule; CALLEE_SAVED.len()],
        ra: Rule,
    }

    /// The unwind tables of every loaded object, read once per dump, and the rules looked up
    /// so far.
    pub(crate) struct Unwinder {
        modules: Vec<Module>,
        ctx: Box<UnwindContext<usize>>,
        cache: HashMap<usize, Option<Rules>>,
    }

    /// What `dl_iterate_phdr`'s callback collects.
    struct Collect(Vec<Module>);

    /// `dl_iterate_phdr`'s callback: one loaded object.
    ///
    /// # Safety
    /// Called by `dl_iterate_phdr` only, with `data` the `Collect` passed to it.
    unsafe extern "C" fn each_object(
        info: *mut libc::dl_phdr_info,
        _size: libc::size_t,
        data: *mut c_void,
    ) -> libc::c_int {
        // SAFETY: dl_iterate_phdr passes a valid info for the duration of the call, and our
        // `data` (see `Unwinder::new`).
        let (info, out) = unsafe { (&*info, &mut *(data as *mut Collect)) };
        if info.dlpi_phdr.is_null() {
            return 0;
        }
        // SAFETY: dlpi_phdr points to dlpi_phnum program headers of a loaded object.
        let phdrs = unsafe { std::slice::from_raw_parts(info.dlpi_phdr, info.dlpi_phnum.into()) };
        let base = info.dlpi_addr as usize;
        let mut loads = Vec::new();
        let mut text = Vec::new();
        let mut hdr = None;
        for ph in phdrs {
            let start = base.wrapping_add(ph.p_vaddr as usize);
            let end = start.wrapping_add(ph.p_memsz as usize);
            match ph.p_type {
                libc::PT_LOAD => {
                    loads.push((start, end));
                    if ph.p_flags & libc::PF_X != 0 {
                        text.push((start, end));
                    }
                }
                libc::PT_GNU_EH_FRAME => hdr = Some((start, end - start)),
                _ => {}
            }
        }
        if let Some(m) = hdr.and_then(|(at, len)| module(at, len, &loads, text)) {
            out.0.push(m);
        }
        0
    }

    /// A module from its `.eh_frame_hdr` at `at`, `len` bytes, and its loaded segments.
    fn module(
        at: usize,
        len: usize,
        loads: &[(usize, usize)],
        text: Vec<(usize, usize)>,
    ) -> Option<Module> {
        let within = |a: usize| loads.iter().copied().find(|&(s, e)| s <= a && a < e);
        let (_, seg_end) = within(at)?;
        if at.checked_add(len)? > seg_end {
            return None;
        }
        // SAFETY: [at, at + len) lies in a loaded segment of an object that stays loaded for
        // the dump (the program and the libraries it links are never unloaded; an object
        // `dlclose`d during a dump is the one case not covered, as for std's backtraces).
        let hdr_bytes: &'static [u8] = unsafe { std::slice::from_raw_parts(at as *const u8, len) };
        let bases = BaseAddresses::default().set_eh_frame_hdr(at as u64);
        let hdr = EhFrameHdr::new(hdr_bytes, NativeEndian)
            .parse(&bases, 8)
            .ok()?;
        let eh_at = usize::try_from(hdr.eh_frame_ptr().direct().ok()?).ok()?;
        // `.eh_frame`'s length is not in the header: up to the end of its segment (a table
        // lookup reads one entry at an offset the header gives, never past its end).
        let (_, eh_end) = within(eh_at)?;
        // SAFETY: [eh_at, eh_end) lies in a loaded segment (`within` found it) of an object
        // that stays loaded for the dump, as for the header above.
        let eh_bytes: &'static [u8] =
            unsafe { std::slice::from_raw_parts(eh_at as *const u8, eh_end - eh_at) };
        let mut eh_frame = EhFrame::new(eh_bytes, NativeEndian);
        eh_frame.set_address_size(8);
        Some(Module {
            text,
            hdr,
            eh_frame,
            bases: bases.set_eh_frame(eh_at as u64),
        })
    }

    /// The registers a walk tracks, by DWARF number: the stack pointer, the return address
    /// and the callee-saved registers, which are all a frame's caller can rely on.
    #[cfg(target_arch = "x86_64")]
    mod dwarf {
        use gimli::{Register, X86_64};
        pub(super) const SP: Register = X86_64::RSP;
        pub(super) const RA: Register = X86_64::RA;
        pub(super) const CALLEE_SAVED: [Register; 6] = [
            X86_64::RBX,
            X86_64::RBP,
            X86_64::R12,
            X86_64::R13,
            X86_64::R14,
            X86_64::R15,
        ];
        /// One past the highest number above.
        pub(super) const COUNT: usize = 17;
    }

    /// As on x86-64: X19-X28 and the frame pointer X29 (the low halves of V8-V15 are
    /// callee-saved too, but no code address is computed from them).
    #[cfg(target_arch = "aarch64")]
    mod dwarf {
        use gimli::{AArch64, Register};
        pub(super) const SP: Register = AArch64::SP;
        pub(super) const RA: Register = AArch64::X30;
        pub(super) const CALLEE_SAVED: [Register; 11] = [
            AArch64::X19,
            AArch64::X20,
            AArch64::X21,
            AArch64::X22,
            AArch64::X23,
            AArch64::X24,
            AArch64::X25,
            AArch64::X26,
            AArch64::X27,
            AArch64::X28,
            AArch64::X29,
        ];
        pub(super) const COUNT: usize = 32;
    }

    use dwarf::{CALLEE_SAVED, RA, SP};

    /// The registers a walk tracks, by DWARF number; `None`: not recoverable in this frame.
    type Regs = [Option<usize>; dwarf::COUNT];

    impl Unwinder {
        pub(crate) fn new() -> Unwinder {
            let mut c = Collect(Vec::new());
            // SAFETY: the callback matches dl_iterate_phdr's contract and `c` outlives the
            // call.
            unsafe { libc::dl_iterate_phdr(Some(each_object), &mut c as *mut Collect as *mut _) };
            Unwinder {
                modules: c.0,
                ctx: Box::new(UnwindContext::new()),
                cache: HashMap::new(),
            }
        }

        /// Walks the frames of a context saved by a switch at `sp`, on a stack whose live
        /// part is `[sp, top)`.
        ///
        /// # Safety
        /// `[sp, top)` must be readable for the whole call and `sp` a context saved by
        /// a switch of [`crate::switch`] whose code does not resume meanwhile (the parked
        /// goroutine is owned by the caller). Its words may hold anything: a walk that meets
        /// garbage stops; every read is checked to lie in `[sp, top)`.
        pub(crate) unsafe fn walk_saved(&mut self, sp: usize, top: usize) -> Walk {
            let read = |a: usize| -> Option<usize> {
                if a < sp || !a.is_multiple_of(8) || a.checked_add(8)? > top {
                    return None;
                }
                // SAFETY: [a, a + 8) lies in [sp, top), readable per our contract, and is
                // aligned. Volatile: other threads may write the goroutine's live frames
                // (never the saved-register slots read here), so nothing is assumed of it.
                Some(unsafe { std::ptr::read_volatile(a as *const usize) })
            };
            let mut walk = Walk {
                ips: Vec::new(),
                truncated: false,
            };
            // The suspended code is inside its switch, at the resume point, with the saved
            // stack pointer: the switch's own rules there recover the frame it saved.
            let mut regs: Regs = [None; dwarf::COUNT];
            regs[SP.0 as usize] = Some(sp);
            let Some(mut regs) = self.step(&regs, crate::switch::resume_pc(), top, &read) else {
                return walk;
            };
            while let Some(ip) = regs[RA.0 as usize].filter(|&ip| ip > 1) {
                if walk.ips.len() == MAX_FRAMES {
                    walk.truncated = true;
                    break;
                }
                walk.ips.push(ip);
                // The return address is after the call: look up the call instruction.
                match self.step(&regs, ip - 1, top, &read) {
                    Some(next) => regs = next,
                    None => break,
                }
            }
            walk
        }

        /// The unwind rules at `pc`, evaluated once per dump (goroutines park at few
        /// places). None: no unwind information, or rules a walk does not follow.
        fn rules(&mut self, pc: usize) -> Option<Rules> {
            if let Some(r) = self.cache.get(&pc) {
                return *r;
            }
            let r = self.evaluate(pc);
            self.cache.insert(pc, r);
            r
        }

        fn evaluate(&mut self, pc: usize) -> Option<Rules> {
            let m = self
                .modules
                .iter()
                .find(|m| m.text.iter().any(|&(s, e)| s <= pc && pc < e))?;
            let row = m
                .hdr
                .table()?
                .unwind_info_for_address(
                    &m.eh_frame,
                    &m.bases,
                    &mut self.ctx,
                    pc as u64,
                    EhFrame::cie_from_offset,
                )
                .ok()?;
            let cfa = match *row.cfa() {
                CfaRule::RegisterAndOffset { register, offset } => {
                    (register, isize::try_from(offset).ok()?)
                }
                CfaRule::Expression(_) => return None,
            };
            let rule = |r: Register| -> Rule {
                match row.register(r) {
                    None | Some(RegisterRule::SameValue) => Rule::Same,
                    Some(RegisterRule::Offset(n)) => {
                        isize::try_from(n).map_or(Rule::Lost, Rule::At)
                    }
                    Some(RegisterRule::ValOffset(n)) => {
                        isize::try_from(n).map_or(Rule::Lost, Rule::Cfa)
                    }
                    Some(RegisterRule::Register(from)) => Rule::In(from),
                    Some(_) => Rule::Lost,
                }
            };
            let regs = CALLEE_SAVED.map(rule);
            // The return address has a rule in every frame; none means the end.
            let ra = match row.register(RA) {
                Some(_) => rule(RA),
                None => Rule::Lost,
            };
            Some(Rules { cfa, regs, ra })
        }

        /// The caller's registers, from the frame of the code at `pc` with registers `regs`.
        fn step(
            &mut self,
            regs: &Regs,
            pc: usize,
            top: usize,
            read: &impl Fn(usize) -> Option<usize>,
        ) -> Option<Regs> {
            let get = |r: Register| regs.get(r.0 as usize).copied().flatten();
            let rules = self.rules(pc)?;
            let cfa = get(rules.cfa.0)?.checked_add_signed(rules.cfa.1)?;
            // The caller's frame lies above this one, inside the stack.
            if cfa <= get(SP)? || cfa > top {
                return None;
            }
            let value = |r: Register, rule: Rule| -> Option<usize> {
                match rule {
                    Rule::Same => get(r),
                    Rule::At(n) => read(cfa.checked_add_signed(n)?),
                    Rule::Cfa(n) => cfa.checked_add_signed(n),
                    Rule::In(from) => get(from),
                    Rule::Lost => None,
                }
            };
            let mut next: Regs = [None; dwarf::COUNT];
            for (i, r) in CALLEE_SAVED.into_iter().enumerate() {
                next[r.0 as usize] = value(r, rules.regs[i]);
            }
            next[RA.0 as usize] = value(RA, rules.ra);
            next[SP.0 as usize] = Some(cfa);
            Some(next)
        }
    }
}

#[cfg(not(all(
    any(target_arch = "x86_64", target_arch = "aarch64"),
    target_os = "linux"
)))]
mod imp {
    use super::Walk;

    /// No unwinder on this target: stacks are not shown.
    pub(crate) struct Unwinder;

    impl Unwinder {
        pub(crate) fn new() -> Unwinder {
            Unwinder
        }

        /// # Safety
        /// None needed here (nothing is read).
        pub(crate) unsafe fn walk_saved(&mut self, _sp: usize, _top: usize) -> Walk {
            Walk {
                ips: Vec::new(),
                truncated: false,
            }
        }
    }
}

pub(crate) use imp::Unwinder;

/// The calling thread's own frames, innermost first (for the goroutine taking the dump).
pub(crate) fn walk_current() -> Walk {
    let mut walk = Walk {
        ips: Vec::new(),
        truncated: false,
    };
    backtrace::trace(|f| {
        if walk.ips.len() == MAX_FRAMES {
            walk.truncated = true;
            return false;
        }
        walk.ips.push(f.ip() as usize);
        true
    });
    walk
}

/// Names return addresses and renders stacks, caching both for the dump (many goroutines
/// park at one place, with one call chain).
#[derive(Default)]
pub(crate) struct Symbolizer {
    cache: HashMap<usize, Vec<Frame>>,
    stacks: HashMap<Vec<usize>, String>,
}

impl Symbolizer {
    /// `walk` as the dump shows it: per frame `    function` then `        file:line`
    /// ([`goroutine_frames`]'s frames), and a last line if the walk was cut short.
    pub(crate) fn render(&mut self, walk: &Walk) -> &str {
        if !self.stacks.contains_key(&walk.ips) {
            use std::fmt::Write;
            let raw: Vec<Frame> = walk
                .ips
                .iter()
                .flat_map(|&ip| self.frames(ip).to_vec())
                .collect();
            let mut out = String::new();
            for f in goroutine_frames(raw) {
                let _ = writeln!(out, "    {}", f.name);
                match (&f.file, f.line) {
                    (Some(file), Some(line)) => {
                        let _ = writeln!(out, "        {file}:{line}");
                    }
                    (Some(file), None) => {
                        let _ = writeln!(out, "        {file}");
                    }
                    (None, _) => {}
                }
            }
            if walk.truncated {
                out.push_str("    ...additional frames elided...\n");
            }
            self.stacks.insert(walk.ips.clone(), out);
        }
        &self.stacks[&walk.ips]
    }

    /// The frames of the return address `ip` (several where calls were inlined), innermost
    /// first.
    fn frames(&mut self, ip: usize) -> &[Frame] {
        self.cache.entry(ip).or_insert_with(|| {
            let mut out = Vec::new();
            // In the call instruction, not after it (which may be another line, or function).
            backtrace::resolve(ip.wrapping_sub(1) as *mut c_void, |s| {
                out.push(Frame {
                    name: s
                        .name()
                        .map_or_else(|| format!("{ip:#x}"), |n| format!("{n:#}")),
                    file: s.filename().map(|p| p.display().to_string()),
                    line: s.lineno(),
                });
            });
            if out.is_empty() {
                out.push(Frame {
                    name: format!("{ip:#x}"),
                    file: None,
                    line: None,
                });
            }
            out
        })
    }
}

/// Where the runtime's sources are, as its debug info names them. Frames are told by file
/// first: in a release build with `debug = "line-tables-only"` the debug info names a
/// function by its bare name (`park`, `g_entry<F>`), with no module path. Frames without a
/// file (no debug info) are told by their symbol's path.
const RUNTIME_SRC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/");

fn file_is(f: &Frame, rel: &str) -> bool {
    f.file
        .as_deref()
        .and_then(|p| p.strip_prefix(RUNTIME_SRC))
        .is_some_and(|p| p == rel)
}

fn name_starts(f: &Frame, prefixes: &[&str]) -> bool {
    let name = f.name.strip_prefix('<').unwrap_or(&f.name);
    prefixes.iter().any(|p| name.starts_with(p))
}

/// The runtime's own code (the switch included: it is `runtime::switch`).
fn is_runtime(f: &Frame) -> bool {
    match f.file.as_deref() {
        Some(p) => p.starts_with(RUNTIME_SRC),
        None => name_starts(f, &["runtime::"]),
    }
}

/// The dump itself (for the goroutine taking it; its unwinder's frames come before).
fn is_dump(f: &Frame) -> bool {
    match f.file {
        Some(_) => file_is(f, "dump.rs"),
        None => name_starts(f, &["runtime::dump::"]),
    }
}

/// Where every goroutine starts (`spawn::g_entry`): the frames from it down are not the
/// goroutine's.
fn is_entry(f: &Frame) -> bool {
    match f.file {
        Some(_) => file_is(f, "spawn.rs") && f.name.contains("g_entry"),
        None => name_starts(f, &["runtime::spawn::g_entry"]),
    }
}

/// Between `g_entry` and the goroutine's closure: `catch_unwind`'s machinery, the closure
/// call shims (the standard library's, whose debug info names files under `/rustc/`) and
/// `spawn`'s wrapper around the user's closure.
fn is_entry_glue(f: &Frame) -> bool {
    is_runtime(f)
        || match f.file.as_deref() {
            Some(p) => p.starts_with("/rustc/"),
            None => name_starts(f, &["std::", "core::", "alloc::", "__rust_try"]),
        }
}

/// The dump's rule: a goroutine's frames as it shows them, from named raw frames
/// (innermost first).
///
/// * Below: everything from `g_entry` down, and the glue just above it (`catch_unwind`,
///   `FnOnce::call_once`, `spawn`'s closure), is dropped. A walk that never met `g_entry`
///   (it stopped early) keeps its bottom.
/// * Above: the runtime's frames (its own sources, and the switch's `Context::resume`) are
///   dropped up to the first frame of other code, but for the outermost of them: the call
///   that parked, as Go's dump shows `runtime.gopark`. For the goroutine taking the dump, the
///   frames before the dump's own (the unwinder's) are dropped too.
pub(crate) fn goroutine_frames(raw: Vec<Frame>) -> Vec<Frame> {
    let mut frames = raw;
    let entered = frames.iter().position(is_entry);
    if let Some(i) = entered {
        frames.truncate(i);
    }
    if let Some(i) = frames.iter().rposition(is_dump) {
        frames.drain(..i);
    }
    let inner = frames.iter().take_while(|f| is_runtime(f)).count();
    if inner > 1 {
        frames.drain(..inner - 1);
    }
    if entered.is_some() {
        while frames.len() > 1 && frames.last().is_some_and(is_entry_glue) {
            frames.pop();
        }
    }
    frames
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A frame with no debug info: told by its symbol's path.
    fn f(name: &str) -> Frame {
        Frame {
            name: name.to_string(),
            file: None,
            line: None,
        }
    }

    /// A frame with line tables only: a bare name and a file.
    fn at(name: &str, file: &str) -> Frame {
        Frame {
            name: name.to_string(),
            file: Some(file.replace("$RT/", RUNTIME_SRC)),
            line: Some(1),
        }
    }

    fn names(v: Vec<Frame>) -> Vec<String> {
        v.into_iter().map(|f| f.name).collect()
    }

    #[test]
    fn the_rule_keeps_the_parking_call_and_the_goroutines_own_frames() {
        let raw = vec![
            f("runtime::m::park_direct"),
            f("runtime::park::park_inner"),
            f("runtime::park::sleep"),
            f("user::f"),
            f("user::g"),
            f("user::main::{{closure}}"),
            f("runtime::spawn::spawn::{{closure}}"),
            f("core::ops::function::FnOnce::call_once"),
            f("std::panicking::try"),
            f("__rust_try"),
            f("runtime::spawn::g_entry"),
            f("0x1234"),
        ];
        assert_eq!(
            names(goroutine_frames(raw)),
            [
                "runtime::park::sleep",
                "user::f",
                "user::g",
                "user::main::{{closure}}"
            ]
        );
    }

    #[test]
    fn the_rule_tells_frames_by_file_where_names_are_bare() {
        let raw = vec![
            at("jump_g0", "$RT/switch.rs"),
            at("switch_to_g0", "$RT/g0.rs"),
            at("park", "$RT/park.rs"),
            at("f", "/app/src/main.rs"),
            at("{closure#0}", "/app/src/main.rs"),
            at(
                "call_once<u64>",
                "/rustc/abc/library/core/src/panic/unwind_safe.rs",
            ),
            at("{closure#0}<F>", "$RT/spawn.rs"),
            at("g_entry<F>", "$RT/spawn.rs"),
            at("trampoline", "$RT/switch.rs"),
        ];
        assert_eq!(names(goroutine_frames(raw)), ["park", "f", "{closure#0}"]);
        let mine = vec![
            at("trace<F>", "/c/backtrace-0.3.77/src/backtrace/mod.rs"),
            at("walk_current", "$RT/unwind.rs"),
            at("stack_dump", "$RT/dump.rs"),
            at("caller", "/app/src/main.rs"),
        ];
        assert_eq!(names(goroutine_frames(mine)), ["stack_dump", "caller"]);
    }

    #[test]
    fn a_walk_that_stopped_early_keeps_its_bottom() {
        let raw = vec![f("runtime::switch::jump_g0"), f("user::f"), f("std::x")];
        assert_eq!(
            names(goroutine_frames(raw)),
            ["runtime::switch::jump_g0", "user::f", "std::x"]
        );
    }
}
