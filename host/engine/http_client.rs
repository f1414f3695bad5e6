//! One way to build an outgoing HTTP client: a time limit, and an extra CA
//! to trust when a PEM file is named (the SIEM, webhooks, health checks).

use std::path::Path;
use std::time::Duration;

/// A client with `timeout` on every request; `ca_file`, when named, is
/// trusted in addition to the public roots. `key` names the setting in
/// errors.
pub fn build(
    timeout: Duration,
    ca_file: Option<&Path>,
    key: &str,
) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout);
    if let Some(ca_file) = ca_file {
        let at = |e: &dyn std::fmt::Display| format!("{key} {}: {e}", ca_file.display());
        let pem = std::fs::read(ca_file).map_err(|e| at(&e))?;
        let ca = reqwest::Certificate::from_pem(&pem).map_err(|e| at(&e))?;
        builder = builder.add_root_certificate(ca);
    }
    builder.build().map_err(|e| e.to_string())
}
