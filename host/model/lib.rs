//! Medic's data model: what Smith sends, what the SIEM adds, what the
//! plugins judge, and what Medic decides. Wire names are snake_case
//! strings. Field by field: docs/reference/data-model.md.

pub mod wire;
pub mod wire_time;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use crate::wire::{wire_name, wire_str};

/// How far in the future a kill may be stamped (clock skew): later stamps
/// are refused at ingest, and the store's time index allows for them.
pub const MAX_FUTURE: chrono::Duration = chrono::Duration::minutes(5);

/// A JSON object of free-form context.
pub type JsonMap = serde_json::Map<String, serde_json::Value>;

/// Why Smith killed the service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum KillReason {
    ThreatDetected,
    AnomalyBehavior,
    PolicyViolation,
    ResourceExhaustion,
    DependencyCascade,
    ManualOverride,
}

/// Smith's assessment of the threat.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Critical,
    High,
    Medium,
    Low,
    Info,
}

/// A kill notification from Smith.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KillReport {
    #[schema(pattern = "^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")]
    pub kill_id: String,
    /// When Smith killed it: at most `MAX_FUTURE` ahead (clock skew), at
    /// most 30 days old (the ingest validation's `MAX_AGE`).
    #[serde(serialize_with = "crate::wire_time::rfc3339")]
    pub timestamp: DateTime<Utc>,
    #[schema(pattern = "^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")]
    pub target_module: String,
    #[schema(pattern = "^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")]
    pub target_instance_id: String,
    pub kill_reason: KillReason,
    pub severity: Severity,
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub confidence_score: f64,
    #[serde(default)]
    #[schema(max_items = 64)]
    pub evidence: Vec<String>,
    /// Module names.
    #[serde(default)]
    #[schema(max_items = 64)]
    pub dependencies: Vec<String>,
    #[schema(
        max_length = 128,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    pub source_agent: String,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub metadata: JsonMap,
}

impl KillReport {
    /// Where this kill and `other`, reported under the same id, differ in
    /// what makes a kill (its module, instance, time to the millisecond,
    /// reason, severity, confidence, reporting agent): the names of the
    /// fields that differ, none for a redelivery of the same kill.
    pub fn differences(&self, other: &KillReport) -> Vec<&'static str> {
        let mut out = Vec::new();
        let mut differs = |name: &'static str, same: bool| {
            if !same {
                out.push(name);
            }
        };
        differs("target_module", self.target_module == other.target_module);
        differs(
            "target_instance_id",
            self.target_instance_id == other.target_instance_id,
        );
        differs(
            "timestamp",
            self.timestamp.timestamp_millis() == other.timestamp.timestamp_millis(),
        );
        differs("kill_reason", self.kill_reason == other.kill_reason);
        differs("severity", self.severity == other.severity);
        differs(
            "confidence_score",
            self.confidence_score == other.confidence_score,
        );
        differs("source_agent", self.source_agent == other.source_agent);
        out
    }
}

/// One indicator the SIEM holds about a kill.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ThreatIndicator {
    pub indicator_type: String,
    pub value: String,
    pub threat_score: f64,
    pub source: String,
    pub last_seen: DateTime<Utc>,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// The SIEM's context for a kill.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SiemContext {
    pub query_id: String,
    pub kill_id: String,
    #[serde(serialize_with = "crate::wire_time::rfc3339")]
    pub timestamp: DateTime<Utc>,
    #[serde(default)]
    pub threat_indicators: Vec<ThreatIndicator>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub historical_behavior: JsonMap,
    #[serde(default)]
    pub false_positive_history: u32,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub network_context: JsonMap,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub user_context: Option<JsonMap>,
    pub risk_score: f64,
    #[serde(default)]
    pub recommendation: String,
}

impl SiemContext {
    /// How many threat indicators the context holds.
    pub fn indicator_count(&self) -> u32 {
        u32::try_from(self.threat_indicators.len()).unwrap_or(u32::MAX)
    }

    /// The strongest indicator's threat score (0 with none; scores that
    /// are not numbers are left out).
    pub fn strongest_indicator(&self) -> f64 {
        self.threat_indicators
            .iter()
            .map(|i| i.threat_score)
            .filter(|s| s.is_finite())
            .fold(0.0, f64::max)
    }
}

/// How much a module matters (from configuration).
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Criticality {
    Low,
    #[default]
    Medium,
    High,
    Critical,
}

/// Known threats and false positives in one bin, and kills put to a
/// person that nobody has decided (their truth unknown).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Tally {
    pub threats: u32,
    pub false_positives: u32,
    #[serde(default)]
    pub unresolved: u32,
}

impl Tally {
    pub fn add(&mut self, threat: bool) {
        if threat {
            self.threats = self.threats.saturating_add(1);
        } else {
            self.false_positives = self.false_positives.saturating_add(1);
        }
    }

    pub fn plus(self, o: Tally) -> Tally {
        Tally {
            threats: self.threats.saturating_add(o.threats),
            false_positives: self.false_positives.saturating_add(o.false_positives),
            unresolved: self.unresolved.saturating_add(o.unresolved),
        }
    }
}

/// The evidence of a kill that calibration counts by: its SIEM risk, the
/// SIEM's count of false positives on record, its strongest threat
/// indicator, Smith's confidence and the kill's reason (none without SIEM
/// context: such a kill is never resurrected without a person).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Reading {
    pub siem_risk: f64,
    pub on_record: u32,
    /// The strongest threat indicator's score, 0 with none (absent in
    /// records from before indicators were counted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub indicator: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<KillReason>,
}

impl Reading {
    pub fn of(kill: &KillReport, context: Option<&SiemContext>) -> Option<Reading> {
        context.map(|c| Reading {
            siem_risk: c.risk_score,
            on_record: c.false_positive_history,
            indicator: Some(c.strongest_indicator()),
            confidence: Some(kill.confidence_score),
            reason: Some(kill.kill_reason),
        })
    }
}

/// What the history says of kills like one kill: the facts passed to the
/// plugins with it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Resembling {
    pub all: Tally,
    pub siem_risk: Tally,
    pub fp_history: Tally,
    #[serde(default)]
    pub indicators: Tally,
    #[serde(default)]
    pub smith_confidence: Tally,
    #[serde(default)]
    pub kill_reason: Tally,
}

impl Resembling {
    /// As named values (`known.threats`, `known.siem_risk.threats`, …).
    pub fn facts(&self) -> [(&'static str, f64); 17] {
        use medic_plugin_logic::values::names as n;
        let f = |v: u32| f64::from(v);
        let [siem, fp, ind, smith, reason] = [
            self.siem_risk,
            self.fp_history,
            self.indicators,
            self.smith_confidence,
            self.kill_reason,
        ];
        [
            (n::KNOWN_THREATS, f(self.all.threats)),
            (n::KNOWN_FALSE_POSITIVES, f(self.all.false_positives)),
            (n::KNOWN_SIEM_RISK_THREATS, f(siem.threats)),
            (n::KNOWN_SIEM_RISK_FALSE_POSITIVES, f(siem.false_positives)),
            (n::KNOWN_SIEM_RISK_UNRESOLVED, f(siem.unresolved)),
            (n::KNOWN_FP_HISTORY_THREATS, f(fp.threats)),
            (n::KNOWN_FP_HISTORY_FALSE_POSITIVES, f(fp.false_positives)),
            (n::KNOWN_FP_HISTORY_UNRESOLVED, f(fp.unresolved)),
            (n::KNOWN_INDICATORS_THREATS, f(ind.threats)),
            (n::KNOWN_INDICATORS_FALSE_POSITIVES, f(ind.false_positives)),
            (n::KNOWN_INDICATORS_UNRESOLVED, f(ind.unresolved)),
            (n::KNOWN_SMITH_CONFIDENCE_THREATS, f(smith.threats)),
            (
                n::KNOWN_SMITH_CONFIDENCE_FALSE_POSITIVES,
                f(smith.false_positives),
            ),
            (n::KNOWN_SMITH_CONFIDENCE_UNRESOLVED, f(smith.unresolved)),
            (n::KNOWN_KILL_REASON_THREATS, f(reason.threats)),
            (
                n::KNOWN_KILL_REASON_FALSE_POSITIVES,
                f(reason.false_positives),
            ),
            (n::KNOWN_KILL_REASON_UNRESOLVED, f(reason.unresolved)),
        ]
    }
}

/// What Medic's history says about a module; passed to every plugin call.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct ModuleProfile {
    pub module: String,
    pub criticality: Criticality,
    pub always_require_approval: bool,
    pub kills_last_hour: u32,
    pub kills_last_day: u32,
    pub kills_last_week: u32,
    pub resurrections: u32,
    pub successful_resurrections: u32,
    pub re_kills: u32,
    pub rollbacks: u32,
    pub false_positives: u32,
    pub last_kill: Option<DateTime<Utc>>,
    /// Kills of the module a person approved (brought back).
    #[serde(skip_serializing_if = "is_zero")]
    pub human_approvals: u32,
    /// Kills of the module a person denied (kept down): a person's word
    /// that the kill was right. Contract 0.1's module profile has no field
    /// for either; plugins see both as named values (see
    /// [`ModuleProfile::facts`]).
    #[serde(skip_serializing_if = "is_zero")]
    pub human_denials: u32,
    /// What Medic's history says of kills like the one being decided
    /// (calibration; see [`ModuleProfile::facts`]). Not part of the stored
    /// profile.
    #[serde(skip)]
    #[schema(ignore)]
    pub known: Option<Resembling>,
}

/// The module profile a kill was judged with, and what calibration said of
/// kills like it then: kept with a decision whose truth may become known (a
/// resurrection's outcome, a person's verdict), so that the learning safety
/// check judges that kill again exactly as it was judged.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JudgedWith {
    pub profile: ModuleProfile,
    /// Kills of known truth resembling this one, when the kill was judged
    /// (absent when calibration was off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known: Option<Resembling>,
}

impl JudgedWith {
    /// What `profile` (with its calibration) says, to keep.
    pub fn of(profile: &ModuleProfile) -> JudgedWith {
        JudgedWith {
            profile: ModuleProfile {
                known: None,
                ..profile.clone()
            },
            known: profile.known,
        }
    }

    /// The profile as the kill was judged with it, calibration included.
    pub fn into_profile(self) -> ModuleProfile {
        ModuleProfile {
            known: self.known,
            ..self.profile
        }
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl ModuleProfile {
    /// How many facts there are with the counts of known kills
    /// ([`Self::fact_names`], [`Self::fact_values`]).
    pub const FACTS: usize = 19;

    /// The names of the facts, in the order of [`Self::fact_values`].
    pub fn fact_names() -> [&'static str; Self::FACTS] {
        let every = ModuleProfile {
            known: Some(Resembling::default()),
            ..ModuleProfile::default()
        };
        let mut out = [""; Self::FACTS];
        for (slot, (name, _)) in out.iter_mut().zip(every.facts()) {
            *slot = name;
        }
        out
    }

    /// The facts' numbers in the order of [`Self::fact_names`] (a 0.2
    /// plugin reads them by position); NaN for the counts of known kills
    /// when there are none to give.
    pub fn fact_values(&self) -> [f64; Self::FACTS] {
        // Filled in place, in the order of [`Self::facts`] (every plugin
        // call reads them: no chained iterator here).
        let mut out = [f64::NAN; Self::FACTS];
        let verdicts = self.verdict_facts();
        let (head, rest) = out.split_at_mut(verdicts.len());
        for (slot, (_, value)) in head.iter_mut().zip(verdicts) {
            *slot = value;
        }
        if let Some(known) = &self.known {
            for (slot, (_, value)) in rest.iter_mut().zip(known.facts()) {
                *slot = value;
            }
        }
        out
    }

    /// The facts about the module that the contract's profile record cannot
    /// carry, as the named values added to every 0.1 plugin call's list
    /// (`module.human_approvals`, `module.human_denials`, then the counts of
    /// known kills like this one when there are any).
    pub fn facts(&self) -> impl Iterator<Item = (&'static str, f64)> + '_ {
        self.verdict_facts()
            .into_iter()
            .chain(self.known.iter().flat_map(Resembling::facts))
    }

    /// People's verdicts on the module, the first of [`Self::facts`].
    fn verdict_facts(&self) -> [(&'static str, f64); 2] {
        use medic_plugin_logic::values::names as n;
        [
            (n::MODULE_HUMAN_APPROVALS, f64::from(self.human_approvals)),
            (n::MODULE_HUMAN_DENIALS, f64::from(self.human_denials)),
        ]
    }

    /// A profile with no history, for a module seen for the first time.
    pub fn new(module: &str, criticality: Criticality, always_require_approval: bool) -> Self {
        ModuleProfile {
            module: module.to_string(),
            criticality,
            always_require_approval,
            ..ModuleProfile::default()
        }
    }
}

/// The band a risk score falls in, cut at the `risk.*` thresholds.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum RiskLevel {
    Minimal,
    Low,
    Medium,
    High,
    Critical,
}

/// One factor of a risk score.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RiskFactor {
    pub name: String,
    pub value: f64,
    pub weight: f64,
    pub contribution: f64,
    pub detail: String,
}

/// A risk scorer's answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RiskAssessment {
    pub level: RiskLevel,
    pub score: f64,
    pub factors: Vec<RiskFactor>,
}

/// What a strategy recommends, and what Medic decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DecisionOutcome {
    ApproveAuto,
    ApproveManual,
    PendingReview,
    Deny,
    Defer,
}

impl DecisionOutcome {
    /// What to do about `module` once this is the outcome. A decision's
    /// `recommended_action` is worded from its final outcome here, so it never
    /// contradicts the outcome whatever a plugin wrote or a guardrail changed
    /// (the built-in strategies word theirs the same way, guest side, in
    /// `plugins/logic/src/strategies.rs`).
    pub fn recommended_action(self, module: &str) -> String {
        match self {
            DecisionOutcome::ApproveAuto | DecisionOutcome::ApproveManual => {
                format!("resurrect {module} and monitor it")
            }
            DecisionOutcome::PendingReview => format!("queue {module} for human review"),
            DecisionOutcome::Deny => format!("keep {module} down and investigate"),
            DecisionOutcome::Defer => format!("gather more context on {module}"),
        }
    }
}

/// The reasoning line that keeps a strategy's own recommendation visible
/// once the host decided otherwise.
pub fn strategy_recommended(outcome: DecisionOutcome, action: &str) -> String {
    format!("{STRATEGY_RECOMMENDED}{}: {action}", wire_str(&outcome))
}

const STRATEGY_RECOMMENDED: &str = "strategy recommended ";

/// A strategy's answer, before the host's guardrails.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Verdict {
    pub outcome: DecisionOutcome,
    pub confidence: f64,
    pub reasoning: Vec<String>,
    pub recommended_action: String,
    pub constraints: Vec<String>,
    pub timeout_minutes: u32,
}

/// How a resurrection turned out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeResult {
    Success,
    #[serde(rename = "partial")]
    PartialSuccess,
    Failure,
    ReKilled,
    Rollback,
}

/// One resurrection outcome as a learner sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OutcomeSample {
    pub kill_id: String,
    pub module: String,
    pub risk_level: RiskLevel,
    pub risk_score: f64,
    pub decision: DecisionOutcome,
    pub result: OutcomeResult,
    pub time_to_stable_seconds: Option<u32>,
    pub recorded_at: DateTime<Utc>,
}

/// A learner's proposed change to one named threshold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ThresholdAdjustment {
    pub name: String,
    pub old_value: f64,
    pub new_value: f64,
    pub reason: String,
}

/// Thresholds, weights and other tunables, by name (`risk.low`,
/// `weight.smith_confidence`, …).
pub type NamedValues = BTreeMap<String, f64>;

/// The three kinds of plugin, one WIT world each.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum PluginKind {
    RiskScorer,
    Strategy,
    ThresholdLearner,
}

impl PluginKind {
    pub const ALL: [PluginKind; 3] = [
        PluginKind::RiskScorer,
        PluginKind::Strategy,
        PluginKind::ThresholdLearner,
    ];

    /// The WIT world a plugin of this kind implements.
    pub fn world(self) -> &'static str {
        match self {
            PluginKind::RiskScorer => "risk-scorer",
            PluginKind::Strategy => "strategy",
            PluginKind::ThresholdLearner => "threshold-learner",
        }
    }
}

impl std::fmt::Display for PluginKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.world())
    }
}

/// What a plugin says of itself.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PluginInfo {
    pub name: String,
    pub version: String,
    pub kind: PluginKind,
    pub description: String,
    pub uses: Vec<String>,
}

/// A kill with the context a decision needs: what `medic plugin run` reads
/// and what the golden kills are made of.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct KillCase {
    pub kill: KillReport,
    #[serde(default)]
    pub context: Option<SiemContext>,
    #[serde(default)]
    pub profile: Option<ModuleProfile>,
}

impl KillCase {
    /// The profile to judge with: the case's own, or an empty history.
    pub fn profile_or_default(&self) -> ModuleProfile {
        self.profile.clone().unwrap_or_else(|| {
            ModuleProfile::new(&self.kill.target_module, Criticality::Medium, false)
        })
    }
}

/// What became of the SIEM enrichment of a kill.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case", tag = "status", content = "reason")]
pub enum ContextStatus {
    /// Context was fetched (or served from the cache).
    Ok,
    /// The SIEM failed; the kill was decided without context.
    Failed(String),
    /// Enrichment is switched off (`siem.adapter: none` or the feature toggle).
    Disabled,
}

/// The plugins that judged a kill: `name@version` and sha256.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PluginUse {
    pub name: String,
    pub version: String,
    pub sha256: String,
    /// Why a fallback served, if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
}

/// A resurrection decision, with how it was reached.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Decision {
    pub decision_id: String,
    pub kill_id: String,
    #[serde(serialize_with = "crate::wire_time::rfc3339")]
    pub timestamp: DateTime<Utc>,
    pub outcome: DecisionOutcome,
    pub risk_level: RiskLevel,
    pub risk_score: f64,
    pub confidence: f64,
    pub reasoning: Vec<String>,
    pub recommended_action: String,
    pub requires_human_review: bool,
    pub auto_approve_eligible: bool,
    pub constraints: Vec<String>,
    pub timeout_minutes: u32,
    // What it takes to explain and audit the decision.
    pub target_module: String,
    pub target_instance_id: String,
    pub risk_factors: Vec<RiskFactor>,
    /// The strategy's outcome before the host's guardrails.
    pub strategy_outcome: Option<DecisionOutcome>,
    /// The guardrails that changed or constrained the outcome.
    pub guardrails: Vec<String>,
    pub mode: String,
    pub phase: String,
    /// Whether Medic acts on it (never in observer mode).
    pub executed: bool,
    pub context_status: ContextStatus,
    pub scorer: PluginUse,
    pub strategy: PluginUse,
    #[serde(default)]
    pub correlation_id: Option<String>,
    /// Where the kill came from: `redis`, `http`, `replay`.
    pub source: String,
    /// Microseconds from receipt to decision.
    pub latency_us: u64,
}

impl Decision {
    /// Changes the outcome after the guardrails ruled (the acting stage's
    /// own refusals), saying why under the guardrail's name. The recommended
    /// action follows the new outcome; what the strategy recommended stays
    /// in the reasoning (added here unless the guardrails already did).
    pub fn overrule(&mut self, outcome: DecisionOutcome, guardrail: &str, why: &str) {
        if let Some(strategy) = self.strategy_outcome
            && strategy != outcome
            && !self
                .reasoning
                .iter()
                .any(|r| r.starts_with(STRATEGY_RECOMMENDED))
        {
            // The outcome still is the strategy's here, so the action worded
            // from it is the strategy's recommendation.
            self.reasoning
                .push(strategy_recommended(strategy, &self.recommended_action));
        }
        self.outcome = outcome;
        self.requires_human_review = outcome == DecisionOutcome::PendingReview;
        self.recommended_action = outcome.recommended_action(&self.target_module);
        self.guardrails.push(guardrail.to_string());
        self.reasoning.push(format!("guardrail {guardrail}: {why}"));
    }
}

/// A request's status as Smith and operators see it: its workflow state,
/// coarsely.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResurrectionStatus {
    Pending,
    Approved,
    InProgress,
    Completed,
    Failed,
    RolledBack,
    Cancelled,
}

/// Where a request is in its workflow (`cancelled`: vetoed or withdrawn
/// before it ran). The legal moves are in `execute::workflow`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WorkflowState {
    Pending,
    Approved,
    Executing,
    Monitoring,
    Stable,
    AnomalyDetected,
    RollingBack,
    Completed,
    Failed,
    Cancelled,
}

impl WorkflowState {
    pub const ALL: [WorkflowState; 10] = [
        WorkflowState::Pending,
        WorkflowState::Approved,
        WorkflowState::Executing,
        WorkflowState::Monitoring,
        WorkflowState::Stable,
        WorkflowState::AnomalyDetected,
        WorkflowState::RollingBack,
        WorkflowState::Completed,
        WorkflowState::Failed,
        WorkflowState::Cancelled,
    ];

    /// Whether the workflow has ended.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            WorkflowState::Completed | WorkflowState::Failed | WorkflowState::Cancelled
        )
    }
}

/// One move of a request's workflow.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Transition {
    pub from: WorkflowState,
    pub to: WorkflowState,
    pub at: DateTime<Utc>,
    #[serde(default)]
    pub note: String,
}

/// A resurrection request with its workflow.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ResurrectionRequest {
    pub request_id: String,
    pub decision_id: String,
    pub kill_id: String,
    pub target_module: String,
    pub target_instance_id: String,
    pub status: ResurrectionStatus,
    pub created_at: DateTime<Utc>,
    pub approved_at: Option<DateTime<Utc>>,
    /// `auto` or the approver's name.
    pub approved_by: Option<String>,
    pub executed_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub rollback_reason: Option<String>,
    pub monitoring_duration_minutes: f64,
    pub health_checks: Vec<String>,
    // The workflow and what happened in it.
    pub state: WorkflowState,
    pub transitions: Vec<Transition>,
    /// The backend type that serves the module.
    pub backend: String,
    pub attempts: u32,
    /// Why it failed or was cancelled.
    pub error: Option<String>,
    /// Modules this one depends on (from the kill): brought back first.
    #[serde(default)]
    pub dependencies: Vec<String>,
    /// The approver's notes.
    #[serde(default)]
    pub notes: Option<String>,
}

/// How a resurrection turned out: its outcome record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OutcomeRecord {
    pub outcome_id: String,
    pub request_id: String,
    pub decision_id: String,
    pub kill_id: String,
    pub result: OutcomeResult,
    pub recorded_at: DateTime<Utc>,
    /// Seconds from execution to the first passing health check.
    pub time_to_stable: Option<u32>,
    #[schema(value_type = Object)]
    pub post_resurrection_metrics: JsonMap,
    pub smith_feedback: Option<String>,
    pub human_feedback: Option<String>,
    pub lessons_learned: Vec<String>,
    pub should_adjust_threshold: bool,
    // What a learner and the reports need without a join.
    pub target_module: String,
    pub risk_level: RiskLevel,
    pub risk_score: f64,
    pub decision: DecisionOutcome,
    /// The strategy that decided, `name@version`.
    #[serde(default)]
    pub strategy: String,
    #[serde(default)]
    pub kill_reason: Option<KillReason>,
    /// Smith's confidence in the kill.
    #[serde(default)]
    pub smith_confidence: Option<f64>,
    /// The kill's evidence, for calibration (none without SIEM context).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reading: Option<Reading>,
}

impl OutcomeRecord {
    /// Whether the module came back and stayed (success or partial).
    pub fn succeeded(&self) -> bool {
        matches!(
            self.result,
            OutcomeResult::Success | OutcomeResult::PartialSuccess
        )
    }

    /// What a threshold learner is told about it. A resurrection whose
    /// decision went to a person was approved by that person: the learner
    /// hears `approve_manual`, as in replay.
    pub fn sample(&self) -> OutcomeSample {
        OutcomeSample {
            kill_id: self.kill_id.clone(),
            module: self.target_module.clone(),
            risk_level: self.risk_level,
            risk_score: self.risk_score,
            decision: match self.decision {
                DecisionOutcome::PendingReview => DecisionOutcome::ApproveManual,
                other => other,
            },
            result: self.result,
            time_to_stable_seconds: self.time_to_stable,
            recorded_at: self.recorded_at,
        }
    }
}

/// Where an approval-queue item stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum QueueStatus {
    Pending,
    Approved,
    Denied,
    Expired,
}

/// A decision waiting for a human in the approval queue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QueueItem {
    pub item_id: String,
    pub decision: Decision,
    pub kill: KillReport,
    /// Why a human must decide.
    pub reason: String,
    pub enqueued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub status: QueueStatus,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    /// Approval notes or the denial's reason.
    pub note: Option<String>,
    /// The resurrection request an approval created.
    pub request_id: Option<String>,
    /// Why approving cannot bring the module back (no resurrection backend
    /// serves it), said on the item when it is read; absent when it can.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cannot_resurrect: Option<String>,
}

#[cfg(test)]
mod fact_tests {
    use super::*;

    /// The facts a 0.2 plugin reads by position: every name once, the
    /// numbers in the same order as the facts a 0.1 plugin gets by name.
    #[test]
    fn the_facts_by_position_match_the_facts_by_name() {
        let names = ModuleProfile::fact_names();
        let mut distinct = names.to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), ModuleProfile::FACTS);
        assert!(names.iter().all(|n| !n.is_empty()));

        let mut p = ModuleProfile::new("m", Criticality::Low, false);
        p.human_denials = 2;
        let without = p.fact_values();
        assert_eq!(without[1], 2.0);
        assert!(without[2..].iter().all(|v| v.is_nan()), "no known kills");

        p.known = Some(Resembling {
            all: Tally {
                threats: 4,
                false_positives: 5,
                unresolved: 0,
            },
            kill_reason: Tally {
                threats: 6,
                false_positives: 0,
                unresolved: 9,
            },
            ..Resembling::default()
        });
        let by_name: Vec<(&str, f64)> = p.facts().collect();
        let by_position: Vec<(&str, f64)> = names.into_iter().zip(p.fact_values()).collect();
        assert_eq!(by_name, by_position);
    }
}
