//! DEP001, DEP002, DEP005 and DEP006 over a production compose file's services.

use saphyr::MarkedYaml;

use crate::facts::kubernetes::{
    self, DeployFacts, Image, Pending, Unless, entry, entry_range, get,
};
use crate::finding::Finding;
use crate::registry::Code;
use crate::source::Source;

pub fn read(source: &Source, documents: &[MarkedYaml<'_>], facts: &mut DeployFacts) {
    let Some(services) = documents
        .first()
        .and_then(|d| get(d, &["services"]))
        .and_then(|s| s.data.as_mapping())
    else {
        return;
    };
    // One-shot services (migrations) that others wait to complete: no health to check.
    let one_shot: Vec<&str> = services
        .values()
        .filter_map(|body| get(body, &["depends_on"])?.data.as_mapping())
        .flat_map(|deps| deps.iter())
        .filter(|(_, d)| {
            get(d, &["condition"]).and_then(|c| c.data.as_str())
                == Some("service_completed_successfully")
        })
        .filter_map(|(name, _)| name.data.as_str())
        .collect();
    for (key, body) in services {
        let Some(name) = key.data.as_str() else {
            continue;
        };
        if body.data.as_mapping().is_none() {
            continue;
        }
        facts.compose.get_or_insert(kubernetes::line(source, key));
        let mut push = |code: Code, range, message: String| {
            facts.findings.push(Pending {
                finding: Finding::at(code, source, range, message),
                unless: Unless::Never,
            });
        };
        // A merge key or `extends` brings settings this file does not show.
        let inherits = entry(body, "<<").is_some() || entry(body, "extends").is_some();
        let runs_once = get(body, &["restart"]).and_then(|r| r.data.as_str()) == Some("no")
            || one_shot.contains(&name);
        if !inherits && !runs_once && entry(body, "healthcheck").is_none() {
            push(
                Code::DEP002,
                kubernetes::range(source, key),
                format!("compose service `{name}` has no healthcheck"),
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
            );
        }
        if let Some((grace_key, value)) = entry(body, "stop_grace_period")
            && is_zero_duration(value)
        {
            push(
                Code::DEP006,
                entry_range(source, grace_key, value),
                format!("compose service `{name}` is killed without a grace period"),
            );
        }
        for (label_key, label_value) in sticky_labels(body) {
            push(
                Code::DEP001,
                entry_range(source, label_key, label_value),
                format!(
                    "compose service `{name}` pins clients to one instance with a Traefik sticky cookie"
                ),
            );
        }
    }
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
