//! The `file` SIEM adapter (the embedded default's local intel): a YAML or
//! JSON file of what is known per module — risk, false positives,
//! indicators — reloaded when it changes.
//!
//! ```yaml
//! default: { risk_score: 0.3 }
//! modules:
//!   report-renderer:
//!     risk_score: 0.1
//!     false_positive_history: 4
//!     recommendation: likely_false_positive
//!     threat_indicators:
//!       - { indicator_type: ip, value: 203.0.113.9, threat_score: 0.2, source: intel, last_seen: "2024-01-15T10:00:00Z" }
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use serde::Deserialize;
use serde_json::Value;

use super::{BoxFuture, SiemAdapter, SiemError, sanitize};
use crate::model::{KillReport, SiemContext};

/// How often the file's modification time is checked.
const RECHECK: Duration = Duration::from_secs(1);

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct IntelFile {
    #[serde(default)]
    default: Option<Value>,
    #[serde(default)]
    modules: BTreeMap<String, Value>,
}

struct Loaded {
    intel: IntelFile,
    modified: Option<SystemTime>,
    checked: Instant,
}

pub struct FileSiem {
    path: PathBuf,
    state: Mutex<Loaded>,
}

fn read(path: &Path) -> Result<(IntelFile, Option<SystemTime>), SiemError> {
    let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let text = std::fs::read_to_string(path).map_err(|e| {
        SiemError::Configuration(format!("cannot read intel file {}: {e}", path.display()))
    })?;
    let intel = serde_yaml::from_str(&text)
        .map_err(|e| SiemError::Configuration(format!("intel file {}: {e}", path.display())))?;
    Ok((intel, modified))
}

impl FileSiem {
    pub fn new(path: &Path) -> Result<FileSiem, SiemError> {
        let (intel, modified) = read(path)?;
        Ok(FileSiem {
            path: path.to_path_buf(),
            state: Mutex::new(Loaded {
                intel,
                modified,
                checked: Instant::now(),
            }),
        })
    }

    /// The current intel, re-read if the file changed. A file that stops
    /// parsing keeps the last good intel (and says so in the log).
    fn intel(&self) -> IntelFile {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if s.checked.elapsed() >= RECHECK {
            s.checked = Instant::now();
            let modified = std::fs::metadata(&self.path)
                .and_then(|m| m.modified())
                .ok();
            if modified != s.modified {
                match read(&self.path) {
                    Ok((intel, modified)) => {
                        tracing::info!(path = %self.path.display(), "Intel file reloaded");
                        s.intel = intel;
                        s.modified = modified;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "Intel file not reloaded; keeping the last good one")
                    }
                }
            }
        }
        s.intel.clone()
    }
}

impl SiemAdapter for FileSiem {
    fn query_context<'a>(
        &'a self,
        kill: &'a KillReport,
    ) -> BoxFuture<'a, Result<SiemContext, SiemError>> {
        Box::pin(async move {
            let intel = self.intel();
            let entry = intel
                .modules
                .get(&kill.target_module)
                .or(intel.default.as_ref())
                .ok_or_else(|| SiemError::NotFound(kill.target_module.clone()))?;
            let mut answer = entry.clone();
            if let Some(o) = answer.as_object_mut() {
                o.insert("kill_id".into(), Value::String(kill.kill_id.clone()));
                o.entry("query_id")
                    .or_insert_with(|| Value::String(format!("intel-file:{}", kill.kill_id)));
                o.entry("timestamp")
                    .or_insert_with(|| Value::String(kill.timestamp.to_rfc3339()));
            }
            sanitize::context(&answer, &kill.kill_id)
        })
    }

    fn health_check(&self) -> BoxFuture<'_, bool> {
        Box::pin(async move { self.path.is_file() })
    }

    fn kind(&self) -> &'static str {
        "file"
    }
}
