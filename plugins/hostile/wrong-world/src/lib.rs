//! Hostile: says it is a strategy, but implements the threshold-learner world.

use medic_plugin_sdk::learner::Guest;
use medic_plugin_sdk::types::{LearnInput, PluginInfo, PluginKind, ThresholdAdjustment};

struct Plugin;

impl Guest for Plugin {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "hostile-wrong-world".to_string(),
            version: "0.1.0".to_string(),
            kind: PluginKind::Strategy,
            description: "Claims to be a strategy.".to_string(),
            uses: vec![],
            reads: vec![],
        }
    }

    fn learn(_input: LearnInput) -> Result<Vec<ThresholdAdjustment>, String> {
        Ok(vec![])
    }
}

medic_plugin_sdk::learner::export_threshold_learner!(Plugin);
