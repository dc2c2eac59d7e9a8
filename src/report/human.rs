//! The human report: each finding rendered by miette like rustc, then the checklist by
//! category, the score, the level and the changes that would raise the score most.

use std::fmt::{self, Write};

use miette::{
    Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteError,
    MietteSpanContents, SourceCode, SourceSpan, SpanContents,
};

use crate::engine::Report;
use crate::finding::{CodeKind, Finding, Snippet};
use crate::registry::Severity;
use crate::score::Status;

pub struct HumanOptions {
    pub color: bool,
    /// Only the summary line.
    pub quiet: bool,
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
            f.write_str(" (test code)")?;
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
        Status::Pass => "✓ pass",
        Status::Fail => "✗ FAIL",
        Status::NotApplicable => "- n/a ",
        Status::Skipped => "~ skip",
    }
}

fn score_text(score: Option<f64>) -> String {
    score.map_or_else(|| "-".to_string(), |s| format!("{s:.1}"))
}

pub fn render(report: &Report, options: &HumanOptions) -> String {
    let mut out = String::new();
    let card = &report.scorecard;
    let suppressed = report
        .findings
        .iter()
        .filter(|f| f.suppressed.is_some())
        .count();
    let summary = format!(
        "score {}/100{} · level {} · {} of {} applicable checks pass · {} finding(s){}",
        score_text(card.score),
        if card.partial { " (partial)" } else { "" },
        card.level.as_str(),
        card.count(Status::Pass),
        card.applicable(),
        report.findings.len() - suppressed,
        if suppressed > 0 {
            format!(" · {suppressed} suppressed")
        } else {
            String::new()
        },
    );
    if options.quiet {
        let _ = writeln!(
            out,
            "prodready: {}: {summary}{}",
            report.root,
            gate_suffix(report)
        );
        return out;
    }
    for finding in report.findings.iter().filter(|f| f.suppressed.is_none()) {
        out.push_str(&render_finding(finding, options.color));
        out.push('\n');
    }

    let _ = writeln!(out, "Checklist for {}", report.root);
    for category in &card.categories {
        let _ = writeln!(
            out,
            "\n{} — {} ({} of {} applicable pass)",
            category.title,
            score_text(category.score),
            category.passed,
            category.applicable
        );
        for item in card
            .items
            .iter()
            .filter(|i| i.rule.category == category.category)
        {
            let detail = match item.status {
                Status::Fail => format!(
                    "{} finding(s){}",
                    item.failing,
                    if item.informational > 0 {
                        format!(", {} in test code or suppressed", item.informational)
                    } else {
                        String::new()
                    }
                ),
                Status::NotApplicable => match &item.not_audited {
                    Some(why) => why.clone(),
                    None => format!("applies when {}", item.rule.applies_when.describe()),
                },
                Status::Skipped => "deselected".into(),
                Status::Pass if item.informational > 0 => {
                    format!(
                        "{} finding(s) in test code or suppressed only",
                        item.informational
                    )
                }
                Status::Pass => String::new(),
            };
            let _ = writeln!(
                out,
                "  {} {} {:<28} {:<8} {}",
                mark(item.status),
                item.rule.code,
                item.rule.name,
                item.severity.as_str(),
                detail
            );
        }
    }

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
    let _ = writeln!(out, "Level: {}", card.level.as_str());
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
    out.push_str(&files_summary(report));
    let _ = writeln!(out, "\n{summary}{}", gate_suffix(report));
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
            report.files.failed.len()
        ));
    }
    text
}

fn files_summary(report: &Report) -> String {
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
    for (path, reason) in &files.not_parsed {
        let _ = writeln!(out, "Not parsed (text-level rules only): {path}: {reason}");
    }
    for (path, reason) in &files.failed {
        let _ = writeln!(out, "Not analysed: {path}: {reason}");
    }
    out
}
