//! The built-in `calibrated` threshold learner (logic in `medic-plugin-logic::learner`).

use medic_plugin_logic::learner;
use medic_plugin_sdk::learner::Guest;
use medic_plugin_sdk::types::{LearnInput, PluginInfo, PluginKind, ThresholdAdjustment};

struct Calibrated;

impl Guest for Calibrated {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "calibrated".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            kind: PluginKind::ThresholdLearner,
            description: "Moves auto_approve.min_confidence from the outcomes of automatic and human-approved resurrections: tighter after a threat got through, looser after clean resurrections above the limit; by at most max_adjustment_percent.".to_string(),
            uses: vec!["auto_approve.min_confidence".into(), "max_adjustment_percent".into(), "min_samples".into()],
            reads: vec![],
        }
    }

    fn learn(input: LearnInput) -> Result<Vec<ThresholdAdjustment>, String> {
        learner::calibrated(&input.into()).map(|v| v.into_iter().map(Into::into).collect())
    }
}

medic_plugin_sdk::learner::export_threshold_learner!(Calibrated);
