//! Names split into words, the one way every rule does it: `dbPassword`, `DB_PASSWORD`,
//! `api-key`, `APIKey`, `readTimeoutMs`, `spring.datasource.password`.

/// Splits an identifier or key into lower-case words: `dbPassword`, `DB_PASSWORD`,
/// `api-key`, `APIKey`, `spring.datasource.password` all split the same way.
pub fn split(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let chars: Vec<char> = name.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            continue;
        }
        let boundary = c.is_uppercase()
            && !current.is_empty()
            && (chars[i - 1].is_lowercase()
                || chars[i - 1].is_ascii_digit()
                || chars.get(i + 1).is_some_and(|n| n.is_lowercase()));
        if boundary {
            out.push(std::mem::take(&mut current));
        }
        current.extend(c.to_lowercase());
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_into_words() {
        assert_eq!(split("dbPassword"), ["db", "password"]);
        assert_eq!(split("APIKey"), ["api", "key"]);
        assert_eq!(split("DB_PASSWORD"), ["db", "password"]);
        assert_eq!(
            split("spring.datasource.password"),
            ["spring", "datasource", "password"]
        );
        assert_eq!(split("oauth2Token"), ["oauth2", "token"]);
        assert_eq!(split("readTimeoutMs"), ["read", "timeout", "ms"]);
        assert_eq!(split("HTTPTimeout"), ["http", "timeout"]);
    }
}
