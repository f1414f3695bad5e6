//! Which modules a backend serves: names, or patterns with `*`.

use crate::raw::{BackendSection, EventBusSection};

/// Whether `module` matches a name or a pattern with `*`s.
pub fn matches(pattern: &str, module: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == module;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !module.starts_with(first) || module.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &module[first.len()..];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

impl EventBusSection {
    /// Whether a kill's `reply_to` may name `stream` (one of
    /// `reply_streams` matches it).
    pub fn reply_allowed(&self, stream: &str) -> bool {
        self.reply_streams.iter().any(|p| matches(p, stream))
    }
}

impl BackendSection {
    /// Whether this backend serves `module` (one of its `modules` names or
    /// patterns matches).
    pub fn serves(&self, module: &str) -> bool {
        self.modules.iter().any(|p| matches(p, module))
    }
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn patterns() {
        assert!(matches("*", "anything"));
        assert!(matches("web-*", "web-1"));
        assert!(!matches("web-*", "api-1"));
        assert!(matches("*-db", "orders-db"));
        assert!(matches("a*b*c", "axxbyyc"));
        assert!(!matches("a*b*c", "axxc"));
        assert!(matches("svc", "svc"));
        assert!(!matches("svc", "svc2"));
        assert!(!matches("ab*ba", "aba"));
    }
}
