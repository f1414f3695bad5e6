//! `medic serve`: runs the engine until interrupted.

use std::sync::Arc;

use crate::config::Config;
use crate::plugin::{Registry, reload};

pub async fn run(config: Config) -> anyhow::Result<()> {
    let registry = Arc::new(Registry::new(&config)?);
    let _watch = if config.medic.plugins.watch {
        reload::watch(&registry)?
    } else {
        None
    };
    let active = registry.active();
    tracing::info!(
        mode = ?config.medic.mode.current,
        phase = %active.phase,
        risk_scorer = active.scorer.name(),
        strategy = active.strategy.name(),
        threshold_learner = active.learner.name(),
        "Medic started"
    );
    tokio::signal::ctrl_c().await?;
    tracing::info!("Medic stopping");
    Ok(())
}
