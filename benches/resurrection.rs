//! Time from a kill report to the resurrected process passing its first
//! health check, through the whole engine in-process: validation, SIEM
//! (file), both plugins, guardrails, the store, the process backend
//! starting `medic-demo-service`, and its HTTP health check.
//!
//! Run: `cargo bench --bench resurrection`. Results: docs/BENCHMARKS.md.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use criterion::{Criterion, criterion_group, criterion_main};
use medic::config::Config;
use medic::config::raw::{BackendSection, BackendType, HealthCheckSection, HealthCheckType};
use medic::decide::Incoming;
use medic::engine::{Engine, Parts};
use medic::enrich;
use medic::model::OutcomeResult;
use medic::plugin::Registry;
use medic::store::Store;
use medic::telemetry::Metrics;
use serde_json::json;

const DEMO: &str = env!("CARGO_BIN_EXE_medic-demo-service");
const INTEL: &str = "default:\n  risk_score: 0.05\n  false_positive_history: 5\n";

fn config(dir: &std::path::Path, port: u16) -> Config {
    let intel = dir.join("intel.yaml");
    std::fs::write(&intel, INTEL).unwrap();
    let medic = medic::config::EMBEDDED_MEDIC
        .replace("current: \"observer\"", "current: \"semi_auto\"")
        .replace("adapter: \"none\"", "adapter: \"file\"")
        .replace(
            "intel_file: \"\"",
            &format!("intel_file: \"{}\"", intel.display()),
        )
        .replace(
            "    enabled: false\n    max_risk_level",
            "    enabled: true\n    max_risk_level",
        );
    let constitution = medic::config::EMBEDDED_CONSTITUTION
        .replace(
            "max_auto_resurrections_per_hour: 10",
            "max_auto_resurrections_per_hour: 100000",
        )
        .replace(
            "phase_2_manual:\n    enabled: false",
            "phase_2_manual:\n    enabled: true",
        )
        .replace(
            "phase_3_semi_auto:\n    enabled: false",
            "phase_3_semi_auto:\n    enabled: true",
        );
    let mut c = Config::from_texts(
        ("medic.yaml", &medic),
        ("constitution.yaml", &constitution),
        &|_| None,
    )
    .expect("bench config");
    let r = &mut c.medic.resurrection;
    r.monitoring_duration = std::time::Duration::from_secs_f64(0.0001 * 60.0);
    r.health_check_interval = std::time::Duration::from_secs_f64(0.005);
    r.cooldown = std::time::Duration::from_secs_f64(0.0);
    r.flapping.max_kills_per_hour = 1_000_000;
    r.backends = vec![BackendSection {
        modules: vec!["bench-svc".into()],
        kind: BackendType::Process,
        command: DEMO.into(),
        args: vec![
            "--port".into(),
            port.to_string(),
            "--pidfile".into(),
            dir.join("svc.pid").display().to_string(),
        ],
        health_check: HealthCheckSection {
            kind: HealthCheckType::Http,
            url: format!("http://127.0.0.1:{port}/health"),
            timeout: std::time::Duration::from_secs_f64(1.0),
            ..HealthCheckSection::default()
        },
        ..BackendSection::default()
    }];
    c
}

fn kill_pidfile(dir: &std::path::Path) {
    if let Some(pid) = std::fs::read_to_string(dir.join("svc.pid"))
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok())
    {
        // SAFETY: the benchmark's own demo service.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
    }
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = Arc::new(config(dir.path(), port));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let store = Store::temporary().unwrap();
    let registry = Arc::new(Registry::new(&config).unwrap());
    let siem = enrich::from_config(&config, &|_| None).unwrap();
    let engine = rt.block_on(async {
        Engine::acting(
            Parts {
                config: config.clone(),
                registry,
                store: store.clone(),
                siem,
                metrics: Arc::new(Metrics::default()),
            },
            Default::default(),
            &|_| None,
        )
        .unwrap()
    });
    let decider = engine.decider.clone();
    let mut n = 0u64;
    let mut g = c.benchmark_group("resurrection");
    g.sample_size(30).measurement_time(Duration::from_secs(20));
    g.bench_function("kill_report_to_first_passing_health_check", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                n += 1;
                kill_pidfile(dir.path());
                let kill = medic::ingest::validate::kill_report(
                    &json!({"kill_id": format!("bench-{n}"), "timestamp": Utc::now().to_rfc3339(),
                            "target_module": "bench-svc", "target_instance_id": "bench-svc-1",
                            "kill_reason": "anomaly_behavior", "severity": "low", "confidence_score": 0.5,
                            "source_agent": "smith"}),
                    Utc::now(),
                )
                .unwrap();
                let t0 = Utc::now();
                let handled = rt
                    .block_on(decider.handle(Incoming {
                        kill,
                        correlation_id: None,
                        reply_to: None,
                        source: "bench",
                        received: Instant::now(),
                    }))
                    .unwrap();
                assert!(handled.decision().executed, "{:?}", handled.decision().reasoning);
                let kill_id = format!("bench-{n}");
                let outcome = loop {
                    let found = store
                        .module_outcomes("bench-svc")
                        .unwrap()
                        .into_iter()
                        .find(|o| o.kill_id == kill_id);
                    if let Some(o) = found {
                        break o;
                    }
                    std::thread::sleep(Duration::from_micros(200));
                };
                assert_eq!(outcome.result, OutcomeResult::Success, "{outcome:?}");
                let healthy_at: chrono::DateTime<Utc> = serde_json::from_value(
                    outcome.post_resurrection_metrics["first_healthy_at"].clone(),
                )
                .expect("first_healthy_at");
                total += (healthy_at - t0).to_std().unwrap_or_default();
            }
            total
        })
    });
    g.finish();
    kill_pidfile(dir.path());
}

criterion_group!(benches, bench);
criterion_main!(benches);
