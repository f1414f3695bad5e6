//! What a replay found, per candidate: the outcome distribution and, against
//! the recording's labels, where every labelled kill landed (one cell each:
//! a threat revived automatically, a threat held, a false positive recovered
//! automatically, one sent to a human, one left down with nobody owning it),
//! what that costs under a cost model, the human workload, what each
//! guardrail held back, and precision/recall of "resurrect".

use std::collections::BTreeMap;

use serde::Serialize;

use super::recording::{Label, Truth};
use crate::model::{DecisionOutcome, wire_name};
use medic_plugin_logic::values::names;

/// Where one labelled kill landed. Every labelled kill is in exactly one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cell {
    /// A real threat brought back with no human: unsafe.
    ThreatRevived,
    /// A real threat kept down (denied) or put in front of a human.
    ThreatHeld,
    /// A false positive brought back with no human.
    FpRecovered,
    /// A false positive put in front of a human.
    FpToHuman,
    /// A false positive left down (denied or deferred) with no human: an
    /// outage nobody owns.
    FpLeftDown,
}

impl Cell {
    pub fn of(truth: Truth, outcome: DecisionOutcome) -> Cell {
        match (truth, outcome) {
            (Truth::TrueThreat, DecisionOutcome::ApproveAuto) => Cell::ThreatRevived,
            (Truth::TrueThreat, _) => Cell::ThreatHeld,
            (Truth::FalsePositive, DecisionOutcome::ApproveAuto) => Cell::FpRecovered,
            (
                Truth::FalsePositive,
                DecisionOutcome::PendingReview | DecisionOutcome::ApproveManual,
            ) => Cell::FpToHuman,
            (Truth::FalsePositive, DecisionOutcome::Deny | DecisionOutcome::Defer) => {
                Cell::FpLeftDown
            }
        }
    }
}

/// The confusion of "bring it back automatically" against the labels.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Cells {
    /// Threats revived automatically (unsafe).
    pub threat_revived: u64,
    /// Threats denied or sent to a human.
    pub threat_held: u64,
    /// Of those held, the ones a human had to look at.
    pub threat_to_human: u64,
    pub fp_recovered: u64,
    pub fp_to_human: u64,
    pub fp_left_down: u64,
}

impl Cells {
    /// Counts one labelled kill in its cell.
    fn count(&mut self, truth: Truth, outcome: DecisionOutcome) {
        match Cell::of(truth, outcome) {
            Cell::ThreatRevived => self.threat_revived += 1,
            Cell::ThreatHeld => {
                self.threat_held += 1;
                self.threat_to_human += u64::from(outcome == DecisionOutcome::PendingReview);
            }
            Cell::FpRecovered => self.fp_recovered += 1,
            Cell::FpToHuman => self.fp_to_human += 1,
            Cell::FpLeftDown => self.fp_left_down += 1,
        }
    }

    /// Adds another set of cells to these.
    pub fn absorb(&mut self, o: &Cells) {
        self.threat_revived += o.threat_revived;
        self.threat_held += o.threat_held;
        self.threat_to_human += o.threat_to_human;
        self.fp_recovered += o.fp_recovered;
        self.fp_to_human += o.fp_to_human;
        self.fp_left_down += o.fp_left_down;
    }

    /// The false positives among them.
    pub fn false_positives(&self) -> u64 {
        self.fp_recovered + self.fp_to_human + self.fp_left_down
    }

    /// The share of those false positives brought back with no human.
    pub fn recovered_share(&self) -> Option<f64> {
        ratio(self.fp_recovered, self.false_positives())
    }
}

/// The length of one period of [`CandidateReport::by_week`].
pub const WEEK_MS: i64 = 7 * 24 * 3_600 * 1_000;

/// Weeks [`CandidateReport::by_week`] keeps: a kill further from the first
/// than this (twenty years: a recording whose timestamps are wrong) counts
/// in the last one, so a bad timestamp cannot make the report huge.
pub const MAX_WEEKS: usize = 1_040;

/// Where the bands of [`CandidateReport::by_score`] end: a decade at a time
/// up to 0.01, where a scorer that means its scores as likelihoods puts the
/// kills it would bring back alone, then wider.
pub const SCORE_EDGES: [f64; 8] = [0.0001, 0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75];

/// The labelled kills whose risk score fell in one band, and what became of
/// them: does a score mean what it says on this recording?
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ScoreBand {
    /// The band: `from` <= score < `to` (the last one includes 1).
    pub from: f64,
    pub to: f64,
    pub kills: u64,
    /// How many of them were real threats.
    pub threats: u64,
    /// Their mean risk score.
    pub mean_score: f64,
    /// How many of them the candidate brought back with no human.
    pub automatic: u64,
    /// How many of those were real threats.
    pub threats_revived: u64,
    #[serde(skip)]
    score_sum: f64,
}

impl ScoreBand {
    /// The share of its kills that were threats.
    pub fn threat_share(&self) -> Option<f64> {
        (self.kills > 0).then(|| self.threats as f64 / self.kills as f64)
    }

    /// `[0.001, 0.01)`.
    pub fn name(&self) -> String {
        let close = if self.to >= 1.0 { ']' } else { ')' };
        format!("[{}, {}{close}", self.from, self.to)
    }
}

/// The empty bands of [`SCORE_EDGES`], from 0 to 1.
fn score_bands() -> Vec<ScoreBand> {
    let mut from = 0.0;
    SCORE_EDGES
        .iter()
        .chain(std::iter::once(&1.0))
        .map(|&to| {
            let band = ScoreBand {
                from,
                to,
                ..ScoreBand::default()
            };
            from = to;
            band
        })
        .collect()
}

/// At most this many periods in the table's and the HTML report's line of
/// recovery over time (weeks are grouped into longer periods beyond it).
pub const MAX_PERIODS: usize = 10;

/// What each cell costs, in one unit, so candidates compare on one number.
/// The defaults say: reviving a real threat is a hundred times worse than a
/// person's look at a kill; a service left down with nobody owning the
/// outage is ten times worse.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CostModel {
    /// A real threat revived automatically.
    pub threat_revived: f64,
    /// A false positive left down with no human.
    pub fp_left_down: f64,
    /// Any kill put in front of a human (threat or not).
    pub review: f64,
    /// A false positive recovered automatically, or a threat denied.
    pub correct: f64,
}

impl Default for CostModel {
    fn default() -> Self {
        CostModel {
            threat_revived: 100.0,
            fp_left_down: 10.0,
            review: 1.0,
            correct: 0.0,
        }
    }
}

impl CostModel {
    /// Parses `name=value` overrides (`threat_revived`, `fp_left_down`,
    /// `review`, `correct`), naming the one at fault.
    pub fn with_overrides(mut self, overrides: &[String]) -> Result<CostModel, String> {
        for o in overrides {
            let (name, value) = o
                .split_once('=')
                .ok_or_else(|| format!("--cost {o:?}: expected NAME=NUMBER"))?;
            let v: f64 = value
                .trim()
                .parse()
                .ok()
                .filter(|v: &f64| v.is_finite() && *v >= 0.0)
                .ok_or_else(|| format!("--cost {name}: {value:?} is not a number at or above 0"))?;
            match name.trim() {
                "threat_revived" => self.threat_revived = v,
                "fp_left_down" => self.fp_left_down = v,
                "review" => self.review = v,
                "correct" => self.correct = v,
                other => {
                    return Err(format!(
                        "--cost {other}: not a cost (known: threat_revived, fp_left_down, review, correct)"
                    ));
                }
            }
        }
        Ok(self)
    }

    /// What a candidate's cells cost in all.
    pub fn total(&self, c: &Cells) -> f64 {
        let reviews = c.threat_to_human + c.fp_to_human;
        let correct = c.fp_recovered + (c.threat_held - c.threat_to_human);
        self.threat_revived * c.threat_revived as f64
            + self.fp_left_down * c.fp_left_down as f64
            + self.review * reviews as f64
            + self.correct * correct as f64
    }
}

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
    /// Every labelled kill in exactly one cell.
    pub cells: Cells,
    /// The cells under the report's cost model (lower is better).
    pub cost: f64,
    /// What the simulated reviewer did with the kills put to a human.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reviewer: Option<ReviewerSummary>,
    /// For a candidate replayed with the learner in the loop.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub learning: Option<LearningSummary>,
    /// The cells of each week of the recording, counted from its first
    /// kill, in order (a week with no kill has empty cells): how much
    /// comes back without a person as outcomes teach the scorer, and when
    /// a threat was revived.
    pub by_week: Vec<Cells>,
    /// The labelled kills by band of risk score ([`SCORE_EDGES`]), each
    /// band's share of threats beside its mean score.
    pub by_score: Vec<ScoreBand>,
    /// When the recording's first kill happened (ms since the epoch).
    #[serde(skip)]
    pub(super) first_kill_ms: Option<i64>,
}

/// A run of weeks of [`CandidateReport::by_week`] and their cells together.
#[derive(Clone, Debug, PartialEq)]
pub struct Period {
    /// The first and last week, counted from 1.
    pub weeks: (usize, usize),
    pub cells: Cells,
}

impl Period {
    /// `w3` or `w3-4`.
    pub fn name(&self) -> String {
        match self.weeks {
            (a, b) if a == b => format!("w{a}"),
            (a, b) => format!("w{a}-{b}"),
        }
    }
}

/// What the simulated reviewer decided, by the labels.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ReviewerSummary {
    /// False positives a human approved (and so brought back).
    pub approved: u64,
    /// Threats a human denied.
    pub denied: u64,
    /// Items with no label, left in the queue.
    pub unlabelled: u64,
}

/// What the learner did during a replay.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LearningSummary {
    pub learner_runs: u64,
    pub adjustments: u64,
    /// The thresholds at the end of the recording.
    pub thresholds: BTreeMap<String, f64>,
    /// Proposals the host refused.
    pub refused: u64,
    /// The first of them (up to 20), with when and why.
    pub refusals: Vec<String>,
    /// Outcomes the learner heard, by where they came from.
    pub samples_automatic: u64,
    pub samples_human_approved: u64,
    /// Human denials of real threats kept as known threats for the check.
    pub known_threats: u64,
}

fn ratio(a: u64, b: u64) -> Option<f64> {
    (b > 0).then(|| ((a as f64 / b as f64) * 10_000.0).round() / 10_000.0)
}

impl CandidateReport {
    /// Counts one decision, of a kill at `at_ms` (ms since the epoch) and
    /// risk `score` (none when it could not be scored): its outcome and the
    /// guardrails that shaped it.
    pub fn add(
        &mut self,
        outcome: DecisionOutcome,
        guardrails: &[&str],
        label: Option<&Label>,
        at_ms: i64,
        score: Option<f64>,
    ) {
        self.decisions += 1;
        *self.outcomes.entry(wire_name(&outcome)).or_default() += 1;
        for g in guardrails {
            *self.guardrails.entry((*g).to_string()).or_default() += 1;
        }
        if outcome == DecisionOutcome::PendingReview {
            self.human_workload += 1;
        }
        let auto = outcome == DecisionOutcome::ApproveAuto;
        // A kill earlier than the first (a recording slightly out of order)
        // counts in the first week.
        let first = *self.first_kill_ms.get_or_insert(at_ms);
        let Some(truth) = label.and_then(|l| l.truth) else {
            return;
        };
        self.labelled += 1;
        match truth {
            Truth::TrueThreat => {
                self.true_threats += 1;
                self.unsafe_auto_resurrections += u64::from(auto);
            }
            Truth::FalsePositive => {
                self.false_positives += 1;
                self.recovered_false_positives += u64::from(auto);
            }
        }
        self.cells.count(truth, outcome);
        let week = usize::try_from((at_ms - first) / WEEK_MS)
            .unwrap_or(0)
            .min(MAX_WEEKS - 1);
        if self.by_week.len() <= week {
            self.by_week.resize(week + 1, Cells::default());
        }
        self.by_week[week].count(truth, outcome);
        if let Some(score) = score.filter(|s| s.is_finite()) {
            self.score(score, truth == Truth::TrueThreat, auto);
        }
    }

    /// Counts a labelled kill in the band of its risk score.
    fn score(&mut self, score: f64, threat: bool, auto: bool) {
        if self.by_score.is_empty() {
            self.by_score = score_bands();
        }
        let at = SCORE_EDGES.partition_point(|&edge| edge <= score);
        let band = &mut self.by_score[at];
        band.kills += 1;
        band.threats += u64::from(threat);
        band.score_sum += score;
        band.automatic += u64::from(auto);
        band.threats_revived += u64::from(auto && threat);
    }

    /// One line per band of [`Self::by_score`] that holds a kill: its
    /// kills, the share that were threats, its mean score, and what was
    /// brought back with no human.
    pub fn scores_against_labels(&self) -> Vec<String> {
        self.by_score
            .iter()
            .filter(|b| b.kills > 0)
            .map(|b| {
                format!(
                    "{:<16} {:>7} kills, {:>6} threats ({:>7}), mean score {:.4}; {} back with no human, {} of them threats",
                    b.name(),
                    b.kills,
                    b.threats,
                    pct_fine(b.threat_share()),
                    b.mean_score,
                    b.automatic,
                    b.threats_revived
                )
            })
            .collect()
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

    /// [`Self::by_week`] in at most `max` periods of equal length (weeks
    /// grouped when the recording spans more than `max` of them).
    pub fn periods(&self, max: usize) -> Vec<Period> {
        let weeks = self.by_week.len();
        let per = weeks.div_ceil(max.max(1)).max(1);
        self.by_week
            .chunks(per)
            .enumerate()
            .map(|(i, chunk)| {
                let mut cells = Cells::default();
                for c in chunk {
                    cells.absorb(c);
                }
                Period {
                    weeks: (i * per + 1, i * per + chunk.len()),
                    cells,
                }
            })
            .collect()
    }

    /// One line of [`Self::periods`]: each period's share of false
    /// positives brought back with no human, and its threats revived.
    pub fn over_time(&self) -> String {
        self.periods(MAX_PERIODS)
            .iter()
            .map(|p| {
                let c = &p.cells;
                let revived = if c.threat_revived > 0 {
                    format!(" ({})", c.threat_revived)
                } else {
                    String::new()
                };
                format!("{} {}{revived}", p.name(), pct(c.recovered_share()))
            })
            .collect::<Vec<_>>()
            .join("  ")
    }

    pub fn finish(&mut self, costs: &CostModel) {
        for b in &mut self.by_score {
            if b.kills > 0 {
                b.mean_score = b.score_sum / b.kills as f64;
            }
        }
        self.cost = (costs.total(&self.cells) * 100.0).round() / 100.0;
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
    /// How kills put to a human were decided (`label`: by the recording's
    /// labels after a delay; `none`: they stay in the queue).
    pub reviewer: String,
    /// Whether the scorer was told what outcomes taught (the `known.*`
    /// facts of calibration), as it is live; off: its model alone.
    pub calibration: bool,
    /// What each cell costs.
    pub costs: CostModel,
    /// What makes the figures less than they seem: a configuration or phase
    /// under which nothing can be auto-approved, a cap that binds.
    pub warnings: Vec<String>,
    pub candidates: Vec<CandidateReport>,
    pub disagreements: Disagreements,
}

/// A share as a percentage, or `-` for none.
fn pct(v: Option<f64>) -> String {
    v.map_or("-".to_string(), |v| format!("{:.1}%", v * 100.0))
}

/// A share as a percentage to three decimals (a band's share of threats
/// may be a few in a hundred thousand), or `-` for none.
pub fn pct_fine(v: Option<f64>) -> String {
    v.map_or("-".to_string(), |v| format!("{:.3}%", v * 100.0))
}

/// What each column of the table means, for its legend.
pub const LEGEND: &[(&str, &str)] = &[
    (
        "THREAT-BACK",
        "real threats revived with no human (unsafe; must be 0)",
    ),
    (
        "THREAT-HELD",
        "real threats denied or put to a human (of them, to a human)",
    ),
    ("FP-AUTO", "false positives brought back with no human"),
    (
        "FP-HUMAN",
        "false positives put to a human (brought back once approved)",
    ),
    (
        "FP-DOWN",
        "false positives left down with no human: an outage nobody owns",
    ),
    (
        "TO-HUMAN",
        "all kills put to a human (workload), share of all",
    ),
    ("COST", "the cells under the cost model (lower is better)"),
];

impl ReplayReport {
    /// A plain-text table for terminals.
    pub fn table(&self) -> String {
        let mut out = format!(
            "recording {} ({} kills), mode {}, phase {}, scorer {}, reviewer {}{}\n",
            self.recording,
            self.kills,
            self.mode,
            self.phase,
            self.scorer,
            self.reviewer,
            if self.calibration {
                ""
            } else {
                ", calibration off"
            }
        );
        for w in &self.warnings {
            out.push_str(&format!("WARNING: {w}\n"));
        }
        out.push('\n');
        out.push_str(&format!(
            "{:<22} {:>11} {:>14} {:>15} {:>13} {:>13} {:>15} {:>10}\n",
            "STRATEGY",
            "THREAT-BACK",
            "THREAT-HELD",
            "FP-AUTO",
            "FP-HUMAN",
            "FP-DOWN",
            "TO-HUMAN",
            "COST"
        ));
        for c in &self.candidates {
            let x = &c.cells;
            let share = |n: u64, of: u64| pct(ratio(n, of));
            out.push_str(&format!(
                "{:<22} {:>11} {:>14} {:>15} {:>13} {:>13} {:>15} {:>10}\n",
                c.strategy,
                x.threat_revived,
                format!("{} ({})", x.threat_held, x.threat_to_human),
                format!(
                    "{} {}",
                    x.fp_recovered,
                    share(x.fp_recovered, c.false_positives)
                ),
                format!(
                    "{} {}",
                    x.fp_to_human,
                    share(x.fp_to_human, c.false_positives)
                ),
                format!(
                    "{} {}",
                    x.fp_left_down,
                    share(x.fp_left_down, c.false_positives)
                ),
                format!(
                    "{} {}",
                    c.human_workload,
                    share(c.human_workload, c.decisions)
                ),
                format!("{:.0}", c.cost),
            ));
        }
        out.push('\n');
        for (col, what) in LEGEND {
            out.push_str(&format!("  {col:<12} {what}\n"));
        }
        out.push_str(&format!(
            "  costs: threat revived {}, false positive left down {}, each kill to a human {}, correct {}\n",
            self.costs.threat_revived, self.costs.fp_left_down, self.costs.review, self.costs.correct
        ));
        out.push_str(
            "\nheld back by guardrails (kills whose outcome a guardrail changed or confirmed):\n",
        );
        for c in &self.candidates {
            let g: Vec<String> = c
                .guardrails
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            out.push_str(&format!(
                "  {:<20} {}\n",
                c.strategy,
                if g.is_empty() {
                    "none".to_string()
                } else {
                    g.join(", ")
                }
            ));
        }
        if self.candidates.iter().any(|c| c.by_week.len() > 1) {
            out.push_str(
                "\nfalse positives brought back with no human, by week of the recording (threats revived, if any, in brackets):\n",
            );
            for c in &self.candidates {
                out.push_str(&format!("  {:<20} {}\n", c.strategy, c.over_time()));
            }
        }
        if self.candidates.iter().any(|c| !c.by_score.is_empty()) {
            out.push_str(
                "\nrisk score against the labels, by band of score (the share of its labelled kills that were threats):\n",
            );
            for c in &self.candidates {
                out.push_str(&format!("  {}\n", c.strategy));
                for line in c.scores_against_labels() {
                    out.push_str(&format!("    {line}\n"));
                }
            }
        }
        for c in &self.candidates {
            if let Some(r) = &c.reviewer {
                out.push_str(&format!(
                    "reviewer for {}: approved {} false positives, denied {} threats, {} unlabelled left in the queue\n",
                    c.strategy, r.approved, r.denied, r.unlabelled
                ));
            }
            if let Some(l) = &c.learning {
                out.push_str(&format!(
                    "learning for {}: {} runs, {} adjustments, {} refused; heard {} automatic and {} human-approved outcomes and {} human denials of threats\n",
                    c.strategy, l.learner_runs, l.adjustments, l.refused, l.samples_automatic, l.samples_human_approved, l.known_threats
                ));
                let gates: Vec<String> = [
                    names::AUTO_APPROVE_MIN_CONFIDENCE,
                    names::AUTO_DENY_MIN_RISK_SCORE,
                ]
                .iter()
                .filter_map(|k| l.thresholds.get(*k).map(|v| format!("{k} {v:.3}")))
                .collect();
                if !gates.is_empty() {
                    out.push_str(&format!("  at the end: {}\n", gates.join(", ")));
                }
                for r in &l.refusals {
                    out.push_str(&format!("  refused: {r}\n"));
                }
            }
        }
        let shown = self.disagreements.examples.len() as u64;
        out.push_str(&format!(
            "\ndisagreements: {} (showing {shown}, {} left out)\n",
            self.disagreements.count,
            self.disagreements.count.saturating_sub(shown)
        ));
        for d in &self.disagreements.examples {
            let o: Vec<String> = d.outcomes.iter().map(|(k, v)| format!("{k}={v}")).collect();
            out.push_str(&format!("  {}: {}\n", d.kill_id, o.join(" ")));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A candidate's empty report.
    fn candidate() -> CandidateReport {
        CandidateReport {
            strategy: "s".into(),
            ..CandidateReport::default()
        }
    }

    /// A kill's label with this truth.
    fn label(truth: Truth) -> Label {
        Label {
            truth: Some(truth),
            outcome: None,
        }
    }

    #[test]
    fn every_labelled_kill_lands_in_exactly_one_cell_and_costs_add_up() {
        let mut r = CandidateReport::default();
        use DecisionOutcome as D;
        use Truth::{FalsePositive as Fp, TrueThreat as T};
        for (truth, outcome) in [
            (T, D::ApproveAuto),
            (T, D::Deny),
            (T, D::PendingReview),
            (Fp, D::ApproveAuto),
            (Fp, D::ApproveAuto),
            (Fp, D::PendingReview),
            (Fp, D::Deny),
            (Fp, D::Defer),
        ] {
            r.add(outcome, &[], Some(&label(truth)), 0, None);
        }
        r.add(D::PendingReview, &[], None, 0, None);
        r.finish(&CostModel::default());
        let c = &r.cells;
        assert_eq!(
            (c.threat_revived, c.threat_held, c.threat_to_human),
            (1, 2, 1)
        );
        assert_eq!((c.fp_recovered, c.fp_to_human, c.fp_left_down), (2, 1, 2));
        let cells =
            c.threat_revived + c.threat_held + c.fp_recovered + c.fp_to_human + c.fp_left_down;
        assert_eq!(cells, r.labelled);
        // 100 for the threat revived, 2 x 10 left down, 2 reviews (the
        // unlabelled one is not in a cell).
        assert_eq!(r.cost, 122.0);
        let costs = CostModel::default()
            .with_overrides(&["review=3".into(), "threat_revived=1000".into()])
            .unwrap();
        assert_eq!(costs.total(&r.cells), 1000.0 + 20.0 + 6.0);
        assert!(
            CostModel::default()
                .with_overrides(&["bogus=1".into()])
                .unwrap_err()
                .contains("bogus")
        );
        assert!(
            CostModel::default()
                .with_overrides(&["review=-1".into()])
                .unwrap_err()
                .contains("review")
        );
    }

    /// Labelled kills at known scores: each in its band (an edge opens the
    /// band above it; 1 in the last), the unscored and unlabelled ones in
    /// none, each band's threats, mean score and automatic resurrections,
    /// and the table's lines for the bands that hold a kill.
    #[test]
    fn every_scored_labelled_kill_lands_in_the_band_of_its_score() {
        let mut r = candidate();
        use DecisionOutcome as D;
        use Truth::{FalsePositive as Fp, TrueThreat as T};
        for (truth, outcome, score) in [
            (Fp, D::ApproveAuto, 0.0),
            (Fp, D::ApproveAuto, 0.00005),
            (T, D::ApproveAuto, 0.00009),
            (Fp, D::PendingReview, 0.0001),
            (T, D::Deny, 0.3),
            (T, D::Deny, 1.0),
            (Fp, D::Deny, 0.75),
        ] {
            r.add(outcome, &[], Some(&label(truth)), 0, Some(score));
        }
        r.add(D::ApproveAuto, &[], Some(&label(Fp)), 0, None);
        r.add(D::ApproveAuto, &[], Some(&label(Fp)), 0, Some(f64::NAN));
        r.add(D::ApproveAuto, &[], None, 0, Some(0.0));
        r.finish(&CostModel::default());
        let b = &r.by_score;
        assert_eq!(b.len(), SCORE_EDGES.len() + 1);
        let held: Vec<(f64, u64, u64, u64, u64)> = b
            .iter()
            .map(|b| (b.from, b.kills, b.threats, b.automatic, b.threats_revived))
            .collect();
        assert_eq!(
            held,
            vec![
                (0.0, 3, 1, 3, 1),
                (0.0001, 1, 0, 0, 0),
                (0.001, 0, 0, 0, 0),
                (0.01, 0, 0, 0, 0),
                (0.05, 0, 0, 0, 0),
                (0.1, 0, 0, 0, 0),
                (0.25, 1, 1, 0, 0),
                (0.5, 0, 0, 0, 0),
                (0.75, 2, 1, 0, 0),
            ]
        );
        assert_eq!(b[0].to, 0.0001);
        assert_eq!(b[8].to, 1.0);
        assert!((b[0].mean_score - 0.00014 / 3.0).abs() < 1e-12);
        assert_eq!(b[8].mean_score, 0.875);
        assert_eq!(b[0].threat_share(), Some(1.0 / 3.0));
        assert_eq!(b[2].threat_share(), None);
        // Every scored labelled kill is in exactly one band.
        assert_eq!(b.iter().map(|b| b.kills).sum::<u64>(), 7);
        let lines = r.scores_against_labels();
        assert_eq!(lines.len(), 4);
        assert_eq!(
            lines[0],
            "[0, 0.0001)            3 kills,      1 threats (33.333%), mean score 0.0000; 3 back with no human, 1 of them threats"
        );
        assert!(lines[3].starts_with("[0.75, 1]"), "{}", lines[3]);
        let report = ReplayReport {
            candidates: vec![r],
            ..ReplayReport::default()
        };
        assert!(
            report
                .table()
                .contains("risk score against the labels, by band of score"),
            "{}",
            report.table()
        );
    }

    /// Kills over five weeks: each labelled one in its week's cells as in
    /// the whole's, the weeks grouped into periods when there are more
    /// than the table shows, and the table's line of recovery over time.
    #[test]
    fn every_labelled_kill_lands_in_its_week_and_weeks_group_into_periods() {
        let mut r = candidate();
        use DecisionOutcome as D;
        use Truth::{FalsePositive as Fp, TrueThreat as T};
        let start = 1_700_000_000_000;
        let day = WEEK_MS / 7;
        // An unlabelled kill first: the weeks count from it.
        r.add(D::PendingReview, &[], None, start, None);
        // Week 1: one of two false positives back. Week 2: none (a week
        // with no labelled kill). Week 3: a threat revived, and a false
        // positive left down. Week 5 (day 30): both false positives back.
        for (days, truth, outcome) in [
            (0, Fp, D::ApproveAuto),
            (6, Fp, D::PendingReview),
            (15, T, D::ApproveAuto),
            (16, Fp, D::Deny),
            (30, Fp, D::ApproveAuto),
            (30, Fp, D::ApproveAuto),
        ] {
            r.add(outcome, &[], Some(&label(truth)), start + days * day, None);
        }
        // Slightly out of order: before the first kill, in the first week.
        r.add(D::Deny, &[], Some(&label(T)), start - day, None);
        assert_eq!(r.by_week.len(), 5);
        let mut sum = Cells::default();
        for w in &r.by_week {
            sum.absorb(w);
        }
        assert_eq!(sum, r.cells);
        assert_eq!(
            (
                r.by_week[0].fp_recovered,
                r.by_week[0].fp_to_human,
                r.by_week[0].threat_held
            ),
            (1, 1, 1)
        );
        assert_eq!(r.by_week[1], Cells::default());
        assert_eq!(
            (r.by_week[2].threat_revived, r.by_week[2].fp_left_down),
            (1, 1)
        );
        assert_eq!(r.by_week[4].fp_recovered, 2);
        assert_eq!(
            r.over_time(),
            "w1 50.0%  w2 -  w3 0.0% (1)  w4 -  w5 100.0%"
        );
        // Two weeks a period at most three periods: the last one shorter.
        let periods = r.periods(3);
        let names: Vec<String> = periods.iter().map(Period::name).collect();
        assert_eq!(names, ["w1-2", "w3-4", "w5"]);
        assert_eq!(periods[1].cells, r.by_week[2]);
        // A timestamp a century on (a wrong one) counts in the last week
        // kept, not in a report of thousands of weeks.
        let mut wrong = r.clone();
        wrong.add(
            D::Deny,
            &[],
            Some(&label(T)),
            start + 100 * 52 * WEEK_MS,
            None,
        );
        assert_eq!(wrong.by_week.len(), MAX_WEEKS);
        assert_eq!(wrong.by_week[MAX_WEEKS - 1].threat_held, 1);
        let mut report = ReplayReport::default();
        report.candidates.push(r);
        let t = report.table();
        assert!(
            t.contains("by week of the recording")
                && t.contains("  s                    w1 50.0%  w2 -"),
            "{t}"
        );
    }

    #[test]
    fn the_table_says_how_many_disagreements_it_leaves_out() {
        let mut report = ReplayReport::default();
        report.disagreements.count = 25;
        report.disagreements.examples = (0..20)
            .map(|i| Disagreement {
                kill_id: format!("k{i}"),
                outcomes: BTreeMap::new(),
            })
            .collect();
        report.warnings.push("nothing can be auto-approved".into());
        let t = report.table();
        assert!(
            t.contains("disagreements: 25 (showing 20, 5 left out)"),
            "{t}"
        );
        assert!(t.contains("WARNING: nothing can be auto-approved"), "{t}");
        for (col, _) in LEGEND {
            assert!(t.contains(col), "{col}");
        }
    }
}
