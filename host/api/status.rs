//! `GET /api/v1/status` (viewers): what the engine is doing — mode, phase,
//! the plugins serving, the queue, resurrections under way, uptime — and
//! `GET /api/v1/audit` (admins): the audit log, oldest first, paged by
//! sequence number.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use serde_json::{Value, json};

use super::params::{invalid, parse_limit};
use super::{ApiError, AppState, envelope};
use crate::config::raw::Role;

pub async fn status(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    state.keys.check(&headers, Role::Viewer)?;
    let d = &state.decider;
    let active = d.registry.active();
    let plugin = |p: &crate::plugin::Plugin| json!({"name": p.name(), "version": p.info().version, "sha256": p.sha256(), "quarantined": p.is_quarantined()});
    let queue = match d.acting() {
        Some(a) => serde_json::to_value(a.queue.stats(chrono::Utc::now())?).unwrap_or_default(),
        None => Value::Null,
    };
    // The requests being driven, each read from the store for its state.
    let mut in_progress = Vec::new();
    for id in d.acting().map(|a| a.in_progress()).unwrap_or_default() {
        if let Some(r) = d.store.request(&id)? {
            in_progress.push(
                json!({"request_id": r.request_id, "module": r.target_module, "state": r.state}),
            );
        }
    }
    Ok(Json(envelope(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_seconds": state.started.elapsed().as_secs(),
        "mode": d.mode().name(),
        "configured_mode": d.config.medic.mode.current.name(),
        "phase": active.phase.to_string(),
        "plugins": {"risk_scorer": plugin(&active.scorer), "strategy": plugin(&active.strategy),
                    "threshold_learner": plugin(&active.learner)},
        "decisions": d.store.decision_count(),
        "queue": queue,
        "resurrections_in_progress": in_progress,
        "siem": {"adapter": d.siem.kind(), "breaker": d.siem.breaker_state()},
    }))))
}

pub async fn audit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    state.keys.check(&headers, Role::Admin)?;
    let mut after = None;
    let mut limit = 100;
    for (k, v) in &q {
        match k.as_str() {
            "after" => {
                after = Some(
                    v.parse::<u64>()
                        .map_err(|_| invalid(k, format!("{v:?} must be a sequence number")))?,
                )
            }
            "limit" => limit = parse_limit(k, v)?,
            other => return Err(invalid(other, "unknown parameter (after, limit)".into())),
        }
    }
    let events = state.decider.store.audit_events(after, limit)?;
    let next = events.last().map(|e| e.seq);
    Ok(Json(envelope(
        json!({"events": events, "next_after": next}),
    )))
}
