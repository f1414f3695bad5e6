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
use crate::telemetry::exposition::{self, family, series};
use crate::telemetry::process::ProcessCollector;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

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

/// The event bus as the consumer last found it: `ok`, `failing` (while it
/// reconnects), `connecting`, or `disabled` (kills arrive over HTTP).
pub(crate) fn event_bus_state(d: &crate::decide::Decider) -> &'static str {
    if d.config.medic.smith.event_bus.kind == crate::config::raw::EventBusType::Redis {
        match d.metrics.event_bus_up.get() {
            Some(1) => "ok",
            Some(_) => "failing",
            None => "connecting",
        }
    } else {
        "disabled"
    }
}

/// Every check, and what they add up to.
async fn assess(state: &AppState) -> Health {
    let d = &state.engine.decider;
    let store_ok = d.store.healthy();
    let siem_used = d.queries_siem();
    let siem_ok = !siem_used || d.siem.health_check().await;
    let event_bus = event_bus_state(d);
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

/// The Prometheus text exposition (docs/guide.md, "Metrics"): the engine's
/// metrics, the process's, and what is read at scrape time.
fn exposition(state: &AppState) -> impl IntoResponse + use<> {
    let out = exposition::render(vec![
        Box::new(state.engine.decider.metrics.clone()),
        Box::new(ProcessCollector),
        Box::new(ScrapeTime(state.clone())),
    ]);
    ([(header::CONTENT_TYPE, exposition::CONTENT_TYPE)], out)
}

/// The families read at each scrape: this Medic's labels, the store's
/// gauges, the plugins and the SIEM breaker.
struct ScrapeTime(AppState);

impl std::fmt::Debug for ScrapeTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ScrapeTime")
    }
}

impl Collector for ScrapeTime {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let state = &self.0;
        let d = &state.engine.decider;
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
        let one = ConstGauge::new(1i64);
        series(
            &mut enc,
            "medic_info",
            "This Medic: its configured labels and version",
            MetricType::Gauge,
            [(info, &one as &dyn EncodeMetric)],
        )?;
        // 0 with nothing waiting (or the store unreadable: logged by the store).
        let oldest = d
            .store
            .oldest_pending_queue_item()
            .ok()
            .flatten()
            .map_or(0, |item| {
                (Utc::now() - item.enqueued_at).num_seconds().max(0)
            });
        for (name, help, value) in [
            (
                "medic_queue_pending",
                "Decisions waiting in the approval queue",
                d.store.pending_queue_len(),
            ),
            (
                "medic_queue_oldest_pending_seconds",
                "How long the oldest decision in the approval queue has waited for a person (0 when none waits)",
                usize::try_from(oldest).unwrap_or(0),
            ),
            (
                "medic_resurrections_in_progress",
                "Resurrection requests whose workflow has not ended",
                state.engine.fleet.in_progress().len(),
            ),
        ] {
            family(&mut enc, name, help, &ConstGauge::new(value))?;
        }
        family(
            &mut enc,
            "medic_threshold_changes_total",
            "Threshold changes put in force (learner, manual, revert)",
            &ConstCounter::new(d.store.threshold_change_count()),
        )?;
        // Per plugin: call latency, with the plugin's kind and source, and
        // whether it is quarantined (1) after too many failures in a row.
        let plugins = d.registry.plugins();
        let kinds: Vec<String> = plugins.iter().map(|p| p.kind().to_string()).collect();
        let builtins: Vec<&str> = plugins
            .iter()
            .map(|p| {
                if matches!(p.source(), crate::plugin::PluginSource::Builtin) {
                    "true"
                } else {
                    "false"
                }
            })
            .collect();
        series(
            &mut enc,
            "medic_plugin_call_seconds",
            "Plugin call time (instantiation included)",
            MetricType::Histogram,
            plugins
                .iter()
                .zip(&kinds)
                .zip(&builtins)
                .map(|((p, kind), builtin)| {
                    (
                        [
                            ("plugin", p.name()),
                            ("kind", kind.as_str()),
                            ("version", p.info().version.as_str()),
                            ("builtin", *builtin),
                        ],
                        p.latency() as &dyn EncodeMetric,
                    )
                }),
        )?;
        let quarantined: Vec<ConstGauge<i64>> = plugins
            .iter()
            .map(|p| ConstGauge::new(i64::from(p.is_quarantined())))
            .collect();
        series(
            &mut enc,
            "medic_plugin_quarantined",
            "1 while a plugin is quarantined (its kind falls back to the safe default), else 0",
            MetricType::Gauge,
            plugins
                .iter()
                .zip(&kinds)
                .zip(&quarantined)
                .map(|((p, kind), q)| {
                    (
                        [("plugin", p.name()), ("kind", kind.as_str())],
                        q as &dyn EncodeMetric,
                    )
                }),
        )?;
        // The SIEM circuit breaker: 1 for the state it is in.
        if let Some(now) = d.siem.breaker_state() {
            let states = ["closed", "open", "half_open"];
            let values = states.map(|s| ConstGauge::new(i64::from(s == now)));
            series(
                &mut enc,
                "medic_siem_breaker_state",
                "The SIEM circuit breaker's state",
                MetricType::Gauge,
                states
                    .iter()
                    .zip(&values)
                    .map(|(s, v)| ([("state", *s)], v as &dyn EncodeMetric)),
            )?;
        }
        Ok(())
    }
}
