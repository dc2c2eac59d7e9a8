//! Records of what changed and when: changelogs and their newest released entry, release tool
//! configuration, and CI steps that publish release notes.

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use super::markdown::Heading;
use crate::finding::Site;
use crate::source::Source;

/// File stems of a change record, whatever their case: `CHANGELOG.md`, `CHANGES.rst`,
/// `HISTORY`, `RELEASES.md`, `RELEASE_NOTES.md`, `NEWS`.
const RECORD_STEMS: [&str; 8] = [
    "changelog",
    "changes",
    "history",
    "releases",
    "release-notes",
    "release_notes",
    "releasenotes",
    "news",
];

/// What a change record is written in (`""`: no extension).
const RECORD_EXTENSIONS: [&str; 8] = [
    "", "md", "markdown", "mdx", "rst", "adoc", "asciidoc", "txt",
];

/// Folders of change fragments that a release tool turns into the changelog: changesets,
/// towncrier, and `changelog/` fragment folders.
const FRAGMENT_FOLDERS: [&str; 3] = [".changeset", "changelog.d", "changelog"];

/// Release tool configuration at the root: release-plz, cargo-release, git-cliff, cargo-dist,
/// release-please, release-drafter, GitHub's generated release notes, GoReleaser.
pub const RELEASE_TOOL_FILES: [&str; 13] = [
    "release-plz.toml",
    ".release-plz.toml",
    "release.toml",
    "cliff.toml",
    "dist-workspace.toml",
    "release-please-config.json",
    ".release-please-manifest.json",
    ".github/release-drafter.yml",
    ".github/release-drafter.yaml",
    ".github/release.yml",
    ".github/release.yaml",
    ".goreleaser.yml",
    ".goreleaser.yaml",
];

/// Release tool tables of a Cargo.toml (cargo-release, cargo-dist, release-plz).
pub const RELEASE_TOOL_TABLES: [[&str; 3]; 5] = [
    ["package", "metadata", "release"],
    ["workspace", "metadata", "release"],
    ["package", "metadata", "dist"],
    ["workspace", "metadata", "dist"],
    ["workspace", "metadata", "release-plz"],
];

/// CI steps that publish release notes: GitHub release actions, `gh release create`, GitLab's
/// `release-cli`, and the tools that write notes from commits or fragments.
const RELEASE_NOTE_STEPS: [&str; 14] = [
    "softprops/action-gh-release",
    "ncipollo/release-action",
    "actions/create-release",
    "taiki-e/create-gh-release-action",
    "release-drafter/release-drafter",
    "release-please-action",
    "orhun/git-cliff-action",
    "changesets/action",
    "release-plz/action",
    "gh release create",
    "generate_release_notes",
    "release-cli",
    "dist host",
    "goreleaser/goreleaser-action",
];

/// The newest released entry of a changelog.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Changelog {
    /// Its version, as written (`1.4.0`).
    pub version: String,
    /// Its heading.
    pub site: Site,
}

/// Whether `path` is a change record: a changelog-named document, or a fragment in a folder
/// a release tool reads.
pub fn is_change_record(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    let mut parts: Vec<&str> = lower.split('/').collect();
    let name = parts.pop().unwrap_or_default();
    let (stem, extension) = name.split_once('.').unwrap_or((name, ""));
    let document = RECORD_EXTENSIONS.contains(&extension);
    // Tools name their fragments as they like (towncrier's `123.bugfix`); a plain `changelog/`
    // folder holds documents (not `src/changelog/mod.rs`, nor Liquibase's XML).
    let fragment = parts.iter().any(|dir| match *dir {
        "changelog" => document,
        dir => FRAGMENT_FOLDERS.contains(&dir),
    });
    fragment || (RECORD_STEMS.contains(&stem) && document)
}

/// Whether `path` is a changelog document whose headings name versions (not a fragment).
pub fn is_changelog_document(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    let name = lower.rsplit('/').next().unwrap_or_default();
    let stem = name.split('.').next().unwrap_or_default();
    is_change_record(path) && RECORD_STEMS.contains(&stem)
}

static VERSION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^|[^\w.])[vV]?(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?)\b")
        .unwrap()
});

static NOT_RELEASED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:unreleased|upcoming|unpublished|not yet released|in progress|tbd|tba)\b")
        .unwrap()
});

/// A changelog whose head says it is not kept up to date, or that the record lives elsewhere.
static RETIRED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:changelog|this file)[^\n]{0,40}(?:no longer|not) (?:updated|maintained|kept)|(?:see|use|using|refer to|track(?:ed)?|moved to|published)[^\n]{0,60}github\s+releases").unwrap()
});

/// What a changelog says before its entries: its first 2,000 bytes.
fn head(text: &str) -> &str {
    let mut end = text.len().min(2000);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The highest version a changelog's headings name (each heading's first), leaving out entries
/// marked unreleased (`## [1.4.0] - Unreleased`) and headings that list versions (yanked
/// releases): the newest released entry, whichever order the file keeps. A changelog whose head
/// says it is retired (`this changelog is no longer updated`, `see GitHub Releases`) has none.
pub fn newest_entry(source: &Source, headings: &[Heading]) -> Option<Changelog> {
    if RETIRED.is_match(head(&source.text)) {
        return None;
    }
    let mut newest: Option<(semver::Version, &Heading, String)> = None;
    for heading in headings {
        if NOT_RELEASED.is_match(&heading.text) {
            continue;
        }
        // A list of versions (`0.2.2 through 0.2.8, 0.3.0, 0.4.0`) is not an entry; a second
        // version in a heading is something else (`1.4.0 - MSRV 1.70.0`).
        let versions: Vec<_> = (VERSION.captures_iter(&heading.text))
            .filter_map(|c| c.get(1))
            .take(3)
            .collect();
        let [found, ..] = versions[..] else {
            continue;
        };
        if versions.len() > 2 {
            continue;
        }
        let Ok(version) = semver::Version::parse(found.as_str()) else {
            continue;
        };
        if newest.as_ref().is_none_or(|(best, ..)| version > *best) {
            newest = Some((version, heading, found.as_str().to_string()));
        }
    }
    newest.map(|(_, heading, version)| Changelog {
        version,
        site: source.site(source.line_range(heading.line)),
    })
}

/// Of a CI configuration file: the line that shows releases are published, either a trigger
/// that cuts them (`on: push: tags:`, `on: release:`, before `jobs:`) or a step that publishes
/// release notes. GitHub keeps a release page for each, with its notes and its diff.
pub fn release_step(path: &str, text: &str) -> Option<usize> {
    let is_ci = (path.starts_with(".github/workflows/")
        && (path.ends_with(".yml") || path.ends_with(".yaml")))
        || path == ".gitlab-ci.yml"
        || path == ".circleci/config.yml";
    if !is_ci {
        return None;
    }
    let github = path.starts_with(".github/");
    let mut triggers = github;
    let line = text.lines().position(|line| {
        let trimmed = line.trim_start();
        if line.starts_with("jobs:") {
            triggers = false;
        }
        let trigger = triggers
            && (trimmed.starts_with("tags:")
                || trimmed.starts_with("release:")
                || (line.starts_with("on:") && trimmed.contains("release")));
        !trimmed.starts_with('#')
            && (trigger || RELEASE_NOTE_STEPS.iter().any(|step| trimmed.contains(step)))
    })?;
    Some(line + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn heading(line: usize, text: &str) -> Heading {
        Heading {
            line,
            text: text.to_string(),
        }
    }

    #[test]
    fn change_records_are_named_documents_and_fragment_folders() {
        for path in [
            "CHANGELOG.md",
            "crates/api/CHANGES.rst",
            "HISTORY",
            "docs/RELEASE_NOTES.md",
            ".changeset/brave-cats.md",
            "changelog.d/123.fixed",
        ] {
            assert!(is_change_record(path), "{path}");
        }
        for path in [
            "src/changes.rs",
            "src/history/mod.rs",
            "CHANGELOG.json",
            "docs/changes-to-auth.md",
            "src/changelog/mod.rs",
            "db/changelog/master.xml",
        ] {
            assert!(!is_change_record(path), "{path}");
        }
        assert!(!is_changelog_document(".changeset/brave-cats.md"));
    }

    #[test]
    fn the_newest_released_entry_is_the_highest_version_not_marked_unreleased() {
        let text = "# Changelog\n## [Unreleased]\n## [2.0.0] - unreleased\n## [1.10.0] - 2026-01-02\n## v1.9.3\n";
        let source = Source::new("CHANGELOG.md".to_string(), text.to_string());
        let headings = [
            heading(1, "Changelog"),
            heading(2, "[Unreleased]"),
            heading(3, "[2.0.0] - unreleased"),
            heading(4, "[1.10.0] - 2026-01-02"),
            heading(5, "v1.9.3"),
        ];
        let newest = newest_entry(&source, &headings).unwrap();
        assert_eq!(
            (newest.version.as_str(), newest.site.span.start_line),
            ("1.10.0", 4)
        );
        // Oldest first, as some projects keep it.
        let reversed: Vec<Heading> = headings.iter().rev().cloned().collect();
        assert_eq!(newest_entry(&source, &reversed).unwrap().version, "1.10.0");
        assert!(newest_entry(&source, &[heading(1, "Changelog")]).is_none());
        let yanked = [heading(1, "0.2.2 through 0.2.8, 0.3.0")];
        assert!(newest_entry(&source, &yanked).is_none());
        let msrv = [heading(1, "1.4.0 - MSRV 1.70.0")];
        assert_eq!(newest_entry(&source, &msrv).unwrap().version, "1.4.0");
        let elsewhere =
            "We track releases and notes using [GitHub\nReleases](https://x).\n## 1.0.0\n";
        let elsewhere = Source::new("CHANGELOG.md".to_string(), elsewhere.to_string());
        assert!(newest_entry(&elsewhere, &[heading(3, "1.0.0")]).is_none());
        let retired = "This CHANGELOG is no longer updated.\n## 1.0.0\n";
        let retired = Source::new("CHANGELOG.md".to_string(), retired.to_string());
        assert!(newest_entry(&retired, &[heading(2, "1.0.0")]).is_none());
    }

    #[test]
    fn release_steps_are_found_in_ci_files_only() {
        let workflow = "on: push\n# uses: softprops/action-gh-release\njobs:\n  r:\n    steps:\n      - uses: softprops/action-gh-release@v2\n";
        assert_eq!(
            release_step(".github/workflows/release.yml", workflow),
            Some(6)
        );
        assert_eq!(release_step("deploy/release.yml", workflow), None);
        let ci = "on:\n  push:\n    branches: [main]\njobs:\n  t:\n    steps:\n      - run: echo tags:\n";
        assert_eq!(release_step(".github/workflows/ci.yml", ci), None);
    }

    #[test]
    fn version_tag_and_release_triggers_publish_releases() {
        let tagged = "name: build\non:\n  push:\n    tags:\n      - 'v*'\njobs:\n  b: {}\n";
        assert_eq!(release_step(".github/workflows/build.yml", tagged), Some(4));
        let published = "on:\n  release:\n    types: [published]\njobs: {}\n";
        assert_eq!(
            release_step(".github/workflows/assets.yml", published),
            Some(2)
        );
        assert_eq!(
            release_step(".github/workflows/a.yml", "on: [release]\njobs: {}\n"),
            Some(1)
        );
    }
}
