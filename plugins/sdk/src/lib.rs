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
            "medic:plugin/types@0.1.0": crate::scorer::medic::plugin::types,
            "medic:plugin/host@0.1.0": crate::scorer::medic::plugin::host,
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
            "medic:plugin/types@0.1.0": crate::scorer::medic::plugin::types,
            "medic:plugin/host@0.1.0": crate::scorer::medic::plugin::host,
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
