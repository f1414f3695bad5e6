//! The engine's mode over HTTP: read for viewers; switched by admins, with
//! a reason, audited.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, AppState, envelope};
use crate::config::raw::Role;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModeBody {
    mode: String,
    #[serde(default)]
    reason: String,
}

pub async fn mode(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    state.keys.check(&headers, Role::Viewer)?;
    let m = &state.decider.config.medic.mode;
    Ok(Json(envelope(json!({
        "current": state.decider.mode().name(),
        "configured": m.current.name(),
        "fallback": m.fallback.name(),
    }))))
}

pub async fn set_mode(
    State(state): State<AppState>,
    headers: HeaderMap,
    bytes: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let caller = state.keys.check(&headers, Role::Admin)?;
    let b: ModeBody = serde_json::from_slice(&bytes).map_err(|e| ApiError::Invalid {
        field: "body".into(),
        problem: e.to_string(),
    })?;
    let mode: crate::config::Mode =
        serde_json::from_value(json!(b.mode)).map_err(|_| ApiError::Invalid {
            field: "mode".into(),
            problem: format!(
                "{:?} is not a mode (observer, manual, semi_auto, full_auto)",
                b.mode
            ),
        })?;
    let before = state
        .decider
        .set_mode(mode, &caller.name, &b.reason)
        .map_err(|e| match e {
            crate::decide::ModeError::Invalid(msg) => {
                let (field, problem) = msg.split_once(": ").unwrap_or(("mode", &msg));
                ApiError::Invalid {
                    field: field.into(),
                    problem: problem.into(),
                }
            }
            crate::decide::ModeError::Store(s) => s.into(),
        })?;
    state.decider.store.flush().await?;
    Ok(Json(envelope(
        json!({"previous": before.name(), "current": mode.name()}),
    )))
}
