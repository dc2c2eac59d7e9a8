//! `prodready rules` and `prodready explain`: the registry rendered for people and machines.

use std::fmt::Write;

use crate::registry::{Rule, registry};

pub fn list_human() -> String {
    let mut out = String::new();
    for rule in registry().rules() {
        let _ = writeln!(
            out,
            "{} {:<30} {:<8} {:<7} {:<6} {}",
            rule.code,
            rule.name,
            rule.severity.as_str(),
            rule.status.as_str(),
            rule.since,
            rule.summary
        );
    }
    out
}

pub fn list_json() -> String {
    let mut text = serde_json::to_string_pretty(registry().rules()).expect("rules serialise");
    text.push('\n');
    text
}

pub fn list_markdown() -> String {
    let mut out = String::from(
        "| Code | Name | Severity | Status | Since | Applies when | Summary |\n|---|---|---|---|---|---|---|\n",
    );
    for rule in registry().rules() {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            rule.code,
            rule.name,
            rule.severity.as_str(),
            rule.status.as_str(),
            rule.since,
            rule.applies_when.describe(),
            rule.summary
        );
    }
    out
}

/// The full documentation of one rule.
pub fn explain(rule: &Rule) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {} ({}, {})",
        rule.code,
        rule.name,
        rule.category.title(),
        rule.severity.as_str()
    );
    let _ = writeln!(out, "\n{}", rule.summary);
    let _ = writeln!(out, "Applies when: {}.", rule.applies_when.describe());
    let _ = writeln!(
        out,
        "Status: {} since {}.",
        rule.status.as_str(),
        rule.since
    );
    for (title, text) in [
        ("What it checks", &rule.docs.what),
        ("Why it matters in production", &rule.docs.why),
        ("Example", &rule.docs.example),
        ("How to fix", &rule.docs.fix),
    ] {
        let _ = writeln!(out, "\n## {title}\n{}", text.trim_end());
    }
    if !rule.references.is_empty() {
        let _ = writeln!(out, "\n## References");
        for reference in &rule.references {
            let _ = writeln!(out, "- {reference}");
        }
    }
    out
}
