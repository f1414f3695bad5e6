//! `medic serve` as a real process against a real Redis: killed hard
//! mid-stream and started again, it loses no kill and decides none twice.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use redis::Commands;
use serde_json::json;

use crate::pipeline_support::kill_json;
use crate::redis_server::RedisServer;

const STREAM: &str = "smith.events.kill_notifications";

fn write_config(dir: &Path, redis_url: &str) -> std::path::PathBuf {
    let medic = medic::config::EMBEDDED_MEDIC
        .replace("type: \"http\"", "type: \"redis\"")
        .replace("url: \"\"", &format!("url: \"{redis_url}\""))
        .replace(
            "path: \"data/medic.db\"",
            &format!("path: \"{}\"", dir.join("store").display()),
        )
        .replace("block_ms: 1000", "block_ms: 100")
        .replace("format: \"json\"", "format: \"text\"");
    let path = dir.join("medic.yaml");
    std::fs::write(&path, medic).unwrap();
    path
}

fn spawn(config: &Path, log: &Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    Command::new(env!("CARGO_BIN_EXE_medic"))
        .args(["serve", "--config"])
        .arg(config)
        .env_remove("MEDIC_CONFIG_PATH")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("medic starts")
}

pub fn responses(conn: &mut redis::Connection) -> Vec<(String, String)> {
    let reply: redis::streams::StreamRangeReply =
        conn.xrange_all("medic.responses").unwrap_or_default();
    reply
        .ids
        .iter()
        .map(|e| {
            (
                e.get::<String>("kill_id").unwrap_or_default(),
                e.get::<String>("decision_id").unwrap_or_default(),
            )
        })
        .collect()
}

fn wait(what: &str, secs: u64, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

#[test]
fn killed_hard_mid_stream_it_loses_and_duplicates_nothing() {
    const KILLS: usize = 3000;
    let server = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &server.url());
    let log = dir.path().join("medic.log");
    let mut conn = server.conn();

    let mut medic = spawn(&config, &log);
    let mut pipe = redis::pipe();
    for i in 0..KILLS {
        let env = json!({"version": "1.0", "message_type": "KILL_REPORT", "payload": kill_json(&format!("hard-{i}"), "svc"),
                         "correlation_id": format!("c-{i}")});
        pipe.xadd(STREAM, "*", &[("data", env.to_string())])
            .ignore();
    }
    let _: () = pipe.query(&mut conn).unwrap();

    wait("a first part decided", 120, || {
        responses(&mut conn).len() >= 300
    });
    medic.kill().unwrap(); // SIGKILL: no drain, no flush
    medic.wait().unwrap();
    let before = responses(&mut conn).len();
    assert!(
        before < KILLS,
        "the kill came mid-stream ({before} of {KILLS} answered)"
    );

    let mut medic = spawn(&config, &log);
    wait("every kill answered", 180, || {
        let r = responses(&mut conn);
        r.iter()
            .map(|(k, _)| k)
            .collect::<std::collections::HashSet<_>>()
            .len()
            == KILLS
    });
    wait("nothing pending", 60, || {
        let reply: redis::Value = redis::cmd("XPENDING")
            .arg(STREAM)
            .arg("medic")
            .query(&mut conn)
            .unwrap();
        matches!(reply, redis::Value::Array(ref v) if matches!(v.first(), Some(redis::Value::Int(0))))
    });
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(medic.id().to_string())
        .status();
    let status = medic.wait().unwrap();
    assert!(
        status.success(),
        "graceful stop; log:\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );

    // Each kill has exactly one decision, however often it was answered.
    let mut by_kill: HashMap<String, String> = HashMap::new();
    for (kill, decision) in responses(&mut conn) {
        let first = by_kill
            .entry(kill.clone())
            .or_insert_with(|| decision.clone());
        assert_eq!(*first, decision, "{kill} was decided twice");
    }
    assert_eq!(by_kill.len(), KILLS);
    let store = medic::store::Store::open(&dir.path().join("store")).unwrap();
    assert_eq!(store.decision_count(), KILLS);
    for (kill, decision) in &by_kill {
        assert_eq!(
            &store.decision_for_kill(kill).unwrap().unwrap().decision_id,
            decision
        );
        assert_eq!(
            &store.record(decision).unwrap().unwrap().kill.kill_id,
            kill,
            "found by its decision id"
        );
    }
    // The time index (written a group at a time, rebuilt from the record
    // log after the crash) holds each decision once.
    let listed = store
        .records_between(
            chrono::Utc::now() - chrono::Duration::hours(1),
            chrono::Utc::now() + chrono::Duration::minutes(1),
        )
        .unwrap();
    assert_eq!(listed.len(), KILLS, "no decision listed twice");
    let listed: HashMap<String, String> = listed
        .into_iter()
        .map(|r| (r.kill.kill_id, r.decision.decision_id))
        .collect();
    assert_eq!(listed, by_kill, "each decision listed once, by time");
}
