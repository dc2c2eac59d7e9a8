//! Where values go inside one Rust file. Every method chain (`a.b(..).c(..)?.await`) is
//! recorded once as a [`Use`]: what it starts from (a call, a local, a static, a struct
//! field), the method calls applied to it in order, and where its value lands (a local, a
//! struct field, a static, or somewhere the analysis cannot see). The timeout rules follow a
//! client or builder from its constructor through these records.
//!
//! Locals are resolved by Rust's own scoping: each `let` (and each pattern of a parameter,
//! closure, `match` arm, `if let` or `for`) is a [`Binding`] of its block, so a name reused in
//! two arms or shadowed by a later `let` is two values. Struct fields and statics are matched
//! by name across the file, the precision trade-off of an analysis without types.

mod address;
mod walk;

pub use address::{pattern_words, type_name, type_words};

use std::collections::HashSet;
use std::ops::Range;

use crate::facts::imports::Imports;
pub use crate::finding::OptionalSetting as OptionRef;
use crate::source::Source;

/// What a chain starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Root {
    /// A call of a path, resolved through the file's imports.
    Call {
        path: String,
        range: Range<usize>,
        /// Its first argument is a loopback address (`"127.0.0.1:80"`, `("localhost", port)`,
        /// `Ipv4Addr::LOCALHOST`, or a local bound to one).
        loopback: bool,
    },
    /// A single name: a local, a parameter or a static (see [`Use::binding`]).
    Name(String),
    /// A named field, whatever it is a field of (`self.client`, `state.client`).
    Field(String),
    /// Anything else (a literal, an index, a macro).
    Other,
}

/// Where a chain's value goes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Sink {
    /// A local: the binding's number (see [`Flow::bindings`]).
    Local(usize),
    /// A named struct field, set in a struct literal or by assignment.
    Field(String),
    /// A `static` or `const` item.
    Static(String),
    /// An argument of a call, a returned value, an element of a collection.
    Escapes,
    /// The value of an expression statement, thrown away.
    Dropped,
    /// Named inside a macro the analysis cannot read.
    Opaque,
}

/// One method call of a chain.
#[derive(Debug, Clone)]
pub struct Step {
    pub name: String,
    /// From the method name to the closing parenthesis.
    pub range: Range<usize>,
    /// The call has exactly one argument and it is `None`.
    pub none_argument: bool,
}

/// The branch of an optional setting a chain is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guard {
    pub option: OptionRef,
    /// In the branch where it is set (`Some(_)`), or in the one where it is not.
    pub set: bool,
    /// The option's own name (its field or parameter) says it is a timeout.
    pub names_timeout: bool,
}

/// A local or parameter.
#[derive(Debug, Clone)]
pub struct Binding {
    pub name: String,
    /// The function it belongs to.
    pub function: Option<String>,
    /// Its position among a function's arguments, for a parameter.
    pub param: Option<usize>,
    /// The identifiers of its declared type (a parameter's, an annotated `let`'s), or of the
    /// path of the call it was made by (`UnixStream::connect(..)` gives `UnixStream connect`),
    /// or those of the binding it was copied from.
    pub type_words: Vec<String>,
    /// The type's name, wrappers (`&`, `Arc`, `Box`, `Rc`) taken off: `&Arc<Config>` is `Config`.
    pub type_name: Option<String>,
    /// It holds a loopback address (see [`Root::Call`]).
    pub loopback: bool,
    /// It holds an optional setting read from elsewhere (`let t = config.timeout;`).
    pub option: Option<OptionRef>,
}

#[derive(Debug, Clone)]
pub struct Use {
    pub root: Root,
    /// The local or parameter a [`Root::Name`] resolves to; `None` for a static or an unknown
    /// name.
    pub binding: Option<usize>,
    /// Method calls in the order they apply; pass-through calls (`clone`, `unwrap`, `into`)
    /// are left out.
    pub steps: Vec<Step>,
    /// `.await` appears in the chain.
    pub awaited: bool,
    pub sink: Sink,
    /// The chain sits inside the arguments of a timeout wrapper (`tokio::time::timeout`).
    pub in_timeout: bool,
    /// The chain is in code no request of the service waits on: what a health probe runs,
    /// background reporting (usage telemetry, update checks). A client made there is not
    /// judged: what it serves tolerates a hang.
    pub unheld: bool,
    /// The enclosing function's name.
    pub function: Option<String>,
    /// The local that holds the `async` block the chain is in (`let f = async { .. };`).
    pub future: Option<usize>,
    /// The call the chain's value is a direct argument of (its resolved path).
    pub consumer: Option<String>,
    /// The innermost branch on an optional setting the chain is in.
    pub guard: Option<Guard>,
}

impl Use {
    /// Whether this chain starts from the value a sink stored.
    pub fn starts_from(&self, sink: &Sink) -> bool {
        match (sink, &self.root) {
            (Sink::Local(id), Root::Name(_)) => self.binding == Some(*id),
            (Sink::Static(name), Root::Name(root)) => self.binding.is_none() && name == root,
            (Sink::Field(name), Root::Field(root)) => name == root,
            _ => false,
        }
    }
}

/// A call of a function or method by name.
#[derive(Debug, Clone)]
pub struct Call {
    pub callee: String,
    /// The calling function.
    pub caller: Option<String>,
    /// Inside a timeout wrapper's arguments, or in a `select!` that races a sleep.
    pub timed: bool,
    /// Its arguments that read an optional setting, by position.
    pub settings: Vec<(usize, OptionRef)>,
}

/// Every chain of a file, its locals, and the calls it makes.
#[derive(Debug, Default)]
pub struct Flow {
    pub uses: Vec<Use>,
    pub bindings: Vec<Binding>,
    /// Names of functions and methods called inside a timeout wrapper's arguments: a chain in
    /// such a function runs under that timeout.
    pub timed_functions: HashSet<String>,
    pub calls: Vec<Call>,
}

/// What the walk treats as pass-through and as timeout wrappers.
pub struct Vocabulary<'a> {
    /// Calls whose single argument is their value (`Arc::new`, `Some`, `LazyLock::new`),
    /// matched as path suffixes.
    pub transparent_calls: &'a [String],
    /// Methods whose receiver is their value (`clone`, `unwrap`, `into`).
    pub transparent_methods: &'a [String],
    /// Calls that bound the time of the future in their arguments.
    pub timeout_wrappers: &'a [String],
    /// Calls that race the futures of a `select!` against a timer (`sleep`).
    pub timers: &'a [String],
    /// Traits whose implementations a connection pool calls under its own timeout
    /// (`bb8::ManageConnection`: `connect` and `is_valid` run within `connection_timeout`).
    pub pool_managers: &'a [String],
}

impl Flow {
    pub fn of_file(
        file: &syn::File,
        imports: &Imports,
        source: &Source,
        vocabulary: &Vocabulary<'_>,
    ) -> Flow {
        walk::walk(file, imports, source, vocabulary)
    }

    /// The chains that start from where a sink put its value.
    pub fn uses_of(&self, sink: &Sink) -> impl Iterator<Item = &Use> {
        let sink = sink.clone();
        self.uses.iter().filter(move |u| u.starts_from(&sink))
    }

    /// What a parameter setting is where this file calls its function: the one setting every
    /// call passes for it (`connect(config.timeout)`), or the parameter itself.
    pub fn resolve(&self, setting: &OptionRef) -> OptionRef {
        let OptionRef::Param {
            function, index, ..
        } = setting
        else {
            return setting.clone();
        };
        let mut passed = self
            .calls
            .iter()
            .filter(|c| c.callee == *function)
            .map(|c| {
                c.settings
                    .iter()
                    .find(|(at, _)| at == index)
                    .map(|(_, s)| s)
            });
        match passed.next().flatten() {
            Some(first) if passed.all(|s| s == Some(first)) => first.clone(),
            _ => setting.clone(),
        }
    }

    /// The binding a chain starts from, if it starts from a local or parameter.
    pub fn binding_of(&self, chain: &Use) -> Option<&Binding> {
        chain.binding.map(|id| &self.bindings[id])
    }

    /// Whether a chain runs under a timeout: inside a wrapper's arguments, in a function the
    /// file calls inside one, or in an `async` block whose future goes into one.
    pub fn under_timeout(&self, chain: &Use) -> bool {
        let timed_future = |id: usize| {
            self.uses
                .iter()
                .any(|u| u.in_timeout && u.binding == Some(id))
        };
        chain.in_timeout
            || chain
                .function
                .as_ref()
                .is_some_and(|f| self.timed_functions.contains(f))
            || chain.future.is_some_and(timed_future)
    }
}
