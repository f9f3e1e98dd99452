//! Parsing `select!`'s Go-shaped arms.
//!
//! Rust has no `<-` operator, so `ch <- v` is not an expression syn can parse whole (it
//! would read `ch < -v`). Each arm is therefore recognised from its first tokens:
//!
//! | arm starts with                         | arm                         |
//! |-----------------------------------------|-----------------------------|
//! | `default =>`                            | default                     |
//! | `timeout ( ... ) =>`                    | timeout                     |
//! | `<-` (a `<` joined to a `-`)            | receive, value discarded    |
//! | a pattern, then `=` then `<-`           | receive into the pattern    |
//! | anything else                           | send: tokens up to the first top-level `<-` are the channel |
//!
//! The operand after `<-` is parsed like a `match` scrutinee (no struct literal without
//! parentheses), so a forgotten `=>` is reported where the body's `{` starts instead of the
//! body being swallowed into the operand. A body in braces needs no comma after it; any
//! other body does (unless it is the last arm), as in `match`.

use proc_macro2::{Delimiter, Spacing, TokenStream, TokenTree};
use quote::ToTokens;
use syn::parse::{Parse, ParseStream, Parser};
use syn::{Expr, Pat, Token};

/// What one arm does.
pub(crate) enum Kind {
    /// `PAT = <-CHAN` (`pat` is `Some`) or `<-CHAN` (`None`).
    Recv { pat: Option<Pat>, chan: Expr },
    /// `CHAN <- VALUE`.
    Send { chan: Expr, value: Expr },
    /// `timeout(DURATION)`.
    Timeout { duration: Expr },
    /// `default`.
    Default,
}

/// One arm: what it does, its tokens before `=>` (for error spans) and its body.
pub(crate) struct Arm {
    pub(crate) kind: Kind,
    pub(crate) head: TokenStream,
    pub(crate) body: Expr,
}

/// The whole macro input: the chan crate's path (`$crate`, passed by the `chan::select!`
/// wrapper), a `;`, then the arms.
pub(crate) struct Input {
    pub(crate) krate: TokenStream,
    pub(crate) arms: Vec<Arm>,
}

impl Parse for Input {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut krate = TokenStream::new();
        while !input.peek(Token![;]) {
            if input.is_empty() {
                return Err(input.error(
                    "select_internal! expects the chan crate's path and `;` first: use `chan::select!` or `goro::select!`",
                ));
            }
            krate.extend([input.parse::<TokenTree>()?]);
        }
        input.parse::<Token![;]>()?;
        let mut arms = Vec::new();
        while !input.is_empty() {
            arms.push(parse_arm(input)?);
        }
        check_arms(&arms)?;
        Ok(Input { krate, arms })
    }
}

/// The forms an arm can take, for error messages.
const FORMS: &str = "expected a select! arm: `PAT = <-CHAN => BODY`, `<-CHAN => BODY`, \
                     `CHAN <- VALUE => BODY`, `timeout(DURATION) => BODY` or `default => BODY`";

fn parse_arm(input: ParseStream) -> syn::Result<Arm> {
    let start = input.fork();
    let kind = parse_head(input)?;
    let head = tokens_between(&start, input);
    if !input.peek(Token![=>]) {
        let msg = "expected `=>` after this select! arm";
        return Err(if input.is_empty() {
            syn::Error::new_spanned(&head, msg)
        } else {
            input.error(msg)
        });
    }
    input.parse::<Token![=>]>()?;
    let body = parse_body(input)?;
    Ok(Arm { kind, head, body })
}

/// The tokens `start` has that `end` no longer has (both at the same nesting level).
fn tokens_between(start: ParseStream, end: ParseStream) -> TokenStream {
    let mut out = TokenStream::new();
    while start.cursor() != end.cursor() {
        match start.parse::<TokenTree>() {
            Ok(tt) => out.extend([tt]),
            Err(_) => break,
        }
    }
    out
}

/// Whether the next two tokens are a `<` joined to a `-`: Go's arrow.
fn peek_arrow(input: ParseStream) -> bool {
    let mut cursor = input.cursor();
    let Some((lt, rest)) = cursor.punct() else {
        return false;
    };
    if lt.as_char() != '<' || lt.spacing() != Spacing::Joint {
        return false;
    }
    cursor = rest;
    matches!(cursor.punct(), Some((minus, _)) if minus.as_char() == '-')
}

fn parse_arrow(input: ParseStream) -> syn::Result<()> {
    input.parse::<Token![<]>()?;
    input.parse::<Token![-]>()?;
    Ok(())
}

fn peek_ident(input: ParseStream, name: &str) -> bool {
    input
        .cursor()
        .ident()
        .is_some_and(|(ident, _)| ident == name)
}

/// Parses an arm up to (not including) its `=>`.
fn parse_head(input: ParseStream) -> syn::Result<Kind> {
    if peek_ident(input, "default") && (input.peek2(Token![=>]) || ends_arm_early(input, 1)) {
        input.parse::<syn::Ident>()?;
        return Ok(Kind::Default);
    }
    if peek_ident(input, "timeout")
        && input.peek2(syn::token::Paren)
        && (input.peek3(Token![=>]) || ends_arm_early(input, 2))
    {
        input.parse::<syn::Ident>()?;
        let content;
        syn::parenthesized!(content in input);
        let duration: Expr = content.parse()?;
        if !content.is_empty() {
            return Err(content.error("expected one Duration in `timeout(...)`"));
        }
        return Ok(Kind::Timeout { duration });
    }
    if peek_arrow(input) {
        parse_arrow(input)?;
        let chan = Expr::parse_without_eager_brace(input)?;
        return Ok(Kind::Recv { pat: None, chan });
    }
    // `PAT = <-CHAN`?
    let fork = input.fork();
    if Pat::parse_multi_with_leading_vert(&fork).is_ok()
        && fork.peek(Token![=])
        && !fork.peek(Token![==])
        && !fork.peek(Token![=>])
    {
        fork.parse::<Token![=]>()?;
        if peek_arrow(&fork) {
            let pat = Pat::parse_multi_with_leading_vert(input)?;
            input.parse::<Token![=]>()?;
            parse_arrow(input)?;
            let chan = Expr::parse_without_eager_brace(input)?;
            return Ok(Kind::Recv {
                pat: Some(pat),
                chan,
            });
        }
    }
    // `CHAN <- VALUE`: the channel is everything before the first top-level arrow.
    let mut chan_tokens = TokenStream::new();
    while !peek_arrow(input) {
        if input.is_empty() || input.peek(Token![=>]) || input.peek(Token![,]) {
            return Err(if chan_tokens.is_empty() {
                input.error(FORMS)
            } else {
                syn::Error::new_spanned(chan_tokens, FORMS)
            });
        }
        chan_tokens.extend([input.parse::<TokenTree>()?]);
    }
    let chan: Expr = Parser::parse2(Expr::parse, chan_tokens)?;
    parse_arrow(input)?;
    let value = Expr::parse_without_eager_brace(input)?;
    Ok(Kind::Send { chan, value })
}

/// Whether the token `n` places ahead ends an arm head that forgot its `=>`: a brace-body,
/// a comma or the end of input. (Used to report `default { .. }` as a missing `=>`, not as
/// an unknown arm.)
fn ends_arm_early(input: ParseStream, n: usize) -> bool {
    let mut cursor = input.cursor();
    for _ in 0..n {
        match cursor.token_tree() {
            Some((_, rest)) => cursor = rest,
            None => return false,
        }
    }
    if cursor.eof() {
        return true;
    }
    if let Some((p, _)) = cursor.punct() {
        return p.as_char() == ',';
    }
    cursor.group(Delimiter::Brace).is_some()
}

/// Parses an arm's body and the comma after it, as `match` does: a `{ block }` needs no
/// comma, any other expression does unless it ends the input.
fn parse_body(input: ParseStream) -> syn::Result<Expr> {
    if input.peek(syn::token::Brace) {
        let block: syn::ExprBlock = syn::ExprBlock {
            attrs: Vec::new(),
            label: None,
            block: input.parse()?,
        };
        if input.peek(Token![,]) {
            input.parse::<Token![,]>()?;
        }
        return Ok(Expr::Block(block));
    }
    let body: Expr = input.parse()?;
    if !input.is_empty() {
        if !input.peek(Token![,]) {
            return Err(
                input.error("expected `,` after a select! arm's body (or put the body in `{ }`)")
            );
        }
        input.parse::<Token![,]>()?;
    }
    Ok(body)
}

/// The rules that span arms: at most one `default`, at most one `timeout`, never both.
fn check_arms(arms: &[Arm]) -> syn::Result<()> {
    let mut default: Option<&Arm> = None;
    let mut timeout: Option<&Arm> = None;
    for arm in arms {
        match arm.kind {
            Kind::Default => {
                if default.is_some() {
                    return Err(err(arm, "a select! can have only one `default` arm"));
                }
                if timeout.is_some() {
                    return Err(err(
                        arm,
                        "a select! cannot have both `default` and `timeout`: `default` runs at once when nothing is ready, so the timeout could never fire",
                    ));
                }
                default = Some(arm);
            }
            Kind::Timeout { .. } => {
                if timeout.is_some() {
                    return Err(err(arm, "a select! can have only one `timeout` arm"));
                }
                if default.is_some() {
                    return Err(err(
                        arm,
                        "a select! cannot have both `default` and `timeout`: `default` runs at once when nothing is ready, so the timeout could never fire",
                    ));
                }
                timeout = Some(arm);
            }
            _ => {}
        }
    }
    Ok(())
}

fn err(arm: &Arm, msg: &str) -> syn::Error {
    syn::Error::new_spanned(arm.head.to_token_stream(), msg)
}
