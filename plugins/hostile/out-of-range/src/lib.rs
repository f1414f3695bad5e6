//! Hostile: a risk scorer that returns a score above 1, a NaN factor and a
//! level that contradicts its score.

use medic_plugin_sdk::scorer::Guest;
use medic_plugin_sdk::types::{
    Kill, KillFacts, PluginInfo, PluginKind, RiskAssessment, RiskFactor, RiskLevel,
};

struct Plugin;

impl Guest for Plugin {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "hostile-out-of-range".to_string(),
            version: "0.1.0".to_string(),
            kind: PluginKind::RiskScorer,
            description: "Returns impossible numbers.".to_string(),
            uses: vec![],
            reads: vec![],
        }
    }

    fn score(_facts: KillFacts, _kill: &Kill, _values: Vec<f64>) -> Result<RiskAssessment, String> {
        Ok(RiskAssessment {
            level: RiskLevel::Minimal,
            score: 7.5,
            factors: vec![RiskFactor {
                name: "made_up".to_string(),
                value: f64::NAN,
                weight: -1.0,
                contribution: 7.5,
                detail: "impossible".to_string(),
            }],
        })
    }
}

medic_plugin_sdk::scorer::export_risk_scorer!(Plugin);
