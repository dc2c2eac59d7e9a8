//! Phase one: each file, on its own, is read and parsed once, yields what project-level rules
//! need (its facts), and runs the per-file checks against the parsed form.

pub mod cargo;
pub mod markdown;
pub mod rust;
pub mod yaml;

use crate::checks::{self, FileContext, Parsed};
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
    let ctx = FileContext {
        source: &source,
        kind,
        cargo,
        rules,
    };
    match kind {
        FileKind::Rust => match rust::parse(&source.path, &source.text) {
            Ok(file) => {
                facts.rust = Some(rust::extract(&source.path, &file));
                checks::check_file(&ctx, &Parsed::Rust(&file), &mut facts.findings);
                drop(file);
                // proc-macro2 keeps every parsed file's text per thread; release it.
                proc_macro2::extra::invalidate_current_thread_spans();
            }
            Err(reason) => {
                facts.not_parsed = Some(reason);
                checks::check_file(&ctx, &Parsed::Text, &mut facts.findings);
            }
        },
        FileKind::Yaml => match yaml::parse(&source) {
            Ok(documents) => {
                facts.yaml = Some(yaml::extract(&source, &documents));
                checks::check_file(&ctx, &Parsed::Yaml(&documents), &mut facts.findings);
            }
            Err(reason) => {
                facts.not_parsed = Some(reason);
                facts.yaml = Some(yaml::extract_from_text(&source));
                checks::check_file(&ctx, &Parsed::Text, &mut facts.findings);
            }
        },
        FileKind::Markdown => {
            facts.headings = Some(markdown::headings(&source));
            checks::check_file(&ctx, &Parsed::Text, &mut facts.findings);
        }
        _ => checks::check_file(&ctx, &Parsed::Text, &mut facts.findings),
    }
    facts
}
