//! `logging` and `metrics`: what Medic tells its operators, and where.

use crate::raw::{LogOutputType, LoggingSection, MetricsSection};
use crate::units::Unit;
use crate::validate::Checker;

impl LoggingSection {
    pub(crate) fn check(&self, c: &mut Checker<'_>) {
        c.check(
            !self.outputs.is_empty(),
            "logging.outputs",
            "needs at least one output",
        );
        for (n, o) in self.outputs.iter().enumerate() {
            let at = format!("logging.outputs[{n}]");
            if o.kind == LogOutputType::File {
                c.check(
                    o.path.as_deref().is_some_and(|p| !p.as_os_str().is_empty()),
                    &format!("{at}.path"),
                    "a file output needs a path",
                );
            }
            if let Some(kept) = o.retention {
                let at = format!("{at}.retention_days");
                c.duration_range(&at, kept, Unit::Days, 1, 3650);
                let days = Unit::Days.of(kept);
                c.check(
                    days.fract() == 0.0,
                    &at,
                    format!("{days} must be a whole number of days: one log file is kept a day"),
                );
            }
        }
    }
}

impl MetricsSection {
    pub(crate) fn check(&self, c: &mut Checker<'_>) {
        c.check(self.port != 0, "metrics.port", "must not be 0");
    }
}
