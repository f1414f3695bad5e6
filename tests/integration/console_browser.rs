//! The web console in a real browser: a real `medic serve` queues real
//! kills for approval; headless Chromium, driven over the W3C WebDriver
//! protocol through Debian's `chromedriver`, logs in with a wrong key, a
//! viewer's key, an approver's and an admin's. In one session: a queue
//! item's permalink opened afresh (login, then the item with every field,
//! a kill's HTML shown as text); approve behind a confirmation (dismissed:
//! nothing; accepted: approved); the links item → decision → resurrection;
//! the resurrection's step history and a rollback from the page (and the
//! server's refusal of a second); deny with its reason; an item no backend
//! serves saying why; decisions filtered by module and paged; the audit
//! log with the approval, newest first and paged; a threshold change and
//! its revert; the health panel and each plugin's sha256 and quarantine
//! state; a plugin reload and a mode switch. Screenshots of each page are
//! kept in `target/test-artifacts/console-*.png`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::acting_support::{DemoService, Engine, free_port, wait_for, yaml, yaml_set};
use crate::pipeline_support::kill_json;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const INSTALL: &str = "apt-get install chromium chromium-driver";
const APPROVER_KEY: &str = "console-approver-key-0123456789";
const VIEWER_KEY: &str = "console-viewer-key-0123456789";
/// Evidence that would be an element if the page wrote it as HTML.
const INJECTED: &str = "<img id=\"injected\" src=\"x\">";
/// How WebDriver names an element reference in JSON.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Chromium and chromedriver, installed with apt when missing and this is
/// root; otherwise the test fails saying what to install.
fn ensure_browser() {
    let present = || Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists();
    if present() {
        return;
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    assert!(
        root,
        "{CHROMIUM} or {CHROMEDRIVER} is missing and this test is not root to install them: run `{INSTALL}`"
    );
    let apt = |args: &[&str]| {
        Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null())
            .output()
    };
    let install = || apt(&["install", "-y", "chromium", "chromium-driver"]);
    let mut out = install();
    if !out.as_ref().is_ok_and(|o| o.status.success()) {
        // The package lists may be missing or stale.
        let _ = apt(&["update"]);
        out = install();
    }
    let detail = match &out {
        Ok(o) => String::from_utf8_lossy(&o.stderr).into_owned(),
        Err(e) => e.to_string(),
    };
    assert!(
        present(),
        "{CHROMIUM} or {CHROMEDRIVER} is missing and apt-get could not install them: run `{INSTALL}`\n{detail}"
    );
}

/// Where test artifacts go: `test-artifacts/` in `CARGO_TARGET_DIR` if it
/// is set, else in the package's `target/`.
fn artifact_dir() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|t| if t.is_absolute() { t } else { manifest.join(t) })
        .unwrap_or_else(|| manifest.join("target"));
    let dir = target.join("test-artifacts");
    std::fs::create_dir_all(&dir).expect("create the test-artifacts directory");
    dir
}

/// Standard base64 (what WebDriver sends a screenshot as).
fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for v in text.bytes().filter_map(value) {
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

/// A chromedriver process and one headless Chromium session on it.
struct Browser {
    driver: Child,
    base: String,
    session: String,
    http: reqwest::Client,
    rt: tokio::runtime::Runtime,
    log: PathBuf,
    /// Holds the log and the browser profile.
    dir: tempfile::TempDir,
}

impl Browser {
    fn start() -> Browser {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("chromedriver.log");
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let mut browser = Browser {
            driver,
            base: format!("http://127.0.0.1:{port}"),
            session: String::new(),
            http: reqwest::Client::new(),
            rt,
            log,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while browser
            .raw(reqwest::Method::GET, "/status", None)
            .map(|v| v["ready"] == true)
            != Ok(true)
        {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not get ready; log:\n{}",
                browser.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let profile = browser.dir.path().join("profile");
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,1000",
                         "--disable-dev-shm-usage", format!("--user-data-dir={}", profile.display())],
            },
        }}});
        let created = browser
            .raw(reqwest::Method::POST, "/session", Some(caps))
            .unwrap_or_else(|e| panic!("no browser session: {e}; log:\n{}", browser.log_text()));
        browser.session = created["sessionId"]
            .as_str()
            .expect("a session id")
            .to_string();
        browser
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// One WebDriver call: its `value`, or the WebDriver error.
    fn raw(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        self.rt.block_on(async {
            let mut req = self.http.request(method, format!("{}{path}", self.base));
            if let Some(b) = body {
                req = req.json(&b);
            }
            let res = req.send().await.map_err(|e| e.to_string())?;
            let ok = res.status().is_success();
            let body: Value = res.json().await.map_err(|e| e.to_string())?;
            let value = body["value"].clone();
            if ok {
                Ok(value)
            } else {
                Err(format!("{}: {}", value["error"], value["message"]))
            }
        })
    }

    fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        self.raw(method, &format!("/session/{}{path}", self.session), body)
    }

    fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .unwrap_or_else(|e| panic!("opening {url}: {e}"));
    }

    fn find(&self, css: &str) -> Result<String, String> {
        let v = self.call(
            reqwest::Method::POST,
            "/element",
            Some(json!({"using": "css selector", "value": css})),
        )?;
        v[ELEMENT]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("no element reference for {css}: {v}"))
    }

    fn count(&self, css: &str) -> usize {
        self.call(
            reqwest::Method::POST,
            "/elements",
            Some(json!({"using": "css selector", "value": css})),
        )
        .ok()
        .and_then(|v| v.as_array().map(Vec::len))
        .unwrap_or(0)
    }

    /// Runs a script in the page; its return value.
    fn script(&self, js: &str, args: Value) -> Result<Value, String> {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": js, "args": args})),
        )
    }

    /// The text of the first element matching `css`, if there is one.
    fn text(&self, css: &str) -> Option<String> {
        self.script(
            "const e = document.querySelector(arguments[0]); return e ? e.textContent : null;",
            json!([css]),
        )
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
    }

    /// Whether the element is hidden (itself or by an ancestor).
    fn hidden(&self, css: &str) -> bool {
        self.script(
            "const e = document.querySelector(arguments[0]); return !e || e.closest('[hidden]') !== null;",
            json!([css]),
        )
        .ok()
        .and_then(|v| v.as_bool())
        .unwrap_or(true)
    }

    /// Does `act` with the element `css` names, found afresh when the page
    /// redrew it between finding and acting (its periodic refresh replaces
    /// the element: WebDriver calls the old one stale).
    fn with_element(
        &self,
        css: &str,
        act: impl Fn(&str) -> Result<(), String>,
    ) -> Result<(), String> {
        let mut tries = 0;
        loop {
            let done = self.find(css).and_then(|id| act(&id));
            match done {
                Err(e) if e.contains("stale element") && tries < 10 => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(100));
                }
                done => return done,
            }
        }
    }

    /// Replaces what is typed in an input.
    fn type_into(&self, css: &str, text: &str) -> Result<(), String> {
        self.with_element(css, |id| {
            self.call(
                reqwest::Method::POST,
                &format!("/element/{id}/clear"),
                Some(json!({})),
            )?;
            self.call(
                reqwest::Method::POST,
                &format!("/element/{id}/value"),
                Some(json!({"text": text})),
            )?;
            Ok(())
        })
    }

    fn click(&self, css: &str) -> Result<(), String> {
        self.with_element(css, |id| {
            self.call(
                reqwest::Method::POST,
                &format!("/element/{id}/click"),
                Some(json!({})),
            )
            .map(drop)
        })
    }

    /// Saves a screenshot of the whole page as `name` among the artifacts.
    fn save_page(&self, name: &str) -> PathBuf {
        let height = self
            .script("return document.documentElement.scrollHeight;", json!([]))
            .ok()
            .and_then(|v| v.as_u64())
            .unwrap_or(1000)
            .clamp(1000, 4000);
        // Tall enough for every section, then back to the usual size.
        let resize = |h: u64| {
            self.call(
                reqwest::Method::POST,
                "/window/rect",
                Some(json!({"width": 1280, "height": h})),
            )
        };
        resize(height + 120).expect("resize the window");
        let png = self.screenshot();
        resize(1000).expect("resize the window back");
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG screenshot");
        let path = artifact_dir().join(name);
        std::fs::write(&path, &png).expect("write the screenshot");
        eprintln!("console screenshot: {}", path.display());
        path
    }

    fn screenshot(&self) -> Vec<u8> {
        let v = self
            .call(reqwest::Method::GET, "/screenshot", None)
            .expect("a screenshot");
        base64_decode(v.as_str().expect("a base64 screenshot"))
    }

    /// Polls `check` until it gives a value; past the deadline, fails with
    /// the page's text and keeps a screenshot of it.
    fn wait<T>(&self, what: &str, secs: u64, mut check: impl FnMut(&Browser) -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(v) = check(self) {
                return v;
            }
            if Instant::now() >= deadline {
                let shot = artifact_dir().join("console-failure.png");
                let _ = std::fs::write(&shot, self.screenshot());
                panic!(
                    "timed out waiting for {what}; screenshot {}; page:\n{}",
                    shot.display(),
                    self.text("body").unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Logs in with `key` through the form.
    fn log_in(&self, key: &str) {
        self.wait("the login form", 30, |b| {
            (!b.hidden("#login-form")).then_some(())
        });
        self.type_into("#key", key).expect("type the key");
        self.click("#login-button").expect("press log in");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.raw(
                reqwest::Method::DELETE,
                &format!("/session/{}", self.session),
                None,
            );
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn key_entry(name: &str, role: &str, key: &str) -> Value {
    json!({"name": name, "role": role, "sha256": hex::encode(Sha256::digest(key))})
}

/// A page of the console by its hash (`#/decisions?module=x`): a change of
/// hash in the page already open, no reload.
fn page(engine: &Engine, hash: &str) -> String {
    format!("{}/console{hash}", engine.api)
}

impl Browser {
    /// The page's URL now.
    fn url(&self) -> String {
        self.call(reqwest::Method::GET, "/url", None)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }

    /// Waits for the confirmation dialog and returns its title.
    fn dialog(&self) -> String {
        self.wait("the confirmation dialog", 30, |b| {
            (!b.hidden("#confirm")).then(|| b.text("#confirm-title").unwrap_or_default())
        })
    }

    /// Types `text` in the dialog's field (if any) and confirms.
    fn confirm(&self, text: &str) {
        if !text.is_empty() {
            self.type_into("#confirm-input", text)
                .expect("type in the dialog");
        }
        self.click("#confirm-ok").expect("press confirm");
    }

    /// Waits for the flash message starting with `prefix`.
    fn flashed(&self, prefix: &str) -> String {
        self.wait(&format!("the message {prefix:?}"), 30, |b| {
            b.text("#flash")
                .filter(|t| t.starts_with(prefix) && !b.hidden("#flash"))
        })
    }

    /// The modules of the rows of the decisions page, once it shows rows.
    fn decision_modules(&self) -> Vec<String> {
        self.wait("the decisions page's rows", 30, |b| {
            let v = b
                .script(
                    "return [...document.querySelectorAll('#page-decisions tbody tr')].map(r => r.dataset.module);",
                    json!([]),
                )
                .ok()?;
            let modules: Vec<String> = v
                .as_array()?
                .iter()
                .filter_map(|m| m.as_str().map(str::to_string))
                .collect();
            (!modules.is_empty()).then_some(modules)
        })
    }
}

#[test]
fn the_console_in_a_browser_shows_the_queue_by_role_and_approves_a_kill() {
    ensure_browser();
    let dir = tempfile::tempdir().unwrap();
    let mut svc = DemoService::new(dir.path(), "payment-processor");
    let engine = Engine::start(vec![svc.backend()], |m, c| {
        yaml_set(
            m,
            "interfaces.web.api_keys",
            yaml(json!([
                key_entry("console-approver", "approver", APPROVER_KEY),
                key_entry("console-viewer", "viewer", VIEWER_KEY),
            ])),
        );
        // Monitored long enough that a person can roll it back from the page.
        yaml_set(
            m,
            "resurrection.monitoring_duration_minutes",
            yaml(json!(30)),
        );
        // A shadow beside the strategy in force, for the Shadow panel.
        yaml_set(
            c,
            "plugins.phase_3_semi_auto.shadow",
            yaml(json!({"risk_scorer": {"name": "weighted"}, "strategy": {"name": "balanced"}})),
        );
    });
    svc.start();
    svc.kill();
    // payment-processor and auth-service always need a human: all three
    // kills wait in the queue; no backend serves auth-service.
    // Kill fields come from outside: this one's evidence is HTML, which
    // the page must show as text.
    let mut first = kill_json("console-1", "payment-processor");
    first["evidence"] = json!([INJECTED]);
    engine.report_kill(&first);
    engine.report_kill(&kill_json("console-2", "payment-processor"));
    engine.report_kill(&kill_json("console-3", "auth-service"));
    let row_of = |kill_id: &str| {
        let item = engine.wait_queued(kill_id);
        let id = item["item_id"].as_str().expect("an item id").to_string();
        (format!("#queue tr[data-item-id=\"{id}\"]"), id)
    };
    let (row, approved_id) = row_of("console-1");
    let (denied_row, denied_id) = row_of("console-2");
    let (blocked_row, _) = row_of("console-3");

    let browser = Browser::start();
    // `/` sends the browser to the console.
    browser.goto(&format!("{}/", engine.api));
    assert_eq!(browser.url(), format!("{}/console", engine.api));

    // A wrong key: the API's own message, and nothing else shown.
    browser.log_in("not-a-key-0123456789");
    let shown = browser.wait("the wrong key's error", 30, |b| {
        b.text("#login-error").filter(|t| !t.is_empty())
    });
    assert_eq!(shown, "missing or unknown API key");
    assert!(browser.hidden("#app"));

    // A viewer sees the pending item with its reasons, and cannot decide it.
    browser.log_in(VIEWER_KEY);
    browser.wait("the viewer to be logged in", 30, |b| {
        b.text("#whoami").filter(|t| t == "console-viewer (viewer)")
    });
    let text = browser.wait("the pending item", 30, |b| b.text(&row));
    assert!(text.contains("payment-processor"), "{text}");
    assert!(text.contains("always requires approval"), "{text}");
    assert!(
        text.contains("SIEM risk"),
        "the SIEM context is shown: {text}"
    );
    browser.wait("the second pending item", 30, |b| b.text(&denied_row));
    assert_eq!(browser.count("#queue button.approve"), 0, "{text}");
    assert_eq!(browser.count("#queue button.deny"), 0);
    assert!(browser.hidden("#queue th.approver-only"));
    assert!(
        browser.hidden("#mode-form"),
        "switching modes is for admins"
    );
    assert!(browser.hidden("#reload-plugins"), "reloading is for admins");
    let mode = browser.wait("the mode", 30, |b| {
        b.text("#mode tbody td").filter(|t| !t.is_empty())
    });
    assert_eq!(mode, "semi_auto");
    // The other phases' bindings are shown beside the serving set.
    let planned = browser.wait("phase 5's bindings", 30, |b| {
        b.text("#plugins .active-plugins tr.bound:last-child")
            .filter(|t| t.contains("phase_5"))
    });
    assert!(planned.contains("pessimistic"), "{planned}");
    // The shadow's record, and who signed each plugin.
    let shadow = browser.wait("the shadow's record", 30, |b| {
        b.text("#shadow .shadow-summary")
            .filter(|t| t.contains("3 kills judged"))
    });
    assert!(
        shadow.contains("balanced@") && shadow.contains("shadows phase_3_semi_auto"),
        "{shadow}"
    );
    assert!(
        browser
            .text("#plugins .catalogue tbody")
            .is_some_and(|t| t.contains("built in")),
        "the signer column"
    );
    browser.save_page("console-viewer-queue.png");
    // The audit log is an admin's; a viewer's link says so.
    assert!(browser.count("#nav a.disabled[data-view=\"audit\"]") == 1);
    // A viewer's thresholds page has its Revert buttons off, saying why.
    browser.goto(&page(&engine, "#/thresholds"));
    browser.wait("the thresholds page", 30, |b| {
        b.text("#page-thresholds .role-note")
            .filter(|t| t == "Reverting needs an admin key.")
    });

    // A queue item's permalink, opened afresh: the login, then the item.
    browser.click("#logout").expect("log out");
    browser.goto("about:blank");
    let permalink = page(&engine, &format!("#/queue/{approved_id}"));
    browser.goto(&permalink);
    browser.log_in(APPROVER_KEY);
    let detail = browser.wait("the queue item's page", 30, |b| {
        b.text("#page-queue-detail .page-body")
            .filter(|t| t.contains("Risk factors"))
    });
    for shown in [
        "payment-processor",
        "console-1",
        "always requires approval",
        "SIEM risk",
        "Reasoning",
        "Recommendation",
        "Guardrails",
        "Outcome",
        "Killed",
    ] {
        assert!(detail.contains(shown), "{shown:?} in {detail}");
    }
    assert_eq!(browser.url(), permalink);
    assert!(detail.contains(INJECTED), "the evidence as text: {detail}");
    assert_eq!(browser.count("#injected"), 0, "no element made from a kill");
    browser.save_page("console-queue-item.png");

    // Approve asks first: dismissed, nothing happens.
    let approve = "#page-queue-detail button.approve";
    browser.click(approve).expect("press approve");
    assert_eq!(browser.dialog(), "Approve payment-processor?");
    browser.save_page("console-confirm-approve.png");
    browser.click("#confirm-cancel").expect("press cancel");
    browser.wait("the dialog to close", 10, |b| {
        b.hidden("#confirm").then_some(())
    });
    assert_eq!(engine.wait_queued("console-1")["status"], "pending");
    // Accepted, with a note: approved.
    browser.click(approve).expect("press approve");
    browser.dialog();
    browser.confirm("checked in the console");
    browser.flashed("Approved payment-processor");
    let request_link = "#page-queue-detail a.resurrection-link";
    browser.wait("the item's resurrection link", 30, |b| {
        b.find(request_link).ok()
    });

    // The item links to its decision, which links back and on.
    browser
        .click("#page-queue-detail a.decision-link")
        .expect("follow the decision link");
    let decision = browser.wait("the decision's page", 30, |b| {
        b.text("#page-decisions-detail .page-body")
            .filter(|t| t.contains("Where it led") && t.contains("console-1"))
    });
    assert!(decision.contains("pending_review"), "{decision}");
    assert!(
        browser.find("#page-decisions-detail a.item-link").is_ok(),
        "{decision}"
    );
    browser.save_page("console-decision.png");
    browser
        .click("#page-decisions-detail a.resurrection-link")
        .expect("follow the resurrection link");

    // The resurrection: its steps, and a rollback that asks for a reason.
    let request = &engine.requests_for("console-1")[0];
    let request_id = request["request_id"].as_str().expect("a request id");
    assert_eq!(request["approved_by"], "console-approver");
    assert_eq!(request["notes"], "checked in the console");
    browser.wait("the resurrection to be monitored", 90, |b| {
        b.text("#page-resurrections-detail .summary")
            .filter(|t| t.contains("monitoring"))
    });
    assert!(
        browser
            .url()
            .ends_with(&format!("#/resurrections/{request_id}")),
        "{}",
        browser.url()
    );
    assert!(browser.count("#page-resurrections-detail tr.step") >= 2);
    wait_for("the approved service to be back", 30, || svc.healthy());
    browser
        .click("#page-resurrections-detail button.rollback")
        .expect("press roll back");
    assert_eq!(browser.dialog(), "Roll back payment-processor?");
    browser
        .click("#confirm-ok")
        .expect("confirm with no reason");
    let problem = browser.wait("the missing reason to be named", 10, |b| {
        b.text("#confirm-error").filter(|t| !t.is_empty())
    });
    assert_eq!(problem, "A rollback needs a reason.");
    browser.confirm("drill: roll it back");
    browser.flashed("Rollback of payment-processor requested.");
    let steps = browser.wait("the rollback to show", 90, |b| {
        b.text("#page-resurrections-detail .summary")
            .filter(|t| t.contains("rolled_back"))
            .and_then(|_| b.text("#page-resurrections-detail .page-body"))
    });
    assert!(steps.contains("drill: roll it back"), "{steps}");
    assert!(steps.contains("rolling_back"), "the step history: {steps}");
    browser.save_page("console-resurrection.png");
    // Again, once its workflow has ended: Medic refuses, and the dialog
    // shows its words.
    wait_for("the workflow to end", 30, || {
        engine.get("/api/v1/status").1["data"]["resurrections_in_progress"]
            .as_array()
            .is_some_and(Vec::is_empty)
    });
    browser
        .click("#page-resurrections-detail button.rollback")
        .expect("press roll back");
    browser.dialog();
    browser.confirm("once more");
    let refusal = browser.wait("the refusal", 30, |b| {
        b.text("#confirm-error").filter(|t| !t.is_empty())
    });
    let (status, body) = engine.post(
        &format!("/api/v1/resurrections/{request_id}/rollback"),
        json!({"reason": "once more"}),
    );
    assert_eq!(status, 409, "{body}");
    assert_eq!(
        refusal,
        body["errors"][0]["message"].as_str().unwrap_or_default()
    );
    browser.click("#confirm-cancel").expect("press cancel");

    // Deny asks for its reason in the dialog, from the overview.
    browser.goto(&page(&engine, "#/"));
    browser.wait("the items left", 30, |b| {
        (b.count(&denied_row) == 1 && b.count(&row) == 0).then_some(())
    });
    // The item no backend serves says so, and its Approve is off.
    let blocked = browser.wait("the blocked item", 30, |b| b.text(&blocked_row));
    assert!(
        blocked
            .contains("Cannot be approved: no entry of resurrection.backends serves auth-service"),
        "{blocked}"
    );
    assert!(
        browser
            .script(
                "return document.querySelector(arguments[0]).disabled;",
                json!([format!("{blocked_row} button.approve")]),
            )
            .is_ok_and(|v| v == true)
    );
    browser.save_page("console-approver-queue.png");
    browser
        .click(&format!("{denied_row} button.deny"))
        .expect("press deny");
    assert_eq!(browser.dialog(), "Deny payment-processor?");
    browser
        .click("#confirm-ok")
        .expect("confirm with no reason");
    let problem = browser.wait("the missing reason to be named", 10, |b| {
        b.text("#confirm-error").filter(|t| !t.is_empty())
    });
    assert_eq!(problem, "A denial needs a reason.");
    assert_eq!(engine.wait_queued("console-2")["status"], "pending");
    browser.confirm("confirmed compromise");
    browser.flashed("Denied payment-processor");
    browser.wait("the denied item to leave the queue", 30, |b| {
        (b.count(&denied_row) == 0).then_some(())
    });
    let (_, shown) = engine.get(&format!("/api/v1/queue/{denied_id}"));
    assert_eq!(shown["data"]["status"], "denied", "{shown}");
    assert_eq!(shown["data"]["note"], "confirmed compromise");
    assert_eq!(shown["data"]["decided_by"], "console-approver");
    // The queue's page lists decided items too, filtered by status.
    browser.goto(&page(&engine, "#/queue?status=all"));
    let statuses = browser.wait("every item", 30, |b| {
        let v = b
            .script(
                "return [...document.querySelectorAll('#page-queue tbody tr')].map(r => r.dataset.killId + ' ' + r.cells[1].textContent);",
                json!([]),
            )
            .ok()?;
        let mut rows: Vec<String> = serde_json::from_value(v).ok()?;
        rows.sort();
        (rows.len() == 3).then_some(rows)
    });
    assert_eq!(
        statuses,
        [
            "console-1 approved",
            "console-2 denied",
            "console-3 pending"
        ]
    );
    browser.save_page("console-queue.png");
    browser.goto(&page(&engine, "#/queue?status=denied"));
    browser.wait("the denied item alone", 30, |b| {
        (b.count("#page-queue tbody tr") == 1
            && b.count("#page-queue tbody tr[data-kill-id=\"console-2\"]") == 1)
            .then_some(())
    });
    // The resurrections' page, filtered by status.
    browser.goto(&page(&engine, "#/resurrections?status=rolled_back"));
    let listed = browser.wait("the rolled back resurrection", 30, |b| {
        b.text("#page-resurrections tbody tr[data-kill-id=\"console-1\"]")
    });
    assert!(listed.contains("console-approver"), "{listed}");
    browser.goto(&page(&engine, "#/resurrections?status=completed"));
    browser.wait("no completed resurrection", 30, |b| {
        b.text("#page-resurrections .empty")
            .filter(|t| t == "No resurrection matches.")
    });

    // The overview shows the resurrection, the decision and the chart.
    let resurrection = "#resurrections tr[data-kill-id=\"console-1\"]";
    let text = browser.wait("the resurrection in the overview", 30, |b| {
        b.text(resurrection).filter(|t| t.contains("rolled_back"))
    });
    assert!(text.contains("console-approver"), "{text}");
    browser.wait("the decision in the list", 30, |b| {
        b.text("#decisions tr[data-kill-id=\"console-1\"]")
            .filter(|t| t.contains("pending_review"))
    });
    browser.wait("the chart", 30, |b| {
        (b.count("#chart svg.chart rect") >= 1 && b.count("#chart svg.chart circle") >= 1)
            .then_some(())
    });

    // Decisions: filtered by module through the form, the filter in the URL.
    browser.goto(&page(&engine, "#/decisions"));
    let all = browser.decision_modules();
    assert_eq!(all.len(), 3, "{all:?}");
    browser
        .type_into("#filter-decisions-module", "auth-service")
        .expect("type the module");
    browser
        .click("#page-decisions form.filters button[type=\"submit\"]")
        .expect("apply the filter");
    browser.wait("the filter in the URL", 30, |b| {
        b.url()
            .contains("#/decisions?module=auth-service")
            .then_some(())
    });
    let filtered = browser.wait("only auth-service", 30, |b| {
        let m = b.decision_modules();
        (m.len() == 1).then_some(m)
    });
    assert_eq!(filtered, ["auth-service"]);
    // Paged two at a time: the next page holds the rest, newest first.
    // Newest means the decision's time: the three kills are judged on
    // plugin threads in parallel, so the order is the one the API reports.
    let (status, listed) = engine.get("/api/v1/decisions/records?limit=3");
    assert_eq!(status, 200, "{listed}");
    let newest_first: Vec<String> = listed["data"]["records"]
        .as_array()
        .expect("a list of decisions")
        .iter()
        .map(|d| {
            d["kill"]["target_module"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    assert_eq!(newest_first.len(), 3, "{listed}");
    browser.goto(&page(&engine, "#/decisions?limit=2"));
    let first = browser.wait("a first page of two", 30, |b| {
        let m = b.decision_modules();
        (m.len() == 2).then_some(m)
    });
    assert_eq!(first, newest_first[..2]);
    browser.click("#page-decisions a.next").expect("press next");
    let second = browser.wait("the second page", 30, |b| {
        let m = b.decision_modules();
        (m.len() == 1).then_some(m)
    });
    assert_eq!(second, newest_first[2..]);
    assert!(browser.url().contains("cursor="), "{}", browser.url());
    assert!(
        browser.find("#page-decisions a.next").is_err(),
        "the last page"
    );
    browser.save_page("console-decisions.png");

    // An admin: the audit log shows the approval.
    browser.click("#logout").expect("log out");
    browser.log_in(&engine.key);
    browser.wait("the admin to be logged in", 30, |b| {
        b.text("#whoami")
            .filter(|t| t == "env:MEDIC_API_KEY (admin)")
    });
    browser.goto(&page(&engine, "#/audit?kind=human_approval&limit=1000"));
    let approval = browser.wait("the approval in the audit log", 30, |b| {
        b.text("#page-audit tbody tr[data-kind=\"human_approval\"]")
    });
    assert!(
        approval.contains("console-approver") && approval.contains("console-1"),
        "{approval}"
    );
    assert_eq!(browser.count("#page-audit tbody tr"), 1);
    browser.save_page("console-audit.png");
    // Newest first by default, three a page: the next page holds older ones.
    let seqs = |b: &Browser| -> Option<Vec<u64>> {
        let v = b
            .script(
                "return [...document.querySelectorAll('#page-audit tbody tr')].map(r => Number(r.dataset.seq));",
                json!([]),
            )
            .ok()?;
        let seqs: Vec<u64> = v.as_array()?.iter().filter_map(Value::as_u64).collect();
        (!seqs.is_empty()).then_some(seqs)
    };
    browser.goto(&page(&engine, "#/audit?limit=3"));
    let newest = browser.wait("the newest audit page", 30, |b| {
        seqs(b).filter(|s| s.len() == 3)
    });
    assert!(newest.windows(2).all(|w| w[0] > w[1]), "{newest:?}");
    browser.click("#page-audit a.next").expect("press next");
    let older = browser.wait("the next audit page", 30, |b| {
        seqs(b).filter(|s| s.first() < newest.last())
    });
    assert!(older.windows(2).all(|w| w[0] > w[1]), "{older:?}");
    assert!(
        browser.url().contains(&format!("before={}", newest[2])),
        "{}",
        browser.url()
    );

    // Thresholds: a change shows in the history, and Revert undoes it.
    let before = engine.get("/api/v1/config/thresholds").1["data"]["current"]["risk.low"]
        .as_f64()
        .expect("risk.low");
    let changed = if (before - 0.35).abs() < 1e-9 {
        0.3
    } else {
        0.35
    };
    let (ok, _, err) = engine.cli(&[
        "thresholds",
        "set",
        &format!("risk.low={changed}"),
        "--reason",
        "console drill",
    ]);
    assert!(ok, "{err}");
    let history = engine.get("/api/v1/config/thresholds").1["data"]["history"].clone();
    let change = history
        .as_array()
        .and_then(|h| h.iter().map(|c| c["id"].as_u64().unwrap_or(0)).max())
        .expect("a change");
    browser.goto(&page(&engine, "#/thresholds"));
    let shown = format!("#page-thresholds tr[data-change-id=\"{change}\"]");
    let row_text = browser.wait("the change in the history", 30, |b| b.text(&shown));
    assert!(
        row_text.contains("console drill") && row_text.contains("risk.low"),
        "{row_text}"
    );
    browser.save_page("console-thresholds.png");
    browser
        .click(&format!("{shown} button.revert"))
        .expect("press revert");
    assert_eq!(browser.dialog(), format!("Revert change #{change}?"));
    browser.confirm("");
    browser.flashed(&format!("Change #{change} reverted by change #"));
    let now = engine.get("/api/v1/config/thresholds").1["data"]["current"]["risk.low"]
        .as_f64()
        .expect("risk.low");
    assert!(
        (now - before).abs() < 1e-9,
        "{now} after the revert, {before} before the change"
    );
    browser.wait("the restored value", 30, |b| {
        b.text("#page-thresholds tr[data-threshold=\"risk.low\"] td.value")
            .filter(|t| t.parse::<f64>().is_ok_and(|v| (v - before).abs() < 5e-4))
    });

    // The health panel: every dependency with its state, and each plugin's
    // sha256 and quarantine state.
    browser.goto(&page(&engine, "#/health"));
    let (_, health) = engine.get("/health");
    for (check, label) in [
        ("database", "Store"),
        ("event_bus", "Event bus"),
        ("siem_connection", "SIEM"),
        ("plugins", "Plugins serving"),
        ("queue", "Approval queue"),
        ("smith_veto", "Veto channel"),
        ("responses", "Responses"),
    ] {
        let text = browser.wait(&format!("the {check} check"), 30, |b| {
            b.text(&format!("#page-health tr[data-check=\"{check}\"]"))
        });
        let state = health["checks"][check].as_str().unwrap_or_default();
        assert!(
            text.starts_with(label) && text.contains(state),
            "{check}: {text} ({health})"
        );
    }
    let (_, plugins) = engine.get("/api/v1/plugins");
    let strategy = plugins["data"]["plugins"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == "balanced"))
        .expect("the balanced strategy")
        .clone();
    let row_text = browser.wait("the plugin's row", 30, |b| {
        b.text("#page-health tr[data-plugin=\"balanced\"]")
    });
    assert!(
        row_text.contains(strategy["sha256"].as_str().expect("a sha256"))
            && row_text.contains("no (0 failures in a row)"),
        "{row_text}"
    );
    browser.save_page("console-health.png");

    // An admin also reloads plugins and switches the mode from the overview.
    browser.goto(&page(&engine, "#/"));
    assert!(!browser.hidden("#mode-form"));
    assert!(!browser.hidden("#reload-plugins"));
    browser.click("#reload-plugins").expect("press reload");
    // Both ask first.
    assert_eq!(browser.dialog(), "Reload the plugins?");
    browser.confirm("");
    browser.flashed("Plugins reloaded");
    browser
        .click("#mode-select option[value=\"manual\"]")
        .expect("choose manual");
    browser
        .type_into("#mode-reason", "incident drill")
        .expect("type the reason");
    browser
        .click("#mode-form button[type=\"submit\"]")
        .expect("press switch");
    assert_eq!(browser.dialog(), "Switch to manual?");
    browser.confirm("");
    browser.wait("the mode switch to be confirmed", 30, |b| {
        b.text("#flash")
            .filter(|t| t == "Mode switched: semi_auto → manual.")
    });
    browser.wait("the new mode to show", 30, |b| {
        b.text("#mode tbody td").filter(|t| t == "manual")
    });
    assert_eq!(engine.get("/api/v1/mode").1["data"]["current"], "manual");

    browser.save_page("console.png");
}
