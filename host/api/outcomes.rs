//! Outcomes over HTTP (`/api/v1/outcomes`): filtered lists and
//! statistics for viewers. Every filter is checked and named when wrong.

use axum::Json;
use axum::extract::{RawQuery, State};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::envelope::{Envelope, ErrorEnvelope};
use super::params::{invalid, limit, query};
use super::role::Viewer;
use super::{ApiError, AppState};
use crate::model::{DecisionOutcome, OutcomeRecord, OutcomeResult, RiskLevel};
use crate::store::{OutcomeCounts, OutcomeFilter};

/// Filters for `GET /outcomes`; every one narrows the list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OutcomeQuery {
    /// Only this module's outcomes.
    module: Option<String>,
    /// Only this result.
    result: Option<OutcomeResult>,
    /// Only kills judged at this risk level.
    risk_level: Option<RiskLevel>,
    /// Only this decision.
    decision: Option<DecisionOutcome>,
    /// The deciding strategy: `name` or `name@version`.
    strategy: Option<String>,
    /// Recorded at or after (RFC 3339).
    from: Option<DateTime<Utc>>,
    /// Recorded at or before (RFC 3339).
    to: Option<DateTime<Utc>>,
    /// How many, 1 to 1000 (default 50), newest first.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

#[utoipa::path(get, path = "/api/v1/outcomes", tag = "outcomes",
    params(OutcomeQuery),
    responses((status = 200, description = "Outcome records, newest first", body = Envelope<Vec<OutcomeRecord>>),
              (status = 422, description = "A filter is wrong", body = ErrorEnvelope)))]
pub async fn list(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    _: Viewer,
) -> Result<Json<Envelope<Vec<OutcomeRecord>>>, ApiError> {
    let q: OutcomeQuery = query(raw.as_deref())?;
    let n = limit("limit", q.limit, 50)?;
    let f = OutcomeFilter {
        module: q.module,
        result: q.result,
        risk_level: q.risk_level,
        decision: q.decision,
        strategy: q.strategy,
        from: q.from,
        to: q.to,
    };
    let store = state.engine.decider.store.clone();
    let outcomes = state
        .reads
        .run(move |_| Ok(store.query_outcomes(&f, n)?))
        .await?;
    Ok(Json(Envelope::new(outcomes)))
}

/// The window and module of `GET /outcomes/stats`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// One module (default: all).
    module: Option<String>,
    /// The last this many days, 1 to 3650 (default 30).
    #[param(minimum = 1, maximum = 3650)]
    days: Option<i64>,
}

/// Outcome counts over a window.
#[derive(Debug, Serialize, ToSchema)]
pub struct OutcomeStats {
    pub module: Option<String>,
    pub days: i64,
    pub counts: OutcomeCounts,
    /// Successes over resurrections; null with none.
    pub success_rate: Option<f64>,
}

#[utoipa::path(get, path = "/api/v1/outcomes/stats", tag = "outcomes",
    params(StatsQuery),
    responses((status = 200, description = "Counts and success rate", body = Envelope<OutcomeStats>),
              (status = 422, description = "A parameter is wrong", body = ErrorEnvelope)))]
pub async fn stats(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    _: Viewer,
) -> Result<Json<Envelope<OutcomeStats>>, ApiError> {
    let q: StatsQuery = query(raw.as_deref())?;
    let days = match q.days {
        None => 30,
        Some(d) if (1..=3650).contains(&d) => d,
        Some(d) => return Err(invalid("days", format!("{d} must be 1 to 3650"))),
    };
    let now = Utc::now();
    let from = now - Duration::days(days);
    let to = now + Duration::seconds(1);
    let store = state.engine.decider.store.clone();
    let module = q.module.clone();
    let counts = state
        .reads
        .run(move |_| {
            Ok(match &module {
                Some(m) => store.module_counts_between(m, from, to)?,
                None => store.counts_between(from, to)?,
            })
        })
        .await?;
    Ok(Json(Envelope::new(OutcomeStats {
        module: q.module,
        days,
        counts,
        success_rate: counts.success_rate(),
    })))
}
