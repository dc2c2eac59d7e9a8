//! Stage four: every file, in parallel, read and analysed once (`engine::file`), or its facts
//! taken from the cache: when its bytes are those of a cached entry, or, unread, when its
//! stamp is the one recorded with them.

use std::panic::{AssertUnwindSafe, catch_unwind};

use rayon::prelude::*;

use crate::cache::{self, Cache, Stamped};
use crate::checks::Budget;
use crate::engine::INTERNAL_ERROR;
use crate::engine::cargo_model::{CargoModel, ManifestRead};
use crate::engine::file::{self, Tree};
use crate::engine::read::{Text, binary_reason, decode, is_binary, read};
use crate::facts::FileFacts;
use crate::registry::RuleSet;
use crate::source::{FileKind, Source};
use crate::walk::{Candidate, SkipReason};
use crate::words::Vocabulary;

/// What became of one file.
pub enum Outcome {
    Analysed(Box<FileFacts>),
    Skipped {
        reason: SkipReason,
        path: String,
        why: String,
    },
    NotAnalysed {
        path: String,
        reason: String,
    },
}

impl Outcome {
    fn binary(candidate: &Candidate) -> Outcome {
        Outcome::Skipped {
            reason: SkipReason::Binary,
            path: candidate.path.clone(),
            why: binary_reason(),
        }
    }

    fn not_analysed(candidate: &Candidate, reason: String) -> Outcome {
        Outcome::NotAnalysed {
            path: candidate.path.clone(),
            reason,
        }
    }
}

/// What a file's analysis reads besides the file: the Cargo model, the rules, the gate
/// vocabulary, the budget.
#[derive(Clone, Copy)]
pub struct Inputs<'a> {
    pub cargo: &'a CargoModel,
    pub rules: &'a RuleSet,
    /// The tree gates' words (`file::gate_vocabulary`), built once for the project.
    pub vocabulary: &'a Vocabulary,
    pub file_timeout: std::time::Duration,
}

/// Analyses every file (on the current rayon pool), with its cache entry to save. One file is
/// one task: a few files cost most of the time (those parsed), and rayon's default split into
/// a few long runs of files left a thread alone with the costly run while the others waited
/// (qdrant took a third longer on two threads).
pub fn analyse_all(
    files: &[Candidate],
    inputs: Inputs<'_>,
    cache: Option<&Cache>,
) -> Vec<(Outcome, cache::Entry)> {
    files
        .par_iter()
        .with_max_len(1)
        .map(|candidate| match inputs.cargo.reads.get(&candidate.path) {
            Some(read) => analyse_manifest(candidate, read, inputs, cache),
            None => analyse_other(candidate, inputs, cache),
        })
        .collect()
}

/// A Cargo.toml or Cargo.lock, read for the Cargo model already: it gets no stamp key.
fn analyse_manifest(
    candidate: &Candidate,
    read: &ManifestRead,
    inputs: Inputs<'_>,
    cache: Option<&Cache>,
) -> (Outcome, cache::Entry) {
    match read {
        ManifestRead::Text {
            text,
            notes,
            parse_error,
        } => {
            let key = cache.map(|c| c.key(&candidate.path, text.as_bytes()));
            let text = || {
                Some(Text {
                    text: text.to_string(),
                    notes: notes.clone(),
                    not_parsed: inputs
                        .cargo
                        .not_parsed(&candidate.path, parse_error.as_ref()),
                })
            };
            analyse_keyed(candidate, key, None, text, inputs, cache)
        }
        ManifestRead::Binary => (Outcome::binary(candidate), cache::Entry::None),
        ManifestRead::Unreadable(reason) => (
            Outcome::not_analysed(candidate, reason.clone()),
            cache::Entry::None,
        ),
    }
}

/// Any other file: unread when its stamp is in the cache, else read and analysed (or its facts
/// taken from the cache by its bytes).
fn analyse_other(
    candidate: &Candidate,
    inputs: Inputs<'_>,
    cache: Option<&Cache>,
) -> (Outcome, cache::Entry) {
    let stamp_key = cache.and_then(|c| c.stamp_key(&candidate.path, candidate.stamp.as_ref()?));
    if let (Some(cache), Some(stamp_key)) = (cache, &stamp_key) {
        match cache.by_stamp(stamp_key) {
            Some(Stamped::Facts(key, facts)) => {
                let entry = cache::Entry::Hit(key, Some(stamp_key.clone()));
                return (Outcome::Analysed(facts), entry);
            }
            Some(Stamped::Binary) => {
                return (
                    Outcome::binary(candidate),
                    cache::Entry::Binary(stamp_key.clone()),
                );
            }
            None => {}
        }
    }
    match read(candidate) {
        Ok(bytes) if is_binary(&bytes) => {
            let entry = stamp_key.map_or(cache::Entry::None, cache::Entry::Binary);
            (Outcome::binary(candidate), entry)
        }
        Ok(bytes) => {
            let key = cache.map(|c| c.key(&candidate.path, &bytes));
            let kind = FileKind::of(&candidate.path);
            let text = move || decode(bytes, kind);
            analyse_keyed(candidate, key, stamp_key, text, inputs, cache)
        }
        Err(reason) => (Outcome::not_analysed(candidate, reason), cache::Entry::None),
    }
}

/// A file whose bytes are known by their cache key: its cached facts, or its analysis now.
fn analyse_keyed(
    candidate: &Candidate,
    key: Option<cache::Key>,
    stamp_key: Option<cache::Key>,
    text: impl FnOnce() -> Option<Text>,
    inputs: Inputs<'_>,
    cache: Option<&Cache>,
) -> (Outcome, cache::Entry) {
    if let (Some(cache), Some(key)) = (cache, &key)
        && let Some(facts) = cache.get(key)
    {
        return (
            Outcome::Analysed(Box::new(facts)),
            cache::Entry::Hit(key.clone(), stamp_key),
        );
    }
    let outcome = analyse_guarded(candidate, Ok(text()), inputs, Tree::Gated);
    let entry = match (&outcome, cache, key) {
        (Outcome::Analysed(facts), Some(cache), Some(key)) => cache.fresh(key, stamp_key, facts),
        _ => cache::Entry::None,
    };
    (outcome, entry)
}

/// One file's analysis, a panic in it contained as a reason the file is not analysed.
pub fn analyse_guarded(
    candidate: &Candidate,
    text: Result<Option<Text>, String>,
    inputs: Inputs<'_>,
    tree: Tree,
) -> Outcome {
    let Text {
        text,
        notes,
        not_parsed,
    } = match text {
        Ok(Some(text)) => text,
        Ok(None) => return Outcome::binary(candidate),
        Err(reason) => return Outcome::not_analysed(candidate, reason),
    };
    let source = Source::new(candidate.path.clone(), text);
    let budget = Budget::start(inputs.file_timeout);
    let cargo = &inputs.cargo.project;
    match catch_unwind(AssertUnwindSafe(|| {
        let (rules, vocabulary) = (inputs.rules, inputs.vocabulary);
        file::analyse(source, not_parsed, cargo, rules, vocabulary, &budget, tree)
    })) {
        Ok(mut facts) => {
            facts.notes.splice(0..0, notes);
            Outcome::Analysed(Box::new(facts))
        }
        Err(_) => Outcome::not_analysed(candidate, INTERNAL_ERROR.to_string()),
    }
}
