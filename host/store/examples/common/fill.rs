//! Fills a store with decided kills through the store's own API, for the
//! figures that need a large store: `benches/store_fill.rs` and the
//! `open_memory` example share it (included by path in both).

use std::path::Path;
use std::time::Instant;

use chrono::{Duration, Utc};
use medic_store::{AuditKind, DecisionRecord, Store};

/// A decided kill as `medic serve` stores one (SIEM context, a queued
/// decision, the risk factors and plugin names it carries).
const RECORD: &str = r#"{"kill":{"kill_id":"k-0","timestamp":"2026-11-26T12:57:07.854273353Z","target_module":"svc-0","target_instance_id":"svc-0-1","kill_reason":"anomaly_behavior","severity":"low","confidence_score":0.5,"evidence":["cpu spike","unexpected outbound connection"],"dependencies":[],"source_agent":"smith","metadata":{"k":"v"}},"context":{"query_id":"intel-file:k-0","kill_id":"k-0","timestamp":"2026-11-26T12:57:07.854273353Z","threat_indicators":[],"historical_behavior":{},"false_positive_history":3,"network_context":{},"user_context":null,"risk_score":0.1,"recommendation":""},"decision":{"decision_id":"01a217ee-603b-7eb7-b429-97ba03b04263","kill_id":"k-0","timestamp":"2026-11-26T12:57:07.899614908Z","outcome":"pending_review","risk_level":"low","risk_score":0.272,"confidence":1.0,"reasoning":["risk 0.27 is low","module has 3 false positives on record"],"recommended_action":"queue svc-0 for human review","requires_human_review":true,"auto_approve_eligible":false,"constraints":[],"timeout_minutes":60,"target_module":"svc-0","target_instance_id":"svc-0-1","risk_factors":[{"name":"false_positive_history","value":0.4,"weight":0.2,"contribution":0.08,"detail":"3"}],"strategy_outcome":"pending_review","guardrails":[],"mode":"observer","phase":"phase_1_observer","executed":false,"context_status":{"status":"ok"},"scorer":{"name":"weighted","version":"0.1.0","sha256":"d8"},"strategy":{"name":"conservative","version":"0.1.0","sha256":"6e"},"correlation_id":"c-0","source":"redis","latency_us":803}}"#;

const MODULES: usize = 200;

/// `records` decided kills spread evenly over the last `days` days, oldest
/// first, each with its audit event, flushed every 10,000.
pub fn fill(path: &Path, records: usize, days: i64) -> Result<(), Box<dyn std::error::Error>> {
    let store = Store::open(path)?;
    let base: DecisionRecord = serde_json::from_str(RECORD)?;
    let newest = Utc::now() - Duration::minutes(1);
    let span_ms = days * 86_400_000;
    let started = Instant::now();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    for i in 0..records {
        let mut rec = base.clone();
        // Evenly spread, oldest first.
        let back = span_ms - span_ms * i as i64 / records.max(1) as i64;
        let at = newest - Duration::milliseconds(back);
        let module = format!("svc-{}", i % MODULES);
        rec.kill.kill_id = format!("fill-{i:08}");
        rec.kill.timestamp = at - Duration::milliseconds(40);
        rec.kill.target_module = module.clone();
        rec.kill.target_instance_id = format!("{module}-1");
        rec.decision.kill_id = rec.kill.kill_id.clone();
        rec.decision.timestamp = at;
        rec.decision.target_module = module;
        rec.decision.decision_id = uuid::Uuid::new_v7(uuid::Timestamp::from_unix(
            uuid::NoContext,
            u64::try_from(at.timestamp()).unwrap_or(0),
            at.timestamp_subsec_nanos(),
        ))
        .to_string();
        store.store_decision(&rec)?;
        store.audit(
            AuditKind::DecisionMade,
            Some(&rec.kill.kill_id),
            Some(&rec.decision.decision_id),
            "medic",
            serde_json::json!({"outcome": "pending_review"}),
        )?;
        if i % 10_000 == 9_999 {
            runtime.block_on(store.flush())?;
            eprint!("\r{} records", i + 1);
        }
    }
    runtime.block_on(store.flush_all())?;
    eprintln!(
        "\r{records} records over {days} days in {:.1} s: {}",
        started.elapsed().as_secs_f64(),
        path.display()
    );
    Ok(())
}
