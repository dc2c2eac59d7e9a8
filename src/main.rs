//! The command line: argument parsing, output and exit codes. Everything else is the library.
//!
//! Exit codes: 0 the gate passed; 1 the gate failed; 2 a usage, configuration or IO error
//! stopped the audit; 3 the gate passed but some file could not be analysed. 1 wins over 3.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use prodready::baseline::Baseline;
use prodready::changes;
use prodready::config::{self, CONFIG_FILE, Config, INIT_TEMPLATE};
use prodready::engine::Report;
use prodready::registry::{Severity, registry};
use prodready::report::{
    badge, github, html, human, json, junit, markdown, repository_base, rules, sarif,
};

const EXIT_ERROR: u8 = 2;

/// mimalloc instead of the system allocator: syn's syntax trees are many small allocations, and
/// glibc's malloc and free took about 15% of a cold audit's CPU (bench/README.md). Built with
/// `no_thp`: mimalloc otherwise asks for transparent huge pages, and where the kernel compacts
/// memory to give them (THP defrag `madvise`, the common default) a run that follows a
/// memory-hungry process paid up to 0.3 s of system time for it, with twice the peak RSS.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "prodready",
    version,
    about = "Audits a repository for production readiness and prints a scored checklist",
    after_help = "Without a command, `prodready` runs `prodready audit .`."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Audit a project and print its findings, checklist, score and level.
    Audit(Box<AuditArgs>),
    /// List every rule.
    Rules {
        #[arg(long, value_enum, default_value_t = RulesFormat::Human)]
        format: RulesFormat,
    },
    /// Show the documentation of a rule, by code (OPS001) or name (missing-ownership), or of
    /// the readiness levels (`levels`).
    Explain { rule: String },
    /// Work with many repositories' reports.
    #[command(subcommand)]
    Fleet(FleetCommand),
    /// Write a commented prodready.toml with every option at its default.
    Init {
        /// Folder to write prodready.toml into.
        #[arg(default_value = ".")]
        path: PathBuf,
        /// Overwrite an existing prodready.toml.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Subcommand)]
enum FleetCommand {
    /// Merge JSON reports (files, or folders searched for *.json) audited with `--name`.
    Merge(FleetMergeArgs),
}

#[derive(clap::Args)]
struct FleetMergeArgs {
    /// Reports, or folders of reports.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = FleetFormat::Human)]
    format: FleetFormat,
    /// Write the merge to FILE instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
    /// A JSON Lines file of past merges: the merge is compared with its last row, then added.
    #[arg(long, value_name = "FILE")]
    history: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum FleetFormat {
    Human,
    Json,
    Markdown,
    /// One self-contained page.
    Html,
}

#[derive(clap::Args, Default)]
struct AuditArgs {
    /// The project to audit.
    #[arg(default_value = ".")]
    path: PathBuf,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// The repository's name, recorded in the JSON report with the audited commit (for
    /// `prodready fleet merge`).
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// Write the report to FILE instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Also write a report in format FMT to FILE; repeatable
    /// (`--report sarif=prodready.sarif --report markdown=summary.md`).
    #[arg(long = "report", value_name = "FMT=FILE", value_parser = parse_report)]
    reports: Vec<(Format, PathBuf)>,
    /// SARIF: the analysis category (`runs[].automationDetails.id`), to keep several
    /// analyses of one repository apart in code scanning.
    #[arg(long, value_name = "ID")]
    sarif_category: Option<String>,
    /// SARIF: keep findings suppressed by allows or recorded in the baseline, marked with their
    /// justification. (GitHub shows them as open alerts unless the repository dismisses
    /// suppressed results.)
    #[arg(long)]
    sarif_include_suppressed: bool,
    /// Configuration file (default: PATH/prodready.toml, else Cargo.toml metadata).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Run only these rules: codes, prefixes (SEC, RES00) or names, comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "CODES")]
    select: Option<Vec<String>>,
    /// Do not run these rules (added to the configuration's `ignore`).
    #[arg(long, value_delimiter = ',', value_name = "CODES")]
    ignore: Vec<String>,
    /// Fail the gate when the score is below SCORE (0-100).
    #[arg(long, value_name = "SCORE", value_parser = parse_score)]
    fail_under: Option<f64>,
    /// Fail the gate on any failing finding at or above this severity.
    #[arg(long, value_enum, value_name = "SEVERITY")]
    fail_on: Option<FailOn>,
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
    /// Print only the summary line.
    #[arg(long, short)]
    quiet: bool,
    /// Print everything in the human report: findings that fail nothing (test, example, CI,
    /// docs and tooling code), file notes and deselected checks.
    #[arg(long, short, conflicts_with = "quiet")]
    verbose: bool,
    /// Seconds one file's analysis may take (default 30, or `file_timeout`): past it, the file
    /// is reported as not fully analysed and the audit goes on.
    #[arg(long, value_name = "SECONDS", value_parser = parse_timeout)]
    file_timeout: Option<std::time::Duration>,
    /// Worker threads (default: one per core). The report is identical for any count.
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// Run preview rules too (new rules arrive as preview; see `prodready rules`).
    #[arg(long)]
    preview: bool,
    /// Findings recorded in FILE are `baselined`: they fail their checklist items but not the gate.
    #[arg(long, value_name = "FILE")]
    baseline: Option<PathBuf>,
    /// Record every finding that fails its checklist item in FILE (to use with --baseline).
    #[arg(long, value_name = "FILE")]
    write_baseline: Option<PathBuf>,
    /// Gate only what changed since the merge base of HEAD and REF (e.g. origin/main):
    /// findings the change brought, and a score below the merge base's.
    #[arg(long, value_name = "REF")]
    changed_since: Option<String>,
    /// Cache per-file facts in DIR (default: $PRODREADY_CACHE_DIR, else
    /// $XDG_CACHE_HOME/prodready, else ~/.cache/prodready). Never inside the audited folder.
    #[arg(long, value_name = "DIR", conflicts_with = "no_cache")]
    cache_dir: Option<PathBuf>,
    /// Neither read nor write the cache of per-file facts.
    #[arg(long)]
    no_cache: bool,
}

#[derive(Clone, Copy, ValueEnum, Default)]
enum Format {
    /// Findings like compiler diagnostics, then the checklist.
    #[default]
    Human,
    /// The full report (docs/json-report.md).
    Json,
    /// SARIF 2.1.0, for GitHub code scanning.
    Sarif,
    /// A summary for a pull-request comment or $GITHUB_STEP_SUMMARY.
    Markdown,
    /// GitHub Actions annotations (workflow commands).
    Github,
    /// JUnit XML: one test case per checklist item.
    Junit,
    /// An SVG badge with the level and score.
    Badge,
    /// One self-contained HTML page: the checklist and a findings browser.
    Html,
}

#[derive(Clone, Copy, ValueEnum)]
enum RulesFormat {
    Human,
    Json,
    Markdown,
}

#[derive(Clone, Copy, ValueEnum)]
enum FailOn {
    Critical,
    High,
    Medium,
    Low,
    None,
}

#[derive(Clone, Copy, ValueEnum, Default)]
enum ColorChoice {
    #[default]
    Auto,
    Always,
    Never,
}

fn parse_score(text: &str) -> Result<f64, String> {
    let value: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number"))?;
    if (0.0..=100.0).contains(&value) {
        Ok(value)
    } else {
        Err(format!("{value} is not between 0 and 100"))
    }
}

fn parse_timeout(text: &str) -> Result<std::time::Duration, String> {
    let seconds: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds"))?;
    config::file_timeout(seconds)
}

fn parse_report(text: &str) -> Result<(Format, PathBuf), String> {
    let (format, file) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not FMT=FILE"))?;
    let format = Format::from_str(format, true).map_err(|_| {
        let names: Vec<String> = Format::value_variants()
            .iter()
            .filter_map(|f| f.to_possible_value().map(|v| v.get_name().to_string()))
            .collect();
        format!("`{format}` is not a format ({})", names.join(", "))
    })?;
    if file.is_empty() {
        return Err(format!("`{text}` names no file"));
    }
    Ok((format, PathBuf::from(file)))
}

fn main() -> ExitCode {
    prodready::engine::install_panic_hook();
    let cli = Cli::parse();
    let command = cli.command.unwrap_or_else(|| {
        Command::Audit(Box::new(AuditArgs {
            path: PathBuf::from("."),
            ..AuditArgs::default()
        }))
    });
    match command {
        Command::Audit(args) => run_audit(*args),
        Command::Fleet(FleetCommand::Merge(args)) => run_fleet_merge(&args),
        Command::Rules { format } => {
            let text = match format {
                RulesFormat::Human => rules::list_human(),
                RulesFormat::Json => rules::list_json(),
                RulesFormat::Markdown => rules::list_markdown(),
            };
            print(&text)
        }
        Command::Explain { rule } if rule == "levels" => print(prodready::score::LEVELS_DOC),
        Command::Explain { rule } => match registry().find(&rule) {
            Some(rule) => print(&rules::explain(rule)),
            None => {
                eprintln!("prodready: no rule `{rule}` (see `prodready rules`)");
                ExitCode::from(EXIT_ERROR)
            }
        },
        Command::Init { path, force } => init(&path, force),
    }
}

fn print(text: &str) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    // A closed pipe (`prodready rules | head`) is not an error worth a message.
    let _ = stdout.write_all(text.as_bytes());
    ExitCode::SUCCESS
}

fn init(dir: &Path, force: bool) -> ExitCode {
    let path = dir.join(CONFIG_FILE);
    if path.exists() && !force {
        eprintln!(
            "prodready: {} already exists (use --force to overwrite)",
            path.display()
        );
        return ExitCode::from(EXIT_ERROR);
    }
    match std::fs::write(&path, INIT_TEMPLATE) {
        Ok(()) => {
            println!("wrote {}", path.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("prodready: cannot write {}: {e}", path.display());
            ExitCode::from(EXIT_ERROR)
        }
    }
}

fn error(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("prodready: {message}");
    ExitCode::from(EXIT_ERROR)
}

fn run_audit(args: AuditArgs) -> ExitCode {
    let wants_report = !args.reports.is_empty() || args.output.is_some();
    match audit_and_report(&args) {
        Ok(code) => code,
        Err(code) => {
            if wants_report {
                eprintln!("prodready: no report written: the audit stopped before it finished");
            }
            code
        }
    }
}

/// The audit and its reports. `Err`: it stopped before writing any (exit 2), and said why.
fn audit_and_report(args: &AuditArgs) -> Result<ExitCode, ExitCode> {
    if !args.path.exists() {
        return Err(error(format!(
            "{}: no such file or directory",
            args.path.display()
        )));
    }
    let config = configuration(args)?;
    let (mut report, changes) = match audit(args, &config) {
        Ok(audited) => audited,
        Err(message) => return Err(error(message)),
    };
    report.identity = (args.name.clone()).map(|name| prodready::engine::Identity {
        name,
        commit: changes::head_commit(&args.path),
    });
    if report.audited_nothing() {
        return Err(error(format!(
            "nothing to audit in {}: no Cargo.toml, source or configuration found",
            args.path.display()
        )));
    }
    let changes = changes.as_ref();
    if let Some(path) = &args.write_baseline {
        let baseline = Baseline::of(&report.findings);
        if let Err(e) = write_atomically(path, &baseline.render()) {
            return Ok(error(format!("cannot write {}: {e}", path.display())));
        }
        eprintln!(
            "prodready: recorded {} finding(s) in {}",
            baseline.entries.len(),
            path.display()
        );
    }
    let to_terminal = args.output.is_none() && std::io::stdout().is_terminal();
    let color = match args.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => to_terminal && std::env::var_os("NO_COLOR").is_none(),
    };
    let cwd = std::env::current_dir().unwrap_or_default();
    let base = repository_base(&args.path, &cwd);
    let options = RenderOptions {
        color,
        quiet: args.quiet,
        verbose: args.verbose,
        base: &base,
        sarif_category: args.sarif_category.as_deref(),
        sarif_include_suppressed: args.sarif_include_suppressed,
    };
    for (format, path) in &args.reports {
        if let Err(e) = write_atomically(path, &render(*format, &report, changes, &options)) {
            return Ok(error(format!("cannot write {}: {e}", path.display())));
        }
    }
    let text = render(args.format, &report, changes, &options);
    match &args.output {
        Some(path) => {
            if let Err(e) = write_atomically(path, &text) {
                return Ok(error(format!("cannot write {}: {e}", path.display())));
            }
            if !args.quiet {
                let summary = human::HumanOptions {
                    color: false,
                    quiet: true,
                    verbose: false,
                };
                eprint!("{}", human::render(&report, changes, &summary));
            }
        }
        None => {
            print(&text);
        }
    }
    Ok(ExitCode::from(report.exit_code()))
}

/// `fleet merge`: 0, or 3 when some report could not be read; 2 when there is nothing to merge.
fn run_fleet_merge(args: &FleetMergeArgs) -> ExitCode {
    use prodready::fleet;
    let files = match fleet::report_files(&args.inputs) {
        Ok(files) if files.is_empty() => {
            return error("no report to merge: no .json file in the inputs");
        }
        Ok(files) => files,
        Err(message) => return error(message),
    };
    let mut merge = fleet::merge(&files);
    if merge.repositories.is_empty() {
        for unreadable in &merge.unreadable {
            eprintln!("prodready: {}: {}", unreadable.path, unreadable.reason);
        }
        return error(format!("no readable report among {} file(s)", files.len()));
    }
    if let Some(history) = &args.history {
        match fleet::last_history_row(history) {
            Ok(previous) => merge.trends = Some(merge.trends_since(previous.as_ref())),
            Err(message) => return error(message),
        }
    }
    let summary = fleet::render::summary(&merge);
    let text = match args.format {
        FleetFormat::Human => fleet::render::human(&summary),
        FleetFormat::Json => fleet::render::json(&summary),
        FleetFormat::Markdown => fleet::render::markdown(&summary),
        FleetFormat::Html => fleet::render::html(&summary),
    };
    match &args.output {
        Some(path) => {
            if let Err(e) = write_atomically(path, &text) {
                return error(format!("cannot write {}: {e}", path.display()));
            }
        }
        None => {
            print(&text);
        }
    }
    if let Some(history) = &args.history
        && let Err(message) = fleet::append_history(history, &merge.history_row())
    {
        return error(message);
    }
    ExitCode::from(if merge.unreadable.is_empty() { 0 } else { 3 })
}

/// The configuration file with the command line's overrides, and the baseline given.
fn configuration(args: &AuditArgs) -> Result<Config, ExitCode> {
    let mut config = match config::load(&args.path, args.config.as_deref()) {
        Ok(config) => config,
        Err(report) => {
            eprintln!("{report:?}");
            return Err(ExitCode::from(EXIT_ERROR));
        }
    };
    apply_overrides(&mut config, args);
    if let Some(path) = &args.baseline {
        match Baseline::load(path) {
            Ok(baseline) => config.baseline = Some(baseline),
            Err(message) => return Err(error(message)),
        }
    }
    Ok(config)
}

/// The audit, of the tree or (`--changed-since`) of the change.
fn audit(args: &AuditArgs, config: &Config) -> Result<(Report, Option<changes::Changes>), String> {
    let cache = prodready::cache::choose(args.cache_dir.as_deref(), args.no_cache, &args.path)?
        .map(|c| c.path);
    let Some(reference) = &args.changed_since else {
        let cache = cache.as_deref().map(|dir| prodready::cache::CacheUse {
            dir,
            root: &args.path,
            write: true,
        });
        return prodready::engine::audit_cached(&args.path, config, args.threads, cache)
            .map(|report| (report, None));
    };
    let request = changes::ChangeRequest {
        root: &args.path,
        reference,
        config_file: args.config.as_deref(),
        baseline_file: args.baseline.as_deref(),
        threads: args.threads,
        cache_dir: cache.as_deref(),
    };
    let base_config = |root: &Path, file: Option<&Path>| {
        let mut config = config::load(root, file).map_err(|e| e.to_string())?;
        apply_overrides(&mut config, args);
        Ok(config)
    };
    changes::audit_change(&request, config, base_config)
        .map(|change| (change.report, Some(change.changes)))
}

/// The command line's overrides of a configuration file.
fn apply_overrides(config: &mut Config, args: &AuditArgs) {
    if let Some(select) = &args.select {
        config.select = Some(select.clone());
    }
    config.ignore.extend(args.ignore.iter().cloned());
    if let Some(score) = args.fail_under {
        config.gate.fail_under = Some(score);
    }
    if let Some(level) = args.fail_on {
        config.gate.fail_on = match level {
            FailOn::Critical => Some(Severity::Critical),
            FailOn::High => Some(Severity::High),
            FailOn::Medium => Some(Severity::Medium),
            FailOn::Low => Some(Severity::Low),
            FailOn::None => None,
        };
    }
    config.preview |= args.preview;
    if let Some(timeout) = args.file_timeout {
        config.file_timeout = timeout;
    }
}

struct RenderOptions<'a> {
    color: bool,
    quiet: bool,
    verbose: bool,
    /// The audited folder relative to the working folder (the checkout, in CI).
    base: &'a str,
    sarif_category: Option<&'a str>,
    sarif_include_suppressed: bool,
}

fn render(
    format: Format,
    report: &Report,
    changes: Option<&changes::Changes>,
    options: &RenderOptions<'_>,
) -> String {
    match format {
        Format::Human => human::render(
            report,
            changes,
            &human::HumanOptions {
                color: options.color,
                quiet: options.quiet,
                verbose: options.verbose,
            },
        ),
        Format::Json => json::render(report, changes),
        Format::Sarif => sarif::render(
            report,
            changes,
            &sarif::SarifOptions {
                base: options.base,
                category: options.sarif_category,
                include_suppressed: options.sarif_include_suppressed,
            },
        ),
        Format::Markdown => markdown::render(report, changes, options.base),
        Format::Github => github::render(report, changes, options.base),
        Format::Junit => junit::render(report, options.base),
        Format::Badge => badge::render(report),
        Format::Html => html::render(report, changes),
    }
}

/// Writes a report or baseline to `path`.
///
/// A regular file (or a path not yet there) is written through a temporary file in the same
/// folder and a rename, so that a reader (an upload step, a web server serving the badge) never
/// sees a half-written report. A symbolic link is followed, and the file it points to is
/// replaced, not the link. Anything else is written in place, appended to: a device or a pipe
/// (`/dev/null`, where a rename as root would replace the device and break the machine), and a
/// path through a process's open files (`/dev/stdout`, `/proc/self/fd/1`), which names
/// whatever the caller redirected it to (`>> ci.log`: replacing that file would lose the log).
/// So does a dangling link (it creates its target) and a file whose folder takes no new file.
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    // Appended to (what a device, a pipe or a redirected stream is), or replaced.
    let in_place = |path: &Path, append: bool| {
        let mut options = std::fs::OpenOptions::new();
        if append {
            options.append(true);
        } else {
            options.write(true).truncate(true);
        }
        options.create(true).open(path)?.write_all(text.as_bytes())
    };
    let is_link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    let target = match std::fs::metadata(path) {
        Ok(existing) if !existing.is_file() => return in_place(path, true),
        Ok(_) if is_link && through_open_files(path) => return in_place(path, true),
        // A link to a regular file: replace the file it names, keep the link.
        Ok(_) if is_link => std::fs::canonicalize(path)?,
        Ok(_) => path.to_path_buf(),
        Err(_) if is_link => return in_place(path, false),
        Err(_) => path.to_path_buf(),
    };
    let dir = match target.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut file = match tempfile::NamedTempFile::new_in(dir) {
        Ok(file) => file,
        // A writable file in a folder that takes no new file: written in place.
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied && target.is_file() => {
            return in_place(&target, false);
        }
        Err(e) => return Err(e),
    };
    file.write_all(text.as_bytes())?;
    // The temporary file is private (0600); a report keeps the permissions of the file it
    // replaces, or gets the usual 0644.
    match std::fs::metadata(&target) {
        Ok(existing) => file.as_file().set_permissions(existing.permissions())?,
        #[cfg(unix)]
        Err(_) => {
            use std::os::unix::fs::PermissionsExt;
            file.as_file()
                .set_permissions(std::fs::Permissions::from_mode(0o644))?;
        }
        #[cfg(not(unix))]
        Err(_) => {}
    }
    file.persist(&target).map_err(|e| e.error)?;
    Ok(())
}

/// Whether a chain of symbolic links passes through a process's open files (`/dev/stdout`
/// leads to `/proc/self/fd/1`, `/dev/fd/N` to `/proc/self/fd/N`).
fn through_open_files(path: &Path) -> bool {
    let mut at = path.to_path_buf();
    // As many hops as the kernel follows before giving up (ELOOP).
    for _ in 0..40 {
        if at.starts_with("/proc") || at.starts_with("/dev/fd") {
            return true;
        }
        let Ok(next) = std::fs::read_link(&at) else {
            return false;
        };
        at = match at.parent() {
            Some(parent) if next.is_relative() => parent.join(next),
            _ => next,
        };
    }
    false
}
