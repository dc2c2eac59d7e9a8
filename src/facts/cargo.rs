//! Cargo manifests and lock files, read directly (cargo is never run): packages, their targets,
//! their dependencies (renames resolved), and workspaces with their member globs.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Range;
use std::sync::OnceLock;

use globset::{Glob, GlobSet, GlobSetBuilder};
use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::roles::{self, Role};
use crate::source::Source;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DepKind {
    Normal,
    Dev,
    Build,
}

/// One dependency declaration.
#[derive(Debug, Clone)]
pub struct Dependency {
    /// The name the code uses (the key in the manifest).
    pub key: String,
    /// The crate's real name (`package = "..."` when renamed).
    pub package: String,
    pub kind: DepKind,
    /// The version requirement and its byte range, if one is written here.
    pub version: Option<(String, Range<usize>)>,
    pub git: Option<String>,
    /// `rev` or `tag` pins the git source.
    pub git_pinned: bool,
    pub path: bool,
    /// `dep.workspace = true`: the declaration lives in `[workspace.dependencies]`.
    pub inherited: bool,
    pub features: Vec<String>,
    /// The platform of a `[target.<platform>.*dependencies]` table: a `cfg(..)` expression
    /// or a target triple.
    pub platform: Option<String>,
    /// Byte range of the declaration's key.
    pub span: Range<usize>,
}

#[derive(Debug, Clone)]
pub struct Package {
    pub name: String,
    pub has_bin: bool,
    pub has_lib: bool,
    /// `publish = false` (or `publish = []`): never published, kept for this repository's use.
    pub unpublished: bool,
    /// `[package.metadata] cargo-fuzz = true`: a cargo-fuzz package.
    pub fuzz: bool,
    /// `[lib]` or `[[bin]]` tables: targets may live at paths of their own choosing.
    pub custom_targets: bool,
    /// Byte range of the `[package]` header.
    pub span: Range<usize>,
}

#[derive(Debug, Clone)]
pub struct Workspace {
    pub members: Vec<String>,
    pub exclude: Vec<String>,
    /// `[workspace.dependencies]`.
    pub dependencies: Vec<Dependency>,
    pub span: Range<usize>,
}

/// A parsed Cargo.toml.
pub struct Manifest {
    pub source: Source,
    /// Folder of the manifest relative to the audited root (`""` at the root).
    pub dir: String,
    pub package: Option<Package>,
    pub workspace: Option<Workspace>,
    pub dependencies: Vec<Dependency>,
    /// What the package is to the project (see `CargoProject::package_role`); set when the
    /// project is built, from the manifest's path and how the other packages use it.
    pub role: Role,
    /// Every setting of the manifest, for the rules that read configuration keys (so that the
    /// manifest is parsed once).
    pub settings: Vec<crate::facts::settings::Setting>,
    /// Its renamed dependencies (`crate_renames`); set when the project is built.
    renames: Vec<(String, String)>,
    /// The package of each dependency, `[workspace.dependencies]` resolved, in `dependencies`
    /// order (`dependency_packages`); set when the project is built.
    packages: Vec<String>,
}

impl Manifest {
    /// Parses a Cargo.toml. `files` is every scanned path, to find implicit targets
    /// (`src/main.rs`, `src/bin/`, `src/lib.rs`).
    pub fn parse(source: Source, files: &BTreeSet<String>) -> Result<Manifest, String> {
        let table = DeTable::parse(&source.text).map_err(|e| e.message().to_string())?;
        let (package, workspace, dependencies) = extract(table.get_ref(), &source.path, files)?;
        let settings = crate::facts::settings::from_toml(table.get_ref());
        let dir = source
            .path
            .rsplit_once('/')
            .map_or(String::new(), |(d, _)| d.to_string());
        let source_path = source.path.clone();
        Ok(Manifest {
            source,
            dir,
            package,
            workspace,
            dependencies,
            role: roles::of_path(&source_path),
            settings,
            renames: Vec::new(),
            packages: Vec::new(),
        })
    }

    /// The package each of its dependencies names (`[workspace.dependencies]` resolved), in the
    /// order of `dependencies`, as the project built it (`CargoProject::new`).
    pub fn dependency_packages(&self) -> &[String] {
        &self.packages
    }

    /// Its renamed dependencies, as code sees them: `(key, package)`, both with `-` written `_`
    /// (`http = { package = "reqwest" }` gives `http` -> `reqwest`), as the project built them.
    pub fn crate_renames(&self) -> &[(String, String)] {
        &self.renames
    }

    /// Every dependency declared here, including `[workspace.dependencies]`.
    pub fn all_dependencies(&self) -> impl Iterator<Item = &Dependency> {
        self.dependencies
            .iter()
            .chain(self.workspace.iter().flat_map(|w| w.dependencies.iter()))
    }
}

type Parts = (Option<Package>, Option<Workspace>, Vec<Dependency>);

fn get<'a, 'i>(table: &'a DeTable<'i>, key: &str) -> Option<&'a Spanned<DeValue<'i>>> {
    table
        .iter()
        .find(|(k, _)| k.get_ref().as_ref() == key)
        .map(|(_, v)| v)
}

fn key_span(table: &DeTable<'_>, key: &str) -> Option<Range<usize>> {
    table
        .iter()
        .find(|(k, _)| k.get_ref().as_ref() == key)
        .map(|(k, _)| k.span())
}

fn str_of<'a>(table: &'a DeTable<'_>, key: &str) -> Option<&'a str> {
    get(table, key).and_then(|v| v.get_ref().as_str())
}

fn strings(table: &DeTable<'_>, key: &str) -> Vec<String> {
    get(table, key)
        .and_then(|v| v.get_ref().as_array())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.get_ref().as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn extract(root: &DeTable<'_>, path: &str, files: &BTreeSet<String>) -> Result<Parts, String> {
    let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
    let in_dir = |rel: &str| {
        if dir.is_empty() {
            rel.to_string()
        } else {
            format!("{dir}/{rel}")
        }
    };
    let package = match get(root, "package") {
        Some(value) => {
            let table = value
                .get_ref()
                .as_table()
                .ok_or("`package` is not a table")?;
            let name = str_of(table, "name").unwrap_or_default().to_string();
            let autobins =
                get(table, "autobins").and_then(|v| v.get_ref().as_bool()) != Some(false);
            let explicit_bins = get(root, "bin")
                .and_then(|v| v.get_ref().as_array())
                .is_some_and(|a| !a.is_empty());
            let bin_dir = in_dir("src/bin/");
            let implicit_bin = autobins
                && (files.contains(&in_dir("src/main.rs"))
                    || files
                        .range(bin_dir.clone()..)
                        .next()
                        .is_some_and(|f| f.starts_with(&bin_dir) && f.ends_with(".rs")));
            let has_lib = get(root, "lib").is_some() || files.contains(&in_dir("src/lib.rs"));
            let unpublished = get(table, "publish").is_some_and(|v| match v.get_ref() {
                DeValue::Boolean(publish) => !publish,
                DeValue::Array(registries) => registries.is_empty(),
                _ => false,
            });
            let fuzz = get(table, "metadata")
                .and_then(|m| m.get_ref().as_table())
                .and_then(|m| get(m, "cargo-fuzz"))
                .and_then(|f| f.get_ref().as_bool())
                == Some(true);
            Some(Package {
                name,
                has_bin: explicit_bins || implicit_bin,
                has_lib,
                unpublished,
                fuzz,
                custom_targets: explicit_bins || get(root, "lib").is_some(),
                span: key_span(root, "package").unwrap_or(0..0),
            })
        }
        None => None,
    };
    let workspace = match get(root, "workspace") {
        Some(value) => {
            let table = value
                .get_ref()
                .as_table()
                .ok_or("`workspace` is not a table")?;
            let dependencies = get(table, "dependencies")
                .and_then(|d| d.get_ref().as_table())
                .map(|d| dependency_table(d, DepKind::Normal))
                .unwrap_or_default();
            Some(Workspace {
                members: strings(table, "members"),
                exclude: strings(table, "exclude"),
                dependencies,
                span: key_span(root, "workspace").unwrap_or(0..0),
            })
        }
        None => None,
    };
    let mut dependencies = Vec::new();
    collect_dependency_tables(root, None, &mut dependencies);
    if let Some(targets) = get(root, "target").and_then(|t| t.get_ref().as_table()) {
        for (platform, target) in targets.iter() {
            if let Some(target) = target.get_ref().as_table() {
                let platform = platform.get_ref().to_string();
                collect_dependency_tables(target, Some(&platform), &mut dependencies);
            }
        }
    }
    Ok((package, workspace, dependencies))
}

fn collect_dependency_tables(
    table: &DeTable<'_>,
    platform: Option<&str>,
    out: &mut Vec<Dependency>,
) {
    for (key, kind) in [
        ("dependencies", DepKind::Normal),
        ("dev-dependencies", DepKind::Dev),
        ("dev_dependencies", DepKind::Dev),
        ("build-dependencies", DepKind::Build),
        ("build_dependencies", DepKind::Build),
    ] {
        if let Some(deps) = get(table, key).and_then(|d| d.get_ref().as_table()) {
            out.extend(
                dependency_table(deps, kind)
                    .into_iter()
                    .map(|dep| Dependency {
                        platform: platform.map(String::from),
                        ..dep
                    }),
            );
        }
    }
}

fn dependency_table(table: &DeTable<'_>, kind: DepKind) -> Vec<Dependency> {
    let mut out = Vec::new();
    for (key, value) in table.iter() {
        let name = key.get_ref().to_string();
        let mut dep = Dependency {
            key: name.clone(),
            package: name,
            kind,
            version: None,
            git: None,
            git_pinned: false,
            path: false,
            inherited: false,
            features: Vec::new(),
            platform: None,
            span: key.span(),
        };
        match value.get_ref() {
            DeValue::String(version) => dep.version = Some((version.to_string(), value.span())),
            DeValue::Table(detail) => {
                if let Some(package) = str_of(detail, "package") {
                    dep.package = package.to_string();
                }
                if let Some(version) = get(detail, "version")
                    && let Some(text) = version.get_ref().as_str()
                {
                    dep.version = Some((text.to_string(), version.span()));
                }
                dep.git = str_of(detail, "git").map(str::to_string);
                dep.git_pinned = get(detail, "rev").is_some() || get(detail, "tag").is_some();
                dep.path = get(detail, "path").is_some();
                dep.inherited =
                    get(detail, "workspace").and_then(|v| v.get_ref().as_bool()) == Some(true);
                dep.features = strings(detail, "features");
            }
            _ => {}
        }
        out.push(dep);
    }
    out
}

/// Cargo.lock: which version and source each package resolved to.
#[derive(Debug, Default, Deserialize)]
pub struct Lockfile {
    #[serde(default, rename = "package")]
    pub packages: Vec<LockedPackage>,
}

#[derive(Debug, Deserialize)]
pub struct LockedPackage {
    pub name: String,
    pub version: String,
    pub source: Option<String>,
}

/// A committed Cargo.lock, parsed the first time anything asks what it holds: an audit asks
/// of few locks, and a re-audit whose cache holds the lock's own findings may ask of none.
pub struct Lock {
    text: std::sync::Arc<str>,
    read: OnceLock<(Lockfile, Option<String>)>,
}

impl Lock {
    pub fn new(text: std::sync::Arc<str>) -> Lock {
        Lock {
            text,
            read: OnceLock::new(),
        }
    }

    /// What it pins: nothing when it does not parse (it still exists: `CargoProject::locks`).
    pub fn lockfile(&self) -> &Lockfile {
        &self.read().0
    }

    /// Why it does not parse, if it does not.
    pub fn parse_error(&self) -> Option<&str> {
        self.read().1.as_deref()
    }

    fn read(&self) -> &(Lockfile, Option<String>) {
        self.read.get_or_init(|| match Lockfile::parse(&self.text) {
            Ok(lock) => (lock, None),
            Err(reason) => (Lockfile::default(), Some(reason)),
        })
    }
}

impl Lockfile {
    pub fn parse(text: &str) -> Result<Lockfile, String> {
        toml::from_str(text).map_err(|e| e.message().to_string())
    }

    /// Whether the lock pins a git dependency to a commit.
    pub fn pins_git(&self, package: &str) -> bool {
        self.packages.iter().any(|p| {
            p.name == package
                && p.source
                    .as_deref()
                    .is_some_and(|s| s.starts_with("git+") && s.contains('#'))
        })
    }

    /// Whether the lock resolves a package from a registry or a git source (a version or a
    /// commit that `cargo build` keeps until `cargo update`).
    pub fn pins(&self, package: &str) -> bool {
        self.packages
            .iter()
            .any(|p| p.name == package && p.source.is_some())
    }

    pub fn versions(&self, package: &str) -> Vec<&str> {
        self.packages
            .iter()
            .filter(|p| p.name == package)
            .map(|p| p.version.as_str())
            .collect()
    }
}

/// Words in a binary package's name that say it is a tool beside the service.
const TOOL_NAMES: [&str; 8] = [
    "cli",
    "migrat",
    "tool",
    "generator",
    "codegen",
    "seed",
    "bench",
    "example",
];

/// Every manifest and lock file of the audited tree, and how they relate.
#[derive(Default)]
pub struct CargoProject {
    /// Sorted by path; fixed once built (`package_dirs` indexes it).
    manifests: Vec<Manifest>,
    /// Lock files by folder (`""` at the root).
    pub locks: BTreeMap<String, Lock>,
    /// The position in `manifests` of each package manifest, by its folder.
    package_dirs: HashMap<String, usize>,
    /// The workspace root folder of each manifest, in `manifests` order (`workspace_root`).
    roots: Vec<String>,
}

impl CargoProject {
    pub fn new(mut manifests: Vec<Manifest>, locks: BTreeMap<String, Lock>) -> CargoProject {
        manifests.sort_by(|a, b| a.source.path.cmp(&b.source.path));
        let package_dirs = manifests
            .iter()
            .enumerate()
            .filter(|(_, m)| m.package.is_some())
            .map(|(i, m)| (m.dir.clone(), i))
            .collect();
        let roots = workspace_roots(&manifests);
        let mut project = CargoProject {
            manifests,
            locks,
            package_dirs,
            roots,
        };
        let roles = project.package_roles();
        // Resolved once here: the per-file checks ask for every file.
        let packages: Vec<Vec<String>> = (project.manifests.iter())
            .map(|m| {
                let resolved = m.dependencies.iter().map(|d| project.resolve(m, d));
                resolved.map(|d| d.package.clone()).collect()
            })
            .collect();
        for ((manifest, role), packages) in project.manifests.iter_mut().zip(roles).zip(packages) {
            manifest.role = role;
            manifest.renames = (manifest.dependencies.iter().zip(&packages))
                .filter(|(d, package)| d.key != **package)
                .map(|(d, package)| (d.key.replace('-', "_"), package.replace('-', "_")))
                .collect();
            manifest.packages = packages;
        }
        project
    }

    /// What each package is to the project, beyond its path:
    /// - development tooling: an `xtask`, or a binary named for a tool (`*-cli`, `*ctl`,
    ///   `migration-tool`, `openapi-generator`) that no server framework makes a service;
    /// - test code: a cargo-fuzz package, a library named for testing;
    /// - and, settled over the workspace's dependency graph, an unpublished library that only
    ///   packages of another role depend on (or only dev-dependencies reach) takes their role;
    ///   an unpublished program that only dev-dependencies reach, and that does not serve while
    ///   another package does, is test code (a test harness with a command line). A published
    ///   library has users outside the workspace: it stays production.
    fn package_roles(&self) -> Vec<Role> {
        let mut roles: Vec<Role> = self.manifests.iter().map(|m| self.own_role(m)).collect();
        // A binary named for a tool is the service's companion when some other package serves;
        // in a project that is only a tool, it is the product.
        let tools: Vec<bool> = self.manifests.iter().map(|m| self.tool_binary(m)).collect();
        let served_elsewhere = (self.manifests.iter().zip(&roles).zip(&tools))
            .any(|((m, role), tool)| *role == Role::Production && !tool && self.serves(m));
        if served_elsewhere {
            for (role, tool) in roles.iter_mut().zip(&tools) {
                if *tool && *role == Role::Production {
                    *role = Role::Tooling;
                }
            }
        }
        let index: HashMap<&str, usize> = (self.manifests.iter().enumerate())
            .filter_map(|(i, m)| Some((m.package.as_ref()?.name.as_str(), i)))
            .collect();
        // Who depends on each package, and how.
        let mut users: Vec<Vec<(usize, DepKind)>> = vec![Vec::new(); self.manifests.len()];
        for (i, manifest) in self.manifests.iter().enumerate() {
            for dep in &manifest.dependencies {
                if let Some(&j) = index.get(self.resolve(manifest, dep).package.as_str()) {
                    users[j].push((i, dep.kind));
                }
            }
        }
        loop {
            let mut changed = false;
            for j in 0..roles.len() {
                let Some(package) = &self.manifests[j].package else {
                    continue;
                };
                if roles[j] != Role::Production || !package.unpublished || users[j].is_empty() {
                    continue;
                }
                let used_in: BTreeSet<Role> = users[j]
                    .iter()
                    .filter(|(_, kind)| *kind != DepKind::Dev)
                    .map(|(i, _)| roles[*i])
                    .collect();
                if package.has_bin {
                    // A program whose library only tests reach, beside the service: a test
                    // harness with a command line (`local-cluster-runner`).
                    if used_in.is_empty() && served_elsewhere && !self.serves(&self.manifests[j]) {
                        roles[j] = Role::Test;
                        changed = true;
                    }
                    continue;
                }
                let role = if used_in.is_empty() {
                    Role::Test
                } else if used_in.contains(&Role::Production) {
                    continue;
                } else if used_in.iter().all(|r| r.is_test_like()) {
                    Role::Test
                } else {
                    Role::Tooling
                };
                roles[j] = role;
                changed = true;
            }
            if !changed {
                return roles;
            }
        }
    }

    /// A package's role from itself: its path, its name, its metadata.
    fn own_role(&self, manifest: &Manifest) -> Role {
        let Some(package) = &manifest.package else {
            return manifest.role;
        };
        if manifest.role != Role::Production {
            return manifest.role;
        }
        let name = package.name.to_ascii_lowercase();
        let fuzzes = (manifest.dependencies.iter())
            .any(|d| matches!(d.package.as_str(), "libfuzzer-sys" | "afl" | "honggfuzz"));
        if package.fuzz || fuzzes {
            return Role::Test;
        }
        // Test support by its name's words (`kanidmd_testkit`, `test-utils`, `mock-server`), not
        // substrings (`attestation`); published or not, its users run it in their tests.
        let named_for_tests = (name.split(['-', '_'])).any(|word| {
            ["test", "mock", "fixture"]
                .iter()
                .any(|w| word.starts_with(w))
        });
        if !package.has_bin && named_for_tests {
            return Role::Test;
        }
        if name == "xtask" || name.ends_with("xtask") {
            return Role::Tooling;
        }
        Role::Production
    }

    /// A binary package named for a tool: `*-cli`, `*ctl`, `migration-tool`, a generator.
    fn tool_binary(&self, manifest: &Manifest) -> bool {
        manifest.package.as_ref().is_some_and(|package| {
            let name = package.name.to_ascii_lowercase();
            package.has_bin
                && (TOOL_NAMES.iter().any(|w| name.contains(w)) || name.ends_with("ctl"))
        })
    }

    /// Whether a package depends on a server framework (not as a dev-dependency).
    fn serves(&self, manifest: &Manifest) -> bool {
        manifest.dependencies.iter().any(|d| {
            let d = self.resolve(manifest, d);
            d.kind != DepKind::Dev
                && crate::project::SERVER_FRAMEWORKS.contains(&d.package.as_str())
        })
    }

    /// Every manifest, sorted by path.
    pub fn manifests(&self) -> &[Manifest] {
        &self.manifests
    }

    /// The manifest read from `path`, if it parsed.
    pub fn manifest_at(&self, path: &str) -> Option<&Manifest> {
        self.manifests
            .binary_search_by(|m| m.source.path.as_str().cmp(path))
            .ok()
            .map(|i| &self.manifests[i])
    }

    /// The package manifest in folder `dir` (`""` at the root), if there is one.
    pub fn package_in(&self, dir: &str) -> Option<&Manifest> {
        self.package_dirs.get(dir).map(|&i| &self.manifests[i])
    }

    /// The folder of the workspace root a manifest belongs to: the nearest manifest at or above
    /// it with a `[workspace]` whose members match it, or the manifest itself.
    pub fn workspace_root<'a>(&'a self, manifest: &'a Manifest) -> &'a str {
        let index = (self.manifests)
            .binary_search_by(|m| m.source.path.as_str().cmp(&manifest.source.path));
        index.map_or(manifest.dir.as_str(), |i| self.roots[i].as_str())
    }

    /// The lock file that governs a manifest, if it is in the tree.
    pub fn lock_for(&self, manifest: &Manifest) -> Option<&Lockfile> {
        let lock = self.locks.get(self.workspace_root(manifest))?;
        Some(lock.lockfile())
    }

    /// The package manifest a file belongs to: the nearest one in a folder above it.
    pub fn manifest_for(&self, path: &str) -> Option<&Manifest> {
        self.packages_above(path).next()
    }

    /// The package manifests in the folders above `path`, the nearest first (the root's last).
    pub fn packages_above<'a>(&'a self, path: &str) -> impl Iterator<Item = &'a Manifest> {
        // `a/b/x.rs` gives `a/b`, `a`, then the root.
        let folders = std::iter::successors(Some(path), |dir| {
            dir.rsplit_once('/').map(|(parent, _)| parent)
        })
        .skip(1)
        .chain([""]);
        folders.filter_map(|dir| self.package_in(dir))
    }

    /// The crate renames (`Manifest::crate_renames`) of the package a file belongs to; none
    /// outside a package.
    pub fn crate_renames_of(&self, path: &str) -> &[(String, String)] {
        (self.manifest_for(path)).map_or(&[], Manifest::crate_renames)
    }

    /// Every key under which some manifest renames a dependency.
    pub fn rename_keys(&self) -> impl Iterator<Item = &str> {
        (self.manifests.iter()).flat_map(|m| m.renames.iter().map(|(key, _)| key.as_str()))
    }

    /// Whether a production package depends (not as a dev-dependency) on a crate.
    pub fn depends_on(&self, package: &str) -> Option<&Manifest> {
        self.production_manifests().find(|m| {
            m.dependencies
                .iter()
                .map(|d| self.resolve(m, d))
                .any(|d| d.kind != DepKind::Dev && d.package == package)
        })
    }

    /// Production packages: not test, example, tooling or other non-production code.
    pub fn production_manifests(&self) -> impl Iterator<Item = &Manifest> {
        self.manifests.iter().filter(|m| m.role == Role::Production)
    }

    /// Resolves a dependency inherited from `[workspace.dependencies]`.
    pub fn resolve<'a>(&'a self, manifest: &'a Manifest, dep: &'a Dependency) -> &'a Dependency {
        if !dep.inherited {
            return dep;
        }
        let root = self.workspace_root(manifest);
        self.manifests
            .iter()
            .find(|m| m.dir == root)
            .and_then(|m| m.workspace.as_ref())
            .and_then(|w| w.dependencies.iter().find(|d| d.key == dep.key))
            .unwrap_or(dep)
    }
}

/// The workspace root folder of each manifest (see `CargoProject::workspace_root`), with each
/// workspace's member and exclude globs compiled once.
fn workspace_roots(manifests: &[Manifest]) -> Vec<String> {
    let globs = |patterns: &[String]| {
        crate::timings::project_matcher();
        let mut set = GlobSetBuilder::new();
        for pattern in patterns {
            if let Ok(glob) = Glob::new(pattern.trim_end_matches('/')) {
                set.add(glob);
            }
        }
        set.build().unwrap_or_else(|_| GlobSet::empty())
    };
    let workspaces: Vec<(&str, GlobSet, GlobSet)> = (manifests.iter().rev())
        .filter_map(|m| {
            let workspace = m.workspace.as_ref()?;
            Some((
                m.dir.as_str(),
                globs(&workspace.members),
                globs(&workspace.exclude),
            ))
        })
        .collect();
    let root = |manifest: &Manifest| {
        for (dir, members, exclude) in &workspaces {
            if *dir == manifest.dir {
                return dir.to_string();
            }
            let relative = if dir.is_empty() {
                Some(manifest.dir.as_str())
            } else {
                (manifest.dir.strip_prefix(dir)).and_then(|rest| rest.strip_prefix('/'))
            };
            if relative.is_some_and(|r| members.is_match(r) && !exclude.is_match(r)) {
                return dir.to_string();
            }
        }
        manifest.dir.clone()
    };
    manifests.iter().map(root).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(path: &str, text: &str, files: &[&str]) -> Manifest {
        let files = files.iter().map(|f| f.to_string()).collect();
        Manifest::parse(Source::new(path, text.to_string()), &files)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn renamed_target_specific_and_inherited_dependencies() {
        let m = manifest(
            "svc/Cargo.toml",
            r#"
[package]
name = "svc"
[dependencies]
http = { package = "reqwest", version = "0.12" }
tokio.workspace = true
[target.'cfg(unix)'.dependencies]
nix = "*"
[dev-dependencies]
insta = "1"
"#,
            &["svc/src/bin/tool.rs"],
        );
        let package = m.package.as_ref().unwrap();
        assert!(package.has_bin && !package.has_lib);
        let http = m.dependencies.iter().find(|d| d.key == "http").unwrap();
        assert_eq!(http.package, "reqwest");
        assert!(
            m.dependencies
                .iter()
                .any(|d| d.key == "tokio" && d.inherited)
        );
        assert!(
            m.dependencies
                .iter()
                .any(|d| d.key == "nix" && d.version.as_ref().unwrap().0 == "*")
        );
        assert!(
            m.dependencies
                .iter()
                .any(|d| d.key == "insta" && d.kind == DepKind::Dev)
        );
    }

    /// A manifest of production code, parsed from `text` as if read at `path`.
    fn parse(path: &str, text: &str) -> Manifest {
        Manifest::parse(Source::new(path, text.to_string()), &BTreeSet::new())
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_file_belongs_to_the_package_in_the_nearest_folder_above_it() {
        let package = |name: &str| format!("[package]\nname = \"{name}\"\n");
        let project = CargoProject::new(
            vec![
                parse("crates/a/Cargo.toml", &package("a")),
                parse("crates/a/nested/Cargo.toml", &package("nested")),
                parse("Cargo.toml", &package("root")),
                // A workspace without a package owns no file.
                parse("tools/Cargo.toml", "[workspace]\nmembers = []\n"),
            ],
            BTreeMap::new(),
        );
        let owner = |path: &str| {
            project
                .manifest_for(path)
                .and_then(|m| m.package.as_ref())
                .map(|p| p.name.as_str())
        };
        assert_eq!(owner("crates/a/src/lib.rs"), Some("a"));
        assert_eq!(owner("crates/a/nested/src/lib.rs"), Some("nested"));
        assert_eq!(
            owner("crates/a/nested"),
            Some("a"),
            "a folder's own manifest is not above it"
        );
        assert_eq!(
            owner("crates/ab/src/lib.rs"),
            Some("root"),
            "a name prefix is not a folder"
        );
        assert_eq!(owner("tools/x/main.rs"), Some("root"));
        assert_eq!(owner("build.rs"), Some("root"));
        let above: Vec<&str> = project
            .packages_above("crates/a/nested/src/lib.rs")
            .filter_map(|m| m.package.as_ref().map(|p| p.name.as_str()))
            .collect();
        assert_eq!(above, ["nested", "a", "root"]);
        assert_eq!(
            CargoProject::default()
                .manifest_for("src/lib.rs")
                .map(|m| &m.dir),
            None
        );

        let paths: Vec<&str> = project
            .manifests()
            .iter()
            .map(|m| m.source.path.as_str())
            .collect();
        assert_eq!(
            paths,
            [
                "Cargo.toml",
                "crates/a/Cargo.toml",
                "crates/a/nested/Cargo.toml",
                "tools/Cargo.toml"
            ]
        );
        assert_eq!(
            project
                .manifest_at("tools/Cargo.toml")
                .map(|m| m.dir.as_str()),
            Some("tools")
        );
        assert!(project.manifest_at("crates/b/Cargo.toml").is_none());
        assert!(project.package_in("tools").is_none() && project.package_in("").is_some());
    }

    #[test]
    fn members_globs_decide_the_workspace_root() {
        let project = CargoProject::new(
            vec![
                parse("Cargo.toml", "[workspace]\nmembers = [\"crates/*\"]\n"),
                parse("crates/a/Cargo.toml", "[package]\nname = \"a\"\n"),
                parse("tools/b/Cargo.toml", "[package]\nname = \"b\"\n"),
            ],
            BTreeMap::new(),
        );
        assert_eq!(project.workspace_root(&project.manifests()[1]), "");
        assert_eq!(project.workspace_root(&project.manifests()[2]), "tools/b");
    }

    #[test]
    fn packages_beside_the_service_take_the_role_of_what_uses_them() {
        let package = |dir: &str, name: &str, extra: &str, bin: bool| {
            let files: Vec<String> = if bin {
                vec![format!("{dir}/src/main.rs")]
            } else {
                vec![format!("{dir}/src/lib.rs")]
            };
            let files: Vec<&str> = files.iter().map(String::as_str).collect();
            manifest(
                &format!("{dir}/Cargo.toml"),
                &format!("[package]\nname = \"{name}\"\n{extra}"),
                &files,
            )
        };
        let project = CargoProject::new(
            vec![
                package(
                    "server",
                    "svc",
                    "[dependencies]\naxum = \"0.8\"\nrunner = { path = \"../runner\" }\n",
                    true,
                ),
                package(
                    "cli",
                    "svc-cli",
                    "[dependencies]\naxum = \"0.8\"\nclient = { path = \"../client\" }\n",
                    true,
                ),
                package("client", "client", "publish = false\n", false),
                package("runner", "runner", "publish = false\n", false),
                package("sdk", "sdk", "", false),
                package(
                    "harness",
                    "harness",
                    "publish = false\n[dependencies]\nsdk = { path = \"../sdk\" }\n",
                    false,
                ),
                package(
                    "it",
                    "it",
                    concat!(
                        "publish = false\n[dev-dependencies]\nharness = { path = \"../harness\" }\n",
                        "cluster-runner = { path = \"../cluster-runner\" }\n",
                        "gateway = { path = \"../gateway\" }\n",
                    ),
                    false,
                ),
                package(
                    "cluster-runner",
                    "cluster-runner",
                    "publish = false\n[dependencies]\nreqwest = \"0.12\"\n",
                    true,
                ),
                package(
                    "gateway",
                    "gateway",
                    "publish = false\n[dependencies]\naxum = \"0.8\"\n",
                    true,
                ),
            ],
            BTreeMap::new(),
        );
        let role = |path: &str| project.manifest_at(path).map(|m| m.role);
        assert_eq!(role("server/Cargo.toml"), Some(Role::Production));
        // A CLI beside a service is tooling, and so is what only it uses.
        assert_eq!(role("cli/Cargo.toml"), Some(Role::Tooling));
        assert_eq!(role("client/Cargo.toml"), Some(Role::Tooling));
        // Used by the service: production.
        assert_eq!(role("runner/Cargo.toml"), Some(Role::Production));
        // Only a dev-dependency reaches it: test support.
        assert_eq!(role("harness/Cargo.toml"), Some(Role::Test));
        // A program only tests use, beside a service: a test harness; unless it serves.
        assert_eq!(role("cluster-runner/Cargo.toml"), Some(Role::Test));
        assert_eq!(role("gateway/Cargo.toml"), Some(Role::Production));
        // A published library has users outside the workspace.
        assert_eq!(role("sdk/Cargo.toml"), Some(Role::Production));
        // Without a service, a tool is the product.
        let alone = CargoProject::new(vec![package("cli", "svc-cli", "", true)], BTreeMap::new());
        assert_eq!(alone.manifests()[0].role, Role::Production);
    }
}
