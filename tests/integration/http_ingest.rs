//! `POST /api/v1/kills` and the daily report through `router(state)`.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use medic::api::{ApiKeys, AppState, router};
use medic::config::raw::{ApiKeySection, Role};
use medic::publish::Publisher;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tower::ServiceExt;

use crate::pipeline_support::*;

const INGEST: &str = "ingest-key-0123456789";
const VIEWER: &str = "viewer-key-0123456789";

fn state() -> AppState {
    let key = |name: &str, role, k: &str| ApiKeySection {
        name: name.into(),
        role,
        sha256: hex::encode(Sha256::digest(k)),
    };
    let keys = ApiKeys::new(
        &[
            key("smith", Role::Ingest, INGEST),
            key("dash", Role::Viewer, VIEWER),
        ],
        None,
    )
    .unwrap();
    AppState {
        engine: engine_with(medic::config::Config::embedded().unwrap(), None),
        keys: Arc::new(keys),
        publisher: Publisher::none(),
        started: Instant::now(),
    }
}

async fn call(
    state: &AppState,
    method: &str,
    uri: &str,
    key: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json");
    if let Some(k) = key {
        req = req.header("x-api-key", k);
    }
    let body = body.map_or(Body::empty(), |b| Body::from(b.to_string()));
    let res = router(state.clone())
        .oneshot(req.body(body).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn a_kill_is_decided_and_answered_in_the_envelope() {
    let s = state();
    let h1 = kill_json("h-1", "svc");
    let (status, body) = call(&s, "POST", "/api/v1/kills", Some(INGEST), Some(h1.clone())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["success"], true);
    assert_eq!(body["data"]["status"], "decided");
    assert_eq!(body["data"]["decision"]["kill_id"], "h-1");
    assert!(body["meta"]["request_id"].as_str().is_some());
    // The same kill again is not decided twice.
    let (_, again) = call(&s, "POST", "/api/v1/kills", Some(INGEST), Some(h1)).await;
    assert_eq!(again["data"]["status"], "duplicate");
    assert_eq!(
        again["data"]["decision"]["decision_id"],
        body["data"]["decision"]["decision_id"]
    );
}

#[tokio::test]
async fn an_invalid_kill_is_refused_naming_the_field() {
    let s = state();
    let mut k = kill_json("h-2", "svc");
    k["confidence_score"] = json!(3);
    let (status, body) = call(&s, "POST", "/api/v1/kills", Some(INGEST), Some(k)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["success"], false);
    assert_eq!(body["errors"][0]["field"], "confidence_score");
    let (status, body) = call(
        &s,
        "POST",
        "/api/v1/kills",
        Some(INGEST),
        Some(json!("nope")),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(s.engine.decider.store.decision_count(), 0);
}

#[tokio::test]
async fn a_batch_answers_each_kill() {
    let s = state();
    let mut bad = kill_json("h-bad", "svc");
    bad["kill_reason"] = json!("vibes");
    let envelope = json!({"version": "1.0", "message_type": "KILL_REPORT", "payload": kill_json("h-env", "svc"), "correlation_id": "c-9"});
    let batch = json!([kill_json("h-a", "svc"), bad, envelope]);
    let (status, body) = call(&s, "POST", "/api/v1/kills", Some(INGEST), Some(batch)).await;
    assert_eq!(status, StatusCode::OK);
    let items = body["data"].as_array().unwrap();
    assert_eq!(items[0]["status"], "decided");
    assert_eq!(items[1]["status"], "invalid");
    assert_eq!(items[1]["error"]["field"], "kill_reason");
    assert_eq!(items[2]["decision"]["correlation_id"], "c-9");
}

#[tokio::test]
async fn keys_and_roles_are_enforced() {
    let s = state();
    let (status, _) = call(
        &s,
        "POST",
        "/api/v1/kills",
        None,
        Some(kill_json("h-3", "svc")),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = call(
        &s,
        "POST",
        "/api/v1/kills",
        Some("wrong-key-wrong-key"),
        Some(kill_json("h-3", "svc")),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = call(
        &s,
        "POST",
        "/api/v1/kills",
        Some(VIEWER),
        Some(kill_json("h-3", "svc")),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = call(&s, "GET", "/health", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "healthy");
}

#[tokio::test]
async fn the_daily_report_counts_the_day() {
    let s = state();
    for i in 0..3 {
        call(
            &s,
            "POST",
            "/api/v1/kills",
            Some(INGEST),
            Some(kill_json(&format!("r-{i}"), "svc")),
        )
        .await;
    }
    let mut bad = kill_json("r-bad", "svc");
    bad["severity"] = json!("extreme");
    call(&s, "POST", "/api/v1/kills", Some(INGEST), Some(bad)).await;
    let (status, body) = call(&s, "GET", "/api/v1/reports/daily", Some(VIEWER), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let r = &body["data"];
    assert_eq!(r["decisions"], 3);
    assert_eq!(r["by_module"]["svc"], 3);
    assert_eq!(r["by_reason"]["anomaly_behavior"], 3);
    assert_eq!(r["dead_letters"], 1);
    let (status, body) = call(
        &s,
        "GET",
        "/api/v1/reports/daily?date=yesterday",
        Some(VIEWER),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["errors"][0]["field"], "date");
}

#[tokio::test]
async fn a_kill_id_reused_for_another_kill_is_refused_and_an_exact_redelivery_is_not() {
    let s = state();
    let d = &s.engine.decider;
    let first = kill_json("reused-1", "svc-a");
    let post = |body: Value| call(&s, "POST", "/api/v1/kills", Some(INGEST), Some(body));
    let (status, body) = post(first.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["status"], "decided");
    // The same kill again (a redelivery): the earlier decision, not a conflict.
    let (status, body) = post(first.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["status"], "duplicate");
    // Another kill under the same id: refused, named, never judged.
    let mut other = first.clone();
    other["target_module"] = "svc-b".into();
    other["target_instance_id"] = "svc-b-1".into();
    let (status, body) = post(other.clone()).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.starts_with("kill_id: already decided"), "{body}");
    assert!(
        message.contains("target_module, target_instance_id differ"),
        "{body}"
    );
    // In a batch, answered in its place while the others are decided.
    let (status, body) = post(serde_json::json!([other, kill_json("fresh-1", "svc-c")])).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"][0]["status"], "conflict");
    assert_eq!(body["data"][0]["error"]["code"], "conflict", "{body}");
    assert_eq!(body["data"][1]["status"], "decided");
    // Counted, dead-lettered with the field, and the earlier decision stands.
    assert_eq!(d.metrics.kill_conflicts.get(), 2);
    let dead = d
        .store
        .dead_letters_between(
            chrono::Utc::now() - chrono::Duration::hours(1),
            chrono::Utc::now(),
        )
        .unwrap();
    assert_eq!(
        dead.iter().filter(|l| l.field == "kill_id").count(),
        2,
        "{dead:?}"
    );
    assert_eq!(d.store.decision_count(), 2);
    let kept = d.store.record_for_kill("reused-1").unwrap().unwrap();
    assert_eq!(kept.kill.target_module, "svc-a");
}

#[tokio::test]
async fn a_kill_may_only_be_answered_on_the_streams_the_operator_allows() {
    let s = state();
    let enveloped = |id: &str, reply_to: &str| {
        serde_json::json!({"version": "1.0", "message_type": "KILL_REPORT",
            "payload": kill_json(id, "svc"), "reply_to": reply_to})
    };
    let post = |body: Value| call(&s, "POST", "/api/v1/kills", Some(INGEST), Some(body));
    // Medic's event stream is a medic.* name, but not one kills may write to.
    let (status, body) = post(enveloped("r-1", "medic.events")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["errors"][0]["field"], "reply_to");
    let (status, body) = post(enveloped("r-2", "medic.veto.notices")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    // A response stream of the allowed pattern is answered.
    let (status, body) = post(enveloped("r-3", "medic.responses.smith-02")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["status"], "decided");
    assert_eq!(s.engine.decider.store.decision_count(), 1);
}

#[tokio::test]
async fn a_batch_whose_every_kill_is_invalid_is_refused_not_a_success() {
    let s = state();
    let post = |body: Value| call(&s, "POST", "/api/v1/kills", Some(INGEST), Some(body));
    let invalid = |id: &str| {
        let mut bad = kill_json(id, "svc");
        bad["confidence_score"] = serde_json::json!(7);
        bad
    };
    let (status, body) = post(serde_json::json!([invalid("b-1"), {"hello": "world"}])).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["success"], false);
    assert_eq!(body["errors"][0]["field"], "body");
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("every one of the 2 kills is invalid"),
        "{body}"
    );
    assert!(message.contains("confidence_score"), "{body}");
    assert_eq!(s.engine.decider.store.decision_count(), 0);
    // One valid kill among them and the batch is answered item by item.
    let (status, body) = post(serde_json::json!([invalid("b-2"), kill_json("b-3", "svc")])).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"][0]["status"], "invalid");
    assert_eq!(body["data"][1]["status"], "decided");
}
