//! The HTTP API (axum): `router(state)` is built apart from serving so tests
//! drive it with `oneshot`. Every answer uses one envelope (`envelope.rs`).
//! The routes are registered with their OpenAPI descriptions (`openapi.rs`).
//! The API holds the engine (`medic-engine`), never the reverse; the
//! `medic` crate re-exports this crate as `medic::api`.

// The modules of the crates below, under the names the code uses.
use medic_config as config;
use medic_engine::{approve, decide, engine, execute, ingest, learn, publish, report};
use medic_model as model;
use medic_plugin_host as plugin;
use medic_store as store;
use medic_telemetry as telemetry;

mod auth;
mod config_view;
mod console;
mod decisions;
mod envelope;
mod error;
mod failures;
mod health;
mod kills;
mod mode;
mod openapi;
mod outcomes;
mod params;
mod plugins;
mod queue;
mod reads;
mod reports;
mod resurrections;
mod role;
mod shadow;
mod status;
mod thresholds;
pub mod tls;
mod whoami;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use auth::{ApiKeys, KeyError};
pub use envelope::{Envelope, ErrorDetail, ErrorEnvelope, Meta};
pub use error::ApiError;
pub use reads::Reads;

use crate::engine::Engine;
use crate::publish::Publisher;

/// The largest request body accepted (a batch of kills).
pub const MAX_BODY: usize = 2 * 1024 * 1024;

#[derive(Clone)]
pub struct AppState {
    pub engine: Arc<Engine>,
    pub keys: Arc<ApiKeys>,
    pub publisher: Publisher,
    pub started: Instant,
    /// The gate of the API's store reads.
    pub reads: Reads,
    /// Wrong keys per client address.
    pub failures: Arc<failures::Failures>,
}

impl AppState {
    pub fn new(engine: Arc<Engine>, keys: ApiKeys, publisher: Publisher) -> AppState {
        let web = &engine.decider.config.medic.interfaces.web;
        let reads = Reads::new(web);
        let failures = Arc::new(failures::Failures::new(web.auth_failures_per_minute));
        AppState {
            engine,
            keys: Arc::new(keys),
            publisher,
            started: Instant::now(),
            reads,
            failures,
        }
    }
}

/// Every route of the API with its documentation: the router and the
/// OpenAPI document are both made from this.
fn routes() -> OpenApiRouter<AppState> {
    // Plugin uploads are large; everything else has the default limit.
    let uploads = OpenApiRouter::new()
        .routes(routes!(plugins::list, plugins::upload))
        .layer(DefaultBodyLimit::max(plugins::MAX_PLUGIN_BYTES));
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(health::health))
        .routes(routes!(health::ready))
        .routes(routes!(openapi::document))
        .routes(routes!(health::metrics))
        .routes(routes!(kills::ingest))
        .routes(routes!(status::status))
        .routes(routes!(status::audit))
        .routes(routes!(config_view::show))
        .merge(uploads)
        .routes(routes!(plugins::reload))
        .routes(routes!(plugins::bind_phase))
        .routes(routes!(shadow::report))
        .routes(routes!(shadow::promote))
        .routes(routes!(decisions::list))
        .routes(routes!(decisions::records))
        .routes(routes!(decisions::show))
        .routes(routes!(reports::daily))
        .routes(routes!(reports::weekly))
        .routes(routes!(queue::list))
        .routes(routes!(queue::show))
        .routes(routes!(queue::approve))
        .routes(routes!(queue::deny))
        .routes(routes!(resurrections::requests))
        .routes(routes!(resurrections::request))
        .routes(routes!(resurrections::request_status))
        .routes(routes!(resurrections::rollback))
        .routes(routes!(outcomes::list))
        .routes(routes!(outcomes::stats))
        .routes(routes!(thresholds::show, thresholds::set))
        .routes(routes!(thresholds::learn))
        .routes(routes!(thresholds::revert))
        .routes(routes!(mode::mode, mode::set_mode))
        .routes(routes!(whoami::whoami))
}

/// Answers 503 for a request still unanswered after
/// `interfaces.web.request_timeout_seconds`.
async fn limit_time(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let limit = state
        .engine
        .decider
        .config
        .medic
        .interfaces
        .web
        .request_timeout;
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::Timeout(limit.as_secs_f64()).into_response(),
    }
}

/// The router of `metrics.port`: `/metrics` without a key, nothing else.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(health::open_metrics))
        .with_state(state)
}

/// The OpenAPI document of this API.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    openapi::finish(routes().split_for_parts().1)
}

pub fn router(state: AppState) -> Router {
    // The document is made on its own, once, when first asked for.
    Router::from(routes())
        .route("/api/v1/health", get(health::health))
        .merge(console::routes())
        .fallback(|| async { ApiError::NotFound("no such route".into()) })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            limit_time,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            failures::guard,
        ))
        .layer(axum::middleware::map_response(error::envelope_plain_errors))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}
