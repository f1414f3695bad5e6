//! `GET /api/v1/config` (admins): the configuration in force, both files,
//! with secrets redacted — API key hashes and passwords in URLs. Secrets
//! that come from the environment are only ever named here, never read.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use serde_json::{Value, json};

use super::{ApiError, AppState, envelope};
use crate::config::raw::Role;

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

pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    state.keys.check(&headers, Role::Admin)?;
    let c = &state.decider.config;
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
    Ok(Json(envelope(json!({
        "source": c.source,
        "medic": medic,
        "constitution": c.constitution,
    }))))
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
