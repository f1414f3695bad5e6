//! The `rest` SIEM adapter against a real HTTP server speaking its protocol
//! (docs/reference/protocols.md#the-rest-adapter): slow, failing, malformed
//! and recovering; the breaker opens and closes; a kill without context is
//! never auto-approved.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU32, Ordering};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use medic::config::raw::SiemAdapterType;
use medic::enrich::{SiemAdapter, SiemError, rest::RestSiem};
use medic::model::{ContextStatus, DecisionOutcome};
use serde_json::{Value, json};

use crate::pipeline_support::*;

const OK: u8 = 0;
const SLOW: u8 = 1;
const FAIL: u8 = 2;
const MALFORMED: u8 = 3;
const OUT_OF_RANGE: u8 = 4;

#[derive(Clone, Default)]
struct Siem {
    mode: Arc<AtomicU8>,
    calls: Arc<AtomicU32>,
    reported: Arc<std::sync::Mutex<Vec<Value>>>,
}

async fn query(
    State(s): State<Siem>,
    headers: HeaderMap,
    Json(q): Json<Value>,
) -> (StatusCode, String) {
    s.calls.fetch_add(1, Ordering::SeqCst);
    if headers.get("x-api-key").and_then(|v| v.to_str().ok()) != Some("siem-secret") {
        return (StatusCode::UNAUTHORIZED, String::new());
    }
    let answer = |risk: f64| {
        json!({"query_id": "q-1", "kill_id": q["kill_id"], "timestamp": chrono::Utc::now().to_rfc3339(),
               "threat_indicators": [], "historical_behavior": {}, "false_positive_history": 5,
               "network_context": {}, "user_context": null, "risk_score": risk, "recommendation": "restart"})
        .to_string()
    };
    match s.mode.load(Ordering::SeqCst) {
        SLOW => {
            tokio::time::sleep(Duration::from_secs(2)).await;
            (StatusCode::OK, answer(0.05))
        }
        FAIL => (StatusCode::INTERNAL_SERVER_ERROR, "boom".into()),
        MALFORMED => (StatusCode::OK, "{\"query_id\": ".into()),
        OUT_OF_RANGE => (StatusCode::OK, answer(4.2)),
        _ => (StatusCode::OK, answer(0.05)),
    }
}

/// Accepts TLS connections for axum, with the test PKI's certificate.
struct TlsListener {
    tcp: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            if let Ok((tcp, addr)) = self.tcp.accept().await
                && let Ok(tls) = self.acceptor.accept(tcp).await
            {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// The fake SIEM over https; returns its endpoint.
async fn serve_tls(siem: Siem, pki: &crate::test_pki::TestPki) -> String {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let app = axum::Router::new()
        .route("/siem/query", post(query))
        .with_state(siem);
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![CertificateDer::from(pki.cert_der.clone())],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.key_der.clone())),
    )
    .unwrap();
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = tcp.local_addr().unwrap();
    let listener = TlsListener {
        tcp,
        acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
    };
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("https://127.0.0.1:{}/siem", addr.port())
}

async fn outcomes(State(s): State<Siem>, headers: HeaderMap, Json(o): Json<Value>) -> StatusCode {
    if headers.get("x-api-key").and_then(|v| v.to_str().ok()) != Some("siem-secret") {
        return StatusCode::UNAUTHORIZED;
    }
    if s.mode.load(Ordering::SeqCst) == FAIL {
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    s.reported.lock().unwrap().push(o);
    StatusCode::ACCEPTED
}

async fn serve(siem: Siem) -> String {
    let app = axum::Router::new()
        .route("/siem/query", post(query))
        .route("/siem/outcomes", post(outcomes))
        .with_state(siem);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/siem")
}

fn section(endpoint: &str) -> medic::config::raw::SiemSection {
    let mut s = medic::config::Config::embedded().unwrap().medic.siem;
    s.adapter = SiemAdapterType::Rest;
    s.endpoint = endpoint.parse().expect("a URL");
    s.timeout = std::time::Duration::from_secs_f64(0.3);
    s.retry.max_attempts = 2;
    s.retry.backoff = std::time::Duration::from_secs_f64(0.01);
    s.retry.max_backoff = std::time::Duration::from_secs_f64(0.02);
    s.circuit_breaker.failure_threshold = 3;
    s.circuit_breaker.recovery_timeout = std::time::Duration::from_secs_f64(0.3);
    s.circuit_breaker.half_open_max_calls = 1;
    s.cache.ttl = std::time::Duration::from_secs_f64(0.0);
    s
}

#[tokio::test]
async fn slow_failing_malformed_and_recovering() {
    let siem = Siem::default();
    let endpoint = serve(siem.clone()).await;
    let adapter = RestSiem::new(&section(&endpoint), "siem-secret".into()).unwrap();
    let k = kill("s-1", "svc");

    let ctx = adapter.query_context(&k).await.unwrap();
    assert_eq!(ctx.kill_id, "s-1");
    assert_eq!(ctx.false_positive_history, 5);

    siem.mode.store(SLOW, Ordering::SeqCst);
    let before = siem.calls.load(Ordering::SeqCst);
    let err = adapter.query_context(&k).await.unwrap_err();
    assert!(matches!(err, SiemError::Timeout(_)), "{err}");
    assert_eq!(
        siem.calls.load(Ordering::SeqCst) - before,
        2,
        "a timeout is retried"
    );

    siem.mode.store(MALFORMED, Ordering::SeqCst);
    let before = siem.calls.load(Ordering::SeqCst);
    assert!(matches!(
        adapter.query_context(&k).await.unwrap_err(),
        SiemError::Validation(_)
    ));
    assert_eq!(
        siem.calls.load(Ordering::SeqCst) - before,
        1,
        "a bad answer is not retried"
    );
    siem.mode.store(OUT_OF_RANGE, Ordering::SeqCst);
    let err = adapter.query_context(&k).await.unwrap_err();
    assert!(err.to_string().contains("risk_score 4.2"), "{err}");

    siem.mode.store(OK, Ordering::SeqCst);
    assert!(adapter.query_context(&k).await.is_ok(), "recovers");

    let wrong_key = RestSiem::new(&section(&endpoint), "nope".into()).unwrap();
    assert!(matches!(
        wrong_key.query_context(&k).await.unwrap_err(),
        SiemError::Authorization(401)
    ));
}

#[tokio::test]
async fn the_breaker_opens_on_failures_and_closes_on_recovery() {
    let siem = Siem::default();
    let endpoint = serve(siem.clone()).await;
    let adapter = RestSiem::new(&section(&endpoint), "siem-secret".into()).unwrap();
    let k = kill("b-1", "svc");
    siem.mode.store(FAIL, Ordering::SeqCst);
    for _ in 0..3 {
        assert!(matches!(
            adapter.query_context(&k).await.unwrap_err(),
            SiemError::External(500)
        ));
    }
    assert_eq!(adapter.breaker_state(), Some("open"));
    let calls = siem.calls.load(Ordering::SeqCst);
    assert!(matches!(
        adapter.query_context(&k).await.unwrap_err(),
        SiemError::CircuitOpen
    ));
    assert_eq!(
        siem.calls.load(Ordering::SeqCst),
        calls,
        "an open breaker sends nothing"
    );

    siem.mode.store(OK, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert!(
        adapter.query_context(&k).await.is_ok(),
        "the half-open probe succeeds"
    );
    assert_eq!(adapter.breaker_state(), Some("closed"));
}

#[tokio::test]
async fn without_context_nothing_is_auto_approved() {
    let siem = Siem::default();
    let endpoint = serve(siem.clone()).await;
    let intel = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(intel.path(), LOW_RISK_INTEL).unwrap();
    let mut config = semi_auto(intel.path(), 100);
    config.medic.siem = section(&endpoint);
    let adapter: Arc<dyn SiemAdapter> =
        Arc::new(RestSiem::new(&config.medic.siem, "siem-secret".into()).unwrap());
    let d = decider_with(config, Some(adapter));

    let ok = decide(&d, "c-ok", "svc").await;
    assert_eq!(
        ok.decision().outcome,
        DecisionOutcome::ApproveAuto,
        "{:?}",
        ok.decision().reasoning
    );

    siem.mode.store(FAIL, Ordering::SeqCst);
    let failed = decide(&d, "c-fail", "svc").await;
    let dec = failed.decision();
    assert!(matches!(dec.context_status, ContextStatus::Failed(_)));
    assert_ne!(dec.outcome, DecisionOutcome::ApproveAuto);
    assert!(
        dec.reasoning
            .iter()
            .any(|r| r.contains("SIEM context unavailable")),
        "{:?}",
        dec.reasoning
    );

    // With the breaker open, semi-auto falls back to the configured mode.
    for i in 0..3 {
        decide(&d, &format!("c-fail-{i}"), "svc").await;
    }
    assert_eq!(d.siem.breaker_state(), Some("open"));
    let fallen = decide(&d, "c-open", "svc").await;
    assert_eq!(fallen.decision().mode, "observer");
    assert!(
        fallen
            .decision()
            .reasoning
            .iter()
            .any(|r| r.contains("falls back to Observer")),
        "{:?}",
        fallen.decision().reasoning
    );
}

#[tokio::test]
async fn decisions_are_queried_by_module_and_time() {
    let d = decider_with(medic::config::Config::embedded().unwrap(), None);
    for i in 0..3 {
        decide(&d, &format!("q-a-{i}"), "alpha").await;
    }
    decide(&d, "q-b-0", "beta").await;
    let from = chrono::Utc::now() - chrono::Duration::hours(1);
    let to = chrono::Utc::now() + chrono::Duration::minutes(1);
    let alpha = d.store.records_for_module("alpha", from, to).unwrap();
    assert_eq!(alpha.len(), 3);
    assert!(alpha.iter().all(|r| r.kill.target_module == "alpha"));
    assert_eq!(d.store.records_between(from, to).unwrap().len(), 4);
    let history = d.store.module_history("alpha", chrono::Utc::now()).unwrap();
    assert_eq!(history.kills_last_hour, 3);
    let made = d.store.audit_events(None, 100).unwrap();
    assert_eq!(
        made.iter()
            .filter(|e| e.kind == medic::store::AuditKind::DecisionMade)
            .count(),
        4
    );
}

#[tokio::test]
async fn an_https_siem_is_trusted_through_the_configured_ca() {
    let siem = Siem::default();
    let pki = crate::test_pki::make();
    let endpoint = serve_tls(siem.clone(), &pki).await;
    let ca = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(ca.path(), &pki.ca_pem).unwrap();
    let mut s = section(&endpoint);
    s.timeout = std::time::Duration::from_secs_f64(5.0);
    s.tls_ca_file = Some(ca.path().to_path_buf());
    let adapter = RestSiem::new(&s, "siem-secret".into()).unwrap();
    let ctx = adapter.query_context(&kill("tls-1", "svc")).await.unwrap();
    assert_eq!(ctx.kill_id, "tls-1");
    // Without the CA the certificate is not trusted: a connection error.
    s.tls_ca_file = None;
    let untrusted = RestSiem::new(&s, "siem-secret".into()).unwrap();
    let err = untrusted
        .query_context(&kill("tls-2", "svc"))
        .await
        .unwrap_err();
    assert!(matches!(err, SiemError::Connection(_)), "{err}");
    assert_eq!(
        siem.calls.load(Ordering::SeqCst),
        1,
        "the untrusted client never reached the handler"
    );
}

#[tokio::test]
async fn outcomes_are_reported_back_to_the_siem() {
    let siem = Siem::default();
    let endpoint = serve(siem.clone()).await;
    let adapter = RestSiem::new(&section(&endpoint), "siem-secret".into()).unwrap();
    let outcome: medic::model::OutcomeRecord = serde_json::from_value(json!({
        "outcome_id": "o-1", "request_id": "r-1", "decision_id": "d-1", "kill_id": "k-1",
        "result": "rollback", "recorded_at": chrono::Utc::now(), "time_to_stable": null,
        "post_resurrection_metrics": {"checks": 4, "failures": 4}, "smith_feedback": null,
        "human_feedback": null, "lessons_learned": ["rolled back: never healthy"],
        "should_adjust_threshold": true, "target_module": "svc", "risk_level": "low",
        "risk_score": 0.3, "decision": "approve_auto"
    }))
    .unwrap();
    assert_eq!(adapter.report_outcome(&outcome).await, Ok(true));
    let got = siem.reported.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["kill_id"], "k-1");
    assert_eq!(got[0]["result"], "rollback");
    siem.mode.store(FAIL, Ordering::SeqCst);
    assert_eq!(
        adapter.report_outcome(&outcome).await,
        Err(SiemError::External(500))
    );
    // No SIEM configured: nothing is reported, and that is said.
    assert_eq!(
        medic::enrich::NoSiem.report_outcome(&outcome).await,
        Ok(false)
    );
}
