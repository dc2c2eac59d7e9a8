//! OPS: ownership and operations — who owns the thing, how to run it, how it is pinned.

use std::sync::LazyLock;

use regex::Regex;
use serde::Deserialize;

use super::{FileContext, Parsed, ProjectContext};
use crate::facts::cargo::{CargoProject, Dependency, Manifest};
use crate::facts::platform;
use crate::finding::Finding;
use crate::project::{CODEOWNERS_PATHS, runbooks};
use crate::registry::Code;
use crate::registry::Subject;
use crate::roles::Role;

pub fn check_file(ctx: &FileContext<'_>, _parsed: &Parsed<'_>, out: &mut Vec<Finding>) {
    if ctx.rules.enabled(Code::OPS002) && CODEOWNERS_PATHS.contains(&ctx.source.path.as_str()) {
        codeowners_gaps(ctx, out);
    }
}

pub fn check_project(ctx: &ProjectContext<'_>, out: &mut Vec<Finding>) {
    if ctx.rules.enabled(Code::OPS001) {
        missing_ownership(ctx, out);
    }
    if ctx.rules.enabled(Code::OPS003) {
        missing_runbook(ctx, out);
    }
    if ctx.rules.enabled(Code::OPS004) {
        runbook_incomplete(ctx, out);
    }
    if ctx.rules.enabled(Code::OPS005) {
        for manifest in ctx.cargo.manifests() {
            unpinned_dependencies(ctx, manifest, out);
        }
    }
    if ctx.rules.enabled(Code::OPS007) {
        change_record(ctx, out);
    }
}

/// OPS007: a service with no record of what changed, or a changelog whose newest released
/// entry is older than the version beside it.
fn change_record(ctx: &ProjectContext<'_>, out: &mut Vec<Finding>) {
    let Some(evidence) = ctx.subjects.get(&Subject::Service) else {
        return;
    };
    if !ctx.subjects.contains_key(&Subject::ChangeRecord) {
        out.push(Finding::project(
            Code::OPS007,
            "change-record",
            format!(
                "no record of what changed and when: no changelog, release tool or release notes \
                 (it is a service: {evidence})"
            ),
        ));
    }
    let kept =
        |role: Role| !role.is_test_like() && !matches!(role, Role::Vendored | Role::Generated);
    for file in ctx.files.iter().filter(|f| kept(f.role)) {
        let Some(entry) = &file.changelog else {
            continue;
        };
        let dir = file.path.rsplit_once('/').map_or("", |(dir, _)| dir);
        let Some((version, manifest)) = released_version(ctx.cargo, dir) else {
            continue;
        };
        let Ok(recorded) = semver::Version::parse(&entry.version) else {
            continue;
        };
        // Build metadata (`+1.7.2`) has no say in which release is newer.
        if recorded.cmp_precedence(&version).is_lt() {
            out.push(
                Finding::at_site(
                    Code::OPS007,
                    entry.site.clone(),
                    format!(
                        "the newest entry is {recorded}, but {manifest} says {version}: what \
                         {version} changed is not recorded"
                    ),
                )
                .with_fix(format!("add an entry for {version} above this one")),
            );
        }
    }
}

/// The released version of the Cargo.toml in `dir` (its own, or its workspace's through
/// `version.workspace = true`), with the manifest that writes it. A pre-release is work in
/// progress, not a release: `None`.
fn released_version(cargo: &CargoProject, dir: &str) -> Option<(semver::Version, String)> {
    let path = if dir.is_empty() {
        "Cargo.toml".to_string()
    } else {
        format!("{dir}/Cargo.toml")
    };
    let manifest = cargo.manifest_at(&path)?;
    let setting = |manifest: &Manifest, keys: &[&str]| {
        (manifest.settings.iter())
            .find(|s| s.keys == keys)
            .map(|s| s.value.text())
    };
    let inherited =
        setting(manifest, &["package", "version", "workspace"]).as_deref() == Some("true");
    let (text, written_in) = if inherited || manifest.package.is_none() {
        let root = cargo.manifest_at(&match cargo.workspace_root(manifest) {
            "" => "Cargo.toml".to_string(),
            root => format!("{root}/Cargo.toml"),
        })?;
        (setting(root, &["workspace", "package", "version"])?, root)
    } else {
        (setting(manifest, &["package", "version"])?, manifest)
    };
    let version = semver::Version::parse(&text).ok()?;
    version
        .pre
        .is_empty()
        .then(|| (version, written_in.source.path.clone()))
}

/// OPS001: no CODEOWNERS, no OWNERS, no Backstage owner.
fn missing_ownership(ctx: &ProjectContext<'_>, out: &mut Vec<Finding>) {
    let has_codeowners = ctx.subjects.contains_key(&Subject::Codeowners);
    let has_owners_file = ctx.paths.contains("OWNERS") || ctx.paths.contains("OWNERS.md");
    let has_catalog_owner = ctx.files.iter().any(|f| {
        f.yaml.as_ref().is_some_and(|y| y.catalog_owner.is_some()) && !f.path.contains('/')
    });
    if !(has_codeowners || has_owners_file || has_catalog_owner) {
        out.push(Finding::project(
            Code::OPS001,
            "ownership",
            "nobody is named as owner: no CODEOWNERS, OWNERS or catalog-info.yaml with spec.owner",
        ));
    }
}

static OWNER_FORMS: LazyLock<[Regex; 3]> = LazyLock::new(|| {
    [
        // @user
        Regex::new(r"^@[A-Za-z0-9](?:[A-Za-z0-9_.-]*[A-Za-z0-9])?$").unwrap(),
        // @org/team, and GitLab's nested @group/subgroup
        Regex::new(r"^@[A-Za-z0-9][A-Za-z0-9_.-]*(?:/[A-Za-z0-9][A-Za-z0-9_.-]*)+$").unwrap(),
        // email
        Regex::new(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$").unwrap(),
    ]
});

const CATCH_ALL: [&str; 5] = ["*", "**", "/**", "**/*", "/**/*"];

/// Splits a CODEOWNERS line into its pattern and owners (`\ ` escapes a space in a pattern;
/// an unescaped `#` starts a comment).
fn codeowners_entry(line: &str) -> Option<(String, Vec<(usize, &str)>)> {
    let mut pattern = String::new();
    let indent = line.len() - line.trim_start().len();
    let mut chars = line[indent..].char_indices().map(|(i, c)| (i + indent, c));
    let mut end = line.len();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                if let Some((_, next)) = chars.next() {
                    pattern.push(next);
                }
            }
            c if c.is_whitespace() => {
                end = i;
                break;
            }
            c => pattern.push(c),
        }
    }
    if pattern.is_empty() || pattern.starts_with('#') {
        return None;
    }
    let rest = &line[end..];
    let rest_start = end;
    let mut owners = Vec::new();
    let mut offset = 0;
    for token in rest.split_whitespace() {
        let at = rest[offset..].find(token).map_or(offset, |p| p + offset);
        offset = at + token.len();
        if token.starts_with('#') {
            break;
        }
        owners.push((rest_start + at, token));
    }
    Some((pattern, owners))
}

/// OPS002: no catch-all rule, entries without an owner, owners of no known form.
fn codeowners_gaps(ctx: &FileContext<'_>, out: &mut Vec<Finding>) {
    let source = ctx.source;
    let mut has_catch_all = false;
    let mut section_owners = false;
    let mut has_entries = false;
    for line_no in 1..=source.line_count() {
        let range = source.line_range(line_no);
        let line = &source.text[range.clone()];
        let trimmed = line.trim_start();
        // GitLab sections: `[Section]`, `^[Optional]`, `[Section][2] @default-owners`.
        if trimmed.starts_with('[') || trimmed.starts_with("^[") {
            let close = trimmed.rfind(']').map_or(trimmed.len(), |i| i + 1);
            let indent = line.len() - trimmed.len();
            let defaults: Vec<(usize, &str)> = trimmed[close..]
                .split_whitespace()
                .take_while(|t| !t.starts_with('#'))
                .map(|t| (indent + close + trimmed[close..].find(t).unwrap_or(0), t))
                .collect();
            section_owners = !defaults.is_empty();
            check_owner_forms(ctx, range.start, &defaults, out);
            continue;
        }
        let Some((pattern, owners)) = codeowners_entry(line) else {
            continue;
        };
        has_entries = true;
        if CATCH_ALL.contains(&pattern.as_str()) && (!owners.is_empty() || section_owners) {
            has_catch_all = true;
        }
        if owners.is_empty() && !section_owners {
            out.push(
                Finding::on_line(
                    Code::OPS002,
                    source,
                    line_no,
                    format!(
                        "`{}` has no owner: changes to it need nobody's review",
                        source.display(range.clone()).trim()
                    ),
                )
                .with_fix("name an owner (@user, @org/team or an email) after the pattern"),
            );
        }
        check_owner_forms(ctx, range.start, &owners, out);
    }
    if has_entries && !has_catch_all {
        out.push(
            Finding::project(
                Code::OPS002,
                "catch-all",
                "no catch-all `*` rule: files outside the listed patterns have no owner",
            )
            .with_fix("add `* @org/default-team` as the first rule")
            .in_file(&source.path),
        );
    }
    if !has_entries {
        out.push(
            Finding::project(
                Code::OPS002,
                "empty",
                "CODEOWNERS names no owner for any path",
            )
            .with_fix("add `* @org/default-team` as the first rule")
            .in_file(&source.path),
        );
    }
}

fn check_owner_forms(
    ctx: &FileContext<'_>,
    line_start: usize,
    owners: &[(usize, &str)],
    out: &mut Vec<Finding>,
) {
    for &(offset, owner) in owners {
        // GitLab role owners: @@developer, @@maintainer, ...
        let is_role = owner.starts_with("@@") && OWNER_FORMS[0].is_match(&owner[1..]);
        if is_role || OWNER_FORMS.iter().any(|form| form.is_match(owner)) {
            continue;
        }
        let start = line_start + offset;
        out.push(
            Finding::at(
                Code::OPS002,
                ctx.source,
                start..start + owner.len(),
                format!(
                    "`{}` is not an owner: expected @user, @org/team or an email",
                    ctx.source.display(start..start + owner.len())
                ),
            )
            .with_fix("write the owner as @user, @org/team or name@example.com"),
        );
    }
}

/// OPS003: a service without a runbook.
fn missing_runbook(ctx: &ProjectContext<'_>, out: &mut Vec<Finding>) {
    let Some(evidence) = ctx.subjects.get(&Subject::Service) else {
        return;
    };
    if !ctx.subjects.contains_key(&Subject::Runbook) {
        out.push(Finding::project(
            Code::OPS003,
            "runbook",
            format!("this service has no runbook (it is a service: {evidence})"),
        ));
    }
}

#[derive(Deserialize)]
struct RunbookData {
    section: Vec<RunbookSection>,
}

#[derive(Deserialize)]
struct RunbookSection {
    /// How the finding names the section.
    name: String,
    /// Words or phrases; a heading that contains one (as whole words) is this section.
    synonyms: Vec<String>,
}

static RUNBOOK_SECTIONS: LazyLock<Vec<(String, Regex)>> = LazyLock::new(|| {
    let data: RunbookData = Code::OPS004.rule().data();
    data.section
        .into_iter()
        .map(|s| {
            let words: Vec<String> = s.synonyms.iter().map(|w| regex::escape(w)).collect();
            let regex = Regex::new(&format!(r"(?i)\b(?:{})\b", words.join("|")))
                .expect("OPS004 synonyms form a valid regex");
            (s.name, regex)
        })
        .collect()
});

/// OPS004: a runbook that lacks rollback, escalation, failure-mode or deploy/restart sections.
fn runbook_incomplete(ctx: &ProjectContext<'_>, out: &mut Vec<Finding>) {
    // A troubleshooting page is operator documentation, not a whole runbook: it is not asked for
    // a runbook's every section.
    let whole = |r: &crate::project::Runbook| {
        let name = r
            .location
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        !name.starts_with("troubleshooting")
    };
    for runbook in runbooks(ctx.paths).into_iter().filter(whole) {
        let files: Vec<_> = ctx
            .files
            .iter()
            .filter(|f| runbook.files.contains(&f.path))
            .collect();
        let headings: Vec<&str> = files
            .iter()
            .flat_map(|f| f.headings.iter().flatten())
            .map(|h| h.text.as_str())
            .collect();
        let missing: Vec<&str> = RUNBOOK_SECTIONS
            .iter()
            .filter(|(_, regex)| !headings.iter().any(|h| regex.is_match(h)))
            .map(|(name, _)| name.as_str())
            .collect();
        if missing.is_empty() {
            continue;
        }
        let anchor = files
            .iter()
            .find(|f| {
                let name = f
                    .path
                    .rsplit('/')
                    .next()
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                name == "readme.md" || name == "index.md"
            })
            .or(files.first())
            .map_or(runbook.location.clone(), |f| f.path.clone());
        out.push(
            Finding::project(
                Code::OPS004,
                missing.join(","),
                format!(
                    "runbook `{}` has no section for: {}",
                    runbook.location,
                    missing.join(", ")
                ),
            )
            .with_fix(format!("add runbook headings for: {}", missing.join(", ")))
            .in_file(&anchor),
        );
    }
}

/// OPS005: `*` requirements and unpinned git dependencies that no committed lock pins, and
/// workspaces or packages that build a production binary without a committed lock.
fn unpinned_dependencies(ctx: &ProjectContext<'_>, manifest: &Manifest, out: &mut Vec<Finding>) {
    // A committed lock keeps the resolved version or commit until `cargo update`: the build
    // is reproducible. It is read only for a dependency it could pin.
    let lock = || ctx.cargo.lock_for(manifest);
    let locked = |package: &str| lock().is_some_and(|l| l.pins(package));
    for dep in manifest.all_dependencies() {
        // Built from the tree; a dependency only for other operating systems never goes into
        // a service built for Linux.
        if dep.path
            || dep
                .platform
                .as_deref()
                .is_some_and(|p| !platform::may_be_linux(p))
        {
            continue;
        }
        if let Some((version, span)) = &dep.version
            && version.trim() == "*"
            && !locked(&dep.package)
        {
            out.push(
                Finding::at(
                    Code::OPS005,
                    &manifest.source,
                    span.clone(),
                    format!(
                        "`{}` accepts any version (`*`) and no committed Cargo.lock pins it",
                        dep.key
                    ),
                )
                .with_fix(format!(
                    "require a version range, e.g. `{} = \"1\"`",
                    dep.key
                )),
            );
        }
        if dep.git.is_some() && !dep.git_pinned && !lock().is_some_and(|l| l.pins_git(&dep.package))
        {
            out.push(unpinned_git(manifest, dep));
        }
    }
    if ctx.cargo.workspace_root(manifest) != manifest.dir
        || ctx.cargo.locks.contains_key(&manifest.dir)
    {
        return;
    }
    if let Some(message) = lock_needed(ctx, manifest) {
        let span = match (&manifest.workspace, &manifest.package) {
            (Some(w), _) => w.span.clone(),
            (None, Some(p)) => p.span.clone(),
            (None, None) => return,
        };
        out.push(
            Finding::at(Code::OPS005, &manifest.source, span, message)
                .with_fix("run `cargo generate-lockfile` and commit Cargo.lock"),
        );
    }
}

/// What needs a lock at a workspace root (or a package of its own): a production binary among
/// its packages. A library's dependents resolve their own versions, so a library (or a
/// workspace of libraries and examples) without a lock is Cargo's own advice, not a gap.
fn lock_needed(ctx: &ProjectContext<'_>, root: &Manifest) -> Option<String> {
    let binary = ctx.cargo.manifests().iter().find(|m| {
        m.role == Role::Production
            && m.package.as_ref().is_some_and(|p| p.has_bin)
            && (m.dir == root.dir || ctx.cargo.workspace_root(m) == root.dir)
    })?;
    let resolves = "every build may resolve different versions";
    Some(match &root.workspace {
        Some(_) if binary.dir != root.dir => {
            let name = binary.package.as_ref().map_or("", |p| p.name.as_str());
            format!("workspace without a committed Cargo.lock builds binary `{name}`: {resolves}")
        }
        Some(_) => format!("workspace without a committed Cargo.lock: {resolves}"),
        None => format!("binary package without a committed Cargo.lock: {resolves}"),
    })
}

fn unpinned_git(manifest: &Manifest, dep: &Dependency) -> Finding {
    Finding::at(
        Code::OPS005,
        &manifest.source,
        dep.span.clone(),
        format!(
            "git dependency `{}` follows a branch, not a `rev` or `tag`, and no committed Cargo.lock pins its commit",
            dep.key
        ),
    )
    .with_fix(format!(
        "pin `{}` with `rev = \"<commit>\"` or `tag = \"<tag>\"`, or commit Cargo.lock",
        dep.key
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codeowners_entries_split_patterns_owners_and_comments() {
        let (pattern, owners) = codeowners_entry("docs/my\\ file.md  @a @org/team # note").unwrap();
        assert_eq!(pattern, "docs/my file.md");
        assert_eq!(
            owners.iter().map(|o| o.1).collect::<Vec<_>>(),
            ["@a", "@org/team"]
        );
        assert_eq!(owners[0].0, 18);
        assert!(codeowners_entry("# comment").is_none());
        assert!(codeowners_entry("   ").is_none());
    }

    #[test]
    fn owner_forms() {
        let ok = |o: &str| OWNER_FORMS.iter().any(|f| f.is_match(o));
        assert!(ok("@octocat") && ok("@acme/payments-team") && ok("@group/sub/team"));
        assert!(ok("ops@example.com"));
        assert!(!ok("payments-team") && !ok("@") && !ok("@team/") && !ok("ops@localhost"));
    }
}
