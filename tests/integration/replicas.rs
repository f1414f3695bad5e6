//! Replicas in one process: engines of their own (queue, resurrector,
//! fleet) on one PostgreSQL database, as `medic serve` processes sharing
//! it would be. What one decides, the others see and cannot decide again.

use std::time::Duration;

use chrono::Utc;
use medic::model::{QueueStatus, WorkflowState};
use medic::store::Store;

use crate::acting_inprocess::{Setup, setup, wait_final};
use crate::pipeline_support::{burst, decide};
use crate::postgres_db::TestDatabase;

/// `n` acting engines on one database, with the queue's timeout `timeout`.
fn replicas(db: &TestDatabase, n: usize, timeout: Option<Duration>) -> Vec<Setup> {
    replicas_capped(db, n, 100, timeout)
}

/// [`replicas`], with the hourly cap on automatic resurrections `cap`.
fn replicas_capped(db: &TestDatabase, n: usize, cap: u32, timeout: Option<Duration>) -> Vec<Setup> {
    (0..n)
        .map(|_| {
            setup(
                cap,
                |c| {
                    if let Some(t) = timeout {
                        c.medic.interfaces.approval_queue.timeout = t;
                    }
                },
                db.store(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_approvals_of_one_item_over_two_replicas_run_it_once() {
    let db = TestDatabase::create();
    let r = replicas(&db, 2, None);
    // A critical module's kill waits for a person, on replica 0.
    decide(&r[0].decider, "race-pg", "auth-service").await;
    // Replica 1 sees the item in the shared queue.
    let id = r[1]
        .acting
        .queue
        .list_pending(10)
        .unwrap()
        .remove(0)
        .item_id;
    let tasks: Vec<_> = (0..8)
        .map(|n| {
            let a = r[n % 2].acting.clone();
            let id = id.clone();
            tokio::spawn(async move { a.approve(&id, &format!("approver-{n}"), None) })
        })
        .collect();
    let mut won = Vec::new();
    let mut refused = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok((item, request)) => won.push((item, request)),
            Err(e) => {
                assert!(e.to_string().contains("already approved"), "{e}");
                refused += 1;
            }
        }
    }
    assert_eq!((won.len(), refused), (1, 7));
    let (item, request) = won.remove(0);
    assert_eq!(item.status, QueueStatus::Approved);
    // One request, run to its end once, its outcome recorded once.
    let store = r[0].decider.store.clone();
    let requests: Vec<_> = store
        .requests(usize::MAX)
        .unwrap()
        .into_iter()
        .filter(|q| q.kill_id == "race-pg")
        .collect();
    assert_eq!(requests.len(), 1);
    let done = wait_final(&store, &request.request_id).await;
    assert_eq!(done.state, WorkflowState::Completed, "{done:?}");
    let outcomes = store.module_outcomes("auth-service").unwrap();
    assert_eq!(outcomes.len(), 1);
    // Both replicas count the one person's approval once.
    let verdicts = r[1].decider.store.human_verdicts_between(
        Utc::now() - chrono::Duration::hours(1),
        Utc::now() + chrono::Duration::minutes(1),
    );
    assert_eq!(verdicts.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_item_expires_once_whichever_replicas_sweep_it() {
    let db = TestDatabase::create();
    let r = replicas(&db, 3, Some(Duration::from_millis(500)));
    decide(&r[0].decider, "exp-pg-1", "auth-service").await;
    decide(&r[1].decider, "exp-pg-2", "payment-processor").await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    // Every replica sweeps at once; each item is expired by one of them.
    let sweeps: Vec<_> = r
        .iter()
        .map(|s| {
            let q = s.acting.clone();
            tokio::task::spawn_blocking(move || q.queue.expire_due(Utc::now()).unwrap().len())
        })
        .collect();
    let mut expired = 0;
    for s in sweeps {
        expired += s.await.unwrap();
    }
    assert_eq!(expired, 2);
    let items = r[2].decider.store.queue_items().unwrap();
    assert_eq!(items.len(), 2);
    assert!(items.iter().all(|i| i.status == QueueStatus::Expired));
    // A person who comes too late is told it expired.
    let e = r[2]
        .acting
        .approve(&items[0].item_id, "carol", None)
        .unwrap_err();
    assert!(e.to_string().contains("already expired"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_over_three_replicas_never_exceeds_the_hourly_cap() {
    const CAP: u32 = 5;
    const KILLS: usize = 36;
    let db = TestDatabase::create();
    let r = replicas_capped(&db, 3, CAP, None);
    let deciders: Vec<_> = r.iter().map(|s| s.decider.clone()).collect();
    let (mut auto, mut capped) = (0, 0);
    for handled in burst(&deciders, "cap", KILLS).await {
        let d = handled.decision();
        match d.outcome {
            medic::model::DecisionOutcome::ApproveAuto => auto += 1,
            medic::model::DecisionOutcome::PendingReview => {
                assert!(d.guardrails.contains(&"hourly_cap".to_string()), "{d:?}");
                capped += 1;
            }
            other => panic!("unexpected {other:?}: {:?}", d.reasoning),
        }
    }
    assert_eq!(auto, CAP as usize, "the cap holds across replicas");
    assert_eq!(capped, KILLS - CAP as usize);
    let store = &r[0].decider.store;
    assert_eq!(
        store
            .auto_approvals_since(Utc::now() - chrono::Duration::hours(1))
            .unwrap()
            .len(),
        CAP as usize
    );
    // A replica started now counts the hour the others used.
    let late = replicas_capped(&db, 1, CAP, None).remove(0);
    let d = decide(&late.decider, "cap-late", "svc-late").await;
    assert!(d.decision().guardrails.contains(&"hourly_cap".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_racing_over_two_replicas_is_decided_once_and_a_reused_id_is_refused() {
    use crate::pipeline_support::{incoming, kill_json};
    use medic::decide::Handled;
    let db = TestDatabase::create();
    let r = replicas(&db, 2, None);
    let kill = |id: &str, module: &str| {
        medic::ingest::validate::kill_report(&kill_json(id, module), Utc::now()).unwrap()
    };
    for i in 0..20 {
        // The same kill reaches both replicas at once (a redelivery).
        let k = kill(&format!("race-{i}"), "svc-x");
        let (a, b) = tokio::join!(
            r[0].decider.handle(incoming(k.clone())),
            r[1].decider.handle(incoming(k))
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        let decided = [&a, &b]
            .iter()
            .filter(|h| matches!(h, Handled::Decided(..)))
            .count();
        assert_eq!(decided, 1, "decided once: {a:?} / {b:?}");
        assert!([&a, &b].iter().any(|h| matches!(h, Handled::Duplicate(_))));
        assert_eq!(a.decision().decision_id, b.decision().decision_id);
    }
    // Another kill under a decided id is refused on either replica.
    for replica in &r {
        let handled = replica
            .decider
            .handle(incoming(kill("race-0", "svc-other")))
            .await
            .unwrap();
        assert!(matches!(handled, Handled::Conflict(..)), "{handled:?}");
    }
    assert_eq!(r[0].decider.store.decision_count(), 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_module_killed_over_three_replicas_at_once_is_brought_back_once() {
    use medic::model::DecisionOutcome;
    let db = TestDatabase::create();
    let r: Vec<Setup> = (0..3)
        .map(|_| {
            setup(
                100,
                |c| {
                    c.medic.resurrection.cooldown = Duration::from_secs(3600);
                    c.medic.resurrection.flapping.max_kills_per_hour = 100;
                },
                db.store(),
            )
        })
        .collect();
    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let d = r[i % 3].decider.clone();
            tokio::spawn(async move { decide(&d, &format!("one-{i}"), "svc-one").await })
        })
        .collect();
    let mut executed = 0;
    for t in tasks {
        let handled = t.await.unwrap();
        let d = handled.decision();
        if d.outcome == DecisionOutcome::ApproveAuto {
            assert!(d.executed, "{d:?}");
            executed += 1;
        } else {
            assert!(
                d.guardrails
                    .iter()
                    .any(|g| g == "busy" || g == "cooldown" || g == "re_killed"),
                "{:?}: {:?}",
                d.guardrails,
                d.reasoning
            );
        }
    }
    assert_eq!(executed, 1, "brought back once across the replicas");
    let requests: Vec<_> = r[0]
        .decider
        .store
        .requests(usize::MAX)
        .unwrap()
        .into_iter()
        .filter(|q| q.target_module == "svc-one")
        .collect();
    assert_eq!(requests.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kills_counted_over_replicas_trip_flapping_and_its_cooldown_holds_on_all() {
    use crate::pipeline_support::{incoming, kill_json_at};
    let db = TestDatabase::create();
    let r = replicas(&db, 2, None);
    // Four kills in one hour two hours ago, over both replicas: the fourth
    // is one more than resurrection.flapping.max_kills_per_hour (3).
    let t0 = Utc::now() - chrono::Duration::hours(2);
    let mut last = None;
    for i in 0..4 {
        let at = t0 + chrono::Duration::minutes(i);
        let kill = medic::ingest::validate::kill_report(
            &kill_json_at(&format!("flap-{i}"), "svc-flap", at),
            Utc::now(),
        )
        .unwrap();
        last = Some(
            r[i as usize % 2]
                .decider
                .handle(incoming(kill))
                .await
                .unwrap(),
        );
    }
    let tripped = last.unwrap();
    assert!(
        tripped
            .decision()
            .guardrails
            .contains(&"flapping".to_string()),
        "{:?}",
        tripped.decision().reasoning
    );
    // A kill now (none in the hour before it) on the replica that did not
    // trip it: the flapping cooldown holds there too.
    let d = decide(&r[0].decider, "flap-now", "svc-flap").await;
    assert!(
        d.decision()
            .guardrails
            .contains(&"flapping_cooldown".to_string()),
        "{:?}",
        d.decision().reasoning
    );
}

/// Two replicas on `db`, each configured by `edit`; the first shares its
/// requests' state (until the token returned is cancelled), brings back
/// `module` automatically for the kill `kill_id` and watches it. Returns
/// the replicas, that token, the first's store and the request's id.
async fn two_replicas_one_watching(
    db: &TestDatabase,
    edit: impl Fn(&mut medic::config::Config),
    kill_id: &str,
    module: &str,
) -> (
    Vec<Setup>,
    tokio_util::sync::CancellationToken,
    Store,
    String,
) {
    let r: Vec<Setup> = (0..2).map(|_| setup(100, &edit, db.store())).collect();
    let stop = tokio_util::sync::CancellationToken::new();
    tokio::spawn(r[0].acting.clone().share_requests(stop.clone()));
    let first = decide(&r[0].decider, kill_id, module).await;
    assert_eq!(
        first.decision().outcome,
        medic::model::DecisionOutcome::ApproveAuto
    );
    let store = r[0].decider.store.clone();
    let id = crate::acting_inprocess::wait_monitoring(&store, kill_id).await;
    (r, stop, store, id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_reaching_another_replica_interrupts_the_resurrection_under_way() {
    use medic::model::OutcomeResult;
    let db = TestDatabase::create();
    let (r, stop, store, id) = two_replicas_one_watching(
        &db,
        |c| c.medic.resurrection.monitoring_duration = Duration::from_secs(60),
        "watch-1",
        "svc-watch",
    )
    .await;
    // Smith kills the module again; the kill reaches the other replica.
    let again = decide(&r[1].decider, "watch-2", "svc-watch").await;
    assert!(
        again.decision().guardrails.contains(&"busy".to_string()),
        "{:?}",
        again.decision().reasoning
    );
    let done = tokio::time::timeout(Duration::from_secs(20), wait_final(&store, &id))
        .await
        .expect("the resurrection ends well before its 60 s watch");
    assert_ne!(done.state, WorkflowState::Completed, "{done:?}");
    let outcomes = store.module_outcomes("svc-watch").unwrap();
    assert_eq!(outcomes.len(), 1);
    assert_eq!(
        outcomes[0].result,
        OutcomeResult::ReKilled,
        "{:?}",
        outcomes[0]
    );
    stop.cancel();
}

/// A rollback asked through a replica that does not watch the request
/// reaches the one that does: it rolls back, runs the backend's rollback
/// and records the outcome, within a few seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollback_asked_through_another_replica_rolls_back_the_watch() {
    use crate::acting_inprocess::command_backend;
    use medic::model::{OutcomeResult, ResurrectionStatus};
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("rolled-back");
    let db = TestDatabase::create();
    // Watched on replica 0.
    let (r, stop, store, id) = two_replicas_one_watching(
        &db,
        |c| {
            c.medic.resurrection.monitoring_duration = Duration::from_secs(600);
            let mut b = command_backend(&["*"], &["true"]);
            b.rollback = vec!["touch".into(), marker.display().to_string()];
            c.medic.resurrection.backends = vec![b];
        },
        "roll-1",
        "svc-roll",
    )
    .await;
    // Asked through replica 1, which does not watch it.
    assert_eq!(
        r[1].acting
            .rollback(&id, "error rate doubled", "alice")
            .unwrap(),
        "relayed"
    );
    let done = tokio::time::timeout(Duration::from_secs(20), wait_final(&store, &id))
        .await
        .expect("rolled back well before its 10-minute watch ends");
    assert_eq!(done.status, ResurrectionStatus::RolledBack, "{done:?}");
    assert!(
        done.rollback_reason
            .as_deref()
            .is_some_and(|why| why.contains("alice: error rate doubled")),
        "{done:?}"
    );
    assert!(marker.exists(), "the backend's rollback ran");
    let outcomes = store.module_outcomes("svc-roll").unwrap();
    assert_eq!(outcomes.len(), 1);
    assert_eq!(outcomes[0].result, OutcomeResult::Rollback);
    // A finished request cannot be rolled back through either replica.
    for replica in &r {
        let e = replica.acting.rollback(&id, "again", "alice").unwrap_err();
        assert!(e.contains("not being monitored"), "{e}");
    }
    stop.cancel();
}

/// A change another replica makes while this one starts — after start-up
/// read what the store held, before this one begins to follow — is applied
/// here, not taken for one already seen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_made_while_a_replica_starts_is_applied_there() {
    let db = TestDatabase::create();
    let (here, there) = (db.store(), db.store());
    let starting = setup(100, |_| {}, here.clone());
    let at_start = medic::changes::revisions(&here).unwrap();
    let strategy = || {
        starting
            .decider
            .registry
            .active()
            .strategy
            .name()
            .to_string()
    };
    assert_ne!(strategy(), "conservative");
    there
        .put_plugin_binding(
            "phase_3_semi_auto",
            medic::model::PluginKind::Strategy,
            &medic::config::raw::PluginBinding {
                name: "conservative".into(),
                sha256: None,
            },
        )
        .unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    let following = tokio::spawn(medic::changes::follow(
        starting.decider.clone(),
        at_start,
        stop.clone(),
    ));
    for _ in 0..100 {
        if strategy() == "conservative" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.cancel();
    following.await.unwrap();
    assert_eq!(
        strategy(),
        "conservative",
        "the binding made meanwhile serves"
    );
}
