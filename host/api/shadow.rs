//! `GET /api/v1/shadow?hours=`: the active phase's shadow, its record over
//! the last hours joined with what happened; `POST /api/v1/shadow/promote`:
//! the shadow judges for real (through the replay gate), one audited action.

use axum::Json;
use axum::extract::{RawQuery, State};
use chrono::{TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use super::envelope::{Envelope, ErrorEnvelope};
use super::params::{invalid, query, required_body};
use super::plugins::overriding;
use super::role::{Admin, Viewer};
use super::{ApiError, AppState};
use crate::config::raw::ShadowPlugins;
use crate::model::PluginKind;
use crate::plugin::gate::GateReport;
use crate::store::AuditKind;
use medic_engine::shadow::{self as judged, ShadowReport};

/// The time a shadow report covers.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ShadowQuery {
    /// Kills decided in the last this many hours, 1 to 8760 (default 168).
    #[param(minimum = 1, maximum = 8760)]
    hours: Option<i64>,
}

/// The shadow bound now, and its record.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShadowView {
    /// The active phase.
    pub phase: String,
    /// Its shadow's scorer and strategy (`name@version`), if one is bound.
    pub scorer: Option<String>,
    pub strategy: Option<String>,
    /// Live kills not shadowed because the shadow's queue was full.
    pub skipped: u64,
    pub report: ShadowReport,
}

#[utoipa::path(get, path = "/api/v1/shadow", tag = "plugins",
    params(ShadowQuery),
    responses((status = 200, description = "The shadow's record joined with outcomes and people's verdicts", body = Envelope<ShadowView>),
              (status = 422, description = "A parameter is wrong", body = ErrorEnvelope)))]
pub async fn report(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    _: Viewer,
) -> Result<Json<Envelope<ShadowView>>, ApiError> {
    let q: ShadowQuery = query(raw.as_deref())?;
    let hours = q.hours.unwrap_or(168);
    if !(1..=8760).contains(&hours) {
        return Err(invalid(
            "hours",
            format!("{hours} is not between 1 and 8760"),
        ));
    }
    let active = state.engine.decider.registry.active();
    let named = |p: &crate::plugin::Plugin| format!("{}@{}", p.name(), p.info().version);
    let store = state.engine.decider.store.clone();
    let now = Utc::now();
    let report = state
        .reads
        .run(move |_| {
            Ok(judged::report(
                &store,
                now - TimeDelta::hours(hours),
                now,
                now,
            )?)
        })
        .await?;
    Ok(Json(Envelope::new(ShadowView {
        phase: active.phase.to_string(),
        scorer: active.shadow.as_ref().map(|(s, _)| named(s)),
        strategy: active.shadow.as_ref().map(|(_, s)| named(s)),
        skipped: state.engine.decider.metrics.shadow_skipped.get(),
        report,
    })))
}

/// Which phase's shadow to promote.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PromoteBody {
    /// A phase's name (`phase_3_semi_auto`).
    #[schema(
        pattern = "^(phase_0_foundation|phase_1_observer|phase_2_manual|phase_3_semi_auto|phase_4_learning|phase_5_full_auto)$"
    )]
    pub phase: String,
    /// Let it through the replay gate even if the gate refuses it: why.
    #[serde(default)]
    #[schema(max_length = 4096, pattern = "\\S")]
    pub override_reason: Option<String>,
}

/// What a promotion did.
#[derive(Debug, Serialize, ToSchema)]
pub struct Promoted {
    pub phase: String,
    pub promoted: ShadowPlugins,
    /// What the replay gate found.
    pub gate: Option<GateReport>,
}

#[utoipa::path(post, path = "/api/v1/shadow/promote", tag = "plugins",
    request_body(content = PromoteBody, description = "The phase whose shadow judges for real from now on"),
    responses((status = 200, description = "Promoted (bound, stored, audited); the phase has no shadow after", body = Envelope<Promoted>),
              (status = 409, description = "The phase has no shadow, or the replay gate refuses it (the diverging kills listed)", body = ErrorEnvelope),
              (status = 422, description = "No such phase", body = ErrorEnvelope)))]
pub async fn promote(
    State(state): State<AppState>,
    Admin(caller): Admin,
    bytes: axum::body::Bytes,
) -> Result<Json<Envelope<Promoted>>, ApiError> {
    let b: PromoteBody = required_body(&bytes)?;
    let over = overriding(&caller.name, b.override_reason)?;
    let registry = state.engine.decider.registry.clone();
    let (phase, over_blocking) = (b.phase.clone(), over.clone());
    // The replay gate runs plugins on history: off the async workers.
    let (_, gate, promoted) = tokio::task::spawn_blocking(move || {
        registry.promote_shadow(&phase, over_blocking.as_ref())
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))??;
    let store = &state.engine.decider.store;
    store.put_plugin_binding(&b.phase, PluginKind::RiskScorer, &promoted.risk_scorer)?;
    store.put_plugin_binding(&b.phase, PluginKind::Strategy, &promoted.strategy)?;
    store.audit(
        AuditKind::PluginChanged,
        None,
        None,
        &caller.name,
        json!({"action": "promote_shadow", "phase": b.phase, "promoted": promoted,
               "gate": gate, "gate_override": over.as_ref().map(|o| &o.reason)}),
    )?;
    store.flush().await?;
    Ok(Json(Envelope::new(Promoted {
        phase: b.phase,
        promoted,
        gate,
    })))
}
