//! `GET /api/v1/reports/daily?date=YYYY-MM-DD` (default: today, UTC).

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

pub async fn daily(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<DailyQuery>,
) -> Result<Json<Value>, ApiError> {
    state.keys.check(&headers, Role::Viewer)?;
    let date = match q.date {
        None => Utc::now().date_naive(),
        Some(d) => NaiveDate::parse_from_str(&d, "%Y-%m-%d").map_err(|_| ApiError::Invalid {
            field: "date".into(),
            problem: format!("{d:?} is not a date (YYYY-MM-DD)"),
        })?,
    };
    let report = report::daily(&state.decider.store, date)?;
    Ok(Json(envelope(report)))
}
