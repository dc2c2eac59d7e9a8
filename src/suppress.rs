//! The allow comment: the single place that knows its syntax.
//!
//! `// prodready: allow(SEC002) reason text` (or `#` in YAML, TOML, .env and shell) on a
//! finding's line or the line above suppresses that finding. Several codes:
//! `allow(SEC002, SEC003)`. The reason is mandatory; an allow without one suppresses nothing.
//! Suppressed findings are kept and counted; ineffective allows are reported as OPS006.

use std::ops::{Range, RangeInclusive};
use std::sync::LazyLock;

use regex::Regex;

use crate::finding::Finding;
use crate::registry::registry;
use crate::source::{FileKind, Source};

/// The directive after a comment marker of the file's language, at the start of a line or
/// after whitespace (so that a string or a doc example that shows the syntax is not one).
fn directive(markers: &str) -> Regex {
    Regex::new(&format!(
        r"(?m)(?:^|[ \t])(?:{markers})[ \t]*prodready:[ \t]*allow\(([^)\r\n]*)\)[ \t]*([^\r\n]*)"
    ))
    .expect("allow directive regex")
}

static RUST: LazyLock<Regex> = LazyLock::new(|| directive(r"//|/\*"));
static HASH: LazyLock<Regex> = LazyLock::new(|| directive("#"));
static MARKDOWN: LazyLock<Regex> = LazyLock::new(|| directive("<!--"));
static ANY: LazyLock<Regex> = LazyLock::new(|| directive(r"//|#|/\*|<!--|--|;"));

/// One allow comment.
#[derive(Debug, Clone)]
pub struct Allow {
    /// The lines whose findings it suppresses: for an allow comment, its own line and the
    /// next; other forms (a Kubernetes resource's annotation, a file-wide allow) cover more.
    pub lines: RangeInclusive<usize>,
    /// Rule codes as written (upper-cased).
    pub codes: Vec<String>,
    /// The reason, if one was given.
    pub reason: Option<String>,
    /// Byte range of the directive.
    pub range: Range<usize>,
}

impl Allow {
    /// Whether this allow suppresses a finding of `code` on `line`.
    pub fn covers(&self, code: &str, line: usize) -> bool {
        self.reason.is_some() && self.lines.contains(&line) && self.codes.iter().any(|c| c == code)
    }

    /// An allow over a range of lines from its codes as written (`DEP004, DEP003`) and its
    /// reason (empty for none): the form a Kubernetes resource's allow annotation takes.
    pub fn over_lines(
        lines: RangeInclusive<usize>,
        codes: &str,
        reason: &str,
        range: Range<usize>,
    ) -> Allow {
        let reason = reason.trim();
        Allow {
            lines,
            codes: codes
                .split(',')
                .map(|c| c.trim().to_ascii_uppercase())
                .filter(|c| !c.is_empty())
                .collect(),
            reason: (!reason.is_empty()).then(|| reason.to_string()),
            range,
        }
    }

    pub fn unknown_codes(&self) -> Vec<&str> {
        self.codes
            .iter()
            .filter(|c| registry().find(c).is_none())
            .map(String::as_str)
            .collect()
    }

    /// The OPS006 finding this allow earns if it turns out to be ineffective, built while its
    /// file's text is at hand; the engine decides whether to report it.
    pub fn ineffective(&self, source: &Source, message: String) -> Finding {
        Finding::at("OPS006", source, self.range.clone(), message)
    }
}

/// Every allow comment in a file: `//` in Rust, `#` in YAML, TOML and .env, `<!--` in
/// Markdown, any of these in other text (shell, Dockerfiles). JSON has no comments.
pub fn parse(source: &Source, kind: FileKind) -> Vec<Allow> {
    if !source.text.contains("prodready:") {
        return Vec::new();
    }
    let directive: &Regex = match kind {
        FileKind::Rust => &RUST,
        FileKind::Yaml | FileKind::Toml | FileKind::Env => &HASH,
        FileKind::Markdown => &MARKDOWN,
        FileKind::Json => return Vec::new(),
        FileKind::Text => &ANY,
    };
    directive
        .captures_iter(&source.text)
        .map(|cap| {
            let whole = cap.get(0).expect("match");
            let leading = whole.as_str().len() - whole.as_str().trim_start().len();
            // Shown in reports: through the redaction like any source text.
            let shown = |group: usize| {
                let range = cap.get(group).map_or(0..0, |m| m.range());
                source.display(range)
            };
            let reason = shown(2);
            let reason = reason
                .trim()
                .trim_end_matches("*/")
                .trim_end_matches("-->")
                .trim();
            let line = source.line_of(whole.start() + leading);
            Allow {
                lines: line..=line + 1,
                codes: shown(1)
                    .split(',')
                    .map(|c| c.trim().to_ascii_uppercase())
                    .filter(|c| !c.is_empty())
                    .collect(),
                reason: (!reason.is_empty()).then(|| reason.to_string()),
                range: whole.start() + leading..whole.end(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directives_with_codes_reasons_and_comment_styles() {
        let rust = Source::new(
            "a.rs",
            "let a = 1; // prodready: allow(SEC002, sec003) local compose password\n// prodready: allow(RES001)\nlet s = \"prodready: allow(SEC002) not a comment\";\n//! `// prodready: allow(SEC002) doc example`\n# prodready: allow(SEC002) not a Rust comment\n".to_string(),
        );
        let allows = parse(&rust, FileKind::Rust);
        assert_eq!(allows.len(), 2);
        assert_eq!(allows[0].codes, ["SEC002", "SEC003"]);
        assert_eq!(allows[0].reason.as_deref(), Some("local compose password"));
        assert!(allows[0].covers("SEC003", 2) && !allows[0].covers("SEC003", 3));
        assert_eq!(allows[1].reason, None);
        assert!(!allows[1].covers("RES001", 3), "no reason, no suppression");
        let markdown = Source::new(
            "RUNBOOK.md",
            "<!-- prodready: allow(OPS004) the runbook lives in the wiki -->\n".to_string(),
        );
        let allows = parse(&markdown, FileKind::Markdown);
        assert_eq!(
            allows[0].reason.as_deref(),
            Some("the runbook lives in the wiki")
        );
        let yaml = Source::new(
            "a.yaml",
            "password: x # prodready: allow(SEC002) local only\n".to_string(),
        );
        assert_eq!(parse(&yaml, FileKind::Yaml).len(), 1);
    }
}
