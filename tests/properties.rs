//! Property tests over the front ends that read untrusted text (Rust, YAML, TOML, allow
//! comments) and over a whole file's analysis: random token soups and mutated real inputs must
//! never panic. Each property runs `PROPTEST_CASES` cases (default 5,000) on a thread with the
//! audit's parsing stack, as the audit runs them.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use prodready::frontends;

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000)
}

/// Runs a property on the parsing stack; a failure (a panic, shrunk) fails the test.
fn check<S>(strategy: S, property: fn(&S::Value))
where
    S: Strategy + Send,
    S::Value: Send,
{
    frontends::on_parser_stack(move || {
        let mut runner = TestRunner::new(Config {
            cases: cases(),
            failure_persistence: None,
            ..Config::default()
        });
        let outcome = runner.run(&strategy, |value| {
            property(&value);
            Ok(())
        });
        if let Err(failure) = outcome {
            panic!("{failure}");
        }
    });
}

/// Text made of the given fragments, joined by nothing, a space or a newline.
fn soup(fragments: &'static [&'static str], max: usize) -> impl Strategy<Value = String> + Send {
    prop::collection::vec(
        (
            prop::sample::select(fragments),
            prop::sample::select(&["", " ", "\n"][..]),
        ),
        0..max,
    )
    .prop_map(|parts| parts.into_iter().map(|(f, s)| format!("{f}{s}")).collect())
}

/// A seed with a few random edits: bytes replaced, inserted or deleted; a slice doubled.
fn mutated(seeds: &'static [&'static str]) -> impl Strategy<Value = String> + Send {
    (
        prop::sample::select(seeds),
        prop::collection::vec((any::<usize>(), any::<char>(), 0..4u8), 0..8),
    )
        .prop_map(|(seed, edits)| {
            let mut chars: Vec<char> = seed.chars().collect();
            for (at, c, op) in edits {
                let len = chars.len();
                let i = if len == 0 { 0 } else { at % len };
                match op {
                    0 if len > 0 => chars[i] = c,
                    1 => chars.insert(i, c),
                    2 if len > 0 => {
                        chars.remove(i);
                    }
                    _ => {
                        let end = (i + at % 64).min(len);
                        let slice: Vec<char> = chars[i..end].to_vec();
                        chars.splice(i..i, slice);
                    }
                }
            }
            chars.into_iter().collect()
        })
}

const RUST_TOKENS: &[&str] = &[
    "fn",
    "f",
    "(",
    ")",
    "{",
    "}",
    "[",
    "]",
    "<",
    ">",
    "|",
    "||",
    "&",
    "!",
    "-",
    "*",
    "+",
    "?",
    ".",
    ",",
    ";",
    ":",
    "::",
    "=",
    "=>",
    "->",
    "let",
    "mut",
    "loop",
    "while",
    "for",
    "in",
    "if",
    "else",
    "match",
    "return",
    "break",
    "continue",
    "async",
    "await",
    "move",
    "impl",
    "dyn",
    "mod",
    "use",
    "pub",
    "struct",
    "Err(_)",
    "Ok(v)",
    "attempt",
    "retries",
    "0..3",
    "1",
    "\"s\"",
    "'a",
    "#[cfg(test)]",
    "#[test]",
    "#![allow(x)]",
    "//",
    "/*",
    "*/",
    "///",
    "r#\"",
    "\"#",
    "std::thread::sleep(Duration::from_millis(100))",
    "tokio::time::sleep(d).await",
    "reqwest::Client::new()",
    "reqwest::Client::builder().timeout(t).build()",
    "Duration::from_secs(0)",
    "tokio::sync::mpsc::unbounded_channel()",
    "counter!(\"x_total\")",
    "register_int_counter!(\"drift_psi\", \"h\")",
    "axum::serve(l, app)",
    "// prodready: allow(RES001) reason",
    "password",
    "\"hunter2hunter2\"",
    "\u{feff}",
    "\r",
    "é",
    "\u{0}",
];

const RUST_SEEDS: &[&str] = &[
    "use std::time::Duration;\nfn retry() {\n    let mut tries = 0;\n    loop {\n        match op() {\n            Ok(v) => return v,\n            Err(_) if tries > 3 => panic!(),\n            Err(_) => std::thread::sleep(Duration::from_millis(100)),\n        }\n        tries += 1;\n    }\n}\n",
    "#[cfg(test)]\nmod tests;\n// prodready: allow(RES004) a client for tests\nfn client() -> reqwest::Client { reqwest::Client::new() }\n",
    "async fn main() {\n    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<u8>();\n    let app = Router::new();\n    axum::serve(listener, app).await.unwrap();\n}\n",
    "static C: Lazy<IntCounter> = Lazy::new(|| register_int_counter!(\"model_drift_psi\", \"psi\").unwrap());\nconst TOKEN: &str = \"abc\";\n",
];

const YAML_TOKENS: &[&str] = &[
    "key:",
    "kind: Deployment",
    "apiVersion: apps/v1",
    "spec:",
    "containers:",
    "- ",
    "  ",
    "image: app:latest",
    "replicas: 1",
    "resources:",
    "limits:",
    "&a",
    "*a",
    "<<: *a",
    "[",
    "]",
    "{",
    "}",
    ",",
    "---",
    "...",
    "\"",
    "'",
    "|",
    ">",
    "#",
    "!!str",
    "!Tag",
    "? ",
    "password:",
    "hunter2hunter2",
    "timeout: 0",
    "alert: X",
    "expr: up == 0",
    "annotations:",
    "runbook_url: x",
    "{{ .Values.x }}",
    "# prodready: allow(DEP004) one replica",
    "\t",
    "%YAML 1.2",
    "\u{feff}",
    "\r",
];

const YAML_SEEDS: &[&str] = &[
    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  replicas: 1\n  template:\n    spec:\n      containers:\n        - name: api\n          image: api:latest\n",
    "groups:\n  - name: x\n    rules:\n      - alert: Down\n        expr: up == 0\n        annotations:\n          runbook_url: https://x\n",
    "base: &b\n  timeout: 0\n  password: hunter2hunter2\nprod:\n  <<: *b\n---\nother: [1, 2, {a: b}]\n",
    "{\"a\": [1, 2, {\"b\": null}], \"password\": \"hunter2hunter2\"}",
];

const TOML_TOKENS: &[&str] = &[
    "[a]",
    "[[b]]",
    "[a.b]",
    "x =",
    "y=",
    "\"s\"",
    "'s'",
    "\"\"\"",
    "'''",
    "1",
    "1.5",
    "-0",
    "1_000",
    "inf",
    "nan",
    "true",
    "1979-05-27T07:32:00Z",
    "[",
    "]",
    "{",
    "}",
    ",",
    "=",
    ".",
    "#",
    "password = \"hunter2hunter2\"",
    "timeout = 0",
    "serde = \"*\"",
    "[dependencies]",
    "\\u0000",
    "\\",
    "\n",
    "\r",
    "é",
];

const TOML_SEEDS: &[&str] = &[
    "[package]\nname = \"a\"\nversion = \"0.1.0\"\n\n[dependencies]\nserde = { version = \"1\", features = [\"derive\"] }\n",
    "[server]\ntimeout = 0\nretries = 10\n[db]\npassword = \"hunter2hunter2\"\nurl = \"postgres://u:p@h/d\"\n",
    "a = [[1, 2], [\"x\"], { b = 1979-05-27 }]\n[[c]]\nd = 1.5e3\n",
];

const ALLOW_TOKENS: &[&str] = &[
    "// prodready:",
    "# prodready:",
    "<!-- prodready:",
    "-->",
    "allow",
    "allow-file",
    "(",
    ")",
    "RES001",
    "SEC",
    "OPS006",
    "missing-runbook",
    "XYZ999",
    ",",
    " ",
    "until",
    "=",
    "2026-02-30",
    "2027-01-01",
    "reason",
    "because",
    "\n",
    "*",
    "/*",
    "*/",
    "prodready",
    ":",
    "é",
    "\r",
];

const ALLOW_SEEDS: &[&str] = &[
    "// prodready: allow(RES001, RES003) until=2027-01-01 the retry is bounded elsewhere\nfn f() {}\n",
    "// prodready: allow-file(SEC002) test fixtures\n",
    "# prodready: allow(DEP004) single replica by design\nreplicas: 1\n",
];

#[test]
fn the_rust_front_end_never_panics() {
    check(soup(RUST_TOKENS, 200), |text| {
        frontends::rust(text);
    });
    check(mutated(RUST_SEEDS), |text| {
        frontends::rust(text);
    });
}

#[test]
fn the_yaml_front_end_never_panics() {
    check(soup(YAML_TOKENS, 120), |text| {
        frontends::yaml(text);
    });
    check(mutated(YAML_SEEDS), |text| {
        frontends::yaml(text);
    });
}

#[test]
fn the_toml_front_end_never_panics() {
    check(soup(TOML_TOKENS, 120), |text| {
        frontends::toml(text);
    });
    check(mutated(TOML_SEEDS), |text| {
        frontends::toml(text);
    });
}

#[test]
fn the_allow_comment_front_end_never_panics() {
    check(soup(ALLOW_TOKENS, 60), |text| {
        frontends::allow_comments(text);
    });
    check(mutated(ALLOW_SEEDS), |text| {
        frontends::allow_comments(text);
    });
}

#[test]
fn arbitrary_text_never_panics_any_front_end() {
    check(any::<String>(), |text| {
        frontends::rust(text);
        frontends::yaml(text);
        frontends::toml(text);
        frontends::allow_comments(text);
    });
}

#[test]
fn a_whole_files_analysis_never_panics() {
    check(
        (
            prop::sample::select(
                &[
                    "src/lib.rs",
                    "deploy/app.yaml",
                    "config.toml",
                    "a.json",
                    ".env",
                ][..],
            ),
            prop_oneof![
                soup(RUST_TOKENS, 150),
                soup(YAML_TOKENS, 100),
                soup(TOML_TOKENS, 100),
                mutated(RUST_SEEDS),
                mutated(YAML_SEEDS),
                mutated(TOML_SEEDS),
            ],
        ),
        |(path, text)| {
            if let Err(incidents) = frontends::analyse(path, text) {
                panic!("a step of {path}'s analysis panicked: {incidents}");
            }
        },
    );
}
