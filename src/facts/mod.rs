//! Phase one: each file, on its own, is read and parsed once, yields what project-level rules
//! need (its facts), and runs the per-file checks against the parsed form.

pub mod alerts;
pub mod cargo;
pub mod imports;
pub mod kubernetes;
pub mod markdown;
pub mod metrics;
pub mod rust;
pub mod settings;
pub mod uses;
pub mod yaml;

use crate::checks::{self, Budget, FileContext, Parsed, RustFile, TreeFamilies};
use crate::facts::cargo::CargoProject;
use crate::finding::{CodeKind, Finding};
use crate::project::path_code_kind;
use crate::source::{FileKind, Source};
use crate::suppress::{self, Allow};
use crate::timings::{self, Step};

/// What one file yielded.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct FileFacts {
    pub path: String,
    pub kind: FileKind,
    /// Test code by path; `#[cfg(test)]` regions are in `rust`.
    pub path_code_kind: CodeKind,
    pub lines: usize,
    pub findings: Vec<Finding>,
    /// Why the file was not parsed (text-level rules still ran).
    pub not_parsed: Option<String>,
    pub rust: Option<rust::RustFacts>,
    /// Boxed, as `uses`: most files have neither, and every file's facts are kept to the end.
    pub yaml: Option<Box<yaml::YamlFacts>>,
    pub headings: Option<Vec<markdown::Heading>>,
    /// Metrics a Rust file registers (read when OBS or DRF rules run).
    pub metrics: Option<metrics::MetricFacts>,
    /// Alerting and recording rules of a Prometheus rule file.
    pub prometheus_rules: Option<alerts::RuleFile>,
    /// Logging, print and load-limiting uses of a Rust file (read when OBS001 or RES009 run).
    pub uses: Option<Box<uses::CodeUses>>,
    /// The file may show such uses but was not parsed for them: the project phase parses it
    /// only if the rules' verdict depends on it (see `checks::needs_every_use`).
    #[serde(default)]
    pub uses_pending: bool,
    /// Allow comments, each with the OPS006 finding it earns if it proves ineffective.
    pub allows: Vec<(Allow, Finding)>,
    /// What was odd about the file but did not stop its analysis (a byte-order mark, invalid
    /// UTF-8, settings beyond the cap).
    pub notes: Vec<String>,
    /// What left its analysis incomplete: a step that panicked, the time budget.
    pub incidents: Vec<String>,
    /// Secret detection found a secret in the file: its facts are never cached (see `cache`).
    #[serde(skip)]
    pub secrets_detected: bool,
}

impl FileFacts {
    fn new(source: &Source, kind: FileKind) -> FileFacts {
        FileFacts {
            path: source.path.clone(),
            kind,
            path_code_kind: path_code_kind(&source.path),
            lines: source.line_count(),
            findings: Vec::new(),
            not_parsed: None,
            rust: None,
            yaml: None,
            headings: None,
            metrics: None,
            prometheus_rules: None,
            uses: None,
            uses_pending: false,
            allows: Vec::new(),
            notes: Vec::new(),
            incidents: Vec::new(),
            secrets_detected: false,
        }
    }
}

/// Files larger than this get the text-level rules only: parsing them would cost more time and
/// memory than any real source or configuration file needs.
pub const MAX_PARSED_SIZE: usize = 4 * 1024 * 1024;

/// Why a file of `len` bytes is not parsed, when it is larger than `MAX_PARSED_SIZE`.
pub fn too_large(len: usize) -> Option<String> {
    (len > MAX_PARSED_SIZE).then(|| {
        format!(
            "larger than {} MiB ({len} bytes): text-level rules only",
            MAX_PARSED_SIZE / (1024 * 1024)
        )
    })
}

/// Analyses one file's text. Manifests (Cargo.toml, Cargo.lock) are handled before this, in
/// the project model; they only get the text-level checks here.
pub fn analyse(
    source: Source,
    known_not_parsed: Option<String>,
    cargo: &CargoProject,
    rules: &checks::RuleSet,
    budget: &Budget,
    tree: Tree,
) -> FileFacts {
    let kind = FileKind::of(&source.path);
    let mut facts = FileFacts::new(&source, kind);
    let file = FileInput {
        source: &source,
        kind,
        cargo,
        rules,
        budget,
        // Scanned once: it also decides below whether a Rust file is worth parsing.
        secrets_in_text: timings::time(Step::SecretsInText, || {
            checks::secrets::detect_in_text(&source, kind)
        }),
    };
    let is_manifest = crate::source::is_cargo_manifest_or_lock(&source.path);
    // `cargo vendor`'s checksum files hold only hashes of file contents, like Cargo.lock.
    let is_vendor_checksums = crate::source::file_name(&source.path) == ".cargo-checksum.json";
    let reads_metrics = rules.any("OBS") || rules.any("DRF");
    let reads_uses = rules.enabled("OBS001") || rules.enabled("RES009");
    let too_large = too_large(source.text.len());
    let gated = kind == FileKind::Rust
        && too_large.is_none()
        && tree == Tree::Gated
        && !parse_every_rust_file();
    let need = if !gated {
        TreeNeed::Now(TreeFamilies::ALL, None)
    } else {
        timings::time(Step::TreeGates, || {
            file.rust_tree_need(facts.path_code_kind)
        })
    };
    facts.uses_pending = need == TreeNeed::Later;
    let (tree_families, nesting) = match need {
        TreeNeed::Now(families, nesting) => (Some(families), nesting),
        TreeNeed::Later | TreeNeed::Never => (None, None),
    };
    let skip_rust_tree = tree_families.is_none();
    let path = source.path.as_str();
    if kind == FileKind::Rust && tree == Tree::Always {
        timings::tree_reason("logging and limits (parsed later)", path, source.text.len());
    } else if kind == FileKind::Rust {
        timings::rust_file(source.text.len(), !skip_rust_tree && too_large.is_none());
    }
    match kind {
        _ if too_large.is_some() => {
            facts.not_parsed = too_large;
            file.check(&Parsed::default(), &mut facts);
        }
        FileKind::Rust if skip_rust_tree => file.check(&Parsed::default(), &mut facts),
        FileKind::Rust => match timed_parse(&source, nesting) {
            Ok(ast) => {
                facts.rust = timings::time(Step::RustFacts, || {
                    file.step("rust facts", &mut facts.incidents, || {
                        rust::extract(&source.path, &ast)
                    })
                });
                let renames = cargo
                    .manifest_for(&source.path)
                    .map(|m| cargo.crate_renames(m))
                    .unwrap_or_default();
                let imports = match timings::time(Step::RustImports, || {
                    checks::guarded("imports", path, || imports::Imports::of_file(&ast, renames))
                }) {
                    Ok(imports) => imports,
                    Err(incident) => {
                        facts.incidents.push(incident);
                        imports::Imports::default()
                    }
                };
                if reads_metrics {
                    let available = metric_crates(cargo, &source.path);
                    facts.metrics = timings::time(Step::RustMetrics, || {
                        file.step("metrics", &mut facts.incidents, || {
                            metrics::extract(&source, &ast, &imports, available)
                        })
                    })
                    .flatten();
                }
                if reads_uses && let Some(rust) = &facts.rust {
                    facts.uses = file
                        .step("uses", &mut facts.incidents, || {
                            uses::extract(&source, &ast, &imports, rust)
                        })
                        .map(Box::new);
                }
                let parsed = Parsed {
                    rust: Some(RustFile {
                        ast: &ast,
                        imports: &imports,
                        families: tree_families.unwrap_or(TreeFamilies::ALL),
                    }),
                    ..Parsed::default()
                };
                file.check(&parsed, &mut facts);
                timings::time(Step::RustParse, || {
                    drop(ast);
                    // proc-macro2 keeps every parsed file's text per thread; release it.
                    proc_macro2::extra::invalidate_current_thread_spans();
                });
            }
            Err(reason) => {
                // A failed parse leaves its text in proc-macro2's map too.
                proc_macro2::extra::invalidate_current_thread_spans();
                facts.not_parsed = Some(reason);
                file.check_settings_by_line(&mut facts);
            }
        },
        FileKind::Json if is_vendor_checksums => file.check(&Parsed::default(), &mut facts),
        FileKind::Yaml | FileKind::Json => match timed(|| yaml::parse(&source)) {
            Ok(documents) => {
                if kind == FileKind::Yaml {
                    facts.yaml = file
                        .step("yaml facts", &mut facts.incidents, || {
                            yaml::extract(&source, &documents)
                        })
                        .map(Box::new);
                }
                facts.prometheus_rules = file
                    .step("alerts", &mut facts.incidents, || {
                        alerts::extract(&source, &documents)
                    })
                    .filter(|rules| !rules.is_empty());
                let settings = file
                    .step("settings", &mut facts.incidents, || {
                        settings::from_yaml(&source, &documents)
                    })
                    .unwrap_or_default();
                note_settings_cap(&settings, &mut facts.notes);
                let parsed = Parsed {
                    yaml: Some(&documents),
                    settings: Some(&settings),
                    ..Parsed::default()
                };
                file.check(&parsed, &mut facts);
                if facts.yaml.is_some()
                    && let Some(deploy) =
                        file.step("deployment facts", &mut facts.incidents, || {
                            checks::deployment::facts(&source, &documents)
                        })
                    && let Some(yaml) = facts.yaml.as_mut()
                {
                    yaml.deploy = deploy;
                }
            }
            Err(reason) => {
                facts.not_parsed = Some(reason);
                if kind == FileKind::Yaml {
                    facts.yaml = Some(Box::new(yaml::extract_from_text(&source)));
                }
                file.check_settings_by_line(&mut facts);
            }
        },
        // Manifests were parsed into the Cargo model in phase zero; parse nothing twice.
        FileKind::Toml if is_manifest => {
            let manifest = cargo.manifest_at(&source.path);
            let parsed = Parsed {
                settings: manifest.map(|m| m.settings.as_slice()),
                ..Parsed::default()
            };
            file.check(&parsed, &mut facts);
        }
        FileKind::Toml => match timed(|| toml::de::DeTable::parse(&source.text)) {
            Ok(table) => {
                let settings = file
                    .step("settings", &mut facts.incidents, || {
                        settings::from_toml(table.get_ref())
                    })
                    .unwrap_or_default();
                note_settings_cap(&settings, &mut facts.notes);
                let parsed = Parsed {
                    settings: Some(&settings),
                    ..Parsed::default()
                };
                file.check(&parsed, &mut facts);
            }
            Err(error) => {
                let line = error.span().map_or(0, |s| source.line_of(s.start));
                facts.not_parsed = Some(format!("{line}: {}", error.message()));
                file.check_settings_by_line(&mut facts);
            }
        },
        FileKind::Env => {
            let settings = settings::from_env(&source);
            let parsed = Parsed {
                settings: Some(&settings),
                ..Parsed::default()
            };
            file.check(&parsed, &mut facts);
        }
        FileKind::Markdown => {
            facts.headings = Some(markdown::headings(&source));
            file.check(&Parsed::default(), &mut facts);
        }
        _ => file.check(&Parsed::default(), &mut facts),
    }
    if known_not_parsed.is_some() {
        facts.not_parsed = known_not_parsed;
    }
    // A parser's message may quote the text it stopped at: mask the secrets found in it.
    facts.not_parsed = facts.not_parsed.map(|m| source.redact_message(&m));
    // The budget, once spent, stops every later step: say so once.
    let mut stopped = false;
    facts
        .incidents
        .retain(|i| !i.starts_with("analysis stopped") || !std::mem::replace(&mut stopped, true));
    facts
}

/// Phase one reads a Rust file's tree only when its text asks for it (see
/// `FileInput::rust_tree_need`), but a metric's name may come from a constant in any file.
/// So, once every file has been through phase one, the Rust files not parsed whose text names
/// such a constant are parsed for their constants alone: the project sees the same constants
/// as if every file had been parsed. `read` gives a file's text again (rare: only these files).
pub fn read_metric_constants(
    files: &mut [FileFacts],
    read: impl Fn(&str) -> Option<String> + Sync,
) {
    use rayon::prelude::*;
    let wanted = metrics::wanted_constants(files);
    if wanted.is_empty() {
        return;
    }
    let vocabulary = crate::words::Vocabulary::new(wanted.iter().cloned());
    files
        .par_iter_mut()
        .filter(|f| f.kind == FileKind::Rust && f.rust.is_none() && f.not_parsed.is_none())
        .for_each(|facts| {
            let Some(text) = read(&facts.path) else {
                return;
            };
            // Lexed once: for the words, then for the nesting estimate of a file to parse.
            let tokens = crate::words::code_token_list(&text);
            let present = vocabulary.scan_tokens(&text, tokens.iter().copied());
            if !wanted.iter().any(|name| present.has(name)) {
                return;
            }
            let nesting = rust::recursion_estimate(tokens);
            let source = Source::new(facts.path.clone(), text);
            let parsed = checks::guarded("metrics", &source.path, || {
                let parsed =
                    timed_parse(&source, Some(nesting)).map(|ast| metrics::constants_only(&ast));
                proc_macro2::extra::invalidate_current_thread_spans();
                parsed
            });
            match parsed {
                Ok(Ok(constants)) => facts.metrics = constants,
                Ok(Err(reason)) => facts.not_parsed = Some(source.redact_message(&reason)),
                Err(incident) => facts.incidents.push(incident),
            }
        });
}

fn note_settings_cap(settings: &[settings::Setting], notes: &mut Vec<String>) {
    if settings.len() >= settings::MAX_SETTINGS {
        notes.push(format!(
            "more than {} settings: only the first {} were read",
            settings::MAX_SETTINGS,
            settings::MAX_SETTINGS
        ));
    }
}

/// Parses a Rust file, timed (see `timings`).
fn timed_parse(source: &Source, nesting: Option<usize>) -> Result<syn::File, String> {
    timings::time(Step::RustParse, || {
        rust::parse_estimated(&source.path, &source.text, nesting)
    })
}

/// Parses a YAML, JSON or TOML file, timed (see `timings`).
fn timed<T>(parse: impl FnOnce() -> T) -> T {
    timings::time(Step::OtherParse, parse)
}

/// The metric crates a Rust file's package depends on (renamed dependencies resolved).
fn metric_crates(cargo: &CargoProject, path: &str) -> metrics::Available {
    let Some(manifest) = cargo.manifest_for(path) else {
        return metrics::Available::default();
    };
    let depends = |name: &str| {
        manifest
            .dependencies
            .iter()
            .any(|d| cargo.resolve(manifest, d).package == name)
    };
    metrics::Available {
        prometheus: depends("prometheus"),
        prometheus_client: depends("prometheus-client"),
        metrics: depends("metrics"),
        opentelemetry: depends("opentelemetry"),
    }
}

/// `PRODREADY_PARSE_EVERY_RUST_FILE=1` switches the tree gates off: every Rust file is parsed,
/// and the findings must be the same (`tests/gates.rs`, `bench/run.sh`).
pub fn parse_every_rust_file() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| {
        std::env::var_os("PRODREADY_PARSE_EVERY_RUST_FILE")
            .is_some_and(|v| !v.is_empty() && v != "0")
    })
}

/// The words the fact extractors' gates look for (see `FileInput::rust_tree_need`).
pub fn gate_words() -> Vec<String> {
    let words = rust::gate_words().into_iter().chain(uses::gate_words());
    words.chain(METRIC_CRATES.map(String::from)).collect()
}

/// The crates whose paths `metrics::extract` reads.
const METRIC_CRATES: [&str; 4] = [
    "prometheus",
    "prometheus_client",
    "metrics",
    "opentelemetry",
];

/// Whether `analyse` parses a Rust file when its gates let it (`Gated`), or whatever they say
/// (`Always`: the project phase asked for the file's uses, see `FileFacts::uses_pending`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Tree {
    Gated,
    Always,
}

/// What a Rust file's gates decided: parse it now, maybe later (only its uses could matter),
/// or never.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum TreeNeed {
    /// With the check families that need the tree (see `RustFile::families`), and the code's
    /// nesting estimated on the tokens the gates lexed (`rust::parse_estimated`).
    Now(TreeFamilies, Option<usize>),
    Later,
    Never,
}

/// What every file's checks share, whatever its kind.
struct FileInput<'a> {
    source: &'a Source,
    kind: FileKind,
    cargo: &'a CargoProject,
    rules: &'a checks::RuleSet,
    /// Known-format and URL secrets, found in the text before any parse.
    secrets_in_text: Vec<checks::secrets::Detection>,
    budget: &'a Budget,
}

impl FileInput<'_> {
    /// Runs one extraction step unless the budget is spent, catching a panic: `None` (and an
    /// incident) when it did not run or did not finish.
    fn step<T>(
        &self,
        name: &str,
        incidents: &mut Vec<String>,
        run: impl FnOnce() -> T,
    ) -> Option<T> {
        if self.budget.expired() {
            if incidents.is_empty() {
                incidents.push(self.budget.stopped(&[name, "the checks"]));
            }
            return None;
        }
        checks::guarded(name, &self.source.path, run)
            .map_err(|incident| incidents.push(incident))
            .ok()
    }

    /// Whether a Rust file's syntax tree can matter, decided on its text and package before any
    /// parse: to some check family (`checks::TreeQuery`), or to the facts the project phase
    /// reads — test regions declared elsewhere, allow comments, service evidence, metrics,
    /// logging and load-limiting uses. Every condition is necessary for what it guards, so a
    /// file that meets none would yield nothing from its tree. Logging and load-limiting uses
    /// alone make it `Later`: the project phase asks for them only when its verdict depends on
    /// them (one logging call anywhere settles OBS001, for one).
    fn rust_tree_need(&self, code_kind: CodeKind) -> TreeNeed {
        let text = &self.source.text;
        let path = self.source.path.as_str();
        let ctx = self.context(&self.secrets_in_text);
        let query = checks::TreeQuery::new(&ctx, code_kind);
        let production = code_kind == CodeKind::Production;
        let reasons: [(&str, &dyn Fn() -> bool); 3] = [
            ("test regions or allow comments", &|| {
                rust::declares_test_module(text) || text.contains("prodready:")
            }),
            ("service evidence", &|| {
                production && rust::may_show_service(&query, self.cargo)
            }),
            ("metrics", &|| {
                production
                    && (self.rules.any("OBS") || self.rules.any("DRF"))
                    && metrics::may_emit(text)
                    && (metric_crates(self.cargo, path).any()
                        || METRIC_CRATES.iter().any(|c| query.has_path(c)))
            }),
        ];
        let may_use = || {
            production
                && (query.live("OBS001") || query.live("RES009"))
                && !crate::project::is_build_script(path, self.cargo)
                && uses::may_use(&query)
        };
        // Every family's gate is asked: a parsed tree is given only to the families that need
        // it (`RustFile::families`). A file to parse has its nesting estimated on the tokens
        // the gates lexed.
        let families = query.families_needing_tree();
        let now = || {
            TreeNeed::Now(
                families,
                Some(rust::recursion_estimate(query.tokens().iter().copied())),
            )
        };
        if !timings::enabled() {
            if !families.is_empty() || reasons.iter().any(|(_, holds)| holds()) {
                return now();
            }
            return if may_use() {
                TreeNeed::Later
            } else {
                TreeNeed::Never
            };
        }
        // Every reason that holds, not only the first, to see which gates let files through;
        // each gate is asked once.
        let mut needed = false;
        let families_named = families.names().map(|family| (family, true));
        for (reason, holds) in reasons
            .iter()
            .map(|(r, holds)| (*r, holds()))
            .chain(families_named)
        {
            if holds {
                timings::tree_reason(reason, path, text.len());
                needed = true;
            }
        }
        let later = !needed && may_use();
        if later {
            timings::tree_reason("logging and limits (asked later)", path, text.len());
        }
        match (needed, later) {
            (true, _) => now(),
            (false, true) => TreeNeed::Later,
            (false, false) => TreeNeed::Never,
        }
    }

    /// The context the check families read, with the secrets detected so far.
    fn context<'s>(&'s self, secrets: &'s [checks::secrets::Detection]) -> FileContext<'s> {
        FileContext {
            source: self.source,
            kind: self.kind,
            cargo: self.cargo,
            manifest: self.cargo.manifest_for(&self.source.path),
            rules: self.rules,
            secrets,
        }
    }

    /// The checks of a file that did not parse, with the settings its lines still show
    /// (`key: value`, `key = value`, Rust's `let key = "value"`), so that a password in a broken
    /// file is still found and masked.
    fn check_settings_by_line(&self, facts: &mut FileFacts) {
        let settings = settings::from_lines(self.source, self.kind);
        let parsed = Parsed {
            settings: Some(&settings),
            ..Parsed::default()
        };
        self.check(&parsed, facts);
    }

    /// Detects secrets first (their spans must be masked in every finding made after), reads the
    /// allow comments, then runs the per-file checks.
    fn check(&self, parsed: &Parsed<'_>, facts: &mut FileFacts) {
        timings::time(Step::Checks, || self.check_untimed(parsed, facts));
    }

    fn check_untimed(&self, parsed: &Parsed<'_>, facts: &mut FileFacts) {
        // Secrets are detected whatever the budget: their spans mask every output.
        let secrets = match checks::guarded("secret detection", &self.source.path, || {
            checks::secrets::detect_in_structure(
                self.source,
                self.kind,
                &parsed.for_family("secrets"),
                self.secrets_in_text.clone(),
            )
        }) {
            Ok(secrets) => secrets,
            Err(incident) => {
                facts.incidents.push(incident);
                self.secrets_in_text.clone()
            }
        };
        facts.secrets_detected |= !secrets.is_empty();
        self.source
            .set_secret_spans(secrets.iter().map(|d| d.secret.clone()).collect());
        facts.allows = suppress::parse(self.source, self.kind)
            .into_iter()
            .map(|allow| {
                let finding = allow.ineffective(self.source, String::new());
                (allow, finding)
            })
            .collect();
        let ctx = self.context(&secrets);
        let incidents = checks::check_file(&ctx, parsed, self.budget, &mut facts.findings);
        facts.incidents.extend(incidents);
    }
}
