//! Stage seven: what is decided project-wide about every finding. Allows, applicability and
//! selection, test code and its severity policy, the configuration's severity overrides; then
//! the order and the fingerprints.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use sha2::{Digest, Sha256};

use crate::checks::allows::{self, Allows};
use crate::config::Config;
use crate::facts::FileFacts;
use crate::finding::{CodeKind, Finding};
use crate::project::path_code_kind;
use crate::registry::{Code, RuleSet, Severity, Subject, TestCodePolicy};

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
    let test_code = TestCode::of(files);
    let mut out: Vec<Finding> = findings
        .into_iter()
        .filter(|f| rules.enabled(f.rule.code) && subjects.contains_key(&f.rule.applies_when))
        .filter_map(|finding| judge(finding, &test_code, config))
        .collect();
    out.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    fingerprint(&mut out);
    out
}

/// Where test code is: files under test paths, files reached through `#[cfg(test)] mod x;`,
/// and the test regions of Rust files.
struct TestCode<'a> {
    by_path: HashMap<&'a str, &'a FileFacts>,
    test_module_files: BTreeSet<&'a str>,
}

impl<'a> TestCode<'a> {
    fn of(files: &'a [FileFacts]) -> TestCode<'a> {
        TestCode {
            by_path: files.iter().map(|f| (f.path.as_str(), f)).collect(),
            test_module_files: files
                .iter()
                .filter_map(|f| f.rust.as_ref())
                .flat_map(|r| r.test_module_files.iter().map(String::as_str))
                .collect(),
        }
    }

    fn holds(&self, path: &str, line: usize) -> bool {
        let in_test_region = self
            .by_path
            .get(path)
            .and_then(|f| f.rust.as_ref())
            .is_some_and(|r| r.is_test_line(line));
        path_code_kind(path) == CodeKind::Test
            || self.test_module_files.contains(path)
            || in_test_region
    }
}

/// A finding's code kind and final severity, or `None` when its rule ignores test code and it
/// is in test code.
fn judge(mut finding: Finding, test_code: &TestCode, config: &Config) -> Option<Finding> {
    let rule = finding.rule;
    if let Some(path) = finding.path.as_deref()
        && test_code.holds(path, finding.line())
    {
        finding.code_kind = CodeKind::Test;
    }
    if let Some(&level) = config.severity.get(&rule.code) {
        finding.severity = if finding.severity == rule.severity {
            level
        } else {
            finding.severity.min(level)
        };
    }
    if finding.code_kind == CodeKind::Test {
        match rule.test_code {
            TestCodePolicy::Ignore => return None,
            // An issued credential (its checksum validates) is critical wherever it sits.
            TestCodePolicy::ReportLow if finding.verified => {}
            TestCodePolicy::ReportLow => finding.severity = Severity::Low,
        }
    }
    Some(finding)
}

/// Sets each finding's fingerprint: its rule, file and line digest (or subject), numbered by
/// occurrence in report order.
fn fingerprint(findings: &mut [Finding]) {
    let mut occurrences: HashMap<String, usize> = HashMap::new();
    for finding in findings {
        let mut hasher = Sha256::new();
        hasher.update(finding.rule.code.as_str().as_bytes());
        hasher.update([0]);
        hasher.update(finding.path.as_deref().unwrap_or("").as_bytes());
        hasher.update([0]);
        let content = finding
            .line_key
            .as_deref()
            .or(finding.subject.as_deref())
            .unwrap_or("");
        hasher.update(content.as_bytes());
        let digest = hasher.finalize();
        let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        let seen = occurrences.entry(hex.clone()).or_default();
        *seen += 1;
        finding.fingerprint = format!("{hex}:{seen}");
    }
}
