//! What each file is to the project: the running service's code and configuration, or test,
//! example, bench, CI, development tooling, docs, generated, vendored or unreachable code.
//!
//! A role is decided once per file, from its path, the Cargo model (build scripts, `xtask`,
//! cargo-fuzz and test-support packages), markers in its text (`@generated`) and the module
//! tree (a `.rs` file no crate root reaches), and the configuration's `[roles]` can correct it.
//! A role sets how a finding is judged (see `Judged`), never what counts as evidence: a runbook
//! in `docs/` is still a runbook.

use serde::{Deserialize, Serialize};

use crate::facts::cargo::CargoProject;
use crate::finding::SecretValue;
use crate::registry::{Rule, TestCodePolicy};

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// The service itself: its code, configuration and manifests.
    #[default]
    Production,
    Test,
    Example,
    Bench,
    /// CI configuration and what only CI uses.
    Ci,
    /// Development tooling: build scripts, `xtask`, dev scripts and dev-only compose files.
    Tooling,
    Docs,
    /// Written by a generator (`@generated`): fixed by changing the generator, not the file.
    Generated,
    /// Third-party code kept in the repository.
    Vendored,
    /// A Rust source file that no crate root reaches through `mod`, `#[path]` or `include!`.
    Unreachable,
}

impl Role {
    pub const ALL: [Role; 10] = [
        Role::Production,
        Role::Test,
        Role::Example,
        Role::Bench,
        Role::Ci,
        Role::Tooling,
        Role::Docs,
        Role::Generated,
        Role::Vendored,
        Role::Unreachable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Production => "production",
            Role::Test => "test",
            Role::Example => "example",
            Role::Bench => "bench",
            Role::Ci => "ci",
            Role::Tooling => "tooling",
            Role::Docs => "docs",
            Role::Generated => "generated",
            Role::Vendored => "vendored",
            Role::Unreachable => "unreachable",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == text)
    }

    /// How a report names code of this role beside a finding it demoted.
    pub fn describe(self) -> &'static str {
        match self {
            // A test region of a production file.
            Role::Production | Role::Test => "test code",
            Role::Example => "example code",
            Role::Bench => "bench code",
            Role::Ci => "CI configuration",
            Role::Tooling => "development tooling",
            Role::Docs => "docs",
            Role::Generated => "generated code",
            Role::Vendored => "vendored code",
            Role::Unreachable => "unreachable code",
        }
    }

    /// Test, example and bench code: what `#[cfg(test)]` regions are too.
    pub fn is_test_like(self) -> bool {
        matches!(self, Role::Test | Role::Example | Role::Bench)
    }
}

/// A `[roles]` entry of the configuration: files matching `glob` have `role`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleOverride {
    pub role: Role,
    pub glob: String,
    pub reason: String,
}

impl RoleOverride {
    /// How specific the glob is: its literal characters (not `*`, `?`, `[`, `]`, `{`, `}`).
    fn specificity(&self) -> usize {
        self.glob
            .chars()
            .filter(|c| !matches!(c, '*' | '?' | '[' | ']' | '{' | '}'))
            .count()
    }
}

/// The configuration's role overrides, compiled: a path takes the role of the most specific
/// glob that matches it (the first written, of equally specific ones). A glob follows
/// `exclude`: `dir`, `dir/` and `dir/**` all mean the folder.
pub struct Overrides<'a> {
    entries: Vec<(&'a RoleOverride, globset::GlobMatcher, globset::GlobMatcher)>,
}

impl<'a> Overrides<'a> {
    /// Globs were checked when the configuration was read; one that fails here matches nothing.
    pub fn new(overrides: &'a [RoleOverride]) -> Overrides<'a> {
        let matcher = |glob: &str| {
            globset::Glob::new(glob)
                .unwrap_or_else(|_| globset::Glob::new("\u{0}").expect("a literal glob"))
                .compile_matcher()
        };
        let mut entries: Vec<_> = overrides
            .iter()
            .map(|o| {
                let trimmed = o.glob.trim_end_matches('/');
                (o, matcher(trimmed), matcher(&format!("{trimmed}/**")))
            })
            .collect();
        // Most specific first; a stable sort keeps the written order among equals.
        entries.sort_by_key(|(o, _, _)| std::cmp::Reverse(o.specificity()));
        Overrides { entries }
    }

    /// The override that sets a path's role, if one does.
    pub fn find(&self, path: &str) -> Option<&'a RoleOverride> {
        self.entries
            .iter()
            .find(|(_, glob, folder)| glob.is_match(path) || folder.is_match(path))
            .map(|(o, _, _)| *o)
    }
}

/// How a rule's findings outside production code are judged: the rule's TOML says
/// (`outside_production`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutsideProduction {
    /// As the rule's `test_code` says: not reported, or reported at `low` failing nothing.
    #[default]
    TestCodePolicy,
    /// Secrets: in test, example, bench, generated, vendored and unreachable code, as the
    /// `test_code` policy says; in CI, tooling and docs files, a value that cannot be real (a
    /// placeholder, a local host, a CI service container's password, a sample) is reported at
    /// `low` failing nothing, and any other keeps its severity: a real token in a deploy
    /// workflow or a README is a leak.
    SamplesDemoted,
    /// The finding is about the file's own content (a CODEOWNERS gap, a runbook's missing
    /// section): it keeps its severity in any file.
    Keep,
}

/// How one finding is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Judged {
    /// As production code: it keeps its severity and fails its item.
    Production,
    /// Reported at `low`, failing nothing.
    Demoted,
    /// Not reported.
    Dropped,
}

/// How a finding of `rule` in a file of `role` is judged, given what is known of its value.
pub fn judge(rule: &Rule, role: Role, value: SecretValue) -> Judged {
    let samples = rule.outside_production == OutsideProduction::SamplesDemoted;
    match (role, rule.outside_production, value) {
        // An issued credential fails its item anywhere.
        (_, _, SecretValue::Issued) if rule.test_code == TestCodePolicy::ReportLow => {
            Judged::Production
        }
        (_, _, SecretValue::Local | SecretValue::FormatExample) if samples => Judged::Demoted,
        (Role::Production, ..) | (_, OutsideProduction::Keep, _) => Judged::Production,
        (Role::Ci | Role::Tooling | Role::Docs, OutsideProduction::SamplesDemoted, value) => {
            if value == SecretValue::Sample {
                Judged::Demoted
            } else {
                Judged::Production
            }
        }
        _ => match rule.test_code {
            TestCodePolicy::Ignore => Judged::Dropped,
            TestCodePolicy::ReportLow => Judged::Demoted,
        },
    }
}

/// Folders whose content is test code, wherever they sit below the audited root.
const TEST_DIRS: [&str; 10] = [
    "tests",
    "test",
    "testing",
    "fixtures",
    "testdata",
    "test-data",
    "test_data",
    "e2e",
    "integration-tests",
    "integration_tests",
];

/// Folders of examples; also any folder whose name starts with `example` or `sample`
/// (`example_configs`, `examples-k8s`).
const EXAMPLE_DIRS: [&str; 7] = [
    "recipes",
    "cookbook",
    "tutorial",
    "tutorials",
    "demo",
    "demos",
    "quickstart",
];
const BENCH_DIRS: [&str; 4] = ["benches", "bench", "benchmarks", "benchmark"];
const VENDOR_DIRS: [&str; 4] = ["vendor", "vendored", "third_party", "third-party"];
const DOCS_DIRS: [&str; 4] = ["docs", "doc", "documentation", "book"];
const TOOLING_DIRS: [&str; 8] = [
    "dev",
    "scripts",
    "script",
    "hack",
    "tools",
    "xtask",
    "devtools",
    ".devcontainer",
];
/// CI folders at the root of the audited tree (`ci/`, `.ci/`) or of any folder.
const CI_DIRS: [&str; 6] = [
    ".circleci",
    ".buildkite",
    ".woodpecker",
    ".gitlab-ci",
    "ci",
    ".ci",
];
/// CI configuration files, by name.
const CI_FILES: [&str; 9] = [
    ".gitlab-ci.yml",
    ".gitlab-ci.yaml",
    ".travis.yml",
    ".drone.yml",
    ".woodpecker.yml",
    "bitbucket-pipelines.yml",
    "appveyor.yml",
    "cloudbuild.yaml",
    "Jenkinsfile",
];

/// The role a path alone gives a file (`Production` when it says nothing).
pub fn of_path(path: &str) -> Role {
    let mut parts: Vec<&str> = path.split('/').collect();
    let file = parts.pop().unwrap_or_default();
    let dirs = parts;
    let any_dir = |names: &[&str]| dirs.iter().any(|d| names.contains(d));
    let lower = file.to_ascii_lowercase();
    if any_dir(&VENDOR_DIRS) {
        Role::Vendored
    } else if any_dir(&["generated"]) || lower.ends_with(".pb.rs") || lower.contains(".generated.")
    {
        Role::Generated
    } else if is_ci_path(&dirs, file) {
        Role::Ci
    } else if any_dir(&TEST_DIRS) || dirs.iter().any(|d| test_dir_name(d)) || test_file(file) {
        Role::Test
    } else if any_dir(&BENCH_DIRS) {
        Role::Bench
    } else if any_dir(&EXAMPLE_DIRS) || dirs.iter().any(|d| example_dir(d)) || example_file(&lower)
    {
        Role::Example
    } else if any_dir(&TOOLING_DIRS) || development_file(&lower) || tooling_file(&lower) {
        Role::Tooling
    } else if any_dir(&DOCS_DIRS) || docs_file(&lower) {
        Role::Docs
    } else {
        Role::Production
    }
}

fn is_ci_path(dirs: &[&str], file: &str) -> bool {
    let github = dirs
        .windows(2)
        .any(|w| w[0] == ".github" && matches!(w[1], "workflows" | "actions"));
    let gitlab = dirs.windows(2).any(|w| w[0] == ".gitlab" && w[1] == "ci");
    github
        || gitlab
        || dirs.iter().any(|d| CI_DIRS.contains(d))
        || CI_FILES.contains(&file)
        || file.starts_with("Jenkinsfile")
        || file.starts_with("azure-pipelines")
}

/// `client-integration-tests`, `api_tests`, `test-utils`, `tests-e2e`, `Svix.Tests`, `spec`.
fn test_dir_name(dir: &str) -> bool {
    let lower = dir.to_ascii_lowercase();
    matches!(lower.as_str(), "spec" | "specs" | "__tests__")
        || ["-tests", "_tests", "-test", "_test", ".tests", ".test"]
            .iter()
            .any(|suffix| lower.ends_with(suffix))
        || ["test-", "test_", "tests-", "tests_"]
            .iter()
            .any(|prefix| lower.starts_with(prefix))
}

/// `x_test.go`, `x_tests.rs`, `test_x.py`, `x.test.ts`, `x.spec.ts`, `x_spec.rb`,
/// `WebhookTest.cs`, `ClientTests.java`.
fn test_file(file: &str) -> bool {
    let stem = file.split('.').next().unwrap_or(file);
    let camel_test = ["Test", "Tests"].iter().any(|suffix| {
        stem.strip_suffix(suffix)
            .is_some_and(|head| head.ends_with(|c: char| c.is_ascii_lowercase()))
    });
    stem.ends_with("_test")
        || stem.ends_with("_tests")
        || stem.ends_with("_spec")
        || camel_test
        || stem.starts_with("test_")
        || file.contains(".test.")
        || file.contains(".spec.")
}

fn example_dir(dir: &str) -> bool {
    let lower = dir.to_ascii_lowercase();
    lower.starts_with("example") || lower.starts_with("sample")
}

/// Build scripts, shell and task-runner scripts: run by developers and CI, not the service.
fn tooling_file(lower: &str) -> bool {
    matches!(
        lower,
        "build.rs" | "makefile" | "justfile" | "taskfile.yml" | "taskfile.yaml"
    ) || [".sh", ".bash", ".zsh", ".ps1", ".bat", ".cmd"]
        .iter()
        .any(|ext| lower.ends_with(ext))
}

/// `config.example.toml`, `.env.example`, `settings.sample`, `.env.template`.
fn example_file(lower: &str) -> bool {
    let pieces: Vec<&str> = lower.split('.').collect();
    pieces[1..]
        .iter()
        .any(|p| matches!(*p, "example" | "sample" | "template" | "dist"))
}

/// `development.env`, `.env.development`, `.env.dev`, `.env.local`, `docker-compose.dev.yml`,
/// `compose.override.yaml`.
fn development_file(lower: &str) -> bool {
    let pieces: Vec<&str> = lower.split('.').collect();
    let dev_word = |p: &&str| matches!(*p, "dev" | "development" | "local" | "override");
    pieces.iter().any(dev_word)
        || pieces
            .first()
            .is_some_and(|stem| stem.ends_with("-dev") || stem.ends_with("_dev"))
}

fn docs_file(lower: &str) -> bool {
    [".md", ".markdown", ".mdx", ".rst", ".adoc", ".asciidoc"]
        .iter()
        .any(|ext| lower.ends_with(ext))
}

/// Whether the first lines of a file say a generator wrote it (`@generated`, `Code generated
/// ... DO NOT EDIT`, `This file is automatically generated`).
pub fn generated_marker(text: &str) -> bool {
    let head = text.get(..text.len().min(2048)).unwrap_or_else(|| {
        let end = (0..=2048).rev().find(|&i| text.is_char_boundary(i));
        &text[..end.unwrap_or(0)]
    });
    let head: String = head.lines().take(12).collect::<Vec<_>>().join("\n");
    let lower = head.to_ascii_lowercase();
    head.contains("@generated")
        || (lower.contains("generated") && lower.contains("do not edit"))
        || lower.contains("automatically generated")
        || lower.contains("auto-generated by")
        || lower.contains("autogenerated by")
}

/// The role of a file from its path, its package and its text (not yet its reachability, see
/// `settle`, nor the configuration's overrides).
pub fn of_file(path: &str, cargo: &CargoProject, text: &str) -> Role {
    let by_path = of_path(path);
    if by_path != Role::Production {
        return by_path;
    }
    if crate::project::is_build_script(path, cargo) {
        return Role::Tooling;
    }
    if let Some(manifest) = cargo.manifest_for(path)
        && manifest.role != Role::Production
    {
        return manifest.role;
    }
    if generated_marker(text) {
        return Role::Generated;
    }
    Role::Production
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_give_roles() {
        let cases = [
            ("src/main.rs", Role::Production),
            ("deploy/deployment.yaml", Role::Production),
            (".github/workflows/ci.yml", Role::Ci),
            (".circleci/config.yml", Role::Ci),
            ("ci/dummy-gcp-credentials.json", Role::Ci),
            (".gitlab-ci.yml", Role::Ci),
            ("client-integration-tests/docker-compose.yml", Role::Test),
            ("tests/it.rs", Role::Test),
            ("src/parser_test.go", Role::Test),
            ("benches/b.rs", Role::Bench),
            ("examples/hello.rs", Role::Example),
            (".env.example", Role::Example),
            ("config/settings.example.toml", Role::Example),
            ("dev/docker-compose.yml", Role::Tooling),
            ("docker-compose.dev.yml", Role::Tooling),
            ("development.env", Role::Tooling),
            ("scripts/run-tests.sh", Role::Tooling),
            ("server/run-tests.sh", Role::Tooling),
            ("example_configs/podman/lldap.container", Role::Example),
            ("recipes/dpo/notebook.py", Role::Example),
            ("build.rs", Role::Tooling),
            ("xtask/src/main.rs", Role::Tooling),
            ("README.md", Role::Docs),
            ("docs/operations/deploy.mdx", Role::Docs),
            ("book/src/troubleshooting.md", Role::Docs),
            ("src/generated/api.rs", Role::Generated),
            ("vendor/foo/src/lib.rs", Role::Vendored),
            // Names that only look like a role's.
            ("src/contest.rs", Role::Production),
            ("src/developer.rs", Role::Production),
            ("src/docs_api.rs", Role::Production),
            ("src/testament/mod.rs", Role::Production),
            ("fixtures", Role::Production),
            ("src/fixtures.rs", Role::Production),
            ("src/latest.rs", Role::Production),
            ("crates/a/examples/x.rs", Role::Example),
            ("crypto/x509/x509_test.cc", Role::Test),
            ("web/app.spec.ts", Role::Test),
            ("ruby/spec/webhook_spec.rb", Role::Test),
            ("csharp/Svix.Tests/WebhookTest.cs", Role::Test),
            ("src/main/java/ClientTests.java", Role::Test),
            ("src/Contest.java", Role::Production),
        ];
        for (path, role) in cases {
            assert_eq!(of_path(path), role, "{path}");
        }
    }

    #[test]
    fn generator_markers_are_read_in_the_first_lines_only() {
        assert!(generated_marker(
            "// This file is @generated by prost-build.\npub struct A {}\n"
        ));
        assert!(generated_marker(
            "// Code generated by protoc-gen-go. DO NOT EDIT.\n"
        ));
        let late = format!("{}// @generated\n", "fn f() {}\n".repeat(20));
        assert!(!generated_marker(&late));
        assert!(!generated_marker("// the generated id is stored here\n"));
    }
}
