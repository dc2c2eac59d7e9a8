//! RES010: a retry loop around HTTP calls that goes round again on a failed response status,
//! 429 and 503 among them, without reading `Retry-After`. Which loops retry, and what their
//! failure path covers, is `loops`' business; this module says whether the loop's failures
//! are response statuses of an HTTP call, and whether the code reads the header or names the
//! statuses itself (how a loop gives up on them or waits differently).

use serde::Deserialize;
use syn::visit::{self, Visit};
use syn::{Expr, Pat};

use super::Cx;
use crate::facts::imports::is_under;

#[derive(Deserialize)]
pub(super) struct RateLimitData {
    status_error_methods: Vec<String>,
    status_error_paths: Vec<String>,
    status_checks: Vec<String>,
    transport_checks: Vec<String>,
    http_crates: Vec<String>,
    retry_after_words: Vec<String>,
    rate_limit_words: Vec<String>,
}

/// What the loop's shape says about its failures.
pub(super) struct Failures<'a> {
    /// The call whose result is inspected.
    pub inspected: &'a Expr,
    /// Some retried error is not limited to a transport failure.
    pub any_error: bool,
    /// Success is decided by a response status and another response goes round again.
    pub on_status: bool,
}

/// Whether the loop goes round again on a failed status of an HTTP response: the inspected
/// call turns statuses into errors (`error_for_status()`, ureq) and an error is retried, or
/// success is a status check in code that uses an HTTP client crate.
pub(super) fn retries_failed_status(
    cx: &Cx<'_>,
    body: &syn::Block,
    failures: &Failures<'_>,
) -> bool {
    let data = &cx.data.res010;
    let calls = Calls::of_expr(cx, failures.inspected);
    let status_errors = calls
        .methods
        .iter()
        .any(|m| data.status_error_methods.contains(m))
        || calls.paths.iter().any(|p| {
            data.status_error_paths
                .iter()
                .any(|prefix| p.starts_with(prefix.as_str()))
        });
    if status_errors && failures.any_error {
        return true;
    }
    failures.on_status && uses_http(cx, body)
}

/// Whether the file imports an HTTP crate, or the loop names a path under one.
fn uses_http(cx: &Cx<'_>, body: &syn::Block) -> bool {
    let data = &cx.data.res010;
    let mut calls = Calls::new(cx);
    calls.visit_block(body);
    data.http_crates
        .iter()
        .any(|c| cx.imports.mentions(c) || calls.paths.iter().any(|p| is_under(p, c)))
}

/// Whether a condition checks a response's status (`r.status().is_success()`,
/// `status.is_success()`, `r.status() == StatusCode::OK`).
pub(super) fn checks_status(cx: &Cx<'_>, cond: &Expr) -> bool {
    Calls::of_expr(cx, cond)
        .methods
        .iter()
        .any(|m| cx.data.res010.status_checks.contains(m))
}

/// Whether an error arm's guard limits it to transport failures (`Err(e) if e.is_timeout()`):
/// it calls an error-kind check and never looks at a status.
pub(super) fn transport_only(cx: &Cx<'_>, pat: &Pat) -> bool {
    let Pat::Guard(g) = pat else {
        return false;
    };
    let data = &cx.data.res010;
    let methods = Calls::of_expr(cx, &g.guard).methods;
    methods.iter().any(|m| data.transport_checks.contains(m))
        && !methods.iter().any(|m| data.status_checks.contains(m))
}

/// Whether the file's code reads `Retry-After` anywhere (`RETRY_AFTER`, `"retry-after"`, a
/// `retry_after` helper). Comments do not count: one that mentions the header reads nothing.
pub(super) fn reads_retry_after(cx: &Cx<'_>, file: &syn::File) -> bool {
    let mut words = CodeWords::default();
    words.visit_file(file);
    let data = &cx.data.res010;
    words.0.iter().any(|word| {
        data.retry_after_words
            .iter()
            .any(|w| word.contains(w.as_str()))
    })
}

/// Whether the loop's code names 429 or 503 itself (`StatusCode::TOO_MANY_REQUESTS`, `429`).
pub(super) fn names_rate_limits(cx: &Cx<'_>, body: &syn::Block) -> bool {
    let mut words = CodeWords::default();
    words.visit_block(body);
    let data = &cx.data.res010;
    words.0.iter().any(|word| {
        word.split(|c: char| !c.is_ascii_alphanumeric())
            .any(|part| data.rate_limit_words.iter().any(|w| w == part))
    })
}

/// The identifiers and literals of some code, normalised, macro bodies included.
#[derive(Default)]
struct CodeWords(Vec<String>);

impl CodeWords {
    fn tokens(&mut self, stream: proc_macro2::TokenStream) {
        for tree in stream {
            match tree {
                proc_macro2::TokenTree::Ident(i) => self.0.push(normalise(&i.to_string())),
                proc_macro2::TokenTree::Literal(l) => self.0.push(normalise(&l.to_string())),
                proc_macro2::TokenTree::Group(g) => self.tokens(g.stream()),
                proc_macro2::TokenTree::Punct(_) => {}
            }
        }
    }
}

impl<'ast> Visit<'ast> for CodeWords {
    fn visit_ident(&mut self, i: &'ast proc_macro2::Ident) {
        self.0.push(normalise(&i.to_string()));
    }

    fn visit_lit(&mut self, l: &'ast syn::Lit) {
        let text = match l {
            syn::Lit::Str(s) => s.value(),
            syn::Lit::Int(n) => n.base10_digits().to_string(),
            _ => return,
        };
        self.0.push(normalise(&text));
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        self.tokens(mac.tokens.clone());
        visit::visit_macro(self, mac);
    }

    /// Doc comments are attributes: prose, not code.
    fn visit_attribute(&mut self, _: &'ast syn::Attribute) {}
}

/// Lowercase, with `-` and `_` removed: `Retry-After`, `RETRY_AFTER` and `retry_after` meet.
fn normalise(text: &str) -> String {
    text.chars()
        .filter(|c| *c != '-' && *c != '_')
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// The method names and resolved function paths called in a stretch of code.
struct Calls<'c> {
    cx: &'c Cx<'c>,
    methods: Vec<String>,
    paths: Vec<String>,
}

impl<'c> Calls<'c> {
    fn new(cx: &'c Cx<'c>) -> Self {
        Calls {
            cx,
            methods: Vec::new(),
            paths: Vec::new(),
        }
    }

    fn of_expr(cx: &'c Cx<'c>, expr: &Expr) -> Self {
        let mut calls = Calls::new(cx);
        calls.visit_expr(expr);
        calls
    }
}

impl<'ast> Visit<'ast> for Calls<'_> {
    fn visit_expr_method_call(&mut self, m: &'ast syn::ExprMethodCall) {
        self.methods.push(m.method.to_string());
        visit::visit_expr_method_call(self, m);
    }

    fn visit_expr_path(&mut self, p: &'ast syn::ExprPath) {
        // A path of one segment that no import resolves is a local name (`http`), no crate.
        let path = self.cx.resolve(&p.path);
        if path.contains("::") {
            self.paths.push(path);
        }
        visit::visit_expr_path(self, p);
    }

    fn visit_item(&mut self, _: &'ast syn::Item) {}
}
