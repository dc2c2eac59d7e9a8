//! The changed-lines gate (`audit --changed-since REF`): in a pull request the question is not
//! "is this repository perfect" but "does this change make it worse".
//!
//! The working tree (committed and uncommitted work, untracked files included) is audited as
//! usual, and so is the merge base of HEAD and REF, exported from git's objects into a
//! temporary folder (the user's work tree and index are never touched). Then:
//!
//! - A finding in a file the change did not touch is never new.
//! - A finding on a line the change left alone, in a file it touched, is new when the merge
//!   base had no finding of its rule on that (whitespace-normalised) line of that file: the
//!   change altered the code around it (a loop whose sleep it removed is flagged at its
//!   unchanged `loop` keyword). Those lines keep their merge-base findings first, so that of
//!   identical findings the one on an added line is the new one.
//! - A finding on a line the change added or changed is new unless the merge base flagged the
//!   same line for the same rule, with the line above or below it the same (or blank on one
//!   side): in the same file, or in any file (code that only moved is not new). The neighbours
//!   keep a `loop {` fixed in one place from excusing a new one elsewhere.
//! - A project-level finding (no line) is new when the merge base had none of its rule for the
//!   same file (or for the project).
//! - A checklist item that fails now but passed, was waived or did not apply at the merge base
//!   is a change too, even when none of its findings is new (a dependency made a rule apply, a
//!   configuration allow went). One that was deselected is not: turning a check back on does
//!   not make the code worse.
//! - A baseline entry that the change itself added does not hide the finding it records: that
//!   finding counts as new, unless the merge base's baseline already recorded it (moved code).
//!
//! The gate judges only those; `fail_under` fails only when the score drops below the merge
//! base's as well. The checklist and the score are still those of the whole tree.

mod git;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::Serialize;
use similar::{Algorithm, DiffOp, capture_diff_slices};

use crate::baseline::{Baseline, Entry};
use crate::config::Config;
use crate::engine::{GateOutcome, Report};
use crate::finding::{Disposition, Finding};
use crate::registry::{Code, Severity};
use crate::score::{Level, Status, fails_item};
use crate::walk::discover;
use git::{Git, detail};

/// What `--changed-since` was asked to compare.
pub struct ChangeRequest<'a> {
    /// The audited folder (anywhere inside a git work tree).
    pub root: &'a Path,
    /// The revision the change is compared with (`origin/main`).
    pub reference: &'a str,
    /// `--config`, if given.
    pub config_file: Option<&'a Path>,
    /// `--baseline`, if given.
    pub baseline_file: Option<&'a Path>,
    pub threads: Option<usize>,
    /// The per-file facts cache. The working tree's audit reads and writes it; the merge base's
    /// audit (of a temporary export) only reads the working tree's cache file, whose entries
    /// hold the facts of every file the change did not touch, and writes nothing (its entries
    /// would only pile up under a folder that is gone after the audit).
    pub cache_dir: Option<&'a Path>,
}

/// What a change did, beside the findings it brought (those still `Disposition::Open`).
#[derive(Debug, Clone)]
pub struct Changes {
    /// REF as given.
    pub reference: String,
    /// The merge base of HEAD and REF (full commit id).
    pub merge_base: String,
    /// Audited files added, modified or deleted since the merge base.
    pub changed_files: usize,
    pub base_score: Option<f64>,
    pub base_level: Option<Level>,
    /// New findings that are reported (not suppressed).
    pub new_findings: usize,
    /// Reported findings that are not new: counted, not judged.
    pub not_judged: usize,
    /// Checklist items whose status differs from the merge base's.
    pub items: Vec<ItemChange>,
    /// Entries in the baseline file that its merge-base version did not have.
    pub baseline_added: Vec<AddedEntry>,
    /// What could not be compared as asked, and what was done instead.
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ItemChange {
    pub code: Code,
    pub name: String,
    pub base: Status,
    pub head: Status,
}

#[derive(Debug, Clone, Serialize)]
pub struct AddedEntry {
    #[serde(flatten)]
    pub entry: Entry,
    /// The finding it records was recorded in the merge base's baseline already (the code
    /// moved): the entry is honoured. Otherwise the finding it would hide counts as new.
    pub honoured: bool,
}

/// Where the repository is and what the change is compared with.
struct Repository {
    git: Git,
    toplevel: PathBuf,
    /// The audited folder relative to the top level: empty, or `/`-terminated.
    prefix: String,
    merge_base: String,
}

impl Repository {
    /// `path` relative to the top level, if it is inside the repository.
    fn relative(&self, path: &Path) -> Option<String> {
        let absolute = std::fs::canonicalize(path).ok()?;
        let relative = absolute.strip_prefix(&self.toplevel).ok()?;
        let parts: Vec<String> = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        Some(parts.join("/"))
    }

    /// Whether a file of the merge base is exported for its audit: the audited folder, and the
    /// ignore files of the folders above it, which the walk reads too.
    fn exported(&self, path: &str) -> bool {
        if path.starts_with(&self.prefix) {
            return true;
        }
        let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
        let dir = if dir.is_empty() {
            String::new()
        } else {
            format!("{dir}/")
        };
        matches!(name, ".gitignore" | ".ignore") && self.prefix.starts_with(&dir)
    }
}

fn locate(root: &Path, reference: &str) -> Result<Repository, String> {
    if reference.is_empty() || reference.starts_with('-') {
        return Err(format!(
            "--changed-since: `{reference}` is not a git revision"
        ));
    }
    let git = Git::new(root);
    let out = git.run(&["rev-parse", "--is-inside-work-tree"])?;
    if !out.ok || out.text() != "true" {
        return Err(format!(
            "--changed-since: {} is not inside a git work tree{}",
            root.display(),
            detail(&out)
        ));
    }
    let out = git.run(&["rev-parse", "--show-toplevel", "--show-prefix"])?;
    let text = String::from_utf8(out.stdout.clone())
        .map_err(|_| "--changed-since: the repository's path is not UTF-8".to_string())?;
    let mut lines = text.lines();
    let (Some(toplevel), prefix) = (lines.next().filter(|_| out.ok), lines.next()) else {
        return Err(format!(
            "--changed-since: cannot find the top of the repository{}",
            detail(&out)
        ));
    };
    let toplevel =
        std::fs::canonicalize(toplevel).map_err(|e| format!("--changed-since: {toplevel}: {e}"))?;
    let git = Git::new(&toplevel);
    let commit = |revision: &str| -> Result<Option<String>, String> {
        let out = git.run(&[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{revision}^{{commit}}"),
        ])?;
        Ok(out.ok.then(|| out.text()))
    };
    let Some(head) = commit("HEAD")? else {
        return Err("--changed-since: HEAD has no commit yet".to_string());
    };
    let shallow = git.run(&["rev-parse", "--is-shallow-repository"])?.text() == "true";
    let Some(other) = commit(reference)? else {
        return Err(format!(
            "--changed-since: `{reference}` is not a commit, branch or tag of this repository{}",
            if shallow || reference.contains('/') {
                " (fetch it first, e.g. `git fetch origin main`; in GitHub Actions, check out with `fetch-depth: 0`)"
            } else {
                ""
            }
        ));
    };
    let out = git.run(&["merge-base", &head, &other])?;
    if !out.ok || out.text().is_empty() {
        return Err(if shallow {
            format!(
                "--changed-since: the merge base of HEAD and `{reference}` is not in this shallow clone: fetch the history (`git fetch --unshallow`, or `fetch-depth: 0` in actions/checkout){}",
                detail(&out)
            )
        } else {
            format!(
                "--changed-since: HEAD and `{reference}` have no common history{}",
                detail(&out)
            )
        });
    }
    Ok(Repository {
        git,
        toplevel,
        prefix: prefix.unwrap_or("").to_string(),
        merge_base: out.text(),
    })
}

/// An audit of the working tree with what the change did: its findings marked
/// (`Disposition::PreExisting` for the open ones the merge base had), its gate the change's.
pub struct ChangeReport {
    pub report: Report,
    pub changes: Changes,
}

/// Audits the change: the working tree, marked and gated against its merge base with
/// `request.reference`. `head_config` is the effective configuration (command-line overrides
/// and baseline included); `base_config` loads the merge base's configuration, from a root and
/// an explicit file, with the same command-line overrides.
pub fn audit_change(
    request: &ChangeRequest<'_>,
    head_config: &Config,
    base_config: impl FnOnce(&Path, Option<&Path>) -> Result<Config, String>,
) -> Result<ChangeReport, String> {
    if !request.root.is_dir() {
        return Err(format!(
            "cannot audit {}: not a directory",
            request.root.display()
        ));
    }
    let repo = locate(request.root, request.reference)?;
    let scratch = tempfile::Builder::new()
        .prefix("prodready-merge-base-")
        .tempdir()
        .map_err(|e| format!("cannot make a temporary folder: {e}"))?;
    let merge_base = MergeBase::export(&repo, request, scratch.path())?;
    let (config, mut notes) = merge_base.config(request, head_config, base_config);
    let (head_config, ignored) = without_added_roles(head_config, &config);
    if ignored > 0 {
        notes.push(format!(
            "{ignored} [roles] entr{} added by this change ignored: a change cannot set the role of its own files",
            if ignored == 1 { "y" } else { "ies" }
        ));
    }
    let head_config = &head_config;
    let head = crate::engine::audit_cached(
        request.root,
        head_config,
        request.threads,
        request.cache_dir.map(|dir| crate::cache::CacheUse {
            dir,
            root: request.root,
            write: true,
        }),
    )?;
    let mut base = crate::engine::audit_cached(
        &merge_base.root,
        &config,
        request.threads,
        request.cache_dir.map(|dir| crate::cache::CacheUse {
            dir,
            root: request.root,
            write: false,
        }),
    )
    .map_err(|e| {
        format!(
            "cannot audit the merge base {}: {}",
            short(&repo.merge_base),
            merge_base.unscratch(e)
        )
    })?;
    if base.audited_nothing() {
        // A change that adds the project: nothing to compare with, every finding is new.
        base.findings.clear();
        base.scorecard.score = None;
        base.scorecard.level = None;
        base.scorecard.level_reason = None;
    }
    notes.extend(merge_base.notes);
    let files = FileChanges::between(request.root, head_config, &merge_base.root, &config);
    let compared = Compared {
        head_config,
        base_config: &config,
        base: &base,
        files: &files,
    };
    Ok(compared.judge(head, request.reference, &repo.merge_base, notes))
}

/// The working tree's configuration without the `[roles]` entries the merge base's does not
/// have, and how many it left out: as with baseline entries, a change cannot demote its own
/// findings by declaring their files CI or tooling.
fn without_added_roles(head: &Config, base: &Config) -> (Config, usize) {
    let mut config = head.clone();
    let known = |o: &crate::roles::RoleOverride| {
        base.roles
            .iter()
            .any(|b| b.role == o.role && b.glob == o.glob)
    };
    config.roles.retain(known);
    let ignored = head.roles.len() - config.roles.len();
    (config, ignored)
}

/// The merge base, exported from git's objects into a temporary folder.
struct MergeBase<'a> {
    /// The audited folder within the export.
    root: PathBuf,
    scratch: &'a Path,
    /// Every file path of the merge base's tree.
    tree: Vec<String>,
    /// `--config` and `--baseline` relative to the repository: `None` not given,
    /// `Some(None)` outside the repository, `Some(Some(path))` inside.
    config_path: Option<Option<String>>,
    baseline_path: Option<Option<String>>,
    /// What could not be compared as asked.
    notes: Vec<String>,
}

impl<'a> MergeBase<'a> {
    fn export(
        repo: &Repository,
        request: &ChangeRequest<'_>,
        scratch: &'a Path,
    ) -> Result<MergeBase<'a>, String> {
        let config_path = request.config_file.map(|f| repo.relative(f));
        let baseline_path = request.baseline_file.map(|f| repo.relative(f));
        let extra = |path: &str| {
            [&config_path, &baseline_path]
                .iter()
                .any(|p| matches!(p, Some(Some(q)) if q == path))
        };
        let tree = repo.git.tree(&repo.merge_base)?;
        let wanted: Vec<&git::TreeFile> = tree
            .files
            .iter()
            .filter(|f| repo.exported(&f.path) || extra(&f.path))
            .collect();
        repo.git.write_files(&wanted, scratch)?;
        let root = scratch.join(&repo.prefix);
        std::fs::create_dir_all(&root)
            .map_err(|e| format!("cannot write {}: {e}", root.display()))?;
        // A submodule's files are another repository's, never part of this change: the merge
        // base is audited with the ones checked out now.
        for submodule in tree
            .submodules
            .iter()
            .filter_map(|s| s.strip_prefix(&repo.prefix))
        {
            copy_tree(&request.root.join(submodule), &root.join(submodule))?;
        }
        Ok(MergeBase {
            root,
            scratch,
            tree: tree.files.into_iter().map(|f| f.path).collect(),
            config_path,
            baseline_path,
            notes: Vec::new(),
        })
    }

    fn has(&self, path: &str) -> bool {
        self.tree.iter().any(|f| f == path)
    }

    /// A message that names files of the merge base by their repository path, not the
    /// temporary one.
    fn unscratch(&self, message: String) -> String {
        let scratch = self.scratch.display().to_string();
        message
            .replace(&format!("{scratch}/"), "")
            .replace(&scratch, ".")
    }

    /// The merge base's configuration and baseline, with notes on what could not be read.
    fn config(
        &self,
        request: &ChangeRequest<'_>,
        head_config: &Config,
        base_config: impl FnOnce(&Path, Option<&Path>) -> Result<Config, String>,
    ) -> (Config, Vec<String>) {
        let mut notes = Vec::new();
        let config_file = match (request.config_file, &self.config_path) {
            (Some(file), Some(None)) => Some(file.to_path_buf()),
            (Some(_), Some(Some(path))) if self.has(path) => Some(self.scratch.join(path)),
            // Not given, or new in this change: the merge base had its default configuration.
            _ => None,
        };
        let mut config = match base_config(&self.root, config_file.as_deref()) {
            Ok(config) => config,
            Err(message) => {
                notes.push(format!(
                    "the merge base's configuration could not be read ({}); the merge base was audited with this change's configuration",
                    self.unscratch(message)
                ));
                head_config.clone()
            }
        };
        config.baseline = match &self.baseline_path {
            None => None,
            // Outside the repository: not part of the change.
            Some(None) => head_config.baseline.clone(),
            Some(Some(path)) if self.has(path) => match Baseline::load(&self.scratch.join(path)) {
                Ok(baseline) => Some(baseline),
                Err(message) => {
                    notes.push(format!(
                            "the merge base's baseline could not be read ({}); every entry counts as added by this change",
                            self.unscratch(message)
                        ));
                    Some(Baseline::default())
                }
            },
            Some(Some(_)) => Some(Baseline::default()),
        };
        (config, notes)
    }
}

/// The working tree's audit held against the merge base's.
struct Compared<'a> {
    head_config: &'a Config,
    base_config: &'a Config,
    base: &'a Report,
    files: &'a FileChanges,
}

impl Compared<'_> {
    /// Marks what the change brought, reviews the baseline it may have rewritten, and gates.
    fn judge(
        &self,
        mut head: Report,
        reference: &str,
        merge_base: &str,
        notes: Vec<String>,
    ) -> ChangeReport {
        let (mut new, matches) = new_findings(&head.findings, &self.base.findings, self.files);
        let baseline_added = review_baseline(
            &mut head,
            self.base,
            &matches,
            &mut new,
            self.head_config,
            self.base_config,
        );
        for (finding, new) in head.findings.iter_mut().zip(&new) {
            if !new && finding.disposition == Disposition::Open {
                finding.disposition = Disposition::PreExisting;
            }
        }
        let items = item_changes(&head, self.base);
        head.gate = gate(self.head_config, &head, self.base, &items);
        let count = |disposition: &[Disposition]| {
            head.findings
                .iter()
                .filter(|f| disposition.contains(&f.disposition))
                .count()
        };
        let changes = Changes {
            reference: reference.to_string(),
            merge_base: merge_base.to_string(),
            changed_files: self.files.changed.len(),
            base_score: self.base.scorecard.score,
            base_level: self.base.scorecard.level,
            new_findings: count(&[Disposition::Open]),
            not_judged: count(&[Disposition::PreExisting, Disposition::Baselined]),
            items,
            baseline_added,
            notes,
        };
        ChangeReport {
            report: head,
            changes,
        }
    }
}

/// Checklist items whose status differs from the merge base's.
fn item_changes(head: &Report, base: &Report) -> Vec<ItemChange> {
    head.scorecard
        .items
        .iter()
        .filter_map(|item| {
            let before = base
                .scorecard
                .items
                .iter()
                .find(|b| b.rule.code == item.rule.code)?;
            (before.status != item.status).then(|| ItemChange {
                code: item.rule.code,
                name: item.rule.name.clone(),
                base: before.status,
                head: item.status,
            })
        })
        .collect()
}

/// Copies the regular files of a folder (not in `.git/`, not symbolic links), if it exists.
fn copy_tree(from: &Path, to: &Path) -> Result<(), String> {
    let Ok(entries) = std::fs::read_dir(from) else {
        return Ok(());
    };
    let error =
        |e: std::io::Error| format!("cannot copy {} for the merge base: {e}", from.display());
    std::fs::create_dir_all(to).map_err(error)?;
    for entry in entries {
        let entry = entry.map_err(error)?;
        let kind = entry.file_type().map_err(error)?;
        if kind.is_dir() && entry.file_name() != ".git" {
            copy_tree(&entry.path(), &to.join(entry.file_name()))?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).map_err(error)?;
        }
    }
    Ok(())
}

/// A commit id as people read it.
pub fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileChange {
    Added,
    Modified,
    Deleted,
}

/// The audited files that differ between the working tree and the merge base.
struct FileChanges {
    changed: BTreeMap<String, FileChange>,
    head_root: PathBuf,
    base_root: PathBuf,
}

/// A file's text for comparison: line endings made `\n`, so that a checkout's line-ending
/// conversion is not a change.
fn normalised(path: &Path) -> Option<String> {
    let bytes = std::fs::read(path).ok()?;
    Some(String::from_utf8_lossy(&bytes).replace("\r\n", "\n"))
}

impl FileChanges {
    fn between(head_root: &Path, head: &Config, base_root: &Path, base: &Config) -> FileChanges {
        let list = |root: &Path, config: &Config| -> BTreeMap<String, PathBuf> {
            discover(root, &config.exclude, config.max_file_size, 0)
                .files
                .into_iter()
                .map(|c| (c.path, c.abs))
                .collect()
        };
        let now = list(head_root, head);
        let before = list(base_root, base);
        let mut changed = BTreeMap::new();
        for (path, abs) in &now {
            match before.get(path) {
                None => {
                    changed.insert(path.clone(), FileChange::Added);
                }
                Some(old) => {
                    let same = std::fs::read(abs).ok() == std::fs::read(old).ok()
                        || normalised(abs) == normalised(old);
                    if !same {
                        changed.insert(path.clone(), FileChange::Modified);
                    }
                }
            }
        }
        for path in before.keys().filter(|p| !now.contains_key(*p)) {
            changed.insert(path.clone(), FileChange::Deleted);
        }
        FileChanges {
            changed,
            head_root: head_root.to_path_buf(),
            base_root: base_root.to_path_buf(),
        }
    }

    /// The lines of a modified file that the change added or changed, and the places where it
    /// deleted lines (a deletion at `n` is between lines `n` and `n + 1`).
    fn lines(&self, path: &str) -> ChangedLines {
        let (Some(before), Some(now)) = (
            normalised(&self.base_root.join(path)),
            normalised(&self.head_root.join(path)),
        ) else {
            return ChangedLines::default();
        };
        let before: Vec<&str> = before.lines().collect();
        let now: Vec<&str> = now.lines().collect();
        let mut lines = ChangedLines::default();
        for op in capture_diff_slices(Algorithm::Patience, &before, &now) {
            match op {
                DiffOp::Equal { .. } => {}
                DiffOp::Delete { new_index, .. } => lines.deleted_after.push(new_index),
                DiffOp::Insert {
                    new_index, new_len, ..
                }
                | DiffOp::Replace {
                    new_index, new_len, ..
                } => lines.added.push((new_index + 1, new_index + new_len)),
            }
        }
        lines
    }
}

#[derive(Debug, Default, PartialEq)]
struct ChangedLines {
    /// 1-based inclusive line ranges.
    added: Vec<(usize, usize)>,
    deleted_after: Vec<usize>,
}

impl ChangedLines {
    fn touches(&self, first: usize, last: usize) -> bool {
        self.added.iter().any(|&(a, b)| a <= last && b >= first)
            || self.deleted_after.iter().any(|&n| first <= n && n < last)
    }
}

/// How a finding relates to the change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// On a line the change added or changed.
    Touched,
    /// In a file the change touched elsewhere.
    InChangedFile,
    /// In a file the change did not touch: never new.
    Unchanged,
    /// About the project or a whole file, not a line.
    Project,
}

/// What identifies a finding across the two audits, wherever its line moved.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key<'a> {
    Line { rule: Code, line: &'a str },
    Project { rule: Code, path: Option<&'a str> },
}

fn key(finding: &Finding) -> Key<'_> {
    match (&finding.line_key, &finding.span) {
        (Some(line), Some(_)) => Key::Line {
            rule: finding.rule.code,
            line,
        },
        // A finding about the whole project is the same wherever it is shown.
        _ => Key::Project {
            rule: finding.rule.code,
            path: finding.path.as_deref().filter(|_| !finding.anchored),
        },
    }
}

/// The lines just above and below a finding, whitespace-normalised (secrets masked); `None`
/// where there is none, or it is blank (a blank line tells nothing about where code came from).
#[derive(Debug, Default, PartialEq)]
struct Context {
    above: Option<String>,
    below: Option<String>,
}

impl Context {
    fn of(finding: &Finding) -> Context {
        let (Some(snippet), Some(span)) = (&finding.snippet, &finding.span) else {
            return Context::default();
        };
        let line = |number: usize| {
            let text = snippet
                .text
                .lines()
                .nth(number.checked_sub(snippet.first_line)?)?;
            let normal = text.split_whitespace().collect::<Vec<_>>().join(" ");
            (!normal.is_empty()).then_some(normal)
        };
        Context {
            above: span.start_line.checked_sub(1).and_then(line),
            below: line(span.end_line + 1),
        }
    }

    /// Whether two findings on the same line text sit in the same code: a neighbouring line
    /// agrees, or one of them has no neighbour to tell (a top-level item between blank lines).
    fn agrees(&self, other: &Context) -> bool {
        let same = |a: &Option<String>, b: &Option<String>| a.is_some() && a == b;
        same(&self.above, &other.above)
            || same(&self.below, &other.below)
            || *self == Context::default()
            || *other == Context::default()
    }
}

/// Which findings the change brought, and for each finding the merge-base finding it was
/// matched with.
fn new_findings(
    head: &[Finding],
    base: &[Finding],
    files: &FileChanges,
) -> (Vec<bool>, Vec<Option<usize>>) {
    let mut lines: HashMap<&str, ChangedLines> = HashMap::new();
    let places: Vec<Place> = head
        .iter()
        .map(|finding| {
            let (Some(path), Some(span)) = (finding.path.as_deref(), &finding.span) else {
                return Place::Project;
            };
            match files.changed.get(path) {
                None | Some(FileChange::Deleted) => Place::Unchanged,
                Some(FileChange::Added) => Place::Touched,
                Some(FileChange::Modified) => {
                    let changed = lines.entry(path).or_insert_with(|| files.lines(path));
                    if changed.touches(span.start_line, span.end_line) {
                        Place::Touched
                    } else {
                        Place::InChangedFile
                    }
                }
            }
        })
        .collect();
    let mut pool: HashMap<Key<'_>, Vec<usize>> = HashMap::new();
    for (index, finding) in base.iter().enumerate() {
        pool.entry(key(finding)).or_default().push(index);
    }
    let base_context: Vec<Context> = base.iter().map(Context::of).collect();
    let mut used = vec![false; base.len()];
    let mut matched: Vec<Option<usize>> = vec![None; head.len()];
    // A finding on a line the change did not touch keeps its own merge-base finding (same
    // file, same line). One on a line it added or changed is old only if the same line, with a
    // neighbouring line that agrees, was flagged at the merge base: in its file, else in any
    // file (code moved). The neighbours keep a fixed `loop {` from excusing a new one.
    for pass in [Place::Unchanged, Place::Touched] {
        for (index, finding) in head.iter().enumerate() {
            let place = places[index];
            if (pass == Place::Touched) != (place == Place::Touched) {
                continue;
            }
            let Some(candidates) = pool.get(&key(finding)) else {
                continue;
            };
            let same_path = |&b: &usize| base[b].path.as_deref() == finding.path.as_deref();
            let own_context = Context::of(finding);
            let same_context = |&b: &usize| base_context[b].agrees(&own_context);
            let free = || candidates.iter().copied().filter(|&b| !used[b]);
            let found = if place == Place::Touched {
                free()
                    .filter(same_context)
                    .find(same_path)
                    .or_else(|| free().find(same_context))
            } else {
                free().find(same_path)
            };
            if let Some(b) = found {
                used[b] = true;
                matched[index] = Some(b);
            }
        }
    }
    let new = (0..head.len())
        .map(|index| matched[index].is_none() && places[index] != Place::Unchanged)
        .collect();
    (new, matched)
}

/// What the baseline may hide in a change. A new finding is never baselined: the merge base
/// did not have it, so no entry can have recorded it before the change (an entry can still
/// match it by fingerprint when identical lines are renumbered). And an entry the change added
/// to the baseline file does not hide the finding it records, which counts as new, unless the
/// merge base's baseline recorded that finding already (moved code re-recorded). Returns the
/// added entries.
fn review_baseline(
    head: &mut Report,
    base: &Report,
    matches: &[Option<usize>],
    new: &mut [bool],
    head_config: &Config,
    base_config: &Config,
) -> Vec<AddedEntry> {
    let mut added: Vec<AddedEntry> = match (&head_config.baseline, &base_config.baseline) {
        (Some(now), Some(before)) => now
            .entries
            .difference(&before.entries)
            .map(|entry| AddedEntry {
                entry: entry.clone(),
                honoured: false,
            })
            .collect(),
        _ => Vec::new(),
    };
    for (index, finding) in head.findings.iter_mut().enumerate() {
        if finding.disposition != Disposition::Baselined {
            continue;
        }
        let entry = Entry::of(finding);
        let recorded_before =
            matches[index].is_some_and(|b| base.findings[b].disposition == Disposition::Baselined);
        let keep = match added.iter_mut().find(|a| a.entry == entry) {
            Some(added) => {
                added.honoured = recorded_before;
                recorded_before
            }
            None => !new[index],
        };
        if keep {
            continue;
        }
        finding.disposition = Disposition::Open;
        new[index] = true;
        if let Some(item) = head
            .scorecard
            .items
            .iter_mut()
            .find(|i| i.rule.code == finding.rule.code)
        {
            item.baselined = item.baselined.saturating_sub(1);
        }
        if let Some(outcome) = &mut head.baseline {
            outcome.matched = outcome.matched.saturating_sub(1);
        }
    }
    added
}

/// The gate of a change: its new findings, the items it made fail, and a score below both the
/// floor and the merge base's.
fn gate(config: &Config, head: &Report, base: &Report, items: &[ItemChange]) -> GateOutcome {
    let mut reasons = Vec::new();
    if let (Some(floor), Some(score)) = (config.gate.fail_under, head.scorecard.score) {
        match base.scorecard.score {
            Some(before) if score < before && score < floor => reasons.push(format!(
                "score {score} is below {floor} and below the merge base's {before}"
            )),
            None if score < floor => reasons.push(format!("score {score} is below {floor}")),
            _ => {}
        }
    }
    if let Some(floor) = config.gate.fail_on {
        let count = head
            .findings
            .iter()
            .filter(|f| f.disposition == Disposition::Open && fails_item(f) && f.severity >= floor)
            .count();
        if count > 0 {
            reasons.push(format!(
                "{count} new finding(s) at {floor} severity or above"
            ));
        }
        // Items the change made fail without a new finding to show for it.
        let worse: Vec<&str> = items
            .iter()
            // Turning a deselected check back on is no change for the worse.
            .filter(|change| {
                change.head == Status::Fail
                    && !matches!(change.base, Status::Fail | Status::Skipped)
            })
            .filter_map(|change| {
                let item = head
                    .scorecard
                    .items
                    .iter()
                    .find(|i| i.rule.code == change.code)?;
                let explained = head.findings.iter().any(|f| {
                    f.disposition == Disposition::Open
                        && f.rule.code == change.code
                        && fails_item(f)
                });
                (!explained && item.worst.is_some_and(|w: Severity| w >= floor))
                    .then_some(change.code.as_str())
            })
            .collect();
        if !worse.is_empty() {
            reasons.push(format!(
                "{} checklist item(s) fail that did not at the merge base: {}",
                worse.len(),
                worse.join(", ")
            ));
        }
    }
    GateOutcome {
        passed: reasons.is_empty(),
        reasons,
    }
}

/// The commit checked out at `dir` and its commit time, when `dir` is in a git checkout.
pub fn head_commit(dir: &Path) -> Option<crate::engine::Commit> {
    let output = git::Git::new(dir)
        .run(&["show", "--no-patch", "--format=%H %ct", "HEAD"])
        .ok()?;
    if !output.ok {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?;
    let (id, time) = text.trim().split_once(' ')?;
    Some(crate::engine::Commit {
        id: id.to_string(),
        time: time.parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diff(before: &str, now: &str) -> ChangedLines {
        let dir = tempfile::tempdir().unwrap();
        let (base, head) = (dir.path().join("base"), dir.path().join("head"));
        for (root, text) in [(&base, before), (&head, now)] {
            std::fs::create_dir_all(root).unwrap();
            std::fs::write(root.join("f.rs"), text).unwrap();
        }
        FileChanges {
            changed: BTreeMap::new(),
            head_root: head,
            base_root: base,
        }
        .lines("f.rs")
    }

    #[test]
    fn added_changed_and_deleted_lines_are_located() {
        let lines = diff("a\nb\nc\nd\n", "a\nB\nc\nnew\nd\n");
        assert_eq!(lines.added, vec![(2, 2), (4, 4)]);
        assert!(lines.deleted_after.is_empty());
        let lines = diff("a\nb\nc\n", "a\nc\n");
        assert_eq!(lines.added, Vec::<(usize, usize)>::new());
        assert_eq!(lines.deleted_after, vec![1]);
        // A deletion inside a span touches it; one at its edge does not.
        assert!(lines.touches(1, 2));
        assert!(!lines.touches(2, 2));
        // Line endings alone are no change.
        assert_eq!(diff("a\nb\n", "a\r\nb\r\n"), ChangedLines::default());
    }

    #[test]
    fn the_ignore_files_above_the_audited_folder_are_exported() {
        let repo = Repository {
            git: Git::new(Path::new(".")),
            toplevel: PathBuf::from("/r"),
            prefix: "svc/api/".to_string(),
            merge_base: String::new(),
        };
        for path in [
            "svc/api/src/main.rs",
            ".gitignore",
            "svc/.ignore",
            "svc/api/.gitignore",
        ] {
            assert!(repo.exported(path), "{path}");
        }
        for path in [
            "other/.gitignore",
            "svc/main.rs",
            "svc/apix/.gitignore",
            "README.md",
        ] {
            assert!(!repo.exported(path), "{path}");
        }
    }
}
