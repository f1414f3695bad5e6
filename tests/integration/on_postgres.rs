//! The engine's tests again, on the PostgreSQL store: this binary runs
//! itself with `MEDIC_TEST_STORE` naming a database made for the pass, so
//! every test below that builds its store with `postgres_db::test_store`
//! decides, acts, queues, learns and serves its API on PostgreSQL as it
//! does on sled in the first pass.

use std::process::Command;

use crate::postgres_db::TestDatabase;

/// The test modules whose engines take their store from `test_store`.
const ON_BOTH: &[&str] = &[
    "acting_inprocess::",
    "acting_workflow::",
    "api_access::",
    "api_routes::",
    "guardrail_tests::",
    "http_ingest::",
    "learning::",
    "redis_pipeline::",
    "replay_gate::",
    "shadow::",
    "siem_rest::",
];

#[test]
fn the_engines_tests_pass_on_the_postgres_store() {
    let db = TestDatabase::create();
    let out = Command::new(std::env::current_exe().expect("this test binary"))
        .args(ON_BOTH)
        .args(["--test-threads", "2"])
        .env("MEDIC_TEST_STORE", db.url())
        .output()
        .expect("the test binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "on PostgreSQL:\n{stdout}\n{stderr}");
    let passed: usize = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("test result: ok. "))
        .filter_map(|l| l.split(' ').next()?.parse::<usize>().ok())
        .sum();
    let selected: usize = stdout
        .lines()
        .find_map(|l| l.strip_prefix("running ")?.split(' ').next()?.parse().ok())
        .unwrap_or(0);
    // Every test of the modules above, and no fewer than they hold today.
    assert_eq!(passed, selected, "{stdout}");
    assert!(
        selected >= 96,
        "only {selected} ran on PostgreSQL:\n{stdout}"
    );
}
