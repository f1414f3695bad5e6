//! The engine's counters, histograms and gauges: prometheus-client's
//! counters and families, and [`Histogram`] (histogram.rs); written to
//! `/metrics` through [`crate::exposition`].

use std::sync::atomic::AtomicI64;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::family::Family;

use super::exposition::{family, series};
use super::{FlushTimes, Histogram};
use crate::model::{DecisionOutcome, QueueStatus, RiskLevel, wire_str};

/// A monotonically increasing count.
pub type Counter = prometheus_client::metrics::counter::Counter;

/// Counters by two labels, named where the family is written.
type ByTwo = Family<[(&'static str, String); 2], Counter>;

/// A value that goes up and down; negative means "not known" (and the
/// family is left out of `/metrics`).
#[derive(Debug)]
pub struct Gauge(prometheus_client::metrics::gauge::Gauge<i64, AtomicI64>);

impl Default for Gauge {
    fn default() -> Self {
        let g = prometheus_client::metrics::gauge::Gauge::default();
        g.set(-1);
        Gauge(g)
    }
}

impl Gauge {
    pub fn set(&self, v: i64) {
        self.0.set(v);
    }
    pub fn get(&self) -> Option<i64> {
        Some(self.0.get()).filter(|v| *v >= 0)
    }
}

/// The engine's counters.
#[derive(Debug)]
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
    retention_removed: Family<[(&'static str, String); 1], Counter>,
    /// Decisions by outcome and risk level (both wire names, so no
    /// allocation on the kill path).
    decided: Family<[(&'static str, &'static str); 2], Counter>,
    plugin_errors: ByTwo,
    resurrections: ByTwo,
    /// Modes stepped down because an error budget was burnt, by from and to.
    demotions: ByTwo,
    /// Approval-queue items approved and denied by people, and expired:
    /// all three served from the start, at 0.
    queue_verdicts: Family<[(&'static str, &'static str); 1], Counter>,
    decision_latency: Histogram,
    siem_latency: Histogram,
    /// The store's flush times, once a store is watched.
    store_flush: OnceLock<Arc<FlushTimes>>,
    /// The consumer group's backlog on the kill stream, sampled by the
    /// consumer: entries not yet delivered (lag) and delivered but not
    /// acknowledged (pending); -1 until known.
    pub redis_lag: Gauge,
    pub redis_pending: Gauge,
    /// Whether the Redis consumer has a working session with Smith's event
    /// bus: 1 yes, 0 lost (reconnecting); not known before the first try.
    pub event_bus_up: Gauge,
}

const VERDICTS: [QueueStatus; 3] = [
    QueueStatus::Approved,
    QueueStatus::Denied,
    QueueStatus::Expired,
];

impl Default for Metrics {
    fn default() -> Self {
        let queue_verdicts = Family::default();
        for status in VERDICTS {
            drop(queue_verdicts.get_or_create(&[("verdict", wire_str(&status))]));
        }
        Metrics {
            kills_received: Counter::default(),
            kills_invalid: Counter::default(),
            duplicates: Counter::default(),
            kill_conflicts: Counter::default(),
            siem_errors: Counter::default(),
            dead_letters: Counter::default(),
            redis_reconnects: Counter::default(),
            queue_overflow: Counter::default(),
            shadow_skipped: Counter::default(),
            retention_sweeps: Counter::default(),
            retention_freed_bytes: Counter::default(),
            retention_removed: Family::default(),
            decided: Family::default(),
            plugin_errors: Family::default(),
            resurrections: Family::default(),
            demotions: Family::default(),
            queue_verdicts,
            decision_latency: Histogram::default(),
            siem_latency: Histogram::default(),
            store_flush: OnceLock::new(),
            redis_lag: Gauge::default(),
            redis_pending: Gauge::default(),
            event_bus_up: Gauge::default(),
        }
    }
}

fn bump(family: &ByTwo, keys: [&'static str; 2], a: &str, b: &str) {
    family
        .get_or_create(&[(keys[0], a.to_string()), (keys[1], b.to_string())])
        .inc();
}

impl Metrics {
    /// Retention removed `n` entries of `kind`.
    pub fn retention_removed(&self, kind: &str, n: u64) {
        if n > 0 {
            self.retention_removed
                .get_or_create(&[("kind", kind.to_string())])
                .inc_by(n);
        }
    }

    pub fn decided(&self, outcome: DecisionOutcome, risk: RiskLevel, latency_us: u64) {
        self.decided
            .get_or_create(&[
                ("outcome", wire_str(&outcome)),
                ("risk_level", wire_str(&risk)),
            ])
            .inc();
        self.decision_latency.observe_us(latency_us);
    }

    /// The mode was stepped down from `from` to `to` (an error budget burnt).
    pub fn demoted(&self, from: &str, to: &str) {
        bump(&self.demotions, ["from", "to"], from, to);
    }

    /// A resurrection ended with `result` through `backend`.
    pub fn resurrected(&self, result: &str, backend: &str) {
        bump(&self.resurrections, ["result", "backend"], result, backend);
    }

    /// An approval-queue item was approved, denied or expired.
    pub fn queue_verdict(&self, status: QueueStatus) {
        if VERDICTS.contains(&status) {
            self.queue_verdicts
                .get_or_create(&[("verdict", wire_str(&status))])
                .inc();
        }
    }

    pub fn plugin_error(&self, plugin: &str, cause: &str) {
        bump(&self.plugin_errors, ["plugin", "cause"], plugin, cause);
    }

    /// Shows `store`'s flush times (the first store watched).
    pub fn watch_store(&self, times: Arc<FlushTimes>) {
        let _ = self.store_flush.set(times);
    }

    pub fn siem_latency(&self, d: Duration) {
        self.siem_latency.observe(d);
    }

    /// The Prometheus text exposition of every counter, and of this
    /// process's figures.
    pub fn render(self: &Arc<Self>) -> String {
        crate::exposition::render(vec![
            Box::new(self.clone()),
            Box::new(crate::process::ProcessCollector),
        ])
    }
}

impl Collector for Metrics {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
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
            family(&mut enc, name, help, c)?;
        }
        family(
            &mut enc,
            "medic_decisions_total",
            "Decisions by outcome and risk level",
            &self.decided,
        )?;
        for (name, help, f) in [
            (
                "medic_plugin_errors_total",
                "Plugin failures by plugin and cause",
                &self.plugin_errors,
            ),
            (
                "medic_resurrections_total",
                "Resurrection outcomes by result and backend",
                &self.resurrections,
            ),
            (
                "medic_mode_demotions_total",
                "Modes stepped down because automatic resurrections burnt the phase's error budget, by from and to",
                &self.demotions,
            ),
        ] {
            family(&mut enc, name, help, f)?;
        }
        family(
            &mut enc,
            "medic_store_retention_removed_total",
            "Entries retention removed from the store, by kind",
            &self.retention_removed,
        )?;
        family(
            &mut enc,
            "medic_approval_verdicts_total",
            "Approval-queue items decided: approved or denied by a person, or expired undecided",
            &self.queue_verdicts,
        )?;
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
            family(&mut enc, name, help, h)?;
        }
        if let Some(t) = self.store_flush.get() {
            series(
                &mut enc,
                "medic_store_sync_seconds",
                "Making a flush durable, by part (run at once): the record log's write and fsync, and sled's flush",
                MetricType::Histogram,
                [
                    ([("part", "record_log")], &t.record_log as &dyn EncodeMetric),
                    ([("part", "sled")], &t.sled),
                ],
            )?;
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
            if g.get().is_some() {
                family(&mut enc, name, help, &g.0)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_are_served_with_their_labels_and_verdicts_from_zero() {
        let m = Arc::new(Metrics::default());
        let before = m.render();
        for status in ["approved", "denied", "expired"] {
            assert!(
                before.contains(&format!(
                    "medic_approval_verdicts_total{{verdict=\"{status}\"}} 0\n"
                )),
                "{before}"
            );
        }
        assert!(
            !before.contains("medic_redis_lag"),
            "unknown gauge served: {before}"
        );
        m.kills_received.inc();
        m.decided(DecisionOutcome::Deny, RiskLevel::High, 1_500);
        m.decided(DecisionOutcome::Deny, RiskLevel::High, 1_500);
        m.plugin_error("risk \"scorer\"", "trap");
        m.resurrected("success", "process");
        m.demoted("semi_auto", "manual");
        m.retention_removed("decision", 4);
        m.retention_removed("audit_event", 0);
        m.queue_verdict(QueueStatus::Denied);
        m.redis_lag.set(0);
        let out = m.render();
        for line in [
            "# HELP medic_kills_received_total Kill reports received and decided\n",
            "# TYPE medic_kills_received_total counter\n",
            "medic_kills_received_total 1\n",
            "medic_decisions_total{outcome=\"deny\",risk_level=\"high\"} 2\n",
            "medic_plugin_errors_total{plugin=\"risk \\\"scorer\\\"\",cause=\"trap\"} 1\n",
            "medic_resurrections_total{result=\"success\",backend=\"process\"} 1\n",
            "medic_mode_demotions_total{from=\"semi_auto\",to=\"manual\"} 1\n",
            "medic_store_retention_removed_total{kind=\"decision\"} 4\n",
            "medic_approval_verdicts_total{verdict=\"denied\"} 1\n",
            "medic_approval_verdicts_total{verdict=\"approved\"} 0\n",
            "medic_decision_latency_seconds_count 2\n",
            "# TYPE medic_decision_latency_seconds histogram\n",
            "# HELP medic_redis_lag Kill-stream entries not yet delivered to the consumer group\n",
            "medic_redis_lag 0\n",
            "\nprocess_cpu_seconds_total ",
        ] {
            assert!(out.contains(line), "{line} in {out}");
        }
        assert!(!out.contains("audit_event"), "{out}");
        assert!(!out.contains("medic_store_sync_seconds"), "{out}");
        m.watch_store(Arc::default());
        assert!(
            m.render()
                .contains("medic_store_sync_seconds_bucket{part=\"sled\",le=\"+Inf\"} 0\n")
        );
    }
}
