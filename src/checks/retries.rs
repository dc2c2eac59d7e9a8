//! RES: retries — without backoff (RES001), without a limit (RES002), without jitter (RES003),
//! configured without backoff (RES008), and deaf to rate limits (RES010).
//!
//! Rust code is read in two ways: hand-written retry loops (`loops`, with the delay classified
//! by `delay`) and retry-crate policies (`policies`). The vocabularies live in the rules'
//! `[data]` tables.

mod delay;
mod loops;
mod policies;
mod purpose;
mod random;
mod rate_limit;

use std::sync::LazyLock;

use serde::Deserialize;

use super::{FileContext, Parsed, ProjectContext, TreeQuery};
use crate::facts::imports::Imports;
use crate::facts::settings::Setting;
use crate::finding::Finding;
use crate::registry::Code;

pub fn check_file(ctx: &FileContext<'_>, parsed: &Parsed<'_>, out: &mut Vec<Finding>) {
    let rust_rules = [Code::RES001, Code::RES002, Code::RES003, Code::RES010];
    if rust_rules.iter().any(|&code| ctx.rules.enabled(code))
        && let Some(rust) = &parsed.rust
    {
        let cx = Cx {
            ctx,
            imports: rust.imports,
            data: &DATA,
        };
        loops::check(&cx, rust.ast, out);
        policies::check(&cx, rust.ast, out);
    }
    if ctx.rules.enabled(Code::RES008)
        && let Some(settings) = parsed.settings
    {
        config_retry_without_backoff(ctx, settings, out);
    }
}

pub fn check_project(_ctx: &ProjectContext<'_>, _out: &mut Vec<Finding>) {}

/// The loop keywords of a hand-written retry loop (`for` counts only over a range), and the
/// inspections of its call's result (`loops::find_shape`).
const LOOP_KEYWORDS: [&str; 3] = ["loop", "while", "for"];
const INSPECTIONS: [&str; 5] = ["Ok", "Err", "is_ok", "is_err", "is_success"];

/// A retry loop needs a loop keyword and an inspected result inside it; a retry-crate policy
/// or a tower retry policy needs its path's segments written.
pub fn needs_tree(query: &TreeQuery<'_>) -> bool {
    if ![Code::RES001, Code::RES002, Code::RES003, Code::RES010]
        .into_iter()
        .any(|c| query.live(c))
    {
        return false;
    }
    let retry_loop = INSPECTIONS.iter().any(|w| query.has(w))
        && LOOP_KEYWORDS.iter().any(|w| query.has(w))
        && loop_inspects_a_result(&query.ctx.source.text, query.tokens(), query.has("exit"));
    // A policy is found by its resolved path: every segment is written (`query.has_path`).
    retry_loop
        || DATA.res001.policy.iter().any(|p| query.has_path(&p.path))
        || (query.live(Code::RES001) && query.has_path(&DATA.res001.tower_policy_trait))
}

/// Whether, in the code's tokens, a loop may be a retry loop (`loops`): an inspection (`Ok`,
/// `Err`, `is_ok` ..) within a `loop`, a `while`, or a `for .. in` with a range's `..` in its
/// header; and, unless the loop is over a range, the loop also counts (`+`, maybe `=`, then an
/// integer literal: `n += 1`, `n = n + 1`) or the text writes a retry word somewhere (the rule
/// reads them in the loop, its function's name and its label). A `loop` or a `for` must also
/// hold a way out for its success path (`loops::exits`): `return`, `break`, an exit macro, or
/// any call where the file names `exit` (`exit_named`: `std::process::exit`, maybe renamed on
/// import); a `while` may leave by its condition. (`for` without `in` before its block is
/// `impl .. for` or `for<'a>`; a range loop's pattern cannot be a struct pattern.)
///
/// A loop runs from its keyword to the end of its body. Where the body's brace cannot be told
/// apart from a block in the header (`for x in {v} {`, `while match k { .. } {`), the loop is
/// read up to the end of the block around its keyword, a stretch that holds the whole loop.
fn loop_inspects_a_result(
    text: &str,
    tokens: &[crate::words::CodeToken<'_>],
    exit_named: bool,
) -> bool {
    use ra_ap_rustc_lexer::{LiteralKind, TokenKind};
    let mut loops = OpenLoops::default();
    let mut count = CountReader::default();
    let mut previous: Option<crate::words::CodeToken<'_>> = None;
    let mut retry_word: Option<bool> = None;
    let mut names_a_retry = || *retry_word.get_or_insert_with(|| writes_a_retry_word(text));
    loops.exit_anywhere = exit_named;
    for (index, &(kind, piece)) in tokens.iter().enumerate() {
        let Some(after_plus) = count.take_plus(kind) else {
            continue;
        };
        if opens_a_block_like_expression(kind, piece, previous) {
            loops.make_headers_unclear();
        }
        match kind {
            TokenKind::OpenBrace => loops.open_brace(previous),
            TokenKind::CloseBrace => loops.close_brace(),
            TokenKind::OpenParen | TokenKind::OpenBracket => loops.parens += 1,
            TokenKind::CloseParen | TokenKind::CloseBracket => {
                loops.parens = loops.parens.saturating_sub(1);
            }
            TokenKind::Dot if previous.is_some_and(|(kind, _)| kind == TokenKind::Dot) => {
                loops.note_range();
            }
            TokenKind::Plus => count.plus = 1,
            TokenKind::Eq if after_plus == 1 => count.plus = 2,
            TokenKind::Literal {
                kind: LiteralKind::Int { .. },
                ..
            } if after_plus > 0 && loops.count_makes_a_retry() => return true,
            TokenKind::Bang
                if previous.is_some_and(|(kind, name)| {
                    kind == TokenKind::Ident && DATA.res001.exit_macros.iter().any(|m| m == name)
                }) && loops.note_exit() =>
            {
                return true;
            }
            TokenKind::Ident => match piece {
                "loop" | "while" | "for" => loops.open_loop(piece),
                "in" => loops.note_in(),
                "return" | "break" if loops.note_exit() => return true,
                _ if INSPECTIONS.contains(&piece)
                    && inspects(tokens, index)
                    && loops.inspection_makes_a_retry(&mut names_a_retry) =>
                {
                    return true;
                }
                _ => {}
            },
            _ => {}
        }
        previous = Some((kind, piece));
    }
    false
}

/// The loops open at a token of `loop_inspects_a_result`, and the nesting it is at.
#[derive(Default)]
struct OpenLoops {
    open: Vec<OpenLoop>,
    depth: usize,
    parens: usize,
    /// The file names `exit`: any call may leave any loop.
    exit_anywhere: bool,
}

/// A loop whose keyword was read and whose body has not ended.
struct OpenLoop {
    /// Braces and parentheses (with brackets) open around the keyword.
    depth: usize,
    parens: usize,
    is_for: bool,
    has_in: bool,
    /// The body's brace seen (and the header's end with it), when it could be no other.
    in_body: bool,
    /// A block-like expression (`match`, `unsafe { .. }`, a closure, a macro) in the
    /// header: the loop is read to the end of the block around its keyword.
    unclear: bool,
    has_range: bool,
    inspected: bool,
    counted: bool,
    /// A way out (`return`, `break`, an exit macro) read inside it.
    exits: bool,
    /// It is shaped as a retry, but for a way out.
    retries: bool,
}

impl OpenLoop {
    /// Whether a token at this nesting is in the loop's header, at the header's own level.
    fn in_header(&self, depth: usize, parens: usize) -> bool {
        !self.in_body
            && !self.unclear
            && (self.has_in || !self.is_for)
            && self.depth == depth
            && self.parens == parens
    }
}

impl OpenLoops {
    fn open_loop(&mut self, keyword: &str) {
        self.open.push(OpenLoop {
            depth: self.depth,
            parens: self.parens,
            is_for: keyword == "for",
            has_in: false,
            in_body: false,
            unclear: false,
            has_range: false,
            inspected: false,
            counted: false,
            exits: keyword == "while" || self.exit_anywhere,
            retries: false,
        });
    }

    /// A way out of every open loop: whether one of them is then a retry.
    fn note_exit(&mut self) -> bool {
        for o in &mut self.open {
            o.exits = true;
        }
        self.open.iter().any(|o| o.retries)
    }

    /// An `in` at a `for`'s own nesting: its header holds what it loops over.
    fn note_in(&mut self) {
        if let Some(o) = self
            .open
            .last_mut()
            .filter(|o| o.is_for && o.depth == self.depth && o.parens == self.parens)
        {
            o.has_in = true;
        }
    }

    /// A `..`: the range of the `for` loops whose header may hold it.
    fn note_range(&mut self) {
        self.open
            .iter_mut()
            .filter(|o| o.is_for && o.has_in && (!o.in_body || o.unclear))
            .for_each(|o| o.has_range = true);
    }

    fn make_headers_unclear(&mut self) {
        self.open
            .iter_mut()
            .filter(|o| o.in_header(self.depth, self.parens))
            .for_each(|o| o.unclear = true);
    }

    fn open_brace(&mut self, previous: Option<crate::words::CodeToken<'_>>) {
        // A `for` whose block opens before any `in` is no loop.
        if self
            .open
            .last()
            .is_some_and(|o| o.is_for && !o.has_in && o.depth == self.depth)
        {
            self.open.pop();
        }
        // The body's brace follows the end of an expression (`0..n {`, `next() {`),
        // or the `loop` keyword; any other (`in {v} {`, `= {`) leaves the loop unclear.
        let body = ends_expression(previous) || previous.is_some_and(|(_, piece)| piece == "loop");
        for o in self
            .open
            .iter_mut()
            .filter(|o| o.in_header(self.depth, self.parens))
        {
            if body {
                o.in_body = true;
            } else {
                o.unclear = true;
            }
        }
        self.depth += 1;
    }

    fn close_brace(&mut self) {
        self.depth = self.depth.saturating_sub(1);
        // Loops inside the closed block end, and so does the loop whose body it was.
        let depth = self.depth;
        self.open
            .retain(|o| o.depth < depth || (o.depth == depth && !o.in_body));
    }

    /// A count (`+= 1`) in the open `loop`s and `while`s: whether one of them also inspects
    /// (and has a way out).
    fn count_makes_a_retry(&mut self) -> bool {
        for o in self.open.iter_mut().filter(|o| !o.is_for) {
            o.counted = true;
            o.retries |= o.inspected;
            if o.retries && o.exits {
                return true;
            }
        }
        false
    }

    /// An inspection in the open loops: whether one of them is a `for` over a range, or a loop
    /// that counts or is named a retry.
    fn inspection_makes_a_retry(&mut self, names_a_retry: &mut impl FnMut() -> bool) -> bool {
        for o in &mut self.open {
            if o.is_for {
                o.retries |= o.has_range;
            } else {
                o.inspected = true;
                o.retries |= o.counted || names_a_retry();
            }
            if o.retries && o.exits {
                return true;
            }
        }
        false
    }
}

/// Reads a count (`n += 1`, `n = n + 1`): after a `+` (1), or a `+=` (2), an integer literal
/// next is a count (attributes on it, `#[attr] 1`, in between: `attribute` counts their open
/// brackets).
#[derive(Default)]
struct CountReader {
    plus: u8,
    attribute: usize,
    pound: bool,
}

impl CountReader {
    /// Takes the `+` read before this token: `None` when the token belongs to an attribute
    /// after the `+`, to be skipped (the `+` waits for the token after it).
    fn take_plus(&mut self, kind: ra_ap_rustc_lexer::TokenKind) -> Option<u8> {
        let after_plus = std::mem::take(&mut self.plus);
        if after_plus > 0 && self.in_attribute(kind) {
            self.plus = after_plus;
            return None;
        }
        self.pound = false;
        Some(after_plus)
    }

    /// Whether a token after a `+` belongs to an attribute: a `#`, its brackets, or what they
    /// hold.
    fn in_attribute(&mut self, kind: ra_ap_rustc_lexer::TokenKind) -> bool {
        use ra_ap_rustc_lexer::TokenKind;
        match kind {
            TokenKind::Pound if self.attribute == 0 => {
                self.pound = true;
                true
            }
            TokenKind::OpenBracket if self.pound || self.attribute > 0 => {
                self.pound = false;
                self.attribute += 1;
                true
            }
            TokenKind::CloseBracket if self.attribute > 0 => {
                self.attribute -= 1;
                true
            }
            _ => self.attribute > 0,
        }
    }
}

/// Whether a token may open a block-like expression, which in a loop's header keeps its body's
/// brace from being told apart. A `|` that is no `a || b` may open a closure, a `!` after a
/// name calls a macro.
fn opens_a_block_like_expression(
    kind: ra_ap_rustc_lexer::TokenKind,
    piece: &str,
    previous: Option<crate::words::CodeToken<'_>>,
) -> bool {
    use ra_ap_rustc_lexer::TokenKind;
    match kind {
        TokenKind::Or => !ends_expression(previous),
        TokenKind::Bang => {
            previous.is_some_and(|(kind, piece)| kind == TokenKind::Ident && !is_keyword(piece))
        }
        TokenKind::Ident => is_keyword(piece) && !matches!(piece, "in" | "let"),
        _ => false,
    }
}

/// Whether the inspection word at `index` can inspect a result as `loops` reads one: a method
/// (`.is_ok()`), or `Ok`/`Err` as a pattern, followed (after its parentheses, and those of a
/// parenthesised pattern) by `=` (`if let Ok(v) =`, `Ok(v) =>`), `|` (`Err(A) | Err(B)`) or a
/// guard's `if`. `Ok(v)` built as a value (`return Ok(v);`) is no inspection.
fn inspects(tokens: &[crate::words::CodeToken<'_>], index: usize) -> bool {
    use ra_ap_rustc_lexer::TokenKind;
    if !matches!(tokens[index].1, "Ok" | "Err") {
        return true;
    }
    let mut next = index + 1;
    // `Ok::<T, E>(v)`: a turbofish is not followed here.
    if tokens
        .get(next)
        .is_some_and(|(kind, _)| *kind == TokenKind::Colon)
    {
        return true;
    }
    if tokens
        .get(next)
        .is_some_and(|(kind, _)| *kind == TokenKind::OpenParen)
    {
        let mut open = 0usize;
        for (kind, _) in &tokens[next..] {
            next += 1;
            match kind {
                TokenKind::OpenParen => open += 1,
                TokenKind::CloseParen => {
                    open -= 1;
                    if open == 0 {
                        break;
                    }
                }
                _ => {}
            }
        }
    }
    let after = tokens[next.min(tokens.len())..]
        .iter()
        .find(|(kind, _)| *kind != TokenKind::CloseParen);
    after
        .is_none_or(|&(kind, piece)| matches!(kind, TokenKind::Eq | TokenKind::Or) || piece == "if")
}

/// Whether a token can end an expression: a name, a literal, a closing bracket, a `?`.
fn ends_expression(token: Option<crate::words::CodeToken<'_>>) -> bool {
    use ra_ap_rustc_lexer::TokenKind;
    token.is_some_and(|(kind, piece)| match kind {
        TokenKind::Ident => !is_keyword(piece),
        TokenKind::RawIdent
        | TokenKind::Literal { .. }
        | TokenKind::CloseParen
        | TokenKind::CloseBracket
        | TokenKind::Question => true,
        _ => false,
    })
}

/// Rust's keywords that can begin or join an expression (so that a `{` after one opens no
/// loop body): `in {v} {`, `match x { .. } {`, `unsafe { .. } {`. (`as` and `.await` end
/// one.)
fn is_keyword(word: &str) -> bool {
    matches!(
        word,
        "async"
            | "box"
            | "break"
            | "const"
            | "continue"
            | "do"
            | "dyn"
            | "else"
            | "for"
            | "gen"
            | "if"
            | "impl"
            | "in"
            | "let"
            | "loop"
            | "match"
            | "move"
            | "mut"
            | "return"
            | "static"
            | "try"
            | "unsafe"
            | "where"
            | "while"
            | "yield"
    )
}

/// Whether the text (comments and strings too) may hold one of the rule's retry words as a word
/// of a name (`words::split`: `maxRetries`, `RETRY_LIMIT`, `"retrying in 5s"`): the word,
/// whatever its case, where a name's word could start and end. Looser than the split itself,
/// never stricter.
fn writes_a_retry_word(text: &str) -> bool {
    static RETRY_WORDS: LazyLock<aho_corasick::AhoCorasick> = LazyLock::new(|| {
        aho_corasick::AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(&DATA.res001.retry_words)
            .expect("a valid automaton")
    });
    if crate::words::lowercases_into_ascii(text) {
        return true;
    }
    let bytes = text.as_bytes();
    RETRY_WORDS.find_overlapping_iter(text).any(|m| {
        // No word starts at a lower-case letter just after a letter or digit (`entries`); none
        // ends just before a lower-case letter or a digit (`retrieve`, `tries2`).
        let starts = m.start() == 0
            || !bytes[m.start() - 1].is_ascii_alphanumeric()
            || !bytes[m.start()].is_ascii_lowercase();
        let ends = bytes
            .get(m.end())
            .is_none_or(|b| !(b.is_ascii_lowercase() || b.is_ascii_digit()));
        starts && ends
    })
}

pub fn gate_words() -> Vec<String> {
    LOOP_KEYWORDS
        .iter()
        .chain(&INSPECTIONS)
        .chain(&["exit"])
        .copied()
        .map(String::from)
        .chain(policy_path_segments())
        .collect()
}

/// The path segments of the retry crates' policies and of tower's policy trait.
fn policy_path_segments() -> impl Iterator<Item = String> {
    let data = &DATA.res001;
    let paths = data.policy.iter().map(|p| &p.path);
    paths
        .chain([&data.tower_policy_trait])
        .flat_map(|path| path.split("::").map(String::from))
}

/// What the Rust checks share for one file.
struct Cx<'a> {
    ctx: &'a FileContext<'a>,
    imports: &'a Imports,
    data: &'static Data,
}

impl Cx<'_> {
    fn enabled(&self, code: Code) -> bool {
        self.ctx.rules.enabled(code)
    }

    /// The resolved path of a path expression, or of a call's function.
    fn resolve(&self, path: &syn::Path) -> String {
        self.imports.resolve(path)
    }

    fn range(&self, span: proc_macro2::Span) -> std::ops::Range<usize> {
        self.ctx.source.span_range(span)
    }

    fn text(&self, span: proc_macro2::Span) -> &str {
        &self.ctx.source.text[self.range(span)]
    }
}

/// The vocabularies of the family's Rust checks, from their rules' `[data]`.
struct Data {
    res001: LoopData,
    res002: LimitData,
    res003: JitterData,
    res010: rate_limit::RateLimitData,
}

#[derive(Deserialize)]
struct LoopData {
    sleep_functions: Vec<String>,
    delay_words: Vec<String>,
    spin_calls: Vec<String>,
    immediate_retry_errors: Vec<String>,
    retry_words: Vec<String>,
    exit_macros: Vec<String>,
    conditional_exit_macros: Vec<String>,
    iteration_calls: Vec<String>,
    interactive_calls: Vec<String>,
    interactive_paths: Vec<String>,
    panic_catchers: Vec<String>,
    panic_inspections: Vec<String>,
    local_calls: Vec<String>,
    result_adapters: Vec<String>,
    spin_passes: u64,
    duration_functions: Vec<String>,
    passthrough_methods: Vec<String>,
    tower_policy_trait: String,
    ready_futures: Vec<String>,
    policy: Vec<Policy>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "lowercase")]
enum PolicyDelay {
    None,
    Constant,
    Exponential,
}

/// A retry crate's delay policy, as `[[data.policy]]` describes it.
#[derive(Deserialize)]
struct Policy {
    name: String,
    path: String,
    constructors: Vec<String>,
    delay: PolicyDelay,
    #[serde(default)]
    limited: bool,
    #[serde(default)]
    capped: bool,
    #[serde(default)]
    jitter: bool,
    fix: Option<String>,
    limit_fix: Option<String>,
    jitter_fix: Option<String>,
}

#[derive(Deserialize)]
struct LimitData {
    limit_methods: Vec<String>,
    unlimit_methods: Vec<String>,
    cap_methods: Vec<String>,
    consumers: Vec<String>,
}

#[derive(Deserialize)]
struct JitterData {
    jitter_paths: Vec<String>,
    jitter_calls: Vec<String>,
    jitter_methods: Vec<String>,
}

#[derive(Deserialize)]
struct ConfigData {
    retry_keys: Vec<String>,
    attempt_keys: Vec<String>,
    retry_tables: Vec<String>,
    backoff_words: Vec<String>,
    ignore_paths: Vec<String>,
    ignore_keys: Vec<String>,
    probe_tables: Vec<String>,
}

static DATA: LazyLock<Data> = LazyLock::new(|| Data {
    res001: Code::RES001.rule().data(),
    res002: Code::RES002.rule().data(),
    res003: Code::RES003.rule().data(),
    res010: Code::RES010.rule().data(),
});

impl JitterData {
    /// Whether a call of this resolved path (or method name) is random.
    fn is_jitter_call(&self, path: &str) -> bool {
        let name = path.rsplit("::").next().unwrap_or(path);
        self.jitter_paths
            .iter()
            .any(|p| path.starts_with(p.as_str()))
            || self.jitter_calls.iter().any(|c| c == name)
            || name.to_ascii_lowercase().contains("jitter")
    }
}

/// The lowercase words of an identifier or text (`maxRetries` -> max, retries).
fn words(text: &str) -> impl Iterator<Item = String> {
    crate::words::split(text).into_iter()
}

/// RES002 for a retry (`what`: "retry loop", "backon `ExponentialBuilder`") that never gives up:
/// `low` when it backs off exponentially to a cap (a reconnect-forever loop done right).
fn never_gives_up(
    source: &crate::source::Source,
    at: std::ops::Range<usize>,
    what: &str,
    capped_exponential: bool,
) -> Finding {
    if capped_exponential {
        Finding::at(
            Code::RES002,
            source,
            at,
            format!("{what} backs off exponentially to a cap but never gives up"),
        )
        .with_severity(crate::registry::Severity::Low)
    } else {
        Finding::at(
            Code::RES002,
            source,
            at,
            format!("{what} never gives up: no attempt limit and no time budget"),
        )
    }
}

/// RES008: a retry count in configuration with no backoff setting beside it.
fn config_retry_without_backoff(
    ctx: &FileContext<'_>,
    settings: &[Setting],
    out: &mut Vec<Finding>,
) {
    static CONFIG: LazyLock<ConfigData> = LazyLock::new(|| Code::RES008.rule().data());
    let data = &*CONFIG;
    let path = ctx.source.path.as_str();
    let tool_config = data.ignore_paths.iter().any(|p| {
        path == p
            || path.ends_with(&format!("/{p}"))
            || path.starts_with(&format!("{p}/"))
            || path.contains(&format!("/{p}/"))
    });
    if tool_config {
        return;
    }
    let normalise = |key: &str| {
        key.chars()
            .filter(|c| !matches!(c, '_' | '-' | '.'))
            .flat_map(char::to_lowercase)
            .collect::<String>()
    };
    let is_retry_table = |key: &str| {
        let key = normalise(key);
        data.retry_tables
            .iter()
            .any(|t| key.starts_with(t.as_str()))
    };
    for setting in settings {
        let key = normalise(setting.key());
        let parent = setting.parent();
        let in_retry_table = parent.last().is_some_and(|p| is_retry_table(p));
        let is_count = data.retry_keys.iter().any(|k| key.ends_with(k.as_str()))
            || (in_retry_table && data.attempt_keys.contains(&key));
        // A count is a whole number (`"0.3"` is a version); a probe's is no retry policy.
        let in_probe = || {
            parent
                .iter()
                .any(|p| data.probe_tables.contains(&normalise(p)))
        };
        if !is_count
            || in_probe()
            || data.ignore_keys.contains(&key)
            || !setting
                .value
                .as_number()
                .is_some_and(|n| n > 0.0 && n.fract() == 0.0)
        {
            continue;
        }
        // Beside it: the same table, or the table around a retry table.
        let scope = if in_retry_table {
            &parent[..parent.len() - 1]
        } else {
            parent
        };
        let has_backoff = settings.iter().any(|other| {
            other.keys != setting.keys
                && other.keys.starts_with(scope)
                && other.keys[scope.len()..].iter().any(|k| {
                    let k = normalise(k);
                    data.backoff_words.iter().any(|w| k.contains(w.as_str()))
                })
        });
        if !has_backoff {
            out.push(
                Finding::at(
                    Code::RES008,
                    ctx.source,
                    setting.key_range.clone(),
                    format!(
                        "`{}` enables retries with no backoff or delay-growth setting beside it",
                        setting.key()
                    ),
                )
                .with_fix(
                    "add an exponential backoff beside it (initial delay, multiplier, max delay, jitter)",
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    /// The loop gate on a text.
    fn gate(text: &str) -> bool {
        let tokens = crate::words::code_token_list(text);
        let exit = crate::words::Vocabulary::new(["exit".to_string()]);
        super::loop_inspects_a_result(text, &tokens, exit.scan(text).has("exit"))
    }

    #[test]
    fn the_loop_gate_finds_an_inspection_after_a_loop_keyword_in_its_block() {
        assert!(gate(
            "fn retry() { loop { match op() { Ok(v) => return v, Err(_) => {} } } }"
        ));
        assert!(gate("fn f() { while let Err(e) = op() { attempts += 1 } }"));
        assert!(gate(
            "fn f() { for i in 0..3 { if op().is_ok() { break } } }"
        ));
        assert!(gate(
            "fn f() { 'retry: loop { let r = op(); if let Ok(v) = r { break 'retry v } } }"
        ));
    }

    #[test]
    fn the_loop_gate_passes_over_inspections_outside_a_loop_or_in_a_for_over_a_collection() {
        // The inspection in another function, an `impl .. for`, a `for` over a collection.
        assert!(!gate(
            "fn f() { loop { tick() } }\nfn g() -> Result<(), E> { Ok(()) }"
        ));
        assert!(!gate(
            "impl From<E> for F { fn from(e: E) -> F { Ok(e).unwrap() } }"
        ));
        assert!(!gate(
            "fn f(v: &[u8]) { for x in v { if check(x).is_ok() { return } } }"
        ));
        assert!(!gate("// loop { Ok }\nfn f() {}"));
        // A range in the body of a `for` over a collection is not its header's range; a
        // header whose end cannot be told apart keeps the looser reading.
        assert!(!gate(
            "fn f(v: &[u8]) { for x in v { let y = &v[..2]; if check(x).is_ok() { return } } }"
        ));
        assert!(!gate(
            "fn f(v: &[u8]) -> R { for x in v.chunks(2) { use_(x) } let t = &v[1..]; Ok(t) }"
        ));
    }

    #[test]
    fn the_loop_gate_reads_ok_and_err_as_patterns_not_as_values_built() {
        assert!(!gate(
            "fn f() { while let Some(t) = d.next() { n += 1; v = Result::<u8, E>::Ok(t)?; } }"
        ));
        assert!(!gate(
            "fn f() { loop { n += 1; if done() { return Err(E) } } }"
        ));
        for pattern in [
            "Ok(v) => return v, _ => {}",
            "Ok(v) if v > 0 => return v, _ => {}",
            "(Ok(v)) => return v, _ => {}",
            "Err(A) | Err(B) => {}, _ => return",
            "Ok::<u8, E>(v) => return v, _ => {}",
        ] {
            let code = format!("fn f() {{ loop {{ n += 1; match op() {{ {pattern} }} }} }}");
            assert!(gate(&code), "{code}");
        }
        assert!(gate(
            "fn f() { loop { n += 1; let Ok(v) = op() else { continue }; return v } }"
        ));
    }

    #[test]
    fn the_loop_gate_ends_a_loop_with_its_body() {
        // An inspection after the loop's body is not in the loop.
        assert!(!gate(
            "fn f() -> R { for i in 0..n { r[i] = g()?; } Ok(r) }"
        ));
        assert!(!gate(
            "fn f() -> R { loop { n += 1; if n > 3 { break } } Ok(()) }"
        ));
        assert!(!gate(
            "fn f() { for i in 0..3 { w(i) } loop { if let Ok(v) = op() { return v } } }"
        ));
        assert!(gate(
            "fn f() { while !done { n += 1; if op().is_ok() { break } } }"
        ));
        assert!(gate(
            "fn f() { while let Some(x) = q.pop().await { n += 1; if op(x).is_ok() { break } } }"
        ));
    }

    #[test]
    fn the_loop_gate_reads_a_header_holding_a_block_to_the_end_of_the_block_around_it() {
        assert!(gate(
            "fn f() { while match s { _ => true } { n += 1; if op().is_ok() { break } } }"
        ));
        for header in [
            "(0..3).rev()",
            "0..n as usize",
            "0..=n",
            "{0..3}",
            "unsafe { 0..n }",
            "vec! {0..3}",
            "match k { _ => 0..3 }",
        ] {
            let code = format!("fn f() {{ for i in {header} {{ if op().is_ok() {{ break }} }} }}");
            assert!(gate(&code), "{code}");
        }
    }

    #[test]
    fn the_loop_gate_needs_a_loop_that_counts_or_is_named_a_retry() {
        // A loop that neither counts nor is named a retry is no retry loop.
        assert!(!gate(
            "fn f() { loop { match next() { Ok(v) => return v, Err(_) => continue } } }"
        ));
        assert!(gate(
            "fn f() { loop { n += 1; match op() { Ok(v) => return v, Err(_) => {} } } }"
        ));
        assert!(gate("fn f() { while op().is_err() { n = n + 1; } }"));
        assert!(gate(
            "fn connect() { loop { if let Ok(c) = dial() { return c } } } // retrying"
        ));
        assert!(gate(
            "fn f() { let maxRetries = 3; loop { if let Ok(c) = dial() { return c } } }"
        ));
        assert!(!gate(
            "fn entries() { loop { if let Ok(c) = retrieve() { return c } } }"
        ));
        assert!(gate(
            "fn f() { loop { n += #[allow(unused)] 1; if let Ok(c) = dial() { return c } } }"
        ));
        assert!(gate(
            "fn f() { loop { if let Ok(c) = dial() { return c } } } // BAC\u{212A}OFF"
        ));
    }

    #[test]
    fn the_loop_gate_needs_a_way_out_of_a_loop_or_a_for() {
        // Success must leave the loop: none does here.
        assert!(!gate(
            "fn f() { loop { n += 1; match op() { Ok(v) => use_it(v), Err(_) => {} } } }"
        ));
        assert!(!gate(
            "fn f() { for i in 0..3 { if op().is_ok() { done(); } } }"
        ));
        // The way out, before or after the inspection; the count after it.
        assert!(gate(
            "fn f() { loop { if done { break } if op().is_ok() { n += 1 } } }"
        ));
        assert!(gate(
            "fn f() { for i in 0..3 { if op().is_ok() { break } } }"
        ));
        assert!(gate(
            "fn f() { loop { n += 1; match op() { Ok(_) => unreachable!(), Err(_) => {} } } }"
        ));
        // A way out in a loop already ended is none.
        assert!(!gate(
            "fn f() { loop { n += 1; if op().is_ok() { go() } } return 1; }"
        ));
        // `exit`, maybe renamed on import, can be any call; a `while` may leave by its condition.
        assert!(gate(
            "use std::process::exit as quit;\nfn f() { loop { n += 1; if op().is_ok() { quit(0) } } }"
        ));
        assert!(gate("fn f() { while op().is_err() { n += 1; } }"));
    }

    #[test]
    fn retry_words_are_found_where_a_name_could_hold_them() {
        use super::writes_a_retry_word as named;
        for text in [
            "retry",
            "MAX_RETRIES",
            "maxRetries",
            "\"retrying in 5s\"",
            "AttemptCount",
        ] {
            assert!(named(text), "{text}");
        }
        // `words::split("backoff2x")` is one word, `backoff2x`: no retry word.
        for text in [
            "entries",
            "retrieve",
            "countries",
            "reattempted",
            "backoff2x",
        ] {
            assert!(!named(text), "{text}");
        }
    }

    use super::words;

    #[test]
    fn words_split_snake_camel_and_text() {
        let split: Vec<String> = words("maxRetries retry_count \"retrying in 5s\"").collect();
        assert_eq!(
            split,
            ["max", "retries", "retry", "count", "retrying", "in", "5s"]
        );
    }
}
