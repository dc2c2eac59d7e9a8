//! GitHub Actions workflow commands: one annotation per finding, within GitHub's budget.
//!
//! GitHub shows at most 10 error, 10 warning and 10 notice annotations per step, and 50 per
//! job; the rest are dropped silently. So the most severe findings go first, each level stops
//! at its budget, and a last notice gives the headline and counts what was not annotated.

use std::fmt::Write;

use crate::changes::Changes;
use crate::engine::Report;
use crate::report::{Level, anchor, change_headline, headline, open_by_severity};

/// Annotations GitHub shows per level in one step.
pub const PER_LEVEL: usize = 10;

pub fn render(report: &Report, changes: Option<&Changes>, base: &str) -> String {
    let mut out = String::new();
    let mut shown = [0usize; 3];
    let mut left_out = 0;
    for finding in open_by_severity(report) {
        let level = Level::of(finding.severity);
        // One notice is kept for the closing summary.
        let budget = if level == Level::Note {
            PER_LEVEL - 1
        } else {
            PER_LEVEL
        };
        if shown[level as usize] == budget {
            left_out += 1;
            continue;
        }
        shown[level as usize] += 1;
        let anchor = anchor(report, finding, base);
        let mut properties = vec![("file", anchor.path)];
        if let Some(span) = anchor.span {
            properties.extend([
                ("line", span.start_line.to_string()),
                ("col", span.start_column.to_string()),
                ("endLine", span.end_line.to_string()),
                ("endColumn", span.end_column.to_string()),
            ]);
        } else {
            properties.push(("line", "1".to_string()));
        }
        properties.push((
            "title",
            format!(
                "{} {} ({})",
                finding.rule.code, finding.rule.name, finding.severity
            ),
        ));
        let message = format!("{}. Fix: {}", finding.message, finding.fix_text());
        command(&mut out, command_name(level), &properties, &message);
    }
    let mut summary = format!("prodready: {}", headline(report));
    if let Some(line) = change_headline(report, changes) {
        let _ = write!(summary, " · {line}");
    }
    if left_out > 0 {
        let _ = write!(
            summary,
            " · {left_out} more finding(s) not annotated (GitHub shows {PER_LEVEL} per level and step; see the full report)"
        );
    }
    if !report.gate.passed {
        let _ = write!(
            summary,
            " · gate FAILED: {}",
            report.gate.reasons.join("; ")
        );
    }
    command(
        &mut out,
        "notice",
        &[("title", "prodready".to_string())],
        &summary,
    );
    out
}

fn command_name(level: Level) -> &'static str {
    match level {
        Level::Error => "error",
        Level::Warning => "warning",
        Level::Note => "notice",
    }
}

fn command(out: &mut String, name: &str, properties: &[(&str, String)], message: &str) {
    let properties: Vec<String> = properties
        .iter()
        .map(|(key, value)| format!("{key}={}", escape_property(value)))
        .collect();
    let _ = writeln!(
        out,
        "::{name} {}::{}",
        properties.join(","),
        escape_data(message)
    );
}

/// A command's message: `%`, CR and LF are encoded (as GitHub's toolkit does).
pub fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A command's property value: as a message, plus `:` and `,`, which delimit properties.
pub fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_follows_the_actions_toolkit() {
        assert_eq!(
            escape_data("50% done\r\nnext: a,b"),
            "50%25 done%0D%0Anext: a,b"
        );
        assert_eq!(escape_property("a:b,c%\n"), "a%3Ab%2Cc%25%0A");
    }
}
