//! The checklist: one item per rule, its status, the weighted score and the readiness level.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::finding::{CodeKind, Disposition, Finding, SecretValue};
use crate::registry::{Category, Code, Rule, RuleSet, Severity, Subject, registry};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Pass,
    Fail,
    /// Every finding is allowed (and at least one is): the item passes, and the report lists
    /// what was waived and why.
    Waived,
    /// The rule's subject is absent: the item neither gains nor loses points.
    #[serde(rename = "n/a")]
    NotApplicable,
    /// Deselected by `select`/`ignore`: the score is partial.
    Skipped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Waived => "waived",
            Status::NotApplicable => "n/a",
            Status::Skipped => "skipped",
        }
    }
}

/// Cumulative readiness levels: each needs everything the one below needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    /// A critical item fails.
    Pilot,
    /// No critical item fails.
    Hardened,
    /// No critical or high item fails.
    ProductionReady,
    /// Every applicable item passes.
    Exemplary,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Pilot => "pilot",
            Level::Hardened => "hardened",
            Level::ProductionReady => "production-ready",
            Level::Exemplary => "exemplary",
        }
    }

    pub fn parse(text: &str) -> Option<Level> {
        [
            Level::Pilot,
            Level::Hardened,
            Level::ProductionReady,
            Level::Exemplary,
        ]
        .into_iter()
        .find(|l| l.as_str() == text)
    }
}

#[derive(Debug, Clone)]
pub struct Item {
    pub rule: &'static Rule,
    /// The rule's severity after configuration overrides; it sets the weight.
    pub severity: Severity,
    pub status: Status,
    /// Findings that fail the item (production code, not suppressed).
    pub failing: usize,
    /// The highest severity among those findings: a failing item counts for the readiness
    /// level at this severity (an item failed only by weaker variants, such as SEC003 to a
    /// local host, does not hold a project back as a full-severity failure would).
    pub worst: Option<Severity>,
    /// Findings reported without failing the item (test code, suppressed).
    pub informational: usize,
    /// Of those, the findings an allow suppresses.
    pub suppressed: usize,
    /// Of the failing findings, those recorded in the baseline: they fail the item but not the
    /// gate.
    pub baselined: usize,
    /// Why an `n/a` item could not apply beyond its subject's absence: the manifests it reads
    /// exist only as templates, which are not audited.
    pub not_audited: Option<String>,
}

impl Item {
    pub fn weight(&self) -> f64 {
        self.severity.weight()
    }

    /// What a failing item costs: the weight of its worst failing finding's severity, never
    /// more than its own weight. A high item failed only by a low finding loses 2.5 of its
    /// 7.5 points.
    pub fn weight_lost(&self) -> f64 {
        match (self.status, self.worst) {
            (Status::Fail, Some(worst)) => worst.weight().min(self.weight()),
            _ => 0.0,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct CategoryScore {
    pub category: Category,
    pub title: &'static str,
    pub score: Option<f64>,
    pub applicable: usize,
    pub total: usize,
    /// Items that pass, waived ones included.
    pub passed: usize,
    /// Of those, the waived items.
    pub waived: usize,
    pub failed: usize,
}

#[derive(Debug, Clone)]
pub struct Scorecard {
    pub items: Vec<Item>,
    /// 0-100, one decimal; `None` when no item applies.
    pub score: Option<f64>,
    /// Some items were skipped: the score covers only the selected rules.
    pub partial: bool,
    pub level: Level,
    pub categories: Vec<CategoryScore>,
}

/// Whether a finding fails its checklist item: not suppressed, and in production code (or an
/// issued credential, which fails wherever it sits).
pub fn fails_item(finding: &Finding) -> bool {
    finding.suppression().is_none()
        && (finding.code_kind == CodeKind::Production || finding.value == SecretValue::Issued)
}

/// 100 × the points kept over the points at stake: every applicable item puts its weight at
/// stake, and a failing one keeps its weight less what it lost.
fn score_of<'a>(items: impl Iterator<Item = &'a Item>) -> Option<f64> {
    let (mut kept, mut applicable) = (0.0, 0.0);
    for item in items {
        if matches!(item.status, Status::Pass | Status::Waived | Status::Fail) {
            applicable += item.weight();
            kept += item.weight() - item.weight_lost();
        }
    }
    (applicable > 0.0).then(|| (1000.0 * kept / applicable).round() / 10.0)
}

/// The checklist of the rules `offered` (preview rules the user did not opt into have no item).
pub fn scorecard(
    findings: &[Finding],
    selected: &RuleSet,
    subjects: &BTreeMap<Subject, String>,
    severity_overrides: &BTreeMap<Code, Severity>,
    offered: impl Fn(&Rule) -> bool,
) -> Scorecard {
    let items: Vec<Item> = registry()
        .rules()
        .iter()
        .filter(|rule| offered(rule))
        .map(|rule| {
            let severity = severity_overrides
                .get(&rule.code)
                .copied()
                .unwrap_or(rule.severity);
            let mine = findings.iter().filter(|f| f.rule.code == rule.code);
            let failing = mine.clone().filter(|f| fails_item(f)).count();
            let worst = mine
                .clone()
                .filter(|f| fails_item(f))
                .map(|f| f.severity)
                .max();
            let suppressed = mine.clone().filter(|f| f.suppression().is_some()).count();
            let baselined = mine
                .clone()
                .filter(|f| fails_item(f) && f.disposition == Disposition::Baselined)
                .count();
            let informational = mine.count() - failing;
            let status = if !selected.enabled(rule.code) {
                Status::Skipped
            } else if !subjects.contains_key(&rule.applies_when) {
                Status::NotApplicable
            } else if failing > 0 {
                Status::Fail
            } else if suppressed > 0 {
                Status::Waived
            } else {
                Status::Pass
            };
            let not_audited = (status == Status::NotApplicable)
                .then(|| templated_only(rule.applies_when, subjects))
                .flatten();
            Item {
                rule,
                severity,
                status,
                failing,
                worst,
                informational,
                suppressed,
                baselined,
                not_audited,
            }
        })
        .collect();
    let fails_at = |floor: Severity| {
        items
            .iter()
            .any(|i| i.status == Status::Fail && i.worst.is_some_and(|w| w >= floor))
    };
    let level = if fails_at(Severity::Critical) {
        Level::Pilot
    } else if fails_at(Severity::High) {
        Level::Hardened
    } else if fails_at(Severity::Low) {
        Level::ProductionReady
    } else {
        Level::Exemplary
    };
    let categories = Category::ALL
        .into_iter()
        .filter_map(|category| {
            let mine: Vec<&Item> = items
                .iter()
                .filter(|i| i.rule.category == category)
                .collect();
            if mine.is_empty() {
                return None;
            }
            let count = |s: Status| mine.iter().filter(|i| i.status == s).count();
            Some(CategoryScore {
                category,
                title: category.title(),
                score: score_of(mine.iter().copied()),
                applicable: count(Status::Pass) + count(Status::Waived) + count(Status::Fail),
                total: mine.len(),
                passed: count(Status::Pass) + count(Status::Waived),
                waived: count(Status::Waived),
                failed: count(Status::Fail),
            })
        })
        .collect();
    Scorecard {
        score: score_of(items.iter()),
        partial: items.iter().any(|i| i.status == Status::Skipped),
        level,
        categories,
        items,
    }
}

/// For an absent manifest subject, when templated manifests exist: what the item would have read.
fn templated_only(subject: Subject, subjects: &BTreeMap<Subject, String>) -> Option<String> {
    let manifests = matches!(
        subject,
        Subject::KubernetesManifests | Subject::DeploymentManifests
    );
    let first = subjects
        .get(&Subject::TemplatedManifests)
        .filter(|_| manifests)?;
    Some(format!(
        "manifests are templated, not audited (e.g. {first})"
    ))
}

impl Scorecard {
    pub fn count(&self, status: Status) -> usize {
        self.items.iter().filter(|i| i.status == status).count()
    }

    /// Items that pass, waived ones included.
    pub fn passing(&self) -> usize {
        self.count(Status::Pass) + self.count(Status::Waived)
    }

    pub fn applicable(&self) -> usize {
        self.passing() + self.count(Status::Fail)
    }

    /// The failing items whose fix would raise the score most, with the points each would add.
    pub fn top_improvements(&self, n: usize) -> Vec<(&Item, f64)> {
        let total: f64 = self
            .items
            .iter()
            .filter(|i| matches!(i.status, Status::Pass | Status::Waived | Status::Fail))
            .map(Item::weight)
            .sum();
        let mut failing: Vec<&Item> = self
            .items
            .iter()
            .filter(|i| i.status == Status::Fail)
            .collect();
        failing.sort_by(|a, b| {
            b.weight_lost()
                .total_cmp(&a.weight_lost())
                .then_with(|| a.rule.code.cmp(&b.rule.code))
        });
        failing
            .into_iter()
            .take(n)
            .map(|i| (i, (1000.0 * i.weight_lost() / total).round() / 10.0))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(code: Code, status: Status, worst: Option<Severity>) -> Item {
        let rule = code.rule();
        Item {
            rule,
            severity: rule.severity,
            status,
            failing: usize::from(status == Status::Fail),
            worst,
            informational: 0,
            suppressed: 0,
            baselined: 0,
            not_audited: None,
        }
    }

    #[test]
    fn a_failing_item_loses_what_its_worst_finding_weighs() {
        // RES004 is high (7.5), OPS001 high, SEC001 critical (10).
        let low_only = item(Code::RES004, Status::Fail, Some(Severity::Low));
        assert_eq!(low_only.weight_lost(), 2.5);
        let critical_in_high = item(Code::OPS001, Status::Fail, Some(Severity::Critical));
        assert_eq!(
            critical_in_high.weight_lost(),
            7.5,
            "never more than its weight"
        );
        assert_eq!(item(Code::SEC001, Status::Pass, None).weight_lost(), 0.0);
        // 7.5 + 7.5 + 10 at stake; kept 5.0 + 0 + 10.
        let items = [
            low_only,
            critical_in_high,
            item(Code::SEC001, Status::Pass, None),
        ];
        assert_eq!(score_of(items.iter()), Some(60.0));
    }

    #[test]
    fn the_biggest_loss_is_ranked_first() {
        let card = Scorecard {
            items: vec![
                item(Code::RES004, Status::Fail, Some(Severity::Low)),
                item(Code::RES007, Status::Fail, Some(Severity::Medium)),
                item(Code::SEC001, Status::Pass, None),
            ],
            score: None,
            partial: false,
            level: Level::Hardened,
            categories: Vec::new(),
        };
        let ranked: Vec<(Code, f64)> = card
            .top_improvements(3)
            .into_iter()
            .map(|(i, gain)| (i.rule.code, gain))
            .collect();
        // At stake: 7.5 + 5 + 10 = 22.5; RES007 loses 5, RES004 2.5.
        assert_eq!(ranked, [(Code::RES007, 22.2), (Code::RES004, 11.1)]);
    }
}
