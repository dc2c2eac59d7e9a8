//! The HTML report: escaped, written only for an audit that finished, and working in a real
//! browser. The browser tests drive headless Chromium through the DevTools protocol; they need
//! `chromium` (or `$PRODREADY_CHROMIUM`). Without it they say so and pass, unless
//! `$PRODREADY_REQUIRE_CHROMIUM` is set, as `.ci/run` sets it.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use serde_json::{Value, json};
use tungstenite::{Message, WebSocket, stream::MaybeTlsStream};

fn prodready(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_prodready"))
        .args(args)
        .arg("--no-cache")
        .env("NO_COLOR", "1")
        .output()
        .expect("prodready runs")
}

fn html_of(dir: &Path) -> String {
    let output = prodready(&["audit", dir.to_str().unwrap(), "--format", "html"]);
    assert!(output.status.code().unwrap() <= 1, "{output:?}");
    String::from_utf8(output.stdout).unwrap()
}

const SCRIPT_TAG: &str = "<script>alert(1)</script>";
const IMG_TAG: &str = "\"><img src=x onerror=alert(1)>";

/// A project whose file names and contents carry markup, on lines that findings print.
fn hostile_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let deployment = |comment: &str| {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  replicas: 1\n  template:\n    spec:\n      containers:\n        - name: api\n          image: nginx:latest # {comment}\n"
        )
    };
    let folder = dir.path().join("deploy").join("<script>alert(1)<");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("script>.yaml"), deployment(SCRIPT_TAG)).unwrap();
    std::fs::write(
        dir.path().join("deploy").join(format!("{IMG_TAG}.yaml")),
        deployment(IMG_TAG),
    )
    .unwrap();
    dir
}

#[test]
fn markup_in_paths_and_source_is_text() {
    let project = hostile_project();
    let html = html_of(project.path());
    for markup in [SCRIPT_TAG, IMG_TAG, "<img", "<script>alert"] {
        assert!(
            !html.contains(markup),
            "`{markup}` is in the page unescaped"
        );
    }
    // The findings on both files are there, escaped: in the path and in the source excerpt.
    assert!(html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;.yaml"));
    assert!(html.contains("image: nginx:latest # &lt;script&gt;alert(1)&lt;&#x2f;script&gt;"));
    assert!(html.contains("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;.yaml"));
}

#[test]
fn the_page_is_one_file_that_requests_nothing() {
    let html = html_of(Path::new("fixtures/pilot-service"));
    assert!(html.len() < 300_000, "{} bytes", html.len());
    // (The template escapes the quotes; the browser reads the attribute unescaped.)
    let policy = "content=\"default-src &#x27;none&#x27;; style-src &#x27;sha256-";
    assert!(html.contains(policy), "no Content-Security-Policy");
    for reference in ["src=", "href=\"http", "href=\"//", "url(", "@import"] {
        assert!(!html.contains(reference), "`{reference}` in the page");
    }
    assert_eq!(html.matches("<script>").count(), 1);
    assert_eq!(html.matches("<style>").count(), 1);
}

#[test]
fn no_report_for_an_audit_that_stopped() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("prodready.toml"),
        "select = [\"NOPE999\"]\n",
    )
    .unwrap();
    let page = dir.path().join("report.html");
    let report = format!("html={}", page.display());
    let output = prodready(&["audit", dir.path().to_str().unwrap(), "--report", &report]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("NOPE999"), "{stderr}");
    assert!(stderr.contains("no report written"), "{stderr}");
    assert!(!page.exists());
}

/// The Chromium to test with, or `None` (and why, on standard error) when there is none.
fn chromium() -> Option<PathBuf> {
    let candidates = [
        std::env::var("PRODREADY_CHROMIUM").ok(),
        Some("/usr/bin/chromium".into()),
    ];
    let found = candidates
        .into_iter()
        .flatten()
        .map(PathBuf::from)
        .find(|p| p.exists());
    if found.is_none() {
        assert!(
            std::env::var_os("PRODREADY_REQUIRE_CHROMIUM").is_none(),
            "PRODREADY_REQUIRE_CHROMIUM is set and there is no chromium"
        );
        eprintln!("no chromium: the browser test did not run");
    }
    found
}

/// A headless Chromium and one page of it, driven through the DevTools protocol.
struct Browser {
    child: Child,
    socket: WebSocket<MaybeTlsStream<TcpStream>>,
    session: String,
    next_id: u64,
    /// Every event received so far, in order.
    events: Vec<Value>,
    _profile: tempfile::TempDir,
}

impl Browser {
    fn start(binary: &Path) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let mut child = Command::new(binary)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("chromium starts");
        let stderr = BufReader::new(child.stderr.take().unwrap());
        let address = stderr
            .lines()
            .map_while(Result::ok)
            .find_map(|line| {
                line.split_once("DevTools listening on ")
                    .map(|(_, a)| a.to_string())
            })
            .expect("chromium prints its DevTools address");
        let (socket, _) = tungstenite::connect(address.trim()).expect("DevTools connects");
        if let MaybeTlsStream::Plain(stream) = socket.get_ref() {
            // A browser that stops answering fails the test instead of hanging it.
            let limit = std::time::Duration::from_secs(60);
            stream.set_read_timeout(Some(limit)).unwrap();
        }
        let mut browser = Browser {
            child,
            socket,
            session: String::new(),
            next_id: 0,
            events: Vec::new(),
            _profile: profile,
        };
        let target = browser.call("Target.createTarget", json!({"url": "about:blank"}));
        let target = target["targetId"].clone();
        let attached = browser.call(
            "Target.attachToTarget",
            json!({"targetId": target, "flatten": true}),
        );
        browser.session = attached["sessionId"].as_str().unwrap().to_string();
        for domain in ["Network.enable", "Page.enable", "Runtime.enable"] {
            browser.call(domain, json!({}));
        }
        browser
    }

    /// Sends a command (to the page once attached) and waits for its answer.
    fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({"id": id, "method": method, "params": params});
        if !self.session.is_empty() {
            message["sessionId"] = json!(self.session);
        }
        self.socket
            .send(Message::text(message.to_string()))
            .unwrap();
        loop {
            let reply = self.receive();
            if reply["id"] == id {
                assert!(reply.get("error").is_none(), "{method}: {reply}");
                return reply["result"].clone();
            }
            self.events.push(reply);
        }
    }

    fn receive(&mut self) -> Value {
        loop {
            if let Message::Text(text) = self.socket.read().expect("DevTools answers") {
                if std::env::var_os("PRODREADY_TRACE_DEVTOOLS").is_some() {
                    eprintln!("{}", &text[..text.len().min(300)]);
                }
                return serde_json::from_str(&text).unwrap();
            }
        }
    }

    /// Opens `url` and waits until the page has loaded.
    fn open(&mut self, url: &str) {
        self.events.clear();
        self.call("Page.navigate", json!({"url": url}));
        while !self
            .events
            .iter()
            .any(|e| e["method"] == "Page.loadEventFired")
        {
            let event = self.receive();
            self.events.push(event);
        }
    }

    /// The value of a JavaScript expression in the page.
    fn evaluate(&mut self, expression: &str) -> Value {
        let result = self.call(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true}),
        );
        assert!(
            result.get("exceptionDetails").is_none(),
            "{expression}: {result}"
        );
        result["result"]["value"].clone()
    }

    /// The URLs of the requests that left the page since it was opened (DevTools reports a
    /// request the page's policy blocks too, then says why it failed: `blockedReason`).
    fn requests(&self) -> Vec<String> {
        let blocked = self.blocked_requests();
        (self.events.iter())
            .filter(|e| e["method"] == "Network.requestWillBeSent")
            .filter(|e| !blocked.contains_key(e["params"]["requestId"].as_str().unwrap_or("")))
            .map(|e| {
                e["params"]["request"]["url"]
                    .as_str()
                    .unwrap_or("")
                    .to_string()
            })
            .collect()
    }

    /// The requests blocked before they left, by id, with the reason (`csp`).
    fn blocked_requests(&self) -> std::collections::HashMap<String, String> {
        (self.events.iter())
            .filter(|e| e["method"] == "Network.loadingFailed")
            .filter_map(|e| {
                let reason = e["params"]["blockedReason"].as_str()?;
                Some((
                    e["params"]["requestId"].as_str()?.to_string(),
                    reason.to_string(),
                ))
            })
            .collect()
    }

    fn events_named(&self, method: &str) -> usize {
        self.events.iter().filter(|e| e["method"] == method).count()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn file_url(path: &Path) -> String {
    format!("file://{}", std::fs::canonicalize(path).unwrap().display())
}

#[test]
fn the_pilot_report_in_chromium() {
    let Some(binary) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    let json = prodready(&["audit", "fixtures/pilot-service", "--format", "json"]);
    let json: Value = serde_json::from_slice(&json.stdout).unwrap();
    std::fs::write(&page, html_of(Path::new("fixtures/pilot-service"))).unwrap();

    let mut browser = Browser::start(&binary);
    // The request check can see a request: a page that loads an image is caught.
    let control = dir.path().join("control.html");
    std::fs::write(&control, "<img src=\"http://127.0.0.1:9/pixel.png\">").unwrap();
    browser.open(&file_url(&control));
    assert!(
        browser
            .requests()
            .iter()
            .any(|u| u.starts_with("http://127.0.0.1:9/"))
    );

    let url = file_url(&page);
    browser.open(&url);
    let requests = browser.requests();
    assert!(
        requests.iter().all(|u| *u == url),
        "the page asked for {requests:?}"
    );
    assert_eq!(browser.events_named("Runtime.exceptionThrown"), 0);
    // The page's Content-Security-Policy blocks a request that markup would make.
    browser.evaluate(
        "document.body.insertAdjacentHTML('beforeend', '<img src=\"http://127.0.0.1:9/p.png\">')",
    );
    while browser.blocked_requests().is_empty() {
        let event = browser.receive();
        browser.events.push(event);
    }
    let blocked: Vec<String> = browser.blocked_requests().into_values().collect();
    assert_eq!(blocked, ["csp"]);
    let requests = browser.requests();
    assert!(
        requests.iter().all(|u| *u == url),
        "the page asked for {requests:?}"
    );

    shows_the_score_level_and_failing_rules(&mut browser, &json);

    // The script ran (the filters show), and a filter by rule keeps exactly that rule's findings.
    assert_eq!(
        browser.evaluate("document.getElementById('filters').hidden"),
        false
    );
    let findings = json["findings"].as_array().unwrap();
    let of_rule = findings.iter().filter(|f| f["code"] == "RES001").count();
    assert!(of_rule > 0 && of_rule < findings.len());
    let counts = browser.evaluate(
        "(() => { const form = document.getElementById('filters');
            form.elements.rule.value = 'RES001';
            form.dispatchEvent(new Event('input'));
            const all = document.querySelectorAll('#finding-list > .finding');
            const shown = [...all].filter(el => !el.hidden);
            return [all.length, shown.length, document.getElementById('shown').textContent,
                    shown.every(el => el.dataset.rule === 'RES001')]; })()",
    );
    assert_eq!(
        counts,
        json!([findings.len(), of_rule, of_rule.to_string(), true])
    );
    unfolds_from_the_keyboard(&mut browser);
    // The filter is in the address, and a page opened at that address applies it.
    let filtered = browser.evaluate("location.href");
    assert!(
        filtered
            .as_str()
            .unwrap()
            .ends_with("#findings?rule=RES001"),
        "{filtered}"
    );
    // (Away first: a change of the fragment alone does not load the page again.)
    browser.open("about:blank");
    browser.open(filtered.as_str().unwrap());
    assert_eq!(
        browser.evaluate("document.getElementById('shown').textContent"),
        of_rule.to_string()
    );
}

/// The headline and the checklist as the browser renders them.
fn shows_the_score_level_and_failing_rules(browser: &mut Browser, json: &Value) {
    let score = format!("{:.1}", json["score"].as_f64().unwrap());
    assert_eq!(
        browser.evaluate("document.getElementById('score').textContent"),
        score
    );
    assert_eq!(
        browser.evaluate("document.getElementById('level').textContent"),
        json["level"]
    );
    let text = browser.evaluate("document.body.innerText");
    let text = text.as_str().unwrap();
    let failing = json["checklist"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["status"] == "fail");
    for item in failing {
        assert!(
            text.contains(item["code"].as_str().unwrap()),
            "{} not shown",
            item["code"]
        );
    }
}

/// A finding unfolds from the keyboard as by a click: its fix shows.
fn unfolds_from_the_keyboard(browser: &mut Browser) {
    let unfolded = browser.evaluate(
        "(() => { const head = document.querySelector('#finding-list .head');
            const body = head.nextElementSibling;
            const before = getComputedStyle(body).display;
            head.focus();
            head.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter', bubbles: true}));
            return [before, getComputedStyle(body).display]; })()",
    );
    assert_eq!(unfolded, json!(["none", "block"]));
}

#[test]
fn markup_does_not_run_in_chromium() {
    let Some(binary) = chromium() else { return };
    let project = hostile_project();
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    std::fs::write(&page, html_of(project.path())).unwrap();
    let mut browser = Browser::start(&binary);
    let url = file_url(&page);
    browser.open(&url);
    assert_eq!(browser.events_named("Page.javascriptDialogOpening"), 0);
    assert!(browser.requests().iter().all(|u| *u == url));
    assert_eq!(
        browser.evaluate("document.querySelectorAll('img').length"),
        0
    );
    assert_eq!(browser.evaluate("document.scripts.length"), 1);
    // (`textContent`: `innerText` leaves out what is folded or off screen.)
    let text = browser.evaluate("document.body.textContent");
    let text = text.as_str().unwrap();
    assert!(text.contains(SCRIPT_TAG), "the markup is not shown as text");
    assert!(text.contains(IMG_TAG), "the markup is not shown as text");
}
