//! goro's proc macros: the one behind `select!` (Go's `select` statement), and the
//! `#[goro::main]` / `#[goro::test]` attributes (documented where the `goro` crate
//! re-exports them; [`attr`](crate::attr)'s module docs show their expansion).
//!
//! `select!`: use it as
//! `chan::select!` or `goro::select!`: those are `macro_rules!` wrappers that call
//! [`select_internal!`] with their `$crate` path first, so the expansion names the chan crate
//! correctly whether the caller depends on `goro-chan` or only on `goro`.
//!
//! The syntax, semantics and an example are documented on `chan::select!`. This crate holds
//! the parser ([`parse`](crate::parse), which also enforces the rules that span arms) and the
//! expansion ([`expand`](crate::expand), whose module docs show the generated code).

mod attr;
mod expand;
mod parse;
/// Sizes and durations: the runtime's own grammar (one file, compiled by both crates).
#[path = "../../runtime/src/units.rs"]
mod units;

use proc_macro::TokenStream;

/// Implementation detail of `chan::select!` / `goro::select!`: takes the chan crate's path,
/// a `;`, then the select arms. Do not call it directly.
#[doc(hidden)]
#[proc_macro]
pub fn select_internal(input: TokenStream) -> TokenStream {
    match syn::parse::<parse::Input>(input) {
        Ok(input) => expand::expand(input).into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// Runs `fn main` as goro's main goroutine, with runtime options. Documented (with examples)
/// as `goro::main`; use it through the `goro` crate, as `#[goro::main]`.
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    attr::expand(attr::Kind::Main, args.into(), item.into()).into()
}

/// Runs a test as a goroutine under a watchdog. Documented (with examples) as `goro::test`;
/// use it through the `goro` crate, as `#[goro::test]`.
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    attr::expand(attr::Kind::Test, args.into(), item.into()).into()
}
