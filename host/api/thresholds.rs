//! Thresholds over HTTP (`/api/v1/config/thresholds`): the values in
//! force and their history for viewers; for admins, a manual change, a
//! learner run and a revert — each checked, recorded and audited.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::envelope::{Envelope, ErrorEnvelope};
use super::params::{body, invalid, text};
use super::role::{Admin, Viewer};
use super::{ApiError, AppState};
use crate::learn::{LearnError, LearnRun, ThresholdManager};
use crate::model::NamedValues;
use crate::store::ThresholdChange;

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
        .engine
        .learning
        .as_ref()
        .ok_or_else(|| ApiError::Conflict("this Medic does not manage thresholds".into()))
}

/// The thresholds in force and every change that led there.
#[derive(Debug, Serialize, ToSchema)]
pub struct ThresholdsView {
    /// Threshold name → value.
    pub current: BTreeMap<String, f64>,
    pub history: Vec<ThresholdChange>,
}

#[utoipa::path(get, path = "/api/v1/config/thresholds", tag = "thresholds",
    responses((status = 200, description = "The values in force and their history", body = Envelope<ThresholdsView>),
              (status = 409, description = "This Medic does not manage thresholds", body = ErrorEnvelope)))]
pub async fn show(
    State(state): State<AppState>,
    _: Viewer,
) -> Result<Json<Envelope<ThresholdsView>>, ApiError> {
    let (current, history) = manager(&state)?.snapshot()?;
    Ok(Json(Envelope::new(ThresholdsView {
        current: (*current).clone(),
        history,
    })))
}

/// A manual change: the values to set (within their bounds) and why.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetBody {
    /// Threshold name → new value: names and bounds as `GET` shows them
    /// (the learning bounds of the configuration).
    #[schema(value_type = BTreeMap<String, f64>)]
    values: NamedValues,
    /// Why (required, up to 4096 characters).
    #[schema(max_length = 4096, pattern = "\\S")]
    reason: String,
}

#[utoipa::path(put, path = "/api/v1/config/thresholds", tag = "thresholds",
    request_body(content = SetBody, description = "The values and the reason"),
    responses((status = 200, description = "The change, as applied", body = Envelope<ThresholdChange>),
              (status = 409, description = "This Medic does not manage thresholds", body = ErrorEnvelope),
              (status = 422, description = "An unknown name, a value out of bounds, no reason", body = ErrorEnvelope)))]
pub async fn set(
    State(state): State<AppState>,
    Admin(caller): Admin,
    bytes: axum::body::Bytes,
) -> Result<Json<Envelope<ThresholdChange>>, ApiError> {
    let b: SetBody = body(&bytes)?;
    text("reason", &b.reason)?;
    let change = manager(&state)?.set(&b.values, &caller.name, &b.reason, chrono::Utc::now())?;
    state.engine.decider.store.flush().await?;
    Ok(Json(Envelope::new(change)))
}

#[utoipa::path(post, path = "/api/v1/config/thresholds/learn", tag = "thresholds",
    responses((status = 200, description = "What the learner run did (its change, if any)", body = Envelope<LearnRun>),
              (status = 409, description = "This Medic does not manage thresholds, or the learner failed", body = ErrorEnvelope)))]
pub async fn learn(
    State(state): State<AppState>,
    Admin(caller): Admin,
) -> Result<Json<Envelope<LearnRun>>, ApiError> {
    let m = manager(&state)?.clone();
    let name = caller.name.clone();
    let run = tokio::task::spawn_blocking(move || m.run(&name, chrono::Utc::now()))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    // Flushed whatever the run did: one that changed nothing is still
    // recorded as a run, which the schedule counts from.
    state.engine.decider.store.flush().await?;
    Ok(Json(Envelope::new(run?)))
}

#[utoipa::path(post, path = "/api/v1/config/thresholds/{id}/revert", tag = "thresholds",
    params(("id" = u64, Path, description = "The number of the change to undo")),
    responses((status = 200, description = "The change that undid it", body = Envelope<ThresholdChange>),
              (status = 404, description = "No such change", body = ErrorEnvelope),
              (status = 409, description = "This Medic does not manage thresholds", body = ErrorEnvelope),
              (status = 422, description = "Not a change number", body = ErrorEnvelope)))]
pub async fn revert(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Admin(caller): Admin,
) -> Result<Json<Envelope<ThresholdChange>>, ApiError> {
    let id: u64 = id
        .parse()
        .map_err(|_| invalid("id", format!("{id:?} is not a change number")))?;
    let change = manager(&state)?.revert(id, &caller.name, chrono::Utc::now())?;
    state.engine.decider.store.flush().await?;
    Ok(Json(Envelope::new(change)))
}
