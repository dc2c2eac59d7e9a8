//! The allow comment: the single place that knows its syntax.
//!
//! `// prodready: allow(SEC002) reason text` (or `#` in YAML, TOML, .env and shell) on a
//! finding's line or the line above suppresses that finding. Several codes:
//! `allow(SEC002, SEC003)`. The reason is mandatory; an allow without one suppresses nothing.
//! Suppressed findings are kept and counted; ineffective allows are reported as OPS006.

use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

use crate::finding::Finding;
use crate::registry::registry;
use crate::source::Source;

static DIRECTIVE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?://|#|/\*|<!--|--|;)\s*prodready:\s*allow\(([^)]*)\)[ \t]*([^\r\n]*)").unwrap()
});

/// One allow comment.
#[derive(Debug, Clone)]
pub struct Allow {
    /// The comment's line; it covers this line and the next.
    pub line: usize,
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
        self.reason.is_some()
            && (line == self.line || line == self.line + 1)
            && self.codes.iter().any(|c| c == code)
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

/// Every allow comment in a file.
pub fn parse(source: &Source) -> Vec<Allow> {
    if !source.text.contains("prodready:") {
        return Vec::new();
    }
    DIRECTIVE
        .captures_iter(&source.text)
        .map(|cap| {
            let whole = cap.get(0).expect("match");
            let reason = cap[2]
                .trim()
                .trim_end_matches("*/")
                .trim_end_matches("-->")
                .trim();
            Allow {
                line: source.line_of(whole.start()),
                codes: cap[1]
                    .split(',')
                    .map(|c| c.trim().to_ascii_uppercase())
                    .filter(|c| !c.is_empty())
                    .collect(),
                reason: (!reason.is_empty()).then(|| reason.to_string()),
                range: whole.start()..whole.end(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directives_with_codes_reasons_and_comment_styles() {
        let source = Source::new(
            "a.rs",
            "let a = 1; // prodready: allow(SEC002, sec003) local compose password\n# prodready: allow(RES001)\n<!-- prodready: allow(OPS004) the runbook lives in the wiki -->\nlet s = \"prodready: allow(SEC002) not a comment\";\n".to_string(),
        );
        let allows = parse(&source);
        assert_eq!(allows.len(), 3);
        assert_eq!(allows[0].codes, ["SEC002", "SEC003"]);
        assert_eq!(allows[0].reason.as_deref(), Some("local compose password"));
        assert!(allows[0].covers("SEC003", 2) && !allows[0].covers("SEC003", 3));
        assert_eq!(allows[1].reason, None);
        assert!(!allows[1].covers("RES001", 2), "no reason, no suppression");
        assert_eq!(
            allows[2].reason.as_deref(),
            Some("the runbook lives in the wiki")
        );
    }
}
