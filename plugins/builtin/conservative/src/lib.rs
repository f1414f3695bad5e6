//! The built-in `conservative` strategy (logic in `medic-plugin-logic::strategies`).

use medic_plugin_logic::strategies;
use medic_plugin_sdk::convert::decide_input;
use medic_plugin_sdk::strategy::Guest;
use medic_plugin_sdk::types::{Kill, KillFacts, PluginInfo, PluginKind, RiskAssessment, Verdict};

struct Conservative;

impl Guest for Conservative {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "conservative".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            kind: PluginKind::Strategy,
            description: "Always human review.".to_string(),
            uses: vec![
                "risk".to_string(),
                "siem_context".to_string(),
                "module_profile".to_string(),
                "auto_approve.min_confidence".to_string(),
                "auto_approve.max_risk_score".to_string(),
            ],
            reads: medic_plugin_sdk::convert::reads(),
        }
    }

    fn decide(
        facts: KillFacts,
        kill: &Kill,
        risk: RiskAssessment,
        values: Vec<f64>,
    ) -> Result<Verdict, String> {
        Ok(strategies::conservative(&decide_input(facts, kill, risk, &values)).into())
    }
}

medic_plugin_sdk::strategy::export_strategy!(Conservative);
