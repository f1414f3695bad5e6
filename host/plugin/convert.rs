//! The one place host model types meet the generated binding types: the
//! conversions every line of the contract shares (the same records under
//! the same names), generated for each line, then what differs by line.

use chrono::{DateTime, Utc};

use crate::model::{self as m, JsonMap, NamedValues};

/// The conversions shared by every line, for the line's types `w`.
macro_rules! shared_conversions {
    () => {
        fn ms(t: &DateTime<Utc>) -> i64 {
            t.timestamp_millis()
        }

        fn entries(map: &JsonMap) -> Vec<w::Entry> {
            map.iter()
                .map(|(k, v)| w::Entry {
                    key: k.clone(),
                    value: v.to_string(),
                })
                .collect()
        }

        pub fn named(values: &NamedValues) -> Vec<w::NamedValue> {
            values
                .iter()
                .map(|(name, value)| w::NamedValue {
                    name: name.clone(),
                    value: *value,
                })
                .collect()
        }

        fn kill_reason(r: m::KillReason) -> w::KillReason {
            match r {
                m::KillReason::ThreatDetected => w::KillReason::ThreatDetected,
                m::KillReason::AnomalyBehavior => w::KillReason::AnomalyBehavior,
                m::KillReason::PolicyViolation => w::KillReason::PolicyViolation,
                m::KillReason::ResourceExhaustion => w::KillReason::ResourceExhaustion,
                m::KillReason::DependencyCascade => w::KillReason::DependencyCascade,
                m::KillReason::ManualOverride => w::KillReason::ManualOverride,
            }
        }

        fn severity(s: m::Severity) -> w::Severity {
            match s {
                m::Severity::Critical => w::Severity::Critical,
                m::Severity::High => w::Severity::High,
                m::Severity::Medium => w::Severity::Medium,
                m::Severity::Low => w::Severity::Low,
                m::Severity::Info => w::Severity::Info,
            }
        }

        pub fn kill(k: &m::KillReport) -> w::KillReport {
            w::KillReport {
                kill_id: k.kill_id.clone(),
                timestamp_ms: ms(&k.timestamp),
                target_module: k.target_module.clone(),
                target_instance_id: k.target_instance_id.clone(),
                kill_reason: kill_reason(k.kill_reason),
                severity: severity(k.severity),
                confidence_score: k.confidence_score,
                evidence: k.evidence.clone(),
                dependencies: k.dependencies.clone(),
                source_agent: k.source_agent.clone(),
                metadata: entries(&k.metadata),
            }
        }

        pub fn context(c: &m::SiemContext) -> w::SiemContext {
            w::SiemContext {
                query_id: c.query_id.clone(),
                kill_id: c.kill_id.clone(),
                timestamp_ms: ms(&c.timestamp),
                threat_indicators: c
                    .threat_indicators
                    .iter()
                    .map(|i| w::ThreatIndicator {
                        indicator_type: i.indicator_type.clone(),
                        value: i.value.clone(),
                        threat_score: i.threat_score,
                        source: i.source.clone(),
                        last_seen_ms: ms(&i.last_seen),
                        tags: i.tags.clone(),
                    })
                    .collect(),
                historical_behavior: entries(&c.historical_behavior),
                false_positive_history: c.false_positive_history,
                network_context: entries(&c.network_context),
                user_context: c.user_context.as_ref().map(entries),
                risk_score: c.risk_score,
                recommendation: c.recommendation.clone(),
            }
        }

        pub fn profile(p: &m::ModuleProfile) -> w::ModuleProfile {
            w::ModuleProfile {
                module: p.module.clone(),
                criticality: match p.criticality {
                    m::Criticality::Low => w::Criticality::Low,
                    m::Criticality::Medium => w::Criticality::Medium,
                    m::Criticality::High => w::Criticality::High,
                    m::Criticality::Critical => w::Criticality::Critical,
                },
                always_require_approval: p.always_require_approval,
                kills_last_hour: p.kills_last_hour,
                kills_last_day: p.kills_last_day,
                kills_last_week: p.kills_last_week,
                resurrections: p.resurrections,
                successful_resurrections: p.successful_resurrections,
                re_kills: p.re_kills,
                rollbacks: p.rollbacks,
                false_positives: p.false_positives,
                last_kill_ms: p.last_kill.as_ref().map(ms),
            }
        }

        pub fn risk_level_to_wit(l: m::RiskLevel) -> w::RiskLevel {
            match l {
                m::RiskLevel::Minimal => w::RiskLevel::Minimal,
                m::RiskLevel::Low => w::RiskLevel::Low,
                m::RiskLevel::Medium => w::RiskLevel::Medium,
                m::RiskLevel::High => w::RiskLevel::High,
                m::RiskLevel::Critical => w::RiskLevel::Critical,
            }
        }

        pub fn risk_level(l: w::RiskLevel) -> m::RiskLevel {
            match l {
                w::RiskLevel::Minimal => m::RiskLevel::Minimal,
                w::RiskLevel::Low => m::RiskLevel::Low,
                w::RiskLevel::Medium => m::RiskLevel::Medium,
                w::RiskLevel::High => m::RiskLevel::High,
                w::RiskLevel::Critical => m::RiskLevel::Critical,
            }
        }

        /// A copy of the assessment in the contract's types.
        pub fn risk_to_wit(r: &m::RiskAssessment) -> w::RiskAssessment {
            risk_into_wit(&mut r.clone())
        }

        /// The assessment in the contract's types, taking its factors:
        /// their strings move (the caller may put them back with [`risk`]).
        pub fn risk_into_wit(r: &mut m::RiskAssessment) -> w::RiskAssessment {
            w::RiskAssessment {
                level: risk_level_to_wit(r.level),
                score: r.score,
                factors: std::mem::take(&mut r.factors)
                    .into_iter()
                    .map(|f| w::RiskFactor {
                        name: f.name,
                        value: f.value,
                        weight: f.weight,
                        contribution: f.contribution,
                        detail: f.detail,
                    })
                    .collect(),
            }
        }

        pub fn risk(r: w::RiskAssessment) -> m::RiskAssessment {
            m::RiskAssessment {
                level: risk_level(r.level),
                score: r.score,
                factors: r
                    .factors
                    .into_iter()
                    .map(|f| m::RiskFactor {
                        name: f.name,
                        value: f.value,
                        weight: f.weight,
                        contribution: f.contribution,
                        detail: f.detail,
                    })
                    .collect(),
            }
        }

        fn outcome_to_wit(o: m::DecisionOutcome) -> w::DecisionOutcome {
            match o {
                m::DecisionOutcome::ApproveAuto => w::DecisionOutcome::ApproveAuto,
                m::DecisionOutcome::ApproveManual => w::DecisionOutcome::ApproveManual,
                m::DecisionOutcome::PendingReview => w::DecisionOutcome::PendingReview,
                m::DecisionOutcome::Deny => w::DecisionOutcome::Deny,
                m::DecisionOutcome::Defer => w::DecisionOutcome::Defer,
            }
        }

        pub fn verdict(v: w::Verdict) -> m::Verdict {
            m::Verdict {
                outcome: match v.outcome {
                    w::DecisionOutcome::ApproveAuto => m::DecisionOutcome::ApproveAuto,
                    w::DecisionOutcome::ApproveManual => m::DecisionOutcome::ApproveManual,
                    w::DecisionOutcome::PendingReview => m::DecisionOutcome::PendingReview,
                    w::DecisionOutcome::Deny => m::DecisionOutcome::Deny,
                    w::DecisionOutcome::Defer => m::DecisionOutcome::Defer,
                },
                confidence: v.confidence,
                reasoning: v.reasoning,
                recommended_action: v.recommended_action,
                constraints: v.constraints,
                timeout_minutes: v.timeout_minutes,
            }
        }

        pub fn sample(s: &m::OutcomeSample) -> w::OutcomeSample {
            w::OutcomeSample {
                kill_id: s.kill_id.clone(),
                module: s.module.clone(),
                risk_level: risk_level_to_wit(s.risk_level),
                risk_score: s.risk_score,
                decision: outcome_to_wit(s.decision),
                outcome: match s.result {
                    m::OutcomeResult::Success => w::OutcomeResult::Success,
                    m::OutcomeResult::PartialSuccess => w::OutcomeResult::Partial,
                    m::OutcomeResult::Failure => w::OutcomeResult::Failure,
                    m::OutcomeResult::ReKilled => w::OutcomeResult::ReKilled,
                    m::OutcomeResult::Rollback => w::OutcomeResult::Rollback,
                },
                time_to_stable_seconds: s.time_to_stable_seconds,
                recorded_at_ms: ms(&s.recorded_at),
            }
        }

        pub fn adjustment(a: w::ThresholdAdjustment) -> m::ThresholdAdjustment {
            m::ThresholdAdjustment {
                name: a.name,
                old_value: a.old_value,
                new_value: a.new_value,
                reason: a.reason,
            }
        }

        pub fn learn_input(req: &crate::LearnRequest<'_>) -> w::LearnInput {
            w::LearnInput {
                thresholds: named(req.thresholds),
                samples: req.samples.iter().map(sample).collect(),
                settings: named(req.settings),
                now_ms: req.now.timestamp_millis(),
            }
        }

        fn kind(k: w::PluginKind) -> m::PluginKind {
            match k {
                w::PluginKind::RiskScorer => m::PluginKind::RiskScorer,
                w::PluginKind::Strategy => m::PluginKind::Strategy,
                w::PluginKind::ThresholdLearner => m::PluginKind::ThresholdLearner,
            }
        }
    };
}

/// What a plugin says of itself, in the lines whose `plugin-info` names
/// what it reads (0.2 on).
macro_rules! reads_conversions {
    () => {
        /// What a plugin says of itself, and the names of what it reads.
        pub fn info(i: w::PluginInfo) -> (m::PluginInfo, Vec<String>) {
            let reads = i.reads;
            let info = m::PluginInfo {
                name: i.name,
                version: i.version,
                kind: kind(i.kind),
                description: i.description,
                uses: i.uses,
            };
            (info, reads)
        }
    };
}

/// Contract 0.3 (`wit/`): the kill's numbers with each call, its records
/// on request (the `kill` resource); the named numbers by position.
pub mod v0_3 {
    use super::*;
    use crate::bindings::v0_3::types as w;

    shared_conversions!();
    reads_conversions!();

    /// The kill's numbers and enums, its context's and its module's.
    pub fn facts(req: &crate::ScoreRequest<'_>) -> w::KillFacts {
        let k = req.kill;
        w::KillFacts {
            timestamp_ms: ms(&k.timestamp),
            kill_reason: kill_reason(k.kill_reason),
            severity: severity(k.severity),
            confidence_score: k.confidence_score,
            evidence_count: count(k.evidence.len()),
            dependency_count: count(k.dependencies.len()),
            siem: req.context.map(|c| w::SiemFacts {
                risk_score: c.risk_score,
                false_positive_history: c.false_positive_history,
                indicator_count: c.indicator_count(),
                strongest_indicator: c.strongest_indicator(),
            }),
            profile: profile(req.profile),
        }
    }

    fn count(n: usize) -> u32 {
        u32::try_from(n).unwrap_or(u32::MAX)
    }
}

/// Contract 0.2 (`wit/v0.2/`): the named numbers go by position.
pub mod v0_2 {
    use super::*;
    use crate::bindings::v0_2::types as w;

    shared_conversions!();

    /// The parts of a scorer's input every plugin shares; `values` is each
    /// plugin's own (see [`crate::Plugin`]).
    pub fn score_input(req: &crate::ScoreRequest<'_>, values: Vec<f64>) -> w::ScoreInput {
        w::ScoreInput {
            kill: kill(req.kill),
            context: req.context.map(context),
            profile: profile(req.profile),
            values,
        }
    }

    /// A strategy's input from a scorer's (moved, not copied) and its answer.
    pub fn decide_input(
        input: w::ScoreInput,
        risk: &m::RiskAssessment,
        values: Vec<f64>,
    ) -> w::DecideInput {
        w::DecideInput {
            kill: input.kill,
            context: input.context,
            profile: input.profile,
            values,
            risk: risk_to_wit(risk),
        }
    }

    /// A scorer's input back from a strategy's (moved), for the next plugin.
    pub fn score_input_back(input: w::DecideInput) -> w::ScoreInput {
        w::ScoreInput {
            kill: input.kill,
            context: input.context,
            profile: input.profile,
            values: input.values,
        }
    }

    reads_conversions!();
}

/// Contract 0.1 (`wit/v0.1/`): every call carries every named number with
/// its name.
pub mod v0_1 {
    use super::*;
    use crate::bindings::v0_1::types as w;

    shared_conversions!();

    /// The named values of a call: the thresholds in force, then the facts
    /// about the module that the profile record cannot carry
    /// ([`m::ModuleProfile::facts`]).
    pub fn named_with_facts(values: &NamedValues, p: &m::ModuleProfile) -> Vec<w::NamedValue> {
        let mut out = named(values);
        out.extend(p.facts().map(|(name, value)| w::NamedValue {
            name: name.to_string(),
            value,
        }));
        out
    }

    pub fn score_input(req: &crate::ScoreRequest<'_>) -> w::ScoreInput {
        w::ScoreInput {
            kill: kill(req.kill),
            context: req.context.map(context),
            profile: profile(req.profile),
            thresholds: named_with_facts(req.thresholds, req.profile),
        }
    }

    pub fn decide_input(req: &crate::DecideRequest<'_>) -> w::DecideInput {
        w::DecideInput {
            kill: kill(req.kill),
            context: req.context.map(context),
            profile: profile(req.profile),
            thresholds: named_with_facts(req.thresholds, req.profile),
            risk: risk_to_wit(req.risk),
        }
    }

    pub fn info(i: w::PluginInfo) -> m::PluginInfo {
        m::PluginInfo {
            name: i.name,
            version: i.version,
            kind: kind(i.kind),
            description: i.description,
            uses: i.uses,
        }
    }
}
