#!/usr/bin/env python3
"""Writes a Cargo workspace of N member crates for the speed benchmark (issue 26).

Usage: bench/gen-workspace.py N DIR

The root `Cargo.toml` names its members by glob (`crates/*`, `services/*`) and shares
dependencies through `[workspace.dependencies]`, as real service workspaces do. Every member
has a few modules of realistic Rust: an HTTP client with and without timeouts, a retry loop, a
queue, configuration read from the environment, handlers, error types, tests in a `mod
tests`, and three larger data modules (about 20 KB each) that no rule needs parsed: about 10 KB
per file on average, as in real service workspaces. One member in ten is a
service (a binary with a server, a Dockerfile and a compose file), the rest are libraries. The
output is deterministic: the same N gives the same bytes, so runs can be compared.
"""

import os
import random
import sys

DATA_MODULES = ("model", "codec", "tables")
LIB_MODULES = ("client", "retry", "queue", "config", "handlers", "errors") + DATA_MODULES

CARGO_ROOT = """[workspace]
resolver = "2"
members = ["crates/*", "services/*"]

[workspace.package]
edition = "2021"
version = "0.1.0"

[workspace.dependencies]
anyhow = "1"
axum = "0.7"
reqwest = {{ version = "0.12", features = ["json"] }}
serde = {{ version = "1", features = ["derive"] }}
serde_json = "1"
thiserror = "1"
tokio = {{ version = "1", features = ["full"] }}
tracing = "0.1"
{members}
"""

CLIENT = '''//! Client of the {upstream} API.

use std::time::Duration;

use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct {Type}Record {{
    pub id: u64,
    pub name: String,
    pub tags: Vec<String>,
}}

pub struct {Type}Client {{
    http: reqwest::Client,
    base: String,
}}

impl {Type}Client {{
    pub fn new(base: &str) -> anyhow::Result<Self> {{
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs({timeout}))
            .build()?;
        Ok(Self {{ http, base: base.to_string() }})
    }}

    pub async fn fetch(&self, id: u64) -> anyhow::Result<{Type}Record> {{
        let url = format!("{{}}/records/{{id}}", self.base);
        let response = self.http.get(url).send().await?.error_for_status()?;
        Ok(response.json().await?)
    }}

    pub async fn list(&self, page: u32) -> anyhow::Result<Vec<{Type}Record>> {{
        let url = format!("{{}}/records?page={{page}}", self.base);
        Ok(self.http.get(url).send().await?.json().await?)
    }}
}}

pub async fn fetch_report(url: &str) -> anyhow::Result<String> {{
    // A one-off client without a timeout: the kind of call RES004 reports.
    let body = reqwest::get(url).await?.text().await?;
    Ok(body)
}}
'''

RETRY = '''//! Retries of the {upstream} calls.

use std::time::Duration;

use crate::client::{Type}Client;

pub async fn fetch_with_retry(client: &{Type}Client, id: u64) -> anyhow::Result<crate::client::{Type}Record> {{
    let mut attempt = 0;
    let mut delay = Duration::from_millis(100);
    loop {{
        match client.fetch(id).await {{
            Ok(record) => return Ok(record),
            Err(error) if attempt < {attempts} => {{
                tracing::warn!(%error, attempt, "fetch failed, retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
                attempt += 1;
            }}
            Err(error) => return Err(error),
        }}
    }}
}}

pub async fn poll_until_ready(client: &{Type}Client) -> bool {{
    for _ in 0..{attempts} {{
        if client.list(0).await.is_ok() {{
            return true;
        }}
        tokio::time::sleep(Duration::from_millis(250)).await;
    }}
    false
}}
'''

QUEUE = '''//! Work queue between the {upstream} poller and the writers.

use tokio::sync::mpsc;

pub enum Job {{
    Refresh(u64),
    Delete(u64),
}}

pub fn channel() -> (mpsc::Sender<Job>, mpsc::Receiver<Job>) {{
    mpsc::channel({capacity})
}}

pub async fn drain(mut rx: mpsc::Receiver<Job>) -> usize {{
    let mut done = 0;
    while let Some(job) = rx.recv().await {{
        match job {{
            Job::Refresh(id) => tracing::debug!(id, "refresh"),
            Job::Delete(id) => tracing::debug!(id, "delete"),
        }}
        done += 1;
    }}
    done
}}
'''

CONFIG = '''//! Settings of the {name} crate, read from the environment.

#[derive(Debug, Clone)]
pub struct Settings {{
    pub upstream_url: String,
    pub workers: usize,
    pub api_token: String,
}}

impl Settings {{
    pub fn from_env() -> anyhow::Result<Self> {{
        Ok(Self {{
            upstream_url: std::env::var("{UPPER}_UPSTREAM_URL")?,
            workers: std::env::var("{UPPER}_WORKERS")
                .ok()
                .and_then(|w| w.parse().ok())
                .unwrap_or({workers}),
            api_token: std::env::var("{UPPER}_API_TOKEN")?,
        }})
    }}
}}
'''

HANDLERS = '''//! Request handlers of the {name} crate.

use serde::{{Deserialize, Serialize}};

#[derive(Debug, Deserialize)]
pub struct CreateRequest {{
    pub name: String,
    pub tags: Vec<String>,
}}

#[derive(Debug, Serialize)]
pub struct CreateResponse {{
    pub id: u64,
}}

pub fn validate(request: &CreateRequest) -> Result<(), crate::errors::Error> {{
    if request.name.is_empty() {{
        return Err(crate::errors::Error::Invalid("name is empty".into()));
    }}
    if request.tags.len() > {max_tags} {{
        return Err(crate::errors::Error::Invalid("too many tags".into()));
    }}
    Ok(())
}}

pub fn next_id(previous: u64) -> CreateResponse {{
    CreateResponse {{ id: previous + 1 }}
}}

#[cfg(test)]
mod tests {{
    use super::*;

    #[test]
    fn empty_names_are_rejected() {{
        let request = CreateRequest {{ name: String::new(), tags: vec![] }};
        assert!(validate(&request).is_err());
    }}

    #[test]
    fn ids_increase() {{
        assert_eq!(next_id(41).id, 42);
    }}
}}
'''

ERRORS = '''//! Errors of the {name} crate.

#[derive(Debug, thiserror::Error)]
pub enum Error {{
    #[error("invalid input: {{0}}")]
    Invalid(String),
    #[error("upstream failed: {{0}}")]
    Upstream(#[from] reqwest::Error),
    #[error("io: {{0}}")]
    Io(#[from] std::io::Error),
}}
'''

MAIN = '''//! The {name} service.

use std::net::SocketAddr;

use axum::{{routing::get, Router}};

async fn health() -> &'static str {{
    "ok"
}}

#[tokio::main]
async fn main() -> anyhow::Result<()> {{
    tracing::info!("starting {name}");
    let settings = {lib}::config::Settings::from_env()?;
    let app = Router::new().route("/health", get(health));
    let addr: SocketAddr = "0.0.0.0:{port}".parse()?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(workers = settings.workers, "listening on {{addr}}");
    axum::serve(listener, app).await?;
    Ok(())
}}
'''

DOCKERFILE = """FROM rust:1.85 AS build
WORKDIR /src
COPY . .
RUN cargo build --release -p {name}

FROM debian:bookworm-slim
COPY --from=build /src/target/release/{name} /usr/local/bin/{name}
CMD ["{name}"]
"""

COMPOSE = """services:
  {name}:
    build: .
    ports:
      - "{port}:{port}"
    environment:
      {UPPER}_UPSTREAM_URL: http://upstream:8080
      {UPPER}_WORKERS: "{workers}"
"""


def data_module(rng, name, kind):
    """A larger module of plain data and arithmetic: what most of a real crate's lines are, and
    what no rule needs parsed."""
    lines = [f"//! {kind.capitalize()} of the {name} crate: generated tables and conversions.", ""]
    for t in range(rng.randint(20, 40)):
        fields = [f"    pub field_{f}: {rng.choice(['u32', 'u64', 'i64', 'f64', 'bool', 'String'])},"
                  for f in range(rng.randint(3, 12))]
        lines += ["#[derive(Debug, Clone, PartialEq)]", f"pub struct {kind.capitalize()}{t} {{",
                  *fields, "}", ""]
        lines += [f"pub const TABLE_{t}: [u32; 16] = ["
                  + ", ".join(str(rng.randint(0, 1 << 20)) for _ in range(16)) + "];", ""]
        lines += [f"pub fn convert_{t}(value: u64) -> u64 {{",
                  f"    let mut acc = value.wrapping_mul({rng.randint(3, 1 << 16)});",
                  f"    for step in TABLE_{t} {{",
                  "        acc = acc.rotate_left(5) ^ u64::from(step);",
                  "    }",
                  "    acc", "}", ""]
    return "\n".join(lines)


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def member(root, rng, index):
    service = index % 10 == 0
    name = f"{'svc' if service else 'lib'}-{index:04d}"
    lib = name.replace("-", "_")
    upper = lib.upper()
    folder = os.path.join(root, "services" if service else "crates", name)
    values = {
        "name": name, "lib": lib, "UPPER": upper, "Type": f"Upstream{index}",
        "upstream": f"partner-{index % 7}", "timeout": rng.randint(5, 30),
        "attempts": rng.randint(2, 6), "capacity": rng.choice([64, 256, 1024]),
        "workers": rng.randint(2, 16), "max_tags": rng.randint(8, 64),
        "port": 8000 + index,
    }
    bin_section = f'\n[[bin]]\nname = "{name}"\npath = "src/main.rs"\n' if service else ""
    write(os.path.join(folder, "Cargo.toml"),
          f'[package]\nname = "{name}"\nversion.workspace = true\nedition.workspace = true\n'
          f"{bin_section}\n[dependencies]\nanyhow.workspace = true\naxum.workspace = true\n"
          "reqwest.workspace = true\nserde.workspace = true\nserde_json.workspace = true\n"
          "thiserror.workspace = true\ntokio.workspace = true\ntracing.workspace = true\n")
    modules = {"client": CLIENT, "retry": RETRY, "queue": QUEUE, "config": CONFIG,
               "handlers": HANDLERS, "errors": ERRORS}
    for module, template in modules.items():
        write(os.path.join(folder, "src", f"{module}.rs"), template.format(**values))
    for module in DATA_MODULES:
        write(os.path.join(folder, "src", f"{module}.rs"), data_module(rng, name, module))
    write(os.path.join(folder, "src", "lib.rs"),
          f"//! The {name} crate.\n\n" + "".join(f"pub mod {m};\n" for m in LIB_MODULES))
    if service:
        write(os.path.join(folder, "src", "main.rs"), MAIN.format(**values))
        write(os.path.join(folder, "Dockerfile"), DOCKERFILE.format(**values))
        write(os.path.join(folder, "docker-compose.yml"), COMPOSE.format(**values))
    return name


def main():
    if len(sys.argv) != 3 or not sys.argv[1].isdigit() or int(sys.argv[1]) < 1:
        sys.exit("usage: gen-workspace.py N DIR   (N >= 1 member crates)")
    n, root = int(sys.argv[1]), sys.argv[2]
    if os.path.exists(root) and os.listdir(root):
        sys.exit(f"gen-workspace.py: {root} exists and is not empty")
    rng = random.Random(26)
    names = [member(root, rng, i) for i in range(n)]
    deps = "".join(f'{m} = {{ path = "{"services" if m.startswith("svc") else "crates"}/{m}" }}\n'
                   for m in names)
    write(os.path.join(root, "Cargo.toml"), CARGO_ROOT.format(members=deps))
    write(os.path.join(root, "README.md"), f"# Generated workspace\n\n{n} member crates.\n")


if __name__ == "__main__":
    main()
