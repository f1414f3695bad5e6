//! Changes made through another replica sharing the store, applied here
//! within [`FOLLOW_EVERY`]: plugin bindings, thresholds and the mode; and
//! every [`RECOUNT_EVERY`], the counts scoring reads (people's verdicts,
//! calibration) as every replica's writes make them. The
//! replica that makes a change checks, stores and audits it, and raises
//! its kind's revision in the same transaction; every replica polls the
//! few revision rows and applies the kinds that moved. Polling rather
//! than a notification: a replica that lost its connection for a while
//! misses nothing (it finds the revision moved when it is back).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::decide::Decider;
use crate::plugin::Registry;
use crate::store::replica::{CHANGE_BINDINGS, CHANGE_MODE, CHANGE_THRESHOLDS};
use crate::store::{Store, StoreError};

/// How often a replica looks for changes made through another.
pub const FOLLOW_EVERY: Duration = Duration::from_millis(250);

/// How often a replica reads again the counts kept in memory for scoring
/// (people's verdicts per module, the calibration of evidence), so what
/// other replicas learned from outcomes and verdicts reaches its
/// judgement.
pub const RECOUNT_EVERY: Duration = Duration::from_secs(60);

/// Applies the plugin bindings made at run time (stored by the API) over
/// the constitution's. They passed the replay gate when they were made,
/// so they are not replayed again. One that no longer holds here (its
/// plugin is not loaded, or its pin changed) is skipped with a warning:
/// the constitution's binding serves.
pub fn restore_bindings(registry: &Registry, store: &Store) -> Result<(), StoreError> {
    for (phase, kind, binding) in store.plugin_bindings()? {
        match registry.adopt(&phase, kind, binding.clone()) {
            Ok(_) => tracing::info!(phase = %phase, kind = %kind, plugin = %binding.name,
                "Run-time plugin binding in force"),
            Err(e) => tracing::warn!(phase = %phase, kind = %kind, plugin = %binding.name,
                error = %e, "Run-time plugin binding does not hold here; the constitution's serves"),
        }
    }
    Ok(())
}

/// The revisions of the changes a store holds, by kind. Read once before
/// start-up applies what the store holds (bindings, thresholds, mode), they
/// are what [`follow`] starts from, so that a change made through another
/// replica after that read is applied here, however long the rest of
/// start-up takes. (Applied twice when it came between that read and
/// start-up's: applying is idempotent.)
pub fn revisions(store: &Store) -> Result<HashMap<String, u64>, StoreError> {
    Ok(store.revisions()?.into_iter().collect())
}

/// Applies, until `stop`, the changes other replicas sharing the store
/// make after `at_start` ([`revisions`] read before start-up). Returns at once for a
/// store one process holds.
pub async fn follow(
    decider: Arc<Decider>,
    at_start: HashMap<String, u64>,
    stop: CancellationToken,
) {
    if !decider.store.shared() {
        return;
    }
    let mut seen = at_start;
    let mut counted = tokio::time::Instant::now();
    loop {
        let d = decider.clone();
        let known = seen.clone();
        let recount = counted.elapsed() >= RECOUNT_EVERY;
        if recount {
            counted = tokio::time::Instant::now();
        }
        let turn = tokio::task::spawn_blocking(move || {
            if recount {
                d.store.refresh_counts()?;
            }
            apply_moved(&d, &known)
        })
        .await;
        match turn {
            Ok(Ok(now)) => seen = now,
            Ok(Err(e)) => {
                tracing::error!(error = %e, "Reading changes made through other replicas failed")
            }
            Err(e) => {
                tracing::error!(error = %e, "Applying changes made through other replicas stopped")
            }
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(FOLLOW_EVERY) => {}
        }
    }
}

/// Applies each kind of change whose revision moved since `seen`, and
/// returns the revisions now.
fn apply_moved(
    decider: &Decider,
    seen: &HashMap<String, u64>,
) -> Result<HashMap<String, u64>, StoreError> {
    let now = revisions(&decider.store)?;
    for (kind, revision) in &now {
        if seen.get(kind) == Some(revision) {
            continue;
        }
        tracing::info!(kind = %kind, revision, "Applying a change made through a replica sharing the store");
        match kind.as_str() {
            CHANGE_BINDINGS => restore_bindings(&decider.registry, &decider.store)?,
            CHANGE_THRESHOLDS => {
                crate::learn::thresholds::restore(&decider.registry, &decider.store)?
            }
            CHANGE_MODE => {
                if let Some(mode) = decider.store.stored_mode()?
                    && let Err(e) = decider.adopt_mode(&mode)
                {
                    tracing::error!(mode = %mode, error = %e, "Cannot take up the mode set through another replica");
                }
            }
            other => tracing::debug!(kind = other, "A kind of change this Medic does not know"),
        }
    }
    Ok(now)
}
