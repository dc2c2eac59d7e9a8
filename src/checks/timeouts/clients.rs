//! Network clients and connections followed from their constructor: is a timeout set on the
//! builder (on any path, conditional ones included), on every request made through the client
//! in this file, or by a timeout wrapper around the call?

use std::collections::{BTreeSet, HashSet};
use std::ops::Range;

use serde::Deserialize;

use super::flow::{Flow, OptionRef, Root, Sink, Use};
use crate::facts::cargo::{CargoProject, Manifest};
use crate::facts::imports::Imports;
use crate::finding::Condition;

/// One client API: its constructors, the calls that set a timeout, the calls that make requests.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Family {
    pub message: String,
    pub fix: String,
    /// The crate whose major version selects this family (ureq 2 and 3, redis before 1.0).
    #[serde(default)]
    pub version_crate: Option<String>,
    #[serde(default)]
    pub major_below: Option<u64>,
    #[serde(default)]
    pub major_from: Option<u64>,
    /// Constructors of a builder that still takes timeout settings.
    #[serde(default)]
    pub builders: Vec<String>,
    /// Constructors of a finished client.
    #[serde(default)]
    pub clients: Vec<String>,
    /// Functions that return a request still open to settings (`ureq::get`).
    #[serde(default)]
    pub requests: Vec<String>,
    /// Functions that start the request or connection at once (`reqwest::get`,
    /// `TcpStream::connect`).
    #[serde(default)]
    pub sends: Vec<String>,
    /// Constructors of a stream whose reads need their own timeout (`connect_timeout`).
    #[serde(default)]
    pub streams: Vec<String>,
    /// Tonic: `<Generated>Client::connect(dst)` of a crate that depends on tonic.
    #[serde(default)]
    pub generated_connect: bool,
    /// Builder methods that finish the client.
    #[serde(default)]
    pub finish: Vec<String>,
    /// Groups of builder (or stream) methods; a group fully present is a timeout.
    #[serde(default)]
    pub timeouts: Vec<Vec<String>>,
    /// Client methods that make a request (or a connection).
    #[serde(default)]
    pub request_methods: Vec<String>,
    /// Request methods that set its timeout.
    #[serde(default)]
    pub request_timeouts: Vec<String>,
    /// Request methods that send it.
    #[serde(default)]
    pub send_methods: Vec<String>,
    /// Requests are judged where they are made or sent: a blocking call, or a one-shot function
    /// nothing can add a timeout to afterwards.
    #[serde(default)]
    pub blocking: bool,
    /// A call awaited in a function whose name contains one of these words (`connect_tcp`,
    /// `dial`) and that this file calls only from such functions: a connection helper whose
    /// callers, elsewhere, own the timeout.
    #[serde(default)]
    pub helper_words: Vec<String>,
    /// Report at each request without a timeout rather than at the constructor.
    #[serde(default)]
    pub report_at_request: bool,
    /// A connect to a loopback address (`127.0.0.1`, `localhost`, `[::1]`) is not judged: no
    /// network drops its packets.
    #[serde(default)]
    pub quiet_on_loopback: bool,
    /// A configuration, not a client: it matters only where a call of a crate whose name starts
    /// with one of these makes a client of it (`aws_sdk_s3::Client::new(&config)`). One used
    /// otherwise (its region, its credentials) or handed on is not judged.
    #[serde(default)]
    pub consumed_by: Vec<String>,
    /// The message for a builder given some timeouts but no complete group of them; `{set}` is
    /// replaced by what it sets.
    #[serde(default)]
    pub partial_message: Option<String>,
    /// Text whose presence in the file means the timeout may be set in a way this analysis does
    /// not follow (a tower `TimeoutLayer`, a service-level `timeout_config`).
    #[serde(default)]
    pub unless_file_mentions: Vec<String>,
}

/// Future adaptors that bound an already started request (`fut.timeout(d)`).
const FUTURE_TIMEOUTS: [&str; 2] = ["timeout", "timeout_at"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Builder,
    Stream,
    Client,
    Request,
    Sent,
}

/// A request (or the constructor) that has no timeout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub range: Range<usize>,
    /// The function the unbounded call is made in; `None` when the value leaves the analysis
    /// (returned, handed on) or blocks a thread, where no caller's timeout can help.
    pub function: Option<String>,
    /// The call has a timeout when this setting is set: it is made in the branch where it is
    /// not, or the builder's timeout is set only in the branch where it is.
    pub unless: Option<OptionRef>,
}

/// What the analysis concluded about one value.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    Timed,
    Unknown,
    /// No timeout: where, and the timeout methods a builder was given short of a full group.
    Untimed(Vec<Place>, BTreeSet<String>),
}

impl Verdict {
    /// Several paths: one without a timeout is enough; otherwise doubt wins over certainty.
    fn and(self, other: Verdict) -> Verdict {
        match (self, other) {
            (Verdict::Untimed(mut a, mut set), Verdict::Untimed(b, other)) => {
                a.extend(b);
                set.extend(other);
                Verdict::Untimed(a, set)
            }
            (untimed @ Verdict::Untimed(..), _) | (_, untimed @ Verdict::Untimed(..)) => untimed,
            (Verdict::Unknown, _) | (_, Verdict::Unknown) => Verdict::Unknown,
            _ => Verdict::Timed,
        }
    }
}

/// A finding: the family, where to report, what it says and what it needs from other files.
pub struct Hit<'a> {
    pub family: &'a Family,
    pub range: Range<usize>,
    pub message: String,
    pub condition: Option<Condition>,
}

/// The major version of a crate the package uses: from the lock file, or else from the
/// requirement in Cargo.toml. `None` when it cannot be told (several majors, a range).
pub fn crate_major(cargo: &CargoProject, manifest: &Manifest, krate: &str) -> Option<u64> {
    if let Some(lock) = cargo.lock_for(manifest) {
        let majors: BTreeSet<u64> = lock
            .versions(krate)
            .iter()
            .filter_map(|v| v.split('.').next()?.parse().ok())
            .collect();
        if !majors.is_empty() {
            return (majors.len() == 1).then(|| *majors.first().unwrap());
        }
    }
    let dep = manifest
        .dependencies
        .iter()
        .map(|d| cargo.resolve(manifest, d))
        .find(|d| d.package == krate)?;
    let requirement = dep.version.as_ref()?.0.trim();
    let exact = requirement.trim_start_matches(['^', '=', '~', ' ']);
    if exact.contains([',', '<', '>', '*']) {
        return None;
    }
    exact.split('.').next()?.trim().parse().ok()
}

/// Whether a family applies to the package's version of its crate.
pub fn version_matches(family: &Family, major: impl FnOnce(&str) -> Option<u64>) -> bool {
    let Some(krate) = &family.version_crate else {
        return true;
    };
    let Some(major) = major(krate) else {
        return false;
    };
    family.major_below.is_none_or(|below| major < below)
        && family.major_from.is_none_or(|from| major >= from)
}

/// Whether a resolved path names a vocabulary entry, directly or through a glob import
/// (`use reqwest::*;` then `Client::new()`).
pub fn names(imports: &Imports, path: &str, entry: &str) -> bool {
    path == entry
        || entry
            .strip_suffix(path)
            .and_then(|head| head.strip_suffix("::"))
            .is_some_and(|prefix| imports.glob_imports(prefix))
}

/// `GreeterClient::connect`, `proto::greeter_client::GreeterClient::connect`.
fn is_generated_connect(path: &str) -> bool {
    let mut segments = path.rsplit("::");
    let (Some("connect"), Some(client)) = (segments.next(), segments.next()) else {
        return false;
    };
    client.len() > "Client".len()
        && client.ends_with("Client")
        && client.starts_with(|c: char| c.is_ascii_uppercase())
}

/// Judges every constructor of one family in a file.
pub fn judge_family<'a>(
    family: &'a Family,
    flow: &Flow,
    imports: &Imports,
    uses_tonic: bool,
) -> Vec<Hit<'a>> {
    let mut hits = Vec::new();
    let mut reported = HashSet::new();
    for origin in &flow.uses {
        let Root::Call {
            path,
            range,
            loopback,
        } = &origin.root
        else {
            continue;
        };
        let Some(stage) = stage_of(family, imports, path, uses_tonic) else {
            continue;
        };
        if (*loopback && family.quiet_on_loopback) || origin.unheld {
            continue;
        }
        let judge = Judge {
            family,
            flow,
            origin_range: range.clone(),
            visited: Default::default(),
        };
        let Verdict::Untimed(mut places, partial) = judge.steps(stage, BTreeSet::new(), origin, 0)
        else {
            continue;
        };
        // A client made where a timeout setting is not set has one where it is.
        if let Some(setting) = not_set_timeout(origin) {
            for place in places.iter_mut().filter(|p| p.unless.is_none()) {
                place.unless = Some(setting.clone());
            }
        }
        for place in &mut places {
            place.unless = place.unless.as_ref().map(|s| flow.resolve(s));
        }
        let message = match (&family.partial_message, partial.is_empty()) {
            (Some(template), false) => {
                let set: Vec<String> = partial.iter().map(|m| format!("`{m}`")).collect();
                template.replace("{set}", &set.join(" and "))
            }
            _ => family.message.clone(),
        };
        for (range, places) in report_places(family, range, places) {
            let Some(condition) = condition_of(&places) else {
                continue;
            };
            if reported.insert((range.start, range.end)) {
                hits.push(Hit {
                    family,
                    range,
                    message: message.clone(),
                    condition,
                });
            }
        }
    }
    hits
}

/// The timeout setting a chain is made without: it sits where that setting is not set
/// (`if let Some(t) = config.timeout { .. } else { <here> }`).
fn not_set_timeout(chain: &Use) -> Option<OptionRef> {
    chain
        .guard
        .as_ref()
        .filter(|g| !g.set && g.names_timeout)
        .map(|g| g.option.clone())
}

/// What a call of `path` makes, for this family.
fn stage_of(family: &Family, imports: &Imports, path: &str, uses_tonic: bool) -> Option<Stage> {
    let in_list = |list: &[String]| list.iter().any(|e| names(imports, path, e));
    if in_list(&family.builders) {
        Some(Stage::Builder)
    } else if in_list(&family.clients) {
        Some(Stage::Client)
    } else if in_list(&family.requests) {
        Some(Stage::Request)
    } else if in_list(&family.sends)
        || (family.generated_connect && uses_tonic && is_generated_connect(path))
    {
        Some(Stage::Sent)
    } else if in_list(&family.streams) {
        Some(Stage::Stream)
    } else {
        None
    }
}

/// Where findings go: each request, or the constructor for all of them.
fn report_places(
    family: &Family,
    origin: &Range<usize>,
    places: Vec<Place>,
) -> Vec<(Range<usize>, Vec<Place>)> {
    if family.report_at_request {
        places
            .into_iter()
            .map(|p| (p.range.clone(), vec![p]))
            .collect()
    } else {
        vec![(origin.clone(), places)]
    }
}

/// What a finding about these places needs from other files: `Some(None)` when it stands on
/// its own, `None` when it cannot stand (its places depend on different settings).
fn condition_of(places: &[Place]) -> Option<Option<Condition>> {
    let functions: Option<BTreeSet<&String>> = places.iter().map(|p| p.function.as_ref()).collect();
    let unless_callers_bounded: Vec<String> = functions
        .map(|f| f.into_iter().cloned().collect())
        .unwrap_or_default();
    // One place without a setting to wait for is enough to stand without one.
    let settings: Option<BTreeSet<&OptionRef>> = places.iter().map(|p| p.unless.as_ref()).collect();
    let if_unset_by_default = match settings {
        None => None,
        Some(settings) if settings.len() == 1 => settings.into_iter().next().cloned(),
        Some(_) => return None,
    };
    let condition = Condition {
        unless_callers_bounded,
        if_unset_by_default,
        if_route_target: None,
    };
    Some((condition != Condition::default()).then_some(condition))
}

struct Judge<'a> {
    family: &'a Family,
    flow: &'a Flow,
    /// The constructor's range: where a finding about the value itself points.
    origin_range: Range<usize>,
    visited: std::cell::RefCell<HashSet<Sink>>,
}

impl Judge<'_> {
    fn is_timeout(&self, step: &super::flow::Step) -> bool {
        !step.none_argument
            && self
                .family
                .timeouts
                .iter()
                .flatten()
                .any(|t| *t == step.name)
    }

    fn timed(&self, seen: &BTreeSet<String>) -> bool {
        self.family
            .timeouts
            .iter()
            .any(|group| group.iter().all(|m| seen.contains(m)))
    }

    /// The chain is in a connection helper: a function named like one whose callers in this
    /// file (if any) are helpers too, so the timeout belongs to callers in other files.
    fn in_helper(&self, chain: &Use) -> bool {
        let helper = |name: &str| {
            self.family
                .helper_words
                .iter()
                .any(|w| name.contains(w.as_str()))
        };
        chain.function.as_ref().is_some_and(|name| {
            helper(name)
                && self
                    .flow
                    .calls
                    .iter()
                    .filter(|call| call.callee == *name)
                    .all(|call| call.caller.as_deref().is_some_and(helper))
        })
    }

    /// The value itself has no timeout: the finding points at its constructor.
    fn untimed_here(&self, seen: &BTreeSet<String>) -> Verdict {
        let place = Place {
            range: self.origin_range.clone(),
            function: None,
            unless: None,
        };
        Verdict::Untimed(vec![place], seen.clone())
    }

    /// A request made without a timeout, in `chain`.
    fn untimed_request(&self, range: Range<usize>, chain: &Use) -> Verdict {
        let unless = not_set_timeout(chain);
        let function = if self.family.blocking {
            None
        } else {
            chain.function.clone()
        };
        let place = Place {
            range,
            function,
            unless,
        };
        Verdict::Untimed(vec![place], BTreeSet::new())
    }

    /// A sink seen for the first time in this judgement (a reassigned builder loops back).
    fn first_visit(&self, sink: &Sink) -> bool {
        self.visited.borrow_mut().insert(sink.clone())
    }

    /// A finished value of a family without requests (a connection, a configuration).
    fn finished(&self, chain: &Use, from: usize, seen: &BTreeSet<String>) -> Verdict {
        if !self.family.consumed_by.is_empty() {
            return self.consumed(chain, from, seen);
        }
        if self.flow.under_timeout(chain) {
            Verdict::Timed
        } else {
            self.untimed_here(seen)
        }
    }

    /// A configuration is judged where a client is made of it: a call of a `consumed_by`
    /// crate, directly or through the locals and fields it is kept in. Used otherwise, or
    /// handed on, it is not judged.
    fn consumed(&self, chain: &Use, from: usize, seen: &BTreeSet<String>) -> Verdict {
        if chain.steps.len() > from {
            // `config.region()`: a use of the configuration, not a client.
            return Verdict::Unknown;
        }
        let makes_client = |consumer: &Option<String>| {
            consumer.as_ref().is_some_and(|path| {
                self.family
                    .consumed_by
                    .iter()
                    .any(|prefix| path.starts_with(prefix.as_str()))
            })
        };
        if makes_client(&chain.consumer) {
            return self.untimed_here(seen);
        }
        if !matches!(
            chain.sink,
            Sink::Local(_) | Sink::Field(_) | Sink::Static(_)
        ) || !self.first_visit(&chain.sink)
        {
            return Verdict::Unknown;
        }
        self.flow
            .uses_of(&chain.sink)
            .map(|next| self.consumed(next, 0, seen))
            .fold(Verdict::Unknown, |verdict, next| match next {
                Verdict::Untimed(..) => verdict.and(next),
                _ => verdict,
            })
    }

    /// Judges a value of `stage` through the steps of `chain` from `from`, then where it goes.
    fn steps(
        &self,
        mut stage: Stage,
        mut seen: BTreeSet<String>,
        chain: &Use,
        from: usize,
    ) -> Verdict {
        let under_timeout = self.flow.under_timeout(chain);
        let mut request = self.origin_range.clone();
        if stage == Stage::Client && self.family.request_methods.is_empty() {
            return self.finished(chain, from, &seen);
        }
        for (index, step) in chain.steps.iter().enumerate().skip(from) {
            match stage {
                Stage::Builder if self.family.finish.contains(&step.name) => {
                    if self.timed(&seen) {
                        return Verdict::Timed;
                    }
                    if self.family.request_methods.is_empty() {
                        return self.finished(chain, index + 1, &seen);
                    }
                    stage = Stage::Client;
                }
                Stage::Builder => {
                    if self.is_timeout(step) {
                        seen.insert(step.name.clone());
                    }
                }
                Stage::Stream => {
                    if self.is_timeout(step) {
                        return Verdict::Timed;
                    }
                    // A read or write on the stream itself, inline: nothing follows the stream.
                    return Verdict::Unknown;
                }
                Stage::Client if self.family.request_methods.contains(&step.name) => {
                    stage = Stage::Request;
                    request = step.range.clone();
                }
                // Another use of the client (`execute(req)` with a request built elsewhere).
                Stage::Client => return Verdict::Unknown,
                Stage::Request => {
                    if !step.none_argument && self.family.request_timeouts.contains(&step.name) {
                        return Verdict::Timed;
                    }
                    if self.family.send_methods.contains(&step.name) {
                        if self.family.blocking {
                            return if under_timeout {
                                Verdict::Timed
                            } else {
                                self.untimed_request(request, chain)
                            };
                        }
                        stage = Stage::Sent;
                    }
                }
                Stage::Sent => {
                    if FUTURE_TIMEOUTS.contains(&step.name.as_str()) {
                        return Verdict::Timed;
                    }
                }
            }
        }
        // A builder's timeouts short of a full group, for the message.
        let partial = seen.clone();
        match self.after_steps(stage, seen, chain, request, under_timeout) {
            Verdict::Untimed(places, mut set) => {
                set.extend(partial);
                Verdict::Untimed(places, set)
            }
            verdict => verdict,
        }
    }

    /// Where a value goes once its chain's steps are judged.
    fn after_steps(
        &self,
        stage: Stage,
        seen: BTreeSet<String>,
        chain: &Use,
        request: Range<usize>,
        under_timeout: bool,
    ) -> Verdict {
        match stage {
            Stage::Builder | Stage::Stream => {
                if self.timed(&seen) {
                    Verdict::Timed
                } else {
                    self.builder_sink(stage, seen, &chain.sink)
                }
            }
            Stage::Client => self.client_sink(&chain.sink),
            Stage::Request | Stage::Sent => {
                let blocking_now = self.family.blocking && self.family.send_methods.is_empty();
                if under_timeout {
                    Verdict::Timed
                } else if blocking_now {
                    self.untimed_request(request, chain)
                } else if chain.awaited && !self.family.blocking {
                    if self.in_helper(chain) {
                        Verdict::Unknown
                    } else {
                        self.untimed_request(request, chain)
                    }
                } else {
                    self.request_sink(stage, &chain.sink)
                }
            }
        }
    }

    /// A builder (or stream) in a variable, field or static: the timeout methods of every use
    /// count (`if x { b = b.timeout(t) }`), then each place it is finished is judged. A timeout
    /// set only where an optional setting is `Some` makes the builder's places wait for that
    /// setting's default (see [`Place::unless`]).
    fn builder_sink(&self, stage: Stage, mut seen: BTreeSet<String>, sink: &Sink) -> Verdict {
        let mut escaped = false;
        let mut finished: Vec<(&Use, usize)> = Vec::new();
        let mut guarded: BTreeSet<(String, OptionRef)> = BTreeSet::new();
        let mut pending = vec![sink.clone()];
        while let Some(sink) = pending.pop() {
            match sink {
                Sink::Escapes | Sink::Opaque => escaped = true,
                Sink::Dropped => {}
                Sink::Local(..) | Sink::Field(_) | Sink::Static(_) => {
                    if !self.first_visit(&sink) {
                        continue;
                    }
                    for chain in self.flow.uses_of(&sink) {
                        let mut finish = None;
                        let set_by = chain.guard.as_ref().filter(|g| g.set);
                        for (index, step) in chain.steps.iter().enumerate() {
                            if stage == Stage::Builder && self.family.finish.contains(&step.name) {
                                finish = Some(index + 1);
                                break;
                            }
                            if self.is_timeout(step) {
                                match set_by {
                                    Some(guard) => {
                                        guarded.insert((step.name.clone(), guard.option.clone()));
                                    }
                                    None => {
                                        seen.insert(step.name.clone());
                                    }
                                }
                            }
                        }
                        match finish {
                            Some(index) => finished.push((chain, index)),
                            // A builder method returns the builder; a stream method returns
                            // something else, so only the stream itself moves on.
                            None if stage == Stage::Builder || chain.steps.is_empty() => {
                                pending.push(chain.sink.clone());
                            }
                            None => {}
                        }
                    }
                }
            }
        }
        if self.timed(&seen) {
            return Verdict::Timed;
        }
        let mut with_guarded = seen.clone();
        with_guarded.extend(guarded.iter().map(|(name, _)| name.clone()));
        let verdict = self.finished_builders(stage, seen, escaped, finished);
        if !self.timed(&with_guarded) {
            return verdict;
        }
        // Timed only where a setting is set: what has no timeout otherwise waits for it.
        let settings: BTreeSet<&OptionRef> = guarded.iter().map(|(_, o)| o).collect();
        match (settings.into_iter().collect::<Vec<_>>().as_slice(), verdict) {
            ([setting], Verdict::Untimed(mut places, set)) => {
                for place in places.iter_mut().filter(|p| p.unless.is_none()) {
                    place.unless = Some((*setting).clone());
                }
                Verdict::Untimed(places, set)
            }
            (_, Verdict::Untimed(..)) => Verdict::Unknown,
            (_, verdict) => verdict,
        }
    }

    /// The verdict over every place a builder (or stream) kept in a variable is finished.
    fn finished_builders(
        &self,
        stage: Stage,
        seen: BTreeSet<String>,
        escaped: bool,
        finished: Vec<(&Use, usize)>,
    ) -> Verdict {
        let mut verdict = match (escaped, stage, finished.is_empty()) {
            (true, ..) => Verdict::Unknown,
            (false, Stage::Stream, _) => self.untimed_here(&seen),
            (false, _, true) => Verdict::Unknown,
            (false, _, false) => Verdict::Timed,
        };
        for (chain, index) in finished {
            let client = if self.family.request_methods.is_empty() {
                self.finished(chain, index, &seen)
            } else {
                match self.steps(Stage::Client, BTreeSet::new(), chain, index) {
                    Verdict::Untimed(places, _) => Verdict::Untimed(places, seen.clone()),
                    other => other,
                }
            };
            verdict = verdict.and(client);
        }
        verdict
    }

    /// A finished client without a timeout of its own: every request through it must set one.
    /// A client that leaves the file is judged where it is built.
    fn client_sink(&self, sink: &Sink) -> Verdict {
        // Where findings point at requests, a client that leaves unseen has none to show.
        let unseen = if self.family.report_at_request {
            Verdict::Unknown
        } else {
            self.untimed_here(&BTreeSet::new())
        };
        match sink {
            Sink::Escapes | Sink::Dropped => unseen,
            Sink::Opaque => Verdict::Unknown,
            Sink::Local(..) | Sink::Field(_) | Sink::Static(_) => {
                if !self.first_visit(sink) {
                    return Verdict::Timed;
                }
                let mut uses = self.flow.uses_of(sink).peekable();
                if uses.peek().is_none() {
                    return unseen;
                }
                uses.map(|chain| self.steps(Stage::Client, BTreeSet::new(), chain, 0))
                    .fold(Verdict::Timed, Verdict::and)
            }
        }
    }

    /// A request or a started call kept in a variable: judged where it is sent or awaited.
    fn request_sink(&self, stage: Stage, sink: &Sink) -> Verdict {
        let followed = matches!(sink, Sink::Local(..) | Sink::Field(_) | Sink::Static(_));
        if !followed || !self.first_visit(sink) {
            return Verdict::Unknown;
        }
        self.flow
            .uses_of(sink)
            .map(|chain| self.steps(stage, BTreeSet::new(), chain, 0))
            .reduce(Verdict::and)
            .unwrap_or(Verdict::Unknown)
    }
}
