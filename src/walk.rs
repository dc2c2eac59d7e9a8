//! Discovery: which files of the audited tree are scanned, and what was skipped and why.
//!
//! The walk honours .gitignore (also outside a git repository), never enters `.git/`,
//! `target/` or `node_modules/`, and applies the configuration's `exclude` globs. Nothing is
//! skipped silently: every file or folder left out is counted by reason.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use globset::{Glob, GlobSet, GlobSetBuilder};
use ignore::WalkBuilder;
use serde::Serialize;

/// Directories never entered, whatever .gitignore says.
const ALWAYS_SKIPPED_DIRS: [&str; 3] = [".git", "target", "node_modules"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SkipReason {
    /// Matched by a .gitignore (or .ignore) file.
    Gitignored,
    /// `.git/`, `target/` or `node_modules/`.
    BuildOrVcsDir,
    /// Matched by an `exclude` glob of the configuration.
    Excluded,
    /// Contains NUL bytes: not text.
    Binary,
    /// Larger than `max_file_size`.
    TooLarge,
    /// A symbolic link (never followed: it may leave the tree) or a special file (a FIFO or
    /// socket would block a reader).
    NotRegular,
}

impl SkipReason {
    pub fn describe(self) -> &'static str {
        match self {
            SkipReason::Gitignored => "ignored by .gitignore",
            SkipReason::BuildOrVcsDir => "in .git/, target/ or node_modules/",
            SkipReason::Excluded => "excluded by configuration",
            SkipReason::Binary => "binary",
            SkipReason::TooLarge => "larger than max_file_size",
            SkipReason::NotRegular => "symbolic links or special files",
        }
    }
}

/// A file to scan.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Relative to the audited root, `/`-separated.
    pub path: String,
    pub abs: PathBuf,
    pub size: u64,
    /// What the file system says of the file when the walk found it (see [`Stamp`]).
    pub stamp: Option<Stamp>,
}

/// A file's size, modification and change times, inode and device, as the walk saw them: the
/// cache trusts an unchanged stamp to mean unchanged bytes, as git's index does. The change
/// time cannot be set back by anyone writing the file, so no edit keeps the stamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Stamp {
    pub size: u64,
    pub modified_ns: i128,
    pub changed_ns: i128,
    pub inode: u64,
    pub device: u64,
}

impl Stamp {
    #[cfg(unix)]
    pub fn of(metadata: &std::fs::Metadata) -> Option<Stamp> {
        use std::os::unix::fs::MetadataExt;
        let ns = |secs: i64, nanos: i64| i128::from(secs) * 1_000_000_000 + i128::from(nanos);
        Some(Stamp {
            size: metadata.len(),
            modified_ns: ns(metadata.mtime(), metadata.mtime_nsec()),
            changed_ns: ns(metadata.ctime(), metadata.ctime_nsec()),
            inode: metadata.ino(),
            device: metadata.dev(),
        })
    }

    /// Elsewhere the change time is not at hand: no stamp, and the cache reads every file.
    #[cfg(not(unix))]
    pub fn of(_: &std::fs::Metadata) -> Option<Stamp> {
        None
    }
}

/// A path with what is said about it: why it was skipped, not parsed or not analysed, or what
/// was odd about it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct PathNote {
    pub path: String,
    pub reason: String,
}

impl PathNote {
    pub fn new(path: impl Into<String>, reason: impl Into<String>) -> PathNote {
        PathNote {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

#[derive(Debug, Default)]
pub struct Discovery {
    pub files: Vec<Candidate>,
    /// Skipped files by reason. Folders skipped whole count as one entry each in `skipped_dirs`.
    pub skipped_files: BTreeMap<SkipReason, usize>,
    pub skipped_dirs: BTreeMap<SkipReason, usize>,
    /// Files not read, each with why: too large, symbolic links, special files. (Gitignored,
    /// excluded and build files are only counted.)
    pub skipped: Vec<PathNote>,
    /// Files read whose name needs a word: not valid UTF-8, shown with U+FFFD.
    pub notes: Vec<PathNote>,
    /// Entries that could not be listed (permissions, broken links): path and reason.
    pub not_analysed: Vec<PathNote>,
    /// Ignore files (.gitignore, .ignore) with lines that could not be read, and why: the walk
    /// went on without those lines.
    pub ignore_file_errors: Vec<PathNote>,
}

pub fn relative(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let parts: Vec<_> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    parts.join("/")
}

fn exclude_set(globs: &[String]) -> GlobSet {
    let mut builder = GlobSetBuilder::new();
    for glob in globs {
        // `dir/` means the folder; both `dir` and `dir/**` are accepted as well.
        let trimmed = glob.trim_end_matches('/');
        for pattern in [trimmed.to_string(), format!("{trimmed}/**")] {
            if let Ok(g) = Glob::new(&pattern) {
                builder.add(g);
            }
        }
    }
    builder.build().unwrap_or_else(|_| GlobSet::empty())
}

/// Lists the files to scan under `root`.
/// Walks `root` on `threads` threads (0: as many as the machine has); the result is the same
/// whatever their number.
pub fn discover(root: &Path, exclude: &[String], max_file_size: u64, threads: usize) -> Discovery {
    let excluded = Arc::new(exclude_set(exclude));
    let pruned: PrunedDirs = Arc::default();
    let mut discovery = Discovery::default();
    let mut visited_dirs: HashMap<PathBuf, VisitedDir> = HashMap::new();

    let outer = OuterIgnores::of(root);
    let rules_above_root = !outer.matchers.is_empty();
    let walker = pruning_walker(root, &excluded, &pruned, outer, threads);
    for item in found_in_walk_order(walker) {
        let (entry, metadata, has_rules) = match item {
            Ok(entry) => entry,
            Err(error) => {
                let path = error_path(&error).map_or_else(String::new, |p| relative(root, p));
                discovery
                    .not_analysed
                    .push(PathNote::new(path, error.to_string()));
                continue;
            }
        };
        if let Some(error) = entry.error() {
            ignore_file_errors(root, None, error, &mut discovery.ignore_file_errors);
        }
        let Some(file_type) = entry.file_type() else {
            continue;
        };
        let parent = entry.path().parent();
        if file_type.is_dir() {
            // Ignore rules reach a folder from its own ignore files, those of the folders above
            // it in the tree, and those above the root.
            let under_rules = has_rules
                || match parent.and_then(|p| visited_dirs.get(p)) {
                    Some(parent) => parent.under_rules,
                    None => rules_above_root,
                };
            visited_dirs.insert(
                entry.path().to_path_buf(),
                VisitedDir {
                    under_rules,
                    seen: 0,
                    listed: AtomicUsize::new(0),
                },
            );
            continue;
        }
        if let Some(dir) = parent.and_then(|p| visited_dirs.get_mut(p)) {
            dir.seen += 1;
        }
        discovery.add_file(
            root,
            &entry,
            file_type,
            metadata.as_ref(),
            &excluded,
            max_file_size,
        );
    }

    let pruned = std::mem::take(&mut *pruned.lock().expect("walk bookkeeping"));
    let pruned_paths: HashSet<PathBuf> = pruned.iter().map(|(p, _)| p.clone()).collect();
    for (_, reason) in pruned {
        *discovery.skipped_dirs.entry(reason).or_default() += 1;
    }
    count_gitignored(root, &visited_dirs, &pruned_paths, threads, &mut discovery);
    discovery
}

/// The folders the walk did not enter, each with why.
type PrunedDirs = Arc<Mutex<Vec<(PathBuf, SkipReason)>>>;

/// The walk of `root`: it enters no folder of `ALWAYS_SKIPPED_DIRS` and no excluded folder
/// (both kept in `pruned`), and hides what the ignore files above the root ignore.
fn pruning_walker(
    root: &Path,
    excluded: &Arc<GlobSet>,
    pruned: &PrunedDirs,
    outer: OuterIgnores,
    threads: usize,
) -> ignore::WalkParallel {
    let root = root.to_path_buf();
    let excluded = Arc::clone(excluded);
    let pruned = Arc::clone(pruned);
    WalkBuilder::new(&root)
        .hidden(false)
        .require_git(false)
        // The walk reads the ignore files inside the root; those of the folders above it
        // come from `OuterIgnores` (only within the enclosing git work tree), and the
        // user's global git excludes are never read.
        .parents(false)
        .git_global(false)
        .follow_links(false)
        .threads(threads)
        .filter_entry(move |entry| {
            if entry.depth() == 0 {
                return true;
            }
            let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
            let reason = if is_dir
                && ALWAYS_SKIPPED_DIRS.contains(&entry.file_name().to_string_lossy().as_ref())
            {
                Some(SkipReason::BuildOrVcsDir)
            } else if is_dir && excluded.is_match(relative(&root, entry.path())) {
                Some(SkipReason::Excluded)
            } else if outer.ignores(&root, entry.path(), is_dir) {
                // Not pruned: counted as gitignored, like what the walk's own rules hide.
                return false;
            } else {
                None
            };
            if let Some(reason) = reason {
                pruned
                    .lock()
                    .expect("walk bookkeeping")
                    .push((entry.path().to_path_buf(), reason));
            }
            reason.is_none()
        })
        .build_parallel()
}

/// An entry the walk found: with a file's metadata, and for a folder whether it holds ignore
/// rules.
type Found = Result<(ignore::DirEntry, Option<std::fs::Metadata>, bool), ignore::Error>;

/// Runs the walk. Its threads find entries in any order, stat the files (for their size and
/// stamp) and look in each folder for ignore rules; the entries are then taken in the order of
/// a sorted depth-first walk.
fn found_in_walk_order(walker: ignore::WalkParallel) -> Vec<Found> {
    let found: Mutex<Vec<Found>> = Mutex::default();
    walker.run(|| {
        Box::new(|entry| {
            let item = entry.map(|entry| {
                let file_type = entry.file_type();
                let is_file = file_type.is_some_and(|t| t.is_file());
                let metadata = if is_file { entry.metadata().ok() } else { None };
                let has_rules =
                    file_type.is_some_and(|t| t.is_dir()) && has_ignore_rules(entry.path());
                (entry, metadata, has_rules)
            });
            found.lock().expect("walk bookkeeping").push(item);
            ignore::WalkState::Continue
        })
    });
    let mut found = found.into_inner().expect("walk bookkeeping");
    found.sort_by_cached_key(depth_first_key);
    found
}

/// The key that sorts entries by components, so that a folder comes right before what it
/// holds: the components, each ended by a NUL byte (which no component holds, and below every
/// other).
fn depth_first_key(item: &Found) -> Vec<u8> {
    let path = match item {
        Ok((entry, ..)) => Some(entry.path()),
        Err(error) => error_path(error),
    };
    let mut key = Vec::new();
    for component in path.into_iter().flat_map(Path::components) {
        key.extend_from_slice(component.as_os_str().as_encoded_bytes());
        key.push(0);
    }
    key
}

impl Discovery {
    /// Takes a file (anything but a folder) the walk found: to scan, or skipped with why.
    fn add_file(
        &mut self,
        root: &Path,
        entry: &ignore::DirEntry,
        file_type: std::fs::FileType,
        metadata: Option<&std::fs::Metadata>,
        excluded: &GlobSet,
        max_file_size: u64,
    ) {
        let path = relative(root, entry.path());
        if !file_type.is_file() {
            self.count_skipped_file(SkipReason::NotRegular);
            let why = if file_type.is_symlink() {
                symlink_reason(root, entry.path())
            } else {
                "a special file (FIFO, socket or device): not read".to_string()
            };
            self.skipped.push(PathNote::new(path, why));
            return;
        }
        if !excluded.is_empty() && excluded.is_match(&path) {
            self.count_skipped_file(SkipReason::Excluded);
            return;
        }
        let size = metadata.map_or(0, std::fs::Metadata::len);
        let stamp = metadata.and_then(Stamp::of);
        if size > max_file_size {
            self.count_skipped_file(SkipReason::TooLarge);
            self.skipped.push(PathNote::new(
                path,
                format!("larger than max_file_size ({size} bytes > {max_file_size})"),
            ));
            return;
        }
        if entry.path().to_str().is_none() {
            self.notes.push(PathNote::new(
                path.clone(),
                "file name is not valid UTF-8 (shown with U+FFFD)",
            ));
        }
        self.files.push(Candidate {
            path,
            abs: entry.path().to_path_buf(),
            size,
            stamp,
        });
    }

    fn count_skipped_file(&mut self, reason: SkipReason) {
        *self.skipped_files.entry(reason).or_default() += 1;
    }
}

/// The error number of a symbolic link loop.
const ELOOP: i32 = if cfg!(any(target_os = "macos", target_os = "freebsd")) {
    62
} else {
    40
};

/// Why a symbolic link is not followed, by where it leads. Only metadata is read to say so.
fn symlink_reason(root: &Path, link: &Path) -> String {
    let inside =
        |target: &Path| std::fs::canonicalize(root).is_ok_and(|root| target.starts_with(root));
    match std::fs::canonicalize(link) {
        Ok(target) if inside(&target) => "a symbolic link (never followed)".to_string(),
        Ok(_) => "a symbolic link leading outside the audited folder (never followed)".to_string(),
        // ELOOP: the link leads to itself, through one or more links.
        Err(e) if e.raw_os_error() == Some(ELOOP) => {
            "a symbolic link loop (never followed)".to_string()
        }
        Err(_) => "a broken symbolic link (never followed)".to_string(),
    }
}

/// The path an error of the walk is about, through its depth and line wrappers (the parallel
/// walk wraps a folder's read error as `WithDepth { WithPath { .. } }`, the sequential one the
/// other way round).
fn error_path(error: &ignore::Error) -> Option<&Path> {
    match error {
        ignore::Error::WithPath { path, .. } => Some(path),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            error_path(err)
        }
        _ => None,
    }
}

/// Flattens an ignore-file error into (ignore file relative to the root, reason) pairs.
fn ignore_file_errors(
    root: &Path,
    path: Option<&Path>,
    error: &ignore::Error,
    out: &mut Vec<PathNote>,
) {
    match error {
        ignore::Error::Partial(errors) => {
            for error in errors {
                ignore_file_errors(root, path, error, out);
            }
        }
        ignore::Error::WithPath { path, err } => ignore_file_errors(root, Some(path), err, out),
        ignore::Error::WithDepth { err, .. } => ignore_file_errors(root, path, err, out),
        ignore::Error::WithLineNumber { line, err } => {
            let file = path.map_or_else(String::new, |p| relative(root, p));
            out.push(PathNote::new(file, format!("line {line}: {err}")));
        }
        other => {
            let file = path.map_or_else(String::new, |p| relative(root, p));
            out.push(PathNote::new(file, other.to_string()));
        }
    }
}

/// The `.gitignore` and `.ignore` files of the folders between the enclosing git work tree's
/// top and the audited root, so that auditing `services/api` honours the repository's
/// `.gitignore`. Nothing above the work tree's top is read; outside a git work tree (no `.git`
/// in the root or above it), nothing above the root. Symbolic links are not read.
struct OuterIgnores {
    /// The canonical audited root, and each matcher with its folder's canonical path, deepest
    /// first: a deeper file's decision wins.
    root: PathBuf,
    matchers: Vec<ignore::gitignore::Gitignore>,
}

impl OuterIgnores {
    fn of(root: &Path) -> OuterIgnores {
        let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
        let mut matchers = Vec::new();
        let is_top = |dir: &Path| std::fs::symlink_metadata(dir.join(".git")).is_ok();
        if !is_top(&root)
            && let Some(top) = root.ancestors().skip(1).find(|d| is_top(d))
        {
            for dir in root.ancestors().skip(1) {
                for name in [".ignore", ".gitignore"] {
                    let file = dir.join(name);
                    if std::fs::symlink_metadata(&file).is_ok_and(|m| m.is_file()) {
                        let mut builder = ignore::gitignore::GitignoreBuilder::new(dir);
                        // A line that is not a valid pattern is left out, as the walk does.
                        let _ = builder.add(&file);
                        if let Ok(matcher) = builder.build() {
                            matchers.push(matcher);
                        }
                    }
                }
                if dir == top {
                    break;
                }
            }
        }
        OuterIgnores { root, matchers }
    }

    /// Whether `path` (below `walk_root`, the audited root as given) is ignored by a folder
    /// above the root.
    fn ignores(&self, walk_root: &Path, path: &Path, is_dir: bool) -> bool {
        if self.matchers.is_empty() {
            return false;
        }
        let Ok(below) = path.strip_prefix(walk_root) else {
            return false;
        };
        let path = self.root.join(below);
        for matcher in &self.matchers {
            let decision = matcher.matched_path_or_any_parents(&path, is_dir);
            if decision.is_ignore() {
                return true;
            }
            if decision.is_whitelist() {
                return false;
            }
        }
        false
    }
}

/// A folder the walk entered: whether ignore rules reach it, how many entries (not folders)
/// the walk saw in it, and how many a listing without rules finds (`count_gitignored`).
struct VisitedDir {
    under_rules: bool,
    seen: usize,
    listed: AtomicUsize,
}

/// Whether a folder holds ignore rules for the walk: a `.gitignore` or `.ignore` file (which
/// may ignore itself, so it is looked for, not waited for among the entries), or a `.git`
/// (whose `info/exclude` the walk reads).
fn has_ignore_rules(dir: &Path) -> bool {
    [".gitignore", ".ignore", ".git"]
        .iter()
        .any(|name| std::fs::symlink_metadata(dir.join(name)).is_ok())
}

/// Counts what .gitignore hid, by listing again without ignore rules the folders the rules reach
/// (a folder no rule reaches hides nothing): there, what the listing finds beyond what the walk
/// saw was ignored; a gitignored folder counts once, without being descended. Folders are
/// entered only on the way to those the rules reach.
fn count_gitignored(
    root: &Path,
    visited: &HashMap<PathBuf, VisitedDir>,
    pruned: &HashSet<PathBuf>,
    threads: usize,
    discovery: &mut Discovery,
) {
    // The folders under rules and those above them: where the listing goes.
    let mut leading: HashSet<PathBuf> = HashSet::new();
    for (dir, _) in visited.iter().filter(|(_, d)| d.under_rules) {
        for step in dir.ancestors() {
            if !visited.contains_key(step) || !leading.insert(step.to_path_buf()) {
                break;
            }
        }
    }
    if leading.is_empty() {
        return;
    }
    let ignored_dirs = Arc::new(AtomicUsize::new(0));
    let walker = {
        let entered: HashSet<PathBuf> = visited.keys().cloned().collect();
        let pruned = pruned.clone();
        let ignored_dirs = Arc::clone(&ignored_dirs);
        WalkBuilder::new(root)
            .standard_filters(false)
            .follow_links(false)
            .threads(threads)
            .filter_entry(move |entry| {
                let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
                if !is_dir || entry.depth() == 0 {
                    return true;
                }
                if entered.contains(entry.path()) {
                    return leading.contains(entry.path());
                }
                if !pruned.contains(entry.path()) {
                    ignored_dirs.fetch_add(1, Ordering::Relaxed);
                }
                false
            })
            .build_parallel()
    };
    walker.run(|| {
        Box::new(|entry| {
            if let Ok(entry) = entry
                && entry.file_type().is_some_and(|t| !t.is_dir())
                && let Some(dir) = entry.path().parent().and_then(|p| visited.get(p))
                && dir.under_rules
            {
                dir.listed.fetch_add(1, Ordering::Relaxed);
            }
            ignore::WalkState::Continue
        })
    });
    let ignored_files: usize = visited
        .values()
        .filter(|d| d.under_rules)
        .map(|d| d.listed.load(Ordering::Relaxed).saturating_sub(d.seen))
        .sum();
    let ignored_dirs = ignored_dirs.load(Ordering::Relaxed);
    if ignored_files > 0 {
        discovery
            .skipped_files
            .insert(SkipReason::Gitignored, ignored_files);
    }
    if ignored_dirs > 0 {
        discovery
            .skipped_dirs
            .insert(SkipReason::Gitignored, ignored_dirs);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_walk_error_names_its_path_through_any_wrapper() {
        let io = || ignore::Error::Io(std::io::Error::other("denied"));
        let with_path = |err| ignore::Error::WithPath {
            path: "locked".into(),
            err: Box::new(err),
        };
        let parallel = ignore::Error::WithDepth {
            depth: 1,
            err: Box::new(with_path(io())),
        };
        let sequential = with_path(ignore::Error::WithDepth {
            depth: 1,
            err: Box::new(io()),
        });
        for error in [parallel, sequential] {
            assert_eq!(
                super::error_path(&error),
                Some(std::path::Path::new("locked"))
            );
        }
        assert_eq!(super::error_path(&io()), None);
    }

    use super::*;
    use std::fs;

    /// Writes each `(path, text)` under `root`, making the folders it needs.
    fn write_tree(root: &Path, files: &[(&str, &str)]) {
        for (path, text) in files {
            let file = root.join(path);
            fs::create_dir_all(file.parent().unwrap()).unwrap();
            fs::write(file, text).unwrap();
        }
    }

    #[test]
    fn skips_are_counted_by_reason() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write_tree(
            root,
            &[
                (".gitignore", "secret-build/\n*.log\n"),
                ("src/main.rs", "fn main() {}\n"),
                ("app.log", "log\n"),
                ("secret-build/out.txt", "x\n"),
                ("target/debug/x", "x\n"),
                ("vendor/lib.rs", "x\n"),
                ("big.txt", "0123456789012345678901234567890\n"),
                (".github/CODEOWNERS", "* @org/team\n"),
            ],
        );
        let found = discover(root, &["vendor/".into()], 20, 2);
        let paths: Vec<_> = found.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, [".github/CODEOWNERS", ".gitignore", "src/main.rs"]);
        assert_eq!(found.skipped_files[&SkipReason::TooLarge], 1);
        assert_eq!(found.skipped_files[&SkipReason::Gitignored], 1);
        assert_eq!(found.skipped_dirs[&SkipReason::Gitignored], 1);
        assert_eq!(found.skipped_dirs[&SkipReason::BuildOrVcsDir], 1);
        assert_eq!(found.skipped_dirs[&SkipReason::Excluded], 1);
        assert!(found.ignore_file_errors.is_empty());
    }

    #[test]
    fn what_ignore_rules_hide_is_counted_wherever_they_reach() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write_tree(
            root,
            &[
                // Rules that also hide their own file, in a folder deep in the tree.
                ("a/b/.gitignore", "*\n"),
                ("a/b/c/deep.txt", "x\n"),
                ("a/b/one.txt", "x\n"),
                ("a/kept.txt", "x\n"),
                // An `.ignore` file, a folder and a file it hides.
                ("d/.ignore", "gen/\n*.tmp\n"),
                ("d/x.tmp", "x\n"),
                ("d/e/y.tmp", "x\n"),
                ("d/gen/z.rs", "x\n"),
                ("d/e/kept.rs", "x\n"),
                // A repository's own excludes.
                ("r/.git/info/exclude", "secret.env\n"),
                ("r/secret.env", "x\n"),
                ("r/src/lib.rs", "x\n"),
                ("plain/file.rs", "x\n"),
            ],
        );
        let found = discover(root, &[], 1024, 2);
        let paths: Vec<_> = found.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "a/kept.txt",
                "d/.ignore",
                "d/e/kept.rs",
                "plain/file.rs",
                "r/src/lib.rs"
            ]
        );
        // a/b/.gitignore, a/b/one.txt, d/x.tmp, d/e/y.tmp, r/secret.env; a/b/c/, d/gen/.
        assert_eq!(found.skipped_files[&SkipReason::Gitignored], 5);
        assert_eq!(found.skipped_dirs[&SkipReason::Gitignored], 2);
        assert_eq!(found.skipped_dirs[&SkipReason::BuildOrVcsDir], 1);
        // No rules anywhere: nothing counted.
        let plain = discover(&root.join("plain"), &[], 1024, 2);
        assert_eq!(plain.files.len(), 1);
        assert!(!plain.skipped_files.contains_key(&SkipReason::Gitignored));
    }

    #[test]
    fn broken_ignore_rules_are_reported_not_dropped() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(".gitignore"), "target/\nfoo{a,b\n").unwrap();
        fs::write(dir.path().join("a.txt"), "x\n").unwrap();
        let found = discover(dir.path(), &[], 1024, 2);
        assert_eq!(
            found.ignore_file_errors.len(),
            1,
            "{:?}",
            found.ignore_file_errors
        );
        let PathNote { path: file, reason } = &found.ignore_file_errors[0];
        assert_eq!(file, ".gitignore");
        assert!(
            reason.starts_with("line 2: ") && reason.contains("foo{a,b"),
            "{reason}"
        );
        assert_eq!(found.files.len(), 2);
    }

    #[test]
    fn ignore_files_above_the_root_count_only_inside_the_git_work_tree() {
        let dir = tempfile::tempdir().unwrap();
        let top = dir.path().join("repo");
        write_tree(
            &top,
            &[
                ("../.gitignore", "*.rs\n"),
                (".gitignore", "generated/\n/svc/local.rs\n"),
                ("svc/src/lib.rs", "pub fn f() {}\n"),
                ("svc/generated/g.rs", "pub fn g() {}\n"),
                ("svc/local.rs", "pub fn l() {}\n"),
            ],
        );
        let names = |found: &Discovery| -> Vec<String> {
            found.files.iter().map(|f| f.path.clone()).collect()
        };
        // Not a git work tree: nothing above the audited folder is read.
        let found = discover(&top.join("svc"), &[], 1024, 2);
        assert_eq!(names(&found), ["generated/g.rs", "local.rs", "src/lib.rs"]);
        // Inside one: the repository's .gitignore applies, anchored where it lives, and
        // nothing above the work tree's top (the `*.rs` one level up) is read.
        fs::create_dir(top.join(".git")).unwrap();
        let found = discover(&top.join("svc"), &[], 1024, 2);
        assert_eq!(names(&found), ["src/lib.rs"]);
        assert_eq!(found.skipped_files.get(&SkipReason::Gitignored), Some(&1));
        assert_eq!(found.skipped_dirs.get(&SkipReason::Gitignored), Some(&1));
    }
}
