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

/// `kills` kills of the shipped scenario `name` with `seed`, written in `dir`.
fn simulated(dir: &Path, name: &str, seed: u64, kills: usize) -> PathBuf {
    let rec = dir.join("rec.jsonl");
    let s = simulate::Scenario::load(&scenario_path(name)).unwrap();
    simulate::simulate(&s, seed, kills, std::fs::File::create(&rec).unwrap()).unwrap();
    rec
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
    // Replay keeps no reasoning: a plugin reading `call.explain` gets 0
    // (the echo-reads fixture answers 0.25 then, 0.5 live).
    let echo = crate::support::wasm("echo-reads").display().to_string();
    let mut o = options(&rec, &[&echo], 2);
    let decisions = dir.path().join("decisions-echo.jsonl");
    o.decisions = Some(decisions.clone());
    medic::replay::run(&config, &o).unwrap();
    let lines = std::fs::read_to_string(&decisions).unwrap();
    assert_eq!(lines.lines().count(), 3000);
    for line in lines.lines() {
        let d: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(d["confidence"], 0.25, "{line}");
    }
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

    // Every labelled kill in exactly one cell, and what they cost under the
    // default model (a threat revived 100, a false positive left down 10,
    // a kill put to a person 1).
    let c = &balanced.cells;
    assert_eq!(
        (c.threat_revived, c.threat_held, c.threat_to_human),
        (1, 1, 0),
        "{c:?}"
    );
    assert_eq!((c.fp_recovered, c.fp_to_human, c.fp_left_down), (2, 1, 0));
    assert_eq!(balanced.cost, 101.0);
    let c = &conservative.cells;
    assert_eq!(
        (c.threat_revived, c.threat_held, c.threat_to_human),
        (0, 2, 2)
    );
    assert_eq!((c.fp_recovered, c.fp_to_human, c.fp_left_down), (0, 3, 0));
    assert_eq!(conservative.cost, 5.0);
    for r in &report.candidates {
        let c = &r.cells;
        assert_eq!(
            c.threat_revived + c.threat_held + c.fp_recovered + c.fp_to_human + c.fp_left_down,
            r.labelled
        );
    }
    // The simulated reviewer (the default with labels) approved the false
    // positives put to a person and denied the threats.
    let reviewer = conservative.reviewer.as_ref().unwrap();
    assert_eq!((reviewer.approved, reviewer.denied), (3, 2));
    let table = report.table();
    assert!(
        table.contains("THREAT-BACK") && table.contains("FP-DOWN"),
        "{table}"
    );
    assert!(
        table.contains("disagreements: 4 (showing 4, 0 left out)"),
        "{table}"
    );

    // A false positive left down with nobody owning it costs ten reviews.
    let mut w = writer(&path);
    w.write(&line(
        "fp-down",
        "billing",
        "threat_detected",
        "critical",
        0.95,
        Some((0.92, 0, Some(0.97))),
        Truth::FalsePositive,
    ))
    .unwrap();
    w.finish().unwrap();
    let (report, _) =
        medic::replay::run(&semi_auto_config().0, &options(&path, &["balanced"], 1)).unwrap();
    let b = &report.candidates[0];
    assert_eq!(b.outcomes.get("deny"), Some(&1), "{b:?}");
    assert_eq!(b.cells.fp_left_down, 1);
    assert_eq!(b.cost, 10.0);
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

/// While `medic serve` holds the store, `medic record` exports through its
/// API (`GET /api/v1/decisions/records`): every kill it decided, oldest
/// first, with the SIEM context it saw; without a key it says what to set.
#[test]
fn record_exports_through_the_api_while_medic_serves() {
    let engine = crate::acting_support::Engine::start(vec![], |_, _| {});
    let ids: Vec<String> = (0..4).map(|i| format!("live-rec-{i}")).collect();
    for id in &ids {
        engine.report_kill(&kill_json(id, "svc"));
        engine.decision(id);
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("live.jsonl");
    let (medic_yaml, constitution) = (
        engine.config.0.to_str().unwrap(),
        engine.config.1.to_str().unwrap(),
    );
    let args = [
        "record",
        "--config",
        medic_yaml,
        "--constitution",
        constitution,
        "--out",
        out.to_str().unwrap(),
        "--hours",
        "2",
    ];
    let (ok, _, err) = engine.cli(&args);
    assert!(ok, "{err}");
    assert!(err.contains("wrote 4 kills"), "{err}");
    let mut reader = medic::replay::recording::Reader::open(&out).unwrap();
    let kills = reader.next_batch(100).unwrap();
    let got: Vec<&str> = kills.iter().map(|k| k.kill.kill_id.as_str()).collect();
    assert_eq!(got, ids, "every kill, oldest first");
    assert!(
        kills.iter().all(|k| k.context.is_some()),
        "with the context"
    );

    // Without a key, the command says the store is held and what to set.
    let no_key = std::process::Command::new(env!("CARGO_BIN_EXE_medic"))
        .args(args)
        .env_remove("MEDIC_API_KEY")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&no_key.stderr);
    assert!(!no_key.status.success());
    assert!(
        err.contains("held by a running medic") && err.contains("MEDIC_API_KEY"),
        "{err}"
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
    let rec = simulated(dir.path(), "baseline", 5, 12_000);
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
    // The learner proposed; the host put proposals in force or refused
    // them (a widening on this noisy scenario mostly lacks the evidence).
    assert!(
        learned.learner_runs >= 1 && learned.adjustments + learned.refused >= 1,
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

/// The `calibrated` learner in the loop with a strategy that revives
/// threats: after the first one comes to light it raises the automation
/// bar, and the host lets no step down through that its known verdicts do
/// not show safe, so the twin revives fewer threats than the static run.
#[test]
fn after_a_revived_threat_the_learner_raises_the_bar_and_fewer_are_revived() {
    let dir = tempfile::tempdir().unwrap();
    let rec = simulated(dir.path(), "baseline", 5, 5_000);
    let (config, _intel) = learning_config();
    let mut o = options(&rec, &["balanced@weighted"], 2);
    o.learn = true;
    o.learner = Some("calibrated".into());
    let r = medic::replay::run(&config, &o).unwrap().0;
    let (fixed, learned) = (&r.candidates[0], &r.candidates[1]);
    assert!(fixed.cells.threat_revived > 1, "{fixed:?}");
    assert!(
        learned.cells.threat_revived < fixed.cells.threat_revived,
        "learning {} vs static {}",
        learned.cells.threat_revived,
        fixed.cells.threat_revived
    );
    let l = learned.learning.as_ref().expect("the twin learned");
    let bar = l.thresholds["auto_approve.min_confidence"];
    let start = config.medic.decision.auto_approve.min_confidence;
    assert!(bar > start, "the bar rose: {start} -> {bar}");
    // Within the constitution's bounds.
    let bound = &config.constitution.learning_bounds["auto_approve.min_confidence"];
    assert!(bar <= bound.ceiling, "{bar} > {}", bound.ceiling);
}

/// A fleet like the shipped baseline whose SIEM separates threats from
/// false positives well: evidence on which learning has room to help.
fn clean_scenario(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(scenario_path("baseline")).unwrap();
    let mut out = Vec::new();
    let mut in_siem = false;
    for line in text.lines() {
        if line.starts_with("siem:") {
            in_siem = true;
            out.push("siem:\n  threat_risk: 0.85\n  benign_risk: 0.15\n  noise: 0.08\n  missing_rate: 0.0".to_string());
            continue;
        }
        if in_siem && line.starts_with("  ") {
            if line.contains("indicator_rate") {
                out.push(line.to_string());
            }
            continue;
        }
        in_siem = false;
        out.push(line.to_string());
    }
    let path = dir.join("clean.yaml");
    std::fs::write(&path, out.join("\n")).unwrap();
    path
}

/// The shipped semi-auto default (evidence, pessimistic, calibrated) with
/// auto-approval on and the hourly cap lifted.
fn shipped_semi_auto() -> (Config, tempfile::NamedTempFile) {
    let (mut config, intel) = learning_config();
    let shipped = Config::embedded().unwrap();
    config.constitution.plugins = shipped.constitution.plugins.clone();
    config.medic.resurrection.flapping.max_kills_per_hour = 3;
    (config, intel)
}

/// The closed loop from the defaults: the shipped plugins on a fresh store
/// learn from every outcome and every person's verdict (calibration: the
/// scorer is told how kills like each new one turned out). Against the same
/// strategy judging by its model alone, they bring back more false
/// positives, cost less, and revive no threat.
#[test]
fn learning_from_outcomes_recovers_more_than_the_model_alone_and_revives_no_threat() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec.jsonl");
    let s = simulate::Scenario::load(&clean_scenario(dir.path())).unwrap();
    simulate::simulate(&s, 3, 20_000, std::fs::File::create(&rec).unwrap()).unwrap();
    let (config, _intel) = shipped_semi_auto();
    let learning = medic::replay::run(&config, &options(&rec, &["pessimistic"], 2))
        .unwrap()
        .0;
    let mut o = options(&rec, &["pessimistic"], 2);
    o.calibration = false;
    let model_alone = medic::replay::run(&config, &o).unwrap().0;
    assert_eq!(learning.scorer, "evidence");
    assert!(learning.calibration && !model_alone.calibration);
    let (learned, fixed) = (&learning.candidates[0], &model_alone.candidates[0]);
    assert_eq!(fixed.cells.threat_revived, 0, "{fixed:?}");
    assert_eq!(learned.cells.threat_revived, 0, "{learned:?}");
    assert!(
        learned.cells.fp_recovered > fixed.cells.fp_recovered * 3 / 2,
        "recovered: learning {} vs the model alone {}",
        learned.cells.fp_recovered,
        fixed.cells.fp_recovered
    );
    assert!(
        learned.cost < fixed.cost,
        "{} vs {}",
        learned.cost,
        fixed.cost
    );
    assert!(model_alone.table().contains("calibration off"));

    // Over time: every labelled kill in its week, and the weeks show
    // automation growing as outcomes teach the scorer — the last week of
    // the recording brings back a larger share of its false positives than
    // the first, where little is known yet.
    let weeks = &learned.by_week;
    assert!(weeks.len() >= 3, "{weeks:?}");
    let mut sum = medic::replay::summary::Cells::default();
    for w in weeks {
        sum.absorb(w);
    }
    assert_eq!(sum, learned.cells);
    let share = |w: &medic::replay::summary::Cells| w.recovered_share().unwrap();
    let (first, last) = (share(&weeks[0]), share(&weeks[weeks.len() - 1]));
    assert!(first < last, "week 1 {first} against the last week {last}");
    let table = learning.table();
    assert!(
        table.contains("by week of the recording") && table.contains(" w1 "),
        "{table}"
    );
    let page = medic::replay::html::render(&learning, &medic::replay::Timing::default());
    assert!(page.contains("<h2>Over time</h2>") && page.contains("<th>w1</th>"));

    // Scores against the labels: every labelled kill in one band of its
    // risk score, and the scores mean what they say — the kills the shipped
    // scorer puts under 0.001 hold a far smaller share of threats than
    // those it puts over 0.25, and what came back with no person is all
    // from the low bands.
    let bands = &learned.by_score;
    assert_eq!(bands.iter().map(|b| b.kills).sum::<u64>(), learned.labelled);
    let share_in = |from: f64, to: f64| {
        let (t, k) = bands
            .iter()
            .filter(|b| b.from >= from && b.to <= to)
            .fold((0, 0), |(t, k), b| (t + b.threats, k + b.kills));
        t as f64 / k as f64
    };
    let (low, high) = (share_in(0.0, 0.001), share_in(0.25, 1.0));
    assert!(
        low < 0.001 && high > 0.5,
        "low {low}, high {high}: {bands:?}"
    );
    let automatic: u64 = bands.iter().map(|b| b.automatic).sum();
    assert_eq!(
        automatic,
        learned.cells.fp_recovered + learned.cells.threat_revived
    );
    assert!(
        bands
            .iter()
            .filter(|b| b.from >= 0.01)
            .all(|b| b.automatic == 0),
        "{bands:?}"
    );
    assert!(table.contains("risk score against the labels"), "{table}");
    assert!(page.contains("<h2>Scores against the labels</h2>"));
}

/// The shipped default against the strategies it replaces, on a shipped
/// scenario: no threat revived, more false positives back, a lower cost.
#[test]
fn the_shipped_default_beats_balanced_on_the_baseline_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let rec = simulated(dir.path(), "baseline", 11, 10_000);
    let (config, _intel) = shipped_semi_auto();
    let r = medic::replay::run(
        &config,
        &options(&rec, &["pessimistic", "balanced@weighted"], 2),
    )
    .unwrap()
    .0;
    let (new, old) = (&r.candidates[0], &r.candidates[1]);
    assert_eq!(new.cells.threat_revived, 0, "{new:?}");
    assert!(old.cells.threat_revived > 0, "{old:?}");
    assert!(new.cost < old.cost, "{} vs {}", new.cost, old.cost);
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
}

/// Learning on, from the shipped defaults: the `calibrated` learner hears
/// people's verdicts, and where they denied nearly every kill scored as
/// high it lowers the deny bar (`auto_deny.min_risk_score`) through the
/// host's check. The twin puts fewer threats to a person, costs less than
/// the same strategy static, leaves under 1% of false positives down, and
/// revives no threat.
#[test]
fn learning_where_people_deny_beats_the_static_default_and_revives_no_threat() {
    use medic_plugin_logic::values::names;
    let dir = tempfile::tempdir().unwrap();
    let rec = simulated(dir.path(), "baseline", 1, 12_000);
    let (config, _intel) = shipped_semi_auto();
    let mut o = options(&rec, &["pessimistic"], 2);
    o.learn = true;
    let r = medic::replay::run(&config, &o).unwrap().0;
    let (fixed, learned) = (&r.candidates[0], &r.candidates[1]);
    assert_eq!(learned.strategy, "pessimistic+learn");
    assert_eq!(fixed.cells.threat_revived, 0, "{fixed:?}");
    assert_eq!(learned.cells.threat_revived, 0, "{learned:?}");
    let l = learned.learning.as_ref().expect("the twin learned");
    let bar = l.thresholds[names::AUTO_DENY_MIN_RISK_SCORE];
    let floor = config.constitution.learning_bounds[names::AUTO_DENY_MIN_RISK_SCORE].floor;
    assert!(bar < 1.0 && bar >= floor, "the deny bar: {bar}");
    assert!(
        learned.cells.threat_to_human < fixed.cells.threat_to_human,
        "threats to a person: learning {} vs static {}",
        learned.cells.threat_to_human,
        fixed.cells.threat_to_human
    );
    assert!(
        learned.cost < fixed.cost,
        "cost: learning {} vs static {}",
        learned.cost,
        fixed.cost
    );
    let fps = learned.cells.fp_recovered + learned.cells.fp_to_human + learned.cells.fp_left_down;
    assert!(learned.cells.fp_left_down * 100 < fps, "{learned:?}");
    assert!(r.table().contains("auto_deny.min_risk_score"));
}

/// The kills a person sees are decided by the label after the delay: false
/// positives approved (and their outcomes heard by the learner), threats
/// denied (kept as known threats); with no reviewer they stay queued.
#[test]
fn the_simulated_reviewer_decides_by_the_label_and_the_learner_hears_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("reviewed.jsonl");
    let mut w = writer(&path);
    let low = Some((0.05, 5, None));
    let mut recs = vec![
        line(
            "fp-a",
            "renderer",
            "anomaly_behavior",
            "low",
            0.5,
            low,
            Truth::FalsePositive,
        ),
        line(
            "fp-b",
            "indexer",
            "anomaly_behavior",
            "low",
            0.5,
            low,
            Truth::FalsePositive,
        ),
        line(
            "threat-a",
            "billing",
            "threat_detected",
            "critical",
            0.95,
            Some((0.92, 0, Some(0.97))),
            Truth::TrueThreat,
        ),
        line(
            "later",
            "mailer",
            "anomaly_behavior",
            "low",
            0.5,
            low,
            Truth::FalsePositive,
        ),
    ];
    // The last kill comes three hours later, after every verdict and outcome
    // of the first ones is known.
    recs[3].kill.timestamp += chrono::Duration::hours(3);
    for rec in &recs {
        w.write(rec).unwrap();
    }
    w.finish().unwrap();
    let (config, _intel) = semi_auto_config();
    let mut o = options(&path, &["conservative"], 1);
    o.learn = true;
    let r = medic::replay::run(&config, &o).unwrap().0;
    let learned = &r.candidates[1];
    let reviewer = learned.reviewer.as_ref().unwrap();
    assert_eq!(
        (reviewer.approved, reviewer.denied, reviewer.unlabelled),
        (3, 1, 0)
    );
    let l = learned.learning.as_ref().unwrap();
    assert_eq!(l.samples_human_approved, 2, "{l:?}");
    assert_eq!(l.samples_automatic, 0);
    assert_eq!(l.known_threats, 1);
    assert_eq!(r.reviewer, "label after 30 min");

    o.reviewer = medic::replay::Reviewer::None;
    let r = medic::replay::run(&config, &o).unwrap().0;
    assert!(r.candidates[1].reviewer.is_none());
    let l = r.candidates[1].learning.as_ref().unwrap();
    assert_eq!((l.samples_human_approved, l.known_threats), (0, 0));
    assert_eq!(r.reviewer, "none");
}

/// A configuration under which nothing can be auto-approved says so.
#[test]
fn the_report_warns_when_automation_is_impossible() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("one.jsonl");
    let mut w = writer(&path);
    w.write(&line(
        "fp",
        "renderer",
        "anomaly_behavior",
        "low",
        0.5,
        Some((0.05, 5, None)),
        Truth::FalsePositive,
    ))
    .unwrap();
    w.finish().unwrap();
    // The embedded defaults: observer mode, auto-approval off, phase 3 off.
    let r = medic::replay::run(
        &Config::embedded().unwrap(),
        &options(&path, &["balanced"], 1),
    )
    .unwrap()
    .0;
    let all = r.warnings.join("\n");
    assert!(
        all.contains("decision.auto_approve.enabled is false"),
        "{all}"
    );
    assert!(all.contains("phase_3_semi_auto"), "{all}");
    assert!(all.contains("mode observer"), "{all}");
    assert!(r.table().contains("WARNING: "));
}

/// The host's check on a learner's proposal: a widening that would revive a
/// kill known to be a threat is refused (naming it), as is one with too
/// little evidence or one made within a week of an unsafe outcome; a
/// tightening never is.
#[test]
fn a_proposal_that_would_revive_a_known_threat_is_refused() {
    use medic::learn::safety::{Judge, KnownVerdict, KnownVerdicts, MIN_CLEAN_EVIDENCE, refuse};
    use medic_plugin_logic::values::names;

    let (config, _intel) = shipped_semi_auto();
    let registry = medic::plugin::Registry::new(&config).unwrap();
    let strategy = registry.get("pessimistic").unwrap();
    let scorer = registry.get("evidence").unwrap();
    let mut current = medic::plugin::thresholds_from_config(&config);
    current.insert(names::AUTO_APPROVE_MIN_CONFIDENCE.into(), 0.99);
    let mut wider = current.clone();
    wider.insert(names::AUTO_APPROVE_MIN_CONFIDENCE.into(), 0.85);
    let mut tighter = current.clone();
    tighter.insert(names::AUTO_APPROVE_MIN_CONFIDENCE.into(), 0.995);

    // A threat that looked benign: low SIEM risk, false positives on
    // record, on a module whose 300 resurrections all held.
    let verdict = |id: &str, threat: bool| {
        let rec = line(
            id,
            "renderer",
            "anomaly_behavior",
            "low",
            0.5,
            Some((0.05, 5, None)),
            if threat {
                Truth::TrueThreat
            } else {
                Truth::FalsePositive
            },
        );
        let mut profile =
            medic::model::ModuleProfile::new("renderer", medic::model::Criticality::Low, false);
        profile.resurrections = 300;
        profile.successful_resurrections = 300;
        profile.false_positives = 300;
        let risk = scorer
            .score(&medic::plugin::ScoreRequest {
                kill: &rec.kill,
                context: rec.context.as_ref(),
                profile: &profile,
                thresholds: &current,
            })
            .unwrap();
        KnownVerdict {
            kill: rec.kill.clone(),
            context: rec.context.clone(),
            profile,
            risk,
            threat,
            known_at: rec.kill.timestamp,
            deniable: true,
        }
    };
    let now = chrono::Utc::now();
    let mode = medic::config::Mode::SemiAuto;
    let check = |proposed: &medic::model::NamedValues, known: &KnownVerdicts, last_unsafe| {
        let judge = Judge {
            config: &config,
            mode,
            strategy: &strategy,
        };
        refuse(&judge, &current, proposed, known, last_unsafe, now)
    };

    let mut known = KnownVerdicts::default();
    known.push(verdict("sneaky", true));
    let why = check(&wider, &known, None).expect("refused");
    assert!(
        why.contains("sneaky") && why.contains("known to be a threat"),
        "{why}"
    );
    assert_eq!(
        check(&tighter, &known, None),
        None,
        "tightening is never refused"
    );

    // No known threat, but too few known false positives under it.
    let mut known = KnownVerdicts::default();
    for i in 0..10 {
        known.push(verdict(&format!("fp-{i}"), false));
    }
    let why = check(&wider, &known, None).expect("refused");
    assert!(
        why.contains("only 10 kills known to be false positives"),
        "{why}"
    );
    // Enough of them: accepted...
    for i in 10..MIN_CLEAN_EVIDENCE {
        known.push(verdict(&format!("fp-{i}"), false));
    }
    assert_eq!(check(&wider, &known, None), None);
    // ...unless a threat came back automatically less than a week ago.
    let why = check(&wider, &known, Some(now - chrono::Duration::days(2))).expect("refused");
    assert!(why.contains("threat revived automatically"), "{why}");
    assert_eq!(
        check(&wider, &known, Some(now - chrono::Duration::days(8))),
        None
    );
}
