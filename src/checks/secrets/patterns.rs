//! SEC001's credential formats, compiled from the rule's `[data]`: one Aho-Corasick pass over
//! a file finds the keywords present, and only the patterns whose keywords occurred run their
//! regex. Also the value tests shared by every SEC rule: entropy, checksums, placeholders.

use std::ops::Range;
use std::sync::{LazyLock, OnceLock};

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use base64::Engine;
use regex::Regex;
use serde::Deserialize;

use crate::redact::entropy;
use crate::registry::Code;

#[derive(Deserialize)]
struct Data {
    pattern: Vec<PatternData>,
    placeholder: PlaceholderData,
}

#[derive(Deserialize)]
pub struct PatternData {
    pub id: String,
    pub description: String,
    /// The vendor's page on managing and revoking this kind of credential.
    pub docs: String,
    regex: String,
    #[serde(default = "first_group")]
    group: usize,
    keywords: Vec<String>,
    entropy: Option<f64>,
    checksum: Option<Checksum>,
    #[serde(default)]
    allow: Vec<String>,
    /// Values of this format are published as samples (a JWT, a private key in a TLS how-to):
    /// one is a sample when its path or the lines around it say so (see `roles`).
    #[serde(default)]
    pub samples: bool,
    /// Test template; see `fake.rs`.
    pub fake: String,
}

/// A checksum a format carries: a value whose checksum fails is not a credential of the format.
#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "kebab-case")]
enum Checksum {
    /// The last 6 characters are the base62 CRC32 of the 30 before them (GitHub, npm).
    GithubCrc32,
    /// A bech32 string (`hrp` `1` data checksum), as age keys are. Validity only rules out
    /// what is not a key: every key generator writes a valid one, issued or not.
    Bech32,
}

fn first_group() -> usize {
    1
}

#[derive(Deserialize)]
struct PlaceholderData {
    words: Vec<String>,
    whole: Vec<String>,
    regexes: Vec<String>,
    hash_contexts: Vec<String>,
}

pub struct Pattern {
    pub data: PatternData,
    /// Compiled when the pattern's keyword first occurs: most audits need a few of them.
    regex: OnceLock<Regex>,
    allow: Vec<Regex>,
}

impl Pattern {
    fn regex(&self) -> &Regex {
        self.regex.get_or_init(|| {
            Regex::new(&self.data.regex)
                .unwrap_or_else(|e| panic!("SEC001 pattern {}: {e}", self.data.id))
        })
    }
}

pub struct Catalogue {
    pub patterns: Vec<Pattern>,
    keywords: AhoCorasick,
    /// Keyword index -> the patterns that name it (`ghs_` starts two formats).
    keyword_patterns: Vec<Vec<usize>>,
    placeholder_words: AhoCorasick,
    placeholder_whole: Vec<String>,
    placeholder_regexes: Vec<Regex>,
    hash_context: Regex,
}

pub static CATALOGUE: LazyLock<Catalogue> = LazyLock::new(|| {
    let data: Data = Code::SEC001.rule().data();
    let mut keywords: Vec<String> = Vec::new();
    let mut keyword_patterns: Vec<Vec<usize>> = Vec::new();
    let patterns: Vec<Pattern> = data
        .pattern
        .into_iter()
        .enumerate()
        .map(|(index, p)| {
            for keyword in &p.keywords {
                let keyword = keyword.to_ascii_lowercase();
                match keywords.iter().position(|k| *k == keyword) {
                    Some(at) => keyword_patterns[at].push(index),
                    None => {
                        keywords.push(keyword);
                        keyword_patterns.push(vec![index]);
                    }
                }
            }
            Pattern {
                regex: OnceLock::new(),
                allow: p
                    .allow
                    .iter()
                    .map(|a| Regex::new(a).expect("SEC001 allow regex"))
                    .collect(),
                data: p,
            }
        })
        .collect();
    let placeholder = data.placeholder;
    let ascii_insensitive = |words: &[String]| {
        AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::Standard)
            .build(words)
            .expect("keyword automaton")
    };
    Catalogue {
        keywords: ascii_insensitive(&keywords),
        keyword_patterns,
        patterns,
        placeholder_words: ascii_insensitive(&placeholder.words),
        placeholder_whole: placeholder.whole,
        placeholder_regexes: placeholder
            .regexes
            .iter()
            .map(|r| Regex::new(r).expect("placeholder regex"))
            .collect(),
        hash_context: Regex::new(&format!(
            r"(?i)\b(?:{})\b",
            placeholder
                .hash_contexts
                .iter()
                .map(|w| regex::escape(w))
                .collect::<Vec<_>>()
                .join("|")
        ))
        .expect("hash context regex"),
    }
});

/// A credential found by a format pattern.
pub struct Match {
    pub pattern: usize,
    /// Byte range of the secret.
    pub range: Range<usize>,
    /// Byte range of the whole match (a PEM block's header and footer included).
    pub whole: Range<usize>,
    /// The format's checksum validated: an issued credential.
    pub verified: bool,
}

impl Catalogue {
    /// Whether any pattern's keyword occurs in the text.
    pub fn has_keyword(&self, text: &str) -> bool {
        self.keywords.is_match(text)
    }

    /// Every credential in a text.
    pub fn scan(&self, text: &str) -> Vec<Match> {
        let mut triggered = vec![false; self.patterns.len()];
        let mut any = false;
        // Which keywords occur is all that matters, so a non-overlapping scan (which the
        // automaton's SIMD prefilter accelerates) is enough.
        for hit in self.keywords.find_iter(text) {
            for &pattern in &self.keyword_patterns[hit.pattern().as_usize()] {
                triggered[pattern] = true;
            }
            any = true;
        }
        if !any {
            return Vec::new();
        }
        let mut out = Vec::new();
        for (index, pattern) in self.patterns.iter().enumerate() {
            if !triggered[index] {
                continue;
            }
            for caps in pattern.regex().captures_iter(text) {
                let Some(secret) = caps.get(pattern.data.group) else {
                    continue;
                };
                // A key block's body starts and ends with line breaks: keep them visible.
                let value = secret.as_str();
                let start = secret.start() + (value.len() - value.trim_start().len());
                let end = secret.end() - (value.len() - value.trim_end().len());
                let value = &text[start..end.max(start)];
                if let Some(verified) = self.accept(pattern, value) {
                    out.push(Match {
                        pattern: index,
                        range: start..end.max(start),
                        whole: caps.get(0).expect("whole match").range(),
                        verified,
                    });
                }
            }
        }
        out
    }

    /// `None` when the value is not a credential of this format; `Some(verified)` otherwise.
    fn accept(&self, pattern: &Pattern, value: &str) -> Option<bool> {
        if pattern.allow.iter().any(|a| a.is_match(value)) || self.is_placeholder(value) {
            return None;
        }
        if let Some(min) = pattern.data.entropy
            && entropy(value) < min
        {
            return None;
        }
        if pattern.data.id == "jwt" && !is_jwt(value) {
            return None;
        }
        match pattern.data.checksum {
            Some(Checksum::GithubCrc32) => valid_github_checksum(value).then_some(true),
            // Anyone's key generator writes a valid one: valid is no sign of an issued key.
            Some(Checksum::Bech32) => valid_bech32(value).then_some(false),
            None => Some(false),
        }
    }

    /// Placeholders and documented examples: `${VAR}`, `{{ x }}`, `<your-token>`, `changeme`,
    /// `EXAMPLE`, `xxxx`, a run of one character, a UUID.
    pub fn is_placeholder(&self, value: &str) -> bool {
        let trimmed = value.trim();
        if trimmed.is_empty()
            || self.placeholder_words.is_match(trimmed)
            || self
                .placeholder_whole
                .iter()
                .any(|w| w.eq_ignore_ascii_case(trimmed))
            || self.placeholder_regexes.iter().any(|r| r.is_match(trimmed))
        {
            return true;
        }
        longest_run(trimmed) >= 6
            || longest_run(trimmed) * 2 > trimmed.chars().count()
            || is_uuid(trimmed)
    }

    /// Whether a line talks about hashes (`integrity=`, `sha256`, `checksum`), so that the
    /// hex or base64 values on it are digests.
    pub fn is_hash_context(&self, line: &str) -> bool {
        self.hash_context.is_match(line)
    }
}

fn longest_run(text: &str) -> usize {
    let mut best = 0;
    let mut run = 0;
    let mut previous = None;
    for c in text.chars() {
        run = if Some(c) == previous { run + 1 } else { 1 };
        previous = Some(c);
        best = best.max(run);
    }
    best
}

impl Catalogue {
    /// Whether a value holds a UUID / GUID anywhere (`_SA_{262E99C9-6160-...}`): an identifier.
    pub fn contains_uuid(&self, value: &str) -> bool {
        value.len() >= 36
            && (0..=value.len() - 36)
                .any(|i| value.is_char_boundary(i) && value.get(i..i + 36).is_some_and(is_uuid))
    }
}

fn is_uuid(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// The 6-character base62 CRC32 that GitHub and npm append to their tokens.
pub fn base62_crc32(body: &str) -> String {
    let mut value = u64::from(crc32fast::hash(body.as_bytes()));
    let mut digits = [b'0'; 6];
    for slot in digits.iter_mut().rev() {
        *slot = BASE62[(value % 62) as usize];
        value /= 62;
    }
    String::from_utf8(digits.to_vec()).expect("ascii")
}

/// `prefix_` + 30 random characters + their base62 CRC32 (GitHub's and npm's token formats).
pub fn valid_github_checksum(token: &str) -> bool {
    let Some((_, rest)) = token.rsplit_once('_') else {
        return false;
    };
    rest.len() == 36 && rest.is_ascii() && base62_crc32(&rest[..30]) == rest[30..]
}

/// A bech32 string whose checksum validates (upper or lower case, not mixed).
pub fn valid_bech32(value: &str) -> bool {
    bech32::primitives::decode::CheckedHrpstring::new::<bech32::Bech32>(value).is_ok()
}

/// A JWT's header decodes to JSON naming its algorithm.
fn is_jwt(value: &str) -> bool {
    let header = value.split('.').next().unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header.trim_end_matches('='))
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .is_some_and(|json| json.contains("\"alg\""))
}

#[cfg(test)]
mod tests {
    use super::super::fake;
    use super::*;

    #[test]
    fn every_pattern_links_its_vendor_docs_and_finds_its_fake_and_ignores_a_placeholder() {
        let catalogue = &*CATALOGUE;
        assert!(
            catalogue.patterns.len() >= 40,
            "{} formats",
            catalogue.patterns.len()
        );
        for (index, pattern) in catalogue.patterns.iter().enumerate() {
            let docs = &pattern.data.docs;
            assert!(
                docs.starts_with("https://") && !docs.contains(char::is_whitespace),
                "{}: its vendor docs link is not an https URL: {docs}",
                pattern.data.id
            );
            // Compiled lazily in an audit: every one must compile.
            pattern.regex();
            let value = fake::expand(&pattern.data.fake, &pattern.data.id);
            let text = format!("config = \"{value}\"\n");
            let found = catalogue.scan(&text);
            assert!(
                found.iter().any(|m| m.pattern == index),
                "{} does not find its own fake {value}",
                pattern.data.id
            );
        }
        assert!(
            catalogue
                .scan("token: ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")
                .is_empty()
        );
        assert!(catalogue.scan("key: AKIAIOSFODNN7EXAMPLE").is_empty());
    }

    #[test]
    fn checksums_decide_github_and_npm_tokens() {
        let good = fake::expand("ghp_{b62:30}{crc}", "a");
        let mut bad = good.clone();
        bad.replace_range(39..40, if good.ends_with('A') { "B" } else { "A" });
        let found = CATALOGUE.scan(&good);
        assert!(found.len() == 1 && found[0].verified);
        assert!(CATALOGUE.scan(&bad).is_empty());
        assert!(valid_github_checksum(&fake::expand(
            "npm_{b62:30}{crc}",
            "n"
        )));
    }

    #[test]
    fn an_age_key_is_one_whose_bech32_checksum_validates() {
        let good = fake::expand("AGE-SECRET-KEY-1{bech32key:32}", "a");
        assert_eq!(good.len(), 74);
        let found = CATALOGUE.scan(&good);
        assert!(found.len() == 1 && !found[0].verified, "{good}");
        // One character changed: the right shape, the wrong checksum.
        let mut bad = good.clone();
        bad.replace_range(40..41, if &good[40..41] == "Q" { "P" } else { "Q" });
        assert!(CATALOGUE.scan(&bad).is_empty());
        assert!(valid_bech32(&good.to_ascii_lowercase()));
    }

    #[test]
    fn placeholders() {
        let c = &*CATALOGUE;
        for value in [
            "${DB_PASSWORD}",
            "{{ .Values.token }}",
            "${{ secrets.TOKEN }}",
            "%API_KEY%",
            "<your-token>",
            "changeme",
            "xxxxxxxx",
            "aaaaaaaaaa",
            "123e4567-e89b-12d3-a456-426614174000",
            "YOUR_API_KEY",
            "password",
            "$TOKEN",
            "{}",
        ] {
            assert!(c.is_placeholder(value), "{value}");
        }
        for value in ["hunter2", "s3cr3t-Pr0d!", "q8ZmV2pX7rL0"] {
            assert!(!c.is_placeholder(value), "{value}");
        }
        assert!(entropy("aaaa") < 0.1 && entropy("q8ZmV2pX7rL0wT5n") > 3.5);
    }
}
