//! Output formats. Every format reads the same `Report` and the same registry.

pub mod badge;
pub mod github;
pub mod html;
pub mod human;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod rules;
pub mod sarif;

use crate::changes::Changes;
use crate::engine::Report;
use crate::finding::{Disposition, Finding, Span};
use crate::registry::{Severity, Subject};

/// The open findings, most severe first, then in report order. With `--changed-since`, only
/// those the change brought (the others are `PreExisting`).
pub fn open_by_severity(report: &Report) -> Vec<&Finding> {
    let mut open: Vec<&Finding> = report
        .findings
        .iter()
        .filter(|f| f.disposition == Disposition::Open)
        .collect();
    // A stable sort keeps the report's path/line order within a severity.
    open.sort_by_key(|f| std::cmp::Reverse(f.severity));
    open
}

/// Where a CI system should show a finding: a file relative to the repository, and the span
/// within it (`None`: the whole file, shown at line 1).
pub struct Anchor<'a> {
    pub path: String,
    pub span: Option<&'a Span>,
}

/// Points a finding at a file. A finding in a file stays there. A project-level finding about
/// something missing points at the file that makes its rule apply (the manifest that depends
/// on a server framework, for a missing runbook), else at the package manifest, else at the
/// audited folder itself. `base` is the audited folder relative to the repository ("" for the
/// repository root), so that paths are relative to where the CI system checked the code out.
pub fn anchor<'a>(report: &Report, finding: &'a Finding, base: &str) -> Anchor<'a> {
    let path = finding.path.clone().or_else(|| {
        [finding.rule.applies_when, Subject::CargoProject]
            .iter()
            .find_map(|subject| report.subjects.get(subject).and_then(|e| evidence_file(e)))
            .map(String::from)
    });
    Anchor {
        path: match path {
            Some(path) => join(base, &path),
            None if base.is_empty() => ".".to_string(),
            None => base.to_string(),
        },
        span: finding.span.as_ref(),
    }
}

/// The file named by a subject's evidence: the evidence itself when it is a path
/// (`Cargo.toml`), or the parenthesised path at its end (`depends on axum (Cargo.toml)`,
/// `uses axum::serve (src/main.rs:12)`).
fn evidence_file(evidence: &str) -> Option<&str> {
    let path = match evidence.strip_suffix(')') {
        Some(rest) => {
            let inner = &rest[rest.rfind('(')? + 1..];
            match inner.rsplit_once(':') {
                Some((path, line)) if line.chars().all(|c| c.is_ascii_digit()) => path,
                _ => inner,
            }
        }
        None => evidence,
    };
    (!path.is_empty() && !path.contains(' ') && !path.ends_with('/')).then_some(path)
}

fn join(base: &str, path: &str) -> String {
    if base.is_empty() {
        path.to_string()
    } else {
        format!("{base}/{path}")
    }
}

/// The audited folder relative to the repository, as `anchor` expects it: `root` as given on
/// the command line, made relative to `cwd` (where a CI job runs, the checkout) when it is
/// absolute, and `/`-separated without `.` components.
pub fn repository_base(root: &std::path::Path, cwd: &std::path::Path) -> String {
    use std::path::Component;
    let relative = root.strip_prefix(cwd).unwrap_or(root);
    let mut parts = Vec::new();
    for component in relative.components() {
        match component {
            Component::Normal(part) => parts.push(part.to_string_lossy().into_owned()),
            Component::CurDir => {}
            // Outside the working folder: paths stay relative to the audited folder.
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                return String::new();
            }
        }
    }
    parts.join("/")
}

/// The score as shown to people: one decimal, or `-` when no item applies.
pub fn score_text(score: Option<f64>) -> String {
    score.map_or_else(|| "-".to_string(), |s| format!("{s:.1}"))
}

/// The level as shown to people, or `-` when there is no score.
pub fn level_text(level: Option<crate::score::Level>) -> &'static str {
    level.map_or("-", crate::score::Level::as_str)
}

/// What the audit concluded about the project, which decides what applies: each line a
/// subject and its evidence, or `none found`.
pub fn profile(report: &Report) -> Vec<(&'static str, &str)> {
    [
        (Subject::Service, "service"),
        (Subject::Model, "model use"),
        (Subject::DeploymentManifests, "deployment manifests"),
        (Subject::TemplatedManifests, "templated manifests"),
        (Subject::AlertingRules, "alerting rules"),
        (Subject::Dashboard, "dashboards"),
        (Subject::Codeowners, "ownership"),
        (Subject::Runbook, "runbook"),
        (Subject::ChangeRecord, "change record"),
    ]
    .into_iter()
    .filter(|(subject, _)| {
        *subject != Subject::TemplatedManifests || report.subjects.contains_key(subject)
    })
    .map(|(subject, label)| {
        let evidence = report.subjects.get(&subject).map(String::as_str);
        (label, evidence.unwrap_or("none found"))
    })
    .collect()
}

/// What passed an item: the subject its rule asks for (`.github/CODEOWNERS`), or that the
/// rule found nothing in the production files. `None` unless the item passes.
pub fn evidence(report: &Report, item: &crate::score::Item) -> Option<String> {
    use crate::score::Status;
    if !matches!(item.status, Status::Pass | Status::Waived) {
        return None;
    }
    let satisfied = (item.rule.satisfied_by).and_then(|s| report.subjects.get(&s));
    Some(match satisfied {
        Some(evidence) => evidence.clone(),
        None => {
            let production = report.files.by_role.get(&crate::roles::Role::Production);
            format!(
                "no failing finding in {} production file(s)",
                production.unwrap_or(&0)
            )
        }
    })
}

/// Why an `n/a` item does not apply: what it needs, which the profile did not find.
pub fn not_applicable(item: &crate::score::Item) -> String {
    match &item.not_audited {
        Some(why) => why.clone(),
        None => format!(
            "applies when {}: not found",
            item.rule.applies_when.describe()
        ),
    }
}

/// The one-line headline every summary format leads with.
pub fn headline(report: &Report) -> String {
    let card = &report.scorecard;
    format!(
        "score {}/100{} · level {} · {} of {} applicable checks pass",
        score_text(card.score),
        if card.partial { " (partial)" } else { "" },
        level_text(card.level),
        card.count(crate::score::Status::Pass),
        card.applicable(),
    )
}

/// With `--changed-since`: `N new findings in this change (M findings elsewhere not judged) ·
/// score B → H since REF`.
pub fn change_headline(report: &Report, changes: Option<&Changes>) -> Option<String> {
    let changes = changes?;
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    Some(format!(
        "{} in this change ({} elsewhere not judged) · score {} → {} since {}",
        plural(changes.new_findings, "new finding"),
        plural(changes.not_judged, "finding"),
        score_text(changes.base_score),
        score_text(report.scorecard.score),
        changes.reference
    ))
}

/// How CI systems rank a severity: errors block, warnings ask for attention, notes inform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Note,
    Warning,
    Error,
}

impl Level {
    pub fn of(severity: Severity) -> Level {
        match severity {
            Severity::Critical | Severity::High => Level::Error,
            Severity::Medium => Level::Warning,
            Severity::Low => Level::Note,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_names_its_file() {
        assert_eq!(evidence_file("Cargo.toml"), Some("Cargo.toml"));
        assert_eq!(
            evidence_file("depends on axum (svc/Cargo.toml)"),
            Some("svc/Cargo.toml")
        );
        assert_eq!(
            evidence_file("uses axum::serve (src/main.rs:12)"),
            Some("src/main.rs")
        );
        assert_eq!(evidence_file(""), None);
        assert_eq!(evidence_file("runbooks/"), None);
    }

    #[test]
    fn the_base_is_relative_to_the_working_folder() {
        use std::path::Path;
        let cwd = Path::new("/work/repo");
        assert_eq!(repository_base(Path::new("."), cwd), "");
        assert_eq!(repository_base(Path::new("./svc/api/"), cwd), "svc/api");
        assert_eq!(repository_base(Path::new("/work/repo/svc"), cwd), "svc");
        assert_eq!(repository_base(Path::new("/elsewhere"), cwd), "");
        assert_eq!(repository_base(Path::new("../sibling"), cwd), "");
    }
}
