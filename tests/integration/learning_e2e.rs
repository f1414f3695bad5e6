//! Learning end to end on a real engine: a real resurrection's outcome is
//! what the learner learns from (`medic learn run`); the change shows in
//! the history and is reverted through the CLI; operators' changes are
//! checked; the weekly report comes from the running engine.
//!
//! The resurrection is rolled back, so the learner tightens: a widening
//! from one outcome would be refused by the host's safety check (too few
//! kills known to be false positives), which `learning` tests.

use serde_json::json;

use crate::acting_support::{DemoService, Engine, yaml, yaml_set};
use crate::pipeline_support::{kill_json_at, working_hours};

#[test]
fn an_outcome_teaches_the_learner_and_the_change_can_be_reverted() {
    let dir = tempfile::tempdir().unwrap();
    let mut svc = DemoService::new(dir.path(), "thumbnailer");
    let engine = Engine::start(vec![svc.backend()], |m, c| {
        // The learning mechanics (a change, its history, its revert) with
        // the band learner: `bounded` moves the risk bands from one outcome,
        // where `calibrated` (the shipped default) waits for the
        // constitution's learning_bounds.min_samples.
        for (kind, name) in [
            ("risk_scorer", "weighted"),
            ("strategy", "balanced"),
            ("threshold_learner", "bounded"),
        ] {
            yaml_set(
                c,
                &format!("plugins.phase_3_semi_auto.{kind}.name"),
                yaml(json!(name)),
            );
        }
        yaml_set(m, "resurrection.startup_grace_seconds", yaml(json!(1)));
        yaml_set(m, "learning.enabled", yaml(json!(true)));
        yaml_set(
            m,
            "learning.threshold_adjustment.enabled",
            yaml(json!(true)),
        );
        yaml_set(m, "learning.analysis.min_samples", yaml(json!(1)));
    });
    let (ok, before, err) = engine.cli(&["thresholds", "show"]);
    assert!(ok, "{err}");
    // The daily report, asked of the running engine (it holds the store).
    let (medic_yaml, constitution_yaml) = &engine.config;
    let report = std::process::Command::new(env!("CARGO_BIN_EXE_medic"))
        .arg("--config")
        .arg(medic_yaml)
        .arg("--constitution")
        .arg(constitution_yaml)
        .args(["report", "daily"])
        .env("MEDIC_API_KEY", &engine.key)
        .output()
        .expect("medic runs");
    let err = String::from_utf8_lossy(&report.stderr);
    assert!(report.status.success(), "{err}");
    let daily: serde_json::Value = serde_json::from_slice(&report.stdout).expect("a JSON report");
    assert!(daily.get("date").is_some(), "{daily}");
    let before: serde_json::Value = serde_json::from_str(&before).unwrap();

    // Nothing to learn from yet.
    let (ok, _, err) = engine.cli(&["learn", "run"]);
    assert!(!ok);
    assert!(err.contains("only 0 outcome(s)"), "{err}");

    svc.start();
    svc.kill();
    // What comes back fails its health checks and is rolled back.
    svc.set_unhealthy(true);
    // Killed in working hours: the band it is scored in, and so the band the
    // learner moves, does not depend on when the test runs.
    engine.report_kill(&kill_json_at("learn-1", "thumbnailer", working_hours()));
    let outcome = engine.wait_outcome("learn-1", 60);
    assert_eq!(outcome["result"], "rollback", "{outcome}");
    assert_eq!(outcome["strategy"], "balanced@0.1.0");

    let (ok, out, err) = engine.cli(&["learn", "run"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("from 1 outcome(s)") && out.contains("risk."),
        "{out}"
    );
    let (_, now, _) = engine.cli(&["thresholds", "show"]);
    let now: serde_json::Value = serde_json::from_str(&now).unwrap();
    assert_ne!(now, before, "the learner's change is in force");

    let (ok, history, _) = engine.cli(&["thresholds", "history"]);
    assert!(ok);
    assert!(
        history.contains("learner by env:MEDIC_API_KEY via bounded"),
        "{history}"
    );
    let id = history
        .lines()
        .next()
        .and_then(|l| l.trim_start_matches('#').split_whitespace().next())
        .unwrap()
        .to_string();
    let (ok, out, err) = engine.cli(&["thresholds", "revert", &id]);
    assert!(ok, "{err}");
    assert!(out.contains(&format!("reverts {id}")), "{out}");
    let (_, after, _) = engine.cli(&["thresholds", "show"]);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&after).unwrap(),
        before
    );

    // An operator's change is checked like the learner's.
    let (ok, _, err) = engine.cli(&["thresholds", "set", "risk.low=0.95", "--reason", "x"]);
    assert!(!ok && err.contains("risk bands must increase"), "{err}");
    let (ok, _, err) = engine.cli(&["thresholds", "set", "risk.low=0.35", "--reason", "review 7"]);
    assert!(ok, "{err}");

    // The weekly report, from the engine that holds the store.
    let (status, body) = engine.get("/api/v1/reports/weekly");
    assert_eq!(status, 200);
    assert_eq!(body["data"]["outcomes"]["resurrections"], 1);
    assert_eq!(
        body["data"]["threshold_changes"].as_array().unwrap().len(),
        3
    );
    let (status, _) = engine.get("/api/v1/reports/weekly?format=pdf");
    assert_eq!(status, 422);
    let (status, body) = engine.get("/api/v1/outcomes?module=thumbnailer&result=rollback");
    assert_eq!(status, 200);
    assert_eq!(body["data"].as_array().unwrap().len(), 1);
    let (status, body) = engine.get("/api/v1/outcomes?result=great");
    assert_eq!(status, 422);
    assert_eq!(body["errors"][0]["field"], "result");
    let (status, body) = engine.get("/api/v1/outcomes/stats?module=thumbnailer&days=7");
    assert_eq!(status, 200);
    assert_eq!(body["data"]["success_rate"], 0.0);
}
