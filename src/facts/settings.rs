//! Configuration files flattened to their leaf settings, whatever the format: YAML, JSON (read
//! as YAML 1.2, of which it is a subset), TOML and `.env`. A rule about configuration keys
//! (secrets assigned to `password`, `retries` without a backoff, `timeout: 0`) walks one list
//! and never needs to know the format.

use std::ops::Range;

use saphyr::{MarkedYaml, Scalar, YamlData};
use toml::de::{DeTable, DeValue};

use crate::source::{FileKind, Source};

/// Settings read from one file at most: a generated file with millions of leaves (a
/// two-million-element array) would otherwise cost gigabytes, and no rule needs them all.
pub const MAX_SETTINGS: usize = 100_000;

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Null,
}

impl Value {
    /// The value as text (`"30s"`, `0`, `true`).
    pub fn text(&self) -> String {
        match self {
            Value::Str(s) => s.clone(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => f.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Null => String::new(),
        }
    }

    pub fn as_number(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            Value::Str(s) => s.trim().parse().ok(),
            _ => None,
        }
    }
}

/// One leaf setting: `a.b[0].c = value`.
#[derive(Debug, Clone)]
pub struct Setting {
    /// Keys from the document root; sequence items appear as `[index]`.
    pub keys: Vec<String>,
    /// Byte range of the last key (of the value for sequence items).
    pub key_range: Range<usize>,
    pub value: Value,
    /// Byte range of the value.
    pub value_range: Range<usize>,
}

impl Setting {
    /// The setting's own key (`c` in `a.b.c`).
    pub fn key(&self) -> &str {
        self.keys.last().map_or("", String::as_str)
    }

    /// The keys of the mapping that holds it.
    pub fn parent(&self) -> &[String] {
        &self.keys[..self.keys.len().saturating_sub(1)]
    }

    /// The settings beside this one (same parent), itself excluded.
    pub fn siblings<'a>(&'a self, all: &'a [Setting]) -> impl Iterator<Item = &'a Setting> {
        all.iter()
            .filter(move |s| s.parent() == self.parent() && s.keys != self.keys)
    }
}

/// Settings of every document of a YAML (or JSON) stream.
pub fn from_yaml(source: &Source, documents: &[MarkedYaml<'_>]) -> Vec<Setting> {
    let mut out = Vec::new();
    for doc in documents {
        walk_yaml(source, doc, &mut Vec::new(), None, &mut out);
    }
    out
}

/// A node's byte range, from saphyr's character indices (its line numbers count a lone `\r` as
/// a line break, which `Source` does not).
fn yaml_range(source: &Source, node: &MarkedYaml<'_>) -> Range<usize> {
    let start = source.byte_of_char(node.span.start.index());
    let end = source.byte_of_char(node.span.end.index());
    start..end.max(start)
}

/// A scalar value's text. saphyr's span of a quoted scalar runs on over a trailing comment
/// (`"s3cr3t" # note`): it ends at the closing quote.
fn scalar_range(source: &Source, node: &MarkedYaml<'_>) -> Range<usize> {
    let range = yaml_range(source, node);
    let text = &source.text[range.clone()];
    let Some(quote) = text.chars().next().filter(|c| *c == '"' || *c == '\'') else {
        return range;
    };
    let mut escaped = false;
    let close = text.char_indices().skip(1).find(|&(_, c)| {
        let closes = c == quote && !escaped;
        escaped = quote == '"' && c == '\\' && !escaped;
        closes
    });
    close.map_or(range.clone(), |(end, _)| range.start..range.start + end + 1)
}

fn yaml_key(node: &MarkedYaml<'_>) -> Option<String> {
    match &node.data {
        YamlData::Value(Scalar::String(s)) => Some(s.to_string()),
        YamlData::Value(Scalar::Integer(i)) => Some(i.to_string()),
        YamlData::Value(Scalar::Boolean(b)) => Some(b.to_string()),
        YamlData::Representation(text, _, _) => Some(text.to_string()),
        _ => None,
    }
}

fn walk_yaml(
    source: &Source,
    node: &MarkedYaml<'_>,
    keys: &mut Vec<String>,
    key_range: Option<Range<usize>>,
    out: &mut Vec<Setting>,
) {
    if out.len() >= MAX_SETTINGS {
        return;
    }
    match &node.data {
        YamlData::Mapping(map) => {
            for (key, value) in map {
                let Some(name) = yaml_key(key) else { continue };
                keys.push(name);
                walk_yaml(source, value, keys, Some(yaml_range(source, key)), out);
                keys.pop();
            }
        }
        YamlData::Sequence(items) => {
            for (index, item) in items.iter().enumerate() {
                keys.push(format!("[{index}]"));
                walk_yaml(source, item, keys, None, out);
                keys.pop();
            }
        }
        YamlData::Tagged(_, inner) => walk_yaml(source, inner, keys, key_range, out),
        YamlData::Value(scalar) => {
            let value = match scalar {
                Scalar::String(s) => Value::Str(s.to_string()),
                Scalar::Integer(i) => Value::Int(*i),
                Scalar::FloatingPoint(f) => Value::Float(f.into_inner()),
                Scalar::Boolean(b) => Value::Bool(*b),
                Scalar::Null => Value::Null,
            };
            let value_range = scalar_range(source, node);
            out.push(Setting {
                keys: keys.clone(),
                key_range: key_range.unwrap_or_else(|| value_range.clone()),
                value,
                value_range,
            });
        }
        YamlData::Representation(text, _, _) => {
            let value_range = scalar_range(source, node);
            out.push(Setting {
                keys: keys.clone(),
                key_range: key_range.unwrap_or_else(|| value_range.clone()),
                value: Value::Str(text.to_string()),
                value_range,
            });
        }
        YamlData::Alias(_) | YamlData::BadValue => {}
    }
}

/// Settings of a TOML document.
pub fn from_toml(table: &DeTable<'_>) -> Vec<Setting> {
    let mut out = Vec::new();
    walk_toml_table(table, &mut Vec::new(), &mut out);
    out
}

fn walk_toml_table(table: &DeTable<'_>, keys: &mut Vec<String>, out: &mut Vec<Setting>) {
    for (key, value) in table.iter() {
        if out.len() >= MAX_SETTINGS {
            return;
        }
        keys.push(key.get_ref().to_string());
        walk_toml_value(value.get_ref(), value.span(), key.span(), keys, out);
        keys.pop();
    }
}

fn walk_toml_value(
    value: &DeValue<'_>,
    value_range: Range<usize>,
    key_range: Range<usize>,
    keys: &mut Vec<String>,
    out: &mut Vec<Setting>,
) {
    let leaf = match value {
        DeValue::Table(table) => return walk_toml_table(table, keys, out),
        DeValue::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                if out.len() >= MAX_SETTINGS {
                    return;
                }
                keys.push(format!("[{index}]"));
                walk_toml_value(item.get_ref(), item.span(), item.span(), keys, out);
                keys.pop();
            }
            return;
        }
        DeValue::String(s) => Value::Str(s.to_string()),
        DeValue::Integer(i) => i
            .as_str()
            .replace('_', "")
            .parse()
            .map_or_else(|_| Value::Str(i.as_str().to_string()), Value::Int),
        DeValue::Float(f) => f
            .as_str()
            .replace('_', "")
            .parse()
            .map_or_else(|_| Value::Str(f.as_str().to_string()), Value::Float),
        DeValue::Boolean(b) => Value::Bool(*b),
        DeValue::Datetime(d) => Value::Str(d.to_string()),
    };
    out.push(Setting {
        keys: keys.clone(),
        key_range,
        value: leaf,
        value_range,
    });
}

/// Settings of a YAML, JSON or TOML file that did not parse, read line by line: `key: value`
/// (YAML, JSON) or `key = value` (TOML), each a setting with only its own key. Enough for the
/// rules that judge a key and its value (a password, a timeout) to see them.
pub fn from_lines(source: &Source, kind: FileKind) -> Vec<Setting> {
    let separator = match kind {
        FileKind::Yaml | FileKind::Json => ':',
        FileKind::Toml => '=',
        FileKind::Rust => return rust_assignments(source),
        _ => return Vec::new(),
    };
    let mut out = Vec::new();
    for line in 1..=source.line_count() {
        if out.len() >= MAX_SETTINGS {
            break;
        }
        let range = source.line_range(line);
        let text = &source.text[range.clone()];
        let body = text.trim_start().trim_start_matches("- ");
        if body.starts_with('#') || body.starts_with("//") {
            continue;
        }
        let Some((raw_key, raw_value)) = body.split_once(separator) else {
            continue;
        };
        let key = raw_key.trim().trim_matches(|c| c == '"' || c == '\'');
        if key.is_empty() || key.contains(char::is_whitespace) {
            continue;
        }
        let value = raw_value.trim().trim_end_matches(',');
        let inner = value.trim_matches(|c| c == '"' || c == '\'');
        if inner.is_empty() || value.starts_with(['{', '[', '&', '*', '|', '>']) {
            continue;
        }
        let key_start = range.start + (text.len() - body.len()) + body.find(raw_key).unwrap_or(0);
        let key_start = key_start + raw_key.find(key).unwrap_or(0);
        let value_start = match text.rfind(inner) {
            Some(at) => range.start + at,
            None => continue,
        };
        out.push(Setting {
            keys: vec![key.to_string()],
            key_range: key_start..key_start + key.len(),
            value: Value::Str(inner.to_string()),
            value_range: value_start..value_start + inner.len(),
        });
    }
    out
}

/// `name = "literal"`, `name: Type = "literal"` and `field: "literal"` in Rust text that did not
/// parse, as settings: what the syntax tree would have shown the secret rules.
fn rust_assignments(source: &Source) -> Vec<Setting> {
    static ASSIGNMENT: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r#"\b([A-Za-z_][A-Za-z0-9_]*)\s*(?::[^=;"]*=|=|:)\s*"([^"\\]*)""#)
            .expect("a valid regex")
    });
    ASSIGNMENT
        .captures_iter(&source.text)
        .take(MAX_SETTINGS)
        .filter_map(|c| Some((c.get(1)?, c.get(2)?)))
        .map(|(key, value)| Setting {
            keys: vec![key.as_str().to_string()],
            key_range: key.range(),
            value: Value::Str(value.as_str().to_string()),
            value_range: value.range(),
        })
        .collect()
}

/// Settings of a `.env` file: `KEY=value`, `export KEY=value`, quoted or not.
pub fn from_env(source: &Source) -> Vec<Setting> {
    let mut out = Vec::new();
    for line in 1..=source.line_count() {
        let range = source.line_range(line);
        let text = &source.text[range.clone()];
        let trimmed = text.trim_start();
        if trimmed.starts_with('#') || trimmed.is_empty() {
            continue;
        }
        let body = trimmed.strip_prefix("export ").unwrap_or(trimmed);
        let Some((key, raw)) = body.split_once('=') else {
            continue;
        };
        let key = key.trim();
        if key.is_empty() || key.contains(char::is_whitespace) {
            continue;
        }
        let key_start = range.start + (text.len() - body.len()) + body.find(key).unwrap_or(0);
        let raw_start = range.start + text.len() - raw.len();
        let lead = raw.len() - raw.trim_start().len();
        let mut value = raw.trim();
        let mut value_start = raw_start + lead;
        let quoted = value.len() >= 2
            && ((value.starts_with('"') && value.ends_with('"'))
                || (value.starts_with('\'') && value.ends_with('\'')));
        if quoted {
            value = &value[1..value.len() - 1];
            value_start += 1;
        } else if let Some(comment) = value.find(" #") {
            value = value[..comment].trim_end();
        }
        out.push(Setting {
            keys: vec![key.to_string()],
            key_range: key_start..key_start + key.len(),
            value: Value::Str(value.to_string()),
            value_range: value_start..value_start + value.len(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use saphyr::LoadableYamlNode;

    #[test]
    fn a_quoted_yaml_value_ends_at_its_closing_quote() {
        let yaml = Source::new(
            "a.yaml",
            "jwt: \"s3\\\"cr3t\" # a note\nkey: 'abc' # another\nplain: abc # third\n".to_string(),
        );
        let docs = MarkedYaml::load_from_str(&yaml.text).unwrap();
        let ranges: Vec<&str> = from_yaml(&yaml, &docs)
            .iter()
            .map(|s| &yaml.text[s.value_range.clone()])
            .collect();
        assert_eq!(ranges, ["\"s3\\\"cr3t\"", "'abc'", "abc"]);
    }

    #[test]
    fn yaml_json_toml_and_env_flatten_alike() {
        let yaml = Source::new(
            "a.yaml",
            "http:\n  retry:\n    attempts: 5\n  timeout: \"30s\"\nenv:\n  - name: TOKEN\n    value: abc\n".to_string(),
        );
        let docs = MarkedYaml::load_from_str(&yaml.text).unwrap();
        let settings = from_yaml(&yaml, &docs);
        let attempts = &settings[0];
        assert_eq!(attempts.keys, ["http", "retry", "attempts"]);
        assert_eq!(attempts.value, Value::Int(5));
        assert_eq!(&yaml.text[attempts.value_range.clone()], "5");
        assert_eq!(&yaml.text[attempts.key_range.clone()], "attempts");
        let value = settings.iter().find(|s| s.key() == "value").unwrap();
        assert_eq!(value.parent(), ["env", "[0]"]);
        assert_eq!(
            value.siblings(&settings).next().unwrap().value,
            Value::Str("TOKEN".into())
        );

        let json = Source::new(
            "a.json",
            "{\"db\": {\"password\": \"hunter22\", \"port\": 5432}}".to_string(),
        );
        let docs = MarkedYaml::load_from_str(&json.text).unwrap();
        let settings = from_yaml(&json, &docs);
        assert_eq!(&json.text[settings[0].value_range.clone()], "\"hunter22\"");

        let toml_text = "[retry]\nmax_retries = 3\n[[servers]]\ntimeout_ms = 0\n";
        let table = DeTable::parse(toml_text).unwrap();
        let settings = from_toml(table.get_ref());
        assert_eq!(settings[0].keys, ["retry", "max_retries"]);
        assert_eq!(settings[1].keys, ["servers", "[0]", "timeout_ms"]);
        assert_eq!(&toml_text[settings[1].value_range.clone()], "0");

        let env = Source::new(
            ".env",
            "# c\nexport API_KEY=\"abc def\"\nDEBUG=1 # on\n".to_string(),
        );
        let settings = from_env(&env);
        assert_eq!(settings[0].key(), "API_KEY");
        assert_eq!(&env.text[settings[0].value_range.clone()], "abc def");
        assert_eq!(settings[1].value, Value::Str("1".into()));
    }
}
