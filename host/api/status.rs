//! `GET /api/v1/status` (viewers): what the engine is doing — mode, phase,
//! the plugins serving, the queue, resurrections under way, uptime — and
//! `GET /api/v1/audit` (admins): the audit log, oldest first or newest
//! first, paged by sequence number.

use axum::Json;
use axum::extract::{RawQuery, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::envelope::{Envelope, ErrorEnvelope};
use super::params::{invalid, limit, query};
use super::role::{Admin, Viewer};
use super::{ApiError, AppState};
use crate::approve::QueueStats;
use crate::config::Mode;
use crate::model::WorkflowState;
use crate::store::AuditEvent;

/// A plugin serving now.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServingPlugin {
    pub name: String,
    pub version: String,
    pub sha256: String,
    /// Quarantined plugins are replaced by a safe default.
    pub quarantined: bool,
}

impl ServingPlugin {
    fn of(p: &crate::plugin::Plugin) -> ServingPlugin {
        ServingPlugin {
            name: p.name().to_string(),
            version: p.info().version.clone(),
            sha256: p.sha256().to_string(),
            quarantined: p.is_quarantined(),
        }
    }
}

/// The plugin serving for each kind.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServingPlugins {
    pub risk_scorer: ServingPlugin,
    pub strategy: ServingPlugin,
    pub threshold_learner: ServingPlugin,
}

/// A resurrection whose workflow has not ended.
#[derive(Debug, Serialize, ToSchema)]
pub struct InProgress {
    pub request_id: String,
    pub module: String,
    pub state: WorkflowState,
}

/// The SIEM adapter and its circuit breaker.
#[derive(Debug, Serialize, ToSchema)]
pub struct SiemView {
    pub adapter: String,
    /// `closed`, `open` or `half_open`; null without a breaker.
    pub breaker: Option<String>,
}

/// Which replica answered, and its part in the fleet.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReplicaView {
    /// Its consumer name on Smith's stream (`smith.event_bus.consumer_name`,
    /// the host name by default).
    pub name: String,
    /// `leader` when this replica does the work that runs once (queue
    /// expiry, retention, scheduled learning), else `follower`. A store one
    /// process holds (sled) makes it the leader.
    pub role: &'static str,
    /// `sled` or `postgres`.
    pub store: &'static str,
    /// `ok`, or `failing` when the store does not answer.
    pub store_state: &'static str,
    /// `redis` or `http`.
    pub event_bus: String,
    /// `ok`, `failing` (while the consumer reconnects), `connecting`, or
    /// `disabled` (kills arrive over HTTP), as `/health` reports it.
    pub event_bus_state: &'static str,
}

/// What the engine is doing.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatusView {
    pub replica: ReplicaView,
    pub version: String,
    pub uptime_seconds: u64,
    pub mode: Mode,
    pub configured_mode: Mode,
    pub phase: String,
    pub plugins: ServingPlugins,
    /// Kills decided, all time.
    pub decisions: usize,
    /// Null when this Medic does not act on decisions.
    pub queue: Option<QueueStats>,
    pub resurrections_in_progress: Vec<InProgress>,
    pub siem: SiemView,
}

#[utoipa::path(get, path = "/api/v1/status", tag = "engine",
    responses((status = 200, description = "Mode, phase, plugins, queue, resurrections", body = Envelope<StatusView>)))]
pub async fn status(
    State(state): State<AppState>,
    _: Viewer,
) -> Result<Json<Envelope<StatusView>>, ApiError> {
    let d = &state.engine.decider;
    let active = d.registry.active();
    let queue = state
        .engine
        .acting
        .as_ref()
        .map(|a| a.queue.stats(chrono::Utc::now()))
        .transpose()?;
    // The requests being driven, each read from the store for its state.
    let mut in_progress = Vec::new();
    for id in state.engine.fleet.in_progress() {
        if let Some(r) = d.store.request(&id)? {
            in_progress.push(InProgress {
                request_id: r.request_id,
                module: r.target_module,
                state: r.state,
            });
        }
    }
    let bus = &d.config.medic.smith.event_bus;
    Ok(Json(Envelope::new(StatusView {
        replica: ReplicaView {
            name: bus.consumer_name.clone(),
            role: if d.store.holds(crate::store::SINGLETON_ROLE) {
                "leader"
            } else {
                "follower"
            },
            store: d.store.kind(),
            store_state: if d.store.healthy() { "ok" } else { "failing" },
            event_bus: crate::model::wire_name(&bus.kind),
            event_bus_state: crate::health::event_bus_state(d),
        },
        version: env!("CARGO_PKG_VERSION").into(),
        uptime_seconds: state.started.elapsed().as_secs(),
        mode: d.mode(),
        configured_mode: d.config.medic.mode.current,
        phase: active.phase.to_string(),
        plugins: ServingPlugins {
            risk_scorer: ServingPlugin::of(&active.scorer),
            strategy: ServingPlugin::of(&active.strategy),
            threshold_learner: ServingPlugin::of(&active.learner),
        },
        decisions: d.store.decision_count(),
        queue,
        resurrections_in_progress: in_progress,
        siem: SiemView {
            adapter: d.siem.kind().into(),
            breaker: d.siem.breaker_state().map(str::to_string),
        },
    })))
}

/// Paging through the audit log.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only events after this sequence number: oldest first, the previous
    /// page's `next_after`.
    #[param(minimum = 0)]
    after: Option<i64>,
    /// Only events before this sequence number: with `newest`, the
    /// previous page's `next_before`.
    #[param(minimum = 0)]
    before: Option<i64>,
    /// The newest events first (paged back with `before`).
    #[serde(default)]
    newest: bool,
    /// How many, 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

/// A page of the audit log, oldest first (newest first with `newest`).
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub events: Vec<AuditEvent>,
    /// Oldest first: pass as `after` for the next page; null when the page
    /// is empty or the page is newest first.
    pub next_after: Option<u64>,
    /// Newest first: pass as `before` (with `newest`) for the next, older
    /// page; null when the page is empty or oldest first.
    pub next_before: Option<u64>,
}

#[utoipa::path(get, path = "/api/v1/audit", tag = "engine",
    params(AuditQuery),
    responses((status = 200, description = "Audit events, oldest first (newest first with `newest`)", body = Envelope<AuditPage>),
              (status = 422, description = "A parameter is wrong", body = ErrorEnvelope)))]
pub async fn audit(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    _: Admin,
) -> Result<Json<Envelope<AuditPage>>, ApiError> {
    let q: AuditQuery = query(raw.as_deref())?;
    let n = limit("limit", q.limit, 100)?;
    let number = |field: &str, v: Option<i64>| {
        v.map(|a| u64::try_from(a).map_err(|_| invalid(field, format!("{a} is negative"))))
            .transpose()
    };
    let after = number("after", q.after)?;
    let before = number("before", q.before)?;
    let store = &state.engine.decider.store;
    // Both numbers bound the events either way; the order says which end
    // a page starts from.
    if q.newest {
        let mut events = store.audit_events_before(before, n)?;
        events.retain(|e| after.is_none_or(|a| e.seq > a));
        let next_before = events.last().map(|e| e.seq);
        return Ok(Json(Envelope::new(AuditPage {
            events,
            next_after: None,
            next_before,
        })));
    }
    let mut events = store.audit_events(after, n)?;
    events.retain(|e| before.is_none_or(|b| e.seq < b));
    let next_after = events.last().map(|e| e.seq);
    Ok(Json(Envelope::new(AuditPage {
        events,
        next_after,
        next_before: None,
    })))
}
