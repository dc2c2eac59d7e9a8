//! Every rule fixture case is its own test, named `<CODE>::<case>`: `cargo test RES001` runs
//! RES001's cases, and a failure names its case.
//!
//! `fixtures/<CODE>/<case>/` is a small project audited with only `<CODE>` selected (and the
//! rules its `prodready.toml` selects):
//! - a line with `expect: CODE SEVERITY` in a comment must carry a finding of CODE at that
//!   severity, and a line with `ok: CODE` must not (a comment alone on its line annotates the
//!   next line);
//! - every finding of CODE must sit on an `expect` line, unless it is about something missing
//!   (no line): those are allowed only in a case named `expect-*`;
//! - a case named `expect-*` must have a finding of CODE, a case named `ok-*` must have none,
//!   and a case named `quiet-*` none that fails its item (it may report at `low`, unannotated,
//!   what fails nothing: a sample password in CI, a retry loop in a build script);
//! - the case's findings, rendered compactly, are an insta snapshot
//!   (`tests/snapshots/rules__<CODE>__<case>.snap`): code, severity, place, the file's role when
//!   it is not production, and whether the finding fails nothing.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::path::Path;
use std::process::ExitCode;

use common::{annotations, cases};
use libtest_mimic::{Arguments, Failed, Trial};
use prodready::config::Config;
use prodready::engine::Report;
use prodready::registry::registry;

fn main() -> ExitCode {
    let arguments = Arguments::from_args();
    let trials = registry()
        .rules()
        .iter()
        .flat_map(|rule| {
            let code = rule.code.as_str();
            cases(code).into_iter().map(move |case| {
                let name = format!("{code}::{}", case_name(&case));
                Trial::test(name, move || check_case(code, &case))
            })
        })
        .collect();
    libtest_mimic::run(&arguments, trials).exit_code()
}

fn case_name(case: &Path) -> String {
    case.file_name().unwrap().to_string_lossy().into_owned()
}

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

/// Audits a case with its rule (and the rules its configuration selects).
fn audit_case(code: &str, case: &Path) -> Report {
    let materialised = materialise(case);
    let root = materialised.as_ref().map_or(case, |d| d.path());
    // A case's prodready.toml applies (OPS006 judges its `[[allow]]` entries), and its `select`
    // adds the rules its own rule depends on (OPS006 needs the rules it suppresses).
    let case_config = prodready::config::load(root, None).expect("fixture config");
    let mut select = vec![code.to_string()];
    select.extend(case_config.select.clone().unwrap_or_default());
    let config = Config {
        select: Some(select),
        // A rule is tested before it is promoted from preview.
        preview: true,
        ..case_config
    };
    prodready::audit(root, &config, Some(2)).expect("fixture audits")
}

fn check_case(code: &str, case: &Path) -> Result<(), Failed> {
    let name = case_name(case);
    let report = audit_case(code, case);
    let notes = annotations(case, code);
    let mut problems = notes.problems.clone();
    let mut on_lines: BTreeMap<(String, usize), BTreeSet<String>> = BTreeMap::new();
    let mine: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.rule.code == code)
        .collect();
    let quiet = name.starts_with("quiet-");
    for finding in &mine {
        // A quiet case is about findings reported without failing: they need no annotation.
        if quiet && !prodready::score::fails_item(finding) {
            continue;
        }
        match (&finding.path, &finding.span) {
            (Some(path), Some(span))
                if !(name.starts_with("expect-") && notes.expect.is_empty()) =>
            {
                let at = (path.clone(), span.start_line);
                on_lines
                    .entry(at)
                    .or_default()
                    .insert(finding.severity.to_string());
            }
            // Formats without comments (JSON) cannot be annotated: an `expect-*` case accepts
            // its findings anywhere.
            _ if name.starts_with("expect-") => {}
            _ => problems.push(format!(
                "project-level finding outside an `expect-*` case: {}",
                finding.message
            )),
        }
    }
    for ((path, line), severities) in &on_lines {
        match notes.expect.get(&(path.clone(), *line)) {
            None => problems.push(format!("unexpected finding at {path}:{line}")),
            Some(expected) if severities.iter().any(|s| s != expected) => problems.push(format!(
                "{path}:{line}: finding at {}, annotated expect {expected}",
                severities.iter().cloned().collect::<Vec<_>>().join(" and ")
            )),
            Some(_) => {}
        }
    }
    for (path, line) in notes.expect.keys() {
        if !on_lines.contains_key(&(path.clone(), *line)) {
            problems.push(format!("no finding at {path}:{line} (annotated expect)"));
        }
    }
    for at in &notes.ok {
        if on_lines.contains_key(at) {
            problems.push(format!("finding at {}:{} (annotated ok)", at.0, at.1));
        }
    }
    if name.starts_with("expect-") && mine.is_empty() {
        problems.push("an expect- case without a finding".to_string());
    }
    if name.starts_with("ok-") && !mine.is_empty() {
        problems.push(format!("an ok- case with {} finding(s)", mine.len()));
    }
    let failing = mine
        .iter()
        .filter(|f| prodready::score::fails_item(f))
        .count();
    if quiet && failing > 0 {
        problems.push(format!("a quiet- case with {failing} failing finding(s)"));
    }
    insta::assert_snapshot!(format!("{code}__{name}"), compact(&report));
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n").into())
    }
}

/// A case's findings, one block each (severity, place, message, and a fix or suppression when
/// the finding has its own), then what was said about its files.
fn compact(report: &Report) -> String {
    let mut out = String::new();
    for f in &report.findings {
        let place = match (&f.path, &f.span) {
            (Some(path), Some(span)) => format!("{path}:{}:{}", span.start_line, span.start_column),
            (Some(path), None) => path.clone(),
            (None, _) => "(project)".to_string(),
        };
        let role = match f.role {
            prodready::roles::Role::Production => String::new(),
            role => format!(" [{}]", role.as_str()),
        };
        let quiet = if prodready::score::fails_item(f) {
            ""
        } else {
            " (fails nothing)"
        };
        let _ = writeln!(out, "{} {} {place}{role}{quiet}", f.rule.code, f.severity);
        let _ = writeln!(out, "  {}", f.message);
        if let Some(fix) = &f.fix {
            let _ = writeln!(out, "  fix: {fix}");
        }
        if let Some(s) = f.suppression() {
            let _ = writeln!(
                out,
                "  suppressed by {:?} at {}: {}",
                s.kind, s.at, s.reason
            );
        }
    }
    if report.findings.is_empty() {
        out.push_str("no findings\n");
    }
    let files = &report.files;
    for (label, notes) in [
        ("not parsed", &files.not_parsed),
        ("not analysed", &files.not_analysed),
    ] {
        for note in notes {
            let _ = writeln!(out, "{label}: {}: {}", note.path, note.reason);
        }
    }
    for path in &files.templated {
        let _ = writeln!(out, "not audited (templated): {path}");
    }
    out
}
