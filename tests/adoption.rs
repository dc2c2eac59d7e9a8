//! Adopting prodready on an existing codebase, end to end in real git repositories: a baseline
//! records today's findings, survives unrelated edits, lets only new findings fail the gate and
//! reports what was fixed.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const MANIFEST: &str = "[package]\nname = \"orders\"\nversion = \"0.1.0\"\nedition = \"2021\"\n";
const BASELINE: &str = ".prodready-baseline.json";

struct Repo {
    dir: tempfile::TempDir,
}

impl Repo {
    /// A git repository with a first commit of `main.rs`.
    fn new(main_rs: &str) -> Repo {
        let repo = Repo {
            dir: tempfile::tempdir().unwrap(),
        };
        repo.git(&["init", "--quiet"]);
        repo.write("Cargo.toml", MANIFEST);
        repo.write("src/main.rs", main_rs);
        repo.commit("first");
        repo
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn git(&self, args: &[&str]) {
        let status = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .current_dir(self.path())
            .status()
            .expect("git runs");
        assert!(status.success(), "git {args:?}");
    }

    fn write(&self, path: &str, text: &str) {
        let path = self.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn commit(&self, message: &str) {
        self.git(&["add", "-A"]);
        self.git(&["commit", "--quiet", "-m", message]);
    }

    /// `prodready audit` of the repository with SEC002 and a gate on high findings: the exit
    /// code and the JSON report.
    fn audit(&self, extra: &[&str]) -> (i32, Value) {
        let output = Command::new(env!("CARGO_BIN_EXE_prodready"))
            // `--no-cache`: tests never write the per-file facts cache (tests/cache.rs tests it).
            .args([
                "audit",
                "--no-cache",
                ".",
                "--select",
                "SEC002",
                "--fail-on",
                "high",
            ])
            .args(["--format", "json"])
            .args(extra)
            .current_dir(self.path())
            .output()
            .expect("prodready runs");
        let report = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
            panic!("{e}: {}", String::from_utf8_lossy(&output.stderr));
        });
        (output.status.code().expect("exited"), report)
    }

    fn baseline(&self) -> PathBuf {
        self.path().join(BASELINE)
    }

    /// Records the current findings in the baseline and commits it.
    fn record_baseline(&self) {
        self.audit(&["--write-baseline", BASELINE]);
        self.commit("baseline");
    }
}

fn findings(report: &Value) -> &Vec<Value> {
    report["findings"].as_array().unwrap()
}

/// (variable name in the message, start line, baselined) of each finding.
fn summary(report: &Value) -> Vec<(String, u64, bool)> {
    findings(report)
        .iter()
        .map(|f| {
            let message = f["message"].as_str().unwrap();
            let name = message.split('`').nth(1).unwrap_or(message).to_string();
            (
                name,
                f["start_line"].as_u64().unwrap(),
                f["baselined"].as_bool().unwrap(),
            )
        })
        .collect()
}

const BEFORE: &str = r#"fn connect() {
    let db_password = "compose-only";
    let cache_password = "cache-only";
}

fn seed() {
    let seed_password = "seed-only";
    let cache_password = "cache-only";
}

fn main() {
    connect();
    seed();
}
"#;

#[test]
fn a_baseline_survives_inserted_lines_and_reordered_functions() {
    let repo = Repo::new(BEFORE);
    let (exit, before) = repo.audit(&[]);
    assert_eq!(exit, 1, "four high findings fail the gate");
    assert_eq!(findings(&before).len(), 4);
    repo.record_baseline();
    let recorded = std::fs::read_to_string(repo.baseline()).unwrap();
    assert_eq!(recorded.matches("\"rule\":\"SEC002\"").count(), 4);
    assert!(
        !recorded.contains("compose-only") && !recorded.contains("db_password"),
        "entries hold digests, never source text: {recorded}"
    );

    // Unrelated edits: a module comment and a new function above, `seed` moved before
    // `connect`, indentation changed.
    repo.write(
        "src/main.rs",
        r#"//! The orders service's local development entry point.

use std::env;

fn seed() {
        let seed_password = "seed-only";
        let cache_password = "cache-only";
}

fn region() -> String {
    env::var("REGION").unwrap_or_default()
}

fn connect() {
    let db_password = "compose-only";

    let cache_password = "cache-only";
}

fn main() {
    println!("{}", region());
    connect();
    seed();
}
"#,
    );
    repo.commit("reorder");
    let (exit, after) = repo.audit(&["--baseline", BASELINE]);
    let moved = summary(&after);
    assert_eq!(moved.len(), 4);
    assert!(
        moved.iter().all(|(_, _, baselined)| *baselined),
        "{moved:?}"
    );
    let lines_before: Vec<u64> = summary(&before).iter().map(|f| f.1).collect();
    let lines_after: Vec<u64> = moved.iter().map(|f| f.1).collect();
    assert_ne!(lines_before, lines_after, "the findings did move");
    assert_eq!(exit, 0, "baselined findings do not fail the gate");
    assert_eq!(after["baseline"]["matched"], 4);
    assert_eq!(after["baseline"]["fixed"], Value::Array(Vec::new()));
    // The debt still counts: the item fails and the score is what it was.
    assert_eq!(after["score"], before["score"]);
    let item = after["checklist"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["code"] == "SEC002")
        .unwrap();
    assert_eq!(item["status"], "fail");
    assert_eq!(item["baselined_findings"], 4);
    assert_eq!(after["summary"]["baselined_findings"], 4);
}

#[test]
fn a_different_secret_on_a_baselined_line_is_reported() {
    let repo = Repo::new("fn main() {\n    let db_password = \"compose-only\";\n}\n");
    repo.record_baseline();
    assert_eq!(repo.audit(&["--baseline", BASELINE]).0, 0);

    // A second secret added on the baselined line.
    repo.write(
        "src/main.rs",
        "fn main() {\n    let db_password = \"compose-only\"; let backup_password = \"backup-only\";\n}\n",
    );
    repo.commit("second secret");
    let (exit, report) = repo.audit(&["--baseline", BASELINE]);
    assert_eq!(exit, 1, "{:?}", summary(&report));
    assert!(
        summary(&report).contains(&("backup_password".to_string(), 2, false)),
        "{:?}",
        summary(&report)
    );

    // The secret replaced by another of the same length: its masked form is identical, but
    // the finding is new.
    repo.write(
        "src/main.rs",
        "fn main() {\n    let db_password = \"compose-0nly\";\n}\n",
    );
    repo.commit("rotated into the code");
    let (exit, report) = repo.audit(&["--baseline", BASELINE]);
    assert_eq!(exit, 1);
    assert_eq!(
        summary(&report),
        [("db_password".to_string(), 2, false)],
        "a different secret is a new finding"
    );
    assert_eq!(report["baseline"]["fixed"].as_array().unwrap().len(), 1);
}

#[test]
fn a_fixed_finding_is_reported_as_fixed_and_the_baseline_shrinks() {
    let repo = Repo::new(BEFORE);
    repo.record_baseline();
    repo.write(
        "src/main.rs",
        &BEFORE.replace("\"seed-only\"", "env!(\"SEED\")"),
    );
    repo.commit("seed password from the environment");
    let (exit, report) = repo.audit(&["--baseline", BASELINE]);
    assert_eq!(exit, 0);
    let fixed = report["baseline"]["fixed"].as_array().unwrap();
    assert_eq!(fixed.len(), 1, "{fixed:?}");
    assert_eq!(fixed[0]["rule"], "SEC002");
    assert_eq!(fixed[0]["path"], "src/main.rs");
    assert_eq!(report["baseline"]["matched"], 3);

    let human = Command::new(env!("CARGO_BIN_EXE_prodready"))
        .args([
            "audit",
            "--no-cache",
            ".",
            "--select",
            "SEC002",
            "--baseline",
            BASELINE,
        ])
        .current_dir(repo.path())
        .output()
        .unwrap();
    let human = String::from_utf8_lossy(&human.stdout);
    assert!(
        human.contains("Baseline: 3 of 4 entries match")
            && human.contains("Fixed since the baseline: 1 entries match nothing"),
        "{human}"
    );
    assert!(human.contains("3 baselined"), "{human}");

    // Burning down: writing the baseline again drops the fixed entry.
    repo.record_baseline();
    let (_, report) = repo.audit(&["--baseline", BASELINE]);
    assert_eq!(report["baseline"]["entries"], 3);
    assert_eq!(report["baseline"]["fixed"], Value::Array(Vec::new()));
}

#[test]
fn a_baseline_is_deterministic_and_rules_not_run_are_not_fixed() {
    let repo = Repo::new(BEFORE);
    repo.record_baseline();
    let first = std::fs::read_to_string(repo.baseline()).unwrap();
    repo.audit(&["--write-baseline", BASELINE, "--threads", "1"]);
    assert_eq!(std::fs::read_to_string(repo.baseline()).unwrap(), first);
    let mut lines: Vec<&str> = first.lines().filter(|l| l.contains("\"rule\"")).collect();
    assert_eq!(lines.len(), 4);
    let written = lines.clone();
    lines.sort();
    assert_eq!(lines, written, "sorted, one entry per line");

    // An audit of other rules cannot tell whether SEC002's findings were fixed.
    let output = Command::new(env!("CARGO_BIN_EXE_prodready"))
        .args([
            "audit",
            "--no-cache",
            ".",
            "--select",
            "RES",
            "--format",
            "json",
        ])
        .args(["--baseline", BASELINE])
        .current_dir(repo.path())
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["baseline"]["fixed"], Value::Array(Vec::new()));

    std::fs::write(repo.baseline(), "{\"findings\": 3}").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_prodready"))
        .args(["audit", "--no-cache", ".", "--baseline", BASELINE])
        .current_dir(repo.path())
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(2),
        "a broken baseline stops the audit"
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("not a prodready baseline"));
}
