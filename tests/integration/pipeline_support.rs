//! Building a whole engine in-process for pipeline tests.

use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use medic::config::Config;
use medic::decide::{Decider, Handled, Incoming};
use medic::engine::{Engine, Parts};
use medic::enrich::{self, SiemAdapter};
use medic::execute::Links;
use medic::model::KillReport;
use medic::plugin::Registry;
use medic::store::Store;
use medic::telemetry::Metrics;
use serde_json::{Value, json};

pub fn decider_with(config: Config, siem: Option<Arc<dyn SiemAdapter>>) -> Arc<Decider> {
    decider_on(config, crate::postgres_db::test_store(), siem)
}

/// An engine deciding into `store`.
pub fn decider_on(
    config: Config,
    store: Store,
    siem: Option<Arc<dyn SiemAdapter>>,
) -> Arc<Decider> {
    engine_on(config, store, siem, false).decider.clone()
}

/// An engine that records decisions (observer tools, API tests).
pub fn engine_with(config: Config, siem: Option<Arc<dyn SiemAdapter>>) -> Arc<Engine> {
    engine_on(config, crate::postgres_db::test_store(), siem, false)
}

/// An engine on `store`; `acting`, with the approval queue, execution and
/// learning (call it within a tokio runtime).
pub fn engine_on(
    config: Config,
    store: Store,
    siem: Option<Arc<dyn SiemAdapter>>,
    acting: bool,
) -> Arc<Engine> {
    engine_linked(config, store, siem, acting.then(Links::default))
}

/// An engine on `store`, acting with `links` when there are some.
pub fn engine_linked(
    config: Config,
    store: Store,
    siem: Option<Arc<dyn SiemAdapter>>,
    links: Option<Links>,
) -> Arc<Engine> {
    let mut config = config;
    // Tests assert outcomes: a 50 ms deadline could fire on a loaded CI
    // machine and turn a decision into a plugin error.
    config.medic.plugins.timeout = config
        .medic
        .plugins
        .timeout
        .max(std::time::Duration::from_secs(5));
    let config = Arc::new(config);
    let registry = Arc::new(Registry::new(&config).expect("registry"));
    let siem = siem.unwrap_or_else(|| enrich::from_config(&config, &|_| None).expect("siem"));
    let parts = Parts {
        config,
        registry,
        store,
        siem,
        metrics: Arc::new(Metrics::default()),
    };
    Arc::new(match links {
        Some(links) => Engine::acting(parts, links, &|_| None).expect("engine"),
        None => Engine::recording(parts).expect("engine"),
    })
}

/// A valid kill report as JSON.
pub fn kill_json(kill_id: &str, module: &str) -> Value {
    kill_json_at(kill_id, module, Utc::now())
}

/// A time in working hours (08:00-17:59 UTC), now or within the last day:
/// the `weighted` scorer's time-of-day factor is then the same whenever a
/// test runs (it is higher in the evening and at night).
pub fn working_hours() -> chrono::DateTime<Utc> {
    use chrono::{Duration, Timelike};
    let now = Utc::now();
    let noon = |d: chrono::DateTime<Utc>| {
        d.with_hour(12)
            .and_then(|t| t.with_minute(0))
            .and_then(|t| t.with_second(0))
            .unwrap_or(d)
    };
    match now.hour() {
        8..=17 => now,
        18.. => noon(now),
        _ => noon(now - Duration::days(1)),
    }
}

/// A valid kill report as JSON, killed at `at`.
pub fn kill_json_at(kill_id: &str, module: &str, at: chrono::DateTime<Utc>) -> Value {
    json!({
        "kill_id": kill_id,
        "timestamp": at.to_rfc3339(),
        "target_module": module,
        "target_instance_id": format!("{module}-1"),
        "kill_reason": "anomaly_behavior",
        "severity": "low",
        "confidence_score": 0.5,
        "evidence": ["log-1"],
        "dependencies": [],
        "source_agent": "smith-01",
        "metadata": {"region": "eu-west-1"}
    })
}

pub fn kill(kill_id: &str, module: &str) -> KillReport {
    medic::ingest::validate::kill_report(&kill_json(kill_id, module), Utc::now())
        .expect("valid kill")
}

/// `kills` kills at once, each of its own module (`svc-N`), the Nth
/// decided by `deciders[N % len]`; their outcomes in order.
pub async fn burst(deciders: &[Arc<Decider>], prefix: &str, kills: usize) -> Vec<Handled> {
    let tasks: Vec<_> = (0..kills)
        .map(|i| {
            let d = deciders[i % deciders.len()].clone();
            let kill_id = format!("{prefix}-{i}");
            tokio::spawn(async move {
                let kill = medic::ingest::validate::kill_report(
                    &kill_json(&kill_id, &format!("svc-{i}")),
                    Utc::now(),
                )
                .expect("a valid kill");
                d.handle(incoming(kill)).await.expect("handled")
            })
        })
        .collect();
    let mut out = Vec::with_capacity(kills);
    for t in tasks {
        out.push(t.await.expect("the kill's task"));
    }
    out
}

pub fn incoming(kill: KillReport) -> Incoming {
    Incoming {
        kill,
        correlation_id: None,
        reply_to: None,
        source: "test",
        received: Instant::now(),
    }
}

pub async fn decide(d: &Decider, kill_id: &str, module: &str) -> Handled {
    d.handle(incoming(kill(kill_id, module)))
        .await
        .expect("handled")
}

/// A configuration allowing automatic approval: semi-auto mode with phases
/// 0-3 enabled and auto-approval on, with the `file` SIEM's intel.
pub fn semi_auto(intel_file: &std::path::Path, cap: u32) -> Config {
    let medic = medic::config::EMBEDDED_MEDIC
        .replace("current: \"observer\"", "current: \"semi_auto\"")
        .replace("adapter: \"none\"", "adapter: \"file\"")
        .replace(
            "intel_file: \"\"",
            &format!("intel_file: \"{}\"", intel_file.display()),
        )
        .replace(
            "    enabled: false\n    max_risk_level",
            "    enabled: true\n    max_risk_level",
        );
    let constitution = medic::config::EMBEDDED_CONSTITUTION
        .replace(
            "max_auto_resurrections_per_hour: 10",
            &format!("max_auto_resurrections_per_hour: {cap}"),
        )
        .replace(
            "phase_2_manual:\n    enabled: false",
            "phase_2_manual:\n    enabled: true",
        )
        .replace(
            "phase_3_semi_auto:\n    enabled: false",
            "phase_3_semi_auto:\n    enabled: true",
        )
        // The guardrail and pipeline tests are written against the verdicts
        // of `balanced` (scored by `weighted`); the shipped default for the
        // phase is tested on its own (`semi_auto_default`).
        .replace(
            "phase_3_semi_auto:\n    risk_scorer: { name: \"evidence\" }\n    strategy: { name: \"pessimistic\" }\n    threshold_learner: { name: \"calibrated\" }",
            "phase_3_semi_auto:\n    risk_scorer: { name: \"weighted\" }\n    strategy: { name: \"balanced\" }\n    threshold_learner: { name: \"bounded\" }",
        );
    Config::from_texts(
        ("semi-auto medic.yaml", &medic),
        ("semi-auto constitution.yaml", &constitution),
        &|_| None,
    )
    .expect("semi-auto test config is valid")
}

/// Intel marking every module low-risk with a history of false positives.
pub const LOW_RISK_INTEL: &str = r#"
default:
  risk_score: 0.05
  false_positive_history: 5
  recommendation: likely_false_positive
"#;

/// [`LOW_RISK_INTEL`], except that each of `modules` has a strong threat
/// indicator and no false positives: kills of them score high or critical,
/// and the `balanced` strategy denies them.
pub fn threat_intel(modules: &[&str]) -> String {
    let mut text = format!("{LOW_RISK_INTEL}modules:\n");
    for m in modules {
        text.push_str(&format!(
            "  {m}:\n    risk_score: 0.9\n    false_positive_history: 0\n    threat_indicators:\n      - {{indicator_type: ip, value: 203.0.113.9, threat_score: 0.95, source: intel, last_seen: \"2024-01-15T10:00:00Z\"}}\n"
        ));
    }
    text
}

/// Semi-automatic operation as shipped (`config/examples/semi-auto.yaml`
/// and `constitution-semi-auto.yaml`) in `mode`, with the file SIEM reading
/// `intel` and plugins from `plugins` (not watched).
pub fn semi_auto_config(
    plugins: &std::path::Path,
    intel: &std::path::Path,
    mode: medic::config::Mode,
) -> Config {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/examples");
    let mut c = Config::load(
        Some(&dir.join("semi-auto.yaml")),
        Some(&dir.join("constitution-semi-auto.yaml")),
        &|_| None,
    )
    .unwrap();
    c.medic.mode.current = mode;
    c.medic.siem.adapter = medic::config::raw::SiemAdapterType::File;
    c.medic.siem.intel_file = Some(intel.to_path_buf());
    c.medic.plugins.directory = Some(plugins.to_path_buf());
    c.medic.plugins.watch = false;
    c
}

/// The API over `engine`, with one admin key, `key` (named `ops`).
pub fn admin_state(engine: Arc<medic::engine::Engine>, key: &str) -> medic::api::AppState {
    use sha2::{Digest, Sha256};
    let section = medic::config::raw::ApiKeySection {
        name: "ops".into(),
        role: medic::config::raw::Role::Admin,
        sha256: hex::encode(Sha256::digest(key)),
    };
    medic::api::AppState::new(
        engine,
        medic::api::ApiKeys::new(&[section], None).expect("one valid key"),
        medic::publish::Publisher::none(),
    )
}
