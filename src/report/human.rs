//! The human report: each finding rendered by miette like rustc, then the checklist by
//! category, the score, the level and the changes that would raise the score most.

use std::collections::BTreeMap;
use std::fmt::{self, Write};

use miette::{
    Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteError,
    MietteSpanContents, SourceCode, SourceSpan, SpanContents,
};

use crate::changes::Changes;
use crate::changes::short;
use crate::engine::Report;
use crate::finding::Disposition;
use crate::finding::{CodeKind, Finding, Snippet, Suppression};
use crate::registry::Severity;
use crate::report::change_headline;
use crate::score::{Item, Status};
use crate::walk::PathNote;

pub struct HumanOptions {
    pub color: bool,
    /// Only the summary line.
    pub quiet: bool,
    /// Also what fails nothing in full, file notes and deselected items.
    pub verbose: bool,
}

/// A snippet that reports its own line numbers (it starts at `first_line` of its file).
struct SnippetSource<'a> {
    name: &'a str,
    snippet: &'a Snippet,
}

impl SourceCode for SnippetSource<'_> {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let inner = self.snippet.text.as_str().read_span(span, before, after)?;
        Ok(Box::new(MietteSpanContents::new_named(
            self.name.to_string(),
            inner.data(),
            *inner.span(),
            inner.line() + self.snippet.first_line - 1,
            inner.column(),
            inner.line_count(),
        )))
    }
}

struct FindingDiagnostic<'a> {
    finding: &'a Finding,
    source: Option<SnippetSource<'a>>,
}

impl fmt::Debug for FindingDiagnostic<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.finding.message)
    }
}

impl fmt::Display for FindingDiagnostic<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let finding = self.finding;
        write!(f, "{}: {}", finding.severity, finding.message)?;
        if finding.code_kind == CodeKind::Test {
            write!(f, " ({})", finding.role.describe())?;
        }
        if self.source.is_none()
            && let Some(path) = &finding.path
        {
            write!(f, " [{path}]")?;
        }
        Ok(())
    }
}

impl std::error::Error for FindingDiagnostic<'_> {}

impl Diagnostic for FindingDiagnostic<'_> {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(format!(
            "{}[{}]",
            self.finding.rule.code, self.finding.rule.name
        )))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.finding.severity {
            Severity::Critical | Severity::High => miette::Severity::Error,
            Severity::Medium => miette::Severity::Warning,
            Severity::Low => miette::Severity::Advice,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(format!(
            "{} (prodready explain {})",
            self.finding.fix_text(),
            self.finding.rule.code
        )))
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.source.as_ref().map(|s| s as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let snippet = self.source.as_ref()?.snippet;
        let span = LabeledSpan::new_primary_with_span(
            Some(self.finding.rule.summary.clone()),
            snippet.label.start..snippet.label.end,
        );
        Some(Box::new(std::iter::once(span)))
    }
}

fn handler(color: bool) -> GraphicalReportHandler {
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    GraphicalReportHandler::new_themed(theme)
        .with_links(false)
        .with_width(100)
        .with_context_lines(1)
}

/// Renders one finding as a rustc-like diagnostic.
pub fn render_finding(finding: &Finding, color: bool) -> String {
    let source = match (&finding.snippet, &finding.path) {
        (Some(snippet), Some(path)) => Some(SnippetSource {
            name: path,
            snippet,
        }),
        _ => None,
    };
    let diagnostic = FindingDiagnostic { finding, source };
    let mut out = String::new();
    if handler(color).render_report(&mut out, &diagnostic).is_err() {
        // Rendering cannot fail on a String; keep a plain line if it ever does.
        out = format!("{}: {}\n", finding.rule.code, finding.message);
    }
    out
}

fn mark(status: Status) -> &'static str {
    match status {
        Status::Pass => "✓ pass  ",
        Status::Waived => "✓ waived",
        Status::Fail => "✗ FAIL  ",
        Status::NotApplicable => "- n/a   ",
        Status::Skipped => "~ skip  ",
    }
}

fn score_text(score: Option<f64>) -> String {
    score.map_or_else(|| "-".to_string(), |s| format!("{s:.1}"))
}

pub fn render(report: &Report, changes: Option<&Changes>, options: &HumanOptions) -> String {
    let mut out = String::new();
    let summary = summary_line(report, changes);
    if options.quiet {
        let _ = writeln!(
            out,
            "prodready: {}: {summary}{}",
            report.root,
            gate_suffix(report)
        );
        return out;
    }
    // Baselined findings are known debt: counted below, not shown one by one. A change is
    // shown only what it brought.
    let _ = writeln!(out, "Profile of {}:", report.root);
    for (label, evidence) in super::profile(report) {
        let _ = writeln!(out, "  {label}: {evidence}");
    }
    out.push('\n');
    let open = (report.findings.iter()).filter(|f| f.disposition == Disposition::Open);
    for finding in open.clone() {
        if options.verbose || crate::score::fails_item(finding) {
            out.push_str(&render_finding(finding, options.color));
            out.push('\n');
        }
    }
    if !options.verbose {
        out.push_str(&failing_nothing(
            open.filter(|f| !crate::score::fails_item(f)),
        ));
    }
    out.push_str(&checklist(report, options.verbose));
    out.push_str(&allowed_summary(report));
    out.push_str(&baseline_summary(report));
    out.push_str(&change_summary(report, changes));
    out.push_str(&score_and_level(report));
    out.push_str(&files_summary(report, options.verbose));
    let _ = writeln!(out, "\n{summary}{}", gate_suffix(report));
    out
}

/// `score 8.8/100 · level pilot · 2 of 26 applicable checks pass · 28 finding(s)`, and what a
/// change did.
fn summary_line(report: &Report, changes: Option<&Changes>) -> String {
    let card = &report.scorecard;
    let suppressed = report
        .findings
        .iter()
        .filter(|f| f.suppression().is_some())
        .count();
    let baselined = report
        .findings
        .iter()
        .filter(|f| f.disposition == Disposition::Baselined)
        .count();
    let counted = |n: usize, what: &str| {
        if n > 0 {
            format!(" · {n} {what}")
        } else {
            String::new()
        }
    };
    let summary = format!(
        "score {}/100{} · level {} · {} of {} applicable checks pass{} · {} finding(s){}{}",
        score_text(card.score),
        if card.partial { " (partial)" } else { "" },
        super::level_text(card.level),
        card.passing(),
        card.applicable(),
        counted(card.count(Status::Waived), "waived"),
        report.findings.len() - suppressed - baselined,
        counted(baselined, "baselined"),
        counted(suppressed, "suppressed"),
    );
    format!("{summary}{}", change_suffix(report, changes))
}

/// The checklist by category, an item a line.
fn checklist(report: &Report, verbose: bool) -> String {
    let card = &report.scorecard;
    let mut out = String::new();
    let _ = writeln!(out, "Checklist for {}", report.root);
    // Names line up in one column, however long the longest is.
    let name_width = card
        .items
        .iter()
        .map(|i| i.rule.name.len())
        .max()
        .unwrap_or(0);
    let shown = |item: &&Item| verbose || item.status != Status::Skipped;
    for category in &card.categories {
        let mut items = (card.items.iter())
            .filter(|i| i.rule.category == category.category)
            .filter(shown)
            .peekable();
        if items.peek().is_none() {
            continue;
        }
        let _ = writeln!(
            out,
            "\n{} — {} ({} of {} applicable pass)",
            category.title,
            score_text(category.score),
            category.passed,
            category.applicable
        );
        for item in items {
            let _ = writeln!(
                out,
                "  {} {} {:<name_width$} {:<8} {}",
                mark(item.status),
                item.rule.code,
                item.rule.name,
                item.severity.as_str(),
                detail_with_evidence(
                    item,
                    verbose.then(|| super::evidence(report, item)).flatten()
                )
            );
        }
    }
    let deselected = card.count(Status::Skipped);
    if !verbose && deselected > 0 {
        let _ = writeln!(
            out,
            "\n{deselected} checks deselected (--select, --ignore or prodready.toml; --verbose lists them)"
        );
    }
    out
}

/// Findings that fail nothing (test, example, CI, docs, tooling code, or at a severity that
/// fails nothing), one line per rule: they are there to read with `--verbose`, not to act on.
fn failing_nothing<'a>(findings: impl Iterator<Item = &'a Finding>) -> String {
    // By rule (code, name): how many for each reason they fail nothing.
    let mut by_rule: BTreeMap<(&str, &str), BTreeMap<&str, usize>> = BTreeMap::new();
    for finding in findings {
        let rule = (finding.rule.code.as_str(), finding.rule.name.as_str());
        // A production finding that fails nothing was demoted (a local database's password).
        let why = match finding.role {
            crate::roles::Role::Production => "demoted",
            role => role.as_str(),
        };
        *by_rule.entry(rule).or_default().entry(why).or_default() += 1;
    }
    if by_rule.is_empty() {
        return String::new();
    }
    let total: usize = by_rule.values().flat_map(|roles| roles.values()).sum();
    let mut out = format!("{total} finding(s) that fail nothing (--verbose prints them):\n");
    for ((code, name), roles) in &by_rule {
        let count: usize = roles.values().sum();
        let roles: Vec<String> = roles.iter().map(|(r, n)| format!("{n} {r}")).collect();
        let _ = writeln!(out, "  {code} {name}: {count} ({})", roles.join(", "));
    }
    out.push('\n');
    out
}

/// What a checklist line says after the item's name and severity.
/// The item's detail, after what passed it when that is shown (`--verbose`).
fn detail_with_evidence(item: &Item, evidence: Option<String>) -> String {
    match (evidence, item_detail(item)) {
        (Some(evidence), detail) if detail.is_empty() => evidence,
        (Some(evidence), detail) => format!("{evidence}; {detail}"),
        (None, detail) => detail,
    }
}

fn item_detail(item: &Item) -> String {
    match item.status {
        Status::Fail => format!(
            "{} finding(s){}{}",
            item.failing,
            if item.baselined > 0 {
                format!(" ({} baselined)", item.baselined)
            } else {
                String::new()
            },
            if item.informational > 0 {
                format!(", {} more that fail nothing", item.informational)
            } else {
                String::new()
            }
        ),
        Status::NotApplicable => super::not_applicable(item),
        Status::Skipped => "deselected".into(),
        Status::Waived => format!("{} finding(s) allowed", item.suppressed),
        Status::Pass if item.informational > 0 => {
            format!("{} finding(s), all failing nothing", item.informational)
        }
        Status::Pass => String::new(),
    }
}

/// The score, the level, and the changes that would raise the score most.
fn score_and_level(report: &Report) -> String {
    let card = &report.scorecard;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nScore: {}/100{}",
        score_text(card.score),
        if card.partial {
            " (partial: some checks were deselected)"
        } else {
            ""
        }
    );
    let reason = card.level_reason.as_deref();
    let _ = writeln!(out, "{}", reason.unwrap_or("No level: no check applies"));
    let improvements = card.top_improvements(3);
    if !improvements.is_empty() {
        let _ = writeln!(out, "\nTo raise the score most:");
        for (index, (item, gain)) in improvements.iter().enumerate() {
            let _ = writeln!(
                out,
                "  {}. {} {} (+{gain:.1}): {}",
                index + 1,
                item.rule.code,
                item.rule.name,
                item.rule.fix
            );
        }
    }
    out
}

/// The suppressed findings per rule, and for each the allows that suppress them: what was
/// waived and why.
fn allowed_summary(report: &Report) -> String {
    let mut by_rule: BTreeMap<(&str, &str), BTreeMap<&Suppression, usize>> = BTreeMap::new();
    for finding in &report.findings {
        if let Some(suppression) = finding.suppression() {
            *by_rule
                .entry((finding.rule.code.as_str(), &finding.rule.name))
                .or_default()
                .entry(suppression)
                .or_default() += 1;
        }
    }
    let mut out = String::new();
    if by_rule.is_empty() {
        return out;
    }
    let _ = writeln!(out, "\nAllowed findings (they do not fail their items):");
    for ((code, name), allows) in by_rule {
        let _ = writeln!(out, "  {code} {name}: {}", allows.values().sum::<usize>());
        for (allow, count) in allows {
            let until = allow
                .until
                .as_ref()
                .map_or_else(String::new, |d| format!(" until {d}"));
            let _ = writeln!(
                out,
                "    {count} by {} at {}{until}: {}",
                allow.kind.as_str(),
                allow.at,
                allow.reason
            );
        }
    }
    out
}

/// What the baseline matched, per rule, and its entries that match nothing any more.
fn baseline_summary(report: &Report) -> String {
    let mut out = String::new();
    let Some(baseline) = &report.baseline else {
        return out;
    };
    let mut by_rule: BTreeMap<&str, usize> = BTreeMap::new();
    for finding in (report.findings.iter()).filter(|f| f.disposition == Disposition::Baselined) {
        *by_rule.entry(finding.rule.code.as_str()).or_default() += 1;
    }
    let counts: Vec<String> = by_rule
        .iter()
        .map(|(code, n)| format!("{code} {n}"))
        .collect();
    let _ = writeln!(
        out,
        "\nBaseline: {} of {} entries match; those findings fail their items but not the gate{}",
        baseline.matched,
        baseline.entries,
        if counts.is_empty() {
            String::new()
        } else {
            format!(" ({})", counts.join(", "))
        }
    );
    if !baseline.fixed.is_empty() {
        let _ = writeln!(
            out,
            "Fixed since the baseline: {} entries match nothing (write the baseline again to drop them)",
            baseline.fixed.len()
        );
        for entry in &baseline.fixed {
            let _ = writeln!(
                out,
                "  {} {} {}",
                entry.rule,
                entry.path.as_deref().unwrap_or("(project)"),
                entry.fingerprint
            );
        }
    }
    out
}

/// The summary line's account of a change: its new findings and the score since the merge base.
fn change_suffix(report: &Report, changes: Option<&Changes>) -> String {
    change_headline(report, changes).map_or_else(String::new, |line| format!(" · {line}"))
}

/// What the change did: files, findings, score, items and baseline entries it added.
fn change_summary(report: &Report, changes: Option<&Changes>) -> String {
    let mut out = String::new();
    let Some(changes) = changes else {
        return out;
    };
    let _ = writeln!(
        out,
        "\nChange since {} (merge base {}): {} file(s) changed",
        changes.reference,
        short(&changes.merge_base),
        changes.changed_files,
    );
    let _ = writeln!(
        out,
        "  {} new finding(s) in this change, {} elsewhere not judged",
        changes.new_findings, changes.not_judged
    );
    let _ = writeln!(
        out,
        "  Score: {} → {} · level {} → {}",
        score_text(changes.base_score),
        score_text(report.scorecard.score),
        super::level_text(changes.base_level),
        super::level_text(report.scorecard.level)
    );
    for item in &changes.items {
        let _ = writeln!(
            out,
            "  {} {}: {} → {}",
            item.code,
            item.name,
            item.base.as_str(),
            item.head.as_str()
        );
    }
    if !changes.baseline_added.is_empty() {
        let _ = writeln!(
            out,
            "  Added to the baseline by this change: {} (a change cannot baseline its own findings: they count as new)",
            match changes.baseline_added.len() {
                1 => "1 entry".to_string(),
                n => format!("{n} entries"),
            }
        );
        for added in &changes.baseline_added {
            let _ = writeln!(
                out,
                "    {} {} {}{}",
                added.entry.rule,
                added.entry.path.as_deref().unwrap_or("(project)"),
                added.entry.fingerprint,
                if added.honoured {
                    " (honoured: the merge base's baseline recorded this finding, which moved)"
                } else {
                    ""
                }
            );
        }
    }
    for note in &changes.notes {
        let _ = writeln!(out, "  Note: {note}");
    }
    out
}

fn gate_suffix(report: &Report) -> String {
    let mut text = if report.gate.passed {
        String::new()
    } else {
        format!(" · gate FAILED: {}", report.gate.reasons.join("; "))
    };
    if report.incomplete() {
        text.push_str(&format!(
            " · incomplete: {} file(s) not analysed",
            report.files.not_analysed.len()
        ));
    }
    text
}

/// Per-file lines, at most `PER_FILE_LINES` of a kind: the JSON report has them all.
fn list(out: &mut String, label: &str, entries: &[PathNote]) {
    const PER_FILE_LINES: usize = 20;
    for PathNote { path, reason } in entries.iter().take(PER_FILE_LINES) {
        let _ = writeln!(out, "{label}: {path}: {reason}");
    }
    if entries.len() > PER_FILE_LINES {
        let _ = writeln!(
            out,
            "{label}: {} more (see --format json)",
            entries.len() - PER_FILE_LINES
        );
    }
}

fn files_summary(report: &Report, verbose: bool) -> String {
    let files = &report.files;
    let mut out = String::new();
    let kinds: Vec<String> = files
        .by_kind
        .iter()
        .map(|(kind, n)| {
            format!(
                "{n} {}",
                serde_json::to_value(kind)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .unwrap_or_default()
            )
        })
        .collect();
    let _ = writeln!(
        out,
        "\nFiles: {} scanned ({}), {} lines",
        files.scanned,
        kinds.join(", "),
        files.lines
    );
    let roles: Vec<String> = (files.by_role.iter())
        .map(|(role, n)| format!("{n} {}", role.as_str()))
        .collect();
    if !roles.is_empty() {
        let _ = writeln!(out, "Roles: {}", roles.join(", "));
    }
    for (set, n) in &files.role_overrides {
        let _ = writeln!(
            out,
            "Role set by prodready.toml: {} = {} ({n} file(s)): {}",
            set.glob,
            set.role.as_str(),
            set.reason
        );
    }
    let skipped: Vec<String> = files
        .skipped_files
        .iter()
        .map(|(reason, n)| format!("{n} file(s) {}", reason.describe()))
        .chain(
            files
                .skipped_dirs
                .iter()
                .map(|(reason, n)| format!("{n} folder(s) {}", reason.describe())),
        )
        .collect();
    if !skipped.is_empty() {
        let _ = writeln!(out, "Skipped: {}", skipped.join(", "));
    }
    for path in &files.templated {
        let _ = writeln!(out, "Not audited (templated): {path}");
    }
    list(&mut out, "Not read", &files.skipped);
    if verbose {
        list(&mut out, "Note", &files.notes);
    } else if !files.notes.is_empty() {
        let _ = writeln!(
            out,
            "Notes: {} file(s) (--verbose lists them)",
            files.notes.len()
        );
    }
    for PathNote { path, reason } in &files.not_parsed {
        let _ = writeln!(out, "Not parsed (text-level rules only): {path}: {reason}");
    }
    for PathNote { path, reason } in &files.not_analysed {
        let _ = writeln!(out, "Not analysed: {path}: {reason}");
    }
    out
}
