//! Spec §11.2 input validation: a kill report is checked field by field —
//! required fields, enum values, ranges, timestamps, safe names, sizes — and
//! the first problem is reported naming the field. Nothing unchecked reaches
//! the decision stage.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value};

use crate::config::validate_name;
use crate::model::{KillReason, KillReport, Severity};

/// Limits on what one kill may carry.
pub const MAX_ID: usize = 128;
pub const MAX_TEXT: usize = 1024;
pub const MAX_LIST: usize = 64;
pub const MAX_METADATA_KEYS: usize = 64;
pub const MAX_METADATA_BYTES: usize = 16 * 1024;
/// A whole message, before parsing.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// How far in the future a kill may be stamped (clock skew).
pub const MAX_FUTURE: Duration = Duration::minutes(5);
/// How old a kill may be and still be decided.
pub const MAX_AGE: Duration = Duration::days(30);

/// Why an input was refused: the field and the problem.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct ValidationError {
    pub field: String,
    pub problem: String,
}

impl ValidationError {
    pub fn new(field: &str, problem: impl Into<String>) -> Self {
        ValidationError {
            field: field.to_string(),
            problem: problem.into(),
        }
    }
}

type Result<T> = std::result::Result<T, ValidationError>;

fn required<'a>(obj: &'a Map<String, Value>, field: &str) -> Result<&'a Value> {
    match obj.get(field) {
        None | Some(Value::Null) => Err(ValidationError::new(field, "is required")),
        Some(v) => Ok(v),
    }
}

fn string(obj: &Map<String, Value>, field: &str, max: usize) -> Result<String> {
    let s = required(obj, field)?
        .as_str()
        .ok_or_else(|| ValidationError::new(field, "must be a string"))?;
    if s.trim().is_empty() {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    if s.len() > max {
        return Err(ValidationError::new(
            field,
            format!("is {} bytes (limit {max})", s.len()),
        ));
    }
    if s.chars().any(|c| c.is_control()) {
        return Err(ValidationError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(s.to_string())
}

fn name(obj: &Map<String, Value>, field: &str) -> Result<String> {
    let s = string(obj, field, MAX_ID)?;
    if !validate_name(&s) {
        return Err(ValidationError::new(
            field,
            format!(
                "{s:?} is not a safe name (1-128 of A-Z a-z 0-9 . _ -, not starting with . or -)"
            ),
        ));
    }
    Ok(s)
}

fn list(obj: &Map<String, Value>, field: &str, names: bool) -> Result<Vec<String>> {
    let Some(v) = obj.get(field).filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let items = v
        .as_array()
        .ok_or_else(|| ValidationError::new(field, "must be a list of strings"))?;
    if items.len() > MAX_LIST {
        return Err(ValidationError::new(
            field,
            format!("has {} items (limit {MAX_LIST})", items.len()),
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            // The item's path is only spelled out for an error.
            let at = || format!("{field}[{i}]");
            let s = item
                .as_str()
                .ok_or_else(|| ValidationError::new(&at(), "must be a string"))?;
            if s.len() > MAX_TEXT {
                return Err(ValidationError::new(
                    &at(),
                    format!("is {} bytes (limit {MAX_TEXT})", s.len()),
                ));
            }
            if names && !validate_name(s) {
                return Err(ValidationError::new(
                    &at(),
                    format!("{s:?} is not a safe module name"),
                ));
            }
            Ok(s.to_string())
        })
        .collect()
}

fn enumeration<T: serde::de::DeserializeOwned>(
    obj: &Map<String, Value>,
    field: &str,
    allowed: &str,
) -> Result<T> {
    let v = required(obj, field)?;
    T::deserialize(v)
        .map_err(|_| ValidationError::new(field, format!("{v} is not one of {allowed}")))
}

/// Parses a timestamp and checks it is neither in the future (beyond clock
/// skew) nor too old to decide.
pub fn timestamp(v: &Value, field: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
    let s = v
        .as_str()
        .ok_or_else(|| ValidationError::new(field, "must be an ISO-8601 string"))?;
    let t = DateTime::parse_from_rfc3339(s)
        .map_err(|e| {
            ValidationError::new(field, format!("{s:?} is not an ISO-8601 timestamp ({e})"))
        })?
        .with_timezone(&Utc);
    if t > now + MAX_FUTURE {
        return Err(ValidationError::new(field, format!("{s} is in the future")));
    }
    if t < now - MAX_AGE {
        return Err(ValidationError::new(
            field,
            format!("{s} is more than {} days old", MAX_AGE.num_days()),
        ));
    }
    Ok(t)
}

/// Validates a kill report given as JSON, at time `now`.
pub fn kill_report(value: &Value, now: DateTime<Utc>) -> Result<KillReport> {
    let obj = value
        .as_object()
        .ok_or_else(|| ValidationError::new("payload", "must be a JSON object"))?;
    const KNOWN: [&str; 11] = [
        "kill_id",
        "timestamp",
        "target_module",
        "target_instance_id",
        "kill_reason",
        "severity",
        "confidence_score",
        "evidence",
        "dependencies",
        "source_agent",
        "metadata",
    ];
    if let Some(unknown) = obj.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(ValidationError::new(
            unknown,
            "is not a field of a kill report",
        ));
    }
    let kill_id = name(obj, "kill_id")?;
    let ts = timestamp(required(obj, "timestamp")?, "timestamp", now)?;
    let target_module = name(obj, "target_module")?;
    let target_instance_id = name(obj, "target_instance_id")?;
    let kill_reason: KillReason = enumeration(
        obj,
        "kill_reason",
        "threat_detected, anomaly_behavior, policy_violation, resource_exhaustion, dependency_cascade, manual_override",
    )?;
    let severity: Severity = enumeration(obj, "severity", "critical, high, medium, low, info")?;
    let confidence_score = required(obj, "confidence_score")?
        .as_f64()
        .ok_or_else(|| ValidationError::new("confidence_score", "must be a number"))?;
    if !(0.0..=1.0).contains(&confidence_score) {
        return Err(ValidationError::new(
            "confidence_score",
            format!("{confidence_score} is outside [0, 1]"),
        ));
    }
    let evidence = list(obj, "evidence", false)?;
    let dependencies = list(obj, "dependencies", true)?;
    let source_agent = string(obj, "source_agent", MAX_ID)?;
    let metadata = match obj.get("metadata") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => {
            if m.len() > MAX_METADATA_KEYS {
                return Err(ValidationError::new(
                    "metadata",
                    format!("has {} keys (limit {MAX_METADATA_KEYS})", m.len()),
                ));
            }
            let size = serde_json::to_vec(m).map_or(usize::MAX, |v| v.len());
            if size > MAX_METADATA_BYTES {
                return Err(ValidationError::new(
                    "metadata",
                    format!("is {size} bytes (limit {MAX_METADATA_BYTES})"),
                ));
            }
            m.clone()
        }
        Some(_) => return Err(ValidationError::new("metadata", "must be a JSON object")),
    };
    Ok(KillReport {
        kill_id,
        timestamp: ts,
        target_module,
        target_instance_id,
        kill_reason,
        severity,
        confidence_score,
        evidence,
        dependencies,
        source_agent,
        metadata,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn good() -> Value {
        json!({
            "kill_id": "k-1", "timestamp": "2024-01-15T10:30:00Z", "target_module": "svc",
            "target_instance_id": "svc-1", "kill_reason": "anomaly_behavior", "severity": "low",
            "confidence_score": 0.5, "evidence": ["e"], "dependencies": ["dep-a"],
            "source_agent": "smith-01", "metadata": {"region": "eu"}
        })
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2024-01-15T11:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn field_of(v: Value) -> String {
        kill_report(&v, now()).unwrap_err().field
    }

    #[test]
    fn accepts_a_good_kill() {
        let k = kill_report(&good(), now()).unwrap();
        assert_eq!(k.target_module, "svc");
        assert_eq!(k.dependencies, ["dep-a"]);
    }

    #[test]
    fn names_the_bad_field() {
        let mut v = good();
        v["confidence_score"] = json!(1.2);
        assert_eq!(field_of(v), "confidence_score");
        let mut v = good();
        v["severity"] = json!("apocalyptic");
        assert_eq!(field_of(v), "severity");
        let mut v = good();
        v["target_module"] = json!("svc; rm -rf /");
        assert_eq!(field_of(v), "target_module");
        let mut v = good();
        v.as_object_mut().unwrap().remove("kill_id");
        assert_eq!(field_of(v), "kill_id");
        let mut v = good();
        v["timestamp"] = json!("2030-01-01T00:00:00Z");
        assert_eq!(field_of(v), "timestamp");
        let mut v = good();
        v["timestamp"] = json!("yesterday");
        assert_eq!(field_of(v), "timestamp");
        let mut v = good();
        v["evidence"] = json!(vec!["x"; 65]);
        assert_eq!(field_of(v), "evidence");
        let mut v = good();
        v["dependencies"] = json!(["ok", "../etc"]);
        assert_eq!(field_of(v), "dependencies[1]");
        let mut v = good();
        v["metadata"] = json!({"blob": "x".repeat(20_000)});
        assert_eq!(field_of(v), "metadata");
        let mut v = good();
        v["surprise"] = json!(1);
        assert_eq!(field_of(v), "surprise");
    }
}
