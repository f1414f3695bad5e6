//! `/health` (no key needed): healthy, degraded or unhealthy, with a check
//! per dependency; and `/metrics` in the Prometheus text format.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use serde_json::{Value, json};

use super::{ApiError, AppState};
use crate::config::raw::Role;

pub async fn health(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let d = &state.decider;
    let store_ok = d.store.healthy();
    let siem_ok = d.siem.health_check().await;
    let active = d.registry.active();
    let plugins_ok = !(active.scorer.is_quarantined() || active.strategy.is_quarantined());
    // The queue is "full" when it refuses new items; the veto channel is
    // checked when the protocol is on.
    let (queue, veto) = match d.acting() {
        Some(a) => {
            let pending = d.store.pending_queue_len();
            let max = d.config.medic.interfaces.approval_queue.max_pending as usize;
            (
                if pending >= max { "full" } else { "ok" },
                if a.degraded().is_some() {
                    "failing"
                } else {
                    "ok"
                },
            )
        }
        None => ("none", "none"),
    };
    let status = if !store_ok {
        "unhealthy"
    } else if !siem_ok || !plugins_ok || queue == "full" || veto == "failing" {
        "degraded"
    } else {
        "healthy"
    };
    let ok = |b: bool| if b { "ok" } else { "failing" };
    let body = json!({
        "status": status,
        "checks": {
            "database": ok(store_ok),
            "siem_connection": ok(siem_ok),
            "siem_breaker": d.siem.breaker_state().unwrap_or("none"),
            "plugins": ok(plugins_ok),
            "queue": queue,
            "smith_veto": veto,
        },
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_seconds": state.started.elapsed().as_secs(),
    });
    let code = if status == "unhealthy" {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (code, Json(body))
}

pub async fn metrics(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    state.keys.check(&headers, Role::Viewer)?;
    let d = &state.decider;
    let mut out = d.metrics.render();
    // Gauges read from the store at scrape time.
    let changes = d.store.threshold_change_count();
    let in_progress = d.acting().map_or(0, |a| a.in_progress().len());
    for (name, kind, help, value) in [
        (
            "medic_queue_pending",
            "gauge",
            "Decisions waiting in the approval queue",
            d.store.pending_queue_len(),
        ),
        (
            "medic_resurrections_in_progress",
            "gauge",
            "Resurrection requests whose workflow has not ended",
            in_progress,
        ),
        (
            "medic_threshold_changes_total",
            "counter",
            "Threshold changes put in force (learner, manual, revert)",
            changes,
        ),
    ] {
        out.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
        ));
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out))
}
