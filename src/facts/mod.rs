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

use crate::checks::{self, FileContext, Parsed, RustFile};
use crate::facts::cargo::CargoProject;
use crate::finding::{CodeKind, Finding};
use crate::project::path_code_kind;
use crate::source::{FileKind, Source};
use crate::suppress::{self, Allow};
use crate::timings::{self, Step};

/// What one file yielded.
#[derive(Debug)]
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
    pub yaml: Option<yaml::YamlFacts>,
    pub headings: Option<Vec<markdown::Heading>>,
    /// Metrics a Rust file registers (read when OBS or DRF rules run).
    pub metrics: Option<metrics::MetricFacts>,
    /// Alerting and recording rules of a Prometheus rule file.
    pub prometheus_rules: Option<alerts::RuleFile>,
    /// Logging, print and load-limiting uses of a Rust file (read when OBS001 or RES009 run).
    pub uses: Option<uses::CodeUses>,
    /// Allow comments, each with the OPS006 finding it earns if it proves ineffective.
    pub allows: Vec<(Allow, Finding)>,
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
            allows: Vec::new(),
        }
    }
}

/// Analyses one file's text. Manifests (Cargo.toml, Cargo.lock) are handled before this, in
/// the project model; they only get the text-level checks here.
pub fn analyse(source: Source, cargo: &CargoProject, rules: &checks::RuleSet) -> FileFacts {
    let kind = FileKind::of(&source.path);
    let mut facts = FileFacts::new(&source, kind);
    let file = FileInput {
        source: &source,
        kind,
        cargo,
        rules,
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
    let skip_rust_tree = kind == FileKind::Rust
        && !rules.needs_every_rust_tree()
        && !rust::declares_test_module(&source.text)
        && !source.text.contains("prodready:")
        && !checks::secrets::may_hold_secrets(&source, &file.secrets_in_text);
    if kind == FileKind::Rust {
        timings::rust_file(source.text.len(), !skip_rust_tree);
    }
    match kind {
        FileKind::Rust if skip_rust_tree => file.check(&Parsed::default(), &mut facts),
        FileKind::Rust => match timed_parse(&source) {
            Ok(ast) => {
                let rust_facts =
                    timings::time(Step::RustFacts, || rust::extract(&source.path, &ast));
                facts.rust = Some(rust_facts);
                let renames = cargo
                    .manifest_for(&source.path)
                    .map(|m| cargo.crate_renames(m))
                    .unwrap_or_default();
                let imports = timings::time(Step::RustImports, || {
                    imports::Imports::of_file(&ast, renames)
                });
                if reads_metrics {
                    let available = metric_crates(cargo, &source.path);
                    facts.metrics = timings::time(Step::RustMetrics, || {
                        metrics::extract(&source, &ast, &imports, available)
                    });
                }
                if reads_uses && let Some(rust) = &facts.rust {
                    facts.uses = Some(uses::extract(&source, &ast, &imports, rust));
                }
                let parsed = Parsed {
                    rust: Some(RustFile {
                        ast: &ast,
                        imports: &imports,
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
                file.check(&Parsed::default(), &mut facts);
            }
        },
        FileKind::Json if is_vendor_checksums => file.check(&Parsed::default(), &mut facts),
        FileKind::Yaml | FileKind::Json => match timed(|| yaml::parse(&source)) {
            Ok(documents) => {
                if kind == FileKind::Yaml {
                    facts.yaml = Some(yaml::extract(&source, &documents));
                }
                let rule_file = alerts::extract(&source, &documents);
                if !rule_file.is_empty() {
                    facts.prometheus_rules = Some(rule_file);
                }
                let settings = settings::from_yaml(&source, &documents);
                let parsed = Parsed {
                    yaml: Some(&documents),
                    settings: Some(&settings),
                    ..Parsed::default()
                };
                file.check(&parsed, &mut facts);
                if let Some(yaml) = facts.yaml.as_mut() {
                    yaml.deploy = checks::deployment::facts(&source, &documents);
                }
            }
            Err(reason) => {
                facts.not_parsed = Some(reason);
                if kind == FileKind::Yaml {
                    facts.yaml = Some(yaml::extract_from_text(&source));
                }
                file.check(&Parsed::default(), &mut facts);
            }
        },
        // Manifests were parsed into the Cargo model in phase zero; parse nothing twice.
        FileKind::Toml if is_manifest => {
            let manifest = cargo
                .manifests
                .iter()
                .find(|m| m.source.path == source.path);
            let parsed = Parsed {
                settings: manifest.map(|m| m.settings.as_slice()),
                ..Parsed::default()
            };
            file.check(&parsed, &mut facts);
        }
        FileKind::Toml => match timed(|| toml::de::DeTable::parse(&source.text)) {
            Ok(table) => {
                let settings = settings::from_toml(table.get_ref());
                let parsed = Parsed {
                    settings: Some(&settings),
                    ..Parsed::default()
                };
                file.check(&parsed, &mut facts);
            }
            Err(error) => {
                let line = error.span().map_or(0, |s| source.line_of(s.start));
                facts.not_parsed = Some(format!("{line}: {}", error.message()));
                file.check(&Parsed::default(), &mut facts);
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
    facts
}

/// Parses a Rust file, timed (see `timings`).
fn timed_parse(source: &Source) -> Result<syn::File, String> {
    timings::time(Step::RustParse, || rust::parse(&source.path, &source.text))
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

/// What every file's checks share, whatever its kind.
struct FileInput<'a> {
    source: &'a Source,
    kind: FileKind,
    cargo: &'a CargoProject,
    rules: &'a checks::RuleSet,
    /// Known-format and URL secrets, found in the text before any parse.
    secrets_in_text: Vec<checks::secrets::Detection>,
}

impl FileInput<'_> {
    /// Detects secrets first (their spans must be masked in every finding made after), reads the
    /// allow comments, then runs the per-file checks.
    fn check(&self, parsed: &Parsed<'_>, facts: &mut FileFacts) {
        timings::time(Step::Checks, || self.check_untimed(parsed, facts));
    }

    fn check_untimed(&self, parsed: &Parsed<'_>, facts: &mut FileFacts) {
        let secrets = checks::secrets::detect_in_structure(
            self.source,
            self.kind,
            parsed,
            self.secrets_in_text.clone(),
        );
        self.source
            .set_secret_spans(secrets.iter().map(|d| d.secret.clone()).collect());
        facts.allows = suppress::parse(self.source, self.kind)
            .into_iter()
            .map(|allow| {
                let finding = allow.ineffective(self.source, String::new());
                (allow, finding)
            })
            .collect();
        let ctx = FileContext {
            source: self.source,
            kind: self.kind,
            cargo: self.cargo,
            manifest: self.cargo.manifest_for(&self.source.path),
            rules: self.rules,
            secrets: &secrets,
        };
        checks::check_file(&ctx, parsed, &mut facts.findings);
    }
}
