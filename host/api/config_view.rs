//! `GET /api/v1/config` (admins): the configuration in force, both files,
//! with secrets redacted — API key hashes and passwords in URLs. Secrets
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

const REDACTED: &str = "<redacted>";

/// `scheme://user:password@host` → `scheme://user:<redacted>@host`.
fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            if userinfo.contains(':') {
                format!("{scheme}://{user}:{REDACTED}@{host}")
            } else {
                format!("{scheme}://{REDACTED}@{host}")
            }
        }
        None => url.to_string(),
    }
}

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
    let url = medic["smith"]["event_bus"]["url"].as_str().map(redact_url);
    if let Some(u) = url {
        medic["smith"]["event_bus"]["url"] = json!(u);
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

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_in_urls_are_redacted() {
        assert_eq!(
            redact_url("redis://:s3cret@host:6379"),
            "redis://:<redacted>@host:6379"
        );
        assert_eq!(redact_url("rediss://u:p@h/0"), "rediss://u:<redacted>@h/0");
        assert_eq!(redact_url("https://token@h/x"), "https://<redacted>@h/x");
        assert_eq!(
            redact_url("redis://127.0.0.1:6379"),
            "redis://127.0.0.1:6379"
        );
    }
}
