//! Where values go inside one Rust file. Every method chain (`a.b(..).c(..)?.await`) is
//! recorded once as a [`Use`]: what it starts from (a call, a local or static name, a struct
//! field), the method calls applied to it in order, and where its value lands (a local, a
//! struct field, a static, or somewhere the analysis cannot see). The timeout rules follow a
//! client or builder from its constructor through these records.
//!
//! Names are matched by text within a function (locals) or the file (fields and statics):
//! shadowing is not modelled, the precision trade-off of a by-name analysis.

use std::collections::HashSet;
use std::ops::Range;

use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::visit::{self, Visit};

use crate::facts::imports::Imports;
use crate::source::Source;

/// What a chain starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Root {
    /// A call of a path, resolved through the file's imports.
    Call { path: String, range: Range<usize> },
    /// A single name: a local, a parameter or a static.
    Name(String),
    /// A named field, whatever it is a field of (`self.client`, `state.client`).
    Field(String),
    /// Anything else (a literal, an index, a macro).
    Other,
}

/// Where a chain's value goes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Sink {
    /// A local binding or assignment, in the function with this scope number.
    Local(usize, String),
    /// A named struct field, set in a struct literal or by assignment.
    Field(String),
    /// A `static` or `const` item.
    Static(String),
    /// An argument of a call, a returned value, an element of a collection.
    Escapes,
    /// The value of an expression statement, thrown away.
    Dropped,
    /// Named inside a macro the analysis cannot read.
    Opaque,
}

/// One method call of a chain.
#[derive(Debug, Clone)]
pub struct Step {
    pub name: String,
    /// From the method name to the closing parenthesis.
    pub range: Range<usize>,
    /// The call has exactly one argument and it is `None`.
    pub none_argument: bool,
}

#[derive(Debug, Clone)]
pub struct Use {
    pub root: Root,
    /// Method calls in the order they apply; pass-through calls (`clone`, `unwrap`, `into`)
    /// are left out.
    pub steps: Vec<Step>,
    /// `.await` appears in the chain.
    pub awaited: bool,
    pub sink: Sink,
    /// The chain sits inside the arguments of a timeout wrapper (`tokio::time::timeout`).
    pub in_timeout: bool,
    pub scope: usize,
    /// The enclosing function's name.
    pub function: Option<String>,
    /// The local that holds the `async` block the chain is in (`let f = async { .. };`).
    pub future: Option<String>,
}

impl Use {
    /// Whether this chain starts from the value a sink stored.
    pub fn starts_from(&self, sink: &Sink) -> bool {
        match (sink, &self.root) {
            (Sink::Local(scope, name), Root::Name(root)) => *scope == self.scope && name == root,
            (Sink::Static(name), Root::Name(root)) => name == root,
            (Sink::Field(name), Root::Field(root)) => name == root,
            _ => false,
        }
    }
}

/// Every chain of a file, and the functions the file calls inside a timeout wrapper.
#[derive(Debug, Default)]
pub struct Flow {
    pub uses: Vec<Use>,
    /// Names of functions and methods called inside a timeout wrapper's arguments: a chain in
    /// such a function runs under that timeout.
    pub timed_functions: HashSet<String>,
    /// Every call of a function or method by name, with the name of the calling function.
    pub calls: Vec<(String, Option<String>)>,
}

/// What the walk treats as pass-through and as timeout wrappers.
pub struct Vocabulary<'a> {
    /// Calls whose single argument is their value (`Arc::new`, `Some`, `LazyLock::new`),
    /// matched as path suffixes.
    pub transparent_calls: &'a [String],
    /// Methods whose receiver is their value (`clone`, `unwrap`, `into`).
    pub transparent_methods: &'a [String],
    /// Calls that bound the time of the future in their arguments.
    pub timeout_wrappers: &'a [String],
}

impl Flow {
    pub fn of_file(
        file: &syn::File,
        imports: &Imports,
        source: &Source,
        vocabulary: &Vocabulary<'_>,
    ) -> Flow {
        let mut walker = Walker {
            imports,
            source,
            vocabulary,
            pending: Sink::Escapes,
            in_timeout: false,
            scope: 0,
            scopes: 0,
            function: None,
            future: None,
            flow: Flow::default(),
        };
        walker.visit_file(file);
        walker.flow
    }

    /// The chains that start from where a sink put its value.
    pub fn uses_of(&self, sink: &Sink) -> impl Iterator<Item = &Use> {
        let sink = sink.clone();
        self.uses.iter().filter(move |u| u.starts_from(&sink))
    }

    /// Whether a chain runs under a timeout: inside a wrapper's arguments, in a function the
    /// file calls inside one, or in an `async` block whose future goes into one.
    pub fn under_timeout(&self, chain: &Use) -> bool {
        let timed_future = |name: &String| {
            self.uses.iter().any(|u| {
                u.in_timeout && u.scope == chain.scope && u.root == Root::Name(name.clone())
            })
        };
        chain.in_timeout
            || chain
                .function
                .as_ref()
                .is_some_and(|f| self.timed_functions.contains(f))
            || chain.future.as_ref().is_some_and(timed_future)
    }
}

struct Walker<'a> {
    imports: &'a Imports,
    source: &'a Source,
    vocabulary: &'a Vocabulary<'a>,
    /// Where the value of the next visited expression goes (set by its parent).
    pending: Sink,
    in_timeout: bool,
    scope: usize,
    scopes: usize,
    function: Option<String>,
    future: Option<String>,
    flow: Flow,
}

/// Whether `path` is `pattern` or ends with `::pattern`.
fn path_matches(path: &str, pattern: &str) -> bool {
    path == pattern
        || path
            .strip_suffix(pattern)
            .is_some_and(|head| head.ends_with("::"))
}

impl Walker<'_> {
    fn take_sink(&mut self) -> Sink {
        std::mem::replace(&mut self.pending, Sink::Escapes)
    }

    fn visit_with(&mut self, sink: Sink, expr: &syn::Expr) {
        self.pending = sink;
        self.visit_expr(expr);
    }

    fn in_function(&mut self, name: String, body: impl FnOnce(&mut Self)) {
        self.scopes += 1;
        let saved = (self.scope, self.function.take());
        self.scope = self.scopes;
        self.function = Some(name);
        body(self);
        (self.scope, self.function) = saved;
    }

    fn record(&mut self, root: Root, mut steps: Vec<Step>, awaited: bool, sink: Sink) {
        steps.reverse();
        self.flow.uses.push(Use {
            root,
            steps,
            awaited,
            sink,
            in_timeout: self.in_timeout,
            scope: self.scope,
            function: self.function.clone(),
            future: self.future.clone(),
        });
    }

    fn note_call(&mut self, name: String) {
        if self.in_timeout {
            self.flow.timed_functions.insert(name.clone());
        }
        self.flow.calls.push((name, self.function.clone()));
    }

    /// A chain: method calls, `?`, `.await`, references and pass-through calls down to its root.
    fn chain(&mut self, expr: &syn::Expr, sink: Sink) {
        let mut steps = Vec::new();
        let mut awaited = false;
        let mut current = expr;
        let root = loop {
            match current {
                syn::Expr::MethodCall(call) => {
                    let name = call.method.to_string();
                    self.note_call(name.clone());
                    for arg in &call.args {
                        self.visit_with(Sink::Escapes, arg);
                    }
                    if !self.vocabulary.transparent_methods.contains(&name) {
                        let start = self.source.span_range(call.method.span()).start;
                        let end = self.source.span_range(call.paren_token.span.close()).end;
                        let none_argument = call.args.len() == 1
                            && matches!(&call.args[0], syn::Expr::Path(p) if p.path.is_ident("None"));
                        steps.push(Step {
                            name,
                            range: start..end.max(start),
                            none_argument,
                        });
                    }
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
                        .any(|p| path_matches(&path, p));
                    if transparent && call.args.len() == 1 {
                        current = &call.args[0];
                        continue;
                    }
                    if let Some(last) = func.path.segments.last() {
                        self.note_call(last.ident.to_string());
                    }
                    let wrapper = self.vocabulary.timeout_wrappers.contains(&path);
                    let saved = self.in_timeout;
                    self.in_timeout |= wrapper;
                    for arg in &call.args {
                        self.visit_with(Sink::Escapes, arg);
                    }
                    self.in_timeout = saved;
                    break Root::Call {
                        path,
                        range: self.source.span_range(call.span()),
                    };
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
        self.record(root, steps, awaited, sink);
    }

    /// A macro's arguments, when they read as expressions; otherwise every name in it is an
    /// opaque use.
    fn macro_tokens(&mut self, mac: &syn::Macro) {
        let parser = Punctuated::<syn::Expr, syn::Token![,]>::parse_terminated;
        if let Ok(args) = mac.parse_body_with(parser) {
            for arg in &args {
                self.visit_with(Sink::Escapes, arg);
            }
            return;
        }
        let mut stack = vec![mac.tokens.clone()];
        while let Some(tokens) = stack.pop() {
            for token in tokens {
                match token {
                    proc_macro2::TokenTree::Ident(ident) => {
                        let name = ident.to_string();
                        self.record(Root::Name(name.clone()), Vec::new(), false, Sink::Opaque);
                        self.record(Root::Field(name), Vec::new(), false, Sink::Opaque);
                    }
                    proc_macro2::TokenTree::Group(group) => stack.push(group.stream()),
                    _ => {}
                }
            }
        }
    }
}

impl<'ast> Visit<'ast> for Walker<'_> {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        let attrs = match item {
            syn::Item::Mod(m) => &m.attrs,
            syn::Item::Fn(f) => &f.attrs,
            syn::Item::Impl(i) => &i.attrs,
            _ => return visit::visit_item(self, item),
        };
        // Test-only items: this family reports nothing in test code.
        if !crate::facts::rust::is_cfg_test(attrs) {
            visit::visit_item(self, item);
        }
    }

    fn visit_item_fn(&mut self, item: &'ast syn::ItemFn) {
        self.in_function(item.sig.ident.to_string(), |w| {
            w.pending = Sink::Escapes;
            w.visit_block(&item.block);
        });
    }

    fn visit_impl_item_fn(&mut self, item: &'ast syn::ImplItemFn) {
        self.in_function(item.sig.ident.to_string(), |w| {
            w.pending = Sink::Escapes;
            w.visit_block(&item.block);
        });
    }

    fn visit_trait_item_fn(&mut self, item: &'ast syn::TraitItemFn) {
        if let Some(block) = &item.default {
            self.in_function(item.sig.ident.to_string(), |w| {
                w.pending = Sink::Escapes;
                w.visit_block(block);
            });
        }
    }

    fn visit_item_static(&mut self, item: &'ast syn::ItemStatic) {
        self.visit_with(Sink::Static(item.ident.to_string()), &item.expr);
    }

    fn visit_item_const(&mut self, item: &'ast syn::ItemConst) {
        self.visit_with(Sink::Static(item.ident.to_string()), &item.expr);
    }

    fn visit_local(&mut self, local: &'ast syn::Local) {
        let Some(init) = &local.init else { return };
        let mut pat = &local.pat;
        if let syn::Pat::Type(typed) = pat {
            pat = &typed.pat;
        }
        let sink = match pat {
            syn::Pat::Ident(ident) if ident.subpat.is_none() => {
                Sink::Local(self.scope, ident.ident.to_string())
            }
            _ => Sink::Escapes,
        };
        self.visit_with(sink, &init.expr);
        if let Some((_, diverge)) = &init.diverge {
            self.visit_with(Sink::Escapes, diverge);
        }
    }

    fn visit_block(&mut self, block: &'ast syn::Block) {
        let tail = self.take_sink();
        let last = block.stmts.len().saturating_sub(1);
        for (index, stmt) in block.stmts.iter().enumerate() {
            match stmt {
                syn::Stmt::Expr(expr, None) if index == last => self.visit_with(tail.clone(), expr),
                syn::Stmt::Expr(expr, _) => self.visit_with(Sink::Dropped, expr),
                syn::Stmt::Local(local) => self.visit_local(local),
                syn::Stmt::Item(item) => self.visit_item(item),
                syn::Stmt::Macro(mac) => self.macro_tokens(&mac.mac),
            }
        }
    }

    fn visit_expr(&mut self, expr: &'ast syn::Expr) {
        let sink = self.take_sink();
        match expr {
            syn::Expr::Block(inner) => {
                self.pending = sink;
                self.visit_block(&inner.block);
            }
            syn::Expr::Unsafe(inner) => {
                self.pending = sink;
                self.visit_block(&inner.block);
            }
            syn::Expr::Async(inner) => {
                let holder = match &sink {
                    Sink::Local(_, name) => Some(name.clone()),
                    _ => self.future.clone(),
                };
                let saved = std::mem::replace(&mut self.future, holder);
                self.pending = sink;
                self.visit_block(&inner.block);
                self.future = saved;
            }
            syn::Expr::If(inner) => {
                self.visit_with(Sink::Escapes, &inner.cond);
                self.pending = sink.clone();
                self.visit_block(&inner.then_branch);
                if let Some((_, otherwise)) = &inner.else_branch {
                    self.visit_with(sink, otherwise);
                }
            }
            syn::Expr::Match(inner) => {
                self.visit_with(Sink::Escapes, &inner.expr);
                for arm in &inner.arms {
                    self.visit_pat(&arm.pat);
                    self.visit_with(sink.clone(), &arm.body);
                }
            }
            syn::Expr::Closure(inner) => self.visit_with(sink, &inner.body),
            syn::Expr::Assign(inner) => {
                let target = match &*inner.left {
                    syn::Expr::Path(path) => path
                        .path
                        .get_ident()
                        .map_or(Sink::Escapes, |i| Sink::Local(self.scope, i.to_string())),
                    syn::Expr::Field(field) => match &field.member {
                        syn::Member::Named(name) => Sink::Field(name.to_string()),
                        syn::Member::Unnamed(_) => Sink::Escapes,
                    },
                    _ => Sink::Escapes,
                };
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
            | syn::Expr::Reference(_) => self.chain(expr, sink),
            _ => visit::visit_expr(self, expr),
        }
    }
}
