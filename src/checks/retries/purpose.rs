//! What a loop shaped like a retry is for. Most retry a call to a dependency; some do something
//! else, and are judged for what they are: a loop that asks a person whether to try again
//! (an interactive "Retry"), a supervisor that restarts a task after a panic, and a retry of an
//! operation on a local resource (a file, a Unix socket), which no shared dependency serves.

use syn::visit::{self, Visit};
use syn::{Block, Expr};

use super::{Cx, words};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Purpose {
    /// Retries a call to a dependency.
    Retry,
    /// Goes round again when a person says so.
    Interactive,
    /// Restarts a task after it panicked.
    Supervisor,
    /// Retries an operation on a local resource.
    Local,
}

/// What the loop with this body, whose inspected call is `inspected`, is for.
pub(super) fn of(cx: &Cx<'_>, body: &Block, inspected: &Expr) -> Purpose {
    let data = &cx.data.res001;
    let around = Calls::in_block(cx, body, Some(inspected));
    let own = Calls::in_expr(cx, inspected);
    let asks = around.0.iter().any(|call| {
        data.interactive_calls.contains(&call.name)
            || call.path.as_deref().is_some_and(|p| {
                data.interactive_paths
                    .iter()
                    .any(|i| p.starts_with(i.as_str()))
            })
    });
    if asks {
        return Purpose::Interactive;
    }
    // `exec_catch_unwind()`, `FutureExt::catch_unwind`, `std::panic::catch_unwind`; a join
    // error that is asked whether it is a panic; a thread's `join()`, whose error is its panic.
    let catches = own.0.iter().any(|call| {
        let name: Vec<String> = words(&call.name).collect();
        data.panic_catchers.iter().any(|catcher| {
            let catcher: Vec<String> = words(catcher).collect();
            name.windows(catcher.len()).any(|w| w == catcher.as_slice())
        })
    }) || around
        .0
        .iter()
        .any(|call| call.path.is_none() && data.panic_inspections.contains(&call.name))
        || (own.0.iter().any(|c| c.path.is_none() && c.name == "join")
            && own.0.iter().any(|c| {
                c.path
                    .as_deref()
                    .is_some_and(|p| p.starts_with("std::thread::"))
            }));
    if catches {
        return Purpose::Supervisor;
    }
    // Every call is on a local resource, or adapts its result (`map_err`, `?` conversions).
    let local = own
        .0
        .iter()
        .any(|c| c.path.as_deref().is_some_and(|p| is_local(cx, p)))
        && own.0.iter().all(|c| match c.path.as_deref() {
            Some(p) => is_local(cx, p),
            None => data.result_adapters.contains(&c.name),
        });
    if local {
        Purpose::Local
    } else {
        Purpose::Retry
    }
}

fn is_local(cx: &Cx<'_>, path: &str) -> bool {
    cx.data
        .res001
        .local_calls
        .iter()
        .any(|l| path.starts_with(l.as_str()))
}

/// A call: its name (a function's last segment, a method), and a function's resolved path.
struct Call {
    name: String,
    path: Option<String>,
}

/// The calls in a stretch of code, closures included, leaving out one expression.
struct Calls(Vec<Call>);

impl Calls {
    fn in_block(cx: &Cx<'_>, block: &Block, skip: Option<&Expr>) -> Calls {
        let mut finder = Finder {
            cx,
            skip: skip.map(|e| e as *const Expr as usize),
            calls: Vec::new(),
        };
        finder.visit_block(block);
        Calls(finder.calls)
    }

    fn in_expr(cx: &Cx<'_>, expr: &Expr) -> Calls {
        let mut finder = Finder {
            cx,
            skip: None,
            calls: Vec::new(),
        };
        finder.visit_expr(expr);
        Calls(finder.calls)
    }
}

struct Finder<'c> {
    cx: &'c Cx<'c>,
    skip: Option<usize>,
    calls: Vec<Call>,
}

impl<'ast> Visit<'ast> for Finder<'_> {
    fn visit_expr(&mut self, expr: &'ast Expr) {
        if self.skip == Some(expr as *const Expr as usize) {
            return;
        }
        match expr {
            Expr::Call(c) => {
                if let Expr::Path(p) = &*c.func {
                    let path = self.cx.resolve(&p.path);
                    let name = path.rsplit("::").next().unwrap_or(&path).to_string();
                    self.calls.push(Call {
                        name,
                        path: Some(path),
                    });
                }
            }
            Expr::MethodCall(m) => self.calls.push(Call {
                name: m.method.to_string(),
                path: None,
            }),
            _ => {}
        }
        visit::visit_expr(self, expr);
    }

    fn visit_item(&mut self, _: &'ast syn::Item) {}
}
