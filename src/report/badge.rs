//! An SVG badge with the readiness level and score, in the flat style of shields.io, for a
//! README. Written with an XML writer, so every text is escaped.

use std::io;

use quick_xml::Writer;
use quick_xml::events::BytesText;

use crate::engine::Report;
use crate::report::score_text;
use crate::score::Level;

const LABEL: &str = "prodready";
const HEIGHT: &str = "20";

/// Approximate width of 11px Verdana text, as shields.io sizes its badges.
fn text_width(text: &str) -> usize {
    text.chars()
        .map(|c| match c {
            'i' | 'l' | 'j' | '.' | ',' | ':' | '\'' | '|' | '!' | ' ' => 4,
            'm' | 'w' | 'M' | 'W' => 10,
            c if c.is_ascii_uppercase() => 8,
            '·' => 4,
            _ => 7,
        })
        .sum::<usize>()
        + 10
}

fn color(level: Option<Level>) -> &'static str {
    let Some(level) = level else {
        return "#9f9f9f";
    };
    match level {
        Level::Pilot => "#e05d44",
        Level::Hardened => "#fe7d37",
        Level::ProductionReady => "#97ca00",
        Level::Exemplary => "#44cc11",
    }
}

pub fn render(report: &Report) -> String {
    let card = &report.scorecard;
    let value = format!(
        "{} · {}",
        super::level_text(card.level),
        score_text(card.score)
    );
    let mut writer = Writer::new(Vec::new());
    write(&mut writer, &value, color(card.level)).expect("writing XML to memory cannot fail");
    let mut text = String::from_utf8(writer.into_inner()).expect("the SVG is UTF-8");
    text.push('\n');
    text
}

fn write(writer: &mut Writer<Vec<u8>>, value: &str, value_color: &str) -> io::Result<()> {
    let left = text_width(LABEL);
    let right = text_width(value);
    let total = (left + right).to_string();
    let title = format!("{LABEL}: {value}");
    writer
        .create_element("svg")
        .with_attributes([
            ("xmlns", "http://www.w3.org/2000/svg"),
            ("width", total.as_str()),
            ("height", HEIGHT),
            ("role", "img"),
            ("aria-label", title.as_str()),
        ])
        .write_inner_content(|writer| {
            writer
                .create_element("title")
                .write_text_content(BytesText::new(&title))?;
            for (x, width, fill) in [(0, left, "#555"), (left, right, value_color)] {
                writer
                    .create_element("rect")
                    .with_attributes([
                        ("x", x.to_string().as_str()),
                        ("width", &width.to_string()),
                        ("height", HEIGHT),
                        ("fill", fill),
                    ])
                    .write_empty()?;
            }
            writer
                .create_element("g")
                .with_attributes([
                    ("fill", "#fff"),
                    ("text-anchor", "middle"),
                    ("font-family", "Verdana,Geneva,DejaVu Sans,sans-serif"),
                    ("font-size", "11"),
                ])
                .write_inner_content(|writer| {
                    for (center, text) in [(left / 2, LABEL), (left + right / 2, value)] {
                        writer
                            .create_element("text")
                            .with_attributes([("x", center.to_string().as_str()), ("y", "14")])
                            .write_text_content(BytesText::new(text))?;
                    }
                    Ok(())
                })?;
            Ok(())
        })?;
    Ok(())
}
