//! Acting on decisions in-process: the hourly cap, cooldowns and flapping
//! under bursts; the approval queue's capacity, decide-once, expiry and
//! durability; dependency cascades.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use medic::config::Config;
use medic::config::raw::{BackendSection, BackendType, HealthCheckSection, HealthCheckType};
use medic::decide::Decider;
use medic::engine::Engine;
use medic::execute::{Links, Refusal, Resurrector};
use medic::fleet::Fleet;
use medic::model::{DecisionOutcome, QueueStatus, ResurrectionRequest, WorkflowState};
use medic::store::{AuditKind, Store};

use crate::pipeline_support::{
    LOW_RISK_INTEL, burst, decide, engine_linked, incoming, kill_json, semi_auto,
};

/// A backend for every module that "restarts" with `restart` and is
/// healthy when `true` exits 0.
pub fn command_backend(modules: &[&str], restart: &[&str]) -> BackendSection {
    BackendSection {
        modules: modules.iter().map(|m| m.to_string()).collect(),
        kind: BackendType::Command,
        restart: restart.iter().map(|a| a.to_string()).collect(),
        rollback: vec!["true".into()],
        health_check: HealthCheckSection {
            kind: HealthCheckType::Command,
            command: vec!["true".into()],
            ..HealthCheckSection::default()
        },
        ..BackendSection::default()
    }
}

pub struct Setup {
    pub engine: Arc<Engine>,
    pub decider: Arc<Decider>,
    pub acting: Arc<Resurrector>,
    pub fleet: Arc<Fleet>,
    _intel: tempfile::NamedTempFile,
}

pub fn setup(cap: u32, edit: impl FnOnce(&mut Config), store: Store) -> Setup {
    let (config, intel) = setup_config(cap, edit);
    setup_on(config, intel, store, Links::default())
}

/// The configuration [`setup`] runs, and the intel file it reads.
pub fn setup_config(cap: u32, edit: impl FnOnce(&mut Config)) -> (Config, tempfile::NamedTempFile) {
    let intel = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(intel.path(), LOW_RISK_INTEL).unwrap();
    let mut config = semi_auto(intel.path(), cap);
    let r = &mut config.medic.resurrection;
    r.monitoring_duration = std::time::Duration::from_secs_f64(0.005 * 60.0);
    r.health_check_interval = std::time::Duration::from_secs_f64(0.1);
    r.startup_grace = std::time::Duration::from_secs_f64(5.0);
    r.cooldown = std::time::Duration::from_secs_f64(0.0);
    r.backends = vec![command_backend(&["*"], &["true"])];
    edit(&mut config);
    (config, intel)
}

/// An acting engine on `config` and `store`, with `links`.
pub fn setup_on(
    config: Config,
    intel: tempfile::NamedTempFile,
    store: Store,
    links: Links,
) -> Setup {
    let engine = engine_linked(config, store, None, Some(links));
    Setup {
        decider: engine.decider.clone(),
        acting: engine.acting.clone().expect("acting"),
        fleet: engine.fleet.clone(),
        engine,
        _intel: intel,
    }
}

/// A request once it has ended — and, unless it was cancelled before it
/// ran, once its outcome is recorded (which follows the final move).
pub async fn wait_final(store: &Store, request_id: &str) -> ResurrectionRequest {
    for _ in 0..1000 {
        if let Some(r) = store.request(request_id).unwrap()
            && r.state.is_final()
        {
            let recorded = || {
                store
                    .module_outcomes(&r.target_module)
                    .unwrap()
                    .iter()
                    .any(|o| o.request_id == request_id)
            };
            for _ in 0..200 {
                if r.state == WorkflowState::Cancelled || recorded() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            return r;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("request {request_id} did not finish");
}

pub fn request_of(store: &Store, kill_id: &str) -> Option<ResurrectionRequest> {
    store
        .requests(usize::MAX)
        .unwrap()
        .into_iter()
        .find(|r| r.kill_id == kill_id)
}

/// Waits until the kill's request is being monitored.
pub async fn wait_monitoring(store: &Store, kill_id: &str) -> String {
    for _ in 0..1000 {
        if let Some(r) = request_of(store, kill_id)
            && r.state == WorkflowState::Monitoring
        {
            return r.request_id;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{kill_id} never reached monitoring");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hourly_cap_holds_under_a_concurrent_burst() {
    const CAP: u32 = 5;
    const KILLS: usize = 60;
    let s = setup(CAP, |_| {}, crate::postgres_db::test_store());
    let mut auto = 0;
    let mut capped = 0;
    for handled in burst(std::slice::from_ref(&s.decider), "burst", KILLS).await {
        let d = handled.decision();
        match d.outcome {
            DecisionOutcome::ApproveAuto => {
                auto += 1;
                assert!(d.executed);
            }
            DecisionOutcome::PendingReview => {
                assert!(
                    d.guardrails.contains(&"hourly_cap".to_string()),
                    "{:?}",
                    d.guardrails
                );
                assert!(!d.executed);
                capped += 1;
            }
            other => panic!("unexpected {other:?}: {:?}", d.reasoning),
        }
    }
    assert_eq!(auto, CAP as usize, "exactly the cap is auto-approved");
    assert_eq!(capped, KILLS - CAP as usize);
    let store = &s.decider.store;
    assert_eq!(store.requests(usize::MAX).unwrap().len(), CAP as usize);
    assert_eq!(
        s.acting.queue.stats(Utc::now()).unwrap().pending,
        KILLS - CAP as usize,
        "every capped kill waits for a human, none is dropped"
    );
    for r in store.requests(usize::MAX).unwrap() {
        let r = wait_final(store, &r.request_id).await;
        assert_eq!(r.state, WorkflowState::Completed, "{:?}", r.transitions);
    }
}

/// Many kills of one module at once: one resurrection at most. The module is
/// claimed when the approval is ruled, so every kill decided after it sees
/// it busy (or, once it is back, in its cooldown) and goes to a person.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_concurrent_burst_of_kills_of_one_module_brings_it_back_once() {
    const KILLS: usize = 20;
    let s = setup(
        100,
        |c| {
            c.medic.resurrection.cooldown = std::time::Duration::from_secs_f64(3600.0);
            c.medic.resurrection.flapping.max_kills_per_hour = 1000;
        },
        crate::postgres_db::test_store(),
    );
    let handles: Vec<_> = (0..KILLS)
        .map(|i| {
            let d = s.decider.clone();
            tokio::spawn(async move {
                let kill = medic::ingest::validate::kill_report(
                    &kill_json(&format!("one-{i}"), "ledger"),
                    Utc::now(),
                )
                .unwrap();
                d.handle(incoming(kill)).await.unwrap()
            })
        })
        .collect();
    let mut auto = 0;
    for h in handles {
        let handled = h.await.unwrap();
        let d = handled.decision();
        match d.outcome {
            DecisionOutcome::ApproveAuto => auto += 1,
            DecisionOutcome::PendingReview => assert!(
                d.guardrails
                    .iter()
                    .any(|g| ["re_killed", "busy", "cooldown"].contains(&g.as_str())),
                "{:?}",
                d.guardrails
            ),
            other => panic!("unexpected {other:?}: {:?}", d.reasoning),
        }
    }
    assert_eq!(auto, 1, "one resurrection of one module at a time");
    let store = &s.decider.store;
    assert_eq!(store.requests(usize::MAX).unwrap().len(), 1);
    assert_eq!(
        s.acting.queue.stats(Utc::now()).unwrap().pending,
        KILLS - 1,
        "every other kill waits for a person"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_module_back_recently_is_not_brought_back_again_automatically() {
    let s = setup(
        100,
        |c| c.medic.resurrection.cooldown = std::time::Duration::from_secs(3600),
        crate::postgres_db::test_store(),
    );
    let first = decide(&s.decider, "cool-1", "ledger").await;
    assert_eq!(first.decision().outcome, DecisionOutcome::ApproveAuto);
    let r1 = request_of(&s.decider.store, "cool-1").unwrap();
    wait_final(&s.decider.store, &r1.request_id).await;

    let second = decide(&s.decider, "cool-2", "ledger").await;
    let d = second.decision();
    assert_eq!(d.outcome, DecisionOutcome::PendingReview);
    assert!(
        d.guardrails.contains(&"cooldown".to_string()),
        "{:?}",
        d.guardrails
    );
    assert!(
        d.reasoning.iter().any(|r| r.contains("cooldown_seconds")),
        "{:?}",
        d.reasoning
    );
    assert!(matches!(
        s.fleet.refusal("ledger", false, Utc::now()),
        Some(Refusal::Cooldown { .. })
    ));
    // A human may still bring it back.
    let item = s.acting.queue.list_pending(10).unwrap().remove(0);
    let (_, r2) = s.acting.approve(&item.item_id, "oncall", None).unwrap();
    let r2 = wait_final(&s.decider.store, &r2.request_id).await;
    assert_eq!(r2.state, WorkflowState::Completed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flapping_module_goes_to_a_human_and_stays_out_of_automation() {
    let s = setup(
        100,
        |c| {
            c.medic.resurrection.flapping.max_kills_per_hour = 2;
            c.medic.resurrection.flapping.cooldown =
                std::time::Duration::from_secs_f64(60.0 * 60.0);
        },
        crate::postgres_db::test_store(),
    );
    let mut outcomes = Vec::new();
    for i in 0..5 {
        let h = decide(&s.decider, &format!("flap-{i}"), "worker").await;
        if let Some(r) = request_of(&s.decider.store, &format!("flap-{i}")) {
            wait_final(&s.decider.store, &r.request_id).await;
        }
        outcomes.push((h.decision().outcome, h.decision().guardrails.clone()));
    }
    assert_eq!(outcomes[0].0, DecisionOutcome::ApproveAuto);
    assert_eq!(outcomes[1].0, DecisionOutcome::ApproveAuto);
    for (o, g) in &outcomes[2..] {
        assert_eq!(*o, DecisionOutcome::PendingReview);
        assert!(g.contains(&"flapping".to_string()), "{g:?}");
    }
    assert!(matches!(
        s.fleet.refusal("worker", false, Utc::now()),
        Some(Refusal::Flapping { .. })
    ));
    assert!(s.fleet.refusal("worker", true, Utc::now()).is_none());
    assert_eq!(s.acting.queue.list_pending(10).unwrap().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_refuses_visibly_and_never_drops() {
    let s = setup(
        100,
        |c| {
            c.medic.interfaces.approval_queue.max_pending = 3;
            c.constitution.constraints.always_require_approval =
                (0..10).map(|i| format!("crit-{i}")).collect();
        },
        crate::postgres_db::test_store(),
    );
    for i in 0..5 {
        let h = decide(&s.decider, &format!("full-{i}"), &format!("crit-{i}")).await;
        let d = h.decision();
        if i < 3 {
            assert_eq!(d.outcome, DecisionOutcome::PendingReview);
        } else {
            assert_eq!(d.outcome, DecisionOutcome::Deny);
            assert!(d.guardrails.contains(&"queue_full".to_string()));
            assert!(
                d.reasoning.iter().any(|r| r.contains("max_pending 3")),
                "{:?}",
                d.reasoning
            );
            // The action follows the denial; the strategy's own advice stays.
            assert_eq!(
                d.recommended_action,
                format!("keep crit-{i} down and investigate")
            );
            assert!(!d.requires_human_review);
            assert!(
                d.reasoning.iter().any(|r| r
                    == &format!(
                        "strategy recommended pending_review: queue crit-{i} for human review"
                    )),
                "{:?}",
                d.reasoning
            );
        }
    }
    assert_eq!(s.decider.metrics.queue_overflow.get(), 2);
    // Every item, limited: the newest ones, oldest first (the console and
    // `queue list --all` show what was queued lately).
    let newest: Vec<String> = s
        .acting
        .queue
        .list_all(2)
        .unwrap()
        .into_iter()
        .map(|i| i.kill.kill_id)
        .collect();
    assert_eq!(newest, ["full-1", "full-2"]);
    let overflows = s
        .decider
        .store
        .audit_events(None, 10_000)
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == AuditKind::QueueOverflow)
        .count();
    assert_eq!(overflows, 2);
    assert!(
        s.decider
            .metrics
            .render()
            .contains("medic_queue_overflow_total 2")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_item_is_decided_once_and_denial_needs_a_reason() {
    let s = setup(100, |_| {}, crate::postgres_db::test_store());
    decide(&s.decider, "once-1", "auth-service").await;
    let item = s.acting.queue.list_pending(10).unwrap().remove(0);
    let e = s.acting.deny(&item.item_id, "alice", "  ").unwrap_err();
    assert!(e.to_string().contains("reason"), "{e}");
    s.acting
        .deny(&item.item_id, "alice", "still compromised")
        .unwrap();
    let e = s.acting.approve(&item.item_id, "bob", None).unwrap_err();
    assert!(
        e.to_string().contains("already denied") && e.to_string().contains("alice"),
        "{e}"
    );
    let e = s.acting.deny(&item.item_id, "bob", "again").unwrap_err();
    assert!(e.to_string().contains("already denied"), "{e}");
    assert!(
        s.acting
            .approve("nope", "bob", None)
            .unwrap_err()
            .to_string()
            .contains("no queue item")
    );
    assert!(request_of(&s.decider.store, "once-1").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_approvals_of_one_item_run_it_once() {
    let s = setup(100, |_| {}, crate::postgres_db::test_store());
    decide(&s.decider, "race-1", "auth-service").await;
    let id = s.acting.queue.list_pending(10).unwrap().remove(0).item_id;
    let tasks: Vec<_> = (0..8)
        .map(|n| {
            let a = s.acting.clone();
            let id = id.clone();
            tokio::spawn(async move { a.approve(&id, &format!("approver-{n}"), None).is_ok() })
        })
        .collect();
    let mut won = 0;
    for t in tasks {
        if t.await.unwrap() {
            won += 1;
        }
    }
    assert_eq!(won, 1);
    let requests: Vec<_> = s
        .decider
        .store
        .requests(usize::MAX)
        .unwrap()
        .into_iter()
        .filter(|r| r.kill_id == "race-1")
        .collect();
    assert_eq!(requests.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undecided_items_expire_and_the_expiry_is_recorded() {
    // 0.0002 h = 0.72 s.
    let s = setup(
        100,
        |c| {
            c.medic.interfaces.approval_queue.timeout =
                std::time::Duration::from_secs_f64(0.0002 * 3600.0)
        },
        crate::postgres_db::test_store(),
    );
    decide(&s.decider, "exp-1", "auth-service").await;
    decide(&s.decider, "exp-2", "payment-processor").await;
    let items = s.acting.queue.list_pending(10).unwrap();
    assert_eq!(items.len(), 2);
    tokio::time::sleep(Duration::from_millis(800)).await;
    // One swept by the expiry task, one found expired when a human tries.
    let swept = s.acting.queue.expire_due(Utc::now()).unwrap();
    assert_eq!(swept.len(), 2);
    let e = s
        .acting
        .approve(&items[0].item_id, "late", None)
        .unwrap_err();
    assert!(e.to_string().contains("already expired"), "{e}");
    let item = s.acting.queue.get(&items[1].item_id).unwrap().unwrap();
    assert_eq!(item.status, QueueStatus::Expired);
    assert!(item.note.unwrap().contains("timeout_hours"));
    let stats = s.acting.queue.stats(Utc::now()).unwrap();
    assert_eq!((stats.pending, stats.expired), (0, 2));
    let expiries = s
        .decider
        .store
        .audit_events(None, 10_000)
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == AuditKind::QueueExpired)
        .count();
    assert_eq!(expiries, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let item_id = {
        let s = setup(100, |_| {}, Store::open(&path).unwrap());
        decide(&s.decider, "dur-1", "data-pipeline").await;
        s.decider.store.flush().await.unwrap();
        s.acting.queue.list_pending(10).unwrap().remove(0).item_id
    };
    // Give sled's background threads a moment to let go of the files.
    let store = loop {
        match Store::open(&path) {
            Ok(s) => break s,
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    };
    let s = setup(100, |_| {}, store);
    let pending = s.acting.queue.list_pending(10).unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].item_id, item_id);
    assert_eq!(pending[0].kill.kill_id, "dur-1");
    let (_, r) = s
        .acting
        .approve(&item_id, "oncall", Some("after restart"))
        .unwrap();
    let r = wait_final(&s.decider.store, &r.request_id).await;
    assert_eq!(r.state, WorkflowState::Completed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_modules_come_back_before_downstream_ones() {
    let s = setup(
        100,
        |c| {
            c.medic.resurrection.backends = vec![
                // The database takes a while to start.
                command_backend(&["orders-db"], &["sleep", "0.5"]),
                command_backend(&["*"], &["true"]),
            ];
        },
        crate::postgres_db::test_store(),
    );
    let db = medic::ingest::validate::kill_report(&kill_json("casc-db", "orders-db"), Utc::now())
        .unwrap();
    let mut app_json = kill_json("casc-app", "orders-api");
    app_json["dependencies"] = serde_json::json!(["orders-db"]);
    let app = medic::ingest::validate::kill_report(&app_json, Utc::now()).unwrap();
    s.decider.handle(incoming(db)).await.unwrap();
    s.decider.handle(incoming(app)).await.unwrap();
    let store = &s.decider.store;
    let db_r = wait_final(store, &request_of(store, "casc-db").unwrap().request_id).await;
    let app_r = wait_final(store, &request_of(store, "casc-app").unwrap().request_id).await;
    assert_eq!(db_r.state, WorkflowState::Completed);
    assert_eq!(app_r.state, WorkflowState::Completed);
    let at = |r: &ResurrectionRequest, s: WorkflowState| {
        r.transitions.iter().find(|t| t.to == s).unwrap().at
    };
    assert!(
        at(&app_r, WorkflowState::Executing) >= at(&db_r, WorkflowState::Monitoring),
        "the API restarted only after its database was up: {:?} / {:?}",
        app_r.transitions,
        db_r.transitions
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_downstream_module_fails_when_its_upstream_does_not_come_back() {
    let s = setup(
        100,
        |c| {
            c.medic.resurrection.max_retry_attempts = 0;
            c.medic.resurrection.backends = vec![
                command_backend(&["cache"], &["false"]),
                command_backend(&["*"], &["true"]),
            ];
        },
        crate::postgres_db::test_store(),
    );
    let up =
        medic::ingest::validate::kill_report(&kill_json("dep-up", "cache"), Utc::now()).unwrap();
    let mut down_json = kill_json("dep-down", "web");
    down_json["dependencies"] = serde_json::json!(["cache"]);
    let down = medic::ingest::validate::kill_report(&down_json, Utc::now()).unwrap();
    s.decider.handle(incoming(up)).await.unwrap();
    s.decider.handle(incoming(down)).await.unwrap();
    let store = &s.decider.store;
    let up_r = wait_final(store, &request_of(store, "dep-up").unwrap().request_id).await;
    assert_eq!(up_r.state, WorkflowState::Failed);
    assert!(
        up_r.error.as_deref().unwrap().contains("exited"),
        "{:?}",
        up_r.error
    );
    let down_r = wait_final(store, &request_of(store, "dep-down").unwrap().request_id).await;
    assert_eq!(down_r.state, WorkflowState::Failed);
    assert!(
        down_r
            .error
            .as_deref()
            .unwrap()
            .contains("upstream cache did not come back"),
        "{:?}",
        down_r.error
    );
    let outcomes = store.module_outcomes("cache").unwrap();
    assert_eq!(outcomes[0].result, medic::model::OutcomeResult::Failure);
    // The history shows in the next profile of the module.
    assert_eq!(s.fleet.counts("cache").unwrap().resurrections, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn can_resurrect_refuses_no_backend_and_blacklisted_and_dequeue_removes() {
    let s = setup(
        100,
        |c| {
            c.medic.resurrection.backends = vec![command_backend(&["web-*"], &["true"])];
            c.constitution.constraints.blacklisted_modules = vec!["web-legacy".into()];
        },
        crate::postgres_db::test_store(),
    );
    let now = Utc::now();
    assert!(matches!(
        s.fleet.refusal("db-1", true, now),
        Some(Refusal::NoBackend(_))
    ));
    assert!(matches!(
        s.fleet.refusal("web-legacy", true, now),
        Some(Refusal::Blacklisted(_))
    ));
    assert!(s.fleet.refusal("web-1", false, now).is_none());
    // An automatic approval of a module no backend serves goes to a human.
    let h = decide(&s.decider, "nb-1", "db-1").await;
    assert_eq!(h.decision().outcome, DecisionOutcome::PendingReview);
    assert!(h.decision().guardrails.contains(&"no_backend".to_string()));
    let item = s.acting.queue.list_pending(10).unwrap().remove(0);
    let removed = s.acting.queue.dequeue(&item.item_id).unwrap().unwrap();
    assert_eq!(removed.kill.kill_id, "nb-1");
    assert!(s.acting.queue.get(&item.item_id).unwrap().is_none());
    assert!(s.acting.queue.dequeue(&item.item_id).unwrap().is_none());
}

/// The `evidence` scorer's account of a module's confirmed threats (re-kills,
/// rollbacks and kills a person denied), as stored with a kill's decision.
fn module_history_detail(store: &Store, kill_id: &str) -> String {
    let d = store.decision_for_kill(kill_id).unwrap().expect("decided");
    d.risk_factors
        .iter()
        .find(|f| f.name == "module_history")
        .unwrap_or_else(|| panic!("no module_history factor: {:?}", d.risk_factors))
        .detail
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peoples_verdicts_reach_the_next_kills_profile_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let evidence = |c: &mut Config| {
        for b in c.constitution.plugins.values_mut() {
            b.risk_scorer.name = "evidence".into();
        }
    };
    // payment-processor always needs approval: every kill is queued.
    let module = "payment-processor";
    {
        let s = setup(100, evidence, Store::open(&path).unwrap());
        for n in 1..=4 {
            decide(&s.decider, &format!("hv-{n}"), module).await;
        }
        assert!(module_history_detail(&s.decider.store, "hv-1").contains("0 confirmed threat(s)"));
        let items = s.acting.queue.list_pending(10).unwrap();
        assert_eq!(items.len(), 4);
        s.acting
            .deny(&items[0].item_id, "alice", "still compromised")
            .unwrap();
        s.acting
            .deny(&items[1].item_id, "bob", "exfiltration confirmed")
            .unwrap();
        let (_, r) = s.acting.approve(&items[2].item_id, "carol", None).unwrap();
        wait_final(&s.decider.store, &r.request_id).await;
        // Let the last one expire: an expiry is nobody's verdict.
        s.acting
            .queue
            .expire_due(Utc::now() + chrono::TimeDelta::days(30))
            .unwrap();
        let v = s.decider.store.human_verdicts(module);
        assert_eq!((v.approvals, v.denials), (1, 2));

        decide(&s.decider, "hv-5", module).await;
        let detail = module_history_detail(&s.decider.store, "hv-5");
        // (The approval's outcome reaches the resurrector's counts just
        // after it is stored, so the false positives are not asserted here.)
        assert!(
            detail.contains(" 2 confirmed threat(s)"),
            "the two denials are confirmed threats: {detail}"
        );
        s.decider.store.flush().await.unwrap();
    }
    let store = loop {
        match Store::open(&path) {
            Ok(s) => break s,
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    };
    let v = store.human_verdicts(module);
    assert_eq!((v.approvals, v.denials), (1, 2), "read back at open");
    let s = setup(100, evidence, store);
    decide(&s.decider, "hv-6", module).await;
    let detail = module_history_detail(&s.decider.store, "hv-6");
    assert!(detail.contains("2 confirmed threat(s)"), "{detail}");
}
