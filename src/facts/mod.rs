//! Phase one: each file, on its own, is read and parsed once, yields what project-level rules
//! need (its facts), and runs the per-file checks against the parsed form.

pub mod cargo;
pub mod imports;
pub mod markdown;
pub mod rust;
pub mod settings;
pub mod yaml;

use crate::checks::{self, FileContext, Parsed, RustFile};
use crate::facts::cargo::CargoProject;
use crate::finding::{CodeKind, Finding};
use crate::project::path_code_kind;
use crate::source::{FileKind, Source};

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
        }
    }
}

/// Analyses one file's text. Manifests (Cargo.toml, Cargo.lock) are handled before this, in
/// the project model; they only get the text-level checks here.
pub fn analyse(source: Source, cargo: &CargoProject, rules: &checks::RuleSet) -> FileFacts {
    let kind = FileKind::of(&source.path);
    let mut facts = FileFacts::new(&source, kind);
    let manifest = cargo.manifest_for(&source.path);
    let ctx = FileContext {
        source: &source,
        kind,
        cargo,
        manifest,
        rules,
    };
    let is_manifest = source.path.ends_with("Cargo.toml") || source.path.ends_with("Cargo.lock");
    match kind {
        FileKind::Rust => match rust::parse(&source.path, &source.text) {
            Ok(file) => {
                facts.rust = Some(rust::extract(&source.path, &file));
                let renames = manifest.map(|m| cargo.crate_renames(m)).unwrap_or_default();
                let imports = imports::Imports::of_file(&file, renames);
                let parsed = Parsed {
                    rust: Some(RustFile {
                        ast: &file,
                        imports: &imports,
                    }),
                    ..Parsed::default()
                };
                checks::check_file(&ctx, &parsed, &mut facts.findings);
                drop(file);
                // proc-macro2 keeps every parsed file's text per thread; release it.
                proc_macro2::extra::invalidate_current_thread_spans();
            }
            Err(reason) => {
                facts.not_parsed = Some(reason);
                checks::check_file(&ctx, &Parsed::default(), &mut facts.findings);
            }
        },
        FileKind::Yaml | FileKind::Json => match yaml::parse(&source) {
            Ok(documents) => {
                if kind == FileKind::Yaml {
                    facts.yaml = Some(yaml::extract(&source, &documents));
                }
                let settings = settings::from_yaml(&source, &documents);
                let parsed = Parsed {
                    yaml: Some(&documents),
                    settings: Some(&settings),
                    ..Parsed::default()
                };
                checks::check_file(&ctx, &parsed, &mut facts.findings);
            }
            Err(reason) => {
                facts.not_parsed = Some(reason);
                if kind == FileKind::Yaml {
                    facts.yaml = Some(yaml::extract_from_text(&source));
                }
                checks::check_file(&ctx, &Parsed::default(), &mut facts.findings);
            }
        },
        // Manifests were parsed into the Cargo model in phase zero; parse nothing twice.
        FileKind::Toml if !is_manifest => match toml::de::DeTable::parse(&source.text) {
            Ok(table) => {
                let settings = settings::from_toml(table.get_ref());
                let parsed = Parsed {
                    settings: Some(&settings),
                    ..Parsed::default()
                };
                checks::check_file(&ctx, &parsed, &mut facts.findings);
            }
            Err(error) => {
                let line = error.span().map_or(0, |s| source.line_of(s.start));
                facts.not_parsed = Some(format!("{line}: {}", error.message()));
                checks::check_file(&ctx, &Parsed::default(), &mut facts.findings);
            }
        },
        FileKind::Env => {
            let settings = settings::from_env(&source);
            let parsed = Parsed {
                settings: Some(&settings),
                ..Parsed::default()
            };
            checks::check_file(&ctx, &parsed, &mut facts.findings);
        }
        FileKind::Markdown => {
            facts.headings = Some(markdown::headings(&source));
            checks::check_file(&ctx, &Parsed::default(), &mut facts.findings);
        }
        _ => checks::check_file(&ctx, &Parsed::default(), &mut facts.findings),
    }
    facts
}
