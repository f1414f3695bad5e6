//! Substituting `{module}`, `{instance}`, `{kill_id}` and `{request_id}`
//! into commands and URLs. Values come from kill reports, so each is
//! checked against a strict alphabet before use and substituted into one
//! argument at a time: no shell ever parses them, and no value can start an
//! option, climb a path or carry a newline.

/// What a backend acts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub module: String,
    pub instance: String,
    pub kill_id: String,
    pub request_id: String,
}

/// A value that may not be substituted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "{field} {value:?} is not safe to pass to a backend (1-128 of A-Z a-z 0-9 . _ - : @, not starting with - or ., no ..)"
)]
pub struct UnsafeValue {
    pub field: &'static str,
    pub value: String,
}

/// Whether a value may be substituted.
pub fn is_safe_value(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':' | b'@'))
        && !s.starts_with('-')
        && !s.starts_with('.')
        && !s.contains("..")
}

impl Target {
    /// Checks every field; the first unsafe one is the error.
    pub fn check(&self) -> Result<(), UnsafeValue> {
        for (field, value) in [
            ("target_module", &self.module),
            ("target_instance_id", &self.instance),
            ("kill_id", &self.kill_id),
            ("request_id", &self.request_id),
        ] {
            if !is_safe_value(value) {
                return Err(UnsafeValue {
                    field,
                    value: value.clone(),
                });
            }
        }
        Ok(())
    }

    /// One template with the placeholders filled in. Call [`Target::check`]
    /// first.
    pub fn fill(&self, template: &str) -> String {
        template
            .replace("{module}", &self.module)
            .replace("{instance}", &self.instance)
            .replace("{kill_id}", &self.kill_id)
            .replace("{request_id}", &self.request_id)
    }

    /// An argv with the placeholders filled in, after checking the values.
    pub fn argv(&self, template: &[String]) -> Result<Vec<String>, UnsafeValue> {
        self.check()?;
        Ok(template.iter().map(|a| self.fill(a)).collect())
    }

    /// The variables every backend command also gets.
    pub fn env(&self) -> [(&'static str, &str); 4] {
        [
            ("MEDIC_MODULE", &self.module),
            ("MEDIC_INSTANCE", &self.instance),
            ("MEDIC_KILL_ID", &self.kill_id),
            ("MEDIC_REQUEST_ID", &self.request_id),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(module: &str) -> Target {
        Target {
            module: module.into(),
            instance: "i-1".into(),
            kill_id: "k-1".into(),
            request_id: "r-1".into(),
        }
    }

    #[test]
    fn hostile_values_are_refused() {
        for bad in [
            "a;rm -rf /",
            "$(touch x)",
            "`id`",
            "a b",
            "a\nb",
            "../../etc/passwd",
            "a/b",
            "-rf",
            ".hidden",
            "x'y",
            "x\"y",
            "",
            "a|b",
            "a&b",
            "a>b",
        ] {
            assert!(target(bad).argv(&["{module}".into()]).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn safe_values_fill_one_argument_each() {
        let t = target("web-1.prod");
        let argv = t
            .argv(&[
                "systemctl".into(),
                "restart".into(),
                "{module}.service".into(),
            ])
            .unwrap();
        assert_eq!(argv, ["systemctl", "restart", "web-1.prod.service"]);
    }
}
