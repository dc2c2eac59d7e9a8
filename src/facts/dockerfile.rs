//! What a Dockerfile says about the image it builds: whether it declares a HEALTHCHECK, which a
//! compose service built from it inherits.

use crate::source::file_name;

/// A Dockerfile by its name: `Dockerfile`, `Dockerfile.<variant>`, `<variant>.Dockerfile`, and
/// the same with `Containerfile`. The variant form is read with its capital only, so that
/// `dockerfile.rs` stays a Rust file.
pub fn is_dockerfile(path: &str) -> bool {
    let name = file_name(path);
    let lower = name.to_ascii_lowercase();
    ["Dockerfile", "Containerfile"].iter().any(|base| {
        let lower_base = base.to_ascii_lowercase();
        lower == lower_base
            || name.starts_with(&format!("{base}."))
            || lower.ends_with(&format!(".{lower_base}"))
    })
}

/// The 1-based line of the first `HEALTHCHECK` instruction that sets a check (not
/// `HEALTHCHECK NONE`). Any stage counts: which stage a build targets is not read, and a
/// declared check is reason enough to stay quiet.
pub fn healthcheck_line(text: &str) -> Option<usize> {
    let mut continued = false;
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        let starts_instruction = !continued && !trimmed.starts_with('#');
        continued = trimmed.ends_with('\\');
        if !starts_instruction {
            continue;
        }
        let mut words = trimmed.split_whitespace();
        if words
            .next()
            .is_some_and(|w| w.eq_ignore_ascii_case("HEALTHCHECK"))
            && !words.next().is_some_and(|w| w.eq_ignore_ascii_case("NONE"))
        {
            return Some(index + 1);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for path in [
            "Dockerfile",
            "ui/Dockerfile",
            "docker/Dockerfile.prod",
            "api.dockerfile",
            "Containerfile",
        ] {
            assert!(is_dockerfile(path), "{path}");
        }
        for path in [
            "dockerfiles/readme.md",
            "Dockerfile-notes.txt",
            "src/dockerfile.rs",
        ] {
            assert!(!is_dockerfile(path), "{path}");
        }
    }

    #[test]
    fn healthcheck() {
        let text = "FROM node:22\n# HEALTHCHECK in a comment\nRUN echo \\\n  HEALTHCHECK\nHEALTHCHECK --interval=5s \\\n  CMD wget -qO- http://localhost:4000/health\n";
        assert_eq!(healthcheck_line(text), Some(5));
        assert_eq!(healthcheck_line("FROM x\nhealthcheck NONE\n"), None);
        assert_eq!(healthcheck_line("FROM x\nCMD [\"serve\"]\n"), None);
    }
}
