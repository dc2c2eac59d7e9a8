//! ERR003: a service that accepts a request body of any size, or of any nesting depth.
//!
//! Reads the limits a service sets on request bodies: axum's `DefaultBodyLimit`, tower-http's
//! `RequestBodyLimitLayer`, actix-web's `PayloadConfig`, `JsonConfig` and `FormConfig`, axum's
//! `to_bytes(body, limit)`; hyper's whole-body reads of a request body (`to_bytes`, `collect`)
//! with no `Limited` around it; and serde_json's recursion limit turned off. A limit the walk
//! cannot evaluate (a value read from configuration) is not judged.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde::Deserialize;
use syn::spanned::Spanned;
use syn::visit::{self, Visit};

use super::{FileContext, Parsed, TreeQuery};
use crate::facts::imports::{Imports, ends_with_path};
use crate::facts::routes;
use crate::finding::Finding;
use crate::registry::Code;

#[derive(Deserialize)]
struct Data {
    /// The largest body limit that is not reported, in bytes.
    max_bytes: u64,
    /// Calls whose single argument is a body limit in bytes (path suffixes).
    limit_constructors: Vec<String>,
    /// Types whose `.limit(n)` sets a body limit in bytes.
    limit_configs: Vec<String>,
    /// Calls that read a whole body up to the limit given as their second argument.
    bounded_reads: Vec<String>,
    /// Calls that read a whole body with no limit.
    unbounded_reads: Vec<String>,
}

static DATA: LazyLock<Data> = LazyLock::new(|| Code::ERR003.rule().data());

/// Types and methods that set or lift a body limit: one of them is written in every file where
/// such a finding is possible.
const LIMIT_WORDS: [&str; 6] = [
    "DefaultBodyLimit",
    "RequestBodyLimitLayer",
    "PayloadConfig",
    "JsonConfig",
    "FormConfig",
    "disable_recursion_limit",
];

/// A finding needs a limit's type or method, a whole-body read by path (`axum::body::to_bytes`,
/// `hyper::body::to_bytes`), or http-body-util's `collect`.
pub fn needs_tree(query: &TreeQuery<'_>) -> bool {
    query.live(Code::ERR003)
        && (LIMIT_WORDS
            .iter()
            .any(|w| query.has(w) || query.has_method(w))
            || (DATA.bounded_reads.iter().chain(&DATA.unbounded_reads)).any(|p| query.has_path(p))
            || (query.has("http_body_util") && query.has_method("collect")))
}

/// Each finding's necessary words: a limit's name, every segment of a body read's path, or
/// `http_body_util` and `collect`.
pub fn gate_words() -> Vec<String> {
    let reads = DATA.bounded_reads.iter().chain(&DATA.unbounded_reads);
    (LIMIT_WORDS.iter().chain(&["http_body_util", "collect"]))
        .copied()
        .chain(reads.flat_map(|p| p.split("::")))
        .map(str::to_string)
        .collect()
}

pub fn check_file(ctx: &FileContext<'_>, parsed: &Parsed<'_>, out: &mut Vec<Finding>) {
    if !ctx.rules.enabled(Code::ERR003) {
        return;
    }
    let Some(rust) = &parsed.rust else {
        return;
    };
    let mut walker = Walker {
        ctx,
        imports: rust.imports,
        // The functions the file registers with a router, by name.
        handlers: (routes::targets(rust.ast, rust.imports).iter())
            .map(|path| path.rsplit("::").next().unwrap_or(path).to_string())
            .collect(),
        constants: file_constants(rust.ast),
        locals: HashMap::new(),
        requests: Vec::new(),
        bodies: Vec::new(),
        stacker: false,
        layered: false,
        disabled: Vec::new(),
        out,
    };
    walker.visit_file(rust.ast);
    if !walker.layered {
        walker.out.append(&mut walker.disabled);
    }
}

/// Integer `const` and `static` items of the file, by name.
fn file_constants(file: &syn::File) -> HashMap<String, syn::Expr> {
    let mut out = HashMap::new();
    for item in &file.items {
        match item {
            syn::Item::Const(c) => {
                out.insert(c.ident.to_string(), (*c.expr).clone());
            }
            syn::Item::Static(s) => {
                out.insert(s.ident.to_string(), (*s.expr).clone());
            }
            _ => {}
        }
    }
    out
}

struct Walker<'a, 'o> {
    ctx: &'a FileContext<'a>,
    imports: &'a Imports,
    handlers: Vec<String>,
    constants: HashMap<String, syn::Expr>,
    /// Locals of the current function: the integer they were bound to, or that they hold a
    /// request's raw body (`None`).
    locals: HashMap<String, Option<syn::Expr>>,
    /// Parameters of the current function that are requests (`req: Request<Incoming>`).
    requests: Vec<String>,
    /// Parameters of the current handler that are raw bodies (`body: Body`, `Incoming`): its
    /// request's body. (Elsewhere such a parameter may be a response's body.)
    bodies: Vec<String>,
    /// The current function grows the stack for deep documents (`serde_stacker`).
    stacker: bool,
    /// The file bounds bodies with a `RequestBodyLimitLayer` within the threshold (or of a size
    /// read from configuration): axum's own advice is to turn `DefaultBodyLimit` off for it.
    layered: bool,
    /// Findings on `DefaultBodyLimit::disable()`: they stand unless the file turns out to be
    /// `layered`.
    disabled: Vec<Finding>,
    out: &'o mut Vec<Finding>,
}

/// A byte count as people read it.
fn size(bytes: u128) -> String {
    const MIB: u128 = 1 << 20;
    if bytes >= u64::MAX as u128 {
        "any size".to_string()
    } else if bytes >= 1 << 30 {
        format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64)
    } else {
        format!("{} MiB", bytes / MIB)
    }
}

impl Walker<'_, '_> {
    fn resolved(&self, expr: &syn::Expr) -> Option<String> {
        match expr {
            syn::Expr::Path(p) => Some(self.imports.resolve(&p.path)),
            _ => None,
        }
    }

    fn finding(&self, at: &impl Spanned, message: String, fix: &str) -> Finding {
        let range = self.ctx.source.span_range(at.span());
        Finding::at(Code::ERR003, self.ctx.source, range, message).with_fix(fix.to_string())
    }

    fn report(&mut self, at: &impl Spanned, message: String, fix: &str) {
        let finding = self.finding(at, message, fix);
        self.out.push(finding);
    }

    /// The value of an integer expression, where the file shows it: literals, arithmetic,
    /// `usize::MAX`-style bounds, the file's constants and the function's locals.
    fn value(&self, expr: &syn::Expr, depth: usize) -> Option<u128> {
        if depth > 16 {
            return None;
        }
        match expr {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Int(int),
                ..
            }) => int.base10_parse::<u128>().ok(),
            syn::Expr::Paren(inner) => self.value(&inner.expr, depth + 1),
            syn::Expr::Group(inner) => self.value(&inner.expr, depth + 1),
            syn::Expr::Cast(cast) => self.value(&cast.expr, depth + 1),
            syn::Expr::Binary(binary) => {
                let (left, right) = (
                    self.value(&binary.left, depth + 1)?,
                    self.value(&binary.right, depth + 1)?,
                );
                match binary.op {
                    syn::BinOp::Mul(_) => left.checked_mul(right),
                    syn::BinOp::Add(_) => left.checked_add(right),
                    syn::BinOp::Sub(_) => left.checked_sub(right),
                    syn::BinOp::Shl(_) => (right < 127).then(|| left << right),
                    _ => None,
                }
            }
            syn::Expr::Path(path) => {
                let written: Vec<String> = path
                    .path
                    .segments
                    .iter()
                    .map(|s| s.ident.to_string())
                    .collect();
                match written.as_slice() {
                    [ty, max] if max == "MAX" => match ty.as_str() {
                        "usize" | "u64" | "u128" | "isize" | "i64" => Some(u64::MAX as u128),
                        "u32" => Some(u32::MAX as u128),
                        _ => None,
                    },
                    [name] => match self.locals.get(name) {
                        Some(Some(bound)) => self.value(bound, depth + 1),
                        Some(None) => None,
                        None => self.value(self.constants.get(name)?, depth + 1),
                    },
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// A limit in bytes above the threshold.
    fn judge_limit(&mut self, at: &impl Spanned, what: &str, limit: &syn::Expr) {
        let Some(bytes) = self.value(limit, 0) else {
            return;
        };
        if bytes > u128::from(DATA.max_bytes) {
            let message = format!(
                "{what} accepts request bodies of {}: one client can fill the service's memory",
                size(bytes)
            );
            self.report(at, message, "set a limit the largest real request fits in (a few MiB), and stream uploads that must be larger");
        }
    }

    /// Whether an expression is a request's raw body: `req.into_body()`, `req.body_mut()`, or a
    /// local that holds one; not one inside a limiter.
    fn is_request_body(&self, expr: &syn::Expr) -> bool {
        match expr {
            syn::Expr::MethodCall(call)
                if call.method == "into_body" || call.method == "body_mut" =>
            {
                matches!(&*call.receiver, syn::Expr::Path(p)
                    if p.path.get_ident().is_some_and(|id| self.requests.iter().any(|r| id == r)))
            }
            syn::Expr::Reference(r) => self.is_request_body(&r.expr),
            syn::Expr::Paren(p) => self.is_request_body(&p.expr),
            syn::Expr::Path(p) => p.path.get_ident().is_some_and(|id| {
                let name = id.to_string();
                match self.locals.get(&name) {
                    Some(local) => local.is_none(),
                    None => self.bodies.contains(&name),
                }
            }),
            _ => false,
        }
    }

    fn call(&mut self, call: &syn::ExprCall) {
        let Some(path) = self.resolved(&call.func) else {
            return;
        };
        let args: Vec<&syn::Expr> = call.args.iter().collect();
        if ends_with_path(&path, "DefaultBodyLimit::disable") {
            let message = "`DefaultBodyLimit::disable()` accepts request bodies of any size: one client can fill the service's memory".to_string();
            let fix = "keep a limit: `DefaultBodyLimit::max(n)` with the largest real request, and stream larger uploads";
            let finding = self.finding(call, message, fix);
            self.disabled.push(finding);
        } else if let (Some(what), [limit]) = (
            DATA.limit_constructors
                .iter()
                .find(|c| ends_with_path(&path, c)),
            args.as_slice(),
        ) {
            if ends_with_path(&path, "RequestBodyLimitLayer::new") {
                let bytes = self.value(limit, 0);
                self.layered |= bytes.is_none_or(|b| b <= u128::from(DATA.max_bytes));
            }
            self.judge_limit(call, &format!("`{what}(..)`"), limit);
        } else if let (Some(what), [body, limit]) = (
            DATA.bounded_reads.iter().find(|c| ends_with_path(&path, c)),
            args.as_slice(),
        ) {
            if self.is_request_body(body) {
                self.judge_limit(call, &format!("`{what}(..)`"), limit);
            }
        } else if let (Some(what), [body]) = (
            DATA.unbounded_reads
                .iter()
                .find(|c| ends_with_path(&path, c)),
            args.as_slice(),
        ) && self.is_request_body(body)
        {
            let message = format!(
                "`{what}` reads the whole request body with no limit: one client can fill the service's memory"
            );
            self.report(
                call,
                message,
                "wrap the body in `http_body_util::Limited::new(body, max)` before reading it",
            );
        }
    }

    fn method_call(&mut self, call: &syn::ExprMethodCall) {
        let method = call.method.to_string();
        if let (Some(config), [limit]) = (
            self.config_receiver(&call.receiver)
                .filter(|_| method == "limit"),
            call.args.iter().collect::<Vec<_>>().as_slice(),
        ) {
            self.judge_limit(call, &format!("`{config}` with `.limit(..)`"), limit);
        } else if method == "collect"
            && call.args.is_empty()
            && self.is_request_body(&call.receiver)
        {
            let message = "`.collect()` reads the whole request body with no limit: one client can fill the service's memory".to_string();
            self.report(
                call,
                message,
                "wrap the body in `http_body_util::Limited::new(body, max)` before collecting it",
            );
        } else if method == "disable_recursion_limit" && !self.stacker {
            let message = "serde_json's recursion limit is turned off: a deeply nested document overflows the stack and kills the process".to_string();
            self.report(call, message, "keep the limit, or grow the stack with `serde_stacker::Deserializer` when deep documents are expected");
        }
    }

    /// The body-limit configuration type a method chain starts from
    /// (`web::JsonConfig::default()`, `PayloadConfig::new(..)`).
    fn config_receiver(&self, receiver: &syn::Expr) -> Option<String> {
        match receiver {
            syn::Expr::MethodCall(inner) => self.config_receiver(&inner.receiver),
            syn::Expr::Call(call) => {
                let path = self.resolved(&call.func)?;
                let type_path = path.rsplit_once("::").map_or(path.as_str(), |(t, _)| t);
                DATA.limit_configs
                    .iter()
                    .find(|c| ends_with_path(type_path, c))
                    .cloned()
            }
            _ => None,
        }
    }

    fn in_function(&mut self, sig: &syn::Signature, block: &syn::Block) {
        let saved = (
            std::mem::take(&mut self.locals),
            std::mem::take(&mut self.requests),
            std::mem::take(&mut self.bodies),
            self.stacker,
        );
        let handler = self.handlers.contains(&sig.ident.to_string());
        // A body type the caller chooses (`Request<B>`) may come bounded by a layer around the
        // handler (tower-http's `RequestBodyLimitLayer` wraps it in `Limited`): not judged.
        let generic: Vec<String> = (sig.generics.type_params())
            .map(|p| p.ident.to_string())
            .collect();
        for input in &sig.inputs {
            let syn::FnArg::Typed(typed) = input else {
                continue;
            };
            let syn::Pat::Ident(name) = &*typed.pat else {
                continue;
            };
            match type_name(&typed.ty, &generic) {
                Some("Request") => self.requests.push(name.ident.to_string()),
                Some("Body" | "Incoming") if handler => self.bodies.push(name.ident.to_string()),
                _ => {}
            }
        }
        let range = self.ctx.source.span_range(block.span());
        self.stacker =
            (self.ctx.source.text.get(range)).is_some_and(|t| t.contains("serde_stacker"));
        self.visit_block(block);
        (self.locals, self.requests, self.bodies, self.stacker) = saved;
    }
}

/// The last segment of a type's path (`Request` of `hyper::Request<Incoming>`), behind
/// references too; `None` for a request whose body type is one of the function's `generic`
/// parameters.
fn type_name(ty: &syn::Type, generic: &[String]) -> Option<&'static str> {
    match ty {
        syn::Type::Path(p) => {
            let last = p.path.segments.last()?;
            let generic_body = match &last.arguments {
                syn::PathArguments::AngleBracketed(args) => args.args.iter().any(|arg| {
                    matches!(arg, syn::GenericArgument::Type(syn::Type::Path(t))
                        if t.path.get_ident().is_some_and(|id| generic.iter().any(|g| id == g)))
                }),
                _ => false,
            };
            let name = last.ident.to_string();
            ["Request", "Body", "Incoming"]
                .into_iter()
                .find(|n| *n == name && !generic_body)
        }
        syn::Type::Reference(r) => type_name(&r.elem, generic),
        _ => None,
    }
}

impl<'ast> Visit<'ast> for Walker<'_, '_> {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        // Test-only items: this family reports nothing in test code.
        if !crate::facts::rust::is_test_item(item) {
            visit::visit_item(self, item);
        }
    }

    fn visit_item_fn(&mut self, item: &'ast syn::ItemFn) {
        self.in_function(&item.sig, &item.block);
    }

    fn visit_impl_item_fn(&mut self, item: &'ast syn::ImplItemFn) {
        if !crate::facts::rust::is_cfg_test(&item.attrs) {
            self.in_function(&item.sig, &item.block);
        }
    }

    fn visit_local(&mut self, local: &'ast syn::Local) {
        visit::visit_local(self, local);
        let (syn::Pat::Ident(name), Some(init)) = (&local.pat, &local.init) else {
            return;
        };
        let name = name.ident.to_string();
        // A rebound name is no longer the parameter (`let body = Limited::new(body, n);`).
        let body = self.is_request_body(&init.expr);
        self.requests.retain(|r| *r != name);
        self.bodies.retain(|b| *b != name);
        if body {
            self.locals.insert(name, None);
        } else if self.value(&init.expr, 0).is_some() {
            self.locals.insert(name, Some((*init.expr).clone()));
        } else {
            self.locals.remove(&name);
        }
    }

    fn visit_expr_call(&mut self, call: &'ast syn::ExprCall) {
        self.call(call);
        visit::visit_expr_call(self, call);
    }

    fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
        self.method_call(call);
        visit::visit_expr_method_call(self, call);
    }
}
