//! Pattern analysis over a window of outcomes (for the weekly report):
//! modules whose kills are mostly false positives, kill reasons whose
//! resurrections get re-killed, strategies whose auto-approvals fail, and
//! how well Smith's confidence separates true threats from false alarms.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::{DecisionOutcome, OutcomeRecord, OutcomeResult, wire_name};

/// A pattern needs at least this many outcomes behind it.
pub const MIN_EVIDENCE: usize = 3;

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Share {
    pub key: String,
    pub outcomes: usize,
    pub matching: usize,
    pub share: f64,
}

/// Mean Smith confidence of kills later shown wrong (the module came back
/// and stayed) and right (re-killed or rolled back).
#[derive(Clone, Debug, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Calibration {
    pub false_alarms: usize,
    pub mean_confidence_false_alarms: Option<f64>,
    pub confirmed: usize,
    pub mean_confidence_confirmed: Option<f64>,
    /// Confirmed minus false alarms: how well confidence separates them.
    pub separation: Option<f64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Patterns {
    /// Modules whose resurrections mostly succeed: Smith's kills of them
    /// are mostly false positives.
    pub false_positive_modules: Vec<Share>,
    /// Kill reasons whose resurrections are often re-killed.
    pub re_killed_reasons: Vec<Share>,
    /// Strategies whose automatic approvals often end badly.
    pub failing_strategies: Vec<Share>,
    pub calibration: Calibration,
    /// This window's separation minus the previous one's.
    pub calibration_drift: Option<f64>,
}

/// Shares of `matching` per key, for keys with enough evidence and a share
/// of at least `floor`, highest first.
fn shares<'a>(
    outcomes: impl Iterator<Item = &'a OutcomeRecord>,
    key: impl Fn(&OutcomeRecord) -> Option<String>,
    matching: impl Fn(&OutcomeRecord) -> bool,
    floor: f64,
) -> Vec<Share> {
    let mut by: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for o in outcomes {
        if let Some(k) = key(o) {
            let e = by.entry(k).or_default();
            e.0 += 1;
            e.1 += usize::from(matching(o));
        }
    }
    let mut out: Vec<Share> = by
        .into_iter()
        .filter(|(_, (n, _))| *n >= MIN_EVIDENCE)
        .map(|(key, (n, m))| Share {
            key,
            outcomes: n,
            matching: m,
            share: m as f64 / n as f64,
        })
        .filter(|s| s.share >= floor)
        .collect();
    out.sort_by(|a, b| {
        b.share
            .total_cmp(&a.share)
            .then(b.outcomes.cmp(&a.outcomes))
    });
    out
}

fn mean(xs: &[f64]) -> Option<f64> {
    (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
}

pub fn calibration(outcomes: &[OutcomeRecord]) -> Calibration {
    let (mut wrong, mut right) = (Vec::new(), Vec::new());
    for o in outcomes {
        let Some(c) = o.smith_confidence else {
            continue;
        };
        if o.succeeded() {
            wrong.push(c);
        } else if matches!(o.result, OutcomeResult::ReKilled | OutcomeResult::Rollback) {
            right.push(c);
        }
    }
    let (mw, mr) = (mean(&wrong), mean(&right));
    Calibration {
        false_alarms: wrong.len(),
        mean_confidence_false_alarms: mw,
        confirmed: right.len(),
        mean_confidence_confirmed: mr,
        separation: mr.zip(mw).map(|(r, w)| r - w),
    }
}

/// The patterns in `outcomes`, with drift against `previous`.
pub fn analyse(outcomes: &[OutcomeRecord], previous: &[OutcomeRecord]) -> Patterns {
    let calibration = calibration(outcomes);
    let before = self::calibration(previous);
    Patterns {
        false_positive_modules: shares(
            outcomes.iter(),
            |o| Some(o.target_module.clone()),
            OutcomeRecord::succeeded,
            0.8,
        ),
        re_killed_reasons: shares(
            outcomes.iter(),
            |o| o.kill_reason.map(|r| wire_name(&r)),
            |o| o.result == OutcomeResult::ReKilled,
            0.25,
        ),
        failing_strategies: shares(
            outcomes
                .iter()
                .filter(|o| o.decision == DecisionOutcome::ApproveAuto),
            |o| (!o.strategy.is_empty()).then(|| o.strategy.clone()),
            |o| !o.succeeded(),
            0.2,
        ),
        calibration_drift: calibration
            .separation
            .zip(before.separation)
            .map(|(now, then)| now - then),
        calibration,
    }
}
