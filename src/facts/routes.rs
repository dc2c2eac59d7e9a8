//! Request handlers as web frameworks register them: the functions given to a router
//! (`.route("/x", post(handler))`, `web::get().to(handler)`, `.at("/", get(handler))`,
//! `get(list).post(create)`, warp's `filter.and_then(handler)`), read from any file of the
//! project.

use syn::visit::{self, Visit};

use crate::facts::imports::{Imports, is_under};

/// The web frameworks whose routers are read (crate names).
pub const FRAMEWORKS: [&str; 10] = [
    "axum",
    "axum_extra",
    "actix_web",
    "poem",
    "poem_openapi",
    "rocket",
    "salvo",
    "ntex",
    "tide",
    "warp",
];

/// Routing functions and methods that take a handler: `post(handler)`, `web::get().to(handler)`.
const ROUTERS: [&str; 12] = [
    "get", "post", "put", "patch", "delete", "head", "options", "trace", "any", "on", "to",
    "fallback",
];

/// Methods that hand a warp filter's extracted values to a handler: `warp::body::bytes()
/// .map(|body: Bytes| ..)`, `.and_then(handlers::create)`.
const FILTER_HANDLERS: [&str; 3] = ["map", "and_then", "then"];

/// The words a router's file holds: its routing functions and methods.
pub fn routing_words() -> impl Iterator<Item = &'static str> {
    ROUTERS.into_iter().chain(FILTER_HANDLERS)
}

/// Whether a call is a router's: a routing function of a framework (`post`, `web::get`,
/// `web::to`; a bare name may come from a glob import), or a routing method on what such a
/// call returns (`get(a).post(b)`, `web::get().to(h)`), on actix-web's `web::resource(..)` or
/// on tide's `.at(..)`.
pub fn is_routing_call(expr: &syn::Expr, imports: &Imports) -> bool {
    match expr {
        syn::Expr::Call(call) => {
            let syn::Expr::Path(p) = &*call.func else {
                return false;
            };
            let Some(last) = p.path.segments.last() else {
                return false;
            };
            let resolved = imports.resolve(&p.path);
            ROUTERS.iter().any(|r| last.ident == r)
                && (!resolved.contains("::") || under_framework(&resolved))
        }
        syn::Expr::MethodCall(call) => {
            let name = call.method.to_string();
            (ROUTERS.contains(&name.as_str())
                && (routes_on(&call.receiver, imports) || (name == "to" && actix(imports))))
                || (FILTER_HANDLERS.contains(&name.as_str())
                    && warp_filter(&call.receiver, imports))
        }
        _ => false,
    }
}

/// Whether an expression is a warp filter: a chain of methods on a call or macro under `warp`
/// (`warp::post().and(warp::body::bytes())`, `warp::path!("x" / String)`).
fn warp_filter(expr: &syn::Expr, imports: &Imports) -> bool {
    let under_warp = |path: &syn::Path| is_under(&imports.resolve(path), "warp");
    match expr {
        syn::Expr::MethodCall(call) => {
            warp_filter(&call.receiver, imports)
                || call.args.iter().any(|a| warp_filter(a, imports))
        }
        syn::Expr::Call(call) => {
            matches!(&*call.func, syn::Expr::Path(p) if under_warp(&p.path))
        }
        syn::Expr::Macro(m) => under_warp(&m.mac.path),
        syn::Expr::Paren(p) => warp_filter(&p.expr, imports),
        _ => false,
    }
}

/// Whether an expression is one a routing method is called on.
fn routes_on(receiver: &syn::Expr, imports: &Imports) -> bool {
    match receiver {
        syn::Expr::MethodCall(call) if call.method == "at" => true,
        syn::Expr::Call(call) => {
            is_routing_call(receiver, imports)
                || matches!(&*call.func, syn::Expr::Path(p)
                    if p.path.segments.last().is_some_and(|s| s.ident == "resource")
                        && under_framework(&imports.resolve(&p.path)))
        }
        _ => is_routing_call(receiver, imports),
    }
}

fn actix(imports: &Imports) -> bool {
    imports.mentions("actix_web") || imports.mentions("ntex")
}

/// Whether a resolved path lies under one of the web frameworks.
pub fn under_framework(path: &str) -> bool {
    FRAMEWORKS.iter().any(|f| is_under(path, f))
}

/// The arguments of a routing call.
pub fn routing_args(expr: &syn::Expr) -> impl Iterator<Item = &syn::Expr> {
    let args = match expr {
        syn::Expr::Call(call) => Some(&call.args),
        syn::Expr::MethodCall(call) => Some(&call.args),
        _ => None,
    };
    args.into_iter().flatten()
}

/// The functions a file registers as request handlers, as paths resolved through its imports
/// (`crate::handlers::create`, `orders::create`, `create`, `Self::create`).
pub fn targets(file: &syn::File, imports: &Imports) -> Vec<String> {
    let mut collector = Targets {
        imports,
        found: Vec::new(),
    };
    collector.visit_file(file);
    collector.found.sort();
    collector.found.dedup();
    collector.found
}

struct Targets<'a> {
    imports: &'a Imports,
    found: Vec<String>,
}

impl Targets<'_> {
    fn note(&mut self, expr: &syn::Expr) {
        if is_routing_call(expr, self.imports) {
            for arg in routing_args(expr) {
                if let syn::Expr::Path(p) = arg {
                    self.found.push(self.imports.resolve(&p.path));
                }
            }
        }
    }
}

impl<'ast> Visit<'ast> for Targets<'_> {
    fn visit_expr(&mut self, expr: &'ast syn::Expr) {
        self.note(expr);
        visit::visit_expr(self, expr);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets_of(code: &str) -> Vec<String> {
        let file = syn::parse_file(code).unwrap();
        targets(&file, &Imports::of_file(&file, Default::default()))
    }

    #[test]
    fn routers_register_their_handlers() {
        let code = r#"
            use axum::routing::{get, post};
            use actix_web::web;
            fn app() {
                Router::new()
                    .route("/a", get(list).post(handlers::create))
                    .route("/b", web::post().to(crate::ingest));
                web::resource("/c").to(show);
                warp::post().and(warp::body::bytes()).and_then(replay);
            }
        "#;
        assert_eq!(
            targets_of(code),
            [
                "crate::ingest",
                "handlers::create",
                "list",
                "replay",
                "show"
            ]
        );
    }

    #[test]
    fn calls_that_only_share_a_router_s_name_register_nothing() {
        let code = r#"
            fn f(map: HashMap<String, String>, key: String) {
                map.get(key);
                reqwest::get(url);
                items.iter().map(parse);
                cache.to(entry);
            }
        "#;
        assert!(targets_of(code).is_empty());
    }
}
