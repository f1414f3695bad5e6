//! The read routes operators use — decisions (filtered, paged), status,
//! audit, configuration (redacted) — and per-key rate limiting, through
//! `router(state)` with `oneshot`.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use medic::api::{ApiKeys, AppState, router};
use medic::config::raw::{ApiKeySection, Role};
use medic::publish::Publisher;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tower::ServiceExt;

use crate::api_access::{send, send_raw};
use crate::pipeline_support::{decide, engine_with};

const VIEWER: &str = "viewer-key-0123456789";
const ADMIN: &str = "admin-key-01234567890";
const APPROVER: &str = "approver-key-0123456789";

fn state(rate: f64, burst: f64) -> AppState {
    state_on(rate, burst, crate::postgres_db::test_store())
}

/// [`state`], on `store`.
fn state_on(rate: f64, burst: f64, store: medic::store::Store) -> AppState {
    let key = |name: &str, role, k: &str| ApiKeySection {
        name: name.into(),
        role,
        sha256: hex::encode(Sha256::digest(k)),
    };
    let mut config = medic::config::Config::embedded().unwrap();
    config.medic.smith.event_bus.url =
        Some("redis://:hunter2@127.0.0.1:6379".parse().expect("a URL"));
    config.medic.learning.database.url = Some(
        "postgres://medic:pgsecret@db.example:5432/medic"
            .parse()
            .expect("a URL"),
    );
    config.medic.interfaces.web.api_keys = vec![key("ops", Role::Admin, ADMIN)];
    let keys = ApiKeys::new(
        &[
            key("dash", Role::Viewer, VIEWER),
            key("ops", Role::Admin, ADMIN),
            key("oncall", Role::Approver, APPROVER),
        ],
        None,
    )
    .unwrap()
    .with_rate_limit(rate, burst);
    AppState::new(
        crate::pipeline_support::engine_on(config, store, None, false),
        keys,
        Publisher::none(),
    )
}

async fn get(state: &AppState, uri: &str, key: &str) -> (StatusCode, Value, Option<String>) {
    let (status, body, headers) = send(state, "GET", uri, Some(key), Body::empty()).await;
    let retry = headers
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    (status, body, retry)
}

#[tokio::test]
async fn decisions_are_listed_newest_first_filtered_and_paged() {
    let s = state(0.0, 1.0);
    for i in 0..7 {
        let module = if i % 2 == 0 { "renderer" } else { "indexer" };
        decide(&s.engine.decider, &format!("api-{i}"), module).await;
    }
    let (status, body, _) = get(&s, "/api/v1/decisions?limit=3", VIEWER).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let page = body["data"]["decisions"].as_array().unwrap();
    assert_eq!(page.len(), 3);
    assert_eq!(page[0]["kill_id"], "api-6", "newest first");
    let cursor = body["data"]["next_cursor"].as_str().unwrap().to_string();
    let (_, body, _) = get(
        &s,
        &format!("/api/v1/decisions?limit=10&cursor={cursor}"),
        VIEWER,
    )
    .await;
    let rest = body["data"]["decisions"].as_array().unwrap();
    assert_eq!(rest.len(), 4, "{body}");
    assert_eq!(rest[0]["kill_id"], "api-3");
    assert!(body["data"]["next_cursor"].is_null());

    let (_, body, _) = get(&s, "/api/v1/decisions?module=indexer", VIEWER).await;
    let only = body["data"]["decisions"].as_array().unwrap();
    assert_eq!(only.len(), 3);
    assert!(only.iter().all(|d| d["target_module"] == "indexer"));

    let id = page[0]["decision_id"].as_str().unwrap();
    let (status, body, _) = get(&s, &format!("/api/v1/decisions/{id}"), VIEWER).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["kill"]["kill_id"], "api-6");
    let (status, _, _) = get(&s, "/api/v1/decisions/nope", VIEWER).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    for (uri, field) in [
        ("/api/v1/decisions?outcome=maybe", "outcome"),
        ("/api/v1/decisions?limit=0", "limit"),
        ("/api/v1/decisions?from=yesterday", "from"),
        ("/api/v1/decisions?colour=red", "colour"),
        ("/api/v1/decisions?cursor=zzz", "cursor"),
    ] {
        let (status, body, _) = get(&s, uri, VIEWER).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{uri}");
        assert_eq!(body["errors"][0]["field"], field, "{uri}: {body}");
    }
    let (status, _, _) = get(&s, "/api/v1/decisions", "wrong-key-0123456789").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn status_audit_and_a_redacted_configuration() {
    let s = state(0.0, 1.0);
    // Plugins were called by their golden-kill check when loaded.
    let calls = |name: &str| {
        s.engine
            .decider
            .registry
            .get(name)
            .unwrap()
            .latency()
            .count()
    };
    let before = [
        calls("weighted"),
        calls("conservative"),
        calls("aggressive"),
    ];
    decide(&s.engine.decider, "st-1", "renderer").await;
    // The kill was scored by `weighted` and judged by `conservative`.
    let called = [
        calls("weighted"),
        calls("conservative"),
        calls("aggressive"),
    ];
    assert_eq!(called, [before[0] + 1, before[1] + 1, before[2]]);
    let (status, body, _) = get(&s, "/api/v1/status", VIEWER).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["mode"], "observer");
    assert_eq!(body["data"]["decisions"], 1);
    assert_eq!(body["data"]["plugins"]["strategy"]["name"], "conservative");

    let (status, _, _) = get(&s, "/api/v1/audit", VIEWER).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the audit log is for admins");
    let (status, body, _) = get(&s, "/api/v1/audit?limit=10", ADMIN).await;
    assert_eq!(status, StatusCode::OK);
    let events = body["data"]["events"].as_array().unwrap();
    assert!(
        events
            .iter()
            .any(|e| e["kind"] == "decision_made" && e["kill_id"] == "st-1")
    );
    let after = body["data"]["next_after"].as_u64().unwrap();
    let (_, body, _) = get(&s, &format!("/api/v1/audit?after={after}"), ADMIN).await;
    assert!(body["data"]["events"].as_array().unwrap().is_empty());
    // Newest first, paged back with `before`: the same events, reversed.
    let seqs = |b: &serde_json::Value| -> Vec<u64> {
        b["data"]["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["seq"].as_u64().unwrap())
            .collect()
    };
    let (_, all, _) = get(&s, "/api/v1/audit?limit=1000", ADMIN).await;
    let mut newest_first = seqs(&all);
    newest_first.reverse();
    assert!(!newest_first.is_empty(), "{all}");
    let (status, page, _) = get(&s, "/api/v1/audit?newest=true&limit=1", ADMIN).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(seqs(&page), newest_first[..1]);
    assert!(page["data"]["next_after"].is_null(), "{page}");
    let before = page["data"]["next_before"].as_u64().unwrap();
    let uri = format!("/api/v1/audit?newest=true&before={before}&limit=1000");
    let (_, older, _) = get(&s, &uri, ADMIN).await;
    assert_eq!(seqs(&older), newest_first[1..]);
    // Both numbers bound the events, whichever the order.
    let top = newest_first[0];
    for uri in [
        format!("/api/v1/audit?newest=true&after={top}"),
        format!(
            "/api/v1/audit?before={}",
            newest_first[newest_first.len() - 1]
        ),
    ] {
        let (status, body, _) = get(&s, &uri, ADMIN).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {body}");
        assert!(seqs(&body).is_empty(), "{uri}: {body}");
    }

    let req = Request::builder()
        .uri("/metrics")
        .header("x-api-key", VIEWER)
        .body(Body::empty())
        .unwrap();
    let res = router(s.clone()).oneshot(req).await.unwrap();
    let text = String::from_utf8(
        axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .unwrap()
            .to_vec(),
    )
    .unwrap();
    let plugin_count = |name: &str, kind: &str, n: u64| {
        format!(
            "medic_plugin_call_seconds_count{{plugin=\"{name}\",kind=\"{kind}\",version=\"{}\",builtin=\"true\"}} {n}\n",
            s.engine.decider.registry.get(name).unwrap().info().version
        )
    };
    for line in [
        plugin_count("weighted", "risk-scorer", called[0]),
        plugin_count("conservative", "strategy", called[1]),
        plugin_count("aggressive", "strategy", called[2]),
    ] {
        assert!(text.contains(&line), "{line} missing from:\n{text}");
    }
    for line in [
        "medic_queue_pending 0",
        "medic_resurrections_in_progress 0",
        "medic_threshold_changes_total 0",
        "medic_decisions_total{outcome=",
    ] {
        assert!(text.contains(line), "{line} missing from:\n{text}");
    }

    let (status, _, _) = get(&s, "/api/v1/config", VIEWER).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body, _) = get(&s, "/api/v1/config", ADMIN).await;
    assert_eq!(status, StatusCode::OK);
    let text = body.to_string();
    assert!(!text.contains("hunter2"), "the Redis password is redacted");
    assert!(
        !text.contains("pgsecret"),
        "the database password is redacted"
    );
    assert_eq!(
        body["data"]["medic"]["learning"]["database"]["url"],
        "postgres://medic:<redacted>@db.example:5432/medic"
    );
    assert!(
        !text.contains(&hex::encode(Sha256::digest(ADMIN))),
        "key hashes are redacted"
    );
    assert_eq!(
        body["data"]["medic"]["smith"]["event_bus"]["url"],
        "redis://:<redacted>@127.0.0.1:6379"
    );
}

#[tokio::test]
async fn a_key_over_its_rate_gets_429_with_retry_after_and_others_are_unaffected() {
    // One request every 2 s sustained, 3 at once: the burst below takes
    // milliseconds, far less than a refill, even on a loaded machine.
    let s = state(0.5, 3.0);
    for _ in 0..3 {
        let (status, _, _) = get(&s, "/api/v1/status", VIEWER).await;
        assert_eq!(status, StatusCode::OK);
    }
    let (status, body, retry) = get(&s, "/api/v1/status", VIEWER).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert!(matches!(retry.as_deref(), Some("1" | "2")), "{retry:?}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("retry in")
    );
    let (status, _, _) = get(&s, "/api/v1/status", ADMIN).await;
    assert_eq!(status, StatusCode::OK, "each key has its own budget");
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let (status, _, _) = get(&s, "/api/v1/status", VIEWER).await;
    assert_eq!(status, StatusCode::OK, "the budget refills");
}

async fn post_bytes(state: &AppState, uri: &str, key: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let (status, body, _) = send(state, "POST", uri, Some(key), Body::from(body)).await;
    (status, body)
}

/// With a signature required, an upload without one or with another key's
/// is refused naming the `signature` field, and nothing is installed; a
/// signed one is installed with its signature beside it, listed as signed,
/// and the upload's audit record names the signer.
#[tokio::test]
async fn a_plugin_upload_needs_a_trusted_signature_when_one_is_required() {
    use medic::plugin::signature;
    let dir = tempfile::tempdir().unwrap();
    let keys = tempfile::tempdir().unwrap();
    let key = |name: &str| {
        let (private, public) = signature::generate().unwrap();
        let path = keys.path().join(format!("{name}.key"));
        std::fs::write(&path, private).unwrap();
        std::fs::write(keys.path().join(format!("{name}.pub")), public).unwrap();
        signature::read_signing_key(&path).unwrap()
    };
    let (trusted, stranger) = (key("secops"), key("stranger"));
    let mut config = medic::config::Config::embedded().unwrap();
    config.medic.plugins.directory = Some(dir.path().to_path_buf());
    config.medic.plugins.watch = false;
    config.medic.plugins.timeout = std::time::Duration::from_millis(5_000);
    config.medic.plugins.trust.require_signature = true;
    config.medic.plugins.trust.keys = vec![medic::config::raw::TrustedKey {
        name: "secops".into(),
        public_key_file: keys.path().join("secops.pub").to_path_buf(),
    }];
    let mut s = state(0.0, 1.0);
    s.engine = engine_with(config, None);
    let wasm = crate::support::wasm_bytes("swap-v1");
    let encode = |sig: &str| form_urlencoded::byte_serialize(sig.as_bytes()).collect::<String>();

    let (status, body) = post_bytes(&s, "/api/v1/plugins?name=mine", ADMIN, wasm.clone()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["errors"][0]["field"], "signature", "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("no signature"),
        "{body}"
    );
    let (_, foreign) = signature::sign(&stranger, &wasm).unwrap();
    let uri = format!("/api/v1/plugins?name=mine&signature={}", encode(&foreign));
    let (status, body) = post_bytes(&s, &uri, ADMIN, wasm.clone()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["errors"][0]["field"], "signature", "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("none of the trusted keys (secops)"),
        "{body}"
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing installed"
    );

    let (_, good) = signature::sign(&trusted, &wasm).unwrap();
    let uri = format!("/api/v1/plugins?name=mine&signature={}", encode(&good));
    let (status, body) = post_bytes(&s, &uri, ADMIN, wasm.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["event"]["outcome"], "loaded", "{body}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("mine.wasm.sig")).unwrap(),
        good
    );
    let (_, body, _) = get(&s, "/api/v1/plugins", VIEWER).await;
    let row = body["data"]["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "swap-test")
        .cloned()
        .unwrap();
    assert_eq!(row["signer"]["type"], "key", "{row}");
    assert_eq!(row["signer"]["name"], "secops", "{row}");
    let audit = s.engine.decider.store.audit_events(None, 100).unwrap();
    let upload = audit
        .iter()
        .rev()
        .find(|e| e.details["action"] == "upload")
        .expect("the upload is audited");
    assert_eq!(
        upload.details["signer"]["name"], "secops",
        "{:?}",
        upload.details
    );
}

#[tokio::test]
async fn plugins_are_listed_uploaded_after_the_same_checks_and_reloaded() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = medic::config::Config::embedded().unwrap();
    config.medic.plugins.directory = Some(dir.path().to_path_buf());
    config.medic.plugins.watch = false;
    config.medic.plugins.timeout = std::time::Duration::from_millis(5_000);
    let mut s = state(0.0, 1.0);
    s.engine = engine_with(config, None);

    let (status, body, _) = get(&s, "/api/v1/plugins", VIEWER).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["active"]["strategy"], "conservative");
    assert!(body["data"]["plugins"].as_array().unwrap().len() >= 5);

    let wasm = crate::support::wasm_bytes("swap-v1");
    let (status, _) = post_bytes(&s, "/api/v1/plugins?name=mine", VIEWER, wasm.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "uploading is for admins");
    let (status, body) = post_bytes(&s, "/api/v1/plugins?name=../evil", ADMIN, wasm.clone()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["errors"][0]["field"], "name");

    // A hostile plugin is refused, with the reason, and nothing is written.
    let (status, body) = post_bytes(
        &s,
        "/api/v1/plugins?name=spin",
        ADMIN,
        crate::support::wasm_bytes("hostile-out-of-range"),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("golden"),
        "{body}"
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

    let (status, body) = post_bytes(&s, "/api/v1/plugins?name=mine", ADMIN, wasm).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["event"]["outcome"], "loaded");
    assert!(body["data"]["bound"].is_null(), "no phase, no binding");
    assert!(dir.path().join("mine.wasm").exists());
    let (_, body, _) = get(&s, "/api/v1/plugins", VIEWER).await;
    assert!(
        body["data"]["plugins"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "swap-test")
    );

    let (status, body) = post_bytes(&s, "/api/v1/plugins/reload", ADMIN, vec![]).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Bound to the active phase at run time: it serves at once, and the
    // binding is stored so a restarted engine binds it again.
    let phase = s.engine.decider.registry.active().phase.to_string();
    let bind = |body: serde_json::Value| {
        let s = s.clone();
        let uri = format!("/api/v1/plugins/bindings/{phase}");
        async move {
            let (status, body, _) =
                send(&s, "PUT", &uri, Some(ADMIN), Body::from(body.to_string())).await;
            (status, body)
        }
    };
    let (status, body) =
        bind(serde_json::json!({"kind": "risk_scorer", "name": "swap-test"})).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "wrong kind: {body}"
    );
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("strategy"),
        "{body}"
    );
    let (status, body) =
        bind(serde_json::json!({"kind": "strategy", "name": "swap-test", "sha256": "00"})).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "pin mismatch: {body}"
    );
    assert_eq!(
        s.engine.decider.registry.active().strategy.name(),
        "conservative"
    );
    let (status, body) = bind(serde_json::json!({"kind": "strategy", "name": "swap-test"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["active"]["strategy"], "swap-test");
    assert_eq!(
        s.engine.decider.registry.active().strategy.name(),
        "swap-test"
    );
    let (_, body, _) = get(&s, "/api/v1/plugins", VIEWER).await;
    assert_eq!(
        body["data"]["bindings"][&phase]["strategy"]["name"], "swap-test",
        "{body}"
    );
    let stored = s.engine.decider.store.plugin_bindings().unwrap();
    assert_eq!(stored.len(), 1);
    let fresh = medic::plugin::Registry::new(&s.engine.decider.config).unwrap();
    assert_eq!(fresh.active().strategy.name(), "conservative");
    medic::changes::restore_bindings(&fresh, &s.engine.decider.store).unwrap();
    assert_eq!(
        fresh.active().strategy.name(),
        "swap-test",
        "restored after a restart"
    );
    let changes = s
        .engine
        .decider
        .store
        .audit_events(None, 1000)
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == medic::store::AuditKind::PluginChanged && e.actor == "ops")
        .count();
    assert_eq!(
        changes, 3,
        "the upload, the reload and the binding are audited with the key's name"
    );
}

/// A request with or without a key: status, headers and body bytes.
async fn fetch(
    state: &AppState,
    uri: &str,
    key: Option<&str>,
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    send_raw(state, "GET", uri, key, Body::empty()).await
}

#[tokio::test]
async fn the_console_is_served_without_a_key_with_its_types_and_a_strict_csp() {
    let s = state(0.0, 1.0);
    let header = |h: &axum::http::HeaderMap, name: &str| {
        h.get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let (status, headers, _) = fetch(&s, "/", None).await;
    assert!(status.is_redirection(), "{status}");
    assert_eq!(header(&headers, "location"), "/console");

    let (status, headers, body) = fetch(&s, "/console", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header(&headers, "content-type"), "text/html; charset=utf-8");
    let html = String::from_utf8(body).unwrap();
    // Every script comes from a file: the page has no inline script.
    let scripts: Vec<&str> = html.split("<script").skip(1).collect();
    assert_eq!(scripts.len(), 1, "{html}");
    assert!(
        scripts[0]
            .trim_start()
            .starts_with("type=\"module\" src=\"/console/app.js\""),
        "{html}"
    );
    assert!(html.contains("href=\"/console/app.css\""));
    assert!(!html.contains("style="), "no inline style either");

    const MODULES: [&str; 6] = [
        "/console/app.js",
        "/console/dom.js",
        "/console/session.js",
        "/console/confirm.js",
        "/console/overview.js",
        "/console/pages.js",
    ];
    let files = [
        ("/console", "text/html; charset=utf-8"),
        ("/console/app.css", "text/css; charset=utf-8"),
    ]
    .into_iter()
    .chain(MODULES.map(|m| (m, "text/javascript; charset=utf-8")));
    for (uri, kind) in files {
        let (status, headers, body) = fetch(&s, uri, None).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        assert_eq!(header(&headers, "content-type"), kind, "{uri}");
        assert_eq!(
            header(&headers, "x-content-type-options"),
            "nosniff",
            "{uri}"
        );
        let csp = header(&headers, "content-security-policy");
        for directive in [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "connect-src 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(
                csp.contains(directive),
                "{uri}: {directive} missing from {csp}"
            );
        }
        assert!(!csp.contains("unsafe"), "{uri}: {csp}");
        assert!(!body.is_empty(), "{uri}");
    }

    // The scripts send the typed key and never write data as HTML.
    let mut js = String::new();
    for uri in MODULES {
        js.push_str(&String::from_utf8(fetch(&s, uri, None).await.2).unwrap());
    }
    assert!(js.contains("'X-API-Key'") && js.contains("sessionStorage"));
    assert!(!js.contains("innerHTML") && !js.contains("outerHTML"));
    assert!(!js.contains("insertAdjacentHTML") && !js.contains("document.write"));
    for route in [
        "/api/v1/whoami",
        "/api/v1/queue",
        "/api/v1/resurrections",
        "/api/v1/mode",
        "/api/v1/decisions",
        "/api/v1/audit",
        "/api/v1/config/thresholds",
        "/api/v1/outcomes",
        "/api/v1/plugins",
        "'/health'",
    ] {
        assert!(js.contains(route), "the console reads {route}");
    }

    let (status, _, _) = fetch(&s, "/console/missing.js", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn whoami_names_the_key_and_its_role_and_needs_a_key() {
    let s = state(0.0, 1.0);
    for (key, name, role) in [
        (VIEWER, "dash", "viewer"),
        (APPROVER, "oncall", "approver"),
        (ADMIN, "ops", "admin"),
    ] {
        let (status, body, _) = get(&s, "/api/v1/whoami", key).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["success"], true);
        assert_eq!(body["data"]["name"], name, "{body}");
        assert_eq!(body["data"]["role"], role, "{body}");
    }
    let (status, _, body) = fetch(&s, "/api/v1/whoami", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["errors"][0]["message"], "missing or unknown API key");
    let (status, _, _) = get(&s, "/api/v1/whoami", "not-a-key-0123456789").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_names_the_replica_its_role_and_its_store() {
    let s = state(0.0, 1.0);
    // As the engine's loops ask, a replica leads when no other does.
    assert!(s.engine.decider.store.leads());
    let (_, body, _) = get(&s, "/api/v1/status", VIEWER).await;
    let replica = &body["data"]["replica"];
    assert_eq!(replica["store"], s.engine.decider.store.kind());
    assert_eq!(replica["role"], "leader", "the only process on its store");
    assert_eq!(replica["event_bus"], "http");
    assert_eq!(replica["event_bus_state"], "disabled");
    assert_eq!(replica["store_state"], "ok");
    assert_eq!(
        replica["name"],
        medic::config::Config::embedded()
            .unwrap()
            .medic
            .smith
            .event_bus
            .consumer_name
    );
    // Two replicas on one database: one leads, the other follows.
    let db = crate::postgres_db::TestDatabase::create();
    let a = state_on(0.0, 1.0, db.store());
    let b = state_on(0.0, 1.0, db.store());
    assert!(a.engine.decider.store.leads());
    assert!(!b.engine.decider.store.leads());
    let (_, body, _) = get(&a, "/api/v1/status", VIEWER).await;
    assert_eq!(body["data"]["replica"]["store"], "postgres");
    assert_eq!(body["data"]["replica"]["role"], "leader");
    let (_, body, _) = get(&b, "/api/v1/status", VIEWER).await;
    assert_eq!(body["data"]["replica"]["role"], "follower");
}
