//! SARIF 2.1.0 for GitHub code scanning (and any other SARIF consumer), built from the typed
//! model of `serde-sarif`. What GitHub requires of it is listed in `docs/outputs.md`.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use serde_sarif::sarif::{
    ArtifactLocation, Location, Message, MultiformatMessageString, PhysicalLocation, PropertyBag,
    Region, ReportingConfiguration, ReportingDescriptor, Result as SarifResult, ResultLevel, Run,
    RunAutomationDetails, Sarif, Suppression, Tool, ToolComponent,
};

use crate::changes::Changes;
use crate::engine::Report;
use crate::finding::{Disposition, Finding};
use crate::registry::{Category, Rule, Severity, registry};
use crate::report::{Level, anchor, rules::explain};
use crate::suppress::AllowKind;

pub const SCHEMA_URL: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// GitHub truncates longer rule descriptions.
const DESCRIPTION_LIMIT: usize = 1024;

pub struct SarifOptions<'a> {
    /// The audited folder relative to the repository (see `report::repository_base`).
    pub base: &'a str,
    /// `runs[].automationDetails.id`: keeps several analyses of one repository apart.
    pub category: Option<&'a str>,
    /// Keep suppressed findings, marked with `suppressions[]`. GitHub shows results that carry
    /// suppressions as open alerts unless the repository is configured otherwise, so they are
    /// left out by default.
    pub include_suppressed: bool,
}

pub fn render(report: &Report, changes: Option<&Changes>, options: &SarifOptions<'_>) -> String {
    let rules = registry().rules();
    let results: Vec<SarifResult> = report
        .findings
        .iter()
        .filter_map(|finding| {
            let suppression = match &finding.disposition {
                Disposition::Open | Disposition::PreExisting => None,
                Disposition::Suppressed(_) | Disposition::Baselined
                    if !options.include_suppressed =>
                {
                    return None;
                }
                // An allow in the code is `inSource`; one in prodready.toml is `external`.
                Disposition::Suppressed(allow) => Some(
                    Suppression::builder()
                        .kind(json!(match allow.kind {
                            AllowKind::Config => "external",
                            AllowKind::Comment | AllowKind::File | AllowKind::Annotation => {
                                "inSource"
                            }
                        }))
                        .justification(allow.reason.clone())
                        .build(),
                ),
                Disposition::Baselined => Some(
                    Suppression::builder()
                        .kind(json!("external"))
                        .justification("recorded in the baseline".to_string())
                        .build(),
                ),
            };
            let index = rules
                .iter()
                .position(|r| r.code == finding.rule.code)
                .expect("every finding's rule is in the registry");
            let changed = changes.is_some();
            Some(result(
                report,
                finding,
                index,
                suppression,
                changed,
                options.base,
            ))
        })
        .collect();

    let driver = ToolComponent::builder()
        .name("prodready".to_string())
        .version(env!("CARGO_PKG_VERSION").to_string())
        .semantic_version(env!("CARGO_PKG_VERSION").to_string())
        .rules(rules.iter().map(descriptor).collect::<Vec<_>>())
        .build();
    let mut run = Run::builder()
        .tool(Tool::from(driver))
        .results(results)
        // Columns count characters, as everywhere in prodready.
        .column_kind(json!("unicodeCodePoints"))
        .properties(bag(None, run_properties(report, changes)))
        .build();
    if let Some(category) = options.category {
        run.automation_details = Some(
            RunAutomationDetails::builder()
                .id(automation_id(category))
                .build(),
        );
    }
    let sarif = Sarif::builder()
        .schema(SCHEMA_URL.to_string())
        .version(json!("2.1.0"))
        .runs(vec![run])
        .build();
    let mut text = serde_json::to_string_pretty(&sarif).expect("the SARIF log serialises");
    text.push('\n');
    text
}

/// GitHub reads the part of `automationDetails.id` before its last `/` as the category; a
/// trailing `/` makes the whole of the user's value the category (as `upload-sarif` does).
fn automation_id(category: &str) -> String {
    if category.ends_with('/') {
        category.to_string()
    } else {
        format!("{category}/")
    }
}

fn bag(tags: Option<Vec<String>>, properties: BTreeMap<String, Value>) -> PropertyBag {
    PropertyBag {
        tags,
        additional_properties: properties,
    }
}

fn text(text: impl Into<String>) -> MultiformatMessageString {
    MultiformatMessageString::builder()
        .text(text.into())
        .build()
}

/// One line of at most `DESCRIPTION_LIMIT` characters: TOML docs are wrapped at 100 columns.
fn description(text: &str) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= DESCRIPTION_LIMIT {
        return line;
    }
    let mut cut: String = line.chars().take(DESCRIPTION_LIMIT - 1).collect();
    cut.push('…');
    cut
}

/// GitHub's numeric security severity: inside each band it shows (critical above 9.0, high
/// 7.0-8.9, medium 4.0-6.9, low below 4.0), never on an edge.
fn security_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "2.0",
    }
}

/// GitHub's severity for rules that are not about security.
fn problem_severity(severity: Severity) -> &'static str {
    match Level::of(severity) {
        Level::Error => "error",
        Level::Warning => "warning",
        Level::Note => "recommendation",
    }
}

fn level(severity: Severity) -> ResultLevel {
    match Level::of(severity) {
        Level::Error => ResultLevel::Error,
        Level::Warning => ResultLevel::Warning,
        Level::Note => ResultLevel::Note,
    }
}

fn help_markdown(rule: &Rule) -> String {
    let mut out = format!("**{}**\n\n{}\n", rule.summary, rule.docs.what.trim_end());
    for (title, body) in [
        ("Why it matters in production", &rule.docs.why),
        ("Example", &rule.docs.example),
        ("How to fix", &rule.docs.fix),
    ] {
        out.push_str(&format!("\n## {title}\n\n{}\n", body.trim_end()));
    }
    if !rule.references.is_empty() {
        out.push_str("\n## References\n\n");
        for reference in &rule.references {
            out.push_str(&format!("- <{reference}>\n"));
        }
    }
    out
}

fn descriptor(rule: &Rule) -> ReportingDescriptor {
    let mut tags = vec![rule.category.title().to_lowercase()];
    let mut properties = BTreeMap::from([
        // Rules report only what their analysis can decide (see CONTRIBUTING.md).
        ("precision".to_string(), json!("high")),
    ]);
    if rule.category == Category::Secrets {
        tags.push("security".to_string());
        properties.insert(
            "security-severity".to_string(),
            json!(security_severity(rule.severity)),
        );
    } else {
        properties.insert(
            "problem.severity".to_string(),
            json!(problem_severity(rule.severity)),
        );
    }
    ReportingDescriptor::builder()
        .id(rule.code.to_string())
        .name(rule.name.clone())
        .short_description(text(description(&rule.summary)))
        .full_description(text(description(&rule.docs.what)))
        .help(
            MultiformatMessageString::builder()
                .text(explain(rule))
                .markdown(help_markdown(rule))
                .build(),
        )
        .default_configuration(
            ReportingConfiguration::builder()
                .level(json!(level(rule.severity)))
                .build(),
        )
        .properties(bag(Some(tags), properties))
        .build()
}

/// Percent-encodes a relative path for a URI, keeping `/` as the separator.
fn uri(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for byte in path.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn result(
    report: &Report,
    finding: &Finding,
    rule_index: usize,
    suppression: Option<Suppression>,
    changed: bool,
    base: &str,
) -> SarifResult {
    let anchor = anchor(report, finding, base);
    // A finding about a whole file (or about something missing) is shown at its first line.
    let (start_line, start_column, end_line, end_column) = anchor.span.map_or((1, 1, 1, 2), |s| {
        (s.start_line, s.start_column, s.end_line, s.end_column)
    });
    let region = Region::builder()
        .start_line(start_line as i64)
        .start_column(start_column as i64)
        .end_line(end_line as i64)
        .end_column(end_column as i64)
        .build();
    let location = Location::builder()
        .physical_location(
            PhysicalLocation::builder()
                .artifact_location(
                    ArtifactLocation::builder()
                        .uri(uri(&anchor.path))
                        .uri_base_id("%SRCROOT%".to_string())
                        .build(),
                )
                .region(region)
                .build(),
        )
        .build();
    let message = format!("{}. Fix: {}", finding.message, finding.fix_text());
    let mut result = SarifResult::builder()
        .rule_id(finding.rule.code.to_string())
        .rule_index(rule_index as i64)
        .level(level(finding.severity))
        .message(Message::builder().text(message).build())
        .locations(vec![location])
        // The engine's content fingerprint: rule, path and normalised line (or the missing
        // subject), numbered per occurrence. It does not move when lines are inserted above.
        .partial_fingerprints(BTreeMap::from([(
            "primaryLocationLineHash".to_string(),
            finding.fingerprint.clone(),
        )]))
        .properties(bag(
            None,
            BTreeMap::from([
                ("severity".to_string(), json!(finding.severity)),
                ("codeKind".to_string(), json!(finding.code_kind)),
                ("role".to_string(), json!(finding.role)),
            ]),
        ))
        .build();
    if let Some(suppression) = suppression {
        result.suppressions = Some(vec![suppression]);
    }
    // With `--changed-since`: what the change brought, against the merge base.
    if changed {
        let new = finding.disposition == Disposition::Open;
        result.baseline_state = Some(json!(if new { "new" } else { "unchanged" }));
    }
    result
}

fn run_properties(report: &Report, changes: Option<&Changes>) -> BTreeMap<String, Value> {
    let card = &report.scorecard;
    let checklist: Vec<Value> = card
        .items
        .iter()
        .map(|item| {
            json!({
                "code": item.rule.code,
                "name": item.rule.name,
                "category": item.rule.category,
                "severity": item.severity,
                "status": item.status,
                "failingFindings": item.failing,
                "otherFindings": item.informational,
            })
        })
        .collect();
    let mut properties = BTreeMap::new();
    if let Some(changes) = changes {
        properties.insert(
            "changes".to_string(),
            json!({
                "since": changes.reference,
                "mergeBase": changes.merge_base,
                "baseScore": changes.base_score,
                "newFindings": changes.new_findings,
            }),
        );
    }
    properties.extend([
        ("score".to_string(), json!(card.score)),
        ("scorePartial".to_string(), json!(card.partial)),
        ("level".to_string(), json!(card.level)),
        (
            "gate".to_string(),
            json!({ "passed": report.gate.passed, "reasons": report.gate.reasons }),
        ),
        ("checklist".to_string(), Value::Array(checklist)),
    ]);
    properties
}
