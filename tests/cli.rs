//! The command line end to end: exit codes, configuration errors, selection, the gate,
//! the sample projects and hostile input.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{Value, json};

fn prodready(args: &[&str], dir: Option<&Path>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_prodready"));
    command.args(no_cache(args)).env("NO_COLOR", "1");
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    // Bare `prodready` (`audit .`) takes no flag: its cache goes to a folder removed after it.
    let cache = tempfile::tempdir().expect("a temporary folder");
    if args.is_empty() {
        command.env("PRODREADY_CACHE_DIR", cache.path());
    }
    command.output().expect("prodready runs")
}

/// `audit` runs with `--no-cache`: tests never write the per-file facts cache (tests/cache.rs
/// tests it with its own directories).
fn no_cache<'a>(args: &[&'a str]) -> Vec<&'a str> {
    match args {
        ["audit", rest @ ..] => [&["audit", "--no-cache"][..], rest].concat(),
        _ => args.to_vec(),
    }
}

fn code(output: &Output) -> i32 {
    output
        .status
        .code()
        .expect("exited, not killed by a signal")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn json(args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend(["--format", "json"]);
    let output = prodready(&all, None);
    serde_json::from_str(&stdout(&output)).unwrap_or_else(|e| panic!("{e}: {}", stderr(&output)))
}

/// The JSON report of the pilot sample, written to `path` with `--output`.
fn pilot_json_to(path: &Path) -> Output {
    prodready(
        &[
            "audit",
            "fixtures/pilot-service",
            "--format",
            "json",
            "--output",
            path.to_str().unwrap(),
        ],
        None,
    )
}

fn write(root: &Path, files: &[(&str, &str)]) {
    for (path, text) in files {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

const HELLO_TOML: &str = "[package]\nname = \"hello\"\nversion = \"0.1.0\"\nedition = \"2021\"\n";
const HELLO_LOCK: &str = "version = 4\n\n[[package]]\nname = \"hello\"\nversion = \"0.1.0\"\n";

fn hello_world() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[
            ("Cargo.toml", HELLO_TOML),
            ("Cargo.lock", HELLO_LOCK),
            ("src/main.rs", "fn main() {\n    println!(\"hello\");\n}\n"),
        ],
    );
    dir
}

#[test]
fn bare_prodready_audits_the_current_folder() {
    let dir = hello_world();
    let output = prodready(&[], Some(dir.path()));
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    assert!(
        stdout(&output).contains("Checklist for ."),
        "{}",
        stdout(&output)
    );
}

#[test]
fn a_hello_world_binary_has_few_applicable_items_and_no_vacuous_score() {
    use prodready::registry::{Subject, registry};
    let dir = hello_world();
    let report = json(&["audit", dir.path().to_str().unwrap()]);
    let applicable: Vec<&str> = report["checklist"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["status"] != "n/a")
        .map(|i| i["code"].as_str().unwrap())
        .collect();
    // A hello-world binary has Rust code, a Cargo package and a binary target, and nothing
    // else: no service, no runbook, no CODEOWNERS, no HTTP client. Only rules about what it has
    // apply.
    let present = [
        Subject::Always,
        Subject::CargoProject,
        Subject::RustCode,
        Subject::Binary,
    ];
    let expected: Vec<&str> = registry()
        .rules()
        .iter()
        .filter(|r| present.contains(&r.applies_when))
        .map(|r| r.code.as_str())
        .collect();
    assert_eq!(applicable, expected);
    assert!(!applicable.contains(&"OPS003") && !applicable.contains(&"OPS002"));
    // Only OPS001 (high, 7.5) fails; everything else that applies passes.
    let total: f64 = registry()
        .rules()
        .iter()
        .filter(|r| present.contains(&r.applies_when))
        .map(|r| r.severity.weight())
        .sum();
    let score = (1000.0 * (total - 7.5) / total).round() / 10.0;
    assert_eq!(report["score"], score);
    assert_eq!(report["level"], "hardened");
    assert_eq!(report["summary"]["applicable"], expected.len());
    assert_eq!(report["subjects"].get("service"), None);
}

#[test]
fn exit_codes_follow_the_gate() {
    let pilot = "fixtures/pilot-service";
    assert_eq!(code(&prodready(&["audit", pilot, "-q"], None)), 0);
    assert_eq!(
        code(&prodready(
            &["audit", pilot, "-q", "--fail-under", "50"],
            None
        )),
        1
    );
    assert_eq!(
        code(&prodready(
            &["audit", pilot, "-q", "--fail-on", "high"],
            None
        )),
        1
    );
    assert_eq!(
        code(&prodready(
            &["audit", pilot, "-q", "--fail-on", "critical"],
            None
        )),
        0
    );
    assert_eq!(
        code(&prodready(
            &["audit", pilot, "-q", "--fail-on", "none"],
            None
        )),
        0
    );
    let production = "fixtures/production-service";
    assert_eq!(
        code(&prodready(
            &[
                "audit",
                production,
                "-q",
                "--fail-under",
                "100",
                "--fail-on",
                "low"
            ],
            None
        )),
        0
    );
    let failed = prodready(&["audit", pilot, "-q", "--fail-on", "medium"], None);
    assert!(
        stdout(&failed).contains("gate FAILED"),
        "{}",
        stdout(&failed)
    );
}

#[test]
fn usage_config_and_io_errors_exit_2() {
    let missing = prodready(&["audit", "no/such/dir"], None);
    assert_eq!(code(&missing), 2);
    assert!(
        stderr(&missing).contains("no/such/dir"),
        "{}",
        stderr(&missing)
    );

    let bad_select = prodready(
        &["audit", "fixtures/pilot-service", "--select", "NOPE"],
        None,
    );
    assert_eq!(code(&bad_select), 2);
    assert!(stderr(&bad_select).contains("NOPE"));

    assert_eq!(
        code(&prodready(&["audit", ".", "--fail-under", "120"], None)),
        2
    );
    assert_eq!(
        code(&prodready(&["audit", ".", "--format", "xml"], None)),
        2
    );
    assert_eq!(code(&prodready(&["explain", "NOPE001"], None)), 2);

    let dir = hello_world();
    write(
        dir.path(),
        &[(
            "prodready.toml",
            "[gate]\nfail_under = 80\nfail_on = \"sometimes\"\n",
        )],
    );
    let bad_config = prodready(&["audit", dir.path().to_str().unwrap()], None);
    assert_eq!(code(&bad_config), 2);
    let message = stderr(&bad_config);
    assert!(message.contains("prodready.toml"), "{message}");
    assert!(
        message.contains("`sometimes` is") && message.contains("not a severity"),
        "{message}"
    );
    assert!(
        message.contains("3 │ fail_on") || message.contains("3 | fail_on"),
        "miette points at the line: {message}"
    );
}

#[test]
fn a_bad_roles_entry_exits_2_pointing_into_the_configuration() {
    let cases = [
        (
            "[roles]\nci = [\"deploy/[ci\"]\nreason = \"pipelines\"\n",
            "bad [roles] ci",
            "2 │ ci",
        ),
        (
            "[roles]\npipeline = [\"deploy/ci\"]\nreason = \"pipelines\"\n",
            "`pipeline` is not",
            "2 │ pipeline",
        ),
        (
            "[roles]\nci = [\"deploy/ci\"]\n",
            "[roles] needs a",
            "1 │ [roles]",
        ),
    ];
    for (config, message, place) in cases {
        let dir = hello_world();
        write(dir.path(), &[("prodready.toml", config)]);
        let output = prodready(&["audit", dir.path().to_str().unwrap()], None);
        assert_eq!(code(&output), 2, "{config}");
        let text = stderr(&output);
        assert!(
            text.contains("prodready.toml") && text.contains(message),
            "{text}"
        );
        assert!(
            text.contains(place) || text.contains(&place.replace('│', "|")),
            "miette points at the entry: {text}"
        );
    }
}

#[test]
fn roles_set_in_the_configuration_win_and_are_listed() {
    let dir = hello_world();
    write(
        dir.path(),
        &[
            ("deploy/ci/seed.env", "DB_PASSWORD=Seed-Pa55-for-ci-only\n"),
            (
                "tools/deployer/creds.env",
                "DB_PASSWORD=Real-Pa55-of-the-deployer\n",
            ),
            (
                "prodready.toml",
                "[roles]\nci = [\"deploy/ci/**\"]\nproduction = [\"tools/deployer\"]\ntooling = [\"tools\"]\nreason = \"our pipelines; the deployer ships\"\n",
            ),
        ],
    );
    let output = prodready(
        &["audit", dir.path().to_str().unwrap(), "--format", "json"],
        None,
    );
    let report: Value = serde_json::from_str(&stdout(&output)).unwrap();
    let role_of = |path: &str| {
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["path"] == path && f["code"] == "SEC002")
            .map(|f| f["role"].clone())
    };
    assert_eq!(role_of("deploy/ci/seed.env"), Some(json!("ci")));
    // `tools/deployer` is more specific than `tools`: it wins.
    assert_eq!(
        role_of("tools/deployer/creds.env"),
        Some(json!("production"))
    );
    let listed = &report["files"]["role_overrides"];
    assert_eq!(listed.as_array().map(Vec::len), Some(3), "{listed:#}");
    assert_eq!(listed[0]["glob"], "deploy/ci/**");
    assert_eq!(listed[0]["files"], 1);
    assert_eq!(listed[0]["reason"], "our pipelines; the deployer ships");
}

#[test]
fn select_and_ignore_skip_items_and_mark_the_score_partial() {
    let pilot = "fixtures/pilot-service";
    let all_ops = json(&["audit", pilot, "--select", "OPS00"]);
    let skipped = all_ops["summary"]["skipped"].as_u64().unwrap();
    let total = all_ops["summary"]["total"].as_u64().unwrap();
    assert_eq!(all_ops["score_partial"], true);
    assert!(all_ops["checklist"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| (i["status"] == "skipped") != i["code"].as_str().unwrap().starts_with("OPS00")));
    let only_one = json(&["audit", pilot, "--select", "missing-ownership"]);
    assert_eq!(only_one["summary"]["skipped"].as_u64().unwrap(), total - 1);
    assert!(skipped < total - 1);
    assert!(
        only_one["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["code"] == "OPS001")
    );
    let ignored = json(&["audit", pilot, "--ignore", "OPS001,OPS003,SEC"]);
    let statuses: Vec<(&str, &str)> = ignored["checklist"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["code"].as_str().unwrap(), i["status"].as_str().unwrap()))
        .filter(|(code, _)| code.starts_with("OPS") || code.starts_with("SEC"))
        .collect();
    assert_eq!(
        statuses,
        [
            ("OPS001", "skipped"),
            ("OPS002", "n/a"),
            ("OPS003", "skipped"),
            ("OPS004", "n/a"),
            ("OPS005", "fail"),
            ("OPS006", "pass"),
            ("OPS007", "fail"),
            ("SEC001", "skipped"),
            ("SEC002", "skipped"),
            ("SEC003", "skipped"),
            ("SEC004", "skipped"),
        ]
    );
    let everything: Vec<String> = prodready::registry::registry()
        .rules()
        .iter()
        .map(|r| r.code.to_string())
        .collect();
    let nothing = json(&["audit", pilot, "--ignore", &everything.join(",")]);
    assert_eq!(nothing["score"], Value::Null);
}

#[test]
fn config_select_ignore_severity_and_gate_apply() {
    let dir = hello_world();
    write(
        dir.path(),
        &[(
            "prodready.toml",
            "ignore = [\"OPS005\"]\n[severity]\nmissing-ownership = \"low\"\n[gate]\nfail_on = \"low\"\n",
        )],
    );
    let output = prodready(
        &["audit", dir.path().to_str().unwrap(), "--format", "json"],
        None,
    );
    assert_eq!(code(&output), 1);
    let report: Value = serde_json::from_str(&stdout(&output)).unwrap();
    let item = |code: &str| {
        report["checklist"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["code"] == code)
            .unwrap()
            .clone()
    };
    assert_eq!(item("OPS001")["severity"], "low");
    assert_eq!(item("OPS001")["weight"], 2.5);
    let ownership = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "OPS001");
    assert_eq!(ownership.unwrap()["severity"], "low");
    assert_eq!(item("OPS005")["status"], "skipped");
}

#[test]
fn the_sample_projects_score_as_documented() {
    let pilot = json(&["audit", "fixtures/pilot-service"]);
    assert_eq!(pilot["level"], "pilot");
    assert_eq!(
        pilot["level_reason"],
        "level pilot: score 9.1 (hardened needs 50)"
    );
    let failing: Vec<&str> = pilot["checklist"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["status"] == "fail")
        .map(|i| i["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        failing,
        [
            "DEP001", "DEP002", "DEP003", "DEP004", "DEP005", "DEP006", "ERR001", "ERR002",
            "ERR003", "OBS001", "OBS002", "OBS005", "OPS001", "OPS003", "OPS005", "OPS007",
            "RES001", "RES002", "RES003", "RES004", "RES005", "RES006", "RES007", "RES008",
            "RES009", "SEC002", "SEC003", "SEC004"
        ]
    );
    let production = json(&["audit", "fixtures/production-service"]);
    assert_eq!(production["level"], "exemplary");
    assert_eq!(production["score"], 100.0);
    assert_eq!(production["findings"].as_array().unwrap().len(), 0);
    let evidence = |code: &str| checklist_item(&production, code)["evidence"].clone();
    assert_eq!(evidence("OPS001"), ".github/CODEOWNERS");
    assert_eq!(evidence("OPS003"), "RUNBOOK.md");
    assert_eq!(evidence("OPS007"), "CHANGELOG.md");
    assert_eq!(
        evidence("OBS006"),
        "Grafana dashboard (deploy/grafana/orders-api.json:2)"
    );
    assert_eq!(
        evidence("SEC001"),
        "no failing finding in 11 production file(s)"
    );
    assert_eq!(production["subjects"]["codeowners"], ".github/CODEOWNERS");

    let human = |path: &str| stdout(&prodready(&["audit", path, "--color", "never"], None));
    insta::assert_snapshot!("pilot_service_human", human("fixtures/pilot-service"));
    insta::assert_snapshot!(
        "production_service_human",
        human("fixtures/production-service")
    );
}

#[test]
fn json_is_identical_across_runs_and_thread_counts() {
    let one = stdout(&prodready(
        &[
            "audit",
            "fixtures/pilot-service",
            "--format",
            "json",
            "--threads",
            "1",
        ],
        None,
    ));
    let two = stdout(&prodready(
        &[
            "audit",
            "fixtures/pilot-service",
            "--format",
            "json",
            "--threads",
            "2",
        ],
        None,
    ));
    let again = stdout(&prodready(
        &[
            "audit",
            "fixtures/pilot-service",
            "--format",
            "json",
            "--threads",
            "2",
        ],
        None,
    ));
    assert_eq!(one, two);
    assert_eq!(two, again);
    let report: Value = serde_json::from_str(&one).unwrap();
    assert_eq!(report["schema_version"], 1);
    let fingerprints: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["fingerprint"].as_str().unwrap())
        .collect();
    let unique: std::collections::BTreeSet<_> = fingerprints.iter().collect();
    assert_eq!(unique.len(), fingerprints.len());
}

#[test]
fn fingerprints_follow_content_not_line_numbers() {
    let dir = hello_world();
    write(
        dir.path(),
        &[(
            "Cargo.toml",
            &format!("{HELLO_TOML}\n[dependencies]\nserde = \"*\"\n"),
        )],
    );
    let path = dir.path().to_str().unwrap();
    let before = json(&["audit", path]);
    write(
        dir.path(),
        &[(
            "Cargo.toml",
            &format!(
                "{HELLO_TOML}\n# a comment that moves everything down\n\n[dependencies]\nserde = \"*\"\n"
            ),
        )],
    );
    let after = json(&["audit", path]);
    let fingerprint = |r: &Value| {
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["code"] == "OPS005")
            .map(|f| (f["fingerprint"].clone(), f["start_line"].clone()))
            .unwrap()
    };
    let (fp_before, line_before) = fingerprint(&before);
    let (fp_after, line_after) = fingerprint(&after);
    assert_ne!(line_before, line_after);
    assert_eq!(fp_before, fp_after);
}

/// `--output` and `--report` replace a regular file through a rename, but never replace what is
/// not a regular file: a link keeps pointing where it did (a dangling one creates its target),
/// a device or pipe (`/dev/null`) is written in place, and so is `/dev/stdout` when it is a file
/// (`>> ci.log`). Renaming over `/dev/null` as root breaks the machine.
#[cfg(unix)]
#[test]
fn output_paths_that_are_links_or_pipes_are_kept() {
    use std::io::Read;
    use std::os::unix::fs::FileTypeExt;

    let json_to = |path: &Path| {
        let output = pilot_json_to(path);
        assert_eq!(code(&output), 0, "{}", stderr(&output));
    };
    let is_link = |path: &Path| {
        std::fs::symlink_metadata(path)
            .unwrap()
            .file_type()
            .is_symlink()
    };
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real.json");
    std::fs::write(&real, "old").unwrap();
    let link = dir.path().join("link.json");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    json_to(&link);
    assert!(is_link(&link));
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&real).unwrap()).unwrap();
    assert_eq!(report["level"], "pilot");

    // A dangling link creates the file it names, and stays a link.
    let dangling = dir.path().join("dangling.json");
    let created = dir.path().join("created.json");
    std::os::unix::fs::symlink(&created, &dangling).unwrap();
    json_to(&dangling);
    assert!(is_link(&dangling));
    assert!(
        std::fs::read_to_string(&created)
            .unwrap()
            .contains("\"level\"")
    );

    // `/dev/stdout` names whatever standard output is: here a log that already holds a line,
    // which must still be there after the report.
    if Path::new("/dev/stdout").exists() {
        let log = dir.path().join("ci.log");
        std::fs::write(&log, "earlier step\n").unwrap();
        let appended = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
        let status = Command::new(env!("CARGO_BIN_EXE_prodready"))
            .args([
                "audit",
                "--no-cache",
                "fixtures/pilot-service",
                "--format",
                "json",
                "--output",
                "/dev/stdout",
            ])
            .stdout(appended)
            .status()
            .unwrap();
        assert_eq!(status.code(), Some(0));
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(text.starts_with("earlier step\n{"), "{text}");
        assert!(
            std::fs::symlink_metadata(&log)
                .unwrap()
                .file_type()
                .is_file()
        );
    }

    let pipe = dir.path().join("pipe");
    let made = Command::new("mkfifo").arg(&pipe).status();
    if !made.is_ok_and(|status| status.success()) {
        eprintln!("no mkfifo here: the named-pipe half of this test did not run");
        return;
    }
    // The reader sends what it read; if the pipe were replaced by a file it would wait forever,
    // so the test waits for it with a (generous) limit instead of joining it.
    let (sender, received) = std::sync::mpsc::channel();
    {
        let pipe = pipe.clone();
        std::thread::spawn(move || {
            let mut text = String::new();
            std::fs::File::open(pipe)
                .and_then(|mut pipe| pipe.read_to_string(&mut text))
                .unwrap();
            let _ = sender.send(text);
        });
    }
    let output = prodready(
        &[
            "audit",
            "fixtures/pilot-service",
            "--report",
            &format!("badge={}", pipe.display()),
        ],
        None,
    );
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let kind = std::fs::symlink_metadata(&pipe).unwrap().file_type();
    assert!(kind.is_fifo(), "the pipe is still a pipe, not a file");
    let text = received
        .recv_timeout(std::time::Duration::from_secs(120))
        .expect("the badge was written into the pipe");
    assert!(
        text.contains("<svg"),
        "the badge went through the pipe: {text}"
    );
}

#[test]
fn output_file_rules_explain_and_init() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report.json");
    let output = pilot_json_to(&out);
    assert_eq!(code(&output), 0);
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(report["level"], "pilot");
    assert!(
        stderr(&output).contains("score"),
        "a summary line goes to stderr"
    );

    let rules: Value =
        serde_json::from_str(&stdout(&prodready(&["rules", "--format", "json"], None))).unwrap();
    assert!(
        rules
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["code"] == "OPS003")
    );
    assert!(
        stdout(&prodready(&["rules", "--format", "markdown"], None))
            .contains("| OPS001 | missing-ownership |")
    );
    let by_name = stdout(&prodready(&["explain", "missing-runbook"], None));
    assert_eq!(by_name, stdout(&prodready(&["explain", "ops003"], None)));
    assert!(by_name.contains("## Why it matters in production"));

    assert_eq!(
        code(&prodready(&["init", dir.path().to_str().unwrap()], None)),
        0
    );
    let written = std::fs::read_to_string(dir.path().join("prodready.toml")).unwrap();
    assert_eq!(written, prodready::config::INIT_TEMPLATE);
    assert_eq!(
        code(&prodready(&["init", dir.path().to_str().unwrap()], None)),
        2
    );
    assert_eq!(
        code(&prodready(
            &["init", dir.path().to_str().unwrap(), "--force"],
            None
        )),
        0
    );
}

#[test]
fn hostile_files_are_reported_and_the_audit_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    // A Rust file is parsed only when its text shows something a rule reads in the tree: the
    // `loop`, `if let Ok(..)` and `retry` of a possible retry loop make these two worth parsing.
    let deep = format!(
        "fn retry() {{ loop {{ if let Ok(v) = op({}{}) {{ return v }} }} }}\n",
        "(".repeat(50_000),
        ")".repeat(50_000)
    );
    let bomb = "a: &a [\"lol\",\"lol\"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\nh: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n";
    write(
        dir.path(),
        &[
            ("Cargo.toml", "[package\nname = "),
            ("src/deep.rs", &deep),
            (
                "src/broken.rs",
                "fn retry( { loop { if let Ok(v) = op() { return v } }\n",
            ),
            ("deploy/bomb.yaml", bomb),
            ("deploy/dup.yaml", "a: 1\na: 2\n"),
            ("README.md", "# x\n"),
        ],
    );
    std::fs::write(
        dir.path().join("logo.png"),
        [0x89, b'P', b'N', b'G', 0, 0, 0, 13],
    )
    .unwrap();
    std::fs::write(
        dir.path().join("latin1.txt"),
        [b'c', b'a', b'f', 0xe9, b'\n'],
    )
    .unwrap();
    let output = prodready(
        &["audit", dir.path().to_str().unwrap(), "--format", "json"],
        None,
    );
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let report: Value = serde_json::from_str(&stdout(&output)).unwrap();
    let not_parsed: Vec<&str> = report["files"]["not_parsed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        not_parsed,
        [
            "Cargo.toml",
            "deploy/bomb.yaml",
            "deploy/dup.yaml",
            "src/broken.rs",
            "src/deep.rs"
        ]
    );
    assert_eq!(report["files"]["skipped_files"]["binary"], 1);
    assert_eq!(report["files"]["scanned"], 7);
}

#[test]
fn unreadable_files_make_the_report_incomplete() {
    use std::os::unix::fs::PermissionsExt;
    let dir = hello_world();
    let secret = dir.path().join("src/locked.rs");
    std::fs::write(&secret, "fn x() {}\n").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::read(&secret).is_ok() {
        // Running as root: permissions do not stop reads, so nothing is unreadable here. The
        // exit-code mapping itself is covered by `engine::tests`.
        eprintln!("skipped: this user can read a mode-000 file");
        return;
    }
    let path = dir.path().to_str().unwrap();
    let output = prodready(&["audit", path, "-q"], None);
    assert_eq!(code(&output), 3, "{}", stdout(&output));
    let failing_gate = prodready(&["audit", path, "-q", "--fail-on", "high"], None);
    assert_eq!(code(&failing_gate), 1, "1 wins over 3");
}

#[test]
fn this_repository_is_production_ready() {
    let report = json(&["audit", "."]);
    let level = report["level"].as_str().unwrap();
    assert!(
        matches!(level, "production-ready" | "exemplary"),
        "self-audit level {level}: {:#}",
        report["findings"]
    );
}

#[test]
fn secrets_never_reach_any_output() {
    use prodready::checks::secrets::fake::expand;
    let token = expand("ghp_{b62:30}{crc}", "leak-test");
    let password = "Leak-Test-Pa55word";
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[
            (
                "Cargo.toml",
                &format!(
                    "{HELLO_TOML}\n[dependencies]\nauth = {{ git = \"https://ci:{token}@github.com/acme/auth\" }}\n"
                ),
            ),
            (
                "src/main.rs",
                &format!(
                    "fn main() {{\n    let token = \"{token}\";\n    let db_password = \"{password}\";\n}}\n"
                ),
            ),
            (
                ".env",
                &format!(
                    "GITHUB_TOKEN={token}\nDB_PASSWORD={password}\nDATABASE_URL=postgres://orders:{password}@db.prod.internal/orders\n"
                ),
            ),
            (
                "prodready.toml",
                &format!("# token: {token}\nselekt = []\n"),
            ),
        ],
    );
    let path = dir.path().to_str().unwrap();
    let config_error = prodready(&["audit", path], None);
    assert_eq!(code(&config_error), 2);
    std::fs::remove_file(dir.path().join("prodready.toml")).unwrap();
    let human = prodready(&["audit", path, "--color", "never"], None);
    let json_out = prodready(&["audit", path, "--format", "json"], None);
    for output in [&config_error, &human, &json_out] {
        for text in [stdout(output), stderr(output)] {
            assert!(!text.contains(&token[4..]), "token leaked:\n{text}");
            assert!(!text.contains(password), "password leaked:\n{text}");
        }
    }
    let report: Value = serde_json::from_str(&stdout(&json_out)).unwrap();
    let codes: std::collections::BTreeSet<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    for code in ["SEC001", "SEC002", "SEC003", "SEC004", "OPS005"] {
        assert!(codes.contains(code), "{code} missing: {codes:?}");
    }
    assert!(stdout(&human).contains("ghp_************ (40 chars)"));
}

#[test]
fn secrets_in_awkward_places_are_masked_too() {
    use prodready::checks::secrets::fake::expand;
    let token = expand("ghp_{b62:30}{crc}", "awkward");
    let password = "Zq8mV2pX7rL0wT5nQ";
    let dir = tempfile::tempdir().unwrap();
    let write_bytes = |path: &str, bytes: Vec<u8>| {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    };
    // A CODEOWNERS line that is only a token; an owner that is a token.
    write_bytes(
        ".github/CODEOWNERS",
        format!("* @acme/team\n/src {token}\n{token}\n").into_bytes(),
    );
    // A longer secret value containing a token: the tail must not show.
    write_bytes(
        "app.yaml",
        format!("password: \"{token}-Hunter2Tail9x\"\n").into_bytes(),
    );
    // Lone carriage returns and a byte-order mark shift positions in some parsers.
    write_bytes(
        "cr.yaml",
        format!("a: 1\rdb:\r  password: {password}\r").into_bytes(),
    );
    write_bytes(
        "src/bom.rs",
        format!("\u{feff}const PASSWORD: &str = \"{password}\";\nconst URL: &str = \"postgres://u:{password}@db.prod.acme.io/x\";\n").into_bytes(),
    );
    // A secret in an allow comment's reason, and in Cargo.toml metadata beside an OPS finding.
    write_bytes(
        "deploy.toml",
        format!(
            "# prodready: allow(SEC002) old value {token} was rotated\npassword = \"{password}\"\n"
        )
        .into_bytes(),
    );
    write_bytes(
        "Cargo.toml",
        format!("{HELLO_TOML}\n[package.metadata.deploy]\npassword = \"{password}\" # serde = \"*\"\n[dependencies]\nserde = \"*\"\n").into_bytes(),
    );
    write_bytes(
        "old-Cargo.lock",
        format!("token = \"{token}\"\n").into_bytes(),
    );
    let path = dir.path().to_str().unwrap();
    for format in ["human", "json"] {
        let output = prodready(
            &["audit", path, "--format", format, "--color", "never"],
            None,
        );
        for text in [stdout(&output), stderr(&output)] {
            assert!(
                !text.contains(&token[4..]),
                "token leaked in {format}:\n{text}"
            );
            assert!(
                !text.contains("Hunter2Tail9x"),
                "tail leaked in {format}:\n{text}"
            );
            assert!(
                !text.contains(&password[4..]),
                "password leaked in {format}:\n{text}"
            );
        }
    }
}

#[test]
fn pathological_code_neither_crashes_nor_hangs() {
    let dir = tempfile::tempdir().unwrap();
    let mut chain = String::from(
        "fn op() -> Result<(), ()> { Ok(()) }\nfn retry() {\n    let mut attempt = 0;\n    loop {\n        let a0 = attempt;\n",
    );
    for i in 1..=48 {
        chain.push_str(&format!("        let a{i} = a{} + a{};\n", i - 1, i - 1));
    }
    chain.push_str("        match op() {\n            Ok(()) => return,\n            Err(_) => std::thread::sleep(std::time::Duration::from_millis(a48)),\n        }\n        attempt += 1;\n    }\n}\n");
    write(
        dir.path(),
        &[
            ("Cargo.toml", HELLO_TOML),
            ("src/chain.rs", &chain),
            // `loop`, `if let Ok(..)` and `retry` make each file worth parsing (a possible retry
            // loop).
            (
                "src/not.rs",
                &format!(
                    "fn retry() {{ loop {{ let x = {}true; if let Ok(v) = op() {{ return v }} }} }}\n",
                    "!".repeat(60_000)
                ),
            ),
            (
                "src/neg.rs",
                &format!(
                    "fn retry() {{ loop {{ let x = {}1; if let Ok(v) = op() {{ return v }} }} }}\n",
                    "- ".repeat(60_000)
                ),
            ),
            (
                "src/refs.rs",
                &format!(
                    "fn retry(x: {}u8) {{ loop {{ if let Ok(v) = op() {{ return v }} }} }}\n",
                    "&".repeat(60_000)
                ),
            ),
        ],
    );
    // Before delay tracing had a budget, the 48 doubling bindings took exponential time.
    let output = prodready(
        &["audit", dir.path().to_str().unwrap(), "--format", "json"],
        None,
    );
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let report: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(report["files"]["not_parsed"].as_array().unwrap().len(), 3);
}

#[test]
fn an_allow_expires_after_its_day_as_the_pinned_clock_decides() {
    let dir = hello_world();
    write(
        dir.path(),
        &[(
            "src/main.rs",
            "fn main() {\n    // prodready: allow(SEC002) until=2030-01-01 the local compose password\n    let db_password = \"compose-only\";\n}\n",
        )],
    );
    let audit_on = |day: &str| {
        let output = Command::new(env!("CARGO_BIN_EXE_prodready"))
            .args([
                "audit",
                "--no-cache",
                ".",
                "--select",
                "SEC002,OPS006",
                "--format",
                "json",
            ])
            .env("PRODREADY_TODAY", day)
            .current_dir(dir.path())
            .output()
            .unwrap();
        let report: Option<Value> = serde_json::from_slice(&output.stdout).ok();
        (code(&output), report, stderr(&output))
    };
    let (_, on_the_day, _) = audit_on("2030-01-01");
    let on_the_day = on_the_day.unwrap();
    assert_eq!(on_the_day["summary"]["suppressed_findings"], 1);
    assert_eq!(on_the_day["summary"]["failing_findings"], 0);
    let item = |report: &Value, code: &str| {
        report["checklist"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["code"] == code)
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(item(&on_the_day, "SEC002"), "waived");
    let suppression = &on_the_day["findings"][0]["suppression"];
    assert_eq!(suppression["kind"], "comment");
    assert_eq!(suppression["at"], "src/main.rs:2");
    assert_eq!(suppression["until"], "2030-01-01");

    let (_, day_after, _) = audit_on("2030-01-02");
    let day_after = day_after.unwrap();
    assert_eq!(item(&day_after, "SEC002"), "fail");
    let messages: Vec<&str> = day_after["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    assert!(
        messages.iter().any(|m| m.starts_with("`db_password`")
            && m.ends_with("(allow(SEC002) at src/main.rs:2 expired on 2030-01-01)")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("expired on 2030-01-01: it suppresses nothing")),
        "{messages:?}"
    );

    let (exit, _, error) = audit_on("tomorrow");
    assert_eq!(exit, 2);
    assert!(error.contains("PRODREADY_TODAY"), "{error}");
}

#[test]
fn rules_show_their_status_and_the_version_they_arrived_in() {
    let human = stdout(&prodready(&["rules"], None));
    let ops001 = human.lines().find(|l| l.starts_with("OPS001")).unwrap();
    assert!(ops001.contains(" stable  0.1.0 "), "{ops001}");
    let rules: Value =
        serde_json::from_str(&stdout(&prodready(&["rules", "--format", "json"], None))).unwrap();
    assert!(rules.as_array().unwrap().iter().all(|r| {
        matches!(r["status"].as_str(), Some("stable" | "preview")) && r["since"].is_string()
    }));
    let markdown = stdout(&prodready(&["rules", "--format", "markdown"], None));
    assert!(markdown.starts_with("| Code | Name | Severity | Status | Since |"));
    assert!(markdown.contains("| stable | 0.1.0 |"));
    let explain = stdout(&prodready(&["explain", "OPS001"], None));
    assert!(explain.contains("Status: stable since 0.1.0."), "{explain}");
}

#[test]
fn configuration_allows_waive_by_path_and_their_mistakes_point_into_the_file() {
    let dir = hello_world();
    write(
        dir.path(),
        &[
            (
                "scripts/seed.rs",
                "fn main() {\n    let seed_password = \"seed-only\";\n}\n",
            ),
            (
                "prodready.toml",
                "[[allow]]\npaths = [\"scripts/\"]\nrules = [\"SEC\"]\nreason = \"hand-run seed scripts\"\n",
            ),
        ],
    );
    let output = prodready(&["audit", ".", "--select", "SEC002"], Some(dir.path()));
    let human = stdout(&output);
    assert!(human.contains("✓ waived SEC002"), "{human}");
    assert!(
        human.contains("1 by config at prodready.toml:1: hand-run seed scripts"),
        "{human}"
    );

    write(
        dir.path(),
        &[(
            "prodready.toml",
            "[[allow]]\npaths = [\"scripts/[\"]\nrules = [\"SEC\"]\nreason = \"x\"\n",
        )],
    );
    let output = prodready(&["audit", "."], Some(dir.path()));
    assert_eq!(code(&output), 2);
    assert!(
        stderr(&output).contains("bad allow glob"),
        "{}",
        stderr(&output)
    );
    write(
        dir.path(),
        &[(
            "prodready.toml",
            "[[allow]]\nrules = [\"SEC\"]\nreason = \"x\"\nuntil = \"31/03/2027\"\n",
        )],
    );
    let output = prodready(&["audit", "."], Some(dir.path()));
    assert_eq!(code(&output), 2);
    assert!(
        stderr(&output).contains("until = 31/03/2027 is not a"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn templated_manifests_are_listed_and_their_items_say_why_they_are_not_applicable() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[
            (
                "deploy/deployment.yaml",
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n  {{- if .Values.replicas }}\n  replicas: {{ .Values.replicas }}\n  {{- end }}\n",
            ),
            (
                ".circleci/config.yml",
                "jobs:\n  build:\n    steps:\n      - restore_cache:\n          key: {{ checksum \"Cargo.lock\" }}-cache\n",
            ),
        ],
    );
    let report = json(&["audit", dir.path().to_str().unwrap(), "--select", "DEP"]);
    assert_eq!(
        report["files"]["templated"],
        serde_json::json!(["deploy/deployment.yaml"])
    );
    assert_eq!(
        report["files"]["not_parsed"][0]["path"],
        ".circleci/config.yml"
    );
    let single_replica = checklist_item(&report, "DEP004");
    assert_eq!(single_replica["status"], "n/a");
    assert!(
        single_replica["not_audited"]
            .as_str()
            .unwrap()
            .contains("templated")
    );

    let plain = hello_world();
    let report = json(&["audit", plain.path().to_str().unwrap(), "--select", "DEP"]);
    let single_replica = checklist_item(&report, "DEP004");
    assert_eq!(single_replica["status"], "n/a");
    assert!(single_replica.get("not_audited").is_none());
    assert!(report["files"].get("templated").is_none());
}

fn checklist_item(report: &Value, code: &str) -> Value {
    report["checklist"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["code"] == code)
        .unwrap()
        .clone()
}

#[test]
fn secrets_never_reach_the_ci_formats() {
    use prodready::checks::secrets::fake::expand;
    let token = expand("ghp_{b62:30}{crc}", "ci-formats");
    let password = "Ci-Formats-Pa55word";
    // A credential in a format no rule knows, on a context line printed beside a finding.
    let unknown = expand("{b62:32}", "unknown-format");
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[
            (
                "Cargo.toml",
                &format!(
                    "{HELLO_TOML}\n[dependencies]\nauth = {{ git = \"https://ci:{token}@github.com/acme/auth\" }}\n"
                ),
            ),
            (
                "src/main.rs",
                &format!(
                    "fn main() {{\n    let upstream = (\"partner\", \"{unknown}\");\n    let token = \"{token}\";\n    let db_password = \"{password}\";\n}}\n"
                ),
            ),
            (
                ".env",
                &format!(
                    "GITHUB_TOKEN={token}\nDATABASE_URL=postgres://orders:{password}@db.prod.internal/orders\n"
                ),
            ),
            (
                "deploy.toml",
                &format!(
                    "# prodready: allow(SEC002) old value {token} was rotated\npassword = \"{password}\"\n"
                ),
            ),
        ],
    );
    let path = dir.path().to_str().unwrap();
    let reports = tempfile::tempdir().unwrap();
    let mut args = vec![
        "audit".to_string(),
        path.to_string(),
        "--sarif-include-suppressed".to_string(),
    ];
    let formats = [
        "human", "json", "sarif", "markdown", "github", "junit", "badge", "html",
    ];
    for format in formats {
        args.push("--report".to_string());
        args.push(format!(
            "{format}={}",
            reports.path().join(format).to_str().unwrap()
        ));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = prodready(&args, None);
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let mut texts = vec![stdout(&output), stderr(&output)];
    for format in formats {
        texts.push(std::fs::read_to_string(reports.path().join(format)).unwrap());
    }
    for text in &texts {
        assert!(!text.contains(&token[4..]), "token leaked:\n{text}");
        assert!(!text.contains(password), "password leaked:\n{text}");
        assert!(
            !text.contains(&unknown[4..]),
            "context token leaked:\n{text}"
        );
    }
    // The context line itself is printed: the comparison above means something.
    assert!(
        texts.iter().any(|t| t.contains("let upstream")),
        "no context line shown"
    );
    let sarif = &texts[4];
    for code in ["SEC001", "SEC002", "SEC003", "SEC004"] {
        assert!(sarif.contains(&format!("\"ruleId\": \"{code}\"")), "{code}");
    }
    assert!(
        sarif.contains("\"justification\""),
        "the suppressed finding is kept"
    );
}

#[test]
fn a_folder_with_nothing_to_audit_is_an_error() {
    let empty = tempfile::tempdir().unwrap();
    let binary_only = tempfile::tempdir().unwrap();
    std::fs::write(
        binary_only.path().join("logo.png"),
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR",
    )
    .unwrap();
    for dir in [empty.path(), binary_only.path()] {
        let output = prodready(&["audit", dir.to_str().unwrap()], None);
        assert_eq!(code(&output), 2, "{}", stderr(&output));
        assert!(
            stderr(&output).contains("nothing to audit in")
                && stderr(&output).contains("no Cargo.toml, source or configuration found"),
            "{}",
            stderr(&output)
        );
    }
}

#[test]
fn explain_levels_prints_their_definition() {
    let output = prodready(&["explain", "levels"], None);
    assert_eq!(code(&output), 0);
    let text = stdout(&output);
    for line in [
        "pilot              below 50, or a critical item fails",
        "exemplary          from 95, no critical, high or medium item fails",
    ] {
        assert!(text.contains(line), "{text}");
    }
}

#[test]
fn the_default_human_report_counts_what_fails_nothing_and_verbose_prints_it() {
    let dir = hello_world();
    write(
        dir.path(),
        &[(
            "tests/login.rs",
            "#[test]\nfn logs_in() {\n    let password = \"Kw3p9ZrQv7-fixture\";\n    assert!(!password.is_empty());\n}\n",
        )],
    );
    let root = dir.path().to_str().unwrap();
    let quiet = stdout(&prodready(&["audit", root, "--color", "never"], None));
    assert!(
        quiet.contains("1 finding(s) that fail nothing (--verbose prints them):")
            && quiet.contains("  SEC002 secret-assignment: 1 (1 test)"),
        "{quiet}"
    );
    assert!(!quiet.contains("tests/login.rs:3"), "{quiet}");
    let verbose = stdout(&prodready(
        &["audit", root, "--color", "never", "--verbose"],
        None,
    ));
    assert!(verbose.contains("tests/login.rs:3"), "{verbose}");
    assert!(!verbose.contains("fail nothing (--verbose"), "{verbose}");

    let selected = stdout(&prodready(&["audit", root, "--select", "SEC"], None));
    assert!(
        selected.contains("checks deselected") && !selected.contains("deselected\n"),
        "{selected}"
    );
}
