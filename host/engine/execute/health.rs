//! One health check of a resurrected module, as configured per backend:
//! an HTTP status, a TCP connect, a command exiting 0, or the backend's own
//! status. A check that cannot be made counts as a failed one.

use std::time::Instant;

use super::backend::Bound;
use super::command;
use super::template::Target;
use crate::config::raw::{HealthCheckSection, HealthCheckType};

pub use crate::monitor::Probe;

pub struct HealthCheck {
    section: HealthCheckSection,
    client: reqwest::Client,
}

impl HealthCheck {
    pub fn new(section: &HealthCheckSection) -> Result<HealthCheck, String> {
        Ok(HealthCheck {
            client: crate::http_client::build(section.timeout, None, "health_check")?,
            section: section.clone(),
        })
    }

    /// What is checked, for the request record.
    pub fn describe(&self, t: &Target) -> String {
        let s = &self.section;
        match s.kind {
            HealthCheckType::Backend => "backend status".into(),
            HealthCheckType::Http => format!("GET {} → {}", t.fill(&s.url), s.expect_status),
            HealthCheckType::Tcp => format!("tcp {}", s.address),
            HealthCheckType::Command => format!("command {}", s.command.join(" ")),
        }
    }

    pub async fn probe(&self, bound: &Bound, t: &Target) -> Probe {
        let started = Instant::now();
        let timeout = self.section.timeout;
        let s = &self.section;
        let result: Result<(), String> = match s.kind {
            HealthCheckType::Backend => match bound.backend.status(t).await {
                Ok(true) => Ok(()),
                Ok(false) => Err("not running".into()),
                Err(e) => Err(e.to_string()),
            },
            HealthCheckType::Http => match t.check() {
                Err(e) => Err(e.to_string()),
                Ok(()) => match self.client.get(t.fill(&s.url)).send().await {
                    Ok(r) if r.status().as_u16() == s.expect_status => Ok(()),
                    Ok(r) => Err(format!("HTTP {}", r.status().as_u16())),
                    Err(e) => Err(e.to_string()),
                },
            },
            HealthCheckType::Tcp => {
                match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(&s.address))
                    .await
                {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(_) => Err("connect timed out".into()),
                }
            }
            HealthCheckType::Command => {
                match command::run("health_check", &s.command, t, timeout).await {
                    Ok(out) if out.status.success() => Ok(()),
                    Ok(out) => Err(format!("exited with {}", out.status)),
                    Err(e) => Err(e.to_string()),
                }
            }
        };
        Probe {
            healthy: result.is_ok(),
            latency: started.elapsed(),
            detail: result.err(),
        }
    }
}
