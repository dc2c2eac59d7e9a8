//! SEC002 in text files that no parser reads: shell scripts, Dockerfiles, INI, `.properties`
//! and `.cfg` files, Terraform and HCL, XML, sources in other languages (Python, JavaScript,
//! Go, Java, Ruby, ...), the code blocks of Markdown, plain text. A secret-like name assigned a
//! literal (`export API_TOKEN=..`, `ENV DB_PASSWORD ..`, `password = ".."`, `"api_key": ".."`,
//! `<password>..</password>`) counts as it does in YAML or Rust: the same name rules
//! (`names::classify`) and value rules (`names::is_secret_value`). In a programming language a
//! bare value is an expression (`password = read_password()`, `token = TOKEN`): only a quoted
//! one is a literal.

use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

use super::names::{classify, is_secret_value};
use super::{Detection, called_a_sample, is_quoted, near_a_local_host, unquoted};
use crate::source::{FileKind, Source};

/// `name <op> value` anywhere on a line: after a line start or a separator, an optional
/// `export`/`ENV`/`ARG`/`set` or `--`, a name (quoted or not), then `=`, `:=`, `=>` or `:`.
static ASSIGNMENT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r#"(?m)(?:^|[\s,;({\[])(?:(?:export|ENV|ARG|set|setx|declare)[ \t]+)?(?:--)?"#,
        r#"["']?(?P<name>[A-Za-z_][A-Za-z0-9_.-]{0,80})["']?[ \t]*"#,
        r#"(?P<op>:=|=>|==|=|:)[ \t]*"#,
        r#"(?P<value>"[^"\n]{0,300}"|'[^'\n]{0,300}'|[^\s"'`,;)\]}]{1,300})"#,
    ))
    .expect("assignment regex")
});

/// Dockerfile `ENV NAME value` and `ARG NAME value`, without `=`.
static DOCKER_ENV: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?m)^[ \t]*(?:ENV|ARG)[ \t]+(?P<name>[A-Za-z_][A-Za-z0-9_]*)[ \t]+(?P<value>[^\s=]\S*)[ \t]*$")
        .expect("docker env regex")
});

/// `<password>value</password>`: an XML element named for a secret.
static XML_ELEMENT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"<(?P<name>[A-Za-z_][A-Za-z0-9_.-]{0,80})>(?P<value>[^<\s]{1,300})</(?P<close>[A-Za-z_][A-Za-z0-9_.-]{0,80})>")
        .expect("xml element regex")
});

/// Extensions of programming languages, where a bare value is an expression.
const CODE_EXTENSIONS: [&str; 30] = [
    "py", "js", "mjs", "cjs", "ts", "tsx", "jsx", "go", "java", "kt", "kts", "scala", "rb", "php",
    "cs", "swift", "c", "cc", "cpp", "h", "hpp", "m", "dart", "lua", "ex", "exs", "groovy",
    "gradle", "tf", "hcl",
];

/// Lines longer than this are minified or encoded data, not assignments.
const LONGEST_LINE: usize = 1_000;

/// SEC002 detections in a text file that has no parsed structure.
pub fn assignments(source: &Source, kind: FileKind) -> Vec<Detection> {
    // Every secret name holds one of these, whatever its case.
    static FRAGMENTS: LazyLock<aho_corasick::AhoCorasick> = LazyLock::new(|| {
        aho_corasick::AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(["pass", "secret", "credential", "key", "token"])
            .expect("a valid automaton")
    });
    if !matches!(kind, FileKind::Text | FileKind::Markdown) || !FRAGMENTS.is_match(&source.text) {
        return Vec::new();
    }
    let text = source.text.as_str();
    let code = source
        .path
        .rsplit_once('.')
        .is_some_and(|(_, ext)| CODE_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str()));
    let fenced = (kind == FileKind::Markdown).then(|| fenced_lines(source));
    // Only lines that hold a secret name's fragment can assign a secret.
    let mut lines: Vec<usize> = (FRAGMENTS.find_iter(text))
        .map(|hit| source.line_of(hit.start()))
        .collect();
    lines.dedup();
    let mut out = Vec::new();
    for line in lines {
        let range = source.line_range(line);
        let block = match &fenced {
            None => Block {
                code,
                sample: false,
            },
            Some(blocks) => match blocks.get(&line) {
                Some(&block) => block,
                None => continue,
            },
        };
        if range.len() <= LONGEST_LINE {
            line_assignments(source, range.start, &text[range], block, &mut out);
        }
    }
    out.sort_by_key(|d| d.secret.start);
    out.dedup_by_key(|d| d.secret.start);
    out
}

/// What a line is part of: a programming language (where a bare value is an expression), and
/// whether its text is introduced as a sample (a Markdown block under "for example").
#[derive(Clone, Copy)]
struct Block {
    code: bool,
    sample: bool,
}

/// The assignments on one line, which starts at byte `start` of the file.
fn line_assignments(
    source: &Source,
    start: usize,
    line: &str,
    block: Block,
    out: &mut Vec<Detection>,
) {
    let at = |m: regex::Match<'_>| start + m.start()..start + m.end();
    for caps in ASSIGNMENT.captures_iter(line) {
        let (name, value) = (
            caps.name("name").expect("group"),
            caps.name("value").expect("group"),
        );
        let quoted = is_quoted(value.as_str());
        if &caps["op"] == "=="
            || (block.code && !quoted)
            || (!quoted && !ends_its_line(source, start + value.end()))
            || (&caps["op"] == ":" && !starts_an_entry(source, start + name.start()))
        {
            continue;
        }
        push(source, name.as_str(), at(value), block, out);
    }
    // `ENV NAME value`, `<name>value</name>`: a name and a value, nothing to rule out.
    let elements = XML_ELEMENT
        .captures_iter(line)
        .filter(|caps| caps["name"] == caps["close"]);
    for caps in DOCKER_ENV.captures(line).into_iter().chain(elements) {
        let value = at(caps.name("value").expect("group"));
        push(source, &caps["name"], value, block, out);
    }
}

/// Adds a detection when `name` is a secret's and the value at `range` is a real one.
fn push(source: &Source, name: &str, range: Range<usize>, block: Block, out: &mut Vec<Detection>) {
    let name = name.trim_start_matches('-');
    let Some(kind) = classify(name) else {
        return;
    };
    let range = unquoted(source, range);
    let value = &source.text[range.clone()];
    let line = source.line_text(source.line_of(range.start));
    if range.is_empty()
        || value.starts_with(['$', '%', '{', '@', '&', '*'])
        || value.contains(['(', '[', '{', '<'])
        || !is_secret_value(name, value, kind, line)
        || made_of_user_name(source, &range, value)
    {
        return;
    }
    let sample =
        block.sample || called_a_sample(source, &range) || near_a_local_host(source, &range);
    out.push(Detection::assignment(name, range, sample, false));
}

/// Whether only a comment or a shell separator follows a bare value on its line: `KEY=value`
/// assigns, `passwd: files ldap` (a list of words) does not.
fn ends_its_line(source: &Source, at: usize) -> bool {
    let line = source.line_range(source.line_of(at));
    let rest = source.text[at..line.end.max(at)].trim();
    rest.is_empty()
        || ["#", ";", "//", "&&", "\\"]
            .iter()
            .any(|c| rest.starts_with(c))
}

/// Whether a `name: value` pair starts an entry (a line, or after `{`, `,`, `(`, `[`), not
/// the middle of an expression (`kind ? "password" : "text"`).
fn starts_an_entry(source: &Source, at: usize) -> bool {
    let line = source.line_range(source.line_of(at));
    let before = source.text[line.start..at.max(line.start)].trim_end();
    let before = before.trim_end_matches(['"', '\'']).trim_end();
    before.is_empty() || before.ends_with(['{', ',', '(', '['])
}

/// Whether the value is spelled from the words of a user name set within three lines
/// (`admin_username: lemmy_alpha` and `admin_password: lemmylemmy`): a development default.
fn made_of_user_name(source: &Source, range: &Range<usize>, value: &str) -> bool {
    static USER: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"(?i)\b[a-z_]*user(?:name)?["']?\s*(?:=|:)\s*["']?([A-Za-z0-9_.-]+)"#)
            .expect("user regex")
    });
    let line = source.line_of(range.start);
    (line.saturating_sub(3).max(1)..=(line + 3).min(source.line_count())).any(|n| {
        USER.captures(source.line_text(n))
            .is_some_and(|caps| super::names::spelled_from(value, &crate::words::split(&caps[1])))
    })
}

/// Languages of Markdown code blocks (the fence's info string) whose bare values are
/// expressions.
const CODE_LANGUAGES: [&str; 24] = [
    "rust",
    "rs",
    "python",
    "py",
    "javascript",
    "js",
    "typescript",
    "ts",
    "go",
    "java",
    "kotlin",
    "ruby",
    "rb",
    "php",
    "c",
    "cpp",
    "c++",
    "csharp",
    "cs",
    "swift",
    "scala",
    "hcl",
    "terraform",
    "tf",
];

/// The lines inside Markdown's fenced code blocks (between ``` or ~~~ fences), each with its
/// block: in a programming language or not, introduced as a sample or not (the lines just
/// above its fence say `example`, `sample`, ...).
fn fenced_lines(source: &Source) -> std::collections::BTreeMap<usize, Block> {
    let mut lines = std::collections::BTreeMap::new();
    let mut fence: Option<(&str, Block)> = None;
    for line in 1..=source.line_count() {
        let text = source.line_text(line).trim_start();
        let marker = ["```", "~~~"].into_iter().find(|m| text.starts_with(m));
        match (fence, marker) {
            (None, Some(m)) => {
                let info = text.trim_start_matches(m).trim().to_ascii_lowercase();
                let language = info.split([' ', ',', '{']).next().unwrap_or_default();
                let block = Block {
                    code: CODE_LANGUAGES.contains(&language),
                    sample: called_a_sample(source, &source.line_range(line)),
                };
                fence = Some((m, block));
            }
            (Some((open, _)), Some(m)) if open == m => fence = None,
            (Some((_, block)), _) => {
                lines.insert(line, block);
            }
            (None, None) => {}
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_password_spelled_from_its_user_name_is_a_default() {
        let judged = |password: &str| {
            let text = format!("admin_username = lemmy_alpha\n# c\nadmin_password = {password}\n");
            let source = crate::source::Source::new("a.conf", text.clone());
            let at = text.find(password).unwrap();
            super::made_of_user_name(&source, &(at..at + password.len()), password)
        };
        assert!(judged("lemmylemmy"));
        assert!(judged("alphalemmy"));
        assert!(!judged("lemmy-Zq8mV2"));
        assert!(!judged("tf6HHDS4Rol"));
    }
}
