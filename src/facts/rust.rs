//! What a Rust file declares that project-level rules need: its test regions, the files it
//! makes test code through `#[cfg(test)] mod x;`, long-running worker loops and server use.
//!
//! Parsing is guarded: absurd nesting is refused before syn sees it (see
//! `../shared/reference/parsers.md`), and the caller runs this on a large-stack thread.

use syn::spanned::Spanned;
use syn::visit::{self, Visit};

/// Estimated recursion (see [`recursion_estimate`]) beyond this is refused before parsing:
/// real code stays far below it, and at the measured worst cost per level (deeply nested
/// generic types, about 8 KiB of stack each in a debug build) it needs an eighth of the
/// parsing threads' stack.
pub const MAX_NESTING: usize = 1024;

#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
pub struct RustFacts {
    /// Inclusive line ranges of `#[cfg(test)]` items and test functions.
    pub test_ranges: Vec<(usize, usize)>,
    /// Files (relative to the audited root) declared as `#[cfg(test)] mod x;`.
    pub test_module_files: Vec<String>,
    /// First line of a long-running loop: `loop { .. }` that awaits, sleeps or receives.
    pub worker_loop: Option<usize>,
    /// A server API in use (tonic or hyper server), with its line.
    pub server_use: Option<(usize, String)>,
    /// First line of a loop that accepts connections (`listener.accept()`): a server written
    /// by hand, as a Redis-like store or a proxy is.
    #[serde(default)]
    pub accept_loop: Option<usize>,
}

impl RustFacts {
    pub fn is_test_line(&self, line: usize) -> bool {
        self.test_ranges
            .iter()
            .any(|&(start, end)| start <= line && line <= end)
    }
}

/// What a Rust file's code tokens say about its place in the project (`token_facts`).
#[derive(Debug, Default, PartialEq)]
pub struct TokenFacts {
    /// The module files it can bring into its crate.
    pub modules: Vec<String>,
    /// The line of a Prometheus exporter written by hand.
    pub metrics_endpoint: Option<usize>,
    /// It may declare a test module in another file (`#[cfg(test)] mod tests;`): such a file
    /// must be parsed, whatever rules run, to know which files are test code.
    pub declares_test_module: bool,
}

/// What a Rust file's code tokens say about its place in the project, in one pass:
///
/// - the module files the file can bring into its crate: the name of every `mod name;` (and the
///   file a `#[path = "..."]` before it names), and the file of every `include!("...")`, sorted,
///   once each. Inline modules (`mod name { .. }`) bring no file. Macro bodies are read too: a
///   `mod` inside `cfg_if!` still counts. A file is unreachable (`roles::Role`) only when no
///   file of its package declares its name.
/// - a Prometheus exporter written by hand: the line of the first `"/metrics"` route,
///   Prometheus text-format content type (`text/plain; version=0.0.4`) or use of the
///   prometheus crate's `TextEncoder`.
/// - whether a `mod name;` has a cfg among its attributes that holds only in test builds
///   (`test_cfg_before`).
///
/// `tokens` gives the code tokens of `text` (`words::code_tokens`); it is called only when the
/// words these facts are made of occur in the text's bytes, so a text without them is not lexed.
pub fn token_facts<'t>(
    text: &str,
    tokens: impl FnOnce() -> &'t [crate::words::CodeToken<'t>],
) -> TokenFacts {
    if token_facts_possible(text) {
        read_token_facts(text, tokens())
    } else {
        TokenFacts::default()
    }
}

fn read_token_facts(text: &str, tokens: &[crate::words::CodeToken<'_>]) -> TokenFacts {
    use ra_ap_rustc_lexer::{LiteralKind, TokenKind};
    let ident = |at: Option<usize>, word: &str| {
        at.and_then(|i| tokens.get(i))
            .is_some_and(|&(k, p)| k == TokenKind::Ident && p == word)
    };
    let kind_at = |at: Option<usize>| at.and_then(|i| tokens.get(i)).map(|&(k, _)| k);
    let file_name = |path: &str| path.rsplit(['/', '\\']).next().unwrap_or(path).to_string();
    let mut modules = Vec::new();
    let mut exporter = None;
    let mut declares_test_module = false;
    for (i, &(kind, piece)) in tokens.iter().enumerate() {
        let back = |n: usize| i.checked_sub(n);
        let string = match kind {
            TokenKind::Literal {
                kind: LiteralKind::Str { .. },
                ..
            } => Some(piece.trim_matches('"')),
            TokenKind::Semi => {
                // `mod name;`, `mod r#name;`
                if let Some((TokenKind::Ident | TokenKind::RawIdent, name)) =
                    back(1).map(|b| tokens[b])
                    && ident(back(2), "mod")
                {
                    modules.push(name.trim_start_matches("r#").to_string());
                    declares_test_module =
                        declares_test_module || test_cfg_before(text, tokens, i - 2);
                }
                continue;
            }
            TokenKind::Ident if piece == "TextEncoder" => {
                exporter = exporter.or(Some(piece));
                continue;
            }
            _ => continue,
        };
        let Some(value) = string else { continue };
        // `#[path = "x/y.rs"]`, `include!("x.rs")`
        if (kind_at(back(1)) == Some(TokenKind::Eq) && ident(back(2), "path"))
            || (kind_at(back(2)) == Some(TokenKind::Bang) && ident(back(3), "include"))
        {
            modules.push(file_name(value));
        }
        if value == "/metrics" || value.contains("version=0.0.4") {
            exporter = exporter.or(Some(piece));
        }
    }
    modules.sort();
    modules.dedup();
    let metrics_endpoint = exporter.map(|piece| {
        let offset = piece.as_ptr() as usize - text.as_ptr() as usize;
        1 + memchr::memchr_iter(b'\n', &text.as_bytes()[..offset]).count()
    });
    TokenFacts {
        modules,
        metrics_endpoint,
        declares_test_module,
    }
}

/// Whether the outer attributes of the item whose keyword is the token at `item` (after any
/// `pub`, `pub(..)` and `unsafe`) hold a cfg that holds only in test builds, as syn reads it
/// (`is_cfg_test`). Comments are no tokens, so they may stand anywhere between. An attribute
/// that syn cannot read alone counts as one.
fn test_cfg_before(text: &str, tokens: &[crate::words::CodeToken<'_>], item: usize) -> bool {
    use ra_ap_rustc_lexer::TokenKind;
    let kind = |at: usize| tokens[at].0;
    let mut at = item;
    if at > 0 && tokens[at - 1] == (TokenKind::Ident, "unsafe") {
        at -= 1;
    }
    if at > 0 && kind(at - 1) == TokenKind::CloseParen {
        match opening(tokens, at - 1, TokenKind::OpenParen, TokenKind::CloseParen) {
            Some(open) if open > 0 && tokens[open - 1] == (TokenKind::Ident, "pub") => {
                at = open - 1;
            }
            _ => return false,
        }
    } else if at > 0 && tokens[at - 1] == (TokenKind::Ident, "pub") {
        at -= 1;
    }
    // Each attribute before it, last first: `#`, `[`, what it holds, `]`.
    while at > 0 && kind(at - 1) == TokenKind::CloseBracket {
        let Some(open) = opening(
            tokens,
            at - 1,
            TokenKind::OpenBracket,
            TokenKind::CloseBracket,
        )
        .filter(|&open| open > 0 && kind(open - 1) == TokenKind::Pound) else {
            return false;
        };
        if tokens.get(open + 1) == Some(&(TokenKind::Ident, "cfg")) {
            let start = tokens[open - 1].1.as_ptr() as usize - text.as_ptr() as usize;
            let end = tokens[at - 1].1.as_ptr() as usize - text.as_ptr() as usize + 1;
            let item = syn::parse_str::<syn::ItemMod>(&format!("{} mod m;", &text[start..end]));
            if item.is_err() || item.is_ok_and(|item| is_cfg_test(&item.attrs)) {
                return true;
            }
        }
        at = open - 1;
    }
    false
}

/// The index of the token that opens the group `close` ends (counted back over nested ones).
fn opening(
    tokens: &[crate::words::CodeToken<'_>],
    close: usize,
    open_kind: ra_ap_rustc_lexer::TokenKind,
    close_kind: ra_ap_rustc_lexer::TokenKind,
) -> Option<usize> {
    let mut depth = 0usize;
    for at in (0..=close).rev() {
        let kind = tokens[at].0;
        if kind == close_kind {
            depth += 1;
        } else if kind == open_kind {
            depth -= 1;
            if depth == 0 {
                return Some(at);
            }
        }
    }
    None
}

/// Whether `token_facts` can find anything in a text: the words its tokens are made of occur in
/// the bytes, `mod`, `path` and `include` as whole ASCII words (a token of that identifier has
/// no ASCII letter, digit or `_` beside it) followed by what their facts need (`follows_as_read`).
fn token_facts_possible(text: &str) -> bool {
    // One SIMD substring search per word: `mod` is frequent in Rust text (`model`, `modify`),
    // and these searches skip to it several times faster than one automaton for all six.
    static WORDS: std::sync::LazyLock<Vec<memchr::memmem::Finder<'static>>> =
        std::sync::LazyLock::new(|| {
            [
                "mod",
                "path",
                "include",
                "TextEncoder",
                "/metrics",
                "version=0.0.4",
            ]
            .into_iter()
            .map(memchr::memmem::Finder::new)
            .collect()
        });
    let bytes = text.as_bytes();
    let ident = |at: Option<&u8>| at.is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_');
    WORDS.iter().any(|finder| {
        let word = finder.needle();
        finder.find_iter(bytes).any(|start| {
            let end = start + word.len();
            // `TextEncoder` and the strings count wherever they occur.
            let keyword = matches!(word, b"mod" | b"path" | b"include");
            let whole = || {
                !(ident(start.checked_sub(1).and_then(|i| bytes.get(i))) || ident(bytes.get(end)))
            };
            !keyword || (whole() && follows_as_read(word, &bytes[end..]))
        })
    })
}

/// Whether the bytes after `mod`, `path` or `include` can continue as `token_facts` reads them:
/// `mod name;`, `path =`, `include!`. Only ASCII whitespace is skipped; a comment (`/`) or any
/// other byte outside ASCII between the tokens keeps the text possible, so this never rules out
/// what the tokens would show.
fn follows_as_read(word: &[u8], after: &[u8]) -> bool {
    let skip_space = |at: usize| {
        at + after[at..]
            .iter()
            .take_while(|b| b.is_ascii_whitespace())
            .count()
    };
    let unsure = |b: u8| b == b'/' || !b.is_ascii();
    let next = skip_space(0);
    let Some(&first) = after.get(next) else {
        return false;
    };
    if unsure(first) {
        return true;
    }
    match word {
        b"mod" => {
            let name = after[next..]
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_' || **b == b'#')
                .count();
            let end = skip_space(next + name);
            name > 0 && after.get(end).is_some_and(|&b| b == b';' || unsure(b))
        }
        b"path" => first == b'=',
        _ => first == b'!',
    }
}

/// Keywords that open a construct syn parses by recursion, or that chain one to the next
/// (`x as u8 as u16`, `else if`, `return return`, `move |a| move |b|`, `impl Fn() -> impl Fn()`).
const RECURSIVE_KEYWORDS: [&str; 18] = [
    "as", "async", "break", "const", "dyn", "else", "fn", "for", "if", "impl", "let", "loop",
    "match", "move", "mut", "return", "while", "yield",
];

/// What is pending at one bracket level while syn parses it: unclosed `<` (generic arguments),
/// closure bars since the statement began, and operators and keywords since the last `,` or
/// `;` (a chain of binary operators, method calls, `?` or casts nests one level per link).
#[derive(Default, Clone, Copy)]
struct Pending {
    angles: usize,
    bars: usize,
    chain: usize,
}

impl Pending {
    fn depth(self) -> usize {
        self.angles + self.bars.div_ceil(2) + self.chain
    }
}

/// An upper estimate of how deep syn's parser, the syntax-tree visitors and the tree's drop
/// recurse on a file: the deepest point of the token tree, where every enclosing bracket
/// counts one level plus what is pending at it (see `Pending`). Counted on Rust's own lexer's
/// code tokens (`words::code_tokens`, which the tree gates have already lexed), so strings and
/// comments never count (doc comments, which proc-macro2 makes `#[doc = ".."]`, one level
/// deeper, neither). Keeps its own stack of bracket levels: it never recurses.
pub fn recursion_estimate<'t>(
    tokens: impl IntoIterator<Item = crate::words::CodeToken<'t>>,
) -> usize {
    let mut estimate = RecursionEstimate::default();
    for (kind, piece) in tokens {
        for token in proc_macro_tokens(kind, piece) {
            estimate.read(token);
        }
    }
    estimate.deepest
}

/// One token as proc-macro2 would see it.
enum ProcMacroToken<'t> {
    /// An opening bracket: whether it is a brace.
    Open(bool),
    Close,
    Punct(char),
    Ident(&'t str),
    Literal,
}

/// A lexer token as proc-macro2 would see it: one token, or for a lifetime a `'` and a name.
fn proc_macro_tokens(
    kind: ra_ap_rustc_lexer::TokenKind,
    piece: &str,
) -> impl Iterator<Item = ProcMacroToken<'_>> {
    use ra_ap_rustc_lexer::TokenKind;
    let (first, second) = match kind {
        TokenKind::OpenParen | TokenKind::OpenBracket => (ProcMacroToken::Open(false), None),
        TokenKind::OpenBrace => (ProcMacroToken::Open(true), None),
        TokenKind::CloseParen | TokenKind::CloseBracket | TokenKind::CloseBrace => {
            (ProcMacroToken::Close, None)
        }
        TokenKind::Ident
        | TokenKind::RawIdent
        | TokenKind::UnknownPrefix
        | TokenKind::InvalidIdent
        | TokenKind::ForcedKeywordIdent => (ProcMacroToken::Ident(piece), None),
        TokenKind::Literal { .. } => (ProcMacroToken::Literal, None),
        TokenKind::Lifetime { .. } | TokenKind::RawLifetime | TokenKind::UnknownPrefixLifetime => {
            (ProcMacroToken::Punct('\''), Some(ProcMacroToken::Ident("")))
        }
        _ => (
            ProcMacroToken::Punct(piece.chars().next().unwrap_or(' ')),
            None,
        ),
    };
    std::iter::once(first).chain(second)
}

/// The state of `recursion_estimate` between two tokens.
#[derive(Default)]
struct RecursionEstimate {
    /// The enclosing levels: what was pending at each, its depth, and whether it is a block.
    stack: Vec<(Pending, usize, bool)>,
    pending: Pending,
    base: usize,
    deepest: usize,
    previous: Option<char>,
    /// Just after a `{ .. }`: an item, a block statement or an `if` branch ended, unless `else`
    /// or an operator carries the expression on.
    after_block: bool,
}

impl RecursionEstimate {
    fn read(&mut self, token: ProcMacroToken<'_>) {
        if let ProcMacroToken::Close = token {
            self.close();
            return;
        }
        if std::mem::take(&mut self.after_block) && !carries_on_after_a_block(&token) {
            self.pending = Pending::default();
        }
        match token {
            ProcMacroToken::Open(is_block) => {
                self.open(is_block);
                return;
            }
            ProcMacroToken::Punct(c) => self.punct(c),
            ProcMacroToken::Ident(name) if RECURSIVE_KEYWORDS.contains(&name) => {
                self.pending.chain += 1;
            }
            ProcMacroToken::Ident(_) | ProcMacroToken::Literal | ProcMacroToken::Close => {}
        }
        self.previous = match token {
            ProcMacroToken::Punct(c) => Some(c),
            _ => None,
        };
        self.deepest = self.deepest.max(self.base + self.pending.depth());
    }

    fn open(&mut self, is_block: bool) {
        let here = self.base + self.pending.depth() + 1;
        self.deepest = self.deepest.max(here);
        self.stack.push((self.pending, self.base, is_block));
        self.base = here;
        self.pending = Pending::default();
        self.previous = None;
    }

    fn close(&mut self) {
        if let Some((outer, outer_base, was_block)) = self.stack.pop() {
            self.pending = outer;
            self.base = outer_base;
            self.previous = None;
            self.after_block = was_block;
        }
    }

    fn punct(&mut self, c: char) {
        let pending = &mut self.pending;
        match c {
            ',' => pending.chain = 0,
            ';' => *pending = Pending::default(),
            '<' => pending.angles += 1,
            '>' if matches!(self.previous, Some('=')) => {
                // `=>`: a match arm's pattern is complete.
                pending.chain = 0;
                pending.angles = 0;
            }
            '>' if matches!(self.previous, Some('-')) => pending.chain += 1,
            '>' => pending.angles = pending.angles.saturating_sub(1),
            // `#!` opens an inner attribute, not a negation.
            '!' if matches!(self.previous, Some('#')) => {}
            // Closure bars nest (`|a| |b| ..`); or-patterns (`'a'..='z' | '_'`) do not, so a
            // bar ends the chain before it and counts half a level.
            '|' => {
                pending.bars += 1;
                pending.chain = 0;
            }
            '&' | '!' | '-' | '*' | '+' | '/' | '%' | '^' | '.' | '?' | '@' | '~' | '=' => {
                pending.chain += 1;
            }
            _ => {}
        }
    }
}

/// Whether a token just after a `{ .. }` carries the expression on: an `else`, or a
/// punctuation mark other than `#`, `;` and `,`.
fn carries_on_after_a_block(token: &ProcMacroToken<'_>) -> bool {
    match token {
        ProcMacroToken::Ident(name) => *name == "else",
        ProcMacroToken::Punct(c) => !matches!(c, '#' | ';' | ','),
        _ => false,
    }
}

/// The text syn parses: a shebang line (`#!/usr/bin/env run-cargo-script`, but not an inner
/// attribute `#![...]`) is blanked, keeping its newline so that line numbers stay.
fn without_shebang(text: &str) -> (&str, Option<String>) {
    let Some(rest) = text.strip_prefix("#!") else {
        return (text, None);
    };
    let mut after = rest.trim_start();
    loop {
        if let Some(comment) = after.strip_prefix("//") {
            after = comment.split_once('\n').map_or("", |(_, r)| r).trim_start();
        } else if let Some(comment) = after.strip_prefix("/*") {
            after = comment.split_once("*/").map_or("", |(_, r)| r).trim_start();
        } else {
            break;
        }
    }
    if after.starts_with('[') {
        return (text, None);
    }
    match text.find('\n') {
        Some(end) => (&text[end..], Some(text[..end].to_string())),
        None => ("", Some(text.to_string())),
    }
}

/// Parses a Rust file. `path` is relative to the audited root. The text is tokenised (by
/// proc-macro2, without recursion), its nesting estimated (see [`recursion_estimate`]), and
/// only then parsed.
pub fn parse(path: &str, text: &str) -> Result<syn::File, String> {
    parse_estimated(path, text, None)
}

/// [`parse`], with the nesting already estimated on the whole text's code tokens when the
/// caller has lexed them (`nesting`; not used for a text with a shebang line, which is left out
/// of the parse).
pub fn parse_estimated(
    path: &str,
    text: &str,
    nesting: Option<usize>,
) -> Result<syn::File, String> {
    let (body, shebang) = without_shebang(text);
    let tokens: proc_macro2::TokenStream = body.parse().map_err(|e: proc_macro2::LexError| {
        let at = e.span().start();
        format!(
            "{}:{}: not Rust tokens (an unbalanced bracket, an unterminated string or comment, or a character Rust does not allow)",
            at.line,
            at.column + 1
        )
    })?;
    let depth = match nesting {
        Some(depth) if shebang.is_none() => depth,
        _ => recursion_estimate(crate::words::code_tokens(body)),
    };
    if depth > MAX_NESTING {
        return Err(format!(
            "code nests about {depth} levels deep (limit {MAX_NESTING}); text-level rules only"
        ));
    }
    let mut file: syn::File = syn::parse2(tokens).map_err(|e| {
        let at = e.span().start();
        format!("{}:{}: {e}", at.line, at.column + 1).replace(path, "")
    })?;
    file.shebang = shebang;
    Ok(file)
}

/// Extracts the facts from a parsed file.
pub fn extract(path: &str, file: &syn::File) -> RustFacts {
    let mut visitor = FactVisitor {
        facts: RustFacts::default(),
        module_dir: module_dir(path),
    };
    visitor.visit_file(file);
    visitor.facts
}

/// The folder holding a file's child modules: `a/b.rs` -> `a/b`, `a/mod.rs` -> `a`.
fn module_dir(path: &str) -> String {
    let (dir, file) = path.rsplit_once('/').unwrap_or(("", path));
    let stem = file.trim_end_matches(".rs");
    if matches!(stem, "mod" | "lib" | "main") || dir.ends_with("/bin") || dir == "bin" {
        dir.to_string()
    } else if dir.is_empty() {
        stem.to_string()
    } else {
        format!("{dir}/{stem}")
    }
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

/// A macro's name without its path (`tokio::select!` gives `select`).
pub fn macro_name(mac: &syn::Macro) -> String {
    (mac.path.segments.last())
        .map(|s| s.ident.to_string())
        .unwrap_or_default()
}

/// An item's doc comment, its `///` lines joined by newlines.
pub fn doc_text(attrs: &[syn::Attribute]) -> String {
    let lines = attrs.iter().filter_map(|attr| match &attr.meta {
        syn::Meta::NameValue(doc) if doc.path.is_ident("doc") => match &doc.value {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(text),
                ..
            }) => Some(text.value()),
            _ => None,
        },
        _ => None,
    });
    lines.collect::<Vec<_>>().join("\n")
}

/// A module, function or `impl` compiled only in test builds (see [`is_cfg_test`]): what the
/// check families that ignore test code do not walk.
pub fn is_test_item(item: &syn::Item) -> bool {
    let attrs = match item {
        syn::Item::Mod(m) => &m.attrs,
        syn::Item::Fn(f) => &f.attrs,
        syn::Item::Impl(i) => &i.attrs,
        _ => return false,
    };
    is_cfg_test(attrs)
}

/// A cfg that holds only in test builds: `#[cfg(test)]`, `#[cfg(all(test, not(loom)))]`,
/// `#[cfg(any(test, all(test, unix)))]`, and a feature that only tests enable
/// (`#[cfg(feature = "test-utils")]`, `#[cfg(any(test, feature = "testing"))]`); not
/// `#[cfg(any(test, feature = "x"))]` or `#[cfg(not(test))]`.
pub fn is_cfg_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|attr| {
        attr.path().is_ident("cfg")
            && attr
                .parse_args::<syn::Meta>()
                .is_ok_and(|predicate| requires_test(&predicate))
    })
}

fn requires_test(predicate: &syn::Meta) -> bool {
    let nested = |list: &syn::MetaList| {
        list.parse_args_with(
            syn::punctuated::Punctuated::<syn::Meta, syn::Token![,]>::parse_terminated,
        )
        .map(|items| items.into_iter().collect::<Vec<_>>())
        .unwrap_or_default()
    };
    match predicate {
        syn::Meta::Path(path) => path.is_ident("test"),
        syn::Meta::NameValue(pair) if pair.path.is_ident("feature") => {
            matches!(&pair.value, syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(name), .. })
                if test_feature(&name.value()))
        }
        syn::Meta::List(list) if list.path.is_ident("all") => {
            nested(list).iter().any(requires_test)
        }
        syn::Meta::List(list) if list.path.is_ident("any") => {
            let items = nested(list);
            !items.is_empty() && items.iter().all(requires_test)
        }
        _ => false,
    }
}

/// A feature that only tests enable: `test-utils`, `test_util`, `testing`, `test-support`,
/// `mocks`.
fn test_feature(name: &str) -> bool {
    let words = crate::words::split(name);
    words
        .iter()
        .any(|w| matches!(w.as_str(), "test" | "tests" | "testing" | "mock" | "mocks"))
}

/// `#[test]`, `#[tokio::test]`, `#[rstest]`, `#[bench]`, ...
fn is_test_fn(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|attr| {
        attr.path().segments.last().is_some_and(|s| {
            matches!(
                s.ident.to_string().as_str(),
                "test" | "rstest" | "test_case" | "bench"
            )
        })
    })
}

fn path_attr(attrs: &[syn::Attribute]) -> Option<String> {
    attrs.iter().find_map(|attr| {
        if !attr.path().is_ident("path") {
            return None;
        }
        match &attr.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => Some(s.value()),
                _ => None,
            },
            _ => None,
        }
    })
}

fn lines(span: proc_macro2::Span) -> (usize, usize) {
    (span.start().line, span.end().line)
}

const SERVER_PATHS: [&str; 5] = [
    "tonic::transport::Server",
    "hyper::server",
    // hyper 0.14 re-exports its server at the crate root.
    "hyper::Server",
    "hyper_util::server",
    "tonic::transport::server",
];

/// The segments of `SERVER_PATHS` but the last, and the keyword of a worker loop.
pub fn gate_words() -> Vec<String> {
    let heads = SERVER_PATHS.iter().flat_map(|p| server_path_parts(p).0);
    heads.chain(["loop", "accept"]).map(String::from).collect()
}

/// A server path's segments but the last, and its last: a path the tree shows (`note_path`)
/// starts with the server path, so it writes each of the first as a whole identifier and the
/// last at the start of one.
fn server_path_parts(server: &str) -> (std::str::Split<'_, &str>, &str) {
    let (head, last) = server.rsplit_once("::").unwrap_or(("", server));
    (head.split("::"), last)
}

/// Whether a file belongs to a package that has a binary target.
fn in_a_binary_package(path: &str, cargo: &crate::facts::cargo::CargoProject) -> bool {
    cargo
        .manifest_for(path)
        .is_some_and(|m| m.package.as_ref().is_some_and(|p| p.has_bin))
}

/// Whether a production file's tree may show that the project is a service: a server API
/// written by its path (`SERVER_PATHS`, as written: `server_path_parts`), a `loop` in a
/// binary's source, or an `accept` in a binary's package (see `project::service_evidence`).
pub fn may_show_service(
    words: &crate::words::FileWords<'_>,
    path: &str,
    cargo: &crate::facts::cargo::CargoProject,
) -> bool {
    let starts_an_identifier = |last: &str| {
        (words.tokens().iter()).any(|&(kind, piece)| {
            kind == ra_ap_rustc_lexer::TokenKind::Ident && piece.starts_with(last)
        })
    };
    SERVER_PATHS.iter().any(|server| {
        let (mut head, last) = server_path_parts(server);
        head.all(|segment| words.has(segment)) && starts_an_identifier(last)
    }) || (words.has("loop") && crate::project::is_binary_source(path, cargo))
        || (words.has_method("accept") && in_a_binary_package(path, cargo))
}

struct FactVisitor {
    facts: RustFacts,
    module_dir: String,
}

impl FactVisitor {
    fn note_path(&mut self, path: &str, span: proc_macro2::Span) {
        if self.facts.server_use.is_none() && SERVER_PATHS.iter().any(|p| path.starts_with(p)) {
            self.facts.server_use = Some((span.start().line, path.to_string()));
        }
    }
}

/// Whether what `visit` walks calls `.accept()` (a listener taking a connection).
fn accepts(visit: impl FnOnce(&mut AcceptFinder)) -> bool {
    let mut finder = AcceptFinder(false);
    visit(&mut finder);
    finder.0
}

struct AcceptFinder(bool);

impl<'ast> Visit<'ast> for AcceptFinder {
    fn visit_expr_closure(&mut self, _: &'ast syn::ExprClosure) {}
    fn visit_item(&mut self, _: &'ast syn::Item) {}
    fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
        self.0 |= call.method == "accept" && call.args.is_empty();
        visit::visit_expr_method_call(self, call);
    }
}

/// Whether a loop body waits on something: an `.await`, a sleep, a receive or an accept.
struct WaitFinder(bool);

impl<'ast> Visit<'ast> for WaitFinder {
    fn visit_expr_await(&mut self, _: &'ast syn::ExprAwait) {
        self.0 = true;
    }
    fn visit_expr_closure(&mut self, _: &'ast syn::ExprClosure) {}
    fn visit_item(&mut self, _: &'ast syn::Item) {}
    fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
        if matches!(
            call.method.to_string().as_str(),
            "recv" | "accept" | "incoming"
        ) {
            self.0 = true;
        }
        visit::visit_expr_method_call(self, call);
    }
    fn visit_expr_call(&mut self, call: &'ast syn::ExprCall) {
        if let syn::Expr::Path(p) = &*call.func
            && p.path.segments.last().is_some_and(|s| s.ident == "sleep")
        {
            self.0 = true;
        }
        visit::visit_expr_call(self, call);
    }
}

impl<'ast> Visit<'ast> for FactVisitor {
    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        let name = item.ident.to_string();
        let is_test = is_cfg_test(&item.attrs);
        match &item.content {
            None if is_test => {
                let file = match path_attr(&item.attrs) {
                    Some(p) => {
                        let dir = self.module_dir.rsplit_once('/').map_or("", |(d, _)| d);
                        vec![join(dir, &p), join(&self.module_dir, &p)]
                    }
                    None => vec![
                        join(&self.module_dir, &format!("{name}.rs")),
                        join(&self.module_dir, &format!("{name}/mod.rs")),
                    ],
                };
                self.facts.test_module_files.extend(file);
            }
            None => {}
            Some(_) => {
                if is_test {
                    self.facts.test_ranges.push(lines(item.span()));
                }
                let inner = join(&self.module_dir, &name);
                let outer = std::mem::replace(&mut self.module_dir, inner);
                visit::visit_item_mod(self, item);
                self.module_dir = outer;
            }
        }
    }

    fn visit_item_fn(&mut self, item: &'ast syn::ItemFn) {
        if is_test_fn(&item.attrs) || is_cfg_test(&item.attrs) {
            self.facts.test_ranges.push(lines(item.span()));
        }
        visit::visit_item_fn(self, item);
    }

    fn visit_item_impl(&mut self, item: &'ast syn::ItemImpl) {
        if is_cfg_test(&item.attrs) {
            self.facts.test_ranges.push(lines(item.span()));
        }
        visit::visit_item_impl(self, item);
    }

    fn visit_impl_item_fn(&mut self, item: &'ast syn::ImplItemFn) {
        if is_test_fn(&item.attrs) || is_cfg_test(&item.attrs) {
            self.facts.test_ranges.push(lines(item.span()));
        }
        visit::visit_impl_item_fn(self, item);
    }

    fn visit_expr_loop(&mut self, expr: &'ast syn::ExprLoop) {
        let line = expr.loop_token.span.start().line;
        if self.facts.worker_loop.is_none() {
            let mut finder = WaitFinder(false);
            finder.visit_block(&expr.body);
            if finder.0 {
                self.facts.worker_loop = Some(line);
            }
        }
        if self.facts.accept_loop.is_none() && accepts(|f| f.visit_block(&expr.body)) {
            self.facts.accept_loop = Some(line);
        }
        visit::visit_expr_loop(self, expr);
    }

    fn visit_expr_while(&mut self, expr: &'ast syn::ExprWhile) {
        if self.facts.accept_loop.is_none()
            && accepts(|f| {
                f.visit_expr(&expr.cond);
                f.visit_block(&expr.body);
            })
        {
            self.facts.accept_loop = Some(expr.while_token.span.start().line);
        }
        visit::visit_expr_while(self, expr);
    }

    fn visit_use_tree(&mut self, tree: &'ast syn::UseTree) {
        fn paths(prefix: &str, tree: &syn::UseTree, out: &mut Vec<(String, proc_macro2::Span)>) {
            match tree {
                syn::UseTree::Path(p) => {
                    paths(&join_path(prefix, &p.ident.to_string()), &p.tree, out)
                }
                syn::UseTree::Name(n) => {
                    out.push((join_path(prefix, &n.ident.to_string()), n.ident.span()))
                }
                syn::UseTree::Rename(r) => {
                    out.push((join_path(prefix, &r.ident.to_string()), r.ident.span()))
                }
                syn::UseTree::Glob(g) => out.push((prefix.to_string(), g.star_token.span)),
                syn::UseTree::Group(g) => g.items.iter().for_each(|t| paths(prefix, t, out)),
            }
        }
        fn join_path(prefix: &str, name: &str) -> String {
            if prefix.is_empty() {
                name.to_string()
            } else {
                format!("{prefix}::{name}")
            }
        }
        let mut found = Vec::new();
        paths("", tree, &mut found);
        for (path, span) in found {
            self.note_path(&path, span);
        }
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        if path.segments.len() > 1 {
            let text = path
                .segments
                .iter()
                .map(|s| s.ident.to_string())
                .collect::<Vec<_>>()
                .join("::");
            self.note_path(&text, path.span());
        }
        visit::visit_path(self, path);
    }
}

/// The module a source file is, by its path: its stem (`handlers` for `src/handlers.rs`), or
/// its folder's name for a `mod.rs` (`src/handlers/mod.rs`).
pub fn module_name(path: &str) -> &str {
    let mut parts = path.rsplit('/');
    let file = parts.next().unwrap_or(path);
    let stem = file.strip_suffix(".rs").unwrap_or(file);
    if stem == "mod" {
        parts.next().unwrap_or(stem)
    } else {
        stem
    }
}

/// The names a pattern binds (`x` in `let x`, `a` and `b` in `Some((a, b))`).
pub fn pattern_names(pat: &syn::Pat) -> Vec<String> {
    struct Names(Vec<String>);
    impl<'ast> Visit<'ast> for Names {
        fn visit_pat_ident(&mut self, p: &'ast syn::PatIdent) {
            self.0.push(p.ident.to_string());
            visit::visit_pat_ident(self, p);
        }
    }
    let mut names = Names(Vec::new());
    names.visit_pat(pat);
    names.0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A text's token facts, through the byte prefilter as the gates ask for them.
    fn token_facts_of(text: &str) -> TokenFacts {
        let tokens = crate::words::code_token_list(text);
        token_facts(text, || &tokens)
    }

    #[test]
    fn token_scan_reads_module_files_and_a_metrics_route() {
        let text = r#"
mod config;
pub(crate) mod r#async;
mod inline { fn f() {} }
// mod commented;
cfg_if::cfg_if! { if #[cfg(unix)] { mod unix; } }
#[path = "platform/linux_impl.rs"]
mod platform;
include!(concat!("x", "y"));
include!("generated/table.rs");
mod config;
const DOC: &str = "mod quoted;";
fn route() -> &'static str {
    "/metrics"
}
const CONTENT_TYPE: &str = "text/plain; version=0.0.4";
"#;
        let TokenFacts {
            modules,
            metrics_endpoint: metrics,
            ..
        } = token_facts_of(text);
        assert_eq!(
            modules,
            [
                "async",
                "config",
                "linux_impl.rs",
                "platform",
                "table.rs",
                "unix"
            ]
        );
        assert_eq!(metrics, Some(14), "the first exporter token's line");
        let encoder = token_facts_of("let e = TextEncoder::new();");
        assert_eq!(encoder.metrics_endpoint, Some(1));
        assert_eq!(
            token_facts_of("// \"/metrics\"\nfn f() {}"),
            TokenFacts::default()
        );
    }

    #[test]
    fn token_facts_are_looked_for_only_where_their_words_occur() {
        let texts = [
            "mod a;",
            "pub(crate)mod b;",
            "#[path=\"x.rs\"] mod c;",
            "include!(\"t.rs\");",
            "fn m() -> &'static str { \"/metrics\" }",
            "let e = prometheus::TextEncoder::new();",
            "mod\u{00e9}t;",
            "let model = modify(mode); // modules, paths, includes",
            "fn f() { let filepath = included; }",
            "#[cfg(test)]\nmod tests {\n    fn path(include: u8) -> u8 { self::include(path) }\n}",
            "macro_rules! m { ($n:ident) => { mod $n; } }",
            "mod /* a */ a;",
            "mod a // b\n;",
            "mod\n  r#a\n;",
            "mod caf\u{00e9};",
            "#[path /* p */ = \"x.rs\"] mod x;",
            "include // i\n!(\"t.rs\");",
        ];
        for text in texts {
            let tokens = crate::words::code_token_list(text);
            assert_eq!(
                token_facts(text, || &tokens),
                token_facts_of(text),
                "{text}"
            );
        }
        for unread in &texts[7..11] {
            assert!(!token_facts_possible(unread), "{unread}");
        }
        for read in texts[..7].iter().chain(&texts[11..]) {
            assert!(token_facts_possible(read), "{read}");
        }
    }

    fn facts(path: &str, text: &str) -> RustFacts {
        extract(path, &parse(path, text).unwrap())
    }

    #[test]
    fn test_regions_and_test_module_files() {
        let f = facts(
            "src/net/client.rs",
            "fn a() {}\n#[cfg(test)]\nmod tests {\n  #[test]\n  fn t() {}\n}\n#[cfg(test)]\nmod helpers;\n#[tokio::test]\nasync fn b() {}\n#[cfg(not(test))]\nfn c() {}\n",
        );
        assert_eq!(f.test_ranges, vec![(2, 6), (4, 5), (9, 10)]);
        assert_eq!(
            f.test_module_files,
            vec!["src/net/client/helpers.rs", "src/net/client/helpers/mod.rs"]
        );
        assert!(f.is_test_line(3) && !f.is_test_line(11));
        let root = facts("src/lib.rs", "#[cfg(test)] mod tests;");
        assert_eq!(root.test_module_files[0], "src/tests.rs");
        let methods = facts(
            "src/store.rs",
            "impl Store {\n    fn real() {}\n    #[cfg(test)]\n    fn for_tests() {}\n    #[cfg(feature = \"test_util\")]\n    fn helper() {}\n}\n",
        );
        assert_eq!(methods.test_ranges, vec![(3, 4), (5, 6)]);
    }

    /// The service-evidence gate lets through every file whose tree shows a server path, and
    /// not one that only names the server's crate.
    #[test]
    fn the_service_gate_asks_for_the_server_paths_segments() {
        let vocabulary = crate::words::Vocabulary::new(gate_words());
        let cargo = crate::facts::cargo::CargoProject::default();
        let cases = [
            ("use hyper::server::conn::Http;", true),
            ("use hyper::{body::Incoming, server::conn::http1};", true),
            ("fn main() { hyper::Server::bind(&addr); }", true),
            ("use tonic::transport::Server;", true),
            // A path that starts with one: `ServerTlsConfig` starts with `Server`.
            ("use tonic::transport::ServerTlsConfig;", true),
            ("use hyper_util::server::conn::auto::Builder;", true),
            ("use hyper::Client;", false),
            ("use tonic::transport::Channel;", false),
            ("use hyper::body::Bytes; // a server", false),
        ];
        for (code, shows) in cases {
            let words = crate::words::FileWords::new(code, &vocabulary, &[]);
            let gate = may_show_service(&words, "src/lib.rs", &cargo);
            let tree = facts("src/lib.rs", code).server_use.is_some();
            assert_eq!((gate, tree), (shows, shows), "{code}");
        }
    }

    #[test]
    fn worker_loops_and_servers() {
        let f = facts(
            "src/main.rs",
            "use tonic::transport::Server;\nasync fn main() {\n    loop {\n        let job = queue.pop().await;\n    }\n}\n",
        );
        assert_eq!(f.worker_loop, Some(3));
        assert_eq!(f.server_use.as_ref().map(|s| s.0), Some(1));
        let hyper_014 = facts(
            "src/main.rs",
            "use hyper::Server;\nasync fn main() {\n    Server::bind(&addr).serve(make).await;\n}\n",
        );
        assert_eq!(hyper_014.server_use.as_ref().map(|s| s.0), Some(1));
        let cli = facts("src/main.rs", "fn main() { loop { if done() { break; } } }");
        assert_eq!(cli.worker_loop, None);
    }

    #[test]
    fn cfg_predicates_that_hold_only_in_tests() {
        let holds = |cfg: &str| {
            let file: syn::File = syn::parse_str(&format!("#[cfg({cfg})] fn f() {{}}")).unwrap();
            let syn::Item::Fn(f) = &file.items[0] else {
                unreachable!()
            };
            is_cfg_test(&f.attrs)
        };
        assert!(holds("test"));
        assert!(holds("all(test, not(loom), feature = \"x\")"));
        assert!(holds("any(test, all(test, unix))"));
        assert!(!holds("not(test)"));
        assert!(!holds("any(test, feature = \"__private\")"));
        assert!(!holds("unix"));
    }

    #[test]
    fn test_module_declarations_are_seen_in_the_code() {
        let declares = |text: &str| token_facts_of(text).declares_test_module;
        assert!(declares("#[cfg(test)]\nmod tests;"));
        assert!(declares("#[cfg(test)]\n// the unit tests\nmod tests;"));
        assert!(declares(
            "#[cfg(test)] /* a */ #[path = \"t.rs\"] /// doc\nmod tests;"
        ));
        assert!(declares("#[cfg(all(test, unix))] pub(crate) mod helpers ;"));
        assert!(declares(
            "#[cfg(test)] #[allow(x)] pub(in crate::a) mod r#helpers;"
        ));
        assert!(declares(
            "#[cfg(feature = \"test-utils\")]\npub unsafe mod mocks;"
        ));
        // As syn reads it: a cfg whose predicate does not parse is no test cfg.
        assert!(!declares("#[cfg(test,,)] mod tests;"));
        assert!(!declares("#[cfg(test)]\nmod tests {\n}"));
        assert!(!declares("#[cfg(not(test))]\nmod real;"));
        assert!(!declares(
            "#[cfg(any(test, feature = \"metrics\"))]\nmod metrics;"
        ));
        assert!(!declares("#[cfg(test)] fn f() {}\nmod real;"));
        assert!(!declares("#![cfg(test)]\nmod real;"));
        assert!(!declares("// #[cfg(test)]\nmod real;"));
        let cfg = |text: &str| {
            is_cfg_test(
                &syn::parse_str::<syn::ItemFn>(&format!("{text} fn f() {{}}"))
                    .unwrap()
                    .attrs,
            )
        };
        assert!(cfg("#[cfg(feature = \"test-utils\")]"));
        assert!(cfg("#[cfg(any(test, feature = \"testing\"))]"));
        assert!(!cfg("#[cfg(any(test, feature = \"metrics\"))]"));
        assert!(!cfg("#[cfg(feature = \"latest\")]"));
    }

    #[test]
    fn real_code_is_estimated_shallow() {
        let estimate = |text: &str| recursion_estimate(crate::words::code_tokens(text));
        // Ranges in or-patterns do not chain; a bar counts half a level, as it may open a
        // closure (a generated Unicode table has a few hundred alternatives).
        let alternatives = vec!["'a'..='z'"; 1_000].join(" | ");
        let pattern = format!("fn f(c: char) -> bool {{ matches!(c, {alternatives}) }}");
        assert!((500..MAX_NESTING).contains(&estimate(&pattern)));
        // `//!` docs are attributes; items end at their block; commas end a chain.
        let docs = "//! A crate.\n".repeat(2_000);
        assert!(estimate(&docs) < 10);
        let items = "pub fn f() -> u8 { 1 }\n".repeat(2_000);
        assert!(estimate(&items) < 10);
        let table = format!("const T: [i8; 3000] = [{}];", vec!["-1"; 3_000].join(", "));
        assert!(estimate(&table) < 10);
        // Strings and comments never count.
        let text = format!(
            "/* {} */ const S: &str = \"{}\";",
            "(".repeat(5_000),
            "<".repeat(5_000)
        );
        assert!(estimate(&text) < 10);
    }

    #[test]
    fn a_shebang_is_kept_out_of_the_parse_but_an_inner_attribute_is_not() {
        let file = parse("main.rs", "#!/usr/bin/env run-cargo-script\nfn main() {}\n").unwrap();
        assert_eq!(
            file.shebang.as_deref(),
            Some("#!/usr/bin/env run-cargo-script")
        );
        assert_eq!(file.items.len(), 1);
        let file = parse("lib.rs", "#![allow(dead_code)]\nfn f() {}\n").unwrap();
        assert!(file.shebang.is_none() && file.attrs.len() == 1);
    }

    #[test]
    fn absurd_nesting_is_refused_before_parsing() {
        let deep = format!("fn f() {{ {}{} }}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(parse("deep.rs", &deep).err().unwrap().contains("nest"));
        for prefix in ["!", "- ", "*", "&", "|| ", "return "] {
            let deep = format!("fn f() {{ let x = {}true; }}", prefix.repeat(60_000));
            assert!(
                parse("deep.rs", &deep).err().unwrap().contains("nest"),
                "{prefix}"
            );
        }
        // Constructs measured to overflow a debug build's 64 MiB stack below 10,000 levels, and
        // left-nested chains that the visitors and the tree's drop recurse on.
        for deep in [
            format!(
                "type T = {}u8{};",
                "Option<".repeat(10_000),
                ">".repeat(10_000)
            ),
            format!(
                "type T = {}u8{};",
                "Box<dyn Fn() -> ".repeat(5_000),
                ">".repeat(5_000)
            ),
            format!("fn f() {{ let c = {}1; }}", "|a, b| ".repeat(10_000)),
            format!("fn f() {{ let c = {}1; }}", "move |a| ".repeat(10_000)),
            format!("type T = {}u8;", "fn() -> ".repeat(10_000)),
            format!("fn f() {{ a{}; }}", " + a".repeat(10_000)),
            format!("fn f() {{ a{}; }}", ".f()".repeat(10_000)),
            format!("fn f() {{ a{}; }}", "?".repeat(10_000)),
            format!("fn f() {{ a{}; }}", " as u8".repeat(10_000)),
            format!("fn f() {{ if a {{}} {} }}", "else if a {} ".repeat(10_000)),
            format!("type T = A{};", "<x, A".repeat(10_000)),
        ] {
            let reason = parse("deep.rs", &deep).err().unwrap();
            assert!(reason.contains("levels deep"), "{reason}: {}", &deep[..40]);
        }
        let typed = format!("fn f(x: {}u8) {{}}", "&".repeat(60_000));
        assert!(parse("deep.rs", &typed).is_err());
        assert!(
            parse(
                "ok.rs",
                "fn f(a: &&str) -> bool { !!a.is_empty() && a.len() > 0 || -1 < 0 }"
            )
            .is_ok()
        );
    }
}
