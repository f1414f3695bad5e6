//! `POST /api/v1/kills`: one kill (an envelope or a bare report) or a batch
//! (a JSON array). Each valid kill is decided and stored durably before the
//! answer; each invalid one is answered with the field and the problem.

use axum::Json;
use axum::extract::State;
use chrono::Utc;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::envelope::{Envelope, ErrorDetail, ErrorEnvelope};
use super::params::invalid;
use super::role::Ingest;
use super::{ApiError, AppState};
use crate::decide::{Handled, Incoming};
use crate::ingest::envelope::{from_json, refuse_duplicate_keys, with_allowed_reply};
use crate::ingest::validate::ValidationError;
use crate::model::{Decision, KillReport};

/// The most kills one request may carry.
pub const MAX_BATCH: usize = 1000;

/// One kill report, or a batch of up to 1000.
/// (The handler reads the body as JSON itself, to name each bad field and
/// accept the event envelope too; this type describes it.)
#[allow(dead_code)]
#[derive(serde::Deserialize, ToSchema)]
#[serde(untagged)]
pub enum KillsBody {
    One(KillReport),
    /// Up to 1000 items, each checked on its own: an invalid one is answered in its
    /// place with `status: invalid`, and the others are decided.
    Batch(Vec<serde_json::Value>),
}

/// What became of one kill.
#[derive(Debug, Serialize, ToSchema)]
pub struct KillResult {
    /// Its place in the request (0 for a single kill).
    pub index: usize,
    /// `decided`, `duplicate` (decided before: the earlier decision),
    /// `conflict` (its kill_id was decided before for a different kill: not
    /// decided, dead-lettered; a single one is a 409) or `invalid` (in a
    /// batch; a single invalid kill is a 422).
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorDetail>,
}

/// A result for a single kill; a list, in order, for a batch.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum KillsAnswer {
    One(Box<KillResult>),
    Batch(Vec<KillResult>),
}

#[utoipa::path(post, path = "/api/v1/kills", tag = "kills",
    request_body(content = KillsBody, description = "A kill report (bare or in its event envelope) or a JSON array of them"),
    responses((status = 200, description = "Each kill decided and stored before this answer", body = Envelope<KillsAnswer>),
              (status = 409, description = "A single kill whose kill_id was decided before for a different kill (not decided; dead-lettered)", body = ErrorEnvelope),
              (status = 413, description = "The body is over 2 MiB", body = ErrorEnvelope),
              (status = 422, description = "Not JSON, too many kills, a single kill that is invalid (the field named), or a batch whose every kill is invalid", body = ErrorEnvelope)))]
pub async fn ingest(
    State(state): State<AppState>,
    Ingest(caller): Ingest,
    body: axum::body::Bytes,
) -> Result<Json<Envelope<KillsAnswer>>, ApiError> {
    let text = std::str::from_utf8(&body).map_err(|e| {
        invalid(
            "body",
            format!(
                "is not valid UTF-8 text (from byte {}): refused, not guessed at",
                e.valid_up_to()
            ),
        )
    })?;
    refuse_duplicate_keys("", text).map_err(|e| invalid(&e.field, e.problem))?;
    let value: Value =
        serde_json::from_str(text).map_err(|e| invalid("body", format!("not valid JSON: {e}")))?;
    let (items, batch) = match value {
        Value::Array(items) => (items, true),
        single => (vec![single], false),
    };
    if items.len() > MAX_BATCH {
        return Err(invalid(
            "body",
            format!("{} kills (limit {MAX_BATCH})", items.len()),
        ));
    }
    let now = Utc::now();
    let decider = &state.engine.decider;
    let bus = &decider.config.medic.smith.event_bus;
    let mut results = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        // Every kill that arrives, whatever becomes of it.
        decider.metrics.kills_received.inc();
        match from_json(item, now).and_then(|p| with_allowed_reply(p, bus)) {
            Err(e) => {
                decider.reject("http", None, &caller.name, &e, &item.to_string())?;
                if !batch {
                    decider.store.flush().await?;
                    return Err(ApiError::InvalidKill(e));
                }
                results.push(KillResult {
                    index,
                    status: "invalid",
                    decision: None,
                    error: Some(ErrorDetail::from(&ApiError::InvalidKill(e))),
                });
            }
            Ok(parsed) => {
                let reply_to = parsed.reply_to.clone();
                let handled = decider.handle(Incoming::new(parsed, "http")).await?;
                if let Handled::Conflict(_, why) = &handled {
                    let e = ValidationError::new("kill_id", why.clone());
                    decider.reject("http", None, &caller.name, &e, &item.to_string())?;
                    let refused = ApiError::Conflict(e.to_string());
                    if !batch {
                        decider.store.flush().await?;
                        return Err(refused);
                    }
                    results.push(KillResult {
                        index,
                        status: "conflict",
                        decision: None,
                        error: Some(ErrorDetail::from(&refused)),
                    });
                    continue;
                }
                let status = match &handled {
                    Handled::Decided(..) => "decided",
                    _ => "duplicate",
                };
                // Its response to Smith waits in the outbox, made durable
                // with the decision below, until Redis has it.
                state
                    .publisher
                    .enqueue(handled.decision(), reply_to.as_deref())?;
                results.push(KillResult {
                    index,
                    status,
                    decision: Some(handled.decision().clone()),
                    error: None,
                });
            }
        }
    }
    // Durable before answered.
    decider.store.flush().await?;
    // A batch with nothing in it that could be taken is refused as a whole,
    // never answered as a success.
    if batch && !results.is_empty() && results.iter().all(|r| r.status == "invalid") {
        let first = results
            .iter()
            .find_map(|r| r.error.as_ref())
            .map(|e| format!("{}: {}", e.field.as_deref().unwrap_or("body"), e.message))
            .unwrap_or_default();
        return Err(invalid(
            "body",
            format!(
                "every one of the {} kills is invalid (each was dead-lettered); item 0: {first}",
                results.len()
            ),
        ));
    }
    state.publisher.wake();
    let answer = match (batch, results.pop()) {
        (false, Some(one)) => KillsAnswer::One(Box::new(one)),
        (_, last) => {
            results.extend(last);
            KillsAnswer::Batch(results)
        }
    };
    Ok(Json(Envelope::new(answer)))
}
