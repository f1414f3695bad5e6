//! The wire formats of a kill (ARCHITECTURE "Wire formats";
//! docs/reference/protocols.md#the-kill-envelope): the envelope (or a bare
//! kill report) as JSON in the entry field `data`; a `payload` field holding
//! the kill report's JSON; or the kill report's own fields as entry fields
//! (lists and maps JSON-encoded). Over HTTP: an envelope or a bare kill
//! report.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::validate::{
    MAX_ID, MAX_MESSAGE_BYTES, RawKill, ValidationError, kill_report, kill_report_text,
    only_known_fields,
};
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

/// Passes a parsed kill whose `reply_to`, if any, is one of the streams the
/// operator allows (`smith.event_bus.reply_streams`); refuses it otherwise.
pub fn with_allowed_reply(
    parsed: Parsed,
    bus: &crate::config::raw::EventBusSection,
) -> Result<Parsed, ValidationError> {
    match &parsed.reply_to {
        Some(r) if !bus.reply_allowed(r) => Err(ValidationError::new(
            "reply_to",
            format!(
                "{r:?} is not a stream kills may be answered on (smith.event_bus.reply_streams: {})",
                bus.reply_streams.join(", ")
            ),
        )),
        _ => Ok(parsed),
    }
}

/// An envelope's optional identifier field: absent, null, or a string.
fn optional_str<'a>(
    o: &'a Map<String, Value>,
    field: &str,
) -> Result<Option<&'a str>, ValidationError> {
    match o.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(id_problem(field)),
    }
}

fn id_problem(field: &str) -> ValidationError {
    ValidationError::new(
        field,
        format!("must be a string of 1-{MAX_ID} printable characters"),
    )
}

fn checked_id(field: &str, id: Option<&str>) -> Result<Option<String>, ValidationError> {
    match id {
        None => Ok(None),
        Some(s) if !s.is_empty() && s.len() <= MAX_ID && !s.chars().any(char::is_control) => {
            Ok(Some(s.to_string()))
        }
        Some(_) => Err(id_problem(field)),
    }
}

/// An envelope's kill with its routing, checked in this order: the kill
/// (its problems named under `payload.`), `reply_to`, `correlation_id`.
fn enveloped(
    kill: Result<KillReport, ValidationError>,
    reply_to: Result<Option<&str>, ValidationError>,
    correlation_id: Result<Option<&str>, ValidationError>,
) -> Result<Parsed, ValidationError> {
    let kill = kill.map_err(|e| e.within("payload"))?;
    let reply_to = checked_id("reply_to", reply_to?)?;
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
        correlation_id: checked_id("correlation_id", correlation_id?)?,
        reply_to,
    })
}

/// An envelope whose every field has its type, read from JSON
/// text in one pass; anything else is read through `Value` by
/// [`from_json`], whose errors name the field.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEnvelope<'a> {
    #[serde(default, borrow)]
    version: Option<Cow<'a, str>>,
    #[serde(borrow)]
    message_type: Cow<'a, str>,
    #[serde(borrow)]
    payload: RawKill<'a>,
    #[serde(default, borrow)]
    correlation_id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    reply_to: Option<Cow<'a, str>>,
}

/// The typed reading of an envelope, when it applies: `None` sends the
/// text to [`from_json`].
fn typed(text: &str, now: DateTime<Utc>) -> Option<Result<Parsed, ValidationError>> {
    let env: RawEnvelope = serde_json::from_str(text).ok()?;
    if env.message_type != "KILL_REPORT" || !matches!(env.version.as_deref(), None | Some("1.0")) {
        return None;
    }
    Some(enveloped(
        env.payload.checked(now),
        Ok(env.reply_to.as_deref()),
        Ok(env.correlation_id.as_deref()),
    ))
}

/// Parses JSON that is either an envelope or a bare kill report.
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
    only_known_fields(o, &KNOWN, "the envelope")?;
    let payload = o
        .get("payload")
        .ok_or_else(|| ValidationError::new("payload", "is required"))?;
    enveloped(
        kill_report(payload, now),
        optional_str(o, "reply_to"),
        optional_str(o, "correlation_id"),
    )
}

/// Parses JSON text, checking its size first.
pub fn from_text(text: &str, now: DateTime<Utc>) -> Result<Parsed, ValidationError> {
    if text.len() > MAX_MESSAGE_BYTES {
        return Err(ValidationError::new(
            "message",
            format!("is {} bytes (limit {MAX_MESSAGE_BYTES})", text.len()),
        ));
    }
    refuse_duplicate_keys("", text)?;
    if let Some(parsed) = typed(text, now) {
        return parsed;
    }
    let value: Value = serde_json::from_str(text)
        .map_err(|e| ValidationError::new("message", format!("not valid JSON: {e}")))?;
    from_json(&value, now)
}

/// Refuses JSON text in which one object names a key twice (`within`: the
/// field the text came in, prefixed to the key's path).
pub fn refuse_duplicate_keys(within: &str, text: &str) -> Result<(), ValidationError> {
    match super::duplicate_keys::duplicate_key(text) {
        None => Ok(()),
        Some(path) => {
            let field = super::validate::field_within(within, &path);
            Err(ValidationError::new(
                &field,
                "appears twice in one JSON object: ambiguous, refused",
            ))
        }
    }
}

/// The entry fields that say which shape an entry has: exactly one of them
/// may be present.
const SHAPES: [&str; 3] = ["data", "payload", "kill_id"];

/// Refuses an entry that names a field twice, or that has more than one
/// shape (`data` with `payload`, say): which one is meant would be a guess.
fn refuse_ambiguous_entry(fields: &[(String, String)]) -> Result<(), ValidationError> {
    for (i, (k, _)) in fields.iter().enumerate() {
        if fields[..i].iter().any(|(seen, _)| seen == k) {
            return Err(ValidationError::new(
                k,
                "appears twice in the entry: ambiguous, refused",
            ));
        }
    }
    let shapes: Vec<&str> = SHAPES
        .into_iter()
        .filter(|s| fields.iter().any(|(k, _)| k == s))
        .collect();
    if shapes.len() > 1 {
        return Err(ValidationError::new(
            "entry",
            format!(
                "has the fields {} together: one of data, payload or kill_id says what the entry is; ambiguous, refused",
                shapes.join(" and ")
            ),
        ));
    }
    Ok(())
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
    refuse_ambiguous_entry(fields)?;
    let get = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if let Some(data) = get("data") {
        return from_text(data, now).map_err(|e| e.within("data"));
    }
    if let Some(payload) = get("payload") {
        refuse_duplicate_keys("payload", payload)?;
        let kill = kill_report_text(payload, now)
            .map_err(|e| ValidationError::new("payload", format!("not valid JSON: {e}")))?
            .map_err(|e| e.within("payload"))?;
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
            refuse_duplicate_keys(k, v)?;
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

    /// The envelope with `edit` applied to it, as text.
    fn envelope_with(edit: impl FnOnce(&mut Value)) -> String {
        let mut env = json!({"version": "1.0", "message_type": "KILL_REPORT", "payload": kill(),
                             "correlation_id": "c-1", "reply_to": "medic.responses.smith-02"});
        edit(&mut env);
        env.to_string()
    }

    #[test]
    fn the_one_pass_reading_answers_as_the_field_by_field_one_does() {
        // Every field of the right type: read in one pass, and the checks
        // of values give the same answer as reading through `Value`.
        let typed_cases: Vec<String> = vec![
            envelope_with(|_| {}),
            envelope_with(|e| e["payload"]["target_module"] = json!("svc; rm -rf /")),
            envelope_with(|e| e["payload"]["kill_id"] = json!("  ")),
            envelope_with(|e| e["payload"]["confidence_score"] = json!(1.2)),
            envelope_with(|e| e["payload"]["confidence_score"] = json!(1)),
            envelope_with(|e| e["payload"]["timestamp"] = json!("2030-01-01T00:00:00Z")),
            envelope_with(|e| e["payload"]["timestamp"] = json!("yesterday")),
            envelope_with(|e| e["payload"]["evidence"] = json!(vec!["x"; 65])),
            envelope_with(|e| e["payload"]["dependencies"] = json!(["ok", "../etc"])),
            envelope_with(|e| e["payload"]["dependencies"] = Value::Null),
            envelope_with(|e| e["payload"]["metadata"] = json!({"blob": "x".repeat(20_000)})),
            envelope_with(|e| e["payload"]["metadata"] = json!({"region": "eu"})),
            envelope_with(|e| e["payload"]["source_agent"] = json!("a\u{7}b")),
            envelope_with(|e| e["reply_to"] = json!("smith.commands")),
            envelope_with(|e| e["correlation_id"] = json!("")),
            envelope_with(|e| e["correlation_id"] = Value::Null),
            envelope_with(|e| {
                e.as_object_mut().unwrap().remove("version");
            }),
        ];
        // A field of the wrong type, a field too many, another message
        // type: only the field-by-field reading can name the problem.
        let value_cases: Vec<String> = vec![
            envelope_with(|e| e["payload"]["severity"] = json!("apocalyptic")),
            envelope_with(|e| e["payload"]["confidence_score"] = json!("high")),
            envelope_with(|e| e["payload"]["evidence"] = json!([1])),
            envelope_with(|e| e["payload"]["metadata"] = json!([])),
            envelope_with(|e| {
                e["payload"].as_object_mut().unwrap().remove("kill_id");
            }),
            envelope_with(|e| e["payload"]["surprise"] = json!(1)),
            envelope_with(|e| e["surprise"] = json!(1)),
            envelope_with(|e| e["reply_to"] = json!(7)),
            envelope_with(|e| e["message_type"] = json!("HEARTBEAT")),
            envelope_with(|e| e["version"] = json!("2.0")),
            kill().to_string(),
        ];
        for (text, one_pass) in typed_cases
            .iter()
            .map(|t| (t, true))
            .chain(value_cases.iter().map(|t| (t, false)))
        {
            assert_eq!(typed(text, now()).is_some(), one_pass, "{text}");
            let value: Value = serde_json::from_str(text).unwrap();
            assert_eq!(from_text(text, now()), from_json(&value, now()), "{text}");
        }
        // Both kinds of case include refusals, and the good envelope is
        // read whole.
        let good = from_text(&typed_cases[0], now()).unwrap();
        assert_eq!(good.kill.kill_id, "k-1");
        assert_eq!(good.correlation_id.as_deref(), Some("c-1"));
        assert_eq!(good.reply_to.as_deref(), Some("medic.responses.smith-02"));
        for (cases, refused) in [(&typed_cases, 11), (&value_cases, 10)] {
            let n = cases
                .iter()
                .filter(|t| from_text(t, now()).is_err())
                .count();
            assert_eq!(n, refused);
        }
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

    #[test]
    fn ambiguous_entries_and_json_are_refused_naming_the_field() {
        let k = kill().to_string();
        let env = envelope_with(|_| {});
        let refused = |fields: &[(&str, &str)]| {
            let fields: Vec<(String, String)> = fields
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect();
            from_stream_fields(&fields, now()).unwrap_err()
        };
        // A field twice, or two shapes at once.
        let e = refused(&[("data", &env), ("data", &env)]);
        assert_eq!(e.field, "data");
        assert!(e.problem.contains("twice"), "{e}");
        let e = refused(&[("data", &env), ("payload", &k)]);
        assert_eq!(e.field, "entry");
        assert!(e.problem.contains("data and payload"), "{e}");
        // A key twice in the JSON of any shape, named by its path.
        let twice = k.replacen(
            "\"kill_id\":\"k-1\"",
            "\"kill_id\":\"k-1\",\"kill_id\":\"k-2\"",
            1,
        );
        assert_ne!(twice, k);
        assert_eq!(refused(&[("payload", &twice)]).field, "payload.kill_id");
        let env_twice = format!(r#"{{"message_type":"KILL_REPORT","payload":{twice}}}"#);
        assert_eq!(
            refused(&[("data", &env_twice)]).field,
            "data.payload.kill_id"
        );
        assert_eq!(from_text(&twice, now()).unwrap_err().field, "kill_id");
        // Inside an array, the element's index follows its field's name.
        let in_array = format!("[{twice}]");
        assert_eq!(refused(&[("data", &in_array)]).field, "data[0].kill_id");
        assert_eq!(
            refused(&[("payload", &in_array)]).field,
            "payload[0].kill_id"
        );
        let mut fields: Vec<(&str, &str)> = vec![
            ("kill_id", "k-1"),
            ("timestamp", "2024-01-15T10:30:00Z"),
            ("target_module", "svc"),
            ("target_instance_id", "svc-1"),
            ("kill_reason", "anomaly_behavior"),
            ("severity", "low"),
            ("confidence_score", "0.5"),
            ("source_agent", "smith-01"),
        ];
        fields.push(("metadata", r#"{"region":"a","region":"b"}"#));
        assert_eq!(refused(&fields).field, "metadata.region");
    }
}
