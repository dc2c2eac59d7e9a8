//! `prodready fleet merge`: many repositories' JSON reports, audited elsewhere (CI runners),
//! merged into one picture: a row per repository, the level distribution, how many
//! repositories fail each rule, the worst per category and, with a history file, what changed
//! since the previous merge.
//!
//! Reports are read in parallel and each is reduced to a `Repository` as it is read (a
//! report's findings are never kept), so memory grows with the number of repositories, not
//! with their findings.

pub mod render;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::registry::Severity;
use crate::score::Level;

/// The JSON report versions this build reads.
pub const READS_SCHEMA_VERSIONS: [u32; 1] = [1];

/// One repository, as its report describes it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Repository {
    pub name: String,
    pub commit: Option<String>,
    /// The commit's time (seconds since the epoch), when the audited tree was a checkout.
    pub commit_time: Option<i64>,
    pub version: String,
    pub score: Option<f64>,
    pub level: Option<String>,
    /// Category title → score (`None`: nothing applies).
    pub categories: BTreeMap<String, Option<f64>>,
    /// Failing rule code → the severity of its worst failing finding.
    pub failing: BTreeMap<String, Severity>,
    /// The report file it came from.
    #[serde(skip)]
    pub source: String,
}

/// A report that could not be merged, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Unreadable {
    pub path: String,
    pub reason: String,
}

/// Everything a merge found, before it is rendered.
#[derive(Debug, Serialize)]
pub struct Merge {
    /// By name.
    pub repositories: Vec<Repository>,
    pub unreadable: Vec<Unreadable>,
    /// What the merge decided on its own: repeated names.
    pub notes: Vec<String>,
    /// With `--history`: the changes since the previous merge.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trends: Option<Trends>,
}

/// What changed since the previous merge in the history file.
#[derive(Debug, Serialize, Default)]
pub struct Trends {
    /// The previous merge's `as_of` (the latest commit time it saw), if there was one.
    pub since: Option<i64>,
    /// The previous merge ran another prodready version: scores may differ by the tool, not
    /// by the code, and no change is called a regression.
    pub version_changed: Option<(String, String)>,
    /// Name → (previous score, score), for repositories in both merges whose score changed.
    pub score_changes: BTreeMap<String, (Option<f64>, Option<f64>)>,
    /// Name → rules failing now that did not fail before.
    pub newly_failing: BTreeMap<String, Vec<String>>,
    /// Name → (previous level, level), for levels that dropped.
    pub level_drops: BTreeMap<String, (String, String)>,
    /// Repositories new in this merge.
    pub added: Vec<String>,
    /// Repositories of the previous merge missing from this one.
    pub missing: Vec<String>,
}

/// One line of the history file (JSON Lines): a merge's repositories, compactly.
#[derive(Debug, Serialize, Deserialize)]
pub struct HistoryRow {
    pub prodready_version: String,
    /// The latest commit time among the merged reports: a merge is dated by what it merged,
    /// never by the clock, so that the same reports give the same row.
    pub as_of: Option<i64>,
    pub repositories: BTreeMap<String, HistoryEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub score: Option<f64>,
    pub level: Option<String>,
    pub failing: Vec<String>,
}

/// The report files named by `inputs`: files as given, folders searched for `*.json`, each
/// folder's files in name order.
pub fn report_files(inputs: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let mut found: Vec<PathBuf> = ignore::WalkBuilder::new(input)
                .standard_filters(false)
                .build()
                .filter_map(Result::ok)
                .map(|e| e.into_path())
                .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "json"))
                .collect();
            found.sort();
            files.extend(found);
        } else if input.exists() {
            files.push(input.clone());
        } else {
            return Err(format!("{}: no such file or directory", input.display()));
        }
    }
    Ok(files)
}

/// Reads every report (in parallel) and keeps one per name: the later commit, else the one
/// given later.
pub fn merge(files: &[PathBuf]) -> Merge {
    let read: Vec<Result<Repository, Unreadable>> = files.par_iter().map(|p| read(p)).collect();
    let mut unreadable = Vec::new();
    let mut notes = Vec::new();
    let mut by_name: BTreeMap<String, Repository> = BTreeMap::new();
    for result in read {
        let repository = match result {
            Ok(repository) => repository,
            Err(e) => {
                unreadable.push(e);
                continue;
            }
        };
        let Some(kept) = by_name.get(&repository.name) else {
            by_name.insert(repository.name.clone(), repository);
            continue;
        };
        let later =
            repository.commit_time.unwrap_or(i64::MIN) >= kept.commit_time.unwrap_or(i64::MIN);
        let (winner, loser) = if later {
            (repository, kept.clone())
        } else {
            (kept.clone(), repository)
        };
        notes.push(format!(
            "`{}` is in {} and {}: kept {} ({})",
            winner.name,
            loser.source,
            winner.source,
            winner.source,
            if winner.commit_time == loser.commit_time {
                "the same commit time: the later input".to_string()
            } else {
                "the later commit".to_string()
            }
        ));
        by_name.insert(winner.name.clone(), winner);
    }
    Merge {
        repositories: by_name.into_values().collect(),
        unreadable,
        notes,
        trends: None,
    }
}

/// The parts of a JSON report a merge reads; the rest is skipped unread.
#[derive(Deserialize)]
struct ReportHead {
    schema_version: Option<u32>,
    tool: Option<ToolHead>,
    name: Option<String>,
    commit: Option<CommitHead>,
    score: Option<f64>,
    level: Option<String>,
    #[serde(default)]
    categories: Vec<CategoryHead>,
    #[serde(default)]
    findings: Vec<FindingHead>,
}

#[derive(Deserialize)]
struct ToolHead {
    name: String,
    version: String,
}

#[derive(Deserialize)]
struct CommitHead {
    id: String,
    time: i64,
}

#[derive(Deserialize)]
struct CategoryHead {
    title: String,
    score: Option<f64>,
}

#[derive(Deserialize)]
struct FindingHead {
    code: String,
    severity: Severity,
    #[serde(default)]
    fails_item: bool,
}

/// One report, reduced to its repository's row.
fn read(path: &Path) -> Result<Repository, Unreadable> {
    let unreadable = |reason: String| Unreadable {
        path: path.display().to_string(),
        reason,
    };
    let file = std::fs::File::open(path).map_err(|e| unreadable(format!("cannot read: {e}")))?;
    let head: ReportHead = serde_json::from_reader(std::io::BufReader::new(file))
        .map_err(|e| unreadable(format!("not a prodready JSON report: {e}")))?;
    let tool = head.tool.filter(|t| t.name == "prodready").ok_or_else(|| {
        unreadable("not a prodready report (no `tool.name` \"prodready\")".into())
    })?;
    let version = head.schema_version.unwrap_or(0);
    if !READS_SCHEMA_VERSIONS.contains(&version) {
        return Err(unreadable(format!(
            "schema_version {version}: this build reads {READS_SCHEMA_VERSIONS:?}"
        )));
    }
    let name = head
        .name
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| unreadable("no name: audit with `--name NAME`".into()))?;
    let mut failing: BTreeMap<String, Severity> = BTreeMap::new();
    for finding in head.findings.into_iter().filter(|f| f.fails_item) {
        let worst = failing.entry(finding.code).or_insert(finding.severity);
        *worst = (*worst).max(finding.severity);
    }
    Ok(Repository {
        name,
        commit: head.commit.as_ref().map(|c| c.id.clone()),
        commit_time: head.commit.map(|c| c.time),
        version: tool.version,
        score: head.score,
        level: head.level,
        categories: head
            .categories
            .into_iter()
            .map(|c| (c.title, c.score))
            .collect(),
        failing,
        source: path.display().to_string(),
    })
}

/// A level as a report spells it, lowest first (`pilot` is 1); 0 for none or an unknown one.
pub fn level_rank(level: Option<&str>) -> usize {
    (Level::ALL.iter())
        .position(|l| level == Some(l.as_str()))
        .map_or(0, |i| i + 1)
}

impl Merge {
    /// The row this merge adds to the history file.
    pub fn history_row(&self) -> HistoryRow {
        HistoryRow {
            prodready_version: self.version(),
            as_of: self.repositories.iter().filter_map(|r| r.commit_time).max(),
            repositories: (self.repositories.iter())
                .map(|r| {
                    let entry = HistoryEntry {
                        score: r.score,
                        level: r.level.clone(),
                        failing: r.failing.keys().cloned().collect(),
                    };
                    (r.name.clone(), entry)
                })
                .collect(),
        }
    }

    /// The prodready version of the merged reports (the newest, when they differ).
    pub fn version(&self) -> String {
        let versions: BTreeSet<&str> = self
            .repositories
            .iter()
            .map(|r| r.version.as_str())
            .collect();
        versions
            .into_iter()
            .max_by(|a, b| compare_versions(a, b))
            .unwrap_or(env!("CARGO_PKG_VERSION"))
            .to_string()
    }

    /// Compares this merge with the previous row of a history file.
    pub fn trends_since(&self, previous: Option<&HistoryRow>) -> Trends {
        let Some(previous) = previous else {
            return Trends {
                added: self.repositories.iter().map(|r| r.name.clone()).collect(),
                ..Trends::default()
            };
        };
        let version = self.version();
        let mut trends = Trends {
            since: previous.as_of,
            version_changed: (previous.prodready_version != version)
                .then(|| (previous.prodready_version.clone(), version)),
            ..Trends::default()
        };
        for repository in &self.repositories {
            let Some(before) = previous.repositories.get(&repository.name) else {
                trends.added.push(repository.name.clone());
                continue;
            };
            if before.score != repository.score {
                let change = (before.score, repository.score);
                trends.score_changes.insert(repository.name.clone(), change);
            }
            if trends.version_changed.is_some() {
                continue;
            }
            let new: Vec<String> = (repository.failing.keys())
                .filter(|code| !before.failing.contains(code))
                .cloned()
                .collect();
            if !new.is_empty() {
                trends.newly_failing.insert(repository.name.clone(), new);
            }
            if level_rank(repository.level.as_deref()) < level_rank(before.level.as_deref()) {
                let drop = (
                    before.level.clone().unwrap_or_else(|| "-".into()),
                    repository.level.clone().unwrap_or_else(|| "-".into()),
                );
                trends.level_drops.insert(repository.name.clone(), drop);
            }
        }
        let names: BTreeSet<&str> = self.repositories.iter().map(|r| r.name.as_str()).collect();
        trends.missing = (previous.repositories.keys())
            .filter(|n| !names.contains(n.as_str()))
            .cloned()
            .collect();
        trends
    }
}

/// `0.10.0` after `0.9.1`: dotted numbers compared as numbers, anything else as text.
fn compare_versions(a: &str, b: &str) -> std::cmp::Ordering {
    match (semver::Version::parse(a), semver::Version::parse(b)) {
        (Ok(a), Ok(b)) => a.cmp(&b),
        _ => a.cmp(b),
    }
}

/// The last row of a history file; `None` for a file that does not exist or is empty. A line
/// that is not a row (a write cut short) is an error naming the file and the line.
pub fn last_history_row(path: &Path) -> Result<Option<HistoryRow>, String> {
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let mut last = None;
    for (index, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let row: HistoryRow = serde_json::from_str(&line)
            .map_err(|e| format!("{}:{}: not a history row: {e}", path.display(), index + 1))?;
        last = Some(row);
    }
    Ok(last)
}

/// Appends a row to the history file (created when missing).
pub fn append_history(path: &Path, row: &HistoryRow) -> Result<(), String> {
    let mut line = serde_json::to_string(row).expect("a history row serialises");
    line.push('\n');
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(line.as_bytes()))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}
