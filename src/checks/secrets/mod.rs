//! SEC: secrets. Detection runs on every file whatever the selection, because its spans feed
//! redaction; the SEC rules then only decide which detections become findings.

pub mod fake;
mod names;
pub mod patterns;
mod text;

use std::collections::BTreeSet;
use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;
use serde::Deserialize;
use syn::visit::{self, Visit};

use super::{FileContext, Parsed, ProjectContext, TreeQuery};
use crate::facts::settings::{Setting, Value};
use crate::finding::{Finding, SecretValue};
use crate::redact::mask_value;
use crate::registry::Code;
use crate::registry::Severity;
use crate::source::{FileKind, Source};
use names::{SecretName, classify, is_secret_value};
use patterns::CATALOGUE;

/// A secret value found in a file.
#[derive(Debug, Clone)]
pub struct Detection {
    /// The rule that describes it: SEC001 (known format), SEC002 (assigned to a secret's name),
    /// SEC003 (password in a URL).
    pub code: Code,
    /// Byte range of the secret value: masked in every output.
    pub secret: Range<usize>,
    /// Where the finding points: the secret, or a whole key block from its header.
    pub anchor: Range<usize>,
    /// What it is: the format's description, or the name it is assigned to.
    pub what: String,
    /// The vendor's page on revoking a credential of its format (SEC001).
    pub vendor_docs: Option<&'static str>,
    /// A checksum validated: an issued credential, critical even in test code.
    pub verified: bool,
    /// A URL to a local or compose-service host.
    pub local: bool,
    /// The text calls it a sample, or it is a CI service container's password (see
    /// `finding::SecretValue::Sample`).
    pub sample: bool,
    /// A regular expression beside it describes it (see `finding::SecretValue::FormatExample`).
    pub format_example: bool,
}

impl Detection {
    /// SEC002: the literal at `range` assigned to the secret name `name`.
    fn assignment(name: &str, range: Range<usize>, sample: bool, local: bool) -> Detection {
        Detection {
            code: Code::SEC002,
            anchor: range.clone(),
            secret: range,
            what: format!("`{name}`"),
            vendor_docs: None,
            verified: false,
            local,
            sample,
            format_example: false,
        }
    }
}

/// The names SEC002 reads a secret under, whatever their case (with Unicode's folding: KELVIN
/// SIGN is a `k`, LONG S an `s`). None is longer than `LONGEST_SECRET_NAME` characters.
static SECRET_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)pass(?:wd|word|phrase)|secret|token|api_?key|apikey|private_?key|credential|(?:access|signing|encryption|master)[_-]?key",
    )
    .unwrap()
});
const LONGEST_SECRET_NAME: usize = 14;

/// A function taking a parameter named for a secret, or a builder method whose parameters are
/// secrets by name (`KNOWN_PARAMETERS`).
static SECRET_PARAMETER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?i)(?-u:\b)fn[ \t\r\n]+[0-9A-Za-z_]+[ \t\r\n]*(?:<[^>]*>)?[ \t\r\n]*\([^)]*(?:pass(?:wd|word)|secret|token|api_?key|credential)",
        r"|(?-u:\b)(?:basic_auth|bearer_auth|with_basic_auth)(?-u:\b)",
    ))
    .unwrap()
});

/// One of these is in every secret name (`SECRET_NAME`), in any case the same Unicode `(?i)`
/// folds. Searched for, they are several times faster to find than the names.
static NAME_FRAGMENT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new("(?i)pass|secret|token|key|credential").expect("a valid regex"));

/// Whether a secret's name is followed closely by a string: a `"` within 60 characters after
/// it, with no `;`, `{` or `}` between. Looser than a search from every name, never stricter:
/// fragments of names (`NAME_FRAGMENT`) are found left to right without overlaps, so a name's
/// own fragment may be hidden by one found before it, but that one then overlaps the name.
/// Either way the name overlaps the found fragment, so it lies within `LONGEST_SECRET_NAME - 1`
/// characters on each side of it: the name is looked for there, and the quote in a window
/// `LONGEST_SECRET_NAME` characters longer.
fn quoted_after_a_secret_name(text: &str) -> bool {
    const WITHIN: usize = 60;
    NAME_FRAGMENT.find_iter(text).any(|fragment| {
        let mut after = text[fragment.end()..]
            .chars()
            .take(LONGEST_SECRET_NAME + WITHIN + 1);
        let quoted = after
            .find(|c| matches!(c, '"' | ';' | '{' | '}'))
            .is_some_and(|c| c == '"');
        quoted && SECRET_NAME.is_match(around(text, fragment.range(), LONGEST_SECRET_NAME - 1))
    })
}

/// The text around `range` with up to `chars` more characters on each side.
fn around(text: &str, range: Range<usize>, chars: usize) -> &str {
    let before = text[..range.start].char_indices().rev().take(chars).last();
    let start = before.map_or(range.start, |(at, _)| at);
    let end = text[range.end..]
        .char_indices()
        .nth(chars)
        .map_or(text.len(), |(at, _)| range.end + at);
    &text[start..end]
}

/// Whether a Rust file may hold a secret: a SEC002-shaped assignment (a secret-like name
/// followed closely by a string literal, or a function taking a parameter so named), or a
/// text-level detection (a known format, a URL with a password). Decides whether the file is
/// worth parsing when no other selected rule needs its tree; cheap for the files it rejects.
pub fn may_hold_secrets(source: &Source, in_text: &[Detection]) -> bool {
    // A secret's name holds a fragment of one (`NAME_FRAGMENT`), and a builder method whose
    // parameters are secrets ends in `_auth`. Two Rust files in three hold none, and this
    // search is many times faster than the others. (The regex's literal search is also about
    // four times faster here than an ASCII case-insensitive Aho-Corasick automaton.)
    static HINT_FRAGMENTS: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(&format!("{}|_auth", NAME_FRAGMENT.as_str())).expect("a valid regex")
    });
    let text = source.text.as_str();
    !in_text.is_empty()
        || (HINT_FRAGMENTS.is_match(text)
            && (quoted_after_a_secret_name(text) || SECRET_PARAMETER.is_match(text)))
}

/// Secrets are detected whatever the selection (their spans mask every output): a Rust file
/// that may hold one is parsed for the structured detection. Beyond `may_hold_secrets`, the
/// file's code (comments left out) must show a secret's name and a string.
pub fn needs_tree(query: &TreeQuery<'_>) -> bool {
    !query.ctx.secrets.is_empty()
        || (may_hold_secrets(query.ctx.source, query.ctx.secrets)
            && code_may_hold_secret(query.tokens()))
}

/// Whether a Rust file's code, read token by token with comments left out, holds what SEC002
/// reads there: a name `names::classify` calls a secret's (an identifier, or a string: a map or
/// `json!` key, `.env("API_TOKEN", ..)`) and a string literal that could be its value
/// (`names::is_secret_value`: at least 4 characters, and for a name that needs a high-entropy
/// value at least `min_length` with a digit; escapes only shorten a literal). The value follows
/// the name within the statement (no `;`, `{` or `}` between), or, for a function's parameter
/// (its value comes from a call), anywhere in the file.
fn code_may_hold_secret(tokens: &[crate::words::CodeToken<'_>]) -> bool {
    use ra_ap_rustc_lexer::{LiteralKind, TokenKind};
    let mut unread = UnreadTokens::default();
    let mut seen = SecretNames::default();
    for (index, &(kind, piece)) in tokens.iter().enumerate() {
        if unread.skips(tokens, index) {
            continue;
        }
        let after_colon = seen.colon_after.take();
        if let Some(name) = after_colon
            && kind != TokenKind::Colon
        {
            seen.typed.insert(name);
        }
        match kind {
            TokenKind::Ident => {
                if piece == "fn" {
                    seen.in_signature = true;
                }
                seen.read_name(piece);
            }
            TokenKind::RawIdent => seen.read_name(&piece[2..]),
            TokenKind::Literal {
                kind: kind @ (LiteralKind::Str { .. } | LiteralKind::RawStr { .. }),
                ..
            } => {
                let literal = StringLiteral::read(kind, piece);
                if seen
                    .pending
                    .is_some_and(|kind| could_be_its_value(kind, literal))
                {
                    return true;
                }
                seen.literals.push(literal);
                seen.read_name(literal.content);
            }
            TokenKind::Semi | TokenKind::OpenBrace | TokenKind::CloseBrace => {
                seen.pending = None;
                seen.in_signature &= seen.parens > 0;
            }
            TokenKind::OpenParen => seen.parens += 1,
            TokenKind::CloseParen => seen.parens = seen.parens.saturating_sub(1),
            // `name:` in a signature's parentheses is a parameter; `a::b` is a path.
            TokenKind::Colon if after_colon.is_none() && seen.in_signature && seen.parens > 0 => {
                seen.colon_after = seen.pending;
            }
            _ => {}
        }
    }
    seen.typed.extend(seen.colon_after);
    seen.typed.iter().any(|&kind| {
        seen.literals
            .iter()
            .any(|&literal| could_be_its_value(kind, literal))
    })
}

/// A string literal as its code token shows it: the text between its quotes, and whether that
/// text is its value (`exact`): a terminated `".."` with no escape, or a terminated raw string,
/// and no carriage return (which a line break's CR LF loses in the value).
#[derive(Clone, Copy)]
struct StringLiteral<'t> {
    content: &'t str,
    exact: bool,
}

impl<'t> StringLiteral<'t> {
    fn read(kind: ra_ap_rustc_lexer::LiteralKind, piece: &'t str) -> StringLiteral<'t> {
        use ra_ap_rustc_lexer::LiteralKind;
        let between = match kind {
            LiteralKind::Str { terminated: true } => piece
                .strip_prefix('"')
                .and_then(|p| p.strip_suffix('"'))
                .filter(|content| !content.contains('\\')),
            LiteralKind::RawStr { n_hashes: Some(n) } => {
                let hashes = "#".repeat(usize::from(n));
                (piece.strip_prefix('r'))
                    .and_then(|p| p.strip_prefix(hashes.as_str()))
                    .and_then(|p| p.strip_suffix(hashes.as_str()))
                    .and_then(|p| p.strip_prefix('"'))
                    .and_then(|p| p.strip_suffix('"'))
            }
            _ => None,
        };
        match between.filter(|content| !content.contains('\r')) {
            Some(content) => StringLiteral {
                content,
                exact: true,
            },
            None => StringLiteral {
                content: piece
                    .trim_start_matches('r')
                    .trim_matches('#')
                    .trim_matches('"'),
                exact: false,
            },
        }
    }
}

/// Whether a string literal could be the value of a secret so named, as far as the tokens
/// tell: what `is_secret_value` refuses whatever the name is judged where the literal's text is
/// its value; else only its length, which escapes only shorten.
fn could_be_its_value(kind: SecretName, literal: StringLiteral<'_>) -> bool {
    let content = literal.content;
    let refused = literal.exact && names::refused_whatever_the_name(content);
    !refused
        && match kind {
            SecretName::AnyValue => content.trim().len() >= 4,
            SecretName::HighEntropyValue => {
                content.trim().len() >= names::min_length()
                    && content.bytes().any(|b| b.is_ascii_digit())
            }
        }
}

/// The tokens `code_may_hold_secret` leaves out, as SEC002 does not read them.
#[derive(Default)]
struct UnreadTokens {
    /// A macro's tokens are opaque to the syntax tree SEC002 reads, but for the map macros'
    /// (`RustAssignments::visit_macro`): the others are skipped, to this index.
    skip_to: usize,
    /// Attributes (`#[link_name = ".."]`, `#[serde(rename = "password")]`) are not code SEC002
    /// reads: their brackets are skipped, with the `#` (and `!`) that may open one.
    attribute_depth: usize,
    opens_attribute: bool,
}

impl UnreadTokens {
    fn skips(&mut self, tokens: &[crate::words::CodeToken<'_>], index: usize) -> bool {
        use ra_ap_rustc_lexer::TokenKind;
        if index < self.skip_to {
            return true;
        }
        let (kind, piece) = tokens[index];
        if kind == TokenKind::Ident
            && !MAP_MACROS.contains(&piece)
            && let Some(end) = macro_body_end(tokens, index)
        {
            self.skip_to = end;
            return true;
        }
        // An ABI (`extern "system" fn`) is no expression: never a value, nor a key's name.
        let abi = matches!(kind, TokenKind::Literal { .. })
            && index
                .checked_sub(1)
                .is_some_and(|before| tokens[before] == (TokenKind::Ident, "extern"));
        abi || self.skips_attribute(kind)
    }

    fn skips_attribute(&mut self, kind: ra_ap_rustc_lexer::TokenKind) -> bool {
        use ra_ap_rustc_lexer::TokenKind;
        if self.attribute_depth > 0 {
            match kind {
                TokenKind::OpenBracket => self.attribute_depth += 1,
                TokenKind::CloseBracket => self.attribute_depth -= 1,
                _ => {}
            }
            return true;
        }
        match kind {
            TokenKind::Pound => {
                self.opens_attribute = true;
                true
            }
            TokenKind::Bang if self.opens_attribute => true,
            TokenKind::OpenBracket if self.opens_attribute => {
                self.opens_attribute = false;
                self.attribute_depth = 1;
                true
            }
            _ => {
                self.opens_attribute = false;
                false
            }
        }
    }
}

/// What `code_may_hold_secret` has read of the secrets' names and the literals.
#[derive(Default)]
struct SecretNames<'t> {
    /// The name waiting for its value.
    pending: Option<SecretName>,
    /// A name just followed by one `:`.
    colon_after: Option<SecretName>,
    /// The kinds of the typed names (a set: a file may type a thousand `key: &str` parameters,
    /// and each literal is judged against each kind).
    typed: BTreeSet<SecretName>,
    literals: Vec<StringLiteral<'t>>,
    /// Inside a function's signature (from `fn` to its body or `;`), and how deep in
    /// parentheses.
    in_signature: bool,
    parens: usize,
}

impl SecretNames<'_> {
    /// A name that calls a secret's waits for its value.
    fn read_name(&mut self, candidate: &str) {
        if let Some(kind) = secret_name_kind(candidate) {
            // Two names before one value: keep the weaker demand on it.
            let any_value =
                kind == SecretName::AnyValue || self.pending == Some(SecretName::AnyValue);
            self.pending = Some(if any_value {
                SecretName::AnyValue
            } else {
                kind
            });
        }
    }
}

/// What a name asks of a secret's value, if it names one: a method whose parameters are
/// secrets (`KNOWN_PARAMETERS`), or a name `names::classify` calls a secret's.
fn secret_name_kind(candidate: &str) -> Option<SecretName> {
    let known = KNOWN_PARAMETERS
        .iter()
        .find(|(method, _)| *method == candidate)
        .and_then(|(_, params)| params.iter().filter_map(|p| names::classify(p)).min());
    known.or_else(|| {
        may_name_a_secret(candidate)
            .then(|| names::classify(candidate))
            .flatten()
    })
}

/// Whether a name holds, whatever its case, a fragment every secret name holds (`names` data:
/// secret words, pairs, `token`): `pass`, `secret`, `credential`, `key`, `token`, or a letter
/// `names::classify` lower-cases into one (`words::lowercases_into_ascii`). Called on every
/// identifier and string of a file that may hold a secret: a byte loop, not a searcher.
fn may_name_a_secret(name: &str) -> bool {
    let bytes = name.as_bytes();
    let at = |i: usize, fragment: &[u8]| {
        bytes
            .get(i..i + fragment.len())
            .is_some_and(|window| window.eq_ignore_ascii_case(fragment))
    };
    (0..bytes.len()).any(|i| match bytes[i].to_ascii_lowercase() {
        b'p' => at(i, b"pass"),
        b's' => at(i, b"secret"),
        b'c' => at(i, b"credential"),
        b'k' => at(i, b"key"),
        b't' => at(i, b"token"),
        _ => false,
    }) || crate::words::lowercases_into_ascii(name)
}

/// Where the macro invocation named at `index` ends (`name!(..)`, `name![..]`, `name!{..}`,
/// `macro_rules! name {..}`): the index after its closing delimiter, or the end of the tokens.
fn macro_body_end(tokens: &[crate::words::CodeToken<'_>], index: usize) -> Option<usize> {
    use ra_ap_rustc_lexer::TokenKind;
    let is_open = |at: usize| {
        tokens.get(at).is_some_and(|(kind, _)| {
            matches!(
                kind,
                TokenKind::OpenParen | TokenKind::OpenBracket | TokenKind::OpenBrace
            )
        })
    };
    if tokens
        .get(index + 1)
        .is_none_or(|(kind, _)| *kind != TokenKind::Bang)
    {
        return None;
    }
    let open = if is_open(index + 2) {
        index + 2
    } else if tokens[index].1 == "macro_rules"
        && tokens
            .get(index + 2)
            .is_some_and(|(kind, _)| *kind == TokenKind::Ident)
        && is_open(index + 3)
    {
        index + 3
    } else {
        return None;
    };
    let mut depth = 0usize;
    for (at, (kind, _)) in tokens.iter().enumerate().skip(open) {
        match kind {
            TokenKind::OpenParen | TokenKind::OpenBracket | TokenKind::OpenBrace => depth += 1,
            TokenKind::CloseParen | TokenKind::CloseBracket | TokenKind::CloseBrace => {
                depth -= 1;
                if depth == 0 {
                    return Some(at + 1);
                }
            }
            _ => {}
        }
    }
    Some(tokens.len())
}

/// Finds every secret in a file: [`detect_in_text`] and [`detect_in_structure`] together.
pub fn detect(source: &Source, kind: FileKind, parsed: &Parsed<'_>) -> Vec<Detection> {
    detect_in_structure(source, kind, parsed, detect_in_text(source, kind))
}

/// The secrets found in the text alone: known formats (SEC001) and URLs with passwords
/// (SEC003). Cargo.lock holds checksums, never secrets.
pub fn detect_in_text(source: &Source, kind: FileKind) -> Vec<Detection> {
    if crate::source::file_name(&source.path) == "Cargo.lock" {
        return Vec::new();
    }
    let mut found: Vec<Detection> = CATALOGUE
        .scan(&source.text)
        .into_iter()
        .map(|m| Detection {
            sample: CATALOGUE.patterns[m.pattern].data.samples && called_a_sample(source, &m.range),
            format_example: !m.verified
                && described_beside(source, &m.range)
                && !called_issued(source, &m.range),
            code: Code::SEC001,
            anchor: if source.line_of(m.whole.start) == source.line_of(m.range.start) {
                m.range.clone()
            } else {
                m.whole.start..m.range.end
            },
            secret: m.range,
            what: CATALOGUE.patterns[m.pattern].data.description.clone(),
            vendor_docs: Some(CATALOGUE.patterns[m.pattern].data.docs.as_str()),
            verified: m.verified,
            local: false,
        })
        .collect();
    found.extend(url_credentials(source, kind));
    found
}

/// `in_text` (from [`detect_in_text`]) with the secrets the parsed forms show: values assigned
/// to secret names (SEC002) in settings and Rust. Sorted by position.
pub fn detect_in_structure(
    source: &Source,
    kind: FileKind,
    parsed: &Parsed<'_>,
    in_text: Vec<Detection>,
) -> Vec<Detection> {
    let mut found = in_text;
    if let Some(settings) = parsed.settings {
        found.extend(setting_assignments(source, kind, settings));
    }
    if let Some(rust) = &parsed.rust {
        let mut visitor = RustAssignments::new(source, rust.ast);
        visitor.visit_file(rust.ast);
        found.extend(visitor.found);
    }
    found.extend(text::assignments(source, kind));
    found.sort_by_key(|d| (d.secret.start, d.code));
    found
}

/// The detections that become findings: one value, one finding. Where detections overlap, the
/// first by position (a known format before an assignment at the same place) is kept. Every
/// detection, kept or not, is masked.
fn reported(detections: &[Detection]) -> Vec<&Detection> {
    let mut kept: Vec<&Detection> = Vec::with_capacity(detections.len());
    // Sorted by start, and the kept ones do not overlap: only the last kept can reach a later
    // detection (a file with 100,000 secrets stays linear).
    debug_assert!(detections.is_sorted_by_key(|d| d.secret.start));
    for detection in detections {
        let overlaps = kept
            .last()
            .is_some_and(|k| detection.secret.start < k.secret.end);
        if !overlaps {
            kept.push(detection);
        }
    }
    kept
}

/// The finding a detection makes, its value shown masked (`shown`): at the whole key block for
/// SEC001 (whose fix links the vendor's revocation page), at the value otherwise; a password in
/// a URL to a local host is `low`.
fn finding_of(ctx: &FileContext<'_>, detection: &Detection, shown: &str) -> Finding {
    let what = &detection.what;
    let (range, message) = match detection.code {
        Code::SEC001 => (
            detection.anchor.clone(),
            format!("{what} committed: {shown}"),
        ),
        Code::SEC002 => (
            detection.secret.clone(),
            format!("{what} is assigned a literal secret: {shown}"),
        ),
        _ => (
            detection.secret.clone(),
            format!("{what} carries a password: {shown}"),
        ),
    };
    let mut finding = Finding::at(detection.code, ctx.source, range, message);
    if let Some(docs) = detection.vendor_docs {
        finding = finding.with_fix(format!(
            "revoke it (see {docs}), remove it from the code and its history, and load it from a secret store or the environment"
        ));
    }
    if detection.code == Code::SEC003 && detection.local {
        finding = finding.with_severity(Severity::Low);
    }
    finding
}

pub fn check_file(ctx: &FileContext<'_>, _parsed: &Parsed<'_>, out: &mut Vec<Finding>) {
    for detection in reported(ctx.secrets) {
        if !ctx.rules.enabled(detection.code) {
            continue;
        }
        let value = &ctx.source.text[detection.secret.clone()];
        let shown = mask_value(value);
        let finding = finding_of(ctx, detection, &shown);
        let value = if detection.verified {
            SecretValue::Issued
        } else if detection.local {
            SecretValue::Local
        } else if detection.format_example {
            SecretValue::FormatExample
        } else if detection.sample || named_as_sample(&ctx.source.path) {
            SecretValue::Sample
        } else {
            SecretValue::Unknown
        };
        out.push(finding.with_value(value));
    }
    if ctx.rules.enabled(Code::SEC004) {
        secret_file(ctx, out);
    }
}

pub fn check_project(ctx: &ProjectContext<'_>, out: &mut Vec<Finding>) {
    if !ctx.rules.enabled(Code::SEC004) {
        return;
    }
    let data = &*SECRET_FILES;
    // A key file whose key SEC001 reports is that one problem.
    let reported: BTreeSet<&str> = ctx
        .files
        .iter()
        .filter(|f| f.secrets_detected && ctx.rules.enabled(Code::SEC001))
        .map(|f| f.path.as_str())
        .collect();
    for path in ctx.paths.iter().filter(|p| !reported.contains(p.as_str())) {
        let name = path.rsplit('/').next().unwrap_or(path);
        let extension = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
        let what = if data.key_file_names.iter().any(|k| k == name) {
            "an SSH private key"
        } else if extension.is_some_and(|e| data.keystore_extensions.contains(&e)) {
            "a keystore (PKCS#12 / Java)"
        } else {
            continue;
        };
        out.push(
            Finding::project(Code::SEC004, "secret-file", format!("{what} is committed"))
                .in_file(path),
        );
    }
}

#[derive(Deserialize)]
struct SecretFiles {
    key_file_names: Vec<String>,
    keystore_extensions: Vec<String>,
    private_key_extensions: Vec<String>,
    template_suffixes: Vec<String>,
}

static SECRET_FILES: LazyLock<SecretFiles> = LazyLock::new(|| Code::SEC004.rule().data());

/// SEC004 for text files: a `.pem`/`.key` holding a private key, a `.env` holding secrets.
fn secret_file(ctx: &FileContext<'_>, out: &mut Vec<Finding>) {
    let data = &*SECRET_FILES;
    let path = &ctx.source.path;
    let name = path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase();
    let extension = name.rsplit_once('.').map(|(_, e)| e.to_string());
    let is_key_file = extension
        .as_ref()
        .is_some_and(|e| data.private_key_extensions.contains(e))
        && ctx.source.text.contains("PRIVATE KEY-----");
    let is_template = data
        .template_suffixes
        .iter()
        .any(|s| name.ends_with(s.as_str()));
    let message = if is_key_file {
        // The key itself is SEC001's finding: one problem, one finding.
        if ctx.rules.enabled(Code::SEC001) && ctx.secrets.iter().any(|d| d.code == Code::SEC001) {
            return;
        }
        "a private key file is committed".to_string()
    } else if ctx.kind == FileKind::Env && !is_template && !ctx.secrets.is_empty() {
        format!(
            "a .env file with {} secret value(s) is committed",
            reported(ctx.secrets).len()
        )
    } else {
        return;
    };
    out.push(Finding::project(Code::SEC004, "secret-file", message).in_file(path));
}

static URL_CREDENTIALS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"\b([A-Za-z][A-Za-z0-9+.-]{1,20})://([^\s:@/?#'"<>{}]{1,128}):([^\s@/?#'"<>]{1,256})@([^\s/?#:'"<>,;)]+)"#)
        .unwrap()
});

#[derive(Deserialize)]
struct LocalHosts {
    local_hosts: Vec<String>,
    local_suffixes: Vec<String>,
    documentation_hosts: Vec<String>,
}

static HOST: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(?:[a-z0-9_-]+(?:\.[a-z0-9_-]+)*|\[[0-9a-f:.]+\])$").unwrap());

static LOCAL_HOSTS: LazyLock<LocalHosts> = LazyLock::new(|| Code::SEC003.rule().data());

/// SEC003: `scheme://user:password@host` with a real password, in any text file. Rust doc
/// comments show connection-string syntax by example: they are not read; nor are Markdown's
/// URLs to a local host.
fn url_credentials(source: &Source, kind: FileKind) -> Vec<Detection> {
    if !source.text.contains("://") {
        return Vec::new();
    }
    let mut out = Vec::new();
    for caps in URL_CREDENTIALS.captures_iter(&source.text) {
        let password = caps.get(3).expect("group");
        let value = password.as_str();
        let user = &caps[2];
        // Only template syntax disqualifies a user name: `app`, `admin` are real users.
        let templated_user = user.starts_with('$') || user.contains(['{', '<', '%']);
        if CATALOGUE.is_placeholder(value)
            || templated_user
            || value.starts_with('$')
            || value.chars().all(|c| c == '*' || c == 'x' || c == 'X')
        {
            continue;
        }
        let host = caps[4]
            .trim_end_matches(['`', '.', ']'])
            .to_ascii_lowercase();
        let data = &*LOCAL_HOSTS;
        let line = source
            .line_text(source.line_of(password.start()))
            .trim_start();
        let in_doc_comment =
            kind == FileKind::Rust && (line.starts_with("///") || line.starts_with("//!"));
        let documentation = data
            .documentation_hosts
            .iter()
            .any(|d| host == *d || host.ends_with(&format!(".{d}")));
        if in_doc_comment || documentation || !HOST.is_match(&host) {
            continue;
        }
        let local = is_loopback(&host)
            || data
                .local_suffixes
                .iter()
                .any(|s| host.ends_with(s.as_str()))
            || !host.contains('.');
        // Documentation shows connection strings for the reader's own machine.
        if local && kind == FileKind::Markdown {
            continue;
        }
        out.push(Detection {
            code: Code::SEC003,
            anchor: password.range(),
            secret: password.range(),
            what: format!("{} URL for host `{host}`", &caps[1]),
            vendor_docs: None,
            verified: false,
            local,
            sample: called_a_sample(source, &password.range()),
            format_example: false,
        });
    }
    out
}

/// Words that call a value a sample.
const SAMPLE_WORDS: [&str; 7] = [
    "example",
    "sample",
    "dummy",
    "test",
    "fixture",
    "fake",
    "placeholder",
];

/// Whether a file's name or folders call its content a sample (`ci/dummy-gcp-credentials.json`,
/// `samples/`, `example-keys/`).
fn named_as_sample(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    lower
        .split(['/', '.', '-', '_'])
        .any(|word| SAMPLE_WORDS.iter().any(|w| word.starts_with(w)))
}

/// Whether the lines around a value (three above, the value's, one below) call it a sample.
fn called_a_sample(source: &Source, range: &Range<usize>) -> bool {
    let line = source.line_of(range.start);
    let last = source.line_of(range.end).saturating_add(1);
    (line.saturating_sub(3).max(1)..=last.min(source.line_count())).any(|n| {
        let text = source.line_text(n).to_ascii_lowercase();
        SAMPLE_WORDS.iter().any(|w| text.contains(w))
    })
}

/// Whether a quoted regular expression on the value's line or the three above describes the
/// whole value: a secret scanner's pattern table with its test values (`("GitLab PAT",
/// "glpat-[0-9a-zA-Z_]{20}", "glpat-…")`). A real credential is not written beside the
/// pattern of its format.
fn described_beside(source: &Source, range: &Range<usize>) -> bool {
    let value = &source.text[range.clone()];
    let line = source.line_of(range.start);
    (line.saturating_sub(3).max(1)..=line).any(|n| {
        let text = source.line_text(n);
        quoted(text).any(|pattern| describes(pattern, value))
    })
}

/// Whether the value's own line says it was issued (`// legit, I expired it`, `// a real key,
/// revoked`) and does not deny it (`// not a real token`).
fn called_issued(source: &Source, range: &Range<usize>) -> bool {
    let text = source
        .line_text(source.line_of(range.start))
        .to_ascii_lowercase();
    let words: Vec<&str> = text.split(|c: char| !c.is_ascii_alphabetic()).collect();
    let said = |list: &[&str]| words.iter().any(|w| list.contains(w));
    said(&["legit", "real", "expired", "revoked", "rotated"])
        && !said(&["not", "fake", "dummy", "placeholder", "invented"])
}

/// The texts between pairs of double quotes on a line, escapes undone (`"\\d"` is `\d`).
fn quoted(line: &str) -> impl Iterator<Item = String> + '_ {
    line.split('"')
        .skip(1)
        .step_by(2)
        .map(|text| text.replace("\\\\", "\\"))
}

/// Whether `pattern` is a regular expression (not the value itself written out) that matches
/// all of `value`.
fn describes(pattern: String, value: &str) -> bool {
    const SYNTAX: [char; 6] = ['[', '{', '\\', '+', '*', '?'];
    if pattern.len() > 200 || !pattern.contains(SYNTAX) {
        return false;
    }
    // Credentials are ASCII: ASCII classes (`\\w{40}` is 1 MB of automaton in Unicode), unless
    // the pattern needs Unicode to compile.
    let build = |unicode: bool| {
        regex::RegexBuilder::new(&format!("^(?:{pattern})$"))
            .unicode(unicode)
            .size_limit(1 << 20)
            .build()
    };
    (build(false).or_else(|_| build(true))).is_ok_and(|re| re.is_match(value))
}

/// Whether the lines around a value (two above, its own, two below) name a local host: the
/// password of a database on the developer's machine or in a compose network.
fn near_a_local_host(source: &Source, range: &Range<usize>) -> bool {
    let line = source.line_of(range.start);
    (line.saturating_sub(2).max(1)..=(line + 2).min(source.line_count())).any(|n| {
        let text = source.line_text(n);
        ["localhost", "127.0.0.1", "[::1]"]
            .iter()
            .any(|host| text.contains(host))
    })
}

/// Keys and builder methods that name the host a credential is for.
const HOST_NAMES: [&str; 7] = [
    "host", "hostname", "server", "address", "addr", "url", "endpoint",
];

/// Whether a host setting's value names the local machine (`localhost`, `127.0.0.1:5432`,
/// `postgres://localhost/db`).
fn is_local_host(value: &str) -> bool {
    let value = value.trim().to_ascii_lowercase();
    let host = value
        .split_once("://")
        .map_or(value.as_str(), |(_, rest)| rest);
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let host = host.split(['/', '?']).next().unwrap_or_default();
    let with_port = |local: &String| {
        (host.strip_prefix(local.as_str())).is_some_and(|port| port.starts_with(':'))
    };
    is_loopback(host) || LOCAL_HOSTS.local_hosts.iter().any(with_port)
}

/// The local machine by name or address (`localhost`, `127.0.0.1`, `[::1]`), without a port.
fn is_loopback(host: &str) -> bool {
    LOCAL_HOSTS.local_hosts.iter().any(|local| local == host) || host.starts_with("127.")
}

/// Whether a setting's mapping also says which host it is for, and that host is local
/// (`externalDatabase: {host: localhost, password: ..}`).
fn beside_a_local_host(setting: &Setting, settings: &[Setting]) -> bool {
    setting.siblings(settings).any(|s| {
        HOST_NAMES.contains(&s.key().to_ascii_lowercase().as_str())
            && matches!(&s.value, Value::Str(v) if is_local_host(v))
    })
}

/// Whether a builder chain sets a local host (`.host("localhost")` anywhere in it).
fn chain_sets_a_local_host(mut call: &syn::ExprMethodCall) -> bool {
    loop {
        // Every method call of every parsed file comes here: compare without allocating.
        let local = HOST_NAMES.iter().any(|name| call.method == name)
            && call
                .args
                .first()
                .and_then(string_literal)
                .is_some_and(|l| is_local_host(&l.value()));
        if local {
            return true;
        }
        match &*call.receiver {
            syn::Expr::MethodCall(inner) => call = inner,
            _ => return false,
        }
    }
}

/// A CI job's service container (`services: postgres: env: POSTGRES_PASSWORD: test`, a
/// CircleCI job's secondary `docker` image) or a compose service's environment: the password
/// of a throwaway database the job starts.
fn in_service_container(setting: &Setting) -> bool {
    let parents = setting.parent();
    parents.iter().any(|p| p == "services" || p == "docker")
        && parents
            .last()
            .is_some_and(|p| matches!(p.as_str(), "env" | "environment" | "variables"))
}

/// The value's text without surrounding whitespace and quotes.
fn unquoted(source: &Source, range: Range<usize>) -> Range<usize> {
    let raw = &source.text[range.clone()];
    let start = range.start + (raw.len() - raw.trim_start().len());
    let range = start..(range.end - (raw.len() - raw.trim_end().len())).max(start);
    if is_quoted(&source.text[range.clone()]) {
        range.start + 1..range.end - 1
    } else {
        range
    }
}

/// Whether a value is written between a pair of double or single quotes.
fn is_quoted(value: &str) -> bool {
    value.len() >= 2
        && ((value.starts_with('"') && value.ends_with('"'))
            || (value.starts_with('\'') && value.ends_with('\'')))
}

/// SEC002 in configuration: secret-named keys with literal values, Kubernetes `env` entries
/// (`name: DB_PASSWORD` + `value: ...`), and compose `KEY=value` environment lists.
fn setting_assignments(source: &Source, kind: FileKind, settings: &[Setting]) -> Vec<Detection> {
    let mut out = Vec::new();
    for setting in settings {
        let Value::Str(value) = &setting.value else {
            continue;
        };
        let mut name = setting.key().to_string();
        let mut value = value.as_str();
        let mut range = unquoted(source, setting.value_range.clone());
        if name == "value" {
            if let Some(env_name) = setting
                .siblings(settings)
                .find(|s| s.key() == "name")
                .and_then(|s| match &s.value {
                    Value::Str(n) => Some(n.clone()),
                    _ => None,
                })
            {
                name = env_name;
            }
        } else if name.starts_with('[') && kind != FileKind::Env {
            let in_environment = setting
                .parent()
                .last()
                .is_some_and(|p| p == "environment" || p == "env");
            let Some((key, rest)) = value.split_once('=').filter(|_| in_environment) else {
                continue;
            };
            let text = &source.text[range.clone()];
            let Some(at) = text.find(rest).filter(|_| text.starts_with(key)) else {
                continue;
            };
            range = range.start + at..range.start + at + rest.len();
            name = key.to_string();
            value = rest;
        }
        let Some(secret_kind) = classify(&name) else {
            continue;
        };
        let line = source.line_text(source.line_of(range.start));
        if is_secret_value(&name, value, secret_kind, line) {
            let sample = in_service_container(setting) || near_a_local_host(source, &range);
            let local = beside_a_local_host(setting, settings);
            out.push(Detection::assignment(&name, range, sample, local));
        }
    }
    out
}

/// SEC002 in Rust: string literals bound to secret names.
struct RustAssignments<'a> {
    source: &'a Source,
    /// Parameter names of the file's own functions and methods, by function name.
    signatures: std::collections::HashMap<String, Vec<String>>,
    found: Vec<Detection>,
    /// Inside a builder chain that sets a local host: its credentials are for a local database.
    in_local_chain: bool,
}

/// Parameter names of well-known builder methods that take secrets.
const KNOWN_PARAMETERS: [(&str, &[&str]); 3] = [
    ("basic_auth", &["username", "password"]),
    ("bearer_auth", &["token"]),
    ("with_basic_auth", &["username", "password"]),
];

/// Macros whose tokens are key/value maps: `json!({"password": "..."})`, `hashmap!{"k" => "v"}`.
const MAP_MACROS: [&str; 5] = ["json", "hashmap", "btreemap", "indexmap", "convert_args"];

impl<'a> RustAssignments<'a> {
    fn new(source: &'a Source, file: &syn::File) -> Self {
        struct Signatures(std::collections::HashMap<String, Vec<String>>);
        impl<'ast> Visit<'ast> for Signatures {
            fn visit_signature(&mut self, sig: &'ast syn::Signature) {
                let params = sig
                    .inputs
                    .iter()
                    .filter_map(|arg| match arg {
                        syn::FnArg::Typed(t) => Some(pattern_name(&t.pat).unwrap_or_default()),
                        syn::FnArg::Receiver(_) => None,
                    })
                    .collect();
                self.0.insert(sig.ident.to_string(), params);
            }
        }
        let mut signatures = Signatures(Default::default());
        signatures.visit_file(file);
        RustAssignments {
            source,
            signatures: signatures.0,
            found: Vec::new(),
            in_local_chain: false,
        }
    }

    /// Records `value` if it is a string literal that is a real secret under `name`.
    fn check(&mut self, name: &str, value: &syn::Expr) {
        let Some(kind) = classify(name) else { return };
        let Some(literal) = string_literal(value) else {
            return;
        };
        self.check_literal(name, kind, &literal.value(), literal.span());
    }

    fn check_literal(
        &mut self,
        name: &str,
        kind: SecretName,
        value: &str,
        span: proc_macro2::Span,
    ) {
        let range = self.source.span_range(span);
        let line = self.source.line_text(self.source.line_of(range.start));
        if !is_secret_value(name, value, kind, line) {
            return;
        }
        let text = &self.source.text[range.clone()];
        let (Some(open), Some(close)) = (text.find('"'), text.rfind('"')) else {
            return;
        };
        if close <= open {
            return;
        }
        let secret = range.start + open + 1..range.start + close;
        let sample = near_a_local_host(self.source, &secret);
        (self.found).push(Detection::assignment(
            name,
            secret,
            sample,
            self.in_local_chain,
        ));
    }

    /// Arguments bound to parameter names; and for key/value calls (`.env("API_TOKEN", "..")`,
    /// `.header("X-Api-Key", "..")`, `set_var("PASSWORD", "..")`), the key names the value.
    fn arguments(&mut self, function: &str, params: &[String], args: &[&syn::Expr]) {
        for (param, arg) in params.iter().zip(args) {
            self.check(param, arg);
        }
        if let [key, value] = args
            && names::is_key_value_call(function)
            && let Some(key) = string_literal(key)
        {
            self.check(&key.value(), value);
        }
    }
}

fn pattern_name(pat: &syn::Pat) -> Option<String> {
    match pat {
        syn::Pat::Ident(i) => Some(i.ident.to_string()),
        syn::Pat::Type(t) => pattern_name(&t.pat),
        _ => None,
    }
}

/// A string literal, possibly wrapped: `"x".to_string()`, `String::from("x")`, `Some("x")`,
/// `SecretString::new("x".into())`, `&"x"`.
fn string_literal(expr: &syn::Expr) -> Option<syn::LitStr> {
    match expr {
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(s),
            ..
        }) => Some(s.clone()),
        syn::Expr::MethodCall(call)
            if call.args.is_empty()
                && matches!(
                    call.method.to_string().as_str(),
                    "to_string" | "to_owned" | "into" | "into_boxed_str"
                ) =>
        {
            string_literal(&call.receiver)
        }
        syn::Expr::Call(call) if call.args.len() == 1 => {
            let syn::Expr::Path(func) = &*call.func else {
                return None;
            };
            let last = func.path.segments.last()?.ident.to_string();
            matches!(last.as_str(), "from" | "new" | "Some" | "from_static")
                .then(|| string_literal(&call.args[0]))
                .flatten()
        }
        syn::Expr::Reference(r) => string_literal(&r.expr),
        syn::Expr::Paren(p) => string_literal(&p.expr),
        syn::Expr::Group(g) => string_literal(&g.expr),
        _ => None,
    }
}

fn member_name(member: &syn::Member) -> Option<String> {
    match member {
        syn::Member::Named(ident) => Some(ident.to_string()),
        syn::Member::Unnamed(_) => None,
    }
}

impl<'ast> Visit<'ast> for RustAssignments<'_> {
    fn visit_local(&mut self, local: &'ast syn::Local) {
        if let (Some(name), Some(init)) = (pattern_name(&local.pat), &local.init) {
            self.check(&name, &init.expr);
        }
        visit::visit_local(self, local);
    }

    fn visit_item_const(&mut self, item: &'ast syn::ItemConst) {
        self.check(&item.ident.to_string(), &item.expr);
        visit::visit_item_const(self, item);
    }

    fn visit_item_static(&mut self, item: &'ast syn::ItemStatic) {
        self.check(&item.ident.to_string(), &item.expr);
        visit::visit_item_static(self, item);
    }

    fn visit_impl_item_const(&mut self, item: &'ast syn::ImplItemConst) {
        self.check(&item.ident.to_string(), &item.expr);
        visit::visit_impl_item_const(self, item);
    }

    fn visit_field_value(&mut self, field: &'ast syn::FieldValue) {
        if let Some(name) = member_name(&field.member) {
            self.check(&name, &field.expr);
        }
        visit::visit_field_value(self, field);
    }

    fn visit_expr_assign(&mut self, assign: &'ast syn::ExprAssign) {
        let name = match &*assign.left {
            syn::Expr::Path(p) => p.path.get_ident().map(ToString::to_string),
            syn::Expr::Field(f) => member_name(&f.member),
            _ => None,
        };
        if let Some(name) = name {
            self.check(&name, &assign.right);
        }
        visit::visit_expr_assign(self, assign);
    }

    fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
        // The outermost call of a chain sees all of it; the flag covers the calls inside.
        let entered = !self.in_local_chain && chain_sets_a_local_host(call);
        self.in_local_chain |= entered;
        let method = call.method.to_string();
        let args: Vec<&syn::Expr> = call.args.iter().collect();
        let params: Option<Vec<String>> = KNOWN_PARAMETERS
            .iter()
            .find(|(m, _)| *m == method)
            .map(|(_, p)| p.iter().map(|s| s.to_string()).collect())
            .or_else(|| self.signatures.get(&method).cloned());
        match params {
            Some(params) => self.arguments(&method, &params, &args),
            // A one-argument builder method named like a secret: `.password("..")`.
            None if args.len() == 1 => self.check(&method, args[0]),
            None => self.arguments(&method, &[], &args),
        }
        visit::visit_expr_method_call(self, call);
        if entered {
            self.in_local_chain = false;
        }
    }

    fn visit_expr_call(&mut self, call: &'ast syn::ExprCall) {
        let args: Vec<&syn::Expr> = call.args.iter().collect();
        let function = match &*call.func {
            syn::Expr::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
            _ => None,
        }
        .unwrap_or_default();
        let params = self.signatures.get(&function).cloned().unwrap_or_default();
        self.arguments(&function, &params, &args);
        visit::visit_expr_call(self, call);
    }

    fn visit_expr_tuple(&mut self, tuple: &'ast syn::ExprTuple) {
        if let [key, value] = tuple.elems.iter().collect::<Vec<_>>()[..]
            && let Some(key) = string_literal(key)
        {
            self.check(&key.value(), value);
        }
        visit::visit_expr_tuple(self, tuple);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        let is_map = mac
            .path
            .segments
            .last()
            .is_some_and(|s| MAP_MACROS.contains(&s.ident.to_string().as_str()));
        if is_map {
            let mut tokens = Vec::new();
            flatten(mac.tokens.clone(), &mut tokens);
            for window in tokens.windows(3) {
                let (
                    proc_macro2::TokenTree::Literal(key),
                    separator,
                    proc_macro2::TokenTree::Literal(value),
                ) = (&window[0], &window[1], &window[2])
                else {
                    continue;
                };
                let is_separator = matches!(separator, proc_macro2::TokenTree::Punct(p) if p.as_char() == ':' || p.as_char() == '>');
                let (Ok(key), Ok(value)) = (
                    syn::parse_str::<syn::LitStr>(&key.to_string()),
                    syn::parse2::<syn::LitStr>(
                        proc_macro2::TokenTree::Literal(value.clone()).into(),
                    ),
                ) else {
                    continue;
                };
                if let (true, Some(kind)) = (is_separator, classify(&key.value())) {
                    self.check_literal(&key.value(), kind, &value.value(), value.span());
                }
            }
        }
        visit::visit_macro(self, mac);
    }
}

fn flatten(stream: proc_macro2::TokenStream, out: &mut Vec<proc_macro2::TokenTree>) {
    for tree in stream {
        match tree {
            proc_macro2::TokenTree::Group(group) => flatten(group.stream(), out),
            // `=>` reads as `>` alone, so that `"k" => "v"` and `"k": "v"` look alike.
            proc_macro2::TokenTree::Punct(p)
                if p.as_char() == '=' && p.spacing() == proc_macro2::Spacing::Joint => {}
            other => out.push(other),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_value_is_a_format_example_only_beside_a_pattern_that_matches_all_of_it() {
        let value = "pul-0123456789abcdef0123456789abcdef01234567";
        let judged = |text: String| {
            let source = crate::source::Source::new("a.rs", text);
            let at = source.text.find(value).unwrap();
            let range = at..at + value.len();
            super::described_beside(&source, &range) && !super::called_issued(&source, &range)
        };
        assert!(judged(format!(
            "(\"Pulumi\", \"pul-[0-9a-f]{{40}}\", \"{value}\"),"
        )));
        assert!(judged(format!(
            "(\n \"Pulumi\",\n \"pul-[0-9a-f]{{40}}\",\n Value(\"{value}\"),\n)"
        )));
        // An escaped pattern in a Rust string: `\\w` is `\w`.
        assert!(judged(format!("(\"pul-\\\\w{{40}}\", \"{value}\")")));
        // A pattern that matches only part of it, or none; the value written out twice.
        assert!(!judged(format!("(\"pul-[0-9a-f]{{8}}\", \"{value}\")")));
        assert!(!judged(format!("(\"ghp_[0-9a-z]{{36}}\", \"{value}\")")));
        assert!(!judged(format!("(\"{value}\", \"{value}\")")));
        // Its line says it was issued.
        assert!(!judged(format!(
            "(\"pul-[0-9a-f]{{40}}\", \"{value}\"), // legit, expired"
        )));
        assert!(judged(format!(
            "(\"pul-[0-9a-f]{{40}}\", \"{value}\"), // not a real token"
        )));
        // A pattern four lines above is another entry's.
        assert!(!judged(format!(
            "\"pul-[0-9a-f]{{40}}\"\n\n\n\n\"{value}\""
        )));
    }

    fn code_may_hold_secret(code: &str) -> bool {
        let tokens = crate::words::code_token_list(code);
        super::code_may_hold_secret(&tokens)
    }

    #[test]
    fn secret_names_hold_a_fragment_whatever_their_case() {
        for name in [
            "dbPassword",
            "API_KEY",
            "x_TOKEN",
            "Credentials",
            "SeCrEt",
            "api_\u{212A}ey",
        ] {
            assert!(super::may_name_a_secret(name), "{name}");
        }
        for name in ["label", "pas", "tok", "", "ke"] {
            assert!(!super::may_name_a_secret(name), "{name}");
        }
    }

    /// The whole shape as one regex (what `quoted_after_a_secret_name` replaced): wherever it
    /// matches, the search must say yes.
    #[test]
    fn a_quote_after_a_secret_name_is_seen_wherever_one_regex_would_see_it() {
        let whole = regex::Regex::new(&format!(
            "(?:{})[^;{{}}]{{0,60}}?\"",
            super::SECRET_NAME.as_str()
        ))
        .unwrap();
        let pad = |n: usize| "é".repeat(n);
        let texts = [
            // `token` starts inside `secret`: only it is 60 characters from the quote.
            format!("secretoken{}\"", pad(60)),
            format!("encryption_key{}\"", pad(60)),
            format!("x_encryption-keys{}\"", pad(59)),
            format!("let api_\u{212A}ey = {}\"", pad(50)),
            format!("passwordtokensecret{}\"x", pad(60)),
            // Beyond the window, however long the name.
            format!("token{}\"", pad(75)),
            format!("token{};\"", pad(10)),
            "token { \"x\" }".to_string(),
            "let a = 1; // secret\nlet b = \"x\";".to_string(),
            "SECRETS { \"x\" }".to_string(),
        ];
        for text in &texts {
            if whole.is_match(text) {
                assert!(super::quoted_after_a_secret_name(text), "{text}");
            }
        }
        assert!(texts.iter().filter(|t| whole.is_match(t)).count() >= 5);
        assert!(!super::quoted_after_a_secret_name(&texts[5]));
        assert!(!super::quoted_after_a_secret_name(&texts[6]));
    }

    #[test]
    fn the_tree_gate_sees_every_shape_sec002_reads_and_no_comment() {
        let value = "a1b2c3d4e5f6g7h8i9j0";
        for code in [
            format!("let api_key = \"{value}\";"),
            format!("const API_TOKEN: &str = \"{value}\";"),
            "let password = String::from(\"hunter22\");".to_string(),
            format!("builder.access_token(\"{value}\").build();"),
            format!("map.insert(\"api_key\".to_string(), \"{value}\".into());"),
            format!("json!({{\"auth\": {{\"token\": \"{value}\"}}}})"),
            "fn connect(password: &str) {}\nfn main() { connect(\"hunter22\"); }".to_string(),
            "fn connect<F: Fn(u8)>(f: F, password: &str) {}\nfn main() { connect(g, \"hunter22\"); }".to_string(),
            format!("Config {{ client_secret: r#\"{value}\"#.into() }}"),
            "client.with_basic_auth(\"user\", \"h2pass\");".to_string(),
            format!("let signingKey = \"{value}\";"),
            format!("let master_key = \"{value}\";"),
            format!("#[cfg(test)]\nconst API_KEY: &str = \"{value}\";"),
            format!("let api_key = \"{value}\\n\";"),
            format!("let v = serde_json::json!({{\"password\": \"{value}\"}});"),
            format!("if a != b {{ let api_key = \"{value}\"; }}"),
            format!("extern \"C\" fn f() {{}}\nlet api_key = \"{value}\";"),
            // Read as written: a raw string keeps its inner quotes; a line continuation leaves
            // no space in the value.
            format!("let api_key = r#\"\"{value}\"\"#;"),
            "let password = \"hunter\\\n    22abc\";".to_string(),
        ] {
            assert!(code_may_hold_secret(&code), "{code}");
            let source = crate::source::Source::new("a.rs", code.clone());
            assert!(super::may_hold_secrets(&source, &[]), "{code}");
        }
        // KELVIN SIGN: `api_\u{212A}ey` splits into the words `api` and `key`.
        let kelvin = format!("let api_\u{212A}ey = \"{value}\";");
        assert!(code_may_hold_secret(&kelvin));
        assert!(super::may_hold_secrets(
            &crate::source::Source::new("a.rs", kelvin.clone()),
            &[]
        ));
        for code in [
            format!("// let api_key = \"{value}\";"),
            "let token = \"short\";".to_string(),
            format!("let token = next();\nlet label = \"{value}\";"),
            format!("use token::Comma; let x = \"{value}\";"),
            "let password = read_password();".to_string(),
            format!("#[link_name = \"{value}\"]\nfn private_key(private_key: *const u8);"),
            format!("struct S {{ api_key: String }}\nconst LABEL: &str = \"{value}\";"),
            "const SZ_OID_PRIVATE_KEY: &str = \"1.2.840.113549.1.1.1\";".to_string(),
            "const CRYPTO_PROVIDER_KEY: &str = \"Microsoft Enhanced Provider 10\";".to_string(),
            // Never a secret's value, whatever the name: a path, an environment variable's name.
            "const TOKEN_ROUTE: &str = \"/v1/oauth2/_token\";".to_string(),
            "let password = \"DB_PASSWORD_FILE\";".to_string(),
            "fn login(password: &str) {}\nconst A: &str = \"/v1/auth\";".to_string(),
            // An ABI is no value: a secret-named type or function and its `extern "system"`.
            "pub type PFN_FREE_PASSWORD = Option<unsafe extern \"system\" fn(p: *const u8)>;"
                .to_string(),
            "pub unsafe extern \"system\" fn free_password() {}".to_string(),
            // Inside a macro other than a map macro: opaque to the syntax tree.
            format!("link!(\"a.dll\" fn f(password: *const u8));\nconst X: &str = \"{value}\";"),
            format!("println!(\"{{}}\", connect(\"{value}\", api_key));"),
            format!("macro_rules! m {{ () => {{ let api_key = \"{value}\"; }} }}"),
        ] {
            assert!(!code_may_hold_secret(&code), "{code}");
        }
    }
}
