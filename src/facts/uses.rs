//! What a Rust file's production code uses that project-level rules weigh against the whole
//! project: a logging facade (OBS001), print macros instead of one (OBS001), and anything that
//! limits or sheds load (RES009). Test regions are skipped here; test files are skipped by the
//! project phase.
//!
//! The vocabularies are the rules' `[data]` (`facade_roots`, `logging_macros`, `print_macros`
//! in OBS001; `limit_paths`, `limit_methods` in RES009).

use std::sync::LazyLock;

use serde::Deserialize;
use syn::spanned::Spanned;
use syn::visit::{self, Visit};

use crate::facts::imports::{Imports, is_under};
use crate::facts::rust::RustFacts;
use crate::finding::Site;
use crate::registry::Code;
use crate::source::Source;

/// What one file's production code uses.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct CodeUses {
    /// The first use of a logging facade (a macro, an attribute or a path), with its line.
    pub logging: Option<(usize, String)>,
    /// How many print macros (`println!`, `eprintln!`, ...) production code calls.
    pub prints: usize,
    /// The first of them, as a finding to re-code (see `monitoring::at_site`).
    pub first_print: Option<Site>,
    /// The first thing that limits or sheds load (a semaphore, a tower limit layer, a
    /// `concurrency_limit` call), with its line.
    pub limit: Option<(usize, String)>,
}

#[derive(Deserialize)]
struct LoggingData {
    facade_roots: Vec<String>,
    logging_macros: Vec<String>,
    print_macros: Vec<String>,
    structured_print_markers: Vec<String>,
}

#[derive(Deserialize)]
struct LimitData {
    limit_paths: Vec<String>,
    limit_methods: Vec<String>,
    limit_settings: Vec<String>,
}

/// A configuration setting that limits load (RES009's `limit_settings`, matched as whole words
/// of the key's snake-case form: `max_concurrent_requests`, `worker_max_tasks`), as
/// `key (path:line)`.
pub fn limit_setting(
    source: &Source,
    settings: &[crate::facts::settings::Setting],
) -> Option<String> {
    static WORDS: LazyLock<Vec<String>> = LazyLock::new(|| {
        (LIMITS.limit_settings.iter())
            .map(|w| format!("_{w}_"))
            .collect()
    });
    settings.iter().find_map(|setting| {
        let key = format!("_{}_", crate::words::split(setting.key()).join("_"));
        let limits = WORDS.iter().any(|word| key.contains(word.as_str()));
        limits.then(|| {
            let line = source.line_of(setting.key_range.start);
            format!("{} ({}:{line})", setting.key(), source.path)
        })
    })
}

static LOGGING: LazyLock<LoggingData> = LazyLock::new(|| Code::OBS001.rule().data());
static LIMITS: LazyLock<LimitData> = LazyLock::new(|| Code::RES009.rule().data());

/// Whether a file's tree may show a use: a facade's crate, a logging or print macro, a limit's
/// path or method, written in its text.
pub fn may_use(words: &crate::words::FileWords<'_>) -> bool {
    LOGGING.facade_roots.iter().any(|root| words.has_path(root))
        || LOGGING
            .logging_macros
            .iter()
            .chain(&LOGGING.print_macros)
            .any(|name| words.has_macro(name))
        || LIMITS.limit_paths.iter().any(|path| words.has_path(path))
        || LIMITS.limit_methods.iter().any(|method| words.has(method))
}

pub fn gate_words() -> Vec<String> {
    let limit_segments = LIMITS.limit_paths.iter().flat_map(|p| p.split("::"));
    LOGGING
        .facade_roots
        .iter()
        .chain(&LOGGING.logging_macros)
        .chain(&LOGGING.print_macros)
        .map(String::as_str)
        .chain(limit_segments)
        .chain(LIMITS.limit_methods.iter().map(String::as_str))
        .map(String::from)
        .collect()
}

/// Extracts the uses of one parsed file.
pub fn extract(source: &Source, ast: &syn::File, imports: &Imports, rust: &RustFacts) -> CodeUses {
    let mut visitor = UseVisitor {
        source,
        imports,
        rust,
        uses: CodeUses::default(),
    };
    visitor.visit_file(ast);
    visitor.uses
}

struct UseVisitor<'a> {
    source: &'a Source,
    imports: &'a Imports,
    rust: &'a RustFacts,
    uses: CodeUses,
}

impl UseVisitor<'_> {
    fn note_logging(&mut self, line: usize, what: String) {
        if self.uses.logging.is_none() && !self.rust.is_test_line(line) {
            self.uses.logging = Some((line, what));
        }
    }

    fn note_limit(&mut self, line: usize, what: String) {
        if self.uses.limit.is_none() && !self.rust.is_test_line(line) {
            self.uses.limit = Some((line, what));
        }
    }

    fn note_path(&mut self, resolved: &str, line: usize) {
        if LOGGING
            .facade_roots
            .iter()
            .any(|root| is_under(resolved, root))
        {
            self.note_logging(line, resolved.to_string());
        }
        if LIMITS.limit_paths.iter().any(|p| is_under(resolved, p)) {
            self.note_limit(line, resolved.to_string());
        }
    }
}

impl<'ast> Visit<'ast> for UseVisitor<'_> {
    fn visit_path(&mut self, path: &'ast syn::Path) {
        let resolved = self.imports.resolve(path);
        self.note_path(&resolved, path.span().start().line);
        visit::visit_path(self, path);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        let line = mac.path.span().start().line;
        let resolved = self.imports.resolve(&mac.path);
        let name = mac
            .path
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .unwrap_or_default();
        // A bare `info!` is a logging crate's macro imported with `#[macro_use]`, or a local
        // wrapper around one: either way the code logs through something other than print.
        let bare = mac.path.segments.len() == 1 && resolved == name;
        if bare && LOGGING.logging_macros.contains(&name) {
            self.note_logging(line, format!("{name}!"));
        }
        let std_print = bare || resolved == format!("std::{name}");
        if std_print && LOGGING.print_macros.contains(&name) && !self.rust.is_test_line(line) {
            let tokens = mac.tokens.to_string();
            if LOGGING
                .structured_print_markers
                .iter()
                .any(|m| tokens.contains(m.as_str()))
            {
                // JSON lines on stdout are structured logs (the twelve-factor way).
                self.note_logging(line, format!("{name}! of JSON"));
            } else {
                self.uses.prints += 1;
                if self.uses.first_print.is_none() {
                    let range = self.source.span_range(mac.path.span());
                    let end = self.source.span_range(mac.delimiter.span().close()).end;
                    self.uses.first_print = Some(self.source.site(range.start..end));
                }
            }
        }
        visit::visit_macro(self, mac);
    }

    fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
        let method = call.method.to_string();
        if LIMITS.limit_methods.contains(&method) {
            self.note_limit(call.method.span().start().line, format!(".{method}(..)"));
        }
        visit::visit_expr_method_call(self, call);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uses(code: &str) -> CodeUses {
        let source = Source::new("src/main.rs", code.to_string());
        let ast = syn::parse_file(code).unwrap();
        let imports = Imports::of_file(&ast, Default::default());
        let rust = crate::facts::rust::extract("src/main.rs", &ast);
        extract(&source, &ast, &imports, &rust)
    }

    #[test]
    fn logging_facades_through_imports_and_bare_macros() {
        // The use is where the code logs, not where it imports.
        let aliased = uses("use tracing::warn as w;\nfn f() { w!(\"x\"); }");
        assert_eq!(aliased.logging.map(|l| l.0), Some(2));
        let bare = uses("fn f() {\n    info!(\"x\");\n}");
        assert_eq!(bare.logging.map(|l| l.0), Some(2));
        let attribute = uses("#[tracing::instrument]\nfn f() {}");
        assert!(attribute.logging.is_some());
        let printed = uses(
            "fn f() {\n    println!(\"a\");\n    eprintln!(\"b\");\n}\n#[cfg(test)]\nmod t { fn g() { log::info!(\"c\"); println!(\"d\"); } }",
        );
        assert_eq!(printed.prints, 2);
        assert_eq!(printed.first_print.map(|f| f.span.start_line), Some(2));
        assert!(printed.logging.is_none());
        let json = uses("fn f(e: &E) { println!(\"{}\", serde_json::to_string(e).unwrap()); }");
        assert_eq!(json.prints, 0);
        assert!(json.logging.is_some());
    }

    #[test]
    fn limits_through_imports_types_and_builders() {
        let semaphore =
            uses("use tokio::sync::Semaphore as Gate;\nstatic G: Gate = Gate::const_new(8);");
        assert_eq!(semaphore.limit.map(|l| l.0), Some(2));
        let layer = uses(
            "fn app() {\n    let svc = tower::ServiceBuilder::new()\n        .concurrency_limit(64)\n        .service(s);\n}",
        );
        assert_eq!(layer.limit.map(|l| l.0), Some(3));
        let none = uses("use std::sync::Mutex;\nfn f() { let m = Mutex::new(1); }");
        assert!(none.limit.is_none());
    }
}
