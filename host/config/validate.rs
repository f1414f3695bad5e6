//! The checks that make a [`super::Config`]: ranges, orderings, names, and
//! what the two files must agree on. Every problem found is recorded.

use super::Problem;
use super::load::{root, section, unknown_sections};
use super::phases::Phase;
use super::raw::*;
use crate::model::RiskLevel;

const MEDIC_SECTIONS: &[&str] = &[
    "version",
    "mode",
    "smith",
    "siem",
    "decision",
    "risk",
    "resurrection",
    "interfaces",
    "learning",
    "logging",
    "metrics",
    "plugins",
    "modules",
];

const CONSTITUTION_SECTIONS: &[&str] = &[
    "version",
    "phases",
    "constraints",
    "plugins",
    "learning_bounds",
];

/// The phase key in `plugins:` that binds every phase without its own entry.
pub const DEFAULT_BINDING: &str = "default";

pub(super) fn parse_medic(file: &str, text: &str, p: &mut Vec<Problem>) -> MedicFile {
    let r = root(file, text, p);
    unknown_sections(file, &r, MEDIC_SECTIONS, p);
    let d = MedicFile::default();
    MedicFile {
        version: section::<Option<String>>(file, &r, "version", p).unwrap_or(d.version),
        mode: section(file, &r, "mode", p),
        smith: section(file, &r, "smith", p),
        siem: section(file, &r, "siem", p),
        decision: section(file, &r, "decision", p),
        risk: section(file, &r, "risk", p),
        resurrection: section(file, &r, "resurrection", p),
        interfaces: section(file, &r, "interfaces", p),
        learning: section(file, &r, "learning", p),
        logging: section(file, &r, "logging", p),
        metrics: section(file, &r, "metrics", p),
        plugins: section(file, &r, "plugins", p),
        modules: section(file, &r, "modules", p),
    }
}

pub(super) fn parse_constitution(file: &str, text: &str, p: &mut Vec<Problem>) -> ConstitutionFile {
    let r = root(file, text, p);
    unknown_sections(file, &r, CONSTITUTION_SECTIONS, p);
    let d = ConstitutionFile::default();
    ConstitutionFile {
        version: section::<Option<String>>(file, &r, "version", p).unwrap_or(d.version),
        phases: section(file, &r, "phases", p),
        constraints: section(file, &r, "constraints", p),
        plugins: section(file, &r, "plugins", p),
        learning_bounds: section(file, &r, "learning_bounds", p),
    }
}

/// The environment's overrides (`MEDIC_MODE`, `MEDIC_LOG_LEVEL`,
/// `MEDIC_METRICS_PORT`, `SMITH_EVENT_BUS_URL`).
pub(super) fn apply_env(
    m: &mut MedicFile,
    env: &dyn Fn(&str) -> Option<String>,
    p: &mut Vec<Problem>,
) {
    let file = "environment";
    if let Some(v) = env("MEDIC_MODE") {
        match serde_yaml::from_str::<Mode>(&v) {
            Ok(mode) => m.mode.current = mode,
            Err(_) => p.push(Problem::new(
                file,
                "MEDIC_MODE",
                format!("{v:?} is not a mode (observer, manual, semi_auto, full_auto)"),
            )),
        }
    }
    if let Some(v) = env("MEDIC_LOG_LEVEL") {
        m.logging.level = v;
    }
    if let Some(v) = env("MEDIC_METRICS_PORT") {
        match v.parse::<u16>() {
            Ok(port) => m.metrics.port = port,
            Err(_) => p.push(Problem::new(
                file,
                "MEDIC_METRICS_PORT",
                format!("{v:?} is not a port number"),
            )),
        }
    }
    if let Some(v) = env("SMITH_EVENT_BUS_URL") {
        m.smith.event_bus.url = v;
        m.smith.event_bus.kind = EventBusType::Redis;
    }
}

struct Checker<'a> {
    file: &'a str,
    p: &'a mut Vec<Problem>,
}

impl Checker<'_> {
    fn fail(&mut self, path: &str, message: impl Into<String>) {
        self.p.push(Problem::new(self.file, path, message));
    }

    fn check(&mut self, ok: bool, path: &str, message: impl Into<String>) {
        if !ok {
            self.fail(path, message);
        }
    }

    fn unit(&mut self, path: &str, v: f64) {
        self.check(
            v.is_finite() && (0.0..=1.0).contains(&v),
            path,
            format!("{v} must be between 0 and 1"),
        );
    }

    fn positive(&mut self, path: &str, v: f64) {
        self.check(
            v.is_finite() && v > 0.0,
            path,
            format!("{v} must be greater than 0"),
        );
    }

    fn range<T: PartialOrd + std::fmt::Display + Copy>(&mut self, path: &str, v: T, lo: T, hi: T) {
        self.check(
            v >= lo && v <= hi,
            path,
            format!("{v} must be between {lo} and {hi}"),
        );
    }

    fn non_empty(&mut self, path: &str, v: &str) {
        self.check(!v.trim().is_empty(), path, "must not be empty");
    }

    fn module_names(&mut self, path: &str, names: &[String]) {
        for (i, n) in names.iter().enumerate() {
            self.check(
                is_safe_name(n),
                &format!("{path}[{i}]"),
                format!("{n:?} is not a module name (1-128 of A-Z a-z 0-9 . _ -)"),
            );
        }
    }
}

/// [`is_safe_name`] as a regular expression (for the OpenAPI document).
pub const NAME_PATTERN: &str = "^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$";

/// Module, instance and plugin names: short, and nothing a shell or a path
/// could misread.
pub fn is_safe_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        && !s.starts_with('.')
        && !s.starts_with('-')
}

/// Whether a backend's `modules` entry is a module name or a `*` pattern.
fn is_module_pattern(s: &str) -> bool {
    s == "*" || is_safe_name(&s.replace('*', "x"))
}

/// The placeholders templates may use.
const PLACEHOLDERS: &[&str] = &["{module}", "{instance}", "{kill_id}", "{request_id}"];

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
    if argv.is_empty() {
        if required {
            c.fail(
                path,
                "must name a program to run (a list: [program, args…])",
            );
        }
        return;
    }
    c.check(
        !argv[0].contains('{'),
        &format!("{path}[0]"),
        "the program itself may not be a placeholder",
    );
    // A shell would re-parse substituted values: refuse `sh -c "… {module}"`.
    let shell = [
        "sh",
        "bash",
        "zsh",
        "dash",
        "ksh",
        "fish",
        "cmd",
        "powershell",
    ];
    let prog = argv[0].rsplit('/').next().unwrap_or("");
    if shell.contains(&prog) && argv.iter().any(|a| a.contains('{')) {
        c.fail(
            path,
            "placeholders may not be passed to a shell (they would be re-parsed); run the program directly",
        );
    }
    for (i, a) in argv.iter().enumerate() {
        check_template(c, &format!("{path}[{i}]"), a);
    }
}

fn check_backend(c: &mut Checker<'_>, path: &str, b: &BackendSection) {
    c.check(
        !b.modules.is_empty(),
        &format!("{path}.modules"),
        "must list the modules (names or patterns with *) this backend serves",
    );
    for (i, m) in b.modules.iter().enumerate() {
        c.check(
            is_module_pattern(m),
            &format!("{path}.modules[{i}]"),
            format!("{m:?} is not a module name or pattern"),
        );
    }
    match b.kind {
        BackendType::Process => {
            c.non_empty(&format!("{path}.command"), &b.command);
            check_template(c, &format!("{path}.command"), &b.command);
            for (i, a) in b.args.iter().enumerate() {
                check_template(c, &format!("{path}.args[{i}]"), a);
            }
        }
        BackendType::Command => {
            check_argv(c, &format!("{path}.restart"), &b.restart, true);
            check_argv(c, &format!("{path}.rollback"), &b.rollback, false);
            check_argv(c, &format!("{path}.status"), &b.status, false);
        }
        BackendType::Webhook => {
            c.check(
                b.url.starts_with("http://") || b.url.starts_with("https://"),
                &format!("{path}.url"),
                format!("{:?} must be an http:// or https:// URL", b.url),
            );
            check_template(c, &format!("{path}.url"), &b.url);
            c.check(
                matches!(b.auth.kind.as_str(), "" | "none" | "bearer" | "api_key"),
                &format!("{path}.auth.type"),
                format!("{:?} must be none, bearer or api_key", b.auth.kind),
            );
            if matches!(b.auth.kind.as_str(), "bearer" | "api_key") {
                c.non_empty(&format!("{path}.auth.token_env"), &b.auth.token_env);
            }
        }
    }
    if b.kind != BackendType::Command {
        for (key, set) in [
            ("restart", !b.restart.is_empty()),
            ("rollback", !b.rollback.is_empty()),
            ("status", !b.status.is_empty()),
        ] {
            c.check(
                !set,
                &format!("{path}.{key}"),
                "only applies to type command",
            );
        }
    }
    if b.kind != BackendType::Process {
        c.check(
            b.command.is_empty() && b.args.is_empty(),
            &format!("{path}.command"),
            "command and args only apply to type process",
        );
    }
    if b.kind != BackendType::Webhook {
        c.check(
            b.url.is_empty(),
            &format!("{path}.url"),
            "only applies to type webhook",
        );
    }
    if b.timeout_seconds != 0.0 {
        c.positive(&format!("{path}.timeout_seconds"), b.timeout_seconds);
    }
    let h = &b.health_check;
    let hp = format!("{path}.health_check");
    c.positive(&format!("{hp}.timeout_seconds"), h.timeout_seconds);
    match h.kind {
        HealthCheckType::Backend => {}
        HealthCheckType::Http => {
            c.check(
                h.url.starts_with("http://") || h.url.starts_with("https://"),
                &format!("{hp}.url"),
                format!("{:?} must be an http:// or https:// URL", h.url),
            );
            check_template(c, &format!("{hp}.url"), &h.url);
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

/// With TLS on, the PEM files are read and parsed now, by the code
/// `medic serve` uses, so a missing or bad file is refused before starting.
fn check_web_tls(c: &mut Checker<'_>, t: &WebTlsSection) {
    let at = |key: &str| format!("interfaces.web.tls.{key}");
    let mut usable = true;
    for (key, value) in [("cert_file", &t.cert_file), ("key_file", &t.key_file)] {
        if value.trim().is_empty() {
            c.fail(
                &at(key),
                "must name a PEM file when interfaces.web.tls.enabled is true",
            );
            usable = false;
        }
    }
    if !usable {
        return;
    }
    let certs = crate::tls::read_certificates(&t.cert_file).map(drop);
    let key = crate::tls::read_private_key(&t.key_file).map(drop);
    let mut each_ok = true;
    for e in [certs.err(), key.err()].into_iter().flatten() {
        c.fail(&at(e.field().key()), e.to_string());
        each_ok = false;
    }
    if each_ok {
        // Both parse: check they make a usable pair.
        if let Err(e) = crate::tls::server_config(&t.cert_file, &t.key_file) {
            c.fail(&at(e.field().key()), e.to_string());
        }
    }
}

pub(super) fn check_medic(file: &str, m: &MedicFile, p: &mut Vec<Problem>) {
    let mut c = Checker { file, p };
    c.check(
        m.version == "1.0",
        "version",
        format!("{:?} is not a supported version (1.0)", m.version),
    );
    c.check(
        m.mode.fallback <= m.mode.current,
        "mode.fallback",
        format!(
            "{:?} must not be more autonomous than mode.current ({:?})",
            m.mode.fallback, m.mode.current
        ),
    );

    let bus = &m.smith.event_bus;
    if bus.url.is_empty() {
        c.non_empty("smith.event_bus.host", &bus.host);
        c.check(bus.port != 0, "smith.event_bus.port", "must not be 0");
    } else {
        c.check(
            bus.url.starts_with("redis://") || bus.url.starts_with("rediss://"),
            "smith.event_bus.url",
            format!("{:?} must start with redis:// or rediss://", bus.url),
        );
    }
    c.non_empty("smith.event_bus.topic", &bus.topic);
    c.non_empty("smith.event_bus.dead_letter_topic", &bus.dead_letter_topic);
    c.check(
        is_safe_name(&bus.consumer_group),
        "smith.event_bus.consumer_group",
        "must be a safe name",
    );
    c.check(
        is_safe_name(&bus.consumer_name),
        "smith.event_bus.consumer_name",
        "must be a safe name",
    );
    c.range("smith.event_bus.batch_size", bus.batch_size, 1, 10_000);
    c.range("smith.event_bus.block_ms", bus.block_ms, 1, 60_000);
    c.range(
        "smith.event_bus.claim_idle_ms",
        bus.claim_idle_ms,
        100,
        86_400_000,
    );
    c.range(
        "smith.event_bus.max_in_flight",
        bus.max_in_flight,
        1,
        100_000,
    );
    c.non_empty("smith.event_bus.response_topic", &bus.response_topic);
    c.non_empty("smith.event_bus.events_topic", &bus.events_topic);
    let veto = &m.smith.veto_protocol;
    // A kill may not make Medic write into a stream that means something
    // else: the kills themselves, dead letters, events, the veto channel.
    let reserved = [
        ("smith.event_bus.topic", &bus.topic),
        ("smith.event_bus.dead_letter_topic", &bus.dead_letter_topic),
        ("smith.event_bus.events_topic", &bus.events_topic),
        ("smith.veto_protocol.notice_topic", &veto.notice_topic),
        ("smith.veto_protocol.response_topic", &veto.response_topic),
    ];
    for (i, pattern) in bus.reply_streams.iter().enumerate() {
        let key = format!("smith.event_bus.reply_streams[{i}]");
        c.check(
            !pattern.is_empty()
                && pattern.bytes().all(|b| {
                    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':' | b'*')
                }),
            &key,
            format!(
                "{pattern:?} must be a stream name or a pattern of letters, digits, . _ - : and *"
            ),
        );
        for (name, stream) in reserved {
            c.check(
                !crate::patterns::matches(pattern, stream),
                &key,
                format!(
                    "{pattern:?} matches {name} ({stream:?}): a kill could make Medic write there"
                ),
            );
        }
    }
    if veto.enabled {
        c.check(
            bus.kind == EventBusType::Redis,
            "smith.veto_protocol.enabled",
            "the veto protocol talks to Smith over Redis: needs smith.event_bus.type redis",
        );
        c.non_empty("smith.veto_protocol.notice_topic", &veto.notice_topic);
        c.non_empty("smith.veto_protocol.response_topic", &veto.response_topic);
    }
    c.range(
        "smith.veto_protocol.timeout_seconds",
        m.smith.veto_protocol.timeout_seconds,
        1,
        600,
    );

    let s = &m.siem;
    if s.adapter == SiemAdapterType::Rest {
        c.check(
            s.endpoint.starts_with("http://") || s.endpoint.starts_with("https://"),
            "siem.endpoint",
            format!("{:?} must be an http:// or https:// URL", s.endpoint),
        );
    }
    c.check(
        s.auth.kind == "api_key",
        "siem.auth.type",
        format!("{:?} is not supported (api_key)", s.auth.kind),
    );
    c.check(
        !s.auth.key_env.is_empty()
            && s.auth
                .key_env
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'),
        "siem.auth.key_env",
        format!(
            "{:?} is not an environment variable name (A-Z 0-9 _)",
            s.auth.key_env
        ),
    );
    c.check(
        s.timeout_seconds.is_finite() && s.timeout_seconds > 0.0 && s.timeout_seconds <= 30.0,
        "siem.timeout_seconds",
        format!("{} must be above 0 and at most 30", s.timeout_seconds),
    );
    if s.adapter == SiemAdapterType::File {
        c.non_empty("siem.intel_file", &s.intel_file);
    }
    c.range("siem.retry.max_attempts", s.retry.max_attempts, 1, 10);
    c.check(
        s.retry.max_backoff_seconds.is_finite()
            && s.retry.max_backoff_seconds >= s.retry.backoff_seconds,
        "siem.retry.max_backoff_seconds",
        "must be at least siem.retry.backoff_seconds",
    );
    c.range(
        "siem.circuit_breaker.failure_threshold",
        s.circuit_breaker.failure_threshold,
        1,
        1000,
    );
    c.positive(
        "siem.circuit_breaker.recovery_timeout_seconds",
        s.circuit_breaker.recovery_timeout_seconds,
    );
    c.range(
        "siem.circuit_breaker.half_open_max_calls",
        s.circuit_breaker.half_open_max_calls,
        1,
        100,
    );
    c.check(
        s.cache.ttl_seconds.is_finite() && s.cache.ttl_seconds >= 0.0,
        "siem.cache.ttl_seconds",
        "must be 0 (no cache) or more",
    );
    c.range("siem.cache.max_entries", s.cache.max_entries, 1, 1_000_000);
    c.check(
        s.retry.backoff_seconds.is_finite() && (0.0..=60.0).contains(&s.retry.backoff_seconds),
        "siem.retry.backoff_seconds",
        format!("{} must be between 0 and 60", s.retry.backoff_seconds),
    );

    let d = &m.decision;
    c.range(
        "decision.default_timeout_minutes",
        d.default_timeout_minutes,
        1,
        10_080,
    );
    c.unit("decision.confidence_threshold", d.confidence_threshold);
    c.unit(
        "decision.auto_approve.min_confidence",
        d.auto_approve.min_confidence,
    );
    c.check(
        d.auto_approve.max_risk_level < RiskLevel::High,
        "decision.auto_approve.max_risk_level",
        format!(
            "{:?} is too high: auto-approval is for minimal, low or medium risk",
            d.auto_approve.max_risk_level
        ),
    );

    let t = &m.risk.thresholds;
    for (name, v) in [
        ("minimal", t.minimal),
        ("low", t.low),
        ("medium", t.medium),
        ("high", t.high),
    ] {
        c.unit(&format!("risk.thresholds.{name}"), v);
    }
    c.check(
        t.minimal < t.low && t.low < t.medium && t.medium < t.high,
        "risk.thresholds",
        format!(
            "must increase: minimal {} < low {} < medium {} < high {}",
            t.minimal, t.low, t.medium, t.high
        ),
    );
    let w = &m.risk.weights;
    let weights = [
        ("smith_confidence", w.smith_confidence),
        ("siem_risk_score", w.siem_risk_score),
        ("false_positive_history", w.false_positive_history),
        ("module_criticality", w.module_criticality),
        ("time_of_day", w.time_of_day),
    ];
    for (name, v) in weights {
        c.unit(&format!("risk.weights.{name}"), v);
    }
    let sum: f64 = weights.iter().map(|(_, v)| v).sum();
    c.check(
        (sum - 1.0).abs() <= 0.01,
        "risk.weights",
        format!("must sum to 1 (they sum to {sum:.3})"),
    );

    let r = &m.resurrection;
    c.positive(
        "resurrection.monitoring_duration_minutes",
        r.monitoring_duration_minutes,
    );
    c.positive(
        "resurrection.health_check_interval_seconds",
        r.health_check_interval_seconds,
    );
    c.check(
        r.health_check_interval_seconds <= r.monitoring_duration_minutes * 60.0,
        "resurrection.health_check_interval_seconds",
        "must not be longer than the monitoring duration",
    );
    c.range(
        "resurrection.max_retry_attempts",
        r.max_retry_attempts,
        0,
        10,
    );
    c.unit(
        "resurrection.rollback.anomaly_threshold",
        r.rollback.anomaly_threshold,
    );
    c.positive(
        "resurrection.execution_timeout_seconds",
        r.execution_timeout_seconds,
    );
    c.positive(
        "resurrection.startup_grace_seconds",
        r.startup_grace_seconds,
    );
    c.check(
        r.cooldown_seconds.is_finite() && r.cooldown_seconds >= 0.0,
        "resurrection.cooldown_seconds",
        format!("{} must be 0 or more", r.cooldown_seconds),
    );
    c.range(
        "resurrection.flapping.max_kills_per_hour",
        r.flapping.max_kills_per_hour,
        1,
        10_000,
    );
    c.check(
        r.flapping.cooldown_minutes.is_finite() && r.flapping.cooldown_minutes >= 0.0,
        "resurrection.flapping.cooldown_minutes",
        format!("{} must be 0 or more", r.flapping.cooldown_minutes),
    );
    for (n, b) in r.backends.iter().enumerate() {
        check_backend(&mut c, &format!("resurrection.backends[{n}]"), b);
    }

    let i = &m.interfaces;
    c.check(i.web.port != 0, "interfaces.web.port", "must not be 0");
    c.check(
        i.web.rate_limit_per_second.is_finite() && i.web.rate_limit_per_second >= 0.0,
        "interfaces.web.rate_limit_per_second",
        format!(
            "{} must be 0 (no limit) or more",
            i.web.rate_limit_per_second
        ),
    );
    c.check(
        i.web.rate_limit_burst.is_finite() && i.web.rate_limit_burst >= 1.0,
        "interfaces.web.rate_limit_burst",
        format!("{} must be at least 1", i.web.rate_limit_burst),
    );
    c.check(
        i.web.request_timeout_seconds.is_finite() && i.web.request_timeout_seconds > 0.0,
        "interfaces.web.request_timeout_seconds",
        format!("{} must be more than 0", i.web.request_timeout_seconds),
    );
    c.check(
        i.web.max_concurrent_reads >= 1,
        "interfaces.web.max_concurrent_reads",
        format!("{} must be at least 1", i.web.max_concurrent_reads),
    );
    c.check(
        i.web.read_budget_ms >= 10,
        "interfaces.web.read_budget_ms",
        format!("{} must be at least 10", i.web.read_budget_ms),
    );
    c.non_empty("interfaces.web.host", &i.web.host);
    for (n, k) in i.web.api_keys.iter().enumerate() {
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
    if i.web.tls.enabled {
        check_web_tls(&mut c, &i.web.tls);
    }
    c.range(
        "interfaces.approval_queue.max_pending",
        i.approval_queue.max_pending,
        1,
        100_000,
    );
    c.positive(
        "interfaces.approval_queue.timeout_hours",
        i.approval_queue.timeout_hours,
    );

    let l = &m.learning;
    c.check(
        l.database.kind == "sled",
        "learning.database.type",
        format!(
            "{:?} is not supported: Medic keeps outcomes in its own store (sled)",
            l.database.kind
        ),
    );
    c.non_empty("learning.database.path", &l.database.path);
    let db = &l.database;
    const MAX_DAYS: u32 = 36_500;
    c.check(
        db.retention_days == 0
            || (crate::raw::MIN_RETENTION_DAYS..=MAX_DAYS).contains(&db.retention_days),
        "learning.database.retention_days",
        format!(
            "{} must be 0 (keep everything) or between {} and {MAX_DAYS}: kills up to 30 days old are decided, and their decisions must be kept to know a redelivery",
            db.retention_days,
            crate::raw::MIN_RETENTION_DAYS
        ),
    );
    if let Some(audit) = db.audit_retention_days {
        if db.retention_days == 0 {
            c.fail(
                "learning.database.audit_retention_days",
                "has no effect while learning.database.retention_days is 0 (everything is kept): remove it or set retention_days",
            );
        } else {
            c.check(
                (db.retention_days..=MAX_DAYS).contains(&audit),
                "learning.database.audit_retention_days",
                format!(
                    "{audit} must be between learning.database.retention_days ({}) and {MAX_DAYS}",
                    db.retention_days
                ),
            );
        }
    }
    c.range(
        "learning.analysis.min_samples",
        l.analysis.min_samples,
        1,
        1_000_000,
    );
    c.check(
        l.threshold_adjustment.max_adjustment_percent > 0.0
            && l.threshold_adjustment.max_adjustment_percent <= 50.0,
        "learning.threshold_adjustment.max_adjustment_percent",
        format!(
            "{} must be above 0 and at most 50",
            l.threshold_adjustment.max_adjustment_percent
        ),
    );

    let g = &m.logging;
    c.check(
        [
            "TRACE", "DEBUG", "INFO", "WARNING", "WARN", "ERROR", "CRITICAL",
        ]
        .contains(&g.level.to_ascii_uppercase().as_str()),
        "logging.level",
        format!(
            "{:?} is not a level (DEBUG, INFO, WARNING, ERROR, CRITICAL)",
            g.level
        ),
    );
    c.check(
        !g.outputs.is_empty(),
        "logging.outputs",
        "needs at least one output",
    );
    for (n, o) in g.outputs.iter().enumerate() {
        let at = format!("logging.outputs[{n}]");
        if o.kind == LogOutputType::File {
            c.check(
                o.path.as_deref().is_some_and(|p| !p.is_empty()),
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

    let x = &m.metrics;
    c.check(
        x.exporter == "prometheus",
        "metrics.exporter",
        format!("{:?} is not supported (prometheus)", x.exporter),
    );
    c.check(x.port != 0, "metrics.port", "must not be 0");

    for name in m.modules.criticality.keys() {
        c.check(
            is_safe_name(name),
            &format!("modules.criticality.{name}"),
            "is not a module name",
        );
    }

    let pl = &m.plugins;
    c.range("plugins.timeout_ms", pl.timeout_ms, 1, 10_000);
    c.range("plugins.memory_limit_mb", pl.memory_limit_mb, 1, 4096);
    c.range(
        "plugins.max_consecutive_failures",
        pl.max_consecutive_failures,
        1,
        1000,
    );
    c.range("plugins.reuse_max_calls", pl.reuse_max_calls, 1, u64::MAX);
    c.range("plugins.max_instances", pl.max_instances, 4, 10_000);
    c.range("plugins.threads", pl.threads, 0, 256);
    c.range("plugins.gate.window_days", pl.gate.window_days, 1, 365);
    c.unit("plugins.gate.max_disagreement", pl.gate.max_disagreement);
    let trust = &pl.trust;
    c.check(
        !trust.require_signature || !trust.keys.is_empty(),
        "plugins.trust.require_signature",
        "is on but plugins.trust.keys is empty: no plugin file could ever load (add a key, or turn it off)",
    );
    let mut names = std::collections::BTreeSet::new();
    for (i, k) in trust.keys.iter().enumerate() {
        let at = format!("plugins.trust.keys[{i}]");
        c.check(
            is_safe_name(&k.name),
            &format!("{at}.name"),
            format!("{:?} is not a name (1-128 of A-Z a-z 0-9 . _ -)", k.name),
        );
        c.check(
            names.insert(k.name.as_str()),
            &format!("{at}.name"),
            format!("{:?} names another key too", k.name),
        );
        if k.public_key_file.is_empty() {
            c.fail(&format!("{at}.public_key_file"), "is empty");
        } else if let Err(e) =
            crate::trust::read_public_key(std::path::Path::new(&k.public_key_file))
        {
            c.fail(&format!("{at}.public_key_file"), e.to_string());
        }
    }
}

pub(super) fn check_constitution(file: &str, k: &ConstitutionFile, p: &mut Vec<Problem>) {
    let mut c = Checker { file, p };
    c.check(
        k.version == "1.0",
        "version",
        format!("{:?} is not a supported version (1.0)", k.version),
    );
    for (name, phase) in &k.phases {
        let Some(known) = Phase::from_name(name) else {
            c.fail(
                &format!("phases.{name}"),
                "unknown phase (phase_0_foundation … phase_5_full_auto)",
            );
            continue;
        };
        if let Some(b) = &phase.error_budget {
            let at = format!("phases.{name}.error_budget");
            c.check(
                matches!(known, Phase::SemiAuto | Phase::FullAuto),
                &at,
                "only a phase that resurrects alone (phase_3_semi_auto, phase_5_full_auto) has an error budget",
            );
            c.range(&format!("{at}.max_failures"), b.max_failures, 1, 1000);
            c.range(&format!("{at}.window_minutes"), b.window_minutes, 1, 10_080);
        }
        for feature in phase.features.keys() {
            if !known.features().iter().any(|f| f.name() == feature) {
                let names: Vec<_> = known.features().iter().map(|f| f.name()).collect();
                c.fail(
                    &format!("phases.{name}.features.{feature}"),
                    format!("unknown feature of {name} (known: {})", names.join(", ")),
                );
            }
        }
    }
    // Phases build on each other: an enabled phase needs every earlier one.
    let enabled: Vec<bool> = Phase::ALL
        .iter()
        .map(|ph| k.phases.get(ph.name()).is_some_and(|s| s.enabled))
        .collect();
    for (n, ph) in Phase::ALL.iter().enumerate().skip(1) {
        if enabled[n] && !enabled[n - 1] {
            c.fail(
                &format!("phases.{}.enabled", ph.name()),
                format!("needs {} enabled first", Phase::ALL[n - 1].name()),
            );
        }
    }
    let cons = &k.constraints;
    c.range(
        "constraints.max_auto_resurrections_per_hour",
        cons.max_auto_resurrections_per_hour,
        0,
        100_000,
    );
    c.module_names("constraints.blacklisted_modules", &cons.blacklisted_modules);
    c.module_names(
        "constraints.always_require_approval",
        &cons.always_require_approval,
    );

    for (key, bindings) in &k.plugins {
        if key != DEFAULT_BINDING && Phase::from_name(key).is_none() {
            c.fail(
                &format!("plugins.{key}"),
                "unknown phase (a phase name or `default`)",
            );
        }
        let shadow = bindings.shadow.as_ref();
        for (kind, b) in [
            ("risk_scorer", Some(&bindings.risk_scorer)),
            ("strategy", Some(&bindings.strategy)),
            ("threshold_learner", Some(&bindings.threshold_learner)),
            ("shadow.risk_scorer", shadow.map(|s| &s.risk_scorer)),
            ("shadow.strategy", shadow.map(|s| &s.strategy)),
        ] {
            let Some(b) = b else { continue };
            let at = format!("plugins.{key}.{kind}");
            c.check(
                is_safe_name(&b.name),
                &format!("{at}.name"),
                format!("{:?} is not a plugin name", b.name),
            );
            if let Some(sha) = &b.sha256 {
                c.check(
                    sha.len() == 64
                        && sha
                            .bytes()
                            .all(|x| x.is_ascii_hexdigit() && !x.is_ascii_uppercase()),
                    &format!("{at}.sha256"),
                    "must be 64 lowercase hex digits",
                );
            }
        }
    }
    for (name, b) in &k.learning_bounds {
        let at = format!("learning_bounds.{name}");
        if !super::tunables::TUNABLES.contains(&name.as_str()) {
            c.fail(
                &at,
                format!(
                    "unknown tunable (known: {})",
                    super::tunables::TUNABLES.join(", ")
                ),
            );
            continue;
        }
        let (lo, hi) = if super::tunables::is_unit(name) {
            (0.0, 1.0)
        } else {
            (0.0, f64::MAX)
        };
        for (field, v) in [("floor", b.floor), ("ceiling", b.ceiling)] {
            c.check(
                v.is_finite() && (lo..=hi).contains(&v),
                &format!("{at}.{field}"),
                if hi == 1.0 {
                    format!("{v} must be between 0 and 1")
                } else {
                    format!("{v} must be a number of at least 0")
                },
            );
        }
        c.check(
            b.floor.partial_cmp(&b.ceiling) != Some(std::cmp::Ordering::Greater),
            &format!("{at}.ceiling"),
            format!("{} is below the floor {}", b.ceiling, b.floor),
        );
        c.check(
            b.max_step.is_finite() && b.max_step > 0.0,
            &format!("{at}.max_step"),
            format!("{} must be greater than 0", b.max_step),
        );
        c.check(
            b.min_samples >= 1,
            &format!("{at}.min_samples"),
            "must be at least 1",
        );
    }
    for ph in Phase::ALL {
        if k.phases.get(ph.name()).is_some_and(|s| s.enabled)
            && !k.plugins.contains_key(ph.name())
            && !k.plugins.contains_key(DEFAULT_BINDING)
        {
            c.fail(
                "plugins",
                format!(
                    "no plugins bound for enabled phase {} (add it or `default`)",
                    ph.name()
                ),
            );
        }
    }
}

/// What the two files must agree on: the mode needs its phase enabled.
pub(super) fn check_together(
    file: &str,
    m: &MedicFile,
    k: &ConstitutionFile,
    p: &mut Vec<Problem>,
) {
    let needs = super::phases::needed_by;
    for (path, mode) in [
        ("mode.current", m.mode.current),
        ("mode.fallback", m.mode.fallback),
    ] {
        let phase = needs(mode);
        if !k.phases.get(phase.name()).is_some_and(|s| s.enabled) {
            p.push(Problem::new(
                file,
                path,
                format!(
                    "{mode:?} mode needs the constitution's {} enabled",
                    phase.name()
                ),
            ));
        }
    }
}
