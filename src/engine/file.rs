//! Stage four, for one file: its text parsed once by the front end its name selects, its
//! facts extracted (`facts`), and the per-file checks run on the parsed form
//! (`checks::check_file`). A Rust file is parsed only when some tree gate says its tree can
//! matter.

use crate::checks::{self, Budget, FileContext, Parsed, RustFile, TreeFamilies, TreeQuery};
use crate::facts::cargo::{CargoProject, Manifest};
use crate::facts::{
    self, FileFacts, alerts, dashboards, dockerfile, helm, imports, markdown, metric_crates,
    metrics, releases, rust, settings, uses, yaml,
};
use crate::registry::{Category, Code, RuleSet};
use crate::roles::{self, Role};
use crate::source::{FileKind, Source};
use crate::suppress;
use crate::timings::{self, Step};
use crate::words::{FileWords, Vocabulary};

/// Whether `analyse` parses a Rust file when its gates let it (`Gated`), or whatever they say
/// (`Always`: the project phase asked for the file's uses, see `FileFacts::uses_pending`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Tree {
    Gated,
    Always,
}

/// What a Rust file's gates decided: parse it now, maybe later (only its uses could matter),
/// or never.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum TreeNeed {
    /// With the check families that need the tree (see `RustFile::families`), and the code's
    /// nesting estimated on the tokens the gates lexed (`rust::parse_estimated`).
    Now(TreeFamilies, Option<usize>),
    Later,
    Never,
}

/// Every word a tree gate asks about: of the check families, of the fact extractors, and every
/// key under which the project renames a crate (`has_path` asks for it in place of the crate's
/// name). Built once per audit, before the per-file phase.
pub fn gate_vocabulary(cargo: &CargoProject) -> Vocabulary {
    let renamed = cargo.rename_keys().map(str::to_string);
    Vocabulary::new(
        (checks::gate_words())
            .chain(facts::gate_words())
            .chain(renamed),
    )
}

/// `PRODREADY_PARSE_EVERY_RUST_FILE=1` switches the tree gates off: every Rust file is parsed,
/// and the findings must be the same (`tests/gates.rs`, `bench/run.sh`).
pub fn parse_every_rust_file() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| {
        std::env::var_os("PRODREADY_PARSE_EVERY_RUST_FILE")
            .is_some_and(|v| !v.is_empty() && v != "0")
    })
}

/// Analyses one file's text. Manifests (Cargo.toml, Cargo.lock) were parsed into the Cargo
/// model before this; here they get the text-level checks and their settings' checks.
pub fn analyse(
    source: Source,
    known_not_parsed: Option<String>,
    cargo: &CargoProject,
    rules: &RuleSet,
    vocabulary: &Vocabulary,
    budget: &Budget,
    tree: Tree,
) -> FileFacts {
    let kind = FileKind::of(&source.path);
    let mut facts = FileFacts::new(&source, kind);
    facts.role = roles::of_file(&source.path, cargo, &source.text);
    let file = FileInput {
        source: &source,
        kind,
        cargo,
        rules,
        vocabulary,
        budget,
        // Scanned once: it also decides below whether a Rust file is worth parsing.
        secrets_in_text: timings::time(Step::SecretsInText, || {
            checks::secrets::detect_in_text(&source, kind)
        }),
    };
    let too_large = facts::too_large(source.text.len());
    let rust_tree = (kind == FileKind::Rust).then(|| file.rust_tree(tree, &too_large, &mut facts));
    let name = crate::source::file_name(&source.path);
    match kind {
        _ if too_large.is_some() => {
            facts.not_parsed = too_large;
            file.check(&Parsed::default(), &mut facts);
        }
        FileKind::Rust => match rust_tree.flatten() {
            Some((families, nesting)) => file.analyse_rust(families, nesting, &mut facts),
            None => file.check(&Parsed::default(), &mut facts),
        },
        // `cargo vendor`'s checksum files hold only hashes of file contents, like Cargo.lock.
        FileKind::Json if name == ".cargo-checksum.json" => {
            file.check(&Parsed::default(), &mut facts);
        }
        FileKind::Yaml | FileKind::Json => {
            facts.release_step = releases::release_step(&source.path, &source.text);
            facts.scrape = dashboards::scrape_line(&source);
            file.analyse_yaml_or_json(&mut facts);
        }
        FileKind::Toml if crate::source::is_cargo_manifest_or_lock(&source.path) => {
            file.analyse_manifest(&mut facts);
        }
        FileKind::Toml => file.analyse_toml(&mut facts),
        FileKind::Env => {
            let settings = settings::from_env(&source);
            facts.limit_setting = uses::limit_setting(&source, &settings);
            file.check(&Parsed::with_settings(&settings), &mut facts);
        }
        FileKind::Markdown => {
            facts.headings = Some(markdown::headings(&source));
            facts.changelog = changelog(&source, facts.headings.as_deref());
            file.check(&Parsed::default(), &mut facts);
        }
        FileKind::Text => {
            let lower = source.path.to_ascii_lowercase();
            if [".rst", ".adoc", ".asciidoc"]
                .iter()
                .any(|ext| lower.ends_with(ext))
            {
                facts.headings = Some(markdown::text_headings(&source));
                facts.changelog = changelog(&source, facts.headings.as_deref());
            }
            facts.dashboards.extend(dashboards::from_text(&source));
            if lower.ends_with(".tpl") {
                facts.scrape = dashboards::scrape_line(&source);
            }
            if dockerfile::is_dockerfile(&source.path) {
                facts.dockerfile_healthcheck = dockerfile::healthcheck_line(&source.text);
            }
            file.check(&Parsed::default(), &mut facts);
        }
    }
    finish(&source, known_not_parsed, &mut facts);
    facts
}

/// What is said last about a file's analysis: why it was not parsed (masked), and the budget's
/// stop once.
/// The newest released entry of a changelog document.
fn changelog(
    source: &Source,
    headings: Option<&[markdown::Heading]>,
) -> Option<releases::Changelog> {
    let headings = headings.filter(|_| releases::is_changelog_document(&source.path))?;
    releases::newest_entry(source, headings)
}

fn finish(source: &Source, known_not_parsed: Option<String>, facts: &mut FileFacts) {
    if known_not_parsed.is_some() {
        facts.not_parsed = known_not_parsed;
    }
    // A parser's message may quote the text it stopped at: mask the secrets found in it.
    facts.not_parsed = facts.not_parsed.take().map(|m| source.redact_message(&m));
    // The budget, once spent, stops every later step: say so once.
    let mut stopped = false;
    facts
        .not_analysed
        .retain(|i| !i.starts_with("analysis stopped") || !std::mem::replace(&mut stopped, true));
}

/// What every file's checks share, whatever its kind.
struct FileInput<'a> {
    source: &'a Source,
    kind: FileKind,
    cargo: &'a CargoProject,
    rules: &'a RuleSet,
    /// The gate vocabulary (`gate_vocabulary`).
    vocabulary: &'a Vocabulary,
    /// Known-format and URL secrets, found in the text before any parse.
    secrets_in_text: Vec<checks::secrets::Detection>,
    budget: &'a Budget,
}

impl FileInput<'_> {
    /// Runs one extraction step unless the budget is spent, catching a panic: `None` (and a
    /// reason the file is not fully analysed) when it did not run or did not finish.
    fn step<T>(
        &self,
        name: &str,
        not_analysed: &mut Vec<String>,
        run: impl FnOnce() -> T,
    ) -> Option<T> {
        if self.budget.expired() {
            if not_analysed.is_empty() {
                not_analysed.push(self.budget.stopped(&[name, "the checks"]));
            }
            return None;
        }
        checks::guarded(name, &self.source.path, run)
            .map_err(|reason| not_analysed.push(reason))
            .ok()
    }

    /// A Rust file's tree need, decided and timed: the families to give the tree and the
    /// nesting estimate when it is to be parsed now (`None`: not now).
    fn rust_tree(
        &self,
        tree: Tree,
        too_large: &Option<String>,
        facts: &mut FileFacts,
    ) -> Option<(TreeFamilies, Option<usize>)> {
        let gated = too_large.is_none() && tree == Tree::Gated && !parse_every_rust_file();
        let need = if gated {
            let (need, read) = timings::time(Step::TreeGates, || self.rust_tree_need(facts.role));
            (facts.modules, facts.metrics_endpoint) = (Some(read.modules), read.metrics_endpoint);
            need
        } else {
            let text = &self.source.text;
            let tokens = crate::words::code_token_list(text);
            let read = rust::token_facts(text, || &tokens);
            (facts.modules, facts.metrics_endpoint) = (Some(read.modules), read.metrics_endpoint);
            TreeNeed::Now(TreeFamilies::ALL, None)
        };
        facts.uses_pending = need == TreeNeed::Later;
        let now = match need {
            TreeNeed::Now(families, nesting) => Some((families, nesting)),
            TreeNeed::Later | TreeNeed::Never => None,
        };
        let (path, len) = (self.source.path.as_str(), self.source.text.len());
        if tree == Tree::Always {
            timings::tree_reason("logging and limits (parsed later)", path, len);
        } else {
            timings::rust_file(len, now.is_some() && too_large.is_none());
        }
        now
    }

    /// Parses a Rust file, extracts its facts and runs the checks on its tree; a file that
    /// does not parse gets the checks of the settings its lines show.
    fn analyse_rust(&self, families: TreeFamilies, nesting: Option<usize>, facts: &mut FileFacts) {
        let source = self.source;
        let ast = match timed_parse(source, nesting) {
            Ok(ast) => ast,
            Err(reason) => {
                // A failed parse leaves its text in proc-macro2's map too.
                proc_macro2::extra::invalidate_current_thread_spans();
                facts.not_parsed = Some(reason);
                self.check_settings_by_line(facts);
                return;
            }
        };
        facts.rust = timings::time(Step::RustFacts, || {
            self.step("rust facts", &mut facts.not_analysed, || {
                rust::extract(&source.path, &ast)
            })
        });
        let imports = self.imports(&ast, facts);
        self.extract_rust_uses(&ast, &imports, facts);
        let parsed = Parsed {
            rust: Some(RustFile {
                ast: &ast,
                imports: &imports,
                families,
            }),
            ..Parsed::default()
        };
        self.check(&parsed, facts);
        timings::time(Step::RustParse, || {
            drop(ast);
            // proc-macro2 keeps every parsed file's text per thread; release it.
            proc_macro2::extra::invalidate_current_thread_spans();
        });
    }

    /// The file's `use` imports, with its package's renamed crates.
    fn imports(&self, ast: &syn::File, facts: &mut FileFacts) -> imports::Imports {
        let path = self.source.path.as_str();
        let renames = self.cargo.crate_renames_of(path);
        let imported = timings::time(Step::RustImports, || {
            checks::guarded("imports", path, || imports::Imports::of_file(ast, renames))
        });
        imported.unwrap_or_else(|reason| {
            facts.not_analysed.push(reason);
            imports::Imports::default()
        })
    }

    /// The metrics a Rust file registers and its logging and load-limiting uses, when rules
    /// that read them run.
    fn extract_rust_uses(
        &self,
        ast: &syn::File,
        imports: &imports::Imports,
        facts: &mut FileFacts,
    ) {
        let source = self.source;
        if self.rules.any_in(Category::Observability) || self.rules.any_in(Category::Drift) {
            let available = metric_crates(self.cargo, &source.path);
            facts.metrics = timings::time(Step::RustMetrics, || {
                self.step("metrics", &mut facts.not_analysed, || {
                    metrics::extract(source, ast, imports, available)
                })
            })
            .flatten();
        }
        if self.rules.any(&[Code::OBS001, Code::RES009])
            && let Some(rust) = &facts.rust
        {
            facts.uses = self
                .step("uses", &mut facts.not_analysed, || {
                    uses::extract(source, ast, imports, rust)
                })
                .map(Box::new);
        }
    }

    /// A YAML or JSON file: its documents' facts (YAML only), alerting rules and settings, the
    /// checks, then its deployment facts.
    fn analyse_yaml_or_json(&self, facts: &mut FileFacts) {
        let source = self.source;
        let documents = match timed(|| yaml::parse(source)) {
            Ok(documents) => documents,
            Err(reason) => {
                if self.kind == FileKind::Yaml {
                    facts.yaml = Some(Box::new(yaml::extract_from_text(source)));
                    facts.helm = helm_file(source, Err(&reason));
                }
                facts.not_parsed = Some(reason);
                self.check_settings_by_line(facts);
                return;
            }
        };
        if self.kind == FileKind::Yaml {
            facts.helm = helm_file(source, Ok(&documents));
        }
        if self.kind == FileKind::Yaml {
            facts.yaml = self
                .step("yaml facts", &mut facts.not_analysed, || {
                    yaml::extract(source, &documents)
                })
                .map(Box::new);
        }
        facts.dashboards = self
            .step("dashboards", &mut facts.not_analysed, || {
                dashboards::extract(source, &documents)
            })
            .unwrap_or_default();
        facts.prometheus_rules = self
            .step("alerts", &mut facts.not_analysed, || {
                alerts::extract(source, &documents)
            })
            .filter(|rules| !rules.is_empty());
        let settings = self
            .step("settings", &mut facts.not_analysed, || {
                settings::from_yaml(source, &documents)
            })
            .unwrap_or_default();
        note_settings_cap(&settings, &mut facts.notes);
        facts.limit_setting = uses::limit_setting(source, &settings);
        let parsed = Parsed {
            yaml: Some(&documents),
            settings: Some(&settings),
            ..Parsed::default()
        };
        self.check(&parsed, facts);
        if facts.yaml.is_some()
            && let Some(deploy) = self.step("deployment facts", &mut facts.not_analysed, || {
                checks::deployment::facts(source, &documents)
            })
            && let Some(yaml) = facts.yaml.as_mut()
        {
            yaml.deploy = deploy;
        }
    }

    /// A Cargo manifest or lockfile: parsed into the Cargo model already; parse nothing twice.
    fn analyse_manifest(&self, facts: &mut FileFacts) {
        let manifest = self.cargo.manifest_at(&self.source.path);
        let parsed = Parsed {
            settings: manifest.map(|m| m.settings.as_slice()),
            ..Parsed::default()
        };
        self.check(&parsed, facts);
    }

    fn analyse_toml(&self, facts: &mut FileFacts) {
        let source = self.source;
        match timed(|| toml::de::DeTable::parse(&source.text)) {
            Ok(table) => {
                let settings = self
                    .step("settings", &mut facts.not_analysed, || {
                        settings::from_toml(table.get_ref())
                    })
                    .unwrap_or_default();
                note_settings_cap(&settings, &mut facts.notes);
                facts.limit_setting = uses::limit_setting(source, &settings);
                self.check(&Parsed::with_settings(&settings), facts);
            }
            Err(error) => {
                let line = error.span().map_or(0, |s| source.line_of(s.start));
                facts.not_parsed = Some(format!("{line}: {}", error.message()));
                self.check_settings_by_line(facts);
            }
        }
    }

    /// Whether a Rust file's syntax tree can matter, decided on its text and package before any
    /// parse: to some check family (`checks::TreeQuery`), or to the facts the project phase
    /// reads — test regions declared elsewhere, allow comments, service evidence, metrics,
    /// logging and load-limiting uses. Every condition is necessary for what it guards, so a
    /// file that meets none would yield nothing from its tree. Logging and load-limiting uses
    /// alone make it `Later`: the project phase asks for them only when its verdict depends on
    /// them (one logging call anywhere settles OBS001, for one).
    /// Returns the facts read from the tokens the gates lexed too.
    fn rust_tree_need(&self, role: Role) -> (TreeNeed, rust::TokenFacts) {
        let text = &self.source.text;
        let path = self.source.path.as_str();
        let ctx = self.context(&self.secrets_in_text);
        let renames = ctx.manifest.map_or(&[][..], Manifest::crate_renames);
        let words = FileWords::new(text, self.vocabulary, renames);
        let query = TreeQuery {
            ctx: &ctx,
            role,
            words: &words,
        };
        let production = role == Role::Production;
        let read = rust::token_facts(text, || words.tokens());
        let reasons: [(&str, &dyn Fn() -> bool); 3] = [
            ("test regions or allow comments", &|| {
                read.declares_test_module || text.contains("prodready:")
            }),
            ("service evidence", &|| {
                production && rust::may_show_service(&words, path, self.cargo)
            }),
            ("metrics", &|| {
                production
                    && (self.rules.any_in(Category::Observability)
                        || self.rules.any_in(Category::Drift))
                    && metrics::may_emit(text)
                    && (metric_crates(self.cargo, path).any()
                        || facts::METRIC_CRATES.iter().any(|c| words.has_path(c)))
                    && metrics::may_register(&words)
            }),
        ];
        let may_use = || {
            production
                && (query.live(Code::OBS001) || query.live(Code::RES009))
                && !crate::project::is_build_script(path, self.cargo)
                && uses::may_use(&words)
        };
        // Every family's gate is asked: a parsed tree is given only to the families that need
        // it (`RustFile::families`). A file to parse has its nesting estimated on the tokens
        // the gates lexed.
        let families = query.families_needing_tree();
        let now = || {
            TreeNeed::Now(
                families,
                Some(rust::recursion_estimate(words.tokens().iter().copied())),
            )
        };
        // With timings on, every reason that holds is noted, not only the first, to see which
        // gates let files through; each gate is asked once.
        let mut needed = false;
        if timings::enabled() {
            let families_named = families.names().map(|family| (family, true));
            for (reason, holds) in reasons
                .iter()
                .map(|(r, holds)| (*r, holds()))
                .chain(families_named)
            {
                if holds {
                    timings::tree_reason(reason, path, text.len());
                    needed = true;
                }
            }
        } else {
            needed = !families.is_empty() || reasons.iter().any(|(_, holds)| holds());
        }
        let need = if needed {
            now()
        } else if may_use() {
            if timings::enabled() {
                timings::tree_reason("logging and limits (asked later)", path, text.len());
            }
            TreeNeed::Later
        } else {
            TreeNeed::Never
        };
        (need, read)
    }

    /// The context the check families read, with the secrets detected so far.
    fn context<'s>(&'s self, secrets: &'s [checks::secrets::Detection]) -> FileContext<'s> {
        FileContext {
            source: self.source,
            kind: self.kind,
            cargo: self.cargo,
            manifest: self.cargo.manifest_for(&self.source.path),
            rules: self.rules,
            secrets,
        }
    }

    /// The checks of a file that did not parse, with the settings its lines still show
    /// (`key: value`, `key = value`, Rust's `let key = "value"`), so that a password in a broken
    /// file is still found and masked.
    fn check_settings_by_line(&self, facts: &mut FileFacts) {
        let settings = settings::from_lines(self.source, self.kind);
        self.check(&Parsed::with_settings(&settings), facts);
    }

    /// Detects secrets first (their spans must be masked in every finding made after), reads the
    /// allow comments, then runs the per-file checks.
    fn check(&self, parsed: &Parsed<'_>, facts: &mut FileFacts) {
        timings::time(Step::Checks, || self.check_untimed(parsed, facts));
    }

    fn check_untimed(&self, parsed: &Parsed<'_>, facts: &mut FileFacts) {
        // Secrets are detected whatever the budget: their spans mask every output.
        let secrets = match checks::guarded("secret detection", &self.source.path, || {
            checks::secrets::detect_in_structure(
                self.source,
                self.kind,
                &parsed.for_family("secrets"),
                self.secrets_in_text.clone(),
            )
        }) {
            Ok(secrets) => secrets,
            Err(reason) => {
                facts.not_analysed.push(reason);
                self.secrets_in_text.clone()
            }
        };
        facts.secrets_detected |= !secrets.is_empty();
        self.source
            .set_secret_spans(secrets.iter().map(|d| d.secret.clone()).collect());
        facts.allows = suppress::parse(self.source, self.kind)
            .into_iter()
            .map(|allow| {
                let site = self.source.site(allow.range.clone());
                (allow, site)
            })
            .collect();
        let ctx = self.context(&secrets);
        let reasons = checks::check_file(&ctx, parsed, self.budget, &mut facts.findings);
        facts.not_analysed.extend(reasons);
    }
}

/// What a YAML file tells of a Helm chart: a template (its text has actions), values or
/// `Chart.yaml`. `None` for any other file.
fn helm_file(
    source: &Source,
    documents: Result<&[saphyr::MarkedYaml<'_>], &String>,
) -> Option<Box<helm::HelmFile>> {
    let name = crate::source::file_name(&source.path);
    let mut file = helm::HelmFile::default();
    if source.text.contains("{{") {
        file.template = Some(helm::template(source));
    } else if helm::is_values_file(&source.path) {
        file.values = Some(match documents {
            Ok(documents) => helm::values(source, documents),
            Err(reason) => helm::Values {
                unreadable: Some(format!("it is not YAML ({reason})")),
                ..helm::Values::default()
            },
        });
    } else if name == "Chart.yaml" {
        file.chart = Some(helm::chart(documents.unwrap_or_default()));
    } else {
        return None;
    }
    Some(Box::new(file))
}

fn note_settings_cap(settings: &[settings::Setting], notes: &mut Vec<String>) {
    if settings.len() >= settings::MAX_SETTINGS {
        notes.push(format!(
            "more than {} settings: only the first {} were read",
            settings::MAX_SETTINGS,
            settings::MAX_SETTINGS
        ));
    }
}

/// Parses a Rust file, timed (see `timings`).
pub fn timed_parse(source: &Source, nesting: Option<usize>) -> Result<syn::File, String> {
    timings::time(Step::RustParse, || {
        rust::parse_estimated(&source.path, &source.text, nesting)
    })
}

/// Parses a YAML, JSON or TOML file, timed (see `timings`).
fn timed<T>(parse: impl FnOnce() -> T) -> T {
    timings::time(Step::OtherParse, parse)
}
