//! Resurrection requests over HTTP (spec §9.1 `/resurrections`): read for
//! viewers; a rollback of one being monitored for approvers.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::{Value, json};

use super::params::body;
use super::queue::{ListQuery, acting};
use super::{ApiError, AppState, envelope};
use crate::config::raw::Role;
use crate::model::ResurrectionRequest;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RollbackBody {
    #[serde(default)]
    reason: String,
}

pub async fn rollback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let caller = state.keys.check(&headers, Role::Approver)?;
    let b: RollbackBody = body(&bytes)?;
    if b.reason.trim().is_empty() {
        return Err(ApiError::Invalid {
            field: "reason".into(),
            problem: "a rollback needs a reason".into(),
        });
    }
    let a = acting(&state)?;
    find(&state, &id)?;
    a.rollback(&id, &b.reason, &caller.name)
        .map_err(ApiError::Conflict)?;
    Ok(Json(envelope(
        json!({"request_id": id, "rollback": "requested"}),
    )))
}

pub async fn requests(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    state.keys.check(&headers, Role::Viewer)?;
    let limit = q.limit();
    Ok(Json(envelope(state.decider.store.requests(limit)?)))
}

/// A stored request, or 404 naming it.
fn find(state: &AppState, id: &str) -> Result<ResurrectionRequest, ApiError> {
    state
        .decider
        .store
        .request(id)?
        .ok_or_else(|| ApiError::NotFound(format!("resurrection request {id}")))
}

pub async fn request(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    state.keys.check(&headers, Role::Viewer)?;
    Ok(Json(envelope(find(&state, &id)?)))
}

pub async fn request_status(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    state.keys.check(&headers, Role::Viewer)?;
    let r = find(&state, &id)?;
    Ok(Json(envelope(
        json!({"request_id": r.request_id, "status": r.status, "state": r.state}),
    )))
}
