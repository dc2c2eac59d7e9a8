//! What the report says about the files: how many were scanned, which were skipped, not
//! parsed or not analysed, and why.

use std::collections::BTreeMap;

use crate::engine::per_file::Outcome;
use crate::facts::FileFacts;
use crate::roles::{Overrides, Role, RoleOverride};
use crate::source::FileKind;
use crate::walk::{Discovery, PathNote, SkipReason};

#[derive(Debug, Default, Clone)]
pub struct FileStats {
    pub scanned: usize,
    pub lines: usize,
    pub by_kind: BTreeMap<FileKind, usize>,
    /// Files analysed, by role (`roles`).
    pub by_role: BTreeMap<Role, usize>,
    /// The configuration's `[roles]` entries, each with how many files it set.
    pub role_overrides: Vec<(RoleOverride, usize)>,
    pub skipped_files: BTreeMap<SkipReason, usize>,
    pub skipped_dirs: BTreeMap<SkipReason, usize>,
    /// Files not read, each with why: binary, too large, symbolic links and special files.
    /// (Gitignored, excluded and build files are only counted.)
    pub skipped: Vec<PathNote>,
    /// Files analysed in full, but with something worth saying: a byte-order mark, invalid
    /// UTF-8, unusual line endings, no content, a file name that is not UTF-8.
    pub notes: Vec<PathNote>,
    /// Analysed at text level only, and why the file was not parsed.
    pub not_parsed: Vec<PathNote>,
    /// Not analysed, or only in part (unreadable, an internal error in a rule family, the time
    /// budget spent), and why. Makes the report incomplete.
    pub not_analysed: Vec<PathNote>,
    /// Templates (Helm charts, `{{ }}` that breaks YAML): not audited by the rules that read
    /// manifests, which never guess what they render to.
    pub templated: Vec<String>,
}

/// The facts of the files analysed, and the stats of the walk and of the files that were not.
pub fn collect(discovery: &Discovery, outcomes: Vec<Outcome>) -> (Vec<FileFacts>, FileStats) {
    let mut stats = FileStats {
        skipped_files: discovery.skipped_files.clone(),
        skipped_dirs: discovery.skipped_dirs.clone(),
        skipped: discovery.skipped.clone(),
        notes: discovery.notes.clone(),
        not_analysed: discovery.not_analysed.clone(),
        // A broken ignore rule leaves the file read only in part; the audit is still complete.
        not_parsed: discovery.ignore_file_errors.clone(),
        ..FileStats::default()
    };
    let mut files = Vec::with_capacity(outcomes.len());
    for outcome in outcomes {
        match outcome {
            Outcome::Analysed(facts) => files.push(*facts),
            Outcome::Skipped { reason, path, why } => {
                *stats.skipped_files.entry(reason).or_default() += 1;
                stats.skipped.push(PathNote::new(path, why));
            }
            Outcome::NotAnalysed { path, reason } => {
                stats.not_analysed.push(PathNote::new(path, reason));
            }
        }
    }
    (files, stats)
}

impl FileStats {
    /// Counts the files by role, and the files each of the configuration's `[roles]` entries set.
    pub fn count_roles(&mut self, files: &[FileFacts], overrides: &[RoleOverride]) {
        let compiled = Overrides::new(overrides);
        let mut used = vec![0; overrides.len()];
        for file in files {
            *self.by_role.entry(file.role).or_default() += 1;
            if let Some(set) = compiled.find(&file.path)
                && let Some(index) = overrides.iter().position(|o| std::ptr::eq(o, set))
            {
                used[index] += 1;
            }
        }
        self.role_overrides = overrides.iter().cloned().zip(used).collect();
    }

    /// Adds what the analysed files say of themselves, and the project checks that could not
    /// run; sorts every list.
    pub fn finish(&mut self, project_checks_not_run: Vec<String>, files: &[FileFacts]) {
        for reason in project_checks_not_run {
            self.not_analysed
                .push(PathNote::new("<project checks>", reason));
        }
        let charts = crate::facts::helm::charts(files);
        for chart in &charts {
            if let Some(reason) = &chart.not_audited {
                let why = format!("Helm chart `{}` not audited: {reason}", chart.name);
                self.notes.push(PathNote::new(chart.path, why));
            }
        }
        for facts in files {
            self.scanned += 1;
            self.lines += facts.lines;
            *self.by_kind.entry(facts.kind).or_default() += 1;
            if facts.yaml.as_ref().is_some_and(|y| y.deploy.templated) {
                if !crate::facts::helm::read_through_chart(&facts.path, &charts) {
                    self.templated.push(facts.path.clone());
                }
            } else if let Some(reason) = &facts.not_parsed {
                self.not_parsed
                    .push(PathNote::new(facts.path.clone(), reason.clone()));
            }
            for note in &facts.notes {
                self.notes
                    .push(PathNote::new(facts.path.clone(), note.clone()));
            }
            for reason in &facts.not_analysed {
                self.not_analysed
                    .push(PathNote::new(facts.path.clone(), reason.clone()));
            }
        }
        self.not_analysed.sort();
        self.not_parsed.sort();
        self.skipped.sort();
        self.notes.sort();
        self.templated.sort();
    }
}
