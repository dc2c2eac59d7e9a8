//! JUnit XML, which most CI systems show as a test report: one test suite per category, one
//! test case per checklist item. A failing item is a failure listing its findings; an item
//! that does not apply or was deselected is skipped.

use std::io;

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};

use crate::engine::Report;
use crate::finding::Disposition;
use crate::report::anchor;
use crate::score::{Item, Status};

/// Characters XML 1.0 cannot carry, even escaped, become U+FFFD.
fn xml_text(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\t' | '\n' | '\r' => c,
            c if c < ' ' || c == '\u{fffe}' || c == '\u{ffff}' => '\u{fffd}',
            c => c,
        })
        .collect()
}

pub fn render(report: &Report, base: &str) -> String {
    let mut writer = Writer::new_with_indent(Vec::new(), b' ', 2);
    write(&mut writer, report, base).expect("writing XML to memory cannot fail");
    let mut text = String::from_utf8(writer.into_inner()).expect("the XML is UTF-8");
    text.push('\n');
    text
}

fn count(items: &[&Item], matches: impl Fn(Status) -> bool) -> String {
    items
        .iter()
        .filter(|i| matches(i.status))
        .count()
        .to_string()
}

fn write(writer: &mut Writer<Vec<u8>>, report: &Report, base: &str) -> io::Result<()> {
    let card = &report.scorecard;
    let all: Vec<&Item> = card.items.iter().collect();
    let skipped = |s: Status| matches!(s, Status::NotApplicable | Status::Skipped);
    writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    writer
        .create_element("testsuites")
        .with_attributes([
            ("name", "prodready"),
            ("tests", &all.len().to_string()),
            ("failures", &count(&all, |s| s == Status::Fail)),
            ("skipped", &count(&all, skipped)),
            ("errors", "0"),
        ])
        .write_inner_content(|writer| {
            for category in &card.categories {
                let items: Vec<&Item> = all
                    .iter()
                    .copied()
                    .filter(|i| i.rule.category == category.category)
                    .collect();
                writer
                    .create_element("testsuite")
                    .with_attributes([
                        ("name", category.title),
                        ("tests", &items.len().to_string()),
                        ("failures", &count(&items, |s| s == Status::Fail)),
                        ("skipped", &count(&items, skipped)),
                        ("errors", "0"),
                    ])
                    .write_inner_content(|writer| {
                        for item in &items {
                            test_case(writer, report, item, base)?;
                        }
                        Ok(())
                    })?;
            }
            Ok(())
        })?;
    Ok(())
}

fn test_case(
    writer: &mut Writer<Vec<u8>>,
    report: &Report,
    item: &Item,
    base: &str,
) -> io::Result<()> {
    let rule = item.rule;
    let element = writer.create_element("testcase").with_attributes([
        ("name", format!("{} {}", rule.code, rule.name).as_str()),
        (
            "classname",
            &format!("prodready.{}", rule.category.prefix()),
        ),
    ]);
    match item.status {
        Status::Pass | Status::Waived => {
            element.write_empty()?;
        }
        Status::NotApplicable | Status::Skipped => {
            let reason = if item.status == Status::Skipped {
                "deselected".to_string()
            } else {
                format!("applies when {}", rule.applies_when.describe())
            };
            element.write_inner_content(|writer| {
                writer
                    .create_element("skipped")
                    .with_attribute(("message", reason.as_str()))
                    .write_empty()?;
                Ok(())
            })?;
        }
        Status::Fail => {
            let lines: Vec<String> = report
                .findings
                .iter()
                .filter(|f| f.rule.code == rule.code && f.suppression().is_none())
                .map(|f| {
                    let anchor = anchor(report, f, base);
                    let line = anchor.span.map_or(1, |s| s.start_line);
                    let known = if f.disposition == Disposition::Baselined {
                        " [baselined]"
                    } else {
                        ""
                    };
                    format!(
                        "{}:{line}: {}: {}{known} (fix: {})",
                        anchor.path,
                        f.severity,
                        f.message,
                        f.fix_text()
                    )
                })
                .collect();
            let message = format!("{}: {} finding(s)", rule.summary, item.failing);
            element.write_inner_content(|writer| {
                writer
                    .create_element("failure")
                    .with_attributes([
                        ("message", xml_text(&message).as_str()),
                        ("type", item.severity.as_str()),
                    ])
                    .write_text_content(BytesText::new(&xml_text(&lines.join("\n"))))?;
                Ok(())
            })?;
        }
    }
    Ok(())
}
