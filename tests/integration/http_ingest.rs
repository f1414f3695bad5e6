//! `POST /api/v1/kills` and the daily report through `router(state)`.

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

/// One key to send kills with, one to read with.
fn keys() -> ApiKeys {
    let key = |name: &str, role, k: &str| ApiKeySection {
        name: name.into(),
        role,
        sha256: hex::encode(Sha256::digest(k)),
    };
    ApiKeys::new(
        &[
            key("smith", Role::Ingest, INGEST),
            key("dash", Role::Viewer, VIEWER),
        ],
        None,
    )
    .unwrap()
}

fn state() -> AppState {
    AppState::new(
        engine_with(medic::config::Config::embedded().unwrap(), None),
        keys(),
        Publisher::none(),
    )
}

async fn call(
    state: &AppState,
    method: &str,
    uri: &str,
    key: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let body = body.map_or(Body::empty(), |b| Body::from(b.to_string()));
    call_raw(state, method, uri, key, body).await
}

/// A request with a body as it is, bytes and all.
async fn call_raw(
    state: &AppState,
    method: &str,
    uri: &str,
    key: Option<&str>,
    body: Body,
) -> (StatusCode, Value) {
    let mut req = Request::builder()
        .method(method)
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

/// An API over a store holding `n` decisions besides one real one (copies
/// of it under other kill ids, over a hundred modules, each tenth a
/// denial), with a key per role and a read budget of `budget_ms`.
async fn state_with_decisions(n: usize, budget_ms: u64) -> AppState {
    let mut config = medic::config::Config::embedded().unwrap();
    config.medic.interfaces.web.read_budget = std::time::Duration::from_millis(budget_ms);
    let engine = engine_with(config, None);
    let store = engine.decider.store.clone();
    decide(&engine.decider, "template", "svc-0").await;
    let template = store
        .record_for_kill("template")
        .unwrap()
        .expect("the template's record");
    tokio::task::spawn_blocking(move || {
        for i in 0..n {
            let mut r = template.clone();
            r.kill.kill_id = format!("bulk-{i}");
            r.kill.target_module = format!("svc-{}", i % 100);
            r.decision.kill_id = r.kill.kill_id.clone();
            r.decision.target_module = r.kill.target_module.clone();
            r.decision.decision_id = uuid::Uuid::now_v7().to_string();
            r.decision.timestamp = chrono::Utc::now();
            if i % 10 == 0 {
                r.decision.outcome = medic::model::DecisionOutcome::Deny;
            }
            store.store_decision(&r).unwrap();
        }
    })
    .await
    .unwrap();
    engine.decider.store.flush().await.unwrap();
    AppState::new(engine, keys(), Publisher::none())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scan_that_runs_out_of_budget_answers_with_a_cursor_and_paging_loses_nothing() {
    let s = state_with_decisions(3_000, 10).await;
    let mut seen = std::collections::HashSet::new();
    let mut cursor: Option<String> = None;
    let mut partial_pages = 0;
    for _ in 0..10_000 {
        let uri = match &cursor {
            Some(c) => format!("/api/v1/decisions?outcome=deny&limit=1000&cursor={c}"),
            None => "/api/v1/decisions?outcome=deny&limit=1000".to_string(),
        };
        let (status, body) = call(&s, "GET", &uri, Some(VIEWER), None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        for d in body["data"]["decisions"].as_array().unwrap() {
            assert_eq!(d["outcome"], "deny");
            assert!(
                seen.insert(d["kill_id"].as_str().unwrap().to_string()),
                "{d} twice"
            );
        }
        if body["data"]["partial"] == true {
            partial_pages += 1;
        }
        match body["data"]["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    // Every tenth of the 3,000 copies was a denial; the template was not.
    assert_eq!(seen.len(), 300);
    assert!(
        partial_pages > 0,
        "a 10 ms budget never ran out over 3,000 records"
    );
    // A module with no decisions is answered from the index.
    let (status, body) = call(
        &s,
        "GET",
        "/api/v1/decisions?module=nonexistent&limit=1000",
        Some(VIEWER),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["decisions"], json!([]));
}

/// The 99th percentile of `xs` (sorted in place).
fn p99(xs: &mut [std::time::Duration]) -> std::time::Duration {
    xs.sort();
    xs[(xs.len() * 99 / 100).min(xs.len() - 1)]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heavy_reads_in_parallel_do_not_hold_up_kills() {
    let s = state_with_decisions(20_000, 1_000).await;
    let kills = |prefix: &'static str| {
        let s = s.clone();
        async move {
            let mut took = Vec::new();
            for i in 0..40 {
                let t = std::time::Instant::now();
                let (status, body) = call(
                    &s,
                    "POST",
                    "/api/v1/kills",
                    Some(INGEST),
                    Some(kill_json(&format!("{prefix}-{i}"), "svc-live")),
                )
                .await;
                took.push(t.elapsed());
                assert_eq!(status, StatusCode::OK, "{body}");
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            took
        }
    };
    let mut quiet = kills("quiet").await;
    // Eight viewers reading decisions that need every record decoded, two
    // asking for the daily report, each again as soon as answered.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut readers = Vec::new();
    for n in 0..10 {
        let (s, stop, answered) = (s.clone(), stop.clone(), answered.clone());
        readers.push(tokio::spawn(async move {
            let uri = if n < 8 {
                "/api/v1/decisions?outcome=approve_auto&limit=1000"
            } else {
                "/api/v1/reports/daily"
            };
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let (status, body) = call(&s, "GET", uri, Some(VIEWER), None).await;
                assert!(
                    status == StatusCode::OK || status == StatusCode::SERVICE_UNAVAILABLE,
                    "{status} {body}"
                );
                if status == StatusCode::SERVICE_UNAVAILABLE {
                    assert_eq!(body["errors"][0]["code"], "busy", "{body}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                answered.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let mut loaded = kills("loaded").await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for r in readers {
        r.await.unwrap();
    }
    assert!(answered.load(std::sync::atomic::Ordering::Relaxed) > 0);
    let (base, under) = (p99(&mut quiet), p99(&mut loaded));
    eprintln!("kill p99 without reads {base:?}, under heavy reads {under:?}");
    // Before reads were taken off the deciding threads, a kill waited
    // seconds behind them here.
    assert!(
        under <= base * 2 + std::time::Duration::from_millis(100),
        "kill p99 {under:?} under heavy reads against {base:?} without"
    );
}

#[tokio::test]
async fn ambiguous_or_undecodable_bodies_are_refused_naming_the_field() {
    let s = state();
    let post = |body: Vec<u8>| {
        let s = s.clone();
        async move { call_raw(&s, "POST", "/api/v1/kills", Some(INGEST), Body::from(body)).await }
    };
    let good = kill_json("amb-1", "svc").to_string();
    let twice = good.replacen(
        "\"kill_id\":\"amb-1\"",
        "\"kill_id\":\"amb-1\",\"kill_id\":\"amb-2\"",
        1,
    );
    assert_ne!(twice, good);
    let (status, body) = post(twice.into_bytes()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["errors"][0]["field"], "kill_id", "{body}");
    let batch = format!("[{good},{{\"a\":1,\"a\":2}}]");
    let (status, body) = post(batch.into_bytes()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["errors"][0]["field"], "[1].a", "{body}");
    let mut bad = good.clone().into_bytes();
    let at = bad.len() - 3;
    bad[at] = 0xff;
    let (status, body) = post(bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["errors"][0]["field"], "body", "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("UTF-8"),
        "{body}"
    );
    // Nothing of them was decided.
    let (_, page) = call(
        &s,
        "GET",
        "/api/v1/decisions?module=svc",
        Some(VIEWER),
        None,
    )
    .await;
    assert_eq!(page["data"]["decisions"], json!([]), "{page}");
}

#[tokio::test]
async fn every_kill_that_arrives_is_counted_received_whatever_becomes_of_it() {
    let s = state();
    let mut bad = kill_json("c-bad", "svc");
    bad["confidence_score"] = json!(7);
    // Each redelivery is the same kill, to the millisecond: built once.
    let (c1, c3) = (kill_json("c-1", "svc"), kill_json("c-3", "svc"));
    let batch = json!([c1, kill_json("c-2", "svc"), bad, {"hello": "world"}, c1]);
    let (status, body) = call(&s, "POST", "/api/v1/kills", Some(INGEST), Some(batch)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for single in [c3.clone(), c3, json!({"x": 1})] {
        call(&s, "POST", "/api/v1/kills", Some(INGEST), Some(single)).await;
    }
    let m = &s.engine.decider.metrics;
    assert_eq!(m.kills_received.get(), 8, "five in the batch, three alone");
    assert_eq!(m.kills_invalid.get(), 3);
    assert_eq!(m.duplicates.get(), 2);
}

/// The fields an error answer names, in order.
fn fields_at_fault(body: &Value) -> Vec<&str> {
    body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn a_kill_with_several_bad_fields_is_refused_naming_each() {
    let s = state();
    let mut k = kill_json("../x", "svc");
    k["confidence_score"] = json!(2);
    k["severity"] = json!("dreadful");
    let (status, body) = call(&s, "POST", "/api/v1/kills", Some(INGEST), Some(k)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let fields = fields_at_fault(&body);
    assert_eq!(
        fields,
        ["severity"],
        "a field of the wrong type first: {body}"
    );
    let mut k = kill_json("../x", "svc");
    k["confidence_score"] = json!(2);
    let (status, body) = call(&s, "POST", "/api/v1/kills", Some(INGEST), Some(k)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let fields = fields_at_fault(&body);
    assert_eq!(fields, ["kill_id", "confidence_score"], "{body}");
}

/// A strategy that computes until its deadline judges on a plugin thread:
/// the API's only worker thread answers `/health` meanwhile. (Were the
/// plugin called on the worker, `/health` would wait for its deadline.)
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_slow_plugin_does_not_stop_the_api_from_answering() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(crate::support::wasm("slow"), dir.path().join("slow.wasm")).unwrap();
    let mut config = medic::config::Config::embedded().unwrap();
    config.medic.plugins.directory = Some(dir.path().to_path_buf());
    config.medic.plugins.watch = false;
    config.medic.plugins.threads = 1;
    for binding in config.constitution.plugins.values_mut() {
        binding.strategy.name = "slow".into();
    }
    // engine_with gives plugins a 5 s deadline: the slow kill takes that long.
    let engine = engine_with(config, None);
    let deadline = engine.decider.config.medic.plugins.timeout;
    assert_eq!(engine.decider.registry.active().strategy.name(), "slow");
    let s = AppState::new(engine, keys(), Publisher::none());

    let mut slow = kill_json("slow-1", "report-renderer");
    slow["metadata"]["slow"] = json!("yes");
    let started = std::time::Instant::now();
    let posting = {
        let s = s.clone();
        tokio::spawn(
            async move { call(&s, "POST", "/api/v1/kills", Some(INGEST), Some(slow)).await },
        )
    };
    // The kill reaches its strategy (on the plugin thread) well within this.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    // Asked from a task, so that the runtime's one worker must serve it
    // (the test's own thread would not need the worker).
    let asked = std::time::Instant::now();
    let (status, body) = {
        let s = s.clone();
        tokio::spawn(async move { call(&s, "GET", "/health", None, None).await })
            .await
            .unwrap()
    };
    let answered_in = asked.elapsed();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        !posting.is_finished(),
        "the slow kill was still being judged when /health answered"
    );
    assert!(
        answered_in < deadline / 5,
        "/health took {answered_in:?} while a plugin judged (deadline {deadline:?})"
    );

    // The slow strategy ran out of time: a person decides, as for any
    // plugin failure.
    let (status, body) = posting.await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        started.elapsed() >= deadline,
        "the strategy ran to its deadline"
    );
    assert_eq!(
        body["data"]["decision"]["outcome"], "pending_review",
        "{body}"
    );
}
