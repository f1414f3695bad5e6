//! `medic queue` and `medic mode` (the CLI of the manual phase), through the
//! running engine's API, so decisions made here go through the same checks,
//! audit and workflow as any other.

use serde_json::json;

use super::remote::{Api, print_json};

use crate::cli::{ConfigFiles, Format, ModeCommand, QueueCommand, Remote, ShadowCommand};

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

pub fn shadow(files: &ConfigFiles, remote: &Remote, command: &ShadowCommand) -> anyhow::Result<()> {
    let api = Api::new(files, remote)?;
    match command {
        ShadowCommand::Report { hours, format } => {
            let data = api.call(
                reqwest::Method::GET,
                &format!("/api/v1/shadow?hours={hours}"),
                None,
            )?;
            if *format == Format::Json {
                return print_json(&data);
            }
            let r = &data["report"];
            match (data["scorer"].as_str(), data["strategy"].as_str()) {
                (Some(sc), Some(st)) => println!(
                    "shadow of {}: scorer {sc}, strategy {st}",
                    data["phase"].as_str().unwrap_or("")
                ),
                _ => println!(
                    "no shadow is bound for {} (plugins.<phase>.shadow in the constitution)",
                    data["phase"].as_str().unwrap_or("")
                ),
            }
            println!(
                "judged {} kill(s), agreed on {} ({:.1}%), {} plugin error(s), {} not shadowed (queue full)",
                r["judged"],
                r["agreed"],
                100.0 * r["agreement"].as_f64().unwrap_or(0.0),
                r["errors"],
                data["skipped"]
            );
            println!(
                "truth known for {} ({} threat(s))",
                r["known"], r["known_threats"]
            );
            for (count, list, what) in [
                (
                    "would_revive_threats",
                    "revive_threats",
                    "known threats it would have brought back alone",
                ),
                (
                    "would_recover_sooner",
                    "recover_sooner",
                    "false positives it would have brought back sooner",
                ),
                (
                    "would_hold_threats",
                    "hold_threats",
                    "threats brought back alone that it would have held",
                ),
            ] {
                println!("{}: {what}", r[count]);
                for k in r[list].as_array().into_iter().flatten() {
                    println!(
                        "  {} {} (live {}, shadow {})",
                        k["kill_id"].as_str().unwrap_or(""),
                        k["module"].as_str().unwrap_or(""),
                        k["live"].as_str().unwrap_or(""),
                        k["shadow"].as_str().unwrap_or("")
                    );
                }
            }
            Ok(())
        }
        ShadowCommand::Promote {
            phase,
            override_reason,
        } => {
            let data = api.call(
                reqwest::Method::POST,
                "/api/v1/shadow/promote",
                Some(json!({"phase": phase, "override_reason": override_reason})),
            )?;
            println!(
                "{phase}: scorer {}, strategy {} (promoted; the gate replayed {} kill(s))",
                data["promoted"]["risk_scorer"]["name"]
                    .as_str()
                    .unwrap_or(""),
                data["promoted"]["strategy"]["name"].as_str().unwrap_or(""),
                data["gate"]["replayed"].as_u64().unwrap_or(0)
            );
            Ok(())
        }
    }
}
