//! The `bounded` threshold learner: compares, per risk band, how often
//! resurrections went wrong (re-killed, rolled back, failed) with a target
//! rate, and proposes moving that band's upper threshold — never by more than
//! `max_adjustment_percent` in one step, and never from fewer than
//! `min_samples` outcomes.

use crate::types::{
    DecisionOutcome, LearnInput, OutcomeResult, OutcomeSample, RiskLevel, ThresholdAdjustment,
};
use crate::values::{Bands, get, names};

const BANDS: [RiskLevel; 4] = [
    RiskLevel::Minimal,
    RiskLevel::Low,
    RiskLevel::Medium,
    RiskLevel::High,
];

/// Keeps adjacent thresholds this far apart so the bands never collapse.
const MIN_GAP: f64 = 0.01;

/// The limits every learner here honours: `max_adjustment_percent` (in
/// [0, 100]) and `min_samples` (at least 1), with their defaults.
fn limits(settings: &[crate::types::NamedValue]) -> Result<(f64, f64), String> {
    let max_pct = get(settings, names::MAX_ADJUSTMENT_PERCENT, 10.0);
    let min_samples = get(settings, names::MIN_SAMPLES, 50.0);
    if !(0.0..=100.0).contains(&max_pct) {
        return Err(format!(
            "max_adjustment_percent {max_pct} is outside [0, 100]"
        ));
    }
    if min_samples < 1.0 {
        return Err(format!("min_samples {min_samples} must be at least 1"));
    }
    Ok((max_pct, min_samples))
}

pub fn learn(input: &LearnInput) -> Result<Vec<ThresholdAdjustment>, String> {
    let s = &input.settings;
    let (max_pct, min_samples) = limits(s)?;
    let target = get(s, names::TARGET_FAILURE_RATE, 0.10);
    let relax_below = get(s, names::RELAX_BELOW_FAILURE_RATE, 0.02);
    if !(0.0..1.0).contains(&target) || !(0.0..=target).contains(&relax_below) {
        return Err(format!(
            "target_failure_rate {target} and relax_below_failure_rate {relax_below} must satisfy 0 <= relax <= target < 1"
        ));
    }
    if (input.samples.len() as f64) < min_samples {
        return Ok(Vec::new());
    }

    let bands = Bands::from_values(&input.thresholds);
    let mut current = [bands.minimal, bands.low, bands.medium, bands.high];
    // The highest score auto-approval accepts is set to a band's upper
    // bound; it moves with that bound, or moving the band would change
    // nothing about what is resurrected automatically.
    let auto_max = input
        .thresholds
        .iter()
        .find(|v| v.name == names::AUTO_APPROVE_MAX_RISK_SCORE)
        .map(|v| v.value);
    let mut out = Vec::new();
    for (i, band) in BANDS.iter().enumerate() {
        let in_band: Vec<_> = input
            .samples
            .iter()
            .filter(|s| s.risk_level == *band)
            .collect();
        let n = in_band.len();
        if (n as f64) < min_samples {
            continue;
        }
        let bad = in_band
            .iter()
            .filter(|s| {
                matches!(
                    s.outcome,
                    OutcomeResult::ReKilled | OutcomeResult::Rollback | OutcomeResult::Failure
                )
            })
            .count();
        let rate = bad as f64 / n as f64;
        // Too many failures: shrink the band (lower its upper bound) so fewer
        // kills are judged this safe. Very few: widen it a little.
        let direction = if rate > target {
            -((rate - target) / (1.0 - target)).min(1.0)
        } else if rate < relax_below {
            0.5 * (relax_below - rate) / relax_below.max(f64::EPSILON)
        } else {
            0.0
        };
        if direction == 0.0 {
            continue;
        }
        let old = current[i];
        let step = old * (max_pct / 100.0) * direction;
        let lower = if i == 0 {
            MIN_GAP
        } else {
            current[i - 1] + MIN_GAP
        };
        let upper = if i == BANDS.len() - 1 {
            1.0 - MIN_GAP
        } else {
            current[i + 1] - MIN_GAP
        };
        let new = (old + step).clamp(lower.min(old), upper.max(old));
        if (new - old).abs() < 1e-6 {
            continue;
        }
        current[i] = new;
        let name = Bands::upper_name(*band).unwrap_or_default().to_string();
        if auto_max.is_some_and(|m| (m - old).abs() < 1e-9) {
            out.push(ThresholdAdjustment {
                name: names::AUTO_APPROVE_MAX_RISK_SCORE.to_string(),
                old_value: old,
                new_value: new,
                reason: format!(
                    "follows {name}, the upper bound of the band auto-approval accepts"
                ),
            });
        }
        out.push(ThresholdAdjustment {
            reason: format!(
                "{} band: {bad} of {n} resurrections went wrong ({:.1}%, target {:.1}%): {} {name} {old:.3} -> {new:.3} ({:+.1}%, limit {max_pct}%)",
                band.as_str(),
                rate * 100.0,
                target * 100.0,
                if new < old { "lowering" } else { "raising" },
                (new - old) / old * 100.0,
            ),
            name,
            old_value: old,
            new_value: new,
        });
    }
    Ok(out)
}

/// Whether an outcome says the kill was right after all.
fn confirms_threat(outcome: OutcomeResult) -> bool {
    matches!(outcome, OutcomeResult::ReKilled | OutcomeResult::Rollback)
}

/// Clean resurrections approved by a person, with no threat among them,
/// needed in one run before the bar is lowered.
const MIN_CLEAN_APPROVALS: usize = 10;
/// The lowest `auto_approve.min_confidence` this learner ever proposes
/// (the constitution's floor, passed as `floor.auto_approve.min_confidence`,
/// may be higher).
const MIN_CONFIDENCE_FLOOR: f64 = 0.5;
/// The highest it ever proposes.
const MIN_CONFIDENCE_CEILING: f64 = 0.99;

/// The `calibrated` learner: moves the automation bar
/// (`auto_approve.min_confidence`) from the outcomes of every resurrection,
/// automatic or approved by a person.
///
/// - Any automatic resurrection that turned out to be a threat (re-killed or
///   rolled back) raises the bar by `max_adjustment_percent` of it.
/// - Otherwise, when people approved at least ten kills Medic held back and
///   every one came back clean (none a threat, automatic or approved), the
///   bar is lowered by a quarter of that: loosening is four times slower
///   than tightening. It proposes; the host decides, replaying the proposal
///   through the strategy on every kill it knows was a threat and refusing
///   it if one would have been revived, or if too few known false
///   positives would be automated to show threats there are rare.
///
/// It also moves the deny bar (`auto_deny.min_risk_score`) from what
/// people decided: where they denied nearly every kill scored as high, such
/// kills are denied without them (see [`deny_bar`]; the host counts the
/// known kills by score in `settings`, `known_by_score.*`).
///
/// One change a run. Nothing moves from fewer than `min_samples` outcomes,
/// and nothing leaves the constitution's `[floor, ceiling]` (passed in
/// `settings` as `floor.<tunable>` and `ceiling.<tunable>`).
pub fn calibrated(input: &LearnInput) -> Result<Vec<ThresholdAdjustment>, String> {
    let (max_pct, min_samples) = limits(&input.settings)?;
    if (resurrections(input).count() as f64) < min_samples {
        return Ok(Vec::new());
    }
    // One change a run, so that the host's check on one never holds back
    // another: raising the automation bar first (after a threat got
    // through), then the deny bar, then lowering the automation bar.
    let bar = automation_bar(input, max_pct);
    let tightens = bar.as_ref().is_some_and(|a| a.new_value > a.old_value);
    let change = if tightens {
        bar
    } else {
        deny_bar(input, max_pct).or(bar)
    };
    Ok(change.into_iter().collect())
}

/// The outcomes of resurrections (automatic or approved by a person) with
/// a score.
fn resurrections(input: &LearnInput) -> impl Iterator<Item = &OutcomeSample> {
    input.samples.iter().filter(|s| {
        matches!(
            s.decision,
            DecisionOutcome::ApproveAuto | DecisionOutcome::ApproveManual
        ) && s.risk_score.is_finite()
    })
}

/// The automation bar of [`calibrated`], or no change.
fn automation_bar(input: &LearnInput, max_pct: f64) -> Option<ThresholdAdjustment> {
    let resurrections: Vec<_> = resurrections(input).collect();
    let name = names::AUTO_APPROVE_MIN_CONFIDENCE;
    let old = get(&input.thresholds, name, 0.85);
    let floor =
        get(&input.settings, &names::floor(name), MIN_CONFIDENCE_FLOOR).max(MIN_CONFIDENCE_FLOOR);
    let ceiling = get(
        &input.settings,
        &names::ceiling(name),
        MIN_CONFIDENCE_CEILING,
    )
    .min(MIN_CONFIDENCE_CEILING);
    let step = old * max_pct / 100.0;
    let n = resurrections.len();
    let threat = |s: &&&OutcomeSample| confirms_threat(s.outcome);
    let automatic = |s: &&&OutcomeSample| s.decision == DecisionOutcome::ApproveAuto;
    let bad_auto = resurrections
        .iter()
        .filter(automatic)
        .filter(threat)
        .count();
    let (new, reason) = if bad_auto > 0 {
        (
            (old + step).min(ceiling).max(old),
            format!(
                "{bad_auto} of {n} automatic resurrections were threats (re-killed or rolled back): raising the bar"
            ),
        )
    } else {
        let approved = resurrections.len() - resurrections.iter().filter(automatic).count();
        let bad_approved = resurrections.iter().filter(threat).count();
        if approved < MIN_CLEAN_APPROVALS || bad_approved > 0 {
            return None;
        }
        (
            (old - step / 4.0).max(floor).min(old),
            format!(
                "people approved {approved} kills Medic held back and all came back clean, as did every automatic resurrection: lowering the bar"
            ),
        )
    };
    if (new - old).abs() < 1e-6 {
        return None;
    }
    Some(ThresholdAdjustment {
        name: name.to_string(),
        old_value: old,
        new_value: new,
        reason: format!(
            "{reason}: {old:.3} -> {new:.3} ({:+.1}%, limit {max_pct}%)",
            (new - old) / old * 100.0
        ),
    })
}

/// Leaving a false positive down with nobody owning it costs about ten
/// looks by a person: denying the kills scored at or over a bar pays while
/// false positives among them are under one in ten.
pub const ACCEPTABLE_FALSE_POSITIVES_DENIED: f64 = 0.1;
/// Known kills at or over a lowered deny bar needed before it moves: with
/// none of them a false positive, thirty bound the share under one in ten
/// (95%, one-sided).
pub const MIN_DENY_EVIDENCE: u64 = 30;

/// The lowest `auto_deny.min_risk_score` this learner ever proposes (the
/// constitution's floor may be higher).
const DENY_BAR_FLOOR: f64 = 0.3;

/// The deny bar of [`calibrated`] (`auto_deny.min_risk_score`), moved on the
/// edges of the bins of the host's `known_by_score` counts, or no change.
///
/// - Lowered, bin by bin down until a bin's share of false positives is
///   over [`ACCEPTABLE_FALSE_POSITIVES_DENIED`] even at its lower bound, to the
///   lowest edge where, among the known kills scored at or over it (at
///   least [`MIN_DENY_EVIDENCE`]), that share is under it even at its upper
///   bound; by no more than the constitution's `max_step` (passed as
///   `max_step.auto_deny.min_risk_score`) or `max_adjustment_percent` of it.
/// - Raised a bin when the known kills at or over the bar show that share
///   over it even at its lower bound (what the bar denies proved too often
///   wrong).
///
/// Never below the constitution's floor or above its ceiling (as passed in
/// `settings`), never above 1.
fn deny_bar(input: &LearnInput, max_pct: f64) -> Option<ThresholdAdjustment> {
    let name = names::AUTO_DENY_MIN_RISK_SCORE;
    let s = &input.settings;
    let old = get(&input.thresholds, name, 1.0).clamp(0.0, 1.0);
    let floor = get(s, &names::floor(name), DENY_BAR_FLOOR).clamp(DENY_BAR_FLOOR, 1.0);
    let ceiling = get(s, &names::ceiling(name), 1.0).clamp(0.0, 1.0);
    let bins = names::VERDICT_BINS as f64;
    let count =
        |threat: bool, bin: usize| get(s, &names::known_by_score(threat, bin), 0.0).max(0.0) as u64;
    // Threats and false positives in the bins from `from` up.
    let from_bin = |from: usize| {
        (from..names::VERDICT_BINS).fold((0, 0), |(t, f), b| {
            (t + count(true, b), f + count(false, b))
        })
    };
    // The first bin at or over a bar (bars sit on bin edges once learned).
    let first_bin = |bar: f64| ((bar * bins) - 1e-9).ceil().max(0.0) as usize;
    let at = first_bin(old);
    let (t, f) = from_bin(at);
    if t + f >= MIN_DENY_EVIDENCE
        && crate::stats::wilson_lower(f, t + f) > ACCEPTABLE_FALSE_POSITIVES_DENIED
    {
        let new = ((at + 1) as f64 / bins).min(ceiling).min(1.0);
        return (new > old + 1e-9).then(|| ThresholdAdjustment {
            name: name.to_string(),
            old_value: old,
            new_value: new,
            reason: format!(
                "{f} of {} known kills scored at or over {old:.2} were false positives (more than {ACCEPTABLE_FALSE_POSITIVES_DENIED} even at the lower bound): raising the deny bar {old:.2} -> {new:.2}",
                t + f
            ),
        });
    }
    // Down from the bar a bin at a time until a bin is surely worse than
    // acceptable (even at its lower bound): the lowest edge whose region
    // has the evidence.
    let floor_bin = first_bin(floor);
    let (mut t, mut f) = (t, f);
    let mut lowest = None;
    for b in (floor_bin..at).rev() {
        let (bt, bf) = (count(true, b), count(false, b));
        if crate::stats::wilson_lower(bf, bt + bf) > ACCEPTABLE_FALSE_POSITIVES_DENIED {
            break;
        }
        (t, f) = (t + bt, f + bf);
        if t + f >= MIN_DENY_EVIDENCE
            && crate::stats::wilson_upper(f, t + f) < ACCEPTABLE_FALSE_POSITIVES_DENIED
        {
            lowest = Some((b, t, f));
        }
    }
    let (b, t, f) = lowest?;
    // No further than the constitution's largest step, nor than
    // `max_adjustment_percent` of the bar.
    let max_step = get(s, &names::max_step(name), 1.0)
        .max(0.0)
        .min(old * max_pct / 100.0);
    let new = (b as f64 / bins).max(first_bin(old - max_step) as f64 / bins);
    (new < old - 1e-9).then(|| ThresholdAdjustment {
        name: name.to_string(),
        old_value: old,
        new_value: new,
        reason: format!(
            "of {} known kills scored at or over {:.2}, {f} were false positives (at most {:.3} at the upper bound, under {ACCEPTABLE_FALSE_POSITIVES_DENIED}): people deny these; lowering the deny bar {old:.2} -> {new:.2}",
            t + f,
            b as f64 / bins,
            crate::stats::wilson_upper(f, t + f)
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{NamedValue, OutcomeSample};

    fn samples(level: RiskLevel, good: usize, bad: usize) -> Vec<OutcomeSample> {
        (0..good + bad)
            .map(|i| OutcomeSample {
                kill_id: format!("k{i}"),
                module: "svc".into(),
                risk_level: level,
                risk_score: 0.3,
                decision: DecisionOutcome::ApproveAuto,
                outcome: if i < bad {
                    OutcomeResult::ReKilled
                } else {
                    OutcomeResult::Success
                },
                time_to_stable_seconds: None,
                recorded_at_ms: 0,
            })
            .collect()
    }

    fn input(samples: Vec<OutcomeSample>, max_pct: f64, min: f64) -> LearnInput {
        LearnInput {
            thresholds: vec![],
            samples,
            settings: vec![
                NamedValue {
                    name: names::MAX_ADJUSTMENT_PERCENT.into(),
                    value: max_pct,
                },
                NamedValue {
                    name: names::MIN_SAMPLES.into(),
                    value: min,
                },
            ],
            now_ms: 0,
        }
    }

    #[test]
    fn nothing_below_min_samples() {
        assert!(
            learn(&input(samples(RiskLevel::Low, 10, 30), 10.0, 50.0))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn failing_band_is_lowered_within_the_bound() {
        let adj = learn(&input(samples(RiskLevel::Low, 20, 40), 10.0, 50.0)).unwrap();
        assert_eq!(adj.len(), 1);
        let a = &adj[0];
        assert_eq!(a.name, names::RISK_LOW);
        assert!(a.new_value < a.old_value);
        assert!((a.old_value - a.new_value) / a.old_value <= 0.10 + 1e-9);
        assert!(a.reason.contains("40 of 60"));
    }

    #[test]
    fn clean_band_is_raised_a_little() {
        let adj = learn(&input(samples(RiskLevel::Minimal, 100, 0), 10.0, 50.0)).unwrap();
        assert_eq!(adj.len(), 1);
        assert!(adj[0].new_value > adj[0].old_value);
        assert!((adj[0].new_value - adj[0].old_value) / adj[0].old_value <= 0.10 + 1e-9);
    }

    #[test]
    fn the_auto_approval_limit_moves_with_its_band() {
        let mut i = input(samples(RiskLevel::Low, 20, 40), 10.0, 50.0);
        i.thresholds = vec![
            NamedValue {
                name: names::RISK_LOW.into(),
                value: 0.4,
            },
            NamedValue {
                name: names::AUTO_APPROVE_MAX_RISK_SCORE.into(),
                value: 0.4,
            },
        ];
        let adj = learn(&i).unwrap();
        assert_eq!(adj.len(), 2);
        let limit = adj
            .iter()
            .find(|a| a.name == names::AUTO_APPROVE_MAX_RISK_SCORE)
            .unwrap();
        let low = adj.iter().find(|a| a.name == names::RISK_LOW).unwrap();
        assert_eq!(limit.new_value, low.new_value);
        assert!(low.new_value < 0.4);
    }

    fn scored(score: f64, decision: DecisionOutcome, outcome: OutcomeResult) -> OutcomeSample {
        OutcomeSample {
            kill_id: format!("k{score}"),
            module: "svc".into(),
            risk_level: RiskLevel::Low,
            risk_score: score,
            decision,
            outcome,
            time_to_stable_seconds: None,
            recorded_at_ms: 0,
        }
    }

    fn calibrated_on(samples: Vec<OutcomeSample>) -> Vec<ThresholdAdjustment> {
        let mut i = input(samples, 10.0, 20.0);
        i.thresholds = vec![NamedValue {
            name: names::AUTO_APPROVE_MIN_CONFIDENCE.into(),
            value: 0.85,
        }];
        calibrated(&i).unwrap()
    }

    #[test]
    fn calibrated_lowers_the_bar_after_clean_human_approvals_within_the_floor() {
        // 15 automatic, 15 approved by a person, all clean.
        let mut samples: Vec<_> = (0..15)
            .map(|_| scored(0.1, DecisionOutcome::ApproveAuto, OutcomeResult::Success))
            .collect();
        samples.extend((0..15).map(|i| {
            scored(
                0.16 + f64::from(i) * 0.01,
                DecisionOutcome::ApproveManual,
                OutcomeResult::Success,
            )
        }));
        let adj = calibrated_on(samples.clone());
        assert_eq!(adj.len(), 1, "{adj:?}");
        let a = &adj[0];
        assert_eq!(a.name, names::AUTO_APPROVE_MIN_CONFIDENCE);
        // A quarter of 10% of 0.85.
        assert!((a.new_value - 0.82875).abs() < 1e-9, "{a:?}");
        // The constitution's floor, passed as a setting, holds it.
        let mut i = input(samples, 10.0, 20.0);
        i.thresholds = vec![NamedValue {
            name: names::AUTO_APPROVE_MIN_CONFIDENCE.into(),
            value: 0.71,
        }];
        i.settings.push(NamedValue {
            name: names::floor(names::AUTO_APPROVE_MIN_CONFIDENCE).into(),
            value: 0.7,
        });
        let adj = calibrated(&i).unwrap();
        assert_eq!(adj.len(), 1, "{adj:?}");
        assert!((adj[0].new_value - 0.7).abs() < 1e-9, "{adj:?}");
        i.thresholds[0].value = 0.7;
        assert!(
            calibrated(&i).unwrap().is_empty(),
            "nothing below the floor"
        );
    }

    /// 25 clean automatic resurrections and one re-killed.
    fn one_threat_let_through() -> Vec<OutcomeSample> {
        let mut samples: Vec<_> = (0..25)
            .map(|_| scored(0.1, DecisionOutcome::ApproveAuto, OutcomeResult::Success))
            .collect();
        samples.push(scored(
            0.12,
            DecisionOutcome::ApproveAuto,
            OutcomeResult::ReKilled,
        ));
        samples
    }

    #[test]
    fn calibrated_raises_the_bar_after_a_threat_got_through() {
        let samples = one_threat_let_through();
        let adj = calibrated_on(samples);
        assert_eq!(adj.len(), 1);
        assert!(adj[0].new_value > 0.85 && adj[0].new_value <= 0.85 * 1.1 + 1e-9);
        assert!(adj[0].reason.contains("threats"), "{}", adj[0].reason);
    }

    #[test]
    fn calibrated_stays_put_on_too_little_or_mixed_evidence() {
        // Too few outcomes.
        let few: Vec<_> = (0..5)
            .map(|_| scored(0.2, DecisionOutcome::ApproveManual, OutcomeResult::Success))
            .collect();
        assert!(calibrated_on(few).is_empty());
        // A threat among the first ones above the bar.
        let mut mixed: Vec<_> = (0..15)
            .map(|_| scored(0.1, DecisionOutcome::ApproveAuto, OutcomeResult::Success))
            .collect();
        mixed.push(scored(
            0.16,
            DecisionOutcome::ApproveManual,
            OutcomeResult::Rollback,
        ));
        mixed.extend(
            (0..15).map(|_| scored(0.2, DecisionOutcome::ApproveManual, OutcomeResult::Success)),
        );
        assert!(calibrated_on(mixed).is_empty());
    }

    /// A run with enough clean outcomes, the deny bar at `bar`, and the
    /// host's counts of known kills by score: `(bin, threats, false
    /// positives)`.
    fn deny_run(bar: f64, known: &[(usize, u64, u64)], floor: f64) -> Vec<ThresholdAdjustment> {
        deny_run_stepping(bar, known, floor, 1.0, 100.0)
    }

    fn deny_run_stepping(
        bar: f64,
        known: &[(usize, u64, u64)],
        floor: f64,
        max_step: f64,
        max_pct: f64,
    ) -> Vec<ThresholdAdjustment> {
        let samples = (0..25)
            .map(|_| scored(0.1, DecisionOutcome::ApproveAuto, OutcomeResult::Success))
            .collect();
        let mut i = input(samples, max_pct, 20.0);
        i.thresholds = vec![
            NamedValue {
                name: names::AUTO_APPROVE_MIN_CONFIDENCE.into(),
                value: 0.85,
            },
            NamedValue {
                name: names::AUTO_DENY_MIN_RISK_SCORE.into(),
                value: bar,
            },
        ];
        i.settings.push(NamedValue {
            name: names::floor(names::AUTO_DENY_MIN_RISK_SCORE).into(),
            value: floor,
        });
        i.settings.push(NamedValue {
            name: names::max_step(names::AUTO_DENY_MIN_RISK_SCORE).into(),
            value: max_step,
        });
        for &(bin, t, f) in known {
            for (threat, n) in [(true, t), (false, f)] {
                i.settings.push(NamedValue {
                    name: names::known_by_score(threat, bin).into(),
                    value: n as f64,
                });
            }
        }
        calibrated(&i).unwrap()
    }

    #[test]
    fn calibrated_lowers_the_deny_bar_a_bin_where_people_denied_nearly_all() {
        // Bins 12..: 60 threats, 1 false positive; bin 11: 30 threats, 1
        // false positive; bin 10: half and half.
        let known = [(10, 20, 20), (11, 30, 1), (12, 40, 1), (14, 20, 0)];
        // From the top, past the empty bins, to 0.55 (bins 11.. hold 90
        // threats and 2 false positives).
        let adj = deny_run(1.0, &known, 0.3);
        assert_eq!(adj.len(), 1, "{adj:?}");
        assert_eq!(adj[0].name, names::AUTO_DENY_MIN_RISK_SCORE);
        assert!((adj[0].new_value - 0.55).abs() < 1e-9, "{adj:?}");
        // No further than the constitution's largest step, nor than
        // max_adjustment_percent of the bar (to the bin edge at or over it).
        let adj = deny_run_stepping(1.0, &known, 0.3, 0.1, 100.0);
        assert!((adj[0].new_value - 0.9).abs() < 1e-9, "{adj:?}");
        let adj = deny_run_stepping(0.9, &known, 0.3, 1.0, 10.0);
        assert!((adj[0].new_value - 0.85).abs() < 1e-9, "{adj:?}");
        // From 0.60 (bin 12) to 0.55 (bin 11 added: 2 of 92 false positives).
        let adj = deny_run(0.6, &known, 0.3);
        assert!((adj[0].new_value - 0.55).abs() < 1e-9, "{adj:?}");
        // Not to 0.50: bin 10 is half false positives.
        assert!(deny_run(0.55, &known, 0.3).is_empty());
        // Not under the constitution's floor.
        assert!(deny_run(0.6, &known, 0.58).is_empty());
        // Not on too little evidence: 20 known kills.
        assert!(deny_run(0.75, &[(14, 20, 0)], 0.3).is_empty());
    }

    #[test]
    fn calibrated_raises_the_deny_bar_when_what_it_denies_proved_often_wrong() {
        let adj = deny_run(0.5, &[(10, 30, 10), (12, 20, 5)], 0.3);
        assert_eq!(adj.len(), 1, "{adj:?}");
        assert!((adj[0].new_value - 0.55).abs() < 1e-9, "{adj:?}");
        assert!(adj[0].reason.contains("raising"), "{}", adj[0].reason);
    }

    #[test]
    fn a_threat_let_through_is_answered_before_the_deny_bar_moves() {
        let samples = one_threat_let_through();
        let mut i = input(samples, 10.0, 20.0);
        for bin in 12..20 {
            i.settings.push(NamedValue {
                name: names::known_by_score(true, bin).into(),
                value: 50.0,
            });
        }
        let adj = calibrated(&i).unwrap();
        assert_eq!(adj.len(), 1, "{adj:?}");
        assert_eq!(adj[0].name, names::AUTO_APPROVE_MIN_CONFIDENCE);
    }
}
