//! YAML documents (saphyr: YAML 1.2, every node with its position) and what project-level
//! rules need from them: Kubernetes workloads, compose services built here, Backstage owners.

use saphyr::{LoadableYamlNode, MarkedYaml};

use crate::facts::kubernetes::DeployFacts;
use crate::source::Source;

/// Kubernetes kinds that run this project's code for a long time or on a schedule.
const WORKLOAD_KINDS: [&str; 5] = [
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "CronJob",
    "Rollout",
];

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct YamlFacts {
    /// Kubernetes workloads: kind and line.
    pub workloads: Vec<(String, usize)>,
    /// Compose services with a `build:` (built from this repository): name and line.
    pub built_services: Vec<(String, usize)>,
    /// Backstage `catalog-info.yaml` `spec.owner`, with its line.
    pub catalog_owner: Option<(String, usize)>,
    /// What the DEP rules need from the file (filled after the per-file checks, when its
    /// secrets are known and masked).
    pub deploy: DeployFacts,
}

/// Parses every document of a YAML stream. Errors carry the line and column.
pub fn parse(source: &Source) -> Result<Vec<MarkedYaml<'_>>, String> {
    MarkedYaml::load_from_str(&source.text).map_err(|e| {
        format!(
            "{}:{}: {}",
            e.marker().line(),
            e.marker().col() + 1,
            e.info()
        )
    })
}

fn line(node: &MarkedYaml<'_>) -> usize {
    node.span.start.line()
}

pub fn extract(source: &Source, documents: &[MarkedYaml<'_>]) -> YamlFacts {
    let mut facts = YamlFacts::default();
    let name = source.path.rsplit('/').next().unwrap_or_default();
    let is_compose = name.contains("compose") || name.starts_with("docker-compose");
    for doc in documents {
        let kind = doc
            .data
            .as_mapping_get("kind")
            .and_then(|k| k.data.as_str());
        if let Some(kind) = kind
            && WORKLOAD_KINDS.contains(&kind)
            && doc.data.as_mapping_get("apiVersion").is_some()
        {
            facts.workloads.push((kind.to_string(), line(doc)));
        }
        if is_compose
            && let Some(services) = doc
                .data
                .as_mapping_get("services")
                .and_then(|s| s.data.as_mapping())
        {
            for (service, body) in services {
                if body.data.as_mapping_get("build").is_some() {
                    let service_name = service.data.as_str().unwrap_or_default().to_string();
                    facts.built_services.push((service_name, line(service)));
                }
            }
        }
        if name == "catalog-info.yaml" || name == "catalog-info.yml" {
            let owner = doc
                .data
                .as_mapping_get("spec")
                .and_then(|s| s.data.as_mapping_get("owner"));
            if let Some(owner) = owner
                && let Some(text) = owner.data.as_str().filter(|t| !t.trim().is_empty())
            {
                facts
                    .catalog_owner
                    .get_or_insert((text.to_string(), line(owner)));
            }
        }
    }
    facts
}

/// For YAML that does not parse (Helm templates, broken files): workload kinds read line by
/// line, so a templated Deployment still makes the project a service.
pub fn extract_from_text(source: &Source) -> YamlFacts {
    let mut facts = YamlFacts::default();
    let has_api_version = source.text.lines().any(|l| l.starts_with("apiVersion:"));
    // `{{ }}` broke a manifest: a template, which the DEP rules do not guess at. (Other YAML
    // that does not parse, a CI file with `{{ checksum }}`, is a plain parse failure.)
    facts.deploy.templated = source.text.contains("{{")
        && (has_api_version || crate::facts::kubernetes::is_compose_file(&source.path));
    if !has_api_version {
        return facts;
    }
    for (index, text) in source.text.lines().enumerate() {
        if let Some(kind) = text.strip_prefix("kind:") {
            let kind = kind.trim().trim_matches(['"', '\'']);
            if WORKLOAD_KINDS.contains(&kind) {
                facts.workloads.push((kind.to_string(), index + 1));
            }
        }
    }
    facts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(path: &str, text: &str) -> YamlFacts {
        let source = Source::new(path, text.to_string());
        let docs = parse(&source).unwrap();
        extract(&source, &docs)
    }

    #[test]
    fn workloads_compose_builds_and_catalog_owners() {
        let k8s = facts(
            "deploy/app.yaml",
            "apiVersion: v1\nkind: ConfigMap\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app}\n",
        );
        assert_eq!(k8s.workloads, vec![("Deployment".to_string(), 4)]);
        let compose = facts(
            "compose.yaml",
            "services:\n  api:\n    build: .\n  db:\n    image: postgres:16\n",
        );
        assert_eq!(compose.built_services, vec![("api".to_string(), 2)]);
        let catalog = facts(
            "catalog-info.yaml",
            "apiVersion: backstage.io/v1alpha1\nkind: Component\nspec:\n  owner: group:payments\n",
        );
        assert_eq!(
            catalog.catalog_owner,
            Some(("group:payments".to_string(), 4))
        );
    }

    #[test]
    fn templated_manifests_still_show_their_kind() {
        let source = Source::new(
            "chart/templates/deploy.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\n  {{- include \"labels\" . | nindent 4 }}\n".to_string(),
        );
        assert!(parse(&source).is_err());
        assert_eq!(extract_from_text(&source).workloads.len(), 1);
        assert!(extract_from_text(&source).deploy.templated);
        let ci = Source::new(
            ".circleci/config.yml",
            "jobs:\n  build:\n    steps:\n      - restore_cache:\n          key: {{ checksum \"Cargo.lock\" }}-cache\n".to_string(),
        );
        assert!(parse(&ci).is_err());
        assert!(!extract_from_text(&ci).deploy.templated);
    }
}
