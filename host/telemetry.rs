//! Logging setup from the `logging:` section: level, json or text, console.

use tracing_subscriber::EnvFilter;

use crate::config::Config;
use crate::config::raw::LogFormat;

/// Maps the spec's level names (WARNING, CRITICAL) to tracing's.
fn level(name: &str) -> &'static str {
    match name.to_ascii_uppercase().as_str() {
        "TRACE" => "trace",
        "DEBUG" => "debug",
        "WARNING" | "WARN" => "warn",
        "ERROR" | "CRITICAL" => "error",
        _ => "info",
    }
}

pub fn init(config: &Config) -> anyhow::Result<()> {
    let filter = EnvFilter::new(level(&config.medic.logging.level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = match config.medic.logging.format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
    result.map_err(|e| anyhow::anyhow!("cannot set up logging: {e}"))
}
