//! Where a response's status is known: the stretches of a function body that only run when a
//! status check said success (or failure).
//!
//! A check counts only where it steers control flow: the branches of an `if` or `if let`, the
//! arms of a `match`, and the rest of a block after an early exit (`if !ok { return .. }`,
//! `ensure!(ok)`, `resp.error_for_status_ref()?;`, `let resp = resp.error_for_status()?;`).
//! A check whose result is only logged or stored steers nothing and makes no region.

use std::ops::Range;

use syn::spanned::Spanned;

use super::{DATA, Walk, contains_raise, root_name};
use crate::facts::rust::pattern_names;

/// What a check says about a response's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Status {
    Success,
    Failure,
}

/// A response's status known where a condition holds, and the check that says so.
#[derive(Debug, Clone)]
pub(super) struct Fact {
    pub root: String,
    pub status: Status,
    /// The check's byte offset (the finding cites its line).
    pub at: usize,
}

/// A stretch of code in which a fact holds.
pub(super) struct Region {
    pub fact: Fact,
    pub range: Range<usize>,
}

fn both(a: Vec<Fact>, b: &[Fact]) -> Vec<Fact> {
    a.into_iter()
        .filter(|f| b.iter().any(|g| g.root == f.root && g.status == f.status))
        .collect()
}

fn either(mut a: Vec<Fact>, b: Vec<Fact>) -> Vec<Fact> {
    a.extend(b);
    a
}

/// `Ok` or `Err` at the head of a pattern (`Ok(resp)`, `Err(_)`).
fn result_variant(pat: &syn::Pat) -> Option<bool> {
    match pat {
        syn::Pat::TupleStruct(t) => match t.path.segments.last()?.ident.to_string().as_str() {
            "Ok" => Some(true),
            "Err" => Some(false),
            _ => None,
        },
        syn::Pat::Paren(p) => result_variant(&p.pat),
        syn::Pat::Guard(g) => result_variant(&g.pat),
        _ => None,
    }
}

/// An arm's pattern without its guard, and the guard.
fn unguarded(pat: &syn::Pat) -> (&syn::Pat, Option<&syn::Expr>) {
    match pat {
        syn::Pat::Guard(g) => (&g.pat, Some(&g.guard)),
        pat => (pat, None),
    }
}

/// Whether an expression never lets control reach what follows it: `return`, `break`,
/// `continue`, `Err(..)?`, `bail!`/`panic!`-like macros, `process::exit`.
fn diverging_expr(expr: &syn::Expr) -> bool {
    match expr {
        syn::Expr::Return(_) | syn::Expr::Break(_) | syn::Expr::Continue(_) => true,
        syn::Expr::Macro(m) => DATA
            .diverging_macros
            .contains(&crate::facts::rust::macro_name(&m.mac)),
        syn::Expr::Try(t) => matches!(&*t.expr, syn::Expr::Call(c)
            if matches!(&*c.func, syn::Expr::Path(p) if p.path.is_ident("Err"))),
        syn::Expr::Call(c) => matches!(&*c.func, syn::Expr::Path(p)
            if p.path.segments.last().is_some_and(|s| s.ident == "exit")),
        _ => false,
    }
}

/// Whether a block always leaves before its end (a diverging statement at its top level).
fn diverges(block: &syn::Block) -> bool {
    block.stmts.iter().any(|stmt| match stmt {
        syn::Stmt::Expr(expr, _) => diverging_expr(expr),
        syn::Stmt::Macro(m) => DATA
            .diverging_macros
            .contains(&crate::facts::rust::macro_name(&m.mac)),
        _ => false,
    })
}

/// The condition of an assertion macro (`ensure!(cond, ..)`, `assert!(cond)`).
fn assertion(mac: &syn::Macro) -> Option<syn::Expr> {
    if !DATA
        .assert_macros
        .contains(&crate::facts::rust::macro_name(mac))
    {
        return None;
    }
    let args = mac
        .parse_body_with(syn::punctuated::Punctuated::<syn::Expr, syn::Token![,]>::parse_terminated)
        .ok()?;
    args.into_iter().next()
}

impl Walk<'_, '_> {
    fn fact(&self, root: String, status: Status, span: proc_macro2::Span) -> Fact {
        Fact {
            root,
            status,
            at: self.offset(span),
        }
    }

    /// What holds about response statuses where `cond` evaluates to `truth`.
    pub(super) fn known(&self, cond: &syn::Expr, truth: bool) -> Vec<Fact> {
        use syn::{BinOp, Expr};
        match cond {
            Expr::Unary(u) if matches!(u.op, syn::UnOp::Not(_)) => self.known(&u.expr, !truth),
            Expr::Paren(p) => self.known(&p.expr, truth),
            Expr::Group(g) => self.known(&g.expr, truth),
            Expr::Binary(b) => match (b.op, truth) {
                (BinOp::And(_), true) | (BinOp::Or(_), false) => {
                    either(self.known(&b.left, truth), self.known(&b.right, truth))
                }
                (BinOp::And(_), false) | (BinOp::Or(_), true) => {
                    both(self.known(&b.left, truth), &self.known(&b.right, truth))
                }
                (BinOp::Eq(_), _) => self.comparison(b, truth),
                (BinOp::Ne(_), _) => self.comparison(b, !truth),
                _ => Vec::new(),
            },
            Expr::MethodCall(m) => self.method_facts(m, truth),
            Expr::Let(l) => self.result_facts(&l.pat, &l.expr, truth),
            _ => Vec::new(),
        }
    }

    /// `status == 200` / `StatusCode::OK == resp.status()`, holding `equal`.
    fn comparison(&self, b: &syn::ExprBinary, equal: bool) -> Vec<Fact> {
        let pairs = [(&*b.left, &*b.right), (&*b.right, &*b.left)];
        pairs
            .iter()
            .find_map(|(status, value)| {
                self.is_success_value(value)
                    .then(|| self.status_root(status))
                    .flatten()
            })
            .map(|root| {
                let status = if equal {
                    Status::Success
                } else {
                    Status::Failure
                };
                vec![self.fact(root, status, b.span())]
            })
            .unwrap_or_default()
    }

    /// `status.is_success()`, `status.is_client_error()`, `resp.error_for_status_ref().is_ok()`.
    fn method_facts(&self, m: &syn::ExprMethodCall, truth: bool) -> Vec<Fact> {
        let method = m.method.to_string();
        let span = m.method.span();
        if DATA.success_methods.contains(&method)
            && let Some(root) = self.status_root(&m.receiver)
        {
            let status = if truth {
                Status::Success
            } else {
                Status::Failure
            };
            return vec![self.fact(root, status, span)];
        }
        if DATA.failure_methods.contains(&method)
            && truth
            && let Some(root) = self.status_root(&m.receiver)
        {
            return vec![self.fact(root, Status::Failure, span)];
        }
        let ok = match method.as_str() {
            "is_ok" => truth,
            "is_err" => !truth,
            _ => return Vec::new(),
        };
        match (contains_raise(&m.receiver), root_name(&m.receiver)) {
            (true, Some(root)) => {
                let status = if ok { Status::Success } else { Status::Failure };
                vec![self.fact(root, status, span)]
            }
            _ => Vec::new(),
        }
    }

    /// What holds where `pat` matches (`truth`) or fails to match a `Result` from
    /// `error_for_status()`: `Ok(resp)` is a success of the response and of what it binds.
    fn result_facts(&self, pat: &syn::Pat, scrutinee: &syn::Expr, truth: bool) -> Vec<Fact> {
        if !contains_raise(scrutinee) {
            return Vec::new();
        }
        let Some(ok) = result_variant(pat) else {
            return Vec::new();
        };
        let span = scrutinee.span();
        let mut roots: Vec<String> = root_name(scrutinee).into_iter().collect();
        if ok && truth {
            roots.extend(pattern_names(pat));
        }
        let status = if ok == truth {
            Status::Success
        } else {
            Status::Failure
        };
        roots
            .into_iter()
            .map(|root| self.fact(root, status, span))
            .collect()
    }

    fn add_regions(&mut self, facts: Vec<Fact>, range: Range<usize>) {
        for fact in facts {
            self.regions.push(Region {
                fact,
                range: range.clone(),
            });
        }
    }

    fn range_of(&self, span: proc_macro2::Span) -> Range<usize> {
        self.ctx.source.span_range(span)
    }

    /// The branches of an `if` / `if let` on a status.
    pub(super) fn on_if(&mut self, expr: &syn::ExprIf) {
        let then = self.known(&expr.cond, true);
        let range = self.range_of(expr.then_branch.span());
        self.add_regions(then, range);
        if let Some((_, otherwise)) = &expr.else_branch {
            let facts = self.known(&expr.cond, false);
            let range = self.range_of(otherwise.span());
            self.add_regions(facts, range);
        }
    }

    /// The arms of a `match` on a status (`StatusCode::OK =>`, `s if s.is_success() =>`) or
    /// on `error_for_status()` (`Ok(resp) =>`, `Err(_) =>`).
    pub(super) fn on_match(&mut self, expr: &syn::ExprMatch) {
        let status_root = self.status_root(&expr.expr);
        for arm in &expr.arms {
            let (pat, guard) = unguarded(&arm.pat);
            let mut facts = self.result_facts(pat, &expr.expr, true);
            if let Some(root) = &status_root {
                if self.success_pattern(pat) {
                    facts.push(self.fact(root.clone(), Status::Success, expr.expr.span()));
                }
                // `s if s.is_success() =>`: the binding is the status.
                if let syn::Pat::Ident(binding) = pat {
                    self.aliases.insert(binding.ident.to_string(), root.clone());
                }
            }
            if let Some(guard) = guard {
                facts.extend(self.known(guard, true));
            }
            let range = self.range_of(arm.body.span());
            self.add_regions(facts, range);
        }
    }

    /// What holds after a statement for the rest of its block: an early exit on a status, an
    /// assertion, a raise with `?`, or a `let` whose value went through `error_for_status`.
    pub(super) fn after_stmt(&mut self, stmt: &syn::Stmt, block: &syn::Block) {
        let facts = match stmt {
            syn::Stmt::Expr(syn::Expr::If(expr), _) => {
                let then_exits = diverges(&expr.then_branch);
                let else_exits = matches!(&expr.else_branch,
                    Some((_, e)) if matches!(&**e, syn::Expr::Block(b) if diverges(&b.block)));
                match (then_exits, else_exits) {
                    (true, _) => self.known(&expr.cond, false),
                    (false, true) => self.known(&expr.cond, true),
                    (false, false) => Vec::new(),
                }
            }
            syn::Stmt::Expr(syn::Expr::Macro(m), _) => self.asserted(&m.mac),
            syn::Stmt::Macro(m) => self.asserted(&m.mac),
            syn::Stmt::Expr(expr, _) => self.raised(expr),
            syn::Stmt::Local(local) => self.raised_local(local),
            syn::Stmt::Item(_) => Vec::new(),
        };
        if facts.is_empty() {
            return;
        }
        let start = self.range_of(stmt.span()).end;
        let end = self.range_of(block.span()).end;
        self.add_regions(facts, start..end.max(start));
    }

    fn asserted(&self, mac: &syn::Macro) -> Vec<Fact> {
        assertion(mac).map_or_else(Vec::new, |cond| self.known(&cond, true))
    }

    /// `resp.error_for_status_ref()?`: the response is a success from here on.
    fn raised(&self, expr: &syn::Expr) -> Vec<Fact> {
        if !matches!(expr, syn::Expr::Try(_)) || !contains_raise(expr) {
            return Vec::new();
        }
        root_name(expr)
            .map(|root| vec![self.fact(root, Status::Success, expr.span())])
            .unwrap_or_default()
    }

    /// `let resp = resp.error_for_status()?;`, `let Ok(resp) = .. else { return .. };`: what
    /// the `let` binds is a success from here on.
    fn raised_local(&self, local: &syn::Local) -> Vec<Fact> {
        let Some(init) = &local.init else {
            return Vec::new();
        };
        if !contains_raise(&init.expr) {
            return Vec::new();
        }
        let span = init.expr.span();
        let mut facts = self.raised(&init.expr);
        for name in pattern_names(&local.pat) {
            facts.push(self.fact(name, Status::Success, span));
        }
        facts
    }

    /// Whether a region speaks of the response at `at`: it covers the point, and the
    /// response's name is not bound anew between the region's start and the point.
    fn covers(&self, region: &Region, root: &str, at: usize) -> bool {
        region.fact.root == root
            && region.range.contains(&at)
            && !self
                .bindings
                .iter()
                .any(|(name, b)| name == root && region.range.start <= *b && *b < at)
    }

    /// The success check that governs a body read at one of `points` (the read, the place its
    /// value leaves): none when any of them lies on a failure path of the same response.
    pub(super) fn success_check(&self, root: &str, points: &[usize]) -> Option<usize> {
        let covering = |at: usize| {
            self.regions
                .iter()
                .filter(move |r| self.covers(r, root, at))
        };
        if points
            .iter()
            .any(|&at| covering(at).any(|r| r.fact.status == Status::Failure))
        {
            return None;
        }
        points.iter().find_map(|&at| {
            covering(at)
                .filter(|r| r.fact.status == Status::Success)
                .max_by_key(|r| r.range.start)
                .map(|r| r.fact.at)
        })
    }
}
