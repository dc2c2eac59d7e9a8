//! Randomness in a loop's input: what a random source makes differs on each pass, so a loop
//! that calls again with it tries something new (a random port, a fresh temporary name, a new
//! candidate key), not the same call again. A random source is a call RES003 counts as random
//! (`rand::`, `fastrand::`, `gen_range`, `rng()` ..), a method of a receiver named for one
//! (`rng.fill(buf)`), or a function of the same file that calls one (`fn tmpname() { rand() }`).

use std::collections::HashSet;

use syn::visit::{self, Visit};
use syn::{Block, Expr};

use super::Cx;
use super::delay::place;

/// The functions of one file that return something random.
pub(super) struct RandomSources {
    functions: HashSet<String>,
}

impl RandomSources {
    pub fn of_file(cx: &Cx<'_>, file: &syn::File) -> RandomSources {
        let mut bodies = Bodies(Vec::new());
        bodies.visit_file(file);
        let mut sources = RandomSources {
            functions: HashSet::new(),
        };
        // To a fixed point: a function that calls a random function is random.
        loop {
            let before = sources.functions.len();
            for (name, body) in &bodies.0 {
                if !sources.functions.contains(name) && sources.in_block(cx, body) {
                    sources.functions.insert(name.clone());
                }
            }
            if sources.functions.len() == before {
                return sources;
            }
        }
    }

    /// Whether an expression calls a random source.
    pub fn in_expr(&self, cx: &Cx<'_>, expr: &Expr) -> bool {
        let mut finder = Finder {
            cx,
            sources: self,
            found: false,
        };
        finder.visit_expr(expr);
        finder.found
    }

    fn in_block(&self, cx: &Cx<'_>, block: &Block) -> bool {
        let mut finder = Finder {
            cx,
            sources: self,
            found: false,
        };
        finder.visit_block(block);
        finder.found
    }

    /// Whether a method call draws from a random source: a random method, or any method of a
    /// receiver named for one (`rng.fill(candidate)`).
    pub fn method_is_random(&self, cx: &Cx<'_>, m: &syn::ExprMethodCall) -> bool {
        let jitter = &cx.data.res003;
        jitter.is_jitter_call(&m.method.to_string())
            || self.functions.contains(&m.method.to_string())
                && matches!(&*m.receiver, Expr::Path(p) if p.path.is_ident("self"))
            || place(&m.receiver).is_some_and(|name| {
                let last = name.rsplit('.').next().unwrap_or(&name);
                jitter.is_jitter_call(last)
            })
    }
}

/// The functions (free and associated) of a file, by name, with their bodies.
struct Bodies<'a>(Vec<(String, &'a Block)>);

impl<'a> Visit<'a> for Bodies<'a> {
    fn visit_item_fn(&mut self, f: &'a syn::ItemFn) {
        self.0.push((f.sig.ident.to_string(), &f.block));
        visit::visit_item_fn(self, f);
    }

    fn visit_impl_item_fn(&mut self, f: &'a syn::ImplItemFn) {
        self.0.push((f.sig.ident.to_string(), &f.block));
        visit::visit_impl_item_fn(self, f);
    }
}

struct Finder<'c> {
    cx: &'c Cx<'c>,
    sources: &'c RandomSources,
    found: bool,
}

impl<'ast> Visit<'ast> for Finder<'_> {
    fn visit_expr_call(&mut self, c: &'ast syn::ExprCall) {
        if let Expr::Path(p) = &*c.func {
            let path = self.cx.resolve(&p.path);
            let local = p.path.segments.len() == 1
                || p.path.segments.first().is_some_and(|s| s.ident == "Self");
            let name = path.rsplit("::").next().unwrap_or(&path);
            self.found |= self.cx.data.res003.is_jitter_call(&path)
                || (local && self.sources.functions.contains(name));
        }
        visit::visit_expr_call(self, c);
    }

    fn visit_expr_method_call(&mut self, m: &'ast syn::ExprMethodCall) {
        self.found |= self.sources.method_is_random(self.cx, m);
        visit::visit_expr_method_call(self, m);
    }

    /// `format!("{}{}", rand(), suffix)`: the arguments of a macro that reads as expressions.
    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        let args = mac
            .parse_body_with(syn::punctuated::Punctuated::<Expr, syn::Token![,]>::parse_terminated);
        for arg in args.iter().flatten() {
            self.visit_expr(arg);
        }
    }

    fn visit_item(&mut self, _: &'ast syn::Item) {}
}
