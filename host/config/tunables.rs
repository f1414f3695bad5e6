//! The names of the tunables (thresholds and weights a learner or an
//! operator may move), and which of them are scores or weights in [0, 1]:
//! configuration validates `learning_bounds` against them, the learning
//! checks every proposal against them.

use medic_plugin_logic::values::names as n;

/// The tunables that are scores or weights, in [0, 1]: every one of
/// [`TUNABLES`] but the last, the timeout in minutes.
pub const UNIT: &[&str] = match TUNABLES.split_last() {
    Some((_, unit)) => unit,
    None => &[],
};

pub const WEIGHTS: &[&str] = &[
    n::WEIGHT_SMITH_CONFIDENCE,
    n::WEIGHT_SIEM_RISK_SCORE,
    n::WEIGHT_FALSE_POSITIVE_HISTORY,
    n::WEIGHT_MODULE_CRITICALITY,
    n::WEIGHT_TIME_OF_DAY,
];

/// Every threshold a learner may move (the names `learning_bounds` takes).
pub const TUNABLES: &[&str] = &[
    n::RISK_MINIMAL,
    n::RISK_LOW,
    n::RISK_MEDIUM,
    n::RISK_HIGH,
    n::WEIGHT_SMITH_CONFIDENCE,
    n::WEIGHT_SIEM_RISK_SCORE,
    n::WEIGHT_FALSE_POSITIVE_HISTORY,
    n::WEIGHT_MODULE_CRITICALITY,
    n::WEIGHT_TIME_OF_DAY,
    n::AUTO_APPROVE_MIN_CONFIDENCE,
    n::AUTO_APPROVE_MAX_RISK_SCORE,
    n::AUTO_DENY_MIN_RISK_SCORE,
    n::CONFIDENCE_THRESHOLD,
    // Last: not in [0, 1] (see `UNIT`).
    n::DEFAULT_TIMEOUT_MINUTES,
];

/// Whether a tunable is a score or a weight (in [0, 1]).
pub fn is_unit(name: &str) -> bool {
    UNIT.contains(&name)
}
