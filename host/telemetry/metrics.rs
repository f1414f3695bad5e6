//! The engine's counters, rendered in the Prometheus text format.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{Histogram, family, labels, sample};
use crate::model::{DecisionOutcome, QueueStatus, RiskLevel, wire_str};
use crate::sync::lock;

/// A monotonically increasing count.
#[derive(Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// The engine's counters.
#[derive(Default)]
pub struct Metrics {
    pub kills_received: Counter,
    pub kills_invalid: Counter,
    pub duplicates: Counter,
    /// Kills whose id was decided before for a different kill.
    pub kill_conflicts: Counter,
    pub siem_errors: Counter,
    pub dead_letters: Counter,
    pub redis_reconnects: Counter,
    pub queue_overflow: Counter,
    /// Live kills a shadow did not judge because its queue was full.
    pub shadow_skipped: Counter,
    /// Retention sweeps of the store run, and the bytes of record log
    /// segments they deleted.
    pub retention_sweeps: Counter,
    pub retention_freed_bytes: Counter,
    /// What retention removed, by kind (`decision`, `audit_event`, ...).
    retention_removed: Mutex<BTreeMap<String, u64>>,
    decided: Mutex<BTreeMap<(String, String), u64>>,
    plugin_errors: Mutex<BTreeMap<(String, String), u64>>,
    resurrections: Mutex<BTreeMap<(String, String), u64>>,
    /// Modes stepped down because an error budget was burnt, by from and to.
    demotions: Mutex<BTreeMap<(String, String), u64>>,
    /// Approval-queue items approved and denied by people, and expired.
    queue_approved: Counter,
    queue_denied: Counter,
    queue_expired: Counter,
    decision_latency: Histogram,
    siem_latency: Histogram,
    /// The store's flush times, once a store is watched.
    store_flush: std::sync::OnceLock<Arc<super::FlushTimes>>,
    /// The consumer group's backlog on the kill stream, sampled by the
    /// consumer: entries not yet delivered (lag) and delivered but not
    /// acknowledged (pending); -1 until known.
    pub redis_lag: Gauge,
    pub redis_pending: Gauge,
    /// Whether the Redis consumer has a working session with Smith's event
    /// bus: 1 yes, 0 lost (reconnecting); not known before the first try.
    pub event_bus_up: Gauge,
}

/// A value that goes up and down; negative means "not known".
pub struct Gauge(AtomicI64);

impl Default for Gauge {
    fn default() -> Self {
        Gauge(AtomicI64::new(-1))
    }
}

impl Gauge {
    pub fn set(&self, v: i64) {
        self.0.store(v, Ordering::Relaxed);
    }
    pub fn get(&self) -> Option<i64> {
        Some(self.0.load(Ordering::Relaxed)).filter(|v| *v >= 0)
    }
}

fn bump(map: &Mutex<BTreeMap<(String, String), u64>>, a: &str, b: &str) {
    let mut m = lock(map);
    *m.entry((a.to_string(), b.to_string())).or_default() += 1;
}

impl Metrics {
    /// Retention removed `n` entries of `kind`.
    pub fn retention_removed(&self, kind: &str, n: u64) {
        if n > 0 {
            *lock(&self.retention_removed)
                .entry(kind.to_string())
                .or_default() += n;
        }
    }

    pub fn decided(&self, outcome: DecisionOutcome, risk: RiskLevel, latency_us: u64) {
        bump(&self.decided, wire_str(&outcome), wire_str(&risk));
        self.decision_latency.observe_us(latency_us);
    }

    /// The mode was stepped down from `from` to `to` (an error budget burnt).
    pub fn demoted(&self, from: &str, to: &str) {
        bump(&self.demotions, from, to);
    }

    /// A resurrection ended with `result` through `backend`.
    pub fn resurrected(&self, result: &str, backend: &str) {
        bump(&self.resurrections, result, backend);
    }

    /// An approval-queue item was approved, denied or expired.
    pub fn queue_verdict(&self, status: QueueStatus) {
        match status {
            QueueStatus::Approved => self.queue_approved.inc(),
            QueueStatus::Denied => self.queue_denied.inc(),
            QueueStatus::Expired => self.queue_expired.inc(),
            QueueStatus::Pending => {}
        }
    }

    pub fn plugin_error(&self, plugin: &str, cause: &str) {
        bump(&self.plugin_errors, plugin, cause);
    }

    /// Shows `store`'s flush times (the first store watched).
    pub fn watch_store(&self, times: Arc<super::FlushTimes>) {
        let _ = self.store_flush.set(times);
    }

    pub fn siem_latency(&self, d: Duration) {
        self.siem_latency.observe(d);
    }

    /// Decisions counted by outcome (all risk levels).
    pub fn decided_total(&self) -> u64 {
        lock(&self.decided).values().sum()
    }

    /// The Prometheus text exposition of every counter.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (name, help, c) in [
            (
                "medic_kills_received_total",
                "Kill reports received and decided",
                &self.kills_received,
            ),
            (
                "medic_kills_invalid_total",
                "Kill reports refused: invalid, or a kill_id decided before for another kill",
                &self.kills_invalid,
            ),
            (
                "medic_kills_duplicate_total",
                "Kill reports seen before (not decided again)",
                &self.duplicates,
            ),
            (
                "medic_kill_id_conflicts_total",
                "Kill reports refused: their kill_id was decided before for a different kill",
                &self.kill_conflicts,
            ),
            (
                "medic_siem_errors_total",
                "Failed SIEM enrichments",
                &self.siem_errors,
            ),
            (
                "medic_dead_letters_total",
                "Inputs sent to the dead-letter stream",
                &self.dead_letters,
            ),
            (
                "medic_redis_reconnects_total",
                "Reconnections to Redis",
                &self.redis_reconnects,
            ),
            (
                "medic_queue_overflow_total",
                "Decisions denied because the approval queue was full",
                &self.queue_overflow,
            ),
            (
                "medic_shadow_skipped_total",
                "Live kills a shadow strategy did not judge because its queue was full (its CPU budget)",
                &self.shadow_skipped,
            ),
            (
                "medic_store_retention_sweeps_total",
                "Retention sweeps of the store (learning.database.retention_days)",
                &self.retention_sweeps,
            ),
            (
                "medic_store_retention_freed_bytes_total",
                "Bytes of record log segments deleted by retention",
                &self.retention_freed_bytes,
            ),
        ] {
            family(&mut out, name, "counter", help);
            sample(&mut out, name, "", c.get());
        }
        for (name, help, keys, map) in [
            (
                "medic_decisions_total",
                "Decisions by outcome and risk level",
                ["outcome", "risk_level"],
                &self.decided,
            ),
            (
                "medic_plugin_errors_total",
                "Plugin failures by plugin and cause",
                ["plugin", "cause"],
                &self.plugin_errors,
            ),
            (
                "medic_resurrections_total",
                "Resurrection outcomes by result and backend",
                ["result", "backend"],
                &self.resurrections,
            ),
            (
                "medic_mode_demotions_total",
                "Modes stepped down because automatic resurrections burnt the phase's error budget, by from and to",
                ["from", "to"],
                &self.demotions,
            ),
        ] {
            family(&mut out, name, "counter", help);
            for ((a, b), n) in lock(map).iter() {
                sample(&mut out, name, &labels(&[(keys[0], a), (keys[1], b)]), n);
            }
        }
        let name = "medic_store_retention_removed_total";
        family(
            &mut out,
            name,
            "counter",
            "Entries retention removed from the store, by kind",
        );
        for (kind, n) in lock(&self.retention_removed).iter() {
            sample(&mut out, name, &labels(&[("kind", kind)]), n);
        }
        let name = "medic_approval_verdicts_total";
        family(
            &mut out,
            name,
            "counter",
            "Approval-queue items decided: approved or denied by a person, or expired undecided",
        );
        for (status, c) in [
            (QueueStatus::Approved, &self.queue_approved),
            (QueueStatus::Denied, &self.queue_denied),
            (QueueStatus::Expired, &self.queue_expired),
        ] {
            let verdict = labels(&[("verdict", wire_str(&status))]);
            sample(&mut out, name, &verdict, c.get());
        }
        for (name, help, h) in [
            (
                "medic_decision_latency_seconds",
                "Receipt to decision",
                &self.decision_latency,
            ),
            (
                "medic_siem_latency_seconds",
                "SIEM query time",
                &self.siem_latency,
            ),
        ] {
            family(&mut out, name, "histogram", help);
            h.render(name, "", &mut out);
        }
        if let Some(t) = self.store_flush.get() {
            let name = "medic_store_sync_seconds";
            family(
                &mut out,
                name,
                "histogram",
                "Making a flush durable, by part (run at once): the record log's write and fsync, and sled's flush",
            );
            t.record_log.render(name, "part=\"record_log\"", &mut out);
            t.sled.render(name, "part=\"sled\"", &mut out);
        }
        for (name, help, g) in [
            (
                "medic_redis_lag",
                "Kill-stream entries not yet delivered to the consumer group",
                &self.redis_lag,
            ),
            (
                "medic_redis_pending",
                "Kill-stream entries delivered but not yet acknowledged",
                &self.redis_pending,
            ),
        ] {
            if let Some(v) = g.get() {
                family(&mut out, name, "gauge", help);
                sample(&mut out, name, "", v);
            }
        }
        if let Some(p) = super::process::Process::read() {
            p.render(&mut out);
        }
        out
    }
}
