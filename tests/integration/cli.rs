//! The `medic` binary's plugin commands, run as a real process.

use crate::support::{medic, wasm};

#[test]
fn plugin_list_shows_every_builtin_with_its_status() {
    let (ok, out, err) = medic(&["plugin", "list"]);
    assert!(ok, "{err}");
    for name in [
        "weighted",
        "conservative",
        "balanced",
        "aggressive",
        "bounded",
    ] {
        assert!(
            out.lines()
                .any(|l| l.starts_with(name) && l.contains("builtin")),
            "{name} missing:\n{out}"
        );
    }
    assert!(
        out.lines()
            .any(|l| l.starts_with("conservative") && l.contains("active")),
        "{out}"
    );
    let (ok, json, _) = medic(&["plugin", "list", "--format", "json"]);
    assert!(ok);
    let rows: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 8);
    assert_eq!(rows[0]["sha256"].as_str().unwrap().len(), 64);
}

#[test]
fn plugin_check_passes_a_good_plugin_and_explains_a_bad_one() {
    let (ok, out, err) = medic(&["plugin", "check", wasm("balanced").to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(
        out.contains(
            "world:       medic:plugin/strategy@0.3.0 (this Medic accepts 0.3.0, 0.2.0, or 0.1.0 to 0.1.1)"
        ),
        "{out}"
    );
    assert!(
        out.contains("reads:       34 by position: risk.minimal, risk.low,"),
        "{out}"
    );
    assert!(out.contains("golden:      5 case(s) passed"), "{out}");
    // The built-ins are made components from core modules: the contract
    // is all they import.
    assert!(
        out.contains("medic:plugin/types@0.3.0") && !out.contains("wasi:"),
        "{out}"
    );
    // A plugin built for wasm32-wasip2 imports what Rust's std there does;
    // each import is shown denied.
    let (ok, out, err) = medic(&["plugin", "check", wasm("approve-all").to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(
        out.contains("wasi:cli/environment") && out.contains("denied"),
        "{out}"
    );

    let (ok, _, err) = medic(&["plugin", "check", wasm("hostile-spin").to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains("timed out after 50 ms"), "{err}");

    let (ok, _, err) = medic(&[
        "plugin",
        "check",
        "--kind",
        "risk-scorer",
        wasm("balanced").to_str().unwrap(),
    ]);
    assert!(!ok);
    assert!(
        err.contains("implements the strategy world, but a risk-scorer was expected"),
        "{err}"
    );

    let (ok, _, err) = medic(&["plugin", "check", "/nonexistent.wasm"]);
    assert!(!ok);
    assert!(err.contains("/nonexistent.wasm"), "{err}");

    // A file that is no WebAssembly is named for what it is, in one line.
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("strategy.wasm");
    std::fs::write(&text, "fn main() {}").unwrap();
    let (ok, _, err) = medic(&["plugin", "check", text.to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains("not a WebAssembly file"), "{err}");
    assert!(
        !err.contains("0x61"),
        "no dump of the bytes expected: {err}"
    );
}

/// `medic plugin check` (like run, bench, list and replay) compiles a plugin
/// once: into the user's cache (`$XDG_CACHE_HOME/medic/plugins`, made
/// private to the user) when the configuration names none; `MEDIC_CACHE_DIR`
/// set empty turns it off, and a directory others can write to is not used
/// (its artifacts run as native code), with a warning saying why.
#[test]
fn plugin_commands_compile_once_into_the_users_private_cache() {
    use std::os::unix::fs::PermissionsExt;
    let home = tempfile::tempdir().unwrap();
    let check = |cache_dir: Option<&str>| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_medic"));
        cmd.args(["plugin", "check", wasm("balanced").to_str().unwrap()])
            .env_remove("MEDIC_CONFIG_PATH")
            .env("XDG_CACHE_HOME", home.path());
        match cache_dir {
            Some(dir) => cmd.env("MEDIC_CACHE_DIR", dir),
            None => cmd.env_remove("MEDIC_CACHE_DIR"),
        };
        let out = cmd.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(out.status.success(), "{stderr}");
        (stdout, stderr)
    };
    let cache = home.path().join("medic/plugins");
    let (out, _) = check(None);
    assert!(out.contains("compiled:    now"), "{out}");
    let mode = std::fs::metadata(&cache).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700, "the cache is the user's alone");
    let artifacts = || {
        std::fs::read_dir(&cache)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "cwasm"))
            })
            .count()
    };
    assert!(artifacts() >= 1, "nothing cached in {}", cache.display());
    let (out, _) = check(None);
    assert!(
        out.contains("compiled:    loaded from the compile cache"),
        "{out}"
    );

    // Turned off: compiled every time.
    let (out, _) = check(Some(""));
    assert!(out.contains("compiled:    now"), "{out}");

    // A directory others can write to is refused, and the warning says so.
    let shared = home.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
    for _ in 0..2 {
        let (out, err) = check(Some(shared.to_str().unwrap()));
        assert!(out.contains("compiled:    now"), "{out}");
        assert!(err.contains("others can write to it"), "{err}");
    }
    assert_eq!(std::fs::read_dir(&shared).unwrap().count(), 0);
}

#[test]
fn config_check_names_the_mode_as_the_configuration_does() {
    let (ok, out, err) = medic(&["config", "check"]);
    assert!(ok, "{err}");
    assert!(out.contains("mode observer,"), "{out}");
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("medic.yaml");
    std::fs::write(&empty, "").unwrap();
    let (ok, _, err) = medic(&["--config", empty.to_str().unwrap(), "config", "check"]);
    assert!(!ok, "an empty file passed");
    assert!(err.contains("the file is empty"), "{err}");
}

#[test]
fn plugin_run_prints_one_decision_per_kill_and_reports_bad_lines() {
    let dir = tempfile::tempdir().unwrap();
    let kills = dir.path().join("kills.jsonl");
    let golden: serde_json::Value =
        serde_json::from_str(include_str!("../../host/plugin/golden_kills.json")).unwrap();
    let mut text = String::new();
    for case in golden.as_array().unwrap() {
        text.push_str(&serde_json::json!({"kill": case["kill"], "context": case["context"], "profile": case["profile"]}).to_string());
        text.push('\n');
    }
    // A bare kill report is accepted too.
    text.push_str(&golden[0]["kill"].to_string());
    text.push('\n');
    std::fs::write(&kills, &text).unwrap();

    let (ok, out, err) = medic(&[
        "plugin",
        "run",
        wasm("balanced").to_str().unwrap(),
        "--kills",
        kills.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 6);
    assert_eq!(lines[0]["kill_id"], "golden-low-risk");
    assert_eq!(lines[0]["verdict"]["outcome"], "approve_auto");
    assert_eq!(lines[1]["verdict"]["outcome"], "deny");
    assert_eq!(lines[0]["scorer"], "weighted");

    text.push_str("{\"kill_id\": \"broken\"}\nnot json\n");
    std::fs::write(&kills, &text).unwrap();
    let (ok, out, err) = medic(&[
        "plugin",
        "run",
        wasm("weighted").to_str().unwrap(),
        "--kills",
        kills.to_str().unwrap(),
    ]);
    assert!(!ok, "bad lines make the run fail");
    assert!(err.contains("2 item(s) failed"), "{err}");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 8, "every line answered: {out}");
    assert!(
        lines[6]["error"]
            .as_str()
            .unwrap()
            .contains("missing field"),
        "{}",
        lines[6]
    );
    assert_eq!(lines[7]["line"], 8);
}

#[test]
fn report_daily_reads_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let store_path = dir.path().join("store");
    {
        // Decide two kills into a store on disk.
        let store = medic::store::Store::open(&store_path).unwrap();
        let d = crate::pipeline_support::decider_on(
            medic::config::Config::embedded().unwrap(),
            store.clone(),
            None,
        );
        tokio::runtime::Runtime::new().unwrap().block_on(async {
            crate::pipeline_support::decide(&d, "cli-1", "svc").await;
            crate::pipeline_support::decide(&d, "cli-2", "other").await;
            store.flush().await.unwrap();
        });
    }
    let config = crate::support::config_file_with_store(dir.path(), &store_path);
    let (ok, out, err) = medic(&["report", "daily", "--config", config.to_str().unwrap()]);
    assert!(ok, "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["decisions"], 2);
    assert_eq!(report["by_module"]["other"], 1);
    let (ok, _, err) = medic(&[
        "report",
        "daily",
        "--date",
        "soon",
        "--config",
        config.to_str().unwrap(),
    ]);
    assert!(!ok);
    assert!(err.contains("--date"), "{err}");
}

#[test]
fn openapi_prints_the_document_the_api_serves() {
    let (ok, out, err) = crate::support::medic(&["openapi"]);
    assert!(ok, "{err}");
    let printed: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(
        printed,
        serde_json::to_value(medic::api::openapi_document()).unwrap()
    );
    assert!(printed["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/api/v1/queue/{item_id}/approve",
        "/api/v1/plugins/bindings/{phase}",
    ] {
        assert!(printed["paths"].get(path).is_some(), "{path} missing");
    }
}

/// `medic loadtest` against a Redis of its own: every kill of both phases
/// decided and acknowledged, its log lines written (it logs as `serve`
/// does), the flush figures of the paced phase reported, and each paced
/// kill's latency written to the `--latencies` file.
#[test]
fn loadtest_decides_every_kill_logs_them_and_reports_its_flushes() {
    let redis = crate::redis_server::RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("latencies.csv");
    let (ok, out, err) = medic(&[
        "loadtest",
        "--redis",
        &redis.url(),
        "--kills",
        "300",
        "--pace",
        "1000",
        "--latencies",
        &csv.display().to_string(),
    ]);
    assert!(ok, "{err}");
    let written = std::fs::read_to_string(&csv).expect("the latencies file");
    let mut lines = written.lines();
    assert_eq!(lines.next(), Some("acked_ms,latency_ms"));
    let rows: Vec<(u64, u64)> = lines
        .map(|l| {
            let (at, latency) = l.split_once(',').expect("two columns");
            (
                at.parse().expect("acked_ms"),
                latency.parse().expect("latency_ms"),
            )
        })
        .collect();
    assert_eq!(rows.len(), 300, "one row per paced kill");
    assert!(
        rows.iter()
            .all(|&(at, latency)| at > 1_700_000_000_000 && latency < 60_000)
    );
    let report: serde_json::Value = serde_json::from_str(&out).expect("a JSON report");
    assert_eq!(report["kills"], 300);
    assert_eq!(report["settle_ms_between_phases"], 1000);
    for field in [
        "redis_only_per_second",
        "saturated_per_second",
        "saturated_cpu_us_per_kill",
        "paced_achieved_per_second",
        "paced_cpu_us_per_kill",
        "paced_sender_cpu_us_per_kill",
        "paced_machine_busy_percent",
    ] {
        assert!(
            report[field].as_f64().unwrap_or(0.0) > 0.0,
            "{field}: {report}"
        );
    }
    for share in ["paced_machine_busy_percent", "paced_machine_steal_percent"] {
        let pct = report[share].as_f64().expect(share);
        assert!((0.0..=100.0).contains(&pct), "{share}: {report}");
    }
    let p50 = report["paced_latency_ms_p50"].as_u64().expect("p50");
    let max = report["paced_latency_ms_max"].as_u64().expect("max");
    assert_eq!(
        rows.iter().map(|r| r.1).max(),
        Some(max),
        "the file holds the report's kills"
    );
    assert!(p50 <= report["paced_latency_ms_p99"].as_u64().expect("p99"));
    let flushes = report["paced_flushes"].as_u64().expect("flushes");
    assert!(flushes >= 1, "{report}");
    assert!(
        report["paced_record_log_syncs_over_10ms"]
            .as_u64()
            .expect("over")
            <= flushes
    );
    assert!(
        report["paced_record_log_sync_ms_mean"]
            .as_f64()
            .expect("mean")
            > 0.0
    );
    // Two INFO lines per kill, each a JSON line with its kill_id.
    let decided = err
        .lines()
        .filter(|l| l.contains("Resurrection decision made"))
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("a JSON line"))
        .inspect(|line| {
            let c = &line["context"];
            assert!(c["kill_id"].is_string(), "{line}");
            // The wire names (`pending_review`, `low`), not Rust's.
            let outcomes = [
                "approve_auto",
                "approve_manual",
                "pending_review",
                "deny",
                "defer",
            ];
            assert!(
                outcomes.contains(&c["outcome"].as_str().unwrap_or("")),
                "{line}"
            );
            let levels = ["minimal", "low", "medium", "high", "critical"];
            assert!(
                levels.contains(&c["risk_level"].as_str().unwrap_or("")),
                "{line}"
            );
        })
        .count();
    assert_eq!(decided, 600, "one decision line per kill of both phases");
    for (flag, value) in [("--pace", "0"), ("--kills", "0")] {
        let (ok, _, err) = medic(&["loadtest", "--redis", &redis.url(), flag, value]);
        assert!(!ok && err.contains(flag), "{flag} {value}: {err}");
    }
    // A latencies file that cannot be written fails the command, naming the
    // flag, after the report is printed.
    let unwritable = dir.path().join("missing").join("latencies.csv");
    let (ok, out, err) = medic(&[
        "loadtest",
        "--redis",
        &redis.url(),
        "--kills",
        "20",
        "--pace",
        "1000",
        "--latencies",
        &unwritable.display().to_string(),
    ]);
    assert!(!ok && err.contains("--latencies: cannot write"), "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).expect("the report, still");
    assert_eq!(report["kills"], 20);
}

/// A reader that goes away early (`medic plugin list | head -c 100`) ends
/// the command quietly, as with any Unix tool: no panic.
#[test]
fn a_closed_pipe_ends_an_output_command_without_a_panic() {
    use std::process::{Command, Stdio};
    for args in [
        &["plugin", "list", "--format", "json"][..],
        &["openapi"][..],
        &["config", "show"][..],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_medic"))
            .args(args)
            .env_remove("MEDIC_CONFIG_PATH")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("medic runs");
        // The reader is gone before the command writes a byte.
        drop(child.stdout.take());
        let out = child.wait_with_output().expect("medic ends");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_ne!(out.status.code(), Some(101), "{args:?}: {err}");
    }
}

/// An error is printed with each cause once.
#[test]
fn an_os_error_is_printed_once() {
    let (ok, _, err) =
        crate::support::medic(&["--config", "/nonexistent/medic.yaml", "config", "check"]);
    assert!(!ok);
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
    assert!(err.contains("/nonexistent/medic.yaml"), "{err}");
}

/// `medic plugin keygen`, `sign` and `verify` with real files: a signed
/// plugin verifies, a changed byte or another key is refused with its own
/// message and a non-zero exit, and `plugin list` with a signature
/// required names the refused file and why.
#[test]
fn plugin_keys_sign_and_verify_and_list_shows_a_refused_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let key = d.join("secops");
    let key_arg = key.display().to_string();
    let (ok, out, err) = medic(&["plugin", "keygen", "--out", &key_arg]);
    assert!(ok, "{err}");
    assert!(out.contains("secops.pub"), "{out}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the private key is its owner's alone");
    }
    let (ok, _, err) = medic(&["plugin", "keygen", "--out", &key_arg]);
    assert!(!ok && err.contains("does not overwrite"), "{err}");

    let plugins = d.join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    let file = plugins.join("swap.wasm");
    std::fs::copy(wasm("swap-v1"), &file).unwrap();
    let file_arg = file.display().to_string();
    let (ok, out, err) = medic(&["plugin", "sign", &file_arg, "--key", &key_arg]);
    assert!(ok, "{err}");
    assert!(out.contains("signature: "), "{out}");
    assert!(plugins.join("swap.wasm.sigstore.json").exists());
    let public = d.join("secops.pub").display().to_string();
    let (ok, out, err) = medic(&["plugin", "verify", &file_arg, "--key", &public]);
    assert!(ok, "{err}");
    assert!(out.contains("signed by --key 1"), "{out}");

    // Another key's public half: refused, saying the key is not trusted.
    let other = d.join("other");
    assert!(medic(&["plugin", "keygen", "--out", &other.display().to_string()]).0);
    let other_pub = d.join("other.pub").display().to_string();
    let (ok, _, err) = medic(&["plugin", "verify", &file_arg, "--key", &other_pub]);
    assert!(!ok && err.contains("not trusted"), "{err}");

    // A byte changed after signing: refused, saying so.
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[10] ^= 1;
    std::fs::write(&file, &bytes).unwrap();
    let (ok, _, err) = medic(&["plugin", "verify", &file_arg, "--key", &public]);
    assert!(!ok && err.contains("altered after it was signed"), "{err}");

    // With a signature required, the list names the refused file and why.
    let config = d.join("medic.yaml");
    let text = medic::config::EMBEDDED_MEDIC
        .replace(
            "directory: \"\"           # extra",
            &format!("directory: \"{}\"  # extra", plugins.display()),
        )
        .replace("require_signature: false", "require_signature: true")
        .replace(
            "\n    keys: []",
            &format!("\n    keys: [{{name: \"secops\", public_key_file: \"{public}\"}}]"),
        );
    assert!(text.contains("require_signature: true"), "{text}");
    std::fs::write(&config, text).unwrap();
    let (ok, out, err) = medic(&["--config", &config.display().to_string(), "plugin", "list"]);
    assert!(ok, "{err}");
    assert!(out.contains("SIGNER"), "{out}");
    assert!(
        err.contains("swap.wasm") && err.contains("altered after it was signed"),
        "{err}"
    );
}

/// A long replay or simulation shows its progress on a terminal (a
/// pseudo-terminal made by `script`, from util-linux) and prints nothing
/// extra when piped.
#[test]
fn replay_shows_progress_on_a_terminal_and_stays_quiet_when_piped() {
    let dir = tempfile::tempdir().unwrap();
    let recording = dir.path().join("r.jsonl");
    let scenario =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/scenarios/baseline.yaml");
    let (ok, _, err) = medic(&[
        "simulate",
        "--scenario",
        &scenario.display().to_string(),
        "--seed",
        "1",
        "--kills",
        "3000",
        "--out",
        &recording.display().to_string(),
    ]);
    assert!(ok, "{err}");
    let args = [
        "replay",
        &recording.display().to_string(),
        "--strategy",
        "conservative",
        "--format",
        "json",
    ];
    let (ok, out, err) = medic(&args);
    assert!(ok, "{err}");
    assert!(err.is_empty(), "piped: nothing but the report: {err}");
    serde_json::from_str::<serde_json::Value>(&out).expect("the report alone on stdout");

    let on_terminal = |command: String| on_terminal(dir.path(), &command);
    let shown = on_terminal(format!(
        "{} {} > {}",
        env!("CARGO_BIN_EXE_medic"),
        args.join(" "),
        dir.path().join("report.json").display()
    ));
    assert!(shown.contains("kills replayed"), "{shown:?}");
    // simulate, the same way: a bar of lines written.
    let shown = on_terminal(format!(
        "{} simulate --scenario {} --seed 2 --kills 3000 --out {}",
        env!("CARGO_BIN_EXE_medic"),
        scenario.display(),
        dir.path().join("again.jsonl").display()
    ));
    assert!(shown.contains("lines written"), "{shown:?}");
}

/// What `command` (a shell line) shows on a terminal: run on a
/// pseudo-terminal made by `script` (util-linux), its log kept in `dir`.
fn on_terminal(dir: &std::path::Path, command: &str) -> String {
    let log = dir.join("terminal.log");
    let status = std::process::Command::new("script")
        .args(["-qfec", command])
        .arg(&log)
        .env_remove("MEDIC_CONFIG_PATH")
        .env("MEDIC_CACHE_DIR", crate::support::test_cache_dir())
        .stdout(std::process::Stdio::null())
        .status()
        .expect("script (util-linux) must be installed: apt-get install bsdutils");
    assert!(status.success(), "{command}");
    std::fs::read_to_string(&log).unwrap()
}

/// `medic record` and `medic loadtest` show how far they got on a terminal
/// (and, like replay, nothing extra when piped: the loadtest's report is
/// checked alone on stdout by the test above).
#[test]
fn record_and_loadtest_show_progress_on_a_terminal() {
    let redis = crate::redis_server::RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let medic = env!("CARGO_BIN_EXE_medic");
    let shown = on_terminal(
        dir.path(),
        &format!(
            "{medic} record --redis {} --out {}",
            redis.url(),
            dir.path().join("r.jsonl").display()
        ),
    );
    assert!(shown.contains("lines written"), "{shown:?}");
    let shown = on_terminal(
        dir.path(),
        &format!(
            "{medic} loadtest --redis {} --kills 300 --pace 1000 > {}",
            redis.url(),
            dir.path().join("report.json").display()
        ),
    );
    assert!(shown.contains("kills decided (saturated)"), "{shown:?}");
    assert!(
        shown.contains("kills decided (paced at 1000/s)"),
        "{shown:?}"
    );
}

/// `medic plugin list` shows what serves, bindings made at run time (kept
/// in the store) included, not only what the constitution binds.
#[test]
fn plugin_list_shows_the_plugin_bound_at_run_time() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("medic.db");
    {
        let store = medic::store::Store::open(&db).unwrap();
        store
            .put_plugin_binding(
                "default",
                medic::model::PluginKind::Strategy,
                &medic::config::raw::PluginBinding {
                    name: "balanced".into(),
                    sha256: None,
                },
            )
            .unwrap();
        tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(store.flush_all())
            .unwrap();
    }
    let config = crate::support::config_file_with_store(dir.path(), &db);
    let (ok, out, err) = medic(&["--config", &config.display().to_string(), "plugin", "list"]);
    assert!(ok, "{err}");
    let row = |name: &str| {
        out.lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_default()
            .to_string()
    };
    assert!(row("balanced").contains("active"), "{out}\n{err}");
    assert!(!row("conservative").contains("active"), "{out}");
}

/// `medic queue` and `medic mode` need only the running Medic's address:
/// a medic file in `manual` mode works without `--constitution` (the
/// embedded constitution does not enable that phase, which is the running
/// Medic's concern, not the client's).
#[test]
fn queue_and_mode_need_no_constitution_to_reach_the_running_medic() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("medic.yaml");
    let port = crate::acting_support::free_port();
    let text = medic::config::EMBEDDED_MEDIC
        .replace("current: \"observer\"", "current: \"manual\"")
        .replace("port: 8000", &format!("port: {port}"));
    assert!(text.contains("current: \"manual\""), "the mode is set");
    std::fs::write(&config, text).unwrap();
    for args in [&["queue", "list"][..], &["mode", "show"][..]] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_medic"))
            .arg("--config")
            .arg(&config)
            .args(args)
            .env("MEDIC_API_KEY", "some-key-0123456789")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "nothing is running");
        assert!(
            err.contains("cannot reach the running Medic") && err.contains(&port.to_string()),
            "{args:?}: {err}"
        );
    }
}
