//! Shadow evaluation, in process with a real store and the real API: a
//! shadow strategy bound in the constitution judges every live kill beside
//! the one in force; its record, joined with what happened (people's
//! denials, resurrection outcomes), matches numbers this test works out
//! from its own design; promoting it goes through the replay gate and is
//! audited.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::StatusCode;
use chrono::Utc;
use medic::config::raw::{PluginBinding, ShadowPlugins};
use medic::config::{Config, Mode};
use medic::model::{DecisionOutcome, OutcomeResult, RiskLevel};
use serde_json::{Value, json};

use crate::api_access::send;
use crate::learning::outcome;
use crate::pipeline_support::{
    admin_state, engine_on, incoming, kill, semi_auto_config, threat_intel,
};
use crate::support::wasm;

const ADMIN: &str = "shadow-admin-key-0123456789";

/// Semi-automatic as shipped, with `approve-all` as phase 3's shadow
/// strategy, and a SIEM whose intel marks the `intel-*` modules as threats
/// and every other module as a likely false positive.
fn config(plugins: &Path, intel: &Path) -> Config {
    let mut c = semi_auto_config(plugins, intel, Mode::SemiAuto);
    let bound = |name: &str| PluginBinding {
        name: name.into(),
        sha256: None,
    };
    c.constitution
        .plugins
        .get_mut("phase_3_semi_auto")
        .unwrap()
        .shadow = Some(ShadowPlugins {
        risk_scorer: bound("evidence"),
        strategy: bound("approve-all"),
    });
    c
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Truth {
    Threat,
    FalsePositive,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shadow_judges_every_kill_and_its_record_matches_what_happened() {
    let plugins = tempfile::tempdir().unwrap();
    std::fs::copy(wasm("approve-all"), plugins.path().join("approve-all.wasm")).unwrap();
    let intel = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(intel.path(), threat_intel(&["intel-0", "intel-1"])).unwrap();
    let engine = engine_on(
        config(plugins.path(), intel.path()),
        crate::postgres_db::test_store(),
        None,
        true,
    );

    // Two kills of each of ten quiet modules and two under threat intel.
    // By design, approve-all (under the same guardrails) brings back the
    // quiet ones alone and not the others (their risk is over the limit).
    let mut kills = Vec::new();
    for m in (0..10)
        .map(|i| format!("web-{i}"))
        .chain(["intel-0".into(), "intel-1".into()])
    {
        for n in 0..2 {
            kills.push((format!("sh-{m}-{n}"), m.clone()));
        }
    }
    let mut live: BTreeMap<String, (DecisionOutcome, String)> = BTreeMap::new();
    for (id, module) in &kills {
        let handled = engine
            .decider
            .handle(incoming(kill(id, module)))
            .await
            .unwrap();
        let d = handled.decision();
        live.insert(id.clone(), (d.outcome, d.decision_id.clone()));
    }
    let expected_shadow = |module: &str| {
        if module.starts_with("web-") {
            DecisionOutcome::ApproveAuto
        } else {
            DecisionOutcome::PendingReview
        }
    };

    // What happened: each module's first kill was a real threat (a person
    // denied it, or its resurrection was rolled back), its second a false
    // positive (its resurrection held).
    let store = engine.decider.store.clone();
    let queue = engine.acting.as_ref().unwrap().queue.clone();
    let mut truth = BTreeMap::new();
    for (i, (id, module)) in kills.iter().enumerate() {
        let t = if id.ends_with("-0") {
            Truth::Threat
        } else {
            Truth::FalsePositive
        };
        truth.insert(id.clone(), t);
        let (outcome_now, decision_id) = &live[id];
        let pending = queue
            .list_pending(1000)
            .unwrap()
            .into_iter()
            .find(|q| &q.decision.kill_id == id);
        match (t, pending) {
            (Truth::Threat, Some(item)) => {
                queue
                    .deny(&item.item_id, "oncall", "confirmed intrusion", Utc::now())
                    .unwrap();
            }
            (t, _) => {
                let mut o = outcome(
                    9000 + i,
                    module,
                    RiskLevel::Low,
                    if t == Truth::Threat {
                        OutcomeResult::Rollback
                    } else {
                        OutcomeResult::Success
                    },
                    Utc::now(),
                );
                o.decision_id = decision_id.clone();
                o.kill_id = id.clone();
                o.decision = *outcome_now;
                store.put_outcome(&o).unwrap();
            }
        }
    }
    store.flush().await.unwrap();

    // The shadow judges off the kills' path: wait for all its records.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let n = store
            .shadows_between(Utc::now() - chrono::TimeDelta::hours(1), Utc::now())
            .unwrap()
            .len();
        if n == kills.len() {
            break;
        }
        assert!(Instant::now() < deadline, "{n} of {} shadowed", kills.len());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // The numbers, worked out from the design above and the live outcomes.
    let auto = DecisionOutcome::ApproveAuto;
    let (mut agreed, mut revive, mut sooner, mut hold) = (0, 0, 0, 0);
    for (id, module) in &kills {
        let (l, s, t) = (live[id].0, expected_shadow(module), truth[id]);
        agreed += usize::from(l == s);
        revive += usize::from(t == Truth::Threat && s == auto);
        sooner += usize::from(t == Truth::FalsePositive && s == auto && l != auto);
        hold += usize::from(t == Truth::Threat && l == auto && s != auto);
    }
    assert_eq!(revive, 10, "the design: ten quiet modules' threats");

    let s = admin_state(engine.clone(), ADMIN);
    let (status, body, _) = send(
        &s,
        "GET",
        "/api/v1/shadow?hours=1",
        Some(ADMIN),
        Body::empty(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let data = &body["data"];
    assert_eq!(data["strategy"], "approve-all@1.0.0", "{data}");
    let r = &data["report"];
    assert_eq!(r["judged"], kills.len(), "{r}");
    assert_eq!(r["known"], kills.len(), "{r}");
    assert_eq!(r["known_threats"], kills.len() / 2, "{r}");
    assert_eq!(r["agreed"], agreed, "{r}");
    assert_eq!(r["would_revive_threats"], revive, "{r}");
    assert_eq!(r["would_recover_sooner"], sooner, "{r}");
    assert_eq!(r["would_hold_threats"], hold, "{r}");
    assert_eq!(r["errors"], 0, "{r}");
    let listed: Vec<&str> = r["revive_threats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kill_id"].as_str().unwrap())
        .collect();
    for i in 0..10 {
        assert!(
            listed.contains(&format!("sh-web-{i}-0").as_str()),
            "{listed:?}"
        );
    }
    let pairs: usize = r["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["count"].as_u64().unwrap() as usize)
        .sum();
    assert_eq!(pairs, kills.len());

    // Promoting it: the replay gate refuses (it would revive the known
    // threats); an admin overrides with a reason, and it is audited.
    let promote = |body: Value| {
        let s = s.clone();
        async move {
            let (status, body, _) = send(
                &s,
                "POST",
                "/api/v1/shadow/promote",
                Some(ADMIN),
                Body::from(body.to_string()),
            )
            .await;
            (status, body)
        }
    };
    let (status, body) = promote(json!({"phase": "phase_3_semi_auto"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("known to be threats"),
        "{body}"
    );
    let (status, body) = promote(
        json!({"phase": "phase_3_semi_auto", "override_reason": "accepted by the CISO, ticket 88"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        engine.decider.registry.active().strategy.name(),
        "approve-all"
    );
    assert!(engine.decider.registry.active().shadow.is_none());
    let audit = store.audit_events(None, 1000).unwrap();
    let promoted = audit
        .iter()
        .rev()
        .find(|e| e.details["action"] == "promote_shadow")
        .expect("audited");
    assert_eq!(
        promoted.details["gate_override"],
        "accepted by the CISO, ticket 88"
    );
    let (status, body) = promote(json!({"phase": "phase_3_semi_auto"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "no shadow left: {body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("has no shadow to promote"),
        "{body}"
    );
}
