//! A panic on a function's plain parameters (`body: String`) is a panic on a request's input
//! only if a router registers the function as a handler. Settled once every file has been
//! seen: the Rust files whose code names such a function are parsed for their routers, and
//! each held finding is kept if one registers its function (`finding::RouteTarget`).

use std::collections::BTreeSet;

use rayon::prelude::*;

use crate::facts::FileFacts;
use crate::facts::cargo::CargoProject;
use crate::facts::imports::Imports;
use crate::facts::routes;
use crate::finding::{Condition, RouteTarget};
use crate::source::FileKind;

/// A function a router registers: its path as the router's file resolves it, and the folder of
/// that file's package.
struct Registered {
    path: String,
    package: String,
}

/// Keeps the findings whose function some router registers, and drops the others. `read`
/// gives a file's text again.
pub fn settle(
    files: &mut [FileFacts],
    cargo: &CargoProject,
    read: impl Fn(&str) -> Option<String> + Sync,
) {
    let wanted: BTreeSet<String> = (files.iter().flat_map(|f| &f.findings))
        .filter_map(|f| f.condition.as_ref()?.if_route_target.as_ref())
        .map(|t| t.function.clone())
        .collect();
    if wanted.is_empty() {
        return;
    }
    let registered = registered(files, cargo, &wanted, &read);
    for file in files.iter_mut() {
        file.findings.retain_mut(|finding| {
            let Some(condition) = finding.condition.as_mut() else {
                return true;
            };
            let Some(target) = condition.if_route_target.take() else {
                return true;
            };
            if **condition == Condition::default() {
                finding.condition = None;
            }
            registered.iter().any(|r| registers(r, &target))
        });
    }
}

/// The functions of `wanted` that the routers of the project's Rust files register.
fn registered(
    files: &[FileFacts],
    cargo: &CargoProject,
    wanted: &BTreeSet<String>,
    read: &(impl Fn(&str) -> Option<String> + Sync),
) -> Vec<Registered> {
    let routing = crate::words::Vocabulary::new(routes::routing_words().map(String::from));
    // Routing words are in nearly every file; a wanted name is in few, and is looked for
    // in the bytes before the file is lexed.
    let names = crate::words::Vocabulary::new(wanted.iter().cloned());
    files
        .par_iter()
        .filter(|f| f.kind == FileKind::Rust)
        .flat_map_iter(|file| {
            // A router's file names the function as a value and calls a routing function or
            // method.
            let text = read(&file.path).filter(|t| {
                if !names.occurs_in(t) {
                    return false;
                }
                let tokens = crate::words::code_token_list(t);
                names_as_value(&tokens, wanted) && {
                    let present = routing.scan_tokens(t, tokens.iter().copied());
                    routes::routing_words().any(|word| present.has(word))
                }
            });
            let path = file.path.as_str();
            let targets = text.and_then(|text| {
                let parsed = crate::checks::guarded("panics", path, || {
                    let targets = parse_targets(path, &text, cargo);
                    proc_macro2::extra::invalidate_current_thread_spans();
                    targets
                });
                parsed.ok().flatten()
            });
            let package = cargo
                .manifest_for(path)
                .map_or_else(String::new, |m| m.dir.clone());
            (targets.into_iter().flatten()).map(move |path| Registered {
                path,
                package: package.clone(),
            })
        })
        .collect()
}

/// Whether the code names one of the functions other than by calling or defining it: a
/// router's argument (`post(create)`, `get(handlers::create::<S>)`) or an import of one
/// (`use handlers::create as c`). A test that calls a helper of that name does not.
fn names_as_value(tokens: &[crate::words::CodeToken<'_>], wanted: &BTreeSet<String>) -> bool {
    let text = |at: usize| crate::words::token_text(tokens, at);
    tokens.iter().enumerate().any(|(at, (kind, name))| {
        *kind == ra_ap_rustc_lexer::TokenKind::Ident
            && wanted.contains(*name)
            && !matches!(text(at + 1), "(" | "!")
            && !(at > 0 && matches!(text(at - 1), "fn" | "."))
    })
}

fn parse_targets(path: &str, text: &str, cargo: &CargoProject) -> Option<Vec<String>> {
    let ast = crate::facts::rust::parse_estimated(path, text, None).ok()?;
    let imports = Imports::of_file(&ast, cargo.crate_renames_of(path));
    Some(routes::targets(&ast, &imports))
}

/// Whether a registration names the function: its last segment is the function's name, and
/// the segment before it (if any) is the function's `impl` type or module, or a relative or
/// crate path within the package. An unqualified name is the same package's.
fn registers(registered: &Registered, target: &RouteTarget) -> bool {
    let segments: Vec<&str> = registered.path.split("::").collect();
    let Some((name, qualifiers)) = segments.split_last() else {
        return false;
    };
    if *name != target.function {
        return false;
    }
    let same_package = registered.package == target.package;
    match qualifiers.last() {
        None => same_package,
        Some(&"self" | &"super" | &"Self") => same_package,
        Some(&q) => target.owner.as_deref() == Some(q) || q == target.module,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(function: &str, owner: Option<&str>, module: &str) -> RouteTarget {
        RouteTarget {
            function: function.to_string(),
            owner: owner.map(str::to_string),
            module: module.to_string(),
            package: "api".to_string(),
        }
    }

    fn registered(path: &str, package: &str) -> Registered {
        Registered {
            path: path.to_string(),
            package: package.to_string(),
        }
    }

    #[test]
    fn a_function_is_named_as_a_value_by_a_router_or_an_import() {
        let wanted: BTreeSet<String> = ["create".to_string()].into();
        let named = |text: &str| names_as_value(&crate::words::code_token_list(text), &wanted);
        assert!(named("Router::new().route(\"/\", post(create))"));
        assert!(named("web::post().to(handlers::create::<S>)"));
        assert!(named("use handlers::{create as c, list}; get(c)"));
        assert!(!named(
            "async fn create(body: String) {} fn t() { create(b).await; x.create(); }"
        ));
        assert!(!named("// post(create)\nlet s = \"create\"; create!(x);"));
    }

    #[test]
    fn a_registration_names_the_function_by_its_module_type_or_package() {
        let create = target("create", None, "orders");
        assert!(registers(
            &registered("crate::handlers::orders::create", "web"),
            &create
        ));
        assert!(registers(&registered("orders::create", "api"), &create));
        assert!(registers(&registered("create", "api"), &create));
        assert!(registers(&registered("super::create", "api"), &create));
        // Another module's, or another package's unqualified function of the same name.
        assert!(!registers(&registered("invoices::create", "api"), &create));
        assert!(!registers(&registered("create", "web"), &create));
        assert!(!registers(&registered("orders::update", "api"), &create));

        let method = target("create", Some("OrdersApi"), "routes");
        assert!(registers(&registered("OrdersApi::create", "web"), &method));
        assert!(registers(&registered("Self::create", "api"), &method));
        let root = target("health", None, "crate");
        assert!(registers(&registered("crate::health", "api"), &root));
    }
}
