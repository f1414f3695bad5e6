//! The `evidence` risk scorer and the `pessimistic` strategy.
//!
//! The scorer estimates how likely it is that the kill was right (a real
//! threat), on the log-odds scale, from the evidence Medic holds:
//!
//! - the module's own history of confirmed outcomes (false positives that
//!   came back and stayed, against re-kills, rollbacks and people's
//!   denials), as a Beta posterior around the fleet's share of threats;
//! - the SIEM's risk score and the false positives it has on record, read
//!   through calibration: the share of threats among known kills like this
//!   one (the host's `known.*` facts), with the model's own reading as a
//!   prior worth [`CALIBRATION_STRENGTH`] kills;
//! - the SIEM's threat indicators;
//! - Smith's confidence, weighted lightly (it is the claim being checked, not
//!   independent evidence), and the kind of kill.
//!
//! Every term carries a variance as well as a value, so the estimate has an
//! uncertainty: little history or no SIEM context widen it. The risk score
//! is the central likelihood times the module's impact (the harm to expect
//! from reviving it).
//!
//! The strategy acts alone only when even the cautious reading (the upper
//! end of the interval, counting kills nobody decided as threats) is safe:
//! `1 - HARM_WEIGHT x cautious likelihood x impact` at or above
//! `auto_approve.min_confidence`. It denies when the kill was right with
//! central likelihood 0.9 or more, or when its risk score reaches
//! `auto_deny.min_risk_score` (1 as shipped; the `calibrated` learner lowers
//! it where people denied nearly every kill scored as high), and sends the
//! rest to a human.
//! docs/decision-quality.md measures it.

use crate::types::{
    Criticality, DecideInput, DecisionOutcome, KillReason, ModuleProfile, NamedValue,
    RiskAssessment, RiskFactor, ScoreInput, SiemContext, Verdict,
};
use crate::values::{Bands, get, names};

/// The share of kills assumed to be right before any history is known.
pub const PRIOR_THREAT_SHARE: f64 = 0.3;
/// How many outcomes the prior is worth: a module's own history outweighs
/// it after a handful of confirmed outcomes.
pub const PRIOR_STRENGTH: f64 = 4.0;
/// How many standard deviations the pessimistic (and optimistic) readings
/// lie from the central estimate (about a 98% one-sided bound).
pub const Z: f64 = 2.0;
/// The SIEM's risk score, as log-odds above `SIEM_QUIET`, counts this much.
const SIEM_WEIGHT: f64 = 1.2;
/// The SIEM risk taken as saying nothing either way. Below one half: a
/// SIEM's risk for benign activity sits well under 0.5, so a middling risk
/// is not reassurance.
const SIEM_QUIET: f64 = 0.4;
/// How far the SIEM's calibration is trusted (variance of its term).
const SIEM_VARIANCE: f64 = 0.3;
/// A threat indicator's score, as log-odds above 0.5, counts this much.
const INDICATOR_WEIGHT: f64 = 1.5;
const INDICATOR_VARIANCE: f64 = 0.2;
/// Each false positive the SIEM has on record lowers the log-odds this much
/// (up to `FP_HISTORY_CAP` of them).
const FP_HISTORY_STEP: f64 = 0.4;
pub const FP_HISTORY_CAP: u32 = 5;
const FP_HISTORY_VARIANCE: f64 = 0.05;
/// Smith's confidence, as log-odds, counts this much: it is the claim under
/// review, so it is weighed, not trusted.
const SMITH_WEIGHT: f64 = 0.6;
const SMITH_VARIANCE: f64 = 0.1;
/// Without SIEM context the estimate rests on much less.
const NO_CONTEXT_VARIANCE: f64 = 1.5;
/// How many kills of known truth the model's own reading of a piece of
/// evidence is worth once Medic's history calibrates it: after a few dozen
/// known kills that resemble this one, what happened to them outweighs the
/// model.
pub const CALIBRATION_STRENGTH: f64 = 10.0;
/// Reviving a real threat is counted this many times worse than putting the
/// kill to a person (the replay cost model's default ratio) when the
/// strategy weighs whether it is safe to act alone: its confidence is
/// `1 - HARM_WEIGHT x cautious likelihood x impact`, so
/// `auto_approve.min_confidence` 0.85 lets it act alone only when the
/// cautious likelihood of a threat is under 0.15% / impact.
pub const HARM_WEIGHT: f64 = 100.0;
/// At or above this likelihood that the kill was right, it is denied
/// outright: leaving a false positive down unowned costs about ten looks by
/// a person, so denying pays once a false positive is under one in ten.
pub const DENY_AT: f64 = 0.9;

/// The likelihood that a kill was right, with its uncertainty.
#[derive(Clone, Debug, PartialEq)]
pub struct Estimate {
    pub log_odds: f64,
    pub variance: f64,
    /// How much further the cautious reading goes, in log-odds, because
    /// kills like this one were put to a person and nobody decided them
    /// (read as threats for the cautious reading only).
    pub caution: f64,
    /// Each term: its name, its log-odds shift (in `contribution`) and a
    /// line saying what it saw.
    pub terms: Vec<RiskFactor>,
}

/// `exp` and `ln` from the `libm` crate rather than the platform's: the
/// same code as the built-ins' own standard library on
/// `wasm32-unknown-unknown`, so the judgement compiled natively (tests,
/// benchmarks) gives the same bits as the plugins; the platform's libm may
/// round the last digit differently.
fn exp(x: f64) -> f64 {
    libm::exp(x)
}

fn ln(x: f64) -> f64 {
    libm::log(x)
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + exp(-x))
}

fn logit(p: f64) -> f64 {
    let p = p.clamp(0.01, 0.99);
    ln(p / (1.0 - p))
}

/// Log-odds without the clamp of [`logit`] (for shares estimated from
/// counts, which may be very small).
fn log_odds(p: f64) -> f64 {
    let p = p.clamp(1e-9, 1.0 - 1e-9);
    ln(p / (1.0 - p))
}

/// A share estimated as Beta(`alpha`, `beta`), on the log-odds scale: its
/// centre, and a variance read off its upper bound (`Z` standard deviations
/// above the mean share), so that a share near zero is neither given an
/// absurdly wide interval (as the log-odds' normal approximation would)
/// nor one narrower than its counts allow.
fn beta_log_odds(alpha: f64, beta: f64) -> (f64, f64) {
    let n = alpha + beta;
    let mean = alpha / n;
    let upper = mean + Z * (mean * (1.0 - mean) / (n + 1.0)).sqrt();
    let centre = ln(alpha / beta);
    let sd = (log_odds(upper) - centre).max(0.0) / Z;
    (centre, sd * sd)
}

/// What Medic's history says of kills like this one (named values the host
/// adds): kills of known truth in all, and those resembling this kill in
/// its SIEM risk and in its count of SIEM false positives on record (as
/// threats and false positives; undecided ones with the threats).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Known {
    threats: f64,
    false_positives: f64,
    /// (threats, false positives, undecided) among kills like this one.
    siem_risk: (f64, f64, f64),
    fp_history: (f64, f64, f64),
    indicators: (f64, f64, f64),
    smith_confidence: (f64, f64, f64),
    kill_reason: (f64, f64, f64),
}

impl Known {
    fn from_values(values: &[NamedValue]) -> Option<Known> {
        let n = |name: &str| get(values, name, 0.0).max(0.0);
        // (threats, false positives, unresolved) of one kind of evidence.
        let kind = |[t, f, u]: [&str; 3]| (n(t), n(f), n(u));
        use names::*;
        values
            .iter()
            .any(|v| v.name == KNOWN_THREATS && v.value.is_finite())
            .then(|| Known {
                threats: n(KNOWN_THREATS),
                false_positives: n(KNOWN_FALSE_POSITIVES),
                siem_risk: kind([
                    KNOWN_SIEM_RISK_THREATS,
                    KNOWN_SIEM_RISK_FALSE_POSITIVES,
                    KNOWN_SIEM_RISK_UNRESOLVED,
                ]),
                fp_history: kind([
                    KNOWN_FP_HISTORY_THREATS,
                    KNOWN_FP_HISTORY_FALSE_POSITIVES,
                    KNOWN_FP_HISTORY_UNRESOLVED,
                ]),
                indicators: kind([
                    KNOWN_INDICATORS_THREATS,
                    KNOWN_INDICATORS_FALSE_POSITIVES,
                    KNOWN_INDICATORS_UNRESOLVED,
                ]),
                smith_confidence: kind([
                    KNOWN_SMITH_CONFIDENCE_THREATS,
                    KNOWN_SMITH_CONFIDENCE_FALSE_POSITIVES,
                    KNOWN_SMITH_CONFIDENCE_UNRESOLVED,
                ]),
                kill_reason: kind([
                    KNOWN_KILL_REASON_THREATS,
                    KNOWN_KILL_REASON_FALSE_POSITIVES,
                    KNOWN_KILL_REASON_UNRESOLVED,
                ]),
            })
    }
}

/// A piece of evidence read through Medic's history: the share of threats
/// among known kills that resemble this one, with the model's own reading
/// (`model_shift` from the base log-odds) as a prior worth
/// [`CALIBRATION_STRENGTH`] kills. Returns the shift from the base and its
/// variance.
fn calibrated(model_shift: f64, base: f64, (threats, fps): (f64, f64)) -> (f64, f64) {
    let prior = sigmoid(base + model_shift);
    let (centre, variance) = beta_log_odds(
        CALIBRATION_STRENGTH * prior + threats,
        CALIBRATION_STRENGTH * (1.0 - prior) + fps,
    );
    (centre - base, variance)
}

impl Estimate {
    /// The central likelihood that the kill was right.
    pub fn likely(&self) -> f64 {
        sigmoid(self.log_odds)
    }
    /// The pessimistic reading (the kill more likely right than the middle).
    pub fn upper(&self) -> f64 {
        sigmoid(self.log_odds + self.caution + Z * self.variance.sqrt())
    }
    /// The optimistic reading.
    pub fn lower(&self) -> f64 {
        sigmoid(self.log_odds - Z * self.variance.sqrt())
    }
}

/// Confirmed false positives and confirmed threats in a module's history:
/// resurrections that held, against re-kills, rollbacks and kills a person
/// denied (a fact the host passes as a named value).
fn history(p: &ModuleProfile, values: &[NamedValue]) -> (f64, f64) {
    let denied = get(values, names::MODULE_HUMAN_DENIALS, 0.0).max(0.0);
    let threats = f64::from(p.re_kills) + f64::from(p.rollbacks) + denied;
    let false_positives = f64::from(p.false_positives.max(p.successful_resurrections));
    (false_positives, threats)
}

/// Which terms of an estimate get their detail written: formatting the
/// numbers is most of an estimate's cost, and a strategy that quotes one
/// term needs only that one's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Describe<'a> {
    All,
    Only(&'a str),
    None,
}

impl Describe<'_> {
    fn wants(self, name: &str) -> bool {
        match self {
            Describe::All => true,
            Describe::Only(n) => n == name,
            Describe::None => false,
        }
    }
}

/// One piece of evidence: its log-odds shift is kept in `contribution`
/// until [`as_factors`] turns the terms into the contract's [0, 1] factors.
/// Its detail is written only when `describe` wants it (empty otherwise).
fn term(
    terms: &mut Vec<RiskFactor>,
    describe: Describe<'_>,
    name: &str,
    shift: f64,
    detail: impl FnOnce() -> String,
) {
    let detail = if describe.wants(name) {
        use std::fmt::Write;
        let mut d = detail();
        let _ = write!(d, " (log-odds {shift:+.2})");
        d
    } else {
        String::new()
    };
    terms.push(RiskFactor {
        name: name.to_string(),
        value: 0.0,
        weight: 0.0,
        contribution: shift,
        detail,
    });
}

/// The terms as risk factors: each one's `value` is what it alone says of
/// the kill (the likelihood it was right, from that term's shift), its
/// `weight` its share of all the evidence (by the size of its shift), and
/// its `contribution` the two multiplied, so the contributions sum to the
/// evidence's weighted verdict.
pub fn as_factors(terms: Vec<RiskFactor>) -> Vec<RiskFactor> {
    let total: f64 = terms.iter().map(|t| t.contribution.abs()).sum();
    terms
        .into_iter()
        .map(|t| {
            let value = sigmoid(t.contribution);
            let weight = if total > 0.0 {
                t.contribution.abs() / total
            } else {
                0.0
            };
            RiskFactor {
                name: t.name,
                value,
                weight,
                contribution: (value * weight).clamp(0.0, 1.0),
                detail: t.detail,
            }
        })
        .collect()
}

/// Estimates how likely the kill was right, from the kill, the SIEM context
/// and the module's history, with the details of only the terms `describe`
/// wants.
pub fn estimate_described(
    kill: &crate::types::KillReport,
    context: Option<&SiemContext>,
    profile: &ModuleProfile,
    values: &[NamedValue],
    describe: Describe<'_>,
) -> Estimate {
    let mut terms = Vec::with_capacity(6);
    let known = Known::from_values(values);
    // The base: the share of threats among all kills of known truth (the
    // assumed share until there are some).
    let base_alpha = PRIOR_THREAT_SHARE * PRIOR_STRENGTH + known.map_or(0.0, |k| k.threats);
    let base_beta =
        (1.0 - PRIOR_THREAT_SHARE) * PRIOR_STRENGTH + known.map_or(0.0, |k| k.false_positives);
    let base = ln(base_alpha / base_beta);
    let base_share = base_alpha / (base_alpha + base_beta);
    let (fps, threats) = history(profile, values);
    let (prior, mut variance) = beta_log_odds(
        base_share * PRIOR_STRENGTH + threats,
        (1.0 - base_share) * PRIOR_STRENGTH + fps,
    );
    term(&mut terms, describe, "module_history", prior, || {
        format!(
            "{} confirmed false positive(s), {} confirmed threat(s) (re-kills, rollbacks, denied by a person) for {}{}",
            fps,
            threats,
            profile.module,
            known.map_or(String::new(), |k| format!(
                ", against {} and {} in all Medic's history",
                k.false_positives, k.threats
            ))
        )
    });
    let mut log_odds = prior;
    // One calibrated piece of evidence: the model's shift, or, with
    // history, what happened to the known kills that resembled this one.
    // The cautious reading counts the undecided ones as threats: otherwise
    // a queue nobody works would leave only the false positives that came
    // back automatically in view, and the history would look cleaner than
    // it is. (The central estimate, which decides denials, does not.)
    let mut caution = 0.0;
    let mut read = |model: f64, model_variance: f64, counts: Option<(f64, f64, f64)>| match counts {
        Some((t, f, u)) => {
            let (shift, variance) = calibrated(model, base, (t, f));
            if u > 0.0 {
                caution += (calibrated(model, base, (t + u, f)).0 - shift).max(0.0);
            }
            (shift, variance)
        }
        None => (model, model_variance),
    };
    let seen = |counts: Option<(f64, f64, f64)>| {
        counts.map_or(String::new(), |(t, f, u)| {
            format!(
                "; of known kills like it, {t} threat(s) and {f} false positive(s){}",
                if u > 0.0 {
                    format!(", and {u} put to a person that nobody decided")
                } else {
                    String::new()
                }
            )
        })
    };

    match context {
        Some(ctx) => {
            let risk = if ctx.risk_score.is_finite() {
                ctx.risk_score
            } else {
                0.5
            };
            let counts = known.map(|k| k.siem_risk);
            let (shift, v) = read(
                SIEM_WEIGHT * (logit(risk) - logit(SIEM_QUIET)),
                SIEM_VARIANCE,
                counts,
            );
            log_odds += shift;
            variance += v;
            term(&mut terms, describe, "siem_risk_score", shift, || {
                format!("SIEM risk {risk:.2}{}", seen(counts))
            });
            let strongest = crate::values::strongest_indicator(ctx);
            let counts = known.map(|k| k.indicators);
            let (shift, v) = if strongest > 0.5 {
                read(
                    INDICATOR_WEIGHT * logit(strongest),
                    INDICATOR_VARIANCE,
                    counts,
                )
            } else {
                read(0.0, 0.0, counts)
            };
            log_odds += shift;
            variance += v;
            if strongest > 0.0 || shift != 0.0 {
                term(&mut terms, describe, "threat_indicators", shift, || {
                    format!(
                        "{} indicator(s){}{}",
                        ctx.indicator_count,
                        if strongest > 0.0 {
                            format!(", strongest {strongest:.2}")
                        } else {
                            String::new()
                        },
                        seen(counts)
                    )
                });
            }
            let on_record = ctx.false_positive_history.min(FP_HISTORY_CAP);
            let counts = known.map(|k| k.fp_history);
            let (shift, v) = read(
                -FP_HISTORY_STEP * f64::from(on_record),
                FP_HISTORY_VARIANCE,
                counts,
            );
            log_odds += shift;
            variance += v;
            term(
                &mut terms,
                describe,
                "false_positive_history",
                shift,
                || {
                    format!(
                        "the SIEM has {} earlier false positive(s) on record{}",
                        ctx.false_positive_history,
                        seen(counts)
                    )
                },
            );
        }
        None => {
            variance += NO_CONTEXT_VARIANCE;
            term(&mut terms, describe, "siem_risk_score", 0.0, || {
                "no SIEM context: the estimate is much less certain".to_string()
            });
        }
    }

    // Smith's claim: its confidence and its reason, each calibrated like
    // the SIEM's evidence once Medic knows how kills like it turned out
    // (only with SIEM context: without it nothing is acted on alone).
    let confidence = kill.confidence_score;
    let reason_shift = match kill.kill_reason {
        KillReason::ManualOverride => 3.0,
        KillReason::ThreatDetected => 0.4,
        KillReason::PolicyViolation => 0.2,
        KillReason::AnomalyBehavior => 0.0,
        KillReason::ResourceExhaustion => -0.3,
        KillReason::DependencyCascade => -0.7,
    };
    let claim =
        |k: Known, pick: fn(&Known) -> (f64, f64, f64)| context.is_some().then_some(pick(&k));
    let counts = known.and_then(|k| claim(k, |k| k.smith_confidence));
    let (shift, v) = read(SMITH_WEIGHT * logit(confidence), SMITH_VARIANCE, counts);
    log_odds += shift;
    variance += v;
    term(&mut terms, describe, "smith_confidence", shift, || {
        format!("Smith's confidence {confidence:.2}{}", seen(counts))
    });
    let counts = known.and_then(|k| claim(k, |k| k.kill_reason));
    let (shift, v) = read(reason_shift, 0.0, counts);
    log_odds += shift;
    variance += v;
    term(&mut terms, describe, "kill_reason", shift, || {
        format!("reason {}{}", kill.kill_reason.as_str(), seen(counts))
    });
    Estimate {
        log_odds,
        variance,
        caution,
        terms,
    }
}

/// How much harm reviving a real threat in a module of this criticality
/// would do, relative to the worst case.
pub fn impact(criticality: Criticality) -> f64 {
    match criticality {
        Criticality::Low => 0.55,
        Criticality::Medium => 0.7,
        Criticality::High => 0.8,
        Criticality::Critical => 1.0,
    }
}

/// A module where at least this share of resurrections turned out to be
/// threats (re-killed or rolled back) is not resurrected without a human,
/// whatever the kill looks like: bringing kills back there has gone wrong.
pub const BURNT_SHARE: f64 = 0.1;

/// Why a module's resurrections rule automation out, if they do.
fn burnt(profile: &ModuleProfile) -> Option<String> {
    let wrong = f64::from(profile.re_kills) + f64::from(profile.rollbacks);
    let all = f64::from(profile.resurrections).max(wrong);
    (wrong > 0.0 && wrong / all >= BURNT_SHARE).then(|| {
        format!(
            "{wrong} of {all} resurrections of {} were re-killed or rolled back",
            profile.module
        )
    })
}

/// Scores one kill: the likelihood that it was right, times the module's
/// impact (the harm to expect from reviving it). A real threat on a module
/// of high criticality scores at most 0.8 (high); only a critical module's
/// can reach critical. The factors are the estimate's terms.
pub fn score(input: &ScoreInput) -> Result<RiskAssessment, String> {
    let confidence = input.kill.confidence_score;
    if !(0.0..=1.0).contains(&confidence) {
        return Err(format!(
            "kill.confidence_score {confidence} is outside [0, 1]"
        ));
    }
    // Formatting the details is most of an estimate's cost: written only
    // when someone will read them.
    let explain = crate::values::explains(&input.thresholds);
    let mut e = estimate_described(
        &input.kill,
        input.context.as_ref(),
        &input.profile,
        &input.thresholds,
        if explain {
            Describe::All
        } else {
            Describe::None
        },
    );
    let impact = impact(input.profile.criticality);
    let score = (e.likely() * impact).clamp(0.0, 1.0);
    let mut factors = as_factors(std::mem::take(&mut e.terms));
    factors.push(RiskFactor {
        name: "module_criticality".to_string(),
        value: impact,
        weight: 0.0,
        contribution: 0.0,
        detail: if explain {
            format!(
                "likely right {:.2} (between {:.2} and {:.2}) x impact {impact} of a {} module",
                e.likely(),
                e.lower(),
                e.upper(),
                input.profile.criticality.as_str()
            )
        } else {
            String::new()
        },
    });
    Ok(RiskAssessment {
        level: Bands::from_values(&input.thresholds).level(score),
        score,
        factors,
    })
}

/// The `pessimistic` strategy: automation only where even the cautious
/// reading of the evidence is safe, denial where the kill was right with
/// likelihood [`DENY_AT`] or more, a human for everything between.
pub fn pessimistic(input: &DecideInput) -> Verdict {
    let risk = &input.risk;
    let min_confidence = get(&input.thresholds, names::AUTO_APPROVE_MIN_CONFIDENCE, 0.85);
    let max_score = get(&input.thresholds, names::AUTO_APPROVE_MAX_RISK_SCORE, 0.4);
    // The numbers first; then the one term the reasoning quotes, described
    // (the same numbers: the estimate is a pure function of its input).
    let weighed = |describe| {
        estimate_described(
            &input.kill,
            input.context.as_ref(),
            &input.profile,
            &input.thresholds,
            describe,
        )
    };
    let e = weighed(Describe::None);
    let explain = crate::values::explains(&input.thresholds);
    let top = e
        .terms
        .iter()
        .filter(|_| explain)
        .max_by(|a, b| a.contribution.abs().total_cmp(&b.contribution.abs()))
        .map(|t| weighed(Describe::Only(&t.name)))
        .and_then(|described| {
            described
                .terms
                .into_iter()
                .max_by(|a, b| a.contribution.abs().total_cmp(&b.contribution.abs()))
        });
    // How sure it is that resurrecting does no harm: the cautious
    // likelihood of a threat, times the module's impact, weighed
    // HARM_WEIGHT to one.
    let harm = HARM_WEIGHT * e.upper() * impact(input.profile.criticality);
    let safe = (1.0 - harm).clamp(0.0, 1.0);
    let mut reasoning = vec![
        "pessimistic strategy".to_string(),
        format!(
            "the kill was right with likelihood {:.2} (between {:.2} and {:.2}); risk {} ({:.2})",
            e.likely(),
            e.lower(),
            e.upper(),
            risk.level.as_str(),
            risk.score
        ),
    ];
    if let Some(top) = top {
        reasoning.push(format!(
            "weightiest evidence: {} ({})",
            top.name, top.detail
        ));
    }
    let deny_score = get(&input.thresholds, names::AUTO_DENY_MIN_RISK_SCORE, 1.0);
    let (outcome, confidence) = if e.likely() >= DENY_AT {
        reasoning.push(format!(
            "the kill was right with likelihood {:.2} (>= {DENY_AT}): keep it down",
            e.likely()
        ));
        (DecisionOutcome::Deny, e.likely())
    } else if risk.score >= deny_score {
        reasoning.push(format!(
            "risk {:.2} >= auto_deny.min_risk_score {deny_score:.2} (people denied kills scored like this): keep it down",
            risk.score
        ));
        (DecisionOutcome::Deny, e.likely())
    } else if input.context.is_none() {
        reasoning.push("no SIEM context to confirm it: a human decides".to_string());
        (DecisionOutcome::PendingReview, safe)
    } else if input.profile.always_require_approval {
        reasoning.push("the module always requires approval".to_string());
        (DecisionOutcome::PendingReview, safe)
    } else if let Some(why) = burnt(&input.profile) {
        reasoning.push(format!("{why}: a human decides"));
        (DecisionOutcome::PendingReview, safe)
    } else if input.kill.kill_reason == KillReason::ManualOverride {
        reasoning.push("a manual override is never undone automatically".to_string());
        (DecisionOutcome::PendingReview, safe)
    } else if safe >= min_confidence && risk.score <= max_score {
        reasoning.push(format!(
            "even the cautious reading is safe: 1 - {HARM_WEIGHT} x {:.4} x impact = {safe:.2} >= {min_confidence:.2}: resurrect automatically",
            e.upper()
        ));
        (DecisionOutcome::ApproveAuto, safe)
    } else {
        reasoning.push(format!(
            "not sure enough to act alone (1 - {HARM_WEIGHT} x {:.4} x impact = {safe:.2} < {min_confidence:.2}, or risk {:.2} > {max_score:.2}): a human decides",
            e.upper(),
            risk.score
        ));
        (DecisionOutcome::PendingReview, safe)
    };
    crate::strategies::verdict(input, outcome, confidence, reasoning)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;
    use crate::types::RiskLevel;

    /// The facts a host adds once its history holds kills of known truth:
    /// (threats, false positives) in all, and of them those resembling the
    /// kill in its SIEM risk (`near`); in its count on record, indicator,
    /// Smith's confidence and reason they are as in all (that evidence
    /// says nothing).
    fn known(input: &mut ScoreInput, all: (f64, f64), near: (f64, f64)) {
        for (name, value) in [
            (names::KNOWN_THREATS, all.0),
            (names::KNOWN_FALSE_POSITIVES, all.1),
            (names::KNOWN_SIEM_RISK_THREATS, near.0),
            (names::KNOWN_SIEM_RISK_FALSE_POSITIVES, near.1),
            (names::KNOWN_FP_HISTORY_THREATS, all.0),
            (names::KNOWN_FP_HISTORY_FALSE_POSITIVES, all.1),
            (names::KNOWN_INDICATORS_THREATS, all.0),
            (names::KNOWN_INDICATORS_FALSE_POSITIVES, all.1),
            (names::KNOWN_SMITH_CONFIDENCE_THREATS, all.0),
            (names::KNOWN_SMITH_CONFIDENCE_FALSE_POSITIVES, all.1),
            (names::KNOWN_KILL_REASON_THREATS, all.0),
            (names::KNOWN_KILL_REASON_FALSE_POSITIVES, all.1),
        ] {
            input.thresholds.push(NamedValue {
                name: name.into(),
                value,
            });
        }
    }

    /// A benign-looking kill on a fleet whose history shows kills like it
    /// were false positives (2,000 of them, no threat).
    fn calibrated_low_risk() -> ScoreInput {
        let mut input = fixtures::low_risk();
        known(&mut input, (1_500.0, 4_000.0), (0.0, 2_000.0));
        input
    }

    fn estimated(input: &ScoreInput) -> Estimate {
        estimate_described(
            &input.kill,
            input.context.as_ref(),
            &input.profile,
            &input.thresholds,
            Describe::All,
        )
    }

    fn decide(input: ScoreInput) -> Verdict {
        let risk = score(&input).unwrap();
        pessimistic(&DecideInput::new(input, risk, Vec::new()))
    }

    /// Describing only the term a strategy quotes changes nothing: the same
    /// numbers, and the quoted term's detail as the fully described
    /// estimate writes it (the scorer's factors keep every detail).
    #[test]
    fn pessimistic_quotes_the_weightiest_term_as_the_full_estimate_describes_it() {
        for input in [
            fixtures::low_risk(),
            calibrated_low_risk(),
            fixtures::critical_threat(),
        ] {
            let full = estimated(&input);
            let bare = estimate_described(
                &input.kill,
                input.context.as_ref(),
                &input.profile,
                &input.thresholds,
                Describe::None,
            );
            assert_eq!(full.log_odds, bare.log_odds);
            assert_eq!(full.variance, bare.variance);
            assert!(bare.terms.iter().all(|t| t.detail.is_empty()));
            assert!(full.terms.iter().all(|t| t.detail.contains("(log-odds ")));
            let top = full
                .terms
                .iter()
                .max_by(|a, b| a.contribution.abs().total_cmp(&b.contribution.abs()))
                .unwrap();
            let quoted = format!("weightiest evidence: {} ({})", top.name, top.detail);
            let factors = score(&input).unwrap().factors;
            assert!(
                factors
                    .iter()
                    .any(|f| f.name == top.name && f.detail == top.detail)
            );
            assert!(decide(input).reasoning.contains(&quoted), "{quoted}");
        }
    }

    /// With `call.explain` 0 (replay) the scorer writes no details and the
    /// strategy quotes no term, and nothing they decide changes: the same
    /// score, level, factors' numbers, outcome and confidence.
    #[test]
    fn unexplained_calls_decide_exactly_as_explained_ones_without_the_words() {
        for input in [
            fixtures::low_risk(),
            calibrated_low_risk(),
            fixtures::critical_threat(),
            fixtures::low_risk_without_context(),
        ] {
            let quiet = fixtures::unexplained(&input);
            let (told, untold) = (score(&input).unwrap(), score(&quiet).unwrap());
            fixtures::assert_same_numbers_without_words(&told, &untold);
            let (said, unsaid) = (decide(input), decide(quiet));
            assert_eq!(
                (said.outcome, said.confidence),
                (unsaid.outcome, unsaid.confidence)
            );
            assert!(
                said.reasoning
                    .iter()
                    .any(|r| r.starts_with("weightiest evidence"))
            );
            assert!(
                !unsaid
                    .reasoning
                    .iter()
                    .any(|r| r.starts_with("weightiest evidence"))
            );
        }
    }

    #[test]
    fn a_benign_kill_with_context_is_scored_low_and_approved_once_history_confirms_it() {
        let r = score(&fixtures::low_risk()).unwrap();
        assert!(r.level <= RiskLevel::Low, "{r:?}");
        // With no kill of known truth the model alone is not enough to act.
        assert_eq!(
            decide(fixtures::low_risk()).outcome,
            DecisionOutcome::PendingReview
        );
        let v = decide(calibrated_low_risk());
        assert_eq!(v.outcome, DecisionOutcome::ApproveAuto, "{v:?}");
        assert!(v.confidence >= 0.85);
    }

    #[test]
    fn a_kill_scored_at_the_deny_bar_is_denied_and_one_below_it_goes_to_a_person() {
        let score_of = score(&fixtures::low_risk()).unwrap().score;
        let with_bar = |bar: f64| {
            let mut input = fixtures::low_risk();
            input.thresholds.push(NamedValue {
                name: names::AUTO_DENY_MIN_RISK_SCORE.into(),
                value: bar,
            });
            decide(input)
        };
        let v = with_bar(score_of);
        assert_eq!(v.outcome, DecisionOutcome::Deny, "{v:?}");
        assert!(
            v.reasoning
                .iter()
                .any(|r| r.contains("auto_deny.min_risk_score"))
        );
        assert_eq!(
            with_bar(score_of + 0.01).outcome,
            DecisionOutcome::PendingReview
        );
    }

    #[test]
    fn threats_among_known_kills_like_this_one_hold_it_back() {
        // The same kill, where history shows one kill in twenty like it was
        // a threat: never automatic.
        let mut input = fixtures::low_risk();
        known(&mut input, (1_500.0, 4_000.0), (100.0, 1_900.0));
        let e = estimated(&input);
        let clean = calibrated_low_risk();
        let c = estimated(&clean);
        assert!(
            e.upper() > 5.0 * c.upper(),
            "{} vs {}",
            e.upper(),
            c.upper()
        );
        assert_eq!(decide(input).outcome, DecisionOutcome::PendingReview);
    }

    #[test]
    fn kills_nobody_decided_make_the_cautious_reading_wary_but_not_the_central_one() {
        let clean = calibrated_low_risk();
        let mut waiting = calibrated_low_risk();
        for name in [
            names::KNOWN_SIEM_RISK_UNRESOLVED,
            names::KNOWN_FP_HISTORY_UNRESOLVED,
        ] {
            waiting.thresholds.push(NamedValue {
                name: name.into(),
                value: 500.0,
            });
        }
        let c = estimated(&clean);
        let w = estimated(&waiting);
        assert_eq!(
            c.likely(),
            w.likely(),
            "denials do not follow an unworked queue"
        );
        assert!(
            w.upper() > 10.0 * c.upper(),
            "{} vs {}",
            w.upper(),
            c.upper()
        );
        assert_eq!(decide(clean).outcome, DecisionOutcome::ApproveAuto);
        assert_eq!(decide(waiting).outcome, DecisionOutcome::PendingReview);
    }

    #[test]
    fn smiths_confidence_its_reason_and_indicators_are_read_as_history_shows_them() {
        // The same kill on the same history, except for what known kills
        // with Smith's confidence, reason or indicator like this one's
        // turned out to be: half threats, or one in two hundred.
        for name in [
            (
                names::KNOWN_SMITH_CONFIDENCE_THREATS,
                names::KNOWN_SMITH_CONFIDENCE_FALSE_POSITIVES,
            ),
            (
                names::KNOWN_KILL_REASON_THREATS,
                names::KNOWN_KILL_REASON_FALSE_POSITIVES,
            ),
            (
                names::KNOWN_INDICATORS_THREATS,
                names::KNOWN_INDICATORS_FALSE_POSITIVES,
            ),
        ] {
            let with = |threats: f64, fps: f64| {
                let mut input = calibrated_low_risk();
                input
                    .thresholds
                    .retain(|v| v.name != name.0 && v.name != name.1);
                for (n, value) in [(name.0, threats), (name.1, fps)] {
                    input.thresholds.push(NamedValue {
                        name: n.into(),
                        value,
                    });
                }
                input
            };
            let wary = estimated(&with(1_000.0, 1_000.0));
            let calm = estimated(&with(10.0, 2_000.0));
            assert!(
                wary.likely() > 20.0 * calm.likely(),
                "{}: {} vs {}",
                name.0,
                wary.likely(),
                calm.likely()
            );
            assert_eq!(
                decide(with(1_000.0, 1_000.0)).outcome,
                DecisionOutcome::PendingReview,
                "{}",
                name.0
            );
        }
    }

    #[test]
    fn few_known_kills_leave_the_model_in_charge() {
        // Two known false positives like it move the estimate a little,
        // not to certainty.
        let model = fixtures::low_risk();
        let mut few = fixtures::low_risk();
        known(&mut few, (1.0, 2.0), (0.0, 2.0));
        let m = estimated(&model);
        let f = estimated(&few);
        assert!((m.likely() - f.likely()).abs() < 0.05, "{m:?} {f:?}");
    }

    #[test]
    fn a_real_threat_scores_high_but_critical_only_on_a_critical_module() {
        let mut input = fixtures::critical_threat();
        assert_eq!(score(&input).unwrap().level, RiskLevel::Critical);
        input.profile.criticality = Criticality::High;
        assert_eq!(score(&input).unwrap().level, RiskLevel::High);
    }

    #[test]
    fn a_strong_threat_is_denied() {
        let v = decide(fixtures::critical_threat());
        assert_eq!(v.outcome, DecisionOutcome::Deny, "{v:?}");
    }

    #[test]
    fn missing_context_widens_the_interval_and_goes_to_a_human() {
        let mut input = fixtures::low_risk();
        let with = score(&input).unwrap().score;
        input.context = None;
        let without = score(&input).unwrap().score;
        assert!(without > with);
        assert_eq!(decide(input).outcome, DecisionOutcome::PendingReview);
    }

    #[test]
    fn confirmed_threats_in_the_module_history_raise_the_score() {
        let mut input = fixtures::low_risk();
        let clean = score(&input).unwrap().score;
        input.profile.resurrections = 4;
        input.profile.re_kills = 3;
        input.profile.rollbacks = 1;
        let burnt = score(&input).unwrap().score;
        assert!(burnt > clean * 2.0, "{clean} -> {burnt}");
        assert_ne!(decide(input).outcome, DecisionOutcome::ApproveAuto);
    }

    #[test]
    fn confirmed_false_positives_narrow_the_interval() {
        // A borderline kill: SIEM risk 0.3, no false positives on record.
        let mut input = fixtures::low_risk();
        if let Some(c) = input.context.as_mut() {
            c.risk_score = 0.3;
            c.false_positive_history = 0;
        }
        assert_eq!(
            decide(input.clone()).outcome,
            DecisionOutcome::PendingReview
        );
        // Kills like it were threats one time in forty.
        known(&mut input, (1_500.0, 4_000.0), (15.0, 600.0));
        assert_eq!(
            decide(input.clone()).outcome,
            DecisionOutcome::PendingReview
        );
        input.profile.false_positives = 150;
        input.profile.successful_resurrections = 150;
        assert_eq!(decide(input).outcome, DecisionOutcome::ApproveAuto);
    }

    #[test]
    fn the_automation_limit_in_force_binds() {
        let mut input = calibrated_low_risk();
        input.thresholds.push(crate::NamedValue {
            name: names::AUTO_APPROVE_MIN_CONFIDENCE.into(),
            value: 1.0,
        });
        assert_eq!(decide(input).outcome, DecisionOutcome::PendingReview);
    }

    #[test]
    fn always_approve_modules_and_manual_overrides_go_to_a_human() {
        let mut input = calibrated_low_risk();
        input.profile.always_require_approval = true;
        assert_eq!(decide(input).outcome, DecisionOutcome::PendingReview);
        let mut input = calibrated_low_risk();
        input.kill.kill_reason = KillReason::ManualOverride;
        assert_ne!(decide(input).outcome, DecisionOutcome::ApproveAuto);
    }

    #[test]
    fn factors_stay_in_the_unit_interval_and_name_the_evidence() {
        for input in [fixtures::low_risk(), fixtures::critical_threat()] {
            let r = score(&input).unwrap();
            for f in &r.factors {
                for v in [f.value, f.weight, f.contribution] {
                    assert!((0.0..=1.0).contains(&v), "{f:?}");
                }
            }
            let weights: f64 = r.factors.iter().map(|f| f.weight).sum();
            assert!((weights - 1.0).abs() < 1e-9, "{r:?}");
            assert!(r.factors.iter().any(|f| f.name == "siem_risk_score"));
        }
    }

    #[test]
    fn the_interval_contains_the_central_estimate() {
        for input in [fixtures::low_risk(), fixtures::critical_threat()] {
            let e = estimated(&input);
            assert!(e.lower() < e.likely() && e.likely() < e.upper(), "{e:?}");
        }
    }
}
