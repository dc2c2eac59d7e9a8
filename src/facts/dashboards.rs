//! Dashboards kept in the repository, and the metric queries they run: Grafana dashboard JSON,
//! Grafana dashboard ConfigMaps and `GrafanaDashboard` resources, grafonnet (jsonnet), and
//! Datadog or New Relic dashboards in Terraform. And what shows that metrics are collected:
//! a scrape configuration.

use std::sync::LazyLock;

use regex::Regex;
use saphyr::{MarkedYaml, YamlData};
use serde::{Deserialize, Serialize};

use crate::finding::Site;
use crate::source::Source;

/// No dashboard's queries are kept beyond this many: enough to tell what it shows.
const QUERY_CAP: usize = 400;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Dashboard {
    /// What it is, for messages: `Grafana dashboard`, `Datadog dashboard (Terraform)`.
    pub what: String,
    /// Where it starts: its title, its `panels`, its resource.
    pub site: Site,
    /// The metric queries it runs (PromQL `expr`, Datadog `q`, NRQL `query`), as written.
    /// Empty when they are not in the file (a dashboard fetched by URL).
    pub queries: Vec<String>,
}

fn line(node: &MarkedYaml<'_>) -> usize {
    node.span.start.line()
}

fn site_at(source: &Source, line: usize) -> Site {
    source.site(source.line_range(line))
}

/// The dashboards of a parsed YAML or JSON file.
pub fn extract(source: &Source, documents: &[MarkedYaml<'_>]) -> Vec<Dashboard> {
    let mut out = Vec::new();
    for doc in documents {
        let kind = doc
            .data
            .as_mapping_get("kind")
            .and_then(|k| k.data.as_str());
        match kind {
            Some("ConfigMap") => config_map(source, doc, &mut out),
            Some("GrafanaDashboard") => {
                let spec = doc.data.as_mapping_get("spec");
                let json = spec.and_then(|s| s.data.as_mapping_get("json"));
                let queries = json
                    .and_then(|j| j.data.as_str())
                    .map(queries_in_text)
                    .unwrap_or_default();
                out.push(Dashboard {
                    what: "GrafanaDashboard resource".to_string(),
                    site: site_at(source, line(doc)),
                    queries,
                });
            }
            _ => {
                let body = doc.data.as_mapping_get("dashboard").unwrap_or(doc);
                let Some(panels) = body.data.as_mapping_get("panels") else {
                    continue;
                };
                if !matches!(panels.data, YamlData::Sequence(_)) {
                    continue;
                }
                let mut queries = Vec::new();
                collect_queries(body, &mut queries);
                if queries.is_empty() {
                    continue;
                }
                let at = body.data.as_mapping_get("title").unwrap_or(panels);
                out.push(Dashboard {
                    what: "Grafana dashboard".to_string(),
                    site: site_at(source, line(at)),
                    queries,
                });
            }
        }
    }
    out
}

/// A ConfigMap that carries a dashboard: a `grafana_dashboard` label (the sidecar's), or a
/// data value that is dashboard JSON.
fn config_map(source: &Source, doc: &MarkedYaml<'_>, out: &mut Vec<Dashboard>) {
    let labelled = (doc.data.as_mapping_get("metadata"))
        .and_then(|m| m.data.as_mapping_get("labels"))
        .is_some_and(|labels| labels.data.as_mapping_get("grafana_dashboard").is_some());
    let Some(YamlData::Mapping(data)) = doc.data.as_mapping_get("data").map(|d| &d.data) else {
        return;
    };
    for (key, value) in data {
        let Some(text) = value.data.as_str() else {
            continue;
        };
        if labelled || text.contains("\"panels\"") {
            out.push(Dashboard {
                what: "Grafana dashboard ConfigMap".to_string(),
                site: site_at(source, line(key)),
                queries: queries_in_text(text),
            });
        }
    }
}

/// The values of `expr` and `query` keys anywhere below `node`.
fn collect_queries(node: &MarkedYaml<'_>, out: &mut Vec<String>) {
    if out.len() >= QUERY_CAP {
        return;
    }
    match &node.data {
        YamlData::Mapping(map) => {
            for (key, value) in map {
                let query_key = matches!(key.data.as_str(), Some("expr" | "query"));
                match value.data.as_str() {
                    Some(text) if query_key && !text.trim().is_empty() => {
                        out.push(text.to_string());
                    }
                    _ => collect_queries(value, out),
                }
            }
        }
        YamlData::Sequence(items) => items.iter().for_each(|item| collect_queries(item, out)),
        _ => {}
    }
}

/// Queries written in dashboard text that is not parsed here: JSON inside a string, grafonnet,
/// Terraform (`"expr": "..."`, `expr='...'`, `q = "..."`, `query = "..."`).
static QUERY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?:"(?:expr|query|q)"\s*:\s*"((?:[^"\\]|\\.)*)"|\b(?:expr|query|q|withExpr|target)\s*[=(:]\s*(?:"((?:[^"\\]|\\.)*)"|'([^']*)'))"#,
    )
    .unwrap()
});

fn queries_in_text(text: &str) -> Vec<String> {
    QUERY
        .captures_iter(text)
        .filter_map(|c| c.get(1).or(c.get(2)).or(c.get(3)))
        .map(|m| m.as_str().to_string())
        .filter(|q| !q.trim().is_empty())
        .take(QUERY_CAP)
        .collect()
}

/// Terraform resources that define a dashboard.
const TERRAFORM_DASHBOARDS: [(&str, &str); 4] = [
    (
        "resource \"datadog_dashboard\"",
        "Datadog dashboard (Terraform)",
    ),
    (
        "resource \"datadog_dashboard_json\"",
        "Datadog dashboard (Terraform)",
    ),
    (
        "resource \"newrelic_one_dashboard\"",
        "New Relic dashboard (Terraform)",
    ),
    (
        "resource \"grafana_dashboard\"",
        "Grafana dashboard (Terraform)",
    ),
];

/// The dashboard of a text file: grafonnet (`.jsonnet`, `.libsonnet`) or Terraform (`.tf`).
pub fn from_text(source: &Source) -> Option<Dashboard> {
    let lower = source.path.to_ascii_lowercase();
    let (what, at) = if lower.ends_with(".jsonnet") || lower.ends_with(".libsonnet") {
        let at = ["grafonnet", "grafana.libsonnet", "dashboard.new("]
            .iter()
            .find_map(|marker| source.text.find(marker))?;
        ("grafonnet dashboard", at)
    } else if lower.ends_with(".tf") {
        TERRAFORM_DASHBOARDS
            .iter()
            .find_map(|(marker, what)| Some((*what, source.text.find(marker)?)))?
    } else {
        return None;
    };
    Some(Dashboard {
        what: what.to_string(),
        site: site_at(source, source.line_of(at)),
        queries: queries_in_text(&source.text),
    })
}

/// What collects metrics: a Prometheus Operator `ServiceMonitor` or `PodMonitor` (a document's
/// own `kind`, not a CRD's nested one), a `prometheus.io/scrape: "true"` annotation, or a
/// Prometheus `scrape_configs`.
static SCRAPE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?m)^(?:kind:\s*["']?(?:ServiceMonitor|PodMonitor)\b|\s*["']?prometheus\.io/scrape["']?\s*:\s*["']?true\b|\s*scrape_configs\s*:)"#)
        .unwrap()
});

/// The line of a file's text that shows metrics are collected (see [`SCRAPE`]), read from the
/// text so that Helm templates that are not YAML count too.
pub fn scrape_line(source: &Source) -> Option<usize> {
    let text = &source.text;
    let named = [
        "ServiceMonitor",
        "PodMonitor",
        "prometheus.io/scrape",
        "scrape_configs",
    ]
    .iter()
    .any(|word| text.contains(word));
    if !named {
        return None;
    }
    let found = SCRAPE.find(text)?;
    let start = found.as_str().len() - found.as_str().trim_start().len();
    Some(source.line_of(found.start() + start))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(path: &str, text: &str) -> Vec<Dashboard> {
        let source = Source::new(path.to_string(), text.to_string());
        let documents = crate::facts::yaml::parse(&source).unwrap();
        extract(&source, &documents)
    }

    #[test]
    fn grafana_json_with_metric_queries_is_a_dashboard() {
        let json = r#"{"title": "Orders", "panels": [{"type": "graph", "targets": [{"expr": "rate(orders_created_total[5m])"}]}, {"type": "row", "panels": [{"targets": [{"expr": "up"}]}]}]}"#;
        let found = yaml("grafana/orders.json", json);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].queries, ["rate(orders_created_total[5m])", "up"]);
        assert!(yaml("grafana/empty.json", r#"{"panels": [{"type": "text"}]}"#).is_empty());
        assert!(yaml("package.json", r#"{"name": "ui", "panels": 3}"#).is_empty());
    }

    #[test]
    fn config_maps_and_operator_resources_carry_dashboards() {
        let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: d\n  labels:\n    grafana_dashboard: \"1\"\ndata:\n  orders.json: |\n    {\"panels\": [{\"targets\": [{\"expr\": \"sum(rate(orders_failed_total[5m]))\"}]}]}\n";
        let found = yaml("deploy/dashboard.yaml", cm);
        assert_eq!(found[0].queries, ["sum(rate(orders_failed_total[5m]))"]);
        let plain = "apiVersion: v1\nkind: ConfigMap\ndata:\n  LOG_LEVEL: info\n";
        assert!(yaml("deploy/config.yaml", plain).is_empty());
        let operator = "apiVersion: grafana.integreatly.org/v1beta1\nkind: GrafanaDashboard\nspec:\n  url: https://grafana.com/api/dashboards/1860/revisions/31/download\n";
        let found = yaml("deploy/node.yaml", operator);
        assert_eq!((found.len(), found[0].queries.len()), (1, 0));
    }

    #[test]
    fn scrape_configuration_is_found_in_manifests_templates_and_prometheus_config() {
        let line =
            |path: &str, text: &str| scrape_line(&Source::new(path.to_string(), text.to_string()));
        let monitor = "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\n";
        assert_eq!(line("chart/templates/sm.yaml", monitor), Some(2));
        let annotated = "spec:\n  template:\n    metadata:\n      annotations:\n        prometheus.io/scrape: \"true\"\n";
        assert_eq!(line("deploy/app.yaml", annotated), Some(5));
        assert_eq!(
            line(
                "prometheus.yml",
                "global: {}\nscrape_configs:\n  - job_name: api\n"
            ),
            Some(2)
        );
        assert_eq!(
            line(
                "deploy/app.yaml",
                "kind: Deployment\n# ServiceMonitor later\n"
            ),
            None
        );
        let off = "metadata:\n  annotations:\n    prometheus.io/scrape: \"false\"\n";
        assert_eq!(line("deploy/app.yaml", off), None);
        let crd = "kind: CustomResourceDefinition\nspec:\n  names:\n    kind: ServiceMonitor\n";
        assert_eq!(line("crds/monitoring.yaml", crd), None);
    }

    #[test]
    fn grafonnet_and_terraform_dashboards_are_read_from_text() {
        let jsonnet = "local g = import 'grafonnet/grafana.libsonnet';\ng.dashboard.new('Orders')\n  .addPanel(g.graphPanel.new('rate').addTarget(g.prometheus.target('rate(orders_created_total[5m])')))\n";
        let source = Source::new("dashboards/orders.jsonnet".to_string(), jsonnet.to_string());
        let found = from_text(&source).unwrap();
        assert_eq!(found.queries, ["rate(orders_created_total[5m])"]);
        let tf = "resource \"datadog_dashboard\" \"orders\" {\n  widget {\n    timeseries_definition {\n      request { q = \"avg:orders.latency{env:prod}\" }\n    }\n  }\n}\n";
        let source = Source::new("infra/dashboards.tf".to_string(), tf.to_string());
        let found = from_text(&source).unwrap();
        assert_eq!(
            (found.site.span.start_line, found.queries.as_slice()),
            (1, &["avg:orders.latency{env:prod}".to_string()][..])
        );
        let source = Source::new(
            "infra/main.tf".to_string(),
            "resource \"aws_s3_bucket\" \"b\" {}\n".to_string(),
        );
        assert!(from_text(&source).is_none());
    }
}
