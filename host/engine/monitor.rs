//! Post-resurrection monitoring: wait for the first passing health check
//! (within the startup grace), then check every interval for the monitoring
//! duration. The anomaly score is the share of failed checks among the last
//! [`WINDOW`]; a module that never comes up scores 1. An interruption (Smith
//! killing the module again, or an operator's rollback) ends the watch.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::Notify;

use crate::config::raw::ResurrectionSection;

/// One health check's result, as monitoring reads it (execution's health
/// checks make them).
#[derive(Clone, Debug, PartialEq)]
pub struct Probe {
    pub healthy: bool,
    pub latency: Duration,
    /// Why it failed.
    pub detail: Option<String>,
}

/// Checks the anomaly score looks back over.
pub const WINDOW: usize = 5;

/// How often the module is polled while it starts (then every interval).
const STARTUP_POLL_MIN: Duration = Duration::from_millis(2);
const STARTUP_POLL_MAX: Duration = Duration::from_millis(250);

/// How a module is watched.
#[derive(Clone, Debug)]
pub struct Plan {
    pub duration: Duration,
    pub interval: Duration,
    pub grace: Duration,
    pub threshold: f64,
    /// Stop at the first anomaly over the threshold (to roll back).
    pub stop_on_anomaly: bool,
}

impl Plan {
    pub fn from_config(r: &ResurrectionSection) -> Plan {
        Plan {
            duration: r.monitoring_duration,
            interval: r.health_check_interval,
            grace: r.startup_grace,
            threshold: r.rollback.anomaly_threshold,
            stop_on_anomaly: r.rollback.enabled && r.rollback.auto_trigger_on_anomaly,
        }
    }
}

/// How the watch ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ending {
    /// The duration passed with the score at or under the threshold.
    Stable,
    /// The score went over the threshold (and the watch stopped, or it
    /// was still over at the end).
    Anomaly,
    /// No check passed within the startup grace.
    NeverHealthy,
    /// Interrupted from outside (a re-kill, an operator's rollback).
    Interrupted,
}

/// An anomaly seen during the watch.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Anomaly {
    pub after_ms: u64,
    pub score: f64,
    pub detail: String,
}

/// What the watch saw (the outcome record's `post_resurrection_metrics`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    pub ending: Ending,
    /// From the start of the watch to the first passing check.
    pub first_healthy_ms: Option<u64>,
    /// When the first check passed.
    pub first_healthy_at: Option<chrono::DateTime<chrono::Utc>>,
    pub checks: u32,
    pub failures: u32,
    /// The highest score seen.
    pub max_anomaly: f64,
    /// The score when the watch ended.
    pub final_anomaly: f64,
    pub anomalies: Vec<Anomaly>,
    pub mean_check_ms: f64,
    pub watched_ms: u64,
}

impl Report {
    /// Whether to roll back, and why.
    pub fn should_rollback(&self, plan: &Plan) -> (bool, String) {
        match self.ending {
            Ending::NeverHealthy if plan.stop_on_anomaly => (
                true,
                format!(
                    "no health check passed within the {:.1} s startup grace",
                    plan.grace.as_secs_f64()
                ),
            ),
            Ending::Anomaly if plan.stop_on_anomaly => (
                true,
                format!(
                    "anomaly score {:.2} over resurrection.rollback.anomaly_threshold {:.2}{}",
                    self.final_anomaly,
                    plan.threshold,
                    self.anomalies
                        .last()
                        .map(|a| format!(" ({})", a.detail))
                        .unwrap_or_default()
                ),
            ),
            _ => (false, String::new()),
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn record(total: &mut Duration, p: &Probe, report: &mut Report) {
    report.checks += 1;
    *total += p.latency;
    report.mean_check_ms = total.as_secs_f64() * 1000.0 / f64::from(report.checks);
    if !p.healthy {
        report.failures += 1;
    }
}

/// Watches a module with `probe` until the plan says it is done or
/// `interrupt` is notified. `on_healthy` runs at the first passing check.
pub async fn watch<F, Fut>(
    mut probe: F,
    plan: &Plan,
    interrupt: Arc<Notify>,
    on_healthy: impl FnOnce(),
) -> Report
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Probe>,
{
    let started = Instant::now();
    let mut report = Report {
        ending: Ending::Stable,
        first_healthy_ms: None,
        first_healthy_at: None,
        checks: 0,
        failures: 0,
        max_anomaly: 0.0,
        final_anomaly: 0.0,
        anomalies: Vec::new(),
        mean_check_ms: 0.0,
        watched_ms: 0,
    };
    let mut total_latency = Duration::ZERO;

    // Startup: poll, backing off, until the first pass or the grace ends.
    let mut poll = STARTUP_POLL_MIN;
    loop {
        let p = probe().await;
        if p.healthy {
            record(&mut total_latency, &p, &mut report);
            report.first_healthy_ms = Some(millis(started.elapsed()));
            report.first_healthy_at = Some(chrono::Utc::now());
            on_healthy();
            break;
        }
        let last_detail = p.detail.clone().unwrap_or_default();
        if started.elapsed() >= plan.grace {
            record(&mut total_latency, &p, &mut report);
            report.ending = Ending::NeverHealthy;
            report.max_anomaly = 1.0;
            report.final_anomaly = 1.0;
            report.anomalies.push(Anomaly {
                after_ms: millis(started.elapsed()),
                score: 1.0,
                detail: format!("never healthy: {last_detail}"),
            });
            report.watched_ms = millis(started.elapsed());
            return report;
        }
        tokio::select! {
            _ = interrupt.notified() => {
                report.ending = Ending::Interrupted;
                report.watched_ms = millis(started.elapsed());
                return report;
            }
            _ = tokio::time::sleep(poll.min(plan.grace.saturating_sub(started.elapsed()))) => {}
        }
        poll = (poll * 2).min(STARTUP_POLL_MAX).min(plan.interval);
    }

    // Steady state: a check every interval until the duration has passed.
    let mut recent: std::collections::VecDeque<bool> = std::collections::VecDeque::new();
    recent.push_back(true);
    while started.elapsed() + plan.interval <= plan.duration {
        tokio::select! {
            _ = interrupt.notified() => {
                report.ending = Ending::Interrupted;
                report.watched_ms = millis(started.elapsed());
                return report;
            }
            _ = tokio::time::sleep(plan.interval) => {}
        }
        let p = probe().await;
        record(&mut total_latency, &p, &mut report);
        if recent.len() == WINDOW {
            recent.pop_front();
        }
        recent.push_back(p.healthy);
        let failed = recent.iter().filter(|ok| !**ok).count();
        let score = failed as f64 / recent.len() as f64;
        report.final_anomaly = score;
        report.max_anomaly = report.max_anomaly.max(score);
        if score > plan.threshold {
            report.anomalies.push(Anomaly {
                after_ms: millis(started.elapsed()),
                score,
                detail: p.detail.unwrap_or_else(|| "check failed".into()),
            });
            if plan.stop_on_anomaly {
                report.ending = Ending::Anomaly;
                report.watched_ms = millis(started.elapsed());
                return report;
            }
        }
    }
    if report.final_anomaly > plan.threshold {
        report.ending = Ending::Anomaly;
    }
    report.watched_ms = millis(started.elapsed());
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(stop: bool) -> Plan {
        Plan {
            duration: Duration::from_millis(300),
            interval: Duration::from_millis(20),
            grace: Duration::from_millis(100),
            threshold: 0.7,
            stop_on_anomaly: stop,
        }
    }

    fn probes(results: Vec<bool>) -> impl FnMut() -> std::future::Ready<Probe> {
        let mut it = results.into_iter();
        move || {
            let healthy = it.next().unwrap_or(true);
            std::future::ready(Probe {
                healthy,
                latency: Duration::from_micros(10),
                detail: (!healthy).then(|| "HTTP 503".into()),
            })
        }
    }

    #[tokio::test]
    async fn healthy_module_is_stable() {
        let r = watch(probes(vec![]), &plan(true), Arc::new(Notify::new()), || {}).await;
        assert_eq!(r.ending, Ending::Stable);
        assert_eq!(r.failures, 0);
        assert!(r.checks >= 2, "{r:?}");
        assert!(r.first_healthy_ms.is_some());
    }

    #[tokio::test]
    async fn slow_start_is_not_an_anomaly() {
        let r = watch(
            probes(vec![false, false, true]),
            &plan(true),
            Arc::new(Notify::new()),
            || {},
        )
        .await;
        assert_eq!(r.ending, Ending::Stable);
        assert_eq!(r.failures, 0);
    }

    #[tokio::test]
    async fn never_healthy_scores_one_and_rolls_back() {
        let p = plan(true);
        let r = watch(
            probes(vec![false; 1000]),
            &p,
            Arc::new(Notify::new()),
            || {},
        )
        .await;
        assert_eq!(r.ending, Ending::NeverHealthy);
        assert_eq!(r.final_anomaly, 1.0);
        assert!(r.should_rollback(&p).0);
    }

    #[tokio::test]
    async fn failing_after_start_trips_the_threshold() {
        let mut results = vec![true];
        results.extend([false; 100]);
        let p = plan(true);
        let r = watch(probes(results), &p, Arc::new(Notify::new()), || {}).await;
        assert_eq!(r.ending, Ending::Anomaly);
        assert!(r.final_anomaly > 0.7);
        let (roll, why) = r.should_rollback(&p);
        assert!(roll && why.contains("HTTP 503"), "{why}");
    }

    #[tokio::test]
    async fn one_blip_is_tolerated() {
        let r = watch(
            probes(vec![true, true, false, true]),
            &plan(true),
            Arc::new(Notify::new()),
            || {},
        )
        .await;
        assert_eq!(r.ending, Ending::Stable);
        assert_eq!(r.failures, 1);
    }

    #[tokio::test]
    async fn an_interruption_ends_the_watch() {
        let n = Arc::new(Notify::new());
        n.notify_one();
        let r = watch(probes(vec![]), &plan(true), n, || {}).await;
        assert_eq!(r.ending, Ending::Interrupted);
    }
}
