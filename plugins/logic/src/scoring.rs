//! The `weighted` risk scorer: `risk.weights` over five factors,
//! banded by `risk.thresholds`.
//!
//! Each factor is a number in [0, 1] where 1 means "resurrecting is risky";
//! the score is the weighted mean of the factors (weights are normalised so
//! they need not sum to 1).

use crate::types::{
    Criticality, KillReason, RiskAssessment, RiskFactor, ScoreInput, Severity, SiemContext,
};
use crate::values::{Bands, get, names};

/// What a missing SIEM context counts as: unknown is not safe.
const UNKNOWN_SIEM_RISK: f64 = 0.5;

pub const FACTORS: [&str; 5] = [
    "smith_confidence",
    "siem_risk_score",
    "false_positive_history",
    "module_criticality",
    "time_of_day",
];

/// Scores one kill. Refuses (with a reason) inputs it cannot score honestly.
pub fn score(input: &ScoreInput) -> Result<RiskAssessment, String> {
    let confidence = input.kill.confidence_score;
    if !(0.0..=1.0).contains(&confidence) {
        return Err(format!(
            "kill.confidence_score {confidence} is outside [0, 1]"
        ));
    }
    let t = &input.thresholds;
    let weights = [
        get(t, names::WEIGHT_SMITH_CONFIDENCE, 0.3),
        get(t, names::WEIGHT_SIEM_RISK_SCORE, 0.25),
        get(t, names::WEIGHT_FALSE_POSITIVE_HISTORY, 0.2),
        get(t, names::WEIGHT_MODULE_CRITICALITY, 0.15),
        get(t, names::WEIGHT_TIME_OF_DAY, 0.1),
    ];
    if weights.iter().any(|w| *w < 0.0) {
        return Err("risk weights must not be negative".to_string());
    }
    let total: f64 = weights.iter().sum();
    if total <= 0.0 {
        return Err("risk weights sum to zero".to_string());
    }

    // The details are written only when someone will read them.
    let explain = crate::values::explains(t);
    let values = [
        smith_factor(input, explain),
        siem_factor(input.context.as_ref(), explain),
        false_positive_factor(input, explain),
        criticality_factor(input.profile.criticality, explain),
        time_of_day_factor(input.kill.timestamp_ms, explain),
    ];
    let mut factors = Vec::with_capacity(FACTORS.len());
    let mut score = 0.0;
    for ((name, (value, detail)), weight) in FACTORS.iter().zip(values).zip(weights) {
        let weight = weight / total;
        let contribution = value * weight;
        score += contribution;
        factors.push(RiskFactor {
            name: (*name).to_string(),
            value,
            weight,
            contribution,
            detail,
        });
    }
    let score = score.clamp(0.0, 1.0);
    Ok(RiskAssessment {
        level: Bands::from_values(t).level(score),
        score,
        factors,
    })
}

/// Smith's confidence, scaled by how severe and how deliberate the kill was:
/// a cascade kill says little about the module itself.
fn smith_factor(input: &ScoreInput, explain: bool) -> (f64, String) {
    let kill = &input.kill;
    let severity = match kill.severity {
        Severity::Critical => 1.0,
        Severity::High => 0.9,
        Severity::Medium => 0.75,
        Severity::Low => 0.6,
        Severity::Info => 0.5,
    };
    let reason = match kill.kill_reason {
        KillReason::ThreatDetected | KillReason::ManualOverride => 1.0,
        KillReason::PolicyViolation => 0.9,
        KillReason::AnomalyBehavior => 0.8,
        KillReason::ResourceExhaustion => 0.5,
        KillReason::DependencyCascade => 0.3,
    };
    let value = (kill.confidence_score * severity * reason).clamp(0.0, 1.0);
    let detail = said(explain, || {
        format!(
            "confidence {:.2} x severity {} ({severity}) x reason {} ({reason})",
            kill.confidence_score,
            kill.severity.as_str(),
            kill.kill_reason.as_str()
        )
    });
    (value, detail)
}

/// The SIEM's aggregated risk, raised by any strong indicator it reports.
fn siem_factor(context: Option<&SiemContext>, explain: bool) -> (f64, String) {
    let Some(ctx) = context else {
        return (
            UNKNOWN_SIEM_RISK,
            said(explain, || {
                format!("no SIEM context: counted as {UNKNOWN_SIEM_RISK}")
            }),
        );
    };
    let strongest = crate::values::strongest_indicator(ctx);
    let value = ctx.risk_score.max(strongest * 0.9).clamp(0.0, 1.0);
    let detail = said(explain, || {
        format!(
            "SIEM risk {:.2}, {} indicator(s), strongest {:.2}",
            ctx.risk_score, ctx.indicator_count, strongest
        )
    });
    (value, detail)
}

/// Past false positives make another false positive likelier: each one
/// known to the SIEM or to Medic lowers the risk, down to 0 at five.
fn false_positive_factor(input: &ScoreInput, explain: bool) -> (f64, String) {
    let siem = input
        .context
        .as_ref()
        .map_or(0, |c| c.false_positive_history);
    let known = siem.max(input.profile.false_positives);
    let value = 1.0 - (f64::from(known.min(5)) / 5.0);
    (
        value,
        said(explain, || {
            format!(
                "{known} prior false positive(s) (SIEM {siem}, Medic {})",
                input.profile.false_positives
            )
        }),
    )
}

fn criticality_factor(criticality: Criticality, explain: bool) -> (f64, String) {
    let value = match criticality {
        Criticality::Low => 0.25,
        Criticality::Medium => 0.5,
        Criticality::High => 0.75,
        Criticality::Critical => 1.0,
    };
    (
        value,
        said(explain, || {
            format!("module criticality {}", criticality.as_str())
        }),
    )
}

/// Kills outside working hours (UTC) are riskier to undo: fewer people are
/// watching what comes back.
fn time_of_day_factor(timestamp_ms: i64, explain: bool) -> (f64, String) {
    let hour = timestamp_ms.div_euclid(3_600_000).rem_euclid(24);
    let value = match hour {
        8..=17 => 0.2,
        18..=21 | 6..=7 => 0.5,
        _ => 1.0,
    };
    (value, said(explain, || format!("kill at {hour:02}:00 UTC")))
}

/// A factor's detail, written only when someone will read it
/// ([`crate::values::explains`]).
fn said(explain: bool, detail: impl FnOnce() -> String) -> String {
    if explain { detail() } else { String::new() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;
    use crate::types::RiskLevel;

    #[test]
    fn low_risk_kill_scores_low() {
        let a = score(&fixtures::low_risk()).unwrap();
        assert!(a.level <= RiskLevel::Low, "{a:?}");
        assert_eq!(a.factors.len(), 5);
        let sum: f64 = a.factors.iter().map(|f| f.contribution).sum();
        assert!((sum - a.score).abs() < 1e-9);
    }

    /// With `call.explain` 0 (replay) the factors carry no details and the
    /// strategies reading them decide the same, naming the weightiest
    /// factor without one.
    #[test]
    fn unexplained_scores_are_the_same_numbers_without_the_words() {
        for input in [
            fixtures::low_risk(),
            fixtures::critical_threat(),
            fixtures::low_risk_without_context(),
        ] {
            let quiet = fixtures::unexplained(&input);
            let (told, untold) = (score(&input).unwrap(), score(&quiet).unwrap());
            fixtures::assert_same_numbers_without_words(&told, &untold);
            let decide = |input: &ScoreInput, risk: RiskAssessment| {
                crate::strategies::balanced(&crate::types::DecideInput::new(
                    input.clone(),
                    risk,
                    Vec::new(),
                ))
            };
            let (said, unsaid) = (decide(&input, told), decide(&quiet, untold));
            assert_eq!(
                (said.outcome, said.confidence),
                (unsaid.outcome, unsaid.confidence)
            );
            assert!(said.reasoning[1].contains(", mostly ") && said.reasoning[1].ends_with(')'));
            assert!(
                unsaid.reasoning[1].contains(", mostly ") && !unsaid.reasoning[1].ends_with(')')
            );
        }
    }

    #[test]
    fn critical_threat_scores_critical() {
        let a = score(&fixtures::critical_threat()).unwrap();
        assert!(a.level >= RiskLevel::High, "{a:?}");
    }

    #[test]
    fn missing_context_is_not_safe() {
        let mut input = fixtures::low_risk();
        let with = score(&input).unwrap().score;
        input.context = None;
        let without = score(&input).unwrap().score;
        assert!(without > with);
    }

    #[test]
    fn refuses_out_of_range_confidence() {
        let mut input = fixtures::low_risk();
        input.kill.confidence_score = 1.5;
        assert!(score(&input).unwrap_err().contains("confidence_score"));
    }

    #[test]
    fn thresholds_move_the_band() {
        let mut input = fixtures::low_risk();
        let base = score(&input).unwrap();
        input.thresholds.push(crate::NamedValue {
            name: names::RISK_MINIMAL.into(),
            value: 0.0,
        });
        input.thresholds.push(crate::NamedValue {
            name: names::RISK_LOW.into(),
            value: 0.01,
        });
        let moved = score(&input).unwrap();
        assert_eq!(base.score, moved.score);
        assert!(moved.level > base.level);
    }
}
