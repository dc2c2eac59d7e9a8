//! The per-file facts cache (docs/cache.md): the report is byte-identical without a cache, with
//! a cold one and a warm one, whatever the thread count; a broken cache file is ignored; an
//! edited file is analysed again and only it; the cache never sits inside the audited folder
//! and never holds a secret. Every run here passes `--cache-dir` (a temporary folder) or
//! `--no-cache`, so tests never write to the user's cache.

mod git;
use git::git_in;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use prodready::checks::secrets::fake::expand;

const SAMPLES: [&str; 2] = ["fixtures/pilot-service", "fixtures/production-service"];

fn prodready(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_prodready"));
    command
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("PRODREADY_TIMINGS")
        .env_remove("PRODREADY_CACHE_DIR");
    for (key, value) in envs {
        command.env(key, value);
    }
    command.output().expect("prodready runs")
}

/// An audit of `root` in `format` with `cache` (`--cache-dir DIR`, or `--no-cache` when
/// `None`) on `threads` threads, with the cache's counts on: the output and standard error.
fn audit(root: &Path, format: &str, cache: Option<&Path>, threads: &str) -> (Output, Counts) {
    let root = root.to_str().expect("utf-8 path");
    let mut args = vec!["audit", root, "--format", format, "--threads", threads];
    let dir;
    match cache {
        Some(path) => {
            dir = path.to_str().expect("utf-8 path").to_string();
            args.extend(["--cache-dir", &dir]);
        }
        None => args.push("--no-cache"),
    }
    let output = prodready(&args, &[("PRODREADY_TIMINGS", "1")]);
    assert!(
        matches!(output.status.code(), Some(0 | 1 | 3)),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let counts = Counts::of(&output);
    (output, counts)
}

/// `cache: H hits (S by stamp, unread), B binary files by stamp (unread), M misses, N not
/// cacheable, R rejected entries` from the timings.
#[derive(Debug, Default, PartialEq, Eq)]
struct Counts {
    hits: usize,
    by_stamp: usize,
    binary_by_stamp: usize,
    misses: usize,
    not_cacheable: usize,
    rejected: usize,
}

impl Counts {
    fn of(output: &Output) -> Counts {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let Some(line) = stderr
            .lines()
            .find(|l| l.starts_with("cache: ") && l.contains(" hits ("))
        else {
            return Counts::default();
        };
        Counts::parse(line)
    }

    fn parse(line: &str) -> Counts {
        let numbers: Vec<usize> = line
            .split(|c: char| !c.is_ascii_digit())
            .filter(|n| !n.is_empty())
            .map(|n| n.parse().expect("a count"))
            .collect();
        assert_eq!(numbers.len(), 6, "{line}");
        Counts {
            hits: numbers[0],
            by_stamp: numbers[1],
            binary_by_stamp: numbers[2],
            misses: numbers[3],
            not_cacheable: numbers[4],
            rejected: numbers[5],
        }
    }
}

fn sample(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The one cache file in `dir`.
fn cache_file(dir: &Path) -> PathBuf {
    let files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("the cache directory exists")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(files.len(), 1, "one cache file: {files:?}");
    files.into_iter().next().expect("one")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[test]
fn output_is_identical_without_a_cache_cold_and_warm_on_any_thread_count() {
    for path in SAMPLES {
        let root = sample(path);
        for format in ["json", "human", "html"] {
            let (expected, none) = audit(&root, format, None, "2");
            assert_eq!(none, Counts::default(), "--no-cache uses no cache");
            for threads in ["1", "2"] {
                let cache = tempfile::tempdir().unwrap();
                let dir = cache.path().join("prodready");
                let (cold, counts) = audit(&root, format, Some(&dir), threads);
                assert_eq!(counts.hits, 0, "{path}: a cold cache has nothing");
                assert!(counts.misses > 0, "{path}: {counts:?}");
                let (warm, again) = audit(&root, format, Some(&dir), threads);
                assert_eq!(
                    again,
                    Counts {
                        hits: counts.misses,
                        by_stamp: again.by_stamp,
                        misses: 0,
                        ..counts
                    },
                    "{path}: every cached file hits"
                );
                for (name, output) in [("cold", &cold), ("warm", &warm)] {
                    assert_eq!(
                        String::from_utf8_lossy(&output.stdout),
                        String::from_utf8_lossy(&expected.stdout),
                        "{path} {format} {name} cache, {threads} thread(s)"
                    );
                    assert_eq!(output.status.code(), expected.status.code());
                }
            }
        }
    }
}

#[test]
fn a_broken_cache_file_is_ignored_and_the_output_is_the_same() {
    let root = sample("fixtures/production-service");
    let cache = tempfile::tempdir().unwrap();
    let dir = cache.path();
    let (expected, counts) = audit(&root, "json", Some(dir), "2");
    let file = cache_file(dir);
    let good = std::fs::read_to_string(&file).unwrap();
    let cached = counts.misses;

    let mut value: serde_json::Value = serde_json::from_str(&good).unwrap();
    let entries = value["entries"].as_object_mut().expect("entries");
    let first = entries.keys().next().expect("an entry").clone();
    entries.insert(first, serde_json::json!({"path": 5, "findings": "mangled"}));
    let mangled = value.to_string();
    let mut wrong_version: serde_json::Value = serde_json::from_str(&good).unwrap();
    wrong_version["version"] = serde_json::json!("0.0.0-other");

    let broken: [(&str, Vec<u8>, Counts); 5] = [
        (
            "garbage bytes",
            vec![0xff, 0x00, 0x13, 0x37, b'{'],
            Counts {
                misses: cached,
                ..counts
            },
        ),
        (
            "truncated JSON",
            good.as_bytes()[..good.len() / 2].to_vec(),
            Counts {
                misses: cached,
                ..counts
            },
        ),
        (
            "another version",
            wrong_version.to_string().into_bytes(),
            Counts {
                misses: cached,
                ..counts
            },
        ),
        (
            "one mangled entry",
            mangled.into_bytes(),
            // Analysed afresh: a miss, and counted as rejected.
            Counts {
                hits: cached - 1,
                misses: 1,
                rejected: 1,
                ..counts
            },
        ),
        (
            "empty",
            Vec::new(),
            Counts {
                misses: cached,
                ..counts
            },
        ),
    ];
    for (name, bytes, expected_counts) in broken {
        std::fs::write(&file, &bytes).unwrap();
        let (output, counts) = audit(&root, "json", Some(dir), "2");
        assert_eq!(output.stdout, expected.stdout, "{name}");
        assert_eq!(output.status.code(), expected.status.code(), "{name}");
        // Whether an entry is found by its stamp or by its bytes is another test's business.
        let by_bytes = |counts: Counts| Counts {
            by_stamp: 0,
            binary_by_stamp: 0,
            ..counts
        };
        assert_eq!(by_bytes(counts), by_bytes(expected_counts), "{name}");
        // The file is written anew, whole, with this run's entries.
        assert_eq!(std::fs::read_to_string(&file).unwrap().len(), good.len());
    }
}

#[test]
fn an_edited_file_is_analysed_again_and_only_it() {
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("repo");
    copy_dir(&sample("fixtures/production-service"), &root);
    let dir = work.path().join("cache");
    let (_, cold) = audit(&root, "json", Some(&dir), "2");
    assert!(cold.misses > 2, "{cold:?}");

    let edited = root.join("src/main.rs");
    let mut text = std::fs::read_to_string(&edited).unwrap();
    text.push_str("\nfn added() {\n    println!(\"new\");\n}\n");
    std::fs::write(&edited, text).unwrap();
    let (warm, counts) = audit(&root, "json", Some(&dir), "2");
    assert_eq!(
        counts,
        Counts {
            hits: cold.misses - 1,
            misses: 1,
            ..cold
        }
    );
    let (fresh, _) = audit(&root, "json", None, "2");
    assert_eq!(warm.stdout, fresh.stdout, "the edit shows in the report");

    // A manifest change invalidates every entry: per-file checks read the Cargo model.
    let manifest = root.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap() + "\n# a comment\n";
    std::fs::write(&manifest, text).unwrap();
    let (warm, counts) = audit(&root, "json", Some(&dir), "2");
    assert_eq!(counts.hits, 0, "{counts:?}");
    let (fresh, _) = audit(&root, "json", None, "2");
    assert_eq!(warm.stdout, fresh.stdout);

    // A different rule selection keeps its own cache file.
    let select = |threads| {
        let args = [
            "audit",
            root.to_str().unwrap(),
            "--select",
            "OBS",
            "--format",
            "json",
            "--threads",
            threads,
            "--cache-dir",
            dir.to_str().unwrap(),
        ];
        prodready(&args, &[("PRODREADY_TIMINGS", "1")])
    };
    assert_eq!(Counts::of(&select("2")).hits, 0);
    assert!(Counts::of(&select("1")).hits > 0);
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 2);
}

/// A file whose stamp (size, times, inode) is the one recorded with its entry is not read again,
/// nor a binary file; any edit, even one that keeps the size, changes the stamp and the file is
/// read and analysed again. Stamps younger than two seconds are never trusted, hence the wait.
#[test]
fn unchanged_stamps_skip_the_read_and_an_edit_of_the_same_size_does_not() {
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("repo");
    copy_dir(&sample("fixtures/pilot-service"), &root);
    let logo = root.join("logo.png");
    std::fs::write(&logo, b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR").unwrap();
    let dir = work.path().join("cache");
    std::thread::sleep(std::time::Duration::from_millis(2_100));
    let (_, cold) = audit(&root, "json", Some(&dir), "2");
    assert!(
        cold.misses > 2 && cold.by_stamp == 0 && cold.binary_by_stamp == 0,
        "{cold:?}"
    );
    // Manifests are read before the per-file phase anyway (the Cargo model): found by bytes.
    let manifests = ["Cargo.toml", "Cargo.lock"]
        .iter()
        .filter(|name| root.join(name).exists())
        .count();
    let (warm, counts) = audit(&root, "json", Some(&dir), "2");
    assert_eq!(
        counts,
        Counts {
            hits: cold.misses,
            by_stamp: cold.misses - manifests,
            binary_by_stamp: 1,
            misses: 0,
            ..cold
        }
    );
    let (fresh, _) = audit(&root, "json", None, "2");
    assert_eq!(warm.stdout, fresh.stdout);

    let edited = root.join("src/main.rs");
    let text = std::fs::read_to_string(&edited).unwrap();
    let same_size = text.replacen("fn main", "fn mair", 1);
    assert_ne!(text, same_size);
    std::fs::write(&edited, same_size).unwrap();
    let (warm, counts) = audit(&root, "json", Some(&dir), "2");
    assert_eq!(
        counts,
        Counts {
            hits: cold.misses - 1,
            by_stamp: cold.misses - 1 - manifests,
            binary_by_stamp: 1,
            misses: 1,
            ..cold
        }
    );
    let (fresh, _) = audit(&root, "json", None, "2");
    assert_eq!(warm.stdout, fresh.stdout, "the edit shows in the report");

    // The binary file, made text of the same size: read and analysed afresh.
    let binary = std::fs::read(&logo).unwrap();
    let text: Vec<u8> = binary
        .iter()
        .map(|&b| if b == 0 { b' ' } else { b })
        .collect();
    std::fs::write(&logo, text).unwrap();
    let (warm, counts) = audit(&root, "json", Some(&dir), "2");
    assert_eq!(
        (counts.binary_by_stamp, counts.misses),
        (0, 1),
        "{counts:?}"
    );
    let (fresh, _) = audit(&root, "json", None, "2");
    assert_eq!(warm.stdout, fresh.stdout);
}

#[test]
fn a_cache_directory_inside_the_audited_folder_is_refused() {
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("repo");
    copy_dir(&sample("fixtures/pilot-service"), &root);
    let (expected, _) = audit(&root, "json", None, "2");

    // Given explicitly: an error, before anything is written.
    for inside in [root.join(".cache"), root.join("deploy/../x/y")] {
        let output = prodready(
            &[
                "audit",
                root.to_str().unwrap(),
                "--cache-dir",
                inside.to_str().unwrap(),
            ],
            &[],
        );
        assert_eq!(output.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("inside the audited folder"), "{stderr}");
        assert!(!inside.exists());
    }
    // Through a symbolic link to the folder too.
    #[cfg(unix)]
    {
        let link = work.path().join("link");
        std::os::unix::fs::symlink(&root, &link).unwrap();
        let output = prodready(
            &[
                "audit",
                root.to_str().unwrap(),
                "--cache-dir",
                link.join("c").to_str().unwrap(),
            ],
            &[],
        );
        assert_eq!(output.status.code(), Some(2));
    }

    // From the environment: one line on standard error, and the audit runs uncached.
    let inside = root.join("cache");
    let root_text = root.to_str().unwrap();
    let environments = [
        ("PRODREADY_CACHE_DIR", inside.to_str().unwrap()),
        ("XDG_CACHE_HOME", root_text),
        // An empty XDG_CACHE_HOME counts as unset.
        ("HOME", root_text),
    ];
    for (key, value) in environments {
        let mut envs = vec![(key, value), ("PRODREADY_TIMINGS", "1")];
        if key == "HOME" {
            envs.push(("XDG_CACHE_HOME", ""));
        }
        let output = prodready(
            &["audit", root.to_str().unwrap(), "--format", "json"],
            &envs,
        );
        assert_eq!(output.stdout, expected.stdout, "{key}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        let said: Vec<&str> = stderr
            .lines()
            .filter(|l| l.contains("inside the audited folder"))
            .collect();
        assert_eq!(said.len(), 1, "{key}: {stderr}");
        assert!(said[0].contains("running uncached"), "{stderr}");
        assert_eq!(Counts::of(&output), Counts::default(), "{key}");
        assert!(!inside.exists() && !root.join("prodready").exists());
        assert!(!root.join(".cache").exists());
    }
}

#[test]
fn the_environment_chooses_the_directory_and_no_cache_writes_nothing() {
    let work = tempfile::tempdir().unwrap();
    let root = sample("fixtures/production-service");
    let root = root.to_str().unwrap();
    let from_env = work.path().join("env");
    let output = prodready(
        &["audit", root, "-q"],
        &[("PRODREADY_CACHE_DIR", from_env.to_str().unwrap())],
    );
    assert!(matches!(output.status.code(), Some(0 | 1)));
    cache_file(&from_env);

    let xdg = work.path().join("xdg");
    prodready(
        &["audit", root, "-q"],
        &[("XDG_CACHE_HOME", xdg.to_str().unwrap())],
    );
    cache_file(&xdg.join("prodready"));

    let home = work.path().join("home");
    prodready(
        &["audit", root, "-q"],
        &[("HOME", home.to_str().unwrap()), ("XDG_CACHE_HOME", "")],
    );
    cache_file(&home.join(".cache/prodready"));

    let unused = work.path().join("unused");
    prodready(
        &["audit", root, "-q", "--no-cache"],
        &[("PRODREADY_CACHE_DIR", unused.to_str().unwrap())],
    );
    assert!(!unused.exists(), "--no-cache writes nothing");
}

#[test]
fn an_audit_removes_the_cache_files_no_audit_wrote_for_thirty_days() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("cache");
    std::fs::create_dir(&dir).unwrap();
    let now = std::time::SystemTime::now();
    let plant = |name: &str, days: u64| {
        let path = dir.join(name);
        let file = std::fs::File::create(&path).unwrap();
        file.set_modified(now - std::time::Duration::from_secs(days * 24 * 60 * 60))
            .unwrap();
        path
    };
    let unused = plant("v1-00000000000000000000000000000000.json", 31);
    let recent = plant("v1-11111111111111111111111111111111.json", 29);
    let not_ours = plant("notes.txt", 365);

    let (output, counts) = audit(&sample("fixtures/pilot-service"), "json", Some(&dir), "2");
    assert!(counts.misses > 0, "{counts:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("; 1 old cache files removed"), "{stderr}");
    assert!(
        !unused.exists(),
        "a cache file unused for 31 days is removed"
    );
    assert!(recent.exists(), "one written 29 days ago is kept");
    assert!(
        not_ours.exists(),
        "a file prodready did not name is never touched"
    );
    let (output, counts) = audit(&sample("fixtures/pilot-service"), "json", Some(&dir), "2");
    assert!(
        counts.hits > 0,
        "the audit's own cache file is kept: {counts:?}"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("; 0 old cache files removed"), "{stderr}");
}

#[cfg(unix)]
#[test]
fn the_cache_directory_is_created_private() {
    use std::os::unix::fs::PermissionsExt;
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("a/b/prodready");
    audit(&sample("fixtures/pilot-service"), "json", Some(&dir), "2");
    for created in [work.path().join("a"), work.path().join("a/b"), dir.clone()] {
        let mode = std::fs::metadata(&created).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{}", created.display());
    }
    let file = cache_file(&dir);
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode & 0o077, 0, "only the owner reads the cache file");

    // A directory that cannot be created: one warning, the audit goes on uncached.
    let blocker = work.path().join("file");
    std::fs::write(&blocker, "not a folder").unwrap();
    let (expected, _) = audit(&sample("fixtures/pilot-service"), "json", None, "2");
    let (output, counts) = audit(
        &sample("fixtures/pilot-service"),
        "json",
        Some(&blocker.join("cache")),
        "2",
    );
    assert_eq!(output.stdout, expected.stdout);
    assert_eq!(counts, Counts::default());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr
            .lines()
            .filter(|l| l.contains("cannot create the cache directory"))
            .count(),
        1,
        "{stderr}"
    );
}

#[test]
fn a_file_with_a_secret_is_never_cached() {
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("repo");
    let token = expand("ghp_{b62:30}{crc}", "cache-secret");
    let password = expand("{b62:24}", "cache-password");
    let constant = expand("{b62:28}", "cache-constant");
    let files = [
        (
            "Cargo.toml",
            "[package]\nname = \"svc\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\nprometheus = \"0.13\"\n".to_string(),
        ),
        ("src/main.rs", "fn main() {\n    println!(\"hello\");\n}\n".to_string()),
        ("src/token.rs", format!("pub const TOKEN: &str = \"{token}\";\n")),
        ("config/app.yaml", format!("database:\n  password: {password}\n")),
        // Not a detected secret, but a random string kept whole in the metric facts.
        (
            "src/metrics.rs",
            format!(
                "use prometheus::register_int_counter;\n\npub const NAME: &str = \"requests_total\";\npub const ODD: &str = \"{constant}\";\n\npub fn register() {{\n    register_int_counter!(NAME, \"requests\").unwrap();\n}}\n"
            ),
        ),
    ];
    for (path, text) in &files {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let dir = work.path().join("cache");
    let (cold, counts) = audit(&root, "json", Some(&dir), "2");
    assert_eq!(counts.not_cacheable, 3, "{counts:?}");
    assert_eq!(counts.misses, 2, "{counts:?}");
    let cache = std::fs::read_to_string(cache_file(&dir)).unwrap();
    for (what, secret) in [
        ("token", &token),
        ("password", &password),
        ("constant", &constant),
    ] {
        assert!(
            !cache.contains(secret.as_str()),
            "the {what} is in the cache"
        );
        assert!(
            !cache.contains(&secret[..8]),
            "the {what}'s prefix is in the cache"
        );
    }
    assert!(cache.contains("src/main.rs") && !cache.contains("src/token.rs"));
    let (warm, again) = audit(&root, "json", Some(&dir), "2");
    assert_eq!(warm.stdout, cold.stdout);
    assert_eq!(
        again,
        Counts {
            hits: 2,
            misses: 0,
            ..counts
        }
    );
}

/// Every `cache: H hits, ...` line of a run, in order (the working tree's audit, then the
/// merge base's).
fn all_counts(output: &Output) -> Vec<Counts> {
    String::from_utf8_lossy(&output.stderr)
        .lines()
        .filter(|l| l.starts_with("cache: ") && l.contains(" hits ("))
        .map(Counts::parse)
        .collect()
}

#[test]
fn the_merge_base_reads_the_working_trees_cache_and_writes_nothing() {
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("repo");
    copy_dir(&sample("fixtures/production-service"), &root);
    git_in(&root, &["init", "--quiet"]);
    git_in(&root, &["add", "-A"]);
    git_in(&root, &["commit", "--quiet", "-m", "main"]);
    git_in(&root, &["checkout", "--quiet", "-b", "change"]);
    let edited = root.join("src/main.rs");
    let text = std::fs::read_to_string(&edited).unwrap() + "\nfn added() {}\n";
    std::fs::write(&edited, text).unwrap();

    let dir = work.path().join("cache");
    let run = |cache: &[&str]| {
        let mut args = vec!["audit", ".", "--changed-since", "main", "--format", "json"];
        args.extend(cache);
        let mut command = Command::new(env!("CARGO_BIN_EXE_prodready"));
        command
            .args(&args)
            .current_dir(&root)
            .env("PRODREADY_TIMINGS", "1")
            .env_remove("PRODREADY_CACHE_DIR");
        command.output().expect("prodready runs")
    };
    let expected = run(&["--no-cache"]);
    assert!(all_counts(&expected).is_empty());
    let cache_dir = dir.to_str().unwrap();
    let cold = run(&["--cache-dir", cache_dir]);
    assert_eq!(cold.stdout, expected.stdout);
    let counts = all_counts(&cold);
    assert_eq!(counts.len(), 2, "{}", String::from_utf8_lossy(&cold.stderr));
    let (head, base) = (&counts[0], &counts[1]);
    assert_eq!(head.hits, 0);
    // The merge base shares every file but the edited one with the working tree.
    assert_eq!(base.hits, head.misses - 1, "{counts:?}");
    assert_eq!(base.misses, 1, "{counts:?}");
    cache_file(&dir);

    let warm = run(&["--cache-dir", cache_dir]);
    assert_eq!(warm.stdout, expected.stdout);
    let counts = all_counts(&warm);
    assert_eq!(counts[0].misses, 0, "{counts:?}");
    assert_eq!(
        counts[1].misses, 1,
        "the merge base's own file is never written"
    );
    cache_file(&dir);
}

#[test]
fn parsing_every_rust_file_keeps_its_own_cache_file() {
    let root = sample("fixtures/production-service");
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("cache");
    let (gated, _) = audit(&root, "json", Some(&dir), "2");
    let args = [
        "audit",
        root.to_str().unwrap(),
        "--format",
        "json",
        "--cache-dir",
        dir.to_str().unwrap(),
    ];
    let envs = [
        ("PRODREADY_PARSE_EVERY_RUST_FILE", "1"),
        ("PRODREADY_TIMINGS", "1"),
    ];
    let every = prodready(&args, &envs);
    assert_eq!(
        Counts::of(&every).hits,
        0,
        "the gates' switch is part of the key"
    );
    assert_eq!(every.stdout, gated.stdout);
    assert!(Counts::of(&prodready(&args, &envs)).hits > 0);
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 2);
}
