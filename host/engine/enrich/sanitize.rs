//! SIEM answers are untrusted input: checked like kills (ranges, sizes,
//! timestamps, that they are about the kill asked for) before any plugin
//! sees them.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::SiemError;
use crate::model::{SiemContext, ThreatIndicator};

const MAX_INDICATORS: usize = 64;
const MAX_TEXT: usize = 1024;
const MAX_MAP_BYTES: usize = 16 * 1024;

fn bad(msg: String) -> SiemError {
    SiemError::Validation(msg)
}

fn text(v: Option<&Value>, field: &str, required: bool) -> Result<String, SiemError> {
    match v {
        None | Some(Value::Null) if !required => Ok(String::new()),
        None | Some(Value::Null) => Err(bad(format!("{field} is missing"))),
        Some(Value::String(s)) if s.len() <= MAX_TEXT => {
            Ok(s.chars().filter(|c| !c.is_control()).collect())
        }
        Some(Value::String(s)) => Err(bad(format!(
            "{field} is {} bytes (limit {MAX_TEXT})",
            s.len()
        ))),
        Some(_) => Err(bad(format!("{field} must be a string"))),
    }
}

fn unit(v: Option<&Value>, field: &str) -> Result<f64, SiemError> {
    let x = v
        .and_then(Value::as_f64)
        .ok_or_else(|| bad(format!("{field} must be a number")))?;
    if (0.0..=1.0).contains(&x) {
        Ok(x)
    } else {
        Err(bad(format!("{field} {x} is outside [0, 1]")))
    }
}

fn time(v: Option<&Value>, field: &str) -> Result<DateTime<Utc>, SiemError> {
    let s = v
        .and_then(Value::as_str)
        .ok_or_else(|| bad(format!("{field} must be an ISO-8601 string")))?;
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| bad(format!("{field} {s:?} is not ISO-8601 ({e})")))
}

fn map(v: Option<&Value>, field: &str) -> Result<Map<String, Value>, SiemError> {
    match v {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(m)) => {
            let size = Value::Object(m.clone()).to_string().len();
            if size > MAX_MAP_BYTES {
                return Err(bad(format!(
                    "{field} is {size} bytes (limit {MAX_MAP_BYTES})"
                )));
            }
            Ok(m.clone())
        }
        Some(_) => Err(bad(format!("{field} must be an object"))),
    }
}

/// Checks a SIEM answer for the kill `kill_id`.
pub fn context(v: &Value, kill_id: &str) -> Result<SiemContext, SiemError> {
    let o = v
        .as_object()
        .ok_or_else(|| bad("the answer is not a JSON object".into()))?;
    let answered_for = text(o.get("kill_id"), "kill_id", true)?;
    if answered_for != kill_id {
        return Err(bad(format!(
            "kill_id {answered_for:?} is not the kill asked about ({kill_id:?})"
        )));
    }
    let indicators = match o.get("threat_indicators") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) if a.len() <= MAX_INDICATORS => a
            .iter()
            .enumerate()
            .map(|(n, i)| {
                let at = |f: &str| format!("threat_indicators[{n}].{f}");
                let i = i
                    .as_object()
                    .ok_or_else(|| bad(format!("threat_indicators[{n}] must be an object")))?;
                Ok(ThreatIndicator {
                    indicator_type: text(i.get("indicator_type"), &at("indicator_type"), true)?,
                    value: text(i.get("value"), &at("value"), true)?,
                    threat_score: unit(i.get("threat_score"), &at("threat_score"))?,
                    source: text(i.get("source"), &at("source"), false)?,
                    last_seen: time(i.get("last_seen"), &at("last_seen"))?,
                    tags: match i.get("tags") {
                        Some(Value::Array(t)) if t.len() <= 32 => t
                            .iter()
                            .map(|x| text(Some(x), &at("tags"), true))
                            .collect::<Result<_, _>>()?,
                        None | Some(Value::Null) => Vec::new(),
                        _ => {
                            return Err(bad(format!(
                                "{} must be a list of at most 32 strings",
                                at("tags")
                            )));
                        }
                    },
                })
            })
            .collect::<Result<_, SiemError>>()?,
        Some(_) => {
            return Err(bad(format!(
                "threat_indicators must be a list of at most {MAX_INDICATORS}"
            )));
        }
    };
    let fp = match o.get("false_positive_history") {
        None | Some(Value::Null) => 0,
        Some(v) => v
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| bad("false_positive_history must be a whole number >= 0".into()))?,
    };
    Ok(SiemContext {
        query_id: text(o.get("query_id"), "query_id", true)?,
        kill_id: answered_for,
        timestamp: time(o.get("timestamp"), "timestamp")?,
        threat_indicators: indicators,
        historical_behavior: map(o.get("historical_behavior"), "historical_behavior")?,
        false_positive_history: fp,
        network_context: map(o.get("network_context"), "network_context")?,
        user_context: match o.get("user_context") {
            None | Some(Value::Null) => None,
            v => Some(map(v, "user_context")?),
        },
        risk_score: unit(o.get("risk_score"), "risk_score")?,
        recommendation: text(o.get("recommendation"), "recommendation", false)?,
    })
}
