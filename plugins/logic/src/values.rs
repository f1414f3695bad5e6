//! Reading named numbers (thresholds, weights, settings) with defaults.

use crate::types::{NamedValue, RiskLevel, SiemContext};

/// The highest threat score among the SIEM's indicators (0 with none, or
/// when the score is not a number).
pub fn strongest_indicator(ctx: &SiemContext) -> f64 {
    if ctx.strongest_indicator.is_finite() {
        ctx.strongest_indicator.max(0.0)
    } else {
        0.0
    }
}

/// The names of the tunables the built-in plugins read. When the host passes
/// none, the plugins use the values of the embedded `config/medic.yaml`.
pub mod names {
    pub const RISK_MINIMAL: &str = "risk.minimal";
    pub const RISK_LOW: &str = "risk.low";
    pub const RISK_MEDIUM: &str = "risk.medium";
    pub const RISK_HIGH: &str = "risk.high";
    pub const WEIGHT_SMITH_CONFIDENCE: &str = "weight.smith_confidence";
    pub const WEIGHT_SIEM_RISK_SCORE: &str = "weight.siem_risk_score";
    pub const WEIGHT_FALSE_POSITIVE_HISTORY: &str = "weight.false_positive_history";
    pub const WEIGHT_MODULE_CRITICALITY: &str = "weight.module_criticality";
    pub const WEIGHT_TIME_OF_DAY: &str = "weight.time_of_day";
    pub const AUTO_APPROVE_MIN_CONFIDENCE: &str = "auto_approve.min_confidence";
    pub const AUTO_APPROVE_MAX_RISK_SCORE: &str = "auto_approve.max_risk_score";
    /// A kill at or above this risk score is denied without a person by the
    /// strategies that read it (`pessimistic`); 1 leaves denial to the
    /// strategy's own rule. A learner lowers it from people's denials.
    pub const AUTO_DENY_MIN_RISK_SCORE: &str = "auto_deny.min_risk_score";
    pub const CONFIDENCE_THRESHOLD: &str = "decision.confidence_threshold";
    pub const DEFAULT_TIMEOUT_MINUTES: &str = "decision.default_timeout_minutes";
    pub const MAX_ADJUSTMENT_PERCENT: &str = "max_adjustment_percent";
    pub const MIN_SAMPLES: &str = "min_samples";
    pub const TARGET_FAILURE_RATE: &str = "target_failure_rate";
    pub const RELAX_BELOW_FAILURE_RATE: &str = "relax_below_failure_rate";
    /// Facts the host adds about the killed module (not tunables): kills a
    /// person approved, and kills a person denied.
    pub const MODULE_HUMAN_APPROVALS: &str = "module.human_approvals";
    pub const MODULE_HUMAN_DENIALS: &str = "module.human_denials";
    /// Facts the host adds about Medic's whole history (not tunables):
    /// kills whose truth became known (a resurrection's outcome, a person's
    /// verdict), in all, and of them those that resemble this kill in one
    /// piece of evidence (see `docs/decision-quality.md`, "Calibration").
    pub const KNOWN_THREATS: &str = "known.threats";
    pub const KNOWN_FALSE_POSITIVES: &str = "known.false_positives";
    pub const KNOWN_SIEM_RISK_THREATS: &str = "known.siem_risk.threats";
    pub const KNOWN_SIEM_RISK_FALSE_POSITIVES: &str = "known.siem_risk.false_positives";
    pub const KNOWN_FP_HISTORY_THREATS: &str = "known.fp_history.threats";
    pub const KNOWN_FP_HISTORY_FALSE_POSITIVES: &str = "known.fp_history.false_positives";
    /// Kills like this one put to a person that nobody has decided (still
    /// waiting, or expired): their truth is unknown, and a cautious reader
    /// counts them with the threats.
    pub const KNOWN_SIEM_RISK_UNRESOLVED: &str = "known.siem_risk.unresolved";
    pub const KNOWN_FP_HISTORY_UNRESOLVED: &str = "known.fp_history.unresolved";
    /// The same for the kill's strongest threat indicator, Smith's
    /// confidence and the kill's reason.
    pub const KNOWN_INDICATORS_THREATS: &str = "known.indicators.threats";
    pub const KNOWN_INDICATORS_FALSE_POSITIVES: &str = "known.indicators.false_positives";
    pub const KNOWN_INDICATORS_UNRESOLVED: &str = "known.indicators.unresolved";
    pub const KNOWN_SMITH_CONFIDENCE_THREATS: &str = "known.smith_confidence.threats";
    pub const KNOWN_SMITH_CONFIDENCE_FALSE_POSITIVES: &str =
        "known.smith_confidence.false_positives";
    pub const KNOWN_SMITH_CONFIDENCE_UNRESOLVED: &str = "known.smith_confidence.unresolved";
    pub const KNOWN_KILL_REASON_THREATS: &str = "known.kill_reason.threats";
    pub const KNOWN_KILL_REASON_FALSE_POSITIVES: &str = "known.kill_reason.false_positives";
    pub const KNOWN_KILL_REASON_UNRESOLVED: &str = "known.kill_reason.unresolved";
    /// A fact the host adds about the call (not a tunable): 1 when a person
    /// may read the factors' details and the reasoning (every decision
    /// Medic makes or shows), 0 when nothing will (`medic replay`, which
    /// keeps only outcomes, levels, scores and confidences). A plugin may
    /// then skip writing them; what it decides must not change. Missing
    /// (an older host) reads as 1.
    pub const CALL_EXPLAIN: &str = "call.explain";

    /// How many bins of the risk score (each 1/`VERDICT_BINS` wide) the
    /// host counts people's verdicts in for a learner.
    pub const VERDICT_BINS: usize = 20;

    /// A learner's setting the host adds (not a tunable): of the kills
    /// whose truth became known (a person's verdict, a resurrection's
    /// outcome) in its recent history, how many scored in risk-score bin
    /// `bin` (`[bin, bin + 1) / VERDICT_BINS`; the last bin includes 1) were
    /// threats (`threat`) or false positives.
    pub fn known_by_score(threat: bool, bin: usize) -> String {
        let kind = if threat { "threats" } else { "false_positives" };
        format!("known_by_score.{kind}.{bin}")
    }

    /// The bin of [`known_by_score`] a risk score falls in.
    pub fn score_bin(score: f64) -> usize {
        ((score.clamp(0.0, 1.0) * VERDICT_BINS as f64) as usize).min(VERDICT_BINS - 1)
    }

    /// A learner's setting: the lowest value the constitution's
    /// `learning_bounds` let it give `tunable`.
    pub fn floor(tunable: &str) -> String {
        format!("floor.{tunable}")
    }
    /// A learner's setting: the largest move in one run the constitution
    /// lets it make to `tunable`.
    pub fn max_step(tunable: &str) -> String {
        format!("max_step.{tunable}")
    }
    /// A learner's setting: the highest value the constitution lets it give
    /// `tunable`.
    pub fn ceiling(tunable: &str) -> String {
        format!("ceiling.{tunable}")
    }
}

/// Every named number a built-in scorer or strategy reads. The built-ins
/// name these as their `reads` (contract 0.2), so each call carries these
/// numbers, in this order, and no names.
pub const READ_BY_JUDGES: &[&str] = {
    use names::*;
    &[
        RISK_MINIMAL,
        RISK_LOW,
        RISK_MEDIUM,
        RISK_HIGH,
        WEIGHT_SMITH_CONFIDENCE,
        WEIGHT_SIEM_RISK_SCORE,
        WEIGHT_FALSE_POSITIVE_HISTORY,
        WEIGHT_MODULE_CRITICALITY,
        WEIGHT_TIME_OF_DAY,
        AUTO_APPROVE_MIN_CONFIDENCE,
        AUTO_APPROVE_MAX_RISK_SCORE,
        AUTO_DENY_MIN_RISK_SCORE,
        CONFIDENCE_THRESHOLD,
        DEFAULT_TIMEOUT_MINUTES,
        MODULE_HUMAN_APPROVALS,
        MODULE_HUMAN_DENIALS,
        KNOWN_THREATS,
        KNOWN_FALSE_POSITIVES,
        KNOWN_SIEM_RISK_THREATS,
        KNOWN_SIEM_RISK_FALSE_POSITIVES,
        KNOWN_SIEM_RISK_UNRESOLVED,
        KNOWN_FP_HISTORY_THREATS,
        KNOWN_FP_HISTORY_FALSE_POSITIVES,
        KNOWN_FP_HISTORY_UNRESOLVED,
        KNOWN_INDICATORS_THREATS,
        KNOWN_INDICATORS_FALSE_POSITIVES,
        KNOWN_INDICATORS_UNRESOLVED,
        KNOWN_SMITH_CONFIDENCE_THREATS,
        KNOWN_SMITH_CONFIDENCE_FALSE_POSITIVES,
        KNOWN_SMITH_CONFIDENCE_UNRESOLVED,
        KNOWN_KILL_REASON_THREATS,
        KNOWN_KILL_REASON_FALSE_POSITIVES,
        KNOWN_KILL_REASON_UNRESOLVED,
        CALL_EXPLAIN,
    ]
};

/// The numbers of a call given by position (`values[i]` is `reads[i]`'s) as
/// named values; a position past the end reads as missing (NaN).
pub fn by_position(reads: &'static [&'static str], values: &[f64]) -> Vec<NamedValue> {
    reads
        .iter()
        .enumerate()
        .map(|(i, name)| NamedValue {
            name: std::borrow::Cow::Borrowed(name),
            value: values.get(i).copied().unwrap_or(f64::NAN),
        })
        .collect()
}

/// Looks a named number up; a missing or non-finite value gives `default`.
pub fn get(values: &[NamedValue], name: &str, default: f64) -> f64 {
    values
        .iter()
        .find(|v| v.name == name)
        .map(|v| v.value)
        .filter(|v| v.is_finite())
        .unwrap_or(default)
}

/// Whether anyone will read what a call writes beyond its numbers (the
/// factors' details, the reasoning): [`names::CALL_EXPLAIN`].
pub fn explains(values: &[NamedValue]) -> bool {
    get(values, names::CALL_EXPLAIN, 1.0) != 0.0
}

/// The four band boundaries of `risk.thresholds`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bands {
    pub minimal: f64,
    pub low: f64,
    pub medium: f64,
    pub high: f64,
}

impl Bands {
    pub fn from_values(values: &[NamedValue]) -> Self {
        Bands::from_lookup(|name| values.iter().find(|v| v.name == name).map(|v| v.value))
    }

    /// Reads the bands through any lookup (the host keeps its values in a map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<f64>) -> Self {
        let get =
            |name: &str, default: f64| lookup(name).filter(|v| v.is_finite()).unwrap_or(default);
        Bands {
            minimal: get(names::RISK_MINIMAL, 0.2),
            low: get(names::RISK_LOW, 0.4),
            medium: get(names::RISK_MEDIUM, 0.6),
            high: get(names::RISK_HIGH, 0.8),
        }
    }

    /// The level a score falls in: below `minimal` is minimal, and so on up.
    pub fn level(&self, score: f64) -> RiskLevel {
        if score < self.minimal {
            RiskLevel::Minimal
        } else if score < self.low {
            RiskLevel::Low
        } else if score < self.medium {
            RiskLevel::Medium
        } else if score < self.high {
            RiskLevel::High
        } else {
            RiskLevel::Critical
        }
    }

    /// The name of the threshold that bounds a level from above, if any.
    pub fn upper_name(level: RiskLevel) -> Option<&'static str> {
        match level {
            RiskLevel::Minimal => Some(names::RISK_MINIMAL),
            RiskLevel::Low => Some(names::RISK_LOW),
            RiskLevel::Medium => Some(names::RISK_MEDIUM),
            RiskLevel::High => Some(names::RISK_HIGH),
            RiskLevel::Critical => None,
        }
    }
}
