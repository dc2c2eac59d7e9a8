//! OBS002-OBS004: metrics exported, alerting rules present, alerts with runbooks; and the
//! model both this family and the drift family read — which metrics the production code emits
//! (by exported name) and which names the repository's alerting rules watch.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use regex::Regex;

use crate::checks::ProjectContext;
use crate::facts::FileFacts;
use crate::facts::alerts::{self, AlertRule, References};
use crate::facts::cargo::DepKind;
use crate::facts::dashboards::Dashboard;
use crate::facts::metrics::{self, EmittedMetric, Library};
use crate::finding::Finding;
use crate::project::{METRIC_EXPORTERS, depends_on_any, service_anchor};
use crate::registry::Code;
use crate::registry::Subject;
use crate::roles::Role;

pub fn check_project(ctx: &ProjectContext<'_>, out: &mut Vec<Finding>) {
    if ctx.rules.enabled(Code::OBS002) {
        no_metrics(ctx, out);
    }
    if ctx.rules.enabled(Code::OBS003) && !ctx.subjects.contains_key(&Subject::AlertingRules) {
        metrics_without_alerts(ctx, out);
    }
    if ctx.rules.enabled(Code::OBS006) {
        no_dashboard(ctx, out);
    }
    if ctx.rules.enabled(Code::OBS004) {
        for (_, alert) in production_alerts(ctx.files) {
            if !alert.has_runbook {
                out.push(Finding::at_site(
                    Code::OBS004,
                    alert.site.clone(),
                    format!(
                        "alert `{}` has no runbook_url annotation",
                        short(&alert.name)
                    ),
                ));
            }
        }
    }
}

/// A name as shown in a message: identifiers only, and never long.
pub fn short(name: &str) -> String {
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_:.-".contains(c) {
                c
            } else {
                '?'
            }
        })
        .collect();
    if clean.chars().count() > 80 {
        format!("{}…", clean.chars().take(80).collect::<String>())
    } else {
        clean
    }
}

/// Words in a dependency's name that suggest an in-house telemetry crate, which may install an
/// exporter we cannot see: no OBS002 finding then.
const TELEMETRY_WORDS: [&str; 6] = [
    "telemetry",
    "observability",
    "monitoring",
    "metrics",
    "otel",
    "prometheus",
];

/// OBS002: a service with no metrics, or metrics recorded through a facade with no exporter.
fn no_metrics(ctx: &ProjectContext<'_>, out: &mut Vec<Finding>) {
    if depends_on_any(ctx.cargo, &METRIC_EXPORTERS).is_some() {
        return;
    }
    let mut in_house = None;
    let mut facade = None;
    for manifest in ctx.cargo.production_manifests() {
        for dep in &manifest.dependencies {
            let dep = ctx.cargo.resolve(manifest, dep);
            if dep.kind == DepKind::Dev {
                continue;
            }
            match dep.package.as_str() {
                "metrics" | "opentelemetry" | "opentelemetry_sdk" => {
                    facade.get_or_insert(dep.package.clone());
                }
                name if TELEMETRY_WORDS.iter().any(|w| name.contains(w)) => {
                    in_house.get_or_insert(());
                }
                _ => {}
            }
        }
    }
    // An exporter written by hand: a `/metrics` route that renders the text format.
    let by_hand =
        (ctx.files.iter()).any(|f| f.role == Role::Production && f.metrics_endpoint.is_some());
    if in_house.is_some() || by_hand {
        return;
    }
    let emitted = production_metrics(ctx.files);
    let message = match (&facade, emitted.first()) {
        (Some(facade), _) => format!(
            "the service records metrics through `{facade}` but depends on no exporter: they go nowhere"
        ),
        (None, Some(_)) => return,
        (None, None) => {
            "the service exports no metrics: nothing to scrape, nothing to alert on".to_string()
        }
    };
    let anchor = service_anchor(ctx.files, ctx.cargo);
    out.push(Finding::project(Code::OBS002, "metrics", message).anchored_at(anchor.as_deref()));
}

/// OBS003: metrics, and not one alerting rule in the repository.
fn metrics_without_alerts(ctx: &ProjectContext<'_>, out: &mut Vec<Finding>) {
    let Some(evidence) = ctx.subjects.get(&Subject::Metrics) else {
        return;
    };
    let emitted = production_metrics(ctx.files);
    let message = match emitted.iter().find_map(|m| m.name.as_deref()) {
        Some(name) => format!(
            "the project registers {} metric(s) (such as `{}`) but no alerting rule exists in the repository",
            emitted.len(),
            short(name)
        ),
        None => format!(
            "the project emits metrics ({evidence}) but no alerting rule exists in the repository"
        ),
    };
    let anchor = service_anchor(ctx.files, ctx.cargo);
    out.push(
        Finding::project(Code::OBS003, "alerting rules", message).anchored_at(anchor.as_deref()),
    );
}

#[derive(serde::Deserialize)]
struct DashboardData {
    generated_by: Vec<String>,
    pushed_by: Vec<String>,
}

/// OBS006: metrics that are collected, and no dashboard; or dashboards that show none of the
/// service's metrics.
fn no_dashboard(ctx: &ProjectContext<'_>, out: &mut Vec<Finding>) {
    if !ctx.subjects.contains_key(&Subject::Metrics) {
        return;
    }
    let data: DashboardData = Code::OBS006.rule().data();
    let dashboards: Vec<&Dashboard> = (ctx.files.iter())
        .filter(|f| shows_the_project(f.role))
        .flat_map(|f| &f.dashboards)
        .collect();
    if dashboards.is_empty() {
        // Metrics nobody collects here are shown by whoever runs the service, in their own
        // dashboards: the rule cannot tell.
        let Some(collected) = collected(ctx, &data) else {
            return;
        };
        let anchor = service_anchor(ctx.files, ctx.cargo);
        let message = format!(
            "the service's metrics are collected ({collected}) but no dashboard shows them"
        );
        out.push(
            Finding::project(Code::OBS006, "dashboard", message).anchored_at(anchor.as_deref()),
        );
        return;
    }
    let generated: Vec<&str> = data.generated_by.iter().map(String::as_str).collect();
    // Every metric's name must be known: a dashboard may show the one whose name is not.
    let names: Option<Vec<String>> = (production_metrics(ctx.files).into_iter())
        .map(|m| m.name)
        .collect();
    let Some(names) = names.filter(|n| !n.is_empty()) else {
        return;
    };
    let unknown_queries = dashboards.iter().any(|d| d.queries.is_empty());
    if unknown_queries || depends_on_any(ctx.cargo, &generated).is_some() {
        return;
    }
    if dashboards
        .iter()
        .any(|d| d.queries.iter().any(|q| queries_one_of(q, &names)))
    {
        return;
    }
    for dashboard in dashboards {
        let message = format!(
            "this {} queries none of the service's own metrics (such as `{}`): it shows the platform, not the service",
            dashboard.what,
            short(&names[0])
        );
        out.push(
            Finding::at_site(Code::OBS006, dashboard.site.clone(), message).with_fix(
                "add panels on the service's own request rate, errors and latency metrics",
            ),
        );
    }
}

/// Files that show how the project is run and watched: any but test code and third-party or
/// generated files (a reference deployment in `examples/` does).
fn shows_the_project(role: Role) -> bool {
    !matches!(role, Role::Test | Role::Vendored | Role::Generated)
}

/// What shows the service's metrics are collected: a scrape configuration (see
/// [`shows_the_project`]), or an exporter that pushes them.
fn collected(ctx: &ProjectContext<'_>, data: &DashboardData) -> Option<String> {
    let scraped = (ctx.files.iter())
        .filter(|f| shows_the_project(f.role))
        .find_map(|f| Some(format!("{}:{}", f.path, f.scrape?)));
    scraped.or_else(|| {
        let pushers: Vec<&str> = data.pushed_by.iter().map(String::as_str).collect();
        depends_on_any(ctx.cargo, &pushers)
            .map(|(package, manifest)| format!("pushed by {package}, {manifest}"))
    })
}

/// Whether a dashboard query reads one of `names`: a metric name in it holds one of them as a
/// run of whole tokens (a prefix, a unit or a `_total` suffix around it), dots and dashes read
/// as underscores.
fn queries_one_of(query: &str, names: &[String]) -> bool {
    let normal = |text: &str| text.to_ascii_lowercase().replace(['.', '-'], "_");
    let query = normal(query);
    let tokens: Vec<String> = query
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .filter(|t| !t.is_empty())
        .map(|t| format!("_{}_", t.replace(':', "_")))
        .collect();
    names.iter().any(|name| {
        let name = format!("_{}_", normal(name));
        tokens.iter().any(|t| t.contains(&name))
    })
}

/// A metric registered in production code, with its exported name if it can be known.
pub struct Metric<'a> {
    pub name: Option<String>,
    pub emitted: &'a EmittedMetric,
    pub file: &'a FileFacts,
}

/// Every metric registration in production code, in file and line order, with constants
/// resolved in its own file first, then across the project.
pub fn production_metrics(files: &[FileFacts]) -> Vec<Metric<'_>> {
    let mut global: HashMap<&str, Option<&str>> = HashMap::new();
    for file in files {
        for (name, value) in file.metrics.iter().flat_map(|m| &m.constants) {
            let value = value.as_deref();
            let entry = global.entry(name.as_str()).or_insert(value);
            if *entry != value {
                *entry = None;
            }
        }
    }
    let mut out = Vec::new();
    for file in files.iter().filter(|f| !f.role.is_test_like()) {
        let Some(facts) = &file.metrics else {
            continue;
        };
        for emitted in &facts.emitted {
            if file
                .rust
                .as_ref()
                .is_some_and(|r| r.is_test_line(emitted.line))
            {
                continue;
            }
            let lookup = |c: &str| match facts.constants.get(c) {
                Some(local) => local.clone(),
                None => global.get(c).copied().flatten().map(str::to_string),
            };
            out.push(Metric {
                name: metrics::resolve(&emitted.parts, lookup),
                emitted,
                file,
            });
        }
    }
    out
}

/// Alerting rules in production files, with their file.
pub fn production_alerts(files: &[FileFacts]) -> impl Iterator<Item = (&FileFacts, &AlertRule)> {
    files
        .iter()
        .filter(|f| !f.role.is_test_like())
        .flat_map(|f| {
            f.prometheus_rules
                .iter()
                .flat_map(move |r| r.alerts.iter().map(move |a| (f, a)))
        })
}

/// What the repository's alerting rules watch.
pub struct Watched {
    /// Files holding alerting rules, for messages.
    pub rule_files: Vec<String>,
    /// Every name an alert reads, recording rules followed, with each name's `_total`,
    /// `_bucket`, `_sum`, `_count` suffix also removed.
    names: BTreeSet<String>,
    patterns: Vec<Regex>,
    /// Prefixes registries and exporters put before names (see `MetricFacts::name_prefixes`).
    prefixes: Vec<String>,
}

/// The suffix OpenTelemetry's Prometheus exporter derives from a UCUM unit.
fn otel_unit_suffix(unit: &str) -> Option<String> {
    let word = match unit {
        "" => return None,
        "1" => "ratio",
        "%" => "percent",
        "s" => "seconds",
        "ms" => "milliseconds",
        "us" => "microseconds",
        "ns" => "nanoseconds",
        "By" => "bytes",
        "KiBy" => "kibibytes",
        "MiBy" => "mebibytes",
        "m" => "meters",
        "min" => "minutes",
        "h" => "hours",
        "d" => "days",
        // Annotations in braces are dropped.
        unit if unit.starts_with('{') => return None,
        unit => unit,
    };
    let word: String = word
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    Some(word)
}

const SERIES_SUFFIXES: [&str; 4] = ["_total", "_bucket", "_sum", "_count"];

impl Watched {
    pub fn of(files: &[FileFacts]) -> Watched {
        let production = || files.iter().filter(|f| !f.role.is_test_like());
        let records: BTreeMap<&str, &References> = production()
            .flat_map(|f| f.prometheus_rules.iter().flat_map(|r| &r.records))
            .map(|r| (r.name.as_str(), &r.references))
            .collect();
        let mut watched = Watched {
            rule_files: Vec::new(),
            names: BTreeSet::new(),
            patterns: Vec::new(),
            prefixes: production()
                .flat_map(|f| {
                    f.metrics
                        .iter()
                        .flat_map(|m| m.name_prefixes.iter().cloned())
                })
                .collect(),
        };
        for (file, alert) in production_alerts(files) {
            if watched.rule_files.last() != Some(&file.path) {
                watched.rule_files.push(file.path.clone());
            }
            let references = alerts::expand(&alert.references, &records);
            for name in references.names {
                for suffix in SERIES_SUFFIXES {
                    if let Some(base) = name.strip_suffix(suffix) {
                        watched.names.insert(base.to_string());
                    }
                }
                watched.names.insert(name);
            }
            watched.patterns.extend(
                references
                    .patterns
                    .iter()
                    .filter_map(|p| Regex::new(p).ok()),
            );
        }
        watched
    }

    /// Whether an alert reads the metric exported under `name`.
    pub fn watches(&self, name: &str, library: Library, unit: Option<&str>) -> bool {
        let mut candidates = vec![name.to_string()];
        if library == Library::OpenTelemetry
            && let Some(unit) = unit.and_then(otel_unit_suffix)
        {
            // Its Prometheus exporter appends the unit.
            candidates.push(format!("{name}_{unit}"));
        }
        // Which registry a metric lands in is not followed: any prefix in the project may apply.
        let prefixed: Vec<String> = self
            .prefixes
            .iter()
            .flat_map(|p| candidates.iter().map(move |c| format!("{p}_{c}")))
            .collect();
        candidates.extend(prefixed);
        candidates.iter().any(|candidate| {
            let exact = self.names.contains(candidate);
            // A prefix or unit the code does not show: the name as a run of whole tokens.
            let loose = library.loose_name()
                && self
                    .names
                    .iter()
                    .any(|n| format!("_{n}_").contains(&format!("_{candidate}_")));
            let pattern = self.patterns.iter().any(|p| {
                p.is_match(candidate)
                    || SERIES_SUFFIXES
                        .iter()
                        .any(|s| p.is_match(&format!("{candidate}{s}")))
            });
            exact || loose || pattern
        })
    }

    /// The rule files searched, for a message.
    pub fn searched(&self) -> String {
        match self.rule_files.as_slice() {
            [] => "no alerting rules in the repository".to_string(),
            [one] => format!("searched {one}"),
            [first, rest @ ..] => format!("searched {first} and {} more rule file(s)", rest.len()),
        }
    }
}
