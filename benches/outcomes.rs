//! The outcome database at a million records: a module's 90-day history and
//! its success rate, through the module index.
//!
//! Run: `cargo bench --bench outcomes`. Results: docs/BENCHMARKS.md.
//! Building the store (1,000,000 outcomes over 500 modules and a year) takes
//! a minute or two and about 1.5 GB of disk in the system temp directory.

use std::time::Duration;

use chrono::{Duration as Days, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use medic::model::{DecisionOutcome, KillReason, OutcomeRecord, OutcomeResult, RiskLevel};
use medic::store::Store;

const RECORDS: usize = 1_000_000;
const MODULES: usize = 500;

fn record(n: usize) -> OutcomeRecord {
    let now = Utc::now();
    let result = match n % 10 {
        0 => OutcomeResult::ReKilled,
        1 => OutcomeResult::Rollback,
        2 => OutcomeResult::PartialSuccess,
        _ => OutcomeResult::Success,
    };
    OutcomeRecord {
        outcome_id: format!("{n:012}"),
        request_id: format!("req-{n:012}"),
        decision_id: format!("dec-{n:012}"),
        kill_id: format!("kill-{n:012}"),
        result,
        // Spread over the last year.
        recorded_at: now - Days::seconds((n as i64 * 31_536) % 31_536_000),
        time_to_stable: Some(4),
        post_resurrection_metrics:
            serde_json::json!({"checks": 12, "failures": 0, "first_healthy_ms": 180})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        smith_feedback: None,
        human_feedback: None,
        lessons_learned: vec![],
        should_adjust_threshold: false,
        target_module: format!("module-{:03}", n % MODULES),
        risk_level: RiskLevel::Low,
        risk_score: 0.3,
        decision: DecisionOutcome::ApproveAuto,
        strategy: "balanced@0.1.0".into(),
        kill_reason: Some(KillReason::AnomalyBehavior),
        smith_confidence: Some(0.6),
        reading: None,
    }
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("store")).unwrap();
    for n in 0..RECORDS {
        store.put_outcome(&record(n)).unwrap();
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(store.flush()).unwrap();
    let now = Utc::now();
    let mut g = c.benchmark_group("outcomes_1m");
    g.sample_size(50).measurement_time(Duration::from_secs(10));
    let mut m = 0usize;
    g.bench_function("module_90_day_history_and_success_rate", |b| {
        b.iter(|| {
            m = (m + 7) % MODULES;
            let module = format!("module-{m:03}");
            let history = store.module_outcome_history(&module, 90, now).unwrap();
            let counts = store
                .module_counts_between(&module, now - Days::days(90), now + Days::seconds(1))
                .unwrap();
            assert_eq!(history.len() as u32, counts.resurrections);
            (history.len(), counts.success_rate())
        })
    });
    g.bench_function("module_success_rate_only", |b| {
        b.iter(|| {
            m = (m + 7) % MODULES;
            store
                .module_counts_between(
                    &format!("module-{m:03}"),
                    now - Days::days(90),
                    now + Days::seconds(1),
                )
                .unwrap()
                .success_rate()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
