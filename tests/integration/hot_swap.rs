//! Hot swap: while calls run, a strategy file is replaced by a new version
//! and then by broken ones. Every call succeeds, the new version serves
//! after the swap, and the broken files are rejected with the previous
//! version still serving.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use medic::plugin::{DecideRequest, Registry, native, reload};

use crate::support::*;

fn install(dir: &Path, name: &str, bytes: &[u8]) {
    // Write beside, then rename into place: the way to install a plugin.
    let tmp = dir.join(format!(".{name}.partial"));
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, dir.join(name)).unwrap();
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn swapping_a_strategy_under_load_loses_no_call() {
    let dir = tempfile::tempdir().unwrap();
    install(dir.path(), "swap.wasm", &wasm_bytes("swap-v1"));
    let mut config = config_with(|p| p.watch = true);
    config.medic.plugins.directory = Some(dir.path().to_path_buf());
    if let Some(b) = config.constitution.plugins.get_mut("default") {
        b.strategy.name = "swap-test".into();
    }
    let registry = Arc::new(Registry::new(&config).unwrap());
    let _watch = reload::watch(&registry)
        .unwrap()
        .expect("a directory is configured");
    assert_eq!(registry.active().strategy.info().version, "1.0.0");

    let stop = Arc::new(AtomicBool::new(false));
    let caller = {
        let registry = registry.clone();
        let stop = stop.clone();
        let t = thresholds(&config);
        std::thread::spawn(move || {
            let c = case("low-risk");
            let profile = c.profile_or_default();
            let req = request(&c, &profile, &t);
            let risk = native::score(&req).unwrap();
            let mut served = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let s = registry.decide(&DecideRequest::new(req, &risk));
                let v = s
                    .value
                    .unwrap_or_else(|e| panic!("a call failed during the swap: {e}"));
                assert!(s.fallback.is_none());
                served.push((s.version, v.reasoning[0].clone()));
            }
            served
        })
    };
    std::thread::sleep(Duration::from_millis(50));

    install(dir.path(), "swap.wasm", &wasm_bytes("swap-v2"));
    wait_for("version 2 to serve", || {
        registry.active().strategy.info().version == "2.0.0"
    });
    std::thread::sleep(Duration::from_millis(50));

    // Broken files: garbage renamed into place, then a trapping plugin
    // copied over in place. Both are rejected; version 2 keeps serving.
    install(dir.path(), "swap.wasm", b"\0asm garbage");
    wait_for("the garbage to be rejected", || {
        registry
            .events()
            .iter()
            .filter(|e| e.outcome == "rejected")
            .count()
            >= 1
    });
    std::fs::copy(wasm("hostile-trap"), dir.path().join("swap.wasm")).unwrap();
    wait_for("the trapping plugin to be rejected", || {
        registry
            .events()
            .iter()
            .any(|e| e.outcome == "rejected" && e.message.contains("golden kill"))
    });
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(registry.active().strategy.info().version, "2.0.0");

    stop.store(true, Ordering::Relaxed);
    let served = caller.join().expect("no call failed");
    assert!(served.len() > 10, "only {} calls ran", served.len());
    let first_v2 = served
        .iter()
        .position(|(v, _)| v == "2.0.0")
        .expect("version 2 served");
    assert!(first_v2 > 0, "version 1 served first");
    // Once version 2 served, nothing else did; and each answer matches its version.
    assert!(served[first_v2..].iter().all(|(v, _)| v == "2.0.0"));
    for (version, reason) in &served {
        assert_eq!(reason, &format!("swap-test version {}", &version[..1]));
    }
    let row = registry
        .list()
        .into_iter()
        .find(|r| r.name == "swap-test")
        .unwrap();
    assert_eq!(row.status, "active");
    assert_eq!(row.version, "2.0.0");
}

#[test]
fn removing_an_override_restores_the_builtin() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_with(|p| p.watch = false);
    config.medic.plugins.directory = Some(dir.path().to_path_buf());
    let registry = Registry::new(&config).unwrap();
    let builtin_sha = registry.get("balanced").unwrap().sha256().to_string();
    // A file providing `conservative` overrides the built-in of that name.
    let path = dir.path().join("conservative.wasm");
    std::fs::write(&path, wasm_bytes("conservative")).unwrap();
    let event = registry.load_file(&path).unwrap();
    assert_eq!(event.outcome, "replaced");
    let rows = registry.list();
    assert!(
        rows.iter()
            .any(|r| r.name == "conservative" && r.status == "overridden")
    );
    assert!(
        rows.iter()
            .any(|r| r.name == "conservative" && r.status == "active")
    );
    assert_eq!(registry.load_file(&path).unwrap().outcome, "unchanged");
    std::fs::remove_file(&path).unwrap();
    let events = registry.reload_directory().unwrap();
    assert!(events.iter().any(|e| e.outcome == "removed"));
    assert_eq!(
        registry
            .list()
            .iter()
            .filter(|r| r.name == "conservative")
            .count(),
        1
    );
    assert_eq!(registry.get("balanced").unwrap().sha256(), builtin_sha);
}

#[test]
fn a_plugin_name_claimed_by_two_files_is_a_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_with(|p| p.watch = false);
    config.medic.plugins.directory = Some(dir.path().to_path_buf());
    let registry = Registry::new(&config).unwrap();
    std::fs::write(dir.path().join("a.wasm"), wasm_bytes("swap-v1")).unwrap();
    std::fs::write(dir.path().join("b.wasm"), wasm_bytes("swap-v2")).unwrap();
    registry.load_file(&dir.path().join("a.wasm")).unwrap();
    let err = registry.load_file(&dir.path().join("b.wasm")).unwrap_err();
    assert!(err.to_string().contains("already provided by"), "{err}");
}

#[test]
fn switching_phase_switches_the_strategy() {
    let mut config = default_config();
    // The shipped constitution binds the same strategy to both automatic
    // phases; bind another to full-auto to see the switch.
    if let Some(b) = config.constitution.plugins.get_mut("phase_5_full_auto") {
        b.strategy.name = "aggressive".into();
    }
    let registry = Registry::new(&config).unwrap();
    assert_eq!(registry.active().strategy.name(), "conservative");
    registry.set_phase(medic::config::Phase::SemiAuto).unwrap();
    assert_eq!(registry.active().strategy.name(), "pessimistic");
    assert_eq!(registry.active().scorer.name(), "evidence");
    assert_eq!(registry.active().learner.name(), "calibrated");
    registry.set_phase(medic::config::Phase::FullAuto).unwrap();
    assert_eq!(registry.active().strategy.name(), "aggressive");
    // A pin that does not match is refused.
    if let Some(b) = config.constitution.plugins.get_mut("default") {
        b.strategy.sha256 = Some("0".repeat(64));
    }
    let err = Registry::new(&config).err().expect("pin mismatch refused");
    assert!(err.to_string().contains("pinned"), "{err}");
}
