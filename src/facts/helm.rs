//! Helm charts, read without rendering: what a template writes (its workloads, the keys it
//! writes literally, the `.Values` it reads and under which key), what a values file sets, and
//! what `Chart.yaml` declares. The DEP rules judge a chart's workloads through its templates
//! and its default values (overlaid with a production values file); a chart that cannot be
//! read that way stays "not audited", with the reason.

use std::collections::BTreeMap;

use saphyr::{MarkedYaml, Scalar, YamlData};
use serde::{Deserialize, Serialize};

use crate::facts::FileFacts;
use crate::finding::Site;
use crate::source::Source;

/// Kinds whose pods run the chart's code for a long time.
pub const WORKLOAD_KINDS: [&str; 4] = ["Deployment", "StatefulSet", "DaemonSet", "Rollout"];

/// Keys whose literal presence in a template the DEP rules ask about.
const KEYS: [&str; 5] = [
    "livenessProbe",
    "readinessProbe",
    "resources",
    "replicas",
    "image",
];

/// What one file of a chart says.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct HelmFile {
    pub template: Option<Template>,
    pub values: Option<Values>,
    pub chart: Option<Chart>,
}

/// A template, read line by line.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Template {
    /// The workloads it defines (`kind: Deployment`), each with where it is written.
    pub workloads: Vec<(String, Site)>,
    /// Keys of `KEYS` it writes literally (`livenessProbe:`), each with where.
    pub keys: BTreeMap<String, Site>,
    /// The values it reads.
    pub refs: Vec<ValuesRef>,
    /// Named templates it writes as blocks of its own (`{{- include "app.container" . | nindent 8 }}`)
    /// whose content is neither a value nor a label: what keys they write is not known.
    pub opaque_blocks: Vec<String>,
    /// Why it cannot be read without rendering, if it cannot.
    pub unreadable: Option<String>,
    /// Session affinity it writes literally (`sessionAffinity: ClientIP`, a sticky-cookie
    /// annotation): each line, and what it is.
    #[serde(default)]
    pub sticky: Vec<(Site, String)>,
}

/// A literal setting that pins clients to one pod besides the sticky annotations: key, value
/// (lowercase, unquoted), what it is.
const SESSION_AFFINITY: (&str, &str, &str) =
    ("sessionAffinity", "clientip", "`sessionAffinity: ClientIP`");

/// A `.Values.a.b` read by a template action.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ValuesRef {
    /// `a.b`.
    pub path: String,
    /// The YAML key it is written under: on its line (`replicas: {{ .Values.replicaCount }}`)
    /// or the enclosing one (`resources:` above `{{- toYaml .Values.resources | nindent 12 }}`).
    pub under: Option<String>,
    /// The action falls back to a default (`{{ .Values.image.tag | default .Chart.AppVersion }}`).
    pub defaulted: bool,
}

/// A values file's settings, by dotted path.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Values {
    pub entries: BTreeMap<String, Entry>,
    /// Why the file cannot be read as values (its document is not a mapping).
    pub unreadable: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    pub value: Value,
    pub site: Site,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Value {
    Scalar(String),
    Null,
    EmptyMap,
    Map,
    List,
}

/// What `Chart.yaml` declares.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Chart {
    pub name: String,
    /// Dependencies: name and repository.
    pub dependencies: Vec<(String, String)>,
}

/// Whether a file is a chart's values file (`values.yaml`, `values-prod.yaml`).
pub fn is_values_file(path: &str) -> bool {
    let name = crate::source::file_name(path);
    name.starts_with("values") && (name.ends_with(".yaml") || name.ends_with(".yml"))
}

/// Reads a template's text. Every `{{` must close on its line or later; an action left open
/// makes the template unreadable.
pub fn template(source: &Source) -> Template {
    let mut template = Template::default();
    if let Some(reason) = unbalanced(&source.text) {
        template.unreadable = Some(reason);
        return template;
    }
    // The keys open at each indentation, innermost last.
    let mut open: Vec<(usize, String)> = Vec::new();
    let mut offset = 0;
    for line in source.text.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        let key = literal_key(trimmed);
        if let Some(key) = &key {
            open.retain(|(at, _)| *at < indent);
            open.push((indent, key.clone()));
            let key_start = start + indent;
            if KEYS.contains(&key.as_str()) {
                let site = source.site(key_start..key_start + key.len());
                template.keys.entry(key.clone()).or_insert(site);
            }
            let value = trimmed.split_once(':').map_or("", |(_, v)| v);
            let value = value.split(" #").next().unwrap_or_default().trim();
            let value = value.trim_matches(['"', '\'']).to_ascii_lowercase();
            let sticky = std::iter::once(&SESSION_AFFINITY)
                .chain(&super::kubernetes::STICKY_ANNOTATIONS)
                .find(|(k, v, _)| *k == key && *v == value);
            if let Some((_, _, what)) = sticky {
                let site = source.site(key_start..start + line.trim_end().len());
                template.sticky.push((site, what.to_string()));
            }
            if key == "kind"
                && let Some(kind) = trimmed["kind:".len()..].split('#').next().map(str::trim)
                && WORKLOAD_KINDS.contains(&kind)
            {
                template.workloads.push((
                    kind.to_string(),
                    source.site(key_start..start + line.trim_end().len()),
                ));
            }
        }
        let under = key.or_else(|| {
            open.iter()
                .rev()
                .find(|(at, _)| *at < indent)
                .map(|(_, k)| k.clone())
        });
        let block = trimmed
            .strip_prefix("- ")
            .unwrap_or(trimmed)
            .starts_with("{{");
        for action in actions(line) {
            if block && let Some(name) = opaque_block(action) {
                template.opaque_blocks.push(name);
            }
            for path in values_paths(action) {
                template.refs.push(ValuesRef {
                    path,
                    under: under.clone(),
                    defaulted: action.contains("default"),
                });
            }
        }
    }
    template
}

/// Why a template's actions do not balance: `{{` left open, or `}}` with none open.
fn unbalanced(text: &str) -> Option<String> {
    let opens = text.matches("{{").count();
    let closes = text.matches("}}").count();
    (opens != closes)
        .then(|| format!("its `{{{{` and `}}}}` do not balance ({opens} opened, {closes} closed)"))
}

/// The named template an action writes, when what it writes cannot be known without rendering:
/// not a value (`include "tplvalues.render" (dict "value" .Values.env)`), not labels or a name.
fn opaque_block(action: &str) -> Option<String> {
    const KNOWN_SUFFIXES: [&str; 7] = [
        "labels",
        "annotations",
        "name",
        "chart",
        "image",
        "tag",
        "version",
    ];
    if action.contains(".Values.") {
        return None;
    }
    if action.contains(".Files.")
        || action
            .trim_start_matches('-')
            .trim_start()
            .starts_with("tpl ")
    {
        return Some(action.trim().to_string());
    }
    let name = ["include \"", "template \""]
        .iter()
        .find_map(|verb| action.split_once(verb))
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(name, _)| name)?;
    let lower = name.to_ascii_lowercase();
    let known = KNOWN_SUFFIXES.iter().any(|suffix| lower.ends_with(suffix));
    (!known).then(|| name.to_string())
}

/// `name:` at the start of a (trimmed) line, also as a list item (`- name:`).
fn literal_key(trimmed: &str) -> Option<String> {
    let trimmed = trimmed.strip_prefix("- ").unwrap_or(trimmed);
    let end = trimmed.find(':')?;
    let key = &trimmed[..end];
    let valid = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.' || c == '/');
    valid.then(|| key.to_string())
}

/// The `{{ .. }}` actions of a line.
fn actions(line: &str) -> impl Iterator<Item = &str> {
    line.split("{{")
        .skip(1)
        .filter_map(|rest| rest.split_once("}}").map(|(action, _)| action))
}

/// The `.Values.a.b` paths an action reads.
fn values_paths(action: &str) -> Vec<String> {
    action
        .match_indices(".Values.")
        .map(|(at, found)| {
            action[at + found.len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.')
                .collect::<String>()
                .trim_end_matches('.')
                .to_string()
        })
        .filter(|p| !p.is_empty())
        .collect()
}

/// Reads a values file's parsed documents (the first one).
pub fn values(source: &Source, documents: &[MarkedYaml<'_>]) -> Values {
    let mut values = Values::default();
    match documents.first().map(|d| &d.data) {
        None | Some(YamlData::Mapping(_)) => {}
        Some(_) => {
            values.unreadable = Some("its document is not a mapping".to_string());
            return values;
        }
    }
    if let Some(doc) = documents.first() {
        walk(source, doc, "", &mut values.entries);
    }
    values
}

fn walk(source: &Source, node: &MarkedYaml<'_>, path: &str, out: &mut BTreeMap<String, Entry>) {
    let YamlData::Mapping(map) = &node.data else {
        return;
    };
    for (key, value) in map {
        let Some(name) = scalar(key) else { continue };
        let path = if path.is_empty() {
            name
        } else {
            format!("{path}.{name}")
        };
        let value_kind = match &value.data {
            YamlData::Mapping(m) if m.is_empty() => Value::EmptyMap,
            YamlData::Mapping(_) => Value::Map,
            YamlData::Sequence(_) => Value::List,
            YamlData::Value(Scalar::Null) => Value::Null,
            _ => scalar(value).map_or(Value::Null, Value::Scalar),
        };
        let start = source.byte_of_char(key.span.start.index());
        let end = source.byte_of_char(value.span.end.index()).max(start);
        let line_end = source.line_range(source.line_of(start)).end;
        let site = source.site(start..end.min(line_end).max(start));
        out.insert(
            path.clone(),
            Entry {
                value: value_kind,
                site,
            },
        );
        walk(source, value, &path, out);
    }
}

fn scalar(node: &MarkedYaml<'_>) -> Option<String> {
    match &node.data {
        YamlData::Value(Scalar::String(s)) => Some(s.to_string()),
        YamlData::Value(Scalar::Integer(i)) => Some(i.to_string()),
        YamlData::Value(Scalar::Boolean(b)) => Some(b.to_string()),
        YamlData::Value(Scalar::FloatingPoint(f)) => Some(f.to_string()),
        YamlData::Representation(text, _, _) => Some(text.to_string()),
        _ => None,
    }
}

/// Reads `Chart.yaml`.
pub fn chart(documents: &[MarkedYaml<'_>]) -> Chart {
    let Some(doc) = documents.first() else {
        return Chart::default();
    };
    let name = doc
        .data
        .as_mapping_get("name")
        .and_then(scalar)
        .unwrap_or_default();
    let mut dependencies = Vec::new();
    if let Some(YamlData::Sequence(items)) =
        doc.data.as_mapping_get("dependencies").map(|d| &d.data)
    {
        for item in items {
            let field = |k: &str| {
                item.data
                    .as_mapping_get(k)
                    .and_then(scalar)
                    .unwrap_or_default()
            };
            dependencies.push((field("name"), field("repository")));
        }
    }
    Chart { name, dependencies }
}

/// A chart of the audited tree, its files gathered, and whether it can be judged.
pub struct ChartView<'a> {
    pub dir: String,
    pub name: String,
    /// Its `Chart.yaml`.
    pub path: &'a str,
    pub templates: Vec<(&'a str, &'a Template)>,
    /// Its default values overlaid with a production values file, if it has one.
    pub values: BTreeMap<String, &'a Entry>,
    /// Why it cannot be judged, if it cannot.
    pub not_audited: Option<String>,
}

/// Whether a file is a template of a chart that is judged through its values (and so is
/// not a templated manifest left unread).
pub fn read_through_chart(path: &str, charts: &[ChartView<'_>]) -> bool {
    charts.iter().filter(|c| c.not_audited.is_none()).any(|c| {
        path.strip_prefix(c.dir.as_str())
            .is_some_and(|p| p.starts_with("templates/"))
    })
}

/// Every chart of the audited files (a folder with `Chart.yaml`).
pub fn charts(files: &[FileFacts]) -> Vec<ChartView<'_>> {
    fn helm(file: &FileFacts) -> Option<&HelmFile> {
        file.helm.as_deref()
    }
    files
        .iter()
        .filter_map(|f| Some((f, helm(f)?.chart.as_ref()?)))
        .map(|(file, chart)| {
            let dir = file.path.strip_suffix("Chart.yaml").unwrap_or_default();
            let in_dir = |f: &&FileFacts| f.path.starts_with(dir);
            let templates: Vec<(&str, &Template)> = (files.iter().filter(in_dir))
                .filter(|f| f.path[dir.len()..].starts_with("templates/"))
                .filter_map(|f| Some((f.path.as_str(), helm(f)?.template.as_ref()?)))
                .collect();
            let values_of = |name: &str| {
                files
                    .iter()
                    .find(|f| f.path.strip_prefix(dir) == Some(name))
                    .and_then(|f| helm(f)?.values.as_ref())
            };
            let base = values_of("values.yaml").or_else(|| values_of("values.yml"));
            let production = (files.iter().filter(in_dir))
                .filter(|f| !f.path[dir.len()..].contains('/'))
                .filter(|f| {
                    let name = crate::source::file_name(&f.path);
                    name.starts_with("values-prod") || name.starts_with("values.prod")
                })
                .find_map(|f| helm(f)?.values.as_ref());
            let mut values = BTreeMap::new();
            for layer in [base, production].into_iter().flatten() {
                values.extend(layer.entries.iter().map(|(k, v)| (k.clone(), v)));
            }
            let not_audited = why_not_audited(chart, &templates, [base, production]);
            ChartView {
                dir: dir.to_string(),
                name: chart.name.clone(),
                path: file.path.as_str(),
                templates,
                values,
                not_audited,
            }
        })
        .collect()
}

fn why_not_audited(
    chart: &Chart,
    templates: &[(&str, &Template)],
    values: [Option<&Values>; 2],
) -> Option<String> {
    if let Some((path, reason)) = templates
        .iter()
        .find_map(|(path, t)| Some((path, t.unreadable.as_ref()?)))
    {
        return Some(format!("{path}: {reason}"));
    }
    if let Some(reason) = values.iter().flatten().find_map(|v| v.unreadable.as_ref()) {
        return Some(format!("its values file: {reason}"));
    }
    let includes_itself = chart.dependencies.iter().any(|(name, repository)| {
        (!name.is_empty() && *name == chart.name)
            || matches!(repository.trim_end_matches('/'), "file://." | "file://")
    });
    includes_itself.then(|| "it depends on itself".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_read_without_rendering() {
        let source = Source::new(
            "chart/templates/deployment.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nspec:\n  replicas: {{ .Values.replicaCount }}\n  template:\n    spec:\n      containers:\n        - name: app\n          image: \"{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}\"\n          resources:\n            {{- toYaml .Values.resources | nindent 12 }}\n".to_string(),
        );
        let t = template(&source);
        assert_eq!(t.workloads.len(), 1);
        assert!(t.keys.contains_key("resources") && !t.keys.contains_key("livenessProbe"));
        let refs: Vec<(&str, Option<&str>, bool)> = t
            .refs
            .iter()
            .map(|r| (r.path.as_str(), r.under.as_deref(), r.defaulted))
            .collect();
        assert_eq!(
            refs,
            [
                ("replicaCount", Some("replicas"), false),
                ("image.repository", Some("image"), false),
                ("image.tag", Some("image"), true),
                ("resources", Some("resources"), false),
            ]
        );
        let open = Source::new("t.yaml", "kind: Deployment\nx: {{ .Values.a\n".to_string());
        assert!(template(&open).unreadable.is_some());
    }
}
