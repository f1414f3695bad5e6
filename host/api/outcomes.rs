//! Outcomes over HTTP (spec §9.1 `/outcomes`): filtered lists and
//! statistics for viewers. Every filter is checked and named when wrong.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use chrono::{Duration, Utc};
use serde_json::{Value, json};

use super::params::{invalid, parse_enum, parse_limit, parse_time};
use super::{ApiError, AppState, envelope};
use crate::config::raw::Role;
use crate::store::OutcomeFilter;

/// The filter and limit in a query string; unknown parameters are errors.
fn filter(q: &HashMap<String, String>) -> Result<(OutcomeFilter, usize), ApiError> {
    let mut f = OutcomeFilter::default();
    let mut limit = 50;
    for (k, v) in q {
        match k.as_str() {
            "module" => f.module = Some(v.clone()),
            "strategy" => f.strategy = Some(v.clone()),
            "result" => f.result = Some(parse_enum(k, v)?),
            "risk_level" => f.risk_level = Some(parse_enum(k, v)?),
            "decision" => f.decision = Some(parse_enum(k, v)?),
            "from" => f.from = Some(parse_time(k, v)?),
            "to" => f.to = Some(parse_time(k, v)?),
            "limit" => limit = parse_limit(k, v)?,
            "days" => {}
            other => {
                return Err(invalid(
                    other,
                    "unknown filter (module, result, risk_level, decision, strategy, from, to, limit)".into(),
                ));
            }
        }
    }
    Ok((f, limit))
}

pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    state.keys.check(&headers, Role::Viewer)?;
    let (f, limit) = filter(&q)?;
    Ok(Json(envelope(
        state.decider.store.query_outcomes(&f, limit)?,
    )))
}

/// `GET /api/v1/outcomes/stats?module=&days=`: counts and success rate
/// over the last `days` (default 30), overall or for one module.
pub async fn stats(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    state.keys.check(&headers, Role::Viewer)?;
    let days: i64 = match q.get("days") {
        None => 30,
        Some(v) => v
            .parse()
            .ok()
            .filter(|d| (1..=3650).contains(d))
            .ok_or_else(|| invalid("days", format!("{v:?} must be 1 to 3650")))?,
    };
    let now = Utc::now();
    let from = now - Duration::days(days);
    let to = now + Duration::seconds(1);
    let store = &state.decider.store;
    let counts = match q.get("module") {
        Some(m) => store.module_counts_between(m, from, to)?,
        None => store.counts_between(from, to)?,
    };
    Ok(Json(envelope(json!({
        "module": q.get("module"),
        "days": days,
        "counts": counts,
        "success_rate": counts.success_rate(),
    }))))
}
