//! The replay gate before a swap, in process with a real store and the
//! real API: kills a person denied are known threats; binding a strategy
//! that would bring them back alone is refused with the kills listed; a
//! safe one goes through; an admin's override is audited with what the
//! gate found. Semi-automatic operation as shipped, run in `manual` for
//! now, with a SIEM whose intel says every kill looks like a false
//! positive, and `approve-all` and `swap-test` in the plugin directory.

use std::sync::Arc;

use axum::body::Body;
use axum::http::StatusCode;
use chrono::Utc;
use medic::api::AppState;
use medic::config::Mode;
use serde_json::{Value, json};

use crate::api_access::send;
use crate::pipeline_support::{
    LOW_RISK_INTEL, admin_state, engine_on, incoming, kill, semi_auto_config,
};
use crate::support::wasm;

const ADMIN: &str = "gate-admin-key-0123456789";

async fn put_binding(s: &AppState, body: Value) -> (StatusCode, Value) {
    let (status, body, _) = send(
        s,
        "PUT",
        "/api/v1/plugins/bindings/phase_3_semi_auto",
        Some(ADMIN),
        Body::from(body.to_string()),
    )
    .await;
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsafe_strategy_is_refused_with_the_threats_it_would_revive_and_a_safe_one_passes() {
    let plugins = tempfile::tempdir().unwrap();
    for name in ["approve-all", "swap-v1"] {
        std::fs::copy(wasm(name), plugins.path().join(format!("{name}.wasm"))).unwrap();
    }
    let intel = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(intel.path(), LOW_RISK_INTEL).unwrap();
    let engine = engine_on(
        semi_auto_config(plugins.path(), intel.path(), Mode::Manual),
        crate::postgres_db::test_store(),
        None,
        true,
    );
    // Four kills, each put to a person in manual mode, who denies it: four
    // kills known to be threats, though their evidence looks benign.
    let queue = engine.acting.as_ref().unwrap().queue.clone();
    let mut threats = Vec::new();
    for i in 0..4 {
        let id = format!("gate-threat-{i}");
        engine
            .decider
            .handle(incoming(kill(&id, &format!("report-renderer-{i}"))))
            .await
            .unwrap();
        let item = queue
            .list_pending(100)
            .unwrap()
            .into_iter()
            .find(|q| q.decision.kill_id == id)
            .expect("put to a person");
        queue
            .deny(&item.item_id, "oncall", "lateral movement seen", Utc::now())
            .unwrap();
        threats.push(id);
    }
    engine.decider.store.flush().await.unwrap();

    let s = admin_state(engine.clone(), ADMIN);

    // approve-all would bring every one of them back alone: refused, each
    // kill named, and phase 3 keeps its strategy.
    let (status, body) = put_binding(&s, json!({"kind": "strategy", "name": "approve-all"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap().to_string();
    assert!(
        message.contains("would have revived 4 kill(s) known to be threats"),
        "{message}"
    );
    for id in &threats {
        assert!(message.contains(id.as_str()), "{id} not listed: {message}");
    }
    let bound = engine.decider.registry.bindings();
    assert_eq!(bound["phase_3_semi_auto"].strategy.name, "pessimistic");

    // swap-test puts every kill to a person, as the strategy in force does
    // with this evidence and no history: it passes.
    let (status, body) = put_binding(&s, json!({"kind": "strategy", "name": "swap-test"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        engine.decider.registry.bindings()["phase_3_semi_auto"]
            .strategy
            .name,
        "swap-test"
    );

    // An admin overrides, with a reason: it binds, and the audit record
    // holds the reason and what the gate found.
    let (status, body) = put_binding(
        &s,
        json!({"kind": "strategy", "name": "approve-all", "override_reason": "drill 12: reverting in 5 minutes"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let audit = engine.decider.store.audit_events(None, 1000).unwrap();
    let bind = audit
        .iter()
        .rev()
        .find(|e| e.details["action"] == "bind")
        .expect("the binding is audited");
    assert_eq!(bind.actor, "ops");
    assert_eq!(
        bind.details["gate_override"], "drill 12: reverting in 5 minutes",
        "{}",
        bind.details
    );
    assert_eq!(
        bind.details["gate"]["threats_revived"], 4,
        "{}",
        bind.details
    );
    assert_eq!(bind.details["gate"]["replayed"], 4, "{}", bind.details);

    // An override needs a reason.
    let (status, body) = put_binding(
        &s,
        json!({"kind": "strategy", "name": "pessimistic", "override_reason": "  "}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["errors"][0]["field"], "override_reason");

    // A restart with approve-all bound in the constitution: the file loads
    // before the gate exists, so `medic serve` replays it once the engine
    // is built, and refuses to start.
    let restarted = |strategy: &str| {
        let mut c = semi_auto_config(plugins.path(), intel.path(), Mode::Manual);
        c.constitution
            .plugins
            .get_mut("phase_3_semi_auto")
            .unwrap()
            .strategy
            .name = strategy.into();
        engine_on(c, engine.decider.store.clone(), None, true)
    };
    let e = restarted("approve-all")
        .decider
        .registry
        .gate_loaded_files()
        .expect_err("refused at start");
    assert!(e.to_string().contains("known to be threats"), "{e}");
    let passed = restarted("swap-test")
        .decider
        .registry
        .gate_loaded_files()
        .expect("a file that revives no known threat passes");
    assert_eq!(passed.len(), 1, "phase 3 serves a file");
    assert_eq!(passed[0].replayed, 4);
    let _keep: Arc<_> = engine;
}

/// The other rule: a candidate that would revive no known threat but
/// decides otherwise than the plugins in force on more than
/// `plugins.gate.max_disagreement` of the kills is refused too, saying so;
/// with a larger share allowed, the same binding passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_strategy_that_disagrees_too_often_is_refused_and_the_share_is_configurable() {
    let plugins = tempfile::tempdir().unwrap();
    std::fs::copy(wasm("deny-all"), plugins.path().join("deny-all.wasm")).unwrap();
    let intel = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(intel.path(), LOW_RISK_INTEL).unwrap();
    let store = crate::postgres_db::test_store();
    let attempt = |max_disagreement: f64| {
        let mut c = semi_auto_config(plugins.path(), intel.path(), Mode::Manual);
        c.medic.plugins.gate.max_disagreement = max_disagreement;
        engine_on(c, store.clone(), None, true)
    };
    // Kills that look benign, each denied by a person: known threats,
    // which the strategy in force (pessimistic) puts to a person and
    // deny-all would deny: it revives none of them, and disagrees on every
    // one.
    let engine = attempt(0.2);
    let queue = engine.acting.as_ref().unwrap().queue.clone();
    for i in 0..4 {
        let id = format!("gate-differs-{i}");
        engine
            .decider
            .handle(incoming(kill(&id, &format!("batch-{i}"))))
            .await
            .unwrap();
        let item = queue
            .list_pending(100)
            .unwrap()
            .into_iter()
            .find(|q| q.decision.kill_id == id)
            .expect("put to a person");
        queue
            .deny(&item.item_id, "oncall", "malware confirmed", Utc::now())
            .unwrap();
    }
    store.flush().await.unwrap();
    let s = admin_state(engine.clone(), ADMIN);
    let (status, body) = put_binding(&s, json!({"kind": "strategy", "name": "deny-all"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap().to_string();
    assert!(
        message.contains("decides otherwise than the plugins serving now on 4 of 4 kills"),
        "{message}"
    );
    assert!(!message.contains("known to be threats"), "{message}");
    for i in 0..4 {
        assert!(message.contains(&format!("gate-differs-{i}")), "{message}");
    }
    drop(s);
    drop(engine);

    // Allowing every kill to differ, the same binding goes through.
    let engine = attempt(1.0);
    let s = admin_state(engine.clone(), ADMIN);
    let (status, body) = put_binding(&s, json!({"kind": "strategy", "name": "deny-all"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// A new version of the plugin serving a phase is gated whichever way it
/// comes: dropped in the directory (refused, the version in force keeps
/// serving, the refusal recorded with the gate's findings) or uploaded
/// (refused naming `plugin`, and nothing written).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_version_is_gated_when_dropped_in_the_directory_and_when_uploaded() {
    let plugins = tempfile::tempdir().unwrap();
    let file = plugins.path().join("swap.wasm");
    let v1 = crate::support::wasm_bytes("swap-v1");
    let v3 = crate::support::wasm_bytes("swap-v3");
    std::fs::write(&file, &v1).unwrap();
    let intel = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(intel.path(), LOW_RISK_INTEL).unwrap();
    let engine = engine_on(
        semi_auto_config(plugins.path(), intel.path(), Mode::Manual),
        crate::postgres_db::test_store(),
        None,
        true,
    );
    // Known threats: benign-looking kills a person denied.
    let queue = engine.acting.as_ref().unwrap().queue.clone();
    for i in 0..4 {
        let id = format!("gate-version-{i}");
        engine
            .decider
            .handle(incoming(kill(&id, &format!("batch-{i}"))))
            .await
            .unwrap();
        let item = queue
            .list_pending(100)
            .unwrap()
            .into_iter()
            .find(|q| q.decision.kill_id == id)
            .expect("put to a person");
        queue
            .deny(&item.item_id, "oncall", "malware confirmed", Utc::now())
            .unwrap();
    }
    engine.decider.store.flush().await.unwrap();
    let s = admin_state(engine.clone(), ADMIN);
    // swap-test 1.0.0 puts every kill to a person, as pessimistic does here.
    let (status, body) = put_binding(&s, json!({"kind": "strategy", "name": "swap-test"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let registry = engine.decider.registry.clone();
    let serving_version = || {
        registry
            .get("swap-test")
            .map(|p| p.info().version.clone())
            .unwrap_or_default()
    };

    // Version 3.0.0 denies every kill: dropped in place, it is refused.
    std::fs::write(&file, &v3).unwrap();
    let e = registry.load_file(&file).expect_err("gated");
    assert!(e.to_string().contains("decides otherwise"), "{e}");
    assert_eq!(serving_version(), "1.0.0");
    let event = registry.events().pop().unwrap();
    assert_eq!(event.outcome, "rejected");
    assert_eq!(
        event.gate.as_ref().map(|g| g.disagreements),
        Some(4),
        "{event:?}"
    );

    // Uploaded, it is refused before anything is written.
    std::fs::write(&file, &v1).unwrap();
    let (status, body, _) = send(
        &s,
        "POST",
        "/api/v1/plugins?name=swap",
        Some(ADMIN),
        Body::from(v3.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["errors"][0]["field"], "plugin", "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("decides otherwise"),
        "{body}"
    );
    assert_eq!(std::fs::read(&file).unwrap(), v1, "nothing written");
    assert_eq!(serving_version(), "1.0.0");
}
