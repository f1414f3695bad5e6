//! `medic report daily|weekly`: from the store, or — when a running engine
//! holds the store — from its API (with `MEDIC_API_KEY`; the address and
//! TLS as for `medic queue`).

use anyhow::Context;
use chrono::NaiveDate;
use reqwest::Method;

use super::remote::Api;
use crate::cli::{ConfigFiles, Remote, ReportCommand, ReportFormat};
use crate::learn::weekly;
use crate::report;
use crate::store::{Store, StoreError};

fn day(date: Option<&str>) -> anyhow::Result<NaiveDate> {
    match date {
        Some(d) => NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .with_context(|| format!("--date {d:?} is not YYYY-MM-DD")),
        None => Ok(chrono::Utc::now().date_naive()),
    }
}

pub fn run(files: &ConfigFiles, remote: &Remote, command: &ReportCommand) -> anyhow::Result<()> {
    let config = super::load_config(files)?;
    let (route, date, html) = match command {
        ReportCommand::Daily { date } => ("daily", day(date.as_deref())?, false),
        ReportCommand::Weekly { date, format } => (
            "weekly",
            day(date.as_deref())?,
            *format == ReportFormat::Html,
        ),
    };
    let path = Store::describe(&config.medic.learning.database);
    let out = match Store::open_configured(&config.medic.learning.database) {
        Ok(store) => match (route, html) {
            ("daily", _) => serde_json::to_string_pretty(&report::daily(&store, date)?)?,
            (_, false) => serde_json::to_string_pretty(&weekly::weekly(&store, date)?)?,
            (_, true) => weekly::html(&weekly::weekly(&store, date)?),
        },
        Err(StoreError::Locked { .. }) => {
            // A running Medic holds the store: ask it instead.
            let api = Api::new(files, remote).with_context(|| {
                format!("the store at {path} is held by a running medic, so the report comes from its API")
            })?;
            let at = format!("/api/v1/reports/{route}?date={date}");
            // Only the weekly report comes in more than one form.
            match (route, html) {
                ("daily", _) => serde_json::to_string_pretty(&api.call(Method::GET, &at, None)?)?,
                (_, true) => api.get_text(&format!("{at}&format=html"))?,
                (_, false) => serde_json::to_string_pretty(&api.call(
                    Method::GET,
                    &format!("{at}&format=json"),
                    None,
                )?)?,
            }
        }
        Err(e) => return Err(e).with_context(|| format!("opening the store at {path}")),
    };
    println!("{out}");
    Ok(())
}
