//! Every rule fixture is its own assertion.
//!
//! `fixtures/<CODE>/<case>/` is a small project audited with only `<CODE>` selected:
//! - a line with `expect: CODE` in a comment must carry a finding of CODE, and a line with
//!   `ok: CODE` must not (a comment alone on its line annotates the next line);
//! - every finding of CODE must sit on an `expect` line, unless it is about something missing
//!   (no line): those are allowed only in a case named `expect-*`;
//! - a case named `expect-*` must have a finding of CODE, a case named `ok-*` must have none;
//! - the human and JSON reports of each case are insta snapshots.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::{annotations, cases};
use prodready::config::Config;
use prodready::registry::registry;
use prodready::report::{human, json};

/// Fixture files never hold credential-shaped values (hosting providers' push protection
/// would block this repository): they hold `<<fake:TEMPLATE>>` markers, expanded here into a
/// copy of the case (see `checks::secrets::fake`). Cases without markers are audited in place.
fn materialise(case: &Path) -> Option<tempfile::TempDir> {
    let marker = regex::Regex::new(r"<<fake:(.*?)>>").unwrap();
    let mut files = Vec::new();
    common::files_under(case, &mut files);
    let has_markers = files
        .iter()
        .any(|f| std::fs::read(f).is_ok_and(|bytes| bytes.windows(7).any(|w| w == b"<<fake:")));
    if !has_markers {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    for file in files {
        let rel = file.strip_prefix(case).unwrap();
        let target = dir.path().join(rel);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        match std::fs::read_to_string(&file) {
            Ok(text) => {
                let mut occurrence = 0;
                let expanded = marker.replace_all(&text, |caps: &regex::Captures| {
                    occurrence += 1;
                    let seed = format!("{}#{occurrence}", rel.display());
                    prodready::checks::secrets::fake::expand(&caps[1], &seed)
                });
                std::fs::write(&target, expanded.as_bytes()).unwrap();
            }
            Err(_) => {
                std::fs::copy(&file, &target).unwrap();
            }
        }
    }
    Some(dir)
}

fn check_case(code: &str, case: &Path) -> Vec<String> {
    let name = case.file_name().unwrap().to_string_lossy().into_owned();
    let materialised = materialise(case);
    let root = materialised.as_ref().map_or(case, |d| d.path());
    // A case's prodready.toml applies (OPS006 judges its `[[allow]]` entries), and its `select`
    // adds the rules its own rule depends on (OPS006 needs the rules it suppresses).
    let case_config = prodready::config::load(root, None).expect("fixture config");
    let mut select = vec![code.to_string()];
    select.extend(case_config.select.clone().unwrap_or_default());
    let config = Config {
        select: Some(select),
        ..case_config
    };
    let mut report = prodready::audit(root, &config, Some(2)).expect("fixture audits");
    report.root = case.display().to_string();
    let notes = annotations(case, code);
    let mut problems = Vec::new();
    let mine: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.rule.code == code)
        .collect();
    let mut lines_with_findings = BTreeSet::new();
    for finding in &mine {
        match (&finding.path, &finding.span) {
            (Some(path), Some(span))
                if !(name.starts_with("expect-") && notes.expect.is_empty()) =>
            {
                let at = (path.clone(), span.start_line);
                if !notes.expect.contains(&at) {
                    problems.push(format!(
                        "{name}: unexpected finding at {}:{}: {}",
                        at.0, at.1, finding.message
                    ));
                }
                lines_with_findings.insert(at);
            }
            // Formats without comments (JSON) cannot be annotated: an `expect-*` case accepts
            // its findings anywhere.
            _ if name.starts_with("expect-") => {}
            _ => problems.push(format!(
                "{name}: project-level finding outside an `expect-*` case: {}",
                finding.message
            )),
        }
    }
    for at in notes.expect.difference(&lines_with_findings) {
        problems.push(format!(
            "{name}: no finding at {}:{} (annotated expect)",
            at.0, at.1
        ));
    }
    for at in notes.ok.intersection(&lines_with_findings) {
        problems.push(format!(
            "{name}: finding at {}:{} (annotated ok)",
            at.0, at.1
        ));
    }
    if name.starts_with("expect-") && mine.is_empty() {
        problems.push(format!("{name}: an expect- case without a finding"));
    }
    if name.starts_with("ok-") && !mine.is_empty() {
        problems.push(format!(
            "{name}: an ok- case with {} finding(s)",
            mine.len()
        ));
    }

    let human = human::render(
        &report,
        &human::HumanOptions {
            color: false,
            quiet: false,
        },
    );
    insta::assert_snapshot!(format!("{code}__{name}__human"), human);
    insta::assert_snapshot!(format!("{code}__{name}__json"), json::render(&report));
    problems
}

/// `PRODREADY_RULES=RES00 cargo test --test rules` checks only the rules whose code starts so.
#[test]
fn every_rule_fixture_matches_its_annotations() {
    let only = std::env::var("PRODREADY_RULES").unwrap_or_default();
    let mut problems = Vec::new();
    for rule in registry()
        .rules()
        .iter()
        .filter(|r| r.code.as_str().starts_with(&only))
    {
        for case in cases(rule.code.as_str()) {
            problems.extend(
                check_case(rule.code.as_str(), &case)
                    .into_iter()
                    .map(|p| format!("{}: {p}", rule.code)),
            );
        }
    }
    assert!(
        problems.is_empty(),
        "fixture problems:\n{}",
        problems.join("\n")
    );
}
