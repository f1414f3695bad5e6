//! `GET /api/v1/config` (admins): the configuration in force, both files,
//! with secrets redacted — API key hashes and passwords in URLs (the event
//! bus's, the PostgreSQL store's, the backends'). Secrets
//! that come from the environment are only ever named here, never read.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::envelope::Envelope;
use super::role::Admin;
use super::{ApiError, AppState};

/// The configuration in force, secrets redacted.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConfigView {
    /// Where it was read from (files, or the embedded defaults).
    pub source: String,
    /// `medic.yaml`.
    pub medic: Value,
    /// `constitution.yaml`, with the plugin bindings.
    pub constitution: Value,
}

use crate::config::redact::{REDACTED, url as redact_url};

#[utoipa::path(get, path = "/api/v1/config", tag = "engine",
    responses((status = 200, description = "Both configuration files in force, secrets redacted", body = Envelope<ConfigView>)))]
pub async fn show(
    State(state): State<AppState>,
    _: Admin,
) -> Result<Json<Envelope<ConfigView>>, ApiError> {
    let c = &state.engine.decider.config;
    let mut medic =
        serde_json::to_value(&c.medic).map_err(|e| ApiError::Internal(e.to_string()))?;
    if let Some(keys) = medic["interfaces"]["web"]["api_keys"].as_array_mut() {
        for k in keys {
            k["sha256"] = json!(REDACTED);
        }
    }
    for (section, key) in [("smith", "event_bus"), ("learning", "database")] {
        let url = medic[section][key]["url"].as_str().map(redact_url);
        if let Some(u) = url {
            medic[section][key]["url"] = json!(u);
        }
    }
    if let Some(backends) = medic["resurrection"]["backends"].as_array_mut() {
        for b in backends {
            let u = b["url"].as_str().map(redact_url);
            if let Some(u) = u {
                b["url"] = json!(u);
            }
        }
    }
    let constitution =
        serde_json::to_value(&c.constitution).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Json(Envelope::new(ConfigView {
        source: c.source.clone(),
        medic,
        constitution,
    })))
}
