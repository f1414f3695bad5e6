//! Input validation: a kill report is checked field by field — required
//! fields, enum values, ranges, timestamps, safe names, sizes — and every
//! problem is reported at once, each naming its field (the fields' types
//! first: a kill with a field of the wrong type is refused for those). Nothing
//! unchecked reaches the decision stage.

use std::borrow::Cow;

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
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
pub use crate::model::MAX_FUTURE;
/// How old a kill may be and still be decided.
pub const MAX_AGE: Duration = Duration::days(30);

/// Why an input was refused: the field and the problem, and any further
/// problems found in the same input, each with its field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidationError {
    pub field: String,
    pub problem: String,
    pub more: Vec<(String, String)>,
}

impl ValidationError {
    pub fn new(field: &str, problem: impl Into<String>) -> Self {
        ValidationError {
            field: field.to_string(),
            problem: problem.into(),
            more: Vec::new(),
        }
    }

    /// Every problem, the first one first: (field, problem).
    pub fn all(&self) -> impl Iterator<Item = (&str, &str)> {
        std::iter::once((self.field.as_str(), self.problem.as_str()))
            .chain(self.more.iter().map(|(f, p)| (f.as_str(), p.as_str())))
    }

    /// The same problems, each field under `prefix` (`payload.kill_id`,
    /// `data[0]`: see [`field_within`]).
    pub fn within(self, prefix: &str) -> ValidationError {
        ValidationError {
            field: field_within(prefix, &self.field),
            problem: self.problem,
            more: self
                .more
                .into_iter()
                .map(|(f, p)| (field_within(prefix, &f), p))
                .collect(),
        }
    }
}

/// The path of `field` inside `prefix`: `payload.kill_id` for a key,
/// `data[0].k` for an element of an array (no dot before the bracket), and
/// `field` alone under no prefix.
pub fn field_within(prefix: &str, field: &str) -> String {
    if prefix.is_empty() {
        field.to_string()
    } else if field.starts_with('[') {
        format!("{prefix}{field}")
    } else {
        format!("{prefix}.{field}")
    }
}

impl std::fmt::Display for ValidationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (field, problem)) in self.all().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{field}: {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationError {}

/// The problems found so far in one input.
#[derive(Default)]
struct Problems(Vec<ValidationError>);

impl Problems {
    /// The value, or `None` with its problem kept.
    fn take<T>(&mut self, r: Result<T>) -> Option<T> {
        r.map_err(|e| self.0.push(e)).ok()
    }

    /// Every problem kept, as one error (the first first).
    fn error(self) -> ValidationError {
        let mut all = self.0.into_iter().flat_map(|e| {
            let ValidationError {
                field,
                problem,
                more,
            } = e;
            std::iter::once((field, problem)).chain(more)
        });
        let (field, problem) = all
            .next()
            .unwrap_or_else(|| ("payload".to_string(), "is not a kill report".to_string()));
        ValidationError {
            field,
            problem,
            more: all.collect(),
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

/// Refuses the first field of `obj` not in `known`, as not a field of
/// `what`.
pub fn only_known_fields(obj: &Map<String, Value>, known: &[&str], what: &str) -> Result<()> {
    match obj.keys().find(|k| !known.contains(&k.as_str())) {
        Some(unknown) => Err(ValidationError::new(
            unknown,
            format!("is not a field of {what}"),
        )),
        None => Ok(()),
    }
}

fn string_of<'a>(obj: &'a Map<String, Value>, field: &str) -> Result<&'a str> {
    required(obj, field)?
        .as_str()
        .ok_or_else(|| ValidationError::new(field, "must be a string"))
}

fn list_of(obj: &Map<String, Value>, field: &str) -> Result<Option<Vec<String>>> {
    let Some(v) = obj.get(field).filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let items = v
        .as_array()
        .ok_or_else(|| ValidationError::new(field, "must be a list of strings"))?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            item.as_str()
                .map(str::to_string)
                .ok_or_else(|| ValidationError::new(&format!("{field}[{i}]"), "must be a string"))
        })
        .collect::<Result<_>>()
        .map(Some)
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

fn checked_string(field: &str, s: &str, max: usize) -> Result<String> {
    if s.trim().is_empty() {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    // Characters, as JSON Schema's maxLength counts them (the OpenAPI
    // document states these limits).
    let chars = s.chars().count();
    if chars > max {
        return Err(ValidationError::new(
            field,
            format!("is {chars} characters (limit {max})"),
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

fn checked_name(field: &str, s: &str) -> Result<String> {
    let s = checked_string(field, s, MAX_ID)?;
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

fn checked_list(field: &str, items: Option<Vec<String>>, names: bool) -> Result<Vec<String>> {
    let items = items.unwrap_or_default();
    if items.len() > MAX_LIST {
        return Err(ValidationError::new(
            field,
            format!("has {} items (limit {MAX_LIST})", items.len()),
        ));
    }
    for (i, s) in items.iter().enumerate() {
        // The item's path is only spelled out for an error.
        let at = || format!("{field}[{i}]");
        let chars = s.chars().count();
        if chars > MAX_TEXT {
            return Err(ValidationError::new(
                &at(),
                format!("is {chars} characters (limit {MAX_TEXT})"),
            ));
        }
        if names && !validate_name(s) {
            return Err(ValidationError::new(
                &at(),
                format!("{s:?} is not a safe module name"),
            ));
        }
    }
    Ok(items)
}

fn checked_metadata(metadata: Option<Map<String, Value>>) -> Result<Map<String, Value>> {
    let m = metadata.unwrap_or_default();
    if m.len() > MAX_METADATA_KEYS {
        return Err(ValidationError::new(
            "metadata",
            format!("has {} keys (limit {MAX_METADATA_KEYS})", m.len()),
        ));
    }
    let size = serde_json::to_vec(&m).map_or(usize::MAX, |v| v.len());
    if size > MAX_METADATA_BYTES {
        return Err(ValidationError::new(
            "metadata",
            format!("is {size} bytes (limit {MAX_METADATA_BYTES})"),
        ));
    }
    Ok(m)
}

/// Parses a timestamp and checks it is neither in the future (beyond clock
/// skew) nor too old to decide.
fn checked_timestamp(field: &str, s: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
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

/// A kill report's fields with the types the wire gives them, their values
/// not checked yet. Read in one pass straight from JSON text when every
/// field has its type (the common case, and the fast one), or from a
/// parsed `Value` field by field, so that a field of the wrong type is
/// named ([`RawKill::from_value`]). Either way [`RawKill::checked`] makes
/// the same checks, in the same order.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKill<'a> {
    #[serde(borrow)]
    kill_id: Cow<'a, str>,
    #[serde(borrow)]
    timestamp: Cow<'a, str>,
    #[serde(borrow)]
    target_module: Cow<'a, str>,
    #[serde(borrow)]
    target_instance_id: Cow<'a, str>,
    kill_reason: KillReason,
    severity: Severity,
    confidence_score: f64,
    #[serde(default)]
    evidence: Option<Vec<String>>,
    #[serde(default)]
    dependencies: Option<Vec<String>>,
    #[serde(borrow)]
    source_agent: Cow<'a, str>,
    #[serde(default)]
    metadata: Option<Map<String, Value>>,
}

impl<'a> RawKill<'a> {
    /// The fields of a kill report given as JSON, each of the right type.
    pub fn from_value(value: &'a Value) -> Result<Self> {
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
        let mut p = Problems::default();
        for unknown in obj.keys().filter(|k| !KNOWN.contains(&k.as_str())) {
            p.0.push(ValidationError::new(
                unknown,
                "is not a field of a kill report",
            ));
        }
        let kill_id = p.take(string_of(obj, "kill_id"));
        let timestamp = p.take(required(obj, "timestamp").and_then(|v| {
            v.as_str()
                .ok_or_else(|| ValidationError::new("timestamp", "must be an ISO-8601 string"))
        }));
        let target_module = p.take(string_of(obj, "target_module"));
        let target_instance_id = p.take(string_of(obj, "target_instance_id"));
        let kill_reason = p.take(enumeration(
            obj,
            "kill_reason",
            "threat_detected, anomaly_behavior, policy_violation, resource_exhaustion, dependency_cascade, manual_override",
        ));
        let severity = p.take(enumeration(
            obj,
            "severity",
            "critical, high, medium, low, info",
        ));
        let confidence_score = p.take(required(obj, "confidence_score").and_then(|v| {
            v.as_f64()
                .ok_or_else(|| ValidationError::new("confidence_score", "must be a number"))
        }));
        let evidence = p.take(list_of(obj, "evidence"));
        let dependencies = p.take(list_of(obj, "dependencies"));
        let source_agent = p.take(string_of(obj, "source_agent"));
        let metadata = p.take(match obj.get("metadata") {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m.clone())),
            Some(_) => Err(ValidationError::new("metadata", "must be a JSON object")),
        });
        match (
            p.0.is_empty(),
            kill_id,
            timestamp,
            target_module,
            target_instance_id,
            kill_reason,
            severity,
            confidence_score,
            evidence,
            dependencies,
            source_agent,
            metadata,
        ) {
            (
                true,
                Some(kill_id),
                Some(timestamp),
                Some(target_module),
                Some(target_instance_id),
                Some(kill_reason),
                Some(severity),
                Some(confidence_score),
                Some(evidence),
                Some(dependencies),
                Some(source_agent),
                Some(metadata),
            ) => Ok(RawKill {
                kill_id: Cow::Borrowed(kill_id),
                timestamp: Cow::Borrowed(timestamp),
                target_module: Cow::Borrowed(target_module),
                target_instance_id: Cow::Borrowed(target_instance_id),
                kill_reason,
                severity,
                confidence_score,
                evidence,
                dependencies,
                source_agent: Cow::Borrowed(source_agent),
                metadata,
            }),
            _ => Err(p.error()),
        }
    }

    /// The kill report, every value checked, at time `now`.
    pub fn checked(self, now: DateTime<Utc>) -> Result<KillReport> {
        let mut p = Problems::default();
        let kill_id = p.take(checked_name("kill_id", &self.kill_id));
        let timestamp = p.take(checked_timestamp("timestamp", &self.timestamp, now));
        let target_module = p.take(checked_name("target_module", &self.target_module));
        let target_instance_id =
            p.take(checked_name("target_instance_id", &self.target_instance_id));
        let confidence_score = self.confidence_score;
        p.take(if (0.0..=1.0).contains(&confidence_score) {
            Ok(())
        } else {
            Err(ValidationError::new(
                "confidence_score",
                format!("{confidence_score} is outside [0, 1]"),
            ))
        });
        let evidence = p.take(checked_list("evidence", self.evidence, false));
        let dependencies = p.take(checked_list("dependencies", self.dependencies, true));
        let source_agent = p.take(checked_string("source_agent", &self.source_agent, MAX_ID));
        let metadata = p.take(checked_metadata(self.metadata));
        match (
            p.0.is_empty(),
            kill_id,
            timestamp,
            target_module,
            target_instance_id,
            evidence,
            dependencies,
            source_agent,
            metadata,
        ) {
            (
                true,
                Some(kill_id),
                Some(timestamp),
                Some(target_module),
                Some(target_instance_id),
                Some(evidence),
                Some(dependencies),
                Some(source_agent),
                Some(metadata),
            ) => Ok(KillReport {
                kill_id,
                timestamp,
                target_module,
                target_instance_id,
                kill_reason: self.kill_reason,
                severity: self.severity,
                confidence_score,
                evidence,
                dependencies,
                source_agent,
                metadata,
            }),
            _ => Err(p.error()),
        }
    }
}

/// Validates a kill report given as JSON, at time `now`.
pub fn kill_report(value: &Value, now: DateTime<Utc>) -> Result<KillReport> {
    RawKill::from_value(value)?.checked(now)
}

/// Parses and validates a kill report's JSON text: the outer error is text
/// that is not JSON at all.
pub fn kill_report_text(
    text: &str,
    now: DateTime<Utc>,
) -> std::result::Result<Result<KillReport>, serde_json::Error> {
    if let Ok(raw) = serde_json::from_str::<RawKill>(text) {
        return Ok(raw.checked(now));
    }
    let value: Value = serde_json::from_str(text)?;
    Ok(kill_report(&value, now))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let now = DateTime::parse_from_rfc3339("2024-01-15T11:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut k = good();
        k["kill_id"] = json!("../etc");
        k["confidence_score"] = json!(7);
        k["timestamp"] = json!("yesterday");
        let e = kill_report(&k, now).unwrap_err();
        let fields: Vec<&str> = e.all().map(|(f, _)| f).collect();
        assert_eq!(fields, ["kill_id", "timestamp", "confidence_score"], "{e}");
        // Fields of the wrong type, and unknown ones, all at once too.
        let mut k = good();
        k["severity"] = json!(3);
        k["evidence"] = json!("one");
        k["colour"] = json!("red");
        let e = kill_report(&k, now).unwrap_err();
        let mut fields: Vec<&str> = e.all().map(|(f, _)| f).collect();
        fields.sort_unstable();
        assert_eq!(fields, ["colour", "evidence", "severity"], "{e}");
        assert!(e.to_string().contains("; "), "{e}");
        // Under a prefix, each keeps its own path.
        let e = e.within("payload");
        assert!(e.all().all(|(f, _)| f.starts_with("payload.")), "{e}");
        // An element of an array joins without a dot.
        assert_eq!(field_within("data", "[0].k"), "data[0].k");
        assert_eq!(field_within("data", "kill_id"), "data.kill_id");
        assert_eq!(field_within("", "[0].k"), "[0].k");
    }

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
