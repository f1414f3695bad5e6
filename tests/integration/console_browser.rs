//! The web console in a real browser: a real `medic serve` queues a real
//! kill for approval; headless Chromium, driven over the W3C WebDriver
//! protocol through Debian's `chromedriver`, logs in with a wrong key, a
//! viewer's key and an approver's, and approves the kill from the page; the
//! service comes back and the resurrection shows in the console. A
//! screenshot is kept in `target/test-artifacts/console.png`.

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

    /// Replaces what is typed in an input.
    fn type_into(&self, css: &str, text: &str) -> Result<(), String> {
        let id = self.find(css)?;
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
    }

    fn click(&self, css: &str) -> Result<(), String> {
        let id = self.find(css)?;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/click"),
            Some(json!({})),
        )?;
        Ok(())
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
        // A shadow beside the strategy in force, for the Shadow panel.
        yaml_set(
            c,
            "plugins.phase_3_semi_auto.shadow",
            yaml(json!({"risk_scorer": {"name": "weighted"}, "strategy": {"name": "balanced"}})),
        );
    });
    svc.start();
    svc.kill();
    // payment-processor always needs a human: both kills wait in the queue.
    engine.report_kill(&kill_json("console-1", "payment-processor"));
    engine.report_kill(&kill_json("console-2", "payment-processor"));
    let row_of = |kill_id: &str| {
        let item = engine.wait_queued(kill_id);
        let id = item["item_id"].as_str().expect("an item id").to_string();
        (format!("#queue tr[data-item-id=\"{id}\"]"), id)
    };
    let (row, _) = row_of("console-1");
    let (denied_row, denied_id) = row_of("console-2");

    let browser = Browser::start();
    // `/` sends the browser to the console.
    browser.goto(&format!("{}/", engine.api));
    let url = browser
        .call(reqwest::Method::GET, "/url", None)
        .expect("the current url");
    assert_eq!(url, format!("{}/console", engine.api));

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
            .filter(|t| t.contains("2 kills judged"))
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

    // An approver approves it with a note.
    browser.click("#logout").expect("log out");
    browser.log_in(APPROVER_KEY);
    browser.wait("the approver to be logged in", 30, |b| {
        b.text("#whoami")
            .filter(|t| t == "console-approver (approver)")
    });
    assert!(browser.hidden("#mode-form"), "approvers are not admins");
    let approve = format!("{row} button.approve");
    browser.wait("the approve button", 30, |b| b.find(&approve).ok());
    browser.save_page("console-approver-queue.png");

    // A denial needs a reason: the page says so and sends nothing.
    browser
        .click(&format!("{denied_row} button.deny"))
        .expect("press deny");
    let problem = browser.wait("the missing reason to be named", 10, |b| {
        b.text(&format!("{denied_row} .error"))
            .filter(|t| !t.is_empty())
    });
    assert_eq!(problem, "A denial needs a reason.");
    assert_eq!(engine.wait_queued("console-2")["status"], "pending");
    browser
        .type_into(
            &format!("{denied_row} input.reason"),
            "confirmed compromise",
        )
        .expect("type the reason");
    browser
        .click(&format!("{denied_row} button.deny"))
        .expect("press deny");
    browser.wait("the denial to be confirmed", 30, |b| {
        b.text("#flash")
            .filter(|t| t.starts_with("Denied payment-processor"))
    });
    browser.wait("the denied item to leave the queue", 30, |b| {
        (b.count(&denied_row) == 0).then_some(())
    });
    let (_, shown) = engine.get(&format!("/api/v1/queue/{denied_id}"));
    assert_eq!(shown["data"]["status"], "denied", "{shown}");
    assert_eq!(shown["data"]["note"], "confirmed compromise");
    assert_eq!(shown["data"]["decided_by"], "console-approver");

    // The other is approved with a note.
    browser
        .type_into(&format!("{row} input.notes"), "checked in the console")
        .expect("type the notes");
    browser.click(&approve).expect("press approve");
    browser.wait("the approval to be confirmed", 30, |b| {
        b.text("#flash")
            .filter(|t| t.starts_with("Approved payment-processor"))
    });
    browser.wait("the item to leave the queue", 30, |b| {
        (b.count(&row) == 0).then_some(())
    });

    // The resurrection shows, and runs to its end.
    let resurrection = "#resurrections tr[data-kill-id=\"console-1\"]";
    let text = browser.wait("the resurrection to complete in the console", 90, |b| {
        b.text(resurrection).filter(|t| t.contains("completed"))
    });
    assert!(text.contains("console-approver"), "{text}");
    assert!(text.contains("checked in the console"), "{text}");
    wait_for("the approved service to be back", 30, || svc.healthy());
    let r = &engine.requests_for("console-1")[0];
    assert_eq!(r["approved_by"], "console-approver");
    assert_eq!(r["notes"], "checked in the console");
    // The decision is in the recent decisions and counted in the chart.
    browser.wait("the decision in the list", 30, |b| {
        b.text("#decisions tr[data-kill-id=\"console-1\"]")
            .filter(|t| t.contains("pending_review"))
    });
    browser.wait("the chart", 30, |b| {
        (b.count("#chart svg.chart rect") >= 1 && b.count("#chart svg.chart circle") >= 1)
            .then_some(())
    });

    // An admin also reloads plugins and switches the mode from the page.
    browser.click("#logout").expect("log out");
    browser.log_in(&engine.key);
    browser.wait("the admin to be logged in", 30, |b| {
        b.text("#whoami")
            .filter(|t| t == "env:MEDIC_API_KEY (admin)")
    });
    assert!(!browser.hidden("#mode-form"));
    assert!(!browser.hidden("#reload-plugins"));
    browser.click("#reload-plugins").expect("press reload");
    browser.wait("the reload to be confirmed", 30, |b| {
        b.text("#flash")
            .filter(|t| t.starts_with("Plugins reloaded"))
    });
    browser
        .click("#mode-select option[value=\"manual\"]")
        .expect("choose manual");
    browser
        .type_into("#mode-reason", "incident drill")
        .expect("type the reason");
    browser
        .click("#mode-form button[type=\"submit\"]")
        .expect("press switch");
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
