//! ERR002: the result of a database, network, file-write or queue operation dropped where a
//! failure leaves no trace: `let _ = op;`, `op.ok();`, `if let Err(_) = op {}`, a match arm
//! `Err(_) => {}` or `Err(_) => continue`.
//!
//! Only operations the rule's `[data]` names are judged, matched on the method or the function
//! path (after `use` imports): an unknown call is not a finding. `.await` is looked through; a
//! `?` anywhere in the chain returns the error, so nothing is swallowed. A drop the code says is
//! deliberate (a comment on the line or the one above, a function documented to ignore errors),
//! one whose error a closure may log (`.inspect_err(|e| warn!(..)).ok()`), and one on an error
//! path that returns the error it is handling are not judged either.

use std::sync::LazyLock;

use serde::Deserialize;
use syn::spanned::Spanned;
use syn::visit::{self, Visit};

use super::{FileContext, Parsed, TreeQuery};
use crate::facts::imports::{Imports, ends_with_path};
use crate::finding::Finding;
use crate::registry::Code;

#[derive(Deserialize)]
struct Operation {
    /// How the message names it: `a database query`.
    what: String,
    /// Methods that perform it.
    #[serde(default)]
    methods: Vec<String>,
    /// Functions that perform it, as path suffixes (`std::fs::write`).
    #[serde(default)]
    functions: Vec<String>,
    /// The number of arguments the method takes, when that tells it apart (`send(value)` on a
    /// channel, `send()` of a request builder).
    #[serde(default)]
    arguments: Option<usize>,
    /// The method is judged only after one of these in the same chain (`query(..)`, `post(..)`).
    #[serde(default)]
    after: Vec<String>,
    /// It is judged only in a package that depends on one of these (none: the standard
    /// library's; a trailing `*` matches a prefix).
    #[serde(default)]
    crates: Vec<String>,
    /// It is not judged in a function that calls one of these (path suffixes): a write into a
    /// per-user or temporary folder (`dirs::cache_dir()`) keeps a cache, not the service's data.
    #[serde(default)]
    not_beside: Vec<String>,
}

#[derive(Deserialize)]
struct Data {
    operation: Vec<Operation>,
}

static DATA: LazyLock<Data> = LazyLock::new(|| Code::ERR002.rule().data());

/// A finding needs an operation its package can perform (`Operation::crates`), by its method or
/// by every segment of its function's path.
pub fn needs_tree(query: &TreeQuery<'_>) -> bool {
    if !query.live(Code::ERR002) {
        return false;
    }
    let performs = || {
        (DATA.operation.iter())
            .filter(|op| op.available(query.ctx))
            .any(|op| {
                let called = |m: &String| match op.arguments {
                    // `send()`, not a channel's `send(value)`: the tokens tell them apart.
                    Some(0) => query.has_method(m) && calls_without_arguments(query.tokens(), m),
                    _ => query.has_method(m),
                };
                let written =
                    |f: &String| query.has_path(f) && module_item_written(query.tokens(), f);
                op.methods.iter().any(called) || op.functions.iter().any(written)
            })
    };
    performs() && drop_written(query.tokens())
}

/// Whether the tokens can hold one of the drops the walker reports: `let _ =`, `.ok();`, or an
/// `Err(..)` pattern beside an arm or `if let` that does nothing (`=> {}`, `=> ()`,
/// `=> continue`, `{}`; an empty block may hold stray `;`, which syn skips).
fn drop_written(tokens: &[crate::words::CodeToken<'_>]) -> bool {
    use ra_ap_rustc_lexer::TokenKind::{CloseBracket, Gt};
    let text = |at: usize| crate::words::token_text(tokens, at);
    let after_arrow = |at: usize| at > 0 && matches!(tokens[at - 1].0, Gt | CloseBracket);
    let mut err = false;
    let mut nothing = false;
    for at in 0..tokens.len() {
        match text(at) {
            "let" if text(at + 1) == "_" && text(at + 2) == "=" => return true,
            "ok" if at > 0
                && text(at - 1) == "."
                && [1, 2, 3].map(|i| text(at + i)) == ["(", ")", ";"] =>
            {
                return true;
            }
            "Err" => err = true,
            "{" => {
                let after = (at + 1..tokens.len()).find(|&i| text(i) != ";");
                nothing |= after.is_some_and(|i| text(i) == "}");
            }
            "(" if after_arrow(at) => nothing |= text(at + 1) == ")",
            "continue" if after_arrow(at) => nothing = true,
            _ => {}
        }
        if err && nothing {
            return true;
        }
    }
    false
}

/// Whether the tokens can name `path`'s item through its module (`std::fs::copy`): the module
/// then the item (`fs::copy`, `fs :: copy`), a glob (`fs::*`), the item in a group
/// (`fs::{self, copy}`), or the module renamed (`fs as f`), which may name it any way.
fn module_item_written(tokens: &[crate::words::CodeToken<'_>], path: &str) -> bool {
    use ra_ap_rustc_lexer::TokenKind::{CloseBrace, Colon, Ident, OpenBrace, Star};
    let mut segments = path.rsplit("::");
    let (Some(item), Some(module)) = (segments.next(), segments.next()) else {
        return true;
    };
    let names = |at: usize, name: &str| matches!(tokens.get(at), Some((Ident, n)) if *n == name);
    (0..tokens.len()).filter(|&i| names(i, module)).any(|i| {
        if names(i + 1, "as") {
            return true;
        }
        let path_follows = matches!(tokens.get(i + 1..i + 3), Some([(Colon, _), (Colon, _)]));
        match tokens.get(i + 3) {
            _ if !path_follows => false,
            Some((Ident, n)) => *n == item,
            Some((Star, _)) => true,
            Some((OpenBrace, _)) => {
                let mut depth = 0usize;
                for (kind, text) in &tokens[i + 3..] {
                    match kind {
                        OpenBrace => depth += 1,
                        CloseBrace if depth <= 1 => return false,
                        CloseBrace => depth -= 1,
                        Ident if *text == item => return true,
                        Star => return true,
                        _ => {}
                    }
                }
                false
            }
            _ => false,
        }
    })
}

/// Whether the code calls the method with no argument: `.name()` or `.name ::<T>()`.
fn calls_without_arguments(tokens: &[crate::words::CodeToken<'_>], name: &str) -> bool {
    use ra_ap_rustc_lexer::TokenKind::{CloseParen, Dot, Ident, OpenParen};
    tokens.windows(4).any(|w| {
        matches!(
            w,
            [(Dot, _), (Ident, n), (OpenParen, _), (CloseParen, _)] if *n == name
        )
    }) || tokens.windows(3).any(|w| matches!(w, [(Dot, _), (Ident, n), (ra_ap_rustc_lexer::TokenKind::Colon, _)] if *n == name))
}

impl Operation {
    /// Whether the file's package can perform it.
    fn available(&self, ctx: &FileContext<'_>) -> bool {
        self.crates.is_empty() || ctx.depends_on_any(&self.crates)
    }
}

pub fn gate_words() -> Vec<String> {
    // Every segment of a function's path: `has_path` asks for each.
    let mut words: Vec<String> = (DATA.operation.iter())
        .flat_map(|op| {
            let functions = op.functions.iter().flat_map(|f| f.split("::"));
            op.methods.iter().map(String::as_str).chain(functions)
        })
        .map(str::to_string)
        .collect();
    words.sort();
    words.dedup();
    words
}

pub fn check_file(ctx: &FileContext<'_>, parsed: &Parsed<'_>, out: &mut Vec<Finding>) {
    if !ctx.rules.enabled(Code::ERR002) {
        return;
    }
    let Some(rust) = &parsed.rust else {
        return;
    };
    let mut walker = Walker {
        ctx,
        imports: rust.imports,
        operations: (DATA.operation.iter())
            .filter(|op| op.available(ctx))
            .collect(),
        ignoring: false,
        body: None,
        returning_error: Vec::new(),
        out,
    };
    walker.visit_file(rust.ast);
}

struct Walker<'a, 'o> {
    ctx: &'a FileContext<'a>,
    imports: &'a Imports,
    /// The operations the file's package can perform.
    operations: Vec<&'static Operation>,
    /// The current function's doc comment says it ignores errors.
    ignoring: bool,
    /// The current function's body, read for its calls only when a finding asks
    /// (`Operation::not_beside`).
    body: Option<&'a syn::Block>,
    /// Of each enclosing block: whether it returns an error (`return Err(e)`, a tail `Err(..)`).
    returning_error: Vec<bool>,
    out: &'o mut Vec<Finding>,
}

/// The operation a call chain performs, and the name it is called by.
struct Performed<'d> {
    operation: &'d Operation,
    name: String,
}

impl Walker<'_, '_> {
    /// What `expr` performs, if it is a call the data names and nothing in it returns the
    /// error (`?`).
    fn performed(&self, expr: &syn::Expr) -> Option<Performed<'static>> {
        let mut chain = Vec::new();
        let mut current = expr;
        let root = loop {
            match current {
                syn::Expr::Await(a) => current = &a.base,
                syn::Expr::Paren(p) => current = &p.expr,
                syn::Expr::Try(_) => return None,
                syn::Expr::MethodCall(call) => {
                    // A closure given the result may log or count the error.
                    if call.args.iter().any(|a| matches!(a, syn::Expr::Closure(_))) {
                        return None;
                    }
                    chain.push((call.method.to_string(), call.args.len()));
                    current = &call.receiver;
                }
                syn::Expr::Call(call) => break Some(call),
                _ => break None,
            }
        };
        let root_path = root.and_then(|call| match &*call.func {
            syn::Expr::Path(p) => Some(self.imports.resolve(&p.path)),
            _ => None,
        });
        let written_before = |after: &[String], from: usize| {
            after.is_empty()
                || chain[from..].iter().any(|(m, _)| after.contains(m))
                || root_path
                    .as_ref()
                    .is_some_and(|p| after.iter().any(|a| ends_with_path(p, a)))
        };
        // The outermost call that performs an operation: `query(..).execute(..).await`.
        for (index, (method, args)) in chain.iter().enumerate() {
            let operation = self.operations.iter().copied().find(|op| {
                op.methods.contains(method)
                    && op.arguments.is_none_or(|n| n == *args)
                    && written_before(&op.after, index + 1)
            });
            if let Some(operation) = operation {
                return Some(Performed {
                    operation,
                    name: format!(".{method}()"),
                });
            }
        }
        let path = root_path?;
        let operation = (self.operations.iter().copied())
            .find(|op| op.functions.iter().any(|f| ends_with_path(&path, f)))?;
        let name = path.rsplit("::").take(2).collect::<Vec<_>>();
        Some(Performed {
            operation,
            name: format!(
                "{}()",
                name.into_iter().rev().collect::<Vec<_>>().join("::")
            ),
        })
    }

    /// Whether the code says the drop at `line` is deliberate: a comment on it, or one above it
    /// in its paragraph (no blank line between, at most `HEADING_REACH` lines up), that says
    /// why; or a function documented to ignore errors.
    fn deliberate(&self, line: usize) -> bool {
        let source = self.ctx.source;
        let text = |line: usize| &source.text[source.line_range(line)];
        let comment = |line: usize| text(line).find("//").map(|at| &text(line)[at..]);
        let mut heading = (1..line)
            .rev()
            .take(HEADING_REACH)
            .take_while(|&above| !text(above).trim().is_empty())
            .filter_map(comment);
        self.ignoring || comment(line).is_some_and(justifies) || heading.any(justifies)
    }

    fn report(&mut self, at: &impl Spanned, performed: &Performed<'_>, how: &str) {
        let range = self.ctx.source.span_range(at.span());
        let (first, last) = (
            self.ctx.source.line_of(range.start),
            self.ctx
                .source
                .line_of(range.end.saturating_sub(1).max(range.start)),
        );
        let said = (first..=last).any(|line| self.deliberate(line));
        let beside = (self.body)
            .is_some_and(|body| calls_any(self.imports, body, &performed.operation.not_beside));
        if said || beside || self.returning_error.last() == Some(&true) {
            return;
        }
        let message = format!(
            "the result of {} (`{}`) is {how}: if it fails, nothing logs, counts or returns the error",
            performed.operation.what, performed.name
        );
        self.out
            .push(Finding::at(Code::ERR002, self.ctx.source, range, message));
    }

    /// `Err(_) => {}`, `Err(e) => ()`, `Err(_) => continue`: an arm that drops the error.
    fn drops_error(arm: &syn::Arm) -> bool {
        // `Err(_)`, `Err(e)`, `Err(..)`: any error, not one kind (`Err(Error::RowNotFound)`).
        let is_err = match &arm.pat {
            syn::Pat::TupleStruct(t) => {
                t.path.segments.last().is_some_and(|s| s.ident == "Err")
                    && (t.elems.iter()).all(|p| {
                        matches!(
                            p,
                            syn::Pat::Wild(_) | syn::Pat::Ident(_) | syn::Pat::Rest(_)
                        )
                    })
            }
            _ => false,
        };
        is_err && does_nothing(&arm.body)
    }
}

/// How many lines above a statement the comment heading its paragraph is looked for.
const HEADING_REACH: usize = 3;

/// `return Err(..)`, or `Err(..)` as a block's value.
fn returns_error(stmt: &syn::Stmt) -> bool {
    let is_err = |expr: &syn::Expr| {
        matches!(expr, syn::Expr::Call(call)
            if matches!(&*call.func, syn::Expr::Path(p) if p.path.is_ident("Err")))
    };
    match stmt {
        syn::Stmt::Expr(syn::Expr::Return(r), _) => r.expr.as_deref().is_some_and(is_err),
        syn::Stmt::Expr(expr, None) => is_err(expr),
        _ => false,
    }
}

/// Words that say why dropping an error is safe: `ignore`, `best effort`, `just in case`,
/// `harmless`, `don't care`, `may fail`, `don't want to panic`.
static JUSTIFIED: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(
        r"(?i)\b(?:ignor\w*|best[- ]effort|just in case|harmless|(?:don'?t|do not) care|doesn'?t matter|(?:may|can|might) fail|(?:ok|fine) if|not (?:critical|important|needed|fatal)|nothing to do|no need|(?:don'?t|do not) want to (?:panic|fail)|safe to)\b",
    )
    .unwrap()
});

fn justifies(comment: &str) -> bool {
    JUSTIFIED.is_match(comment)
}

/// A doc comment that says the function ignores errors ("Ignore the errors.").
fn documents_ignoring(attrs: &[syn::Attribute]) -> bool {
    justifies(&crate::facts::rust::doc_text(attrs))
}

/// An empty block, `()`, or `continue`.
fn does_nothing(expr: &syn::Expr) -> bool {
    match expr {
        syn::Expr::Block(b) => b.block.stmts.is_empty(),
        syn::Expr::Tuple(t) => t.elems.is_empty(),
        syn::Expr::Continue(_) => true,
        _ => false,
    }
}

impl<'a> Walker<'a, '_> {
    /// Starts a function: what its doc comment says, and its body. Returns the enclosing
    /// function's, to restore.
    fn enter(
        &mut self,
        attrs: &[syn::Attribute],
        body: &'a syn::Block,
    ) -> (bool, Option<&'a syn::Block>) {
        (
            std::mem::replace(&mut self.ignoring, documents_ignoring(attrs)),
            self.body.replace(body),
        )
    }
}

/// Whether `body` calls a function whose resolved path ends with one of `functions`.
fn calls_any(imports: &Imports, body: &syn::Block, functions: &[String]) -> bool {
    struct Calls<'i> {
        imports: &'i Imports,
        functions: &'i [String],
        found: bool,
    }
    impl<'ast> Visit<'ast> for Calls<'_> {
        fn visit_expr_call(&mut self, call: &'ast syn::ExprCall) {
            if let syn::Expr::Path(p) = &*call.func {
                let path = self.imports.resolve(&p.path);
                self.found |= self.functions.iter().any(|f| ends_with_path(&path, f));
            }
            if !self.found {
                visit::visit_expr_call(self, call);
            }
        }
    }
    if functions.is_empty() {
        return false;
    }
    let mut calls = Calls {
        imports,
        functions,
        found: false,
    };
    calls.visit_block(body);
    calls.found
}

impl<'ast> Visit<'ast> for Walker<'ast, '_> {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        // Test-only items: this family reports nothing in test code.
        if !crate::facts::rust::is_test_item(item) {
            visit::visit_item(self, item);
        }
    }

    fn visit_item_fn(&mut self, item: &'ast syn::ItemFn) {
        let saved = self.enter(&item.attrs, &item.block);
        visit::visit_item_fn(self, item);
        (self.ignoring, self.body) = saved;
    }

    fn visit_impl_item_fn(&mut self, item: &'ast syn::ImplItemFn) {
        if !crate::facts::rust::is_cfg_test(&item.attrs) {
            let saved = self.enter(&item.attrs, &item.block);
            visit::visit_impl_item_fn(self, item);
            (self.ignoring, self.body) = saved;
        }
    }

    fn visit_block(&mut self, block: &'ast syn::Block) {
        self.returning_error
            .push(block.stmts.iter().any(returns_error));
        visit::visit_block(self, block);
        self.returning_error.pop();
    }

    fn visit_local(&mut self, local: &'ast syn::Local) {
        if let (syn::Pat::Wild(_), Some(init)) = (&local.pat, &local.init)
            && init.diverge.is_none()
            && let Some(performed) = self.performed(&init.expr)
        {
            self.report(local, &performed, "thrown away with `let _ =`");
        }
        visit::visit_local(self, local);
    }

    fn visit_stmt(&mut self, stmt: &'ast syn::Stmt) {
        if let syn::Stmt::Expr(syn::Expr::MethodCall(call), Some(_)) = stmt
            && call.method == "ok"
            && call.args.is_empty()
            && let Some(performed) = self.performed(&call.receiver)
        {
            self.report(stmt, &performed, "thrown away with `.ok();`");
        }
        visit::visit_stmt(self, stmt);
    }

    fn visit_expr_if(&mut self, expr: &'ast syn::ExprIf) {
        if let syn::Expr::Let(check) = &*expr.cond
            && let syn::Pat::TupleStruct(pattern) = &*check.pat
            && pattern
                .path
                .segments
                .last()
                .is_some_and(|s| s.ident == "Err")
            && expr.then_branch.stmts.is_empty()
            && expr.else_branch.is_none()
            && let Some(performed) = self.performed(&check.expr)
        {
            self.report(expr, &performed, "checked with an empty `if let Err(_)`");
        }
        visit::visit_expr_if(self, expr);
    }

    fn visit_expr_match(&mut self, expr: &'ast syn::ExprMatch) {
        if let Some(arm) = expr.arms.iter().find(|arm| Walker::drops_error(arm))
            && let Some(performed) = self.performed(&expr.expr)
        {
            self.report(arm, &performed, "matched by an `Err` arm that does nothing");
        }
        visit::visit_expr_match(self, expr);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::words::code_token_list as tokens;

    #[test]
    fn a_call_without_arguments_is_told_from_a_channel_send() {
        let request = tokens("let r = client.post(url).send().await;");
        assert!(calls_without_arguments(&request, "send"));
        let channel = tokens("tx.send(event).await; let send = f();");
        assert!(!calls_without_arguments(&channel, "send"));
        assert!(calls_without_arguments(&tokens("b.send ( )"), "send"));
    }

    #[test]
    fn only_a_file_that_writes_a_drop_is_parsed_for_one() {
        let written = |text: &str| drop_written(&tokens(text));
        assert!(written("let _ = db.execute(q).await;"));
        assert!(written("let _=f();"));
        assert!(written("client.send().await.ok() ;"));
        assert!(written("match r { Ok(v) => v, Err(_) => {} }"));
        assert!(written("match r { Err(e) => { ; }, _ => () }"));
        assert!(written("match r { Err(..) => (), _ => {} }"));
        assert!(written(
            "for x in y { match f(x) { Err(_) => continue, Ok(v) => g(v) } }"
        ));
        assert!(written("if let Err(_) = fs::write(p, b) {}"));
        // Errors handled, values kept: nothing to drop.
        assert!(!written(
            "let _guard = lock(); match r { Err(e) => return Err(e), Ok(v) => v }"
        ));
        assert!(!written(
            "// let _ = f();\nfn f() -> Result<(), E> { Err(E) }"
        ));
        assert!(!written("impl Marker for T {} fn f() { g().ok() }"));
    }

    #[test]
    fn a_function_is_named_through_its_module_or_not_at_all() {
        let named = |text: &str| module_item_written(&tokens(text), "std::fs::copy");
        assert!(named("std::fs::copy(a, b)"));
        assert!(named("use std::fs; fn f() { let _ = fs :: copy(a, b); }"));
        assert!(named("use std::fs::{self, copy as cp};"));
        assert!(named("use std::{fs::{File, copy}};"));
        assert!(named("use std::fs::*;"));
        assert!(named("use std::fs as disk; disk::copy(a, b)"));
        // The words are there, but not this function.
        assert!(!named(
            "use std::fs::{File, rename};\nfn copy() {}\nfn f() { copy(); }"
        ));
        assert!(!named(
            "use std::fs;\nfn f(c: Copier) { fs::remove_file(p); c.copy(); }"
        ));
    }
}
