//! The content-hash cache of per-file facts (`docs/cache.md`): a re-audit of a mostly unchanged
//! repository skips the per-file phase for the files whose bytes did not change. The Cargo model
//! and the project checks always run again, over every file's facts.
//!
//! One file per prodready version, effective configuration and audited root, in a directory
//! outside the audited tree: `<dir>/v<format>-<digest>.json`, a map from entry key to a file's
//! facts. It is read once before the per-file phase and written once after it, atomically, with
//! the entries of this run only; the write removes the other cache files of the folder that no
//! audit wrote for [`KEEP_UNUSED`]. An entry's key is a BLAKE3 digest of prodready's version,
//! the cache format, the configuration, the Cargo model (every manifest and lockfile read in
//! before the per-file phase), the file's path and its bytes.
//!
//! Never cached: a file not fully analysed, a file in which a secret was
//! detected, and a file with a string constant that could be an undetected credential (see
//! [`cacheable`]). A cache that cannot be read, parsed or written never fails the audit.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Component, Path, PathBuf};
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use crate::config::{Config, Gate};
use crate::facts::FileFacts;
use crate::redact::entropy;
use crate::registry::{Rule, registry};
use crate::walk::Stamp;

/// The layout of the cache file and of its entries. Raise it whenever `FileFacts` (or anything
/// it holds) changes shape in a release-less build; a release changes the version anyway.
pub const FORMAT: u32 = 21;

/// The environment variable that names the cache directory (after `--cache-dir`).
pub const ENV_DIR: &str = "PRODREADY_CACHE_DIR";

/// Where the cache lives, and who chose it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheDir {
    pub path: PathBuf,
    /// Given with `--cache-dir` (a problem with it is an error), or found in the environment.
    pub explicit: bool,
}

/// The cache directory of an audit of `root`: `--cache-dir`, else `$PRODREADY_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/prodready`, else `$HOME/.cache/prodready`; `None` with `--no-cache`.
///
/// A directory inside the audited root is refused, so that a repository can never supply cache
/// entries: an error when it was given explicitly, else one line on standard error and no cache.
pub fn choose(
    flag: Option<&Path>,
    no_cache: bool,
    root: &Path,
) -> Result<Option<CacheDir>, String> {
    if no_cache {
        return Ok(None);
    }
    let (path, explicit) = match flag {
        Some(path) => (path.to_path_buf(), true),
        None => match default_dir() {
            Some(path) => (path, false),
            None => {
                eprintln!(
                    "prodready: no cache directory (set {ENV_DIR}, XDG_CACHE_HOME or HOME, or pass --cache-dir): running uncached"
                );
                return Ok(None);
            }
        },
    };
    if inside(&path, root) {
        let message = format!(
            "the cache directory {} is inside the audited folder {}: a repository must not hold its own cache",
            path.display(),
            root.display()
        );
        if explicit {
            return Err(message);
        }
        eprintln!("prodready: {message}; running uncached");
        return Ok(None);
    }
    Ok(Some(CacheDir { path, explicit }))
}

fn default_dir() -> Option<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = var(ENV_DIR) {
        return Some(PathBuf::from(dir));
    }
    // The XDG base directory specification ignores relative paths.
    if let Some(dir) = var("XDG_CACHE_HOME").map(PathBuf::from)
        && dir.is_absolute()
    {
        return Some(dir.join("prodready"));
    }
    var("HOME").map(|home| PathBuf::from(home).join(".cache").join("prodready"))
}

/// Whether `path` (which need not exist yet) is `root` or inside it, after resolving symbolic
/// links in every part of both that exists.
fn inside(path: &Path, root: &Path) -> bool {
    let Ok(root) = std::fs::canonicalize(root) else {
        return false;
    };
    resolve(path).starts_with(root)
}

/// The absolute form of a path that may not exist: its longest existing ancestor canonicalised,
/// the rest appended lexically.
fn resolve(path: &Path) -> PathBuf {
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(path)
    };
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    let mut base = loop {
        if let Ok(canonical) = std::fs::canonicalize(existing) {
            break canonical;
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                existing = parent;
            }
            // `..` or the root itself: resolve what is left lexically.
            _ => break PathBuf::new(),
        }
    };
    if base.as_os_str().is_empty() {
        for component in absolute.components() {
            match component {
                Component::ParentDir => {
                    base.pop();
                }
                Component::CurDir => {}
                other => base.push(other),
            }
        }
        return base;
    }
    for name in rest.into_iter().rev() {
        if name == ".." {
            base.pop();
        } else if name != "." {
            base.push(name);
        }
    }
    base
}

/// How an audit uses the cache.
#[derive(Debug, Clone, Copy)]
pub struct CacheUse<'a> {
    /// The cache directory (see [`choose`]).
    pub dir: &'a Path,
    /// The folder whose cache file is read: the audited one, or for the merge base of
    /// `--changed-since` (a temporary export) the working tree's, whose unchanged files it shares.
    pub root: &'a Path,
    /// Write this run's entries; the merge base's audit only reads.
    pub write: bool,
}

/// The key of one entry: a BLAKE3 digest, hex-encoded.
pub type Key = String;

/// What the per-file phase did with the cache for one file. The stamp key, when there is one
/// (see [`Cache::stamp_key`]), lets the next run find the entry without reading the file.
pub enum Entry {
    /// No cache, or a file not cached (not fully analysed, or holding a secret; binary without a stamp).
    None,
    /// Its facts came from the cache: the loaded entry is kept.
    Hit(Key, Option<Key>),
    /// Analysed now: its facts, serialised.
    Fresh(Key, Box<RawValue>, Option<Key>),
    /// A binary file, by its stamp key: the next run skips it unread while its stamp holds.
    Binary(Key),
}

/// What a stamp key leads to for a binary file, in place of an entry key (never a digest).
const BINARY: &str = "binary";

/// What an unchanged stamp found (see [`Cache::by_stamp`]): the file is not read.
pub enum Stamped {
    /// Its facts, and the key of their entry.
    Facts(Key, Box<FileFacts>),
    /// A binary file.
    Binary,
}

/// The cache file's layout: the entries by key, and the keys by stamp key (or `BINARY`).
#[derive(Deserialize)]
struct Stored {
    format: u32,
    version: String,
    entries: HashMap<Key, Box<RawValue>>,
    #[serde(default)]
    stamps: HashMap<Key, Key>,
}

/// A stamp younger than this, when the audit starts, is not trusted: the file may still be
/// changing within its file system's timestamp granularity (git's "racily clean" entries).
const RACY: Duration = Duration::from_secs(2);

/// How long a cache file no audit writes (another version, configuration or audited folder) is
/// kept: an audit that writes its own cache file removes the others left alone this long.
pub const KEEP_UNUSED: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// How long a temporary file (left by an audit killed while writing its cache file) is kept.
const KEEP_TEMPORARY: Duration = Duration::from_secs(24 * 60 * 60);

/// The names this module gives cache files and their temporary files, and nothing else in the
/// directory (which `--cache-dir` may point at a folder holding other things).
static CACHE_FILE_NAME: LazyLock<regex::Regex> =
    LazyLock::new(|| regex::Regex::new(r"^v[0-9]+-[0-9a-f]{32}\.json$").expect("valid regex"));
static TEMPORARY_FILE_NAME: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(r"^\.prodready-cache-[0-9A-Za-z]+\.tmp$").expect("valid regex")
});

/// An open cache: the entries loaded from its file, and how to key new ones.
pub struct Cache {
    dir: PathBuf,
    file: PathBuf,
    /// Version, format, configuration and Cargo model, hashed: each key continues from it.
    prefix: blake3::Hasher,
    loaded: HashMap<Key, Box<RawValue>>,
    /// Entry keys by stamp key, as loaded.
    stamps: HashMap<Key, Key>,
    /// Stamps modified or changed after this (nanoseconds since the epoch) are not trusted.
    trusted_before_ns: i128,
    write: bool,
    stats: Stats,
}

#[derive(Default)]
struct Stats {
    hits: AtomicU64,
    /// Hits found by stamp, without reading the file.
    stamp_hits: AtomicU64,
    /// Binary files known by their stamp, not read.
    binary_hits: AtomicU64,
    misses: AtomicU64,
    not_cacheable: AtomicU64,
    /// Entries found in the file that did not deserialise (analysed afresh: also misses).
    rejected: AtomicU64,
    key_nanos: AtomicU64,
    decode_nanos: AtomicU64,
    encode_nanos: AtomicU64,
    load: Duration,
    load_bytes: u64,
    loaded_entries: usize,
}

/// What the configuration contributes to keys: everything of it but what acts only before or
/// after the per-file phase (excludes, file size limit, time budget, gate, allows, baseline and
/// where the configuration came from), the selected rules, and whether the tree gates are off
/// (`PRODREADY_PARSE_EVERY_RUST_FILE`, which changes what a file's facts hold).
pub fn config_digest(config: &Config, rules: &[&Rule]) -> String {
    let effective = Config {
        exclude: Vec::new(),
        max_file_size: 0,
        file_timeout: Duration::ZERO,
        gate: Gate::default(),
        allows: Vec::new(),
        baseline: None,
        origin: None,
        origin_text: None,
        ..config.clone()
    };
    let mut hasher = Sha256::new();
    hasher.update(format!("{effective:?}").as_bytes());
    for rule in rules {
        hasher.update([0]);
        hasher.update(rule.code.as_str().as_bytes());
    }
    hasher.update([0, u8::from(crate::engine::file::parse_every_rust_file())]);
    hex(&hasher.finalize())
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
    out
}

/// A cache whose file is loading (see [`Cache::start`]).
pub struct Opening {
    dir: PathBuf,
    file: PathBuf,
    config: String,
    write: bool,
    trusted_before_ns: i128,
    loading: std::thread::JoinHandle<Loaded>,
}

/// What a cache file held (nothing when it is missing or not a cache file of this version and
/// format), its size, and how long loading it took.
#[derive(Default)]
struct Loaded {
    entries: HashMap<Key, Box<RawValue>>,
    stamps: HashMap<Key, Key>,
    bytes: u64,
    took: Duration,
}

impl Opening {
    /// The open cache, once its file is loaded; `model` is the digest of the Cargo model. A
    /// load that failed leaves the cache empty.
    pub fn finish(self, model: &str) -> Cache {
        let mut prefix = blake3::Hasher::new();
        field(&mut prefix, b"prodready per-file facts");
        field(&mut prefix, env!("CARGO_PKG_VERSION").as_bytes());
        field(&mut prefix, &FORMAT.to_le_bytes());
        field(&mut prefix, self.config.as_bytes());
        field(&mut prefix, model.as_bytes());
        let loaded = self.loading.join().unwrap_or_default();
        let stats = Stats {
            load: loaded.took,
            load_bytes: loaded.bytes,
            loaded_entries: loaded.entries.len(),
            ..Stats::default()
        };
        Cache {
            dir: self.dir,
            file: self.file,
            prefix,
            loaded: loaded.entries,
            stamps: loaded.stamps,
            trusted_before_ns: self.trusted_before_ns,
            write: self.write,
            stats,
        }
    }
}

/// Adds a length-prefixed field to a digest, so that no two field lists hash alike.
fn field(hasher: &mut impl Update, bytes: &[u8]) {
    hasher.feed(&(bytes.len() as u64).to_le_bytes());
    hasher.feed(bytes);
}

/// The two digests in use: SHA-256 names the file, BLAKE3 (several times faster on large
/// files) keys the entries.
trait Update {
    fn feed(&mut self, bytes: &[u8]);
}

impl Update for Sha256 {
    fn feed(&mut self, bytes: &[u8]) {
        self.update(bytes);
    }
}

impl Update for blake3::Hasher {
    fn feed(&mut self, bytes: &[u8]) {
        self.update(bytes);
    }
}

impl Cache {
    /// Starts opening the cache of an audit of `root` in `dir`: creates `dir` (mode 0700) if
    /// needed and loads its file, if there is one, on a thread of its own, while discovery and
    /// the Cargo model run; [`Opening::finish`] waits for it. `None`, after one line on standard
    /// error, when the directory cannot be created or is inside `root`.
    pub fn start(how: CacheUse<'_>, config: &str) -> Option<Opening> {
        let CacheUse { dir, root, write } = how;
        // `choose` refuses it already; a library caller may not have asked it.
        if inside(dir, root) {
            eprintln!(
                "prodready: the cache directory {} is inside the audited folder: running uncached",
                dir.display()
            );
            return None;
        }
        if let Err(e) = create_dir(dir) {
            eprintln!(
                "prodready: cannot create the cache directory {}: {e}; running uncached",
                dir.display()
            );
            return None;
        }
        // Stamps are judged against the audit's start: the walk sees the files after it.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let trusted_before_ns = now.saturating_sub(RACY).as_nanos() as i128;
        let root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
        let mut name = Sha256::new();
        field(&mut name, env!("CARGO_PKG_VERSION").as_bytes());
        field(&mut name, &FORMAT.to_le_bytes());
        field(&mut name, config.as_bytes());
        field(&mut name, root.as_os_str().as_encoded_bytes());
        let file = dir.join(format!("v{FORMAT}-{}.json", &hex(&name.finalize())[..32]));
        let loading = {
            let file = file.clone();
            std::thread::spawn(move || load(&file))
        };
        Some(Opening {
            dir: dir.to_path_buf(),
            file,
            config: config.to_string(),
            write,
            trusted_before_ns,
            loading,
        })
    }

    /// The stamp key of a file: its path and stamp, keyed like an entry (so a changed version,
    /// configuration or Cargo model finds nothing). `None` for a stamp too recent to trust.
    pub fn stamp_key(&self, path: &str, stamp: &Stamp) -> Option<Key> {
        if stamp.modified_ns >= self.trusted_before_ns || stamp.changed_ns >= self.trusted_before_ns
        {
            return None;
        }
        let mut hasher = self.prefix.clone();
        field(&mut hasher, b"stamp");
        field(&mut hasher, path.as_bytes());
        for number in [stamp.modified_ns, stamp.changed_ns] {
            field(&mut hasher, &number.to_le_bytes());
        }
        for number in [stamp.size, stamp.inode, stamp.device] {
            field(&mut hasher, &number.to_le_bytes());
        }
        Some(hex(hasher.finalize().as_bytes()))
    }

    /// What was recorded with a file's stamp, if the stamp is the one recorded: its facts
    /// and their key, or that it was binary. An entry that does not deserialise is left to the
    /// file's read and its key (where it counts as rejected).
    pub fn by_stamp(&self, stamp_key: &Key) -> Option<Stamped> {
        let key = self.stamps.get(stamp_key)?;
        if key == BINARY {
            self.stats.binary_hits.fetch_add(1, Ordering::Relaxed);
            return Some(Stamped::Binary);
        }
        let facts = self.decode(key)?.ok()?;
        self.stats.hits.fetch_add(1, Ordering::Relaxed);
        self.stats.stamp_hits.fetch_add(1, Ordering::Relaxed);
        Some(Stamped::Facts(key.clone(), Box::new(facts)))
    }

    /// The key of a file's entry, from its path and bytes (as read, before decoding).
    pub fn key(&self, path: &str, bytes: &[u8]) -> Key {
        let start = Instant::now();
        let mut hasher = self.prefix.clone();
        field(&mut hasher, path.as_bytes());
        field(&mut hasher, bytes);
        let key = hex(hasher.finalize().as_bytes());
        add_nanos(&self.stats.key_nanos, start);
        key
    }

    /// The cached facts of a file, if its entry exists and deserialises.
    pub fn get(&self, key: &Key) -> Option<FileFacts> {
        match self.decode(key)? {
            Ok(facts) => {
                self.stats.hits.fetch_add(1, Ordering::Relaxed);
                Some(facts)
            }
            Err(_) => {
                self.stats.rejected.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    /// The loaded entry of `key`, deserialised.
    fn decode(&self, key: &Key) -> Option<serde_json::Result<FileFacts>> {
        let raw = self.loaded.get(key)?;
        let start = Instant::now();
        let facts = serde_json::from_str::<FileFacts>(raw.get());
        add_nanos(&self.stats.decode_nanos, start);
        Some(facts)
    }

    /// The entry of a file analysed now: its facts serialised, unless they must not be cached.
    pub fn fresh(&self, key: Key, stamp_key: Option<Key>, facts: &FileFacts) -> Entry {
        if let Some(why) = not_cacheable(facts) {
            self.stats.not_cacheable.fetch_add(1, Ordering::Relaxed);
            if debug() {
                eprintln!("cache: not cached: {} ({why})", facts.path);
            }
            return Entry::None;
        }
        self.stats.misses.fetch_add(1, Ordering::Relaxed);
        let start = Instant::now();
        let raw = serde_json::value::to_raw_value(facts);
        add_nanos(&self.stats.encode_nanos, start);
        match raw {
            Ok(raw) => Entry::Fresh(key, raw, stamp_key),
            Err(_) => Entry::None,
        }
    }

    /// Writes the entries of this run (and only them) to the cache file, atomically, unless the
    /// cache is read only. A failure is one line on standard error. Prints the cache's timings
    /// when they are on.
    pub fn save(mut self, entries: Vec<Entry>) {
        let start = Instant::now();
        let mut kept: Vec<(Key, Box<RawValue>)> = Vec::with_capacity(entries.len());
        let mut stamps: Vec<(Key, Key)> = Vec::with_capacity(entries.len());
        for entry in entries {
            match entry {
                Entry::None => {}
                Entry::Hit(key, stamp_key) => {
                    // Two files with the same path and bytes cannot exist; a second hit on
                    // one entry keeps its stamp only.
                    if let Some(raw) = self.loaded.remove(&key) {
                        kept.push((key.clone(), raw));
                    }
                    stamps.extend(stamp_key.map(|stamp_key| (stamp_key, key)));
                }
                Entry::Fresh(key, raw, stamp_key) => {
                    stamps.extend(stamp_key.map(|stamp_key| (stamp_key, key.clone())));
                    kept.push((key, raw));
                }
                Entry::Binary(stamp_key) => stamps.push((stamp_key, BINARY.to_string())),
            }
        }
        kept.sort_by(|a, b| a.0.cmp(&b.0));
        kept.dedup_by(|a, b| a.0 == b.0);
        stamps.sort();
        stamps.dedup_by(|a, b| a.0 == b.0);
        let written = if self.write {
            write(&self.dir, &self.file, &kept, &stamps)
        } else {
            Ok(0)
        };
        let save = start.elapsed();
        // Only an audit that wrote its own cache file removes the others.
        let removed = if self.write && written.is_ok() {
            prune(&self.dir, &self.file, std::time::SystemTime::now())
        } else {
            0
        };
        match &written {
            Ok(_) => {}
            Err(e) => eprintln!(
                "prodready: cannot write the cache file {}: {e}",
                self.file.display()
            ),
        }
        if crate::timings::enabled() {
            let s = &self.stats;
            let secs = |nanos: &AtomicU64| nanos.load(Ordering::Relaxed) as f64 / 1e9;
            eprintln!(
                "cache: {} hits ({} by stamp, unread), {} binary files by stamp (unread), {} misses, {} not cacheable, {} rejected entries",
                s.hits.load(Ordering::Relaxed),
                s.stamp_hits.load(Ordering::Relaxed),
                s.binary_hits.load(Ordering::Relaxed),
                s.misses.load(Ordering::Relaxed),
                s.not_cacheable.load(Ordering::Relaxed),
                s.rejected.load(Ordering::Relaxed),
            );
            eprintln!(
                "cache: loaded {} entries ({:.1} MB) in {:.3} s; saved {} entries ({:.1} MB) in {:.3} s; {removed} old cache files removed",
                s.loaded_entries,
                s.load_bytes as f64 / 1e6,
                s.load.as_secs_f64(),
                kept.len(),
                written.unwrap_or(0) as f64 / 1e6,
                save.as_secs_f64(),
            );
            eprintln!(
                "cache: keys {:.3} s, deserialise {:.3} s, serialise {:.3} s (summed over threads)",
                secs(&s.key_nanos),
                secs(&s.decode_nanos),
                secs(&s.encode_nanos),
            );
        }
    }
}

fn add_nanos(counter: &AtomicU64, start: Instant) {
    if crate::timings::enabled() {
        let nanos = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        counter.fetch_add(nanos, Ordering::Relaxed);
    }
}

fn create_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// The entries of a cache file: none when it is missing, unreadable, not a cache file of this
/// version and format, or not valid JSON.
fn load(file: &Path) -> Loaded {
    let start = Instant::now();
    let Ok(text) = std::fs::read_to_string(file) else {
        return Loaded::default();
    };
    let mut loaded = Loaded {
        bytes: text.len() as u64,
        ..Loaded::default()
    };
    if let Ok(stored) = serde_json::from_str::<Stored>(&text)
        && stored.format == FORMAT
        && stored.version == env!("CARGO_PKG_VERSION")
    {
        loaded.entries = stored.entries;
        loaded.stamps = stored.stamps;
    }
    loaded.took = start.elapsed();
    loaded
}

/// Writes the cache file through a temporary file in the same directory, renamed over it.
/// Returns the bytes written.
fn write(
    dir: &Path,
    file: &Path,
    entries: &[(Key, Box<RawValue>)],
    stamps: &[(Key, Key)],
) -> std::io::Result<u64> {
    let temporary = tempfile::Builder::new()
        .prefix(".prodready-cache-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, temporary);
    let version = serde_json::to_string(env!("CARGO_PKG_VERSION"))?;
    write!(
        out,
        "{{\"format\":{FORMAT},\"version\":{version},\"entries\":{{"
    )?;
    for (i, (key, raw)) in entries.iter().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        write!(out, "\"{key}\":")?;
        out.write_all(raw.get().as_bytes())?;
    }
    out.write_all(b"},\"stamps\":{")?;
    for (i, (stamp_key, key)) in stamps.iter().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        write!(out, "\"{stamp_key}\":\"{key}\"")?;
    }
    out.write_all(b"}}")?;
    let temporary = out.into_inner().map_err(|e| e.into_error())?;
    let bytes = temporary.as_file().metadata()?.len();
    temporary.persist(file).map_err(|e| e.error)?;
    Ok(bytes)
}

/// Removes from `dir` the cache files other than `keep` that were last written more than
/// [`KEEP_UNUSED`] before `now`, and the temporary files older than [`KEEP_TEMPORARY`]; returns
/// how many it removed. Only regular files with the names this module gives are touched (never a
/// symbolic link, a folder or another file); whatever cannot be listed, read or removed is left.
fn prune(dir: &Path, keep: &Path, now: std::time::SystemTime) -> usize {
    let Ok(listing) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in listing.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            continue;
        };
        let kept_for = if CACHE_FILE_NAME.is_match(name) {
            KEEP_UNUSED
        } else if TEMPORARY_FILE_NAME.is_match(name) {
            KEEP_TEMPORARY
        } else {
            continue;
        };
        let path = entry.path();
        // `DirEntry::metadata` does not follow a symbolic link.
        let Ok(metadata) = entry.metadata() else {
            continue;
        };
        let idle = metadata
            .modified()
            .ok()
            .and_then(|modified| now.duration_since(modified).ok());
        if path != keep
            && metadata.is_file()
            && idle.is_some_and(|idle| idle > kept_for)
            && std::fs::remove_file(&path).is_ok()
        {
            removed += 1;
        }
    }
    removed
}

/// Why a file's facts must not be cached, if they must not: its analysis was incomplete, a
/// secret was detected in it (so no secret, masked or not, is ever stored), or one of its string
/// constants (kept whole in the metric facts, which no report prints) could be a credential that
/// detection missed: a run of 16 or more letters and digits with high entropy.
pub fn not_cacheable(facts: &FileFacts) -> Option<&'static str> {
    if !facts.not_analysed.is_empty() {
        Some("it was not fully analysed")
    } else if facts.secrets_detected {
        Some("a secret was detected in it")
    } else if facts.metrics.as_ref().is_some_and(|metrics| {
        metrics
            .constants
            .values()
            .flatten()
            .any(|value| may_be_credential(value))
    }) {
        Some("a string constant could be a credential")
    } else {
        None
    }
}

/// `PRODREADY_CACHE_DEBUG=1`: say on standard error which files are not cached and why.
fn debug() -> bool {
    static ON: LazyLock<bool> = LazyLock::new(|| {
        std::env::var_os("PRODREADY_CACHE_DEBUG").is_some_and(|v| !v.is_empty() && v != "0")
    });
    *ON
}

/// A run of at least 16 ASCII letters and digits with at least 3 bits of entropy per character.
fn may_be_credential(value: &str) -> bool {
    value
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|run| run.len() >= 16 && entropy(run) >= 3.0)
}

/// The digest of a finding's rule by code; an unknown code fails the entry.
pub mod rule_code {
    use super::*;

    static BY_CODE: LazyLock<HashMap<&'static str, &'static Rule>> = LazyLock::new(|| {
        registry()
            .rules()
            .iter()
            .map(|r| (r.code.as_str(), r))
            .collect()
    });

    pub fn serialize<S: serde::Serializer>(rule: &&'static Rule, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(rule.code.as_str())
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<&'static Rule, D::Error> {
        let code = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        BY_CODE
            .get(code.as_ref())
            .copied()
            .ok_or_else(|| serde::de::Error::custom(format!("no rule {code}")))
    }
}

/// A finding's span with its byte range, which the reports leave out but sorting and masking
/// need.
pub mod span {
    use std::ops::Range;

    use super::*;
    use crate::finding::Span;

    #[derive(Serialize, Deserialize)]
    struct Stored {
        start_line: usize,
        start_column: usize,
        end_line: usize,
        end_column: usize,
        bytes: Range<usize>,
    }

    impl From<&Span> for Stored {
        fn from(span: &Span) -> Stored {
            Stored {
                start_line: span.start_line,
                start_column: span.start_column,
                end_line: span.end_line,
                end_column: span.end_column,
                bytes: span.bytes.clone(),
            }
        }
    }

    impl From<Stored> for Span {
        fn from(stored: Stored) -> Span {
            Span {
                start_line: stored.start_line,
                start_column: stored.start_column,
                end_line: stored.end_line,
                end_column: stored.end_column,
                bytes: stored.bytes,
            }
        }
    }

    pub fn serialize<S: serde::Serializer>(span: &Option<Span>, s: S) -> Result<S::Ok, S::Error> {
        span.as_ref().map(Stored::from).serialize(s)
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Span>, D::Error> {
        Ok(Option::<Stored>::deserialize(d)?.map(Span::from))
    }

    /// The same for a span that is always there (a `Site`'s).
    pub mod one {
        use super::*;

        pub fn serialize<S: serde::Serializer>(span: &Span, s: S) -> Result<S::Ok, S::Error> {
            Stored::from(span).serialize(s)
        }

        pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Span, D::Error> {
            Stored::deserialize(d).map(Span::from)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pruning_removes_only_cache_files_left_alone_too_long() {
        let dir = tempfile::tempdir().expect("tempdir");
        let now = std::time::SystemTime::now();
        let day = Duration::from_secs(24 * 60 * 60);
        let digest = "0123456789abcdef0123456789abcdef";
        let write = |name: &str, age: Duration| {
            let path = dir.path().join(name);
            let file = std::fs::File::create(&path).expect("create");
            file.set_modified(now - age).expect("set mtime");
            path
        };
        let stale = write(&format!("v3-{digest}.json"), 31 * day);
        let recent = write(&format!("v4-{}.json", digest.replace('0', "f")), 29 * day);
        let own = write(&format!("v4-{}.json", digest.replace('1', "e")), 40 * day);
        let stale_temporary = write(".prodready-cache-a1B2c3.tmp", 2 * day);
        let fresh_temporary = write(".prodready-cache-d4E5f6.tmp", day / 2);
        let others = [
            write("notes.json", 90 * day),
            write(&format!("v4-{digest}.json.bak"), 90 * day),
            write("v4-short.json", 90 * day),
            write(&format!("V4-{digest}.json"), 90 * day),
        ];
        let folder = dir
            .path()
            .join(format!("v2-{}.json", digest.replace('2', "d")));
        std::fs::create_dir(&folder).expect("mkdir");

        assert_eq!(prune(dir.path(), &own, now), 2);
        assert!(!stale.exists() && !stale_temporary.exists());
        for kept in [&recent, &own, &fresh_temporary, &folder]
            .into_iter()
            .chain(&others)
        {
            assert!(kept.exists(), "{} kept", kept.display());
        }
        // A symbolic link with a cache file's name is not followed, nor removed.
        #[cfg(unix)]
        {
            let link = dir
                .path()
                .join(format!("v1-{}.json", digest.replace('3', "c")));
            std::os::unix::fs::symlink(&others[0], &link).expect("symlink");
            assert_eq!(
                prune(dir.path(), &own, now + 60 * day),
                2,
                "recent, fresh tmp"
            );
            assert!(std::fs::symlink_metadata(&link).is_ok() && others[0].exists());
        }
        // A folder that cannot be listed: nothing removed, nothing fails.
        assert_eq!(prune(&dir.path().join("missing"), &own, now), 0);
    }

    #[test]
    fn a_path_that_does_not_exist_yet_resolves_under_its_existing_parent() {
        let root = tempfile::tempdir().expect("tempdir");
        let canonical = std::fs::canonicalize(root.path()).expect("canonical");
        let inner = root.path().join("a/b/../c");
        assert_eq!(resolve(&inner), canonical.join("a/c"));
        assert!(inside(&inner, root.path()));
        assert!(inside(root.path(), root.path()));
        assert!(!inside(&root.path().join("../elsewhere"), root.path()));
    }

    #[test]
    fn a_finding_round_trips_with_its_byte_range_and_rule() {
        use crate::finding::Finding;
        use crate::source::Source;
        let source = Source::new(
            "src/main.rs",
            "fn main() {\n    let x = 1;\n}\n".to_string(),
        );
        let finding = Finding::at(crate::registry::Code::OPS001, &source, 16..26, "a message")
            .with_fix("a fix");
        let json = serde_json::to_string(&finding).expect("serialises");
        let back: Finding = serde_json::from_str(&json).expect("deserialises");
        assert_eq!(back.span, finding.span);
        assert_eq!(back.span.as_ref().map(|s| s.bytes.clone()), Some(16..26));
        assert!(std::ptr::eq(back.rule, finding.rule));
        assert_eq!(back.sort_key(), finding.sort_key());
        assert_eq!(back.line_key, finding.line_key);
        assert_eq!(back.fix_text(), "a fix");
        let snippet = |f: &Finding| f.snippet.as_ref().map(|s| (s.first_line, s.text.clone()));
        assert_eq!(snippet(&back), snippet(&finding));

        // An unknown rule code fails the entry, not the process.
        let unknown = json.replace("\"OPS001\"", "\"XYZ999\"");
        assert!(serde_json::from_str::<Finding>(&unknown).is_err());
    }

    #[test]
    fn credential_like_constants_are_told_from_metric_names() {
        assert!(may_be_credential("q8ZmV2pX7rL0wT5nK3jH"));
        assert!(!may_be_credential("http_requests_total"));
        assert!(!may_be_credential("aaaaaaaaaaaaaaaaaaaaaaaa"));
    }
}
