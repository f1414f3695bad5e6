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
