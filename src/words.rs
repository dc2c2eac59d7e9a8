//! Names split into words, the one way every rule does it: `dbPassword`, `DB_PASSWORD`,
//! `api-key`, `APIKey`, `readTimeoutMs`, `spring.datasource.password`.

/// Splits an identifier or key into lower-case words: `dbPassword`, `DB_PASSWORD`,
/// `api-key`, `APIKey`, `spring.datasource.password` all split the same way.
pub fn split(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let chars: Vec<char> = name.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            continue;
        }
        let boundary = c.is_uppercase()
            && !current.is_empty()
            && (chars[i - 1].is_lowercase()
                || chars[i - 1].is_ascii_digit()
                || chars.get(i + 1).is_some_and(|n| n.is_lowercase()));
        if boundary {
            out.push(std::mem::take(&mut current));
        }
        current.extend(c.to_lowercase());
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Whether `text` holds a letter outside ASCII that `split` lower-cases into ASCII: KELVIN SIGN
/// becomes `k`. An ASCII-only, case-insensitive search for a word cannot see it in `\u{212A}ey`,
/// though `split` makes that `key`: such a search is then no proof of absence.
pub fn lowercases_into_ascii(text: &str) -> bool {
    text.contains('\u{212A}')
}

use std::cell::OnceCell;

/// A code token of a Rust text: its kind and its text.
pub type CodeToken<'t> = (ra_ap_rustc_lexer::TokenKind, &'t str);

/// A Rust text's code tokens, each with its text: whitespace and comments left out (Rust's own
/// lexer, as rust-analyzer publishes it; it never fails, whatever the text).
pub fn code_tokens(text: &str) -> impl Iterator<Item = CodeToken<'_>> {
    use ra_ap_rustc_lexer::{FrontmatterAllowed, TokenKind, tokenize};
    let mut at = 0;
    tokenize(text, FrontmatterAllowed::No).filter_map(move |token| {
        let piece = &text[at..at + token.len as usize];
        at += token.len as usize;
        match token.kind {
            TokenKind::Whitespace
            | TokenKind::LineComment { .. }
            | TokenKind::BlockComment { .. } => None,
            kind => Some((kind, piece)),
        }
    })
}

/// The text of the code token at `at`, or `""` past the end: for reading a few tokens around
/// one without bounds checks.
pub fn token_text<'t>(tokens: &[CodeToken<'t>], at: usize) -> &'t str {
    tokens.get(at).map_or("", |(_, text)| *text)
}

/// A Rust text's code tokens (`code_tokens`) as a list, allocated once for a typical file (about
/// one code token per six bytes of text) rather than grown by copies.
pub fn code_token_list(text: &str) -> Vec<CodeToken<'_>> {
    let mut tokens = Vec::with_capacity(text.len() / 5);
    tokens.extend(code_tokens(text));
    tokens
}

/// A fixed set of identifiers, looked for in a Rust file's code in one pass of Rust's own lexer
/// (rust-analyzer's copy of rustc's): which of them the code holds as identifiers (`log` in
/// `log::info!`, not in `login`, nor in a comment or a string), and which as macro names
/// (`info!`). A cheap, sound prefilter: whatever a rule resolves in the syntax tree is written
/// as identifiers in the code, and comments and strings never reach the tree as code.
pub struct Vocabulary {
    /// foldhash, not std's SipHash: every identifier of every Rust file is looked up here.
    ids: foldhash::HashMap<String, usize>,
    /// Every word, searched for in a text's bytes before it is lexed: an identifier is written
    /// with its bytes, so a text in which no word occurs holds none of them as code.
    bytes: aho_corasick::AhoCorasick,
}

/// Which words of a [`Vocabulary`] one text holds.
pub struct Present<'v> {
    vocabulary: &'v Vocabulary,
    text: &'v str,
    word: Vec<bool>,
    macro_call: Vec<bool>,
    after_dot: Vec<bool>,
    /// Written somewhere as a name or a path's item: not right after a `.`, not as a macro.
    as_item: Vec<bool>,
    method_call: Vec<bool>,
}

impl Vocabulary {
    pub fn new(words: impl IntoIterator<Item = String>) -> Vocabulary {
        let mut ids = foldhash::HashMap::default();
        for word in words.into_iter().filter(|w| !w.is_empty()) {
            let next = ids.len();
            ids.entry(word).or_insert(next);
        }
        let bytes = aho_corasick::AhoCorasick::new(ids.keys()).expect("vocabulary automaton");
        Vocabulary { ids, bytes }
    }

    /// Whether any word occurs in the text's bytes (in code, a comment, a string or inside a
    /// longer word): when none does, the code holds none, and lexing can be skipped.
    pub fn occurs_in(&self, text: &str) -> bool {
        self.bytes.is_match(text)
    }

    /// The words of the vocabulary that the code of `text` holds.
    pub fn scan<'v>(&'v self, text: &'v str) -> Present<'v> {
        self.scan_lexing(text, || code_tokens(text))
    }

    /// The words of the vocabulary that the code of `text` holds, read from the code tokens
    /// `lex` gives: called only when a word occurs in the text's bytes (`occurs_in`), so a text
    /// without any is not lexed.
    pub fn scan_lexing<'v, I: IntoIterator<Item = CodeToken<'v>>>(
        &'v self,
        text: &'v str,
        lex: impl FnOnce() -> I,
    ) -> Present<'v> {
        if self.occurs_in(text) {
            self.scan_tokens(text, lex())
        } else {
            self.scan_tokens(text, std::iter::empty())
        }
    }

    /// The words of the vocabulary that the code of `text` holds, read from its code tokens
    /// (`code_tokens`), when other passes read them too.
    pub fn scan_tokens<'v>(
        &'v self,
        text: &'v str,
        tokens: impl IntoIterator<Item = CodeToken<'v>>,
    ) -> Present<'v> {
        use ra_ap_rustc_lexer::TokenKind;
        let mut word = vec![false; self.ids.len()];
        let mut macro_call = vec![false; self.ids.len()];
        let mut after_dot = vec![false; self.ids.len()];
        let mut method_call = vec![false; self.ids.len()];
        let mut as_item = vec![false; self.ids.len()];
        // An identifier not after a dot, then whether a `!` follows it (a macro, not an item).
        let mut item: Option<usize> = None;
        let mut dot = false;
        // A member just named (`.text`), then whether a call follows (`.text()`, `.f::<T>()`).
        let mut member: Option<usize> = None;
        // The identifier just seen, then whether a `!` followed it (`info!`, not `a != b`).
        let mut last: Option<usize> = None;
        let mut bang: Option<usize> = None;
        for (kind, piece) in tokens {
            if let Some(id) = item.take()
                && kind != TokenKind::Bang
            {
                as_item[id] = true;
            }
            if let Some(id) = bang.take()
                && kind != TokenKind::Eq
            {
                macro_call[id] = true;
            }
            if let Some(id) = member.take()
                && matches!(kind, TokenKind::OpenParen | TokenKind::Colon)
            {
                method_call[id] = true;
            }
            match (kind, last.take()) {
                (TokenKind::Bang, Some(id)) => bang = Some(id),
                (TokenKind::Ident | TokenKind::RawIdent, _) => {
                    let name = match kind {
                        TokenKind::RawIdent => &piece[2..],
                        _ => piece,
                    };
                    if let Some(&id) = self.ids.get(name) {
                        word[id] = true;
                        after_dot[id] |= dot;
                        item = (!dot).then_some(id);
                        member = dot.then_some(id);
                        last = Some(id);
                    }
                }
                _ => {}
            }
            dot = kind == TokenKind::Dot;
        }
        if let Some(id) = bang {
            macro_call[id] = true;
        }
        if let Some(id) = item {
            as_item[id] = true;
        }
        Present {
            vocabulary: self,
            text,
            word,
            macro_call,
            after_dot,
            as_item,
            method_call,
        }
    }
}

impl Present<'_> {
    fn find(&self, word: &str) -> Option<usize> {
        let id = self.vocabulary.ids.get(word).copied();
        if id.is_none() {
            crate::timings::gate_word_outside_vocabulary();
        }
        id
    }

    /// Whether the code holds `word` as an identifier. A word outside the vocabulary is searched
    /// for in the whole text, comments and strings too (slower, never wrong).
    pub fn has(&self, word: &str) -> bool {
        match self.find(word) {
            Some(id) => self.word[id],
            None => has_word(self.text, word).0,
        }
    }

    /// Whether the text calls a macro of that name (`name!`, `name !`).
    pub fn has_macro(&self, name: &str) -> bool {
        match self.find(name) {
            Some(id) => self.macro_call[id],
            None => has_word(self.text, name).1,
        }
    }

    /// Whether the code calls a method or reads a field of that name (`.status()`, `.status`).
    pub fn has_member(&self, name: &str) -> bool {
        match self.find(name) {
            Some(id) => self.after_dot[id],
            None => self.text.contains(&format!(".{name}")) || has_word(self.text, name).0,
        }
    }

    /// Whether the code calls a method of that name (`.text()`, `.collect::<T>()`).
    pub fn has_method(&self, name: &str) -> bool {
        match self.find(name) {
            Some(id) => self.method_call[id],
            None => self.has_member(name),
        }
    }

    /// Whether every segment of a path (`tokio::sync::Semaphore`) is written in the text, the
    /// first also through a renamed dependency (`(key, package)` pairs, `-` made `_`), and the
    /// last as an item (`fs::write`, not only `.write(..)` or `write!`): a path the syntax tree
    /// resolves to this one is written with these names, in its `use` or in the code.
    pub fn has_path(&self, path: &str, renames: &[(String, String)]) -> bool {
        let mut segments: Vec<&str> = path.split("::").collect();
        let last = segments.pop().unwrap_or_default();
        let Some((root, middle)) = segments.split_first() else {
            return self.has_item(last);
        };
        let root_written = self.has(root)
            || renames
                .iter()
                .any(|(key, package)| package == root && self.has(key));
        root_written && middle.iter().all(|s| self.has(s)) && self.has_item(last)
    }

    /// Whether the code holds `word` as a name or a path's item (not after a `.`, not as a
    /// macro).
    fn has_item(&self, word: &str) -> bool {
        match self.find(word) {
            Some(id) => self.as_item[id],
            None => has_word(self.text, word).0,
        }
    }
}

/// What a Rust file's text says before any parse, for the tree gates: which words of the gate
/// vocabulary its code holds, its code tokens, and its package's crate renames. The text is
/// lexed at most once, and only when asked: for the words only when one occurs in its bytes
/// (`Vocabulary::occurs_in`), for the tokens only when a gate reads them.
pub struct FileWords<'a> {
    text: &'a str,
    vocabulary: &'a Vocabulary,
    tokens: OnceCell<Vec<CodeToken<'a>>>,
    present: OnceCell<Present<'a>>,
    renames: &'a [(String, String)],
}

impl<'a> FileWords<'a> {
    /// `renames`: the file's package's renamed dependencies, `(key, package)` with `-` made `_`.
    pub fn new(
        text: &'a str,
        vocabulary: &'a Vocabulary,
        renames: &'a [(String, String)],
    ) -> FileWords<'a> {
        FileWords {
            text,
            vocabulary,
            tokens: OnceCell::new(),
            present: OnceCell::new(),
            renames,
        }
    }

    /// The file's code tokens (`code_tokens`).
    pub fn tokens(&self) -> &[CodeToken<'a>] {
        self.tokens.get_or_init(|| {
            crate::timings::rust_lexed(self.text.len());
            code_token_list(self.text)
        })
    }

    fn present(&self) -> &Present<'a> {
        self.present.get_or_init(|| {
            (self.vocabulary).scan_lexing(self.text, || self.tokens().iter().copied())
        })
    }

    /// Whether the code holds the identifier.
    pub fn has(&self, word: &str) -> bool {
        self.present().has(word)
    }

    /// Whether the code calls a macro of that name.
    pub fn has_macro(&self, name: &str) -> bool {
        self.present().has_macro(name)
    }

    /// Whether the code calls a method or reads a field of that name.
    pub fn has_member(&self, name: &str) -> bool {
        self.present().has_member(name)
    }

    /// Whether the code calls a method of that name.
    pub fn has_method(&self, name: &str) -> bool {
        self.present().has_method(name)
    }

    /// Whether every segment of the path is written in the code (its crate also through a
    /// renamed dependency of the file's package).
    pub fn has_path(&self, path: &str) -> bool {
        self.present().has_path(path, self.renames)
    }
}

/// Where `word` starts in `text` with no ASCII letter, digit or `_` joined to it on either
/// side: everywhere the code could hold it as an identifier, and also in comments and strings,
/// and beside a character outside ASCII (a Unicode space may stand beside an identifier). Looser
/// than the code's identifiers, never stricter.
pub fn whole_word_starts<'t>(text: &'t str, word: &'t str) -> impl Iterator<Item = usize> + 't {
    let bytes = text.as_bytes();
    let joins = |at: Option<&u8>| at.is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_');
    memchr::memmem::find_iter(bytes, word.as_bytes()).filter(move |&start| {
        let before = start.checked_sub(1).and_then(|i| bytes.get(i));
        !joins(before) && !joins(bytes.get(start + word.len()))
    })
}

/// Whether `text` may hold `word` as an identifier (`whole_word_starts`).
pub fn written_as_word(text: &str, word: &str) -> bool {
    whole_word_starts(text, word).next().is_some()
}

/// Whether `text` may hold `word` as a whole identifier, and whether as a macro call
/// (`whole_word_starts`).
fn has_word(text: &str, word: &str) -> (bool, bool) {
    let mut found = (false, false);
    for start in whole_word_starts(text, word) {
        found.0 = true;
        let rest = text[start + word.len()..].trim_start();
        if rest.starts_with('!') && !rest.starts_with("!=") {
            found.1 = true;
            break;
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_into_words() {
        assert_eq!(split("dbPassword"), ["db", "password"]);
        assert_eq!(split("APIKey"), ["api", "key"]);
        assert_eq!(split("DB_PASSWORD"), ["db", "password"]);
        assert_eq!(
            split("spring.datasource.password"),
            ["spring", "datasource", "password"]
        );
        assert_eq!(split("oauth2Token"), ["oauth2", "token"]);
        assert_eq!(split("readTimeoutMs"), ["read", "timeout", "ms"]);
        assert_eq!(split("HTTPTimeout"), ["http", "timeout"]);
    }

    #[test]
    fn a_vocabulary_finds_whole_identifiers_and_macro_calls() {
        let vocabulary = Vocabulary::new(
            ["log", "info", "tokio", "sync", "Semaphore", "Client"].map(String::from),
        );
        let text =
            "use tokio::sync::Semaphore as Gate;\nfn login() { info !(\"x\"); let info = 1; }";
        let present = vocabulary.scan(text);
        assert!(vocabulary.occurs_in(text) && !vocabulary.occurs_in("fn main() {}"));
        assert!(!present.has("log"), "`log` only inside `login`");
        assert!(present.has("info") && present.has_macro("info"));
        assert!(present.has_path("tokio::sync::Semaphore", &[]));
        assert!(!present.has_path("reqwest::Client", &[]));
        assert!(!present.has("Client"), "only in a comment and a string");
        // Outside the vocabulary: searched for directly.
        assert!(present.has("Gate") && !present.has("Semaph"));
        assert!(!present.has_macro("Gate"));
        let renamed = vocabulary.scan("use http::Client;");
        let renames = [("http".to_string(), "reqwest".to_string())];
        assert!(renamed.has_path("reqwest::Client", &renames));
        assert!(!renamed.has_path("reqwest::Client", &[]));
        assert!(!vocabulary.scan("if a != b {}").has_macro("a"));
        let members = vocabulary.scan("let info = x.log; Client::new().sync()");
        assert!(members.has_member("log") && members.has_member("sync"));
        assert!(!members.has_member("info") && !members.has_member("Client"));
        assert!(members.has_method("sync") && !members.has_method("log"));
    }

    #[test]
    fn a_word_is_written_wherever_no_ascii_identifier_byte_joins_it() {
        let written = |text: &str| written_as_word(text, "run");
        for text in ["fn run() {}", "x.r#run()", "// run", "run", "é run", "runé"] {
            assert!(written(text), "{text}");
        }
        for text in ["runtime", "_run", "run2", "prerun", "fn go() {}"] {
            assert!(!written(text), "{text}");
        }
    }

    #[test]
    fn a_path_ends_in_an_item_not_a_method_or_a_macro() {
        let vocabulary =
            Vocabulary::new(["std", "fs", "write", "tracing", "info"].map(String::from));
        let path = |text: &str, path: &str| vocabulary.scan(text).has_path(path, &[]);
        // `.write(..)` and `write!` beside `use std::fs::File` are not `std::fs::write`.
        let io = "use std::fs::File;\nfn f(mut o: File) { o.write(b\"x\"); write!(o, \"y\"); }";
        assert!(!path(io, "std::fs::write"));
        assert!(path(
            "use std::fs;\nfn f() { fs::write(\"a\", \"b\"); }",
            "std::fs::write"
        ));
        assert!(path(
            "use std::fs::{self, write};\nfn f() { write(p, b) }",
            "std::fs::write"
        ));
        // A macro is named by its path in a `use`, or called with it.
        assert!(path(
            "use tracing::info;\nfn f() { info!(\"x\") }",
            "tracing::info"
        ));
        assert!(!path("fn f() { tracing::info!(\"x\") }", "tracing::info"));
        assert!(path("fn f() { tracing::info!(\"x\") }", "tracing"));
    }
}
