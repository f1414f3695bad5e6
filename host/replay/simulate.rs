//! `medic simulate`: labelled recordings generated from a scenario — a
//! module population (named one by one, or as groups of numbered modules)
//! with criticality and false-positive rates that may drift over time,
//! Smith's confidence per kill reason, SIEM noise, gaps and misleading
//! indicators, attack campaigns, flapping modules and dependency cascades.
//! The same scenario and seed give the same file, byte for byte.

use std::collections::{BTreeMap, BTreeSet, HashMap};
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
    /// Kills per hour across the whole fleet; each module gets a share in
    /// proportion to its weight.
    pub kills_per_hour: f64,
    #[serde(default)]
    pub modules: Vec<ModuleSpec>,
    /// Groups of like modules, for fleets of hundreds.
    #[serde(default)]
    pub module_groups: Vec<ModuleGroup>,
    pub reasons: BTreeMap<String, ReasonSpec>,
    pub siem: SiemSpec,
    #[serde(default)]
    pub campaigns: Vec<Campaign>,
    #[serde(default)]
    pub flapping: Vec<Flapping>,
    #[serde(default)]
    pub cascades: Vec<Cascade>,
    /// False-positive rates that change part-way through.
    #[serde(default)]
    pub drift: Vec<Drift>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModuleSpec {
    pub name: String,
    pub criticality: Criticality,
    /// How much of the fleet's kills this module gets, relative to the
    /// other modules' weights.
    pub weight: f64,
    /// Share of this module's kills that are false positives.
    pub false_positive_rate: f64,
}

/// `count` modules named `{prefix}-001`, `{prefix}-002`, … (more digits
/// when there are more than 999), each with the group's settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModuleGroup {
    pub prefix: String,
    pub count: u32,
    pub criticality: Criticality,
    /// Each member's weight (not the group's total).
    pub weight: f64,
    pub false_positive_rate: f64,
}

/// The most modules one group may hold: a fleet description, not a way to
/// exhaust memory.
const MAX_GROUP_COUNT: u32 = 100_000;

impl ModuleGroup {
    /// The group's `i`th module (from 1).
    fn member(&self, i: u32) -> String {
        let width = self.count.to_string().len().max(3);
        format!("{}-{i:0width$}", self.prefix)
    }
}

/// From `at_hour` (hours after the scenario's start) on, a module's — or
/// every module of a group's — kills are false positives at a new rate.
/// Name `module` or `group`, not both.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Drift {
    #[serde(default)]
    pub module: Option<String>,
    /// A module group's prefix.
    #[serde(default)]
    pub group: Option<String>,
    pub at_hour: f64,
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
    /// Share of true threats (with context) for which the SIEM reports a
    /// threat indicator.
    #[serde(default = "default_threat_indicator_rate")]
    pub threat_indicator_rate: f64,
    /// Share of false positives (with context) for which it reports one
    /// anyway — a shared address, stale intelligence — scored a little
    /// lower than a real threat's.
    #[serde(default)]
    pub benign_indicator_rate: f64,
}

fn default_threat_indicator_rate() -> f64 {
    0.7
}

/// Real threats against `modules` from `start_hour` for `hours`: kills the
/// campaign adds to the fleet's (`kills_per_hour`, as an attack does), and
/// a `share` of the fleet's own kills in that time it takes over.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Campaign {
    pub start_hour: f64,
    pub hours: f64,
    pub modules: Vec<String>,
    #[serde(default)]
    pub share: f64,
    #[serde(default)]
    pub kills_per_hour: f64,
}

impl Campaign {
    fn covers(&self, hour: f64) -> bool {
        hour >= self.start_hour && hour < self.start_hour + self.hours && !self.modules.is_empty()
    }

    /// The chance that a kill while the campaign runs is the campaign's.
    fn chance(&self, fleet_per_hour: f64) -> f64 {
        if self.kills_per_hour == 0.0 {
            // Exactly `share`, as before campaigns could add kills, so older
            // scenarios give the same bytes.
            return self.share;
        }
        (self.kills_per_hour + self.share * fleet_per_hour) / (self.kills_per_hour + fleet_per_hour)
    }
}

/// A module killed every `every_minutes`, always wrongly (a crash loop
/// Smith takes for an anomaly), from `start_hour` for `hours` (by default
/// for the whole recording).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Flapping {
    pub module: String,
    pub every_minutes: f64,
    #[serde(default)]
    pub start_hour: f64,
    #[serde(default)]
    pub hours: Option<f64>,
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

    /// Every module: those named one by one, then each group's members in
    /// order.
    pub fn fleet(&self) -> Vec<ModuleSpec> {
        let mut out = self.modules.clone();
        for g in &self.module_groups {
            out.extend((1..=g.count).map(|i| ModuleSpec {
                name: g.member(i),
                criticality: g.criticality,
                weight: g.weight,
                false_positive_rate: g.false_positive_rate,
            }));
        }
        out
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
        let weight = |what: &str, v: f64| {
            if v.is_finite() && v >= 0.0 {
                Ok(())
            } else {
                Err(format!("{what}: {v} must be a number of 0 or more"))
            }
        };
        let name = |what: &str, n: &str| {
            if crate::config::validate_name(n) {
                Ok(())
            } else {
                Err(format!("{what}: {n:?} is not a module name"))
            }
        };
        if !self.kills_per_hour.is_finite() || self.kills_per_hour <= 0.0 {
            return Err("kills_per_hour must be above 0".into());
        }
        for m in &self.modules {
            unit(
                &format!("modules.{}.false_positive_rate", m.name),
                m.false_positive_rate,
            )?;
            weight(&format!("modules.{}.weight", m.name), m.weight)?;
            name("modules", &m.name)?;
        }
        for g in &self.module_groups {
            let at = format!("module_groups.{}", g.prefix);
            name(&format!("{at}.prefix"), &g.prefix)?;
            if !(1..=MAX_GROUP_COUNT).contains(&g.count) {
                return Err(format!(
                    "{at}.count: {} must be between 1 and {MAX_GROUP_COUNT}",
                    g.count
                ));
            }
            // The longest member name is the last one's.
            name(&format!("{at}.prefix"), &g.member(g.count))?;
            weight(&format!("{at}.weight"), g.weight)?;
            unit(&format!("{at}.false_positive_rate"), g.false_positive_rate)?;
        }
        let fleet = self.fleet();
        if fleet.iter().all(|m| m.weight <= 0.0) {
            return Err(
                "modules, module_groups: at least one module with a positive weight".into(),
            );
        }
        let mut names = BTreeSet::new();
        for (i, m) in fleet.iter().enumerate() {
            if !names.insert(m.name.as_str()) {
                return Err(format!(
                    "{}: module {:?} is named twice",
                    self.field_of(i),
                    m.name
                ));
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
            weight(&format!("reasons.{name}.weight"), r.weight)?;
        }
        if self.reasons.values().all(|r| r.weight <= 0.0) {
            return Err("reasons: at least one reason with a positive weight".into());
        }
        unit("siem.threat_risk", self.siem.threat_risk)?;
        unit("siem.benign_risk", self.siem.benign_risk)?;
        unit("siem.missing_rate", self.siem.missing_rate)?;
        unit(
            "siem.threat_indicator_rate",
            self.siem.threat_indicator_rate,
        )?;
        unit(
            "siem.benign_indicator_rate",
            self.siem.benign_indicator_rate,
        )?;
        weight("siem.noise", self.siem.noise)?;
        for c in &self.cascades {
            unit(
                &format!("cascades.{}.probability", c.upstream),
                c.probability,
            )?;
            name("cascades.upstream", &c.upstream)?;
            for d in &c.downstream {
                name(&format!("cascades.{}.downstream", c.upstream), d)?;
            }
        }
        for (i, c) in self.campaigns.iter().enumerate() {
            unit(&format!("campaigns[{i}].share"), c.share)?;
            weight(&format!("campaigns[{i}].kills_per_hour"), c.kills_per_hour)?;
            weight(&format!("campaigns[{i}].start_hour"), c.start_hour)?;
            weight(&format!("campaigns[{i}].hours"), c.hours)?;
            for m in &c.modules {
                name(&format!("campaigns[{i}].modules"), m)?;
            }
        }
        for (i, f) in self.flapping.iter().enumerate() {
            name(&format!("flapping[{i}].module"), &f.module)?;
            if !f.every_minutes.is_finite() || f.every_minutes <= 0.0 {
                return Err(format!(
                    "flapping[{i}].every_minutes: {} must be above 0",
                    f.every_minutes
                ));
            }
            weight(&format!("flapping[{i}].start_hour"), f.start_hour)?;
            if let Some(h) = f.hours {
                weight(&format!("flapping[{i}].hours"), h)?;
            }
        }
        for (i, d) in self.drift.iter().enumerate() {
            let at = format!("drift[{i}]");
            match (&d.module, &d.group) {
                (Some(m), None) => {
                    if !names.contains(m.as_str()) {
                        return Err(format!(
                            "{at}.module: {m:?} is not in modules or module_groups"
                        ));
                    }
                }
                (None, Some(g)) => {
                    if !self.module_groups.iter().any(|x| &x.prefix == g) {
                        return Err(format!("{at}.group: no module group has the prefix {g:?}"));
                    }
                }
                _ => return Err(format!("{at}: name either a module or a group")),
            }
            weight(&format!("{at}.at_hour"), d.at_hour)?;
            unit(&format!("{at}.false_positive_rate"), d.false_positive_rate)?;
        }
        Ok(())
    }

    /// The field that holds the `index`th module of [`Scenario::fleet`].
    fn field_of(&self, index: usize) -> String {
        let Some(mut i) = index.checked_sub(self.modules.len()) else {
            return "modules".into();
        };
        for g in &self.module_groups {
            if i < g.count as usize {
                return format!("module_groups.{}", g.prefix);
            }
            i -= g.count as usize;
        }
        "module_groups".into()
    }

    /// Each drifting module's changes, in order of time (a later entry for
    /// the same hour wins).
    fn drift_by_module(&self) -> HashMap<String, Vec<(f64, f64)>> {
        let mut out: HashMap<String, Vec<(f64, f64)>> = HashMap::new();
        for d in &self.drift {
            let step = (d.at_hour, d.false_positive_rate);
            if let Some(m) = &d.module {
                out.entry(m.clone()).or_default().push(step);
            }
            for g in self
                .module_groups
                .iter()
                .filter(|g| Some(&g.prefix) == d.group.as_ref())
            {
                for i in 1..=g.count {
                    out.entry(g.member(i)).or_default().push(step);
                }
            }
        }
        for steps in out.values_mut() {
            // Stable: entries for the same hour keep the file's order.
            steps.sort_by(|a, b| a.0.total_cmp(&b.0));
        }
        out
    }
}

/// A module's false-positive rate at `hour`: the last drift step at or
/// before it, else its own.
fn false_positive_rate(base: f64, steps: Option<&Vec<(f64, f64)>>, hour: f64) -> f64 {
    steps
        .and_then(|s| s.iter().rev().find(|(at, _)| *at <= hour))
        .map_or(base, |(_, rate)| *rate)
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
            // Rolled only when the rate is above 0, so scenarios without
            // misleading indicators give the same bytes as before they existed.
            let (indicator_rate, score_mean, score_sd) = match truth {
                Truth::TrueThreat => (s.siem.threat_indicator_rate, 0.9, 0.05),
                Truth::FalsePositive => (s.siem.benign_indicator_rate, 0.7, 0.08),
            };
            let indicators =
                if indicator_rate > 0.0 && self.rng.random_range(0.0..1.0) < indicator_rate {
                    vec![ThreatIndicator {
                        indicator_type: "ip".into(),
                        value: format!("203.0.113.{}", self.rng.random_range(1..255)),
                        threat_score: (self.normal(score_mean, score_sd).clamp(0.0, 1.0) * 1000.0)
                            .round()
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
    let fleet = scenario.fleet();
    let criticalities: HashMap<&str, Criticality> = fleet
        .iter()
        .map(|m| (m.name.as_str(), m.criticality))
        .collect();
    let criticality = |name: &str| {
        criticalities
            .get(name)
            .copied()
            .unwrap_or(Criticality::Medium)
    };
    let drift = scenario.drift_by_module();
    let hours_since_start =
        |t: DateTime<Utc>| (t - scenario.start).num_milliseconds() as f64 / 3_600_000.0;
    let hours = |h: f64| Duration::milliseconds((h * 3_600_000.0) as i64);
    let mut at = scenario.start;
    let mut next_flap: Vec<DateTime<Utc>> = scenario
        .flapping
        .iter()
        .map(|f| scenario.start + hours(f.start_hour))
        .collect();
    let flap_end: Vec<Option<DateTime<Utc>>> = scenario
        .flapping
        .iter()
        .map(|f| f.hours.map(|h| scenario.start + hours(f.start_hour + h)))
        .collect();
    let mut written = 0;
    let campaign_at = |hour: f64| scenario.campaigns.iter().find(|c| c.covers(hour));
    while written < kills {
        // Exponential gaps at the rate in force (a campaign's kills come on
        // top of the fleet's).
        let rate = scenario.kills_per_hour
            + campaign_at(hours_since_start(at)).map_or(0.0, |c| c.kills_per_hour);
        let u: f64 = g.rng.random_range(f64::EPSILON..1.0);
        at += Duration::milliseconds((-u.ln() / rate * 3_600_000.0) as i64);
        for (i, f) in scenario.flapping.iter().enumerate() {
            // Every flap due by now, even when the fleet's kills are sparser
            // than the flapping.
            while next_flap[i] <= at
                && flap_end[i].is_none_or(|end| next_flap[i] < end)
                && written < kills
            {
                let rec = g.kill(
                    next_flap[i],
                    &f.module,
                    criticality(&f.module),
                    KillReason::AnomalyBehavior,
                    Truth::FalsePositive,
                );
                w.write(&rec)?;
                written += 1;
                // At least a second apart, whatever an unchecked scenario says.
                next_flap[i] +=
                    Duration::milliseconds((f.every_minutes * 60_000.0).max(1000.0) as i64);
            }
        }
        if written >= kills {
            break;
        }
        let hour = hours_since_start(at);
        let rec = match campaign_at(hour) {
            Some(c) if g.rng.random_range(0.0..1.0) < c.chance(scenario.kills_per_hour) => {
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
                let m = g.pick(&fleet, |m| m.weight.max(0.0));
                let reason = g.pick(&reasons, |r| r.1.max(0.0)).0;
                let rate = false_positive_rate(m.false_positive_rate, drift.get(&m.name), hour);
                let truth = if g.rng.random_range(0.0..1.0) < rate {
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

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
name: test
start: "2026-01-05T00:00:00Z"
kills_per_hour: 10
reasons:
  anomaly_behavior: { weight: 1, threat_confidence: 0.7, benign_confidence: 0.6 }
siem: { threat_risk: 0.6, benign_risk: 0.3, noise: 0.1, missing_rate: 0.1 }
"#;

    fn parse(extra: &str) -> Result<Scenario, String> {
        let s: Scenario =
            serde_yaml::from_str(&format!("{BASE}{extra}")).map_err(|e| e.to_string())?;
        s.check()?;
        Ok(s)
    }

    fn generate(s: &Scenario, seed: u64, kills: usize) -> Vec<Recorded> {
        let mut out = Vec::new();
        simulate(s, seed, kills, &mut out).expect("written to memory");
        String::from_utf8(out)
            .expect("UTF-8")
            .lines()
            .skip(1)
            .map(|l| serde_json::from_str(l).expect("a recorded kill"))
            .collect()
    }

    fn hour(s: &Scenario, r: &Recorded) -> f64 {
        (r.kill.timestamp - s.start).num_milliseconds() as f64 / 3_600_000.0
    }

    fn false_positive_share(kills: &[&Recorded]) -> f64 {
        let fp = kills
            .iter()
            .filter(|r| r.label.as_ref().and_then(|l| l.truth) == Some(Truth::FalsePositive))
            .count();
        fp as f64 / kills.len() as f64
    }

    #[test]
    fn groups_expand_into_numbered_modules_with_the_groups_settings() {
        let s = parse(
            "modules: [{ name: auth-service, criticality: critical, weight: 1, false_positive_rate: 0.5 }]\n\
             module_groups:\n\
             - { prefix: web, count: 120, criticality: low, weight: 2, false_positive_rate: 0.9 }\n\
             - { prefix: db, count: 1000, criticality: high, weight: 0.5, false_positive_rate: 0.4 }\n",
        )
        .expect("valid");
        let fleet = s.fleet();
        assert_eq!(fleet.len(), 1 + 120 + 1000);
        assert_eq!(fleet[0].name, "auth-service");
        assert_eq!(fleet[1].name, "web-001");
        assert_eq!(fleet[120].name, "web-120");
        assert_eq!(fleet[121].name, "db-0001", "four digits for a thousand");
        assert_eq!(fleet[1120].name, "db-1000");
        let web = &fleet[57];
        assert_eq!(
            (web.criticality, web.weight, web.false_positive_rate),
            (Criticality::Low, 2.0, 0.9)
        );
        assert!(fleet.iter().all(|m| crate::config::validate_name(&m.name)));

        // The generated kills are of those modules, with their criticality.
        let kills = generate(&s, 3, 3000);
        let names: BTreeSet<&str> = fleet.iter().map(|m| m.name.as_str()).collect();
        assert!(
            kills
                .iter()
                .all(|r| names.contains(r.kill.target_module.as_str()))
        );
        let web_kills: Vec<_> = kills
            .iter()
            .filter(|r| r.kill.target_module.starts_with("web-"))
            .collect();
        // Weight 240 of 741: about a third.
        let share = web_kills.len() as f64 / kills.len() as f64;
        assert!((0.28..0.37).contains(&share), "{share}");
        assert!(
            web_kills.iter().all(|r| {
                r.profile.as_ref().and_then(|p| p.criticality) == Some(Criticality::Low)
            })
        );
        let distinct: BTreeSet<_> = web_kills.iter().map(|r| &r.kill.target_module).collect();
        assert!(distinct.len() > 100, "kills spread over the group");
    }

    #[test]
    fn drift_changes_the_false_positive_share_from_its_hour() {
        let s = parse(
            "modules:\n\
             - { name: search-indexer, criticality: medium, weight: 1, false_positive_rate: 0.9 }\n\
             - { name: steady, criticality: medium, weight: 1, false_positive_rate: 0.9 }\n\
             module_groups: [{ prefix: worker, count: 20, criticality: low, weight: 0.1, false_positive_rate: 0.8 }]\n\
             drift:\n\
             - { module: search-indexer, at_hour: 200, false_positive_rate: 0.1 }\n\
             - { group: worker, at_hour: 200, false_positive_rate: 0.2 }\n",
        )
        .expect("valid");
        let kills = generate(&s, 9, 8000);
        assert!(
            kills.last().is_some_and(|r| hour(&s, r) > 300.0),
            "the recording runs well past the drift"
        );
        let share = |module: &str, after: bool| {
            let of: Vec<_> = kills
                .iter()
                .filter(|r| r.kill.target_module.starts_with(module))
                .filter(|r| (hour(&s, r) >= 200.0) == after)
                .collect();
            assert!(of.len() > 300, "{module}: {} kills", of.len());
            false_positive_share(&of)
        };
        let (before, after) = (
            share("search-indexer", false),
            share("search-indexer", true),
        );
        assert!((before - 0.9).abs() < 0.05, "before: {before}");
        assert!((after - 0.1).abs() < 0.05, "after: {after}");
        let (before, after) = (share("worker-", false), share("worker-", true));
        assert!((before - 0.8).abs() < 0.05, "group before: {before}");
        assert!((after - 0.2).abs() < 0.05, "group after: {after}");
        let (before, after) = (share("steady", false), share("steady", true));
        assert!(
            (before - 0.9).abs() < 0.05 && (after - 0.9).abs() < 0.05,
            "a module without drift keeps its rate: {before} {after}"
        );
    }

    #[test]
    fn the_same_scenario_and_seed_give_the_same_bytes() {
        let s = parse(
            "module_groups: [{ prefix: web, count: 50, criticality: low, weight: 1, false_positive_rate: 0.8 }]\n\
             drift: [{ group: web, at_hour: 10, false_positive_rate: 0.3 }]\n\
             campaigns: [{ start_hour: 5, hours: 2, modules: [web-007], kills_per_hour: 20 }]\n\
             flapping: [{ module: web-009, every_minutes: 10, start_hour: 1, hours: 3 }]\n",
        )
        .expect("valid");
        let run = |seed| {
            let mut out = Vec::new();
            simulate(&s, seed, 2000, &mut out).expect("written to memory");
            out
        };
        assert_eq!(run(4), run(4));
        assert_ne!(run(4), run(5));
    }

    #[test]
    fn a_campaign_adds_its_kills_and_flapping_keeps_to_its_window() {
        let s = parse(
            "modules: [{ name: quiet, criticality: low, weight: 1, false_positive_rate: 1.0 }]\n\
             campaigns: [{ start_hour: 10, hours: 2, modules: [edge-proxy], kills_per_hour: 40 }]\n\
             flapping: [{ module: crashy, every_minutes: 15, start_hour: 20, hours: 2 }]\n",
        )
        .expect("valid");
        let kills = generate(&s, 2, 600);
        let campaign: Vec<_> = kills
            .iter()
            .filter(|r| r.kill.target_module == "edge-proxy")
            .collect();
        // 40 an hour for two hours, on top of the fleet's 10.
        assert!((60..=100).contains(&campaign.len()), "{}", campaign.len());
        assert!(campaign.iter().all(|r| {
            let h = hour(&s, r);
            (10.0..12.0).contains(&h)
                && r.label.as_ref().and_then(|l| l.truth) == Some(Truth::TrueThreat)
        }));
        let quiet_in_window = kills
            .iter()
            .filter(|r| r.kill.target_module == "quiet" && (10.0..12.0).contains(&hour(&s, r)))
            .count();
        assert!(
            (8..=40).contains(&quiet_in_window),
            "the fleet's kills go on: {quiet_in_window}"
        );
        let flaps: Vec<f64> = kills
            .iter()
            .filter(|r| r.kill.target_module == "crashy")
            .map(|r| hour(&s, r))
            .collect();
        assert_eq!(flaps.len(), 8, "every 15 minutes for two hours: {flaps:?}");
        assert!(flaps.iter().all(|h| (20.0..22.0).contains(h)));
    }

    #[test]
    fn bad_fields_are_named() {
        for (extra, expected) in [
            (
                "module_groups: [{ prefix: web, count: 0, criticality: low, weight: 1, false_positive_rate: 0.5 }]",
                "module_groups.web.count: 0 must be between 1 and 100000",
            ),
            (
                "module_groups: [{ prefix: \"web app\", count: 2, criticality: low, weight: 1, false_positive_rate: 0.5 }]",
                "module_groups.web app.prefix: \"web app\" is not a module name",
            ),
            (
                "module_groups: [{ prefix: web, count: 2, criticality: low, weight: 1, false_positive_rate: 1.5 }]",
                "module_groups.web.false_positive_rate: 1.5 must be between 0 and 1",
            ),
            (
                "module_groups: [{ prefix: web, count: 2, criticality: low, weight: -1, false_positive_rate: 0.5 }]",
                "module_groups.web.weight: -1 must be a number of 0 or more",
            ),
            (
                "modules: [{ name: web-002, criticality: low, weight: 1, false_positive_rate: 0.5 }]\n\
                 module_groups: [{ prefix: web, count: 2, criticality: low, weight: 1, false_positive_rate: 0.5 }]",
                "module_groups.web: module \"web-002\" is named twice",
            ),
            (
                "modules: [{ name: a, criticality: low, weight: 0, false_positive_rate: 0.5 }]",
                "modules, module_groups: at least one module with a positive weight",
            ),
            (
                "modules: [{ name: a, criticality: low, weight: 1, false_positive_rate: 0.5 }]\n\
                 drift: [{ module: b, at_hour: 1, false_positive_rate: 0.5 }]",
                "drift[0].module: \"b\" is not in modules or module_groups",
            ),
            (
                "modules: [{ name: a, criticality: low, weight: 1, false_positive_rate: 0.5 }]\n\
                 drift: [{ group: a, at_hour: 1, false_positive_rate: 0.5 }]",
                "drift[0].group: no module group has the prefix \"a\"",
            ),
            (
                "modules: [{ name: a, criticality: low, weight: 1, false_positive_rate: 0.5 }]\n\
                 drift: [{ at_hour: 1, false_positive_rate: 0.5 }]",
                "drift[0]: name either a module or a group",
            ),
            (
                "modules: [{ name: a, criticality: low, weight: 1, false_positive_rate: 0.5 }]\n\
                 drift: [{ module: a, at_hour: 1, false_positive_rate: 2 }]",
                "drift[0].false_positive_rate: 2 must be between 0 and 1",
            ),
            (
                "modules: [{ name: a, criticality: low, weight: 1, false_positive_rate: 0.5 }]\n\
                 drift: [{ module: a, at_hour: -3, false_positive_rate: 0.2 }]",
                "drift[0].at_hour: -3 must be a number of 0 or more",
            ),
            (
                "modules: [{ name: a, criticality: low, weight: 1, false_positive_rate: 0.5 }]\n\
                 flapping: [{ module: a, every_minutes: 0 }]",
                "flapping[0].every_minutes: 0 must be above 0",
            ),
            (
                "modules: [{ name: a, criticality: low, weight: 1, false_positive_rate: 0.5 }]\n\
                 campaigns: [{ start_hour: 1, hours: 1, modules: [\"../etc\"], share: 0.5 }]",
                "campaigns[0].modules: \"../etc\" is not a module name",
            ),
        ] {
            let e = parse(extra).expect_err(extra);
            assert_eq!(e, expected, "{extra}");
        }
        let e = parse(
            "module_groups: [{ prefix: web, count: 2, criticality: low, weight: 1, false_positive_rate: 0.5, colour: red }]",
        )
        .expect_err("an unknown field");
        assert!(e.contains("unknown field `colour`"), "{e}");
    }
}
