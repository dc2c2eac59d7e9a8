//! The audit: discovery, the per-file phase in parallel, the project phase, then the final
//! findings, the checklist and the gate.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use globset::{Glob, GlobSet, GlobSetBuilder};
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::baseline::BaselineOutcome;
use crate::cache::Stamped;
use crate::checks::{self, Budget, ProjectContext, RuleSet};
use crate::config::{Config, Gate, PathAllow};
use crate::facts::{self, FileFacts, cargo::CargoProject, cargo::Lockfile, cargo::Manifest};
use crate::finding::{CodeKind, Finding, Suppression};
use crate::project::{path_code_kind, subjects};
use crate::registry::{Rule, RuleStatus, Severity, Subject, TestCodePolicy, registry};
use crate::score::{Scorecard, fails_item, scorecard};
use crate::source::{FileKind, Source};
use crate::suppress::{Allow, Date};
use crate::walk::{Candidate, SkipReason, discover, relative};

/// Parsing threads get a large stack: deeply nested (but accepted) code recurses deeply in syn.
pub const PARSER_STACK: usize = 64 * 1024 * 1024;

/// Bytes looked at to decide whether a file is binary.
const BINARY_SNIFF: usize = 8 * 1024;

#[derive(Debug, Default, Clone)]
pub struct FileStats {
    pub scanned: usize,
    pub lines: usize,
    pub by_kind: BTreeMap<FileKind, usize>,
    pub skipped_files: BTreeMap<SkipReason, usize>,
    pub skipped_dirs: BTreeMap<SkipReason, usize>,
    /// Files not read, each with why: binary, too large, symbolic links and special files.
    /// (Gitignored, excluded and build files are only counted.)
    pub skipped: Vec<(String, String)>,
    /// Files analysed in full, but with something worth saying: a byte-order mark, invalid
    /// UTF-8, unusual line endings, no content, a file name that is not UTF-8.
    pub notes: Vec<(String, String)>,
    /// Analysed at text level only: path and why it was not parsed.
    pub not_parsed: Vec<(String, String)>,
    /// Not analysed, or only in part (unreadable, an internal error in a rule family, the time
    /// budget spent): path and reason. Makes the report incomplete.
    pub failed: Vec<(String, String)>,
    /// Templates (Helm charts, `{{ }}` that breaks YAML): not audited by the rules that read
    /// manifests, which never guess what they render to.
    pub templated: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct GateOutcome {
    pub passed: bool,
    /// Why the gate failed (empty when it passed).
    pub reasons: Vec<String>,
}

pub struct Report {
    /// The audited root, as the user gave it.
    pub root: String,
    /// Final findings, sorted.
    pub findings: Vec<Finding>,
    pub scorecard: Scorecard,
    pub files: FileStats,
    /// Present subjects with their evidence.
    pub subjects: BTreeMap<Subject, String>,
    pub gate: GateOutcome,
    /// What the baseline given to the audit matched, if one was.
    pub baseline: Option<BaselineOutcome>,
    /// With `--changed-since`: what the change did (see `changes`).
    pub changes: Option<crate::changes::Changes>,
}

impl Report {
    /// Some file could not be analysed.
    pub fn incomplete(&self) -> bool {
        !self.files.failed.is_empty()
    }

    /// The audit's exit code; see [`exit_code`].
    pub fn exit_code(&self) -> u8 {
        exit_code(self.gate.passed, self.incomplete())
    }
}

/// 0 the gate passed; 1 it failed; 3 it passed but some file was not analysed. A failed gate
/// wins over an incomplete report. (2, an error that stopped the audit, never has a report.)
pub fn exit_code(gate_passed: bool, incomplete: bool) -> u8 {
    match (gate_passed, incomplete) {
        (false, _) => 1,
        (true, true) => 3,
        (true, false) => 0,
    }
}

/// Whether a rule belongs to the rule set of an audit: stable rules always, preview rules only
/// when the user opted in.
pub fn offered(rule: &Rule, config: &Config) -> bool {
    rule.status == RuleStatus::Stable || config.preview
}

/// Which rules run and which are skipped, from `select` and `ignore`, among the rules offered.
pub fn selected_rules(config: &Config) -> Result<Vec<&'static Rule>, String> {
    let mut selected: BTreeSet<&str> = BTreeSet::new();
    match &config.select {
        None => selected.extend(
            registry()
                .rules()
                .iter()
                .filter(|r| offered(r, config))
                .map(|r| r.code.as_str()),
        ),
        Some(selectors) => {
            for selector in selectors {
                let matched = registry().matching(selector);
                if matched.is_empty() {
                    return Err(format!("`{selector}` in select matches no rule"));
                }
                let offered: Vec<&Rule> =
                    matched.into_iter().filter(|r| offered(r, config)).collect();
                if offered.is_empty() {
                    return Err(format!(
                        "`{selector}` in select matches only preview rules: run with --preview (or `preview = true`) to opt in"
                    ));
                }
                selected.extend(offered.into_iter().map(|r| r.code.as_str()));
            }
        }
    }
    for selector in &config.ignore {
        let matched = registry().matching(selector);
        if matched.is_empty() {
            return Err(format!("`{selector}` in ignore matches no rule"));
        }
        for rule in matched {
            selected.remove(rule.code.as_str());
        }
    }
    Ok(registry()
        .rules()
        .iter()
        .filter(|r| selected.contains(r.code.as_str()))
        .collect())
}

enum Outcome {
    Analysed(Box<FileFacts>),
    Skipped(SkipReason, String, String),
    Failed(String, String),
}

/// A file read as text, with what was odd about its bytes.
struct Text {
    text: String,
    notes: Vec<String>,
    /// Why the file is not parsed, when that is known before its analysis (a Cargo manifest
    /// the Cargo model could not read).
    not_parsed: Option<String>,
}

/// Reads a file as text: `None` for binary content.
fn read_text(candidate: &Candidate) -> Result<Option<Text>, String> {
    Ok(decode(read(candidate)?, FileKind::of(&candidate.path)))
}

/// Reads a file's bytes; of a binary file (`is_binary`), only its first 8 KiB, which is all
/// that is ever looked at: a repository's archives and libraries are not read through.
fn read(candidate: &Candidate) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let read = || -> std::io::Result<Vec<u8>> {
        let mut file = std::fs::File::open(&candidate.abs)?;
        // The size from the walk is a hint: the file may have grown or shrunk since.
        let size = usize::try_from(candidate.size).unwrap_or(0);
        let mut bytes = Vec::with_capacity(size.min(BINARY_SNIFF));
        (&mut file)
            .take(BINARY_SNIFF as u64)
            .read_to_end(&mut bytes)?;
        if bytes.len() == BINARY_SNIFF && !is_binary(&bytes) {
            // A size too large to reserve is left to the reads to grow into.
            let _ = bytes.try_reserve_exact(size.saturating_add(1).saturating_sub(bytes.len()));
            file.read_to_end(&mut bytes)?;
        }
        Ok(bytes)
    };
    crate::timings::time(crate::timings::Step::Read, read).map_err(|e| format!("cannot read: {e}"))
}

/// Whether bytes are binary content (a NUL byte in the first 8 KiB); see `decode`.
fn is_binary(bytes: &[u8]) -> bool {
    bytes[..bytes.len().min(BINARY_SNIFF)].contains(&0)
}

/// Decodes a file's bytes: `None` for binary content (a NUL byte in the first 8 KiB).
fn decode(bytes: Vec<u8>, kind: FileKind) -> Option<Text> {
    if is_binary(&bytes) {
        return None;
    }
    let mut notes = Vec::new();
    // An empty source or configuration file is worth a word; an empty `.gitkeep` is not.
    if kind != FileKind::Text && bytes.iter().all(u8::is_ascii_whitespace) {
        notes.push(if bytes.is_empty() {
            "empty file".to_string()
        } else {
            "only whitespace".to_string()
        });
    }
    let mut text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let bytes = e.as_bytes();
            let line = 1 + bytes[..at].iter().filter(|&&b| b == b'\n').count();
            notes.push(format!(
                "not valid UTF-8 (first at line {line}, byte {at}): invalid bytes read as U+FFFD"
            ));
            String::from_utf8_lossy(bytes).into_owned()
        }
    };
    // A byte-order mark is dropped by some parsers (syn) and counted by others: drop it here
    // so that every parser and every span agree on positions.
    if text.starts_with('\u{feff}') {
        text.drain(..'\u{feff}'.len_utf8());
        notes.push("starts with a UTF-8 byte-order mark (ignored)".to_string());
    }
    // Most files hold no CR at all: one fast count settles them.
    let cr = memchr::memchr_iter(b'\r', text.as_bytes()).count();
    let crlf = if cr == 0 {
        0
    } else {
        memchr::memmem::find_iter(text.as_bytes(), b"\r\n").count()
    };
    let lone_cr = cr - crlf;
    if crlf > 0 {
        notes.push("CRLF line endings (read as LF)".to_string());
    }
    if lone_cr > 0 {
        notes.push(format!(
            "{lone_cr} lone CR line ending(s): lines are counted at LF only"
        ));
    }
    Some(Text {
        text,
        notes,
        not_parsed: None,
    })
}

/// What the report says about a panic. Never its payload: a slicing panic quotes the text it
/// sliced, which may hold a secret. `install_panic_hook` prints where it happened instead.
const INTERNAL_ERROR: &str =
    "internal error (a bug in prodready; its location is on standard error)";

/// Replaces the default panic message (which quotes the payload) with the location only.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let location = info.location().map_or_else(
            || "an unknown place".to_string(),
            |l| format!("{}:{}", l.file(), l.line()),
        );
        eprintln!("prodready: internal error at {location}");
    }));
}

/// Runs an audit of `root`, without the cache. `gate` is the configuration's gate with
/// command-line overrides.
pub fn audit(root: &Path, config: &Config, threads: Option<usize>) -> Result<Report, String> {
    audit_cached(root, config, threads, None)
}

/// Runs an audit of `root`, with the per-file facts cache if one is given (see `cache`): the
/// report is the same with or without it.
pub fn audit_cached(
    root: &Path,
    config: &Config,
    threads: Option<usize>,
    cache: Option<crate::cache::CacheUse<'_>>,
) -> Result<Report, String> {
    let metadata =
        std::fs::metadata(root).map_err(|e| format!("cannot audit {}: {e}", root.display()))?;
    if !metadata.is_dir() {
        return Err(format!("cannot audit {}: not a directory", root.display()));
    }
    let mut phases = crate::timings::Phases::start();
    let rules = selected_rules(config)?;
    let today = crate::suppress::today()?;
    let path_allows = path_allows(root, config)?;
    let rule_set = RuleSet::new(rules.iter().copied());
    let pool = rayon::ThreadPoolBuilder::new()
        .stack_size(PARSER_STACK)
        .num_threads(threads.unwrap_or(0))
        .build()
        .map_err(|e| format!("cannot start worker threads: {e}"))?;

    // The cache file loads while discovery and the Cargo model run.
    let opening = cache.and_then(|how| {
        crate::cache::Cache::start(how, &crate::cache::config_digest(config, &rules))
    });
    let discovery = discover(
        root,
        &config.exclude,
        config.max_file_size,
        pool.current_num_threads(),
    );
    let mut stats = FileStats {
        skipped_files: discovery.skipped_files.clone(),
        skipped_dirs: discovery.skipped_dirs.clone(),
        skipped: discovery.skipped.clone(),
        notes: discovery.notes.clone(),
        failed: discovery.errors.clone(),
        // A broken ignore rule leaves the file read only in part; the audit is still complete.
        not_parsed: discovery.ignore_file_errors.clone(),
        ..FileStats::default()
    };
    let paths: BTreeSet<String> = discovery.files.iter().map(|c| c.path.clone()).collect();
    phases.mark("discovery");

    // Phase zero: the Cargo model, which per-file checks may consult.
    let (cargo, manifest_reads) = pool.install(|| load_cargo(&discovery.files, &paths));
    phases.mark("cargo model");
    let cache = opening.map(|opening| opening.finish(&model_digest(&cargo, &manifest_reads)));
    phases.mark("cache load (beyond discovery and the Cargo model)");

    // Phase one: every file, in parallel, read and parsed once (or its facts taken from the
    // cache when its bytes are those of a cached entry, or, unread, when its stamp is the one
    // recorded with them).
    // Manifests are read for the Cargo model anyway: they get no stamp key.
    let stamp_key = |candidate: &Candidate| {
        let cache = cache.as_ref()?;
        cache.stamp_key(&candidate.path, candidate.stamp.as_ref()?)
    };
    let analyse = |candidate: &Candidate,
                   key: Option<crate::cache::Key>,
                   stamp_key: Option<crate::cache::Key>,
                   text: Box<dyn FnOnce() -> Option<Text> + '_>| {
        if let (Some(cache), Some(key)) = (&cache, &key)
            && let Some(facts) = cache.get(key)
        {
            return (
                Outcome::Analysed(Box::new(facts)),
                crate::cache::Entry::Hit(key.clone(), stamp_key),
            );
        }
        let outcome = analyse_guarded(
            candidate,
            Ok(text()),
            &cargo,
            &rule_set,
            config,
            facts::Tree::Gated,
        );
        let entry = match (&outcome, &cache, key) {
            (Outcome::Analysed(facts), Some(cache), Some(key)) => {
                cache.fresh(key, stamp_key, facts)
            }
            _ => crate::cache::Entry::None,
        };
        (outcome, entry)
    };
    let outcomes: Vec<(Outcome, crate::cache::Entry)> = pool.install(|| {
        discovery
            .files
            .par_iter()
            .map(|candidate| match manifest_reads.get(&candidate.path) {
                Some(ManifestRead::Text(text, notes, parse_error)) => {
                    let key = cache
                        .as_ref()
                        .map(|c| c.key(&candidate.path, text.as_bytes()));
                    analyse(
                        candidate,
                        key,
                        None,
                        Box::new(|| {
                            Some(Text {
                                text: text.clone(),
                                notes: notes.clone(),
                                not_parsed: parse_error.clone(),
                            })
                        }),
                    )
                }
                Some(ManifestRead::Binary) => (binary(candidate), crate::cache::Entry::None),
                Some(ManifestRead::Unreadable(reason)) => (
                    Outcome::Failed(candidate.path.clone(), reason.clone()),
                    crate::cache::Entry::None,
                ),
                None => {
                    let stamp_key = stamp_key(candidate);
                    if let (Some(cache), Some(stamp_key)) = (&cache, &stamp_key) {
                        match cache.by_stamp(stamp_key) {
                            Some(Stamped::Facts(key, facts)) => {
                                return (
                                    Outcome::Analysed(facts),
                                    crate::cache::Entry::Hit(key, Some(stamp_key.clone())),
                                );
                            }
                            Some(Stamped::Binary) => {
                                let entry = crate::cache::Entry::Binary(stamp_key.clone());
                                return (binary(candidate), entry);
                            }
                            None => {}
                        }
                    }
                    match read(candidate) {
                        Ok(bytes) if is_binary(&bytes) => {
                            let entry = stamp_key.map_or(crate::cache::Entry::None, |stamp_key| {
                                crate::cache::Entry::Binary(stamp_key)
                            });
                            (binary(candidate), entry)
                        }
                        Ok(bytes) => {
                            let key = cache.as_ref().map(|c| c.key(&candidate.path, &bytes));
                            let kind = FileKind::of(&candidate.path);
                            let text = Box::new(move || decode(bytes, kind));
                            analyse(candidate, key, stamp_key, text)
                        }
                        Err(reason) => (
                            Outcome::Failed(candidate.path.clone(), reason),
                            crate::cache::Entry::None,
                        ),
                    }
                }
            })
            .collect()
    });
    let (outcomes, entries): (Vec<Outcome>, Vec<crate::cache::Entry>) =
        outcomes.into_iter().unzip();
    // Written while the project phase runs; waited for before the audit returns.
    let saving = cache.map(|cache| std::thread::spawn(move || cache.save(entries)));
    let mut files = Vec::with_capacity(outcomes.len());
    for outcome in outcomes {
        match outcome {
            Outcome::Analysed(facts) => files.push(*facts),
            Outcome::Skipped(reason, path, why) => {
                *stats.skipped_files.entry(reason).or_default() += 1;
                stats.skipped.push((path, why));
            }
            Outcome::Failed(path, reason) => stats.failed.push((path, reason)),
        }
    }

    let candidates: HashMap<&str, &Candidate> = discovery
        .files
        .iter()
        .map(|c| (c.path.as_str(), c))
        .collect();
    // Files whose tree only their logging and load-limiting uses needed: analysed again, with
    // their tree, when the project checks' verdict depends on those uses.
    if files.iter().any(|f| f.uses_pending) {
        let present = subjects(&files, &cargo, &paths);
        let ctx = ProjectContext {
            files: &files,
            cargo: &cargo,
            paths: &paths,
            subjects: &present,
            rules: &rule_set,
            drift_vocabulary: &config.drift_vocabulary,
        };
        if checks::needs_every_use(&ctx) {
            let pending: Vec<usize> = (0..files.len())
                .filter(|&i| files[i].uses_pending)
                .collect();
            let redone: Vec<(usize, Outcome)> = pool.install(|| {
                pending
                    .par_iter()
                    .filter_map(|&i| {
                        let candidate = candidates.get(files[i].path.as_str())?;
                        let text = read_text(candidate);
                        let outcome = analyse_guarded(
                            candidate,
                            text,
                            &cargo,
                            &rule_set,
                            config,
                            facts::Tree::Always,
                        );
                        Some((i, outcome))
                    })
                    .collect()
            });
            let mut failed = HashSet::new();
            for (i, outcome) in redone {
                match outcome {
                    Outcome::Analysed(facts) => files[i] = *facts,
                    Outcome::Failed(path, reason) => {
                        failed.insert(path.clone());
                        stats.failed.push((path, reason));
                    }
                    // Read as text a moment ago: it cannot have become binary but for a
                    // change under the audit; its first facts stand.
                    Outcome::Skipped(..) => files[i].uses_pending = false,
                }
            }
            files.retain(|f| !failed.contains(&f.path));
        }
    }

    if rule_set.any("OBS") || rule_set.any("DRF") {
        let read = |path: &str| {
            let candidate = candidates.get(path)?;
            read_text(candidate).ok().flatten().map(|t| t.text)
        };
        pool.install(|| facts::read_metric_constants(&mut files, read));
    }

    phases.mark("per-file phase");
    facts::kubernetes::settle(&mut files, &paths);

    // Phase two: project-level checks over the facts.
    let present = subjects(&files, &cargo, &paths);
    let mut findings: Vec<Finding> = files
        .iter_mut()
        .flat_map(|f| std::mem::take(&mut f.findings))
        .collect();
    let ctx = ProjectContext {
        files: &files,
        cargo: &cargo,
        paths: &paths,
        subjects: &present,
        rules: &rule_set,
        drift_vocabulary: &config.drift_vocabulary,
    };
    let mut project_findings = Vec::new();
    for incident in checks::check_project(&ctx, &mut project_findings) {
        stats
            .failed
            .push((String::from("<project checks>"), incident));
    }
    findings.extend(project_findings);
    phases.mark("project phase");

    for facts in &files {
        stats.scanned += 1;
        stats.lines += facts.lines;
        *stats.by_kind.entry(facts.kind).or_default() += 1;
        if facts.yaml.as_ref().is_some_and(|y| y.deploy.templated) {
            stats.templated.push(facts.path.clone());
        } else if let Some(reason) = &facts.not_parsed {
            stats.not_parsed.push((facts.path.clone(), reason.clone()));
        }
        for note in &facts.notes {
            stats.notes.push((facts.path.clone(), note.clone()));
        }
        for incident in &facts.incidents {
            stats.failed.push((facts.path.clone(), incident.clone()));
        }
    }
    stats.failed.sort();
    stats.not_parsed.sort();
    stats.skipped.sort();
    stats.notes.sort();
    stats.templated.sort();

    let allows = Allows {
        files: &files,
        config: path_allows,
        today,
    };
    let mut findings = finalise(findings, &files, &allows, &rule_set, &present, config);
    let baseline = config
        .baseline
        .as_ref()
        .map(|b| b.apply(&mut findings, &rule_set));
    let selected: BTreeSet<&str> = rules.iter().map(|r| r.code.as_str()).collect();
    let scorecard = scorecard(
        &findings,
        &selected,
        &present,
        &config.severity,
        |rule: &Rule| offered(rule, config),
    );
    let gate = evaluate_gate(&config.gate, &scorecard, &findings);
    phases.mark("finalise and score");
    if let Some(saving) = saving {
        // A panic while saving leaves the old cache file in place; the report stands.
        let _ = saving.join();
    }
    phases.mark("cache save (beyond the project phase)");
    phases.report();
    Ok(Report {
        root: root.display().to_string(),
        findings,
        scorecard,
        files: stats,
        subjects: present,
        gate,
        baseline,
        changes: None,
    })
}

/// A configuration `[[allow]]` entry ready to match findings: its paths compiled, and the
/// OPS006 finding it earns, pointing into the configuration file, if it proves ineffective.
struct ConfigAllow<'a> {
    allow: &'a Allow,
    /// `None`: the whole project.
    paths: Option<GlobSet>,
    template: Finding,
}

/// Compiles the configuration's `[[allow]]` entries. Globs follow `exclude`: `dir`, `dir/`
/// and `dir/**` all mean the folder.
fn path_allows<'a>(root: &Path, config: &'a Config) -> Result<Vec<ConfigAllow<'a>>, String> {
    let (Some(origin), Some(text)) = (&config.origin, &config.origin_text) else {
        return Ok(Vec::new());
    };
    if config.allows.is_empty() {
        return Ok(Vec::new());
    }
    let source = Source::new(relative(root, origin), text.clone());
    // The entry's lines are shown with its OPS006 finding: mask the file's secrets.
    let settings = toml::de::DeTable::parse(text)
        .map(|table| facts::settings::from_toml(table.get_ref()))
        .unwrap_or_default();
    let parsed = checks::Parsed {
        settings: Some(&settings),
        ..checks::Parsed::default()
    };
    let secrets = checks::secrets::detect(&source, FileKind::Toml, &parsed);
    source.set_secret_spans(secrets.into_iter().map(|d| d.secret).collect());
    config
        .allows
        .iter()
        .map(|PathAllow { paths, allow }| {
            let paths = match paths {
                None => None,
                Some(globs) => {
                    let mut builder = GlobSetBuilder::new();
                    for glob in globs {
                        let trimmed = glob.trim_end_matches('/');
                        for pattern in [trimmed.to_string(), format!("{trimmed}/**")] {
                            builder.add(Glob::new(&pattern).map_err(|e| e.to_string())?);
                        }
                    }
                    Some(builder.build().map_err(|e| e.to_string())?)
                }
            };
            Ok(ConfigAllow {
                allow,
                paths,
                template: allow.ineffective(&source, String::new()),
            })
        })
        .collect()
}

/// Every allow of an audit: the comments found in files and the configuration's entries.
struct Allows<'a> {
    files: &'a [FileFacts],
    config: Vec<ConfigAllow<'a>>,
    today: Date,
}

/// A Cargo.toml or Cargo.lock, read in phase zero: its text, notes on its bytes and, if it
/// failed to parse, why.
enum ManifestRead {
    Text(String, Vec<String>, Option<String>),
    Binary,
    Unreadable(String),
}

/// Reads and parses every Cargo.toml and Cargo.lock once.
fn load_cargo(
    candidates: &[Candidate],
    paths: &BTreeSet<String>,
) -> (CargoProject, HashMap<String, ManifestRead>) {
    /// One manifest or lockfile, read and parsed (in parallel), before it joins the model.
    enum Model {
        Lock(String, Lockfile),
        Manifest(Box<Manifest>),
        Neither,
    }
    let loaded: Vec<(&Candidate, ManifestRead, Model)> = candidates
        .par_iter()
        .filter(|c| crate::source::is_cargo_manifest_or_lock(&c.path))
        .map(|candidate| {
            let Text { text, notes, .. } = match read_text(candidate) {
                Ok(Some(text)) => text,
                Ok(None) => return (candidate, ManifestRead::Binary, Model::Neither),
                Err(reason) => {
                    return (candidate, ManifestRead::Unreadable(reason), Model::Neither);
                }
            };
            let (model, parse_error) = if let Some(reason) = facts::too_large(text.len()) {
                (Model::Neither, Some(reason))
            } else if candidate.path.ends_with("Cargo.lock") {
                let dir = candidate.path.rsplit_once('/').map_or("", |(d, _)| d);
                match Lockfile::parse(&text) {
                    Ok(lock) => (Model::Lock(dir.to_string(), lock), None),
                    // A lock that does not parse still exists and still pins.
                    Err(reason) => (
                        Model::Lock(dir.to_string(), Lockfile::default()),
                        Some(reason),
                    ),
                }
            } else {
                let source = Source::new(candidate.path.clone(), text.clone());
                match Manifest::parse(source, paths, path_code_kind(&candidate.path)) {
                    Ok(manifest) => {
                        // Manifest lines are shown by project-level findings: mask their secrets.
                        let parsed = checks::Parsed {
                            settings: Some(&manifest.settings),
                            ..checks::Parsed::default()
                        };
                        let secrets =
                            checks::secrets::detect(&manifest.source, FileKind::Toml, &parsed);
                        manifest
                            .source
                            .set_secret_spans(secrets.into_iter().map(|d| d.secret).collect());
                        (Model::Manifest(Box::new(manifest)), None)
                    }
                    Err(reason) => (Model::Neither, Some(reason)),
                }
            };
            (
                candidate,
                ManifestRead::Text(text, notes, parse_error),
                model,
            )
        })
        .collect();
    let mut manifests = Vec::new();
    let mut locks = BTreeMap::new();
    let mut reads = HashMap::new();
    for (candidate, read, model) in loaded {
        match model {
            Model::Lock(dir, lock) => {
                locks.insert(dir, lock);
            }
            Model::Manifest(manifest) => manifests.push(*manifest),
            Model::Neither => {}
        }
        reads.insert(candidate.path.clone(), read);
    }
    (CargoProject::new(manifests, locks), reads)
}

/// The digest of what the Cargo model is built from, for the cache's keys: the path and text of
/// every manifest and lockfile read in phase zero, and which targets each package has (found
/// from the paths of `src/main.rs`, `src/bin/`, `src/lib.rs`). Any change to them invalidates
/// every entry.
fn model_digest(cargo: &CargoProject, reads: &HashMap<String, ManifestRead>) -> String {
    let mut hasher = Sha256::new();
    let mut field = |bytes: &[u8]| {
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(bytes);
    };
    let mut paths: Vec<&String> = reads.keys().collect();
    paths.sort();
    for path in paths {
        field(path.as_bytes());
        match &reads[path] {
            ManifestRead::Text(text, _, _) => field(text.as_bytes()),
            ManifestRead::Binary => field(b"\0binary"),
            ManifestRead::Unreadable(reason) => field(reason.as_bytes()),
        }
    }
    for manifest in cargo.manifests() {
        field(manifest.source.path.as_bytes());
        if let Some(package) = &manifest.package {
            field(&[u8::from(package.has_bin), u8::from(package.has_lib)]);
        }
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn binary(candidate: &Candidate) -> Outcome {
    Outcome::Skipped(
        SkipReason::Binary,
        candidate.path.clone(),
        format!(
            "binary (a NUL byte in its first {} KiB)",
            BINARY_SNIFF / 1024
        ),
    )
}

fn analyse_guarded(
    candidate: &Candidate,
    text: Result<Option<Text>, String>,
    cargo: &CargoProject,
    rules: &RuleSet,
    config: &Config,
    tree: facts::Tree,
) -> Outcome {
    let Text {
        text,
        notes,
        not_parsed,
    } = match text {
        Ok(Some(text)) => text,
        Ok(None) => return binary(candidate),
        Err(reason) => return Outcome::Failed(candidate.path.clone(), reason),
    };
    let source = Source::new(candidate.path.clone(), text);
    let budget = Budget::start(config.file_timeout);
    let facts = match catch_unwind(AssertUnwindSafe(|| {
        facts::analyse(source, not_parsed, cargo, rules, &budget, tree)
    })) {
        Ok(mut facts) => {
            facts.notes.splice(0..0, notes);
            facts
        }
        Err(_) => {
            return Outcome::Failed(candidate.path.clone(), INTERNAL_ERROR.to_string());
        }
    };
    Outcome::Analysed(Box::new(facts))
}

/// Applies what is decided project-wide: test code, severity policy and overrides,
/// applicability, selection; then fingerprints and sorts.
fn finalise(
    findings: Vec<Finding>,
    files: &[FileFacts],
    allows: &Allows,
    rules: &RuleSet,
    subjects: &BTreeMap<Subject, String>,
    config: &Config,
) -> Vec<Finding> {
    let by_path: HashMap<&str, &FileFacts> = files.iter().map(|f| (f.path.as_str(), f)).collect();
    let test_module_files: BTreeSet<&str> = files
        .iter()
        .filter_map(|f| f.rust.as_ref())
        .flat_map(|r| r.test_module_files.iter().map(String::as_str))
        .collect();
    let mut findings = findings;
    let ineffective_allows = apply_allows(&mut findings, allows, rules, subjects);
    findings.extend(
        ineffective_allows
            .into_iter()
            .filter(|_| rules.enabled("OPS006")),
    );
    let mut out: Vec<Finding> = Vec::with_capacity(findings.len());
    for mut finding in findings {
        let rule = finding.rule;
        if !rules.enabled(&rule.code) || !subjects.contains_key(&rule.applies_when) {
            continue;
        }
        if let Some(path) = finding.path.as_deref() {
            let in_test_region = by_path
                .get(path)
                .and_then(|f| f.rust.as_ref())
                .is_some_and(|r| r.is_test_line(finding.line()));
            if path_code_kind(path) == CodeKind::Test
                || test_module_files.contains(path)
                || in_test_region
            {
                finding.code_kind = CodeKind::Test;
            }
        }
        if let Some(&level) = config.severity.get(&rule.code) {
            finding.severity = if finding.severity == rule.severity {
                level
            } else {
                finding.severity.min(level)
            };
        }
        if finding.code_kind == CodeKind::Test {
            match rule.test_code {
                TestCodePolicy::Ignore => continue,
                // An issued credential (its checksum validates) is critical wherever it sits.
                TestCodePolicy::ReportLow if finding.verified => {}
                TestCodePolicy::ReportLow => finding.severity = Severity::Low,
            }
        }
        out.push(finding);
    }
    out.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    let mut occurrences: HashMap<String, usize> = HashMap::new();
    for finding in &mut out {
        let mut hasher = Sha256::new();
        hasher.update(finding.rule.code.as_bytes());
        hasher.update([0]);
        hasher.update(finding.path.as_deref().unwrap_or("").as_bytes());
        hasher.update([0]);
        let content = finding
            .line_key
            .as_deref()
            .or(finding.subject.as_deref())
            .unwrap_or("");
        hasher.update(content.as_bytes());
        let digest = hasher.finalize();
        let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        let seen = occurrences.entry(hex.clone()).or_default();
        *seen += 1;
        finding.fingerprint = format!("{hex}:{seen}");
    }
    out
}

/// Marks the findings that allows suppress, notes on the others which expired allow no longer
/// does, and returns the OPS006 findings for allows that have no reason, a bad or past expiry,
/// name unknown rules, or suppress nothing.
fn apply_allows(
    findings: &mut [Finding],
    allows: &Allows,
    rules: &RuleSet,
    subjects: &BTreeMap<Subject, String>,
) -> Vec<Finding> {
    let today = allows.today;
    let comments = allows.files.iter().flat_map(|file| {
        file.allows
            .iter()
            .map(move |(allow, template)| (allow, template, Some(file.path.as_str()), None))
    });
    let entries = allows
        .config
        .iter()
        .map(|c| (c.allow, &c.template, None, c.paths.as_ref()));
    let mut expired_notes: Vec<Option<String>> = vec![None; findings.len()];
    let mut ineffective = Vec::new();
    for (allow, template, file, paths) in comments.chain(entries) {
        let at = format!(
            "{}:{}",
            template.path.as_deref().unwrap_or(""),
            template.line()
        );
        let mut used = false;
        for (index, finding) in findings.iter_mut().enumerate() {
            let in_scope = match (file, paths, finding.path.as_deref()) {
                (Some(file), _, path) => path == Some(file),
                (None, None, _) => true,
                (None, Some(paths), Some(path)) => paths.is_match(path),
                (None, Some(_), None) => false,
            };
            if !in_scope || !allow.reaches(&finding.rule.code, finding.line()) {
                continue;
            }
            if allow.in_force(today) {
                used = true;
                finding.suppressed.get_or_insert_with(|| Suppression {
                    kind: allow.kind,
                    at: at.clone(),
                    reason: allow.reason.clone().unwrap_or_default(),
                    until: allow
                        .until
                        .clone()
                        .and_then(Result::ok)
                        .map(|d| d.to_string()),
                });
            } else if let Some(until) = allow.expired(today) {
                expired_notes[index] =
                    Some(format!("{} at {at} expired on {until}", allow.label()));
            }
        }
        let judged = allow
            .rules()
            .iter()
            .all(|r| rules.enabled(&r.code) && subjects.contains_key(&r.applies_when))
            && allow.unknown_codes().is_empty();
        if let Some(message) = allow.defect(today, used, judged) {
            let mut finding = template.clone();
            finding.message = message;
            ineffective.push(finding);
        }
    }
    for (finding, note) in findings.iter_mut().zip(expired_notes) {
        if let (None, Some(note)) = (&finding.suppressed, note) {
            finding.message = format!("{} ({note})", finding.message);
        }
    }
    ineffective
}

fn evaluate_gate(gate: &Gate, scorecard: &Scorecard, findings: &[Finding]) -> GateOutcome {
    let mut reasons = Vec::new();
    if let (Some(floor), Some(score)) = (gate.fail_under, scorecard.score)
        && score < floor
    {
        reasons.push(format!("score {score} is below {floor}"));
    }
    if let Some(floor) = gate.fail_on {
        let count = findings
            .iter()
            .filter(|f| fails_item(f) && !f.baselined && f.severity >= floor)
            .count();
        if count > 0 {
            reasons.push(format!("{count} finding(s) at {floor} severity or above"));
        }
    }
    GateOutcome {
        passed: reasons.is_empty(),
        reasons,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_gate_wins_over_an_incomplete_report() {
        assert_eq!(exit_code(true, false), 0);
        assert_eq!(exit_code(false, false), 1);
        assert_eq!(exit_code(true, true), 3);
        assert_eq!(exit_code(false, true), 1);
    }

    #[test]
    fn preview_rules_are_offered_only_to_those_who_opt_in() {
        let stable = registry().get("OPS001");
        let mut preview = stable.clone();
        preview.status = RuleStatus::Preview;
        let opted_in = Config {
            preview: true,
            ..Config::default()
        };
        assert!(offered(stable, &Config::default()) && offered(stable, &opted_in));
        assert!(!offered(&preview, &Config::default()) && offered(&preview, &opted_in));
    }

    #[test]
    fn a_binary_file_is_read_only_as_far_as_its_sniff() {
        let dir = tempfile::tempdir().unwrap();
        let candidate = |name: &str, bytes: &[u8]| {
            let abs = dir.path().join(name);
            std::fs::write(&abs, bytes).unwrap();
            Candidate {
                path: name.to_string(),
                abs,
                size: bytes.len() as u64,
                stamp: None,
            }
        };
        let mut archive = vec![b'a'; 3 * BINARY_SNIFF];
        archive[10] = 0;
        let read_archive = read(&candidate("lib.a", &archive)).unwrap();
        assert_eq!(read_archive.len(), BINARY_SNIFF);
        assert!(is_binary(&read_archive));
        // A NUL past the sniff does not make a file binary: it is read whole.
        let mut late_nul = vec![b'a'; 3 * BINARY_SNIFF];
        late_nul[BINARY_SNIFF + 1] = 0;
        assert_eq!(read(&candidate("late.txt", &late_nul)).unwrap(), late_nul);
        for len in [0, 5, BINARY_SNIFF - 1, BINARY_SNIFF, BINARY_SNIFF + 1] {
            let text = vec![b'x'; len];
            assert_eq!(read(&candidate("t.txt", &text)).unwrap(), text, "{len}");
        }
        // The walk's size is a hint: a file that grew since is still read whole.
        let mut grown = candidate("grown.txt", b"short");
        std::fs::write(&grown.abs, vec![b'y'; 2 * BINARY_SNIFF]).unwrap();
        assert_eq!(read(&grown).unwrap().len(), 2 * BINARY_SNIFF);
        grown.size = u64::MAX;
        assert_eq!(read(&grown).unwrap().len(), 2 * BINARY_SNIFF);
    }
}
