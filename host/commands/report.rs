//! `medic report daily`.

use std::path::Path;

use anyhow::{Context, bail};
use chrono::NaiveDate;

use crate::cli::{ConfigFiles, ReportCommand};
use crate::report;
use crate::store::Store;

pub fn run(files: &ConfigFiles, command: &ReportCommand) -> anyhow::Result<()> {
    let config = super::load_config(files)?;
    let ReportCommand::Daily { date } = command;
    let day = match date {
        Some(d) => NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .with_context(|| format!("--date {d:?} is not YYYY-MM-DD"))?,
        None => chrono::Utc::now().date_naive(),
    };
    let path = &config.medic.learning.database.path;
    match Store::open(Path::new(path)) {
        Ok(store) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&report::daily(&store, day)?)?
            );
            Ok(())
        }
        Err(local) => {
            // A running engine holds the store: ask it instead.
            let web = &config.medic.interfaces.web;
            let url = format!(
                "http://{}:{}/api/v1/reports/daily?date={day}",
                web.host, web.port
            );
            let Ok(key) = std::env::var("MEDIC_API_KEY") else {
                bail!(
                    "cannot open the store at {path} ({local}); if a medic is running, set MEDIC_API_KEY to ask it"
                );
            };
            let runtime = tokio::runtime::Runtime::new()?;
            let body: serde_json::Value = runtime
                .block_on(async {
                    reqwest::Client::new()
                        .get(&url)
                        .header("X-API-Key", key)
                        .send()
                        .await?
                        .error_for_status()?
                        .json()
                        .await
                })
                .with_context(|| {
                    format!("the store at {path} is in use ({local}) and {url} did not answer")
                })?;
            println!("{}", serde_json::to_string_pretty(&body["data"])?);
            Ok(())
        }
    }
}
