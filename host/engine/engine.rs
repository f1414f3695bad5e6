//! The composition root: builds the stages of the forward pass and hands
//! each only what it needs. Kills flow one way — ingest → decide (enrich,
//! profile, judge, guardrails, store the decision and its intent) → act
//! (execution takes stored requests from a channel) → monitor → learn —
//! and each module's state lives in one place ([`Fleet`]) that deciding
//! reads and acting writes. The API holds the engine.

use std::sync::Arc;

use crate::config::Config;
use crate::decide::{Actions, Decider};
use crate::enrich::SiemAdapter;
use crate::execute::backend::BackendError;
use crate::execute::{Links, Resurrector};
use crate::fleet::Fleet;
use crate::learn::ThresholdManager;
use crate::plugin::Registry;
use crate::store::{Store, StoreError};
use crate::telemetry::Metrics;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("resurrection.backends: {0}")]
    Backends(#[from] BackendError),
    #[error("cannot start the shadow's worker thread: {0}")]
    Shadow(std::io::Error),
    #[error(transparent)]
    PluginThreads(#[from] crate::plugin::threads::ThreadsError),
}

/// What every engine is built from.
pub struct Parts {
    pub config: Arc<Config>,
    pub registry: Arc<Registry>,
    pub store: Store,
    pub siem: Arc<dyn SiemAdapter>,
    pub metrics: Arc<Metrics>,
}

/// The stages, built and wired.
pub struct Engine {
    pub decider: Arc<Decider>,
    /// Each module's state, shared by deciding and acting.
    pub fleet: Arc<Fleet>,
    /// The approval queue and execution (absent: decisions are only
    /// recorded).
    pub acting: Option<Arc<Resurrector>>,
    /// What adjusts the thresholds (absent: they stay as configured).
    pub learning: Option<Arc<ThresholdManager>>,
}

impl Engine {
    /// An engine that decides and records, and acts on nothing (tools that
    /// measure deciding alone).
    pub fn recording(p: Parts) -> Result<Engine, EngineError> {
        let fleet = Arc::new(Fleet::new(p.config.clone(), p.store.clone())?);
        Ok(Engine {
            decider: decider(p, &fleet, None)?,
            fleet,
            acting: None,
            learning: None,
        })
    }

    /// The whole engine: deciding, the approval queue, execution (its
    /// intake runs as a task on the current tokio runtime, so this must be
    /// called within one) and learning; `links` are what acting talks to
    /// outside. `env` resolves the backends' `${VAR}` references.
    pub fn acting(
        p: Parts,
        links: Links,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Engine, EngineError> {
        let fleet = Arc::new(Fleet::new(p.config.clone(), p.store.clone())?);
        let resurrector = Resurrector::new(
            p.config.clone(),
            p.store.clone(),
            p.siem.clone(),
            p.metrics.clone(),
            fleet.clone(),
            links,
            env,
        )?;
        let (intents, intake) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(resurrector.clone().take_intents(intake));
        let maker = resurrector.clone();
        let veto = resurrector.clone();
        let shadow = crate::shadow::start(p.config.clone(), p.store.clone(), p.metrics.clone())
            .map_err(EngineError::Shadow)?;
        let actions = Actions {
            shadow,
            queue: resurrector.queue.clone(),
            request: Arc::new(move |d, kill, now| maker.new_request(d, kill, now)),
            intents,
            degraded: Arc::new(move || veto.degraded()),
        };
        let learning =
            ThresholdManager::new(p.config.clone(), p.registry.clone(), p.store.clone())?;
        let config = p.config.clone();
        let registry = p.registry.clone();
        let decider = decider(p, &fleet, Some(actions))?;
        let learning = Arc::new(learning.with_mode(decider.mode_reader()));
        // Every later swap of what judges is replayed on history first.
        registry.set_gate(Arc::new(crate::learn::gate::ReplayGate::new(
            config.clone(),
            Arc::downgrade(&learning),
        )));
        // Outcomes flow forward into the mode: a burnt error budget steps
        // it down, and the step is published with the resurrection events.
        let events = Arc::downgrade(&resurrector);
        tokio::spawn(crate::learn::demotion::watch(
            config.clone(),
            Arc::downgrade(&decider),
            fleet.failure_signal(),
            Arc::new(move |event| {
                let events = events.clone();
                Box::pin(async move {
                    if let Some(events) = events.upgrade() {
                        events.publish(event).await;
                    }
                })
            }),
        ));
        Ok(Engine {
            decider,
            fleet,
            acting: Some(resurrector),
            learning: Some(learning),
        })
    }
}

/// The decider, on the fleet, acting through `actions` if given.
fn decider(
    p: Parts,
    fleet: &Arc<Fleet>,
    actions: Option<Actions>,
) -> Result<Arc<Decider>, EngineError> {
    // The threads the decider's plugin calls run on (plugins.threads).
    let plugin_threads =
        crate::plugin::threads::PluginThreads::start(p.config.medic.plugins.threads as usize)?;
    Ok(Arc::new(Decider::new(
        p.config,
        p.registry,
        plugin_threads,
        p.store,
        p.siem,
        p.metrics,
        fleet.clone(),
        actions,
    )?))
}
