//! What a timeout finding needs from other files, settled once every file has been seen
//! (`finding::Condition`):
//! - a connect or request made in a function that every caller in the project runs under a
//!   timeout (`tokio::time::timeout(d, healthcheck::check_api(..))` in `main.rs`) has one;
//! - a timeout set only when an optional setting is (`if let Some(t) = config.timeout`) is a
//!   finding only when the project shows that the setting is unset by default: a derived
//!   `Default`, a hand-written one or a struct literal that leaves the field `None`,
//!   `#[serde(default)]` on it, or a call that passes `None` for the parameter.
//!
//! Only the project's production files are read for callers and defaults, and only those whose
//! text names what a condition asks about.

use std::collections::{BTreeSet, HashMap, HashSet};

use rayon::prelude::*;

use syn::spanned::Spanned;
use syn::visit::{self, Visit};

use super::flow::{Call, Flow, type_name};
use crate::facts::FileFacts;
use crate::facts::cargo::CargoProject;
use crate::facts::imports::Imports;
use crate::finding::{Condition, OptionalSetting};
use crate::roles::Role;
use crate::source::{FileKind, Source};

/// How many callers up a chain of functions a timeout is looked for.
const CALLER_DEPTH: usize = 4;

/// A function named in more files than this is a common name (`new`, `send`), not one helper:
/// its callers are not looked for, and it is not bounded.
const MAX_CALLER_FILES: usize = 12;

/// Settles every finding of the files that carries a condition: kept (its message completed),
/// or dropped. `read` gives a file's text again.
pub fn settle(
    files: &mut [FileFacts],
    cargo: &CargoProject,
    read: impl Fn(&str) -> Option<String> + Sync,
) {
    let mut wanted = Wanted::default();
    for condition in files
        .iter()
        .flat_map(|f| &f.findings)
        .filter_map(|f| f.condition.as_deref())
    {
        wanted.add(condition);
    }
    if wanted.is_empty() {
        return;
    }
    let project = Project::read(files, cargo, &wanted, read);
    for file in files.iter_mut() {
        file.findings.retain_mut(|finding| {
            let Some(condition) = finding.condition.take() else {
                return true;
            };
            let callers = &condition.unless_callers_bounded;
            if !callers.is_empty()
                && callers
                    .iter()
                    .all(|f| project.bounded(f, &mut HashSet::new(), 0))
            {
                return false;
            }
            let Some(setting) = &condition.if_unset_by_default else {
                return true;
            };
            let Some(at) = project.unset_by_default(setting) else {
                return false;
            };
            let unset = match setting {
                OptionalSetting::Field { .. } => "by default it is unset",
                OptionalSetting::Param { .. } => "a call passes `None`",
            };
            finding.message = format!(
                "{}; {setting} would set one, and {unset} ({at})",
                finding.message
            );
            true
        });
    }
}

/// What the conditions ask about.
#[derive(Default)]
struct Wanted {
    /// Functions whose callers may bound them.
    functions: BTreeSet<String>,
    /// Settings that are fields: (owner type, field). One of a type the code does not name
    /// cannot be told, and is not asked about.
    fields: BTreeSet<(String, String)>,
    /// Functions whose calls may pass `None` for a parameter.
    params: BTreeSet<String>,
}

impl Wanted {
    fn add(&mut self, condition: &Condition) {
        self.functions
            .extend(condition.unless_callers_bounded.iter().cloned());
        match &condition.if_unset_by_default {
            Some(OptionalSetting::Field {
                owner: Some(owner),
                field,
            }) => {
                self.fields.insert((owner.clone(), field.clone()));
            }
            Some(OptionalSetting::Param { function, .. }) => {
                self.params.insert(function.clone());
            }
            _ => {}
        }
    }

    fn is_empty(&self) -> bool {
        self.functions.is_empty() && self.fields.is_empty() && self.params.is_empty()
    }

    /// Whether a file that holds these identifiers may show a setting's default.
    fn shows_settings(&self, has: impl Fn(&str) -> bool) -> bool {
        self.params.iter().any(|f| has(f))
            || (self.fields.iter()).any(|(owner, field)| has(owner) && has(field))
    }

    fn words(&self) -> impl Iterator<Item = &String> {
        let fields = self.fields.iter().flat_map(|(owner, field)| [owner, field]);
        self.params.iter().chain(fields)
    }
}

/// What the production files that name a wanted function or setting say.
#[derive(Default)]
struct Project {
    /// Every call the files read make, by the callee's name.
    calls: HashMap<String, Vec<Call>>,
    /// Functions not bounded whatever their calls seen: named in so many files that their
    /// callers are not looked for, or in a file that could not be read.
    common: HashSet<String>,
    /// Where each field (owner type, field) is shown unset by default (`path:line`).
    unset_fields: HashMap<(String, String), String>,
    /// Where a call passes `None` for a parameter (function, position).
    none_arguments: HashMap<(String, usize), String>,
}

/// One file's share of a [`Project`].
#[derive(Default)]
struct Share {
    calls: Vec<Call>,
    unset_fields: Vec<((String, String), String)>,
    none_arguments: Vec<((String, usize), String)>,
}

/// A production file whose code names something a round looks for.
struct Hit<'f> {
    file: &'f FileFacts,
    text: String,
    /// The looked-for function names it holds.
    names: Vec<String>,
    /// It may show a setting's default.
    settings: bool,
}

/// The files whose code (not comments or strings) names one of `names`, or may show one of
/// the settings' defaults.
fn scan<'f>(
    files: &[&'f FileFacts],
    names: &BTreeSet<String>,
    settings: Option<&Wanted>,
    read: &(impl Fn(&str) -> Option<String> + Sync),
) -> Vec<Hit<'f>> {
    let words = names
        .iter()
        .chain(settings.into_iter().flat_map(Wanted::words));
    let vocabulary = crate::words::Vocabulary::new(words.cloned());
    files
        .par_iter()
        .filter_map(|file| {
            let text = read(&file.path)?;
            // Lexed only when the text writes what the code would have to hold.
            let written = |word: &str| crate::words::written_as_word(&text, word);
            if !names.iter().any(|n| written(n))
                && !settings.is_some_and(|w| w.shows_settings(written))
            {
                return None;
            }
            let present = vocabulary.scan(&text);
            let held: Vec<String> = names.iter().filter(|n| present.has(n)).cloned().collect();
            let shows = settings.is_some_and(|w| w.shows_settings(|word| present.has(word)));
            drop(present);
            (shows || !held.is_empty()).then_some(Hit {
                file,
                text,
                names: held,
                settings: shows,
            })
        })
        .collect()
}

/// What one file says: its calls, and the settings it leaves unset. `None` when it cannot be
/// parsed (or its analysis failed: contained, never the audit's end).
fn share(file: &FileFacts, text: &str, cargo: &CargoProject, wanted: &Wanted) -> Option<Share> {
    let path = file.path.as_str();
    let shared = crate::checks::guarded("timeouts", path, || {
        let share = parse_share(path, text, cargo, wanted);
        proc_macro2::extra::invalidate_current_thread_spans();
        share
    });
    shared.ok().flatten()
}

fn parse_share(path: &str, text: &str, cargo: &CargoProject, wanted: &Wanted) -> Option<Share> {
    let ast = crate::facts::rust::parse_estimated(path, text, None).ok()?;
    let imports = Imports::of_file(&ast, cargo.crate_renames_of(path));
    let source = Source::new(path, text.to_string());
    let flow = Flow::of_file(&ast, &imports, &source, &super::vocabulary());
    let mut defaults = Defaults {
        source: &source,
        wanted,
        self_type: None,
        share: Share {
            calls: flow.calls,
            ..Share::default()
        },
    };
    defaults.visit_file(&ast);
    Some(defaults.share)
}

impl Project {
    /// Reads the production files that name a wanted function or setting, then, round by
    /// round, those that name a caller of a wanted function made outside a timeout (its own
    /// callers may bound it). Each file is parsed at most once.
    fn read(
        files: &[FileFacts],
        cargo: &CargoProject,
        wanted: &Wanted,
        read: impl Fn(&str) -> Option<String> + Sync,
    ) -> Project {
        let mut project = Project::default();
        let mut unread: Vec<&FileFacts> = files
            .iter()
            .filter(|f| f.kind == FileKind::Rust && f.role == Role::Production)
            .collect();
        let mut names: BTreeSet<String> = wanted.functions.clone();
        let mut known = names.clone();
        for round in 0..=CALLER_DEPTH {
            let settings = (round == 0).then_some(wanted);
            let found = scan(&unread, &names, settings, &read);
            // A name in many files is a common method name, not a helper to follow.
            let mut counts: HashMap<&str, usize> = HashMap::new();
            for name in found.iter().flat_map(|hit| &hit.names) {
                *counts.entry(name.as_str()).or_default() += 1;
            }
            let common: Vec<String> = counts
                .into_iter()
                .filter(|(_, n)| *n > MAX_CALLER_FILES)
                .map(|(name, _)| name.to_string())
                .collect();
            project.common.extend(common);
            let chosen: Vec<&Hit> = found
                .iter()
                .filter(|hit| hit.settings || hit.names.iter().any(|n| !project.common.contains(n)))
                .collect();
            let shares: Vec<(&Hit, Option<Share>)> = chosen
                .par_iter()
                .map(|hit| (*hit, share(hit.file, &hit.text, cargo, wanted)))
                .collect();
            for (hit, share) in shares {
                match share {
                    Some(share) => project.add(share),
                    // Its calls cannot be seen: what it names cannot be shown bounded.
                    None => project.common.extend(hit.names.iter().cloned()),
                }
            }
            let read_now: HashSet<&str> = chosen.iter().map(|h| h.file.path.as_str()).collect();
            unread.retain(|f| !read_now.contains(f.path.as_str()));
            // The callers of untimed calls of what was looked for, for the next round.
            names = names
                .iter()
                .filter(|name| !project.common.contains(*name))
                .flat_map(|name| project.calls.get(name).into_iter().flatten())
                .filter(|call| !call.timed)
                .filter_map(|call| call.caller.clone())
                .filter(|caller| !known.contains(caller))
                .collect();
            if names.is_empty() {
                break;
            }
            known.extend(names.iter().cloned());
        }
        project
    }

    fn add(&mut self, share: Share) {
        for call in share.calls {
            self.calls
                .entry(call.callee.clone())
                .or_default()
                .push(call);
        }
        for (key, at) in share.unset_fields {
            self.unset_fields.entry(key).or_insert(at);
        }
        for (key, at) in share.none_arguments {
            self.none_arguments.entry(key).or_insert(at);
        }
    }

    /// Whether every call of `function` runs under a timeout: inside a wrapper, or in a
    /// function whose own callers are all bounded. A function nobody calls is not.
    fn bounded(&self, function: &str, seen: &mut HashSet<String>, depth: usize) -> bool {
        if depth > CALLER_DEPTH
            || self.common.contains(function)
            || !seen.insert(function.to_string())
        {
            return false;
        }
        let calls: Vec<&Call> = self
            .calls
            .get(function)
            .into_iter()
            .flatten()
            .filter(|c| c.caller.as_deref() != Some(function))
            .collect();
        !calls.is_empty()
            && calls.iter().all(|call| {
                call.timed
                    || call
                        .caller
                        .as_deref()
                        .is_some_and(|caller| self.bounded(caller, &mut seen.clone(), depth + 1))
            })
    }

    /// Where the project shows the setting unset by default, if it does. A field of a type
    /// the code does not name cannot be told.
    fn unset_by_default(&self, setting: &OptionalSetting) -> Option<&String> {
        match setting {
            OptionalSetting::Field { owner, field } => {
                self.unset_fields.get(&(owner.clone()?, field.clone()))
            }
            OptionalSetting::Param {
                function, index, ..
            } => self.none_arguments.get(&(function.clone(), *index)),
        }
    }
}

/// Finds where settings are left `None` by default.
struct Defaults<'a> {
    source: &'a Source,
    wanted: &'a Wanted,
    self_type: Option<String>,
    share: Share,
}

impl Defaults<'_> {
    fn at(&self, span: proc_macro2::Span) -> String {
        let line = self.source.line_of(self.source.span_range(span).start);
        format!("{}:{line}", self.source.path)
    }

    /// A field left `None`, if a condition asks about it.
    fn note_field(&mut self, owner: String, field: String, span: proc_macro2::Span) {
        let key = (owner, field);
        if self.wanted.fields.contains(&key) {
            let at = self.at(span);
            self.share.unset_fields.push((key, at));
        }
    }

    /// A struct whose `Option` fields are `None` by default: a derived `Default`, or
    /// `#[serde(default)]` on the field.
    fn fields(&mut self, name: &str, attrs: &[syn::Attribute], fields: &syn::Fields) {
        let derives_default = attrs.iter().any(|a| {
            a.path().is_ident("derive")
                && a.meta.require_list().is_ok_and(|l| {
                    l.tokens
                        .clone()
                        .into_iter()
                        .any(|t| t.to_string() == "Default")
                })
        });
        for field in fields {
            let Some(ident) = &field.ident else { continue };
            if is_option(&field.ty) && (derives_default || serde_default(&field.attrs)) {
                self.note_field(name.to_string(), ident.to_string(), field.span());
            }
        }
    }
}

impl<'ast> Visit<'ast> for Defaults<'_> {
    fn visit_item_struct(&mut self, item: &'ast syn::ItemStruct) {
        self.fields(&item.ident.to_string(), &item.attrs, &item.fields);
        visit::visit_item_struct(self, item);
    }

    fn visit_item_impl(&mut self, item: &'ast syn::ItemImpl) {
        let saved = std::mem::replace(&mut self.self_type, type_name(&item.self_ty));
        visit::visit_item_impl(self, item);
        self.self_type = saved;
    }

    /// `Config { timeout: None, .. }` (also `Self { .. }` in its impl): the setting left unset.
    fn visit_expr_struct(&mut self, expr: &'ast syn::ExprStruct) {
        let named = expr.path.segments.last().map(|s| s.ident.to_string());
        let owner = match named.as_deref() {
            Some("Self") => self.self_type.clone(),
            other => other.map(str::to_string),
        };
        for field in &expr.fields {
            let (syn::Member::Named(name), syn::Expr::Path(value)) = (&field.member, &field.expr)
            else {
                continue;
            };
            if let Some(owner) = &owner
                && value.path.is_ident("None")
            {
                self.note_field(owner.clone(), name.to_string(), field.span());
            }
        }
        visit::visit_expr_struct(self, expr);
    }

    fn visit_expr_call(&mut self, call: &'ast syn::ExprCall) {
        if let syn::Expr::Path(func) = &*call.func
            && let Some(last) = func.path.segments.last()
        {
            self.none_arguments(&last.ident.to_string(), &call.args, call.span());
        }
        visit::visit_expr_call(self, call);
    }

    fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
        self.none_arguments(&call.method.to_string(), &call.args, call.span());
        visit::visit_expr_method_call(self, call);
    }
}

impl Defaults<'_> {
    /// `connect(addr, None)`: the parameter at that position left unset.
    fn none_arguments(
        &mut self,
        function: &str,
        args: &syn::punctuated::Punctuated<syn::Expr, syn::Token![,]>,
        span: proc_macro2::Span,
    ) {
        if !self.wanted.params.contains(function) {
            return;
        }
        for (index, arg) in args.iter().enumerate() {
            if matches!(arg, syn::Expr::Path(p) if p.path.is_ident("None")) {
                let at = self.at(span);
                self.share
                    .none_arguments
                    .push(((function.to_string(), index), at));
            }
        }
    }
}

/// `Option<..>`, however the path is written.
fn is_option(ty: &syn::Type) -> bool {
    matches!(ty, syn::Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "Option"))
}

/// `#[serde(default)]` (not `default = "f"`, which names the default).
fn serde_default(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("serde")
            && a.meta.require_list().is_ok_and(|l| {
                let tokens: Vec<String> = l
                    .tokens
                    .clone()
                    .into_iter()
                    .map(|t| t.to_string())
                    .collect();
                tokens.windows(2).any(|w| w[0] == "default" && w[1] != "=")
                    || tokens.last().is_some_and(|t| t == "default")
            })
    })
}
