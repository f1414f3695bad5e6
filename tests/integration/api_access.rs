//! Access control and error paths of every route, through `router(state)`
//! with `oneshot`: no key (401), a role below the route's (403), the role
//! it needs (neither), and each error answer — 404, 405, 409, 413, 422 and
//! 429 — in the envelope. The route table here must list exactly the
//! operations of the OpenAPI document (checked in `openapi_contract.rs`).

use std::time::Instant;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use medic::api::{ApiKeys, AppState, router};
use medic::config::raw::{ApiKeySection, Role};
use medic::publish::Publisher;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tower::ServiceExt;

use crate::acting_inprocess::setup;
use crate::pipeline_support::decide;

pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    /// The least role that may call it; `None`: no key needed.
    pub role: Option<Role>,
}

const fn r(method: &'static str, path: &'static str, role: Option<Role>) -> Route {
    Route { method, path, role }
}

const V: Option<Role> = Some(Role::Viewer);
const AP: Option<Role> = Some(Role::Approver);
const AD: Option<Role> = Some(Role::Admin);
const IN: Option<Role> = Some(Role::Ingest);

/// Every operation of the API and who may call it.
pub fn every_route() -> Vec<Route> {
    vec![
        r("GET", "/health", None),
        r("GET", "/health/ready", None),
        r("GET", "/api/v1/openapi.json", None),
        r("GET", "/metrics", V),
        r("POST", "/api/v1/kills", IN),
        r("GET", "/api/v1/status", V),
        r("GET", "/api/v1/audit", AD),
        r("GET", "/api/v1/config", AD),
        r("GET", "/api/v1/plugins", V),
        r("POST", "/api/v1/plugins", AD),
        r("POST", "/api/v1/plugins/reload", AD),
        r("PUT", "/api/v1/plugins/bindings/{phase}", AD),
        r("GET", "/api/v1/shadow", V),
        r("POST", "/api/v1/shadow/promote", AD),
        r("GET", "/api/v1/decisions", V),
        r("GET", "/api/v1/decisions/records", V),
        r("GET", "/api/v1/decisions/{decision_id}", V),
        r("GET", "/api/v1/reports/daily", V),
        r("GET", "/api/v1/reports/weekly", V),
        r("GET", "/api/v1/queue", V),
        r("GET", "/api/v1/queue/{item_id}", V),
        r("POST", "/api/v1/queue/{item_id}/approve", AP),
        r("POST", "/api/v1/queue/{item_id}/deny", AP),
        r("GET", "/api/v1/resurrections", V),
        r("GET", "/api/v1/resurrections/{request_id}", V),
        r("GET", "/api/v1/resurrections/{request_id}/status", V),
        r("POST", "/api/v1/resurrections/{request_id}/rollback", AP),
        r("GET", "/api/v1/outcomes", V),
        r("GET", "/api/v1/outcomes/stats", V),
        r("GET", "/api/v1/config/thresholds", V),
        r("PUT", "/api/v1/config/thresholds", AD),
        r("POST", "/api/v1/config/thresholds/learn", AD),
        r("POST", "/api/v1/config/thresholds/{id}/revert", AD),
        r("GET", "/api/v1/mode", V),
        r("PUT", "/api/v1/mode", AD),
        r("GET", "/api/v1/whoami", V),
    ]
}

const ROLES: [Role; 4] = [Role::Viewer, Role::Ingest, Role::Approver, Role::Admin];

pub fn key_of(role: Role) -> String {
    format!("{role:?}-key-0123456789abcdef").to_lowercase()
}

fn keys(rate: f64) -> ApiKeys {
    let sections: Vec<ApiKeySection> = ROLES
        .iter()
        .map(|&role| ApiKeySection {
            name: format!("{role:?}").to_lowercase(),
            role,
            sha256: hex::encode(Sha256::digest(key_of(role))),
        })
        .collect();
    ApiKeys::new(&sections, None)
        .unwrap()
        .with_rate_limit(rate, 2.0)
}

/// An API over an engine that does not act (observer), one key per role.
pub fn state_with_roles(rate: f64) -> AppState {
    let config = medic::config::Config::embedded().unwrap();
    AppState::new(
        crate::pipeline_support::engine_with(config, None),
        keys(rate),
        Publisher::none(),
    )
}

/// An API over an engine that acts (semi-auto, a command backend).
fn acting_state() -> (AppState, crate::acting_inprocess::Setup) {
    let s = setup(100, |_| {}, crate::postgres_db::test_store());
    let state = AppState::new(s.engine.clone(), keys(0.0), Publisher::none());
    (state, s)
}

/// One request through `router(state)`: status, headers and body bytes.
pub async fn send_raw(
    state: &AppState,
    method: &str,
    uri: &str,
    key: Option<&str>,
    body: Body,
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let mut req = Request::builder()
        .method(method.parse::<Method>().unwrap())
        .uri(uri)
        .header("content-type", "application/json");
    if let Some(k) = key {
        req = req.header("x-api-key", k);
    }
    let res = router(state.clone())
        .oneshot(req.body(body).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 26)
        .await
        .unwrap();
    (status, headers, bytes.to_vec())
}

/// One request through `router(state)`: status, the body as JSON (null if
/// it is not), and headers.
pub async fn send(
    state: &AppState,
    method: &str,
    uri: &str,
    key: Option<&str>,
    body: Body,
) -> (StatusCode, Value, axum::http::HeaderMap) {
    let (status, headers, bytes) = send_raw(state, method, uri, key, body).await;
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        headers,
    )
}

fn concrete(path: &str) -> String {
    path.replace("{phase}", "phase_1_observer")
        .replace("{decision_id}", "nope")
        .replace("{item_id}", "nope")
        .replace("{request_id}", "nope")
        .replace("{id}", "1")
}

fn rank(role: Role) -> u8 {
    match role {
        Role::Viewer => 0,
        Role::Ingest => 1,
        Role::Approver => 2,
        Role::Admin => 3,
    }
}

/// Whether `role` may do what `need` allows.
fn may(role: Role, need: Role) -> bool {
    role == Role::Admin || role == need || (need == Role::Viewer && role == Role::Approver)
}

#[tokio::test]
async fn every_route_checks_the_key_and_the_role() {
    let (state, _s) = acting_state();
    for route in every_route() {
        let uri = concrete(route.path);
        let Some(need) = route.role else {
            let (status, _, _) = send(&state, route.method, &uri, None, Body::empty()).await;
            assert_eq!(status, StatusCode::OK, "{} {uri} is open", route.method);
            continue;
        };
        let (status, body, _) = send(&state, route.method, &uri, None, Body::empty()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{} {uri}", route.method);
        assert_eq!(body["errors"][0]["code"], "unauthorized", "{body}");
        let (status, _, _) = send(
            &state,
            route.method,
            &uri,
            Some("not-a-key-0123456789"),
            Body::empty(),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{} {uri}", route.method);
        for role in ROLES {
            let (status, body, _) = send(
                &state,
                route.method,
                &uri,
                Some(&key_of(role)),
                Body::empty(),
            )
            .await;
            if may(role, need) {
                assert!(
                    status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                    "{role:?} may call {} {uri}: {status} {body}",
                    route.method
                );
                assert!(status != StatusCode::INTERNAL_SERVER_ERROR, "{body}");
            } else {
                assert_eq!(
                    status,
                    StatusCode::FORBIDDEN,
                    "{role:?} may not call {} {uri} (needs {need:?}, rank {} < {})",
                    route.method,
                    rank(role),
                    rank(need)
                );
                assert_eq!(body["errors"][0]["code"], "forbidden", "{body}");
            }
        }
    }
}

/// The key is checked before the body is read: a bad key with a body that
/// is not JSON is answered 401 (403 for a role below the route's), not 422.
#[tokio::test]
async fn a_bad_key_is_answered_before_a_bad_body() {
    let (state, _s) = acting_state();
    for route in every_route() {
        let (Some(need), "POST" | "PUT") = (route.role, route.method) else {
            continue;
        };
        let uri = concrete(route.path);
        let garbage = || Body::from("{not json");
        let (status, body, _) = send(&state, route.method, &uri, None, garbage()).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{} {uri}: {body}",
            route.method
        );
        if let Some(below) = ROLES.into_iter().find(|&r| !may(r, need)) {
            let key = key_of(below);
            let (status, body, _) = send(&state, route.method, &uri, Some(&key), garbage()).await;
            assert_eq!(
                status,
                StatusCode::FORBIDDEN,
                "{} {uri}: {body}",
                route.method
            );
        }
    }
}

#[tokio::test]
async fn errors_have_their_status_and_the_envelope() {
    let (state, s) = acting_state();
    let admin = key_of(Role::Admin);
    let approver = key_of(Role::Approver);
    let get = |uri: &'static str| {
        let state = state.clone();
        let admin = admin.clone();
        async move { send(&state, "GET", uri, Some(&admin), Body::empty()).await }
    };

    // 404: unknown things, and an unknown route.
    for uri in [
        "/api/v1/decisions/nope",
        "/api/v1/queue/nope",
        "/api/v1/resurrections/nope",
        "/api/v1/resurrections/nope/status",
        "/api/v1/nothing-here",
        "/nothing",
    ] {
        let (status, body, _) = get(uri).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}: {body}");
        assert_eq!(body["success"], false);
        assert_eq!(body["errors"][0]["code"], "not_found", "{uri}: {body}");
        assert!(body["meta"]["request_id"].is_string());
    }
    let (status, body, _) = send(
        &state,
        "POST",
        "/api/v1/config/thresholds/999/revert",
        Some(&admin),
        Body::empty(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    // 405 in the envelope.
    let (status, body, _) = send(
        &state,
        "DELETE",
        "/api/v1/mode",
        Some(&admin),
        Body::empty(),
    )
    .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");
    assert_eq!(body["errors"][0]["code"], "method_not_allowed");

    // 409: a queue item decided twice.
    decide(&s.decider, "errs-1", "auth-service").await;
    let item = s.acting.queue.list_pending(10).unwrap().remove(0);
    let deny = |reason: &str| Body::from(json!({"reason": reason}).to_string());
    let uri = format!("/api/v1/queue/{}/deny", item.item_id);
    let (status, body, _) = send(&state, "POST", &uri, Some(&approver), deny("compromised")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body, _) = send(&state, "POST", &uri, Some(&approver), deny("again")).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("approver"),
        "names who decided: {body}"
    );
    // 409: acting routes on an engine that does not act.
    let observer = state_with_roles(0.0);
    let (status, body, _) = send(
        &observer,
        "GET",
        "/api/v1/queue",
        Some(&admin),
        Body::empty(),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    // 413: a body over 2 MiB, in the envelope.
    let big = Body::from(vec![b' '; 3 * 1024 * 1024]);
    let (status, body, _) = send(&state, "POST", "/api/v1/kills", Some(&admin), big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["errors"][0]["code"], "too_large", "{body}");

    // 422: each names the field.
    decide(&s.decider, "errs-2", "auth-service").await;
    let pending = s.acting.queue.list_pending(10).unwrap().remove(0);
    let long = "x".repeat(5000);
    for (method, uri, body, field) in [
        (
            "GET",
            "/api/v1/decisions?outcome=maybe".to_string(),
            Value::Null,
            "outcome",
        ),
        (
            "GET",
            "/api/v1/decisions?limit=0".to_string(),
            Value::Null,
            "limit",
        ),
        (
            "GET",
            "/api/v1/decisions?colour=red".to_string(),
            Value::Null,
            "colour",
        ),
        (
            "GET",
            "/api/v1/decisions?from=yesterday".to_string(),
            Value::Null,
            "from",
        ),
        (
            "GET",
            "/api/v1/outcomes?result=great".to_string(),
            Value::Null,
            "result",
        ),
        (
            "GET",
            "/api/v1/outcomes/stats?days=0".to_string(),
            Value::Null,
            "days",
        ),
        (
            "GET",
            "/api/v1/audit?after=-1".to_string(),
            Value::Null,
            "after",
        ),
        (
            "GET",
            "/api/v1/reports/weekly?format=pdf".to_string(),
            Value::Null,
            "format",
        ),
        (
            "PUT",
            "/api/v1/mode".to_string(),
            json!({"mode": "chaos", "reason": "r"}),
            "mode",
        ),
        (
            "PUT",
            "/api/v1/mode".to_string(),
            json!({"mode": "manual", "extra": 1}),
            "extra",
        ),
        (
            "PUT",
            "/api/v1/mode".to_string(),
            json!({"mode": "manual"}),
            "reason",
        ),
        (
            "POST",
            format!("/api/v1/queue/{}/deny", pending.item_id),
            json!({"reason": ""}),
            "reason",
        ),
        (
            "POST",
            format!("/api/v1/queue/{}/approve", pending.item_id),
            json!({"notes": long}),
            "notes",
        ),
        (
            "PUT",
            "/api/v1/plugins/bindings/phase_9".to_string(),
            json!({"kind": "strategy", "name": "balanced"}),
            "plugin",
        ),
        (
            "PUT",
            "/api/v1/plugins/bindings/default".to_string(),
            json!({"kind": "strategy", "name": "weighted"}),
            "plugin",
        ),
        (
            "POST",
            "/api/v1/kills".to_string(),
            json!({"kill_id": "k", "confidence_score": 2}),
            "timestamp",
        ),
    ] {
        let b = if body.is_null() {
            Body::empty()
        } else {
            Body::from(body.to_string())
        };
        let (status, answer, _) = send(&state, method, &uri, Some(&admin), b).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{method} {uri}: {answer}"
        );
        assert_eq!(answer["errors"][0]["code"], "validation", "{answer}");
        assert_eq!(
            answer["errors"][0]["field"], field,
            "{method} {uri}: {answer}"
        );
    }
    // The item a bad request named is still pending.
    assert_eq!(
        s.acting
            .queue
            .get(&pending.item_id)
            .unwrap()
            .unwrap()
            .status,
        medic::model::QueueStatus::Pending
    );

    // 429 with Retry-After, per key: another key is not limited.
    let limited = state_with_roles(1.0);
    let viewer = key_of(Role::Viewer);
    let mut last = StatusCode::OK;
    let mut retry = None;
    for _ in 0..5 {
        let (status, body, headers) = send(
            &limited,
            "GET",
            "/api/v1/mode",
            Some(&viewer),
            Body::empty(),
        )
        .await;
        last = status;
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(body["errors"][0]["code"], "rate_limited");
            retry = headers.get("retry-after").cloned();
            break;
        }
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
    assert!(retry.is_some());
    let (status, _, _) = send(&limited, "GET", "/api/v1/mode", Some(&admin), Body::empty()).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_over_the_time_limit_is_answered_503() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = medic::config::Config::embedded().unwrap();
    config.medic.plugins.directory = Some(dir.path().to_path_buf());
    config.medic.plugins.watch = false;
    config.medic.interfaces.web.request_timeout = std::time::Duration::from_secs_f64(0.5);
    let state = AppState::new(
        crate::pipeline_support::engine_with(config, None),
        keys(0.0),
        Publisher::none(),
    );
    // Checking a plugin that spins takes the plugin's whole deadline (5 s
    // in tests) on its golden kills: far over the request's limit.
    let started = Instant::now();
    let (status, body, _) = send(
        &state,
        "POST",
        "/api/v1/plugins?name=spin",
        Some(&key_of(Role::Admin)),
        Body::from(crate::support::wasm_bytes("hostile-spin")),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["errors"][0]["code"], "timeout", "{body}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "answered at the limit, not when the work ended"
    );
    // A quick request on the same engine is answered as usual.
    let (status, _, _) = send(
        &state,
        "GET",
        "/api/v1/mode",
        Some(&key_of(Role::Viewer)),
        Body::empty(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

/// A request from `addr` with `key`, as the servers hand it to the router.
async fn from_address(state: &AppState, addr: [u8; 4], key: &str) -> (StatusCode, Value) {
    use axum::extract::ConnectInfo;
    let mut req = Request::builder()
        .uri("/api/v1/status")
        .header("x-api-key", key)
        .body(Body::empty())
        .unwrap();
    req.extensions_mut()
        .insert(ConnectInfo(std::net::SocketAddr::from((addr, 40_000))));
    let res = medic::api::router(state.clone())
        .oneshot(req)
        .await
        .unwrap();
    let status = res.status();
    let retry = res.headers().get("retry-after").cloned();
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap();
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if status == StatusCode::TOO_MANY_REQUESTS {
        assert!(retry.is_some(), "429 without Retry-After: {body}");
    }
    (status, body)
}

#[tokio::test]
async fn wrong_keys_from_one_address_are_throttled_and_others_are_not() {
    let state = state_with_roles(0.0);
    let wrong = "not-a-key-0123456789";
    for n in 0..10 {
        let (status, body) = from_address(&state, [10, 0, 0, 7], wrong).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "attempt {n}: {body}");
    }
    // The eleventh within the minute is refused unread, a right key too.
    let (status, body) = from_address(&state, [10, 0, 0, 7], wrong).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["errors"][0]["code"], "too_many_failures", "{body}");
    let (status, _) = from_address(&state, [10, 0, 0, 7], &key_of(Role::Admin)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // Another address, with the right key or a wrong one, is not held back.
    let (status, body) = from_address(&state, [10, 0, 0, 8], &key_of(Role::Admin)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = from_address(&state, [10, 0, 0, 8], wrong).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A request without a key guesses nothing: health still answers.
    let mut req = Request::builder()
        .uri("/health")
        .body(Body::empty())
        .unwrap();
    req.extensions_mut()
        .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
            [10, 0, 0, 7],
            40_000,
        ))));
    let res = router(state.clone()).oneshot(req).await.unwrap();
    assert_ne!(res.status(), StatusCode::TOO_MANY_REQUESTS);
}
