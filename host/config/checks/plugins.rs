//! `plugins` and `modules`: the plugin runtime's limits, who may sign
//! plugins, the replay gate, and the modules' criticality.

use crate::raw::{ModulesSection, PluginsSection};
use crate::units::Unit;
use crate::validate::{Checker, is_safe_name};

impl PluginsSection {
    pub(crate) fn check(&self, c: &mut Checker<'_>) {
        c.duration_range("plugins.timeout_ms", self.timeout, Unit::Millis, 1, 10_000);
        c.range("plugins.memory_limit_mb", self.memory_limit_mb, 1, 4096);
        c.range(
            "plugins.max_consecutive_failures",
            self.max_consecutive_failures,
            1,
            1000,
        );
        c.range("plugins.reuse_max_calls", self.reuse_max_calls, 1, u64::MAX);
        c.range("plugins.max_instances", self.max_instances, 4, 10_000);
        c.range("plugins.threads", self.threads, 0, 256);
        c.duration_range(
            "plugins.gate.window_days",
            self.gate.window,
            Unit::Days,
            1,
            365,
        );
        c.unit("plugins.gate.max_disagreement", self.gate.max_disagreement);
        let trust = &self.trust;
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
            if k.public_key_file.as_os_str().is_empty() {
                c.fail(&format!("{at}.public_key_file"), "is empty");
            } else if let Err(e) = crate::trust::read_public_key(&k.public_key_file) {
                c.fail(&format!("{at}.public_key_file"), e.to_string());
            }
        }
    }
}

impl ModulesSection {
    pub(crate) fn check(&self, c: &mut Checker<'_>) {
        for name in self.criticality.keys() {
            c.check(
                is_safe_name(name),
                &format!("modules.criticality.{name}"),
                "is not a module name",
            );
        }
    }
}
