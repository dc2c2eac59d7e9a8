//! SEC002's two questions: is this name a secret's name, and is this value a real secret?

use std::sync::LazyLock;

use serde::Deserialize;

use super::patterns::CATALOGUE;
use crate::redact::entropy;
use crate::registry::Code;

#[derive(Deserialize)]
struct Data {
    secret_words: Vec<String>,
    secret_pairs: Vec<[String; 2]>,
    token_qualifiers: Vec<String>,
    excluded_last_words: Vec<String>,
    low_entropy_words: Vec<String>,
    key_value_calls: Vec<String>,
    min_entropy: f64,
    min_length: usize,
}

static DATA: LazyLock<Data> = LazyLock::new(|| Code::SEC002.rule().data());

/// Whether a call's first argument names its second (`.env("API_TOKEN", "..")`).
pub fn is_key_value_call(name: &str) -> bool {
    DATA.key_value_calls.iter().any(|c| c == name)
}

/// How a secret name treats low-entropy values (ordered: `AnyValue` asks less of a value).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SecretName {
    /// `password`, `passwd`, `client_secret`: any real value counts.
    AnyValue,
    /// Other secret names: only values with enough entropy count.
    HighEntropyValue,
}

pub fn classify(name: &str) -> Option<SecretName> {
    let data = &*DATA;
    // A path (`src/secret_key.rs`, a checksum file's key) names a file, not a secret.
    let is_path = name.contains(['/', '\\'])
        || name.rsplit_once('.').is_some_and(|(_, ext)| {
            (1..=4).contains(&ext.len()) && ext.chars().all(|c| c.is_ascii_lowercase())
        });
    if is_path {
        return None;
    }
    let words = crate::words::split(name);
    let last = words.last()?;
    if data.excluded_last_words.contains(last) {
        return None;
    }
    let has = |w: &str| words.iter().any(|x| x == w);
    let pair = |a: &str, b: &str| words.windows(2).any(|p| p[0] == a && p[1] == b);
    let mut secret = data.secret_words.iter().any(|w| has(w))
        || data.secret_pairs.iter().any(|[a, b]| pair(a, b));
    if !secret {
        secret = words.iter().enumerate().any(|(i, w)| {
            w == "token" && (i == 0 || data.token_qualifiers.contains(&words[i - 1]))
        });
    }
    if !secret {
        return None;
    }
    let any_value = data.low_entropy_words.iter().any(|w| has(w)) || pair("client", "secret");
    Some(if any_value {
        SecretName::AnyValue
    } else {
        SecretName::HighEntropyValue
    })
}

fn looks_like_path(value: &str) -> bool {
    value.contains("\\\\")
        || value.starts_with('/')
        || value.starts_with("./")
        || value.starts_with("../")
        || value.starts_with("~/")
        || value.as_bytes().get(1..3) == Some(b":\\")
        || (value.contains('/')
            && !value.contains(['+', '='])
            && value
                .rsplit('/')
                .next()
                .is_some_and(|file| file.contains('.')))
}

fn looks_like_env_name(value: &str) -> bool {
    value.contains('_')
        && value
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        && value.starts_with(|c: char| c.is_ascii_uppercase())
}

/// The shortest value a name that needs a high-entropy value reports.
pub fn min_length() -> usize {
    DATA.min_length
}

/// Whether `word` is one or more of `words` run together (`miniopassword` from `MINIO_ROOT_
/// PASSWORD`, `lemmylemmy` from `lemmy_alpha`): a value made of its own name, or its user's.
pub fn spelled_from(word: &str, words: &[String]) -> bool {
    let word = word.to_ascii_lowercase();
    // ends[i]: the first i bytes are whole words.
    let mut ends = vec![false; word.len() + 1];
    ends[0] = true;
    for i in 0..word.len() {
        if !ends[i] {
            continue;
        }
        for w in words.iter().filter(|w| w.len() >= 2) {
            if word[i..].starts_with(w.as_str()) {
                ends[i + w.len()] = true;
            }
        }
    }
    ends[word.len()]
}

/// What `is_secret_value` refuses as a secret's value whatever the name and the line: too
/// short, with a space or a line break, a URL, a path, an environment variable's name, a
/// placeholder, a UUID, a version number, percent-encoded data, a JWT's single segment, or only
/// the words of secret names. The tree gate (`code_may_hold_secret`) asks it of the literals
/// whose text is their value.
pub fn refused_whatever_the_name(value: &str) -> bool {
    let value = value.trim();
    value.chars().count() < 4
        || value.contains(char::is_whitespace)
        || value.contains("://")
        || looks_like_path(value)
        || looks_like_env_name(value)
        || CATALOGUE.is_placeholder(value)
        || CATALOGUE.contains_uuid(value)
        || (value.contains('.') && value.chars().all(|c| c.is_ascii_digit() || c == '.'))
        // Percent-encoded test data (`%60%7B%7D`) and single JWT segments (a claims payload,
        // `eyJ...` without dots) are not credentials.
        || value.matches('%').count() >= 2
        || (value.starts_with("eyJ") && !value.contains('.'))
        || crate::words::split(value)
            .iter()
            .all(|w| ["password", "secret", "token", "key", "api", "pass"].contains(&w.as_str()))
}

/// Whether `value`, assigned to `name` (a name of this kind) on `line`, is a real secret.
pub fn is_secret_value(name: &str, value: &str, kind: SecretName, line: &str) -> bool {
    let data = &*DATA;
    let value = value.trim();
    // `X_AMZ_CREDENTIAL = "X-Amz-Credential"`: the value spells the name; it is a label.
    // One-letter and number words are left out: escapes (`"test_password\n"`,
    // `"password\000"`).
    let value_words: Vec<String> = (crate::words::split(value).into_iter())
        .filter(|w| w.len() > 1 && !w.chars().all(|c| c.is_ascii_digit()))
        .collect();
    let name_words = crate::words::split(name);
    if !value_words.is_empty() && value_words.iter().all(|w| spelled_from(w, &name_words)) {
        return false;
    }
    if refused_whatever_the_name(value) {
        return false;
    }
    match kind {
        SecretName::AnyValue => true,
        // Issued tokens mix letters and digits; identifiers and labels do not.
        SecretName::HighEntropyValue => {
            value.chars().any(|c| c.is_ascii_digit())
                && value.chars().any(|c| c.is_ascii_alphabetic())
                && value.len() >= data.min_length
                && entropy(value) >= data.min_entropy
                && !CATALOGUE.is_hash_context(line)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_words_never_substrings() {
        for name in [
            "password",
            "db_password",
            "clientSecret",
            "API_KEY",
            "apikey",
            "private_key",
            "AWS_SECRET_ACCESS_KEY",
            "access_token",
            "token",
            "GITHUB_TOKEN",
            "credentials",
            "x-api-key",
        ] {
            assert!(classify(name).is_some(), "{name}");
        }
        for name in [
            "author",
            "oauth_url",
            "next_page_token",
            "token_type",
            "secretName",
            "password_file",
            "api_key_env",
            "client_id",
            "tokenizer",
            "csrf_token",
            "passwordHash",
            "secret_ref",
            "keyboard",
        ] {
            assert_eq!(classify(name), None, "{name}");
        }
        assert_eq!(classify("client_secret"), Some(SecretName::AnyValue));
        assert_eq!(classify("api_token"), Some(SecretName::HighEntropyValue));
    }

    #[test]
    fn values() {
        let any = SecretName::AnyValue;
        let high = SecretName::HighEntropyValue;
        assert!(is_secret_value("password", "hunter2", any, ""));
        assert!(!is_secret_value("password", "hunter2", high, ""));
        assert!(is_secret_value("api_token", "q8ZmV2pX7rL0wT5n", high, ""));
        assert!(!is_secret_value(
            "X_AMZ_CREDENTIAL",
            "X-Amz-Credential",
            high,
            ""
        ));
        for value in [
            "/etc/secrets/db",
            "https://vault/x",
            "DB_PASSWORD",
            "${DB_PASSWORD}",
            "changeme",
            "secrets/db.pem",
            "Enter your password here",
        ] {
            assert!(!is_secret_value("password", value, any, ""), "{value}");
        }
        assert!(!is_secret_value(
            "api_token",
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            high,
            "sha256 = ..."
        ));
    }
}
