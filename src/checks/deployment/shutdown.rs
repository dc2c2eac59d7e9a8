//! DEP006 in Rust: a server binary awaits its server without a shutdown signal, so SIGTERM
//! (every deploy, every scale-down) kills it with requests in flight.
//!
//! Read in every module of a package that has a binary (the server may start anywhere in it):
//! a server awaited directly — `axum::serve(listener, app).await`, hyper 0.14's
//! `Server::bind(&addr).serve(svc).await`, `warp::serve(routes).run(addr).await`, tonic's
//! `Server::builder()...serve(addr).await`, a hyper 1 `serve_connection(..).await` — or raced in
//! a `select!` against other work, with no graceful or shutdown method in its chain, is reported
//! when the file shows no signal handling at all. A server spawned, returned or handed to other
//! code is not decided, nor one that serves only scrape routes (metrics, health). actix-web and
//! Rocket stop gracefully on SIGTERM by themselves.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use serde::Deserialize;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::visit::{self, Visit};

use crate::checks::{FileContext, RustFile};
use crate::finding::Finding;
use crate::registry::Code;

#[derive(Deserialize)]
struct ShutdownData {
    /// Routes whose requests lose nothing when dropped (`/metrics`, `/healthz`).
    scrape_routes: Vec<String>,
}

static SHUTDOWN: LazyLock<ShutdownData> = LazyLock::new(|| Code::DEP006.rule().data());

/// Calls that start a server, with a method that must follow for the chain to run it.
const SERVERS: &[(&str, Option<&str>)] = &[
    ("axum::serve", None),
    ("axum::serve::serve", None),
    ("axum::Server::bind", Some("serve")),
    ("axum::Server::try_bind", Some("serve")),
    ("axum::Server::from_tcp", Some("serve")),
    ("axum::Server::builder", Some("serve")),
    ("hyper::Server::bind", Some("serve")),
    ("hyper::Server::try_bind", Some("serve")),
    ("hyper::Server::from_tcp", Some("serve")),
    ("hyper::Server::builder", Some("serve")),
    ("hyper::server::Server::bind", Some("serve")),
    ("hyper::server::Server::builder", Some("serve")),
    ("warp::serve", Some("run")),
    (
        "hyper::server::conn::http1::Builder::new",
        Some("serve_connection"),
    ),
    (
        "hyper::server::conn::http2::Builder::new",
        Some("serve_connection"),
    ),
    (
        "hyper_util::server::conn::auto::Builder::new",
        Some("serve_connection"),
    ),
    ("tonic::transport::Server::builder", Some("serve")),
    ("tonic::transport::server::Server::builder", Some("serve")),
];

/// Methods whose name says the server stops gracefully: `with_graceful_shutdown`,
/// `serve_with_shutdown`, `graceful_shutdown`.
fn stops_gracefully(method: &str) -> bool {
    method.contains("graceful") || method.contains("shutdown")
}

/// Words of the file (lower-cased) that show it handles signals or shuts down on purpose:
/// `tokio::signal`, `shutdown_signal()`, `signal_hook`, the `ctrlc` crate, `GracefulShutdown`.
const SIGNAL_WORDS: [&str; 5] = ["signal", "ctrlc", "ctrl_c", "sigterm", "graceful"];

pub fn check(ctx: &FileContext<'_>, rust: &RustFile<'_>, out: &mut Vec<Finding>) {
    if !may_report(ctx) {
        return;
    }
    let mut visitor = Awaits {
        ctx,
        rust,
        scrape_only: HashSet::new(),
        out,
    };
    visitor.visit_file(rust.ast);
}

/// The names that a function body binds only to routers that serve only scrape routes.
fn scrape_only_routers(block: &syn::Block) -> HashSet<String> {
    let mut routers = Routers::default();
    routers.visit_block(block);
    (routers.0.into_iter())
        .filter_map(|(name, only)| only.then_some(name))
        .collect()
}

/// Each name bound to a router (`let app = Router::new().route(..)`), and whether every router
/// bound to it serves only scrape routes.
#[derive(Default)]
struct Routers(HashMap<String, bool>);

impl<'ast> Visit<'ast> for Routers {
    fn visit_local(&mut self, local: &'ast syn::Local) {
        if let (syn::Pat::Ident(name), Some(init)) = (&local.pat, &local.init)
            && let Some(only) = serves_scrapes_only(&init.expr)
        {
            *self.0.entry(name.ident.to_string()).or_insert(true) &= only;
        }
        visit::visit_local(self, local);
    }
}

/// For a router written as one chain from `Router::new()`, whether it serves only scrape
/// routes: it has a route, and every method is a `.route("/metrics", ..)` of one, or adds state
/// or a layer.
fn serves_scrapes_only(expr: &syn::Expr) -> Option<bool> {
    let (mut only, mut routes) = (true, 0);
    let mut expr = expr;
    while let syn::Expr::MethodCall(call) = expr {
        only &= match call.method.to_string().as_str() {
            "route" => call.args.first().is_some_and(|route| {
                routes += 1;
                matches!(route, syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(s), .. })
                    if SHUTDOWN.scrape_routes.contains(&s.value()))
            }),
            "with_state" | "layer" | "route_layer" => true,
            _ => false,
        };
        expr = &call.receiver;
    }
    let syn::Expr::Call(call) = expr else {
        return None;
    };
    let syn::Expr::Path(func) = &*call.func else {
        return None;
    };
    let segments: Vec<String> = (func.path.segments.iter())
        .map(|s| s.ident.to_string())
        .collect();
    segments
        .ends_with(&["Router".to_string(), "new".to_string()])
        .then_some(only && routes > 0)
}

/// Whether the file can be reported, on its text alone: a file of a package that has a binary,
/// that says `serve` and shows no signal handling.
pub fn may_report(ctx: &FileContext<'_>) -> bool {
    let binary = ctx.manifest.is_some_and(|m| {
        m.package.as_ref().is_some_and(|p| p.has_bin)
            && (m.dir.is_empty() || ctx.source.path.starts_with(&format!("{}/", m.dir)))
    });
    if !binary || !ctx.source.text.contains("serve") {
        return false;
    }
    let lower = ctx.source.text.to_ascii_lowercase();
    !SIGNAL_WORDS.iter().any(|w| lower.contains(w))
}

struct Awaits<'a, 'f> {
    ctx: &'a FileContext<'f>,
    rust: &'a RustFile<'f>,
    /// The names that the function being read binds to routers serving only scrape routes.
    scrape_only: HashSet<String>,
    out: &'a mut Vec<Finding>,
}

impl<'ast> Visit<'ast> for Awaits<'_, '_> {
    fn visit_item_fn(&mut self, item: &'ast syn::ItemFn) {
        let outer = std::mem::replace(&mut self.scrape_only, scrape_only_routers(&item.block));
        visit::visit_item_fn(self, item);
        self.scrape_only = outer;
    }

    fn visit_impl_item_fn(&mut self, item: &'ast syn::ImplItemFn) {
        let outer = std::mem::replace(&mut self.scrape_only, scrape_only_routers(&item.block));
        visit::visit_impl_item_fn(self, item);
        self.scrape_only = outer;
    }

    fn visit_expr_await(&mut self, awaited: &'ast syn::ExprAwait) {
        let mut methods = Vec::new();
        let mut expr = &*awaited.base;
        loop {
            match expr {
                syn::Expr::MethodCall(call) => {
                    methods.push(call.method.to_string());
                    expr = &call.receiver;
                }
                syn::Expr::Paren(inner) => expr = &inner.expr,
                _ => break,
            }
        }
        if let syn::Expr::Call(call) = expr
            && let syn::Expr::Path(func) = &*call.func
        {
            let path = self.rust.imports.resolve(&func.path);
            if runs_abruptly(&path, &methods) && !self.serves_scrapes(&call.args) {
                let start = self.ctx.source.span_range(call.span()).start;
                let end = self.ctx.source.span_range(awaited.await_token.span()).end;
                self.report(start..end.max(start), "awaited");
            }
        }
        visit::visit_expr_await(self, awaited);
    }

    /// `tokio::select! { r = axum::serve(l, app) => .., _ = other => .. }`: the server races
    /// other work, and no branch waits for a signal (the file shows none).
    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        if mac
            .path
            .segments
            .last()
            .is_some_and(|s| s.ident == "select")
        {
            let tokens: Vec<proc_macro2::TokenTree> = mac.tokens.clone().into_iter().collect();
            self.servers_in(&tokens);
        }
        visit::visit_macro(self, mac);
    }
}

/// Whether a call of `path` followed by `methods` runs a server that stops abruptly.
fn runs_abruptly(path: &str, methods: &[String]) -> bool {
    let runs = SERVERS
        .iter()
        .find(|(root, _)| *root == path)
        .is_some_and(|(_, then)| {
            then.is_none_or(|m| methods.iter().any(|called| called.starts_with(m)))
        });
    runs && !methods.iter().any(|m| stops_gracefully(m))
}

impl Awaits<'_, '_> {
    /// Whether a server call is given a router that serves only scrape routes, by name or
    /// written in the call.
    fn serves_scrapes(&self, args: &Punctuated<syn::Expr, syn::Token![,]>) -> bool {
        args.iter().any(|arg| match arg {
            syn::Expr::Path(p) => p
                .path
                .get_ident()
                .is_some_and(|name| self.scrape_only.contains(&name.to_string())),
            _ => serves_scrapes_only(arg) == Some(true),
        })
    }

    fn report(&mut self, range: std::ops::Range<usize>, how: &str) {
        self.out.push(Finding::at(
            Code::DEP006,
            self.ctx.source,
            range,
            format!(
                "the server is {how} without a shutdown signal: SIGTERM drops requests in flight"
            ),
        ));
    }

    /// The servers started in a macro's tokens: a path called (`axum::serve(..)`), then the
    /// methods chained on it (`.serve(addr)`), up to the end of the expression.
    fn servers_in(&mut self, tokens: &[proc_macro2::TokenTree]) {
        use proc_macro2::{Delimiter, TokenTree};
        let mut i = 0;
        while i < tokens.len() {
            if let TokenTree::Group(group) = &tokens[i] {
                let inner: Vec<TokenTree> = group.stream().into_iter().collect();
                self.servers_in(&inner);
                i += 1;
                continue;
            }
            let Some((path, after)) = call_path(tokens, i) else {
                i += 1;
                continue;
            };
            let Ok(parsed) = syn::parse_str::<syn::Path>(&path) else {
                i = after;
                continue;
            };
            let resolved = self.rust.imports.resolve(&parsed);
            let mut methods = Vec::new();
            let mut j = after;
            while let (Some(TokenTree::Punct(dot)), Some(TokenTree::Ident(method))) =
                (tokens.get(j), tokens.get(j + 1))
            {
                if dot.as_char() != '.' {
                    break;
                }
                methods.push(method.to_string());
                j += 2;
                if let Some(TokenTree::Group(g)) = tokens.get(j)
                    && g.delimiter() == Delimiter::Parenthesis
                {
                    j += 1;
                }
            }
            let args = match &tokens[after - 1] {
                TokenTree::Group(group) => {
                    use syn::parse::Parser;
                    Punctuated::<syn::Expr, syn::Token![,]>::parse_terminated
                        .parse2(group.stream())
                        .unwrap_or_default()
                }
                _ => Punctuated::new(),
            };
            if runs_abruptly(&resolved, &methods) && !self.serves_scrapes(&args) {
                let start = self.ctx.source.span_range(tokens[i].span()).start;
                let end = tokens
                    .get(j.saturating_sub(1))
                    .map_or(start, |t| self.ctx.source.span_range(t.span()).end);
                self.report(start..end.max(start), "raced in `select!`");
            }
            i = j.max(i + 1);
        }
    }
}

/// A path written at `start` (`axum::serve`, `Server::builder`) and called: its text, and the
/// index after its argument list.
fn call_path(tokens: &[proc_macro2::TokenTree], start: usize) -> Option<(String, usize)> {
    use proc_macro2::{Delimiter, TokenTree};
    let TokenTree::Ident(first) = &tokens[start] else {
        return None;
    };
    let mut path = first.to_string();
    let mut i = start + 1;
    while let (Some(TokenTree::Punct(a)), Some(TokenTree::Punct(b)), Some(TokenTree::Ident(next))) =
        (tokens.get(i), tokens.get(i + 1), tokens.get(i + 2))
    {
        if a.as_char() != ':' || b.as_char() != ':' {
            break;
        }
        path.push_str("::");
        path.push_str(&next.to_string());
        i += 3;
    }
    match tokens.get(i) {
        Some(TokenTree::Group(args)) if args.delimiter() == Delimiter::Parenthesis => {
            Some((path, i + 1))
        }
        _ => None,
    }
}
