//! `GET /api/v1/reports/daily?date=YYYY-MM-DD` (default: today, UTC) and
//! `GET /api/v1/reports/weekly?date=&format=html` (the week ending that day).

use axum::Json;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use chrono::{NaiveDate, Utc};
use serde::Deserialize;
use serde_json::Value;

use super::{ApiError, AppState, envelope};
use crate::config::raw::Role;
use crate::report;

#[derive(Deserialize)]
pub struct DailyQuery {
    date: Option<String>,
}

/// The `date` asked for, or today (UTC).
fn day(date: Option<&str>) -> Result<NaiveDate, ApiError> {
    match date {
        None => Ok(Utc::now().date_naive()),
        Some(d) => NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| ApiError::Invalid {
            field: "date".into(),
            problem: format!("{d:?} is not a date (YYYY-MM-DD)"),
        }),
    }
}

pub async fn daily(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<DailyQuery>,
) -> Result<Json<Value>, ApiError> {
    state.keys.check(&headers, Role::Viewer)?;
    let report = report::daily(&state.decider.store, day(q.date.as_deref())?)?;
    Ok(Json(envelope(report)))
}

#[derive(Deserialize)]
pub struct WeeklyQuery {
    date: Option<String>,
    format: Option<String>,
}

pub async fn weekly(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<WeeklyQuery>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    state.keys.check(&headers, Role::Viewer)?;
    let report = crate::learn::weekly::weekly(&state.decider.store, day(q.date.as_deref())?)?;
    match q.format.as_deref() {
        None | Some("json") => Ok(Json(envelope(report)).into_response()),
        Some("html") => {
            Ok(axum::response::Html(crate::learn::weekly::html(&report)).into_response())
        }
        Some(other) => Err(ApiError::Invalid {
            field: "format".into(),
            problem: format!("{other:?} is not json or html"),
        }),
    }
}
