//! ERR001: code that handles external input panics on malformed data.
//!
//! External input is a request handler's input (the parameters a framework fills: extractors,
//! bodies), an upstream response read by an HTTP client, and a message a consumer receives.
//! Within one function it is followed through bindings (`taint`); the panics are an `unwrap` or
//! `expect` of decoding it, indexing or unwrapping the fields of a split of it, and a panic
//! macro in a `match` or `if` on it. A function whose only input is plain parameters
//! (`body: String`) is a handler only if a router registers it: its findings are held until
//! every file has been seen (`settle`).

pub mod settle;
mod taint;

use std::collections::HashMap;
use std::sync::LazyLock;

use serde::Deserialize;
use syn::spanned::Spanned;
use syn::visit::{self, Visit};

use super::{FileContext, Parsed, TreeQuery};
use crate::facts::routes::{self, FRAMEWORKS};
use crate::finding::{Condition, Finding, RouteTarget};
use crate::registry::Code;
use crate::words::CodeToken;
use ra_ap_rustc_lexer::TokenKind;
use taint::{Inputs, Origin, Scope};

#[derive(Deserialize)]
struct Source {
    /// How the message names it: `an upstream response`.
    what: String,
    /// What a panic on it does, for the message.
    consequence: String,
    /// The crates that read it; the source is looked for only in their dependents.
    crates: Vec<String>,
    /// Methods (no argument) that read it.
    #[serde(default)]
    methods: Vec<String>,
    /// Of those, the ones that also decode it (`.json()`).
    #[serde(default)]
    decoding: Vec<String>,
    /// The methods read it only when awaited (`resp.text().await`, not `s.text()`).
    #[serde(default)]
    awaited: bool,
    /// Fields that hold it (`delivery.data`).
    #[serde(default)]
    fields: Vec<String>,
    /// The read gives an `Option` that a malformed message leaves empty (`msg.payload()`).
    #[serde(default)]
    optional: bool,
}

#[derive(Deserialize)]
struct Data {
    decoders: Vec<String>,
    splits: Vec<String>,
    pairs: Vec<String>,
    panics: Vec<String>,
    route_attributes: Vec<String>,
    extractors: Vec<String>,
    input_types: Vec<String>,
    source: Vec<Source>,
}

static DATA: LazyLock<Data> = LazyLock::new(|| Code::ERR001.rule().data());

/// A finding needs a panic: an `unwrap` or `expect` of a decoder, a split in two or a source
/// read, a split (its fields indexed), or a panic macro; and a file that names the web
/// framework its package depends on (`names_framework`), or a source its package can read.
pub fn needs_tree(query: &TreeQuery<'_>) -> bool {
    let word = |w: &String| query.has(w) || query.has_method(w);
    let unwrapped = || {
        (query.has_method("unwrap") || query.has_method("expect"))
            && (DATA.decoders.iter().chain(&DATA.pairs).any(word)
                || DATA.source.iter().any(|s| s.methods.iter().any(word)))
            && unwraps_a_read(query.tokens())
    };
    let panics = || {
        unwrapped()
            || DATA.splits.iter().any(|m| query.has_method(m))
            || (DATA.panics.iter().any(|m| query.has_macro(m)) && panic_leads(query.tokens()))
    };
    let serves = || query.depends_on_any(&FRAMEWORKS);
    let reads = |s: &Source| query.depends_on_any(&s.crates);
    let input = || {
        (serves() && FRAMEWORKS.iter().any(|c| query.has(c)))
            || DATA.source.iter().any(|s| {
                let read = |m: &String| match s.awaited {
                    true => query.has_method(m) && awaits_a_read(query.tokens(), m),
                    false => query.has_method(m),
                };
                reads(s)
                    && (s.methods.iter().any(read) || s.fields.iter().any(|f| query.has_member(f)))
            })
    };
    // The package first: it needs no lexing.
    let packaged = || serves() || DATA.source.iter().any(reads);
    query.live(Code::ERR001) && packaged() && panics() && input()
}

pub fn gate_words() -> Vec<String> {
    let mut words: Vec<String> = ["unwrap", "expect"].map(String::from).into();
    let lists = [&DATA.decoders, &DATA.pairs, &DATA.splits, &DATA.panics];
    words.extend(lists.into_iter().flatten().cloned());
    words.extend(FRAMEWORKS.map(String::from));
    for source in &DATA.source {
        words.extend(source.methods.iter().chain(&source.fields).cloned());
    }
    words.sort();
    words.dedup();
    words
}

pub fn check_file(ctx: &FileContext<'_>, parsed: &Parsed<'_>, out: &mut Vec<Finding>) {
    if !ctx.rules.enabled(Code::ERR001) {
        return;
    }
    let Some(rust) = &parsed.rust else {
        return;
    };
    let sources: Vec<&'static Source> = (DATA.source.iter())
        .filter(|s| ctx.depends_on_any(&s.crates))
        .collect();
    let serves = ctx.depends_on_any(&FRAMEWORKS) && names_framework(&ctx.source.text);
    if sources.is_empty() && !serves {
        return;
    }
    let mut walker = Walker {
        ctx,
        inputs: Inputs {
            sources,
            imports: rust.imports,
        },
        serves,
        module: module_of(&ctx.source.path),
        owner: None,
        scope: Scope::default(),
        target: None,
        calls: HashMap::new(),
        followed: None,
        out,
    };
    walker.visit_file(rust.ast);
    // The file's functions given external data by a call: their parameters, one level down.
    let calls = std::mem::take(&mut walker.calls);
    if !calls.is_empty() {
        walker.serves = false;
        walker.inputs.sources.clear();
        walker.followed = Some(calls);
        walker.visit_file(rust.ast);
    }
}

/// Whether some `.unwrap()` or `.expect(..)` may be of a decode or a read (`walker::unwrapped`):
/// its receiver, through `.await`, `?` and parentheses, ends with a call of a decoder, a pair
/// split or a source's method (`parse::<T>()`, `resp.json().await`). A call of any other name
/// is looked into, as a parenthesised expression would be; tokens this cannot follow count.
fn unwraps_a_read(tokens: &[CodeToken<'_>]) -> bool {
    let text = |at: usize| crate::words::token_text(tokens, at);
    let unwraps = |at: usize| {
        matches!(text(at), "unwrap" | "expect")
            && at >= 2
            && text(at - 1) == "."
            && text(at + 1) == "("
    };
    if !(0..tokens.len()).any(unwraps) {
        return false;
    }
    let opens = matching_opens(tokens);
    (0..tokens.len())
        .filter(|&at| unwraps(at))
        .any(|at| receiver_reads(tokens, &opens, at - 2))
}

fn receiver_reads(tokens: &[CodeToken<'_>], opens: &[Option<usize>], mut end: usize) -> bool {
    let text = |at: usize| crate::words::token_text(tokens, at);
    loop {
        match text(end) {
            "?" if end > 0 => end -= 1,
            "await" if end > 1 && text(end - 1) == "." => end -= 2,
            ")" => {
                let Some(open) = opens[end] else {
                    return true;
                };
                let before = open.checked_sub(1);
                let callee = match before.map(|b| tokens[b]) {
                    // A macro's arguments are not an expression.
                    Some((TokenKind::Bang, _)) => return false,
                    Some((TokenKind::Gt, _)) => match turbofish_callee(tokens, open - 1) {
                        Some(name) => Some(name),
                        None => return true,
                    },
                    Some((TokenKind::Ident, name)) => Some(name),
                    _ => None,
                };
                if callee.is_some_and(reads) {
                    return true;
                }
                // Another call's arguments, or a parenthesised expression: its last.
                end -= 1;
            }
            _ => return false,
        }
    }
}

/// The names whose call an `unwrap` may panic on: decoders, pair splits and sources' methods.
fn reads(name: &str) -> bool {
    let named = |list: &Vec<String>| list.iter().any(|n| n == name);
    named(&DATA.decoders) || named(&DATA.pairs) || DATA.source.iter().any(|s| named(&s.methods))
}

/// The function or method named before a turbofish that ends at `close` (`parse::<u8>`), or
/// `None` when the tokens are not one.
fn turbofish_callee<'t>(tokens: &[CodeToken<'t>], close: usize) -> Option<&'t str> {
    let open = generics_end(tokens, close, Direction::Backward)?;
    match tokens.get(open.checked_sub(3)?..open)? {
        [(TokenKind::Ident, name), (_, ":"), (_, ":")] => Some(name),
        _ => None,
    }
}

enum Direction {
    Forward,
    Backward,
}

/// The other end of the generic arguments whose `<` (read forward) or `>` (read backward) is
/// at `from`, or `None` when the tokens are not generic arguments this can follow: a statement
/// or a block between, or more than `GENERICS_READ` tokens.
fn generics_end(tokens: &[CodeToken<'_>], from: usize, direction: Direction) -> Option<usize> {
    let (deeper, shallower) = match direction {
        Direction::Forward => ("<", ">"),
        Direction::Backward => (">", "<"),
    };
    let mut depth = 0usize;
    for step in 0..GENERICS_READ {
        let at = match direction {
            Direction::Forward => from.checked_add(step)?,
            Direction::Backward => from.checked_sub(step)?,
        };
        match tokens.get(at)?.1 {
            t if t == deeper => depth += 1,
            t if t == shallower => depth -= 1,
            ";" | "{" | "}" => return None,
            _ => {}
        }
        if depth == 0 {
            return Some(at);
        }
    }
    None
}

/// How many tokens of generic arguments are read before they count as unknown: real ones are
/// short, and a bound keeps a hostile file of `<` from being read once per call.
const GENERICS_READ: usize = 256;

/// For each `)`, where its `(` is (one pass, so that no receiver is scanned twice).
fn matching_opens(tokens: &[CodeToken<'_>]) -> Vec<Option<usize>> {
    let mut opens = vec![None; tokens.len()];
    let mut stack = Vec::new();
    for (at, (kind, _)) in tokens.iter().enumerate() {
        match kind {
            TokenKind::OpenParen => stack.push(at),
            TokenKind::CloseParen => opens[at] = stack.pop(),
            _ => {}
        }
    }
    opens
}

/// Whether the method is called with no argument and awaited, as a source that is read only
/// when awaited is (`taint::source_read`): `.text().await`, `.json::<T>().await`.
fn awaits_a_read(tokens: &[CodeToken<'_>], method: &str) -> bool {
    let text = |at: usize| crate::words::token_text(tokens, at);
    (1..tokens.len()).any(|at| {
        if text(at) != method || text(at - 1) != "." {
            return false;
        }
        let mut call = at + 1;
        if [call, call + 1, call + 2].map(text) == [":", ":", "<"] {
            match generics_end(tokens, call + 2, Direction::Forward) {
                Some(end) if text(end + 1) == "(" => call = end + 1,
                // Not followed by the call: not arguments this can follow (`fn() -> T`).
                _ => return true,
            }
        }
        [call, call + 1, call + 2, call + 3].map(text) == ["(", ")", ".", "await"]
    })
}

/// Whether a panic macro may be a match arm's body or lead a block (`walker::arm_panic`,
/// `leading_panic`): written after `=>`, `{`, a path's `::` or an attribute.
fn panic_leads(tokens: &[CodeToken<'_>]) -> bool {
    tokens.windows(3).any(|w| {
        matches!(w, [(_, before), (TokenKind::Ident, name), (TokenKind::Bang, _)]
            if matches!(*before, ">" | "{" | ":" | "]") && DATA.panics.iter().any(|p| p == name))
    })
}

/// Whether a file's code names a web framework's crate (a `use`, a path, an attribute): a file
/// of request handlers does. Only such a file's functions are judged as handlers, which lets
/// the tree gate pass over the rest of a framework's dependents.
fn names_framework(text: &str) -> bool {
    crate::words::code_tokens(text).any(|(kind, piece)| {
        kind == ra_ap_rustc_lexer::TokenKind::Ident && FRAMEWORKS.contains(&piece)
    })
}

/// The module a file is, by its path: `handlers` for `src/handlers.rs` and
/// `src/handlers/mod.rs`, `crate` for a crate root.
fn module_of(path: &str) -> String {
    match crate::facts::rust::module_name(path) {
        "main" | "lib" => "crate".to_string(),
        module => module.to_string(),
    }
}

struct Walker<'a, 'o> {
    ctx: &'a FileContext<'a>,
    /// What the file can read external data from.
    inputs: Inputs<'a>,
    /// The package depends on a web framework.
    serves: bool,
    module: String,
    /// The type of the enclosing `impl`.
    owner: Option<String>,
    /// What is external in the current function.
    scope: Scope,
    /// The current function, when its input is a request's only if a router registers it.
    target: Option<RouteTarget>,
    /// Calls of the file's own functions with external data: (function, argument) -> origin.
    calls: HashMap<(String, usize), Origin>,
    /// On the second walk: the calls of the first, whose functions alone are walked, with
    /// those parameters external.
    followed: Option<HashMap<(String, usize), Origin>>,
    out: &'o mut Vec<Finding>,
}

/// A panic, for the message: `<code> <origin> <when>`.
struct Panic {
    /// What panics, up to the origin: "`.parse().unwrap()` on".
    code: String,
    /// When: "panics when it is malformed".
    when: &'static str,
}

impl Panic {
    fn new(code: String, when: &'static str) -> Panic {
        Panic { code, when }
    }
}

const MALFORMED: &str = "panics when it is malformed";
const MISSING_FIELD: &str = "panics when a field is missing";
const UNEXPECTED: &str = "is reached by an unexpected value";

/// What a function is to the request path.
enum Handler {
    /// A route attribute or a framework's extractor says it handles requests.
    Known,
    /// Its plain parameters are a request's input if a router registers it.
    IfRegistered,
    No,
}

impl Walker<'_, '_> {
    /// Enters a function: a new scope with its parameters that carry a request's input.
    fn function(
        &mut self,
        name: &syn::Ident,
        attrs: &[syn::Attribute],
        sig: &syn::Signature,
        body: impl FnOnce(&mut Self),
    ) {
        if let Some(followed) = &self.followed {
            let mut scope = Scope::default();
            for (index, pat) in typed_params(sig).enumerate() {
                if let Some(origin) = followed.get(&(name.to_string(), index)) {
                    scope.taint_pattern(pat, origin);
                }
            }
            if !scope.is_empty() {
                let saved_scope = std::mem::replace(&mut self.scope, scope);
                body(self);
                self.scope = saved_scope;
            }
            return;
        }
        let handler = self.handler(attrs, sig);
        let held = matches!(handler, Handler::IfRegistered);
        let mut scope = Scope::default();
        if !matches!(handler, Handler::No) {
            for input in &sig.inputs {
                if let syn::FnArg::Typed(arg) = input
                    && self.carries_input(&arg.ty)
                {
                    scope.taint_pattern(&arg.pat, &Origin::request(&arg.pat, held));
                }
            }
        }
        let target = held.then(|| RouteTarget {
            function: name.to_string(),
            owner: self.owner.clone(),
            module: self.module.clone(),
            package: (self.ctx.manifest).map_or_else(String::new, |m| m.dir.clone()),
        });
        let saved_scope = std::mem::replace(&mut self.scope, scope);
        let saved_target = std::mem::replace(&mut self.target, target);
        body(self);
        self.scope = saved_scope;
        self.target = saved_target;
    }

    fn handler(&self, attrs: &[syn::Attribute], sig: &syn::Signature) -> Handler {
        if !self.serves {
            return Handler::No;
        }
        let routed = attrs.iter().any(|a| {
            (a.path().segments.last())
                .is_some_and(|s| DATA.route_attributes.iter().any(|r| s.ident == r))
        });
        let extracts = sig
            .inputs
            .iter()
            .any(|input| matches!(input, syn::FnArg::Typed(arg) if self.extractor(&arg.ty)));
        if routed || extracts {
            Handler::Known
        } else if sig
            .inputs
            .iter()
            .any(|input| matches!(input, syn::FnArg::Typed(arg) if self.carries_input(&arg.ty)))
        {
            Handler::IfRegistered
        } else {
            Handler::No
        }
    }

    /// A framework's extractor of the request's input (`axum::Json<T>`, `web::Query<T>`).
    fn extractor(&self, ty: &syn::Type) -> bool {
        type_path(ty).is_some_and(|path| self.inputs.extractor(path))
    }

    /// A parameter type that carries the request's input in a handler: an extractor, or a
    /// plain type (`String`, `&str`, `Bytes`, `HeaderMap`).
    fn carries_input(&self, ty: &syn::Type) -> bool {
        self.extractor(ty)
            || type_path(ty).is_some_and(|path| {
                (path.segments.last())
                    .is_some_and(|s| DATA.input_types.iter().any(|t| s.ident == t))
            })
    }

    /// Reports a panic on external data, held until a router registers the function when the
    /// data is the plain parameters of one not known as a handler.
    fn report(&mut self, at: &impl Spanned, panic: &Panic, origin: &Origin) {
        let range = self.ctx.source.span_range(at.span());
        let message = format!(
            "{} {} {}: {}",
            panic.code,
            origin.what,
            panic.when,
            origin.consequence()
        );
        let finding = Finding::at(Code::ERR001, self.ctx.source, range, message);
        match (&self.target, origin.held) {
            (Some(target), true) => self.out.push(finding.on_condition(Condition {
                if_route_target: Some(target.clone()),
                ..Condition::default()
            })),
            (None, true) => {}
            _ => self.out.push(finding),
        }
    }

    /// Notes a call of one of the file's functions with external data (not held: a request's
    /// input whose handler is known), to follow into the function.
    fn note_call<'e>(&mut self, name: &str, args: impl Iterator<Item = &'e syn::Expr>) {
        if self.followed.is_some() {
            return;
        }
        for (index, arg) in args.enumerate() {
            if let Some(origin) = self.origin(arg).filter(|o| !o.held) {
                let given = origin.given_to(name);
                self.calls.entry((name.to_string(), index)).or_insert(given);
            }
        }
    }

    /// The origin of the external data an expression holds: a tainted name, or a source read
    /// in it.
    fn origin(&self, expr: &syn::Expr) -> Option<Origin> {
        self.scope.origin(expr, &self.inputs)
    }

    /// `decode(x).unwrap()`, `x.parse().unwrap()`, `resp.json().await.unwrap()`,
    /// `line.split(',').next().unwrap()`, `msg.payload().unwrap()`: what panics, if it does.
    fn unwrapped(&self, receiver: &syn::Expr, unwrap: &str) -> Option<(Panic, Origin)> {
        let peeled = taint::peel(receiver);
        match peeled {
            syn::Expr::Call(call) => {
                let syn::Expr::Path(p) = &*call.func else {
                    return None;
                };
                let last = p.path.segments.last()?.ident.to_string();
                if !DATA.decoders.contains(&last) {
                    return None;
                }
                let origin = call.args.iter().find_map(|a| self.origin(a))?;
                let path = self.inputs.imports.resolve(&p.path);
                let short: Vec<&str> = path.rsplit("::").take(2).collect();
                let name = short.into_iter().rev().collect::<Vec<_>>().join("::");
                Some((
                    Panic::new(format!("`{name}(..).{unwrap}()` on"), MALFORMED),
                    origin,
                ))
            }
            syn::Expr::MethodCall(call) => self.unwrapped_method(receiver, call, unwrap),
            _ => None,
        }
    }

    fn unwrapped_method(
        &self,
        receiver: &syn::Expr,
        call: &syn::ExprMethodCall,
        unwrap: &str,
    ) -> Option<(Panic, Origin)> {
        let method = call.method.to_string();
        if let Some(source) = taint::source_read(receiver, &self.inputs.sources) {
            let decodes = source.decoding.contains(&method);
            return (decodes || source.optional).then(|| {
                let when = if decodes { MALFORMED } else { "is empty" };
                let code = format!("`.{method}().{unwrap}()` on");
                (Panic::new(code, when), Origin::source(source))
            });
        }
        if DATA.pairs.contains(&method) {
            let origin = self.origin(&call.receiver)?;
            let code = format!("`.{method}(..).{unwrap}()` on");
            return Some((Panic::new(code, "panics when it has no separator"), origin));
        }
        if DATA.decoders.contains(&method) {
            let origin = self
                .origin(&call.receiver)
                .or_else(|| call.args.iter().find_map(|a| self.origin(a)))?;
            let code = format!("`.{method}().{unwrap}()` on");
            return Some((Panic::new(code, MALFORMED), origin));
        }
        if matches!(method.as_str(), "next" | "nth" | "last" | "next_back") {
            let origin = self.scope.split_origin(&call.receiver, &self.inputs)?;
            let code = format!("`.{method}(..).{unwrap}()` of the split fields of");
            return Some((Panic::new(code, MISSING_FIELD), origin));
        }
        None
    }

    /// A panic macro as the whole of a match arm's body.
    fn arm_panic(expr: &syn::Expr) -> Option<(&syn::Macro, String)> {
        match expr {
            syn::Expr::Macro(m) => panic_macro(&m.mac),
            syn::Expr::Block(b) if b.block.stmts.len() == 1 => leading_panic(&b.block),
            _ => None,
        }
    }
}

/// A panic macro as a block's first statement, with its name.
fn leading_panic(block: &syn::Block) -> Option<(&syn::Macro, String)> {
    match block.stmts.first()? {
        syn::Stmt::Macro(m) => panic_macro(&m.mac),
        syn::Stmt::Expr(syn::Expr::Macro(m), _) => panic_macro(&m.mac),
        _ => None,
    }
}

/// The macro with its name, if it panics (`panic!`, `unreachable!`, ...).
fn panic_macro(mac: &syn::Macro) -> Option<(&syn::Macro, String)> {
    let name = crate::facts::rust::macro_name(mac);
    DATA.panics.contains(&name).then_some((mac, name))
}

/// A function's typed parameters' patterns, in order (`self` left out).
fn typed_params(sig: &syn::Signature) -> impl Iterator<Item = &syn::Pat> {
    sig.inputs.iter().filter_map(|input| match input {
        syn::FnArg::Typed(arg) => Some(&*arg.pat),
        syn::FnArg::Receiver(_) => None,
    })
}

/// The name of a function of this file a call may reach: `helper(..)`, `Self::helper(..)`.
fn local_callee(func: &syn::Expr) -> Option<String> {
    let syn::Expr::Path(p) = func else {
        return None;
    };
    match p.path.segments.iter().collect::<Vec<_>>().as_slice() {
        [name] => Some(name.ident.to_string()),
        [owner, name] if owner.ident == "Self" => Some(name.ident.to_string()),
        _ => None,
    }
}

/// The path of a parameter's type, through references and `Option`.
fn type_path(ty: &syn::Type) -> Option<&syn::Path> {
    match ty {
        syn::Type::Reference(r) => type_path(&r.elem),
        syn::Type::Paren(p) => type_path(&p.elem),
        syn::Type::Path(p) => {
            let last = p.path.segments.last()?;
            if last.ident == "Option"
                && let syn::PathArguments::AngleBracketed(args) = &last.arguments
                && let Some(syn::GenericArgument::Type(inner)) = args.args.first()
            {
                return type_path(inner);
            }
            Some(&p.path)
        }
        _ => None,
    }
}

impl<'ast> Visit<'ast> for Walker<'_, '_> {
    fn visit_item_impl(&mut self, item: &'ast syn::ItemImpl) {
        let owner = type_path(&item.self_ty)
            .and_then(|p| p.segments.last())
            .map(|s| s.ident.to_string());
        let saved = std::mem::replace(&mut self.owner, owner);
        visit::visit_item_impl(self, item);
        self.owner = saved;
    }

    fn visit_item_fn(&mut self, item: &'ast syn::ItemFn) {
        self.function(&item.sig.ident, &item.attrs, &item.sig, |w| {
            visit::visit_item_fn(w, item);
        });
    }

    fn visit_impl_item_fn(&mut self, item: &'ast syn::ImplItemFn) {
        self.function(&item.sig.ident, &item.attrs, &item.sig, |w| {
            visit::visit_impl_item_fn(w, item);
        });
    }

    fn visit_expr(&mut self, expr: &'ast syn::Expr) {
        if self.serves && routes::is_routing_call(expr, self.inputs.imports) {
            // A closure given to a router is a handler: its parameters are the request's.
            for arg in routes::routing_args(expr) {
                if let syn::Expr::Closure(closure) = arg {
                    for input in &closure.inputs {
                        let carries = match input {
                            syn::Pat::Type(typed) => self.carries_input(&typed.ty),
                            _ => true,
                        };
                        if carries {
                            self.scope
                                .taint_pattern(input, &Origin::request(input, false));
                        }
                    }
                }
            }
        }
        visit::visit_expr(self, expr);
    }

    fn visit_expr_call(&mut self, call: &'ast syn::ExprCall) {
        if let Some(name) = local_callee(&call.func) {
            self.note_call(&name, call.args.iter());
        }
        visit::visit_expr_call(self, call);
    }

    fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
        if matches!(&*call.receiver, syn::Expr::Path(p) if p.path.is_ident("self")) {
            self.note_call(&call.method.to_string(), call.args.iter());
        }
        let method = call.method.to_string();
        if matches!(method.as_str(), "unwrap" | "expect")
            && let Some((panic, origin)) = self.unwrapped(&call.receiver, &method)
        {
            self.report(call, &panic, &origin);
        }
        // A closure given external data binds it: `body.lines().map(|line| ..)`. (The receiver
        // is read only for a call that takes a closure: every method call of a chain would read
        // the chain below it again.)
        let closures = || {
            call.args.iter().filter_map(|a| match a {
                syn::Expr::Closure(closure) => Some(closure),
                _ => None,
            })
        };
        if closures().next().is_some()
            && let Some(origin) = self.origin(&call.receiver)
        {
            for closure in closures() {
                for input in &closure.inputs {
                    self.scope.taint_pattern(input, &origin);
                }
            }
        }
        visit::visit_expr_method_call(self, call);
    }

    fn visit_expr_index(&mut self, index: &'ast syn::ExprIndex) {
        if let Some(origin) = self.scope.split_origin(&index.expr, &self.inputs) {
            let panic = Panic::new("indexing the split fields of".into(), MISSING_FIELD);
            self.report(index, &panic, &origin);
        }
        visit::visit_expr_index(self, index);
    }

    fn visit_local(&mut self, local: &'ast syn::Local) {
        visit::visit_local(self, local);
        let Some(init) = &local.init else {
            return;
        };
        let origin = self.origin(&init.expr);
        let split = self.scope.splits(&init.expr, &self.inputs);
        self.scope.bind(&local.pat, origin, split);
    }

    fn visit_expr_for_loop(&mut self, expr: &'ast syn::ExprForLoop) {
        self.visit_expr(&expr.expr);
        let origin = self.origin(&expr.expr);
        self.scope.bind(&expr.pat, origin, None);
        self.visit_block(&expr.body);
    }

    fn visit_expr_let(&mut self, expr: &'ast syn::ExprLet) {
        visit::visit_expr_let(self, expr);
        let origin = self.origin(&expr.expr);
        self.scope.bind(&expr.pat, origin, None);
    }

    fn visit_expr_match(&mut self, expr: &'ast syn::ExprMatch) {
        self.visit_expr(&expr.expr);
        let origin = self.origin(&expr.expr);
        for arm in &expr.arms {
            if let Some(origin) = &origin {
                let catch_all = matches!(arm.pat, syn::Pat::Wild(_) | syn::Pat::Ident(_));
                if let Some((mac, name)) = Walker::arm_panic(&arm.body)
                    && catch_all
                {
                    let panic = Panic::new(format!("`{name}!` in a `match` on"), UNEXPECTED);
                    self.report(mac, &panic, origin);
                }
                self.scope.bind(&arm.pat, Some(origin.clone()), None);
            }
            self.visit_arm(arm);
        }
    }

    fn visit_expr_if(&mut self, expr: &'ast syn::ExprIf) {
        self.visit_expr(&expr.cond);
        let checked = self.scope.names_in(&expr.cond);
        if let Some(origin) = self.origin(&expr.cond)
            && let Some((mac, name)) = leading_panic(&expr.then_branch)
        {
            let panic = Panic::new(format!("`{name}!` in an `if` on"), UNEXPECTED);
            self.report(mac, &panic, &origin);
        }
        // What the condition checks is validated: in the branch, and after it when the branch
        // leaves (`return`, `continue`, `break`).
        let saved = self.scope.validate(&checked);
        self.visit_block(&expr.then_branch);
        if !taint::leaves(&expr.then_branch) {
            self.scope.restore(saved);
        }
        if let Some((_, otherwise)) = &expr.else_branch {
            self.visit_expr(otherwise);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::words::code_token_list as tokens;

    #[test]
    fn only_an_unwrap_of_a_decode_or_a_read_can_panic_on_input() {
        let unwraps = |text: &str| unwraps_a_read(&tokens(text));
        assert!(unwraps("let n: u32 = s.parse().unwrap();"));
        assert!(unwraps(
            "let v = serde_json::from_slice::<Vec<u8>>(&b).expect(\"json\");"
        ));
        assert!(unwraps("let b = resp.json::<Body>().await.unwrap();"));
        assert!(unwraps("let t = (resp.text().await).unwrap();"));
        assert!(unwraps("let x = (&decode(input)?).unwrap();"));
        assert!(unwraps("match (u.split_once(':')).unwrap() { _ => {} }"));
        // Inside another call's arguments, as a parenthesised expression is read.
        assert!(unwraps("let x = wrap(s.parse()).unwrap();"));
        // A turbofish the tokens cannot follow counts.
        assert!(unwraps("let f = decode::<fn() -> u8>(x).unwrap();"));
        // So do generic arguments too long to read.
        let (open, close) = ("Vec<".repeat(300), ">".repeat(300));
        assert!(unwraps(&format!(
            "let v = x.collect::<{open}u8{close}>().unwrap();"
        )));
        // Unwraps of what nothing decodes or reads.
        assert!(!unwraps("let g = lock.read().unwrap(); let p = s.parse();"));
        assert!(!unwraps(
            "let v = json!({}).unwrap(); let w = cfg.get(\"parse\").unwrap();"
        ));
        assert!(!unwraps("let v = s.parse()?; let o = opt.unwrap_or(v);"));
    }

    #[test]
    fn a_source_read_only_when_awaited_is_told_by_its_await() {
        let awaits = |text: &str| awaits_a_read(&tokens(text), "json");
        assert!(awaits("let b: Body = resp.json().await?;"));
        assert!(awaits("let b = resp . json :: < Vec<Body> > ( ) . await ;"));
        // Generic arguments the tokens cannot follow count.
        assert!(awaits("let f = resp.json::<fn() -> u8>().await;"));
        assert!(!awaits(
            "let r = client.post(url).json(&body).send().await;"
        ));
        assert!(!awaits("let v = req.json(); let w = json().await;"));
    }

    #[test]
    fn a_panic_macro_counts_where_an_arm_or_a_block_can_be_it() {
        let leads = |text: &str| panic_leads(&tokens(text));
        assert!(leads("match x { Some(v) => v, _ => unreachable!() }"));
        assert!(leads("if bad { panic!(\"bad\") }"));
        assert!(leads("match x { _ => std::panic!(\"no\") }"));
        assert!(leads("if bad { #[cold] todo!() }"));
        assert!(!leads("let v = x.unwrap_or_else(|| panic!(\"no\"));"));
        assert!(!leads("assert!(ok, \"{}\", unreachable_count);"));
    }
}
