//! `GET /api/v1/whoami` (viewers and up): the name and role behind the
//! presented key, so a client (the console) shows only what the role may do.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use serde_json::{Value, json};

use super::{ApiError, AppState, envelope};
use crate::config::raw::Role;
use crate::model::wire_name;

pub async fn whoami(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let caller = state.keys.check(&headers, Role::Viewer)?;
    Ok(Json(envelope(
        json!({"name": caller.name, "role": wire_name(&caller.role)}),
    )))
}
