//! Project-wide definitions that every rule family shares, written once: which code is test
//! code, where ownership files and runbooks live, and which subjects (a service, a CODEOWNERS,
//! a runbook, ...) are present.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use crate::facts::FileFacts;
use crate::facts::cargo::{CargoProject, DepKind, Manifest};
use crate::registry::Subject;
use crate::roles::{self, Role};

/// Crates whose presence as a (non-dev) dependency makes a project a service.
pub const SERVER_FRAMEWORKS: [&str; 8] = [
    "axum",
    "actix-web",
    "warp",
    "poem",
    "rocket",
    "salvo",
    "tide",
    "ntex",
];

/// HTTP client crates whose timeouts RES004 checks (its `[[data.family]]` entries): their
/// presence makes that rule applicable. A crate it cannot check (surf, awc) must not make it
/// pass for nothing.
pub const HTTP_CLIENTS: [&str; 7] = [
    "reqwest",
    "ureq",
    "hyper",
    "hyper-util",
    "isahc",
    "aws-config",
    "aws-smithy-runtime",
];

/// Crates that call out over the network (`*` ends a prefix): HTTP and gRPC clients, database,
/// cache and message-broker clients, the AWS SDK. Their presence makes RES009 applicable.
pub const NETWORK_CLIENTS: [&str; 36] = [
    "reqwest",
    "ureq",
    "hyper",
    "hyper-util",
    "isahc",
    "surf",
    "awc",
    "attohttpc",
    "tonic",
    "sqlx",
    "diesel",
    "diesel-async",
    "sea-orm",
    "tokio-postgres",
    "postgres",
    "deadpool-postgres",
    "bb8-postgres",
    "mysql",
    "mysql_async",
    "tiberius",
    "mongodb",
    "scylla",
    "redis",
    "deadpool-redis",
    "bb8-redis",
    "fred",
    "rdkafka",
    "kafka",
    "lapin",
    "async-nats",
    "nats",
    "pulsar",
    "elasticsearch",
    "aws-config",
    "aws-sdk-*",
    "aws-smithy-runtime",
];

/// Crates that run a model in-process or call one over an API (`*` ends a prefix). An LLM that
/// classifies tickets drifts like any other model.
pub const MODEL_CRATES: [&str; 22] = [
    "candle-*",
    "tch",
    "ort",
    "tract-*",
    "burn",
    "burn-*",
    "linfa",
    "linfa-*",
    "smartcore",
    "rust-bert",
    "llama-cpp-2",
    "mistralrs",
    "fastembed",
    "async-openai",
    "openai-api-rs",
    "ollama-rs",
    "anthropic",
    "anthropic-*",
    "misanthropy",
    "genai",
    "rig-core",
    "langchain-rust",
];

/// Model artifacts: weights that something in the project loads.
pub const MODEL_ARTIFACTS: [&str; 6] = [".onnx", ".safetensors", ".pt", ".pth", ".gguf", ".ggml"];

/// Crates that export metrics from a process; with them, a service is scraped or pushes.
pub const METRIC_EXPORTERS: [&str; 15] = [
    "prometheus",
    "prometheus-client",
    "metrics-exporter-prometheus",
    "metrics-exporter-statsd",
    "metrics-exporter-dogstatsd",
    "metrics-exporter-otel",
    "opentelemetry-prometheus",
    "autometrics",
    "axum-prometheus",
    "actix-web-prom",
    "cadence",
    "statsd",
    "dogstatsd",
    "metrics-process",
    "tikv-jemalloc-ctl-prometheus",
];

/// Where GitHub and GitLab look for a CODEOWNERS file.
pub const CODEOWNERS_PATHS: [&str; 4] = [
    "CODEOWNERS",
    ".github/CODEOWNERS",
    "docs/CODEOWNERS",
    ".gitlab/CODEOWNERS",
];

/// A runbook: one Markdown file, or a folder of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runbook {
    /// The file, or the folder (`runbooks`, `docs/runbooks`).
    pub location: String,
    /// Its Markdown files.
    pub files: Vec<String>,
}

/// Words that name a runbook, as a file's stem or a folder's name (a folder's may carry a
/// suffix: `runbooks-prod`, `operations-guide`).
const RUNBOOK_WORDS: [&str; 7] = [
    "runbook",
    "operations",
    "troubleshooting",
    "playbook",
    "oncall",
    "on-call",
    "incident-response",
];

/// Documents a runbook can be written in: Markdown, MDX, reStructuredText, AsciiDoc.
const RUNBOOK_FORMATS: [&str; 6] = [".md", ".markdown", ".mdx", ".rst", ".adoc", ".asciidoc"];

/// Runbooks in production paths: `RUNBOOK.md`, `OPERATIONS.md`, `TROUBLESHOOTING.md`, a
/// `runbook(s)/` folder, `docs/runbook*`, `docs/operations*` (files or folders), at any depth
/// (a monorepo keeps one per service), in Markdown, MDX, reStructuredText or AsciiDoc.
pub fn runbooks(paths: &BTreeSet<String>) -> Vec<Runbook> {
    // Every runbook's path names one of these, whatever its case: the others are passed over
    // without allocating, in one pass over each path.
    static NAMED: LazyLock<aho_corasick::AhoCorasick> = LazyLock::new(|| {
        aho_corasick::AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(RUNBOOK_WORDS)
            .expect("runbook words automaton")
    });
    let mut by_location: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for path in paths {
        if !NAMED.is_match(path) || roles::of_path(path).is_test_like() {
            continue;
        }
        let lower = path.to_ascii_lowercase();
        let is_document = RUNBOOK_FORMATS.iter().any(|ext| lower.ends_with(ext));
        let parts: Vec<&str> = lower.split('/').collect();
        let file = parts[parts.len() - 1];
        let stem = file.split('.').next().unwrap_or(file);
        let runbook_word = |name: &str| RUNBOOK_WORDS.iter().any(|w| name.starts_with(w));
        // A runbook folder: `runbook/`, `runbooks/`, or `docs/runbook*/`, `docs/operations*/`.
        let folder = parts[..parts.len() - 1]
            .iter()
            .enumerate()
            .position(|(i, dir)| {
                matches!(*dir, "runbook" | "runbooks")
                    || (i > 0 && parts[i - 1] == "docs" && runbook_word(dir))
            });
        if let Some(index) = folder {
            if is_document {
                let location = path
                    .split('/')
                    .take(index + 1)
                    .collect::<Vec<_>>()
                    .join("/");
                by_location.entry(location).or_default().push(path.clone());
            }
            continue;
        }
        let in_docs = parts.len() >= 2 && parts[parts.len() - 2] == "docs";
        let named = RUNBOOK_WORDS.contains(&stem) || (in_docs && runbook_word(stem));
        if is_document && named {
            by_location
                .entry(path.clone())
                .or_default()
                .push(path.clone());
        }
    }
    by_location
        .into_iter()
        .map(|(location, files)| Runbook { location, files })
        .collect()
}

/// A record of what changed and when, outside test code: a changelog (the root's first),
/// release tool configuration (a root file or a Cargo.toml table), or CI that publishes
/// releases (a version-tag or release trigger, a step that writes release notes).
fn change_record_evidence(
    files: &[FileFacts],
    cargo: &CargoProject,
    paths: &BTreeSet<String>,
) -> Option<String> {
    use crate::facts::releases;
    let kept = |path: &&String| {
        let role = roles::of_path(path);
        !role.is_test_like() && role != Role::Vendored
    };
    let changelog = (paths.iter().filter(kept))
        .filter(|p| releases::is_change_record(p))
        .min_by_key(|p| (p.matches('/').count(), p.as_str()));
    let tool_file = || {
        releases::RELEASE_TOOL_FILES
            .iter()
            .find(|f| paths.contains(**f))
            .map(|f| f.to_string())
    };
    let tool_table = || {
        cargo.production_manifests().find_map(|m| {
            let table = releases::RELEASE_TOOL_TABLES.iter().find(|table| {
                (m.settings.iter()).any(|s| s.keys.len() > 3 && s.keys[..3] == table[..])
            })?;
            Some(format!("[{}] in {}", table.join("."), m.source.path))
        })
    };
    let workflow = || {
        files.iter().find_map(|f| {
            let line = f.release_step?;
            Some(format!("releases published by {}:{line}", f.path))
        })
    };
    (changelog.cloned())
        .or_else(tool_file)
        .or_else(tool_table)
        .or_else(workflow)
}

/// The deployment subjects: manifests that deploy the service, Kubernetes ones, and templated
/// ones this audit does not read.
fn deployment_subjects(files: &[FileFacts], present: &mut BTreeMap<Subject, String>) {
    // Manifests make the DEP rules apply only where they deploy the service: a compose file in
    // `dev/` or a CI job's does not.
    let deploy = files
        .iter()
        .filter(|f| f.role == Role::Production)
        .filter_map(|f| f.yaml.as_ref().map(|y| (f.path.as_str(), &y.deploy)));
    let kubernetes = deploy
        .clone()
        .find_map(|(path, d)| d.kubernetes.map(|line| format!("{path}:{line}")));
    let compose = deploy
        .clone()
        .find_map(|(path, d)| d.compose.map(|line| format!("{path}:{line}")));
    // A Helm chart judged through its values deploys like plain manifests.
    let charts = crate::facts::helm::charts(files);
    let audited_chart = charts
        .iter()
        .filter(|c| c.not_audited.is_none())
        .find(|c| c.templates.iter().any(|(_, t)| !t.workloads.is_empty()))
        .map(|c| format!("Helm chart `{}` ({})", c.name, c.path));
    let kubernetes = kubernetes.or(audited_chart);
    if let Some(evidence) = kubernetes.clone().or(compose) {
        present.insert(Subject::DeploymentManifests, evidence);
    }
    if let Some(evidence) = kubernetes {
        present.insert(Subject::KubernetesManifests, evidence);
    }
    let unaudited_chart = charts
        .iter()
        .find(|c| c.not_audited.is_some())
        .map(|c| c.path);
    let templated = (deploy.clone())
        .filter(|(path, _)| !crate::facts::helm::read_through_chart(path, &charts))
        .find(|(_, d)| d.templated)
        .map(|(p, _)| p);
    if let Some(path) = unaudited_chart.or(templated) {
        present.insert(Subject::TemplatedManifests, path.to_string());
    }
}

/// The subjects present in the project, each with the evidence that shows it.
pub fn subjects(
    files: &[FileFacts],
    cargo: &CargoProject,
    paths: &BTreeSet<String>,
) -> BTreeMap<Subject, String> {
    let mut present = BTreeMap::new();
    present.insert(Subject::Always, String::new());
    if let Some(m) = cargo
        .production_manifests()
        .find(|m| m.package.is_some() || m.workspace.is_some())
    {
        present.insert(Subject::CargoProject, m.source.path.clone());
    }
    if let Some(path) = CODEOWNERS_PATHS.iter().find(|p| paths.contains(**p)) {
        present.insert(Subject::Codeowners, path.to_string());
    }
    if let Some(runbook) = runbooks(paths).first() {
        present.insert(Subject::Runbook, runbook.location.clone());
    }
    if let Some(evidence) = change_record_evidence(files, cargo, paths) {
        present.insert(Subject::ChangeRecord, evidence);
    }
    if let Some(file) = files
        .iter()
        .find(|f| f.kind == crate::source::FileKind::Rust && f.role == Role::Production)
    {
        present.insert(Subject::RustCode, file.path.clone());
    }
    if let Some((client, manifest)) = HTTP_CLIENTS
        .iter()
        .find_map(|c| cargo.depends_on(c).map(|m| (c, m)))
    {
        present.insert(
            Subject::HttpClient,
            format!("depends on {client} ({})", manifest.source.path),
        );
    }
    if let Some(manifest) = cargo
        .production_manifests()
        .find(|m| m.package.as_ref().is_some_and(|p| p.has_bin))
    {
        present.insert(
            Subject::Binary,
            format!("binary target ({})", manifest.source.path),
        );
    }
    if let Some((client, manifest)) = depends_on_any(cargo, &NETWORK_CLIENTS) {
        present.insert(
            Subject::NetworkClient,
            format!("depends on {client} ({manifest})"),
        );
    }
    deployment_subjects(files, &mut present);
    if let Some(evidence) = service_evidence(files, cargo) {
        present.insert(Subject::Service, evidence);
    }
    if let Some(evidence) = model_evidence(cargo, paths) {
        present.insert(Subject::Model, evidence);
    }
    if let Some(evidence) = metrics_evidence(files, cargo) {
        present.insert(Subject::Metrics, evidence);
    }
    if let Some(file) = files.iter().find(|f| {
        !f.role.is_test_like()
            && f.prometheus_rules
                .as_ref()
                .is_some_and(|r| !r.alerts.is_empty())
    }) {
        present.insert(Subject::AlertingRules, file.path.clone());
    }
    if let Some((file, dashboard)) = (files.iter().filter(|f| !f.role.is_test_like()))
        .find_map(|f| Some((f, f.dashboards.first()?)))
    {
        let line = dashboard.site.span.start_line;
        present.insert(
            Subject::Dashboard,
            format!("{} ({}:{line})", dashboard.what, file.path),
        );
    }
    present
}

/// A production dependency whose package matches one of `names` (`*` ends a prefix), with
/// the manifest that declares it.
pub fn depends_on_any<'a>(cargo: &'a CargoProject, names: &[&str]) -> Option<(String, &'a str)> {
    depends_on_any_in(cargo, cargo.production_manifests(), names)
}

/// Whether `package` is one of `names` (`*` ends a prefix).
pub fn matches_any(package: &str, names: &[&str]) -> bool {
    names.iter().any(|name| match name.strip_suffix('*') {
        Some(prefix) => package.starts_with(prefix),
        None => package == *name,
    })
}

fn depends_on_any_in<'a>(
    cargo: &'a CargoProject,
    mut manifests: impl Iterator<Item = &'a crate::facts::cargo::Manifest>,
    names: &[&str],
) -> Option<(String, &'a str)> {
    let matches = |package: &str| matches_any(package, names);
    manifests.find_map(|manifest| {
        manifest
            .dependencies
            .iter()
            .map(|d| cargo.resolve(manifest, d))
            .find(|d| d.kind != DepKind::Dev && matches(&d.package))
            .map(|d| (d.package.clone(), manifest.source.path.as_str()))
    })
}

/// A model crate a production package uses, with its manifest. The packages of such crates
/// themselves (candle-core depending on candle-kernels) are libraries, not model users.
pub fn model_dependency(cargo: &CargoProject) -> Option<(String, &str)> {
    let users = cargo.production_manifests().filter(|m| {
        !m.package
            .as_ref()
            .is_some_and(|p| matches_any(&p.name, &MODEL_CRATES))
    });
    depends_on_any_in(cargo, users, &MODEL_CRATES)
}

/// Why the project runs a model, if it does: an inference or LLM client crate, or a model
/// artifact outside test code.
fn model_evidence(cargo: &CargoProject, paths: &BTreeSet<String>) -> Option<String> {
    if let Some((package, manifest)) = model_dependency(cargo) {
        return Some(format!("depends on {package} ({manifest})"));
    }
    paths
        .iter()
        .find(|p| {
            let lower = p.to_ascii_lowercase();
            MODEL_ARTIFACTS.iter().any(|ext| lower.ends_with(ext))
                && !roles::of_path(p).is_test_like()
        })
        .map(|p| format!("model artifact {p}"))
}

/// Why the project emits metrics, if it does: production code that registers one, or a
/// metrics exporter dependency.
fn metrics_evidence(files: &[FileFacts], cargo: &CargoProject) -> Option<String> {
    for file in files.iter().filter(|f| !f.role.is_test_like()) {
        let Some(metrics) = &file.metrics else {
            continue;
        };
        let in_test = |line| file.rust.as_ref().is_some_and(|r| r.is_test_line(line));
        if let Some(metric) = metrics.emitted.iter().find(|m| !in_test(m.line)) {
            return Some(format!(
                "registers a metric ({}:{})",
                file.path, metric.line
            ));
        }
    }
    let by_hand = files
        .iter()
        .filter(|f| f.role == Role::Production)
        .find_map(|f| Some((f.path.as_str(), f.metrics_endpoint?)));
    if let Some((path, line)) = by_hand {
        return Some(format!("serves metrics ({path}:{line})"));
    }
    depends_on_any(cargo, &METRIC_EXPORTERS)
        .map(|(package, manifest)| format!("depends on {package} ({manifest})"))
}

/// Why the project is a service, if it is one: a server framework dependency, a server API in
/// use, a worker loop in a binary, or a workload that runs it.
fn service_evidence(files: &[FileFacts], cargo: &CargoProject) -> Option<String> {
    for manifest in cargo.production_manifests() {
        for dep in &manifest.dependencies {
            let dep = cargo.resolve(manifest, dep);
            if dep.kind != DepKind::Dev && SERVER_FRAMEWORKS.contains(&dep.package.as_str()) {
                return Some(format!(
                    "depends on {} ({})",
                    dep.package, manifest.source.path
                ));
            }
        }
    }
    let production = files.iter().filter(|f| f.role == Role::Production);
    for file in production.clone() {
        if let Some((line, api)) = file.rust.as_ref().and_then(|r| r.server_use.as_ref()) {
            return Some(format!("uses {api} ({}:{line})", file.path));
        }
    }
    for file in production.clone() {
        let Some(line) = file.rust.as_ref().and_then(|r| r.accept_loop) else {
            continue;
        };
        let binary_package = cargo
            .manifest_for(&file.path)
            .is_some_and(|m| m.package.as_ref().is_some_and(|p| p.has_bin));
        if binary_package {
            return Some(format!(
                "accepts connections in a loop ({}:{line})",
                file.path
            ));
        }
    }
    for file in production.clone() {
        let Some(line) = file.rust.as_ref().and_then(|r| r.worker_loop) else {
            continue;
        };
        if is_binary_source(&file.path, cargo) {
            return Some(format!(
                "long-running loop in a binary ({}:{line})",
                file.path
            ));
        }
    }
    for file in production {
        if let Some(yaml) = &file.yaml {
            if let Some((kind, line)) = yaml.workloads.first() {
                return Some(format!("Kubernetes {kind} ({}:{line})", file.path));
            }
            if let Some((name, line)) = yaml.built_services.first() {
                return Some(format!(
                    "compose service `{name}` built here ({}:{line})",
                    file.path
                ));
            }
        }
    }
    None
}

/// The production packages that are the service, the likeliest first: those whose own files
/// serve (a server API in use, a worker loop in a binary), that depend on a server framework,
/// or binaries built on such a package of the workspace. They are ranked by that evidence, a
/// binary target, being the workspace's root package, and a name that says server or says tool:
/// a CLI or a tool beside the service ranks last.
pub fn service_packages<'a>(files: &[FileFacts], cargo: &'a CargoProject) -> Vec<&'a Manifest> {
    let serving = serving_packages(files, cargo);
    let framework = |m: &Manifest| {
        m.dependencies.iter().any(|d| {
            let d = cargo.resolve(m, d);
            d.kind != DepKind::Dev && SERVER_FRAMEWORKS.contains(&d.package.as_str())
        })
    };
    let direct = |m: &Manifest| framework(m) || serving.contains_key(m.source.path.as_str());
    let mut ranked: Vec<((bool, i32), &Manifest)> = cargo
        .production_manifests()
        .filter_map(|m| {
            let package = m.package.as_ref()?;
            let built_on = package.has_bin && !direct(m) && builds_on(cargo, m, &direct);
            if !direct(m) && !built_on {
                return None;
            }
            let name = package.name.to_ascii_lowercase();
            let says = |words: &[&str]| words.iter().any(|w| name.contains(w));
            let rank = 3 * i32::from(framework(m))
                + serving.get(m.source.path.as_str()).copied().unwrap_or(0)
                + 2 * i32::from(built_on)
                + 2 * i32::from(m.dir.is_empty())
                + 2 * i32::from(says(&["server", "service", "gateway", "api", "daemon"]))
                - 4 * i32::from(says(&TOOL_WORDS));
            // Only a binary runs: a library ranks after every binary.
            Some(((package.has_bin, rank), m))
        })
        .collect();
    // A stable sort keeps path order among equals.
    ranked.sort_by_key(|(rank, _)| std::cmp::Reverse(*rank));
    ranked.into_iter().map(|(_, m)| m).collect()
}

/// Words in a package's name that say it is a tool beside the service.
const TOOL_WORDS: [&str; 13] = [
    "cli",
    "fuzz",
    "test",
    "bench",
    "tool",
    "example",
    "bridge",
    "proxy",
    "generator",
    "codegen",
    "migrat",
    "xtask",
    "seed",
];

/// Packages whose own production files serve, by manifest path: 3 for a server API in use, 1
/// for a worker loop in a binary.
fn serving_packages<'a>(files: &[FileFacts], cargo: &'a CargoProject) -> BTreeMap<&'a str, i32> {
    let mut serving: BTreeMap<&str, i32> = BTreeMap::new();
    for file in files.iter().filter(|f| f.role == Role::Production) {
        let Some(rust) = &file.rust else { continue };
        let evidence = if rust.server_use.is_some() || rust.accept_loop.is_some() {
            3
        } else if rust.worker_loop.is_some() && is_binary_source(&file.path, cargo) {
            1
        } else {
            continue;
        };
        if let Some(manifest) = cargo.manifest_for(&file.path) {
            let best = serving.entry(manifest.source.path.as_str()).or_default();
            *best = (*best).max(evidence);
        }
    }
    serving
}

/// Whether a package depends, through the workspace's own packages, on one that `serves`.
fn builds_on(cargo: &CargoProject, start: &Manifest, serves: &dyn Fn(&Manifest) -> bool) -> bool {
    let by_name: BTreeMap<&str, &Manifest> = cargo
        .production_manifests()
        .filter_map(|m| Some((m.package.as_ref()?.name.as_str(), m)))
        .collect();
    let mut seen = BTreeSet::new();
    let mut stack = vec![start];
    while let Some(manifest) = stack.pop() {
        for dep in &manifest.dependencies {
            let dep = cargo.resolve(manifest, dep);
            if dep.kind == DepKind::Dev || !seen.insert(dep.package.as_str()) {
                continue;
            }
            if let Some(&next) = by_name.get(dep.package.as_str()) {
                if serves(next) {
                    return true;
                }
                stack.push(next);
            }
        }
    }
    false
}

/// Where a finding about the whole project stands: the likeliest service package's manifest,
/// else the workspace root's manifest, else none (the audited folder). Never a library or a
/// CLI that cannot be the service.
pub fn service_anchor(files: &[FileFacts], cargo: &CargoProject) -> Option<String> {
    if let Some(manifest) = service_packages(files, cargo).first() {
        return Some(manifest.source.path.clone());
    }
    cargo
        .production_manifests()
        .filter(|m| m.workspace.is_some() || m.dir.is_empty())
        .min_by_key(|m| m.dir.matches('/').count() + usize::from(!m.dir.is_empty()))
        .map(|m| m.source.path.clone())
}

/// A package's build script: `build.rs` beside a production manifest. It runs at compile time,
/// never in production.
pub fn is_build_script(path: &str, cargo: &CargoProject) -> bool {
    let dir = match path.strip_suffix("build.rs") {
        Some("") => "",
        Some(dir) => match dir.strip_suffix('/') {
            Some(dir) => dir,
            None => return false,
        },
        None => return false,
    };
    cargo.package_in(dir).is_some()
}

/// A file of a binary target: `src/main.rs`, `src/bin/**`, or any file of a package that has a
/// binary and no library (its modules run only inside that binary).
pub fn is_binary_source(path: &str, cargo: &CargoProject) -> bool {
    cargo.packages_above(path).any(|m| {
        let Some(package) = m.package.as_ref().filter(|p| p.has_bin) else {
            return false;
        };
        let rel = if m.dir.is_empty() {
            path
        } else {
            &path[m.dir.len() + 1..]
        };
        rel == "src/main.rs"
            || rel.starts_with("src/bin/")
            || (!package.has_lib && rel.starts_with("src/"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_sources_are_found_through_every_package_above_them() {
        use crate::facts::cargo::Manifest;
        use crate::source::Source;
        let files: BTreeSet<String> = [
            "src/lib.rs",
            "svc/src/main.rs",
            "tool/src/main.rs",
            "tool/src/lib.rs",
        ]
        .map(String::from)
        .into();
        let manifest = |path: &str, name: &str| {
            let text = format!("[package]\nname = \"{name}\"\n");
            Manifest::parse(Source::new(path, text), &files).unwrap()
        };
        let cargo = CargoProject::new(
            vec![
                manifest("Cargo.toml", "root"),
                manifest("svc/Cargo.toml", "svc"),
                manifest("tool/Cargo.toml", "tool"),
            ],
            Default::default(),
        );
        for (path, binary) in [
            ("svc/src/main.rs", true),
            ("svc/src/handler.rs", true),
            ("tool/src/main.rs", true),
            ("tool/src/bin/x.rs", true),
            ("tool/src/util.rs", false),
            ("src/lib.rs", false),
            ("svcx/src/main.rs", false),
        ] {
            assert_eq!(is_binary_source(path, &cargo), binary, "{path}");
        }
    }

    #[test]
    fn runbook_locations() {
        let paths: BTreeSet<String> = [
            "RUNBOOK.md",
            "docs/operations-guide.md",
            "runbooks/deploy.md",
            "runbooks/rollback.md",
            "docs/runbooks/x/alerts.md",
            "docs/architecture.md",
            "tests/RUNBOOK.md",
            "svc/OPERATIONS.md",
            "svc/Incident-Response.md",
        ]
        .into_iter()
        .map(String::from)
        .collect();
        let found: Vec<_> = runbooks(&paths)
            .into_iter()
            .map(|r| (r.location, r.files.len()))
            .collect();
        assert_eq!(
            found,
            vec![
                ("RUNBOOK.md".to_string(), 1),
                ("docs/operations-guide.md".to_string(), 1),
                ("docs/runbooks".to_string(), 1),
                ("runbooks".to_string(), 2),
                ("svc/Incident-Response.md".to_string(), 1),
                ("svc/OPERATIONS.md".to_string(), 1),
            ]
        );
    }
}
