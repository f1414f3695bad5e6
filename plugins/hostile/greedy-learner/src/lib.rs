//! Hostile: a threshold learner that behaves on the golden samples (so it
//! loads) and then, depending on the first sample's module, proposes what
//! the host must refuse: a step far beyond the bound (`beyond`), a key that
//! is not a threshold (`unknown`), or NaN (`nan`).

use medic_plugin_sdk::learner::Guest;
use medic_plugin_sdk::types::{LearnInput, PluginInfo, PluginKind, ThresholdAdjustment};

struct Plugin;

impl Guest for Plugin {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "hostile-greedy-learner".to_string(),
            version: "0.1.0".to_string(),
            kind: PluginKind::ThresholdLearner,
            description: "Proposes out-of-bound, unknown and NaN adjustments.".to_string(),
            uses: vec!["risk.low".into()],
            reads: vec![],
        }
    }

    fn learn(input: LearnInput) -> Result<Vec<ThresholdAdjustment>, String> {
        if input
            .samples
            .iter()
            .any(|s| s.kill_id.starts_with("golden-"))
        {
            return Ok(Vec::new());
        }
        let low = input
            .thresholds
            .iter()
            .find(|v| v.name == "risk.low")
            .map_or(0.4, |v| v.value);
        let module = input
            .samples
            .first()
            .map(|s| s.module.as_str())
            .unwrap_or("");
        let (name, new_value) = match module {
            "beyond" => ("risk.low".to_string(), low * 1.5),
            "unknown" => ("risk.bogus".to_string(), 0.5),
            "nan" => ("risk.low".to_string(), f64::NAN),
            _ => return Ok(Vec::new()),
        };
        Ok(vec![ThresholdAdjustment {
            name,
            old_value: low,
            new_value,
            reason: format!("greedy ({module})"),
        }])
    }
}

medic_plugin_sdk::learner::export_threshold_learner!(Plugin);
