//! Stage seven: what is decided project-wide about every finding. Allows, applicability and
//! selection, test code and its severity policy, the configuration's severity overrides; then
//! the order and the fingerprints.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use crate::checks::allows::{self, Allows};
use crate::config::Config;
use crate::facts::FileFacts;
use crate::finding::{CodeKind, Finding};
use crate::registry::{Code, RuleSet, Severity, Subject};
use crate::roles::{self, Judged, Overrides, Role, RoleOverride};

pub fn finalise(
    mut findings: Vec<Finding>,
    files: &[FileFacts],
    allows: &Allows,
    rules: &RuleSet,
    subjects: &BTreeMap<Subject, String>,
    config: &Config,
) -> Vec<Finding> {
    let ineffective_allows = allows::apply(&mut findings, allows, rules, subjects);
    findings.extend(
        ineffective_allows
            .into_iter()
            .filter(|_| rules.enabled(Code::OPS006)),
    );
    let findings = merge_one_problem(findings);
    let roles = Roles::of(files, &config.roles);
    let mut out: Vec<Finding> = findings
        .into_iter()
        .filter(|f| rules.enabled(f.rule.code) && subjects.contains_key(&f.rule.applies_when))
        .filter_map(|finding| judge(finding, &roles, config))
        .collect();
    out.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    fingerprint(&mut out);
    out
}

/// What each file is to the project: its role, and the test regions and test-only modules of
/// production Rust files.
struct Roles<'a> {
    by_path: HashMap<&'a str, &'a FileFacts>,
    test_module_files: BTreeSet<&'a str>,
    /// For the files that were not analysed.
    overrides: Overrides<'a>,
}

impl<'a> Roles<'a> {
    fn of(files: &'a [FileFacts], overrides: &'a [RoleOverride]) -> Roles<'a> {
        Roles {
            overrides: Overrides::new(overrides),
            by_path: files.iter().map(|f| (f.path.as_str(), f)).collect(),
            test_module_files: files
                .iter()
                .filter_map(|f| f.rust.as_ref())
                .flat_map(|r| r.test_module_files.iter().map(String::as_str))
                .collect(),
        }
    }

    /// The role of a place: its file's, or test code's in a test region or test-only module.
    fn at(&self, path: &str, line: usize) -> Role {
        let file = self.by_path.get(path);
        let role = match file {
            Some(file) => file.role,
            None => (self.overrides.find(path)).map_or_else(|| roles::of_path(path), |o| o.role),
        };
        let in_test_region = file
            .and_then(|f| f.rust.as_ref())
            .is_some_and(|r| r.is_test_line(line));
        if role == Role::Production && (in_test_region || self.test_module_files.contains(path)) {
            Role::Test
        } else {
            role
        }
    }
}

/// A finding's role, code kind and final severity, or `None` when its file's role drops it.
fn judge(mut finding: Finding, roles: &Roles, config: &Config) -> Option<Finding> {
    let rule = finding.rule;
    if let Some(path) = finding.path.as_deref() {
        finding.role = roles.at(path, finding.line());
    }
    if let Some(&level) = config.severity.get(&rule.code) {
        finding.severity = if finding.severity == rule.severity {
            level
        } else {
            finding.severity.min(level)
        };
    }
    match roles::judge(rule, finding.role, finding.value) {
        Judged::Production => {}
        Judged::Demoted => {
            finding.code_kind = CodeKind::Test;
            finding.severity = Severity::Low;
        }
        Judged::Dropped => return None,
    }
    Some(finding)
}

/// Findings that are one problem, once: the same rule at the same place (a YAML anchor merged
/// into six services reports one line six times).
fn merge_one_problem(findings: Vec<Finding>) -> Vec<Finding> {
    let mut seen = HashSet::new();
    findings
        .into_iter()
        .filter(|f| {
            let at = f.span.as_ref().map(|s| (s.start_line, s.start_column));
            f.span.is_none() || seen.insert((f.rule.code, f.path.clone(), at))
        })
        .collect()
}

/// Sets each finding's fingerprint: its rule, file and line digest (or subject), numbered by
/// occurrence in report order. A finding about the whole project is fingerprinted without the
/// file it is shown at (`Finding::anchored`).
fn fingerprint(findings: &mut [Finding]) {
    let mut occurrences: HashMap<String, usize> = HashMap::new();
    for finding in findings {
        let path = if finding.anchored {
            None
        } else {
            finding.path.as_deref()
        };
        let hex = finding.fingerprint_hash(path);
        let seen = occurrences.entry(hex.clone()).or_default();
        *seen += 1;
        finding.fingerprint = format!("{hex}:{seen}");
    }
}
