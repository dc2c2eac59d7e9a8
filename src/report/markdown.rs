//! Markdown for a pull-request comment or `$GITHUB_STEP_SUMMARY`: the headline, the checklist
//! in a collapsible section per category, and the findings of each category.
//!
//! GitHub refuses comments and summaries over 65,536 characters, so the report stays under
//! `LIMIT`: the checklist is always whole, and findings are cut, with a count of the rest.

use std::fmt::Write;

use crate::changes::Changes;
use crate::engine::Report;
use crate::finding::{CodeKind, Finding};
use crate::registry::Category;
use crate::report::{anchor, change_headline, headline, open_by_severity, score_text};
use crate::score::Status;

/// Characters the markdown may take.
pub const LIMIT: usize = 65_000;

fn status_mark(status: Status) -> &'static str {
    match status {
        Status::Pass => "✅ pass",
        Status::Waived => "✅ waived",
        Status::Fail => "❌ fail",
        Status::NotApplicable => "➖ n/a",
        Status::Skipped => "⏭️ skipped",
    }
}

/// Text shown outside code: characters markdown or HTML would interpret are escaped. Spans in
/// backticks (identifiers in messages) stay code spans; an odd backtick is escaped too.
pub fn inline(text: &str) -> String {
    let balanced = text.matches('`').count().is_multiple_of(2);
    let mut out = String::with_capacity(text.len());
    let mut in_code = false;
    for c in text.chars() {
        match c {
            '`' if balanced => {
                in_code = !in_code;
                out.push(c);
            }
            _ if in_code => out.push(c),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '#' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '\r' | '\n' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

fn finding_line(report: &Report, finding: &Finding, base: &str) -> String {
    let anchor = anchor(report, finding, base);
    let place = match anchor.span {
        Some(span) => format!("{}:{}", anchor.path, span.start_line),
        None => anchor.path,
    };
    let test_code = if finding.code_kind == CodeKind::Test {
        format!(" ({})", finding.role.describe())
    } else {
        String::new()
    };
    format!(
        "- **{}** {} `{}`{test_code}: {} — _fix:_ {}\n",
        finding.severity,
        finding.rule.code,
        place.replace('`', "'"),
        inline(&finding.message),
        inline(finding.fix_text()),
    )
}

/// The part of a category's section that is always shown: its summary and checklist table.
fn category_head(report: &Report, category: Category) -> String {
    let card = &report.scorecard;
    let Some(score) = card.categories.iter().find(|c| c.category == category) else {
        return String::new();
    };
    let failing = score.failed > 0;
    let mut out = format!(
        "<details{}>\n<summary><b>{}</b> — {} ({} of {} applicable pass)</summary>\n\n| Status | Check | Severity | Findings |\n|---|---|---|---|\n",
        if failing { " open" } else { "" },
        score.title,
        score_text(score.score),
        score.passed,
        score.applicable,
    );
    for item in card.items.iter().filter(|i| i.rule.category == category) {
        let findings = match item.status {
            Status::Fail | Status::Pass | Status::Waived
                if item.failing + item.informational > 0 =>
            {
                let mut text = item.failing.to_string();
                if item.informational > 0 {
                    let _ = write!(text, " (+{} that fail nothing)", item.informational);
                }
                if let Some(evidence) = super::evidence(report, item) {
                    let _ = write!(text, "; {}", inline(&evidence));
                }
                text
            }
            Status::NotApplicable => inline(&super::not_applicable(item)),
            _ => super::evidence(report, item)
                .map(|e| inline(&e))
                .unwrap_or_default(),
        };
        let _ = writeln!(
            out,
            "| {} | {} {} | {} | {} |",
            status_mark(item.status),
            item.rule.code,
            item.rule.name,
            item.severity,
            findings
        );
    }
    out
}

fn omitted_note(count: usize) -> String {
    format!(
        "\n_… and {count} more finding(s), not shown to keep this summary within GitHub's size limit; see the SARIF or JSON report._\n"
    )
}

pub fn render(report: &Report, changes: Option<&Changes>, base: &str) -> String {
    let card = &report.scorecard;
    let mut head = format!("## prodready: {}\n\n", inline(&report.root));
    let _ = writeln!(head, "**{}**", inline(&headline(report)));
    if let Some(changes) = changes {
        let _ = writeln!(
            head,
            "\nChange since `{}` (merge base `{}`): {}; only its new findings are listed.",
            changes.reference.replace('`', "'"),
            crate::changes::short(&changes.merge_base),
            inline(&change_headline(report, Some(changes)).unwrap_or_default())
        );
    }
    if report.gate.passed {
        head.push_str("\nGate: passed\n");
    } else {
        let _ = writeln!(
            head,
            "\nGate: **failed**: {}",
            inline(&report.gate.reasons.join("; "))
        );
    }
    if report.incomplete() {
        let _ = writeln!(
            head,
            "\n{} file(s) could not be analysed: the report is incomplete.",
            report.files.not_analysed.len()
        );
    }
    head.push_str("\nProfile:");
    for (label, evidence) in super::profile(report) {
        let _ = write!(head, " {label}: {};", inline(evidence));
    }
    head.pop();
    head.push_str("\n\n");

    let open = open_by_severity(report);
    let categories: Vec<Category> = card.categories.iter().map(|c| c.category).collect();
    let heads: Vec<String> = categories
        .iter()
        .map(|&c| category_head(report, c))
        .collect();
    const CLOSE: &str = "\n</details>\n\n";
    const FINDINGS: &str = "\n**Findings**\n\n";
    // The fixed part: headline, every checklist table, and room for one omission note per
    // category, so that whatever is cut, the checklist fits.
    let fixed = head.chars().count()
        + heads
            .iter()
            .map(|h| {
                h.chars().count()
                    + FINDINGS.len()
                    + CLOSE.len()
                    + omitted_note(open.len()).chars().count()
            })
            .sum::<usize>();
    let mut budget = LIMIT.saturating_sub(fixed);

    let mut out = head;
    for (category, head) in categories.iter().zip(heads) {
        out.push_str(&head);
        let mine: Vec<&&Finding> = open
            .iter()
            .filter(|f| f.rule.category == *category)
            .collect();
        if !mine.is_empty() {
            out.push_str(FINDINGS);
        }
        let mut omitted = 0;
        for finding in &mine {
            let line = finding_line(report, finding, base);
            let cost = line.chars().count();
            if omitted == 0 && cost <= budget {
                budget -= cost;
                out.push_str(&line);
            } else {
                omitted += 1;
            }
        }
        if omitted > 0 {
            out.push_str(&omitted_note(omitted));
        }
        out.push_str(CLOSE);
    }
    out
}
