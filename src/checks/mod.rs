//! The rule families. Each family module reads facts and emits findings for its own codes;
//! everything else (severity, test code, suppression, scoring) is the engine's business.
//!
//! To add a rule to a family: its TOML in `rules/`, its logic in the family's module, its
//! fixture in `fixtures/<CODE>/`. To add a family: a module here, called from the two
//! functions below.

pub mod allows;
pub mod deployment;
pub mod drift;
pub mod load_shedding;
pub mod logging;
pub mod monitoring;
pub mod ops;
pub mod panics;
pub mod request_bodies;
pub mod responses;
pub mod retries;
pub mod secrets;
pub mod swallowed;
pub mod timeouts;

use std::collections::BTreeSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use saphyr::MarkedYaml;

use crate::facts::FileFacts;
use crate::facts::cargo::{CargoProject, Manifest};
use crate::facts::imports::Imports;
use crate::facts::settings::Setting;
use crate::finding::{Finding, SecretValue};
use crate::registry::{Code, RuleSet, Subject};
use crate::roles::{Judged, Role};
use crate::source::{FileKind, Source};
use crate::words::{CodeToken, FileWords};
use std::collections::BTreeMap;

/// A parsed Rust file with its name resolution.
#[derive(Clone, Copy)]
pub struct RustFile<'a> {
    pub ast: &'a syn::File,
    pub imports: &'a Imports,
    /// The check families given the tree: those whose tree gate let the file through (all of
    /// them when no gate ran). A gate is a necessary condition of every finding its family
    /// makes from the tree, so the others would walk it for nothing.
    pub families: TreeFamilies,
}

/// A set of check families (of `FILE_FAMILIES`, by name).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct TreeFamilies(u16);

// One bit per family.
const _: () = assert!(FILE_FAMILIES.len() <= 16);

impl TreeFamilies {
    pub const ALL: TreeFamilies = TreeFamilies(u16::MAX);
    pub const NONE: TreeFamilies = TreeFamilies(0);

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The families' names, in `FILE_FAMILIES` order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        FILE_FAMILIES
            .iter()
            .enumerate()
            .filter(move |(index, _)| self.0 & (1 << index) != 0)
            .map(|(_, (name, ..))| *name)
    }

    pub fn has(self, family: &str) -> bool {
        FILE_FAMILIES
            .iter()
            .position(|(name, ..)| *name == family)
            .is_some_and(|index| self.0 & (1 << index) != 0)
    }
}

impl<'a> Parsed<'a> {
    /// A file read as settings only (`.env`, TOML, a file that did not parse).
    pub fn with_settings(settings: &'a [Setting]) -> Parsed<'a> {
        Parsed {
            settings: Some(settings),
            ..Parsed::default()
        }
    }

    /// What a family reads: the Rust tree only if the family is among those given it.
    pub fn for_family(&self, family: &str) -> Parsed<'_> {
        Parsed {
            rust: self.rust.filter(|rust| rust.families.has(family)),
            yaml: self.yaml,
            settings: self.settings,
        }
    }
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

impl FileContext<'_> {
    /// Whether the file's package depends on the package (renames resolved).
    pub fn depends_on(&self, package: &str) -> bool {
        self.depends_on_any(&[package])
    }

    /// Whether the file's package depends on one of the packages (renames resolved): a name
    /// as Cargo.toml or the code writes it (`actix-web`, `actix_web`), or a prefix ending in
    /// `*` (`aws-sdk-*`).
    pub fn depends_on_any(&self, packages: &[impl AsRef<str>]) -> bool {
        let same = |a: &[u8], b: &[u8]| {
            let dash = |c: u8| if c == b'_' { b'-' } else { c };
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| dash(*x) == dash(*y))
        };
        let matches = |package: &str, pattern: &str| match pattern.strip_suffix('*') {
            Some(prefix) => {
                package.len() >= prefix.len()
                    && same(&package.as_bytes()[..prefix.len()], prefix.as_bytes())
            }
            None => same(package.as_bytes(), pattern.as_bytes()),
        };
        self.manifest.is_some_and(|m| {
            (m.dependency_packages().iter())
                .any(|package| packages.iter().any(|p| matches(package, p.as_ref())))
        })
    }
}

/// A file's analysis budget: a deadline, checked between rule families and front-end steps.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    started: Instant,
    limit: Duration,
}

impl Budget {
    pub fn start(limit: Duration) -> Budget {
        Budget {
            started: Instant::now(),
            limit,
        }
    }

    pub fn expired(&self) -> bool {
        self.started.elapsed() > self.limit
    }

    /// The diagnostic of a file whose analysis the budget stopped.
    pub fn stopped(&self, not_run: &[&str]) -> String {
        format!(
            "analysis stopped after {}s (file_timeout): {} not run",
            self.limit.as_secs_f64(),
            not_run.join(", ")
        )
    }
}

/// What is said about a rule family that panicked. Never the panic's payload: a slicing panic
/// quotes the text it sliced, which may hold a secret (the panic hook prints the location).
pub fn internal_error(family: &str) -> String {
    format!(
        "internal error in the {family} checks (a bug in prodready; its location is on standard error); the other checks ran"
    )
}

/// Runs one step of a file's analysis (a rule family, a front end's extraction), catching a
/// panic: `Err` carries the diagnostic for the file.
pub fn guarded<T>(family: &str, path: &str, run: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(|| {
        inject_panic(family, path);
        run()
    }))
    .map_err(|_| internal_error(family))
}

/// Debug builds only: `PRODREADY_TEST_PANIC=family:path` panics in that step, with a payload
/// holding `PRODREADY_TEST_PANIC_PAYLOAD`, so that tests can prove a panic is contained and
/// its payload (which may quote a secret) never printed.
#[cfg(debug_assertions)]
fn inject_panic(family: &str, path: &str) {
    if std::env::var_os("PRODREADY_TEST_PANIC").is_some_and(|v| *v == *format!("{family}:{path}")) {
        let payload = std::env::var("PRODREADY_TEST_PANIC_PAYLOAD").unwrap_or_default();
        panic!("injected panic in {family} for {path}: {payload}");
    }
}

#[cfg(not(debug_assertions))]
fn inject_panic(_family: &str, _path: &str) {}

type FileCheck = fn(&FileContext<'_>, &Parsed<'_>, &mut Vec<Finding>);

/// Whether a family's checks could report anything in a Rust file's syntax tree, decided on the
/// file's text (and its package) before any parse. Each must be a necessary condition of every
/// finding the family makes from the tree: a file no family needs is never parsed.
type TreeGate = fn(&TreeQuery<'_>) -> bool;

/// The words the tree gates look for, found in one pass over each Rust file.
type GateWords = fn() -> Vec<String>;

/// The rule families of the per-file phase, in the order they run, with their tree gates.
const FILE_FAMILIES: [(&str, FileCheck, TreeGate, GateWords); 9] = [
    (
        "deployment",
        deployment::check_file,
        deployment::needs_tree,
        deployment::gate_words,
    ),
    ("ops", ops::check_file, |_| false, Vec::new),
    (
        "panics",
        panics::check_file,
        panics::needs_tree,
        panics::gate_words,
    ),
    (
        "request_bodies",
        request_bodies::check_file,
        request_bodies::needs_tree,
        request_bodies::gate_words,
    ),
    (
        "responses",
        responses::check_file,
        responses::needs_tree,
        responses::gate_words,
    ),
    (
        "retries",
        retries::check_file,
        retries::needs_tree,
        retries::gate_words,
    ),
    (
        "secrets",
        secrets::check_file,
        secrets::needs_tree,
        Vec::new,
    ),
    (
        "swallowed",
        swallowed::check_file,
        swallowed::needs_tree,
        swallowed::gate_words,
    ),
    (
        "timeouts",
        timeouts::check_file,
        timeouts::needs_tree,
        timeouts::gate_words,
    ),
];

/// What is known of a Rust file before it is parsed: its text's words (see
/// `words::FileWords`), its package and the rules that can report in it.
pub struct TreeQuery<'a> {
    pub ctx: &'a FileContext<'a>,
    /// The file's role as far as the per-file analysis knows it.
    pub role: Role,
    pub words: &'a FileWords<'a>,
}

/// The words the check families' tree gates look for.
pub fn gate_words() -> impl Iterator<Item = String> {
    FILE_FAMILIES.iter().flat_map(|(_, _, _, words)| words())
}

impl TreeQuery<'_> {
    /// The file's code tokens (`words::code_tokens`).
    pub fn tokens(&self) -> &[CodeToken<'_>] {
        self.words.tokens()
    }

    /// Whether a rule can report in this file: selected, and not one whose findings a file of
    /// this role drops (test code, for a rule that ignores it).
    pub fn live(&self, code: Code) -> bool {
        self.ctx.rules.enabled(code)
            && crate::roles::judge(code.rule(), self.role, SecretValue::Unknown) != Judged::Dropped
    }

    /// Whether the code holds the identifier.
    pub fn has(&self, word: &str) -> bool {
        self.words.has(word)
    }

    /// Whether the code calls a macro of that name.
    pub fn has_macro(&self, name: &str) -> bool {
        self.words.has_macro(name)
    }

    /// Whether the code calls a method or reads a field of that name.
    pub fn has_member(&self, name: &str) -> bool {
        self.words.has_member(name)
    }

    /// Whether the code calls a method of that name.
    pub fn has_method(&self, name: &str) -> bool {
        self.words.has_method(name)
    }

    /// Whether every segment of the path is written in the code (its crate also through a
    /// renamed dependency of the file's package).
    pub fn has_path(&self, path: &str) -> bool {
        self.words.has_path(path)
    }

    /// Whether the file's package depends on the package (renames resolved).
    pub fn depends_on(&self, package: &str) -> bool {
        self.ctx.depends_on(package)
    }

    /// Whether the file's package depends on one of the packages (`FileContext::depends_on_any`).
    pub fn depends_on_any(&self, packages: &[impl AsRef<str>]) -> bool {
        self.ctx.depends_on_any(packages)
    }

    /// The check families that need the file's syntax tree, each gate asked once.
    pub fn families_needing_tree(&self) -> TreeFamilies {
        let mut set = TreeFamilies::NONE;
        for (index, (_, _, needs, _)) in FILE_FAMILIES.iter().enumerate() {
            if needs(self) {
                set.0 |= 1 << index;
            }
        }
        set
    }
}

/// The per-file checks: those that need only one file (and the Cargo model). Each family runs on its
/// own: a panic loses that family's findings for the file, the budget stops the families not
/// yet run. Returns the diagnostics that make the file's analysis incomplete.
pub fn check_file(
    ctx: &FileContext<'_>,
    parsed: &Parsed<'_>,
    budget: &Budget,
    out: &mut Vec<Finding>,
) -> Vec<String> {
    let mut not_analysed = Vec::new();
    for (index, (family, check, _, _)) in FILE_FAMILIES.iter().enumerate() {
        if budget.expired() {
            let not_run: Vec<&str> = FILE_FAMILIES[index..].iter().map(|(f, ..)| *f).collect();
            not_analysed.push(budget.stopped(&not_run));
            break;
        }
        let mut found = Vec::new();
        let parsed = parsed.for_family(family);
        match guarded(family, &ctx.source.path, || check(ctx, &parsed, &mut found)) {
            Ok(()) => {
                debug_assert_own_codes(family, &found);
                out.extend(found);
            }
            Err(reason) => not_analysed.push(reason),
        }
    }
    not_analysed
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

type ProjectCheck = fn(&ProjectContext<'_>, &mut Vec<Finding>);

/// The rule families of the project phase, in the order they run.
const PROJECT_FAMILIES: [(&str, ProjectCheck); 9] = [
    ("drift", drift::check_project),
    ("monitoring", monitoring::check_project),
    ("logging", logging::check_project),
    ("load_shedding", load_shedding::check_project),
    ("deployment", deployment::check_project),
    ("ops", ops::check_project),
    ("retries", retries::check_project),
    ("secrets", secrets::check_project),
    ("timeouts", timeouts::check_project),
];

/// Whether some project check's verdict depends on the logging and load-limiting uses of files
/// not parsed yet (`FileFacts::uses_pending`): then the engine parses them.
pub fn needs_every_use(ctx: &ProjectContext<'_>) -> bool {
    logging::needs_every_use(ctx) || load_shedding::needs_every_use(ctx)
}

/// The project checks: over what every file yielded. A family that panics loses its findings;
/// the others still run. Returns why the families that panicked did not run.
pub fn check_project(ctx: &ProjectContext<'_>, out: &mut Vec<Finding>) -> Vec<String> {
    let mut not_run = Vec::new();
    for (family, check) in PROJECT_FAMILIES {
        let mut found = Vec::new();
        match guarded(family, "<project>", || check(ctx, &mut found)) {
            Ok(()) => {
                debug_assert_own_codes(family, &found);
                out.extend(found);
            }
            Err(reason) => not_run.push(reason),
        }
    }
    not_run
}

/// A family reports only its own rules (each rule's TOML names its `family`); the fixture tests
/// run every family in debug builds. `tests/registry.rs` checks the same on the sources.
fn debug_assert_own_codes(family: &str, found: &[Finding]) {
    debug_assert!(
        found.iter().all(|f| f.rule.family == family),
        "the {family} checks reported another family's rule"
    );
}
