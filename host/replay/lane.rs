//! One candidate's lane through a replay: its world (its guardrail window,
//! what it knows of each module, what it will learn and when, its
//! learner's inbox) and the worker that judges, rules and learns kill by
//! kill in recording order.
//!
//! Each candidate lives in its own world, as it would live: what it brought
//! back has an outcome (the label's) once monitoring is over; what it put to
//! a human is decided by a simulated reviewer (the label, after a delay);
//! those outcomes enter the module's history (so later profiles, and the
//! scores built on them, differ between candidates) and reach its learner,
//! and the threats a human denied or that came back and were re-killed are
//! kept to check the learner's proposals against.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use chrono::Utc;

use super::engine::EXAMPLES;
use super::recording::{Recorded, Truth};
use super::summary::{CandidateReport, ReviewerSummary};
use crate::config::{Config, Mode};
use crate::guardrails::{self, HourlyWindow, Rule, rule};
use crate::learn::check;
use crate::learn::safety::{self, KnownVerdict, KnownVerdicts};
use crate::model::{
    DecisionOutcome, KillReport, ModuleProfile, NamedValues, OutcomeResult, OutcomeSample, Reading,
    RiskAssessment, SiemContext, wire_name,
};
use crate::plugin::sandbox::LentKill;
use crate::plugin::validate::level_for;
use crate::plugin::{LearnRequest, Plugin, Prepared, Resolved, ScoreRequest};
use crate::store::OutcomeCounts;
use crate::store::calibration::{Calibration, truth_of};

pub(super) struct Candidate {
    pub label: String,
    /// Its scorer: the one named after `@` in its spec, else the replay's.
    pub scorer: Arc<Plugin>,
    pub plugin: Arc<Plugin>,
    /// A learning candidate's thresholds, as adjusted so far.
    pub learned: Option<NamedValues>,
}

/// A kill as every lane receives it.
pub(super) struct Shipped {
    pub rec: Recorded,
    /// The module's profile from the recording's own history; each lane
    /// adds what its own world knows.
    pub base: ModuleProfile,
    /// The first lane to score the kill leaves its score here, for a lane
    /// whose scorer and profile are the same (so scores the same).
    pub scored: OnceLock<Scored>,
}

/// A shipped kill, lent to the plugins' `kill` resource for its calls.
struct ShippedKill {
    shipment: Arc<Shipment>,
    at: usize,
}

impl LentKill for ShippedKill {
    fn kill(&self) -> (&KillReport, Option<&SiemContext>) {
        let rec = &self.shipment.kills[self.at].rec;
        (&rec.kill, rec.context.as_ref())
    }
}

/// A kill's score, with the scorer and profile it was scored with.
pub(super) struct Scored {
    /// The scorer's address: which of the replay's scorers it was.
    scorer: usize,
    profile: ModuleProfile,
    risk: RiskAssessment,
}

/// Whole batches sent to every lane together. A batch spans less time than
/// the soonest anything decided in it can become known, so nothing decided
/// in a batch is known to a later kill of it: profiles are exact.
#[derive(Default)]
pub(super) struct Shipment {
    pub kills: Vec<Shipped>,
    /// Where each batch ends in `kills` (exclusive): learners run there.
    pub ends: Vec<usize>,
}

/// What every lane reads and none changes.
pub(super) struct Ground<'a> {
    pub config: &'a Config,
    pub mode: Mode,
    /// The thresholds in force (a learning candidate decides by its own).
    pub thresholds: &'a NamedValues,
    pub learner: &'a Plugin,
    pub learner_settings: &'a NamedValues,
    /// Outcomes a learner waits for before it runs.
    pub min_samples: usize,
    pub reviewing: bool,
    /// Review, monitoring and queue expiry delays (ms).
    pub delays: [i64; 3],
    /// Tell the scorer what outcomes taught (the `known.*` facts).
    pub calibration: bool,
    /// Write each decision as a JSON line.
    pub lines: bool,
}

/// One candidate's replay: its world, its report, its plugins' call times.
pub(super) struct Worker {
    pub candidate: Candidate,
    pub lane: Lane,
    pub report: CandidateReport,
    /// Its scorer's calls (a score taken from another lane is not a call).
    pub scorer_ns: Vec<u32>,
    pub strategy_ns: Vec<u32>,
    /// What its scorer and strategy read, resolved against the thresholds
    /// each decides by (the strategy's again whenever learning changes
    /// them).
    scorer_reads: Option<Resolved>,
    strategy_reads: Option<Resolved>,
}

impl Worker {
    pub fn new(candidate: Candidate) -> Worker {
        Worker {
            report: CandidateReport {
                strategy: candidate.label.clone(),
                version: candidate.plugin.info().version.clone(),
                sha256: candidate.plugin.sha256().to_string(),
                ..CandidateReport::default()
            },
            lane: Lane {
                learns: candidate.learned.is_some(),
                ..Lane::default()
            },
            candidate,
            scorer_ns: Vec::new(),
            strategy_ns: Vec::new(),
            scorer_reads: None,
            strategy_reads: None,
        }
    }

    /// Judges a shipment's kills in order, learning at each batch's end.
    pub fn run(&mut self, g: &Ground<'_>, shipment: &Arc<Shipment>) -> Vec<Ruled> {
        let mut out = Vec::with_capacity(shipment.kills.len());
        let mut start = 0;
        for &end in &shipment.ends {
            let batch = &shipment.kills[start..end];
            for at in start..end {
                out.push(self.judge(g, shipment, at));
            }
            if let Some(last) = batch.last() {
                self.learn(g, last.rec.kill.timestamp);
            }
            start = end;
        }
        out
    }

    /// Profiles, scores, decides and rules one kill, and schedules what the
    /// candidate will learn of it.
    fn judge(&mut self, g: &Ground<'_>, shipment: &Arc<Shipment>, at: usize) -> Ruled {
        let shipped = &shipment.kills[at];
        let rec = &shipped.rec;
        self.lane.catch_up(rec.kill.timestamp.timestamp_millis());
        let profile = self.lane.profile(&shipped.base, rec, g.calibration);
        let c = &self.candidate;
        let scorer = Arc::as_ptr(&c.scorer) as usize;
        let shared = shipped
            .scored
            .get()
            .filter(|s| s.scorer == scorer && s.profile == profile);
        // A replay keeps no details or reasoning: plugins may skip them.
        // The plugins' `kill` resource reads the kill where it lies.
        let lent = Arc::new(ShippedKill {
            shipment: shipment.clone(),
            at,
        });
        let mut kill = Prepared::lending(
            ScoreRequest {
                kill: &rec.kill,
                context: rec.context.as_ref(),
                profile: &profile,
                thresholds: g.thresholds,
            },
            lent,
        )
        .unexplained();
        let mut own = None;
        let risk = match shared {
            Some(s) => Ok(&s.risk),
            None => {
                let t = Instant::now();
                let reads = self
                    .scorer_reads
                    .get_or_insert_with(|| c.scorer.resolve(g.thresholds));
                let scored = own.insert(c.scorer.score_prepared(&mut kill, Some(reads)));
                self.scorer_ns.push(nanos(t));
                scored.as_ref()
            }
        };
        // A learning candidate sees its own thresholds and its own bands.
        let relevelled;
        let risk = match (&c.learned, risk) {
            (Some(mine), Ok(r)) => {
                relevelled = RiskAssessment {
                    level: level_for(r.score, mine),
                    ..r.clone()
                };
                Ok(&relevelled)
            }
            (_, r) => r,
        };
        let thresholds = c.learned.as_ref().unwrap_or(g.thresholds);
        let verdict = risk.ok().map(|r| {
            let t = Instant::now();
            let reads = self
                .strategy_reads
                .get_or_insert_with(|| c.plugin.resolve(thresholds));
            let v = c
                .plugin
                .decide_prepared(&mut kill, r, thresholds, Some(reads));
            self.strategy_ns.push(nanos(t));
            v
        });
        drop(kill);
        let verdict = verdict.as_ref().map(|v| v.as_ref());
        let ruling = rule(
            &Rule {
                config: g.config,
                mode: g.mode,
                kill: &rec.kill,
                profile: &profile,
                has_context: rec.context.is_some(),
                risk,
                verdict,
                thresholds,
                now: rec.kill.timestamp,
                // Replay judges; nothing is acted on.
                acting: None,
            },
            &mut self.lane.window,
        );
        self.report.add(
            ruling.outcome,
            &ruling.applied,
            rec.label.as_ref(),
            rec.kill.timestamp.timestamp_millis(),
            risk.ok().map(|r| r.score),
        );
        // Whether a denial with no person could end it, for the learner's
        // counts of where people deny.
        let deniable = risk.is_ok_and(|r| {
            guardrails::denial_needs_a_person(
                g.config,
                &rec.kill.target_module,
                profile.criticality,
                r.level,
            )
            .is_none()
        });
        follow_up(
            &mut self.lane,
            rec,
            &profile,
            risk.ok(),
            ruling.outcome,
            g.reviewing,
            deniable,
            g.delays,
        );
        let line = g.lines.then(|| {
            let (level, score) = risk.map_or(("critical".into(), 1.0), |r| {
                (wire_name(&r.level), r.score)
            });
            serde_json::json!({"kill_id": rec.kill.kill_id, "strategy": c.label, "outcome": ruling.outcome,
                "risk_level": level, "risk_score": score,
                "confidence": verdict.and_then(|v| v.ok()).map_or(0.0, |v| v.confidence),
                "guardrails": ruling.applied, "label": rec.label})
            .to_string()
        });
        let outcome = ruling.outcome;
        // Offered to the lanes after this one (only a score this lane made).
        if shipped.scored.get().is_none()
            && let Some(Ok(risk)) = own
        {
            let _ = shipped.scored.set(Scored {
                scorer,
                profile,
                risk,
            });
        }
        Ruled { outcome, line }
    }

    /// A learning candidate's learner runs on what it heard since its last
    /// run; the host checks the proposal as live and keeps it or says why
    /// not.
    fn learn(&mut self, g: &Ground<'_>, now: chrono::DateTime<Utc>) {
        let Some(current) = self.candidate.learned.clone() else {
            return;
        };
        if self.lane.inbox.len() < g.min_samples {
            return;
        }
        let samples = std::mem::take(&mut self.lane.inbox);
        let mut settings = g.learner_settings.clone();
        settings.extend(self.lane.known.by_score());
        let req = LearnRequest {
            thresholds: &current,
            samples: &samples,
            settings: &settings,
            now,
        };
        let summary = self.report.learning.get_or_insert_with(Default::default);
        summary.learner_runs += 1;
        let lane = &self.lane;
        let strategy = &self.candidate.plugin;
        let proposal = g
            .learner
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
                    &g.config.constitution.learning_bounds,
                    samples.len(),
                )?;
                let judge = safety::Judge {
                    config: g.config,
                    mode: g.mode,
                    strategy,
                };
                match safety::refuse(&judge, &current, &next, &lane.known, lane.last_unsafe, now) {
                    Some(why) => Err(why),
                    None => Ok((adjustments.len(), next)),
                }
            });
        match proposal {
            Ok((n, next)) => {
                summary.adjustments += n as u64;
                summary.thresholds = next.clone();
                self.candidate.learned = Some(next);
                self.strategy_reads = None;
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
}

/// One candidate's ruling on one kill, as the replay keeps it.
pub(super) struct Ruled {
    pub outcome: DecisionOutcome,
    /// The decision as a JSON line, when decisions are written out.
    pub line: Option<String>,
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
pub(super) struct Lane {
    /// The candidate has a learner: only then are its outcomes kept for it
    /// and the kills whose truth is known kept for the safety check.
    pub learns: bool,
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
    pub reviewer: ReviewerSummary,
    pub samples_automatic: u64,
    pub samples_human: u64,
    pub denials: u64,
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

    /// This lane's profile of a kill's module: the recording's history and
    /// what this lane's own outcomes, people's verdicts and calibration say.
    fn profile(&self, base: &ModuleProfile, rec: &Recorded, calibration: bool) -> ModuleProfile {
        let module = &rec.kill.target_module;
        let mut p = base.clone();
        if let Some(c) = self.counts.get(module) {
            c.fill(&mut p);
        }
        if let Some((approved, denied)) = self.verdicts.get(module) {
            p.human_approvals = *approved;
            p.human_denials = *denied;
        }
        if calibration {
            p.known = Some(
                self.calibration
                    .resembling(Reading::of(&rec.kill, rec.context.as_ref())),
            );
        }
        p
    }
}

/// Nanoseconds since `t`, saturating.
pub(super) fn nanos(t: Instant) -> u32 {
    t.elapsed().as_nanos().min(u128::from(u32::MAX)) as u32
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
