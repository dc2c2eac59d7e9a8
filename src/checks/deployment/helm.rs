//! The DEP rules on Helm charts, judged without rendering: each workload template, with the
//! values it reads from the chart's defaults (overlaid with a production values file). A
//! finding stands on the values line that decides it (`resources: {}`, `replicaCount: 1`,
//! `tag: latest`) or on the template's `kind:` line when the template writes nothing at all.
//! What cannot be told (a key built by a helper template, a value no file sets) is not judged.

use crate::checks::ProjectContext;
use crate::facts::helm::{ChartView, Template, Value, ValuesRef};
use crate::finding::{Finding, Site};
use crate::registry::Code;

pub fn check(ctx: &ProjectContext<'_>, out: &mut Vec<Finding>) {
    for chart in crate::facts::helm::charts(ctx.files) {
        if chart.not_audited.is_some() {
            continue;
        }
        if ctx.rules.enabled(Code::DEP001) {
            sticky_sessions(&chart, out);
        }
        for (_, template) in &chart.templates {
            for (kind, site) in &template.workloads {
                let workload = Workload {
                    chart: &chart,
                    template,
                    kind,
                    site,
                };
                workload.judge(ctx, out);
            }
        }
    }
}

struct Workload<'a> {
    chart: &'a ChartView<'a>,
    template: &'a Template,
    kind: &'a str,
    site: &'a Site,
}

/// Where a key a template writes stands: written literally, read from a value (and that
/// value's entry, if a values file sets it), absent, or not known (a named template writes a
/// block of the workload).
enum Written<'a> {
    Literally,
    FromValues(&'a ValuesRef, Option<&'a crate::facts::helm::Entry>),
    Absent,
    Unknown,
}

impl Workload<'_> {
    fn judge(&self, ctx: &ProjectContext<'_>, out: &mut Vec<Finding>) {
        let enabled = |code| ctx.rules.enabled(code);
        if enabled(Code::DEP002) {
            for probe in ["livenessProbe", "readinessProbe"] {
                self.probe(probe, out);
            }
        }
        if enabled(Code::DEP003) {
            self.resources(out);
        }
        if enabled(Code::DEP004) {
            self.replicas(out);
        }
        if enabled(Code::DEP005) {
            self.image(out);
        }
    }

    fn written(&self, key: &str) -> Written<'_> {
        let values = &self.chart.values;
        let from_values =
            self.template.refs.iter().find(|r| {
                r.under.as_deref() == Some(key) || r.path.rsplit('.').next() == Some(key)
            });
        let inside_a_value = || {
            let refs = self.template.refs.iter();
            refs.clone()
                .any(|r| values.contains_key(&format!("{}.{key}", r.path)))
        };
        match from_values {
            Some(reference) => Written::FromValues(reference, values.get(&reference.path).copied()),
            None if self.template.keys.contains_key(key) || inside_a_value() => Written::Literally,
            None if !self.template.opaque_blocks.is_empty() => Written::Unknown,
            None => Written::Absent,
        }
    }

    fn report(&self, code: Code, site: &Site, what: String, out: &mut Vec<Finding>) {
        let message = format!(
            "Helm chart `{}`: the {} of {} {what}",
            self.chart.name,
            self.kind,
            self.site
                .path
                .strip_prefix(&self.chart.dir)
                .unwrap_or(&self.site.path)
        );
        out.push(Finding::at_site(code, site.clone(), message));
    }

    fn probe(&self, probe: &str, out: &mut Vec<Finding>) {
        let name = if probe == "livenessProbe" {
            "liveness"
        } else {
            "readiness"
        };
        match self.written(probe) {
            Written::Literally => {}
            Written::FromValues(_, Some(entry)) if is_empty(&entry.value) => self.report(
                Code::DEP002,
                &entry.site,
                format!("reads its {name} probe from values that leave it empty"),
                out,
            ),
            Written::FromValues(..) | Written::Unknown => {}
            Written::Absent => {
                self.report(Code::DEP002, self.site, format!("has no {name} probe"), out)
            }
        }
    }

    fn resources(&self, out: &mut Vec<Finding>) {
        match self.written("resources") {
            Written::Literally => {}
            Written::FromValues(reference, Some(entry)) => {
                let limit = format!("{}.limits.memory", reference.path);
                if !self.chart.values.contains_key(&limit) {
                    self.report(
                        Code::DEP003,
                        &entry.site,
                        "reads its resources from values that set no memory limit".to_string(),
                        out,
                    );
                }
            }
            Written::FromValues(_, None) | Written::Unknown => {}
            Written::Absent => self.report(
                Code::DEP003,
                self.site,
                "sets no resources".to_string(),
                out,
            ),
        }
    }

    fn replicas(&self, out: &mut Vec<Finding>) {
        let autoscaled = ["autoscaling.enabled", "hpa.enabled", "autoscaler.enabled"]
            .iter()
            .any(|k| self.scalar(k) == Some("true"));
        if self.kind != "Deployment" || autoscaled {
            return;
        }
        if let Written::FromValues(_, Some(entry)) = self.written("replicas")
            && entry.value == Value::Scalar("1".to_string())
        {
            self.report(
                Code::DEP004,
                &entry.site,
                "runs one replica by default: an outage on every node drain".to_string(),
                out,
            );
        }
    }

    fn image(&self, out: &mut Vec<Finding>) {
        let tag = self
            .template
            .refs
            .iter()
            .find(|r| r.under.as_deref() == Some("image") && r.path.ends_with("tag"));
        let Some(tag) = tag else { return };
        let Some(entry) = self.chart.values.get(&tag.path) else {
            return;
        };
        let mutable = match &entry.value {
            Value::Scalar(value) => value == "latest" || (value.is_empty() && !tag.defaulted),
            Value::Null => !tag.defaulted,
            _ => false,
        };
        if mutable {
            self.report(
                Code::DEP005,
                &entry.site,
                "deploys its image without a pinned tag by default".to_string(),
                out,
            );
        }
    }

    fn scalar(&self, path: &str) -> Option<&str> {
        match &self.chart.values.get(path)?.value {
            Value::Scalar(value) => Some(value),
            _ => None,
        }
    }
}

/// DEP001 once per chart: affinity a template writes, and affinity values a template reads.
fn sticky_sessions(chart: &ChartView<'_>, out: &mut Vec<Finding>) {
    let report = |site: &Site, what: &str, out: &mut Vec<Finding>| {
        let message = format!(
            "Helm chart `{}` pins clients to one pod with {what}",
            chart.name
        );
        out.push(Finding::at_site(Code::DEP001, site.clone(), message));
    };
    for (_, template) in &chart.templates {
        for (site, what) in &template.sticky {
            report(site, what, out);
        }
    }
    let read = |path: &str| {
        let refs = chart.templates.iter().flat_map(|(_, t)| &t.refs);
        refs.clone().any(|r| {
            path == r.path
                || path
                    .strip_prefix(r.path.as_str())
                    .is_some_and(|rest| rest.starts_with('.'))
        })
    };
    for (path, entry) in &chart.values {
        let Value::Scalar(value) = &entry.value else {
            continue;
        };
        let value = value.to_ascii_lowercase();
        let what = if path.ends_with("sessionAffinity") && value == "clientip" {
            "`sessionAffinity: ClientIP` by default"
        } else if path.ends_with("affinity") && path.contains("ingress") && value == "cookie" {
            "an ingress affinity cookie by default"
        } else {
            continue;
        };
        if read(path) {
            report(&entry.site, what, out);
        }
    }
}

fn is_empty(value: &Value) -> bool {
    matches!(value, Value::EmptyMap | Value::Null)
}
