//! `medic report daily|weekly`: from the store, or — when a running engine
//! holds the store — from its API (with `MEDIC_API_KEY`).

use std::path::Path;

use anyhow::{Context, bail};
use chrono::NaiveDate;

use crate::cli::{ConfigFiles, ReportCommand, ReportFormat};
use crate::learn::weekly;
use crate::report;
use crate::store::Store;

fn day(date: Option<&str>) -> anyhow::Result<NaiveDate> {
    match date {
        Some(d) => NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .with_context(|| format!("--date {d:?} is not YYYY-MM-DD")),
        None => Ok(chrono::Utc::now().date_naive()),
    }
}

pub fn run(files: &ConfigFiles, command: &ReportCommand) -> anyhow::Result<()> {
    let config = super::load_config(files)?;
    let (route, date, html) = match command {
        ReportCommand::Daily { date } => ("daily", day(date.as_deref())?, false),
        ReportCommand::Weekly { date, format } => (
            "weekly",
            day(date.as_deref())?,
            *format == ReportFormat::Html,
        ),
    };
    let path = &config.medic.learning.database.path;
    match Store::open(Path::new(path)) {
        Ok(store) => {
            let out = match (route, html) {
                ("daily", _) => serde_json::to_string_pretty(&report::daily(&store, date)?)?,
                (_, false) => serde_json::to_string_pretty(&weekly::weekly(&store, date)?)?,
                (_, true) => weekly::html(&weekly::weekly(&store, date)?),
            };
            println!("{out}");
            Ok(())
        }
        Err(local) => {
            // A running engine holds the store: ask it instead.
            let web = &config.medic.interfaces.web;
            // Only the weekly report comes in more than one form.
            let format = match (route, html) {
                ("daily", _) => "",
                (_, true) => "&format=html",
                (_, false) => "&format=json",
            };
            let url = format!(
                "http://{}:{}/api/v1/reports/{route}?date={date}{format}",
                web.host, web.port
            );
            let Ok(key) = std::env::var("MEDIC_API_KEY") else {
                bail!(
                    "cannot open the store at {path} ({local}); if a medic is running, set MEDIC_API_KEY to ask it"
                );
            };
            let runtime = tokio::runtime::Runtime::new()?;
            let body = runtime
                .block_on(async {
                    reqwest::Client::new()
                        .get(&url)
                        .header("X-API-Key", key)
                        .send()
                        .await?
                        .error_for_status()?
                        .text()
                        .await
                })
                .with_context(|| {
                    format!("the store at {path} is in use ({local}) and {url} did not answer")
                })?;
            if html {
                println!("{body}");
            } else {
                let v: serde_json::Value = serde_json::from_str(&body)?;
                println!("{}", serde_json::to_string_pretty(&v["data"])?);
            }
            Ok(())
        }
    }
}
