//! Per-phase timers for profiling, off unless `PRODREADY_TIMINGS=1`: then the audit prints, on
//! standard error, the wall time of each engine phase and the time summed over every worker
//! thread of each per-file step, with how many files took it. Never part of any report.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// A per-file step, timed across threads.
#[derive(Debug, Clone, Copy)]
pub enum Step {
    Read,
    SecretsInText,
    TreeGates,
    RustParse,
    RustFacts,
    RustImports,
    RustMetrics,
    Checks,
    OtherParse,
}

const STEPS: [(Step, &str); 9] = [
    (Step::Read, "read"),
    (Step::SecretsInText, "secrets in text"),
    (Step::TreeGates, "rust: tree gates"),
    (Step::RustParse, "rust: syn parse (+ drop)"),
    (Step::RustFacts, "rust: facts"),
    (Step::RustImports, "rust: imports"),
    (Step::RustMetrics, "rust: metric facts"),
    (Step::Checks, "per-file checks"),
    (Step::OtherParse, "yaml/json/toml parse"),
];

static NANOS: [AtomicU64; STEPS.len()] = [const { AtomicU64::new(0) }; STEPS.len()];
static COUNTS: [AtomicU64; STEPS.len()] = [const { AtomicU64::new(0) }; STEPS.len()];
static RUST_FILES: AtomicU64 = AtomicU64::new(0);
static RUST_PARSED: AtomicU64 = AtomicU64::new(0);
static RUST_BYTES: AtomicU64 = AtomicU64::new(0);
static RUST_PARSED_BYTES: AtomicU64 = AtomicU64::new(0);
static RUST_LEXED: AtomicU64 = AtomicU64::new(0);
static RUST_LEXED_BYTES: AtomicU64 = AtomicU64::new(0);

/// Whether `PRODREADY_TIMINGS` is set to something other than `0` or empty.
pub fn enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| {
        std::env::var_os("PRODREADY_TIMINGS").is_some_and(|v| !v.is_empty() && v != "0")
    })
}

/// Runs `f`, adding its time to `step` when timings are on.
pub fn time<T>(step: Step, f: impl FnOnce() -> T) -> T {
    if !enabled() {
        return f();
    }
    let start = Instant::now();
    let out = f();
    let nanos = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
    NANOS[step as usize].fetch_add(nanos, Ordering::Relaxed);
    COUNTS[step as usize].fetch_add(1, Ordering::Relaxed);
    out
}

static MATCHERS: AtomicU64 = AtomicU64::new(0);

/// Counts a matcher built from the project (workspace member globs): built once per project,
/// never per file, which `tests/speed.rs` checks through this count.
pub fn project_matcher() {
    if enabled() {
        MATCHERS.fetch_add(1, Ordering::Relaxed);
    }
}

static WORDS_OUTSIDE: AtomicU64 = AtomicU64::new(0);

/// Counts a tree gate's question about a word outside the gate vocabulary, answered by a slower
/// search of the whole text (`words::Present`): `tests/gates.rs` checks that none is asked.
pub fn gate_word_outside_vocabulary() {
    if enabled() {
        WORDS_OUTSIDE.fetch_add(1, Ordering::Relaxed);
    }
}

/// Counts a Rust file and whether its syntax tree was built.
pub fn rust_file(bytes: usize, parsed: bool) {
    if !enabled() {
        return;
    }
    let bytes = bytes as u64;
    RUST_FILES.fetch_add(1, Ordering::Relaxed);
    RUST_BYTES.fetch_add(bytes, Ordering::Relaxed);
    if parsed {
        RUST_PARSED.fetch_add(1, Ordering::Relaxed);
        RUST_PARSED_BYTES.fetch_add(bytes, Ordering::Relaxed);
    }
}

/// Counts a Rust file the tree gates lexed (`words::FileWords::tokens`).
pub fn rust_lexed(bytes: usize) {
    if enabled() {
        RUST_LEXED.fetch_add(1, Ordering::Relaxed);
        RUST_LEXED_BYTES.fetch_add(bytes as u64, Ordering::Relaxed);
    }
}

/// Rust files (and bytes) whose syntax tree a reason asked for, by reason.
static TREE_REASONS: std::sync::Mutex<std::collections::BTreeMap<&'static str, (u64, u64)>> =
    std::sync::Mutex::new(std::collections::BTreeMap::new());

/// Counts a Rust file parsed for this reason (a file may have several);
/// `PRODREADY_TIMINGS=files` also lists each file with its reason.
pub fn tree_reason(reason: &'static str, path: &str, bytes: usize) {
    if std::env::var_os("PRODREADY_TIMINGS").is_some_and(|v| v == "files") {
        eprintln!("parsed for {reason}: {path} ({bytes} bytes)");
    }
    if let Ok(mut reasons) = TREE_REASONS.lock() {
        let entry = reasons.entry(reason).or_default();
        entry.0 += 1;
        entry.1 += bytes as u64;
    }
}

/// Wall-clock phases of one audit, printed by [`Phases::report`] when timings are on.
pub struct Phases {
    last: Instant,
    start: Instant,
    done: Vec<(&'static str, f64)>,
}

impl Phases {
    pub fn start() -> Phases {
        let now = Instant::now();
        Phases {
            last: now,
            start: now,
            done: Vec::new(),
        }
    }

    /// Ends the phase running since the previous mark.
    pub fn mark(&mut self, name: &'static str) {
        let now = Instant::now();
        self.done
            .push((name, now.duration_since(self.last).as_secs_f64()));
        self.last = now;
    }

    pub fn report(&self) {
        if !enabled() {
            return;
        }
        eprintln!("prodready timings (wall):");
        for (name, secs) in &self.done {
            eprintln!("  {name:<28} {secs:9.3} s");
        }
        eprintln!(
            "  {:<28} {:9.3} s",
            "total",
            self.start.elapsed().as_secs_f64()
        );
        eprintln!("per-file steps (summed over threads):");
        for (step, name) in STEPS {
            let i = step as usize;
            eprintln!(
                "  {name:<28} {:9.3} s  {:7} files",
                NANOS[i].load(Ordering::Relaxed) as f64 / 1e9,
                COUNTS[i].load(Ordering::Relaxed)
            );
        }
        eprintln!(
            "project matchers built: {}",
            MATCHERS.load(Ordering::Relaxed)
        );
        eprintln!(
            "gate words asked outside the vocabulary: {}",
            WORDS_OUTSIDE.load(Ordering::Relaxed)
        );
        eprintln!(
            "rust files lexed by the tree gates: {} of {} ({:.1} MB)",
            RUST_LEXED.load(Ordering::Relaxed),
            RUST_FILES.load(Ordering::Relaxed),
            RUST_LEXED_BYTES.load(Ordering::Relaxed) as f64 / 1e6,
        );
        eprintln!(
            "rust files parsed: {} of {} ({:.1} of {:.1} MB)",
            RUST_PARSED.load(Ordering::Relaxed),
            RUST_FILES.load(Ordering::Relaxed),
            RUST_PARSED_BYTES.load(Ordering::Relaxed) as f64 / 1e6,
            RUST_BYTES.load(Ordering::Relaxed) as f64 / 1e6
        );
        if let Ok(reasons) = TREE_REASONS.lock() {
            eprintln!("rust files parsed because of (a file may count under several):");
            for (reason, (files, bytes)) in reasons.iter() {
                eprintln!(
                    "  {reason:<32} {files:7} files {:9.1} MB",
                    *bytes as f64 / 1e6
                );
            }
        }
    }
}
