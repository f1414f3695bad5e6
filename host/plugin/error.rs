//! What can go wrong with a plugin, as values: a failing plugin never takes
//! the host down, and every error names the plugin and the cause.

use std::path::PathBuf;

use crate::model::PluginKind;

/// A failed call. The caller decides what to do (the decision stage falls
/// back to human review); the host keeps serving.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum PluginError {
    #[error("plugin {plugin}: timed out after {timeout_ms} ms")]
    Timeout { plugin: String, timeout_ms: u64 },
    #[error("plugin {plugin}: exceeded its memory limit of {limit_mb} MiB")]
    OutOfMemory { plugin: String, limit_mb: u64 },
    #[error("plugin {plugin}: tried to use `{capability}`, which plugins are not granted")]
    CapabilityDenied { plugin: String, capability: String },
    #[error("plugin {plugin}: trapped: {message}")]
    Trap { plugin: String, message: String },
    #[error("plugin {plugin}: refused the input: {message}")]
    Refused { plugin: String, message: String },
    #[error("plugin {plugin}: returned an invalid {what}: {problem}")]
    InvalidOutput {
        plugin: String,
        what: &'static str,
        problem: String,
    },
    #[error("plugin {plugin}: quarantined after {failures} failures in a row")]
    Quarantined { plugin: String, failures: u32 },
    #[error("plugin {plugin}: the host could not run it: {message}")]
    Host { plugin: String, message: String },
}

impl PluginError {
    /// A short machine-readable name of the cause, for metrics and logs.
    pub fn cause(&self) -> &'static str {
        match self {
            PluginError::Timeout { .. } => "timeout",
            PluginError::OutOfMemory { .. } => "out_of_memory",
            PluginError::CapabilityDenied { .. } => "capability_denied",
            PluginError::Trap { .. } => "trap",
            PluginError::Refused { .. } => "refused",
            PluginError::InvalidOutput { .. } => "invalid_output",
            PluginError::Quarantined { .. } => "quarantined",
            PluginError::Host { .. } => "host",
        }
    }

    /// Whether the failure is the plugin's doing (and counts towards its
    /// quarantine), rather than the host's.
    pub fn is_plugin_fault(&self) -> bool {
        !matches!(
            self,
            PluginError::Host { .. } | PluginError::Quarantined { .. }
        )
    }
}

/// Why a plugin could not be loaded (or reloaded). A plugin that fails to
/// load never replaces one that is serving.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read plugin {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{origin}: not a valid WebAssembly component: {message}")]
    Compile { origin: String, message: String },
    #[error(
        "{origin}: implements none of the worlds risk-scorer, strategy, threshold-learner of medic:plugin@0.1.0 \
         (exports: {exports})"
    )]
    NoWorld { origin: String, exports: String },
    #[error("{origin}: implements the {found} world, but a {expected} was expected")]
    WrongWorld {
        origin: String,
        expected: PluginKind,
        found: PluginKind,
    },
    #[error(
        "{origin}: imports `{import}`; a plugin may import only medic:plugin/host@0.1.0 (and its types)"
    )]
    ForeignContract { origin: String, import: String },
    #[error("{origin}: describe() says it is a {declared} but it implements the {world} world")]
    KindMismatch {
        origin: String,
        declared: PluginKind,
        world: PluginKind,
    },
    #[error("{origin}: describe() failed: {source}")]
    Describe { origin: String, source: PluginError },
    #[error("{origin}: describe() returned an invalid {field}: {problem}")]
    BadInfo {
        origin: String,
        field: &'static str,
        problem: String,
    },
    #[error("{origin}: failed golden kill {case}: {source}")]
    Golden {
        origin: String,
        case: String,
        source: PluginError,
    },
    #[error("the plugin engine could not start: {message}")]
    Engine { message: String },
}
