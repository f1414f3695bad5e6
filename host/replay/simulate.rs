//! `medic simulate`: labelled recordings generated from a scenario — a
//! module population with criticality and false-positive rates, Smith's
//! confidence per kill reason, SIEM noise and gaps, attack campaigns,
//! flapping modules and dependency cascades. The same scenario and seed give
//! the same file, byte for byte.

use std::collections::BTreeMap;
use std::io::Write;

use chrono::{DateTime, Duration, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;
use serde_json::Map;

use super::recording::{Header, Label, Recorded, RecordedProfile, Truth, Writer};
use crate::model::{
    Criticality, KillReason, KillReport, OutcomeResult, Severity, SiemContext, ThreatIndicator,
};

#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("scenario {path}: {problem}")]
    Invalid { path: String, problem: String },
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub start: DateTime<Utc>,
    pub kills_per_hour: f64,
    pub modules: Vec<ModuleSpec>,
    pub reasons: BTreeMap<String, ReasonSpec>,
    pub siem: SiemSpec,
    #[serde(default)]
    pub campaigns: Vec<Campaign>,
    #[serde(default)]
    pub flapping: Vec<Flapping>,
    #[serde(default)]
    pub cascades: Vec<Cascade>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModuleSpec {
    pub name: String,
    pub criticality: Criticality,
    pub weight: f64,
    /// Share of this module's kills that are false positives.
    pub false_positive_rate: f64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReasonSpec {
    pub weight: f64,
    /// Smith's mean confidence when the threat is real, and when it is not.
    pub threat_confidence: f64,
    pub benign_confidence: f64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiemSpec {
    pub threat_risk: f64,
    pub benign_risk: f64,
    /// Standard deviation of the noise on the SIEM's risk and Smith's confidence.
    pub noise: f64,
    /// Share of kills the SIEM knows nothing about.
    pub missing_rate: f64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Campaign {
    pub start_hour: f64,
    pub hours: f64,
    pub modules: Vec<String>,
    /// Share of kills during the campaign that belong to it.
    pub share: f64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Flapping {
    pub module: String,
    pub every_minutes: f64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cascade {
    pub upstream: String,
    pub downstream: Vec<String>,
    pub probability: f64,
}

fn reason_of(name: &str) -> Option<KillReason> {
    serde_json::from_value(serde_json::Value::String(name.to_string())).ok()
}

impl Scenario {
    pub fn load(path: &std::path::Path) -> Result<Scenario, ScenarioError> {
        let name = path.display().to_string();
        let invalid = |problem: String| ScenarioError::Invalid {
            path: name.clone(),
            problem,
        };
        let text = std::fs::read_to_string(path).map_err(|e| invalid(e.to_string()))?;
        let s: Scenario = serde_yaml::from_str(&text).map_err(|e| invalid(e.to_string()))?;
        s.check().map_err(invalid)?;
        Ok(s)
    }

    /// Checks the scenario as a whole; the first problem is reported.
    pub fn check(&self) -> Result<(), String> {
        let unit = |what: &str, v: f64| {
            if (0.0..=1.0).contains(&v) {
                Ok(())
            } else {
                Err(format!("{what}: {v} must be between 0 and 1"))
            }
        };
        if self.modules.is_empty() || self.modules.iter().all(|m| m.weight <= 0.0) {
            return Err("modules: at least one module with a positive weight".into());
        }
        if !self.kills_per_hour.is_finite() || self.kills_per_hour <= 0.0 {
            return Err("kills_per_hour must be above 0".into());
        }
        for m in &self.modules {
            unit(
                &format!("modules.{}.false_positive_rate", m.name),
                m.false_positive_rate,
            )?;
            if !crate::config::validate_name(&m.name) {
                return Err(format!("modules: {:?} is not a module name", m.name));
            }
        }
        for (name, r) in &self.reasons {
            if reason_of(name).is_none() {
                return Err(format!("reasons.{name}: not a kill reason"));
            }
            unit(
                &format!("reasons.{name}.threat_confidence"),
                r.threat_confidence,
            )?;
            unit(
                &format!("reasons.{name}.benign_confidence"),
                r.benign_confidence,
            )?;
        }
        if self.reasons.values().all(|r| r.weight <= 0.0) {
            return Err("reasons: at least one reason with a positive weight".into());
        }
        unit("siem.threat_risk", self.siem.threat_risk)?;
        unit("siem.benign_risk", self.siem.benign_risk)?;
        unit("siem.missing_rate", self.siem.missing_rate)?;
        for c in &self.cascades {
            unit(
                &format!("cascades.{}.probability", c.upstream),
                c.probability,
            )?;
        }
        for c in &self.campaigns {
            unit("campaigns.share", c.share)?;
        }
        Ok(())
    }
}

struct Gen<'a> {
    s: &'a Scenario,
    rng: ChaCha8Rng,
    n: usize,
}

impl Gen<'_> {
    fn pick<'b, T>(&mut self, items: &'b [T], weight: impl Fn(&T) -> f64) -> &'b T {
        let total: f64 = items.iter().map(&weight).sum();
        let mut x = self.rng.random_range(0.0..total.max(f64::MIN_POSITIVE));
        for item in items {
            x -= weight(item);
            if x <= 0.0 {
                return item;
            }
        }
        &items[items.len() - 1]
    }

    fn normal(&mut self, mean: f64, sd: f64) -> f64 {
        // Box-Muller.
        let u1: f64 = self.rng.random_range(f64::EPSILON..1.0);
        let u2: f64 = self.rng.random_range(0.0..1.0);
        mean + sd * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    fn kill(
        &mut self,
        at: DateTime<Utc>,
        module: &str,
        criticality: Criticality,
        reason: KillReason,
        truth: Truth,
    ) -> Recorded {
        self.n += 1;
        let s = self.s;
        let spec = s
            .reasons
            .iter()
            .find(|(k, _)| reason_of(k) == Some(reason))
            .map(|(_, v)| v.clone())
            .unwrap_or(ReasonSpec {
                weight: 1.0,
                threat_confidence: 0.8,
                benign_confidence: 0.5,
            });
        let mean = if truth == Truth::TrueThreat {
            spec.threat_confidence
        } else {
            spec.benign_confidence
        };
        let confidence =
            (self.normal(mean, s.siem.noise).clamp(0.0, 1.0) * 1000.0).round() / 1000.0;
        let severity = match confidence {
            c if c >= 0.9 => Severity::Critical,
            c if c >= 0.75 => Severity::High,
            c if c >= 0.5 => Severity::Medium,
            c if c >= 0.3 => Severity::Low,
            _ => Severity::Info,
        };
        let kill_id = format!("sim-{:08}", self.n);
        let context = (self.rng.random_range(0.0..1.0) >= s.siem.missing_rate).then(|| {
            let base = if truth == Truth::TrueThreat {
                s.siem.threat_risk
            } else {
                s.siem.benign_risk
            };
            let risk = (self.normal(base, s.siem.noise).clamp(0.0, 1.0) * 1000.0).round() / 1000.0;
            let fp_history = if truth == Truth::FalsePositive {
                self.rng.random_range(0..6)
            } else {
                self.rng.random_range(0..2)
            };
            let indicators = if truth == Truth::TrueThreat && self.rng.random_range(0.0..1.0) < 0.7
            {
                vec![ThreatIndicator {
                    indicator_type: "ip".into(),
                    value: format!("203.0.113.{}", self.rng.random_range(1..255)),
                    threat_score: (self.normal(0.9, 0.05).clamp(0.0, 1.0) * 1000.0).round()
                        / 1000.0,
                    source: "simulated-intel".into(),
                    last_seen: at - Duration::minutes(5),
                    tags: vec!["c2".into()],
                }]
            } else {
                Vec::new()
            };
            SiemContext {
                query_id: format!("q-{kill_id}"),
                kill_id: kill_id.clone(),
                timestamp: at,
                threat_indicators: indicators,
                historical_behavior: Map::new(),
                false_positive_history: fp_history,
                network_context: Map::new(),
                user_context: None,
                risk_score: risk,
                recommendation: String::new(),
            }
        });
        let roll: f64 = self.rng.random_range(0.0..1.0);
        let outcome = match truth {
            Truth::FalsePositive if roll < 0.9 => OutcomeResult::Success,
            Truth::FalsePositive => OutcomeResult::PartialSuccess,
            Truth::TrueThreat if roll < 0.8 => OutcomeResult::ReKilled,
            Truth::TrueThreat => OutcomeResult::Rollback,
        };
        Recorded {
            kill: KillReport {
                kill_id,
                timestamp: at,
                target_module: module.to_string(),
                target_instance_id: format!("{module}-{}", self.rng.random_range(0..4)),
                kill_reason: reason,
                severity,
                confidence_score: confidence,
                evidence: vec![format!("sim-evidence-{}", self.n)],
                dependencies: Vec::new(),
                source_agent: "smith-sim".into(),
                metadata: Map::new(),
            },
            context,
            profile: Some(RecordedProfile {
                criticality: Some(criticality),
            }),
            label: Some(Label {
                truth: Some(truth),
                outcome: Some(outcome),
            }),
        }
    }
}

/// Writes `kills` labelled kills generated from `scenario` with `seed`.
pub fn simulate<W: Write>(
    scenario: &Scenario,
    seed: u64,
    kills: usize,
    out: W,
) -> std::io::Result<()> {
    let header = Header {
        medic_recording: super::recording::VERSION,
        generator: "medic simulate".into(),
        scenario: Some(scenario.name.clone()),
        seed: Some(seed),
    };
    let mut w = Writer::new(out, &header)?;
    let mut g = Gen {
        s: scenario,
        rng: ChaCha8Rng::seed_from_u64(seed),
        n: 0,
    };
    let reasons: Vec<(KillReason, f64)> = scenario
        .reasons
        .iter()
        .filter_map(|(k, v)| reason_of(k).map(|r| (r, v.weight)))
        .collect();
    let criticality = |name: &str| {
        scenario
            .modules
            .iter()
            .find(|m| m.name == name)
            .map_or(Criticality::Medium, |m| m.criticality)
    };
    let mut at = scenario.start;
    let mut next_flap: Vec<DateTime<Utc>> =
        scenario.flapping.iter().map(|_| scenario.start).collect();
    let mut written = 0;
    while written < kills {
        // Exponential gaps at the scenario's rate.
        let u: f64 = g.rng.random_range(f64::EPSILON..1.0);
        at += Duration::milliseconds((-u.ln() / scenario.kills_per_hour * 3_600_000.0) as i64);
        for (i, f) in scenario.flapping.iter().enumerate() {
            if next_flap[i] <= at && written < kills {
                let rec = g.kill(
                    next_flap[i],
                    &f.module,
                    criticality(&f.module),
                    KillReason::AnomalyBehavior,
                    Truth::FalsePositive,
                );
                w.write(&rec)?;
                written += 1;
                next_flap[i] += Duration::milliseconds((f.every_minutes * 60_000.0) as i64);
            }
        }
        if written >= kills {
            break;
        }
        let hour = (at - scenario.start).num_milliseconds() as f64 / 3_600_000.0;
        let campaign = scenario.campaigns.iter().find(|c| {
            hour >= c.start_hour && hour < c.start_hour + c.hours && !c.modules.is_empty()
        });
        let rec = match campaign {
            Some(c) if g.rng.random_range(0.0..1.0) < c.share => {
                let module = c.modules[g.rng.random_range(0..c.modules.len())].clone();
                g.kill(
                    at,
                    &module,
                    criticality(&module),
                    KillReason::ThreatDetected,
                    Truth::TrueThreat,
                )
            }
            _ => {
                let m = g.pick(&scenario.modules, |m| m.weight.max(0.0)).clone();
                let reason = g.pick(&reasons, |r| r.1.max(0.0)).0;
                let truth = if g.rng.random_range(0.0..1.0) < m.false_positive_rate {
                    Truth::FalsePositive
                } else {
                    Truth::TrueThreat
                };
                g.kill(at, &m.name, m.criticality, reason, truth)
            }
        };
        let module = rec.kill.target_module.clone();
        w.write(&rec)?;
        written += 1;
        for c in scenario.cascades.iter().filter(|c| c.upstream == module) {
            if g.rng.random_range(0.0..1.0) < c.probability {
                for d in &c.downstream {
                    if written < kills {
                        let mut rec = g.kill(
                            at + Duration::seconds(2),
                            d,
                            criticality(d),
                            KillReason::DependencyCascade,
                            Truth::FalsePositive,
                        );
                        rec.kill
                            .metadata
                            .insert("upstream".into(), serde_json::Value::String(module.clone()));
                        w.write(&rec)?;
                        written += 1;
                    }
                }
            }
        }
    }
    w.finish()
}
