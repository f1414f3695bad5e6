//! The built-in `aggressive` strategy (logic in `medic-plugin-logic::strategies`).

use medic_plugin_logic::strategies;
use medic_plugin_sdk::convert::decide_input;
use medic_plugin_sdk::strategy::Guest;
use medic_plugin_sdk::types::{Kill, KillFacts, PluginInfo, PluginKind, RiskAssessment, Verdict};

struct Aggressive;

impl Guest for Aggressive {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "aggressive".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            kind: PluginKind::Strategy,
            description: "Auto-approve up to medium risk unless a strong indicator is present; review high, deny critical.".to_string(),
            uses: vec!["risk".to_string(), "siem_context".to_string(), "module_profile".to_string(), "auto_approve.min_confidence".to_string(), "auto_approve.max_risk_score".to_string()],
            reads: medic_plugin_sdk::convert::reads(),
        }
    }

    fn decide(
        facts: KillFacts,
        kill: &Kill,
        risk: RiskAssessment,
        values: Vec<f64>,
    ) -> Result<Verdict, String> {
        Ok(strategies::aggressive(&decide_input(facts, kill, risk, &values)).into())
    }
}

medic_plugin_sdk::strategy::export_strategy!(Aggressive);
