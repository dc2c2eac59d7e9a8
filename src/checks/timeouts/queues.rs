//! RES007: unbounded channels used as queues. A channel counts when the function that creates
//! it (or calls a helper that returns a new one) also drains the receiver repeatedly
//! (`while let Some(x) = rx.recv().await`, `for x in rx`, `rx.iter().for_each(..)`) or makes a
//! stream of it (`UnboundedReceiverStream::new(rx)`); or when it is the unbounded choice of a
//! configurable capacity (`None => unbounded_channel()`) that is unset by default. Not judged:
//! a one-value handoff, a receiver handed to code elsewhere, request/reply or permit-carrying
//! queues (one item per waiting caller or per permit), a per-call forwarder: a channel whose
//! only producer re-sends the items of a stream the function was given (one streamed response),
//! which it holds at most; and a relay, whose only drain hands each item on without waiting. Test code and non-services are the engine's business.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::LazyLock;

use serde::Deserialize;
use syn::spanned::Spanned;
use syn::visit::{self, Visit};

use super::clients::names;
use super::flow::{Flow, Root, pattern_words, type_words};
use crate::checks::{FileContext, RustFile};
use crate::facts::imports::Imports;
use crate::finding::{Condition, Finding};
use crate::registry::{Code, Severity};
use crate::source::Source;

#[derive(Deserialize)]
pub struct QueueData {
    pub unbounded: Vec<String>,
    /// Unbounded too, but usually between threads of one process with little traffic.
    pub unbounded_low: Vec<String>,
    /// Receiver methods that take one item: a drain when called in a loop.
    receive_methods: Vec<String>,
    /// Receiver methods that iterate it (`for x in rx.iter()`).
    iterate_methods: Vec<String>,
    /// Methods that consume every item (`rx.for_each(..)`, `rx.iter().for_each(..)`).
    drain_methods: Vec<String>,
    /// Wrappers that turn a receiver into a stream (`UnboundedReceiverStream::new(rx)`).
    stream_wrappers: Vec<String>,
    /// Words of request/reply queues (`oneshot::Sender` in the item): not judged.
    reply_markers: Vec<String>,
    /// Words of items that carry a permit (`OwnedSemaphorePermit`): bounded by the semaphore.
    permit_markers: Vec<String>,
    /// Words of an optional setting's name that make it a queue's capacity.
    capacity_words: Vec<String>,
    /// Type names of what a server receives from a client (`Request<Streaming<T>>`): a stream
    /// read from one is as long as the client makes it.
    inbound_types: Vec<String>,
}

pub static QUEUES: LazyLock<QueueData> = LazyLock::new(|| Code::RES007.rule().data());

/// How deep item types are opened through the file's own structs, enums and aliases.
const TYPE_DEPTH: usize = 3;

/// An unbounded channel call: where, its function's name, its severity and the words of its
/// item type as the call writes them (a turbofish, a helper's return type).
#[derive(Clone)]
struct Made {
    range: Range<usize>,
    name: String,
    severity: Severity,
    item: Vec<String>,
}

/// An unbounded channel made in a function.
struct Channel {
    /// The channel call: where the finding points.
    range: Range<usize>,
    name: String,
    severity: Severity,
    receiver: String,
    sender: Option<String>,
    /// The words of its item type, as far as the file writes them.
    item: Vec<String>,
}

pub fn unbounded_queues(
    ctx: &FileContext<'_>,
    rust: &RustFile<'_>,
    flow: &Flow,
    out: &mut Vec<Finding>,
) {
    let types = Types::of(rust.ast);
    let mut helpers = Helpers {
        imports: rust.imports,
        source: ctx.source,
        found: HashMap::new(),
    };
    helpers.visit_file(rust.ast);
    let mut finder = QueueFinder {
        imports: rust.imports,
        source: ctx.source,
        helpers: &helpers.found,
        types: &types,
        found: Vec::new(),
    };
    finder.visit_file(rust.ast);
    let mut reported = std::collections::HashSet::new();
    for (channel, drained) in finder.found {
        // Callers of one helper share its channel call.
        if !reported.insert((channel.range.start, drained)) {
            continue;
        }
        let message = format!(
            "`{}()` queues without limit: a burst grows memory until the process is killed",
            channel.name
        );
        let finding = Finding::at(Code::RES007, ctx.source, channel.range.clone(), message)
            .with_severity(channel.severity);
        if drained {
            out.push(finding);
        } else if let Some(setting) = capacity_setting(flow, &channel.range) {
            out.push(finding.on_condition(Condition {
                unless_callers_bounded: Vec::new(),
                if_unset_by_default: Some(setting),
                if_route_target: None,
            }));
        }
    }
}

/// The capacity setting whose absence makes this channel: it is made where an optional setting
/// named like a capacity is not set (`match capacity { Some(n) => channel(n), None =>
/// unbounded_channel() }`).
fn capacity_setting(flow: &Flow, range: &Range<usize>) -> Option<crate::finding::OptionalSetting> {
    let made = flow
        .uses
        .iter()
        .find(|u| matches!(&u.root, Root::Call { range: r, .. } if r == range))?;
    let guard = made.guard.as_ref().filter(|g| !g.set)?;
    let named = crate::words::split(guard.option.name())
        .iter()
        .any(|w| QUEUES.capacity_words.contains(w));
    named.then(|| flow.resolve(&guard.option))
}

/// The file's own types: a struct's or enum's field names and field type words, an alias's
/// type words; and each struct field's type words by the field's name.
#[derive(Default)]
struct Types {
    items: HashMap<String, Vec<String>>,
    fields: HashMap<String, Vec<String>>,
}

impl Types {
    fn of(file: &syn::File) -> Types {
        let mut types = Types::default();
        types.visit_file(file);
        types
    }

    fn add_fields(&mut self, name: &str, fields: &syn::Fields) {
        let mut words = Vec::new();
        for field in fields {
            let ty = type_words(&field.ty);
            if let Some(ident) = &field.ident {
                words.push(ident.to_string());
                self.fields
                    .entry(ident.to_string())
                    .or_default()
                    .extend(ty.iter().cloned());
            }
            words.extend(ty);
        }
        self.items
            .entry(name.to_string())
            .or_default()
            .extend(words);
    }

    /// Item type words opened through the file's types.
    fn open(&self, words: &[String]) -> Vec<String> {
        let mut all = words.to_vec();
        let mut frontier = words.to_vec();
        for _ in 0..TYPE_DEPTH {
            let next: Vec<String> = frontier
                .iter()
                .filter_map(|w| self.items.get(w))
                .flatten()
                .cloned()
                .collect();
            all.extend(next.iter().cloned());
            frontier = next;
        }
        all
    }
}

impl<'ast> Visit<'ast> for Types {
    fn visit_item_struct(&mut self, item: &'ast syn::ItemStruct) {
        self.add_fields(&item.ident.to_string(), &item.fields);
    }

    fn visit_item_enum(&mut self, item: &'ast syn::ItemEnum) {
        let name = item.ident.to_string();
        for variant in &item.variants {
            self.add_fields(&name, &variant.fields);
        }
    }

    fn visit_item_type(&mut self, item: &'ast syn::ItemType) {
        let words = type_words(&item.ty);
        self.items
            .entry(item.ident.to_string())
            .or_default()
            .extend(words);
    }
}

/// Whether words name a request/reply item or one that carries a permit.
fn carries_reply_or_permit(words: &[String]) -> bool {
    let lower: Vec<String> = words.iter().map(|w| w.to_ascii_lowercase()).collect();
    QUEUES
        .reply_markers
        .iter()
        .chain(&QUEUES.permit_markers)
        .any(|m| lower.iter().any(|w| w.contains(m.as_str())))
}

/// A call of a function by path (`mpsc::unbounded_channel()`, `queue()?`): the call and its
/// function.
fn path_call(expr: &syn::Expr) -> Option<(&syn::ExprCall, &syn::ExprPath)> {
    let mut expr = expr;
    while let syn::Expr::Try(inner) = expr {
        expr = &inner.expr;
    }
    let syn::Expr::Call(call) = expr else {
        return None;
    };
    let syn::Expr::Path(func) = &*call.func else {
        return None;
    };
    Some((call, func))
}

/// An unbounded channel call.
fn unbounded_call(imports: &Imports, source: &Source, expr: &syn::Expr) -> Option<Made> {
    let (call, func) = path_call(expr)?;
    let path = imports.resolve(&func.path);
    let listed = |list: &[String]| list.iter().any(|p| names(imports, &path, p));
    let severity = if listed(&QUEUES.unbounded) {
        Severity::Medium
    } else if listed(&QUEUES.unbounded_low) {
        Severity::Low
    } else {
        return None;
    };
    let mut item = Vec::new();
    if let Some(syn::PathArguments::AngleBracketed(args)) =
        func.path.segments.last().map(|s| &s.arguments)
    {
        for arg in &args.args {
            if let syn::GenericArgument::Type(ty) = arg {
                item.extend(type_words(ty));
            }
        }
    }
    let name = path.rsplit("::").next().unwrap_or(&path).to_string();
    Some(Made {
        range: source.span_range(call.span()),
        name,
        severity,
        item,
    })
}

/// Functions that make a new unbounded channel and return it (`fn queue() -> (Tx, Rx) {
/// unbounded_channel() }`): a caller that drains what it gets is judged at the helper's call.
struct Helpers<'a> {
    imports: &'a Imports,
    source: &'a Source,
    found: HashMap<String, Made>,
}

impl Helpers<'_> {
    fn body(&mut self, sig: &syn::Signature, block: &syn::Block) {
        let Some(syn::Stmt::Expr(tail, None)) = block.stmts.last() else {
            return;
        };
        let made = match tail {
            // `let (tx, rx) = unbounded_channel(); (tx, rx)`: the two ends as they are made
            // (ends wrapped in the helper's own types may carry their own bound).
            syn::Expr::Tuple(tuple) => {
                let Some(mut returned) =
                    tuple.elems.iter().map(ident_of).collect::<Option<Vec<_>>>()
                else {
                    return;
                };
                returned.sort();
                block.stmts.iter().find_map(|s| {
                    let syn::Stmt::Local(local) = s else {
                        return None;
                    };
                    let mut bound = pattern_words(&local.pat);
                    bound.sort();
                    if bound.len() != 2 || bound != returned {
                        return None;
                    }
                    unbounded_call(self.imports, self.source, &local.init.as_ref()?.expr)
                })
            }
            tail => unbounded_call(self.imports, self.source, tail),
        };
        if let Some(mut made) = made {
            if let syn::ReturnType::Type(_, ty) = &sig.output {
                made.item.extend(type_words(ty));
            }
            self.found.insert(sig.ident.to_string(), made);
        }
    }
}

impl<'ast> Visit<'ast> for Helpers<'_> {
    fn visit_item_fn(&mut self, item: &'ast syn::ItemFn) {
        self.body(&item.sig, &item.block);
    }

    fn visit_impl_item_fn(&mut self, item: &'ast syn::ImplItemFn) {
        self.body(&item.sig, &item.block);
    }
}

/// The name an expression is, if it is one.
fn ident_of(expr: &syn::Expr) -> Option<String> {
    match expr {
        syn::Expr::Path(path) => path.path.get_ident().map(ToString::to_string),
        _ => None,
    }
}

/// Finds the channels of each function body and keeps those it drains, or that are a
/// capacity's unbounded choice (`false`: judged on the setting's default).
struct QueueFinder<'a> {
    imports: &'a Imports,
    source: &'a Source,
    helpers: &'a HashMap<String, Made>,
    types: &'a Types,
    found: Vec<(Channel, bool)>,
}

impl QueueFinder<'_> {
    fn body(&mut self, sig: &syn::Signature, block: &syn::Block) {
        let params: Vec<(String, bool)> = sig
            .inputs
            .iter()
            .filter_map(|input| match input {
                syn::FnArg::Typed(typed) => {
                    let inbound = type_words(&typed.ty)
                        .iter()
                        .any(|w| QUEUES.inbound_types.contains(w));
                    Some(
                        pattern_words(&typed.pat)
                            .into_iter()
                            .map(move |n| (n, inbound)),
                    )
                }
                syn::FnArg::Receiver(_) => None,
            })
            .flatten()
            .collect();
        let mut lets = ChannelLets {
            finder: self,
            channels: Vec::new(),
            stored: HashMap::new(),
        };
        lets.visit_block(block);
        let (channels, stored) = (lets.channels, lets.stored);
        for mut channel in channels {
            // `Self { tx, rx }`: the fields' declared types say what the channel carries.
            for end in channel.sender.iter().chain([&channel.receiver]) {
                for field in stored.get(end).into_iter().flatten() {
                    channel
                        .item
                        .extend(self.types.fields.get(field).into_iter().flatten().cloned());
                }
            }
            if carries_reply_or_permit(&self.types.open(&channel.item)) {
                continue;
            }
            let mut drain = Drain {
                imports: self.imports,
                receivers: vec![channel.receiver.clone()],
                loops: 0,
                drained: false,
                relayed: false,
                patterns: Vec::new(),
            };
            drain.visit_block(block);
            // Drained only by relays: no backlog here.
            if (drain.relayed && !drain.drained)
                || carries_reply_or_permit(&self.types.open(&drain.patterns))
                || channel
                    .sender
                    .as_ref()
                    .is_some_and(|sender| per_call_forwarder(block, sender, &params))
            {
                continue;
            }
            self.found.push((channel, drain.drained));
        }
    }
}

impl<'ast> Visit<'ast> for QueueFinder<'_> {
    fn visit_item_fn(&mut self, item: &'ast syn::ItemFn) {
        self.body(&item.sig, &item.block);
    }

    fn visit_impl_item_fn(&mut self, item: &'ast syn::ImplItemFn) {
        self.body(&item.sig, &item.block);
    }
}

/// One streamed response re-sent: the sender is used only in a loop that receives from a
/// stream this function was given (a parameter, or a local made from parameters; not `self`'s,
/// and not a server's inbound request, which is as long as its client makes it), so the
/// channel holds at most that one stream's items. `params`: each name, and whether its type
/// is an inbound request.
fn per_call_forwarder(block: &syn::Block, sender: &str, params: &[(String, bool)]) -> bool {
    let mut sources: Vec<String> = params
        .iter()
        .filter(|(_, inbound)| !inbound)
        .map(|(name, _)| name.clone())
        .collect();
    let param = |ident: &String| params.iter().find(|(name, _)| name == ident);
    for stmt in &block.stmts {
        if let syn::Stmt::Local(local) = stmt
            && let syn::Pat::Ident(name) = &local.pat
            && let Some(init) = &local.init
        {
            let mut idents = Idents::default();
            idents.visit_expr(&init.expr);
            let mentioned: Vec<_> = idents.0.iter().filter_map(param).collect();
            if !mentioned.is_empty() && mentioned.iter().all(|(_, inbound)| !inbound) {
                sources.push(name.ident.to_string());
            }
        }
    }
    let mut all = Idents::default();
    all.visit_block(block);
    let mut forwarding = Forwarding {
        sources: &sources,
        sender,
        uses: 0,
    };
    forwarding.visit_block(block);
    // Every use of the sender but its own binding is in such a loop.
    let total = all.0.iter().filter(|i| *i == sender).count();
    forwarding.uses > 0 && forwarding.uses + 1 == total
}

/// Methods that put one item on a channel.
const SEND_METHODS: [&str; 5] = [
    "send",
    "try_send",
    "unbounded_send",
    "send_blocking",
    "blocking_send",
];

/// Whether a drain loop's body only hands each item on to another channel without waiting
/// (`while let Some(m) = rx.recv().await { let _ = out.send(m); }`): a relay, which keeps
/// no backlog of its own; the queue it feeds is judged where it is made.
fn relays(body: &syn::Block) -> bool {
    #[derive(Default)]
    struct Relay {
        sends: usize,
        waits: bool,
    }
    impl<'ast> Visit<'ast> for Relay {
        fn visit_expr(&mut self, expr: &'ast syn::Expr) {
            match expr {
                syn::Expr::Await(_)
                | syn::Expr::Loop(_)
                | syn::Expr::While(_)
                | syn::Expr::ForLoop(_)
                | syn::Expr::Closure(_) => self.waits = true,
                // A constructor wraps the item (`Ok(msg)`); any other call may wait.
                syn::Expr::Call(call) => {
                    let constructor = matches!(&*call.func, syn::Expr::Path(p)
                    if p.path.segments.last().is_some_and(|s| {
                        s.ident.to_string().starts_with(|c: char| c.is_ascii_uppercase())
                    }));
                    self.waits |= !constructor;
                    visit::visit_expr(self, expr);
                }
                syn::Expr::MethodCall(call) => {
                    let method = call.method.to_string();
                    if SEND_METHODS.contains(&method.as_str()) {
                        self.sends += 1;
                    } else if !["is_err", "is_ok", "clone"].contains(&method.as_str()) {
                        self.waits = true;
                    }
                    visit::visit_expr(self, expr);
                }
                _ => visit::visit_expr(self, expr),
            }
        }
    }
    let mut relay = Relay::default();
    relay.visit_block(body);
    relay.sends > 0 && !relay.waits
}

/// Every identifier of a syntax tree, macro bodies included.
#[derive(Default)]
struct Idents(Vec<String>);

impl<'ast> Visit<'ast> for Idents {
    fn visit_ident(&mut self, ident: &'ast proc_macro2::Ident) {
        self.0.push(ident.to_string());
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        visit::visit_macro(self, mac);
        let mut stack = vec![mac.tokens.clone()];
        while let Some(tokens) = stack.pop() {
            for token in tokens {
                match token {
                    proc_macro2::TokenTree::Ident(ident) => self.0.push(ident.to_string()),
                    proc_macro2::TokenTree::Group(group) => stack.push(group.stream()),
                    _ => {}
                }
            }
        }
    }
}

/// Counts the uses of a sender inside loops that receive from one of `sources`.
struct Forwarding<'a> {
    sources: &'a [String],
    sender: &'a str,
    uses: usize,
}

impl<'ast> Visit<'ast> for Forwarding<'_> {
    fn visit_expr_while(&mut self, expr: &'ast syn::ExprWhile) {
        let receives = match &*expr.cond {
            syn::Expr::Let(binding) => receives_from(&binding.expr, self.sources),
            _ => false,
        };
        if receives {
            let mut idents = Idents::default();
            idents.visit_block(&expr.body);
            self.uses += idents.0.iter().filter(|i| *i == self.sender).count();
        } else {
            visit::visit_expr_while(self, expr);
        }
    }
}

/// `source.next().await`, `source.recv().await?`: one item from one of `sources`.
fn receives_from(expr: &syn::Expr, sources: &[String]) -> bool {
    received_from(expr).is_some_and(|receiver| {
        matches!(receiver, syn::Expr::Path(p) if p.path.get_ident().is_some_and(|i| sources.iter().any(|s| i == s)))
    })
}

/// What `x.recv().await?` (any receive method, awaited or tried) receives from: `x`.
fn received_from(expr: &syn::Expr) -> Option<&syn::Expr> {
    let mut expr = expr;
    loop {
        match expr {
            syn::Expr::Await(inner) => expr = &inner.base,
            syn::Expr::Try(inner) => expr = &inner.expr,
            syn::Expr::MethodCall(call) => {
                let receives = QUEUES.receive_methods.contains(&call.method.to_string());
                return receives.then_some(&*call.receiver);
            }
            _ => return None,
        }
    }
}

/// The `let (tx, rx) = <unbounded>()` (or `= helper()`) statements of one body (nested
/// functions excluded), and the struct fields each name is stored in.
struct ChannelLets<'f, 'a> {
    finder: &'f QueueFinder<'a>,
    channels: Vec<Channel>,
    stored: HashMap<String, Vec<String>>,
}

impl ChannelLets<'_, '_> {
    fn made(&self, init: &syn::Expr) -> Option<Made> {
        let finder = self.finder;
        if let Some(made) = unbounded_call(finder.imports, finder.source, init) {
            return Some(made);
        }
        let (_, func) = path_call(init)?;
        let name = func.path.segments.last()?.ident.to_string();
        finder.helpers.get(&name).cloned()
    }
}

impl<'ast> Visit<'ast> for ChannelLets<'_, '_> {
    fn visit_item(&mut self, _item: &'ast syn::Item) {}

    fn visit_local(&mut self, local: &'ast syn::Local) {
        let (pat, ty) = match &local.pat {
            syn::Pat::Type(typed) => (&*typed.pat, Some(&*typed.ty)),
            pat => (pat, None),
        };
        if let (syn::Pat::Tuple(tuple), Some(init)) = (pat, &local.init)
            && let Some(syn::Pat::Ident(receiver)) = tuple.elems.iter().nth(1)
            && let Some(made) = self.made(&init.expr)
        {
            let Made {
                range,
                name,
                severity,
                mut item,
            } = made;
            item.extend(ty.map(type_words).unwrap_or_default());
            let sender = match tuple.elems.first() {
                Some(syn::Pat::Ident(sender)) => Some(sender.ident.to_string()),
                _ => None,
            };
            self.channels.push(Channel {
                range,
                name,
                severity,
                receiver: receiver.ident.to_string(),
                sender,
                item,
            });
        }
        visit::visit_local(self, local);
    }

    fn visit_field_value(&mut self, field: &'ast syn::FieldValue) {
        if let (syn::Member::Named(member), syn::Expr::Path(value)) = (&field.member, &field.expr)
            && let Some(ident) = value.path.get_ident()
        {
            self.stored
                .entry(ident.to_string())
                .or_default()
                .push(member.to_string());
        }
        visit::visit_field_value(self, field);
    }
}

/// Whether a body drains a receiver repeatedly (through the locals that rename it or wrap it in
/// a stream) or makes a stream of it; and the names its received items are taken apart into.
struct Drain<'a> {
    imports: &'a Imports,
    receivers: Vec<String>,
    loops: usize,
    drained: bool,
    /// A `while let` loop receives from it and [`relays`] each item.
    relayed: bool,
    patterns: Vec<String>,
}

impl Drain<'_> {
    /// The receiver, one of its renames, or a stream of it (`ReceiverStream::new(rx)`).
    fn is_receiver(&self, expr: &syn::Expr) -> bool {
        let mut expr = expr;
        while let syn::Expr::Reference(inner) = expr {
            expr = &inner.expr;
        }
        match expr {
            syn::Expr::Path(p) => p
                .path
                .get_ident()
                .is_some_and(|i| self.receivers.iter().any(|r| i == r)),
            syn::Expr::Call(call) => self.stream_of_receiver(call),
            _ => false,
        }
    }

    fn in_loop(&mut self, body: impl FnOnce(&mut Self)) {
        self.loops += 1;
        body(self);
        self.loops -= 1;
    }

    /// `Wrapper::new(rx)`: a stream of the receiver.
    fn stream_of_receiver(&self, call: &syn::ExprCall) -> bool {
        let syn::Expr::Path(func) = &*call.func else {
            return false;
        };
        let path = self.imports.resolve(&func.path);
        QUEUES
            .stream_wrappers
            .iter()
            .any(|w| path.ends_with(w.as_str()))
            && call.args.iter().any(|a| self.is_receiver(a))
    }

    /// The names a received item is taken apart into (`Some(Job { input, reply })`).
    fn note_pattern(&mut self, pat: &syn::Pat) {
        self.patterns.extend(pattern_words(pat));
    }

    /// `rx.recv().await`, `rx.next().await`: one item from the receiver.
    fn receives(&self, expr: &syn::Expr) -> bool {
        received_from(expr).is_some_and(|receiver| self.is_receiver(receiver))
    }
}

impl<'ast> Visit<'ast> for Drain<'_> {
    fn visit_item(&mut self, _item: &'ast syn::Item) {}

    fn visit_local(&mut self, local: &'ast syn::Local) {
        // `let rx = UnboundedReceiverStream::new(rx);`, `let inbox = rx;`: the same queue.
        if let (syn::Pat::Ident(name), Some(init)) = (&local.pat, &local.init)
            && self.is_receiver(&init.expr)
        {
            self.receivers.push(name.ident.to_string());
        }
        visit::visit_local(self, local);
    }

    fn visit_expr_while(&mut self, expr: &'ast syn::ExprWhile) {
        if let syn::Expr::Let(binding) = &*expr.cond
            && self.receives(&binding.expr)
        {
            self.note_pattern(&binding.pat);
            if relays(&expr.body) {
                self.relayed = true;
                return;
            }
        }
        self.in_loop(|d| visit::visit_expr_while(d, expr));
    }

    fn visit_expr_loop(&mut self, expr: &'ast syn::ExprLoop) {
        self.in_loop(|d| visit::visit_expr_loop(d, expr));
    }

    fn visit_expr_for_loop(&mut self, expr: &'ast syn::ExprForLoop) {
        let mut iterated = &*expr.expr;
        if let syn::Expr::MethodCall(call) = iterated
            && QUEUES.iterate_methods.contains(&call.method.to_string())
        {
            iterated = &call.receiver;
        }
        if self.is_receiver(iterated) {
            self.drained = true;
            self.note_pattern(&expr.pat);
        }
        self.in_loop(|d| visit::visit_expr_for_loop(d, expr));
    }

    fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
        if self.is_receiver(&call.receiver) {
            let method = call.method.to_string();
            self.drained |= (self.loops > 0 && QUEUES.receive_methods.contains(&method))
                || QUEUES.drain_methods.contains(&method);
        }
        if let syn::Expr::MethodCall(inner) = &*call.receiver
            && self.is_receiver(&inner.receiver)
            && QUEUES.iterate_methods.contains(&inner.method.to_string())
            && QUEUES.drain_methods.contains(&call.method.to_string())
        {
            self.drained = true;
        }
        visit::visit_expr_method_call(self, call);
    }

    /// A stream of the receiver (`UnboundedReceiverStream::new(rx)`) is read as a queue, by
    /// this function or by whoever it hands the stream to.
    fn visit_expr_call(&mut self, call: &'ast syn::ExprCall) {
        self.drained |= self.stream_of_receiver(call);
        visit::visit_expr_call(self, call);
    }

    /// `loop { tokio::select! { Some(x) = rx.recv() => .. } }`: a receive in a macro in a loop.
    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        if self.loops == 0 {
            return;
        }
        let mut stack = vec![mac.tokens.clone()];
        while let Some(tokens) = stack.pop() {
            let tokens: Vec<_> = tokens.into_iter().collect();
            for window in tokens.windows(3) {
                if let [
                    proc_macro2::TokenTree::Ident(receiver),
                    proc_macro2::TokenTree::Punct(dot),
                    proc_macro2::TokenTree::Ident(method),
                ] = window
                    && self.receivers.iter().any(|r| receiver == r)
                    && dot.as_char() == '.'
                    && QUEUES.receive_methods.contains(&method.to_string())
                {
                    self.drained = true;
                }
            }
            stack.extend(tokens.into_iter().filter_map(|t| match t {
                proc_macro2::TokenTree::Group(g) => Some(g.stream()),
                _ => None,
            }));
        }
    }
}
