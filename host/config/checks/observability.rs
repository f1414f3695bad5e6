//! `logging` and `metrics`: what Medic tells its operators, and where.

use crate::raw::{LogOutputType, LoggingSection, MetricsSection};
use crate::validate::Checker;

/// The levels `logging.level` takes (any case).
const LEVELS: &[&str] = &[
    "TRACE", "DEBUG", "INFO", "WARNING", "WARN", "ERROR", "CRITICAL",
];

impl LoggingSection {
    pub(crate) fn check(&self, c: &mut Checker<'_>) {
        c.check(
            LEVELS.contains(&self.level.to_ascii_uppercase().as_str()),
            "logging.level",
            format!(
                "{:?} is not a level (DEBUG, INFO, WARNING, ERROR, CRITICAL)",
                self.level
            ),
        );
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
            if let Some(rot) = &o.rotation {
                c.check(
                    rot == "daily" || rot == "never",
                    &format!("{at}.rotation"),
                    format!("{rot:?} is not a rotation (daily, never)"),
                );
            }
            if let Some(days) = o.retention_days {
                c.range(&format!("{at}.retention_days"), days, 1, 3650);
            }
        }
    }
}

impl MetricsSection {
    pub(crate) fn check(&self, c: &mut Checker<'_>) {
        c.check(self.port != 0, "metrics.port", "must not be 0");
    }
}
