//! `medic queue` and `medic mode` (the CLI of the manual phase), through the
//! running engine's API, so decisions made here go through the same checks,
//! audit and workflow as any other.

use serde_json::json;

use super::remote::{Api, print_json};

use crate::cli::{ConfigFiles, Format, ModeCommand, QueueCommand, Remote};

pub fn queue(files: &ConfigFiles, remote: &Remote, command: &QueueCommand) -> anyhow::Result<()> {
    let api = Api::new(files, remote)?;
    match command {
        QueueCommand::List { all, format } => {
            let data = api.call(
                reqwest::Method::GET,
                &format!("/api/v1/queue?all={all}&limit=1000"),
                None,
            )?;
            match format {
                Format::Json => print_json(&data),
                Format::Table => {
                    let items = data["items"].as_array().cloned().unwrap_or_default();
                    println!(
                        "{:<36}  {:<24}  {:<8}  {:<5}  {:<8}  REASON",
                        "ITEM", "MODULE", "RISK", "SCORE", "STATUS"
                    );
                    for i in &items {
                        println!(
                            "{:<36}  {:<24}  {:<8}  {:<5.2}  {:<8}  {}",
                            i["item_id"].as_str().unwrap_or(""),
                            i["kill"]["target_module"].as_str().unwrap_or(""),
                            i["decision"]["risk_level"].as_str().unwrap_or(""),
                            i["decision"]["risk_score"].as_f64().unwrap_or(0.0),
                            i["status"].as_str().unwrap_or(""),
                            i["reason"].as_str().unwrap_or(""),
                        );
                    }
                    let s = &data["stats"];
                    println!(
                        "\n{} pending (max {}), {} approved, {} denied, {} expired",
                        s["pending"], s["max_pending"], s["approved"], s["denied"], s["expired"]
                    );
                    Ok(())
                }
            }
        }
        QueueCommand::Show { id } => {
            print_json(&api.call(reqwest::Method::GET, &format!("/api/v1/queue/{id}"), None)?)
        }
        QueueCommand::Approve { id, notes } => {
            let data = api.call(
                reqwest::Method::POST,
                &format!("/api/v1/queue/{id}/approve"),
                Some(json!({"notes": notes})),
            )?;
            println!(
                "approved {id}: resurrection request {} for {} is {}",
                data["request"]["request_id"].as_str().unwrap_or(""),
                data["request"]["target_module"].as_str().unwrap_or(""),
                data["request"]["status"].as_str().unwrap_or("")
            );
            Ok(())
        }
        QueueCommand::Deny { id, reason } => {
            let data = api.call(
                reqwest::Method::POST,
                &format!("/api/v1/queue/{id}/deny"),
                Some(json!({"reason": reason})),
            )?;
            println!(
                "denied {id}: {} stays down",
                data["kill"]["target_module"].as_str().unwrap_or("")
            );
            Ok(())
        }
    }
}

pub fn mode(files: &ConfigFiles, remote: &Remote, command: &ModeCommand) -> anyhow::Result<()> {
    let api = Api::new(files, remote)?;
    match command {
        ModeCommand::Show => print_json(&api.call(reqwest::Method::GET, "/api/v1/mode", None)?),
        ModeCommand::Set { mode, reason } => {
            let data = api.call(
                reqwest::Method::PUT,
                "/api/v1/mode",
                Some(json!({"mode": mode, "reason": reason})),
            )?;
            println!(
                "mode {} → {}",
                data["previous"].as_str().unwrap_or(""),
                data["current"].as_str().unwrap_or("")
            );
            Ok(())
        }
    }
}
