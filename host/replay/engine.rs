//! The replay engine: streams a recording in batches and runs each
//! candidate's lane over it (`lanes.rs`: side by side on the replay's
//! threads, each lane in recording order). A lane profiles, scores,
//! decides and rules each kill through the very function production uses
//! ([`crate::guardrails::rule`]), with its own hourly window and its own
//! world (`lane.rs`). The report depends only on the inputs, never on
//! threads.
//!
//! A batch spans less time than the soonest anything decided in it can
//! become known (monitoring, the simulated reviewer's delay, a queue
//! item's expiry), so nothing decided in a batch is known to a later kill
//! of the same batch: profiles are exact, and learners run at batch ends.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use medic_plugin_logic::values::names::MIN_SAMPLES;

use super::lane::{Candidate, Ground, Ruled, Shipment, Shipped, Worker};
use super::lanes::{LaneFailed, Lanes};
use super::recording::{Reader, Recorded, RecordingError, parse_line};
use super::summary::{CostModel, Disagreement, Disagreements, PluginTiming, ReplayReport, Timing};
use crate::config::{Config, Feature, Isolation, Mode};
use crate::model::{ModuleProfile, PluginKind, wire_name};
use crate::plugin::registry::RegistryError;
use crate::plugin::{Plugin, PluginSource, Registry, golden, learner_settings_from_config};
use crate::store::KillTimes;

/// The per-call deadline during replay (see `run`).
const REPLAY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Kills read, profiled, judged and concluded together (at most; a batch
/// also ends where an outcome decided in it could become known).
const BATCH: usize = 4096;
/// Kills sent to the lanes together (whole batches, so at least this many
/// unless the recording ends), and shipments the lanes may run ahead of
/// the main thread's reading of their results.
const SHIPMENT: usize = 1024;
const IN_FLIGHT: usize = 4;
/// Disagreements listed in the report (all are counted).
pub(super) const EXAMPLES: usize = 20;

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
    #[error("cannot start the replay's threads: {0}")]
    Threads(std::io::Error),
    #[error(transparent)]
    Lane(#[from] LaneFailed),
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
    /// The learner (name or `.wasm` path); default, the phase's.
    pub learner: Option<String>,
    /// Who decides the kills put to a human.
    pub reviewer: Reviewer,
    /// How long the simulated reviewer takes to decide.
    pub review_delay_minutes: u32,
    /// What each cell of the report costs.
    pub costs: CostModel,
    /// Tell the scorer what outcomes taught, as live (the `known.*` facts);
    /// off, it judges by its model alone, as on a fresh store.
    pub calibration: bool,
}

/// Who decides the kills a candidate puts to a human, in replay.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Reviewer {
    /// The recording's label, after the review delay: a false positive is
    /// approved (and comes back, with the label's outcome), a threat denied.
    /// Unlabelled kills stay in the queue.
    #[default]
    Label,
    /// Nobody: they stay in the queue, and nothing is learned from them.
    None,
}

impl Options {
    /// Options with the defaults of `medic replay`: warm instances, the
    /// configured mode, the label as reviewer after 30 minutes, the default
    /// costs, no learning.
    pub fn new(recording: PathBuf, strategies: Vec<String>, threads: usize) -> Options {
        Options {
            recording,
            strategies,
            scorer: None,
            threads,
            isolation: Isolation::Reuse,
            mode: None,
            decisions: None,
            learn: false,
            learner: None,
            reviewer: Reviewer::Label,
            review_delay_minutes: 30,
            costs: CostModel::default(),
            calibration: true,
        }
    }
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

/// What in the configuration makes the figures less than they seem.
fn warnings(config: &Config, mode: Mode) -> Vec<String> {
    let mut w = Vec::new();
    if !config.medic.decision.auto_approve.enabled {
        w.push("decision.auto_approve.enabled is false: nothing can be auto-approved; every automatic verdict goes to a human".into());
    }
    if !config.feature(Feature::AutoResurrection) {
        w.push("the constitution's phase_3_semi_auto (auto_resurrection) is not enabled: nothing can be auto-approved".into());
    }
    if matches!(mode, Mode::Observer | Mode::Manual) {
        w.push(format!(
            "mode {}: every resurrection needs a human; replay with --mode semi_auto to see what automation would do",
            mode.name()
        ));
    }
    if !config.feature(Feature::DecisionLogic) {
        w.push("phase_1_observer.decision_logic is off: every kill is deferred".into());
    }
    if config
        .constitution
        .constraints
        .max_auto_resurrections_per_hour
        == 0
    {
        w.push(
            "constraints.max_auto_resurrections_per_hour is 0: nothing can be auto-approved".into(),
        );
    }
    w
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
    config.medic.plugins.timeout = config.medic.plugins.timeout.max(REPLAY_TIMEOUT);
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
        // `STRATEGY@SCORER` pairs a strategy with its own scorer.
        let (strategy, own_scorer) = match spec.rsplit_once('@') {
            Some((s, sc)) if !sc.is_empty() => {
                (s, Some(resolve(&registry, sc, PluginKind::RiskScorer)?))
            }
            _ => (spec.as_str(), None),
        };
        let plugin = resolve(&registry, strategy, PluginKind::Strategy)?;
        let scorer = own_scorer.unwrap_or_else(|| scorer.clone());
        candidates.push(Candidate {
            label: spec.clone(),
            scorer: scorer.clone(),
            plugin: plugin.clone(),
            learned: None,
        });
        if opts.learn {
            // The same strategy with the learner in the loop, beside it.
            candidates.push(Candidate {
                label: format!("{spec}+learn"),
                scorer,
                plugin,
                learned: Some(thresholds.clone()),
            });
        }
    }
    let learner = match &opts.learner {
        Some(spec) => resolve(&registry, spec, PluginKind::ThresholdLearner)?,
        None => registry.active().learner.clone(),
    };
    let learner_settings = learner_settings_from_config(&config);
    let min_samples = learner_settings
        .get(MIN_SAMPLES)
        .copied()
        .unwrap_or(50.0)
        .max(1.0) as usize;
    let mode = config.medic.mode.current;
    let reviewing = opts.reviewer == Reviewer::Label;
    let review_ms = i64::from(opts.review_delay_minutes) * 60_000;
    let monitor_ms = i64::try_from(config.medic.resurrection.monitoring_duration.as_millis())
        .unwrap_or(i64::MAX);
    // A kill put to a person that nobody decides expires after this.
    let expiry_ms = i64::from(config.medic.decision.default_timeout_minutes.max(1)) * 60_000;
    // The soonest anything decided can become known: a batch spans less.
    let horizon_ms = if reviewing {
        monitor_ms.min(review_ms)
    } else {
        monitor_ms
    }
    .min(expiry_ms);
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

    let workers: Vec<Worker> = candidates.into_iter().map(Worker::new).collect();
    let labels: Vec<String> = workers.iter().map(|w| w.candidate.label.clone()).collect();
    let threads = opts.threads.clamp(1, workers.len());
    let ground = Ground {
        config: &config,
        mode,
        thresholds: &thresholds,
        learner: &learner,
        learner_settings: &learner_settings,
        min_samples,
        reviewing,
        delays: [review_ms, monitor_ms, expiry_ms],
        calibration: opts.calibration,
        lines: decisions_out.is_some(),
    };
    let lanes: Lanes<Worker, Shipment, Vec<Ruled>> = Lanes::new(workers);
    let work = |w: &mut Worker, s: &Arc<Shipment>| w.run(&ground, s);
    let mut history: HashMap<String, KillTimes> = HashMap::new();
    let mut disagreements = Disagreements::default();
    let mut kills = 0u64;
    let progress = crate::progress::Progress::counting("kills replayed", None);

    // Lines are read and parsed on their own thread, ahead of the work.
    let path = reader.path().to_string();
    let scenario = reader.header.scenario.clone();
    let (parsed, incoming) =
        std::sync::mpsc::sync_channel::<Result<Vec<Recorded>, RecordingError>>(2);
    let reading = std::thread::Builder::new()
        .name("medic-replay-read".into())
        .spawn(move || {
            loop {
                let next = reader.next_lines(BATCH).and_then(|lines| {
                    lines
                        .iter()
                        .map(|(line, text)| parse_line(&path, *line, text))
                        .collect::<Result<Vec<Recorded>, _>>()
                });
                let done = next.as_ref().map_or(true, Vec::is_empty);
                if parsed.send(next).is_err() || done {
                    return;
                }
            }
        })
        .map_err(ReplayError::Threads)?;
    // The main thread cuts batches, profiles each kill from the recording's
    // history and sends shipments to the lanes; then takes each shipment's
    // rulings back in order for the decisions file and the disagreements.
    let mut conclude = |shipment: &Shipment, ruled: Vec<Vec<Ruled>>| -> Result<(), ReplayError> {
        for (k, shipped) in shipment.kills.iter().enumerate() {
            kills += 1;
            if let Some(out) = decisions_out.as_mut() {
                for ds in &ruled {
                    if let Some(line) = &ds[k].line {
                        writeln!(out, "{line}").map_err(write_err)?;
                    }
                }
            }
            let first = ruled.first().map(|ds| ds[k].outcome);
            if ruled.iter().any(|ds| Some(ds[k].outcome) != first) {
                disagreements.count += 1;
                if disagreements.examples.len() < EXAMPLES {
                    let outcomes = labels
                        .iter()
                        .zip(&ruled)
                        .map(|(l, ds)| (l.clone(), wire_name(&ds[k].outcome)))
                        .collect();
                    disagreements.examples.push(Disagreement {
                        kill_id: shipped.rec.kill.kill_id.clone(),
                        outcomes,
                    });
                }
            }
        }
        progress.set(kills);
        Ok(())
    };
    let mut dispatch = || -> Result<(), ReplayError> {
        let mut in_flight: std::collections::VecDeque<Arc<Shipment>> = Default::default();
        let mut waiting: std::collections::VecDeque<Recorded> = Default::default();
        let mut shipment = Shipment::default();
        let mut input_done = false;
        // Reads the next kills parsed into `waiting`; false once the input is done.
        let read_more = |waiting: &mut std::collections::VecDeque<Recorded>| {
            let Ok(recs) = incoming.recv() else {
                return Ok::<bool, ReplayError>(false);
            };
            let recs = recs?;
            if recs.is_empty() {
                return Ok(false);
            }
            waiting.extend(recs);
            Ok(true)
        };
        loop {
            if !input_done && waiting.len() < BATCH {
                if read_more(&mut waiting)? {
                    continue;
                }
                input_done = true;
            }
            if waiting.is_empty() {
                break;
            }
            // The next batch: up to BATCH kills, all before the first one's
            // horizon (unless the input is done, a batch only ends at one).
            let start = waiting[0].kill.timestamp.timestamp_millis();
            let cut = waiting
                .iter()
                .take(BATCH)
                .position(|r| r.kill.timestamp.timestamp_millis() >= start + horizon_ms.max(1))
                .unwrap_or(waiting.len().min(BATCH))
                .max(1);
            if cut == waiting.len() && !input_done && cut < BATCH {
                // The horizon may lie in lines not read yet.
                input_done = !read_more(&mut waiting)?;
                continue;
            }
            for rec in waiting.drain(..cut) {
                let k = &rec.kill;
                let h = history
                    .entry(k.target_module.clone())
                    .or_default()
                    .add(k.timestamp, usize::MAX);
                let configured = config.module_profile(&k.target_module);
                let base = ModuleProfile {
                    kills_last_hour: h.kills_last_hour,
                    kills_last_day: h.kills_last_day,
                    kills_last_week: h.kills_last_week,
                    last_kill: h.last_kill,
                    // The recording's criticality, where it has one.
                    criticality: rec
                        .profile
                        .as_ref()
                        .and_then(|p| p.criticality)
                        .unwrap_or(configured.criticality),
                    ..configured
                };
                shipment.kills.push(Shipped {
                    rec,
                    base,
                    scored: OnceLock::new(),
                });
            }
            shipment.ends.push(shipment.kills.len());
            if shipment.kills.len() >= SHIPMENT {
                let s = Arc::new(std::mem::take(&mut shipment));
                lanes.send(s.clone());
                in_flight.push_back(s);
                if in_flight.len() > IN_FLIGHT
                    && let Some(oldest) = in_flight.pop_front()
                {
                    conclude(&oldest, lanes.take()?)?;
                }
            }
        }
        if !shipment.kills.is_empty() {
            let s = Arc::new(shipment);
            lanes.send(s.clone());
            in_flight.push_back(s);
        }
        while let Some(oldest) = in_flight.pop_front() {
            conclude(&oldest, lanes.take()?)?;
        }
        Ok(())
    };
    let done = std::thread::scope(|scope| {
        for i in 0..threads {
            let spawned = std::thread::Builder::new()
                .name(format!("medic-replay-{i}"))
                .spawn_scoped(scope, || lanes.serve(&work));
            if let Err(e) = spawned {
                lanes.close();
                return Err(ReplayError::Threads(e));
            }
        }
        let done = dispatch();
        // Whatever happened, the lanes' threads return once told.
        lanes.close();
        done
    });
    progress.finish();
    drop(incoming);
    let _ = reading.join();
    done?;
    if let Some(mut out) = decisions_out {
        out.flush().map_err(write_err)?;
    }
    let workers = lanes.into_workers();
    let mut reports = Vec::with_capacity(workers.len());
    let mut timings: Vec<(String, Vec<u32>)> = vec![("scorers".to_string(), Vec::new())];
    for w in workers {
        let Worker {
            candidate: c,
            lane,
            mut report,
            scorer_ns,
            strategy_ns,
            ..
        } = w;
        timings[0].1.extend(scorer_ns);
        timings.push((format!("strategy:{}", c.label), strategy_ns));
        if reviewing {
            report.reviewer = Some(lane.reviewer.clone());
        }
        if let Some(l) = report.learning.as_mut() {
            // The thresholds in force at the end, whether or not a run changed them.
            l.thresholds = c.learned.clone().unwrap_or_default();
            l.samples_automatic = lane.samples_automatic;
            l.samples_human_approved = lane.samples_human;
            l.known_threats = lane.denials;
        } else if c.learned.is_some() {
            report.learning = Some(super::summary::LearningSummary {
                thresholds: thresholds.clone(),
                samples_automatic: lane.samples_automatic,
                samples_human_approved: lane.samples_human,
                known_threats: lane.denials,
                ..Default::default()
            });
        }
        report.finish(&opts.costs);
        reports.push(report);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let mut timing = Timing {
        elapsed_seconds: (elapsed * 1000.0).round() / 1000.0,
        kills_per_second: (kills as f64 / elapsed).round(),
        ..Timing::default()
    };
    for (name, mut t) in timings {
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
        reviewer: match opts.reviewer {
            Reviewer::Label => format!("label after {} min", opts.review_delay_minutes),
            Reviewer::None => "none".to_string(),
        },
        costs: opts.costs.clone(),
        calibration: opts.calibration,
        warnings: warnings(&config, mode),
        candidates: reports,
        disagreements,
    };
    Ok((report, timing))
}
