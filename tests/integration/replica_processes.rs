//! Replicas as real `medic serve` processes: three on one Redis consumer
//! group and one PostgreSQL database, as `deploy/compose.yaml` runs them.
//! Killed hard and restarted, they decide every kill once; a person's
//! approval reaching several of them runs once; a watch whose replica died
//! is finished by another; a change made through one serves on all.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use serde_yaml::Value as Yaml;

use crate::acting_support::{DemoService, Engine, STREAM, wait_for, yaml, yaml_set};
use crate::medic_process::responses;
use crate::pipeline_support::kill_json;
use crate::postgres_db::TestDatabase;
use crate::redis_pipeline::pending;
use crate::redis_server::RedisServer;

/// A replica named `name` on the shared Redis and database, with
/// `backends` and the configuration `edit` leaves.
fn replica(
    redis: &Arc<RedisServer>,
    db: &TestDatabase,
    name: &str,
    backends: Vec<Value>,
    edit: impl FnOnce(&mut Yaml, &mut Yaml),
) -> Engine {
    Engine::launch(redis.clone(), backends, |m, c| {
        for (path, v) in [
            ("learning.database.type", json!("postgres")),
            ("learning.database.url", json!(db.url())),
            ("smith.event_bus.consumer_name", json!(name)),
            ("interfaces.web.enabled", json!(true)),
        ] {
            yaml_set(m, path, yaml(v));
        }
        edit(m, c);
    })
}

fn stream_len(conn: &mut redis::Connection, stream: &str) -> usize {
    redis::cmd("XLEN").arg(stream).query(conn).unwrap_or(0)
}

fn report(conn: &mut redis::Connection, kills: impl Iterator<Item = Value>) {
    let mut pipe = redis::pipe();
    for kill in kills {
        let env = json!({"version": "1.0", "message_type": "KILL_REPORT", "payload": kill,
                         "correlation_id": format!("c-{}", kill["kill_id"].as_str().unwrap_or(""))});
        pipe.xadd(STREAM, "*", &[("data", env.to_string())])
            .ignore();
    }
    let _: () = pipe.query(conn).unwrap();
}

#[test]
fn three_replicas_decide_a_stream_once_with_one_killed_hard_and_restarted() {
    const KILLS: usize = 20_000;
    let redis = Arc::new(RedisServer::start());
    let db = TestDatabase::create();
    // Observer mode: every kill is decided and answered, nothing is acted on.
    let observe = |m: &mut Yaml, _: &mut Yaml| yaml_set(m, "mode.current", yaml(json!("observer")));
    let mut replicas: Vec<Engine> = (1..=3)
        .map(|n| replica(&redis, &db, &format!("medic-{n}"), vec![], observe))
        .collect();
    let mut conn = redis.conn();
    report(
        &mut conn,
        (0..KILLS).map(|i| kill_json(&format!("stream-{i}"), &format!("svc-{}", i % 97))),
    );
    wait_for("a first part decided", 300, || {
        stream_len(&mut conn, "medic.responses") >= KILLS / 4
    });
    replicas[1].kill_hard();
    let at_kill = stream_len(&mut conn, "medic.responses");
    assert!(
        at_kill < KILLS,
        "the replica died mid-stream ({at_kill} of {KILLS} answered)"
    );
    replicas[1].respawn();

    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let answered: HashSet<String> = responses(&mut conn).into_iter().map(|(k, _)| k).collect();
        if answered.len() == KILLS {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {KILLS} kills answered; logs:\n{}",
            answered.len(),
            replicas[1].log_text()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    wait_for("nothing pending in the consumer group", 60, || {
        pending(&mut conn) == 0
    });
    // Each kill has one decision, however often (and by whichever replica)
    // it was answered.
    let mut by_kill: HashMap<String, String> = HashMap::new();
    for (kill, decision) in responses(&mut conn) {
        let first = by_kill.entry(kill.clone()).or_insert(decision.clone());
        assert_eq!(*first, decision, "{kill} was decided twice");
    }
    assert_eq!(by_kill.len(), KILLS);
    let store = db.store();
    assert_eq!(store.decision_count(), KILLS, "one stored decision a kill");
    for (kill, decision) in by_kill.iter().step_by(97) {
        let stored = store.record_for_kill(kill).unwrap().unwrap();
        assert_eq!(&stored.decision.decision_id, decision);
    }
    // Each replica answers for itself.
    for r in &replicas {
        let (_, status) = r.get("/api/v1/status");
        assert_eq!(status["data"]["replica"]["store"], "postgres", "{status}");
    }
    for r in &mut replicas {
        r.stop();
    }
}

#[test]
fn replicas_share_the_cap_a_modules_cooldown_and_a_persons_approval() {
    const CAP: usize = 4;
    let redis = Arc::new(RedisServer::start());
    let db = TestDatabase::create();
    let backend = json!({"modules": ["*"], "type": "command", "restart": ["true"], "rollback": ["true"],
                         "health_check": {"type": "command", "command": ["true"]}});
    let edit = |m: &mut Yaml, c: &mut Yaml| {
        yaml_set(m, "resurrection.cooldown_seconds", yaml(json!(3600)));
        // Kills of one module here are not a flapping service.
        yaml_set(
            m,
            "resurrection.flapping.max_kills_per_hour",
            yaml(json!(20)),
        );
        yaml_set(
            c,
            "constraints.max_auto_resurrections_per_hour",
            yaml(json!(CAP)),
        );
    };
    let replicas: Vec<Engine> = (1..=3)
        .map(|n| {
            replica(
                &redis,
                &db,
                &format!("medic-{n}"),
                vec![backend.clone()],
                edit,
            )
        })
        .collect();
    let mut conn = redis.conn();
    let store = db.store();
    // One module brought back by whichever replica reads its kill first is
    // busy or in its cooldown on every replica (the others never ran it).
    let first = &replicas[0];
    report(&mut conn, std::iter::once(kill_json("cool-0", "svc-cool")));
    let d = first.decision("cool-0");
    assert_eq!(d["outcome"], "approve_auto", "{d}");
    for n in 1..=3 {
        let kill_id = format!("cool-{n}");
        report(&mut conn, std::iter::once(kill_json(&kill_id, "svc-cool")));
        let d = first.decision(&kill_id);
        assert_ne!(d["outcome"], "approve_auto", "{d}");
        let stored = store.record_for_kill(&kill_id).unwrap().unwrap();
        let g = &stored.decision.guardrails;
        // Or, on the replica bringing it back, a re-kill of it.
        assert!(
            g.iter()
                .any(|g| g == "cooldown" || g == "busy" || g == "re_killed"),
            "{kill_id}: {g:?}"
        );
    }
    // A burst of low-risk kills of 24 modules, and 6 more of one module,
    // over all three replicas (each takes what it reads first).
    report(
        &mut conn,
        (0..24)
            .map(|i| kill_json(&format!("cap-{i}"), &format!("svc-{i}")))
            .chain((0..6).map(|i| kill_json(&format!("one-{i}"), "svc-one"))),
    );
    wait_for("all 34 answered", 120, || {
        stream_len(&mut conn, "medic.responses") >= 34
    });
    let decided = store
        .records_between(
            chrono::Utc::now() - chrono::Duration::hours(1),
            chrono::Utc::now() + chrono::Duration::minutes(1),
        )
        .unwrap();
    assert_eq!(decided.len(), 34);
    let executed: Vec<_> = decided.iter().filter(|r| r.decision.executed).collect();
    assert_eq!(
        executed.len(),
        CAP,
        "never over the hourly cap across replicas"
    );
    let one_auto = executed
        .iter()
        .filter(|r| r.kill.target_module == "svc-one")
        .count();
    assert!(
        one_auto <= 1,
        "svc-one brought back {one_auto} times automatically"
    );

    // A critical module's kill waits for a person; eight approvals of it
    // reach the three replicas at once, and it runs once.
    report(
        &mut conn,
        std::iter::once(kill_json("person-1", "auth-service")),
    );
    let item = replicas[0].wait_queued("person-1");
    let id = item["item_id"].as_str().unwrap().to_string();
    let replicas = Arc::new(replicas);
    let approvals: Vec<_> = (0..8)
        .map(|n| {
            let (replicas, id) = (replicas.clone(), id.clone());
            std::thread::spawn(move || {
                replicas[n % 3]
                    .post(
                        &format!("/api/v1/queue/{id}/approve"),
                        json!({"notes": format!("approver {n}")}),
                    )
                    .0
            })
        })
        .collect();
    let codes: Vec<u16> = approvals.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(codes.iter().filter(|c| **c == 200).count(), 1, "{codes:?}");
    assert_eq!(codes.iter().filter(|c| **c == 409).count(), 7, "{codes:?}");
    let requests: Vec<_> = store
        .requests(usize::MAX)
        .unwrap()
        .into_iter()
        .filter(|r| r.kill_id == "person-1")
        .collect();
    assert_eq!(requests.len(), 1, "one request, whichever replica won");
}

#[test]
fn a_replica_killed_during_monitoring_has_its_watch_finished_by_another() {
    let redis = Arc::new(RedisServer::start());
    let db = TestDatabase::create();
    let dir = tempfile::tempdir().unwrap();
    let mut svc = DemoService::new(dir.path(), "web-frontend");
    let watch = |m: &mut Yaml, _: &mut Yaml| {
        yaml_set(
            m,
            "resurrection.monitoring_duration_minutes",
            yaml(json!(0.25)),
        )
    };
    let mut first = replica(&redis, &db, "medic-a", vec![svc.backend()], watch);
    svc.start();
    svc.kill();
    first.report_kill(&kill_json("watched-1", "web-frontend"));
    let d = first.decision("watched-1");
    assert_eq!(d["outcome"], "approve_auto", "{d}");
    wait_for("the resurrection to be watched", 60, || {
        first
            .requests_for("watched-1")
            .first()
            .is_some_and(|r| r["state"] == "monitoring")
    });
    let second = replica(&redis, &db, "medic-b", vec![svc.backend()], watch);
    first.kill_hard();
    let outcome = second.wait_outcome("watched-1", 120);
    assert_eq!(outcome["result"], "success", "{outcome}");
    let requests = second.requests_for("watched-1");
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0]["state"], "completed", "{}", requests[0]);
    assert!(
        second
            .log_text()
            .contains("taken over from a replica that stopped"),
        "{}",
        second.log_text()
    );
    assert!(svc.healthy(), "the service Medic brought back still runs");
}

#[test]
fn a_change_made_through_one_replica_serves_on_all_within_a_second() {
    let redis = Arc::new(RedisServer::start());
    let db = TestDatabase::create();
    let replicas: Vec<Engine> = (1..=3)
        .map(|n| replica(&redis, &db, &format!("medic-{n}"), vec![], |_, _| {}))
        .collect();
    let within_a_second = |what: &str, done: &dyn Fn(&Engine) -> bool| {
        let started = Instant::now();
        wait_for(what, 5, || replicas.iter().all(done));
        let took = started.elapsed();
        assert!(took < Duration::from_secs(1), "{what} took {took:?}");
    };

    // A plugin binding.
    let (code, body) = replicas[0].put(
        "/api/v1/plugins/bindings/phase_3_semi_auto",
        json!({"kind": "strategy", "name": "conservative"}),
    );
    assert_eq!(code, 200, "{body}");
    within_a_second("the binding to serve on every replica", &|r| {
        r.get("/api/v1/plugins").1["data"]["active"]["strategy"] == "conservative"
    });

    // A threshold change.
    let (_, body) = replicas[1].get("/api/v1/config/thresholds");
    let mut values = body["data"]["current"].clone();
    let key = "auto_approve.min_confidence";
    let was = values[key].as_f64().expect("a threshold");
    let set = if was > 0.9 { was - 0.02 } else { was + 0.02 };
    values[key] = json!(set);
    let (code, body) = replicas[1].put(
        "/api/v1/config/thresholds",
        json!({"values": values, "reason": "replicas test"}),
    );
    assert_eq!(code, 200, "{body}");
    within_a_second("the threshold in force on every replica", &|r| {
        r.get("/api/v1/config/thresholds").1["data"]["current"][key]
            .as_f64()
            .is_some_and(|v| (v - set).abs() < 1e-9)
    });

    // The mode.
    let (code, body) = replicas[2].put(
        "/api/v1/mode",
        json!({"mode": "manual", "reason": "replicas test"}),
    );
    assert_eq!(code, 200, "{body}");
    within_a_second("the mode on every replica", &|r| {
        r.get("/api/v1/mode").1["data"]["current"] == "manual"
    });
    // A replica started later runs in it too.
    let late = replica(&redis, &db, "medic-late", vec![], |_, _| {});
    assert_eq!(late.get("/api/v1/mode").1["data"]["current"], "manual");
    assert_eq!(
        late.get("/api/v1/plugins").1["data"]["active"]["strategy"],
        "conservative"
    );
}
