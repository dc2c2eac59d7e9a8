//! The one redaction function. Every piece of audited source text that reaches any output
//! (snippets, messages, logs) is produced here, so no rule can leak a secret through its context.

use std::ops::Range;

/// A secret value as it may be shown: a value of 16 characters or more keeps its first 4 and
/// gives its length (`ghp_************ (40 chars)`); a shorter one shows only its length.
pub fn mask_value(value: &str) -> String {
    let chars = value.chars().count();
    if chars >= 16 {
        let head: String = value.chars().take(4).collect();
        format!("{head}************ ({chars} chars)")
    } else {
        format!("************ ({chars} chars)")
    }
}

/// Shannon entropy of a text in bits per character.
pub fn entropy(text: &str) -> f64 {
    // Ordered, so that the floating-point sum is the same on every run.
    let mut counts = std::collections::BTreeMap::new();
    let mut total = 0.0;
    for c in text.chars() {
        *counts.entry(c).or_insert(0.0) += 1.0;
        total += 1.0;
    }
    counts
        .values()
        .map(|n: &f64| {
            let p = n / total;
            -p * p.log2()
        })
        .sum()
}

/// Words that make a line's long random-looking tokens count as credentials at a lower bar.
const SECRET_CONTEXT: [&str; 9] = [
    "key",
    "token",
    "secret",
    "passw",
    "pwd",
    "auth",
    "credential",
    "bearer",
    "api",
];

/// The tokens of `text`'s lines `lines` (a byte range of whole lines) that look like
/// credentials, whether or not a rule reported them, so that a context line printed beside a
/// finding never shows one raw: a run of 20 or more token characters (letters, digits, `+/_-.~`
/// and trailing `=`) with a letter, a digit and 3.5 bits of entropy per character; on a line
/// that names a secret (`key`, `token`, `auth`, ...), 16 characters and 3 bits. A path, a
/// host or a name (half its `/ . _ -` separated parts lower-case words) is not one.
pub fn credential_like(text: &str, lines: Range<usize>) -> Vec<Range<usize>> {
    let token_byte = |b: u8| b.is_ascii_alphanumeric() || b"+/_-.~".contains(&b);
    let mut out = Vec::new();
    let mut line_start = lines.start;
    for line in text[lines.clone()].split_inclusive('\n') {
        let lower = line.to_ascii_lowercase();
        let context = SECRET_CONTEXT.iter().any(|w| lower.contains(w));
        let (min_len, min_entropy) = if context { (16, 3.0) } else { (20, 3.5) };
        let bytes = line.as_bytes();
        let mut at = 0;
        while at < bytes.len() {
            if !token_byte(bytes[at]) {
                at += 1;
                continue;
            }
            let from = at;
            while at < bytes.len() && token_byte(bytes[at]) {
                at += 1;
            }
            // Base64 padding ends a token; `=` between two tokens is an assignment.
            let mut end = at;
            while end < bytes.len() && bytes[end] == b'=' {
                end += 1;
            }
            if end == bytes.len() || !token_byte(bytes[end]) {
                at = end;
            }
            let token = line[from..at].trim_end_matches('.');
            if looks_random(token, min_len, min_entropy) {
                out.push(line_start + from..line_start + from + token.len());
            }
        }
        line_start += line.len();
    }
    out
}

/// Whether a token looks like a random credential, not a path, a host or a name.
fn looks_random(token: &str, min_len: usize, min_entropy: f64) -> bool {
    let core = token.trim_end_matches('=');
    let has = |f: fn(&char) -> bool| core.chars().any(|c| f(&c));
    // Separated parts of which half or more are lower-case words: a path, a host, a name.
    let parts: Vec<&str> = core.split(['/', '.', '_', '-']).collect();
    let words = (parts.iter())
        .filter(|p| p.len() >= 3 && p.chars().all(|c| c.is_ascii_lowercase()))
        .count();
    let worded = parts.len() > 1 && words * 2 >= parts.len();
    core.len() >= min_len
        && has(char::is_ascii_alphabetic)
        && has(char::is_ascii_digit)
        && !worded
        && entropy(core) >= min_entropy
}

/// `text[range]` with every part that overlaps a secret span replaced by its mask. A secret
/// that straddles the range's edge is masked whole, so a partial view can never reveal it.
/// `secrets` are sorted by start and do not overlap.
pub fn mask_spans(text: &str, range: Range<usize>, secrets: &[Range<usize>]) -> String {
    let mut out = String::with_capacity(range.len());
    let mut cursor = range.start;
    let first = secrets.partition_point(|s| s.end <= range.start);
    let overlapping = secrets[first..]
        .iter()
        .take_while(|s| s.start < range.end)
        .filter(|s| s.end > range.start);
    for secret in overlapping {
        if secret.start > cursor {
            out.push_str(&text[cursor..secret.start]);
        }
        if secret.end > cursor {
            out.push_str(&mask_value(&text[secret.clone()]));
            cursor = secret.end;
        }
    }
    if cursor < range.end {
        out.push_str(&text[cursor..range.end]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_keep_four_characters_and_their_length() {
        let value = format!("ghp_{}", "a".repeat(36));
        assert_eq!(mask_value(&value), "ghp_************ (40 chars)");
        assert_eq!(mask_value("hunter2"), "************ (7 chars)");
    }

    #[test]
    fn random_tokens_look_like_credentials_and_paths_and_names_do_not() {
        let spans = |text: &str| -> Vec<String> {
            credential_like(text, 0..text.len())
                .into_iter()
                .map(|r| text[r].to_string())
                .collect()
        };
        // Unknown formats: random letters and digits, base64 with its padding.
        assert_eq!(
            spans("id = q8ZmV2pX7rL0wT5nQ3sY9aB4"),
            ["q8ZmV2pX7rL0wT5nQ3sY9aB4"]
        );
        assert_eq!(
            spans("blob: Zq8mV2pX7rL0/wT5nQ+3sY9aB4==\n"),
            ["Zq8mV2pX7rL0/wT5nQ+3sY9aB4=="]
        );
        // An assignment is two tokens; a secret's name lowers the bar.
        assert_eq!(spans("PARTNER_KEY=q8ZmV2pX7rL0wT5n"), ["q8ZmV2pX7rL0wT5n"]);
        assert!(spans("RELEASE=q8ZmV2pX7rL0wT5n").is_empty());
        // Paths, hosts, identifiers and short values are not credentials.
        for text in [
            "see crates/atuin-client/src/api_client2.rs",
            "https://reports-db.prod.internal:5432/v1/orders",
            "let http2_max_concurrent_streams = 100;",
            "ClientCollabMessageHandlerWithRetries",
            "version = 1.2.3-alpha.4",
        ] {
            assert!(spans(text).is_empty(), "{text}: {:?}", spans(text));
        }
    }

    #[test]
    fn spans_inside_and_across_the_range_are_masked() {
        let text = "token = \"abcdefghijklmnopqrst\"\nnext";
        let secret = 9..29;
        let whole = mask_spans(text, 0..text.len(), std::slice::from_ref(&secret));
        assert_eq!(whole, "token = \"abcd************ (20 chars)\"\nnext");
        let partial = mask_spans(text, 12..text.len(), std::slice::from_ref(&secret));
        assert!(!partial.contains("efgh"), "{partial}");
    }
}
