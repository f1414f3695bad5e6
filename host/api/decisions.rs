//! Decisions over HTTP (spec §9.1 `/decisions`): the newest first, filtered
//! by module, outcome, risk level and time, paged with a cursor; one
//! decision whole, with its kill and SIEM context. Viewers and up.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::params::{invalid, parse_enum, parse_limit, parse_time};
use super::{ApiError, AppState, envelope};
use crate::config::raw::Role;
use crate::model::{DecisionOutcome, RiskLevel};

pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    state.keys.check(&headers, Role::Viewer)?;
    let mut module = None;
    let mut outcome: Option<DecisionOutcome> = None;
    let mut risk: Option<RiskLevel> = None;
    let mut from = DateTime::<Utc>::MIN_UTC;
    let mut to = DateTime::<Utc>::MAX_UTC;
    let mut limit = 50usize;
    let mut cursor: Option<(DateTime<Utc>, String)> = None;
    for (k, v) in &q {
        match k.as_str() {
            "module" => module = Some(v.clone()),
            "outcome" => outcome = Some(parse_enum(k, v)?),
            "risk_level" => risk = Some(parse_enum(k, v)?),
            "from" => from = parse_time(k, v)?,
            "to" => to = parse_time(k, v)?,
            // The previous page's `next_cursor`.
            "cursor" => {
                cursor = Some(
                    v.split_once('.')
                        .and_then(|(ms, kill)| {
                            let t = DateTime::<Utc>::from_timestamp_millis(ms.parse().ok()?)?;
                            Some((t, kill.to_string()))
                        })
                        .ok_or_else(|| {
                            invalid(k, format!("{v:?} is not a cursor from this API"))
                        })?,
                )
            }
            "limit" => limit = parse_limit(k, v)?,
            other => {
                return Err(invalid(
                    other,
                    "unknown filter (module, outcome, risk_level, from, to, cursor, limit)".into(),
                ));
            }
        }
    }
    let below = cursor.as_ref().map(|(t, k)| (*t, k.as_str()));
    let records = state
        .decider
        .store
        .records_newest(from, to, below, limit, |r| {
            module.as_ref().is_none_or(|m| r.kill.target_module == *m)
                && outcome.is_none_or(|o| r.decision.outcome == o)
                && risk.is_none_or(|l| r.decision.risk_level == l)
        })?;
    let next = (records.len() == limit)
        .then(|| {
            records.last().map(|r| {
                format!(
                    "{}.{}",
                    r.decision.timestamp.timestamp_millis(),
                    r.kill.kill_id
                )
            })
        })
        .flatten();
    let decisions: Vec<_> = records.into_iter().map(|r| r.decision).collect();
    Ok(Json(envelope(
        json!({"decisions": decisions, "next_cursor": next}),
    )))
}

pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    state.keys.check(&headers, Role::Viewer)?;
    let rec = state
        .decider
        .store
        .record(&id)?
        .ok_or_else(|| ApiError::NotFound(format!("decision {id}")))?;
    Ok(Json(envelope(rec)))
}
