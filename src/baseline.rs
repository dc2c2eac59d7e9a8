//! The baseline: the findings of a codebase recorded once, so that a gate can be adopted on a
//! repository with debt and still fail on every new finding.
//!
//! An entry is a finding's fingerprint (see `engine::finalise`): a digest of its rule, relative
//! path and whitespace-normalised source line, with its occurrence among identical ones; the rule
//! and path are repeated in the clear for reviewers. Never a line number, so unrelated edits do
//! not churn it, and never source text, so a secret appears only inside a digest. The file is
//! JSON, sorted, one entry per line: deterministic and merge-friendly.

use std::collections::BTreeSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::finding::{Disposition, Finding};
use crate::registry::{Code, RuleSet};
use crate::score::fails_item;

pub const VERSION: u32 = 1;

/// One recorded finding. Field order is sort order: by file, then rule.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// Relative to the audited root; `None` for a project-level finding.
    pub path: Option<String>,
    pub rule: String,
    pub fingerprint: String,
}

impl Entry {
    pub(crate) fn of(finding: &Finding) -> Entry {
        Entry {
            path: finding.path.clone(),
            rule: finding.rule.code.to_string(),
            fingerprint: finding.fingerprint.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Baseline {
    pub entries: BTreeSet<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BaselineFile {
    version: u32,
    findings: Vec<Entry>,
}

/// What a baseline did in one audit.
#[derive(Debug, Clone, PartialEq)]
pub struct BaselineOutcome {
    pub entries: usize,
    /// Findings it matched: they do not fail the gate.
    pub matched: usize,
    /// Entries of rules that ran which match no finding any more: the baseline can shrink.
    pub fixed: Vec<Entry>,
}

impl Baseline {
    /// Records every finding that fails its checklist item (suppressed findings and test code
    /// need no entry).
    pub fn of(findings: &[Finding]) -> Baseline {
        Baseline {
            entries: findings
                .iter()
                .filter(|f| fails_item(f))
                .map(Entry::of)
                .collect(),
        }
    }

    pub fn parse(text: &str) -> Result<Baseline, String> {
        let file: BaselineFile =
            serde_json::from_str(text).map_err(|e| format!("not a prodready baseline: {e}"))?;
        if file.version != VERSION {
            return Err(format!(
                "baseline version {} is not supported (expected {VERSION})",
                file.version
            ));
        }
        Ok(Baseline {
            entries: file.findings.into_iter().collect(),
        })
    }

    pub fn load(path: &Path) -> Result<Baseline, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read baseline {}: {e}", path.display()))?;
        Baseline::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The file: sorted entries, one per line, so that two branches adding findings merge.
    pub fn render(&self) -> String {
        let mut out = format!("{{\n  \"version\": {VERSION},\n  \"findings\": [");
        for (index, entry) in self.entries.iter().enumerate() {
            out.push_str(if index == 0 { "\n    " } else { ",\n    " });
            out.push_str(&serde_json::to_string(entry).expect("an entry serialises"));
        }
        out.push_str(if self.entries.is_empty() {
            "]\n}\n"
        } else {
            "\n  ]\n}\n"
        });
        out
    }

    /// The entry that records a finding. A finding about the whole project (`anchored`) is
    /// matched whatever file it is shown at: by its fingerprint, or by the fingerprint it had
    /// when it was shown at the entry's file (an entry recorded before it moved).
    fn entry_for(&self, finding: &Finding) -> Option<&Entry> {
        let exact = Entry::of(finding);
        if let Some(entry) = self.entries.get(&exact) {
            return Some(entry);
        }
        if !finding.anchored {
            return None;
        }
        let rule = finding.rule.code.as_str();
        self.entries.iter().find(|e| {
            let hash = e.fingerprint.split(':').next().unwrap_or_default();
            e.rule == rule
                && (e.fingerprint == finding.fingerprint
                    || hash == finding.fingerprint_hash(e.path.as_deref()))
        })
    }

    /// Marks the failing findings it records as baselined. An entry of a rule that did not run
    /// is neither matched nor fixed: a partial audit cannot tell.
    pub fn apply(&self, findings: &mut [Finding], rules: &RuleSet) -> BaselineOutcome {
        let mut matched = BTreeSet::new();
        for finding in findings.iter_mut().filter(|f| fails_item(f)) {
            if let Some(entry) = self.entry_for(finding) {
                finding.disposition = Disposition::Baselined;
                matched.insert(entry.clone());
            }
        }
        BaselineOutcome {
            entries: self.entries.len(),
            matched: matched.len(),
            fixed: self
                .entries
                .iter()
                .filter(|e| {
                    Code::parse(&e.rule).is_some_and(|c| rules.enabled(c)) && !matched.contains(e)
                })
                .cloned()
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_is_sorted_one_entry_per_line_and_reads_back() {
        let entry = |path: Option<&str>, rule: &str, fingerprint: &str| Entry {
            path: path.map(String::from),
            rule: rule.to_string(),
            fingerprint: fingerprint.to_string(),
        };
        let baseline = Baseline {
            entries: [
                entry(Some("src/b.rs"), "RES001", "00ff:1"),
                entry(None, "OPS003", "abcd:1"),
                entry(Some("src/a.rs"), "SEC002", "1234:2"),
            ]
            .into_iter()
            .collect(),
        };
        let text = baseline.render();
        assert_eq!(
            text,
            "{\n  \"version\": 1,\n  \"findings\": [\n    \
             {\"path\":null,\"rule\":\"OPS003\",\"fingerprint\":\"abcd:1\"},\n    \
             {\"path\":\"src/a.rs\",\"rule\":\"SEC002\",\"fingerprint\":\"1234:2\"},\n    \
             {\"path\":\"src/b.rs\",\"rule\":\"RES001\",\"fingerprint\":\"00ff:1\"}\n  ]\n}\n"
        );
        assert_eq!(Baseline::parse(&text).unwrap(), baseline);
        let empty = Baseline::default().render();
        assert_eq!(Baseline::parse(&empty).unwrap(), Baseline::default());
        assert!(Baseline::parse("{\"version\": 2, \"findings\": []}").is_err());
    }

    #[test]
    fn a_finding_about_the_project_matches_its_entry_wherever_it_is_shown() {
        // Recorded when OBS002 stood at the migration tool's manifest (its fingerprint then held
        // that path); now it stands at the service's.
        let old =
            Finding::project(Code::OBS002, "metrics", "no metrics").in_file("tool/Cargo.toml");
        let recorded = Entry {
            path: Some("tool/Cargo.toml".into()),
            rule: "OBS002".into(),
            fingerprint: format!("{}:1", old.fingerprint_hash(Some("tool/Cargo.toml"))),
        };
        let baseline = Baseline {
            entries: [recorded].into_iter().collect(),
        };
        let mut moved = Finding::project(Code::OBS002, "metrics", "no metrics")
            .anchored_at(Some("svc/Cargo.toml"));
        moved.fingerprint = format!("{}:1", moved.fingerprint_hash(None));
        let rules = RuleSet::new(crate::registry::registry().rules());
        let outcome = baseline.apply(std::slice::from_mut(&mut moved), &rules);
        assert_eq!(moved.disposition, Disposition::Baselined);
        assert_eq!((outcome.matched, outcome.fixed.len()), (1, 0));
        // A finding about a file is matched at that file only.
        let mut elsewhere =
            Finding::project(Code::OBS002, "metrics", "no metrics").in_file("svc/Cargo.toml");
        elsewhere.fingerprint = format!("{}:1", elsewhere.fingerprint_hash(Some("svc/Cargo.toml")));
        baseline.apply(std::slice::from_mut(&mut elsewhere), &rules);
        assert_eq!(elsewhere.disposition, Disposition::Open);
    }
}
