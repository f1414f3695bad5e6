//! `POST /api/v1/kills`: one kill (an envelope or a bare report) or a batch
//! (a JSON array). Each valid kill is decided and stored durably before the
//! answer; each invalid one is answered with the field and the problem.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use chrono::Utc;
use serde_json::{Value, json};

use super::{ApiError, AppState, envelope};
use crate::config::raw::Role;
use crate::decide::Incoming;
use crate::ingest::envelope::from_json;

/// The most kills one request may carry.
pub const MAX_BATCH: usize = 1000;

pub async fn ingest(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let caller = state.keys.check(&headers, Role::Ingest)?;
    let value: Value = serde_json::from_slice(&body).map_err(|e| ApiError::Invalid {
        field: "body".into(),
        problem: format!("not valid JSON: {e}"),
    })?;
    let (items, batch) = match value {
        Value::Array(items) => (items, true),
        single => (vec![single], false),
    };
    if items.len() > MAX_BATCH {
        return Err(ApiError::Invalid {
            field: "body".into(),
            problem: format!("{} kills (limit {MAX_BATCH})", items.len()),
        });
    }
    let now = Utc::now();
    let decider = &state.decider;
    let mut results = Vec::with_capacity(items.len());
    let mut decided = Vec::new();
    for (n, item) in items.iter().enumerate() {
        match from_json(item, now) {
            Err(e) => {
                decider.reject("http", None, &caller.name, &e, &item.to_string())?;
                if !batch {
                    decider.store.flush().await?;
                    return Err(ApiError::Invalid {
                        field: e.field,
                        problem: e.problem,
                    });
                }
                results.push(json!({"index": n, "status": "invalid", "error": {"field": e.field, "message": e.problem}}));
            }
            Ok(parsed) => {
                let reply_to = parsed.reply_to.clone();
                let handled = decider.handle(Incoming::new(parsed, "http")).await?;
                let status = match &handled {
                    crate::decide::Handled::Decided(_) => "decided",
                    crate::decide::Handled::Duplicate(_) => "duplicate",
                };
                results.push(json!({"index": n, "status": status, "decision": handled.decision()}));
                decided.push((handled, reply_to));
            }
        }
    }
    // Durable before answered.
    decider.store.flush().await?;
    for (handled, reply_to) in &decided {
        state
            .publisher
            .publish(&[handled.decision()], reply_to.as_deref())
            .await;
    }
    Ok(Json(envelope(if batch {
        Value::Array(results)
    } else {
        results.pop().unwrap_or(Value::Null)
    })))
}
