//! The wire formats of a kill (ARCHITECTURE "Wire formats"): the spec §4.1
//! envelope as JSON in the entry field `data`; a `payload` field holding the
//! kill report's JSON; or the kill report's own fields as entry fields (lists
//! and maps JSON-encoded). Over HTTP: an envelope or a bare kill report.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::validate::{MAX_ID, MAX_MESSAGE_BYTES, ValidationError, kill_report};
use crate::model::KillReport;

/// A validated kill with its envelope's routing.
#[derive(Clone, Debug, PartialEq)]
pub struct Parsed {
    pub kill: KillReport,
    pub correlation_id: Option<String>,
    pub reply_to: Option<String>,
}

/// Streams a kill's reply may be sent to: Medic's own namespace only, so a
/// message cannot make Medic write into another system's stream.
pub fn reply_stream_allowed(name: &str) -> bool {
    name.starts_with("medic.")
        && name.len() <= MAX_ID
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':'))
}

fn optional_id(o: &Map<String, Value>, field: &str) -> Result<Option<String>, ValidationError> {
    match o.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s))
            if !s.is_empty() && s.len() <= MAX_ID && !s.chars().any(char::is_control) =>
        {
            Ok(Some(s.clone()))
        }
        Some(_) => Err(ValidationError::new(
            field,
            format!("must be a string of 1-{MAX_ID} printable characters"),
        )),
    }
}

/// Parses JSON that is either a spec §4.1 envelope or a bare kill report.
pub fn from_json(value: &Value, now: DateTime<Utc>) -> Result<Parsed, ValidationError> {
    let o = value
        .as_object()
        .ok_or_else(|| ValidationError::new("message", "must be a JSON object"))?;
    if !o.contains_key("payload") && !o.contains_key("message_type") {
        return Ok(Parsed {
            kill: kill_report(value, now)?,
            correlation_id: None,
            reply_to: None,
        });
    }
    match o.get("message_type").and_then(Value::as_str) {
        Some("KILL_REPORT") => {}
        Some(other) => {
            return Err(ValidationError::new(
                "message_type",
                format!("{other:?} is not KILL_REPORT"),
            ));
        }
        None => {
            return Err(ValidationError::new(
                "message_type",
                "is required in an envelope",
            ));
        }
    }
    match o.get("version").and_then(Value::as_str) {
        Some("1.0") | None => {}
        Some(v) => {
            return Err(ValidationError::new(
                "version",
                format!("{v:?} is not a supported version (1.0)"),
            ));
        }
    }
    const KNOWN: [&str; 5] = [
        "version",
        "message_type",
        "payload",
        "correlation_id",
        "reply_to",
    ];
    if let Some(unknown) = o.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(ValidationError::new(
            unknown,
            "is not a field of the envelope",
        ));
    }
    let payload = o
        .get("payload")
        .ok_or_else(|| ValidationError::new("payload", "is required"))?;
    let kill = kill_report(payload, now)
        .map_err(|e| ValidationError::new(&format!("payload.{}", e.field), e.problem))?;
    let reply_to = optional_id(o, "reply_to")?;
    if let Some(r) = &reply_to
        && !reply_stream_allowed(r)
    {
        return Err(ValidationError::new(
            "reply_to",
            format!("{r:?} is not a medic.* stream name"),
        ));
    }
    Ok(Parsed {
        kill,
        correlation_id: optional_id(o, "correlation_id")?,
        reply_to,
    })
}

/// Parses JSON text, checking its size first.
pub fn from_text(text: &str, now: DateTime<Utc>) -> Result<Parsed, ValidationError> {
    if text.len() > MAX_MESSAGE_BYTES {
        return Err(ValidationError::new(
            "message",
            format!("is {} bytes (limit {MAX_MESSAGE_BYTES})", text.len()),
        ));
    }
    let value: Value = serde_json::from_str(text)
        .map_err(|e| ValidationError::new("message", format!("not valid JSON: {e}")))?;
    from_json(&value, now)
}

/// The kill report's fields that entry fields carry JSON-encoded.
const JSON_FIELDS: [&str; 3] = ["evidence", "dependencies", "metadata"];

/// Parses a Redis stream entry in any of the accepted shapes.
pub fn from_stream_fields(
    fields: &[(String, String)],
    now: DateTime<Utc>,
) -> Result<Parsed, ValidationError> {
    let size: usize = fields.iter().map(|(k, v)| k.len() + v.len()).sum();
    if size > MAX_MESSAGE_BYTES {
        return Err(ValidationError::new(
            "entry",
            format!("is {size} bytes (limit {MAX_MESSAGE_BYTES})"),
        ));
    }
    let get = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if let Some(data) = get("data") {
        return from_text(data, now)
            .map_err(|e| ValidationError::new(&format!("data.{}", e.field), e.problem));
    }
    if let Some(payload) = get("payload") {
        let value: Value = serde_json::from_str(payload)
            .map_err(|e| ValidationError::new("payload", format!("not valid JSON: {e}")))?;
        let kill = kill_report(&value, now)
            .map_err(|e| ValidationError::new(&format!("payload.{}", e.field), e.problem))?;
        return Ok(Parsed {
            kill,
            correlation_id: get("correlation_id").map(str::to_string),
            reply_to: None,
        });
    }
    if get("kill_id").is_none() {
        return Err(ValidationError::new(
            "entry",
            "has none of the fields data, payload or kill_id",
        ));
    }
    let mut o = Map::new();
    for (k, v) in fields {
        let value = if JSON_FIELDS.contains(&k.as_str()) {
            serde_json::from_str(v)
                .map_err(|e| ValidationError::new(k, format!("must be JSON-encoded: {e}")))?
        } else if k == "confidence_score" {
            let n: f64 = v
                .parse()
                .map_err(|_| ValidationError::new(k, format!("{v:?} is not a number")))?;
            serde_json::Number::from_f64(n)
                .map(Value::Number)
                .ok_or_else(|| ValidationError::new(k, "is not finite"))?
        } else {
            Value::String(v.clone())
        };
        o.insert(k.clone(), value);
    }
    Ok(Parsed {
        kill: kill_report(&Value::Object(o), now)?,
        correlation_id: None,
        reply_to: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn kill() -> Value {
        json!({"kill_id": "k-1", "timestamp": "2024-01-15T10:30:00Z", "target_module": "svc",
               "target_instance_id": "svc-1", "kill_reason": "anomaly_behavior", "severity": "low",
               "confidence_score": 0.5, "source_agent": "smith-01"})
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2024-01-15T11:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn all_three_stream_shapes_parse() {
        let env = json!({"version": "1.0", "message_type": "KILL_REPORT", "payload": kill(),
                         "correlation_id": "c-1", "reply_to": "medic.responses.smith-02"});
        let p = from_stream_fields(&[("data".into(), env.to_string())], now()).unwrap();
        assert_eq!(p.correlation_id.as_deref(), Some("c-1"));
        assert_eq!(p.reply_to.as_deref(), Some("medic.responses.smith-02"));
        let p = from_stream_fields(&[("payload".into(), kill().to_string())], now()).unwrap();
        assert_eq!(p.kill.kill_id, "k-1");
        let mut fields: Vec<(String, String)> = kill()
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().map_or(v.to_string(), str::to_string)))
            .collect();
        fields.push(("evidence".into(), "[\"e-1\"]".into()));
        let p = from_stream_fields(&fields, now()).unwrap();
        assert_eq!(p.kill.evidence, ["e-1"]);
    }

    #[test]
    fn bad_envelopes_name_the_field() {
        let env =
            json!({"message_type": "KILL_REPORT", "payload": kill(), "reply_to": "smith.commands"});
        assert_eq!(from_json(&env, now()).unwrap_err().field, "reply_to");
        let mut k = kill();
        k["severity"] = json!("bad");
        let env = json!({"message_type": "KILL_REPORT", "payload": k});
        assert_eq!(
            from_json(&env, now()).unwrap_err().field,
            "payload.severity"
        );
        let err = from_stream_fields(&[("data".into(), "{not json".into())], now()).unwrap_err();
        assert_eq!(err.field, "data.message");
        let err = from_stream_fields(&[("hello".into(), "world".into())], now()).unwrap_err();
        assert_eq!(err.field, "entry");
    }
}
