//! What any set of thresholds must satisfy before it is put in force,
//! whoever proposed it: every key known and finite, scores and weights in
//! [0, 1], the risk bands strictly increasing, the weights summing to 1.
//! And what a learner's change must satisfy besides: the operators' bounds
//! of the constitution's `learning_bounds` ([`within_bounds`]).

use std::collections::BTreeMap;

use medic_plugin_logic::values::names as n;

use crate::config::raw::LearningBound;
pub use crate::config::tunables::{TUNABLES, UNIT, WEIGHTS, is_unit};
use crate::model::NamedValues;

/// Why a learner's change from `current` to `proposed`, learned from
/// `samples` outcomes, breaks the operators' bounds, if it does: for each
/// tunable it moves that has a bound, the new value must lie in
/// `[floor, ceiling]`, the move must be no larger than `max_step`, and the
/// run must have seen at least `min_samples` outcomes. Tunables without a
/// bound and values left as they are pass. Every problem is reported.
pub fn within_bounds(
    current: &NamedValues,
    proposed: &NamedValues,
    bounds: &BTreeMap<String, LearningBound>,
    samples: usize,
) -> Result<(), String> {
    let mut problems = Vec::new();
    for (k, v) in proposed {
        let Some(b) = bounds.get(k) else { continue };
        let before = current.get(k).copied().unwrap_or(f64::NAN);
        if before == *v {
            continue;
        }
        if !(b.floor..=b.ceiling).contains(v) {
            problems.push(format!(
                "{k}: {v} is outside learning_bounds [{}, {}]",
                b.floor, b.ceiling
            ));
        }
        // A little slack so a step of exactly max_step passes whatever the
        // rounding of the subtraction.
        let step = (v - before).abs();
        if step.is_nan() || step > b.max_step + 1e-9 {
            problems.push(format!(
                "{k}: moves {before} -> {v} (by {step:.4}), more than learning_bounds max_step {}",
                b.max_step
            ));
        }
        if samples < b.min_samples as usize {
            problems.push(format!(
                "{k}: learned from {samples} outcome(s), fewer than learning_bounds min_samples {}",
                b.min_samples
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

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

    fn bound(floor: f64, ceiling: f64, max_step: f64, min_samples: u32) -> LearningBound {
        LearningBound {
            floor,
            ceiling,
            max_step,
            min_samples,
        }
    }

    fn with(t: &NamedValues, k: &str, v: f64) -> NamedValues {
        let mut t = t.clone();
        t.insert(k.into(), v);
        t
    }

    #[test]
    fn a_change_within_the_bounds_passes_and_unbounded_or_unmoved_ones_too() {
        let b = base();
        let k = n::AUTO_APPROVE_MIN_CONFIDENCE;
        let cur = b[k];
        let bounds = [(k.to_string(), bound(cur - 0.1, cur + 0.04, 0.05, 50))].into();
        within_bounds(&b, &with(&b, k, cur - 0.05), &bounds, 50).unwrap();
        // Up to the ceiling itself.
        within_bounds(&b, &with(&b, k, cur + 0.04), &bounds, 50).unwrap();
        // No bound on risk.low: any move, from any number of samples.
        within_bounds(&b, &with(&b, n::RISK_LOW, 0.01), &bounds, 0).unwrap();
        // Nothing moved: nothing to check, even from no samples.
        within_bounds(&b, &b, &bounds, 0).unwrap();
    }

    #[test]
    fn a_change_outside_the_range_too_large_or_from_too_few_samples_is_refused() {
        let b = base();
        let k = n::AUTO_APPROVE_MIN_CONFIDENCE;
        let cur = b[k];
        let bounds = [(k.to_string(), bound(cur - 0.02, cur + 0.5, 0.05, 50))].into();
        let e = within_bounds(&b, &with(&b, k, cur - 0.03), &bounds, 50).unwrap_err();
        assert!(e.contains("outside learning_bounds"), "{e}");
        assert!(!e.contains("max_step"), "{e}");
        let e = within_bounds(&b, &with(&b, k, cur + 0.2), &bounds, 50).unwrap_err();
        assert!(e.contains("more than learning_bounds max_step 0.05"), "{e}");
        assert!(!e.contains("outside"), "{e}");
        let e = within_bounds(&b, &with(&b, k, cur + 0.01), &bounds, 49).unwrap_err();
        assert!(
            e.contains("learned from 49 outcome(s), fewer than learning_bounds min_samples 50"),
            "{e}"
        );
        // Every problem at once.
        let e = within_bounds(&b, &with(&b, k, cur - 0.3), &bounds, 1).unwrap_err();
        assert_eq!(e.split("; ").count(), 3, "{e}");
        let e = within_bounds(&b, &with(&b, k, f64::NAN), &bounds, 50).unwrap_err();
        assert!(e.contains("outside") && e.contains("max_step"), "{e}");
    }

    #[test]
    fn every_tunable_but_the_timeout_is_in_the_unit_interval() {
        assert_eq!(UNIT.len() + 1, TUNABLES.len());
        assert!(!is_unit(n::DEFAULT_TIMEOUT_MINUTES));
        assert!(is_unit(n::AUTO_APPROVE_MIN_CONFIDENCE) && is_unit(n::RISK_HIGH));
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
