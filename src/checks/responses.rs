//! OBS005: an HTTP response judged a success on its status alone, whose raw body is then
//! returned or stored, on that success path, without being parsed or checked in the same
//! function.
//!
//! Each function body is walked once with its chain of ancestors, so that every body read and
//! every later use of the variable holding the body knows where its value goes (its `Fate`),
//! and every status check records where it steers control flow (`flow`): a body read on a
//! failure path feeds an error and is never reported.
//! Anything the walk cannot follow (a closure, a macro, an unknown function) counts as a check:
//! no finding then. The vocabularies are the rule's `[data]`.

mod flow;

use std::collections::HashMap;
use std::sync::LazyLock;

use proc_macro2::{TokenStream, TokenTree};
use serde::Deserialize;
use syn::spanned::Spanned;
use syn::visit::{self, Visit};

use super::{FileContext, Parsed, TreeQuery};
use crate::facts::imports::Imports;
use crate::facts::rust::pattern_names;
use crate::finding::Finding;
use crate::registry::Code;

#[derive(Deserialize)]
struct Data {
    body_methods: Vec<String>,
    raise_methods: Vec<String>,
    success_methods: Vec<String>,
    failure_methods: Vec<String>,
    diverging_macros: Vec<String>,
    assert_macros: Vec<String>,
    transparent_methods: Vec<String>,
    constructors: Vec<String>,
    store_methods: Vec<String>,
}

static DATA: LazyLock<Data> = LazyLock::new(|| Code::OBS005.rule().data());

pub fn check_file(ctx: &FileContext<'_>, parsed: &Parsed<'_>, out: &mut Vec<Finding>) {
    if !ctx.rules.enabled(Code::OBS005) {
        return;
    }
    let Some(rust) = &parsed.rust else {
        return;
    };
    let text = &ctx.source.text;
    let may_check = text.contains("status")
        || DATA
            .success_methods
            .iter()
            .any(|m| text.contains(m.as_str()));
    if !may_check {
        return;
    }
    let mut functions = Functions {
        ctx,
        imports: rust.imports,
        returned: Vec::new(),
        unchecked_calls: HashMap::new(),
        out,
    };
    functions.visit_file(rust.ast);
    // A body a function returns is checked by its callers when the file calls it and every call
    // parses, inspects or passes on the value (`serde_json::from_str(&call_api(..)?)`).
    for (function, finding) in std::mem::take(&mut functions.returned) {
        let checked_by_callers = functions
            .unchecked_calls
            .get(&function)
            .is_some_and(|unchecked| !unchecked.contains(&true));
        if !checked_by_callers {
            functions.out.push(finding);
        }
    }
}

/// A finding needs a status read (`.status()`, `.status`, `.status_code`, in code or in a
/// macro's tokens) and a body read (a method call).
pub fn needs_tree(query: &TreeQuery<'_>) -> bool {
    query.live(Code::OBS005)
        && (query.has_member("status")
            || query.has_member("status_code")
            || DATA.raise_methods.iter().any(|m| query.has_method(m)))
        && DATA.body_methods.iter().any(|m| query.has_method(m))
}

pub fn gate_words() -> Vec<String> {
    let words = ["status", "status_code"].map(String::from);
    words
        .into_iter()
        .chain(DATA.raise_methods.iter().cloned())
        .chain(DATA.success_methods.iter().cloned())
        .chain(DATA.body_methods.iter().cloned())
        .collect()
}

/// Finds every function body and judges it on its own; a body returned raw waits for the calls
/// of its function in the file (see `check_file`).
struct Functions<'a, 'o> {
    ctx: &'a FileContext<'a>,
    imports: &'a Imports,
    /// Findings of a body returned raw, with the name of the function that returns it.
    returned: Vec<(String, Finding)>,
    /// By the name of the function or method called: whether each call's value goes unchecked
    /// in its caller (returned, stored or dropped).
    unchecked_calls: HashMap<String, Vec<bool>>,
    out: &'o mut Vec<Finding>,
}

impl Functions<'_, '_> {
    /// Judges the body of the function `name`.
    fn judge(&mut self, name: &syn::Ident, body: &syn::Block) {
        let mut walk = Walk {
            ctx: self.ctx,
            imports: self.imports,
            stack: vec![Node::FnBody],
            aliases: HashMap::new(),
            regions: Vec::new(),
            bindings: Vec::new(),
            reads: Vec::new(),
            uses: Vec::new(),
            calls: Vec::new(),
        };
        walk.visit_block(body);
        for (name, unchecked) in walk.call_fates() {
            self.unchecked_calls
                .entry(name)
                .or_default()
                .push(unchecked);
        }
        for (fate, finding) in walk.findings() {
            match fate {
                Fate::Returned => self.returned.push((name.to_string(), finding)),
                _ => self.out.push(finding),
            }
        }
    }
}

impl<'ast> Visit<'ast> for Functions<'_, '_> {
    fn visit_item_fn(&mut self, item: &'ast syn::ItemFn) {
        self.judge(&item.sig.ident, &item.block);
        visit::visit_item_fn(self, item);
    }
    fn visit_impl_item_fn(&mut self, item: &'ast syn::ImplItemFn) {
        self.judge(&item.sig.ident, &item.block);
        visit::visit_impl_item_fn(self, item);
    }
    fn visit_trait_item_fn(&mut self, item: &'ast syn::TraitItemFn) {
        if let Some(body) = &item.default {
            self.judge(&item.sig.ident, body);
        }
        visit::visit_trait_item_fn(self, item);
    }
}

/// Where a value goes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Fate {
    /// The function's value (its tail, a `return`).
    Returned,
    /// A struct field, a field assignment, a collection or a channel.
    Stored,
    /// Parsed, inspected, or handed to something the walk does not follow.
    Checked,
    /// Dropped.
    Discarded,
    /// Bound to a variable: its uses decide.
    Bound(String),
}

/// An ancestor in the walk.
#[derive(Clone, Copy)]
enum Node<'ast> {
    FnBody,
    Block(&'ast syn::Block),
    Stmt(&'ast syn::Stmt),
    Local(&'ast syn::Local),
    Arm(&'ast syn::Arm),
    Expr(&'ast syn::Expr),
}

fn ptr<T>(node: &T) -> *const () {
    node as *const T as *const ()
}

impl Node<'_> {
    fn ptr(self) -> *const () {
        match self {
            Node::FnBody => std::ptr::null(),
            Node::Block(b) => ptr(b),
            Node::Stmt(s) => ptr(s),
            Node::Local(l) => ptr(l),
            Node::Arm(a) => ptr(a),
            Node::Expr(e) => ptr(e),
        }
    }
}

struct BodyRead {
    method: String,
    range: std::ops::Range<usize>,
    /// The response variable read from.
    root: Option<String>,
    /// Where the read's own receiver chain checks the status (`.error_for_status()?.text()`).
    chain_check: Option<usize>,
    fate: Fate,
}

struct Walk<'a, 'ast> {
    ctx: &'a FileContext<'a>,
    imports: &'a Imports,
    stack: Vec<Node<'ast>>,
    /// `let status = resp.status();`: `status` -> `resp`.
    aliases: HashMap<String, String>,
    /// Where a check steers control flow: the stretches in which a response's status is known.
    regions: Vec<flow::Region>,
    /// Every name a `let` binds, with the binding's byte offset (a response shadowed by a new
    /// one is no longer the checked one).
    bindings: Vec<(String, usize)>,
    reads: Vec<BodyRead>,
    /// Every use of a plain variable: its name, byte offset and fate.
    uses: Vec<(String, usize, Fate)>,
    /// Every call of a function or method by name: the name, the call's span and its fate.
    calls: Vec<(String, std::ops::Range<usize>, Fate)>,
}

/// The variable at the root of a receiver chain (`resp` in `resp.body_mut().read_to_string()`).
fn root_name(expr: &syn::Expr) -> Option<String> {
    match expr {
        syn::Expr::MethodCall(m) => root_name(&m.receiver),
        syn::Expr::Field(f) => root_name(&f.base),
        syn::Expr::Await(a) => root_name(&a.base),
        syn::Expr::Try(t) => root_name(&t.expr),
        syn::Expr::Paren(p) => root_name(&p.expr),
        syn::Expr::Reference(r) => root_name(&r.expr),
        syn::Expr::Unary(u) if matches!(u.op, syn::UnOp::Deref(_)) => root_name(&u.expr),
        syn::Expr::Path(p) if p.qself.is_none() && p.path.segments.len() == 1 => {
            Some(p.path.segments[0].ident.to_string())
        }
        _ => None,
    }
}

/// Whether a receiver chain calls one of `methods` or reads a field named so.
fn chain_has(expr: &syn::Expr, methods: &[&str]) -> bool {
    match expr {
        syn::Expr::MethodCall(m) => {
            methods.contains(&m.method.to_string().as_str()) || chain_has(&m.receiver, methods)
        }
        syn::Expr::Field(f) => {
            matches!(&f.member, syn::Member::Named(n) if methods.contains(&n.to_string().as_str()))
                || chain_has(&f.base, methods)
        }
        syn::Expr::Await(a) => chain_has(&a.base, methods),
        syn::Expr::Try(t) => chain_has(&t.expr, methods),
        syn::Expr::Paren(p) => chain_has(&p.expr, methods),
        syn::Expr::Reference(r) => chain_has(&r.expr, methods),
        _ => false,
    }
}

/// The first method in a receiver chain (outermost first) named one of `methods`.
fn chain_method<'e>(expr: &'e syn::Expr, methods: &[&str]) -> Option<&'e syn::Ident> {
    match expr {
        syn::Expr::MethodCall(m) if methods.contains(&m.method.to_string().as_str()) => {
            Some(&m.method)
        }
        syn::Expr::MethodCall(m) => chain_method(&m.receiver, methods),
        syn::Expr::Await(a) => chain_method(&a.base, methods),
        syn::Expr::Try(t) => chain_method(&t.expr, methods),
        syn::Expr::Paren(p) => chain_method(&p.expr, methods),
        _ => None,
    }
}

/// Whether an expression anywhere calls a method that raises on a failed status.
fn contains_raise(expr: &syn::Expr) -> bool {
    struct Finder(bool);
    impl<'ast> Visit<'ast> for Finder {
        fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
            if DATA.raise_methods.contains(&call.method.to_string()) {
                self.0 = true;
            }
            visit::visit_expr_method_call(self, call);
        }
    }
    let mut finder = Finder(false);
    finder.visit_expr(expr);
    finder.0
}

fn is_200(expr: &syn::Expr) -> bool {
    matches!(expr, syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Int(i), .. })
        if i.base10_digits() == "200")
}

impl Walk<'_, '_> {
    fn offset(&self, span: proc_macro2::Span) -> usize {
        self.ctx.source.span_range(span).start
    }

    fn is_ok_path(&self, path: &syn::Path) -> bool {
        self.imports.resolve(path).ends_with("StatusCode::OK")
    }

    /// A success criterion: `200` or `StatusCode::OK`.
    fn is_success_value(&self, expr: &syn::Expr) -> bool {
        match expr {
            syn::Expr::Path(p) => self.is_ok_path(&p.path),
            syn::Expr::Paren(p) => self.is_success_value(&p.expr),
            expr => is_200(expr),
        }
    }

    /// A status: `resp.status()`, `resp.status().as_u16()`, `resp.status`, or a variable
    /// bound to one.
    fn status_root(&self, expr: &syn::Expr) -> Option<String> {
        if chain_has(expr, &["status", "status_code"]) {
            return root_name(expr);
        }
        let name = root_name(expr)?;
        self.aliases.get(&name).cloned()
    }

    /// A `match` arm pattern that names success: `StatusCode::OK`, `200`, `200..=299`.
    fn success_pattern(&self, pat: &syn::Pat) -> bool {
        match pat {
            syn::Pat::Path(p) => self.is_ok_path(&p.path),
            syn::Pat::Lit(l) => matches!(&l.lit, syn::Lit::Int(i) if i.base10_digits() == "200"),
            syn::Pat::Range(r) => r.start.as_deref().is_some_and(is_200),
            syn::Pat::Or(or) => or.cases.iter().any(|c| self.success_pattern(c)),
            syn::Pat::Paren(p) => self.success_pattern(&p.pat),
            syn::Pat::Guard(g) => self.success_pattern(&g.pat),
            _ => false,
        }
    }

    /// Where the value of the innermost ancestor goes.
    fn fate(&self) -> Fate {
        let mut child = self.stack.last().map_or(std::ptr::null(), |n| n.ptr());
        for node in self.stack.iter().rev().skip(1) {
            let next = match *node {
                Node::FnBody => return Fate::Returned,
                Node::Block(block) => match block.stmts.last() {
                    Some(last) if ptr(last) == child => None,
                    _ => Some(Fate::Discarded),
                },
                Node::Stmt(syn::Stmt::Expr(_, Some(_))) => Some(Fate::Discarded),
                Node::Stmt(_) => None,
                Node::Local(local) => Some(match &local.pat {
                    _ if local.init.as_ref().is_none_or(|i| ptr(&*i.expr) != child) => {
                        Fate::Discarded
                    }
                    syn::Pat::Ident(p) => Fate::Bound(p.ident.to_string()),
                    syn::Pat::Wild(_) => Fate::Discarded,
                    syn::Pat::Type(t) => match &*t.pat {
                        syn::Pat::Ident(p) => Fate::Bound(p.ident.to_string()),
                        _ => Fate::Checked,
                    },
                    _ => Fate::Checked,
                }),
                // The body passes its value on; the guard (in the pattern) inspects.
                Node::Arm(arm) if ptr(&*arm.body) == child => None,
                Node::Arm(_) => Some(Fate::Checked),
                Node::Expr(expr) => self.expr_fate(expr, child),
            };
            if let Some(fate) = next {
                return fate;
            }
            child = node.ptr();
        }
        Fate::Checked
    }

    /// Where a parent expression sends its child's value: `None` when the value passes
    /// through unchanged.
    fn expr_fate(&self, parent: &syn::Expr, child: *const ()) -> Option<Fate> {
        use syn::Expr;
        match parent {
            Expr::Await(_)
            | Expr::Try(_)
            | Expr::Paren(_)
            | Expr::Group(_)
            | Expr::Reference(_)
            | Expr::Block(_)
            | Expr::Async(_)
            | Expr::Unsafe(_)
            | Expr::Tuple(_)
            | Expr::Array(_) => None,
            Expr::MethodCall(m) if ptr(&*m.receiver) == child => {
                if DATA.transparent_methods.contains(&m.method.to_string()) {
                    None
                } else {
                    Some(Fate::Checked)
                }
            }
            Expr::MethodCall(m) if DATA.store_methods.contains(&m.method.to_string()) => {
                Some(Fate::Stored)
            }
            Expr::Call(call) if ptr(&*call.func) != child => {
                let Expr::Path(func) = &*call.func else {
                    return Some(Fate::Checked);
                };
                let segments: Vec<String> = func
                    .path
                    .segments
                    .iter()
                    .map(|s| s.ident.to_string())
                    .collect();
                let tail = segments[segments.len().saturating_sub(2)..].join("::");
                let last = segments.last().cloned().unwrap_or_default();
                if DATA.constructors.contains(&tail) || DATA.constructors.contains(&last) {
                    None
                } else {
                    Some(Fate::Checked)
                }
            }
            Expr::Return(_) => Some(Fate::Returned),
            Expr::Struct(_) => Some(Fate::Stored),
            Expr::Assign(a) if ptr(&*a.right) == child => {
                Some(if matches!(&*a.left, Expr::Field(_) | Expr::Index(_)) {
                    Fate::Stored
                } else {
                    Fate::Checked
                })
            }
            Expr::If(i) if ptr(&*i.cond) != child => None,
            Expr::Match(m) if ptr(&*m.expr) != child => None,
            _ => Some(Fate::Checked),
        }
    }

    /// Variable uses written inside a macro (`format!("{}", body)`), read from its tokens:
    /// a macro is not followed, so each use counts as a check. (An assertion macro's
    /// condition is read in `flow`.)
    fn scan_macro(&mut self, tokens: TokenStream) {
        for token in tokens {
            match token {
                TokenTree::Group(g) => self.scan_macro(g.stream()),
                TokenTree::Ident(ident) => {
                    let offset = self.offset(ident.span());
                    self.uses.push((ident.to_string(), offset, Fate::Checked));
                }
                _ => {}
            }
        }
    }

    fn on_expr(&mut self, expr: &syn::Expr) {
        match expr {
            syn::Expr::MethodCall(m) => {
                let method = m.method.to_string();
                if DATA.body_methods.contains(&method) {
                    self.on_body_read(m, method);
                } else {
                    self.on_call(method, expr);
                }
            }
            syn::Expr::Call(call) => {
                if let syn::Expr::Path(func) = &*call.func
                    && let Some(last) = func.path.segments.last()
                {
                    self.on_call(last.ident.to_string(), expr);
                }
            }
            syn::Expr::If(i) => self.on_if(i),
            syn::Expr::Match(m) => self.on_match(m),
            syn::Expr::Path(p) if p.qself.is_none() && p.path.segments.len() == 1 => {
                let name = p.path.segments[0].ident.to_string();
                let fate = self.fate();
                let start = self.offset(p.span());
                self.uses.push((name, start, fate));
            }
            syn::Expr::Macro(m) => self.scan_macro(m.mac.tokens.clone()),
            _ => {}
        }
    }

    fn on_call(&mut self, name: String, call: &syn::Expr) {
        let range = self.ctx.source.span_range(call.span());
        let fate = self.fate();
        self.calls.push((name, range, fate));
    }

    /// Each call's callee and whether its value goes unchecked here: dropped, or leaving the
    /// function raw.
    fn call_fates(&self) -> impl Iterator<Item = (String, bool)> + '_ {
        self.calls.iter().map(|(name, range, fate)| {
            let unchecked =
                *fate == Fate::Discarded || self.escapes(fate, range.end, range.start, 0).is_some();
            (name.clone(), unchecked)
        })
    }

    fn on_body_read(&mut self, call: &syn::ExprMethodCall, method: String) {
        let fate = match (method.as_str(), call.args.len()) {
            ("text_with_charset", 1) => self.fate(),
            ("read_to_string" | "read_to_vec", 1) => match root_name(&call.args[0]) {
                Some(buffer) => Fate::Bound(buffer),
                None => return,
            },
            (_, 0) => self.fate(),
            _ => return,
        };
        let start = self.offset(call.method.span());
        let end = self.ctx.source.span_range(call.span()).end;
        let mut raise_and_success: Vec<&str> =
            DATA.raise_methods.iter().map(String::as_str).collect();
        raise_and_success.extend(DATA.success_methods.iter().map(String::as_str));
        let chain_check = chain_method(&call.receiver, &raise_and_success)
            .map(|method| self.offset(method.span()));
        self.reads.push(BodyRead {
            method,
            range: start..end.max(start),
            root: root_name(&call.receiver),
            chain_check,
            fate,
        });
    }

    /// Whether a value with this fate, read at `after`, leaves the function raw: returned or
    /// stored, and never checked on the way. Also where it leaves (`at` when it leaves
    /// directly, else the use that takes it out).
    fn escapes(&self, fate: &Fate, after: usize, at: usize, depth: usize) -> Option<(Fate, usize)> {
        match fate {
            Fate::Returned | Fate::Stored => Some((fate.clone(), at)),
            Fate::Checked | Fate::Discarded => None,
            Fate::Bound(_) if depth > 3 => None,
            Fate::Bound(name) => {
                let uses: Vec<&(String, usize, Fate)> = self
                    .uses
                    .iter()
                    .filter(|(n, at, _)| n == name && *at >= after)
                    .collect();
                if uses.iter().any(|(_, _, f)| *f == Fate::Checked) {
                    return None;
                }
                uses.iter()
                    .find_map(|(_, at, f)| self.escapes(f, *at, *at, depth + 1))
            }
        }
    }

    /// Each finding with how the body leaves the function (returned or stored).
    fn findings(&self) -> Vec<(Fate, Finding)> {
        let mut out = Vec::new();
        for read in &self.reads {
            let Some((fate, leaves_at)) =
                self.escapes(&read.fate, read.range.end, read.range.start, 0)
            else {
                continue;
            };
            // The read, or the place its value leaves, must be on the success path of a
            // status check of the same response.
            let checked_at = read.chain_check.or_else(|| {
                let root = read.root.as_deref()?;
                self.success_check(root, &[read.range.start, leaves_at])
            });
            let Some(checked_at) = checked_at else {
                continue;
            };
            let what = if fate == Fate::Stored {
                "stored"
            } else {
                "returned"
            };
            let line = self.ctx.source.line_of(checked_at);
            let finding = Finding::at(
                Code::OBS005,
                self.ctx.source,
                read.range.clone(),
                format!(
                    "the raw body from `{}()` is {what} unchecked on the success path of the status-only check at line {line}: a 200 carrying a login or error page passes as data",
                    read.method
                ),
            );
            out.push((fate, finding));
        }
        out
    }
}

impl<'ast> Visit<'ast> for Walk<'_, 'ast> {
    fn visit_item(&mut self, _: &'ast syn::Item) {}

    fn visit_block(&mut self, block: &'ast syn::Block) {
        self.stack.push(Node::Block(block));
        visit::visit_block(self, block);
        self.stack.pop();
    }

    fn visit_stmt(&mut self, stmt: &'ast syn::Stmt) {
        if let Some(Node::Block(block)) = self.stack.last() {
            self.after_stmt(stmt, block);
        }
        self.stack.push(Node::Stmt(stmt));
        if let syn::Stmt::Macro(m) = stmt {
            self.scan_macro(m.mac.tokens.clone());
        }
        visit::visit_stmt(self, stmt);
        self.stack.pop();
    }

    fn visit_local(&mut self, local: &'ast syn::Local) {
        if let Some(init) = &local.init
            && let syn::Pat::Ident(p) = &local.pat
            && chain_has(&init.expr, &["status", "status_code"])
            && let Some(root) = root_name(&init.expr)
        {
            self.aliases.insert(p.ident.to_string(), root);
        }
        let start = self.offset(local.span());
        for name in pattern_names(&local.pat) {
            self.bindings.push((name, start));
        }
        self.stack.push(Node::Local(local));
        visit::visit_local(self, local);
        self.stack.pop();
    }

    fn visit_arm(&mut self, arm: &'ast syn::Arm) {
        self.stack.push(Node::Arm(arm));
        visit::visit_arm(self, arm);
        self.stack.pop();
    }

    fn visit_expr(&mut self, expr: &'ast syn::Expr) {
        self.stack.push(Node::Expr(expr));
        self.on_expr(expr);
        visit::visit_expr(self, expr);
        self.stack.pop();
    }
}
