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
