//! Plugins over HTTP: the catalogue (viewers); for admins, a reload of the
//! plugin directory and an upload — validated exactly like a file dropped
//! into the directory (compiled, world and imports checked, run on the
//! golden kills) before it is written there and swapped in. Every change is
//! audited with the key's name.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use serde_json::{Value, json};

use super::{ApiError, AppState, envelope};
use crate::config::raw::Role;
use crate::plugin::{Plugin, PluginSource, golden};
use crate::store::AuditKind;

/// The largest plugin accepted (an interpreter-based one is tens of MB).
pub const MAX_PLUGIN_BYTES: usize = 64 * 1024 * 1024;

pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    state.keys.check(&headers, Role::Viewer)?;
    let r = &state.decider.registry;
    let active = r.active();
    Ok(Json(envelope(json!({
        "phase": active.phase.to_string(),
        "active": {"risk_scorer": active.scorer.name(), "strategy": active.strategy.name(),
                   "threshold_learner": active.learner.name()},
        "plugins": r.list(),
        "recent_events": r.events(),
    }))))
}

pub async fn reload(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let caller = state.keys.check(&headers, Role::Admin)?;
    let registry = state.decider.registry.clone();
    let events = tokio::task::spawn_blocking(move || registry.reload_directory())
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| ApiError::Conflict(e.to_string()))?;
    state.decider.store.audit(
        AuditKind::PluginChanged,
        None,
        None,
        &caller.name,
        json!({"action": "reload", "events": events}),
    )?;
    state.decider.store.flush().await?;
    Ok(Json(envelope(events)))
}

/// `POST /api/v1/plugins?name=NAME` with the `.wasm` as the body.
pub async fn upload(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let caller = state.keys.check(&headers, Role::Admin)?;
    let name = q.get("name").cloned().unwrap_or_default();
    if !crate::config::validate_name(&name) {
        return Err(ApiError::Invalid {
            field: "name".into(),
            problem: format!("{name:?}: the file name to install as (1-128 of A-Z a-z 0-9 . _ -)"),
        });
    }
    if body.is_empty() {
        return Err(ApiError::Invalid {
            field: "body".into(),
            problem: "send the plugin's .wasm as the request body".into(),
        });
    }
    let registry = state.decider.registry.clone();
    let Some(dir) = registry.directory().map(|d| d.to_path_buf()) else {
        return Err(ApiError::Conflict(
            "plugins.directory is not set: there is nowhere to install a plugin".into(),
        ));
    };
    let target = dir.join(format!("{name}.wasm"));
    let config = state.decider.config.clone();
    let file = name.clone();
    let checked = tokio::task::spawn_blocking(move || -> Result<_, String> {
        // The same checks a dropped file gets, before anything is written.
        let plugin = Plugin::load(
            registry.sandbox(),
            registry.settings(),
            &body,
            PluginSource::File(target.clone()),
            None,
        )
        .map_err(|e| match e.hint() {
            Some(h) => format!("{e} (hint: {h})"),
            None => e.to_string(),
        })?;
        golden::check(
            &plugin,
            &registry.thresholds(),
            &crate::plugin::learner_settings_from_config(&config),
        )
        .map_err(|e| e.to_string())?;
        // Written beside, then renamed in: the watcher never sees half a file.
        let partial = dir.join(format!(".{file}.upload"));
        std::fs::write(&partial, &body)
            .map_err(|e| format!("writing {}: {e}", partial.display()))?;
        std::fs::rename(&partial, &target)
            .map_err(|e| format!("installing {}: {e}", target.display()))?;
        registry.load_file(&target).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    let event = checked.map_err(|problem| ApiError::Invalid {
        field: "body".into(),
        problem,
    })?;
    state.decider.store.audit(
        AuditKind::PluginChanged,
        None,
        None,
        &caller.name,
        json!({"action": "upload", "file": format!("{name}.wasm"), "event": event}),
    )?;
    state.decider.store.flush().await?;
    Ok(Json(envelope(event)))
}
