//! The rule set as data: every `rules/<CODE>-<name>.toml`, embedded at build time.
//!
//! This is the only place rule metadata lives. `explain`, `rules`, the checklist and every
//! output format read it from here; check code refers to rules by code only.

use std::{fmt, sync::LazyLock};

use serde::{Deserialize, Serialize};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/rule_files.rs"));
}

/// How bad a finding is. Ordered from least to most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 4] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
    ];

    /// Checklist weight, as OpenSSF Scorecard weighs its checks.
    pub fn weight(self) -> f64 {
        match self {
            Severity::Critical => 10.0,
            Severity::High => 7.5,
            Severity::Medium => 5.0,
            Severity::Low => 2.5,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|sev| sev.as_str() == s)
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Rule families. The code prefix of a rule is its category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
pub enum Category {
    #[serde(rename = "SEC")]
    Secrets,
    #[serde(rename = "RES")]
    Resilience,
    #[serde(rename = "OBS")]
    Observability,
    #[serde(rename = "OPS")]
    Operations,
    #[serde(rename = "DRF")]
    Drift,
    #[serde(rename = "DEP")]
    Deployment,
}

impl Category {
    pub const ALL: [Category; 6] = [
        Category::Secrets,
        Category::Resilience,
        Category::Observability,
        Category::Operations,
        Category::Drift,
        Category::Deployment,
    ];

    pub fn prefix(self) -> &'static str {
        match self {
            Category::Secrets => "SEC",
            Category::Resilience => "RES",
            Category::Observability => "OBS",
            Category::Operations => "OPS",
            Category::Drift => "DRF",
            Category::Deployment => "DEP",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Category::Secrets => "Secrets",
            Category::Resilience => "Resilience",
            Category::Observability => "Observability",
            Category::Operations => "Ownership and operations",
            Category::Drift => "Drift monitoring",
            Category::Deployment => "Deployment config",
        }
    }
}

/// The subject whose presence makes a rule applicable. A rule whose subject is absent is `n/a`
/// on the checklist: a project never loses points for a check that cannot apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Subject {
    /// Every project.
    Always,
    /// A project with at least one Cargo package (Cargo.toml with `[package]` or `[workspace]`).
    CargoProject,
    /// A long-running service: a server framework dependency, a worker loop in a binary, or a
    /// Kubernetes workload / compose service built from this repository.
    Service,
    /// A CODEOWNERS file exists.
    Codeowners,
    /// A runbook exists.
    Runbook,
    /// Production Rust source exists.
    RustCode,
    /// A production package depends on an HTTP client crate (reqwest, ureq, hyper-util,
    /// isahc, surf, awc, attohttpc, the AWS SDK).
    HttpClient,
    /// A production package has a binary target (`src/main.rs`, `src/bin/*.rs`, `[[bin]]`).
    Binary,
    /// A production package calls out over the network: an HTTP or gRPC client, a database,
    /// cache or message-broker client, or the AWS SDK (`project::NETWORK_CLIENTS`).
    NetworkClient,
    /// The project runs a model: an ML inference crate, an LLM API client, or a model artifact.
    Model,
    /// The production code emits metrics, or a production package depends on a metrics exporter.
    Metrics,
    /// The repository holds Prometheus alerting rules.
    AlertingRules,
    /// Kubernetes manifests of kinds the DEP rules read (Deployment, StatefulSet, DaemonSet,
    /// Job, CronJob, Service, Ingress, HorizontalPodAutoscaler, Rollout), not templated.
    KubernetesManifests,
    /// Kubernetes manifests, or a compose file that is not named for development.
    DeploymentManifests,
    /// Templated manifests (a Helm chart's `templates/`, `{{ }}` that breaks YAML): present
    /// only to say why the manifest items are `n/a`; no rule applies on it.
    TemplatedManifests,
}

impl Subject {
    pub fn describe(self) -> &'static str {
        match self {
            Subject::Always => "always",
            Subject::CargoProject => "the project has a Cargo package",
            Subject::Service => "the project is a service",
            Subject::Codeowners => "a CODEOWNERS file exists",
            Subject::Runbook => "a runbook exists",
            Subject::RustCode => "the project has production Rust code",
            Subject::HttpClient => "an HTTP client crate is a dependency",
            Subject::Binary => "a package has a binary target",
            Subject::NetworkClient => "the project calls out over the network",
            Subject::Model => "the project runs a model",
            Subject::Metrics => "the project emits metrics",
            Subject::AlertingRules => "the repository holds alerting rules",
            Subject::KubernetesManifests => "Kubernetes manifests exist",
            Subject::DeploymentManifests => {
                "Kubernetes manifests or a production compose file exist"
            }
            Subject::TemplatedManifests => "templated manifests exist (not audited)",
        }
    }
}

/// Whether a rule is part of the stable rule set. New rules arrive as `preview`: they run only
/// when the user opts in (`--preview`, `preview = true`), so upgrading prodready never turns a
/// green gate red through a rule nobody chose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleStatus {
    Stable,
    Preview,
}

impl RuleStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleStatus::Stable => "stable",
            RuleStatus::Preview => "preview",
        }
    }
}

/// What happens to a rule's findings in test and example code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TestCodePolicy {
    /// Reported at `low`; they never fail the checklist item.
    #[default]
    ReportLow,
    /// Not reported at all.
    Ignore,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Docs {
    /// What the rule checks.
    pub what: String,
    /// Why it matters in production.
    pub why: String,
    /// A failing example.
    pub example: String,
    /// How to fix it, with the corrected example.
    pub fix: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub code: String,
    pub name: String,
    pub category: Category,
    pub severity: Severity,
    pub applies_when: Subject,
    pub status: RuleStatus,
    /// The prodready version the rule arrived in (or became stable in).
    pub since: String,
    /// One line: what a failing item means.
    pub summary: String,
    /// One line: the default fix shown with each finding.
    pub fix: String,
    #[serde(default)]
    pub test_code: TestCodePolicy,
    pub docs: Docs,
    #[serde(default)]
    pub references: Vec<String>,
    /// Rule-specific data (vocabularies, patterns, thresholds), read by the rule's check.
    #[serde(default)]
    pub data: toml::Table,
}

impl Rule {
    /// Deserialises the rule's `[data]` table into the shape its check expects.
    ///
    /// Panics on a mismatch: the data is embedded at build time and `tests/registry.rs`
    /// loads every rule's data, so a mismatch can never reach a user.
    pub fn data<T: serde::de::DeserializeOwned>(&self) -> T {
        self.data
            .clone()
            .try_into()
            .unwrap_or_else(|e| panic!("rules/{}-{}.toml [data]: {e}", self.code, self.name))
    }
}

pub struct Registry {
    rules: Vec<Rule>,
}

static REGISTRY: LazyLock<Registry> = LazyLock::new(|| {
    let mut rules: Vec<Rule> = embedded::RULE_FILES
        .iter()
        .map(|(file, text)| {
            toml::from_str(text).unwrap_or_else(|e| panic!("rules/{file} is not a valid rule: {e}"))
        })
        .collect();
    rules.sort_by(|a, b| a.code.cmp(&b.code));
    Registry { rules }
});

/// The embedded rule set.
pub fn registry() -> &'static Registry {
    &REGISTRY
}

/// The embedded rule files, by file name: for the invariant tests.
pub fn rule_files() -> &'static [(&'static str, &'static str)] {
    embedded::RULE_FILES
}

impl Registry {
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Looks a rule up by code (`OPS001`, any case) or kebab-case name (`missing-ownership`).
    pub fn find(&self, code_or_name: &str) -> Option<&Rule> {
        self.rules
            .iter()
            .find(|r| r.code.eq_ignore_ascii_case(code_or_name) || r.name == code_or_name)
    }

    /// The rule with this code. Panics on an unknown code: check code only names embedded rules,
    /// and the fixture tests exercise every one.
    pub fn get(&self, code: &str) -> &Rule {
        self.find(code)
            .unwrap_or_else(|| panic!("no rule {code} in rules/"))
    }

    /// Rules matched by a selector: a code, a code prefix (`SEC`, `RES00`) or a rule name.
    /// Empty when nothing matches.
    pub fn matching(&self, selector: &str) -> Vec<&Rule> {
        let upper = selector.to_ascii_uppercase();
        if selector.eq_ignore_ascii_case("ALL") {
            return self.rules.iter().collect();
        }
        self.rules
            .iter()
            .filter(|r| r.code.starts_with(&upper) || r.name == selector)
            .collect()
    }
}
