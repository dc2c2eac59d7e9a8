//! `prodready fleet merge`: named reports merged into one picture, every bad input listed
//! without stopping the merge, and trends over successive merges through the history file.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

fn prodready(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_prodready"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("prodready runs")
}

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .current_dir(dir)
        .env("GIT_COMMITTER_DATE", "2026-01-02T03:04:05Z")
        .env("GIT_AUTHOR_DATE", "2026-01-02T03:04:05Z")
        .status()
        .unwrap();
    assert!(status.success());
}

/// The JSON report of a sample audited with `--name`.
fn named_report(sample: &str, name: &str) -> Value {
    let output = prodready(&[
        "audit",
        sample,
        "--no-cache",
        "--format",
        "json",
        "--name",
        name,
    ]);
    serde_json::from_slice(&output.stdout).unwrap()
}

fn write_json(dir: &Path, file: &str, value: &Value) -> PathBuf {
    let path = dir.join(file);
    std::fs::write(&path, serde_json::to_string_pretty(value).unwrap()).unwrap();
    path
}

/// `fleet merge --format json` of `inputs` (plus `extra`): the exit code and the summary.
fn merge(inputs: &[&Path], extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["fleet", "merge", "--format", "json"];
    args.extend(inputs.iter().map(|p| p.to_str().unwrap()));
    args.extend(extra);
    let output = prodready(&args);
    let summary = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stderr)));
    (output.status.code().unwrap(), summary)
}

#[test]
fn the_name_and_the_audited_commit_are_recorded() {
    let repo = tempfile::tempdir().unwrap();
    std::fs::write(
        repo.path().join("Cargo.toml"),
        "[package]\nname = \"svc\"\n",
    )
    .unwrap();
    git(repo.path(), &["init", "--quiet"]);
    git(repo.path(), &["add", "-A"]);
    git(repo.path(), &["commit", "--quiet", "-m", "first"]);
    let path = repo.path().to_str().unwrap();
    let report = named_report(path, "acme/svc");
    assert_eq!(report["name"], "acme/svc");
    assert_eq!(report["commit"]["time"], 1_767_323_045);
    assert_eq!(report["commit"]["id"].as_str().unwrap().len(), 40);
    // Deterministic: the same tree gives the same report.
    assert_eq!(named_report(path, "acme/svc"), report);
    // Not a checkout: a name and no commit; without a name, neither.
    let plain = tempfile::tempdir().unwrap();
    std::fs::write(
        plain.path().join("Cargo.toml"),
        "[package]\nname = \"svc\"\n",
    )
    .unwrap();
    let plain = named_report(plain.path().to_str().unwrap(), "acme/plain");
    assert_eq!(plain["name"], "acme/plain");
    assert!(plain.get("commit").is_none());
    let unnamed: Value = serde_json::from_slice(
        &prodready(&[
            "audit",
            "fixtures/pilot-service",
            "--no-cache",
            "--format",
            "json",
        ])
        .stdout,
    )
    .unwrap();
    assert!(unnamed.get("name").is_none() && unnamed.get("commit").is_none());
}

#[test]
fn reports_merge_into_rows_levels_rules_and_the_worst_per_category() {
    let dir = tempfile::tempdir().unwrap();
    let pilot = write_json(
        dir.path(),
        "pilot.json",
        &named_report("fixtures/pilot-service", "acme/pilot"),
    );
    let production = named_report("fixtures/production-service", "acme/orders");
    write_json(dir.path(), "orders.json", &production);
    let (code, summary) = merge(&[dir.path()], &[]);
    assert_eq!(code, 0, "{summary:#}");
    let names: Vec<&str> = (summary["repositories"].as_array().unwrap().iter())
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["acme/orders", "acme/pilot"]);
    assert_eq!(summary["levels"], json!({"exemplary": 1, "pilot": 1}));
    let pilot_report: Value =
        serde_json::from_str(&std::fs::read_to_string(pilot).unwrap()).unwrap();
    let failing = (pilot_report["checklist"].as_array().unwrap().iter())
        .filter(|i| i["status"] == "fail")
        .count();
    assert_eq!(summary["rules"].as_array().unwrap().len(), failing);
    let ops001 = (summary["rules"].as_array().unwrap().iter())
        .find(|r| r["code"] == "OPS001")
        .unwrap();
    assert_eq!(ops001["repositories"], 1);
    assert_eq!(ops001["by_severity"], json!({"high": 1}));
    assert_eq!(summary["worst_by_category"]["Secrets"][0][0], "acme/pilot");
    assert!(
        summary["worst_by_category"]["Secrets"]
            .as_array()
            .unwrap()
            .len()
            == 1
    );
}

#[test]
fn bad_reports_are_listed_and_the_merge_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let good = named_report("fixtures/pilot-service", "acme/pilot");
    write_json(dir.path(), "a-good.json", &good);
    let text = serde_json::to_string(&good).unwrap();
    std::fs::write(dir.path().join("b-truncated.json"), &text[..text.len() / 2]).unwrap();
    std::fs::write(
        dir.path().join("c-not-json.json"),
        "<html>502 Bad Gateway</html>",
    )
    .unwrap();
    write_json(
        dir.path(),
        "d-other-tool.json",
        &json!({"version": "2.1.0", "runs": []}),
    );
    let mut unnamed = good.clone();
    unnamed.as_object_mut().unwrap().remove("name");
    write_json(dir.path(), "e-unnamed.json", &unnamed);
    let mut future = good.clone();
    future["schema_version"] = json!(99);
    future["name"] = json!("acme/future");
    write_json(dir.path(), "f-future.json", &future);

    let (code, summary) = merge(&[dir.path()], &[]);
    assert_eq!(code, 3);
    assert_eq!(summary["repositories"].as_array().unwrap().len(), 1);
    let reasons: Vec<(String, String)> = (summary["unreadable"].as_array().unwrap().iter())
        .map(|u| {
            let path = u["path"].as_str().unwrap();
            let file = path.rsplit('/').next().unwrap().to_string();
            (file, u["reason"].as_str().unwrap().to_string())
        })
        .collect();
    let expected = [
        ("b-truncated.json", "not a prodready JSON report: EOF"),
        (
            "c-not-json.json",
            "not a prodready JSON report: expected value",
        ),
        ("d-other-tool.json", "not a prodready report"),
        ("e-unnamed.json", "no name: audit with `--name NAME`"),
        ("f-future.json", "schema_version 99: this build reads [1]"),
    ];
    assert_eq!(reasons.len(), expected.len(), "{reasons:?}");
    for ((file, reason), (want_file, want_reason)) in reasons.iter().zip(expected) {
        assert_eq!(file, want_file);
        assert!(reason.starts_with(want_reason), "{file}: {reason}");
    }
}

#[test]
fn nothing_to_merge_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let output = prodready(&["fleet", "merge", dir.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no report to merge"));
    std::fs::write(dir.path().join("x.json"), "{}").unwrap();
    let output = prodready(&["fleet", "merge", dir.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("x.json: not a prodready report") && stderr.contains("no readable report"),
        "{stderr}"
    );
    let missing = dir.path().join("missing");
    let output = prodready(&["fleet", "merge", missing.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn the_same_name_twice_keeps_the_later_commit_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let mut newer = named_report("fixtures/production-service", "acme/orders");
    newer["commit"] = json!({"id": "b".repeat(40), "time": 2000});
    let mut older = named_report("fixtures/pilot-service", "acme/orders");
    older["commit"] = json!({"id": "a".repeat(40), "time": 1000});
    // The newer one first: input order does not decide when the commit times differ.
    let first = write_json(dir.path(), "1.json", &newer);
    let second = write_json(dir.path(), "2.json", &older);
    let (code, summary) = merge(&[&first, &second], &[]);
    assert_eq!(code, 0);
    let rows = summary["repositories"].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["commit"], "b".repeat(40));
    let note = summary["notes"][0].as_str().unwrap();
    assert!(
        note.contains("acme/orders") && note.contains("the later commit"),
        "{note}"
    );
    // The same commit time: the later input wins.
    older["commit"]["time"] = json!(2000);
    write_json(dir.path(), "2.json", &older);
    let (_, summary) = merge(&[&first, &second], &[]);
    assert_eq!(summary["repositories"][0]["commit"], "a".repeat(40));
}

#[test]
fn three_merges_show_the_trend_since_the_previous_one() {
    let dir = tempfile::tempdir().unwrap();
    let history = dir.path().join("history.jsonl");
    let history_arg = ["--history", history.to_str().unwrap()];
    let reports = dir.path().join("reports");
    std::fs::create_dir(&reports).unwrap();
    let good = named_report("fixtures/production-service", "acme/orders");
    let bad = named_report("fixtures/pilot-service", "acme/orders");
    let other = named_report("fixtures/pilot-service", "acme/billing");

    // 1: both repositories are new.
    write_json(&reports, "orders.json", &good);
    write_json(&reports, "billing.json", &other);
    let (_, first) = merge(&[&reports], &history_arg);
    assert_eq!(
        first["trends"]["added"],
        json!(["acme/billing", "acme/orders"])
    );
    // 2: orders got worse, billing is gone.
    write_json(&reports, "orders.json", &bad);
    std::fs::remove_file(reports.join("billing.json")).unwrap();
    let (_, second) = merge(&[&reports], &history_arg);
    let trends = &second["trends"];
    assert_eq!(
        trends["score_changes"]["acme/orders"],
        json!([100.0, bad["score"]])
    );
    assert_eq!(
        trends["level_drops"]["acme/orders"],
        json!(["exemplary", "pilot"])
    );
    assert!(
        trends["newly_failing"]["acme/orders"]
            .as_array()
            .unwrap()
            .contains(&json!("OPS001"))
    );
    assert_eq!(trends["missing"], json!(["acme/billing"]));
    // 3: a new prodready version: the changes are shown, none is called a regression.
    let mut upgraded = good.clone();
    upgraded["tool"]["version"] = json!("9.0.0");
    write_json(&reports, "orders.json", &upgraded);
    let (_, third) = merge(&[&reports], &history_arg);
    let trends = &third["trends"];
    assert_eq!(trends["version_changed"], json!(["0.2.0", "9.0.0"]));
    assert_eq!(
        trends["score_changes"]["acme/orders"],
        json!([bad["score"], 100.0])
    );
    assert!(trends["level_drops"].as_object().unwrap().is_empty());
    // One row per merge, each with its version.
    let rows: Vec<Value> = (std::fs::read_to_string(&history).unwrap().lines())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let versions: Vec<&str> = rows
        .iter()
        .map(|r| r["prodready_version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["0.2.0", "0.2.0", "9.0.0"]);
    // A history file that is not one stops the merge before it writes anything.
    std::fs::write(&history, "not json\n").unwrap();
    let output = prodready(&[
        "fleet",
        "merge",
        reports.to_str().unwrap(),
        "--history",
        history.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("history.jsonl:1: not a history row"));
}

#[test]
fn the_html_merge_is_one_page_with_its_names_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let name = "<script>alert(1)</script>";
    write_json(
        dir.path(),
        "a.json",
        &named_report("fixtures/pilot-service", name),
    );
    let output = prodready(&[
        "fleet",
        "merge",
        dir.path().to_str().unwrap(),
        "--format",
        "html",
    ]);
    assert_eq!(output.status.code(), Some(0));
    let html = String::from_utf8(output.stdout).unwrap();
    assert!(
        !html.contains(name) && !html.contains("<script"),
        "markup in the page"
    );
    assert!(html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"));
    assert!(html.contains("default-src &#x27;none&#x27;; style-src &#x27;sha256-"));
    assert!(html.contains("script-src &#x27;none&#x27;"));
    for reference in ["src=", "href=\"http", "url("] {
        assert!(!html.contains(reference), "`{reference}` in the page");
    }
    assert!(html.contains("<b>OPS001</b> missing-ownership"));
}
