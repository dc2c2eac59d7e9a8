//! Allows: the single place that knows their syntax and decides when they apply.
//!
//! - `// prodready: allow(SEC002) reason text` (or `#` in YAML, TOML, .env and shell) on a
//!   finding's line or the line above suppresses that finding. Several codes:
//!   `allow(SEC002, SEC003)`.
//! - `// prodready: allow-file(OBS001) reason` in the first 10 lines of a file suppresses the
//!   rule's findings anywhere in that file.
//! - `[[allow]]` entries in prodready.toml (read by `config`) suppress rules by path.
//!
//! Every form takes an expiry, `until=2027-03-31` after the parenthesis (`until = "..."` in the
//! configuration): from the day after, the allow suppresses nothing and the findings it used to
//! cover say so. The reason is mandatory; an allow without one suppresses nothing.
//! Suppressed findings are kept and counted; ineffective allows are reported as OPS006.

use std::fmt;
use std::ops::{Range, RangeInclusive};
use std::sync::LazyLock;
use std::time::{SystemTime, UNIX_EPOCH};

use regex::Regex;
use serde::Serialize;

use crate::finding::Finding;
use crate::registry::Code;
use crate::registry::{Rule, registry};
use crate::source::{FileKind, Source};

/// A file-wide allow is read only in a file's first lines, where a reader sees it.
pub const FILE_ALLOW_LINES: usize = 10;

/// The directive after a comment marker of the file's language, at the start of a line or
/// after whitespace (so that a string or a doc example that shows the syntax is not one).
fn directive(markers: &str) -> Regex {
    Regex::new(&format!(
        r"(?m)(?:^|[ \t])(?:{markers})[ \t]*prodready:[ \t]*allow(-file)?\(([^)\r\n]*)\)[ \t]*([^\r\n]*)"
    ))
    .expect("allow directive regex")
}

static RUST: LazyLock<Regex> = LazyLock::new(|| directive(r"//|/\*"));
static HASH: LazyLock<Regex> = LazyLock::new(|| directive("#"));
static MARKDOWN: LazyLock<Regex> = LazyLock::new(|| directive("<!--"));
static ANY: LazyLock<Regex> = LazyLock::new(|| directive(r"//|#|/\*|<!--|--|;"));
static UNTIL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^until=(\S*)\s*").expect("until regex"));

/// A calendar day, the unit of an allow's expiry.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct Date {
    year: u32,
    month: u32,
    day: u32,
}

impl Date {
    /// Parses `YYYY-MM-DD`, rejecting days that do not exist.
    pub fn parse(text: &str) -> Option<Date> {
        let bytes = text.as_bytes();
        let well_formed = bytes.len() == 10
            && bytes[4] == b'-'
            && bytes[7] == b'-'
            && bytes
                .iter()
                .enumerate()
                .all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit());
        if !well_formed {
            return None;
        }
        let date = Date {
            year: text[..4].parse().ok()?,
            month: text[5..7].parse().ok()?,
            day: text[8..].parse().ok()?,
        };
        let leap = date.year.is_multiple_of(4)
            && (!date.year.is_multiple_of(100) || date.year.is_multiple_of(400));
        let days_in_month = match date.month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return None,
        };
        (1..=days_in_month).contains(&date.day).then_some(date)
    }

    /// The civil (proleptic Gregorian) date of a day counted from 1970-01-01
    /// (Howard Hinnant's `civil_from_days`).
    fn from_unix_days(days: u64) -> Date {
        let z = days + 719_468;
        let era = z / 146_097;
        let day_of_era = z % 146_097;
        let year_of_era =
            (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let shifted_month = (5 * day_of_year + 2) / 153;
        let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
        let month = if shifted_month < 10 {
            shifted_month + 3
        } else {
            shifted_month - 9
        };
        let year = year_of_era + era * 400 + u64::from(month <= 2);
        Date {
            year: year as u32,
            month: month as u32,
            day: day as u32,
        }
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// The variable that pins "today" for expiry decisions. It exists for tests, which must not
/// depend on the day they run; nothing else should set it.
pub const TODAY_VARIABLE: &str = "PRODREADY_TODAY";

/// Today's date (UTC), against which every allow's expiry is judged: the one place the clock
/// is read.
pub fn today() -> Result<Date, String> {
    if let Ok(pinned) = std::env::var(TODAY_VARIABLE) {
        return Date::parse(&pinned)
            .ok_or_else(|| format!("{TODAY_VARIABLE}=`{pinned}` is not a YYYY-MM-DD date"));
    }
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|_| "the system clock is before 1970".to_string())?
        .as_secs();
    Ok(Date::from_unix_days(seconds / 86_400))
}

/// Where an allow is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AllowKind {
    /// `allow(...)` on the finding's line or the line above.
    Comment,
    /// `allow-file(...)` at the top of the file.
    File,
    /// `[[allow]]` in the configuration.
    Config,
    /// `prodready.dev/allow` on a Kubernetes resource: it covers the resource's lines.
    Annotation,
}

impl AllowKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AllowKind::Comment => "comment",
            AllowKind::File => "file",
            AllowKind::Config => "config",
            AllowKind::Annotation => "annotation",
        }
    }
}

/// One allow, of any form.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Allow {
    pub kind: AllowKind,
    /// The lines whose findings it suppresses: for an allow comment, its own line and the
    /// next; file-wide and configuration allows cover every line (and line 0, a finding about
    /// the file as a whole). A misplaced `allow-file` covers none.
    pub lines: RangeInclusive<usize>,
    /// The rules it names: codes as written (upper-cased) in comments; codes, prefixes or
    /// names (as for `select`) in the configuration.
    pub codes: Vec<String>,
    /// The reason, if one was given.
    pub reason: Option<String>,
    /// The expiry as given: a date, or the text that is not one.
    pub until: Option<Result<Date, String>>,
    /// Byte range of the directive (of the `[[allow]]` entry in the configuration file).
    pub range: Range<usize>,
}

/// Every line of a file, including line 0 (a finding about the whole file).
const EVERY_LINE: RangeInclusive<usize> = 0..=usize::MAX;

/// No line at all: where a misplaced `allow-file` applies.
#[allow(clippy::reversed_empty_ranges)]
const NO_LINE: RangeInclusive<usize> = 1..=0;

impl Allow {
    /// A configuration allow; `config` checks its paths, dates and spans.
    pub fn config(
        rules: Vec<String>,
        reason: Option<String>,
        until: Option<Date>,
        range: Range<usize>,
    ) -> Allow {
        Allow {
            kind: AllowKind::Config,
            lines: EVERY_LINE,
            codes: rules,
            reason,
            until: until.map(Ok),
            range,
        }
    }

    /// The rules each selector names (empty for an unknown one).
    fn selected(&self, selector: &str) -> Vec<&'static Rule> {
        match self.kind {
            AllowKind::Config => registry().matching(selector),
            AllowKind::Comment | AllowKind::File | AllowKind::Annotation => registry()
                .rules()
                .iter()
                .filter(|r| r.code.as_str() == selector)
                .collect(),
        }
    }

    /// Every known rule it names.
    pub fn rules(&self) -> Vec<&'static Rule> {
        let mut rules: Vec<&Rule> = self.codes.iter().flat_map(|c| self.selected(c)).collect();
        rules.sort_by_key(|r| r.code);
        rules.dedup_by(|a, b| a.code == b.code);
        rules
    }

    pub fn names(&self, code: Code) -> bool {
        self.codes
            .iter()
            .any(|c| self.selected(c).iter().any(|r| r.code == code))
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
            kind: AllowKind::Annotation,
            until: None,
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
            .filter(|c| self.selected(c).is_empty())
            .map(String::as_str)
            .collect()
    }

    /// The day after which it stops working, if it expired before `today`.
    pub fn expired(&self, today: Date) -> Option<Date> {
        match self.until {
            Some(Ok(until)) if until < today => Some(until),
            _ => None,
        }
    }

    /// Whether it suppresses anything at all on `today`: it has a reason, a valid expiry not
    /// yet past, and a place it is read from.
    pub fn in_force(&self, today: Date) -> bool {
        self.reason.is_some()
            && !matches!(self.until, Some(Err(_)))
            && self.expired(today).is_none()
            && !self.lines.is_empty()
    }

    /// Whether it would suppress a finding of `code` on `line` if it were in force. (The
    /// engine matches a comment's file, or a configuration allow's paths.)
    pub fn reaches(&self, code: Code, line: usize) -> bool {
        self.lines.contains(&line) && self.names(code)
    }

    /// Whether this allow suppresses a finding of `code` on `line` on `today`.
    pub fn covers(&self, code: Code, line: usize, today: Date) -> bool {
        self.in_force(today) && self.reaches(code, line)
    }

    /// How the allow reads in messages: `allow(SEC002)`, `allow-file(OBS001)`, `[[allow]] RES`.
    pub fn label(&self) -> String {
        let codes = self.codes.join(", ");
        match self.kind {
            AllowKind::Comment => format!("allow({codes})"),
            AllowKind::File => format!("allow-file({codes})"),
            AllowKind::Config => format!("[[allow]] for {codes}"),
            AllowKind::Annotation => format!("prodready.dev/allow: {codes}"),
        }
    }

    /// Why the allow is ineffective, as OPS006 reports it, or `None` when it is fine. `used`:
    /// it suppressed some finding; `judged`: every rule it names ran and applied, so an unused
    /// allow is really unused (not merely deselected).
    pub fn defect(&self, today: Date, used: bool, judged: bool) -> Option<String> {
        let label = self.label();
        let unknown = self.unknown_codes();
        Some(if self.reason.is_none() {
            format!("{label} gives no reason, so it suppresses nothing")
        } else if let Some(Err(text)) = &self.until {
            format!("{label} has until={text}, not a YYYY-MM-DD date, so it suppresses nothing")
        } else if let Some(until) = self.expired(today) {
            format!(
                "{label} expired on {until}: it suppresses nothing; fix the findings or renew it"
            )
        } else if self.lines.is_empty() {
            format!(
                "{label} is read only in the first {FILE_ALLOW_LINES} lines of a file, so it suppresses nothing"
            )
        } else if !unknown.is_empty() {
            format!("{label} names unknown rule(s): {}", unknown.join(", "))
        } else if !used && judged {
            match self.kind {
                AllowKind::Comment => format!("{label} suppresses nothing on its line or the next"),
                AllowKind::File => format!("{label} suppresses nothing in this file"),
                AllowKind::Config => format!("{label} suppresses nothing"),
                AllowKind::Annotation => format!("{label} suppresses nothing in this resource"),
            }
        } else {
            return None;
        })
    }

    /// The OPS006 finding this allow earns if it turns out to be ineffective, built while its
    /// file's text is at hand; the engine decides whether to report it (see `defect`).
    pub fn ineffective(&self, source: &Source, message: String) -> Finding {
        Finding::at(Code::OPS006, source, self.range.clone(), message)
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
            let rest = shown(3);
            let rest = rest
                .trim()
                .trim_end_matches("*/")
                .trim_end_matches("-->")
                .trim();
            let (until, reason) = match UNTIL.captures(rest) {
                Some(until) => {
                    let text = &until[1];
                    (
                        Some(Date::parse(text).ok_or_else(|| text.to_string())),
                        &rest[until.get(0).expect("match").end()..],
                    )
                }
                None => (None, rest),
            };
            let line = source.line_of(whole.start() + leading);
            let (kind, lines) = if cap.get(1).is_none() {
                (AllowKind::Comment, line..=line + 1)
            } else if line <= FILE_ALLOW_LINES {
                (AllowKind::File, EVERY_LINE)
            } else {
                (AllowKind::File, NO_LINE)
            };
            Allow {
                kind,
                lines,
                codes: shown(2)
                    .split(',')
                    .map(|c| c.trim().to_ascii_uppercase())
                    .filter(|c| !c.is_empty())
                    .collect(),
                reason: (!reason.is_empty()).then(|| reason.to_string()),
                until,
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
        let today = Date::parse("2026-06-01").unwrap();
        assert!(
            allows[0].covers(Code::SEC003, 2, today) && !allows[0].covers(Code::SEC003, 3, today)
        );
        assert_eq!(allows[1].reason, None);
        assert!(
            !allows[1].covers(Code::RES001, 3, today),
            "no reason, no suppression"
        );
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

    #[test]
    fn file_wide_allows_and_expiry() {
        let text = format!(
            "// prodready: allow-file(RES002) until=2026-03-31 metrics arrive with the next release\n{}// prodready: allow-file(RES003) written too late\n// prodready: allow(RES001) until=soon retries are idempotent\n",
            "fn f() {}\n".repeat(FILE_ALLOW_LINES)
        );
        let allows = parse(&Source::new("a.rs", text), FileKind::Rust);
        let (file_wide, late, bad_date) = (&allows[0], &allows[1], &allows[2]);
        assert_eq!(file_wide.kind, AllowKind::File);
        assert_eq!(
            file_wide.reason.as_deref(),
            Some("metrics arrive with the next release")
        );
        let (before, on, after) = (
            Date::parse("2026-03-30").unwrap(),
            Date::parse("2026-03-31").unwrap(),
            Date::parse("2026-04-01").unwrap(),
        );
        assert!(
            file_wide.covers(Code::RES002, 0, before) && file_wide.covers(Code::RES002, 500, on)
        );
        assert!(!file_wide.covers(Code::RES002, 5, after));
        assert_eq!(file_wide.expired(after), Some(on));
        assert!(
            file_wide
                .defect(after, false, true)
                .unwrap()
                .contains("expired on 2026-03-31")
        );
        assert!(!late.covers(Code::RES003, 12, on));
        assert!(
            late.defect(on, false, true)
                .unwrap()
                .contains("first 10 lines")
        );
        assert_eq!(bad_date.until, Some(Err("soon".to_string())));
        assert_eq!(bad_date.reason.as_deref(), Some("retries are idempotent"));
        assert!(!bad_date.covers(Code::RES001, 13, on));
    }

    #[test]
    fn dates_are_checked_and_the_clock_is_read_as_a_civil_date() {
        assert!(Date::parse("2028-02-29").is_some());
        for bad in [
            "2027-02-29",
            "2027-13-01",
            "2027-04-31",
            "27-04-01",
            "2027-4-1",
            "2027-04-0a",
        ] {
            assert_eq!(Date::parse(bad), None, "{bad}");
        }
        assert_eq!(Date::from_unix_days(0).to_string(), "1970-01-01");
        assert_eq!(Date::from_unix_days(11_016).to_string(), "2000-02-29");
        assert_eq!(Date::from_unix_days(20_513).to_string(), "2026-03-01");
    }
}
