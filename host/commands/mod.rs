//! What each `medic` subcommand does (the CLI edge: errors are `anyhow`).

pub mod config;
pub mod plugin;
pub mod queue;
pub mod remote;
pub mod replay;
pub mod report;
pub mod serve;
pub mod thresholds;

use anyhow::Context;

use crate::cli::ConfigFiles;
use crate::config::Config;

/// Loads the configuration named on the command line (or the embedded one),
/// with the environment's overrides (`MEDIC_MODE`, …).
pub fn load_config(files: &ConfigFiles) -> anyhow::Result<Config> {
    let env = |name: &str| std::env::var(name).ok();
    Config::load(files.config.as_deref(), files.constitution.as_deref(), &env)
        .context("configuration rejected")
}
