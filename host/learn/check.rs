//! What any set of thresholds must satisfy before it is put in force,
//! whoever proposed it: every key known and finite, scores and weights in
//! [0, 1], the risk bands strictly increasing, the weights summing to 1.

use medic_plugin_logic::values::names as n;

use crate::model::NamedValues;

const UNIT: &[&str] = &[
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
    n::CONFIDENCE_THRESHOLD,
];

const WEIGHTS: &[&str] = &[
    n::WEIGHT_SMITH_CONFIDENCE,
    n::WEIGHT_SIEM_RISK_SCORE,
    n::WEIGHT_FALSE_POSITIVE_HISTORY,
    n::WEIGHT_MODULE_CRITICALITY,
    n::WEIGHT_TIME_OF_DAY,
];

/// Applies `changes` to `current`: every key must already exist.
pub fn apply(current: &NamedValues, changes: &NamedValues) -> Result<NamedValues, String> {
    let mut next = current.clone();
    for (k, v) in changes {
        match next.get_mut(k) {
            Some(slot) => *slot = *v,
            None => {
                return Err(format!(
                    "{k:?} is not a threshold (known: {})",
                    known(current)
                ));
            }
        }
    }
    Ok(next)
}

fn known(t: &NamedValues) -> String {
    t.keys().cloned().collect::<Vec<_>>().join(", ")
}

/// Every problem with a set of thresholds, or none.
pub fn values(t: &NamedValues) -> Result<(), String> {
    let mut problems = Vec::new();
    for (k, v) in t {
        if !v.is_finite() {
            problems.push(format!("{k}: {v} is not a number"));
        } else if UNIT.contains(&k.as_str()) && !(0.0..=1.0).contains(v) {
            problems.push(format!("{k}: {v} must be between 0 and 1"));
        }
    }
    let get = |k: &str| t.get(k).copied().unwrap_or(f64::NAN);
    let bands = [
        get(n::RISK_MINIMAL),
        get(n::RISK_LOW),
        get(n::RISK_MEDIUM),
        get(n::RISK_HIGH),
    ];
    if !bands.windows(2).all(|w| w[0] < w[1]) {
        problems.push(format!(
            "risk bands must increase: minimal {} < low {} < medium {} < high {}",
            bands[0], bands[1], bands[2], bands[3]
        ));
    }
    let sum: f64 = WEIGHTS.iter().map(|k| get(k)).sum();
    if (sum - 1.0).abs() > 0.01 {
        problems.push(format!("the weights must sum to 1 (they sum to {sum:.3})"));
    }
    if get(n::DEFAULT_TIMEOUT_MINUTES) < 1.0 {
        problems.push(format!(
            "{}: must be at least 1",
            n::DEFAULT_TIMEOUT_MINUTES
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> NamedValues {
        let c = crate::config::Config::embedded().unwrap();
        crate::plugin::thresholds_from_config(&c)
    }

    #[test]
    fn the_defaults_pass() {
        values(&base()).unwrap();
    }

    #[test]
    fn bad_sets_are_refused_with_every_problem() {
        let mut t = base();
        t.insert(n::RISK_LOW.into(), 0.9);
        t.insert(n::WEIGHT_TIME_OF_DAY.into(), f64::NAN);
        let e = values(&t).unwrap_err();
        assert!(
            e.contains("must increase") && e.contains("not a number"),
            "{e}"
        );
        assert!(apply(&base(), &[("risk.bogus".to_string(), 0.1)].into()).is_err());
    }
}
