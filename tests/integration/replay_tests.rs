//! Replay: deterministic whatever the threads, judging exactly as
//! production does, and counting correctly on a hand-labelled recording.

use std::path::{Path, PathBuf};

use medic::config::Config;
use medic::replay::recording::{Header, Label, Recorded, Truth, Writer};
use medic::replay::{Options, simulate};
use serde_json::json;

use crate::pipeline_support::*;
use crate::support::medic;

/// A semi-auto configuration with its intel file (kept alive with it).
fn semi_auto_config() -> (Config, tempfile::NamedTempFile) {
    let intel = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(intel.path(), LOW_RISK_INTEL).unwrap();
    (semi_auto(intel.path(), 10), intel)
}

fn options(recording: &Path, strategies: &[&str], threads: usize) -> Options {
    Options::new(
        recording.to_path_buf(),
        strategies.iter().map(|s| s.to_string()).collect(),
        threads,
    )
}

/// Semi-auto with no hourly cap and no flapping limit: the scenarios' fleet
/// is killed 20 times an hour, more false positives an hour than the
/// constitution's ten automatic resurrections, and without this most kills
/// would go to a human and the learner would hear of few outcomes. The
/// flapping limit rarely matters for `baseline` (its modules are killed a
/// few times a day); lifting it keeps the comparison about thresholds alone.
fn learning_config() -> (Config, tempfile::NamedTempFile) {
    let (mut config, intel) = semi_auto_config();
    config
        .constitution
        .constraints
        .max_auto_resurrections_per_hour = 100_000;
    config.medic.resurrection.flapping.max_kills_per_hour = 100_000;
    (config, intel)
}

fn scenario_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("config/scenarios/{name}.yaml"))
}

fn scenario() -> PathBuf {
    scenario_path("campaign")
}

#[test]
fn simulate_is_deterministic_for_a_seed() {
    let s = simulate::Scenario::load(&scenario()).unwrap();
    let mut a = Vec::new();
    let mut b = Vec::new();
    let mut c = Vec::new();
    simulate::simulate(&s, 7, 500, &mut a).unwrap();
    simulate::simulate(&s, 7, 500, &mut b).unwrap();
    simulate::simulate(&s, 8, 500, &mut c).unwrap();
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert_eq!(
        String::from_utf8(a).unwrap().lines().count(),
        501,
        "a header and 500 kills"
    );
}

#[test]
fn replay_output_is_identical_whatever_the_threads() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec.jsonl");
    let s = simulate::Scenario::load(&scenario()).unwrap();
    simulate::simulate(&s, 11, 3000, std::fs::File::create(&rec).unwrap()).unwrap();
    let (config, _intel) = semi_auto_config();
    let mut outputs = Vec::new();
    for threads in [1, 3] {
        let mut o = options(&rec, &["conservative", "balanced", "aggressive"], threads);
        let decisions = dir.path().join(format!("decisions-{threads}.jsonl"));
        o.decisions = Some(decisions.clone());
        let (report, _) = medic::replay::run(&config, &o).unwrap();
        outputs.push((
            serde_json::to_string(&report).unwrap(),
            std::fs::read(&decisions).unwrap(),
        ));
        assert_eq!(report.kills, 3000);
    }
    assert_eq!(
        outputs[0].0, outputs[1].0,
        "report differs between 1 and 3 threads"
    );
    assert!(
        outputs[0].1 == outputs[1].1,
        "decisions differ between 1 and 3 threads"
    );
    // A strategy given as a .wasm path is the same as the built-in by name.
    let by_path = crate::support::wasm("balanced").display().to_string();
    let (a, _) = medic::replay::run(&config, &options(&rec, &["balanced"], 2)).unwrap();
    let (b, _) = medic::replay::run(&config, &options(&rec, &[&by_path], 2)).unwrap();
    assert_eq!(a.candidates[0].outcomes, b.candidates[0].outcomes);
}

fn line(
    kill_id: &str,
    module: &str,
    reason: &str,
    severity: &str,
    confidence: f64,
    context: Option<(f64, u32, Option<f64>)>,
    truth: Truth,
) -> Recorded {
    let kill = json!({"kill_id": kill_id, "timestamp": "2024-01-15T10:30:00Z", "target_module": module,
        "target_instance_id": format!("{module}-1"), "kill_reason": reason, "severity": severity,
        "confidence_score": confidence, "source_agent": "smith-01"});
    let context = context.map(|(risk, fp, indicator)| json!({"query_id": "q", "kill_id": kill_id, "timestamp": "2024-01-15T10:30:01Z",
        "risk_score": risk, "false_positive_history": fp,
        "threat_indicators": indicator.map(|s| vec![json!({"indicator_type": "ip", "value": "203.0.113.1", "threat_score": s, "source": "x", "last_seen": "2024-01-15T10:00:00Z"})]).unwrap_or_default()}));
    serde_json::from_value(
        json!({"kill": kill, "context": context, "profile": {"criticality": "low"},
        "label": Label { truth: Some(truth), outcome: None }}),
    )
    .unwrap()
}

/// A recording writer for a test's hand-made kills.
fn writer(path: &Path) -> Writer<std::fs::File> {
    let header = Header {
        medic_recording: 1,
        generator: "test".into(),
        scenario: None,
        seed: None,
    };
    Writer::new(std::fs::File::create(path).unwrap(), &header).unwrap()
}

#[test]
fn metrics_on_a_hand_labelled_recording() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("labelled.jsonl");
    let mut w = writer(&path);
    let low = Some((0.05, 5, None));
    for rec in [
        line(
            "fp-1",
            "renderer",
            "anomaly_behavior",
            "low",
            0.5,
            low,
            Truth::FalsePositive,
        ),
        line(
            "fp-2",
            "renderer",
            "anomaly_behavior",
            "low",
            0.5,
            low,
            Truth::FalsePositive,
        ),
        line(
            "sneaky",
            "renderer",
            "anomaly_behavior",
            "low",
            0.5,
            low,
            Truth::TrueThreat,
        ),
        line(
            "apt",
            "billing",
            "threat_detected",
            "critical",
            0.95,
            Some((0.92, 0, Some(0.97))),
            Truth::TrueThreat,
        ),
        line(
            "fp-blind",
            "renderer",
            "anomaly_behavior",
            "low",
            0.5,
            None,
            Truth::FalsePositive,
        ),
    ] {
        w.write(&rec).unwrap();
    }
    w.finish().unwrap();
    let (report, _) = medic::replay::run(
        &semi_auto_config().0,
        &options(&path, &["balanced", "conservative"], 2),
    )
    .unwrap();
    let balanced = &report.candidates[0];
    assert_eq!(balanced.decisions, 5);
    assert_eq!(
        balanced.outcomes.get("approve_auto"),
        Some(&3),
        "{balanced:?}"
    );
    assert_eq!(balanced.outcomes.get("deny"), Some(&1));
    assert_eq!(balanced.human_workload, 1);
    assert_eq!(balanced.recovered_false_positives, 2);
    assert_eq!(balanced.unsafe_auto_resurrections, 1);
    assert_eq!(balanced.precision, Some(0.6667));
    assert_eq!(balanced.recall, Some(0.6667));
    assert_eq!(
        balanced.guardrails.get("no_context"),
        None,
        "balanced itself refuses without context"
    );
    let conservative = &report.candidates[1];
    assert_eq!(conservative.human_workload, 5);
    assert_eq!(conservative.recall, Some(0.0));
    assert_eq!(conservative.precision, None);
    assert_eq!(report.disagreements.count, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_judges_exactly_as_production() {
    let (config, _intel) = semi_auto_config();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("prod.jsonl");
    let mut w = writer(&path);
    let d = decider_with(config.clone(), None);
    let mut production = Vec::new();
    for i in 0..40 {
        // Mixed kills: some modules repeat (history), some are critical or blacklisted.
        let module = [
            "renderer",
            "auth-service",
            "billing",
            "renderer",
            "payment-processor",
        ][i % 5];
        let mut k = kill(&format!("p-{i}"), module);
        k.confidence_score = [0.3, 0.5, 0.7, 0.9][i % 4];
        k.severity = [medic::model::Severity::Low, medic::model::Severity::High][i % 2];
        let h = d.handle(incoming(k.clone())).await.unwrap();
        let rec = d
            .store
            .decision_for_kill(&k.kill_id)
            .unwrap()
            .map(|dec| (dec.outcome, dec.guardrails.clone(), dec.risk_score));
        production.push(rec.unwrap());
        let ctx = d
            .store
            .record(&h.decision().decision_id)
            .unwrap()
            .unwrap()
            .context;
        w.write(&Recorded {
            kill: k,
            context: ctx,
            profile: None,
            label: None,
        })
        .unwrap();
    }
    w.finish().unwrap();
    let mut o = options(&path, &["balanced"], 2);
    let decisions = dir.path().join("replayed.jsonl");
    o.decisions = Some(decisions.clone());
    medic::replay::run(&config, &o).unwrap();
    let replayed: Vec<serde_json::Value> = std::fs::read_to_string(&decisions)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(replayed.len(), production.len());
    for (i, (r, (outcome, guardrails, score))) in replayed.iter().zip(&production).enumerate() {
        assert_eq!(
            r["outcome"],
            serde_json::to_value(outcome).unwrap(),
            "kill {i}"
        );
        assert_eq!(
            r["guardrails"],
            serde_json::to_value(guardrails).unwrap(),
            "kill {i}"
        );
        assert_eq!(r["risk_score"].as_f64().unwrap(), *score, "kill {i}");
    }
    let approvals = production
        .iter()
        .filter(|p| p.0 == medic::model::DecisionOutcome::ApproveAuto)
        .count();
    assert!(
        approvals > 0 && approvals < production.len(),
        "a meaningful mix: {approvals} auto-approved"
    );
}

#[test]
fn a_file_that_is_not_a_recording_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kills.jsonl");
    std::fs::write(&path, "{\"kill_id\": \"x\"}\n").unwrap();
    let err =
        medic::replay::run(&semi_auto_config().0, &options(&path, &["balanced"], 1)).unwrap_err();
    assert!(err.to_string().contains("not a Medic recording"), "{err}");
    let err =
        medic::replay::run(&semi_auto_config().0, &options(&path, &["weighted"], 1)).unwrap_err();
    assert!(
        err.to_string().contains("not a strategy")
            || err.to_string().contains("not a Medic recording"),
        "{err}"
    );
}

#[test]
fn record_reads_a_redis_stream_without_consuming_it_and_the_result_replays() {
    use redis::Commands;
    let server = crate::redis_server::RedisServer::start();
    let mut conn = server.conn();
    for i in 0..30 {
        let env = json!({"version": "1.0", "message_type": "KILL_REPORT", "payload": kill_json(&format!("rec-{i}"), "svc")});
        let _: String = conn
            .xadd(
                "smith.events.kill_notifications",
                "*",
                &[("data", env.to_string())],
            )
            .unwrap();
    }
    let _: String = conn
        .xadd("smith.events.kill_notifications", "*", &[("junk", "1")])
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("captured.jsonl");
    let (ok, _, err) = medic(&[
        "record",
        "--redis",
        &server.url(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert!(
        err.contains("wrote 30 kills") && err.contains("1 invalid"),
        "{err}"
    );
    let groups: redis::Value = redis::cmd("XINFO")
        .arg("GROUPS")
        .arg("smith.events.kill_notifications")
        .query(&mut conn)
        .unwrap();
    assert_eq!(groups, redis::Value::Array(vec![]), "nothing consumed");
    let html = dir.path().join("report.html");
    let (ok, table, err) = medic(&[
        "replay",
        out.to_str().unwrap(),
        "--strategy",
        "balanced",
        "--strategy",
        "aggressive",
        "--html",
        html.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert!(table.contains("(30 kills)"), "{table}");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.starts_with("<!doctype html>") && page.contains("<svg") && page.contains("aggressive")
    );
    assert!(
        !page.contains("<script") && !page.contains("src=") && !page.contains("<link"),
        "self-contained"
    );
}

#[test]
fn record_exports_the_store_with_context() {
    let dir = tempfile::tempdir().unwrap();
    let store_path = dir.path().join("store");
    let intel = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(intel.path(), LOW_RISK_INTEL).unwrap();
    {
        let store = medic::store::Store::open(&store_path).unwrap();
        let d = decider_on(semi_auto(intel.path(), 10), store.clone(), None);
        tokio::runtime::Runtime::new().unwrap().block_on(async {
            for i in 0..5 {
                decide(&d, &format!("st-{i}"), "svc").await;
            }
            store.flush().await.unwrap();
        });
    }
    let config = crate::support::config_file_with_store(dir.path(), &store_path);
    let out = dir.path().join("export.jsonl");
    let (ok, _, err) = medic(&[
        "record",
        "--config",
        config.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let mut reader = medic::replay::recording::Reader::open(&out).unwrap();
    let kills = reader.next_batch(100).unwrap();
    assert_eq!(kills.len(), 5);
    assert!(
        kills
            .iter()
            .all(|k| k.context.as_ref().is_some_and(|c| c.risk_score == 0.05))
    );
}

#[test]
fn plugin_bench_reports_latency_and_rate() {
    let (ok, out, err) = medic(&[
        "plugin",
        "bench",
        crate::support::wasm("weighted").to_str().unwrap(),
        "--calls",
        "300",
    ]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["calls"], 300);
    assert_eq!(v["failures"], 0);
    assert!(
        v["p50_us"].as_f64().unwrap() > 0.0
            && v["p99_us"].as_f64().unwrap() >= v["p50_us"].as_f64().unwrap()
    );
    assert!(v["calls_per_second"].as_f64().unwrap() > 0.0);
}

#[test]
fn learning_in_the_loop_is_bounded_deterministic_and_beside_the_static_run() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec.jsonl");
    let s = simulate::Scenario::load(&scenario_path("baseline")).unwrap();
    simulate::simulate(&s, 5, 12_000, std::fs::File::create(&rec).unwrap()).unwrap();
    let (config, _intel) = learning_config();
    let mut reports = Vec::new();
    for threads in [1, 2] {
        let mut o = options(&rec, &["balanced"], threads);
        o.learn = true;
        reports.push(medic::replay::run(&config, &o).unwrap().0);
    }
    assert_eq!(
        serde_json::to_string(&reports[0]).unwrap(),
        serde_json::to_string(&reports[1]).unwrap()
    );
    let r = &reports[0];
    assert_eq!(r.candidates.len(), 2);
    assert_eq!(r.candidates[0].strategy, "balanced");
    assert!(r.candidates[0].learning.is_none());
    let learned = r.candidates[1].learning.as_ref().expect("the twin learned");
    assert_eq!(r.candidates[1].strategy, "balanced+learn");
    assert!(
        learned.learner_runs >= 1 && learned.adjustments >= 1,
        "{learned:?}"
    );
    assert_eq!(learned.refusals.len() as u64, learned.refused.min(20));
    // Bounded: no threshold moved more than 10% per run from where it started.
    let start = medic::plugin::thresholds_from_config(&config);
    for (name, value) in &learned.thresholds {
        let from = start[name];
        let most = from * 1.1f64.powi(learned.learner_runs as i32);
        let least = from * 0.9f64.powi(learned.learner_runs as i32);
        assert!(
            *value <= most + 1e-9 && *value >= least - 1e-9,
            "{name}: {from} -> {value}"
        );
    }
    // The static candidate is the same as a replay without learning.
    let (plain, _) = medic::replay::run(&config, &options(&rec, &["balanced"], 2)).unwrap();
    assert_eq!(plain.candidates[0], r.candidates[0]);
}

/// The closed loop: starting from thresholds stricter than the fleet needs,
/// the learner — hearing how automatic resurrections turned out — widens
/// the bands step by step, and the learning twin brings back far more false
/// positives without a single more true threat, while every guardrail
/// holds.
#[test]
fn learning_brings_back_more_false_positives_at_no_more_risk() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec.jsonl");
    let s = simulate::Scenario::load(&scenario_path("baseline")).unwrap();
    simulate::simulate(&s, 5, 40_000, std::fs::File::create(&rec).unwrap()).unwrap();
    let (mut config, _intel) = learning_config();
    // Stricter than needed: only scores under 0.2 count as low risk.
    config.medic.risk.thresholds.minimal = 0.1;
    config.medic.risk.thresholds.low = 0.2;
    let decisions = dir.path().join("decisions.jsonl");
    let mut o = options(&rec, &["balanced"], 2);
    o.learn = true;
    o.decisions = Some(decisions.clone());
    let r = medic::replay::run(&config, &o).unwrap().0;
    let (fixed, learned) = (&r.candidates[0], &r.candidates[1]);
    let l = learned.learning.as_ref().unwrap();
    assert!(l.learner_runs >= 5, "{l:?}");
    assert!(l.thresholds["risk.low"] > 0.2, "{l:?}");
    assert!(
        learned.recovered_false_positives as f64 >= 1.5 * fixed.recovered_false_positives as f64,
        "recovered: learning {} vs fixed {}",
        learned.recovered_false_positives,
        fixed.recovered_false_positives
    );
    assert!(
        learned.unsafe_auto_resurrections <= fixed.unsafe_auto_resurrections,
        "unsafe: learning {} vs fixed {}",
        learned.unsafe_auto_resurrections,
        fixed.unsafe_auto_resurrections
    );
    // Guardrails hold whatever the thresholds: the critical module that
    // always needs approval is never brought back automatically.
    let module_of: std::collections::HashMap<String, String> = std::fs::read_to_string(&rec)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["kill"]["kill_id"].as_str().unwrap().to_string(),
                v["kill"]["target_module"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut auth_kills = 0;
    for line in std::fs::read_to_string(&decisions).unwrap().lines() {
        let d: serde_json::Value = serde_json::from_str(line).unwrap();
        if d["strategy"] == "balanced+learn"
            && module_of[d["kill_id"].as_str().unwrap()] == "auth-service"
        {
            auth_kills += 1;
            assert_ne!(d["outcome"], "approve_auto", "{d}");
        }
    }
    assert!(auth_kills > 100);
}
