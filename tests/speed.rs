//! What the speed work must not change: the report is byte-identical with one and two worker
//! threads, and with per-phase timings on (`PRODREADY_TIMINGS=1`, which prints to standard
//! error only), on both sample projects.

use std::process::{Command, Output};

fn audit(sample: &str, threads: &str, timings: bool) -> Output {
    let root = format!("{}/fixtures/{sample}", env!("CARGO_MANIFEST_DIR"));
    let mut command = Command::new(env!("CARGO_BIN_EXE_prodready"));
    command
        // `--no-cache`: tests never write the per-file facts cache (tests/cache.rs tests it).
        .args([
            "audit",
            "--no-cache",
            &root,
            "--format",
            "json",
            "--threads",
            threads,
        ])
        .env("NO_COLOR", "1")
        .env_remove("PRODREADY_TIMINGS");
    if timings {
        command.env("PRODREADY_TIMINGS", "1");
    }
    command.output().expect("prodready runs")
}

#[test]
fn reports_do_not_depend_on_threads_or_timings() {
    for sample in ["pilot-service", "production-service"] {
        let one = audit(sample, "1", false);
        let two = audit(sample, "2", false);
        let timed = audit(sample, "2", true);
        assert!(
            one.stdout.starts_with(b"{") && !one.stdout.is_empty(),
            "{sample}: no JSON report: {}",
            String::from_utf8_lossy(&one.stderr)
        );
        assert_eq!(one.status.code(), two.status.code(), "{sample}");
        assert_eq!(one.stdout, two.stdout, "{sample}: 1 vs 2 threads");
        assert_eq!(
            two.stdout, timed.stdout,
            "{sample}: timings changed the report"
        );
        assert!(two.stderr.is_empty(), "{sample}: {:?}", two.stderr);
        let err = String::from_utf8_lossy(&timed.stderr);
        for line in ["per-file phase", "rust: syn parse", "rust files parsed:"] {
            assert!(err.contains(line), "{sample}: no `{line}` in {err}");
        }
    }
}

/// A workspace's member globs are compiled once for the project, not once per file: the count
/// `PRODREADY_TIMINGS` prints stays at one members and one exclude matcher per workspace however
/// many files there are.
#[test]
fn project_matchers_are_built_once_not_per_file() {
    let dir = tempfile::tempdir().unwrap();
    let write = |path: &str, text: &str| {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write(
        "Cargo.toml",
        "[workspace]\nmembers = [\"crates/*\"]\nexclude = [\"crates/old\"]\n\n[workspace.dependencies]\nreqwest = \"0.12\"\n",
    );
    for member in 0..12 {
        write(
            &format!("crates/m{member}/Cargo.toml"),
            &format!(
                "[package]\nname = \"m{member}\"\nversion = \"0.1.0\"\n\n[dependencies]\nreqwest = {{ workspace = true }}\n"
            ),
        );
        for file in 0..5 {
            write(
                &format!("crates/m{member}/src/f{file}.rs"),
                "pub async fn get(url: &str) -> reqwest::Result<String> {\n    reqwest::get(url).await?.text().await\n}\n",
            );
        }
    }
    let output = Command::new(env!("CARGO_BIN_EXE_prodready"))
        .args(["audit", "--no-cache", "--format", "json"])
        .arg(dir.path())
        .env("PRODREADY_TIMINGS", "1")
        .output()
        .expect("prodready runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("project matchers built: 2\n"), "{stderr}");
}
