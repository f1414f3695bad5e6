//! The connection to Smith's event bus (`smith.event_bus`), shared by the
//! kill consumer (`ingest::redis`) and the veto channel (`execute::veto`).

use crate::config::raw::EventBusSection;

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("smith.event_bus.tls_ca_file {path}: {source}")]
    TlsCa {
        path: String,
        source: std::io::Error,
    },
}

/// The stream URL from `smith.event_bus` (`url`, or host and port).
pub fn url(bus: &EventBusSection) -> String {
    if bus.url.is_empty() {
        format!("redis://{}:{}", bus.host, bus.port)
    } else {
        bus.url.clone()
    }
}

/// A client for `smith.event_bus`: for `rediss://`, TLS trusting the CA in
/// `tls_ca_file` (or the public roots when it is empty).
pub fn client(bus: &EventBusSection) -> Result<redis::Client, BusError> {
    let url = url(bus);
    if url.starts_with("rediss://") && !bus.tls_ca_file.is_empty() {
        let pem = std::fs::read(&bus.tls_ca_file).map_err(|source| BusError::TlsCa {
            path: bus.tls_ca_file.clone(),
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
