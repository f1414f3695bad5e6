//! The `conservative`, `balanced` and `aggressive` strategies.
//!
//! Each turns a scored kill into a verdict and says why in `reasoning`. The
//! host's guardrails still apply afterwards; these only recommend.

use crate::types::{DecideInput, DecisionOutcome, RiskLevel, Verdict};
use crate::values::{get, names};

/// An indicator at or above this score is strong evidence of a real threat.
const STRONG_INDICATOR: f64 = 0.8;

/// Always human review: nothing comes back without a person saying so.
pub fn conservative(input: &DecideInput) -> Verdict {
    let mut reasoning =
        vec!["conservative strategy: every resurrection is reviewed by a human".to_string()];
    reasoning.push(risk_line(input));
    Verdict {
        outcome: DecisionOutcome::PendingReview,
        confidence: 1.0,
        reasoning,
        recommended_action: format!("queue {} for human review", input.profile.module),
        constraints: constraints(input),
        timeout_minutes: timeout(input),
    }
}

/// Auto-approves only clear low-risk kills with context, denies critical
/// ones and strong threats, and sends everything in between to a human.
pub fn balanced(input: &DecideInput) -> Verdict {
    let mut reasoning = vec!["balanced strategy".to_string(), risk_line(input)];
    let risk = &input.risk;
    let strongest = strongest_indicator(input);
    let min_confidence = get(&input.thresholds, names::AUTO_APPROVE_MIN_CONFIDENCE, 0.85);
    let max_auto_score = get(&input.thresholds, names::AUTO_APPROVE_MAX_RISK_SCORE, 0.4);

    let (outcome, confidence) = if risk.level == RiskLevel::Critical {
        reasoning.push("critical risk: do not resurrect".to_string());
        (DecisionOutcome::Deny, risk.score)
    } else if risk.level == RiskLevel::High && strongest >= STRONG_INDICATOR {
        reasoning.push(format!(
            "high risk with a strong threat indicator ({strongest:.2}): do not resurrect"
        ));
        (DecisionOutcome::Deny, risk.score.max(strongest))
    } else if risk.level >= RiskLevel::Medium {
        reasoning.push(format!(
            "{} risk: a human should decide",
            risk.level.as_str()
        ));
        (
            DecisionOutcome::PendingReview,
            1.0 - (risk.score - 0.5).abs(),
        )
    } else {
        let confidence = safe_confidence(input);
        match auto_blocker(input, confidence, min_confidence, max_auto_score, strongest) {
            Some(why) => {
                reasoning.push(format!("{} risk, but {why}", risk.level.as_str()));
                (DecisionOutcome::PendingReview, confidence)
            }
            None => {
                reasoning.push(format!(
                    "{} risk, context present, confidence {confidence:.2} >= {min_confidence:.2}: resurrect automatically",
                    risk.level.as_str()
                ));
                (DecisionOutcome::ApproveAuto, confidence)
            }
        }
    };
    verdict(input, outcome, confidence, reasoning)
}

/// Favours bringing services back: auto-approves up to medium risk unless
/// the SIEM holds a strong indicator, reviews high risk, denies critical.
pub fn aggressive(input: &DecideInput) -> Verdict {
    let mut reasoning = vec!["aggressive strategy".to_string(), risk_line(input)];
    let risk = &input.risk;
    let strongest = strongest_indicator(input);
    let (outcome, confidence) = match risk.level {
        RiskLevel::Critical => {
            reasoning.push("critical risk: do not resurrect".to_string());
            (DecisionOutcome::Deny, risk.score)
        }
        RiskLevel::High => {
            reasoning.push("high risk: a human should decide".to_string());
            (DecisionOutcome::PendingReview, risk.score)
        }
        _ if strongest >= STRONG_INDICATOR => {
            reasoning.push(format!(
                "strong threat indicator ({strongest:.2}): a human should decide"
            ));
            (DecisionOutcome::PendingReview, strongest)
        }
        _ if input.profile.always_require_approval => {
            reasoning.push("module always requires approval".to_string());
            (DecisionOutcome::PendingReview, 1.0 - risk.score)
        }
        level => {
            reasoning.push(format!("{} risk: resurrect automatically", level.as_str()));
            (DecisionOutcome::ApproveAuto, safe_confidence(input))
        }
    };
    verdict(input, outcome, confidence, reasoning)
}

/// Why a low-risk kill still may not be auto-approved, if anything stops it.
fn auto_blocker(
    input: &DecideInput,
    confidence: f64,
    min_confidence: f64,
    max_auto_score: f64,
    strongest: f64,
) -> Option<String> {
    if input.context.is_none() {
        Some("no SIEM context to confirm it".to_string())
    } else if input.profile.always_require_approval {
        Some("the module always requires approval".to_string())
    } else if strongest >= STRONG_INDICATOR {
        Some(format!("a strong threat indicator ({strongest:.2})"))
    } else if input.risk.score > max_auto_score {
        Some(format!(
            "score {:.2} is above the auto-approve limit {max_auto_score:.2}",
            input.risk.score
        ))
    } else if confidence < min_confidence {
        Some(format!(
            "confidence {confidence:.2} is below {min_confidence:.2}"
        ))
    } else {
        None
    }
}

/// A verdict with the recommended action its outcome implies, the usual
/// constraints and the configured timeout.
pub(crate) fn verdict(
    input: &DecideInput,
    outcome: DecisionOutcome,
    confidence: f64,
    reasoning: Vec<String>,
) -> Verdict {
    let module = &input.profile.module;
    let recommended_action = match outcome {
        DecisionOutcome::ApproveAuto | DecisionOutcome::ApproveManual => {
            format!("resurrect {module} and monitor it")
        }
        DecisionOutcome::PendingReview => format!("queue {module} for human review"),
        DecisionOutcome::Deny => format!("keep {module} down and investigate"),
        DecisionOutcome::Defer => format!("gather more context on {module}"),
    };
    Verdict {
        outcome,
        confidence: confidence.clamp(0.0, 1.0),
        reasoning,
        recommended_action,
        constraints: constraints(input),
        timeout_minutes: timeout(input),
    }
}

fn risk_line(input: &DecideInput) -> String {
    let top = input
        .risk
        .factors
        .iter()
        .max_by(|a, b| a.contribution.total_cmp(&b.contribution))
        .map(|f| match f.detail.as_str() {
            // A scorer told nobody reads it wrote no detail.
            "" => format!(", mostly {}", f.name),
            detail => format!(", mostly {} ({detail})", f.name),
        })
        .unwrap_or_default();
    format!(
        "risk {} ({:.2}){top}",
        input.risk.level.as_str(),
        input.risk.score
    )
}

fn strongest_indicator(input: &DecideInput) -> f64 {
    input
        .context
        .as_ref()
        .map_or(0.0, crate::values::strongest_indicator)
}

/// How sure a strategy is that resurrecting is safe: 1 − score/2, so a
/// score of 0 is certain and the default auto-approve limit (0.4) gives 0.8.
/// Without SIEM context the verdict rests on less, so it is held less surely.
fn safe_confidence(input: &DecideInput) -> f64 {
    let certainty = if input.context.is_some() { 1.0 } else { 0.6 };
    (1.0 - input.risk.score / 2.0) * certainty
}

fn constraints(input: &DecideInput) -> Vec<String> {
    let mut out = vec!["monitor after resurrection; roll back on anomaly".to_string()];
    if !input.dependencies.is_empty() {
        out.push(format!(
            "bring back together with dependents: {}",
            input.dependencies.join(", ")
        ));
    }
    if input.profile.kills_last_day > 2 {
        out.push(format!(
            "module killed {} times in the last day: watch for flapping",
            input.profile.kills_last_day
        ));
    }
    out
}

fn timeout(input: &DecideInput) -> u32 {
    let minutes = get(&input.thresholds, names::DEFAULT_TIMEOUT_MINUTES, 60.0);
    if minutes.is_finite() && minutes >= 1.0 {
        minutes.min(f64::from(u32::MAX)) as u32
    } else {
        60
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;
    use crate::scoring::score;

    fn decide_with(input: crate::ScoreInput, f: fn(&DecideInput) -> Verdict) -> Verdict {
        let risk = score(&input).unwrap();
        f(&DecideInput::new(input, risk, Vec::new()))
    }

    #[test]
    fn conservative_always_reviews() {
        for input in [fixtures::low_risk(), fixtures::critical_threat()] {
            let v = decide_with(input, conservative);
            assert_eq!(v.outcome, DecisionOutcome::PendingReview);
        }
    }

    #[test]
    fn balanced_approves_low_risk_and_denies_critical() {
        let v = decide_with(fixtures::low_risk(), balanced);
        assert_eq!(v.outcome, DecisionOutcome::ApproveAuto, "{v:?}");
        let v = decide_with(fixtures::critical_threat(), balanced);
        assert_eq!(v.outcome, DecisionOutcome::Deny, "{v:?}");
    }

    #[test]
    fn balanced_never_auto_approves_without_context() {
        let v = decide_with(fixtures::low_risk_without_context(), balanced);
        assert_eq!(v.outcome, DecisionOutcome::PendingReview, "{v:?}");
    }

    #[test]
    fn balanced_reviews_always_approve_modules() {
        let mut input = fixtures::low_risk();
        input.profile.always_require_approval = true;
        let v = decide_with(input, balanced);
        assert_eq!(v.outcome, DecisionOutcome::PendingReview);
        assert!(v.reasoning.iter().any(|r| r.contains("always requires")));
    }

    #[test]
    fn aggressive_denies_critical_and_approves_low() {
        assert_eq!(
            decide_with(fixtures::critical_threat(), aggressive).outcome,
            DecisionOutcome::Deny
        );
        assert_eq!(
            decide_with(fixtures::low_risk(), aggressive).outcome,
            DecisionOutcome::ApproveAuto
        );
    }
}
