//! OPS006: allows that suppress nothing, or cannot. Also the one place that applies allows to
//! findings (comments found in files, and the configuration's `[[allow]]` entries), since
//! whether an allow is effective is decided while applying it.

use std::collections::BTreeMap;
use std::path::Path;

use globset::{Glob, GlobSet, GlobSetBuilder};

use crate::checks::{self, Parsed};
use crate::config::{Config, PathAllow};
use crate::facts::{self, FileFacts};
use crate::finding::{Disposition, Finding, Site, Suppression};
use crate::registry::{Code, RuleSet, Subject};
use crate::source::{FileKind, Source};
use crate::suppress::{Allow, Date};
use crate::walk::relative;

/// A configuration `[[allow]]` entry ready to match findings: its paths compiled, and where in
/// the configuration file it is written, for its OPS006 finding.
pub struct ConfigAllow<'a> {
    allow: &'a Allow,
    /// `None`: the whole project.
    paths: Option<GlobSet>,
    site: Site,
}

/// Compiles the configuration's `[[allow]]` entries. Globs follow `exclude`: `dir`, `dir/`
/// and `dir/**` all mean the folder.
pub fn config_allows<'a>(root: &Path, config: &'a Config) -> Result<Vec<ConfigAllow<'a>>, String> {
    let (Some(origin), Some(text)) = (&config.origin, &config.origin_text) else {
        return Ok(Vec::new());
    };
    if config.allows.is_empty() {
        return Ok(Vec::new());
    }
    let source = Source::new(relative(root, origin), text.clone());
    // The entry's lines are shown with its OPS006 finding: mask the file's secrets.
    let settings = toml::de::DeTable::parse(text)
        .map(|table| facts::settings::from_toml(table.get_ref()))
        .unwrap_or_default();
    let parsed = Parsed {
        settings: Some(&settings),
        ..Parsed::default()
    };
    let secrets = checks::secrets::detect(&source, FileKind::Toml, &parsed);
    source.set_secret_spans(secrets.into_iter().map(|d| d.secret).collect());
    config
        .allows
        .iter()
        .map(|PathAllow { paths, allow }| {
            let paths = match paths {
                None => None,
                Some(globs) => Some(folder_globs(globs)?),
            };
            Ok(ConfigAllow {
                allow,
                paths,
                site: source.site(allow.range.clone()),
            })
        })
        .collect()
}

fn folder_globs(globs: &[String]) -> Result<GlobSet, String> {
    let mut builder = GlobSetBuilder::new();
    for glob in globs {
        let trimmed = glob.trim_end_matches('/');
        for pattern in [trimmed.to_string(), format!("{trimmed}/**")] {
            builder.add(Glob::new(&pattern).map_err(|e| e.to_string())?);
        }
    }
    builder.build().map_err(|e| e.to_string())
}

/// Every allow of an audit: the comments found in files and the configuration's entries.
pub struct Allows<'a> {
    pub files: &'a [FileFacts],
    pub config: Vec<ConfigAllow<'a>>,
    pub today: Date,
}

/// One allow with where it applies: a file's comment (`file`), or a configuration entry
/// (`paths`, `None` for the whole project).
struct Scoped<'a> {
    allow: &'a Allow,
    site: &'a Site,
    file: Option<&'a str>,
    paths: Option<&'a GlobSet>,
}

impl Scoped<'_> {
    fn reaches(&self, finding: &Finding) -> bool {
        let in_scope = match (self.file, self.paths, finding.path.as_deref()) {
            (Some(file), _, path) => path == Some(file),
            (None, None, _) => true,
            (None, Some(paths), Some(path)) => paths.is_match(path),
            (None, Some(_), None) => false,
        };
        in_scope && self.allow.reaches(finding.rule.code, finding.line())
    }

    /// `path:line` of the allow comment or of the configuration's `[[allow]]` entry.
    fn at(&self) -> String {
        format!("{}:{}", self.site.path, self.site.span.start_line)
    }
}

/// Marks the findings that allows suppress, notes on the others which expired allow no longer
/// does, and returns the OPS006 findings for allows that have no reason, a bad or past expiry,
/// name unknown rules, or suppress nothing.
pub fn apply(
    findings: &mut [Finding],
    allows: &Allows,
    rules: &RuleSet,
    subjects: &BTreeMap<Subject, String>,
) -> Vec<Finding> {
    let today = allows.today;
    let comments = allows.files.iter().flat_map(|file| {
        file.allows.iter().map(move |(allow, site)| Scoped {
            allow,
            site,
            file: Some(file.path.as_str()),
            paths: None,
        })
    });
    let entries = allows.config.iter().map(|c| Scoped {
        allow: c.allow,
        site: &c.site,
        file: None,
        paths: c.paths.as_ref(),
    });
    let mut expired_notes: Vec<Option<String>> = vec![None; findings.len()];
    let mut ineffective = Vec::new();
    for scoped in comments.chain(entries) {
        let allow = scoped.allow;
        let mut used = false;
        for (index, finding) in findings.iter_mut().enumerate() {
            if !scoped.reaches(finding) {
                continue;
            }
            if allow.in_force(today) {
                used = true;
                if finding.disposition == Disposition::Open {
                    finding.disposition = Disposition::Suppressed(suppression(allow, scoped.at()));
                }
            } else if let Some(until) = allow.expired(today) {
                let note = format!("{} at {} expired on {until}", allow.label(), scoped.at());
                expired_notes[index] = Some(note);
            }
        }
        let judged = allow
            .rules()
            .iter()
            .all(|r| rules.enabled(r.code) && subjects.contains_key(&r.applies_when))
            && allow.unknown_codes().is_empty();
        if let Some(message) = allow.defect(today, used, judged) {
            ineffective.push(Finding::at_site(Code::OPS006, scoped.site.clone(), message));
        }
    }
    for (finding, note) in findings.iter_mut().zip(expired_notes) {
        if let (Disposition::Open, Some(note)) = (&finding.disposition, note) {
            finding.message = format!("{} ({note})", finding.message);
        }
    }
    ineffective
}

fn suppression(allow: &Allow, at: String) -> Suppression {
    Suppression {
        kind: allow.kind,
        at,
        reason: allow.reason.clone().unwrap_or_default(),
        until: allow
            .until
            .clone()
            .and_then(Result::ok)
            .map(|d| d.to_string()),
    }
}
