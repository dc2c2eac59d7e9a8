//! What an expression says about itself without types: whether it is a loopback address, the
//! names a type is written with, the names a pattern binds.

use std::net::IpAddr;

/// Types that only hold a value of another type: `&Arc<Config>` is a `Config` to a reader.
const WRAPPERS: [&str; 5] = ["Arc", "Rc", "Box", "Cow", "Pin"];

/// Whether an expression is a loopback address, asking `local` about names (a local bound to
/// one). Loopback is what the text writes: a literal host (`"127.0.0.1:80"`, `"localhost"`,
/// `"[::1]:80"`, also as the head of a `format!`), `Ipv4Addr::LOCALHOST` / `Ipv6Addr::LOCALHOST`,
/// `Ipv4Addr::new(127, ..)`, `[127, 0, 0, 1]`, or a tuple, `SocketAddr` or `IpAddr` made of one.
pub struct Loopback<'a> {
    pub local: &'a dyn Fn(&str) -> bool,
}

impl Loopback<'_> {
    pub fn is(&self, expr: &syn::Expr) -> bool {
        match expr {
            syn::Expr::Lit(lit) => {
                matches!(&lit.lit, syn::Lit::Str(s) if loopback_host(&s.value()))
            }
            syn::Expr::Macro(mac) => self.format_head(&mac.mac),
            syn::Expr::Reference(inner) => self.is(&inner.expr),
            syn::Expr::Paren(inner) => self.is(&inner.expr),
            syn::Expr::Group(inner) => self.is(&inner.expr),
            syn::Expr::Tuple(tuple) => tuple.elems.first().is_some_and(|e| self.is(e)),
            syn::Expr::Array(array) => {
                matches!(array.elems.first(), Some(syn::Expr::Lit(lit)) if matches!(&lit.lit, syn::Lit::Int(i) if i.base10_digits() == "127"))
            }
            syn::Expr::Path(path) => {
                let segments: Vec<String> = path
                    .path
                    .segments
                    .iter()
                    .map(|s| s.ident.to_string())
                    .collect();
                match segments.as_slice() {
                    [name] => (self.local)(name),
                    [.., kind, constant] => {
                        constant == "LOCALHOST" && matches!(kind.as_str(), "Ipv4Addr" | "Ipv6Addr")
                    }
                    [] => false,
                }
            }
            syn::Expr::Call(call) => self.call(call),
            // `url.clone()`, `addr.as_str()`, `host.to_string()`: the same address.
            syn::Expr::MethodCall(call) if call.args.is_empty() => self.is(&call.receiver),
            _ => false,
        }
    }

    /// `SocketAddr::from((Ipv4Addr::LOCALHOST, port))`, `SocketAddr::new(ip, port)`,
    /// `IpAddr::V4(..)`, `Ipv4Addr::new(127, 0, 0, 1)`.
    fn call(&self, call: &syn::ExprCall) -> bool {
        let syn::Expr::Path(func) = &*call.func else {
            return false;
        };
        let last = |n: usize| {
            func.path
                .segments
                .iter()
                .rev()
                .nth(n)
                .map(|s| s.ident.to_string())
        };
        let first = call.args.first();
        match (last(1).as_deref(), last(0).as_deref()) {
            (Some("Ipv4Addr"), Some("new")) => {
                matches!(first, Some(syn::Expr::Lit(lit)) if matches!(&lit.lit, syn::Lit::Int(i) if i.base10_digits() == "127"))
            }
            (Some("SocketAddr" | "SocketAddrV4" | "SocketAddrV6" | "IpAddr"), _) => {
                first.is_some_and(|e| self.is(e))
            }
            _ => false,
        }
    }

    /// `format!("127.0.0.1:{port}")`: the literal's host, when it is written before any
    /// placeholder.
    fn format_head(&self, mac: &syn::Macro) -> bool {
        let name = crate::facts::rust::macro_name(mac);
        if !matches!(name.as_str(), "format" | "concat") {
            return false;
        }
        let Some(proc_macro2::TokenTree::Literal(first)) = mac.tokens.clone().into_iter().next()
        else {
            return false;
        };
        let Ok(syn::Lit::Str(text)) = syn::parse_str::<syn::Lit>(&first.to_string()) else {
            return false;
        };
        let text = text.value();
        let head = text.split('{').next().unwrap_or_default();
        // The host must be complete: `"127.0.0.1:{port}"`, not `"127.0.{x}"` or `"{host}"`.
        (head.contains(':') || head.len() == text.len()) && loopback_host(head)
    }
}

/// Whether an address text (`host`, `host:port`, `scheme://host:port/path`, `[v6]:port`) names
/// the loopback interface.
fn loopback_host(text: &str) -> bool {
    let rest = text.split_once("://").map_or(text, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None if authority.matches(':').count() > 1 => authority,
        None => authority.split(':').next().unwrap_or_default(),
    };
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Every identifier a syntax tree is written with.
#[derive(Default)]
struct Idents(Vec<String>);

impl<'ast> syn::visit::Visit<'ast> for Idents {
    fn visit_ident(&mut self, ident: &'ast proc_macro2::Ident) {
        self.0.push(ident.to_string());
    }
}

/// The identifiers a type is written with.
pub fn type_words(ty: &syn::Type) -> Vec<String> {
    let mut idents = Idents::default();
    syn::visit::Visit::visit_type(&mut idents, ty);
    idents.0
}

/// A type's name, references and wrappers taken off: `&Arc<Config>` is `Config`.
pub fn type_name(ty: &syn::Type) -> Option<String> {
    match ty {
        syn::Type::Reference(inner) => type_name(&inner.elem),
        syn::Type::Paren(inner) => type_name(&inner.elem),
        syn::Type::Group(inner) => type_name(&inner.elem),
        syn::Type::Path(path) if path.qself.is_none() => {
            let last = path.path.segments.last()?;
            let name = last.ident.to_string();
            if WRAPPERS.contains(&name.as_str())
                && let syn::PathArguments::AngleBracketed(args) = &last.arguments
                && let Some(syn::GenericArgument::Type(inner)) = args.args.first()
            {
                return type_name(inner);
            }
            Some(name)
        }
        _ => None,
    }
}

/// The names a pattern binds, each with the type written for it (`x: Duration`).
pub fn pattern_names(pat: &syn::Pat) -> Vec<(String, Option<&syn::Type>)> {
    let mut out = Vec::new();
    collect(pat, None, &mut out);
    out
}

/// The names a pattern binds and the paths it matches (`Some(Job::Run { reply, .. })` gives
/// `reply`, `Job`, `Run`, `Some`).
pub fn pattern_words(pat: &syn::Pat) -> Vec<String> {
    let mut idents = Idents::default();
    syn::visit::Visit::visit_pat(&mut idents, pat);
    idents.0
}

fn collect<'p>(
    pat: &'p syn::Pat,
    ty: Option<&'p syn::Type>,
    out: &mut Vec<(String, Option<&'p syn::Type>)>,
) {
    match pat {
        syn::Pat::Ident(ident) => {
            out.push((ident.ident.to_string(), ty));
            if let Some((_, sub)) = &ident.subpat {
                collect(sub, None, out);
            }
        }
        syn::Pat::Type(typed) => collect(&typed.pat, Some(&typed.ty), out),
        syn::Pat::Reference(inner) => collect(&inner.pat, None, out),
        syn::Pat::Paren(inner) => collect(&inner.pat, None, out),
        syn::Pat::Guard(inner) => collect(&inner.pat, None, out),
        syn::Pat::Or(or) => {
            if let Some(first) = or.cases.first() {
                collect(first, None, out);
            }
        }
        syn::Pat::Tuple(tuple) => tuple.elems.iter().for_each(|p| collect(p, None, out)),
        syn::Pat::TupleStruct(tuple) => tuple.elems.iter().for_each(|p| collect(p, None, out)),
        syn::Pat::Slice(slice) => slice.elems.iter().for_each(|p| collect(p, None, out)),
        syn::Pat::Struct(fields) => fields
            .fields
            .iter()
            .for_each(|f| collect(&f.pat, None, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for text in [
            "127.0.0.1:8080",
            "localhost",
            "http://localhost:3000/health",
            "[::1]:80",
            "::1",
            "127.1.2.3",
        ] {
            assert!(loopback_host(text), "{text}");
        }
        for text in [
            "10.0.0.1:80",
            "example.com",
            "",
            "http://db:5432",
            "0.0.0.0:1",
        ] {
            assert!(!loopback_host(text), "{text}");
        }
    }

    #[test]
    fn loopback_expressions() {
        let never = |_: &str| false;
        let loopback = Loopback { local: &never };
        for code in [
            r#"format!("127.0.0.1:{port}")"#,
            r#"("localhost", port)"#,
            "(Ipv4Addr::LOCALHOST, port)",
            "SocketAddr::from(([127, 0, 0, 1], port))",
            "SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)), port)",
            r#""[::1]:9000".to_string()"#,
        ] {
            let expr: syn::Expr = syn::parse_str(code).unwrap();
            assert!(loopback.is(&expr), "{code}");
        }
        for code in [
            r#"format!("{host}:{port}")"#,
            "addr",
            r#"format!("127.0.{x}")"#,
        ] {
            let expr: syn::Expr = syn::parse_str(code).unwrap();
            assert!(!loopback.is(&expr), "{code}");
        }
    }
}
