//! The HTTP API (axum): `router(state)` is built apart from serving so tests
//! drive it with `oneshot`. Every answer uses the spec §9.2 envelope.

mod auth;
mod config;
mod console;
mod decisions;
mod error;
mod health;
mod kills;
mod mode;
mod outcomes;
mod params;
mod plugins;
mod queue;
mod reports;
mod resurrections;
mod status;
mod thresholds;
mod whoami;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use serde::Serialize;
use serde_json::json;

pub use auth::{ApiKeys, KeyError};
pub use error::ApiError;

use crate::decide::Decider;
use crate::publish::Publisher;

/// The largest request body accepted (a batch of kills).
pub const MAX_BODY: usize = 2 * 1024 * 1024;

#[derive(Clone)]
pub struct AppState {
    pub decider: Arc<Decider>,
    pub keys: Arc<ApiKeys>,
    pub publisher: Publisher,
    pub started: Instant,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health::health))
        .route("/api/v1/health", get(health::health))
        .route("/api/v1/kills", post(kills::ingest))
        .route("/api/v1/status", get(status::status))
        .route(
            "/api/v1/plugins",
            get(plugins::list)
                .post(plugins::upload)
                .layer(DefaultBodyLimit::max(plugins::MAX_PLUGIN_BYTES)),
        )
        .route("/api/v1/plugins/reload", post(plugins::reload))
        .route("/api/v1/audit", get(status::audit))
        .route("/api/v1/config", get(config::show))
        .route("/api/v1/decisions", get(decisions::list))
        .route("/api/v1/decisions/{decision_id}", get(decisions::show))
        .route("/api/v1/reports/daily", get(reports::daily))
        .route("/api/v1/queue", get(queue::list))
        .route("/api/v1/queue/{item_id}", get(queue::show))
        .route("/api/v1/queue/{item_id}/approve", post(queue::approve))
        .route("/api/v1/queue/{item_id}/deny", post(queue::deny))
        .route("/api/v1/resurrections", get(resurrections::requests))
        .route(
            "/api/v1/resurrections/{request_id}",
            get(resurrections::request),
        )
        .route(
            "/api/v1/resurrections/{request_id}/status",
            get(resurrections::request_status),
        )
        .route(
            "/api/v1/resurrections/{request_id}/rollback",
            post(resurrections::rollback),
        )
        .route("/api/v1/outcomes", get(outcomes::list))
        .route("/api/v1/outcomes/stats", get(outcomes::stats))
        .route("/api/v1/reports/weekly", get(reports::weekly))
        .route(
            "/api/v1/config/thresholds",
            get(thresholds::show).put(thresholds::set),
        )
        .route("/api/v1/config/thresholds/learn", post(thresholds::learn))
        .route(
            "/api/v1/config/thresholds/{id}/revert",
            post(thresholds::revert),
        )
        .route("/api/v1/mode", get(mode::mode).put(mode::set_mode))
        .route("/metrics", get(health::metrics))
        .merge(console::routes())
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

/// The spec §9.2 envelope around a successful answer.
pub fn envelope<T: Serialize>(data: T) -> serde_json::Value {
    json!({
        "success": true,
        "data": data,
        "meta": meta(),
        "errors": [],
    })
}

fn meta() -> serde_json::Value {
    json!({
        "timestamp": chrono::Utc::now().to_rfc3339(),
        "request_id": uuid::Uuid::new_v4().to_string(),
        "version": "1.0",
    })
}
