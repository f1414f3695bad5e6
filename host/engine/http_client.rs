//! One way to build an outgoing HTTP client: a time limit, and an extra CA
//! to trust when a PEM file is named (the SIEM, webhooks, health checks).

use std::time::Duration;

/// A client with `timeout` on every request; `ca_file` ("" = none) is
/// trusted in addition to the public roots. `key` names the setting in
/// errors.
pub fn build(timeout: Duration, ca_file: &str, key: &str) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout);
    if !ca_file.is_empty() {
        let pem = std::fs::read(ca_file).map_err(|e| format!("{key} {ca_file}: {e}"))?;
        let ca =
            reqwest::Certificate::from_pem(&pem).map_err(|e| format!("{key} {ca_file}: {e}"))?;
        builder = builder.add_root_certificate(ca);
    }
    builder.build().map_err(|e| e.to_string())
}
