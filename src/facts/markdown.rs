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

#[cfg(test)]
mod tests {
    use super::*;

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
