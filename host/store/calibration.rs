//! What Medic has learnt of its evidence: every kill whose truth became
//! known (a resurrection's outcome, a person's verdict) is counted by its
//! SIEM risk, the SIEM's count of false positives on record, its strongest
//! threat indicator, Smith's confidence and the kill's reason. For each
//! new kill the plugins are told how many known kills resembled it in each,
//! and how many turned out threats (named values `known.*`, see
//! `docs/decision-quality.md`, "Calibration"), so a scorer can read the
//! SIEM and Smith as they have proved to be on this fleet rather than as
//! assumed.
//!
//! Counting is O(1) per kill and the whole state is a few hundred integers.

use serde::{Deserialize, Serialize};

use super::{Result, SledStore};
use crate::model::{
    KillReason, OutcomeRecord, OutcomeResult, QueueItem, QueueStatus, Reading, Resembling, Tally,
};
use medic_plugin_logic::evidence::FP_HISTORY_CAP;

/// SIEM risk is counted in bins this wide (0.05).
pub const SIEM_BINS: usize = 20;
/// A kill resembles known kills whose SIEM risk lies within this many bins
/// of its own (±0.05 to ±0.10 around it).
const SIEM_REACH: usize = 1;
const FP_BINS: usize = FP_HISTORY_CAP as usize + 1;
/// The strongest threat indicator: none in the first bin, then its score in
/// bins of 0.1 (a kill with one resembles kills within a bin of it).
const INDICATOR_BINS: usize = 11;
/// Smith's confidence, in bins of 0.05 (resembling within a bin, as SIEM
/// risk).
const CONFIDENCE_BINS: usize = 20;
const REASONS: usize = 6;

/// The counts of kills whose truth is known.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Calibration {
    pub all: Tally,
    siem_risk: [Tally; SIEM_BINS],
    fp_history: [Tally; FP_BINS],
    indicators: [Tally; INDICATOR_BINS],
    smith_confidence: [Tally; CONFIDENCE_BINS],
    kill_reason: [Tally; REASONS],
}

/// A share in [0, 1] in one of `bins` equal bins (1.0 in the last; a
/// non-finite one in the middle).
fn share_bin(share: f64, bins: usize) -> usize {
    if !share.is_finite() {
        return bins / 2;
    }
    // Truncation is the binning.
    ((share.clamp(0.0, 1.0) * bins as f64) as usize).min(bins - 1)
}

fn siem_bin(risk: f64) -> usize {
    share_bin(risk, SIEM_BINS)
}

fn indicator_bin(score: f64) -> usize {
    if score > 0.0 {
        1 + share_bin(score, INDICATOR_BINS - 1)
    } else {
        0
    }
}

fn reason_bin(reason: KillReason) -> usize {
    match reason {
        KillReason::AnomalyBehavior => 0,
        KillReason::ThreatDetected => 1,
        KillReason::PolicyViolation => 2,
        KillReason::ResourceExhaustion => 3,
        KillReason::DependencyCascade => 4,
        KillReason::ManualOverride => 5,
    }
}

/// The bins a kill's evidence falls in, one per kind of evidence (none for
/// a kind its record does not hold).
#[derive(Clone, Copy)]
struct Bins {
    siem_risk: usize,
    fp_history: usize,
    indicator: Option<usize>,
    confidence: Option<usize>,
    reason: Option<usize>,
}

impl Bins {
    fn of(r: &Reading) -> Bins {
        Bins {
            siem_risk: siem_bin(r.siem_risk),
            fp_history: fp_bin(r.on_record),
            indicator: r.indicator.map(indicator_bin),
            confidence: r.confidence.map(|c| share_bin(c, CONFIDENCE_BINS)),
            reason: r.reason.map(reason_bin),
        }
    }
}

/// The tallies of the bins within `reach` of `bin`.
fn near(tallies: &[Tally], bin: usize, reach: usize) -> Tally {
    let lo = bin.saturating_sub(reach);
    let hi = (bin + reach).min(tallies.len() - 1);
    tallies[lo..=hi]
        .iter()
        .fold(Tally::default(), |a, t| a.plus(*t))
}

fn fp_bin(on_record: u32) -> usize {
    (on_record.min(FP_HISTORY_CAP)) as usize
}

impl Calibration {
    /// Counts one kill whose truth became known. A kill without SIEM
    /// context counts in the totals only.
    pub fn add(&mut self, reading: Option<Reading>, threat: bool) {
        self.all.add(threat);
        if let Some(r) = reading {
            self.each(&r, |t| t.add(threat));
        }
    }

    /// Applies `f` to the tally of each bin the reading falls in.
    fn each(&mut self, r: &Reading, mut f: impl FnMut(&mut Tally)) {
        let b = Bins::of(r);
        f(&mut self.siem_risk[b.siem_risk]);
        f(&mut self.fp_history[b.fp_history]);
        if let Some(i) = b.indicator {
            f(&mut self.indicators[i]);
        }
        if let Some(i) = b.confidence {
            f(&mut self.smith_confidence[i]);
        }
        if let Some(i) = b.reason {
            f(&mut self.kill_reason[i]);
        }
    }

    /// Takes back a kill counted by [`Calibration::add`] (its record past
    /// retention and removed): the counts stay those a store holding only
    /// what is kept would be rebuilt with.
    pub fn forget(&mut self, reading: Option<Reading>, threat: bool) {
        let take = |t: &mut Tally| {
            if threat {
                t.threats = t.threats.saturating_sub(1);
            } else {
                t.false_positives = t.false_positives.saturating_sub(1);
            }
        };
        take(&mut self.all);
        if let Some(r) = reading {
            self.each(&r, take);
        }
    }

    /// Counts a kill put to a person (its truth unknown until decided), or
    /// takes one back (`waiting` false) once a person decided it.
    pub fn unresolved(&mut self, reading: Option<Reading>, waiting: bool) {
        let step = |n: &mut u32| {
            *n = if waiting {
                n.saturating_add(1)
            } else {
                n.saturating_sub(1)
            }
        };
        step(&mut self.all.unresolved);
        if let Some(r) = reading {
            self.each(&r, |t| step(&mut t.unresolved));
        }
    }

    /// What the known kills say of one with this evidence.
    pub fn resembling(&self, reading: Option<Reading>) -> Resembling {
        let Some(r) = reading else {
            return Resembling {
                all: self.all,
                ..Resembling::default()
            };
        };
        let b = Bins::of(&r);
        Resembling {
            all: self.all,
            siem_risk: near(&self.siem_risk, b.siem_risk, SIEM_REACH),
            fp_history: self.fp_history[b.fp_history],
            // No indicator resembles only no indicator.
            indicators: b.indicator.map_or(Tally::default(), |i| {
                if i == 0 {
                    self.indicators[0]
                } else {
                    near(&self.indicators[1..], i - 1, 1)
                }
            }),
            smith_confidence: b
                .confidence
                .map_or(Tally::default(), |i| near(&self.smith_confidence, i, 1)),
            kill_reason: b.reason.map_or(Tally::default(), |i| self.kill_reason[i]),
        }
    }
}

/// What a resurrection's result says of the kill's truth: re-killed or
/// rolled back, a threat; back and stayed, a false positive; a failure to
/// come back says nothing.
pub fn truth_of(result: OutcomeResult) -> Option<bool> {
    match result {
        OutcomeResult::ReKilled | OutcomeResult::Rollback => Some(true),
        OutcomeResult::Success | OutcomeResult::PartialSuccess => Some(false),
        OutcomeResult::Failure => None,
    }
}

/// The calibration, shared by the store's handles.
pub(crate) type Shared = parking_lot::Mutex<Calibration>;

impl SledStore {
    /// What the kills of known truth say of one with this evidence.
    pub fn resembling(&self, reading: Option<Reading>) -> Resembling {
        self.calibration.lock().resembling(reading)
    }

    /// Counts an outcome just recorded.
    pub(crate) fn calibrate_outcome(&self, o: &OutcomeRecord) {
        if let Some(threat) = truth_of(o.result) {
            self.calibration.lock().add(o.reading, threat);
        }
    }

    /// Counts a queued kill that expired with nobody deciding it: its truth
    /// stays unknown, and the scorer reads it with the threats.
    pub(crate) fn calibrate_expired(&self, item: &QueueItem) -> Result<()> {
        let reading = self.reading_of(item)?;
        self.calibration.lock().unresolved(reading, true);
        Ok(())
    }

    /// The evidence of a queued kill, from its decision record.
    pub(crate) fn reading_of(&self, item: &QueueItem) -> Result<Option<Reading>> {
        Ok(self
            .record(&item.decision.decision_id)?
            .and_then(|r| Reading::of(&r.kill, r.context.as_ref())))
    }

    /// Builds the calibration at open from every outcome, the people's
    /// denials (`denied`: their evidence, read with the verdicts' counts)
    /// and the queue items that expired undecided.
    /// Every outcome record is decoded, once, here (its evidence is not in
    /// the module index).
    pub(crate) fn load_calibration(&self, denied: Vec<Option<Reading>>) -> Result<()> {
        let mut c = Calibration::default();
        for item in self.outcomes.iter() {
            let (_, v) = item?;
            let o: OutcomeRecord = super::outcomes::decode(&v)?;
            if let Some(threat) = truth_of(o.result) {
                c.add(o.reading, threat);
            }
        }
        for reading in denied {
            c.add(reading, true);
        }
        for item in self.queue_decided.iter() {
            let item: QueueItem = serde_json::from_slice(&item?.1)?;
            if item.status == QueueStatus::Expired {
                c.unresolved(self.reading_of(&item)?, true);
            }
        }
        *self.calibration.lock() = c;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use medic_plugin_logic::values::names as n;

    /// The SIEM's part of a reading only (as in records from before the
    /// kill's own evidence was counted).
    fn reading(risk: f64, on_record: u32) -> Option<Reading> {
        Some(Reading {
            siem_risk: risk,
            on_record,
            indicator: None,
            confidence: None,
            reason: None,
        })
    }

    fn kill_reading(indicator: f64, confidence: f64, reason: KillReason) -> Option<Reading> {
        Some(Reading {
            indicator: Some(indicator),
            confidence: Some(confidence),
            reason: Some(reason),
            ..reading(0.5, 0)?
        })
    }

    #[test]
    fn kills_resemble_their_neighbours_in_indicator_confidence_and_reason() {
        let mut c = Calibration::default();
        c.add(kill_reading(0.0, 0.62, KillReason::AnomalyBehavior), false);
        c.add(kill_reading(0.0, 0.91, KillReason::ThreatDetected), true);
        c.add(kill_reading(0.72, 0.68, KillReason::AnomalyBehavior), true);
        c.add(kill_reading(0.95, 0.66, KillReason::AnomalyBehavior), true);
        // An old record counts by its SIEM evidence only.
        c.add(reading(0.5, 0), false);
        let r = c.resembling(kill_reading(0.0, 0.66, KillReason::AnomalyBehavior));
        let t = |threats, false_positives| Tally {
            threats,
            false_positives,
            unresolved: 0,
        };
        // No indicator resembles only no indicator.
        assert_eq!(r.indicators, t(1, 1));
        // 0.66 is in [0.65, 0.70): its neighbours reach 0.60-0.75.
        assert_eq!(r.smith_confidence, t(2, 1));
        assert_eq!(r.kill_reason, t(2, 1));
        // An indicator of 0.81, in [0.8, 0.9), resembles those of 0.7-1.0
        // (the 0.72 and the 0.95), not none.
        let r = c.resembling(kill_reading(0.81, 0.66, KillReason::ThreatDetected));
        assert_eq!(r.indicators, t(2, 0));
        let r = c.resembling(kill_reading(0.55, 0.66, KillReason::ThreatDetected));
        assert_eq!(r.indicators, t(0, 0), "0.4-0.7 holds none of them");
        assert_eq!(r.kill_reason, t(1, 0));
        // Unresolved kills are counted in every bin and taken back.
        c.unresolved(kill_reading(0.0, 0.66, KillReason::AnomalyBehavior), true);
        let r = c.resembling(kill_reading(0.0, 0.66, KillReason::AnomalyBehavior));
        assert_eq!(
            [
                r.indicators.unresolved,
                r.smith_confidence.unresolved,
                r.kill_reason.unresolved
            ],
            [1, 1, 1]
        );
        c.unresolved(kill_reading(0.0, 0.66, KillReason::AnomalyBehavior), false);
        assert_eq!(
            c.resembling(kill_reading(0.0, 0.66, KillReason::AnomalyBehavior))
                .kill_reason
                .unresolved,
            0
        );
    }

    #[test]
    fn kills_resemble_their_neighbours_in_siem_risk_and_their_count_on_record() {
        let mut c = Calibration::default();
        c.add(reading(0.12, 0), false);
        c.add(reading(0.17, 2), false);
        c.add(reading(0.22, 9), true);
        c.add(reading(0.80, 0), true);
        c.add(None, true);
        let r = c.resembling(reading(0.16, 7));
        assert_eq!(
            r.all,
            Tally {
                threats: 3,
                false_positives: 2,
                ..Tally::default()
            }
        );
        // 0.16 is in the bin [0.15, 0.20): its neighbours reach 0.10–0.25.
        assert_eq!(
            r.siem_risk,
            Tally {
                threats: 1,
                false_positives: 2,
                ..Tally::default()
            }
        );
        // 7 on record counts with the 5-or-more bin, as 9 did.
        assert_eq!(
            r.fp_history,
            Tally {
                threats: 1,
                false_positives: 0,
                ..Tally::default()
            }
        );
        assert_eq!(c.resembling(None).siem_risk, Tally::default());
    }

    fn outcome(n: u32, result: OutcomeResult, risk: f64) -> OutcomeRecord {
        OutcomeRecord {
            reading: reading(risk, 0),
            ..crate::fixtures::outcome(n, result)
        }
    }

    #[test]
    fn the_store_counts_outcomes_and_denials_and_rebuilds_the_counts_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        let near = reading(0.12, 0);
        {
            let s = SledStore::open(&path).unwrap();
            s.put_outcome(&outcome(1, OutcomeResult::Success, 0.11))
                .unwrap();
            s.put_outcome(&outcome(2, OutcomeResult::PartialSuccess, 0.14))
                .unwrap();
            s.put_outcome(&outcome(3, OutcomeResult::ReKilled, 0.13))
                .unwrap();
            // A failure to come back says nothing of the kill.
            s.put_outcome(&outcome(4, OutcomeResult::Failure, 0.12))
                .unwrap();
            s.put_outcome(&outcome(5, OutcomeResult::Rollback, 0.9))
                .unwrap();
            let r = s.resembling(near);
            assert_eq!(
                (r.all, r.siem_risk),
                (
                    Tally {
                        threats: 2,
                        false_positives: 2,
                        ..Tally::default()
                    },
                    Tally {
                        threats: 1,
                        false_positives: 2,
                        ..Tally::default()
                    }
                )
            );
        }
        let s = (0..100)
            .find_map(|_| {
                SledStore::open(&path).ok().or_else(|| {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                    None
                })
            })
            .expect("the store opens again");
        let r = s.resembling(near);
        assert_eq!(r.all.threats, 2);
        assert_eq!(r.siem_risk.false_positives, 2);
    }

    #[test]
    fn out_of_range_risks_fall_in_the_edge_bins() {
        let mut c = Calibration::default();
        c.add(reading(1.0, 0), true);
        c.add(reading(-3.0, 0), false);
        c.add(reading(f64::NAN, 0), false);
        assert_eq!(c.resembling(reading(0.99, 0)).siem_risk.threats, 1);
        assert_eq!(c.resembling(reading(0.0, 0)).siem_risk.false_positives, 1);
        let facts = c.resembling(reading(0.5, 0)).facts();
        assert_eq!(facts[0], (n::KNOWN_THREATS, 1.0));
        assert_eq!(facts[3], (n::KNOWN_SIEM_RISK_FALSE_POSITIVES, 1.0));
    }
}
