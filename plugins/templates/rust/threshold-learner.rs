//! {{name}}: a Medic threshold learner. It gets the thresholds in force and
//! the outcomes since its last run, and proposes changes; the host applies
//! them only within `max_adjustment_percent` and its own checks.

use medic_plugin_sdk::helpers::value;
use medic_plugin_sdk::learner::Guest;
use medic_plugin_sdk::types::{
    LearnInput, OutcomeResult, PluginInfo, PluginKind, RiskLevel, ThresholdAdjustment,
};

struct Plugin;

impl Guest for Plugin {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "{{name}}".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            kind: PluginKind::ThresholdLearner,
            description: "Lowers risk.low when more than 20% of low-risk resurrections are re-killed.".to_string(),
            uses: vec!["risk.low".into(), "max_adjustment_percent".into(), "min_samples".into()],
            // A learner gets its thresholds and settings by name.
            reads: vec![],
        }
    }

    fn learn(input: LearnInput) -> Result<Vec<ThresholdAdjustment>, String> {
        let min = value(&input.settings, "min_samples", 50.0);
        let max_pct = value(&input.settings, "max_adjustment_percent", 10.0);
        let low: Vec<_> = input.samples.iter().filter(|s| s.risk_level == RiskLevel::Low).collect();
        if (low.len() as f64) < min {
            return Ok(vec![]);
        }
        let rekilled = low.iter().filter(|s| s.outcome == OutcomeResult::ReKilled).count();
        let rate = rekilled as f64 / low.len() as f64;
        if rate <= 0.2 {
            return Ok(vec![]);
        }
        let old = value(&input.thresholds, "risk.low", 0.4);
        let new = old * (1.0 - max_pct.min(5.0) / 100.0);
        Ok(vec![ThresholdAdjustment {
            name: "risk.low".into(),
            old_value: old,
            new_value: new,
            reason: format!("{rekilled} of {} low-risk resurrections re-killed ({:.0}%)", low.len(), rate * 100.0),
        }])
    }
}

medic_plugin_sdk::learner::export_threshold_learner!(Plugin);
