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

/// `text[range]` with every part that overlaps a secret span replaced by its mask. A secret
/// that straddles the range's edge is masked whole, so a partial view can never reveal it.
pub fn mask_spans(text: &str, range: Range<usize>, secrets: &[Range<usize>]) -> String {
    let mut out = String::with_capacity(range.len());
    let mut cursor = range.start;
    let mut overlapping: Vec<&Range<usize>> = secrets
        .iter()
        .filter(|s| s.start < range.end && s.end > range.start)
        .collect();
    overlapping.sort_by_key(|s| s.start);
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
    fn spans_inside_and_across_the_range_are_masked() {
        let text = "token = \"abcdefghijklmnopqrst\"\nnext";
        let secret = 9..29;
        let whole = mask_spans(text, 0..text.len(), std::slice::from_ref(&secret));
        assert_eq!(whole, "token = \"abcd************ (20 chars)\"\nnext");
        let partial = mask_spans(text, 12..text.len(), std::slice::from_ref(&secret));
        assert!(!partial.contains("efgh"), "{partial}");
    }
}
