//! External data within one function: the names bound to it, the names bound to its split
//! fields, and the names a check has validated.

use std::collections::{HashMap, HashSet};

use syn::visit::{self, Visit};

use super::{DATA, Source};
use crate::facts::imports::Imports;

/// Where external data comes from, for the message.
#[derive(Clone, Debug)]
pub struct Origin {
    /// `the request's `body``, `an upstream response`.
    pub what: String,
    consequence: Option<&'static str>,
    /// The data is a plain parameter of a function not known as a handler: a finding on it
    /// holds only if a router registers the function.
    pub held: bool,
}

impl Origin {
    /// A request handler's parameter (its pattern's first name).
    pub fn request(pat: &syn::Pat, held: bool) -> Origin {
        let names = crate::facts::rust::pattern_names(pat);
        let what = match names.first() {
            Some(name) => format!("the request's `{name}`"),
            None => "the request's input".to_string(),
        };
        Origin {
            what,
            consequence: None,
            held,
        }
    }

    /// An extractor run by hand, in middleware or a helper.
    pub fn extracted() -> Origin {
        Origin {
            what: "the request's input".to_string(),
            consequence: None,
            held: false,
        }
    }

    pub fn source(source: &'static Source) -> Origin {
        Origin {
            what: source.what.clone(),
            consequence: Some(&source.consequence),
            held: false,
        }
    }

    /// The same data, handed to a function of the file: its message names the function.
    pub fn given_to(&self, function: &str) -> Origin {
        Origin {
            what: format!("{} (given to `{function}`)", self.what),
            ..self.clone()
        }
    }

    pub fn consequence(&self) -> &str {
        self.consequence
            .unwrap_or("the client gets a dropped connection, not a 400")
    }
}

/// The external data of one function.
#[derive(Default)]
pub struct Scope {
    tainted: HashMap<String, Origin>,
    /// Names bound to the split fields of external data (`line.split(',').collect()`).
    split: HashMap<String, Origin>,
    /// Names a condition has checked.
    validated: HashSet<String>,
}

impl Scope {
    pub fn is_empty(&self) -> bool {
        self.tainted.is_empty()
    }

    pub fn taint_pattern(&mut self, pat: &syn::Pat, origin: &Origin) {
        for name in crate::facts::rust::pattern_names(pat) {
            self.validated.remove(&name);
            self.tainted.insert(name, origin.clone());
        }
    }

    /// Binds a pattern's names: to external data (or its split fields), or to other data,
    /// which shadows what the names held.
    pub fn bind(&mut self, pat: &syn::Pat, origin: Option<Origin>, split: Option<Origin>) {
        for name in crate::facts::rust::pattern_names(pat) {
            self.validated.remove(&name);
            match &origin {
                Some(origin) => self.tainted.insert(name.clone(), origin.clone()),
                None => self.tainted.remove(&name),
            };
            match &split {
                Some(origin) => self.split.insert(name, origin.clone()),
                None => self.split.remove(&name),
            };
        }
    }

    fn live<'s>(&'s self, names: &'s HashMap<String, Origin>, name: &str) -> Option<&'s Origin> {
        names.get(name).filter(|_| !self.validated.contains(name))
    }

    /// The origin of the external data an expression holds: a name bound to it, or a source
    /// read in the expression.
    pub fn origin(&self, expr: &syn::Expr, inputs: &Inputs<'_>) -> Option<Origin> {
        let mut finder = Finder {
            scope: self,
            inputs,
            found: None,
        };
        finder.visit_expr(expr);
        finder.found
    }

    /// The tainted names an expression mentions.
    pub fn names_in(&self, expr: &syn::Expr) -> Vec<String> {
        let mut names = Names(Vec::new());
        names.visit_expr(expr);
        names
            .0
            .into_iter()
            .filter(|n| self.tainted.contains_key(n) || self.split.contains_key(n))
            .collect()
    }

    /// Marks names validated; returns what was validated before.
    pub fn validate(&mut self, names: &[String]) -> HashSet<String> {
        let saved = self.validated.clone();
        self.validated.extend(names.iter().cloned());
        saved
    }

    pub fn restore(&mut self, saved: HashSet<String>) {
        self.validated = saved;
    }

    /// The origin of split fields: `line.split(',').collect::<Vec<_>>()`, an iterator
    /// `line.split(',')`, of external data.
    pub fn splits(&self, expr: &syn::Expr, inputs: &Inputs<'_>) -> Option<Origin> {
        let syn::Expr::MethodCall(call) = peel(expr) else {
            return None;
        };
        let method = call.method.to_string();
        if method == "collect" {
            return self.splits(&call.receiver, inputs).or_else(|| {
                let mut inner = &*call.receiver;
                // `line.split(',').map(str::trim).collect()`
                while let syn::Expr::MethodCall(c) = peel(inner) {
                    if DATA.splits.contains(&c.method.to_string()) {
                        return self.origin(&c.receiver, inputs);
                    }
                    inner = &c.receiver;
                }
                None
            });
        }
        if DATA.splits.contains(&method) {
            return self.origin(&call.receiver, inputs);
        }
        None
    }

    /// The origin of the split fields an expression is: a name bound to them, or a split
    /// written in place.
    pub fn split_origin(&self, expr: &syn::Expr, inputs: &Inputs<'_>) -> Option<Origin> {
        if let syn::Expr::Path(p) = peel(expr)
            && let Some(name) = p.path.get_ident()
        {
            return self.live(&self.split, &name.to_string()).cloned();
        }
        self.splits(expr, inputs)
    }
}

/// Through `.await`, parentheses, references and `?`.
pub fn peel(expr: &syn::Expr) -> &syn::Expr {
    match expr {
        syn::Expr::Await(a) => peel(&a.base),
        syn::Expr::Paren(p) => peel(&p.expr),
        syn::Expr::Reference(r) => peel(&r.expr),
        syn::Expr::Try(t) => peel(&t.expr),
        _ => expr,
    }
}

/// The source an expression reads: `resp.text().await`, `msg.payload()`.
pub fn source_read(expr: &syn::Expr, sources: &[&'static Source]) -> Option<&'static Source> {
    let (call, awaited) = match expr {
        syn::Expr::Paren(p) => return source_read(&p.expr, sources),
        syn::Expr::Await(a) => match &*a.base {
            syn::Expr::MethodCall(call) => (call, true),
            _ => return None,
        },
        syn::Expr::MethodCall(call) => (call, false),
        _ => return None,
    };
    let method = call.method.to_string();
    (sources.iter().copied())
        .find(|s| call.args.is_empty() && s.awaited == awaited && s.methods.contains(&method))
}

/// Whether a block leaves what encloses it: a `return`, `continue` or `break` among its
/// statements.
pub fn leaves(block: &syn::Block) -> bool {
    block.stmts.iter().any(|stmt| {
        matches!(
            stmt,
            syn::Stmt::Expr(
                syn::Expr::Return(_) | syn::Expr::Continue(_) | syn::Expr::Break(_),
                _
            )
        )
    })
}

/// What a file can read external data from, besides a handler's parameters.
pub struct Inputs<'a> {
    /// The sources its package can read.
    pub sources: Vec<&'static Source>,
    pub imports: &'a Imports,
}

impl Inputs<'_> {
    /// A framework's extractor of the request's input (`axum::Json`, `web::Query`).
    pub fn extractor(&self, path: &syn::Path) -> bool {
        is_extractor(&self.imports.resolve(path))
    }
}

/// Whether a resolved path is a framework's extractor of the request's input.
pub fn is_extractor(resolved: &str) -> bool {
    let last = resolved.rsplit("::").next().unwrap_or(resolved);
    DATA.extractors.iter().any(|e| e == last) && crate::facts::routes::under_framework(resolved)
}

struct Finder<'a> {
    scope: &'a Scope,
    inputs: &'a Inputs<'a>,
    found: Option<Origin>,
}

impl Finder<'_> {
    /// An extractor run by hand: `req.extract::<Json<T>>()`, `web::Query::<T>::from_query(..)`,
    /// `Json::<T>::from_request(..)`.
    fn extracts(&self, expr: &syn::Expr) -> bool {
        match expr {
            syn::Expr::MethodCall(call) => (call.turbofish.iter())
                .flat_map(|t| &t.args)
                .any(|arg| matches!(arg, syn::GenericArgument::Type(syn::Type::Path(p)) if self.inputs.extractor(&p.path))),
            syn::Expr::Call(call) => match &*call.func {
                syn::Expr::Path(p) => {
                    let resolved = self.inputs.imports.resolve(&p.path);
                    resolved
                        .rsplit_once("::")
                        .is_some_and(|(owner, _)| is_extractor(owner))
                }
                _ => false,
            },
            _ => false,
        }
    }
}

impl<'ast> Visit<'ast> for Finder<'_> {
    fn visit_expr(&mut self, expr: &'ast syn::Expr) {
        if self.found.is_some() {
            return;
        }
        if let Some(source) = source_read(expr, &self.inputs.sources) {
            self.found = Some(Origin::source(source));
            return;
        }
        if self.extracts(expr) {
            self.found = Some(Origin::extracted());
            return;
        }
        match expr {
            syn::Expr::Path(p) => {
                if let Some(name) = p.path.get_ident() {
                    let name = name.to_string();
                    let scope = self.scope;
                    self.found = (scope.live(&scope.tainted, &name))
                        .or_else(|| scope.live(&scope.split, &name))
                        .cloned();
                }
            }
            syn::Expr::Field(field) => {
                if let syn::Member::Named(name) = &field.member
                    && let Some(source) =
                        (self.inputs.sources.iter()).find(|s| s.fields.iter().any(|f| name == f))
                {
                    self.found = Some(Origin::source(source));
                    return;
                }
                visit::visit_expr(self, expr);
            }
            syn::Expr::Macro(m) => self.visit_macro(&m.mac),
            // Data flows into what decodes or wraps it (`from_utf8(&body)`, `Some(body)`), not
            // into what a function looks up with it (`db.fetch(&id)`, `find(id)`).
            syn::Expr::Call(call) => {
                let flows = matches!(&*call.func, syn::Expr::Path(p)
                if p.path.segments.last().is_some_and(|s| {
                    let name = s.ident.to_string();
                    DATA.decoders.contains(&name) || name.starts_with(char::is_uppercase)
                }));
                if flows {
                    call.args.iter().for_each(|a| self.visit_expr(a));
                }
            }
            syn::Expr::MethodCall(call) => {
                self.visit_expr(&call.receiver);
                if DATA.decoders.contains(&call.method.to_string()) {
                    call.args.iter().for_each(|a| self.visit_expr(a));
                }
            }
            _ => visit::visit_expr(self, expr),
        }
    }

    /// A macro's arguments (`format!("{body}")` is not parsed): its identifiers.
    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        let mut names = Names(Vec::new());
        names.visit_macro(mac);
        let scope = self.scope;
        self.found = (names.0.iter())
            .find_map(|n| {
                scope
                    .live(&scope.tainted, n)
                    .or_else(|| scope.live(&scope.split, n))
            })
            .cloned();
    }
}

/// The single-segment names an expression mentions, macro arguments' identifiers included.
struct Names(Vec<String>);

impl<'ast> Visit<'ast> for Names {
    fn visit_expr_path(&mut self, p: &'ast syn::ExprPath) {
        if let Some(name) = p.path.get_ident() {
            self.0.push(name.to_string());
        }
        visit::visit_expr_path(self, p);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        collect_idents(mac.tokens.clone(), &mut self.0);
    }
}

fn collect_idents(tokens: proc_macro2::TokenStream, out: &mut Vec<String>) {
    for token in tokens {
        match token {
            proc_macro2::TokenTree::Ident(ident) => out.push(ident.to_string()),
            proc_macro2::TokenTree::Group(group) => collect_idents(group.stream(), out),
            _ => {}
        }
    }
}
