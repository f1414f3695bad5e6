//! What a replay found, per candidate: the outcome distribution and, against
//! the recording's labels, unsafe auto-resurrections, recovered false
//! positives, human workload, and precision/recall of "resurrect".

use std::collections::BTreeMap;

use serde::Serialize;

use super::recording::{Label, Truth};
use crate::model::{DecisionOutcome, wire_name};

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CandidateReport {
    pub strategy: String,
    pub version: String,
    pub sha256: String,
    pub decisions: u64,
    pub outcomes: BTreeMap<String, u64>,
    pub guardrails: BTreeMap<String, u64>,
    pub labelled: u64,
    pub true_threats: u64,
    pub false_positives: u64,
    /// True threats the candidate would have resurrected automatically.
    pub unsafe_auto_resurrections: u64,
    /// False positives it would have brought back automatically.
    pub recovered_false_positives: u64,
    /// Kills it would have put in front of a human.
    pub human_workload: u64,
    /// Of its automatic resurrections (labelled), the share that were false positives.
    pub precision: Option<f64>,
    /// Of the labelled false positives, the share it brought back.
    pub recall: Option<f64>,
    /// For a candidate replayed with the learner in the loop.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub learning: Option<LearningSummary>,
}

/// What the learner did during a replay.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LearningSummary {
    pub learner_runs: u64,
    pub adjustments: u64,
    /// The thresholds at the end of the recording.
    pub thresholds: BTreeMap<String, f64>,
    /// Proposals the host refused, with why.
    pub refused: Vec<String>,
}

fn ratio(a: u64, b: u64) -> Option<f64> {
    (b > 0).then(|| ((a as f64 / b as f64) * 10_000.0).round() / 10_000.0)
}

impl CandidateReport {
    /// Counts one decision: its outcome and the guardrails that shaped it.
    pub fn add(&mut self, outcome: DecisionOutcome, guardrails: &[&str], label: Option<&Label>) {
        self.decisions += 1;
        *self.outcomes.entry(wire_name(&outcome)).or_default() += 1;
        for g in guardrails {
            *self.guardrails.entry((*g).to_string()).or_default() += 1;
        }
        if outcome == DecisionOutcome::PendingReview {
            self.human_workload += 1;
        }
        let auto = outcome == DecisionOutcome::ApproveAuto;
        match label.and_then(|l| l.truth) {
            Some(Truth::TrueThreat) => {
                self.labelled += 1;
                self.true_threats += 1;
                self.unsafe_auto_resurrections += u64::from(auto);
            }
            Some(Truth::FalsePositive) => {
                self.labelled += 1;
                self.false_positives += 1;
                self.recovered_false_positives += u64::from(auto);
            }
            None => {}
        }
    }

    /// The figures a table shows for this candidate, in column order:
    /// auto, review, deny, unsafe, false positives back, workload.
    pub fn counts(&self) -> [u64; 6] {
        let get = |k: &str| self.outcomes.get(k).copied().unwrap_or(0);
        [
            get("approve_auto"),
            get("pending_review"),
            get("deny"),
            self.unsafe_auto_resurrections,
            self.recovered_false_positives,
            self.human_workload,
        ]
    }

    pub fn finish(&mut self) {
        let auto_labelled = self.unsafe_auto_resurrections + self.recovered_false_positives;
        self.precision = ratio(self.recovered_false_positives, auto_labelled);
        self.recall = ratio(self.recovered_false_positives, self.false_positives);
    }
}

/// A kill on which the candidates disagreed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Disagreement {
    pub kill_id: String,
    pub outcomes: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Disagreements {
    pub count: u64,
    /// The first ones, in recording order.
    pub examples: Vec<Disagreement>,
}

/// Per-plugin call latency and throughput: measured, so it varies between
/// runs and is kept apart from the (deterministic) report.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Timing {
    pub plugins: BTreeMap<String, PluginTiming>,
    pub elapsed_seconds: f64,
    pub kills_per_second: f64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct PluginTiming {
    pub calls: u64,
    pub p50_us: f64,
    pub p99_us: f64,
}

/// Everything a replay reports (identical for identical inputs).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ReplayReport {
    pub recording: String,
    pub scenario: Option<String>,
    pub kills: u64,
    pub mode: String,
    pub phase: String,
    pub scorer: String,
    pub candidates: Vec<CandidateReport>,
    pub disagreements: Disagreements,
}

impl ReplayReport {
    /// A plain-text table for terminals.
    pub fn table(&self) -> String {
        let mut out = format!(
            "recording {} ({} kills), mode {}, phase {}, scorer {}\n\n",
            self.recording, self.kills, self.mode, self.phase, self.scorer
        );
        out.push_str(&format!(
            "{:<16} {:>9} {:>9} {:>9} {:>9} {:>8} {:>10} {:>10} {:>9} {:>7}\n",
            "STRATEGY",
            "AUTO",
            "REVIEW",
            "DENY",
            "UNSAFE",
            "FP-BACK",
            "WORKLOAD",
            "PRECISION",
            "RECALL",
            "OTHER"
        ));
        for c in &self.candidates {
            let [auto, review, deny, unsafe_auto, fp_back, workload] = c.counts();
            let other = c.decisions - auto - review - deny;
            let pct = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{:.1}%", v * 100.0));
            out.push_str(&format!(
                "{:<16} {:>9} {:>9} {:>9} {:>9} {:>8} {:>10} {:>10} {:>9} {:>7}\n",
                c.strategy,
                auto,
                review,
                deny,
                unsafe_auto,
                fp_back,
                workload,
                pct(c.precision),
                pct(c.recall),
                other
            ));
        }
        out.push_str(&format!("\ndisagreements: {}\n", self.disagreements.count));
        for d in &self.disagreements.examples {
            let o: Vec<String> = d.outcomes.iter().map(|(k, v)| format!("{k}={v}")).collect();
            out.push_str(&format!("  {}: {}\n", d.kill_id, o.join(" ")));
        }
        out
    }
}
