//! The cost of Medic's metrics where it matters: recording on the kill path
//! (a decision's counter and latency, a plugin call's latency, a counter;
//! alone and with both cores recording at once) and rendering `/metrics`
//! (the engine's families, the process figures from `/proc` included).
//! The two `crate_histogram_*` cases time prometheus-client's own histogram
//! beside histogram.rs's.
//!
//! Run: `cargo bench -p medic-telemetry --bench metrics`. Results:
//! docs/BENCHMARKS.md ("Metrics").

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use medic_model::{DecisionOutcome, RiskLevel};
use medic_telemetry::{Histogram, Metrics};

const OUTCOMES: [DecisionOutcome; 5] = [
    DecisionOutcome::ApproveAuto,
    DecisionOutcome::ApproveManual,
    DecisionOutcome::PendingReview,
    DecisionOutcome::Deny,
    DecisionOutcome::Defer,
];
const RISKS: [RiskLevel; 5] = [
    RiskLevel::Minimal,
    RiskLevel::Low,
    RiskLevel::Medium,
    RiskLevel::High,
    RiskLevel::Critical,
];

/// Metrics as a running engine has them: every outcome and risk level
/// seen, latencies spread over the buckets, some plugin errors.
fn populated() -> Metrics {
    let m = Metrics::default();
    for i in 0..10_000u64 {
        m.kills_received.inc();
        m.decided(
            OUTCOMES[(i % 5) as usize],
            RISKS[(i / 5 % 5) as usize],
            i * 37 % 200_000,
        );
        m.siem_latency(Duration::from_micros(i * 13 % 50_000));
    }
    for p in ["risk-scorer", "decision-maker", "siem-adapter"] {
        m.plugin_error(p, "timeout");
        m.plugin_error(p, "trap");
    }
    m.retention_removed("decision", 4);
    m
}

/// `f` run `iters` times on each of two threads at once; the time is the
/// wall-clock time divided by both threads' iterations.
fn two_threads(iters: u64, f: impl Fn(u64) + Sync) -> Duration {
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..2 {
            let f = &f;
            s.spawn(move || {
                for i in 0..iters {
                    f(i + t);
                }
            });
        }
    });
    start.elapsed() / 2
}

fn kill_path(c: &mut Criterion) {
    let m = populated();
    let mut g = c.benchmark_group("kill_path");
    let mut i = 0u64;
    g.bench_function("decided", |b| {
        b.iter(|| {
            i += 1;
            m.decided(
                black_box(OUTCOMES[(i % 5) as usize]),
                black_box(RISKS[(i / 5 % 5) as usize]),
                black_box(i % 100_000),
            )
        })
    });
    g.bench_function("decided_two_threads", |b| {
        b.iter_custom(|iters| {
            two_threads(iters, |i| {
                m.decided(
                    OUTCOMES[(i % 5) as usize],
                    RISKS[(i / 5 % 5) as usize],
                    black_box(i % 100_000),
                )
            })
        })
    });
    let h = Histogram::default();
    g.bench_function("plugin_latency_observe", |b| {
        b.iter(|| {
            i += 1;
            h.observe(black_box(Duration::from_micros(i % 100_000)))
        })
    });
    g.bench_function("plugin_latency_observe_two_threads", |b| {
        b.iter_custom(|iters| {
            two_threads(iters, |i| {
                h.observe(black_box(Duration::from_micros(i % 100_000)))
            })
        })
    });
    // The crate's own histogram (a mutex per observation), for the choice
    // of histogram.rs: the same buckets, in seconds.
    let crate_h = prometheus_client::metrics::histogram::Histogram::new([
        10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 0.1, 0.5,
        1.0,
    ]);
    g.bench_function("crate_histogram_observe", |b| {
        b.iter(|| {
            i += 1;
            crate_h.observe(black_box(Duration::from_micros(i % 100_000)).as_secs_f64())
        })
    });
    g.bench_function("crate_histogram_observe_two_threads", |b| {
        b.iter_custom(|iters| {
            two_threads(iters, |i| {
                crate_h.observe(black_box(Duration::from_micros(i % 100_000)).as_secs_f64())
            })
        })
    });
    g.bench_function("counter_inc", |b| b.iter(|| m.kills_received.inc()));
    g.finish();
}

fn render(c: &mut Criterion) {
    let m = std::sync::Arc::new(populated());
    c.bench_function("render/metrics", |b| b.iter(|| black_box(m.render())));
}

criterion_group!(benches, kill_path, render);
criterion_main!(benches);
