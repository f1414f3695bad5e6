//! Resurrection backends: how a module is started again, rolled back, and
//! asked whether it runs. Chosen per module by the first
//! `resurrection.backends` entry whose `modules` match.

use std::sync::Arc;
use std::time::Duration;

use super::template::{Target, UnsafeValue};
use crate::config::raw::{BackendSection, BackendType};
use crate::enrich::BoxFuture;

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum BackendError {
    #[error(transparent)]
    Unsafe(#[from] UnsafeValue),
    #[error("{action} failed to start: {detail}")]
    Spawn {
        action: &'static str,
        detail: String,
    },
    #[error("{action} exited with {code}: {output}")]
    Exit {
        action: &'static str,
        code: String,
        output: String,
    },
    #[error("{action} timed out after {seconds:.1} s")]
    Timeout { action: &'static str, seconds: f64 },
    #[error("{action}: webhook answered HTTP {status}: {body}")]
    Http {
        action: &'static str,
        status: u16,
        body: String,
    },
    #[error("{action}: webhook unreachable: {detail}")]
    Unreachable {
        action: &'static str,
        detail: String,
    },
    #[error("{0} is not configured for this backend")]
    Unsupported(&'static str),
    #[error("backend misconfigured: {0}")]
    Config(String),
}

/// One way of bringing modules back.
pub trait Backend: Send + Sync {
    /// `process`, `command` or `webhook`.
    fn kind(&self) -> &'static str;
    /// Starts the module again.
    fn restart<'a>(&'a self, t: &'a Target) -> BoxFuture<'a, Result<(), BackendError>>;
    /// Undoes a resurrection: takes the module back down.
    fn rollback<'a>(&'a self, t: &'a Target) -> BoxFuture<'a, Result<(), BackendError>>;
    /// Whether the module runs, as far as the backend can tell.
    fn status<'a>(&'a self, t: &'a Target) -> BoxFuture<'a, Result<bool, BackendError>>;
}

/// A backend with the configuration it was built from.
pub struct Bound {
    pub section: BackendSection,
    pub backend: Arc<dyn Backend>,
}

/// Every configured backend, in the order they are matched.
#[derive(Default)]
pub struct Backends {
    entries: Vec<Bound>,
}

/// A call's limit when the entry sets none.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(30);

pub fn call_timeout(s: &BackendSection) -> Duration {
    if s.timeout.is_zero() {
        DEFAULT_CALL_TIMEOUT
    } else {
        s.timeout
    }
}

impl Backends {
    pub fn from_config(
        sections: &[BackendSection],
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Backends, BackendError> {
        let mut entries = Vec::new();
        for s in sections {
            let backend: Arc<dyn Backend> = match s.kind {
                BackendType::Process => Arc::new(super::process::ProcessBackend::new(s.clone())),
                BackendType::Command => Arc::new(super::command::CommandBackend::new(s.clone())),
                BackendType::Webhook => Arc::new(super::webhook::WebhookBackend::new(s, env)?),
            };
            entries.push(Bound {
                section: s.clone(),
                backend,
            });
        }
        Ok(Backends { entries })
    }

    /// Where an entry is in config order.
    pub fn index_of(&self, bound: &Bound) -> Option<usize> {
        self.entries.iter().position(|b| std::ptr::eq(b, bound))
    }

    /// The backend serving `module`, if any.
    pub fn for_module(&self, module: &str) -> Option<&Bound> {
        self.entries.iter().find(|b| b.section.serves(module))
    }
}
