//! Guest SDK for Medic plugins: the bindings of `wit/` (generated here and
//! nowhere else), an `export_*!` macro per world, and logging to the host.
//!
//! A strategy plugin is a type implementing [`strategy::Guest`] and one line:
//!
//! ```ignore
//! struct Mine;
//! impl medic_plugin_sdk::strategy::Guest for Mine { /* describe, decide */ }
//! medic_plugin_sdk::strategy::export_strategy!(Mine);
//! ```
//!
//! Plugins are pure: they get everything they may use as arguments. A
//! plugin that touches files, the network, the environment or the clock is
//! stopped by the host.

/// The `risk-scorer` world.
pub mod scorer {
    wit_bindgen::generate!({
        world: "risk-scorer",
        path: "../../wit",
        pub_export_macro: true,
        export_macro_name: "export_risk_scorer",
        default_bindings_module: "medic_plugin_sdk::scorer",
    });
}

/// The `strategy` world.
pub mod strategy {
    wit_bindgen::generate!({
        world: "strategy",
        path: "../../wit",
        with: {
            "medic:plugin/types@0.3.0": crate::scorer::medic::plugin::types,
            "medic:plugin/host@0.3.0": crate::scorer::medic::plugin::host,
        },
        pub_export_macro: true,
        export_macro_name: "export_strategy",
        default_bindings_module: "medic_plugin_sdk::strategy",
    });
}

/// The `threshold-learner` world.
pub mod learner {
    wit_bindgen::generate!({
        world: "threshold-learner",
        path: "../../wit",
        with: {
            "medic:plugin/types@0.3.0": crate::scorer::medic::plugin::types,
            "medic:plugin/host@0.3.0": crate::scorer::medic::plugin::host,
        },
        pub_export_macro: true,
        export_macro_name: "export_threshold_learner",
        default_bindings_module: "medic_plugin_sdk::learner",
    });
}

/// The data types of the contract, shared by all three worlds.
pub use scorer::medic::plugin::types;

#[cfg(feature = "logic")]
pub mod convert;

#[cfg(all(feature = "size-class-alloc", target_arch = "wasm32"))]
pub mod alloc;

/// Logging through the host (the plugin's one import). The host tags every
/// line with the plugin's name and bounds how much one call may log.
pub mod log {
    use crate::scorer::medic::plugin::host::{LogLevel, log};

    pub fn debug(message: &str) {
        log(LogLevel::Debug, message);
    }
    pub fn info(message: &str) {
        log(LogLevel::Info, message);
    }
    pub fn warn(message: &str) {
        log(LogLevel::Warn, message);
    }
    pub fn error(message: &str) {
        log(LogLevel::Error, message);
    }
}

/// Small helpers plugins in Rust tend to need.
pub mod helpers {
    use crate::types::{NamedValue, RiskLevel, SiemFacts};

    /// The band thresholds, for a scorer's `reads` when it bands scores
    /// with [`risk_level`].
    pub const RISK_BANDS: [&str; 4] = ["risk.minimal", "risk.low", "risk.medium", "risk.high"];

    /// The named value `name` in a list of named values (a learner's
    /// thresholds and settings), or `default` when the host did not pass it.
    pub fn value(values: &[NamedValue], name: &str, default: f64) -> f64 {
        values
            .iter()
            .find(|v| v.name == name)
            .map_or(default, |v| v.value)
    }

    /// The number named `name` in a scorer's or strategy's `values`, which
    /// hold the numbers it `reads`, in that order; `default` when `name` is
    /// not among `reads` or the host had no number of that name (NaN).
    ///
    /// ```ignore
    /// const READS: &[&str] = &["auto_approve.min_confidence"];
    /// // describe: reads: names(READS)
    /// let min = read(READS, &input.values, "auto_approve.min_confidence", 0.85);
    /// ```
    pub fn read(reads: &[&str], values: &[f64], name: &str, default: f64) -> f64 {
        reads
            .iter()
            .position(|r| *r == name)
            .and_then(|i| values.get(i).copied())
            .filter(|v| v.is_finite())
            .unwrap_or(default)
    }

    /// A plugin's `reads` for its `plugin-info`, from its list of names.
    pub fn names(reads: &[&str]) -> Vec<String> {
        reads.iter().map(|r| r.to_string()).collect()
    }

    /// The risk level of a score, banded by the host's thresholds
    /// (`risk.minimal`, `risk.low`, `risk.medium`, `risk.high`: each the
    /// upper bound of its band), read from `values` by `reads`.
    pub fn risk_level(score: f64, reads: &[&str], values: &[f64]) -> RiskLevel {
        let t = |n, d| read(reads, values, n, d);
        if score < t("risk.minimal", 0.2) {
            RiskLevel::Minimal
        } else if score < t("risk.low", 0.4) {
            RiskLevel::Low
        } else if score < t("risk.medium", 0.6) {
            RiskLevel::Medium
        } else if score < t("risk.high", 0.8) {
            RiskLevel::High
        } else {
            RiskLevel::Critical
        }
    }

    /// The strongest threat indicator's score (0 with no context):
    /// `strongest_indicator(facts.siem.as_ref())`.
    pub fn strongest_indicator(siem: Option<&SiemFacts>) -> f64 {
        siem.map_or(0.0, |s| s.strongest_indicator)
    }

    /// Reasoning lines, built up as a plugin judges: what an operator reads
    /// to understand the decision.
    #[derive(Clone, Debug, Default)]
    pub struct Reasons(Vec<String>);

    impl Reasons {
        pub fn new(first: impl Into<String>) -> Self {
            Reasons(vec![first.into()])
        }

        pub fn add(&mut self, line: impl Into<String>) -> &mut Self {
            self.0.push(line.into());
            self
        }

        pub fn into_vec(self) -> Vec<String> {
            self.0
        }
    }
}
