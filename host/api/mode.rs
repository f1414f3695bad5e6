//! The engine's mode over HTTP: read for viewers; switched by admins, with
//! a reason, audited.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::envelope::{Envelope, ErrorEnvelope};
use super::params::{invalid, required_body, text};
use super::role::{Admin, Viewer};
use super::{ApiError, AppState};
use crate::config::Mode;

/// A switch of mode.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModeBody {
    /// Read by hand, to name the modes when it is not one.
    #[schema(value_type = Mode)]
    mode: String,
    /// Why (required: it goes into the audit log; up to 4096 characters).
    #[schema(max_length = 4096, pattern = "\\S")]
    reason: String,
}

/// The mode in force, the configured one and the fallback.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModeView {
    pub current: Mode,
    pub configured: Mode,
    pub fallback: Mode,
}

#[utoipa::path(get, path = "/api/v1/mode", tag = "mode",
    responses((status = 200, description = "The mode in force", body = Envelope<ModeView>)))]
pub async fn mode(
    State(state): State<AppState>,
    _: Viewer,
) -> Result<Json<Envelope<ModeView>>, ApiError> {
    let m = &state.engine.decider.config.medic.mode;
    Ok(Json(Envelope::new(ModeView {
        current: state.engine.decider.mode(),
        configured: m.current,
        fallback: m.fallback,
    })))
}

/// A switch that was made.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModeChange {
    pub previous: Mode,
    pub current: Mode,
}

#[utoipa::path(put, path = "/api/v1/mode", tag = "mode",
    request_body(content = ModeBody, description = "The mode to switch to and why"),
    responses((status = 200, description = "Switched (audited with the key's name)", body = Envelope<ModeChange>),
              (status = 409, description = "The constitution does not enable the phase this mode needs", body = ErrorEnvelope),
              (status = 422, description = "Not a mode, or no reason", body = ErrorEnvelope)))]
pub async fn set_mode(
    State(state): State<AppState>,
    Admin(caller): Admin,
    bytes: axum::body::Bytes,
) -> Result<Json<Envelope<ModeChange>>, ApiError> {
    let b: ModeBody = required_body(&bytes)?;
    text("reason", &b.reason)?;
    let mode = Mode::named(&b.mode).ok_or_else(|| {
        invalid(
            "mode",
            format!(
                "{:?} is not a mode (observer, manual, semi_auto, full_auto)",
                b.mode
            ),
        )
    })?;
    let previous = state
        .engine
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
            crate::decide::ModeError::Refused(msg) => ApiError::Conflict(msg),
            crate::decide::ModeError::Store(s) => s.into(),
        })?;
    state.engine.decider.store.flush().await?;
    Ok(Json(Envelope::new(ModeChange {
        previous,
        current: mode,
    })))
}
