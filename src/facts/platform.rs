//! Whether a Cargo platform — the `<platform>` of `[target.<platform>.dependencies]`, a
//! `cfg(..)` expression or a target triple — can hold on Linux, where services are built and
//! deployed. What Linux does not decide (architecture, environment, features, custom cfgs) is
//! unknown, and an unknown or unreadable platform may hold.

/// Known for a Linux target, or not known (`None`).
type Truth = Option<bool>;

#[derive(Debug, PartialEq, Eq)]
enum Token {
    Ident(String),
    Str(String),
    Eq,
    Open,
    Close,
    Comma,
}

/// Whether a dependency declared for `platform` may be built for a Linux target.
pub fn may_be_linux(platform: &str) -> bool {
    let platform = platform.trim();
    let Some(expr) = platform
        .strip_prefix("cfg(")
        .and_then(|p| p.strip_suffix(')'))
    else {
        // A target triple: `x86_64-unknown-linux-gnu`, `aarch64-apple-darwin`.
        return platform.contains("-linux");
    };
    let Some(tokens) = tokenize(expr) else {
        return true;
    };
    let mut parser = Parser { tokens, pos: 0 };
    match parser.predicate() {
        Some(truth) if parser.pos == parser.tokens.len() => truth != Some(false),
        _ => true,
    }
}

fn tokenize(text: &str) -> Option<Vec<Token>> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            '(' => tokens.push(Token::Open),
            ')' => tokens.push(Token::Close),
            ',' => tokens.push(Token::Comma),
            '=' => tokens.push(Token::Eq),
            '"' => {
                let value: String = chars.by_ref().take_while(|&c| c != '"').collect();
                tokens.push(Token::Str(value));
            }
            c if c.is_alphanumeric() || c == '_' => {
                let mut ident = c.to_string();
                while let Some(&next) = chars.peek() {
                    if !(next.is_alphanumeric() || next == '_') {
                        break;
                    }
                    ident.push(next);
                    chars.next();
                }
                tokens.push(Token::Ident(ident));
            }
            _ => return None,
        }
    }
    Some(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn next(&mut self) -> Option<&Token> {
        let token = self.tokens.get(self.pos);
        self.pos += 1;
        token
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    /// One predicate; `None` when the text is not one.
    fn predicate(&mut self) -> Option<Truth> {
        let Some(Token::Ident(name)) = self.next() else {
            return None;
        };
        let name = name.clone();
        match self.peek() {
            Some(Token::Open) if matches!(name.as_str(), "all" | "any" | "not") => {
                self.pos += 1;
                let mut items = Vec::new();
                while *self.peek()? != Token::Close {
                    items.push(self.predicate()?);
                    if self.peek() == Some(&Token::Comma) {
                        self.pos += 1;
                    }
                }
                self.pos += 1;
                combine(&name, &items)
            }
            Some(Token::Eq) => {
                self.pos += 1;
                let Some(Token::Str(value)) = self.next() else {
                    return None;
                };
                Some(key_value(&name, value))
            }
            _ => Some(match name.as_str() {
                "unix" => Some(true),
                "windows" => Some(false),
                _ => None,
            }),
        }
    }
}

fn combine(operator: &str, items: &[Truth]) -> Option<Truth> {
    Some(match operator {
        "all" if items.contains(&Some(false)) => Some(false),
        "all" => items.iter().all(|t| *t == Some(true)).then_some(true),
        "any" if items.contains(&Some(true)) => Some(true),
        "any" => items.iter().all(|t| *t == Some(false)).then_some(false),
        "not" if items.len() == 1 => items[0].map(|t| !t),
        _ => return None,
    })
}

fn key_value(key: &str, value: &str) -> Truth {
    match key {
        "target_os" => Some(value == "linux"),
        "target_family" => Some(value == "unix"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linux_or_not() {
        for platform in [
            "cfg(unix)",
            "cfg(target_os = \"linux\")",
            "cfg(not(windows))",
            "cfg(all(unix, target_arch = \"x86_64\"))",
            "cfg(any(target_os = \"macos\", tokio_unstable))",
            "cfg(target_env = \"musl\")",
            "x86_64-unknown-linux-gnu",
            "cfg(something odd!)",
        ] {
            assert!(may_be_linux(platform), "{platform}");
        }
        for platform in [
            "cfg(windows)",
            "cfg(not(target_os = \"linux\"))",
            "cfg(target_os = \"macos\")",
            "cfg(any(target_os = \"macos\", target_os = \"ios\"))",
            "cfg(all(target_family = \"wasm\", feature = \"web\"))",
            "cfg(not(unix))",
            "x86_64-pc-windows-msvc",
            "aarch64-apple-darwin",
        ] {
            assert!(!may_be_linux(platform), "{platform}");
        }
    }
}
