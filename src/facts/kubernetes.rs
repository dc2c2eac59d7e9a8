//! Deployment configuration as the DEP rules read it: Kubernetes resources (multi-document
//! streams, `kind: List`), compose files, and what one file tells about the others (which
//! workloads an autoscaler scales, which images a kustomization pins).
//!
//! A file's DEP findings are built in the per-file phase, while its text is at hand, and decided in the
//! project phase: an HPA in another file, a kustomization's `images`, or a Helm chart around the
//! file can each change the verdict.

use std::collections::BTreeSet;
use std::ops::{Range, RangeInclusive};

use saphyr::{MarkedYaml, YamlData};

use crate::facts::FileFacts;
use crate::finding::{Finding, Site};
use crate::source::{Source, file_name};
use crate::suppress::Allow;

/// The annotation that waives DEP rules for one resource, and its mandatory reason.
pub const ALLOW_ANNOTATION: &str = "prodready.dev/allow";
pub const ALLOW_REASON_ANNOTATION: &str = "prodready.dev/allow-reason";

/// What a YAML file contributes to the DEP rules.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct DeployFacts {
    /// Line of the first Kubernetes resource of a kind the DEP rules audit.
    pub kubernetes: Option<usize>,
    /// Line of the first service of a production compose file.
    pub compose: Option<usize>,
    /// A Helm template, or a file whose `{{ }}` breaks YAML: listed as not audited.
    pub templated: bool,
    /// Findings, each standing unless another file shows otherwise.
    pub findings: Vec<Pending>,
    /// Workloads that an autoscaler or an Argo Rollout scales, or that a kustomization or
    /// another declaration (an overlay's patch) gives two replicas or more.
    pub scaled: Vec<WorkloadRef>,
    /// Image names whose tag or digest a kustomization sets (`images[].name`).
    pub kustomize_images: Vec<String>,
    /// Files a kustomization applies as patches (paths from the root): partial resources,
    /// not audited on their own.
    pub kustomize_patches: Vec<String>,
    /// A LimitRange gives the namespace's containers default requests and limits.
    pub limit_range: bool,
    /// `prodready.dev/allow` annotations, each with the OPS006 finding it earns if ineffective.
    /// Moved into the file's allows once the file is known not to be templated.
    pub allows: Vec<(Allow, Site)>,
}

/// A finding and what would withdraw it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Pending {
    pub finding: Finding,
    pub unless: Unless,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Unless {
    /// The finding stands.
    Never,
    /// Withdrawn when an HPA, a KEDA ScaledObject or an Argo Rollout scales this workload.
    Scaled(WorkloadRef),
    /// Withdrawn when a kustomization sets this image's tag or digest.
    ImagePinnedByKustomize(String),
    /// Withdrawn when a LimitRange gives default requests and limits.
    LimitRange,
    /// Withdrawn when one of these Dockerfiles (paths from the root: the ones a compose
    /// service's `build` may name) declares a HEALTHCHECK, which the built image carries.
    DockerfileHealthcheck(Vec<String>),
}

/// A workload named by kind, name and (if given) namespace.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WorkloadRef {
    pub kind: String,
    pub name: String,
    pub namespace: Option<String>,
}

impl WorkloadRef {
    /// The same workload; a namespace left out on either side (applied with `-n`) matches any.
    pub fn matches(&self, other: &WorkloadRef) -> bool {
        self.kind == other.kind
            && self.name == other.name
            && match (&self.namespace, &other.namespace) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
    }
}

/// One Kubernetes object: a document, or an item of a `kind: List`.
pub struct Resource<'n, 'i> {
    pub api_version: &'n str,
    pub kind: &'n str,
    pub name: Option<&'n str>,
    pub namespace: Option<&'n str>,
    pub node: &'n MarkedYaml<'i>,
    /// The lines it spans, from its first key to its last value.
    pub lines: RangeInclusive<usize>,
}

impl<'n, 'i> Resource<'n, 'i> {
    pub fn get(&self, path: &[&str]) -> Option<&'n MarkedYaml<'i>> {
        get(self.node, path)
    }

    pub fn workload_ref(&self) -> Option<WorkloadRef> {
        Some(WorkloadRef {
            kind: self.kind.to_string(),
            name: self.name?.to_string(),
            namespace: self.namespace.map(String::from),
        })
    }

    /// The pod template's spec of a workload (`Deployment`, `StatefulSet`, `DaemonSet`, `Job`,
    /// `CronJob`, an Argo `Rollout` with its own template).
    pub fn pod_spec(&self) -> Option<&'n MarkedYaml<'i>> {
        match self.kind {
            "Deployment" | "StatefulSet" | "DaemonSet" | "Job" | "Rollout" => {
                self.get(&["spec", "template", "spec"])
            }
            "CronJob" => self.get(&["spec", "jobTemplate", "spec", "template", "spec"]),
            _ => None,
        }
    }

    /// A long-running workload: its pods are expected to stay up and serve.
    pub fn is_long_running(&self) -> bool {
        matches!(self.kind, "Deployment" | "StatefulSet" | "DaemonSet")
    }

    /// The value of one of its `metadata.annotations`, with its node.
    pub fn annotation(&self, key: &str) -> Option<&'n MarkedYaml<'i>> {
        get(self.node, &["metadata", "annotations"]).and_then(|a| entry(a, key).map(|(_, v)| v))
    }
}

/// The value at a path of mapping keys.
pub fn get<'n, 'i>(node: &'n MarkedYaml<'i>, path: &[&str]) -> Option<&'n MarkedYaml<'i>> {
    path.iter()
        .try_fold(node, |node, key| entry(node, key).map(|(_, v)| v))
}

/// A mapping's entry: its key node and its value node.
pub fn entry<'n, 'i>(
    node: &'n MarkedYaml<'i>,
    key: &str,
) -> Option<(&'n MarkedYaml<'i>, &'n MarkedYaml<'i>)> {
    node.data
        .as_mapping()?
        .iter()
        .find(|(k, _)| k.data.as_str() == Some(key))
}

/// The items of a sequence (none for anything else).
pub fn items<'n, 'i>(node: Option<&'n MarkedYaml<'i>>) -> &'n [MarkedYaml<'i>] {
    node.and_then(|n| n.data.as_sequence())
        .map_or(&[], Vec::as_slice)
}

/// A node's byte range (saphyr counts characters).
pub fn range(source: &Source, node: &MarkedYaml<'_>) -> Range<usize> {
    let start = source.byte_of_char(node.span.start.index());
    let end = source.byte_of_char(node.span.end.index());
    start..end.max(start)
}

/// From a mapping key to the end of its value: `replicas: 1`.
pub fn entry_range(source: &Source, key: &MarkedYaml<'_>, value: &MarkedYaml<'_>) -> Range<usize> {
    let start = range(source, key).start;
    let end = match &value.data {
        YamlData::Mapping(_) | YamlData::Sequence(_) => range(source, key).end,
        _ => range(source, value).end,
    };
    start..end.max(start)
}

pub fn line(source: &Source, node: &MarkedYaml<'_>) -> usize {
    source.line_of(range(source, node).start)
}

/// The last character index of a node's content: block collections end where the next token
/// starts, which may be the next resource's first line; scalars end where they end.
fn last_index(node: &MarkedYaml<'_>) -> usize {
    match &node.data {
        YamlData::Mapping(map) => map
            .iter()
            .map(|(k, v)| last_index(k).max(last_index(v)))
            .max()
            .unwrap_or(node.span.start.index()),
        YamlData::Sequence(seq) => seq
            .iter()
            .map(last_index)
            .max()
            .unwrap_or(node.span.start.index()),
        YamlData::Tagged(_, inner) => last_index(inner),
        _ => node.span.end.index(),
    }
}

/// Every Kubernetes object in a stream: documents with an `apiVersion` and a `kind`, and the
/// items of `kind: List` (or `DeploymentList` and the like).
pub fn resources<'n, 'i>(
    source: &Source,
    documents: &'n [MarkedYaml<'i>],
) -> Vec<Resource<'n, 'i>> {
    let mut out = Vec::new();
    for doc in documents {
        collect(source, doc, &mut out);
    }
    out
}

fn collect<'n, 'i>(source: &Source, node: &'n MarkedYaml<'i>, out: &mut Vec<Resource<'n, 'i>>) {
    let text = |key: &str| get(node, &[key]).and_then(|v| v.data.as_str());
    let (Some(api_version), Some(kind)) = (text("apiVersion"), text("kind")) else {
        return;
    };
    if kind.ends_with("List") {
        for item in items(get(node, &["items"])) {
            collect(source, item, out);
        }
        return;
    }
    let start = line(source, node);
    let end = source.line_of(source.byte_of_char(last_index(node)).saturating_sub(1));
    out.push(Resource {
        api_version,
        kind,
        name: get(node, &["metadata", "name"]).and_then(|v| v.data.as_str()),
        namespace: get(node, &["metadata", "namespace"]).and_then(|v| v.data.as_str()),
        node,
        lines: start..=end.max(start),
    });
}

/// The containers of a pod spec, init containers included when `with_init` is set.
pub fn containers<'n, 'i>(
    pod_spec: &'n MarkedYaml<'i>,
    with_init: bool,
) -> impl Iterator<Item = &'n MarkedYaml<'i>> {
    let init = if with_init {
        items(get(pod_spec, &["initContainers"]))
    } else {
        &[]
    };
    items(get(pod_spec, &["containers"]))
        .iter()
        .chain(init)
        .filter(|c| c.data.as_mapping().is_some())
}

/// A container image reference: `[registry[:port]/]repository[:tag][@digest]`.
#[derive(Debug, PartialEq, Eq)]
pub struct Image<'a> {
    pub repository: &'a str,
    pub tag: Option<&'a str>,
    pub digest: bool,
}

impl<'a> Image<'a> {
    /// `None` for a value that is not a literal reference (`${IMAGE}`, `{{ .Values.image }}`).
    pub fn parse(text: &'a str) -> Option<Image<'a>> {
        let text = text.trim();
        if text.is_empty() || text.contains(['$', '{', '}', ' ', '<']) {
            return None;
        }
        let (name, digest) = match text.split_once('@') {
            Some((name, _)) => (name, true),
            None => (text, false),
        };
        let slash = name.rfind('/').map_or(0, |i| i + 1);
        let (repository, tag) = match name[slash..].rfind(':') {
            Some(colon) => (&name[..slash + colon], Some(&name[slash + colon + 1..])),
            None => (name, None),
        };
        Some(Image {
            repository,
            tag,
            digest,
        })
    }

    /// Its tag moves: none (`latest` implied) or `latest`, and no digest pins it.
    pub fn is_mutable(&self) -> bool {
        !self.digest && self.tag.is_none_or(|t| t == "latest")
    }

    /// Whether a kustomization `images[].name` names it (with or without the registry host).
    pub fn named(&self, name: &str) -> bool {
        self.repository == name
            || self
                .repository
                .split_once('/')
                .is_some_and(|(_, path)| path == name)
    }
}

/// A compose file by name: `compose.yaml`, `docker-compose.yml`, `docker-compose.prod.yml`.
pub fn is_compose_file(path: &str) -> bool {
    let name = file_name(path).to_ascii_lowercase();
    let Some(stem) = name
        .strip_suffix(".yaml")
        .or_else(|| name.strip_suffix(".yml"))
    else {
        return false;
    };
    let stem = stem.strip_prefix("docker-").unwrap_or(stem);
    stem == "compose" || stem.starts_with("compose.") || stem.starts_with("compose-")
}

/// Words that name a compose file (or its folder) for development, not production:
/// `docker-compose.dev.yml`, `compose.override.yml`, `compose.local.yaml`, `.devcontainer/`.
const DEVELOPMENT_WORDS: [&str; 9] = [
    "dev",
    "development",
    "devcontainer",
    "local",
    "override",
    "test",
    "tests",
    "ci",
    "e2e",
];

/// A compose file that describes production: not named (or placed) for development.
pub fn is_production_compose_file(path: &str) -> bool {
    if !is_compose_file(path) {
        return false;
    }
    let lower = path.to_ascii_lowercase();
    !lower
        .split(['/', '.', '-', '_'])
        .any(|word| DEVELOPMENT_WORDS.contains(&word))
}

/// A folder that holds a Helm chart's templates: `<chart>/templates/` beside a `Chart.yaml`.
pub fn chart_template_folders(paths: &BTreeSet<String>) -> Vec<String> {
    paths
        .iter()
        .filter_map(|p| {
            let dir = p
                .strip_suffix("Chart.yaml")
                .filter(|d| d.is_empty() || d.ends_with('/'))?;
            Some(format!("{dir}templates/"))
        })
        .collect()
}

/// Annotations that pin clients to one pod with a cookie: key, value, what it is.
pub const STICKY_ANNOTATIONS: [(&str, &str, &str); 2] = [
    (
        "nginx.ingress.kubernetes.io/affinity",
        "cookie",
        "an ingress-nginx affinity cookie",
    ),
    (
        "traefik.ingress.kubernetes.io/service.sticky.cookie",
        "true",
        "a Traefik sticky cookie",
    ),
];

/// Settles what the per-file phase could not know: files with actions under a Helm chart's
/// `templates/` are templated, and the allow annotations of every file that is audited join
/// its allows.
pub fn settle(files: &mut [FileFacts], paths: &BTreeSet<String>) {
    let chart_templates = chart_template_folders(paths);
    let patches: BTreeSet<String> = files
        .iter()
        .filter_map(|f| f.yaml.as_ref())
        .flat_map(|y| y.deploy.kustomize_patches.iter().cloned())
        .collect();
    for file in files {
        // A chart's file with no template action is a plain manifest, audited as one.
        let has_actions = file.helm.as_ref().is_some_and(|h| h.template.is_some());
        let in_chart = has_actions && chart_templates.iter().any(|t| file.path.starts_with(t));
        if patches.contains(&file.path)
            && let Some(yaml) = file.yaml.as_mut()
        {
            // A patch still says what it scales; its own findings and allows would be about a
            // fragment.
            yaml.deploy.findings.clear();
            yaml.deploy.allows.clear();
            yaml.deploy.kubernetes = None;
        }
        let Some(yaml) = file.yaml.as_mut() else {
            continue;
        };
        let deploy = &mut yaml.deploy;
        if in_chart {
            deploy.templated = true;
        }
        if deploy.templated {
            *deploy = DeployFacts {
                templated: true,
                ..DeployFacts::default()
            };
        } else {
            file.allows.append(&mut deploy.allows);
        }
    }
}

/// A path relative to a folder, normalised (`overlays/prod` + `../../base/x.yaml` is
/// `base/x.yaml`); `None` when it leaves the audited root.
pub fn join(dir: &str, relative: &str) -> Option<String> {
    let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
    for part in relative.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            part => parts.push(part),
        }
    }
    Some(parts.join("/"))
}

/// The `prodready.dev/allow` annotation of a resource, as an allow over its lines.
pub fn allow_annotation(source: &Source, resource: &Resource<'_, '_>) -> Option<(Allow, Site)> {
    let annotations = resource.get(&["metadata", "annotations"])?;
    let (key, codes) = entry(annotations, ALLOW_ANNOTATION)?;
    let reason = entry(annotations, ALLOW_REASON_ANNOTATION)
        .map(|(_, value)| shown_text(source, value))
        .unwrap_or_default();
    let allow = Allow::over_lines(
        resource.lines.clone(),
        &shown_text(source, codes),
        &reason,
        entry_range(source, key, codes),
    );
    let site = source.site(allow.range.clone());
    Some((allow, site))
}

/// A scalar's text as shown in reports (through the redaction), unquoted and on one line.
fn shown_text(source: &Source, node: &MarkedYaml<'_>) -> String {
    let shown = source.display(range(source, node));
    let shown = shown.trim();
    let shown = shown
        .strip_prefix(['|', '>'])
        .map_or(shown, |s| s.trim_start_matches(['-', '+']));
    let unquoted = shown
        .strip_prefix(['"', '\''])
        .and_then(|s| s.strip_suffix(['"', '\'']))
        .unwrap_or(shown);
    unquoted.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use saphyr::LoadableYamlNode;

    #[test]
    fn images_tags_and_digests() {
        let image = |t| Image::parse(t).unwrap();
        assert!(image("nginx").is_mutable());
        assert!(image("ghcr.io/acme/api:latest").is_mutable());
        assert!(!image("localhost:5000/api:1.2").is_mutable());
        assert_eq!(image("localhost:5000/api").tag, None);
        assert!(!image("api@sha256:abc").is_mutable());
        assert!(image("ghcr.io/acme/api").named("acme/api"));
        assert_eq!(Image::parse("${IMAGE}"), None);
        assert_eq!(Image::parse("{{ .Values.image }}"), None);
    }

    #[test]
    fn compose_files_for_production_and_development() {
        assert!(is_production_compose_file("compose.yaml"));
        assert!(is_production_compose_file("deploy/docker-compose.prod.yml"));
        assert!(!is_production_compose_file("docker-compose.dev.yml"));
        assert!(!is_production_compose_file("compose.override.yml"));
        assert!(!is_production_compose_file(
            ".devcontainer/docker-compose.yml"
        ));
        assert!(!is_production_compose_file("docker-compose-local.yaml"));
        assert!(!is_compose_file("composer.yaml"));
    }

    #[test]
    fn resources_of_streams_and_lists() {
        let source = Source::new(
            "k.yaml",
            "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Service\n  metadata: {name: a}\n- apiVersion: apps/v1\n  kind: Deployment\n  metadata:\n    name: b\n---\nkind: NotKubernetes\n".to_string(),
        );
        let docs = MarkedYaml::load_from_str(&source.text).unwrap();
        let found = resources(&source, &docs);
        let summary: Vec<_> = found
            .iter()
            .map(|r| (r.kind, r.name, r.lines.clone()))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("Service", Some("a"), 4..=6),
                ("Deployment", Some("b"), 7..=10)
            ]
        );
    }

    #[test]
    fn relative_paths() {
        assert_eq!(
            join("overlays/prod", "../../base/deploy.yaml").as_deref(),
            Some("base/deploy.yaml")
        );
        assert_eq!(join("", "./patch.yaml").as_deref(), Some("patch.yaml"));
        assert_eq!(join("a", "../../x.yaml"), None);
    }

    #[test]
    fn chart_templates() {
        let paths: BTreeSet<String> = ["charts/api/Chart.yaml", "Chart.yaml", "x/NotChart.yaml"]
            .into_iter()
            .map(String::from)
            .collect();
        assert_eq!(
            chart_template_folders(&paths),
            ["templates/", "charts/api/templates/"]
        );
    }
}
