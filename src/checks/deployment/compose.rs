//! DEP001, DEP002, DEP005 and DEP006 over a production compose file's services.
//!
//! DEP002 (a missing healthcheck) is reported only where something acts on health: a service
//! another waits on with `condition: service_healthy`, or a Swarm stack service.

use saphyr::MarkedYaml;

use crate::facts::dockerfile;
use crate::facts::kubernetes::{
    self, DeployFacts, Image, Pending, Unless, entry, entry_range, get,
};
use crate::finding::Finding;
use crate::registry::Code;
use crate::source::{Source, file_name};

pub fn read(source: &Source, documents: &[MarkedYaml<'_>], facts: &mut DeployFacts) {
    let Some(services) = documents
        .first()
        .and_then(|d| get(d, &["services"]))
        .and_then(|s| s.data.as_mapping())
    else {
        return;
    };
    // One-shot services (migrations) that others wait to complete: no health to check.
    let one_shot = awaited(services, "service_completed_successfully");
    let waited_healthy = awaited(services, "service_healthy");
    let dir = source.path.rsplit_once('/').map_or("", |(dir, _)| dir);
    for (key, body) in services {
        let Some(name) = key.data.as_str() else {
            continue;
        };
        if body.data.as_mapping().is_none() {
            continue;
        }
        facts.compose.get_or_insert(kubernetes::line(source, key));
        let mut push = |code: Code, range, message: String, unless: Unless| {
            facts.findings.push(Pending {
                finding: Finding::at(code, source, range, message),
                unless,
            });
        };
        // A merge key or `extends` brings settings this file does not show.
        let inherits = entry(body, "<<").is_some() || entry(body, "extends").is_some();
        let runs_once = get(body, &["restart"]).and_then(|r| r.data.as_str()) == Some("no")
            || one_shot.iter().any(|(dependency, _)| *dependency == name);
        if !inherits
            && !runs_once
            && entry(body, "healthcheck").is_none()
            && let Some(message) = health_acted_on(&source.path, name, body, &waited_healthy)
            && let Some(unless) = unless_image_checks(dir, body)
        {
            push(
                Code::DEP002,
                kubernetes::range(source, key),
                message,
                unless,
            );
        }
        if entry(body, "build").is_none()
            && let Some((image_key, value)) = entry(body, "image")
            && let Some(image) = value.data.as_str().and_then(Image::parse)
            && image.is_mutable()
        {
            let how = if image.tag.is_some() {
                "the `latest` tag"
            } else {
                "an image without a tag"
            };
            push(
                Code::DEP005,
                entry_range(source, image_key, value),
                format!("compose service `{name}` runs {how}"),
                Unless::Never,
            );
        }
        if let Some((grace_key, value)) = entry(body, "stop_grace_period")
            && is_zero_duration(value)
        {
            push(
                Code::DEP006,
                entry_range(source, grace_key, value),
                format!("compose service `{name}` is killed without a grace period"),
                Unless::Never,
            );
        }
        for (label_key, label_value) in sticky_labels(body) {
            push(
                Code::DEP001,
                entry_range(source, label_key, label_value),
                format!(
                    "compose service `{name}` pins clients to one instance with a Traefik sticky cookie"
                ),
                Unless::Never,
            );
        }
    }
}

/// Every `(dependency, dependent)` where the dependent's `depends_on` waits on `condition`.
fn awaited<'n>(
    services: &'n saphyr::AnnotatedMapping<'n, MarkedYaml<'n>>,
    condition: &str,
) -> Vec<(&'n str, &'n str)> {
    services
        .iter()
        .filter_map(|(dependent, body)| {
            let deps = get(body, &["depends_on"])?.data.as_mapping()?;
            Some((dependent.data.as_str()?, deps))
        })
        .flat_map(|(dependent, deps)| {
            deps.iter()
                .filter(|(_, d)| {
                    get(d, &["condition"]).and_then(|c| c.data.as_str()) == Some(condition)
                })
                .filter_map(move |(dependency, _)| Some((dependency.data.as_str()?, dependent)))
        })
        .collect()
}

/// Keys of `deploy` that only Docker Swarm reads: a service that sets one is deployed as a
/// stack, where health decides rolling updates and task replacement.
const SWARM_ONLY_DEPLOY_KEYS: [&str; 4] = [
    "placement",
    "update_config",
    "rollback_config",
    "endpoint_mode",
];

/// Why a missing healthcheck matters for this service, if anything acts on its health. Plain
/// compose neither restarts nor reroutes an unhealthy container, so there it matters only
/// when another service waits for it to be healthy; a Swarm stack (a `deploy` section in a
/// file named for a stack or swarm, or a Swarm-only `deploy` key) acts on it.
fn health_acted_on(
    path: &str,
    name: &str,
    body: &MarkedYaml<'_>,
    waited_healthy: &[(&str, &str)],
) -> Option<String> {
    if let Some((_, dependent)) = waited_healthy
        .iter()
        .find(|(dependency, _)| *dependency == name)
    {
        return Some(format!(
            "compose service `{name}` has no healthcheck, yet `{dependent}` waits for it with `condition: service_healthy`: unless its image declares a HEALTHCHECK, compose never starts `{dependent}`"
        ));
    }
    let deploy = get(body, &["deploy"])?;
    let stack_file = file_name(path)
        .to_ascii_lowercase()
        .split(['.', '-', '_'])
        .any(|word| matches!(word, "stack" | "swarm"));
    let swarm_only = SWARM_ONLY_DEPLOY_KEYS
        .iter()
        .any(|key| entry(deploy, key).is_some());
    (stack_file || swarm_only).then(|| {
        format!(
            "Swarm service `{name}` has no healthcheck: Swarm counts a task healthy once it starts, so a rolling update goes on over a task that cannot serve and a hung task is never replaced"
        )
    })
}

/// What withdraws a missing healthcheck: the Dockerfile the service is built from declaring
/// one (its image carries it). `None` when an inline Dockerfile declares one already.
fn unless_image_checks(dir: &str, body: &MarkedYaml<'_>) -> Option<Unless> {
    let Some((_, build)) = entry(body, "build") else {
        return Some(Unless::Never);
    };
    let text = |node: &MarkedYaml<'_>, key: &str| {
        get(node, &[key])
            .and_then(|v| v.data.as_str())
            .map(String::from)
    };
    if let Some(inline) = text(build, "dockerfile_inline") {
        return dockerfile::healthcheck_line(&inline)
            .is_none()
            .then_some(Unless::Never);
    }
    let context = build
        .data
        .as_str()
        .map(String::from)
        .or_else(|| text(build, "context"))
        .unwrap_or_else(|| ".".to_string());
    // A remote context (a Git URL) is not in the tree.
    if context.contains("://") || context.starts_with("git@") {
        return Some(Unless::Never);
    }
    let names = match text(build, "dockerfile") {
        Some(name) => vec![name],
        None => vec!["Dockerfile".to_string(), "Containerfile".to_string()],
    };
    let paths = kubernetes::join(dir, &context)
        .map(|context| {
            names
                .iter()
                .filter_map(|name| kubernetes::join(&context, name))
                .collect()
        })
        .unwrap_or_default();
    Some(Unless::DockerfileHealthcheck(paths))
}

fn is_zero_duration(value: &MarkedYaml<'_>) -> bool {
    value.data.as_integer() == Some(0)
        || value
            .data
            .as_str()
            .is_some_and(|t| matches!(t.trim(), "0" | "0s" | "0ms"))
}

/// Traefik labels that turn on a sticky cookie: `traefik.http.services.<s>.loadbalancer.sticky.cookie`
/// (or one of its `.name`, `.secure` options), as a mapping or as `key=value` items. The key
/// node is the label's own line.
fn sticky_labels<'n, 'i>(
    body: &'n MarkedYaml<'i>,
) -> Vec<(&'n MarkedYaml<'i>, &'n MarkedYaml<'i>)> {
    let is_sticky = |key: &str, value: &str| {
        key.starts_with("traefik.") && key.contains(".sticky.cookie") && value.trim() != "false"
    };
    let Some(labels) = get(body, &["labels"]) else {
        return Vec::new();
    };
    if let Some(map) = labels.data.as_mapping() {
        return map
            .iter()
            .filter(|(k, v)| {
                let value = v
                    .data
                    .as_str()
                    .map(String::from)
                    .or_else(|| v.data.as_bool().map(|b| b.to_string()))
                    .unwrap_or_default();
                k.data.as_str().is_some_and(|k| is_sticky(k, &value))
            })
            .collect();
    }
    kubernetes::items(Some(labels))
        .iter()
        .filter(|item| {
            item.data
                .as_str()
                .and_then(|t| t.split_once('='))
                .is_some_and(|(k, v)| is_sticky(k.trim(), v))
        })
        .map(|item| (item, item))
        .collect()
}
