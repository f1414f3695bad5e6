//! `GET /api/v1/reports/daily?date=YYYY-MM-DD` (default: today, UTC) and
//! `GET /api/v1/reports/weekly?date=&format=html` (the week ending that day).

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::response::{Html, IntoResponse, Response};
use chrono::{NaiveDate, Utc};
use serde::Deserialize;
use utoipa::IntoParams;

use super::envelope::{Envelope, ErrorEnvelope};
use super::params::{invalid, query};
use super::role::Viewer;
use super::{ApiError, AppState};
use crate::learn::weekly::WeeklyReport;
use crate::report::{self, DailyReport};

/// The day a daily report is for.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DailyQuery {
    /// YYYY-MM-DD (default: today, UTC).
    #[param(format = Date)]
    date: Option<String>,
}

/// The `date` asked for, or today (UTC).
fn day(date: Option<&str>) -> Result<NaiveDate, ApiError> {
    match date {
        None => Ok(Utc::now().date_naive()),
        Some(d) => NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map_err(|_| invalid("date", format!("{d:?} is not a date (YYYY-MM-DD)"))),
    }
}

#[utoipa::path(get, path = "/api/v1/reports/daily", tag = "reports",
    params(DailyQuery),
    responses((status = 200, description = "One day's decisions in counts", body = Envelope<DailyReport>),
              (status = 422, description = "Not a date", body = ErrorEnvelope)))]
pub async fn daily(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    _: Viewer,
) -> Result<Json<Envelope<DailyReport>>, ApiError> {
    let q: DailyQuery = query(raw.as_deref())?;
    let date = day(q.date.as_deref())?;
    let store = state.engine.decider.store.clone();
    let report = state
        .reads
        .run(move |_| Ok(report::daily(&store, date)?))
        .await?;
    Ok(Json(Envelope::new(report)))
}

/// How a weekly report is written.
#[derive(Debug, Clone, Copy, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportFormat {
    #[default]
    Json,
    Html,
}

/// The week a weekly report is for, and its form.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WeeklyQuery {
    /// The week's last day, YYYY-MM-DD (default: today, UTC).
    #[param(format = Date)]
    date: Option<String>,
    /// `json` (default) or `html` (a self-contained page).
    #[param(inline)]
    format: Option<ReportFormat>,
}

#[utoipa::path(get, path = "/api/v1/reports/weekly", tag = "reports",
    params(WeeklyQuery),
    responses((status = 200, description = "The week's outcomes, modules, threshold changes and patterns", content(
                  (Envelope<WeeklyReport> = "application/json"),
                  (String = "text/html"))),
              (status = 422, description = "Not a date, or an unknown format", body = ErrorEnvelope)))]
pub async fn weekly(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
    _: Viewer,
) -> Result<Response, ApiError> {
    let q: WeeklyQuery = query(raw.as_deref())?;
    let date = day(q.date.as_deref())?;
    let store = state.engine.decider.store.clone();
    let report = state
        .reads
        .run(move |_| Ok(crate::learn::weekly::weekly(&store, date)?))
        .await?;
    Ok(match q.format.unwrap_or_default() {
        ReportFormat::Json => Json(Envelope::new(report)).into_response(),
        ReportFormat::Html => Html(crate::learn::weekly::html(&report)).into_response(),
    })
}
