//! RES009: a project that calls out over the network has something that limits or sheds load
//! (a rate limiter, a concurrency limit, load shedding or a circuit breaker).
//!
//! Project-level: limiter crates and tower features come from the Cargo model, limiter uses in
//! code from each Rust file's `CodeUses` (facts::uses).

use std::sync::LazyLock;

use serde::Deserialize;

use crate::checks::ProjectContext;
use crate::checks::logging::production_rust;
use crate::facts::cargo::DepKind;
use crate::finding::Finding;
use crate::project::{NETWORK_CLIENTS, depends_on_any, service_anchor};
use crate::registry::Code;
use crate::registry::Subject;

#[derive(Deserialize)]
struct Data {
    limiter_crates: Vec<String>,
    tower_features: Vec<String>,
}

static DATA: LazyLock<Data> = LazyLock::new(|| Code::RES009.rule().data());

/// The network client and the manifest that depends on it, when the project is judged on the
/// limits in its code: RES009 runs, an application calls out, and no limiter crate or tower
/// limit feature settles it already.
fn judged_on_code<'a>(ctx: &ProjectContext<'a>) -> Option<(String, &'a str)> {
    if !ctx.rules.enabled(Code::RES009) {
        return None;
    }
    let (client, manifest) = depends_on_any(ctx.cargo, &NETWORK_CLIENTS)?;
    // A library's limits are its callers' business: only an application (a package with a
    // binary) is judged.
    if !ctx.subjects.contains_key(&Subject::Binary) {
        return None;
    }
    let limiters: Vec<&str> = DATA.limiter_crates.iter().map(String::as_str).collect();
    if depends_on_any(ctx.cargo, &limiters).is_some() || tower_limit_feature(ctx) {
        return None;
    }
    Some((client, manifest))
}

/// Whether the code limits load (a semaphore, a limit layer, `buffer_unordered(n)`), or the
/// configuration does (a rate limit or concurrency cap it sets).
fn code_limits(ctx: &ProjectContext<'_>) -> bool {
    production_rust(ctx).any(|f| f.uses.as_ref().is_some_and(|u| u.limit.is_some()))
        || (ctx.files.iter()).any(|f| !f.role.is_test_like() && f.limit_setting.is_some())
}

/// Whether RES009's verdict needs the uses of files not parsed yet (`FileFacts::uses_pending`).
pub fn needs_every_use(ctx: &ProjectContext<'_>) -> bool {
    judged_on_code(ctx).is_some() && !code_limits(ctx)
}

pub fn check_project(ctx: &ProjectContext<'_>, out: &mut Vec<Finding>) {
    let Some((client, _)) = judged_on_code(ctx) else {
        return;
    };
    if code_limits(ctx) {
        return;
    }
    out.push(
        Finding::project(
            Code::RES009,
            "load limiting",
            format!(
                "the project calls out through {client}, but nothing limits or sheds load: no rate limiter, concurrency limit, load shedding or circuit breaker"
            ),
        )
        .anchored_at(service_anchor(ctx.files, ctx.cargo).as_deref()),
    );
}

/// Whether a production package enables tower's limit or load-shed layers.
fn tower_limit_feature(ctx: &ProjectContext<'_>) -> bool {
    ctx.cargo.production_manifests().any(|manifest| {
        manifest.dependencies.iter().any(|dep| {
            let resolved = ctx.cargo.resolve(manifest, dep);
            resolved.kind != DepKind::Dev
                && resolved.package == "tower"
                && dep
                    .features
                    .iter()
                    .chain(&resolved.features)
                    .any(|f| DATA.tower_features.contains(f))
        })
    })
}
