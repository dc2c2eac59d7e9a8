//! DEP: deployment configuration — whether the orchestrator can spread load, see a sick
//! instance, bound it, keep more than one, roll back to a known image and stop it gently.
//!
//! Kubernetes manifests and compose files are read in the per-file phase (`facts`) into findings that
//! the project phase confirms (`check_project`): an HPA elsewhere scales a Deployment, a
//! kustomization pins a base's image, a LimitRange gives containers their defaults, a Helm
//! chart makes a file a template. Rust servers are read per file (`shutdown`).

mod compose;
mod helm;
mod manifests;
mod shutdown;

use saphyr::MarkedYaml;

use super::{FileContext, Parsed, ProjectContext, TreeQuery};
use crate::facts::kubernetes::{self, DeployFacts, Image, Unless, WorkloadRef};
use crate::finding::Finding;
use crate::registry::{Category, Code};
use crate::roles::Role;
use crate::source::{Source, file_name};

pub fn check_file(ctx: &FileContext<'_>, parsed: &Parsed<'_>, out: &mut Vec<Finding>) {
    if ctx.rules.enabled(Code::DEP006)
        && let Some(rust) = &parsed.rust
    {
        shutdown::check(ctx, rust, out);
    }
}

/// DEP006 reads a server binary's root file (see `shutdown::may_report`).
pub fn needs_tree(query: &TreeQuery<'_>) -> bool {
    query.live(Code::DEP006) && shutdown::may_report(query.ctx)
}

pub fn gate_words() -> Vec<String> {
    Vec::new()
}

/// What a parsed YAML file holds for the DEP rules: its findings, each pending what other files
/// say, and what it says about other files.
pub fn facts(source: &Source, documents: &[MarkedYaml<'_>]) -> DeployFacts {
    let mut facts = DeployFacts::default();
    if kubernetes::is_production_compose_file(&source.path) {
        compose::read(source, documents, &mut facts);
    }
    let name = file_name(&source.path);
    if matches!(
        name,
        "kustomization.yaml" | "kustomization.yml" | "Kustomization"
    ) {
        let dir = source.path.rsplit_once('/').map_or("", |(dir, _)| dir);
        for doc in documents {
            kustomize_patches(doc, dir, &mut facts);
            for image in kubernetes::items(kubernetes::get(doc, &["images"])) {
                let pins = ["newTag", "digest"]
                    .iter()
                    .any(|k| kubernetes::get(image, &[k]).is_some());
                if pins
                    && let Some(name) =
                        kubernetes::get(image, &["name"]).and_then(|n| n.data.as_str())
                {
                    facts.kustomize_images.push(name.to_string());
                }
            }
        }
    }
    manifests::read(source, documents, &mut facts);
    facts
}

/// What a kustomization changes in its resources: the files it applies as patches, and the
/// Deployments its `replicas` entries give two or more.
fn kustomize_patches(doc: &MarkedYaml<'_>, dir: &str, facts: &mut DeployFacts) {
    let text = |node: &MarkedYaml<'_>| node.data.as_str().map(String::from);
    let patch_paths = ["patchesStrategicMerge", "patches", "patchesJson6902"]
        .iter()
        .flat_map(|key| kubernetes::items(kubernetes::get(doc, &[key])))
        .filter_map(|patch| {
            text(patch).or_else(|| kubernetes::get(patch, &["path"]).and_then(text))
        });
    for path in patch_paths {
        if let Some(path) = kubernetes::join(dir, &path) {
            facts.kustomize_patches.push(path);
        }
    }
    for entry in kubernetes::items(kubernetes::get(doc, &["replicas"])) {
        let count = kubernetes::get(entry, &["count"]).and_then(|c| c.data.as_integer());
        if let (Some(name), Some(2..)) = (kubernetes::get(entry, &["name"]).and_then(text), count) {
            facts.scaled.push(WorkloadRef {
                kind: "Deployment".to_string(),
                name,
                namespace: None,
            });
        }
    }
}

pub fn check_project(ctx: &ProjectContext<'_>, out: &mut Vec<Finding>) {
    if !ctx.rules.any_in(Category::Deployment) {
        return;
    }
    let production = || {
        ctx.files
            .iter()
            .filter(|f| f.role == Role::Production)
            .filter_map(|f| f.yaml.as_ref())
            .map(|y| &y.deploy)
    };
    let withdrawn = |unless: &Unless| match unless {
        Unless::Never => false,
        Unless::Scaled(workload) => production()
            .flat_map(|d| &d.scaled)
            .any(|s| s.matches(workload)),
        Unless::ImagePinnedByKustomize(repository) => {
            let image = Image {
                repository,
                tag: None,
                digest: false,
            };
            production()
                .flat_map(|d| &d.kustomize_images)
                .any(|name| image.named(name))
        }
        Unless::LimitRange => production().any(|d| d.limit_range),
        // The image is what runs, whatever the Dockerfile's own role.
        Unless::DockerfileHealthcheck(paths) => ctx
            .files
            .iter()
            .any(|f| f.dockerfile_healthcheck.is_some() && paths.contains(&f.path)),
    };
    for file in ctx.files {
        let Some(yaml) = &file.yaml else { continue };
        for pending in &yaml.deploy.findings {
            if ctx.rules.enabled(pending.finding.rule.code) && !withdrawn(&pending.unless) {
                out.push(pending.finding.clone());
            }
        }
    }
    helm::check(ctx, out);
}
