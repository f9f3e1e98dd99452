//! The proc macro behind goro's `select!` (Go's `select` statement). Use it as
//! `chan::select!` or `goro::select!`: those are `macro_rules!` wrappers that call
//! [`select_internal!`] with their `$crate` path first, so the expansion names the chan crate
//! correctly whether the caller depends on `goro-chan` or only on `goro`.
//!
//! The syntax, semantics and an example are documented on `chan::select!`. This crate holds
//! the parser ([`parse`](crate::parse), which also enforces the rules that span arms) and the
//! expansion ([`expand`](crate::expand), whose module docs show the generated code).

mod expand;
mod parse;

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
