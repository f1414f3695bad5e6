//! `interfaces`: the HTTP API (keys, limits, TLS) and the approval queue.

use std::path::PathBuf;

use crate::raw::{InterfacesSection, WebTlsSection};
use crate::units::Unit;
use crate::validate::{Checker, is_safe_name};

impl InterfacesSection {
    pub(crate) fn check(&self, c: &mut Checker<'_>) {
        let web = &self.web;
        c.check(web.port != 0, "interfaces.web.port", "must not be 0");
        c.check(
            web.rate_limit_per_second.is_finite() && web.rate_limit_per_second >= 0.0,
            "interfaces.web.rate_limit_per_second",
            format!("{} must be 0 (no limit) or more", web.rate_limit_per_second),
        );
        c.check(
            web.rate_limit_burst.is_finite() && web.rate_limit_burst >= 1.0,
            "interfaces.web.rate_limit_burst",
            format!("{} must be at least 1", web.rate_limit_burst),
        );
        c.check(
            !web.request_timeout.is_zero(),
            "interfaces.web.request_timeout_seconds",
            format!(
                "{} must be more than 0",
                Unit::Seconds.of(web.request_timeout)
            ),
        );
        c.check(
            web.max_concurrent_reads >= 1,
            "interfaces.web.max_concurrent_reads",
            format!("{} must be at least 1", web.max_concurrent_reads),
        );
        c.check(
            web.read_budget.as_millis() >= 10,
            "interfaces.web.read_budget_ms",
            format!("{} must be at least 10", Unit::Millis.of(web.read_budget)),
        );
        c.non_empty("interfaces.web.host", &web.host);
        for (n, k) in web.api_keys.iter().enumerate() {
            let at = format!("interfaces.web.api_keys[{n}]");
            c.check(
                is_safe_name(&k.name),
                &format!("{at}.name"),
                format!("{:?} is not a safe name", k.name),
            );
            c.check(
                k.sha256.len() == 64
                    && k.sha256
                        .bytes()
                        .all(|x| x.is_ascii_hexdigit() && !x.is_ascii_uppercase()),
                &format!("{at}.sha256"),
                "must be the sha256 of the key: 64 lowercase hex digits (never the key itself)",
            );
        }
        if web.tls.enabled {
            web.tls.check(c);
        }
        c.range(
            "interfaces.approval_queue.max_pending",
            self.approval_queue.max_pending,
            1,
            100_000,
        );
        c.positive_duration(
            "interfaces.approval_queue.timeout_hours",
            self.approval_queue.timeout,
            Unit::Hours,
        );
    }
}

impl WebTlsSection {
    /// With TLS on, the PEM files are read and parsed now, by the code
    /// `medic serve` uses, so a missing or bad file is refused before
    /// starting.
    fn check(&self, c: &mut Checker<'_>) {
        let at = |key: &str| format!("interfaces.web.tls.{key}");
        let named = |key: &str, file: &Option<PathBuf>, c: &mut Checker<'_>| {
            if file.is_none() {
                c.fail(
                    &at(key),
                    "must name a PEM file when interfaces.web.tls.enabled is true",
                );
            }
            file.clone()
        };
        let cert_file = named("cert_file", &self.cert_file, c);
        let key_file = named("key_file", &self.key_file, c);
        let (Some(cert_file), Some(key_file)) = (cert_file, key_file) else {
            return;
        };
        let certs = crate::tls::read_certificates(&cert_file).map(drop);
        let key = crate::tls::read_private_key(&key_file).map(drop);
        let mut each_ok = true;
        for e in [certs.err(), key.err()].into_iter().flatten() {
            c.fail(&at(e.field().key()), e.to_string());
            each_ok = false;
        }
        if each_ok {
            // Both parse: check they make a usable pair.
            if let Err(e) = crate::tls::server_config(&cert_file, &key_file) {
                c.fail(&at(e.field().key()), e.to_string());
            }
        }
    }
}
