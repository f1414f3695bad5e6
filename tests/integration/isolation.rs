//! `strict` and `reuse` isolation give the same decisions for pure plugins;
//! `reuse` replaces an instance after an error and after its call budget.

use std::sync::Arc;

use medic::config::Isolation;
use medic::plugin::{DecideRequest, PluginError, golden};

use crate::support::*;

#[test]
fn strict_and_reuse_decide_identically() {
    let strict = config_with(|p| p.isolation = Isolation::Strict);
    let reuse = config_with(|p| {
        p.isolation = Isolation::Reuse;
        p.reuse_max_calls = 3;
    });
    let t = thresholds(&strict);
    let (s_scorer, r_scorer) = (
        load(&strict, "weighted").unwrap(),
        load(&reuse, "weighted").unwrap(),
    );
    let (s_strat, r_strat) = (
        load(&strict, "balanced").unwrap(),
        load(&reuse, "balanced").unwrap(),
    );
    // Several rounds, so reused instances serve many calls and get replaced.
    for _ in 0..4 {
        for g in golden::cases() {
            let profile = g.case.profile_or_default();
            let req = request(&g.case, &profile, &t);
            let a = s_scorer.score(&req).unwrap();
            let b = r_scorer.score(&req).unwrap();
            assert_eq!(a, b, "{}", g.name);
            let va = s_strat.decide(&DecideRequest::new(req, &a)).unwrap();
            let vb = r_strat.decide(&DecideRequest::new(req, &b)).unwrap();
            assert_eq!(va, vb, "{}", g.name);
        }
    }
}

#[test]
fn reuse_mode_recovers_after_a_failure() {
    let config = config_with(|p| {
        p.isolation = Isolation::Reuse;
        p.max_consecutive_failures = 100;
    });
    let t = thresholds(&config);
    let wasi = load(&config, "hostile-wasi").unwrap();
    let mut bad = case("low-risk");
    bad.kill
        .metadata
        .insert("attempt".into(), serde_json::Value::String("clock".into()));
    let good = case("low-risk");
    for _ in 0..3 {
        let profile = good.profile_or_default();
        let req = request(&good, &profile, &t);
        let risk = medic::plugin::native::score(&req).unwrap();
        assert!(wasi.decide(&DecideRequest::new(req, &risk)).is_ok());
        let req = request(&bad, &profile, &t);
        let err = wasi.decide(&DecideRequest::new(req, &risk)).unwrap_err();
        assert!(
            matches!(err, PluginError::CapabilityDenied { .. }),
            "{err:?}"
        );
    }
}

#[test]
fn concurrent_calls_in_both_modes_all_succeed() {
    for isolation in [Isolation::Strict, Isolation::Reuse] {
        let config = config_with(|p| p.isolation = isolation);
        let scorer = Arc::new(load(&config, "weighted").unwrap());
        let t = Arc::new(thresholds(&config));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let scorer = scorer.clone();
                let t = t.clone();
                std::thread::spawn(move || {
                    for g in golden::cases().iter().cycle().take(50) {
                        let profile = g.case.profile_or_default();
                        scorer.score(&request(&g.case, &profile, &t)).unwrap();
                    }
                })
            })
            .collect();
        for th in threads {
            th.join().unwrap();
        }
        assert_eq!(scorer.health().failures, 0);
    }
}

#[test]
fn compiled_plugins_are_cached_by_sha256_and_engine() {
    let cache = tempfile::tempdir().unwrap();
    let config = config_with(|p| p.cache_dir = Some(cache.path().to_path_buf()));
    let first = load(&config, "balanced").unwrap();
    assert!(!first.from_cache(), "the first load compiles");
    let files: Vec<_> = std::fs::read_dir(cache.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(
        files[0].starts_with(first.sha256()) && files[0].ends_with(".cwasm"),
        "{files:?}"
    );
    let second = load(&config, "balanced").unwrap();
    assert!(
        second.from_cache(),
        "the second load deserializes the cached artifact"
    );
    // A damaged cache entry only costs a compile.
    std::fs::write(cache.path().join(&files[0]), b"not a cwasm").unwrap();
    let third = load(&config, "balanced").unwrap();
    assert!(!third.from_cache());
    let t = thresholds(&config);
    let c = case("low-risk");
    let profile = c.profile_or_default();
    let risk = medic::plugin::native::score(&request(&c, &profile, &t)).unwrap();
    assert!(
        third
            .decide(&DecideRequest::new(request(&c, &profile, &t), &risk))
            .is_ok()
    );
}

/// What a plugin that tries to remember sees over `kills` kills: for each
/// call, its count of kills seen and the kill ids it still holds.
fn what_it_remembers(isolation: Isolation, kills: usize) -> Vec<(f64, Vec<String>)> {
    let config = config_with(|p| {
        p.isolation = isolation;
        p.reuse_max_calls = 1_000;
    });
    let t = thresholds(&config);
    let scorer = load(&config, "weighted").unwrap();
    let remember = load(&config, "hostile-remember").unwrap();
    let base = golden::cases()[0].case.clone();
    (0..kills)
        .map(|i| {
            let mut case = base.clone();
            case.kill.kill_id = format!("kill-{i}");
            let profile = case.profile_or_default();
            let req = request(&case, &profile, &t);
            let risk = scorer.score(&req).unwrap();
            let v = remember.decide(&DecideRequest::new(req, &risk)).unwrap();
            (v.confidence, v.reasoning)
        })
        .collect()
}

#[test]
fn a_strict_instance_sees_nothing_of_the_previous_kill() {
    // In `strict` every kill meets a fresh instance: the static counter is
    // at its first kill and the heap holds only this kill, every time.
    for (i, (seen, kills)) in what_it_remembers(Isolation::Strict, 8)
        .into_iter()
        .enumerate()
    {
        assert_eq!(seen, 0.01, "kill {i}: the counter carried over");
        assert_eq!(
            kills,
            vec![format!("kill-{i}")],
            "kill {i}: the heap carried over"
        );
    }
    // The probe works: a reused instance does remember.
    let reused = what_it_remembers(Isolation::Reuse, 3);
    assert_eq!(reused[2].0, 0.03);
    assert_eq!(reused[2].1, vec!["kill-0", "kill-1", "kill-2"]);
}
