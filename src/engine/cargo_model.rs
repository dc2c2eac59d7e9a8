//! Stage three: the Cargo model, read from every Cargo.toml and Cargo.lock before any other file,
//! since per-file checks consult it (which package a file belongs to, renamed crates).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::checks::{self, Parsed};
use crate::engine::read::{Text, read_text};
use crate::facts::{self, cargo::CargoProject, cargo::Lock, cargo::Manifest};
use crate::source::{FileKind, Source};
use crate::walk::Candidate;

/// A Cargo.toml or Cargo.lock as the model read it.
pub enum ManifestRead {
    Text {
        /// Shared with the model's `Lock` when it is a Cargo.lock.
        text: Arc<str>,
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
    Lock(String, Lock),
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
            let text: Arc<str> = text.into();
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
    text: &Arc<str>,
    paths: &BTreeSet<String>,
) -> (ModelPart, Option<String>) {
    if let Some(reason) = facts::too_large(text.len()) {
        return (ModelPart::Neither, Some(reason));
    }
    if let Some(dir) = lock_dir(&candidate.path) {
        // A lock that does not parse still exists and still pins: whether it parses is asked
        // later (`CargoModel::not_parsed`).
        return (
            ModelPart::Lock(dir.to_string(), Lock::new(Arc::clone(text))),
            None,
        );
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

/// The folder of a Cargo.lock (`""` at the root), or `None` for any other file.
fn lock_dir(path: &str) -> Option<&str> {
    let dir = path.strip_suffix("Cargo.lock")?;
    match dir.strip_suffix('/') {
        Some(dir) => Some(dir),
        None => dir.is_empty().then_some(""),
    }
}

impl CargoModel {
    /// Why a manifest or lockfile read for the model does not parse, if it does not: a lock is
    /// parsed for this only when asked, here or by a check.
    pub fn not_parsed(&self, path: &str, read_error: Option<&String>) -> Option<String> {
        let lock = || self.project.locks.get(lock_dir(path)?)?.parse_error();
        read_error.cloned().or_else(|| lock().map(str::to_string))
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_is_known_by_its_folder() {
        assert_eq!(lock_dir("Cargo.lock"), Some(""));
        assert_eq!(lock_dir("tools/old/Cargo.lock"), Some("tools/old"));
        assert_eq!(lock_dir("tools/oldCargo.lock"), None);
        assert_eq!(lock_dir("tools/Cargo.toml"), None);
    }

    #[test]
    fn a_lock_that_does_not_parse_says_why_when_asked_and_pins_nothing() {
        let locks = [
            ("".to_string(), Lock::new("version = 4\n".into())),
            ("old".to_string(), Lock::new("[[package]]\nname = ".into())),
        ];
        let model = CargoModel {
            project: CargoProject::new(Vec::new(), locks.into_iter().collect()),
            reads: HashMap::new(),
        };
        assert_eq!(model.not_parsed("Cargo.lock", None), None);
        assert!(model.not_parsed("old/Cargo.lock", None).is_some());
        assert!(model.project.locks["old"].lockfile().packages.is_empty());
        // A reason found when it was read wins; a file that is no lock has no other.
        let too_large = "larger than 4 MiB".to_string();
        assert_eq!(
            model.not_parsed("Cargo.lock", Some(&too_large)),
            Some(too_large.clone())
        );
        assert_eq!(model.not_parsed("old/Cargo.toml", None), None);
    }
}
