//! One contract, two stores: the embedded sled store and the PostgreSQL
//! store answer every kind of state alike (`exercise`), and PostgreSQL's
//! own promises — counts rebuilt on a reconnect, migrations applied once,
//! a kill decided once across replicas, an engine deciding and acting on
//! it — hold on a real server, in a database made for each test.

use chrono::{DateTime, Duration, TimeZone, Utc};
use medic::config::raw::PluginBinding;
use medic::model::{
    DecisionOutcome, OutcomeRecord, OutcomeResult, PluginKind, QueueItem, QueueStatus, Reading,
    ResurrectionRequest, ResurrectionStatus, RiskLevel, WorkflowState,
};
use medic::store::replica::{Automatic, Held, Take, Taken};
use medic::store::{
    AuditKind, ChangeSource, DeadLetter, DecisionRecord, Newest, OutcomeFilter, Response,
    Retention, ScanBudget, ShadowRecord, Store, Stored, ThresholdChange,
};

use crate::postgres_db::TestDatabase;

/// A decided kill as the engine stores them (with SIEM context).
fn record(n: u32, module: &str, at: DateTime<Utc>, outcome: DecisionOutcome) -> DecisionRecord {
    let text = r#"{"kill":{"kill_id":"k","timestamp":"2026-11-26T12:57:07.854273353Z","target_module":"m","target_instance_id":"m-1","kill_reason":"anomaly_behavior","severity":"low","confidence_score":0.5,"evidence":["load \"quoted\""],"dependencies":[],"source_agent":"smith-01","metadata":{"k":"v"}},"context":{"query_id":"q","kill_id":"k","timestamp":"2026-11-26T12:57:07.854273353Z","threat_indicators":[],"historical_behavior":{},"false_positive_history":3,"network_context":{},"user_context":null,"risk_score":0.1,"recommendation":""},"decision":{"decision_id":"d","kill_id":"k","timestamp":"2026-11-26T12:57:07.899614908Z","outcome":"pending_review","risk_level":"low","risk_score":0.272,"confidence":1.0,"reasoning":["a","b"],"recommended_action":"queue for human review","requires_human_review":true,"auto_approve_eligible":false,"constraints":[],"timeout_minutes":60,"target_module":"m","target_instance_id":"m-1","risk_factors":[{"name":"false_positive_history","value":0.4,"weight":0.2,"contribution":0.08000000000000002,"detail":"3"}],"strategy_outcome":"pending_review","guardrails":[],"mode":"observer","phase":"phase_1_observer","executed":false,"context_status":{"status":"ok"},"scorer":{"name":"weighted","version":"0.1.0","sha256":"d8"},"strategy":{"name":"conservative","version":"0.1.0","sha256":"6e"},"correlation_id":"c","source":"redis","latency_us":803}}"#;
    let mut rec: DecisionRecord = serde_json::from_str(text).expect("a record");
    let kill_id = format!("k-{n:04}");
    rec.kill.kill_id = kill_id.clone();
    rec.kill.target_module = module.into();
    rec.kill.timestamp = at - Duration::milliseconds(40);
    rec.decision.kill_id = kill_id;
    rec.decision.decision_id = format!("d-{n:04}");
    rec.decision.timestamp = at;
    rec.decision.outcome = outcome;
    rec.decision.target_module = module.into();
    if let Some(c) = rec.context.as_mut() {
        c.risk_score = f64::from(n % 10) / 10.0;
    }
    rec
}

fn queue_item(rec: &DecisionRecord, status: QueueStatus, at: DateTime<Utc>) -> QueueItem {
    QueueItem {
        item_id: format!("i-{}", rec.decision.decision_id),
        decision: rec.decision.clone(),
        kill: rec.kill.clone(),
        reason: "a person decides".into(),
        enqueued_at: rec.decision.timestamp,
        expires_at: rec.decision.timestamp + Duration::hours(1),
        status,
        decided_by: (status != QueueStatus::Pending).then(|| "alice".into()),
        decided_at: (status != QueueStatus::Pending).then_some(at),
        note: None,
        request_id: None,
        cannot_resurrect: None,
    }
}

/// An outcome as the resurrector records it, with the kill's evidence.
fn outcome(n: u32, module: &str, result: OutcomeResult, at: DateTime<Utc>) -> OutcomeRecord {
    OutcomeRecord {
        reading: Some(Reading {
            siem_risk: 0.9,
            on_record: 0,
            indicator: None,
            confidence: None,
            reason: None,
        }),
        ..crate::learning::outcome(n as usize, module, RiskLevel::Low, result, at)
    }
}

fn request(n: u32, state: WorkflowState, at: DateTime<Utc>) -> ResurrectionRequest {
    ResurrectionRequest {
        request_id: format!("r-{n:04}"),
        decision_id: format!("d-{n:04}"),
        kill_id: format!("k-{n:04}"),
        target_module: "m".into(),
        target_instance_id: "m-1".into(),
        status: ResurrectionStatus::Pending,
        created_at: at,
        approved_at: None,
        approved_by: None,
        executed_at: None,
        completed_at: None,
        rollback_reason: None,
        monitoring_duration_minutes: 5.0,
        health_checks: vec![],
        state,
        transitions: vec![],
        backend: "command".into(),
        attempts: 0,
        error: None,
        dependencies: vec![],
        notes: None,
    }
}

/// Every kind of state, written and read back through the one `Store`
/// the engine holds. Both backends must pass it unchanged.
fn exercise(store: &Store) {
    let t0 = Utc.with_ymd_and_hms(2026, 11, 1, 12, 0, 0).unwrap();
    let at = |minutes: i64| t0 + Duration::minutes(minutes);

    // Decisions: stored once per kill; a redelivery gets the first.
    let mut recs = Vec::new();
    for n in 0..30u32 {
        let module = if n % 3 == 0 { "alpha" } else { "beta" };
        let outcome = if n % 5 == 0 {
            DecisionOutcome::ApproveAuto
        } else {
            DecisionOutcome::PendingReview
        };
        let rec = record(n, module, at(i64::from(n)), outcome);
        assert_eq!(store.store_decision(&rec).unwrap(), Stored::New);
        recs.push(rec);
    }
    let mut again = recs[4].clone();
    again.decision.decision_id = "d-other".into();
    match store.store_decision(&again).unwrap() {
        Stored::Duplicate(d) => assert_eq!(d.decision_id, "d-0004"),
        Stored::New => panic!("a kill was decided twice"),
    }
    assert_eq!(store.decision_count(), 30);
    assert_eq!(
        store.record_for_kill("k-0007").unwrap().as_ref(),
        Some(&recs[7])
    );
    assert_eq!(store.record("d-0008").unwrap().as_ref(), Some(&recs[8]));
    assert_eq!(store.decision("d-other").unwrap(), None);
    assert_eq!(store.decision_for_kill("k-9999").unwrap(), None);
    let between = store.records_between(at(10), at(20)).unwrap();
    assert_eq!(between, recs[10..20].to_vec());
    let mut visited = Vec::new();
    store
        .visit_records_between(at(0), at(30), |r| {
            visited.push(r.decision.decision_id.clone())
        })
        .unwrap();
    visited.sort();
    assert_eq!(visited.len(), 30);
    let mut times = Vec::new();
    store
        .visit_decision_times(at(0), at(5), |ms| times.push(ms))
        .unwrap();
    times.sort_unstable();
    assert_eq!(
        times,
        (0..5).map(|m| at(m).timestamp_millis()).collect::<Vec<_>>()
    );
    // Newest first, by module, below a cursor, with a filter.
    let page = Newest {
        from: at(0),
        to: at(60),
        below: Some((at(20), "k-0020")),
        limit: 3,
        module: Some("alpha"),
    };
    let newest = store
        .records_newest(&page, &ScanBudget::unlimited(), |_| true)
        .unwrap();
    let ids: Vec<_> = newest
        .records
        .iter()
        .map(|r| r.decision.decision_id.as_str())
        .collect();
    assert_eq!(ids, ["d-0018", "d-0015", "d-0012"]);
    assert!(newest.stopped.is_none());
    let approved = store
        .records_newest(
            &Newest {
                below: None,
                module: None,
                limit: 100,
                ..page
            },
            &ScanBudget::unlimited(),
            |r| r.decision.outcome == DecisionOutcome::ApproveAuto,
        )
        .unwrap();
    assert_eq!(approved.records.len(), 6);
    assert_eq!(approved.records[0].decision.decision_id, "d-0025");
    let by_module = store.kill_times_by_module(at(-1), at(30)).unwrap();
    assert_eq!(by_module["alpha"].len(), 10);
    assert_eq!(by_module["beta"].len(), 20);
    assert!(by_module["beta"].windows(2).all(|w| w[0] <= w[1]));
    let alpha = store.records_for_module("alpha", at(-1), at(10)).unwrap();
    assert_eq!(
        alpha
            .iter()
            .map(|r| r.kill.kill_id.as_str())
            .collect::<Vec<_>>(),
        ["k-0000", "k-0003", "k-0006", "k-0009"]
    );
    let h = store.module_history("beta", at(30)).unwrap();
    assert_eq!(
        (h.kills_last_hour, h.kills_last_day, h.kills_last_week),
        (20, 20, 20)
    );
    assert_eq!(
        h.last_kill.map(|t| t.timestamp_millis()),
        Some(recs[29].kill.timestamp.timestamp_millis())
    );
    // Two hours on, out of the hour, still in the day and the week; a
    // week on, gone; before them, none.
    let later = store.module_history("beta", at(150)).unwrap();
    assert_eq!(
        (
            later.kills_last_hour,
            later.kills_last_day,
            later.kills_last_week
        ),
        (0, 20, 20)
    );
    let gone = store
        .module_history("beta", at(30) + Duration::weeks(1) + Duration::hours(1))
        .unwrap();
    assert_eq!((gone.kills_last_week, gone.last_kill), (0, None));
    let before = store.module_history("beta", at(-10)).unwrap();
    assert_eq!(before.kills_last_week, 0);

    // The audit log: numbered in order, read forwards and back.
    let first = store
        .audit(
            AuditKind::DecisionMade,
            Some("k-0001"),
            Some("d-0001"),
            "medic",
            serde_json::json!({"n": 1}),
        )
        .unwrap();
    let second = store
        .audit(
            AuditKind::HumanApproval,
            None,
            None,
            "alice",
            serde_json::json!({"n": 2}),
        )
        .unwrap();
    assert!(second > first);
    let events = store.audit_events(None, 10).unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].kind, AuditKind::DecisionMade);
    assert_eq!(events[0].details["n"], 1);
    assert_eq!(events[1].actor, "alice");
    assert_eq!(store.audit_events(Some(first), 10).unwrap().len(), 1);
    let back = store.audit_events_before(None, 1).unwrap();
    assert_eq!(back[0].seq, second);

    // Dead letters.
    for minutes in [1, 2, 40] {
        store
            .dead_letter(&DeadLetter {
                at: at(minutes),
                source: "redis".into(),
                entry_id: Some(format!("1-{minutes}")),
                field: "kill_id".into(),
                reason: "missing".into(),
                raw: "{}".into(),
            })
            .unwrap();
    }
    assert_eq!(store.dead_letters_between(at(0), at(10)).unwrap().len(), 2);
    assert_eq!(store.dead_letters_count_between(at(0), at(60)).unwrap(), 3);

    // The approval queue, people's verdicts and the calibration.
    let before = store.resembling(Reading::of(&recs[1].kill, recs[1].context.as_ref()));
    for n in [1, 2, 4] {
        store
            .put_queue_item(&queue_item(&recs[n], QueueStatus::Pending, at(31)))
            .unwrap();
    }
    assert_eq!(store.pending_queue_len(), 3);
    assert_eq!(
        store.oldest_pending_queue_item().unwrap().unwrap().item_id,
        "i-d-0001"
    );
    store
        .put_queue_item(&queue_item(&recs[1], QueueStatus::Denied, at(32)))
        .unwrap();
    // Written again: counted once.
    store
        .put_queue_item(&queue_item(&recs[1], QueueStatus::Denied, at(32)))
        .unwrap();
    store
        .put_queue_item(&queue_item(&recs[2], QueueStatus::Expired, at(33)))
        .unwrap();
    assert_eq!(store.pending_queue_len(), 1);
    assert_eq!(store.pending_queue_items().unwrap()[0].item_id, "i-d-0004");
    assert_eq!(store.queue_items().unwrap().len(), 3);
    assert_eq!(
        store.queue_item("i-d-0002").unwrap().unwrap().status,
        QueueStatus::Expired
    );
    let v = store.human_verdicts("beta");
    assert_eq!((v.approvals, v.denials), (0, 1));
    let verdicts = store.human_verdicts_between(at(0), at(60)).unwrap();
    assert_eq!(verdicts.len(), 1);
    assert!(!verdicts[0].approved);
    let after = store.resembling(Reading::of(&recs[1].kill, recs[1].context.as_ref()));
    assert_ne!(before, after, "a denial teaches the calibration");
    assert!(store.remove_queue_item("i-d-0004").unwrap().is_some());
    assert_eq!(store.pending_queue_len(), 0);

    // Resurrection requests.
    store
        .put_request(&request(1, WorkflowState::Monitoring, at(1)))
        .unwrap();
    store
        .put_request(&request(2, WorkflowState::Completed, at(2)))
        .unwrap();
    store
        .put_request(&request(3, WorkflowState::Executing, at(3)))
        .unwrap();
    let unfinished: Vec<_> = store
        .unfinished_requests()
        .unwrap()
        .into_iter()
        .map(|r| r.request_id)
        .collect();
    assert_eq!(unfinished, ["r-0001", "r-0003"]);
    let newest: Vec<_> = store
        .requests(2)
        .unwrap()
        .into_iter()
        .map(|r| r.request_id)
        .collect();
    assert_eq!(newest, ["r-0003", "r-0002"]);
    store
        .put_request(&request(3, WorkflowState::Failed, at(3)))
        .unwrap();
    assert_eq!(store.unfinished_requests().unwrap().len(), 1);
    store.remove_request("r-0001").unwrap();
    assert_eq!(store.request("r-0001").unwrap(), None);
    assert_eq!(
        store.request("r-0002").unwrap().unwrap().state,
        WorkflowState::Completed
    );

    // Outcomes.
    let results = [
        OutcomeResult::Success,
        OutcomeResult::ReKilled,
        OutcomeResult::Success,
        OutcomeResult::Rollback,
        OutcomeResult::Failure,
    ];
    for (n, result) in results.iter().enumerate() {
        let module = if n < 3 { "alpha" } else { "beta" };
        store
            .put_outcome(&outcome(n as u32, module, *result, at(n as i64)))
            .unwrap();
    }
    let c = store.module_outcome_counts("alpha").unwrap();
    assert_eq!((c.resurrections, c.successes, c.re_kills), (3, 2, 1));
    let all = store.counts_between(at(0), at(10)).unwrap();
    assert_eq!(
        (
            all.resurrections,
            all.successes,
            all.re_kills,
            all.rollbacks,
            all.failures
        ),
        (5, 2, 1, 1, 1)
    );
    assert_eq!(store.outcomes_between(at(1), at(3)).unwrap().len(), 2);
    let f = OutcomeFilter {
        result: Some(OutcomeResult::Success),
        ..OutcomeFilter::default()
    };
    let successes = store.query_outcomes(&f, 1).unwrap();
    assert_eq!(successes.len(), 1);
    assert_eq!(
        successes[0].outcome_id, "o-0000002",
        "the newest within the limit"
    );
    assert_eq!(store.module_outcomes("beta").unwrap().len(), 2);
    assert_eq!(
        store
            .module_outcome_history("alpha", 7, at(10))
            .unwrap()
            .len(),
        3
    );

    // Thresholds and learning.
    assert_eq!(store.current_thresholds().unwrap(), None);
    let values = |v: f64| [("risk.low".to_string(), v)].into_iter().collect();
    let change = |v: f64| ThresholdChange {
        id: 0,
        at: at(5),
        source: ChangeSource::Learner,
        actor: "bounded".into(),
        before: values(0.4),
        after: values(v),
        reasons: vec!["why".into()],
        samples: 30,
        plugin: None,
        reverts: None,
    };
    let a = store
        .record_threshold_change(change(0.45), &values(0.45))
        .unwrap();
    let b = store
        .record_threshold_change(change(0.5), &values(0.5))
        .unwrap();
    assert!(b.id > a.id);
    assert_eq!(store.threshold_change_count(), 2);
    assert_eq!(
        store.threshold_change(a.id).unwrap().unwrap().after,
        values(0.45)
    );
    assert_eq!(store.threshold_history().unwrap()[1].id, b.id);
    assert_eq!(store.current_thresholds().unwrap(), Some(values(0.5)));
    assert_eq!(store.last_learned_at().unwrap(), None);
    store.set_last_learned_at(at(7)).unwrap();
    store.set_last_learning_run_at(at(8)).unwrap();
    assert_eq!(store.last_learned_at().unwrap(), Some(at(7)));
    assert_eq!(store.last_learning_run_at().unwrap(), Some(at(8)));

    // Plugin bindings made at run time.
    let binding = |name: &str| PluginBinding {
        name: name.into(),
        sha256: None,
    };
    store
        .put_plugin_binding(
            "phase_3_semi_auto",
            PluginKind::Strategy,
            &binding("balanced"),
        )
        .unwrap();
    store
        .put_plugin_binding(
            "phase_3_semi_auto",
            PluginKind::Strategy,
            &binding("aggressive"),
        )
        .unwrap();
    store
        .put_plugin_binding(
            "phase_1_observer",
            PluginKind::RiskScorer,
            &binding("evidence"),
        )
        .unwrap();
    let bindings = store.plugin_bindings().unwrap();
    assert_eq!(bindings.len(), 2);
    assert_eq!(bindings[0].0, "phase_1_observer");
    assert_eq!(bindings[1].2.name, "aggressive");

    // Shadow decisions.
    for n in 0..3u32 {
        store
            .put_shadow(&ShadowRecord {
                kill_id: format!("k-{n:04}"),
                decision_id: format!("d-{n:04}"),
                module: "alpha".into(),
                decided_at: at(i64::from(n)),
                phase: "phase_1_observer".into(),
                live: DecisionOutcome::PendingReview,
                shadow: DecisionOutcome::ApproveAuto,
                scorer: "evidence@0.1.0".into(),
                strategy: "balanced@0.1.0".into(),
                risk_score: 0.2,
                confidence: 0.9,
                error: None,
            })
            .unwrap();
    }
    assert_eq!(store.shadows_between(at(1), at(5)).unwrap().len(), 2);

    // The outbox: oldest first, gone once done.
    let response = |k: &str| Response {
        stream: "medic.responses".into(),
        kill_id: k.into(),
        decision_id: format!("d-{k}"),
        correlation_id: "c".into(),
        data: "{}".into(),
    };
    let s1 = store.outbox_put(&response("a")).unwrap();
    let s2 = store.outbox_put(&response("b")).unwrap();
    assert!(s2 > s1);
    assert_eq!(store.outbox_len(), 2);
    let waiting = store.outbox_waiting(10).unwrap();
    assert_eq!(waiting[0], (s1, response("a")));
    assert_eq!(waiting[1], (s2, response("b")));
    store.outbox_done(s1).unwrap();
    assert_eq!(store.outbox_len(), 1);

    // Retention: a sweep as of 20 minutes after t0 + 31 days removes what
    // is older than the first 20 minutes' cut, and keeps the rest.
    let now = at(20) + Duration::days(31);
    let swept = store
        .sweep(
            &Retention {
                decisions: Duration::days(31),
                audit: Duration::days(31),
            },
            now,
        )
        .unwrap();
    assert_eq!(swept.decisions, 20, "{swept:?}");
    assert_eq!(swept.outcomes, 5, "{swept:?}");
    assert_eq!(swept.shadow_decisions, 3, "{swept:?}");
    assert_eq!(swept.dead_letters, 2, "{swept:?}");
    assert!(!swept.more);
    assert_eq!(store.decision_count(), 10);
    assert_eq!(store.record_for_kill("k-0004").unwrap(), None);
    assert!(store.record_for_kill("k-0025").unwrap().is_some());
    assert_eq!(
        store.module_outcome_counts("alpha").unwrap().resurrections,
        0
    );
}

#[test]
fn the_sled_store_keeps_every_kind_of_state() {
    exercise(&Store::temporary().unwrap());
}

#[test]
fn the_postgres_store_keeps_every_kind_of_state() {
    let db = TestDatabase::create();
    exercise(&db.store());
}

#[test]
fn a_postgres_store_reconnected_counts_what_it_counted_and_migrates_once() {
    let db = TestDatabase::create();
    let t0 = Utc::now() - Duration::hours(2);
    let rec = record(1, "gamma", t0, DecisionOutcome::PendingReview);
    let reading = Reading::of(&rec.kill, rec.context.as_ref());
    let (verdicts, resembling) = {
        let store = db.store();
        store.store_decision(&rec).unwrap();
        store
            .put_queue_item(&queue_item(&rec, QueueStatus::Pending, t0))
            .unwrap();
        store
            .put_queue_item(&queue_item(
                &rec,
                QueueStatus::Denied,
                t0 + Duration::minutes(5),
            ))
            .unwrap();
        store
            .put_outcome(&outcome(2, "gamma", OutcomeResult::ReKilled, t0))
            .unwrap();
        (store.human_verdicts("gamma"), store.resembling(reading))
    };
    // A second replica (or a restart) finds the schema in place and builds
    // the same counts from the tables.
    let store = db.store();
    assert_eq!(store.human_verdicts("gamma"), verdicts);
    assert_eq!(verdicts.denials, 1);
    assert_eq!(store.resembling(reading), resembling);
    assert_eq!(store.decision_count(), 1);
}

#[test]
fn replicas_sharing_one_database_decide_each_kill_once() {
    const KILLS: u32 = 200;
    let db = TestDatabase::create();
    let replicas: Vec<Store> = (0..3).map(|_| db.store()).collect();
    let t0 = Utc::now();
    // Every replica tries to store its own decision for every kill, at once.
    let handles: Vec<_> = replicas
        .iter()
        .enumerate()
        .map(|(r, store)| {
            let store = store.clone();
            std::thread::spawn(move || {
                let mut new = Vec::new();
                for n in 0..KILLS {
                    let mut rec = record(n, "m", t0, DecisionOutcome::PendingReview);
                    rec.decision.decision_id = format!("d-{n:04}-replica-{r}");
                    match store.store_decision(&rec).unwrap() {
                        Stored::New => new.push((n, rec.decision.decision_id)),
                        Stored::Duplicate(d) => {
                            assert_ne!(d.decision_id, rec.decision.decision_id);
                            assert!(d.decision_id.starts_with(&format!("d-{n:04}-replica-")));
                        }
                    }
                }
                new
            })
        })
        .collect();
    let mut stored: Vec<(u32, String)> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    stored.sort();
    assert_eq!(stored.len() as u32, KILLS, "each kill stored exactly once");
    assert!(stored.iter().enumerate().all(|(i, (n, _))| *n == i as u32));
    // Every replica reads the one decision stored.
    for (n, decision_id) in stored.iter().step_by(37) {
        for store in &replicas {
            let d = store
                .decision_for_kill(&format!("k-{n:04}"))
                .unwrap()
                .unwrap();
            assert_eq!(&d.decision_id, decision_id);
        }
    }
    assert_eq!(replicas[0].decision_count(), KILLS as usize);
}

#[test]
fn a_postgres_url_that_does_not_answer_is_refused_at_connect_and_named() {
    let err = Store::connect("postgres://postgres@127.0.0.1:1/medic")
        .err()
        .expect("nothing listens on port 1");
    let text = err.to_string();
    assert!(text.contains("PostgreSQL"), "{text}");
}

/// The engine on PostgreSQL: kills decided and acted on, the hourly cap
/// holding under a burst, everything in the database a second replica
/// reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_on_postgres_decides_acts_and_caps_a_burst() {
    use crate::acting_inprocess::{request_of, setup, wait_final};
    const CAP: u32 = 4;
    const KILLS: usize = 20;
    let db = TestDatabase::create();
    let s = setup(CAP, |_| {}, db.store());
    let auto = crate::pipeline_support::burst(std::slice::from_ref(&s.decider), "pg-burst", KILLS)
        .await
        .iter()
        .filter(|h| h.decision().outcome == DecisionOutcome::ApproveAuto)
        .count();
    assert_eq!(auto, CAP as usize, "the hourly cap holds");
    let store = s.decider.store.clone();
    store.flush().await.unwrap();
    // The automatic approvals run to their end, recorded in PostgreSQL.
    let mut finished = 0;
    for i in 0..KILLS {
        if let Some(r) = request_of(&store, &format!("pg-burst-{i}")) {
            let r = wait_final(&store, &r.request_id).await;
            assert_eq!(r.state, WorkflowState::Completed, "{r:?}");
            finished += 1;
        }
    }
    assert_eq!(finished, CAP as usize);
    // Another replica sees it all.
    let other = db.store();
    assert_eq!(other.decision_count(), KILLS);
    assert_eq!(
        other
            .auto_approvals_since(Utc::now() - Duration::hours(1))
            .unwrap()
            .len(),
        CAP as usize
    );
    assert_eq!(other.requests(100).unwrap().len(), CAP as usize);
    let outcomes = other
        .counts_between(
            Utc::now() - Duration::hours(1),
            Utc::now() + Duration::minutes(1),
        )
        .unwrap();
    assert_eq!(outcomes.resurrections, CAP);
    assert!(
        other
            .audit_events(None, 1000)
            .unwrap()
            .iter()
            .any(|e| e.kind == AuditKind::DecisionMade)
    );
}

#[test]
fn replicas_sharing_the_outbox_publish_each_response_once() {
    let db = TestDatabase::create();
    let a = db.store();
    let b = db.store();
    for n in 0..10 {
        a.outbox_put(&Response {
            stream: "medic.responses".into(),
            kill_id: format!("k-{n}"),
            decision_id: format!("d-{n}"),
            correlation_id: "c".into(),
            data: "{}".into(),
        })
        .unwrap();
    }
    // Each replica takes a batch: none is taken twice while its lease runs.
    let first = a.outbox_waiting(4).unwrap();
    let second = b.outbox_waiting(100).unwrap();
    assert_eq!((first.len(), second.len()), (4, 6));
    assert!(
        first
            .iter()
            .all(|(s, _)| second.iter().all(|(t, _)| s != t))
    );
    // A replica retrying (Redis was down) takes its own batch again.
    assert_eq!(a.outbox_waiting(100).unwrap(), first);
    assert!(
        b.outbox_waiting(2)
            .unwrap()
            .iter()
            .all(|r| second.contains(r))
    );
    for (seq, _) in first.iter().chain(&second) {
        a.outbox_done(*seq).unwrap();
    }
    assert_eq!(b.outbox_len(), 0);
}

#[test]
fn one_replica_leads_the_work_that_runs_once_and_another_takes_over_when_it_goes() {
    use medic::store::SINGLETON_ROLE;
    let db = TestDatabase::create();
    let a = db.store();
    let b = db.store();
    assert!(a.leads());
    assert!(!b.leads(), "one leader at a time");
    assert_eq!(a.lead(SINGLETON_ROLE).unwrap(), Some(1));
    assert_eq!(b.lead(SINGLETON_ROLE).unwrap(), None);
    // A leader whose epoch moved on (another took the role while it was
    // cut off) stands down.
    db.execute("UPDATE leaders SET epoch = epoch + 10");
    assert_ne!(a.lead(SINGLETON_ROLE).unwrap(), Some(1));
    // The leader goes (its connection with it): another replica takes the
    // role, at a later epoch.
    drop(a);
    let mut took = None;
    for _ in 0..200 {
        if let Some(epoch) = b.lead(SINGLETON_ROLE).unwrap() {
            took = Some(epoch);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(took.is_some_and(|e| e > 11), "{took:?}");
    assert!(b.leads());
    // The embedded store has one process: it always leads.
    assert_eq!(
        Store::temporary().unwrap().lead(SINGLETON_ROLE).unwrap(),
        Some(1)
    );
}

/// A task that spent tokio's cooperative budget without yielding (as the
/// Redis consumer deciding a batch in one poll does) still gets its store
/// call answered: it hung until the store's calls ran unconstrained.
#[test]
fn a_store_call_from_a_task_that_spent_its_budget_is_answered() {
    use futures::FutureExt;
    let db = TestDatabase::create();
    let store = db.store();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let answered = rt.block_on(async move {
        let task = tokio::spawn(async move {
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            for i in 0..1000 {
                tx.send(i).unwrap();
            }
            // Each receive spends a unit; once none is left it is pending.
            let mut received = 0;
            while rx.recv().now_or_never().is_some() {
                received += 1;
            }
            assert!(received < 1000, "the budget ran out");
            store.record_for_kill("k-1").unwrap()
        });
        tokio::time::timeout(std::time::Duration::from_secs(20), task).await
    });
    // Not waiting for a worker that may be stuck: the test fails, not hangs.
    rt.shutdown_background();
    assert_eq!(answered.expect("the store call hung").unwrap(), None);
}

#[test]
fn a_database_a_newer_medic_migrated_is_refused_at_connect() {
    let db = TestDatabase::create();
    drop(db.store());
    // A migration this Medic does not have, as a newer one would leave.
    db.execute(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (9999, 'from a newer medic', true, '\\x00', 0)",
    );
    let err = Store::connect(&db.url())
        .err()
        .expect("a schema from the future is refused");
    assert!(err.to_string().contains("9999"), "{err}");
}

/// An automatic resurrection of module `m` for `kill`, as the decider asks.
fn auto_take<'a>(kill: &'a str, m: &'a str, now: DateTime<Utc>) -> Take<'a> {
    Take {
        kill_id: kill,
        module: m,
        now,
        automatic: Some(Automatic {
            cap: 100,
            cooldown: std::time::Duration::from_secs(600),
        }),
    }
}

#[test]
fn replicas_take_a_module_once_and_all_hold_it_busy_in_its_cooldown_and_flapping() {
    let db = TestDatabase::create();
    let (a, b) = (db.store(), db.store());
    let now = Utc::now();
    assert_eq!(
        a.take_resurrection(&auto_take("k-1", "m", now)).unwrap(),
        Taken::Granted
    );
    // Asked again for the same kill (a retry), still granted.
    assert_eq!(
        b.take_resurrection(&auto_take("k-1", "m", now)).unwrap(),
        Taken::Granted
    );
    // Another kill of the module: busy, before and after its request is
    // stored, for a person's approval too.
    let busy = Taken::Held(Held::Busy {
        kill_id: "k-1".into(),
    });
    assert_eq!(
        b.take_resurrection(&auto_take("k-2", "m", now)).unwrap(),
        busy
    );
    let mut r = request(1, WorkflowState::Monitoring, now);
    r.kill_id = "k-1".into();
    a.put_request(&r).unwrap();
    let by_person = Take {
        automatic: None,
        ..auto_take("k-2", "m", now)
    };
    assert_eq!(b.take_resurrection(&by_person).unwrap(), busy);
    // Ended and released: in its cooldown for automatic resurrections
    // only.
    r.state = WorkflowState::Completed;
    a.put_request(&r).unwrap();
    a.release_module("m", "k-1").unwrap();
    match b.take_resurrection(&auto_take("k-2", "m", now)).unwrap() {
        Taken::Held(Held::Cooldown { until, .. }) => {
            assert!(until > now + Duration::minutes(9), "{until}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(b.take_resurrection(&by_person).unwrap(), Taken::Granted);
    // A module whose resurrection was taken but never stored (its replica
    // died in between) is busy for a while, not for ever.
    let stale = now - Duration::minutes(2);
    assert_eq!(
        a.take_resurrection(&auto_take("k-9", "n", stale)).unwrap(),
        Taken::Granted
    );
    assert_eq!(
        b.take_resurrection(&Take {
            automatic: None,
            ..auto_take("k-10", "n", now)
        })
        .unwrap(),
        Taken::Granted
    );
    // Flapping held by one replica holds on the other.
    a.hold_flapping("f", now + Duration::hours(1)).unwrap();
    assert!(matches!(
        b.take_resurrection(&auto_take("k-3", "f", now)).unwrap(),
        Taken::Held(Held::Flapping { .. })
    ));
    // The cap counts every replica's automatic takes: k-1 and k-9 so far.
    let capped = |kill: &'static str, m: &'static str| Take {
        automatic: Some(Automatic {
            cap: 3,
            cooldown: std::time::Duration::ZERO,
        }),
        ..auto_take(kill, m, now)
    };
    assert_eq!(
        a.take_resurrection(&capped("k-4", "p")).unwrap(),
        Taken::Granted
    );
    assert_eq!(
        b.take_resurrection(&capped("k-5", "q")).unwrap(),
        Taken::CapReached
    );
    // Refused takes hold nothing: q is free for a person.
    assert_eq!(
        b.take_resurrection(&Take {
            automatic: None,
            ..capped("k-5", "q")
        })
        .unwrap(),
        Taken::Granted
    );
}

#[test]
fn a_request_whose_replica_stops_stamping_it_is_taken_over_and_the_old_owner_is_fenced() {
    let db = TestDatabase::create();
    let (a, b) = (db.store(), db.store());
    let r = request(7, WorkflowState::Monitoring, Utc::now());
    a.put_request(&r).unwrap();
    let stale = std::time::Duration::from_millis(300);
    assert!(
        b.adopt_requests(stale).unwrap().is_empty(),
        "its owner stamps it"
    );
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(
        a.stamp_requests(std::slice::from_ref(&r.request_id))
            .unwrap()
            .is_empty()
    );
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(
        b.adopt_requests(stale).unwrap().is_empty(),
        "stamped 200 ms ago"
    );
    std::thread::sleep(std::time::Duration::from_millis(400));
    let adopted = b.adopt_requests(stale).unwrap();
    assert_eq!(adopted.len(), 1);
    assert_eq!(adopted[0].request_id, r.request_id);
    // The old owner learns it lost the request, and cannot write it.
    assert_eq!(
        a.stamp_requests(std::slice::from_ref(&r.request_id))
            .unwrap(),
        vec![r.request_id.clone()]
    );
    let e = a.put_request(&r).unwrap_err();
    assert!(
        matches!(e, medic::store::StoreError::TakenOver { .. }),
        "{e}"
    );
    let mut done = adopted[0].clone();
    done.state = WorkflowState::Completed;
    b.put_request(&done).unwrap();
    assert!(a.unfinished_requests().unwrap().is_empty());
}

#[test]
fn changes_made_through_one_replica_raise_revisions_the_others_read() {
    let db = TestDatabase::create();
    let (a, b) = (db.store(), db.store());
    assert!(b.revisions().unwrap().is_empty());
    assert_eq!(b.stored_mode().unwrap(), None);
    a.put_plugin_binding(
        "default",
        PluginKind::Strategy,
        &PluginBinding {
            name: "conservative".into(),
            sha256: None,
        },
    )
    .unwrap();
    a.set_stored_mode("manual").unwrap();
    a.set_stored_mode("observer").unwrap();
    let mut values = medic::model::NamedValues::new();
    values.insert("risk.low".into(), 0.4);
    a.record_threshold_change(
        ThresholdChange {
            id: 0,
            at: Utc::now(),
            source: ChangeSource::Manual,
            actor: "ops".into(),
            before: values.clone(),
            after: values.clone(),
            reasons: vec!["test".into()],
            samples: 0,
            plugin: None,
            reverts: None,
        },
        &values,
    )
    .unwrap();
    assert_eq!(
        b.revisions().unwrap(),
        vec![
            ("bindings".to_string(), 1),
            ("mode".to_string(), 2),
            ("thresholds".to_string(), 1)
        ]
    );
    assert_eq!(b.stored_mode().unwrap().as_deref(), Some("observer"));
    // A store one process holds has nothing to follow, and grants every
    // take (that process's own guardrails rule).
    let sled = Store::temporary().unwrap();
    sled.set_stored_mode("manual").unwrap();
    assert_eq!(sled.stored_mode().unwrap(), None);
    assert!(sled.revisions().unwrap().is_empty());
    assert_eq!(
        sled.take_resurrection(&auto_take("k", "m", Utc::now()))
            .unwrap(),
        Taken::Granted
    );
}

#[test]
fn counts_kept_in_memory_hear_of_other_replicas_writes_when_refreshed() {
    let db = TestDatabase::create();
    let (a, b) = (db.store(), db.store());
    let t0 = Utc::now() - Duration::hours(1);
    let rec = record(3, "delta", t0, DecisionOutcome::PendingReview);
    let reading = Reading::of(&rec.kill, rec.context.as_ref());
    let before = (b.human_verdicts("delta"), b.resembling(reading));
    // Replica a learns a person's denial and a threat's outcome.
    a.store_decision(&rec).unwrap();
    a.put_queue_item(&queue_item(&rec, QueueStatus::Pending, t0))
        .unwrap();
    a.settle_queue_item(&queue_item(
        &rec,
        QueueStatus::Denied,
        t0 + Duration::minutes(5),
    ))
    .unwrap();
    let mut threat = outcome(4, "delta", OutcomeResult::ReKilled, t0);
    threat.reading = reading;
    a.put_outcome(&threat).unwrap();
    assert_eq!(a.human_verdicts("delta").denials, 1);
    assert_eq!(
        (b.human_verdicts("delta"), b.resembling(reading)),
        before,
        "b counted only what it read at connect"
    );
    b.refresh_counts().unwrap();
    assert_eq!(b.human_verdicts("delta"), a.human_verdicts("delta"));
    assert_eq!(b.resembling(reading), a.resembling(reading));
    assert_ne!(b.resembling(reading), before.1);
}

/// Calls made at the same time are answered by one statement each kind
/// (PostgreSQL): each caller still gets its own answer. Pairs of threads
/// race to store every kill, so one batch may hold a kill twice.
#[test]
fn concurrent_calls_grouped_into_one_statement_each_get_their_own_answer() {
    const THREADS: u32 = 16;
    const KILLS: u32 = 60;
    let db = TestDatabase::create();
    let store = db.store();
    let t0 = Utc::now() - Duration::minutes(10);
    let kill = |pair: u32, n: u32| pair * 1000 + n;
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(THREADS as usize));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (store, barrier) = (store.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let mut new = Vec::new();
                for n in 0..KILLS {
                    let k = kill(t / 2, n);
                    let module = format!("mod-{}", k % 7);
                    let at = t0 + Duration::milliseconds(i64::from(n));
                    let mut rec = record(k, &module, at, DecisionOutcome::PendingReview);
                    rec.decision.decision_id = format!("d-{k}-thread-{t}");
                    let json = serde_json::to_string(&rec.decision).unwrap();
                    let details = serde_json::json!({ "thread": t });
                    match store
                        .store_decision_audited(&rec, &json, "medic", details)
                        .unwrap()
                    {
                        Stored::New => new.push(k),
                        Stored::Duplicate(d) => {
                            assert_eq!(d.kill_id, rec.decision.kill_id);
                            assert_ne!(d.decision_id, rec.decision.decision_id);
                            let other = t ^ 1;
                            assert_eq!(d.decision_id, format!("d-{k}-thread-{other}"));
                        }
                    }
                    // Reads in the same rush get their own kill's record.
                    let read = store
                        .record_for_kill(&format!("k-{k:04}"))
                        .unwrap()
                        .unwrap();
                    assert_eq!(read.kill.kill_id, format!("k-{k:04}"));
                    assert_eq!(read.kill.target_module, module);
                }
                new
            })
        })
        .collect();
    let mut stored: Vec<u32> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    stored.sort();
    let mut expected: Vec<u32> = (0..THREADS / 2)
        .flat_map(|p| (0..KILLS).map(move |n| kill(p, n)))
        .collect();
    expected.sort();
    assert_eq!(stored, expected, "each kill stored once, by one thread");
    // One decision_made event per kill stored, none for the ones refused.
    let made: Vec<_> = store
        .audit_events(None, 10_000)
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == AuditKind::DecisionMade)
        .collect();
    assert_eq!(made.len(), expected.len());
    for e in &made {
        let kill_id = e.kill_id.as_deref().unwrap();
        let d = store.decision_for_kill(kill_id).unwrap().unwrap();
        assert_eq!(e.decision_id.as_deref(), Some(d.decision_id.as_str()));
    }
    // Kill counts asked at once: each module's own.
    let now = t0 + Duration::minutes(1);
    let counts: Vec<_> = (0..THREADS)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                let module = format!("mod-{}", t % 7);
                (t % 7, store.module_history(&module, now).unwrap())
            })
        })
        .collect();
    for h in counts {
        let (m, history) = h.join().unwrap();
        let kills = expected.iter().filter(|k| *k % 7 == m).count() as u32;
        assert_eq!(history.kills_last_hour, kills, "mod-{m}");
        assert_eq!(history.kills_last_week, kills, "mod-{m}");
    }
}

/// The work that runs once is fenced in each write: a leader cut off from
/// its lock without noticing, while another replica took the role, has
/// its scheduled learning and queue expiry writes refused; the new
/// leader's go through, and writes outside the work (a person's) are not
/// fenced.
#[test]
fn a_leader_whose_role_changed_hands_has_its_singleton_writes_refused() {
    use medic::store::StoreError;
    use medic::store::fence::as_leader;
    let db = TestDatabase::create();
    let (a, b) = (db.store(), db.store());
    let old = a.lease().expect("the first replica leads");
    assert_eq!(b.lease(), None);
    let mut values = medic::model::NamedValues::new();
    values.insert("risk.low".into(), 0.45);
    let change = || ThresholdChange {
        id: 0,
        at: Utc::now(),
        source: ChangeSource::Learner,
        actor: "bounded".into(),
        before: values.clone(),
        after: values.clone(),
        reasons: vec!["scheduled".into()],
        samples: 30,
        plugin: None,
        reverts: None,
    };
    // While it leads, its fenced writes are made.
    as_leader(old, || a.record_threshold_change(change(), &values)).unwrap();
    // Its lock's connection is cut; it has not noticed. Another replica
    // takes the role at a later epoch. (Only this test's database: other
    // tests running at once hold advisory locks of their own.)
    db.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_locks \
         WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid() \
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    );
    let mut new = None;
    for _ in 0..200 {
        new = b.lease();
        if new.is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let new = new.expect("the second replica takes the role");
    assert!(new > old);
    let refused = |r: Result<(), StoreError>| {
        assert!(
            matches!(r, Err(StoreError::Fenced { epoch }) if epoch == old),
            "{r:?}"
        )
    };
    // The old leader's scheduled learning and expiry are refused ...
    refused(as_leader(old, || {
        a.record_threshold_change(change(), &values).map(|_| ())
    }));
    refused(as_leader(old, || a.set_last_learning_run_at(Utc::now())));
    let t0 = Utc::now() - Duration::hours(2);
    let rec = record(1, "m", t0, DecisionOutcome::PendingReview);
    a.store_decision(&rec).unwrap();
    a.put_queue_item(&queue_item(&rec, QueueStatus::Pending, t0))
        .unwrap();
    let expired = queue_item(&rec, QueueStatus::Expired, t0 + Duration::hours(1));
    refused(as_leader(old, || a.settle_queue_item(&expired).map(|_| ())));
    assert_eq!(b.pending_queue_items().unwrap().len(), 1, "not expired");
    assert_eq!(b.threshold_history().unwrap().len(), 1);
    // ... the new leader's are made, and a person's writes are not fenced.
    assert!(as_leader(new, || b.settle_queue_item(&expired)).unwrap());
    as_leader(new, || b.set_last_learning_run_at(Utc::now())).unwrap();
    a.record_threshold_change(
        ThresholdChange {
            source: ChangeSource::Manual,
            actor: "ops".into(),
            ..change()
        },
        &values,
    )
    .unwrap();
    assert_eq!(b.threshold_history().unwrap().len(), 2);
    assert!(b.pending_queue_items().unwrap().is_empty());
}
