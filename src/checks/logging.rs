//! OBS001: a service logs through a logging facade, not through print macros.
//!
//! Project-level: the dependencies come from the Cargo model, the uses from each Rust file's
//! `CodeUses` (facts::uses). One finding at most: on the service's manifest when no facade is a
//! dependency, or at the first print call when the code prints and never logs.

use std::sync::LazyLock;

use serde::Deserialize;

use crate::checks::ProjectContext;
use crate::facts::FileFacts;
use crate::facts::cargo::DepKind;
use crate::facts::uses::CodeUses;
use crate::finding::{Finding, Site};
use crate::project::{depends_on_any, is_build_script, matches_any, service_anchor};
use crate::registry::Code;
use crate::roles::Role;

#[derive(Deserialize)]
struct Data {
    facades: Vec<String>,
    in_house_words: Vec<String>,
    not_in_house: Vec<String>,
}

static DATA: LazyLock<Data> = LazyLock::new(|| Code::OBS001.rule().data());

/// Rust files whose code runs in production: not tests, examples, benches or build scripts.
pub fn production_rust<'a>(ctx: &'a ProjectContext<'_>) -> impl Iterator<Item = &'a FileFacts> {
    ctx.files
        .iter()
        .filter(|f| f.role == Role::Production && !is_build_script(&f.path, ctx.cargo))
}

/// Whether OBS001's verdict needs the uses of files not parsed yet (`FileFacts::uses_pending`):
/// it runs, and no production file read so far logs.
pub fn needs_every_use(ctx: &ProjectContext<'_>) -> bool {
    ctx.rules.enabled(Code::OBS001)
        && !production_rust(ctx).any(|f| f.uses.as_ref().is_some_and(|u| u.logging.is_some()))
}

pub fn check_project(ctx: &ProjectContext<'_>, out: &mut Vec<Finding>) {
    if !ctx.rules.enabled(Code::OBS001) {
        return;
    }
    let uses: Vec<(&FileFacts, &CodeUses)> = production_rust(ctx)
        .filter_map(|f| f.uses.as_deref().map(|u| (f, u)))
        .collect();
    if uses.iter().any(|(_, u)| u.logging.is_some()) {
        return;
    }
    let facades: Vec<&str> = DATA.facades.iter().map(String::as_str).collect();
    if depends_on_any(ctx.cargo, &facades).is_none() {
        if in_house_logging(ctx) {
            return;
        }
        let anchor = service_anchor(ctx.files, ctx.cargo);
        out.push(
            Finding::project(
                Code::OBS001,
                "logging",
                "the service depends on no logging library (tracing, log, slog): it has no structured logs",
            )
            .anchored_at(anchor.as_deref()),
        );
        return;
    }
    let prints: usize = uses.iter().map(|(_, u)| u.prints).sum();
    let mut first: Vec<(&FileFacts, &Site)> = uses
        .iter()
        .filter_map(|(f, u)| u.first_print.as_ref().map(|p| (*f, p)))
        .collect();
    // The entry point first (where a service starts and serves), then path and line order.
    let rank = |path: &str| {
        let entry =
            path == "src/main.rs" || path.ends_with("/src/main.rs") || path.contains("src/bin/");
        !entry
    };
    first.sort_by(|a, b| {
        (rank(&a.0.path), &a.0.path, a.1.span.start_line).cmp(&(
            rank(&b.0.path),
            &b.0.path,
            b.1.span.start_line,
        ))
    });
    let Some((_, site)) = first.first() else {
        return;
    };
    let files = first.len();
    out.push(Finding::at_site(Code::OBS001, (*site).clone(),
        format!(
            "the service logs only through print macros ({prints} call(s) in {files} file(s)) and never through its logging library"
        ),
    ));
}

/// Whether a production dependency's name says it is an in-house logging or telemetry crate.
fn in_house_logging(ctx: &ProjectContext<'_>) -> bool {
    let published: Vec<&str> = DATA.not_in_house.iter().map(String::as_str).collect();
    ctx.cargo.production_manifests().any(|manifest| {
        manifest.dependencies.iter().any(|dep| {
            let dep = ctx.cargo.resolve(manifest, dep);
            dep.kind != DepKind::Dev
                && !matches_any(&dep.package, &published)
                && DATA
                    .in_house_words
                    .iter()
                    .any(|w| dep.package.contains(w.as_str()))
        })
    })
}
