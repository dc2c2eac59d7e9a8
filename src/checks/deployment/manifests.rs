//! DEP001-DEP006 over Kubernetes resources.

use saphyr::{MarkedYaml, YamlData};

use crate::facts::kubernetes::{
    self, DeployFacts, Image, Pending, Resource, Unless, WorkloadRef, entry, entry_range, get,
    range,
};
use crate::finding::Finding;
use crate::registry::Code;
use crate::source::Source;

/// Kinds of the Kubernetes API (Argo Rollouts, Traefik routes) that the DEP rules audit, with
/// the API group each belongs to (a prefix; the core group is `v1` exactly): a `Service` of
/// another group (Knative's) is another thing.
const AUDITED: [(&str, &str); 12] = [
    ("Deployment", "apps/"),
    ("StatefulSet", "apps/"),
    ("DaemonSet", "apps/"),
    ("Job", "batch/"),
    ("CronJob", "batch/"),
    ("Service", "v1"),
    ("Ingress", "networking.k8s.io/"),
    ("Ingress", "extensions/"),
    ("HorizontalPodAutoscaler", "autoscaling/"),
    ("Rollout", "argoproj.io/"),
    ("IngressRoute", "traefik."),
    ("TraefikService", "traefik."),
];

fn is_audited(resource: &Resource<'_, '_>) -> bool {
    AUDITED.iter().any(|(kind, group)| {
        resource.kind == *kind
            && if *group == "v1" {
                resource.api_version == "v1"
            } else {
                resource.api_version.starts_with(group)
            }
    })
}

pub fn read(source: &Source, documents: &[MarkedYaml<'_>], facts: &mut DeployFacts) {
    for resource in kubernetes::resources(source, documents) {
        scaler_target(&resource, facts);
        if resource.kind == "LimitRange" {
            facts.limit_range = true;
        }
        if !is_audited(&resource) {
            continue;
        }
        facts.kubernetes.get_or_insert(*resource.lines.start());
        if let Some(allow) = kubernetes::allow_annotation(source, &resource) {
            facts.allows.push(allow);
        }
        let mut rules = Rules {
            source,
            resource: &resource,
            out: &mut facts.findings,
            scaled: &mut facts.scaled,
        };
        rules.sticky_sessions();
        rules.replicas();
        if let Some(pod) = resource.pod_spec() {
            rules.pod(pod);
        }
    }
}

/// The workload an HPA, a KEDA ScaledObject or an Argo Rollout (`workloadRef`) scales.
fn scaler_target(resource: &Resource<'_, '_>, facts: &mut DeployFacts) {
    let (reference, default_kind) = match resource.kind {
        "HorizontalPodAutoscaler" => (resource.get(&["spec", "scaleTargetRef"]), None),
        "ScaledObject" if resource.api_version.starts_with("keda.sh/") => (
            resource.get(&["spec", "scaleTargetRef"]),
            Some("Deployment"),
        ),
        "Rollout" => (resource.get(&["spec", "workloadRef"]), None),
        _ => return,
    };
    let Some(reference) = reference else { return };
    let text = |key: &str| get(reference, &[key]).and_then(|v| v.data.as_str());
    if let (Some(kind), Some(name)) = (text("kind").or(default_kind), text("name")) {
        facts.scaled.push(WorkloadRef {
            kind: kind.to_string(),
            name: name.to_string(),
            namespace: resource.namespace.map(String::from),
        });
    }
}

struct Rules<'a, 'n, 'i> {
    source: &'a Source,
    resource: &'a Resource<'n, 'i>,
    out: &'a mut Vec<Pending>,
    scaled: &'a mut Vec<WorkloadRef>,
}

impl Rules<'_, '_, '_> {
    fn push(&mut self, code: Code, range: std::ops::Range<usize>, message: String, unless: Unless) {
        self.out.push(Pending {
            finding: Finding::at(code, self.source, range, message),
            unless,
        });
    }

    fn describe(&self) -> String {
        match self.resource.name {
            Some(name) => format!("{} `{name}`", self.resource.kind),
            None => self.resource.kind.to_string(),
        }
    }

    /// DEP001: `sessionAffinity: ClientIP`, ingress-nginx cookie affinity, Traefik sticky
    /// cookies (annotation of a Service, or `sticky` in a Traefik route).
    fn sticky_sessions(&mut self) {
        let resource = self.resource;
        if resource.kind == "Service"
            && let Some(spec) = resource.get(&["spec"])
            && let Some((key, value)) = entry(spec, "sessionAffinity")
            && value.data.as_str() == Some("ClientIP")
        {
            let message = format!(
                "{} pins each client to one pod (sessionAffinity: ClientIP)",
                self.describe()
            );
            self.push(
                Code::DEP001,
                entry_range(self.source, key, value),
                message,
                Unless::Never,
            );
        }
        if resource.api_version.starts_with("traefik.")
            && let Some(spec) = resource.get(&["spec"])
        {
            let mut found = Vec::new();
            sticky_cookies(spec, &mut found);
            for (key, value) in found {
                let message = format!(
                    "{} pins clients to one pod with a sticky cookie",
                    self.describe()
                );
                self.push(
                    Code::DEP001,
                    entry_range(self.source, key, value),
                    message,
                    Unless::Never,
                );
            }
        }
        let Some(annotations) = resource.get(&["metadata", "annotations"]) else {
            return;
        };
        for (annotation, sticky_value, what) in crate::facts::kubernetes::STICKY_ANNOTATIONS {
            if let Some((key, value)) = entry(annotations, annotation)
                && value.data.as_str() == Some(sticky_value)
            {
                let message = format!("{} pins clients to one pod with {what}", self.describe());
                self.push(
                    Code::DEP001,
                    entry_range(self.source, key, value),
                    message,
                    Unless::Never,
                );
            }
        }
    }

    /// DEP004: a Deployment with one replica (or none set, which means one) that nothing
    /// scales; an HPA whose minimum is one.
    fn replicas(&mut self) {
        let resource = self.resource;
        let Some((spec_key, spec)) = entry(resource.node, "spec") else {
            return;
        };
        match resource.kind {
            "Deployment" => {
                let Some(workload) = resource.workload_ref() else {
                    return;
                };
                if entry(spec, "replicas")
                    .and_then(|(_, v)| v.data.as_integer())
                    .is_some_and(|n| n >= 2)
                {
                    // Another declaration of it (a base, another overlay) may say one: this
                    // one says it runs several.
                    self.scaled.push(workload);
                    return;
                }
                let (range, message) = match entry(spec, "replicas") {
                    Some((key, value)) if value.data.as_integer() == Some(1) => (
                        entry_range(self.source, key, value),
                        format!(
                            "{} runs a single replica and nothing scales it",
                            self.describe()
                        ),
                    ),
                    Some(_) => return,
                    None => (
                        range(self.source, spec_key),
                        format!(
                            "{} sets no replicas (one by default) and nothing scales it",
                            self.describe()
                        ),
                    ),
                };
                self.push(Code::DEP004, range, message, Unless::Scaled(workload));
            }
            "HorizontalPodAutoscaler" => {
                let (range, message) = match entry(spec, "minReplicas") {
                    Some((key, value)) if value.data.as_integer() == Some(1) => (
                        entry_range(self.source, key, value),
                        format!("{} may scale down to a single replica", self.describe()),
                    ),
                    Some(_) => return,
                    None => (
                        range(self.source, spec_key),
                        format!(
                            "{} sets no minReplicas (one by default): it may scale down to a single replica",
                            self.describe()
                        ),
                    ),
                };
                self.push(Code::DEP004, range, message, Unless::Never);
            }
            _ => {}
        }
    }

    /// DEP002, DEP003, DEP005 and DEP006 over a workload's pod template.
    fn pod(&mut self, pod: &MarkedYaml<'_>) {
        if let Some((key, value)) = entry(pod, "terminationGracePeriodSeconds")
            && value.data.as_integer() == Some(0)
        {
            let message = format!(
                "{} kills its pods without a grace period (terminationGracePeriodSeconds: 0)",
                self.describe()
            );
            self.push(
                Code::DEP006,
                entry_range(self.source, key, value),
                message,
                Unless::Never,
            );
        }
        for container in kubernetes::containers(pod, true) {
            self.image(container);
        }
        for container in kubernetes::containers(pod, false) {
            if self.resource.is_long_running() {
                self.probes(container);
            }
            self.resources(container);
        }
    }

    fn container_name(&self, container: &MarkedYaml<'_>) -> String {
        match get(container, &["name"]).and_then(|n| n.data.as_str()) {
            Some(name) => format!("container `{name}` of {}", self.describe()),
            None => format!("a container of {}", self.describe()),
        }
    }

    /// DEP002: a long-running container without a readiness or a liveness probe.
    fn probes(&mut self, container: &MarkedYaml<'_>) {
        let has = |probe: &str| get(container, &[probe]).is_some();
        let missing = match (has("readinessProbe"), has("livenessProbe")) {
            (true, true) => return,
            (false, false) => "no readiness and no liveness probe",
            (false, true) => "no readiness probe",
            (true, false) => "no liveness probe",
        };
        let message = format!("{} has {missing}", self.container_name(container));
        let at = first_key_range(self.source, container);
        self.push(Code::DEP002, at, message, Unless::Never);
    }

    /// DEP003: a container without a memory limit, or without cpu or memory requests (a limit
    /// set without a request is also the request).
    fn resources(&mut self, container: &MarkedYaml<'_>) {
        let quantity = |section: &str, resource: &str| {
            get(container, &["resources", section, resource]).is_some()
        };
        let mut missing = Vec::new();
        if !quantity("limits", "memory") {
            missing.push("no memory limit");
        }
        for resource in ["cpu", "memory"] {
            if !quantity("requests", resource) && !quantity("limits", resource) {
                missing.push(if resource == "cpu" {
                    "no cpu request"
                } else {
                    "no memory request"
                });
            }
        }
        if missing.is_empty() {
            return;
        }
        let at = match entry(container, "resources") {
            Some((key, _)) => range(self.source, key),
            None => first_key_range(self.source, container),
        };
        let message = format!(
            "{} has {}",
            self.container_name(container),
            missing.join(", ")
        );
        self.push(Code::DEP003, at, message, Unless::LimitRange);
    }

    /// DEP005: an image without a tag, or tagged `latest`, that no kustomization pins.
    fn image(&mut self, container: &MarkedYaml<'_>) {
        let Some((key, value)) = entry(container, "image") else {
            return;
        };
        let Some(image) = value.data.as_str().and_then(Image::parse) else {
            return;
        };
        if !image.is_mutable() {
            return;
        }
        let how = if image.tag.is_some() {
            "the `latest` tag"
        } else {
            "an image without a tag"
        };
        let message = format!("{} runs {how}", self.container_name(container));
        let unless = Unless::ImagePinnedByKustomize(image.repository.to_string());
        self.push(
            Code::DEP005,
            entry_range(self.source, key, value),
            message,
            unless,
        );
    }
}

/// Every `sticky` entry with a `cookie` below a node (Traefik's routes and weighted services).
fn sticky_cookies<'n, 'i>(
    node: &'n MarkedYaml<'i>,
    out: &mut Vec<(&'n MarkedYaml<'i>, &'n MarkedYaml<'i>)>,
) {
    match &node.data {
        YamlData::Mapping(map) => {
            for (key, value) in map {
                if key.data.as_str() == Some("sticky") && get(value, &["cookie"]).is_some() {
                    out.push((key, value));
                } else {
                    sticky_cookies(value, out);
                }
            }
        }
        YamlData::Sequence(items) => items.iter().for_each(|i| sticky_cookies(i, out)),
        _ => {}
    }
}

/// The range of a mapping's first entry: where a `- name: api` container starts.
fn first_key_range(source: &Source, node: &MarkedYaml<'_>) -> std::ops::Range<usize> {
    match &node.data {
        YamlData::Mapping(map) => match map.iter().next() {
            Some((key, value)) => entry_range(source, key, value),
            None => range(source, node),
        },
        _ => range(source, node),
    }
}
