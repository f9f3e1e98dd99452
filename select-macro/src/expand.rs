//! Expanding `select!` onto the chan crate's engine (`chan::__private::run`).
//!
//! For
//!
//! ```text
//! select! {
//!     v = <-a => BODY0,
//!     b <- x => BODY1,
//!     timeout(d) => BODY2,
//! }
//! ```
//!
//! the expansion is, in outline (`K` is the chan crate's path, `$crate` of the wrapper):
//!
//! ```text
//! {
//!     enum __GoroSelectArm<T0> { A0(T0), A1, Timeout }
//!     match {
//!         // Operands and values, once each, in source order (Go's rule).
//!         let op0 = &(a);  let nil0 = K::Chan::nil();
//!         let ch0 = K::__private::RecvOperand::recv_chan(op0, &nil0);   // None -> nil
//!         let op1 = &(b);  let val1 = x;  let nil1 = K::Chan::nil();
//!         let ch1 = K::__private::SendOperand::send_chan(op1, &nil1);
//!         let deadline = K::__private::deadline(d);
//!         let mut case0 = K::__private::recv_case(ch0);   // ch0 is opaque (no &Chan)
//!         let mut case1 = K::__private::send_case(ch1, val1);
//!         let cases: &mut [&mut dyn K::__private::Case] = &mut [&mut case0, &mut case1];
//!         let selected = K::__private::run(cases, false, deadline);
//!         let arm = match selected {
//!             K::Selected::Case(0) => __GoroSelectArm::A0(K::__private::received(&mut case0.out)),
//!             K::Selected::Case(1) => __GoroSelectArm::A1,
//!             K::Selected::Timeout => __GoroSelectArm::Timeout,
//!             _ => unreachable!(),
//!         };
//!         arm
//!     } {
//!         __GoroSelectArm::A0(v) => BODY0,
//!         __GoroSelectArm::A1 => BODY1,
//!         __GoroSelectArm::Timeout => BODY2,
//!     }
//! }
//! ```
//!
//! Why this shape:
//! - The bodies sit verbatim in the arms of a plain `match`, so `break`, `continue`,
//!   `return` and `?` act on the enclosing code and the arms' values unify as in `match`.
//! - Everything the select owns (case structs, unsent values, received values of discarding
//!   arms, temporaries such as `time::after(d)`'s receiver) lives in the scrutinee block and
//!   is dropped when it ends, before any body runs: a body may reassign or drop the
//!   channels (`ch = None` to disable an arm, the Go idiom) and nothing borrows them.
//! - The cases are locals and the slice handed to the engine is a stack array, so the
//!   expansion allocates nothing (the engine itself uses stack arrays up to 16 cases).
//! - Internal names have `Span::mixed_site()` hygiene, so they can neither capture nor be
//!   captured by the user's names; paths are absolute (`K::…`, `::core::…`), so a user's
//!   `type Result` or `struct Option` in scope changes nothing.

use crate::parse::{Arm, Input, Kind};
use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

/// An internal identifier, invisible to (and unable to see) the user's code.
fn hidden(name: &str, i: usize) -> Ident {
    format_ident!("__goro_select_{}{}", name, i, span = Span::mixed_site())
}

/// Like [`hidden`], but errors about it are reported at `at` (the user's operand).
fn hidden_at(name: &str, i: usize, at: Span) -> Ident {
    let span = Span::mixed_site().located_at(at);
    format_ident!("__goro_select_{}{}", name, i, span = span)
}

pub(crate) fn expand(input: Input) -> TokenStream {
    let Input { krate, arms } = input;
    let has_default = arms.iter().any(|a| matches!(a.kind, Kind::Default));
    let channel_arms = arms
        .iter()
        .filter(|a| matches!(a.kind, Kind::Recv { .. } | Kind::Send { .. }))
        .count();
    let has_timeout = arms.iter().any(|a| matches!(a.kind, Kind::Timeout { .. }));

    if channel_arms == 0 && !has_default && !has_timeout {
        // `select! {}`: Go's `select {}` blocks forever.
        return quote! {{
            #krate::__private::run(&mut [], false, ::core::option::Option::None);
            ::core::unreachable!("select! with no arms blocks forever")
        }};
    }

    let enum_name = Ident::new("__GoroSelectArm", Span::mixed_site());
    let deadline = Ident::new("__goro_select_deadline", Span::mixed_site());
    let cases = Ident::new("__goro_select_cases", Span::mixed_site());
    let selected = Ident::new("__goro_select_selected", Span::mixed_site());
    let arm_var = Ident::new("__goro_select_arm", Span::mixed_site());

    let mut generics = Vec::new(); // type parameters of the arm enum
    let mut variants = Vec::new(); // the arm enum's variants
    let mut setup = Vec::new(); // operand evaluation, in source order
    let mut case_decls = Vec::new(); // the case structs
    let mut case_refs = Vec::new(); // `&mut caseN` for the engine's slice
    let mut to_arm = Vec::new(); // engine result -> arm enum
    let mut user_arms = Vec::new(); // arm enum -> user body

    let mut index = 0usize; // the engine's case index
    for (n, Arm { kind, body, .. }) in arms.into_iter().enumerate() {
        let variant = format_ident!("A{}", n, span = Span::mixed_site());
        match kind {
            Kind::Recv { pat, chan } => {
                let (op, nil, ch, case) = (
                    hidden_at("op", n, chan.span()),
                    hidden("nil", n),
                    hidden("ch", n),
                    hidden("case", n),
                );
                // The trait call carries the operand's span, so "cannot be received from"
                // points at the operand, not at the whole macro.
                let resolve = quote_spanned! {chan.span()=>
                    #krate::__private::RecvOperand::recv_chan(#op, &#nil)
                };
                setup.push(quote! {
                    let #op = &(#chan);
                    let #nil = #krate::Chan::nil();
                    let #ch = #resolve;
                });
                case_decls.push(quote! {
                    let mut #case = #krate::__private::recv_case(#ch);
                });
                case_refs.push(quote! { &mut #case });
                let i = Literal::usize_unsuffixed(index);
                index += 1;
                match pat {
                    Some(pat) => {
                        let t = format_ident!("T{}", n, span = Span::mixed_site());
                        variants.push(quote! { #variant(#t) });
                        generics.push(t);
                        to_arm.push(quote! {
                            #krate::Selected::Case(#i) => #enum_name::#variant(
                                #krate::__private::received(&mut #case.out)
                            ),
                        });
                        user_arms.push(quote! { #enum_name::#variant(#pat) => #body, });
                    }
                    None => {
                        variants.push(quote! { #variant });
                        to_arm.push(quote! { #krate::Selected::Case(#i) => #enum_name::#variant, });
                        user_arms.push(quote! { #enum_name::#variant => #body, });
                    }
                }
            }
            Kind::Send { chan, value } => {
                let (op, val, nil, ch, case) = (
                    hidden_at("op", n, chan.span()),
                    hidden("val", n),
                    hidden("nil", n),
                    hidden("ch", n),
                    hidden("case", n),
                );
                let resolve = quote_spanned! {chan.span()=>
                    #krate::__private::SendOperand::send_chan(#op, &#nil)
                };
                setup.push(quote! {
                    let #op = &(#chan);
                    let #val = #value;
                    let #nil = #krate::Chan::nil();
                    let #ch = #resolve;
                });
                case_decls.push(quote! {
                    let mut #case = #krate::__private::send_case(#ch, #val);
                });
                case_refs.push(quote! { &mut #case });
                let i = Literal::usize_unsuffixed(index);
                index += 1;
                variants.push(quote! { #variant });
                to_arm.push(quote! { #krate::Selected::Case(#i) => #enum_name::#variant, });
                user_arms.push(quote! { #enum_name::#variant => #body, });
            }
            Kind::Timeout { duration } => {
                setup.push(quote! {
                    let #deadline = #krate::__private::deadline(#duration);
                });
                variants.push(quote! { #variant });
                to_arm.push(quote! { #krate::Selected::Timeout => #enum_name::#variant, });
                user_arms.push(quote! { #enum_name::#variant => #body, });
            }
            Kind::Default => {
                variants.push(quote! { #variant });
                to_arm.push(quote! { #krate::Selected::Default => #enum_name::#variant, });
                user_arms.push(quote! { #enum_name::#variant => #body, });
            }
        }
    }

    let deadline_arg = if has_timeout {
        quote! { #deadline }
    } else {
        quote! { ::core::option::Option::None }
    };

    quote! {{
        #[allow(non_camel_case_types, clippy::enum_variant_names)]
        enum #enum_name<#(#generics),*> { #(#variants),* }
        match {
            #(#setup)*
            #(#case_decls)*
            let #cases: &mut [&mut dyn #krate::__private::Case] = &mut [#(#case_refs),*];
            let #selected = #krate::__private::run(#cases, #has_default, #deadline_arg);
            #[allow(unreachable_patterns)]
            let #arm_var = match #selected {
                #(#to_arm)*
                _ => ::core::unreachable!("select!: the engine chose an arm this select! does not have"),
            };
            #arm_var
        } {
            #(#user_arms)*
        }
    }}
}
