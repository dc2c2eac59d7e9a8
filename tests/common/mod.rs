//! Fixture helpers shared by the test files: annotations and cases.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;

/// `expect: RES001 medium`, `ok: RES001`, `expect: SEC002 high, SEC003 low`.
static ANNOTATION: LazyLock<Regex> = LazyLock::new(|| {
    let one = r"[A-Z]{3}[0-9]{3}(?:[ \t]+(?:critical|high|medium|low)\b)?";
    Regex::new(&format!(r"\b(expect|ok):\s*({one}(?:\s*,\s*{one})*)")).unwrap()
});

#[derive(Debug, Default)]
pub struct Annotations {
    /// (path relative to the case, line) with the severity the finding must have.
    pub expect: BTreeMap<(String, usize), String>,
    /// (path relative to the case, line) pairs.
    pub ok: BTreeSet<(String, usize)>,
    /// Annotations that are not well formed (an `expect` without its severity).
    pub problems: Vec<String>,
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
                let Some(annotated) = cap[2]
                    .split(',')
                    .map(str::split_whitespace)
                    .find_map(|mut words| (words.next() == Some(code)).then(|| words.next()))
                else {
                    continue;
                };
                let target = if is_comment_only(line) {
                    index + 2
                } else {
                    index + 1
                };
                let at = (rel.clone(), target);
                match (&cap[1], annotated) {
                    ("ok", _) => {
                        found.ok.insert(at);
                    }
                    (_, Some(severity)) => {
                        found.expect.insert(at, severity.to_string());
                    }
                    (_, None) => found.problems.push(format!(
                        "{rel}:{}: `expect: {code}` without the severity the finding must have",
                        index + 1
                    )),
                }
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
