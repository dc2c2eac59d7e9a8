//! The command line: argument parsing, output and exit codes. Everything else is the library.
//!
//! Exit codes: 0 the gate passed; 1 the gate failed; 2 a usage, configuration or IO error
//! stopped the audit; 3 the gate passed but some file could not be analysed. 1 wins over 3.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use prodready::baseline::Baseline;
use prodready::config::{self, CONFIG_FILE, INIT_TEMPLATE};
use prodready::registry::{Severity, registry};
use prodready::report::{human, json, rules};

const EXIT_ERROR: u8 = 2;

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
    Audit(AuditArgs),
    /// List every rule.
    Rules {
        #[arg(long, value_enum, default_value_t = RulesFormat::Human)]
        format: RulesFormat,
    },
    /// Show the documentation of a rule, by code (OPS001) or name (missing-ownership).
    Explain { rule: String },
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

#[derive(clap::Args, Default)]
struct AuditArgs {
    /// The project to audit.
    #[arg(default_value = ".")]
    path: PathBuf,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Write the report to FILE instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
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
}

#[derive(Clone, Copy, ValueEnum, Default)]
enum Format {
    #[default]
    Human,
    Json,
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

fn main() -> ExitCode {
    prodready::engine::install_panic_hook();
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Audit(AuditArgs {
        path: PathBuf::from("."),
        ..AuditArgs::default()
    }));
    match command {
        Command::Audit(args) => run_audit(args),
        Command::Rules { format } => {
            let text = match format {
                RulesFormat::Human => rules::list_human(),
                RulesFormat::Json => rules::list_json(),
                RulesFormat::Markdown => rules::list_markdown(),
            };
            print(&text)
        }
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
    if !args.path.exists() {
        return error(format!(
            "{}: no such file or directory",
            args.path.display()
        ));
    }
    let mut config = match config::load(&args.path, args.config.as_deref()) {
        Ok(config) => config,
        Err(report) => {
            eprintln!("{report:?}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    if let Some(select) = args.select {
        config.select = Some(select);
    }
    config.ignore.extend(args.ignore);
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
    if let Some(path) = &args.baseline {
        match Baseline::load(path) {
            Ok(baseline) => config.baseline = Some(baseline),
            Err(message) => return error(message),
        }
    }
    let report = match prodready::audit(&args.path, &config, args.threads) {
        Ok(report) => report,
        Err(message) => return error(message),
    };
    if let Some(path) = &args.write_baseline {
        let baseline = Baseline::of(&report.findings);
        if let Err(e) = std::fs::write(path, baseline.render()) {
            return error(format!("cannot write {}: {e}", path.display()));
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
    let text = match args.format {
        Format::Human => human::render(
            &report,
            &human::HumanOptions {
                color,
                quiet: args.quiet,
            },
        ),
        Format::Json => json::render(&report),
    };
    match &args.output {
        Some(path) => {
            if let Err(e) = std::fs::write(path, &text) {
                return error(format!("cannot write {}: {e}", path.display()));
            }
            if !args.quiet {
                eprint!(
                    "{}",
                    human::render(
                        &report,
                        &human::HumanOptions {
                            color: false,
                            quiet: true
                        }
                    )
                );
            }
        }
        None => {
            print(&text);
        }
    }
    ExitCode::from(report.exit_code())
}
