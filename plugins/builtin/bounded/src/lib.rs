//! The built-in `bounded` threshold learner (logic in `medic-plugin-logic::learner`).

use medic_plugin_logic::learner;
use medic_plugin_sdk::learner::Guest;
use medic_plugin_sdk::types::{LearnInput, PluginInfo, PluginKind, ThresholdAdjustment};

struct Bounded;

impl Guest for Bounded {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "bounded".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            kind: PluginKind::ThresholdLearner,
            description: "Per risk band, compares the rate of re-kills, rollbacks and failures with a target and moves the band's threshold by at most max_adjustment_percent.".to_string(),
            uses: vec!["risk.minimal".into(), "risk.low".into(), "risk.medium".into(), "risk.high".into(), "max_adjustment_percent".into(), "min_samples".into()],
            reads: vec![],
        }
    }

    fn learn(input: LearnInput) -> Result<Vec<ThresholdAdjustment>, String> {
        learner::learn(&input.into()).map(|v| v.into_iter().map(Into::into).collect())
    }
}

medic_plugin_sdk::learner::export_threshold_learner!(Bounded);
