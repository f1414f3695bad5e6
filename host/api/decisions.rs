//! Decisions over HTTP (`/api/v1/decisions`): the newest first, filtered
//! by module, outcome, risk level and time, paged with a cursor; the same
//! pages as whole records (`/decisions/records`, for `medic record`); one
//! decision whole, with its kill and SIEM context. Viewers and up.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::envelope::{Envelope, ErrorEnvelope};
use super::params::{invalid, limit, query, window};
use super::role::Viewer;
use super::{ApiError, AppState};
use crate::model::{Decision, DecisionOutcome, RiskLevel};
use crate::store::{DecisionRecord, Newest};

/// Filters and paging for `GET /decisions`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DecisionQuery {
    /// Only this module's decisions.
    module: Option<String>,
    /// Only decisions with this outcome.
    outcome: Option<DecisionOutcome>,
    /// Only decisions at this risk level.
    risk_level: Option<RiskLevel>,
    /// Decided at or after this time (RFC 3339).
    from: Option<DateTime<Utc>>,
    /// Decided at or before this time (RFC 3339).
    to: Option<DateTime<Utc>>,
    /// The previous page's `next_cursor`.
    #[param(pattern = "^[0-9]{1,15}[.][A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")]
    cursor: Option<String>,
    /// Page size, 1 to 1000 (default 50).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

/// A page of decisions, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct DecisionPage {
    pub decisions: Vec<Decision>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
    /// True when the scan stopped at its time budget
    /// (`interfaces.web.read_budget_ms`) before the page was full: there
    /// may be more decisions that match from `next_cursor` on.
    pub partial: bool,
}

/// A cursor (`millis.kill_id`) back into a time and a kill.
fn cursor(v: &str) -> Result<(DateTime<Utc>, String), ApiError> {
    v.split_once('.')
        .and_then(|(ms, kill)| {
            let t = DateTime::<Utc>::from_timestamp_millis(ms.parse().ok()?)?;
            Some((t, kill.to_string()))
        })
        .ok_or_else(|| invalid("cursor", format!("{v:?} is not a cursor from this API")))
}

/// Decision records whole — each decision with its kill and the SIEM
/// context Medic saw — newest first, filtered and paged as `GET
/// /decisions` (what `medic record` exports while `medic serve` holds the
/// store).
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordPage {
    pub records: Vec<DecisionRecord>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
    /// True when the scan stopped at its time budget
    /// (`interfaces.web.read_budget_ms`) before the page was full: there
    /// may be more records that match from `next_cursor` on.
    pub partial: bool,
}

/// One page of records matching the query, the cursor after it and whether
/// the scan stopped at its budget.
async fn newest(
    state: &AppState,
    raw: Option<&str>,
) -> Result<(Vec<DecisionRecord>, Option<String>, bool), ApiError> {
    let q: DecisionQuery = query(raw)?;
    let (from, to) = window(q.from, q.to);
    let limit = limit("limit", q.limit, 50)?;
    let after = q.cursor.as_deref().map(cursor).transpose()?;
    let store = state.engine.decider.store.clone();
    let scan = state
        .reads
        .run(move |budget| {
            let page = Newest {
                from,
                to,
                below: after.as_ref().map(|(t, k)| (*t, k.as_str())),
                limit,
                module: q.module.as_deref(),
            };
            Ok(store.records_newest(&page, &budget, |r| {
                q.outcome.is_none_or(|o| r.decision.outcome == o)
                    && q.risk_level.is_none_or(|l| r.decision.risk_level == l)
            })?)
        })
        .await?;
    let partial = scan.stopped.is_some();
    let next_cursor = match scan.stopped {
        Some((ms, kill_id)) => Some(format!("{ms}.{kill_id}")),
        None => (scan.records.len() == limit)
            .then(|| {
                scan.records.last().map(|r| {
                    format!(
                        "{}.{}",
                        r.decision.timestamp.timestamp_millis(),
                        r.kill.kill_id
                    )
                })
            })
            .flatten(),
    };
    Ok((scan.records, next_cursor, partial))
}

#[utoipa::path(get, path = "/api/v1/decisions", tag = "decisions",
    params(DecisionQuery),
    responses((status = 200, description = "Decisions, newest first", body = Envelope<DecisionPage>),
              (status = 422, description = "A filter is wrong", body = ErrorEnvelope),
              (status = 503, description = "Other reads have the store's turn (busy): retry after Retry-After", body = ErrorEnvelope)))]
pub async fn list(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    _: Viewer,
) -> Result<Json<Envelope<DecisionPage>>, ApiError> {
    let (records, next_cursor, partial) = newest(&state, raw.as_deref()).await?;
    let decisions = records.into_iter().map(|r| r.decision).collect();
    Ok(Json(Envelope::new(DecisionPage {
        decisions,
        next_cursor,
        partial,
    })))
}

#[utoipa::path(get, path = "/api/v1/decisions/records", tag = "decisions",
    params(DecisionQuery),
    responses((status = 200, description = "Decision records (decision, kill and SIEM context), newest first", body = Envelope<RecordPage>),
              (status = 422, description = "A filter is wrong", body = ErrorEnvelope),
              (status = 503, description = "Other reads have the store's turn (busy): retry after Retry-After", body = ErrorEnvelope)))]
pub async fn records(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    _: Viewer,
) -> Result<Json<Envelope<RecordPage>>, ApiError> {
    let (records, next_cursor, partial) = newest(&state, raw.as_deref()).await?;
    Ok(Json(Envelope::new(RecordPage {
        records,
        next_cursor,
        partial,
    })))
}

#[utoipa::path(get, path = "/api/v1/decisions/{decision_id}", tag = "decisions",
    params(("decision_id" = String, Path, description = "A decision id")),
    responses((status = 200, description = "The decision with its kill and SIEM context", body = Envelope<DecisionRecord>),
              (status = 404, description = "No such decision", body = ErrorEnvelope)))]
pub async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
    _: Viewer,
) -> Result<Json<Envelope<DecisionRecord>>, ApiError> {
    let rec = state
        .engine
        .decider
        .store
        .record(&id)?
        .ok_or_else(|| ApiError::NotFound(format!("decision {id}")))?;
    Ok(Json(Envelope::new(rec)))
}
