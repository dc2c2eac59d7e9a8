//! Network clients and connections followed from their constructor: is a timeout set on the
//! builder (on any path, conditional ones included), on every request made through the client
//! in this file, or by a timeout wrapper around the call?

use std::collections::{BTreeSet, HashSet};
use std::ops::Range;

use serde::Deserialize;

use super::flow::{Flow, Root, Sink, Use};
use crate::facts::cargo::{CargoProject, Manifest};
use crate::facts::imports::Imports;

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

/// What the analysis concluded about one value.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    Timed,
    Unknown,
    /// No timeout; where (the request without one, or the constructor).
    Untimed(Vec<Range<usize>>),
}

impl Verdict {
    /// Several paths: one without a timeout is enough; otherwise doubt wins over certainty.
    fn and(self, other: Verdict) -> Verdict {
        match (self, other) {
            (Verdict::Untimed(mut a), Verdict::Untimed(b)) => {
                a.extend(b);
                Verdict::Untimed(a)
            }
            (untimed @ Verdict::Untimed(_), _) | (_, untimed @ Verdict::Untimed(_)) => untimed,
            (Verdict::Unknown, _) | (_, Verdict::Unknown) => Verdict::Unknown,
            _ => Verdict::Timed,
        }
    }
}

/// A finding: the family, where to report, and the constructor's path.
pub struct Hit<'a> {
    pub family: &'a Family,
    pub range: Range<usize>,
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
        let Root::Call { path, range } = &origin.root else {
            continue;
        };
        let in_list = |list: &[String]| list.iter().any(|e| names(imports, path, e));
        let stage = if in_list(&family.builders) {
            Stage::Builder
        } else if in_list(&family.clients) {
            Stage::Client
        } else if in_list(&family.requests) {
            Stage::Request
        } else if in_list(&family.sends)
            || (family.generated_connect && uses_tonic && is_generated_connect(path))
        {
            Stage::Sent
        } else if in_list(&family.streams) {
            Stage::Stream
        } else {
            continue;
        };
        let judge = Judge {
            family,
            flow,
            origin: range.clone(),
            visited: Default::default(),
        };
        let Verdict::Untimed(places) = judge.steps(stage, BTreeSet::new(), origin, 0) else {
            continue;
        };
        let places = if family.report_at_request {
            places
        } else {
            vec![range.clone()]
        };
        for place in places {
            if reported.insert((place.start, place.end)) {
                hits.push(Hit {
                    family,
                    range: place,
                });
            }
        }
    }
    hits
}

struct Judge<'a> {
    family: &'a Family,
    flow: &'a Flow,
    /// The constructor's range: where a finding about the value itself points.
    origin: Range<usize>,
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
                    .filter(|(callee, _)| callee == name)
                    .all(|(_, caller)| caller.as_deref().is_some_and(helper))
        })
    }

    fn untimed_here(&self) -> Verdict {
        Verdict::Untimed(vec![self.origin.clone()])
    }

    /// A sink seen for the first time in this judgement (a reassigned builder loops back).
    fn first_visit(&self, sink: &Sink) -> bool {
        self.visited.borrow_mut().insert(sink.clone())
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
        let mut request = self.origin.clone();
        if stage == Stage::Client && self.family.request_methods.is_empty() {
            return if under_timeout {
                Verdict::Timed
            } else {
                self.untimed_here()
            };
        }
        for step in &chain.steps[from..] {
            match stage {
                Stage::Builder if self.family.finish.contains(&step.name) => {
                    if self.timed(&seen) {
                        return Verdict::Timed;
                    }
                    if self.family.request_methods.is_empty() {
                        return if under_timeout {
                            Verdict::Timed
                        } else {
                            self.untimed_here()
                        };
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
                                Verdict::Untimed(vec![request])
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
                    Verdict::Untimed(vec![request])
                } else if chain.awaited && !self.family.blocking {
                    if self.in_helper(chain) {
                        Verdict::Unknown
                    } else {
                        Verdict::Untimed(vec![request])
                    }
                } else {
                    self.request_sink(stage, &chain.sink)
                }
            }
        }
    }

    /// A builder (or stream) in a variable, field or static: the timeout methods of every use
    /// count (`if x { b = b.timeout(t) }`), then each place it is finished is judged.
    fn builder_sink(&self, stage: Stage, mut seen: BTreeSet<String>, sink: &Sink) -> Verdict {
        let mut escaped = false;
        let mut finished: Vec<(&Use, usize)> = Vec::new();
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
                        for (index, step) in chain.steps.iter().enumerate() {
                            if stage == Stage::Builder && self.family.finish.contains(&step.name) {
                                finish = Some(index + 1);
                                break;
                            }
                            if self.is_timeout(step) {
                                seen.insert(step.name.clone());
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
        let mut verdict = match (escaped, stage, finished.is_empty()) {
            (true, ..) => Verdict::Unknown,
            (false, Stage::Stream, _) => self.untimed_here(),
            (false, _, true) => Verdict::Unknown,
            (false, _, false) => Verdict::Timed,
        };
        for (chain, index) in finished {
            let client = if self.family.request_methods.is_empty() {
                if self.flow.under_timeout(chain) {
                    Verdict::Timed
                } else {
                    self.untimed_here()
                }
            } else {
                self.steps(Stage::Client, BTreeSet::new(), chain, index)
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
            self.untimed_here()
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
