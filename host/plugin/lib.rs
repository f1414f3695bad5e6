//! The plugin host: loads WebAssembly components that implement the WIT
//! worlds in `wit/`, runs them sandboxed (deadline, memory limit, no
//! capabilities), validates what they return, and swaps them at run time.
//!
//! | file | concern |
//! |---|---|
//! | `bindings.rs` | the only `bindgen!` |
//! | `convert.rs` | host model ↔ binding types |
//! | `sandbox.rs` | engine, epoch ticker, limits, the linker that grants nothing |
//! | `cache.rs` | compilation and the `.cwasm` cache |
//! | `loaded.rs` | one plugin: world check, describe, calls under isolation, quarantine |
//! | `validate.rs` | checks on plugin output |
//! | `golden.rs` | the golden kills every new plugin must pass |
//! | `native.rs` | the built-in logic compiled natively (benchmarks, golden risk) |
//! | `gate.rs` | the replay gate's contract: what the registry asks before a swap |
//! | `registry.rs` | all plugins, the phase bindings, atomic swaps, fallbacks |
//! | `reload.rs` | watching the plugin directory |
//! | `signature.rs` | signed plugin files: who signed them, checked before loading |
//! | `threads.rs` | the threads plugin calls run on, off the async runtime's workers |

// The modules of the crates below, under the names the code uses.
#[allow(unused_imports)]
use medic_config as config;
#[allow(unused_imports)]
use medic_model as model;
#[allow(unused_imports)]
use medic_telemetry as telemetry;

pub mod bindings;
pub mod cache;
pub mod convert;
pub mod error;
pub mod gate;
pub mod golden;
pub mod loaded;
pub mod native;
pub mod registry;
pub mod reload;
pub mod sandbox;
pub mod signature;
pub mod threads;
pub mod validate;

use std::path::PathBuf;

use chrono::{DateTime, Utc};

pub use error::{LoadError, PluginError};
pub use loaded::{HealthReport, Plugin, PluginSource, Prepared, Resolved};
pub use registry::{PluginStatus, Registry, RegistryError, ReloadEvent, Served};

use crate::config::{Config, Isolation};
use crate::model::{
    KillReport, ModuleProfile, NamedValues, OutcomeSample, RiskAssessment, SiemContext,
};

/// The built-in plugins embedded in the binary: `(crate name, component)`.
pub const BUILTIN_PLUGINS: &[(&str, &[u8])] =
    include!(concat!(env!("OUT_DIR"), "/builtin_plugins.rs"));

/// Where the build put every plugin of `plugins/` (including the hostile
/// test plugins and fixtures), for tests and benchmarks.
pub const BUILT_PLUGINS_DIR: &str = env!("MEDIC_BUILT_PLUGINS_DIR");

/// How plugins are run, from `plugins:` and `learning:` in the config.
#[derive(Clone, Debug, PartialEq)]
pub struct RuntimeSettings {
    pub isolation: Isolation,
    pub reuse_max_calls: u64,
    pub max_consecutive_failures: u32,
    pub cache_dir: Option<PathBuf>,
    pub max_adjustment_percent: f64,
}

impl RuntimeSettings {
    pub fn from_config(c: &Config) -> Self {
        let p = &c.medic.plugins;
        RuntimeSettings {
            isolation: p.isolation,
            reuse_max_calls: p.reuse_max_calls,
            max_consecutive_failures: p.max_consecutive_failures,
            cache_dir: p.cache_dir.clone(),
            max_adjustment_percent: c.medic.learning.threshold_adjustment.max_adjustment_percent,
        }
    }
}

/// What a risk scorer is given.
#[derive(Clone, Copy, Debug)]
pub struct ScoreRequest<'a> {
    pub kill: &'a KillReport,
    pub context: Option<&'a SiemContext>,
    pub profile: &'a ModuleProfile,
    pub thresholds: &'a NamedValues,
}

/// What a strategy is given.
#[derive(Clone, Copy, Debug)]
pub struct DecideRequest<'a> {
    pub kill: &'a KillReport,
    pub context: Option<&'a SiemContext>,
    pub profile: &'a ModuleProfile,
    pub thresholds: &'a NamedValues,
    pub risk: &'a RiskAssessment,
}

impl<'a> DecideRequest<'a> {
    pub fn new(score: ScoreRequest<'a>, risk: &'a RiskAssessment) -> Self {
        DecideRequest {
            kill: score.kill,
            context: score.context,
            profile: score.profile,
            thresholds: score.thresholds,
            risk,
        }
    }

    /// What the kill's scorer was given.
    pub fn scored(&self) -> ScoreRequest<'a> {
        ScoreRequest {
            kill: self.kill,
            context: self.context,
            profile: self.profile,
            thresholds: self.thresholds,
        }
    }
}

/// What a threshold learner is given.
#[derive(Clone, Copy, Debug)]
pub struct LearnRequest<'a> {
    pub thresholds: &'a NamedValues,
    pub samples: &'a [OutcomeSample],
    pub settings: &'a NamedValues,
    pub now: DateTime<Utc>,
}

/// The named numbers plugins are given, from `risk:` and `decision:`.
pub fn thresholds_from_config(c: &Config) -> NamedValues {
    use medic_plugin_logic::values::names as n;
    let m = &c.medic;
    let t = &m.risk.thresholds;
    let w = &m.risk.weights;
    let a = &m.decision.auto_approve;
    [
        (n::RISK_MINIMAL, t.minimal),
        (n::RISK_LOW, t.low),
        (n::RISK_MEDIUM, t.medium),
        (n::RISK_HIGH, t.high),
        (n::WEIGHT_SMITH_CONFIDENCE, w.smith_confidence),
        (n::WEIGHT_SIEM_RISK_SCORE, w.siem_risk_score),
        (n::WEIGHT_FALSE_POSITIVE_HISTORY, w.false_positive_history),
        (n::WEIGHT_MODULE_CRITICALITY, w.module_criticality),
        (n::WEIGHT_TIME_OF_DAY, w.time_of_day),
        (n::AUTO_APPROVE_MIN_CONFIDENCE, a.min_confidence),
        (n::AUTO_APPROVE_MAX_RISK_SCORE, max_auto_risk_score(c)),
        (
            n::AUTO_DENY_MIN_RISK_SCORE,
            m.decision.auto_deny.min_risk_score,
        ),
        (n::CONFIDENCE_THRESHOLD, m.decision.confidence_threshold),
        (
            n::DEFAULT_TIMEOUT_MINUTES,
            f64::from(m.decision.default_timeout_minutes),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// The highest risk score auto-approval allows as configured: the top of
/// the band `decision.auto_approve.max_risk_level` names.
pub fn max_auto_risk_score(c: &Config) -> f64 {
    let t = &c.medic.risk.thresholds;
    match c.medic.decision.auto_approve.max_risk_level {
        crate::model::RiskLevel::Minimal => t.minimal,
        crate::model::RiskLevel::Low => t.low,
        crate::model::RiskLevel::Medium => t.medium,
        crate::model::RiskLevel::High => t.high,
        crate::model::RiskLevel::Critical => 1.0,
    }
}

/// The learner's own limits, from `learning:`.
pub fn learner_settings_from_config(c: &Config) -> NamedValues {
    use medic_plugin_logic::values::names as n;
    let l = &c.medic.learning;
    [
        (
            n::MAX_ADJUSTMENT_PERCENT,
            l.threshold_adjustment.max_adjustment_percent,
        ),
        (n::MIN_SAMPLES, f64::from(l.analysis.min_samples)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .chain(c.constitution.learning_bounds.iter().flat_map(|(k, b)| {
        [
            (n::floor(k), b.floor),
            (n::ceiling(k), b.ceiling),
            (n::max_step(k), b.max_step),
        ]
    }))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use medic_plugin_logic::values::names as n;

    #[test]
    fn a_learner_is_told_the_constitutions_bounds() {
        let c = Config::embedded().unwrap();
        let s = learner_settings_from_config(&c);
        let bound = &c.constitution.learning_bounds[n::AUTO_APPROVE_MIN_CONFIDENCE];
        assert_eq!(
            s.get(&n::floor(n::AUTO_APPROVE_MIN_CONFIDENCE)),
            Some(&bound.floor)
        );
        assert_eq!(
            s.get(&n::ceiling(n::AUTO_APPROVE_MIN_CONFIDENCE)),
            Some(&bound.ceiling)
        );
        assert!(s.contains_key(n::MIN_SAMPLES));
    }
}
