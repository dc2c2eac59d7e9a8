//! The rule families. Each family module reads facts and emits findings for its own codes;
//! everything else (severity, test code, suppression, scoring) is the engine's business.
//!
//! To add a rule to a family: its TOML in `rules/`, its logic in the family's module, its
//! fixture in `fixtures/<CODE>/`. To add a family: a module here, called from the two
//! functions below.

pub mod deployment;
pub mod drift;
pub mod load_shedding;
pub mod logging;
pub mod monitoring;
pub mod ops;
pub mod responses;
pub mod retries;
pub mod secrets;
pub mod timeouts;

use std::collections::BTreeSet;

use saphyr::MarkedYaml;

use crate::facts::FileFacts;
use crate::facts::cargo::{CargoProject, Manifest};
use crate::facts::imports::Imports;
use crate::facts::settings::Setting;
use crate::finding::Finding;
use crate::registry::{Rule, Subject};
use crate::source::{FileKind, Source};
use std::collections::BTreeMap;

/// The rules selected for this audit.
#[derive(Debug, Clone)]
pub struct RuleSet {
    codes: BTreeSet<&'static str>,
}

impl RuleSet {
    pub fn new(rules: impl IntoIterator<Item = &'static Rule>) -> RuleSet {
        RuleSet {
            codes: rules.into_iter().map(|r| r.code.as_str()).collect(),
        }
    }

    pub fn enabled(&self, code: &str) -> bool {
        self.codes.contains(code)
    }

    /// Whether the selected rules need the syntax tree of every Rust file: the RES family
    /// reads code, OPS003 needs the service subject (worker loops, server APIs), and the OBS and
    /// DRF families read metric names, whose constants may sit in any file. Otherwise
    /// a Rust file is parsed only when its text shows it may hold a secret, an allow comment or
    /// a `#[cfg(test)] mod x;` (see `facts::analyse`).
    pub fn needs_every_rust_tree(&self) -> bool {
        self.codes.iter().any(|c| {
            ["RES", "OBS", "DRF"].iter().any(|p| c.starts_with(p))
                || matches!(*c, "OPS003" | "DEP006")
        })
    }

    /// Whether any rule of a family (a code prefix) is enabled.
    pub fn any(&self, prefix: &str) -> bool {
        self.codes.iter().any(|c| c.starts_with(prefix))
    }
}

/// A parsed Rust file with its name resolution.
pub struct RustFile<'a> {
    pub ast: &'a syn::File,
    pub imports: &'a Imports,
}

/// One file's parsed forms, for per-file checks. All `None` when the file is of another kind
/// or failed to parse: text-level checks still run.
#[derive(Default)]
pub struct Parsed<'a> {
    pub rust: Option<RustFile<'a>>,
    pub yaml: Option<&'a [MarkedYaml<'a>]>,
    /// Leaf settings of a YAML, JSON, TOML or .env file.
    pub settings: Option<&'a [Setting]>,
}

pub struct FileContext<'a> {
    pub source: &'a Source,
    pub kind: FileKind,
    pub cargo: &'a CargoProject,
    /// The Cargo package the file belongs to, if any.
    pub manifest: Option<&'a Manifest>,
    pub rules: &'a RuleSet,
    /// Every secret in the file, detected whatever the selection (see `secrets::detect`).
    pub secrets: &'a [secrets::Detection],
}

/// Phase one: checks that need only one file (and the Cargo model).
pub fn check_file(ctx: &FileContext<'_>, parsed: &Parsed<'_>, out: &mut Vec<Finding>) {
    deployment::check_file(ctx, parsed, out);
    ops::check_file(ctx, parsed, out);
    responses::check_file(ctx, parsed, out);
    retries::check_file(ctx, parsed, out);
    secrets::check_file(ctx, parsed, out);
    timeouts::check_file(ctx, parsed, out);
}

/// What project-level checks read.
pub struct ProjectContext<'a> {
    pub files: &'a [FileFacts],
    pub cargo: &'a CargoProject,
    /// Every scanned path.
    pub paths: &'a BTreeSet<String>,
    pub subjects: &'a BTreeMap<Subject, String>,
    pub rules: &'a RuleSet,
    /// The configuration's extra drift vocabulary (`drift_vocabulary`).
    pub drift_vocabulary: &'a [String],
}

/// Phase two: checks over what every file yielded.
pub fn check_project(ctx: &ProjectContext<'_>, out: &mut Vec<Finding>) {
    drift::check_project(ctx, out);
    monitoring::check_project(ctx, out);
    logging::check_project(ctx, out);
    load_shedding::check_project(ctx, out);
    deployment::check_project(ctx, out);
    ops::check_project(ctx, out);
    retries::check_project(ctx, out);
    secrets::check_project(ctx, out);
    timeouts::check_project(ctx, out);
}
