//! Prometheus rule files: alerting and recording rules, and the metric names their
//! expressions reference. Plain rule files (`groups[].rules[]`, as Prometheus, Thanos, Mimir
//! and Cortex load them) and `kind: PrometheusRule` manifests (`spec.groups`).
//! See `../shared/reference/metrics-and-alerts.md`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use regex::Regex;
use saphyr::MarkedYaml;

use crate::finding::Site;
use crate::source::Source;

/// The metric names a PromQL expression reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct References {
    pub names: BTreeSet<String>,
    /// `{__name__=~"re"}` selectors, anchored as Prometheus anchors them.
    pub patterns: Vec<String>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct AlertRule {
    pub name: String,
    pub line: usize,
    pub references: References,
    pub has_for: bool,
    pub has_severity: bool,
    pub has_runbook: bool,
    /// Where a finding about this alert goes (DRF003; its message is written later).
    pub site: Site,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct RecordingRule {
    pub name: String,
    pub references: References,
}

/// The rules of one file.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct RuleFile {
    pub alerts: Vec<AlertRule>,
    pub records: Vec<RecordingRule>,
}

impl RuleFile {
    pub fn is_empty(&self) -> bool {
        self.alerts.is_empty() && self.records.is_empty()
    }
}

pub fn extract(source: &Source, documents: &[MarkedYaml<'_>]) -> RuleFile {
    let mut file = RuleFile::default();
    for doc in documents {
        let groups = match doc
            .data
            .as_mapping_get("kind")
            .and_then(|k| k.data.as_str())
        {
            Some("PrometheusRule") => doc
                .data
                .as_mapping_get("spec")
                .and_then(|s| s.data.as_mapping_get("groups")),
            Some(_) => None,
            None => doc.data.as_mapping_get("groups"),
        };
        let Some(groups) = groups.and_then(|g| g.data.as_sequence()) else {
            continue;
        };
        for group in groups {
            let Some(rules) = group
                .data
                .as_mapping_get("rules")
                .and_then(|r| r.data.as_sequence())
            else {
                continue;
            };
            for rule in rules {
                read_rule(source, rule, &mut file);
            }
        }
    }
    file
}

fn read_rule(source: &Source, rule: &MarkedYaml<'_>, file: &mut RuleFile) {
    let text = |key: &str| {
        rule.data
            .as_mapping_get(key)
            .and_then(|v| v.data.as_str().map(str::to_string).or_else(|| scalar(v)))
    };
    let Some(expr) = text("expr") else {
        return;
    };
    // A Helm-templated expression is not guessed at.
    let references = if expr.contains("{{") {
        References::default()
    } else {
        references(&expr)
    };
    if let Some(record) = text("record") {
        file.records.push(RecordingRule {
            name: record,
            references,
        });
        return;
    }
    let Some(alert_node) = rule.data.as_mapping_get("alert") else {
        return;
    };
    let Some(name) = alert_node.data.as_str() else {
        return;
    };
    let has_key = |map: &str, keys: &[&str]| {
        rule.data.as_mapping_get(map).is_some_and(|m| {
            keys.iter().any(|k| {
                m.data
                    .as_mapping_get(k)
                    .and_then(|v| v.data.as_str().map(str::to_string).or_else(|| scalar(v)))
                    .is_some_and(|v| !v.trim().is_empty())
            })
        })
    };
    let start = source.byte_of_char(alert_node.span.start.index());
    let end = source.byte_of_char(alert_node.span.end.index());
    let line = source.line_of(start);
    // The span covers the `alert: Name` line from its key.
    let line_start = source.line_range(line).start;
    let key_start = source.text[line_start..start]
        .find("alert")
        .map_or(start, |i| line_start + i);
    file.alerts.push(AlertRule {
        name: name.to_string(),
        line,
        references,
        has_for: text("for").is_some_and(|d| !is_zero_duration(&d)),
        has_severity: has_key("labels", &["severity", "priority"]),
        has_runbook: has_key("annotations", &["runbook_url", "runbook"]),
        site: source.site(key_start..end),
    });
}

/// A number or boolean scalar as text.
fn scalar(node: &MarkedYaml<'_>) -> Option<String> {
    if let Some(i) = node.data.as_integer() {
        return Some(i.to_string());
    }
    node.data.as_floating_point().map(|f| f.to_string())
}

fn is_zero_duration(text: &str) -> bool {
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    !digits.is_empty() && digits.chars().all(|c| c == '0')
}

/// Keywords, and aggregation operators (which may be followed by `by (..)` before their
/// parenthesis, so they are not always seen as calls).
const PROMQL_KEYWORDS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "offset",
    "bool",
    "and",
    "or",
    "unless",
    "inf",
    "nan",
    "atan2",
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
    "limitk",
    "limit_ratio",
];

static NAME_MATCHER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"__name__\s*(=~|=)\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|`([^`]*)`)"#)
        .expect("name matcher regex")
});

/// The metric names an expression reads: identifiers outside strings, `{..}` matchers and
/// `[..]` ranges, not called as functions and not keywords; `__name__` matchers as names or
/// patterns.
pub fn references(expr: &str) -> References {
    let mut refs = References::default();
    let chars: Vec<char> = expr.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '"' | '\'' | '`' => i = skip_string(&chars, i),
            '#' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '{' | '[' => {
                let close = if c == '{' { '}' } else { ']' };
                let start = i;
                i = skip_until(&chars, i + 1, close);
                if c == '{' {
                    let inner: String = chars[start..i.min(chars.len())].iter().collect();
                    for cap in NAME_MATCHER.captures_iter(&inner) {
                        let value = cap
                            .get(2)
                            .or_else(|| cap.get(3))
                            .or_else(|| cap.get(4))
                            .map_or("", |m| m.as_str())
                            .to_string();
                        if &cap[1] == "=" {
                            refs.names.insert(value);
                        } else {
                            refs.patterns.push(format!("^(?:{value})$"));
                        }
                    }
                }
                i += 1;
            }
            c if c.is_ascii_digit()
                || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) =>
            {
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                    i += 1;
                }
            }
            c if c.is_ascii_alphabetic() || c == '_' || c == ':' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':')
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let mut next = i;
                while next < chars.len() && chars[next].is_whitespace() {
                    next += 1;
                }
                let called = chars.get(next) == Some(&'(');
                if !called && !PROMQL_KEYWORDS.contains(&word.to_ascii_lowercase().as_str()) {
                    refs.names.insert(word);
                }
            }
            _ => i += 1,
        }
    }
    refs
}

fn skip_string(chars: &[char], open: usize) -> usize {
    let quote = chars[open];
    let mut i = open + 1;
    while i < chars.len() && chars[i] != quote {
        if chars[i] == '\\' && quote != '`' {
            i += 1;
        }
        i += 1;
    }
    i + 1
}

/// The index of `close` after `from`, skipping strings.
fn skip_until(chars: &[char], from: usize, close: char) -> usize {
    let mut i = from;
    while i < chars.len() && chars[i] != close {
        if matches!(chars[i], '"' | '\'' | '`') {
            i = skip_string(chars, i);
        } else {
            i += 1;
        }
    }
    i
}

/// Every name an expression reads once recording rules are followed: an alert on a recorded
/// series built from M watches M.
pub fn expand(references: &References, records: &BTreeMap<&str, &References>) -> References {
    let mut out = references.clone();
    let mut pending: Vec<String> = references.names.iter().cloned().collect();
    let mut seen = BTreeSet::new();
    while let Some(name) = pending.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        if let Some(recorded) = records.get(name.as_str()) {
            for inner in &recorded.names {
                out.names.insert(inner.clone());
                pending.push(inner.clone());
            }
            out.patterns.extend(recorded.patterns.iter().cloned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(expr: &str) -> Vec<String> {
        references(expr).names.into_iter().collect()
    }

    #[test]
    fn names_in_expressions() {
        assert_eq!(
            names(r#"max by (feature) (ticket_feature_psi{model="v2"}) > 0.2"#),
            ["feature", "ticket_feature_psi"]
        );
        assert_eq!(
            names(
                "histogram_quantile(0.99, sum(rate(http_request_duration_seconds_bucket[5m])) by (le)) > 1e3"
            ),
            ["http_request_duration_seconds_bucket", "le"]
        );
        assert_eq!(
            names("job:accuracy:avg_over_time1h < bool 0.8 unless on(model) absent(x) offset 5m"),
            ["job:accuracy:avg_over_time1h", "model", "x"]
        );
        let regex = references(r#"{__name__=~"ticket_.*_psi", job="a"} > 0.1"#);
        assert!(regex.names.is_empty());
        assert_eq!(regex.patterns, ["^(?:ticket_.*_psi)$"]);
    }

    #[test]
    fn recording_rules_are_followed_transitively() {
        let a = references("job:psi:max > 0.2");
        let r1 = references("max(job:psi:raw)");
        let r2 = references("feature_psi");
        let records: BTreeMap<&str, &References> = [("job:psi:max", &r1), ("job:psi:raw", &r2)]
            .into_iter()
            .collect();
        assert!(expand(&a, &records).names.contains("feature_psi"));
    }

    #[test]
    fn rule_files_and_prometheus_rule_manifests() {
        let text = "groups:\n- name: model\n  rules:\n  - record: job:psi:max\n    expr: max(feature_psi)\n  - alert: PsiHigh\n    expr: job:psi:max > 0.2\n    for: 15m\n    labels:\n      severity: page\n  - alert: NoFor\n    expr: up == 0\n    for: 0s\n    annotations:\n      runbook_url: https://x\n---\napiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nspec:\n  groups:\n  - name: x\n    rules:\n    - alert: Templated\n      expr: '{{ .Values.expr }}'\n";
        let source = Source::new("alerts.yaml", text.to_string());
        let docs = crate::facts::yaml::parse(&source).unwrap();
        let file = extract(&source, &docs);
        assert_eq!(file.records.len(), 1);
        let alerts: Vec<_> = file
            .alerts
            .iter()
            .map(|a| {
                (
                    a.name.as_str(),
                    a.line,
                    a.has_for,
                    a.has_severity,
                    a.has_runbook,
                )
            })
            .collect();
        assert_eq!(
            alerts,
            [
                ("PsiHigh", 6, true, true, false),
                ("NoFor", 11, false, false, true),
                ("Templated", 23, false, false, false)
            ]
        );
        assert!(file.alerts[2].references.names.is_empty());
    }
}
