//! `resurrection`: how modules are brought back and watched, and the
//! backends that do it.

use crate::raw::{
    BackendSection, BackendType, HealthCheckType, ResurrectionSection, WebhookAuthType,
};
use crate::units::Unit;
use crate::validate::{Checker, is_safe_name};

/// The placeholders templates may use.
const PLACEHOLDERS: &[&str] = &["{module}", "{instance}", "{kill_id}", "{request_id}"];

/// Programs that would re-parse a substituted value.
const SHELLS: &[&str] = &[
    "sh",
    "bash",
    "zsh",
    "dash",
    "ksh",
    "fish",
    "cmd",
    "powershell",
];

impl ResurrectionSection {
    pub(crate) fn check(&self, c: &mut Checker<'_>) {
        c.positive_duration(
            "resurrection.monitoring_duration_minutes",
            self.monitoring_duration,
            Unit::Minutes,
        );
        c.positive_duration(
            "resurrection.health_check_interval_seconds",
            self.health_check_interval,
            Unit::Seconds,
        );
        c.check(
            self.health_check_interval <= self.monitoring_duration,
            "resurrection.health_check_interval_seconds",
            "must not be longer than the monitoring duration",
        );
        c.range(
            "resurrection.max_retry_attempts",
            self.max_retry_attempts,
            0,
            10,
        );
        c.unit(
            "resurrection.rollback.anomaly_threshold",
            self.rollback.anomaly_threshold,
        );
        c.positive_duration(
            "resurrection.execution_timeout_seconds",
            self.execution_timeout,
            Unit::Seconds,
        );
        c.positive_duration(
            "resurrection.startup_grace_seconds",
            self.startup_grace,
            Unit::Seconds,
        );
        c.range(
            "resurrection.flapping.max_kills_per_hour",
            self.flapping.max_kills_per_hour,
            1,
            10_000,
        );
        for (n, b) in self.backends.iter().enumerate() {
            b.check(c, &format!("resurrection.backends[{n}]"));
        }
    }
}

/// Whether a backend's `modules` entry is a module name or a `*` pattern.
fn is_module_pattern(s: &str) -> bool {
    s == "*" || is_safe_name(&s.replace('*', "x"))
}

fn check_template(c: &mut Checker<'_>, path: &str, s: &str) {
    let mut rest = s;
    while let Some(open) = rest.find('{') {
        let tail = &rest[open..];
        match PLACEHOLDERS.iter().find(|p| tail.starts_with(*p)) {
            Some(p) => rest = &tail[p.len()..],
            None => {
                c.fail(
                    path,
                    format!(
                        "unknown placeholder in {s:?} (known: {})",
                        PLACEHOLDERS.join(", ")
                    ),
                );
                return;
            }
        }
    }
}

fn check_argv(c: &mut Checker<'_>, path: &str, argv: &[String], required: bool) {
    let Some(program) = argv.first() else {
        if required {
            c.fail(
                path,
                "must name a program to run (a list: [program, args…])",
            );
        }
        return;
    };
    c.check(
        !program.contains('{'),
        &format!("{path}[0]"),
        "the program itself may not be a placeholder",
    );
    // A shell would re-parse substituted values: refuse `sh -c "… {module}"`.
    let name = program.rsplit('/').next().unwrap_or("");
    if SHELLS.contains(&name) && argv.iter().any(|a| a.contains('{')) {
        c.fail(
            path,
            "placeholders may not be passed to a shell (they would be re-parsed); run the program directly",
        );
    }
    for (i, a) in argv.iter().enumerate() {
        check_template(c, &format!("{path}[{i}]"), a);
    }
}

/// A URL that may hold placeholders: it stays text (a URL type would
/// percent-encode the braces), and is checked as the URL it becomes with
/// each placeholder filled in by a safe name.
fn check_http_url(c: &mut Checker<'_>, path: &str, url: &str) {
    let filled = PLACEHOLDERS
        .iter()
        .fold(url.to_string(), |u, p| u.replace(p, "x"));
    match url::Url::parse(&filled) {
        Ok(u) => c.check(
            matches!(u.scheme(), "http" | "https"),
            path,
            format!("{url:?} must be an http:// or https:// URL"),
        ),
        Err(e) => c.fail(path, format!("{url:?} is not a URL: {e}")),
    }
    check_template(c, path, url);
}

impl BackendSection {
    fn check(&self, c: &mut Checker<'_>, path: &str) {
        c.check(
            !self.modules.is_empty(),
            &format!("{path}.modules"),
            "must list the modules (names or patterns with *) this backend serves",
        );
        for (i, m) in self.modules.iter().enumerate() {
            c.check(
                is_module_pattern(m),
                &format!("{path}.modules[{i}]"),
                format!("{m:?} is not a module name or pattern"),
            );
        }
        match self.kind {
            BackendType::Process => {
                c.non_empty(&format!("{path}.command"), &self.command);
                check_template(c, &format!("{path}.command"), &self.command);
                for (i, a) in self.args.iter().enumerate() {
                    check_template(c, &format!("{path}.args[{i}]"), a);
                }
            }
            BackendType::Command => {
                check_argv(c, &format!("{path}.restart"), &self.restart, true);
                check_argv(c, &format!("{path}.rollback"), &self.rollback, false);
                check_argv(c, &format!("{path}.status"), &self.status, false);
            }
            BackendType::Webhook => {
                check_http_url(c, &format!("{path}.url"), &self.url);
                if self.auth.kind != WebhookAuthType::None {
                    c.non_empty(&format!("{path}.auth.token_env"), &self.auth.token_env);
                }
            }
        }
        if self.kind != BackendType::Command {
            for (key, set) in [
                ("restart", !self.restart.is_empty()),
                ("rollback", !self.rollback.is_empty()),
                ("status", !self.status.is_empty()),
            ] {
                c.check(
                    !set,
                    &format!("{path}.{key}"),
                    "only applies to type command",
                );
            }
        }
        if self.kind != BackendType::Process {
            c.check(
                self.command.is_empty() && self.args.is_empty(),
                &format!("{path}.command"),
                "command and args only apply to type process",
            );
        }
        if self.kind != BackendType::Webhook {
            c.check(
                self.url.is_empty(),
                &format!("{path}.url"),
                "only applies to type webhook",
            );
        }
        let h = &self.health_check;
        let hp = format!("{path}.health_check");
        c.positive_duration(&format!("{hp}.timeout_seconds"), h.timeout, Unit::Seconds);
        match h.kind {
            HealthCheckType::Backend => {}
            HealthCheckType::Http => {
                check_http_url(c, &format!("{hp}.url"), &h.url);
                c.range(&format!("{hp}.expect_status"), h.expect_status, 100, 599);
            }
            HealthCheckType::Tcp => {
                c.check(
                    h.address.rsplit_once(':').is_some_and(|(host, port)| {
                        !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p != 0)
                    }),
                    &format!("{hp}.address"),
                    format!("{:?} must be host:port", h.address),
                );
            }
            HealthCheckType::Command => check_argv(c, &format!("{hp}.command"), &h.command, true),
        }
    }
}
