//! DRF001-DRF003: drift and model-quality metrics, whether the project emits them, whether an
//! alert watches them, and whether those alerts say how long, how bad and who acts.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use regex::Regex;
use serde::Deserialize;

use crate::checks::ProjectContext;
use crate::checks::monitoring::{Watched, production_alerts, production_metrics, short};
use crate::facts::alerts;
use crate::finding::Finding;
use crate::project::{MODEL_ARTIFACTS, model_dependency, service_anchor};
use crate::registry::{Category, Code};

pub fn check_project(ctx: &ProjectContext<'_>, out: &mut Vec<Finding>) {
    if !ctx.rules.any_in(Category::Drift) {
        return;
    }
    let vocabulary = Vocabulary::with_extra(ctx.drift_vocabulary);
    let metrics = production_metrics(ctx.files);
    let drift_metrics: Vec<_> = metrics
        .iter()
        .filter(|m| m.name.as_deref().is_some_and(|n| vocabulary.matches(n)))
        .collect();
    if ctx.rules.enabled(Code::DRF001) {
        let watched = Watched::of(ctx.files);
        let mut reported = BTreeSet::new();
        for metric in &drift_metrics {
            let name = metric.name.as_deref().unwrap_or_default();
            if watched.watches(name, metric.emitted.library, metric.emitted.unit.as_deref())
                || !reported.insert(name)
            {
                continue;
            }
            out.push(Finding::at_site(
                Code::DRF001,
                metric.emitted.site.clone(),
                format!(
                    "drift metric `{}` is not referenced by any alerting rule ({})",
                    short(name),
                    watched.searched()
                ),
            ));
        }
    }
    if ctx.rules.enabled(Code::DRF002) && drift_metrics.is_empty() {
        // A name built at run time may be a drift metric: that is not a confident finding,
        // unless its literal parts already show it is something else.
        let undecidable = metrics.iter().any(|m| m.name.is_none());
        if !undecidable {
            model_without_drift_metric(ctx, out);
        }
    }
    if ctx.rules.enabled(Code::DRF003) {
        drift_alerts_without_action(ctx, &vocabulary, out);
    }
}

/// DRF002, anchored at what makes the project run a model.
fn model_without_drift_metric(ctx: &ProjectContext<'_>, out: &mut Vec<Finding>) {
    let (what, anchor) = if let Some((package, manifest)) = model_dependency(ctx.cargo) {
        (format!("uses {package}"), manifest.to_string())
    } else if let Some(artifact) = ctx.paths.iter().find(|p| {
        let lower = p.to_ascii_lowercase();
        MODEL_ARTIFACTS.iter().any(|ext| lower.ends_with(ext))
            && !crate::roles::of_path(p).is_test_like()
    }) {
        ("ships a model artifact".to_string(), artifact.clone())
    } else {
        return;
    };
    out.push(
        Finding::project(
            Code::DRF002,
            "drift metric",
            format!("the project {what} but emits no drift or model-quality metric"),
        )
        .anchored_at(Some(
            service_anchor(ctx.files, ctx.cargo)
                .unwrap_or(anchor)
                .as_str(),
        )),
    );
}

/// DRF003: alerts on drift metrics without `for:`, severity or runbook.
fn drift_alerts_without_action(
    ctx: &ProjectContext<'_>,
    vocabulary: &Vocabulary,
    out: &mut Vec<Finding>,
) {
    let records: std::collections::BTreeMap<&str, &alerts::References> = ctx
        .files
        .iter()
        .flat_map(|f| f.prometheus_rules.iter().flat_map(|r| &r.records))
        .map(|r| (r.name.as_str(), &r.references))
        .collect();
    for (_, alert) in production_alerts(ctx.files) {
        let references = alerts::expand(&alert.references, &records);
        if !references.names.iter().any(|n| vocabulary.matches(n)) {
            continue;
        }
        let missing: Vec<&str> = [
            (!alert.has_for, "`for:` duration"),
            (!alert.has_severity, "severity label"),
            (!alert.has_runbook, "runbook_url annotation"),
        ]
        .into_iter()
        .filter_map(|(missing, what)| missing.then_some(what))
        .collect();
        if !missing.is_empty() {
            out.push(Finding::at_site(
                Code::DRF003,
                alert.site.clone(),
                format!(
                    "drift alert `{}` has no {}",
                    short(&alert.name),
                    missing.join(", no ")
                ),
            ));
        }
    }
}

#[derive(Deserialize)]
struct VocabularyData {
    vocabulary: Vec<Term>,
}

#[derive(Deserialize)]
struct Term {
    pattern: String,
    #[serde(default)]
    unless: Vec<String>,
}

/// Metric names that measure drift or model quality (DRF001's `[data]`).
pub struct Vocabulary {
    terms: Vec<(Regex, Vec<String>)>,
}

/// The built-in vocabulary.
static BUILT_IN: LazyLock<Vocabulary> = LazyLock::new(|| {
    let data: VocabularyData = Code::DRF001.rule().data();
    Vocabulary {
        terms: data
            .vocabulary
            .into_iter()
            .map(|t| {
                let regex = Vocabulary::term(&t.pattern)
                    .expect("DRF001 vocabulary patterns are valid (a unit test loads them)");
                (regex, t.unless)
            })
            .collect(),
    }
});

impl Vocabulary {
    /// The built-in vocabulary plus the configuration's `drift_vocabulary` patterns (checked
    /// when the configuration is loaded).
    pub fn with_extra(extra: &[String]) -> Vocabulary {
        let mut terms = BUILT_IN.terms.clone();
        terms.extend(
            extra
                .iter()
                .filter_map(|p| Vocabulary::term(p).ok())
                .map(|regex| (regex, Vec::new())),
        );
        Vocabulary { terms }
    }

    /// A pattern as a regular expression over whole tokens of a normalised name.
    pub fn term(pattern: &str) -> Result<Regex, regex::Error> {
        Regex::new(&format!(
            "(?:^|_)(?:{})(?:_|$)",
            pattern.to_ascii_lowercase()
        ))
    }

    /// Whether a metric name (any case, any of `_ . : -` as separators) is in the vocabulary.
    pub fn matches(&self, name: &str) -> bool {
        let tokens: Vec<String> = name
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|t| !t.is_empty())
            .map(str::to_ascii_lowercase)
            .collect();
        let normalised = tokens.join("_");
        self.terms.iter().any(|(regex, unless)| {
            regex.is_match(&normalised) && !unless.iter().any(|u| tokens.contains(u))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabulary_matches_whole_tokens_and_respects_exceptions() {
        let vocabulary = Vocabulary::with_extra(&["churn_score".to_string()]);
        assert!(vocabulary.matches("ticket_churn_score") && !vocabulary.matches("churn"));
        for name in [
            "ticket_feature_psi",
            "ticket.model.accuracy",
            "model_kl_divergence",
            "input_ks_statistic",
            "training_serving_skew",
            "job:psi:max",
            "embedding_drift_score",
            "prediction_confidence_bucket",
        ] {
            assert!(vocabulary.matches(name), "{name}");
        }
        for name in [
            "psicology_total",
            "node_pressure_cpu_waiting_seconds_total",
            "psi_memory_some_avg10",
            "clock_skew_seconds",
            "http_requests_total",
            "lapsing_sessions",
        ] {
            assert!(!vocabulary.matches(name), "{name}");
        }
    }
}
