//! Hostile input end to end: every input is generated here, in a temporary folder, at test
//! time (nothing huge is committed). Each must give a per-file diagnostic (path and reason)
//! while the rest of the tree is audited; nothing may crash, hang or leak a secret.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::{Command, Output};

use prodready::checks::secrets::fake::expand;
use serde_json::Value;

fn prodready(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_prodready"));
    // `--no-cache`: tests never write the per-file facts cache (tests/cache.rs tests it).
    match args {
        ["audit", rest @ ..] => command.args(["audit", "--no-cache"]).args(rest),
        _ => command.args(args),
    };
    command.env("NO_COLOR", "1");
    for (key, value) in envs {
        command.env(key, value);
    }
    command.output().expect("prodready runs")
}

fn code(output: &Output) -> i32 {
    output
        .status
        .code()
        .unwrap_or_else(|| panic!("killed by a signal: {}", stderr(output)))
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Standard error with miette's line wrapping undone.
fn flat_stderr(output: &Output) -> String {
    stderr(output)
        .lines()
        .map(|l| l.trim_start().trim_start_matches(['|', 'x']).trim())
        .collect::<Vec<_>>()
        .join(" ")
}

fn write(root: &Path, path: impl AsRef<Path>, bytes: impl AsRef<[u8]>) {
    let path = root.join(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// A package whose `[lib]` names its own path: its other `src/` files (hostile ones among them)
/// are audited as reachable modules, whatever declares them.
const HELLO_TOML: &str = "[package]\nname = \"hello\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[lib]\npath = \"src/retry.rs\"\n";
const HELLO_LOCK: &str = "version = 4\n\n[[package]]\nname = \"hello\"\nversion = \"0.1.0\"\n";

/// An ordinary RES001 finding (a constant delay between attempts): it must survive whatever
/// else the tree holds.
const RETRY: &str = "use std::time::Duration;\n\npub fn connect(addr: &str) -> std::io::Result<std::net::TcpStream> {\n    let delay = Duration::from_secs(1);\n    let mut tries = 0;\n    while tries < 10 {\n        let conn = std::net::TcpStream::connect(addr);\n        if conn.is_ok() {\n            return conn;\n        }\n        tries += 1;\n        std::thread::sleep(delay);\n    }\n    std::net::TcpStream::connect(addr)\n}\n";

const DEEP: usize = 10_000;

fn alias_bomb() -> String {
    let mut text = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for (name, previous) in ["b", "c", "d", "e", "f", "g", "h", "i"]
        .iter()
        .zip(["a", "b", "c", "d", "e", "f", "g", "h"])
    {
        let refs = vec![format!("*{previous}"); 9].join(",");
        text.push_str(&format!("{name}: &{name} [{refs}]\n"));
    }
    text
}

/// Writes every hostile input of issue 12 under `root`, beside an ordinary project. `outside`
/// is a folder outside the root that a symbolic link points into.
fn hostile_tree(root: &Path, outside: &Path) {
    write(root, "Cargo.toml", HELLO_TOML);
    write(root, "Cargo.lock", HELLO_LOCK);
    write(root, "src/retry.rs", RETRY);
    write_odd_encodings(root);
    write_binary_empty_and_huge(root);
    write_unparsable_rust(root);
    write_deep_rust(root);
    write_hostile_data(root);
    write_links(root, outside);
    write_locked_folder_and_non_utf8_name(root);
    // Every file is read whatever its size, so that the 4 MiB text-only rule is exercised.
    write(root, "prodready.toml", "max_file_size = 67108864\n");
}

/// Encodings and line endings.
fn write_odd_encodings(root: &Path) {
    write(root, "src/latin1.rs", b"// caf\xe9\npub fn a() {}\n");
    write(root, "deploy/latin1.yaml", b"name: caf\xe9\nreplicas: 2\n");
    write(root, "config/latin1.toml", b"name = \"caf\xe9\"\n");
    write(root, "src/bom.rs", "\u{feff}pub fn b() {}\n");
    write(root, "src/crlf.rs", "pub fn c() {}\r\npub fn d() {}\r\n");
    write(root, "src/cr.rs", "pub fn e() {}\rpub fn f() {}\r");
}

/// Binary with a source extension, empty, huge.
fn write_binary_empty_and_huge(root: &Path) {
    write(
        root,
        "src/blob.rs",
        b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00",
    );
    write(root, "src/empty.rs", "");
    let mut huge = String::from("pub const BLOB: &str = \"");
    huge.push_str(&"abcdefghij".repeat(5 * 1024 * 1024));
    huge.push_str("\";");
    write(root, "src/huge.rs", huge);
}

/// A Rust file is parsed only when its code shows something a rule reads in its tree: this
/// line's `loop` and `if let Ok(..)` (a possible retry loop) make the files it begins worth
/// parsing.
const WORTH_PARSING: &str = "fn retry() { loop { if let Ok(v) = op() { return v } } }\n";

/// Rust syn cannot parse.
fn write_unparsable_rust(root: &Path) {
    // With a secret that text-level rules must still find.
    let token = expand("ghp_{b62:30}{crc}", "hostile-unparsed");
    write(
        root,
        "src/broken.rs",
        format!("pub fn main( {{\n    let token = \"{token}\";\n"),
    );
    // Pinned references (`&pin mut T`), newer than syn.
    write(
        root,
        "src/future.rs",
        format!("{WORTH_PARSING}pub fn f(x: &u8) {{}}\npub fn g(x: &pin mut u8) {{}}\n"),
    );
}

/// `inner` within `DEEP` of `open` and of `close`.
fn nest(open: &str, inner: &str, close: &str) -> String {
    format!("{}{inner}{}", open.repeat(DEEP), close.repeat(DEEP))
}

/// Rust nesting deep enough to overflow a parser's or a visitor's stack.
fn write_deep_rust(root: &Path) {
    write(
        root,
        "src/deep_parens.rs",
        format!(
            "{WORTH_PARSING}pub fn f() -> u8 {{ {} }}\n",
            nest("(", "1", ")")
        ),
    );
    write(
        root,
        "src/deep_blocks.rs",
        format!("{WORTH_PARSING}pub fn f() {{ {} }}\n", nest("{ ", "", "}")),
    );
    write(
        root,
        "src/deep_closures.rs",
        format!(
            "{WORTH_PARSING}pub fn f() {{ let _c = {}1; }}\n",
            "|a| ".repeat(DEEP)
        ),
    );
    write(
        root,
        "src/deep_generics.rs",
        format!(
            "{WORTH_PARSING}pub type T = {};\n",
            nest("Option<", "u8", ">")
        ),
    );
    write(
        root,
        "src/deep_chain.rs",
        format!(
            "{WORTH_PARSING}pub fn f(a: u8) -> u8 {{ a{} }}\n",
            " + a".repeat(DEEP)
        ),
    );
}

/// YAML, TOML and JSON that a parser may choke on.
fn write_hostile_data(root: &Path) {
    // YAML: alias bomb, deep nesting, duplicate keys, a broken document between good ones.
    write(root, "deploy/bomb.yaml", alias_bomb());
    write(
        root,
        "deploy/deep.yaml",
        format!("a: {}\n", nest("[", "1", "]")),
    );
    write(root, "deploy/dup.yaml", "a: 1\na: 2\n");
    // A lock cut short: read for the Cargo model, it must still be reported as not parsed.
    write(
        root,
        "tools/old/Cargo.lock",
        "[[package]]\nname = \"a\"\nversion = ",
    );
    write(
        root,
        "deploy/multi.yaml",
        "kind: ConfigMap\n---\nkey: [unclosed\n---\nkind: Secret\n",
    );
    // TOML and JSON nested 10,000 deep; a TOML array of two million elements.
    write(
        root,
        "config/deep.toml",
        format!("a = {}\n", nest("[", "1", "]")),
    );
    write(
        root,
        "config/deep-tables.toml",
        format!("a = {}\n", nest("{ b = ", "1", " }")),
    );
    write(root, "config/deep.json", nest("[", "1", "]"));
    let mut array = String::from("a = [");
    array.push_str(&"0,".repeat(2_000_000));
    array.push_str("]\n");
    write(root, "config/big-array.toml", array);
    write_hostile_charts(root);
}

/// Helm charts that cannot be read without rendering: an action left open, values that are not
/// a mapping, a chart that depends on itself, values that are an alias bomb.
fn write_hostile_charts(root: &Path) {
    let deployment = "kind: Deployment\nspec:\n  replicas: {{ .Values.replicaCount }}\n";
    for chart in ["open", "listed", "itself", "bomb"] {
        write(
            root,
            format!("charts/{chart}/Chart.yaml"),
            format!("apiVersion: v2\nname: {chart}\nversion: 0.1.0\n"),
        );
        write(
            root,
            format!("charts/{chart}/templates/deployment.yaml"),
            deployment,
        );
        write(
            root,
            format!("charts/{chart}/values.yaml"),
            "replicaCount: 1\n",
        );
    }
    write(
        root,
        "charts/open/templates/deployment.yaml",
        format!("{deployment}  image: {{{{ .Values.image\n"),
    );
    write(root, "charts/listed/values.yaml", "- replicaCount\n- 1\n");
    write(
        root,
        "charts/itself/Chart.yaml",
        "apiVersion: v2\nname: itself\nversion: 0.1.0\ndependencies:\n  - name: itself\n    repository: file://.\n",
    );
    write(root, "charts/bomb/values.yaml", alias_bomb());
}

/// Links: a loop, and one leading outside the audited folder (never followed).
fn write_links(root: &Path, outside: &Path) {
    std::os::unix::fs::symlink("loop-b", root.join("loop-a")).unwrap();
    std::os::unix::fs::symlink("loop-a", root.join("loop-b")).unwrap();
    write(outside, "secret.rs", RETRY);
    std::os::unix::fs::symlink(outside.join("secret.rs"), root.join("src/outside.rs")).unwrap();
    std::os::unix::fs::symlink(outside, root.join("linked-dir")).unwrap();
}

/// A folder without read permission; a file name that is not UTF-8.
fn write_locked_folder_and_non_utf8_name(root: &Path) {
    use std::os::unix::fs::PermissionsExt;
    write(root, "locked/inner.rs", RETRY);
    std::fs::set_permissions(root.join("locked"), std::fs::Permissions::from_mode(0o000)).unwrap();
    write(
        root,
        Path::new("src").join(OsStr::from_bytes(b"caf\xe9.rs")),
        "pub fn g() {}\n",
    );
}

/// Whether this user can list a mode-000 folder (root can: permissions do not stop it).
fn permissions_bind(dir: &Path) -> bool {
    std::fs::read_dir(dir.join("locked")).is_err()
}

fn entries(report: &Value, list: &str) -> Vec<(String, String)> {
    // Lists that are empty are left out of the report.
    report["files"][list]
        .as_array()
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .map(|e| {
            (
                e["path"].as_str().unwrap().to_string(),
                e["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn reason_of<'a>(list: &'a [(String, String)], path: &str) -> Vec<&'a str> {
    list.iter()
        .filter(|(p, _)| p == path)
        .map(|(_, r)| r.as_str())
        .collect()
}

#[track_caller]
fn assert_reason(list: &[(String, String)], path: &str, needle: &str) {
    let reasons = reason_of(list, path);
    assert!(
        reasons.iter().any(|r| r.contains(needle)),
        "{path}: expected a reason containing {needle:?}, got {reasons:?}\nall: {list:#?}"
    );
}

fn unlock(root: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(root.join("locked"), std::fs::Permissions::from_mode(0o755));
}

#[test]
fn every_hostile_input_is_diagnosed_and_the_rest_is_audited() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let root = dir.path().join("repo");
    std::fs::create_dir(&root).unwrap();
    hostile_tree(&root, outside.path());
    let locked = permissions_bind(&root);
    let path = root.to_str().unwrap();
    let output = prodready(&["audit", path, "--format", "json"], &[]);
    let human = prodready(&["audit", path, "--color", "never", "--verbose"], &[]);
    let quiet_human = prodready(&["audit", path, "--color", "never"], &[]);
    unlock(&root);
    let report: Value = serde_json::from_str(&stdout(&output))
        .unwrap_or_else(|e| panic!("{e}: {}", stderr(&output)));

    assert_findings_are_reported_inside_the_tree_only(&report, locked);
    assert_hostile_files_are_noted(&report);
    assert_hostile_files_are_skipped(&report);
    assert_hostile_files_are_not_parsed(&report);
    assert_the_locked_folder_is_not_analysed(&report, &output, locked);
    assert!(stderr(&output).is_empty(), "{}", stderr(&output));

    // The default human report counts the file notes; --verbose names the files and reasons.
    let quiet_text = stdout(&quiet_human);
    assert!(
        quiet_text.contains("(--verbose lists them)") && !quiet_text.contains("Note: src/bom.rs"),
        "{quiet_text}"
    );
    let text = stdout(&human);
    for line in [
        "Not read: src/blob.rs: binary",
        "Note: src/bom.rs: starts with a UTF-8 byte-order mark",
        "Not parsed (text-level rules only): src/huge.rs: larger than 4 MiB",
        "Not parsed (text-level rules only): deploy/bomb.yaml:",
    ] {
        assert!(text.contains(line), "{line:?} missing:\n{text}");
    }
    assert_eq!(code(&human), code(&output));
}

/// The ordinary finding elsewhere in the tree is still reported, and nothing outside it.
fn assert_findings_are_reported_inside_the_tree_only(report: &Value, locked: bool) {
    let findings: Vec<(&str, &str)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["code"].as_str().unwrap(),
                f["path"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert!(
        findings.contains(&("RES001", "src/retry.rs")),
        "{findings:?}"
    );
    assert!(
        findings.contains(&("SEC001", "src/broken.rs")),
        "text-level rules run on a file that does not parse: {findings:?}"
    );
    assert!(
        !findings
            .iter()
            .any(|(_, p)| p.contains("outside") || p.contains("linked-dir")),
        "{findings:?}"
    );
    if locked {
        assert!(!findings.iter().any(|(_, p)| p.contains("locked")));
    }
}

fn assert_hostile_files_are_noted(report: &Value) {
    let notes = entries(report, "notes");
    assert_reason(&notes, "src/latin1.rs", "not valid UTF-8 (first at line 1");
    assert_reason(&notes, "deploy/latin1.yaml", "not valid UTF-8");
    assert_reason(&notes, "config/latin1.toml", "not valid UTF-8");
    assert_reason(&notes, "src/bom.rs", "byte-order mark");
    assert_reason(&notes, "src/crlf.rs", "CRLF line endings");
    assert_reason(&notes, "src/cr.rs", "2 lone CR line ending(s)");
    assert_reason(&notes, "src/empty.rs", "empty file");
    assert_reason(&notes, "src/caf\u{fffd}.rs", "file name is not valid UTF-8");
    assert_reason(&notes, "config/big-array.toml", "more than 100000 settings");
    assert_reason(
        &notes,
        "charts/open/Chart.yaml",
        "do not balance (2 opened, 1 closed)",
    );
    assert_reason(
        &notes,
        "charts/listed/Chart.yaml",
        "document is not a mapping",
    );
    assert_reason(&notes, "charts/itself/Chart.yaml", "it depends on itself");
}

fn assert_hostile_files_are_skipped(report: &Value) {
    let skipped = entries(report, "skipped");
    assert_reason(&skipped, "src/blob.rs", "binary");
    assert_reason(&skipped, "loop-a", "symbolic link loop");
    assert_reason(&skipped, "loop-b", "symbolic link loop");
    assert_reason(
        &skipped,
        "src/outside.rs",
        "leading outside the audited folder",
    );
    assert_reason(&skipped, "linked-dir", "leading outside the audited folder");
}

fn assert_hostile_files_are_not_parsed(report: &Value) {
    let not_parsed = entries(report, "not_parsed");
    assert_reason(&not_parsed, "src/huge.rs", "larger than 4 MiB");
    assert_reason(&not_parsed, "src/broken.rs", "1:");
    assert_reason(&not_parsed, "src/future.rs", "3:");
    for deep in [
        "src/deep_parens.rs",
        "src/deep_blocks.rs",
        "src/deep_closures.rs",
        "src/deep_generics.rs",
        "src/deep_chain.rs",
    ] {
        assert_reason(&not_parsed, deep, "levels deep");
    }
    assert_reason(&not_parsed, "deploy/bomb.yaml", "billion-laughs");
    assert_reason(&not_parsed, "deploy/deep.yaml", "recursion limit");
    assert_reason(&not_parsed, "deploy/dup.yaml", "duplicate");
    // The broken document is the second: its position is given.
    assert_reason(&not_parsed, "deploy/multi.yaml", "4:");
    assert_reason(&not_parsed, "config/deep.json", "recursion limit");
    for deep in [
        "config/deep.toml",
        "config/deep-tables.toml",
        "tools/old/Cargo.lock",
    ] {
        assert!(
            !reason_of(&not_parsed, deep).is_empty(),
            "{deep}: {not_parsed:#?}"
        );
    }
}

/// A folder not read makes the report incomplete, where permissions bind.
fn assert_the_locked_folder_is_not_analysed(report: &Value, output: &Output, locked: bool) {
    let not_analysed = entries(report, "not_analysed");
    if locked {
        assert_reason(&not_analysed, "locked", "Permission denied");
        assert_eq!(
            code(output),
            3,
            "a folder not read makes the report incomplete"
        );
        assert_eq!(report["gate"]["incomplete"], true);
    } else {
        // Running as root: a mode-000 folder is read like any other.
        assert!(not_analysed.is_empty(), "{not_analysed:?}");
        assert_eq!(code(output), 0, "{}", stderr(output));
    }
}

#[test]
fn large_files_are_skipped_by_name_at_the_default_size_limit() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "Cargo.toml", HELLO_TOML);
    write(dir.path(), "src/retry.rs", RETRY);
    write(dir.path(), "data/big.json", "[1]".repeat(1024 * 1024));
    let output = prodready(
        &["audit", dir.path().to_str().unwrap(), "--format", "json"],
        &[],
    );
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    let report: Value = serde_json::from_str(&stdout(&output)).unwrap();
    let skipped = entries(&report, "skipped");
    assert_reason(
        &skipped,
        "data/big.json",
        "larger than max_file_size (3145728 bytes > 2097152)",
    );
    assert_eq!(report["files"]["skipped_files"]["too-large"], 1);
}

#[test]
fn a_path_that_does_not_exist_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nowhere");
    let output = prodready(&["audit", missing.to_str().unwrap()], &[]);
    assert_eq!(code(&output), 2);
    assert!(
        stderr(&output).contains("no such file or directory"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_panic_in_a_rule_family_is_an_internal_error_for_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let token = expand("ghp_{b62:30}{crc}", "hostile-panic");
    write(dir.path(), "Cargo.toml", HELLO_TOML);
    write(dir.path(), "Cargo.lock", HELLO_LOCK);
    write(dir.path(), "src/retry.rs", RETRY);
    write(dir.path(), "src/other.rs", RETRY);
    write(dir.path(), "src/victim.rs", format!("// {token}\n{RETRY}"));
    let path = dir.path().to_str().unwrap();
    let panic_in = |step: &str, extra: &[&str]| {
        let mut args = vec!["audit", path, "--format", "json"];
        args.extend(extra);
        prodready(&args, &[("PRODREADY_TEST_PANIC", step)])
    };

    let output = panic_in("retries:src/victim.rs", &[]);
    assert_eq!(code(&output), 3, "{}", stderr(&output));
    let err = stderr(&output);
    assert!(
        err.contains("prodready: internal error at src/checks/mod.rs"),
        "{err}"
    );
    assert!(
        !err.contains(&token[4..]) && !err.contains("victim"),
        "{err}"
    );
    let report: Value = serde_json::from_str(&stdout(&output)).unwrap();
    let not_analysed = entries(&report, "not_analysed");
    assert_eq!(
        not_analysed,
        [(
            "src/victim.rs".to_string(),
            "internal error in the retries checks (a bug in prodready; its location is on standard error); the other checks ran".to_string()
        )]
    );
    let findings: BTreeSet<(String, String)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["code"].as_str().unwrap().to_string(),
                f["path"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    // The audit went on: the other files, and the other families of the same file.
    assert!(findings.contains(&("RES001".into(), "src/retry.rs".into())));
    assert!(findings.contains(&("RES001".into(), "src/other.rs".into())));
    assert!(findings.contains(&("SEC001".into(), "src/victim.rs".into())));
    assert!(!findings.contains(&("RES001".into(), "src/victim.rs".into())));
    assert_eq!(report["gate"]["incomplete"], true);

    // A failed gate wins over an incomplete report.
    let failing = panic_in("retries:src/victim.rs", &["--fail-on", "medium"]);
    assert_eq!(code(&failing), 1);

    // A project-level family and a front end are contained too.
    let project = panic_in("ops:<project>", &[]);
    assert_eq!(code(&project), 3, "{}", stderr(&project));
    let report: Value = serde_json::from_str(&stdout(&project)).unwrap();
    assert_reason(
        &entries(&report, "not_analysed"),
        "<project checks>",
        "internal error in the ops checks",
    );
    let front = panic_in("imports:src/victim.rs", &[]);
    assert_eq!(code(&front), 3, "{}", stderr(&front));
    let report: Value = serde_json::from_str(&stdout(&front)).unwrap();
    assert_reason(
        &entries(&report, "not_analysed"),
        "src/victim.rs",
        "internal error in the imports checks",
    );
}

#[test]
fn the_time_budget_stops_a_files_analysis_with_a_diagnostic() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "Cargo.toml", HELLO_TOML);
    write(dir.path(), "src/retry.rs", RETRY);
    let path = dir.path().to_str().unwrap();
    let output = prodready(
        &[
            "audit",
            path,
            "--format",
            "json",
            "--file-timeout",
            "0.000000001",
        ],
        &[],
    );
    assert_eq!(code(&output), 3, "{}", stderr(&output));
    let report: Value = serde_json::from_str(&stdout(&output)).unwrap();
    let not_analysed = entries(&report, "not_analysed");
    assert_reason(
        &not_analysed,
        "src/retry.rs",
        "analysis stopped after 0.000000001s (file_timeout)",
    );
    assert_eq!(report["gate"]["incomplete"], true);

    let generous = prodready(
        &["audit", path, "--format", "json", "--file-timeout", "600"],
        &[],
    );
    assert_eq!(code(&generous), 0, "{}", stderr(&generous));

    for bad in ["0", "-1", "soon", "NaN", "inf", "1e300"] {
        let output = prodready(&["audit", path, &format!("--file-timeout={bad}")], &[]);
        assert_eq!(code(&output), 2, "--file-timeout {bad}");
        assert!(
            stderr(&output).contains("--file-timeout"),
            "{}",
            stderr(&output)
        );
    }
    write(dir.path(), "prodready.toml", "file_timeout = -3\n");
    let output = prodready(&["audit", path], &[]);
    assert_eq!(code(&output), 2);
    assert!(
        flat_stderr(&output).contains("file_timeout must be a positive number of seconds"),
        "{}",
        stderr(&output)
    );
    write(dir.path(), "prodready.toml", "file_timeout = 0.5\n");
    assert_eq!(code(&prodready(&["audit", path, "-q"], &[])), 0);
}

#[test]
fn a_configuration_linked_from_outside_the_root_is_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    write(dir.path(), "Cargo.toml", HELLO_TOML);
    write(dir.path(), "src/retry.rs", RETRY);
    write(outside.path(), "prodready.toml", "select = [\"SEC\"]\n");
    std::os::unix::fs::symlink(
        outside.path().join("prodready.toml"),
        dir.path().join("prodready.toml"),
    )
    .unwrap();
    let path = dir.path().to_str().unwrap();
    let output = prodready(&["audit", path], &[]);
    assert_eq!(code(&output), 2);
    assert!(
        flat_stderr(&output).contains("symbolic link leading outside the audited folder"),
        "{}",
        stderr(&output)
    );
    // Named on the command line, it is the user's choice.
    let config = dir.path().join("prodready.toml");
    let explicit = prodready(
        &["audit", path, "--config", config.to_str().unwrap(), "-q"],
        &[],
    );
    assert_eq!(code(&explicit), 0, "{}", stderr(&explicit));
}

#[test]
fn output_files_are_replaced_not_rewritten_in_place() {
    // A report is written to a temporary file and renamed over the old one: a reader holding
    // the old file (here, a hard link to it) never sees it truncated or half written.
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "Cargo.toml", HELLO_TOML);
    write(dir.path(), "src/retry.rs", RETRY);
    let out = tempfile::tempdir().unwrap();
    let names = ["report.json", "summary.md", "baseline.json"];
    for name in names {
        write(out.path(), name, "old\n");
        std::fs::hard_link(
            out.path().join(name),
            out.path().join(format!("{name}.old")),
        )
        .unwrap();
    }
    let at = |name: &str| out.path().join(name).to_str().unwrap().to_string();
    let output = prodready(
        &[
            "audit",
            dir.path().to_str().unwrap(),
            "--format",
            "json",
            "--output",
            &at("report.json"),
            "--report",
            &format!("markdown={}", at("summary.md")),
            "--write-baseline",
            &at("baseline.json"),
            "-q",
        ],
        &[],
    );
    assert_eq!(code(&output), 0, "{}", stderr(&output));
    for name in names {
        let new = std::fs::read_to_string(out.path().join(name)).unwrap();
        let old = std::fs::read_to_string(out.path().join(format!("{name}.old"))).unwrap();
        assert_eq!(old, "old\n", "{name} was rewritten in place");
        assert!(new.len() > 10, "{name}: {new}");
    }
    let leftovers: Vec<_> = std::fs::read_dir(out.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// Every SEC001 format's fake (`fake` templates of the rule's data), expanded.
fn every_format_fake() -> Vec<String> {
    let rule = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/SEC001-hardcoded-secret.toml"),
    )
    .unwrap();
    let rule: toml::Table = toml::from_str(&rule).unwrap();
    rule["data"]["pattern"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            expand(
                p["fake"].as_str().unwrap(),
                &format!("hostile-{}", p["id"].as_str().unwrap()),
            )
        })
        .collect()
}

/// What must never appear in an output: the middle of the longest random-looking run of each
/// secret (outputs show at most a short prefix of a secret).
fn raw_pieces(secret: &str) -> String {
    let run = secret
        .split(|c: char| !(c.is_ascii_alphanumeric() || "+/_.-".contains(c)))
        .max_by_key(|run| run.len())
        .unwrap();
    assert!(run.len() >= 16, "{secret}");
    let middle = run.len() / 2;
    run[middle - 6..middle + 6].to_string()
}

#[test]
fn secrets_never_reach_any_output_error_or_panic_message() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let fakes = every_format_fake();
    let token = expand("ghp_{b62:30}{crc}", "hostile-everywhere");
    let password = "Hostile-Pa55word-Zq8mV2pX7";
    write_secrets_everywhere(root, &fakes, &token, password);

    let path = root.to_str().unwrap();
    let reports = tempfile::tempdir().unwrap();
    let mut outputs = audit_in_every_format(path, reports.path());
    // A panic while analysing a file full of secrets, its payload holding one.
    let payload = format!("slice of {token} and {password}");
    outputs.push(prodready(
        &["audit", path, "--format", "json"],
        &[
            ("PRODREADY_TEST_PANIC", "secrets:src/secrets.rs"),
            ("PRODREADY_TEST_PANIC_PAYLOAD", &payload),
        ],
    ));
    assert_eq!(code(outputs.last().unwrap()), 3);
    outputs.extend(config_errors_quoting_secrets(root, &token, password));

    let texts = every_text_written(&outputs, reports.path());
    let mut needles: Vec<String> = fakes.iter().map(|f| raw_pieces(f)).collect();
    needles.push(token[4..].to_string());
    needles.push(password[4..].to_string());
    needles.push(payload.clone());
    for (name, text) in &texts {
        for needle in &needles {
            assert!(
                !text.contains(needle.as_str()),
                "{needle:?} leaked in {name}:\n{text}"
            );
        }
    }
    // The run in JSON to standard output (`audit_in_every_format`).
    assert_the_secrets_are_found(&stdout(&outputs[2]), fakes.len());
}

/// The text of a file of each kind holding every format's fake, and a password.
#[derive(Default)]
struct SecretTexts {
    rust: String,
    yaml: String,
    toml: String,
    env: String,
    /// The members of a JSON object.
    json: Vec<String>,
}

fn secret_texts(fakes: &[String], password: &str) -> SecretTexts {
    let mut texts = SecretTexts::default();
    for (i, fake) in fakes.iter().enumerate() {
        texts
            .rust
            .push_str(&format!("pub const SECRET_{i}: &str = r#\"{fake}\"#;\n"));
        if fake.contains('\n') {
            let indented = fake.replace('\n', "\n  ");
            texts.yaml.push_str(&format!("key_{i}: |\n  {indented}\n"));
            texts.toml.push_str(&format!("key_{i} = '''\n{fake}'''\n"));
        } else {
            texts.yaml.push_str(&format!("key_{i}: '{fake}'\n"));
            texts.toml.push_str(&format!("key_{i} = '{fake}'\n"));
            texts.env.push_str(&format!("KEY_{i}='{fake}'\n"));
            texts.json.push(format!(
                "\"key_{i}\": {}",
                serde_json::to_string(fake).unwrap()
            ));
        }
    }
    texts.rust.push_str(&format!(
        "pub fn connect() {{\n    let db_password = \"{password}\";\n    let url = \"postgres://app:{password}@db.prod.internal/app\";\n}}\n"
    ));
    texts.yaml.push_str(&format!("password: {password}\n"));
    texts.toml.push_str(&format!("password = \"{password}\"\n"));
    texts.env.push_str(&format!(
        "DB_PASSWORD={password}\nDATABASE_URL=postgres://app:{password}@db.prod.internal/app\n"
    ));
    texts
}

/// Writes a project whose files of every kind hold the fakes, the token and the password:
/// files that parse, files that do not, a file that allows its secret, files not UTF-8.
fn write_secrets_everywhere(root: &Path, fakes: &[String], token: &str, password: &str) {
    let texts = secret_texts(fakes, password);
    write(
        root,
        "Cargo.toml",
        format!(
            "{HELLO_TOML}\n[dependencies]\nauth = {{ git = \"https://ci:{token}@github.com/acme/auth\" }}\n"
        ),
    );
    write(root, "src/retry.rs", RETRY);
    write(root, "src/secrets.rs", &texts.rust);
    write(root, "deploy/secrets.yaml", &texts.yaml);
    write(root, "config/secrets.toml", &texts.toml);
    write(
        root,
        "config/secrets.json",
        format!("{{{}}}\n", texts.json.join(",\n")),
    );
    write(root, ".env", &texts.env);
    write_unparsable_secrets(root, token, password);
    write(
        root,
        "src/allowed.rs",
        format!(
            "// prodready: allow(SEC001) old value {token} was rotated\npub const T: &str = \"{token}\";\n"
        ),
    );
    let single_line = fakes.iter().filter(|f| !f.contains('\n'));
    for (i, fake) in single_line.enumerate() {
        // A secret in the text of a file that is not UTF-8 and has CR line endings.
        write(
            root,
            format!("odd/latin1-{i}.txt"),
            [
                b"caf\xe9 token=".as_slice(),
                fake.as_bytes(),
                b"\r".as_slice(),
            ]
            .concat(),
        );
    }
}

/// Files that do not parse, with secrets where a parser's message would quote them.
fn write_unparsable_secrets(root: &Path, token: &str, password: &str) {
    write(
        root,
        "src/broken.rs",
        format!("pub fn f() {{\n    let password = \"{password}\" {token} ;\n"),
    );
    write(
        root,
        "deploy/broken.yaml",
        format!("password: {password}\ntoken: {token}\nkey: [unclosed {token}\n"),
    );
    write(
        root,
        "config/broken.toml",
        format!("password = \"{password}\"\n{token} = = {token}\n"),
    );
    write(
        root,
        "deploy/dup.yaml",
        format!("{token}: 1\n{token}: 2\npassword: {password}\n"),
    );
}

const FORMATS: [&str; 8] = [
    "human", "json", "sarif", "markdown", "github", "junit", "badge", "html",
];

/// Audits `path` once writing every format's report and a baseline into `reports`, then once
/// in each format to standard output (the run in JSON is the third).
fn audit_in_every_format(path: &str, reports: &Path) -> Vec<Output> {
    let mut args: Vec<String> = vec![
        "audit".into(),
        path.into(),
        "--sarif-include-suppressed".into(),
        "--write-baseline".into(),
        reports.join("baseline.json").to_str().unwrap().into(),
    ];
    for format in FORMATS {
        args.push("--report".into());
        args.push(format!("{format}={}", reports.join(format).display()));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut outputs = vec![prodready(&args, &[])];
    for format in FORMATS {
        outputs.push(prodready(
            &["audit", path, "--format", format, "--color", "always"],
            &[],
        ));
    }
    outputs
}

/// Configuration errors that quote a secret: as a key, as a selected rule, as an exclude.
fn config_errors_quoting_secrets(root: &Path, token: &str, password: &str) -> Vec<Output> {
    let path = root.to_str().unwrap();
    let mut outputs = Vec::new();
    for config in [
        format!("{token} = 1\n"),
        format!("select = [\"{token}\"]\n"),
        format!("exclude = [\"{token}[\"]\n"),
        format!("severity = {{ {token} = \"high\" }}\n"),
        format!("password = \"{password}\"\nmax_file_size = \"{token}\"\n"),
    ] {
        write(root, "prodready.toml", &config);
        let output = prodready(&["audit", path], &[]);
        assert_eq!(code(&output), 2, "{config}: {}", stderr(&output));
        outputs.push(output);
    }
    std::fs::remove_file(root.join("prodready.toml")).unwrap();
    outputs
}

/// Every text the runs wrote, by name: their standard output and error, the report files and
/// the baseline.
fn every_text_written(outputs: &[Output], reports: &Path) -> Vec<(String, String)> {
    let mut texts: Vec<(String, String)> = Vec::new();
    for (i, output) in outputs.iter().enumerate() {
        texts.push((format!("run {i} stdout"), stdout(output)));
        texts.push((format!("run {i} stderr"), stderr(output)));
    }
    for name in FORMATS.iter().copied().chain(["baseline.json"]) {
        texts.push((
            name.to_string(),
            std::fs::read_to_string(reports.join(name)).unwrap(),
        ));
    }
    texts
}

/// The secrets were found, not merely absent: the formats' SEC001, the generic ones.
fn assert_the_secrets_are_found(json: &str, fakes: usize) {
    let report: Value = serde_json::from_str(json).unwrap();
    let sec001 = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "SEC001" && f["path"] == "src/secrets.rs")
        .count();
    // One finding per value: a few formats overlap another detection at the same place.
    assert!(sec001 * 10 >= fakes * 9, "{sec001} of {fakes}");
    let codes: BTreeSet<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    for code in ["SEC001", "SEC002", "SEC003", "RES001"] {
        assert!(codes.contains(code), "{code}: {codes:?}");
    }
}
