//! Resurrection requests over HTTP (`/api/v1/resurrections`): read for
//! viewers; a rollback of one being monitored for approvers.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use serde::Serialize;
use utoipa::ToSchema;

use super::envelope::{Envelope, ErrorEnvelope};
use super::params::{ReasonBody, invalid, required_body, text};
use super::queue::{ListQuery, acting};
use super::role::{Approver, Viewer};
use super::{ApiError, AppState};
use crate::model::{ResurrectionRequest, ResurrectionStatus, WorkflowState};

/// A rollback was asked of the workflow.
#[derive(Debug, Serialize, ToSchema)]
pub struct RollbackRequested {
    pub request_id: String,
    /// `requested`: this replica watches the request, and its workflow
    /// rolls back and records the outcome. `relayed`: another replica
    /// sharing the store watches it; that one rolls back within about two
    /// seconds (when it next stamps its requests).
    pub rollback: String,
}

#[utoipa::path(post, path = "/api/v1/resurrections/{request_id}/rollback", tag = "resurrections",
    params(("request_id" = String, Path, description = "A resurrection request's id")),
    request_body(content = ReasonBody, description = "The reason"),
    responses((status = 200, description = "The rollback was asked for", body = Envelope<RollbackRequested>),
              (status = 404, description = "No such request", body = ErrorEnvelope),
              (status = 409, description = "Not being monitored, or this Medic does not act", body = ErrorEnvelope),
              (status = 422, description = "No reason, or the body is wrong", body = ErrorEnvelope)))]
pub async fn rollback(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Approver(caller): Approver,
    bytes: axum::body::Bytes,
) -> Result<Json<Envelope<RollbackRequested>>, ApiError> {
    let b: ReasonBody = required_body(&bytes)?;
    if b.reason.trim().is_empty() {
        return Err(invalid("reason", "a rollback needs a reason".into()));
    }
    text("reason", &b.reason)?;
    let a = acting(&state)?;
    find(&state, &id)?;
    let how = a
        .rollback(&id, &b.reason, &caller.name)
        .map_err(ApiError::Conflict)?;
    Ok(Json(Envelope::new(RollbackRequested {
        request_id: id,
        rollback: how.into(),
    })))
}

#[utoipa::path(get, path = "/api/v1/resurrections", tag = "resurrections",
    params(ListQuery),
    responses((status = 200, description = "Resurrection requests, newest first", body = Envelope<Vec<ResurrectionRequest>>),
              (status = 422, description = "A parameter is wrong", body = ErrorEnvelope)))]
pub async fn requests(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    _: Viewer,
) -> Result<Json<Envelope<Vec<ResurrectionRequest>>>, ApiError> {
    let (_, limit) = ListQuery::read(raw.as_deref())?;
    Ok(Json(Envelope::new(
        state.engine.decider.store.requests(limit)?,
    )))
}

/// A stored request, or 404 naming it.
fn find(state: &AppState, id: &str) -> Result<ResurrectionRequest, ApiError> {
    state
        .engine
        .decider
        .store
        .request(id)?
        .ok_or_else(|| ApiError::NotFound(format!("resurrection request {id}")))
}

#[utoipa::path(get, path = "/api/v1/resurrections/{request_id}", tag = "resurrections",
    params(("request_id" = String, Path, description = "A resurrection request's id")),
    responses((status = 200, description = "The request with every state it went through", body = Envelope<ResurrectionRequest>),
              (status = 404, description = "No such request", body = ErrorEnvelope)))]
pub async fn request(
    State(state): State<AppState>,
    Path(id): Path<String>,
    _: Viewer,
) -> Result<Json<Envelope<ResurrectionRequest>>, ApiError> {
    Ok(Json(Envelope::new(find(&state, &id)?)))
}

/// Where a request stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct RequestStatus {
    pub request_id: String,
    pub status: ResurrectionStatus,
    pub state: WorkflowState,
}

#[utoipa::path(get, path = "/api/v1/resurrections/{request_id}/status", tag = "resurrections",
    params(("request_id" = String, Path, description = "A resurrection request's id")),
    responses((status = 200, description = "Its status and workflow state", body = Envelope<RequestStatus>),
              (status = 404, description = "No such request", body = ErrorEnvelope)))]
pub async fn request_status(
    State(state): State<AppState>,
    Path(id): Path<String>,
    _: Viewer,
) -> Result<Json<Envelope<RequestStatus>>, ApiError> {
    let r = find(&state, &id)?;
    Ok(Json(Envelope::new(RequestStatus {
        request_id: r.request_id,
        status: r.status,
        state: r.state,
    })))
}
