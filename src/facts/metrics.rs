//! The metrics a Rust file emits, by the name their exporter gives them.
//!
//! Read from the prometheus crate (`register_*!`, `opts!`, `Opts::new(..).namespace(..)`,
//! `Gauge::new`, `GaugeVec::new(opts, ..)`, ...), the metrics crate (`counter!`, `gauge!`,
//! `histogram!`, `describe_*!`, pre-0.22 `increment_counter!`), prometheus-client
//! (`registry.register(name, help, metric)`) and OpenTelemetry (`meter.f64_gauge(name)`).
//! Names are kept as pieces: literals, and constants resolved in the project phase (a constant
//! may live in another file). A name built from anything else is dynamic: it still shows that
//! the project emits metrics, but no rule judges it.
//! See `../shared/reference/metrics-and-alerts.md`.

use std::collections::HashMap;

use syn::spanned::Spanned;
use syn::visit::{self, Visit};

use crate::facts::imports::Imports;
use crate::finding::Site;
use crate::source::Source;

/// A part of a metric name: literal text, or a constant to look up by name.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Piece {
    Text(String),
    Const(String),
}

/// A name as its code builds it: components joined by `_` (namespace, subsystem, name), each
/// a concatenation of pieces. `None` when the code builds it from values we cannot know.
pub type NameParts = Option<Vec<Vec<Piece>>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Library {
    Prometheus,
    PrometheusClient,
    Metrics,
    OpenTelemetry,
}

impl Library {
    /// Whether the exported name may carry a prefix or suffix the code does not show
    /// (a sub-registry prefix, an OpenTelemetry unit): matching then accepts them.
    pub fn loose_name(self) -> bool {
        matches!(self, Library::PrometheusClient | Library::OpenTelemetry)
    }
}

/// One metric registration.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct EmittedMetric {
    pub parts: NameParts,
    pub library: Library,
    /// OpenTelemetry's `.with_unit(..)`, appended by its Prometheus exporter.
    pub unit: Option<String>,
    pub line: usize,
    /// Where a finding about this metric goes (its message is written in the project phase).
    pub site: Site,
}

/// What a Rust file contributes to the metrics model.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct MetricFacts {
    pub emitted: Vec<EmittedMetric>,
    /// `const`/`static` string items (and immutable `let` bindings) of the file; `None` when the
    /// same name holds different values.
    pub constants: HashMap<String, Option<String>>,
    /// Prefixes a registry or exporter puts before the names it exports: prometheus
    /// `Registry::new_custom(Some("p"), ..)`, prometheus-client `sub_registry_with_prefix("p")`,
    /// OpenTelemetry's exporter `.with_namespace("p")`.
    pub name_prefixes: Vec<String>,
}

/// Whether a file's text may register a metric: a cheap test before walking its tree.
pub fn may_emit(text: &str) -> bool {
    [
        "prometheus",
        "metrics",
        "opentelemetry",
        "counter!",
        "gauge!",
        "histogram!",
        "register_",
    ]
    .iter()
    .any(|word| text.contains(word))
}

/// Which metric crates the file can use: from its package's dependencies, or its imports.
#[derive(Debug, Clone, Copy, Default)]
pub struct Available {
    pub prometheus: bool,
    pub prometheus_client: bool,
    pub metrics: bool,
    pub opentelemetry: bool,
}

impl Available {
    pub fn any(self) -> bool {
        self.prometheus || self.prometheus_client || self.metrics || self.opentelemetry
    }
}

/// The metrics a file registers, and its string constants that could name one (a constant
/// may be used in another file). `None` when the file has neither.
pub fn extract(
    source: &Source,
    ast: &syn::File,
    imports: &Imports,
    deps: Available,
) -> Option<MetricFacts> {
    let available = Available {
        prometheus: deps.prometheus || imports.mentions("prometheus"),
        prometheus_client: deps.prometheus_client || imports.mentions("prometheus_client"),
        metrics: deps.metrics || imports.mentions("metrics"),
        opentelemetry: deps.opentelemetry || imports.mentions("opentelemetry"),
    };
    let mut constants = Constants::default();
    constants.visit_file(ast);
    let mut facts = MetricFacts {
        constants: constants.0,
        ..MetricFacts::default()
    };
    let any_crate = available.prometheus
        || available.prometheus_client
        || available.metrics
        || available.opentelemetry;
    if any_crate && may_emit(&source.text) {
        let mut visitor = Emissions {
            source,
            imports,
            available,
            facts: &mut facts,
            bindings: Vec::new(),
        };
        visitor.visit_file(ast);
    }
    let empty =
        facts.emitted.is_empty() && facts.constants.is_empty() && facts.name_prefixes.is_empty();
    (!empty).then_some(facts)
}

/// The names of the constants that metric registrations build their names from.
pub fn wanted_constants(files: &[crate::facts::FileFacts]) -> std::collections::BTreeSet<String> {
    let emitted = files
        .iter()
        .flat_map(|f| f.metrics.iter().flat_map(|m| &m.emitted));
    let pieces = emitted.flat_map(|e| e.parts.iter().flatten().flatten());
    pieces
        .filter_map(|piece| match piece {
            Piece::Const(name) => Some(name.clone()),
            Piece::Text(_) => None,
        })
        .collect()
}

/// A file's string constants alone (what `extract` keeps of a file that registers nothing).
pub fn constants_only(ast: &syn::File) -> Option<MetricFacts> {
    let mut constants = Constants::default();
    constants.visit_file(ast);
    (!constants.0.is_empty()).then(|| MetricFacts {
        constants: constants.0,
        ..MetricFacts::default()
    })
}

/// String constants, by name.
#[derive(Default)]
struct Constants(HashMap<String, Option<String>>);

impl Constants {
    /// Keeps constants whose value could be a metric name (short, no spaces): the others
    /// cannot matter and would only take memory.
    fn add(&mut self, name: String, value: Option<String>) {
        let plausible = |v: &String| {
            !v.is_empty()
                && v.len() <= 128
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_:.-".contains(c))
        };
        if !value.as_ref().is_some_and(plausible) {
            return;
        }
        let entry = self.0.entry(name).or_insert_with(|| value.clone());
        if *entry != value {
            *entry = None;
        }
    }
}

impl<'ast> Visit<'ast> for Constants {
    fn visit_item_const(&mut self, item: &'ast syn::ItemConst) {
        if let Some(value) = literal(&item.expr) {
            self.add(item.ident.to_string(), Some(value));
        }
        visit::visit_item_const(self, item);
    }
    fn visit_item_static(&mut self, item: &'ast syn::ItemStatic) {
        if matches!(item.mutability, syn::StaticMutability::None)
            && let Some(value) = literal(&item.expr)
        {
            self.add(item.ident.to_string(), Some(value));
        }
        visit::visit_item_static(self, item);
    }
    fn visit_impl_item_const(&mut self, item: &'ast syn::ImplItemConst) {
        if let Some(value) = literal(&item.expr) {
            self.add(item.ident.to_string(), Some(value));
        }
        visit::visit_impl_item_const(self, item);
    }
    fn visit_local(&mut self, local: &'ast syn::Local) {
        if let syn::Pat::Ident(ident) = &local.pat
            && ident.mutability.is_none()
            && let Some(init) = &local.init
            && let Some(value) = literal(&init.expr)
        {
            self.add(ident.ident.to_string(), Some(value));
        }
        visit::visit_local(self, local);
    }
}

fn literal(expr: &syn::Expr) -> Option<String> {
    match expr {
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(s),
            ..
        }) => Some(s.value()),
        syn::Expr::Reference(r) => literal(&r.expr),
        syn::Expr::Paren(p) => literal(&p.expr),
        syn::Expr::Group(g) => literal(&g.expr),
        syn::Expr::MethodCall(m)
            if m.args.is_empty()
                && matches!(
                    m.method.to_string().as_str(),
                    "to_string" | "to_owned" | "into"
                ) =>
        {
            literal(&m.receiver)
        }
        _ => None,
    }
}

/// A prometheus `Opts`/`HistogramOpts` value being built.
#[derive(Debug, Clone)]
struct Opts {
    namespace: Option<Vec<Piece>>,
    subsystem: Option<Vec<Piece>>,
    name: Option<Vec<Piece>>,
    /// Set once something registers a metric with these options.
    used: bool,
    site: proc_macro2::Span,
}

impl Opts {
    fn parts(&self) -> NameParts {
        let known = |part: &Option<Vec<Piece>>| part.clone();
        let mut parts = Vec::new();
        // An unknown namespace makes the whole name unknown; an absent one is empty.
        for component in [&self.namespace, &self.subsystem] {
            if let Some(component) = known(component) {
                parts.push(component);
            }
        }
        parts.push(self.name.clone()?);
        Some(parts)
    }
}

struct Emissions<'a> {
    source: &'a Source,
    imports: &'a Imports,
    available: Available,
    facts: &'a mut MetricFacts,
    /// Local variables holding `Opts`, innermost function last.
    bindings: Vec<HashMap<String, Opts>>,
}

/// The metrics crate's macros that register or describe a metric.
const METRICS_MACROS: [&str; 13] = [
    "counter",
    "gauge",
    "histogram",
    "describe_counter",
    "describe_gauge",
    "describe_histogram",
    "increment_counter",
    "increment_gauge",
    "decrement_gauge",
    "absolute_counter",
    "register_counter",
    "register_gauge",
    "register_histogram",
];

/// The kinds of the prometheus crate's registering macros (`register_int_counter_vec!`).
const PROMETHEUS_KINDS: [&str; 3] = ["counter", "gauge", "histogram"];

/// The prometheus crate's macros that build options (`opts!("name", "help")`).
const PROMETHEUS_OPTS_MACROS: [&str; 2] = ["opts", "histogram_opts"];

/// OpenTelemetry's instruments: a number type, `_`, an instrument (`meter.u64_counter("x")`).
const OTEL_NUMBERS: [&str; 3] = ["u64", "f64", "i64"];
const OTEL_INSTRUMENTS: [&str; 7] = [
    "counter",
    "up_down_counter",
    "gauge",
    "histogram",
    "observable_counter",
    "observable_up_down_counter",
    "observable_gauge",
];

/// prometheus-client's registrations (`registry.register(name, help, metric)`).
const PROMETHEUS_CLIENT_REGISTER: [&str; 2] = ["register", "register_with_unit"];

/// prometheus's `Registry::new_custom(Some("prefix"), ..)` prefixes every name registered there;
/// so do OpenTelemetry's exporter `.with_namespace("p")` and prometheus-client's
/// `.sub_registry_with_prefix("p")`.
const CUSTOM_REGISTRY: [&str; 2] = ["Registry", "new_custom"];
const OTEL_NAMESPACE: &str = "with_namespace";
const PROMETHEUS_CLIENT_PREFIX: &str = "sub_registry_with_prefix";

/// The types of prometheus options built by a call (`Opts::new(name, help)`, `Emissions::opts`).
const PROMETHEUS_OPTS_TYPES: [&str; 2] = ["Opts", "HistogramOpts"];

/// The identifiers one of which every registration `extract` reads is written with, in the code
/// or in the `use` that imports it: a file whose code holds none registers nothing (its string
/// constants are read when a registration elsewhere names them: `engine::settle`).
static REGISTRATION_WORDS: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(|| {
    let mut words: Vec<String> = (METRICS_MACROS.iter())
        .chain(&PROMETHEUS_OPTS_MACROS)
        .chain(PROMETHEUS_FROM_OPTS)
        .chain(&PROMETHEUS_OPTS_TYPES)
        .chain(&PROMETHEUS_CLIENT_REGISTER)
        .chain(&CUSTOM_REGISTRY)
        .chain(&[OTEL_NAMESPACE, PROMETHEUS_CLIENT_PREFIX])
        .map(|w| w.to_string())
        .collect();
    for kind in PROMETHEUS_KINDS {
        for int in ["", "int_"] {
            for vec in ["", "_vec"] {
                for registry in ["", "_with_registry"] {
                    words.push(format!("register_{int}{kind}{vec}{registry}"));
                }
            }
        }
    }
    for number in OTEL_NUMBERS {
        words.extend(OTEL_INSTRUMENTS.map(|instrument| format!("{number}_{instrument}")));
    }
    words
});

/// The words `may_register` asks for, for the gate vocabulary.
pub fn registration_words() -> Vec<String> {
    REGISTRATION_WORDS.clone()
}

/// Whether a Rust file's code may register a metric or a name prefix (`REGISTRATION_WORDS`):
/// a necessary condition of anything `extract` finds but string constants.
pub fn may_register(words: &crate::words::FileWords<'_>) -> bool {
    REGISTRATION_WORDS.iter().any(|w| words.has(w))
}

/// prometheus metric types built from a name and help text: `Gauge::new(name, help)`.
const PROMETHEUS_NAMED: &[&str] = &["Counter", "IntCounter", "Gauge", "IntGauge"];
/// prometheus metric types built from options: `GaugeVec::new(opts, labels)`, `Histogram::with_opts(opts)`.
const PROMETHEUS_FROM_OPTS: &[&str] = &[
    "Counter",
    "IntCounter",
    "Gauge",
    "IntGauge",
    "Histogram",
    "CounterVec",
    "IntCounterVec",
    "GaugeVec",
    "IntGaugeVec",
    "HistogramVec",
];

impl Emissions<'_> {
    fn emit(
        &mut self,
        parts: NameParts,
        library: Library,
        unit: Option<String>,
        span: proc_macro2::Span,
    ) {
        let range = self.source.span_range(span);
        let site = self.source.site(range);
        self.facts.emitted.push(EmittedMetric {
            parts,
            library,
            unit,
            line: span.start().line,
            site,
        });
    }

    /// The pieces of a name expression: literals, constants, `concat!`, `format!` of those.
    fn pieces(&self, expr: &syn::Expr) -> Option<Vec<Piece>> {
        match expr {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) => Some(vec![Piece::Text(s.value())]),
            syn::Expr::Path(p) if p.qself.is_none() => {
                let last = p.path.segments.last()?.ident.to_string();
                Some(vec![Piece::Const(last)])
            }
            syn::Expr::Reference(r) => self.pieces(&r.expr),
            syn::Expr::Paren(p) => self.pieces(&p.expr),
            syn::Expr::Group(g) => self.pieces(&g.expr),
            syn::Expr::MethodCall(m)
                if m.args.is_empty()
                    && matches!(
                        m.method.to_string().as_str(),
                        "to_string" | "to_owned" | "into" | "as_str"
                    ) =>
            {
                self.pieces(&m.receiver)
            }
            syn::Expr::Call(call) if call.args.len() == 1 => {
                let syn::Expr::Path(f) = &*call.func else {
                    return None;
                };
                let path = self.imports.resolve(&f.path);
                if matches!(
                    path.as_str(),
                    "String::from"
                        | "std::string::String::from"
                        | "Cow::from"
                        | "std::borrow::Cow::from"
                ) {
                    self.pieces(&call.args[0])
                } else {
                    None
                }
            }
            syn::Expr::Macro(m) => self.macro_pieces(&m.mac),
            _ => None,
        }
    }

    fn macro_pieces(&self, mac: &syn::Macro) -> Option<Vec<Piece>> {
        let name = mac.path.segments.last()?.ident.to_string();
        let args = mac
            .parse_body_with(
                syn::punctuated::Punctuated::<syn::Expr, syn::Token![,]>::parse_terminated,
            )
            .ok()?;
        match name.as_str() {
            "concat" => {
                let mut out = Vec::new();
                for arg in &args {
                    out.extend(self.pieces(arg)?);
                }
                Some(out)
            }
            "format" => {
                let mut args = args.iter();
                let template = literal(args.next()?)?;
                let positional: Vec<&syn::Expr> = args.collect();
                format_pieces(&template, &positional, |e| self.pieces(e))
            }
            _ => None,
        }
    }

    /// Evaluates an expression that builds prometheus options.
    fn opts(&mut self, expr: &syn::Expr) -> Option<Opts> {
        match expr {
            syn::Expr::Call(call) => {
                let syn::Expr::Path(f) = &*call.func else {
                    return None;
                };
                let path = self.imports.resolve(&f.path);
                let is_opts_new = matches!(
                    path.as_str(),
                    "prometheus::Opts::new"
                        | "prometheus::HistogramOpts::new"
                        | "prometheus::core::Opts::new"
                ) || (self.available.prometheus
                    && matches!(path.as_str(), "Opts::new" | "HistogramOpts::new"));
                if !is_opts_new {
                    return None;
                }
                Some(Opts {
                    namespace: None,
                    subsystem: None,
                    name: call.args.first().and_then(|a| self.pieces(a)),
                    used: false,
                    site: call.span(),
                })
            }
            syn::Expr::Macro(m) if self.is_prometheus_macro(&m.mac, &PROMETHEUS_OPTS_MACROS) => {
                let first = first_macro_arg(&m.mac)?;
                Some(Opts {
                    namespace: None,
                    subsystem: None,
                    name: self.pieces(&first),
                    used: false,
                    site: m.span(),
                })
            }
            syn::Expr::MethodCall(m) => {
                let mut opts = self.opts(&m.receiver)?;
                let argument = || m.args.first().and_then(|a| self.pieces(a));
                match m.method.to_string().as_str() {
                    "namespace" => opts.namespace = argument(),
                    "subsystem" => opts.subsystem = argument(),
                    "const_label" | "const_labels" | "variable_label" | "variable_labels"
                    | "buckets" | "help" | "clone" => {}
                    _ => return None,
                }
                Some(opts)
            }
            syn::Expr::Path(p) if p.path.segments.len() == 1 => {
                let name = p.path.segments[0].ident.to_string();
                let opts = self
                    .bindings
                    .iter_mut()
                    .rev()
                    .find_map(|b| b.get_mut(&name))?;
                opts.used = true;
                Some(opts.clone())
            }
            syn::Expr::Reference(r) => self.opts(&r.expr),
            syn::Expr::Paren(p) => self.opts(&p.expr),
            _ => None,
        }
    }

    fn is_prometheus_macro(&self, mac: &syn::Macro, names: &[&str]) -> bool {
        let path = self.imports.resolve(&mac.path);
        names.iter().any(|name| {
            path == format!("prometheus::{name}") || (self.available.prometheus && path == *name)
        })
    }

    fn bind(&mut self, name: String, opts: Opts) {
        if let Some(scope) = self.bindings.last_mut() {
            scope.insert(name, opts);
        }
    }

    fn in_function(&mut self, walk: impl FnOnce(&mut Self)) {
        self.bindings.push(HashMap::new());
        walk(self);
        // Options built and never seen registered here (returned, passed on): their name
        // still shows a metric, at the line that names it.
        let scope = self.bindings.pop().unwrap_or_default();
        let mut unused: Vec<Opts> = scope.into_values().filter(|o| !o.used).collect();
        unused.sort_by_key(|o| (o.site.start().line, o.site.start().column));
        for opts in unused {
            self.emit(opts.parts(), Library::Prometheus, None, opts.site);
        }
    }

    /// A metrics-crate or prometheus macro that registers a metric.
    fn registering_macro(&mut self, mac: &syn::Macro) -> bool {
        let path = self.imports.resolve(&mac.path);
        let (krate, name) = match path.rsplit_once("::") {
            Some((krate, name)) => (Some(krate), name),
            None => (None, path.as_str()),
        };
        let is_metrics = METRICS_MACROS.contains(&name)
            && (krate == Some("metrics") || (krate.is_none() && self.available.metrics));
        let is_prometheus = is_prometheus_register_macro(name)
            && !is_metrics
            && (krate == Some("prometheus") || (krate.is_none() && self.available.prometheus));
        if is_metrics {
            let name = metrics_macro_name(mac).and_then(|e| self.pieces(&e));
            self.emit(name.map(|p| vec![p]), Library::Metrics, None, mac.span());
            true
        } else if is_prometheus {
            let Some(first) = first_macro_arg(mac) else {
                return false;
            };
            let parts = match self.opts(&first) {
                Some(opts) => opts.parts(),
                None => self.pieces(&first).map(|p| vec![p]),
            };
            self.emit(parts, Library::Prometheus, None, mac.span());
            true
        } else {
            false
        }
    }

    /// `Gauge::new(name, help)`, `GaugeVec::new(opts, labels)`, `Histogram::with_opts(opts)`.
    fn registering_call(&mut self, call: &syn::ExprCall) -> bool {
        let syn::Expr::Path(f) = &*call.func else {
            return false;
        };
        let path = self.imports.resolve(&f.path);
        let segments: Vec<&str> = path.split("::").collect();
        let [.., ty, function] = segments.as_slice() else {
            return false;
        };
        let from_prometheus = segments.first() == Some(&"prometheus")
            || (self.available.prometheus && segments.len() == 2);
        if !from_prometheus {
            return false;
        }
        // `Registry::new_custom(Some("prefix"), labels)` prefixes every name registered there.
        if [*ty, *function] == CUSTOM_REGISTRY {
            if let Some(syn::Expr::Call(some)) = call.args.first()
                && let Some(prefix) = some.args.first().and_then(literal)
            {
                self.facts.name_prefixes.push(prefix);
            }
            return false;
        }
        let Some(first) = call.args.first() else {
            return false;
        };
        let parts =
            if *function == "new" && PROMETHEUS_NAMED.contains(ty) && self.opts(first).is_none() {
                self.pieces(first).map(|p| vec![p])
            } else if matches!(*function, "new" | "with_opts") && PROMETHEUS_FROM_OPTS.contains(ty)
            {
                match self.opts(first) {
                    Some(opts) => opts.parts(),
                    None => return false,
                }
            } else {
                return false;
            };
        self.emit(parts, Library::Prometheus, None, call.span());
        true
    }

    /// A method chain: OpenTelemetry instruments (`meter.f64_gauge("x").with_unit("1").build()`),
    /// prometheus-client's `registry.register(name, help, metric)`, an exporter's namespace.
    fn method_chain(&mut self, outer: &syn::ExprMethodCall) {
        let mut chain = vec![outer];
        let mut base = &*outer.receiver;
        while let syn::Expr::MethodCall(m) = base {
            chain.push(m);
            base = &m.receiver;
        }
        // Innermost first.
        chain.reverse();
        for (i, call) in chain.iter().enumerate() {
            let method = call.method.to_string();
            if self.available.opentelemetry && is_otel_instrument(&method) {
                let unit = chain[i + 1..]
                    .iter()
                    .find(|c| c.method == "with_unit")
                    .and_then(|c| c.args.first())
                    .and_then(literal);
                let name = call.args.first().and_then(|a| self.pieces(a));
                self.emit(
                    name.map(|p| vec![p]),
                    Library::OpenTelemetry,
                    unit,
                    call.span(),
                );
            } else if self.available.prometheus_client
                && PROMETHEUS_CLIENT_REGISTER.contains(&method.as_str())
                && call.args.len() >= 3
            {
                let name = call.args.first().and_then(|a| self.pieces(a));
                self.emit(
                    name.map(|p| vec![p]),
                    Library::PrometheusClient,
                    None,
                    call.span(),
                );
            } else if ((self.available.opentelemetry && method == OTEL_NAMESPACE)
                || (self.available.prometheus_client && method == PROMETHEUS_CLIENT_PREFIX))
                && let Some(prefix) = call.args.first().and_then(literal)
            {
                self.facts.name_prefixes.push(prefix);
            }
        }
        self.visit_expr(base);
        for call in chain {
            for arg in &call.args {
                self.visit_expr(arg);
            }
        }
    }
}

/// `register_int_counter_vec!`, `register_histogram_with_registry!`, ...: the prometheus
/// crate's registering macros, and no other `register_*!` a project may define.
fn is_prometheus_register_macro(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("register_") else {
        return false;
    };
    let rest = rest.strip_suffix("_with_registry").unwrap_or(rest);
    let rest = rest.strip_suffix("_vec").unwrap_or(rest);
    let rest = rest.strip_prefix("int_").unwrap_or(rest);
    PROMETHEUS_KINDS.contains(&rest)
}

fn is_otel_instrument(method: &str) -> bool {
    let Some((number, instrument)) = method.split_once('_') else {
        return false;
    };
    OTEL_NUMBERS.contains(&number) && OTEL_INSTRUMENTS.contains(&instrument)
}

/// The expressions after the first top-level `=` of each `;`-separated statement of a macro
/// body, where they parse.
fn assigned_values(tokens: proc_macro2::TokenStream) -> Vec<syn::Expr> {
    use proc_macro2::{Spacing, TokenTree};
    let mut values = Vec::new();
    let mut statement: Vec<TokenTree> = Vec::new();
    let mut flush = |statement: &mut Vec<TokenTree>| {
        let is_assignment = |t: &TokenTree| matches!(t, TokenTree::Punct(p) if p.as_char() == '=' && p.spacing() == Spacing::Alone);
        if let Some(at) = statement.iter().position(is_assignment) {
            let value: proc_macro2::TokenStream = statement[at + 1..].iter().cloned().collect();
            if let Ok(expr) = syn::parse2::<syn::Expr>(value) {
                values.push(expr);
            }
        }
        statement.clear();
    };
    for token in tokens {
        if matches!(&token, TokenTree::Punct(p) if p.as_char() == ';') {
            flush(&mut statement);
        } else {
            statement.push(token);
        }
    }
    flush(&mut statement);
    values
}

/// The first argument of a macro, whatever follows it.
fn first_macro_arg(mac: &syn::Macro) -> Option<syn::Expr> {
    mac.parse_body_with(|input: syn::parse::ParseStream<'_>| {
        let first: syn::Expr = input.parse()?;
        let _rest: proc_macro2::TokenStream = input.parse()?;
        Ok(first)
    })
    .ok()
}

/// The name argument of a metrics-crate macro: after the optional `target: ..,` and
/// `level: ..,` arguments, before the labels (`"k" => "v"`).
fn metrics_macro_name(mac: &syn::Macro) -> Option<syn::Expr> {
    mac.parse_body_with(|input: syn::parse::ParseStream<'_>| {
        while input.peek(syn::Ident) && input.peek2(syn::Token![:]) && !input.peek2(syn::Token![::])
        {
            let _key: syn::Ident = input.parse()?;
            let _colon: syn::Token![:] = input.parse()?;
            let _value: syn::Expr = input.parse()?;
            let _comma: syn::Token![,] = input.parse()?;
        }
        let name: syn::Expr = input.parse()?;
        let _rest: proc_macro2::TokenStream = input.parse()?;
        Ok(name)
    })
    .ok()
}

/// The pieces of `format!(template, args..)`, when every placeholder is a plain `{}`, `{0}`
/// or `{NAME}` whose value is known.
fn format_pieces(
    template: &str,
    positional: &[&syn::Expr],
    pieces: impl Fn(&syn::Expr) -> Option<Vec<Piece>>,
) -> Option<Vec<Piece>> {
    let mut out = Vec::new();
    let mut next = 0;
    let mut rest = template;
    while let Some(open) = rest.find(['{', '}']) {
        let (text, tail) = rest.split_at(open);
        if !text.is_empty() {
            out.push(Piece::Text(text.to_string()));
        }
        if tail.starts_with("{{") || tail.starts_with("}}") {
            out.push(Piece::Text(tail[..1].to_string()));
            rest = &tail[2..];
            continue;
        }
        if tail.starts_with('}') {
            return None;
        }
        let close = tail.find('}')?;
        let inner = &tail[1..close];
        if inner.is_empty() {
            out.extend(pieces(positional.get(next)?)?);
            next += 1;
        } else if let Ok(index) = inner.parse::<usize>() {
            out.extend(pieces(positional.get(index)?)?);
        } else if inner.chars().all(|c| c.is_alphanumeric() || c == '_') {
            out.push(Piece::Const(inner.to_string()));
        } else {
            return None;
        }
        rest = &tail[close + 1..];
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest.to_string()));
    }
    Some(out)
}

impl<'ast> Visit<'ast> for Emissions<'_> {
    fn visit_item_fn(&mut self, item: &'ast syn::ItemFn) {
        self.in_function(|v| visit::visit_item_fn(v, item));
    }
    fn visit_impl_item_fn(&mut self, item: &'ast syn::ImplItemFn) {
        self.in_function(|v| visit::visit_impl_item_fn(v, item));
    }
    fn visit_trait_item_fn(&mut self, item: &'ast syn::TraitItemFn) {
        self.in_function(|v| visit::visit_trait_item_fn(v, item));
    }
    fn visit_local(&mut self, local: &'ast syn::Local) {
        if let syn::Pat::Ident(ident) = &local.pat
            && let Some(init) = &local.init
            && let Some(opts) = self.opts(&init.expr)
        {
            self.bind(ident.ident.to_string(), opts);
            return;
        }
        visit::visit_local(self, local);
    }
    fn visit_expr_assign(&mut self, assign: &'ast syn::ExprAssign) {
        // `opts = opts.namespace("x");` and `opts.namespace = "x".into();`
        match &*assign.left {
            syn::Expr::Path(p) if p.path.segments.len() == 1 => {
                if let Some(opts) = self.opts(&assign.right) {
                    self.bind(p.path.segments[0].ident.to_string(), opts);
                    return;
                }
            }
            syn::Expr::Field(field) => {
                if let (syn::Expr::Path(p), syn::Member::Named(member)) =
                    (&*field.base, &field.member)
                    && p.path.segments.len() == 1
                {
                    let var = p.path.segments[0].ident.to_string();
                    let value = self.pieces(&assign.right);
                    if let Some(opts) = self.bindings.iter_mut().rev().find_map(|b| b.get_mut(&var))
                    {
                        match member.to_string().as_str() {
                            "namespace" => opts.namespace = value,
                            "subsystem" => opts.subsystem = value,
                            "name" => opts.name = value,
                            _ => {}
                        }
                    }
                }
            }
            _ => {}
        }
        visit::visit_expr_assign(self, assign);
    }
    fn visit_expr_call(&mut self, call: &'ast syn::ExprCall) {
        self.registering_call(call);
        visit::visit_expr_call(self, call);
    }
    fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
        self.method_chain(call);
    }
    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        if self.registering_macro(mac) {
            return;
        }
        // Registrations often sit inside other macros: `lazy_static! { static ref X: Gauge =
        // register_gauge!(..).unwrap(); }`, `vec![..]`. Look inside bodies of items or
        // expressions, and else at the right-hand side of each `NAME = expr;` in the body.
        if let Ok(file) = mac.parse_body::<syn::File>() {
            self.visit_file(&file);
        } else if let Ok(exprs) = mac.parse_body_with(
            syn::punctuated::Punctuated::<syn::Expr, syn::Token![,]>::parse_terminated,
        ) {
            for expr in &exprs {
                self.visit_expr(expr);
            }
        } else {
            for value in assigned_values(mac.tokens.clone()) {
                self.visit_expr(&value);
            }
        }
    }
}

/// Joins the pieces into the name the exporter shows, resolving constants with `lookup`.
pub fn resolve(parts: &NameParts, lookup: impl Fn(&str) -> Option<String>) -> Option<String> {
    let mut components = Vec::new();
    for component in parts.as_ref()? {
        let mut text = String::new();
        for piece in component {
            match piece {
                Piece::Text(t) => text.push_str(t),
                Piece::Const(name) => text.push_str(&lookup(name)?),
            }
        }
        if !text.is_empty() {
            components.push(text);
        }
    }
    let name = components.join("_");
    // Exporters replace every character outside [a-zA-Z0-9_:] with `_`.
    let name: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
                c
            } else {
                '_'
            }
        })
        .collect();
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `extract` reads in the code, after checking that the tree gate lets through a file
    /// in which it finds a registration.
    fn extracted(code: &str) -> MetricFacts {
        let source = Source::new("src/m.rs", code.to_string());
        let ast = syn::parse_file(code).unwrap();
        let imports = Imports::of_file(&ast, Default::default());
        let facts = extract(&source, &ast, &imports, Available::default()).unwrap_or_default();
        if !facts.emitted.is_empty() || !facts.name_prefixes.is_empty() {
            assert!(gate_lets_through(code), "{code}");
        }
        facts
    }

    fn gate_lets_through(code: &str) -> bool {
        let vocabulary = crate::words::Vocabulary::new(registration_words());
        may_register(&crate::words::FileWords::new(code, &vocabulary, &[]))
    }

    fn names(code: &str) -> Vec<(usize, Option<String>)> {
        let facts = extracted(code);
        facts
            .emitted
            .iter()
            .map(|m| {
                let name = resolve(&m.parts, |c| facts.constants.get(c).cloned().flatten());
                (m.line, name)
            })
            .collect()
    }

    #[test]
    fn prometheus_names_with_namespace_subsystem_and_split_builders() {
        let code = r#"
use prometheus::{Opts, GaugeVec, register_gauge, opts, histogram_opts, register_histogram};
const PSI: &str = "feature_psi";
fn a() {
    let g = GaugeVec::new(Opts::new(PSI, "h").namespace("tickets").subsystem("model"), &["f"]).unwrap();
    let h = register_histogram!(histogram_opts!("latency_seconds", "h")).unwrap();
    let x = register_gauge!(opts!("accuracy", "h").namespace("tickets")).unwrap();
}
fn b() {
    let opts = Opts::new("drift_score", "h");
    let opts = opts.namespace("ns");
    let g = prometheus::Gauge::with_opts(opts).unwrap();
}
fn c(name: &str) { let g = prometheus::IntGauge::new(name, "h"); }
fn d() -> Opts { let o = Opts::new("returned", "h"); o }
lazy_static::lazy_static! {
    static ref DRIFT: prometheus::Gauge = prometheus::register_gauge!("label_drift", "h").unwrap();
}
"#;
        assert_eq!(
            names(code),
            vec![
                (5, Some("tickets_model_feature_psi".to_string())),
                (6, Some("latency_seconds".to_string())),
                (7, Some("tickets_accuracy".to_string())),
                (12, Some("ns_drift_score".to_string())),
                (14, None),
                (15, Some("returned".to_string())),
                (17, Some("label_drift".to_string())),
            ]
        );
    }

    /// One file per shape of registration `extract` reads: the tree gate lets each through.
    #[test]
    fn every_registration_shape_is_let_through_by_the_gate() {
        let shapes = [
            "use metrics::counter;\nfn f() { counter!(\"a\").increment(1); }",
            "use metrics::Unit;\nfn f() { metrics::describe_gauge!(\"a\", Unit::Count, \"h\"); }",
            "use prometheus::register_int_counter_vec as r;\nfn f() { r!(\"a\", \"h\", &[\"l\"]).unwrap(); }",
            "use prometheus::IntGauge;\nfn f() { IntGauge::new(\"a\", \"h\").unwrap(); }",
            "use prometheus::{Opts, GaugeVec};\nfn f() { let o = Opts::new(\"a\", \"h\"); GaugeVec::new(o, &[]); }",
            "use prometheus::HistogramOpts;\nfn f() { let _o = HistogramOpts::new(\"a\", \"h\"); }",
            "use prometheus::Encoder;\nfn f() { let _o = prometheus::histogram_opts!(\"a\", \"h\"); }",
            "use prometheus::Registry;\nfn f() { Registry::new_custom(Some(\"p\".into()), None); }",
            "use opentelemetry::metrics::Meter;\nfn f(m: Meter) { m.u64_counter(\"a\").build(); }",
            "use opentelemetry::global;\nfn f(e: E) { e.with_namespace(\"p\"); }",
            "use prometheus_client::encoding;\nfn f(r: &mut R) { r.register(\"a\", \"h\", c); }",
            "use prometheus_client::encoding;\nfn f(r: &mut R) { r.sub_registry_with_prefix(\"p\"); }",
        ];
        for code in shapes {
            let facts = extracted(code);
            assert!(
                !facts.emitted.is_empty() || !facts.name_prefixes.is_empty(),
                "the shape registers nothing: {code}"
            );
        }
        let plain = "const NAME: &str = \"requests_total\";\nfn f() { metrics(); }";
        assert!(!gate_lets_through(plain));
    }

    #[test]
    fn metrics_crate_and_opentelemetry_names() {
        let code = r#"
use metrics::{counter, gauge as g};
use opentelemetry::metrics::Meter;
fn a(meter: Meter) {
    counter!("requests.total", "route" => "/x").increment(1);
    g!(super::NAME).set(0.9);
    metrics::histogram!(target: "x", level: metrics::Level::INFO, format!("{}_psi", "ticket")).record(1.0);
    let c = meter.f64_histogram("prediction.confidence").with_unit("1").build();
    gauge!("unimported").set(1.0);
}
const NAME: &str = "model.accuracy";
"#;
        assert_eq!(
            names(code),
            vec![
                (5, Some("requests_total".to_string())),
                (6, Some("model_accuracy".to_string())),
                (7, Some("ticket_psi".to_string())),
                (8, Some("prediction_confidence".to_string())),
                (9, Some("unimported".to_string())),
            ]
        );
    }

    #[test]
    fn nothing_without_a_metrics_crate() {
        assert!(names("fn a() { counter!(\"x\"); let o = Opts::new(\"a\", \"b\"); }").is_empty());
    }
}
