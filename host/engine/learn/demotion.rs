//! Automatic demotion: each acting phase has an error budget (the
//! constitution's `phases.<phase>.error_budget`: automatic resurrections
//! that may go wrong — rolled back, re-killed, failed — in a sliding
//! window). Burning it steps the mode down one level (full_auto →
//! semi_auto → manual): audited (as every mode change), counted in
//! `medic_mode_demotions_total`, published on the events stream as
//! `mode.demoted`, and logged. Stepping back up is a person's action
//! (`PUT /api/v1/mode`, `medic mode set`); the budget starts afresh with
//! every mode change.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::config::raw::ErrorBudget;
use crate::config::{Config, Mode};
use crate::events::Event;

/// The mode one step less automatic, for the modes that resurrect alone.
pub fn step_down(mode: Mode) -> Option<Mode> {
    match mode {
        Mode::FullAuto => Some(Mode::SemiAuto),
        Mode::SemiAuto => Some(Mode::Manual),
        Mode::Observer | Mode::Manual => None,
    }
}

/// The error budget of the phase `mode` runs in, if it has one.
pub fn budget(config: &Config, mode: Mode) -> Option<ErrorBudget> {
    step_down(mode)?;
    config.phase_for(mode).and_then(|p| p.error_budget)
}

/// Where the budget's window starts at `now`.
pub fn window_start(budget: &ErrorBudget, now: DateTime<Utc>) -> DateTime<Utc> {
    now - crate::config::units::span(budget.window)
}

/// Whether `failures` in the window burn `budget`.
pub fn burnt(budget: &ErrorBudget, failures: usize) -> bool {
    failures >= budget.max_failures as usize
}

/// What a demotion did.
#[derive(Clone, Debug, PartialEq)]
pub struct Demoted {
    pub from: Mode,
    pub to: Mode,
    pub failures: usize,
    pub reason: String,
}

/// Publishes an event on the events stream.
pub type Publish = Arc<dyn Fn(Event) -> futures::future::BoxFuture<'static, ()> + Send + Sync>;

/// Watches the fleet's failures (`failed`, its failure signal) and steps
/// the mode down when the budget of the mode in force is burnt. Holds the
/// decider weakly: it ends at the first failure after the engine is gone,
/// and never keeps the engine (or its store) alive.
pub async fn watch(
    config: Arc<Config>,
    decider: std::sync::Weak<crate::decide::Decider>,
    failed: Arc<tokio::sync::Notify>,
    publish: Publish,
) {
    loop {
        failed.notified().await;
        let Some(decider) = decider.upgrade() else {
            return;
        };
        let demoted = check(&config, &decider, Utc::now());
        drop(decider);
        if let Some(d) = demoted {
            publish(Event::Demoted {
                from: d.from,
                to: d.to,
                failures: d.failures,
                reason: d.reason,
                at: Utc::now(),
            })
            .await;
        }
    }
}

/// Steps the mode down if its budget is burnt at `now`.
pub fn check(
    config: &Config,
    decider: &crate::decide::Decider,
    now: DateTime<Utc>,
) -> Option<Demoted> {
    let from = decider.mode();
    let budget = budget(config, from)?;
    let to = step_down(from)?;
    let failures = decider.fleet.failures_since(window_start(&budget, now));
    if !burnt(&budget, failures) {
        return None;
    }
    let reason = format!(
        "error budget burnt: {failures} automatic resurrection(s) went wrong (rolled back, re-killed or failed) within {} minutes (budget {}); stepping back up is a person's action",
        budget.window.as_secs() / 60,
        budget.max_failures
    );
    match decider.set_mode(to, "medic", &reason) {
        Ok(_) => {
            decider.metrics.demoted(from.name(), to.name());
            tracing::error!(
                from = from.name(),
                to = to.name(),
                failures,
                "Mode demoted: {reason}"
            );
            Some(Demoted {
                from,
                to,
                failures,
                reason,
            })
        }
        Err(e) => {
            tracing::error!(from = from.name(), to = to.name(), error = %e, "The error budget is burnt but the mode could not be stepped down");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mode_steps_down_one_level_and_no_further_than_manual() {
        assert_eq!(step_down(Mode::FullAuto), Some(Mode::SemiAuto));
        assert_eq!(step_down(Mode::SemiAuto), Some(Mode::Manual));
        assert_eq!(step_down(Mode::Manual), None);
        assert_eq!(step_down(Mode::Observer), None);
    }

    #[test]
    fn the_budget_is_burnt_at_its_count_within_its_window() {
        let b = ErrorBudget {
            max_failures: 3,
            window: std::time::Duration::from_secs(3_600),
        };
        assert!(!burnt(&b, 2));
        assert!(burnt(&b, 3));
        let now = Utc::now();
        assert_eq!(window_start(&b, now), now - chrono::Duration::hours(1));
    }

    #[test]
    fn the_shipped_constitution_gives_the_acting_phases_a_budget() {
        let config = Config::embedded().expect("embedded config");
        for mode in [Mode::SemiAuto, Mode::FullAuto] {
            let b = budget(&config, mode).expect("a budget");
            assert!(b.max_failures >= 1 && b.window.as_secs() >= 60);
        }
        assert_eq!(budget(&config, Mode::Manual), None);
    }
}
