//! The outputs CI systems read: SARIF (against the 2.1.0 schema, with stable fingerprints),
//! markdown and GitHub annotations within GitHub's limits, JUnit XML that parses, and a
//! snapshot of every format for the pilot sample.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

/// The SARIF 2.1.0 schema as the SARIF Multitool ships it (microsoft/sarif-sdk,
/// `src/Sarif/Schemata/sarif-schema-2.1.0.json`, JSON Schema 2020-12), with the two malformed
/// language-tag patterns of that copy fixed; taken from `../shared/sarif/`, which
/// `.ci/run` also validates against with the Multitool itself.
const SARIF_SCHEMA: &str = include_str!("sarif-schema-2.1.0.json");

const SAMPLES: [&str; 2] = ["fixtures/pilot-service", "fixtures/production-service"];

fn prodready(args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_prodready"));
    // `--no-cache`: tests never write the per-file facts cache (tests/cache.rs tests it).
    match args {
        ["audit", rest @ ..] => command.args(["audit", "--no-cache"]).args(rest),
        _ => command.args(args),
    };
    command
        .env("NO_COLOR", "1")
        .output()
        .expect("prodready runs")
}

fn report(path: &str, format: &str) -> String {
    let output = prodready(&["audit", path, "--format", format]);
    assert!(
        matches!(output.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("reports are UTF-8")
}

fn sarif(path: &str) -> Value {
    serde_json::from_str(&report(path, "sarif")).expect("SARIF is JSON")
}

fn write(root: &Path, path: &str, text: &str) {
    let path = root.join(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn sarif_of_the_samples_is_valid_sarif_2_1_0() {
    let schema: Value = serde_json::from_str(SARIF_SCHEMA).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    for sample in SAMPLES {
        let log = sarif(sample);
        let errors: Vec<String> = validator
            .iter_errors(&log)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{sample}: {errors:#?}");

        let run = &log["runs"][0];
        let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
        let ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
        let unique: std::collections::BTreeSet<_> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len(), "each rule once");
        assert_eq!(ids.len(), prodready::registry::registry().rules().len());
        for rule in rules {
            for field in ["shortDescription", "fullDescription", "help"] {
                assert!(rule[field]["text"].as_str().is_some_and(|t| !t.is_empty()));
            }
            assert!(rule["help"]["markdown"].is_string());
            let properties = &rule["properties"];
            let tags = properties["tags"].as_array().unwrap();
            assert!(!tags.is_empty() && tags.len() <= 10);
            assert!(properties["precision"].is_string());
            let security = tags.iter().any(|t| t == "security");
            assert_eq!(security, rule["id"].as_str().unwrap().starts_with("SEC"));
            if security {
                let severity: f64 = properties["security-severity"]
                    .as_str()
                    .expect("a numeric string")
                    .parse()
                    .unwrap();
                assert!(![0.0, 4.0, 7.0, 9.0].contains(&severity) && severity <= 10.0);
            } else {
                assert!(properties["problem.severity"].is_string());
            }
        }
        for result in run["results"].as_array().unwrap() {
            let index = result["ruleIndex"].as_u64().unwrap() as usize;
            assert_eq!(rules[index]["id"], result["ruleId"]);
            let locations = result["locations"].as_array().unwrap();
            assert_eq!(locations.len(), 1);
            let physical = &locations[0]["physicalLocation"];
            let uri = physical["artifactLocation"]["uri"].as_str().unwrap();
            assert!(!uri.starts_with('/') && !uri.contains("://"), "{uri}");
            assert_eq!(physical["artifactLocation"]["uriBaseId"], "%SRCROOT%");
            let region = &physical["region"];
            for field in ["startLine", "startColumn", "endLine", "endColumn"] {
                assert!(region[field].as_u64().unwrap() >= 1, "{field}: {region}");
            }
            assert!(result["partialFingerprints"]["primaryLocationLineHash"].is_string());
        }
        assert!(run["properties"]["checklist"].is_array());
        assert!(run["properties"]["level"].is_string());
    }
}

#[test]
fn sarif_fingerprints_survive_lines_inserted_above() {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(Path::new("fixtures/pilot-service"), dir.path());
    let path = dir.path().to_str().unwrap();
    let located = |log: &Value| -> Vec<(String, u64, String)> {
        log["runs"][0]["results"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| {
                r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                    .as_str()
                    .unwrap()
                    .ends_with("src/pricing.rs")
            })
            .map(|r| {
                (
                    r["ruleId"].as_str().unwrap().to_string(),
                    r["locations"][0]["physicalLocation"]["region"]["startLine"]
                        .as_u64()
                        .unwrap(),
                    r["partialFingerprints"]["primaryLocationLineHash"]
                        .as_str()
                        .unwrap()
                        .to_string(),
                )
            })
            .collect()
    };
    let before = located(&sarif(path));
    assert!(
        !before.is_empty(),
        "the pilot has findings in src/pricing.rs"
    );
    let pricing = dir.path().join("src/pricing.rs");
    let text = std::fs::read_to_string(&pricing).unwrap();
    std::fs::write(
        &pricing,
        format!("// Moved down by three lines.\n\n#![allow(dead_code)]\n{text}"),
    )
    .unwrap();
    let after = located(&sarif(path));
    assert_eq!(before.len(), after.len());
    for ((rule, line, hash), (rule_after, line_after, hash_after)) in before.iter().zip(&after) {
        assert_eq!(rule, rule_after);
        assert_eq!(line + 3, *line_after);
        assert_eq!(hash, hash_after, "{rule} moved from line {line}");
    }
}

#[test]
fn every_format_of_the_pilot_sample() {
    for format in ["sarif", "markdown", "github", "junit", "badge", "html"] {
        insta::assert_snapshot!(
            format!("pilot_service_{format}"),
            report("fixtures/pilot-service", format)
        );
    }
}

#[test]
fn sarif_category_and_suppressed_findings() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "deploy/app.yaml",
        "db:\n  # prodready: allow(SEC002) local compose password, never deployed\n  password: \"Zq8mV2pX7rL0wT5nQ\"\n",
    );
    let path = dir.path().to_str().unwrap();
    let results = |extra: &[&str]| -> Value {
        let mut args = vec!["audit", path, "--format", "sarif"];
        args.extend(extra);
        let log: Value = serde_json::from_slice(&prodready(&args).stdout).unwrap();
        log["runs"][0].clone()
    };
    let default = results(&[]);
    assert!(
        default["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["ruleId"] != "SEC002"),
        "suppressed findings are left out by default"
    );
    assert!(default.get("automationDetails").is_none());
    let kept = results(&[
        "--sarif-include-suppressed",
        "--sarif-category",
        "prodready/api",
    ]);
    let suppressed: Vec<&Value> = kept["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["ruleId"] == "SEC002")
        .collect();
    assert_eq!(suppressed.len(), 1);
    assert_eq!(suppressed[0]["suppressions"][0]["kind"], "inSource");
    assert_eq!(
        suppressed[0]["suppressions"][0]["justification"],
        "local compose password, never deployed"
    );
    assert_eq!(kept["automationDetails"]["id"], "prodready/api/");
}

#[test]
fn junit_parses_with_one_case_per_checklist_item() {
    use quick_xml::Reader;
    use quick_xml::events::Event;
    let xml = report("fixtures/pilot-service", "junit");
    let mut reader = Reader::from_str(&xml);
    let (mut cases, mut failures, mut skipped) = (0, 0, 0);
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(e) | Event::Empty(e) => match e.name().as_ref() {
                "testcase" => cases += 1,
                "failure" => failures += 1,
                "skipped" => skipped += 1,
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
    }
    let json: Value = serde_json::from_str(&report("fixtures/pilot-service", "json")).unwrap();
    let summary = &json["summary"];
    assert_eq!(cases, summary["total"].as_u64().unwrap());
    assert_eq!(failures, summary["failed"].as_u64().unwrap());
    assert_eq!(
        skipped,
        summary["not_applicable"].as_u64().unwrap() + summary["skipped"].as_u64().unwrap()
    );
}

/// A project with thousands of findings at three severities.
fn noisy_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut manifest = String::from(
        "[package]\nname = \"noisy\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\n",
    );
    let mut config = String::new();
    let mut code = String::from("use backon::{ExponentialBuilder, Retryable};\n");
    for i in 0..2000 {
        manifest.push_str(&format!("dep-{i} = \"*\"\n"));
        config.push_str(&format!(
            "service_{i}:\n  password: \"Qm7vX2pL9rT4wN8k{i:04}\"\n"
        ));
        code.push_str(&format!(
            "pub async fn call_{i}<F: Future<Output = Result<(), E>>, E>(op: impl FnMut() -> F) -> Result<(), E> {{ op.retry(ExponentialBuilder::default().with_max_times(4)).await }}\n"
        ));
    }
    manifest.push_str("backon = \"1\"\n");
    write(dir.path(), "Cargo.toml", &manifest);
    write(dir.path(), "config/services.yaml", &config);
    write(dir.path(), "src/lib.rs", &code);
    dir
}

#[test]
fn markdown_and_annotations_stay_within_githubs_limits() {
    let dir = noisy_project();
    let path = dir.path().to_str().unwrap();
    let json: Value = serde_json::from_str(&report(path, "json")).unwrap();
    let findings = json["findings"].as_array().unwrap();
    let count = |severity: &str| {
        findings
            .iter()
            .filter(|f| f["severity"] == severity)
            .count()
    };
    assert!(
        count("high") >= 1000 && count("medium") >= 1000 && count("low") >= 1000,
        "thousands of findings at each level: {} high, {} medium, {} low",
        count("high"),
        count("medium"),
        count("low")
    );

    let markdown = report(path, "markdown");
    let length = markdown.chars().count();
    eprintln!(
        "markdown: {length} characters for {} findings",
        findings.len()
    );
    assert!(length <= prodready::report::markdown::LIMIT, "{length}");
    // Every rule the audit runs by default has its line (preview rules run only on request).
    let stable = prodready::registry::registry()
        .rules()
        .iter()
        .filter(|r| r.status == prodready::registry::RuleStatus::Stable);
    for rule in stable {
        assert!(markdown.contains(&format!("| {} {} |", rule.code, rule.name)));
    }
    assert!(markdown.contains("more finding(s), not shown"));

    let github = report(path, "github");
    let lines: Vec<&str> = github.lines().collect();
    let of = |kind: &str| lines.iter().filter(|l| l.starts_with(kind)).count();
    eprintln!(
        "github: {} annotations ({} bytes) for {} findings",
        lines.len(),
        github.len(),
        findings.len()
    );
    assert_eq!(of("::error "), 10);
    assert_eq!(of("::warning "), 10);
    assert_eq!(of("::notice "), 10);
    assert!(lines.len() <= 50);
    let last = lines.last().unwrap();
    assert!(last.starts_with("::notice title=prodready::"), "{last}");
    let rest = findings.len() - 29;
    assert!(
        last.contains(&format!("{rest} more finding(s) not annotated")),
        "{last}"
    );
    // Most severe first: every error precedes every warning, every warning every notice.
    let position = |kind: &str| lines.iter().rposition(|l| l.starts_with(kind)).unwrap();
    let first = |kind: &str| lines.iter().position(|l| l.starts_with(kind)).unwrap();
    assert!(position("::error ") < first("::warning "));
    assert!(position("::warning ") < first("::notice "));
}
