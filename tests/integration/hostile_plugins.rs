//! One test per hostile plugin: the host survives each with the right typed
//! error, within the deadline, and keeps serving.

use std::time::{Duration, Instant};

use medic::model::{DecisionOutcome, PluginKind};
use medic::plugin::{DecideRequest, LoadError, Plugin, PluginError, native};

use crate::support::*;

/// Calls a strategy on the low-risk golden kill, with extra metadata.
fn decide_with(
    plugin: &Plugin,
    metadata: &[(&str, &str)],
) -> Result<medic::model::Verdict, PluginError> {
    let config = default_config();
    let t = thresholds(&config);
    let mut c = case("low-risk");
    for (k, v) in metadata {
        c.kill
            .metadata
            .insert((*k).into(), serde_json::Value::String((*v).into()));
    }
    let profile = c.profile_or_default();
    let req = request(&c, &profile, &t);
    let risk = native::score(&req).unwrap();
    plugin.decide(&DecideRequest::new(req, &risk))
}

/// After a hostile call, a good plugin on the same host still works.
fn host_still_serves(config: &medic::config::Config) {
    let good = load(config, "balanced").unwrap();
    assert_eq!(
        decide_with(&good, &[]).unwrap().outcome,
        DecisionOutcome::ApproveAuto
    );
}

#[test]
fn a_plugin_that_spins_forever_times_out_at_the_deadline() {
    let config = config_with(|p| p.timeout = std::time::Duration::from_millis(20));
    let spin = load(&config, "hostile-spin").expect("loads: it only misbehaves when called");
    let started = Instant::now();
    let err = decide_with(&spin, &[]).unwrap_err();
    let took = started.elapsed();
    assert!(
        matches!(err, PluginError::Timeout { ref plugin, timeout_ms: 20 } if plugin == "hostile-spin"),
        "{err:?}"
    );
    assert!(
        took >= Duration::from_millis(20) && took < Duration::from_secs(2),
        "took {took:?}"
    );
    host_still_serves(&config);
}

#[test]
fn a_plugin_that_grows_memory_without_bound_hits_the_limit() {
    // A generous deadline, so the memory limit (not the clock) stops it even
    // on a loaded machine.
    let config = config_with(|p| {
        p.memory_limit_mb = 16;
        p.timeout = std::time::Duration::from_millis(5_000);
    });
    let hog = load(&config, "hostile-memory").unwrap();
    let started = Instant::now();
    let err = decide_with(&hog, &[]).unwrap_err();
    assert!(
        matches!(err, PluginError::OutOfMemory { limit_mb: 16, .. }),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    host_still_serves(&config);
}

#[test]
fn a_plugin_that_traps_is_an_error_value() {
    let config = default_config();
    let trap = load(&config, "hostile-trap").unwrap();
    let err = decide_with(&trap, &[]).unwrap_err();
    assert!(
        matches!(err, PluginError::Trap { ref message, .. } if message.contains("unreachable")),
        "{err:?}"
    );
    // The same plugin can be called again: every call gets a fresh instance.
    assert!(matches!(
        decide_with(&trap, &[]),
        Err(PluginError::Trap { .. })
    ));
    host_still_serves(&config);
}

#[test]
fn a_plugin_that_panics_is_stopped_when_it_reaches_for_stderr() {
    let config = default_config();
    let trap = load(&config, "hostile-trap").unwrap();
    let err = decide_with(&trap, &[("mode", "panic")]).unwrap_err();
    // std's panic hook writes the message to stderr, which is not granted.
    assert!(
        matches!(err, PluginError::CapabilityDenied { ref capability, .. } if capability.contains("wasi:cli/stderr")),
        "{err:?}"
    );
    host_still_serves(&config);
}

#[test]
fn a_plugin_returning_out_of_range_numbers_is_rejected_by_validation() {
    let config = default_config();
    let t = thresholds(&config);
    let bad = load(&config, "hostile-out-of-range").unwrap();
    assert_eq!(bad.kind(), PluginKind::RiskScorer);
    let c = case("low-risk");
    let profile = c.profile_or_default();
    let err = bad.score(&request(&c, &profile, &t)).unwrap_err();
    match err {
        PluginError::InvalidOutput { what, problem, .. } => {
            assert_eq!(what, "risk assessment");
            assert!(problem.contains("7.5"), "{problem}");
        }
        other => panic!("expected InvalidOutput, got {other:?}"),
    }
    host_still_serves(&config);
}

#[test]
fn a_plugin_implementing_the_wrong_world_is_refused_at_load() {
    let config = default_config();
    let sandbox =
        std::sync::Arc::new(medic::plugin::sandbox::Sandbox::new(&config.medic.plugins).unwrap());
    let settings = medic::plugin::RuntimeSettings::from_config(&config);
    let bytes = wasm_bytes("hostile-wrong-world");
    let source = medic::plugin::PluginSource::File(wasm("hostile-wrong-world"));
    // Asked for as a strategy: it implements the learner world.
    let err = Plugin::load(
        &sandbox,
        &settings,
        &bytes,
        source.clone(),
        Some(PluginKind::Strategy),
    )
    .err()
    .expect("refused");
    assert!(
        matches!(
            err,
            LoadError::WrongWorld {
                expected: PluginKind::Strategy,
                found: PluginKind::ThresholdLearner,
                ..
            }
        ),
        "{err}"
    );
    // Loaded for what it is, its describe() lies about its kind.
    let err = Plugin::load(&sandbox, &settings, &bytes, source, None)
        .err()
        .expect("refused");
    assert!(
        matches!(
            err,
            LoadError::KindMismatch {
                declared: PluginKind::Strategy,
                world: PluginKind::ThresholdLearner,
                ..
            }
        ),
        "{err}"
    );
    // Not a component at all.
    let err = Plugin::load(
        &sandbox,
        &settings,
        b"not wasm",
        medic::plugin::PluginSource::Builtin,
        None,
    )
    .err()
    .expect("refused");
    assert!(matches!(err, LoadError::Compile { .. }), "{err}");
}

#[test]
fn a_plugin_trying_wasi_gets_no_capability() {
    let config = config_with(|p| p.max_consecutive_failures = 100);
    let wasi = load(&config, "hostile-wasi").unwrap();
    for (attempt, capability) in [
        ("file", "wasi:filesystem"),
        ("clock", "wasi:clocks/wall-clock"),
        ("socket", "wasi:sockets"),
    ] {
        let result = decide_with(&wasi, &[("attempt", attempt)]);
        match result {
            Err(PluginError::CapabilityDenied { capability: c, .. }) => {
                assert!(
                    c.starts_with(capability),
                    "{attempt}: denied {c}, expected {capability}"
                )
            }
            // std may refuse before calling WASI (no preopened directories,
            // sockets unsupported): the plugin then reports an error itself.
            Err(PluginError::Refused { message, .. }) => {
                assert!(message.contains("denied"), "{attempt}: {message}")
            }
            other => panic!("{attempt}: the plugin got through: {other:?}"),
        }
    }
    // The environment is a deterministic empty stub: nothing of the host's leaks.
    let v = decide_with(&wasi, &[("attempt", "env")]).unwrap();
    assert!(v.reasoning[0].contains("0 env vars"), "{:?}", v.reasoning);
    host_still_serves(&config);
}

#[test]
fn plugins_failing_their_golden_kills_are_refused_at_start() {
    for hostile in ["hostile-trap", "hostile-spin", "hostile-memory"] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(wasm(hostile), dir.path().join("bad.wasm")).unwrap();
        let mut config = config_with(|p| {
            p.watch = false;
            p.timeout = std::time::Duration::from_millis(50);
        });
        config.medic.plugins.directory = Some(dir.path().to_path_buf());
        let err = medic::plugin::Registry::new(&config)
            .err()
            .expect("refused at start");
        assert!(err.to_string().contains("golden kill"), "{hostile}: {err}");
    }
}

#[test]
fn a_plugin_failing_repeatedly_is_quarantined_and_the_safe_default_serves() {
    // hostile-wasi passes the golden kills and misbehaves only on request,
    // so it can be installed, bound, and then made to fail.
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(wasm("hostile-wasi"), dir.path().join("wasi.wasm")).unwrap();
    let mut config = config_with(|p| {
        p.max_consecutive_failures = 3;
        p.watch = false;
    });
    config.medic.plugins.directory = Some(dir.path().to_path_buf());
    if let Some(b) = config.constitution.plugins.get_mut("default") {
        b.strategy.name = "hostile-wasi".into();
    }
    let registry = medic::plugin::Registry::new(&config).unwrap();
    assert_eq!(registry.active().strategy.name(), "hostile-wasi");

    let t = thresholds(&config);
    let mut c = case("low-risk");
    c.kill
        .metadata
        .insert("attempt".into(), serde_json::Value::String("file".into()));
    let profile = c.profile_or_default();
    let req = request(&c, &profile, &t);
    let risk = native::score(&req).unwrap();
    for _ in 0..3 {
        let served = registry.decide(&DecideRequest::new(req, &risk));
        assert_eq!(served.plugin, "hostile-wasi");
        assert!(served.value.is_err());
        assert!(served.fallback.is_none());
    }
    // Quarantined: the conservative built-in answers instead, and says so.
    let served = registry.decide(&DecideRequest::new(req, &risk));
    assert_eq!(served.plugin, "conservative");
    assert_eq!(
        served.value.unwrap().outcome,
        DecisionOutcome::PendingReview
    );
    assert!(served.fallback.unwrap().contains("quarantined"));
    let row = registry
        .list()
        .into_iter()
        .find(|r| r.name == "hostile-wasi")
        .unwrap();
    assert_eq!(row.status, "quarantined");
    assert_eq!(row.health.consecutive_failures, 3);
    assert!(row.health.last_error.unwrap().contains("wasi:filesystem"));
}
