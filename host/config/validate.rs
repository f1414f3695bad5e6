//! The checks that make a [`super::Config`]: each file parsed section by
//! section, the environment's overrides, each section's own checks
//! (`checks/`), the constitution's, and what the two files must agree on.
//! Every problem found is recorded.

use std::time::Duration;

use super::Problem;
use super::load::{root, section, unknown_sections};
use super::phases::Phase;
use super::raw::*;
use super::units::Unit;

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
/// `MEDIC_METRICS_PORT`, `SMITH_EVENT_BUS_URL`, `MEDIC_DATABASE_URL`).
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
        match v.parse::<LogLevel>() {
            Ok(level) => m.logging.level = level,
            Err(e) => p.push(Problem::new(file, "MEDIC_LOG_LEVEL", e)),
        }
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
        match v.parse() {
            Ok(url) => {
                m.smith.event_bus.url = Some(url);
                m.smith.event_bus.kind = EventBusType::Redis;
            }
            Err(e) => p.push(Problem::new(
                file,
                "SMITH_EVENT_BUS_URL",
                format!("{v:?} is not a URL: {e}"),
            )),
        }
    }
    if let Some(v) = env("MEDIC_DATABASE_URL") {
        // Never echoed: it may hold a password.
        match v.parse() {
            Ok(url) => {
                m.learning.database.url = Some(url);
                m.learning.database.kind = DatabaseType::Postgres;
            }
            Err(e) => p.push(Problem::new(
                file,
                "MEDIC_DATABASE_URL",
                format!("is not a URL: {e}"),
            )),
        }
    }
}

/// Records the problems of one file, each under its key path.
pub(crate) struct Checker<'a> {
    file: &'a str,
    p: &'a mut Vec<Problem>,
}

impl Checker<'_> {
    pub(crate) fn fail(&mut self, path: &str, message: impl Into<String>) {
        self.p.push(Problem::new(self.file, path, message));
    }

    pub(crate) fn check(&mut self, ok: bool, path: &str, message: impl Into<String>) {
        if !ok {
            self.fail(path, message);
        }
    }

    pub(crate) fn unit(&mut self, path: &str, v: f64) {
        self.check(
            v.is_finite() && (0.0..=1.0).contains(&v),
            path,
            format!("{v} must be between 0 and 1"),
        );
    }

    pub(crate) fn positive(&mut self, path: &str, v: f64) {
        self.check(
            v.is_finite() && v > 0.0,
            path,
            format!("{v} must be greater than 0"),
        );
    }

    pub(crate) fn range<T: PartialOrd + std::fmt::Display + Copy>(
        &mut self,
        path: &str,
        v: T,
        lo: T,
        hi: T,
    ) {
        self.check(
            v >= lo && v <= hi,
            path,
            format!("{v} must be between {lo} and {hi}"),
        );
    }

    /// A duration above zero (written in `unit`).
    pub(crate) fn positive_duration(&mut self, path: &str, d: Duration, unit: Unit) {
        self.positive(path, unit.of(d));
    }

    /// A duration between `lo` and `hi` of `unit`, both included.
    pub(crate) fn duration_range(&mut self, path: &str, d: Duration, unit: Unit, lo: u64, hi: u64) {
        let v = unit.of(d);
        self.check(
            v >= lo as f64 && v <= hi as f64,
            path,
            format!("{v} must be between {lo} and {hi}"),
        );
    }

    pub(crate) fn non_empty(&mut self, path: &str, v: &str) {
        self.check(!v.trim().is_empty(), path, "must not be empty");
    }

    pub(crate) fn module_names(&mut self, path: &str, names: &[String]) {
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
    m.smith.check(&mut c);
    m.siem.check(&mut c);
    m.decision.check(&mut c);
    m.risk.check(&mut c);
    m.resurrection.check(&mut c);
    m.interfaces.check(&mut c);
    m.learning.check(&mut c);
    m.logging.check(&mut c);
    m.metrics.check(&mut c);
    m.modules.check(&mut c);
    m.plugins.check(&mut c);
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
            c.duration_range(
                &format!("{at}.window_minutes"),
                b.window,
                Unit::Minutes,
                1,
                10_080,
            );
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
