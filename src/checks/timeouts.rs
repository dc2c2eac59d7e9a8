//! RES004-RES007: calls that never hang, queues that never eat the memory. Network clients
//! without a timeout, connections without one, timeouts switched off, unbounded channels.
//!
//! Which client has which default is in `rules/RES004-*.toml` and `rules/RES005-*.toml`
//! (`[[data.family]]`), from the crates' own documentation.

mod clients;
mod flow;
mod queues;
mod settle;

pub use settle::settle;

use std::collections::HashSet;
use std::sync::LazyLock;

use serde::Deserialize;

use super::{FileContext, Parsed, ProjectContext, RustFile, TreeQuery};
use crate::facts::settings::Setting;
use crate::finding::Finding;
use crate::registry::Code;
use clients::{Family, crate_major, judge_family, version_matches};
use flow::{Flow, Root, Vocabulary};
use queues::QUEUES;

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
    /// Calls that race a `select!`'s other futures against a timer.
    timers: Vec<String>,
    /// Connection-pool traits whose methods the pool runs under its own timeout.
    pool_managers: Vec<String>,
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
    /// Types of sockets to a process on the same machine, where no timeout is a choice.
    local_socket_types: Vec<String>,
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

static HTTP_CLIENTS: LazyLock<HttpClientData> = LazyLock::new(|| Code::RES004.rule().data());
static CONNECTIONS: LazyLock<ClientData> = LazyLock::new(|| Code::RES005.rule().data());
static DISABLE: LazyLock<DisableData> = LazyLock::new(|| Code::RES006.rule().data());

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
        m.crate_renames()
            .iter()
            .any(|(key, package)| CRATES.contains(package) && text.contains(key.as_str()))
    })
}

/// What the value-flow walk treats as pass-through and as timeouts (RES004's `[data.flow]`).
fn vocabulary() -> Vocabulary<'static> {
    Vocabulary {
        transparent_calls: &HTTP_CLIENTS.flow.transparent_calls,
        transparent_methods: &HTTP_CLIENTS.flow.transparent_methods,
        timeout_wrappers: &HTTP_CLIENTS.flow.timeout_wrappers,
        timers: &HTTP_CLIENTS.flow.timers,
        pool_managers: &HTTP_CLIENTS.flow.pool_managers,
    }
}

fn check_rust(ctx: &FileContext<'_>, rust: &RustFile<'_>, out: &mut Vec<Finding>) {
    let flow = Flow::of_file(rust.ast, rust.imports, ctx.source, &vocabulary());
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
                let finding =
                    Finding::at(code, ctx.source, hit.range, hit.message).with_fix(&hit.family.fix);
                out.push(match hit.condition {
                    Some(condition) => finding.on_condition(condition),
                    None => finding,
                });
            }
        }
    }
    if ctx.rules.enabled(Code::RES006) {
        disabled_in_code(ctx, &flow, out);
    }
    if ctx.rules.enabled(Code::RES007) {
        queues::unbounded_queues(ctx, rust, &flow, out);
    }
}

/// RES006 in code: `set_read_timeout(None)` on a network socket (not a Unix one); `.timeout(None)`,
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
        // A Unix socket's peer is a process on this machine: waiting for it is a choice.
        let local_socket = flow.binding_of(chain).is_some_and(|b| {
            b.type_words
                .iter()
                .any(|w| DISABLE.local_socket_types.contains(w))
        });
        for step in chain.steps.iter().filter(|s| s.none_argument) {
            let disables = (DISABLE.socket_methods.contains(&step.name) && !local_socket)
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
