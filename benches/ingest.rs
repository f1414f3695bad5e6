//! Reading a kill from the wire: the envelope as Smith sends it (the load
//! test's kill), read in one pass into typed fields — the path every
//! well-formed kill takes — against the field-by-field reading through
//! `serde_json::Value` that names the field of a malformed one.
//!
//! Run: `cargo bench --bench ingest`. Results: docs/BENCHMARKS.md.

use chrono::Utc;
use criterion::{Criterion, criterion_group, criterion_main};
use medic::ingest::envelope::{from_json, from_text};
use serde_json::{Value, json};

fn envelope() -> String {
    json!({"version": "1.0", "message_type": "KILL_REPORT", "correlation_id": "lt-17", "payload": {
        "kill_id": "3f2a9c1e-17", "timestamp": Utc::now().to_rfc3339(), "target_module": "svc-17",
        "target_instance_id": "svc-17-1", "kill_reason": "anomaly_behavior", "severity": "low",
        "confidence_score": 0.5, "evidence": ["load"], "dependencies": [], "source_agent": "loadtest", "metadata": {}
    }})
    .to_string()
}

fn bench(c: &mut Criterion) {
    let text = envelope();
    let now = Utc::now();
    assert!(from_text(&text, now).is_ok(), "the envelope is valid");
    let mut g = c.benchmark_group("envelope");
    g.bench_function("one pass (typed)", |b| {
        b.iter(|| from_text(std::hint::black_box(&text), now))
    });
    g.bench_function("field by field (Value)", |b| {
        b.iter(|| {
            let value: Value = serde_json::from_str(std::hint::black_box(&text)).expect("JSON");
            from_json(&value, now)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
