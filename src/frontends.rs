//! The front ends that read untrusted text, one call each, for property tests
//! (`tests/properties.rs`) and fuzz targets (`fuzz/`). Each runs as an audit runs it: on a
//! thread with the parsing threads' stack, with every rule selected. Any panic is a bug; the
//! return values only keep the work from being optimised away.

use std::time::Duration;

use crate::checks::Budget;
use crate::engine::PARSER_STACK;
use crate::facts::cargo::CargoProject;
use crate::registry::RuleSet;
use crate::source::{FileKind, Source};

/// Runs `work` on a thread with the parsing threads' stack, passing a panic on.
pub fn on_parser_stack<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| {
        let handle = std::thread::Builder::new()
            .stack_size(PARSER_STACK)
            .spawn_scoped(scope, work)
            .expect("a parsing thread starts");
        match handle.join() {
            Ok(value) => value,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// The Rust front end: the nesting guard, syn, and the facts visitor.
pub fn rust(text: &str) -> bool {
    let parsed = crate::facts::rust::parse("src/lib.rs", text);
    let facts = parsed
        .as_ref()
        .map(|file| crate::facts::rust::extract("src/lib.rs", file));
    proc_macro2::extra::invalidate_current_thread_spans();
    facts.is_ok()
}

/// The YAML (and JSON) front end: saphyr and the flattening into settings.
pub fn yaml(text: &str) -> usize {
    let source = Source::new("config.yaml", text.to_string());
    match crate::facts::yaml::parse(&source) {
        Ok(documents) => crate::facts::settings::from_yaml(&source, &documents).len(),
        Err(_) => crate::facts::settings::from_lines(&source, FileKind::Yaml).len(),
    }
}

/// The TOML front end: the span-keeping parser and the flattening into settings.
pub fn toml(text: &str) -> usize {
    match toml::de::DeTable::parse(text) {
        Ok(table) => crate::facts::settings::from_toml(table.get_ref()).len(),
        Err(_) => {
            let source = Source::new("config.toml", text.to_string());
            crate::facts::settings::from_lines(&source, FileKind::Toml).len()
        }
    }
}

/// The allow-comment front end, in a Rust file and in a YAML file.
pub fn allow_comments(text: &str) -> usize {
    [("src/lib.rs", FileKind::Rust), ("a.yaml", FileKind::Yaml)]
        .into_iter()
        .map(|(path, kind)| {
            let source = Source::new(path, text.to_string());
            crate::suppress::parse(&source, kind).len()
        })
        .sum()
}

/// A whole file's analysis, as an audit does it: the front end its name selects, secret
/// detection, allow comments and every per-file rule. The audit contains a panic in one step
/// as an internal error of the file; here it is an `Err`, so that callers can see it.
pub fn analyse(path: &str, text: &str) -> Result<usize, String> {
    let rules = RuleSet::new(crate::registry::registry().rules());
    let budget = Budget::start(Duration::from_secs(60));
    let source = Source::new(path, text.to_string());
    let cargo = CargoProject::default();
    let facts = crate::engine::file::analyse(
        source,
        None,
        &cargo,
        &rules,
        &crate::engine::file::gate_vocabulary(&cargo),
        &budget,
        // Every tree, whatever the gates say: the point is to exercise the parser.
        crate::engine::file::Tree::Always,
    );
    let internal: Vec<&String> = facts
        .not_analysed
        .iter()
        .filter(|i| i.starts_with("internal error"))
        .collect();
    if internal.is_empty() {
        Ok(facts.findings.len())
    } else {
        Err(format!("{internal:?}"))
    }
}
