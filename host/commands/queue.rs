//! `medic queue` and `medic mode`: talk to the running engine over its API
//! (spec §14 phase 2 CLI), so decisions made here go through the same
//! checks, audit and workflow as any other.

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::cli::{ConfigFiles, Format, ModeCommand, QueueCommand, Remote};

/// A client of the running engine's API.
struct Api {
    base: String,
    key: String,
    client: reqwest::Client,
    runtime: tokio::runtime::Runtime,
}

impl Api {
    fn new(files: &ConfigFiles, remote: &Remote) -> anyhow::Result<Api> {
        let base = match &remote.url {
            Some(u) => u.trim_end_matches('/').to_string(),
            None => {
                let config = super::load_config(files)?;
                let web = &config.medic.interfaces.web;
                format!("http://{}:{}", web.host, web.port)
            }
        };
        let Some(key) = remote.api_key.clone() else {
            bail!(
                "no API key: set MEDIC_API_KEY (or pass --api-key) to a key of the running Medic"
            );
        };
        Ok(Api {
            base,
            key,
            client: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(30))
                .build()?,
            runtime: tokio::runtime::Runtime::new()?,
        })
    }

    /// Calls the API; an error answer becomes an error naming what the
    /// engine said.
    fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.base);
        let (status, value) = self
            .runtime
            .block_on(async {
                let mut req = self
                    .client
                    .request(method, &url)
                    .header("X-API-Key", &self.key);
                if let Some(b) = body {
                    req = req.json(&b);
                }
                let resp = req.send().await?;
                let status = resp.status();
                let value: Value = resp.json().await.unwrap_or(Value::Null);
                Ok::<_, reqwest::Error>((status, value))
            })
            .with_context(|| format!("cannot reach the running Medic at {url} (is `medic serve` running, with its API on?)"))?;
        if !status.is_success() {
            let errors: Vec<String> = value["errors"]
                .as_array()
                .map(|es| {
                    es.iter()
                        .map(|e| match e["field"].as_str() {
                            Some(f) => format!("{f}: {}", e["message"].as_str().unwrap_or("")),
                            None => e["message"].as_str().unwrap_or("").to_string(),
                        })
                        .collect()
                })
                .unwrap_or_default();
            bail!(
                "Medic answered HTTP {}: {}",
                status.as_u16(),
                errors.join("; ")
            );
        }
        Ok(value["data"].clone())
    }
}

fn print_json(v: &Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

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
