//! Stage three: the Cargo model, read from every Cargo.toml and Cargo.lock before any other file,
//! since per-file checks consult it (which package a file belongs to, renamed crates).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::checks::{self, Parsed};
use crate::engine::read::{Text, read_text};
use crate::facts::{self, cargo::CargoProject, cargo::Lockfile, cargo::Manifest};
use crate::source::{FileKind, Source};
use crate::walk::Candidate;

/// A Cargo.toml or Cargo.lock as the model read it.
pub enum ManifestRead {
    Text {
        text: String,
        /// What was odd about its bytes.
        notes: Vec<String>,
        /// Why it did not parse, if it did not.
        parse_error: Option<String>,
    },
    Binary,
    Unreadable(String),
}

/// The Cargo model and what every manifest and lockfile read for it held.
pub struct CargoModel {
    pub project: CargoProject,
    /// By path: the per-file stage does not read them again.
    pub reads: HashMap<String, ManifestRead>,
}

/// One manifest or lockfile, read and parsed (in parallel), before it joins the model.
enum ModelPart {
    Lock(String, Lockfile),
    Manifest(Box<Manifest>),
    Neither,
}

/// Reads and parses every Cargo.toml and Cargo.lock once.
pub fn load(candidates: &[Candidate], paths: &BTreeSet<String>) -> CargoModel {
    let loaded: Vec<(&Candidate, ManifestRead, ModelPart)> = candidates
        .par_iter()
        .filter(|c| crate::source::is_cargo_manifest_or_lock(&c.path))
        .map(|candidate| {
            let Text { text, notes, .. } = match read_text(candidate) {
                Ok(Some(text)) => text,
                Ok(None) => return (candidate, ManifestRead::Binary, ModelPart::Neither),
                Err(reason) => {
                    return (
                        candidate,
                        ManifestRead::Unreadable(reason),
                        ModelPart::Neither,
                    );
                }
            };
            let (model, parse_error) = parse(candidate, &text, paths);
            let read = ManifestRead::Text {
                text,
                notes,
                parse_error,
            };
            (candidate, read, model)
        })
        .collect();
    let mut manifests = Vec::new();
    let mut locks = BTreeMap::new();
    let mut reads = HashMap::new();
    for (candidate, read, model) in loaded {
        match model {
            ModelPart::Lock(dir, lock) => {
                locks.insert(dir, lock);
            }
            ModelPart::Manifest(manifest) => manifests.push(*manifest),
            ModelPart::Neither => {}
        }
        reads.insert(candidate.path.clone(), read);
    }
    CargoModel {
        project: CargoProject::new(manifests, locks),
        reads,
    }
}

/// A manifest or lockfile's text parsed for the model, and why it did not parse.
fn parse(
    candidate: &Candidate,
    text: &str,
    paths: &BTreeSet<String>,
) -> (ModelPart, Option<String>) {
    if let Some(reason) = facts::too_large(text.len()) {
        return (ModelPart::Neither, Some(reason));
    }
    if candidate.path.ends_with("Cargo.lock") {
        let dir = candidate.path.rsplit_once('/').map_or("", |(d, _)| d);
        return match Lockfile::parse(text) {
            Ok(lock) => (ModelPart::Lock(dir.to_string(), lock), None),
            // A lock that does not parse still exists and still pins.
            Err(reason) => (
                ModelPart::Lock(dir.to_string(), Lockfile::default()),
                Some(reason),
            ),
        };
    }
    let source = Source::new(candidate.path.clone(), text.to_string());
    match Manifest::parse(source, paths) {
        Ok(manifest) => {
            // Manifest lines are shown by project-level findings: mask their secrets.
            let parsed = Parsed {
                settings: Some(&manifest.settings),
                ..Parsed::default()
            };
            let secrets = checks::secrets::detect(&manifest.source, FileKind::Toml, &parsed);
            manifest
                .source
                .set_secret_spans(secrets.into_iter().map(|d| d.secret).collect());
            (ModelPart::Manifest(Box::new(manifest)), None)
        }
        Err(reason) => (ModelPart::Neither, Some(reason)),
    }
}

impl CargoModel {
    /// The digest of what the model is built from, for the cache's keys: the path and text of
    /// every manifest and lockfile read, and which targets each package has (found from the
    /// paths of `src/main.rs`, `src/bin/`, `src/lib.rs`). Any change to them invalidates every
    /// entry.
    pub fn digest(&self) -> String {
        let mut hasher = Sha256::new();
        let mut field = |bytes: &[u8]| {
            hasher.update((bytes.len() as u64).to_le_bytes());
            hasher.update(bytes);
        };
        let mut paths: Vec<&String> = self.reads.keys().collect();
        paths.sort();
        for path in paths {
            field(path.as_bytes());
            match &self.reads[path] {
                ManifestRead::Text { text, .. } => field(text.as_bytes()),
                ManifestRead::Binary => field(b"\0binary"),
                ManifestRead::Unreadable(reason) => field(reason.as_bytes()),
            }
        }
        for manifest in self.project.manifests() {
            field(manifest.source.path.as_bytes());
            if let Some(package) = &manifest.package {
                field(&[u8::from(package.has_bin), u8::from(package.has_lib)]);
            }
        }
        hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}
