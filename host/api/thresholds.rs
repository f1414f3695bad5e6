//! Thresholds over HTTP (spec §9.1 `/config/thresholds`): the values in
//! force and their history for viewers; for admins, a manual change, a
//! learner run and a revert — each checked, recorded and audited.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::{Value, json};

use super::params::body;
use super::{ApiError, AppState, envelope};
use crate::config::raw::Role;
use crate::learn::{LearnError, ThresholdManager};
use crate::model::NamedValues;

impl From<LearnError> for ApiError {
    fn from(e: LearnError) -> Self {
        match e {
            LearnError::Invalid { field, problem } => ApiError::Invalid { field, problem },
            LearnError::NotFound(id) => ApiError::NotFound(format!("threshold change {id}")),
            LearnError::Store(s) => s.into(),
            other => ApiError::Conflict(other.to_string()),
        }
    }
}

fn manager(state: &AppState) -> Result<&std::sync::Arc<ThresholdManager>, ApiError> {
    state
        .decider
        .learning()
        .ok_or_else(|| ApiError::Conflict("this Medic does not manage thresholds".into()))
}

pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    state.keys.check(&headers, Role::Viewer)?;
    let (current, history) = manager(&state)?.snapshot()?;
    Ok(Json(envelope(
        json!({"current": *current, "history": history}),
    )))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetBody {
    #[serde(default)]
    values: NamedValues,
    #[serde(default)]
    reason: String,
}

pub async fn set(
    State(state): State<AppState>,
    headers: HeaderMap,
    bytes: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let caller = state.keys.check(&headers, Role::Admin)?;
    let b: SetBody = body(&bytes)?;
    let change = manager(&state)?.set(&b.values, &caller.name, &b.reason, chrono::Utc::now())?;
    state.decider.store.flush().await?;
    Ok(Json(envelope(change)))
}

pub async fn learn(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let caller = state.keys.check(&headers, Role::Admin)?;
    let m = manager(&state)?.clone();
    let name = caller.name.clone();
    let run = tokio::task::spawn_blocking(move || m.run(&name, chrono::Utc::now()))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    state.decider.store.flush().await?;
    Ok(Json(envelope(run)))
}

pub async fn revert(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let caller = state.keys.check(&headers, Role::Admin)?;
    let id: u64 = id.parse().map_err(|_| ApiError::Invalid {
        field: "id".into(),
        problem: format!("{id:?} is not a change number"),
    })?;
    let change = manager(&state)?.revert(id, &caller.name, chrono::Utc::now())?;
    state.decider.store.flush().await?;
    Ok(Json(envelope(change)))
}
