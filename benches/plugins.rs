//! Plugin host benchmarks: score+decide per kill through the WASM plugins in
//! each isolation mode against the same logic compiled natively;
//! instantiation from a pre-instantiated component; and hot-swap time from a
//! file change to the first call served by the new version, with and
//! without a compiled-artifact cache.
//!
//! Run: `cargo bench --bench plugins`. Results: docs/BENCHMARKS.md.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use medic::config::{Config, Isolation};
use medic::model::{KillCase, ModuleProfile, Resembling, Tally};
use medic::plugin::Prepared;
use medic::plugin::loaded::score_then_decide;
use medic::plugin::sandbox::{Sandbox, SharedKill};
use medic::plugin::{
    BUILT_PLUGINS_DIR, DecideRequest, Plugin, PluginSource, Registry, RuntimeSettings,
    ScoreRequest, golden, native, reload, thresholds_from_config,
};

/// A built plugin: from `MEDIC_BENCH_PLUGINS_DIR` when set (to measure
/// another build of the same plugins — say, an earlier commit's, built
/// against contract 0.1 — on this host in the same sitting), else from
/// this build's.
fn wasm(name: &str) -> PathBuf {
    let dir = std::env::var_os("MEDIC_BENCH_PLUGINS_DIR")
        .map_or_else(|| PathBuf::from(BUILT_PLUGINS_DIR), PathBuf::from);
    dir.join(format!("{}.wasm", name.replace('-', "_")))
}

fn config(isolation: Isolation) -> Config {
    let mut c = Config::embedded().expect("embedded config");
    c.medic.plugins.isolation = isolation;
    c
}

fn load(config: &Config, name: &str) -> Plugin {
    let sandbox = Arc::new(Sandbox::new(&config.medic.plugins).expect("sandbox"));
    let bytes = std::fs::read(wasm(name)).expect("built plugin");
    Plugin::load(
        &sandbox,
        &RuntimeSettings::from_config(config),
        &bytes,
        PluginSource::File(wasm(name)),
        None,
    )
    .expect("plugin loads")
}

/// The kill every score+decide benchmark judges: the `cascade` golden kill
/// with SIEM context, its module's profile, and — as on a Medic that has
/// learnt from outcomes — counts of known kills like it (the `known.*`
/// facts the `evidence` scorer reads).
fn case() -> (KillCase, ModuleProfile) {
    let kill = golden::case("cascade").cloned().expect("golden case");
    let mut profile = kill.profile_or_default();
    let tally = |threats, false_positives| Tally {
        threats,
        false_positives,
        unresolved: 2,
    };
    profile.known = Some(Resembling {
        all: tally(400, 900),
        siem_risk: tally(30, 70),
        fp_history: tally(50, 120),
        indicators: tally(40, 60),
        smith_confidence: tally(35, 80),
        kill_reason: tally(90, 200),
    });
    (kill, profile)
}

fn score_decide(c: &mut Criterion) {
    let (kill, profile) = case();
    let mut group = c.benchmark_group("score_decide_per_kill");
    // Three pairs: `weighted` + `balanced` (the pair measured since the
    // first plugin host; unprefixed, for the history's sake), the default
    // binding outside automation (`weighted` + `conservative`: the embedded
    // constitution's `plugins.default`) and the semi-auto and full-auto
    // default (`evidence` + `pessimistic`), each through the
    // plugins in both isolation modes and natively. `_no_thresholds`: what
    // passing the thresholds and facts costs of a kill (none passed; the
    // plugins use their defaults). `_copied`: the kill not lent by its
    // caller (as `Plugin::score` and `decide` do), so copied for the
    // plugins' `kill` resource when the first call needs it.
    for (pair, scorer_name, strategy_name) in [
        ("", "weighted", "balanced"),
        ("conservative_", "weighted", "conservative"),
        ("evidence_", "evidence", "pessimistic"),
    ] {
        for (label, isolation, thresholds, lend) in [
            ("wasm_strict", Isolation::Strict, true, true),
            ("wasm_reuse", Isolation::Reuse, true, true),
            ("wasm_reuse_copied", Isolation::Reuse, true, false),
            ("wasm_reuse_no_thresholds", Isolation::Reuse, false, true),
        ] {
            let cfg = config(isolation);
            let t = if thresholds {
                thresholds_from_config(&cfg)
            } else {
                Default::default()
            };
            let mut p = profile.clone();
            if !thresholds {
                p.known = None;
            }
            let scorer = load(&cfg, scorer_name);
            let strategy = load(&cfg, strategy_name);
            group.bench_function(format!("{pair}{label}"), |b| {
                // As the engine lends a kill to its plugins (one `Arc` per
                // kill), and resolves their named numbers once per set of
                // thresholds (the registry keeps them).
                let resolved = [scorer.resolve(&t), strategy.resolve(&t)];
                let lent = Arc::new(SharedKill {
                    kill: kill.kill.clone(),
                    context: kill.context.clone(),
                });
                b.iter(|| {
                    let req = ScoreRequest {
                        kill: &lent.kill,
                        context: lent.context.as_ref(),
                        profile: &p,
                        thresholds: &t,
                    };
                    let mut prepared = if lend {
                        Prepared::lending(req, lent.clone())
                    } else {
                        Prepared::new(req)
                    };
                    let (risk, verdict) = score_then_decide(
                        &scorer,
                        &strategy,
                        &mut prepared,
                        [Some(&resolved[0]), Some(&resolved[1])],
                    );
                    risk.expect("scores");
                    verdict.expect("decided").expect("decides")
                })
            });
        }
        let t = thresholds_from_config(&config(Isolation::Strict));
        group.bench_function(format!("{pair}native"), |b| {
            b.iter(|| {
                let req = ScoreRequest {
                    kill: &kill.kill,
                    context: kill.context.as_ref(),
                    profile: &profile,
                    thresholds: &t,
                };
                let risk = native::score_with(scorer_name, &req).expect("scores");
                native::decide(strategy_name, &DecideRequest::new(req, &risk)).expect("decides")
            })
        });
    }
    group.finish();
}

fn instantiate(c: &mut Criterion) {
    let cfg = config(Isolation::Strict);
    let strategy = load(&cfg, "balanced");
    c.bench_function("instantiate_from_pre_and_drop", |b| {
        b.iter(|| strategy.instantiate_once().expect("instantiates"))
    });
}

/// Replaces the bound strategy file and measures until a call is served by
/// the new version.
fn swap_once(
    registry: &Registry,
    dir: &Path,
    bytes: &[u8],
    version: &str,
    t: &medic::model::NamedValues,
) -> Duration {
    let (kill, profile) = case();
    let req = ScoreRequest {
        kill: &kill.kill,
        context: kill.context.as_ref(),
        profile: &profile,
        thresholds: t,
    };
    let risk = native::score(&req).expect("scores");
    let tmp = dir.join(".swap.partial");
    std::fs::write(&tmp, bytes).expect("write");
    let started = Instant::now();
    std::fs::rename(&tmp, dir.join("swap.wasm")).expect("rename");
    loop {
        let served = registry.decide(&DecideRequest::new(req, &risk));
        if served.version == version {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "swap never happened"
        );
        std::thread::yield_now();
    }
}

fn hot_swap(c: &mut Criterion) {
    let v1 = std::fs::read(wasm("swap-v1")).expect("v1");
    let v2 = std::fs::read(wasm("swap-v2")).expect("v2");
    let mut group = c.benchmark_group("hot_swap_file_change_to_first_call");
    group.sample_size(20);
    for (label, cached) in [("precompiled", true), ("fresh_compile", false)] {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("swap.wasm"), &v1).expect("write");
        let mut cfg = config(Isolation::Strict);
        cfg.medic.plugins.directory = Some(dir.path().to_path_buf());
        if cached {
            cfg.medic.plugins.cache_dir = Some(cache.path().to_path_buf());
        }
        if let Some(b) = cfg.constitution.plugins.get_mut("default") {
            b.strategy.name = "swap-test".into();
        }
        let t = thresholds_from_config(&cfg);
        let registry = Arc::new(Registry::new(&cfg).expect("registry"));
        let _watch = reload::watch(&registry).expect("watch");
        // Both versions compiled once, so the cache (when on) holds them.
        swap_once(&registry, dir.path(), &v2, "2.0.0", &t);
        swap_once(&registry, dir.path(), &v1, "1.0.0", &t);
        group.bench_function(label, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for i in 0..iters {
                    let (bytes, version) = if i % 2 == 0 {
                        (&v2, "2.0.0")
                    } else {
                        (&v1, "1.0.0")
                    };
                    total += swap_once(&registry, dir.path(), bytes, version, &t);
                }
                // Leave version 1 serving for the next batch.
                if iters % 2 == 1 {
                    swap_once(&registry, dir.path(), &v1, "1.0.0", &t);
                }
                total
            })
        });
    }
    group.finish();
}

criterion_group!(benches, score_decide, instantiate, hot_swap);
criterion_main!(benches);
