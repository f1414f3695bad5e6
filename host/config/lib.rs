//! Configuration in two steps: the files as written (`raw`), read section by
//! section (`load`), then checked as a whole (`validate`) into a [`Config`]
//! that the rest of Medic can trust. Every problem is reported at once.

// The modules of the crates below, under the names the code uses.
#[allow(unused_imports)]
use medic_model as model;

mod checks;
mod load;
pub mod patterns;
pub mod phases;
pub mod raw;
pub mod redact;
pub mod tls;
pub mod trust;
pub mod tunables;
pub mod units;
mod validate;

use std::fmt;
use std::path::{Path, PathBuf};

pub use phases::{Feature, Phase};
pub use raw::{ConstitutionFile, Isolation, MedicFile, Mode};
pub use validate::{DEFAULT_BINDING, NAME_PATTERN, is_safe_name as validate_name};

/// A read handle on the mode the engine runs in: the decider owns it and
/// changes it at run time; the learner reads it.
#[derive(Clone)]
pub struct ModeReader(std::sync::Arc<parking_lot::Mutex<Mode>>);

impl ModeReader {
    pub fn new(mode: std::sync::Arc<parking_lot::Mutex<Mode>>) -> Self {
        ModeReader(mode)
    }

    pub fn get(&self) -> Mode {
        *self.0.lock()
    }
}

/// The embedded defaults: what `medic serve` runs with when given no files.
pub const EMBEDDED_MEDIC: &str = include_str!("../../config/medic.yaml");
pub const EMBEDDED_CONSTITUTION: &str = include_str!("../../config/constitution.yaml");

/// One thing wrong with the configuration, located by file and key path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    pub path: String,
    pub message: String,
}

impl Problem {
    pub fn new(file: &str, path: &str, message: impl Into<String>) -> Self {
        Problem {
            file: file.to_string(),
            path: path.to_string(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}: {}: {}", self.file, self.path, self.message)
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid configuration ({} problem(s)):\n{}", .0.len(), list(.0))]
    Invalid(Vec<Problem>),
}

fn list(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("  - {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A configuration that has passed every check.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub medic: MedicFile,
    pub constitution: ConstitutionFile,
    /// Where `medic.yaml` came from; relative paths in it are resolved
    /// against the process's working directory.
    pub source: String,
}

impl Config {
    /// What the configuration says of `module`, with no history: its
    /// criticality (`modules.criticality`, else the default) and whether
    /// the constitution always requires a person's approval for it.
    pub fn module_profile(&self, module: &str) -> model::ModuleProfile {
        let modules = &self.medic.modules;
        model::ModuleProfile::new(
            module,
            modules
                .criticality
                .get(module)
                .copied()
                .unwrap_or(modules.default_criticality),
            self.constitution
                .constraints
                .always_require_approval
                .iter()
                .any(|m| m == module),
        )
    }

    /// The embedded defaults (observer mode, HTTP ingest, no SIEM).
    pub fn embedded() -> Result<Config, ConfigError> {
        Config::from_texts(
            ("<embedded medic.yaml>", EMBEDDED_MEDIC),
            ("<embedded constitution.yaml>", EMBEDDED_CONSTITUTION),
            &|_| None,
        )
    }

    /// Reads and checks the two files; a missing path uses the embedded one.
    /// `env` looks up the environment's overrides (`MEDIC_MODE`, …).
    pub fn load(
        medic: Option<&Path>,
        constitution: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let read = |p: &Path| {
            std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                path: p.to_path_buf(),
                source,
            })
        };
        let medic_text = medic.map(read).transpose()?;
        let constitution_text = constitution.map(read).transpose()?;
        let medic_name = medic.map_or("<embedded medic.yaml>".to_string(), |p| {
            p.display().to_string()
        });
        let constitution_name = constitution
            .map_or("<embedded constitution.yaml>".to_string(), |p| {
                p.display().to_string()
            });
        Config::from_texts(
            (&medic_name, medic_text.as_deref().unwrap_or(EMBEDDED_MEDIC)),
            (
                &constitution_name,
                constitution_text
                    .as_deref()
                    .unwrap_or(EMBEDDED_CONSTITUTION),
            ),
            env,
        )
    }

    /// The medic file alone (parsed, environment applied, its own checks),
    /// for commands that only need to reach a running Medic: how the mode
    /// and the constitution fit together is the running Medic's concern.
    pub fn load_medic_file(
        medic: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<MedicFile, ConfigError> {
        let (name, text) = match medic {
            Some(p) => (
                p.display().to_string(),
                std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                    path: p.to_path_buf(),
                    source,
                })?,
            ),
            None => (
                "<embedded medic.yaml>".to_string(),
                EMBEDDED_MEDIC.to_string(),
            ),
        };
        let mut problems = Vec::new();
        let mut file = validate::parse_medic(&name, &text, &mut problems);
        validate::apply_env(&mut file, env, &mut problems);
        validate::check_medic(&name, &file, &mut problems);
        if problems.is_empty() {
            Ok(file)
        } else {
            Err(ConfigError::Invalid(problems))
        }
    }

    /// Parses and checks configuration text: `(file name, text)` pairs.
    pub fn from_texts(
        medic: (&str, &str),
        constitution: (&str, &str),
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let mut problems = Vec::new();
        let mut medic_file = validate::parse_medic(medic.0, medic.1, &mut problems);
        validate::apply_env(&mut medic_file, env, &mut problems);
        let constitution_file =
            validate::parse_constitution(constitution.0, constitution.1, &mut problems);
        validate::check_medic(medic.0, &medic_file, &mut problems);
        validate::check_constitution(constitution.0, &constitution_file, &mut problems);
        validate::check_together(medic.0, &medic_file, &constitution_file, &mut problems);
        if problems.is_empty() {
            Ok(Config {
                medic: medic_file,
                constitution: constitution_file,
                source: medic.0.to_string(),
            })
        } else {
            Err(ConfigError::Invalid(problems))
        }
    }

    /// The highest enabled phase of the constitution: the rollout stage Medic
    /// is in, which picks the plugins that judge.
    pub fn active_phase(&self) -> Phase {
        phases::active(&self.constitution)
    }

    /// Whether a feature is on: its phase is enabled and its toggle is true.
    pub fn feature(&self, feature: Feature) -> bool {
        phases::enabled(&self.constitution, feature)
    }

    /// The constitution's section for the phase `mode` needs, if it has one.
    pub fn phase_for(&self, mode: Mode) -> Option<&raw::PhaseSection> {
        self.constitution.phases.get(phases::needed_by(mode).name())
    }
}
