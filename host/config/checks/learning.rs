//! `learning`: the store that keeps outcomes, how long, and how learning
//! runs.

use crate::raw::{DatabaseType, LearningSection, MIN_RETENTION_DAYS};
use crate::units::Unit;
use crate::validate::Checker;

/// The most days anything may be kept (a hundred years: "for ever").
const MAX_DAYS: u64 = 36_500;

impl LearningSection {
    pub(crate) fn check(&self, c: &mut Checker<'_>) {
        let db = &self.database;
        match db.kind {
            DatabaseType::Sled => {
                c.check(
                    !db.path.as_os_str().is_empty(),
                    "learning.database.path",
                    "must not be empty",
                );
                c.check(
                    db.url.is_none(),
                    "learning.database.url",
                    "is only read with type: postgres (this store is sled, at learning.database.path): remove it or set type: postgres",
                );
            }
            DatabaseType::Postgres => match &db.url {
                None => c.fail(
                    "learning.database.url",
                    "is required with type: postgres (postgres://user@host:5432/database), here or in MEDIC_DATABASE_URL",
                ),
                Some(url) => {
                    c.check(
                        matches!(url.scheme(), "postgres" | "postgresql"),
                        "learning.database.url",
                        format!(
                            "scheme {:?} is not postgres:// or postgresql://",
                            url.scheme()
                        ),
                    );
                    c.check(
                        url.host_str().is_some_and(|h| !h.is_empty())
                            || url.query_pairs().any(|(k, _)| k == "host"),
                        "learning.database.url",
                        "names no host (postgres://user@host:5432/database)",
                    );
                }
            },
        }
        let days = Unit::Days.of(db.retention);
        c.check(
            days == 0.0 || (MIN_RETENTION_DAYS as f64..=MAX_DAYS as f64).contains(&days),
            "learning.database.retention_days",
            format!(
                "{days} must be 0 (keep everything) or between {MIN_RETENTION_DAYS} and {MAX_DAYS}: kills up to 30 days old are decided, and their decisions must be kept to know a redelivery",
            ),
        );
        if let Some(audit) = db.audit_retention.map(|d| Unit::Days.of(d)) {
            if days == 0.0 {
                c.fail(
                    "learning.database.audit_retention_days",
                    "has no effect while learning.database.retention_days is 0 (everything is kept): remove it or set retention_days",
                );
            } else {
                c.check(
                    (days..=MAX_DAYS as f64).contains(&audit),
                    "learning.database.audit_retention_days",
                    format!(
                        "{audit} must be between learning.database.retention_days ({days}) and {MAX_DAYS}"
                    ),
                );
            }
        }
        c.range(
            "learning.analysis.min_samples",
            self.analysis.min_samples,
            1,
            1_000_000,
        );
        let most = self.threshold_adjustment.max_adjustment_percent;
        c.check(
            most > 0.0 && most <= 50.0,
            "learning.threshold_adjustment.max_adjustment_percent",
            format!("{most} must be above 0 and at most 50"),
        );
    }
}
