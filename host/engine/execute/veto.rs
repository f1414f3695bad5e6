//! The Smith veto protocol (docs/reference/protocols.md#smiths-veto): before
//! an automatic resurrection, a PRE_RESURRECTION_NOTICE goes to Smith on
//! `notice_topic`, and Medic waits up to `timeout_seconds` for a
//! RESURRECTION_VETO with the same request_id on `response_topic`. One reader
//! task serves every waiter.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use crate::config::raw::{EventBusSection, VetoSection};
use crate::model::{Decision, ResurrectionRequest};

/// Smith's answer (`RESURRECTION_VETO`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VetoResponse {
    pub message_type: String,
    pub request_id: String,
    pub decision: VetoDecision,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub new_evidence: Vec<serde_json::Value>,
    #[serde(default)]
    pub counter_proposal: serde_json::Value,
    #[serde(default)]
    pub timestamp: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VetoDecision {
    Approve,
    Veto,
    Defer,
}

/// What asking Smith came to.
#[derive(Clone, Debug, PartialEq)]
pub enum Answer {
    Smith(VetoResponse),
    /// No answer in time.
    Timeout,
    /// The notice could not be sent.
    Unavailable(String),
}

type Waiters = Arc<Mutex<HashMap<String, oneshot::Sender<VetoResponse>>>>;

pub struct VetoChannel {
    conn: redis::aio::ConnectionManager,
    notice_topic: String,
    timeout: Duration,
    waiters: Waiters,
    healthy: Arc<AtomicBool>,
}

impl VetoChannel {
    /// Connects and starts the reader of Smith's answers.
    pub async fn connect(
        bus: &EventBusSection,
        v: &VetoSection,
        stop: CancellationToken,
    ) -> Result<Arc<VetoChannel>, String> {
        let client = crate::event_bus::client(bus).map_err(|e| e.to_string())?;
        let conn = redis::aio::ConnectionManager::new(client.clone())
            .await
            .map_err(|e| e.to_string())?;
        let mut reader = client
            .get_multiplexed_async_connection()
            .await
            .map_err(|e| e.to_string())?;
        // Answers after now; an id, not `$`, so nothing slips between reads.
        let last: redis::streams::StreamRangeReply = reader
            .xrevrange_count(&v.response_topic, "+", "-", 1)
            .await
            .map_err(|e| e.to_string())?;
        let start = last
            .ids
            .first()
            .map_or_else(|| "0-0".to_string(), |e| e.id.clone());
        let waiters: Waiters = Arc::default();
        let healthy = Arc::new(AtomicBool::new(true));
        tokio::spawn(read_answers(
            reader,
            v.response_topic.clone(),
            start,
            waiters.clone(),
            healthy.clone(),
            stop,
        ));
        Ok(Arc::new(VetoChannel {
            conn,
            notice_topic: v.notice_topic.clone(),
            timeout: v.timeout,
            waiters,
            healthy,
        }))
    }

    /// Whether the answer reader is connected.
    pub fn healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    /// Sends the notice for `r` and waits for Smith's answer.
    pub async fn ask(&self, r: &ResurrectionRequest, d: &Decision) -> Answer {
        let (tx, rx) = oneshot::channel();
        self.waiters.lock().insert(r.request_id.clone(), tx);
        let factors: serde_json::Map<String, serde_json::Value> = d
            .risk_factors
            .iter()
            .map(|f| (f.name.clone(), json!(f.contribution)))
            .collect();
        let notice = json!({
            "message_type": "PRE_RESURRECTION_NOTICE",
            "request_id": r.request_id,
            "kill_id": r.kill_id,
            "target_module": r.target_module,
            "proposed_action": "resurrect",
            "risk_assessment": {"level": d.risk_level, "score": d.risk_score, "factors": factors},
            "timeout_seconds": self.timeout.as_secs(),
            "correlation_id": d.correlation_id.clone().unwrap_or_else(|| r.request_id.clone()),
        });
        let mut conn = self.conn.clone();
        let sent: Result<String, _> = conn
            .xadd(
                &self.notice_topic,
                "*",
                &[
                    ("data", notice.to_string()),
                    ("request_id", r.request_id.clone()),
                    ("kill_id", r.kill_id.clone()),
                ],
            )
            .await;
        let answer = match sent {
            Err(e) => Answer::Unavailable(e.to_string()),
            Ok(_) => match tokio::time::timeout(self.timeout, rx).await {
                Ok(Ok(resp)) => Answer::Smith(resp),
                _ => Answer::Timeout,
            },
        };
        self.waiters.lock().remove(&r.request_id);
        answer
    }
}

/// Parses one answer entry: the JSON in `data`.
pub fn parse_answer(fields: &HashMap<String, redis::Value>) -> Result<VetoResponse, String> {
    let data = fields
        .get("data")
        .ok_or("no `data` field")
        .and_then(|v| redis::from_redis_value::<String>(v).map_err(|_| "`data` is not a string"))?;
    let resp: VetoResponse =
        serde_json::from_str(&data).map_err(|e| format!("not a RESURRECTION_VETO: {e}"))?;
    if resp.message_type != "RESURRECTION_VETO" {
        return Err(format!(
            "message_type {:?} is not RESURRECTION_VETO",
            resp.message_type
        ));
    }
    Ok(resp)
}

async fn read_answers(
    mut conn: redis::aio::MultiplexedConnection,
    topic: String,
    mut last: String,
    waiters: Waiters,
    healthy: Arc<AtomicBool>,
    stop: CancellationToken,
) {
    let opts = redis::streams::StreamReadOptions::default()
        .block(500)
        .count(100);
    while !stop.is_cancelled() {
        let read: Result<redis::streams::StreamReadReply, _> =
            conn.xread_options(&[&topic], &[&last], &opts).await;
        match read {
            Err(e) => {
                healthy.store(false, Ordering::Relaxed);
                tracing::warn!(error = %e, topic, "Reading Smith's veto answers failed; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Ok(reply) => {
                healthy.store(true, Ordering::Relaxed);
                for key in reply.keys {
                    for entry in key.ids {
                        last = entry.id.clone();
                        match parse_answer(&entry.map) {
                            Ok(resp) => {
                                let waiter = waiters.lock().remove(&resp.request_id);
                                match waiter {
                                    Some(tx) => {
                                        let _ = tx.send(resp);
                                    }
                                    None => {
                                        tracing::warn!(request_id = %resp.request_id, "Veto answer for no waiting request (late or unknown)")
                                    }
                                }
                            }
                            Err(why) => {
                                tracing::warn!(entry_id = %entry.id, problem = %why, "Invalid veto answer ignored")
                            }
                        }
                    }
                }
            }
        }
    }
}
