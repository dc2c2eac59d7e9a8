//! The delay on a retry loop's failure path: the argument of a sleep, traced through the `let`
//! bindings and reassignments of the loop, classified as constant, linearly or exponentially
//! growing, capped or not, jittered or not. An opaque call makes it unknown (`None`).

use std::collections::{HashMap, HashSet};

use syn::{BinOp, Expr, UnOp};

use super::Cx;

/// How a delay changes from one attempt to the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Growth {
    Constant,
    /// The variable being reassigned, inside its own new value (`d` in `d = d * 2`).
    SelfRef,
    Linear,
    Exponential,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Delay {
    pub growth: Growth,
    pub capped: bool,
    pub jitter: bool,
}

impl Delay {
    const CONSTANT: Delay = Delay {
        growth: Growth::Constant,
        capped: false,
        jitter: false,
    };

    fn with_growth(self, growth: Growth) -> Delay {
        Delay { growth, ..self }
    }

    /// Both parts, growing as the faster one.
    pub fn join(self, other: Delay) -> Delay {
        Delay {
            growth: self.growth.max(other.growth),
            capped: self.capped || other.capped,
            jitter: self.jitter || other.jitter,
        }
    }

    /// `a + b`: adding to itself each time is linear growth.
    fn add(self, other: Delay) -> Delay {
        let joined = self.join(other);
        if joined.growth == Growth::SelfRef {
            joined.with_growth(Growth::Linear)
        } else {
            joined
        }
    }

    /// `a * b`: multiplying itself each time is exponential, the counter times a constant linear.
    fn mul(self, other: Delay) -> Delay {
        let joined = self.join(other);
        if self.growth == Growth::SelfRef || other.growth == Growth::SelfRef {
            joined.with_growth(Growth::Exponential)
        } else {
            joined
        }
    }

    /// `a << b`, `a.pow(b)`: a growing exponent (or a shifted self) is exponential.
    fn exponent(self, exponent: Delay) -> Delay {
        let joined = self.join(exponent);
        if exponent.growth > Growth::Constant || self.growth == Growth::SelfRef {
            joined.with_growth(Growth::Exponential)
        } else {
            joined
        }
    }
}

/// How a variable is assigned inside the loop.
pub(super) enum AssignKind {
    Set,
    Add,
    Mul,
    Shl,
    Other,
}

/// What the loop body says about its variables, for tracing a delay.
#[derive(Default)]
pub(super) struct LoopVars<'a> {
    /// The range variable and variables incremented in the loop.
    pub counters: HashSet<String>,
    /// `let` bindings inside the loop, by name.
    pub lets: HashMap<String, Vec<&'a Expr>>,
    /// Assignments inside the loop, by place (`d`, `self.delay`).
    pub assigns: HashMap<String, Vec<(AssignKind, &'a Expr)>>,
    /// Names bound inside the loop (`let`, a pattern): fresh on each pass.
    pub locals: HashSet<String>,
    /// Variables of the enclosing code that an assignment at the top of the body sets anew on
    /// each pass, from something other than themselves (`req = build(&cfg);`).
    pub rebuilt: HashSet<String>,
    /// Variables lent mutably to a call (`sample(&mut candidates)`) or advanced by an iteration
    /// call (`candidates.pop()`), outside the inspected call: they may change between passes.
    pub mutated: HashSet<String>,
}

/// The name of a place: `d`, `self.delay`.
pub(super) fn place(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Path(p) if p.qself.is_none() => p.path.get_ident().map(|i| i.to_string()),
        Expr::Field(f) => {
            let base = place(&f.base)?;
            match &f.member {
                syn::Member::Named(name) => Some(format!("{base}.{name}")),
                syn::Member::Unnamed(index) => Some(format!("{base}.{}", index.index)),
            }
        }
        Expr::Paren(p) => place(&p.expr),
        Expr::Unary(u) if matches!(u.op, UnOp::Deref(_)) => place(&u.expr),
        _ => None,
    }
}

pub(super) struct Tracer<'a, 'c> {
    pub cx: &'c Cx<'c>,
    pub vars: &'c LoopVars<'a>,
    /// Places being traced, to stop at cycles and to see self-references.
    tracing: Vec<String>,
    /// Variable look-ups left: bindings that refer to each other many times over
    /// (`let a2 = a1 + a1; let a3 = a2 + a2; ..`) would otherwise take exponential time.
    budget: usize,
}

/// Variable look-ups one delay may take before it is called undecidable.
const TRACE_BUDGET: usize = 4096;

impl<'a, 'c> Tracer<'a, 'c> {
    pub fn new(cx: &'c Cx<'c>, vars: &'c LoopVars<'a>) -> Self {
        Tracer {
            cx,
            vars,
            tracing: Vec::new(),
            budget: TRACE_BUDGET,
        }
    }

    /// The delay an expression evaluates to on each pass through the loop.
    pub fn classify(&mut self, expr: &Expr) -> Option<Delay> {
        match expr {
            Expr::Lit(_) => Some(Delay::CONSTANT),
            Expr::Path(_) | Expr::Field(_) => match place(expr) {
                Some(name) => self.variable(&name),
                // A path such as `Duration::ZERO` or `config::RETRY_DELAY`.
                None => Some(Delay::CONSTANT),
            },
            Expr::Paren(p) => self.classify(&p.expr),
            Expr::Group(g) => self.classify(&g.expr),
            Expr::Reference(r) => self.classify(&r.expr),
            Expr::Cast(c) => self.classify(&c.expr),
            Expr::Try(t) => self.classify(&t.expr),
            Expr::Unary(u) => self.classify(&u.expr),
            Expr::Binary(b) => {
                let left = self.classify(&b.left)?;
                let right = self.classify(&b.right)?;
                match b.op {
                    BinOp::Add(_) | BinOp::Sub(_) => Some(left.add(right)),
                    BinOp::Mul(_) => Some(left.mul(right)),
                    BinOp::Shl(_) => Some(left.exponent(right)),
                    BinOp::Div(_) | BinOp::Rem(_) | BinOp::BitAnd(_) | BinOp::BitOr(_) => {
                        Some(left.join(right))
                    }
                    _ => None,
                }
            }
            Expr::MethodCall(m) => self.method(m),
            Expr::Call(c) => self.call(c),
            Expr::Range(r) => {
                let mut delay = Delay::CONSTANT;
                for bound in r.start.iter().chain(r.end.iter()) {
                    delay = delay.join(self.classify(bound)?);
                }
                Some(delay)
            }
            _ => None,
        }
    }

    fn all(&mut self, exprs: &[&Expr]) -> Option<Delay> {
        let mut delay = Delay::CONSTANT;
        for expr in exprs {
            delay = delay.join(self.classify(expr)?);
        }
        Some(delay)
    }

    fn method(&mut self, m: &syn::ExprMethodCall) -> Option<Delay> {
        let name = m.method.to_string();
        let res001 = &self.cx.data.res001;
        let mut args = Delay::CONSTANT;
        for arg in &m.args {
            args = args.join(self.classify(arg)?);
        }
        // `rng.random_range(0..=backoff)`: the range decides the growth.
        if self.cx.data.res003.is_jitter_call(&name) {
            return Some(Delay {
                jitter: true,
                ..args
            });
        }
        let receiver = self.classify(&m.receiver)?;
        match name.as_str() {
            "pow" | "saturating_pow" | "checked_pow" | "wrapping_pow" | "powi" | "powf" => {
                Some(receiver.exponent(args))
            }
            "saturating_mul" | "checked_mul" | "wrapping_mul" | "mul_f64" | "mul_f32" | "mul" => {
                Some(receiver.mul(args))
            }
            "saturating_add" | "checked_add" | "wrapping_add" | "add" => Some(receiver.add(args)),
            "min" | "clamp" => Some(Delay {
                capped: true,
                ..receiver.join(args)
            }),
            _ if res001.passthrough_methods.contains(&name) => Some(receiver.join(args)),
            _ => None,
        }
    }

    fn call(&mut self, c: &syn::ExprCall) -> Option<Delay> {
        let Expr::Path(func) = &*c.func else {
            return None;
        };
        let path = self.cx.resolve(&func.path);
        let mut args = Delay::CONSTANT;
        for arg in &c.args {
            args = args.join(self.classify(arg)?);
        }
        // `fastrand::u64(0..=delay)`: the range decides the growth.
        if self.cx.data.res003.is_jitter_call(&path) {
            return Some(Delay {
                jitter: true,
                ..args
            });
        }
        let name = path.rsplit("::").next().unwrap_or(&path);
        let is_duration = self
            .cx
            .data
            .res001
            .duration_functions
            .iter()
            .any(|f| crate::facts::imports::ends_with_path(&path, f));
        match name {
            // `min(d * 2, cap)`, `std::cmp::min(..)`
            "min" => Some(Delay {
                capped: true,
                ..args
            }),
            "max" => Some(args),
            _ if is_duration => Some(args),
            _ => None,
        }
    }

    /// A variable (or field): the counter grows linearly; a binding made or changed in the loop
    /// is traced; anything else is a value fixed before the loop.
    fn variable(&mut self, name: &str) -> Option<Delay> {
        // Out of budget: undecidable, so no finding.
        self.budget = self.budget.checked_sub(1)?;
        if self.tracing.iter().any(|t| t == name) {
            return Some(Delay::CONSTANT.with_growth(Growth::SelfRef));
        }
        let vars = self.vars;
        let lets = vars.lets.get(name);
        let assigns = vars.assigns.get(name);
        if lets.is_none() && assigns.is_none() {
            return Some(if vars.counters.contains(name) {
                Delay::CONSTANT.with_growth(Growth::Linear)
            } else {
                Delay::CONSTANT
            });
        }
        self.tracing.push(name.to_string());
        let result = self.traced(lets, assigns);
        self.tracing.pop();
        result
    }

    fn traced(
        &mut self,
        lets: Option<&Vec<&'a Expr>>,
        assigns: Option<&Vec<(AssignKind, &'a Expr)>>,
    ) -> Option<Delay> {
        let mut delay = Delay::CONSTANT;
        if let Some(inits) = lets {
            delay = delay.join(self.all(inits)?);
        }
        let mut resets = false;
        for (kind, rhs) in assigns.into_iter().flatten() {
            let value = self.classify(rhs)?;
            let step = match kind {
                AssignKind::Set if value.growth == Growth::SelfRef => {
                    value.with_growth(Growth::Constant)
                }
                AssignKind::Set => {
                    resets |= value.growth == Growth::Constant;
                    value
                }
                AssignKind::Add => value.add(Delay::CONSTANT.with_growth(Growth::SelfRef)),
                AssignKind::Mul | AssignKind::Shl => value.with_growth(Growth::Exponential),
                AssignKind::Other => return None,
            };
            delay = delay.join(step);
        }
        // `if d > max { d = max }` beside `d *= 2`: a growing delay set back to a constant.
        if resets && delay.growth > Growth::Constant {
            delay.capped = true;
        }
        if delay.growth == Growth::SelfRef {
            delay.growth = Growth::Constant;
        }
        Some(delay)
    }
}
