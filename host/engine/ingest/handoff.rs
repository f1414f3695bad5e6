//! Input refused by validation, and the kill built from input accepted:
//! the two ways every ingest source (Redis, HTTP, replay) hands a message
//! to the decider.

use std::time::Instant;

use chrono::Utc;
use serde_json::json;

use super::ValidationError;
use super::envelope::Parsed;
use crate::decide::{Decider, Incoming};
use crate::store::{AuditKind, StoreError};

impl Incoming {
    /// A parsed kill from `source`, received now.
    pub fn new(parsed: Parsed, source: &'static str) -> Self {
        Incoming {
            kill: parsed.kill,
            correlation_id: parsed.correlation_id,
            reply_to: parsed.reply_to,
            source,
            received: Instant::now(),
        }
    }
}

impl Decider {
    /// Records input refused by validation: counted, kept as a dead letter
    /// and audited. `raw` is cut to a bounded size.
    pub fn reject(
        &self,
        source: &str,
        entry_id: Option<&str>,
        actor: &str,
        error: &ValidationError,
        raw: &str,
    ) -> Result<(), StoreError> {
        self.metrics.kills_invalid.inc();
        self.metrics.dead_letters.inc();
        tracing::warn!(source, entry_id, field = %error.field, problem = %error.problem, actor, "Invalid kill rejected");
        self.store.dead_letter(&crate::store::DeadLetter {
            at: Utc::now(),
            source: source.to_string(),
            entry_id: entry_id.map(str::to_string),
            field: error.field.clone(),
            reason: error.to_string(),
            raw: raw.chars().take(4096).collect(),
        })?;
        self.store.audit(
            AuditKind::InputRejected,
            None,
            None,
            actor,
            json!({"source": source, "entry_id": entry_id, "field": error.field, "reason": error.to_string()}),
        )?;
        Ok(())
    }
}
