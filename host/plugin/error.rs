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
        "{origin}: implements none of the worlds risk-scorer, strategy, threshold-learner of medic:plugin@{} \
         (exports: {exports})",
        super::sandbox::ACCEPTED_CONTRACT
    )]
    NoWorld { origin: String, exports: String },
    #[error("{origin}: implements the {found} world, but a {expected} was expected")]
    WrongWorld {
        origin: String,
        expected: PluginKind,
        found: PluginKind,
    },
    #[error(
        "{origin}: imports `{import}`; a plugin may import only medic:plugin/host (and its types) of versions {}",
        super::sandbox::ACCEPTED_CONTRACT
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
    /// The host could not set up the memory the plugin's instances start
    /// from: not a fault of the plugin, and worth loading again.
    #[error("{origin}: the host could not build the plugin's memory image: {message}")]
    MemoryImage { origin: String, message: String },
}

impl LoadError {
    /// What a plugin author can do about it, where that is clear.
    pub fn hint(&self) -> Option<String> {
        let slow_or_big = |e: &PluginError| match e {
            PluginError::Timeout { timeout_ms, .. } => Some(format!(
                "too slow for plugins.timeout_ms ({timeout_ms} ms): an interpreted plugin (Python, JavaScript) needs `isolation: reuse` and a timeout around 1000 ms; otherwise make it faster (measure with `medic plugin bench`)"
            )),
            PluginError::OutOfMemory { limit_mb, .. } => Some(format!(
                "needs more than plugins.memory_limit_mb ({limit_mb} MiB): an interpreter needs about 64 MiB; otherwise use less memory"
            )),
            PluginError::CapabilityDenied { capability, .. } => Some(format!(
                "`{capability}` is not available to plugins: they get no files, network, environment or clock — pass what you need through the input (for JavaScript, build with `-d http fetch-event stdio random clocks`)"
            )),
            _ => None,
        };
        match self {
            LoadError::Compile { .. } => Some(
                "build a component: `cargo build --target wasm32-wasip2` (Rust), componentize-py (Python), componentize-js (JavaScript); `medic plugin new` makes a project that does".into(),
            ),
            LoadError::NoWorld { .. } => Some(
                "export `describe` and the world's function (`score`, `decide` or `learn`) exactly as in wit/worlds.wit: build against the world of your kind (`-w strategy`, or the SDK's export macro)".into(),
            ),
            LoadError::WrongWorld { found, .. } => Some(format!(
                "this file is a {found}: check it with `--kind {found}`, or rebuild it against the world you meant"
            )),
            LoadError::ForeignContract { import, .. } if import.starts_with("medic:plugin/") => Some(format!(
                "built against another version of the contract; this Medic accepts medic:plugin@{}: rebuild against the WIT this Medic ships (`medic plugin new` copies it)",
                super::sandbox::ACCEPTED_CONTRACT
            )),
            LoadError::ForeignContract { .. } => Some(
                "a plugin may import only medic:plugin/host (and WASI interfaces it never calls)".into(),
            ),
            LoadError::KindMismatch { world, .. } => Some(format!(
                "make describe() return kind {world}"
            )),
            LoadError::Describe { source, .. } | LoadError::Golden { source, .. } => slow_or_big(source),
            _ => None,
        }
    }
}
