//! The constitution's rollout phases and their feature toggles
//! (docs/reference/configuration.md#phases).

use serde::{Deserialize, Serialize};

use super::raw::ConstitutionFile;

/// Rollout phases, in order: each builds on the ones before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    #[serde(rename = "phase_0_foundation")]
    Foundation,
    #[serde(rename = "phase_1_observer")]
    Observer,
    #[serde(rename = "phase_2_manual")]
    Manual,
    #[serde(rename = "phase_3_semi_auto")]
    SemiAuto,
    #[serde(rename = "phase_4_learning")]
    Learning,
    #[serde(rename = "phase_5_full_auto")]
    FullAuto,
}

impl Phase {
    pub const ALL: [Phase; 6] = [
        Phase::Foundation,
        Phase::Observer,
        Phase::Manual,
        Phase::SemiAuto,
        Phase::Learning,
        Phase::FullAuto,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Phase::Foundation => "phase_0_foundation",
            Phase::Observer => "phase_1_observer",
            Phase::Manual => "phase_2_manual",
            Phase::SemiAuto => "phase_3_semi_auto",
            Phase::Learning => "phase_4_learning",
            Phase::FullAuto => "phase_5_full_auto",
        }
    }

    pub fn from_name(name: &str) -> Option<Phase> {
        Phase::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The feature toggles this phase owns.
    pub fn features(self) -> &'static [Feature] {
        use Feature::*;
        match self {
            Phase::Foundation => &[KillListener, SiemQuery, StructuredLogging],
            Phase::Observer => &[DecisionLogic, DecisionLogging, DailyReports],
            Phase::Manual => &[
                RecommendationEngine,
                HumanInterface,
                ResurrectionExecutor,
                PostResurrectionMonitor,
            ],
            Phase::SemiAuto => &[RiskAssessment, AutoResurrection, ApprovalQueue],
            Phase::Learning => &[OutcomeDatabase, PatternAnalysis, AdaptiveThresholds],
            Phase::FullAuto => &[EdgeCaseManager, SmithNegotiation, SelfMonitoring],
        }
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A feature toggle of one of the constitution's phases.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Feature {
    KillListener,
    SiemQuery,
    StructuredLogging,
    DecisionLogic,
    DecisionLogging,
    DailyReports,
    RecommendationEngine,
    HumanInterface,
    ResurrectionExecutor,
    PostResurrectionMonitor,
    RiskAssessment,
    AutoResurrection,
    ApprovalQueue,
    OutcomeDatabase,
    PatternAnalysis,
    AdaptiveThresholds,
    EdgeCaseManager,
    SmithNegotiation,
    SelfMonitoring,
}

impl Feature {
    pub fn name(self) -> &'static str {
        use Feature::*;
        match self {
            KillListener => "kill_listener",
            SiemQuery => "siem_query",
            StructuredLogging => "structured_logging",
            DecisionLogic => "decision_logic",
            DecisionLogging => "decision_logging",
            DailyReports => "daily_reports",
            RecommendationEngine => "recommendation_engine",
            HumanInterface => "human_interface",
            ResurrectionExecutor => "resurrection_executor",
            PostResurrectionMonitor => "post_resurrection_monitor",
            RiskAssessment => "risk_assessment",
            AutoResurrection => "auto_resurrection",
            ApprovalQueue => "approval_queue",
            OutcomeDatabase => "outcome_database",
            PatternAnalysis => "pattern_analysis",
            AdaptiveThresholds => "adaptive_thresholds",
            EdgeCaseManager => "edge_case_manager",
            SmithNegotiation => "smith_negotiation",
            SelfMonitoring => "self_monitoring",
        }
    }

    /// The phase that owns this feature.
    pub fn phase(self) -> Phase {
        Phase::ALL
            .into_iter()
            .find(|p| p.features().contains(&self))
            .unwrap_or(Phase::FullAuto)
    }
}

/// The highest enabled phase (phase 0 when none is).
pub fn active(c: &ConstitutionFile) -> Phase {
    Phase::ALL
        .into_iter()
        .rev()
        .find(|p| c.phases.get(p.name()).is_some_and(|s| s.enabled))
        .unwrap_or(Phase::Foundation)
}

/// A feature is on when its phase is enabled and its toggle is not false.
pub fn enabled(c: &ConstitutionFile, feature: Feature) -> bool {
    c.phases
        .get(feature.phase().name())
        .is_some_and(|s| s.enabled && s.features.get(feature.name()).copied().unwrap_or(true))
}

/// The phases a mode runs in (one per mode, least automatic first).
pub const MODE_PHASES: [Phase; 4] = [
    Phase::Observer,
    Phase::Manual,
    Phase::SemiAuto,
    Phase::FullAuto,
];

/// The mode that runs in `phase`, if one does.
pub fn mode_of(phase: Phase) -> Option<super::Mode> {
    use super::Mode;
    [Mode::Observer, Mode::Manual, Mode::SemiAuto, Mode::FullAuto]
        .into_iter()
        .find(|m| needed_by(*m) == phase)
}

/// The rollout phase a mode needs enabled.
pub fn needed_by(mode: super::Mode) -> Phase {
    match mode {
        super::Mode::Observer => Phase::Observer,
        super::Mode::Manual => Phase::Manual,
        super::Mode::SemiAuto => Phase::SemiAuto,
        super::Mode::FullAuto => Phase::FullAuto,
    }
}
