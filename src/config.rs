//! The user's configuration: `prodready.toml` at the audited root, or
//! `[workspace.metadata.prodready]` / `[package.metadata.prodready]` in its Cargo.toml.
//!
//! Every value keeps its span, so a bad key or value is reported by miette pointing into the file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use miette::{LabeledSpan, MietteDiagnostic, NamedSource};
use serde::Deserialize;
use toml::Spanned;

use crate::baseline::Baseline;
use crate::registry::{Code, Severity, registry};
use crate::roles::{Role, RoleOverride};
use crate::suppress::{Allow, Date};

pub const DEFAULT_MAX_FILE_SIZE: u64 = 2 * 1024 * 1024;
/// Seconds one file's analysis may take before it is stopped (and reported).
pub const DEFAULT_FILE_TIMEOUT: Duration = Duration::from_secs(30);
pub const CONFIG_FILE: &str = "prodready.toml";

/// The written-out default configuration, `prodready init`'s output. A test proves that it
/// parses to `Config::default()`.
pub const INIT_TEMPLATE: &str = include_str!("init_template.toml");

/// The effective configuration of one audit.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Rules to run (codes, prefixes or names); `None` runs every rule.
    pub select: Option<Vec<String>>,
    /// Rules not run (codes, prefixes or names). Their checklist items are `skipped`.
    pub ignore: Vec<String>,
    /// Glob patterns (relative to the audited root) of files and folders not scanned.
    pub exclude: Vec<String>,
    /// Files larger than this many bytes are skipped (and counted).
    pub max_file_size: u64,
    /// How long one file's analysis may take; checked between rule families.
    pub file_timeout: Duration,
    /// Per-rule severity overrides, by rule code.
    pub severity: BTreeMap<Code, Severity>,
    pub gate: Gate,
    /// Run the rules whose status is `preview` too.
    pub preview: bool,
    /// More metric-name patterns that measure drift or model quality (DRF rules), added to the
    /// rule's own vocabulary.
    pub drift_vocabulary: Vec<String>,
    /// `[[allow]]` entries: findings allowed by path and rule.
    pub allows: Vec<PathAllow>,
    /// `[roles]`: files whose role the project sets itself (see `roles`).
    pub roles: Vec<RoleOverride>,
    /// Findings recorded earlier (`--baseline`): they fail their checklist item but not the gate.
    pub baseline: Option<Baseline>,
    /// Where the configuration was read from, if anywhere.
    pub origin: Option<PathBuf>,
    /// The configuration file's text: OPS006 points into it at ineffective `[[allow]]` entries.
    pub origin_text: Option<String>,
}

/// An `[[allow]]` entry of the configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct PathAllow {
    /// Globs relative to the audited root; `None` allows the rules in the whole project,
    /// including its findings about something missing.
    pub paths: Option<Vec<String>>,
    /// Its rules, reason and expiry; its range is the entry's span in the configuration file.
    pub allow: Allow,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Gate {
    /// The gate fails when the score is below this.
    pub fail_under: Option<f64>,
    /// The gate fails on any failing finding at or above this severity.
    pub fail_on: Option<Severity>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            select: None,
            ignore: Vec::new(),
            exclude: Vec::new(),
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            file_timeout: DEFAULT_FILE_TIMEOUT,
            severity: BTreeMap::new(),
            gate: Gate::default(),
            preview: false,
            drift_vocabulary: Vec::new(),
            allows: Vec::new(),
            roles: Vec::new(),
            baseline: None,
            origin: None,
            origin_text: None,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    select: Option<Vec<Spanned<String>>>,
    ignore: Option<Vec<Spanned<String>>>,
    exclude: Option<Vec<Spanned<String>>>,
    max_file_size: Option<Spanned<i64>>,
    file_timeout: Option<Spanned<toml::Value>>,
    severity: Option<BTreeMap<Spanned<String>, Spanned<String>>>,
    gate: Option<RawGate>,
    preview: Option<bool>,
    drift_vocabulary: Option<Vec<Spanned<String>>>,
    allow: Option<Vec<Spanned<RawAllow>>>,
    /// Role names to globs, and the mandatory `reason`.
    roles: Option<Spanned<toml::Table>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAllow {
    paths: Option<Vec<Spanned<String>>>,
    rules: Spanned<Vec<String>>,
    reason: Option<String>,
    /// A TOML date (`until = 2027-03-31`) or a string holding one.
    until: Option<Spanned<toml::Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGate {
    fail_under: Option<Spanned<f64>>,
    fail_on: Option<Spanned<String>>,
}

/// `Cargo.toml`, read only for its prodready metadata tables.
#[derive(Deserialize)]
struct CargoManifest {
    workspace: Option<MetadataHolder>,
    package: Option<MetadataHolder>,
}

#[derive(Deserialize)]
struct MetadataHolder {
    metadata: Option<Metadata>,
}

#[derive(Deserialize)]
struct Metadata {
    prodready: Option<RawConfig>,
}

/// Finds and loads the configuration for an audit of `root`: `explicit` if given, else
/// `root/prodready.toml`, else Cargo.toml metadata, else the defaults.
pub fn load(root: &Path, explicit: Option<&Path>) -> Result<Config, miette::Report> {
    if let Some(path) = explicit {
        let text = read(path)?;
        return parse(&text, path);
    }
    let file = root.join(CONFIG_FILE);
    if file.is_file() {
        if !inside(root, &file) {
            return Err(miette::miette!(
                "{} is a symbolic link leading outside the audited folder: not read (pass it with --config to use it)",
                file.display()
            ));
        }
        let text = read(&file)?;
        return parse(&text, &file);
    }
    let manifest = root.join("Cargo.toml");
    // A Cargo.toml linked from outside the audited folder is not read, as the walk reads none.
    if manifest.is_file() && inside(root, &manifest) {
        let text = read(&manifest)?;
        // A Cargo.toml that is not valid TOML is the OPS rules' business, not a config error.
        if let Ok(cargo) = toml::from_str::<toml::Table>(&text) {
            let has_metadata = ["workspace", "package"].iter().any(|t| {
                cargo
                    .get(*t)
                    .and_then(|v| v.get("metadata"))
                    .and_then(|v| v.get("prodready"))
                    .is_some()
            });
            if has_metadata {
                let parsed: CargoManifest =
                    toml::from_str(&text).map_err(|e| toml_error(&e, &text, &manifest))?;
                let raw = parsed
                    .workspace
                    .and_then(|w| w.metadata)
                    .and_then(|m| m.prodready)
                    .or_else(|| {
                        parsed
                            .package
                            .and_then(|p| p.metadata)
                            .and_then(|m| m.prodready)
                    });
                if let Some(raw) = raw {
                    return validate(raw, &text, &manifest);
                }
            }
        }
    }
    Ok(Config::default())
}

/// Whether a file of the audited folder, once its symbolic links are resolved, is inside it:
/// nothing outside the audited folder is read unless named on the command line.
fn inside(root: &Path, file: &Path) -> bool {
    match (std::fs::canonicalize(root), std::fs::canonicalize(file)) {
        (Ok(root), Ok(file)) => file.starts_with(root),
        _ => false,
    }
}

fn read(path: &Path) -> Result<String, miette::Report> {
    std::fs::read_to_string(path)
        .map_err(|e| miette::miette!("cannot read config file {}: {e}", path.display()))
}

/// Parses a standalone `prodready.toml`.
pub fn parse(text: &str, path: &Path) -> Result<Config, miette::Report> {
    let raw: RawConfig = toml::from_str(text).map_err(|e| toml_error(&e, text, path))?;
    validate(raw, text, path)
}

fn toml_error(error: &toml::de::Error, text: &str, path: &Path) -> miette::Report {
    let (source, masked) = masked_source(text, path);
    // The parser's message may quote the file (an unknown key, a bad value).
    let message = masked.redact_message(error.message());
    let mut diagnostic = MietteDiagnostic::new(format!(
        "invalid configuration in {}: {message}",
        path.display()
    ))
    .with_code("config");
    if let Some(span) = error.span() {
        diagnostic = diagnostic.with_label(LabeledSpan::at(span, message));
    }
    miette::Report::new(diagnostic).with_source_code(source)
}

/// The file's text for an error message, its secrets masked in place (same byte length, so
/// that the error's span still points at the right place), and the file with its secrets
/// known, to mask messages that quote it.
fn masked_source(text: &str, path: &Path) -> (NamedSource<String>, crate::source::Source) {
    let source = crate::source::Source::new(path.display().to_string(), text.to_string());
    let settings = toml::de::DeTable::parse(text)
        .map(|table| crate::facts::settings::from_toml(table.get_ref()))
        .unwrap_or_else(|_| {
            crate::facts::settings::from_lines(&source, crate::source::FileKind::Toml)
        });
    let parsed = crate::checks::Parsed {
        settings: Some(&settings),
        ..crate::checks::Parsed::default()
    };
    let secrets = crate::checks::secrets::detect(&source, crate::source::FileKind::Toml, &parsed);
    // Every byte of a secret becomes `*`: same length, still valid UTF-8.
    let mut bytes = text.as_bytes().to_vec();
    for secret in &secrets {
        bytes[secret.secret.clone()].fill(b'*');
    }
    source.set_secret_spans(secrets.into_iter().map(|d| d.secret).collect());
    let masked = String::from_utf8_lossy(&bytes).into_owned();
    (NamedSource::new(path.display().to_string(), masked), source)
}

fn value_error(
    text: &str,
    path: &Path,
    span: std::ops::Range<usize>,
    message: String,
    label: &str,
) -> miette::Report {
    let (source, masked) = masked_source(text, path);
    let message = masked.redact_message(&message);
    let diagnostic = MietteDiagnostic::new(format!(
        "invalid configuration in {}: {message}",
        path.display()
    ))
    .with_code("config")
    .with_label(LabeledSpan::at(span, label));
    miette::Report::new(diagnostic).with_source_code(source)
}

/// A per-file time budget from a number of seconds: positive and finite.
pub fn file_timeout(seconds: f64) -> Result<Duration, String> {
    if seconds <= 0.0 {
        return Err(format!("{seconds} is not positive"));
    }
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("{seconds}: {e}"))
}

fn validate(raw: RawConfig, text: &str, path: &Path) -> Result<Config, miette::Report> {
    let err = ValueErrors { text, path };
    let mut config = Config {
        select: selectors(raw.select, &err)?,
        ignore: selectors(raw.ignore, &err)?.unwrap_or_default(),
        preview: raw.preview.unwrap_or(false),
        origin: Some(path.to_path_buf()),
        origin_text: Some(text.to_string()),
        ..Config::default()
    };
    config.drift_vocabulary = drift_vocabulary(raw.drift_vocabulary.unwrap_or_default(), &err)?;
    if let Some(exclude) = raw.exclude {
        config.exclude = globs(exclude, "exclude", &err)?;
    }
    if let Some(size) = raw.max_file_size {
        config.max_file_size = max_file_size(&size, &err)?;
    }
    if let Some(timeout) = raw.file_timeout {
        config.file_timeout = file_timeout_setting(&timeout, &err)?;
    }
    config.severity = severities(raw.severity.unwrap_or_default(), &err)?;
    for entry in raw.allow.unwrap_or_default() {
        config.allows.push(allow_entry(entry, &err)?);
    }
    if let Some(gate) = raw.gate {
        config.gate = validate_gate(gate, &err)?;
    }
    if let Some(roles) = raw.roles {
        config.roles = role_overrides(roles, &err)?;
    }
    Ok(config)
}

/// `[roles]`: `ROLE = [globs]` for each role set, with one `reason` for them all.
fn role_overrides(
    table: Spanned<toml::Table>,
    err: &ValueErrors<'_>,
) -> Result<Vec<RoleOverride>, miette::Report> {
    let span = table.span();
    let table = table.into_inner();
    let reason = match table.get("reason") {
        Some(toml::Value::String(reason)) if !reason.trim().is_empty() => reason.clone(),
        _ => {
            return Err(err.at(
                span,
                "[roles] needs a `reason`: why these files are not what their paths say".into(),
                "add reason = \"...\"",
            ));
        }
    };
    let mut out = Vec::new();
    for (key, value) in table.iter().filter(|(key, _)| *key != "reason") {
        let at = key_span(err.text, span.clone(), key);
        let Some(role) = Role::parse(key) else {
            let known: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
            return Err(err.at(
                at,
                format!("`{key}` is not a role"),
                &format!("one of: {}", known.join(", ")),
            ));
        };
        let globs = value
            .as_array()
            .filter(|a| a.iter().all(toml::Value::is_str));
        let Some(globs) = globs else {
            return Err(err.at(
                at,
                format!("[roles] {key} must be a list of globs"),
                "a list of strings",
            ));
        };
        for glob in globs.iter().filter_map(toml::Value::as_str) {
            if let Err(e) = globset::Glob::new(glob) {
                return Err(err.at(
                    at.clone(),
                    format!("bad [roles] {key} glob `{glob}`: {e}"),
                    "this list",
                ));
            }
            out.push(RoleOverride {
                role,
                glob: glob.to_string(),
                reason: reason.clone(),
            });
        }
    }
    Ok(out)
}

/// Where `key` is written in the table whose header is at `span` (up to the next table's
/// header); the header's span when it cannot be found.
fn key_span(text: &str, span: std::ops::Range<usize>, key: &str) -> std::ops::Range<usize> {
    let rest = text.get(span.start..).unwrap_or_default();
    let end = rest
        .get(span.len()..)
        .and_then(|body| body.find("\n["))
        .map_or(rest.len(), |at| span.len() + at);
    let within = &rest[..end];
    within
        .match_indices(key)
        .find(|(at, _)| {
            let before = within[..*at].chars().next_back();
            let after = within[at + key.len()..].trim_start().chars().next();
            before.is_none_or(|c| c == '\n' || c == ' ' || c == '\t' || c == '{' || c == ',')
                && after == Some('=')
        })
        .map_or(span.clone(), |(at, _)| {
            span.start + at..span.start + at + key.len()
        })
}

/// Makes the error for a bad value of a configuration file, pointing at the value.
struct ValueErrors<'a> {
    text: &'a str,
    path: &'a Path,
}

impl ValueErrors<'_> {
    fn at(&self, span: std::ops::Range<usize>, message: String, label: &str) -> miette::Report {
        value_error(self.text, self.path, span, message, label)
    }
}

/// `select` or `ignore`: each item must match a rule.
fn selectors(
    list: Option<Vec<Spanned<String>>>,
    err: &ValueErrors<'_>,
) -> Result<Option<Vec<String>>, miette::Report> {
    let Some(list) = list else { return Ok(None) };
    let mut out = Vec::new();
    for item in list {
        if registry().matching(item.get_ref()).is_empty() {
            return Err(err.at(
                item.span(),
                format!("`{}` matches no rule", item.get_ref()),
                "not a rule code, prefix or name (see `prodready rules`)",
            ));
        }
        out.push(item.into_inner());
    }
    Ok(Some(out))
}

fn drift_vocabulary(
    patterns: Vec<Spanned<String>>,
    err: &ValueErrors<'_>,
) -> Result<Vec<String>, miette::Report> {
    let mut out = Vec::new();
    for pattern in patterns {
        if let Err(e) = crate::checks::drift::Vocabulary::term(pattern.get_ref()) {
            return Err(err.at(
                pattern.span(),
                format!("bad drift_vocabulary pattern: {e}"),
                "this pattern",
            ));
        }
        out.push(pattern.into_inner());
    }
    Ok(out)
}

/// The globs of `exclude` or of an `[[allow]]` entry's `paths` (`what`), each valid.
fn globs(
    globs: Vec<Spanned<String>>,
    what: &str,
    err: &ValueErrors<'_>,
) -> Result<Vec<String>, miette::Report> {
    let mut out = Vec::new();
    for glob in globs {
        if let Err(e) = globset::Glob::new(glob.get_ref()) {
            return Err(err.at(glob.span(), format!("bad {what} glob: {e}"), "this glob"));
        }
        out.push(glob.into_inner());
    }
    Ok(out)
}

fn max_file_size(size: &Spanned<i64>, err: &ValueErrors<'_>) -> Result<u64, miette::Report> {
    let bytes = *size.get_ref();
    if bytes <= 0 {
        return Err(err.at(
            size.span(),
            "max_file_size must be a positive number of bytes".into(),
            "not a positive number",
        ));
    }
    Ok(bytes as u64)
}

/// `file_timeout`: a positive number of seconds, integer or not.
fn file_timeout_setting(
    timeout: &Spanned<toml::Value>,
    err: &ValueErrors<'_>,
) -> Result<Duration, miette::Report> {
    let seconds = match timeout.get_ref() {
        toml::Value::Integer(i) => Some(*i as f64),
        toml::Value::Float(f) => Some(*f),
        _ => None,
    };
    seconds
        .ok_or_else(|| "not a number".to_string())
        .and_then(file_timeout)
        .map_err(|e| {
            err.at(
                timeout.span(),
                format!("file_timeout must be a positive number of seconds: {e}"),
                "not a positive number of seconds",
            )
        })
}

/// The `[severity]` table: a severity for each rule named.
fn severities(
    table: BTreeMap<Spanned<String>, Spanned<String>>,
    err: &ValueErrors<'_>,
) -> Result<BTreeMap<Code, Severity>, miette::Report> {
    let mut out = BTreeMap::new();
    for (code, level) in table {
        let Some(rule) = registry().find(code.get_ref()) else {
            return Err(err.at(
                code.span(),
                format!("`{}` is not a rule", code.get_ref()),
                "unknown rule code or name",
            ));
        };
        let Some(severity) = Severity::parse(level.get_ref()) else {
            return Err(err.at(
                level.span(),
                format!("`{}` is not a severity", level.get_ref()),
                "expected critical, high, medium or low",
            ));
        };
        out.insert(rule.code, severity);
    }
    Ok(out)
}

/// An `[[allow]]` entry: its globs valid, its rules named, its `until` a date.
fn allow_entry(
    entry: Spanned<RawAllow>,
    err: &ValueErrors<'_>,
) -> Result<PathAllow, miette::Report> {
    let range = entry.span();
    let entry = entry.into_inner();
    let paths = globs(entry.paths.unwrap_or_default(), "allow", err)?;
    if entry.rules.get_ref().is_empty() {
        return Err(err.at(
            entry.rules.span(),
            "an [[allow]] entry must name its rules".into(),
            "codes, prefixes or names, as in `select`",
        ));
    }
    let until = entry
        .until
        .map(|value| until_date(&value, err))
        .transpose()?;
    // A missing reason and unknown rules are reported by OPS006, like those of comments.
    let reason = entry.reason.filter(|r| !r.trim().is_empty());
    Ok(PathAllow {
        // No paths, or an empty list of them: the whole project.
        paths: (!paths.is_empty()).then_some(paths),
        allow: Allow::config(entry.rules.into_inner(), reason, until, range),
    })
}

/// An `[[allow]]` entry's `until`: a TOML date or a string holding one.
fn until_date(value: &Spanned<toml::Value>, err: &ValueErrors<'_>) -> Result<Date, miette::Report> {
    let text = match value.get_ref() {
        toml::Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    Date::parse(&text).ok_or_else(|| {
        err.at(
            value.span(),
            format!("until = {text} is not a date"),
            "expected YYYY-MM-DD",
        )
    })
}

fn validate_gate(gate: RawGate, err: &ValueErrors<'_>) -> Result<Gate, miette::Report> {
    let mut out = Gate::default();
    if let Some(score) = gate.fail_under {
        let value = *score.get_ref();
        if !(0.0..=100.0).contains(&value) {
            return Err(err.at(
                score.span(),
                format!("fail_under must be between 0 and 100, not {value}"),
                "out of range",
            ));
        }
        out.fail_under = Some(value);
    }
    if let Some(level) = gate.fail_on {
        out.fail_on = match level.get_ref().as_str() {
            "none" => None,
            other => Some(Severity::parse(other).ok_or_else(|| {
                err.at(
                    level.span(),
                    format!("`{other}` is not a severity"),
                    "expected critical, high, medium, low or none",
                )
            })?),
        };
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_init_template_is_the_default_configuration() {
        let config = parse(INIT_TEMPLATE, Path::new("prodready.toml")).unwrap();
        assert_eq!(
            Config {
                origin: None,
                origin_text: None,
                ..config
            },
            Config::default()
        );
    }

    #[test]
    fn unknown_keys_and_bad_values_point_at_their_span() {
        let render = |text: &str| {
            let report = parse(text, Path::new("prodready.toml")).unwrap_err();
            let mut out = String::new();
            miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
                .render_report(&mut out, report.as_ref())
                .unwrap();
            out
        };
        let unknown = render("selekt = [\"OPS\"]\n");
        assert!(unknown.contains("unknown field `selekt`"), "{unknown}");
        assert!(unknown.contains("1 │ selekt"), "{unknown}");
        let bad_code = render("ignore = [\"OPS\", \"NOPE9\"]\n");
        assert!(bad_code.contains("`NOPE9` matches no rule"), "{bad_code}");
        let bad_gate = render("[gate]\nfail_on = \"severe\"\n");
        assert!(
            bad_gate.contains("`severe` is not a severity"),
            "{bad_gate}"
        );
        let bad_score = render("[gate]\nfail_under = 120\n");
        assert!(bad_score.contains("between 0 and 100"), "{bad_score}");
    }

    #[test]
    fn cargo_metadata_is_read_when_there_is_no_prodready_toml() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("Cargo.toml"),
            "[package]\nname = \"x\"\n[package.metadata.prodready]\nignore = [\"OPS003\"]\n[package.metadata.prodready.gate]\nfail_under = 50\n",
        )
        .unwrap();
        let config = load(dir.path(), None).unwrap();
        assert_eq!(config.ignore, vec!["OPS003".to_string()]);
        assert_eq!(config.gate.fail_under, Some(50.0));
    }
}
