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
        if enabled(Code::DEP001) {
            self.affinity(out);
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

    fn affinity(&self, out: &mut Vec<Finding>) {
        let sticky = self.chart.values.iter().find(|(path, entry)| {
            let value = match &entry.value {
                Value::Scalar(v) => v.to_ascii_lowercase(),
                _ => return false,
            };
            (path.ends_with("sessionAffinity") && value == "clientip")
                || (path.ends_with("affinity") && path.contains("ingress") && value == "cookie")
        });
        if let Some((_, entry)) = sticky {
            self.report(
                Code::DEP001,
                &entry.site,
                "pins clients to one pod by default (session affinity)".to_string(),
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

fn is_empty(value: &Value) -> bool {
    matches!(value, Value::EmptyMap | Value::Null)
}
