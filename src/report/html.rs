//! One self-contained HTML page: the score and level, a bar per category, the project profile,
//! the checklist, what would raise the score most, and a findings browser.
//!
//! The page makes no request: its style and script are inlined from `html/report.css` and
//! `html/report.js`, and its Content-Security-Policy (`default-src 'none'`) allows only those
//! two, by hash. Everything it prints goes through the template engine's HTML escaping. Without
//! JavaScript every finding is listed; with it, the filters hide what does not match.

use serde::Serialize;

use crate::changes::Changes;
use crate::engine::Report;
use crate::finding::{Disposition, Finding, Snippet};
use crate::registry::{Code, Severity};
use crate::report::{evidence, level_text, not_applicable, profile, score_text};
use crate::score::Status;

const TEMPLATE: &str = include_str!("html/report.html");
/// The report's style, which `fleet merge`'s page shares.
pub(crate) const STYLE: &str = include_str!("html/report.css");
const SCRIPT: &str = include_str!("html/report.js");

#[derive(Serialize)]
struct Page<'a> {
    root: &'a str,
    version: &'static str,
    csp: String,
    style: &'static str,
    script: &'static str,
    score: String,
    /// The score as a whole number for the gauge (0 without a score).
    score_value: f64,
    partial: bool,
    level: &'static str,
    level_reason: &'a str,
    gate_passed: bool,
    gate_reasons: &'a [String],
    change: Option<ChangeView<'a>>,
    categories: Vec<CategoryView>,
    profile: Vec<(&'static str, &'a str)>,
    checklist: Vec<ItemView>,
    improvements: Vec<Improvement>,
    findings: Vec<FindingView<'a>>,
    facets: Facets,
    rules: Vec<RuleView>,
    files: FilesView,
}

#[derive(Serialize)]
struct ChangeView<'a> {
    since: &'a str,
    base_score: String,
    base_level: &'static str,
    new_findings: usize,
    not_judged: usize,
}

#[derive(Serialize)]
struct CategoryView {
    title: &'static str,
    score: String,
    /// The bar's value; `None` when no item of the category applies (no bar).
    value: Option<f64>,
    passed: usize,
    applicable: usize,
    failed: usize,
}

#[derive(Serialize)]
struct ItemView {
    category: &'static str,
    code: &'static str,
    name: &'static str,
    severity: &'static str,
    /// `pass`, `fail`, `waived`, `n-a`, `skipped`: the row's class.
    status: &'static str,
    /// What a reader sees, icon and word, so that status never rests on colour alone.
    mark: &'static str,
    weight_lost: String,
    failing: usize,
    detail: String,
}

#[derive(Serialize)]
struct Improvement {
    code: &'static str,
    name: &'static str,
    gain: String,
    fix: &'static str,
}

#[derive(Serialize)]
struct FindingView<'a> {
    code: &'static str,
    /// The category's code prefix (`RES`), as the filter names it.
    category: &'static str,
    severity: &'static str,
    role: &'static str,
    path: &'a str,
    place: String,
    message: &'a str,
    fix: &'a str,
    fails: bool,
    /// `new` (with `--changed-since`), `suppressed`, `baselined`, or empty.
    state: &'static str,
    note: String,
    lines: Vec<LineView>,
}

#[derive(Serialize)]
struct LineView {
    /// The line's number, right-aligned, after `▶` when the finding's span covers the line.
    gutter: String,
    text: String,
    marked: bool,
}

#[derive(Serialize, Default)]
struct Facets {
    categories: Vec<(&'static str, &'static str)>,
    severities: Vec<&'static str>,
    rules: Vec<(&'static str, &'static str)>,
    roles: Vec<&'static str>,
}

#[derive(Serialize)]
struct RuleView {
    code: &'static str,
    name: &'static str,
    text: String,
}

#[derive(Serialize)]
struct FilesView {
    scanned: usize,
    lines: usize,
    by_role: Vec<(&'static str, usize)>,
    skipped: usize,
    not_analysed: usize,
}

pub fn render(report: &Report, changes: Option<&Changes>) -> String {
    let card = &report.scorecard;
    let findings = findings(report, changes.is_some());
    let page = Page {
        root: &report.root,
        version: env!("CARGO_PKG_VERSION"),
        csp: policy(STYLE, Some(SCRIPT)),
        style: STYLE,
        script: SCRIPT,
        score: score_text(card.score),
        score_value: card.score.unwrap_or(0.0),
        partial: card.partial,
        level: level_text(card.level),
        level_reason: card
            .level_reason
            .as_deref()
            .unwrap_or("No level: no check applies"),
        gate_passed: report.gate.passed,
        gate_reasons: &report.gate.reasons,
        change: changes.map(|c| ChangeView {
            since: &c.reference,
            base_score: score_text(c.base_score),
            base_level: level_text(c.base_level),
            new_findings: c.new_findings,
            not_judged: c.not_judged,
        }),
        categories: card
            .categories
            .iter()
            .filter(|c| c.total > 0)
            .map(|c| CategoryView {
                title: c.title,
                score: score_text(c.score),
                value: c.score,
                passed: c.passed,
                applicable: c.applicable,
                failed: c.failed,
            })
            .collect(),
        profile: profile(report),
        checklist: card.items.iter().map(|i| item_view(report, i)).collect(),
        improvements: card
            .top_improvements(3)
            .into_iter()
            .map(|(item, gain)| Improvement {
                code: item.rule.code.as_str(),
                name: &item.rule.name,
                gain: format!("{gain:.1}"),
                fix: &item.rule.fix,
            })
            .collect(),
        facets: facets(&report.findings),
        rules: rules(report),
        files: FilesView {
            scanned: report.files.scanned,
            lines: report.files.lines,
            by_role: (report.files.by_role.iter())
                .map(|(role, n)| (role.as_str(), *n))
                .collect(),
            skipped: report.files.skipped.len(),
            not_analysed: report.files.not_analysed.len(),
        },
        findings,
    };
    let mut env = minijinja::Environment::new();
    env.add_template("report.html", TEMPLATE)
        .expect("the report template parses");
    let template = env.get_template("report.html").expect("it was just added");
    let mut page = template
        .render(minijinja::value::Serde(&page))
        .expect("the report template renders");
    page.push('\n');
    page
}

/// A policy that allows nothing but the page's inline `style` and `script` (by SHA-256).
pub(crate) fn policy(style: &str, script: Option<&str>) -> String {
    use base64::Engine;
    use sha2::Digest;
    let hash = |text: &str| {
        let digest = sha2::Sha256::digest(text);
        format!(
            "'sha256-{}'",
            base64::engine::general_purpose::STANDARD.encode(digest)
        )
    };
    let script = script.map_or_else(|| "'none'".to_string(), hash);
    format!(
        "default-src 'none'; style-src {}; script-src {script}; base-uri 'none'; form-action 'none'",
        hash(style)
    )
}
fn item_view(report: &Report, item: &crate::score::Item) -> ItemView {
    let (status, mark) = match item.status {
        Status::Pass => ("pass", "✔ pass"),
        Status::Waived => ("waived", "✔ waived"),
        Status::Fail => ("fail", "✘ fail"),
        Status::NotApplicable => ("n-a", "– n/a"),
        Status::Skipped => ("skipped", "⏭ skipped"),
    };
    let detail = match item.status {
        Status::NotApplicable => not_applicable(item),
        Status::Fail => {
            let mut text = format!("{} failing finding(s)", item.failing);
            if item.informational > 0 {
                text.push_str(&format!(", {} more that fail nothing", item.informational));
            }
            text
        }
        Status::Skipped => "deselected".to_string(),
        Status::Pass | Status::Waived => evidence(report, item).unwrap_or_default(),
    };
    ItemView {
        category: item.rule.category.title(),
        code: item.rule.code.as_str(),
        name: &item.rule.name,
        severity: item.severity.as_str(),
        status,
        mark,
        weight_lost: format!("{:.1}", item.weight_lost()),
        failing: item.failing,
        detail,
    }
}

/// Every finding, those that fail an item first (with `--changed-since`, new ones before
/// them), most severe first, then in report order.
fn findings<'a>(report: &'a Report, changed: bool) -> Vec<FindingView<'a>> {
    let mut findings: Vec<&Finding> = report.findings.iter().collect();
    findings.sort_by_key(|f| {
        let new = changed && f.disposition == Disposition::Open;
        (
            !new,
            !crate::score::fails_item(f),
            std::cmp::Reverse(f.severity),
        )
    });
    findings
        .into_iter()
        .map(|f| finding_view(f, changed))
        .collect()
}

fn finding_view(finding: &Finding, changed: bool) -> FindingView<'_> {
    let path = finding.path.as_deref().unwrap_or("");
    let place = match (&finding.path, &finding.span) {
        (Some(path), Some(span)) => format!("{path}:{}:{}", span.start_line, span.start_column),
        (Some(path), None) => path.clone(),
        (None, _) => "(project)".to_string(),
    };
    let (state, note) = match &finding.disposition {
        Disposition::Open if changed => ("new", String::new()),
        Disposition::Suppressed(s) => ("suppressed", format!("allowed: {}", s.reason)),
        Disposition::Baselined => ("baselined", "in the baseline".to_string()),
        _ => ("", String::new()),
    };
    let note = if crate::score::fails_item(finding) || !note.is_empty() {
        note
    } else {
        format!("in {}: fails nothing", finding.role.describe())
    };
    FindingView {
        code: finding.rule.code.as_str(),
        category: finding.rule.category.prefix(),
        severity: finding.severity.as_str(),
        role: finding.role.as_str(),
        path,
        place,
        message: &finding.message,
        fix: finding.fix_text(),
        fails: crate::score::fails_item(finding),
        state,
        note,
        lines: finding.snippet.as_ref().map(lines).unwrap_or_default(),
    }
}

/// A masked snippet's lines, numbered, those the finding's span covers marked.
fn lines(snippet: &Snippet) -> Vec<LineView> {
    let count = snippet.text.split_inclusive('\n').count();
    let width = (snippet.first_line + count).to_string().len();
    let mut start = 0;
    let mut out = Vec::new();
    for (index, line) in snippet.text.split_inclusive('\n').enumerate() {
        let end = start + line.len();
        let marked = start < snippet.label.end.max(snippet.label.start + 1)
            && snippet.label.start < end.max(start + 1);
        let number = snippet.first_line + index;
        out.push(LineView {
            gutter: format!("{}{number:>width$} │", if marked { '▶' } else { ' ' }),
            text: line.trim_end_matches(['\n', '\r']).to_string(),
            marked,
        });
        start = end;
    }
    out
}

/// The values each filter offers: those the findings have, in a stable order.
fn facets(findings: &[Finding]) -> Facets {
    use std::collections::BTreeSet;
    let codes: BTreeSet<Code> = findings.iter().map(|f| f.rule.code).collect();
    let categories: BTreeSet<_> = (codes.iter())
        .map(|c| (c.rule().category.prefix(), c.rule().category.title()))
        .collect();
    let severities: BTreeSet<Severity> = findings.iter().map(|f| f.severity).collect();
    let roles: BTreeSet<&'static str> = findings.iter().map(|f| f.role.as_str()).collect();
    Facets {
        categories: categories.into_iter().collect(),
        severities: severities.into_iter().rev().map(Severity::as_str).collect(),
        rules: (codes.iter())
            .map(|c| (c.as_str(), c.rule().name.as_str()))
            .collect(),
        roles: roles.into_iter().collect(),
    }
}

/// `prodready explain` of every rule with a finding or a failing item.
fn rules(report: &Report) -> Vec<RuleView> {
    let mut codes: Vec<Code> = report.findings.iter().map(|f| f.rule.code).collect();
    codes.extend(
        (report.scorecard.items.iter())
            .filter(|i| i.status == Status::Fail)
            .map(|i| i.rule.code),
    );
    codes.sort();
    codes.dedup();
    codes
        .into_iter()
        .map(|code| RuleView {
            code: code.as_str(),
            name: &code.rule().name,
            text: super::rules::explain(code.rule()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_inlined_style_and_script_cannot_close_their_element() {
        assert!(!STYLE.to_ascii_lowercase().contains("</style"));
        assert!(!SCRIPT.to_ascii_lowercase().contains("</script"));
    }

    #[test]
    fn a_snippet_marks_the_lines_its_span_covers() {
        let snippet = Snippet {
            first_line: 10,
            text: "a\nbb\nccc\n".to_string(),
            label: 2..4,
        };
        let lines_of = lines(&snippet);
        let marked: Vec<(&str, bool)> = (lines_of.iter())
            .map(|l| (l.gutter.as_str(), l.marked))
            .collect();
        assert_eq!(
            marked,
            [(" 10 │", false), ("▶11 │", true), (" 12 │", false)]
        );
        // An empty span marks the line it stands on.
        let empty = Snippet {
            label: 5..5,
            ..snippet
        };
        let marked: Vec<bool> = lines(&empty).iter().map(|l| l.marked).collect();
        assert_eq!(marked, [false, false, true]);
    }
}
