//! Name resolution for Rust rules: `use` imports, aliases and renamed dependencies, so that a
//! rule matches `reqwest::Client::new` however the code spells it (`Client::new` after
//! `use reqwest::Client;`, `Http::new` after `use reqwest::Client as Http;`, `http::Client::new`
//! when Cargo.toml says `http = { package = "reqwest" }`).
//!
//! Resolution is by name within one file: a local item that shadows an import is not seen.
//! That is the precision trade-off every rule using this accepts.

use std::collections::HashMap;

use syn::visit::{self, Visit};

/// The imports of one file.
#[derive(Debug, Default, Clone)]
pub struct Imports {
    /// Local name -> full path (`Http` -> `reqwest::Client`).
    names: HashMap<String, String>,
    /// Prefixes imported with `*` (`use reqwest::*;` -> `reqwest`).
    globs: Vec<String>,
    /// Dependency names as written in code -> the crate's real name (`http` -> `reqwest`).
    crates: HashMap<String, String>,
}

impl Imports {
    /// Collects every `use` in the file (also those inside functions and modules).
    /// `crate_renames` maps a dependency key to its package (both with `-` as `_`).
    pub fn of_file(file: &syn::File, crate_renames: &[(String, String)]) -> Imports {
        let mut imports = Imports {
            crates: crate_renames.iter().cloned().collect(),
            ..Imports::default()
        };
        let mut collector = Collector(&mut imports);
        collector.visit_file(file);
        imports
    }

    fn add(&mut self, prefix: &[String], tree: &syn::UseTree) {
        let extend = |name: &syn::Ident| {
            let mut path = prefix.to_vec();
            path.push(name.to_string());
            path
        };
        match tree {
            syn::UseTree::Path(p) => self.add(&extend(&p.ident), &p.tree),
            syn::UseTree::Name(n) => {
                let name = n.ident.to_string();
                if name == "self" {
                    if let Some(last) = prefix.last() {
                        self.names.insert(last.clone(), self.canonical(prefix));
                    }
                } else {
                    self.names.insert(name, self.canonical(&extend(&n.ident)));
                }
            }
            syn::UseTree::Rename(r) => {
                let target = if r.ident == "self" {
                    prefix.to_vec()
                } else {
                    extend(&r.ident)
                };
                self.names
                    .insert(r.rename.to_string(), self.canonical(&target));
            }
            syn::UseTree::Glob(_) => {
                let prefix = self.canonical(prefix);
                self.globs.push(prefix);
            }
            syn::UseTree::Group(g) => {
                for item in &g.items {
                    self.add(prefix, item);
                }
            }
        }
    }

    /// A path with its first segment resolved through the crate renames only.
    fn canonical(&self, segments: &[String]) -> String {
        let mut out: Vec<&str> = segments.iter().map(String::as_str).collect();
        if let Some(first) = out.first_mut()
            && let Some(real) = self.crates.get(*first)
        {
            *first = real;
        }
        out.join("::")
    }

    /// The full path of a path as written: its first segment resolved through the imports (or
    /// the crate renames), the rest kept. `crate::`, `self::` and `super::` stay as written.
    pub fn resolve_segments(&self, segments: &[String]) -> String {
        let Some(first) = segments.first() else {
            return String::new();
        };
        let head = self
            .names
            .get(first)
            .cloned()
            .unwrap_or_else(|| self.canonical(std::slice::from_ref(first)));
        let mut out = head;
        for segment in &segments[1..] {
            out.push_str("::");
            out.push_str(segment);
        }
        out
    }

    pub fn resolve(&self, path: &syn::Path) -> String {
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        self.resolve_segments(&segments)
    }

    /// Whether a name as written may come from a glob import of `prefix` (`use reqwest::*;`).
    pub fn glob_imports(&self, prefix: &str) -> bool {
        self.globs.iter().any(|g| g == prefix)
    }

    /// Whether any `use` names something under `prefix` (`tokio_retry`, `reqwest::blocking`).
    pub fn mentions(&self, prefix: &str) -> bool {
        let under = |p: &String| is_under(p, prefix);
        self.names.values().any(under) || self.globs.iter().any(under)
    }
}

/// Whether a resolved path is `tail` or ends with it as whole segments
/// (`axum::extract::DefaultBodyLimit::max` ends with `DefaultBodyLimit::max`, not with `Limit::max`).
pub fn ends_with_path(path: &str, tail: &str) -> bool {
    path.strip_suffix(tail)
        .is_some_and(|head| head.is_empty() || head.ends_with("::"))
}

/// Whether a resolved path is `prefix` or lies under it (`tokio::sync` under `tokio`).
pub fn is_under(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
}

struct Collector<'a>(&'a mut Imports);

impl<'ast> Visit<'ast> for Collector<'_> {
    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        self.0.add(&[], &item.tree);
        visit::visit_item_use(self, item);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_ends_with_whole_segments() {
        assert!(ends_with_path(
            "axum::extract::DefaultBodyLimit::max",
            "DefaultBodyLimit::max"
        ));
        assert!(ends_with_path("std::fs::write", "std::fs::write"));
        assert!(!ends_with_path("my::BodyLimit::max", "Limit::max"));
        assert!(!ends_with_path("std::fs::write", "fs::write_all"));
    }

    fn imports(code: &str, renames: &[(&str, &str)]) -> Imports {
        let renames: Vec<(String, String)> = renames
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        Imports::of_file(&syn::parse_file(code).unwrap(), &renames)
    }

    fn resolve(imports: &Imports, path: &str) -> String {
        imports.resolve(&syn::parse_str::<syn::Path>(path).unwrap())
    }

    #[test]
    fn imports_aliases_groups_and_renamed_crates() {
        let i = imports(
            "use reqwest::Client as Http;\nuse tokio_retry::strategy::{FixedInterval as Every, ExponentialBackoff};\nuse std::net::{self, TcpStream};\nfn f() { use tokio::time::sleep; }\nuse http::blocking;\nuse backon::*;",
            &[("http", "reqwest")],
        );
        assert_eq!(resolve(&i, "Http::new"), "reqwest::Client::new");
        assert_eq!(
            resolve(&i, "Every::from_millis"),
            "tokio_retry::strategy::FixedInterval::from_millis"
        );
        assert_eq!(
            resolve(&i, "ExponentialBackoff"),
            "tokio_retry::strategy::ExponentialBackoff"
        );
        assert_eq!(
            resolve(&i, "net::TcpStream::connect"),
            "std::net::TcpStream::connect"
        );
        assert_eq!(
            resolve(&i, "TcpStream::connect"),
            "std::net::TcpStream::connect"
        );
        assert_eq!(resolve(&i, "sleep"), "tokio::time::sleep");
        assert_eq!(
            resolve(&i, "blocking::Client::new"),
            "reqwest::blocking::Client::new"
        );
        assert_eq!(resolve(&i, "http::Client::new"), "reqwest::Client::new");
        assert_eq!(resolve(&i, "other::thing"), "other::thing");
        assert!(i.glob_imports("backon") && i.mentions("tokio_retry") && !i.mentions("tokio_ret"));
    }
}
