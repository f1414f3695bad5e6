//! The replay engine: streams a recording in batches; per batch, module
//! profiles are rebuilt in order, the plugins run in parallel across cores
//! (a kill's risk is scored once and shared by the candidates), and the
//! guardrails then run in recording order through the very function
//! production uses ([`crate::decide::conclude`]), with each candidate's own
//! hourly window. The report depends only on the inputs, never on threads.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use medic_plugin_logic::values::names::MIN_SAMPLES;

use chrono::Utc;

use super::recording::{Label, Reader, Recorded, RecordingError, parse_line};
use super::summary::{
    CandidateReport, Disagreement, Disagreements, PluginTiming, ReplayReport, Timing,
};
use crate::config::{Config, Isolation, Mode};
use crate::decide::{Rule, rule};
use crate::guardrails::HourlyWindow;
use crate::model::{
    DecisionOutcome, ModuleProfile, NamedValues, OutcomeSample, PluginKind, RiskAssessment,
    Verdict, wire_name,
};
use crate::plugin::registry::RegistryError;
use crate::plugin::validate::level_for;
use crate::plugin::{
    LearnRequest, Plugin, PluginError, PluginSource, Registry, ScoreRequest, convert, golden,
    learner_settings_from_config,
};
use crate::store::KillTimes;

/// The per-call deadline during replay (see `run`).
const REPLAY_TIMEOUT_MS: u64 = 10_000;

/// Kills read, profiled, judged and concluded together.
const BATCH: usize = 4096;
/// Disagreements listed in the report (all are counted).
const EXAMPLES: usize = 20;

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Recording(#[from] RecordingError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Load(#[from] crate::plugin::LoadError),
    #[error("{0}")]
    Candidate(String),
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

#[derive(Clone, Debug)]
pub struct Options {
    pub recording: PathBuf,
    /// Strategy names (built in or in the plugin directory) or `.wasm` paths.
    pub strategies: Vec<String>,
    /// The scorer: a name or a `.wasm` path; default, the phase's.
    pub scorer: Option<String>,
    pub threads: usize,
    pub isolation: Isolation,
    /// Judge as if in this mode (default: the configured one).
    pub mode: Option<Mode>,
    /// Where to write every decision as a JSON line, if anywhere.
    pub decisions: Option<PathBuf>,
    /// Also replay each strategy with the threshold learner in the loop.
    pub learn: bool,
}

struct Candidate {
    label: String,
    plugin: Arc<Plugin>,
    /// A learning candidate's thresholds, as adjusted so far.
    learned: Option<NamedValues>,
}

fn resolve(registry: &Registry, spec: &str, kind: PluginKind) -> Result<Arc<Plugin>, ReplayError> {
    if spec.ends_with(".wasm") {
        let path = Path::new(spec);
        let bytes = std::fs::read(path).map_err(|source| crate::plugin::LoadError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let plugin = Plugin::load(
            registry.sandbox(),
            registry.settings(),
            &bytes,
            PluginSource::File(path.to_path_buf()),
            Some(kind),
        )?;
        golden::check(&plugin, &registry.thresholds(), &BTreeMap::new())?;
        return Ok(Arc::new(plugin));
    }
    let plugin = registry
        .get(spec)
        .ok_or_else(|| ReplayError::Candidate(format!("no plugin named {spec:?} (built in or in plugins.directory); give a name or a .wasm path")))?;
    if plugin.kind() != kind {
        return Err(ReplayError::Candidate(format!(
            "{spec} is a {}, not a {kind}",
            plugin.kind()
        )));
    }
    Ok(plugin)
}

/// One kill after the plugins: its risk and each candidate's verdict.
struct Judgement {
    risk: Result<RiskAssessment, PluginError>,
    verdicts: Vec<Result<Verdict, PluginError>>,
    /// A learning candidate's risk, banded by its own thresholds.
    learned_risks: Vec<Option<RiskAssessment>>,
}

/// One candidate's ruling on one kill, as the replay keeps it.
struct Ruled {
    outcome: DecisionOutcome,
    /// The decision as a JSON line, when decisions are written out.
    line: Option<String>,
    /// What a learning candidate's learner hears about this kill.
    sample: Option<OutcomeSample>,
}

/// Maps `f` over `items` on up to `threads` threads, in contiguous chunks;
/// results come back in input order.
fn par_map<T: Sync, R: Send>(items: &[T], threads: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let chunk = items.len().div_ceil(threads.max(1)).max(1);
    std::thread::scope(|scope| {
        let f = &f;
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(f).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}

/// Runs the plugins on a batch, split across `threads` in contiguous
/// chunks; results come back in input order.
fn judge(
    batch: &[(Recorded, ModuleProfile)],
    scorer: &Plugin,
    candidates: &[Candidate],
    thresholds: &crate::model::NamedValues,
    threads: usize,
    timings: &mut [Vec<u32>],
) -> Vec<Judgement> {
    let chunk = batch.len().div_ceil(threads.max(1)).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = batch
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    let mut times: Vec<Vec<u32>> = vec![Vec::new(); candidates.len() + 1];
                    let out: Vec<Judgement> = part
                        .iter()
                        .map(|(rec, profile)| {
                            let req = ScoreRequest {
                                kill: &rec.kill,
                                context: rec.context.as_ref(),
                                profile,
                                thresholds,
                            };
                            let input = convert::score_input(&req);
                            let t = Instant::now();
                            let risk = scorer.score_wit(&input, thresholds);
                            times[0].push(t.elapsed().as_nanos().min(u32::MAX as u128) as u32);
                            let verdicts = match &risk {
                                Ok(r) => {
                                    // One input for every candidate: they see
                                    // the same kill and the same risk.
                                    let input = convert::decide_input(input, r);
                                    candidates
                                        .iter()
                                        .enumerate()
                                        .map(|(i, c)| {
                                            // A learning candidate sees its own thresholds.
                                            let own = c.learned.as_ref().map(|t| {
                                                let mut own = input.clone();
                                                own.thresholds = convert::named(t);
                                                own.risk.level = convert::risk_level_to_wit(
                                                    level_for(r.score, t),
                                                );
                                                own
                                            });
                                            let t = Instant::now();
                                            let v =
                                                c.plugin.decide_wit(own.as_ref().unwrap_or(&input));
                                            times[i + 1]
                                                .push(t.elapsed().as_nanos().min(u32::MAX as u128)
                                                    as u32);
                                            v
                                        })
                                        .collect()
                                }
                                Err(_) => Vec::new(),
                            };
                            let learned_risks = candidates
                                .iter()
                                .map(|c| {
                                    let (t, r) = (c.learned.as_ref()?, risk.as_ref().ok()?);
                                    Some(RiskAssessment {
                                        level: level_for(r.score, t),
                                        ..r.clone()
                                    })
                                })
                                .collect();
                            Judgement {
                                risk,
                                verdicts,
                                learned_risks,
                            }
                        })
                        .collect();
                    (out, times)
                })
            })
            .collect();
        let mut all = Vec::with_capacity(batch.len());
        for h in handles {
            // A panic in a plugin call is a bug in the host: surface it.
            let (out, times) = h.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
            all.extend(out);
            for (into, from) in timings.iter_mut().zip(times) {
                into.extend(from);
            }
        }
        all
    })
}

/// Replays a recording and reports what each candidate would have done.
pub fn run(config: &Config, opts: &Options) -> Result<(ReplayReport, Timing), ReplayError> {
    let started = Instant::now();
    let mut config = config.clone();
    config.medic.plugins.isolation = opts.isolation;
    config.medic.plugins.watch = false;
    // A wall-clock deadline tight enough for live traffic could fire on a
    // loaded machine and change a replay's result; replays stay
    // deterministic with a deadline only a hung plugin reaches.
    config.medic.plugins.timeout_ms = config.medic.plugins.timeout_ms.max(REPLAY_TIMEOUT_MS);
    if let Some(mode) = opts.mode {
        config.medic.mode.current = mode;
    }
    let registry = Registry::new(&config)?;
    let phase = config.active_phase();
    let scorer = match &opts.scorer {
        Some(spec) => resolve(&registry, spec, PluginKind::RiskScorer)?,
        None => registry.active().scorer.clone(),
    };
    if opts.strategies.is_empty() {
        return Err(ReplayError::Candidate(
            "give at least one --strategy".into(),
        ));
    }
    let thresholds = (*registry.thresholds()).clone();
    let mut candidates: Vec<Candidate> = Vec::new();
    for spec in &opts.strategies {
        let plugin = resolve(&registry, spec, PluginKind::Strategy)?;
        if opts.learn {
            // The same strategy with the learner in the loop, beside it.
            candidates.push(Candidate {
                label: format!("{spec}+learn"),
                plugin: plugin.clone(),
                learned: Some(thresholds.clone()),
            });
        }
        candidates.push(Candidate {
            label: spec.clone(),
            plugin,
            learned: None,
        });
    }
    // Static first, then its learning twin.
    if opts.learn {
        for pair in candidates.chunks_mut(2) {
            pair.swap(0, 1);
        }
    }
    let learner = registry.active().learner.clone();
    let learner_settings = learner_settings_from_config(&config);
    let min_samples = learner_settings
        .get(MIN_SAMPLES)
        .copied()
        .unwrap_or(50.0)
        .max(1.0) as usize;
    let mut pending: Vec<Vec<OutcomeSample>> = candidates.iter().map(|_| Vec::new()).collect();
    let mode = config.medic.mode.current;
    let mut reader = Reader::open(&opts.recording)?;
    let mut decisions_out = match &opts.decisions {
        Some(p) => Some(std::io::BufWriter::new(std::fs::File::create(p).map_err(
            |source| ReplayError::Write {
                path: p.display().to_string(),
                source,
            },
        )?)),
        None => None,
    };
    let write_err = |source| ReplayError::Write {
        path: opts
            .decisions
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        source,
    };

    let mut reports: Vec<CandidateReport> = candidates
        .iter()
        .map(|c| CandidateReport {
            strategy: c.label.clone(),
            version: c.plugin.info().version.clone(),
            sha256: c.plugin.sha256().to_string(),
            ..CandidateReport::default()
        })
        .collect();
    let mut windows: Vec<HourlyWindow> =
        candidates.iter().map(|_| HourlyWindow::default()).collect();
    let mut history: HashMap<String, KillTimes> = HashMap::new();
    let mut disagreements = Disagreements::default();
    let mut timings: Vec<Vec<u32>> = vec![Vec::new(); candidates.len() + 1];
    let mut kills = 0u64;
    let modules = &config.medic.modules;
    let always = &config.constitution.constraints.always_require_approval;

    // Lines are read on their own thread, a batch ahead of the work.
    let path = reader.path().to_string();
    let scenario = reader.header.scenario.clone();
    let (batches, incoming) =
        std::sync::mpsc::sync_channel::<Result<Vec<(usize, String)>, RecordingError>>(2);
    let reading = std::thread::spawn(move || {
        loop {
            let next = reader.next_lines(BATCH);
            let done = next.as_ref().map_or(true, |l| l.is_empty());
            if batches.send(next).is_err() || done {
                return;
            }
        }
    });
    for lines in incoming.iter() {
        let lines = lines?;
        if lines.is_empty() {
            break;
        }
        let batch = par_map(&lines, opts.threads, |(line, text)| {
            parse_line(&path, *line, text)
        })
        .into_iter()
        .collect::<Result<Vec<Recorded>, _>>()?;
        // Profiles from the recording's own history, in order.
        let batch: Vec<(Recorded, ModuleProfile)> = batch
            .into_iter()
            .map(|rec| {
                let k = &rec.kill;
                let h = history
                    .entry(k.target_module.clone())
                    .or_default()
                    .add(k.timestamp, usize::MAX);
                let criticality = rec
                    .profile
                    .as_ref()
                    .and_then(|p| p.criticality)
                    .or_else(|| modules.criticality.get(&k.target_module).copied())
                    .unwrap_or(modules.default_criticality);
                let profile = ModuleProfile {
                    kills_last_hour: h.kills_last_hour,
                    kills_last_day: h.kills_last_day,
                    kills_last_week: h.kills_last_week,
                    last_kill: h.last_kill,
                    ..ModuleProfile::new(
                        &k.target_module,
                        criticality,
                        always.contains(&k.target_module),
                    )
                };
                (rec, profile)
            })
            .collect();
        let judged = judge(
            &batch,
            &scorer,
            &candidates,
            &thresholds,
            opts.threads,
            &mut timings,
        );

        // The guardrails in recording order, each candidate on its own
        // thread (its hourly window is its own state).
        let want_lines = decisions_out.is_some();
        let per_candidate: Vec<Vec<Ruled>> = std::thread::scope(|scope| {
            let handles: Vec<_> = candidates
                .iter()
                .zip(windows.iter_mut())
                .zip(reports.iter_mut())
                .enumerate()
                .map(|(i, ((c, window), report))| {
                    let (batch, judged, config, thresholds) =
                        (&batch, &judged, &config, &thresholds);
                    scope.spawn(move || {
                        batch
                            .iter()
                            .zip(judged)
                            .map(|((rec, profile), j)| {
                                let verdict = j.verdicts.get(i).map(|v| v.as_ref());
                                let risk = match j.learned_risks.get(i) {
                                    Some(Some(own)) => Ok(own),
                                    _ => j.risk.as_ref(),
                                };
                                let ruling = rule(
                                    &Rule {
                                        config,
                                        mode,
                                        kill: &rec.kill,
                                        profile,
                                        has_context: rec.context.is_some(),
                                        risk,
                                        verdict,
                                        thresholds: c.learned.as_ref().unwrap_or(thresholds),
                                        now: rec.kill.timestamp,
                                    },
                                    window,
                                );
                                report.add(ruling.outcome, &ruling.applied, rec.label.as_ref());
                                // What a learner hears about: resurrections whose outcome is known.
                                let sample = match (&c.learned, &rec.label, risk) {
                                    (Some(_), Some(Label { outcome: Some(result), .. }), Ok(r))
                                        if ruling.outcome == DecisionOutcome::ApproveAuto =>
                                    {
                                        Some(OutcomeSample {
                                            kill_id: rec.kill.kill_id.clone(),
                                            module: rec.kill.target_module.clone(),
                                            risk_level: r.level,
                                            risk_score: r.score,
                                            decision: ruling.outcome,
                                            result: *result,
                                            time_to_stable_seconds: None,
                                            recorded_at: rec.kill.timestamp,
                                        })
                                    }
                                    _ => None,
                                };
                                let line = want_lines.then(|| {
                                    let (level, score) = j.risk.as_ref().map_or(("critical".into(), 1.0), |r| (wire_name(&r.level), r.score));
                                    serde_json::json!({"kill_id": rec.kill.kill_id, "strategy": c.label, "outcome": ruling.outcome,
                                        "risk_level": level, "risk_score": score,
                                        "confidence": verdict.and_then(|v| v.ok()).map_or(0.0, |v| v.confidence),
                                        "guardrails": ruling.applied, "label": rec.label})
                                    .to_string()
                                });
                                Ruled { outcome: ruling.outcome, line, sample }
                            })
                            .collect()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        });
        // Learning candidates learn at batch boundaries, in recording order,
        // so the result does not depend on the number of threads.
        for (i, ds) in per_candidate.iter().enumerate() {
            pending[i].extend(ds.iter().filter_map(|d| d.sample.clone()));
            let Some(current) = candidates[i].learned.clone() else {
                continue;
            };
            if pending[i].len() < min_samples {
                continue;
            }
            let now = batch
                .last()
                .map_or_else(Utc::now, |(r, _)| r.kill.timestamp);
            let samples = std::mem::take(&mut pending[i]);
            let req = LearnRequest {
                thresholds: &current,
                samples: &samples,
                settings: &learner_settings,
                now,
            };
            match learner.learn(&req) {
                Ok(adjustments) => {
                    let mut next = current;
                    for a in &adjustments {
                        next.insert(a.name.clone(), a.new_value);
                    }
                    let summary = reports[i].learning.get_or_insert_with(Default::default);
                    summary.adjustments += adjustments.len() as u64;
                    summary.learner_runs += 1;
                    summary.thresholds = next.clone();
                    candidates[i].learned = Some(next);
                }
                Err(e) => reports[i]
                    .learning
                    .get_or_insert_with(Default::default)
                    .refused
                    .push(e.to_string()),
            }
        }
        for (k, (rec, _)) in batch.iter().enumerate() {
            kills += 1;
            if let Some(out) = decisions_out.as_mut() {
                for ds in &per_candidate {
                    if let Some(line) = &ds[k].line {
                        writeln!(out, "{line}").map_err(write_err)?;
                    }
                }
            }
            let first = per_candidate.first().map(|ds| ds[k].outcome);
            if per_candidate.iter().any(|ds| Some(ds[k].outcome) != first) {
                disagreements.count += 1;
                if disagreements.examples.len() < EXAMPLES {
                    let outcomes = candidates
                        .iter()
                        .zip(&per_candidate)
                        .map(|(c, ds)| (c.label.clone(), wire_name(&ds[k].outcome)))
                        .collect();
                    disagreements.examples.push(Disagreement {
                        kill_id: rec.kill.kill_id.clone(),
                        outcomes,
                    });
                }
            }
        }
    }
    let _ = reading.join();
    if let Some(mut out) = decisions_out {
        out.flush().map_err(write_err)?;
    }
    for r in &mut reports {
        r.finish();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let mut timing = Timing {
        elapsed_seconds: (elapsed * 1000.0).round() / 1000.0,
        kills_per_second: (kills as f64 / elapsed).round(),
        ..Timing::default()
    };
    let names = std::iter::once(format!("scorer:{}", scorer.name()))
        .chain(candidates.iter().map(|c| format!("strategy:{}", c.label)));
    for (name, mut t) in names.zip(timings) {
        t.sort_unstable();
        let pct = |p: f64| {
            t.get(((t.len() as f64 * p) as usize).min(t.len().saturating_sub(1)))
                .map_or(0.0, |ns| (*ns as f64 / 100.0).round() / 10.0)
        };
        timing.plugins.insert(
            name,
            PluginTiming {
                calls: t.len() as u64,
                p50_us: pct(0.5),
                p99_us: pct(0.99),
            },
        );
    }
    let report = ReplayReport {
        recording: opts.recording.display().to_string(),
        scenario,
        kills,
        mode: mode.name().to_string(),
        phase: phase.to_string(),
        scorer: scorer.name().to_string(),
        candidates: reports,
        disagreements,
    };
    Ok((report, timing))
}
