//! `siem`: where context for a kill comes from, and how hard Medic tries.

use std::time::Duration;

use crate::raw::{SiemAdapterType, SiemSection};
use crate::units::Unit;
use crate::validate::Checker;

impl SiemSection {
    pub(crate) fn check(&self, c: &mut Checker<'_>) {
        if self.adapter == SiemAdapterType::Rest {
            c.check(
                matches!(self.endpoint.scheme(), "http" | "https"),
                "siem.endpoint",
                format!(
                    "{:?} must be an http:// or https:// URL",
                    self.endpoint.as_str()
                ),
            );
        }
        let key_env = &self.auth.key_env;
        c.check(
            !key_env.is_empty()
                && key_env
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'),
            "siem.auth.key_env",
            format!("{key_env:?} is not an environment variable name (A-Z 0-9 _)"),
        );
        c.check(
            self.timeout > Duration::ZERO && self.timeout <= Duration::from_secs(30),
            "siem.timeout_seconds",
            format!(
                "{} must be above 0 and at most 30",
                Unit::Seconds.of(self.timeout)
            ),
        );
        if self.adapter == SiemAdapterType::File {
            c.check(
                self.intel_file.is_some(),
                "siem.intel_file",
                "must not be empty",
            );
        }
        let retry = &self.retry;
        c.range("siem.retry.max_attempts", retry.max_attempts, 1, 10);
        c.check(
            retry.max_backoff >= retry.backoff,
            "siem.retry.max_backoff_seconds",
            "must be at least siem.retry.backoff_seconds",
        );
        c.duration_range(
            "siem.retry.backoff_seconds",
            retry.backoff,
            Unit::Seconds,
            0,
            60,
        );
        let breaker = &self.circuit_breaker;
        c.range(
            "siem.circuit_breaker.failure_threshold",
            breaker.failure_threshold,
            1,
            1000,
        );
        c.positive_duration(
            "siem.circuit_breaker.recovery_timeout_seconds",
            breaker.recovery_timeout,
            Unit::Seconds,
        );
        c.range(
            "siem.circuit_breaker.half_open_max_calls",
            breaker.half_open_max_calls,
            1,
            100,
        );
        c.range(
            "siem.cache.max_entries",
            self.cache.max_entries,
            1,
            1_000_000,
        );
    }
}
