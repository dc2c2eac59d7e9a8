//! The walk that records a file's chains, locals and calls (see [`super::Flow`]).

use std::collections::HashMap;

use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::visit::{self, Visit};

use super::address::{Loopback, pattern_names, type_name, type_words};
use super::{Binding, Call, Flow, Guard, OptionRef, Root, Sink, Step, Use, Vocabulary};
use crate::facts::imports::{Imports, ends_with_path};
use crate::source::Source;

pub fn walk(
    file: &syn::File,
    imports: &Imports,
    source: &Source,
    vocabulary: &Vocabulary<'_>,
) -> Flow {
    let mut walker = Walker {
        imports,
        source,
        vocabulary,
        pending: Pending::default(),
        consumer: None,
        in_timeout: false,
        unheld: false,
        function: None,
        self_type: None,
        frames: Vec::new(),
        future: None,
        guard: None,
        flow: Flow::default(),
    };
    walker.visit_file(file);
    walker.flow
}

/// Where the value of the next visited expression goes (set by its parent): one sink, or one
/// per element of a tuple that a `let (a, b) = ..` takes apart.
#[derive(Debug, Clone)]
enum Pending {
    One(Sink),
    Tuple(Vec<Sink>),
}

impl Default for Pending {
    fn default() -> Self {
        Pending::One(Sink::Escapes)
    }
}

impl Pending {
    /// The sink of a value that is not taken apart.
    fn whole(self) -> Sink {
        match self {
            Pending::One(sink) => sink,
            Pending::Tuple(_) => Sink::Escapes,
        }
    }
}

struct Walker<'a> {
    imports: &'a Imports,
    source: &'a Source,
    vocabulary: &'a Vocabulary<'a>,
    pending: Pending,
    /// The call the next visited expression is a direct argument of.
    consumer: Option<String>,
    in_timeout: bool,
    /// In code no request of the service waits on (see [`Walker::probed`]).
    unheld: bool,
    function: Option<String>,
    /// The type of the `impl` block being walked.
    self_type: Option<String>,
    /// The block scopes of the current function, innermost last: name -> binding.
    frames: Vec<HashMap<String, usize>>,
    future: Option<usize>,
    guard: Option<Guard>,
    flow: Flow,
}

impl Walker<'_> {
    fn take_pending(&mut self) -> Pending {
        std::mem::take(&mut self.pending)
    }

    fn visit_with(&mut self, sink: Sink, expr: &syn::Expr) {
        self.pending = Pending::One(sink);
        self.visit_expr(expr);
    }

    fn visit_pending(&mut self, pending: Pending, expr: &syn::Expr) {
        self.pending = pending;
        self.visit_expr(expr);
    }

    /// Visits a direct argument of a call of `path`.
    fn visit_argument(&mut self, path: &str, arg: &syn::Expr) {
        self.consumer = Some(path.to_string());
        self.visit_with(Sink::Escapes, arg);
        self.consumer = None;
    }

    fn lookup(&self, name: &str) -> Option<usize> {
        self.frames
            .iter()
            .rev()
            .find_map(|frame| frame.get(name).copied())
    }

    /// A new binding, not yet in scope (a `let`'s name is not visible in its own initialiser).
    fn new_binding(
        &mut self,
        name: String,
        ty: Option<&syn::Type>,
        init: Option<&syn::Expr>,
    ) -> usize {
        let mut binding = Binding {
            name,
            function: self.function.clone(),
            param: None,
            type_words: ty.map(type_words).unwrap_or_default(),
            type_name: ty.and_then(type_name),
            loopback: false,
            option: None,
        };
        if let Some(init) = init {
            self.describe_init(&mut binding, init);
        }
        self.flow.bindings.push(binding);
        self.flow.bindings.len() - 1
    }

    /// What a local's initialiser says about it: a loopback address, the call that made it, the
    /// optional setting it copies.
    fn describe_init(&self, binding: &mut Binding, init: &syn::Expr) {
        let loopback = Loopback {
            local: &|name| {
                self.lookup(name)
                    .is_some_and(|id| self.flow.bindings[id].loopback)
            },
        };
        binding.loopback = loopback.is(init);
        binding.option = self.option_ref(init);
        if !binding.type_words.is_empty() {
            return;
        }
        let mut root = init;
        loop {
            match root {
                syn::Expr::MethodCall(call) => root = &call.receiver,
                syn::Expr::Try(inner) => root = &inner.expr,
                syn::Expr::Await(inner) => root = &inner.base,
                syn::Expr::Reference(inner) => root = &inner.expr,
                syn::Expr::Paren(inner) => root = &inner.expr,
                _ => break,
            }
        }
        match root {
            syn::Expr::Call(call) => {
                if let syn::Expr::Path(func) = &*call.func {
                    binding.type_words = func
                        .path
                        .segments
                        .iter()
                        .map(|s| s.ident.to_string())
                        .collect();
                }
            }
            syn::Expr::Path(path) => {
                if let Some(id) = path
                    .path
                    .get_ident()
                    .and_then(|i| self.lookup(&i.to_string()))
                {
                    binding.type_words = self.flow.bindings[id].type_words.clone();
                    binding.type_name = self.flow.bindings[id].type_name.clone();
                }
            }
            _ => {}
        }
    }

    fn bind(&mut self, name: String, id: usize) {
        if let Some(frame) = self.frames.last_mut() {
            frame.insert(name, id);
        }
    }

    /// Binds every name of a pattern in the innermost scope.
    fn bind_pattern(&mut self, pat: &syn::Pat) {
        for (name, ty) in pattern_names(pat) {
            let id = self.new_binding(name.clone(), ty, None);
            self.bind(name, id);
        }
    }

    fn scoped(&mut self, body: impl FnOnce(&mut Self)) {
        self.frames.push(HashMap::new());
        body(self);
        self.frames.pop();
    }

    fn in_function(
        &mut self,
        sig: &syn::Signature,
        attrs: &[syn::Attribute],
        body: impl FnOnce(&mut Self),
    ) {
        let saved = (
            self.function.replace(sig.ident.to_string()),
            std::mem::take(&mut self.frames),
            self.future.take(),
            self.guard.take(),
        );
        self.frames.push(HashMap::new());
        let typed = sig.inputs.iter().filter_map(|input| match input {
            syn::FnArg::Typed(typed) => Some(typed),
            syn::FnArg::Receiver(_) => None,
        });
        for (index, typed) in typed.enumerate() {
            for (name, _) in pattern_names(&typed.pat) {
                let id = self.new_binding(name.clone(), Some(&typed.ty), None);
                self.flow.bindings[id].param = Some(index);
                self.bind(name, id);
            }
        }
        self.pending = Pending::default();
        let name = sig.ident.to_string();
        let unheld = names_a_health_check(&name) || reports_in_background(&name, attrs);
        self.probed(unheld, body);
        (self.function, self.frames, self.future, self.guard) = saved;
    }

    /// Walks code that no request of the service waits on, as if a timeout wrapped it: what a
    /// health probe runs (a `health_check` function, a `Healthcheck` subcommand's branch),
    /// which the prober's own timeout bounds (Docker's `HEALTHCHECK --timeout`, a probe's
    /// `timeoutSeconds`), and background reporting (see [`reports_in_background`]).
    fn probed(&mut self, probe: bool, body: impl FnOnce(&mut Self)) {
        let saved = (self.in_timeout, self.unheld);
        self.in_timeout |= probe;
        self.unheld |= probe;
        body(self);
        (self.in_timeout, self.unheld) = saved;
    }

    /// The optional setting an expression reads: `self.timeout`, `config.timeout` (with the
    /// type of `config` when it is written), a parameter, or a local that copied one.
    fn option_ref(&self, expr: &syn::Expr) -> Option<OptionRef> {
        match expr {
            syn::Expr::Reference(inner) => self.option_ref(&inner.expr),
            syn::Expr::Paren(inner) => self.option_ref(&inner.expr),
            // `config.timeout.as_ref()`, `.clone()`, `.copied()`: the same setting.
            syn::Expr::MethodCall(call)
                if call.args.is_empty()
                    && matches!(
                        call.method.to_string().as_str(),
                        "as_ref" | "clone" | "copied" | "cloned" | "as_deref"
                    ) =>
            {
                self.option_ref(&call.receiver)
            }
            syn::Expr::Field(field) => {
                let syn::Member::Named(name) = &field.member else {
                    return None;
                };
                let owner = match &*field.base {
                    syn::Expr::Path(base) if base.path.is_ident("self") => self.self_type.clone(),
                    syn::Expr::Path(base) => base
                        .path
                        .get_ident()
                        .and_then(|i| self.lookup(&i.to_string()))
                        .and_then(|id| self.flow.bindings[id].type_name.clone()),
                    _ => None,
                };
                Some(OptionRef::Field {
                    owner,
                    field: name.to_string(),
                })
            }
            syn::Expr::Path(path) => {
                let id = self.lookup(&path.path.get_ident()?.to_string())?;
                let binding = &self.flow.bindings[id];
                match (&binding.option, binding.param, &binding.function) {
                    (Some(option), ..) => Some(option.clone()),
                    (None, Some(index), Some(function)) => Some(OptionRef::Param {
                        function: function.clone(),
                        index,
                        name: binding.name.clone(),
                    }),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// The guard of a branch on `option`: `set` for the branch where it is `Some`.
    fn guard_on(&self, option: &syn::Expr, set: bool) -> Option<Guard> {
        let option = self.option_ref(option)?;
        let name = match &option {
            OptionRef::Field { field, .. } => field.clone(),
            OptionRef::Param { name, .. } => name.clone(),
        };
        let names_timeout = crate::words::split(&name).iter().any(|w| w == "timeout");
        Some(Guard {
            option,
            set,
            names_timeout,
        })
    }

    fn guarded(&mut self, guard: Option<Guard>, body: impl FnOnce(&mut Self)) {
        let saved = match guard {
            Some(guard) => self.guard.replace(guard),
            None => self.guard.clone(),
        };
        body(self);
        self.guard = saved;
    }

    fn record(
        &mut self,
        root: Root,
        mut steps: Vec<Step>,
        awaited: bool,
        sink: Sink,
        consumer: Option<String>,
    ) {
        steps.reverse();
        let binding = match &root {
            Root::Name(name) => self.lookup(name),
            _ => None,
        };
        self.flow.uses.push(Use {
            root,
            binding,
            steps,
            awaited,
            sink,
            in_timeout: self.in_timeout,
            unheld: self.unheld,
            function: self.function.clone(),
            future: self.future,
            consumer,
            guard: self.guard.clone(),
        });
    }

    fn note_call<'e>(&mut self, name: String, args: impl IntoIterator<Item = &'e syn::Expr>) {
        if self.in_timeout {
            self.flow.timed_functions.insert(name.clone());
        }
        let settings = args
            .into_iter()
            .enumerate()
            .filter_map(|(index, arg)| Some((index, self.option_ref(arg)?)))
            .collect();
        self.flow.calls.push(Call {
            callee: name,
            caller: self.function.clone(),
            timed: self.in_timeout,
            settings,
        });
    }

    /// A method call of a chain: its arguments are visited, the step returned unless it passes
    /// its receiver through.
    fn method_step(&mut self, call: &syn::ExprMethodCall) -> Option<Step> {
        let name = call.method.to_string();
        self.note_call(name.clone(), &call.args);
        for arg in &call.args {
            self.visit_with(Sink::Escapes, arg);
        }
        if self.vocabulary.transparent_methods.contains(&name) {
            return None;
        }
        let start = self.source.span_range(call.method.span()).start;
        let end = self.source.span_range(call.paren_token.span.close()).end;
        let none_argument = call.args.len() == 1
            && matches!(&call.args[0], syn::Expr::Path(p) if p.path.is_ident("None"));
        Some(Step {
            name,
            range: start..end.max(start),
            none_argument,
        })
    }

    /// A call of a path at the root of a chain: its arguments are visited (under a timeout if it
    /// is a wrapper).
    fn call_root(&mut self, call: &syn::ExprCall, func: &syn::ExprPath, path: String) -> Root {
        if let Some(last) = func.path.segments.last() {
            self.note_call(last.ident.to_string(), &call.args);
        }
        let wrapper = self.vocabulary.timeout_wrappers.contains(&path);
        let saved = self.in_timeout;
        self.in_timeout |= wrapper;
        for arg in &call.args {
            self.visit_argument(&path, arg);
        }
        self.in_timeout = saved;
        let loopback = call.args.first().is_some_and(|first| {
            let local = |name: &str| {
                self.lookup(name)
                    .is_some_and(|id| self.flow.bindings[id].loopback)
            };
            Loopback { local: &local }.is(first)
        });
        Root::Call {
            path,
            range: self.source.span_range(call.span()),
            loopback,
        }
    }

    /// A chain: method calls, `?`, `.await`, references and pass-through calls down to its root.
    fn chain(&mut self, expr: &syn::Expr, sink: Sink, consumer: Option<String>) {
        let mut steps = Vec::new();
        let mut awaited = false;
        let mut current = expr;
        let root = loop {
            match current {
                syn::Expr::MethodCall(call) => {
                    steps.extend(self.method_step(call));
                    current = &call.receiver;
                }
                syn::Expr::Await(inner) => {
                    awaited = true;
                    current = &inner.base;
                }
                syn::Expr::Try(inner) => current = &inner.expr,
                syn::Expr::Paren(inner) => current = &inner.expr,
                syn::Expr::Group(inner) => current = &inner.expr,
                syn::Expr::Reference(inner) => current = &inner.expr,
                syn::Expr::Unary(inner) if matches!(inner.op, syn::UnOp::Deref(_)) => {
                    current = &inner.expr;
                }
                syn::Expr::Call(call) => {
                    let syn::Expr::Path(func) = &*call.func else {
                        self.visit_expr(&call.func);
                        for arg in &call.args {
                            self.visit_with(Sink::Escapes, arg);
                        }
                        break Root::Other;
                    };
                    let path = self.imports.resolve(&func.path);
                    let transparent = self
                        .vocabulary
                        .transparent_calls
                        .iter()
                        .any(|p| ends_with_path(&path, p));
                    if transparent && call.args.len() == 1 {
                        current = &call.args[0];
                        continue;
                    }
                    break self.call_root(call, func, path);
                }
                syn::Expr::Path(path) => {
                    break match path.path.get_ident() {
                        Some(ident) if path.qself.is_none() => Root::Name(ident.to_string()),
                        _ => Root::Other,
                    };
                }
                syn::Expr::Field(field) => {
                    let mut base = &*field.base;
                    while let syn::Expr::Field(inner) = base {
                        base = &inner.base;
                    }
                    if !matches!(base, syn::Expr::Path(_)) {
                        self.visit_with(Sink::Escapes, base);
                    }
                    break match &field.member {
                        syn::Member::Named(name) => Root::Field(name.to_string()),
                        syn::Member::Unnamed(_) => Root::Other,
                    };
                }
                // A closure or block as the whole value (`LazyLock::new(|| ..)`): its result
                // goes where the chain's value goes.
                _ if steps.is_empty() && !awaited && !std::ptr::eq(current, expr) => {
                    self.visit_with(sink, current);
                    return;
                }
                _ => {
                    self.visit_with(Sink::Escapes, current);
                    break Root::Other;
                }
            }
        };
        self.record(root, steps, awaited, sink, consumer);
    }

    /// A macro's arguments, when they read as expressions; otherwise every name in it is an
    /// opaque use. A `select!` that races a timer runs its calls under that timer.
    fn macro_tokens(&mut self, mac: &syn::Macro) {
        let parser = Punctuated::<syn::Expr, syn::Token![,]>::parse_terminated;
        if let Ok(args) = mac.parse_body_with(parser) {
            for arg in &args {
                self.visit_with(Sink::Escapes, arg);
            }
            return;
        }
        let tokens: Vec<proc_macro2::TokenTree> = flatten(mac.tokens.clone());
        let raced = mac.path.segments.last().is_some_and(|s| s.ident == "select")
            && tokens.iter().any(|t| {
                matches!(t, proc_macro2::TokenTree::Ident(i) if self.vocabulary.timers.iter().any(|timer| i == timer))
            });
        for (index, token) in tokens.iter().enumerate() {
            let proc_macro2::TokenTree::Ident(ident) = token else {
                continue;
            };
            let name = ident.to_string();
            if let Some(proc_macro2::TokenTree::Group(group)) = tokens.get(index + 1)
                && group.delimiter() == proc_macro2::Delimiter::Parenthesis
            {
                let parser = Punctuated::<syn::Expr, syn::Token![,]>::parse_terminated;
                let args = syn::parse::Parser::parse2(parser, group.stream()).unwrap_or_default();
                let saved = self.in_timeout;
                self.in_timeout |= raced;
                self.note_call(name.clone(), &args);
                self.in_timeout = saved;
            }
            self.record(
                Root::Name(name.clone()),
                Vec::new(),
                false,
                Sink::Opaque,
                None,
            );
            self.record(Root::Field(name), Vec::new(), false, Sink::Opaque, None);
        }
    }

    /// `let` with an initialiser: its value goes to the new binding (or to each binding of a
    /// tuple pattern), which comes into scope after the initialiser.
    fn let_init(&mut self, local: &syn::Local, init: &syn::LocalInit) {
        let (pat, ty) = match &local.pat {
            syn::Pat::Type(typed) => (&*typed.pat, Some(&*typed.ty)),
            pat => (pat, None),
        };
        let mut named = Vec::new();
        let pending = match pat {
            syn::Pat::Ident(ident) if ident.subpat.is_none() => {
                let name = ident.ident.to_string();
                let id = self.new_binding(name.clone(), ty, Some(&init.expr));
                named.push((name, id));
                Pending::One(Sink::Local(id))
            }
            syn::Pat::Tuple(tuple) => {
                let sinks = tuple
                    .elems
                    .iter()
                    .map(|elem| match elem {
                        syn::Pat::Ident(ident) if ident.subpat.is_none() => {
                            let name = ident.ident.to_string();
                            let id = self.new_binding(name.clone(), None, None);
                            named.push((name, id));
                            Sink::Local(id)
                        }
                        _ => Sink::Escapes,
                    })
                    .collect();
                Pending::Tuple(sinks)
            }
            _ => Pending::default(),
        };
        self.visit_pending(pending, &init.expr);
        if let Some((_, diverge)) = &init.diverge {
            self.visit_with(Sink::Escapes, diverge);
        }
        for (name, id) in named {
            self.bind(name, id);
        }
        // The other names of a pattern (`let Some(x) = ..`, `let (a, Some(b)) = ..`).
        let bound: Vec<String> = pattern_names(pat).into_iter().map(|(n, _)| n).collect();
        for name in bound {
            if self.frames.last().is_some_and(|f| !f.contains_key(&name)) {
                let id = self.new_binding(name.clone(), None, None);
                self.bind(name, id);
            }
        }
    }

    /// `if let Some(x) = option { .. } else { .. }` and plain `if`.
    fn if_expr(&mut self, expr: &syn::ExprIf, sink: Sink) {
        let (pattern, option) = match &*expr.cond {
            syn::Expr::Let(binding) => (Some(&*binding.pat), Some(&*binding.expr)),
            _ => (None, None),
        };
        let some = pattern.is_some_and(is_some_pattern);
        let guard = |w: &Self, set| option.filter(|_| some).and_then(|o| w.guard_on(o, set));
        let then_guard = guard(self, true);
        let else_guard = guard(self, false);
        self.scoped(|w| {
            match option {
                Some(option) => w.visit_with(Sink::Escapes, option),
                None => w.visit_with(Sink::Escapes, &expr.cond),
            }
            if let Some(pattern) = pattern {
                w.bind_pattern(pattern);
            }
            let probe = pattern.is_some_and(matches_a_health_check);
            w.probed(probe, |w| {
                w.guarded(then_guard, |w| {
                    w.pending = Pending::One(sink.clone());
                    w.visit_block(&expr.then_branch);
                });
            });
        });
        if let Some((_, otherwise)) = &expr.else_branch {
            self.guarded(else_guard, |w| w.visit_with(sink, otherwise));
        }
    }

    fn match_expr(&mut self, expr: &syn::ExprMatch, pending: Pending) {
        self.visit_with(Sink::Escapes, &expr.expr);
        for arm in &expr.arms {
            let pat = match &arm.pat {
                syn::Pat::Guard(guarded) => &*guarded.pat,
                pat => pat,
            };
            let set = if is_some_pattern(pat) {
                Some(true)
            } else if matches!(pat, syn::Pat::Ident(i) if i.ident == "None") {
                Some(false)
            } else {
                None
            };
            let guard = set.and_then(|set| self.guard_on(&expr.expr, set));
            self.scoped(|w| {
                w.bind_pattern(&arm.pat);
                if let syn::Pat::Guard(guarded) = &arm.pat {
                    w.visit_with(Sink::Escapes, &guarded.guard);
                }
                w.probed(matches_a_health_check(&arm.pat), |w| {
                    w.guarded(guard, |w| w.visit_pending(pending.clone(), &arm.body));
                });
            });
        }
    }

    fn assign_target(&self, left: &syn::Expr) -> Sink {
        match left {
            syn::Expr::Path(path) => path
                .path
                .get_ident()
                .and_then(|i| self.lookup(&i.to_string()))
                .map_or(Sink::Escapes, Sink::Local),
            syn::Expr::Field(field) => match &field.member {
                syn::Member::Named(name) => Sink::Field(name.to_string()),
                syn::Member::Unnamed(_) => Sink::Escapes,
            },
            _ => Sink::Escapes,
        }
    }
}

/// A name for a health check: `health_check`, `HealthCheck`, `run_healthcheck`.
fn names_a_health_check(name: &str) -> bool {
    let name = name.to_ascii_lowercase().replace(['_', '-'], "");
    name.contains("healthcheck")
}

/// Code that only reports about the service: usage telemetry, analytics events, update
/// checks. Its hang stalls that report (a detached task, a periodic ping), never a request
/// the service serves, so no timeout is asked of it. Told by the item's name, its doc comment
/// (`/// Sends usage data to ..`) or the Cargo feature it is compiled under
/// (`#[cfg(feature = "check-update")]`).
fn reports_in_background(name: &str, attrs: &[syn::Attribute]) -> bool {
    const WORDS: [&str; 8] = [
        "telemetry",
        "analytics",
        "usagedata",
        "usagestats",
        "usagereport",
        "phonehome",
        "checkupdate",
        "updatecheck",
    ];
    let names = |text: &str| {
        let squeezed: String = (text.chars())
            .filter(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_lowercase())
            .collect();
        WORDS.iter().any(|word| squeezed.contains(word))
    };
    let cfg = attrs.iter().filter_map(|attr| match &attr.meta {
        syn::Meta::List(cfg) if cfg.path.is_ident("cfg") => Some(cfg.tokens.to_string()),
        _ => None,
    });
    names(name) || names(&crate::facts::rust::doc_text(attrs)) || cfg.into_iter().any(|c| names(&c))
}

/// A pattern that matches a health-check command: `Commands::Healthcheck { .. }`,
/// `Some(Command::HealthCheck(args))`; every case of an or-pattern must.
fn matches_a_health_check(pat: &syn::Pat) -> bool {
    let last = |path: &syn::Path| {
        (path.segments.last()).is_some_and(|s| names_a_health_check(&s.ident.to_string()))
    };
    match pat {
        syn::Pat::Struct(s) => last(&s.path),
        syn::Pat::TupleStruct(t) => last(&t.path) || t.elems.iter().any(matches_a_health_check),
        syn::Pat::Path(p) => last(&p.path),
        syn::Pat::Or(or) => or.cases.iter().all(matches_a_health_check),
        syn::Pat::Reference(r) => matches_a_health_check(&r.pat),
        syn::Pat::Paren(p) => matches_a_health_check(&p.pat),
        syn::Pat::Guard(g) => matches_a_health_check(&g.pat),
        _ => false,
    }
}

/// `Some(..)`.
fn is_some_pattern(pat: &syn::Pat) -> bool {
    matches!(pat, syn::Pat::TupleStruct(t) if t.path.segments.last().is_some_and(|s| s.ident == "Some"))
}

/// A macro's tokens with groups opened, in order (a group is kept before its contents so that a
/// name followed by `(..)` reads as a call).
fn flatten(tokens: proc_macro2::TokenStream) -> Vec<proc_macro2::TokenTree> {
    let mut out = Vec::new();
    for token in tokens {
        if let proc_macro2::TokenTree::Group(group) = &token {
            let inner = group.stream();
            out.push(token.clone());
            out.extend(flatten(inner));
        } else {
            out.push(token);
        }
    }
    out
}

impl<'ast> Visit<'ast> for Walker<'_> {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        // Test-only items: this family reports nothing in test code.
        if !crate::facts::rust::is_test_item(item) {
            visit::visit_item(self, item);
        }
    }

    fn visit_item_impl(&mut self, item: &'ast syn::ItemImpl) {
        let saved = std::mem::replace(&mut self.self_type, type_name(&item.self_ty));
        let pooled = item.trait_.as_ref().is_some_and(|implemented| {
            let path = self.imports.resolve(&implemented.0);
            self.vocabulary.pool_managers.contains(&path)
        });
        let reporting =
            (self.self_type.as_deref()).is_some_and(|t| reports_in_background(t, &item.attrs));
        let timed = self.in_timeout;
        self.in_timeout |= pooled;
        self.probed(reporting, |w| visit::visit_item_impl(w, item));
        self.in_timeout = timed;
        self.self_type = saved;
    }

    fn visit_item_fn(&mut self, item: &'ast syn::ItemFn) {
        self.in_function(&item.sig, &item.attrs, |w| w.visit_block(&item.block));
    }

    fn visit_impl_item_fn(&mut self, item: &'ast syn::ImplItemFn) {
        if !crate::facts::rust::is_cfg_test(&item.attrs) {
            self.in_function(&item.sig, &item.attrs, |w| w.visit_block(&item.block));
        }
    }

    fn visit_trait_item_fn(&mut self, item: &'ast syn::TraitItemFn) {
        if let Some(block) = &item.default {
            self.in_function(&item.sig, &item.attrs, |w| w.visit_block(block));
        }
    }

    fn visit_item_static(&mut self, item: &'ast syn::ItemStatic) {
        self.visit_with(Sink::Static(item.ident.to_string()), &item.expr);
    }

    fn visit_item_const(&mut self, item: &'ast syn::ItemConst) {
        self.visit_with(Sink::Static(item.ident.to_string()), &item.expr);
    }

    fn visit_local(&mut self, local: &'ast syn::Local) {
        match &local.init {
            Some(init) => self.let_init(local, init),
            None => self.bind_pattern(&local.pat),
        }
    }

    fn visit_block(&mut self, block: &'ast syn::Block) {
        let tail = self.take_pending();
        let last = block.stmts.len().saturating_sub(1);
        self.scoped(|w| {
            for (index, stmt) in block.stmts.iter().enumerate() {
                match stmt {
                    syn::Stmt::Expr(expr, None) if index == last => {
                        w.visit_pending(tail.clone(), expr);
                    }
                    syn::Stmt::Expr(expr, _) => w.visit_with(Sink::Dropped, expr),
                    syn::Stmt::Local(local) => w.visit_local(local),
                    syn::Stmt::Item(item) => w.visit_item(item),
                    syn::Stmt::Macro(mac) => w.macro_tokens(&mac.mac),
                }
            }
        });
    }

    fn visit_expr(&mut self, expr: &'ast syn::Expr) {
        let pending = self.take_pending();
        let consumer = self.consumer.take();
        match expr {
            syn::Expr::Block(inner) => {
                self.pending = pending;
                self.visit_block(&inner.block);
            }
            syn::Expr::Unsafe(inner) => {
                self.pending = pending;
                self.visit_block(&inner.block);
            }
            syn::Expr::Async(inner) => {
                let holder = match &pending {
                    Pending::One(Sink::Local(id)) => Some(*id),
                    _ => self.future,
                };
                let saved = std::mem::replace(&mut self.future, holder);
                self.pending = pending;
                self.visit_block(&inner.block);
                self.future = saved;
            }
            syn::Expr::If(inner) => self.if_expr(inner, pending.whole()),
            syn::Expr::Match(inner) => self.match_expr(inner, pending),
            syn::Expr::Closure(inner) => self.scoped(|w| {
                for input in &inner.inputs {
                    w.bind_pattern(input);
                }
                w.visit_pending(pending, &inner.body);
            }),
            syn::Expr::ForLoop(inner) => {
                self.visit_with(Sink::Escapes, &inner.expr);
                self.scoped(|w| {
                    w.bind_pattern(&inner.pat);
                    w.visit_block(&inner.body);
                });
            }
            syn::Expr::While(inner) => self.scoped(|w| {
                match &*inner.cond {
                    syn::Expr::Let(binding) => {
                        w.visit_with(Sink::Escapes, &binding.expr);
                        w.bind_pattern(&binding.pat);
                    }
                    cond => w.visit_with(Sink::Escapes, cond),
                }
                w.visit_block(&inner.body);
            }),
            syn::Expr::Tuple(tuple) => match pending {
                Pending::Tuple(sinks) if sinks.len() == tuple.elems.len() => {
                    for (elem, sink) in tuple.elems.iter().zip(sinks) {
                        self.visit_with(sink, elem);
                    }
                }
                _ => visit::visit_expr(self, expr),
            },
            syn::Expr::Assign(inner) => {
                let target = self.assign_target(&inner.left);
                self.visit_with(target, &inner.right);
            }
            syn::Expr::Struct(inner) => {
                for field in &inner.fields {
                    let sink = match &field.member {
                        syn::Member::Named(name) => Sink::Field(name.to_string()),
                        syn::Member::Unnamed(_) => Sink::Escapes,
                    };
                    self.visit_with(sink, &field.expr);
                }
                if let Some(rest) = &inner.rest {
                    self.visit_with(Sink::Escapes, rest);
                }
            }
            syn::Expr::Macro(inner) => self.macro_tokens(&inner.mac),
            syn::Expr::MethodCall(_)
            | syn::Expr::Call(_)
            | syn::Expr::Path(_)
            | syn::Expr::Field(_)
            | syn::Expr::Try(_)
            | syn::Expr::Await(_)
            | syn::Expr::Paren(_)
            | syn::Expr::Group(_)
            | syn::Expr::Reference(_) => self.chain(expr, pending.whole(), consumer),
            _ => visit::visit_expr(self, expr),
        }
    }
}
