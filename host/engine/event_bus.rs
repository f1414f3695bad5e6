//! The connection to Smith's event bus (`smith.event_bus`), shared by the
//! kill consumer (`ingest::redis`) and the veto channel (`execute::veto`).

use crate::config::raw::EventBusSection;

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("smith.event_bus.tls_ca_file {}: {source}", path.display())]
    TlsCa {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

/// The stream URL from `smith.event_bus` (`url`, or host and port).
pub fn url(bus: &EventBusSection) -> String {
    match &bus.url {
        Some(url) => url.to_string(),
        None => format!("redis://{}:{}", bus.host, bus.port),
    }
}

/// A client for `smith.event_bus`: for `rediss://`, TLS trusting the CA in
/// `tls_ca_file` (or the public roots when it is empty).
pub fn client(bus: &EventBusSection) -> Result<redis::Client, BusError> {
    let url = url(bus);
    if let Some(ca_file) = bus
        .tls_ca_file
        .as_ref()
        .filter(|_| url.starts_with("rediss://"))
    {
        let pem = std::fs::read(ca_file).map_err(|source| BusError::TlsCa {
            path: ca_file.clone(),
            source,
        })?;
        let certs = redis::TlsCertificates {
            client_tls: None,
            root_cert: Some(pem),
        };
        return Ok(redis::Client::build_with_tls(url, certs)?);
    }
    Ok(redis::Client::open(url)?)
}
