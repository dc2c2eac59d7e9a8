//! A finding: one place where one rule failed.

use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::registry::{Code, Rule, Severity};
use crate::roles::Role;
use crate::source::Source;
use crate::suppress::AllowKind;

/// A 1-based line/column span. `end_column` is one past the last character.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Span {
    pub start_line: usize,
    pub start_column: usize,
    pub end_line: usize,
    pub end_column: usize,
    #[serde(skip)]
    pub bytes: Range<usize>,
}

/// The redacted lines around a finding, for rendering.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Snippet {
    pub first_line: usize,
    pub text: String,
    /// The finding's span, as byte offsets into `text`.
    pub label: Range<usize>,
}

/// A place in a file, ready to carry a finding made later, once the file's text is gone: built
/// by [`Source::site`] while the text and its secrets' spans are at hand.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Site {
    pub path: String,
    /// The cache keeps its byte range (see `cache`).
    #[serde(with = "crate::cache::span::one")]
    pub span: Span,
    /// The masked lines around it.
    pub snippet: Snippet,
    /// A digest of the whitespace-normalised source line, for the fingerprint (see
    /// `Source::site`).
    pub line_key: String,
}

/// Production code, or test and example code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CodeKind {
    Production,
    Test,
}

/// The allow that suppresses a finding: what kind it is, where it is written and why.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Suppression {
    pub kind: AllowKind,
    /// `path:line` of the allow comment or of the configuration's `[[allow]]` entry.
    pub at: String,
    pub reason: String,
    /// Its expiry (`YYYY-MM-DD`), if it has one.
    pub until: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Finding {
    /// Its rule; the cache stores the code (see `cache`).
    #[serde(with = "crate::cache::rule_code")]
    pub rule: &'static Rule,
    pub severity: Severity,
    /// File the finding is in, relative to the audited root; `None` for a project-level
    /// finding about something missing.
    pub path: Option<String>,
    /// The cache keeps its byte range, which the report leaves out (see `cache`).
    #[serde(with = "crate::cache::span")]
    pub span: Option<Span>,
    pub message: String,
    /// A fix specific to this finding; the rule's `fix` line when `None`.
    pub fix: Option<String>,
    /// For project-level findings: what the finding is about (the missing section, the missing
    /// file). Part of the fingerprint instead of the source line.
    pub subject: Option<String>,
    /// A digest of the whitespace-normalised source line, for the fingerprint (see
    /// `line_digest`).
    pub line_key: Option<String>,
    pub snippet: Option<Snippet>,
    /// Whether it is judged as the running service's: `Production` fails its item, `Test` is
    /// reported at `low` and fails nothing (see `roles::judge`).
    pub code_kind: CodeKind,
    /// What its file is to the project; `Test` in a `#[cfg(test)]` region. Set when the
    /// finding is final.
    #[serde(default)]
    pub role: Role,
    /// A credential whose format checksum validates: it keeps its severity and fails its item
    /// even in test code.
    pub verified: bool,
    /// A secret whose value cannot be real (a placeholder, a local host, a CI service
    /// container's password, a sample the text calls one): demoted in CI, tooling and docs.
    #[serde(default)]
    pub sample: bool,
    /// What the report and the gate do with it.
    pub disposition: Disposition,
    /// Set once the finding is final; see `engine::finalise`.
    pub fingerprint: String,
}

/// What the report and the gate do with a finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Disposition {
    /// Reported, and judged by the gate: it fails its checklist item, or is shown at `low` as
    /// test code.
    Open,
    /// An allow suppresses it: reported, but it fails nothing.
    Suppressed(Suppression),
    /// Recorded in the baseline given to the audit: it still fails its checklist item (the
    /// score stays honest about the debt) but not the gate.
    Baselined,
    /// With `--changed-since`: open, but the merge base had it already, so the change's gate
    /// does not judge it (see `changes`). It still fails its checklist item.
    PreExisting,
}

impl Finding {
    /// A finding at a byte range of a file, at the rule's default severity.
    pub fn at(
        code: Code,
        source: &Source,
        range: Range<usize>,
        message: impl Into<String>,
    ) -> Finding {
        Finding::at_site(code, source.site(range), message)
    }

    /// A finding at a site prepared earlier, at the rule's default severity.
    pub fn at_site(code: Code, site: Site, message: impl Into<String>) -> Finding {
        let rule = code.rule();
        Finding {
            rule,
            severity: rule.severity,
            path: Some(site.path),
            line_key: Some(site.line_key),
            snippet: Some(site.snippet),
            span: Some(site.span),
            message: message.into(),
            fix: None,
            subject: None,
            code_kind: CodeKind::Production,
            role: Role::Production,
            verified: false,
            sample: false,
            disposition: Disposition::Open,
            fingerprint: String::new(),
        }
    }

    /// A finding on a whole line of a file.
    pub fn on_line(
        code: Code,
        source: &Source,
        line: usize,
        message: impl Into<String>,
    ) -> Finding {
        let span = source.line_span(line);
        Finding::at(code, source, span.bytes, message)
    }

    /// A project-level finding about something absent, optionally anchored to a file.
    pub fn project(code: Code, subject: impl Into<String>, message: impl Into<String>) -> Finding {
        let rule = code.rule();
        Finding {
            rule,
            severity: rule.severity,
            path: None,
            span: None,
            message: message.into(),
            fix: None,
            subject: Some(subject.into()),
            line_key: None,
            snippet: None,
            code_kind: CodeKind::Production,
            role: Role::Production,
            verified: false,
            sample: false,
            disposition: Disposition::Open,
            fingerprint: String::new(),
        }
    }

    /// Marks a secret whose value cannot be real (see `sample`).
    pub fn sample(mut self) -> Finding {
        self.sample = true;
        self
    }

    /// Marks an issued credential (its checksum validates).
    pub fn verified(mut self) -> Finding {
        self.verified = true;
        self
    }

    pub fn with_severity(mut self, severity: Severity) -> Finding {
        self.severity = severity.min(self.rule.severity);
        self
    }

    pub fn with_fix(mut self, fix: impl Into<String>) -> Finding {
        self.fix = Some(fix.into());
        self
    }

    pub fn with_subject(mut self, subject: impl Into<String>) -> Finding {
        self.subject = Some(subject.into());
        self
    }

    /// Anchors a project-level finding to a file (without a line).
    pub fn in_file(mut self, path: &str) -> Finding {
        self.path = Some(path.to_string());
        self
    }

    /// The allow that suppresses it, if one does.
    pub fn suppression(&self) -> Option<&Suppression> {
        match &self.disposition {
            Disposition::Suppressed(suppression) => Some(suppression),
            _ => None,
        }
    }

    pub fn fix_text(&self) -> &str {
        self.fix.as_deref().unwrap_or(&self.rule.fix)
    }

    pub fn line(&self) -> usize {
        self.span.as_ref().map_or(0, |s| s.start_line)
    }

    /// Deterministic order: by path, position, then rule.
    pub fn sort_key(&self) -> (Option<&str>, usize, usize, &str, &str) {
        let (line, column) = self
            .span
            .as_ref()
            .map_or((0, 0), |s| (s.start_line, s.start_column));
        (
            self.path.as_deref(),
            line,
            column,
            self.rule.code.as_str(),
            self.message.as_str(),
        )
    }
}
