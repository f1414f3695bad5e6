//! The store's retention sweep, run by `medic serve`: every hour (and
//! again at once while a sweep stops at its batch limit) what is older than
//! `learning.database.retention_days` is removed from the store on a
//! blocking thread of its own, never on the decision path; each sweep that
//! removes anything is logged with its counts, and counted in
//! `medic_store_retention_*` (docs/guide.md, "The store over months").

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::config::units::span;
use crate::fleet::Fleet;
use crate::store::{Retention, Store, Swept};
use crate::telemetry::Metrics;

/// How often the store is swept.
pub const EVERY: Duration = Duration::from_secs(3600);
/// The first sweep waits this long after start: the engine is busy
/// starting.
const FIRST_AFTER: Duration = Duration::from_secs(30);
/// Between two sweeps that stopped at their batch limit.
const MORE_AFTER: Duration = Duration::from_secs(1);

/// The retention sweep of one store.
pub struct Sweeper {
    store: Store,
    fleet: Arc<Fleet>,
    metrics: Arc<Metrics>,
    retention: Retention,
}

impl Sweeper {
    /// The sweep the configuration asks for; `None` when retention is off
    /// (`learning.database.retention_days: 0`).
    pub fn from_config(
        config: &Config,
        store: Store,
        fleet: Arc<Fleet>,
        metrics: Arc<Metrics>,
    ) -> Option<Sweeper> {
        let (decisions, audit) = config.medic.learning.database.kept_for()?;
        Some(Sweeper {
            store,
            fleet,
            metrics,
            retention: Retention {
                decisions: span(decisions),
                audit: span(audit),
            },
        })
    }

    /// One sweep as of now, on a blocking thread; logged and counted.
    pub async fn sweep_once(&self) -> Result<Swept, crate::store::StoreError> {
        let store = self.store.clone();
        let retention = self.retention;
        let swept = tokio::task::spawn_blocking(move || store.sweep(&retention, Utc::now()))
            .await
            .map_err(|e| crate::store::StoreError::Log(std::io::Error::other(e)))??;
        self.count(&swept);
        Ok(swept)
    }

    fn count(&self, s: &Swept) {
        let m = &self.metrics;
        m.retention_sweeps.inc();
        m.retention_freed_bytes.inc_by(s.bytes);
        for (kind, n) in [
            ("decision", s.decisions),
            ("audit_event", s.audit_events),
            ("outcome", s.outcomes),
            ("verdict", s.verdicts),
            ("queue_item", s.queue_items),
            ("shadow_decision", s.shadow_decisions),
            ("dead_letter", s.dead_letters),
            ("request", s.requests),
            ("segment", s.segments),
        ] {
            m.retention_removed(kind, n as u64);
        }
        if s.outcomes > 0 {
            // Module outcome counts are read again from what is kept.
            self.fleet.forget_outcome_counts();
        }
        if s.any() {
            tracing::info!(
                decisions = s.decisions,
                audit_events = s.audit_events,
                outcomes = s.outcomes,
                verdicts = s.verdicts,
                queue_items = s.queue_items,
                shadow_decisions = s.shadow_decisions,
                dead_letters = s.dead_letters,
                requests = s.requests,
                segments = s.segments,
                freed_bytes = s.bytes,
                more = s.more,
                retention_days = self.retention.decisions.num_days(),
                audit_retention_days = self.retention.audit.num_days(),
                "Store retention removed what is past its retention"
            );
        }
    }

    /// Sweeps every [`EVERY`] until `stop`.
    pub async fn run(self, stop: CancellationToken) {
        let mut wait = FIRST_AFTER;
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(wait) => {}
            }
            // One replica sweeps a store they share.
            let store = self.store.clone();
            let leads = tokio::task::spawn_blocking(move || store.leads())
                .await
                .unwrap_or(false);
            if !leads {
                wait = EVERY;
                continue;
            }
            wait = match self.sweep_once().await {
                Ok(s) if s.more => MORE_AFTER,
                Ok(_) => EVERY,
                Err(e) => {
                    tracing::error!(error = %e, "Store retention sweep failed; trying again at the next");
                    EVERY
                }
            };
        }
    }
}
