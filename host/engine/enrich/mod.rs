//! SIEM enrichment (docs/reference/protocols.md#the-siem): the `rest` adapter
//! with retries, a circuit breaker and a cache; the `file` adapter over a
//! local intel file; and `none`. A failed enrichment never stops a decision:
//! the kill is decided without context and the guardrails refuse to
//! auto-approve it.

pub mod breaker;
pub mod file;
pub mod rest;
pub mod retry;
pub mod sanitize;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::config::Config;
use crate::config::raw::SiemAdapterType;
use crate::model::{KillReport, OutcomeRecord, SiemContext};

/// Futures returned by adapters (boxed: the trait is used as an object).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why a SIEM query failed, by category.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SiemError {
    #[error("SIEM connection failed: {0}")]
    Connection(String),
    #[error("SIEM timed out after {0:.1} s")]
    Timeout(f64),
    #[error("SIEM rate-limited the query")]
    RateLimit,
    #[error("SIEM refused the credentials (HTTP {0})")]
    Authorization(u16),
    #[error("SIEM answered HTTP {0}")]
    External(u16),
    #[error("SIEM answer rejected: {0}")]
    Validation(String),
    #[error("SIEM circuit breaker is open: not queried")]
    CircuitOpen,
    #[error("no intel for module {0}")]
    NotFound(String),
    #[error("SIEM adapter misconfigured: {0}")]
    Configuration(String),
}

impl SiemError {
    /// Connection, timeout and rate-limit failures are retried,
    /// as are the SIEM's own server errors.
    pub fn retryable(&self) -> bool {
        matches!(
            self,
            SiemError::Connection(_) | SiemError::Timeout(_) | SiemError::RateLimit
        ) || matches!(self, SiemError::External(code) if *code >= 500)
    }
}

/// Where SIEM context comes from.
pub trait SiemAdapter: Send + Sync {
    /// Context for one kill.
    fn query_context<'a>(
        &'a self,
        kill: &'a KillReport,
    ) -> BoxFuture<'a, Result<SiemContext, SiemError>>;
    /// Reports a resurrection's outcome back to the SIEM; `Ok(false)` where
    /// there is no SIEM to tell.
    fn report_outcome<'a>(
        &'a self,
        _outcome: &'a OutcomeRecord,
    ) -> BoxFuture<'a, Result<bool, SiemError>> {
        Box::pin(async { Ok(false) })
    }
    /// Whether the SIEM is reachable (for `/health`).
    fn health_check(&self) -> BoxFuture<'_, bool>;
    /// The breaker's state, where there is one: `closed`, `open`, `half_open`.
    fn breaker_state(&self) -> Option<&'static str> {
        None
    }
    /// `rest`, `file` or `none`.
    fn kind(&self) -> &'static str;
}

/// Enrichment switched off.
pub struct NoSiem;

impl SiemAdapter for NoSiem {
    fn query_context<'a>(
        &'a self,
        kill: &'a KillReport,
    ) -> BoxFuture<'a, Result<SiemContext, SiemError>> {
        let module = kill.target_module.clone();
        Box::pin(async move { Err(SiemError::NotFound(module)) })
    }
    fn health_check(&self) -> BoxFuture<'_, bool> {
        Box::pin(async { true })
    }
    fn kind(&self) -> &'static str {
        "none"
    }
}

/// The adapter picked by `siem.adapter`.
pub fn from_config(
    config: &Config,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Arc<dyn SiemAdapter>, SiemError> {
    let s = &config.medic.siem;
    Ok(match s.adapter {
        SiemAdapterType::None => Arc::new(NoSiem),
        SiemAdapterType::File => {
            let path = s.intel_file.as_deref().ok_or_else(|| {
                SiemError::Configuration("siem.intel_file must name the intel file".to_string())
            })?;
            Arc::new(file::FileSiem::new(path)?)
        }
        SiemAdapterType::Rest => {
            let key = env(&s.auth.key_env).ok_or_else(|| {
                SiemError::Configuration(format!(
                    "siem.auth.key_env names {}, which is not set in the environment",
                    s.auth.key_env
                ))
            })?;
            Arc::new(rest::RestSiem::new(s, key)?)
        }
    })
}
