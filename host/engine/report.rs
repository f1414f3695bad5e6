//! The daily report (the observer phase's): what was decided on one day, by
//! outcome, risk level, module and kill reason, with plugin errors, SIEM
//! failures and dead letters.

use std::collections::BTreeMap;

use chrono::{NaiveDate, TimeZone, Utc};
use serde::Serialize;

use crate::model::{ContextStatus, wire_name};
use crate::store::{Result, Store};

#[derive(Clone, Debug, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DailyReport {
    pub date: String,
    pub decisions: usize,
    pub by_outcome: BTreeMap<String, usize>,
    pub by_risk_level: BTreeMap<String, usize>,
    pub by_module: BTreeMap<String, usize>,
    pub by_reason: BTreeMap<String, usize>,
    /// Decisions where a plugin failed, by plugin.
    pub plugin_errors: BTreeMap<String, usize>,
    /// Guardrails that changed outcomes, by name.
    pub guardrails: BTreeMap<String, usize>,
    pub siem_failures: usize,
    pub dead_letters: usize,
    pub mean_latency_us: u64,
}

pub fn daily(store: &Store, date: NaiveDate) -> Result<DailyReport> {
    let from = Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0).unwrap_or_default());
    let to = from + chrono::Duration::days(1);
    let mut r = DailyReport {
        date: date.to_string(),
        ..DailyReport::default()
    };
    let mut latency = 0u64;
    // Streamed: a busy day is a hundred thousand records, never held at once.
    store.visit_records_between(from, to, |rec| {
        let d = &rec.decision;
        r.decisions += 1;
        *r.by_outcome.entry(wire_name(&d.outcome)).or_default() += 1;
        *r.by_risk_level.entry(wire_name(&d.risk_level)).or_default() += 1;
        if let Some(n) = r.by_module.get_mut(&d.target_module) {
            *n += 1;
        } else {
            r.by_module.insert(d.target_module.clone(), 1);
        }
        *r.by_reason
            .entry(wire_name(&rec.kill.kill_reason))
            .or_default() += 1;
        for g in &d.guardrails {
            *r.guardrails.entry(g.clone()).or_default() += 1;
        }
        if d.guardrails.iter().any(|g| g == "plugin_error") {
            let plugin = if d.strategy.name.is_empty() {
                &d.scorer.name
            } else {
                &d.strategy.name
            };
            *r.plugin_errors.entry(plugin.clone()).or_default() += 1;
        }
        if matches!(d.context_status, ContextStatus::Failed(_)) {
            r.siem_failures += 1;
        }
        latency += d.latency_us;
    })?;
    r.mean_latency_us = latency.checked_div(r.decisions as u64).unwrap_or(0);
    r.dead_letters = store.dead_letters_count_between(from, to)?;
    Ok(r)
}
