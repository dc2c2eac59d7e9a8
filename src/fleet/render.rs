//! A merge as people and scripts read it: human text, JSON and markdown, from one summary.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;

use super::{Merge, Repository, Trends, Unreadable};
use crate::registry::{Category, Code, Severity};
use crate::report::score_text as score;
use crate::score::Level;

/// How many repositories "worst per category" lists.
const WORST: usize = 3;

/// What every format shows, computed once.
#[derive(Serialize)]
pub struct Summary<'a> {
    pub schema_version: u32,
    pub repositories: &'a [Repository],
    /// Level → repositories at it (`none`: no check applies).
    pub levels: BTreeMap<&'static str, usize>,
    /// Most failed first.
    pub rules: Vec<Prevalence>,
    /// Category title → its lowest-scored repositories below 100, lowest first.
    pub worst_by_category: BTreeMap<&'static str, Vec<(&'a str, f64)>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trends: Option<&'a Trends>,
    pub unreadable: &'a [Unreadable],
    pub notes: &'a [String],
}

#[derive(Serialize)]
pub struct Prevalence {
    pub code: String,
    pub name: String,
    pub repositories: usize,
    /// Severity of the worst failing finding → repositories.
    pub by_severity: BTreeMap<Severity, usize>,
}

pub fn summary(merge: &Merge) -> Summary<'_> {
    let mut levels: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut rules: BTreeMap<&str, Prevalence> = BTreeMap::new();
    for repository in &merge.repositories {
        let level = level_names()
            .find(|l| repository.level.as_deref() == Some(*l))
            .unwrap_or("none");
        *levels.entry(level).or_default() += 1;
        for (code, severity) in &repository.failing {
            let entry = rules.entry(code).or_insert_with(|| Prevalence {
                code: code.clone(),
                name: Code::parse(code).map_or_else(String::new, |c| c.rule().name.clone()),
                repositories: 0,
                by_severity: BTreeMap::new(),
            });
            entry.repositories += 1;
            *entry.by_severity.entry(*severity).or_default() += 1;
        }
    }
    let mut rules: Vec<Prevalence> = rules.into_values().collect();
    rules.sort_by(|a, b| {
        b.repositories
            .cmp(&a.repositories)
            .then(a.code.cmp(&b.code))
    });
    Summary {
        schema_version: 1,
        repositories: &merge.repositories,
        levels,
        rules,
        worst_by_category: worst_by_category(&merge.repositories),
        trends: merge.trends.as_ref(),
        unreadable: &merge.unreadable,
        notes: &merge.notes,
    }
}

fn worst_by_category(repositories: &[Repository]) -> BTreeMap<&'static str, Vec<(&str, f64)>> {
    let mut worst = BTreeMap::new();
    for category in Category::ALL {
        let mut scored: Vec<(&str, f64)> = (repositories.iter())
            .filter_map(|r| Some((r.name.as_str(), (*r.categories.get(category.title())?)?)))
            .filter(|(_, score)| *score < 100.0)
            .collect();
        scored.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(b.0)));
        scored.truncate(WORST);
        if !scored.is_empty() {
            worst.insert(category.title(), scored);
        }
    }
    worst
}

pub fn json(summary: &Summary<'_>) -> String {
    let mut text = serde_json::to_string_pretty(summary).expect("the summary serialises");
    text.push('\n');
    text
}

/// A table row's cells, markdown-safe: `|` and line breaks would break the table.
fn cell(text: &str) -> String {
    crate::report::markdown::inline(text)
}

pub fn markdown(summary: &Summary<'_>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Production readiness of {} repositories\n",
        summary.repositories.len()
    );
    let levels: Vec<String> = level_names()
        .filter_map(|l| Some(format!("{l}: {}", summary.levels.get(l)?)))
        .collect();
    let _ = writeln!(out, "Levels: {}\n", levels.join(" · "));
    let prefixes: Vec<&str> = Category::ALL.iter().map(|c| c.prefix()).collect();
    let _ = writeln!(
        out,
        "| Repository | Score | Level | {} | Failing rules |",
        prefixes.join(" | ")
    );
    let _ = writeln!(out, "|---|---|---|{}---|", "---|".repeat(prefixes.len()));
    for r in summary.repositories {
        let categories: Vec<String> = (Category::ALL.iter())
            .map(|c| score(r.categories.get(c.title()).copied().flatten()))
            .collect();
        let failing: Vec<&str> = r.failing.keys().map(String::as_str).collect();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            cell(&r.name),
            score(r.score),
            r.level.as_deref().unwrap_or("-"),
            categories.join(" | "),
            failing.join(" ")
        );
    }
    out.push_str(&markdown_rules_and_worst(summary));
    if let Some(trends) = summary.trends {
        out.push_str(&markdown_trends(trends));
    }
    out.push_str(&markdown_problems(summary));
    out
}

fn markdown_rules_and_worst(summary: &Summary<'_>) -> String {
    let mut out = String::from(
        "\n## Rules failing most\n\n| Rule | Repositories | By severity |\n|---|---|---|\n",
    );
    for rule in &summary.rules {
        let severities: Vec<String> = (rule.by_severity.iter().rev())
            .map(|(s, n)| format!("{s} {n}"))
            .collect();
        let _ = writeln!(
            out,
            "| {} {} | {} | {} |",
            rule.code,
            rule.name,
            rule.repositories,
            severities.join(", ")
        );
    }
    out.push_str("\n## Worst per category\n\n");
    for (category, worst) in &summary.worst_by_category {
        let names: Vec<String> = worst
            .iter()
            .map(|(n, s)| format!("{} ({s:.1})", cell(n)))
            .collect();
        let _ = writeln!(out, "- **{category}**: {}", names.join(", "));
    }
    out
}

fn markdown_trends(trends: &Trends) -> String {
    let mut out = String::from("\n## Since the previous merge\n\n");
    if let Some(note) = version_note(trends) {
        let _ = writeln!(out, "{}\n", cell(&note));
    }
    for line in trend_lines(trends) {
        let _ = writeln!(out, "- {}", cell(&line));
    }
    out
}

fn version_note(trends: &Trends) -> Option<String> {
    let (before, now) = trends.version_changed.as_ref()?;
    Some(format!(
        "prodready changed from {before} to {now}: score changes may be the tool's; no regression is reported."
    ))
}

/// Each change since the previous merge, in plain words.
fn trend_lines(trends: &Trends) -> Vec<String> {
    let mut lines = Vec::new();
    for (name, (before, now)) in &trends.score_changes {
        lines.push(format!(
            "{name}: score {} → {}",
            score(*before),
            score(*now)
        ));
    }
    for (name, (before, now)) in &trends.level_drops {
        lines.push(format!("{name}: level dropped from {before} to {now}"));
    }
    for (name, codes) in &trends.newly_failing {
        lines.push(format!("{name}: newly failing {}", codes.join(" ")));
    }
    lines.extend(
        trends
            .added
            .iter()
            .map(|name| format!("{name}: new in this merge")),
    );
    lines.extend((trends.missing.iter()).map(|name| format!("{name}: missing from this merge")));
    lines
}

fn markdown_problems(summary: &Summary<'_>) -> String {
    let mut out = String::new();
    if !summary.unreadable.is_empty() {
        out.push_str("\n## Unreadable reports\n\n");
        for u in summary.unreadable {
            let _ = writeln!(out, "- `{}`: {}", u.path.replace('`', "'"), cell(&u.reason));
        }
    }
    if !summary.notes.is_empty() {
        out.push_str("\n## Notes\n\n");
        for note in summary.notes {
            let _ = writeln!(out, "- {}", cell(note));
        }
    }
    out
}

/// The human format: the markdown, which reads as plain text too.
pub fn human(summary: &Summary<'_>) -> String {
    markdown(summary)
}

const FLEET_TEMPLATE: &str = include_str!("fleet.html");

/// A repository's row as the page shows it.
#[derive(Serialize)]
struct RowView<'a> {
    name: &'a str,
    score_text: String,
    level: Option<&'a str>,
    category_scores: Vec<String>,
    failing: Vec<&'a str>,
}

/// One self-contained page, with the HTML report's style and nothing to fetch (no script).
pub fn html(summary: &Summary<'_>) -> String {
    let rows: Vec<RowView<'_>> = (summary.repositories.iter())
        .map(|r| RowView {
            name: &r.name,
            score_text: score(r.score),
            level: r.level.as_deref(),
            category_scores: (Category::ALL.iter())
                .map(|c| score(r.categories.get(c.title()).copied().flatten()))
                .collect(),
            failing: r.failing.keys().map(String::as_str).collect(),
        })
        .collect();
    let style = crate::report::html::STYLE;
    let page = FleetPage {
        csp: crate::report::html::policy(style, None),
        style,
        version: env!("CARGO_PKG_VERSION"),
        levels: level_names()
            .filter_map(|l| Some((l, *summary.levels.get(l)?)))
            .collect(),
        categories: Category::ALL
            .iter()
            .map(|c| (c.prefix(), c.title()))
            .collect(),
        s: summary,
        rows: &rows,
        trends: summary.trends,
        trend_lines: summary.trends.map(trend_lines).unwrap_or_default(),
    };
    let mut env = minijinja::Environment::new();
    env.add_template("fleet.html", FLEET_TEMPLATE)
        .expect("the fleet template parses");
    let template = env.get_template("fleet.html").expect("it was just added");
    let mut text =
        (template.render(minijinja::value::Serde(&page))).expect("the fleet template renders");
    text.push('\n');
    text
}

#[derive(Serialize)]
struct FleetPage<'a, 'r> {
    csp: String,
    style: &'static str,
    version: &'static str,
    levels: Vec<(&'static str, usize)>,
    categories: Vec<(&'static str, &'static str)>,
    s: &'a Summary<'r>,
    rows: &'a [RowView<'r>],
    trends: Option<&'r Trends>,
    trend_lines: Vec<String>,
}

/// The levels as reports spell them, lowest first, then `none` (no check applies).
fn level_names() -> impl Iterator<Item = &'static str> {
    Level::ALL.iter().map(|l| l.as_str()).chain(["none"])
}
