//! What files say, extracted from their parsed forms: the facts project-level rules read.
//! Extractors are pure: they read a file (and the Cargo model) and never run a check; the
//! per-file analysis that calls them is `engine::file`.

pub mod alerts;
pub mod cargo;
pub mod dashboards;
pub mod dockerfile;
pub mod helm;
pub mod imports;
pub mod kubernetes;
pub mod markdown;
pub mod metrics;
pub mod platform;
pub mod releases;
pub mod routes;
pub mod rust;
pub mod settings;
pub mod uses;
pub mod yaml;

use crate::facts::cargo::CargoProject;
use crate::finding::{Finding, Site};
use crate::roles::{self, Role};
use crate::source::{FileKind, Source};
use crate::suppress::Allow;

/// What one file yielded.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct FileFacts {
    pub path: String,
    pub kind: FileKind,
    /// What the file is to the project (`roles`); `#[cfg(test)]` regions are in `rust`. The
    /// per-file analysis decides it from the path, the package and the text; the settling stage
    /// adds reachability and the configuration's overrides.
    pub role: Role,
    pub lines: usize,
    pub findings: Vec<Finding>,
    /// Why the file was not parsed (text-level rules still ran).
    pub not_parsed: Option<String>,
    pub rust: Option<rust::RustFacts>,
    /// Of a Rust file: the module files it can bring into its crate (`rust::token_facts`),
    /// read whether or not it is parsed.
    #[serde(default)]
    pub modules: Option<Vec<String>>,
    /// Of a Rust file: the line of a Prometheus exporter written by hand
    /// (`rust::token_facts`).
    #[serde(default)]
    pub metrics_endpoint: Option<usize>,
    /// Of a configuration file: a setting that limits load (`rate_limit`, `max_concurrency`),
    /// as `key (path:line)`.
    #[serde(default)]
    pub limit_setting: Option<String>,
    /// Of a Dockerfile: the line of its `HEALTHCHECK` (`dockerfile::healthcheck_line`).
    #[serde(default)]
    pub dockerfile_healthcheck: Option<usize>,
    /// Boxed, as `uses`: most files have neither, and every file's facts are kept to the end.
    pub yaml: Option<Box<yaml::YamlFacts>>,
    /// Of a Helm chart's file: its template, values or `Chart.yaml` (`helm`).
    #[serde(default)]
    pub helm: Option<Box<helm::HelmFile>>,
    pub headings: Option<Vec<markdown::Heading>>,
    /// Of a changelog: its newest released entry (`releases::newest_entry`).
    #[serde(default)]
    pub changelog: Option<releases::Changelog>,
    /// Of a CI configuration file: the line that shows it publishes releases (`releases::release_step`).
    #[serde(default)]
    pub release_step: Option<usize>,
    /// Dashboards the file defines (`dashboards`).
    #[serde(default)]
    pub dashboards: Vec<dashboards::Dashboard>,
    /// Of a manifest, template or Prometheus configuration: the line that shows metrics are
    /// collected (`dashboards::scrape_line`).
    #[serde(default)]
    pub scrape: Option<usize>,
    /// Metrics a Rust file registers (read when OBS or DRF rules run).
    pub metrics: Option<metrics::MetricFacts>,
    /// Alerting and recording rules of a Prometheus rule file.
    pub prometheus_rules: Option<alerts::RuleFile>,
    /// Logging, print and load-limiting uses of a Rust file (read when OBS001 or RES009 run).
    pub uses: Option<Box<uses::CodeUses>>,
    /// The file may show such uses but was not parsed for them: the project phase parses it
    /// only if the rules' verdict depends on it (see `checks::needs_every_use`).
    #[serde(default)]
    pub uses_pending: bool,
    /// Allow comments, each with the OPS006 finding it earns if it proves ineffective.
    pub allows: Vec<(Allow, Site)>,
    /// What was odd about the file but did not stop its analysis (a byte-order mark, invalid
    /// UTF-8, settings beyond the cap).
    pub notes: Vec<String>,
    /// Why its analysis is incomplete, if it is: a step that panicked, the time budget.
    pub not_analysed: Vec<String>,
    /// Secret detection found a secret in the file: its facts are never cached (see `cache`).
    #[serde(skip)]
    pub secrets_detected: bool,
}

impl FileFacts {
    pub fn new(source: &Source, kind: FileKind) -> FileFacts {
        FileFacts {
            path: source.path.clone(),
            kind,
            role: roles::of_path(&source.path),
            lines: source.line_count(),
            findings: Vec::new(),
            not_parsed: None,
            rust: None,
            modules: None,
            metrics_endpoint: None,
            limit_setting: None,
            dockerfile_healthcheck: None,
            yaml: None,
            helm: None,
            headings: None,
            changelog: None,
            release_step: None,
            dashboards: Vec::new(),
            scrape: None,
            metrics: None,
            prometheus_rules: None,
            uses: None,
            uses_pending: false,
            allows: Vec::new(),
            notes: Vec::new(),
            not_analysed: Vec::new(),
            secrets_detected: false,
        }
    }
}

/// Files larger than this get the text-level rules only: parsing them would cost more time and
/// memory than any real source or configuration file needs.
pub const MAX_PARSED_SIZE: usize = 4 * 1024 * 1024;

/// Why a file of `len` bytes is not parsed, when it is larger than `MAX_PARSED_SIZE`.
pub fn too_large(len: usize) -> Option<String> {
    (len > MAX_PARSED_SIZE).then(|| {
        format!(
            "larger than {} MiB ({len} bytes): text-level rules only",
            MAX_PARSED_SIZE / (1024 * 1024)
        )
    })
}

/// The metric crates a Rust file's package depends on (renamed dependencies resolved).
pub fn metric_crates(cargo: &CargoProject, path: &str) -> metrics::Available {
    let Some(manifest) = cargo.manifest_for(path) else {
        return metrics::Available::default();
    };
    let depends = |name: &str| manifest.dependency_packages().iter().any(|p| p == name);
    metrics::Available {
        prometheus: depends("prometheus"),
        prometheus_client: depends("prometheus-client"),
        metrics: depends("metrics"),
        opentelemetry: depends("opentelemetry"),
    }
}

/// The words the fact extractors' gates look for (see `engine::file`).
pub fn gate_words() -> Vec<String> {
    let words = rust::gate_words().into_iter().chain(uses::gate_words());
    let words = words.chain(metrics::registration_words());
    words.chain(METRIC_CRATES.map(String::from)).collect()
}

/// The crates whose paths `metrics::extract` reads.
pub const METRIC_CRATES: [&str; 4] = [
    "prometheus",
    "prometheus_client",
    "metrics",
    "opentelemetry",
];
