//! DEP006 in Rust: a server binary awaits its server without a shutdown signal, so SIGTERM
//! (every deploy, every scale-down) kills it with requests in flight.
//!
//! Read in a binary's root file (`src/main.rs`, `src/bin/*`), where `main` decides how the
//! process ends. A server awaited directly — `axum::serve(listener, app).await`, hyper 0.14's
//! `Server::bind(&addr).serve(svc).await`, `warp::serve(routes).run(addr).await`, a hyper 1
//! `serve_connection(..).await` — with no `graceful` method in its chain is reported when the
//! file shows no signal handling at all. Anything else (a server passed to `select!`, spawned,
//! returned, or built in another module) is not decided. actix-web and Rocket stop gracefully on
//! SIGTERM by themselves.

use syn::spanned::Spanned;
use syn::visit::{self, Visit};

use crate::checks::{FileContext, RustFile};
use crate::finding::Finding;
use crate::registry::Code;

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
];

/// Words of the file (lower-cased) that show it handles signals or shuts down on purpose:
/// `tokio::signal`, `shutdown_signal()`, `signal_hook`, the `ctrlc` crate, `GracefulShutdown`.
const SIGNAL_WORDS: [&str; 5] = ["signal", "ctrlc", "ctrl_c", "sigterm", "graceful"];

pub fn check(ctx: &FileContext<'_>, rust: &RustFile<'_>, out: &mut Vec<Finding>) {
    if !may_report(ctx) {
        return;
    }
    let mut visitor = Awaits { ctx, rust, out };
    visitor.visit_file(rust.ast);
}

/// Whether the file can be reported, on its text alone: a binary's root file that says `serve`
/// and shows no signal handling.
pub fn may_report(ctx: &FileContext<'_>) -> bool {
    if !is_binary_root(ctx) || !ctx.source.text.contains("serve") {
        return false;
    }
    let lower = ctx.source.text.to_ascii_lowercase();
    !SIGNAL_WORDS.iter().any(|w| lower.contains(w))
}

/// `src/main.rs` or a file of `src/bin/` of a package that has a binary.
fn is_binary_root(ctx: &FileContext<'_>) -> bool {
    let Some(manifest) = ctx.manifest else {
        return false;
    };
    if !manifest.package.as_ref().is_some_and(|p| p.has_bin) {
        return false;
    }
    let rel = if manifest.dir.is_empty() {
        ctx.source.path.as_str()
    } else {
        match ctx.source.path.strip_prefix(&format!("{}/", manifest.dir)) {
            Some(rel) => rel,
            None => return false,
        }
    };
    rel == "src/main.rs"
        || rel
            .strip_prefix("src/bin/")
            .is_some_and(|r| !r.contains('/') || r.ends_with("/main.rs"))
}

struct Awaits<'a, 'f> {
    ctx: &'a FileContext<'f>,
    rust: &'a RustFile<'f>,
    out: &'a mut Vec<Finding>,
}

impl<'ast> Visit<'ast> for Awaits<'_, '_> {
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
            let runs = SERVERS
                .iter()
                .find(|(root, _)| *root == path)
                .is_some_and(|(_, then)| {
                    then.is_none_or(|m| methods.iter().any(|called| called.starts_with(m)))
                });
            if runs && !methods.iter().any(|m| m.contains("graceful")) {
                let start = self.ctx.source.span_range(call.span()).start;
                let end = self.ctx.source.span_range(awaited.await_token.span()).end;
                self.out.push(Finding::at(
                    Code::DEP006,
                    self.ctx.source,
                    start..end.max(start),
                    "the server is awaited without a shutdown signal: SIGTERM drops requests in flight",
                ));
            }
        }
        visit::visit_expr_await(self, awaited);
    }
}
