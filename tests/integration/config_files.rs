//! Every file under `config/` parses and validates; bad files are rejected
//! with every problem listed; environment overrides apply.

use std::path::{Path, PathBuf};

use medic::config::{Config, ConfigError, Mode, Phase};

fn config_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config")
}

fn problems(medic: &str, constitution: &str) -> Vec<String> {
    match Config::from_texts(("m.yaml", medic), ("c.yaml", constitution), &|_| None) {
        Ok(_) => Vec::new(),
        Err(ConfigError::Invalid(p)) => p.iter().map(|p| p.to_string()).collect(),
        Err(e) => panic!("{e}"),
    }
}

/// Where `config/examples/production.yaml` expects its signing key.
const PRODUCTION_KEY: &str = "/etc/medic/keys/plugin-signing.pub";

/// `production.yaml` as an operator would have it: its trusted key file
/// present (a copy of the file naming a key made here).
fn production_with_key(dir: &Path, scratch: &Path) -> PathBuf {
    let (_, public) = medic::plugin::signature::generate().unwrap();
    let key = scratch.join("plugin-signing.pub");
    std::fs::write(&key, public).unwrap();
    let text = std::fs::read_to_string(dir.join("examples/production.yaml")).unwrap();
    assert!(
        text.contains(PRODUCTION_KEY),
        "production.yaml names its key"
    );
    let copy = scratch.join("production.yaml");
    std::fs::write(
        &copy,
        text.replace(PRODUCTION_KEY, &key.display().to_string()),
    )
    .unwrap();
    copy
}

/// Without its key file, `production.yaml` is refused, and the problem
/// names the key's setting and the file.
#[test]
fn production_requires_its_signing_key_file() {
    let dir = config_dir();
    let e = Config::load(
        Some(&dir.join("examples/production.yaml")),
        Some(&dir.join("examples/constitution-manual.yaml")),
        &|_| None,
    )
    .expect_err("refused without the key file");
    let text = e.to_string();
    assert!(
        text.contains("plugins.trust.keys[0].public_key_file"),
        "{text}"
    );
    assert!(text.contains(PRODUCTION_KEY), "{text}");
}

#[test]
fn every_file_under_config_is_valid() {
    let dir = config_dir();
    let scratch = tempfile::tempdir().unwrap();
    let production = production_with_key(&dir, scratch.path());
    let constitution = dir.join("constitution.yaml");
    let mut checked = 0;
    let mut scenarios = Vec::new();
    for entry in walk(&dir) {
        let name = entry.file_name().unwrap().to_string_lossy().to_string();
        if entry.extension().is_none_or(|x| x != "yaml") {
            continue;
        }
        if entry.parent().is_some_and(|p| p.ends_with("scenarios")) {
            let s =
                medic::replay::simulate::Scenario::load(&entry).unwrap_or_else(|e| panic!("{e}"));
            // `load` has checked it; its name is the file's, as replays report it.
            assert_eq!(
                Some(s.name.as_str()),
                entry.file_stem().and_then(|n| n.to_str())
            );
            scenarios.push(s.name);
            checked += 1;
            continue;
        }
        // Pair each medic file with a constitution, and the reverse.
        let result = if name.starts_with("constitution") {
            let medic = if name.contains("manual") {
                production.clone()
            } else if name.contains("semi-auto") {
                dir.join("examples/semi-auto.yaml")
            } else {
                dir.join("medic.yaml")
            };
            Config::load(Some(&medic), Some(&entry), &|_| None)
        } else {
            let c = if name == "production.yaml" {
                dir.join("examples/constitution-manual.yaml")
            } else if name == "semi-auto.yaml" {
                dir.join("examples/constitution-semi-auto.yaml")
            } else {
                constitution.clone()
            };
            let file = if name == "production.yaml" {
                production.clone()
            } else {
                entry.clone()
            };
            Config::load(Some(&file), Some(&c), &|_| None)
        };
        result.unwrap_or_else(|e| panic!("{}: {e}", entry.display()));
        checked += 1;
    }
    assert!(checked >= 4, "checked {checked} files");
    scenarios.sort();
    assert_eq!(scenarios, ["baseline", "campaign", "drift", "flapping"]);
}

/// The shipped scenarios look like a real fleet: each module is killed a few
/// times a day at most and hardly ever often enough in an hour to trip the
/// flapping guardrail — except the modules a scenario makes flap or puts
/// under attack (and what an attacked module's failure cascades to); a
/// fifth to a third of kills are real threats; most have SIEM context.
#[test]
fn shipped_scenarios_kill_each_module_a_few_times_a_day() {
    use std::collections::{BTreeSet, HashMap};

    use medic::replay::recording::{Recorded, Truth};

    let flapping_limit = Config::load(Some(&config_dir().join("medic.yaml")), None, &|_| None)
        .unwrap()
        .medic
        .resurrection
        .flapping
        .max_kills_per_hour as usize;
    for name in ["baseline", "campaign", "drift", "flapping"] {
        let s = medic::replay::simulate::Scenario::load(
            &config_dir().join(format!("scenarios/{name}.yaml")),
        )
        .unwrap();
        let mut out = Vec::new();
        medic::replay::simulate::simulate(&s, 1, 8000, &mut out).unwrap();
        let kills: Vec<Recorded> = String::from_utf8(out)
            .unwrap()
            .lines()
            .skip(1)
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let mut exempt: BTreeSet<&str> = s.flapping.iter().map(|f| f.module.as_str()).collect();
        for c in &s.campaigns {
            exempt.extend(c.modules.iter().map(|m| m.as_str()));
        }
        let attacked: Vec<&str> = s
            .campaigns
            .iter()
            .flat_map(|c| c.modules.iter().map(|m| m.as_str()))
            .collect();
        for c in s
            .cascades
            .iter()
            .filter(|c| attacked.contains(&c.upstream.as_str()))
        {
            exempt.extend(c.downstream.iter().map(|m| m.as_str()));
        }
        let days = (kills[kills.len() - 1].kill.timestamp - kills[0].kill.timestamp).num_seconds()
            as f64
            / 86_400.0;
        let mut per_module: HashMap<&str, Vec<chrono::DateTime<chrono::Utc>>> = HashMap::new();
        for r in &kills {
            per_module
                .entry(r.kill.target_module.as_str())
                .or_default()
                .push(r.kill.timestamp);
        }
        assert!(
            per_module.len() >= 200,
            "{name}: {} modules",
            per_module.len()
        );
        // The guardrail trips on a kill with `flapping_limit` others in the
        // hour before it.
        let flaps = |times: &mut Vec<chrono::DateTime<chrono::Utc>>| {
            times.sort();
            times
                .windows(flapping_limit + 1)
                .any(|w| w[flapping_limit] - w[0] <= chrono::Duration::hours(1))
        };
        let mut flapped_by_chance = Vec::new();
        for (m, times) in &mut per_module {
            let a_day = times.len() as f64 / days;
            assert!(
                exempt.contains(m) || a_day <= 4.0,
                "{name}: {m} killed {a_day:.1} times a day"
            );
            if !exempt.contains(m) && flaps(times) {
                flapped_by_chance.push(m.to_string());
            }
        }
        // Kills come at random times, so now and then a module is killed
        // four times within an hour by chance, as in a real fleet; it must
        // stay rare.
        assert!(
            flapped_by_chance.len() * 100 <= per_module.len(),
            "{name}: {flapped_by_chance:?} killed more than {flapping_limit} times in an hour"
        );
        if let Some(f) = s.flapping.first() {
            let times = per_module.get_mut(f.module.as_str()).unwrap();
            assert!(flaps(times), "{name}: {} flaps", f.module);
        }
        let threats = kills
            .iter()
            .filter(|r| r.label.as_ref().and_then(|l| l.truth) == Some(Truth::TrueThreat))
            .count() as f64
            / kills.len() as f64;
        assert!(
            (0.2..=0.35).contains(&threats),
            "{name}: {threats:.3} real threats"
        );
        let with_context =
            kills.iter().filter(|r| r.context.is_some()).count() as f64 / kills.len() as f64;
        assert!(
            (0.75..0.95).contains(&with_context),
            "{name}: {with_context:.3} with SIEM context"
        );
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p))
        } else {
            out.push(p)
        }
    }
    out
}

#[test]
fn embedded_defaults_are_secure() {
    let c = Config::embedded().unwrap();
    assert_eq!(c.medic.mode.current, Mode::Observer);
    assert!(!c.medic.decision.auto_approve.enabled);
    assert!(c.constitution.constraints.require_human_review_for_critical);
    assert_eq!(c.active_phase(), Phase::Observer);
}

#[test]
fn every_problem_is_listed_at_once() {
    let medic = r#"
version: "1.0"
mode: { current: observer, fallback: observer }
risk:
  thresholds: { minimal: 0.5, low: 0.4, medium: 0.6, high: 0.8 }
  weights: { smith_confidence: 0.3, siem_risk_score: 0.25, false_positive_history: 0.2, module_criticality: 0.15, time_of_day: 0.1, colour: 1 }
decision:
  confidence_threshold: 1.5
  auto_approve: { max_risk_level: critical }
siem: { timeout_seconds: 90, retyr: {} }
plugins: { timeout_ms: 0, isolation: sometimes }
interfaces: { web: { request_timeout_seconds: 0, rate_limit_burst: 0 } }
nonsense: true
"#;
    let p = problems(medic, medic::config::EMBEDDED_CONSTITUTION);
    let all = p.join("\n");
    for expected in [
        "risk.weights.colour: unknown key",
        "risk.thresholds: must increase",
        "decision.confidence_threshold: 1.5 must be between 0 and 1",
        "decision.auto_approve.max_risk_level",
        "siem.timeout_seconds",
        "siem.retyr: unknown key",
        "plugins.isolation",
        "nonsense: unknown section",
        "interfaces.web.request_timeout_seconds: 0 must be more than 0",
        "interfaces.web.rate_limit_burst: 0 must be at least 1",
    ] {
        assert!(all.contains(expected), "missing {expected:?} in:\n{all}");
    }
    assert!(p.len() >= 8, "{all}");
}

#[test]
fn constitution_problems_are_reported_with_their_paths() {
    let constitution = r#"
version: "1.0"
phases:
  phase_0_foundation: { enabled: true }
  phase_1_observer: { enabled: true, features: { telepathy: true } }
  phase_3_semi_auto: { enabled: true }
  phase_9_singularity: { enabled: false }
constraints:
  blacklisted_modules: ["rm -rf /"]
plugins:
  default:
    risk_scorer: { name: weighted }
    strategy: { name: "bad name!", sha256: "XYZ" }
    threshold_learner: { name: bounded }
"#;
    let all = problems(medic::config::EMBEDDED_MEDIC, constitution).join("\n");
    for expected in [
        "phases.phase_1_observer.features.telepathy: unknown feature",
        "phases.phase_3_semi_auto.enabled: needs phase_2_manual enabled first",
        "phases.phase_9_singularity: unknown phase",
        "constraints.blacklisted_modules[0]",
        "plugins.default.strategy.name",
        "plugins.default.strategy.sha256",
    ] {
        assert!(all.contains(expected), "missing {expected:?} in:\n{all}");
    }
}

#[test]
fn a_mode_needs_its_phase() {
    let medic =
        medic::config::EMBEDDED_MEDIC.replace("current: \"observer\"", "current: \"semi_auto\"");
    let all = problems(&medic, medic::config::EMBEDDED_CONSTITUTION).join("\n");
    assert!(
        all.contains(
            "mode.current: SemiAuto mode needs the constitution's phase_3_semi_auto enabled"
        ),
        "{all}"
    );
}

#[test]
fn environment_overrides_apply_and_bad_ones_are_reported() {
    let env = |k: &str| match k {
        "MEDIC_LOG_LEVEL" => Some("DEBUG".to_string()),
        "MEDIC_METRICS_PORT" => Some("9191".to_string()),
        "SMITH_EVENT_BUS_URL" => Some("redis://10.0.0.5:6380".to_string()),
        _ => None,
    };
    let c = Config::from_texts(
        ("m", medic::config::EMBEDDED_MEDIC),
        ("c", medic::config::EMBEDDED_CONSTITUTION),
        &env,
    )
    .unwrap();
    assert_eq!(c.medic.logging.level, medic::config::raw::LogLevel::Debug);
    assert_eq!(c.medic.metrics.port, 9191);
    assert_eq!(
        c.medic.smith.event_bus.url.as_ref().map(|u| u.as_str()),
        Some("redis://10.0.0.5:6380")
    );

    let bad = |k: &str| match k {
        "MEDIC_DATABASE_URL" => Some("postgres://medic:s3cret@[::1".to_string()),
        "MEDIC_MODE" => Some("yolo".to_string()),
        "MEDIC_METRICS_PORT" => Some("ninety".to_string()),
        "SMITH_EVENT_BUS_URL" => Some("redis://[::1".to_string()),
        _ => None,
    };
    let err = Config::from_texts(
        ("m", medic::config::EMBEDDED_MEDIC),
        ("c", medic::config::EMBEDDED_CONSTITUTION),
        &bad,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("MEDIC_MODE") && err.contains("MEDIC_METRICS_PORT"),
        "{err}"
    );
    assert!(
        err.contains("SMITH_EVENT_BUS_URL: \"redis://[::1\" is not a URL"),
        "{err}"
    );
    assert!(err.contains("MEDIC_DATABASE_URL: is not a URL"), "{err}");
    assert!(!err.contains("s3cret"), "a password is never echoed: {err}");
}

#[test]
fn a_missing_file_names_the_path() {
    let err =
        Config::load(Some(Path::new("/nonexistent/medic.yaml")), None, &|_| None).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/medic.yaml"));
}

fn with_web_tls(cert_file: &str, key_file: &str) -> String {
    format!(
        "interfaces:\n  web:\n    tls: {{ enabled: true, cert_file: {cert_file:?}, key_file: {key_file:?} }}\n"
    )
}

#[test]
fn web_tls_with_a_missing_cert_file_is_refused_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let pki = crate::test_pki::make();
    let key = dir.path().join("key.pem");
    std::fs::write(&key, &pki.key_pem).unwrap();
    let missing = dir.path().join("missing-cert.pem");
    let medic = with_web_tls(&missing.display().to_string(), &key.display().to_string());
    let all = problems(&medic, medic::config::EMBEDDED_CONSTITUTION).join("\n");
    assert!(
        all.contains("interfaces.web.tls.cert_file: cannot read")
            && all.contains("missing-cert.pem"),
        "{all}"
    );
    assert!(!all.contains("key_file"), "the key is fine: {all}");
}

#[test]
fn web_tls_files_must_be_named_parse_and_fit_together() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let pki = crate::test_pki::make();
    let other = crate::test_pki::make();
    let cert = write("cert.pem", &pki.cert_pem);
    let key = write("key.pem", &pki.key_pem);
    let other_key = write("other-key.pem", &other.key_pem);
    let junk = write("junk.pem", "not PEM at all\n");
    let c = medic::config::EMBEDDED_CONSTITUTION;

    let all = problems(&with_web_tls("", ""), c).join("\n");
    for field in ["cert_file", "key_file"] {
        assert!(
            all.contains(&format!("interfaces.web.tls.{field}: must name a PEM file")),
            "{all}"
        );
    }
    let all = problems(&with_web_tls(&junk, &junk), c).join("\n");
    assert!(
        all.contains("interfaces.web.tls.cert_file:") && all.contains("no PEM certificate"),
        "{all}"
    );
    assert!(
        all.contains("interfaces.web.tls.key_file:") && all.contains("no PEM private key"),
        "{all}"
    );
    let all = problems(&with_web_tls(&cert, &other_key), c).join("\n");
    assert!(
        all.contains("interfaces.web.tls.key_file:") && all.contains("cannot be used together"),
        "{all}"
    );
    assert!(problems(&with_web_tls(&cert, &key), c).is_empty());
    // Off (the default), the files are not looked at.
    let off = "interfaces:\n  web:\n    tls: { enabled: false, cert_file: \"/nonexistent\" }\n";
    assert!(problems(off, c).is_empty());
}

#[test]
fn the_shipped_learning_bounds_parse_and_bad_ones_are_reported_with_their_paths() {
    let c = Config::embedded().unwrap();
    let b = &c.constitution.learning_bounds["auto_approve.min_confidence"];
    assert_eq!(
        (b.floor, b.ceiling, b.max_step, b.min_samples),
        (0.7, 0.99, 0.1, 50)
    );
    assert!(
        c.constitution
            .learning_bounds
            .contains_key("auto_approve.max_risk_score")
    );

    let constitution = format!(
        "{}{}",
        medic::config::EMBEDDED_CONSTITUTION
            .split("\nlearning_bounds:")
            .next()
            .unwrap(),
        r#"
learning_bounds:
  auto_approve.min_confidence: { floor: 0.9, ceiling: 0.8, max_step: 0, min_samples: 0 }
  risk.low: { floor: -1, ceiling: 1.5, max_step: 0.1, min_samples: 10, step: 2 }
  risk.lowish: { floor: 0.1, ceiling: 0.5, max_step: 0.1, min_samples: 10 }
"#
    );
    let all = problems(medic::config::EMBEDDED_MEDIC, &constitution).join("\n");
    for expected in [
        "learning_bounds.auto_approve.min_confidence.ceiling: 0.8 is below the floor 0.9",
        "learning_bounds.auto_approve.min_confidence.max_step: 0 must be greater than 0",
        "learning_bounds.auto_approve.min_confidence.min_samples: must be at least 1",
        "learning_bounds.risk.low.floor: -1 must be between 0 and 1",
        "learning_bounds.risk.low.ceiling: 1.5 must be between 0 and 1",
        "learning_bounds.risk.low.step: unknown key",
        "learning_bounds.risk.lowish: unknown tunable (known: risk.minimal, risk.low,",
    ] {
        assert!(all.contains(expected), "missing {expected:?} in:\n{all}");
    }
    // A bound is written out in full.
    let partial = format!(
        "{}\nlearning_bounds:\n  risk.medium: {{ floor: 0.3, ceiling: 0.8, max_step: 0.1 }}\n",
        medic::config::EMBEDDED_CONSTITUTION
            .split("\nlearning_bounds:")
            .next()
            .unwrap()
    );
    let all = problems(medic::config::EMBEDDED_MEDIC, &partial).join("\n");
    assert!(
        all.contains("learning_bounds.risk.medium: missing field `min_samples`"),
        "{all}"
    );
}

#[test]
fn a_reply_stream_that_could_reach_another_stream_is_refused() {
    let p = problems(
        "smith:\n  event_bus:\n    reply_streams: [\"medic.*\", \"smith.events.*\", \"medic responses\"]\n",
        "",
    );
    let has = |key: &str, text: &str| p.iter().any(|l| l.contains(key) && l.contains(text));
    assert!(
        has(
            "smith.event_bus.reply_streams[0]",
            "smith.event_bus.events_topic"
        ),
        "{p:?}"
    );
    assert!(
        has(
            "smith.event_bus.reply_streams[0]",
            "smith.veto_protocol.notice_topic"
        ),
        "{p:?}"
    );
    assert!(
        has("smith.event_bus.reply_streams[1]", "smith.event_bus.topic"),
        "{p:?}"
    );
    assert!(
        has(
            "smith.event_bus.reply_streams[1]",
            "smith.event_bus.dead_letter_topic"
        ),
        "{p:?}"
    );
    assert!(
        has("smith.event_bus.reply_streams[2]", "must be a stream name"),
        "{p:?}"
    );
    // The shipped defaults (Medic's response streams only) pass.
    let shipped = Config::embedded().unwrap();
    assert_eq!(
        shipped.medic.smith.event_bus.reply_streams,
        ["medic.responses", "medic.responses.*"]
    );
}

#[test]
fn an_empty_file_is_refused_not_read_as_the_defaults() {
    for (medic, constitution) in [
        ("", medic::config::EMBEDDED_CONSTITUTION),
        ("# only a comment\n", medic::config::EMBEDDED_CONSTITUTION),
        (medic::config::EMBEDDED_MEDIC, "\n"),
    ] {
        let p = problems(medic, constitution).join("\n");
        assert!(p.contains("the file is empty"), "{p}");
    }
}

#[test]
fn retention_keys_are_checked_with_their_paths() {
    // The problems of a medic.yaml that is `body` after its version.
    let checked = |body: String| {
        problems(
            &format!("version: \"1.0\"\n{body}"),
            medic::config::EMBEDDED_CONSTITUTION,
        )
        .join("\n")
    };
    let with = |database: &str| {
        checked(format!(
            "learning:\n  database: {{ type: sled, path: data/m.db, {database} }}\n"
        ))
    };
    // The shipped values and "keep everything" pass.
    assert_eq!(with("retention_days: 90"), "");
    assert_eq!(with("retention_days: 0"), "");
    assert_eq!(with("retention_days: 90, audit_retention_days: 365"), "");
    let short = with("retention_days: 7");
    assert!(
        short.contains("learning.database.retention_days: 7 must be 0 (keep everything) or between 31 and 36500"),
        "{short}"
    );
    let audit = with("retention_days: 90, audit_retention_days: 60");
    assert!(
        audit.contains("learning.database.audit_retention_days: 60 must be between learning.database.retention_days (90) and 36500"),
        "{audit}"
    );
    let off = with("retention_days: 0, audit_retention_days: 400");
    assert!(
        off.contains("learning.database.audit_retention_days: has no effect while learning.database.retention_days is 0"),
        "{off}"
    );
    let typo = with("retention: 30");
    assert!(
        typo.contains("learning.database.retention: unknown key"),
        "{typo}"
    );
    // A log file is kept a day: its retention is a whole number of days.
    let logs = |retention: &str| {
        checked(format!(
            "logging:\n  outputs: [{{ type: file, path: /tmp/m.log, retention_days: {retention} }}]\n"
        ))
    };
    assert_eq!(logs("14"), "");
    let half = logs("1.5");
    assert!(
        half.contains("logging.outputs[0].retention_days: 1.5 must be a whole number of days"),
        "{half}"
    );
    let none = logs("0");
    assert!(
        none.contains("logging.outputs[0].retention_days: 0 must be between 1 and 3650"),
        "{none}"
    );
}

#[test]
fn values_are_read_into_their_types_and_written_back_as_the_files_write_them() {
    use std::time::Duration;
    let medic = r#"
version: "1.0"
smith: { event_bus: { url: "", tls_ca_file: "", block_ms: 250 } }
resurrection:
  cooldown_seconds: 90
  monitoring_duration_minutes: 0.5
  health_check_interval_seconds: 2.5
  flapping: { cooldown_minutes: 1.5 }
  backends:
    - { modules: ["*"], type: webhook, url: "http://127.0.0.1:1/x", auth: { type: "" } }
interfaces: { approval_queue: { timeout_hours: 2 } }
plugins: { timeout_ms: 75, directory: "", cache_dir: /var/cache/medic, gate: { window_days: 7 } }
learning: { database: { retention_days: 45, audit_retention_days: 400.5 } }
logging: { level: warn }
"#;
    let c = Config::from_texts(
        ("m", medic),
        ("c", medic::config::EMBEDDED_CONSTITUTION),
        &|_| None,
    )
    .expect("valid");
    let m = &c.medic;
    assert_eq!(m.smith.event_bus.url, None, "\"\" is none");
    assert_eq!(m.smith.event_bus.tls_ca_file, None);
    assert_eq!(m.smith.event_bus.block, Duration::from_millis(250));
    assert_eq!(m.resurrection.cooldown, Duration::from_secs(90));
    assert_eq!(m.resurrection.monitoring_duration, Duration::from_secs(30));
    assert_eq!(
        m.resurrection.health_check_interval,
        Duration::from_millis(2_500)
    );
    assert_eq!(m.resurrection.flapping.cooldown, Duration::from_secs(90));
    assert_eq!(
        m.resurrection.backends[0].auth.kind,
        medic::config::raw::WebhookAuthType::None
    );
    assert_eq!(
        m.interfaces.approval_queue.timeout,
        Duration::from_secs(7_200)
    );
    assert_eq!(m.plugins.timeout, Duration::from_millis(75));
    assert_eq!(m.plugins.gate.window, Duration::from_secs(7 * 86_400));
    assert_eq!(
        m.learning.database.retention,
        Duration::from_secs(45 * 86_400)
    );
    assert_eq!(
        m.learning.database.audit_retention,
        Some(Duration::from_secs(400 * 86_400 + 43_200))
    );
    assert_eq!(m.plugins.directory, None);
    assert_eq!(m.logging.level, medic::config::raw::LogLevel::Warning);
    assert_eq!(
        m.plugins.cache_dir.as_deref(),
        Some(Path::new("/var/cache/medic"))
    );

    // `medic config show` and the API write them back in the files' units.
    let shown = serde_json::to_value(m).expect("serialises");
    assert_eq!(shown["resurrection"]["cooldown_seconds"], 90);
    assert_eq!(shown["resurrection"]["monitoring_duration_minutes"], 0.5);
    assert_eq!(shown["resurrection"]["flapping"]["cooldown_minutes"], 1.5);
    assert_eq!(shown["plugins"]["timeout_ms"], 75);
    assert_eq!(shown["plugins"]["gate"]["window_days"], 7);
    assert_eq!(shown["learning"]["database"]["retention_days"], 45);
    assert_eq!(shown["learning"]["database"]["audit_retention_days"], 400.5);
    assert_eq!(shown["plugins"]["directory"], "");
    assert_eq!(shown["logging"]["level"], "WARNING");
    let again: medic::config::MedicFile =
        serde_json::from_value(shown).expect("what is shown reads back");
    assert_eq!(&again, m);
}

#[test]
fn a_value_its_type_cannot_hold_is_refused_naming_the_key_and_other_sections_still_report() {
    let medic = r#"
version: "1.0"
siem: { timeout_seconds: -1 }
smith: { event_bus: { url: "no scheme here" } }
resurrection: { flapping: { cooldown_minutes: .nan } }
plugins: { timeout_ms: soon }
metrics: { exporter: statsd }
learning: { database: { type: mysql } }
interfaces: { web: { rate_limit_burst: 0 } }
logging: { level: loud }
"#;
    let p = problems(medic, medic::config::EMBEDDED_CONSTITUTION);
    let all = p.join("\n");
    for expected in [
        "logging.level: \"loud\" is not a level (TRACE, DEBUG, INFO, WARNING, ERROR, CRITICAL)",
        "siem.timeout_seconds: -1 is not a duration: write a number of seconds, 0 or more",
        "smith.event_bus.url: \"no scheme here\": relative URL without a base",
        "resurrection.flapping.cooldown_minutes: NaN is not a duration: write a number of minutes, 0 or more",
        "plugins.timeout_ms: invalid type: string \"soon\", expected a number",
        "metrics.exporter: unknown variant `statsd`, expected `prometheus`",
        "learning.database.type: unknown variant `mysql`, expected `sled` or `postgres`",
        "interfaces.web.rate_limit_burst: 0 must be at least 1",
    ] {
        assert!(all.contains(expected), "missing {expected:?} in:\n{all}");
    }
}

#[test]
fn the_store_is_sled_by_default_or_postgres_at_a_url_and_every_problem_is_named() {
    let with = |database: &str| {
        let medic = format!("version: \"1.0\"\nlearning: {{ database: {database} }}\n");
        problems(&medic, medic::config::EMBEDDED_CONSTITUTION).join("\n")
    };
    assert_eq!(with("{ type: sled, path: data/x.db }"), "");
    assert_eq!(
        with("{ type: postgres, url: \"postgres://medic@db.example:5432/medic\" }"),
        ""
    );
    let all = with("{ type: postgres }");
    assert!(
        all.contains("learning.database.url: is required with type: postgres"),
        "{all}"
    );
    let all = with("{ type: postgres, url: \"mysql://db.example/medic\" }");
    assert!(
        all.contains("learning.database.url: scheme \"mysql\" is not postgres:// or postgresql://"),
        "{all}"
    );
    let all = with("{ type: sled, url: \"postgres://db.example/medic\" }");
    assert!(
        all.contains("learning.database.url: is only read with type: postgres"),
        "{all}"
    );
    // The environment's URL chooses PostgreSQL (the password stays out of
    // the file).
    let env = |k: &str| {
        (k == "MEDIC_DATABASE_URL").then(|| "postgres://medic:pw@db.example:5432/medic".to_string())
    };
    let c = Config::from_texts(
        ("m", medic::config::EMBEDDED_MEDIC),
        ("c", medic::config::EMBEDDED_CONSTITUTION),
        &env,
    )
    .unwrap();
    let db = &c.medic.learning.database;
    assert_eq!(db.kind, medic::config::raw::DatabaseType::Postgres);
    assert_eq!(
        medic::store::Store::describe(db),
        "postgres://medic:<redacted>@db.example:5432/medic"
    );
}
