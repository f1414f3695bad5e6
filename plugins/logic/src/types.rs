//! Plain data types mirroring `wit/types.wit`: for a kill, the parts
//! judgement reads (the contract's `kill-facts`); the rest one field for one
//! field.

/// Why Smith killed the service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KillReason {
    ThreatDetected,
    AnomalyBehavior,
    PolicyViolation,
    ResourceExhaustion,
    DependencyCascade,
    ManualOverride,
}

impl KillReason {
    /// As the wire and the docs spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            KillReason::ThreatDetected => "threat_detected",
            KillReason::AnomalyBehavior => "anomaly_behavior",
            KillReason::PolicyViolation => "policy_violation",
            KillReason::ResourceExhaustion => "resource_exhaustion",
            KillReason::DependencyCascade => "dependency_cascade",
            KillReason::ManualOverride => "manual_override",
        }
    }
}

/// Smith's assessment of the threat.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Critical,
    High,
    Medium,
    Low,
    Info,
}

impl Severity {
    /// As the wire and the docs spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
            Severity::Info => "info",
        }
    }
}

/// What judgement reads of Smith's kill report (the module's name is the
/// profile's).
#[derive(Clone, Debug, PartialEq)]
pub struct KillReport {
    pub timestamp_ms: i64,
    pub kill_reason: KillReason,
    pub severity: Severity,
    pub confidence_score: f64,
}

/// What judgement reads of the SIEM's context: its numbers.
#[derive(Clone, Debug, PartialEq)]
pub struct SiemContext {
    pub risk_score: f64,
    pub false_positive_history: u32,
    pub indicator_count: u32,
    /// The strongest indicator's threat score (0 with none).
    pub strongest_indicator: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Criticality {
    Low,
    Medium,
    High,
    Critical,
}

impl Criticality {
    /// As the wire and the docs spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Criticality::Low => "low",
            Criticality::Medium => "medium",
            Criticality::High => "high",
            Criticality::Critical => "critical",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
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
    pub last_kill_ms: Option<i64>,
}

/// A named number. The name is borrowed where it is a constant (a plugin's
/// own list of what it reads), so a call builds no strings for it.
#[derive(Clone, Debug, PartialEq)]
pub struct NamedValue {
    pub name: std::borrow::Cow<'static, str>,
    pub value: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum RiskLevel {
    Minimal,
    Low,
    Medium,
    High,
    Critical,
}

impl RiskLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            RiskLevel::Minimal => "minimal",
            RiskLevel::Low => "low",
            RiskLevel::Medium => "medium",
            RiskLevel::High => "high",
            RiskLevel::Critical => "critical",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct RiskFactor {
    pub name: String,
    pub value: f64,
    pub weight: f64,
    pub contribution: f64,
    pub detail: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RiskAssessment {
    pub level: RiskLevel,
    pub score: f64,
    pub factors: Vec<RiskFactor>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecisionOutcome {
    ApproveAuto,
    ApproveManual,
    PendingReview,
    Deny,
    Defer,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    pub outcome: DecisionOutcome,
    pub confidence: f64,
    pub reasoning: Vec<String>,
    pub recommended_action: String,
    pub constraints: Vec<String>,
    pub timeout_minutes: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ScoreInput {
    pub kill: KillReport,
    pub context: Option<SiemContext>,
    pub profile: ModuleProfile,
    pub thresholds: Vec<NamedValue>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct DecideInput {
    pub kill: KillReport,
    /// The modules that depend on the killed one (a strategy names them in
    /// its constraints).
    pub dependencies: Vec<String>,
    pub context: Option<SiemContext>,
    pub profile: ModuleProfile,
    pub thresholds: Vec<NamedValue>,
    pub risk: RiskAssessment,
}

impl DecideInput {
    /// What a strategy is given for a kill: what its scorer was given, the
    /// scorer's answer, and the modules that depend on the killed one.
    pub fn new(scored: ScoreInput, risk: RiskAssessment, dependencies: Vec<String>) -> Self {
        DecideInput {
            kill: scored.kill,
            dependencies,
            context: scored.context,
            profile: scored.profile,
            thresholds: scored.thresholds,
            risk,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutcomeResult {
    Success,
    Partial,
    Failure,
    ReKilled,
    Rollback,
}

#[derive(Clone, Debug, PartialEq)]
pub struct OutcomeSample {
    pub kill_id: String,
    pub module: String,
    pub risk_level: RiskLevel,
    pub risk_score: f64,
    pub decision: DecisionOutcome,
    pub outcome: OutcomeResult,
    pub time_to_stable_seconds: Option<u32>,
    pub recorded_at_ms: i64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct LearnInput {
    pub thresholds: Vec<NamedValue>,
    pub samples: Vec<OutcomeSample>,
    pub settings: Vec<NamedValue>,
    pub now_ms: i64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ThresholdAdjustment {
    pub name: String,
    pub old_value: f64,
    pub new_value: f64,
    pub reason: String,
}
