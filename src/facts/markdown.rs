//! Markdown headings, for rules that look for sections (runbooks).

use pulldown_cmark::{Event, Parser, Tag, TagEnd};

use crate::source::Source;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Heading {
    pub line: usize,
    pub text: String,
}

/// Every heading (ATX or setext; not those inside code blocks), with its line.
pub fn headings(source: &Source) -> Vec<Heading> {
    let mut out = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (event, range) in Parser::new(&source.text).into_offset_iter() {
        match event {
            Event::Start(Tag::Heading { .. }) => {
                current = Some((source.line_of(range.start), String::new()));
            }
            Event::Text(text) | Event::Code(text) => {
                if let Some((_, heading)) = current.as_mut() {
                    heading.push_str(&text);
                }
            }
            Event::End(TagEnd::Heading(_)) => {
                if let Some((line, text)) = current.take() {
                    out.push(Heading {
                        line,
                        text: text.trim().to_string(),
                    });
                }
            }
            _ => {}
        }
    }
    out
}

/// The headings of a reStructuredText or AsciiDoc document (for runbooks written in them):
/// reST titles are a line underlined (or over- and underlined) by one repeated punctuation
/// character at least as long; AsciiDoc's start with `=` (or `#`) and a space.
pub fn text_headings(source: &Source) -> Vec<Heading> {
    let lines: Vec<&str> = source.text.lines().collect();
    let underline = |line: &str, title: &str| {
        let line = line.trim_end();
        let mut chars = line.chars();
        chars
            .next()
            .is_some_and(|c| "=-~^*#+`'\":.".contains(c) && line.chars().all(|d| d == c))
            && line.chars().count() >= title.trim().chars().count()
            && !title.trim().is_empty()
    };
    let mut out = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        let adoc = line
            .strip_prefix('=')
            .or_else(|| line.strip_prefix('#'))
            .map(|rest| rest.trim_start_matches(['=', '#']))
            .filter(|rest| rest.starts_with(' '));
        let rst = lines
            .get(index + 1)
            .is_some_and(|next| underline(next, line))
            && !underline(line, "x");
        let text = match (adoc, rst) {
            (Some(rest), _) => rest.trim(),
            (None, true) => line.trim(),
            (None, false) => continue,
        };
        out.push(Heading {
            line: index + 1,
            text: text.to_string(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restructuredtext_and_asciidoc_headings() {
        let rst = Source::new(
            "docs/runbook.rst",
            "Runbook\n=======\n\nRollback\n--------\ntext\n\nshort\n-\n".to_string(),
        );
        let texts: Vec<String> = text_headings(&rst).into_iter().map(|h| h.text).collect();
        assert_eq!(texts, ["Runbook", "Rollback"]);
        let adoc = Source::new(
            "docs/runbook.adoc",
            "= Runbook\n\n== Escalation\ntext ==\n".to_string(),
        );
        let texts: Vec<String> = text_headings(&adoc).into_iter().map(|h| h.text).collect();
        assert_eq!(texts, ["Runbook", "Escalation"]);
    }

    #[test]
    fn atx_and_setext_headings_but_not_code() {
        let src = Source::new(
            "RUNBOOK.md",
            "# Runbook\n\n```\n# not a heading\n```\n\nRoll `back`\n-----------\n## On-call\n"
                .to_string(),
        );
        let found: Vec<_> = headings(&src)
            .into_iter()
            .map(|h| (h.line, h.text))
            .collect();
        assert_eq!(
            found,
            vec![
                (1, "Runbook".to_string()),
                (7, "Roll back".to_string()),
                (9, "On-call".to_string())
            ]
        );
    }
}
