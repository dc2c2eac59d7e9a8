//! Stage five: what one file's facts mean once every file has been seen. Files whose tree only
//! their logging and load-limiting uses needed are parsed when the project checks' verdict
//! depends on those uses; files that define a metric name's constant are parsed for it; and
//! Kubernetes findings that another file withdraws (a PodDisruptionBudget, a LimitRange, an
//! autoscaler) are settled.

use std::collections::{BTreeSet, HashMap, HashSet};

use rayon::prelude::*;

use crate::checks::{self, ProjectContext};
use crate::config::Config;
use crate::engine::file::{Tree, timed_parse};
use crate::engine::per_file::{Inputs, Outcome, analyse_guarded};
use crate::engine::read::read_text;
use crate::facts::cargo::{CargoProject, Manifest};
use crate::facts::{self, FileFacts, metrics, rust};
use crate::project::subjects;
use crate::registry::Category;
use crate::roles::{Overrides, Role};
use crate::source::{FileKind, Source};
use crate::walk::{Candidate, PathNote};

/// Settles the files' facts; returns the files that could not be analysed again, with why.
pub fn settle(
    files: &mut Vec<FileFacts>,
    candidates: &[Candidate],
    inputs: Inputs<'_>,
    paths: &BTreeSet<String>,
    config: &Config,
) -> Vec<PathNote> {
    let drift_vocabulary = &config.drift_vocabulary;
    let candidates: HashMap<&str, &Candidate> =
        candidates.iter().map(|c| (c.path.as_str(), c)).collect();
    let not_analysed = if needs_every_use(files, inputs, paths, drift_vocabulary) {
        analyse_pending_uses(files, &candidates, inputs)
    } else {
        Vec::new()
    };
    if inputs.rules.any_in(Category::Observability) || inputs.rules.any_in(Category::Drift) {
        let read = |path: &str| {
            let candidate = candidates.get(path)?;
            read_text(candidate).ok().flatten().map(|t| t.text)
        };
        read_metric_constants(files, read);
    }
    // After every analysis: an analysis again decides a file's role anew.
    settle_roles(files, &inputs.cargo.project, &Overrides::new(&config.roles));
    checks::panics::settle::settle(files, &inputs.cargo.project, |path| {
        let candidate = candidates.get(path)?;
        read_text(candidate).ok().flatten().map(|t| t.text)
    });
    // Once roles are known: conditions read the production files only.
    checks::timeouts::settle(files, &inputs.cargo.project, |path| {
        let candidate = candidates.get(path)?;
        read_text(candidate).ok().flatten().map(|t| t.text)
    });
    facts::kubernetes::settle(files, paths);
    not_analysed
}

/// The roles that only the whole tree tells: a Rust source file that no crate root reaches (its
/// module is declared by no file of its package), then the configuration's `[roles]`, which
/// win over everything.
fn settle_roles(files: &mut [FileFacts], cargo: &CargoProject, overrides: &Overrides<'_>) {
    let mut declared: HashMap<&str, Option<HashSet<&str>>> = HashMap::new();
    for file in files.iter().filter(|f| f.kind == FileKind::Rust) {
        let Some(manifest) = cargo.manifest_for(&file.path) else {
            continue;
        };
        let names = declared
            .entry(manifest.dir.as_str())
            .or_insert_with(|| Some(HashSet::new()));
        match (&file.modules, names.as_mut()) {
            (Some(modules), Some(names)) => names.extend(modules.iter().map(String::as_str)),
            // A file whose declarations are unknown could reach any of them.
            (None, _) => *names = None,
            (Some(_), None) => {}
        }
    }
    let unreachable: HashSet<String> = files
        .iter()
        .filter(|f| f.kind == FileKind::Rust && f.role == Role::Production)
        .filter(|f| {
            let Some(manifest) = cargo.manifest_for(&f.path) else {
                return false;
            };
            let names = declared.get(manifest.dir.as_str()).and_then(Option::as_ref);
            names.is_some_and(|names| !reachable(&f.path, manifest, names))
        })
        .map(|f| f.path.clone())
        .collect();
    for file in files.iter_mut() {
        if unreachable.contains(&file.path) {
            file.role = Role::Unreachable;
        }
        if let Some(set) = overrides.find(&file.path) {
            file.role = set.role;
        }
    }
}

/// Whether a Rust file of a package can be part of one of its crates: a crate root, a file
/// outside `src/` (whose targets this does not follow), or a module some file declares.
fn reachable(path: &str, manifest: &Manifest, declared: &HashSet<&str>) -> bool {
    let Some(package) = &manifest.package else {
        return true;
    };
    let relative = match manifest.dir.as_str() {
        "" => path,
        dir => path
            .strip_prefix(dir)
            .and_then(|p| p.strip_prefix('/'))
            .unwrap_or(path),
    };
    let Some(in_src) = relative.strip_prefix("src/") else {
        return true;
    };
    if package.custom_targets
        || matches!(in_src, "lib.rs" | "main.rs")
        || in_src.starts_with("bin/")
    {
        return true;
    }
    let file = in_src.rsplit('/').next().unwrap_or(in_src);
    declared.contains(rust::module_name(in_src)) || declared.contains(file)
}

/// Whether some file's uses are pending and the project checks' verdict depends on them.
fn needs_every_use(
    files: &[FileFacts],
    inputs: Inputs<'_>,
    paths: &BTreeSet<String>,
    drift_vocabulary: &[String],
) -> bool {
    if !files.iter().any(|f| f.uses_pending) {
        return false;
    }
    let present = subjects(files, &inputs.cargo.project, paths);
    let ctx = ProjectContext {
        files,
        cargo: &inputs.cargo.project,
        paths,
        subjects: &present,
        rules: inputs.rules,
        drift_vocabulary,
    };
    checks::needs_every_use(&ctx)
}

/// Analyses again, with their trees, the files whose uses are pending. A file that fails now is
/// dropped, with why.
fn analyse_pending_uses(
    files: &mut Vec<FileFacts>,
    candidates: &HashMap<&str, &Candidate>,
    inputs: Inputs<'_>,
) -> Vec<PathNote> {
    let pending: Vec<usize> = (0..files.len())
        .filter(|&i| files[i].uses_pending)
        .collect();
    let redone: Vec<(usize, Outcome)> = pending
        .par_iter()
        .filter_map(|&i| {
            let candidate = candidates.get(files[i].path.as_str())?;
            let outcome = analyse_guarded(candidate, read_text(candidate), inputs, Tree::Always);
            Some((i, outcome))
        })
        .collect();
    let mut not_analysed = Vec::new();
    for (i, outcome) in redone {
        match outcome {
            Outcome::Analysed(facts) => files[i] = *facts,
            Outcome::NotAnalysed { path, reason } => not_analysed.push(PathNote { path, reason }),
            // Read as text a moment ago: it cannot have become binary but for a change under
            // the audit; its first facts stand.
            Outcome::Skipped { .. } => files[i].uses_pending = false,
        }
    }
    let dropped: HashSet<&str> = not_analysed.iter().map(|n| n.path.as_str()).collect();
    files.retain(|f| !dropped.contains(f.path.as_str()));
    not_analysed
}

/// Stage four reads a Rust file's tree only when its text asks for it, but a metric's name may
/// come from a constant in any file. So the Rust files not parsed whose text names such a
/// constant are parsed for their constants alone: the project sees the same constants as if
/// every file had been parsed. `read` gives a file's text again (rare: only these files).
fn read_metric_constants(files: &mut [FileFacts], read: impl Fn(&str) -> Option<String> + Sync) {
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
            if !vocabulary.occurs_in(&text) {
                return;
            }
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
                Err(reason) => facts.not_analysed.push(reason),
            }
        });
}
