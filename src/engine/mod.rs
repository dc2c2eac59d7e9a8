//! The audit, in stages, each with one job:
//! 1. select the rules (`select`);
//! 2. discover the files (`walk`);
//! 3. read the Cargo model (`cargo_model`), which per-file checks consult;
//! 4. analyse every file in parallel, or take its facts from the cache (`per_file`, `file`);
//! 5. settle what one file's facts mean once all are seen (`settle`);
//! 6. run the project checks over every file's facts (`checks::check_project`);
//! 7. finalise the findings: allows, test code, severities, fingerprints (`finalise`), then
//!    the baseline;
//! 8. score the checklist (`score`) and judge the gate (`gate`).

mod cargo_model;
pub mod file;
mod finalise;
mod gate;
mod per_file;
mod read;
mod select;
mod settle;
mod stats;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::baseline::BaselineOutcome;
use crate::cache::{self, CacheUse};
use crate::checks::allows::{self, Allows};
use crate::checks::{self, ProjectContext};
use crate::config::Config;
use crate::finding::Finding;
use crate::project::subjects;
use crate::registry::{RuleSet, Subject};
use crate::score::{Scorecard, scorecard};
use crate::walk::discover;

pub use gate::GateOutcome;
pub use select::{offered, selected_rules};
pub use stats::FileStats;

/// Parsing threads get a large stack: deeply nested (but accepted) code recurses deeply in syn.
pub const PARSER_STACK: usize = 64 * 1024 * 1024;

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
    /// The repository's name given with `--name`, and the audited commit.
    pub identity: Option<Identity>,
}

/// Which repository a report is of, for `fleet merge`: the name given at audit time and, when
/// the audited tree is a git checkout, its commit and the commit's time (never the clock's:
/// reports stay deterministic).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Identity {
    pub name: String,
    pub commit: Option<Commit>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Commit {
    pub id: String,
    /// Seconds since the epoch.
    pub time: i64,
}

impl Report {
    /// The walk found nothing it could audit: no file analysed, and no finding about a file
    /// (a key file is found by its name alone).
    pub fn audited_nothing(&self) -> bool {
        self.files.scanned == 0 && self.findings.iter().all(|f| f.path.is_none())
    }

    /// Some file could not be analysed (in full).
    pub fn incomplete(&self) -> bool {
        !self.files.not_analysed.is_empty()
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

/// Runs an audit of `root`, without the cache.
pub fn audit(root: &Path, config: &Config, threads: Option<usize>) -> Result<Report, String> {
    audit_cached(root, config, threads, None)
}

/// Runs an audit of `root`, with the per-file facts cache if one is given (see `cache`): the
/// report is the same with or without it.
pub fn audit_cached(
    root: &Path,
    config: &Config,
    threads: Option<usize>,
    cache: Option<CacheUse<'_>>,
) -> Result<Report, String> {
    let metadata =
        std::fs::metadata(root).map_err(|e| format!("cannot audit {}: {e}", root.display()))?;
    if !metadata.is_dir() {
        return Err(format!("cannot audit {}: not a directory", root.display()));
    }
    let mut phases = crate::timings::Phases::start();
    let plan = Plan::new(root, config, threads)?;
    // The cache file loads while discovery and the Cargo model run.
    let opening =
        cache.and_then(|how| cache::Cache::start(how, &cache::config_digest(config, &plan.rules)));
    let threads = plan.pool.current_num_threads();
    let discovery = discover(root, &config.exclude, config.max_file_size, threads);
    let paths: BTreeSet<String> = discovery.files.iter().map(|c| c.path.clone()).collect();
    phases.mark("discovery");
    let cargo = plan
        .pool
        .install(|| cargo_model::load(&discovery.files, &paths));
    phases.mark("cargo model");
    let cache = opening.map(|opening| opening.finish(&cargo.digest()));
    phases.mark("cache load (beyond discovery and the Cargo model)");
    let vocabulary = file::gate_vocabulary(&cargo.project);
    let inputs = per_file::Inputs {
        cargo: &cargo,
        rules: &plan.rule_set,
        vocabulary: &vocabulary,
        file_timeout: config.file_timeout,
    };
    let outcomes = plan
        .pool
        .install(|| per_file::analyse_all(&discovery.files, inputs, cache.as_ref()));
    let (outcomes, entries): (Vec<_>, Vec<_>) = outcomes.into_iter().unzip();
    // Written while the later stages run; waited for before the audit returns.
    let saving = cache.map(|cache| std::thread::spawn(move || cache.save(entries)));
    let (mut files, mut stats) = stats::collect(&discovery, outcomes);
    phases.mark("per-file phase");
    let redone = plan
        .pool
        .install(|| settle::settle(&mut files, &discovery.files, inputs, &paths, config));
    stats.not_analysed.extend(redone);
    stats.count_roles(&files, &config.roles);
    phases.mark("settling");
    let present = subjects(&files, &cargo.project, &paths);
    let findings = plan.project_phase(&mut files, &cargo, &paths, &present, &mut stats);
    phases.mark("project phase");
    let report = plan.conclude(root, findings, &files, present, stats);
    phases.mark("finalise and score");
    if let Some(saving) = saving {
        // A panic while saving leaves the old cache file in place; the report stands.
        let _ = saving.join();
    }
    phases.mark("cache save (beyond the later stages)");
    phases.report();
    Ok(report)
}

/// What an audit is asked to do, decided before any file is read.
struct Plan<'a> {
    config: &'a Config,
    rules: Vec<&'static crate::registry::Rule>,
    rule_set: RuleSet,
    today: crate::suppress::Date,
    config_allows: Vec<allows::ConfigAllow<'a>>,
    pool: rayon::ThreadPool,
}

impl<'a> Plan<'a> {
    fn new(root: &Path, config: &'a Config, threads: Option<usize>) -> Result<Plan<'a>, String> {
        let rules = selected_rules(config)?;
        let pool = rayon::ThreadPoolBuilder::new()
            .stack_size(PARSER_STACK)
            .num_threads(threads.unwrap_or(0))
            .build()
            .map_err(|e| format!("cannot start worker threads: {e}"))?;
        Ok(Plan {
            config,
            rule_set: RuleSet::new(rules.iter().copied()),
            rules,
            today: crate::suppress::today()?,
            config_allows: allows::config_allows(root, config)?,
            pool,
        })
    }

    /// Stage six: every file's findings, and the project checks' over every file's facts.
    fn project_phase(
        &self,
        files: &mut [crate::facts::FileFacts],
        cargo: &cargo_model::CargoModel,
        paths: &BTreeSet<String>,
        present: &BTreeMap<Subject, String>,
        stats: &mut FileStats,
    ) -> Vec<Finding> {
        let mut findings: Vec<Finding> = files
            .iter_mut()
            .flat_map(|f| std::mem::take(&mut f.findings))
            .collect();
        let ctx = ProjectContext {
            files,
            cargo: &cargo.project,
            paths,
            subjects: present,
            rules: &self.rule_set,
            drift_vocabulary: &self.config.drift_vocabulary,
        };
        let not_run = checks::check_project(&ctx, &mut findings);
        stats.finish(not_run, files);
        findings
    }

    /// Stages seven and eight: the final findings, the baseline, the score and the gate.
    fn conclude(
        self,
        root: &Path,
        findings: Vec<Finding>,
        files: &[crate::facts::FileFacts],
        subjects: BTreeMap<Subject, String>,
        stats: FileStats,
    ) -> Report {
        let config = self.config;
        let allows = Allows {
            files,
            config: self.config_allows,
            today: self.today,
        };
        let rules = &self.rule_set;
        let mut findings = finalise::finalise(findings, files, &allows, rules, &subjects, config);
        let baseline = (config.baseline.as_ref()).map(|b| b.apply(&mut findings, rules));
        let offered = |rule: &crate::registry::Rule| offered(rule, config);
        let scorecard = scorecard(&findings, rules, &subjects, &config.severity, offered);
        let gate = gate::evaluate(&config.gate, &scorecard, &findings);
        Report {
            root: root.display().to_string(),
            findings,
            scorecard,
            files: stats,
            subjects,
            gate,
            baseline,
            identity: None,
        }
    }
}
