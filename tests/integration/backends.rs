//! Resurrection backends against real processes and a real HTTP server:
//! the command backend with hostile module names (nothing may execute), the
//! process backend's lifecycle, the webhook's requests, and config checks.

use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use medic::config::raw::{BackendSection, BackendType};
use medic::execute::backend::Backend;
use medic::execute::command::CommandBackend;
use medic::execute::process::ProcessBackend;
use medic::execute::webhook::WebhookBackend;
use medic::execute::{BackendError, Target};
use serde_json::{Value, json};

fn target(module: &str) -> Target {
    Target {
        module: module.into(),
        instance: format!("{module}-1"),
        kill_id: "k-1".into(),
        request_id: "r-1".into(),
    }
}

const HOSTILE: &[&str] = &[
    "x; touch PWNED",
    "$(touch PWNED)",
    "`touch PWNED`",
    "x\ntouch PWNED",
    "x' ; touch 'PWNED",
    "x\" ; touch \"PWNED",
    "../../PWNED",
    "../PWNED",
    "/tmp/PWNED",
    "-rf",
    "--output=PWNED",
    "x && touch PWNED",
    "x | touch PWNED",
    ".PWNED",
    "x\u{0}y",
    "",
];

#[tokio::test]
async fn hostile_module_names_execute_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let marker = |name: &str| dir.path().join(format!("restarted-{name}"));
    let section = BackendSection {
        modules: vec!["*".into()],
        kind: BackendType::Command,
        restart: vec![
            "touch".into(),
            format!("{}/restarted-{{module}}", dir.path().display()),
        ],
        rollback: vec![
            "touch".into(),
            format!("{}/rolledback-{{instance}}", dir.path().display()),
        ],
        status: vec![
            "test".into(),
            "-e".into(),
            format!("{}/restarted-{{module}}", dir.path().display()),
        ],
        ..BackendSection::default()
    };
    let b = CommandBackend::new(section);
    for name in HOSTILE {
        let t = target(name);
        for result in [b.restart(&t).await, b.rollback(&t).await] {
            match result {
                Err(BackendError::Unsafe(e)) => assert_eq!(e.field, "target_module"),
                other => panic!("{name:?} was not refused: {other:?}"),
            }
        }
        assert!(matches!(b.status(&t).await, Err(BackendError::Unsafe(_))));
    }
    // The working directory, the test's directory and /tmp hold no trace.
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
    assert!(!std::path::Path::new("PWNED").exists());
    assert!(!std::path::Path::new("/tmp/PWNED").exists());

    // A hostile instance id is refused just the same.
    let mut t = target("web-1");
    t.instance = "i-1; touch PWNED".into();
    assert!(
        matches!(b.rollback(&t).await, Err(BackendError::Unsafe(e)) if e.field == "target_instance_id")
    );

    // A safe name runs, as exactly one argument.
    let t = target("web-1.prod");
    b.restart(&t).await.unwrap();
    assert!(marker("web-1.prod").exists());
    assert!(b.status(&t).await.unwrap());
    assert!(!b.status(&target("other")).await.unwrap());
}

#[tokio::test]
async fn command_failures_and_timeouts_are_reported() {
    let section = |restart: Vec<&str>, timeout: f64| BackendSection {
        modules: vec!["*".into()],
        kind: BackendType::Command,
        restart: restart.into_iter().map(String::from).collect(),
        timeout: std::time::Duration::from_secs_f64(timeout),
        ..BackendSection::default()
    };
    let fails = CommandBackend::new(section(
        vec!["sh", "-c", "echo no such unit >&2; exit 5"],
        5.0,
    ));
    let e = fails.restart(&target("svc")).await.unwrap_err();
    assert!(
        e.to_string().contains("no such unit") && e.to_string().contains('5'),
        "{e}"
    );
    let slow = CommandBackend::new(section(vec!["sleep", "5"], 0.2));
    let started = std::time::Instant::now();
    let e = slow.restart(&target("svc")).await.unwrap_err();
    assert!(matches!(e, BackendError::Timeout { .. }), "{e}");
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    let missing = CommandBackend::new(section(vec!["/nonexistent/restart-tool"], 5.0));
    assert!(matches!(
        missing.restart(&target("svc")).await,
        Err(BackendError::Spawn { .. })
    ));
    // No rollback configured: said so, not pretended.
    assert!(matches!(
        fails.rollback(&target("svc")).await,
        Err(BackendError::Unsupported(_))
    ));
}

#[tokio::test]
async fn the_process_backend_starts_watches_and_stops_a_real_process() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("env.txt");
    let b = ProcessBackend::new(BackendSection {
        modules: vec!["*".into()],
        kind: BackendType::Process,
        command: "sh".into(),
        args: vec![
            "-c".into(),
            "echo \"$MEDIC_MODULE $GREETING $1\" > \"$OUT\"; exec sleep 30".into(),
            "argv0".into(),
            "{instance}".into(),
        ],
        env: [
            ("GREETING".to_string(), "hello".to_string()),
            ("OUT".to_string(), out.display().to_string()),
        ]
        .into(),
        working_dir: Some(dir.path().to_path_buf()),
        ..BackendSection::default()
    });
    let t = target("sleeper");
    assert!(!b.status(&t).await.unwrap(), "nothing started yet");
    b.restart(&t).await.unwrap();
    assert!(b.status(&t).await.unwrap());
    for _ in 0..100 {
        if out.exists() && !std::fs::read_to_string(&out).unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        std::fs::read_to_string(&out).unwrap().trim(),
        "sleeper hello sleeper-1"
    );
    b.rollback(&t).await.unwrap();
    assert!(!b.status(&t).await.unwrap(), "rolled back means stopped");
    let e = b.rollback(&t).await.unwrap_err();
    assert!(matches!(e, BackendError::Unsupported(_)), "{e}");
    assert!(matches!(
        b.restart(&target("x;y")).await,
        Err(BackendError::Unsafe(_))
    ));
}

type Seen = Arc<Mutex<Vec<(Option<String>, Value)>>>;

async fn orchestrator(
    State((seen, status)): State<(Seen, StatusCode)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    seen.lock().unwrap().push((auth, body.clone()));
    let reply = if body["action"] == "status" {
        json!({"running": false})
    } else {
        json!({"accepted": true})
    };
    (status, Json(reply))
}

async fn serve(status: StatusCode) -> (String, Seen) {
    let seen: Seen = Arc::default();
    let app = axum::Router::new()
        .route("/hooks/{module}", axum::routing::post(orchestrator))
        .with_state((seen.clone(), status));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hooks/{{module}}"), seen)
}

fn webhook(url: &str) -> BackendSection {
    let mut s = BackendSection {
        modules: vec!["*".into()],
        kind: BackendType::Webhook,
        url: url.into(),
        timeout: std::time::Duration::from_secs_f64(2.0),
        ..BackendSection::default()
    };
    s.auth.kind = medic::config::raw::WebhookAuthType::Bearer;
    s.auth.token_env = "ORCH_TOKEN".into();
    s
}

#[tokio::test]
async fn the_webhook_posts_each_action_with_its_token() {
    let (url, seen) = serve(StatusCode::OK).await;
    let env = |k: &str| (k == "ORCH_TOKEN").then(|| "s3cret".to_string());
    let b = WebhookBackend::new(&webhook(&url), &env).unwrap();
    let t = target("billing");
    b.restart(&t).await.unwrap();
    b.rollback(&t).await.unwrap();
    assert!(
        !b.status(&t).await.unwrap(),
        "the orchestrator says it is not running"
    );
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3);
    for ((auth, body), action) in seen.iter().zip(["restart", "rollback", "status"]) {
        assert_eq!(auth.as_deref(), Some("Bearer s3cret"));
        assert_eq!(body["action"], action);
        assert_eq!(body["module"], "billing");
        assert_eq!(body["instance_id"], "billing-1");
        assert_eq!(body["request_id"], "r-1");
    }
    // Hostile names never reach the URL or the body.
    assert!(matches!(
        b.restart(&target("../admin")).await,
        Err(BackendError::Unsafe(_))
    ));

    // The secret must be there.
    let e = WebhookBackend::new(&webhook(&url), &|_| None)
        .err()
        .unwrap();
    assert!(e.to_string().contains("ORCH_TOKEN"), "{e}");
}

#[tokio::test]
async fn webhook_errors_say_what_happened() {
    let (url, _) = serve(StatusCode::SERVICE_UNAVAILABLE).await;
    let env = |_: &str| Some("t".to_string());
    let b = WebhookBackend::new(&webhook(&url), &env).unwrap();
    let e = b.restart(&target("billing")).await.unwrap_err();
    assert!(matches!(e, BackendError::Http { status: 503, .. }), "{e}");
    let down = WebhookBackend::new(&webhook("http://127.0.0.1:9/hooks/{module}"), &env).unwrap();
    let e = down.restart(&target("billing")).await.unwrap_err();
    assert!(matches!(e, BackendError::Unreachable { .. }), "{e}");
}

/// The embedded medic.yaml with `path` set to `value`, checked.
fn check_with(path: &str, value: Value) -> String {
    let mut doc: serde_yaml::Value = serde_yaml::from_str(medic::config::EMBEDDED_MEDIC).unwrap();
    crate::acting_support::yaml_set(&mut doc, path, crate::acting_support::yaml(value));
    let text = serde_yaml::to_string(&doc).unwrap();
    match medic::config::Config::from_texts(
        ("medic.yaml", &text),
        ("constitution.yaml", medic::config::EMBEDDED_CONSTITUTION),
        &|_| None,
    ) {
        Ok(_) => String::new(),
        Err(e) => e.to_string(),
    }
}

#[test]
fn backend_configuration_is_checked_with_every_problem_named() {
    let err = check_with(
        "resurrection.backends",
        json!([
            {"modules": ["web-*"], "type": "command",
             "restart": ["sh", "-c", "systemctl restart {module}"],
             "status": ["systemctl", "is-active", "{service}"]},
            {"modules": [], "type": "process"},
            {"modules": ["a b"], "type": "webhook", "url": "ftp://x", "auth": {"type": "bearer"},
             "health_check": {"type": "tcp", "address": "nohost"}},
            {"modules": ["api"], "type": "process", "command": "/usr/bin/api", "restart": ["x"],
             "health_check": {"type": "http", "url": "http://127.0.0.1:1/{oops}", "expect_status": 42}},
            {"modules": ["b"], "type": "webhook", "url": "http://[::1/{module}", "auth": {"type": "none"}}
        ]),
    );
    for expected in [
        "resurrection.backends[0].restart: placeholders may not be passed to a shell",
        "resurrection.backends[0].status[2]: unknown placeholder",
        "resurrection.backends[1].modules: must list the modules",
        "resurrection.backends[1].command: must not be empty",
        "resurrection.backends[2].modules[0]: \"a b\" is not a module name or pattern",
        "resurrection.backends[2].url: \"ftp://x\" must be an http:// or https:// URL",
        "resurrection.backends[2].auth.token_env",
        "resurrection.backends[2].health_check.address: \"nohost\" must be host:port",
        "resurrection.backends[3].restart: only applies to type command",
        "resurrection.backends[3].health_check.url: unknown placeholder",
        "resurrection.backends[3].health_check.expect_status",
        "resurrection.backends[4].url: \"http://[::1/{module}\" is not a URL: invalid IPv6 address",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
    let err = check_with(
        "resurrection.backends",
        json!([{"modules": ["x"], "type": "teleport"}]),
    );
    assert!(
        err.contains("resurrection.backends[0].type: unknown variant `teleport`"),
        "{err}"
    );
}

#[test]
fn the_veto_protocol_needs_redis() {
    let err = check_with("smith.veto_protocol.enabled", json!(true));
    assert!(
        err.contains("smith.veto_protocol.enabled: the veto protocol talks to Smith over Redis"),
        "{err}"
    );
    let err = check_with("smith.veto_protocol.on_timeout", json!("shrug"));
    assert!(err.contains("smith.veto_protocol.on_timeout"), "{err}");
}
