//! Fixture helpers shared by the test files: annotations and cases.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;

static ANNOTATION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(expect|ok):\s*([A-Z]{3}[0-9]{3}(?:\s*,\s*[A-Z]{3}[0-9]{3})*)").unwrap()
});

#[derive(Debug, Default)]
pub struct Annotations {
    /// (path relative to the case, line) pairs.
    pub expect: BTreeSet<(String, usize)>,
    pub ok: BTreeSet<(String, usize)>,
}

fn is_comment_only(line: &str) -> bool {
    let t = line.trim_start();
    ["#", "//", "<!--", "/*", "--"]
        .iter()
        .any(|c| t.starts_with(c))
}

pub fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

pub fn annotations(case: &Path, code: &str) -> Annotations {
    let mut found = Annotations::default();
    let mut files = Vec::new();
    files_under(case, &mut files);
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let rel = file
            .strip_prefix(case)
            .unwrap()
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        for (index, line) in text.lines().enumerate() {
            for cap in ANNOTATION.captures_iter(line) {
                if !cap[2].split(',').any(|c| c.trim() == code) {
                    continue;
                }
                let target = if is_comment_only(line) {
                    index + 2
                } else {
                    index + 1
                };
                let set = if &cap[1] == "expect" {
                    &mut found.expect
                } else {
                    &mut found.ok
                };
                set.insert((rel.clone(), target));
            }
        }
    }
    found
}

pub fn cases(code: &str) -> Vec<PathBuf> {
    let dir = Path::new("fixtures").join(code);
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|_| panic!("{} is missing", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    cases
}
