//! Plugin authoring end to end: `medic plugin new` generates a plugin of
//! each kind in each language; its own `test.sh` builds it with the real
//! toolchain (cargo for Rust, componentize-py from PyPI, componentize-js
//! from npm — installed here, into the target directory, on first use) and
//! has the host check it against the contract and the golden kills and run
//! it on its fixtures with expectations.

use std::path::{Path, PathBuf};

use crate::support::run;
use std::process::Command;

const KINDS: [&str; 3] = ["strategy", "risk-scorer", "threshold-learner"];

/// One toolchain install at a time (tests run in parallel).
static INSTALL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Where the authoring toolchains and builds live (kept between runs).
fn work_dir() -> PathBuf {
    crate::support::tool_dir("authoring")
}

/// A virtualenv with componentize-py; its bin directory.
fn python_toolchain() -> PathBuf {
    let _g = INSTALL.lock().unwrap_or_else(|p| p.into_inner());
    crate::support::python_tool(
        &work_dir().join("py-venv"),
        "componentize-py==0.25.1",
        "componentize-py",
    )
}

/// componentize-js from npm; its bin directory.
fn js_toolchain() -> PathBuf {
    let _g = INSTALL.lock().unwrap_or_else(|p| p.into_inner());
    let dir = work_dir().join("js-toolchain");
    let bin = dir.join("node_modules/.bin");
    if !bin.join("componentize-js").exists() {
        std::fs::create_dir_all(&dir).unwrap();
        run(
            "installing @bytecodealliance/componentize-js from npm (needs Node.js and npm: apt-get install nodejs npm)",
            Command::new("npm")
                .args(["install", "--silent", "--no-audit", "--no-fund", "--prefix"])
                .arg(&dir)
                .arg("@bytecodealliance/componentize-js@0.23.0"),
        );
    }
    bin
}

/// Generates each kind in `lang`, and runs each project's own test.sh with
/// `path_extra` first on PATH.
fn generate_build_and_run(lang: &str, path_extra: Option<PathBuf>) {
    let dir = tempfile::tempdir().unwrap();
    let path = match &path_extra {
        Some(p) => format!(
            "{}:{}",
            p.display(),
            std::env::var("PATH").unwrap_or_default()
        ),
        None => std::env::var("PATH").unwrap_or_default(),
    };
    for kind in KINDS {
        let name = format!("my-{lang}-{kind}");
        let out = run(
            "medic plugin new",
            Command::new(env!("CARGO_BIN_EXE_medic"))
                .args([
                    "plugin", "new", &name, "--kind", kind, "--lang", lang, "--dir",
                ])
                .arg(dir.path()),
        );
        assert!(
            out.contains("README.md") && out.contains("test.sh"),
            "{out}"
        );
        let project = dir.path().join(&name);
        assert!(project.join("fixtures").is_dir());
        let out = run(
            &format!("{name}/test.sh"),
            Command::new("sh")
                .arg(project.join("test.sh"))
                .env("PATH", &path)
                .env("MEDIC", env!("CARGO_BIN_EXE_medic"))
                .env("CARGO_TARGET_DIR", work_dir().join("rust-plugins"))
                .env_remove("MEDIC_CONFIG_PATH"),
        );
        assert!(out.contains("golden:") && out.contains("OK"), "{out}");
        assert!(out.contains(&format!("{name}: all checks passed")), "{out}");
        // The learner's fixture makes it propose; the others answered
        // every fixture line as expected (test.sh fails otherwise).
        if kind == "threshold-learner" {
            assert!(out.contains("\"name\":\"risk.low\""), "{out}");
        } else {
            assert_eq!(out.matches("\"kill_id\":\"golden-").count(), 3, "{out}");
        }
    }
}

#[test]
fn rust_plugins_are_generated_built_and_run() {
    generate_build_and_run("rust", None);
}

#[test]
fn python_plugins_are_generated_built_and_run() {
    generate_build_and_run("python", Some(python_toolchain()));
}

#[test]
fn javascript_plugins_are_generated_built_and_run() {
    generate_build_and_run("js", Some(js_toolchain()));
}

#[test]
fn bad_names_and_existing_directories_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let medic = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_medic"))
            .args(args)
            .arg("--dir")
            .arg(dir.path())
            .output()
            .unwrap()
    };
    let out = medic(&[
        "plugin", "new", "Bad_Name", "--kind", "strategy", "--lang", "rust",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("a-z 0-9 and -"));
    assert!(
        medic(&["plugin", "new", "ok", "--kind", "strategy", "--lang", "js"])
            .status
            .success()
    );
    let out = medic(&["plugin", "new", "ok", "--kind", "strategy", "--lang", "js"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
}

/// The example strategies in `plugins/examples/` (one per language) build
/// with their toolchains and pass their own tests against this host.
#[test]
fn the_example_strategies_build_and_decide() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("plugins/examples");
    let path = format!(
        "{}:{}:{}",
        python_toolchain().display(),
        js_toolchain().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let fresh = tempfile::tempdir().unwrap();
    for lang in ["rust", "python", "js"] {
        let name = format!("example-{lang}-strategy");
        // The examples are what `medic plugin new` makes today (the Rust
        // one points at the SDK in this repository by a relative path).
        run(
            "medic plugin new",
            Command::new(env!("CARGO_BIN_EXE_medic"))
                .args([
                    "plugin", "new", &name, "--kind", "strategy", "--lang", lang, "--dir",
                ])
                .arg(fresh.path()),
        );
        for entry in walk(&fresh.path().join(&name)) {
            let rel = entry.strip_prefix(fresh.path().join(&name)).unwrap();
            let generated = std::fs::read_to_string(&entry).unwrap();
            let committed = std::fs::read_to_string(examples.join(&name).join(rel))
                .unwrap_or_else(|e| panic!("plugins/examples/{name}/{}: {e}", rel.display()));
            let generated = generated.replace(medic::authoring::SDK_DIR, "../../sdk");
            assert_eq!(
                committed,
                generated,
                "plugins/examples/{name}/{} is out of date: regenerate it with medic plugin new",
                rel.display()
            );
        }
        let out = run(
            &format!("plugins/examples/{name}/test.sh"),
            Command::new("sh")
                .arg(examples.join(&name).join("test.sh"))
                .env("PATH", &path)
                .env("MEDIC", env!("CARGO_BIN_EXE_medic"))
                .env("CARGO_TARGET_DIR", work_dir().join("rust-plugins"))
                .env_remove("MEDIC_CONFIG_PATH"),
        );
        assert!(out.contains(&format!("{name}: all checks passed")), "{out}");
        let wasm = examples.join(&name).join(format!("{name}.wasm"));
        let _ = std::fs::remove_file(wasm);
    }
}

/// Contract evolution: a plugin built against an older accepted version of
/// the WIT package loads and decides; `plugin check` says which versions
/// this Medic accepts, and points an author at the fix when a plugin is
/// wrong.
#[test]
fn an_older_accepted_contract_loads_and_errors_point_at_the_fix() {
    let config = crate::support::default_config();
    let p = crate::support::load(&config, "contract-0-1-0").expect("0.1.0 is accepted");
    assert_eq!(p.name(), "contract-0-1-0");
    let case = crate::support::case("low-risk");
    let profile = case.profile_or_default();
    let thresholds = crate::support::thresholds(&config);
    let req = crate::support::request(&case, &profile, &thresholds);
    let risk = low_risk();
    let v = p
        .decide(&medic::plugin::DecideRequest::new(req, &risk))
        .unwrap();
    assert!(v.reasoning[0].contains("built against 0.1.0"));
    // A 0.1 plugin still gets every number by name: the thresholds and the
    // module's two verdict counts (the golden profile has no known kills).
    assert_eq!(
        v.reasoning[1],
        format!(
            "named values {}; auto_approve.min_confidence={}",
            thresholds.len() + 2,
            thresholds["auto_approve.min_confidence"]
        )
    );
    assert_eq!(p.contract_line(), "0.1");

    // A generous deadline where the deadline is not what is tested, so a
    // loaded machine cannot turn running out of memory into a timeout.
    let dir = tempfile::tempdir().unwrap();
    let slow_ok = dir.path().join("medic.yaml");
    std::fs::write(
        &slow_ok,
        medic::config::EMBEDDED_MEDIC.replace("timeout_ms: 50 ", "timeout_ms: 5000 "),
    )
    .unwrap();
    let check = |crate_name: &str, kind: &str| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_medic"));
        cmd.args(["plugin", "check"])
            .arg(crate::support::wasm(crate_name))
            .args(["--kind", kind])
            .env_remove("MEDIC_CONFIG_PATH");
        if crate_name != "hostile-spin" {
            cmd.arg("--config").arg(&slow_ok);
        }
        cmd.output().unwrap()
    };
    let out = check("contract-0-1-0", "strategy");
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(
            "medic:plugin/strategy@0.1.0 (this Medic accepts 0.3.0, 0.2.0, or 0.1.0 to 0.1.1)"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("reads:       every named number, by name, in every call (contract 0.1)"),
        "{stdout}"
    );
    for (crate_name, kind, hint) in [
        ("hostile-wrong-world", "strategy", "hint: this file is a"),
        (
            "hostile-spin",
            "strategy",
            "hint: too slow for plugins.timeout_ms",
        ),
        (
            "hostile-memory",
            "strategy",
            "hint: needs more than plugins.memory_limit_mb",
        ),
    ] {
        let out = check(crate_name, kind);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{crate_name}");
        assert!(err.contains(hint), "{crate_name}: {err}");
    }
}

/// Contract 0.2 on: a scorer or strategy names what it reads once, in
/// `describe`, and each call carries those numbers in that order and no
/// names — thresholds, the module's facts, whether anyone will read the
/// reasoning (`call.explain`: 1 for a live decision), and NaN for a name the
/// host has no number for (the plugin's own default then applies). Since
/// 0.3 the call carries the kill's facts, and the `kill` resource hands the
/// plugin the whole report and context when it asks.
#[test]
fn a_03_plugin_gets_the_numbers_it_reads_in_its_order_and_the_kill_it_asks_for() {
    let config = crate::support::default_config();
    let p = crate::support::load(&config, "echo-reads").expect("0.3 loads");
    assert_eq!(p.contract_line(), "0.3");
    let case = crate::support::case("low-risk");
    let mut profile = case.profile_or_default();
    profile.human_denials = 3;
    let mut thresholds = crate::support::thresholds(&config);
    thresholds.insert("auto_approve.min_confidence".into(), 0.91);
    let risk = low_risk();
    let decide = |profile: &medic::model::ModuleProfile| {
        let req = crate::support::request(&case, profile, &thresholds);
        p.decide(&medic::plugin::DecideRequest::new(req, &risk))
            .unwrap()
            .reasoning
    };
    // No kill's truth known yet: the known counts are not given (NaN).
    assert_eq!(
        decide(&profile),
        [
            "auto_approve.min_confidence=0.91",
            "module.human_denials=3",
            "known.threats=NaN",
            "call.explain=1",
            "no.such.value=NaN",
            "values=5",
            "read no.such.value with default 7: 7",
            // The golden `low-risk` kill (host/plugin/golden_kills.json).
            "facts: at 1705314600000 KillReason::AnomalyBehavior Severity::Low confidence 0.5 \
             evidence 1 dependencies 0; siem risk 0.1 on record 4 indicators 0 strongest 0; \
             module report-renderer Criticality::Low",
            "report: golden-low-risk report-renderer report-renderer-7f9c \
             [\"metric-anomaly-002\"] [] smith-01 metadata 1",
            "dependencies: []",
            "context: golden-q-1 indicators 0",
        ]
    );
    // A kill with dependencies and no SIEM context: what the facts count,
    // the resource hands over.
    let mut cascade = crate::support::case("cascade");
    cascade.context = None;
    let cascade_profile = cascade.profile_or_default();
    let req = crate::support::request(&cascade, &cascade_profile, &thresholds);
    let said = p
        .decide(&medic::plugin::DecideRequest::new(req, &risk))
        .unwrap()
        .reasoning;
    assert!(
        said[7].contains("evidence 1 dependencies 2; siem none; module invoice-worker"),
        "{said:?}"
    );
    assert_eq!(said[9], "dependencies: [\"pdf-renderer\", \"mailer\"]");
    assert_eq!(said[10], "context: none");
    profile.known = Some(medic::model::Resembling {
        all: medic::model::Tally {
            threats: 7,
            ..Default::default()
        },
        ..Default::default()
    });
    assert_eq!(decide(&profile)[2], "known.threats=7");
}

/// A caller judging many kills by one set of thresholds (a replay's lane)
/// resolves a plugin's named numbers once: the plugin gets the same
/// numbers as when each is looked up by name, facts and `call.explain`
/// still per call; another plugin's resolution is ignored; and (debug
/// builds) one resolved against other thresholds is caught.
#[test]
fn resolved_reads_give_the_numbers_a_lookup_would() {
    let config = crate::support::default_config();
    let p = crate::support::load(&config, "echo-reads").expect("0.3 loads");
    let other = crate::support::load(&config, "echo-reads").expect("0.3 loads");
    let case = crate::support::case("low-risk");
    let mut profile = case.profile_or_default();
    let mut thresholds = crate::support::thresholds(&config);
    thresholds.insert("auto_approve.min_confidence".into(), 0.91);
    let risk = low_risk();
    let resolved = p.resolve(&thresholds);
    let decide = |profile: &medic::model::ModuleProfile, with: Option<&medic::plugin::Resolved>| {
        let req = crate::support::request(&case, profile, &thresholds);
        let mut kill = medic::plugin::Prepared::new(req);
        p.decide_prepared(&mut kill, &risk, &thresholds, with)
            .unwrap()
            .reasoning
    };
    for denials in [0, 3] {
        profile.human_denials = denials;
        let looked_up = decide(&profile, None);
        assert_eq!(decide(&profile, Some(&resolved)), looked_up);
        assert_eq!(
            decide(&profile, Some(&other.resolve(&thresholds))),
            looked_up
        );
        assert_eq!(looked_up[0], "auto_approve.min_confidence=0.91");
        assert_eq!(looked_up[1], format!("module.human_denials={denials}"));
        assert_eq!(looked_up[4], "no.such.value=NaN");
    }
    #[cfg(debug_assertions)]
    {
        let mut changed = thresholds.clone();
        changed.insert("auto_approve.min_confidence".into(), 0.5);
        let stale = p.resolve(&changed);
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            decide(&profile, Some(&stale))
        }));
        assert!(caught.is_err(), "a stale resolution went unnoticed");
    }
}

/// The registry resolves its plugins' named numbers once per set of
/// thresholds in force, and again when the thresholds change: after new
/// risk bands are set, the next kill is scored with them.
#[test]
fn the_registry_resolves_named_numbers_again_when_the_thresholds_change() {
    let config = crate::support::default_config();
    let registry = medic::plugin::Registry::new(&config).expect("registry");
    let case = crate::support::case("low-risk");
    let profile = case.profile_or_default();
    let judge = || {
        let t = registry.thresholds();
        let req = crate::support::request(&case, &profile, &t);
        let (scored, decided) = registry.judge(&mut medic::plugin::Prepared::new(req));
        assert!(decided.expect("decided").value.is_ok());
        scored.value.expect("scores")
    };
    let before = judge();
    assert_eq!(judge(), before, "the same thresholds, the same score");
    assert!(before.score > 0.01, "{before:?}");
    let mut bands = (*registry.thresholds()).clone();
    for (name, value) in [
        ("risk.minimal", 0.001),
        ("risk.low", 0.002),
        ("risk.medium", 0.003),
        ("risk.high", 0.004),
    ] {
        bands.insert(name.into(), value);
    }
    registry.set_thresholds(bands);
    let after = judge();
    assert_eq!(after.score, before.score);
    assert_eq!(after.level, medic::model::RiskLevel::Critical, "{after:?}");
    assert_ne!(before.level, after.level);
}

/// Contract 0.2: a plugin built against it (its own bindings of
/// `wit/v0.2/`) still loads, and gets the whole kill, context and profile
/// with every call, and its numbers by position.
#[test]
fn a_02_plugin_still_loads_and_gets_the_whole_kill() {
    let config = crate::support::default_config();
    let p = crate::support::load(&config, "contract-0-2-0").expect("0.2 loads");
    assert_eq!(p.contract_line(), "0.2");
    assert_eq!(p.contract_version(), "0.2.0");
    assert_eq!(p.reads(), ["auto_approve.min_confidence"]);
    let case = crate::support::case("cascade");
    let profile = case.profile_or_default();
    let mut thresholds = crate::support::thresholds(&config);
    thresholds.insert("auto_approve.min_confidence".into(), 0.91);
    let risk = low_risk();
    let req = crate::support::request(&case, &profile, &thresholds);
    let v = p
        .decide(&medic::plugin::DecideRequest::new(req, &risk))
        .unwrap();
    assert_eq!(
        v.reasoning,
        [
            "built against 0.2.0; risk 0.30",
            "kill golden-cascade of invoice-worker (invoice-worker-2), evidence \
             [\"upstream-killed:billing-api\"]",
            "context golden-q-4",
            "values [0.91]",
        ]
    );
}

/// The scorer's answer the contract tests' strategies are given: low, 0.3.
fn low_risk() -> medic::model::RiskAssessment {
    medic::model::RiskAssessment {
        level: medic::model::RiskLevel::Low,
        score: 0.3,
        factors: vec![],
    }
}

/// Every file below `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
