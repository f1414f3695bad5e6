//! Publishing to Redis: each decision goes to `medic.responses` (or the
//! envelope's `reply_to`) with the kill's correlation id; resurrection events
//! go to `medic.events` (docs/reference/protocols.md).

use redis::aio::ConnectionManager;

use crate::model::Decision;

/// An XADD to `stream`, capped at about a million entries.
fn capped_xadd(stream: &str) -> redis::Cmd {
    let mut cmd = redis::cmd("XADD");
    cmd.arg(stream)
        .arg("MAXLEN")
        .arg("~")
        .arg(1_000_000)
        .arg("*");
    cmd
}

/// Adds one decision's XADD to a pipeline (so it goes with its ack).
pub fn add_response(pipe: &mut redis::Pipeline, stream: &str, decision: &Decision) {
    let data = serde_json::to_string(decision).unwrap_or_default();
    pipe.add_command(encoded_response(stream, decision, &data))
        .ignore();
}

/// One decision's XADD, with the decision's JSON (`data`) already made.
pub fn encoded_response(stream: &str, decision: &Decision, data: &str) -> redis::Cmd {
    let mut cmd = capped_xadd(stream);
    cmd.arg("data")
        .arg(data)
        .arg("kill_id")
        .arg(&decision.kill_id)
        .arg("decision_id")
        .arg(&decision.decision_id)
        .arg("correlation_id")
        .arg(decision.correlation_id.as_deref().unwrap_or(""));
    cmd
}

/// Publishes decisions made outside the stream consumer (HTTP ingest) when
/// Medic is connected to Redis.
#[derive(Clone)]
pub struct Publisher {
    conn: Option<ConnectionManager>,
    stream: String,
}

impl Publisher {
    pub fn none() -> Self {
        Publisher {
            conn: None,
            stream: String::new(),
        }
    }

    pub fn redis(conn: ConnectionManager, stream: &str) -> Self {
        Publisher {
            conn: Some(conn),
            stream: stream.to_string(),
        }
    }

    pub async fn publish(&self, decisions: &[&Decision], reply_to: Option<&str>) {
        let Some(conn) = &self.conn else { return };
        let mut pipe = redis::pipe();
        for d in decisions {
            add_response(&mut pipe, reply_to.unwrap_or(&self.stream), d);
        }
        let mut conn = conn.clone();
        if let Err(e) = pipe.query_async::<()>(&mut conn).await {
            tracing::error!(error = %e, "Publishing decisions to Redis failed");
        }
    }
}

impl Publisher {
    /// Publishes one resurrection event to `stream`; a failure is logged,
    /// never fatal (the store holds every event's facts).
    pub async fn event(&self, stream: &str, event: &serde_json::Value) {
        let Some(conn) = &self.conn else { return };
        let mut conn = conn.clone();
        let kind = event
            .get("event_type")
            .and_then(|v| v.as_str())
            .unwrap_or_default();
        let request_id = event
            .get("request_id")
            .and_then(|v| v.as_str())
            .unwrap_or_default();
        let sent: redis::RedisResult<String> = capped_xadd(stream)
            .arg("data")
            .arg(event.to_string())
            .arg("event_type")
            .arg(kind)
            .arg("request_id")
            .arg(request_id)
            .query_async(&mut conn)
            .await;
        if let Err(e) = sent {
            tracing::warn!(error = %e, request_id, event_type = kind, "Publishing an event to Redis failed");
        }
    }
}
