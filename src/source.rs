//! A file's text with its line index: the one place that turns positions into line/column
//! spans and that hands out displayable (redacted) source text.

use std::ops::Range;
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

use crate::finding::{Site, Snippet, Span};
use crate::redact;

/// The last component of a `/`-separated path.
pub fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Cargo's own files, read into the Cargo model rather than scanned as configuration.
pub fn is_cargo_manifest_or_lock(path: &str) -> bool {
    matches!(file_name(path), "Cargo.toml" | "Cargo.lock")
}

/// The fingerprint's view of a source line: a digest of its whitespace-normalised raw text.
/// Raw, because a different secret on an otherwise identical line (masked text would be the
/// same) must be a different finding; a digest, because the raw line may hold a secret and
/// fingerprints reach every output and the baseline.
fn line_digest(line: &str) -> String {
    let normalised = line.split_whitespace().collect::<Vec<_>>().join(" ");
    Sha256::digest(normalised.as_bytes())[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What kind of file this is, decided by name only.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    Rust,
    Yaml,
    Toml,
    Json,
    Env,
    Markdown,
    /// Any other text file (CODEOWNERS, Dockerfile, shell, ...).
    Text,
}

impl FileKind {
    pub fn of(rel_path: &str) -> FileKind {
        let name = file_name(rel_path);
        let lower = name.to_ascii_lowercase();
        let ext = lower.rsplit_once('.').map(|(_, e)| e);
        if lower == ".env" || lower.starts_with(".env.") || ext == Some("env") {
            return FileKind::Env;
        }
        match ext {
            Some("rs") => FileKind::Rust,
            Some("yml" | "yaml") => FileKind::Yaml,
            Some("toml") => FileKind::Toml,
            Some("json") => FileKind::Json,
            Some("md" | "markdown" | "mdx") => FileKind::Markdown,
            _ if lower == "cargo.lock" => FileKind::Toml,
            _ => FileKind::Text,
        }
    }
}

/// A scanned file: its path relative to the audited root (with `/` separators) and its text.
pub struct Source {
    pub path: String,
    pub text: String,
    line_starts: Vec<usize>,
    /// All ASCII: character columns are byte columns.
    ascii: bool,
    /// Byte offset of each character, built on first use for non-ASCII text.
    char_offsets: OnceLock<Vec<usize>>,
    /// Byte ranges of secret values, set once by secret detection before any check runs.
    /// Every text shown to a user passes through [`Source::display`], which masks them.
    secret_spans: OnceLock<Vec<Range<usize>>>,
}

impl Source {
    pub fn new(path: impl Into<String>, text: String) -> Source {
        let mut line_starts = vec![0];
        line_starts.extend(memchr::memchr_iter(b'\n', text.as_bytes()).map(|i| i + 1));
        Source {
            path: path.into(),
            ascii: text.is_ascii(),
            char_offsets: OnceLock::new(),
            text,
            line_starts,
            secret_spans: OnceLock::new(),
        }
    }

    pub fn line_count(&self) -> usize {
        self.line_starts.len()
    }

    /// 1-based line number of a byte offset.
    pub fn line_of(&self, offset: usize) -> usize {
        self.line_starts.partition_point(|&s| s <= offset)
    }

    /// Byte range of a 1-based line, without its line terminator.
    pub fn line_range(&self, line: usize) -> Range<usize> {
        let line = line.clamp(1, self.line_count());
        let start = self.line_starts[line - 1];
        let end = self
            .line_starts
            .get(line)
            .map_or(self.text.len(), |&next| next - 1);
        let end = if end > start && self.text.as_bytes()[end - 1] == b'\r' {
            end - 1
        } else {
            end
        };
        start..end.max(start)
    }

    pub fn line_text(&self, line: usize) -> &str {
        &self.text[self.line_range(line)]
    }

    /// Byte offset of a 1-based line and a 0-based column counted in characters
    /// (the convention of proc-macro2 and saphyr). Clamped to the line.
    pub fn offset(&self, line: usize, char_col: usize) -> usize {
        let range = self.line_range(line);
        if self.ascii {
            return (range.start + char_col).min(range.end);
        }
        let text = &self.text[range.clone()];
        range.start
            + text
                .char_indices()
                .nth(char_col)
                .map_or(text.len(), |(i, _)| i)
    }

    /// The byte range of a syn / proc-macro2 span (1-based lines, 0-based character columns).
    pub fn span_range(&self, span: proc_macro2::Span) -> Range<usize> {
        let (start, end) = (span.start(), span.end());
        let from = self.offset(start.line, start.column);
        let to = self.offset(end.line, end.column);
        from..to.max(from)
    }

    /// Byte offset of a character index (saphyr's positions count characters from the start).
    pub fn byte_of_char(&self, index: usize) -> usize {
        if self.ascii {
            return index.min(self.text.len());
        }
        let offsets = self
            .char_offsets
            .get_or_init(|| self.text.char_indices().map(|(i, _)| i).collect());
        offsets.get(index).copied().unwrap_or(self.text.len())
    }

    /// The line/column span of a byte range. Columns are 1-based and count characters; the
    /// end column is one past the last character (never 0).
    pub fn span(&self, range: Range<usize>) -> Span {
        let start = range.start.min(self.text.len());
        let end = range.end.clamp(start, self.text.len());
        let (start_line, start_column) = self.line_col(start);
        let (mut end_line, mut end_column) = self.line_col(end);
        if end == start {
            end_line = start_line;
            end_column = start_column + 1;
        }
        Span {
            start_line,
            start_column,
            end_line,
            end_column,
            bytes: start..end,
        }
    }

    /// A site for a finding at a byte range, with its masked snippet and line digest.
    pub fn site(&self, range: Range<usize>) -> Site {
        let span = self.span(range);
        Site {
            path: self.path.clone(),
            line_key: line_digest(self.line_text(span.start_line)),
            snippet: self.snippet(&span),
            span,
        }
    }

    /// The span of a whole line (without indentation).
    pub fn line_span(&self, line: usize) -> Span {
        let range = self.line_range(line);
        let text = &self.text[range.clone()];
        let indent = text.len() - text.trim_start().len();
        self.span(range.start + indent..range.end)
    }

    fn line_col(&self, offset: usize) -> (usize, usize) {
        let line = self.line_of(offset);
        let start = self.line_starts[line - 1];
        let column = self.text[start..offset].chars().count() + 1;
        (line, column)
    }

    /// Records where the secrets are. Called once, by detection, before any finding is made.
    pub fn set_secret_spans(&self, mut spans: Vec<Range<usize>>) {
        spans.sort_by_key(|s| (s.start, s.end));
        // Overlapping spans are one secret: mask their union once.
        let spans = merge_overlapping(spans);
        // A second call would mean a check ran before detection; keep the first, complete set.
        let _ = self.secret_spans.set(spans);
    }

    /// Source text for display, with every secret masked: those the rules found, and any
    /// other token on the range's lines that looks like a credential.
    pub fn display(&self, range: Range<usize>) -> String {
        redact::mask_spans(&self.text, range.clone(), &self.secrets_on(range))
    }

    /// The spans to mask on the lines of `range`: the secrets the rules found, and any other
    /// token there that looks like a credential; sorted, overlaps merged.
    fn secrets_on(&self, range: Range<usize>) -> std::borrow::Cow<'_, [Range<usize>]> {
        let found = self.secret_spans.get().map_or(&[][..], Vec::as_slice);
        let lines = self.line_range(self.line_of(range.start)).start
            ..self.line_range(self.line_of(range.end)).end;
        let mut secrets = redact::credential_like(&self.text, lines);
        if secrets.is_empty() {
            return std::borrow::Cow::Borrowed(found);
        }
        secrets.extend(found.iter().cloned());
        secrets.sort_by_key(|s| (s.start, s.end));
        std::borrow::Cow::Owned(merge_overlapping(secrets))
    }

    /// A message about the file (a parser's error) with every secret of the file that it
    /// quotes masked: in full as [`Source::display`] shows it, or in part (any run of 8 or more
    /// of its characters) as `****`.
    pub fn redact_message(&self, message: &str) -> String {
        const RUN: usize = 8;
        let secrets = self.secret_spans.get().map_or(&[][..], Vec::as_slice);
        let mut out = message.to_string();
        for range in secrets {
            let Some(raw) = self.text.get(range.clone()) else {
                continue;
            };
            if raw.is_empty() {
                continue;
            }
            if out.contains(raw) {
                out = out.replace(raw, &self.display(range.clone()));
            }
            let chars: Vec<(usize, char)> = raw.char_indices().collect();
            if chars.len() < RUN {
                continue;
            }
            for start in 0..=chars.len() - RUN {
                let from = chars[start].0;
                let to = chars.get(start + RUN).map_or(raw.len(), |&(i, _)| i);
                let piece = &raw[from..to];
                if out.contains(piece) {
                    out = out.replace(piece, "****");
                }
            }
        }
        out
    }

    /// The lines around a span, redacted, for rendering a finding.
    pub fn snippet(&self, span: &Span) -> Snippet {
        let first_line = span.start_line.saturating_sub(1).max(1);
        let last_line = (span.end_line + 1).min(self.line_count());
        let start = self.line_range(first_line).start;
        let end = self.line_range(last_line).end;
        // Masking changes lengths: measure the label in the masked text.
        let label_from = span.bytes.start.clamp(start, end);
        let label_to = span.bytes.end.clamp(label_from, end);
        // One look for secrets over the lines shown, for all three parts.
        let secrets = self.secrets_on(start..end);
        let shown = |range: Range<usize>| redact::mask_spans(&self.text, range, &secrets);
        let before = shown(start..label_from);
        let label = shown(label_from..label_to);
        let after = shown(label_to..end);
        let label_start = before.len();
        let label_end = label_start + label.len();
        let text = before + &label + &after;
        Snippet {
            first_line,
            text,
            label: label_start..label_end,
        }
    }
}

/// Sorted spans with each run of overlapping ones replaced by their union.
fn merge_overlapping(sorted: Vec<Range<usize>>) -> Vec<Range<usize>> {
    let mut merged: Vec<Range<usize>> = Vec::with_capacity(sorted.len());
    for span in sorted {
        match merged.last_mut() {
            Some(last) if span.start < last.end => last.end = last.end.max(span.end),
            _ => merged.push(span),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_count_characters_and_lines_from_one() {
        let src = Source::new("a.rs", "fn a() {}\nlet é = 1;\r\nend".to_string());
        let eq = src.text.find('=').unwrap();
        let span = src.span(eq..eq + 1);
        assert_eq!(
            (span.start_line, span.start_column, span.end_column),
            (2, 7, 8)
        );
        assert_eq!(src.line_text(2), "let é = 1;");
        assert_eq!(src.offset(2, 6), eq);
        assert_eq!(src.line_of(src.text.len()), 3);
    }

    #[test]
    fn syn_spans_map_to_byte_ranges() {
        let src = Source::new("a.rs", "fn a() {\n    let é = call(1);\n}\n".to_string());
        let file = syn::parse_file(&src.text).unwrap();
        let syn::Item::Fn(f) = &file.items[0] else {
            panic!()
        };
        let syn::Stmt::Local(local) = &f.block.stmts[0] else {
            panic!()
        };
        let init = &local.init.as_ref().unwrap().expr;
        let range = src.span_range(syn::spanned::Spanned::span(init));
        assert_eq!(&src.text[range], "call(1)");
    }

    #[test]
    fn messages_quoting_a_secret_are_masked_in_full_and_in_part() {
        let secret = "Zq8mV2pX7rL0wT5nQ4";
        let src = Source::new("a.toml", format!("password = \"{secret}\"\n"));
        let start = src.text.find(secret).unwrap();
        let span = start..start + secret.len();
        src.set_secret_spans(std::iter::once(span).collect());
        let full = src.redact_message(&format!("unknown value `{secret}`"));
        assert!(!full.contains(&secret[4..]), "{full}");
        let part = src.redact_message(&format!("expected `=`, found `{}`", &secret[3..14]));
        assert!(!part.contains(&secret[3..11]), "{part}");
        assert_eq!(src.redact_message("expected `]`"), "expected `]`");
    }

    #[test]
    fn empty_span_still_has_a_positive_width() {
        let src = Source::new("a", "abc".to_string());
        let span = src.span(1..1);
        assert_eq!(span.end_column, span.start_column + 1);
    }

    #[test]
    fn kinds_are_decided_by_name() {
        assert_eq!(FileKind::of("src/main.rs"), FileKind::Rust);
        assert_eq!(FileKind::of("deploy/app.YAML"), FileKind::Yaml);
        assert_eq!(FileKind::of(".env.production"), FileKind::Env);
        assert_eq!(FileKind::of("prod.env"), FileKind::Env);
        assert_eq!(FileKind::of("Cargo.lock"), FileKind::Toml);
        assert_eq!(FileKind::of(".github/CODEOWNERS"), FileKind::Text);
    }
}
