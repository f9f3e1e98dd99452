//! `#[goro::main]` and `#[goro::test]`: option parsing (values checked here, at compile
//! time, with the runtime's own grammar) and expansion.
//!
//! ```text
//! #[goro::main(gomaxprocs = 4, stack_size = "1m")]
//! fn main() -> R { body }
//! // becomes
//! fn main() -> R {
//!     ::goro::__private::main(
//!         ::goro::__private::MainOptions { gomaxprocs: Some(4), stack_size: Some(1048576) },
//!         move || -> R { body },
//!     )
//! }
//!
//! #[goro::test(timeout = "10s", gomaxprocs = 2)]
//! fn name() -> R { body }
//! // becomes
//! #[::core::prelude::v1::test]
//! fn name() -> R {
//!     ::goro::__private::test(
//!         ::goro::__private::TestOptions {
//!             name: concat!(module_path!(), "::", "name"),
//!             timeout: Some(Duration::new(10, 0)),
//!             gomaxprocs: Some(2),
//!         },
//!         move || -> R { body },
//!     )
//! }
//! ```

use crate::units::{parse_duration, parse_size};
use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Error, ItemFn, Lit, ReturnType};

#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Kind {
    Main,
    Test,
}

impl Kind {
    fn attr(self) -> &'static str {
        match self {
            Kind::Main => "#[goro::main]",
            Kind::Test => "#[goro::test]",
        }
    }

    fn options(self) -> &'static str {
        match self {
            Kind::Main => "`gomaxprocs = N` and `stack_size = \"1m\"`",
            Kind::Test => "`timeout = \"10s\"` and `gomaxprocs = N`",
        }
    }
}

#[derive(Default)]
struct Options {
    gomaxprocs: Option<usize>,
    stack_size: Option<usize>,
    timeout: Option<std::time::Duration>,
}

/// A positive integer literal.
fn positive(lit: &Lit, what: &str) -> syn::Result<usize> {
    match lit {
        Lit::Int(i) => match i.base10_parse::<usize>() {
            Ok(0) => Err(Error::new(i.span(), format!("{what} must be at least 1"))),
            Ok(n) => Ok(n),
            Err(e) => Err(e),
        },
        _ => Err(Error::new(
            lit.span(),
            format!("{what} takes an integer literal, e.g. `{what} = 4`"),
        )),
    }
}

fn parse_options(kind: Kind, args: TokenStream) -> syn::Result<Options> {
    let mut opts = Options::default();
    let parser = syn::meta::parser(|meta| {
        let name = meta
            .path
            .get_ident()
            .map(|i| i.to_string())
            .unwrap_or_default();
        let duplicate = |set: bool| {
            if set {
                Err(meta.error(format!("`{name}` is given twice")))
            } else {
                Ok(())
            }
        };
        match (kind, name.as_str()) {
            (_, "gomaxprocs") => {
                duplicate(opts.gomaxprocs.is_some())?;
                let lit: Lit = meta.value()?.parse()?;
                opts.gomaxprocs = Some(positive(&lit, "gomaxprocs")?);
            }
            (Kind::Main, "stack_size") => {
                duplicate(opts.stack_size.is_some())?;
                let lit: Lit = meta.value()?.parse()?;
                let n = match &lit {
                    Lit::Str(s) => parse_size(&s.value()).ok_or_else(|| {
                        Error::new(
                            s.span(),
                            format!(
                                "{:?} is not a size: write bytes or a k/m/g suffix, e.g. \
                                 \"512k\", \"1m\", \"1MiB\"",
                                s.value()
                            ),
                        )
                    })?,
                    _ => positive(&lit, "stack_size")?,
                };
                if n == 0 {
                    return Err(Error::new(lit.span(), "stack_size must be at least 1"));
                }
                opts.stack_size = Some(n);
            }
            (Kind::Test, "stack_size") => {
                return Err(meta.error(
                    "#[goro::test] cannot set the stack size: it is fixed when the runtime \
                     starts, and the tests of a test binary share one runtime; run the tests \
                     with GORO_STACK_SIZE set instead",
                ));
            }
            (Kind::Test, "timeout") => {
                duplicate(opts.timeout.is_some())?;
                let lit: Lit = meta.value()?.parse()?;
                let Lit::Str(s) = &lit else {
                    return Err(Error::new(
                        lit.span(),
                        "timeout takes a duration string, e.g. `timeout = \"10s\"`",
                    ));
                };
                opts.timeout = Some(parse_duration(&s.value()).ok_or_else(|| {
                    Error::new(
                        s.span(),
                        format!(
                            "{:?} is not a duration: write it as Go does, e.g. \"500ms\", \
                             \"10s\", \"1m30s\" (\"0\" for no timeout)",
                            s.value()
                        ),
                    )
                })?);
            }
            _ => {
                return Err(meta.error(format!(
                    "unknown option `{}`: {} takes {}",
                    meta.path.to_token_stream(),
                    kind.attr(),
                    kind.options()
                )));
            }
        }
        Ok(())
    });
    syn::parse::Parser::parse2(parser, args)?;
    Ok(opts)
}

/// The checks both attributes make on the function itself.
fn check_fn(kind: Kind, f: &ItemFn) -> syn::Result<()> {
    let sig = &f.sig;
    if let Some(a) = &sig.asyncness {
        return Err(Error::new(
            a.span(),
            format!(
                "{} takes a plain `fn`, not an `async fn`: a goroutine is a thread of control \
                 that blocks (channels, locks and I/O park it), so there is nothing to await; \
                 remove `async`",
                kind.attr()
            ),
        ));
    }
    if let Some(c) = &sig.constness {
        return Err(Error::new(
            c.span(),
            format!("{} cannot be a `const fn`", kind.attr()),
        ));
    }
    if let Some(u) = &sig.unsafety {
        return Err(Error::new(
            u.span(),
            format!("{} cannot be an `unsafe fn`", kind.attr()),
        ));
    }
    if let Some(abi) = &sig.abi {
        return Err(Error::new(
            abi.span(),
            format!("{} cannot be an `extern fn`", kind.attr()),
        ));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        return Err(Error::new(
            sig.generics.span(),
            format!("{} cannot be generic", kind.attr()),
        ));
    }
    if !sig.inputs.is_empty() || sig.variadic.is_some() {
        return Err(Error::new(
            sig.inputs.span(),
            format!(
                "{} takes a function without arguments (Go's `func main()`{})",
                kind.attr(),
                if kind == Kind::Test {
                    "; a test gets no `*testing.T`: it fails by panicking or returning `Err`"
                } else {
                    ""
                }
            ),
        ));
    }
    if kind == Kind::Test
        && let Some(a) = f.attrs.iter().find(|a| a.path().is_ident("test"))
    {
        return Err(Error::new(
            a.path().span(),
            "#[goro::test] already makes this function a #[test]: remove this attribute",
        ));
    }
    Ok(())
}

fn option_tokens<T: ToTokens>(v: Option<T>) -> TokenStream {
    match v {
        Some(v) => quote!(::core::option::Option::Some(#v)),
        None => quote!(::core::option::Option::None),
    }
}

pub(crate) fn expand(kind: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    let f: ItemFn = match syn::parse2(item) {
        Ok(f) => f,
        Err(e) => {
            return Error::new(
                e.span(),
                format!("{} applies to a function: {e}", kind.attr()),
            )
            .to_compile_error();
        }
    };
    // On an error, what stays of the function is chosen so that the error is the only one
    // reported: a test is dropped (it would be a test no more), a `main` kept as it is when
    // only an option is wrong, or else replaced by a stub (rustc would also complain about an
    // `async` or arguments on `main`).
    if let Err(e) = check_fn(kind, &f) {
        let err = e.to_compile_error();
        if kind == Kind::Test {
            return err;
        }
        let ItemFn {
            attrs, vis, sig, ..
        } = &f;
        let (ident, output) = (&sig.ident, &sig.output);
        return quote!(#err #(#attrs)* #vis fn #ident() #output { ::core::unreachable!() });
    }
    let opts = match parse_options(kind, args) {
        Ok(o) => o,
        Err(e) => {
            let err = e.to_compile_error();
            return if kind == Kind::Test {
                err
            } else {
                quote!(#err #f)
            };
        }
    };
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = f;
    let closure_ret = match &sig.output {
        ReturnType::Default => TokenStream::new(),
        ReturnType::Type(arrow, ty) => quote!(#arrow #ty),
    };
    // Errors about the body's type (it must be `Send + 'static`) point at the return type.
    let span = match &sig.output {
        ReturnType::Default => Span::call_site(),
        ReturnType::Type(_, ty) => ty.span(),
    };
    let gomaxprocs = option_tokens(opts.gomaxprocs);
    match kind {
        Kind::Main => {
            let stack_size = option_tokens(opts.stack_size);
            let call = quote_spanned! {span=>
                ::goro::__private::main(
                    ::goro::__private::MainOptions {
                        gomaxprocs: #gomaxprocs,
                        stack_size: #stack_size,
                    },
                    move || #closure_ret #block,
                )
            };
            quote! {
                #(#attrs)*
                #vis #sig {
                    #call
                }
            }
        }
        Kind::Test => {
            let name = sig.ident.to_string();
            let timeout = option_tokens(opts.timeout.map(|d| {
                let (s, n) = (d.as_secs(), d.subsec_nanos());
                quote!(::core::time::Duration::new(#s, #n))
            }));
            let call = quote_spanned! {span=>
                ::goro::__private::test(
                    ::goro::__private::TestOptions {
                        name: ::core::concat!(::core::module_path!(), "::", #name),
                        timeout: #timeout,
                        gomaxprocs: #gomaxprocs,
                    },
                    move || #closure_ret #block,
                )
            };
            quote! {
                #[::core::prelude::v1::test]
                #(#attrs)*
                #vis #sig {
                    #call
                }
            }
        }
    }
}
