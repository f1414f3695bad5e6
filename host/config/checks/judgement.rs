//! `decision` and `risk`: the starting values of what judges a kill.

use crate::model::RiskLevel;
use crate::raw::{DecisionSection, RiskSection};
use crate::validate::Checker;

impl DecisionSection {
    pub(crate) fn check(&self, c: &mut Checker<'_>) {
        c.range(
            "decision.default_timeout_minutes",
            self.default_timeout_minutes,
            1,
            10_080,
        );
        c.unit("decision.confidence_threshold", self.confidence_threshold);
        c.unit(
            "decision.auto_approve.min_confidence",
            self.auto_approve.min_confidence,
        );
        c.unit(
            "decision.auto_deny.min_risk_score",
            self.auto_deny.min_risk_score,
        );
        c.check(
            self.auto_approve.max_risk_level < RiskLevel::High,
            "decision.auto_approve.max_risk_level",
            format!(
                "{:?} is too high: auto-approval is for minimal, low or medium risk",
                self.auto_approve.max_risk_level
            ),
        );
    }
}

impl RiskSection {
    pub(crate) fn check(&self, c: &mut Checker<'_>) {
        let t = &self.thresholds;
        for (name, v) in [
            ("minimal", t.minimal),
            ("low", t.low),
            ("medium", t.medium),
            ("high", t.high),
        ] {
            c.unit(&format!("risk.thresholds.{name}"), v);
        }
        c.check(
            t.minimal < t.low && t.low < t.medium && t.medium < t.high,
            "risk.thresholds",
            format!(
                "must increase: minimal {} < low {} < medium {} < high {}",
                t.minimal, t.low, t.medium, t.high
            ),
        );
        let w = &self.weights;
        let weights = [
            ("smith_confidence", w.smith_confidence),
            ("siem_risk_score", w.siem_risk_score),
            ("false_positive_history", w.false_positive_history),
            ("module_criticality", w.module_criticality),
            ("time_of_day", w.time_of_day),
        ];
        for (name, v) in weights {
            c.unit(&format!("risk.weights.{name}"), v);
        }
        let sum: f64 = weights.iter().map(|(_, v)| v).sum();
        c.check(
            (sum - 1.0).abs() <= 0.01,
            "risk.weights",
            format!("must sum to 1 (they sum to {sum:.3})"),
        );
    }
}
