//! A finding: one place where one rule failed.

use std::ops::Range;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

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
    /// A project-level finding whose path only shows where it stands (the service's manifest):
    /// the finding is about the project, so its fingerprint and its match with the merge base
    /// do not depend on the path.
    #[serde(default)]
    pub anchored: bool,
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
    /// What is known of a secret's value: whether it was issued, or cannot be real.
    #[serde(default)]
    pub value: SecretValue,
    /// What it needs from the rest of the project to stand: settled (kept, reworded or
    /// dropped) once every file has been seen, before the project checks. `None` for a finding
    /// that stands on its own, which every finding is once settled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<Box<Condition>>,
    /// What the report and the gate do with it.
    pub disposition: Disposition,
    /// Set once the finding is final; see `engine::finalise`.
    pub fingerprint: String,
}

/// What is known of a secret finding's value (see `roles::judge`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum SecretValue {
    /// Nothing: not a secret, or one that may be real.
    #[default]
    Unknown,
    /// Its format's checksum validates: an issued credential. It keeps its severity and fails
    /// its item anywhere, test code included.
    Issued,
    /// The text calls it a sample (`example`, `dummy`, a file so named), or it is a CI job's
    /// service-container password: it cannot be real where docs, CI and tooling show it.
    Sample,
    /// A password for a local host (`localhost`, a compose service): it opens nothing
    /// anywhere else, so it cannot be a real credential wherever it sits.
    Local,
    /// A regular expression written beside it describes it (`("GitLab PAT",
    /// "glpat-[0-9a-zA-Z_]{20}", "glpat-…")`): a detector's test data for its own pattern.
    FormatExample,
}

/// What a per-file finding needs from other files (see `engine::settle`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Condition {
    /// Dropped when every call of each of these functions in the project's production code
    /// runs under a timeout (the functions the finding's unbounded calls are made in).
    pub unless_callers_bounded: Vec<String>,
    /// Kept only when the project shows that this optional setting is unset by default; the
    /// message then ends with where.
    pub if_unset_by_default: Option<OptionalSetting>,
    /// Kept only when some router of the project registers this function as a request
    /// handler (`checks::panics`).
    #[serde(default)]
    pub if_route_target: Option<RouteTarget>,
}

/// A function that a finding about a request's input is made in: it holds only if some router
/// registers the function as a handler.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteTarget {
    pub function: String,
    /// The type of the `impl` the function is in.
    pub owner: Option<String>,
    /// The module its file is (`handlers` for `src/handlers.rs` or `src/handlers/mod.rs`,
    /// `crate` for a crate root).
    pub module: String,
    /// The folder of its Cargo package.
    pub package: String,
}

/// An optional setting code branches on: `if let Some(t) = <setting> { .. } else { .. }`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum OptionalSetting {
    /// A field of a struct: `self.timeout` (the impl's type), `config.timeout` (the type of the
    /// `config` parameter or annotated local); `owner` is `None` when the type is not written.
    Field {
        owner: Option<String>,
        field: String,
    },
    /// A parameter of a function: its name, and its position among the arguments a call
    /// writes (a method's receiver is not counted).
    Param {
        function: String,
        index: usize,
        name: String,
    },
}

impl OptionalSetting {
    /// Its own name: the field's or the parameter's.
    pub fn name(&self) -> &str {
        match self {
            OptionalSetting::Field { field, .. } => field,
            OptionalSetting::Param { name, .. } => name,
        }
    }
}

impl std::fmt::Display for OptionalSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OptionalSetting::Field {
                owner: Some(owner),
                field,
            } => write!(f, "`{owner}.{field}`"),
            OptionalSetting::Field { owner: None, field } => write!(f, "`{field}`"),
            OptionalSetting::Param { function, name, .. } => {
                write!(f, "the `{name}` parameter of `{function}`")
            }
        }
    }
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
            anchored: false,
            code_kind: CodeKind::Production,
            role: Role::Production,
            value: SecretValue::Unknown,
            condition: None,
            disposition: Disposition::Open,
            fingerprint: String::new(),
        }
    }

    /// The finding stands only if the rest of the project says so (see [`Condition`]).
    pub fn on_condition(mut self, condition: Condition) -> Finding {
        self.condition = Some(Box::new(condition));
        self
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
            anchored: false,
            line_key: None,
            snippet: None,
            code_kind: CodeKind::Production,
            role: Role::Production,
            value: SecretValue::Unknown,
            condition: None,
            disposition: Disposition::Open,
            fingerprint: String::new(),
        }
    }

    /// Says what is known of a secret's value.
    pub fn with_value(mut self, value: SecretValue) -> Finding {
        self.value = value;
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

    /// Places a project-level finding about a file (a committed key file, a CODEOWNERS gap) in
    /// that file (without a line).
    pub fn in_file(mut self, path: &str) -> Finding {
        self.path = Some(path.to_string());
        self
    }

    /// Shows a finding about the whole project at a file (the service's manifest), if there is
    /// one: the file only says where it stands (see `anchored`).
    pub fn anchored_at(mut self, path: Option<&str>) -> Finding {
        self.path = path.map(str::to_string);
        self.anchored = true;
        self
    }

    /// The allow that suppresses it, if one does.
    pub fn suppression(&self) -> Option<&Suppression> {
        match &self.disposition {
            Disposition::Suppressed(suppression) => Some(suppression),
            _ => None,
        }
    }

    /// The hash part of its fingerprint, were it at `path`: a digest of its rule, the path, and
    /// its line digest (or its subject).
    pub fn fingerprint_hash(&self, path: Option<&str>) -> String {
        let mut hasher = Sha256::new();
        hasher.update(self.rule.code.as_str().as_bytes());
        hasher.update([0]);
        hasher.update(path.unwrap_or("").as_bytes());
        hasher.update([0]);
        let content = (self.line_key.as_deref())
            .or(self.subject.as_deref())
            .unwrap_or("");
        hasher.update(content.as_bytes());
        let digest = hasher.finalize();
        digest[..8].iter().map(|b| format!("{b:02x}")).collect()
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
