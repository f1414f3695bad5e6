//! The approval queue over HTTP (spec §9.1 `/queue`): list and show for
//! viewers; approve and deny for approvers, recorded under the key's name.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::{Value, json};

use super::params::body;
use super::{ApiError, AppState, envelope};
use crate::approve::QueueError;
use crate::config::raw::Role;
use crate::execute::Resurrector;

impl From<QueueError> for ApiError {
    fn from(e: QueueError) -> Self {
        match e {
            QueueError::NotFound(id) => ApiError::NotFound(format!("queue item {id}")),
            QueueError::Conflict { .. } | QueueError::Refused { .. } => {
                ApiError::Conflict(e.to_string())
            }
            QueueError::Full { .. } => ApiError::Conflict(e.to_string()),
            QueueError::Invalid { field, problem } => ApiError::Invalid { field, problem },
            QueueError::Store(s) => s.into(),
        }
    }
}

/// The engine's resurrector, or why there is none.
pub fn acting(state: &AppState) -> Result<&std::sync::Arc<Resurrector>, ApiError> {
    state
        .decider
        .acting()
        .ok_or_else(|| ApiError::Conflict("this Medic does not act on decisions".into()))
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    /// Decided items too.
    #[serde(default)]
    pub all: bool,
    #[serde(default)]
    pub limit: Option<usize>,
}

impl ListQuery {
    /// `limit`: 50 unless asked, never more than 1000.
    pub fn limit(&self) -> usize {
        self.limit.unwrap_or(50).min(1000)
    }
}

pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    state.keys.check(&headers, Role::Viewer)?;
    let a = acting(&state)?;
    let limit = q.limit();
    let items = if q.all {
        a.queue.list_all(limit)?
    } else {
        a.queue.list_pending(limit)?
    };
    let stats = a.queue.stats(chrono::Utc::now())?;
    Ok(Json(envelope(json!({"items": items, "stats": stats}))))
}

pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    state.keys.check(&headers, Role::Viewer)?;
    let item = acting(&state)?
        .queue
        .get(&id)?
        .ok_or_else(|| ApiError::NotFound(format!("queue item {id}")))?;
    Ok(Json(envelope(item)))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApproveBody {
    #[serde(default)]
    notes: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DenyBody {
    #[serde(default)]
    reason: String,
}

pub async fn approve(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let caller = state.keys.check(&headers, Role::Approver)?;
    let b: ApproveBody = body(&bytes)?;
    let a = acting(&state)?;
    let (item, request) = a.approve(&id, &caller.name, b.notes.as_deref())?;
    state.decider.store.flush().await?;
    Ok(Json(envelope(json!({"item": item, "request": request}))))
}

pub async fn deny(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let caller = state.keys.check(&headers, Role::Approver)?;
    let b: DenyBody = body(&bytes)?;
    let item = acting(&state)?.deny(&id, &caller.name, &b.reason)?;
    state.decider.store.flush().await?;
    Ok(Json(envelope(item)))
}
