//! A client of the running engine's API for the CLI: the URL from the
//! config (or `--url`; https when the API serves TLS, trusting `--ca-file`
//! too), the key from `MEDIC_API_KEY`, and errors that say what the engine
//! answered.

use anyhow::{Context, bail};
use serde_json::Value;

use crate::cli::{ConfigFiles, Remote};

/// A client of the running engine's API.
pub struct Api {
    base: String,
    key: String,
    client: reqwest::Client,
    runtime: tokio::runtime::Runtime,
}

impl Api {
    pub fn new(files: &ConfigFiles, remote: &Remote) -> anyhow::Result<Api> {
        let base = match &remote.url {
            Some(u) => u.trim_end_matches('/').to_string(),
            None => {
                // Only the API's address is needed: the medic file alone
                // (`--constitution` is the running Medic's concern).
                let env = |k: &str| std::env::var(k).ok();
                let medic = crate::config::Config::load_medic_file(files.config.as_deref(), &env)?;
                let web = &medic.interfaces.web;
                let scheme = if web.tls.enabled { "https" } else { "http" };
                format!("{scheme}://{}:{}", web.host, web.port)
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
            client: crate::http_client::build(
                std::time::Duration::from_secs(30),
                remote.ca_file.as_deref().map(std::path::Path::new),
                "--ca-file",
            )
            .map_err(anyhow::Error::msg)?,
            runtime: tokio::runtime::Runtime::new()?,
        })
    }

    /// Calls the API; an error answer becomes an error naming what the
    /// engine said. Returns the envelope's `data`.
    pub fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let bytes = self.send(method, path, body)?;
        let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok(value["data"].clone())
    }

    /// A GET whose answer is not an envelope (the weekly report as HTML):
    /// its body as text.
    pub fn get_text(&self, path: &str) -> anyhow::Result<String> {
        let bytes = self.send(reqwest::Method::GET, path, None)?;
        String::from_utf8(bytes).context("the running Medic answered with text that is not UTF-8")
    }

    /// Sends a request; the body of a successful answer, or an error naming
    /// what the engine said.
    fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Vec<u8>> {
        let url = format!("{}{path}", self.base);
        let (status, bytes) = self
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
                let bytes = resp.bytes().await?;
                Ok::<_, reqwest::Error>((status, bytes.to_vec()))
            })
            .with_context(|| format!("cannot reach the running Medic at {url} (is `medic serve` running, with its API on?)"))?;
        if !status.is_success() {
            let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
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
        Ok(bytes)
    }
}

pub fn print_json(v: &Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}
