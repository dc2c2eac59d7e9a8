//! `audit --changed-since REF` end to end, in real git repositories: the gate judges what a
//! change brought since its merge base, never touches the work tree or the index, and runs
//! nothing the audited repository configures.

mod git;
use git::git_in;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const MANIFEST: &str = "[package]\nname = \"billing\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
[dependencies]\nreqwest = \"0.12\"\ntokio = { version = \"1\", features = [\"time\"] }\nfastrand = \"2\"\n";

/// A retry loop that retries at once: RES001 (high) at its `loop`.
fn immediate_retry(name: &str, verb: &str) -> String {
    immediate_retry_counting(name, verb, "attempts")
}

fn immediate_retry_counting(name: &str, verb: &str, counter: &str) -> String {
    format!(
        r#"
pub async fn {name}(client: &reqwest::Client, url: &str) -> Result<(), reqwest::Error> {{
    let mut {counter} = 0;
    loop {{
        match client.{verb}(url).send().await {{
            Ok(_) => return Ok(()),
            Err(e) => {{
                {counter} += 1;
                if {counter} >= 3 {{
                    return Err(e);
                }}
            }}
        }}
    }}
}}
"#
    )
}

/// The same loop with a capped, jittered exponential backoff: no finding.
fn backoff_retry(name: &str, verb: &str) -> String {
    format!(
        r#"
pub async fn {name}(client: &reqwest::Client, url: &str) -> Result<(), reqwest::Error> {{
    let mut delay = std::time::Duration::from_millis(100);
    let max = std::time::Duration::from_secs(10);
    let mut attempts = 0;
    loop {{
        match client.{verb}(url).send().await {{
            Ok(_) => return Ok(()),
            Err(e) => {{
                attempts += 1;
                if attempts >= 3 {{
                    return Err(e);
                }}
                let jitter = std::time::Duration::from_millis(fastrand::u64(0..100));
                tokio::time::sleep(delay + jitter).await;
                delay = (delay * 2).min(max);
            }}
        }}
    }}
}}
"#
    )
}

struct Repo {
    dir: tempfile::TempDir,
}

impl Repo {
    /// A repository whose `main` holds the manifest and `files`, and a `change` branch off it.
    fn new(files: &[(&str, &str)]) -> Repo {
        Repo::branched(|repo| {
            repo.write("Cargo.toml", MANIFEST);
            for (path, text) in files {
                repo.write(path, text);
            }
        })
    }

    /// A repository whose `main` holds what `write_main` writes, and a `change` branch off it.
    fn branched(write_main: impl FnOnce(&Repo)) -> Repo {
        let repo = Repo {
            dir: tempfile::tempdir().unwrap(),
        };
        repo.git(&["init", "--quiet"]);
        write_main(&repo);
        repo.commit("main");
        repo.git(&["checkout", "--quiet", "-b", "change"]);
        repo
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn git(&self, args: &[&str]) -> String {
        git_in(self.path(), args)
    }

    fn write(&self, path: &str, text: &str) {
        let path = self.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn read(&self, path: &str) -> String {
        std::fs::read_to_string(self.path().join(path)).unwrap()
    }

    fn commit(&self, message: &str) {
        self.git(&["add", "-A"]);
        self.git(&["commit", "--quiet", "-m", message]);
    }
}

fn prodready(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_prodready"))
        // `--no-cache`: tests never write the per-file facts cache (tests/cache.rs tests it).
        .args(["audit", "--no-cache"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("prodready runs")
}

/// `audit PATH --changed-since main --fail-on high --format json` plus `extra`: the exit code
/// and the report.
fn audit_change(dir: &Path, path: &str, extra: &[&str]) -> (i32, Value) {
    let output = prodready(
        dir,
        &[
            &[path, "--changed-since", "main", "--fail-on", "high"],
            &["--format", "json"][..],
            extra,
        ]
        .concat(),
    );
    let report = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&output.stderr));
    });
    (output.status.code().expect("exited"), report)
}

/// The new findings: (code, path, line).
fn new_findings(report: &Value) -> Vec<(String, String, u64)> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["new"] == true)
        .map(|f| {
            (
                f["code"].as_str().unwrap().to_string(),
                f["path"].as_str().unwrap_or("").to_string(),
                f["start_line"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

/// A finding as `new_findings` lists it.
fn found(code: &str, path: &str, line: u64) -> (String, String, u64) {
    (code.to_string(), path.to_string(), line)
}

/// The 1-based line of the `n`th (from 1) line of `text` that contains `needle`.
fn line_of(text: &str, needle: &str, n: usize) -> u64 {
    text.lines()
        .enumerate()
        .filter(|(_, l)| l.contains(needle))
        .nth(n - 1)
        .map(|(i, _)| i as u64 + 1)
        .unwrap_or_else(|| panic!("no {n}th `{needle}`"))
}

fn codes(report: &Value, code: &str) -> usize {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == code)
        .count()
}

fn legacy_repo() -> Repo {
    Repo::new(&[
        (
            "src/lib.rs",
            &format!("mod extra;\n{}", immediate_retry("fetch_invoice", "get")),
        ),
        ("src/extra.rs", "pub fn nothing() {}\n"),
    ])
}

/// `legacy_repo` and a commit that adds a second retry loop without backoff (`post_ledger`):
/// the repository and the new `src/lib.rs`.
fn legacy_repo_with_a_new_retry() -> (Repo, String) {
    let repo = legacy_repo();
    let lib = format!(
        "{}{}",
        repo.read("src/lib.rs"),
        immediate_retry("post_ledger", "post")
    );
    repo.write("src/lib.rs", &lib);
    repo.commit("add post_ledger");
    (repo, lib)
}

#[test]
fn a_new_retry_loop_without_backoff_fails_with_exactly_that_finding() {
    let (repo, lib) = legacy_repo_with_a_new_retry();

    let (code, report) = audit_change(repo.path(), ".", &[]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(
        new_findings(&report),
        vec![found("RES001", "src/lib.rs", line_of(&lib, "loop {", 2))]
    );
    // The legacy loop still fails its item, but is not judged.
    assert_eq!(codes(&report, "RES001"), 2);
    let changes = &report["changes"];
    assert_eq!(changes["since"], "main");
    assert_eq!(changes["merge_base"], repo.git(&["rev-parse", "main"]));
    assert_eq!(changes["changed_files"], 1);
    assert_eq!(changes["new_findings"], 1);
    assert_eq!(
        report["gate"]["reasons"][0],
        "1 new finding(s) at high severity or above"
    );

    // The human report shows only the new finding, and says what it left out.
    let output = prodready(
        repo.path(),
        &[
            ".",
            "--changed-since",
            "main",
            "--fail-on",
            "high",
            "--color",
            "never",
        ],
    );
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        text.matches("RES001[retry-without-backoff]").count(),
        1,
        "{text}"
    );
    assert!(text.contains("post(url)"), "{text}");
    assert!(
        text.contains("1 new finding in this change (") && text.contains("elsewhere not judged"),
        "{text}"
    );
    assert!(text.contains("Change since main (merge base "), "{text}");

    // GitHub annotations and the markdown summary list the new finding only; SARIF marks both.
    let output = prodready(
        repo.path(),
        &[".", "--changed-since", "main", "--format", "github"],
    );
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(text.matches("title=RES001").count(), 1, "{text}");
    let output = prodready(
        repo.path(),
        &[".", "--changed-since", "main", "--format", "sarif"],
    );
    let sarif: Value = serde_json::from_slice(&output.stdout).unwrap();
    let schema: Value = serde_json::from_str(include_str!("sarif-schema-2.1.0.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&sarif)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(sarif["runs"][0]["properties"]["changes"]["newFindings"], 1);
    let states: Vec<&str> = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["ruleId"] == "RES001")
        .map(|r| r["baselineState"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["unchanged", "new"]);
}

#[test]
fn a_change_that_only_moves_old_code_passes() {
    let repo = legacy_repo();
    // fetch_invoice moves to a new module, and into a block of the old file's neighbour.
    let lib = repo.read("src/lib.rs");
    let moved = lib.replace("mod extra;\n", "");
    repo.write("src/lib.rs", "mod extra;\nmod invoices;\n");
    repo.write("src/invoices.rs", &moved);
    repo.commit("move fetch_invoice");

    let (code, report) = audit_change(repo.path(), ".", &["--fail-under", "99"]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(new_findings(&report), vec![]);
    assert_eq!(codes(&report, "RES001"), 1);
    assert_eq!(report["changes"]["changed_files"], 2);
    assert_eq!(report["changes"]["base_score"], report["score"]);
}

#[test]
fn a_top_level_item_moved_between_other_neighbours_is_not_new() {
    let secret = "/// The staging database password.\npub const DB_PASSWORD: &str = \"hunter2-staging-77\";\n";
    let repo = Repo::new(&[
        (
            "src/lib.rs",
            &format!("//! Settings.\nmod more;\n\n{secret}\npub fn x() {{}}\n"),
        ),
        ("src/more.rs", "pub fn y() {}\npub fn z() {}\n"),
    ]);
    repo.write("src/lib.rs", "//! Settings.\nmod more;\n\npub fn x() {}\n");
    repo.write(
        "src/more.rs",
        &format!("pub fn y() {{}}\n{secret}pub fn z() {{}}\n"),
    );
    repo.commit("move the constant");
    let (code, report) = audit_change(repo.path(), ".", &[]);
    assert_eq!(codes(&report, "SEC002"), 1, "{report:#}");
    assert_eq!(new_findings(&report), vec![]);
    assert_eq!(code, 0);
}

#[test]
fn a_change_that_fixes_a_finding_and_adds_none_passes_with_a_higher_score() {
    let repo = legacy_repo();
    repo.write(
        "src/lib.rs",
        &format!("mod extra;\n{}", backoff_retry("fetch_invoice", "get")),
    );
    repo.commit("back off");

    // A floor far above the legacy score: only a drop below the merge base's would fail.
    let (code, report) = audit_change(repo.path(), ".", &["--fail-under", "99"]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(new_findings(&report), vec![]);
    let (before, after) = (
        report["changes"]["base_score"].as_f64().unwrap(),
        report["score"].as_f64().unwrap(),
    );
    assert!(after > before, "{before} -> {after}");
    assert!(after < 99.0);
    let items = report["changes"]["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(
        (&items[0]["code"], &items[0]["base"], &items[0]["head"]),
        (&"RES001".into(), &"fail".into(), &"pass".into())
    );
}

#[test]
fn a_score_below_both_the_floor_and_the_merge_base_fails() {
    let repo = Repo::new(&[("src/lib.rs", &backoff_retry("fetch_invoice", "get"))]);
    repo.write(
        "src/lib.rs",
        &format!(
            "{}{}",
            repo.read("src/lib.rs"),
            immediate_retry("post_ledger", "post")
        ),
    );
    repo.commit("add post_ledger");
    let output = prodready(
        repo.path(),
        &[".", "--changed-since", "main", "--fail-under", "99", "-q"],
    );
    assert_eq!(output.status.code(), Some(1));
    let reason = String::from_utf8_lossy(&output.stdout);
    assert!(
        reason.contains("below 99") && reason.contains("below the merge base's"),
        "{reason}"
    );
}

#[test]
fn removing_the_backoff_of_an_unchanged_loop_is_judged() {
    let repo = Repo::new(&[("src/lib.rs", &backoff_retry("fetch_invoice", "get"))]);
    let lib = repo.read("src/lib.rs");
    let without: String = lib
        .lines()
        .filter(|l| !l.contains("sleep(") && !l.contains("jitter") && !l.contains("delay = "))
        .map(|l| format!("{l}\n"))
        .collect();
    repo.write("src/lib.rs", &without);
    repo.commit("no more sleeping");
    let (code, report) = audit_change(repo.path(), ".", &[]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(
        new_findings(&report),
        vec![found(
            "RES001",
            "src/lib.rs",
            line_of(&without, "loop {", 1)
        )]
    );
}

#[test]
fn fixing_one_loop_does_not_excuse_a_new_one_elsewhere() {
    let repo = legacy_repo();
    repo.write(
        "src/lib.rs",
        &format!("mod extra;\n{}", backoff_retry("fetch_invoice", "get")),
    );
    // The new loop's line is the fixed one's (`loop {`), its neighbours are not.
    let extra = format!(
        "pub fn nothing() {{}}\n{}",
        immediate_retry_counting("post_ledger", "post", "tries")
    );
    repo.write("src/extra.rs", &extra);
    repo.commit("fix one, add one");
    let (code, report) = audit_change(repo.path(), ".", &[]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(
        new_findings(&report),
        vec![found(
            "RES001",
            "src/extra.rs",
            line_of(&extra, "loop {", 1)
        )]
    );
}

#[test]
fn a_change_that_appends_its_new_finding_to_the_baseline_is_reported() {
    let repo = legacy_repo();
    prodready(repo.path(), &[".", "--write-baseline", "baseline.json"]);
    repo.commit("baseline the legacy");
    repo.git(&["branch", "--force", "main"]);
    let lib = format!(
        "{}{}",
        repo.read("src/lib.rs"),
        immediate_retry("post_ledger", "post")
    );
    repo.write("src/lib.rs", &lib);
    prodready(repo.path(), &[".", "--write-baseline", "baseline.json"]);
    repo.commit("add post_ledger and baseline it");

    // Without --changed-since the rewritten baseline hides the new loop.
    let output = prodready(
        repo.path(),
        &[
            ".",
            "--baseline",
            "baseline.json",
            "--fail-on",
            "high",
            "-q",
        ],
    );
    assert_eq!(output.status.code(), Some(0));

    let (code, report) = audit_change(repo.path(), ".", &["--baseline", "baseline.json"]);
    assert_eq!(code, 1, "{report:#}");
    let new = new_findings(&report);
    assert_eq!(
        new,
        vec![found("RES001", "src/lib.rs", line_of(&lib, "loop {", 2))]
    );
    let added = report["changes"]["baseline_added"].as_array().unwrap();
    assert_eq!(added.len(), 1, "{added:?}");
    assert_eq!(added[0]["rule"], "RES001");
    assert_eq!(added[0]["honoured"], false);
    let finding = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["new"] == true)
        .unwrap();
    assert_eq!(finding["baselined"], false);
    // The legacy findings stay baselined and unjudged.
    let findings = report["findings"].as_array().unwrap();
    let baselined = findings.iter().filter(|f| f["baselined"] == true).count();
    assert_eq!(baselined, findings.len() - 1);
    assert_eq!(report["baseline"]["matched"], baselined);
}

#[test]
fn a_new_finding_is_never_baselined_even_when_its_fingerprint_matches_an_old_entry() {
    let repo = legacy_repo();
    prodready(repo.path(), &[".", "--write-baseline", "baseline.json"]);
    repo.commit("baseline the legacy");
    repo.git(&["branch", "--force", "main"]);
    // A loop identical on its flagged line, inserted above the legacy one: it takes the
    // legacy entry's fingerprint (same rule, file and line; first occurrence).
    let lib = repo.read("src/lib.rs").replacen(
        "mod extra;\n",
        &format!("mod extra;\n{}", immediate_retry("post_ledger", "post")),
        1,
    );
    repo.write("src/lib.rs", &lib);
    repo.commit("add post_ledger above");
    let output = prodready(
        repo.path(),
        &[
            ".",
            "--baseline",
            "baseline.json",
            "--fail-on",
            "high",
            "-q",
        ],
    );
    assert_eq!(
        output.status.code(),
        Some(1),
        "the whole-tree gate fails on the renumbered legacy loop"
    );
    let (code, report) = audit_change(repo.path(), ".", &["--baseline", "baseline.json"]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(
        new_findings(&report),
        vec![found("RES001", "src/lib.rs", line_of(&lib, "loop {", 1))]
    );
    assert_eq!(
        report["gate"]["reasons"][0],
        "1 new finding(s) at high severity or above"
    );
    assert_eq!(report["changes"]["baseline_added"], serde_json::json!([]));
}

#[test]
fn re_recording_moved_baselined_code_is_honoured() {
    let repo = legacy_repo();
    prodready(repo.path(), &[".", "--write-baseline", "baseline.json"]);
    repo.commit("baseline the legacy");
    repo.git(&["branch", "--force", "main"]);
    let moved = repo.read("src/lib.rs").replace("mod extra;\n", "");
    repo.write("src/lib.rs", "mod extra;\nmod invoices;\n");
    repo.write("src/invoices.rs", &moved);
    prodready(repo.path(), &[".", "--write-baseline", "baseline.json"]);
    repo.commit("move and re-record");
    let (code, report) = audit_change(repo.path(), ".", &["--baseline", "baseline.json"]);
    assert_eq!(code, 0, "{report:#}");
    let added = report["changes"]["baseline_added"].as_array().unwrap();
    assert_eq!(added.len(), 1);
    assert_eq!(added[0]["path"], "src/invoices.rs");
    assert_eq!(added[0]["honoured"], true);
}

#[test]
fn a_change_cannot_set_the_role_of_its_own_files() {
    let repo = legacy_repo();
    let lib = format!(
        "{}{}",
        repo.read("src/lib.rs"),
        immediate_retry("post_ledger", "post")
    );
    repo.write("src/lib.rs", &lib);
    // The same change declares the code tooling, which would drop its finding.
    repo.write(
        "prodready.toml",
        "[roles]\ntooling = [\"src\"]\nreason = \"not really\"\n",
    );
    repo.commit("add post_ledger, and call it tooling");
    let (code, report) = audit_change(repo.path(), ".", &[]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(
        new_findings(&report),
        vec![found("RES001", "src/lib.rs", line_of(&lib, "loop {", 2))]
    );
    let note = report["changes"]["notes"][0].as_str().unwrap_or_default();
    assert!(
        note.contains("1 [roles] entry added by this change ignored"),
        "{note}"
    );
}

#[test]
fn uncommitted_and_untracked_work_counts() {
    let repo = legacy_repo();
    // Not committed: a modified file and an untracked one.
    let lib = format!(
        "{}{}",
        repo.read("src/lib.rs"),
        immediate_retry("post_ledger", "post")
    );
    // A new module, declared by a line the change adds.
    let lib = format!("mod fresh;\n{lib}");
    repo.write("src/lib.rs", &lib);
    let fresh = immediate_retry("put_ledger", "put");
    repo.write("src/fresh.rs", &fresh);
    let (code, report) = audit_change(repo.path(), ".", &[]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(
        new_findings(&report),
        vec![
            found("RES001", "src/fresh.rs", line_of(&fresh, "loop {", 1)),
            found("RES001", "src/lib.rs", line_of(&lib, "loop {", 2)),
        ]
    );
    assert_eq!(report["changes"]["changed_files"], 2);
}

#[test]
fn a_subfolder_of_the_repository_is_compared_with_the_same_subfolder() {
    let repo = Repo::new(&[
        ("svc/Cargo.toml", MANIFEST),
        ("svc/src/lib.rs", &immediate_retry("fetch_invoice", "get")),
        // Ignored by the repository's root .gitignore: neither side audits it.
        (".gitignore", "generated/\n"),
        ("svc/generated/old.rs", &immediate_retry("old", "get")),
    ]);
    let lib = format!(
        "{}{}",
        repo.read("svc/src/lib.rs"),
        immediate_retry("post_ledger", "post")
    );
    repo.write("svc/src/lib.rs", &lib);
    repo.write("svc/generated/new.rs", &immediate_retry("fresh", "get"));
    repo.commit("add post_ledger");
    let (code, report) = audit_change(repo.path(), "svc", &[]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(
        new_findings(&report),
        vec![found("RES001", "src/lib.rs", line_of(&lib, "loop {", 2))]
    );
    assert_eq!(report["changes"]["changed_files"], 1);
    // From inside the subfolder too.
    let (code, report) = audit_change(&repo.path().join("svc"), ".", &[]);
    assert_eq!(code, 1);
    assert_eq!(new_findings(&report).len(), 1);
    // And from a git hook, where GIT_DIR is set relative to the top level.
    let output = Command::new(env!("CARGO_BIN_EXE_prodready"))
        .args([
            "audit",
            "--no-cache",
            "svc",
            "--changed-since",
            "main",
            "--fail-on",
            "high",
            "-q",
        ])
        .env("GIT_DIR", ".git")
        .current_dir(repo.path())
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn file_names_with_spaces_are_compared() {
    let repo = Repo::new(&[
        (
            "src/lib.rs",
            "#[path = \"legacy retry.rs\"]\nmod legacy;\n#[path = \"new \\\"quoted\\\" file.rs\"]\nmod quoted;\n",
        ),
        (
            "src/legacy retry.rs",
            &immediate_retry("fetch_invoice", "get"),
        ),
    ]);
    let text = format!(
        "{}{}",
        repo.read("src/legacy retry.rs"),
        immediate_retry("post_ledger", "post")
    );
    repo.write("src/legacy retry.rs", &text);
    repo.write("src/new \"quoted\" file.rs", &backoff_retry("fine", "get"));
    repo.commit("add post_ledger");
    let (code, report) = audit_change(repo.path(), ".", &[]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(
        new_findings(&report),
        vec![found(
            "RES001",
            "src/legacy retry.rs",
            line_of(&text, "loop {", 2)
        )]
    );
}

#[test]
fn a_checklist_item_the_change_makes_fail_is_judged() {
    // The legacy loop is allowed by the configuration at the merge base; the change drops the
    // allow without touching the code.
    let allow = "[[allow]]\npaths = [\"src/lib.rs\"]\nrules = [\"RES001\"]\nreason = \"legacy, tracked in TICKET-1\"\n";
    let repo = Repo::new(&[
        ("prodready.toml", allow),
        ("src/lib.rs", &immediate_retry("fetch_invoice", "get")),
    ]);
    repo.write("prodready.toml", "");
    repo.commit("drop the allow");
    let (code, report) = audit_change(repo.path(), ".", &[]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(new_findings(&report), vec![]);
    assert_eq!(
        report["gate"]["reasons"][0],
        "1 checklist item(s) fail that did not at the merge base: RES001"
    );
    let items = report["changes"]["items"].as_array().unwrap();
    assert!(
        items
            .iter()
            .any(|i| i["code"] == "RES001" && i["base"] == "waived" && i["head"] == "fail"),
        "{items:?}"
    );

    // Turning a deselected check back on does not fail the gate.
    let repo = Repo::new(&[
        ("prodready.toml", "ignore = [\"RES001\"]\n"),
        ("src/lib.rs", &immediate_retry("fetch_invoice", "get")),
    ]);
    repo.write("prodready.toml", "");
    repo.commit("check retries again");
    let (code, report) = audit_change(repo.path(), ".", &[]);
    assert_eq!(code, 0, "{report:#}");
}

#[test]
fn a_change_that_makes_the_project_a_service_brings_its_missing_runbook() {
    let repo = Repo::new(&[("src/lib.rs", "pub fn nothing() {}\n")]);
    repo.write("Cargo.toml", &format!("{MANIFEST}axum = \"0.8\"\n"));
    repo.commit("serve");
    let (code, report) = audit_change(repo.path(), ".", &[]);
    assert_eq!(code, 1, "{report:#}");
    let new: Vec<String> = new_findings(&report)
        .into_iter()
        .map(|(code, ..)| code)
        .collect();
    assert!(new.contains(&"OPS003".to_string()), "{new:?}");
}

#[test]
fn a_merge_base_whose_configuration_is_broken_is_audited_with_the_change_s() {
    let repo = Repo::new(&[
        ("prodready.toml", "select = 5\n"),
        ("src/lib.rs", &immediate_retry("fetch_invoice", "get")),
    ]);
    repo.write("prodready.toml", "");
    repo.commit("fix the configuration");
    let (code, report) = audit_change(repo.path(), ".", &[]);
    assert_eq!(code, 0, "{report:#}");
    let notes = report["changes"]["notes"].as_array().unwrap();
    assert_eq!(notes.len(), 1);
    let note = notes[0].as_str().unwrap();
    assert!(note.contains("configuration could not be read"), "{note}");
    assert!(!note.contains("prodready-merge-base-"), "{note}");
}

#[test]
fn a_submodule_is_not_part_of_the_change() {
    let library = legacy_repo();
    let repo = Repo::new(&[("src/lib.rs", "pub fn nothing() {}\n")]);
    let url = format!("file://{}", library.path().display());
    repo.git(&[
        "-c",
        "protocol.file.allow=always",
        "submodule",
        "add",
        "--quiet",
        &url,
        "library",
    ]);
    repo.commit("vendor the library");
    repo.git(&["branch", "--force", "main"]);
    repo.write("src/lib.rs", "pub fn something() {}\n");
    repo.commit("unrelated");
    let (code, report) = audit_change(repo.path(), ".", &[]);
    assert_eq!(code, 0, "{report:#}");
    // The library's loop is audited, but the change did not bring it.
    assert_eq!(codes(&report, "RES001"), 1);
    assert_eq!(new_findings(&report), vec![]);
    assert_eq!(report["changes"]["changed_files"], 1);
}

fn error_of(dir: &Path, args: &[&str]) -> String {
    let output = prodready(dir, args);
    assert_eq!(
        output.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert!(output.stdout.is_empty());
    String::from_utf8_lossy(&output.stderr).to_string()
}

#[test]
fn a_folder_outside_git_or_an_unknown_ref_is_a_clear_error() {
    let plain = tempfile::tempdir().unwrap();
    std::fs::write(plain.path().join("Cargo.toml"), MANIFEST).unwrap();
    let message = error_of(plain.path(), &[".", "--changed-since", "main"]);
    assert!(
        message.contains("is not inside a git work tree"),
        "{message}"
    );

    let repo = legacy_repo();
    let message = error_of(repo.path(), &[".", "--changed-since", "origin/nope"]);
    assert!(
        message.contains("`origin/nope` is not a commit, branch or tag")
            && message.contains("git fetch"),
        "{message}"
    );
    let message = error_of(repo.path(), &[".", "--changed-since=--output=x"]);
    assert!(message.contains("is not a git revision"), "{message}");
}

#[test]
fn a_shallow_clone_without_the_merge_base_says_how_to_fetch_it() {
    let origin = legacy_repo();
    origin.write("src/extra.rs", "pub fn more() {}\n");
    origin.commit("on the change branch");
    origin.git(&["checkout", "--quiet", "main"]);
    origin.write("README.md", "main moves on\n");
    origin.commit("on main");
    let clones = tempfile::tempdir().unwrap();
    let url = format!("file://{}", origin.path().display());
    git_in(
        clones.path(),
        &[
            "clone", "--quiet", "--depth", "1", "--branch", "change", &url, "clone",
        ],
    );
    let clone = clones.path().join("clone");
    git_in(
        &clone,
        &[
            "fetch",
            "--quiet",
            "--depth",
            "1",
            "origin",
            "+refs/heads/main:refs/remotes/origin/main",
        ],
    );
    let message = error_of(&clone, &[".", "--changed-since", "origin/main"]);
    assert!(
        message.contains("not in this shallow clone")
            && message.contains("git fetch --unshallow")
            && message.contains("fetch-depth: 0"),
        "{message}"
    );
    // Once the history is there, it works.
    git_in(&clone, &["fetch", "--quiet", "--unshallow", "origin"]);
    let output = prodready(&clone, &[".", "--changed-since", "origin/main", "-q"]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[cfg(unix)]
#[test]
fn nothing_the_repository_configures_runs_and_the_index_is_untouched() {
    use std::os::unix::fs::PermissionsExt;
    let repo = legacy_repo();
    let marker = repo.path().join("ran");
    let script = repo.path().join(".git/evil.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\necho \"$0 $*\" >> '{}'\ncat\n", marker.display()),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    repo.write(".gitattributes", "* filter=evil diff=evil\n");
    repo.commit("attributes");
    repo.git(&["branch", "--force", "main"]);
    let hooks = repo.path().join(".git/hooks");
    for hook in [
        "post-checkout",
        "pre-commit",
        "post-index-change",
        "reference-transaction",
    ] {
        std::fs::copy(&script, hooks.join(hook)).unwrap();
    }
    let script = script.display().to_string();
    for (key, value) in [
        ("core.fsmonitor", script.as_str()),
        ("filter.evil.clean", script.as_str()),
        ("filter.evil.smudge", script.as_str()),
        ("filter.evil.required", "true"),
        ("diff.evil.textconv", script.as_str()),
        ("diff.external", script.as_str()),
        ("core.pager", script.as_str()),
    ] {
        repo.git(&["config", key, value]);
    }
    let lib = format!(
        "{}{}",
        repo.read("src/lib.rs"),
        immediate_retry("post_ledger", "post")
    );
    repo.write("src/lib.rs", &lib);
    let index: PathBuf = repo.path().join(".git/index");
    let index_before = std::fs::read(&index).unwrap();

    let (code, report) = audit_change(repo.path(), ".", &[]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(new_findings(&report).len(), 1);
    assert!(
        !marker.exists(),
        "ran: {}",
        std::fs::read_to_string(&marker).unwrap_or_default()
    );
    assert_eq!(std::fs::read(&index).unwrap(), index_before);
    assert_eq!(repo.read("src/lib.rs"), lib);
}

#[test]
fn a_change_that_adds_the_project_to_an_empty_merge_base_is_all_new() {
    let repo = Repo::branched(|repo| {
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
        std::fs::write(repo.path().join("logo.png"), png).unwrap();
    });
    repo.write("Cargo.toml", MANIFEST);
    repo.write("src/lib.rs", &immediate_retry("fetch_invoice", "get"));
    repo.commit("the project");

    let (_, report) = audit_change(repo.path(), ".", &[]);
    assert_eq!(report["changes"]["base_score"], Value::Null);
    assert_eq!(report["changes"]["base_level"], Value::Null);
    let findings = report["findings"].as_array().unwrap();
    assert!(!findings.is_empty());
    assert!(findings.iter().all(|f| f["new"] == true), "{report:#}");
}

#[test]
fn the_html_report_of_a_change_shows_its_new_findings_first_and_both_scores() {
    let (repo, lib) = legacy_repo_with_a_new_retry();
    let (_, report) = audit_change(repo.path(), ".", &[]);
    let args = [".", "--changed-since", "main", "--format", "html"];
    let html = String::from_utf8(prodready(repo.path(), &args).stdout).unwrap();

    let score = |value: &Value| format!("{:.1}", value.as_f64().unwrap());
    let line = format!(
        "Since <code>main</code>: score {} ({}) at the merge base → <b>{}</b>",
        score(&report["changes"]["base_score"]),
        report["changes"]["base_level"].as_str().unwrap(),
        score(&report["score"]),
    );
    assert!(html.contains(&line), "no `{line}` in the page");
    // The one new finding comes first, marked; the legacy loop after it, unmarked.
    let new_line = line_of(&lib, "loop {", 2);
    let findings: Vec<&str> = html.split("<div class=\"finding ").skip(1).collect();
    assert!(findings[0].starts_with("sev-high new\""), "{}", findings[0]);
    // (The template escapes `/` too.)
    let place = format!("src&#x2f;lib.rs:{new_line}:");
    assert!(findings[0].contains(&place), "{}", findings[0]);
    assert_eq!(findings.iter().filter(|f| f.contains(" new\"")).count(), 1);
}
