//! Checks on what plugins return: numbers in range, sizes bounded, levels
//! consistent with scores, learner steps within their bound. A plugin's
//! output is data from an untrusted party until it passes here.

use medic_plugin_logic::values::Bands;

use crate::config::validate_name;
use crate::model::{
    NamedValues, PluginInfo, RiskAssessment, RiskLevel, ThresholdAdjustment, Verdict,
};

const MAX_FACTORS: usize = 32;
const MAX_LINES: usize = 64;
const MAX_TEXT: usize = 2048;

fn unit(v: f64) -> bool {
    v.is_finite() && (0.0..=1.0).contains(&v)
}

fn text(field: &str, s: &str) -> Result<(), String> {
    if s.len() > MAX_TEXT {
        return Err(format!("{field} is {} bytes (limit {MAX_TEXT})", s.len()));
    }
    Ok(())
}

fn lines(field: &str, v: &[String]) -> Result<(), String> {
    if v.len() > MAX_LINES {
        return Err(format!(
            "{field} has {} entries (limit {MAX_LINES})",
            v.len()
        ));
    }
    v.iter().try_for_each(|s| text(field, s))
}

/// The level a score falls in under the thresholds the plugin was given.
pub fn level_for(score: f64, thresholds: &NamedValues) -> RiskLevel {
    match Bands::from_lookup(|n| thresholds.get(n).copied()).level(score) {
        medic_plugin_logic::RiskLevel::Minimal => RiskLevel::Minimal,
        medic_plugin_logic::RiskLevel::Low => RiskLevel::Low,
        medic_plugin_logic::RiskLevel::Medium => RiskLevel::Medium,
        medic_plugin_logic::RiskLevel::High => RiskLevel::High,
        medic_plugin_logic::RiskLevel::Critical => RiskLevel::Critical,
    }
}

pub fn risk(r: &RiskAssessment, thresholds: &NamedValues) -> Result<(), String> {
    if !unit(r.score) {
        return Err(format!("score {} is not in [0, 1]", r.score));
    }
    let expected = level_for(r.score, thresholds);
    if r.level != expected {
        return Err(format!(
            "level {:?} does not match score {:.3}, which is {:?} under the configured thresholds",
            r.level, r.score, expected
        ));
    }
    if r.factors.len() > MAX_FACTORS {
        return Err(format!("{} factors (limit {MAX_FACTORS})", r.factors.len()));
    }
    for f in &r.factors {
        if f.name.is_empty() || f.name.len() > 64 {
            return Err(format!("factor name {:?} must be 1-64 bytes", f.name));
        }
        for (what, v) in [
            ("value", f.value),
            ("weight", f.weight),
            ("contribution", f.contribution),
        ] {
            if !unit(v) {
                return Err(format!("factor {} has {what} {v}, not in [0, 1]", f.name));
            }
        }
        text("factor detail", &f.detail)?;
    }
    Ok(())
}

pub fn verdict(v: &Verdict) -> Result<(), String> {
    if !unit(v.confidence) {
        return Err(format!("confidence {} is not in [0, 1]", v.confidence));
    }
    if v.reasoning.is_empty() {
        return Err("reasoning is empty: a verdict must explain itself".to_string());
    }
    lines("reasoning", &v.reasoning)?;
    lines("constraints", &v.constraints)?;
    text("recommended_action", &v.recommended_action)?;
    if !(1..=10_080).contains(&v.timeout_minutes) {
        return Err(format!(
            "timeout_minutes {} is not in 1..=10080",
            v.timeout_minutes
        ));
    }
    Ok(())
}

pub fn adjustments(
    adj: &[ThresholdAdjustment],
    thresholds: &NamedValues,
    max_adjustment_percent: f64,
) -> Result<(), String> {
    if adj.len() > MAX_LINES {
        return Err(format!("{} adjustments (limit {MAX_LINES})", adj.len()));
    }
    for a in adj {
        let Some(current) = thresholds.get(&a.name) else {
            return Err(format!("adjusts {:?}, which is not a threshold", a.name));
        };
        if (a.old_value - current).abs() > 1e-9 {
            return Err(format!(
                "{}: old_value {} is not the current value {current}",
                a.name, a.old_value
            ));
        }
        if !a.new_value.is_finite() {
            return Err(format!(
                "{}: new_value {} is not a number",
                a.name, a.new_value
            ));
        }
        let step = (a.new_value - current).abs() / current.abs().max(f64::EPSILON) * 100.0;
        if step > max_adjustment_percent + 1e-6 {
            return Err(format!(
                "{}: moves {current} -> {} ({step:.2}%), more than the {max_adjustment_percent}% allowed",
                a.name, a.new_value
            ));
        }
        if a.reason.trim().is_empty() {
            return Err(format!("{}: no reason given", a.name));
        }
        text("reason", &a.reason)?;
    }
    Ok(())
}

pub fn info(i: &PluginInfo) -> Result<(), (&'static str, String)> {
    if !validate_name(&i.name) || i.name.len() > 64 {
        return Err((
            "name",
            format!("{:?} must be 1-64 of a-z A-Z 0-9 . _ -", i.name),
        ));
    }
    if i.version.is_empty() || i.version.len() > 64 {
        return Err(("version", format!("{:?} must be 1-64 bytes", i.version)));
    }
    text("description", &i.description).map_err(|e| ("description", e))?;
    lines("uses", &i.uses).map_err(|e| ("uses", e))?;
    Ok(())
}

/// Most named numbers a plugin may read (contract 0.2's `reads`).
pub const MAX_READS: usize = 256;

/// A plugin's `reads`: at most [`MAX_READS`] names, each 1-128 bytes.
pub fn reads(names: &[String]) -> Result<(), (&'static str, String)> {
    if names.len() > MAX_READS {
        let problem = format!("has {} names (limit {MAX_READS})", names.len());
        return Err(("reads", problem));
    }
    match names.iter().find(|n| n.is_empty() || n.len() > 128) {
        Some(n) => Err(("reads", format!("name {n:?} must be 1-128 bytes"))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_plugin_reads_is_bounded_and_named() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(reads(&names(&["risk.low", "known.threats"])).is_ok());
        assert!(reads(&[]).is_ok());
        let (field, problem) = reads(&names(&["risk.low", ""])).unwrap_err();
        assert_eq!(field, "reads");
        assert!(problem.contains("1-128 bytes"), "{problem}");
        let too_many = vec!["risk.low".to_string(); MAX_READS + 1];
        let (_, problem) = reads(&too_many).unwrap_err();
        assert!(problem.contains("257 names (limit 256)"), "{problem}");
        assert!(reads(&["x".repeat(129)]).is_err());
    }
}
