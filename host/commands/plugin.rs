//! `medic plugin list|check|run|bench|new|keygen|sign|verify`.

use std::io::{BufRead, Write};
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use serde_json::json;

use crate::cli::{ConfigFiles, Format, Isolating, KindArg, PluginCommand};
use crate::config::Config;
use crate::model::{KillCase, KillReport, OutcomeSample, PluginKind};
use crate::plugin::sandbox::{Sandbox, accepts_contract_import};
use crate::plugin::signature::{self, Signer, Trust};
use crate::plugin::{
    DecideRequest, LearnRequest, Plugin, PluginSource, Registry, RuntimeSettings, ScoreRequest,
    golden, learner_settings_from_config,
};

pub fn run(files: &ConfigFiles, command: &PluginCommand) -> anyhow::Result<()> {
    let config = super::load_config_caching(files)?;
    match command {
        PluginCommand::List { format } => list(&config, *format),
        PluginCommand::Check { file, kind } => check(&config, file, kind.map(kind_of)),
        PluginCommand::Run {
            file,
            kills,
            outcomes,
        } => run_file(&config, file, kills.as_deref(), outcomes.as_deref()),
        PluginCommand::Bench {
            file,
            kills,
            calls,
            isolation,
        } => bench(&config, file, kills.as_deref(), *calls, *isolation),
        PluginCommand::Keygen { out } => keygen(out),
        PluginCommand::Sign { file, key } => sign(file, key),
        PluginCommand::Verify { file, key } => verify(&config, file, key),
        PluginCommand::New {
            name,
            kind,
            lang,
            dir,
        } => {
            let written = crate::authoring::create(name, kind_of(*kind), *lang, dir)?;
            let root = dir.join(name);
            println!("created {} ({} files):", root.display(), written.len());
            for f in &written {
                println!("  {}", f.strip_prefix(&root).unwrap_or(f).display());
            }
            println!(
                "next: cd {} && sh test.sh   (see README.md)",
                root.display()
            );
            Ok(())
        }
    }
}

fn kind_of(k: KindArg) -> PluginKind {
    match k {
        KindArg::RiskScorer => PluginKind::RiskScorer,
        KindArg::Strategy => PluginKind::Strategy,
        KindArg::ThresholdLearner => PluginKind::ThresholdLearner,
    }
}

fn list(config: &Config, format: Format) -> anyhow::Result<()> {
    let registry = Registry::inspect(config)?;
    // What serves includes the bindings made at run time, kept in the store.
    let unbound = run_time_bindings(config, &registry)?;
    let rows = registry.list();
    let rejected: Vec<_> = registry
        .events()
        .into_iter()
        .filter(|e| e.outcome == "rejected")
        .collect();
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&rows)?),
        Format::Table => {
            println!(
                "{:<16} {:<18} {:<8} {:<14} {:<12} {:<24} SOURCE",
                "NAME", "KIND", "VERSION", "SHA256", "STATUS", "SIGNER"
            );
            for r in rows {
                let signer = match &r.signer {
                    Signer::Key { name, .. } => format!("key {name}"),
                    other => other.to_string(),
                };
                println!(
                    "{:<16} {:<18} {:<8} {:<14} {:<12} {:<24} {}",
                    r.name,
                    r.kind.to_string(),
                    r.version,
                    &r.sha256[..12],
                    r.status,
                    signer,
                    r.source
                );
            }
        }
    }
    // On stderr, so the listing stays what scripts parse.
    if let Some(note) = unbound {
        eprintln!("{note}");
    }
    if !rejected.is_empty() {
        eprintln!("refused (medic serve would not start with these files):");
        for e in &rejected {
            eprintln!("  {}: {}", e.path.display(), e.message);
        }
    }
    Ok(())
}

/// Applies the run-time bindings the store keeps (as `medic serve` does at
/// start); says why not when the store is held by a running Medic. A store
/// that does not exist yet is not created.
fn run_time_bindings(config: &Config, registry: &Registry) -> anyhow::Result<Option<String>> {
    let db = &config.medic.learning.database;
    let path = Path::new(&db.path);
    if db.kind == crate::config::raw::DatabaseType::Sled && !path.exists() {
        return Ok(None);
    }
    // The store may still be closing after a command that just ran.
    let mut tries = 0;
    let store = loop {
        match crate::store::Store::open_configured(db) {
            Ok(s) => break s,
            // Only a held sled store is worth waiting for.
            Err(e) if tries == 20 || !matches!(e, crate::store::StoreError::Locked { .. }) => {
                return Ok(Some(format!(
                    "bindings made at run time are not shown: the store at {} is in use ({e}); a running medic lists them at GET /api/v1/plugins",
                    crate::store::Store::describe(db)
                )));
            }
            Err(_) => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        }
    };
    crate::changes::restore_bindings(registry, &store)?;
    Ok(None)
}

fn keygen(out: &Path) -> anyhow::Result<()> {
    let public_path = signature::with_pub_suffix(out);
    for p in [out, public_path.as_path()] {
        if p.exists() {
            bail!("{} exists: Medic does not overwrite a key", p.display());
        }
    }
    let (private, public) = signature::generate()?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(out)
        .and_then(|mut f| f.write_all(private.as_bytes()))
        .with_context(|| format!("cannot write {}", out.display()))?;
    std::fs::write(&public_path, public)
        .with_context(|| format!("cannot write {}", public_path.display()))?;
    println!("private key: {} (keep it secret)", out.display());
    println!(
        "public key:  {} (list it in plugins.trust.keys)",
        public_path.display()
    );
    Ok(())
}

fn sign(file: &Path, key: &Path) -> anyhow::Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let key = signature::read_signing_key(key)?;
    let (bundle, bare) = signature::sign(&key, &bytes)?;
    let path = signature::bundle_path(file);
    std::fs::write(&path, bundle).with_context(|| format!("cannot write {}", path.display()))?;
    println!("bundle:    {}", path.display());
    println!(
        "key:       {}",
        crate::config::trust::fingerprint(key.verifying_key())
    );
    println!("signature: {bare}");
    Ok(())
}

fn verify(config: &Config, file: &Path, extra: &[std::path::PathBuf]) -> anyhow::Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let mut section = config.medic.plugins.trust.clone();
    for (i, k) in extra.iter().enumerate() {
        section.keys.push(crate::config::raw::TrustedKey {
            name: format!("--key {}", i + 1),
            public_key_file: k.clone(),
        });
    }
    if section.keys.is_empty() {
        bail!(
            "no key to verify with: list keys in plugins.trust.keys (--config) or pass --key KEY.pub"
        );
    }
    // Asked to verify: a missing signature is a failure whatever the config says.
    section.require_signature = true;
    let trust = Trust::from_config(&section)?;
    let signer = trust.check_file(file, &bytes)?;
    println!("{}: {signer}", file.display());
    Ok(())
}

fn load_one(config: &Config, file: &Path, kind: Option<PluginKind>) -> anyhow::Result<Plugin> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let sandbox = Arc::new(Sandbox::new(&config.medic.plugins)?);
    let settings = RuntimeSettings::from_config(config);
    // An interpreter-based component takes seconds to compile.
    let progress = crate::progress::Progress::working(&format!("compiling {}", file.display()));
    let loaded = Plugin::load(
        &sandbox,
        &settings,
        &bytes,
        PluginSource::File(file.to_path_buf()),
        kind,
    );
    progress.finish();
    loaded.map_err(with_hint)
}

/// A load error with what the author can do about it.
fn with_hint(e: crate::plugin::LoadError) -> anyhow::Error {
    match e.hint() {
        Some(hint) => anyhow::anyhow!("{e}\nhint: {hint}"),
        None => anyhow::Error::new(e),
    }
}

fn check(config: &Config, file: &Path, kind: Option<PluginKind>) -> anyhow::Result<()> {
    let plugin = load_one(config, file, kind)?;
    let info = plugin.info();
    println!("file:        {}", file.display());
    println!("sha256:      {}", plugin.sha256());
    println!(
        "compiled:    {}",
        if plugin.from_cache() {
            "loaded from the compile cache"
        } else {
            "now"
        }
    );
    println!(
        "world:       medic:plugin/{}@{} (this Medic accepts {})",
        plugin.kind(),
        plugin.contract_version(),
        crate::plugin::sandbox::ACCEPTED_CONTRACT
    );
    println!("name:        {} {}", info.name, info.version);
    println!("description: {}", info.description);
    println!("uses:        {}", info.uses.join(", "));
    match (plugin.contract_line(), plugin.kind()) {
        ("0.1", PluginKind::RiskScorer | PluginKind::Strategy) => {
            println!("reads:       every named number, by name, in every call (contract 0.1)")
        }
        (_, PluginKind::RiskScorer | PluginKind::Strategy) => {
            let reads = plugin.reads();
            println!(
                "reads:       {} by position: {}",
                reads.len(),
                reads.join(", ")
            )
        }
        (_, PluginKind::ThresholdLearner) => {
            println!("reads:       its thresholds and settings, by name")
        }
    }
    println!("exports:     {}", plugin.exports().join(", "));
    println!("imports:");
    for import in plugin.imports() {
        let note = if accepts_contract_import(import) {
            "granted"
        } else {
            "denied (calls stop the plugin)"
        };
        println!("  {import:<40} {note}");
    }
    let thresholds = crate::plugin::thresholds_from_config(config);
    golden::check(&plugin, &thresholds, &learner_settings_from_config(config))
        .map_err(|e| with_hint(e).context("golden kills"))?;
    let n = if plugin.kind() == PluginKind::ThresholdLearner {
        1
    } else {
        golden::cases().len()
    };
    println!("golden:      {n} case(s) passed");
    println!("OK");
    Ok(())
}

fn run_file(
    config: &Config,
    file: &Path,
    kills: Option<&Path>,
    outcomes: Option<&Path>,
) -> anyhow::Result<()> {
    let plugin = load_one(config, file, None)?;
    let thresholds = crate::plugin::thresholds_from_config(config);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut failed = 0usize;

    if plugin.kind() == PluginKind::ThresholdLearner {
        let Some(path) = outcomes else {
            bail!(
                "{} is a threshold learner: give --outcomes FILE.jsonl",
                file.display()
            )
        };
        let mut samples = Vec::new();
        for (n, line) in lines(path)? {
            match serde_json::from_str::<OutcomeSample>(&line) {
                Ok(s) => samples.push(s),
                Err(e) => {
                    failed += 1;
                    writeln!(
                        out,
                        "{}",
                        json!({"line": n, "error": format!("not an outcome sample: {e}")})
                    )?;
                }
            }
        }
        let settings = learner_settings_from_config(config);
        let req = LearnRequest {
            thresholds: &thresholds,
            samples: &samples,
            settings: &settings,
            now: chrono::Utc::now(),
        };
        match plugin.learn(&req) {
            Ok(adjustments) => {
                for a in adjustments {
                    writeln!(out, "{}", serde_json::to_string(&a)?)?;
                }
            }
            Err(e) => {
                failed += 1;
                writeln!(
                    out,
                    "{}",
                    json!({"error": e.to_string(), "cause": e.cause()})
                )?;
            }
        }
    } else {
        let Some(path) = kills else {
            bail!(
                "{} is a {}: give --kills FILE.jsonl",
                file.display(),
                plugin.kind()
            )
        };
        // Strategies need a risk: the configured scorer gives it.
        let registry = if plugin.kind() == PluginKind::Strategy {
            Some(Registry::new(config)?)
        } else {
            None
        };
        for (n, line) in lines(path)? {
            let case = match parse_case(&line).and_then(|c| Ok((c, parse_expect(&line)?))) {
                Ok(c) => c,
                Err(e) => {
                    failed += 1;
                    writeln!(out, "{}", json!({"line": n, "error": e}))?;
                    continue;
                }
            };
            let (case, expect) = case;
            let profile = case.profile_or_default();
            let req = ScoreRequest {
                kill: &case.kill,
                context: case.context.as_ref(),
                profile: &profile,
                thresholds: &thresholds,
            };
            let kill_id = &case.kill.kill_id;
            let mut got = (None, None);
            let mut line = match &registry {
                None => match plugin.score(&req) {
                    Ok(risk) => {
                        got.1 = Some(risk.level);
                        json!({"kill_id": kill_id, "plugin": plugin.name(), "risk": risk})
                    }
                    Err(e) => {
                        failed += 1;
                        json!({"kill_id": kill_id, "plugin": plugin.name(), "error": e.to_string(), "cause": e.cause()})
                    }
                },
                Some(registry) => {
                    let risk = registry.score(&req);
                    match risk.value {
                        Err(e) => {
                            failed += 1;
                            json!({"kill_id": kill_id, "scorer": risk.plugin, "error": e.to_string(), "cause": e.cause()})
                        }
                        Ok(r) => match plugin.decide(&DecideRequest::new(req, &r)) {
                            Ok(v) => {
                                got.0 = Some(v.outcome);
                                json!({"kill_id": kill_id, "plugin": plugin.name(), "scorer": risk.plugin, "risk": r, "verdict": v})
                            }
                            Err(e) => {
                                failed += 1;
                                json!({"kill_id": kill_id, "plugin": plugin.name(), "risk": r, "error": e.to_string(), "cause": e.cause()})
                            }
                        },
                    }
                }
            };
            if let Some(miss) = expect.and_then(|e| e.check(got.0, got.1))
                && line.get("error").is_none()
            {
                failed += 1;
                line["error"] = json!(format!("line {n}: {miss}"));
            }
            writeln!(out, "{line}")?;
        }
    }
    out.flush()?;
    if failed > 0 {
        bail!("{failed} item(s) failed or missed their expectation (see the lines with \"error\")");
    }
    Ok(())
}

/// Non-empty lines with their 1-based numbers.
fn lines(path: &Path) -> anyhow::Result<Vec<(usize, String)>> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("{}: line {}", path.display(), i + 1))?;
        if !line.trim().is_empty() {
            out.push((i + 1, line));
        }
    }
    Ok(out)
}

/// What a fixture line expects of the plugin: `{"outcome": "deny"}` of a
/// strategy, `{"risk_level": "low"}` of a risk scorer.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    outcome: Option<crate::model::DecisionOutcome>,
    risk_level: Option<crate::model::RiskLevel>,
}

impl Expect {
    /// Why `got` misses the expectation, if it does.
    fn check(
        &self,
        outcome: Option<crate::model::DecisionOutcome>,
        risk: Option<crate::model::RiskLevel>,
    ) -> Option<String> {
        use crate::model::wire_name;
        if let Some(want) = self.outcome
            && Some(want) != outcome
        {
            return Some(format!(
                "expected outcome {}, got {}",
                wire_name(&want),
                outcome.map_or("none".into(), |o| wire_name(&o))
            ));
        }
        if let Some(want) = self.risk_level
            && Some(want) != risk
        {
            return Some(format!(
                "expected risk level {}, got {}",
                wire_name(&want),
                risk.map_or("none".into(), |r| wire_name(&r))
            ));
        }
        None
    }
}

/// A line's expectation, if it has one.
fn parse_expect(line: &str) -> Result<Option<Expect>, String> {
    let value: serde_json::Value =
        serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    value
        .get("expect")
        .map(|e| serde_json::from_value(e.clone()).map_err(|e| format!("expect: {e}")))
        .transpose()
}

/// A line is a kill report, or a case with a kill and optional context
/// (and optionally what the plugin should answer, under `expect`).
fn parse_case(line: &str) -> Result<KillCase, String> {
    let mut value: serde_json::Value =
        serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    if let Some(obj) = value.as_object_mut() {
        obj.remove("expect");
    }
    if value.get("kill").is_some() {
        serde_json::from_value(value).map_err(|e| format!("not a kill case: {e}"))
    } else {
        let kill: KillReport =
            serde_json::from_value(value).map_err(|e| format!("not a kill report: {e}"))?;
        Ok(KillCase {
            kill,
            context: None,
            profile: None,
        })
    }
}

/// Kills to bench on: a recording, JSON lines of kills or cases, or the golden kills.
fn bench_cases(path: Option<&Path>) -> anyhow::Result<Vec<KillCase>> {
    let Some(path) = path else {
        return Ok(golden::cases().iter().map(|g| g.case.clone()).collect());
    };
    let mut out = Vec::new();
    for (n, line) in lines(path)? {
        let value: serde_json::Value = serde_json::from_str(&line)
            .with_context(|| format!("{}:{n}: not JSON", path.display()))?;
        if value.get("medic_recording").is_some() {
            continue;
        }
        let case = if value.get("kill").is_some() {
            let rec: crate::replay::recording::Recorded =
                serde_json::from_value(value).with_context(|| format!("{}:{n}", path.display()))?;
            KillCase {
                kill: rec.kill,
                context: rec.context,
                profile: None,
            }
        } else {
            parse_case(&line).map_err(|e| anyhow::anyhow!("{}:{n}: {e}", path.display()))?
        };
        out.push(case);
        if out.len() >= 100_000 {
            break;
        }
    }
    if out.is_empty() {
        bail!("{} has no kills", path.display());
    }
    Ok(out)
}

fn bench(
    config: &Config,
    file: &Path,
    kills: Option<&Path>,
    calls: usize,
    isolation: Isolating,
) -> anyhow::Result<()> {
    let mut config = config.clone();
    config.medic.plugins.isolation = match isolation {
        Isolating::Strict => crate::config::Isolation::Strict,
        Isolating::Reuse => crate::config::Isolation::Reuse,
    };
    let bytes = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
    let loading = std::time::Instant::now();
    let plugin = load_one(&config, file, None)?;
    let load_ms = loading.elapsed().as_secs_f64() * 1000.0;
    let thresholds = crate::plugin::thresholds_from_config(&config);
    let cases = bench_cases(kills)?;
    let prepared: Vec<_> = cases
        .iter()
        .map(|c| {
            let profile = c.profile_or_default();
            let req = ScoreRequest {
                kill: &c.kill,
                context: c.context.as_ref(),
                profile: &profile,
                thresholds: &thresholds,
            };
            let risk = crate::plugin::native::score(&req).ok();
            (profile, risk)
        })
        .collect();
    let samples = golden::learner_samples();
    let settings = learner_settings_from_config(&config);
    let mut times = Vec::with_capacity(calls);
    let mut failures = 0usize;
    let started = std::time::Instant::now();
    for i in 0..calls {
        let k = i % cases.len();
        let (case, (profile, risk)) = (&cases[k], &prepared[k]);
        let req = ScoreRequest {
            kill: &case.kill,
            context: case.context.as_ref(),
            profile,
            thresholds: &thresholds,
        };
        let t = std::time::Instant::now();
        let ok = match plugin.kind() {
            PluginKind::RiskScorer => plugin.score(&req).is_ok(),
            PluginKind::Strategy => risk
                .as_ref()
                .is_some_and(|r| plugin.decide(&DecideRequest::new(req, r)).is_ok()),
            PluginKind::ThresholdLearner => plugin
                .learn(&LearnRequest {
                    thresholds: &thresholds,
                    samples: &samples,
                    settings: &settings,
                    now: chrono::Utc::now(),
                })
                .is_ok(),
        };
        times.push(t.elapsed().as_nanos() as u64);
        failures += usize::from(!ok);
    }
    let elapsed = started.elapsed().as_secs_f64();
    times.sort_unstable();
    let pct =
        |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)] as f64 / 1000.0;
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({
            "plugin": plugin.name(), "kind": plugin.kind(), "version": plugin.info().version, "sha256": plugin.sha256(),
            "bytes": bytes, "load_ms": load_ms,
            "isolation": format!("{:?}", config.medic.plugins.isolation).to_lowercase(),
            "calls": calls, "failures": failures, "distinct_kills": cases.len(),
            "p50_us": pct(0.5), "p99_us": pct(0.99), "max_us": pct(1.0),
            "calls_per_second": (calls as f64 / elapsed).round(),
        }))?
    );
    if failures > 0 {
        bail!("{failures} of {calls} calls failed");
    }
    Ok(())
}
