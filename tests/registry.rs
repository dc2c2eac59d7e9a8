//! Invariants of the rule set: a rule is complete (docs, fixture with expect and ok cases,
//! snapshots) or the build is red.

use std::collections::BTreeSet;
use std::path::Path;

use prodready::registry::{registry, rule_files};
use regex::Regex;

mod common;

#[test]
fn codes_and_names_are_unique_and_well_formed() {
    let code_form = Regex::new(r"^(SEC|RES|ERR|OBS|OPS|DRF|DEP)[0-9]{3}$").unwrap();
    let name_form = Regex::new(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$").unwrap();
    let mut codes = BTreeSet::new();
    let mut names = BTreeSet::new();
    for rule in registry().rules() {
        assert!(
            code_form.is_match(rule.code.as_str()),
            "bad code {}",
            rule.code
        );
        assert!(
            name_form.is_match(&rule.name),
            "{}: name `{}` is not kebab-case",
            rule.code,
            rule.name
        );
        assert!(
            rule.code.as_str().starts_with(rule.category.prefix()),
            "{}: category does not match its code",
            rule.code
        );
        assert!(codes.insert(rule.code), "duplicate code {}", rule.code);
        assert!(
            names.insert(rule.name.clone()),
            "duplicate name {}",
            rule.name
        );
    }
}

#[test]
fn file_names_match_their_rules() {
    for (file, text) in rule_files() {
        let rule: toml::Table = toml::from_str(text).unwrap();
        let expected = format!(
            "{}-{}.toml",
            rule["code"].as_str().unwrap(),
            rule["name"].as_str().unwrap()
        );
        assert_eq!(*file, expected, "rules/{file} should be named {expected}");
    }
}

#[test]
fn every_rule_is_documented() {
    for rule in registry().rules() {
        for (part, text) in [
            ("summary", &rule.summary),
            ("fix", &rule.fix),
            ("docs.what", &rule.docs.what),
            ("docs.why", &rule.docs.why),
            ("docs.example", &rule.docs.example),
            ("docs.fix", &rule.docs.fix),
        ] {
            assert!(
                text.trim().len() >= 10,
                "{}: {part} is missing or too short",
                rule.code
            );
        }
        assert!(
            !rule.summary.contains('\n') && !rule.fix.contains('\n'),
            "{}: summary and fix are one line",
            rule.code
        );
    }
}

#[test]
fn every_rule_has_expect_and_ok_fixtures_and_snapshots() {
    let snapshots: BTreeSet<String> = std::fs::read_dir("tests/snapshots")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    for rule in registry().rules() {
        let cases = common::cases(rule.code.as_str());
        let mut expects = 0;
        let mut oks = 0;
        for case in &cases {
            let name = case.file_name().unwrap().to_string_lossy();
            let notes = common::annotations(case, rule.code.as_str());
            expects += notes.expect.len() + usize::from(name.starts_with("expect-"));
            oks += notes.ok.len() + usize::from(name.starts_with("ok-"));
            let snapshot = format!("rules__{}__{name}.snap", rule.code);
            assert!(
                snapshots.contains(&snapshot),
                "missing snapshot tests/snapshots/{snapshot}"
            );
        }
        assert!(
            expects > 0,
            "{}: no `expect` case in fixtures/{}",
            rule.code,
            rule.code
        );
        assert!(
            oks > 0,
            "{}: no `ok` case in fixtures/{}",
            rule.code,
            rule.code
        );
    }
}

/// `status` and `since` are required by the rule schema: whether the rule is in the stable set,
/// and the version it arrived in, a plain `MAJOR.MINOR.PATCH`.
#[test]
fn every_rule_has_a_status_and_the_version_it_arrived_in() {
    let version = Regex::new(r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$").unwrap();
    for (file, text) in rule_files() {
        let rule: toml::Table = toml::from_str(text).unwrap();
        assert!(
            matches!(
                rule.get("status").and_then(|s| s.as_str()),
                Some("stable" | "preview")
            ),
            "rules/{file}: status must be \"stable\" or \"preview\""
        );
        let since = rule.get("since").and_then(|s| s.as_str()).unwrap_or("");
        assert!(
            version.is_match(since),
            "rules/{file}: since = \"{since}\" is not a version like \"0.1.0\""
        );
    }
}

#[test]
fn the_full_code_list_is_reviewed() {
    // Adding or removing a rule shows up in review as a change to this snapshot.
    let list: Vec<String> = registry()
        .rules()
        .iter()
        .map(|r| {
            format!(
                "{} {} {} {} since {} applies-when={:?}",
                r.code,
                r.name,
                r.severity,
                r.status.as_str(),
                r.since,
                r.applies_when
            )
        })
        .collect();
    insta::assert_snapshot!("rule_list", list.join("\n"));
}

#[test]
fn every_fixture_folder_belongs_to_a_rule() {
    let code_form = Regex::new(r"^[A-Z]{3}[0-9]{3}$").unwrap();
    for entry in std::fs::read_dir(Path::new("fixtures")).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if code_form.is_match(&name) {
            assert!(
                registry().find(&name).is_some(),
                "fixtures/{name} has no rule"
            );
        }
    }
}

/// The source of a family's check module: `src/checks/<family>.rs` and everything under
/// `src/checks/<family>/`.
fn family_sources(family: &str) -> Vec<(std::path::PathBuf, String)> {
    let dir = Path::new("src/checks");
    let mut files = Vec::new();
    let file = dir.join(format!("{family}.rs"));
    if file.exists() {
        files.push(file);
    }
    let folder = dir.join(family);
    if folder.is_dir() {
        common::files_under(&folder, &mut files);
    }
    files
        .into_iter()
        .map(|f| {
            let text = std::fs::read_to_string(&f).unwrap();
            (f, text)
        })
        .collect()
}

#[test]
fn each_family_module_emits_only_its_own_codes() {
    let mention = Regex::new(r"Code::([A-Z]{3}[0-9]{3})").unwrap();
    let families: BTreeSet<&str> = registry()
        .rules()
        .iter()
        .map(|r| r.family.as_str())
        .collect();
    for family in &families {
        let sources = family_sources(family);
        assert!(
            !sources.is_empty(),
            "family `{family}` has no module src/checks/{family}.rs or src/checks/{family}/"
        );
        for (file, text) in sources {
            for cap in mention.captures_iter(&text) {
                let rule = registry()
                    .find(&cap[1])
                    .expect("a Code constant names a rule");
                assert_eq!(
                    rule.family,
                    *family,
                    "{} names {} of family `{}`: a family module reports only its own rules",
                    file.display(),
                    rule.code,
                    rule.family
                );
            }
        }
    }
    // Every check module is some rule's family.
    for entry in std::fs::read_dir("src/checks").unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let module = name.trim_end_matches(".rs");
        if module != "mod" {
            assert!(
                families.contains(module),
                "src/checks/{name} is no rule's family"
            );
        }
    }
}

#[test]
fn no_check_names_a_rule_by_a_string() {
    let literal = Regex::new(r#""(SEC|RES|OBS|OPS|DRF|DEP|ERR)[0-9]{3}""#).unwrap();
    let mut files = Vec::new();
    common::files_under(Path::new("src/checks"), &mut files);
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        // Unit tests may name rules as users write them.
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        assert!(
            !literal.is_match(code),
            "{}: name rules by their Code constant (Code::RES001), not a string",
            file.display()
        );
    }
}

/// The README's rule table is `prodready rules --format markdown`, between two markers.
/// `UPDATE_README=1 cargo test --test registry` writes it.
#[test]
fn the_readme_lists_every_rule() {
    let readme = std::fs::read_to_string("README.md").unwrap();
    let (start, end) = ("<!-- rules:start -->\n", "<!-- rules:end -->");
    let from = readme
        .find(start)
        .expect("README.md has <!-- rules:start -->")
        + start.len();
    let to = readme.find(end).expect("README.md has <!-- rules:end -->");
    let table = prodready::report::rules::list_markdown();
    if readme[from..to] == table {
        return;
    }
    if std::env::var_os("UPDATE_README").is_some() {
        let updated = format!("{}{table}{}", &readme[..from], &readme[to..]);
        std::fs::write("README.md", updated).unwrap();
        return;
    }
    panic!("README.md's rule table is stale: run `UPDATE_README=1 cargo test --test registry`");
}

/// Every rule's messages, as its fixture cases render them with sample values, read as
/// English: no doubled or misplaced article, no doubled space, backticks in pairs, no trailing
/// full stop. Every rule has at least one message to read.
#[test]
fn every_rules_messages_read_well() {
    let header = Regex::new(r"^([A-Z]{3}[0-9]{3}) (critical|high|medium|low) ").unwrap();
    let lints = [
        (
            Regex::new(r"\bno (a|an|the) ").unwrap(),
            "an article after `no`",
        ),
        (
            Regex::new(r"\b(a|an|the) (a|an|the)\b").unwrap(),
            "a doubled article",
        ),
        (Regex::new(r"\S  +\S").unwrap(), "a doubled space"),
        (
            Regex::new(r"[.\s]$").unwrap(),
            "a trailing full stop or space",
        ),
    ];
    let mut seen = BTreeSet::new();
    let snapshots = std::fs::read_dir("tests/snapshots").unwrap();
    for entry in snapshots {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !name.starts_with("rules__") || !name.ends_with(".snap") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let mut code = None;
        for line in text.lines() {
            if let Some(caps) = header.captures(line) {
                code = Some(caps[1].to_string());
                continue;
            }
            let (Some(rule), Some(message)) = (code.take(), line.strip_prefix("  ")) else {
                continue;
            };
            for (lint, what) in &lints {
                assert!(
                    !lint.is_match(message),
                    "{name}: {rule} message has {what}: {message}"
                );
            }
            assert!(
                message.matches('`').count() % 2 == 0,
                "{name}: {rule} message has an unpaired backtick: {message}"
            );
            seen.insert(rule);
        }
    }
    for rule in registry().rules() {
        assert!(
            seen.contains(rule.code.as_str()),
            "{}: no fixture case renders a message",
            rule.code
        );
    }
}
