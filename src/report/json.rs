//! The JSON report, schema version 1 (documented in `docs/json-report.md`). Deterministic:
//! sorted, no timestamps, no absolute paths, identical across runs and thread counts.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::baseline::Entry;
use crate::engine::Report;
use crate::finding::{CodeKind, Disposition, Span, Suppression};
use crate::registry::{Category, Severity};
use crate::score::{CategoryScore, Level, Status};
use crate::walk::PathNote;

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Serialize)]
struct JsonReport<'a> {
    schema_version: u32,
    tool: Tool,
    /// With `--name` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    /// With `--name`, when the audited tree is a git checkout.
    #[serde(skip_serializing_if = "Option::is_none")]
    commit: Option<&'a crate::engine::Commit>,
    root: &'a str,
    score: Option<f64>,
    score_partial: bool,
    level: Option<Level>,
    level_reason: Option<&'a str>,
    summary: Summary,
    gate: Gate<'a>,
    subjects: BTreeMap<String, &'a str>,
    categories: &'a [CategoryScore],
    checklist: Vec<Item<'a>>,
    findings: Vec<Finding<'a>>,
    baseline: Option<Baseline<'a>>,
    /// With `--changed-since` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    changes: Option<Changes<'a>>,
    files: Files<'a>,
}

#[derive(Serialize)]
struct Changes<'a> {
    since: &'a str,
    merge_base: &'a str,
    changed_files: usize,
    base_score: Option<f64>,
    base_level: Option<Level>,
    new_findings: usize,
    findings_not_judged: usize,
    items: &'a [crate::changes::ItemChange],
    baseline_added: &'a [crate::changes::AddedEntry],
    notes: &'a [String],
}

#[derive(Serialize)]
struct Baseline<'a> {
    entries: usize,
    matched: usize,
    fixed: &'a [Entry],
}

#[derive(Serialize)]
struct Tool {
    name: &'static str,
    version: &'static str,
}

#[derive(Serialize)]
struct Summary {
    applicable: usize,
    total: usize,
    passed: usize,
    waived: usize,
    failed: usize,
    not_applicable: usize,
    skipped: usize,
    findings: usize,
    failing_findings: usize,
    suppressed_findings: usize,
    baselined_findings: usize,
}

#[derive(Serialize)]
struct Gate<'a> {
    passed: bool,
    reasons: &'a [String],
    incomplete: bool,
}

#[derive(Serialize)]
struct Item<'a> {
    code: &'a str,
    name: &'a str,
    category: Category,
    severity: Severity,
    weight: f64,
    /// What the item costs the score: 0 unless it fails (see `Item::weight_lost`).
    weight_lost: f64,
    status: Status,
    applies_when: &'a str,
    failing_findings: usize,
    other_findings: usize,
    suppressed_findings: usize,
    baselined_findings: usize,
    /// For an `n/a` item: why, when its manifests exist only as templates.
    #[serde(skip_serializing_if = "Option::is_none")]
    not_audited: Option<&'a str>,
    /// For a passing item: what passed it (`super::evidence`).
    #[serde(skip_serializing_if = "Option::is_none")]
    evidence: Option<String>,
}

#[derive(Serialize)]
struct Finding<'a> {
    code: &'a str,
    name: &'a str,
    severity: Severity,
    path: Option<&'a str>,
    #[serde(flatten)]
    span: Option<&'a Span>,
    message: &'a str,
    fix: &'a str,
    code_kind: CodeKind,
    /// What the finding's file is to the project (`roles::Role`).
    role: crate::roles::Role,
    fails_item: bool,
    /// The reason of the allow that suppresses the finding (as in `suppression`).
    suppressed: Option<&'a str>,
    suppression: Option<&'a Suppression>,
    baselined: bool,
    fingerprint: &'a str,
    /// With `--changed-since` only: brought by the change, and judged by the gate.
    #[serde(skip_serializing_if = "Option::is_none")]
    new: Option<bool>,
}

#[derive(Serialize)]
struct Files<'a> {
    scanned: usize,
    lines: usize,
    by_kind: BTreeMap<String, usize>,
    by_role: BTreeMap<String, usize>,
    /// The configuration's `[roles]` entries, each with the files it set.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    role_overrides: Vec<RoleOverride<'a>>,
    skipped_files: BTreeMap<String, usize>,
    skipped_folders: BTreeMap<String, usize>,
    /// Files not read, each with why (binary, too large, symbolic links, special files); left
    /// out when there are none.
    #[serde(skip_serializing_if = "<[PathNote]>::is_empty")]
    skipped: &'a [PathNote],
    /// Files analysed, with something worth saying (invalid UTF-8, a byte-order mark, ...);
    /// left out when there are none.
    #[serde(skip_serializing_if = "<[PathNote]>::is_empty")]
    notes: &'a [PathNote],
    not_parsed: &'a [PathNote],
    not_analysed: &'a [PathNote],
    /// Templates that manifest rules did not audit; left out when there are none.
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    templated: &'a [String],
}

#[derive(Serialize)]
struct RoleOverride<'a> {
    glob: &'a str,
    role: crate::roles::Role,
    reason: &'a str,
    files: usize,
}

fn key<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

pub fn render(report: &Report, changes: Option<&crate::changes::Changes>) -> String {
    let card = &report.scorecard;
    let json = JsonReport {
        schema_version: SCHEMA_VERSION,
        tool: Tool {
            name: "prodready",
            version: env!("CARGO_PKG_VERSION"),
        },
        name: report.identity.as_ref().map(|i| i.name.as_str()),
        commit: report.identity.as_ref().and_then(|i| i.commit.as_ref()),
        root: &report.root,
        score: card.score,
        score_partial: card.partial,
        level: card.level,
        level_reason: card.level_reason.as_deref(),
        summary: Summary::of(report),
        gate: Gate {
            passed: report.gate.passed,
            reasons: &report.gate.reasons,
            incomplete: report.incomplete(),
        },
        subjects: report
            .subjects
            .iter()
            .map(|(subject, evidence)| (key(subject), evidence.as_str()))
            .collect(),
        categories: &card.categories,
        checklist: card.items.iter().map(|i| Item::of(report, i)).collect(),
        findings: report
            .findings
            .iter()
            .map(|f| Finding::of(f, changes.is_some()))
            .collect(),
        baseline: report.baseline.as_ref().map(|b| Baseline {
            entries: b.entries,
            matched: b.matched,
            fixed: &b.fixed,
        }),
        changes: changes.map(Changes::of),
        files: Files::of(&report.files),
    };
    let mut text = serde_json::to_string_pretty(&json).expect("the report serialises");
    text.push('\n');
    text
}

impl Summary {
    fn of(report: &Report) -> Summary {
        let card = &report.scorecard;
        let findings = &report.findings;
        let count =
            |keep: fn(&&crate::finding::Finding) -> bool| findings.iter().filter(keep).count();
        Summary {
            applicable: card.applicable(),
            total: card.items.len(),
            passed: card.passing(),
            waived: card.count(Status::Waived),
            failed: card.count(Status::Fail),
            not_applicable: card.count(Status::NotApplicable),
            skipped: card.count(Status::Skipped),
            findings: findings.len(),
            failing_findings: count(|f| crate::score::fails_item(f)),
            suppressed_findings: count(|f| f.suppression().is_some()),
            baselined_findings: count(|f| f.disposition == Disposition::Baselined),
        }
    }
}

impl<'a> Item<'a> {
    fn of(report: &Report, item: &'a crate::score::Item) -> Item<'a> {
        Item {
            code: item.rule.code.as_str(),
            name: &item.rule.name,
            category: item.rule.category,
            severity: item.severity,
            weight: item.weight(),
            weight_lost: item.weight_lost(),
            status: item.status,
            applies_when: item.rule.applies_when.describe(),
            failing_findings: item.failing,
            other_findings: item.informational,
            suppressed_findings: item.suppressed,
            baselined_findings: item.baselined,
            not_audited: item.not_audited.as_deref(),
            evidence: super::evidence(report, item),
        }
    }
}

impl<'a> Finding<'a> {
    /// `changed`: the audit is of a change (`--changed-since`), and says which findings are new.
    fn of(f: &'a crate::finding::Finding, changed: bool) -> Finding<'a> {
        Finding {
            code: f.rule.code.as_str(),
            name: &f.rule.name,
            severity: f.severity,
            path: f.path.as_deref(),
            span: f.span.as_ref(),
            message: &f.message,
            fix: f.fix_text(),
            code_kind: f.code_kind,
            role: f.role,
            fails_item: crate::score::fails_item(f),
            suppressed: f.suppression().map(|s| s.reason.as_str()),
            suppression: f.suppression(),
            baselined: f.disposition == Disposition::Baselined,
            fingerprint: &f.fingerprint,
            new: changed.then(|| f.disposition == Disposition::Open),
        }
    }
}

impl<'a> Changes<'a> {
    fn of(c: &'a crate::changes::Changes) -> Changes<'a> {
        Changes {
            since: &c.reference,
            merge_base: &c.merge_base,
            changed_files: c.changed_files,
            base_score: c.base_score,
            base_level: c.base_level,
            new_findings: c.new_findings,
            findings_not_judged: c.not_judged,
            items: &c.items,
            baseline_added: &c.baseline_added,
            notes: &c.notes,
        }
    }
}

impl<'a> Files<'a> {
    fn of(files: &'a crate::engine::FileStats) -> Files<'a> {
        Files {
            scanned: files.scanned,
            lines: files.lines,
            by_kind: counts(&files.by_kind),
            by_role: counts(&files.by_role),
            role_overrides: files
                .role_overrides
                .iter()
                .map(|(o, files)| RoleOverride {
                    glob: &o.glob,
                    role: o.role,
                    reason: &o.reason,
                    files: *files,
                })
                .collect(),
            skipped_files: counts(&files.skipped_files),
            skipped_folders: counts(&files.skipped_dirs),
            skipped: &files.skipped,
            notes: &files.notes,
            not_parsed: &files.not_parsed,
            not_analysed: &files.not_analysed,
            templated: &files.templated,
        }
    }
}

/// Counts by a key, the key as the report spells it.
fn counts<K: Serialize>(counts: &BTreeMap<K, usize>) -> BTreeMap<String, usize> {
    counts.iter().map(|(k, n)| (key(k), *n)).collect()
}
