//! Hand-written retry loops. A loop is a retry loop when all four conditions of the reference
//! hold: (1) `loop`, `while`, `while let Err(_) = ..` or `for` over a range; (2) a fallible call
//! whose arguments do not change between passes is inspected and its success path leaves the
//! loop; (3) its failure path does not leave unconditionally; (4) there is an attempt counter or
//! a retry-like name. The delay on the failure path decides RES001 and RES003; whether the
//! failure path can leave at all decides RES002.

use std::cell::OnceCell;
use std::collections::{HashMap, HashSet};

use proc_macro2::{Span, TokenTree};
use syn::spanned::Spanned;
use syn::visit::{self, Visit};
use syn::{BinOp, Block, Expr, Pat, Stmt};

use super::delay::{AssignKind, Delay, Growth, LoopVars, Tracer, place};
use super::purpose::{self, Purpose};
use super::random::RandomSources;
use super::rate_limit;
use super::{Cx, never_gives_up, words};
use crate::facts::rust::pattern_names;
use crate::finding::Finding;
use crate::registry::Code;
use crate::registry::Severity;

pub(super) fn check(cx: &Cx<'_>, file: &syn::File, out: &mut Vec<Finding>) {
    let mut visitor = LoopVisitor {
        cx,
        file,
        random: OnceCell::new(),
        retry_after: OnceCell::new(),
        out,
        fn_names: Vec::new(),
    };
    visitor.visit_file(file);
}

struct LoopVisitor<'c, 'o> {
    cx: &'c Cx<'c>,
    file: &'c syn::File,
    /// The file's random sources, read when a loop first needs them.
    random: OnceCell<RandomSources>,
    /// Whether the file's code reads `Retry-After`, read when a loop first needs it.
    retry_after: OnceCell<bool>,
    out: &'o mut Vec<Finding>,
    fn_names: Vec<String>,
}

impl<'ast> Visit<'ast> for LoopVisitor<'_, '_> {
    fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
        self.fn_names.push(f.sig.ident.to_string());
        visit::visit_item_fn(self, f);
        self.fn_names.pop();
    }

    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        self.fn_names.push(f.sig.ident.to_string());
        visit::visit_impl_item_fn(self, f);
        self.fn_names.pop();
    }

    fn visit_expr_loop(&mut self, l: &'ast syn::ExprLoop) {
        self.analyse(RetryLoop {
            keyword: l.loop_token.span,
            whole: l.span(),
            label: l.label.as_ref().map(|l| l.name.ident.to_string()),
            body: &l.body,
            header_bounded: false,
            range_vars: Vec::new(),
            range_loop: false,
            passes: None,
            while_let_err: None,
        });
        visit::visit_expr_loop(self, l);
    }

    fn visit_expr_while(&mut self, w: &'ast syn::ExprWhile) {
        let mut parts = RetryLoop {
            keyword: w.while_token.span,
            whole: w.span(),
            label: w.label.as_ref().map(|l| l.name.ident.to_string()),
            body: &w.body,
            header_bounded: true,
            range_vars: Vec::new(),
            range_loop: false,
            passes: None,
            while_let_err: None,
        };
        let recognised = match &*w.cond {
            // `while let Err(e) = op()`: leaves the loop on success by itself.
            Expr::Let(l) => {
                parts.header_bounded = false;
                parts.while_let_err = Some(&l.expr);
                pattern_kind(&l.pat).0 == PatKind::Err
            }
            Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Bool(b),
                ..
            }) => {
                parts.header_bounded = !b.value;
                true
            }
            _ => true,
        };
        if recognised {
            self.analyse(parts);
        }
        visit::visit_expr_while(self, w);
    }

    fn visit_expr_for_loop(&mut self, f: &'ast syn::ExprForLoop) {
        let mut range = &*f.expr;
        while let Expr::Paren(p) = range {
            range = &p.expr;
        }
        if let Expr::Range(r) = range {
            self.analyse(RetryLoop {
                keyword: f.for_token.span,
                whole: f.span(),
                label: f.label.as_ref().map(|l| l.name.ident.to_string()),
                body: &f.body,
                header_bounded: r.end.is_some(),
                range_vars: pattern_names(&f.pat),
                range_loop: true,
                passes: literal_passes(r),
                while_let_err: None,
            });
        }
        visit::visit_expr_for_loop(self, f);
    }
}

/// The passes of a range whose bounds are integer literals (`0..10_000`, `1..=5`).
fn literal_passes(range: &syn::ExprRange) -> Option<u64> {
    let bound = |e: Option<&Expr>| match e {
        None => Some(0),
        Some(Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Int(n),
            ..
        })) => n.base10_parse::<u64>().ok(),
        Some(_) => None,
    };
    let start = bound(range.start.as_deref())?;
    let end = bound(Some(range.end.as_deref()?))?;
    let inclusive = matches!(range.limits, syn::RangeLimits::Closed(_));
    Some(end.saturating_sub(start) + u64::from(inclusive))
}

/// A loop that may be a retry loop.
struct RetryLoop<'a> {
    keyword: Span,
    whole: Span,
    label: Option<String>,
    body: &'a Block,
    /// The header ends the loop: `for` over a closed range, `while cond`.
    header_bounded: bool,
    range_vars: Vec<String>,
    /// A `for` over a range: its range counts the attempts, named or not (`for _ in 0..3`).
    range_loop: bool,
    /// How many passes the range makes, when its bounds are written as numbers.
    passes: Option<u64>,
    /// The inspected call of `while let Err(_) = call`.
    while_let_err: Option<&'a Expr>,
}

/// Where the success path of a retry loop runs; the rest of the body is the failure path.
struct Success {
    /// Addresses of the success branches.
    branches: HashSet<usize>,
    /// The success path continues with the body's statements from this index.
    rest_from: Option<usize>,
    /// The failure path goes round again on errors beyond transport failures: some retrying
    /// error arm has no guard, or a guard that checks more than the error's kind
    /// (`Err(e) if e.is_timeout()` retries only timeouts).
    any_error: bool,
    /// Success is decided by a response status (`Ok(r) if r.status().is_success()`,
    /// `if resp.status().is_success()`), and another response goes round again.
    on_status: bool,
}

impl Default for Success {
    fn default() -> Self {
        Success {
            branches: HashSet::new(),
            rest_from: None,
            any_error: true,
            on_status: false,
        }
    }
}

fn address<T>(node: &T) -> usize {
    node as *const T as usize
}

/// The delay on the failure path.
enum LoopDelay {
    None,
    Known(Delay),
    Unknown,
}

/// A loop recognised as a retry loop, with what its failure path does.
struct Recognised<'a> {
    purpose: Purpose,
    /// The inspected call, and what the failure path covers.
    failures: rate_limit::Failures<'a>,
    /// Arguments of the sleeps on the failure path.
    sleeps: Vec<&'a Expr>,
    delay: LoopDelay,
    /// The header or the failure path can end the loop.
    bounded: bool,
    jitter_in_text: bool,
}

impl LoopVisitor<'_, '_> {
    fn analyse(&mut self, parts: RetryLoop<'_>) {
        let Some(found) = self.recognise(&parts) else {
            return;
        };
        let spins = matches!(found.delay, LoopDelay::None)
            && parts
                .passes
                .is_some_and(|n| n >= self.cx.data.res001.spin_passes);
        match found.purpose {
            Purpose::Interactive => {}
            _ if spins => {}
            Purpose::Supervisor => self.report_supervisor(&parts, &found.delay),
            Purpose::Local => self.report_limit(&parts, &found),
            Purpose::Retry => {
                self.report(&parts, &found);
                self.report_limit(&parts, &found);
                self.report_rate_limit(&parts, &found);
            }
        }
    }

    /// The loop as a retry loop (the conditions of the module's reference), with its purpose
    /// and its failure path's delay; `None` when it is none.
    fn recognise<'a>(&self, parts: &RetryLoop<'a>) -> Option<Recognised<'a>> {
        let cx = self.cx;
        let stmts = &parts.body.stmts;
        let (inspected, success) = match parts.while_let_err {
            Some(inspected) => (!block_exits(cx, stmts)).then(|| (inspected, Success::default())),
            None => find_shape(cx, stmts),
        }?;
        let random = self
            .random
            .get_or_init(|| RandomSources::of_file(cx, self.file));
        let vars = collect_vars(cx, random, parts.body, &parts.range_vars, inspected);
        if !is_repeatable(cx, random, inspected, &vars, &parts.range_vars) {
            return None;
        }
        let text = cx.text(parts.whole);
        let data = &cx.data.res001;
        let text_words: HashSet<String> = words(text)
            .chain(
                self.fn_names
                    .last()
                    .map(String::as_str)
                    .into_iter()
                    .flat_map(words),
            )
            .chain(parts.label.iter().flat_map(|l| words(l)))
            .collect();
        if data
            .immediate_retry_errors
            .iter()
            .any(|e| text.contains(e.as_str()))
        {
            return None;
        }
        let named_retry = data.retry_words.iter().any(|w| text_words.contains(w));
        let counted = !vars.counters.is_empty() || parts.range_loop;
        if !(named_retry || counted) {
            return None;
        }
        let (sleeps, delay, exits) = failure_delay(cx, stmts, &success, &vars);
        let jitter_in_text = text_words.iter().any(|w| {
            w.contains("jitter")
                || w == "rand"
                || w == "fastrand"
                || cx.data.res003.jitter_calls.contains(w)
        });
        Some(Recognised {
            purpose: purpose::of(cx, parts.body, inspected),
            failures: rate_limit::Failures {
                inspected,
                any_error: success.any_error,
                on_status: success.on_status,
            },
            sleeps,
            delay,
            bounded: parts.header_bounded || exits,
            jitter_in_text,
        })
    }

    /// RES001 and RES003 on a retry loop's delay.
    fn report(&mut self, parts: &RetryLoop<'_>, found: &Recognised<'_>) {
        let cx = self.cx;
        let source = cx.ctx.source;
        let at = cx.range(parts.keyword);
        if cx.enabled(Code::RES001) {
            let finding = match &found.delay {
                LoopDelay::None => Some(Finding::at(
                    Code::RES001,
                    source,
                    at.clone(),
                    "retry loop retries immediately: no delay between attempts",
                )),
                LoopDelay::Known(d) if d.growth == Growth::Constant => Some(
                    Finding::at(
                        Code::RES001,
                        source,
                        at.clone(),
                        format!(
                            "retry loop sleeps a constant {} between attempts",
                            describe_constant(cx, &found.sleeps)
                        ),
                    )
                    .with_severity(Severity::Medium),
                ),
                _ => None,
            };
            if let Some(finding) = finding {
                self.out.push(finding.with_fix(
                    "sleep a growing, capped, jittered delay between attempts, e.g. `delay = (delay * 2).min(max)` plus `fastrand` jitter",
                ));
            }
        }
        let Some(known) = found.delay.known() else {
            return;
        };
        if cx.enabled(Code::RES003)
            && known.growth == Growth::Exponential
            && !known.jitter
            && !found.jitter_in_text
        {
            self.out.push(
                Finding::at(
                    Code::RES003,
                    source,
                    at,
                    "retry loop backs off exponentially with no jitter",
                )
                .with_fix(
                    "add random jitter to each delay, e.g. `delay + Duration::from_millis(fastrand::u64(0..=delay_ms))`",
                ),
            );
        }
    }

    /// RES002 on a retry loop that never gives up.
    fn report_limit(&mut self, parts: &RetryLoop<'_>, found: &Recognised<'_>) {
        let cx = self.cx;
        let Some(known) = found.delay.known() else {
            return;
        };
        if cx.enabled(Code::RES002) && !found.bounded {
            let exponential = known.growth == Growth::Exponential;
            let finding = never_gives_up(
                cx.ctx.source,
                cx.range(parts.keyword),
                "retry loop",
                exponential && known.capped,
            );
            self.out.push(finding.with_fix(
                "stop after a maximum number of attempts or a time budget (`for attempt in 1..=5`, `if started.elapsed() > budget { return Err(e) }`)",
            ));
        }
    }

    /// RES010 on a retry loop that goes round again on a failed HTTP status (429 and 503
    /// among them) and never reads `Retry-After`. A delay from a helper or a policy object may
    /// read it: not judged.
    fn report_rate_limit(&mut self, parts: &RetryLoop<'_>, found: &Recognised<'_>) {
        let cx = self.cx;
        if !cx.enabled(Code::RES010)
            || matches!(found.delay, LoopDelay::Unknown)
            || !rate_limit::retries_failed_status(cx, parts.body, &found.failures)
            || rate_limit::names_rate_limits(cx, parts.body)
            || *self
                .retry_after
                .get_or_init(|| rate_limit::reads_retry_after(cx, self.file))
        {
            return;
        }
        self.out.push(
            Finding::at(
                Code::RES010,
                cx.ctx.source,
                cx.range(parts.keyword),
                "retry loop retries failed HTTP responses without reading `Retry-After` (a 429 or 503 says when to come back)",
            )
            .with_fix(
                "on 429 and 503, wait for the server's `Retry-After` (capped) before the next attempt, or give up on 429",
            ),
        );
    }

    /// RES001 (`low`) on a supervisor that restarts a task after a panic at once: a task that
    /// panics again at once spins and floods the logs. Restarting for the life of the process
    /// is what a supervisor is for (no RES002).
    fn report_supervisor(&mut self, parts: &RetryLoop<'_>, delay: &LoopDelay) {
        let cx = self.cx;
        if cx.enabled(Code::RES001) && matches!(delay, LoopDelay::None) {
            self.out.push(
                Finding::at(
                    Code::RES001,
                    cx.ctx.source,
                    cx.range(parts.keyword),
                    "supervisor restarts after a panic with no delay",
                )
                .with_severity(Severity::Low)
                .with_fix(
                    "sleep a short, growing delay before each restart, so that a task that panics at once does not spin",
                ),
            );
        }
    }
}

impl LoopDelay {
    /// The delay when it is known, no delay being a constant one.
    fn known(&self) -> Option<Delay> {
        match self {
            LoopDelay::None => Some(Delay {
                growth: Growth::Constant,
                capped: false,
                jitter: false,
            }),
            LoopDelay::Known(d) => Some(*d),
            LoopDelay::Unknown => None,
        }
    }
}

/// The sleeps on the failure path (the body without the success path), the delay they make,
/// and whether the failure path can leave the loop.
fn failure_delay<'a>(
    cx: &Cx<'_>,
    stmts: &'a [Stmt],
    success: &Success,
    vars: &LoopVars<'a>,
) -> (Vec<&'a Expr>, LoopDelay, bool) {
    let mut scan = FailureScan {
        cx,
        success,
        inner_labels: Vec::new(),
        loop_depth: 0,
        sleeps: Vec::new(),
        waits: false,
        exits: false,
    };
    for (index, stmt) in stmts.iter().enumerate() {
        if success.rest_from.is_some_and(|from| index >= from) {
            break;
        }
        scan.visit_stmt(stmt);
    }
    let delay = if scan.waits {
        LoopDelay::Unknown
    } else if scan.sleeps.is_empty() {
        LoopDelay::None
    } else {
        let mut tracer = Tracer::new(cx, vars);
        let mut joined: Option<Delay> = None;
        let mut unknown = false;
        for arg in &scan.sleeps {
            match tracer.classify(arg) {
                Some(d) => joined = Some(joined.map_or(d, |j| j.join(d))),
                None => unknown = true,
            }
        }
        match joined {
            Some(d) if !unknown => LoopDelay::Known(d),
            _ => LoopDelay::Unknown,
        }
    };
    (scan.sleeps, delay, scan.exits)
}

/// A constant delay for a message: `100 ms`, `2 s`, or the constant's name.
fn describe_constant(cx: &Cx<'_>, sleeps: &[&Expr]) -> String {
    let [arg] = sleeps else {
        return "delay".to_string();
    };
    match arg {
        Expr::Call(call) => {
            let Expr::Path(func) = &*call.func else {
                return "delay".to_string();
            };
            let path = cx.resolve(&func.path);
            let unit = match path.rsplit("::").next() {
                Some("from_millis") => "ms",
                Some("from_secs") => "s",
                Some("from_micros") => "µs",
                Some("from_nanos") => "ns",
                _ => return "delay".to_string(),
            };
            match call.args.first() {
                Some(Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Int(n),
                    ..
                })) => format!("{} {unit}", n.base10_digits()),
                Some(Expr::Path(p)) => p
                    .path
                    .segments
                    .last()
                    .map_or("delay".to_string(), |s| format!("delay (`{}`)", s.ident)),
                _ => "delay".to_string(),
            }
        }
        Expr::Path(p) => p
            .path
            .segments
            .last()
            .map_or("delay".to_string(), |s| format!("delay (`{}`)", s.ident)),
        _ => "delay".to_string(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PatKind {
    Ok,
    Err,
    CatchAll,
    Other,
}

/// What a pattern matches, and whether it is conditional (a guard, or a refutable part inside
/// `Ok(..)` such as `Ok(0)` or `Ok(Some(x))`).
fn pattern_kind(pat: &Pat) -> (PatKind, bool) {
    match pat {
        Pat::Guard(g) => (pattern_kind(&g.pat).0, true),
        Pat::Paren(p) => pattern_kind(&p.pat),
        Pat::Wild(_) => (PatKind::CatchAll, false),
        Pat::Ident(i) if i.subpat.is_none() => (PatKind::CatchAll, false),
        Pat::TupleStruct(t) => {
            let name = t.path.segments.last().map(|s| s.ident.to_string());
            let refutable = t.elems.iter().any(is_refutable);
            match name.as_deref() {
                Some("Ok") => (PatKind::Ok, refutable),
                Some("Err") => (PatKind::Err, refutable),
                _ => (PatKind::Other, false),
            }
        }
        Pat::Or(o) => {
            let kinds: Vec<_> = o.cases.iter().map(pattern_kind).collect();
            if kinds.iter().all(|(k, _)| *k == PatKind::Err) {
                (PatKind::Err, true)
            } else {
                (PatKind::Other, false)
            }
        }
        _ => (PatKind::Other, false),
    }
}

fn is_refutable(pat: &Pat) -> bool {
    match pat {
        Pat::Ident(i) => i.subpat.is_some(),
        Pat::Wild(_) | Pat::Rest(_) => false,
        Pat::Reference(r) => is_refutable(&r.pat),
        Pat::Paren(p) => is_refutable(&p.pat),
        Pat::Type(t) => is_refutable(&t.pat),
        Pat::Tuple(t) => t.elems.iter().any(is_refutable),
        _ => true,
    }
}

/// Whether an expression leaves the loop on every path: `return`, `break`, `panic!`, ...
fn exits(cx: &Cx<'_>, expr: &Expr) -> bool {
    match expr {
        Expr::Return(_) | Expr::Break(_) => true,
        Expr::Block(b) => block_exits(cx, &b.block.stmts),
        Expr::Unsafe(u) => block_exits(cx, &u.block.stmts),
        Expr::Paren(p) => exits(cx, &p.expr),
        Expr::If(i) => {
            i.else_branch.as_ref().is_some_and(|(_, e)| exits(cx, e))
                && block_exits(cx, &i.then_branch.stmts)
        }
        Expr::Match(m) => !m.arms.is_empty() && m.arms.iter().all(|a| exits(cx, &a.body)),
        Expr::Macro(m) => cx
            .data
            .res001
            .exit_macros
            .contains(&crate::facts::rust::macro_name(&m.mac)),
        Expr::Call(c) => is_process_exit(cx, c),
        _ => false,
    }
}

fn is_process_exit(cx: &Cx<'_>, call: &syn::ExprCall) -> bool {
    matches!(&*call.func, Expr::Path(p) if cx.resolve(&p.path) == "std::process::exit")
}

fn stmt_exits(cx: &Cx<'_>, stmt: &Stmt) -> bool {
    match stmt {
        Stmt::Expr(e, _) => exits(cx, e),
        Stmt::Macro(m) => cx
            .data
            .res001
            .exit_macros
            .contains(&crate::facts::rust::macro_name(&m.mac)),
        _ => false,
    }
}

fn block_exits(cx: &Cx<'_>, stmts: &[Stmt]) -> bool {
    for stmt in stmts {
        if stmt_exits(cx, stmt) {
            return true;
        }
        if matches!(stmt, Stmt::Expr(e, _) if continues(e)) {
            return false;
        }
    }
    false
}

/// Whether an expression goes round the loop again on every path (`continue`).
fn continues(expr: &Expr) -> bool {
    match expr {
        Expr::Continue(_) => true,
        Expr::Block(b) => block_continues(&b.block.stmts),
        Expr::Paren(p) => continues(&p.expr),
        Expr::If(i) => {
            i.else_branch.as_ref().is_some_and(|(_, e)| continues(e))
                && block_continues(&i.then_branch.stmts)
        }
        Expr::Match(m) => !m.arms.is_empty() && m.arms.iter().all(|a| continues(&a.body)),
        _ => false,
    }
}

fn block_continues(stmts: &[Stmt]) -> bool {
    for stmt in stmts {
        match stmt {
            Stmt::Expr(e, _) if continues(e) => return true,
            Stmt::Expr(Expr::Return(_) | Expr::Break(_), _) => return false,
            _ => {}
        }
    }
    false
}

/// A `let` of a name among the statements before the inspection: its value is what is
/// inspected (`let r = op().await; if r.is_ok() { .. }`).
fn inspected_value<'a>(expr: &'a Expr, before: &'a [Stmt]) -> &'a Expr {
    let mut root = expr;
    loop {
        root = match root {
            Expr::MethodCall(m) => &m.receiver,
            Expr::Field(f) => &f.base,
            Expr::Paren(p) => &p.expr,
            Expr::Reference(r) => &r.expr,
            Expr::Await(a) => &a.base,
            _ => break,
        };
    }
    let Some(name) = place(root).filter(|n| !n.contains('.')) else {
        return expr;
    };
    before
        .iter()
        .rev()
        .find_map(|stmt| match stmt {
            Stmt::Local(local) if pattern_names(&local.pat) == [name.clone()] => {
                local.init.as_ref().map(|init| &*init.expr)
            }
            _ => None,
        })
        .unwrap_or(expr)
}

/// Finds the inspection of a fallible call whose success leaves the loop while its failure
/// goes round again. Returns the inspected expression and where the success path runs.
fn find_shape<'a>(cx: &Cx<'_>, stmts: &'a [Stmt]) -> Option<(&'a Expr, Success)> {
    for (index, stmt) in stmts.iter().enumerate() {
        let rest_exits = block_exits(cx, &stmts[index + 1..]);
        let before = &stmts[..index];
        let found = match stmt {
            Stmt::Expr(expr, _) => expr_shape(cx, expr, before, index, rest_exits),
            Stmt::Local(syn::Local {
                pat,
                init: Some(init),
                ..
            }) => {
                match &init.diverge {
                    // `let Ok(v) = op() else { continue };`: the success path is the rest.
                    Some((_, otherwise)) => {
                        let leads_on = pattern_kind(pat) == (PatKind::Ok, false)
                            && rest_exits
                            && continues(otherwise);
                        leads_on.then(|| {
                            (
                                &*init.expr,
                                Success {
                                    rest_from: Some(index + 1),
                                    ..Success::default()
                                },
                            )
                        })
                    }
                    None => expr_shape(cx, &init.expr, before, index, rest_exits),
                }
            }
            _ => None,
        };
        if found.is_some() {
            return found;
        }
    }
    None
}

fn expr_shape<'a>(
    cx: &Cx<'_>,
    expr: &'a Expr,
    before: &'a [Stmt],
    index: usize,
    rest_exits: bool,
) -> Option<(&'a Expr, Success)> {
    // The failure branch leaves the loop when it exits, or falls through into a rest that does.
    let failure_leaves = |branch: Option<&Expr>| match branch {
        Some(b) => exits(cx, b) || (!continues(b) && rest_exits),
        None => rest_exits,
    };
    let rest = || Success {
        rest_from: Some(index + 1),
        ..Success::default()
    };
    match expr {
        Expr::Match(m) => match_shape(cx, m, before, index, rest_exits),
        Expr::If(i) => {
            let then_branch = i.then_branch.stmts.as_slice();
            let then_exits = block_exits(cx, then_branch);
            let then_continues = block_continues(then_branch);
            let otherwise = i.else_branch.as_ref().map(|(_, e)| &**e);
            let on_status = rate_limit::checks_status(cx, &i.cond);
            let (inspected, success_first) = match &*i.cond {
                Expr::Let(l) => match pattern_kind(&l.pat) {
                    (PatKind::Ok, _) => (inspected_value(&l.expr, before), true),
                    (PatKind::Err, false) => (inspected_value(&l.expr, before), false),
                    _ => return None,
                },
                Expr::MethodCall(m) => match m.method.to_string().as_str() {
                    "is_ok" | "is_success" => (inspected_value(&m.receiver, before), true),
                    "is_err" => (inspected_value(&m.receiver, before), false),
                    _ => return None,
                },
                _ => return None,
            };
            let branches = |e: &Expr| Success {
                branches: HashSet::from([address(e)]),
                ..Success::default()
            };
            if success_first {
                // `if let Ok(v) = op() { return v } [else { .. }]`, `if resp.status().is_success()`
                let then_block = Success {
                    branches: HashSet::from([address(&i.then_branch)]),
                    on_status,
                    ..Success::default()
                };
                (then_exits && !failure_leaves(otherwise)).then_some((inspected, then_block))
            } else {
                match otherwise {
                    // `if let Err(e) = op() { .. } else { return }`
                    Some(ok) => {
                        let then_leaves = then_exits || (!then_continues && rest_exits);
                        (exits(cx, ok) && !then_leaves).then(|| (inspected, branches(ok)))
                    }
                    // `if let Err(e) = op() { ..; continue } return ..`
                    None => (rest_exits && then_continues).then(|| (inspected, rest())),
                }
            }
        }
        _ => None,
    }
}

fn match_shape<'a>(
    cx: &Cx<'_>,
    m: &'a syn::ExprMatch,
    before: &'a [Stmt],
    index: usize,
    rest_exits: bool,
) -> Option<(&'a Expr, Success)> {
    let inspected = inspected_value(&m.expr, before);
    let mut success = Success {
        any_error: false,
        ..Success::default()
    };
    let mut failures: Vec<&Expr> = Vec::new();
    let mut values: Vec<&Expr> = Vec::new();
    let mut conditional_success = false;
    let mut status_success = false;
    for arm in &m.arms {
        let (kind, conditional) = pattern_kind(&arm.pat);
        let retries = !exits(cx, &arm.body);
        match kind {
            PatKind::Ok if !retries => {
                success.branches.insert(address(&*arm.body));
                conditional_success |= conditional;
                status_success |=
                    matches!(&arm.pat, Pat::Guard(g) if rate_limit::checks_status(cx, &g.guard));
            }
            // `Ok(r) if r.status().is_success() => return r, Ok(r) => ..`: a failure.
            PatKind::Ok if conditional_success => {
                success.on_status |= status_success && retries;
                failures.push(&arm.body);
            }
            PatKind::Ok => values.push(&arm.body),
            PatKind::Err | PatKind::CatchAll => {
                success.on_status |= kind == PatKind::CatchAll && status_success && retries;
                success.any_error |= retries && !rate_limit::transport_only(cx, &arm.pat);
                failures.push(&arm.body);
            }
            PatKind::Other => return None,
        }
    }
    if values.is_empty() {
        let retries = !success.branches.is_empty()
            && failures
                .iter()
                .any(|f| !exits(cx, f) && (!rest_exits || continues(f)));
        return retries.then_some((inspected, success));
    }
    // `let v = match op() { Ok(v) => v, Err(e) => { ..; continue } }; return v;`
    let value_form = rest_exits
        && success.branches.is_empty()
        && values.iter().all(|v| !continues(v))
        && failures.iter().all(|f| exits(cx, f) || continues(f))
        && failures.iter().any(|f| continues(f));
    value_form.then(|| {
        let branches = values.iter().map(|v| address(*v)).collect();
        (
            inspected,
            Success {
                branches,
                rest_from: Some(index + 1),
                ..success
            },
        )
    })
}

/// The variables of the loop body: counters, `let`s and pattern bindings, assignments, and
/// what the body changes besides the inspected call (`inspected`, not looked into for that).
fn collect_vars<'a>(
    cx: &Cx<'_>,
    random: &RandomSources,
    body: &'a Block,
    range_vars: &[String],
    inspected: &Expr,
) -> LoopVars<'a> {
    let mut collector = VarCollector {
        cx,
        random,
        vars: LoopVars::default(),
        inspected: address(inspected),
        in_inspected: false,
    };
    collector.vars.counters.extend(range_vars.iter().cloned());
    collector.visit_block(body);
    let mut vars = collector.vars;
    vars.rebuilt = rebuilt_each_pass(body, &vars);
    vars
}

/// Collects what `collect_vars` reports.
struct VarCollector<'a, 'c> {
    cx: &'c Cx<'c>,
    random: &'c RandomSources,
    vars: LoopVars<'a>,
    inspected: usize,
    /// Inside the inspected call, whose own borrows and iteration calls change nothing
    /// between passes.
    in_inspected: bool,
}

impl<'a> Visit<'a> for VarCollector<'a, '_> {
    fn visit_expr(&mut self, expr: &'a Expr) {
        let entering = address(expr) == self.inspected && !self.in_inspected;
        self.in_inspected |= entering;
        visit::visit_expr(self, expr);
        if entering {
            self.in_inspected = false;
        }
    }
    fn visit_local(&mut self, local: &'a syn::Local) {
        if let Some(init) = &local.init {
            bind_pattern(&local.pat, &init.expr, &mut self.vars.lets);
        }
        self.vars.locals.extend(pattern_names(&local.pat));
        visit::visit_local(self, local);
    }
    fn visit_expr_match(&mut self, m: &'a syn::ExprMatch) {
        for arm in &m.arms {
            bind_pattern(&arm.pat, &m.expr, &mut self.vars.lets);
            self.vars.locals.extend(pattern_names(&arm.pat));
        }
        visit::visit_expr_match(self, m);
    }
    fn visit_expr_let(&mut self, l: &'a syn::ExprLet) {
        bind_pattern(&l.pat, &l.expr, &mut self.vars.lets);
        self.vars.locals.extend(pattern_names(&l.pat));
        visit::visit_expr_let(self, l);
    }
    fn visit_expr_reference(&mut self, r: &'a syn::ExprReference) {
        if r.mutability.is_some()
            && !self.in_inspected
            && let Some(name) = place(&r.expr)
        {
            self.vars.mutated.insert(name);
        }
        visit::visit_expr_reference(self, r);
    }
    fn visit_expr_method_call(&mut self, m: &'a syn::ExprMethodCall) {
        let method = m.method.to_string();
        if !self.in_inspected
            && self.cx.data.res001.iteration_calls.contains(&method)
            && let Some(name) = place(&m.receiver)
        {
            self.vars.mutated.insert(name);
        }
        // `rng.fill(candidate)`: what a random source fills differs on each pass.
        if !self.in_inspected && self.random.method_is_random(self.cx, m) {
            self.vars
                .mutated
                .extend(m.args.iter().filter_map(|a| place(strip_borrow(a))));
        }
        visit::visit_expr_method_call(self, m);
    }
    fn visit_expr_assign(&mut self, a: &'a syn::ExprAssign) {
        if let Some(name) = place(&a.left) {
            if is_increment_of(&name, &a.right) {
                self.vars.counters.insert(name.clone());
            }
            self.vars
                .assigns
                .entry(name)
                .or_default()
                .push((AssignKind::Set, &a.right));
        }
        visit::visit_expr_assign(self, a);
    }
    fn visit_expr_binary(&mut self, b: &'a syn::ExprBinary) {
        let kind = match b.op {
            BinOp::AddAssign(_) => Some(AssignKind::Add),
            BinOp::MulAssign(_) => Some(AssignKind::Mul),
            BinOp::ShlAssign(_) => Some(AssignKind::Shl),
            BinOp::SubAssign(_)
            | BinOp::DivAssign(_)
            | BinOp::RemAssign(_)
            | BinOp::ShrAssign(_)
            | BinOp::BitAndAssign(_)
            | BinOp::BitOrAssign(_)
            | BinOp::BitXorAssign(_) => Some(AssignKind::Other),
            _ => None,
        };
        if let (Some(kind), Some(name)) = (kind, place(&b.left)) {
            if matches!(kind, AssignKind::Add) && is_int_literal(&b.right) {
                self.vars.counters.insert(name.clone());
            }
            self.vars
                .assigns
                .entry(name)
                .or_default()
                .push((kind, &b.right));
        }
        visit::visit_expr_binary(self, b);
    }
    fn visit_item(&mut self, _: &'a syn::Item) {}
}

/// The place a borrow lends (`&mut buf` -> `buf`), or the expression itself.
fn strip_borrow(expr: &Expr) -> &Expr {
    match expr {
        Expr::Reference(r) => &r.expr,
        _ => expr,
    }
}

/// Binds the names of a pattern to what they take apart: a tuple pattern to a tuple element by
/// element (`(Err(e), Some(delay)) = (op(), delays.next())`), any other pattern to the whole
/// value (`Some(delay) = backoff.next()`).
fn bind_pattern<'a>(pat: &Pat, value: &'a Expr, lets: &mut HashMap<String, Vec<&'a Expr>>) {
    match (pat, value) {
        (Pat::Tuple(p), Expr::Tuple(t)) if p.elems.len() == t.elems.len() => {
            for (pat, value) in p.elems.iter().zip(&t.elems) {
                bind_pattern(pat, value, lets);
            }
        }
        (Pat::Paren(p), _) => bind_pattern(&p.pat, value, lets),
        (_, Expr::Paren(v)) => bind_pattern(pat, &v.expr, lets),
        _ => {
            for name in pattern_names(pat) {
                lets.entry(name).or_default().push(value);
            }
        }
    }
}

/// Variables of the enclosing code that a statement of the body itself (run on every pass) sets
/// from something other than themselves, and that nothing else changes but plain assignments:
/// their value on each pass is made anew, like a `let`'s (`body = payload.to_string();`).
fn rebuilt_each_pass(body: &Block, vars: &LoopVars<'_>) -> HashSet<String> {
    body.stmts
        .iter()
        .filter_map(|stmt| match stmt {
            Stmt::Expr(Expr::Assign(a), _) => place(&a.left).filter(|name| {
                !name.contains('.')
                    && !vars.locals.contains(name)
                    && !mentions(&a.right).contains(name)
                    && vars.assigns.get(name).is_some_and(|all| {
                        all.iter().all(|(kind, rhs)| {
                            matches!(kind, AssignKind::Set) && !mentions(rhs).contains(name)
                        })
                    })
            }),
            _ => None,
        })
        .collect()
}

fn is_int_literal(expr: &Expr) -> bool {
    matches!(
        expr,
        Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Int(_),
            ..
        })
    )
}

/// `n = n + 1`
fn is_increment_of(name: &str, rhs: &Expr) -> bool {
    matches!(rhs, Expr::Binary(b) if matches!(b.op, BinOp::Add(_))
        && place(&b.left).as_deref() == Some(name)
        && is_int_literal(&b.right))
}

/// The variables an expression reads, also inside macro arguments and format strings.
fn mentions(expr: &Expr) -> HashSet<String> {
    struct Mentions(HashSet<String>);
    impl Mentions {
        fn tokens(&mut self, tokens: proc_macro2::TokenStream) {
            for token in tokens {
                match token {
                    TokenTree::Ident(i) => {
                        self.0.insert(i.to_string());
                    }
                    TokenTree::Group(g) => self.tokens(g.stream()),
                    TokenTree::Literal(l) => {
                        // `{port}` in a format string
                        let text = l.to_string();
                        for part in text.split('{').skip(1) {
                            let name: String = part
                                .chars()
                                .take_while(|c| c.is_alphanumeric() || *c == '_')
                                .collect();
                            if !name.is_empty() {
                                self.0.insert(name);
                            }
                        }
                    }
                    TokenTree::Punct(_) => {}
                }
            }
        }
    }
    impl<'ast> Visit<'ast> for Mentions {
        fn visit_expr_path(&mut self, p: &'ast syn::ExprPath) {
            if let Some(ident) = p.path.get_ident() {
                self.0.insert(ident.to_string());
            }
        }
        fn visit_macro(&mut self, m: &'ast syn::Macro) {
            self.tokens(m.tokens.clone());
        }
    }
    let mut found = Mentions(HashSet::new());
    found.visit_expr(expr);
    found.0
}

/// The names of the calls in an expression (function paths' last segments and methods).
fn call_names(expr: &Expr) -> Vec<String> {
    struct Calls(Vec<String>);
    impl<'ast> Visit<'ast> for Calls {
        fn visit_expr_call(&mut self, c: &'ast syn::ExprCall) {
            if let Expr::Path(p) = &*c.func
                && let Some(last) = p.path.segments.last()
            {
                self.0.push(last.ident.to_string());
            }
            visit::visit_expr_call(self, c);
        }
        fn visit_expr_method_call(&mut self, m: &'ast syn::ExprMethodCall) {
            self.0.push(m.method.to_string());
            visit::visit_expr_method_call(self, m);
        }
        fn visit_expr_closure(&mut self, _: &'ast syn::ExprClosure) {}
    }
    let mut calls = Calls(Vec::new());
    calls.visit_expr(expr);
    calls.0
}

/// Whether the inspected expression repeats the same call: it calls something, not a spin or
/// iteration call, with nothing that changes between passes (the range variable, an assigned
/// variable, or a `let` derived from them or from an iteration call).
fn is_repeatable(
    cx: &Cx<'_>,
    random: &RandomSources,
    inspected: &Expr,
    vars: &LoopVars<'_>,
    range_vars: &[String],
) -> bool {
    let data = &cx.data.res001;
    let calls = call_names(inspected);
    if calls.is_empty()
        || calls
            .iter()
            .any(|c| data.spin_calls.contains(c) || data.iteration_calls.contains(c))
    {
        return false;
    }
    // What changes from one pass to the next: the range variable, variables of the enclosing
    // code that the body changes, and what is derived from them or from an iteration call.
    // Names bound in the body (and variables rebuilt at its top) are made anew on each pass:
    // they vary only through what they are made from.
    let fresh = |name: &String| vars.locals.contains(name) || vars.rebuilt.contains(name);
    let mut varying: HashSet<String> = range_vars.iter().cloned().collect();
    varying.extend(
        vars.assigns
            .keys()
            .chain(&vars.mutated)
            .filter(|k| !k.contains('.') && !fresh(k))
            .cloned(),
    );
    let sources: Vec<(&String, &Expr)> = vars
        .lets
        .iter()
        .flat_map(|(name, inits)| inits.iter().map(move |init| (name, *init)))
        .chain(
            vars.assigns
                .iter()
                .filter(|(name, _)| fresh(name))
                .flat_map(|(name, all)| all.iter().map(move |(_, rhs)| (name, *rhs))),
        )
        .collect();
    // To a fixed point.
    loop {
        let before = varying.len();
        for (name, source) in &sources {
            if varying.contains(*name) {
                continue;
            }
            let derived = mentions(source)
                .iter()
                .any(|m| m != *name && varying.contains(m))
                || call_names(source)
                    .iter()
                    .any(|c| data.iteration_calls.contains(c))
                || random.in_expr(cx, source);
            if derived {
                varying.insert((*name).clone());
            }
        }
        if varying.len() == before {
            break;
        }
    }
    mentions(inspected).is_disjoint(&varying)
}

/// Walks the failure path: the loop body without the success branches.
struct FailureScan<'a, 'c> {
    cx: &'c Cx<'c>,
    success: &'c Success,
    inner_labels: Vec<String>,
    loop_depth: usize,
    /// Arguments of the sleeps.
    sleeps: Vec<&'a Expr>,
    /// A call that may wait (a helper named `backoff`, `wait`, a `select!`): the delay is unknown.
    waits: bool,
    /// A `return`, `break`, `?` or exit macro: the failure path can leave the loop.
    exits: bool,
}

impl FailureScan<'_, '_> {
    fn is_sleep(&self, path: &str) -> bool {
        let sleeps = &self.cx.data.res001.sleep_functions;
        if sleeps.iter().any(|s| s == path) {
            return true;
        }
        // `sleep` from a glob import (`use tokio::time::*;`)
        !path.contains("::")
            && sleeps.iter().any(|s| {
                s.rsplit_once("::").is_some_and(|(module, name)| {
                    name == path && self.cx.imports.glob_imports(module)
                })
            })
    }

    fn may_wait(&self, name: &str) -> bool {
        let delay_words = &self.cx.data.res001.delay_words;
        words(name).any(|w| delay_words.contains(&w))
    }

    fn loop_body(&mut self, label: Option<&syn::Label>, visit: impl FnOnce(&mut Self)) {
        self.loop_depth += 1;
        if let Some(label) = label {
            self.inner_labels.push(label.name.ident.to_string());
        }
        visit(self);
        if label.is_some() {
            self.inner_labels.pop();
        }
        self.loop_depth -= 1;
    }
}

impl<'a> Visit<'a> for FailureScan<'a, '_> {
    fn visit_expr(&mut self, expr: &'a Expr) {
        if self.success.branches.contains(&address(expr)) {
            return;
        }
        match expr {
            Expr::Closure(_) | Expr::Async(_) => return,
            Expr::Return(_) | Expr::Try(_) => self.exits = true,
            Expr::Break(b) => {
                let leaves = match &b.label {
                    Some(label) => !self.inner_labels.contains(&label.ident.to_string()),
                    None => self.loop_depth == 0,
                };
                self.exits |= leaves;
            }
            Expr::Loop(l) => {
                return self.loop_body(l.label.as_ref(), |s| visit::visit_expr_loop(s, l));
            }
            Expr::While(w) => {
                return self.loop_body(w.label.as_ref(), |s| visit::visit_expr_while(s, w));
            }
            Expr::ForLoop(f) => {
                return self.loop_body(f.label.as_ref(), |s| visit::visit_expr_for_loop(s, f));
            }
            Expr::Call(c) => {
                if let Expr::Path(p) = &*c.func {
                    let path = self.cx.resolve(&p.path);
                    if self.is_sleep(&path) {
                        if let Some(arg) = c.args.first() {
                            self.sleeps.push(arg);
                        }
                    } else if is_process_exit(self.cx, c) {
                        self.exits = true;
                    } else if self.may_wait(path.rsplit("::").next().unwrap_or(&path)) {
                        self.waits = true;
                    }
                }
            }
            Expr::MethodCall(m) if self.may_wait(&m.method.to_string()) => self.waits = true,
            _ => {}
        }
        visit::visit_expr(self, expr);
    }

    fn visit_block(&mut self, block: &'a Block) {
        if !self.success.branches.contains(&address(block)) {
            visit::visit_block(self, block);
        }
    }

    fn visit_macro(&mut self, mac: &'a syn::Macro) {
        let name = crate::facts::rust::macro_name(mac);
        let data = &self.cx.data.res001;
        if data.exit_macros.contains(&name) || data.conditional_exit_macros.contains(&name) {
            self.exits = true;
        } else if name.contains("select") {
            // `tokio::select!` with a sleep in one branch: not followed.
            self.waits = true;
        }
    }

    fn visit_item(&mut self, _: &'a syn::Item) {}
}
