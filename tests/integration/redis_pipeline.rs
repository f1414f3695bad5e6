//! End to end against a real (private) Redis: valid kills decided exactly
//! once, invalid ones dead-lettered with their reason, nothing left pending,
//! responses published with correlation ids; a Redis restart mid-stream is
//! survived.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use medic::config::Config;
use medic::config::raw::EventBusType;
use medic::decide::Decider;
use medic::ingest::redis::RedisConsumer;
use redis::Commands;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::pipeline_support::*;
use crate::redis_server::RedisServer;

const STREAM: &str = "smith.events.kill_notifications";

fn config_for(server: &RedisServer) -> Config {
    let mut c = Config::embedded().unwrap();
    let bus = &mut c.medic.smith.event_bus;
    bus.kind = EventBusType::Redis;
    bus.url = Some(server.url().parse().expect("a URL"));
    bus.block = std::time::Duration::from_millis(100);
    bus.claim_idle = std::time::Duration::from_millis(1000);
    c
}

fn start(
    decider: Arc<Decider>,
    config: &Config,
) -> (CancellationToken, tokio::task::JoinHandle<()>) {
    let stop = CancellationToken::new();
    let consumer = RedisConsumer::new(&config.medic.smith.event_bus, decider).unwrap();
    (stop.clone(), tokio::spawn(consumer.run(stop)))
}

pub fn pending(conn: &mut redis::Connection) -> usize {
    let reply: redis::Value = redis::cmd("XPENDING")
        .arg(STREAM)
        .arg("medic")
        .query(conn)
        .unwrap();
    match reply {
        redis::Value::Array(items) => match items.first() {
            Some(redis::Value::Int(n)) => *n as usize,
            _ => 0,
        },
        _ => 0,
    }
}

async fn wait_until(what: &str, secs: u64, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Adds a kill in its envelope; returns the entry's `data`.
fn add_envelope(conn: &mut redis::Connection, kill_id: &str) -> String {
    let env = json!({"version": "1.0", "message_type": "KILL_REPORT", "payload": kill_json(kill_id, "svc"),
                     "correlation_id": format!("corr-{kill_id}"), "reply_to": "medic.responses"})
    .to_string();
    let _: String = conn.xadd(STREAM, "*", &[("data", env.as_str())]).unwrap();
    env
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mixed_batch_ends_decided_once_dead_lettered_and_acknowledged() {
    let server = RedisServer::start();
    let mut conn = server.conn();
    let config = config_for(&server);
    let decider = decider_with(config.clone(), None);
    // Entries written before Medic starts are read too (start_from: earliest).
    let sent: Vec<String> = (0..150)
        .map(|i| add_envelope(&mut conn, &format!("e-{i}")))
        .collect();
    let (stop, task) = start(decider.clone(), &config);
    // The other accepted shapes: a payload field, and the kill's own fields.
    for i in 0..25 {
        let _: String = conn
            .xadd(
                STREAM,
                "*",
                &[("payload", kill_json(&format!("p-{i}"), "svc").to_string())],
            )
            .unwrap();
        let k = kill_json(&format!("f-{i}"), "svc");
        let fields: Vec<(String, String)> = k
            .as_object()
            .unwrap()
            .iter()
            .map(|(name, v)| {
                (
                    name.clone(),
                    v.as_str().map_or_else(|| v.to_string(), str::to_string),
                )
            })
            .collect();
        let _: String = conn.xadd(STREAM, "*", &fields).unwrap();
    }
    // Malformed entries, each with a different fault.
    let mut bad_conf = kill_json("bad-1", "svc");
    bad_conf["confidence_score"] = json!(7);
    let mut bad_module = kill_json("bad-2", "svc");
    bad_module["target_module"] = json!("svc && reboot");
    let bads: Vec<Vec<(&str, String)>> = vec![
        vec![("data", "{not json".into())],
        vec![("payload", bad_conf.to_string())],
        vec![("payload", bad_module.to_string())],
        vec![("hello", "world".into())],
        vec![("data", json!({"message_type": "PING"}).to_string())],
    ];
    for fields in &bads {
        let _: String = conn.xadd(STREAM, "*", fields).unwrap();
    }
    // A second delivery of a kill already sent, the same entry again.
    let _: String = conn
        .xadd(STREAM, "*", &[("data", sent[7].as_str())])
        .unwrap();
    // Another kill under an id already used: a conflict, dead-lettered.
    let mut reused = kill_json("e-8", "svc-other");
    reused["target_instance_id"] = json!("svc-other-1");
    let _: String = conn
        .xadd(STREAM, "*", &[("payload", reused.to_string())])
        .unwrap();

    let store = decider.store.clone();
    wait_until("every kill decided", 60, || store.decision_count() == 200).await;
    wait_until("nothing pending", 30, || pending(&mut server.conn()) == 0).await;
    stop.cancel();
    task.await.unwrap();

    assert_eq!(decider.store.decision_count(), 200);
    let dead: Vec<redis::streams::StreamId> = {
        let reply: redis::streams::StreamRangeReply = conn
            .xrange_all("smith.events.kill_notifications.dead")
            .unwrap();
        reply.ids
    };
    assert_eq!(dead.len(), bads.len() + 1);
    let reasons: Vec<String> = dead
        .iter()
        .map(|e| e.get::<String>("reason").unwrap())
        .collect();
    for expected in [
        "message",
        "payload.confidence_score",
        "payload.target_module",
        "entry",
        "message_type",
        "kill_id: already decided",
    ] {
        assert!(
            reasons.iter().any(|r| r.contains(expected)),
            "no dead letter names {expected}: {reasons:?}"
        );
    }
    // One response per delivery (the duplicate's repeats its decision).
    let responses: redis::streams::StreamRangeReply = conn.xrange_all("medic.responses").unwrap();
    assert_eq!(responses.ids.len(), 201);
    let decision_ids: HashSet<String> = responses
        .ids
        .iter()
        .map(|e| e.get::<String>("decision_id").unwrap())
        .collect();
    assert_eq!(decision_ids.len(), 200);
    let e7: Vec<_> = responses
        .ids
        .iter()
        .filter(|e| e.get::<String>("kill_id").as_deref() == Some("e-7"))
        .collect();
    assert_eq!(e7.len(), 2);
    assert_eq!(
        e7[0].get::<String>("correlation_id").as_deref(),
        Some("corr-e-7")
    );
    // Refused: the malformed entries and the reused kill_id.
    assert_eq!(decider.metrics.kills_invalid.get(), bads.len() as u64 + 1);
    assert_eq!(decider.metrics.kill_conflicts.get(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_restart_mid_stream_loses_nothing() {
    let mut server = RedisServer::start();
    let config = config_for(&server);
    let decider = decider_with(config.clone(), None);
    let (stop, task) = start(decider.clone(), &config);
    let mut conn = server.conn();
    for i in 0..300 {
        add_envelope(&mut conn, &format!("r1-{i}"));
    }
    let store = decider.store.clone();
    wait_until("some kills decided", 30, || store.decision_count() > 0).await;
    server.restart(Duration::from_millis(300));
    let mut conn = server.conn();
    for i in 0..300 {
        add_envelope(&mut conn, &format!("r2-{i}"));
    }
    wait_until("every kill decided after the restart", 60, || {
        store.decision_count() == 600
    })
    .await;
    wait_until("nothing pending", 30, || pending(&mut server.conn()) == 0).await;
    stop.cancel();
    task.await.unwrap();
    assert!(
        decider.metrics.redis_reconnects.get() >= 1,
        "the consumer noticed the restart"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_abandoned_by_a_dead_consumer_are_claimed() {
    let server = RedisServer::start();
    let mut conn = server.conn();
    let _: () = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(STREAM)
        .arg("medic")
        .arg("0")
        .arg("MKSTREAM")
        .query(&mut conn)
        .unwrap();
    for i in 0..20 {
        add_envelope(&mut conn, &format!("orphan-{i}"));
    }
    // Another consumer reads them and dies without acknowledging.
    let _: redis::Value = redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg("medic")
        .arg("crashed-medic")
        .arg("COUNT")
        .arg(100)
        .arg("STREAMS")
        .arg(STREAM)
        .arg(">")
        .query(&mut conn)
        .unwrap();
    assert_eq!(pending(&mut conn), 20);
    let config = config_for(&server);
    let decider = decider_with(config.clone(), None);
    let (stop, task) = start(decider.clone(), &config);
    let store = decider.store.clone();
    wait_until("the orphans claimed and decided", 30, || {
        store.decision_count() == 20
    })
    .await;
    wait_until("nothing pending", 30, || pending(&mut server.conn()) == 0).await;
    stop.cancel();
    task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kills_arrive_over_rediss_trusting_the_configured_ca() {
    let server = RedisServer::start_tls();
    let mut config = config_for(&server);
    assert!(
        config
            .medic
            .smith
            .event_bus
            .url
            .as_ref()
            .is_some_and(|u| u.scheme() == "rediss")
    );
    config.medic.smith.event_bus.tls_ca_file = Some(server.ca_file().unwrap().to_path_buf());
    let decider = decider_with(config.clone(), None);
    let (stop, task) = start(decider.clone(), &config);
    let mut conn = server.conn();
    for i in 0..20 {
        add_envelope(&mut conn, &format!("tls-{i}"));
    }
    let store = decider.store.clone();
    wait_until("every kill decided over TLS", 30, || {
        store.decision_count() == 20
    })
    .await;
    stop.cancel();
    task.await.unwrap();

    // Without the CA, the server's certificate is not trusted.
    config.medic.smith.event_bus.tls_ca_file = None;
    let untrusted = medic::ingest::redis::client(&config.medic.smith.event_bus).unwrap();
    assert!(untrusted.get_multiplexed_async_connection().await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_consumer_groups_backlog_is_measured_for_metrics() {
    let server = RedisServer::start();
    let mut config = config_for(&server);
    // The backlog is sampled with each claim pass: every second here.
    config.medic.smith.event_bus.claim_idle = std::time::Duration::from_millis(2000);
    let mut conn = server.conn();
    for i in 0..50 {
        add_envelope(&mut conn, &format!("b-{i}"));
    }
    let decider = decider_with(config.clone(), None);
    assert_eq!(
        decider.metrics.redis_lag.get(),
        None,
        "unknown before a sample"
    );
    assert!(!decider.metrics.render().contains("medic_redis_lag"));
    let (stop, task) = start(decider.clone(), &config);
    let m = decider.metrics.clone();
    // Sampled as the consumer starts: all 50 wait to be delivered.
    wait_until("a lag of 50", 10, || m.redis_lag.get() == Some(50)).await;
    wait_until("no backlog", 30, || {
        m.redis_lag.get() == Some(0) && m.redis_pending.get() == Some(0)
    })
    .await;
    assert_eq!(decider.store.decision_count(), 50);
    let text = m.render();
    assert!(text.contains("medic_redis_lag 0\n"), "{text}");
    assert!(text.contains("medic_redis_pending 0\n"), "{text}");
    stop.cancel();
    task.await.unwrap();
}

/// A request to the API of `state` with the admin key these tests give it
/// (when it has one), and its answer as JSON.
async fn api(
    state: &medic::api::AppState,
    method: &'static str,
    path: &'static str,
    body: Option<serde_json::Value>,
) -> (axum::http::StatusCode, serde_json::Value) {
    use tower::ServiceExt;
    let req = axum::http::Request::builder()
        .method(method)
        .uri(path)
        .header("x-api-key", ADMIN_KEY)
        .header("content-type", "application/json")
        .body(body.map_or(axum::body::Body::empty(), |b| {
            axum::body::Body::from(b.to_string())
        }))
        .unwrap();
    let res = medic::api::router(state.clone())
        .oneshot(req)
        .await
        .unwrap();
    let code = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap();
    (code, serde_json::from_slice(&bytes).unwrap())
}

const ADMIN_KEY: &str = "admin-key-0123456789";

/// `/health` and `/health/ready` through a Redis outage: the event bus shows
/// as failing and the engine as not ready while Redis is down, and as ok
/// once the consumer is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reports_the_event_bus_through_an_outage() {
    use axum::http::StatusCode;

    let mut server = RedisServer::start();
    let config = config_for(&server);
    let engine = engine_with(config.clone(), None);
    let state = medic::api::AppState::new(
        engine.clone(),
        medic::api::ApiKeys::new(&[], None).unwrap(),
        medic::publish::Publisher::none(),
    );
    let get = |path: &'static str| api(&state, "GET", path, None);
    let up = || engine.decider.metrics.event_bus_up.get();
    let (stop, task) = start(engine.decider.clone(), &config);
    wait_until("the consumer connected", 30, || up() == Some(1)).await;
    let (code, body) = get("/health").await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(body["checks"]["event_bus"], "ok", "{body}");
    assert_eq!(body["checks"]["siem_connection"], "disabled", "{body}");
    assert_eq!(body["ready"], true);
    assert_eq!(get("/health/ready").await.0, StatusCode::OK);

    server.stop();
    wait_until("the consumer noticed", 30, || up() == Some(0)).await;
    let (code, body) = get("/health").await;
    assert_eq!(code, StatusCode::OK, "alive, though not ready: {body}");
    assert_eq!(body["status"], "degraded", "{body}");
    assert_eq!(body["checks"]["event_bus"], "failing", "{body}");
    assert_eq!(body["ready"], false);
    assert_eq!(
        get("/health/ready").await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );

    server.start_again();
    wait_until("the consumer reconnected", 30, || up() == Some(1)).await;
    assert_eq!(get("/health/ready").await.0, StatusCode::OK);
    stop.cancel();
    task.await.unwrap();
}

/// The responses to kills that came over HTTP wait in the store's outbox
/// through a Redis outage and reach the stream once Redis is back; one that
/// Redis will never take (its `reply_to` is a key of another type) is
/// dead-lettered, not retried for ever, and holds up none after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_to_http_kills_wait_out_a_redis_outage_in_the_outbox() {
    use axum::http::StatusCode;

    let mut server = RedisServer::start();
    let config = config_for(&server);
    let engine = engine_with(config.clone(), None);
    let store = engine.decider.store.clone();
    let publisher = medic::publish::Publisher::redis(
        redis::Client::open(server.url()).unwrap(),
        None,
        "medic.responses",
        store.clone(),
        engine.decider.metrics.clone(),
    );
    let stop = CancellationToken::new();
    let outbox = tokio::spawn(publisher.outbox().expect("an outbox").run(stop.clone()));
    let state = medic::api::AppState::new(
        engine.clone(),
        medic::api::ApiKeys::new(&[], Some(ADMIN_KEY)).unwrap(),
        publisher.clone(),
    );
    let call = |method: &'static str, path: &'static str, body: Option<serde_json::Value>| {
        api(&state, method, path, body)
    };
    let client = redis::Client::open(server.url()).unwrap();
    let answered = |kill_id: &str| {
        let Ok(mut conn) = client.get_connection() else {
            return 0;
        };
        let entries: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
            .arg("medic.responses")
            .arg("-")
            .arg("+")
            .query(&mut conn)
            .unwrap_or_default();
        entries
            .iter()
            .filter(|(_, f)| f.iter().any(|(k, v)| k == "kill_id" && v == kill_id))
            .count()
    };

    let (code, body) = call("POST", "/api/v1/kills", Some(kill_json("ob-1", "svc"))).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    wait_until("the first response", 30, || answered("ob-1") == 1).await;
    // Redis has it before the publisher hears so and takes it out of the
    // outbox: wait for that too, or it still counts as waiting below.
    wait_until("the first response out of the outbox", 10, || {
        publisher.waiting() == Some(0)
    })
    .await;

    server.stop();
    let (code, body) = call("POST", "/api/v1/kills", Some(kill_json("ob-2", "svc"))).await;
    assert_eq!(code, StatusCode::OK, "decided though Redis is down: {body}");
    assert_eq!(publisher.waiting(), Some(1));
    let (_, health) = call("GET", "/health", None).await;
    assert_eq!(health["checks"]["responses"], "waiting", "{health}");
    assert_eq!(health["checks"]["responses_waiting"], 1, "{health}");

    server.start_again();
    wait_until("the response after the outage", 60, || {
        answered("ob-2") == 1
    })
    .await;
    wait_until("the outbox emptied", 10, || publisher.waiting() == Some(0)).await;
    let (_, health) = call("GET", "/health", None).await;
    assert_eq!(health["checks"]["responses"], "ok", "{health}");

    // A reply stream that is not a stream: refused for good, dead-lettered
    // and counted.
    let dead_before = engine.decider.metrics.dead_letters.get();
    let mut conn = server.conn();
    let _: () = conn.set("medic.responses.wrongtype", "a string").unwrap();
    let env = json!({"version": "1.0", "message_type": "KILL_REPORT",
                     "payload": kill_json("ob-3", "svc"), "reply_to": "medic.responses.wrongtype"});
    let (code, body) = call("POST", "/api/v1/kills", Some(env)).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    let (code, body) = call("POST", "/api/v1/kills", Some(kill_json("ob-4", "svc"))).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    wait_until("the response after the refused one", 30, || {
        answered("ob-4") == 1
    })
    .await;
    wait_until("the outbox emptied", 10, || publisher.waiting() == Some(0)).await;
    let now = chrono::Utc::now();
    let dead = store
        .dead_letters_between(now - chrono::Duration::minutes(5), now)
        .unwrap();
    assert!(
        dead.iter()
            .any(|d| d.source == "outbox" && d.reason.contains("medic.responses.wrongtype")),
        "{dead:?}"
    );
    assert_eq!(engine.decider.metrics.dead_letters.get(), dead_before + 1);
    stop.cancel();
    outbox.await.unwrap();
}

/// A kill whose reply_to names a key Redis will not add to (not a stream)
/// is decided and acknowledged, its lost response kept as a dead letter,
/// and nothing is retried for ever; the entries beside it are answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_redis_refuses_is_dead_lettered_not_retried_for_ever() {
    let server = RedisServer::start();
    let mut conn = server.conn();
    let config = config_for(&server);
    let decider = decider_with(config.clone(), None);
    let _: () = conn.set("medic.responses.wrongtype", "a string").unwrap();
    let env = json!({"version": "1.0", "message_type": "KILL_REPORT",
                     "payload": kill_json("wt-1", "svc"), "reply_to": "medic.responses.wrongtype"})
    .to_string();
    let _: String = conn.xadd(STREAM, "*", &[("data", env.as_str())]).unwrap();
    add_envelope(&mut conn, "wt-2");
    let (stop, task) = start(decider.clone(), &config);
    wait_until("both decided and acknowledged", 30, || {
        decider.store.decision_count() == 2 && pending(&mut conn) == 0
    })
    .await;
    let answered: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
        .arg("medic.responses")
        .arg("-")
        .arg("+")
        .query(&mut conn)
        .unwrap();
    assert_eq!(answered.len(), 1, "{answered:?}");
    // Redis's replies to the pipeline (responses, then the XACK) are read
    // after it ran: the dead letter follows the acknowledgement.
    wait_until("the refused response dead-lettered", 10, || {
        let now = chrono::Utc::now();
        decider
            .store
            .dead_letters_between(now - chrono::Duration::minutes(5), now)
            .unwrap()
            .iter()
            .any(|d| d.field == "reply_to" && d.reason.contains("WRONGTYPE"))
    })
    .await;
    assert_eq!(decider.metrics.dead_letters.get(), 1, "counted");
    // Past the claim time nothing comes back for another try.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(pending(&mut conn), 0);
    assert_eq!(decider.store.decision_count(), 2);
    stop.cancel();
    task.await.unwrap();
}
