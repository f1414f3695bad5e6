//! Fills a store on disk with decided kills through the store's own API
//! (`Store::store_decision` and `Store::audit`, as `medic serve` writes
//! them), for measuring what a large store costs `medic serve`: its
//! resident memory after start and across reports (`benches/store_memory.sh`).
//!
//! Run: `cargo bench --bench store_fill -- STORE_PATH [RECORDS] [DAYS]`
//! (defaults: 1,000,000 records spread evenly over the last 7 days, the
//! newest a minute ago; 200 modules; one audit event per decision).
//! A million records take about 2.6 GB of disk.

use std::path::PathBuf;
use std::time::Instant;

use chrono::{Duration, Utc};
use medic::store::{AuditKind, DecisionRecord, Store};

/// A decided kill as `medic serve` stores one (SIEM context, a queued
/// decision, the risk factors and plugin names it carries).
const RECORD: &str = r#"{"kill":{"kill_id":"k-0","timestamp":"2026-11-26T12:57:07.854273353Z","target_module":"svc-0","target_instance_id":"svc-0-1","kill_reason":"anomaly_behavior","severity":"low","confidence_score":0.5,"evidence":["cpu spike","unexpected outbound connection"],"dependencies":[],"source_agent":"smith","metadata":{"k":"v"}},"context":{"query_id":"intel-file:k-0","kill_id":"k-0","timestamp":"2026-11-26T12:57:07.854273353Z","threat_indicators":[],"historical_behavior":{},"false_positive_history":3,"network_context":{},"user_context":null,"risk_score":0.1,"recommendation":""},"decision":{"decision_id":"01a217ee-603b-7eb7-b429-97ba03b04263","kill_id":"k-0","timestamp":"2026-11-26T12:57:07.899614908Z","outcome":"pending_review","risk_level":"low","risk_score":0.272,"confidence":1.0,"reasoning":["risk 0.27 is low","module has 3 false positives on record"],"recommended_action":"queue svc-0 for human review","requires_human_review":true,"auto_approve_eligible":false,"constraints":[],"timeout_minutes":60,"target_module":"svc-0","target_instance_id":"svc-0-1","risk_factors":[{"name":"false_positive_history","value":0.4,"weight":0.2,"contribution":0.08,"detail":"3"}],"strategy_outcome":"pending_review","guardrails":[],"mode":"observer","phase":"phase_1_observer","executed":false,"context_status":{"status":"ok"},"scorer":{"name":"weighted","version":"0.1.0","sha256":"d8"},"strategy":{"name":"conservative","version":"0.1.0","sha256":"6e"},"correlation_id":"c-0","source":"redis","latency_us":803}}"#;

const MODULES: usize = 200;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // `cargo bench` passes `--bench` to every bench binary: skip flags.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let Some(path) = args.first().map(PathBuf::from) else {
        eprintln!("usage: cargo bench --bench store_fill -- STORE_PATH [RECORDS] [DAYS]");
        return Ok(());
    };
    let records: usize = args.get(1).map_or(Ok(1_000_000), |s| s.parse())?;
    let days: i64 = args.get(2).map_or(Ok(7), |s| s.parse())?;
    let store = Store::open(&path)?;
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
