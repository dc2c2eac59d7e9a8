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

/// Cumulative readiness levels: each needs a score floor, and that no item fails at or above
/// a severity. `prodready explain levels` prints `LEVELS_DOC`, the one definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    Pilot,
    Hardened,
    ProductionReady,
    Exemplary,
}

/// The definition of the levels, as `prodready explain levels` prints it.
pub const LEVELS_DOC: &str = "\
Readiness levels

The level follows the score and the severity of what fails. A level needs its score floor
and that no item fails at the severities it lists; the project gets the highest level whose
conditions it meets.

  pilot              below 50, or a critical item fails
  hardened           from 50, no critical item fails
  production-ready   from 80, no critical or high item fails
  exemplary          from 95, no critical, high or medium item fails

An item fails at the severity of its worst failing finding: a high item failed only by a low
finding (a localhost credential) counts as low. With rules deselected the score is partial and
the level is computed from the items that apply. With no applicable item there is no score and
no level. The report says why in one line, e.g. \"level hardened: score 72.0 (production-ready
needs 80) and a high item fails: RES004\".
";

impl Level {
    pub const ALL: [Level; 4] = [
        Level::Pilot,
        Level::Hardened,
        Level::ProductionReady,
        Level::Exemplary,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Pilot => "pilot",
            Level::Hardened => "hardened",
            Level::ProductionReady => "production-ready",
            Level::Exemplary => "exemplary",
        }
    }

    /// The lowest score the level allows.
    pub fn floor(self) -> f64 {
        match self {
            Level::Pilot => 0.0,
            Level::Hardened => 50.0,
            Level::ProductionReady => 80.0,
            Level::Exemplary => 95.0,
        }
    }

    /// The lowest severity at which a failing item rules the level out (`None`: none does).
    fn blocked_from(self) -> Option<Severity> {
        match self {
            Level::Pilot => None,
            Level::Hardened => Some(Severity::Critical),
            Level::ProductionReady => Some(Severity::High),
            Level::Exemplary => Some(Severity::Medium),
        }
    }

    fn next(self) -> Option<Level> {
        Level::ALL.into_iter().find(|l| *l > self)
    }

    /// The level of a score, given the severity each failing item fails at.
    pub fn of(score: f64, failing: &[Severity]) -> Level {
        let worst = failing.iter().max().copied();
        (Level::ALL.into_iter().rev())
            .find(|level| score >= level.floor() && !level.blocked_by(worst))
            .unwrap_or(Level::Pilot)
    }

    fn blocked_by(self, worst: Option<Severity>) -> bool {
        self.blocked_from()
            .zip(worst)
            .is_some_and(|(from, worst)| worst >= from)
    }
}

/// "level hardened: score 72.0 (production-ready needs 80) and a high item fails: RES004".
fn level_reason(level: Level, score: f64, items: &[Item]) -> String {
    let reason = format!("level {}: score {score:.1}", level.as_str());
    let Some(next) = level.next() else {
        return reason + ", and no critical, high or medium item fails";
    };
    let shortfall =
        (score < next.floor()).then(|| format!("({} needs {})", next.as_str(), next.floor()));
    let from = next.blocked_from().unwrap_or(Severity::Critical);
    let blocking: Vec<&Item> = (items.iter())
        .filter(|i| i.status == Status::Fail && i.worst.is_some_and(|w| w >= from))
        .collect();
    let fails = blocking.iter().filter_map(|i| i.worst).max().map(|worst| {
        let codes: Vec<&str> = (blocking.iter())
            .filter(|i| i.worst == Some(worst))
            .map(|i| i.rule.code.as_str())
            .collect();
        match codes.len() {
            1 => format!("a {} item fails: {}", worst.as_str(), codes[0]),
            n => format!("{n} {} items fail: {}", worst.as_str(), codes.join(", ")),
        }
    });
    match (shortfall, fails) {
        (Some(shortfall), Some(fails)) => format!("{reason} {shortfall} and {fails}"),
        (Some(shortfall), None) => format!("{reason} {shortfall}"),
        (None, Some(fails)) => format!("{reason}, but {fails}"),
        (None, None) => reason,
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
    /// `None` with the score.
    pub level: Option<Level>,
    /// Why the level is what it is, in one line (`level_reason`).
    pub level_reason: Option<String>,
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
    let score = score_of(items.iter());
    let failing: Vec<Severity> = (items.iter())
        .filter(|i| i.status == Status::Fail)
        .filter_map(|i| i.worst)
        .collect();
    let level = score.map(|score| Level::of(score, &failing));
    Scorecard {
        score,
        partial: items.iter().any(|i| i.status == Status::Skipped),
        level,
        level_reason: (score.zip(level)).map(|(score, level)| level_reason(level, score, &items)),
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

    fn severities(indices: &[usize]) -> Vec<Severity> {
        let all = [
            Severity::Low,
            Severity::Medium,
            Severity::High,
            Severity::Critical,
        ];
        indices.iter().map(|i| all[*i]).collect()
    }

    proptest::proptest! {
        #[test]
        fn the_level_follows_the_score_and_keeps_its_floors(
            score in 0.0f64..=100.0,
            more in 0.0f64..=100.0,
            failing in proptest::collection::vec(0usize..4, 0..6),
        ) {
            let failing = severities(&failing);
            let worst = failing.iter().max().copied();
            let level = Level::of(score, &failing);
            proptest::prop_assert!(level <= Level::of((score + more).min(100.0), &failing));
            proptest::prop_assert!(score >= level.floor() && !level.blocked_by(worst));
            if let Some(next) = level.next() {
                proptest::prop_assert!(score < next.floor() || next.blocked_by(worst));
            }
        }
    }

    #[test]
    fn the_reason_names_what_holds_the_level_back() {
        let items = [
            item(Code::RES004, Status::Fail, Some(Severity::High)),
            item(Code::RES007, Status::Fail, Some(Severity::Low)),
        ];
        assert_eq!(
            level_reason(Level::Hardened, 72.0, &items),
            "level hardened: score 72.0 (production-ready needs 80) and a high item fails: RES004"
        );
        assert_eq!(
            level_reason(Level::Hardened, 85.0, &items),
            "level hardened: score 85.0, but a high item fails: RES004"
        );
        assert_eq!(
            level_reason(Level::Pilot, 42.0, &items[1..]),
            "level pilot: score 42.0 (hardened needs 50)"
        );
        let critical = [
            item(Code::SEC001, Status::Fail, Some(Severity::Critical)),
            item(Code::SEC002, Status::Fail, Some(Severity::Critical)),
        ];
        assert_eq!(
            level_reason(Level::Pilot, 90.0, &critical),
            "level pilot: score 90.0, but 2 critical items fail: SEC001, SEC002"
        );
        assert_eq!(
            level_reason(Level::Exemplary, 100.0, &[]),
            "level exemplary: score 100.0, and no critical, high or medium item fails"
        );
        assert_eq!(Level::of(8.8, &[Severity::High]), Level::Pilot);
        assert_eq!(Level::of(100.0, &[Severity::Low]), Level::Exemplary);
        assert_eq!(Level::of(96.0, &[Severity::Medium]), Level::ProductionReady);
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
            level: None,
            level_reason: None,
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
