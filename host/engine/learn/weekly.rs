//! The weekly report: outcomes and success rate per day and against the
//! week before, the busiest modules, threshold changes with the success
//! rate before and after each, and the patterns. As JSON, or as a readable
//! page with charts.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use serde::Serialize;

use super::patterns::{self, Patterns};
use crate::html::{esc, stacked_bars};
use crate::model::OutcomeRecord;
use crate::store::{OutcomeCounts, Result, Store, ThresholdChange};

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Day {
    pub date: String,
    pub decisions: usize,
    pub outcomes: OutcomeCounts,
}

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ModuleLine {
    pub module: String,
    pub outcomes: OutcomeCounts,
    pub success_rate: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ChangeEffect {
    pub change: ThresholdChange,
    /// Success rate of the outcomes in the window before and after it.
    pub success_rate_before: Option<f64>,
    pub success_rate_after: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct WeeklyReport {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub decisions: usize,
    pub outcomes: OutcomeCounts,
    pub success_rate: Option<f64>,
    pub previous_week: OutcomeCounts,
    pub previous_success_rate: Option<f64>,
    pub days: Vec<Day>,
    pub modules: Vec<ModuleLine>,
    pub threshold_changes: Vec<ChangeEffect>,
    pub patterns: Patterns,
}

fn counts<'a>(os: impl Iterator<Item = &'a OutcomeRecord>) -> OutcomeCounts {
    let mut c = OutcomeCounts::default();
    for o in os {
        c.add(o.result);
    }
    c
}

/// The week of seven days ending with `last_day` (UTC).
pub fn weekly(store: &Store, last_day: NaiveDate) -> Result<WeeklyReport> {
    let to = Utc.from_utc_datetime(&last_day.and_hms_opt(0, 0, 0).unwrap_or_default())
        + Duration::days(1);
    let from = to - Duration::days(7);
    let outcomes = store.outcomes_between(from, to)?;
    let previous = store.outcomes_between(from - Duration::days(7), from)?;
    // Decisions per day from the time index alone: no record is read.
    let mut per_day = [0usize; 7];
    store.visit_decision_times(from, to, |ms| {
        let day = (ms - from.timestamp_millis()) / Duration::days(1).num_milliseconds();
        if let Some(n) = usize::try_from(day).ok().and_then(|d| per_day.get_mut(d)) {
            *n += 1;
        }
    })?;
    let all = counts(outcomes.iter());
    let before = counts(previous.iter());
    let days = (0..7)
        .map(|d| {
            let start = from + Duration::days(d);
            let end = start + Duration::days(1);
            Day {
                date: start.date_naive().to_string(),
                decisions: per_day[d as usize],
                outcomes: counts(
                    outcomes
                        .iter()
                        .filter(|o| o.recorded_at >= start && o.recorded_at < end),
                ),
            }
        })
        .collect();
    let mut by_module: BTreeMap<&str, OutcomeCounts> = BTreeMap::new();
    for o in &outcomes {
        by_module.entry(&o.target_module).or_default().add(o.result);
    }
    let mut modules: Vec<ModuleLine> = by_module
        .into_iter()
        .map(|(m, c)| ModuleLine {
            module: m.to_string(),
            success_rate: c.success_rate(),
            outcomes: c,
        })
        .collect();
    modules.sort_by_key(|m| std::cmp::Reverse(m.outcomes.resurrections));
    modules.truncate(20);
    let threshold_changes = store
        .threshold_history()?
        .into_iter()
        .filter(|c| c.at >= from && c.at < to)
        .map(|change| ChangeEffect {
            success_rate_before: counts(outcomes.iter().filter(|o| o.recorded_at < change.at))
                .success_rate(),
            success_rate_after: counts(outcomes.iter().filter(|o| o.recorded_at >= change.at))
                .success_rate(),
            change,
        })
        .collect();
    Ok(WeeklyReport {
        from,
        to,
        decisions: per_day.iter().sum(),
        success_rate: all.success_rate(),
        outcomes: all,
        previous_success_rate: before.success_rate(),
        previous_week: before,
        days,
        modules,
        threshold_changes,
        patterns: patterns::analyse(&outcomes, &previous),
    })
}

/// The chart's segments (partial successes count as successes).
const SERIES: [(&str, &str); 4] = [
    ("success", "#2e7d32"),
    ("failure", "#c62828"),
    ("re_killed", "#6a1b9a"),
    ("rollback", "#f9a825"),
];

fn row(c: &OutcomeCounts) -> Vec<u64> {
    [c.successes, c.failures, c.re_kills, c.rollbacks]
        .map(u64::from)
        .to_vec()
}

fn pct(r: Option<f64>) -> String {
    r.map_or_else(|| "–".to_string(), |r| format!("{:.1}%", r * 100.0))
}

/// The report as a self-contained page.
pub fn html(r: &WeeklyReport) -> String {
    let days: Vec<(String, Vec<u64>)> = r
        .days
        .iter()
        .map(|d| (d.date.clone(), row(&d.outcomes)))
        .collect();
    let modules: Vec<(String, Vec<u64>)> = r
        .modules
        .iter()
        .map(|m| (m.module.clone(), row(&m.outcomes)))
        .collect();
    let mut out = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Medic weekly report</title>\
         <style>body{font-family:system-ui,sans-serif;margin:2em;max-width:60em}table{border-collapse:collapse}\
         td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}</style></head><body>",
    );
    out.push_str(&format!(
        "<h1>Medic weekly report</h1><p>{} to {} (UTC). {} decisions; {} resurrections, success rate {} (the week before: {} resurrections, {}).</p>",
        r.from.date_naive(),
        (r.to - Duration::days(1)).date_naive(),
        r.decisions,
        r.outcomes.resurrections,
        pct(r.success_rate),
        r.previous_week.resurrections,
        pct(r.previous_success_rate),
    ));
    out.push_str("<h2>Outcomes per day</h2>");
    out.push_str(&stacked_bars("Outcomes per day", &days, &SERIES));
    out.push_str("<h2>Modules</h2>");
    out.push_str(&stacked_bars("Outcomes per module", &modules, &SERIES));
    out.push_str("<h2>Threshold changes</h2>");
    if r.threshold_changes.is_empty() {
        out.push_str("<p>None this week.</p>");
    } else {
        out.push_str("<table><tr><th>#</th><th>when</th><th>by</th><th>changed</th><th>why</th><th>success before → after</th></tr>");
        for c in &r.threshold_changes {
            let changed: Vec<String> = c
                .change
                .after
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{k}: {} → {v}",
                        c.change.before.get(k).copied().unwrap_or(f64::NAN)
                    )
                })
                .collect();
            out.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} → {}</td></tr>",
                c.change.id,
                c.change.at.format("%Y-%m-%d %H:%M"),
                esc(&c.change.actor),
                esc(&changed.join("; ")),
                esc(&c.change.reasons.join("; ")),
                pct(c.success_rate_before),
                pct(c.success_rate_after)
            ));
        }
        out.push_str("</table>");
    }
    out.push_str("<h2>Patterns</h2><ul>");
    let p = &r.patterns;
    let list = |title: &str, xs: &[patterns::Share], what: &str| -> String {
        if xs.is_empty() {
            return format!("<li>{title}: none.</li>");
        }
        let items: Vec<String> = xs
            .iter()
            .map(|s| {
                format!(
                    "{} ({} of {} {what}, {:.0}%)",
                    esc(&s.key),
                    s.matching,
                    s.outcomes,
                    s.share * 100.0
                )
            })
            .collect();
        format!("<li>{title}: {}</li>", items.join(", "))
    };
    out.push_str(&list(
        "Modules whose kills are mostly false positives",
        &p.false_positive_modules,
        "came back and stayed",
    ));
    out.push_str(&list(
        "Kill reasons whose resurrections get re-killed",
        &p.re_killed_reasons,
        "re-killed",
    ));
    out.push_str(&list(
        "Strategies whose auto-approvals fail",
        &p.failing_strategies,
        "ended badly",
    ));
    let c = &p.calibration;
    out.push_str(&format!(
        "<li>Smith's confidence: {} on {} false alarms, {} on {} confirmed threats (separation {}; drift since last week {}).</li></ul>",
        c.mean_confidence_false_alarms.map_or("–".into(), |m| format!("{m:.2}")),
        c.false_alarms,
        c.mean_confidence_confirmed.map_or("–".into(), |m| format!("{m:.2}")),
        c.confirmed,
        c.separation.map_or("–".into(), |s| format!("{s:+.2}")),
        p.calibration_drift.map_or("–".into(), |d| format!("{d:+.2}")),
    ));
    out.push_str("</body></html>");
    out
}
