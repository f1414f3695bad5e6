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

/// The configuration for a command that compiles plugins itself (`medic
/// plugin check|run|bench|list`, `medic replay`): where `plugins.cache_dir`
/// names no cache, the user's own (`plugin::cache::user_cache_dir`), so a
/// plugin is compiled once, not on every run (an interpreter-based one takes
/// seconds).
pub fn load_config_caching(files: &ConfigFiles) -> anyhow::Result<Config> {
    let mut config = load_config(files)?;
    let plugins = &mut config.medic.plugins;
    if plugins.cache_dir.is_none() {
        let env = |name: &str| std::env::var(name).ok();
        plugins.cache_dir = crate::plugin::cache::user_cache_dir(&env);
    }
    Ok(config)
}
