//! End to end, with real processes: Smith (the test) kills a real service
//! and reports it on a real Redis; a real `medic serve` decides, brings it
//! back (or does not), watches it over HTTP and records the outcome.

use std::time::Duration;

use serde_json::json;

use crate::acting_support::{DemoService, Engine, stream_json, wait_for, yaml, yaml_set};
use crate::pipeline_support::{kill_json, threat_intel};

#[test]
fn semi_auto_brings_a_killed_service_back_and_records_success() {
    let dir = tempfile::tempdir().unwrap();
    let mut svc = DemoService::new(dir.path(), "web-frontend");
    let engine = Engine::start(vec![svc.backend()], |_, _| {});
    let first = svc.start();
    assert_eq!(svc.kill(), first);

    engine.report_kill(&kill_json("e2e-ok", "web-frontend"));
    let decision = engine.decision("e2e-ok");
    assert_eq!(decision["outcome"], "approve_auto", "{decision}");
    assert_eq!(decision["executed"], true);

    wait_for("the service to be back and healthy", 30, || svc.healthy());
    let second = svc.pid().unwrap();
    assert_ne!(first, second, "a new process answers");

    let outcome = engine.wait_outcome("e2e-ok", 60);
    assert_eq!(outcome["result"], "success", "{outcome}");
    assert_eq!(outcome["request_id"].as_str().map(str::len), Some(36));
    assert!(
        outcome["post_resurrection_metrics"]["checks"]
            .as_u64()
            .unwrap()
            >= 2
    );
    let requests = engine.requests_for("e2e-ok");
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(r["status"], "completed");
    assert_eq!(r["approved_by"], "auto");
    let moves: Vec<&str> = r["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["to"].as_str().unwrap())
        .collect();
    assert_eq!(
        moves,
        ["approved", "executing", "monitoring", "stable", "completed"]
    );
    assert!(svc.healthy(), "still up after monitoring");

    // Every move was published as a resurrection event.
    let mut conn = engine.redis.conn();
    let events: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
        .arg("medic.events")
        .arg("-")
        .arg("+")
        .query(&mut conn)
        .unwrap();
    let kinds: Vec<String> = events
        .ids
        .iter()
        .map(|e| e.get::<String>("event_type").unwrap())
        .collect();
    assert_eq!(
        kinds.first().map(String::as_str),
        Some("resurrection.requested")
    );
    assert_eq!(
        kinds
            .iter()
            .filter(|k| *k == "resurrection.status_changed")
            .count(),
        5
    );

    // The kill's whole story in the log — ingest, decision, each workflow
    // move, the outcome — carries its kill_id, and so does every line
    // about its resurrection request.
    let request_id = r["request_id"].as_str().unwrap().to_string();
    wait_for("the outcome in the log", 10, || {
        engine.log_text().contains("Resurrection outcome recorded")
    });
    let log = engine.log_text();
    for step in [
        "Kill report received",
        "Resurrection decision made",
        "Resurrection workflow moved",
        "Resurrection outcome recorded",
    ] {
        assert!(
            log.lines()
                .any(|l| l.contains(step) && l.contains("kill_id=e2e-ok")),
            "no line for {step:?} with the kill_id:\n{log}"
        );
    }
    for line in log.lines().filter(|l| l.contains(&request_id)) {
        assert!(line.contains("kill_id=e2e-ok"), "{line}");
    }
}

#[test]
fn a_service_that_comes_back_unhealthy_is_rolled_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut svc = DemoService::new(dir.path(), "api-gateway");
    let engine = Engine::start(vec![svc.backend()], |m, _| {
        yaml_set(m, "resurrection.startup_grace_seconds", yaml(json!(1)));
    });
    svc.start();
    svc.kill();
    // Whatever comes back will fail its health checks.
    svc.set_unhealthy(true);

    engine.report_kill(&kill_json("e2e-bad", "api-gateway"));
    let outcome = engine.wait_outcome("e2e-bad", 60);
    assert_eq!(outcome["result"], "rollback", "{outcome}");
    let r = &engine.requests_for("e2e-bad")[0];
    assert_eq!(r["status"], "rolled_back", "{r}");
    assert!(
        r["rollback_reason"]
            .as_str()
            .unwrap()
            .contains("no health check passed"),
        "{r}"
    );
    // Rolled back means stopped: the process Medic started is gone.
    wait_for("the rolled-back process to stop", 10, || !svc.pid_alive());
    assert!(!svc.running());
}

#[test]
fn a_module_needing_approval_waits_until_approved_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let mut svc = DemoService::new(dir.path(), "payment-processor");
    let engine = Engine::start(vec![svc.backend()], |_, _| {});
    svc.start();
    svc.kill();

    engine.report_kill(&kill_json("e2e-approve", "payment-processor"));
    let item = engine.wait_queued("e2e-approve");
    let id = item["item_id"].as_str().unwrap().to_string();
    assert_eq!(item["status"], "pending");
    assert!(
        item.get("cannot_resurrect").is_none(),
        "a backend serves it: {item}"
    );
    assert!(
        item["reason"]
            .as_str()
            .unwrap()
            .contains("always requires approval"),
        "{item}"
    );

    let (ok, out, err) = engine.cli(&["queue", "list"]);
    assert!(ok, "{err}");
    assert!(
        out.contains(&id) && out.contains("payment-processor"),
        "{out}"
    );
    std::thread::sleep(Duration::from_millis(500));
    assert!(!svc.running(), "nothing happens before a human approves");

    let (ok, out, err) = engine.cli(&[
        "queue",
        "approve",
        &id,
        "--notes",
        "checked with the payments team",
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("approved"), "{out}");
    wait_for("the approved service to be back", 30, || svc.healthy());
    let outcome = engine.wait_outcome("e2e-approve", 60);
    assert_eq!(outcome["result"], "success", "{outcome}");
    assert_eq!(outcome["human_feedback"], "checked with the payments team");
    let r = &engine.requests_for("e2e-approve")[0];
    assert_eq!(r["approved_by"], "env:MEDIC_API_KEY");

    // Unknown items are named; bad bodies name the field.
    let (status, body) = engine.post("/api/v1/queue/no-such-item/approve", json!({}));
    assert_eq!(status, 404, "{body}");
    let (status, body) = engine.post(
        &format!("/api/v1/queue/{id}/deny"),
        json!({"reasn": "typo"}),
    );
    assert_eq!(status, 422, "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("reasn"),
        "{body}"
    );

    // Decided once: a second decision is a conflict.
    let (ok, _, err) = engine.cli(&["queue", "deny", &id, "--reason", "too late"]);
    assert!(!ok);
    assert!(
        err.contains("409") && err.contains("already approved"),
        "{err}"
    );
}

/// An item no backend can bring back says so, in the list and alone, and
/// an approval of it is refused; deny still works.
#[test]
fn an_item_no_backend_serves_says_why_it_cannot_be_approved() {
    let dir = tempfile::tempdir().unwrap();
    let svc = DemoService::new(dir.path(), "auth-service");
    let engine = Engine::start(vec![svc.backend()], |_, _| {});
    engine.report_kill(&kill_json("e2e-nobackend", "payment-processor"));
    let listed = engine.wait_queued("e2e-nobackend");
    let why = listed["cannot_resurrect"].as_str().unwrap_or_default();
    assert!(
        why.contains("payment-processor") && why.contains("resurrection.backends"),
        "{listed}"
    );
    let id = listed["item_id"].as_str().unwrap().to_string();
    let (status, body) = engine.get(&format!("/api/v1/queue/{id}"));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["cannot_resurrect"], listed["cannot_resurrect"]);
    let (status, body) = engine.post(&format!("/api/v1/queue/{id}/approve"), json!({}));
    assert_eq!(status, 409, "{body}");
    let (status, body) = engine.post(
        &format!("/api/v1/queue/{id}/deny"),
        json!({"reason": "no way to bring it back here"}),
    );
    assert_eq!(status, 200, "{body}");
    // Decided: nothing left to approve, nothing to explain.
    let (_, body) = engine.get(&format!("/api/v1/queue/{id}"));
    assert_eq!(body["data"]["status"], "denied");
    assert!(body["data"].get("cannot_resurrect").is_none(), "{body}");
}

#[test]
fn a_denied_module_stays_down() {
    let dir = tempfile::tempdir().unwrap();
    let mut svc = DemoService::new(dir.path(), "auth-service");
    let engine = Engine::start(vec![svc.backend()], |_, _| {});
    svc.start();
    svc.kill();

    engine.report_kill(&kill_json("e2e-deny", "auth-service"));
    let id = engine.wait_queued("e2e-deny")["item_id"]
        .as_str()
        .unwrap()
        .to_string();
    std::thread::sleep(Duration::from_millis(1100));
    let waiting = engine.metrics();
    let oldest = waiting
        .lines()
        .find_map(|l| l.strip_prefix("medic_queue_oldest_pending_seconds "))
        .and_then(|v| v.parse::<u64>().ok());
    assert!(oldest.is_some_and(|s| s >= 1), "{waiting}");
    let (ok, out, err) = engine.cli(&["queue", "deny", &id, "--reason", "confirmed compromise"]);
    assert!(ok, "{err}");
    assert!(out.contains("stays down"), "{out}");
    // The operator's view: the denial counted, nothing waiting, no plugin
    // quarantined, and the process's own figures.
    let text = engine.metrics();
    for line in [
        "medic_approval_verdicts_total{verdict=\"denied\"} 1\n",
        "medic_approval_verdicts_total{verdict=\"approved\"} 0\n",
        "medic_approval_verdicts_total{verdict=\"expired\"} 0\n",
        "medic_queue_oldest_pending_seconds 0\n",
        "medic_plugin_quarantined{plugin=\"balanced\",kind=\"strategy\"} 0\n",
        "\nprocess_resident_memory_bytes ",
        "\nprocess_open_fds ",
        "\nprocess_cpu_seconds_total ",
    ] {
        assert!(text.contains(line), "{line} missing from:\n{text}");
    }
    std::thread::sleep(Duration::from_secs(1));
    assert!(!svc.running());
    assert!(engine.requests_for("e2e-deny").is_empty());
    let (ok, out, _) = engine.cli(&["queue", "show", &id]);
    assert!(ok);
    let shown: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(shown["status"], "denied");
    assert_eq!(shown["note"], "confirmed compromise");
    assert_eq!(shown["decided_by"], "env:MEDIC_API_KEY");
}

#[test]
fn in_manual_mode_a_critical_module_the_strategy_would_deny_reaches_a_human() {
    let dir = tempfile::tempdir().unwrap();
    let intel = dir.path().join("threats.yaml");
    std::fs::write(&intel, threat_intel(&["auth-service"])).unwrap();
    let mut svc = DemoService::new(dir.path(), "auth-service");
    let engine = Engine::start(vec![svc.backend()], |m, c| {
        // The shipped default judges (the acting tests bind `balanced`).
        for (kind, name) in [
            ("risk_scorer", "evidence"),
            ("strategy", "pessimistic"),
            ("threshold_learner", "calibrated"),
        ] {
            yaml_set(
                c,
                &format!("plugins.phase_3_semi_auto.{kind}.name"),
                yaml(json!(name)),
            );
        }
        yaml_set(m, "mode.current", yaml(json!("manual")));
        yaml_set(
            m,
            "siem.intel_file",
            yaml(json!(intel.display().to_string())),
        );
    });
    svc.start();
    svc.kill();

    let mut kill = kill_json("e2e-own", "auth-service");
    kill["severity"] = json!("critical");
    kill["kill_reason"] = json!("threat_detected");
    kill["confidence_score"] = json!(0.95);
    engine.report_kill(&kill);
    let item = engine.wait_queued("e2e-own");
    assert_eq!(item["status"], "pending", "{item}");
    let decision = &item["decision"];
    assert_eq!(decision["mode"], "manual", "{item}");
    assert_eq!(decision["strategy"]["name"], "pessimistic", "{item}");
    assert_eq!(decision["strategy_outcome"], "deny", "{item}");
    assert_eq!(decision["outcome"], "pending_review", "{item}");
    assert_eq!(decision["guardrails"], json!(["always_require_approval"]));
    assert_eq!(
        decision["recommended_action"],
        "queue auth-service for human review"
    );
    assert!(
        decision["reasoning"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == "strategy recommended deny: keep auth-service down and investigate"),
        "{item}"
    );
    assert!(
        item["reason"]
            .as_str()
            .unwrap()
            .contains("never denied for good without a human"),
        "{item}"
    );
    // The answer Smith gets says the same.
    let published = engine.decision("e2e-own");
    assert_eq!(published["outcome"], "pending_review", "{published}");
    assert_eq!(published["requires_human_review"], true, "{published}");

    std::thread::sleep(Duration::from_millis(300));
    assert!(!svc.running(), "nothing happens before a human decides");
    assert!(engine.requests_for("e2e-own").is_empty());
}

#[test]
fn a_vetoed_module_stays_down_with_smiths_reason() {
    let dir = tempfile::tempdir().unwrap();
    let mut svc = DemoService::new(dir.path(), "report-builder");
    let engine = Engine::start(vec![svc.backend()], |m, _| {
        yaml_set(m, "smith.veto_protocol.enabled", yaml(json!(true)));
        yaml_set(m, "smith.veto_protocol.timeout_seconds", yaml(json!(30)));
    });
    svc.start();
    svc.kill();

    engine.report_kill(&kill_json("e2e-veto", "report-builder"));
    // Smith reads the notice and vetoes.
    let mut conn = engine.redis.conn();
    let mut notice = serde_json::Value::Null;
    wait_for("a pre-resurrection notice", 60, || {
        if let Some(n) = stream_json(&mut conn, "medic.veto.notices").pop() {
            notice = n;
        }
        !notice.is_null()
    });
    assert_eq!(notice["message_type"], "PRE_RESURRECTION_NOTICE");
    assert_eq!(notice["kill_id"], "e2e-veto");
    assert_eq!(notice["target_module"], "report-builder");
    assert_eq!(notice["proposed_action"], "resurrect");
    let answer = json!({"message_type": "RESURRECTION_VETO", "request_id": notice["request_id"],
                        "decision": "veto", "reason": "C2 beacon still active on the host",
                        "new_evidence": [], "counter_proposal": {}, "timestamp": chrono::Utc::now().to_rfc3339()});
    let _: String = redis::cmd("XADD")
        .arg("smith.veto.responses")
        .arg("*")
        .arg("data")
        .arg(answer.to_string())
        .query(&mut conn)
        .unwrap();

    let mut request = serde_json::Value::Null;
    wait_for("the request to be cancelled", 30, || {
        request = engine
            .requests_for("e2e-veto")
            .first()
            .cloned()
            .unwrap_or_default();
        request["status"] == "cancelled"
    });
    assert!(
        request["error"]
            .as_str()
            .unwrap()
            .contains("C2 beacon still active"),
        "{request}"
    );
    std::thread::sleep(Duration::from_millis(500));
    assert!(!svc.running(), "a vetoed module stays down");
}

#[test]
fn the_mode_switches_at_run_time_through_the_cli_and_is_audited() {
    let dir = tempfile::tempdir().unwrap();
    let mut svc = DemoService::new(dir.path(), "batch-runner");
    let engine = Engine::start(vec![svc.backend()], |_, _| {});
    svc.start();

    let (ok, out, err) = engine.cli(&[
        "mode",
        "set",
        "manual",
        "--reason",
        "incident 4711: humans decide",
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("semi_auto → manual"), "{out}");
    let (ok, _, err) = engine.cli(&["mode", "set", "full_auto", "--reason", "try"]);
    assert!(!ok, "phase 5 is not enabled");
    assert!(err.contains("phase_5_full_auto"), "{err}");
    let (ok, _, err) = engine.cli(&["mode", "set", "sideways", "--reason", "x"]);
    assert!(
        !ok && err.contains("mode: \"sideways\" is not a mode"),
        "{err}"
    );

    // In manual mode even a low-risk kill waits for a human.
    svc.kill();
    engine.report_kill(&kill_json("e2e-manual", "batch-runner"));
    let item = engine.wait_queued("e2e-manual");
    assert!(
        item["decision"]["guardrails"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g == "mode"),
        "{item}"
    );
    assert_eq!(item["decision"]["mode"], "manual");
    std::thread::sleep(Duration::from_millis(300));
    assert!(!svc.running());

    let (ok, out, _) = engine.cli(&["mode", "show"]);
    assert!(ok);
    let shown: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(shown["current"], "manual");
    assert_eq!(shown["configured"], "semi_auto");

    let mut engine = engine;
    engine.stop();
    let store = medic::store::Store::open(&engine.store).unwrap();
    let changes: Vec<_> = store
        .audit_events(None, 100_000)
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == medic::store::AuditKind::ModeChanged)
        .collect();
    assert_eq!(changes.len(), 1, "refused switches change nothing");
    assert_eq!(changes[0].actor, "env:MEDIC_API_KEY");
    assert_eq!(changes[0].details["from"], "semi_auto");
    assert_eq!(changes[0].details["to"], "manual");
    assert_eq!(changes[0].details["reason"], "incident 4711: humans decide");
}

/// The error budget, with real processes: two automatic resurrections that
/// come back unhealthy are rolled back, which burns a budget of two, and
/// Medic steps from semi_auto to manual on its own — audited, counted,
/// published; the next kill, which semi_auto would have brought back
/// alone, waits in the queue for a person.
#[test]
fn repeated_rollbacks_burn_the_error_budget_and_medic_steps_down_to_manual() {
    let dir = tempfile::tempdir().unwrap();
    let mut bad1 = DemoService::new(dir.path(), "api-gateway");
    let mut bad2 = DemoService::new(dir.path(), "web-frontend");
    let mut good = DemoService::new(dir.path(), "batch-runner");
    let engine = Engine::start(
        vec![bad1.backend(), bad2.backend(), good.backend()],
        |m, c| {
            yaml_set(m, "resurrection.startup_grace_seconds", yaml(json!(1)));
            yaml_set(
                c,
                "phases.phase_3_semi_auto.error_budget",
                yaml(json!({"max_failures": 2, "window_minutes": 60})),
            );
        },
    );
    for (svc, id) in [(&mut bad1, "e2e-budget-1"), (&mut bad2, "e2e-budget-2")] {
        svc.start();
        svc.kill();
        svc.set_unhealthy(true);
        engine.report_kill(&kill_json(id, &svc.module));
        let outcome = engine.wait_outcome(id, 60);
        assert_eq!(outcome["result"], "rollback", "{outcome}");
    }
    wait_for("the mode to step down", 20, || {
        engine.get("/api/v1/mode").1["data"]["current"] == "manual"
    });
    let (_, audit) = engine.get("/api/v1/audit?limit=1000");
    let change = audit["data"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "mode_changed" && e["actor"] == "medic")
        .cloned()
        .unwrap_or_else(|| panic!("the step down is audited: {audit}"));
    assert_eq!(change["details"]["from"], "semi_auto", "{change}");
    assert_eq!(change["details"]["to"], "manual", "{change}");
    assert!(
        change["details"]["reason"]
            .as_str()
            .unwrap()
            .contains("error budget burnt: 2"),
        "{change}"
    );
    assert!(
        engine
            .metrics()
            .contains("medic_mode_demotions_total{from=\"semi_auto\",to=\"manual\"} 1"),
        "{}",
        engine.metrics()
    );
    let events = stream_json(&mut engine.redis.conn(), "medic.events");
    assert!(
        events.iter().any(|e| e["event_type"] == "mode.demoted"
            && e["to"] == "manual"
            && e["failures"] == 2),
        "{events:?}"
    );

    // A kill semi_auto would have brought back alone now waits for a person.
    good.start();
    good.kill();
    engine.report_kill(&kill_json("e2e-after", "batch-runner"));
    let item = engine.wait_queued("e2e-after");
    assert_eq!(item["status"], "pending", "{item}");
    assert!(!good.running(), "nothing brought it back");
}

/// `medic shadow report` and `promote` against a real `medic serve`: a
/// shadow bound in the constitution judges the live kill beside the
/// strategy in force; the report says so; promoting it makes it the
/// phase's strategy.
#[test]
fn the_shadow_cli_reports_and_promotes_through_the_running_medic() {
    let dir = tempfile::tempdir().unwrap();
    let mut svc = DemoService::new(dir.path(), "web-frontend");
    let engine = Engine::start(vec![svc.backend()], |_, c| {
        yaml_set(
            c,
            "plugins.phase_3_semi_auto.shadow",
            yaml(json!({"risk_scorer": {"name": "weighted"}, "strategy": {"name": "balanced"}})),
        );
    });
    svc.start();
    svc.kill();
    engine.report_kill(&kill_json("e2e-shadow", "web-frontend"));
    engine.decision("e2e-shadow");
    let mut out = String::new();
    wait_for("the shadow's record", 20, || {
        let (ok, o, _) = engine.cli(&["shadow", "report", "--hours", "1"]);
        out = o;
        ok && out.contains("judged 1 kill(s)")
    });
    assert!(out.contains("shadow of phase_3_semi_auto"), "{out}");
    assert!(out.contains("strategy balanced@"), "{out}");
    let (ok, json_out, err) = engine.cli(&["shadow", "report", "--format", "json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&json_out).unwrap();
    assert_eq!(v["report"]["judged"], 1, "{v}");

    let (ok, out, err) = engine.cli(&["shadow", "promote", "--phase", "phase_3_semi_auto"]);
    assert!(ok, "{err}");
    assert!(out.contains("strategy balanced"), "{out}");
    let (_, status) = engine.get("/api/v1/status");
    assert!(status.to_string().contains("balanced"), "{status}");
    let (ok, _, err) = engine.cli(&["shadow", "promote", "--phase", "phase_3_semi_auto"]);
    assert!(!ok && err.contains("has no shadow to promote"), "{err}");
}
