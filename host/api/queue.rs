//! The approval queue over HTTP (`/api/v1/queue`): list and show for
//! viewers; approve and deny for approvers, recorded under the key's name.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::envelope::{Envelope, ErrorEnvelope};
use super::params::{ReasonBody, body, limit, query, required_body, text};
use super::role::{Approver, Viewer};
use super::{ApiError, AppState};
use crate::approve::{QueueError, QueueStats};
use crate::execute::Resurrector;
use crate::model::{QueueItem, ResurrectionRequest};

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
        .engine
        .acting
        .as_ref()
        .ok_or_else(|| ApiError::Conflict("this Medic does not act on decisions".into()))
}

/// Paging for the queue and the resurrection list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Decided items too (queue only): the newest `limit` items.
    #[serde(default)]
    pub all: bool,
    /// How many, 1 to 1000 (default 50).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

impl ListQuery {
    pub fn read(raw: Option<&str>) -> Result<(ListQuery, usize), ApiError> {
        let q: ListQuery = query(raw)?;
        let n = limit("limit", q.limit, 50)?;
        Ok((q, n))
    }
}

/// The queue's items and its counts.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueuePage {
    pub items: Vec<QueueItem>,
    pub stats: QueueStats,
}

#[utoipa::path(get, path = "/api/v1/queue", tag = "queue",
    params(ListQuery),
    responses((status = 200, description = "Pending items, oldest first; with `all=true`, the newest items of any status, oldest first", body = Envelope<QueuePage>),
              (status = 409, description = "This Medic does not act on decisions", body = ErrorEnvelope),
              (status = 422, description = "A parameter is wrong", body = ErrorEnvelope)))]
pub async fn list(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    _: Viewer,
) -> Result<Json<Envelope<QueuePage>>, ApiError> {
    let (q, limit) = ListQuery::read(raw.as_deref())?;
    let a = acting(&state)?;
    let items = if q.all {
        a.queue.list_all(limit)?
    } else {
        a.queue.list_pending(limit)?
    };
    let items = items.into_iter().map(|i| a.explain(i)).collect();
    let stats = a.queue.stats(chrono::Utc::now())?;
    Ok(Json(Envelope::new(QueuePage { items, stats })))
}

#[utoipa::path(get, path = "/api/v1/queue/{item_id}", tag = "queue",
    params(("item_id" = String, Path, description = "A queue item's id")),
    responses((status = 200, description = "The item, with its decision, reasoning and kill", body = Envelope<QueueItem>),
              (status = 404, description = "No such item", body = ErrorEnvelope),
              (status = 409, description = "This Medic does not act on decisions", body = ErrorEnvelope)))]
pub async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
    _: Viewer,
) -> Result<Json<Envelope<QueueItem>>, ApiError> {
    let a = acting(&state)?;
    let item = a
        .queue
        .get(&id)?
        .ok_or_else(|| ApiError::NotFound(format!("queue item {id}")))?;
    Ok(Json(Envelope::new(a.explain(item))))
}

/// An approval; the body may be empty.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveBody {
    /// Why, for the record (up to 4096 characters).
    #[serde(default)]
    #[schema(max_length = 4096)]
    notes: Option<String>,
}

/// The item as decided and the resurrection request it started.
#[derive(Debug, Serialize, ToSchema)]
pub struct Approved {
    pub item: QueueItem,
    pub request: ResurrectionRequest,
}

#[utoipa::path(post, path = "/api/v1/queue/{item_id}/approve", tag = "queue",
    params(("item_id" = String, Path, description = "A queue item's id")),
    request_body(content = Option<ApproveBody>, description = "Optional notes"),
    responses((status = 200, description = "Approved: the resurrection request runs", body = Envelope<Approved>),
              (status = 404, description = "No such item", body = ErrorEnvelope),
              (status = 409, description = "Already decided, or the module cannot be resurrected now", body = ErrorEnvelope),
              (status = 422, description = "The body is wrong", body = ErrorEnvelope)))]
pub async fn approve(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Approver(caller): Approver,
    bytes: axum::body::Bytes,
) -> Result<Json<Envelope<Approved>>, ApiError> {
    let b: ApproveBody = body(&bytes)?;
    text("notes", b.notes.as_deref().unwrap_or(""))?;
    let a = acting(&state)?;
    let (item, request) = a.approve(&id, &caller.name, b.notes.as_deref())?;
    state.engine.decider.store.flush().await?;
    Ok(Json(Envelope::new(Approved { item, request })))
}

#[utoipa::path(post, path = "/api/v1/queue/{item_id}/deny", tag = "queue",
    params(("item_id" = String, Path, description = "A queue item's id")),
    request_body(content = ReasonBody, description = "The reason"),
    responses((status = 200, description = "Denied: the module stays down", body = Envelope<QueueItem>),
              (status = 404, description = "No such item", body = ErrorEnvelope),
              (status = 409, description = "Already decided", body = ErrorEnvelope),
              (status = 422, description = "No reason, or the body is wrong", body = ErrorEnvelope)))]
pub async fn deny(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Approver(caller): Approver,
    bytes: axum::body::Bytes,
) -> Result<Json<Envelope<QueueItem>>, ApiError> {
    let b: ReasonBody = required_body(&bytes)?;
    text("reason", &b.reason)?;
    let item = acting(&state)?.deny(&id, &caller.name, &b.reason)?;
    state.engine.decider.store.flush().await?;
    Ok(Json(Envelope::new(item)))
}
