//! The replay engine: streams a recording in batches; per batch, module
//! profiles are rebuilt in order, the plugins run in parallel across cores,
//! and the guardrails then run in recording order through the very function
//! production uses ([`crate::guardrails::rule`]), with each candidate's own
//! hourly window. The report depends only on the inputs, never on threads.
//!
//! Each candidate lives in its own world, as it would live: what it brought
//! back has an outcome (the label's) once monitoring is over; what it put to
//! a human is decided by a simulated reviewer (the label, after a delay);
//! those outcomes enter the module's history (so later profiles, and the
//! scores built on them, differ between candidates) and reach its learner,
//! and the threats a human denied or that came back and were re-killed are
//! kept to check the learner's proposals against. A batch spans less time
//! than the shortest of those delays, so nothing decided in a batch can be
//! known to a later kill of the same batch: profiles are exact.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use rayon::prelude::*;

use medic_plugin_logic::values::names::MIN_SAMPLES;

use chrono::Utc;

use super::recording::{Reader, Recorded, RecordingError, Truth, parse_line};
use super::summary::{
    CandidateReport, CostModel, Disagreement, Disagreements, PluginTiming, ReplayReport,
    ReviewerSummary, Timing,
};
use crate::config::{Config, Feature, Isolation, Mode};
use crate::guardrails::{self, HourlyWindow, Rule, rule};
use crate::learn::check;
use crate::learn::safety::{self, KnownVerdict, KnownVerdicts};
use crate::model::{
    DecisionOutcome, ModuleProfile, NamedValues, OutcomeResult, OutcomeSample, PluginKind, Reading,
    RiskAssessment, Verdict, wire_name,
};
use crate::plugin::registry::RegistryError;
use crate::plugin::validate::level_for;
use crate::plugin::{
    LearnRequest, Plugin, PluginError, PluginSource, Prepared, Registry, ScoreRequest, golden,
    learner_settings_from_config,
};
use crate::store::calibration::{Calibration, truth_of};
use crate::store::{KillTimes, OutcomeCounts};

/// The per-call deadline during replay (see `run`).
const REPLAY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Kills read, profiled, judged and concluded together (at most; a batch
/// also ends where an outcome decided in it could become known).
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
    #[error("cannot start the replay's threads: {0}")]
    Threads(#[from] rayon::ThreadPoolBuildError),
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

struct Candidate {
    label: String,
    /// Its scorer: the one named after `@` in its spec, else the replay's.
    scorer: Arc<Plugin>,
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

/// One kill after the plugins: each candidate's risk and verdict.
struct Judgement {
    risks: Vec<Result<RiskAssessment, PluginError>>,
    verdicts: Vec<Option<Result<Verdict, PluginError>>>,
}

/// One candidate's ruling on one kill, as the replay keeps it.
struct Ruled {
    outcome: DecisionOutcome,
    /// The decision as a JSON line, when decisions are written out.
    line: Option<String>,
}

/// Something a candidate learns later about one of its decisions.
struct Event {
    at_ms: i64,
    seq: u64,
    module: String,
    /// The outcome of a resurrection (automatic or approved by a human).
    outcome: Option<(OutcomeResult, OutcomeSample)>,
    /// The kill's truth is now known: a person denied it (a threat), a
    /// person approved it and it held (a false positive), or it came back
    /// and was re-killed or rolled back (a threat).
    known: Option<Box<KnownVerdict>>,
    /// An automatic resurrection of a threat: unsafe.
    revived_threat: bool,
    /// A person denied the kill.
    denied_by_person: bool,
    /// The kill's truth as calibration counts it (a threat or not), with
    /// its evidence.
    truth: Option<(bool, Option<Reading>)>,
    /// A kill put to a person expired undecided (its evidence): counted as
    /// unresolved from now on.
    expired: Option<Option<Reading>>,
}

impl Event {
    /// An event at `at_ms` about a kill of `module` that says nothing yet.
    fn at(at_ms: i64, module: &str) -> Event {
        Event {
            at_ms,
            seq: 0,
            module: module.to_string(),
            outcome: None,
            known: None,
            revived_threat: false,
            denied_by_person: false,
            truth: None,
            expired: None,
        }
    }
}

impl PartialEq for Event {
    fn eq(&self, o: &Self) -> bool {
        (self.at_ms, self.seq) == (o.at_ms, o.seq)
    }
}
impl Eq for Event {}
impl PartialOrd for Event {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Event {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.at_ms, self.seq).cmp(&(o.at_ms, o.seq))
    }
}

/// One candidate's world: its guardrail window, what it knows of each
/// module, what it will learn and when, and its learner's inbox.
#[derive(Default)]
struct Lane {
    /// The candidate has a learner: only then are its outcomes kept for it
    /// and the kills whose truth is known kept for the safety check.
    learns: bool,
    window: HourlyWindow,
    counts: HashMap<String, OutcomeCounts>,
    /// Per module: kills a person approved, kills a person denied.
    verdicts: HashMap<String, (u32, u32)>,
    events: BinaryHeap<Reverse<Event>>,
    seq: u64,
    /// Outcomes the learner has not heard yet.
    inbox: Vec<OutcomeSample>,
    known: KnownVerdicts,
    /// When a threat revived automatically last came to light.
    last_unsafe: Option<chrono::DateTime<Utc>>,
    reviewer: ReviewerSummary,
    samples_automatic: u64,
    samples_human: u64,
    denials: u64,
    /// The kills of known truth, by their evidence.
    calibration: Calibration,
}

impl Lane {
    fn schedule(&mut self, mut e: Event) {
        self.seq += 1;
        e.seq = self.seq;
        self.events.push(Reverse(e));
    }

    /// Takes in everything known by `now_ms`.
    fn catch_up(&mut self, now_ms: i64) {
        while self
            .events
            .peek()
            .is_some_and(|Reverse(e)| e.at_ms <= now_ms)
        {
            let Some(Reverse(e)) = self.events.pop() else {
                break;
            };
            if let Some((result, sample)) = e.outcome {
                if sample.decision == DecisionOutcome::ApproveAuto {
                    self.samples_automatic += 1;
                } else {
                    self.samples_human += 1;
                    self.verdicts.entry(e.module.clone()).or_default().0 += 1;
                }
                self.counts.entry(e.module).or_default().add(result);
                if self.learns {
                    self.inbox.push(sample);
                }
            } else if e.denied_by_person {
                self.verdicts.entry(e.module).or_default().1 += 1;
            }
            if let Some(v) = e.known.filter(|_| self.learns) {
                self.known.push(*v);
            }
            if let Some(reading) = e.expired {
                self.calibration.unresolved(reading, true);
            }
            if let Some((threat, reading)) = e.truth {
                self.calibration.add(reading, threat);
            }
            if e.revived_threat {
                self.last_unsafe = chrono::DateTime::from_timestamp_millis(e.at_ms);
            }
        }
    }
}

/// A kill with each candidate's profile of its module.
type Profiled = (Recorded, Vec<ModuleProfile>);

/// Nanoseconds since `t`, saturating.
fn nanos(t: Instant) -> u32 {
    t.elapsed().as_nanos().min(u128::from(u32::MAX)) as u32
}

/// Runs the plugins on one kill: each candidate's kill is scored with its
/// own profile (a candidate whose profile and scorer equal the one before
/// it shares that score). Call times go to `times` (scorers first, then
/// each candidate's strategy).
fn judge_kill(
    (rec, profiles): &Profiled,
    candidates: &[Candidate],
    thresholds: &NamedValues,
    times: &mut [Vec<u32>],
) -> Judgement {
    let mut risks: Vec<Result<RiskAssessment, PluginError>> = Vec::with_capacity(candidates.len());
    let mut verdicts = Vec::with_capacity(candidates.len());
    let mut kill: Option<Prepared<'_>> = None;
    for (i, (c, profile)) in candidates.iter().zip(profiles).enumerate() {
        let shared = i > 0
            && profiles[i - 1] == *profile
            && Arc::ptr_eq(&candidates[i - 1].scorer, &c.scorer);
        let mut prepared = match (kill.take(), shared) {
            (Some(p), true) => p,
            _ => Prepared::new(ScoreRequest {
                kill: &rec.kill,
                context: rec.context.as_ref(),
                profile,
                thresholds,
            }),
        };
        let earlier = if shared {
            risks[i - 1].as_ref().ok().cloned()
        } else {
            None
        };
        let risk = match earlier {
            Some(r) => Ok(r),
            None => {
                let t = Instant::now();
                let r = c.scorer.score_prepared(&mut prepared);
                times[0].push(nanos(t));
                r
            }
        };
        // A learning candidate sees its own thresholds and its own bands.
        let risk = match (&c.learned, risk) {
            (Some(own), Ok(r)) => Ok(RiskAssessment {
                level: level_for(r.score, own),
                ..r
            }),
            (_, r) => r,
        };
        let verdict = risk.as_ref().ok().map(|r| {
            let own = c.learned.as_ref().unwrap_or(thresholds);
            let t = Instant::now();
            let v = c.plugin.decide_prepared(&mut prepared, r, own);
            times[i + 1].push(nanos(t));
            v
        });
        risks.push(risk);
        verdicts.push(verdict);
        kill = Some(prepared);
    }
    Judgement { risks, verdicts }
}

/// Runs the plugins on a batch on the replay's thread pool, in contiguous
/// chunks (one per thread); results come back in input order.
fn judge(
    pool: &rayon::ThreadPool,
    batch: &[Profiled],
    candidates: &[Candidate],
    thresholds: &NamedValues,
    timings: &mut [Vec<u32>],
) -> Vec<Judgement> {
    let chunk = batch
        .len()
        .div_ceil(pool.current_num_threads().max(1))
        .max(1);
    let parts: Vec<(Vec<Judgement>, Vec<Vec<u32>>)> = pool.install(|| {
        batch
            .par_chunks(chunk)
            .map(|part| {
                let mut times: Vec<Vec<u32>> = vec![Vec::new(); candidates.len() + 1];
                let out = part
                    .iter()
                    .map(|p| judge_kill(p, candidates, thresholds, &mut times))
                    .collect();
                (out, times)
            })
            .collect()
    });
    let mut all = Vec::with_capacity(batch.len());
    for (out, times) in parts {
        all.extend(out);
        for (into, from) in timings.iter_mut().zip(times) {
            into.extend(from);
        }
    }
    all
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
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads.max(1))
        .thread_name(|i| format!("medic-replay-{i}"))
        .build()?;
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

    let mut reports: Vec<CandidateReport> = candidates
        .iter()
        .map(|c| CandidateReport {
            strategy: c.label.clone(),
            version: c.plugin.info().version.clone(),
            sha256: c.plugin.sha256().to_string(),
            ..CandidateReport::default()
        })
        .collect();
    let mut lanes: Vec<Lane> = candidates
        .iter()
        .map(|c| Lane {
            learns: c.learned.is_some(),
            ..Lane::default()
        })
        .collect();
    let mut history: HashMap<String, KillTimes> = HashMap::new();
    let mut disagreements = Disagreements::default();
    let mut timings: Vec<Vec<u32>> = vec![Vec::new(); candidates.len() + 1];
    let mut kills = 0u64;
    let progress = crate::progress::Progress::counting("kills replayed", None);
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
    let mut waiting: std::collections::VecDeque<Recorded> = std::collections::VecDeque::new();
    let mut input_done = false;
    // Parses the next lines read into `waiting`; false once the input is done.
    let read_more = |waiting: &mut std::collections::VecDeque<Recorded>| {
        let Ok(lines) = incoming.recv() else {
            return Ok::<bool, ReplayError>(false);
        };
        let lines = lines?;
        if lines.is_empty() {
            return Ok(false);
        }
        let parsed = pool.install(|| {
            lines
                .par_iter()
                .map(|(line, text)| parse_line(&path, *line, text))
                .collect::<Result<Vec<Recorded>, _>>()
        })?;
        waiting.extend(parsed);
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
        progress.set(kills);
        let batch: Vec<Recorded> = waiting.drain(..cut).collect();
        // Profiles from the recording's own history and each candidate's
        // outcomes, in order.
        let batch: Vec<Profiled> = batch
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
                let base = ModuleProfile {
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
                let now_ms = k.timestamp.timestamp_millis();
                let profiles = lanes
                    .iter_mut()
                    .map(|lane| {
                        lane.catch_up(now_ms);
                        let mut p = base.clone();
                        if let Some(c) = lane.counts.get(&k.target_module) {
                            c.fill(&mut p);
                        }
                        if let Some((approved, denied)) = lane.verdicts.get(&k.target_module) {
                            p.human_approvals = *approved;
                            p.human_denials = *denied;
                        }
                        if opts.calibration {
                            p.known = Some(
                                lane.calibration
                                    .resembling(Reading::of(&rec.kill, rec.context.as_ref())),
                            );
                        }
                        p
                    })
                    .collect();
                (rec, profiles)
            })
            .collect();
        let judged = judge(&pool, &batch, &candidates, &thresholds, &mut timings);

        // The guardrails in recording order, the candidates in parallel
        // (each one's window and world are its own).
        let want_lines = decisions_out.is_some();
        let per_candidate: Vec<Vec<Ruled>> = pool.install(|| {
            candidates
                .par_iter()
                .zip(lanes.par_iter_mut())
                .zip(reports.par_iter_mut())
                .enumerate()
                .map(|(i, ((c, lane), report))| {
                        batch
                            .iter()
                            .zip(&judged)
                            .map(|((rec, profiles), j)| {
                                let profile = &profiles[i];
                                let verdict = j.verdicts[i].as_ref().map(|v| v.as_ref());
                                let risk = j.risks[i].as_ref();
                                let ruling = rule(
                                    &Rule {
                                        config: &config,
                                        mode,
                                        kill: &rec.kill,
                                        profile,
                                        has_context: rec.context.is_some(),
                                        risk,
                                        verdict,
                                        thresholds: c.learned.as_ref().unwrap_or(&thresholds),
                                        now: rec.kill.timestamp,
                                        // Replay judges; nothing is acted on.
                                        acting: None,
                                    },
                                    &mut lane.window,
                                );
                                report.add(ruling.outcome, &ruling.applied, rec.label.as_ref());
                                // Whether a denial with no person could end it, for
                                // the learner's counts of where people deny.
                                let deniable = risk.as_ref().is_ok_and(|r| {
                                    guardrails::denial_needs_a_person(&config, &rec.kill.target_module, profile.criticality, r.level).is_none()
                                });
                                follow_up(lane, rec, profile, risk.ok(), ruling.outcome, reviewing, deniable, [review_ms, monitor_ms, expiry_ms]);
                                let line = want_lines.then(|| {
                                    let (level, score) = risk.map_or(("critical".into(), 1.0), |r| (wire_name(&r.level), r.score));
                                    serde_json::json!({"kill_id": rec.kill.kill_id, "strategy": c.label, "outcome": ruling.outcome,
                                        "risk_level": level, "risk_score": score,
                                        "confidence": verdict.and_then(|v| v.ok()).map_or(0.0, |v| v.confidence),
                                        "guardrails": ruling.applied, "label": rec.label})
                                    .to_string()
                                });
                                Ruled { outcome: ruling.outcome, line }
                            })
                            .collect()
                })
                .collect()
        });
        // Learning candidates learn at batch boundaries, in recording order,
        // so the result does not depend on the number of threads.
        for (i, lane) in lanes.iter_mut().enumerate() {
            let Some(current) = candidates[i].learned.clone() else {
                continue;
            };
            if lane.inbox.len() < min_samples {
                continue;
            }
            let now = batch
                .last()
                .map_or_else(Utc::now, |(r, _)| r.kill.timestamp);
            let samples = std::mem::take(&mut lane.inbox);
            let mut settings = learner_settings.clone();
            settings.extend(lane.known.by_score());
            let req = LearnRequest {
                thresholds: &current,
                samples: &samples,
                settings: &settings,
                now,
            };
            let summary = reports[i].learning.get_or_insert_with(Default::default);
            summary.learner_runs += 1;
            let proposal = learner
                .learn(&req)
                .map_err(|e| e.to_string())
                .and_then(|adjustments| {
                    let changes: NamedValues = adjustments
                        .iter()
                        .map(|a| (a.name.clone(), a.new_value))
                        .collect();
                    let next = check::apply(&current, &changes)?;
                    check::values(&next)?;
                    check::within_bounds(
                        &current,
                        &next,
                        &config.constitution.learning_bounds,
                        samples.len(),
                    )?;
                    let judge = safety::Judge {
                        config: &config,
                        mode,
                        strategy: &candidates[i].plugin,
                    };
                    match safety::refuse(
                        &judge,
                        &current,
                        &next,
                        &lane.known,
                        lane.last_unsafe,
                        now,
                    ) {
                        Some(why) => Err(why),
                        None => Ok((adjustments.len(), next)),
                    }
                });
            match proposal {
                Ok((n, next)) => {
                    summary.adjustments += n as u64;
                    summary.thresholds = next.clone();
                    candidates[i].learned = Some(next);
                }
                Err(why) => {
                    summary.refused += 1;
                    if summary.refusals.len() < EXAMPLES {
                        summary
                            .refusals
                            .push(format!("at {}: {why}", now.to_rfc3339()));
                    }
                }
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
    progress.finish();
    drop(incoming);
    let _ = reading.join();
    if let Some(mut out) = decisions_out {
        out.flush().map_err(write_err)?;
    }
    for ((r, lane), c) in reports.iter_mut().zip(&lanes).zip(&candidates) {
        if reviewing {
            r.reviewer = Some(lane.reviewer.clone());
        }
        if let Some(l) = r.learning.as_mut() {
            // The thresholds in force at the end, whether or not a run changed them.
            l.thresholds = c.learned.clone().unwrap_or_default();
            l.samples_automatic = lane.samples_automatic;
            l.samples_human_approved = lane.samples_human;
            l.known_threats = lane.denials;
        } else if c.learned.is_some() {
            r.learning = Some(super::summary::LearningSummary {
                thresholds: thresholds.clone(),
                samples_automatic: lane.samples_automatic,
                samples_human_approved: lane.samples_human,
                known_threats: lane.denials,
                ..Default::default()
            });
        }
        r.finish(&opts.costs);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let mut timing = Timing {
        elapsed_seconds: (elapsed * 1000.0).round() / 1000.0,
        kills_per_second: (kills as f64 / elapsed).round(),
        ..Timing::default()
    };
    let names = std::iter::once("scorers".to_string())
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

/// What a candidate will learn later about one decision, by the label: the
/// outcome of a resurrection once monitoring is over; the simulated
/// reviewer's verdict on a kill put to a human.
#[allow(clippy::too_many_arguments)]
fn follow_up(
    lane: &mut Lane,
    rec: &Recorded,
    profile: &ModuleProfile,
    risk: Option<&RiskAssessment>,
    outcome: DecisionOutcome,
    reviewing: bool,
    deniable: bool,
    [review_ms, monitor_ms, expiry_ms]: [i64; 3],
) {
    let reading = Reading::of(&rec.kill, rec.context.as_ref());
    let truth = rec.label.as_ref().and_then(|l| l.truth);
    if outcome == DecisionOutcome::PendingReview && !(reviewing && truth.is_some()) {
        // Nobody will decide it: it expires after the decision timeout,
        // and from then on counts as unresolved (as live).
        lane.schedule(Event {
            expired: Some(reading),
            ..Event::at(
                rec.kill.timestamp.timestamp_millis() + expiry_ms,
                &rec.kill.target_module,
            )
        });
    }
    let Some(truth) = truth else {
        if reviewing && outcome == DecisionOutcome::PendingReview {
            lane.reviewer.unlabelled += 1;
        }
        return;
    };
    let Some(risk) = risk else { return };
    let threat = truth == Truth::TrueThreat;
    let at_ms = rec.kill.timestamp.timestamp_millis();
    // Only a learning candidate's safety check reads known verdicts.
    let learns = lane.learns;
    let known = |threat: bool| {
        if !learns {
            return None;
        }
        Some(Box::new(KnownVerdict {
            kill: rec.kill.clone(),
            context: rec.context.clone(),
            profile: profile.clone(),
            risk: risk.clone(),
            threat,
            known_at: rec.kill.timestamp,
            deniable,
        }))
    };
    let resurrected = |decision: DecisionOutcome, after_ms: i64| {
        let result = rec
            .label
            .as_ref()
            .and_then(|l| l.outcome)
            .unwrap_or(if threat {
                OutcomeResult::ReKilled
            } else {
                OutcomeResult::Success
            });
        let recorded_at = rec.kill.timestamp + chrono::Duration::milliseconds(after_ms);
        let confirms = matches!(result, OutcomeResult::ReKilled | OutcomeResult::Rollback);
        Event {
            outcome: Some((
                result,
                OutcomeSample {
                    kill_id: rec.kill.kill_id.clone(),
                    module: rec.kill.target_module.clone(),
                    risk_level: risk.level,
                    risk_score: risk.score,
                    decision,
                    result,
                    time_to_stable_seconds: None,
                    recorded_at,
                },
            )),
            // What a person approved and held is a known false positive;
            // what came back and was re-killed or rolled back, a known threat.
            known: if confirms {
                known(true)
            } else if decision == DecisionOutcome::ApproveManual {
                known(false)
            } else {
                None
            },
            revived_threat: threat && decision == DecisionOutcome::ApproveAuto,
            denied_by_person: false,
            truth: truth_of(result).map(|t| (t, reading)),
            ..Event::at(at_ms + after_ms, &rec.kill.target_module)
        }
    };
    match outcome {
        DecisionOutcome::ApproveAuto => {
            let e = resurrected(DecisionOutcome::ApproveAuto, monitor_ms);
            lane.schedule(e);
        }
        DecisionOutcome::PendingReview if reviewing && threat => {
            lane.reviewer.denied += 1;
            lane.denials += 1;
            lane.schedule(Event {
                known: known(true),
                denied_by_person: true,
                truth: Some((true, reading)),
                ..Event::at(at_ms + review_ms, &rec.kill.target_module)
            });
        }
        DecisionOutcome::PendingReview if reviewing => {
            lane.reviewer.approved += 1;
            let e = resurrected(DecisionOutcome::ApproveManual, review_ms + monitor_ms);
            lane.schedule(e);
        }
        _ => {}
    }
}
