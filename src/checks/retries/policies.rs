//! Retry-crate policies: a constructor from `[[data.policy]]` and the method chain built on it
//! (also through a `let` binding and later calls on that variable), judged against the policy's
//! defaults; and tower `retry::Policy` implementations that retry with a ready future.

use std::collections::HashSet;

use syn::spanned::Spanned;
use syn::visit::{self, Visit};
use syn::{Block, Expr};

use super::{Cx, Policy, PolicyDelay, never_gives_up, words};
use crate::finding::Finding;
use crate::registry::Code;
use crate::registry::Severity;

pub(super) fn check(cx: &Cx<'_>, file: &syn::File, out: &mut Vec<Finding>) {
    let text = &cx.ctx.source.text;
    let policies = &cx.data.res001.policy;
    let mentions_policy = policies.iter().any(|p| {
        let name = p.path.rsplit("::").next().unwrap_or(&p.path);
        text.contains(name)
    });
    if mentions_policy {
        let mut finder = ChainFinder::new(cx, |e: &Expr| constructor(cx, e).is_some());
        finder.visit_file(file);
        for found in &finder.found {
            judge(cx, found, out);
        }
    }
    if cx.enabled(Code::RES001) && text.contains("Policy") {
        let mut tower = TowerPolicies { cx, out };
        tower.visit_file(file);
    }
}

/// The policy a constructor expression makes: `FixedInterval::from_millis(..)`, `NoDelay`,
/// `ExponentialBackoff { .. }`.
fn constructor(cx: &Cx<'_>, expr: &Expr) -> Option<&'static Policy> {
    let policies = &cx.data.res001.policy;
    match expr {
        Expr::Call(call) => {
            let Expr::Path(func) = &*call.func else {
                return None;
            };
            let path = resolve_with_globs(cx, &func.path);
            let (ty, ctor) = path.rsplit_once("::")?;
            policies
                .iter()
                .find(|p| p.path == ty && p.constructors.iter().any(|c| c == ctor))
        }
        Expr::Path(p) => {
            let path = resolve_with_globs(cx, &p.path);
            policies
                .iter()
                .find(|policy| policy.path == path && policy.constructors.is_empty())
        }
        Expr::Struct(s) => {
            let path = resolve_with_globs(cx, &s.path);
            policies.iter().find(|p| p.path == path)
        }
        _ => None,
    }
}

/// A path resolved through the imports, or through a glob import of a policy's module
/// (`use tokio_retry::strategy::*;`).
fn resolve_with_globs(cx: &Cx<'_>, path: &syn::Path) -> String {
    let resolved = cx.resolve(path);
    let Some(first) = path.segments.first().map(|s| s.ident.to_string()) else {
        return resolved;
    };
    if resolved.starts_with(&format!("{first}::")) || resolved == first {
        for policy in &cx.data.res001.policy {
            if let Some((module, name)) = policy.path.rsplit_once("::")
                && name == first
                && cx.imports.glob_imports(module)
            {
                return format!("{module}::{resolved}");
            }
        }
    }
    resolved
}

/// The methods of a chain (and a struct literal's fields) with their arguments.
type Methods<'a> = Vec<(String, Vec<&'a Expr>)>;

/// Where a chain's value goes.
#[derive(Debug, Clone)]
enum Use {
    /// An argument of a call (the resolved function path) or of a method (its name).
    Arg(String),
    /// Bound to a variable.
    Let(String),
    Other,
}

/// A method chain on a root expression: `root.a(..).b(..)`, or a struct literal's fields.
struct Chain<'a> {
    root: &'a Expr,
    /// Innermost first.
    methods: Methods<'a>,
    used: Use,
    /// The body of the function the chain is in, for following a `let`.
    body: Option<&'a Block>,
}

/// Finds the outermost method chains whose root matches, with where their value goes.
struct ChainFinder<'a, 'c, F> {
    cx: &'c Cx<'c>,
    is_root: F,
    found: Vec<Chain<'a>>,
    roots: HashSet<usize>,
    /// Where the expression about to be visited goes.
    pending: Option<Use>,
    bodies: Vec<&'a Block>,
}

impl<'a, 'c, F: Fn(&Expr) -> bool> ChainFinder<'a, 'c, F> {
    fn new(cx: &'c Cx<'c>, is_root: F) -> Self {
        ChainFinder {
            cx,
            is_root,
            found: Vec::new(),
            roots: HashSet::new(),
            pending: None,
            bodies: Vec::new(),
        }
    }

    fn chain(&self, expr: &'a Expr) -> Option<(&'a Expr, Methods<'a>)> {
        let mut methods = Vec::new();
        let mut current = expr;
        loop {
            current = match current {
                Expr::MethodCall(m) => {
                    methods.push((m.method.to_string(), m.args.iter().collect()));
                    &m.receiver
                }
                Expr::Paren(p) => &p.expr,
                _ => break,
            };
        }
        if !(self.is_root)(current) {
            return None;
        }
        methods.reverse();
        if let Expr::Struct(s) = current {
            for field in &s.fields {
                if let syn::Member::Named(name) = &field.member {
                    methods.insert(0, (name.to_string(), vec![&field.expr]));
                }
            }
        }
        Some((current, methods))
    }

    fn callee(&self, func: &Expr) -> String {
        match func {
            Expr::Path(p) => self.cx.resolve(&p.path),
            _ => String::new(),
        }
    }
}

impl<'a, F: Fn(&Expr) -> bool> Visit<'a> for ChainFinder<'a, '_, F> {
    fn visit_item_fn(&mut self, f: &'a syn::ItemFn) {
        self.bodies.push(&f.block);
        visit::visit_item_fn(self, f);
        self.bodies.pop();
    }

    fn visit_impl_item_fn(&mut self, f: &'a syn::ImplItemFn) {
        self.bodies.push(&f.block);
        visit::visit_impl_item_fn(self, f);
        self.bodies.pop();
    }

    fn visit_local(&mut self, local: &'a syn::Local) {
        if let Some(init) = &local.init {
            let mut pat = &local.pat;
            if let syn::Pat::Type(t) = pat {
                pat = &t.pat;
            }
            if let syn::Pat::Ident(ident) = pat {
                self.pending = Some(Use::Let(ident.ident.to_string()));
            }
            self.visit_expr(&init.expr);
            if let Some((_, otherwise)) = &init.diverge {
                self.visit_expr(otherwise);
            }
        }
    }

    fn visit_expr(&mut self, expr: &'a Expr) {
        let used = self.pending.take().unwrap_or(Use::Other);
        if let Some((root, methods)) = self.chain(expr)
            && self.roots.insert(root as *const Expr as usize)
        {
            self.found.push(Chain {
                root,
                methods,
                used: used.clone(),
                body: self.bodies.last().copied(),
            });
        }
        match expr {
            Expr::Call(c) => {
                self.visit_expr(&c.func);
                let callee = self.callee(&c.func);
                for arg in &c.args {
                    self.pending = Some(Use::Arg(callee.clone()));
                    self.visit_expr(arg);
                }
            }
            Expr::MethodCall(m) => {
                self.visit_expr(&m.receiver);
                for arg in &m.args {
                    self.pending = Some(Use::Arg(m.method.to_string()));
                    self.visit_expr(arg);
                }
            }
            // `&policy`, `policy.clone()` keep the use of the value.
            Expr::Reference(r) => {
                self.pending = Some(used);
                self.visit_expr(&r.expr);
            }
            Expr::Assign(a) => {
                if let Some(name) = super::delay::place(&a.left) {
                    self.pending = Some(Use::Let(name));
                }
                self.visit_expr(&a.right);
            }
            _ => visit::visit_expr(self, expr),
        }
    }
}

/// The methods applied to a variable later in its function, and where it goes.
fn variable_uses<'a>(cx: &Cx<'_>, body: &'a Block, name: &str) -> (Methods<'a>, Vec<Use>) {
    let is_var = |e: &Expr| matches!(e, Expr::Path(p) if p.path.is_ident(name));
    let mut finder = ChainFinder::new(cx, is_var);
    finder.visit_block(body);
    let mut methods = Vec::new();
    let mut uses = Vec::new();
    for chain in finder.found {
        // `policy.retry(op)`: the variable is put to use, as if it were passed on.
        if !chain.methods.is_empty() && !matches!(chain.used, Use::Let(_)) {
            uses.push(Use::Arg(chain.methods[chain.methods.len() - 1].0.clone()));
        }
        methods.extend(chain.methods);
        uses.push(chain.used);
    }
    (methods, uses)
}

fn is_none(expr: &Expr) -> bool {
    matches!(expr, Expr::Path(p) if p.path.is_ident("None"))
}

/// `false`, `0`, `0.0`: an argument that turns a setting off.
fn is_off(expr: &Expr) -> bool {
    match expr {
        Expr::Lit(syn::ExprLit { lit, .. }) => match lit {
            syn::Lit::Bool(b) => !b.value,
            syn::Lit::Int(i) => i.base10_digits() == "0",
            syn::Lit::Float(f) => f.base10_parse::<f64>().is_ok_and(|v| v == 0.0),
            _ => false,
        },
        _ => false,
    }
}

fn judge(cx: &Cx<'_>, chain: &Chain<'_>, out: &mut Vec<Finding>) {
    let Some(policy) = constructor(cx, chain.root) else {
        return;
    };
    let limits = &cx.data.res002;
    let jitter_data = &cx.data.res003;
    let mut methods = chain.methods.clone();
    let mut uses = vec![chain.used.clone()];
    if let (Use::Let(name), Some(body)) = (&chain.used, chain.body) {
        let (later, later_uses) = variable_uses(cx, body, name);
        methods.extend(later);
        uses.extend(later_uses);
    }

    let mut limited = policy.limited;
    let mut unlimited_explicitly = false;
    let mut capped = policy.capped;
    let mut jitter = policy.jitter;
    for (method, args) in &methods {
        let single = match args.as_slice() {
            [arg] => Some(*arg),
            _ => None,
        };
        if limits.unlimit_methods.contains(method) {
            limited = false;
            unlimited_explicitly = true;
        } else if limits.limit_methods.contains(method) {
            limited = !single.is_some_and(is_none);
            unlimited_explicitly = !limited;
        } else if limits.cap_methods.contains(method) {
            capped |= !single.is_some_and(is_none);
        } else if jitter_data.jitter_methods.contains(method) {
            jitter = !single.is_some_and(is_off);
        } else if method == "map" {
            // `.map(jitter)`
            jitter |= args
                .iter()
                .any(|a| words(cx.text(a.span())).any(|w| w.contains("jitter")));
        }
    }
    let consumed = uses
        .iter()
        .any(|u| matches!(u, Use::Arg(callee) if limits.consumers.iter().any(|c| c == callee)));
    let passed_on = uses.iter().any(|u| matches!(u, Use::Arg(_)));

    let source = cx.ctx.source;
    let at = cx.range(chain.root.span());
    if cx.enabled(Code::RES001) && policy.delay != PolicyDelay::Exponential {
        let finding = if policy.delay == PolicyDelay::None {
            Finding::at(
                Code::RES001,
                source,
                at.clone(),
                format!(
                    "{} retries immediately: no delay between attempts",
                    policy.name
                ),
            )
        } else {
            Finding::at(
                Code::RES001,
                source,
                at.clone(),
                format!("{} retries at a constant interval", policy.name),
            )
            .with_severity(Severity::Medium)
        };
        out.push(match &policy.fix {
            Some(fix) => finding.with_fix(fix.clone()),
            None => finding,
        });
    }
    let exponential = policy.delay == PolicyDelay::Exponential;
    if cx.enabled(Code::RES002) && !limited && (unlimited_explicitly || consumed) {
        let finding = never_gives_up(source, at.clone(), &policy.name, exponential && capped);
        out.push(match &policy.limit_fix {
            Some(fix) => finding.with_fix(fix.clone()),
            None => finding,
        });
    }
    if cx.enabled(Code::RES003) && exponential && !jitter && passed_on {
        let finding = Finding::at(
            Code::RES003,
            source,
            at,
            format!("{} backs off exponentially with no jitter", policy.name),
        );
        out.push(match &policy.jitter_fix {
            Some(fix) => finding.with_fix(fix.clone()),
            None => finding,
        });
    }
}

/// RES001: a tower `retry::Policy` whose `retry()` hands back a ready future retries at once.
struct TowerPolicies<'c, 'o> {
    cx: &'c Cx<'c>,
    out: &'o mut Vec<Finding>,
}

impl<'ast> Visit<'ast> for TowerPolicies<'_, '_> {
    fn visit_item_impl(&mut self, imp: &'ast syn::ItemImpl) {
        let data = &self.cx.data.res001;
        let is_policy = imp
            .trait_
            .as_ref()
            .is_some_and(|(path, _)| self.cx.resolve(path) == data.tower_policy_trait);
        if is_policy {
            for item in &imp.items {
                if let syn::ImplItem::Fn(f) = item
                    && f.sig.ident == "retry"
                {
                    self.retry_fn(&f.block);
                }
            }
        }
        visit::visit_item_impl(self, imp);
    }
}

impl TowerPolicies<'_, '_> {
    fn retry_fn(&mut self, block: &Block) {
        struct Calls<'a> {
            cx: &'a Cx<'a>,
            ready: Vec<proc_macro2::Span>,
            waits: bool,
        }
        impl<'ast> Visit<'ast> for Calls<'_> {
            fn visit_expr_call(&mut self, c: &'ast syn::ExprCall) {
                if let Expr::Path(p) = &*c.func {
                    let path = self.cx.resolve(&p.path);
                    let data = &self.cx.data.res001;
                    if data.ready_futures.contains(&path) {
                        self.ready.push(c.span());
                    }
                    let name = path.rsplit("::").next().unwrap_or(&path);
                    self.waits |= data.sleep_functions.contains(&path)
                        || words(name).any(|w| data.delay_words.contains(&w));
                }
                visit::visit_expr_call(self, c);
            }
            fn visit_expr_method_call(&mut self, m: &'ast syn::ExprMethodCall) {
                let data = &self.cx.data.res001;
                self.waits |= words(&m.method.to_string()).any(|w| data.delay_words.contains(&w));
                visit::visit_expr_method_call(self, m);
            }
        }
        let mut calls = Calls {
            cx: self.cx,
            ready: Vec::new(),
            waits: false,
        };
        calls.visit_block(block);
        if calls.waits {
            return;
        }
        for span in calls.ready {
            self.out.push(
                Finding::at(
                    Code::RES001,
                    self.cx.ctx.source,
                    self.cx.range(span),
                    "tower retry `Policy` retries immediately: `retry()` returns a ready future",
                )
                .with_fix(
                    "return a future that sleeps a growing, jittered delay (`tokio::time::sleep(d)`) before the retry",
                ),
            );
        }
    }
}
