//! RES004-RES007: calls that never hang, queues that never eat the memory. Network clients
//! without a timeout, connections without one, timeouts switched off, unbounded channels.
//!
//! Which client has which default is in `rules/RES004-*.toml` and `rules/RES005-*.toml`
//! (`[[data.family]]`), from the crates' own documentation.

mod clients;
mod flow;

use std::collections::HashSet;
use std::ops::Range;
use std::sync::LazyLock;

use serde::Deserialize;

use super::{FileContext, Parsed, ProjectContext, RustFile, TreeQuery};
use crate::facts::imports::Imports;
use crate::facts::settings::Setting;
use crate::finding::Finding;
use crate::registry::Code;
use crate::registry::Severity;
use crate::source::Source;
use clients::{Family, crate_major, judge_family, names, version_matches};
use flow::{Flow, Root, Vocabulary};
use syn::spanned::Spanned;
use syn::visit::{self, Visit};

#[derive(Deserialize)]
struct ClientData {
    family: Vec<Family>,
}

/// What the value-flow walk treats as pass-through and as timeout wrappers (RES004 `[data]`,
/// shared with RES005).
#[derive(Deserialize)]
struct FlowData {
    transparent_calls: Vec<String>,
    transparent_methods: Vec<String>,
    timeout_wrappers: Vec<String>,
}

#[derive(Deserialize)]
struct HttpClientData {
    flow: FlowData,
    family: Vec<Family>,
}

#[derive(Deserialize)]
struct DisableData {
    /// Methods whose `None` argument switches a timeout off for any receiver (std sockets).
    socket_methods: Vec<String>,
    /// Methods whose `None` argument switches a client timeout off, in files that use one of
    /// `client_crates`.
    client_methods: Vec<String>,
    client_crates: Vec<String>,
    /// Configuration keys: words (split on `_`, `-`, `.` and camelCase) that name a timeout,
    /// the unit words that may follow, and words that make it a different setting.
    key_units: Vec<String>,
    key_excluded_words: Vec<String>,
    disabled_values: Vec<f64>,
}

#[derive(Deserialize)]
struct QueueData {
    unbounded: Vec<String>,
    /// Unbounded too, but usually between threads of one process with little traffic.
    unbounded_low: Vec<String>,
    /// Receiver methods that take one item: a drain when called in a loop.
    receive_methods: Vec<String>,
    /// Receiver methods that iterate it (`for x in rx.iter()`).
    iterate_methods: Vec<String>,
    /// Methods that consume every item (`rx.for_each(..)`, `rx.iter().for_each(..)`).
    drain_methods: Vec<String>,
    /// Wrappers that turn a receiver into a stream (`UnboundedReceiverStream::new(rx)`).
    stream_wrappers: Vec<String>,
    /// Item-type words of request/reply queues (`oneshot::Sender` in the item): not judged.
    reply_markers: Vec<String>,
}

static HTTP_CLIENTS: LazyLock<HttpClientData> = LazyLock::new(|| Code::RES004.rule().data());
static CONNECTIONS: LazyLock<ClientData> = LazyLock::new(|| Code::RES005.rule().data());
static DISABLE: LazyLock<DisableData> = LazyLock::new(|| Code::RES006.rule().data());
static QUEUES: LazyLock<QueueData> = LazyLock::new(|| Code::RES007.rule().data());

/// First segments of every path the Rust checks look for: a file naming none of them (nor a
/// renamed dependency) is skipped before any walk.
static CRATES: LazyLock<HashSet<String>> = LazyLock::new(|| {
    let families = HTTP_CLIENTS.family.iter().chain(&CONNECTIONS.family);
    let paths = families
        .flat_map(|f| {
            f.builders
                .iter()
                .chain(&f.clients)
                .chain(&f.requests)
                .chain(&f.sends)
                .chain(&f.streams)
        })
        .chain(&QUEUES.unbounded)
        .chain(&QUEUES.unbounded_low)
        .chain(&DISABLE.client_crates);
    let mut crates: HashSet<String> = paths
        .filter_map(|p| p.split("::").next())
        .map(str::to_string)
        .collect();
    crates.extend(DISABLE.socket_methods.iter().cloned());
    crates.insert("Client".into());
    crates
});

pub fn check_file(ctx: &FileContext<'_>, parsed: &Parsed<'_>, out: &mut Vec<Finding>) {
    let rules = [Code::RES004, Code::RES005, Code::RES006, Code::RES007];
    if !ctx.rules.any(&rules) {
        return;
    }
    if let Some(settings) = parsed.settings
        && ctx.rules.enabled(Code::RES006)
    {
        disabled_in_config(ctx, settings, out);
    }
    if let Some(rust) = &parsed.rust
        && mentions_a_crate(ctx)
    {
        check_rust(ctx, rust, out);
    }
}

pub fn check_project(_ctx: &ProjectContext<'_>, _out: &mut Vec<Finding>) {}

/// Every finding in code starts at a call of a path the rules' data name (a client or
/// connection constructor, an unbounded channel), at a tonic client's generated `connect`, or at
/// a method that switches a timeout off.
pub fn needs_tree(query: &TreeQuery<'_>) -> bool {
    let constructed = |families: &[Family]| {
        families.iter().any(|f| {
            constructor_paths(f).any(|p| query.has_path(p))
                || (f.generated_connect && query.has("connect") && query.depends_on("tonic"))
        })
    };
    (query.live(Code::RES004) && constructed(&HTTP_CLIENTS.family))
        || (query.live(Code::RES005) && constructed(&CONNECTIONS.family))
        || (query.live(Code::RES006)
            && (DISABLE.socket_methods.iter().any(|m| query.has(m))
                || (DISABLE.client_crates.iter().any(|c| query.has_path(c))
                    && DISABLE.client_methods.iter().any(|m| query.has(m)))))
        || (query.live(Code::RES007)
            && QUEUES
                .unbounded
                .iter()
                .chain(&QUEUES.unbounded_low)
                .any(|p| query.has_path(p)))
}

pub fn gate_words() -> Vec<String> {
    let families = HTTP_CLIENTS.family.iter().chain(&CONNECTIONS.family);
    let paths = families
        .flat_map(constructor_paths)
        .chain(QUEUES.unbounded.iter().map(String::as_str))
        .chain(QUEUES.unbounded_low.iter().map(String::as_str))
        .chain(DISABLE.client_crates.iter().map(String::as_str));
    let segments = paths.flat_map(|p| p.split("::"));
    let methods = DISABLE.socket_methods.iter().chain(&DISABLE.client_methods);
    segments
        .chain(methods.map(String::as_str))
        .chain(["connect"])
        .map(String::from)
        .collect()
}

/// The calls that make a family's values.
fn constructor_paths(family: &Family) -> impl Iterator<Item = &str> {
    family
        .builders
        .iter()
        .chain(&family.clients)
        .chain(&family.requests)
        .chain(&family.sends)
        .chain(&family.streams)
        .map(String::as_str)
}

fn mentions_a_crate(ctx: &FileContext<'_>) -> bool {
    let text = &ctx.source.text;
    if CRATES.iter().any(|c| text.contains(c.as_str())) {
        return true;
    }
    // `http = { package = "reqwest" }`: the code only says `http`.
    ctx.manifest.is_some_and(|m| {
        ctx.cargo
            .crate_renames(m)
            .iter()
            .any(|(key, package)| CRATES.contains(package) && text.contains(key.as_str()))
    })
}

fn check_rust(ctx: &FileContext<'_>, rust: &RustFile<'_>, out: &mut Vec<Finding>) {
    let vocabulary = Vocabulary {
        transparent_calls: &HTTP_CLIENTS.flow.transparent_calls,
        transparent_methods: &HTTP_CLIENTS.flow.transparent_methods,
        timeout_wrappers: &HTTP_CLIENTS.flow.timeout_wrappers,
    };
    let flow = Flow::of_file(rust.ast, rust.imports, ctx.source, &vocabulary);
    let major = |krate: &str| ctx.manifest.and_then(|m| crate_major(ctx.cargo, m, krate));
    let uses_tonic = ctx.manifest.is_some_and(|m| {
        m.dependencies
            .iter()
            .any(|d| ctx.cargo.resolve(m, d).package == "tonic")
    });
    for (code, families) in [
        (Code::RES004, &HTTP_CLIENTS.family),
        (Code::RES005, &CONNECTIONS.family),
    ] {
        if !ctx.rules.enabled(code) {
            continue;
        }
        for family in families {
            let skipped = family
                .unless_file_mentions
                .iter()
                .any(|t| ctx.source.text.contains(t.as_str()));
            if skipped || !version_matches(family, major) {
                continue;
            }
            for hit in judge_family(family, &flow, rust.imports, uses_tonic) {
                out.push(
                    Finding::at(code, ctx.source, hit.range, &hit.family.message)
                        .with_fix(&hit.family.fix),
                );
            }
        }
    }
    if ctx.rules.enabled(Code::RES006) {
        disabled_in_code(ctx, &flow, out);
    }
    if ctx.rules.enabled(Code::RES007) {
        unbounded_queues(ctx, rust, out);
    }
}

/// RES006 in code: `set_read_timeout(None)` on any socket; `.timeout(None)`,
/// `timeout_global(None)` and the like on a value built by a network client crate (not on
/// types of the project's own, where `None` may mean "keep the default").
fn disabled_in_code(ctx: &FileContext<'_>, flow: &Flow, out: &mut Vec<Finding>) {
    let from_client_crate = |root: &Root| match root {
        Root::Call { path, .. } => DISABLE.client_crates.iter().any(|c| {
            path.strip_prefix(c.as_str())
                .is_some_and(|rest| rest.starts_with("::"))
        }),
        _ => false,
    };
    let client_values: Vec<_> = flow
        .uses
        .iter()
        .filter(|u| from_client_crate(&u.root))
        .map(|u| &u.sink)
        .collect();
    for chain in &flow.uses {
        let on_client =
            || from_client_crate(&chain.root) || client_values.iter().any(|s| chain.starts_from(s));
        for step in chain.steps.iter().filter(|s| s.none_argument) {
            let disables = DISABLE.socket_methods.contains(&step.name)
                || (DISABLE.client_methods.contains(&step.name) && on_client());
            if !disables {
                continue;
            }
            out.push(
                Finding::at(
                    Code::RES006,
                    ctx.source,
                    step.range.clone(),
                    format!("`{}(None)` switches the timeout off", step.name),
                )
                .with_fix(format!(
                    "pass `Some(Duration::from_secs(..))` to `{}`",
                    step.name
                )),
            );
        }
    }
}

/// A key that is clearly a timeout: `timeout`, `read_timeout`, `timeout_ms`, `connectTimeoutSecs`;
/// not `keepalive_timeout` or `idle_timeout`, where 0 means something else.
fn is_timeout_key(key: &str) -> bool {
    let words = crate::words::split(key);
    let Some(at) = words.iter().rposition(|w| w == "timeout") else {
        return false;
    };
    words[at + 1..]
        .iter()
        .all(|w| DISABLE.key_units.contains(w))
        && !words[..at]
            .iter()
            .any(|w| DISABLE.key_excluded_words.contains(w))
}

/// RES006 in configuration: `timeout: 0`, `timeout_ms = -1`, `HTTP_TIMEOUT=0`.
fn disabled_in_config(ctx: &FileContext<'_>, settings: &[Setting], out: &mut Vec<Finding>) {
    for setting in settings {
        let Some(value) = setting.value.as_number() else {
            continue;
        };
        if !DISABLE.disabled_values.contains(&value) || !is_timeout_key(setting.key()) {
            continue;
        }
        out.push(
            Finding::at(
                Code::RES006,
                ctx.source,
                setting.value_range.clone(),
                format!("`{}` is {value}: no timeout at all", setting.key()),
            )
            .with_fix(format!("set `{}` to a bounded duration", setting.key())),
        );
    }
}

/// RES007: unbounded channels used as queues. A channel counts when the function that creates
/// it also drains the receiver repeatedly (`while let Some(x) = rx.recv().await`, `for x in rx`,
/// `rx.iter().for_each(..)`, a receiver stream): a one-value handoff or a receiver handed on is
/// not judged. Test code and non-services are the engine's business.
fn unbounded_queues(ctx: &FileContext<'_>, rust: &RustFile<'_>, out: &mut Vec<Finding>) {
    let mut finder = QueueFinder {
        imports: rust.imports,
        source: ctx.source,
        found: Vec::new(),
    };
    finder.visit_file(rust.ast);
    for (range, name, severity) in finder.found {
        out.push(
            Finding::at(
                Code::RES007,
                ctx.source,
                range,
                format!("`{name}()` queues without limit: a burst grows memory until the process is killed"),
            )
            .with_severity(severity),
        );
    }
}

/// Finds `let (tx, rx) = <unbounded>();` in each function body and keeps those whose receiver
/// the same body drains.
struct QueueFinder<'a> {
    imports: &'a Imports,
    source: &'a Source,
    found: Vec<(Range<usize>, String, Severity)>,
}

impl QueueFinder<'_> {
    fn body(&mut self, block: &syn::Block) {
        let mut channels = ChannelLets {
            finder: self,
            channels: Vec::new(),
        };
        channels.visit_block(block);
        let channels = channels.channels;
        for (receiver, range, name, severity) in channels {
            let mut drain = Drain {
                imports: self.imports,
                receiver: &receiver,
                loops: 0,
                drained: false,
            };
            drain.visit_block(block);
            if drain.drained {
                self.found.push((range, name, severity));
            }
        }
    }

    fn unbounded(&self, expr: &syn::Expr) -> Option<(Range<usize>, String, Severity)> {
        let mut expr = expr;
        while let syn::Expr::Try(inner) = expr {
            expr = &inner.expr;
        }
        let syn::Expr::Call(call) = expr else {
            return None;
        };
        let syn::Expr::Path(func) = &*call.func else {
            return None;
        };
        let path = self.imports.resolve(&func.path);
        let listed = |list: &[String]| list.iter().any(|p| names(self.imports, &path, p));
        let severity = if listed(&QUEUES.unbounded) {
            Severity::Medium
        } else if listed(&QUEUES.unbounded_low) {
            Severity::Low
        } else {
            return None;
        };
        if carries_reply_channel(&func.path) {
            return None;
        }
        let name = path.rsplit("::").next().unwrap_or(&path).to_string();
        Some((self.source.span_range(call.span()), name, severity))
    }
}

impl<'ast> Visit<'ast> for QueueFinder<'_> {
    fn visit_item_fn(&mut self, item: &'ast syn::ItemFn) {
        self.body(&item.block);
    }

    fn visit_impl_item_fn(&mut self, item: &'ast syn::ImplItemFn) {
        self.body(&item.block);
    }
}

/// `unbounded_channel::<(Request, oneshot::Sender<Response>)>()`: a request/reply queue. Each
/// sender waits for its reply, so the queue holds at most one item per waiting caller.
fn carries_reply_channel(path: &syn::Path) -> bool {
    let Some(syn::PathArguments::AngleBracketed(args)) = path.segments.last().map(|s| &s.arguments)
    else {
        return false;
    };
    let mut types = String::new();
    for arg in &args.args {
        if let syn::GenericArgument::Type(ty) = arg {
            types.push_str(&type_idents(ty));
        }
    }
    let lower = types.to_ascii_lowercase();
    QUEUES
        .reply_markers
        .iter()
        .any(|m| lower.contains(m.as_str()))
}

/// A type's identifiers, space-separated.
fn type_idents(ty: &syn::Type) -> String {
    struct Idents(String);
    impl<'ast> Visit<'ast> for Idents {
        fn visit_ident(&mut self, ident: &'ast proc_macro2::Ident) {
            self.0.push_str(&ident.to_string());
            self.0.push(' ');
        }
    }
    let mut idents = Idents(String::new());
    idents.visit_type(ty);
    idents.0
}

/// The `let (tx, rx) = unbounded()` statements of one body (nested functions excluded).
struct ChannelLets<'f, 'a> {
    finder: &'f QueueFinder<'a>,
    channels: Vec<(String, Range<usize>, String, Severity)>,
}

impl<'ast> Visit<'ast> for ChannelLets<'_, '_> {
    fn visit_item(&mut self, _item: &'ast syn::Item) {}

    fn visit_local(&mut self, local: &'ast syn::Local) {
        if let (syn::Pat::Tuple(tuple), Some(init)) = (&local.pat, &local.init)
            && let Some(syn::Pat::Ident(receiver)) = tuple.elems.iter().nth(1)
            && let Some((range, name, severity)) = self.finder.unbounded(&init.expr)
        {
            self.channels
                .push((receiver.ident.to_string(), range, name, severity));
        }
        visit::visit_local(self, local);
    }
}

/// Whether a body drains a receiver repeatedly.
struct Drain<'a> {
    imports: &'a Imports,
    receiver: &'a str,
    loops: usize,
    drained: bool,
}

impl Drain<'_> {
    fn is_receiver(&self, expr: &syn::Expr) -> bool {
        let mut expr = expr;
        while let syn::Expr::Reference(inner) = expr {
            expr = &inner.expr;
        }
        matches!(expr, syn::Expr::Path(p) if p.path.is_ident(self.receiver))
    }

    fn in_loop(&mut self, body: impl FnOnce(&mut Self)) {
        self.loops += 1;
        body(self);
        self.loops -= 1;
    }
}

impl<'ast> Visit<'ast> for Drain<'_> {
    fn visit_item(&mut self, _item: &'ast syn::Item) {}

    fn visit_expr_while(&mut self, expr: &'ast syn::ExprWhile) {
        self.in_loop(|d| visit::visit_expr_while(d, expr));
    }

    fn visit_expr_loop(&mut self, expr: &'ast syn::ExprLoop) {
        self.in_loop(|d| visit::visit_expr_loop(d, expr));
    }

    fn visit_expr_for_loop(&mut self, expr: &'ast syn::ExprForLoop) {
        let mut iterated = &*expr.expr;
        if let syn::Expr::MethodCall(call) = iterated
            && QUEUES.iterate_methods.contains(&call.method.to_string())
        {
            iterated = &call.receiver;
        }
        self.drained |= self.is_receiver(iterated);
        self.in_loop(|d| visit::visit_expr_for_loop(d, expr));
    }

    fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
        if self.is_receiver(&call.receiver) {
            let method = call.method.to_string();
            self.drained |= (self.loops > 0 && QUEUES.receive_methods.contains(&method))
                || QUEUES.drain_methods.contains(&method);
        }
        if let syn::Expr::MethodCall(inner) = &*call.receiver
            && self.is_receiver(&inner.receiver)
            && QUEUES.iterate_methods.contains(&inner.method.to_string())
            && QUEUES.drain_methods.contains(&call.method.to_string())
        {
            self.drained = true;
        }
        visit::visit_expr_method_call(self, call);
    }

    fn visit_expr_call(&mut self, call: &'ast syn::ExprCall) {
        if let syn::Expr::Path(func) = &*call.func {
            let path = self.imports.resolve(&func.path);
            let wraps = QUEUES
                .stream_wrappers
                .iter()
                .any(|w| path.ends_with(w.as_str()));
            self.drained |= wraps && call.args.iter().any(|a| self.is_receiver(a));
        }
        visit::visit_expr_call(self, call);
    }

    /// `loop { tokio::select! { Some(x) = rx.recv() => .. } }`: a receive in a macro in a loop.
    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        if self.loops == 0 {
            return;
        }
        let mut stack = vec![mac.tokens.clone()];
        while let Some(tokens) = stack.pop() {
            let tokens: Vec<_> = tokens.into_iter().collect();
            for window in tokens.windows(3) {
                if let [
                    proc_macro2::TokenTree::Ident(receiver),
                    proc_macro2::TokenTree::Punct(dot),
                    proc_macro2::TokenTree::Ident(method),
                ] = window
                    && receiver == self.receiver
                    && dot.as_char() == '.'
                    && QUEUES.receive_methods.contains(&method.to_string())
                {
                    self.drained = true;
                }
            }
            stack.extend(tokens.into_iter().filter_map(|t| match t {
                proc_macro2::TokenTree::Group(g) => Some(g.stream()),
                _ => None,
            }));
        }
    }
}
