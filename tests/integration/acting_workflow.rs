//! The resurrection workflow's edges: retries and the execution limit, an
//! operator's rollback, a re-kill during monitoring, resuming after a
//! restart, and Smith's veto protocol (approve, defer, silence) over a real
//! Redis.

use std::time::Duration;

use chrono::Utc;
use medic::config::raw::VetoTimeout;
use medic::execute::Links;
use medic::execute::veto::VetoChannel;
use medic::execute::workflow;
use medic::model::{DecisionOutcome, OutcomeResult, ResurrectionStatus, WorkflowState};
use serde_json::json;

use crate::acting_inprocess::{
    command_backend, request_of, setup, setup_config, setup_on, wait_final, wait_monitoring,
};
use crate::acting_support::stream_json;
use crate::pipeline_support::{decide, kill};
use crate::redis_server::RedisServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_restart_is_retried_up_to_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let counter = dir.path().join("attempts");
    // Fails twice, then succeeds.
    let script = format!(
        "n=$(cat {0} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {0}; [ $n -ge 3 ]",
        counter.display()
    );
    for (retries, expect) in [(2, WorkflowState::Completed), (1, WorkflowState::Failed)] {
        let _ = std::fs::remove_file(&counter);
        let s = setup(
            100,
            |c| {
                c.medic.resurrection.max_retry_attempts = retries;
                c.medic.resurrection.backends =
                    vec![command_backend(&["*"], &["sh", "-c", &script])];
            },
            crate::postgres_db::test_store(),
        );
        decide(&s.decider, "retry-1", "flaky").await;
        let r = request_of(&s.decider.store, "retry-1").unwrap();
        let r = wait_final(&s.decider.store, &r.request_id).await;
        assert_eq!(r.state, expect, "{:?}", r.transitions);
        assert_eq!(r.attempts, retries + 1);
        if expect == WorkflowState::Failed {
            assert!(
                r.error.as_deref().unwrap().contains("restart exited"),
                "{:?}",
                r.error
            );
            let o = &s.decider.store.module_outcomes("flaky").unwrap()[0];
            assert_eq!(o.result, OutcomeResult::Failure);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_execution_is_bounded() {
    let s = setup(
        100,
        |c| {
            c.medic.resurrection.execution_timeout = std::time::Duration::from_secs_f64(0.5);
            c.medic.resurrection.backends = vec![command_backend(&["*"], &["sleep", "10"])];
        },
        crate::postgres_db::test_store(),
    );
    let started = std::time::Instant::now();
    decide(&s.decider, "slow-1", "sluggish").await;
    let r = request_of(&s.decider.store, "slow-1").unwrap();
    let r = wait_final(&s.decider.store, &r.request_id).await;
    assert_eq!(r.state, WorkflowState::Failed);
    assert!(
        r.error.as_deref().unwrap().contains("timed out"),
        "{:?}",
        r.error
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_can_roll_back_a_resurrection_being_watched() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("rolled-back");
    let s = setup(
        100,
        |c| {
            c.medic.resurrection.monitoring_duration =
                std::time::Duration::from_secs_f64(10.0 * 60.0);
            let mut b = command_backend(&["*"], &["true"]);
            b.rollback = vec!["touch".into(), marker.display().to_string()];
            c.medic.resurrection.backends = vec![b];
        },
        crate::postgres_db::test_store(),
    );
    decide(&s.decider, "op-1", "search").await;
    let id = wait_monitoring(&s.decider.store, "op-1").await;
    s.acting
        .rollback(&id, "error rate doubled", "alice")
        .unwrap();
    let r = wait_final(&s.decider.store, &id).await;
    assert_eq!(r.status, ResurrectionStatus::RolledBack);
    assert!(
        r.rollback_reason
            .as_deref()
            .unwrap()
            .contains("alice: error rate doubled")
    );
    assert!(marker.exists(), "the backend's rollback ran");
    let o = &s.decider.store.module_outcomes("search").unwrap()[0];
    assert_eq!(o.result, OutcomeResult::Rollback);
    let e = s.acting.rollback(&id, "again", "alice").unwrap_err();
    assert!(e.contains("not being monitored"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rekill_during_monitoring_ends_it_as_re_killed() {
    let s = setup(
        100,
        |c| c.medic.resurrection.monitoring_duration = std::time::Duration::from_secs(600),
        crate::postgres_db::test_store(),
    );
    decide(&s.decider, "rk-1", "indexer").await;
    let id = wait_monitoring(&s.decider.store, "rk-1").await;
    let again = decide(&s.decider, "rk-2", "indexer").await;
    let r = wait_final(&s.decider.store, &id).await;
    assert_eq!(r.state, WorkflowState::Failed);
    assert!(
        r.error.as_deref().unwrap().contains("killed indexer again"),
        "{:?}",
        r.error
    );
    let o = &s.decider.store.module_outcomes("indexer").unwrap()[0];
    assert_eq!(o.result, OutcomeResult::ReKilled);
    // The second kill is not resurrected automatically on top of the first.
    assert_eq!(again.decision().outcome, DecisionOutcome::PendingReview);
    assert!(
        again
            .decision()
            .guardrails
            .contains(&"re_killed".to_string()),
        "{:?}",
        again.decision().guardrails
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_restart_approved_requests_run_and_interrupted_ones_fail() {
    let s = setup(100, |_| {}, crate::postgres_db::test_store());
    let store = s.decider.store.clone();
    // Two decided kills whose requests a previous run left behind.
    let mut left = Vec::new();
    for (kill_id, module, state) in [
        ("res-1", "alpha", WorkflowState::Approved),
        ("res-2", "beta", WorkflowState::Executing),
    ] {
        let h = decide(&s.decider, kill_id, "auth-service").await; // queued, no request
        let mut d = h.decision().clone();
        d.kill_id = kill_id.into();
        let k = kill(kill_id, module);
        let mut r = workflow::new_request(&d, &k, "command", 0.005, vec![], Utc::now());
        workflow::advance(&mut r, WorkflowState::Approved, "", Utc::now()).unwrap();
        if state == WorkflowState::Executing {
            workflow::advance(&mut r, WorkflowState::Executing, "", Utc::now()).unwrap();
        }
        store.put_request(&r).unwrap();
        left.push(r.request_id);
    }
    if store.shared() {
        // On a store replicas share, a request is taken up once its owner
        // has not stamped it for a while: the previous run stopped.
        tokio::time::sleep(
            medic::execute::resurrector::ADOPT_AFTER + std::time::Duration::from_secs(1),
        )
        .await;
    }
    assert_eq!(s.acting.resume().unwrap(), 1);
    let alpha = wait_final(&store, &left[0]).await;
    assert_eq!(
        alpha.state,
        WorkflowState::Completed,
        "{:?}",
        alpha.transitions
    );
    let beta = store.request(&left[1]).unwrap().unwrap();
    assert_eq!(beta.state, WorkflowState::Failed);
    assert!(
        beta.error.as_deref().unwrap().contains("restart"),
        "{:?}",
        beta.error
    );
}

/// A semi-auto engine with the veto protocol on a private Redis.
async fn with_veto(
    redis: &RedisServer,
    timeout: u64,
    on_timeout: VetoTimeout,
) -> crate::acting_inprocess::Setup {
    let (config, intel) = setup_config(100, |c| {
        c.medic.smith.event_bus.url = Some(redis.url().parse().expect("a URL"));
        c.medic.smith.veto_protocol.enabled = true;
        c.medic.smith.veto_protocol.timeout = std::time::Duration::from_secs(timeout);
        c.medic.smith.veto_protocol.on_timeout = on_timeout;
    });
    let stop = tokio_util::sync::CancellationToken::new();
    let cfg = &config.medic.smith;
    let channel = VetoChannel::connect(&cfg.event_bus, &cfg.veto_protocol, stop)
        .await
        .unwrap();
    let links = Links {
        veto: Some(channel),
        ..Links::default()
    };
    setup_on(config, intel, crate::postgres_db::test_store(), links)
}

/// Plays Smith: answers the notice for `kill_id` with `decision`.
async fn answer(redis: &RedisServer, kill_id: &str, decision: &str) -> serde_json::Value {
    let mut conn = redis.conn();
    for _ in 0..500 {
        let notice = stream_json(&mut conn, "medic.veto.notices")
            .into_iter()
            .find(|v| v["kill_id"] == kill_id);
        if let Some(n) = notice {
            // An answer that is not a veto message is ignored, not fatal.
            let _: String = redis::cmd("XADD")
                .arg("smith.veto.responses")
                .arg("*")
                .arg("data")
                .arg(json!({"message_type": "HELLO", "request_id": n["request_id"]}).to_string())
                .query(&mut conn)
                .unwrap();
            let _: String = redis::cmd("XADD")
                .arg("smith.veto.responses")
                .arg("*")
                .arg("data")
                .arg(
                    json!({"message_type": "RESURRECTION_VETO", "request_id": n["request_id"],
                           "decision": decision, "reason": format!("smith says {decision}")})
                    .to_string(),
                )
                .query(&mut conn)
                .unwrap();
            return n;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no notice for {kill_id}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smith_approves_and_the_resurrection_goes_on() {
    let redis = RedisServer::start();
    let s = with_veto(&redis, 30, VetoTimeout::Queue).await;
    let decided = decide(&s.decider, "v-ok", "renderer").await;
    let notice = answer(&redis, "v-ok", "approve").await;
    // The notice carries the decision's own assessment (its level moves with
    // the time-of-day factor, so it is compared, not fixed).
    assert_eq!(
        notice["risk_assessment"]["level"],
        medic::model::wire_name(&decided.decision().risk_level)
    );
    assert!(
        ["minimal", "low"].contains(&notice["risk_assessment"]["level"].as_str().unwrap()),
        "{notice}"
    );
    let r = request_of(&s.decider.store, "v-ok").unwrap();
    let r = wait_final(&s.decider.store, &r.request_id).await;
    assert_eq!(r.state, WorkflowState::Completed);
    assert!(
        r.transitions[0].note.contains("Smith approved"),
        "{:?}",
        r.transitions
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smith_defers_to_a_human() {
    let redis = RedisServer::start();
    let s = with_veto(&redis, 30, VetoTimeout::Proceed).await;
    decide(&s.decider, "v-defer", "renderer").await;
    answer(&redis, "v-defer", "defer").await;
    let r = request_of(&s.decider.store, "v-defer").unwrap();
    let r = wait_final(&s.decider.store, &r.request_id).await;
    assert_eq!(r.status, ResurrectionStatus::Cancelled);
    let item = s.acting.queue.list_pending(10).unwrap().remove(0);
    assert_eq!(item.kill.kill_id, "v-defer");
    assert!(item.reason.contains("Smith deferred"), "{}", item.reason);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smiths_silence_means_what_on_timeout_says() {
    let redis = RedisServer::start();
    // Default: a human decides.
    let s = with_veto(&redis, 1, VetoTimeout::Queue).await;
    decide(&s.decider, "v-quiet", "renderer").await;
    let r = request_of(&s.decider.store, "v-quiet").unwrap();
    let r = wait_final(&s.decider.store, &r.request_id).await;
    assert_eq!(r.status, ResurrectionStatus::Cancelled);
    assert!(
        r.error.as_deref().unwrap().contains("did not answer"),
        "{:?}",
        r.error
    );
    assert_eq!(s.acting.queue.list_pending(10).unwrap().len(), 1);
    // Configured to proceed: it does.
    let s = with_veto(&redis, 1, VetoTimeout::Proceed).await;
    decide(&s.decider, "v-quiet-2", "renderer").await;
    let r = request_of(&s.decider.store, "v-quiet-2").unwrap();
    let r = wait_final(&s.decider.store, &r.request_id).await;
    assert_eq!(r.state, WorkflowState::Completed);
}
