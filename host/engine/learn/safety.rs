//! The host's safety check on a learner's proposal: does it widen
//! automation, and would it — replayed through the strategy and the
//! guardrails exactly as a decision is made — have revived a kill known to
//! be a threat? Replay and the live threshold manager both ask here.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};

use medic_plugin_logic::values::names as n;

use crate::config::{Config, Mode};
use crate::guardrails::HourlyWindow;
use crate::guardrails::{Rule, rule};
use crate::model::{
    DecisionOutcome, KillReport, ModuleProfile, NamedValues, RiskAssessment, SiemContext,
};
use crate::plugin::validate::level_for;
use crate::plugin::{DecideRequest, Plugin};

/// Known verdicts kept for the check, of each kind (the most recent ones).
pub const KEEP_KNOWN: usize = 1_000;

/// Known verdicts the live check reads (the newest, of both kinds
/// together) to count by score: a record read each.
pub const KEEP_SCORED: usize = 20_000;

/// Below this share of real threats among the kills a proposal would
/// automate, automating them costs less than having a person look (a
/// threat revived costs about a hundred looks).
pub const ACCEPTABLE_THREAT_SHARE: f64 = 0.01;

/// How many kills known to be false positives, and none known to be a
/// threat, a widening proposal must newly automate before the host believes
/// threats there are rarer than [`ACCEPTABLE_THREAT_SHARE`] (the "rule of
/// three": with none seen in n, the 95% upper bound is about 3/n).
pub const MIN_CLEAN_EVIDENCE: usize = 300;

/// How long after a threat was revived automatically no proposal may widen
/// automation.
pub const QUIET_AFTER_UNSAFE: chrono::TimeDelta = chrono::TimeDelta::days(7);

/// A kill whose truth is known — a person approved it and it held, a person
/// denied it, or it came back and was re-killed or rolled back — as it was
/// judged.
#[derive(Clone, Debug)]
pub struct KnownVerdict {
    pub kill: KillReport,
    pub context: Option<SiemContext>,
    pub profile: ModuleProfile,
    /// The risk it was given (the score; its level follows the thresholds).
    pub risk: RiskAssessment,
    /// The kill was right: a real threat.
    pub threat: bool,
    /// When it became known.
    pub known_at: DateTime<Utc>,
    /// A denial with no person could have ended it: the guardrails would
    /// not have put a denial to a person
    /// ([`crate::guardrails::denial_needs_a_person`]).
    pub deniable: bool,
}

/// How far back the known verdicts reach (the live check reads this window
/// of the store; replay keeps it as the recording advances).
pub const KNOWN_WINDOW: chrono::TimeDelta = chrono::TimeDelta::days(30);

/// The most recent known verdicts, threats and false positives apart; and,
/// of every one in the [`KNOWN_WINDOW`] a denial could have ended, when it
/// became known, the bin of its risk score and whether it was a threat.
#[derive(Clone, Debug, Default)]
pub struct KnownVerdicts {
    threats: VecDeque<KnownVerdict>,
    false_positives: VecDeque<KnownVerdict>,
    deniable: VecDeque<(DateTime<Utc>, usize, bool)>,
}

impl KnownVerdicts {
    /// Adds a verdict (they come oldest first).
    pub fn push(&mut self, v: KnownVerdict) {
        while self
            .deniable
            .front()
            .is_some_and(|(at, _, _)| v.known_at - *at > KNOWN_WINDOW)
        {
            self.deniable.pop_front();
        }
        if v.deniable {
            self.deniable
                .push_back((v.known_at, n::score_bin(v.risk.score), v.threat));
        }
        let list = if v.threat {
            &mut self.threats
        } else {
            &mut self.false_positives
        };
        if list.len() == KEEP_KNOWN {
            list.pop_front();
        }
        list.push_back(v);
    }

    /// Every known verdict: threats, then false positives.
    pub fn iter(&self) -> impl Iterator<Item = &KnownVerdict> {
        self.threats.iter().chain(self.false_positives.iter())
    }

    /// Known threats, known false positives.
    pub fn len(&self) -> (usize, usize) {
        (self.threats.len(), self.false_positives.len())
    }

    /// Threats and false positives a denial could have ended, by the bin of
    /// their risk score.
    fn deniable_by_bin(&self) -> [[u32; 2]; n::VERDICT_BINS] {
        let mut counts = [[0u32; 2]; n::VERDICT_BINS];
        for &(_, bin, threat) in &self.deniable {
            counts[bin][usize::from(threat)] += 1;
        }
        counts
    }

    /// The learner's `known_by_score.*` settings: the known verdicts of the
    /// [`KNOWN_WINDOW`] a denial with no person could have ended, counted by
    /// the bin of the risk score they were given. (The guardrails put a
    /// critical module's kill, or one of a module that always requires
    /// approval, to a person whatever the strategy says, so people's
    /// verdicts on those say nothing about where to deny alone.)
    pub fn by_score(&self) -> NamedValues {
        self.deniable_by_bin()
            .iter()
            .enumerate()
            .flat_map(|(bin, [fps, threats])| {
                [
                    (n::known_by_score(false, bin), f64::from(*fps)),
                    (n::known_by_score(true, bin), f64::from(*threats)),
                ]
            })
            .collect()
    }
}

/// Whether `proposed` denies more without a person than `current`: a lower
/// deny bar.
pub fn denies_more(current: &NamedValues, proposed: &NamedValues) -> bool {
    let get = |t: &NamedValues| t.get(n::AUTO_DENY_MIN_RISK_SCORE).copied().unwrap_or(1.0);
    get(proposed) < get(current)
}

/// Above this share of false positives among the kills a proposal would
/// deny with no person, denying them costs more than having a person look
/// (a false positive left down unowned costs about ten looks).
pub const ACCEPTABLE_FALSE_POSITIVES_DENIED: f64 = 0.1;

/// How many kills of known truth, scored at or over a lowered deny bar (or
/// the bin edge under it its check reaches), the host needs before it
/// believes false positives among them are rarer than
/// [`ACCEPTABLE_FALSE_POSITIVES_DENIED`] (with none among thirty, the 95%
/// upper bound is about 0.08).
pub const MIN_DENY_EVIDENCE: usize = 30;

/// Whether `proposed` loosens any gate on automation compared with
/// `current`: a lower confidence bar, a higher score limit, a wider band.
pub fn widens(current: &NamedValues, proposed: &NamedValues) -> bool {
    let get = |t: &NamedValues, k: &str| t.get(k).copied().unwrap_or(f64::NAN);
    let lower = |k: &str| get(proposed, k) < get(current, k);
    let higher = |k: &str| get(proposed, k) > get(current, k);
    lower(n::AUTO_APPROVE_MIN_CONFIDENCE)
        || higher(n::AUTO_APPROVE_MAX_RISK_SCORE)
        || [n::RISK_MINIMAL, n::RISK_LOW, n::RISK_MEDIUM, n::RISK_HIGH]
            .iter()
            .any(|k| higher(k))
}

/// What judges a kill as a decision would: the configuration, the mode and
/// the strategy in force.
#[derive(Clone, Copy)]
pub struct Judge<'a> {
    pub config: &'a Config,
    pub mode: Mode,
    pub strategy: &'a Plugin,
}

/// Why `proposed` must be refused, if it must: it denies more with no
/// person and the kills of known truth do not show that few false
/// positives would be left down ([`denies_too_many_false_positives`]); or
/// it widens automation within [`QUIET_AFTER_UNSAFE`] of an unsafe outcome;
/// or, replayed through the strategy and the guardrails on the kills whose
/// truth is known, it would have revived one known to be a threat; or it
/// would automate too few kills known to be false positives to show that
/// threats among them are rare ([`MIN_CLEAN_EVIDENCE`]).
pub fn refuse(
    judge: &Judge<'_>,
    current: &NamedValues,
    proposed: &NamedValues,
    known: &KnownVerdicts,
    last_unsafe: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<String> {
    if denies_more(current, proposed)
        && let Some(why) = denies_too_many_false_positives(proposed, known)
    {
        return Some(why);
    }
    if !widens(current, proposed) {
        return None;
    }
    if let Some(at) = last_unsafe.filter(|at| now - *at < QUIET_AFTER_UNSAFE) {
        return Some(format!(
            "it widens automation, and a threat revived automatically came to light at {} (less than {} days ago)",
            at.to_rfc3339(),
            QUIET_AFTER_UNSAFE.num_days()
        ));
    }
    let automated =
        |v: &KnownVerdict| outcome_under(judge, proposed, v) == DecisionOutcome::ApproveAuto;
    if let Some(t) = known.threats.iter().find(|t| automated(t)) {
        return Some(format!(
            "under it, kill {} of {} (known to be a threat, risk {:.3}) would have been revived automatically",
            t.kill.kill_id, t.kill.target_module, t.risk.score
        ));
    }
    let clean = known
        .false_positives
        .iter()
        .filter(|v| automated(v))
        .count();
    (clean < MIN_CLEAN_EVIDENCE).then(|| {
        format!(
            "under it, only {clean} kills known to be false positives would be automated (and none known to be a threat); {MIN_CLEAN_EVIDENCE} are needed to show threats there are rarer than {ACCEPTABLE_THREAT_SHARE}"
        )
    })
}

/// The outcome `v` would get under `thresholds`, judged by the strategy and
/// the guardrails exactly as a decision is made.
fn outcome_under(judge: &Judge<'_>, thresholds: &NamedValues, v: &KnownVerdict) -> DecisionOutcome {
    let risk = RiskAssessment {
        level: level_for(v.risk.score, thresholds),
        ..v.risk.clone()
    };
    let req = DecideRequest {
        kill: &v.kill,
        context: v.context.as_ref(),
        profile: &v.profile,
        thresholds,
        risk: &risk,
    };
    let verdict = judge.strategy.decide(&req);
    rule(
        &Rule {
            config: judge.config,
            mode: judge.mode,
            kill: &v.kill,
            profile: &v.profile,
            has_context: v.context.is_some(),
            risk: Ok(&risk),
            verdict: Some(verdict.as_ref()),
            thresholds,
            now: v.kill.timestamp,
            // Judgement, not the state of execution, is what is checked.
            acting: None,
        },
        &mut HourlyWindow::default(),
    )
    .outcome
}

/// Why a proposal that denies more must be refused, if it must. Judged on
/// the kills of known truth a denial could have ended, by the bins of their
/// risk score, from the top: it passes when, at some bin edge at or under
/// its deny bar, the kills scored at or over that edge are at least
/// [`MIN_DENY_EVIDENCE`] and false positives among them are rarer than
/// [`ACCEPTABLE_FALSE_POSITIVES_DENIED`] even at the 95% upper bound, with
/// no bin among them worse than that even at its lower bound. (The kills
/// the bar denies are among those; a step into scores where little is
/// known yet is judged with what lies below it, which the next steps
/// would reach.) The bar denies by the score alone, so these are the kills
/// it would deny.
fn denies_too_many_false_positives(
    proposed: &NamedValues,
    known: &KnownVerdicts,
) -> Option<String> {
    use medic_plugin_logic::stats::{wilson_lower, wilson_upper};
    let bar = proposed
        .get(n::AUTO_DENY_MIN_RISK_SCORE)
        .copied()
        .unwrap_or(1.0);
    let bins = n::VERDICT_BINS as f64;
    let first = ((bar * bins) - 1e-9).ceil().max(0.0) as usize;
    let (mut threats, mut fps) = (0u64, 0u64);
    let mut why = None;
    for (bin, [fp, th]) in known.deniable_by_bin().iter().enumerate().rev() {
        let (th, fp) = (u64::from(*th), u64::from(*fp));
        let edge = bin as f64 / bins;
        if wilson_lower(fp, th + fp) > ACCEPTABLE_FALSE_POSITIVES_DENIED {
            why = Some(format!(
                "{fp} of the {} kills of known truth scored {edge:.2}–{:.2} were false positives: more than {ACCEPTABLE_FALSE_POSITIVES_DENIED} even at the lower bound",
                th + fp,
                edge + 1.0 / bins
            ));
            break;
        }
        threats += th;
        fps += fp;
        let denied = threats + fps;
        if bin > first || denied < MIN_DENY_EVIDENCE as u64 {
            continue;
        }
        let upper = wilson_upper(fps, denied);
        if upper < ACCEPTABLE_FALSE_POSITIVES_DENIED {
            return None;
        }
        why = Some(format!(
            "of the {denied} kills of known truth scored at or over {edge:.2} that a denial with no person could end, {fps} were false positives (up to {upper:.3} at the 95% bound; {ACCEPTABLE_FALSE_POSITIVES_DENIED} or more leaves too many down)"
        ));
    }
    Some(why.unwrap_or_else(|| {
        format!(
            "only {} kills of known truth could be denied with no person; {MIN_DENY_EVIDENCE} are needed to judge how often such a denial leaves a false positive down",
            threats + fps
        )
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowering_the_bar_or_raising_a_limit_widens() {
        let c = Config::embedded().unwrap();
        let base = crate::plugin::thresholds_from_config(&c);
        let mut p = base.clone();
        assert!(!widens(&base, &p));
        p.insert(n::AUTO_APPROVE_MIN_CONFIDENCE.into(), 0.8);
        assert!(widens(&base, &p));
        let mut p = base.clone();
        p.insert(n::RISK_LOW.into(), 0.35);
        assert!(!widens(&base, &p), "a narrower band does not widen");
        p.insert(n::AUTO_APPROVE_MAX_RISK_SCORE.into(), 0.5);
        assert!(widens(&base, &p));
    }

    /// A known verdict of `module`, scored `score`, known `days_ago`.
    fn verdict(threat: bool, score: f64, deniable: bool, days_ago: i64) -> KnownVerdict {
        let at = Utc::now() - chrono::TimeDelta::days(days_ago);
        let kill = crate::ingest::validate::kill_report(
            &serde_json::json!({"kill_id": format!("k-{score}-{days_ago}"), "timestamp": at.to_rfc3339(),
                "target_module": "web-1", "target_instance_id": "web-1-a",
                "kill_reason": "anomaly_behavior", "severity": "low", "confidence_score": 0.5,
                "source_agent": "smith"}),
            at,
        )
        .expect("a valid kill");
        KnownVerdict {
            kill,
            context: None,
            profile: ModuleProfile::new("web-1", crate::model::Criticality::Low, false),
            risk: RiskAssessment {
                level: crate::model::RiskLevel::Medium,
                score,
                factors: Vec::new(),
            },
            threat,
            known_at: at,
            deniable,
        }
    }

    fn known(verdicts: impl IntoIterator<Item = KnownVerdict>) -> KnownVerdicts {
        let mut k = KnownVerdicts::default();
        let mut all: Vec<_> = verdicts.into_iter().collect();
        all.sort_by_key(|v| v.known_at);
        for v in all {
            k.push(v);
        }
        k
    }

    fn bar(value: f64) -> NamedValues {
        [(n::AUTO_DENY_MIN_RISK_SCORE.to_string(), value)].into()
    }

    #[test]
    fn a_lower_deny_bar_needs_clean_evidence_among_the_kills_it_would_deny() {
        let threats = |n: usize, score: f64| (0..n).map(move |_| verdict(true, score, true, 1));
        let fps = |n: usize, score: f64| (0..n).map(move |_| verdict(false, score, true, 1));
        // Nothing known: refused.
        let why = denies_too_many_false_positives(&bar(0.9), &known([])).unwrap();
        assert!(why.contains("only 0 kills"), "{why}");
        // Forty threats scored 0.72, none a false positive: a step to 0.9
        // (into scores where nothing is known) is judged with them, and passes.
        assert_eq!(
            denies_too_many_false_positives(&bar(0.9), &known(threats(40, 0.72))),
            None
        );
        assert_eq!(
            denies_too_many_false_positives(&bar(0.7), &known(threats(40, 0.72))),
            None
        );
        // Five false positives among them: refused, with the counts.
        let why = denies_too_many_false_positives(
            &bar(0.7),
            &known(threats(40, 0.72).chain(fps(5, 0.73))),
        )
        .unwrap();
        assert!(why.contains("5 were false positives"), "{why}");
        // A bin surely worse than one in ten stops the look down: kills
        // under the bar do not vouch for it past that bin.
        let why = denies_too_many_false_positives(
            &bar(0.6),
            &known(
                threats(3, 0.82)
                    .chain(fps(20, 0.8))
                    .chain(threats(200, 0.62)),
            ),
        )
        .unwrap();
        assert!(why.contains("even at the lower bound"), "{why}");
        // Kills a denial could not have ended (the guardrails would have put
        // them to a person) and kills known over the window ago do not count.
        let why = denies_too_many_false_positives(
            &bar(0.7),
            &known(
                (0..40)
                    .map(|_| verdict(true, 0.72, false, 1))
                    .chain((0..40).map(|_| verdict(true, 0.72, true, 40))),
            ),
        )
        .unwrap();
        assert!(why.contains("only 0 kills"), "{why}");
        // Counting for the learner: by bin, threats and false positives.
        let by = known(threats(3, 0.72).chain(fps(2, 0.1))).by_score();
        assert_eq!(by[&n::known_by_score(true, 14)], 3.0);
        assert_eq!(by[&n::known_by_score(false, 2)], 2.0);
        assert_eq!(by[&n::known_by_score(false, 14)], 0.0);
        assert!(denies_more(&bar(1.0), &bar(0.9)) && !denies_more(&bar(0.9), &bar(1.0)));
    }
}
