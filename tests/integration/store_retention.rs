//! Retention (`learning.database.retention_days`): the sweep `medic serve`
//! runs removes what is past retention from the store, and the API's reads
//! no longer find it, while recent decisions stay; the sweep is counted in
//! the metrics.

use axum::body::Body;
use axum::http::StatusCode;
use chrono::Duration;
use medic::decide::Handled;
use medic::retention::Sweeper;
use medic::store::{DecisionRecord, Store, Stored};

use crate::api_access::send;
use crate::pipeline_support::{admin_state, decide, engine_on};
use crate::support::default_config;

const ADMIN: &str = "retention-admin-key-0123456789";

/// A decided kill as an engine made it, moved `age` into the past (a store
/// that has run for months: kills that old cannot be sent today).
fn aged(rec: &DecisionRecord, kill_id: &str, age: Duration) -> DecisionRecord {
    let mut old = rec.clone();
    let at = rec.decision.timestamp - age;
    old.kill.kill_id = kill_id.into();
    old.kill.timestamp = rec.kill.timestamp - age;
    old.decision.kill_id = kill_id.into();
    old.decision.timestamp = at;
    old.decision.decision_id = uuid::Uuid::new_v7(uuid::Timestamp::from_unix(
        uuid::NoContext,
        u64::try_from(at.timestamp()).unwrap(),
        at.timestamp_subsec_nanos(),
    ))
    .to_string();
    old
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_decisions_are_gone_from_the_api_and_recent_ones_stay() {
    let mut config = default_config();
    config.medic.learning.database.retention = std::time::Duration::from_secs(90 * 86_400);
    let store = Store::temporary().unwrap();
    let engine = engine_on(config.clone(), store.clone(), None, false);
    let mut recent = Vec::new();
    for i in 0..3 {
        match decide(&engine.decider, &format!("recent-{i}"), "billing-api").await {
            Handled::Decided(rec, _) => recent.push(*rec),
            other => panic!("a fresh kill was not decided: {:?}", other.decision()),
        }
    }
    let mut old = Vec::new();
    for i in 0..4 {
        let rec = aged(&recent[0], &format!("old-{i}"), Duration::days(91 + i));
        assert_eq!(store.store_decision(&rec).unwrap(), Stored::New);
        old.push(rec);
    }
    store.flush().await.unwrap();
    let s = admin_state(engine.clone(), ADMIN);
    let listed = |s: medic::api::AppState| async move {
        let (status, body, _) = send(
            &s,
            "GET",
            "/api/v1/decisions?from=2000-01-01T00:00:00Z&limit=100",
            Some(ADMIN),
            Body::empty(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let mut ids: Vec<String> = body["data"]["decisions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["kill_id"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(listed(s.clone()).await.len(), 7, "all of them before");

    let sweeper = Sweeper::from_config(
        &config,
        store.clone(),
        engine.fleet.clone(),
        engine.decider.metrics.clone(),
    )
    .expect("retention is on");
    let swept = sweeper.sweep_once().await.unwrap();
    assert_eq!(swept.decisions, 4);

    assert_eq!(
        listed(s.clone()).await,
        ["recent-0", "recent-1", "recent-2"]
    );
    for rec in &old {
        let uri = format!("/api/v1/decisions/{}", rec.decision.decision_id);
        let (status, body, _) = send(&s, "GET", &uri, Some(ADMIN), Body::empty()).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}: {body}");
    }
    for rec in &recent {
        let uri = format!("/api/v1/decisions/{}", rec.decision.decision_id);
        let (status, body, _) = send(&s, "GET", &uri, Some(ADMIN), Body::empty()).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {body}");
    }
    let metrics = engine.decider.metrics.render();
    assert!(
        metrics.contains("medic_store_retention_removed_total{kind=\"decision\"} 4"),
        "{metrics}"
    );
    assert!(
        metrics.contains("medic_store_retention_sweeps_total 1"),
        "{metrics}"
    );
    // Nothing more to remove; retention off builds no sweep.
    assert!(!sweeper.sweep_once().await.unwrap().any());
    config.medic.learning.database.retention = std::time::Duration::ZERO;
    assert!(
        Sweeper::from_config(
            &config,
            store,
            engine.fleet.clone(),
            engine.decider.metrics.clone()
        )
        .is_none()
    );
}
