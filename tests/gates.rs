//! The tree gates (`checks::TreeQuery`, `facts::FileInput::needs_rust_tree`) decide on a Rust
//! file's words whether its syntax tree can matter. They must be necessary conditions: with
//! every Rust file parsed instead (`PRODREADY_PARSE_EVERY_RUST_FILE=1`), every fixture case and
//! both sample projects give byte-identical reports, with the case's own rule selected and with
//! every rule.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

fn report(dir: &Path, select: Option<&str>, parse_everything: bool) -> String {
    let mut command = Command::new(env!("CARGO_BIN_EXE_prodready"));
    command
        // `--no-cache`: tests never write the per-file facts cache (tests/cache.rs tests it).
        .args([
            "audit",
            "--no-cache",
            dir.to_str().unwrap(),
            "--format",
            "json",
            // Preview rules have tree gates too.
            "--preview",
        ])
        .env("NO_COLOR", "1")
        .env_remove("PRODREADY_TIMINGS");
    if let Some(code) = select {
        command.args(["--select", code]);
    }
    if parse_everything {
        command.env("PRODREADY_PARSE_EVERY_RUST_FILE", "1");
    } else {
        command.env_remove("PRODREADY_PARSE_EVERY_RUST_FILE");
    }
    let output = command.output().expect("prodready runs");
    assert!(
        output.status.code().is_some_and(|c| c <= 1),
        "{}: {}",
        dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// A JSON audit with the timings on: what they said on standard error, and the report.
struct Timed {
    stderr: String,
    report: String,
}

impl Timed {
    /// The "rust files parsed: N of M" line.
    fn parsed(&self) -> String {
        (self.stderr.lines())
            .find(|l| l.starts_with("rust files parsed:"))
            .map(|l| l.split(" (").next().unwrap_or_default().to_string())
            .unwrap_or_default()
    }

    /// Whether a file was parsed late, for its uses.
    fn late(&self) -> bool {
        self.stderr.contains("logging and limits (parsed later)")
    }
}

fn timed_audit(dir: &Path, parse_everything: bool) -> Timed {
    let mut command = Command::new(env!("CARGO_BIN_EXE_prodready"));
    command
        .args([
            "audit",
            dir.to_str().unwrap(),
            "--format",
            "json",
            "--no-cache",
        ])
        .env("PRODREADY_TIMINGS", "1");
    if parse_everything {
        command.env("PRODREADY_PARSE_EVERY_RUST_FILE", "1");
    } else {
        command.env_remove("PRODREADY_PARSE_EVERY_RUST_FILE");
    }
    let output = command.output().expect("prodready runs");
    Timed {
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        report: String::from_utf8_lossy(&output.stdout).into_owned(),
    }
}

/// A package in a temporary folder: its Cargo.toml, then its files under `src/`.
fn package(manifest: &str, sources: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("src")).unwrap();
    std::fs::write(dir.path().join("Cargo.toml"), manifest).unwrap();
    for (name, text) in sources {
        std::fs::write(dir.path().join("src").join(name), text).unwrap();
    }
    dir
}

/// `fixtures/<CODE>/<case>/`, each with its rule's code.
fn cases() -> Vec<(PathBuf, String)> {
    let mut cases = Vec::new();
    for rule_dir in std::fs::read_dir("fixtures").unwrap().flatten() {
        let code = rule_dir.file_name().to_string_lossy().into_owned();
        if !code.chars().next().is_some_and(|c| c.is_ascii_uppercase()) {
            continue;
        }
        for case in std::fs::read_dir(rule_dir.path()).unwrap().flatten() {
            if case.path().is_dir() {
                cases.push((case.path(), code.clone()));
            }
        }
    }
    cases.sort();
    cases
}

#[test]
fn the_tree_gates_change_no_report() {
    let mut audited: Vec<(PathBuf, Option<String>)> = Vec::new();
    for (case, code) in cases() {
        audited.push((case.clone(), Some(code)));
        audited.push((case, None));
    }
    for sample in ["fixtures/pilot-service", "fixtures/production-service"] {
        audited.push((Path::new(sample).to_path_buf(), None));
    }
    assert!(audited.len() > 200, "only {} audits", audited.len());
    let queue = Mutex::new(audited.iter());
    let differ = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                while let Some((dir, select)) = { queue.lock().unwrap().next() } {
                    let gated = report(dir, select.as_deref(), false);
                    let everything = report(dir, select.as_deref(), true);
                    if gated != everything {
                        let what = format!("{} (select {select:?})", dir.display());
                        differ.lock().unwrap().push(what);
                    }
                }
            });
        }
    });
    let differ = differ.into_inner().unwrap();
    assert!(
        differ.is_empty(),
        "the tree gates changed the report of: {differ:#?}"
    );
}

/// The comparison above means something only if the switch parses what the gates skip.
#[test]
fn the_switch_parses_the_files_the_gates_skip() {
    let dir = package(
        "[package]\nname = \"plain\"\nversion = \"0.1.0\"\n",
        &[("lib.rs", "pub fn add(a: u8, b: u8) -> u8 {\n    a + b\n}\n")],
    );
    let parsed = |parse_everything| timed_audit(dir.path(), parse_everything).parsed();
    assert_eq!(parsed(false), "rust files parsed: 0 of 1");
    assert_eq!(parsed(true), "rust files parsed: 1 of 1");
}

/// A test module declared in another file makes that file test code, even with a comment
/// between its `#[cfg(test)]` and its `mod` (the gate reads code tokens, where comments are
/// none): its client without a timeout is not reported as production code's.
#[test]
fn a_test_module_declared_with_a_comment_in_between_stays_test_code() {
    let dir = package(
        "[package]\nname = \"svc\"\nversion = \"0.1.0\"\n\n[dependencies]\nreqwest = \"0.12\"\n",
        &[
            (
                "lib.rs",
                "pub fn one() -> u8 {\n    1\n}\n\n#[cfg(test)]\n// the unit tests\nmod checks;\n",
            ),
            (
                "checks.rs",
                "pub fn client() -> reqwest::Client {\n    reqwest::Client::new()\n}\n",
            ),
        ],
    );
    let codes = |report: &str| -> Vec<String> {
        let report: serde_json::Value = serde_json::from_str(report).unwrap();
        let findings = report["findings"].as_array().unwrap().iter();
        findings
            .map(|f| f["code"].as_str().unwrap().to_string())
            .collect()
    };
    let gated = report(dir.path(), None, false);
    assert_eq!(gated, report(dir.path(), None, true));
    assert!(!codes(&gated).contains(&"RES004".to_string()), "{gated}");
    // Without the `#[cfg(test)]`, the same client is production code's: the case can fail.
    let lib = dir.path().join("src/lib.rs");
    std::fs::write(&lib, "pub fn one() -> u8 {\n    1\n}\n\nmod checks;\n").unwrap();
    assert!(codes(&report(dir.path(), None, false)).contains(&"RES004".to_string()));
}

/// A file that only its logging and load-limiting uses could make worth parsing is parsed late,
/// and only when the project checks' verdict depends on it: once one file is known to log,
/// OBS001 is settled, and a binary that calls out through no network client leaves RES009
/// nothing to judge. Without that logging call, the printing file is parsed (OBS001 reports its
/// print).
#[test]
fn files_parsed_only_for_their_uses_wait_for_the_project_to_ask() {
    // Parsed for its retry loop (a count and an inspected result), where it logs.
    let main = "mod printer;\nfn main() {\n    let mut attempts = 0;\n    loop {\n        attempts += 1;\n        match op() {\n            Ok(()) => break,\n            Err(e) => tracing::warn!(\"failed: {e}\"),\n        }\n        if attempts > 3 { break }\n        std::thread::sleep(std::time::Duration::from_secs(attempts));\n    }\n}\nfn op() -> Result<(), String> { Ok(()) }\n";
    let printer = "pub fn show(x: u8) {\n    println!(\"{x}\");\n}\n";
    let dir = package(
        "[package]\nname = \"svc\"\nversion = \"0.1.0\"\n\n[dependencies]\ntracing = \"0.1\"\n",
        &[("printer.rs", printer), ("main.rs", main)],
    );
    let audit = |parse_everything| timed_audit(dir.path(), parse_everything);

    let gated = audit(false);
    assert_eq!(gated.parsed(), "rust files parsed: 1 of 2");
    assert!(!gated.late(), "OBS001 is settled by main.rs's warn!");
    assert_eq!(gated.report, audit(true).report);

    std::fs::write(
        dir.path().join("src/main.rs"),
        main.replace("tracing::warn!(\"failed: {e}\")", "drop(e)"),
    )
    .unwrap();
    let gated = audit(false);
    assert_eq!(gated.parsed(), "rust files parsed: 1 of 2");
    assert!(gated.late(), "nothing logs: OBS001 asks for printer.rs");
    assert!(gated.report.contains("OBS001"), "{}", gated.report);
    assert_eq!(gated.report, audit(true).report);
}

/// Every word a tree gate asks about is in the gate vocabulary, found in the one pass of the
/// lexer: a word outside it costs a search of the whole text, comments and strings too, in
/// every file the gate reads. Every fixture's Rust code is gated here, and a package that
/// renames its HTTP client (the gates then ask for the key in place of the crate).
#[test]
fn the_gates_ask_only_about_words_of_their_vocabulary() {
    let renamed = package(
        "[package]\nname = \"svc\"\nversion = \"0.1.0\"\n\n[dependencies]\nhttp = { package = \"reqwest\", version = \"0.12\" }\n",
        &[(
            "main.rs",
            "fn main() {\n    let client = http::Client::new();\n    let _ = client.get(\"https://example.com\").send();\n}\n",
        )],
    );
    for dir in [Path::new("fixtures"), renamed.path()] {
        let Timed { stderr, report } = timed_audit(dir, false);
        let lexed = stderr
            .lines()
            .find_map(|l| l.strip_prefix("rust files lexed by the tree gates: "))
            .and_then(|l| l.split(' ').next()?.parse::<u32>().ok())
            .expect("the timings count lexed files");
        assert!(lexed > 0, "nothing lexed in {}: {stderr}", dir.display());
        assert!(
            stderr.contains("gate words asked outside the vocabulary: 0\n"),
            "{}: {stderr}",
            dir.display()
        );
        if dir == renamed.path() {
            assert!(
                report.contains("\"code\": \"RES004\""),
                "the renamed client's missing timeout is found"
            );
        }
    }
}
