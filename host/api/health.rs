//! `/health` (no key needed): healthy, degraded or unhealthy, with a check
//! per dependency; and `/metrics` in the Prometheus text format.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use chrono::Utc;
use serde::Serialize;
use utoipa::ToSchema;

use super::role::Viewer;
use super::{ApiError, AppState};
use crate::telemetry::{family, labels, sample};

/// One check per dependency: `ok` or `failing`, `disabled` for what this
/// engine does not use (the queue: `ok`, `full` or `none`; the veto
/// channel: `ok`, `failing` or `none`).
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthChecks {
    pub database: &'static str,
    /// Smith's Redis stream: `ok`, `failing` (the consumer is reconnecting),
    /// `connecting` (not yet connected once), or `disabled` (kills arrive
    /// over HTTP).
    pub event_bus: &'static str,
    /// `ok`, `failing`, or `disabled` (no SIEM adapter, or SIEM queries off).
    pub siem_connection: &'static str,
    /// `closed`, `open`, `half_open`, or `none` without a breaker.
    pub siem_breaker: &'static str,
    pub plugins: &'static str,
    pub queue: &'static str,
    pub smith_veto: &'static str,
    /// Responses to kills that came over HTTP, on their way to Redis: `ok`
    /// (none waiting), `waiting` (Redis has not taken them yet: they are
    /// kept and retried) or `disabled` (no Redis to answer on).
    pub responses: &'static str,
    /// How many responses wait in the outbox.
    pub responses_waiting: usize,
}

/// The engine's health: `healthy`, `degraded` (working without something) or
/// `unhealthy` (answered with 503).
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
    /// Whether the engine can take kills now: the store works and, when
    /// kills come from Redis, the event bus is connected. (That the
    /// process answers at all is its liveness.)
    pub ready: bool,
    pub checks: HealthChecks,
    pub version: &'static str,
    pub uptime_seconds: u64,
}

#[utoipa::path(get, path = "/health", tag = "engine", security(()),
    responses((status = 200, description = "Healthy or degraded", body = Health),
              (status = 503, description = "Unhealthy: the store is failing", body = Health)))]
pub async fn health(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let body = assess(&state).await;
    let code = if body.status == "unhealthy" {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (code, Json(body))
}

#[utoipa::path(get, path = "/health/ready", tag = "engine", security(()),
    responses((status = 200, description = "Ready: it can take kills now", body = Health),
              (status = 503, description = "Not ready: the store is failing, or the event bus is not connected", body = Health)))]
pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let body = assess(&state).await;
    let code = if body.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body))
}

/// Every check, and what they add up to.
async fn assess(state: &AppState) -> Health {
    let d = &state.engine.decider;
    let store_ok = d.store.healthy();
    let siem_used = d.queries_siem();
    let siem_ok = !siem_used || d.siem.health_check().await;
    let event_bus =
        if d.config.medic.smith.event_bus.kind == crate::config::raw::EventBusType::Redis {
            match d.metrics.event_bus_up.get() {
                Some(1) => "ok",
                Some(_) => "failing",
                None => "connecting",
            }
        } else {
            "disabled"
        };
    let active = d.registry.active();
    let plugins_ok = !(active.scorer.is_quarantined() || active.strategy.is_quarantined());
    // The queue is "full" when it refuses new items; the veto channel is
    // checked when the protocol is on.
    let (queue, veto) = match &state.engine.acting {
        Some(a) => (
            if a.queue.full().is_some() {
                "full"
            } else {
                "ok"
            },
            if a.degraded().is_some() {
                "failing"
            } else {
                "ok"
            },
        ),
        None => ("none", "none"),
    };
    let waiting = state.publisher.waiting();
    let responses = match waiting {
        None => "disabled",
        Some(0) => "ok",
        Some(_) => "waiting",
    };
    let status = if !store_ok {
        "unhealthy"
    } else if !siem_ok
        || !plugins_ok
        || queue == "full"
        || veto == "failing"
        || event_bus != "ok" && event_bus != "disabled"
        || responses == "waiting"
    {
        "degraded"
    } else {
        "healthy"
    };
    let ok = |b: bool| if b { "ok" } else { "failing" };
    Health {
        status,
        ready: store_ok && matches!(event_bus, "ok" | "disabled"),
        checks: HealthChecks {
            database: ok(store_ok),
            event_bus,
            siem_connection: if siem_used { ok(siem_ok) } else { "disabled" },
            siem_breaker: d.siem.breaker_state().unwrap_or("none"),
            plugins: ok(plugins_ok),
            queue,
            smith_veto: veto,
            responses,
            responses_waiting: waiting.unwrap_or(0),
        },
        version: env!("CARGO_PKG_VERSION"),
        uptime_seconds: state.started.elapsed().as_secs(),
    }
}

#[utoipa::path(get, path = "/metrics", tag = "engine",
    responses((status = 200, description = "Prometheus text exposition (version 0.0.4)", content_type = "text/plain", body = String)))]
pub async fn metrics(
    State(state): State<AppState>,
    _: Viewer,
) -> Result<impl IntoResponse, ApiError> {
    Ok(exposition(&state))
}

/// `/metrics` on `metrics.port`: no key, as Prometheus scrapes; that port
/// serves nothing else.
pub async fn open_metrics(State(state): State<AppState>) -> impl IntoResponse {
    exposition(&state)
}

/// The Prometheus text exposition, gauges read at scrape time.
fn exposition(state: &AppState) -> impl IntoResponse + use<> {
    let d = &state.engine.decider;
    let mut out = d.metrics.render();
    // Who is being scraped: `metrics.labels` from the configuration.
    let mut info: Vec<(&str, &str)> = d
        .config
        .medic
        .metrics
        .labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    info.push(("version", env!("CARGO_PKG_VERSION")));
    family(
        &mut out,
        "medic_info",
        "gauge",
        "This Medic: its configured labels and version",
    );
    sample(&mut out, "medic_info", &labels(&info), 1);
    // Gauges read from the store at scrape time.
    let changes = d.store.threshold_change_count();
    // 0 with nothing waiting (or the store unreadable: logged by the store).
    let oldest = d
        .store
        .oldest_pending_queue_item()
        .ok()
        .flatten()
        .map_or(0, |item| {
            (Utc::now() - item.enqueued_at).num_seconds().max(0)
        });
    let in_progress = state.engine.fleet.in_progress().len();
    for (name, kind, help, value) in [
        (
            "medic_queue_pending",
            "gauge",
            "Decisions waiting in the approval queue",
            d.store.pending_queue_len(),
        ),
        (
            "medic_queue_oldest_pending_seconds",
            "gauge",
            "How long the oldest decision in the approval queue has waited for a person (0 when none waits)",
            usize::try_from(oldest).unwrap_or(0),
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
        family(&mut out, name, kind, help);
        sample(&mut out, name, "", value);
    }
    // Per plugin: call latency, with the plugin's kind and source, and
    // whether it is quarantined (1) after too many failures in a row. A
    // family's samples stay together, so the second goes to its own buffer.
    let (latency, quarantined) = ("medic_plugin_call_seconds", "medic_plugin_quarantined");
    family(
        &mut out,
        latency,
        "histogram",
        "Plugin call time (instantiation included)",
    );
    let mut held = String::new();
    family(
        &mut held,
        quarantined,
        "gauge",
        "1 while a plugin is quarantined (its kind falls back to the safe default), else 0",
    );
    for p in d.registry.plugins() {
        let kind = p.kind().to_string();
        let builtin = matches!(p.source(), crate::plugin::PluginSource::Builtin).to_string();
        let plugin = labels(&[
            ("plugin", p.name()),
            ("kind", &kind),
            ("version", &p.info().version),
            ("builtin", &builtin),
        ]);
        p.latency().render(latency, &plugin, &mut out);
        let which = labels(&[("plugin", p.name()), ("kind", &kind)]);
        sample(&mut held, quarantined, &which, u8::from(p.is_quarantined()));
    }
    out.push_str(&held);
    // The SIEM circuit breaker: 1 for the state it is in.
    if let Some(state) = d.siem.breaker_state() {
        let name = "medic_siem_breaker_state";
        family(&mut out, name, "gauge", "The SIEM circuit breaker's state");
        for s in ["closed", "open", "half_open"] {
            sample(
                &mut out,
                name,
                &labels(&[("state", s)]),
                u8::from(s == state),
            );
        }
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}
